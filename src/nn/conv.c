/* Convolution by im2col + GEMM, one sample at a time on each OpenMP thread, and max / average
 * pooling, forward and backward, over batches in (N, C, H, W) order, in double (infoflow/conv.h)
 * and float (conv_f32.h); the kernels are conv_kernels.h's. */
#include "infoflow/conv.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "blas.h"
#include "conv_f32.h"

/* Threads work on samples, each with its own im2col buffer (one sample's columns); the scratch
 * holds at most this many, so more threads than this share the convolutions among this many. */
#define SLOTS 8
/* The backward pass sums dW over groups of this many samples, each group's sum in its own buffer,
 * then adds the groups' sums in order: the same numbers for every thread count. */
#define GROUP 8

int iflow_conv_geom_init(iflow_conv_geom *g) {
    if (!g->c_in || !g->h_in || !g->w_in || !g->c_out || !g->kh || !g->kw || !g->stride) return -1;
    if (g->kh > g->h_in + 2 * g->pad || g->kw > g->w_in + 2 * g->pad) return -1;
    g->h_out = (g->h_in + 2 * g->pad - g->kh) / g->stride + 1;
    g->w_out = (g->w_in + 2 * g->pad - g->kw) / g->stride + 1;
    return 0;
}

static size_t slots_for(size_t n) { return n < SLOTS ? (n ? n : 1) : SLOTS; }
static size_t groups_for(size_t n) { return n ? (n + GROUP - 1) / GROUP : 1; }

/* Per slot: one sample's columns (C_in KH KW x P); then per group of samples: dW and db. */
size_t iflow_conv_scratch_doubles(const iflow_conv_geom *g, size_t max_n) {
    size_t ckk = g->c_in * g->kh * g->kw, p = g->h_out * g->w_out;
    return slots_for(max_n) * ckk * p + groups_for(max_n) * g->c_out * (ckk + 1);
}

/* Threads for n samples: OpenMP's count, at most one per slot of the scratch. */
static int threads_for(size_t n) {
    size_t t = (size_t)omp_get_max_threads(), s = slots_for(n);
    return (int)(t < s ? t : s);
}

/* The output columns ow whose input column iw = ow s + kj - pad lies in [0, W): [*lo, *hi). */
static void valid_range(const iflow_conv_geom *g, size_t kj, size_t *lo, size_t *hi) {
    long s = (long)g->stride, off = (long)kj - (long)g->pad, W = (long)g->w_in;
    long a = off >= 0 ? 0 : (-off + s - 1) / s;           /* first ow with iw >= 0 */
    long b = W - 1 - off < 0 ? 0 : (W - 1 - off) / s + 1; /* one past the last with iw < W */
    if (b > (long)g->w_out) b = (long)g->w_out;
    if (a > b) a = b;
    *lo = (size_t)a;
    *hi = (size_t)b;
}

#define REAL   double
#define GEMM   cblas_dgemm
#define SFX(f) f
#include "conv_kernels.h"
#undef REAL
#undef GEMM
#undef SFX

#define REAL   float
#define GEMM   cblas_sgemm
#define SFX(f) f##_f32
#include "conv_kernels.h"
#undef REAL
#undef GEMM
#undef SFX
