/* SGD with momentum and Adam over a flat parameter vector, following PyTorch's update rules
 * (torch.optim.SGD and torch.optim.Adam with L2 weight decay added to the gradient). */
#include "infoflow/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *iflow_optimizer_name(iflow_optimizer k) {
    switch (k) {
    case IFLOW_OPT_SGD: return "sgd";
    case IFLOW_OPT_ADAM: return "adam";
    }
    return "?";
}

int iflow_optimizer_parse(const char *s, iflow_optimizer *out) {
    if (s && strcmp(s, "sgd") == 0)
        *out = IFLOW_OPT_SGD;
    else if (s && strcmp(s, "adam") == 0)
        *out = IFLOW_OPT_ADAM;
    else
        return IFLOW_EINVAL;
    return 0;
}

static int check_params(const iflow_optim_params *p, iflow_error *err) {
    if (p->kind != IFLOW_OPT_SGD && p->kind != IFLOW_OPT_ADAM)
        return iflow_error_set(err, IFLOW_EINVAL, "optimizer: unknown kind %d", (int)p->kind);
    if (!(p->lr > 0) || !isfinite(p->lr))
        return iflow_error_set(err, IFLOW_EINVAL, "optimizer: lr = %g, need finite > 0", p->lr);
    if (!(p->weight_decay >= 0) || !isfinite(p->weight_decay))
        return iflow_error_set(err, IFLOW_EINVAL, "optimizer: weight_decay = %g, need >= 0",
                               p->weight_decay);
    if (p->kind == IFLOW_OPT_SGD) {
        if (!(p->momentum >= 0 && p->momentum < 1))
            return iflow_error_set(err, IFLOW_EINVAL, "optimizer: momentum = %g, need [0, 1)",
                                   p->momentum);
        return 0;
    }
    if (!(p->beta1 >= 0 && p->beta1 < 1))
        return iflow_error_set(err, IFLOW_EINVAL, "optimizer: beta1 = %g, need [0, 1)", p->beta1);
    if (!(p->beta2 >= 0 && p->beta2 < 1))
        return iflow_error_set(err, IFLOW_EINVAL, "optimizer: beta2 = %g, need [0, 1)", p->beta2);
    if (!(p->eps > 0) || !isfinite(p->eps))
        return iflow_error_set(err, IFLOW_EINVAL, "optimizer: eps = %g, need finite > 0", p->eps);
    return 0;
}

int iflow_optim_new(const iflow_optim_params *p, size_t n_params, iflow_optim **out,
                    iflow_error *err) {
    *out = NULL;
    int rc = check_params(p, err);
    if (rc) return rc;
    iflow_optim *o = calloc(1, sizeof *o);
    if (!o) return iflow_error_set(err, IFLOW_ENOMEM, "optimizer: out of memory");
    o->p = *p;
    o->n_params = n_params;
    /* calloc(0) may return NULL; keep at least one entry so NULL always means failure. */
    o->m = calloc(n_params ? n_params : 1, sizeof *o->m);
    o->v = calloc(n_params ? n_params : 1, sizeof *o->v);
    if (!o->m || !o->v) {
        iflow_optim_free(o);
        return iflow_error_set(err, IFLOW_ENOMEM, "optimizer: out of memory for %zu parameters",
                               n_params);
    }
    *out = o;
    return 0;
}

void iflow_optim_free(iflow_optim *o) {
    if (!o) return;
    free(o->m);
    free(o->v);
    free(o);
}

/* g = grad + wd p;  v <- mu v + g (v = g on the first step, as PyTorch);  p <- p - lr v.
 * Without momentum: p <- p - lr g. */
static void sgd_step(iflow_optim *o, double *params, const double *grad) {
    const double lr = o->p.lr, wd = o->p.weight_decay, mu = o->p.momentum;
    double *v = o->m;
    for (size_t i = 0; i < o->n_params; i++) {
        double g = grad[i] + wd * params[i];
        if (mu > 0) {
            v[i] = o->step == 0 ? g : mu * v[i] + g;
            g = v[i];
        }
        params[i] -= lr * g;
    }
}

/* Kingma & Ba (2015), Algorithm 1, in PyTorch's arrangement:
 *   m <- b1 m + (1 - b1) g,  v <- b2 v + (1 - b2) g^2,
 *   p <- p - (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps). */
static void adam_step(iflow_optim *o, double *params, const double *grad) {
    const double b1 = o->p.beta1, b2 = o->p.beta2, wd = o->p.weight_decay, eps = o->p.eps;
    const double t = (double)(o->step + 1);
    const double step_size = o->p.lr / (1.0 - pow(b1, t));
    const double sqrt_bc2 = sqrt(1.0 - pow(b2, t));
    double *m = o->m, *v = o->v;
    for (size_t i = 0; i < o->n_params; i++) {
        double g = grad[i] + wd * params[i];
        m[i] = b1 * m[i] + (1.0 - b1) * g;
        v[i] = b2 * v[i] + (1.0 - b2) * g * g;
        params[i] -= step_size * m[i] / (sqrt(v[i]) / sqrt_bc2 + eps);
    }
}

void iflow_optim_step(iflow_optim *o, double *params, const double *grad) {
    if (o->p.kind == IFLOW_OPT_ADAM)
        adam_step(o, params, grad);
    else
        sgd_step(o, params, grad);
    o->step++;
}
