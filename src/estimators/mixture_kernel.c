/* mixture_kernel: the tiles of centres the SP kernel sweeps, the per-thread workspace and the
 * per-draw bookkeeping (draw, sweep, finish); the kernel and the sweep are in mixture_sweep.c.
 * Both drivers use them: the exact one (mixture.c) and the truncated one (mixture_tree.c). */
#include "mixture_kernel.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "infoflow/rng.h"

/* Above this exponent margin exp(a_j - shift) could overflow: the draw falls back to a shift
 * taken from a max pass (see iflow_mix_shift_fallback). */
#define SAFE_EXP 600.0

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
                        n - j0 < tl->tile ? n - j0 : tl->tile,
                        NULL};
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
size_t iflow_mix_pad_queries(workspace *w, size_t nq, size_t d) {
    size_t q = nq;
    for (; q % QG; q++) {
        memcpy(w->t + q * d, w->t + (nq - 1) * d, d * sizeof(double));
        w->c[q] = w->c[nq - 1];
        w->qa[q] = w->qa[nq - 1];
        w->qb[q] = w->qb[nq - 1];
    }
    return q;
}

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
    return iflow_mix_pad_queries(w, q, d);
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
                v[IFLOW_MIX_AB] = v[IFLOW_MIX_A] - v[IFLOW_MIX_B];
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
