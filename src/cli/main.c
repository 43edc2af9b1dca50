/* infoflow: dispatches to the subcommands in src/cli/cmd_*.c. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli_util.h"
#include "commands.h"
#include "dist.h"
#include "infoflow/blas.h"
#include "isa.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"run", cmd_run, "train a noisy network from a config and measure its information flow"},
    {"estimate", cmd_estimate, "(re)measure information flow from a run's saved checkpoints"},
    {"entropy", cmd_entropy, "estimate the entropy of samples in a CSV or .npy file"},
    {"mi", cmd_mi, "estimate grouped mutual information I(G;T) of tagged samples"},
    {"cluster", cmd_cluster, "measure how labelled rows of a CSV or .npy file cluster by class"},
    {"plot", cmd_plot, "draw the PNG figures of a run directory"},
    {"validate", cmd_validate, "coverage study of the SP standard errors on known channels"},
    {"export", cmd_export, "write a run's net and activations as NumPy .npy files"},
};

static void usage(FILE *out) {
    fprintf(out, "Usage: infoflow <command> [options]\n\n"
                 "Trains noisy deep networks and measures the information that flows through "
                 "them\n(Goldfeld et al., ICML 2019).\n\nCommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'infoflow <command> --help' for a command's options.\n"
                 "Options: --help, --version\n");
}

/* In an MPI job, mpirun stops the other ranks with SIGTERM when one fails or is killed: each
 * says which rank it is and what it was computing (mpirun names the rank that failed). */
/* NOLINTBEGIN(bugprone-signal-handler): the helpers only read a static buffer and two ints,
 * and snprintf with %d and %s neither allocates nor locks in glibc; POSIX does not list it as
 * async-signal-safe, a risk taken on the way to dying (the signal is then re-raised). */
static void on_term(int sig) {
    char task[160], line[320];
    const char *t = iflow_dist_task();
    size_t i = 0; /* a copy: the main thread may be changing the task */
    for (; i + 1 < sizeof task && t[i]; i++) task[i] = t[i];
    task[i] = '\0';
    if (task[0]) {
        int n = snprintf(line, sizeof line,
                         "infoflow: rank %d of %d stopped by signal %d while "
                         "computing %s\n",
                         iflow_dist_world_rank(), iflow_dist_world_size(), sig, task);
        if (n > 0)
            (void)!write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line);
    } /* else not computing: mpirun's own message says it all */
    signal(sig, SIG_DFL);
    raise(sig);
}
/* NOLINTEND(bugprone-signal-handler) */

static int dispatch(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
#ifdef IFLOW_ISA_MULTI
        printf("infoflow %s (vector kernels: %s; OpenBLAS core %s)\n", IFLOW_VERSION,
               iflow_isa_name(iflow_isa()), iflow_blas_core());
#else
        printf("infoflow %s (vector kernels: one copy, the build's flags; OpenBLAS core %s)\n",
               IFLOW_VERSION, iflow_blas_core());
#endif
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "infoflow: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}

/* OpenBLAS picks its kernels when it is loaded, before main: if it chose generic ones on a CPU
 * with AVX2 or AVX-512 and the user has not set OPENBLAS_CORETYPE (whose value, any value, is
 * respected), run this program again with the matching core set. The numbers of a run may change
 * in their last digits with the core (docs/PERFORMANCE.md); OPENBLAS_CORETYPE=Prescott keeps the
 * generic one. Returns only if nothing was to be done or the exec failed, said in one line. */
static void choose_blas_core(char **argv) {
    const char *better = getenv("OPENBLAS_CORETYPE") ? NULL : iflow_blas_better_core();
    if (!better) return;
    char core[64];
    snprintf(core, sizeof core, "%s", iflow_blas_core());
    if (setenv("OPENBLAS_CORETYPE", better, 1) == 0) execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE");
    fprintf(stderr,
            "infoflow: OpenBLAS runs its generic %s kernels on this CPU; set "
            "OPENBLAS_CORETYPE=%s for faster matrix products\n",
            core, better);
}

int main(int argc, char **argv) {
    choose_blas_core(argv);
    /* A write beyond `ulimit -f` then fails with EFBIG, reported as "write failed: File too
     * large" with the file's name, instead of the signal killing the process silently. */
    signal(SIGXFSZ, SIG_IGN);
    iflow_error err = {0};
    if (iflow_isa_check_env(&err)) return cli_fail(&err);
    if (iflow_dist_init(&argc, &argv, &err)) return cli_fail(&err);
    if (iflow_dist_world_size() > 1) {
        signal(SIGTERM, on_term);
        /* One copy of every result: rank 0 prints it; the others keep stderr for errors. */
        if (iflow_dist_world_rank() != 0 && !freopen("/dev/null", "w", stdout)) return 1;
    }
    int rc = dispatch(argc, argv);
    if (getenv("IFLOW_DIST_STATS")) { /* for tools/bench_mpi and docs/SCALING.md */
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        fprintf(stderr, "infoflow stats: rank %d of %d: sent %llu bytes, cpu %.2f s\n",
                iflow_dist_world_rank(), iflow_dist_world_size(), iflow_dist_bytes_sent(),
                (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                    1e-6 * (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec));
    }
    iflow_dist_finalize(rc);
    return rc;
}
