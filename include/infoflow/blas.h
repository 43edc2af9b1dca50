/* Which OpenBLAS core runs infoflow's matrix products, and whether this CPU could run a faster
 * one: a DYNAMIC_ARCH OpenBLAS older than the CPU falls back to generic SSE3 kernels (Debian 12's
 * 0.3.21 says "Prescott" on AMD Zen 4), about 4x slower than its AVX-512 ones. OpenBLAS reads
 * OPENBLAS_CORETYPE once, when it is loaded: docs/PERFORMANCE.md. */
#ifndef IFLOW_BLAS_CORE_H
#define IFLOW_BLAS_CORE_H

#include "infoflow/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The name of the core OpenBLAS runs (openblas_get_corename(): "Prescott", "SkylakeX", ...). */
IFLOW_API const char *iflow_blas_core(void);

/* The OPENBLAS_CORETYPE value that would select faster kernels, or NULL: "SkylakeX" if the CPU
 * and the OS support AVX-512 (F, BW, DQ, VL), else "Haswell" if they support AVX2 and FMA, and only
 * when the running core has no AVX2 kernels (a core OpenBLAS chose itself among Haswell, Zen,
 * SkylakeX, Cooperlake and SapphireRapids is kept). Does not look at the environment. */
IFLOW_API const char *iflow_blas_better_core(void);

#ifdef __cplusplus
}
#endif

#endif
