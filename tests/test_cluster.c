/* Tests of the clustering measures: the GEMM/block path against brute-force pair loops written
 * here (direct distances, sorted neighbours), constructed cases with known answers, and the
 * thread count and block size leaving every number unchanged. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infoflow/cluster.h"
#include "infoflow/rng.h"
#include "check_util.h"

static double *gaussian_points(size_t n, size_t d, uint64_t seed) {
    iflow_rng r;
    iflow_rng_init(&r, seed, 5);
    double *x = malloc(n * d * sizeof *x);
    for (size_t i = 0; i < n * d; i++) x[i] = iflow_rng_normal(&r);
    return x;
}

static double dist(const double *s, size_t d, size_t i, size_t j) {
    double q = 0;
    for (size_t c = 0; c < d; c++)
        q += (s[i * d + c] - s[j * d + c]) * (s[i * d + c] - s[j * d + c]);
    return sqrt(q);
}

/* The definitions of cluster.h, pair by pair. */
static void brute(const double *s, size_t n, size_t d, const size_t *lab, size_t nc, size_t k,
                  size_t bins, iflow_cluster_result *o, double *hw, double *hb) {
    double cw = 0, cb = 0, sil = 0, agree = 0;
    size_t nw = 0, nb = 0;
    memset(hw, 0, bins * sizeof *hw);
    memset(hb, 0, bins * sizeof *hb);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            double dot = 0, ni = 0, nj = 0;
            for (size_t c = 0; c < d; c++) {
                dot += s[i * d + c] * s[j * d + c];
                ni += s[i * d + c] * s[i * d + c];
                nj += s[j * d + c] * s[j * d + c];
            }
            double cs = dot / sqrt(ni * nj);
            size_t b = (size_t)floor((cs + 1) / 2 * (double)bins);
            if (b >= bins) b = bins - 1;
            if (lab[i] == lab[j])
                cw += cs, nw++, hw[b]++;
            else
                cb += cs, nb++, hb[b]++;
        }
    double *dj = malloc(n * sizeof *dj);
    size_t *order = malloc(n * sizeof *order);
    for (size_t i = 0; i < n; i++) {
        double a = 0, best = INFINITY;
        size_t na = 0;
        for (size_t c = 0; c < nc; c++) {
            double sum = 0;
            size_t cnt = 0;
            for (size_t j = 0; j < n; j++)
                if (j != i && lab[j] == c) sum += dist(s, d, i, j), cnt++;
            if (c == lab[i])
                a = sum, na = cnt;
            else if (cnt)
                best = fmin(best, sum / (double)cnt);
        }
        if (na > 0) sil += (best - a / (double)na) / fmax(a / (double)na, best);
        /* k nearest by selection sort on (distance, index). */
        size_t m = 0;
        for (size_t j = 0; j < n; j++)
            if (j != i) dj[m] = dist(s, d, i, j), order[m++] = j;
        size_t same = 0;
        for (size_t t = 0; t < k; t++) {
            size_t best_p = t;
            for (size_t p = t + 1; p < m; p++)
                if (dj[p] < dj[best_p] || (dj[p] == dj[best_p] && order[p] < order[best_p]))
                    best_p = p;
            double td = dj[t];
            size_t to = order[t];
            dj[t] = dj[best_p], order[t] = order[best_p];
            dj[best_p] = td, order[best_p] = to;
            same += lab[order[t]] == lab[i];
        }
        agree += (double)same / (double)k;
    }
    for (size_t b = 0; b < bins; b++) hw[b] /= (double)nw, hb[b] /= (double)nb;
    o->cos_within = cw / (double)nw;
    o->cos_between = cb / (double)nb;
    o->n_within = nw;
    o->n_between = nb;
    o->silhouette = sil / (double)n;
    o->knn_agreement = agree / (double)n;
    free(dj);
    free(order);
}

START_TEST(test_against_brute_force) {
    /* Labels correlated with a shifted mean so the measures are away from their null values;
     * block = 7 leaves a partial last block; one singleton class (silhouette 0 by definition). */
    size_t n = 61, d = 9, nc = 4, k = 5, bins = 16, lab[61];
    double *s = gaussian_points(n, d, 3);
    for (size_t i = 0; i < n; i++) {
        lab[i] = i == 60 ? 3 : i % 3;
        s[i * d + lab[i]] += 3.0;
    }
    iflow_cluster_options opt;
    iflow_cluster_options_default(&opt);
    opt.knn = k;
    opt.hist_bins = bins;
    opt.block = 7;
    iflow_cluster_result got, want;
    double hw[16], hb[16], bw[16], bb[16];
    ck_assert_int_eq(iflow_cluster_measure(s, n, d, lab, nc, &opt, &got, hw, hb, NULL), 0);
    brute(s, n, d, lab, nc, k, bins, &want, bw, bb);
    ck_assert_double_eq_tol(got.cos_within, want.cos_within, 1e-12);
    ck_assert_double_eq_tol(got.cos_between, want.cos_between, 1e-12);
    ck_assert_uint_eq(got.n_within, want.n_within);
    ck_assert_uint_eq(got.n_between, want.n_between);
    ck_assert_double_eq_tol(got.silhouette, want.silhouette, 1e-12);
    ck_assert_double_eq_tol(got.knn_agreement, want.knn_agreement, 1e-15);
    for (size_t b = 0; b < bins; b++) {
        ck_assert_double_eq_tol(hw[b], bw[b], 1e-15);
        ck_assert_double_eq_tol(hb[b], bb[b], 1e-15);
    }
    ck_assert_double_gt(got.cos_within, got.cos_between + 0.1);
    ck_assert_double_gt(got.silhouette, 0.0);
    ck_assert_uint_eq(got.n_zero, 0);
    free(s);
}
END_TEST

START_TEST(test_separated_clusters) {
    /* Three classes around orthogonal corners 100 units out with unit-0.1 jitter: silhouette
     * ~ 1 - O(jitter/100), k-NN agreement exactly 1, cosines ~ 1 within and ~ 0 between. */
    size_t n = 90, d = 3, lab[90];
    double *s = gaussian_points(n, d, 4);
    for (size_t i = 0; i < n; i++) {
        lab[i] = i % 3;
        for (size_t c = 0; c < d; c++) s[i * d + c] = 0.1 * s[i * d + c] + (c == lab[i] ? 100 : 0);
    }
    iflow_cluster_options opt;
    iflow_cluster_options_default(&opt);
    iflow_cluster_result r;
    ck_assert_int_eq(iflow_cluster_measure(s, n, d, lab, 3, &opt, &r, NULL, NULL, NULL), 0);
    ck_assert_double_gt(r.silhouette, 0.99);
    ck_assert_double_eq(r.knn_agreement, 1.0);
    ck_assert_double_gt(r.cos_within, 0.9999);
    ck_assert_double_lt(fabs(r.cos_between), 0.01);
    /* Coincident points per class: silhouette exactly 1 (a = 0). */
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < d; c++) s[i * d + c] = c == lab[i] ? 2.0 : 0.0;
    ck_assert_int_eq(iflow_cluster_measure(s, n, d, lab, 3, &opt, &r, NULL, NULL, NULL), 0);
    ck_assert_double_eq(r.silhouette, 1.0);
    ck_assert_double_eq(r.knn_agreement, 1.0);
    ck_assert_double_eq_tol(r.cos_within, 1.0, 1e-15);
    ck_assert_double_eq_tol(r.cos_between, 0.0, 1e-15);
    /* Labels independent of the points (alternating along one line): k-NN agreement of a
     * 2-class alternation with k = 2 is 0 (both neighbours of an inner point differ). */
    for (size_t i = 0; i < n; i++) {
        s[i * d] = (double)i, s[i * d + 1] = 1, s[i * d + 2] = 0;
        lab[i] = i % 2;
    }
    opt.knn = 2;
    ck_assert_int_eq(iflow_cluster_measure(s, n, d, lab, 2, &opt, &r, NULL, NULL, NULL), 0);
    /* The two ends have neighbours at distances 1 and 2: one of them agrees (1/2 each). */
    ck_assert_double_eq_tol(r.knn_agreement, (0.5 + 0.5) / (double)n, 1e-15);
    free(s);
}
END_TEST

START_TEST(test_threads_and_blocks_identical) {
    size_t n = 300, d = 20, lab[300];
    double *s = gaussian_points(n, d, 6);
    for (size_t i = 0; i < n; i++) lab[i] = (i * 7) % 5;
    iflow_cluster_options opt;
    iflow_cluster_options_default(&opt);
    iflow_cluster_result r[3];
    double hw[3][40], hb[3][40];
    for (int t = 0; t < 3; t++) {
        opt.threads = t == 0 ? 1 : 2;
        opt.block = t == 2 ? 33 : 0;
        ck_assert_int_eq(iflow_cluster_measure(s, n, d, lab, 5, &opt, &r[t], hw[t], hb[t], NULL),
                         0);
    }
    ck_assert(memcmp(&r[0], &r[1], sizeof r[0]) == 0);
    ck_assert(memcmp(hw[0], hw[1], sizeof hw[0]) == 0 && memcmp(hb[0], hb[1], sizeof hb[0]) == 0);
    /* Another block size changes only the GEMM's shape: equal to rounding. */
    ck_assert_double_eq_tol(r[0].silhouette, r[2].silhouette, 1e-13);
    ck_assert_double_eq_tol(r[0].cos_within, r[2].cos_within, 1e-13);
    ck_assert_double_eq(r[0].knn_agreement, r[2].knn_agreement);
    free(s);
}
END_TEST

START_TEST(test_zero_rows_and_errors) {
    size_t n = 6, d = 2, lab[6] = {0, 0, 0, 1, 1, 1};
    double s[12] = {0, 0, 1, 0.1, 1, 0.2, 0, 0, -1, 0.1, -1, 0.3};
    iflow_cluster_options opt;
    iflow_cluster_options_default(&opt);
    opt.knn = 2;
    iflow_cluster_result r;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_cluster_measure(s, n, d, lab, 2, &opt, &r, NULL, NULL, &err), 0);
    ck_assert_uint_eq(r.n_zero, 2);
    ck_assert_uint_eq(r.n_within, 2); /* pairs among the 2 + 2 non-zero rows */
    ck_assert_uint_eq(r.n_between, 4);
    ck_assert(isfinite(r.cos_within) && isfinite(r.cos_between));
    opt.knn = 6;
    ck_assert_int_eq(iflow_cluster_measure(s, n, d, lab, 2, &opt, &r, NULL, NULL, &err),
                     IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "k = 6"));
    opt.knn = 2;
    size_t one[6] = {1, 1, 1, 1, 1, 1};
    ck_assert_int_eq(iflow_cluster_measure(s, n, d, one, 2, &opt, &r, NULL, NULL, &err),
                     IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "at least 2"));
    ck_assert_int_eq(iflow_cluster_measure(s, n, d, lab, 1, &opt, &r, NULL, NULL, &err),
                     IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "out of range"));
    s[5] = NAN;
    ck_assert_int_eq(iflow_cluster_measure(s, n, d, lab, 2, &opt, &r, NULL, NULL, &err),
                     IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "row 2, column 1"));
}
END_TEST

/* measure and brute on the same rows: every number within tol (k-NN agreement exactly). */
static void expect_brute(const double *s, size_t n, size_t d, const size_t *lab, size_t nc,
                         size_t k, double tol, iflow_cluster_result *got) {
    iflow_cluster_options opt;
    iflow_cluster_options_default(&opt);
    opt.knn = k;
    opt.hist_bins = 8;
    opt.block = 13;
    iflow_cluster_result want;
    double hw[8], hb[8], bw[8], bb[8];
    iflow_error err = {0};
    ck_assert_msg(iflow_cluster_measure(s, n, d, lab, nc, &opt, got, hw, hb, &err) == 0, "%s",
                  err.msg);
    brute(s, n, d, lab, nc, k, 8, &want, bw, bb);
    ck_assert_double_eq_tol(got->silhouette, want.silhouette, tol);
    ck_assert_double_eq(got->knn_agreement, want.knn_agreement);
    ck_assert_double_eq_tol(got->cos_within, want.cos_within, tol);
    ck_assert_double_eq_tol(got->cos_between, want.cos_between, tol);
}

/* The distance measures ignore where the rows sit and how they are scaled: rows offset by 1e8
 * with unit spread, and rows scaled by 1e-8 and 1e8, give the numbers of a direct computation
 * (brute, pair by pair) and of the rows without the offset or scale. Rows in two clumps at
 * +-1e8 (their mean is the origin, so centring alone cannot help) with labels that do not
 * follow the clumps: the k nearest neighbours inside a clump need the unit distances exactly. */
START_TEST(test_offsets_and_scales) {
    size_t n = 80, d = 6, k = 5, lab[80];
    double *base = gaussian_points(n, d, 9), *s = malloc(n * d * sizeof *s);
    for (size_t i = 0; i < n; i++) {
        lab[i] = i % 3;
        base[i * d + lab[i]] += 1.5;
    }
    iflow_cluster_result plain, got;
    expect_brute(base, n, d, lab, 3, k, 1e-12, &plain);
    ck_assert_double_gt(plain.silhouette, 0.02);
    ck_assert_double_gt(plain.knn_agreement, 0.4);
    for (size_t i = 0; i < n * d; i++) s[i] = base[i] + 1e8;
    expect_brute(s, n, d, lab, 3, k, 1e-9, &got);
    /* The offset rows are the plain ones rounded to ~1e-8: the same measures to that order. */
    ck_assert_double_eq_tol(got.silhouette, plain.silhouette, 1e-6);
    ck_assert_double_eq(got.knn_agreement, plain.knn_agreement);
    const double scales[] = {1e-8, 1e8};
    for (size_t t = 0; t < 2; t++) {
        for (size_t i = 0; i < n * d; i++) s[i] = base[i] * scales[t];
        expect_brute(s, n, d, lab, 3, k, 1e-12, &got);
        ck_assert_double_eq_tol(got.silhouette, plain.silhouette, 1e-12);
        ck_assert_double_eq(got.knn_agreement, plain.knn_agreement);
        ck_assert_double_eq_tol(got.cos_within, plain.cos_within, 1e-12);
        for (size_t i = 0; i < n * d; i++) s[i] = (base[i] + 1e8) * scales[t];
        expect_brute(s, n, d, lab, 3, k, 1e-9, &got);
        ck_assert_double_eq_tol(got.silhouette, plain.silhouette, 1e-6);
        ck_assert_double_eq(got.knn_agreement, plain.knn_agreement);
    }
    /* Two clumps: rows i < n/2 at +1e8 on axis 0, the rest at -1e8. */
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < d; c++)
            s[i * d + c] = base[i * d + c] + (c == 0 ? (i < n / 2 ? 1e8 : -1e8) : 0);
    expect_brute(s, n, d, lab, 3, k, 1e-9, &got);
    /* Inside one clump the rows are the plain ones: k-NN among the first n/2 as brute has it. */
    size_t half[40];
    for (size_t i = 0; i < n / 2; i++) half[i] = lab[i];
    iflow_cluster_result in_clump;
    expect_brute(s, n / 2, d, half, 3, k, 1e-9, &in_clump);
    ck_assert_double_gt(in_clump.knn_agreement, 0.3);
    free(s);
    free(base);
}
END_TEST

int main(void) {
    Suite *s = suite_create("cluster");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_against_brute_force);
    tcase_add_test(tc, test_separated_clusters);
    tcase_add_test(tc, test_threads_and_blocks_identical);
    tcase_add_test(tc, test_zero_rows_and_errors);
    tcase_add_test(tc, test_offsets_and_scales);
    suite_add_tcase(s, tc);
    int failed = iflow_check_run(s);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
