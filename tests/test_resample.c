/* Tests of the bootstrap resampling of the estimation inputs (src/estimators/resample.c) and of
 * `resample = bootstrap` in the per-epoch measurement (src/estimators/mi.c). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "infoflow/entropy.h"
#include "infoflow/mi.h"
#include "infoflow/net.h"
#include "infoflow/resample.h"
#include "infoflow/rng.h"
#include "infoflow/run.h"

/* Entropy (nats) of the weights counts[j] / m of a draw of m inputs. */
static double weights_entropy(const size_t *counts, size_t m) {
    double h = 0;
    for (size_t j = 0; j < m; j++)
        if (counts[j]) h -= (double)counts[j] / (double)m * log((double)counts[j] / (double)m);
    return h;
}

static double draw_entropy(const size_t *idx, size_t m) {
    size_t *counts = calloc(m, sizeof *counts);
    for (size_t i = 0; i < m; i++) counts[idx[i]]++;
    double h = weights_entropy(counts, m);
    free(counts);
    return h;
}

/* Ground truth by enumeration: all m^m equally likely draws for m = 1..6 (46,656 for m = 6);
 * mean and sd of their entropies must equal the pmf sums to rounding. */
START_TEST(test_moments_enumerated) {
    for (size_t m = 1; m <= 6; m++) {
        size_t total = 1, idx[6];
        for (size_t i = 0; i < m; i++) total *= m;
        double s = 0, s2 = 0;
        for (size_t code = 0; code < total; code++) {
            size_t c = code;
            for (size_t i = 0; i < m; i++, c /= m) idx[i] = c % m;
            double h = draw_entropy(idx, m);
            s += h;
            s2 += h * h;
        }
        double mean = s / (double)total, sd = sqrt(fmax(s2 / (double)total - mean * mean, 0));
        double e, sdev;
        ck_assert_int_eq(iflow_bootstrap_entropy(m, &e, &sdev, NULL), 0);
        ck_assert_msg(fabs(e - mean) < 1e-12, "m=%zu: E[H] %.15g, enumerated %.15g", m, e, mean);
        ck_assert_msg(fabs(sdev - sd) < 1e-7, "m=%zu: sd %.15g, enumerated %.15g", m, sdev, sd);
    }
    double e, sd;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_bootstrap_entropy(0, &e, &sd, &err), IFLOW_EINVAL);
}
END_TEST

/* m = 4096 (the 12-bit data set): the moments against 400 simulated multinomial draws. */
START_TEST(test_moments_simulated) {
    const size_t m = 4096, n = 400;
    double e, sd;
    ck_assert_int_eq(iflow_bootstrap_entropy(m, &e, &sd, NULL), 0);
    ck_assert(e < log((double)m) && sd > 0);
    size_t *idx = malloc(m * sizeof *idx);
    iflow_rng r;
    iflow_rng_init(&r, 2024, 5);
    double s = 0, s2 = 0;
    for (size_t k = 0; k < n; k++) {
        for (size_t i = 0; i < m; i++) idx[i] = (size_t)iflow_rng_below(&r, m);
        double h = draw_entropy(idx, m);
        s += h;
        s2 += h * h;
    }
    free(idx);
    double mean = s / (double)n, ssd = sqrt((s2 - (double)n * mean * mean) / (double)(n - 1));
    ck_assert_msg(fabs(mean - e) < 4 * sd / sqrt((double)n), "mean %g vs E[H] %g", mean, e);
    /* The sample sd of 400 near-normal values is within 20% of sd with overwhelming odds. */
    ck_assert_msg(fabs(ssd / sd - 1) < 0.2, "sample sd %g vs sd %g", ssd, sd);
}
END_TEST

/* One draw per (seed, epoch); labels and inputs travel together. */
START_TEST(test_draw) {
    const size_t m = 50, d = 3;
    double x[50 * 3];
    int y[50];
    for (size_t i = 0; i < m; i++) {
        for (size_t k = 0; k < d; k++) x[i * d + k] = (double)(i * 10 + k);
        y[i] = (int)(i % 7);
    }
    size_t a[50], b[50];
    iflow_bootstrap_indices(3, 9, m, a);
    iflow_bootstrap_indices(3, 9, m, b);
    ck_assert_mem_eq(a, b, sizeof a);
    iflow_bootstrap_indices(3, 10, m, b);
    ck_assert(memcmp(a, b, sizeof a) != 0);
    size_t distinct = 0, seen[50] = {0};
    for (size_t i = 0; i < m; i++) distinct += !seen[a[i]]++;
    ck_assert(distinct < m); /* P(a permutation) = 50!/50^50 */
    double *xb;
    int *yb;
    ck_assert_int_eq(iflow_bootstrap_draw(x, y, m, d, 3, 9, &xb, &yb, NULL), 0);
    for (size_t i = 0; i < m; i++) {
        ck_assert_int_eq(yb[i], y[a[i]]);
        ck_assert_mem_eq(xb + i * d, x + a[i] * d, d * sizeof *xb);
    }
    free(xb);
    free(yb);
}
END_TEST

/* A 6-6-3-2 tanh net (hidden layers 1, 2) on all 64 binary inputs of length 6 whose first layer
 * maps them to the corners +-tanh(2.5) of a cube (distance >= 1.97 = 197 beta apart): layer 1's
 * clusters do not overlap, so I(X;T_1) is the entropy of the input distribution, ln 64 under `none`
 * and the entropy of the draw's weights under `bootstrap`. */
typedef struct corners {
    iflow_net *net;
    double x[64 * 6];
    int y[64];
} corners;

static void corners_make(corners *c, double beta) {
    const size_t widths[] = {6, 6, 3, 2};
    double b[] = {beta, beta, beta};
    ck_assert_int_eq(iflow_net_new(4, widths, IFLOW_ACT_TANH, 0, b, &c->net, NULL), 0);
    iflow_rng r;
    iflow_rng_init(&r, 5, 0);
    iflow_net_init(c->net, IFLOW_INIT_XAVIER, &r);
    double *w1 = c->net->w[1], *b1 = c->net->b[1];
    for (size_t o = 0; o < 6; o++) {
        for (size_t i = 0; i < 6; i++) w1[o * 6 + i] = o == i ? 5.0 : 0.0;
        b1[o] = -2.5;
    }
    for (size_t i = 0; i < 64; i++) {
        for (size_t k = 0; k < 6; k++) c->x[i * 6 + k] = (double)((i >> k) & 1);
        c->y[i] = (int)(((i * 37) >> 2) & 1);
    }
}

static iflow_mi_options corner_options(iflow_resample resample) {
    iflow_mi_options o;
    memset(&o, 0, sizeof o);
    o.replicas = 4;
    o.mc = 16;
    o.tolerance = 0;
    o.seed = 17;
    o.n_bins = 1;
    o.resample = resample;
    return o;
}

START_TEST(test_layer1_lands_on_expected_entropy) {
    corners c;
    corners_make(&c, 0.01);
    const size_t m = 64, n_epochs = 24;
    double e, sd;
    ck_assert_int_eq(iflow_bootstrap_entropy(m, &e, &sd, NULL), 0);
    iflow_layer_info info[2];
    iflow_mi_options o = corner_options(IFLOW_RESAMPLE_NONE);
    ck_assert_int_eq(iflow_mi_measure(c.net, c.x, c.y, m, 2, 1, &o, info, NULL, NULL, NULL), 0);
    ck_assert_double_eq_tol(info[0].ixt.mi.value, log((double)m), 4 * info[0].ixt.mi.se + 1e-9);
    o = corner_options(IFLOW_RESAMPLE_BOOTSTRAP);
    double sum = 0, sum2 = 0;
    size_t idx[64];
    for (size_t ep = 1; ep <= n_epochs; ep++) {
        ck_assert_int_eq(
            iflow_mi_measure(c.net, c.x, c.y, m, 2, (long)ep, &o, info, NULL, NULL, NULL), 0);
        const iflow_mi_estimate *ixt = &info[0].ixt;
        /* Every epoch: the entropy of that epoch's weights, to rounding. Each drawn copy is a
         * query centre and, clusters being far apart, ln g_copy(t) - ln g(t) = ln(m / k) for an
         * input drawn k times; the se column is the spread of ln(m / k), not an error. */
        iflow_bootstrap_indices(o.seed, (long)ep, m, idx);
        double h_draw = draw_entropy(idx, m);
        ck_assert_msg(fabs(ixt->mi.value - h_draw) <= 1e-9,
                      "epoch %zu: I(X;T_1) %.9g, weights entropy %.9g", ep, ixt->mi.value, h_draw);
        sum += ixt->mi.value;
        sum2 += ixt->mi.value * ixt->mi.value;
    }
    /* Over epochs (independent draws): the mean lands on E[H] = ln m - E[k ln k] within 4 of
     * its standard errors sd / sqrt(n), and the spread on sd (the sample sd of 24 values is
     * within 60% of sd but with odds below 1e-4; the draws are seeded, so this never flakes). */
    double n = (double)n_epochs, mean = sum / n, tol = 4 * sd / sqrt(n);
    double ssd = sqrt((sum2 - n * mean * mean) / (n - 1));
    ck_assert_msg(fabs(mean - e) < tol, "mean %.6g vs E[H] %.6g (tol %.3g)", mean, e, tol);
    ck_assert_msg(fabs(ssd / sd - 1) < 0.6, "sd over epochs %.4g vs %.4g", ssd, sd);
    ck_assert(mean < log((double)m) - 3 * tol); /* and clearly below ln m */
    iflow_net_free(c.net);
}
END_TEST

/* bootstrap is exactly `none` measured on the drawn inputs: drawn before the replicas, the same
 * draw for every layer, every other stream untouched. */
START_TEST(test_bootstrap_is_none_on_draw) {
    corners c;
    corners_make(&c, 0.3);
    const size_t m = 64;
    const long epoch = 33;
    iflow_layer_info a[2], b[2];
    iflow_mi_options o = corner_options(IFLOW_RESAMPLE_BOOTSTRAP);
    ck_assert_int_eq(iflow_mi_measure(c.net, c.x, c.y, m, 2, epoch, &o, a, NULL, NULL, NULL), 0);
    double *xb;
    int *yb;
    ck_assert_int_eq(iflow_bootstrap_draw(c.x, c.y, m, 6, o.seed, epoch, &xb, &yb, NULL), 0);
    o.resample = IFLOW_RESAMPLE_NONE;
    ck_assert_int_eq(iflow_mi_measure(c.net, xb, yb, m, 2, epoch, &o, b, NULL, NULL, NULL), 0);
    for (size_t l = 0; l < 2; l++) {
        const iflow_estimate *ea[] = {&a[l].ixt.mi, &a[l].ixt.h, &a[l].ixt.h_cond, &a[l].iyt.mi,
                                      &a[l].iyt.h_cond};
        const iflow_estimate *eb[] = {&b[l].ixt.mi, &b[l].ixt.h, &b[l].ixt.h_cond, &b[l].iyt.mi,
                                      &b[l].iyt.h_cond};
        for (size_t k = 0; k < 5; k++)
            ck_assert_msg(ea[k]->value == eb[k]->value && ea[k]->se == eb[k]->se,
                          "layer %zu estimate %zu: %.17g %.17g vs %.17g %.17g", l + 1, k,
                          ea[k]->value, ea[k]->se, eb[k]->value, eb[k]->se);
        ck_assert(a[l].kde_lower == b[l].kde_lower && a[l].kde_upper == b[l].kde_upper);
        ck_assert(a[l].bins[0].h_clean == b[l].bins[0].h_clean &&
                  a[l].bins[0].i_y_noisy == b[l].bins[0].i_y_noisy);
    }
    o.resample = (iflow_resample)7;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_mi_measure(c.net, c.x, c.y, m, 2, epoch, &o, a, NULL, NULL, &err),
                     IFLOW_EINVAL);
    free(xb);
    free(yb);
    iflow_net_free(c.net);
}
END_TEST

/* ---- through a run directory and the CLI ---- */

static char tmpdir[256];

static char *slurp(const char *dir, const char *name) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *buf = iflow_read_file(path, NULL);
    ck_assert_msg(buf != NULL, "missing %s", path);
    return buf;
}

/* A 6-epoch run on 80 random rows, resample as given; returns the run directory (static). */
static const char *tiny_run(const char *name, const char *resample) {
    static char out[600];
    char path[600];
    snprintf(path, sizeof path, "%s/data.csv", tmpdir);
    FILE *f = fopen(path, "w");
    iflow_rng r;
    iflow_rng_init(&r, 3, 3);
    for (int i = 0; i < 80; i++) {
        double a = iflow_rng_uniform(&r), b = iflow_rng_uniform(&r);
        fprintf(f, "%.6f,%.6f,%.6f,%d\n", a, b, iflow_rng_uniform(&r), a > b);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/%s.ini", tmpdir, name);
    f = fopen(path, "w");
    fprintf(f,
            "[data]\nfile = data.csv\n[net]\nlayers = 3,5,3,2\nbeta = 0.05\n"
            "[train]\nepochs = 6\nlr = 0.01\nbatch = 16\n"
            "[estimate]\nepochs = 1,6\nreplicas = 4\nmc = 2\nresample = %s\n",
            resample);
    fclose(f);
    iflow_config cfg;
    iflow_error err = {0};
    ck_assert_msg(iflow_config_load(path, &cfg, &err) == 0, "%s", err.msg);
    snprintf(out, sizeof out, "%s/%s", tmpdir, name);
    snprintf(cfg.out_dir, sizeof cfg.out_dir, "%s", out);
    iflow_run_options o = {0};
    ck_assert_msg(iflow_run(&cfg, &o, &err) == 0, "%s", err.msg);
    return out;
}

static int cli(const char *args) {
    const char *bin = getenv("IFLOW_BIN");
    ck_assert_ptr_nonnull(bin);
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "'%s' %s >/dev/null 2>&1", bin, args);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The key is recorded in the effective config but not hashed (checkpoints stay valid); an
 * estimate with `none` rewrites the run's own mi.csv byte for byte, `bootstrap` (config or
 * --resample) gives the run's bootstrap rows, and the CLI refuses an unknown mode. */
START_TEST(test_run_and_cli) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/iflow_test_resample_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    char none_dir[600], boot_dir[600];
    snprintf(none_dir, sizeof none_dir, "%s", tiny_run("none", "none"));
    snprintf(boot_dir, sizeof boot_dir, "%s", tiny_run("boot", "bootstrap"));
    char *ini = slurp(boot_dir, "config.ini"), *h0 = slurp(none_dir, "config.hash");
    char *h1 = slurp(boot_dir, "config.hash");
    ck_assert_ptr_nonnull(strstr(ini, "\nresample = bootstrap\n"));
    ck_assert_str_eq(h0, h1);
    char *mi_none = slurp(none_dir, "mi.csv"), *mi_boot = slurp(boot_dir, "mi.csv");
    ck_assert_str_ne(mi_none, mi_boot);
    iflow_estimate_options o = {.out_file = "mi-none.csv"};
    iflow_config cfg;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_run_load_config(none_dir, &cfg, &err), 0);
    iflow_mi_options_from_config(&cfg, &o.mi);
    ck_assert_msg(iflow_run_estimate(none_dir, &o, &err) == 0, "%s", err.msg);
    char *est = slurp(none_dir, "mi-none.csv");
    ck_assert_str_eq(est, mi_none);
    char args[800];
    snprintf(args, sizeof args, "estimate '%s' --resample bootstrap --out mi-b.csv --quiet",
             none_dir);
    ck_assert_int_eq(cli(args), 0);
    char *est_b = slurp(none_dir, "mi-b.csv");
    ck_assert_str_eq(est_b, mi_boot);
    snprintf(args, sizeof args, "estimate '%s' --resample jackknife --quiet", none_dir);
    ck_assert_int_eq(cli(args), 2);
    free(ini), free(h0), free(h1), free(mi_none), free(mi_boot), free(est), free(est_b);
    iflow_rmtree(tmpdir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("resample");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_moments_enumerated);
    tcase_add_test(tc, test_moments_simulated);
    tcase_add_test(tc, test_draw);
    tcase_add_test(tc, test_layer1_lands_on_expected_entropy);
    tcase_add_test(tc, test_bootstrap_is_none_on_draw);
    tcase_add_test(tc, test_run_and_cli);
    suite_add_tcase(s, tc);
    return iflow_check_run(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
