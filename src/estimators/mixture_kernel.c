/* mixture_kernel: the vectorised log-sum-exp kernel behind every SP estimate, the tiles of
 * centres it sweeps, the per-thread workspace and the per-draw bookkeeping (draw, sweep, finish).
 * Both drivers use it: the exact one (mixture.c) and the truncated one (mixture_tree.c). */
#include "mixture_kernel.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "infoflow/rng.h"

/* gcc's default on AVX-512 machines is 256-bit vectors; the kernel is pure arithmetic on
 * registers and L1, where 512-bit vectors do twice the lanes per instruction. No code sinking
 * (tree-sink): it would undo EXP4's interleaving (results are the same either way). */
#if defined(__AVX512F__)
#define KERNEL_ATTR __attribute__((target("prefer-vector-width=512"), optimize("no-tree-sink")))
#else
#define KERNEL_ATTR __attribute__((optimize("no-tree-sink")))
#endif
#define INLINE static inline __attribute__((always_inline))

enum { JB = 64 }; /* centres per block in the generic-d kernel (distances kept in L1) */
/* Above this exponent margin exp(a_j - shift) could overflow: the draw falls back to a shift
 * taken from a max pass (see iflow_mix_shift_fallback). */
#define SAFE_EXP 600.0

/* QG queries (row-major t, QG x d) with c = -shift, group ids and the running sums:
 * acc[q] += sum_j e_qj, acc[QG + q] over group a matches, acc[2 QG + q] over group b, where
 * e_qj = exp(lw_j - ||t_q - s_j||^2 * inv - shift_q). */
typedef struct query_group {
    const double *t, *c, *qa, *qb;
    double inv;
    double acc[3 * QG];
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

/* iflow_exp_kernel (mixture.h) of x0..x3 into y0..y3: the same operations on each argument in
 * the same order (its step macros), issued step by step across the four, so four independent
 * dependency chains sit side by side in the instruction stream and the exp polynomial's latency
 * is hidden within one iteration instead of waiting for the out-of-order window to reach the
 * next one. (gcc's code sinking would move each chain back next to its use, one after the
 * other: KERNEL_ATTR turns it off for the kernel.) */
#define EXP4_STEP(S)  S(0), S(1), S(2), S(3)
#define EXP4_KD(q)    kd##q = IFLOW_EXP_KD(x##q)
#define EXP4_K(q)     k##q = kd##q - IFLOW_EXP_SHIFTER
#define EXP4_R1(q)    r##q = IFLOW_EXP_R1(x##q, k##q)
#define EXP4_R2(q)    r##q = IFLOW_EXP_R2(r##q, k##q)
#define EXP4_P(q)     p##q = IFLOW_EXP_P12
#define EXP4_H_(q, c) p##q = IFLOW_FMA(p##q, r##q, c)
#define EXP4_H(c)     EXP4_H_(0, c), EXP4_H_(1, c), EXP4_H_(2, c), EXP4_H_(3, c);
#define EXP4_Y(q)     y##q = x##q < IFLOW_EXP_MIN ? 0.0 : p##q * iflow_exp_scale(kd##q)
#define EXP4(y0, y1, y2, y3)                                                                       \
    double kd0, kd1, kd2, kd3, k0, k1, k2, k3, r0, r1, r2, r3, p0, p1, p2, p3;                     \
    EXP4_STEP(EXP4_KD);                                                                            \
    EXP4_STEP(EXP4_K);                                                                             \
    EXP4_STEP(EXP4_R1);                                                                            \
    EXP4_STEP(EXP4_R2);                                                                            \
    EXP4_STEP(EXP4_P);                                                                             \
    IFLOW_EXP_COEFS(EXP4_H)                                                                        \
    EXP4_STEP(EXP4_Y)

#define ACCUMULATE4(q)                                                                             \
    do {                                                                                           \
        s##q += y##q;                                                                              \
        if (ng >= 1) pa##q += ga[j] == qa##q ? y##q : 0.0;                                         \
        if (ng >= 2) pb##q += gb[j] == qb##q ? y##q : 0.0;                                         \
    } while (0)

/* Kernel for a compile-time d: the loop over centres j is the vectorised one (8 centres per
 * AVX-512 register); the d-loop is unrolled so the 4 distances stay in registers. */
INLINE void kernel_fixed(const centre_run *r, query_group *g, size_t d, int ng) {
    KERNEL_LOCALS;
#pragma omp simd reduction(+ : s0, s1, s2, s3, pa0, pa1, pa2, pa3, pb0, pb1, pb2, pb3)
    for (size_t j = 0; j < m; j++) {
        double d0 = 0, d1 = 0, d2 = 0, d3 = 0;
#pragma GCC unroll 16
        for (size_t k = 0; k < d; k++) {
            double xk = x[k * ld + j];
            double e0 = xk - t0[k], e1 = xk - t1[k], e2 = xk - t2[k], e3 = xk - t3[k];
            d0 = IFLOW_FMA(e0, e0, d0);
            d1 = IFLOW_FMA(e1, e1, d1);
            d2 = IFLOW_FMA(e2, e2, d2);
            d3 = IFLOW_FMA(e3, e3, d3);
        }
        double l = lw[j];
        double x0 = IFLOW_FMA(d0, -inv, l + c0), x1 = IFLOW_FMA(d1, -inv, l + c1);
        double x2 = IFLOW_FMA(d2, -inv, l + c2), x3 = IFLOW_FMA(d3, -inv, l + c3);
        double y0, y1, y2, y3;
        EXP4(y0, y1, y2, y3);
        ACCUMULATE4(0);
        ACCUMULATE4(1);
        ACCUMULATE4(2);
        ACCUMULATE4(3);
    }
    KERNEL_STORE;
}

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

// clang-format off: one case per line reads as the table it is
#define FIXED_CASES(NG)                                                                            \
    case 1: kernel_fixed(r, g, 1, NG); break;                                                      \
    case 2: kernel_fixed(r, g, 2, NG); break;                                                      \
    case 3: kernel_fixed(r, g, 3, NG); break;                                                      \
    case 4: kernel_fixed(r, g, 4, NG); break;                                                      \
    case 5: kernel_fixed(r, g, 5, NG); break;                                                      \
    case 6: kernel_fixed(r, g, 6, NG); break;                                                      \
    case 7: kernel_fixed(r, g, 7, NG); break;                                                      \
    case 8: kernel_fixed(r, g, 8, NG); break;                                                      \
    case 9: kernel_fixed(r, g, 9, NG); break;                                                      \
    case 10: kernel_fixed(r, g, 10, NG); break;                                                    \
    case 11: kernel_fixed(r, g, 11, NG); break;                                                    \
    case 12: kernel_fixed(r, g, 12, NG); break

KERNEL_ATTR static void kernel_ng0(const centre_run *r, query_group *g, size_t d) {
    switch (d) {
        FIXED_CASES(0);
    default: kernel_generic(r, g, d, 0);
    }
}

KERNEL_ATTR static void kernel_ng1(const centre_run *r, query_group *g, size_t d) {
    switch (d) {
        FIXED_CASES(1);
    default: kernel_generic(r, g, d, 1);
    }
}

KERNEL_ATTR static void kernel_ng2(const centre_run *r, query_group *g, size_t d) {
    switch (d) {
        FIXED_CASES(2);
    default: kernel_generic(r, g, d, 2);
    }
}

// clang-format on

static void run_kernel(const centre_run *r, query_group *g, size_t d, int ng) {
    if (ng == 0)
        kernel_ng0(r, g, d);
    else if (ng == 1)
        kernel_ng1(r, g, d);
    else
        kernel_ng2(r, g, d);
}

/* max_j (lw_j - ||t - s_j||^2 inv) over a run: the two-pass fallback's first pass. */
static double run_max(const centre_run *r, const double *t, size_t d, double inv) {
    double best = -INFINITY;
    for (size_t j = 0; j < r->m; j++) {
        double dist = 0;
        for (size_t k = 0; k < d; k++) {
            double e = r->x[k * r->ld + j] - t[k];
            dist += e * e;
        }
        best = fmax(best, r->lw[j] - dist * inv);
    }
    return best;
}

/* ---- centre storage ---------------------------------------------------------------------- */

/* All centres in tiles of `tile` centres (a multiple of 8, ~32 KB so a tile stays in L1 while
 * every query of a block passes over it), each tile dimension-major and 64-byte aligned. */
size_t iflow_mix_tile_size(size_t d) {
    size_t t = (32768 / (8 * d)) & ~(size_t)7;
    return t < 64 ? 64 : t > 2048 ? 2048 : t;
}

double *iflow_mix_alloc_aligned(size_t count) {
    size_t bytes = (count * sizeof(double) + 63) & ~(size_t)63;
    return aligned_alloc(64, bytes ? bytes : 64);
}

void iflow_mix_tiles_free(iflow_mix_tiles *tl) {
    free(tl->x);
    free(tl->lw);
    free(tl->ga);
    free(tl->gb);
    free(tl->runs);
    memset(tl, 0, sizeof *tl);
}

/* Copies s (n x d row-major) and the per-centre arrays into tiles; padding stays zero and is
 * never read (runs carry their length). */
static int tiles_fill(iflow_mix_tiles *tl, const double *s, const double *lw, const double *ga,
                      const double *gb, size_t n, size_t d) {
    tl->tile = iflow_mix_tile_size(d);
    tl->n_tiles = (n + tl->tile - 1) / tl->tile;
    size_t cap = tl->n_tiles * tl->tile;
    tl->x = iflow_mix_alloc_aligned(cap * d);
    tl->lw = iflow_mix_alloc_aligned(cap);
    tl->ga = ga ? iflow_mix_alloc_aligned(cap) : NULL;
    tl->gb = gb ? iflow_mix_alloc_aligned(cap) : NULL;
    if (!tl->x || !tl->lw || (ga && !tl->ga) || (gb && !tl->gb)) return IFLOW_ENOMEM;
    memset(tl->x, 0, cap * d * sizeof(double));
    memset(tl->lw, 0, cap * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        size_t b = i / tl->tile, jj = i % tl->tile;
        for (size_t k = 0; k < d; k++) tl->x[(b * d + k) * tl->tile + jj] = s[i * d + k];
        tl->lw[i] = lw ? lw[i] : 0.0;
        if (ga) tl->ga[i] = ga[i];
        if (gb) tl->gb[i] = gb[i];
    }
    return 0;
}

int iflow_mix_tiles_new(iflow_mix_tiles *tl, const double *s, const double *lw, const double *ga,
                        const double *gb, size_t n, size_t d) {
    memset(tl, 0, sizeof *tl);
    int rc = tiles_fill(tl, s, lw, ga, gb, n, d);
    tl->runs = rc == 0 ? malloc(tl->n_tiles * sizeof *tl->runs) : NULL;
    if (rc == 0 && !tl->runs) rc = IFLOW_ENOMEM;
    for (size_t b = 0; rc == 0 && b < tl->n_tiles; b++) {
        size_t j0 = b * tl->tile;
        centre_run r = {tl->x + j0 * d,
                        tl->lw + j0,
                        tl->ga ? tl->ga + j0 : NULL,
                        tl->gb ? tl->gb + j0 : NULL,
                        tl->tile,
                        n - j0 < tl->tile ? n - j0 : tl->tile};
        tl->runs[b] = r;
    }
    if (rc) iflow_mix_tiles_free(tl);
    return rc;
}

/* ---- per-draw bookkeeping ---------------------------------------------------------------- */

void iflow_mix_ws_free(workspace *w) {
    free(w->t);
    free(w->c);
    free(w->qa);
    free(w->qb);
    free(w->sum);
    free(w->hits.v);
    free(w->runs);
}

int iflow_mix_ws_init(workspace *w, size_t cap_q, size_t d) {
    memset(w, 0, sizeof *w);
    w->cap_q = (cap_q + QG - 1) / QG * QG;
    w->t = iflow_mix_alloc_aligned(w->cap_q * d);
    w->c = iflow_mix_alloc_aligned(w->cap_q);
    w->qa = iflow_mix_alloc_aligned(w->cap_q);
    w->qb = iflow_mix_alloc_aligned(w->cap_q);
    w->sum = iflow_mix_alloc_aligned(3 * w->cap_q);
    return w->t && w->c && w->qa && w->qb && w->sum ? 0 : IFLOW_ENOMEM;
}

/* Draws the k queries of centres idx[i0..i1) (idx NULL: centres i0..i1) and their shifts. The own
 * centre's exponent, lw_i - ||z||^2 / (2 beta^2), is known without a pass over the centres: it is
 * the LSE shift, and every other term is exp(a_j - shift) <= exp(||z||^2/(2 beta^2) + lw_max -
 * lw_i). Returns the query count padded to a multiple of QG (pads repeat the last query). */
size_t iflow_mix_draw(const mc_ctx *cx, const size_t *idx, size_t i0, size_t i1, workspace *w) {
    const iflow_mix_mc *p = cx->p;
    size_t d = p->d, k = p->k, q = 0;
    for (size_t u = i0; u < i1; u++) {
        size_t i = idx ? idx[u] : u;
        iflow_rng rng;
        iflow_rng_init(&rng, p->seed, p->stream + (p->orig ? p->orig[i] : i));
        rng.normals = p->normals;
        double *t = w->t + q * d;
        iflow_rng_fill_normal(&rng, t, k * d, p->beta);
        double lwi = p->lw ? p->lw[i] : 0.0;
        for (size_t j = 0; j < k; j++, q++, t += d) {
            double z2 = 0;
            for (size_t c = 0; c < d; c++) {
                z2 += t[c] * t[c];
                t[c] += p->s[i * d + c];
            }
            w->c[q] = z2 * cx->inv - lwi;
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

/* Two-pass fallback for draws whose terms could overflow (||z||^2/(2 beta^2) > ~600, only in
 * hundreds of dimensions): shift = max(a_own, max_j a_j - SAFE_EXP), so no term exceeds
 * e^SAFE_EXP and the own term underflows only if max_j a_j - a_own > SAFE_EXP + 708. */
void iflow_mix_shift_fallback(const mc_ctx *cx, const centre_run *runs, size_t n_runs, workspace *w,
                              size_t nq) {
    for (size_t q = 0; q < nq; q++) {
        if (w->c[q] + cx->lw_max <= SAFE_EXP) continue;
        double best = -INFINITY;
        for (size_t b = 0; b < n_runs; b++)
            best = fmax(best, run_max(&runs[b], w->t + q * cx->p->d, cx->p->d, cx->inv));
        w->c[q] = fmin(w->c[q], SAFE_EXP - best);
    }
}

/* sum[q], sum[cap + q], sum[2 cap + q] += the three sums of query q over the runs. Each query's
 * sums are accumulated by one thread in run order, so results are thread-count independent. */
void iflow_mix_sweep(const mc_ctx *cx, const centre_run *runs, size_t n_runs, workspace *w,
                     size_t nq) {
    size_t d = cx->p->d, cap = w->cap_q;
    memset(w->sum, 0, 3 * cap * sizeof(double));
    for (size_t b = 0; b < n_runs; b++) {
        for (size_t q = 0; q < nq; q += QG) {
            query_group g = {w->t + q * d, w->c + q, w->qa + q, w->qb + q, cx->inv, {0}};
            run_kernel(&runs[b], &g, d, cx->ng);
            for (size_t u = 0; u < QG; u++) {
                w->sum[q + u] += g.acc[u];
                w->sum[cap + q + u] += g.acc[QG + u];
                w->sum[2 * cap + q + u] += g.acc[2 * QG + u];
            }
        }
    }
}

/* Per-centre mean and variance of L = shift + ln S, A = ln(S_a / S), B = ln(S_b / S), for
 * the centres of iflow_mix_draw (same idx, i0, i1). */
void iflow_mix_finish(const mc_ctx *cx, const workspace *w, const size_t *idx, size_t i0, size_t i1,
                      iflow_mix_stats *stats) {
    size_t k = cx->p->k, cap = w->cap_q;
    for (size_t ci = i0; ci < i1; ci++) {
        iflow_mix_stats *st = &stats[idx ? idx[ci] : ci];
        double v[IFLOW_MIX_NQ];
        memset(st, 0, sizeof *st);
        for (int pass = 0; pass < 2; pass++) {
            for (size_t j = 0; j < k; j++) {
                size_t q = (ci - i0) * k + j;
                double ls = log(w->sum[q]);
                v[IFLOW_MIX_L] = ls - w->c[q];
                v[IFLOW_MIX_A] = cx->ng >= 1 ? log(w->sum[cap + q]) - ls : 0.0;
                v[IFLOW_MIX_B] = cx->ng >= 2 ? log(w->sum[2 * cap + q]) - ls : 0.0;
                v[IFLOW_MIX_LA] = v[IFLOW_MIX_L] + v[IFLOW_MIX_A];
                v[IFLOW_MIX_LB] = v[IFLOW_MIX_L] + v[IFLOW_MIX_B];
                for (int u = 0; u < IFLOW_MIX_NQ; u++) {
                    if (pass == 0) {
                        st->mean[u] += v[u] / (double)k;
                    } else {
                        double e = v[u] - st->mean[u];
                        st->var[u] += k > 1 ? e * e / (double)(k - 1) : 0.0;
                    }
                }
            }
        }
    }
}

int iflow_mix_threads(int threads) { return threads > 0 ? threads : omp_get_max_threads(); }

void iflow_mix_tick(const iflow_mix_mc *p, size_t total) {
    if (!p->progress || !p->progress_done || total == 0) return;
    size_t done;
#pragma omp atomic capture
    done = ++*p->progress_done;
    if (omp_get_thread_num() == 0 && (done * 100 / total != (done - 1) * 100 / total))
        p->progress(p->progress_user, (double)done / (double)total);
}
