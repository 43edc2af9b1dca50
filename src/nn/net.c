/* Noisy block networks (dense and conv blocks): construction, initialisation, forward/backward
 * passes with OpenBLAS, softmax cross-entropy, and the Parseval orthonormality step. Shapes are
 * row-major n x width. */
#include "infoflow/net.h"

#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "infoflow/conv.h"
#include "conv_f32.h"
#include "dense_small.h"
#include "tanh_array.h"
#include "train_f32.h"

struct iflow_workspace {
    size_t n_layers, max_n, max_width;
    double *pre[IFLOW_MAX_LAYERS + 1]; /* pre-activations W_l T_{l-1} + b_l */
    double *s[IFLOW_MAX_LAYERS + 1];   /* S_l = a(pre_l); for l = L the logits (== pre) */
    double *t_buf[IFLOW_MAX_LAYERS + 1];
    double *t[IFLOW_MAX_LAYERS + 1];        /* T_l: t_buf[l] after noise, else an alias of s[l] */
    double *a[IFLOW_MAX_LAYERS + 1];        /* a(pre_l) before pooling; an alias of s[l] without */
    uint32_t *argmax[IFLOW_MAX_LAYERS + 1]; /* max pooling: winner of each output */
    double *delta[2];     /* backward: d loss / d pre of the current layer, ping-pong */
    double *conv_scratch; /* im2col buffers, shared by the conv blocks */
    iflow_conv_geom geom[IFLOW_MAX_LAYERS + 1];
    double *block; /* one allocation behind all of the above */
};

static const char *const act_names[] = {"tanh", "relu", "leaky_relu", "sigmoid", "linear"};
static const char *const init_names[] = {"pytorch", "xavier", "truncnormal"};

const char *iflow_activation_name(iflow_activation a) {
    return (unsigned)a < 5 ? act_names[a] : "?";
}

int iflow_activation_parse(const char *s, iflow_activation *out) {
    for (int i = 0; i < 5; i++)
        if (s && strcmp(s, act_names[i]) == 0) {
            *out = (iflow_activation)i;
            return 0;
        }
    return IFLOW_EINVAL;
}

const char *iflow_init_name(iflow_init k) { return (unsigned)k < 3 ? init_names[k] : "?"; }

int iflow_init_parse(const char *s, iflow_init *out) {
    for (int i = 0; i < 3; i++)
        if (s && strcmp(s, init_names[i]) == 0) {
            *out = (iflow_init)i;
            return 0;
        }
    return IFLOW_EINVAL;
}

static int check_shape(size_t n_widths, const size_t *widths, iflow_activation act,
                       double leaky_slope, const double *beta, iflow_error *err) {
    if (n_widths < 2 || n_widths - 1 > IFLOW_MAX_LAYERS)
        return iflow_error_set(err, IFLOW_EINVAL, "net: %zu widths given, need 2..%d", n_widths,
                               IFLOW_MAX_LAYERS + 1);
    for (size_t l = 0; l < n_widths; l++)
        if (widths[l] == 0 || widths[l] > (size_t)1 << 24)
            return iflow_error_set(err, IFLOW_EINVAL, "net: widths[%zu] = %zu out of range", l,
                                   widths[l]);
    if ((unsigned)act >= 5)
        return iflow_error_set(err, IFLOW_EINVAL, "net: unknown activation %d", (int)act);
    if (!isfinite(leaky_slope))
        return iflow_error_set(err, IFLOW_EINVAL, "net: leaky_slope is not finite");
    for (size_t l = 0; beta && l + 2 < n_widths; l++)
        if (!(beta[l] >= 0) || !isfinite(beta[l]))
            return iflow_error_set(err, IFLOW_EINVAL,
                                   "net: beta of hidden layer %zu is %g, need finite >= 0", l + 1,
                                   beta[l]);
    return 0;
}

/* The conv geometry of block l (l >= 1, a conv block). */
static iflow_conv_geom block_geom(const iflow_net *net, size_t l) {
    const iflow_block *b = &net->block[l];
    const iflow_shape *in = &net->shape[l - 1];
    iflow_conv_geom g = {.c_in = in->c,
                         .h_in = in->h,
                         .w_in = in->w,
                         .c_out = b->units,
                         .kh = b->kh,
                         .kw = b->kw,
                         .stride = b->stride,
                         .pad = b->pad};
    iflow_conv_geom_init(&g);
    return g;
}

/* Fills everything after the shapes: widths, weight shapes, noise, parameter views. Each block's
 * parameters are W (w_rows x w_cols) then b (w_rows). */
static int finish_net(iflow_net *net, const double *beta, iflow_error *err) {
    size_t L = net->n_layers, total = 0;
    for (size_t l = 0; l <= L; l++)
        net->widths[l] = net->shape[l].c * net->shape[l].h * net->shape[l].w;
    for (size_t l = 1; l <= L; l++) {
        const iflow_block *b = &net->block[l];
        net->has_conv |= b->kind == IFLOW_BLOCK_CONV;
        if (b->kind == IFLOW_BLOCK_CONV) {
            iflow_conv_geom g = block_geom(net, l);
            net->w_rows[l] = b->units;
            net->w_cols[l] = g.c_in * g.kh * g.kw;
            net->pre_size[l] = b->units * g.h_out * g.w_out;
        } else {
            net->w_rows[l] = net->widths[l];
            net->w_cols[l] = net->widths[l - 1];
            net->pre_size[l] = net->widths[l];
        }
        total += net->w_rows[l] * (net->w_cols[l] + 1);
    }
    for (size_t l = 1; l < L; l++) net->beta[l] = beta ? beta[l - 1] : 0.0;
    net->n_params = total;
    net->params = calloc(total, sizeof *net->params);
    if (!net->params)
        return iflow_error_set(err, IFLOW_ENOMEM, "net: out of memory for %zu parameters", total);
    double *p = net->params;
    for (size_t l = 1; l <= L; l++) {
        net->w[l] = p;
        p += net->w_rows[l] * net->w_cols[l];
        net->b[l] = p;
        p += net->w_rows[l];
    }
    return 0;
}

int iflow_net_new(size_t n_widths, const size_t *widths, iflow_activation act, double leaky_slope,
                  const double *beta, iflow_net **out, iflow_error *err) {
    *out = NULL;
    int rc = check_shape(n_widths, widths, act, leaky_slope, beta, err);
    if (rc) return rc;
    iflow_block blocks[IFLOW_MAX_LAYERS];
    for (size_t l = 1; l < n_widths; l++)
        blocks[l - 1] = (iflow_block){.kind = IFLOW_BLOCK_DENSE, .units = widths[l]};
    return iflow_net_new_blocks((iflow_shape){widths[0], 1, 1}, n_widths - 1, blocks, act,
                                leaky_slope, beta, out, err);
}

int iflow_net_new_blocks(iflow_shape input, size_t n_blocks, const iflow_block *blocks,
                         iflow_activation act, double leaky_slope, const double *beta,
                         iflow_net **out, iflow_error *err) {
    *out = NULL;
    iflow_shape shapes[IFLOW_MAX_LAYERS + 1];
    int rc = iflow_net_block_shapes(input, n_blocks, blocks, shapes, err);
    size_t widths[IFLOW_MAX_LAYERS + 1];
    for (size_t l = 0; !rc && l <= n_blocks; l++)
        widths[l] = shapes[l].c * shapes[l].h * shapes[l].w;
    if (!rc) rc = check_shape(n_blocks + 1, widths, act, leaky_slope, beta, err);
    if (rc) return rc;
    iflow_net *net = calloc(1, sizeof *net);
    if (!net) return iflow_error_set(err, IFLOW_ENOMEM, "net: out of memory");
    net->n_layers = n_blocks;
    net->act = act;
    net->leaky_slope = leaky_slope;
    for (size_t l = 0; l <= n_blocks; l++) net->shape[l] = shapes[l];
    for (size_t l = 1; l <= n_blocks; l++) /* dense blocks in one canonical form */
        net->block[l] = blocks[l - 1].kind == IFLOW_BLOCK_DENSE
                            ? (iflow_block){.kind = IFLOW_BLOCK_DENSE, .units = blocks[l - 1].units}
                            : blocks[l - 1];
    rc = finish_net(net, beta, err);
    if (rc) {
        iflow_net_free(net);
        return rc;
    }
    *out = net;
    return 0;
}

size_t iflow_net_shape(const iflow_net *net, size_t *widths, double *beta, iflow_activation *act,
                       double *leaky_slope) {
    size_t L = net->n_layers;
    for (size_t l = 0; l <= L; l++) {
        if (widths) widths[l] = net->widths[l];
        if (beta) beta[l] = l > 0 && l < L ? net->beta[l] : 0.0;
    }
    if (act) *act = net->act;
    if (leaky_slope) *leaky_slope = net->leaky_slope;
    return L;
}

int iflow_net_layer_params(const iflow_net *net, size_t l, double *w, double *b, iflow_error *err) {
    if (l < 1 || l > net->n_layers)
        return iflow_error_set(err, IFLOW_EINVAL, "net: layer %zu out of range 1..%zu", l,
                               net->n_layers);
    size_t rows = net->w_rows[l], cols = net->w_cols[l];
    if (w) memcpy(w, net->w[l], rows * cols * sizeof *w);
    if (b) memcpy(b, net->b[l], rows * sizeof *b);
    return 0;
}

int iflow_net_clone_shape(const iflow_net *net, iflow_net **out, iflow_error *err) {
    return iflow_net_new_blocks(net->shape[0], net->n_layers, net->block + 1, net->act,
                                net->leaky_slope, net->beta + 1, out, err);
}

void iflow_net_free(iflow_net *net) {
    if (!net) return;
    free(net->params);
    free(net);
}

/* Standard normal truncated to |z| <= 2 by rejection (TensorFlow's truncated_normal, used by
 * Shwartz-Ziv & Tishby): acceptance probability 0.954. */
static double truncated_normal(iflow_rng *rng) {
    double z;
    do {
        z = iflow_rng_normal(rng);
    } while (fabs(z) > 2.0);
    return z;
}

void iflow_net_init(iflow_net *net, iflow_init kind, iflow_rng *rng) {
    for (size_t l = 1; l <= net->n_layers; l++) {
        /* PyTorch's fans: a conv kernel's fan_in is C_in KH KW, its fan_out C_out KH KW. */
        size_t fan_in = net->w_cols[l], fan_out = net->w_rows[l], nw = fan_in * fan_out;
        if (net->block[l].kind == IFLOW_BLOCK_CONV) fan_out *= net->block[l].kh * net->block[l].kw;
        double *w = net->w[l], *b = net->b[l];
        double a;
        switch (kind) {
        case IFLOW_INIT_PYTORCH:
            a = 1.0 / sqrt((double)fan_in);
            for (size_t i = 0; i < nw; i++) w[i] = a * (2.0 * iflow_rng_uniform(rng) - 1.0);
            for (size_t i = 0; i < net->w_rows[l]; i++)
                b[i] = a * (2.0 * iflow_rng_uniform(rng) - 1.0);
            break;
        case IFLOW_INIT_XAVIER:
            a = sqrt(6.0 / (double)(fan_in + fan_out));
            for (size_t i = 0; i < nw; i++) w[i] = a * (2.0 * iflow_rng_uniform(rng) - 1.0);
            memset(b, 0, net->w_rows[l] * sizeof *b);
            break;
        case IFLOW_INIT_TRUNCNORMAL:
        default:
            a = 1.0 / sqrt((double)fan_in);
            for (size_t i = 0; i < nw; i++) w[i] = a * truncated_normal(rng);
            memset(b, 0, net->w_rows[l] * sizeof *b);
            break;
        }
    }
}

int iflow_workspace_new(const iflow_net *net, size_t max_n, iflow_workspace **out,
                        iflow_error *err) {
    *out = NULL;
    if (max_n == 0) return iflow_error_set(err, IFLOW_EINVAL, "workspace: max_n is 0");
    iflow_workspace *ws = calloc(1, sizeof *ws);
    if (!ws) return iflow_error_set(err, IFLOW_ENOMEM, "workspace: out of memory");
    size_t L = net->n_layers, wmax = 0, n_arg = 0, scratch = 0;
    for (size_t l = 0; l <= L; l++) {
        wmax = net->widths[l] > wmax ? net->widths[l] : wmax;
        wmax = l && net->pre_size[l] > wmax ? net->pre_size[l] : wmax;
    }
    size_t total = iflow_workspace_row_doubles(net) * max_n;
    for (size_t l = 1; l < L; l++)
        if (net->block[l].pool == IFLOW_POOL_MAX) n_arg += net->widths[l] * max_n;
    for (size_t l = 1; l <= L; l++)
        if (net->block[l].kind == IFLOW_BLOCK_CONV) {
            ws->geom[l] = block_geom(net, l);
            size_t need = iflow_conv_scratch_doubles(&ws->geom[l], max_n);
            scratch = need > scratch ? need : scratch;
        }
    ws->block = malloc((total + scratch) * sizeof *ws->block);
    uint32_t *arg = n_arg ? malloc(n_arg * sizeof *arg) : NULL;
    if (!ws->block || (n_arg && !arg)) {
        free(arg);
        iflow_workspace_free(ws);
        return iflow_error_set(err, IFLOW_ENOMEM, "workspace: out of memory for %zu rows", max_n);
    }
    ws->n_layers = L;
    ws->max_n = max_n;
    ws->max_width = wmax;
    double *p = ws->block;
    for (size_t l = 1; l <= L; l++) {
        size_t sz = net->widths[l] * max_n;
        ws->pre[l] = p;
        p += net->pre_size[l] * max_n;
        if (l < L) {
            if (net->block[l].pool != IFLOW_POOL_NONE) {
                ws->a[l] = p;
                p += net->pre_size[l] * max_n;
            }
            if (net->block[l].pool == IFLOW_POOL_MAX) {
                ws->argmax[l] = arg;
                arg += sz;
            }
            ws->s[l] = p;
            ws->t_buf[l] = p + sz;
            p += 2 * sz;
            if (!ws->a[l]) ws->a[l] = ws->s[l];
        } else {
            ws->s[l] = ws->t_buf[l] = ws->a[l] = ws->pre[l];
        }
        ws->t[l] = ws->s[l];
    }
    ws->delta[0] = p;
    ws->delta[1] = p + wmax * max_n;
    ws->conv_scratch = p + 2 * wmax * max_n;
    *out = ws;
    return 0;
}

/* pre and, for hidden blocks, a (if pooled), S, T per block, and two backward buffers of the
 * widest block. */
size_t iflow_workspace_row_doubles(const iflow_net *net) {
    size_t L = net->n_layers, total = 0, wmax = 0;
    for (size_t l = 0; l <= L; l++) {
        wmax = net->widths[l] > wmax ? net->widths[l] : wmax;
        wmax = l && net->pre_size[l] > wmax ? net->pre_size[l] : wmax;
    }
    for (size_t l = 1; l <= L; l++) {
        total += net->pre_size[l];
        if (l < L) total += 2 * net->widths[l];
        if (l < L && net->block[l].pool != IFLOW_POOL_NONE) total += net->pre_size[l];
    }
    return total + 2 * wmax;
}

void iflow_workspace_free(iflow_workspace *ws) {
    if (!ws) return;
    for (size_t l = 1; l <= ws->n_layers; l++)
        if (ws->argmax[l]) { /* one allocation: the first pooled block holds it */
            free(ws->argmax[l]);
            break;
        }
    free(ws->block);
    free(ws);
}

const double *iflow_workspace_layer(const iflow_workspace *ws, size_t l) {
    assert(l >= 1 && l <= ws->n_layers);
    return ws->t[l];
}

const double *iflow_workspace_clean(const iflow_workspace *ws, size_t l) {
    assert(l >= 1 && l <= ws->n_layers);
    return ws->s[l];
}

/* s = a(pre) elementwise, count entries. NaN must propagate (a diverging net has to be seen),
 * hence `x < 0 ? 0 : x` rather than fmax. */
static void activate(iflow_activation act, double slope, const double *pre, double *s,
                     size_t count) {
    switch (act) {
    case IFLOW_ACT_TANH: iflow_tanh_array(pre, s, count, 0); break;
    case IFLOW_ACT_RELU:
        for (size_t i = 0; i < count; i++) s[i] = pre[i] < 0 ? 0.0 : pre[i];
        break;
    case IFLOW_ACT_LEAKY_RELU:
        for (size_t i = 0; i < count; i++) s[i] = pre[i] < 0 ? slope * pre[i] : pre[i];
        break;
    case IFLOW_ACT_SIGMOID:
        for (size_t i = 0; i < count; i++) s[i] = 1.0 / (1.0 + exp(-pre[i]));
        break;
    case IFLOW_ACT_LINEAR: memcpy(s, pre, count * sizeof *s); break;
    }
}

/* d *= a'(pre), with a' from the stored clean output s where that is cheaper:
 * tanh' = 1 - s^2, sigmoid' = s (1 - s); relu' = [pre > 0] (0 at the kink, as PyTorch). */
static void activate_backward(iflow_activation act, double slope, const double *pre,
                              const double *s, double *d, size_t count) {
    switch (act) {
    case IFLOW_ACT_TANH:
        for (size_t i = 0; i < count; i++) d[i] *= 1.0 - s[i] * s[i];
        break;
    case IFLOW_ACT_RELU:
        for (size_t i = 0; i < count; i++) d[i] = pre[i] > 0 ? d[i] : 0.0;
        break;
    case IFLOW_ACT_LEAKY_RELU:
        for (size_t i = 0; i < count; i++) d[i] = pre[i] > 0 ? d[i] : slope * d[i];
        break;
    case IFLOW_ACT_SIGMOID:
        for (size_t i = 0; i < count; i++) d[i] *= s[i] * (1.0 - s[i]);
        break;
    case IFLOW_ACT_LINEAR: break;
    }
}

/* pre (n x m) = a (n x k) W^T + b, W m x k. */
static void dense_forward(const double *a, size_t n, size_t k, const double *w, const double *b,
                          size_t m, double *pre) {
    /* b in every row, by doubling the filled rows: log2(n) copies rather than n tiny ones,
     * whose call overhead was ~8% of training the 12-bit net. The same values either way. */
    size_t total = n * m, filled = m < total ? m : total;
    memcpy(pre, b, filled * sizeof *pre);
    while (filled < total) {
        size_t more = filled < total - filled ? filled : total - filled;
        memcpy(pre + filled, pre, more * sizeof *pre);
        filled += more;
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)m, (int)k, 1.0, a, (int)k, w,
                (int)k, 1.0, pre, (int)m);
}

/* pre_l = W_l * in (dense product or convolution) + b_l for n rows. */
static void block_forward(const iflow_net *net, size_t l, const double *in, size_t n,
                          iflow_workspace *ws) {
    if (net->block[l].kind == IFLOW_BLOCK_CONV)
        iflow_conv_forward(in, n, &ws->geom[l], net->w[l], net->b[l], ws->pre[l], ws->conv_scratch);
    else
        dense_forward(in, n, net->widths[l - 1], net->w[l], net->b[l], net->widths[l], ws->pre[l]);
}

/* Whether block l max-pools its pre-activations and activates the pooled values: for ReLU and
 * the identity, a(max x) = max a(x) exactly and the first maximum of the pre-activations is the
 * one of the activations, or a position where a' = 0 (ReLU, all of the window <= 0), so S_l and
 * the gradient are the same numbers with a quarter of the activations and no pass over a_l. */
int iflow_net_pools_before_act(const iflow_net *net, size_t l) {
    return net->block[l].pool == IFLOW_POOL_MAX &&
           (net->act == IFLOW_ACT_RELU || net->act == IFLOW_ACT_LINEAR);
}

/* S_l = pool(a_l) for n rows; with iflow_net_pools_before_act, from pre_l (S_l then activated in
 * place). */
static void pool_forward(const iflow_net *net, size_t l, size_t n, iflow_workspace *ws) {
    const iflow_block *b = &net->block[l];
    const iflow_conv_geom *g = &ws->geom[l];
    if (b->pool == IFLOW_POOL_MAX)
        iflow_maxpool_forward(iflow_net_pools_before_act(net, l) ? ws->pre[l] : ws->a[l], n,
                              g->c_out, g->h_out, g->w_out, b->pool_size, ws->s[l], ws->argmax[l]);
    else if (b->pool == IFLOW_POOL_AVG)
        iflow_avgpool_forward(ws->a[l], n, g->c_out, g->h_out, g->w_out, b->pool_size, ws->s[l]);
}

/* Layers 1..upto on x; noise from rng after hidden layers l <= noise_upto with beta[l] > 0.
 * A noisy pass under normals v2 takes the fast paths, which round differently: the fused kernel
 * for layers of widths <= 16 and tanh with fmas (v1 and clean passes keep OpenBLAS and the
 * unfused tanh, whose rounding every v1 result has). */
static void forward_layers(const iflow_net *net, const double *x, size_t n, size_t upto,
                           size_t noise_upto, iflow_rng *rng, iflow_workspace *ws) {
    assert(n <= ws->max_n && ws->n_layers == net->n_layers);
    const double *in = x;
    int v2 = rng && rng->normals == IFLOW_NORMALS_V2;
    for (size_t l = 1; l <= upto; l++) {
        size_t k = net->widths[l - 1], m = net->widths[l];
        if (v2 && net->block[l].kind == IFLOW_BLOCK_DENSE && k <= IFLOW_DENSE_SMALL_MAX &&
            m <= IFLOW_DENSE_SMALL_MAX)
            iflow_dense_small_forward(in, n, k, net->w[l], net->b[l], m, ws->pre[l]);
        else
            block_forward(net, l, in, n, ws);
        if (l == net->n_layers) break; /* logits: s = t = pre */
        if (iflow_net_pools_before_act(net, l)) {
            pool_forward(net, l, n, ws);
            activate(net->act, net->leaky_slope, ws->s[l], ws->s[l], n * m);
        } else {
            if (v2 && net->act == IFLOW_ACT_TANH)
                iflow_tanh_array(ws->pre[l], ws->a[l], n * net->pre_size[l], 1);
            else
                activate(net->act, net->leaky_slope, ws->pre[l], ws->a[l], n * net->pre_size[l]);
            pool_forward(net, l, n, ws);
        }
        if (rng && l <= noise_upto && net->beta[l] > 0) {
            iflow_rng_noisy_copy(rng, ws->s[l], ws->t_buf[l], n * m, net->beta[l]);
            ws->t[l] = ws->t_buf[l];
        } else {
            ws->t[l] = ws->s[l];
        }
        in = ws->t[l];
    }
}

const double *iflow_net_forward(const iflow_net *net, const double *x, size_t n, iflow_rng *rng,
                                iflow_workspace *ws) {
    size_t L = net->n_layers;
    forward_layers(net, x, n, L, L - 1, rng, ws);
    return ws->pre[L];
}

void iflow_net_propagate(const iflow_net *net, const double *x, size_t n, size_t l, iflow_rng *rng,
                         iflow_workspace *ws, double *out) {
    assert(l >= 1 && l < net->n_layers);
    size_t d = net->widths[0], m = net->widths[l];
    /* In chunks of the workspace's capacity; noise is drawn chunk by chunk, layer by layer. */
    for (size_t i0 = 0; i0 < n; i0 += ws->max_n) {
        size_t nb = n - i0 < ws->max_n ? n - i0 : ws->max_n;
        forward_layers(net, x + i0 * d, nb, l, l - 1, rng, ws);
        memcpy(out + i0 * m, ws->s[l], nb * m * sizeof *out);
    }
}

/* loss_i = logsumexp(z_i) - z_i[y_i], with logsumexp(z) = max z + log sum_j e^{z_j - max z};
 * d loss / d z_ij = (softmax(z_i)_j - [j = y_i]) / n. */
double iflow_softmax_xent(const double *logits, const int *y, size_t n, size_t c, double *dlogits,
                          size_t *n_correct) {
    double total = 0;
    size_t correct = 0;
    for (size_t i = 0; i < n; i++) {
        const double *z = logits + i * c;
        assert(y[i] >= 0 && (size_t)y[i] < c);
        size_t arg = 0;
        for (size_t j = 1; j < c; j++)
            if (z[j] > z[arg]) arg = j;
        double zmax = z[arg], sum = 0;
        if (dlogits) {
            double *g = dlogits + i * c;
            for (size_t j = 0; j < c; j++) sum += g[j] = exp(z[j] - zmax);
            double scale = 1.0 / (sum * (double)n);
            for (size_t j = 0; j < c; j++) g[j] *= scale;
            g[y[i]] -= 1.0 / (double)n;
        } else {
            for (size_t j = 0; j < c; j++) sum += exp(z[j] - zmax);
        }
        total += zmax + log(sum) - z[y[i]];
        correct += arg == (size_t)y[i];
    }
    if (n_correct) *n_correct = correct;
    return n ? total / (double)n : 0.0;
}

/* Given delta = d loss / d pre_l (n x m) and the layer input a (n x k):
 * dW = delta^T a (m x k), db = column sums of delta, and if da != NULL, da = delta W (n x k). */
static void dense_backward(const double *delta, const double *a, size_t n, size_t k,
                           const double *w, size_t m, double *dw, double *db, double *da) {
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m, (int)k, (int)n, 1.0, delta, (int)m,
                a, (int)k, 0.0, dw, (int)k);
    /* db_j = 0 + delta_0j + delta_1j + ... in row order, 8 columns at a time in a local array:
     * summing into db itself made the compiler reload and store db (it may alias delta) and
     * left m < 8 to scalar code; 5-10% of training the 12-bit net, the same sums. */
    for (size_t j0 = 0; j0 < m; j0 += 8) {
        size_t cols = m - j0 < 8 ? m - j0 : 8;
        double acc[8] = {0};
        for (size_t i = 0; i < n; i++) {
            const double *row = delta + i * m + j0;
            for (size_t t = 0; t < 8; t++) acc[t] += t < cols ? row[t] : 0.0;
        }
        memcpy(db + j0, acc, cols * sizeof *db);
    }
    if (da)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k, (int)m, 1.0, delta,
                    (int)m, w, (int)k, 0.0, da, (int)k);
}

/* Given delta = d loss / d pre_l and the block's input: its parameter gradients and, if
 * d_in != NULL, d loss / d input. */
static void block_backward(const iflow_net *net, size_t l, const double *delta, const double *in,
                           size_t n, iflow_workspace *ws, double *grad, double *d_in) {
    double *dw = grad + (net->w[l] - net->params), *db = grad + (net->b[l] - net->params);
    if (net->block[l].kind == IFLOW_BLOCK_CONV)
        iflow_conv_backward(delta, in, n, &ws->geom[l], net->w[l], dw, db, d_in, ws->conv_scratch);
    else
        dense_backward(delta, in, n, net->widths[l - 1], net->w[l], net->widths[l], dw, db, d_in);
}

/* d_out = d loss / d a_l from d_s = d loss / d S_l through block l's pooling. */
static void pool_backward(const iflow_net *net, size_t l, size_t n, const iflow_workspace *ws,
                          const double *d_s, double *d_out) {
    const iflow_block *b = &net->block[l];
    const iflow_conv_geom *g = &ws->geom[l];
    if (b->pool == IFLOW_POOL_MAX)
        iflow_maxpool_backward(d_s, ws->argmax[l], n, g->c_out, g->h_out, g->w_out, b->pool_size,
                               d_out);
    else
        iflow_avgpool_backward(d_s, n, g->c_out, g->h_out, g->w_out, b->pool_size, d_out);
}

/* d pre of a block that pools before its activation: a'(pre) d S at each window's winner, 0
 * elsewhere. */
static void pool_act_backward(const iflow_workspace *ws, const iflow_net *net, size_t l, size_t n,
                              const double *d_s, double *d_pre) {
    const iflow_conv_geom *g = &ws->geom[l];
    iflow_maxpool_act_backward(d_s, ws->argmax[l], ws->pre[l], net->act == IFLOW_ACT_RELU, n,
                               g->c_out, g->h_out, g->w_out, net->block[l].pool_size, d_pre);
}

double iflow_net_backward(const iflow_net *net, const double *x, const int *y, size_t n,
                          iflow_workspace *ws, double *grad, size_t *n_correct) {
    size_t L = net->n_layers;
    double *delta = ws->delta[0], *next = ws->delta[1];
    double loss = iflow_softmax_xent(ws->pre[L], y, n, net->widths[L], delta, n_correct);
    for (size_t l = L; l >= 1; l--) {
        const double *in = l > 1 ? ws->t[l - 1] : x;
        /* The noise Z_{l-1} is a fixed input, so d T_{l-1} / d S_{l-1} = I. */
        block_backward(net, l, delta, in, n, ws, grad, l > 1 ? next : NULL);
        if (l == 1) break;
        size_t k = l - 1;
        if (iflow_net_pools_before_act(net,
                                       k)) { /* d pre = a'(pooled pre) d S at the winners, else 0 */
            pool_act_backward(ws, net, k, n, next, delta);
            continue;
        }
        if (net->block[k].pool != IFLOW_POOL_NONE) {
            pool_backward(net, k, n, ws, next, delta); /* delta is free again */
        } else {
            double *tmp = delta;
            delta = next;
            next = tmp;
        }
        activate_backward(net->act, net->leaky_slope, ws->pre[k], ws->a[k], delta,
                          n * net->pre_size[k]);
    }
    return loss;
}

static int all_finite(const double *v, size_t n) {
    /* A sum of finite terms may overflow, so test each entry; x - x is NaN iff x is NaN/Inf. */
    for (size_t i = 0; i < n; i++)
        if (v[i] - v[i] != 0) return 0;
    return 1;
}

size_t iflow_net_first_nonfinite(const iflow_net *net) {
    for (size_t l = 1; l <= net->n_layers; l++)
        if (!all_finite(net->w[l], net->w_rows[l] * (net->w_cols[l] + 1))) return l;
    return 0;
}

/* W <- (1 + alpha) W - alpha W W^T W: a gradient step on ||W^T W - I||^2 / 4 (Cisse et al. 2017,
 * eq. 9). W is r x c; the product is formed through the smaller Gram matrix, (W W^T) W if
 * r <= c, else W (W^T W). */
static int orthonormalize_layer(double *w, size_t r, size_t c, double alpha) {
    size_t g = r <= c ? r : c;
    double stack[1024];
    size_t need = g * g + r * c;
    double *buf = need <= 1024 ? stack : malloc(need * sizeof *buf);
    if (!buf) return IFLOW_ENOMEM;
    double *gram = buf, *prod = buf + g * g;
    int ir = (int)r, ic = (int)c;
    if (r <= c) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ir, ir, ic, 1.0, w, ic, w, ic, 0.0,
                    gram, ir);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ir, ic, ir, 1.0, gram, ir, w, ic,
                    0.0, prod, ic);
    } else {
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ic, ic, ir, 1.0, w, ic, w, ic, 0.0,
                    gram, ic);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ir, ic, ic, 1.0, w, ic, gram, ic,
                    0.0, prod, ic);
    }
    for (size_t i = 0; i < r * c; i++) w[i] = (1.0 + alpha) * w[i] - alpha * prod[i];
    if (buf != stack) free(buf);
    return 0;
}

int iflow_net_orthonormalize(iflow_net *net, double alpha) {
    for (size_t l = 1; l <= net->n_layers; l++) {
        int rc = orthonormalize_layer(net->w[l], net->w_rows[l], net->w_cols[l], alpha);
        if (rc) return rc;
    }
    return 0;
}
