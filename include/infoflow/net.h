/* Networks with injected Gaussian noise (docs/ESTIMATION.md section 1), a list of L weighted
 * blocks: S_l = pool(a(W_l * T_{l-1} + b_l)),  T_l = S_l + Z_l,  Z_l ~ N(0, beta_l^2 I)  (hidden
 * blocks) logits = W_L T_{L-1} + b_L                                                   (output, no
 * noise) where W_l * is a dense product or a convolution (include/infoflow/conv.h) and pool is
 * optional (conv blocks only). Block indices: l = 1..L, hidden blocks are l = 1..L-1. widths[l] is
 * the flattened output dimension of block l (after pooling), widths[0] the input's; a conv block's
 * output is flattened in (C, H, W) order, as PyTorch's flatten. Batches are row-major
 * n x widths[l]. A net built by iflow_net_new is a plain MLP (every block dense, no pooling). */
#ifndef IFLOW_NET_H
#define IFLOW_NET_H

#include "infoflow/api.h"

#include <stddef.h>

#include "infoflow/error.h"
#include "infoflow/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IFLOW_MAX_LAYERS 32 /* weight layers */

typedef enum {
    IFLOW_ACT_TANH,
    IFLOW_ACT_RELU,
    IFLOW_ACT_LEAKY_RELU,
    IFLOW_ACT_SIGMOID,
    IFLOW_ACT_LINEAR
} iflow_activation;

typedef enum {
    IFLOW_INIT_PYTORCH,    /* W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
    IFLOW_INIT_XAVIER,     /* W ~ U(-sqrt(6/(fan_in+fan_out)), +...), b = 0 */
    IFLOW_INIT_TRUNCNORMAL /* W ~ N(0, 1/fan_in) truncated at 2 std (SZT), b = 0 */
} iflow_init;

/* "tanh", "relu", "leaky_relu", "sigmoid", "linear"; parse returns 0 or IFLOW_EINVAL. */
IFLOW_API const char *iflow_activation_name(iflow_activation a);
IFLOW_API int iflow_activation_parse(const char *s, iflow_activation *out);
/* "pytorch", "xavier", "truncnormal" */
IFLOW_API const char *iflow_init_name(iflow_init k);
IFLOW_API int iflow_init_parse(const char *s, iflow_init *out);

typedef enum { IFLOW_BLOCK_DENSE, IFLOW_BLOCK_CONV } iflow_block_kind;
typedef enum { IFLOW_POOL_NONE, IFLOW_POOL_MAX, IFLOW_POOL_AVG } iflow_pool;

/* One weighted block as written in [net] layers: `dense N` or
 * `conv C KHxKW [stride S] [pad P] [maxpool K | avgpool K]`. */
typedef struct iflow_block {
    iflow_block_kind kind;
    size_t units;               /* dense: outputs; conv: output channels */
    size_t kh, kw, stride, pad; /* conv only */
    iflow_pool pool;            /* conv only: k x k windows, stride k */
    size_t pool_size;
} iflow_block;

/* A tensor shape C x H x W; a dense block's output is (N, 1, 1). */
typedef struct iflow_shape {
    size_t c, h, w;
} iflow_shape;

typedef struct iflow_net {
    size_t n_layers;                     /* L: weight layers (hidden layers = L - 1) */
    size_t widths[IFLOW_MAX_LAYERS + 1]; /* widths[0] = input dim, widths[L] = classes */
    iflow_activation act;                /* activation of every hidden layer */
    double leaky_slope;                  /* for IFLOW_ACT_LEAKY_RELU */
    double beta[IFLOW_MAX_LAYERS + 1];   /* beta[l]: noise std after hidden layer l (1..L-1) */
    size_t n_params;
    double *params; /* all parameters, one block (owned) */
    /* Views into params, for l = 1..L: w[l] is widths[l] x widths[l-1] row-major (y = W x),
     * b[l] has widths[l] entries. Layer l's block is W then b. Index 0 unused. */
    double *w[IFLOW_MAX_LAYERS + 1];
    double *b[IFLOW_MAX_LAYERS + 1];
    /* The architecture. For l = 1..L: block[l], shape[l] its output after pooling (shape[0] the
     * input), pre_size[l] the flattened size of W_l * T_{l-1} (before activation and pooling),
     * w_rows[l] x w_cols[l] the shape of w[l] (conv: C_out x C_in KH KW). has_conv = 0 for an
     * MLP, whose blocks are all dense with shape (widths[l], 1, 1). */
    int has_conv;
    iflow_block block[IFLOW_MAX_LAYERS + 1];
    iflow_shape shape[IFLOW_MAX_LAYERS + 1];
    size_t pre_size[IFLOW_MAX_LAYERS + 1];
    size_t w_rows[IFLOW_MAX_LAYERS + 1], w_cols[IFLOW_MAX_LAYERS + 1];
} iflow_net;

/* A network with n_widths-1 weight layers. beta: n_widths-2 entries (one per hidden layer), or
 * NULL for a deterministic net. Parameters are zero until iflow_net_init. */
IFLOW_API int iflow_net_new(size_t n_widths, const size_t *widths, iflow_activation act,
                            double leaky_slope, const double *beta, iflow_net **out,
                            iflow_error *err);
IFLOW_API void iflow_net_free(iflow_net *net);

/* For language bindings, which should not mirror this struct's layout: returns L (n_layers) and
 * fills, where not NULL, widths (L + 1 entries), beta (L + 1 entries; beta[0] = beta[L] = 0), the
 * activation and the leaky slope. Call with NULLs first to learn L. */
IFLOW_API size_t iflow_net_shape(const iflow_net *net, size_t *widths, double *beta,
                                 iflow_activation *act, double *leaky_slope);

/* Copies W_l (w_rows[l] x w_cols[l], row-major: for a dense block widths[l] x widths[l-1],
 * y = W x, the layout of PyTorch's nn.Linear.weight; for a conv block C_out x (C_in KH KW), the
 * layout of nn.Conv2d.weight flattened) into w and b_l (w_rows[l]) into b, for 1 <= l <= L;
 * either may be NULL. Returns IFLOW_EINVAL for another l. */
IFLOW_API int iflow_net_layer_params(const iflow_net *net, size_t l, double *w, double *b,
                                     iflow_error *err);

/* For language bindings, which should not mirror iflow_block's layout: block l (1 <= l <= L) as
 * IFLOW_BLOCK_INFO_N numbers: kind (iflow_block_kind), units, kh, kw, stride, pad, pool
 * (iflow_pool), pool_size, its output shape c, h, w, the shape of W_l rows, cols (see
 * iflow_net_layer_params), and its input shape c, h, w. Returns IFLOW_EINVAL for another l. */
#define IFLOW_BLOCK_INFO_N 16
IFLOW_API int iflow_net_block_info(const iflow_net *net, size_t l, size_t *info, iflow_error *err);

/* Output shapes of n_blocks blocks on an input of shape `input` (out: n_blocks + 1 entries,
 * out[0] = input). Checks every block: sizes >= 1 and not absurd (a dimension above 2^24), a
 * kernel no larger than its padded input, a non-empty output, pooling only after a conv block and
 * not after the last, a dense last block. On failure returns IFLOW_EINVAL with a message naming
 * the block ("block 2 (conv 32 5x5 pad 2): kernel 5x5 larger than the padded input 3x3"). */
IFLOW_API int iflow_net_block_shapes(iflow_shape input, size_t n_blocks, const iflow_block *blocks,
                                     iflow_shape *out, iflow_error *err);

/* Writes a block as in the config ("conv 16 5x5 pad 2 maxpool 2", "dense 10") into buf. */
IFLOW_API void iflow_block_format(const iflow_block *b, char *buf, size_t n);

/* A network of n_blocks blocks on inputs of shape `input`. beta: n_blocks - 1 entries or NULL.
 * A list of dense blocks without pooling gives exactly the net of iflow_net_new. */
IFLOW_API int iflow_net_new_blocks(iflow_shape input, size_t n_blocks, const iflow_block *blocks,
                                   iflow_activation act, double leaky_slope, const double *beta,
                                   iflow_net **out, iflow_error *err);

/* A new net of the same architecture and noise (parameters zero). */
IFLOW_API int iflow_net_clone_shape(const iflow_net *net, iflow_net **out, iflow_error *err);

/* One line per block, "l  conv 16 5x5 pad 2 maxpool 2  out 16x14x14 = 3136  params 416",
 * and a total, into buf. */
IFLOW_API void iflow_net_describe(const iflow_net *net, char *buf, size_t n);
IFLOW_API void iflow_net_init(iflow_net *net, iflow_init kind, iflow_rng *rng);

/* Scratch space for batches of up to max_n rows: pre-activations and activations of every layer.
 * One per thread. */
typedef struct iflow_workspace iflow_workspace;
IFLOW_API int iflow_workspace_new(const iflow_net *net, size_t max_n, iflow_workspace **out,
                                  iflow_error *err);
IFLOW_API void iflow_workspace_free(iflow_workspace *ws);

/* Forward pass of x (n x widths[0], n <= max_n). Noise is drawn from rng after every hidden
 * layer with beta[l] > 0; rng == NULL gives the noiseless net. Returns the logits (n x widths[L]),
 * owned by ws. Hidden outputs T_l stay in ws for iflow_workspace_layer and the backward pass. */
IFLOW_API const double *iflow_net_forward(const iflow_net *net, const double *x, size_t n,
                                          iflow_rng *rng, iflow_workspace *ws);

/* After a forward pass: T_l (noisy hidden output, n x widths[l]) for l = 1..L-1, the logits for
 * l = L, and S_l, the same layer before its noise, with iflow_workspace_clean. */
IFLOW_API const double *iflow_workspace_layer(const iflow_workspace *ws, size_t l);
IFLOW_API const double *iflow_workspace_clean(const iflow_workspace *ws, size_t l);

/* Mean softmax cross-entropy of logits (n x c) against labels y, computed stably
 * (log-sum-exp). If dlogits != NULL, writes d(loss)/d(logits) (n x c). If n_correct != NULL,
 * counts argmax hits. */
IFLOW_API double iflow_softmax_xent(const double *logits, const int *y, size_t n, size_t c,
                                    double *dlogits, size_t *n_correct);

/* Backward pass after iflow_net_forward on the same x, n, ws: returns the mean cross-entropy
 * and writes its gradient with respect to net->params into grad (n_params; overwritten).
 * The injected noise is treated as a fixed input (reparameterisation). */
IFLOW_API double iflow_net_backward(const iflow_net *net, const double *x, const int *y, size_t n,
                                    iflow_workspace *ws, double *grad, size_t *n_correct);

/* S_l for every row of x: layers 1..l, with noise from rng after layers 1..l-1 only (none after
 * layer l); rng == NULL: the noiseless net. out: n x widths[l]. 1 <= l <= L-1. */
IFLOW_API void iflow_net_propagate(const iflow_net *net, const double *x, size_t n, size_t l,
                                   iflow_rng *rng, iflow_workspace *ws, double *out);

/* Doubles a workspace allocates per row (to size batches of a wide conv net). */
IFLOW_API size_t iflow_workspace_row_doubles(const iflow_net *net);

/* Index (1..L) of the first layer whose parameters or the given activations hold NaN/Inf;
 * 0 if all finite. */
IFLOW_API size_t iflow_net_first_nonfinite(const iflow_net *net);

/* Parseval-style orthonormality step W <- (1 + alpha) W - alpha W W^T W for every weight layer,
 * conv kernels as C_out x (C_in KH KW) matrices (Cisse et al. 2017), as used by Goldfeld et al. to
 * suppress clustering. Returns 0, or IFLOW_ENOMEM if the scratch Gram matrix of a wide layer cannot
 * be allocated. */
IFLOW_API int iflow_net_orthonormalize(iflow_net *net, double alpha);

#ifdef __cplusplus
}
#endif

#endif
