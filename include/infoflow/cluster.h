/* Clustering of representations by class (ESTIMATION.md section 8), for noisy and
 * deterministic nets alike: on n labelled vectors s_i (n x d, row-major, e.g. the noiseless
 * activations of one layer),
 *   - cosine similarity c_ij = s_i.s_j / (|s_i| |s_j|): means over the unordered pairs i < j of
 *     the same class and of different classes, and their histograms on [-1, 1];
 *   - the silhouette coefficient of the class partition (Euclidean distances):
 *     mean_i (b_i - a_i) / max(a_i, b_i), a_i the mean distance to the rest of i's class, b_i the
 *     smallest mean distance to another class (s_i = 0 for a class of one, as Rousseeuw);
 *   - k-NN class agreement: mean over i of the fraction of i's k nearest neighbours (Euclidean,
 *     i excluded, ties broken by the lower index) that share i's label.
 * All come from Gram matrices computed by GEMM in blocks of rows: S S^T for the cosines, and for
 * the distances T T^T of the rows minus their column means (so an offset of the data costs no
 * digits; pairs much closer than their spread are summed directly). Memory is O(block * n), the
 * work O(n^2 d) at BLAS speed. Results never depend on the thread count. */
#ifndef IFLOW_CLUSTER_H
#define IFLOW_CLUSTER_H

#include "infoflow/api.h"

#include <stddef.h>
#include <stdint.h>

#include "infoflow/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct iflow_cluster_options {
    size_t knn;       /* k neighbours, 1 <= k < n; default 10 */
    size_t hist_bins; /* bins of the cosine histograms on [-1, 1]; default 40 */
    size_t block;     /* rows of the Gram matrices per GEMM; 0 = automatic (<= 64 MB) */
    int threads;      /* 0: OpenMP default; results never depend on it */
    /* NULL, or called from the calling thread after each block with the fraction of the rows
     * done (e.g. for a progress line); never changes a number. */
    void (*progress)(void *user, double fraction);
    void *progress_user;
} iflow_cluster_options;

/* Fills opt with knn = 10, hist_bins = 40, block = 0, threads = 0, no progress. */
IFLOW_API void iflow_cluster_options_default(iflow_cluster_options *opt);

typedef struct iflow_cluster_result {
    double cos_within;  /* mean cosine over same-class pairs (NaN if n_within = 0) */
    double cos_between; /* mean cosine over different-class pairs (NaN if n_between = 0) */
    uint64_t n_within;  /* unordered pairs counted; rows of norm 0 (no direction) are left out */
    uint64_t n_between;
    size_t n_zero;        /* rows of norm 0, left out of the cosine measures only */
    double silhouette;    /* in [-1, 1] */
    double knn_agreement; /* in [0, 1] */
} iflow_cluster_result;

/* Measures s (n x d) with labels[i] in [0, n_classes); at least two classes must be present.
 * hist_within and hist_between (NULL, or opt->hist_bins entries each) receive the fractions of
 * the pairs counted whose cosine falls in bin b = [-1 + 2b/B, -1 + 2(b+1)/B) (the last bin
 * includes 1); each sums to 1 when pairs were counted, else is all 0. IFLOW_ENUMERIC if a row's
 * squared norm overflows double (rescale the data). */
IFLOW_API int iflow_cluster_measure(const double *s, size_t n, size_t d, const size_t *labels,
                                    size_t n_classes, const iflow_cluster_options *opt,
                                    iflow_cluster_result *out, double *hist_within,
                                    double *hist_between, iflow_error *err);

#ifdef __cplusplus
}
#endif

#endif
