/* Normal generator v2 (see normal_v2.c for the exact definition). Internal to the library:
 * iflow_rng_fill_normal and iflow_rng_add_normal call it for an rng set to IFLOW_NORMALS_V2. */
#ifndef IFLOW_NORMAL_V2_H
#define IFLOW_NORMAL_V2_H

#include <stddef.h>
#include <stdint.h>

#include "isa.h"

/* out[i] = std z_i (x NULL) or out[i] = fma(std, z_i, x[i]), i < n, where z is the v2 normal
 * sequence of `key`; x may be out. */
IFLOW_ISA_DECLARE(void, iflow_normal_v2,
                  (uint64_t key, const double *x, double *out, size_t n, double std));
static inline void iflow_normal_v2(uint64_t key, const double *x, double *out, size_t n,
                                   double std) {
    IFLOW_ISA_PICK(iflow_normal_v2)(key, x, out, n, std);
}

/* The transform's ln, sin and cos on 8 lanes, exposed for the accuracy test: log_u = ln u
 * (u normal, > 0), sin_x, cos_x of x in [-pi/4, pi/4]. */
IFLOW_ISA_DECLARE(void, iflow_normal_v2_kernels,
                  (const double *u, const double *x, double *log_u, double *sin_x, double *cos_x));
static inline void iflow_normal_v2_kernels(const double *u, const double *x, double *log_u,
                                           double *sin_x, double *cos_x) {
    IFLOW_ISA_PICK(iflow_normal_v2_kernels)(u, x, log_u, sin_x, cos_x);
}

#endif
