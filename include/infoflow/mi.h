/* Information flow of a noisy net at one epoch (docs/ESTIMATION.md section 2): for every hidden
 * layer l, I(X;T_l) and I(Y;T_l) with the SP estimator, binned entropies of the noiseless and noisy
 * activations, and the pairwise bounds on h(T_1). X is uniform on the m inputs given. */
#ifndef IFLOW_MI_H
#define IFLOW_MI_H

#include "infoflow/api.h"

#include <stddef.h>
#include <stdint.h>

#include "infoflow/binning.h"
#include "infoflow/entropy.h"
#include "infoflow/error.h"
#include "infoflow/net.h"
#include "infoflow/resample.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IFLOW_MAX_REPLICAS      1000000 /* [estimate] replicas */
#define IFLOW_SATURATION_MARGIN 0.05    /* nats: see iflow_layer_info.ixt_saturated */

typedef struct iflow_mi_options {
    size_t replicas;          /* R noisy passes per input */
    size_t mc;                /* k draws per centre */
    size_t queries_per_input; /* draws around only this many of each input's R samples
                                 (0 = all); every mixture sum still runs over all samples */
    double tolerance;         /* mixture truncation tolerance (0 = exact) */
    uint64_t seed;            /* all draws come from streams of this seed and the epoch */
    iflow_normals normals;    /* generator of the noisy passes and SP draws ([train]
                                 noise_generator); v1 = 0 after a memset */
    int threads;              /* 0 = all cores; never changes the numbers */
    size_t n_bins;
    double bins[IFLOW_MAX_BINS]; /* widths; 0 = SZT's 30 edges on [-1, 1] */
    size_t slice_dim;            /* k-sliced SP in k dimensions as well; 0 = off */
    size_t slices;               /* M slices (>= 2) when slice_dim > 0 */
    size_t layer_mask_n;         /* 0 = every hidden layer, else only layers listed here */
    size_t layers[IFLOW_MAX_LAYERS];
    iflow_resample resample; /* BOOTSTRAP: measure on m inputs drawn with replacement from x
                                (iflow_bootstrap_draw), a new draw each epoch; see config.h */
    int bias; /* 1: the finite-sample bias of every SP estimate from half-replica estimates
                 (iflow_sp_options.bias; +50% of the SP work); 0: not estimated */
} iflow_mi_options;

typedef struct iflow_bin_info {
    double width;              /* 0 = szt30 */
    double h_clean, i_y_clean; /* H(Bin T_l), I(Y; Bin T_l) of the noiseless net */
    double h_noisy, i_y_noisy; /* the same with one noisy pass per input */
} iflow_bin_info;

typedef struct iflow_layer_info {
    size_t layer, width;
    int has_sp;               /* 0 for a deterministic layer (beta = 0) */
    iflow_mi_estimate ixt;    /* I(X;T_l), h(T_l), h(T_l|X) */
    iflow_mi_estimate iyt;    /* I(Y;T_l), h(T_l), h(T_l|Y) */
    int has_sliced;           /* k-sliced estimates present (slice_dim > 0 and has_sp) */
    size_t slice_dim, slices; /* k actually used (min(k, width)); slices 0: k >= width, so
                                 the sliced value is the unsliced one, copied */
    iflow_mi_estimate ixt_sliced, iyt_sliced; /* I_k(X;T_l), I_k(Y;T_l): slice means, se of
                                                 the mean over slices (sliced.h) */
    /* Saturation: an estimate within max(IFLOW_SATURATION_MARGIN, 2 se) of its ceiling, ln m for
     * I(X;T_l) (m inputs measured) and H(Y) of their labels for I(Y;T_l): the value then says
     * that the samples of different inputs (labels) barely overlap at scale beta, not how much
     * information the layer keeps; the k-sliced and clustering measures still resolve it. */
    double ixt_ceiling, iyt_ceiling;
    int ixt_saturated, iyt_saturated;
    iflow_estimate ixt_given_y; /* I(X;T_l|Y) = I(X;T_l) - I(Y;T_l) from the same draws
                                   (iflow_sp_grouped_cmi: total se of the paired difference) */
    int has_bounds;             /* layer 1 only */
    double kde_lower, kde_upper;
    size_t n_bins;
    iflow_bin_info bins[IFLOW_MAX_BINS];
    double seconds;
} iflow_layer_info;

/* Progress: called from the calling thread with a short stage name, e.g. "layer 3/5: SP". */
typedef void (*iflow_progress_fn)(void *user, const char *stage, double fraction);

/* Measures the hidden layers of net on inputs x (m x widths[0]) with labels y (in
 * [0, n_classes)). out has net->n_layers - 1 entries (layers not selected get layer = 0). */
IFLOW_API int iflow_mi_measure(const iflow_net *net, const double *x, const int *y, size_t m,
                               size_t n_classes, long epoch, const iflow_mi_options *opt,
                               iflow_layer_info *out, iflow_progress_fn progress, void *user,
                               iflow_error *err);

/* Noiseless activations of hidden layer l for all m inputs: out (m x widths[l]). */
IFLOW_API int iflow_mi_clean_layer(const iflow_net *net, const double *x, size_t m, size_t l,
                                   double *out, iflow_error *err);

#ifdef __cplusplus
}
#endif

#endif
