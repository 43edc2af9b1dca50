/* Fused dense forward for small layers (widths <= 16), used under normal generator v2 only
 * (it rounds differently from OpenBLAS; see dense_small.c). Internal to the library. */
#ifndef IFLOW_DENSE_SMALL_H
#define IFLOW_DENSE_SMALL_H

#include <stddef.h>

#include "isa.h"

#define IFLOW_DENSE_SMALL_MAX 16

/* pre (n x m) = b + a (n x k) W^T, W m x k row-major, k, m <= IFLOW_DENSE_SMALL_MAX: entry
 * (i, j) is b_j then fma(a_ic, W_jc, .) for c = 0..k-1 in order, on every instruction set. */
IFLOW_ISA_DECLARE(void, iflow_dense_small_forward,
                  (const double *a, size_t n, size_t k, const double *w, const double *b, size_t m,
                   double *pre));
static inline void iflow_dense_small_forward(const double *a, size_t n, size_t k, const double *w,
                                             const double *b, size_t m, double *pre) {
    IFLOW_ISA_PICK(iflow_dense_small_forward)(a, n, k, w, b, m, pre);
}

#endif
