/* Binned ("discretised") entropies of layer activations (Shwartz-Ziv & Tishby 2017; Saxe et al.
 * 2018), in nats: each neuron's value is quantised, the layer's vector of bin indices is one
 * symbol, and H is the plug-in entropy of the symbols' empirical distribution. Symbols are hashed
 * (no dense histogram), so layers of hundreds of neurons are fine. */
#ifndef IFLOW_BINNING_H
#define IFLOW_BINNING_H

#include "infoflow/api.h"

#include <stddef.h>

#include "infoflow/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IFLOW_MAX_BINS 8

typedef enum {
    IFLOW_BIN_WIDTH, /* bin index floor((v - origin) / width) */
    IFLOW_BIN_SZT30  /* SZT: 30 equally spaced edges on [-1, 1] (np.digitize convention) */
} iflow_bin_kind;

typedef struct iflow_binning {
    iflow_bin_kind kind;
    double width;  /* IFLOW_BIN_WIDTH: > 0 */
    double origin; /* IFLOW_BIN_WIDTH: where bin 0 starts (default 0) */
} iflow_binning;

/* H(Bin(T)) of x (n x d). */
IFLOW_API int iflow_bin_entropy(const double *x, size_t n, size_t d, const iflow_binning *bins,
                                double *h, iflow_error *err);

/* H(Bin T) and sum_g p_g H(Bin T | G = g), group[i] in [0, n_groups); so
 * I(G; Bin T) = h - h_cond. */
IFLOW_API int iflow_bin_grouped(const double *x, size_t n, size_t d, const iflow_binning *bins,
                                const size_t *group, size_t n_groups, double *h, double *h_cond,
                                iflow_error *err);

#ifdef __cplusplus
}
#endif

#endif
