/* Tests of the k-d tree (ball and nearest-neighbour queries against brute force) and of the
 * Kozachenko-Leonenko entropy estimator against closed forms. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infoflow/entropy.h"
#include "infoflow/rng.h"
#include "kdtree.h"
#include "check_util.h"

static double *normal_points(size_t n, size_t d, double std, uint64_t seed) {
    iflow_rng r;
    iflow_rng_init(&r, seed, 1);
    double *x = malloc(n * d * sizeof *x);
    iflow_rng_fill_normal(&r, x, n * d, std);
    return x;
}

static double dist2(const double *a, const double *b, size_t d) {
    double s = 0;
    for (size_t c = 0; c < d; c++) s += (a[c] - b[c]) * (a[c] - b[c]);
    return s;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

START_TEST(test_tree_queries) {
    size_t n = 3000, d = 3;
    double *x = normal_points(n, d, 1.0, 4);
    /* Coarse coordinates make exact ties and duplicate points, the split's hard cases. */
    for (size_t i = 0; i < n * d; i++) x[i] = round(x[i] * 4) / 4;
    size_t leaves[3] = {1, 7, 32};
    for (int l = 0; l < 3; l++) {
        iflow_kdtree *t = iflow_kdtree_new(x, n, d, leaves[l]);
        ck_assert_ptr_nonnull(t);
        size_t *seen = calloc(n, sizeof *seen);
        for (size_t p = 0; p < n; p++) seen[t->perm[p]]++;
        for (size_t i = 0; i < n; i++) ck_assert_uint_eq(seen[i], 1);
        iflow_kd_list hits = {0};
        double *all = malloc(n * sizeof *all), kd2[5];
        size_t kidx[5];
        for (size_t q = 0; q < 200; q++) {
            const double *pt = x + q * 13 % n * d;
            double r2 = 0.05 * (double)(q % 10);
            hits.n = 0;
            ck_assert_int_eq(iflow_kdtree_ball(t, pt, r2, &hits), 0);
            size_t expect = 0;
            for (size_t i = 0; i < n; i++) expect += dist2(pt, x + i * d, d) <= r2;
            ck_assert_uint_eq(hits.n, expect);
            for (size_t h = 0; h < hits.n; h++) {
                size_t i = t->perm[hits.v[h]];
                ck_assert_double_le(dist2(pt, x + i * d, d), r2);
                ck_assert_double_eq(t->x[hits.v[h]], x[i * d]); /* SoA copy in tree order */
            }
            size_t self = q * 13 % n, m = 0;
            for (size_t i = 0; i < n; i++)
                if (i != self) all[m++] = dist2(pt, x + i * d, d);
            qsort(all, m, sizeof *all, cmp_double);
            iflow_kdtree_knn(t, pt, 5, self, kd2, kidx);
            for (int k = 0; k < 5; k++) {
                ck_assert_double_eq(kd2[k], all[k]);
                ck_assert_uint_ne(kidx[k], self);
                ck_assert_double_eq(kd2[k], dist2(pt, x + kidx[k] * d, d));
            }
        }
        free(hits.v);
        free(all);
        free(seen);
        iflow_kdtree_free(t);
    }
    free(x);
}
END_TEST

START_TEST(test_lattice_closed_form) {
    /* n equally spaced points, k = 1: every eps_i = delta, so
     * h = psi(n) - psi(1) + ln 2 + ln delta = H_{n-1} + ln(2 delta), H the harmonic number. */
    size_t n = 1000;
    double delta = 0.01, *x = malloc(n * sizeof *x), harmonic = 0, h;
    for (size_t i = 0; i < n; i++) x[i] = delta * (double)i;
    for (size_t i = 1; i < n; i++) harmonic += 1.0 / (double)i;
    ck_assert_int_eq(iflow_knn_entropy(x, n, 1, 1, 0, &h, NULL), 0);
    ck_assert_double_eq_tol(h, harmonic + log(2 * delta), 1e-9);
    /* k = 2: eps_i = delta inside, 2 delta at the two ends; psi(n) - psi(2) = H_{n-1} - 1. */
    ck_assert_int_eq(iflow_knn_entropy(x, n, 1, 2, 0, &h, NULL), 0);
    double sum_log = (double)(n - 2) * log(delta) + 2 * log(2 * delta);
    ck_assert_double_eq_tol(h, harmonic - 1.0 + log(2.0) + sum_log / (double)n, 1e-9);
    free(x);
}
END_TEST

START_TEST(test_gaussian) {
    /* h(N(0, s^2 I_d)) = (d/2) ln(2 pi e s^2). At n = 20000 the KL bias is < 0.05 nats for
     * d <= 3; at d = 8 it grows (~ n^(-2/d) terms; about 0.06 here): within 0.15. */
    size_t dims[3] = {1, 3, 8}, n = 20000;
    double tol[3] = {0.05, 0.05, 0.15};
    for (int t = 0; t < 3; t++) {
        size_t d = dims[t];
        double *x = normal_points(n, d, 0.7, 10 + d), h;
        ck_assert_int_eq(iflow_knn_entropy(x, n, d, 3, 0, &h, NULL), 0);
        double truth = 0.5 * (double)d * log(2 * M_PI * M_E * 0.49);
        ck_assert_double_eq_tol(h, truth, tol[t]);
        free(x);
    }
}
END_TEST

START_TEST(test_uniform_cube) {
    /* Uniform on [0, 2]^d: h = d ln 2. */
    size_t n = 20000;
    for (size_t d = 1; d <= 2; d++) {
        iflow_rng r;
        iflow_rng_init(&r, 3, d);
        double *x = malloc(n * d * sizeof *x), h;
        for (size_t i = 0; i < n * d; i++) x[i] = 2 * iflow_rng_uniform(&r);
        ck_assert_int_eq(iflow_knn_entropy(x, n, d, 4, 0, &h, NULL), 0);
        ck_assert_double_eq_tol(h, (double)d * log(2.0), 0.05);
        free(x);
    }
}
END_TEST

/* The parallel build gives the sequential tree node for node: 40000 points in d = 3, a quarter
 * of them on 8 coincident spots (one-big-leaf nodes) and the rest spread, so subtrees differ in
 * size and tasks finish in any order. */
START_TEST(test_parallel_build_same_tree) {
    const size_t n = 40000, d = 3;
    double *x = malloc(n * d * sizeof *x);
    iflow_rng r;
    iflow_rng_init(&r, 77, 0);
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < d; c++)
            x[i * d + c] = i % 4 ? iflow_rng_normal(&r) : (double)(i % 32 / 4);
    iflow_kdtree *a = iflow_kdtree_new(x, n, d, 16);
    for (int threads = 2; threads <= 3; threads++) {
        iflow_kdtree *b = iflow_kdtree_new_threads(x, n, d, 16, threads);
        ck_assert_ptr_nonnull(b);
        ck_assert_uint_eq(a->n_nodes, b->n_nodes);
        ck_assert_mem_eq(a->nodes, b->nodes, a->n_nodes * sizeof *a->nodes);
        ck_assert_mem_eq(a->box, b->box, a->n_nodes * 2 * d * sizeof *a->box);
        ck_assert_mem_eq(a->perm, b->perm, n * sizeof *a->perm);
        ck_assert_mem_eq(a->x, b->x, n * d * sizeof *a->x);
        iflow_kdtree_free(b);
    }
    ck_assert_uint_gt(a->n_nodes, 2 * n / 16);
    iflow_kdtree_free(a);
    free(x);
}
END_TEST

START_TEST(test_threads_and_errors) {
    size_t n = 5000, d = 4;
    double *x = normal_points(n, d, 1.0, 8), h1, h2;
    ck_assert_int_eq(iflow_knn_entropy(x, n, d, 2, 1, &h1, NULL), 0);
    ck_assert_int_eq(iflow_knn_entropy(x, n, d, 2, 2, &h2, NULL), 0);
    ck_assert(h1 == h2);
    iflow_error err;
    ck_assert_int_eq(iflow_knn_entropy(x, 3, d, 3, 0, &h1, &err), IFLOW_EINVAL);
    memcpy(x + d, x, d * sizeof *x); /* sample 1 duplicates sample 0 */
    ck_assert_int_eq(iflow_knn_entropy(x, n, d, 1, 0, &h1, &err), IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "duplicate"));
    ck_assert_int_eq(iflow_knn_entropy(x, n, d, 2, 0, &h1, &err), 0);
    x[7] = NAN;
    ck_assert_int_eq(iflow_knn_entropy(x, n, d, 2, 0, &h1, &err), IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "sample 1, coordinate 3"));
    free(x);
}
END_TEST

int main(void) {
    Suite *s = suite_create("knn");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_tree_queries);
    tcase_add_test(tc, test_lattice_closed_form);
    tcase_add_test(tc, test_gaussian);
    tcase_add_test(tc, test_uniform_cube);
    tcase_add_test(tc, test_threads_and_errors);
    tcase_add_test(tc, test_parallel_build_same_tree);
    suite_add_tcase(s, tc);
    int failed = iflow_check_run(s);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
