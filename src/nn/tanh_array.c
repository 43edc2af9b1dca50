/* tanh over arrays for the activations (net.c), compiled once per instruction set (isa.h); every
 * variant gives the same doubles. */
#include "tanh_array.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* tanh for arrays, written without branches or float-to-int casts so that GCC vectorises it;
 * glibc's scalar tanh (via expm1) took 55% of a training run. With a = |x|:
 *   a < 0.625: Cephes' rational form a + a^3 P(a^2)/Q(a^2);
 *   otherwise (e - 1)/(e + 1) with e = e^{2a} = 2^k e^r, r = 2a - k ln 2, |r| <= ln2/2, by a
 *   degree-13 Taylor polynomial (truncation < 1e-17); 2a is capped at 40, where tanh = 1.
 * The sign is restored with copysign (so tanh(-0) = -0). Within 3 ulp of glibc; NaN stays NaN.
 * k is rounded by adding 1.5 * 2^52, whose low mantissa bits then hold k. */
static inline __attribute__((always_inline)) void tanh_body(const double *in, double *out,
                                                            size_t count, int fused) {
/* C11 does not contract a * b + c; under normals v2 (fused = 1) the Horner steps are fmas:
 * half the operations and latency, the same doubles on every instruction set. */
#define MADD(a, b, c) (fused ? fma((a), (b), (c)) : (a) * (b) + (c))
    static const double P0 = -9.64399179425052238628E-1, P1 = -9.92877231001918586564E1,
                        P2 = -1.61468768441708447952E3, Q0 = 1.12811678491632931402E2,
                        Q1 = 2.23548839060100448583E3, Q2 = 4.84406305325125486048E3;
    static const double LN2_HI = 6.93147180369123816490e-01, LN2_LO = 1.90821492927058770002e-10;
    static const double ROUND = 0x1.8p52;
    for (size_t i = 0; i < count; i++) {
        double x = in[i], a = fabs(x), a2 = a * a;
        double y = 2.0 * (a < 20.0 ? a : 20.0);
        double t = y * 1.4426950408889634 + ROUND;
        uint64_t tb;
        memcpy(&tb, &t, sizeof tb);
        double k = t - ROUND;
        double r = (y - k * LN2_HI) - k * LN2_LO;
        double p = 1.0 / 6227020800.0;
        p = MADD(p, r, 1.0 / 479001600.0);
        p = MADD(p, r, 1.0 / 39916800.0);
        p = MADD(p, r, 1.0 / 3628800.0);
        p = MADD(p, r, 1.0 / 362880.0);
        p = MADD(p, r, 1.0 / 40320.0);
        p = MADD(p, r, 1.0 / 5040.0);
        p = MADD(p, r, 1.0 / 720.0);
        p = MADD(p, r, 1.0 / 120.0);
        p = MADD(p, r, 1.0 / 24.0);
        p = MADD(p, r, 1.0 / 6.0);
        p = MADD(p, r, 0.5);
        p = MADD(p, r, 1.0);
        p = MADD(p, r, 1.0);
        uint64_t bits = (tb + 1023) << 52; /* exponent field k + 1023, 0 <= k <= 58 */
        double scale;
        memcpy(&scale, &bits, sizeof scale);
        double e = p * scale;
        double qd = MADD(MADD(a2 + Q0, a2, Q1), a2, Q2);
        double pn = MADD(MADD(P0, a2, P1), a2, P2);
        int use_exp = a >= 0.625;
        double num = use_exp ? e - 1.0 : a * qd + a * a2 * pn;
        double den = use_exp ? e + 1.0 : qd;
        out[i] = copysign(num / den, x);
    }
}
#undef MADD

void IFLOW_ISA_FN(iflow_tanh_array)(const double *in, double *out, size_t count, int fused) {
    if (fused)
        tanh_body(in, out, count, 1);
    else
        tanh_body(in, out, count, 0);
}
