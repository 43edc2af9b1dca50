/* Tests of the max-sliced information (sliced.h: iflow_maxsliced_grouped_mi) against the
 * Gaussian closed form, computed here: for S ~ N(0, C), max over k-dimensional orthonormal A of
 * I(S; A^T S + N(0, beta^2 I_k)) = (1/2) sum_{i<=k} ln(1 + lambda_i / beta^2). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infoflow/entropy.h"
#include "infoflow/rng.h"
#include "infoflow/sliced.h"
#include "check_util.h"

enum { D = 4, K = 2 };
static const double lambda[D] = {3.0, 1.5, 0.3, 0.1};

/* n samples of N(0, R diag(lambda) R^T), R a Haar rotation (so the top directions are no axes). */
static double *gaussian(size_t n, const double *rot, uint64_t seed) {
    iflow_rng r;
    iflow_rng_init(&r, seed, 1);
    double *s = calloc(n * D, sizeof *s);
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < D; c++) {
            double z = sqrt(lambda[c]) * iflow_rng_normal(&r);
            for (size_t row = 0; row < D; row++) s[i * D + row] += rot[row * D + c] * z;
        }
    return s;
}

START_TEST(test_gaussian_closed_form) {
    /* The fresh estimate at the optimum, over B independent sample sets, within 4 se (their
     * spread) of the closed form; the directions span the top-k eigenvectors. */
    const double beta = 1.0;
    double truth = 0;
    for (size_t i = 0; i < K; i++) truth += 0.5 * log(1 + lambda[i] / (beta * beta));
    double rot[D * D];
    iflow_error err = {0};
    ck_assert_int_eq(iflow_slice_basis(D, D, 77, 0, rot, &err), 0);
    enum { B = 4 };
    size_t n = 1000;
    double est[B], mean = 0, var = 0;
    size_t *g = malloc(n * sizeof *g);
    for (size_t i = 0; i < n; i++) g[i] = i;
    for (int b = 0; b < B; b++) {
        double *s = gaussian(n, rot, 10 + (uint64_t)b), dirs[D * K];
        iflow_sp_options o;
        iflow_sp_options_default(&o);
        o.beta = beta;
        o.mc = 4;
        o.seed = 3 + (uint64_t)b;
        o.tolerance = 1e-6;
        iflow_maxslice_options mo = {.dim = K, .starts = 3, .sweeps = 20, .seed = (uint64_t)b};
        iflow_maxsliced_estimate e;
        ck_assert_int_eq(iflow_maxsliced_grouped_mi(s, n, D, g, n, &o, &mo, dirs, &e, &err), 0);
        est[b] = e.mi.mi.value;
        mean += est[b] / B;
        /* orthonormal, and the projector onto span(dirs) near that onto the top-k eigenvectors */
        double gap = 0;
        for (size_t r = 0; r < D; r++)
            for (size_t c = 0; c < D; c++) {
                double pa = 0, pt = 0;
                for (size_t j = 0; j < K; j++) {
                    pa += dirs[r * K + j] * dirs[c * K + j];
                    pt += rot[r * D + j] * rot[c * D + j];
                }
                gap += (pa - pt) * (pa - pt);
            }
        ck_assert_double_lt(sqrt(gap), 0.25);
        for (size_t i = 0; i < K; i++)
            for (size_t j = 0; j < K; j++) {
                double dot = 0;
                for (size_t r = 0; r < D; r++) dot += dirs[r * K + i] * dirs[r * K + j];
                ck_assert_double_eq_tol(dot, i == j ? 1.0 : 0.0, 1e-12);
            }
        free(s);
    }
    for (int b = 0; b < B; b++) var += (est[b] - mean) * (est[b] - mean) / (B - 1);
    double se = sqrt(var / B);
    ck_assert_msg(fabs(mean - truth) <= 4 * se, "mean %g, truth %g, se %g", mean, truth, se);
    ck_assert_double_lt(se, 0.05);
    free(g);
}
END_TEST

START_TEST(test_above_random_slices_and_invariant) {
    /* The maximum is above the k-sliced average (which the low-variance directions pull down),
     * and the same for 1 and 2 threads, bit for bit. */
    double rot[D * D];
    iflow_error err = {0};
    ck_assert_int_eq(iflow_slice_basis(D, D, 5, 0, rot, &err), 0);
    size_t n = 600;
    double *s = gaussian(n, rot, 4);
    size_t *g = malloc(n * sizeof *g);
    for (size_t i = 0; i < n; i++) g[i] = i;
    iflow_sp_options o;
    iflow_sp_options_default(&o);
    o.beta = 1.0;
    o.mc = 4;
    o.threads = 1;
    iflow_maxslice_options mo = {.dim = K, .starts = 2, .sweeps = 10, .seed = 1};
    iflow_maxsliced_estimate e1, e2;
    double d1[D * K], d2[D * K];
    ck_assert_int_eq(iflow_maxsliced_grouped_mi(s, n, D, g, n, &o, &mo, d1, &e1, &err), 0);
    o.threads = 2;
    ck_assert_int_eq(iflow_maxsliced_grouped_mi(s, n, D, g, n, &o, &mo, d2, &e2, &err), 0);
    ck_assert(memcmp(&e1, &e2, sizeof e1) == 0 && memcmp(d1, d2, sizeof d1) == 0);
    iflow_slice_options so;
    iflow_slice_options_default(&so);
    so.dim = K;
    so.slices = 16;
    iflow_sliced_estimate sl;
    iflow_mi_estimate mean_slice;
    ck_assert_int_eq(iflow_sliced_grouped_mi2(s, n, D, g, n, NULL, 0, &o, &so, &mean_slice, NULL,
                                              &sl, NULL, &err),
                     0);
    /* both on the same samples (one per group: their total se is n/a): the slices' spread */
    ck_assert_int_eq(sl.est.se_kind, IFLOW_SE_NA);
    ck_assert_double_gt(e1.mi.mi.value, sl.est.value + 3 * sl.est.se_mc);
    mo.dim = D;
    ck_assert_int_eq(iflow_maxsliced_grouped_mi(s, n, D, g, n, &o, &mo, d1, &e1, &err),
                     IFLOW_EINVAL);
    free(s);
    free(g);
}
END_TEST

int main(void) {
    Suite *s = suite_create("maxsliced");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_gaussian_closed_form);
    tcase_add_test(tc, test_above_random_slices_and_invariant);
    suite_add_tcase(s, tc);
    int failed = iflow_check_run(s);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
