/* tanh over arrays (tanh_array.c), the activation of the information-plane nets. Internal. */
#ifndef IFLOW_TANH_ARRAY_H
#define IFLOW_TANH_ARRAY_H

#include <stddef.h>

#include "isa.h"

/* out[i] = tanh(in[i]), i < count, within 3 ulp of glibc; fused = 1 evaluates the polynomials
 * with fmas (normal generator v2's numbers), fused = 0 without (v1's). The same doubles on every
 * instruction set. */
IFLOW_ISA_DECLARE(void, iflow_tanh_array, (const double *in, double *out, size_t count, int fused));
static inline void iflow_tanh_array(const double *in, double *out, size_t count, int fused) {
    IFLOW_ISA_PICK(iflow_tanh_array)(in, out, count, fused);
}

#endif
