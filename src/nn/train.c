/* Minibatch training epochs (shuffle, noisy forward, backward, optimiser and orthonormality
 * steps, divergence checks) and batched evaluation of a net. */
#include "infoflow/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train_f32.h"

static const char *const precision_names[] = {"float64", "float32"};
_Static_assert(sizeof precision_names / sizeof precision_names[0] == IFLOW_PRECISION_COUNT,
               "a name per precision");

const char *iflow_precision_name(iflow_precision p) {
    return (unsigned)p < IFLOW_PRECISION_COUNT ? precision_names[p] : NULL;
}

int iflow_precision_parse(const char *s) {
    for (int p = 0; s && p < IFLOW_PRECISION_COUNT; p++)
        if (!strcmp(s, precision_names[p])) return p;
    return -1;
}

int iflow_trainer_new(const iflow_net *net, size_t n_rows, size_t batch, iflow_trainer **out,
                      iflow_error *err) {
    *out = NULL;
    if (batch == 0) return iflow_error_set(err, IFLOW_EINVAL, "trainer: batch size is 0");
    if (n_rows == 0) return iflow_error_set(err, IFLOW_EINVAL, "trainer: no training rows");
    if (batch > n_rows) batch = n_rows; /* a batch never holds more than the whole set */
    iflow_trainer *t = calloc(1, sizeof *t);
    if (!t) return iflow_error_set(err, IFLOW_ENOMEM, "trainer: out of memory");
    t->batch = batch;
    t->n_rows = n_rows;
    int rc = iflow_workspace_new(net, batch, &t->ws, err);
    if (rc) {
        free(t);
        return rc;
    }
    t->grad = malloc(net->n_params * sizeof *t->grad);
    t->perm = malloc(n_rows * sizeof *t->perm);
    t->xb = malloc(batch * net->widths[0] * sizeof *t->xb);
    t->yb = malloc(batch * sizeof *t->yb);
    if (!t->grad || !t->perm || !t->xb || !t->yb) {
        iflow_trainer_free(t);
        return iflow_error_set(err, IFLOW_ENOMEM, "trainer: out of memory for %zu rows", n_rows);
    }
    *out = t;
    return 0;
}

int iflow_trainer_set_precision(iflow_trainer *t, const iflow_net *net, iflow_precision p,
                                iflow_error *err) {
    if ((unsigned)p >= IFLOW_PRECISION_COUNT)
        return iflow_error_set(err, IFLOW_EINVAL, "trainer: unknown precision %d", (int)p);
    if (p == IFLOW_PRECISION_FLOAT32 && !t->f32) {
        int rc = iflow_f32_state_new(net, t->batch, &t->f32, err);
        if (rc) return rc;
    }
    t->precision = p;
    return 0;
}

void iflow_trainer_free(iflow_trainer *t) {
    if (!t) return;
    iflow_f32_state_free(t->f32);
    iflow_workspace_free(t->ws);
    free(t->grad);
    free(t->perm);
    free(t->xb);
    free(t->yb);
    free(t);
}

static int layer_has_nonfinite(const double *v, size_t count) {
    for (size_t i = 0; i < count; i++)
        if (!isfinite(v[i])) return 1;
    return 0;
}

/* Blocks are named by index and weight matrix shape (conv: C_out x C_in KH KW).
 * Called when the loss of batch `step` is NaN/Inf (at_end = 0), or after the last step of the
 * epoch (at_end = 1). Parameters that hold NaN/Inf now were last changed by the previous step's
 * update (or this one's, at the end); if all are finite, the activations overflowed. */
static int diverged(const iflow_net *net, const iflow_workspace *ws, const iflow_f32_state *f32,
                    size_t nb, size_t step, int at_end, iflow_error *err) {
    size_t l = iflow_net_first_nonfinite(net);
    size_t culprit = at_end ? step : step - 1;
    if (l && culprit == 0)
        return iflow_error_set(err, IFLOW_ENUMERIC,
                               "layer %zu (%zu x %zu): weights were NaN/Inf before the epoch", l,
                               net->w_rows[l], net->w_cols[l]);
    if (l)
        return iflow_error_set(err, IFLOW_ENUMERIC,
                               "layer %zu (%zu x %zu): weights became NaN/Inf by step %zu of the "
                               "epoch",
                               l, net->w_rows[l], net->w_cols[l], culprit);
    if (at_end) return 0;
    if (f32) {
        l = iflow_f32_first_nonfinite_layer(f32, net, nb);
        l = l ? l : net->n_layers;
    } else {
        for (l = 1; l < net->n_layers; l++)
            if (layer_has_nonfinite(iflow_workspace_layer(ws, l), nb * net->widths[l])) break;
    }
    return iflow_error_set(err, IFLOW_ENUMERIC,
                           "layer %zu (%zu x %zu): activations overflowed to NaN/Inf at step %zu "
                           "of the epoch (weights still finite)",
                           l, net->w_rows[l], net->w_cols[l], step);
}

static void gather(const double *x, const int *y, size_t d, const size_t *rows, size_t nb,
                   double *xb, int *yb) {
    for (size_t i = 0; i < nb; i++) {
        memcpy(xb + i * d, x + rows[i] * d, d * sizeof *xb);
        yb[i] = y[rows[i]];
    }
}

int iflow_train_epoch(iflow_trainer *t, iflow_net *net, iflow_optim *opt, const double *x,
                      const int *y, size_t n, double orthonormal, iflow_rng *rng, double *loss,
                      double *acc, iflow_error *err) {
    if (n != t->n_rows || opt->n_params != net->n_params)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "train: %zu rows / %zu optimiser parameters, trainer built for "
                               "%zu rows / net has %zu parameters",
                               n, opt->n_params, t->n_rows, net->n_params);
    /* Restart from the identity so the order depends only on rng (checkpoints store rng only). */
    for (size_t i = 0; i < n; i++) t->perm[i] = i;
    iflow_rng_shuffle(rng, t->perm, n);
    size_t d = net->widths[0], correct_total = 0, step = 0;
    double loss_sum = 0;
    for (size_t i0 = 0; i0 < n; i0 += t->batch) {
        size_t nb = n - i0 < t->batch ? n - i0 : t->batch, correct = 0;
        step++;
        gather(x, y, d, t->perm + i0, nb, t->xb, t->yb);
        const iflow_f32_state *f32 = t->precision == IFLOW_PRECISION_FLOAT32 ? t->f32 : NULL;
        double l;
        if (f32) {
            l = iflow_f32_step(t->f32, net, t->xb, t->yb, nb, rng, &correct);
        } else {
            iflow_net_forward(net, t->xb, nb, rng, t->ws);
            l = iflow_net_backward(net, t->xb, t->yb, nb, t->ws, t->grad, &correct);
        }
        /* Checking every parameter after every step would cost as much as a small net's step;
         * a non-finite parameter shows up in the next loss, and the end-of-epoch check catches
         * the last step. */
        if (!isfinite(l)) return diverged(net, t->ws, f32, nb, step, 0, err);
        loss_sum += l * (double)nb;
        correct_total += correct;
        if (f32)
            iflow_f32_optim_step(t->f32, opt, net->params);
        else
            iflow_optim_step(opt, net->params, t->grad);
        if (orthonormal > 0 && iflow_net_orthonormalize(net, orthonormal))
            return iflow_error_set(err, IFLOW_ENOMEM,
                                   "train: out of memory in the "
                                   "orthonormality step");
    }
    int rc = diverged(net, t->ws, NULL, 0, step, 1, err);
    if (rc) return rc;
    if (loss) *loss = loss_sum / (double)n;
    if (acc) *acc = (double)correct_total / (double)n;
    return 0;
}

void iflow_evaluate(const iflow_net *net, const double *x, const int *y, size_t n, iflow_rng *rng,
                    iflow_workspace *ws, size_t ws_rows, double *loss, double *acc) {
    size_t d = net->widths[0], c = net->widths[net->n_layers], correct_total = 0;
    double loss_sum = 0;
    for (size_t i0 = 0; i0 < n; i0 += ws_rows) {
        size_t nb = n - i0 < ws_rows ? n - i0 : ws_rows, correct = 0;
        const double *logits = iflow_net_forward(net, x + i0 * d, nb, rng, ws);
        loss_sum += iflow_softmax_xent(logits, y + i0, nb, c, NULL, &correct) * (double)nb;
        correct_total += correct;
    }
    if (loss) *loss = n ? loss_sum / (double)n : 0.0;
    if (acc) *acc = n ? (double)correct_total / (double)n : 0.0;
}
