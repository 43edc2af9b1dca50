/* Tests of the INI configuration: shipped configs, every error class with its line number,
 * write/load round trips, the hash, and epoch specs. */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "infoflow/config.h"
#include "infoflow/entropy.h"
#include "check_util.h"

static char tmpdir[256];

static int make_tmpdir(void) {
    strcpy(tmpdir, "/tmp/iflow-config-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static void remove_tmpdir(void) { iflow_rmtree(tmpdir); }

/* Writes text to tmpdir/name; returns the path (static buffer). */
static const char *write_file(const char *name, const char *text) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

#define BASE_DATA  "[data]\nfile = data.csv\n"
#define BASE_NET   "[net]\nlayers = 4,3,2\n"
#define BASE_TRAIN "[train]\nepochs = 10\n"
#define BASE       BASE_DATA BASE_NET BASE_TRAIN /* lines 1-6 */

/* Loads text as tmpdir/c.ini; it must fail with code, and the message must contain
 * "c.ini:LINE:" (line > 0) or "c.ini: " (line 0) and the fragment want. */
static void expect_error(const char *text, int code, int line, const char *want) {
    iflow_config cfg;
    iflow_error err = {0};
    const char *path = write_file("c.ini", text);
    int rc = iflow_config_load(path, &cfg, &err);
    char where[64];
    if (line)
        snprintf(where, sizeof where, "c.ini:%d: ", line);
    else
        snprintf(where, sizeof where, "c.ini: ");
    ck_assert_msg(rc == code, "code %d, want %d: %s\n--\n%s", rc, code, err.msg, text);
    ck_assert_msg(strstr(err.msg, where), "'%s' lacks '%s'", err.msg, where);
    ck_assert_msg(strstr(err.msg, want), "'%s' lacks '%s'", err.msg, want);
}

static void load_ok(const char *text, iflow_config *cfg) {
    iflow_error err = {0};
    int rc = iflow_config_load(write_file("c.ini", text), cfg, &err);
    ck_assert_msg(rc == 0, "%s\n--\n%s", err.msg, text);
}

START_TEST(test_shipped_configs) {
    const char *src = getenv("IFLOW_SRCDIR");
    ck_assert_ptr_nonnull(src);
    const char *names[] = {"szt-tanh", "szt-relu", "quick"};
    for (int i = 0; i < 3; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/configs/%s.ini", src, names[i]);
        iflow_config cfg;
        iflow_error err = {0};
        ck_assert_msg(iflow_config_load(path, &cfg, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(iflow_config_validate(&cfg, &err), 0);
        size_t want[] = {12, 10, 7, 5, 4, 3, 2};
        ck_assert_uint_eq(cfg.n_widths, 7);
        for (int l = 0; l < 7; l++) ck_assert_uint_eq(cfg.widths[l], want[l]);
        ck_assert_int_eq(cfg.activation, i == 1 ? IFLOW_ACT_RELU : IFLOW_ACT_TANH);
        ck_assert_double_eq(cfg.beta, 0.005);
        ck_assert_double_eq(iflow_config_beta(&cfg, 3), 0.005);
        ck_assert_int_eq(cfg.optim.kind, IFLOW_OPT_ADAM);
        ck_assert_double_eq(cfg.optim.lr, 0.0004);
        ck_assert_uint_eq(cfg.batch, 256);
        ck_assert_int_eq(cfg.epochs, i == 2 ? 300 : 10000);
        ck_assert_str_eq(cfg.data_format, "csv");
        /* Relative paths are joined to the config's directory, so the files are found. */
        ck_assert_int_eq(access(cfg.data_file, R_OK), 0);
        ck_assert_int_eq(access(cfg.test_split, R_OK), 0);
        ck_assert_uint_eq(cfg.n_bins, 2);
        ck_assert_double_eq(cfg.bins[0], 0);
        ck_assert_double_eq(cfg.bins[1], 0.07);
        long *ep;
        size_t n;
        ck_assert_int_eq(iflow_epochs_expand(cfg.mi_epochs, cfg.epochs, &ep, &n, &err), 0);
        ck_assert_int_eq(ep[n - 1], cfg.epochs);
        if (i == 2) ck_assert_uint_eq(cfg.replicas, 20);
        free(ep);
    }
}
END_TEST

START_TEST(test_defaults_and_derived) {
    iflow_config cfg;
    load_ok(BASE, &cfg);
    ck_assert_int_eq(cfg.activation, IFLOW_ACT_TANH);
    ck_assert_int_eq(cfg.init, IFLOW_INIT_PYTORCH);
    ck_assert_double_eq(cfg.beta, 0);
    ck_assert_uint_eq(cfg.n_beta_layers, 0);
    ck_assert_int_eq(cfg.optim.kind, IFLOW_OPT_ADAM);
    ck_assert_double_eq(cfg.optim.lr, 1e-3);
    ck_assert_double_eq(cfg.optim.beta2, 0.999);
    ck_assert_str_eq(cfg.mi_epochs, "log:20");
    ck_assert_uint_eq(cfg.replicas, 100);
    /* The SP settings are the estimator's own defaults, as in `infoflow entropy` and Python. */
    iflow_sp_options sp;
    iflow_sp_options_default(&sp);
    ck_assert_uint_eq(cfg.mc, sp.mc);
    ck_assert_double_eq(cfg.tolerance, sp.tolerance);
    ck_assert_int_eq(cfg.noise_generator, sp.normals);
    ck_assert_uint_eq(cfg.mc, 1);
    ck_assert_double_eq(cfg.tolerance, 1e-6);
    ck_assert_int_eq(cfg.noise_generator, IFLOW_NORMALS_V2);
    ck_assert_uint_eq(cfg.repeats, 1);
    ck_assert_uint_eq(cfg.mi_seed, cfg.seed);
    ck_assert_str_eq(cfg.out_dir, "results/runs/c");
    ck_assert_str_eq(cfg.checkpoint_keep, "last"); /* the measured epochs and the last */
    ck_assert_int_eq(cfg.checkpoint_keep_given, 0);
    char want[600];
    snprintf(want, sizeof want, "%s/data.csv", tmpdir);
    ck_assert_str_eq(cfg.data_file, want);

    /* mi_seed follows the train seed unless given; the format follows the file name. */
    load_ok(BASE "seed = 7\n", &cfg);
    ck_assert_uint_eq(cfg.mi_seed, 7);
    load_ok(BASE "seed = 7\n[estimate]\nseed = 3\n", &cfg);
    ck_assert_uint_eq(cfg.mi_seed, 3);
    load_ok("[data]\nfile = /x/train-images-idx3-ubyte\nlabels = l\n" BASE_NET BASE_TRAIN, &cfg);
    ck_assert_str_eq(cfg.data_format, "idx");
    ck_assert_str_eq(cfg.data_file, "/x/train-images-idx3-ubyte");
    /* An inline comment is not part of the value. */
    load_ok(BASE "lr = 0.01 ; smaller\n[net]\n", &cfg);
    ck_assert_double_eq(cfg.optim.lr, 0.01);
    /* beta_layers may come before layers; it overrides beta per hidden layer. */
    load_ok("[net]\nbeta_layers = 0.1, 0.2\nbeta = 0.5\nlayers = 4,3,3,2\n" BASE_DATA BASE_TRAIN,
            &cfg);
    ck_assert_double_eq(iflow_config_beta(&cfg, 1), 0.1);
    ck_assert_double_eq(iflow_config_beta(&cfg, 2), 0.2);
}
END_TEST

START_TEST(test_errors_names_and_sections) {
    expect_error(BASE "[trian]\nlr = 0.1\n", IFLOW_EPARSE, 8, "did you mean [train]?");
    expect_error(BASE "[model]\nx = 1\n", IFLOW_EPARSE, 8, "unknown section [model]");
    expect_error("x = 1\n" BASE, IFLOW_EPARSE, 1, "outside any [section]");
    expect_error(BASE_DATA BASE_NET "bta = 0.1\n" BASE_TRAIN, IFLOW_EPARSE, 5,
                 "unknown key 'bta' in [net]; did you mean 'beta'?");
    expect_error(BASE_DATA BASE_NET "lr = 0.1\n" BASE_TRAIN, IFLOW_EPARSE, 5,
                 "it belongs in [train]");
    expect_error(BASE "[net]\nzzzzzz = 1\n", IFLOW_EPARSE, 8, "unknown key 'zzzzzz' in [net]");
    expect_error(BASE "seed = 1\nbatch = 3\nseed = 2\n", IFLOW_EPARSE, 9,
                 "duplicate key 'seed' in [train] (first on line 7)");
    expect_error(BASE "seed = 1\n  2\n", IFLOW_EPARSE, 8, "multi-line");
    expect_error(BASE "this line has no equals sign\n", IFLOW_EPARSE, 7, "syntax error");
    char longline[400] = BASE "[output]\ndir = ";
    memset(longline + strlen(longline), 'a', 250);
    strcat(longline, "\nplot_every = 1\n");
    expect_error(longline, IFLOW_EPARSE, 8, "line longer than");
    iflow_config cfg;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_config_load("/nonexistent/c.ini", &cfg, &err), IFLOW_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/c.ini"));
}
END_TEST

#define CNN_NET(layers) "[net]\ninput = 1x8x8\nlayers = " layers "\n" /* lines 3-5 */

/* Typed layers: every malformed architecture gets the line of [net] layers (or input). */
START_TEST(test_cnn_layers) {
    iflow_config cfg, back;
    load_ok(BASE_DATA CNN_NET("conv 4 3x3 pad 1 maxpool 2, conv 6 3x2 stride 2, dense 5, dense 3")
                BASE_TRAIN "[net]\nbeta_layers = 0.1,0.2,0.3\n",
            &cfg);
    /* 4x8x8 -> pool 4x4x4; (4 - 3) / 2 + 1 = 1 by (4 - 2) / 2 + 1 = 2 -> 6x1x2 */
    const size_t want[] = {64, 64, 12, 5, 3};
    ck_assert_uint_eq(cfg.n_widths, 5);
    for (int l = 0; l < 5; l++) ck_assert_uint_eq(cfg.widths[l], want[l]);
    ck_assert_uint_eq(cfg.n_blocks, 4);
    ck_assert_uint_eq(cfg.blocks[1].stride, 2);
    ck_assert_uint_eq(cfg.blocks[1].kw, 2);
    ck_assert_int_eq(cfg.blocks[0].pool, IFLOW_POOL_MAX);
    ck_assert_int_eq(cfg.layers_line, 5);
    iflow_net *net = NULL;
    iflow_error err = {0};
    /* The shipped CNN config: 1x28x28 -> 16x14x14 -> 32x7x7 -> 128 -> 10. */
    char shipped[1024];
    iflow_config fc;
    snprintf(shipped, sizeof shipped, "%s/configs/fashion-cnn.ini", getenv("IFLOW_SRCDIR"));
    ck_assert_msg(iflow_config_load(shipped, &fc, &err) == 0, "%s", err.msg);
    const size_t fw[] = {784, 3136, 1568, 128, 10};
    ck_assert_uint_eq(fc.n_widths, 5);
    for (int l = 0; l < 5; l++) ck_assert_uint_eq(fc.widths[l], fw[l]);
    ck_assert_int_eq(iflow_config_net(&cfg, &net, &err), 0);
    ck_assert_uint_eq(net->widths[2], 12);
    ck_assert_double_eq(net->beta[3], 0.3);
    iflow_net_free(net);
    /* Written and read back: the same architecture and hash; an MLP's hash ignores input. */
    char path[600];
    snprintf(path, sizeof path, "%s/w.ini", tmpdir);
    ck_assert_int_eq(iflow_config_write(&cfg, path, &err), 0);
    ck_assert_int_eq(iflow_config_load(path, &back, &err), 0);
    ck_assert_uint_eq(back.n_blocks, 4);
    ck_assert_uint_eq(iflow_config_hash(&back), iflow_config_hash(&cfg));
    load_ok(BASE_DATA CNN_NET("conv 4 3x3 pad 1 avgpool 2, dense 3") BASE_TRAIN, &back);
    ck_assert(iflow_config_hash(&back) != iflow_config_hash(&cfg));
    load_ok(BASE, &cfg);
    uint64_t mlp = iflow_config_hash(&cfg);
    load_ok(BASE_DATA "[net]\ninput = 2x1x2\nlayers = 4,3,2\n" BASE_TRAIN, &back);
    ck_assert_uint_eq(back.n_blocks, 0);
    ck_assert(iflow_config_hash(&back) != mlp);

    expect_error(BASE_DATA CNN_NET("conv 4 11x11, dense 3") BASE_TRAIN, IFLOW_EINVAL, 5,
                 "kernel 11x11 larger than the padded input 8x8");
    expect_error(BASE_DATA CNN_NET("conv 4 3x3 maxpool 7, dense 3") BASE_TRAIN, IFLOW_EINVAL, 5,
                 "output of size 0");
    expect_error(BASE_DATA CNN_NET("conv 4 3x3, conv 2 7x7, dense 3") BASE_TRAIN, IFLOW_EINVAL, 5,
                 "block 2");
    expect_error(BASE_DATA CNN_NET("conv 4 3x3 dilate 2, dense 3") BASE_TRAIN, IFLOW_EPARSE, 5,
                 "unexpected word 'dilate'");
    expect_error(BASE_DATA CNN_NET("conv 4 3x3, pool 2, dense 3") BASE_TRAIN, IFLOW_EPARSE, 5,
                 "unknown block 'pool'");
    expect_error(BASE_DATA CNN_NET("conv 4, dense 3") BASE_TRAIN, IFLOW_EPARSE, 5,
                 "missing number");
    expect_error(BASE_DATA CNN_NET("conv 4 3x, dense 3") BASE_TRAIN, IFLOW_EPARSE, 5,
                 "expected conv C KxK");
    expect_error(BASE_DATA CNN_NET("conv 4 3x3 pad, dense 3") BASE_TRAIN, IFLOW_EPARSE, 5, "pad P");
    expect_error(BASE_DATA CNN_NET("conv 4 3x3 pad 1 pad 2, dense 3") BASE_TRAIN, IFLOW_EPARSE, 5,
                 "unexpected word 'pad'");
    expect_error(BASE_DATA CNN_NET("conv 4 3x3 maxpool 2 avgpool 2, dense 3") BASE_TRAIN,
                 IFLOW_EPARSE, 5, "unexpected word 'avgpool'");
    expect_error(BASE_DATA CNN_NET("dense 3 4") BASE_TRAIN, IFLOW_EPARSE, 5, "nothing after");
    expect_error(BASE_DATA CNN_NET("conv 99999999 3x3, dense 3") BASE_TRAIN, IFLOW_EPARSE, 5,
                 "1..16777216");
    expect_error(BASE_DATA CNN_NET("conv 4096 3x3 pad 4000, dense 3") BASE_TRAIN, IFLOW_EINVAL, 5,
                 "larger than 2^24");
    expect_error(BASE_DATA CNN_NET("dense 5, conv 4 3x3") BASE_TRAIN, IFLOW_EINVAL, 5,
                 "last block must be dense");
    expect_error(BASE_DATA CNN_NET("conv 4 3x3, 5, dense 3") BASE_TRAIN, IFLOW_EPARSE, 5,
                 "unknown block '5'");
    expect_error(BASE_DATA "[net]\nlayers = conv 4 3x3, dense 3\n" BASE_TRAIN, IFLOW_EINVAL, 4,
                 "need [net] input = CxHxW");
    expect_error(BASE_DATA "[net]\ninput = 1x8\nlayers = dense 3\n" BASE_TRAIN, IFLOW_EPARSE, 4,
                 "expected CxHxW");
    expect_error(BASE_DATA "[net]\ninput = 2x2x2\nlayers = 4,3,2\n" BASE_TRAIN, IFLOW_EINVAL, 4,
                 "has 8 values but layers starts with 4");
    /* 16776682 x 16769306 x 65569 wraps around 2^64 to 1240132: refused as too large, in both
     * forms, never taken for the wrapped width. */
    ck_assert_uint_eq((size_t)16776682 * 16769306 * 65569, 1240132);
    expect_error(BASE_DATA
                 "[net]\ninput = 16776682x16769306x65569\nlayers = 1240132,2\n" BASE_TRAIN,
                 IFLOW_EINVAL, 4, "more than 16777216 (2^24) values");
    expect_error(
        BASE_DATA
        "[net]\ninput = 16776682x16769306x65569\nlayers = conv 2 1x1, dense 2\n" BASE_TRAIN,
        IFLOW_EINVAL, 4, "more than 16777216 (2^24) values");
    expect_error(BASE_DATA "[net]\ninput = 4096x4096x2\nlayers = dense 2\n" BASE_TRAIN,
                 IFLOW_EINVAL, 4, "more than 16777216 (2^24) values");
    expect_error(BASE_DATA CNN_NET("conv 4 3x3, dense 3") BASE_TRAIN "[net]\nbeta_layers = 1,2\n",
                 IFLOW_EINVAL, 9, "beta_layers has 2 entries but layers has 1 hidden");
}
END_TEST

START_TEST(test_errors_values) {
    expect_error(BASE "lr = 0.001x\n", IFLOW_EPARSE, 7, "[train] lr: malformed number '0.001x'");
    expect_error(BASE "batch = 12.5\n", IFLOW_EPARSE, 7, "malformed number");
    expect_error(BASE "batch =\n", IFLOW_EPARSE, 7, "malformed number");
    expect_error(BASE "seed = -3\n", IFLOW_EPARSE, 7, "malformed number");
    expect_error(BASE "lr = nan\n", IFLOW_EPARSE, 7, "malformed number");
    expect_error(BASE "lr = -1\n", IFLOW_EINVAL, 7, "[train] lr must be > 0, got -1");
    expect_error(BASE "momentum = 1\n", IFLOW_EINVAL, 7, "must be in [0, 1), got 1");
    expect_error(BASE "batch = 0\n", IFLOW_EINVAL, 7, "[train] batch must be >= 1, got 0");
    expect_error(BASE "noise_generator = v3\n", IFLOW_EINVAL, 7,
                 "[train] noise_generator: 'v3' is not allowed; use v1 or v2");
    expect_error(BASE "[estimate]\ninputs = -5\n", IFLOW_EINVAL, 8, "must be >= 0, got -5");
    expect_error(BASE "[estimate]\nthreads = 99999999999\n", IFLOW_EINVAL, 8, "threads");
    expect_error(BASE_DATA "test_fraction = 1\n" BASE_NET BASE_TRAIN, IFLOW_EINVAL, 3,
                 "test_fraction must be in [0, 1)");
    expect_error(BASE_DATA "[net]\nlayers = 4,0,2\n" BASE_TRAIN, IFLOW_EINVAL, 4, "width 0");
    expect_error(BASE_DATA "[net]\nlayers = 4\n" BASE_TRAIN, IFLOW_EINVAL, 4, "layers must list");
    expect_error(BASE_DATA "[net]\nlayers = 4,a,2\n" BASE_TRAIN, IFLOW_EPARSE, 4, "malformed");
    expect_error(BASE "[net]\nactivation = swish\n", IFLOW_EINVAL, 8, "'swish' is not allowed");
    expect_error(BASE "optimizer = rmsprop\n", IFLOW_EINVAL, 7, "rmsprop");
    expect_error(BASE "checkpoint_keep = every:0\n", IFLOW_EINVAL, 7, "checkpoint_keep");
    expect_error(BASE "[estimate]\nbins = szt30,-0.1\n", IFLOW_EINVAL, 8, "width > 0");
    expect_error(BASE "[estimate]\nbins = 1,2,3,4,5,6,7,8,9\n", IFLOW_EPARSE, 8, "at most 8");
    expect_error(BASE "[estimate]\nepochs = log:1\n", IFLOW_EINVAL, 8, "[estimate] epochs");
    expect_error(BASE "[estimate]\nresample = jackknife\n", IFLOW_EINVAL, 8, "none or bootstrap");
    expect_error(BASE "[estimate]\nepochs = 1,,5\n", IFLOW_EPARSE, 8, "[estimate] epochs");
    /* Missing required keys name the key (no line to point at). */
    expect_error(BASE_DATA BASE_NET "[train]\nlr = 0.1\n", IFLOW_EINVAL, 0,
                 "missing key [train] epochs");
    expect_error(BASE_NET BASE_TRAIN, IFLOW_EINVAL, 0, "missing key [data] file");
    expect_error(BASE_DATA BASE_TRAIN, IFLOW_EINVAL, 0, "missing key [net] layers");
}
END_TEST

/* Every count that sizes an allocation is capped, with file:line and the
 * allowed range (these once overflowed a size computation or started 100000 threads). */
START_TEST(test_errors_counts_that_size_allocations) {
    char want[128];
    expect_error(BASE "[estimate]\nreplicas = 4611686018427387904\n", IFLOW_EINVAL, 8,
                 "[estimate] replicas must be in [1, 1000000], got 4611686018427387904");
    expect_error(BASE "[estimate]\nmc = 4611686018427387904\n", IFLOW_EINVAL, 8,
                 "[estimate] mc must be in [1, 1000000]");
    expect_error(BASE "[estimate]\nmc = 18446744073709551615\n", IFLOW_EINVAL, 8,
                 "[estimate] mc: 18446744073709551615 is out of range");
    snprintf(want, sizeof want, "[estimate] threads must be in [0, %d], got 100000",
             IFLOW_MAX_THREADS);
    expect_error(BASE "[estimate]\nthreads = 100000\n", IFLOW_EINVAL, 8, want);
    expect_error(BASE_DATA BASE_NET "[train]\nepochs = 2305843009213693952\n", IFLOW_EINVAL, 6,
                 "[train] epochs must be in [1, 10000000]");
    expect_error(BASE "[output]\nrepeats = 1000000000\n", IFLOW_EINVAL, 8,
                 "[output] repeats must be in [1, 10000]");
    expect_error(BASE_DATA "[net]\nlayers = 4,99999999999,2\n" BASE_TRAIN, IFLOW_EINVAL, 4,
                 "width 99999999999 must be in [1, 16777216]");
    /* At the caps themselves: accepted. */
    iflow_config cfg;
    load_ok(BASE "[estimate]\nreplicas = 1000000\nmc = 1000000\nthreads = 1024\n", &cfg);
    ck_assert_uint_eq(cfg.replicas, IFLOW_MAX_REPLICAS);
    /* An epoch spec over more epochs than the cap is refused, not allocated. */
    long *ep = NULL;
    size_t n = 0;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_epochs_expand("all", 2305843009213693952L, &ep, &n, &err), IFLOW_EINVAL);
    ck_assert_ptr_null(ep);
    ck_assert_int_eq(iflow_epochs_expand("every:3", 2305843009213693952L, &ep, &n, &err),
                     IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "last epoch"));
}
END_TEST

/* A number beyond double or long long is "out of range", not "malformed". */
START_TEST(test_errors_out_of_range_numbers) {
    expect_error(BASE "[net]\nbeta = 1e400\n", IFLOW_EINVAL, 8,
                 "[net] beta: 1e400 is out of range (must be in [0, 1e+100])");
    expect_error(BASE "lr = -1e999\n", IFLOW_EINVAL, 7, "[train] lr: -1e999 is out of range");
    expect_error(BASE "batch = 99999999999999999999999\n", IFLOW_EINVAL, 7,
                 "[train] batch: 99999999999999999999999 is out of range");
    expect_error(BASE "[net]\nbeta_layers = 1e400\n", IFLOW_EINVAL, 8, "1e400 is out of range");
    expect_error(BASE "lr = 1e400x\n", IFLOW_EPARSE, 7, "malformed number");
}
END_TEST

/* Errors that need the whole file: reported at the line of the key at fault. */
START_TEST(test_errors_cross_field) {
    expect_error(BASE_DATA "[net]\nbeta_layers = 0.1\nlayers = 4,3,3,2\n" BASE_TRAIN, IFLOW_EINVAL,
                 4, "beta_layers has 1 entries but layers has 2 hidden layers");
    expect_error(BASE "[data]\nformat = idx\n", IFLOW_EINVAL, 8, "needs [data] labels");
    expect_error("[data]\nfile = train-idx3-ubyte\n" BASE_NET BASE_TRAIN, IFLOW_EINVAL, 2,
                 "needs [data] labels");
    expect_error(BASE "[data]\ntest_split = s.txt\ntest_file = t.csv\n", IFLOW_EINVAL, 9,
                 "not both");
    expect_error(BASE "[estimate]\nslice_dim = 2\nslices = 1\n", IFLOW_EINVAL, 9,
                 "slices must be >= 2");
    expect_error(BASE "[estimate]\ncluster_inputs = 10\ncluster_k = 10\n", IFLOW_EINVAL, 9,
                 "cluster_k = 10 needs cluster_inputs > cluster_k");
    /* What the measurements need is refused at load, before a run trains: 2 inputs at least,
     * and inputs x replicas x the widest hidden layer (a CNN's conv block here) checked. */
    expect_error(BASE "[estimate]\ninputs = 1\n", IFLOW_EINVAL, 8, "need at least 2 inputs");
    expect_error(BASE_DATA CNN_NET("conv 16 3x3 pad 1, dense 3") BASE_TRAIN
                 "[estimate]\ninputs = 1\n",
                 IFLOW_EINVAL, 9, "need at least 2 inputs");
    expect_error(BASE_DATA CNN_NET("conv 16 3x3 pad 1, dense 3") BASE_TRAIN
                 "[estimate]\ninputs = 100000000000\nreplicas = 1000\n",
                 IFLOW_EINVAL, 9, "x 1024 values of the widest hidden layer is too many");
    expect_error(BASE "[estimate]\nslice_dim = -1\n", IFLOW_EINVAL, 8,
                 "slice_dim must be in [0, 16777216], got -1");
    iflow_config cfg; /* inputs = 1 with no measured epoch is no one's concern */
    load_ok(BASE "[estimate]\ninputs = 1\nepochs = none\n", &cfg);
    load_ok(BASE "[estimate]\ninputs = 2\n", &cfg);
    load_ok(BASE, &cfg);
    ck_assert(cfg.slice_dim == 0 && cfg.slices == 16 && cfg.cluster_inputs == 2000 &&
              cfg.cluster_k == 10);
}
END_TEST

static void assert_same_config(const iflow_config *a, const iflow_config *b) {
    char real[PATH_MAX];
    ck_assert_ptr_nonnull(realpath(a->data_file, real));
    ck_assert_str_eq(real, b->data_file);
    ck_assert_ptr_nonnull(realpath(a->test_split, real));
    ck_assert_str_eq(real, b->test_split);
    ck_assert_str_eq(a->data_labels, b->data_labels);
    ck_assert_str_eq(a->test_file, b->test_file);
    ck_assert_str_eq(a->data_format, b->data_format);
    ck_assert(a->test_fraction == b->test_fraction && a->split_seed == b->split_seed &&
              a->max_rows == b->max_rows);
    ck_assert_uint_eq(a->n_widths, b->n_widths);
    ck_assert_mem_eq(a->widths, b->widths, a->n_widths * sizeof a->widths[0]);
    ck_assert(a->activation == b->activation && a->leaky_slope == b->leaky_slope &&
              a->beta == b->beta && a->init == b->init);
    ck_assert_uint_eq(a->n_beta_layers, b->n_beta_layers);
    for (size_t i = 0; i < a->n_beta_layers; i++) ck_assert(a->beta_layers[i] == b->beta_layers[i]);
    ck_assert_mem_eq(&a->optim, &b->optim, sizeof a->optim);
    ck_assert(a->batch == b->batch && a->epochs == b->epochs && a->seed == b->seed &&
              a->orthonormal == b->orthonormal && a->noise_generator == b->noise_generator);
    ck_assert_str_eq(a->checkpoint_keep, b->checkpoint_keep);
    ck_assert_str_eq(a->mi_epochs, b->mi_epochs);
    ck_assert(a->replicas == b->replicas && a->mc == b->mc && a->mi_inputs == b->mi_inputs &&
              a->tolerance == b->tolerance && a->mi_seed == b->mi_seed &&
              a->threads == b->threads && a->resample == b->resample);
    ck_assert(a->slice_dim == b->slice_dim && a->slices == b->slices &&
              a->cluster_inputs == b->cluster_inputs && a->cluster_k == b->cluster_k);
    ck_assert_uint_eq(a->n_bins, b->n_bins);
    for (size_t i = 0; i < a->n_bins; i++) ck_assert(a->bins[i] == b->bins[i]);
    ck_assert_str_eq(a->out_dir, b->out_dir);
    ck_assert(a->plot_every == b->plot_every && a->repeats == b->repeats);
}

START_TEST(test_round_trip) {
    write_file("data.csv", "0,1\n");
    write_file("split.txt", "0\n");
    iflow_config a, b;
    load_ok("[data]\nfile = data.csv\ntest_split = ./split.txt\ntest_fraction = 0.3\n"
            "max_rows = 17\nsplit_seed = 18446744073709551615\n"
            "[net]\nlayers = 12, 10, 7, 2\nactivation = leaky_relu\nleaky_slope = 0.2\n"
            "beta_layers = 0.1, 0.2\ninit = xavier\n"
            "[train]\noptimizer = sgd\nlr = 0.1\nmomentum = 0.9\nweight_decay = 1e-4\n"
            "batch = 32\nepochs = 77\nseed = 5\northonormal = 0.003\ncheckpoint_keep = log:5\n"
            "noise_generator = v2\n"
            "[estimate]\nepochs = 0, 5, 10\nreplicas = 3\nmc = 2\ninputs = 9\ntolerance = 0\n"
            "bins = 0.5, szt30, 0.07\nthreads = 2\nresample = bootstrap\n"
            "[output]\ndir = out/x\nplot_every = 4\nrepeats = 3\n",
            &a);
    /* Doubles with 17 significant digits must survive the text form exactly. */
    a.optim.lr = 0.1 + 0.2;
    a.beta_layers[1] = 1.0 / 3.0;
    a.tolerance = 5e-324;
    char out[600], out2[600];
    snprintf(out, sizeof out, "%s/effective.ini", tmpdir);
    snprintf(out2, sizeof out2, "%s/again.ini", tmpdir);
    iflow_error err = {0};
    ck_assert_msg(iflow_config_write(&a, out, &err) == 0, "%s", err.msg);
    ck_assert_msg(iflow_config_load(out, &b, &err) == 0, "%s", err.msg);
    assert_same_config(&a, &b);
    ck_assert_uint_eq(iflow_config_hash(&a), iflow_config_hash(&b));
    /* Writing the reloaded config gives the same bytes. */
    ck_assert_int_eq(iflow_config_write(&b, out2, &err), 0);
    char ta[4096] = {0}, tb[4096] = {0};
    FILE *f = fopen(out, "r");
    ck_assert_uint_lt(fread(ta, 1, sizeof ta - 1, f), sizeof ta - 1);
    fclose(f);
    f = fopen(out2, "r");
    fread(tb, 1, sizeof tb - 1, f);
    fclose(f);
    ck_assert_str_eq(ta, tb);
    /* No temporary file is left behind. */
    snprintf(out2, sizeof out2, "%s/effective.ini.tmp", tmpdir);
    ck_assert_int_ne(access(out2, F_OK), 0);
}
END_TEST

/* The effective config records data paths relative to its own directory, so a run directory
 * moved together with its data (a cloned repository) still finds them. */
START_TEST(test_written_paths_relative) {
    char dir[600], out[700], moved[600], path[800];
    snprintf(dir, sizeof dir, "%s/repo", tmpdir);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/repo/datasets", tmpdir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/repo/results", tmpdir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/repo/results/run", tmpdir);
    mkdir(path, 0755);
    write_file("repo/datasets/d.csv", "0,1\n1,0\n");
    iflow_config a, b;
    load_ok("[data]\nfile = repo/datasets/d.csv\n" BASE_NET BASE_TRAIN, &a);
    snprintf(out, sizeof out, "%s/repo/results/run/config.ini", tmpdir);
    iflow_error err = {0};
    ck_assert_msg(iflow_config_write(&a, out, &err) == 0, "%s", err.msg);
    char text[4096] = {0};
    FILE *f = fopen(out, "r");
    ck_assert_ptr_nonnull(f);
    fread(text, 1, sizeof text - 1, f);
    fclose(f);
    ck_assert_msg(strstr(text, "\nfile = ../../datasets/d.csv\n"), "%s", text);
    ck_assert_ptr_null(strstr(text, tmpdir));
    uint64_t h = iflow_config_hash(&a);
    snprintf(moved, sizeof moved, "%s/moved", tmpdir);
    ck_assert_int_eq(rename(dir, moved), 0);
    snprintf(out, sizeof out, "%s/moved/results/run/config.ini", tmpdir);
    ck_assert_msg(iflow_config_load(out, &b, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(access(b.data_file, R_OK), 0);
    ck_assert_uint_eq(iflow_config_hash(&b), h); /* the same data, by content */
}
END_TEST

/* Every run config in configs/ (all but the two experiment tools' own, exp-minimal* and
 * exp-estimators*) loads and validates, writes under results/runs/, and its data paths resolve
 * except Debian's Fashion-MNIST (a package the set-up installs) and the MNIST digits that
 * tools/fetch-mnist downloads. */
START_TEST(test_all_configs_load) {
    const char *src = getenv("IFLOW_SRCDIR");
    ck_assert_ptr_nonnull(src);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/configs", src);
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".ini") ||
            !strncmp(e->d_name, "exp-minimal", 11) || !strncmp(e->d_name, "exp-estimators", 14))
            continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        iflow_config cfg;
        iflow_error err = {0};
        ck_assert_msg(iflow_config_load(path, &cfg, &err) == 0, "%s", err.msg);
        ck_assert_msg(iflow_config_validate(&cfg, &err) == 0, "%s", err.msg);
        /* Fashion-MNIST is a Debian package, MNIST is fetched by tools/fetch-mnist */
        if (!strstr(e->d_name, "fashion") && !strstr(e->d_name, "mnist"))
            ck_assert_msg(access(cfg.data_file, R_OK) == 0, "%s: %s", e->d_name, cfg.data_file);
        /* Running a shipped config never writes into the committed results (tools/reproduce
         * passes --out results/NAME): its run directory is under the untracked results/runs/. */
        ck_assert_msg(!strncmp(cfg.out_dir, "results/runs/", 13), "%s: [output] dir = %s",
                      e->d_name, cfg.out_dir);
        n++;
    }
    closedir(d);
    ck_assert_int_ge(n, 17);
}
END_TEST

START_TEST(test_hash) {
    iflow_config a, b;
    load_ok(BASE, &a);
    uint64_t h = iflow_config_hash(&a);
    b = a;
    b.optim.lr = nextafter(a.optim.lr, 1);
    ck_assert_uint_ne(iflow_config_hash(&b), h);
    b = a;
    b.widths[1] = 4;
    ck_assert_uint_ne(iflow_config_hash(&b), h);
    b = a;
    b.seed = 2;
    ck_assert_uint_ne(iflow_config_hash(&b), h);
    b = a;
    strcpy(b.data_file, "/elsewhere.csv");
    ck_assert_uint_ne(iflow_config_hash(&b), h);
    /* A config that names no generator gets v2 (the default since it existed), which is
     * another run than v1; v1 hashes as before the key existed, whether named or not. */
    ck_assert_int_eq(a.noise_generator, IFLOW_NORMALS_V2);
    ck_assert_int_eq(a.noise_generator_given, 0);
    load_ok(BASE "noise_generator = v1\n", &b);
    ck_assert_int_eq(b.noise_generator_given, 1);
    uint64_t h1 = iflow_config_hash(&b);
    ck_assert_uint_ne(h1, h);
    b = a;
    b.noise_generator = IFLOW_NORMALS_V1;
    ck_assert_uint_eq(iflow_config_hash(&b), h1);
    /* Output, estimation and checkpoint retention do not change training results. */
    b = a;
    strcpy(b.out_dir, "somewhere/else");
    b.replicas = 7;
    b.threads = 1;
    b.mi_seed = 99;
    strcpy(b.mi_epochs, "all");
    strcpy(b.checkpoint_keep, "last");
    b.repeats = 4;
    b.resample = IFLOW_RESAMPLE_BOOTSTRAP; /* estimation only: checkpoints stay valid */
    b.slice_dim = 3;
    b.slices = 5;
    b.cluster_inputs = 0;
    b.cluster_k = 3;
    ck_assert_uint_eq(iflow_config_hash(&b), h);
}
END_TEST

START_TEST(test_validate_code_built) {
    iflow_config cfg;
    iflow_error err = {0};
    iflow_config_defaults(&cfg);
    ck_assert_int_eq(iflow_config_validate(&cfg, &err), IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "missing key [data] file"));
    strcpy(cfg.data_file, "x.csv");
    cfg.n_widths = 3;
    cfg.widths[0] = 2, cfg.widths[1] = 2, cfg.widths[2] = 2;
    cfg.epochs = 5;
    ck_assert_msg(iflow_config_validate(&cfg, &err) == 0, "%s", err.msg);
    cfg.optim.lr = 0;
    ck_assert_int_eq(iflow_config_validate(&cfg, &err), IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "[train] lr must be > 0"));
    cfg.optim.lr = 1e-3;
    cfg.n_beta_layers = 2;
    ck_assert_int_eq(iflow_config_validate(&cfg, &err), IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "beta_layers"));
    cfg.n_beta_layers = 0;
    cfg.widths[1] = 0;
    ck_assert_int_eq(iflow_config_validate(&cfg, &err), IFLOW_EINVAL);
    cfg.widths[1] = 2;
    strcpy(cfg.mi_epochs, "log:x");
    ck_assert_int_eq(iflow_config_validate(&cfg, &err), IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "[estimate] epochs"));
}
END_TEST

static void expect_epochs(const char *spec, long last, const long *want, size_t n_want) {
    long *e = NULL;
    size_t n = 99;
    iflow_error err = {0};
    ck_assert_msg(iflow_epochs_expand(spec, last, &e, &n, &err) == 0, "%s", err.msg);
    ck_assert_msg(n == n_want, "%s over %ld: %zu epochs, want %zu", spec, last, n, n_want);
    for (size_t i = 0; i < n; i++) ck_assert_int_eq(e[i], want[i]);
    free(e);
}

START_TEST(test_epoch_specs) {
    expect_epochs("none", 10, NULL, 0);
    expect_epochs("all", 4, (long[]){1, 2, 3, 4}, 4);
    expect_epochs("all", 0, NULL, 0);
    expect_epochs("every:3", 10, (long[]){3, 6, 9, 10}, 4);
    expect_epochs("every:5", 10, (long[]){5, 10}, 2);
    expect_epochs("every:50", 10, (long[]){10}, 1);
    expect_epochs("10, 0,5,5,200", 100, (long[]){0, 5, 10}, 3);
    expect_epochs("log:5", 1, (long[]){1}, 1);
    expect_epochs("log:3", 100, (long[]){1, 10, 100}, 3);
    const char *bad[] = {"every:0", "log:1", "log:", "abc", "1,,2", "-1", "", "3,", "every:2x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long *e = NULL;
        size_t n;
        iflow_error err = {0};
        ck_assert_msg(iflow_epochs_expand(bad[i], 10, &e, &n, &err) < 0, "'%s' accepted", bad[i]);
        ck_assert_ptr_nonnull(strstr(err.msg, bad[i]));
        ck_assert_ptr_null(e);
    }
    long *e;
    size_t n;
    ck_assert_int_eq(iflow_epochs_expand("all", -1, &e, &n, NULL), IFLOW_EINVAL);
}
END_TEST

/* log:100 over 9999 epochs: the authors' 84 distinct epochs; the set is recomputed here by
 * marking round(10^(j log10(9999) / 99)) for j = 0..99. */
START_TEST(test_epoch_spec_log) {
    long *e;
    size_t n;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_epochs_expand("log:100", 9999, &e, &n, &err), 0);
    ck_assert_uint_eq(n, 84);
    ck_assert_int_eq(e[0], 1);
    ck_assert_int_eq(e[n - 1], 9999);
    static char mark[10000];
    for (int j = 0; j < 100; j++) mark[(long)floor(pow(9999.0, j / 99.0) + 0.5)] = 1;
    size_t k = 0;
    for (long t = 0; t < 10000; t++)
        if (mark[t]) {
            ck_assert_uint_lt(k, n);
            ck_assert_int_eq(e[k++], t);
        }
    ck_assert_uint_eq(k, n);
    free(e);
}
END_TEST

int main(void) {
    if (make_tmpdir()) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_shipped_configs);
    tcase_add_test(tc, test_all_configs_load);
    tcase_add_test(tc, test_defaults_and_derived);
    tcase_add_test(tc, test_errors_names_and_sections);
    tcase_add_test(tc, test_errors_values);
    tcase_add_test(tc, test_errors_counts_that_size_allocations);
    tcase_add_test(tc, test_errors_out_of_range_numbers);
    tcase_add_test(tc, test_cnn_layers);
    tcase_add_test(tc, test_errors_cross_field);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_written_paths_relative);
    tcase_add_test(tc, test_hash);
    tcase_add_test(tc, test_validate_code_built);
    tcase_add_test(tc, test_epoch_specs);
    tcase_add_test(tc, test_epoch_spec_log);
    suite_add_tcase(s, tc);
    int failed = iflow_check_run(s);
    remove_tmpdir();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
