/* Entropy estimators (docs/ESTIMATION.md sections 3-4), all in nats, double precision.
 *
 * The central object is the Gaussian mixture with one isotropic component per sample,
 *     g(t) = sum_j w_j phi_beta(t - s_j) / sum_j w_j,   phi_beta = N(0, beta^2 I_d),
 * i.e. the empirical distribution of samples s_1..s_n (n x d, row-major) smoothed by the noise.
 * The SP estimator of h(P * phi_beta) is h(g), computed by Monte Carlo stratified over the
 * components: k draws t_ij = s_i + z_ij around each centre i, weighted by w_i. */
#ifndef IFLOW_ENTROPY_H
#define IFLOW_ENTROPY_H

#include "infoflow/api.h"

#include <stddef.h>
#include <stdint.h>

#include "infoflow/error.h"
#include "infoflow/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Caps on the counts that size an estimator's work and memory (refused beyond, with a message
 * naming the option): draws per centre, and threads (OpenMP would try to start them all). */
#define IFLOW_MAX_MC      1000000
#define IFLOW_MAX_THREADS 1024

/* Differential entropy of N(0, beta^2 I_d): (d/2) ln(2 pi e beta^2). */
IFLOW_API double iflow_gaussian_entropy(size_t d, double beta);

typedef struct iflow_sp_options {
    double beta;   /* noise std, > 0 */
    size_t mc;     /* k draws per centre, >= 1 (the SE needs k >= 2 or n >= 2) */
    uint64_t seed; /* draws around centre i come from iflow_rng(seed, stream + i) */
    uint64_t stream;
    double tolerance;      /* 0: exact summation over every centre. > 0: centres farther than a
                              cut-off radius are skipped, the radius chosen so that every ln g(t) is
                              within `tolerance` of its exact value (provable bound, see entropy.c) */
    int threads;           /* 0: OpenMP default; results never depend on it */
    size_t query_stride;   /* grouped MI only. 0 or 1: draws around every centre. s > 1: draws
                              around centres 0, s, 2s, ... only (every sum still runs over all n
                              centres), e.g. one replica per input when the R replicas of each
                              input are stored together and s = R. The se then comes from the
                              spread of the queried centres' values within each group. */
    iflow_normals normals; /* generator version of the draws (default v1); right after
                              query_stride, where the Python package's mirror has it */
    int bias;              /* 1: estimate the finite-sample bias from the two halves of every
                              group's samples (each half on the same draws): +50% of the work.
                              0 (default): has_bias = 0 */
    /* NULL, or called from the calling thread with the fraction of the draws done (e.g. for a
     * progress line on a terminal); never changes a number. Not mirrored in Python. */
    void (*progress)(void *user, double fraction);
    void *progress_user;
} iflow_sp_options;

/* The SP estimator's defaults, the same in every path: a run's [estimate] mc and tolerance and
 * its noise_generator, `infoflow entropy` / `mi`, iflow_sp_options_default and the Python
 * package (whose test checks its keyword defaults against these). */
#define IFLOW_SP_DEFAULT_MC        1
#define IFLOW_SP_DEFAULT_TOLERANCE 1e-6
#define IFLOW_SP_DEFAULT_NORMALS   IFLOW_NORMALS_V2

/* Fills opt with beta = 0 (must be set), mc = IFLOW_SP_DEFAULT_MC, seed = 1, stream = 0,
 * normals IFLOW_SP_DEFAULT_NORMALS, tolerance = IFLOW_SP_DEFAULT_TOLERANCE, threads = 0,
 * query_stride = 1, bias = 0, no progress. */
IFLOW_API void iflow_sp_options_default(iflow_sp_options *opt);

/* What an estimate's `se` covers (docs/ESTIMATION.md section 11). */
typedef enum iflow_se_kind {
    IFLOW_SE_TOTAL = 0, /* the Monte Carlo draws and the samples, stratified by group (grouped
                           MI: by group_a; entropy: the samples as one i.i.d. sample) */
    IFLOW_SE_EXACT = 1, /* the samples are not random (or the value is exact): se = se_mc */
    IFLOW_SE_NA = 2,    /* the samples' part cannot be estimated (a group with a single queried
                           sample): se is NaN, only se_mc is known; never use se_mc in its place */
    IFLOW_SE_KIND_COUNT
} iflow_se_kind;

/* Short name of a kind for logs and JSON: "total", "exact", "n/a". */
IFLOW_API const char *iflow_se_kind_name(int kind);

typedef struct iflow_estimate {
    double value; /* the estimate (nats) */
    double se;    /* its total standard error: Monte Carlo draws and samples (se_kind) */
    double se_mc; /* the Monte Carlo part alone, given the samples (0 for exact quantities);
                     with one draw per centre, the pooled spread of the per-centre values */
    double bias;  /* estimated finite-sample bias E[value] - target (has_bias), from half-sample
                     estimates (Richardson in 1/n): value - bias is the corrected estimate */
    int se_kind;  /* iflow_se_kind */
    int has_bias; /* 0: bias not estimated (off, or too few samples per group); bias is NaN */
} iflow_estimate;

/* SP estimate of h(g) with its standard error. weights: n non-negative weights (NULL = equal),
 * so coincident samples can be merged into one weighted centre. The samples are taken as i.i.d.:
 * se^2 = sum_i w_i^2 s^2 (normalised weights), s^2 the weighted sample variance of the per-centre
 * values -mean_j ln g(t_ij), Monte Carlo included; n = 1 gives IFLOW_SE_NA. */
IFLOW_API int iflow_sp_entropy(const double *s, const double *weights, size_t n, size_t d,
                               const iflow_sp_options *opt, iflow_estimate *out, iflow_error *err);

/* Kolchinsky-Tracey pairwise bounds on h(g) for equal weights (exact, no sampling), with
 * D_ij = ||s_i - s_j||^2, H_c = (d/2) ln(2 pi e beta^2):
 *   upper = H_c - (1/n) sum_i ln((1/n) sum_j exp(-D_ij / (2 beta^2)))
 *   lower = H_c - (1/n) sum_i ln((1/n) sum_j exp(-D_ij / (8 beta^2)))                       */
IFLOW_API int iflow_pairwise_bounds(const double *s, size_t n, size_t d, double beta, int threads,
                                    double *lower, double *upper, iflow_error *err);

/* Kozachenko-Leonenko k-nearest-neighbour estimate of the differential entropy of the
 * distribution the samples x (n x d) come from (no smoothing):
 *   h = psi(n) - psi(k) + ln V_d + (d/n) sum_i ln eps_i,
 * eps_i the distance from x_i to its k-th nearest neighbour, V_d the unit-ball volume. */
IFLOW_API int iflow_knn_entropy(const double *x, size_t n, size_t d, size_t k, int threads,
                                double *h, iflow_error *err);

/* Grouped mutual information I(G;T) = h(T) - sum_g p_g h(T | G = g), where T = S + Z with S
 * drawn from the samples (equal weights) and group[i] in [0, n_groups) tags sample i; p_g is the
 * fraction of samples in group g. Both terms use the same draws t_ij (common random numbers), so
 *   I = (1/(nk)) sum_ij [ln g_{group(i)}(t_ij) - ln g(t_ij)]
 * The samples of a group are taken as i.i.d. draws given the group (the groups are fixed): se is
 * the stratified standard error of this average, sum_g n_g s_g^2 / n_q^2 with s_g^2 the sample
 * variance of the per-centre values v_i = mean_j [ln g_G(t_ij) - ln g(t_ij)] of group g, which
 * holds the Monte Carlo variance too (the influence function of the plug-in, ESTIMATION.md
 * section 11); se_mc the Monte Carlo part alone. If every group holds a single sample,
 * h(T | G) is the exact Gaussian entropy (its se is 0) and the samples' part of the other
 * estimates cannot be estimated (IFLOW_SE_NA) unless the caller knows the samples are exact.
 * In iflow_sp_grouped_mi2 every estimate is stratified by group_a (the inputs). */
typedef struct iflow_mi_estimate {
    iflow_estimate mi;     /* I(G;T) */
    iflow_estimate h;      /* h(T) */
    iflow_estimate h_cond; /* sum_g p_g h(T | G = g) */
    size_t n_groups;       /* groups that hold at least one sample */
} iflow_mi_estimate;

IFLOW_API int iflow_sp_grouped_mi(const double *s, size_t n, size_t d, const size_t *group,
                                  size_t n_groups, const iflow_sp_options *opt,
                                  iflow_mi_estimate *out, iflow_error *err);

/* Two groupings of the same samples at once (e.g. by input for I(X;T) and by label for I(Y;T)),
 * sharing the draws and the sums over all centres: the cost of one call. */
IFLOW_API int iflow_sp_grouped_mi2(const double *s, size_t n, size_t d, const size_t *group_a,
                                   size_t n_groups_a, const size_t *group_b, size_t n_groups_b,
                                   const iflow_sp_options *opt, iflow_mi_estimate *out_a,
                                   iflow_mi_estimate *out_b, iflow_error *err);

/* Conditional information I(A;T|B) = I(A;T) - I(B;T) when B is a function of A (every group
 * of a inside one group of b; e.g. I(X;T|Y) with a = input, b = label), from the draws of
 * iflow_sp_grouped_mi2 (which it also fills): per draw the difference of the two integrands, so
 * cond's standard error is that of one average (paired draws, covariance included; total,
 * stratified by group_a, with its se_mc, as out_a's), its bias (opt->bias) from the same
 * half-samples, and cond->value equals out_a->mi.value - out_b->mi.value up to rounding. */
IFLOW_API int iflow_sp_grouped_cmi(const double *s, size_t n, size_t d, const size_t *group_a,
                                   size_t n_groups_a, const size_t *group_b, size_t n_groups_b,
                                   const iflow_sp_options *opt, iflow_mi_estimate *out_a,
                                   iflow_mi_estimate *out_b, iflow_estimate *cond,
                                   iflow_error *err);

/* Heteroscedastic SP (docs/ESTIMATION.md section 12): sample j's noise is N(0, diag(sigma_j^2)),
 *     g(t) = (1/n) sum_j N(t; s_j, diag(sigma_j^2)),
 * with sigma (n x sigma_cols, row-major) holding one std per sample (sigma_cols = 1, the same in
 * every coordinate) or one per coordinate (sigma_cols = d), all > 0: e.g. Gaussian dropout
 * T = S * eps, eps ~ N(1, v), is sigma_jc = sqrt(v) |s_jc|. Draws t_ij = s_i + sigma_i * z_ij.
 * opt->beta is not used; everything else (mc, seed, stream, tolerance with the same provable
 * bound on every ln g, threads, query_stride, normals, bias; se, se_mc) as for the isotropic
 * estimators, and the
 * same numbers for any thread count or number of MPI ranks. */
IFLOW_API int iflow_sp_entropy_hetero(const double *s, const double *sigma, size_t sigma_cols,
                                      size_t n, size_t d, const iflow_sp_options *opt,
                                      iflow_estimate *out, iflow_error *err);

/* Grouped information with heteroscedastic noise (as iflow_sp_grouped_mi2, sigma as in
 * iflow_sp_entropy_hetero). group_b may be NULL (then out_b and cond are not filled); cond, when
 * not NULL, gets I(A;T|B) as in iflow_sp_grouped_cmi. With singleton groups a, h(T|A) needs no
 * draws: the mean over the samples of (d/2) ln(2 pi e) + sum_c ln sigma_jc (se_mc 0; its total
 * se n/a, as with any group of one sample). */
IFLOW_API int iflow_sp_grouped_hetero(const double *s, const double *sigma, size_t sigma_cols,
                                      size_t n, size_t d, const size_t *group_a, size_t n_groups_a,
                                      const size_t *group_b, size_t n_groups_b,
                                      const iflow_sp_options *opt, iflow_mi_estimate *out_a,
                                      iflow_mi_estimate *out_b, iflow_estimate *cond,
                                      iflow_error *err);

#ifdef __cplusplus
}
#endif

#endif
