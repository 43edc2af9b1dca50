/* mixture_hetero_sweep: the heteroscedastic mixture kernel (scaled distances, per-centre
 * log-determinants) and the sweep of a workspace's draws over runs of centres; compiled once per
 * instruction set (isa.h), as mixture_sweep.c is for the isotropic kernel. */
#include <string.h>

#include "isa.h"
#include "mixture_hetero.h"

#if defined(__AVX512F__)
#define KERNEL_ATTR __attribute__((target("prefer-vector-width=512")))
#else
#define KERNEL_ATTR
#endif
#define INLINE static inline __attribute__((always_inline))

enum { FIXED_MAX_D = 12 }; /* d up to this has a kernel with the d-loop unrolled */

/* nq = QG or 2 QG queries, as mixture_kernel.c's query_group: acc[q], acc[nq + q] (group a),
 * acc[2 nq + q] (group b) += sum_j e_qj with e_qj = exp(ln v_j - D_qj + c_q), where
 * D_qj = sum_c w_jc (t_qc - s_jc)^2 and w_jc = 1/(2 sigma_jc^2) (per-centre: one w_j). */
typedef struct hgroup {
    const double *t, *c, *qa, *qb;
    double acc[3 * 2 * QG];
} hgroup;

/* Per-query pieces of the kernel; PC (per coordinate) and NG are compile-time constants. */
#define HK_LOCALS(q)                                                                               \
    const double *t##q = g->t + (q)*d, c##q = g->c[q];                                             \
    const double qa##q = ng >= 1 ? g->qa[q] : 0, qb##q = ng >= 2 ? g->qb[q] : 0;                   \
    double s##q = 0, pa##q = 0, pb##q = 0;
#define HK_DIST0(q) double d##q = 0;
#define HK_DIST(q)                                                                                 \
    {                                                                                              \
        double e_ = xk - t##q[k];                                                                  \
        d##q = pc ? IFLOW_FMA(e_ * wk, e_, d##q) : IFLOW_FMA(e_, e_, d##q);                        \
    }
#define HK_ACC(q)                                                                                  \
    {                                                                                              \
        double a_ = pc ? l + c##q - d##q : IFLOW_FMA(d##q, -wj, l + c##q);                         \
        double y_ = iflow_exp_kernel(a_);                                                          \
        s##q += y_;                                                                                \
        if (ng >= 1) pa##q += ga[j] == qa##q ? y_ : 0.0;                                           \
        if (ng >= 2) pb##q += gb[j] == qb##q ? y_ : 0.0;                                           \
    }
#define HK_STORE(q, NQ)                                                                            \
    g->acc[q] += s##q, g->acc[(NQ) + (q)] += pa##q, g->acc[2 * (NQ) + (q)] += pb##q;
#define HK_QS4(X)     X(0) X(1) X(2) X(3)
#define HK_QS8(X)     HK_QS4(X) X(4) X(5) X(6) X(7)
#define HK_ST4(X, NQ) X(0, NQ) X(1, NQ) X(2, NQ) X(3, NQ)
#define HK_ST8(X, NQ) HK_ST4(X, NQ) X(4, NQ) X(5, NQ) X(6, NQ) X(7, NQ)

/* One pass of NQ queries over a run: the j-loop is the vectorised one; the d-loop is unrolled
 * when d is a constant after inlining (the FIXED cases below). */
#define HK_BODY(QS, ST, NQ, RED)                                                                   \
    const double *x = r->x, *w = r->w, *lw = r->lw, *ga = r->ga, *gb = r->gb;                      \
    const size_t ld = r->ld, m = r->m;                                                             \
    QS(HK_LOCALS)                                                                                  \
    PRAGMA(omp simd reduction(+ : RED)) for (size_t j = 0; j < m; j++) {                           \
        QS(HK_DIST0)                                                                               \
        _Pragma("GCC unroll 16") for (size_t k = 0; k < d; k++) {                                  \
            double xk = x[k * ld + j], wk = pc ? w[k * ld + j] : 0.0;                              \
            (void)wk;                                                                              \
            QS(HK_DIST)                                                                            \
        }                                                                                          \
        double l = lw[j], wj = pc ? 0.0 : w[j];                                                    \
        (void)wj;                                                                                  \
        QS(HK_ACC)                                                                                 \
    }                                                                                              \
    ST(HK_STORE, NQ)

#define PRAGMA_(...) _Pragma(#__VA_ARGS__)
#define PRAGMA(...)  PRAGMA_(__VA_ARGS__)
#define RED4         s0, s1, s2, s3, pa0, pa1, pa2, pa3, pb0, pb1, pb2, pb3
#define RED8                                                                                       \
    s0, s1, s2, s3, s4, s5, s6, s7, pa0, pa1, pa2, pa3, pa4, pa5, pa6, pa7, pb0, pb1, pb2, pb3,    \
        pb4, pb5, pb6, pb7

INLINE void hk4(const centre_run *r, hgroup *g, size_t d, int ng,
                int pc){HK_BODY(HK_QS4, HK_ST4, 4, RED4)} INLINE
    void hk8(const centre_run *r, hgroup *g, size_t d, int ng, int pc) {
    HK_BODY(HK_QS8, HK_ST8, 8, RED8)
}

#define HK(D) wide ? hk8(r, g, D, NG, PC) : hk4(r, g, D, NG, PC)
// clang-format off: one case per line reads as the table it is
#define HK_CASES                                                                                   \
    case 1: HK(1); break;                                                                          \
    case 2: HK(2); break;                                                                          \
    case 3: HK(3); break;                                                                          \
    case 4: HK(4); break;                                                                          \
    case 5: HK(5); break;                                                                          \
    case 6: HK(6); break;                                                                          \
    case 7: HK(7); break;                                                                          \
    case 8: HK(8); break;                                                                          \
    case 9: HK(9); break;                                                                          \
    case 10: HK(10); break;                                                                        \
    case 11: HK(11); break;                                                                        \
    case 12: HK(12); break;                                                                        \
    default: HK(d)
// clang-format on

/* One function per (groupings, per-coordinate) pair, each with its d switch. */
#define HK_FN(NAME, NG_, PC_)                                                                      \
    KERNEL_ATTR static void NAME(const centre_run *r, hgroup *g, size_t d, int wide) {             \
        enum { NG = NG_, PC = PC_ };                                                               \
        switch (d) { HK_CASES; }                                                                   \
    }
HK_FN(hk_ng0_s, 0, 0)
HK_FN(hk_ng1_s, 1, 0)
HK_FN(hk_ng2_s, 2, 0)
HK_FN(hk_ng0_c, 0, 1)
HK_FN(hk_ng1_c, 1, 1)
HK_FN(hk_ng2_c, 2, 1)

typedef void (*hk_fn)(const centre_run *, hgroup *, size_t, int);
static const hk_fn hk_table[2][3] = {{hk_ng0_s, hk_ng1_s, hk_ng2_s},
                                     {hk_ng0_c, hk_ng1_c, hk_ng2_c}};

void IFLOW_ISA_FN(iflow_mixh_sweep)(const mc_ctx *cx, const centre_run *runs, size_t n_runs,
                                    workspace *w, size_t nq) {
    size_t d = cx->p->d, cap = w->cap_q;
    hk_fn fn = hk_table[cx->nw > 1][cx->ng];
    memset(w->sum, 0, 3 * cap * sizeof(double));
    for (size_t b = 0; b < n_runs; b++) {
        for (size_t q = 0; q < nq;) {
            int wide = q + 2 * QG <= nq;
            size_t ng = wide ? 2 * QG : QG;
            hgroup g = {w->t + q * d, w->c + q, w->qa + q, w->qb + q, {0}};
            fn(&runs[b], &g, d, wide);
            for (size_t u = 0; u < ng; u++) {
                w->sum[q + u] += g.acc[u];
                w->sum[cap + q + u] += g.acc[ng + u];
                w->sum[2 * cap + q + u] += g.acc[2 * ng + u];
            }
            q += ng;
        }
    }
}
