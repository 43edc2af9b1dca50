/* OpenBLAS's thread count, scoped. A GEMM's result can depend on how OpenBLAS splits it over its
 * threads (the edge blocks of each part take other kernels, which round differently: measured,
 * `infoflow estimate` gave other last digits with 2 BLAS threads than with 1, and a CNN epoch
 * other weights). So every library entry that multiplies matrices runs OpenBLAS on one thread,
 * taking its parallelism from OpenMP over partitions that do not depend on the thread count, and
 * gives the caller's setting back when it returns. Internal. */
#ifndef IFLOW_BLAS_H
#define IFLOW_BLAS_H

/* Sets OpenBLAS to one thread; returns the count to restore. Nests. */
int iflow_blas_serial_begin(void);
void iflow_blas_serial_end(int previous);

/* The rule of iflow_blas_better_core (infoflow/blas.h) for a core name and the CPU's features
 * (AVX-512 F/BW/DQ/VL; AVX2 and FMA): the OPENBLAS_CORETYPE to set, or NULL. */
const char *iflow_blas_core_choice(const char *core, int avx512, int avx2_fma);

#endif
