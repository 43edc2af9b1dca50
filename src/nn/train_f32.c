/* Training steps in float32 (train_f32.h): the block net's forward and backward passes of net.c
 * with float activations, gradients and GEMMs (cblas_sgemm, conv_f32.h's kernels), and Adam / SGD
 * in float. Noise, the loss and everything measured stay in double. */
#include "train_f32.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "conv_f32.h"

struct iflow_f32_state {
    size_t n_layers, max_n, n_params;
    float *w, *grad; /* the parameters in float, and their gradient (n_params each) */
    float *x;        /* the batch's inputs */
    float *pre[IFLOW_MAX_LAYERS + 1], *a[IFLOW_MAX_LAYERS + 1], *s[IFLOW_MAX_LAYERS + 1];
    float *t_buf[IFLOW_MAX_LAYERS + 1], *t[IFLOW_MAX_LAYERS + 1];
    uint32_t *argmax[IFLOW_MAX_LAYERS + 1];
    float *delta[2], *scratch;
    double *wide; /* noise and the loss are drawn and taken in double: 2 max width x max_n */
    iflow_conv_geom geom[IFLOW_MAX_LAYERS + 1];
    void *block;
};

/* Layout as iflow_workspace_new's: pre, a (pooled blocks), S, T per hidden block, two backward
 * buffers of the widest block, the conv scratch. */
int iflow_f32_state_new(const iflow_net *net, size_t max_n, iflow_f32_state **out,
                        iflow_error *err) {
    *out = NULL;
    iflow_f32_state *s = calloc(1, sizeof *s);
    if (!s) return iflow_error_set(err, IFLOW_ENOMEM, "float32 training: out of memory");
    size_t L = net->n_layers, wmax = net->widths[0], floats = 0, scratch = 0, n_arg = 0;
    for (size_t l = 1; l <= L; l++) {
        wmax = net->widths[l] > wmax ? net->widths[l] : wmax;
        wmax = net->pre_size[l] > wmax ? net->pre_size[l] : wmax;
        floats += net->pre_size[l] * max_n;
        if (l < L) floats += 2 * net->widths[l] * max_n;
        if (l < L && net->block[l].pool != IFLOW_POOL_NONE) floats += net->pre_size[l] * max_n;
        if (l < L && net->block[l].pool == IFLOW_POOL_MAX) n_arg += net->widths[l] * max_n;
        if (net->block[l].kind == IFLOW_BLOCK_CONV) {
            iflow_conv_geom g = {.c_in = net->shape[l - 1].c,
                                 .h_in = net->shape[l - 1].h,
                                 .w_in = net->shape[l - 1].w,
                                 .c_out = net->block[l].units,
                                 .kh = net->block[l].kh,
                                 .kw = net->block[l].kw,
                                 .stride = net->block[l].stride,
                                 .pad = net->block[l].pad};
            iflow_conv_geom_init(&g);
            s->geom[l] = g;
            size_t need = iflow_conv_scratch_doubles(&g, max_n);
            scratch = need > scratch ? need : scratch;
        }
    }
    floats += 2 * net->n_params + net->widths[0] * max_n + 2 * wmax * max_n + scratch;
    s->block = malloc(floats * sizeof(float) + 2 * wmax * max_n * sizeof(double) +
                      n_arg * sizeof(uint32_t));
    if (!s->block) {
        free(s);
        return iflow_error_set(err, IFLOW_ENOMEM, "float32 training: out of memory for %zu rows",
                               max_n);
    }
    s->n_layers = L;
    s->max_n = max_n;
    s->n_params = net->n_params;
    s->wide = s->block; /* doubles first, for their alignment */
    float *p = (float *)(s->wide + 2 * wmax * max_n);
    s->w = p, p += net->n_params;
    s->grad = p, p += net->n_params;
    s->x = p, p += net->widths[0] * max_n;
    s->delta[0] = p, p += wmax * max_n;
    s->delta[1] = p, p += wmax * max_n;
    s->scratch = p, p += scratch;
    for (size_t l = 1; l <= L; l++) {
        s->pre[l] = p, p += net->pre_size[l] * max_n;
        if (l == L) {
            s->s[l] = s->t[l] = s->a[l] = s->pre[l];
            break;
        }
        s->a[l] = NULL;
        if (net->block[l].pool != IFLOW_POOL_NONE) s->a[l] = p, p += net->pre_size[l] * max_n;
        s->s[l] = p, p += net->widths[l] * max_n;
        s->t_buf[l] = p, p += net->widths[l] * max_n;
        if (!s->a[l]) s->a[l] = s->s[l];
        s->t[l] = s->s[l];
    }
    uint32_t *arg = (uint32_t *)p;
    for (size_t l = 1; l < L; l++)
        if (net->block[l].pool == IFLOW_POOL_MAX) s->argmax[l] = arg, arg += net->widths[l] * max_n;
    *out = s;
    return 0;
}

void iflow_f32_state_free(iflow_f32_state *s) {
    if (!s) return;
    free(s->block);
    free(s);
}

/* s = a(pre), count entries; NaN propagates as in net.c's activate. */
static void activate(iflow_activation act, float slope, const float *pre, float *s, size_t count) {
    switch (act) {
    case IFLOW_ACT_TANH:
        for (size_t i = 0; i < count; i++) s[i] = tanhf(pre[i]);
        break;
    case IFLOW_ACT_RELU:
        for (size_t i = 0; i < count; i++) s[i] = pre[i] < 0 ? 0.0f : pre[i];
        break;
    case IFLOW_ACT_LEAKY_RELU:
        for (size_t i = 0; i < count; i++) s[i] = pre[i] < 0 ? slope * pre[i] : pre[i];
        break;
    case IFLOW_ACT_SIGMOID:
        for (size_t i = 0; i < count; i++) s[i] = 1.0f / (1.0f + expf(-pre[i]));
        break;
    case IFLOW_ACT_LINEAR:
        if (s != pre) memcpy(s, pre, count * sizeof *s);
        break;
    }
}

/* d *= a'(pre), as net.c's activate_backward. */
static void activate_backward(iflow_activation act, float slope, const float *pre, const float *s,
                              float *d, size_t count) {
    switch (act) {
    case IFLOW_ACT_TANH:
        for (size_t i = 0; i < count; i++) d[i] *= 1.0f - s[i] * s[i];
        break;
    case IFLOW_ACT_RELU:
        for (size_t i = 0; i < count; i++) d[i] = pre[i] > 0 ? d[i] : 0.0f;
        break;
    case IFLOW_ACT_LEAKY_RELU:
        for (size_t i = 0; i < count; i++) d[i] = pre[i] > 0 ? d[i] : slope * d[i];
        break;
    case IFLOW_ACT_SIGMOID:
        for (size_t i = 0; i < count; i++) d[i] *= s[i] * (1.0f - s[i]);
        break;
    case IFLOW_ACT_LINEAR: break;
    }
}

static float *layer_w(const iflow_f32_state *s, const iflow_net *net, size_t l) {
    return s->w + (net->w[l] - net->params);
}
static float *layer_b(const iflow_f32_state *s, const iflow_net *net, size_t l) {
    return s->w + (net->b[l] - net->params);
}

/* pre_l = W_l * in + b_l for n rows. */
static void block_forward(iflow_f32_state *s, const iflow_net *net, size_t l, const float *in,
                          size_t n) {
    const float *w = layer_w(s, net, l), *b = layer_b(s, net, l);
    if (net->block[l].kind == IFLOW_BLOCK_CONV) {
        iflow_conv_forward_f32(in, n, &s->geom[l], w, b, s->pre[l], s->scratch);
        return;
    }
    size_t k = net->widths[l - 1], m = net->widths[l];
    for (size_t i = 0; i < n; i++) memcpy(s->pre[l] + i * m, b, m * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)m, (int)k, 1.0f, in, (int)k,
                w, (int)k, 1.0f, s->pre[l], (int)m);
}

/* S_l = pool(a_l), or pool(pre_l) activated when net.c pools first. */
static void pool_forward(iflow_f32_state *s, const iflow_net *net, size_t l, size_t n) {
    const iflow_block *b = &net->block[l];
    const iflow_conv_geom *g = &s->geom[l];
    int first = iflow_net_pools_before_act(net, l);
    if (b->pool == IFLOW_POOL_MAX)
        iflow_maxpool_forward_f32(first ? s->pre[l] : s->a[l], n, g->c_out, g->h_out, g->w_out,
                                  b->pool_size, s->s[l], s->argmax[l]);
    else if (b->pool == IFLOW_POOL_AVG)
        iflow_avgpool_forward_f32(s->a[l], n, g->c_out, g->h_out, g->w_out, b->pool_size, s->s[l]);
}

/* T_l = S_l + beta Z with Z drawn as iflow_net_forward draws it, in double, rounded to float. */
static void add_noise(iflow_f32_state *s, const iflow_net *net, size_t l, size_t n,
                      iflow_rng *rng) {
    size_t count = n * net->widths[l];
    for (size_t i = 0; i < count; i++) s->wide[i] = (double)s->s[l][i];
    iflow_rng_noisy_copy(rng, s->wide, s->wide, count, net->beta[l]);
    for (size_t i = 0; i < count; i++) s->t_buf[l][i] = (float)s->wide[i];
    s->t[l] = s->t_buf[l];
}

static void forward(iflow_f32_state *s, const iflow_net *net, const float *x, size_t n,
                    iflow_rng *rng) {
    const float *in = x;
    float slope = (float)net->leaky_slope;
    for (size_t l = 1; l <= net->n_layers; l++) {
        size_t m = net->widths[l];
        block_forward(s, net, l, in, n);
        if (l == net->n_layers) break;
        if (iflow_net_pools_before_act(net, l)) {
            pool_forward(s, net, l, n);
            activate(net->act, slope, s->s[l], s->s[l], n * m);
        } else {
            activate(net->act, slope, s->pre[l], s->a[l], n * net->pre_size[l]);
            pool_forward(s, net, l, n);
        }
        if (rng && net->beta[l] > 0)
            add_noise(s, net, l, n, rng);
        else
            s->t[l] = s->s[l];
        in = s->t[l];
    }
}

/* Parameter gradients of block l from delta = d loss / d pre_l, and d loss / d input if d_in. */
static void block_backward(iflow_f32_state *s, const iflow_net *net, size_t l, const float *delta,
                           const float *in, size_t n, float *d_in) {
    const float *w = layer_w(s, net, l);
    float *dw = s->grad + (net->w[l] - net->params), *db = s->grad + (net->b[l] - net->params);
    if (net->block[l].kind == IFLOW_BLOCK_CONV) {
        iflow_conv_backward_f32(delta, in, n, &s->geom[l], w, dw, db, d_in, s->scratch);
        return;
    }
    size_t k = net->widths[l - 1], m = net->widths[l];
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m, (int)k, (int)n, 1.0f, delta,
                (int)m, in, (int)k, 0.0f, dw, (int)k);
    memset(db, 0, m * sizeof *db);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < m; j++) db[j] += delta[i * m + j];
    if (d_in)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k, (int)m, 1.0f, delta,
                    (int)m, w, (int)k, 0.0f, d_in, (int)k);
}

/* d pre of a block that pools before its activation: a'(pre) d S at each window's winner, 0
 * elsewhere. */
static void pool_act_backward(const iflow_f32_state *s, const iflow_net *net, size_t l, size_t n,
                              const float *d_s, float *d_pre) {
    const iflow_conv_geom *g = &s->geom[l];
    iflow_maxpool_act_backward_f32(d_s, s->argmax[l], s->pre[l], net->act == IFLOW_ACT_RELU, n,
                                   g->c_out, g->h_out, g->w_out, net->block[l].pool_size, d_pre);
}

/* The loss of the logits, in double; delta = its gradient rounded to float. */
static double loss_and_delta(iflow_f32_state *s, const iflow_net *net, const int *y, size_t n,
                             size_t *n_correct) {
    size_t L = net->n_layers, c = net->widths[L];
    double *logits = s->wide, *dlogits = s->wide + n * c;
    for (size_t i = 0; i < n * c; i++) logits[i] = (double)s->pre[L][i];
    double loss = iflow_softmax_xent(logits, y, n, c, dlogits, n_correct);
    for (size_t i = 0; i < n * c; i++) s->delta[0][i] = (float)dlogits[i];
    return loss;
}

static void backward(iflow_f32_state *s, const iflow_net *net, const float *x, size_t n) {
    size_t L = net->n_layers;
    float *delta = s->delta[0], *next = s->delta[1], slope = (float)net->leaky_slope;
    for (size_t l = L; l >= 1; l--) {
        const float *in = l > 1 ? s->t[l - 1] : x;
        block_backward(s, net, l, delta, in, n, l > 1 ? next : NULL);
        if (l == 1) break;
        size_t k = l - 1;
        const iflow_block *b = &net->block[k];
        const iflow_conv_geom *g = &s->geom[k];
        if (iflow_net_pools_before_act(net, k)) {
            pool_act_backward(s, net, k, n, next, delta);
            continue;
        }
        if (b->pool == IFLOW_POOL_MAX) {
            iflow_maxpool_backward_f32(next, s->argmax[k], n, g->c_out, g->h_out, g->w_out,
                                       b->pool_size, delta);
        } else if (b->pool == IFLOW_POOL_AVG) {
            iflow_avgpool_backward_f32(next, n, g->c_out, g->h_out, g->w_out, b->pool_size, delta);
        } else {
            float *tmp = delta;
            delta = next;
            next = tmp;
        }
        activate_backward(net->act, slope, s->pre[k], s->a[k], delta, n * net->pre_size[k]);
    }
}

double iflow_f32_step(iflow_f32_state *s, const iflow_net *net, const double *x, const int *y,
                      size_t n, iflow_rng *rng, size_t *n_correct) {
    for (size_t i = 0; i < net->n_params; i++) s->w[i] = (float)net->params[i];
    for (size_t i = 0; i < n * net->widths[0]; i++) s->x[i] = (float)x[i];
    int blas = iflow_blas_serial_begin();
    forward(s, net, s->x, n, rng);
    double loss = loss_and_delta(s, net, y, n, n_correct);
    backward(s, net, s->x, n);
    iflow_blas_serial_end(blas);
    return loss;
}

/* optim.c's rules in float: PyTorch's torch.optim.Adam / SGD on float32 parameters (the bias
 * corrections computed in double, as PyTorch does in Python, then used as floats). */
void iflow_f32_optim_step(const iflow_f32_state *s, iflow_optim *opt, double *params) {
    const iflow_optim_params *p = &opt->p;
    const float wd = (float)p->weight_decay, lr = (float)p->lr;
    if (p->kind == IFLOW_OPT_ADAM) {
        double t = (double)(opt->step + 1);
        const float step_size = (float)(p->lr / (1.0 - pow(p->beta1, t)));
        const float sqrt_bc2 = (float)sqrt(1.0 - pow(p->beta2, t));
        const float b1 = (float)p->beta1, b2 = (float)p->beta2, eps = (float)p->eps;
        for (size_t i = 0; i < s->n_params; i++) {
            float w = (float)params[i], g = s->grad[i] + wd * w;
            float m = b1 * (float)opt->m[i] + (1.0f - b1) * g;
            float v = b2 * (float)opt->v[i] + (1.0f - b2) * g * g;
            opt->m[i] = m;
            opt->v[i] = v;
            params[i] = w - step_size * m / (sqrtf(v) / sqrt_bc2 + eps);
        }
    } else {
        const float mu = (float)p->momentum;
        for (size_t i = 0; i < s->n_params; i++) {
            float w = (float)params[i], g = s->grad[i] + wd * w;
            if (mu > 0) {
                float v = opt->step == 0 ? g : mu * (float)opt->m[i] + g;
                opt->m[i] = v;
                g = v;
            }
            params[i] = w - lr * g;
        }
    }
    opt->step++;
}

size_t iflow_f32_first_nonfinite_layer(const iflow_f32_state *s, const iflow_net *net, size_t n) {
    for (size_t l = 1; l < net->n_layers; l++)
        for (size_t i = 0; i < n * net->widths[l]; i++)
            if (!isfinite(s->t[l][i])) return l;
    return 0;
}
