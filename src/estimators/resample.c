/* Bootstrap resampling of the estimation inputs (the authors' protocol, reproduced only to explain
 * the paper's numbers) and the moments of the entropy of the weights it gives the inputs. */
#include "infoflow/resample.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "infoflow/rng.h"

/* Stream tag "BOOT": apart from mi.c's "SAMP" (noise) and "SPSP" (SP draws) for the same seed
 * and epoch, so a bootstrap draw never reuses or shifts the draws of `resample = none`. */
enum { STREAM_BOOTSTRAP = 0x424f4f54 };

void iflow_bootstrap_indices(uint64_t seed, long epoch, size_t m, size_t *idx) {
    iflow_rng rng;
    iflow_rng_init(&rng, seed, iflow_rng_stream3(STREAM_BOOTSTRAP, (uint64_t)epoch, 0));
    for (size_t i = 0; i < m; i++) idx[i] = (size_t)iflow_rng_below(&rng, m);
}

int iflow_bootstrap_draw(const double *x, const int *y, size_t m, size_t d, uint64_t seed,
                         long epoch, double **xb, int **yb, iflow_error *err) {
    *xb = NULL;
    if (yb) *yb = NULL;
    if (m == 0 || d == 0)
        return iflow_error_set(err, IFLOW_EINVAL, "bootstrap of %zu inputs of dimension %zu", m, d);
    if (m > SIZE_MAX / sizeof(double) / d)
        return iflow_error_set(err, IFLOW_EINVAL, "bootstrap of %zu x %zu inputs: too large", m, d);
    size_t *idx = malloc(m * sizeof *idx);
    double *xs = malloc(m * d * sizeof *xs);
    int *ys = y && yb ? malloc(m * sizeof *ys) : NULL;
    if (!idx || !xs || (y && yb && !ys)) {
        free(idx);
        free(xs);
        free(ys);
        return iflow_error_set(err, IFLOW_ENOMEM, "out of memory for a bootstrap of %zu inputs", m);
    }
    iflow_bootstrap_indices(seed, epoch, m, idx);
    for (size_t i = 0; i < m; i++) {
        memcpy(xs + i * d, x + idx[i] * d, d * sizeof *xs);
        if (ys) ys[i] = y[idx[i]];
    }
    free(idx);
    *xb = xs;
    if (yb) *yb = ys;
    return 0;
}

/* Entropy of the bootstrap weights. Input j is drawn k_j times, (k_1..k_m) ~ Multinomial(m;
 * 1/m, ..., 1/m), and the mixture puts weight k_j / m on it, so (0 ln 0 = 0)
 *
 *     H = -sum_j (k_j/m) ln(k_j/m) = ln m - (1/m) sum_j f(k_j),   f(k) = k ln k.
 *
 * Each k_j is marginally Binomial(m, 1/m), hence E[H] = ln m - E[f(k)]. For the spread, with
 * S = sum_j f(k_j) and the exchangeable pair (k_1, k_2) ~ Multinomial(m; 1/m, 1/m, 1 - 2/m),
 *
 *     Var H = Var S / m^2,   Var S = m Var f(k_1) + m (m - 1) Cov(f(k_1), f(k_2)).
 *
 * The expectations are sums over the pmfs, each term exp(log pmf) with log-gamma coefficients:
 *     ln P(k_1 = a)          = ln m!/(a!(m-a)!) - a ln m + (m-a) ln(1 - 1/m)
 *     ln P(k_1 = a, k_2 = b) = ln m!/(a! b! (m-a-b)!) - (a+b) ln m + (m-a-b) ln(1 - 2/m).
 * f(0) = f(1) = 0, so terms start at 2. Both pmfs decrease in a (and b) from 1 on, so a loop
 * stops once ln P < -800: every later term is below e^-800 m^2 ln^2 m, nothing in double. */
#define LOG_TINY (-800.0)

/* n * log_p, with 0 * (-inf) = 0 (n = 0 copies of an impossible outcome). */
static double n_log(double n, double log_p) { return n == 0 ? 0 : n * log_p; }

static double f_klogk(double k) { return k * log(k); }

int iflow_bootstrap_entropy(size_t m, double *mean, double *sd, iflow_error *err) {
    if (m == 0) return iflow_error_set(err, IFLOW_EINVAL, "bootstrap entropy of 0 inputs");
    double M = (double)m, log_m = log(M), lf_m = lgamma(M + 1);
    double lq1 = log1p(-1 / M), lq2 = m > 2 ? log1p(-2 / M) : -INFINITY;
    long double ef = 0, ef2 = 0, eff = 0;
    for (size_t a = 2; a <= m; a++) {
        double A = (double)a;
        double lp = lf_m - lgamma(A + 1) - lgamma(M - A + 1) - A * log_m + n_log(M - A, lq1);
        if (lp < LOG_TINY) break;
        double fa = f_klogk(A);
        ef += expl(lp) * fa;
        ef2 += expl(lp) * fa * fa;
        for (size_t b = 2; a + b <= m; b++) {
            double B = (double)b;
            double lp2 = lf_m - lgamma(A + 1) - lgamma(B + 1) - lgamma(M - A - B + 1) -
                         (A + B) * log_m + n_log(M - A - B, lq2);
            if (lp2 < LOG_TINY) break;
            eff += expl(lp2) * fa * f_klogk(B);
        }
    }
    long double var_s = M * (ef2 - ef * ef) + M * (M - 1) * (eff - ef * ef);
    *mean = log_m - (double)ef;
    /* Var S >= 0 in exact arithmetic; a rounding residue below zero means sd 0. */
    *sd = var_s > 0 ? (double)sqrtl(var_s) / M : 0;
    return 0;
}
