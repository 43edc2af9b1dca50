/* Bootstrap resampling of the estimation inputs, as the authors' code did it (kgreenewald/smoothMI,
 * MIestimation.py lines 79-82 and 179), and the entropy of the multinomial weights it produces.
 * It exists to reproduce the paper's numbers (results/REPRODUCTION.md section 2), not for use:
 * with X uniform on the data set, I(X;T_l) is measured on the data set itself. */
#ifndef IFLOW_RESAMPLE_H
#define IFLOW_RESAMPLE_H

#include "infoflow/api.h"

#include <stddef.h>
#include <stdint.h>

#include "infoflow/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* [estimate] resample: how the m inputs of an estimate are drawn. BOOTSTRAP redraws them with
 * replacement at every measured epoch, as the authors' code did; it exists to reproduce the
 * paper's numbers (results/REPRODUCTION.md section 2), not for real measurements. */
typedef enum iflow_resample { IFLOW_RESAMPLE_NONE = 0, IFLOW_RESAMPLE_BOOTSTRAP } iflow_resample;

/* idx[0..m): m indices drawn uniformly with replacement from [0, m), from the counter-indexed
 * stream (bootstrap tag, epoch, 0) of seed: one draw per (seed, epoch), whatever the layer or
 * thread count, and independent of the streams of the noise and of the SP estimator. */
IFLOW_API void iflow_bootstrap_indices(uint64_t seed, long epoch, size_t m, size_t *idx);

/* The drawn inputs: *xb (m x d) = rows idx of x and *yb = y[idx] (labels travel with their
 * inputs), idx from iflow_bootstrap_indices. A duplicated input stays two rows, so it becomes two
 * centres of the mixture with their own noisy passes, as in the authors' code. Caller frees. */
IFLOW_API int iflow_bootstrap_draw(const double *x, const int *y, size_t m, size_t d, uint64_t seed,
                                   long epoch, double **xb, int **yb, iflow_error *err);

/* Mean and standard deviation, over bootstrap draws of m inputs from m, of the entropy (nats) of
 * the draw's weights k_j / m: E[H] = ln m - E[k ln k] with k ~ Binomial(m, 1/m), summed over the
 * pmf in log space (derivation in resample.c). It is what SP reads on a layer whose clusters do
 * not overlap. m >= 1. */
IFLOW_API int iflow_bootstrap_entropy(size_t m, double *mean, double *sd, iflow_error *err);

#ifdef __cplusplus
}
#endif

#endif
