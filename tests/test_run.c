/* Integration tests of a training run (src/run/run.c): exact resume after an interruption,
 * refusal of occupied or locked directories, divergence reporting, repeats over seeds and their
 * aggregation. */
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
#include "infoflow/mi.h"
#include "infoflow/run.h"
#include "check_util.h"
#include "csvread.h"

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

/* Every checkpoint is kept (checkpoint_keep = all) unless extra_train names the key: the tests
 * load and damage checkpoints of any epoch. */
static void config_estimate(const char *name, const char *extra_train, const char *act,
                            const char *extra_estimate) {
    char text[2048];
    snprintf(text, sizeof text,
             "[data]\nfile = data.csv\ntest_fraction = 0.25\n"
             "[net]\nlayers = 5,6,4,3,2\nactivation = %s\nbeta = 0.05\n"
             "[train]\noptimizer = adam\nlr = 0.01\nbatch = 32\nepochs = 6\nseed = 4\n%s%s"
             "[estimate]\nepochs = 2,6\nreplicas = 4\nmc = 2\nbins = szt30, 0.07\n%s"
             "[output]\ndir = unused\n",
             act, extra_train,
             strstr(extra_train, "checkpoint_keep") ? "" : "checkpoint_keep = all\n",
             extra_estimate);
    write_file(name, text);
}

static void config(const char *name, const char *extra_train, const char *act) {
    config_estimate(name, extra_train, act, "");
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
    char *buf = iflow_read_file(path, NULL);
    ck_assert_msg(buf != NULL, "missing %s", path);
    return buf;
}

/* metrics.csv without its last column (wall time differs between runs). */
static char *metrics_sans_time(const char *out) {
    char *s = slurp(out, "metrics.csv");
    iflow_drop_last_column(s);
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

static void teardown(void) { iflow_rmtree(tmpdir); }

/* The value of column col in the row of f whose first two cells are (epoch, layer); NAN if none. */
static double cell_at(iflow_csv *f, const char *col, double epoch, double layer) {
    const double *e, *l, *v;
    ck_assert_int_eq(iflow_csv_numbers(f, f->header[0], &e, NULL), 0);
    ck_assert_int_eq(iflow_csv_numbers(f, f->header[1], &l, NULL), 0);
    ck_assert_int_eq(iflow_csv_numbers(f, col, &v, NULL), 0);
    for (size_t i = 0; i < f->n_rows; i++)
        if (e[i] == epoch && l[i] == layer) return v[i];
    return NAN;
}

/* repeats = 3: seeds 4, 5, 6 in DIR/seed-S, each the same as a single run with that seed, and
 * mi-mean.csv holding the mean and sd of their rows; resuming a finished set changes nothing. */
START_TEST(test_repeats_seeds_and_means) {
    char path[512];
    snprintf(path, sizeof path, "%s/run.ini", tmpdir);
    iflow_config cfg;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_config_load(path, &cfg, &err), 0);
    iflow_config single = cfg;
    cfg.repeats = 3;
    snprintf(cfg.out_dir, sizeof cfg.out_dir, "%s/rep", tmpdir);
    iflow_run_options o = {0};
    ck_assert_msg(iflow_run_repeats(&cfg, &o, &err) == 0, "%s", err.msg);
    single.seed = single.mi_seed = 5;
    snprintf(single.out_dir, sizeof single.out_dir, "%s/single5", tmpdir);
    ck_assert_msg(iflow_run(&single, &o, &err) == 0, "%s", err.msg);
    char *a = slurp("rep/seed-5", "mi.csv"), *b = slurp("single5", "mi.csv");
    ck_assert_str_eq(a, b);
    free(a), free(b);
    iflow_csv *seed[3], *mean;
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/rep/seed-%d/mi.csv", tmpdir, 4 + k);
        ck_assert_msg(iflow_csv_read(path, &seed[k], &err) == 0, "%s", err.msg);
    }
    snprintf(path, sizeof path, "%s/rep/mi-mean.csv", tmpdir);
    ck_assert_msg(iflow_csv_read(path, &mean, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(mean->n_rows, seed[0]->n_rows); /* 2 epochs x 3 layers */
    for (double l = 1; l <= 3; l++) {
        double v[3], m = 0, ss = 0;
        for (int k = 0; k < 3; k++) m += (v[k] = cell_at(seed[k], "I_XT", 6, l)) / 3;
        for (int k = 0; k < 3; k++) ss += (v[k] - m) * (v[k] - m);
        ck_assert(v[0] != v[1]); /* different seeds, different nets */
        ck_assert_double_eq_tol(cell_at(mean, "I_XT_mean", 6, l), m, 1e-8);
        ck_assert_double_eq_tol(cell_at(mean, "I_XT_sd", 6, l), sqrt(ss / 2), 1e-5 * sqrt(ss / 2));
        ck_assert_double_eq(cell_at(mean, "runs", 6, l), 3);
    }
    for (int k = 0; k < 3; k++) iflow_csv_free(seed[k]);
    iflow_csv_free(mean);
    char *before = slurp("rep", "mi-mean.csv"), *metrics = slurp("rep", "metrics-mean.csv");
    ck_assert_ptr_nonnull(strstr(metrics, "epoch,runs,train_loss_mean,train_loss_sd,"));
    char *info = slurp("rep", "info.csv");
    ck_assert_ptr_nonnull(strstr(info, "H_Y,"));
    free(info);
    ck_assert_int_ne(iflow_run_repeats(&cfg, &o, &err), 0); /* occupied without --resume */
    ck_assert_ptr_nonnull(strstr(err.msg, "seed-4"));
    o.resume = 1;
    ck_assert_msg(iflow_run_repeats(&cfg, &o, &err) == 0, "%s", err.msg);
    char *after = slurp("rep", "mi-mean.csv");
    ck_assert_str_eq(before, after);
    free(before), free(after), free(metrics);
}
END_TEST

/* Aggregation errors name the file (and line); a row present in one file only has runs = 1 and
 * no sd. */
START_TEST(test_aggregate_rows_and_errors) {
    write_file("a.csv", "epoch,layer,x\n1,1,2\n2,1,4\n");
    write_file("b.csv", "epoch,layer,x\n2,1,6\n1,1,,\n");
    write_file("c.csv", "epoch,layer,y\n1,1,2\n");
    write_file("d.csv", "epoch,layer,x\n1,1,two\n");
    write_file("e.csv", "epoch,layer,x\n1,1,3\n");
    char pa[512], pb[512], pc[512], pd[512], pe[512], out[512];
    snprintf(pa, sizeof pa, "%s/a.csv", tmpdir), snprintf(pb, sizeof pb, "%s/b.csv", tmpdir);
    snprintf(pc, sizeof pc, "%s/c.csv", tmpdir), snprintf(pd, sizeof pd, "%s/d.csv", tmpdir);
    snprintf(pe, sizeof pe, "%s/e.csv", tmpdir), snprintf(out, sizeof out, "%s/m.csv", tmpdir);
    iflow_error err = {0};
    const char *bad_cells[] = {pa, pb}; /* b.csv line 3 has 4 cells */
    ck_assert_int_ne(iflow_aggregate_csv(bad_cells, 2, 2, out, &err), 0);
    ck_assert_msg(strstr(err.msg, "b.csv:3"), "%s", err.msg);
    const char *hdr[] = {pa, pc};
    ck_assert_int_ne(iflow_aggregate_csv(hdr, 2, 2, out, &err), 0);
    ck_assert_msg(strstr(err.msg, "c.csv:1") && strstr(err.msg, "'y'"), "%s", err.msg);
    const char *num[] = {pa, pd};
    ck_assert_int_ne(iflow_aggregate_csv(num, 2, 2, out, &err), 0);
    ck_assert_msg(strstr(err.msg, "d.csv:2") && strstr(err.msg, "two"), "%s", err.msg);
    ck_assert_int_ne(access(out, F_OK), 0); /* nothing written on error */
    const char *ok[] = {pa, pe};
    ck_assert_msg(iflow_aggregate_csv(ok, 2, 2, out, &err) == 0, "%s", err.msg);
    char *m = slurp(".", "m.csv");
    ck_assert_str_eq(m, "epoch,layer,runs,x_mean,x_sd\n1,1,2,2.5,0.707107\n2,1,1,4,\n");
    free(m);
}
END_TEST

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

/* noise_generator = v2: the numbers move (it is live), are the same for 1 and 2 estimation
 * threads, resume exactly, and the run directory refuses a config with the other version. */
START_TEST(test_noise_generator_v2) {
    iflow_error err = {0};
    config_estimate("v2.ini", "noise_generator = v2\n", "tanh", "threads = 2\n");
    config_estimate("v2t1.ini", "noise_generator = v2\n", "tanh", "threads = 1\n");
    config("v1.ini", "noise_generator = v1\n", "tanh");
    ck_assert_msg(run("v1.ini", "v1", 0, 0, &err) == 0, "%s", err.msg);
    ck_assert_msg(run("v2.ini", "full", 0, 0, &err) == 0, "%s", err.msg);
    ck_assert_msg(run("v2t1.ini", "one", 0, 0, &err) == 0, "%s", err.msg);
    ck_assert_msg(run("v2.ini", "split", 0, 3, &err) == 0, "%s", err.msg);
    ck_assert_msg(run("v2.ini", "split", 1, 0, &err) == 0, "%s", err.msg);
    char *cfg = slurp("full", "config.ini");
    ck_assert_ptr_nonnull(strstr(cfg, "\nnoise_generator = v2\n"));
    free(cfg);
    char *mv1 = metrics_sans_time("v1"), *mv2 = metrics_sans_time("full");
    ck_assert_str_ne(mv1, mv2);
    free(mv1);
    free(mv2);
    const char *logs[] = {"mi.csv", "binned.csv", "activations.csv", "scatter.csv"};
    for (int i = 0; i < 4; i++) {
        char *x = slurp("full", logs[i]), *y = slurp("split", logs[i]), *z = slurp("one", logs[i]);
        ck_assert_msg(!strcmp(x, y), "%s differs after resume", logs[i]);
        ck_assert_msg(!strcmp(x, z), "%s differs between 1 and 2 threads", logs[i]);
        free(x);
        free(y);
        free(z);
    }
    /* The v1 config on the v2 run directory: another run. */
    ck_assert_int_ne(run("v1.ini", "full", 1, 0, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "full"));
    /* A config that names no generator makes a v2 run. */
    ck_assert_msg(run("run.ini", "default", 0, 0, &err) == 0, "%s", err.msg);
    char *md = metrics_sans_time("default"), *mf = metrics_sans_time("full");
    ck_assert_str_eq(md, mf);
    free(md);
    free(mf);
}
END_TEST

/* precision = float32: training moves (it is live), every parameter of a checkpoint is a float,
 * a run resumes bit for bit, and a float64 run directory refuses the float32 config. */
START_TEST(test_precision_float32) {
    iflow_error err = {0};
    config("f32.ini", "precision = float32\n", "tanh");
    ck_assert_msg(run("f32.ini", "full", 0, 0, &err) == 0, "%s", err.msg);
    ck_assert_msg(run("f32.ini", "split", 0, 3, &err) == 0, "%s", err.msg);
    ck_assert_msg(run("f32.ini", "split", 1, 0, &err) == 0, "%s", err.msg);
    ck_assert_msg(run("run.ini", "f64", 0, 0, &err) == 0, "%s", err.msg);
    char *cfg = slurp("full", "config.ini");
    ck_assert_ptr_nonnull(strstr(cfg, "\nprecision = float32\n"));
    free(cfg);
    double *a, *b, *c;
    size_t na, nb, nc;
    load_params("full", 6, &a, &na);
    load_params("split", 6, &b, &nb);
    load_params("f64", 6, &c, &nc);
    ck_assert_uint_eq(na, nb);
    ck_assert_int_eq(memcmp(a, b, na * sizeof *a), 0);
    size_t not_float = 0, same = 0;
    for (size_t i = 0; i < na; i++) {
        not_float += a[i] != (double)(float)a[i];
        same += a[i] == c[i];
    }
    ck_assert_uint_eq(not_float, 0);
    ck_assert_uint_lt(same, na / 10); /* the float64 run went elsewhere */
    free(a), free(b), free(c);
    const char *logs[] = {"metrics.csv", "mi.csv", "binned.csv", "activations.csv"};
    for (int i = 0; i < 4; i++) {
        char *x = i ? slurp("full", logs[i]) : metrics_sans_time("full");
        char *y = i ? slurp("split", logs[i]) : metrics_sans_time("split");
        ck_assert_msg(!strcmp(x, y), "%s differs after resume", logs[i]);
        free(x);
        free(y);
    }
    ck_assert_int_ne(run("f32.ini", "f64", 1, 0, &err), 0); /* another run */
    ck_assert_ptr_nonnull(strstr(err.msg, "f64"));
}
END_TEST

/* Removes the line "noise_generator = v1" from out/config.ini, as in a run directory written
 * before the key existed (config.hash is unchanged: v1 was never hashed). */
static void forget_generator(const char *out) {
    const char *key = "noise_generator = v1\n";
    char *text = slurp(out, "config.ini"), *line = strstr(text, key), name[256];
    ck_assert_ptr_nonnull(line);
    memmove(line, line + strlen(key), strlen(line + strlen(key)) + 1);
    snprintf(name, sizeof name, "%s/config.ini", out);
    write_file(name, text);
    free(text);
}

/* The default generator moved from v1 to v2: a v1 run, also one from before the key existed,
 * resumed with a config that names no generator goes on with v1 and ends as if never stopped;
 * its directory reads as v1 for `infoflow estimate`; a config naming v2 is another run. */
START_TEST(test_resume_keeps_v1) {
    iflow_error err = {0};
    config("v1.ini", "noise_generator = v1\n", "tanh");
    config("v2.ini", "noise_generator = v2\n", "tanh");
    ck_assert_msg(run("v1.ini", "full", 0, 0, &err) == 0, "%s", err.msg);
    ck_assert_msg(run("v1.ini", "old", 0, 3, &err) == 0, "%s", err.msg);
    forget_generator("old");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/old", tmpdir);
    iflow_config cfg;
    ck_assert_msg(iflow_run_load_config(dir, &cfg, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(cfg.noise_generator, IFLOW_NORMALS_V1);
    ck_assert_int_ne(run("v2.ini", "old", 1, 0, &err), 0);
    ck_assert_msg(run("run.ini", "old", 1, 0, &err) == 0, "%s", err.msg);
    char *x = metrics_sans_time("full"), *y = metrics_sans_time("old");
    ck_assert_str_eq(x, y);
    free(x);
    free(y);
    const char *logs[] = {"mi.csv", "binned.csv"};
    for (int i = 0; i < 2; i++) {
        x = slurp("full", logs[i]);
        y = slurp("old", logs[i]);
        ck_assert_msg(!strcmp(x, y), "%s differs after resume", logs[i]);
        free(x);
        free(y);
    }
    char *c = slurp("old", "config.ini"); /* now written with the key */
    ck_assert_ptr_nonnull(strstr(c, "\nnoise_generator = v1\n"));
    free(c);
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
    /* A figure of the user's own in --out (a PDF as the run writes them) is refused, kept. */
    snprintf(path, sizeof path, "%s/mine", tmpdir);
    ck_assert_int_eq(mkdir(path, 0777), 0);
    write_file("mine/summary.pdf", "my own figure\n");
    ck_assert_int_ne(run("run.ini", "mine", 0, 0, &err), 0);
    ck_assert_msg(strstr(err.msg, "summary.pdf") && strstr(err.msg, "refusing"), "%s", err.msg);
    char *kept = slurp("mine", "summary.pdf");
    ck_assert_str_eq(kept, "my own figure\n");
    free(kept);
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

/* Sum of column `fraction` of cosine_hist.csv rows for (epoch, layer, pairs); -1 if none. */
static double hist_mass(iflow_csv *f, double epoch, double layer, const char *pairs) {
    const double *e, *l, *v;
    int pc = iflow_csv_find(f, "pairs");
    ck_assert_int_ge(pc, 0);
    ck_assert_int_eq(iflow_csv_numbers(f, "epoch", &e, NULL), 0);
    ck_assert_int_eq(iflow_csv_numbers(f, "layer", &l, NULL), 0);
    ck_assert_int_eq(iflow_csv_numbers(f, "fraction", &v, NULL), 0);
    double sum = -1;
    for (size_t i = 0; i < f->n_rows; i++)
        if (e[i] == epoch && l[i] == layer && !strcmp(iflow_csv_str(f, i, pc), pairs))
            sum = (sum < 0 ? 0 : sum) + v[i];
    return sum;
}

/* slice_dim = 3: layer 1 (width 6) and 2 (width 4) are sliced, layer 3 (width 3) gets the
 * unsliced value (k >= d); clustering.csv has a row per layer and measured epoch, the cosine
 * histograms each sum to 1; a resume with slicing switched off is refused (other columns). */
START_TEST(test_sliced_columns_and_clustering) {
    const char *common = "[data]\nfile = data.csv\ntest_fraction = 0.25\n"
                         "[net]\nlayers = 5,6,4,3,2\nactivation = tanh\nbeta = 0.1\n"
                         "[train]\noptimizer = adam\nlr = 0.01\nbatch = 32\nepochs = 6\n"
                         "seed = 4\n[output]\ndir = unused\n[estimate]\nepochs = 2,6\n"
                         "replicas = 4\nmc = 2\ncluster_inputs = 100\ncluster_k = 5\n";
    char text[1024];
    snprintf(text, sizeof text, "%sslice_dim = 3\nslices = 6\n", common);
    write_file("sliced.ini", text);
    write_file("unsliced.ini", common);
    iflow_error err = {0};
    ck_assert_msg(run("sliced.ini", "sl", 0, 0, &err) == 0, "%s", err.msg);
    char path[512];
    iflow_csv *mi, *cl, *hist;
    snprintf(path, sizeof path, "%s/sl/mi.csv", tmpdir);
    ck_assert_int_eq(iflow_csv_read(path, &mi, NULL), 0);
    for (double e = 2; e <= 6; e += 4) {
        for (double l = 1; l <= 2; l++) {
            double i = cell_at(mi, "I_XT", e, l), is = cell_at(mi, "I_XT_sliced", e, l);
            double se = hypot(cell_at(mi, "I_XT_se", e, l), cell_at(mi, "I_XT_sliced_se", e, l));
            ck_assert_double_gt(is, 0);
            ck_assert_double_lt(is, i + 4 * se);
            ck_assert_double_eq(cell_at(mi, "slice_dim", e, l), 3);
            ck_assert_double_eq(cell_at(mi, "slices", e, l), 6);
        }
        ck_assert_double_eq(cell_at(mi, "I_XT_sliced", e, 3), cell_at(mi, "I_XT", e, 3));
        ck_assert_double_eq(cell_at(mi, "I_YT_sliced", e, 3), cell_at(mi, "I_YT", e, 3));
        ck_assert_double_eq(cell_at(mi, "slices", e, 3), 0);
    }
    iflow_csv_free(mi);
    snprintf(path, sizeof path, "%s/sl/clustering.csv", tmpdir);
    ck_assert_int_eq(iflow_csv_read(path, &cl, NULL), 0);
    ck_assert_uint_eq(cl->n_rows, 6);
    for (double l = 1; l <= 3; l++) {
        double s = cell_at(cl, "silhouette", 6, l), k = cell_at(cl, "knn_agreement", 6, l);
        ck_assert(s >= -1 && s <= 1 && k >= 0 && k <= 1);
        ck_assert_double_eq(cell_at(cl, "inputs", 6, l), 100);
    }
    iflow_csv_free(cl);
    snprintf(path, sizeof path, "%s/sl/cosine_hist.csv", tmpdir);
    ck_assert_int_eq(iflow_csv_read(path, &hist, NULL), 0);
    ck_assert_double_eq_tol(hist_mass(hist, 6, 2, "within"), 1.0, 1e-6);
    ck_assert_double_eq_tol(hist_mass(hist, 2, 3, "between"), 1.0, 1e-6);
    iflow_csv_free(hist);
    /* Interrupted, then resumed with slicing off: mi.csv has the sliced columns, refused. */
    ck_assert_msg(run("sliced.ini", "sl2", 0, 3, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(run("unsliced.ini", "sl2", 1, 0, &err), IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "mi.csv"));
    ck_assert_ptr_nonnull(strstr(err.msg, "slice_dim"));
    ck_assert_msg(run("sliced.ini", "sl2", 1, 0, &err) == 0, "%s", err.msg);
    char *x = slurp("sl", "mi.csv"), *y = slurp("sl2", "mi.csv");
    ck_assert_str_eq(x, y);
    free(x);
    free(y);
    x = slurp("sl", "cosine_hist.csv"), y = slurp("sl2", "cosine_hist.csv");
    ck_assert_str_eq(x, y);
    free(x);
    free(y);
    /* Re-measured from the checkpoints (infoflow estimate): the same mi.csv, sliced columns and
     * all; with slicing switched off, the plain layout. */
    char cfg_path[512], dir[512];
    snprintf(cfg_path, sizeof cfg_path, "%s/sliced.ini", tmpdir);
    snprintf(dir, sizeof dir, "%s/sl", tmpdir);
    iflow_config cfg;
    ck_assert_int_eq(iflow_config_load(cfg_path, &cfg, &err), 0);
    iflow_estimate_options eo = {.out_file = "again.csv"};
    iflow_mi_options_from_config(&cfg, &eo.mi);
    ck_assert_msg(iflow_run_estimate(dir, &eo, &err) == 0, "%s", err.msg);
    x = slurp("sl", "mi.csv"), y = slurp("sl", "again.csv");
    ck_assert_str_eq(x, y);
    free(x);
    free(y);
    eo.mi.slice_dim = 0;
    eo.out_file = "plain.csv";
    ck_assert_msg(iflow_run_estimate(dir, &eo, &err) == 0, "%s", err.msg);
    y = slurp("sl", "plain.csv");
    ck_assert_ptr_null(strstr(y, "sliced"));
    free(y);
}
END_TEST

/* ---- the run directory is sacred ---- */

static int estimate(const char *out, const char *epochs, const char *out_file, size_t layer,
                    iflow_error *err) {
    char d[512];
    snprintf(d, sizeof d, "%s/%s", tmpdir, out);
    iflow_config cfg;
    ck_assert_int_eq(iflow_run_load_config(d, &cfg, err), 0);
    iflow_estimate_options o = {.epochs = epochs, .out_file = out_file};
    iflow_mi_options_from_config(&cfg, &o.mi);
    if (layer) {
        o.mi.layer_mask_n = 1;
        o.mi.layers[0] = layer;
    }
    return iflow_run_estimate(d, &o, err);
}

static int exists(const char *out, const char *name) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s/%s", tmpdir, out, name);
    return access(path, F_OK) == 0;
}

static void copy_file(const char *from, const char *to) {
    char a[600], b[600], buf[65536];
    snprintf(a, sizeof a, "%s/%s", tmpdir, from);
    snprintf(b, sizeof b, "%s/%s", tmpdir, to);
    FILE *in = fopen(a, "rb"), *o = fopen(b, "wb");
    ck_assert(in && o);
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) ck_assert_uint_eq(fwrite(buf, 1, n, o), n);
    fclose(in);
    ck_assert_int_eq(fclose(o), 0);
}

/* --out may not name the run's own files or leave the directory; an estimate that selects
 * nothing (epochs beyond the run, layers beyond the net) fails before replacing anything. */
START_TEST(test_estimate_cannot_destroy) {
    iflow_error err = {0};
    ck_assert_msg(run("run.ini", "r", 0, 0, &err) == 0, "%s", err.msg);
    ck_assert_msg(estimate("r", "2", NULL, 0, &err) == 0, "%s", err.msg);
    const char *own[] = {"config.ini", "metrics.csv",     "config.hash", "mi.csv",
                         "log.txt",    "mi-estimate.csv", "info.csv"};
    char *before[7];
    for (int i = 0; i < 7; i++) before[i] = slurp("r", own[i]);
    const char *bad_out[] = {
        "config.ini", "metrics.csv",         "config.hash", "mi.csv", "../x.csv", "sub/x.csv",
        ".x.csv",     "binned-estimate.csv", "scatter.csv", "x.png",  ""};
    for (size_t i = 0; i < sizeof bad_out / sizeof *bad_out; i++) {
        ck_assert_int_eq(estimate("r", "6", bad_out[i], 0, &err), IFLOW_EINVAL);
        ck_assert_msg(strstr(err.msg, "--out"), "%s", err.msg);
    }
    ck_assert(!exists(".", "x.csv"));
    write_file("r/notes.csv", "my,own\n1,2\n");
    ck_assert_int_eq(estimate("r", "6", "notes.csv", 0, &err), IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "not an earlier estimate"));
    const char *nothing[] = {"99999", "7", "2,99999", "none"};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(estimate("r", nothing[i], NULL, 0, &err), IFLOW_EINVAL);
        ck_assert_msg(strstr(err.msg, "beyond") || strstr(err.msg, "no epoch"), "%s", err.msg);
    }
    ck_assert_int_eq(estimate("r", "6", NULL, 4, &err), IFLOW_EINVAL); /* 3 hidden layers */
    ck_assert_ptr_nonnull(strstr(err.msg, "not a hidden layer"));
    for (int i = 0; i < 7; i++) {
        char *after = slurp("r", own[i]);
        ck_assert_msg(!strcmp(before[i], after), "%s changed", own[i]);
        free(after);
        free(before[i]);
    }
    char *notes = slurp("r", "notes.csv");
    ck_assert_str_eq(notes, "my,own\n1,2\n");
    free(notes);
    /* A name of its own is written, and may be written again (it is an estimate's). */
    ck_assert_msg(estimate("r", "6", "mine.csv", 0, &err) == 0, "%s", err.msg);
    ck_assert_msg(estimate("r", "2", "mine.csv", 0, &err) == 0, "%s", err.msg);
}
END_TEST

/* A checkpoint is used only if it is this run's and of the epoch its name says. */
START_TEST(test_checkpoint_identity_checked) {
    iflow_error err = {0};
    ck_assert_msg(run("run.ini", "r", 0, 0, &err) == 0, "%s", err.msg);
    config("other.ini", "weight_decay = 0.001\n", "tanh");
    ck_assert_msg(run("other.ini", "o", 0, 0, &err) == 0, "%s", err.msg);
    copy_file("r/checkpoints/epoch-000006.ckpt", "six.ckpt");
    copy_file("r/checkpoints/epoch-000002.ckpt", "r/checkpoints/epoch-000006.ckpt");
    ck_assert_int_eq(estimate("r", "6", NULL, 0, &err), IFLOW_ECORRUPT);
    ck_assert_msg(strstr(err.msg, "holds epoch 2, not 6"), "%s", err.msg);
    copy_file("o/checkpoints/epoch-000006.ckpt", "r/checkpoints/epoch-000006.ckpt");
    ck_assert_int_eq(estimate("r", "6", NULL, 0, &err), IFLOW_ECORRUPT);
    ck_assert_msg(strstr(err.msg, "another run"), "%s", err.msg);
    /* Resume skips the foreign newest checkpoint and redoes epoch 6 from epoch 5. */
    ck_assert_msg(run("run.ini", "r", 1, 0, &err) == 0, "%s", err.msg);
    char *log = slurp("r", "log.txt");
    ck_assert_ptr_nonnull(strstr(log, "another run"));
    free(log);
    double *a, *b;
    size_t na, nb;
    load_params("r", 6, &a, &na);
    copy_file("six.ckpt", "r/checkpoints/epoch-000006.ckpt");
    load_params("r", 6, &b, &nb);
    ck_assert_int_eq(memcmp(a, b, na * sizeof *a), 0);
    free(a);
    free(b);
    /* No checkpoint loads: refused, not a fresh run over the old one. */
    for (int e = 0; e <= 6; e++) {
        char name[64];
        snprintf(name, sizeof name, "r/checkpoints/epoch-%06d.ckpt", e);
        if (exists(".", name)) write_file(name, "junk");
    }
    char *metrics = slurp("r", "metrics.csv");
    ck_assert_int_eq(run("run.ini", "r", 1, 0, &err), IFLOW_ECORRUPT);
    ck_assert_msg(strstr(err.msg, "refusing to start over"), "%s", err.msg);
    char *after = slurp("r", "metrics.csv");
    ck_assert_str_eq(metrics, after);
    free(metrics);
    free(after);
}
END_TEST

/* Resume never shortens a run, and a changed [estimate] epochs list (allowed) or thinned
 * checkpoints never cost measured rows. */
START_TEST(test_resume_keeps_what_was_measured) {
    iflow_error err = {0};
    ck_assert_msg(run("run.ini", "r", 0, 0, &err) == 0, "%s", err.msg);
    char *ini = slurp("r", "config.ini"), *mi = slurp("r", "mi.csv");
    char path[512];
    snprintf(path, sizeof path, "%s/run.ini", tmpdir);
    iflow_config cfg;
    ck_assert_int_eq(iflow_config_load(path, &cfg, &err), 0);
    snprintf(cfg.out_dir, sizeof cfg.out_dir, "%s/r", tmpdir);
    cfg.epochs = 4;
    iflow_run_options o = {.resume = 1};
    ck_assert_int_eq(iflow_run(&cfg, &o, &err), IFLOW_EINVAL);
    ck_assert_msg(strstr(err.msg, "shorten"), "%s", err.msg);
    char *ini2 = slurp("r", "config.ini");
    ck_assert_str_eq(ini, ini2);
    free(ini2);
    /* Extend to 8 epochs with a new list, keeping only the last checkpoint from now on. */
    cfg.epochs = 8;
    snprintf(cfg.mi_epochs, sizeof cfg.mi_epochs, "1,3,6,8");
    snprintf(cfg.checkpoint_keep, sizeof cfg.checkpoint_keep, "last");
    ck_assert_msg(iflow_run(&cfg, &o, &err) == 0, "%s", err.msg);
    char *mi2 = slurp("r", "mi.csv");
    ck_assert_msg(!strncmp(mi, mi2, strlen(mi)), "rows of epochs 2 and 6 changed:\n%s", mi2);
    iflow_csv *c = NULL;
    snprintf(path, sizeof path, "%s/r/mi.csv", tmpdir);
    ck_assert_int_eq(iflow_csv_read(path, &c, &err), 0);
    ck_assert_uint_eq(c->n_rows, 9); /* epochs 2, 6, 8: 3 hidden layers each */
    ck_assert(isfinite(cell_at(c, "I_XT", 8, 3)) && isnan(cell_at(c, "I_XT", 1, 1)));
    ck_assert(isfinite(cell_at(c, "h_T_se", 8, 1)) && cell_at(c, "h_T_se", 8, 1) > 0);
    iflow_csv_free(c);
    char *log = slurp("r", "log.txt");
    ck_assert_ptr_nonnull(strstr(log, "epoch 3 was not measured before"));
    free(log);
    free(ini);
    free(mi);
    free(mi2);
}
END_TEST

/* mi.csv of a new run has the total se, its Monte Carlo part, the bias and the saturation flags;
 * a run whose mi.csv has the layout before them resumes in that layout, with the Monte Carlo se
 * its earlier rows hold. */
START_TEST(test_mi_layouts) {
    iflow_error err = {0};
    char path[512];
    snprintf(path, sizeof path, "%s/run.ini", tmpdir);
    iflow_config cfg;
    ck_assert_int_eq(iflow_config_load(path, &cfg, &err), 0);
    snprintf(cfg.out_dir, sizeof cfg.out_dir, "%s/lay", tmpdir);
    cfg.epochs = 2;
    cfg.mi_bias = 1;
    snprintf(cfg.mi_epochs, sizeof cfg.mi_epochs, "1,2,3");
    iflow_run_options o = {0};
    ck_assert_msg(iflow_run(&cfg, &o, &err) == 0, "%s", err.msg);
    iflow_csv *c = NULL;
    snprintf(path, sizeof path, "%s/lay/mi.csv", tmpdir);
    ck_assert_int_eq(iflow_csv_read(path, &c, &err), 0);
    size_t new_cols = c->n_cols;
    for (double l = 1; l <= 3; l++) {
        double se = cell_at(c, "I_XT_se", 2, l), mc = cell_at(c, "I_XT_se_mc", 2, l);
        double kind = cell_at(c, "se_kind", 2, l);
        ck_assert(isfinite(mc) && mc > 0 && isfinite(cell_at(c, "I_XT_ceiling", 2, l)));
        ck_assert(cell_at(c, "I_XT_saturated", 2, l) == 0 ||
                  cell_at(c, "I_XT_saturated", 2, l) == 1);
        if (l == 1) { /* no noise before layer 1: exact samples, se = se_mc, no bias */
            ck_assert(kind == IFLOW_SE_EXACT && se == mc && cell_at(c, "I_XT_bias", 2, l) == 0);
        } else {
            ck_assert(kind == IFLOW_SE_TOTAL && isfinite(se) && se > 0);
            ck_assert(isfinite(cell_at(c, "I_XT_bias", 2, l)));
            ck_assert(isfinite(cell_at(c, "I_XT_given_Y_bias", 2, l)));
            ck_assert(isfinite(cell_at(c, "I_XT_given_Y_se_mc", 2, l)));
        }
    }
    iflow_csv_free(c);
    /* The older layout: the header and rows cut to the first 15 columns, then resumed. */
    char *mi = slurp("lay", "mi.csv"), *w = mi;
    for (char *line = mi; *line;) {
        char *end = strchr(line, '\n'), *q = line;
        for (int commas = 0; q < end && commas < 15; q++) commas += *q == ',';
        size_t keep = (size_t)(q - line) - (q < end ? 1 : 0);
        memmove(w, line, keep);
        w += keep;
        *w++ = '\n';
        line = end + 1;
    }
    *w = '\0';
    FILE *f = fopen(path, "w");
    fputs(mi, f);
    fclose(f);
    cfg.epochs = 3;
    o.resume = 1;
    ck_assert_msg(iflow_run(&cfg, &o, &err) == 0, "%s", err.msg);
    char *mi2 = slurp("lay", "mi.csv");
    ck_assert_msg(!strncmp(mi, mi2, strlen(mi)), "earlier rows changed:\n%s", mi2);
    ck_assert_int_eq(iflow_csv_read(path, &c, &err), 0);
    ck_assert_uint_eq(c->n_cols, 15);
    ck_assert_uint_lt(c->n_cols, new_cols);
    ck_assert(isfinite(cell_at(c, "I_XT_se", 3, 2)) && isfinite(cell_at(c, "h_T_se", 3, 2)));
    ck_assert_ptr_null(strstr(mi2, "I_XT_given_Y")); /* nor the conditional information */
    iflow_csv_free(c);
    free(mi);
    free(mi2);
}
END_TEST

/* mi.csv's I_XT_given_Y is I_XT - I_YT (the same draws, paired; up to the printed digits) and
 * >= 0, with an se (and its Monte Carlo part) below the two added. */
START_TEST(test_mi_conditional_column) {
    iflow_error err = {0};
    ck_assert_msg(run("run.ini", "c", 0, 0, &err) == 0, "%s", err.msg);
    iflow_csv *c = NULL;
    char path[512];
    snprintf(path, sizeof path, "%s/c/mi.csv", tmpdir);
    ck_assert_int_eq(iflow_csv_read(path, &c, &err), 0);
    for (double e = 2; e <= 6; e += 4)
        for (double l = 1; l <= 3; l++) {
            double ixt = cell_at(c, "I_XT", e, l), iyt = cell_at(c, "I_YT", e, l);
            double cond = cell_at(c, "I_XT_given_Y", e, l),
                   se = cell_at(c, "I_XT_given_Y_se", e, l);
            ck_assert_double_eq_tol(cond, ixt - iyt, 1e-8 * (1 + fabs(ixt)));
            ck_assert_double_ge(cond, 0);
            ck_assert(se > 0 && se <= cell_at(c, "I_XT_se", e, l) + cell_at(c, "I_YT_se", e, l));
            double mc = cell_at(c, "I_XT_given_Y_se_mc", e, l);
            ck_assert(mc > 0 && mc <= cell_at(c, "I_XT_se_mc", e, l) +
                                          cell_at(c, "I_YT_se_mc", e, l) + 1e-12);
        }
    iflow_csv_free(c);
}
END_TEST

/* [data] max_rows applies to CSV; a noise std too large to bin names the noise (class 7). */
START_TEST(test_max_rows_and_huge_noise) {
    write_file("max.ini", "[data]\nfile = data.csv\nmax_rows = 100\ntest_fraction = 0.25\n"
                          "[net]\nlayers = 5,3,2\nbeta = 0.05\n[train]\nepochs = 1\n"
                          "[estimate]\nepochs = none\n");
    iflow_error err = {0};
    ck_assert_msg(run("max.ini", "max", 0, 0, &err) == 0, "%s", err.msg);
    char *info = slurp("max", "info.csv");
    ck_assert_msg(strstr(info, "\nm,100\n"), "%s", info);
    free(info);
    write_file("loud.ini", "[data]\nfile = data.csv\n[net]\nlayers = 5,3,2\nbeta = 1e60\n"
                           "[train]\nepochs = 1\n[estimate]\nepochs = 1\nreplicas = 2\n");
    ck_assert_int_ne(run("loud.ini", "loud", 0, 0, &err), 0);
    ck_assert_msg(strstr(err.msg, "noise std beta = 1e+60"), "%s", err.msg);
}
END_TEST

/* 160 inputs, cluster_k = 200: the clustering measures cannot be defined; the run goes on
 * without them and says so in log.txt (the other logs as always). */
START_TEST(test_clustering_skipped_with_message) {
    write_file("bigk.ini", "[data]\nfile = data.csv\ntest_fraction = 0.25\n"
                           "[net]\nlayers = 5,6,4,3,2\nbeta = 0.05\n[train]\nepochs = 2\n"
                           "[estimate]\nepochs = 2\nreplicas = 2\ncluster_k = 200\n");
    iflow_error err = {0};
    ck_assert_msg(run("bigk.ini", "bigk", 0, 0, &err) == 0, "%s", err.msg);
    char *log = slurp("bigk", "log.txt");
    ck_assert_ptr_nonnull(
        strstr(log, "clustering measures skipped: 160 inputs, [estimate] cluster_k = 200"));
    free(log);
    char path[512];
    snprintf(path, sizeof path, "%s/bigk/clustering.csv", tmpdir);
    ck_assert_int_ne(access(path, F_OK), 0);
    free(slurp("bigk", "mi.csv"));
}
END_TEST

int main(void) {
    Suite *s = suite_create("run");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_resume_is_exact);
    tcase_add_test(tc, test_precision_float32);
    tcase_add_test(tc, test_noise_generator_v2);
    tcase_add_test(tc, test_resume_keeps_v1);
    tcase_add_test(tc, test_resume_after_torn_write);
    tcase_add_test(tc, test_refuses_occupied_or_locked_dir);
    tcase_add_test(tc, test_divergence_names_epoch_and_layer);
    tcase_add_test(tc, test_resume_after_data_moved);
    tcase_add_test(tc, test_repeats_seeds_and_means);
    tcase_add_test(tc, test_aggregate_rows_and_errors);
    tcase_add_test(tc, test_sliced_columns_and_clustering);
    tcase_add_test(tc, test_estimate_cannot_destroy);
    tcase_add_test(tc, test_checkpoint_identity_checked);
    tcase_add_test(tc, test_resume_keeps_what_was_measured);
    tcase_add_test(tc, test_mi_layouts);
    tcase_add_test(tc, test_mi_conditional_column);
    tcase_add_test(tc, test_max_rows_and_huge_noise);
    tcase_add_test(tc, test_clustering_skipped_with_message);
    suite_add_tcase(s, tc);
    int failed = iflow_check_run(s);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
