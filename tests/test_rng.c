/* Tests of iflow_rng: stream independence, uniform and normal distributions, shuffling. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "infoflow/rng.h"
#include "check_util.h"

START_TEST(test_same_seed_same_stream) {
    iflow_rng a, b, c;
    iflow_rng_init(&a, 42, 7);
    iflow_rng_init(&b, 42, 7);
    iflow_rng_init(&c, 42, 8);
    int differ = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t x = iflow_rng_u64(&a);
        ck_assert_uint_eq(x, iflow_rng_u64(&b));
        differ += x != iflow_rng_u64(&c);
    }
    ck_assert_int_ge(differ, 99);
}
END_TEST

START_TEST(test_uniform_moments) {
    iflow_rng r;
    iflow_rng_init(&r, 1, 0);
    const int n = 1000000;
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        double u = iflow_rng_uniform(&r);
        ck_assert(u > 0 && u < 1);
        s += u;
        s2 += u * u;
    }
    double mean = s / n, var = s2 / n - mean * mean;
    ck_assert_double_eq_tol(mean, 0.5, 5 * sqrt(1.0 / 12 / n));
    ck_assert_double_eq_tol(var, 1.0 / 12, 1e-3);
}
END_TEST

/* Kolmogorov-Smirnov test of the ziggurat against the normal CDF, plus the first four
 * moments: catches wrong tables, a broken tail or wedge branch. */
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

START_TEST(test_normal_distribution) {
    iflow_rng r;
    iflow_rng_init(&r, 2024, 3);
    const size_t n = 400000;
    double *x = malloc(n * sizeof *x);
    iflow_rng_fill_normal(&r, x, n, 1.0);
    double m1 = 0, m2 = 0, m4 = 0;
    size_t tail = 0;
    for (size_t i = 0; i < n; i++) {
        m1 += x[i];
        m2 += x[i] * x[i];
        m4 += x[i] * x[i] * x[i] * x[i];
        tail += fabs(x[i]) > 3.442619855899;
    }
    m1 /= n;
    m2 /= n;
    m4 /= n;
    ck_assert_double_eq_tol(m1, 0, 5 / sqrt((double)n));
    ck_assert_double_eq_tol(m2, 1, 5 * sqrt(2.0 / n));
    ck_assert_double_eq_tol(m4, 3, 5 * sqrt(96.0 / n));
    /* P(|Z| > R) = erfc(R / sqrt 2): the tail sampler must be used at the right rate. */
    double p_tail = erfc(3.442619855899 / sqrt(2.0));
    ck_assert_double_eq_tol((double)tail / n, p_tail, 5 * sqrt(p_tail / n));
    qsort(x, n, sizeof *x, cmp_double);
    double dmax = 0;
    for (size_t i = 0; i < n; i++) {
        double cdf = 0.5 * erfc(-x[i] / sqrt(2.0));
        double d1 = fabs(cdf - (double)i / n), d2 = fabs(cdf - (double)(i + 1) / n);
        dmax = fmax(dmax, fmax(d1, d2));
    }
    /* KS critical value at alpha = 0.001: 1.95 / sqrt(n). */
    ck_assert_double_lt(dmax, 1.95 / sqrt((double)n));
    free(x);
}
END_TEST

START_TEST(test_normal_scaling) {
    iflow_rng a, b;
    iflow_rng_init(&a, 5, 5);
    iflow_rng_init(&b, 5, 5);
    double x[64], y[64];
    iflow_rng_fill_normal(&a, x, 64, 0.25);
    for (int i = 0; i < 64; i++) y[i] = 1.0;
    iflow_rng_add_normal(&b, y, 64, 0.25);
    for (int i = 0; i < 64; i++) ck_assert_double_eq_tol(y[i], 1.0 + x[i], 1e-15);
}
END_TEST

START_TEST(test_below_and_shuffle) {
    iflow_rng r;
    iflow_rng_init(&r, 9, 0);
    int counts[7] = {0};
    for (int i = 0; i < 70000; i++) counts[iflow_rng_below(&r, 7)]++;
    for (int i = 0; i < 7; i++) ck_assert_int_gt(counts[i], 9500);
    size_t idx[100];
    int seen[100] = {0};
    for (size_t i = 0; i < 100; i++) idx[i] = i;
    iflow_rng_shuffle(&r, idx, 100);
    size_t moved = 0;
    for (size_t i = 0; i < 100; i++) {
        seen[idx[i]]++;
        moved += idx[i] != i;
    }
    for (int i = 0; i < 100; i++) ck_assert_int_eq(seen[i], 1);
    ck_assert_uint_gt(moved, 80);
}
END_TEST

int main(void) {
    Suite *s = suite_create("rng");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_same_seed_same_stream);
    tcase_add_test(tc, test_uniform_moments);
    tcase_add_test(tc, test_normal_distribution);
    tcase_add_test(tc, test_normal_scaling);
    tcase_add_test(tc, test_below_and_shuffle);
    suite_add_tcase(s, tc);
    int failed = iflow_check_run(s);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
