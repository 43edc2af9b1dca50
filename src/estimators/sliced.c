/* sliced: k-sliced SP entropy and information (ESTIMATION.md section 7). Each slice draws a Haar
 * basis A (d x k), projects the samples by GEMM and runs the SP estimators of entropy.c in k
 * dimensions; the slices' estimates are averaged.
 *
 * Standard error. Given the samples, slice j's estimate is Ihat_j = I(A_j) + e_j, with A_j
 * i.i.d. Haar and e_j the Monte Carlo error of the SP sum, E[e_j | A_j] = 0 (the stratified MC
 * is unbiased for the mixture quantity) and the draws independent across slices (own stream).
 * So the Ihat_j are i.i.d. with, by the law of total variance,
 *     Var(Ihat_j) = Var_A[I(A)] + E_A[Var(e | A)],
 * and the sample variance s^2 of the M estimates is unbiased for this total. Hence
 *     se^2 = s^2 / M
 * is an unbiased estimate of the variance of the mean, covering both parts; adding the
 * per-slice MC variances on top would count the MC part twice. For k = d the projection is a
 * rotation and h(g) is rotation invariant, so Var_A[I(A)] = 0: with M = 1 the slice's own MC
 * error is the whole error. With M = 1 and k < d the spread is unknown: an error. Like the
 * unsliced SE, this describes the estimator given the samples (the sampling error of the
 * samples themselves is not in it). */
#include "infoflow/sliced.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infoflow/rng.h"
#include "alloc.h"
#include "blas.h"

/* Stream tags: the bases and the per-slice MC draws never share a stream. */
enum { TAG_BASIS = 0x534c4241, TAG_MC = 0x534c4d43 };

void iflow_slice_options_default(iflow_slice_options *opt) {
    opt->slices = 16;
    opt->dim = 1;
    opt->seed = 1;
    opt->stream = 0;
}

int iflow_slice_basis(size_t d, size_t k, uint64_t seed, uint64_t stream, double *a,
                      iflow_error *err) {
    if (k < 1 || k > d)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "iflow_slice_basis: slice dimension %zu must "
                               "be in [1, d = %zu]",
                               k, d);
    iflow_rng rng;
    iflow_rng_init(&rng, seed, stream);
    iflow_rng_fill_normal(&rng, a, d * k, 1.0);
    /* Modified Gram-Schmidt, each column orthogonalised twice ("twice is enough", Giraud et al.
     * 2005): Q with R_cc = |v_c| > 0, i.e. the QR whose R has a positive diagonal, which is
     * the unique factorisation making Q Haar-distributed (Mezzadri 2007). */
    for (size_t c = 0; c < k; c++) {
        for (int pass = 0; pass < 2; pass++)
            for (size_t p = 0; p < c; p++) {
                double dot = 0;
                for (size_t r = 0; r < d; r++) dot += a[r * k + p] * a[r * k + c];
                for (size_t r = 0; r < d; r++) a[r * k + c] -= dot * a[r * k + p];
            }
        double norm = 0;
        for (size_t r = 0; r < d; r++) norm += a[r * k + c] * a[r * k + c];
        norm = sqrt(norm);
        if (!(norm > 0))
            return iflow_error_set(err, IFLOW_ENUMERIC,
                                   "iflow_slice_basis: column %zu of the "
                                   "Gaussian matrix is linearly dependent (d = %zu, k = %zu)",
                                   c, d, k);
        for (size_t r = 0; r < d; r++) a[r * k + c] /= norm;
    }
    return 0;
}

void iflow_slice_project(const double *s, size_t n, size_t d, const double *a, size_t k,
                         double *out) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k, (int)d, 1.0, s, (int)d,
                a, (int)k, 0.0, out, (int)k);
}

static int check_slices(const char *fn, size_t n, size_t d, const iflow_sp_options *sp,
                        const iflow_slice_options *sl, iflow_error *err) {
    if (!sp || !sl) return iflow_error_set(err, IFLOW_EINVAL, "%s: options are NULL", fn);
    if (sl->dim < 1 || sl->dim > d)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "%s: slice dimension %zu must be in [1, d = "
                               "%zu]",
                               fn, sl->dim, d);
    if (sl->slices < 1 || (sl->slices < 2 && sl->dim < d))
        return iflow_error_set(err, IFLOW_EINVAL,
                               "%s: need at least 2 slices when the slice "
                               "dimension (%zu) is below d = %zu: the standard error comes from "
                               "the spread across slices (got %zu)",
                               fn, sl->dim, d, sl->slices);
    /* GEMM takes int sizes. */
    if (n > (size_t)INT32_MAX || d > (size_t)INT32_MAX)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "%s: %zu x %zu samples are too many for one "
                               "GEMM",
                               fn, n, d);
    /* Sizes from the caller meet here: d x k basis, n x k projections, one estimate per slice. */
    size_t dk, nk;
    if (iflow_size_mul(d, sl->dim, &dk) || iflow_size_mul(n, sl->dim, &nk))
        return iflow_error_set(err, IFLOW_EINVAL, "%s: %zu x %zu projections overflow", fn, n,
                               sl->dim);
    int rc = iflow_check_array(dk, sizeof(double), "slice basis", err);
    if (!rc) rc = iflow_check_array(nk, sizeof(double), "slice projections", err);
    if (!rc) rc = iflow_check_array(sl->slices, sizeof(iflow_mi_estimate), "slices", err);
    return rc;
}

/* Mean, se of the mean, sd and rms MC error of M per-slice estimates (see the file comment).
 * se_mc is the spread across slices / sqrt(M): slices and Monte Carlo, given the samples. The
 * samples are shared by the slices, so their part does not average out: se adds the mean of
 * the slices' own total se (samples and Monte Carlo) in quadrature, as if the slices' sample
 * errors were perfectly correlated (conservative: it counts the Monte Carlo part twice). */
static iflow_sliced_estimate summarise(const iflow_estimate *e, size_t m) {
    iflow_sliced_estimate s = {.est = {.bias = NAN}};
    double mean_se = 0, bias = 0;
    int has_bias = 1, kind = IFLOW_SE_TOTAL;
    for (size_t j = 0; j < m; j++) {
        s.est.value += e[j].value;
        s.mc_se += e[j].se_mc * e[j].se_mc;
        mean_se += e[j].se / (double)m;
        bias += e[j].bias / (double)m;
        has_bias &= e[j].has_bias;
        if (e[j].se_kind != IFLOW_SE_TOTAL) kind = e[j].se_kind;
    }
    s.est.value /= (double)m;
    s.mc_se = sqrt(s.mc_se / (double)m);
    if (has_bias) s.est.bias = bias, s.est.has_bias = 1;
    if (m < 2) {
        s.est.se = e[0].se; /* k = d only: no between-slice variance */
        s.est.se_mc = e[0].se_mc;
        s.est.se_kind = e[0].se_kind;
        return s;
    }
    double ss = 0;
    for (size_t j = 0; j < m; j++) ss += (e[j].value - s.est.value) * (e[j].value - s.est.value);
    s.sd_slices = sqrt(ss / (double)(m - 1));
    s.est.se_mc = s.sd_slices / sqrt((double)m);
    s.est.se_kind = kind;
    if (kind == IFLOW_SE_NA)
        s.est.se = NAN;
    else if (kind == IFLOW_SE_EXACT)
        s.est.se = s.est.se_mc;
    else
        s.est.se = sqrt(s.est.se_mc * s.est.se_mc + mean_se * mean_se);
    return s;
}

/* Slice j: its basis and its projection of s; sp_j gets slice j's MC stream. */
static int slice_setup(const double *s, size_t n, size_t d, const iflow_sp_options *sp,
                       const iflow_slice_options *sl, size_t j, double *a, double *proj,
                       iflow_sp_options *sp_j, iflow_error *err) {
    int rc = iflow_slice_basis(d, sl->dim, sl->seed, iflow_rng_stream3(TAG_BASIS, sl->stream, j), a,
                               err);
    if (rc) return rc;
    iflow_slice_project(s, n, d, a, sl->dim, proj);
    *sp_j = *sp;
    sp_j->stream = iflow_rng_stream3(TAG_MC, sp->stream, j);
    return 0;
}

static int sliced_entropy_body(const double *s, size_t n, size_t d, const iflow_sp_options *sp,
                               const iflow_slice_options *sl, iflow_sliced_estimate *out,
                               iflow_estimate *per_slice, iflow_error *err) {
    int rc = check_slices("iflow_sliced_entropy", n, d, sp, sl, err);
    if (rc) return rc;
    if (!s || n < 1) return iflow_error_set(err, IFLOW_EINVAL, "iflow_sliced_entropy: no samples");
    size_t k = sl->dim, m = sl->slices;
    double *a = malloc(d * k * sizeof *a), *proj = malloc(n * k * sizeof *proj);
    iflow_estimate *e = malloc(m * sizeof *e);
    if (!a || !proj || !e)
        rc = iflow_error_set(err, IFLOW_ENOMEM,
                             "iflow_sliced_entropy: out of memory (n = %zu, "
                             "d = %zu, k = %zu)",
                             n, d, k);
    for (size_t j = 0; j < m && !rc; j++) {
        iflow_sp_options sp_j;
        rc = slice_setup(s, n, d, sp, sl, j, a, proj, &sp_j, err);
        if (!rc) rc = iflow_sp_entropy(proj, NULL, n, k, &sp_j, &e[j], err);
    }
    if (!rc) {
        *out = summarise(e, m);
        if (per_slice) memcpy(per_slice, e, m * sizeof *e);
    }
    free(a);
    free(proj);
    free(e);
    return rc;
}

int iflow_sliced_entropy(const double *s, size_t n, size_t d, const iflow_sp_options *sp,
                         const iflow_slice_options *sl, iflow_sliced_estimate *out,
                         iflow_estimate *per_slice, iflow_error *err) {
    int blas = iflow_blas_serial_begin(); /* blas.h: the numbers must not depend on it */
    int rc = sliced_entropy_body(s, n, d, sp, sl, out, per_slice, err);
    iflow_blas_serial_end(blas);
    return rc;
}

/* The three parts of an MI estimate over the slices (mi, h, h_cond), each summarised. */
static void summarise_mi(const iflow_mi_estimate *e, size_t m, iflow_estimate *tmp,
                         iflow_mi_estimate *out, iflow_sliced_estimate *out_mc) {
    out->n_groups = e[0].n_groups;
    for (size_t j = 0; j < m; j++) tmp[j] = e[j].h;
    out->h = summarise(tmp, m).est;
    for (size_t j = 0; j < m; j++) tmp[j] = e[j].h_cond;
    out->h_cond = summarise(tmp, m).est;
    for (size_t j = 0; j < m; j++) tmp[j] = e[j].mi;
    iflow_sliced_estimate mi = summarise(tmp, m);
    out->mi = mi.est;
    if (out_mc) *out_mc = mi;
}

static int sliced_mi2_body(const double *s, size_t n, size_t d, const size_t *group_a,
                           size_t n_groups_a, const size_t *group_b, size_t n_groups_b,
                           const iflow_sp_options *sp, const iflow_slice_options *sl,
                           iflow_mi_estimate *out_a, iflow_mi_estimate *out_b,
                           iflow_sliced_estimate *out_mc_a, iflow_sliced_estimate *out_mc_b,
                           iflow_error *err) {
    int rc = check_slices("iflow_sliced_grouped_mi2", n, d, sp, sl, err);
    if (rc) return rc;
    if (!s || n < 1)
        return iflow_error_set(err, IFLOW_EINVAL, "iflow_sliced_grouped_mi2: no samples");
    size_t k = sl->dim, m = sl->slices;
    double *a = malloc(d * k * sizeof *a), *proj = malloc(n * k * sizeof *proj);
    iflow_mi_estimate *ea = malloc(m * sizeof *ea), *eb = malloc(m * sizeof *eb);
    iflow_estimate *tmp = malloc(m * sizeof *tmp);
    if (!a || !proj || !ea || !eb || !tmp)
        rc = iflow_error_set(err, IFLOW_ENOMEM,
                             "iflow_sliced_grouped_mi2: out of memory (n = "
                             "%zu, d = %zu, k = %zu)",
                             n, d, k);
    for (size_t j = 0; j < m && !rc; j++) {
        iflow_sp_options sp_j;
        rc = slice_setup(s, n, d, sp, sl, j, a, proj, &sp_j, err);
        if (rc) break;
        if (group_b)
            rc = iflow_sp_grouped_mi2(proj, n, k, group_a, n_groups_a, group_b, n_groups_b, &sp_j,
                                      &ea[j], &eb[j], err);
        else
            rc = iflow_sp_grouped_mi(proj, n, k, group_a, n_groups_a, &sp_j, &ea[j], err);
    }
    if (!rc) {
        summarise_mi(ea, m, tmp, out_a, out_mc_a);
        if (group_b) summarise_mi(eb, m, tmp, out_b, out_mc_b);
    }
    free(a);
    free(proj);
    free(ea);
    free(eb);
    free(tmp);
    return rc;
}

int iflow_sliced_grouped_mi2(const double *s, size_t n, size_t d, const size_t *group_a,
                             size_t n_groups_a, const size_t *group_b, size_t n_groups_b,
                             const iflow_sp_options *sp, const iflow_slice_options *sl,
                             iflow_mi_estimate *out_a, iflow_mi_estimate *out_b,
                             iflow_sliced_estimate *out_mc_a, iflow_sliced_estimate *out_mc_b,
                             iflow_error *err) {
    int blas = iflow_blas_serial_begin(); /* blas.h: the numbers must not depend on it */
    int rc = sliced_mi2_body(s, n, d, group_a, n_groups_a, group_b, n_groups_b, sp, sl, out_a,
                             out_b, out_mc_a, out_mc_b, err);
    iflow_blas_serial_end(blas);
    return rc;
}
