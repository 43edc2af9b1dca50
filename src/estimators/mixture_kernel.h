/* mixture_kernel: what the two drivers of the mixture sums share: the kernel, tiles of centres,
 * the per-thread workspace and draw/sweep/finish (mixture_kernel.c). Used by mixture.c (the
 * exact driver) and mixture_tree.c (the truncated one); internal to the estimators. */
#ifndef IFLOW_MIXTURE_KERNEL_H
#define IFLOW_MIXTURE_KERNEL_H

#include <stddef.h>

#include "isa.h"
#include "kdtree.h"
#include "mixture.h"

enum { QG = 4 }; /* queries per group (the sweep runs 1 or 2 groups per pass over the centres) */

/* A run of centres, dimension-major: coordinate c of centre j at x[c * ld + j]. Heteroscedastic
 * centres (mixture_hetero.c) also carry w: row r of coefficients 1/(2 sigma_jr^2) at
 * w[r * ld + j], one row (a std per centre) or d; NULL for isotropic ones. */
typedef struct centre_run {
    const double *x, *lw, *ga, *gb;
    size_t ld, m;
    const double *w;
} centre_run;

typedef struct mc_ctx {
    const iflow_mix_mc *p;
    int ng;           /* groupings: 0, 1 or 2 */
    double inv;       /* 1 / (2 beta^2) */
    double lw_max;    /* max_j ln w_j, for the overflow check */
    double wsum;      /* sum_j w_j, for the truncation radius */
    centre_run *runs; /* exact mode: one run per tile */
    size_t n_runs;
    /* truncated mode: set up and freed inside mixture_tree.c */
    iflow_kdtree *tree;      /* tree over the centres ... */
    double *tlw, *tga, *tgb; /* ... and the per-centre arrays in tree order */
    /* The query blocks, for splitting them over the ranks of an MPI job (dist.h): block b
     * holds the query centres order[start[b] .. start[b+1]) (order NULL: the identity) and
     * is computed by rank iflow_dist_owner(b). Filled by the drivers; freed by the caller. */
    size_t *blk_start, *blk_order, n_blk;
    /* heteroscedastic centres (p->sigma set; mixture_hetero.c): ln v_j = lw_j - sum_c ln
     * sigma_jc (taking lw's place in the sums), the coefficients 1/(2 sigma_jc^2) (n x nw,
     * nw = p->sigma_cols), the largest std, ln sum_j v_j; in tree order for the truncated
     * driver (tw: nw rows of leading dimension n) */
    double *hlv, *hw, *tw;
    size_t nw;
    double sigma_max, ln_vsum;
} mc_ctx;

/* Per-thread buffers. Queries: t (cap_q x d), c = -shift, group ids, sums (3 per query).
 * Truncated mode keeps the tree ranges of the block being answered. */
typedef struct workspace {
    size_t cap_q, cap_runs;
    double *t, *c, *qa, *qb, *sum;
    iflow_kd_list hits; /* truncated mode: ranges of tree positions, as (begin, end) pairs */
    centre_run *runs;   /* ... and as kernel runs */
} workspace;

/* Centres per tile for dimension d: ~32 KB, a multiple of 8. */
size_t iflow_mix_tile_size(size_t d);
/* The centres s (n x d row-major) and their per-centre arrays copied into dimension-major tiles,
 * one kernel run per tile; padding stays zero and is never read (runs carry their length). */
typedef struct iflow_mix_tiles {
    double *x, *lw, *ga, *gb;
    size_t tile, n_tiles;
    centre_run *runs; /* n_tiles */
} iflow_mix_tiles;
/* 0 or IFLOW_ENOMEM (then nothing is left to free). ga, gb, lw may be NULL. */
int iflow_mix_tiles_new(iflow_mix_tiles *tl, const double *s, const double *lw, const double *ga,
                        const double *gb, size_t n, size_t d);
void iflow_mix_tiles_free(iflow_mix_tiles *tl);
/* 64-byte aligned doubles; free() them. NULL if out of memory. */
double *iflow_mix_alloc_aligned(size_t count);
int iflow_mix_ws_init(workspace *w, size_t cap_q, size_t d);
void iflow_mix_ws_free(workspace *w);
/* Pads the nq (>= 1) queries in w to a multiple of QG with copies of the last one; returns the
 * padded count. */
size_t iflow_mix_pad_queries(workspace *w, size_t nq, size_t d);
/* Draws the k queries of centres idx[i0..i1) (idx NULL: centres i0..i1) into w; returns the
 * query count padded to a multiple of QG. */
size_t iflow_mix_draw(const mc_ctx *cx, const size_t *idx, size_t i0, size_t i1, workspace *w);
/* Lowers the shift of draws whose terms could overflow (two-pass fallback). */
void iflow_mix_shift_fallback(const mc_ctx *cx, const centre_run *runs, size_t n_runs, workspace *w,
                              size_t nq);
/* The three sums of each of the nq draws in w over the runs, in run order: the variant of the
 * instruction set in use (isa.h), each compiled from mixture_sweep.c. */
IFLOW_ISA_DECLARE(void, iflow_mix_sweep,
                  (const mc_ctx *cx, const centre_run *runs, size_t n_runs, workspace *w,
                   size_t nq));
static inline void iflow_mix_sweep(const mc_ctx *cx, const centre_run *runs, size_t n_runs,
                                   workspace *w, size_t nq) {
    IFLOW_ISA_PICK(iflow_mix_sweep)(cx, runs, n_runs, w, nq);
}
/* Per-centre statistics of the draws of iflow_mix_draw (same idx, i0, i1). */
void iflow_mix_finish(const mc_ctx *cx, const workspace *w, const size_t *idx, size_t i0, size_t i1,
                      iflow_mix_stats *stats);
/* The thread count for a threads option (0 = OpenMP default). */
int iflow_mix_threads(int threads);

#endif
