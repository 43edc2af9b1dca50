/* entropy: the SP estimator of h(P * phi_beta), grouped mutual information and the pairwise
 * bounds (docs/ESTIMATION.md sections 3-4): argument checks, weights, and the stratified-MC means
 * and standard errors around the kernels in mixture.c. */
#include "infoflow/entropy.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "mixture.h"

double iflow_gaussian_entropy(size_t d, double beta) {
    return 0.5 * (double)d * log(2.0 * M_PI * M_E * beta * beta);
}

/* ln of the normalising constant of phi_beta: (d/2) ln(2 pi beta^2). */
static double log_gauss_norm(size_t d, double beta) {
    return 0.5 * (double)d * log(2.0 * M_PI * beta * beta);
}

void iflow_sp_options_default(iflow_sp_options *opt) {
    opt->beta = 0.0;
    opt->mc = IFLOW_SP_DEFAULT_MC;
    opt->seed = 1;
    opt->stream = 0;
    opt->normals = IFLOW_SP_DEFAULT_NORMALS;
    opt->tolerance = IFLOW_SP_DEFAULT_TOLERANCE;
    opt->threads = 0;
    opt->query_stride = 1;
    opt->bias = 0;
    opt->progress = NULL;
    opt->progress_user = NULL;
}

/* Noise below this fraction of the samples' magnitude is lost to rounding: t = s + z is
 * stored with a relative error of 2^-53, i.e. an error of 2^-53 |s| / beta in units of the noise,
 * and every ln g(t) inherits it (times the distance in noise units). 2^-32 keeps that error
 * below ~1e-6 nats per unit distance. */
#define MIN_BETA_PER_MAGNITUDE 0x1p-32

/* Largest |s - centre| over all coordinates, centre[c] the midrange of column c (NULL: 0). */
static double magnitude(const double *s, size_t n, size_t d, const double *centre) {
    double r = 0;
    for (size_t i = 0; i < n * d; i++) r = fmax(r, fabs(s[i] - (centre ? centre[i % d] : 0.0)));
    return r;
}

/* Checks what every estimator needs: samples present and finite, n, d >= 1, beta > 0 and
 * computable: beta^2 and 8 pi beta^2 normal doubles (else 1/(2 beta^2) or ln(2 pi beta^2) is
 * Inf), squared distances finite, and beta above the resolution of the values. Samples are
 * translated by their column midranges when that alone makes beta resolvable (entropy and MI
 * do not change under a translation); *use is s or that centred copy (*copy, caller frees). */
static int check_samples(const char *fn, const double *s, size_t n, size_t d, double beta,
                         const double **use, double **copy, iflow_error *err) {
    *use = s;
    *copy = NULL;
    if (!s || n < 1 || d < 1)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "%s: need at least one sample of dimension "
                               ">= 1 (n = %zu, d = %zu)",
                               fn, n, d);
    if (!(beta > 0) || !isfinite(beta))
        return iflow_error_set(err, IFLOW_EINVAL, "%s: beta must be finite and > 0 (got %g)", fn,
                               beta);
    double b2 = beta * beta;
    if (!(b2 >= DBL_MIN) || !isfinite(8 * M_PI * M_E * b2))
        return iflow_error_set(err, IFLOW_EINVAL,
                               "%s: beta = %g cannot be used in double "
                               "precision (beta^2 must be a normal double: about 1.5e-154 "
                               "<= beta <= 1e153)",
                               fn, beta);
    for (size_t i = 0; i < n * d; i++)
        if (!isfinite(s[i]))
            return iflow_error_set(err, IFLOW_EINVAL, "%s: sample %zu, coordinate %zu is %g", fn,
                                   i / d, i % d, s[i]);
    double r = magnitude(s, n, d, NULL);
    if (beta >= r * MIN_BETA_PER_MAGNITUDE && isfinite(4 * r * r * (double)d))
        return 0; /* the usual case: s as given */
    double *centre = malloc(d * sizeof *centre);
    if (!centre) return iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory", fn);
    for (size_t c = 0; c < d; c++) {
        double lo = s[c], hi = s[c];
        for (size_t i = 1; i < n; i++) lo = fmin(lo, s[i * d + c]), hi = fmax(hi, s[i * d + c]);
        centre[c] = lo / 2 + hi / 2;
    }
    double rc = magnitude(s, n, d, centre);
    if (!isfinite(4 * rc * rc * (double)d)) {
        free(centre);
        return iflow_error_set(err, IFLOW_EINVAL,
                               "%s: the samples spread %g around their "
                               "centre: squared distances overflow double; rescale the data",
                               fn, rc);
    }
    if (!(beta >= rc * MIN_BETA_PER_MAGNITUDE)) {
        free(centre);
        return iflow_error_set(err, IFLOW_EINVAL,
                               "%s: beta = %g is below the resolution of the "
                               "samples (they spread %g around their centre; double precision "
                               "resolves noise down to about %g of that, i.e. beta >= %.3g): the "
                               "noise would be lost to rounding; rescale the data or raise beta",
                               fn, beta, rc, MIN_BETA_PER_MAGNITUDE, rc * MIN_BETA_PER_MAGNITUDE);
    }
    *copy = malloc(n * d * sizeof **copy);
    if (*copy)
        for (size_t i = 0; i < n * d; i++) (*copy)[i] = s[i] - centre[i % d];
    free(centre);
    if (!*copy) return iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory", fn);
    *use = *copy;
    return 0;
}

/* Checks heteroscedastic stds (n x cols, cols = 1 or d, all finite and > 0, with 1/(2 sigma^2)
 * finite and resolvable like beta) and returns the smallest in *min_sigma. */
static int check_sigma(const char *fn, const double *sigma, size_t cols, size_t n, size_t d,
                       double *min_sigma, iflow_error *err) {
    if (!sigma) return iflow_error_set(err, IFLOW_EINVAL, "%s: sigma is NULL", fn);
    if (cols != 1 && cols != d)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "%s: sigma needs 1 or d = %zu columns (one std per sample or one "
                               "per coordinate), got %zu",
                               fn, d, cols);
    *min_sigma = INFINITY;
    for (size_t i = 0; i < n * cols; i++) {
        double v = sigma[i];
        if (!(v > 0) || !isfinite(v) || !(v * v >= DBL_MIN) || !isfinite(8 * M_PI * M_E * v * v)) {
            char where[64] = "";
            if (cols > 1) snprintf(where, sizeof where, ", coordinate %zu", i % cols);
            return iflow_error_set(err, IFLOW_EINVAL,
                                   "%s: sigma of sample %zu%s is %g (must be finite, > 0 and "
                                   "with sigma^2 a normal double)",
                                   fn, i / cols, where, v);
        }
        *min_sigma = fmin(*min_sigma, v);
    }
    return 0;
}

/* The sum of ln sigma_ic over the coordinates of sample i. */
static double log_det_sigma(const double *sigma, size_t cols, size_t i, size_t d) {
    if (cols == 1) return (double)d * log(sigma[i]);
    double r = 0;
    for (size_t c = 0; c < d; c++) r += log(sigma[i * d + c]);
    return r;
}

static int check_options(const char *fn, const iflow_sp_options *opt, iflow_error *err) {
    if (!opt) return iflow_error_set(err, IFLOW_EINVAL, "%s: options are NULL", fn);
    if (opt->mc < 1 || opt->mc > IFLOW_MAX_MC)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "%s: mc (draws per centre) must be in [1, %d], "
                               "got %zu",
                               fn, IFLOW_MAX_MC, opt->mc);
    if (opt->threads < 0 || opt->threads > IFLOW_MAX_THREADS)
        return iflow_error_set(err, IFLOW_EINVAL, "%s: threads must be in [0, %d], got %d", fn,
                               IFLOW_MAX_THREADS, opt->threads);
    if (!(opt->tolerance >= 0) || !isfinite(opt->tolerance))
        return iflow_error_set(err, IFLOW_EINVAL,
                               "%s: tolerance must be finite and >= 0 (got "
                               "%g)",
                               fn, opt->tolerance);
    return 0;
}

const char *iflow_se_kind_name(int kind) {
    static const char *const names[] = {"total", "exact", "n/a"};
    _Static_assert(sizeof names / sizeof *names == IFLOW_SE_KIND_COUNT, "a name per se kind");
    return kind >= 0 && kind < IFLOW_SE_KIND_COUNT ? names[kind] : "?";
}

/* Per-stratum sums for the total standard error (one entry per stratum). */
typedef struct stratum_sums {
    double w, wx, w2, dev; /* sum pw, sum pw x, sum pw^2, sum pw (x - mean)^2 */
    size_t count;
} stratum_sums;

/* Stratified mean of the per-centre values x_i = sign * mean_i + off_i (stratum weights pw_i,
 * summing to 1): value = sum_i pw_i x_i.
 * se_mc: the Monte Carlo part given the samples, se_mc^2 = sum_i pw_i^2 var_i / k (var_i from
 * the k draws). For k = 1 the within-centre variance is unknown; the pooled variance of all
 * values, sum_i pw_i (x_i - value)^2 (times m/(m-1)), bounds it from above, so
 * se_mc^2 = pooled sum_i pw_i^2.
 * se: the total, with the samples of each stratum (stratum[i], NULL = one stratum) taken as
 * i.i.d. given the stratum: x_i estimates psi(s_i) + Monte Carlo noise, where psi is the
 * influence function of the plug-in (ESTIMATION.md section 11), so
 *     se^2 = sum_g (sum_{i in g} pw_i^2) s_g^2,
 *     s_g^2 = sum_{i in g} a_i (x_i - xbar_g)^2 / (1 - sum a_i^2),  a_i = pw_i / sum_{i in g} pw_i
 * (the unbiased weighted variance; for equal weights sum_g n_g s_g^2 / n^2). A stratum with one
 * sample gives no s_g^2: se = NaN, kind IFLOW_SE_NA. sums: n_strata entries of scratch. */
static iflow_estimate stratified(const iflow_mix_stats *st, const double *pw, const double *off,
                                 size_t m, size_t k, int u, double sign, const size_t *stratum,
                                 size_t n_strata, stratum_sums *sums) {
    iflow_estimate e = {.bias = NAN};
    double sum_pw2 = 0, var = 0;
    for (size_t i = 0; i < m; i++) {
        e.value += pw[i] * (sign * st[i].mean[u] + (off ? off[i] : 0.0));
        sum_pw2 += pw[i] * pw[i];
        var += pw[i] * pw[i] * st[i].var[u];
    }
    if (k > 1) {
        e.se_mc = sqrt(var / (double)k);
    } else if (m > 1) {
        double pooled = 0;
        for (size_t i = 0; i < m; i++) {
            double dv = sign * st[i].mean[u] + (off ? off[i] : 0.0) - e.value;
            pooled += pw[i] * dv * dv;
        }
        e.se_mc = sqrt(pooled * (double)m / (double)(m - 1) * sum_pw2);
    } else {
        e.se_mc = NAN; /* one centre, one draw: no variance estimate */
    }
    if (!stratum) n_strata = 1;
    memset(sums, 0, n_strata * sizeof *sums);
    for (size_t i = 0; i < m; i++) {
        stratum_sums *g = &sums[stratum ? stratum[i] : 0];
        double x = sign * st[i].mean[u] + (off ? off[i] : 0.0);
        g->w += pw[i];
        g->wx += pw[i] * x;
        g->w2 += pw[i] * pw[i];
        g->count += pw[i] > 0;
    }
    for (size_t i = 0; i < m; i++) {
        stratum_sums *g = &sums[stratum ? stratum[i] : 0];
        double dx = sign * st[i].mean[u] + (off ? off[i] : 0.0) - g->wx / g->w;
        g->dev += pw[i] * dx * dx;
    }
    double total = 0;
    e.se_kind = IFLOW_SE_TOTAL;
    for (size_t g = 0; g < n_strata; g++) {
        if (sums[g].count == 0) continue;
        if (sums[g].count == 1) {
            e.se_kind = IFLOW_SE_NA;
            break;
        }
        double sum_a2 = sums[g].w2 / (sums[g].w * sums[g].w);
        total += sums[g].w2 * (sums[g].dev / sums[g].w) / (1 - sum_a2);
    }
    e.se = e.se_kind == IFLOW_SE_TOTAL ? sqrt(total) : NAN;
    return e;
}

/* Drops zero-weight centres (they contribute neither draws nor mass) and fills the kept
 * centres' coordinates, ln(w_i / w_max) and stream indices; pw_i = w_i / W. */
static int compact_weights(const double *s, const double *w, size_t n, size_t d, double *sc,
                           double *lw, size_t *orig, double *pw, size_t *m_out, double *ln_wsum,
                           iflow_error *err) {
    double wmax = 0, wsum = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(w[i] >= 0) || !isfinite(w[i]))
            return iflow_error_set(err, IFLOW_EINVAL,
                                   "iflow_sp_entropy: weight %zu is %g "
                                   "(must be finite and >= 0)",
                                   i, w[i]);
        wmax = fmax(wmax, w[i]);
        wsum += w[i];
    }
    if (!(wsum > 0))
        return iflow_error_set(err, IFLOW_EINVAL, "iflow_sp_entropy: all %zu weights are 0", n);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (w[i] == 0) continue;
        for (size_t c = 0; c < d; c++) sc[m * d + c] = s[i * d + c];
        lw[m] = log(w[i] / wmax);
        orig[m] = i;
        pw[m] = w[i] / wsum;
        m++;
    }
    *m_out = m;
    *ln_wsum = log(wsum / wmax); /* the normaliser of the rescaled weights */
    return 0;
}

/* The mixture problem of n centres s (n x d) with the options' draws: beta, k = mc, tolerance,
 * seed and stream, generator, threads and progress (counted in *done, which the caller zeroes).
 * Weights, groupings, stream indices and the query subset are the caller's to add. */
static iflow_mix_mc mix_problem(const iflow_sp_options *opt, const double *s, size_t n, size_t d,
                                size_t *done) {
    return (iflow_mix_mc){.s = s,
                          .n = n,
                          .d = d,
                          .k = opt->mc,
                          .beta = opt->beta,
                          .tolerance = opt->tolerance,
                          .seed = opt->seed,
                          .stream = opt->stream,
                          .normals = opt->normals,
                          /* The bottom-up plan does 18% fewer pairs than the greedy one on
                           * the protocol's sums but plans twice as long: 24% more CPU in all
                           * (results/bench/plans-szt-tanh-quick.md). */
                          .plan = IFLOW_MIX_PLAN_GREEDY,
                          .threads = opt->threads,
                          .progress = opt->progress,
                          .progress_user = opt->progress_user,
                          .progress_done = done};
}

/* h(g) of the n centres s (weights NULL = equal); the draws around centre i come from stream
 * ids[i] (NULL: i), so a subset of the samples can be estimated on the draws of the whole.
 * sigma (n x sigma_cols, only with weights NULL): heteroscedastic centres, opt->beta unused. */
static int entropy_pass(const double *s, const double *sigma, size_t sigma_cols,
                        const double *weights, const size_t *ids, size_t n, size_t d,
                        const iflow_sp_options *opt, iflow_estimate *out, iflow_error *err) {
    const char *fn = "iflow_sp_entropy";
    double *sc = NULL, *lw = NULL, *pw = malloc(n * sizeof(double));
    size_t *orig = NULL, m = n;
    iflow_mix_stats *st = malloc(n * sizeof *st);
    stratum_sums sums;
    double ln_wsum = log((double)n);
    int rc = 0;
    if (weights) {
        sc = malloc(n * d * sizeof(double));
        lw = malloc(n * sizeof(double));
        orig = malloc(n * sizeof(size_t));
    }
    if (!pw || !st || (weights && (!sc || !lw || !orig))) {
        rc = iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory (n = %zu)", fn, n);
    } else if (weights) {
        rc = compact_weights(s, weights, n, d, sc, lw, orig, pw, &m, &ln_wsum, err);
        for (size_t i = 0; rc == 0 && ids && i < m; i++) orig[i] = ids[orig[i]];
    } else {
        for (size_t i = 0; i < n; i++) pw[i] = 1.0 / (double)n;
    }
    if (rc == 0) {
        size_t done = 0;
        iflow_mix_mc p = mix_problem(opt, weights ? sc : s, m, d, &done);
        p.lw = lw;
        p.orig = weights ? orig : ids;
        p.sigma = weights ? NULL : sigma;
        p.sigma_cols = sigma_cols;
        rc = iflow_mix_mc_run(&p, st, err);
    }
    if (rc == 0) {
        /* h = -E ln g,  ln g(t) = L(t) - ln W - (d/2) ln(2 pi beta^2); heteroscedastic:
         * - (d/2) ln(2 pi), L holding the log-determinants. */
        *out = stratified(st, pw, NULL, m, opt->mc, IFLOW_MIX_L, -1.0, NULL, 1, &sums);
        out->value += ln_wsum + log_gauss_norm(d, sigma && !weights ? 1.0 : opt->beta);
    }
    free(sc);
    free(lw);
    free(orig);
    free(pw);
    free(st);
    return rc;
}

/* The two halves of n samples for the bias: even and odd positions (both halves span a sorted
 * file), the draws of each sample those of the whole (common random numbers). */
static int half_bias(const double *s, const double *sigma, size_t sigma_cols, const double *weights,
                     size_t n, size_t d, const iflow_sp_options *opt, iflow_estimate *out,
                     iflow_error *err) {
    size_t nh[2] = {(n + 1) / 2, n / 2};
    double *sh = malloc(nh[0] * d * sizeof *sh), *wh = weights ? malloc(nh[0] * sizeof *wh) : NULL;
    double *sgh = sigma ? malloc(nh[0] * sigma_cols * sizeof *sgh) : NULL;
    size_t *ids = malloc(nh[0] * sizeof *ids);
    int rc = sh && ids && (!weights || wh) && (!sigma || sgh)
                 ? 0
                 : iflow_error_set(err, IFLOW_ENOMEM, "iflow_sp_entropy: out of memory");
    double half_mean = 0;
    for (size_t h = 0; h < 2 && rc == 0; h++) {
        for (size_t j = 0; j < nh[h]; j++) {
            ids[j] = 2 * j + h;
            memcpy(sh + j * d, s + ids[j] * d, d * sizeof *sh);
            if (wh) wh[j] = weights[ids[j]];
            if (sgh)
                memcpy(sgh + j * sigma_cols, sigma + ids[j] * sigma_cols, sigma_cols * sizeof *sgh);
        }
        iflow_estimate e;
        rc = entropy_pass(sh, sgh, sigma_cols, wh, ids, nh[h], d, opt, &e, err);
        half_mean += e.value / 2;
    }
    if (rc == 0) {
        /* E[h_n] = h + b/n: the halves' mean has bias 2b/n, so b/n = mean(halves) - h_n. */
        out->bias = half_mean - out->value;
        out->has_bias = 1;
    }
    free(sh);
    free(wh);
    free(sgh);
    free(ids);
    return rc;
}

int iflow_sp_entropy(const double *s, const double *weights, size_t n, size_t d,
                     const iflow_sp_options *opt, iflow_estimate *out, iflow_error *err) {
    const char *fn = "iflow_sp_entropy";
    const double *s_in = s;
    double *centred = NULL;
    int rc = check_options(fn, opt, err);
    if (rc == 0) rc = check_samples(fn, s_in, n, d, opt->beta, &s, &centred, err);
    if (rc == 0) rc = entropy_pass(s, NULL, 0, weights, NULL, n, d, opt, out, err);
    if (rc == 0 && opt->bias && n >= 4) {
        /* A half of a weighted sample may hold only zero weights: then no bias, no error. */
        iflow_error scratch;
        if (half_bias(s, NULL, 0, weights, n, d, opt, out, &scratch) == IFLOW_ENOMEM)
            rc = iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory", fn);
    }
    free(centred);
    return rc;
}

int iflow_sp_entropy_hetero(const double *s, const double *sigma, size_t sigma_cols, size_t n,
                            size_t d, const iflow_sp_options *opt, iflow_estimate *out,
                            iflow_error *err) {
    const char *fn = "iflow_sp_entropy_hetero";
    const double *s_in = s;
    double *centred = NULL, min_sigma = 0;
    int rc = check_options(fn, opt, err);
    if (rc == 0) rc = check_sigma(fn, sigma, sigma_cols, n, d, &min_sigma, err);
    if (rc == 0) rc = check_samples(fn, s_in, n, d, min_sigma, &s, &centred, err);
    if (rc == 0) rc = entropy_pass(s, sigma, sigma_cols, NULL, NULL, n, d, opt, out, err);
    if (rc == 0 && opt->bias && n >= 4) {
        iflow_error scratch;
        if (half_bias(s, sigma, sigma_cols, NULL, n, d, opt, out, &scratch) == IFLOW_ENOMEM)
            rc = iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory", fn);
    }
    free(centred);
    return rc;
}

int iflow_pairwise_bounds(const double *s, size_t n, size_t d, double beta, int threads,
                          double *lower, double *upper, iflow_error *err) {
    const double *s_in = s;
    double *centred = NULL;
    if (threads < 0 || threads > IFLOW_MAX_THREADS)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "iflow_pairwise_bounds: threads must be in "
                               "[0, %d], got %d",
                               IFLOW_MAX_THREADS, threads);
    int rc = check_samples("iflow_pairwise_bounds", s_in, n, d, beta, &s, &centred, err);
    if (rc) return rc;
    double *lse = malloc(n * sizeof(double));
    if (!lse) {
        free(centred);
        return iflow_error_set(err, IFLOW_ENOMEM, "iflow_pairwise_bounds: out of memory");
    }
    /* bound = H_c - (1/n) sum_i [LSE_j(-D_ij / (c beta^2)) - ln n], c = 2 (upper), 8 (lower):
     * the KL and Bhattacharyya divergences between equal isotropic Gaussians. */
    double h_c = iflow_gaussian_entropy(d, beta), scale[2] = {2.0, 8.0}, *res[2] = {upper, lower};
    for (int b = 0; b < 2 && rc == 0; b++) {
        rc = iflow_mix_self_lse(s, n, d, 1.0 / (scale[b] * beta * beta), threads, lse, err);
        double mean = 0;
        for (size_t i = 0; i < n; i++) mean += lse[i];
        *res[b] = h_c - (mean / (double)n - log((double)n));
    }
    free(lse);
    free(centred);
    return rc;
}

/* Checks group ids and counts the samples of each group. */
static int count_groups(const size_t *group, size_t n, size_t n_groups, const char *which,
                        size_t *count, double *gd, iflow_error *err) {
    if (!group || n_groups < 1)
        return iflow_error_set(err, IFLOW_EINVAL, "iflow_sp_grouped_mi: %s: no groups given",
                               which);
    for (size_t g = 0; g < n_groups; g++) count[g] = 0;
    for (size_t i = 0; i < n; i++) {
        if (group[i] >= n_groups)
            return iflow_error_set(err, IFLOW_EINVAL,
                                   "iflow_sp_grouped_mi: %s[%zu] = %zu is "
                                   "out of range [0, %zu)",
                                   which, i, group[i], n_groups);
        count[group[i]]++;
        gd[i] = (double)group[i];
    }
    return 0;
}

/* I(G;T), h(T) and h(T|G) from the per-centre stats of one grouping (u_a = IFLOW_MIX_A and
 * u_la = IFLOW_MIX_LA, or the B pair). ln g = L - ln n - c0 and
 * ln g_G = L + A - ln n_G - c0 with c0 = (d/2) ln(2 pi beta^2), so per draw
 * ln g_G - ln g = A + ln(n / n_G): I = mean of that (one average, common random numbers).
 * Every standard error is stratified by strata[i] (< n_strata). Heteroscedastic centres
 * (mean_logdet = mean_i sum_c ln sigma_ic, else NAN): c0 = (d/2) ln(2 pi), the
 * log-determinants being inside L, and a singleton group's entropy is its own Gaussian's: no
 * draws, but it varies with the group's one sample (its stds), so its total se is n/a as that
 * of any stratum of one sample. */
static void grouped_result(const iflow_mix_stats *st, const size_t *group, const size_t *count,
                           size_t n_groups, size_t n, size_t nq, size_t k, size_t d,
                           const iflow_sp_options *opt, double mean_logdet, int u_a, int u_la,
                           const double *pw, double *off, const size_t *strata, size_t n_strata,
                           stratum_sums *sums, iflow_mi_estimate *out) {
    int hetero = !isnan(mean_logdet);
    double c0 = log_gauss_norm(d, hetero ? 1.0 : opt->beta);
    int singletons = 1;
    out->n_groups = 0;
    for (size_t g = 0; g < n_groups; g++) {
        out->n_groups += count[g] > 0;
        singletons &= count[g] <= 1;
    }
    out->h = stratified(st, pw, NULL, nq, k, IFLOW_MIX_L, -1.0, strata, n_strata, sums);
    out->h.value += log((double)n) + c0;
    for (size_t i = 0; i < nq; i++) off[i] = log((double)n / (double)count[group[i]]);
    out->mi = stratified(st, pw, off, nq, k, u_a, 1.0, strata, n_strata, sums);
    if (singletons) {
        /* h(T | G = g) is the entropy of one Gaussian: exact. */
        out->h_cond = (iflow_estimate){
            .value = iflow_gaussian_entropy(d, opt->beta), .se_kind = IFLOW_SE_EXACT, .bias = NAN};
        if (hetero)
            out->h_cond = (iflow_estimate){.value = iflow_gaussian_entropy(d, 1.0) + mean_logdet,
                                           .se = NAN,
                                           .se_kind = IFLOW_SE_NA,
                                           .bias = NAN};
        return;
    }
    for (size_t i = 0; i < nq; i++) off[i] = log((double)count[group[i]]);
    out->h_cond = stratified(st, pw, off, nq, k, u_la, -1.0, strata, n_strata, sums);
    out->h_cond.value += c0;
}

/* I(A;T|B) = I(A;T) - I(B;T) from the same draws: per draw A - B + ln(n_b / n_a), one
 * stratified average (paired), so its se includes the covariance of the two. */
static iflow_estimate conditional(const iflow_mix_stats *st, const size_t *ga, const size_t *gb,
                                  const size_t *cnt_a, const size_t *cnt_b, size_t nq, size_t k,
                                  const double *pw, double *off, const size_t *strata,
                                  size_t n_strata, stratum_sums *sums) {
    for (size_t i = 0; i < nq; i++) off[i] = log((double)cnt_b[gb[i]] / (double)cnt_a[ga[i]]);
    return stratified(st, pw, off, nq, k, IFLOW_MIX_AB, 1.0, strata, n_strata, sums);
}

/* 0 if every group of a lies inside one group of b (B a function of A); ids out of range are
 * left to count_groups. */
static int check_nested(const char *fn, const size_t *ga, size_t n_ga, const size_t *gb, size_t n,
                        iflow_error *err) {
    size_t *seen = malloc(n_ga * sizeof *seen);
    if (!seen) return iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory", fn);
    for (size_t g = 0; g < n_ga; g++) seen[g] = SIZE_MAX;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (ga[i] >= n_ga) continue; /* reported by count_groups */
        if (seen[ga[i]] == SIZE_MAX) seen[ga[i]] = gb[i];
        if (seen[ga[i]] != gb[i])
            rc = iflow_error_set(err, IFLOW_EINVAL,
                                 "%s: the conditional information needs group_b to be a "
                                 "function of group_a, but group_a %zu holds samples of "
                                 "group_b %zu and %zu (sample %zu)",
                                 fn, ga[i], seen[ga[i]], gb[i], i);
    }
    free(seen);
    return rc;
}

/* The heteroscedastic noise of a grouped estimate: sigma (n x cols, in the caller's order) or
 * NULL (isotropic, opt->beta). */
typedef struct hetero_noise {
    const double *sigma;
    size_t cols;
} hetero_noise;

/* One grouped estimate over the centres idx[0..n) of s (idx NULL: all n, in order), the first
 * nq of which get draws (subsample: nq < all the queries the options ask for, so the per-centre
 * values are treated as i.i.d. for se_mc); centre j's draws come from stream idx[j], so a subset
 * is estimated on the draws of the whole. Groups (and stds) are those of the original indices.
 * cond, when not NULL, gets I(A;T|B) (needs group_b). */
static int grouped_pass(const double *s, const hetero_noise *hn, size_t d, const size_t *idx,
                        size_t n, size_t nq, int subsample, const size_t *group_a, size_t n_ga,
                        const size_t *group_b, size_t n_gb, const iflow_sp_options *opt,
                        iflow_mi_estimate *out_a, iflow_mi_estimate *out_b, iflow_estimate *cond,
                        iflow_error *err) {
    const char *fn = "iflow_sp_grouped_mi";
    size_t *cnt_a = malloc(n_ga * sizeof(size_t));
    size_t *cnt_b = group_b ? malloc(n_gb * sizeof(size_t)) : NULL;
    size_t *ia = malloc(n * sizeof(size_t)), *ib = group_b ? malloc(n * sizeof(size_t)) : NULL;
    double *ga = malloc(n * sizeof(double)), *gb = group_b ? malloc(n * sizeof(double)) : NULL;
    double *pw = malloc(n * sizeof(double)), *off = malloc(n * sizeof(double));
    double *sub = idx ? malloc(n * d * sizeof(double)) : NULL;
    const double *sigma = hn ? hn->sigma : NULL;
    size_t cols = hn ? hn->cols : 0;
    double *sub_sigma = sigma && idx ? malloc(n * cols * sizeof(double)) : NULL;
    stratum_sums *sums = malloc(n_ga * sizeof *sums);
    iflow_mix_stats *st = malloc(n * sizeof *st);
    double mean_logdet = sigma ? 0.0 : NAN;
    int rc = 0;
    if (!cnt_a || !ia || !ga || !pw || !off || !st || !sums || (idx && !sub) ||
        (group_b && (!cnt_b || !ib || !gb)) || (sigma && idx && !sub_sigma))
        rc = iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory (n = %zu)", fn, n);
    for (size_t j = 0; rc == 0 && j < n; j++) {
        size_t i = idx ? idx[j] : j;
        ia[j] = group_a[i];
        if (group_b) ib[j] = group_b[i];
        if (sub) memcpy(sub + j * d, s + i * d, d * sizeof *sub);
        if (sub_sigma) memcpy(sub_sigma + j * cols, sigma + i * cols, cols * sizeof *sub_sigma);
        if (sigma) mean_logdet += log_det_sigma(sigma, cols, i, d) / (double)n;
    }
    if (rc == 0) rc = count_groups(ia, n, n_ga, "group_a", cnt_a, ga, err);
    if (rc == 0 && group_b) rc = count_groups(ib, n, n_gb, "group_b", cnt_b, gb, err);
    if (rc == 0) {
        size_t done = 0;
        iflow_mix_mc p = mix_problem(opt, sub ? sub : s, n, d, &done);
        p.ga = ga;
        p.gb = gb;
        p.orig = idx;
        p.n_query = nq;
        p.sigma = sub_sigma ? sub_sigma : sigma;
        p.sigma_cols = cols;
        rc = iflow_mix_mc_run(&p, st, err);
    }
    if (rc == 0) {
        size_t k = subsample ? 1 : opt->mc;
        for (size_t i = 0; i < nq; i++) pw[i] = 1.0 / (double)nq;
        grouped_result(st, ia, cnt_a, n_ga, n, nq, k, d, opt, mean_logdet, IFLOW_MIX_A,
                       IFLOW_MIX_LA, pw, off, ia, n_ga, sums, out_a);
        if (group_b && out_b)
            grouped_result(st, ib, cnt_b, n_gb, n, nq, k, d, opt, mean_logdet, IFLOW_MIX_B,
                           IFLOW_MIX_LB, pw, off, ia, n_ga, sums, out_b);
        if (group_b && cond)
            *cond = conditional(st, ia, ib, cnt_a, cnt_b, nq, k, pw, off, ia, n_ga, sums);
    }
    free(cnt_a);
    free(cnt_b);
    free(ia);
    free(ib);
    free(ga);
    free(gb);
    free(pw);
    free(off);
    free(sub);
    free(sub_sigma);
    free(sums);
    free(st);
    return rc;
}

/* bias = mean of the two halves' estimates - the whole's (E[I_n] = I + b/n per group: each half
 * has twice the bias), for every estimate of one grouping. */
static void set_bias(iflow_mi_estimate *out, const iflow_mi_estimate *half) {
    iflow_estimate *e[3] = {&out->mi, &out->h, &out->h_cond};
    const iflow_estimate *h0[3] = {&half[0].mi, &half[0].h, &half[0].h_cond};
    const iflow_estimate *h1[3] = {&half[1].mi, &half[1].h, &half[1].h_cond};
    for (int q = 0; q < 3; q++) {
        e[q]->bias = (h0[q]->value + h1[q]->value) / 2 - e[q]->value;
        e[q]->has_bias = 1;
    }
}

/* bias of the conditional information, as set_bias's. */
static void set_cond_bias(iflow_estimate *cond, const iflow_estimate *half) {
    cond->bias = (half[0].value + half[1].value) / 2 - cond->value;
    cond->has_bias = 1;
}

/* The finite-sample bias from the two halves of every group_a group: its queried samples go to
 * the halves alternately, and so do the others, so each half keeps half of each group's
 * queries; every sample keeps its draws (common random numbers). Needs >= 2 queried samples in
 * every group; otherwise has_bias stays 0. */
static int grouped_bias(const double *s, const hetero_noise *hn, size_t n, size_t d, size_t stride,
                        const size_t *group_a, size_t n_ga, const size_t *group_b, size_t n_gb,
                        const iflow_sp_options *opt, iflow_mi_estimate *out_a,
                        iflow_mi_estimate *out_b, iflow_estimate *cond, iflow_error *err) {
    size_t *cnt = calloc(2 * n_ga, sizeof *cnt), *idx = malloc(n * sizeof *idx);
    char *half = malloc(n);
    int rc = cnt && idx && half ? 0 : iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
    int ok = rc == 0;
    for (size_t i = 0; ok && i < n; i++) {
        size_t *c = &cnt[2 * group_a[i] + (i % stride != 0)];
        half[i] = (char)(*c % 2);
        ++*c;
    }
    for (size_t g = 0; ok && g < n_ga; g++)
        ok = cnt[2 * g] + cnt[2 * g + 1] == 0 || cnt[2 * g] >= 2;
    iflow_mi_estimate ha[2], hb[2];
    iflow_estimate hc[2];
    for (int h = 0; ok && rc == 0 && h < 2; h++) {
        size_t m = 0, nq = 0;
        for (int pass = 0; pass < 2; pass++)
            for (size_t i = 0; i < n; i++)
                if (half[i] == h && (i % stride == 0) == (pass == 0)) idx[m++] = i;
        for (size_t i = 0; i < n; i++) nq += half[i] == h && i % stride == 0;
        rc = grouped_pass(s, hn, d, idx, m, nq, stride > 1, group_a, n_ga, group_b, n_gb, opt,
                          &ha[h], group_b ? &hb[h] : NULL, cond ? &hc[h] : NULL, err);
    }
    if (ok && rc == 0) {
        set_bias(out_a, ha);
        if (group_b && out_b) set_bias(out_b, hb);
        if (group_b && cond) set_cond_bias(cond, hc);
    }
    free(cnt);
    free(idx);
    free(half);
    return rc;
}

/* Shared body of every grouped estimate: sigma NULL is isotropic (opt->beta); cond, when not
 * NULL, gets I(A;T|B) (needs group_b). */
static int grouped(const double *s, const double *sigma, size_t sigma_cols, size_t n, size_t d,
                   const size_t *group_a, size_t n_ga, const size_t *group_b, size_t n_gb,
                   const iflow_sp_options *opt, iflow_mi_estimate *out_a, iflow_mi_estimate *out_b,
                   iflow_estimate *cond, iflow_error *err) {
    const char *fn = sigma ? "iflow_sp_grouped_hetero" : "iflow_sp_grouped_mi";
    const double *s_in = s;
    double *centred = NULL, min_sigma = opt ? opt->beta : 0;
    int rc = check_options(fn, opt, err);
    if (rc == 0 && sigma) rc = check_sigma(fn, sigma, sigma_cols, n, d, &min_sigma, err);
    if (rc == 0) rc = check_samples(fn, s_in, n, d, min_sigma, &s, &centred, err);
    if (rc) return rc;
    if (!group_a || n_ga < 1 || (group_b && n_gb < 1)) {
        free(centred);
        return iflow_error_set(err, IFLOW_EINVAL, "%s: %s: no groups given", fn,
                               group_a && n_ga ? "group_b" : "group_a");
    }
    if (cond) rc = check_nested(fn, group_a, n_ga, group_b, n, err);
    hetero_noise hn = {sigma, sigma_cols};
    /* Query subsample: the selected centres (every stride-th) come first (mixture draws around
     * centres [0, nq)), keeping their original stream indices and group ids. */
    size_t stride = opt->query_stride > 1 ? opt->query_stride : 1;
    size_t nq = (n + stride - 1) / stride, *idx = NULL;
    if (stride > 1) {
        idx = malloc(n * sizeof *idx);
        if (!idx) rc = iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory", fn);
        size_t j = 0;
        for (int pass = 0; rc == 0 && pass < 2; pass++)
            for (size_t i = 0; i < n; i++)
                if ((i % stride == 0) == (pass == 0)) idx[j++] = i;
    }
    if (rc == 0)
        rc = grouped_pass(s, sigma ? &hn : NULL, d, idx, n, nq, stride > 1, group_a, n_ga, group_b,
                          n_gb, opt, out_a, out_b, cond, err);
    if (rc == 0 && opt->bias)
        rc = grouped_bias(s, sigma ? &hn : NULL, n, d, stride, group_a, n_ga, group_b, n_gb, opt,
                          out_a, out_b, cond, err);
    free(idx);
    free(centred);
    return rc;
}

int iflow_sp_grouped_mi(const double *s, size_t n, size_t d, const size_t *group, size_t n_groups,
                        const iflow_sp_options *opt, iflow_mi_estimate *out, iflow_error *err) {
    return grouped(s, NULL, 0, n, d, group, n_groups, NULL, 0, opt, out, NULL, NULL, err);
}

int iflow_sp_grouped_mi2(const double *s, size_t n, size_t d, const size_t *group_a,
                         size_t n_groups_a, const size_t *group_b, size_t n_groups_b,
                         const iflow_sp_options *opt, iflow_mi_estimate *out_a,
                         iflow_mi_estimate *out_b, iflow_error *err) {
    if (!group_b)
        return iflow_error_set(err, IFLOW_EINVAL, "iflow_sp_grouped_mi2: group_b is NULL");
    return grouped(s, NULL, 0, n, d, group_a, n_groups_a, group_b, n_groups_b, opt, out_a, out_b,
                   NULL, err);
}

int iflow_sp_grouped_cmi(const double *s, size_t n, size_t d, const size_t *group_a,
                         size_t n_groups_a, const size_t *group_b, size_t n_groups_b,
                         const iflow_sp_options *opt, iflow_mi_estimate *out_a,
                         iflow_mi_estimate *out_b, iflow_estimate *cond, iflow_error *err) {
    if (!group_b || !out_a || !out_b || !cond)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "iflow_sp_grouped_cmi: group_b and every output are required");
    return grouped(s, NULL, 0, n, d, group_a, n_groups_a, group_b, n_groups_b, opt, out_a, out_b,
                   cond, err);
}

int iflow_sp_grouped_hetero(const double *s, const double *sigma, size_t sigma_cols, size_t n,
                            size_t d, const size_t *group_a, size_t n_groups_a,
                            const size_t *group_b, size_t n_groups_b, const iflow_sp_options *opt,
                            iflow_mi_estimate *out_a, iflow_mi_estimate *out_b,
                            iflow_estimate *cond, iflow_error *err) {
    if (!out_a || (group_b && !out_b) || (cond && !group_b))
        return iflow_error_set(err, IFLOW_EINVAL,
                               "iflow_sp_grouped_hetero: out_a is required, out_b with group_b, "
                               "and the conditional needs group_b");
    if (!sigma) return iflow_error_set(err, IFLOW_EINVAL, "iflow_sp_grouped_hetero: sigma is NULL");
    return grouped(s, sigma, sigma_cols, n, d, group_a, n_groups_a, group_b, n_groups_b, opt, out_a,
                   out_b, cond, err);
}
