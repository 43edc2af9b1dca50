/* Fused dense forward for the small layers of the information-plane nets (widths <= 16).
 *
 * Measured on one core of an AMD EPYC (AVX-512), batch 256, the 12-10-7-5-4-3-2 net
 * (tools/bench_train, and a micro-benchmark of the six layers): OpenBLAS 0.3.21 takes ~14 us per
 * batch for the forward products (beta = 1 with the bias rows, or beta = 0 and the bias added
 * after: the same), this kernel ~8 us; for the backward products OpenBLAS's small-matrix kernels
 * (~8 us) beat a fused AVX-512 kernel (~15 us, latency-bound on the accumulation of dW over rows),
 * so backward stays on OpenBLAS. Each output is a chain of fmas in a fixed order, so the AVX-512
 * and the scalar code give the same doubles. Compiled once per instruction set (isa.h). */
#include "dense_small.h"

#include <math.h>
#include <string.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

#define MAXW IFLOW_DENSE_SMALL_MAX

#ifdef __AVX512F__
/* Row i: two 8-lane accumulators hold the m outputs, starting from b; column c of a is
 * broadcast against row c of W^T. Four rows at a time, so that four independent fma chains
 * hide the fma latency (each output's chain is unchanged). */
#define ROW_STEP(r)                                                                                \
    do {                                                                                           \
        __m512d av = _mm512_set1_pd(a[(i + (r)) * k + c]);                                         \
        lo##r = _mm512_fmadd_pd(av, w0, lo##r);                                                    \
        if (m1) hi##r = _mm512_fmadd_pd(av, w1, hi##r);                                            \
    } while (0)
#define ROW_STORE(r)                                                                               \
    do {                                                                                           \
        _mm512_mask_storeu_pd(pre + (i + (r)) * m, m0, lo##r);                                     \
        if (m1) _mm512_mask_storeu_pd(pre + (i + (r)) * m + 8, m1, hi##r);                         \
    } while (0)

static void forward_avx512(const double *a, size_t n, size_t k, const double *wt, const double *bb,
                           size_t m, double *pre) {
    __mmask8 m0 = m >= 8 ? 0xff : (__mmask8)((1u << m) - 1);
    __mmask8 m1 = m > 8 ? (__mmask8)((1u << (m - 8)) - 1) : 0;
    __m512d b0 = _mm512_load_pd(bb), b1 = _mm512_load_pd(bb + 8);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m512d lo0 = b0, lo1 = b0, lo2 = b0, lo3 = b0, hi0 = b1, hi1 = b1, hi2 = b1, hi3 = b1;
        for (size_t c = 0; c < k; c++) {
            __m512d w0 = _mm512_load_pd(wt + c * MAXW), w1 = _mm512_load_pd(wt + c * MAXW + 8);
            ROW_STEP(0);
            ROW_STEP(1);
            ROW_STEP(2);
            ROW_STEP(3);
        }
        ROW_STORE(0);
        ROW_STORE(1);
        ROW_STORE(2);
        ROW_STORE(3);
    }
    for (; i < n; i++) {
        __m512d lo0 = b0, hi0 = b1;
        for (size_t c = 0; c < k; c++) {
            __m512d w0 = _mm512_load_pd(wt + c * MAXW), w1 = _mm512_load_pd(wt + c * MAXW + 8);
            ROW_STEP(0);
        }
        ROW_STORE(0);
    }
}
#endif

void IFLOW_ISA_FN(iflow_dense_small_forward)(const double *a, size_t n, size_t k, const double *w,
                                             const double *b, size_t m, double *pre) {
    double wt[MAXW * MAXW] __attribute__((aligned(64))) = {0};
    double bb[MAXW] __attribute__((aligned(64))) = {0};
    for (size_t j = 0; j < m; j++) {
        bb[j] = b[j];
        for (size_t c = 0; c < k; c++) wt[c * MAXW + j] = w[j * k + c];
    }
#ifdef __AVX512F__
    forward_avx512(a, n, k, wt, bb, m, pre);
#else
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < m; j++) {
            double x = bb[j];
            for (size_t c = 0; c < k; c++) x = fma(a[i * k + c], wt[c * MAXW + j], x);
            pre[i * m + j] = x;
        }
#endif
}
