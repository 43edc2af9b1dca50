/* Checked sizes for allocations: every count that sizes an allocation (rows, replicas, draws,
 * epochs, threads) goes through these, so an absurd count is a clear error, never a wrapped
 * product and a heap overflow. Internal header. */
#ifndef IFLOW_ALLOC_H
#define IFLOW_ALLOC_H

#include <stddef.h>

#include "infoflow/error.h"

/* *out = a * b; -1 (and *out untouched) if the product does not fit in size_t. */
static inline int iflow_size_mul(size_t a, size_t b, size_t *out) {
    size_t r;
    if (__builtin_mul_overflow(a, b, &r)) return -1;
    *out = r;
    return 0;
}

/* *out = a * b * c (e.g. rows x columns x sizeof(double)); -1 on overflow. */
static inline int iflow_size_mul3(size_t a, size_t b, size_t c, size_t *out) {
    size_t ab;
    return iflow_size_mul(a, b, &ab) || iflow_size_mul(ab, c, out) ? -1 : 0;
}

/* malloc of n elements of `size` bytes (at least one, so NULL always means failure). A product
 * that overflows or exceeds IFLOW_ALLOC_MAX sets IFLOW_EINVAL, a failed malloc IFLOW_ENOMEM;
 * both messages name `what` and the count. */
void *iflow_alloc_array(size_t n, size_t size, const char *what, iflow_error *err);

/* The same check without allocating: 0 if n * size bytes is a size we would try to allocate. */
int iflow_check_array(size_t n, size_t size, const char *what, iflow_error *err);

/* Largest single allocation attempted: 2^47 bytes (128 TiB); beyond it a count is absurd. */
#define IFLOW_ALLOC_MAX ((size_t)1 << 47)

#endif
