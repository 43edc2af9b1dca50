/* Tests of binned entropies: hand-computed cases, SZT edge conventions, distinct and
 * label-determined symbols, wide layers, and the errors for bad input. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infoflow/binning.h"
#include "infoflow/rng.h"
#include "check_util.h"

static const iflow_binning unit_width = {IFLOW_BIN_WIDTH, 1.0, 0.0};
static const iflow_binning szt = {IFLOW_BIN_SZT30, 0.0, 0.0};

static double bin_h(const double *x, size_t n, size_t d, const iflow_binning *b) {
    iflow_error err = {0};
    double h = -1;
    int rc = iflow_bin_entropy(x, n, d, b, &h, &err);
    ck_assert_msg(rc == 0, "iflow_bin_entropy failed: %s", err.msg);
    return h;
}

/* -sum p ln p of a histogram, straight from the definition. */
static double entropy_of_counts(const size_t *c, size_t m) {
    size_t n = 0;
    for (size_t i = 0; i < m; i++) n += c[i];
    double h = 0;
    for (size_t i = 0; i < m; i++)
        if (c[i]) h -= (double)c[i] / (double)n * log((double)c[i] / (double)n);
    return h;
}

START_TEST(test_hand_cases) {
    /* Two bins of two points: ln 2. */
    double a[] = {0.1, 0.9, 1.2, 1.99};
    ck_assert_double_eq_tol(bin_h(a, 4, 1, &unit_width), log(2.0), 1e-15);
    /* All in one bin: 0. */
    double b[] = {2.1, 2.5, 2.0, 2.999};
    ck_assert_double_eq_tol(bin_h(b, 4, 1, &unit_width), 0.0, 1e-15);
    /* Bins of sizes 1, 1, 2 on two columns: -(2 * 1/4 ln 1/4 + 1/2 ln 1/2) = 1.5 ln 2. Rows 0
     * and 1 differ only in column 1. */
    double c[] = {0.5, 0.5, 0.5, 1.5, 3.2, 0.1, 3.7, 0.9};
    ck_assert_double_eq_tol(bin_h(c, 4, 2, &unit_width), 1.5 * log(2.0), 1e-15);
    /* floor, not truncation: -0.1 and 0.1 are in bins -1 and 0. */
    double e[] = {-0.1, 0.1};
    ck_assert_double_eq_tol(bin_h(e, 2, 1, &unit_width), log(2.0), 1e-15);
    /* The origin shifts the edges: with origin 0.5, 0.6 and 1.4 share bin 0, 0.4 is in bin -1. */
    iflow_binning shifted = {IFLOW_BIN_WIDTH, 1.0, 0.5};
    double f[] = {0.6, 1.4, 0.4};
    size_t cf[] = {2, 1};
    ck_assert_double_eq_tol(bin_h(f, 3, 1, &shifted), entropy_of_counts(cf, 2), 1e-15);
    /* Width 0.25: 0, 0.2 in bin 0; 0.25, 0.3 in bin 1; 1.0 in bin 4. */
    iflow_binning quarter = {IFLOW_BIN_WIDTH, 0.25, 0.0};
    double g[] = {0.0, 0.2, 0.25, 0.3, 1.0};
    size_t cg[] = {2, 2, 1};
    ck_assert_double_eq_tol(bin_h(g, 5, 1, &quarter), entropy_of_counts(cg, 3), 1e-15);
}
END_TEST

/* np.linspace(-1, 1, 30): k * (2 / 29) + (-1), the last edge exactly 1. */
static void numpy_edges(double *edges) {
    double step = 2.0 / 29.0;
    for (int k = 0; k < 30; k++) edges[k] = (double)k * step + -1.0;
    edges[29] = 1.0;
}

START_TEST(test_szt_edges) {
    double edges[30];
    numpy_edges(edges);
    for (int k = 0; k < 30; k++) {
        /* np.digitize(v, edges) counts edges <= v: an edge value opens the bin to its right. */
        double below[] = {edges[k], nextafter(edges[k], -INFINITY)};
        ck_assert_double_eq_tol(bin_h(below, 2, 1, &szt), log(2.0), 1e-15);
        double above[] = {edges[k], nextafter(edges[k], INFINITY)};
        ck_assert_double_eq_tol(bin_h(above, 2, 1, &szt), 0.0, 1e-15);
    }
    /* Everything below -1 is bin 0, everything >= 1 is bin 30. */
    double low[] = {-5.0, -1.5, nextafter(-1.0, -INFINITY)};
    ck_assert_double_eq_tol(bin_h(low, 3, 1, &szt), 0.0, 1e-15);
    double high[] = {1.0, 3.0, 1e300};
    ck_assert_double_eq_tol(bin_h(high, 3, 1, &szt), 0.0, 1e-15);
    /* One value strictly inside each of the 31 bins: ln 31. */
    double inside[31];
    inside[0] = -2.0;
    for (int k = 1; k < 30; k++) inside[k] = 0.5 * (edges[k - 1] + edges[k]);
    inside[30] = 2.0;
    ck_assert_double_eq_tol(bin_h(inside, 31, 1, &szt), log(31.0), 1e-14);
}
END_TEST

START_TEST(test_distinct_rows) {
    const size_t n = 500, d = 5;
    double *x = malloc(n * d * sizeof *x);
    size_t *group = malloc(n * sizeof *group);
    iflow_rng rng;
    iflow_rng_init(&rng, 11, 0);
    for (size_t i = 0; i < n * d; i++) x[i] = 2 * iflow_rng_uniform(&rng) - 1;
    for (size_t i = 0; i < n; i++) group[i] = i;
    iflow_binning tiny = {IFLOW_BIN_WIDTH, 1e-9, 0.0};
    ck_assert_double_eq_tol(bin_h(x, n, d, &tiny), log((double)n), 1e-12);
    /* Grouping by input: H(Bin T | X) = 0, so I(X; Bin T) = H(Bin T) = ln n. */
    double h = 0, hc = 1;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_bin_grouped(x, n, d, &tiny, group, n, &h, &hc, &err), 0);
    ck_assert_double_eq_tol(h, log((double)n), 1e-12);
    ck_assert_double_eq_tol(hc, 0.0, 1e-12);
    /* Many integer-valued rows, one per bin: exercises table growth and probing. */
    const size_t big = 100000;
    double *y = malloc(big * sizeof *y);
    for (size_t i = 0; i < big; i++) y[i] = (double)((i * 7919) % big) - 50000.0;
    ck_assert_double_eq_tol(bin_h(y, big, 1, &unit_width), log((double)big), 1e-10);
    free(x);
    free(group);
    free(y);
}
END_TEST

START_TEST(test_label_determined) {
    /* Labels 0, 1, 2 with 30, 20, 10 rows; each label occupies its own set of bins (label y uses
     * bins 10y .. 10y + 3), so Bin T determines Y and I(Y; Bin T) = H(Y). */
    const size_t n = 60;
    double x[60];
    size_t y[60], label_count[3] = {0}, bin_count[40] = {0};
    for (size_t i = 0; i < n; i++) {
        y[i] = i < 30 ? 0 : i < 50 ? 1 : 2;
        size_t bin = 10 * y[i] + (i * 5) % 4;
        x[i] = (double)bin + 0.25 + 0.01 * (double)(i % 7);
        label_count[y[i]]++;
        bin_count[bin]++;
    }
    double h_y = entropy_of_counts(label_count, 3), h_t = entropy_of_counts(bin_count, 40);
    double h = 0, hc = 0;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_bin_grouped(x, n, 1, &unit_width, y, 3, &h, &hc, &err), 0);
    ck_assert_double_eq_tol(h, h_t, 1e-13);
    ck_assert_double_eq_tol(h - hc, h_y, 1e-13);
    /* Unused group ids do not change anything. */
    ck_assert_int_eq(iflow_bin_grouped(x, n, 1, &unit_width, y, 9, &h, &hc, &err), 0);
    ck_assert_double_eq_tol(h - hc, h_y, 1e-13);
    /* Labels independent of the bins: every bin holds one row of each of two labels, so
     * I(Y; Bin T) = 0 and h_cond = H(Bin T) - 0 = ln(n/2). */
    for (size_t i = 0; i < n; i++) {
        x[i] = (double)(i / 2) + 0.5;
        y[i] = i % 2;
    }
    ck_assert_int_eq(iflow_bin_grouped(x, n, 1, &unit_width, y, 2, &h, &hc, &err), 0);
    ck_assert_double_eq_tol(h, log((double)n / 2.0), 1e-13);
    ck_assert_double_eq_tol(h - hc, 0.0, 1e-13);
}
END_TEST

START_TEST(test_wide_rows) {
    /* 60 base rows of d = 300 values in (-1, 1), row i copied 1 + i % 5 times; then, for each
     * base row, one more row equal to it except in the last column, moved across an SZT edge.
     * Symbols differing only in column 299 must not merge. */
    const size_t d = 300, base = 60;
    size_t n = 0, counts[120];
    for (size_t i = 0; i < base; i++) n += 1 + i % 5;
    n += base;
    double *x = malloc(n * d * sizeof *x), *b = malloc(base * d * sizeof *b), edges[30];
    numpy_edges(edges);
    iflow_rng rng;
    iflow_rng_init(&rng, 3, 1);
    for (size_t i = 0; i < base * d; i++) b[i] = 1.8 * iflow_rng_uniform(&rng) - 0.9;
    size_t r = 0;
    for (size_t i = 0; i < base; i++) {
        counts[i] = 1 + i % 5;
        for (size_t c = 0; c < counts[i]; c++, r++) memcpy(x + r * d, b + i * d, d * sizeof *x);
    }
    for (size_t i = 0; i < base; i++, r++) {
        memcpy(x + r * d, b + i * d, d * sizeof *x);
        double v = b[i * d + d - 1];
        int k = 0;
        while (edges[k] <= v) k++; /* v < edges[k]: move it onto that edge */
        x[r * d + d - 1] = edges[k];
        counts[base + i] = 1;
    }
    ck_assert_double_eq_tol(bin_h(x, n, d, &szt), entropy_of_counts(counts, 2 * base), 1e-13);
    /* Row order does not matter: reverse the rows. */
    double *rev = malloc(n * d * sizeof *rev);
    for (size_t i = 0; i < n; i++) memcpy(rev + i * d, x + (n - 1 - i) * d, d * sizeof *x);
    ck_assert_double_eq_tol(bin_h(rev, n, d, &szt), entropy_of_counts(counts, 2 * base), 1e-13);
    free(x);
    free(b);
    free(rev);
}
END_TEST

START_TEST(test_errors) {
    iflow_error err = {0};
    double h = 0, hc = 0;
    double x[] = {0.1, 0.2, 0.3, NAN, 0.5, 0.6};
    ck_assert_int_eq(iflow_bin_entropy(x, 3, 2, &unit_width, &h, &err), IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "row 1"));
    ck_assert_ptr_nonnull(strstr(err.msg, "NaN"));
    x[3] = INFINITY;
    ck_assert_int_eq(iflow_bin_entropy(x, 3, 2, &szt, &h, &err), IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "row 1"));
    x[3] = 0.4;
    iflow_binning zero = {IFLOW_BIN_WIDTH, 0.0, 0.0}, neg = {IFLOW_BIN_WIDTH, -1.0, 0.0};
    ck_assert_int_eq(iflow_bin_entropy(x, 3, 2, &zero, &h, &err), IFLOW_EINVAL);
    ck_assert_int_eq(iflow_bin_entropy(x, 3, 2, &neg, &h, &err), IFLOW_EINVAL);
    ck_assert_int_eq(iflow_bin_entropy(x, 0, 2, &unit_width, &h, &err), IFLOW_EINVAL);
    /* A bin index beyond int64 is refused, not wrapped. */
    iflow_binning tiny = {IFLOW_BIN_WIDTH, 1e-300, 0.0};
    ck_assert_int_eq(iflow_bin_entropy(x, 3, 2, &tiny, &h, &err), IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "row 0"));
    size_t group[] = {0, 1, 2};
    ck_assert_int_eq(iflow_bin_grouped(x, 3, 2, &unit_width, group, 2, &h, &hc, &err),
                     IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "row 2"));
    ck_assert_int_eq(iflow_bin_grouped(x, 3, 2, &unit_width, group, 3, &h, &hc, &err), 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("binning");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_hand_cases);
    tcase_add_test(tc, test_szt_edges);
    tcase_add_test(tc, test_distinct_rows);
    tcase_add_test(tc, test_label_determined);
    tcase_add_test(tc, test_wide_rows);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    int failed = iflow_check_run(s);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
