/* k-sliced SP estimators (ESTIMATION.md section 7): entropy and information of random
 * k-dimensional projections of a noisy layer, averaged over M slices.
 *
 * For T = S + Z in R^d, Z ~ N(0, beta^2 I_d), and A in R^{d x k} with A^T A = I_k,
 *     A^T T = A^T S + A^T Z,   A^T Z ~ N(0, beta^2 I_k)   exactly,
 * so the projected layer is again a noisy layer and the SP estimators of entropy.h apply in k
 * dimensions to the projected samples s A. The k-sliced quantities are the expectations over A
 * Haar-distributed on the Stiefel manifold, e.g. I_k(G;T) = E_A[I(G; A^T T)]; they satisfy
 * I_k <= I and equal I for k = d. The estimate is the mean over M independent slices; its
 * standard error is the spread of the per-slice estimates / sqrt(M), which contains both the
 * slice-to-slice variation and each slice's Monte Carlo error (see sliced.c, docs/SLICED.md). */
#ifndef IFLOW_SLICED_H
#define IFLOW_SLICED_H

#include "infoflow/api.h"

#include <stddef.h>
#include <stdint.h>

#include "infoflow/entropy.h"
#include "infoflow/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct iflow_slice_options {
    size_t slices; /* M >= 1 slices (M >= 2 when dim < d: the standard error needs the spread) */
    size_t dim;    /* k, 1 <= k <= d */
    uint64_t
        seed; /* slice j's basis comes from iflow_rng(seed, iflow_rng_stream3(tag, stream, j)) */
    uint64_t stream;
} iflow_slice_options;

/* Fills opt with slices = 16, dim = 1, seed = 1, stream = 0. */
IFLOW_API void iflow_slice_options_default(iflow_slice_options *opt);

/* A Haar-distributed d x k matrix with orthonormal columns (row-major, a[r * k + c]): the Q of
 * the QR factorisation, with R's diagonal positive, of a d x k matrix of standard normals drawn
 * from iflow_rng(seed, stream) in row-major order. 1 <= k <= d. */
IFLOW_API int iflow_slice_basis(size_t d, size_t k, uint64_t seed, uint64_t stream, double *a,
                                iflow_error *err);

/* out = s A: the n x k projections of the n x d samples s onto basis a (d x k), by GEMM. */
IFLOW_API void iflow_slice_project(const double *s, size_t n, size_t d, const double *a, size_t k,
                                   double *out);

/* The slices' summary. value: mean over slices; se: the standard error of that mean (sample
 * standard deviation across slices / sqrt(M); for M = 1 and k = d, where every slice has the
 * same expectation, the slice's own Monte Carlo error). */
typedef struct iflow_sliced_estimate {
    iflow_estimate est;
    double sd_slices; /* sample standard deviation of the per-slice estimates (0 if M = 1) */
    double mc_se;     /* root-mean-square per-slice Monte Carlo standard error */
} iflow_sliced_estimate;

/* k-sliced SP entropy h_k = E_A[h(A^T S + Z')] of samples s (n x d). sp->seed/stream seed the
 * Monte Carlo draws; slice j uses the stream iflow_rng_stream3(tag, sp->stream, j) so the
 * slices' draws are independent. per_slice (NULL or M entries) receives each slice's estimate. */
IFLOW_API int iflow_sliced_entropy(const double *s, size_t n, size_t d, const iflow_sp_options *sp,
                                   const iflow_slice_options *sl, iflow_sliced_estimate *out,
                                   iflow_estimate *per_slice, iflow_error *err);

/* k-sliced grouped information for two groupings at once (as iflow_sp_grouped_mi2): mi, h and
 * h_cond of out_a and out_b are the slice means, each se the standard error of the mean over
 * slices; group_b may be NULL (out_b untouched). out_mc_a/out_mc_b (NULL or filled): the
 * summaries (sd across slices, per-slice MC error) of the two MI estimates. */
IFLOW_API int iflow_sliced_grouped_mi2(const double *s, size_t n, size_t d, const size_t *group_a,
                                       size_t n_groups_a, const size_t *group_b, size_t n_groups_b,
                                       const iflow_sp_options *sp, const iflow_slice_options *sl,
                                       iflow_mi_estimate *out_a, iflow_mi_estimate *out_b,
                                       iflow_sliced_estimate *out_mc_a,
                                       iflow_sliced_estimate *out_mc_b, iflow_error *err);

/* Max-sliced information (Tsur, Goldfeld & Greenewald 2023; docs/ESTIMATION.md section 12):
 * max over d x k A with A^T A = I_k of I(G; A^T T), T = S + N(0, beta^2 I_d). A^T T is again a
 * noisy layer (A^T S + N(0, beta^2 I_k) exactly), so each candidate is an SP estimate in k
 * dimensions. The search uses common random numbers (draws of centre i from stream
 * sp->stream + n + i for every candidate): from the best of `starts` Haar bases (seed, streams
 * 0..starts-1), a coordinate search over the rotations that mix A with its complement, for at
 * most `sweeps` sweeps (the angle halves after a sweep without a gain, from 0.5 rad to 1e-3).
 * The maximum of estimates is biased upward; the reported value is a fresh estimate at the
 * optimum (draws from sp->stream + i, those of iflow_sp_grouped_mi on the projected samples),
 * unbiased for the mixture quantity at that A given the samples. */
typedef struct iflow_maxslice_options {
    size_t dim;    /* k, 1 <= k < d */
    size_t starts; /* random starting bases, >= 1 */
    size_t sweeps; /* at most this many sweeps of the coordinate search */
    uint64_t seed; /* of the starting bases */
} iflow_maxslice_options;

typedef struct iflow_maxsliced_estimate {
    iflow_mi_estimate mi; /* fresh estimate at the optimum (its se: Monte Carlo, as for SP) */
    double search_value;  /* the search's best value (biased upward: for comparison only) */
    size_t evaluations;   /* SP estimates the search made */
} iflow_maxsliced_estimate;

/* directions: NULL or d x k (row-major), filled with the optimum's orthonormal columns. */
IFLOW_API int iflow_maxsliced_grouped_mi(const double *s, size_t n, size_t d, const size_t *group,
                                         size_t n_groups, const iflow_sp_options *sp,
                                         const iflow_maxslice_options *mo, double *directions,
                                         iflow_maxsliced_estimate *out, iflow_error *err);

#ifdef __cplusplus
}
#endif

#endif
