/* MPI: the same bytes on any number of ranks. Runs `mpirun -np 1, 2, 3 --oversubscribe` on
 * this machine for entropy, mi, estimate, a single run and run with repeats, and compares
 * every output with the plain single-process run; makes rank 0 of a run fail to write; then kills a
 * rank of an estimate and checks that the job fails naming it, publishes nothing, and that a rerun
 * gives the plain run's file. Skipped (exit 77, with a message) when the build has no MPI or mpirun
 * is missing. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_util.h"
#include "infoflow/rng.h"

static char tmpdir[256];
static const char *bin;
static char mpirun[1024];

/* ---- files ---- */

static void path_of(char *out, size_t n, const char *rel) {
    snprintf(out, n, "%s/%s", tmpdir, rel);
}

/* The whole file as a string (NULL if missing). */
static char *slurp(const char *rel) {
    char path[900];
    path_of(path, sizeof path, rel);
    return iflow_read_file(path, NULL);
}

static void write_text(const char *rel, const char *text) {
    char path[900];
    path_of(path, sizeof path, rel);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void assert_same(const char *a_rel, const char *b_rel) {
    char *a = slurp(a_rel), *b = slurp(b_rel);
    ck_assert_msg(a != NULL, "missing %s", a_rel);
    ck_assert_msg(b != NULL, "missing %s", b_rel);
    ck_assert_msg(strlen(a) > 0 && !strcmp(a, b), "%s differs from %s", b_rel, a_rel);
    free(a);
    free(b);
}

static void copy_file(const char *from_rel, const char *to_rel) {
    char *s = slurp(from_rel);
    ck_assert_msg(s != NULL, "missing %s", from_rel);
    write_text(to_rel, s);
    free(s);
}

/* ---- running ---- */

/* Runs `[mpirun -np N --oversubscribe] infoflow ARGS` (np = 0: without mpirun) in tmpdir,
 * stdout to out.txt, stderr to err.txt; returns the child (not waited for). */
static pid_t spawn(int np, const char *const *args) {
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid) return pid;
    char *argv[48], npbuf[16];
    int n = 0;
    if (np > 0) {
        snprintf(npbuf, sizeof npbuf, "%d", np);
        argv[n++] = mpirun;
        argv[n++] = "-np";
        argv[n++] = npbuf;
        argv[n++] = "--oversubscribe";
    }
    argv[n++] = (char *)bin;
    for (size_t i = 0; args[i] && n < 47; i++) argv[n++] = (char *)args[i];
    argv[n] = NULL;
    char out[900], err[900];
    path_of(out, sizeof out, "out.txt");
    path_of(err, sizeof err, "err.txt");
    int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fo < 0 || fe < 0 || chdir(tmpdir) != 0) _exit(126);
    if (np > 0) {
        /* In the sanitizer build: LeakSanitizer needs the slow unwinder to see the Open MPI
         * threads' allocations that tests/lsan.supp names, which doubles the time of these
         * processes; so leaks are checked in the 2-rank jobs only (every MPI code path runs
         * there) and the 1- and 3-rank jobs run without the leak check. */
        static char asan[1024];
        const char *old = getenv("ASAN_OPTIONS");
        snprintf(asan, sizeof asan, "%s%s%s", old ? old : "", old && *old ? ":" : "",
                 np == 2 ? "fast_unwind_on_malloc=0" : "detect_leaks=0");
        setenv("ASAN_OPTIONS", asan, 1);
    }
    dup2(fo, 1);
    dup2(fe, 2);
    execv(argv[0], argv);
    _exit(127);
}

static int reap(pid_t pid) {
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int run_np(int np, const char *const *args) {
    int st = reap(spawn(np, args));
    if (st != 0) {
        char *e = slurp("err.txt");
        fprintf(stderr, "np %d, %s %s: exit %d: %s\n", np, args[0], args[1], st, e ? e : "");
        free(e);
    }
    return st;
}

#define RUN(np, ...) run_np(np, (const char *const[]){__VA_ARGS__, NULL})

/* stdout of the last command without its "seconds" field (wall time differs run to run). */
static char *json_without_seconds(void) {
    char *s = slurp("out.txt");
    ck_assert_ptr_nonnull(s);
    char *p = strstr(s, ",\"seconds\":");
    ck_assert_msg(p != NULL, "no seconds in %s", s);
    char *end = strchr(p + 1, '}');
    ck_assert_ptr_nonnull(end);
    memmove(p, end, strlen(end) + 1);
    return s;
}

/* ---- fixtures ---- */

/* n rows: with groups, a group id in column 0 (5 groups) then d coordinates around it. */
static void write_samples(const char *rel, size_t n, size_t d, int groups) {
    char path[900];
    path_of(path, sizeof path, rel);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    iflow_rng r;
    iflow_rng_init(&r, 17, 3);
    for (size_t i = 0; i < n; i++) {
        size_t g = i % 5;
        if (groups) fprintf(f, "%zu,", g);
        for (size_t c = 0; c < d; c++)
            fprintf(f, "%.6f%s", iflow_rng_normal(&r) + (groups ? 0.5 * (double)g : 0.0),
                    c + 1 < d ? "," : "\n");
    }
    fclose(f);
}

/* n rows of d heteroscedastic noise stds in [0.05, 0.5). */
static void write_stds(const char *rel, size_t n, size_t d) {
    char path[900];
    path_of(path, sizeof path, rel);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    iflow_rng r;
    iflow_rng_init(&r, 19, 4);
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < d; c++)
            fprintf(f, "%.6f%s", 0.05 + 0.45 * iflow_rng_uniform(&r), c + 1 < d ? "," : "\n");
    fclose(f);
}

/* 160 rows of 5 features in [0, 1), label = whether x1+x2+x3 > 1.5 (x4+x5). */
static void write_data(void) {
    char path[900];
    path_of(path, sizeof path, "data.csv");
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    iflow_rng r;
    iflow_rng_init(&r, 7, 1);
    for (int i = 0; i < 160; i++) {
        double s = 0;
        for (int j = 0; j < 5; j++) {
            double v = iflow_rng_uniform(&r);
            s += j < 3 ? v : -1.5 * v;
            fprintf(f, "%.6f,", v);
        }
        fprintf(f, "%d\n", s > 0);
    }
    fclose(f);
}

/* A 5-6-4-3-2 tanh net (three hidden layers: units of 3 layers x 4 epochs), 40 epochs, every
 * checkpoint kept (estimate --epochs all reads them). */
static void write_config(const char *rel, int repeats) {
    char text[1024];
    snprintf(text, sizeof text,
             "[data]\nfile = data.csv\ntest_fraction = 0.25\n"
             "[net]\nlayers = 5,6,4,3,2\nactivation = tanh\nbeta = 0.05\n"
             "[train]\noptimizer = adam\nlr = 0.01\nbatch = 32\nepochs = 40\nseed = 4\n"
             "checkpoint_keep = all\n"
             "[estimate]\nepochs = 0,5,20,40\nreplicas = 16\nmc = 2\nbins = szt30, 0.07\n"
             "[output]\nrepeats = %d\n",
             repeats);
    write_text(rel, text);
}

static void setup(void) {
    bin = getenv("IFLOW_BIN");
    ck_assert_msg(bin != NULL, "IFLOW_BIN is not set (run through meson test)");
    snprintf(tmpdir, sizeof tmpdir, "/tmp/iflow-dist-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void) { iflow_rmtree(tmpdir); }

/* ---- tests ---- */

/* entropy and mi, exact and truncated: the JSON of 1, 2, 3 ranks (1 thread each; one rank count
 * only in three cases, to keep the test short) equals the plain run's (2 threads), seconds
 * aside. */
START_TEST(test_entropy_mi_any_ranks) {
    write_samples("s.csv", 900, 3, 0);
    write_samples("g.csv", 900, 2, 1);
    write_stds("sig3.csv", 900, 3);
    write_stds("sig1.csv", 900, 1);
    const char *cases[][10] = {
        {"entropy", "--sigma", "0.1", "s.csv", NULL},
        {"entropy", "--sigma", "0.1", "--tolerance", "1e-6", "--mc", "3", "s.csv", NULL},
        {"mi", "--group-col", "0", "--sigma", "0.3", "g.csv", NULL},
        {"mi", "--group-col", "0", "--sigma", "0.3", "--tolerance", "1e-6", "--mc", "1", "g.csv"},
        {"entropy", "--sigma-file", "sig3.csv", "--tolerance", "0", "s.csv", NULL},
        {"mi", "--group-col", "0", "--sigma-file", "sig1.csv", "--mc", "2", "g.csv", NULL},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *args[16];
        size_t n = 0;
        for (; n < 10 && cases[c][n]; n++) args[n] = cases[c][n];
        args[n] = "--threads";
        args[n + 2] = NULL;
        args[n + 1] = "2";
        ck_assert_int_eq(run_np(0, args), 0);
        char *plain = json_without_seconds();
        args[n + 1] = "1";
        /* 1, 2 and 3 ranks in case 0; then 3, 2, 3, 2, 3 (keeps the sanitizer run short) */
        int two = c == 2 || c == 4;
        for (int np = c == 0 ? 1 : two ? 2 : 3; np <= (two ? 2 : 3); np++) {
            ck_assert_int_eq(run_np(np, args), 0);
            char *got = json_without_seconds();
            ck_assert_msg(!strcmp(plain, got), "%s on %d ranks: %s, one process: %s", args[0], np,
                          got, plain);
            free(got);
        }
        free(plain);
    }
}
END_TEST

static const char *const est_files[] = {"binned-estimate.csv", "activations-estimate.csv",
                                        "scatter-estimate.csv"};

/* estimate: every output file of 1, 2, 3 ranks equals the plain run's, and the in-run mi.csv,
 * at the 4 MI epochs and at all 41 epochs. */
START_TEST(test_estimate_any_ranks) {
    write_data();
    write_config("run.ini", 1);
    ck_assert_int_eq(RUN(0, "run", "run.ini", "--out", "r", "--quiet", "--no-plot"), 0);
    ck_assert_int_eq(RUN(0, "estimate", "r", "--quiet", "--out", "plain.csv"), 0);
    assert_same("r/mi.csv", "r/plain.csv");
    char name[300], keep[300];
    for (size_t i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "r/%s", est_files[i]);
        snprintf(keep, sizeof keep, "plain-%s", est_files[i]);
        copy_file(name, keep);
    }
    for (int np = 1; np <= 3; np++) {
        char out[64], rel[300];
        snprintf(out, sizeof out, "np%d.csv", np);
        ck_assert_int_eq(RUN(np, "estimate", "r", "--quiet", "--threads", "1", "--out", out), 0);
        snprintf(rel, sizeof rel, "r/%s", out);
        assert_same("r/plain.csv", rel);
        for (size_t i = 0; i < 3; i++) {
            snprintf(name, sizeof name, "r/%s", est_files[i]);
            snprintf(keep, sizeof keep, "plain-%s", est_files[i]);
            assert_same(keep, name);
        }
    }
    ck_assert_int_eq(RUN(0, "estimate", "r", "--quiet", "--epochs", "all", "--out", "a0.csv"), 0);
    for (int np = 2; np <= 3; np++) {
        char out[64], rel[300];
        snprintf(out, sizeof out, "a%d.csv", np);
        ck_assert_int_eq(
            RUN(np, "estimate", "r", "--quiet", "--epochs", "all", "--threads", "1", "--out", out),
            0);
        snprintf(rel, sizeof rel, "r/%s", out);
        assert_same("r/a0.csv", rel);
    }
}
END_TEST

/* run with repeats = 3 on 2 ranks (seeds 4, 6 on rank 0, 5 on rank 1): the seeds' logs and
 * checkpoints and the mean over seeds equal the plain run's. */
START_TEST(test_repeats_on_ranks) {
    write_data();
    write_config("rep.ini", 3);
    ck_assert_int_eq(RUN(0, "run", "rep.ini", "--out", "a", "--quiet", "--no-plot"), 0);
    ck_assert_int_eq(RUN(2, "run", "rep.ini", "--out", "b", "--quiet", "--no-plot"), 0);
    const char *files[] = {"mi-mean.csv",
                           "info.csv",
                           "seed-4/mi.csv",
                           "seed-5/mi.csv",
                           "seed-6/mi.csv",
                           "seed-5/binned.csv",
                           "seed-5/checkpoints/epoch-000040.ckpt"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char a[300], b[300];
        snprintf(a, sizeof a, "a/%s", files[i]);
        snprintf(b, sizeof b, "b/%s", files[i]);
        assert_same(a, b);
    }
}
END_TEST

static void assert_same_bytes(const char *a_rel, const char *b_rel) {
    char a_path[900], b_path[900];
    path_of(a_path, sizeof a_path, a_rel);
    path_of(b_path, sizeof b_path, b_rel);
    size_t na = 0, nb = 0;
    char *a = iflow_read_file(a_path, &na), *b = iflow_read_file(b_path, &nb);
    ck_assert_msg(a && b, "missing %s or %s", a_rel, b_rel);
    ck_assert_msg(na > 0 && na == nb && !memcmp(a, b, na), "%s differs from %s", b_rel, a_rel);
    free(a);
    free(b);
}

/* metrics.csv without its last column, the seconds of each epoch. */
static char *metrics_without_seconds(const char *rel) {
    char *s = slurp(rel);
    ck_assert_msg(s != NULL, "missing %s", rel);
    ck_assert_msg(iflow_drop_last_column(s) == 0, "%s: a line without commas", rel);
    return s;
}

/* The names in DIR and DIR/checkpoints, sorted, as one string. */
static char *listing(const char *rel) {
    char *all = calloc(1, 1);
    ck_assert_ptr_nonnull(all);
    for (int sub = 0; sub < 2; sub++) {
        char path[900], *names[256];
        size_t n = 0;
        snprintf(path, sizeof path, "%s/%s%s", tmpdir, rel, sub ? "/checkpoints" : "");
        DIR *d = opendir(path);
        ck_assert_msg(d != NULL, "cannot list %s", path);
        for (struct dirent *e; (e = readdir(d)) && n < 256;)
            if (e->d_name[0] != '.' || !strcmp(e->d_name, ".lock")) names[n++] = strdup(e->d_name);
        closedir(d);
        for (size_t i = 1; i < n; i++) /* insertion sort: a few dozen names */
            for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
                char *t = names[j];
                names[j] = names[j - 1];
                names[j - 1] = t;
            }
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen(all);
            all = realloc(all, len + strlen(names[i]) + 4); /* "c/", ' ', NUL */
            ck_assert_ptr_nonnull(all);
            sprintf(all + len, "%s%s ", sub ? "c/" : "", names[i]);
            free(names[i]);
        }
    }
    return all;
}

/* A single run on 1, 2 and 3 ranks (no repeats: every rank trains, the measurements are split):
 * rank 0 writes the plain run's files, byte for byte, and no other file; so does a run stopped
 * after 7 epochs on 2 ranks and resumed on 3, and one whose rows of epoch 20 were cut off
 * (written on 3 ranks, measured again on 2 when resumed). */
START_TEST(test_run_any_ranks) {
    write_data();
    write_config("one.ini", 1);
    ck_assert_int_eq(RUN(0, "run", "one.ini", "--out", "p", "--quiet", "--no-plot"), 0);
    static const char *const same[] = {
        "mi.csv",   "binned.csv", "activations.csv", "scatter.csv",
        "info.csv", "net.txt",    "config.hash",     "checkpoints/epoch-000040.ckpt"};
    char *plain_metrics = metrics_without_seconds("p/metrics.csv");
    char *plain_list = listing("p");
    for (int np = 1; np <= 5; np++) {
        char dir[32], a[300], b[300];
        if (np <= 3) {
            snprintf(dir, sizeof dir, "n%d", np);
            ck_assert_int_eq(
                RUN(np, "run", "one.ini", "--out", dir, "--quiet", "--no-plot", "--threads", "1"),
                0);
        } else if (np == 4) { /* stopped on 2 ranks, resumed on 3 */
            snprintf(dir, sizeof dir, "resumed");
            ck_assert_int_eq(RUN(2, "run", "one.ini", "--out", dir, "--quiet", "--no-plot",
                                 "--threads", "1", "--stop-after", "7"),
                             0);
            ck_assert_int_eq(
                RUN(3, "run", "--resume", "--out", dir, "--quiet", "--no-plot", "--threads", "1"),
                0);
        } else { /* cut off while writing the rows of MI epoch 20: the resume measures it again */
            snprintf(dir, sizeof dir, "cut");
            ck_assert_int_eq(RUN(3, "run", "one.ini", "--out", dir, "--quiet", "--no-plot",
                                 "--threads", "1", "--stop-after", "20"),
                             0);
            char *mi = slurp("cut/mi.csv");
            ck_assert_ptr_nonnull(mi);
            for (int k = 0; k < 2; k++) { /* drops the last two of epoch 20's three rows */
                mi[strlen(mi) - 1] = '\0';
                strrchr(mi, '\n')[1] = '\0';
            }
            size_t len = strlen(mi);
            mi[len - 1] = '\0';
            ck_assert_msg(!strncmp(strrchr(mi, '\n') + 1, "20,", 3), "last row: %s",
                          strrchr(mi, '\n') + 1);
            mi[len - 1] = '\n';
            write_text("cut/mi.csv", mi);
            free(mi);
            ck_assert_int_eq(
                RUN(2, "run", "--resume", "--out", dir, "--quiet", "--no-plot", "--threads", "1"),
                0);
        }
        for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
            snprintf(a, sizeof a, "p/%s", same[i]);
            snprintf(b, sizeof b, "%s/%s", dir, same[i]);
            assert_same_bytes(a, b);
        }
        snprintf(b, sizeof b, "%s/metrics.csv", dir);
        char *got = metrics_without_seconds(b);
        ck_assert_msg(!strcmp(plain_metrics, got), "%s differs from p/metrics.csv", b);
        free(got);
        got = listing(dir);
        ck_assert_msg(!strcmp(plain_list, got), "%s holds %s, the plain run %s", dir, got,
                      plain_list);
        free(got);
    }
    free(plain_metrics);
    free(plain_list);
}
END_TEST

/* A v1 run begun before v2 became the default (its config.ini without the key), resumed on 2
 * ranks with a config that names no generator: rank 0 adopts v1 from the run directory and the
 * other rank must draw with it too, or the bytes would differ from the plain v1 run. */
START_TEST(test_resume_v1_on_ranks) {
    write_data();
    write_config("one.ini", 1);
    char *text = slurp("one.ini");
    ck_assert_ptr_nonnull(text);
    const char *seed = "seed = 4\n";
    char v1[1200], *train = strstr(text, seed);
    ck_assert_ptr_nonnull(train);
    train += strlen(seed);
    snprintf(v1, sizeof v1, "%.*snoise_generator = v1\n%s", (int)(train - text), text, train);
    write_text("v1.ini", v1);
    free(text);
    ck_assert_int_eq(RUN(0, "run", "v1.ini", "--out", "p1", "--quiet", "--no-plot"), 0);
    ck_assert_int_eq(RUN(2, "run", "v1.ini", "--out", "old", "--quiet", "--no-plot", "--threads",
                         "1", "--stop-after", "7"),
                     0);
    const char *key = "noise_generator = v1\n";
    char *cfg = slurp("old/config.ini"), *line = strstr(cfg, key);
    ck_assert_ptr_nonnull(line);
    memmove(line, line + strlen(key), strlen(line + strlen(key)) + 1);
    write_text("old/config.ini", cfg);
    free(cfg);
    ck_assert_int_eq(RUN(2, "run", "one.ini", "--resume", "--out", "old", "--quiet", "--no-plot",
                         "--threads", "1"),
                     0);
    assert_same_bytes("p1/mi.csv", "old/mi.csv");
    assert_same_bytes("p1/binned.csv", "old/binned.csv");
    char *a = metrics_without_seconds("p1/metrics.csv"),
         *b = metrics_without_seconds("old/metrics.csv");
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
}
END_TEST

/* Rank 0 cannot write the checkpoint of epoch 7 (a directory holds its name) while the other
 * ranks go on training to the next agreement (the measurement of epoch 20): the job fails,
 * naming rank 0 and the file, rank 0 writes nothing more, and nothing hangs. */
START_TEST(test_run_rank0_fails) {
    write_data();
    write_config("one.ini", 1);
    char path[900];
    path_of(path, sizeof path, "f");
    ck_assert_int_eq(mkdir(path, 0755), 0);
    path_of(path, sizeof path, "f/checkpoints");
    ck_assert_int_eq(mkdir(path, 0755), 0);
    path_of(path, sizeof path, "f/checkpoints/epoch-000007.ckpt");
    ck_assert_int_eq(mkdir(path, 0755), 0);
    ck_assert_int_ne(
        RUN(3, "run", "one.ini", "--out", "f", "--quiet", "--no-plot", "--threads", "1"), 0);
    char *e = slurp("err.txt");
    ck_assert_msg(strstr(e, "rank 0: ") && strstr(e, "epoch-000007.ckpt"), "message: %s", e);
    ck_assert_msg(!strstr(e, "MPI_ABORT"), "the job was aborted, not stopped: %s", e);
    free(e);
    path_of(path, sizeof path, "f/checkpoints/epoch-000008.ckpt");
    ck_assert_int_ne(access(path, F_OK), 0);
}
END_TEST

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The pid of the process of this test's job (its environment holds tag) whose MPI rank is
 * `rank`, or 0. */
static pid_t find_rank(const char *tag, int rank) {
    char want_rank[64], path[300];
    snprintf(want_rank, sizeof want_rank, "OMPI_COMM_WORLD_RANK=%d", rank);
    DIR *proc = opendir("/proc");
    ck_assert_ptr_nonnull(proc);
    pid_t found = 0;
    for (struct dirent *d; !found && (d = readdir(proc));) {
        char *end;
        long pid = strtol(d->d_name, &end, 10);
        if (*end || pid <= 1) continue;
        snprintf(path, sizeof path, "/proc/%ld/environ", pid);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        static char env[1 << 17];
        size_t n = fread(env, 1, sizeof env - 1, f);
        fclose(f);
        env[n] = '\0';
        int has_tag = 0, has_rank = 0;
        for (size_t i = 0; i < n; i += strlen(env + i) + 1) {
            has_tag |= !strcmp(env + i, tag);
            has_rank |= !strcmp(env + i, want_rank);
        }
        if (has_tag && has_rank) found = (pid_t)pid;
    }
    closedir(proc);
    return found;
}

/* A rank SIGKILLed during an estimate: the job fails, mpirun names the rank, no output file is
 * published; the rerun gives the plain run's bytes. */
START_TEST(test_rank_killed) {
    write_data();
    write_config("run.ini", 1);
    ck_assert_int_eq(RUN(0, "run", "run.ini", "--out", "r", "--quiet", "--no-plot"), 0);
    ck_assert_int_eq(
        RUN(0, "estimate", "r", "--quiet", "--replicas", "48", "--mc", "4", "--out", "plain.csv"),
        0);
    char tag[300];
    snprintf(tag, sizeof tag, "IFLOW_DIST_TEST=%s", tmpdir); /* marks this job's processes */
    putenv(tag);
    const char *args[] = {"estimate", "r", "--quiet", "--replicas", "48",
                          "--mc",     "4", "--out",   "killed.csv", NULL};
    pid_t job = spawn(2, args), victim = 0;
    for (double t0 = now(); !victim && now() - t0 < 60;) {
        victim = find_rank(tag, 1);
        if (waitpid(job, NULL, WNOHANG) == job) ck_abort_msg("the job ended before rank 1 ran");
    }
    ck_assert_msg(victim > 0, "rank 1 never started");
    usleep(200000); /* into its work (a kill in start-up must fail the job just as well) */
    kill(victim, SIGKILL);
    int st = reap(job);
    char *e = slurp("err.txt");
    ck_assert_msg(st != 0, "the job succeeded without rank 1: %s", e);
    ck_assert_msg(strstr(e, "rank 1") != NULL, "no rank named: %s", e);
    free(e);
    char path[900];
    path_of(path, sizeof path, "r/killed.csv");
    ck_assert_msg(access(path, F_OK) != 0, "a partial r/killed.csv was published");
    ck_assert_int_eq(run_np(2, args), 0);
    assert_same("r/plain.csv", "r/killed.csv");
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("dist");
    TCase *tc = tcase_create("mpi");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_entropy_mi_any_ranks);
    tcase_add_test(tc, test_estimate_any_ranks);
    tcase_add_test(tc, test_repeats_on_ranks);
    tcase_add_test(tc, test_run_any_ranks);
    tcase_add_test(tc, test_resume_v1_on_ranks);
    tcase_add_test(tc, test_run_rank0_fails);
    tcase_add_test(tc, test_rank_killed);
    suite_add_tcase(s, tc);
    return s;
}

/* mpirun from PATH, if executable. */
static int find_mpirun(void) {
    const char *path = getenv("PATH");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path ? path : "/usr/bin:/bin");
    for (char *dir = strtok(buf, ":"); dir; dir = strtok(NULL, ":")) {
        snprintf(mpirun, sizeof mpirun, "%s/mpirun", dir);
        if (access(mpirun, X_OK) == 0) return 1;
    }
    return 0;
}

int main(void) {
#ifndef IFLOW_HAVE_MPI
    printf("SKIP: this build has no MPI (install libopenmpi-dev, meson setup -Dmpi=enabled)\n");
    return 77;
#endif
    if (!find_mpirun()) {
        printf("SKIP: the build has MPI but no mpirun is on PATH (install openmpi-bin)\n");
        return 77;
    }
    /* Open MPI refuses root without these. */
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    return iflow_check_run(suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
