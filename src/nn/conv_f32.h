/* The float versions of include/infoflow/conv.h's kernels, for training in float32: the same
 * arguments and layouts with float in place of double; the scratch holds
 * iflow_conv_scratch_doubles() floats. Internal to the library. */
#ifndef IFLOW_CONV_F32_H
#define IFLOW_CONV_F32_H

#include <stddef.h>
#include <stdint.h>

#include "infoflow/conv.h"

void iflow_conv_forward_f32(const float *x, size_t n, const iflow_conv_geom *g, const float *w,
                            const float *b, float *y, float *scratch);
void iflow_conv_backward_f32(const float *dy, const float *x, size_t n, const iflow_conv_geom *g,
                             const float *w, float *dw, float *db, float *dx, float *scratch);
void iflow_maxpool_forward_f32(const float *x, size_t n, size_t c, size_t h, size_t w, size_t k,
                               float *y, uint32_t *argmax);
void iflow_maxpool_backward_f32(const float *dy, const uint32_t *argmax, size_t n, size_t c,
                                size_t h, size_t w, size_t k, float *dx);
void iflow_avgpool_forward_f32(const float *x, size_t n, size_t c, size_t h, size_t w, size_t k,
                               float *y);
void iflow_avgpool_backward_f32(const float *dy, size_t n, size_t c, size_t h, size_t w, size_t k,
                                float *dx);

/* Internal kernels of both precisions: the backward pass of max pooling before a ReLU (relu =
 * 1) or the identity (conv_kernels.h). */
void iflow_maxpool_act_backward(const double *d_s, const uint32_t *argmax, const double *pre,
                                int relu, size_t n, size_t c, size_t h, size_t w, size_t k,
                                double *d_pre);
void iflow_maxpool_act_backward_f32(const float *d_s, const uint32_t *argmax, const float *pre,
                                    int relu, size_t n, size_t c, size_t h, size_t w, size_t k,
                                    float *d_pre);

#endif
