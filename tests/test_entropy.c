/* Tests of the SP entropy estimator, pairwise bounds and grouped MI against closed forms and
 * quadrature computed here (docs/ESTIMATION.md section 5), plus the exp kernel and the invariances
 * (weights, truncation, thread count). */
#include <check.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "infoflow/entropy.h"
#include "infoflow/rng.h"
#include "mixture.h"
#include "check_util.h"

static iflow_sp_options opts(double beta, size_t mc, uint64_t seed) {
    iflow_sp_options o;
    iflow_sp_options_default(&o);
    o.beta = beta;
    o.mc = mc;
    o.seed = seed;
    return o;
}

static double *uniform_points(size_t n, size_t d, double lo, double hi, uint64_t seed) {
    iflow_rng r;
    iflow_rng_init(&r, seed, 99);
    double *x = malloc(n * d * sizeof *x);
    for (size_t i = 0; i < n * d; i++) x[i] = lo + (hi - lo) * iflow_rng_uniform(&r);
    return x;
}

/* Clustered centres like a saturated tanh layer: a few cluster corners plus tiny jitter. */
static double *clustered_points(size_t n, size_t d, size_t n_clusters, double jitter,
                                uint64_t seed) {
    double *corner = uniform_points(n_clusters, d, -1, 1, seed);
    iflow_rng r;
    iflow_rng_init(&r, seed, 7);
    double *x = malloc(n * d * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        size_t c = iflow_rng_below(&r, n_clusters);
        for (size_t k = 0; k < d; k++)
            x[i * d + k] = corner[c * d + k] + jitter * iflow_rng_normal(&r);
    }
    free(corner);
    return x;
}

START_TEST(test_exp_kernel) {
    /* Relative error against libm over the whole domain, and exact zero below -708. */
    double worst = 0;
    for (int i = 0; i <= 200000; i++) {
        double x = -708.0 + (709.0 + 708.0) * i / 200000.0;
        double e = exp(x), got = iflow_exp_kernel(x);
        worst = fmax(worst, fabs(got - e) / e);
    }
    ck_assert_double_lt(worst, 1e-15);
    for (int i = 0; i < 1000; i++) {
        double x = 1e-3 * (i - 500); /* near 0, where the reduction is trivial */
        ck_assert_double_lt(fabs(iflow_exp_kernel(x) - exp(x)) / exp(x), 1e-15);
    }
    ck_assert(iflow_exp_kernel(-708.5) == 0.0);
    ck_assert(iflow_exp_kernel(-1e300) == 0.0);
    ck_assert(iflow_exp_kernel(-INFINITY) == 0.0);
    ck_assert(iflow_exp_kernel(0.0) == 1.0);
}
END_TEST

START_TEST(test_one_centre) {
    for (size_t d = 1; d <= 13; d += 4) {
        double *s = uniform_points(1, d, -1, 1, d);
        iflow_sp_options o = opts(0.3, 4000, 5);
        iflow_estimate e;
        ck_assert_int_eq(iflow_sp_entropy(s, NULL, 1, d, &o, &e, NULL), 0);
        double truth = 0.5 * (double)d * log(2 * M_PI * M_E * 0.09);
        ck_assert_double_eq_tol(truth, iflow_gaussian_entropy(d, 0.3), 1e-14);
        /* -ln phi(z) = c + ||z||^2/2beta^2 has variance d/2 per draw. */
        ck_assert_double_eq_tol(e.se_mc, sqrt(0.5 * (double)d / 4000), 0.2 * e.se_mc);
        ck_assert_double_eq_tol(e.value, truth, 4 * e.se_mc);
        ck_assert_int_eq(e.se_kind, IFLOW_SE_NA); /* one sample: no spread of samples */
        free(s);
    }
}
END_TEST

START_TEST(test_two_far_centres) {
    /* Two centres 40 beta apart: h = ln 2 + H_c up to ~exp(-D^2/8beta^2) = e^-200. */
    for (size_t d = 2; d <= 10; d += 8) {
        double s[20] = {0};
        s[d] = 40 * 0.05;
        iflow_sp_options o = opts(0.05, 256, 11);
        iflow_estimate e;
        ck_assert_int_eq(iflow_sp_entropy(s, NULL, 2, d, &o, &e, NULL), 0);
        double truth = log(2.0) + iflow_gaussian_entropy(d, 0.05);
        /* The truth is that of these two centres: only the draws are random (se_mc). */
        ck_assert_double_eq_tol(e.value, truth, fmax(1e-3, 4 * e.se_mc));
    }
}
END_TEST

static double mixture_density_1d(double t, const double *s, size_t n, double beta) {
    double g = 0;
    for (size_t j = 0; j < n; j++) {
        double u = (t - s[j]) / beta;
        g += exp(-0.5 * u * u);
    }
    return g / ((double)n * beta * sqrt(2 * M_PI));
}

START_TEST(test_quadrature_1d) {
    /* -int g ln g by Simpson's rule over [min - 12 beta, max + 12 beta], h = beta / 400. */
    for (uint64_t seed = 1; seed <= 3; seed++) {
        size_t n = 6;
        double beta = 0.15 * (double)seed, *s = uniform_points(n, 1, -1, 1, seed);
        double lo = -1 - 12 * beta, hi = 1 + 12 * beta;
        size_t m = (size_t)((hi - lo) / (beta / 400)) | 1; /* odd point count: even intervals */
        double h = (hi - lo) / (double)(m - 1), quad = 0;
        for (size_t i = 0; i < m; i++) {
            double g = mixture_density_1d(lo + h * (double)i, s, n, beta);
            double w = (i == 0 || i == m - 1) ? 1 : (i % 2 ? 4 : 2);
            if (g > 0) quad -= w * g * log(g);
        }
        quad *= h / 3;
        iflow_sp_options o = opts(beta, 20000, seed);
        iflow_estimate e;
        ck_assert_int_eq(iflow_sp_entropy(s, NULL, n, 1, &o, &e, NULL), 0);
        ck_assert_double_lt(e.se_mc, 0.01);
        ck_assert_double_eq_tol(e.value, quad, 4 * e.se_mc);
        free(s);
    }
}
END_TEST

START_TEST(test_quadrature_2d) {
    /* Product Simpson rule on a 2-D grid with spacing beta / 40. */
    size_t n = 5;
    double beta = 0.25, *s = uniform_points(n, 2, -1, 1, 42);
    double lo = -1 - 10 * beta, hi = 1 + 10 * beta;
    size_t m = (size_t)((hi - lo) / (beta / 40)) | 1;
    double h = (hi - lo) / (double)(m - 1), quad = 0;
    for (size_t a = 0; a < m; a++) {
        double wa = (a == 0 || a == m - 1) ? 1 : (a % 2 ? 4 : 2), x = lo + h * (double)a;
        for (size_t b = 0; b < m; b++) {
            double wb = (b == 0 || b == m - 1) ? 1 : (b % 2 ? 4 : 2), y = lo + h * (double)b;
            double g = 0;
            for (size_t j = 0; j < n; j++) {
                double dx = x - s[2 * j], dy = y - s[2 * j + 1];
                g += exp(-(dx * dx + dy * dy) / (2 * beta * beta));
            }
            g /= (double)n * 2 * M_PI * beta * beta;
            if (g > 0) quad -= wa * wb * g * log(g);
        }
    }
    quad *= h * h / 9;
    iflow_sp_options o = opts(beta, 20000, 3);
    iflow_estimate e;
    ck_assert_int_eq(iflow_sp_entropy(s, NULL, n, 2, &o, &e, NULL), 0);
    ck_assert_double_lt(e.se_mc, 0.01);
    ck_assert_double_eq_tol(e.value, quad, 4 * e.se_mc);
    free(s);
}
END_TEST

START_TEST(test_between_pairwise_bounds) {
    size_t dims[2] = {3, 8};
    for (int t = 0; t < 2; t++) {
        size_t d = dims[t], n = 300;
        for (int b = 0; b < 3; b++) {
            double beta = 0.05 * pow(4.0, b), lower, upper;
            double *s = uniform_points(n, d, -1, 1, 10 * d + (size_t)b);
            ck_assert_int_eq(iflow_pairwise_bounds(s, n, d, beta, 0, &lower, &upper, NULL), 0);
            iflow_sp_options o = opts(beta, 32, 1);
            iflow_estimate e;
            ck_assert_int_eq(iflow_sp_entropy(s, NULL, n, d, &o, &e, NULL), 0);
            ck_assert_double_le(lower, upper);
            ck_assert_double_ge(e.value, lower - 4 * e.se);
            ck_assert_double_le(e.value, upper + 4 * e.se);
            /* Both bounds lie in [H_c, H_c + ln n]. */
            double h_c = iflow_gaussian_entropy(d, beta);
            ck_assert_double_ge(lower, h_c - 1e-9);
            ck_assert_double_le(upper, h_c + log((double)n) + 1e-9);
            free(s);
        }
    }
}
END_TEST

START_TEST(test_se_calibrated) {
    /* The reported se must match the spread of estimates over 30 seeds (factor 1.5), and
     * shrink like 1/sqrt(k). */
    size_t n = 200, d = 3, seeds = 30;
    double *s = clustered_points(n, d, 12, 0.05, 4);
    double se_k[2];
    size_t ks[2] = {16, 64};
    for (int t = 0; t < 2; t++) {
        double sum = 0, sum2 = 0, se_sum = 0;
        for (uint64_t seed = 1; seed <= seeds; seed++) {
            iflow_sp_options o = opts(0.1, ks[t], seed);
            iflow_estimate e;
            ck_assert_int_eq(iflow_sp_entropy(s, NULL, n, d, &o, &e, NULL), 0);
            sum += e.value;
            sum2 += e.value * e.value;
            se_sum += e.se_mc; /* the samples are fixed: the Monte Carlo part */
        }
        double mean = sum / (double)seeds;
        double spread = sqrt((sum2 - (double)seeds * mean * mean) / (double)(seeds - 1));
        se_k[t] = se_sum / (double)seeds;
        ck_assert_double_lt(spread, 1.5 * se_k[t]);
        ck_assert_double_gt(spread, se_k[t] / 1.5);
    }
    ck_assert_double_eq_tol(se_k[1] / se_k[0], 0.5, 0.05);
    free(s);
}
END_TEST

START_TEST(test_weights_duplicate) {
    /* A centre listed twice is the same mixture as that centre with weight 2. */
    size_t n = 40, d = 2;
    double *s = uniform_points(n + 1, d, -1, 1, 8);
    for (size_t k = 0; k < d; k++) s[n * d + k] = s[k]; /* duplicate centre 0 at the end */
    double *w = malloc(n * sizeof *w);
    for (size_t i = 0; i < n; i++) w[i] = i == 0 ? 2.0 : 1.0;
    iflow_sp_options o = opts(0.1, 2000, 2);
    iflow_estimate dup, wt, ones;
    ck_assert_int_eq(iflow_sp_entropy(s, NULL, n + 1, d, &o, &dup, NULL), 0);
    ck_assert_int_eq(iflow_sp_entropy(s, w, n, d, &o, &wt, NULL), 0);
    ck_assert_double_eq_tol(dup.value, wt.value, 4 * hypot(dup.se, wt.se));
    /* Unit weights reproduce the unweighted estimate draw for draw. */
    for (size_t i = 0; i < n; i++) w[i] = 3.0;
    ck_assert_int_eq(iflow_sp_entropy(s, w, n, d, &o, &ones, NULL), 0);
    ck_assert_int_eq(iflow_sp_entropy(s, NULL, n, d, &o, &dup, NULL), 0);
    ck_assert_double_eq_tol(ones.value, dup.value, 1e-12);
    ck_assert_double_eq_tol(ones.se, dup.se, 1e-12);
    free(s);
    free(w);
}
END_TEST

START_TEST(test_truncated_matches_exact) {
    for (int kind = 0; kind < 2; kind++) {
        size_t n = 3000, d = kind ? 4 : 6;
        double *s = kind ? uniform_points(n, d, -1, 1, 5) : clustered_points(n, d, 20, 0.01, 6);
        double betas[2] = {0.01, 0.05};
        for (int b = 0; b < 2; b++) {
            iflow_sp_options o = opts(betas[b], 8, 9);
            iflow_estimate exact, trunc;
            ck_assert_int_eq(iflow_sp_entropy(s, NULL, n, d, &o, &exact, NULL), 0);
            o.tolerance = 1e-8;
            ck_assert_int_eq(iflow_sp_entropy(s, NULL, n, d, &o, &trunc, NULL), 0);
            ck_assert_double_eq_tol(trunc.value, exact.value, 1e-6);
            ck_assert_double_eq_tol(trunc.se, exact.se, 1e-6);
            o.tolerance = 1e-2; /* the bound holds per draw, so for the mean as well */
            ck_assert_int_eq(iflow_sp_entropy(s, NULL, n, d, &o, &trunc, NULL), 0);
            ck_assert_double_le(fabs(trunc.value - exact.value), 1e-2);
        }
        free(s);
    }
}
END_TEST

/* Truncated mode answers queries in blocks of nearby centres (one ball per block). Separated
 * tight clusters, uniform points, beta from far below to far above their spacing, one draw
 * per centre with a query subsample, several draws, and more draws than a block holds: every
 * grouped quantity must stay within the tolerance of the exact sums (each ln is off by at
 * most tol, so a difference of two by at most 2 tol), for any thread count and either normal
 * generator (the v2 exact sums use v2's draws too). */
START_TEST(test_truncated_blocks_match_exact) {
    size_t n = 2400, d = 3;
    double *s = clustered_points(n, d, 40, 0.002, 41);
    double *u = uniform_points(n / 2, d, -1, 1, 42);
    memcpy(s, u, n / 2 * d * sizeof *s);
    size_t *ga = malloc(n * sizeof *ga), *gb = malloc(n * sizeof *gb);
    for (size_t i = 0; i < n; i++) {
        ga[i] = i / 8;
        gb[i] = i % 2;
    }
    const double tol = 1e-9, betas[3] = {0.002, 0.02, 0.5};
    const size_t mc[3] = {1, 3, 70}, stride[3] = {4, 1, 16};
    for (int v = 0; v < 2; v++) {
        for (int b = 0; b < 3; b++) {
            for (int c = 0; c < 3; c++) {
                iflow_sp_options o = opts(betas[b], mc[c], 3 + (uint64_t)c);
                o.normals = v ? IFLOW_NORMALS_V2 : IFLOW_NORMALS_V1;
                o.query_stride = stride[c];
                iflow_mi_estimate ea, eb, ta[2], tb[2];
                ck_assert_int_eq(
                    iflow_sp_grouped_mi2(s, n, d, ga, n / 8, gb, 2, &o, &ea, &eb, NULL), 0);
                o.tolerance = tol;
                for (int t = 0; t < 2; t++) {
                    o.threads = t ? 3 : 1;
                    ck_assert_int_eq(
                        iflow_sp_grouped_mi2(s, n, d, ga, n / 8, gb, 2, &o, &ta[t], &tb[t], NULL),
                        0);
                }
                ck_assert(ta[0].mi.value == ta[1].mi.value && tb[0].mi.value == tb[1].mi.value);
                ck_assert(ta[0].h.se_mc == ta[1].h.se_mc &&
                          tb[0].h_cond.value == tb[1].h_cond.value);
                ck_assert(ta[0].mi.se_kind == ta[1].mi.se_kind &&
                          (ta[0].mi.se == ta[1].mi.se || ta[0].mi.se_kind == IFLOW_SE_NA));
                ck_assert_double_eq_tol(ta[0].h.value, ea.h.value, tol);
                ck_assert_double_eq_tol(ta[0].h_cond.value, ea.h_cond.value, tol);
                ck_assert_double_eq_tol(tb[0].h_cond.value, eb.h_cond.value, tol);
                ck_assert_double_eq_tol(ta[0].mi.value, ea.mi.value, 2 * tol);
                ck_assert_double_eq_tol(tb[0].mi.value, eb.mi.value, 2 * tol);
                ck_assert_double_eq_tol(ta[0].mi.se_mc, ea.mi.se_mc, 1e-6);
            }
        }
    }
    free(s);
    free(u);
    free(ga);
    free(gb);
}
END_TEST

/* The bottom-up block plan (internal, measured against the greedy one by bench_estimators
 * --plans): every query's ln-sums within tol of the exact ones, the same for 1 and 3 threads,
 * and never fewer pairs than the own-ball lower bound. */
START_TEST(test_bottom_up_plan_matches_exact) {
    size_t n = 2400, d = 3, nq = 600;
    double *s = clustered_points(n, d, 40, 0.002, 43);
    iflow_mix_stats *ex = malloc(n * sizeof *ex),
                    *tr[2] = {malloc(n * sizeof *ex), malloc(n * sizeof *ex)};
    const double tol = 1e-9, betas[2] = {0.002, 0.05};
    for (int b = 0; b < 2; b++) {
        iflow_mix_mc p = {.s = s,
                          .n = n,
                          .d = d,
                          .k = 1,
                          .n_query = nq,
                          .beta = betas[b],
                          .seed = 5,
                          .threads = 1};
        iflow_error err;
        ck_assert_int_eq(iflow_mix_mc_run(&p, ex, &err), 0);
        p.tolerance = tol;
        iflow_mix_plan_stats ps[2];
        p.plan_stats = &ps[0];
        ck_assert_int_eq(iflow_mix_mc_run(&p, tr[0], &err), 0); /* greedy */
        p.plan = IFLOW_MIX_PLAN_BEST;
        p.plan_stats = &ps[1];
        for (int t = 0; t < 2; t++) {
            p.threads = t ? 3 : 1;
            ck_assert_int_eq(iflow_mix_mc_run(&p, tr[t], &err), 0);
            if (t == 0) p.plan_stats = NULL;
        }
        for (size_t i = 0; i < nq; i++) {
            ck_assert(tr[0][i].mean[IFLOW_MIX_L] == tr[1][i].mean[IFLOW_MIX_L]);
            ck_assert_double_eq_tol(tr[0][i].mean[IFLOW_MIX_L], ex[i].mean[IFLOW_MIX_L], tol);
        }
        ck_assert_double_gt(ps[0].pairs, 0);
        ck_assert_double_ge(ps[1].pairs, ps[1].own_ball_pairs);
    }
    free(s);
    free(ex);
    free(tr[0]);
    free(tr[1]);
}
END_TEST

START_TEST(test_threads_identical) {
    size_t n = 700, d = 5;
    double *s = clustered_points(n, d, 30, 0.02, 12);
    size_t *ga = malloc(n * sizeof *ga), *gb = malloc(n * sizeof *gb);
    for (size_t i = 0; i < n; i++) {
        ga[i] = i / 7;
        gb[i] = i % 3;
    }
    for (int trunc = 0; trunc < 2; trunc++) {
        iflow_estimate e[2];
        iflow_mi_estimate ma[2], mb[2];
        double lo[2], up[2];
        for (int t = 0; t < 2; t++) {
            iflow_sp_options o = opts(0.03, 6, 77);
            o.tolerance = trunc ? 1e-6 : 0;
            o.threads = t + 1;
            ck_assert_int_eq(iflow_sp_entropy(s, NULL, n, d, &o, &e[t], NULL), 0);
            ck_assert_int_eq(
                iflow_sp_grouped_mi2(s, n, d, ga, 100, gb, 3, &o, &ma[t], &mb[t], NULL), 0);
            ck_assert_int_eq(iflow_pairwise_bounds(s, n, d, 0.03, t + 1, &lo[t], &up[t], NULL), 0);
        }
        ck_assert(e[0].value == e[1].value && e[0].se == e[1].se);
        ck_assert(ma[0].mi.value == ma[1].mi.value && mb[0].mi.value == mb[1].mi.value);
        ck_assert(ma[0].h_cond.value == ma[1].h_cond.value && mb[0].mi.se == mb[1].mi.se);
        ck_assert(lo[0] == lo[1] && up[0] == up[1]);
    }
    free(s);
    free(ga);
    free(gb);
}
END_TEST

START_TEST(test_grouped_singletons) {
    /* One sample per group: h(T|G) is the Gaussian entropy exactly; I = h - H_c up to MC. */
    size_t n = 64, d = 3;
    double *s = uniform_points(n, d, -1, 1, 21);
    size_t *g = malloc(n * sizeof *g);
    for (size_t i = 0; i < n; i++) g[i] = n - 1 - i;
    iflow_sp_options o = opts(0.2, 200, 4);
    iflow_mi_estimate m;
    ck_assert_int_eq(iflow_sp_grouped_mi(s, n, d, g, n, &o, &m, NULL), 0);
    ck_assert_uint_eq(m.n_groups, n);
    ck_assert_double_eq(m.h_cond.value, iflow_gaussian_entropy(d, 0.2));
    ck_assert_double_eq(m.h_cond.se, 0.0);
    ck_assert_double_eq_tol(m.mi.value, m.h.value - m.h_cond.value, 4 * m.h.se_mc);
    ck_assert_double_le(m.mi.value, log((double)n) + 4 * m.mi.se_mc);
    ck_assert_int_eq(m.mi.se_kind, IFLOW_SE_NA); /* one sample per group */
    /* The same h as iflow_sp_entropy with the same draws. */
    iflow_estimate h;
    ck_assert_int_eq(iflow_sp_entropy(s, NULL, n, d, &o, &h, NULL), 0);
    ck_assert_double_eq_tol(m.h.value, h.value, 1e-12);
    free(s);
    free(g);
}
END_TEST

START_TEST(test_grouped_two_clusters) {
    /* Two groups whose samples sit far apart: T reveals the group, I = ln 2 (to e^-100). */
    size_t n = 100, d = 2;
    double *s = uniform_points(n, d, -0.2, 0.2, 3);
    size_t *g = malloc(n * sizeof *g);
    for (size_t i = 0; i < n; i++) {
        g[i] = i % 2;
        s[i * d] += g[i] ? 5.0 : 0.0;
    }
    iflow_sp_options o = opts(0.1, 16, 8);
    iflow_mi_estimate m;
    ck_assert_int_eq(iflow_sp_grouped_mi(s, n, d, g, 2, &o, &m, NULL), 0);
    ck_assert_uint_eq(m.n_groups, 2);
    ck_assert_double_eq_tol(m.mi.value, log(2.0), fmax(1e-9, 4 * m.mi.se));
    ck_assert_double_eq_tol(m.mi.value, m.h.value - m.h_cond.value, 1e-9);
    free(s);
    free(g);
}
END_TEST

START_TEST(test_grouped_range_and_mi2) {
    size_t n = 400, d = 4, n_ga = 50, n_gb = 3;
    double *s = clustered_points(n, d, 25, 0.05, 31);
    size_t *ga = malloc(n * sizeof *ga), *gb = malloc(n * sizeof *gb);
    iflow_rng r;
    iflow_rng_init(&r, 5, 5);
    for (size_t i = 0; i < n; i++) {
        ga[i] = iflow_rng_below(&r, n_ga - 1); /* group n_ga - 1 stays empty */
        gb[i] = iflow_rng_below(&r, n_gb);
    }
    for (int trunc = 0; trunc < 2; trunc++) {
        iflow_sp_options o = opts(0.1, 8, 2);
        o.tolerance = trunc ? 1e-6 : 0;
        iflow_mi_estimate a, b, a2, b2;
        ck_assert_int_eq(iflow_sp_grouped_mi(s, n, d, ga, n_ga, &o, &a, NULL), 0);
        ck_assert_int_eq(iflow_sp_grouped_mi(s, n, d, gb, n_gb, &o, &b, NULL), 0);
        ck_assert_int_eq(iflow_sp_grouped_mi2(s, n, d, ga, n_ga, gb, n_gb, &o, &a2, &b2, NULL), 0);
        ck_assert_uint_eq(a.n_groups, n_ga - 1);
        const iflow_mi_estimate *all[4] = {&a, &b, &a2, &b2};
        double cap[4] = {log((double)n_ga - 1), log((double)n_gb), log((double)n_ga - 1),
                         log((double)n_gb)};
        for (int t = 0; t < 4; t++) {
            ck_assert_double_ge(all[t]->mi.value, -4 * all[t]->mi.se);
            ck_assert_double_le(all[t]->mi.value, cap[t] + 4 * all[t]->mi.se);
            ck_assert_double_eq_tol(all[t]->mi.value, all[t]->h.value - all[t]->h_cond.value, 1e-9);
        }
        ck_assert_double_eq_tol(a.mi.value, a2.mi.value, 1e-12);
        ck_assert_double_eq_tol(a.mi.se, a2.mi.se, 1e-12);
        ck_assert_double_eq_tol(b.mi.value, b2.mi.value, 1e-12);
        ck_assert_double_eq_tol(b.h_cond.value, b2.h_cond.value, 1e-12);
        ck_assert_double_eq_tol(a.h.value, b2.h.value, 1e-12);
    }
    free(s);
    free(ga);
    free(gb);
}
END_TEST

START_TEST(test_invalid_arguments) {
    double s[6] = {0, 1, 2, 3, 4, 5}, w[3] = {1, -1, 1};
    size_t g[3] = {0, 1, 2};
    iflow_sp_options o = opts(0.1, 4, 1);
    iflow_estimate e;
    iflow_mi_estimate m;
    iflow_error err;
    double lo, up;
    o.beta = 0;
    ck_assert_int_eq(iflow_sp_entropy(s, NULL, 3, 2, &o, &e, &err), IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "beta"));
    o.beta = 0.1;
    ck_assert_int_eq(iflow_sp_entropy(s, NULL, 0, 2, &o, &e, &err), IFLOW_EINVAL);
    o.mc = 0;
    ck_assert_int_eq(iflow_sp_entropy(s, NULL, 3, 2, &o, &e, &err), IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "mc"));
    o.mc = 4;
    ck_assert_int_eq(iflow_sp_entropy(s, w, 3, 2, &o, &e, &err), IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "weight 1"));
    s[3] = NAN;
    ck_assert_int_eq(iflow_sp_entropy(s, NULL, 3, 2, &o, &e, &err), IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "sample 1, coordinate 1"));
    ck_assert_int_eq(iflow_pairwise_bounds(s, 3, 2, 0.1, 0, &lo, &up, &err), IFLOW_EINVAL);
    s[3] = 3;
    ck_assert_int_eq(iflow_pairwise_bounds(s, 3, 2, -1, 0, &lo, &up, &err), IFLOW_EINVAL);
    ck_assert_int_eq(iflow_sp_grouped_mi(s, 3, 2, g, 2, &o, &m, &err), IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "group_a[2] = 2"));
    ck_assert_int_eq(iflow_sp_grouped_mi(s, 3, 2, g, 3, &o, &m, &err), 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("entropy");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_exp_kernel);
    tcase_add_test(tc, test_one_centre);
    tcase_add_test(tc, test_two_far_centres);
    tcase_add_test(tc, test_quadrature_1d);
    tcase_add_test(tc, test_quadrature_2d);
    tcase_add_test(tc, test_between_pairwise_bounds);
    tcase_add_test(tc, test_se_calibrated);
    tcase_add_test(tc, test_weights_duplicate);
    tcase_add_test(tc, test_truncated_matches_exact);
    tcase_add_test(tc, test_truncated_blocks_match_exact);
    tcase_add_test(tc, test_bottom_up_plan_matches_exact);
    tcase_add_test(tc, test_threads_identical);
    tcase_add_test(tc, test_grouped_singletons);
    tcase_add_test(tc, test_grouped_two_clusters);
    tcase_add_test(tc, test_grouped_range_and_mi2);
    tcase_add_test(tc, test_invalid_arguments);
    suite_add_tcase(s, tc);
    int failed = iflow_check_run(s);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
