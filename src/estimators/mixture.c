/* mixture: the two drivers of the SP mixture sums. Exact: blocks of queries swept over every
 * cache-sized tile of centres (here); truncated: blocks planned over a k-d tree
 * (mixture_tree.c). Both run the kernel of mixture_kernel.c. */
#include "mixture.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "dist.h"
#include "mixture_hetero.h"
#include "mixture_kernel.h"
#include "mixture_tree.h"

/* Exact mode: blocks of ~64 queries (whole centres) in parallel, each swept over every tile.
 * In an MPI job each rank computes the blocks it owns (round-robin: a balanced share). */
static int run_exact(mc_ctx *cx, iflow_mix_stats *stats) {
    const iflow_mix_mc *p = cx->p;
    size_t cb = p->k >= 64 ? 1 : (64 + p->k - 1) / p->k;
    size_t nqc = p->n_query ? p->n_query : p->n, n_blocks = (nqc + cb - 1) / cb;
    size_t rank = (size_t)iflow_dist_rank(), size = (size_t)iflow_dist_size();
    size_t mine = n_blocks > rank ? (n_blocks - rank + size - 1) / size : 0;
    cx->n_blk = n_blocks;
    cx->blk_start = malloc((n_blocks + 1) * sizeof *cx->blk_start);
    if (!cx->blk_start) return IFLOW_ENOMEM;
    for (size_t b = 0; b <= n_blocks; b++) cx->blk_start[b] = b * cb < nqc ? b * cb : nqc;
    int fail = 0;
#pragma omp parallel num_threads(iflow_mix_threads(p->threads))
    {
        workspace w;
        int ok = iflow_mix_ws_init(&w, cb * p->k, p->d) == 0;
        if (!ok) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(dynamic)
        for (size_t bb = 0; bb < mine; bb++) {
            if (!ok) continue;
            size_t b = rank + bb * size, i0 = b * cb, i1 = i0 + cb < nqc ? i0 + cb : nqc;
            if (cx->hlv) { /* heteroscedastic centres (mixture_hetero.c) */
                size_t nq = iflow_mixh_draw(cx, NULL, i0, i1, &w);
                iflow_mixh_shift_fallback(cx, cx->runs, cx->n_runs, &w, nq);
                iflow_mixh_sweep(cx, cx->runs, cx->n_runs, &w, nq);
            } else {
                size_t nq = iflow_mix_draw(cx, NULL, i0, i1, &w);
                iflow_mix_shift_fallback(cx, cx->runs, cx->n_runs, &w, nq);
                iflow_mix_sweep(cx, cx->runs, cx->n_runs, &w, nq);
            }
            iflow_mix_finish(cx, &w, NULL, i0, i1, stats);
            iflow_mix_tick(p, mine);
        }
        iflow_mix_ws_free(&w);
    }
    return fail ? IFLOW_ENOMEM : 0;
}

/* Every rank gets the statistics of every query centre: each packs those of its own blocks
 * (in block order), one allgather, each unpacks all. Per-centre statistics do not depend on
 * which rank computed them, so the reductions over them (entropy.c) give the same bytes for
 * any number of ranks. */
static int gather_blocks(const mc_ctx *cx, iflow_mix_stats *stats, iflow_error *err) {
    size_t size = (size_t)iflow_dist_size(), rank = (size_t)iflow_dist_rank();
    if (size == 1) return 0;
    _Static_assert(sizeof(iflow_mix_stats) == 2 * IFLOW_MIX_NQ * sizeof(double), "packed");
    const size_t *st = cx->blk_start, *ord = cx->blk_order, n = st[cx->n_blk];
    size_t *counts = calloc(size, sizeof *counts), *disp = calloc(size, sizeof *disp);
    size_t *at = malloc(size * sizeof *at);
    iflow_mix_stats *buf = malloc((n ? n : 1) * sizeof *buf);
    int rc = counts && disp && at && buf ? 0
                                         : iflow_error_set(err, IFLOW_ENOMEM,
                                                           "mixture: out of memory gathering %zu "
                                                           "centres",
                                                           n);
    for (size_t b = 0; !rc && b < cx->n_blk; b++) counts[b % size] += st[b + 1] - st[b];
    for (size_t r = 1; !rc && r < size; r++) disp[r] = disp[r - 1] + counts[r - 1];
    /* pass 0 packs this rank's blocks at its displacement, pass 1 unpacks every rank's */
    for (int pass = 0; pass < 2 && !rc; pass++) {
        memcpy(at, disp, size * sizeof *at);
        for (size_t b = pass == 0 ? rank : 0; b < cx->n_blk; b += pass == 0 ? size : 1)
            for (size_t u = st[b]; u < st[b + 1]; u++) {
                size_t i = ord ? ord[u] : u;
                if (pass == 0)
                    buf[at[b % size]++] = stats[i];
                else
                    stats[i] = buf[at[b % size]++];
            }
        if (pass == 0) {
            for (size_t r = 0; r < size; r++) counts[r] *= 2 * IFLOW_MIX_NQ; /* in doubles */
            rc = iflow_dist_allgather((double *)(buf + disp[rank]), counts, (double *)buf, err);
        }
    }
    free(counts);
    free(disp);
    free(at);
    free(buf);
    return rc;
}

int iflow_mix_mc_run(const iflow_mix_mc *p, iflow_mix_stats *stats, iflow_error *err) {
    mc_ctx cx = {.p = p,
                 .ng = p->gb   ? 2
                       : p->ga ? 1
                               : 0,
                 .inv = 1.0 / (2.0 * p->beta * p->beta),
                 .lw_max = -INFINITY};
    for (size_t i = 0; i < p->n; i++) {
        double lw = p->lw ? p->lw[i] : 0.0;
        cx.lw_max = fmax(cx.lw_max, lw);
        cx.wsum += exp(lw);
    }
    int rc = p->sigma ? iflow_mixh_setup(&cx) : 0;
    if (rc == 0 && p->tolerance > 0) {
        rc = iflow_mix_run_truncated(&cx, stats);
    } else if (rc == 0) {
        /* heteroscedastic: ln v_j takes ln w_j's place, and the runs get their coefficients */
        iflow_mix_tiles tl;
        double *hw = NULL;
        rc = iflow_mix_tiles_new(&tl, p->s, cx.hlv ? cx.hlv : p->lw, p->ga, p->gb, p->n, p->d);
        if (rc == 0 && cx.hlv && !(hw = iflow_mixh_tiles(&cx, &tl))) rc = IFLOW_ENOMEM;
        cx.runs = tl.runs;
        cx.n_runs = tl.n_tiles;
        if (rc == 0) rc = run_exact(&cx, stats);
        iflow_mix_tiles_free(&tl);
        free(hw);
    }
    iflow_mixh_free(&cx);
    if (rc) iflow_error_set(err, rc, "mixture: out of memory (n = %zu, d = %zu)", p->n, p->d);
    /* In an MPI job: the ranks agree (a failure on one is an error on all), then share. */
    rc = iflow_dist_agree(rc, err);
    if (rc == 0) rc = gather_blocks(&cx, stats, err);
    free(cx.blk_start);
    free(cx.blk_order);
    return rc;
}

int iflow_mix_self_lse(const double *s, size_t n, size_t d, double inv, int threads, double *out,
                       iflow_error *err) {
    iflow_mix_mc p = {.s = s, .n = n, .d = d, .k = 1};
    mc_ctx cx = {.p = &p, .ng = 0, .inv = inv};
    iflow_mix_tiles tl;
    int rc = iflow_mix_tiles_new(&tl, s, NULL, NULL, NULL, n, d), fail = 0;
    cx.runs = tl.runs;
    cx.n_runs = tl.n_tiles;
    size_t n_blocks = (n + 63) / 64;
#pragma omp parallel num_threads(iflow_mix_threads(threads)) if (rc == 0)
    {
        workspace w;
        int ok = rc == 0 && iflow_mix_ws_init(&w, 64, d) == 0;
#pragma omp for schedule(dynamic)
        for (size_t b = 0; b < n_blocks; b++) {
            if (!ok) continue;
            /* The query s_i itself: its own term exp(0) = 1 is the largest, shift 0. */
            size_t i0 = b * 64, nq = n - i0 < 64 ? n - i0 : 64, nq4 = (nq + QG - 1) / QG * QG;
            for (size_t q = 0; q < nq4; q++) {
                size_t i = i0 + (q < nq ? q : nq - 1);
                memcpy(w.t + q * d, s + i * d, d * sizeof(double));
                w.c[q] = 0.0;
            }
            iflow_mix_sweep(&cx, cx.runs, cx.n_runs, &w, nq4);
            for (size_t q = 0; q < nq; q++) out[i0 + q] = log(w.sum[q]);
        }
        if (!ok) {
#pragma omp atomic write
            fail = 1;
        }
        if (rc == 0) iflow_mix_ws_free(&w);
    }
    iflow_mix_tiles_free(&tl);
    if (rc || fail)
        return iflow_error_set(err, IFLOW_ENOMEM, "mixture: out of memory (n = %zu, d = %zu)", n,
                               d);
    return 0;
}
