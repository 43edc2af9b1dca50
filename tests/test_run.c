/* Integration tests of a training run (src/run.c): exact resume after an interruption,
 * refusal of occupied or locked directories, divergence reporting. */
#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "infoflow/checkpoint.h"
#include "infoflow/config.h"
#include "infoflow/run.h"
#include "check_util.h"

static char tmpdir[256];

static void write_file(const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* 160 rows of 5 features, label = whether the sum of the first three exceeds the rest. */
static void write_data(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/data.csv", tmpdir);
    FILE *f = fopen(path, "w");
    iflow_rng r;
    iflow_rng_init(&r, 1, 1);
    fprintf(f, "# synthetic\n");
    for (int i = 0; i < 160; i++) {
        double v[5], s = 0;
        for (int j = 0; j < 5; j++) {
            v[j] = iflow_rng_uniform(&r);
            s += j < 3 ? v[j] : -1.5 * v[j];
            fprintf(f, "%.6f,", v[j]);
        }
        fprintf(f, "%d\n", s > 0);
    }
    fclose(f);
}

static void config(const char *name, const char *extra_train, const char *act) {
    char text[2048];
    snprintf(text, sizeof text,
             "[data]\nfile = data.csv\ntest_fraction = 0.25\n"
             "[net]\nlayers = 5,6,4,3,2\nactivation = %s\nbeta = 0.05\n"
             "[train]\noptimizer = adam\nlr = 0.01\nbatch = 32\nepochs = 6\nseed = 4\n%s"
             "[estimate]\nepochs = 2,6\nreplicas = 4\nmc = 2\nbins = szt30, 0.07\n"
             "[output]\ndir = unused\n",
             act, extra_train);
    write_file(name, text);
}

static int run(const char *cfg_name, const char *out, int resume, long stop_after,
               iflow_error *err) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, cfg_name);
    iflow_config cfg;
    int rc = iflow_config_load(path, &cfg, err);
    ck_assert_msg(rc == 0, "%s", err->msg);
    snprintf(cfg.out_dir, sizeof cfg.out_dir, "%s/%s", tmpdir, out);
    iflow_run_options o = {.resume = resume, .stop_after = stop_after};
    return iflow_run(&cfg, &o, err);
}

static char *slurp(const char *out, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s/%s", tmpdir, out, name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "missing %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = calloc((size_t)n + 1, 1);
    ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return buf;
}

/* metrics.csv without its last column (wall time differs between runs). */
static char *metrics_sans_time(const char *out) {
    char *s = slurp(out, "metrics.csv");
    char *w = s;
    for (char *p = s; *p; p++) {
        if (*p == '\n') {
            char *c = w;
            while (c > s && c[-1] != ',' && c[-1] != '\n') c--;
            if (c > s && c[-1] == ',') w = c - 1;
        }
        *w++ = *p;
    }
    *w = '\0';
    return s;
}

static void load_params(const char *out, long epoch, double **params, size_t *n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s/checkpoints/epoch-%06ld.ckpt", tmpdir, out, epoch);
    const size_t widths[] = {5, 6, 4, 3, 2};
    const double beta[] = {0.05, 0.05, 0.05};
    iflow_net *net;
    ck_assert_int_eq(iflow_net_new(5, widths, IFLOW_ACT_TANH, 0.01, beta, &net, NULL), 0);
    iflow_checkpoint_meta meta;
    iflow_error err = {0};
    ck_assert_msg(iflow_checkpoint_load(path, &meta, net, NULL, NULL, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(meta.epoch, epoch);
    *n = net->n_params;
    *params = malloc(*n * sizeof **params);
    memcpy(*params, net->params, *n * sizeof **params);
    iflow_net_free(net);
}

static void setup(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/iflow-run-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    write_data();
    config("run.ini", "", "tanh");
}

static void teardown(void) {
    iflow_rmtree(tmpdir);
}

START_TEST(test_resume_is_exact) {
    iflow_error err = {0};
    ck_assert_msg(run("run.ini", "full", 0, 0, &err) == 0, "%s", err.msg);
    /* Interrupted after 3 epochs, then resumed. */
    ck_assert_msg(run("run.ini", "split", 0, 3, &err) == 0, "%s", err.msg);
    ck_assert_msg(run("run.ini", "split", 1, 0, &err) == 0, "%s", err.msg);
    double *a, *b;
    size_t na, nb;
    load_params("full", 6, &a, &na);
    load_params("split", 6, &b, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert_int_eq(memcmp(a, b, na * sizeof *a), 0);
    free(a);
    free(b);
    char *ma = metrics_sans_time("full"), *mb = metrics_sans_time("split");
    ck_assert_str_eq(ma, mb);
    free(ma);
    free(mb);
    const char *logs[] = {"mi.csv", "binned.csv", "activations.csv", "scatter.csv"};
    for (int i = 0; i < 4; i++) {
        char *x = slurp("full", logs[i]), *y = slurp("split", logs[i]);
        ck_assert_msg(!strcmp(x, y), "%s differs after resume", logs[i]);
        free(x);
        free(y);
    }
}
END_TEST

/* A kill can leave a half-written row and lose the newest checkpoint: resume trims the logs
 * to the last good checkpoint and ends with the same files as an uninterrupted run. */
START_TEST(test_resume_after_torn_write) {
    iflow_error err = {0};
    ck_assert_msg(run("run.ini", "full", 0, 0, &err) == 0, "%s", err.msg);
    ck_assert_msg(run("run.ini", "torn", 0, 5, &err) == 0, "%s", err.msg);
    char path[512];
    snprintf(path, sizeof path, "%s/torn/checkpoints/epoch-000005.ckpt", tmpdir);
    ck_assert_int_eq(remove(path), 0);
    snprintf(path, sizeof path, "%s/torn/checkpoints/epoch-000004.ckpt", tmpdir);
    FILE *f = fopen(path, "r+b"); /* corrupt epoch 4 too: resume must fall back to epoch 3 */
    fseek(f, 40, SEEK_SET);
    fputc(0x5a, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/torn/metrics.csv", tmpdir);
    f = fopen(path, "a");
    fputs("6,0.5,0.", f); /* a row cut short */
    fclose(f);
    ck_assert_msg(run("run.ini", "torn", 1, 0, &err) == 0, "%s", err.msg);
    char *ma = metrics_sans_time("full"), *mb = metrics_sans_time("torn");
    ck_assert_str_eq(ma, mb);
    free(ma);
    free(mb);
    char *x = slurp("full", "mi.csv"), *y = slurp("torn", "mi.csv");
    ck_assert_str_eq(x, y);
    free(x);
    free(y);
}
END_TEST

START_TEST(test_refuses_occupied_or_locked_dir) {
    iflow_error err = {0};
    ck_assert_int_eq(run("run.ini", "a", 0, 2, &err), 0);
    ck_assert_int_ne(run("run.ini", "a", 0, 0, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "--resume"));
    char path[512];
    snprintf(path, sizeof path, "%s/a/.lock", tmpdir);
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
    ck_assert_int_eq(run("run.ini", "a", 1, 0, &err), IFLOW_EBUSY);
    close(fd);
    /* An output path that cannot be a directory fails before any work. */
    ck_assert_int_ne(run("run.ini", "data.csv/sub", 0, 0, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "data.csv"));
}
END_TEST

/* A run resumes after its data file moved (a re-cloned repository): the data count by content.
 * Changed data is refused. */
START_TEST(test_resume_after_data_moved) {
    iflow_error err = {0};
    ck_assert_msg(run("run.ini", "moved", 0, 2, &err) == 0, "%s", err.msg);
    char from[512], to[512];
    snprintf(from, sizeof from, "%s/data.csv", tmpdir);
    snprintf(to, sizeof to, "%s/data-moved.csv", tmpdir);
    ck_assert_int_eq(rename(from, to), 0);
    char *text = slurp(".", "run.ini");
    char *at = strstr(text, "file = data.csv");
    ck_assert_ptr_nonnull(at);
    char moved[2048];
    snprintf(moved, sizeof moved, "%.*sfile = data-moved.csv%s", (int)(at - text), text,
             at + strlen("file = data.csv"));
    write_file("moved.ini", moved);
    free(text);
    ck_assert_msg(run("moved.ini", "moved", 1, 0, &err) == 0, "%s", err.msg);
    /* Same path, other contents: refused. */
    FILE *f = fopen(to, "a");
    fputs("0.5,0.5,0.5,0.5,0.5,1\n", f);
    fclose(f);
    ck_assert_int_ne(run("moved.ini", "moved", 1, 0, &err), 0);
    ck_assert_msg(strstr(err.msg, "differ") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(test_divergence_names_epoch_and_layer) {
    config("diverge.ini", "", "linear");
    /* A linear net with a huge SGD step blows up within a few epochs. */
    char path[512];
    snprintf(path, sizeof path, "%s/diverge.ini", tmpdir);
    iflow_config cfg;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_config_load(path, &cfg, &err), 0);
    cfg.optim.kind = IFLOW_OPT_SGD;
    cfg.optim.lr = 1e6;
    snprintf(cfg.out_dir, sizeof cfg.out_dir, "%s/div", tmpdir);
    iflow_run_options o = {0};
    int rc = iflow_run(&cfg, &o, &err);
    ck_assert_int_eq(rc, IFLOW_ENUMERIC);
    ck_assert_msg(strstr(err.msg, "epoch") && strstr(err.msg, "layer"), "%s", err.msg);
}
END_TEST

int main(void) {
    Suite *s = suite_create("run");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_resume_is_exact);
    tcase_add_test(tc, test_resume_after_torn_write);
    tcase_add_test(tc, test_refuses_occupied_or_locked_dir);
    tcase_add_test(tc, test_divergence_names_epoch_and_layer);
    tcase_add_test(tc, test_resume_after_data_moved);
    suite_add_tcase(s, tc);
    int failed = iflow_check_run(s);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
