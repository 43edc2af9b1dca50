/* mixture: the hot loop of every SP estimate, ln sum_j w_j exp(-||t - s_j||^2 / (2 beta^2)) for
 * many query points t, summed exactly (tiled) or over k-d tree candidates. Internal header. */
#ifndef IFLOW_MIXTURE_H
#define IFLOW_MIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "infoflow/error.h"
#include "infoflow/rng.h"

/* Explicit fused multiply-add: the build is ISO C11, where gcc does not contract a * b + c. */
#if defined(__FMA__)
#define IFLOW_FMA(a, b, c) __builtin_fma((a), (b), (c))
#else
#define IFLOW_FMA(a, b, c) ((a) * (b) + (c))
#endif

/* exp(x) for x <= 709 without libm, written so gcc vectorises it inside `omp simd` loops.
 * x = k ln2 + r with k = round(x / ln2), |r| <= ln2/2 (Cody-Waite: ln2 = C1 + C2 with C1 short
 * enough that k C1 is exact for |k| <= 1024, so x - k C1 is exact); e^r by its Taylor
 * polynomial of degree 12 (truncation error r^13/13! < 1.7e-16 for |r| <= 0.347); 2^k built in
 * the exponent bits. Relative error ~2e-16; exactly 0 for x < -708 (no subnormals); NaN
 * propagates. Always inlined: a call would stop the caller's loop from vectorising.
 * Its steps are macros, shared with the mixture kernel's interleaved copy for 4 or 8 queries (EXPN
 * in mixture_kernel.c), so the two stay the same operations in the same order. */
#define IFLOW_EXP_SHIFTER 0x1.8p52 /* adding it rounds to an integer held in the low bits */
#define IFLOW_EXP_KD(x)   IFLOW_FMA(x, 1.4426950408889634, IFLOW_EXP_SHIFTER)
/* x - k C1 as one fused operation: C1 = 22713/2^15, so k C1 is exact for |k| < 2^38 and
 * rounding it first (a multiply, then a subtraction) gives the same bits. */
#define IFLOW_EXP_R1(x, k) IFLOW_FMA(-(k), 6.93145751953125e-1, x)
#define IFLOW_EXP_R2(r, k) ((r) - (k)*1.42860682030941723212e-6) /* C2: rounded, not fused */
/* Horner from 1/12!: p = fma(p, r, c) for each c, highest degree first. */
#define IFLOW_EXP_P12 (1.0 / 479001600.0)
#define IFLOW_EXP_COEFS(X)                                                                         \
    X(1.0 / 39916800.0)                                                                            \
    X(1.0 / 3628800.0)                                                                             \
    X(1.0 / 362880.0)                                                                              \
    X(1.0 / 40320.0)                                                                               \
    X(1.0 / 5040.0)                                                                                \
    X(1.0 / 720.0)                                                                                 \
    X(1.0 / 120.0)                                                                                 \
    X(1.0 / 24.0)                                                                                  \
    X(1.0 / 6.0)                                                                                   \
    X(0.5)                                                                                         \
    X(1.0)                                                                                         \
    X(1.0)
#define IFLOW_EXP_MIN (-708.0) /* below it the result is 0 */

/* 2^k from kd = IFLOW_EXP_KD(x): the shifter's high bits fall off the top. */
static inline __attribute__((always_inline)) double iflow_exp_scale(double kd) {
    uint64_t kbits;
    memcpy(&kbits, &kd, sizeof kbits);
    uint64_t sbits = (kbits + 1023) << 52;
    double scale;
    memcpy(&scale, &sbits, sizeof scale);
    return scale;
}

static inline __attribute__((always_inline)) double iflow_exp_kernel(double x) {
    double kd = IFLOW_EXP_KD(x);
    double k = kd - IFLOW_EXP_SHIFTER;
    double r = IFLOW_EXP_R1(x, k);
    r = IFLOW_EXP_R2(r, k);
    double p = IFLOW_EXP_P12;
#define IFLOW_EXP_STEP_(c) p = IFLOW_FMA(p, r, c);
    IFLOW_EXP_COEFS(IFLOW_EXP_STEP_)
#undef IFLOW_EXP_STEP_
    double y = p * iflow_exp_scale(kd);
    return x < IFLOW_EXP_MIN ? 0.0 : y;
}

/* How the truncated driver groups query centres into blocks (mixture_tree.c). GREEDY: top-down,
 * a node is one block when that costs at most 10% more than its two halves apart. BEST:
 * bottom-up, each node takes the cheaper of one block and its halves' best plans, with a fixed
 * cost per block. Both depend only on the data; the truncated sums of the two differ within
 * the tolerance. The estimators use GREEDY (entropy.c); BEST is measured by bench_estimators
 * --plans. */
typedef enum iflow_mix_plan { IFLOW_MIX_PLAN_GREEDY = 0, IFLOW_MIX_PLAN_BEST = 1 } iflow_mix_plan;

/* What a truncated run's plan did, for benchmarks: blocks, pairs (padded draws x centres of
 * each block's ball, summed) and the pairs had every query centre its own ball alone (k draws,
 * unpadded: the lower bound of the pairs of any plan of these balls). */
typedef struct iflow_mix_plan_stats {
    double blocks, pairs, own_ball_pairs;
} iflow_mix_plan_stats;

/* One Monte Carlo SP problem. Centre i gets k draws t_ij = s_i + z_ij, z_ij ~ N(0, beta^2 I)
 * (or diag(sigma_i^2), below) from iflow_rng(seed, stream + orig[i]); every draw's sums run
 * over all n centres. */
typedef struct iflow_mix_mc {
    const double *s;    /* n x d centres, row-major */
    const double *lw;   /* n: ln of each weight (<= 0 advised), NULL = all 0 */
    const double *ga;   /* n: group ids (small integers as doubles), NULL = no grouping */
    const double *gb;   /* a second grouping, NULL = none (needs ga) */
    const size_t *orig; /* n: stream index of each centre, NULL = i */
    size_t n, d, k;
    size_t n_query; /* draws only around centres [0, n_query) (0 = all n): an unbiased
                       subsample of the strata, e.g. for benchmarks */
    double beta;
    /* NULL, or heteroscedastic noise: centre i's draws are N(s_i, diag(sigma_i^2)) and its
     * term in every sum is w_i N(t; s_i, diag(sigma_i^2)) / N(0; 0, I) (beta unused); sigma is
     * n x sigma_cols, sigma_cols = 1 (one std per centre) or d, all > 0. L is then
     * ln sum_j w_j exp(-(1/2) sum_c ((t_c - s_jc)/sigma_jc)^2 - sum_c ln sigma_jc). */
    const double *sigma;
    size_t sigma_cols;
    double tolerance; /* 0: exact; > 0: k-d tree truncation, |error of each ln| <= it */
    uint64_t seed, stream;
    iflow_normals normals; /* generator version of the draws */
    iflow_mix_plan plan;   /* block plan of the truncated mode (0: greedy) */
    int threads;           /* 0: OpenMP default */
    /* NULL, or told the fraction of query blocks done, from the calling thread (progress_done
     * counts them across threads; the caller zeroes it). */
    void (*progress)(void *user, double fraction);
    void *progress_user;
    size_t *progress_done;
    iflow_mix_plan_stats *plan_stats; /* NULL, or filled by a truncated run (costs a ball
                                         query per query centre) */
} iflow_mix_mc;

/* One query block of `total` finished: counts it and, on the calling (master) thread, reports
 * the fraction done when it has grown by 1% or more. */
void iflow_mix_tick(const iflow_mix_mc *p, size_t total);

/* Per-draw values, averaged per centre. With L = ln sum_j w_j e^{-||t - s_j||^2/2beta^2} and
 * A = ln(sum over the centres of the draw's own group a / sum over all), B likewise for b;
 * AB = A - B (the conditional information's per-draw value, whose variance needs the pair). */
enum {
    IFLOW_MIX_L,
    IFLOW_MIX_A,
    IFLOW_MIX_LA,
    IFLOW_MIX_B,
    IFLOW_MIX_LB,
    IFLOW_MIX_AB,
    IFLOW_MIX_NQ
};

/* Mean and sample variance (divisor k - 1; 0 when k = 1) of each quantity over one centre's
 * draws. LA = L + A and LB = L + B are kept so that their variances include the covariance. */
typedef struct iflow_mix_stats {
    double mean[IFLOW_MIX_NQ];
    double var[IFLOW_MIX_NQ];
} iflow_mix_stats;

/* Runs the draws and fills stats[0..n_query). Results do not depend on the thread count. */
int iflow_mix_mc_run(const iflow_mix_mc *p, iflow_mix_stats *stats, iflow_error *err);

/* For every centre i as the query: out[i] = ln sum_j exp(-||s_i - s_j||^2 * inv) (equal
 * weights, exact), e.g. inv = 1/(2 beta^2) for the pairwise bounds. */
int iflow_mix_self_lse(const double *s, size_t n, size_t d, double inv, int threads, double *out,
                       iflow_error *err);

#endif
