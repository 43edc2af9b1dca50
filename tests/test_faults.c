/* Fault tests of the infoflow CLI as a user meets them: SIGKILL at random points of training and
 * of estimation, a full disk (RLIMIT_FSIZE), a read-only output directory, a concurrent run into
 * the same directory, a diverging learning rate and NaN in the data. Each faulty run must end
 * with a clear message and, once resumed or re-run, the same files as an uninterrupted run. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "infoflow/rng.h"
#include "check_util.h"
#include "io.h"

static char tmpdir[256];
static const char *bin;

/* ---- files ---- */

static void path_of(char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void path_of(char *out, size_t n, const char *fmt, ...) {
    char rel[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    snprintf(out, n, "%s/%s", tmpdir, rel);
}

static int exists(const char *rel) {
    char path[900];
    path_of(path, sizeof path, "%s", rel);
    return access(path, F_OK) == 0;
}

/* The whole file (NULL if missing); *len its size. */
static char *slurp(const char *rel, size_t *len) {
    char path[900];
    path_of(path, sizeof path, "%s", rel);
    return iflow_read_file(path, len);
}

static void write_text(const char *rel, const char *text) {
    char path[900];
    path_of(path, sizeof path, "%s", rel);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void assert_same_file(const char *a_dir, const char *b_dir, const char *name) {
    char a_rel[300], b_rel[300];
    snprintf(a_rel, sizeof a_rel, "%s/%s", a_dir, name);
    snprintf(b_rel, sizeof b_rel, "%s/%s", b_dir, name);
    size_t na = 0, nb = 0;
    char *a = slurp(a_rel, &na), *b = slurp(b_rel, &nb);
    ck_assert_msg(a != NULL, "missing %s", a_rel);
    ck_assert_msg(b != NULL, "missing %s", b_rel);
    if (!strcmp(name, "metrics.csv")) {
        iflow_drop_last_column(a);
        iflow_drop_last_column(b);
        na = strlen(a);
        nb = strlen(b);
    }
    ck_assert_msg(na == nb && !memcmp(a, b, na), "%s differs from %s", b_rel, a_rel);
    free(a);
    free(b);
}

/* Every log and every checkpoint of run b equals run a's (checkpoints byte for byte: parameters,
 * optimiser and RNG state). */
static void assert_same_run(const char *a, const char *b) {
    const char *logs[] = {"metrics.csv", "mi.csv", "binned.csv", "activations.csv", "scatter.csv"};
    for (size_t i = 0; i < sizeof logs / sizeof logs[0]; i++) assert_same_file(a, b, logs[i]);
    char dir[900];
    path_of(dir, sizeof dir, "%s/checkpoints", a);
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, "epoch-", 6)) continue;
        char name[300];
        snprintf(name, sizeof name, "checkpoints/%s", e->d_name);
        assert_same_file(a, b, name);
        n++;
    }
    closedir(d);
    ck_assert_int_gt(n, 0);
}

/* ---- running the CLI ---- */

typedef struct child_opts {
    rlim_t fsize;  /* > 0: RLIMIT_FSIZE in bytes, SIGXFSZ ignored (writes fail with EFBIG) */
    int drop_root; /* run as nobody when root (so permissions apply) */
    int sigxfsz;   /* with fsize: leave SIGXFSZ at its default (kill), as a shell does */
} child_opts;

/* Starts `infoflow ARGS...` (NULL-terminated) with cwd = tmpdir, stdout and stderr to
 * tmpdir/stderr.txt. */
static pid_t spawn(const child_opts *co, const char *const *args) {
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid) return pid;
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)bin;
    for (; args[n - 1] && n < 31; n++) argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    char err_path[900];
    path_of(err_path, sizeof err_path, "stderr.txt");
    int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || chdir(tmpdir) != 0) _exit(126);
    dup2(fd, 1);
    dup2(fd, 2);
    if (co && co->fsize) {
        struct rlimit rl = {co->fsize, co->fsize};
        signal(SIGXFSZ, co->sigxfsz ? SIG_DFL : SIG_IGN);
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(126);
    }
    if (co && co->drop_root && geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
        _exit(126);
    execv(bin, argv);
    _exit(127);
}

/* Exit status of a finished child; 128 + signal if killed. */
static int reap(pid_t pid) {
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int cli(const child_opts *co, const char *const *args) { return reap(spawn(co, args)); }

#define CLI(...) cli(NULL, (const char *const[]){__VA_ARGS__, NULL})

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void sleep_seconds(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* Starts args, SIGKILLs it after `delay` seconds; 1 if it was killed, 0 if it finished first
 * (then it must have succeeded). */
static int kill_after(const char *const *args, double delay) {
    pid_t pid = spawn(NULL, args);
    sleep_seconds(delay);
    kill(pid, SIGKILL);
    int st = reap(pid);
    if (st != 128 + SIGKILL) {
        char *msg = slurp("stderr.txt", NULL);
        ck_assert_msg(st == 0, "exit %d before the kill: %s", st, msg ? msg : "");
        free(msg);
    }
    return st == 128 + SIGKILL;
}

static void assert_stderr_has(const char *what) {
    char *msg = slurp("stderr.txt", NULL);
    ck_assert_ptr_nonnull(msg);
    ck_assert_msg(strstr(msg, what) != NULL, "expected '%s' in: %s", what, msg);
    free(msg);
}

/* ---- fixtures ---- */

/* 160 rows of 5 features in [0, 1), label = whether x1+x2+x3 > 1.5 (x4+x5). */
static void write_data(const char *rel, long nan_line) {
    char path[900];
    path_of(path, sizeof path, "%s", rel);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    iflow_rng r;
    iflow_rng_init(&r, 7, 1);
    fprintf(f, "# synthetic: x1..x5, label\n");
    for (long line = 2; line < 162; line++) {
        double s = 0;
        for (int j = 0; j < 5; j++) {
            double v = iflow_rng_uniform(&r);
            s += j < 3 ? v : -1.5 * v;
            if (line == nan_line && j == 2)
                fprintf(f, "nan,");
            else
                fprintf(f, "%.6f,", v);
        }
        fprintf(f, "%d\n", s > 0);
    }
    fclose(f);
}

/* A 5-6-4-2 tanh net, 40 epochs, information measured at 4 of them; every checkpoint kept
 * (the tests compare them) unless train_extra names checkpoint_keep. */
static void write_config(const char *rel, const char *train_extra) {
    char text[1024];
    snprintf(text, sizeof text,
             "[data]\nfile = data.csv\ntest_fraction = 0.25\n"
             "[net]\nlayers = 5,6,4,2\nactivation = tanh\nbeta = 0.05\n"
             "[train]\noptimizer = adam\nlr = 0.01\nbatch = 32\nepochs = 40\nseed = 4\n%s%s"
             "[estimate]\nepochs = 0,5,20,40\nreplicas = 16\nmc = 2\nbins = szt30, 0.07\n",
             train_extra, strstr(train_extra, "checkpoint_keep") ? "" : "checkpoint_keep = all\n");
    write_text(rel, text);
}

static double full_seconds; /* wall time of the uninterrupted reference run */

static void setup(void) {
    bin = getenv("IFLOW_BIN");
    ck_assert_msg(bin != NULL, "IFLOW_BIN is not set (run through meson test)");
    snprintf(tmpdir, sizeof tmpdir, "/tmp/iflow-faults-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    ck_assert_int_eq(chmod(tmpdir, 0755), 0); /* readable by nobody (drop_root) */
    write_data("data.csv", 0);
    write_config("run.ini", "");
    char path[900];
    path_of(path, sizeof path, "data.csv"); /* whatever the umask, for drop_root */
    ck_assert_int_eq(chmod(path, 0644), 0);
    path_of(path, sizeof path, "run.ini");
    ck_assert_int_eq(chmod(path, 0644), 0);
    double t0 = now();
    ck_assert_int_eq(CLI("run", "run.ini", "--out", "full", "--quiet", "--no-plot"), 0);
    full_seconds = now() - t0;
}

static void teardown(void) {
    char cmd[700];
    snprintf(cmd, sizeof cmd, "chmod -R u+w %s; rm -rf %s", tmpdir, tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* ---- SIGKILL ---- */

/* Killed at seeded random points, then resumed until done: the same logs and checkpoints as the
 * uninterrupted run. */
START_TEST(test_kill_during_training) {
    iflow_rng r;
    iflow_rng_init(&r, 2019, 1);
    int kills = 0;
    double scale = full_seconds;
    int started = 0;
    for (int attempt = 0; attempt < 40 && kills < 5; attempt++) {
        /* Each resume goes on from the last checkpoint, so short delays: a few kills land
         * before the run is done. A run that finishes first halves the delays (the machine may
         * be faster now than when the reference run was timed). */
        double delay = (0.02 + 0.28 * iflow_rng_uniform(&r)) * scale;
        const char *fresh[] = {"run", "run.ini", "--out", "killed", "--quiet", "--no-plot", NULL};
        const char *resume[] = {"run",     "run.ini",   "--out",    "killed",
                                "--quiet", "--no-plot", "--resume", NULL};
        int killed = kill_after(started ? resume : fresh, delay);
        kills += killed;
        started = killed;
        if (!killed) { /* the run completed: start over, or no later kill can land */
            char path[900];
            path_of(path, sizeof path, "killed");
            iflow_rmtree(path);
            scale *= 0.5;
        }
    }
    ck_assert_int_ge(kills, 3);
    if (started)
        ck_assert_int_eq(
            CLI("run", "run.ini", "--out", "killed", "--quiet", "--no-plot", "--resume"), 0);
    else
        ck_assert_int_eq(CLI("run", "run.ini", "--out", "killed", "--quiet", "--no-plot"), 0);
    assert_same_run("full", "killed");
}
END_TEST

/* `infoflow estimate` killed at random points: its output files are always either absent or
 * complete (never a partial or appended file), and a re-run writes the same rows as an
 * uninterrupted one. */
START_TEST(test_kill_during_estimate) {
    const char *args[] = {"estimate",   "full", "--epochs", "5,20,40",
                          "--replicas", "32",   "--quiet",  NULL};
    const char *outs[] = {"full/mi-estimate.csv", "full/binned-estimate.csv",
                          "full/activations-estimate.csv", "full/scatter-estimate.csv"};
    double t0 = now();
    ck_assert_int_eq(cli(NULL, args), 0);
    double seconds = now() - t0;
    char *want[4];
    for (int i = 0; i < 4; i++) ck_assert_ptr_nonnull(want[i] = slurp(outs[i], NULL));
    iflow_rng r;
    iflow_rng_init(&r, 2019, 2);
    int kills = 0;
    double scale = seconds;
    for (int attempt = 0; attempt < 40 && kills < 4; attempt++) {
        /* A run that finishes before its kill halves the delays: the reference run may have
         * been timed on a busier machine. */
        int killed = kill_after(args, (0.02 + 0.9 * iflow_rng_uniform(&r)) * scale);
        kills += killed;
        if (!killed) scale *= 0.5;
        for (int i = 0; i < 4; i++) {
            char *have = slurp(outs[i], NULL);
            ck_assert_msg(have && !strcmp(have, want[i]), "%s partial after a kill", outs[i]);
            free(have);
        }
    }
    ck_assert_int_ge(kills, 2);
    ck_assert_int_eq(cli(NULL, args), 0);
    for (int i = 0; i < 4; i++) {
        char *have = slurp(outs[i], NULL);
        ck_assert_msg(have && !strcmp(have, want[i]), "%s differs after a re-run", outs[i]);
        free(have);
        free(want[i]);
    }
    ck_assert(!exists("full/mi-estimate.csv.new"));
}
END_TEST

/* A full disk during `infoflow estimate`: the message names the .new file being written, and
 * neither a .new file nor a changed output is left behind. */
START_TEST(test_full_disk_during_estimate) {
    const char *args[] = {"estimate", "full", "--epochs", "5,20,40", "--quiet", NULL};
    ck_assert_int_eq(cli(NULL, args), 0);
    char *before = slurp("full/activations-estimate.csv", NULL);
    ck_assert_ptr_nonnull(before);
    child_opts co = {.fsize = 3000};
    ck_assert_int_eq(cli(&co, args), 1);
    assert_stderr_has("-estimate.csv.new: write failed: File too large");
    assert_stderr_has("full/");
    const char *news[] = {"full/mi-estimate.csv.new", "full/binned-estimate.csv.new",
                          "full/activations-estimate.csv.new", "full/scatter-estimate.csv.new"};
    for (int i = 0; i < 4; i++) ck_assert_msg(!exists(news[i]), "%s left behind", news[i]);
    char *after = slurp("full/activations-estimate.csv", NULL);
    ck_assert(after && !strcmp(before, after));
    free(before);
    free(after);
}
END_TEST

/* ---- full disk ---- */

/* Complete lines of run/name are a prefix of full/name's (metrics without wall time). */
static void assert_log_prefix(const char *run, const char *name) {
    char rel[300];
    snprintf(rel, sizeof rel, "%s/%s", run, name);
    char *have = slurp(rel, NULL);
    snprintf(rel, sizeof rel, "full/%s", name);
    char *want = slurp(rel, NULL);
    ck_assert(have && want);
    char *end = strrchr(have, '\n');
    ck_assert_ptr_nonnull(end);
    end[1] = '\0';
    if (!strcmp(name, "metrics.csv")) {
        iflow_drop_last_column(have);
        iflow_drop_last_column(want);
    }
    ck_assert_msg(!strncmp(have, want, strlen(have)), "%s/%s is damaged", run, name);
    free(have);
    free(want);
}

/* Writes fail with EFBIG once a file would pass `limit` bytes: the run stops with a message
 * naming the file, keeps every checkpoint and log row it had, and resumes to the same files. */
static void full_disk_case(const char *out, long stop_after, long headroom) {
    char rel[300];
    snprintf(rel, sizeof rel, "%ld", stop_after);
    ck_assert_int_eq(
        CLI("run", "run.ini", "--out", out, "--quiet", "--no-plot", "--stop-after", rel), 0);
    size_t acts = 0;
    snprintf(rel, sizeof rel, "%s/activations.csv", out);
    free(slurp(rel, &acts));
    child_opts co = {.fsize = (rlim_t)((long)acts + headroom)};
    const char *resume[] = {"run",     "run.ini",   "--out",    out,
                            "--quiet", "--no-plot", "--resume", NULL};
    ck_assert_int_eq(cli(&co, resume), 1);
    assert_stderr_has("File too large");
    snprintf(rel, sizeof rel, "%s/", out); /* the message names the file in the run directory */
    assert_stderr_has(rel);
    const char *logs[] = {"metrics.csv", "mi.csv", "binned.csv", "activations.csv", "scatter.csv"};
    for (size_t i = 0; i < 5; i++) assert_log_prefix(out, logs[i]);
    for (long e = 0; e <= stop_after; e++) { /* checkpoints it had are untouched */
        snprintf(rel, sizeof rel, "checkpoints/epoch-%06ld.ckpt", e);
        assert_same_file("full", out, rel);
    }
    ck_assert_int_eq(cli(NULL, resume), 0);
    assert_same_run("full", out);
}

/* The limit hits while the measurement of epoch 20 is being appended. */
START_TEST(test_full_disk_while_measuring) { full_disk_case("disk", 10, 1500); }
END_TEST

/* The limit hits at once: no room to trim the logs on resume. */
START_TEST(test_full_disk_at_resume) { full_disk_case("disk0", 25, -200); }
END_TEST

/* ---- read-only output, concurrent runs ---- */

START_TEST(test_read_only_output) {
    /* Even root cannot create a directory in sysfs. */
    ck_assert_int_eq(CLI("run", "run.ini", "--out", "/sys/iflow-faults-test", "--quiet"), 1);
    assert_stderr_has("/sys/iflow-faults-test");
    assert_stderr_has("cannot create directory");
    /* chmod 0555 (as nobody when root, so the mode applies): refused before any work. */
    char path[900];
    path_of(path, sizeof path, "ro");
    ck_assert_int_eq(mkdir(path, 0555), 0);
    ck_assert_int_eq(chmod(path, 0555), 0);
    child_opts co = {.drop_root = 1};
    const char *fresh[] = {"run", "run.ini", "--out", "ro", "--quiet", NULL};
    ck_assert_int_eq(cli(&co, fresh), 1);
    assert_stderr_has("ro/checkpoints: cannot create directory: Permission denied");
    DIR *d = opendir(path);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));) entries += e->d_name[0] != '.';
    closedir(d);
    ck_assert_int_eq(entries, 0);
    /* A finished run made read-only cannot be resumed (longer): refused, files unchanged. */
    char cmd[2000];
    snprintf(cmd, sizeof cmd, "cp -r %s/full %s/rofull && chmod -R a-w %s/rofull", tmpdir, tmpdir,
             tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    const char *resume[] = {"run",      "run.ini",  "--out", "rofull", "--quiet",
                            "--resume", "--epochs", "50",    NULL};
    ck_assert_int_eq(cli(&co, resume), 1);
    assert_stderr_has("rofull: cannot write in the run directory: Permission denied");
    assert_same_run("full", "rofull");
    ck_assert(!exists("rofull/checkpoints/epoch-000041.ckpt"));
}
END_TEST

/* A second run (fresh or resuming) or an estimate into a directory a live run holds is refused;
 * the first run then finishes with the files of an undisturbed run. */
START_TEST(test_concurrent_runs_refused) {
    const char *first[] = {"run", "run.ini", "--out", "conc", "--quiet", "--no-plot", NULL};
    pid_t a = spawn(NULL, first);
    double t0 = now();
    while (!exists("conc/metrics.csv") && now() - t0 < 60) sleep_seconds(0.0005);
    ck_assert_int_eq(kill(a, SIGSTOP), 0); /* holds the lock while the others try */
    int status;
    ck_assert_msg(waitpid(a, &status, WUNTRACED) == a && WIFSTOPPED(status),
                  "the first run ended before it could be stopped");
    const char *second[] = {"run", "run.ini", "--out", "conc", "--quiet", "--no-plot", NULL};
    ck_assert_int_eq(cli(NULL, second), 1);
    assert_stderr_has("another infoflow run is using this directory");
    const char *resume[] = {"run", "run.ini", "--out", "conc", "--quiet", "--resume", NULL};
    ck_assert_int_eq(cli(NULL, resume), 1);
    assert_stderr_has("another infoflow run is using this directory");
    ck_assert_int_eq(CLI("estimate", "conc", "--epochs", "0", "--quiet"), 1);
    assert_stderr_has("another infoflow run is using this directory");
    ck_assert_int_eq(kill(a, SIGCONT), 0);
    ck_assert_int_eq(reap(a), 0);
    assert_same_run("full", "conc");
}
END_TEST

/* ---- numerical faults ---- */

START_TEST(test_divergence_message) {
    write_text("diverge.ini", "[data]\nfile = data.csv\n[net]\nlayers = 5,6,4,2\n"
                              "activation = linear\nbeta = 0.05\n[train]\noptimizer = sgd\n"
                              "lr = 1e6\nbatch = 32\nepochs = 40\n[estimate]\nepochs = none\n");
    ck_assert_int_eq(CLI("run", "diverge.ini", "--out", "div", "--quiet", "--no-plot"), 1);
    assert_stderr_has("diverged at epoch");
    assert_stderr_has("layer");
    assert_stderr_has("last good checkpoint is epoch");
}
END_TEST

START_TEST(test_nan_input_rejected_with_line) {
    write_data("nan.csv", 9);
    write_text("nan.ini", "[data]\nfile = nan.csv\n[net]\nlayers = 5,6,4,2\n[train]\n"
                          "epochs = 4\n[estimate]\nepochs = none\n");
    ck_assert_int_eq(CLI("run", "nan.ini", "--out", "nan", "--quiet", "--no-plot"), 1);
    assert_stderr_has("nan.csv:9:");
    assert_stderr_has("NaN");
    ck_assert(!exists("nan/checkpoints/epoch-000000.ckpt"));
}
END_TEST

/* Under `ulimit -f` with SIGXFSZ at its default (a shell's), infoflow still
 * reports the file and "File too large" (exit 1) instead of dying of the signal; a failed PNG
 * write says so instead of libpng printing "Write Error" on its own. */
START_TEST(test_file_size_limit_messages) {
    child_opts co = {.fsize = 700, .sigxfsz = 1}; /* room for stderr.txt, not a PNG */
    const char *plot[] = {"plot", "full", "--out", "figs", NULL};
    ck_assert_int_eq(cli(&co, plot), 1);
    assert_stderr_has("figs/");
    assert_stderr_has(".png: write failed: File too large");
    char *msg = slurp("stderr.txt", NULL);
    ck_assert_msg(!strstr(msg, "libpng"), "%s", msg);
    free(msg);
    const char *run[] = {"run", "run.ini", "--out", "xfsz", "--quiet", NULL};
    ck_assert_int_eq(cli(&co, run), 1);
    assert_stderr_has("xfsz/config.ini: write failed: File too large");
    /* The run's own plot at the end: the run is kept, the exit status says the figures failed. */
    co.fsize = 200000;
    const char *run2[] = {"run", "run.ini", "--out", "xfsz2", "--quiet", NULL};
    ck_assert_int_eq(cli(&co, run2), 1);
    assert_stderr_has("figures were not written");
    assert_same_file("full", "xfsz2", "mi.csv");
}
END_TEST

/* Two processes writing one file atomically do not share a temporary file
 * (two `infoflow plot`s of one run once corrupted a PNG): both commits succeed, and the file is
 * one writer's complete content. */
START_TEST(test_atomic_writers_do_not_collide) {
    char path[900];
    path_of(path, sizeof path, "shared.txt");
    int go_parent[2], go_child[2];
    ck_assert_int_eq(pipe(go_parent), 0);
    ck_assert_int_eq(pipe(go_child), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    char c = 0;
    if (pid == 0) { /* opens first, commits last */
        iflow_atomic a;
        if (iflow_atomic_open(&a, path, NULL) != 0) _exit(2);
        fputs("child: first half, ", a.f);
        fflush(a.f);
        if (write(go_parent[1], "x", 1) != 1 || read(go_child[0], &c, 1) != 1) _exit(3);
        fputs("second half\n", a.f);
        _exit(iflow_atomic_commit(&a, NULL) == 0 ? 0 : 4);
    }
    ck_assert_int_eq(read(go_parent[0], &c, 1), 1);
    iflow_atomic a;
    ck_assert_int_eq(iflow_atomic_open(&a, path, NULL), 0);
    fputs("parent\n", a.f);
    ck_assert_int_eq(iflow_atomic_commit(&a, NULL), 0);
    ck_assert_int_eq(write(go_child[1], "x", 1), 1);
    ck_assert_int_eq(reap(pid), 0);
    char *text = slurp("shared.txt", NULL);
    ck_assert_str_eq(text, "child: first half, second half\n");
    free(text);
}
END_TEST

/* ---- refused and interrupted resumes ---- */

/* The names in dir (and dir/checkpoints) with inode, size and mtime, one per line, sorted; log.txt
 * and .lock left out (a refusal is logged). */
static void dir_state(const char *rel, char *out, size_t n) {
    out[0] = '\0';
    const char *subs[] = {"", "/checkpoints"};
    for (int k = 0; k < 2; k++) {
        char dir[900];
        path_of(dir, sizeof dir, "%s%s", rel, subs[k]);
        struct dirent **list;
        int m = scandir(dir, &list, NULL, alphasort);
        ck_assert_int_ge(m, 0);
        for (int i = 0; i < m; i++) {
            const char *name = list[i]->d_name;
            char path[1300];
            struct stat st;
            snprintf(path, sizeof path, "%s/%s", dir, name);
            if (name[0] != '.' && strcmp(name, "log.txt") && stat(path, &st) == 0 &&
                S_ISREG(st.st_mode)) {
                size_t len = strlen(out);
                snprintf(out + len, n - len, "%s/%s %lu %lld %lld.%09ld\n", subs[k], name,
                         (unsigned long)st.st_ino, (long long)st.st_size,
                         (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
            }
            free(list[i]);
        }
        free(list);
    }
}

/* The checkpoint names of rel/checkpoints, sorted, one per line. */
static void checkpoint_names(const char *rel, char *out, size_t n) {
    char dir[900];
    path_of(dir, sizeof dir, "%s/checkpoints", rel);
    struct dirent **list;
    int m = scandir(dir, &list, NULL, alphasort);
    ck_assert_int_ge(m, 0);
    out[0] = '\0';
    for (int i = 0; i < m; i++) {
        if (list[i]->d_name[0] != '.') {
            size_t len = strlen(out);
            snprintf(out + len, n - len, "%s\n", list[i]->d_name);
        }
        free(list[i]);
    }
    free(list);
}

/* Replaces rel's line `line` (1-based) by `text` (without newline). */
static void replace_line(const char *rel, int line, const char *text) {
    char *old = slurp(rel, NULL);
    ck_assert_ptr_nonnull(old);
    size_t cap = strlen(old) + strlen(text) + 2;
    char *out = malloc(cap), *p = old;
    out[0] = '\0';
    for (int i = 1; *p; i++) {
        char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p + 1) : strlen(p);
        if (i == line)
            strcat(strcat(out, text), "\n");
        else
            strncat(out, p, len);
        p += len;
    }
    write_text(rel, out);
    free(out);
    free(old);
}

/* A resume refused for a CRLF log or an epoch written 41.0 changes nothing in the run
 * directory (config.ini, config.hash, info.csv, net.txt, logs, checkpoints: same inode, size and
 * time) and names the file and line; once fixed the run resumes and ends as the uninterrupted
 * one. */
START_TEST(test_refused_resume_writes_nothing) {
    const char *first[] = {"run",       "run.ini",      "--out", "cut", "--quiet",
                           "--no-plot", "--stop-after", "12",    NULL};
    const char *resume[] = {"run",     "run.ini",   "--out",    "cut",
                            "--quiet", "--no-plot", "--resume", NULL};
    ck_assert_int_eq(cli(NULL, first), 0);
    char *metrics = slurp("cut/metrics.csv", NULL);
    ck_assert_ptr_nonnull(metrics);
    static char before[16384], after[16384];
    /* CRLF line endings, as a Windows editor saves them. */
    char *crlf = malloc(2 * strlen(metrics) + 1), *w = crlf;
    for (const char *p = metrics; *p; p++) {
        if (*p == '\n') *w++ = '\r';
        *w++ = *p;
    }
    *w = '\0';
    write_text("cut/metrics.csv", crlf);
    free(crlf);
    sleep_seconds(0.02); /* a rewrite would show in the times */
    dir_state("cut", before, sizeof before);
    ck_assert_int_eq(cli(NULL, resume), 1);
    assert_stderr_has("cut/metrics.csv:1: CRLF line ending");
    dir_state("cut", after, sizeof after);
    ck_assert_str_eq(before, after);
    /* An epoch written 41.0 (line 7 holds epoch 5). */
    write_text("cut/metrics.csv", metrics);
    char *row = strchr(strstr(metrics, "\n5,"), ',');
    char edited[512];
    snprintf(edited, sizeof edited, "5.0%.*s", (int)(strchr(row, '\n') - row), row);
    replace_line("cut/metrics.csv", 7, edited);
    dir_state("cut", before, sizeof before);
    ck_assert_int_eq(cli(NULL, resume), 1);
    assert_stderr_has("cut/metrics.csv:7: epoch '5.0': the run writes epochs as integers");
    dir_state("cut", after, sizeof after);
    ck_assert_str_eq(before, after);
    write_text("cut/metrics.csv", metrics);
    free(metrics);
    ck_assert_int_eq(cli(NULL, resume), 0);
    assert_same_run("full", "cut");
}
END_TEST

/* A run interrupted twice (by --stop-after, and with the files a kill during an atomic write
 * leaves: checkpoints/epoch-N.ckpt.PID.tmp, mi.csv.PID.tmp) ends with exactly the checkpoints
 * of an uninterrupted one under checkpoint_keep = last, and none of those files. */
START_TEST(test_interrupted_run_thinned_and_clean) {
    write_config("last.ini", "checkpoint_keep = last\n");
    ck_assert_int_eq(CLI("run", "last.ini", "--out", "last-full", "--quiet", "--no-plot"), 0);
    ck_assert_int_eq(
        CLI("run", "last.ini", "--out", "last-cut", "--quiet", "--no-plot", "--stop-after", "8"),
        0);
    write_text("last-cut/checkpoints/epoch-000009.ckpt.4242.tmp", "torn");
    write_text("last-cut/mi.csv.4243.tmp", "torn");
    ck_assert_int_eq(CLI("run", "last.ini", "--out", "last-cut", "--quiet", "--no-plot", "--resume",
                         "--stop-after", "6"),
                     0);
    ck_assert(!exists("last-cut/checkpoints/epoch-000009.ckpt.4242.tmp"));
    ck_assert(!exists("last-cut/mi.csv.4243.tmp"));
    ck_assert_int_eq(
        CLI("run", "last.ini", "--out", "last-cut", "--quiet", "--no-plot", "--resume"), 0);
    char want[4096], got[4096];
    checkpoint_names("last-full", want, sizeof want);
    checkpoint_names("last-cut", got, sizeof got);
    ck_assert_str_eq(want, "epoch-000000.ckpt\nepoch-000005.ckpt\nepoch-000020.ckpt\n"
                           "epoch-000040.ckpt\n");
    ck_assert_str_eq(got, want);
    assert_same_run("last-full", "last-cut");
    /* A run started with checkpoint_keep = all, resumed with a config that names no
     * checkpoint_keep (whose default is last), keeps every checkpoint: it keeps its own rule. */
    write_config("all.ini", "checkpoint_keep = all\n");
    write_config("unnamed.ini", "# checkpoint_keep not named: the run's own\n");
    ck_assert_int_eq(
        CLI("run", "all.ini", "--out", "adopt", "--quiet", "--no-plot", "--stop-after", "8"), 0);
    ck_assert_int_eq(
        CLI("run", "unnamed.ini", "--out", "adopt", "--quiet", "--no-plot", "--resume"), 0);
    checkpoint_names("adopt", got, sizeof got);
    size_t n = 0;
    for (const char *p = got; (p = strchr(p, '\n')); p++) n++;
    ck_assert_uint_eq(n, 41);
}
END_TEST

/* ---- conv nets and old checkpoints ---- */

/* 96 images of 1 x 6 x 6 pixels in [0, 1), label = whether the left half is brighter. */
static void write_images(const char *rel) {
    char path[900];
    path_of(path, sizeof path, "%s", rel);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    iflow_rng r;
    iflow_rng_init(&r, 8, 1);
    for (int i = 0; i < 96; i++) {
        double diff = 0;
        for (int p = 0; p < 36; p++) {
            double v = iflow_rng_uniform(&r);
            diff += p % 6 < 3 ? v : -v;
            fprintf(f, "%.6f,", v);
        }
        fprintf(f, "%d\n", diff > 0);
    }
    fclose(f);
}

/* A noisy CNN killed at seeded random points and resumed until done: the same logs and
 * checkpoints as an uninterrupted run with one thread (so the thread count is tested too). */
START_TEST(test_cnn_kill_and_resume) {
    write_images("img.csv");
    write_text("cnn.ini", "[data]\nfile = img.csv\ntest_fraction = 0.25\n"
                          "[net]\ninput = 1x6x6\nlayers = conv 4 3x3 pad 1 maxpool 2, "
                          "conv 3 2x2 stride 1 avgpool 2, dense 2\nactivation = relu\n"
                          "beta = 0.05\n[train]\nlr = 0.01\nbatch = 16\nepochs = 30\nseed = 3\n"
                          "[estimate]\nepochs = 0,10,30\nreplicas = 8\nbins = 0.07\n");
    double t0 = now();
    ck_assert_int_eq(
        CLI("run", "cnn.ini", "--out", "cnn-full", "--quiet", "--no-plot", "--threads", "1"), 0);
    double scale = now() - t0;
    ck_assert(exists("cnn-full/net.txt"));
    iflow_rng r;
    iflow_rng_init(&r, 2020, 1);
    int kills = 0, started = 0;
    for (int attempt = 0; attempt < 20 && kills < 2; attempt++) {
        double delay = (0.05 + 0.5 * iflow_rng_uniform(&r)) * scale;
        const char *fresh[] = {"run",     "cnn.ini",   "--out", "cnn-killed",
                               "--quiet", "--no-plot", NULL};
        const char *resume[] = {"run",     "cnn.ini",   "--out",    "cnn-killed",
                                "--quiet", "--no-plot", "--resume", NULL};
        int killed = kill_after(started ? resume : fresh, delay);
        kills += killed;
        started |= killed;
        if (!killed && kills) break; /* finished after a kill: compare what it wrote */
        if (!killed) { /* finished before any kill (2 threads beat the 1-thread timing) */
            char path[900];
            path_of(path, sizeof path, "cnn-killed");
            iflow_rmtree(path);
            scale *= 0.5;
        }
    }
    ck_assert_int_ge(kills, 1);
    /* Shapes that only the data can contradict: named with the line of [net] layers. */
    write_text("cnn-bad.ini", "[data]\nfile = img.csv\n[net]\nlayers = conv 2 3x3, dense 1\n"
                              "input = 1x6x6\n[train]\nepochs = 1\n");
    ck_assert_int_eq(CLI("run", "cnn-bad.ini", "--out", "bad", "--quiet"), 1);
    assert_stderr_has("cnn-bad.ini:4: data has labels up to 1 but [net] layers ends with 1");
    write_text("cnn-bad.ini", "[data]\nfile = img.csv\n[net]\nlayers = conv 2 3x3, dense 2\n"
                              "input = 1x5x6\n[train]\nepochs = 1\n");
    ck_assert_int_eq(CLI("run", "cnn-bad.ini", "--out", "bad2", "--quiet"), 1);
    assert_stderr_has("cnn-bad.ini:4: data rows have 36 values but [net] input 1x5x6 has 30");
    if (started)
        ck_assert_int_eq(
            CLI("run", "cnn.ini", "--out", "cnn-killed", "--quiet", "--no-plot", "--resume"), 0);
    assert_same_run("cnn-full", "cnn-killed");
}
END_TEST

/* tests/data/v1-run holds epochs 0..1 of tests/data/v1-mlp.ini written by infoflow with
 * checkpoint format version 1 (before conv nets; its checkpoint of epoch 1 only), and
 * v1-full-metrics.csv the metrics of that old binary's uninterrupted 3-epoch run. Resuming the
 * old run directory with this binary must give the old binary's epochs 2 and 3 exactly. */
START_TEST(test_resume_version1_checkpoint) {
    const char *src = getenv("IFLOW_SRCDIR");
    ck_assert_ptr_nonnull(src);
    char cmd[2000], ini[900], out[900];
    snprintf(
        cmd, sizeof cmd,
        "cp -r %s/tests/data/v1-run %s/v1 && cp %s/tests/data/v1-full-metrics.csv %s/v1-full.csv",
        src, tmpdir, src, tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(ini, sizeof ini, "%s/tests/data/v1-mlp.ini", src);
    path_of(out, sizeof out, "v1");
    ck_assert_int_eq(CLI("run", ini, "--out", out, "--quiet", "--no-plot", "--resume"), 0);
    char *got = slurp("v1/metrics.csv", NULL), *want = slurp("v1-full.csv", NULL);
    iflow_drop_last_column(got);
    iflow_drop_last_column(want);
    ck_assert_str_eq(got, want);
    free(got);
    free(want);
}
END_TEST

/* ---- export ---- */

/* A .npy file read by this test's own parser: '<f8' or '<i8', C order; shape and values. */
typedef struct npy {
    size_t ndim, shape[8], count;
    double *f8;
    long long *i8;
} npy;

static npy read_npy(const char *rel, const char *descr) {
    size_t len;
    char *raw = slurp(rel, &len);
    ck_assert_msg(raw != NULL, "missing %s", rel);
    ck_assert(len > 10 && !memcmp(raw, "\x93NUMPY\x01\x00", 8));
    size_t hlen = (unsigned char)raw[8] | (size_t)(unsigned char)raw[9] << 8;
    ck_assert_uint_eq((10 + hlen) % 64, 0);
    char *hdr = strndup(raw + 10, hlen);
    ck_assert_msg(strstr(hdr, descr) && strstr(hdr, "'fortran_order': False"), "%s", hdr);
    npy a = {0};
    char *p = strstr(hdr, "'shape': (") + 10;
    a.count = 1;
    while (*p != ')') {
        char *end;
        a.shape[a.ndim] = strtoul(p, &end, 10);
        ck_assert(end != p);
        a.count *= a.shape[a.ndim++];
        p = end;
        while (*p == ',' || *p == ' ') p++;
    }
    ck_assert_uint_eq(len, 10 + hlen + 8 * a.count);
    const unsigned char *d = (const unsigned char *)raw + 10 + hlen;
    a.f8 = malloc(a.count * sizeof *a.f8);
    a.i8 = malloc(a.count * sizeof *a.i8);
    for (size_t k = 0; k < a.count; k++) {
        uint64_t u = 0;
        for (int i = 7; i >= 0; i--) u = u << 8 | d[8 * k + (size_t)i];
        memcpy(&a.f8[k], &u, 8);
        memcpy(&a.i8[k], &u, 8);
    }
    free(hdr);
    free(raw);
    return a;
}

static void npy_free(npy *a) {
    free(a->f8);
    free(a->i8);
}

/* The first n rows of a CSV written by write_data / write_images: features, label. */
static void read_rows(const char *rel, size_t n, size_t d, double *x, long long *y) {
    char *text = slurp(rel, NULL), *p = text;
    for (size_t i = 0; i < n; i++) {
        while (*p == '#') p = strchr(p, '\n') + 1;
        for (size_t j = 0; j < d; j++) x[i * d + j] = strtod(p, &p), p++;
        y[i] = strtoll(p, &p, 10);
        p++;
    }
    free(text);
}

/* `infoflow export` of a CNN run and of an MLP run: inputs and labels are the data file's first
 * rows, and S_1 recomputed here from weight-1, bias-1 and inputs by direct loops (conv, relu,
 * 2 x 2 max pool; dense, tanh) matches S-1.npy. */
START_TEST(test_export_reproduces_s1) {
    write_images("img.csv");
    write_text("cnn.ini",
               "[data]\nfile = img.csv\ntest_fraction = 0.25\n"
               "[net]\ninput = 1x6x6\nlayers = conv 4 3x3 pad 1 maxpool 2, "
               "dense 5, dense 2\nactivation = relu\nbeta = 0.05\n"
               "[train]\nlr = 0.01\nbatch = 16\nepochs = 3\n[estimate]\nepochs = none\n");
    ck_assert_int_eq(CLI("run", "cnn.ini", "--out", "cnn", "--quiet", "--no-plot"), 0);
    ck_assert_int_eq(CLI("export", "cnn", "--epoch", "3", "--inputs", "7", "--out", "ex"), 0);
    npy w = read_npy("ex/weight-1.npy", "'<f8'"), b = read_npy("ex/bias-1.npy", "'<f8'");
    npy x = read_npy("ex/inputs.npy", "'<f8'"), y = read_npy("ex/labels.npy", "'<i8'");
    npy s1 = read_npy("ex/S-1.npy", "'<f8'"), w3 = read_npy("ex/weight-3.npy", "'<f8'");
    ck_assert_uint_eq(w.ndim, 4);
    ck_assert(w.shape[0] == 4 && w.shape[1] == 1 && w.shape[2] == 3 && w.shape[3] == 3);
    ck_assert(x.ndim == 4 && x.shape[0] == 7 && x.shape[1] == 1 && x.shape[2] == 6);
    ck_assert(s1.ndim == 4 && s1.shape[1] == 4 && s1.shape[2] == 3 && s1.shape[3] == 3);
    ck_assert(w3.ndim == 2 && w3.shape[0] == 2 && w3.shape[1] == 5);
    double rows[7 * 36];
    long long labels[7];
    read_rows("img.csv", 7, 36, rows, labels);
    for (size_t k = 0; k < 7 * 36; k++) ck_assert_double_eq_tol(x.f8[k], rows[k], 1e-15);
    for (size_t i = 0; i < 7; i++) ck_assert_int_eq(y.i8[i], labels[i]);
    double worst = 0;
    for (size_t i = 0; i < 7; i++)
        for (size_t co = 0; co < 4; co++)
            for (size_t ph = 0; ph < 3; ph++)
                for (size_t pw = 0; pw < 3; pw++) {
                    double best = -INFINITY;
                    for (size_t oh = 2 * ph; oh < 2 * ph + 2; oh++)
                        for (size_t ow = 2 * pw; ow < 2 * pw + 2; ow++) {
                            double v = b.f8[co];
                            for (int a = 0; a < 3; a++)
                                for (int c = 0; c < 3; c++) {
                                    int ih = (int)oh + a - 1, iw = (int)ow + c - 1;
                                    if (ih >= 0 && iw >= 0 && ih < 6 && iw < 6)
                                        v += w.f8[co * 9 + (size_t)(a * 3 + c)] *
                                             x.f8[i * 36 + (size_t)(ih * 6 + iw)];
                                }
                            best = fmax(best, v > 0 ? v : 0);
                        }
                    worst = fmax(worst, fabs(best - s1.f8[((i * 4 + co) * 3 + ph) * 3 + pw]));
                }
    ck_assert_msg(worst < 1e-12, "CNN S_1 differs by %g", worst);
    char *txt = slurp("ex/net.txt", NULL);
    ck_assert_msg(strstr(txt, "conv 4 3x3 pad 1 maxpool 2\ndense 5\ndense 2\n"), "%s", txt);
    free(txt);
    npy *all[] = {&w, &b, &x, &y, &s1, &w3};
    for (size_t k = 0; k < 6; k++) npy_free(all[k]);

    /* The fixture's MLP run (5-6-4-2 tanh). */
    ck_assert_int_eq(CLI("export", "full", "--epoch", "5", "--inputs", "4", "--out", "exm"), 0);
    w = read_npy("exm/weight-1.npy", "'<f8'");
    b = read_npy("exm/bias-1.npy", "'<f8'");
    x = read_npy("exm/inputs.npy", "'<f8'");
    s1 = read_npy("exm/S-1.npy", "'<f8'");
    ck_assert(w.ndim == 2 && w.shape[0] == 6 && w.shape[1] == 5);
    ck_assert(x.ndim == 2 && x.shape[0] == 4 && s1.shape[1] == 6);
    worst = 0;
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 6; j++) {
            double v = b.f8[j];
            for (size_t k = 0; k < 5; k++) v += w.f8[j * 5 + k] * x.f8[i * 5 + k];
            worst = fmax(worst, fabs(tanh(v) - s1.f8[i * 6 + j]));
        }
    ck_assert_msg(worst < 1e-13, "MLP S_1 differs by %g", worst);
    npy_free(&w), npy_free(&b), npy_free(&x), npy_free(&s1);
    /* Usage errors and a missing checkpoint. */
    ck_assert_int_eq(CLI("export", "full", "--out", "exm"), 2);
    ck_assert_int_eq(CLI("export", "full", "--epoch", "999", "--out", "exm999"), 1);
    assert_stderr_has("epoch-000999.ckpt");
}
END_TEST

/* No directory beside tmpdir's entries is left from a failed or finished export. */
static void assert_no_export_temp(void) {
    DIR *d = opendir(tmpdir);
    ck_assert_ptr_nonnull(d);
    for (struct dirent *e; (e = readdir(d));)
        ck_assert_msg(!strstr(e->d_name, ".export-"), "left behind: %s", e->d_name);
    closedir(d);
}

static void assert_same_bytes(const char *a_rel, const char *b_rel, int same) {
    size_t na = 0, nb = 0;
    char *a = slurp(a_rel, &na), *b = slurp(b_rel, &nb);
    ck_assert_msg(a && b, "missing %s or %s", a_rel, b_rel);
    ck_assert_msg((na == nb && !memcmp(a, b, na)) == same, "%s and %s: expected %s", a_rel, b_rel,
                  same ? "the same bytes" : "different bytes");
    free(a);
    free(b);
}

/* `export` writes only where it may: never into the run directory (or through a link to it),
 * never over files it did not write; it replaces an earlier export only with --force, checks
 * that the checkpoint holds the epoch asked for, and a failure part-way leaves no trace. */
START_TEST(test_export_protects_and_checks) {
    const char *inside[] = {"full",         "full/",  "full/checkpoints",
                            "full/new/sub", "link/x", "./full"};
    char link[900], target[900];
    path_of(link, sizeof link, "link");
    path_of(target, sizeof target, "full");
    ck_assert_int_eq(symlink(target, link), 0);
    for (size_t i = 0; i < sizeof inside / sizeof inside[0]; i++) {
        ck_assert_int_eq(CLI("export", "full", "--epoch", "5", "--out", inside[i], "--force"), 1);
        assert_stderr_has("is the run directory");
    }
    ck_assert(!exists("full/weight-1.npy") && !exists("full/new"));

    /* A new directory, then the same one again: only with --force, and then it is replaced. */
    ck_assert_int_eq(CLI("export", "full", "--epoch", "5", "--out", "ex"), 0);
    ck_assert_int_eq(CLI("export", "full", "--epoch", "10", "--out", "ex"), 1);
    assert_stderr_has("add --force");
    assert_same_bytes("ex/weight-1.npy", "ex/weight-1.npy", 1);
    ck_assert_int_eq(CLI("export", "full", "--epoch", "10", "--out", "ex10"), 0);
    assert_same_bytes("ex/weight-1.npy", "ex10/weight-1.npy", 0);
    ck_assert_int_eq(CLI("export", "full", "--epoch", "10", "--out", "ex", "--force"), 0);
    assert_same_bytes("ex/weight-1.npy", "ex10/weight-1.npy", 1);
    /* An empty directory is used; one holding anything else is never replaced. */
    path_of(target, sizeof target, "empty");
    ck_assert_int_eq(mkdir(target, 0755), 0);
    ck_assert_int_eq(CLI("export", "full", "--epoch", "5", "--out", "empty"), 0);
    ck_assert(exists("empty/net.txt"));
    write_text("ex10/notes.txt", "mine\n");
    ck_assert_int_eq(CLI("export", "full", "--epoch", "5", "--out", "ex10", "--force"), 1);
    assert_stderr_has("never replaced");
    ck_assert(exists("ex10/notes.txt") && exists("ex10/weight-1.npy"));
    write_text("afile", "mine\n");
    ck_assert_int_eq(CLI("export", "full", "--epoch", "5", "--out", "afile", "--force"), 1);
    assert_stderr_has("not a directory");

    /* A write that fails part-way (file size limit): the earlier export stays as it was. */
    child_opts co = {.fsize = 2000};
    ck_assert_int_eq(cli(&co, (const char *const[]){"export", "full", "--epoch", "20", "--out",
                                                    "ex", "--force", NULL}),
                     1);
    assert_same_bytes("ex/weight-1.npy", "ex10/weight-1.npy", 1);
    ck_assert_int_eq(
        cli(&co, (const char *const[]){"export", "full", "--epoch", "20", "--out", "fresh", NULL}),
        1);
    ck_assert(!exists("fresh"));
    assert_no_export_temp();

    /* A checkpoint copied under another epoch's name is refused, as `estimate` refuses it. */
    char from[900], to[900];
    path_of(from, sizeof from, "full/checkpoints/epoch-000005.ckpt");
    path_of(to, sizeof to, "full/checkpoints/epoch-000006.ckpt");
    size_t len = 0;
    char *bytes = slurp("full/checkpoints/epoch-000005.ckpt", &len);
    FILE *f = fopen(to, "wb");
    ck_assert(bytes && f && fwrite(bytes, 1, len, f) == len);
    fclose(f);
    free(bytes);
    ck_assert_int_eq(CLI("export", "full", "--epoch", "6", "--out", "ex6"), 1);
    assert_stderr_has("holds epoch 5, not 6");
    ck_assert(!exists("ex6"));
    /* An epoch without a checkpoint, and a run without any. */
    ck_assert_int_eq(CLI("export", "full", "--epoch", "41", "--out", "ex41"), 1);
    assert_stderr_has("no checkpoint of epoch 41; the run has 41, the newest of epoch 40");
    path_of(to, sizeof to, "full/checkpoints.moved");
    path_of(from, sizeof from, "full/checkpoints");
    ck_assert_int_eq(rename(from, to), 0);
    ck_assert_int_eq(CLI("export", "full", "--epoch", "5", "--out", "ex41"), 1);
    assert_stderr_has("the run has no checkpoints");
    assert_stderr_has("infoflow run full/config.ini --out");
    ck_assert(!exists("ex41"));
    assert_no_export_temp();
}
END_TEST

/* A CNN config whose measurements cannot be made (1 input; too many samples to hold) is
 * refused before any work: no run directory, nothing written. */
START_TEST(test_cnn_measure_sizes_refused_before_work) {
    write_images("img.csv");
    const char *estimates[] = {"inputs = 1\n", "inputs = 100000000000\nreplicas = 1000\n"};
    for (size_t i = 0; i < 2; i++) {
        char text[600];
        snprintf(text, sizeof text,
                 "[data]\nfile = img.csv\ntest_fraction = 0.25\n"
                 "[net]\ninput = 1x6x6\nlayers = conv 4 3x3 pad 1 maxpool 2, dense 5, dense 2\n"
                 "[train]\nlr = 0.01\nbatch = 16\nepochs = 3\n[estimate]\nepochs = 0,3\n%s",
                 estimates[i]);
        write_text("cnn.ini", text);
        ck_assert_int_eq(CLI("run", "cnn.ini", "--out", "never", "--quiet", "--no-plot"), 1);
        assert_stderr_has("cnn.ini:13: [estimate] inputs");
        ck_assert(!exists("never"));
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_kill_during_training);
    tcase_add_test(tc, test_kill_during_estimate);
    tcase_add_test(tc, test_full_disk_during_estimate);
    tcase_add_test(tc, test_full_disk_while_measuring);
    tcase_add_test(tc, test_full_disk_at_resume);
    tcase_add_test(tc, test_read_only_output);
    tcase_add_test(tc, test_concurrent_runs_refused);
    tcase_add_test(tc, test_divergence_message);
    tcase_add_test(tc, test_nan_input_rejected_with_line);
    tcase_add_test(tc, test_file_size_limit_messages);
    tcase_add_test(tc, test_atomic_writers_do_not_collide);
    tcase_add_test(tc, test_cnn_kill_and_resume);
    tcase_add_test(tc, test_resume_version1_checkpoint);
    tcase_add_test(tc, test_export_reproduces_s1);
    tcase_add_test(tc, test_refused_resume_writes_nothing);
    tcase_add_test(tc, test_interrupted_run_thinned_and_clean);
    tcase_add_test(tc, test_export_protects_and_checks);
    tcase_add_test(tc, test_cnn_measure_sizes_refused_before_work);
    suite_add_tcase(s, tc);
    int failed = iflow_check_run(s);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
