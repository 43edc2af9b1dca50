/* Minibatch training and evaluation of a noisy net with softmax cross-entropy. */
#ifndef IFLOW_TRAIN_H
#define IFLOW_TRAIN_H

#include "infoflow/api.h"

#include <stddef.h>

#include "infoflow/error.h"
#include "infoflow/net.h"
#include "infoflow/optim.h"
#include "infoflow/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The arithmetic of training ([train] precision): weights, activations, gradients and the
 * optimiser's state in double or in float. float32 runs the same passes with float GEMMs and
 * keeps the parameters and optimiser state in their double arrays, each entry a float's value
 * after a step (so checkpoints keep their format and a resumed run continues bit for bit); noise
 * is drawn, and the loss taken, in double. Measurements always forward in double. */
typedef enum iflow_precision {
    IFLOW_PRECISION_FLOAT64 = 0,
    IFLOW_PRECISION_FLOAT32 = 1,
    IFLOW_PRECISION_COUNT
} iflow_precision;

/* "float64", "float32"; NULL for another value. */
IFLOW_API const char *iflow_precision_name(iflow_precision p);
/* The precision named s, or -1. */
IFLOW_API int iflow_precision_parse(const char *s);

struct iflow_f32_state;

/* Reusable buffers for training: a workspace for `batch` rows, the gradient and a permutation.
 * One per training loop. */
typedef struct iflow_trainer {
    iflow_workspace *ws;
    size_t batch;
    size_t n_rows;               /* rows of the training set */
    double *grad;                /* n_params */
    size_t *perm;                /* n_rows */
    double *xb;                  /* batch x widths[0] gathered rows */
    int *yb;                     /* batch labels */
    iflow_precision precision;   /* float64 unless iflow_trainer_set_precision says otherwise */
    struct iflow_f32_state *f32; /* float32's buffers (internal) */
} iflow_trainer;

IFLOW_API int iflow_trainer_new(const iflow_net *net, size_t n_rows, size_t batch,
                                iflow_trainer **out, iflow_error *err);
IFLOW_API void iflow_trainer_free(iflow_trainer *t);
/* Trains in precision p from the next epoch on (allocating float32's buffers for net). */
IFLOW_API int iflow_trainer_set_precision(iflow_trainer *t, const iflow_net *net, iflow_precision p,
                                          iflow_error *err);

/* One epoch: shuffle the n rows of (x, y) with rng, then for each minibatch of t->batch rows (the
 * last one smaller) a noisy forward pass (noise from rng), backward pass and optimiser step, then
 * the orthonormality step if orthonormal > 0. *loss and *acc get the mean training loss and
 * accuracy over the epoch's batches (noisy). If any parameter becomes NaN or Inf the epoch stops
 * and IFLOW_ENUMERIC is returned with a message naming the layer ("layer 3 (7 x 5): weights
 * became NaN/Inf at step 12 of the epoch"); the caller adds the epoch. */
IFLOW_API int iflow_train_epoch(iflow_trainer *t, iflow_net *net, iflow_optim *opt, const double *x,
                                const int *y, size_t n, double orthonormal, iflow_rng *rng,
                                double *loss, double *acc, iflow_error *err);

/* Mean loss and accuracy of the net on (x, y), in batches of ws's capacity: with noise from rng,
 * or noiseless when rng == NULL. */
IFLOW_API void iflow_evaluate(const iflow_net *net, const double *x, const int *y, size_t n,
                              iflow_rng *rng, iflow_workspace *ws, size_t ws_rows, double *loss,
                              double *acc);

#ifdef __cplusplus
}
#endif

#endif
