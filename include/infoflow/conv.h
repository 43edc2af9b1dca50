/* Convolution and pooling over batches in (N, C, H, W) row-major order (PyTorch's layout), the
 * building blocks of convolutional iflow_nets. Conv weights are C_out x (C_in KH KW), i.e.
 * PyTorch's (C_out, C_in, KH, KW) in C order. Convolution runs as im2col + cblas_dgemm one
 * sample at a time, the samples shared among OpenMP's threads (at most 8), and the weight
 * gradient summed over fixed groups of 8 samples, added in order: neither the batch size's split
 * nor the thread count changes a number. */
#ifndef IFLOW_CONV_H
#define IFLOW_CONV_H

#include "infoflow/api.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A convolution's geometry: input C_in x H_in x W_in, C_out kernels of KH x KW, one stride and
 * zero padding on all sides. h_out = (h_in + 2 pad - kh) / stride + 1 (same for w). */
typedef struct iflow_conv_geom {
    size_t c_in, h_in, w_in;
    size_t c_out, kh, kw, stride, pad;
    size_t h_out, w_out;
} iflow_conv_geom;

/* Fills h_out, w_out; returns 0, or -1 if the kernel does not fit the padded input or a size is
 * 0 (the caller reports it with its own context). */
IFLOW_API int iflow_conv_geom_init(iflow_conv_geom *g);

/* Doubles of scratch that iflow_conv_forward / iflow_conv_backward need for batches of up to
 * max_n samples, for any thread count. */
IFLOW_API size_t iflow_conv_scratch_doubles(const iflow_conv_geom *g, size_t max_n);

/* y (n, C_out, H_out, W_out) = conv(x (n, C_in, H_in, W_in), w (C_out, C_in, KH, KW)) + b. */
IFLOW_API void iflow_conv_forward(const double *x, size_t n, const iflow_conv_geom *g,
                                  const double *w, const double *b, double *y, double *scratch);

/* Given dy = d loss / d y (n, C_out, H_out, W_out) and the forward input x: dw (C_out x C_in KH
 * KW) and db (C_out), overwritten, and, if dx != NULL, dx = d loss / d x (n, C_in, H_in, W_in). */
IFLOW_API void iflow_conv_backward(const double *dy, const double *x, size_t n,
                                   const iflow_conv_geom *g, const double *w, double *dw,
                                   double *db, double *dx, double *scratch);

/* Pooling over non-overlapping k x k windows (stride k, no padding, a trailing partial window
 * is dropped as in PyTorch): x (n, c, h, w) -> y (n, c, h / k, w / k). Max pooling records in
 * argmax the index (within its h x w plane) of the first maximum, and propagates NaN. */
IFLOW_API void iflow_maxpool_forward(const double *x, size_t n, size_t c, size_t h, size_t w,
                                     size_t k, double *y, uint32_t *argmax);
/* dx (n, c, h, w), overwritten: dy routed to the argmax positions. */
IFLOW_API void iflow_maxpool_backward(const double *dy, const uint32_t *argmax, size_t n, size_t c,
                                      size_t h, size_t w, size_t k, double *dx);
IFLOW_API void iflow_avgpool_forward(const double *x, size_t n, size_t c, size_t h, size_t w,
                                     size_t k, double *y);
/* dx (n, c, h, w), overwritten: dy / k^2 over each window (0 where no window reaches). */
IFLOW_API void iflow_avgpool_backward(const double *dy, size_t n, size_t c, size_t h, size_t w,
                                      size_t k, double *dx);

#ifdef __cplusplus
}
#endif

#endif
