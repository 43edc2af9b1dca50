/* mixture_hetero: the heteroscedastic SP sums (docs/ESTIMATION.md section 12): centre j has its
 * own diagonal noise sigma_j, so every term needs scaled distances and a log-determinant. Setup,
 * draws, overflow fallback and truncation radius (the kernel: mixture_hetero_sweep.c); the
 * drivers are mixture.c's. */
#include "mixture_hetero.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infoflow/rng.h"

#define SAFE_EXP 600.0 /* as in mixture_kernel.c: the two-pass fallback above it */

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
    return iflow_mix_pad_queries(w, q, d);
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
