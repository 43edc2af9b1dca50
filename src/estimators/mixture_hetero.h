/* mixture_hetero: the heteroscedastic mixture sums, ln sum_j v_j exp(-(1/2) sum_c ((t_c -
 * s_jc) / sigma_jc)^2), for centres with their own diagonal noise (mixture_hetero.c). Internal
 * to the estimators; the drivers (mixture.c, mixture_tree.c) call it when p->sigma is set. */
#ifndef IFLOW_MIXTURE_HETERO_H
#define IFLOW_MIXTURE_HETERO_H

#include "isa.h"
#include "mixture_kernel.h"

/* Fills cx's heteroscedastic fields from cx->p (sigma, sigma_cols, lw): ln v_j =
 * lw_j - sum_c ln sigma_jc, the coefficients 1/(2 sigma_jc^2), their maxima and ln sum_j v_j.
 * 0 or IFLOW_ENOMEM; iflow_mixh_free releases them. */
int iflow_mixh_setup(mc_ctx *cx);
void iflow_mixh_free(mc_ctx *cx);

/* The coefficient tiles of the exact driver, in the layout of tl (same tile size): the runs of tl
 * get their coefficient rows (centre_run.w). Free with free(). NULL if out of memory. */
double *iflow_mixh_tiles(const mc_ctx *cx, iflow_mix_tiles *tl);
/* The coefficients in tree order, dimension-major with leading dimension n (as the tree's x),
 * for the truncated driver. NULL if out of memory; free with free(). */
double *iflow_mixh_tree_coefs(const mc_ctx *cx, const size_t *perm);

/* As iflow_mix_draw: t_ij = s_i + sigma_i * zeta_ij, zeta ~ N(0, I) from the same stream,
 * c = ||zeta||^2 / 2 - ln v_i (the own term is the LSE shift). Padded to a multiple of QG. */
size_t iflow_mixh_draw(const mc_ctx *cx, const size_t *idx, size_t i0, size_t i1, workspace *w);
/* As iflow_mix_shift_fallback with the scaled distances. */
void iflow_mixh_shift_fallback(const mc_ctx *cx, const centre_run *runs, size_t n_runs,
                               workspace *w, size_t nq);
/* As iflow_mix_sweep: the three sums of each query over the runs, in run order; the variant of
 * the instruction set in use (isa.h), each compiled from mixture_hetero_sweep.c. */
IFLOW_ISA_DECLARE(void, iflow_mixh_sweep,
                  (const mc_ctx *cx, const centre_run *runs, size_t n_runs, workspace *w,
                   size_t nq));
static inline void iflow_mixh_sweep(const mc_ctx *cx, const centre_run *runs, size_t n_runs,
                                    workspace *w, size_t nq) {
    IFLOW_ISA_PICK(iflow_mixh_sweep)(cx, runs, n_runs, w, nq);
}
/* The truncation radius of query centre i (see the proof in mixture_hetero.c); t holds its k
 * draws as iflow_mixh_draw made them. */
double iflow_mixh_radius(const mc_ctx *cx, size_t i, const double *t);

#endif
