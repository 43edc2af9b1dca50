/* Tests of heteroscedastic SP (entropy.h: iflow_sp_entropy_hetero, iflow_sp_grouped_hetero) and
 * of the conditional information (iflow_sp_grouped_cmi) against truths computed here by 1-D
 * quadrature, plus the invariances (isotropic limit, truncation, thread count). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>

#include "infoflow/entropy.h"
#include "infoflow/rng.h"
#include "check_util.h"

static iflow_sp_options opts(size_t mc, uint64_t seed, double tolerance, int threads) {
    iflow_sp_options o;
    iflow_sp_options_default(&o);
    o.beta = 1.0; /* not used by the heteroscedastic estimators */
    o.mc = mc;
    o.seed = seed;
    o.tolerance = tolerance;
    o.threads = threads;
    return o;
}

static double normal_pdf(double x, double mu, double sd) {
    double z = (x - mu) / sd;
    return exp(-0.5 * z * z) / (sd * sqrt(2 * M_PI));
}

static double *normals(size_t count, double mu, double sd, uint64_t seed, uint64_t stream) {
    iflow_rng r;
    iflow_rng_init(&r, seed, stream);
    double *x = malloc(count * sizeof *x);
    for (size_t i = 0; i < count; i++) x[i] = mu + sd * iflow_rng_normal(&r);
    return x;
}

/* Per-coordinate stds that vary over two decades, from the samples' own values. */
static double *spread_sigma(const double *s, size_t n, size_t d) {
    double *sig = malloc(n * d * sizeof *sig);
    for (size_t i = 0; i < n * d; i++) sig[i] = 0.02 + 0.5 * fabs(sin(7.0 * s[i] + (double)i));
    return sig;
}

START_TEST(test_isotropic_limit) {
    /* sigma_j = beta for every sample (1 or d columns) is the isotropic estimator: same draws,
     * same sums up to rounding, exact and truncated. */
    size_t n = 300, d = 3;
    double beta = 0.3, *s = normals(n * d, 0, 1, 5, 1);
    double *s1 = malloc(n * sizeof *s1), *sd = malloc(n * d * sizeof *sd);
    for (size_t i = 0; i < n; i++) s1[i] = beta;
    for (size_t i = 0; i < n * d; i++) sd[i] = beta;
    for (int trunc = 0; trunc < 2; trunc++) {
        iflow_sp_options o = opts(8, 3, trunc ? 1e-6 : 0, 0);
        o.beta = beta;
        iflow_estimate iso, h1, hd;
        iflow_error err = {0};
        ck_assert_int_eq(iflow_sp_entropy(s, NULL, n, d, &o, &iso, &err), 0);
        ck_assert_int_eq(iflow_sp_entropy_hetero(s, s1, 1, n, d, &o, &h1, &err), 0);
        ck_assert_int_eq(iflow_sp_entropy_hetero(s, sd, d, n, d, &o, &hd, &err), 0);
        /* truncated: each within 1e-6 of the same exact sums (the radii differ) */
        double tol = trunc ? 2e-6 : 1e-10;
        ck_assert_double_eq_tol(h1.value, iso.value, tol);
        ck_assert_double_eq_tol(hd.value, iso.value, tol);
        ck_assert_double_eq_tol(h1.se, iso.se, tol);
        ck_assert_double_eq_tol(hd.se, iso.se, tol);
        /* grouped: every sample its own group a, 5 groups b */
        size_t *ga = malloc(n * sizeof *ga), *gb = malloc(n * sizeof *gb);
        for (size_t i = 0; i < n; i++) ga[i] = i, gb[i] = i % 5;
        iflow_mi_estimate ia, ib, ha, hb;
        ck_assert_int_eq(iflow_sp_grouped_mi2(s, n, d, ga, n, gb, 5, &o, &ia, &ib, &err), 0);
        ck_assert_int_eq(
            iflow_sp_grouped_hetero(s, sd, d, n, d, ga, n, gb, 5, &o, &ha, &hb, NULL, &err), 0);
        ck_assert_double_eq_tol(ha.mi.value, ia.mi.value, 2 * tol);
        ck_assert_double_eq_tol(hb.mi.value, ib.mi.value, 2 * tol);
        ck_assert_double_eq_tol(ha.h_cond.value, ia.h_cond.value, 2 * tol);
        ck_assert_double_eq_tol(hb.h_cond.value, ib.h_cond.value, 2 * tol);
        free(ga);
        free(gb);
    }
    free(s);
    free(s1);
    free(sd);
}
END_TEST

START_TEST(test_truncation_and_threads) {
    /* Stds spread over two decades: the truncated sums stay within the tolerance of the exact
     * ones (same draws: every ln g within tol, so the mean too), and neither depends on the
     * thread count, bit for bit. */
    size_t n = 2000, d = 2;
    double *s = normals(n * d, 0, 1, 9, 2), *sig = spread_sigma(s, n, d);
    double *s1 = malloc(n * sizeof *s1);
    for (size_t i = 0; i < n; i++) s1[i] = sig[i * d];
    for (size_t cols = 1; cols <= d; cols += d - 1) {
        const double *sg = cols == 1 ? s1 : sig;
        iflow_estimate ex1, ex2, tr1, tr2;
        iflow_error err = {0};
        iflow_sp_options o = opts(4, 11, 0, 1);
        ck_assert_int_eq(iflow_sp_entropy_hetero(s, sg, cols, n, d, &o, &ex1, &err), 0);
        o.threads = 2;
        ck_assert_int_eq(iflow_sp_entropy_hetero(s, sg, cols, n, d, &o, &ex2, &err), 0);
        o.tolerance = 1e-6;
        ck_assert_int_eq(iflow_sp_entropy_hetero(s, sg, cols, n, d, &o, &tr2, &err), 0);
        o.threads = 1;
        ck_assert_int_eq(iflow_sp_entropy_hetero(s, sg, cols, n, d, &o, &tr1, &err), 0);
        ck_assert(memcmp(&ex1, &ex2, sizeof ex1) == 0);
        ck_assert(memcmp(&tr1, &tr2, sizeof tr1) == 0);
        ck_assert_double_le(fabs(tr1.value - ex1.value), 1e-6);
        ck_assert_double_ne(tr1.value, ex1.value); /* truncation did skip centres */
    }
    free(s);
    free(s1);
    free(sig);
}
END_TEST

/* h of the 1-D mixture (1/m) sum_k N(mu_k, sd_k^2) by the trapezoid rule on a fine grid (the
 * integrand is smooth and decays like a Gaussian: the rule converges geometrically). */
static double mixture_entropy_1d(const double *mu, const double *sd, size_t m) {
    double lo = INFINITY, hi = -INFINITY, step = INFINITY;
    for (size_t k = 0; k < m; k++) {
        lo = fmin(lo, mu[k] - 12 * sd[k]);
        hi = fmax(hi, mu[k] + 12 * sd[k]);
        step = fmin(step, sd[k] / 40);
    }
    double h = 0;
    for (double t = lo; t <= hi; t += step) {
        double p = 0;
        for (size_t k = 0; k < m; k++) p += normal_pdf(t, mu[k], sd[k]) / (double)m;
        if (p > 0) h -= p * log(p) * step;
    }
    return h;
}

START_TEST(test_product_channel_grid) {
    /* X uniform on a 5 x 5 x 5 grid, T_c = x_c + sigma(x_c) z_c with a std per input value
     * and coordinate: a product channel, so h(T) = sum_c h(T_c) and I(X;T) = sum_c I(X_c;T_c),
     * each by 1-D quadrature. One sample per input: the mixture is the exact output density,
     * so the estimates are unbiased and must lie within 4 Monte Carlo se. */
    enum { M = 5, D = 3 };
    const double grid[M] = {-1.0, -0.4, 0.1, 0.5, 1.2};
    const double stds[D][M] = {{0.10, 0.30, 0.05, 0.20, 0.40},
                               {0.25, 0.08, 0.15, 0.35, 0.12},
                               {0.50, 0.20, 0.30, 0.06, 0.18}};
    size_t n = M * M * M;
    double *s = malloc(n * D * sizeof *s), *sig = malloc(n * D * sizeof *sig);
    size_t *gx = malloc(n * sizeof *gx), *gy = malloc(n * sizeof *gy);
    for (size_t i = 0; i < n; i++) {
        size_t idx[D] = {i % M, i / M % M, i / (M * M)};
        for (size_t c = 0; c < D; c++) {
            s[i * D + c] = grid[idx[c]];
            sig[i * D + c] = stds[c][idx[c]];
        }
        gx[i] = i;
        gy[i] = idx[0]; /* Y = X_1, a function of X */
    }
    double h_true = 0, hc_true = 0, iy_true = 0;
    for (size_t c = 0; c < D; c++) {
        double hc = mixture_entropy_1d(grid, stds[c], M), hcond = 0;
        for (size_t k = 0; k < M; k++) hcond += 0.5 * log(2 * M_PI * M_E * stds[c][k] * stds[c][k]);
        h_true += hc;
        hc_true += hcond / M;
        if (c == 0) iy_true = hc - hcond / M;
    }
    iflow_sp_options o = opts(4000, 21, 1e-9, 0);
    iflow_estimate h, cond;
    iflow_mi_estimate ix, iy;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_sp_entropy_hetero(s, sig, D, n, D, &o, &h, &err), 0);
    ck_assert_double_le(fabs(h.value - h_true), 4 * h.se_mc); /* the grid is not random */
    ck_assert_int_eq(
        iflow_sp_grouped_hetero(s, sig, D, n, D, gx, n, gy, M, &o, &ix, &iy, &cond, &err), 0);
    /* singleton groups: the total se is n/a; the grid is not random, so the draws are */
    ck_assert_int_eq(ix.mi.se_kind, IFLOW_SE_NA);
    ck_assert_double_le(fabs(ix.mi.value - (h_true - hc_true)), 4 * ix.mi.se_mc);
    ck_assert_double_eq_tol(ix.h_cond.value, hc_true, 1e-12); /* exact for singletons */
    ck_assert_double_le(fabs(iy.mi.value - iy_true), 4 * iy.mi.se_mc);
    /* I(X;T|Y) = I(X_2, X_3; T_2, T_3): the other two coordinates' information */
    ck_assert_double_le(fabs(cond.value - (h_true - hc_true - iy_true)), 4 * cond.se_mc);
    ck_assert_double_lt(h.se_mc, 0.01); /* the test has teeth */
    free(s);
    free(sig);
    free(gx);
    free(gy);
}
END_TEST

/* Adilova, Geiger & Fischer's channel in one coordinate: F = 2X + 0.5 ~ N(0.5, 4), T = F eps,
 * eps ~ N(1, v). I(X;T) = h(T) - h(T|X), h(T|X) = (1/2) ln(2 pi e v) + E ln|F|. Substitutions
 * that remove the singularities: F = +-e^y for E ln|F|; for the density of T,
 * p(t) = int p_eps(e) p_F(t/e) / |e| de with e = +-e^w (no 1/|e| left), and t = +-e^y outside.
 * Trapezoid rule on smooth integrands decaying at both ends. */
static double adilova_info_1d(double v) {
    const double mu = 0.5, sd = 2.0, se = sqrt(v), step = 0.01;
    double eln = 0;
    for (double y = -40; y <= 6; y += step)
        for (int sg = -1; sg <= 1; sg += 2) eln += y * normal_pdf(sg * exp(y), mu, sd) * exp(y);
    eln *= step;
    double h = 0;
    for (double y = -30; y <= 6; y += step) {
        for (int sg = -1; sg <= 1; sg += 2) {
            double t = sg * exp(y), p = 0;
            for (double w = -30; w <= 3; w += step)
                for (int se2 = -1; se2 <= 1; se2 += 2)
                    p += normal_pdf(se2 * exp(w), 1.0, se) * normal_pdf(se2 * t * exp(-w), mu, sd);
            p *= step;
            if (p > 0) h -= p * log(p) * exp(y) * step;
        }
    }
    return h - (0.5 * log(2 * M_PI * M_E * v) + eln);
}

START_TEST(test_adilova_dropout) {
    /* X ~ N(0, I_d), f = 2x + 0.5, Gaussian dropout of variance v: sigma_jc = sqrt(v) |f_jc|.
     * I(X;T) = d I_1(v) by quadrature (1.7908 and 1.1420 nats per coordinate in the paper). The
     * estimate from n samples is random in the samples as well as in the draws: B independent
     * sample sets, the truth within 4 se of their mean, se from their spread (covers both). */
    const double vs[2] = {0.1, 0.4};
    const double published[2] = {1.7908, 1.1420};
    enum { B = 6 };
    size_t n = 2000;
    for (int iv = 0; iv < 2; iv++) {
        double i1 = adilova_info_1d(vs[iv]);
        ck_assert_double_eq_tol(i1, published[iv], 5e-4); /* the quadrature against the paper */
        for (size_t d = 1; d <= 2; d++) {
            double est[B], mean = 0, var = 0;
            for (int b = 0; b < B; b++) {
                double *f = normals(n * d, 0.5, 2.0, 100 + (uint64_t)b, d);
                double *sig = malloc(n * d * sizeof *sig);
                size_t *g = malloc(n * sizeof *g);
                for (size_t i = 0; i < n * d; i++) sig[i] = sqrt(vs[iv]) * fabs(f[i]);
                for (size_t i = 0; i < n; i++) g[i] = i;
                iflow_sp_options o = opts(16, 7 + (uint64_t)b, 1e-6, 0);
                iflow_mi_estimate e;
                iflow_error err = {0};
                ck_assert_int_eq(iflow_sp_grouped_hetero(f, sig, d, n, d, g, n, NULL, 0, &o, &e,
                                                         NULL, NULL, &err),
                                 0);
                est[b] = e.mi.value;
                mean += est[b] / B;
                free(f);
                free(sig);
                free(g);
            }
            for (int b = 0; b < B; b++) var += (est[b] - mean) * (est[b] - mean) / (B - 1);
            double se = sqrt(var / B);
            ck_assert_double_le(fabs(mean - (double)d * i1), 4 * se);
            ck_assert_double_lt(se, 0.05);
        }
    }
}
END_TEST

START_TEST(test_conditional_is_the_paired_difference) {
    /* I(X;T|Y) from iflow_sp_grouped_cmi: the difference of the two columns (same draws), >= 0
     * here (X carries more than its label), with an se no larger than the unpaired one. */
    size_t n = 400, d = 2, classes = 4;
    double *s = normals(n * d, 0, 1, 3, 4);
    size_t *gx = malloc(n * sizeof *gx), *gy = malloc(n * sizeof *gy);
    for (size_t i = 0; i < n; i++)
        gx[i] = i, gy[i] = (size_t)(s[i * d] > 0) * 2 + (s[i * d + 1] > 0);
    iflow_sp_options o = opts(16, 5, 1e-6, 0);
    o.beta = 0.4;
    iflow_mi_estimate ix, iy, jx, jy;
    iflow_estimate cond;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_sp_grouped_cmi(s, n, d, gx, n, gy, classes, &o, &ix, &iy, &cond, &err),
                     0);
    ck_assert_int_eq(iflow_sp_grouped_mi2(s, n, d, gx, n, gy, classes, &o, &jx, &jy, &err), 0);
    ck_assert(memcmp(&ix, &jx, sizeof ix) == 0 && memcmp(&iy, &jy, sizeof iy) == 0);
    ck_assert_double_eq_tol(cond.value, ix.mi.value - iy.mi.value, 1e-12);
    ck_assert_double_gt(cond.value, 0);
    ck_assert_double_gt(cond.se_mc, 0); /* one sample per group: the total se is n/a */
    ck_assert_double_le(cond.se_mc, ix.mi.se_mc + iy.mi.se_mc);
    /* Y not a function of X: refused, naming the groups */
    gx[1] = 0;
    gy[0] = 0, gy[1] = 1;
    ck_assert_int_eq(iflow_sp_grouped_cmi(s, n, d, gx, n, gy, classes, &o, &ix, &iy, &cond, &err),
                     IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "function of group_a"));
    free(s);
    free(gx);
    free(gy);
}
END_TEST

START_TEST(test_invalid_sigma) {
    double s[4] = {0, 1, 2, 3}, sig[4] = {0.1, 0.2, -0.3, 0.1};
    iflow_sp_options o = opts(4, 1, 0, 0);
    iflow_estimate e;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_sp_entropy_hetero(s, sig, 2, 2, 2, &o, &e, &err), IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "sample 1, coordinate 0"));
    ck_assert_int_eq(iflow_sp_entropy_hetero(s, sig, 3, 2, 2, &o, &e, &err), IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "1 or d = 2 columns"));
    sig[2] = NAN;
    ck_assert_int_eq(iflow_sp_entropy_hetero(s, sig, 1, 4, 1, &o, &e, &err), IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "sample 2 is"));
    ck_assert_int_eq(iflow_sp_entropy_hetero(s, NULL, 1, 4, 1, &o, &e, &err), IFLOW_EINVAL);
}
END_TEST

/* Runs `infoflow ARGS 2>&1` and returns its output (caller frees) and exit status. */
static char *run_cli(const char *args, int *status) {
    const char *bin = getenv("IFLOW_BIN");
    ck_assert_ptr_nonnull(bin);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", bin, args);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char *out = calloc(65536, 1);
    size_t len = fread(out, 1, 65535, p);
    out[len] = '\0';
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

START_TEST(test_cli_sigma_file) {
    /* `infoflow entropy --sigma-file` prints the library's estimate; a bad std is refused
     * naming the file and its line (after a comment line), a wrong shape naming both counts. */
    char dir[] = "/tmp/iflow_hetero_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char sp[256], gp[256], bad[256], mp[256], args[1024];
    snprintf(sp, sizeof sp, "%s/s.csv", dir);
    snprintf(gp, sizeof gp, "%s/sig.csv", dir);
    snprintf(bad, sizeof bad, "%s/bad.csv", dir);
    snprintf(mp, sizeof mp, "%s/g.csv", dir);
    size_t n = 200, d = 2;
    double *s = normals(n * d, 0, 1, 2, 5), *sig = spread_sigma(s, n, d);
    FILE *fs = fopen(sp, "w"), *fg = fopen(gp, "w"), *fb = fopen(bad, "w"), *fm = fopen(mp, "w");
    fprintf(fb, "# stds\n");
    for (size_t i = 0; i < n; i++) {
        fprintf(fs, "%.17g,%.17g\n", s[i * d], s[i * d + 1]);
        fprintf(fm, "%zu,%.17g\n", i % 3, s[i * d]);
        fprintf(fg, "%.17g,%.17g\n", sig[i * d], sig[i * d + 1]);
        fprintf(fb, "%.17g,%.17g\n", sig[i * d], i == 4 ? 0.0 : sig[i * d + 1]);
    }
    fclose(fs);
    fclose(fg);
    fclose(fb);
    fclose(fm);
    iflow_sp_options o = opts(16, 1, 1e-6, 0);
    iflow_estimate e;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_sp_entropy_hetero(s, sig, d, n, d, &o, &e, &err), 0);
    int st;
    snprintf(args, sizeof args, "entropy --mc 16 --seed 1 --tolerance 1e-6 --sigma-file '%s' '%s'",
             gp, sp);
    char *out = run_cli(args, &st);
    ck_assert_int_eq(st, 0);
    char want[64];
    snprintf(want, sizeof want, "\"h\":%.10g,", e.value);
    ck_assert_msg(strstr(out, want) != NULL, "%s: no %s", out, want);
    free(out);
    snprintf(args, sizeof args, "entropy --sigma-file '%s' '%s'", bad, sp);
    out = run_cli(args, &st);
    ck_assert_int_eq(st, 1);
    snprintf(want, sizeof want, "bad.csv:6: column 2: noise std 0 must be > 0");
    ck_assert_msg(strstr(out, want) != NULL, "%s", out);
    free(out);
    snprintf(args, sizeof args, "mi --group-col 0 --sigma-file '%s' '%s'", gp, mp);
    out = run_cli(args, &st); /* one sample column: 2 std columns do not fit */
    ck_assert_int_eq(st, 1);
    ck_assert_msg(strstr(out, "got 200 x 2") != NULL, "%s", out);
    free(out);
    snprintf(args, sizeof args, "entropy --sigma 1 --sigma-file '%s' '%s'", gp, sp);
    out = run_cli(args, &st);
    ck_assert_int_eq(st, 2);
    free(out);
    free(s);
    free(sig);
    iflow_rmtree(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("hetero");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_isotropic_limit);
    tcase_add_test(tc, test_truncation_and_threads);
    tcase_add_test(tc, test_product_channel_grid);
    tcase_add_test(tc, test_adilova_dropout);
    tcase_add_test(tc, test_conditional_is_the_paired_difference);
    tcase_add_test(tc, test_invalid_sigma);
    tcase_add_test(tc, test_cli_sigma_file);
    suite_add_tcase(s, tc);
    int failed = iflow_check_run(s);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
