/* Tests of the k-sliced SP estimators against ground truths computed here: 1-D slices of a known
 * planar mixture by quadrature averaged over all directions, the SE against the observed spread
 * of independent repetitions, I_k <= I, k = d against the unsliced estimate, rotation
 * invariance, the Haar basis (orthonormal, R with a positive diagonal) and the thread count. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infoflow/rng.h"
#include "infoflow/sliced.h"
#include "check_util.h"

static iflow_sp_options sp_opts(double beta, size_t mc, uint64_t seed) {
    iflow_sp_options o;
    iflow_sp_options_default(&o);
    o.beta = beta;
    o.mc = mc;
    o.seed = seed;
    o.threads = 1; /* thousands of tiny SP calls: no thread start-up (test_threads_identical
                      sets its own) */
    return o;
}

static iflow_slice_options sl_opts(size_t m, size_t k, uint64_t seed) {
    iflow_slice_options o;
    iflow_slice_options_default(&o);
    o.slices = m;
    o.dim = k;
    o.seed = seed;
    return o;
}

static double *uniform_points(size_t n, size_t d, double lo, double hi, uint64_t seed) {
    iflow_rng r;
    iflow_rng_init(&r, seed, 1234);
    double *x = malloc(n * d * sizeof *x);
    for (size_t i = 0; i < n * d; i++) x[i] = lo + (hi - lo) * iflow_rng_uniform(&r);
    return x;
}

/* h of the 1-D mixture (1/n) sum_j N(u_j, beta^2) by Simpson's rule over
 * [min - 12 beta, max + 12 beta] with step beta / 100 (error far below 1e-6). */
static double quad_entropy_1d(const double *u, size_t n, double beta) {
    double lo = u[0], hi = u[0];
    for (size_t j = 1; j < n; j++) lo = fmin(lo, u[j]), hi = fmax(hi, u[j]);
    lo -= 12 * beta;
    hi += 12 * beta;
    size_t m = (size_t)((hi - lo) / (beta / 100)) | 1;
    double h = (hi - lo) / (double)(m - 1), sum = 0;
    for (size_t i = 0; i < m; i++) {
        double t = lo + h * (double)i, g = 0;
        for (size_t j = 0; j < n; j++) g += exp(-0.5 * (t - u[j]) * (t - u[j]) / (beta * beta));
        g /= (double)n * beta * sqrt(2 * M_PI);
        double w = (i == 0 || i == m - 1) ? 1 : (i % 2 ? 4 : 2);
        if (g > 0) sum -= w * g * log(g);
    }
    return sum * h / 3;
}

/* E_a[h(a^T S + Z)] over a uniform on the circle for planar samples s (n x 2): a and -a give
 * the same mixture, so average theta over [0, pi) (midpoint rule; the integrand is smooth and
 * periodic, so 360 angles are exact to far below the MC error). */
static double sliced_truth_2d(const double *s, size_t n, double beta) {
    size_t n_theta = 360;
    double *u = malloc(n * sizeof *u), sum = 0;
    for (size_t a = 0; a < n_theta; a++) {
        double th = M_PI * ((double)a + 0.5) / (double)n_theta;
        for (size_t j = 0; j < n; j++) u[j] = cos(th) * s[2 * j] + sin(th) * s[2 * j + 1];
        sum += quad_entropy_1d(u, n, beta);
    }
    free(u);
    return sum / (double)n_theta;
}

START_TEST(test_basis_haar_qr) {
    /* Q^T Q = I, and R = Q^T G (G the Gaussian matrix of the same stream) is upper triangular
     * with a positive diagonal: Q is the sign-fixed QR factor. */
    size_t d = 50, k = 6;
    double *q = malloc(d * k * sizeof *q), *g = malloc(d * k * sizeof *g);
    ck_assert_int_eq(iflow_slice_basis(d, k, 7, 3, q, NULL), 0);
    iflow_rng r;
    iflow_rng_init(&r, 7, 3);
    iflow_rng_fill_normal(&r, g, d * k, 1.0);
    for (size_t a = 0; a < k; a++)
        for (size_t b = 0; b < k; b++) {
            double qq = 0, rr = 0;
            for (size_t i = 0; i < d; i++) {
                qq += q[i * k + a] * q[i * k + b];
                rr += q[i * k + a] * g[i * k + b];
            }
            ck_assert_double_eq_tol(qq, a == b ? 1.0 : 0.0, 1e-13);
            if (a > b) ck_assert_double_eq_tol(rr, 0.0, 1e-12);
            if (a == b) ck_assert_double_gt(rr, 0.0);
        }
    /* Haar columns are uniform on the sphere: E[q_1^2] = 1/d for any coordinate. */
    double m2 = 0;
    size_t reps = 4000;
    for (size_t j = 0; j < reps; j++) {
        ck_assert_int_eq(iflow_slice_basis(5, 1, 9, j, q, NULL), 0);
        m2 += q[0] * q[0];
    }
    /* Var(q_1^2) = 2(d-1)/(d^2(d+2)) = 0.0457 for d = 5: se = 0.0034. */
    ck_assert_double_eq_tol(m2 / (double)reps, 0.2, 4 * 0.0034);
    free(q);
    free(g);
}
END_TEST

START_TEST(test_entropy_1d_slices_quadrature) {
    size_t n = 5;
    double beta = 0.3, *s = uniform_points(n, 2, -1, 1, 4);
    double truth = sliced_truth_2d(s, n, beta);
    iflow_sp_options sp = sp_opts(beta, 64, 5);
    iflow_slice_options sl = sl_opts(400, 1, 6);
    iflow_sliced_estimate e;
    ck_assert_int_eq(iflow_sliced_entropy(s, n, 2, &sp, &sl, &e, NULL, NULL), 0);
    ck_assert_double_gt(e.sd_slices, 0.01); /* the directions matter for these points */
    ck_assert_double_eq_tol(e.est.value, truth, 4 * e.est.se_mc);
    ck_assert_double_lt(e.est.se_mc, 0.02);
    free(s);
}
END_TEST

START_TEST(test_se_calibrated) {
    /* 40 independent estimates (own slice and MC seeds), M = 12 slices each: the spread of the
     * estimates must match the reported SE, and the truth lie within the usual band. */
    size_t n = 5, reps = 40;
    double beta = 0.25, *s = uniform_points(n, 2, -1, 1, 8);
    double truth = sliced_truth_2d(s, n, beta), mean = 0, ss = 0, se2 = 0;
    double v[40];
    for (size_t r = 0; r < reps; r++) {
        iflow_sp_options sp = sp_opts(beta, 4, 100 + r);
        iflow_slice_options sl = sl_opts(12, 1, 200 + r);
        iflow_sliced_estimate e;
        ck_assert_int_eq(iflow_sliced_entropy(s, n, 2, &sp, &sl, &e, NULL, NULL), 0);
        v[r] = e.est.value;
        mean += v[r];
        se2 += e.est.se_mc * e.est.se_mc; /* fixed samples: slices and draws */
    }
    mean /= (double)reps;
    for (size_t r = 0; r < reps; r++) ss += (v[r] - mean) * (v[r] - mean);
    double sd = sqrt(ss / (double)(reps - 1)), rms_se = sqrt(se2 / (double)reps);
    /* The ratio of two SD estimates from 40 and 40 x 11 degrees of freedom: within ~25%. */
    ck_assert_double_gt(sd / rms_se, 0.65);
    ck_assert_double_lt(sd / rms_se, 1.5);
    ck_assert_double_eq_tol(mean, truth, 4 * rms_se / sqrt((double)reps));
    free(s);
}
END_TEST

/* n samples in d dims: n_groups groups of clustered samples (centres in [-1,1]^d). */
static double *grouped_points(size_t n, size_t d, size_t n_groups, double jitter, size_t *group) {
    double *c = uniform_points(n_groups, d, -1, 1, 21), *s = malloc(n * d * sizeof *s);
    iflow_rng r;
    iflow_rng_init(&r, 22, 0);
    for (size_t i = 0; i < n; i++) {
        group[i] = i % n_groups;
        for (size_t k = 0; k < d; k++)
            s[i * d + k] = c[group[i] * d + k] + jitter * iflow_rng_normal(&r);
    }
    free(c);
    return s;
}

START_TEST(test_mi_1d_slices_quadrature) {
    /* Planar groups of 2 points: I(G; a^T T) = h(g_a) - sum_g p_g h(g_{a,g}), every h by
     * quadrature, averaged over directions. */
    size_t n = 6, group[6] = {0, 0, 1, 1, 2, 2};
    double beta = 0.2, *s = uniform_points(n, 2, -1, 1, 31), truth = 0;
    size_t n_theta = 360;
    for (size_t a = 0; a < n_theta; a++) {
        double th = M_PI * ((double)a + 0.5) / (double)n_theta, u[6];
        for (size_t j = 0; j < n; j++) u[j] = cos(th) * s[2 * j] + sin(th) * s[2 * j + 1];
        double i_a = quad_entropy_1d(u, n, beta);
        for (size_t g = 0; g < 3; g++) i_a -= quad_entropy_1d(u + 2 * g, 2, beta) / 3;
        truth += i_a / (double)n_theta;
    }
    iflow_sp_options sp = sp_opts(beta, 64, 3);
    iflow_slice_options sl = sl_opts(300, 1, 4);
    iflow_mi_estimate e;
    iflow_sliced_estimate mc;
    ck_assert_int_eq(
        iflow_sliced_grouped_mi2(s, n, 2, group, 3, NULL, 0, &sp, &sl, &e, NULL, &mc, NULL, NULL),
        0);
    ck_assert_double_eq_tol(e.mi.value, truth, 4 * e.mi.se);
    ck_assert_double_eq(mc.est.value, e.mi.value);
    ck_assert_double_gt(truth, 0.2);
    free(s);
}
END_TEST

START_TEST(test_sliced_below_full_and_k_equals_d) {
    size_t n = 48, d = 4, group[48];
    double *s = grouped_points(n, d, 8, 0.15, group);
    iflow_sp_options sp = sp_opts(0.2, 32, 9);
    iflow_mi_estimate full, k1, k2, kd;
    ck_assert_int_eq(iflow_sp_grouped_mi(s, n, d, group, 8, &sp, &full, NULL), 0);
    iflow_slice_options sl = sl_opts(48, 1, 10);
    ck_assert_int_eq(
        iflow_sliced_grouped_mi2(s, n, d, group, 8, NULL, 0, &sp, &sl, &k1, NULL, NULL, NULL, NULL),
        0);
    sl.dim = 2;
    ck_assert_int_eq(
        iflow_sliced_grouped_mi2(s, n, d, group, 8, NULL, 0, &sp, &sl, &k2, NULL, NULL, NULL, NULL),
        0);
    /* I_1 <= I_2 <= I (data processing), each up to the errors; here strictly. */
    ck_assert_double_lt(k1.mi.value + 3 * k1.mi.se, full.mi.value);
    ck_assert_double_lt(k2.mi.value, full.mi.value + 3 * hypot(full.mi.se, k2.mi.se));
    ck_assert_double_lt(k1.mi.value, k2.mi.value + 3 * hypot(k1.mi.se, k2.mi.se));
    /* k = d: every slice is a rotation, so the sliced value is the unsliced one up to the MC
     * error of both (independent draws); M = 1 is allowed and its SE is the MC error. */
    sl.dim = d;
    sl.slices = 6;
    ck_assert_int_eq(
        iflow_sliced_grouped_mi2(s, n, d, group, 8, NULL, 0, &sp, &sl, &kd, NULL, NULL, NULL, NULL),
        0);
    ck_assert_double_eq_tol(kd.mi.value, full.mi.value, 4 * hypot(kd.mi.se, full.mi.se));
    ck_assert_double_eq_tol(kd.h.value, full.h.value, 4 * hypot(kd.h.se, full.h.se));
    sl.slices = 1;
    ck_assert_int_eq(
        iflow_sliced_grouped_mi2(s, n, d, group, 8, NULL, 0, &sp, &sl, &kd, NULL, NULL, NULL, NULL),
        0);
    ck_assert_double_gt(kd.mi.se, 0);
    ck_assert_double_eq_tol(kd.mi.value, full.mi.value, 4 * hypot(kd.mi.se, full.mi.se));
    free(s);
}
END_TEST

START_TEST(test_rotation_invariance) {
    /* Rotate the samples by a product of Givens rotations (built here): the sliced estimate
     * must agree within its error (the slice distribution is rotation invariant). */
    size_t n = 40, d = 5, group[40];
    double *s = grouped_points(n, d, 5, 0.2, group), *rs = malloc(n * d * sizeof *rs);
    memcpy(rs, s, n * d * sizeof *rs);
    for (size_t p = 0; p + 1 < d; p++) {
        double th = 0.7 + 0.3 * (double)p, c = cos(th), sn = sin(th);
        for (size_t i = 0; i < n; i++) {
            double x = rs[i * d + p], y = rs[i * d + p + 1];
            rs[i * d + p] = c * x - sn * y;
            rs[i * d + p + 1] = sn * x + c * y;
        }
    }
    iflow_sp_options sp = sp_opts(0.2, 16, 1);
    iflow_slice_options sl = sl_opts(64, 2, 2);
    iflow_mi_estimate a, b;
    ck_assert_int_eq(
        iflow_sliced_grouped_mi2(s, n, d, group, 5, NULL, 0, &sp, &sl, &a, NULL, NULL, NULL, NULL),
        0);
    ck_assert_int_eq(
        iflow_sliced_grouped_mi2(rs, n, d, group, 5, NULL, 0, &sp, &sl, &b, NULL, NULL, NULL, NULL),
        0);
    ck_assert_double_ne(a.mi.value, b.mi.value); /* really different slices of the data */
    ck_assert_double_eq_tol(a.mi.value, b.mi.value, 4 * hypot(a.mi.se, b.mi.se));
    free(s);
    free(rs);
}
END_TEST

START_TEST(test_threads_identical) {
    size_t n = 60, d = 6, group[60], label[60];
    double *s = grouped_points(n, d, 6, 0.3, group);
    for (size_t i = 0; i < n; i++) label[i] = group[i] % 2;
    iflow_mi_estimate a[2], b[2];
    iflow_sliced_estimate h[2];
    for (int t = 0; t < 2; t++) {
        iflow_sp_options sp = sp_opts(0.1, 4, 3);
        sp.threads = t + 1;
        iflow_slice_options sl = sl_opts(5, 3, 4);
        ck_assert_int_eq(iflow_sliced_grouped_mi2(s, n, d, group, 6, label, 2, &sp, &sl, &a[t],
                                                  &b[t], NULL, NULL, NULL),
                         0);
        ck_assert_int_eq(iflow_sliced_entropy(s, n, d, &sp, &sl, &h[t], NULL, NULL), 0);
    }
    ck_assert(memcmp(&a[0], &a[1], sizeof a[0]) == 0);
    ck_assert(memcmp(&b[0], &b[1], sizeof b[0]) == 0);
    ck_assert(memcmp(&h[0], &h[1], sizeof h[0]) == 0);
    free(s);
}
END_TEST

START_TEST(test_invalid) {
    double s[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    size_t g[4] = {0, 1, 0, 1};
    iflow_sp_options sp = sp_opts(0.1, 2, 1);
    iflow_slice_options sl = sl_opts(1, 1, 1);
    iflow_sliced_estimate e;
    iflow_mi_estimate m;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_sliced_entropy(s, 4, 2, &sp, &sl, &e, NULL, &err), IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "2 slices"));
    sl = sl_opts(4, 3, 1);
    ck_assert_int_eq(
        iflow_sliced_grouped_mi2(s, 4, 2, g, 2, NULL, 0, &sp, &sl, &m, NULL, NULL, NULL, &err),
        IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "slice dimension 3"));
    sl.dim = 0;
    ck_assert_int_eq(iflow_sliced_entropy(s, 4, 2, &sp, &sl, &e, NULL, &err), IFLOW_EINVAL);
    double q[4];
    ck_assert_int_eq(iflow_slice_basis(2, 3, 1, 1, q, &err), IFLOW_EINVAL);
}
END_TEST

int main(void) {
    Suite *s = suite_create("sliced");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_basis_haar_qr);
    tcase_add_test(tc, test_entropy_1d_slices_quadrature);
    tcase_add_test(tc, test_se_calibrated);
    tcase_add_test(tc, test_mi_1d_slices_quadrature);
    tcase_add_test(tc, test_sliced_below_full_and_k_equals_d);
    tcase_add_test(tc, test_rotation_invariance);
    tcase_add_test(tc, test_threads_identical);
    tcase_add_test(tc, test_invalid);
    suite_add_tcase(s, tc);
    int failed = iflow_check_run(s);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
