/* mixture_hetero: the heteroscedastic SP sums (docs/ESTIMATION.md section 12): centre j has its
 * own diagonal noise sigma_j, so every term needs scaled distances and a log-determinant. The
 * kernel, draws, overflow fallback and truncation radius; the drivers are mixture.c's. */
#include "mixture_hetero.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infoflow/rng.h"

#if defined(__AVX512F__)
#define KERNEL_ATTR __attribute__((target("prefer-vector-width=512")))
#else
#define KERNEL_ATTR
#endif
#define INLINE static inline __attribute__((always_inline))

enum { FIXED_MAX_D = 12 }; /* d up to this has a kernel with the d-loop unrolled */
#define SAFE_EXP 600.0     /* as in mixture_kernel.c: the two-pass fallback above it */

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

/* ---- setup ------------------------------------------------------------------------------- */

/* sigma of centre i, coordinate c */
static double sig(const iflow_mix_mc *p, size_t i, size_t c) {
    return p->sigma_cols == 1 ? p->sigma[i] : p->sigma[i * p->d + c];
}

int iflow_mixh_setup(mc_ctx *cx) {
    const iflow_mix_mc *p = cx->p;
    size_t n = p->n, d = p->d, nw = p->sigma_cols;
    cx->nw = nw;
    cx->hlv = malloc((n ? n : 1) * sizeof *cx->hlv);
    cx->hw = malloc((n > 0 ? n * nw : 1) * sizeof *cx->hw);
    if (!cx->hlv || !cx->hw) return IFLOW_ENOMEM;
    cx->lw_max = -INFINITY;
    cx->sigma_max = 0;
    for (size_t i = 0; i < n; i++) {
        double ld = 0;
        for (size_t c = 0; c < d; c++) ld += log(sig(p, i, c));
        cx->hlv[i] = (p->lw ? p->lw[i] : 0.0) - ld;
        cx->lw_max = fmax(cx->lw_max, cx->hlv[i]);
        for (size_t r = 0; r < nw; r++) {
            double s = p->sigma[i * nw + r];
            cx->hw[i * nw + r] = 1.0 / (2.0 * s * s);
            cx->sigma_max = fmax(cx->sigma_max, s);
        }
    }
    double acc = 0;
    for (size_t i = 0; i < n; i++) acc += exp(cx->hlv[i] - cx->lw_max);
    cx->ln_vsum = cx->lw_max + log(acc);
    return 0;
}

void iflow_mixh_free(mc_ctx *cx) {
    free(cx->hlv);
    free(cx->hw);
    free(cx->tw);
    cx->hlv = cx->hw = cx->tw = NULL;
}

double *iflow_mixh_tiles(const mc_ctx *cx, iflow_mix_tiles *tl) {
    size_t n = cx->p->n, nw = cx->nw, tile = tl->tile;
    double *w = iflow_mix_alloc_aligned(tl->n_tiles * tile * nw);
    if (!w) return NULL;
    memset(w, 0, tl->n_tiles * tile * nw * sizeof *w);
    for (size_t i = 0; i < n; i++) {
        size_t b = i / tile, jj = i % tile;
        for (size_t r = 0; r < nw; r++) w[(b * nw + r) * tile + jj] = cx->hw[i * nw + r];
    }
    for (size_t b = 0; b < tl->n_tiles; b++) tl->runs[b].w = w + b * tile * nw;
    return w;
}

double *iflow_mixh_tree_coefs(const mc_ctx *cx, const size_t *perm) {
    size_t n = cx->p->n, nw = cx->nw;
    double *w = iflow_mix_alloc_aligned(n * nw);
    if (!w) return NULL;
    for (size_t pos = 0; pos < n; pos++)
        for (size_t r = 0; r < nw; r++) w[r * n + pos] = cx->hw[perm[pos] * nw + r];
    return w;
}

/* ---- draws, fallback, sweep -------------------------------------------------------------- */

size_t iflow_mixh_draw(const mc_ctx *cx, const size_t *idx, size_t i0, size_t i1, workspace *w) {
    const iflow_mix_mc *p = cx->p;
    size_t d = p->d, k = p->k, q = 0;
    for (size_t u = i0; u < i1; u++) {
        size_t i = idx ? idx[u] : u;
        iflow_rng rng;
        iflow_rng_init(&rng, p->seed, p->stream + (p->orig ? p->orig[i] : i));
        rng.normals = p->normals;
        double *t = w->t + q * d;
        iflow_rng_fill_normal(&rng, t, k * d, 1.0);
        for (size_t j = 0; j < k; j++, q++, t += d) {
            double z2 = 0;
            for (size_t c = 0; c < d; c++) {
                z2 += t[c] * t[c];
                t[c] = p->s[i * d + c] + sig(p, i, c) * t[c];
            }
            w->c[q] = 0.5 * z2 - cx->hlv[i];
            w->qa[q] = cx->ng >= 1 ? p->ga[i] : 0.0;
            w->qb[q] = cx->ng >= 2 ? p->gb[i] : 0.0;
        }
    }
    size_t nq = q;
    for (; q % QG; q++) {
        memcpy(w->t + q * d, w->t + (nq - 1) * d, d * sizeof(double));
        w->c[q] = w->c[nq - 1];
        w->qa[q] = w->qa[nq - 1];
        w->qb[q] = w->qb[nq - 1];
    }
    return q;
}

/* max_j (ln v_j - D_j) over a run: the fallback's first pass. */
static double run_max(const centre_run *r, const double *t, size_t d, size_t nw) {
    double best = -INFINITY;
    for (size_t j = 0; j < r->m; j++) {
        double dist = 0;
        for (size_t c = 0; c < d; c++) {
            double e = r->x[c * r->ld + j] - t[c];
            dist += e * e * r->w[(nw == 1 ? 0 : c) * r->ld + j];
        }
        best = fmax(best, r->lw[j] - dist);
    }
    return best;
}

/* shift = max(own, max_j a_j - SAFE_EXP) for the draws whose terms could exceed e^SAFE_EXP:
 * a_j - own <= ln v_j - ln v_i + ||zeta||^2 / 2 = c + ln v_j. */
void iflow_mixh_shift_fallback(const mc_ctx *cx, const centre_run *runs, size_t n_runs,
                               workspace *w, size_t nq) {
    for (size_t q = 0; q < nq; q++) {
        if (w->c[q] + cx->lw_max <= SAFE_EXP) continue;
        double best = -INFINITY;
        for (size_t b = 0; b < n_runs; b++)
            best = fmax(best, run_max(&runs[b], w->t + q * cx->p->d, cx->p->d, cx->nw));
        w->c[q] = fmin(w->c[q], SAFE_EXP - best);
    }
}

void iflow_mixh_sweep(const mc_ctx *cx, const centre_run *runs, size_t n_runs, workspace *w,
                      size_t nq) {
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

/* ---- truncation -------------------------------------------------------------------------- */

/* Truncation radius, per query centre i. A draw t = s_i + sigma_i * zeta has the own term
 * T_i = v_i e^{-||zeta||^2/2}; centre j's term is v_j e^{-(1/2) sum_c ((t_c - s_jc)/sigma_jc)^2}
 * <= v_j e^{-||t - s_j||^2 / (2 sigma_max^2)}, sigma_max the largest std of any centre. With
 *     R^2 = sigma_max^2 (||zeta||^2 + rho^2),   rho^2 = 2 ln((V - v_i) / (v_i tol)),  V = sum v_j,
 * every centre with ||t - s_j|| > R has a term below v_j e^{-||zeta||^2/2 - rho^2/2}, so the
 * dropped mass is D <= (V - v_i) e^{-rho^2/2} T_i / v_i = tol T_i <= tol S_kept, and
 * 0 <= ln S - ln S_kept <= tol; the own-group sums contain T_i, so the same holds for them
 * (and |error of A| <= tol, as in mixture_tree.c). Every centre some draw keeps lies within
 * max_j ||t_j - s_i|| + R_max of s_i (triangle inequality), R_max from the largest ||zeta||. */
double iflow_mixh_radius(const mc_ctx *cx, size_t i, const double *t) {
    const iflow_mix_mc *p = cx->p;
    double lvi = cx->hlv[i];
    /* ln(V - v_i) = ln V + ln(1 - v_i / V) */
    double ln_rest = cx->ln_vsum + log1p(-exp(lvi - cx->ln_vsum));
    double rho2 = isfinite(ln_rest) ? 2.0 * (ln_rest - lvi - log(p->tolerance)) : 0.0;
    double dmax = 0, z2max = 0;
    for (size_t j = 0; j < p->k; j++) {
        double e2 = 0, z2 = 0;
        for (size_t c = 0; c < p->d; c++) {
            double e = t[j * p->d + c] - p->s[i * p->d + c], z = e / sig(p, i, c);
            e2 += e * e;
            z2 += z * z;
        }
        dmax = fmax(dmax, e2);
        z2max = fmax(z2max, z2);
    }
    return sqrt(dmax) + cx->sigma_max * sqrt(z2max + fmax(rho2, 0.0));
}
