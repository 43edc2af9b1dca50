/* mixture: the two drivers of the SP mixture sums. Exact: blocks of queries swept over every
 * cache-sized tile of centres (here); truncated: blocks planned over a k-d tree
 * (mixture_tree.c). Both run the kernel of mixture_kernel.c. */
#include "mixture.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "mixture_kernel.h"
#include "mixture_tree.h"

/* Exact mode: blocks of ~64 queries (whole centres) in parallel, each swept over every tile. */
static int run_exact(const mc_ctx *cx, iflow_mix_stats *stats) {
    const iflow_mix_mc *p = cx->p;
    size_t cb = p->k >= 64 ? 1 : (64 + p->k - 1) / p->k;
    size_t nqc = p->n_query ? p->n_query : p->n, n_blocks = (nqc + cb - 1) / cb;
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
        for (size_t b = 0; b < n_blocks; b++) {
            if (!ok) continue;
            size_t i0 = b * cb, i1 = i0 + cb < nqc ? i0 + cb : nqc;
            size_t nq = iflow_mix_draw(cx, NULL, i0, i1, &w);
            iflow_mix_shift_fallback(cx, cx->runs, cx->n_runs, &w, nq);
            iflow_mix_sweep(cx, cx->runs, cx->n_runs, &w, nq);
            iflow_mix_finish(cx, &w, NULL, i0, i1, stats);
        }
        iflow_mix_ws_free(&w);
    }
    return fail ? IFLOW_ENOMEM : 0;
}

int iflow_mix_mc_run(const iflow_mix_mc *p, iflow_mix_stats *stats, iflow_error *err) {
    mc_ctx cx = {.p = p, .ng = p->gb ? 2 : p->ga ? 1 : 0,
                 .inv = 1.0 / (2.0 * p->beta * p->beta), .lw_max = -INFINITY};
    for (size_t i = 0; i < p->n; i++) {
        double lw = p->lw ? p->lw[i] : 0.0;
        cx.lw_max = fmax(cx.lw_max, lw);
        cx.wsum += exp(lw);
    }
    int rc;
    if (p->tolerance > 0) {
        rc = iflow_mix_run_truncated(&cx, stats);
    } else {
        iflow_mix_tiles tl;
        rc = iflow_mix_tiles_new(&tl, p->s, p->lw, p->ga, p->gb, p->n, p->d);
        cx.runs = tl.runs;
        cx.n_runs = tl.n_tiles;
        if (rc == 0) rc = run_exact(&cx, stats);
        iflow_mix_tiles_free(&tl);
    }
    if (rc)
        return iflow_error_set(err, rc, "mixture: out of memory (n = %zu, d = %zu)", p->n, p->d);
    return 0;
}

int iflow_mix_self_lse(const double *s, size_t n, size_t d, double inv, int threads,
                       double *out, iflow_error *err) {
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
