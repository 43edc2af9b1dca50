/* Normal generator v2: 16 lanes of xoshiro256** and an exact Box-Muller transform, computed with
 * +, -, *, /, sqrt and fma only, so every output is the same double on any IEEE-754 machine.
 *
 * One call of iflow_rng_fill_normal / iflow_rng_add_normal (n > 0) under v2:
 *   key = one xoshiro256** draw of the caller's rng (so streams stay counter-indexed: the call's
 *         numbers depend on the caller's (seed, stream) and position only, never on threads);
 *   lane j (0..15) state word w (0..3) = splitmix64 output number 4j + w + 1 of the state key,
 *         i.e. mix64(key + (4j + w + 1) * 0x9e3779b97f4a7c15);
 *   block b: each lane draws r1, r2; u = ((r1 >> 11) + 0.5) 2^-53 in (0, 1), the angle
 *         theta = q pi/2 + x with quadrant q = r2 >> 62 and x = ((r2 >> 10 mod 2^52) - 2^51)
 *         pi/2^53 in [-pi/4, pi/4), so theta is uniform on a full turn; rho = sqrt(-2 ln u);
 *         out[32 b + j] = rho cos(theta), out[32 b + 16 + j] = rho sin(theta) (the last block
 *         is cut at n).
 * ln, sin and cos are the polynomials below: Taylor series whose truncation error is < 2^-60
 * relative, evaluated by Horner with fma; test_rng measures their error against libm (within
 * 4 ulp for ln, 2^-52 absolute for sin and cos). The largest |output| is sqrt(2 * 54 ln 2) = 8.65.
 *
 * Vector code uses GCC vector extensions (8 doubles); with AVX-512 they are zmm registers, without
 * they are lowered to scalar or SSE2 code that rounds identically. Contraction of a * b + c into an
 * fma would make the result depend on the instruction set, so every product that meets a sum is
 * written as an explicit fma. Compiled once per instruction set (isa.h); every variant gives the
 * same doubles. */
#include "normal_v2.h"

#include <math.h>
#include <string.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

/* Without AVX-512 GCC warns that 64-byte vector arguments have no fixed ABI; every function
 * taking one is static, so no ABI is crossed. */
#pragma GCC diagnostic ignored "-Wpsabi"
/* Forced inlining also keeps GCC from making clones of them, where the pragma does not reach. */
#define INLINE static inline __attribute__((always_inline))

#define LANES 16
#define GROUP 8 /* lanes per vector */

typedef double v8d __attribute__((vector_size(64)));
typedef uint64_t v8u __attribute__((vector_size(64)));
typedef int64_t v8i __attribute__((vector_size(64)));

INLINE v8d vfma(v8d a, v8d b, v8d c) {
#ifdef __AVX512F__
    return _mm512_fmadd_pd(a, b, c);
#else
    v8d r;
    for (int i = 0; i < GROUP; i++) r[i] = fma(a[i], b[i], c[i]);
    return r;
#endif
}

INLINE v8d vsqrt(v8d a) {
#ifdef __AVX512F__
    return _mm512_sqrt_pd(a);
#else
    v8d r;
    for (int i = 0; i < GROUP; i++) r[i] = sqrt(a[i]);
    return r;
#endif
}

INLINE v8d splat(double x) { return (v8d){x, x, x, x, x, x, x, x}; }
INLINE v8u splatu(uint64_t x) { return (v8u){x, x, x, x, x, x, x, x}; }

/* Horner with fma: c[0] + z (c[1] + z (c[2] + ...)). */
INLINE v8d horner(v8d z, const double *c, int n) {
    v8d p = splat(c[n - 1]);
    for (int i = n - 2; i >= 0; i--) p = vfma(p, z, splat(c[i]));
    return p;
}

/* ln m = 2 atanh(s), s = (m - 1) / (m + 1): 2 sum s^(2k+1) / (2k+1). For m in [sqrt(1/2),
 * sqrt(2)), |s| <= 0.1716, s^2 <= 0.02944 and the first omitted term (k = 11) is < 2^-60 of the
 * sum. */
static const double LOG_C[11] = {2.0,      2.0 / 3,  2.0 / 5,  2.0 / 7,  2.0 / 9, 2.0 / 11,
                                 2.0 / 13, 2.0 / 15, 2.0 / 17, 2.0 / 19, 2.0 / 21};
#define LN2_HI                                                                                     \
    0x1.62e42fefa3800p-1 /* ln 2 = LN2_HI + LN2_LO, LN2_HI with 42 bits: k LN2_HI exact */
#define LN2_LO         0x1.ef35793c76730p-45
#define SQRT_HALF_BITS 0x3fe6a09e667f3bcdULL

/* ln u for normal positive u (musl's reduction: u = 2^k m, m in [sqrt(1/2), sqrt(2))). */
INLINE v8d vlog(v8d u) {
    v8u ix = (v8u)u + splatu(0x3ff0000000000000ULL - SQRT_HALF_BITS);
    v8i k = (v8i)(ix >> 52) - 0x3ff;
    v8d m = (v8d)((ix & splatu(0x000fffffffffffffULL)) + splatu(SQRT_HALF_BITS));
    v8d f = m - 1.0;
    v8d s = f / (f + 2.0);
    v8d p = s * horner(s * s, LOG_C, 11);
    v8d kd = __builtin_convertvector(k, v8d);
    return vfma(kd, splat(LN2_HI), vfma(kd, splat(LN2_LO), p));
}

/* sin x = sum (-1)^k x^(2k+1)/(2k+1)!, cos x = sum (-1)^k x^(2k)/(2k)! for |x| <= pi/4: the first
 * omitted terms, x^19/19! and x^18/18!, are below 2^-60. */
static const double SIN_C[9] = {1.0,
                                -1.0 / 6,
                                1.0 / 120,
                                -1.0 / 5040,
                                1.0 / 362880,
                                -1.0 / 39916800,
                                1.0 / 6227020800.0,
                                -1.0 / 1307674368000.0,
                                1.0 / 355687428096000.0};
static const double COS_C[10] = {1.0,
                                 -1.0 / 2,
                                 1.0 / 24,
                                 -1.0 / 720,
                                 1.0 / 40320,
                                 -1.0 / 3628800,
                                 1.0 / 479001600,
                                 -1.0 / 87178291200.0,
                                 1.0 / 20922789888000.0,
                                 -1.0 / 6402373705728000.0};

INLINE void vsincos(v8d x, v8d *sn, v8d *cs) {
    v8d z = x * x;
    *sn = x * horner(z, SIN_C, 9);
    *cs = horner(z, COS_C, 10);
}

void IFLOW_ISA_FN(iflow_normal_v2_kernels)(const double *u, const double *x, double *log_u,
                                           double *sin_x, double *cos_x) {
    v8d vu, vx, s, c, l;
    memcpy(&vu, u, sizeof vu);
    memcpy(&vx, x, sizeof vx);
    l = vlog(vu);
    vsincos(vx, &s, &c);
    memcpy(log_u, &l, sizeof l);
    memcpy(sin_x, &s, sizeof s);
    memcpy(cos_x, &c, sizeof c);
}

INLINE v8u vrotl(v8u x, int k) { return (x << k) | (x >> (64 - k)); }

typedef struct {
    v8u s0, s1, s2, s3;
} lanes8;

INLINE v8u vnext(lanes8 *g) {
    v8u result = vrotl(g->s1 * 5, 7) * 9;
    v8u t = g->s1 << 17;
    g->s2 ^= g->s0;
    g->s3 ^= g->s1;
    g->s1 ^= g->s2;
    g->s0 ^= g->s3;
    g->s2 ^= t;
    g->s3 = vrotl(g->s3, 45);
    return result;
}

INLINE v8u mix64(v8u z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Lane j of group g is lane 8 g + j; its word w is splitmix64 output 4 (8 g + j) + w + 1. */
static void seed_lanes(uint64_t key, lanes8 *g) {
    const uint64_t gamma = 0x9e3779b97f4a7c15ULL;
    for (int grp = 0; grp < 2; grp++) {
        v8u idx = {0, 1, 2, 3, 4, 5, 6, 7};
        idx = (idx + (uint64_t)(GROUP * grp)) * 4 + 1;
        v8u *w[4] = {&g[grp].s0, &g[grp].s1, &g[grp].s2, &g[grp].s3};
        for (uint64_t k = 0; k < 4; k++) *w[k] = mix64(splatu(key) + (idx + k) * gamma);
        for (int j = 0; j < GROUP; j++) /* xoshiro's one forbidden state; p = 2^-256 */
            if (!(g[grp].s0[j] | g[grp].s1[j] | g[grp].s2[j] | g[grp].s3[j])) g[grp].s0[j] = 1;
    }
}

/* One block of 2 * GROUP normals from one group: z[0..8) cosines, z[8..16) sines. */
INLINE void block(lanes8 *g, v8d *zc, v8d *zs) {
    v8u r1 = vnext(g), r2 = vnext(g);
    v8d u = (__builtin_convertvector(r1 >> 11, v8d) + 0.5) * 0x1.0p-53;
    v8i fx = (v8i)((r2 >> 10) & splatu((1ULL << 52) - 1)) - (int64_t)(1ULL << 51);
    v8d x = __builtin_convertvector(fx, v8d) * (M_PI * 0x1.0p-53);
    v8i q = (v8i)(r2 >> 62);
    v8d rho = vsqrt(vlog(u) * -2.0);
    v8d s, c;
    vsincos(x, &s, &c);
    /* (cos, sin)(x + q pi/2): q = 1 -> (-s, c), 2 -> (-c, -s), 3 -> (s, -c). */
    v8u odd = (v8u)((q & 1) != 0); /* all-ones lanes where q is odd */
    v8u cq = ((v8u)s & odd) | ((v8u)c & ~odd), sq = ((v8u)c & odd) | ((v8u)s & ~odd);
    const v8u sign = splatu(0x8000000000000000ULL);
    cq ^= (v8u)((q == 1) | (q == 2)) & sign; /* negation flips the sign bit only */
    sq ^= (v8u)((q & 2) != 0) & sign;
    *zc = rho * (v8d)cq;
    *zs = rho * (v8d)sq;
}

void IFLOW_ISA_FN(iflow_normal_v2)(uint64_t key, const double *x, double *out, size_t n,
                                   double std) {
    lanes8 g[2];
    seed_lanes(key, g);
    v8d sd = splat(std);
    for (size_t i0 = 0; i0 < n; i0 += 2 * LANES) {
        v8d z[4]; /* cos lanes 0-7, cos lanes 8-15, sin lanes 0-7, sin lanes 8-15 */
        block(&g[0], &z[0], &z[2]);
        block(&g[1], &z[1], &z[3]);
        size_t m = n - i0 < 2 * LANES ? n - i0 : 2 * LANES;
        if (m == 2 * LANES) {
            for (int v = 0; v < 4; v++) {
                v8d o;
                if (x) memcpy(&o, x + i0 + GROUP * v, sizeof o);
                o = x ? vfma(sd, z[v], o) : sd * z[v];
                memcpy(out + i0 + GROUP * v, &o, sizeof o);
            }
        } else {
            double tmp[4 * GROUP];
            memcpy(tmp, z, sizeof tmp);
            for (size_t i = 0; i < m; i++)
                out[i0 + i] = x ? fma(std, tmp[i], x[i0 + i]) : std * tmp[i];
        }
    }
}
