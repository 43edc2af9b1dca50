/* mixture_sweep: the vectorised log-sum-exp kernel behind every SP estimate and the sweep of a
 * workspace's draws over runs of centres; compiled once per instruction set (isa.h). */
#include <string.h>

#include "isa.h"
#include "mixture_kernel.h"

/* gcc's default on AVX-512 machines is 256-bit vectors; the kernel is pure arithmetic on
 * registers and L1, where 512-bit vectors do twice the lanes per instruction. No code sinking
 * (tree-sink): it would undo EXPN's interleaving (results are the same either way). */
#if defined(__AVX512F__)
#define KERNEL_ATTR __attribute__((target("prefer-vector-width=512"), optimize("no-tree-sink")))
#else
#define KERNEL_ATTR __attribute__((optimize("no-tree-sink")))
#endif
#define INLINE static inline __attribute__((always_inline))

enum { JB = 64 }; /* centres per block in the generic-d kernel (distances kept in L1) */
/* From this d on, the fixed-d kernel runs 2 QG queries side by side (measured on AVX-512:
 * faster at d = 5 and 10, not at d = 2, where 4 queries' exps already fill the pipes). */
enum { WIDE_MIN_D = 3 };
enum { FIXED_MAX_D = 12 }; /* the largest d with a fixed-d kernel (FIXED_CASES) */

/* nq = QG or 2 QG queries (row-major t, nq x d) with c = -shift, group ids and the running
 * sums: acc[q] += sum_j e_qj, acc[nq + q] over group a matches, acc[2 nq + q] over group b,
 * where e_qj = exp(lw_j - ||t_q - s_j||^2 * inv - shift_q). */
typedef struct query_group {
    const double *t, *c, *qa, *qb;
    double inv;
    double acc[3 * 2 * QG];
} query_group;

/* The accumulation step shared by both kernels: one exp per (query, centre), masked adds for
 * the group partial sums (ng = number of groupings, a compile-time constant after inlining). */
#define ACCUMULATE(q, dist)                                                                        \
    do {                                                                                           \
        double e_ = iflow_exp_kernel(IFLOW_FMA(dist, -inv, l + c##q));                             \
        s##q += e_;                                                                                \
        if (ng >= 1) pa##q += ga[j] == qa##q ? e_ : 0.0;                                           \
        if (ng >= 2) pb##q += gb[j] == qb##q ? e_ : 0.0;                                           \
    } while (0)

#define KERNEL_LOCALS                                                                              \
    const double *x = r->x, *lw = r->lw, *ga = r->ga, *gb = r->gb;                                 \
    const size_t ld = r->ld, m = r->m;                                                             \
    const double inv = g->inv;                                                                     \
    const double *t0 = g->t, *t1 = t0 + d, *t2 = t1 + d, *t3 = t2 + d;                             \
    const double c0 = g->c[0], c1 = g->c[1], c2 = g->c[2], c3 = g->c[3];                           \
    const double qa0 = ng >= 1 ? g->qa[0] : 0, qa1 = ng >= 1 ? g->qa[1] : 0;                       \
    const double qa2 = ng >= 1 ? g->qa[2] : 0, qa3 = ng >= 1 ? g->qa[3] : 0;                       \
    const double qb0 = ng >= 2 ? g->qb[0] : 0, qb1 = ng >= 2 ? g->qb[1] : 0;                       \
    const double qb2 = ng >= 2 ? g->qb[2] : 0, qb3 = ng >= 2 ? g->qb[3] : 0;                       \
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0, pa0 = 0, pa1 = 0, pa2 = 0, pa3 = 0;                     \
    double pb0 = 0, pb1 = 0, pb2 = 0, pb3 = 0

#define KERNEL_STORE                                                                               \
    do {                                                                                           \
        g->acc[0] += s0, g->acc[1] += s1, g->acc[2] += s2, g->acc[3] += s3;                        \
        g->acc[4] += pa0, g->acc[5] += pa1, g->acc[6] += pa2, g->acc[7] += pa3;                    \
        g->acc[8] += pb0, g->acc[9] += pb1, g->acc[10] += pb2, g->acc[11] += pb3;                  \
    } while (0)

/* iflow_exp_kernel (mixture.h) of x_q into y_q for every q of QS: the same operations on each
 * argument in the same order (its step macros), issued step by step across the queries, so
 * independent dependency chains sit side by side in the instruction stream and the exp
 * polynomial's latency is hidden within one iteration instead of waiting for the out-of-order
 * window to reach the next one. (gcc's code sinking would move each chain back next to its
 * use, one after the other: KERNEL_ATTR turns it off for the kernel.) y_q is p 2^k without the
 * cut to 0 below IFLOW_EXP_MIN: KF_ACC adds 0.0 instead of y_q there, which leaves the sums
 * (all >= +0) with the bits that adding a 0 result gives, and lets gcc fold the cut into the
 * multiply's mask instead of a separate blend. */
#define EXPN_KD(q)    double kd##q = IFLOW_EXP_KD(x##q);
#define EXPN_K(q)     double k##q = kd##q - IFLOW_EXP_SHIFTER;
#define EXPN_R1(q)    double r##q = IFLOW_EXP_R1(x##q, k##q);
#define EXPN_R2(q)    r##q = IFLOW_EXP_R2(r##q, k##q);
#define EXPN_P(q)     double p##q = IFLOW_EXP_P12;
#define EXPN_Y(q)     double y##q = p##q * iflow_exp_scale(kd##q);
#define EXPN_H_(q, c) p##q = IFLOW_FMA(p##q, r##q, c);
#define EXPN_H(c)     KF_QSC(EXPN_H_, c)
#define EXPN(QS)                                                                                   \
    QS(EXPN_KD) QS(EXPN_K) QS(EXPN_R1) QS(EXPN_R2) QS(EXPN_P) IFLOW_EXP_COEFS(EXPN_H) QS(EXPN_Y)

/* Per-query pieces of the fixed-d kernel (mixture_kernel_fixed.h). */
#define KF_LOCALS(q)                                                                               \
    const double *t##q = g->t + (q)*d, c##q = g->c[q];                                             \
    const double qa##q = ng >= 1 ? g->qa[q] : 0, qb##q = ng >= 2 ? g->qb[q] : 0;                   \
    double s##q = 0, pa##q = 0, pb##q = 0;
#define KF_DIST0(q) double d##q = 0;
#define KF_DIFF(q)  double e##q = xk - t##q[k];
#define KF_DIST(q)  d##q = IFLOW_FMA(e##q, e##q, d##q);
#define KF_ARG(q)   double x##q = IFLOW_FMA(d##q, -inv, l + c##q);
#define KF_ACC(q)                                                                                  \
    s##q += x##q < IFLOW_EXP_MIN ? 0.0 : y##q;                                                     \
    if (ng >= 1) pa##q += ga[j] == qa##q && !(x##q < IFLOW_EXP_MIN) ? y##q : 0.0;                  \
    if (ng >= 2) pb##q += gb[j] == qb##q && !(x##q < IFLOW_EXP_MIN) ? y##q : 0.0;
#define KF_STORE(q)                                                                                \
    g->acc[q] += s##q, g->acc[KF_NQ + (q)] += pa##q, g->acc[2 * KF_NQ + (q)] += pb##q;

#define KF_QS4(X)     X(0) X(1) X(2) X(3)
#define KF_QS8(X)     KF_QS4(X) X(4) X(5) X(6) X(7)
#define KF_QS4C(X, c) X(0, c) X(1, c) X(2, c) X(3, c)
#define KF_QS8C(X, c) KF_QS4C(X, c) X(4, c) X(5, c) X(6, c) X(7, c)
#define KF_NAME       kernel_fixed
#define KF_NQ         4
#define KF_QS         KF_QS4
#define KF_QSC        KF_QS4C
#define KF_RED        s0, s1, s2, s3, pa0, pa1, pa2, pa3, pb0, pb1, pb2, pb3
#include "mixture_kernel_fixed.h"
#undef KF_NAME
#undef KF_NQ
#undef KF_QS
#undef KF_QSC
#undef KF_RED
#define KF_NAME kernel_fixed8
#define KF_NQ   8
#define KF_QS   KF_QS8
#define KF_QSC  KF_QS8C
#define KF_RED                                                                                     \
    s0, s1, s2, s3, s4, s5, s6, s7, pa0, pa1, pa2, pa3, pa4, pa5, pa6, pa7, pb0, pb1, pb2, pb3,    \
        pb4, pb5, pb6, pb7
#include "mixture_kernel_fixed.h"
#undef KF_NAME
#undef KF_NQ
#undef KF_QS
#undef KF_QSC
#undef KF_RED

/* Kernel for any d: distances of a block of JB centres accumulate in L1 arrays, dimension by
 * dimension, then one exp pass over the block. */
INLINE void kernel_generic(const centre_run *r, query_group *g, size_t d, int ng) {
    KERNEL_LOCALS;
    double q0[JB] __attribute__((aligned(64))), q1[JB] __attribute__((aligned(64)));
    double q2[JB] __attribute__((aligned(64))), q3[JB] __attribute__((aligned(64)));
    for (size_t j0 = 0; j0 < m; j0 += JB) {
        size_t nb = m - j0 < JB ? m - j0 : JB;
        for (size_t j = 0; j < nb; j++) q0[j] = q1[j] = q2[j] = q3[j] = 0;
        for (size_t k = 0; k < d; k++) {
            const double *xk = x + k * ld + j0;
            double u0 = t0[k], u1 = t1[k], u2 = t2[k], u3 = t3[k];
#pragma omp simd
            for (size_t j = 0; j < nb; j++) {
                double e0 = xk[j] - u0, e1 = xk[j] - u1, e2 = xk[j] - u2, e3 = xk[j] - u3;
                q0[j] = IFLOW_FMA(e0, e0, q0[j]);
                q1[j] = IFLOW_FMA(e1, e1, q1[j]);
                q2[j] = IFLOW_FMA(e2, e2, q2[j]);
                q3[j] = IFLOW_FMA(e3, e3, q3[j]);
            }
        }
#pragma omp simd reduction(+ : s0, s1, s2, s3, pa0, pa1, pa2, pa3, pb0, pb1, pb2, pb3)
        for (size_t jj = 0; jj < nb; jj++) {
            size_t j = j0 + jj;
            double l = lw[j];
            ACCUMULATE(0, q0[jj]);
            ACCUMULATE(1, q1[jj]);
            ACCUMULATE(2, q2[jj]);
            ACCUMULATE(3, q3[jj]);
        }
    }
    KERNEL_STORE;
}

/* wide: 2 QG queries side by side (d <= FIXED_MAX_D only) */
#define FIXED(D, NG) wide ? kernel_fixed8(r, g, D, NG) : kernel_fixed(r, g, D, NG)
// clang-format off: one case per line reads as the table it is
#define FIXED_CASES(NG)                                                                            \
    case 1: FIXED(1, NG); break;                                                                   \
    case 2: FIXED(2, NG); break;                                                                   \
    case 3: FIXED(3, NG); break;                                                                   \
    case 4: FIXED(4, NG); break;                                                                   \
    case 5: FIXED(5, NG); break;                                                                   \
    case 6: FIXED(6, NG); break;                                                                   \
    case 7: FIXED(7, NG); break;                                                                   \
    case 8: FIXED(8, NG); break;                                                                   \
    case 9: FIXED(9, NG); break;                                                                   \
    case 10: FIXED(10, NG); break;                                                                 \
    case 11: FIXED(11, NG); break;                                                                 \
    case 12: FIXED(12, NG); break

KERNEL_ATTR static void kernel_ng0(const centre_run *r, query_group *g, size_t d, int wide) {
    switch (d) {
        FIXED_CASES(0);
    default: kernel_generic(r, g, d, 0);
    }
}

KERNEL_ATTR static void kernel_ng1(const centre_run *r, query_group *g, size_t d, int wide) {
    switch (d) {
        FIXED_CASES(1);
    default: kernel_generic(r, g, d, 1);
    }
}

KERNEL_ATTR static void kernel_ng2(const centre_run *r, query_group *g, size_t d, int wide) {
    switch (d) {
        FIXED_CASES(2);
    default: kernel_generic(r, g, d, 2);
    }
}

// clang-format on

static void run_kernel(const centre_run *r, query_group *g, size_t d, int ng, int wide) {
    if (ng == 0)
        kernel_ng0(r, g, d, wide);
    else if (ng == 1)
        kernel_ng1(r, g, d, wide);
    else
        kernel_ng2(r, g, d, wide);
}

/* sum[q], sum[cap + q], sum[2 cap + q] += the three sums of query q over the runs. Each query's
 * sums are accumulated by one thread in run order, so results are thread-count independent. */
void IFLOW_ISA_FN(iflow_mix_sweep)(const mc_ctx *cx, const centre_run *runs, size_t n_runs,
                                   workspace *w, size_t nq) {
    size_t d = cx->p->d, cap = w->cap_q;
    memset(w->sum, 0, 3 * cap * sizeof(double));
    for (size_t b = 0; b < n_runs; b++) {
        for (size_t q = 0; q < nq;) {
            /* Two groups side by side where d has a fixed-d kernel and the distances take enough
             * registers to leave the exp latency exposed (d >= WIDE_MIN_D): twice the
             * independent exp chains per iteration; each query's sums are the same either way. */
            int wide = d >= WIDE_MIN_D && d <= FIXED_MAX_D && q + 2 * QG <= nq;
            size_t ng = wide ? 2 * QG : QG;
            query_group g = {w->t + q * d, w->c + q, w->qa + q, w->qb + q, cx->inv, {0}};
            run_kernel(&runs[b], &g, d, cx->ng, wide);
            for (size_t u = 0; u < ng; u++) {
                w->sum[q + u] += g.acc[u];
                w->sum[cap + q + u] += g.acc[ng + u];
                w->sum[2 * cap + q + u] += g.acc[2 * ng + u];
            }
            q += ng;
        }
    }
}
