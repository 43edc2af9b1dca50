/* Optimisers: SGD (momentum, weight decay) and Adam, over a flat parameter vector. */
#ifndef IFLOW_OPTIM_H
#define IFLOW_OPTIM_H

#include "infoflow/api.h"

#include <stddef.h>

#include "infoflow/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { IFLOW_OPT_SGD, IFLOW_OPT_ADAM } iflow_optimizer;

IFLOW_API const char *iflow_optimizer_name(iflow_optimizer k); /* "sgd", "adam" */
IFLOW_API int iflow_optimizer_parse(const char *s, iflow_optimizer *out);

typedef struct iflow_optim_params {
    iflow_optimizer kind;
    double lr;
    double momentum;          /* SGD: heavy-ball momentum in [0, 1) (PyTorch convention) */
    double weight_decay;      /* L2 coefficient added to the gradient (both optimisers) */
    double beta1, beta2, eps; /* Adam */
} iflow_optim_params;

/* Plain data so a checkpoint can store it: m and v have n_params entries each. */
typedef struct iflow_optim {
    iflow_optim_params p;
    size_t n_params;
    long step; /* number of steps taken */
    double *m; /* SGD: velocity; Adam: first moment */
    double *v; /* Adam: second moment (unused by SGD, still allocated) */
} iflow_optim;

IFLOW_API int iflow_optim_new(const iflow_optim_params *p, size_t n_params, iflow_optim **out,
                              iflow_error *err);
IFLOW_API void iflow_optim_free(iflow_optim *o);
/* One update of params (n_params) with gradient grad. Adam uses bias correction (Kingma & Ba). */
IFLOW_API void iflow_optim_step(iflow_optim *o, double *params, const double *grad);

#ifdef __cplusplus
}
#endif

#endif
