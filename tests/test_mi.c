/* Tests of the per-epoch information measurement (src/estimators/mi.c) on random noisy tanh nets.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infoflow/entropy.h"
#include "infoflow/config.h"
#include "infoflow/mi.h"
#include "infoflow/net.h"
#include "check_util.h"

/* A random tanh net on m random binary inputs of dimension d0, labels from a random rule. */
typedef struct fixture {
    iflow_net *net;
    double *x;
    int *y;
    size_t m;
} fixture;

static fixture make(const size_t *widths, size_t n_widths, double beta, size_t m, uint64_t seed) {
    fixture f;
    double b[IFLOW_MAX_LAYERS];
    for (size_t i = 0; i < n_widths; i++) b[i] = beta;
    ck_assert_int_eq(iflow_net_new(n_widths, widths, IFLOW_ACT_TANH, 0, b, &f.net, NULL), 0);
    iflow_rng r;
    iflow_rng_init(&r, seed, 0);
    iflow_net_init(f.net, IFLOW_INIT_XAVIER, &r);
    /* Larger weights than the default init, so layers saturate a little as trained nets do. */
    for (size_t i = 0; i < f.net->n_params; i++) f.net->params[i] *= 2.0;
    f.m = m;
    f.x = malloc(m * widths[0] * sizeof *f.x);
    f.y = malloc(m * sizeof *f.y);
    for (size_t i = 0; i < m; i++) {
        double s = 0;
        for (size_t j = 0; j < widths[0]; j++) {
            f.x[i * widths[0] + j] = (double)(iflow_rng_u64(&r) & 1);
            s += f.x[i * widths[0] + j] * (double)(j + 1);
        }
        f.y[i] = ((long)s % 3) == 0;
    }
    return f;
}

static void release(fixture *f) {
    iflow_net_free(f->net);
    free(f->x);
    free(f->y);
}

static iflow_mi_options options(size_t replicas, size_t mc) {
    iflow_mi_options o;
    memset(&o, 0, sizeof o);
    o.replicas = replicas;
    o.mc = mc;
    o.tolerance = 0;
    o.seed = 11;
    o.n_bins = 2;
    o.bins[0] = 0;
    o.bins[1] = 0.07;
    return o;
}

/* Layer 1: I(X;T_1) = h(T_1) - H_c must lie between the pairwise bounds computed here with
 * naive loops, and agree with a brute-force SP estimate written independently in this test. */
START_TEST(test_layer1_bounds_and_bruteforce) {
    const size_t widths[] = {6, 3, 2};
    fixture f = make(widths, 3, 0.1, 64, 3);
    iflow_layer_info info[2];
    iflow_mi_options o = options(1, 64);
    ck_assert_int_eq(iflow_mi_measure(f.net, f.x, f.y, f.m, 2, 7, &o, info, NULL, NULL, NULL), 0);
    size_t d = 3, m = f.m;
    double beta = 0.1, hc = iflow_gaussian_entropy(d, beta);
    double *s = malloc(m * d * sizeof *s);
    ck_assert_int_eq(iflow_mi_clean_layer(f.net, f.x, m, 1, s, NULL), 0);
    double lo = 0, up = 0;
    for (size_t i = 0; i < m; i++) {
        double a = 0, b = 0;
        for (size_t j = 0; j < m; j++) {
            double dd = 0;
            for (size_t k = 0; k < d; k++) dd += pow(s[i * d + k] - s[j * d + k], 2);
            a += exp(-dd / (2 * beta * beta)) / (double)m;
            b += exp(-dd / (8 * beta * beta)) / (double)m;
        }
        up -= log(a) / (double)m;
        lo -= log(b) / (double)m;
    }
    const iflow_layer_info *l1 = &info[0];
    ck_assert(l1->has_sp && l1->has_bounds);
    ck_assert_double_eq_tol(l1->kde_lower, hc + lo, 1e-9);
    ck_assert_double_eq_tol(l1->kde_upper, hc + up, 1e-9);
    double ixt = l1->ixt.mi.value, se = l1->ixt.mi.se;
    ck_assert_double_ge(ixt + 4 * se, lo);
    ck_assert_double_le(ixt - 4 * se, up);
    ck_assert_double_eq_tol(l1->ixt.h_cond.value, hc, 1e-12);
    /* Brute force: h(g) by plain Monte Carlo from g with our own draws and libm exp. */
    iflow_rng r;
    iflow_rng_init(&r, 99, 1);
    const size_t draws = 20000;
    double sum = 0, sum2 = 0;
    for (size_t q = 0; q < draws; q++) {
        size_t i = iflow_rng_below(&r, m);
        double t[3];
        for (size_t k = 0; k < d; k++) t[k] = s[i * d + k] + beta * iflow_rng_normal(&r);
        double g = 0;
        for (size_t j = 0; j < m; j++) {
            double dd = 0;
            for (size_t k = 0; k < d; k++) dd += pow(t[k] - s[j * d + k], 2);
            g += exp(-dd / (2 * beta * beta));
        }
        double lg = log(g / (double)m) - 0.5 * (double)d * log(2 * M_PI * beta * beta);
        sum += -lg;
        sum2 += lg * lg;
    }
    double nd = (double)draws, h_bf = sum / nd, se_bf = sqrt((sum2 / nd - h_bf * h_bf) / nd);
    ck_assert_double_le(fabs(l1->ixt.h.value - h_bf), 4 * sqrt(se * se + se_bf * se_bf));
    free(s);
    release(&f);
}
END_TEST

/* Data processing: I(X;T_1) >= I(X;T_2) >= ... within error bars; I(Y;T) <= min(I(X;T), H(Y)). */
START_TEST(test_data_processing) {
    const size_t widths[] = {8, 6, 5, 4, 3, 2};
    fixture f = make(widths, 6, 0.1, 128, 5);
    iflow_layer_info info[4];
    iflow_mi_options o = options(16, 4);
    ck_assert_int_eq(iflow_mi_measure(f.net, f.x, f.y, f.m, 2, 1, &o, info, NULL, NULL, NULL), 0);
    size_t ones = 0;
    for (size_t i = 0; i < f.m; i++) ones += (size_t)f.y[i];
    double p = (double)ones / (double)f.m;
    double hy = -(p * log(p) + (1 - p) * log(1 - p));
    for (size_t l = 0; l < 4; l++) {
        const iflow_layer_info *li = &info[l];
        ck_assert_uint_eq(li->layer, l + 1);
        ck_assert(li->has_sp);
        double sx = li->ixt.mi.se, sy = li->iyt.mi.se;
        ck_assert_double_ge(li->ixt.mi.value, -4 * sx);
        ck_assert_double_le(li->ixt.mi.value, log((double)f.m) + 4 * sx);
        ck_assert_double_ge(li->iyt.mi.value, -4 * sy);
        ck_assert_double_le(li->iyt.mi.value, hy + 4 * sy);
        ck_assert_double_le(li->iyt.mi.value, li->ixt.mi.value + 4 * (sx + sy));
        if (l > 0) {
            double prev = info[l - 1].ixt.mi.value, sp = info[l - 1].ixt.mi.se;
            ck_assert_double_le(li->ixt.mi.value, prev + 4 * sqrt(sx * sx + sp * sp));
        }
        /* Binned entropies are entropies of at most m symbols. */
        for (size_t b = 0; b < li->n_bins; b++) {
            ck_assert_double_ge(li->bins[b].h_clean, 0);
            ck_assert_double_le(li->bins[b].h_clean, log((double)f.m) + 1e-12);
            ck_assert_double_le(li->bins[b].i_y_clean, hy + 1e-12);
        }
    }
    release(&f);
}
END_TEST

/* Same seed, same numbers, whatever the thread count. */
/* _i = normals version: v1 and v2 are each the same for 1 and 2 threads. */
START_TEST(test_reproducible_across_threads) {
    const size_t widths[] = {6, 5, 3, 2};
    fixture f = make(widths, 4, 0.05, 64, 8);
    iflow_layer_info a[2], b[2];
    iflow_mi_options o = options(8, 2);
    o.normals = (iflow_normals)_i;
    o.threads = 1;
    ck_assert_int_eq(iflow_mi_measure(f.net, f.x, f.y, f.m, 2, 3, &o, a, NULL, NULL, NULL), 0);
    o.threads = 2;
    ck_assert_int_eq(iflow_mi_measure(f.net, f.x, f.y, f.m, 2, 3, &o, b, NULL, NULL, NULL), 0);
    for (size_t l = 0; l < 2; l++) {
        ck_assert(a[l].ixt.mi.value == b[l].ixt.mi.value);
        ck_assert(a[l].iyt.mi.value == b[l].iyt.mi.value);
        ck_assert(a[l].ixt.mi.se == b[l].ixt.mi.se);
    }
    /* A different epoch draws different noise. */
    ck_assert_int_eq(iflow_mi_measure(f.net, f.x, f.y, f.m, 2, 4, &o, b, NULL, NULL, NULL), 0);
    ck_assert(a[1].ixt.mi.value != b[1].ixt.mi.value);
    /* The other version draws other noise: the version reaches the draws. */
    o.normals = (iflow_normals)(1 - _i);
    ck_assert_int_eq(iflow_mi_measure(f.net, f.x, f.y, f.m, 2, 3, &o, b, NULL, NULL, NULL), 0);
    ck_assert(a[1].ixt.mi.value != b[1].ixt.mi.value);
    /* [train] noise_generator reaches the options that `infoflow estimate` builds. */
    iflow_config cfg;
    iflow_config_defaults(&cfg);
    cfg.noise_generator = (iflow_normals)_i;
    iflow_mi_options_from_config(&cfg, &o);
    ck_assert_int_eq(o.normals, _i);
    release(&f);
}
END_TEST

/* Drawing around one replica per input estimates the same quantity as drawing around all:
 * agreement within the two standard errors, and a larger (honest) standard error. */
START_TEST(test_query_subsample) {
    const size_t widths[] = {6, 5, 3, 2};
    fixture f = make(widths, 4, 0.1, 96, 13);
    iflow_layer_info all[2], sub[2];
    iflow_mi_options o = options(16, 2);
    ck_assert_int_eq(iflow_mi_measure(f.net, f.x, f.y, f.m, 2, 1, &o, all, NULL, NULL, NULL), 0);
    o.queries_per_input = 2;
    ck_assert_int_eq(iflow_mi_measure(f.net, f.x, f.y, f.m, 2, 1, &o, sub, NULL, NULL, NULL), 0);
    for (size_t l = 0; l < 2; l++) {
        double a = all[l].ixt.mi.value, b = sub[l].ixt.mi.value;
        double sa = all[l].ixt.mi.se, sb = sub[l].ixt.mi.se;
        ck_assert_double_le(fabs(a - b), 4 * sqrt(sa * sa + sb * sb) + 1e-9);
        if (l == 1) ck_assert_double_gt(sb, sa);
        ck_assert(a != b || l == 0);
    }
    release(&f);
}
END_TEST

/* A deterministic net (beta = 0): no SP numbers, binned ones only. */
START_TEST(test_deterministic_net) {
    const size_t widths[] = {6, 4, 2};
    fixture f = make(widths, 3, 0.0, 32, 2);
    iflow_layer_info info[1];
    iflow_mi_options o = options(4, 2);
    ck_assert_int_eq(iflow_mi_measure(f.net, f.x, f.y, f.m, 2, 0, &o, info, NULL, NULL, NULL), 0);
    ck_assert(!info[0].has_sp);
    ck_assert_double_gt(info[0].bins[0].h_clean, 0);
    release(&f);
}
END_TEST

int main(void) {
    Suite *s = suite_create("mi");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_layer1_bounds_and_bruteforce);
    tcase_add_test(tc, test_data_processing);
    tcase_add_loop_test(tc, test_reproducible_across_threads, IFLOW_NORMALS_V1,
                        IFLOW_NORMALS_COUNT);
    tcase_add_test(tc, test_deterministic_net);
    tcase_add_test(tc, test_query_subsample);
    suite_add_tcase(s, tc);
    int failed = iflow_check_run(s);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
