/* Training in float32 ([train] precision = float32, docs/PERFORMANCE.md): the forward and backward
 * passes and the optimiser step in float, on the parameters a net keeps in double (each one a
 * float's value once trained). Internal to the library: iflow_train_epoch calls it. */
#ifndef IFLOW_TRAIN_F32_H
#define IFLOW_TRAIN_F32_H

#include <stddef.h>

#include "infoflow/error.h"
#include "infoflow/net.h"
#include "infoflow/optim.h"
#include "infoflow/rng.h"

typedef struct iflow_f32_state iflow_f32_state;

/* Buffers for batches of up to max_n rows of this net's architecture. */
int iflow_f32_state_new(const iflow_net *net, size_t max_n, iflow_f32_state **out,
                        iflow_error *err);
void iflow_f32_state_free(iflow_f32_state *s);

/* One noisy forward and backward pass of the float net on x (n rows, double, rounded to float):
 * the parameters are net->params rounded to float; noise from rng exactly as
 * iflow_net_forward draws it (same draws, added in double, rounded to float). Returns the mean
 * cross-entropy (the logits widened to double); the gradient stays in the state. */
double iflow_f32_step(iflow_f32_state *s, const iflow_net *net, const double *x, const int *y,
                      size_t n, iflow_rng *rng, size_t *n_correct);

/* The optimiser's step in float with the last iflow_f32_step's gradient: params, m and v are
 * read as floats and written back as doubles holding floats. */
void iflow_f32_optim_step(const iflow_f32_state *s, iflow_optim *opt, double *params);

/* Index (1..L-1) of the first hidden layer whose last noisy outputs (n rows) hold NaN/Inf, or
 * 0. */
size_t iflow_f32_first_nonfinite_layer(const iflow_f32_state *s, const iflow_net *net, size_t n);

/* Whether net.c pools block l's pre-activations before its activation (max pooling with ReLU or
 * the identity, where both orders give the same numbers). */
int iflow_net_pools_before_act(const iflow_net *net, size_t l);

#endif
