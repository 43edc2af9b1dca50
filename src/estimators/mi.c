/* Per-epoch information measurement: samples S_l | X = x_i by noisy forward passes, then the SP
 * estimator (grouped by input and by label), binned entropies and pairwise bounds per layer. */
#include "infoflow/mi.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infoflow/binning.h"
#include "infoflow/resample.h"
#include "infoflow/rng.h"
#include "alloc.h"
#include "infoflow/sliced.h"
#include "io.h"
#include "blas.h"

/* Stream tags keep the draws of different purposes apart for the same seed and epoch. */
enum { STREAM_SAMPLES = 0x53414d50, STREAM_SP = 0x53505350, STREAM_SLICED = 0x534c4943 };
#define CHUNK_ROWS  4096              /* forward passes in batches of about this many rows */
#define CONV_BUDGET ((size_t)1 << 24) /* doubles of a conv net's workspace (128 MB) */

/* Rows per forward batch: CHUNK_ROWS, fewer for a conv net whose workspace would pass
 * CONV_BUDGET (MLPs keep CHUNK_ROWS, so their draws stay as they were). */
static size_t chunk_rows(const iflow_net *net) {
    size_t per_row = iflow_workspace_row_doubles(net);
    if (!net->has_conv || per_row * CHUNK_ROWS <= CONV_BUDGET) return CHUNK_ROWS;
    return CONV_BUDGET / per_row > 0 ? CONV_BUDGET / per_row : 1;
}

static int layer_selected(const iflow_mi_options *opt, size_t l) {
    if (opt->layer_mask_n == 0) return 1;
    for (size_t i = 0; i < opt->layer_mask_n; i++)
        if (opt->layers[i] == l) return 1;
    return 0;
}

int iflow_mi_clean_layer(const iflow_net *net, const double *x, size_t m, size_t l, double *out,
                         iflow_error *err) {
    if (l < 1 || l >= net->n_layers)
        return iflow_error_set(err, IFLOW_EINVAL, "layer %zu is not a hidden layer (1..%zu)", l,
                               net->n_layers - 1);
    size_t rows = m < chunk_rows(net) ? m : chunk_rows(net);
    iflow_workspace *ws;
    int rc = iflow_workspace_new(net, rows ? rows : 1, &ws, err);
    if (rc) return rc;
    size_t d0 = net->widths[0], dl = net->widths[l];
    for (size_t i = 0; i < m; i += rows) {
        size_t n = m - i < rows ? m - i : rows;
        iflow_net_forward(net, x + i * d0, n, NULL, ws);
        memcpy(out + i * dl, iflow_workspace_clean(ws, l), n * dl * sizeof *out);
    }
    iflow_workspace_free(ws);
    return 0;
}

/* Samples for every hidden layer: clean[l] gets S_l (m*R x d_l; replica r of input i at row
 * i*R + r), noisy[l] gets T_l = S_l + Z_l of replica 0 (m x d_l). Draws for inputs [i0, i0+c)
 * come from stream (epoch, i0): fixed chunking, so thread count and batching never matter. */
static int draw_samples(const iflow_net *net, const double *x, size_t m, size_t R, long epoch,
                        uint64_t seed, iflow_normals normals, double **clean, double **noisy,
                        iflow_error *err) {
    size_t chunk = chunk_rows(net), per_chunk = R >= chunk ? 1 : chunk / R;
    size_t d0 = net->widths[0], L = net->n_layers;
    iflow_workspace *ws;
    int rc = iflow_workspace_new(net, per_chunk * R, &ws, err);
    if (rc) return rc;
    double *xb = malloc(per_chunk * R * d0 * sizeof *xb);
    if (!xb) {
        iflow_workspace_free(ws);
        return iflow_error_set(err, IFLOW_ENOMEM, "out of memory for %zu replicas", R);
    }
    for (size_t i0 = 0; i0 < m; i0 += per_chunk) {
        size_t c = m - i0 < per_chunk ? m - i0 : per_chunk;
        for (size_t i = 0; i < c; i++)
            for (size_t r = 0; r < R; r++)
                memcpy(xb + (i * R + r) * d0, x + (i0 + i) * d0, d0 * sizeof *xb);
        iflow_rng rng;
        iflow_rng_init(&rng, seed, iflow_rng_stream3(STREAM_SAMPLES, (uint64_t)epoch, i0));
        rng.normals = normals;
        iflow_net_forward(net, xb, c * R, &rng, ws);
        for (size_t l = 1; l < L; l++) {
            size_t dl = net->widths[l];
            memcpy(clean[l] + i0 * R * dl, iflow_workspace_clean(ws, l),
                   c * R * dl * sizeof(double));
            const double *t = iflow_workspace_layer(ws, l);
            for (size_t i = 0; i < c; i++)
                memcpy(noisy[l] + (i0 + i) * dl, t + i * R * dl, dl * sizeof(double));
        }
    }
    free(xb);
    iflow_workspace_free(ws);
    return 0;
}

/* Binned entropies of one layer's activations (m x d): H(Bin T) and I(Y; Bin T). ReLU-like
 * (unbounded) layers replace SZT's [-1, 1] edges by 30 equal bins over the observed range. */
static int binned(const double *t, size_t m, size_t d, const size_t *labels, size_t n_classes,
                  double width, int bounded, double *h, double *i_y, iflow_error *err) {
    iflow_binning b = {.kind = IFLOW_BIN_WIDTH, .width = width, .origin = 0};
    if (width == 0 && bounded) {
        b.kind = IFLOW_BIN_SZT30;
    } else if (width == 0) {
        double lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < m * d; i++) {
            lo = fmin(lo, t[i]);
            hi = fmax(hi, t[i]);
        }
        b.origin = lo;
        b.width = hi > lo ? (hi - lo) / 30 * (1 + 1e-12) : 1.0;
    }
    double h_cond;
    int rc = iflow_bin_grouped(t, m, d, &b, labels, n_classes, h, &h_cond, err);
    *i_y = *h - h_cond;
    return rc;
}

static void report(iflow_progress_fn progress, void *user, size_t l, size_t n_hidden,
                   const char *what, double fraction) {
    if (!progress) return;
    char stage[96];
    snprintf(stage, sizeof stage, "layer %zu/%zu: %s", l, n_hidden, what);
    progress(user, stage, fraction);
}

/* I_k(X;T_l) and I_k(Y;T_l) with the SP options of the unsliced estimate; the slices' bases
 * and draws come from streams of (epoch, layer), apart from the unsliced draws. For k >= d the
 * k-sliced information is the information itself: the unsliced estimate is copied. */
static int measure_sliced(const double *s, size_t n, size_t d, const size_t *ga, size_t m,
                          const size_t *gb, size_t n_classes, const iflow_sp_options *sp,
                          long epoch, size_t l, const iflow_mi_options *opt, iflow_layer_info *info,
                          iflow_error *err) {
    info->has_sliced = 1;
    if (opt->slice_dim >= d) {
        info->slice_dim = d;
        info->slices = 0;
        info->ixt_sliced = info->ixt;
        info->iyt_sliced = info->iyt;
        return 0;
    }
    iflow_slice_options sl;
    iflow_slice_options_default(&sl);
    sl.slices = opt->slices;
    sl.dim = opt->slice_dim;
    sl.seed = opt->seed;
    sl.stream = iflow_rng_stream3(STREAM_SLICED, (uint64_t)epoch, l);
    iflow_sp_options sp_s = *sp;
    sp_s.stream = sl.stream;
    info->slice_dim = sl.dim;
    info->slices = sl.slices;
    return iflow_sliced_grouped_mi2(s, n, d, ga, m, gb, n_classes, &sp_s, &sl, &info->ixt_sliced,
                                    &info->iyt_sliced, NULL, NULL, err);
}

/* The samples are exact given the inputs: the total se is the Monte Carlo se (and, with one
 * sample per input, there is no finite-sample bias to estimate). */
static void exact_sample(iflow_estimate *q) {
    q->se = q->se_mc;
    q->se_kind = IFLOW_SE_EXACT;
    q->bias = 0; /* g_i and g are the exact densities: the draws are unbiased */
    q->has_bias = 1;
}

static void exact_samples(iflow_mi_estimate *e) {
    exact_sample(&e->mi);
    exact_sample(&e->h);
    exact_sample(&e->h_cond);
}

/* 1 if e is within max(IFLOW_SATURATION_MARGIN, 2 se) of ceiling (se_mc where se is n/a). */
static int saturated(const iflow_estimate *e, double ceiling) {
    double se = e->se_kind == IFLOW_SE_NA ? e->se_mc : e->se;
    return e->value >= ceiling - fmax(IFLOW_SATURATION_MARGIN, 2 * se);
}

/* The ceilings of I(X;T) and I(Y;T): ln m and the entropy of the m labels gy. */
static void set_saturation(iflow_layer_info *info, const size_t *gy, size_t m, size_t n_classes) {
    double h_y = 0;
    size_t *count = calloc(n_classes ? n_classes : 1, sizeof *count);
    for (size_t i = 0; count && i < m; i++) count[gy[i]]++;
    for (size_t c = 0; count && c < n_classes; c++)
        if (count[c]) h_y -= (double)count[c] / (double)m * log((double)count[c] / (double)m);
    info->ixt_ceiling = log((double)m);
    info->iyt_ceiling = count ? h_y : NAN;
    info->ixt_saturated = saturated(&info->ixt.mi, info->ixt_ceiling);
    info->iyt_saturated = count && saturated(&info->iyt.mi, info->iyt_ceiling);
    free(count);
}

static int measure_layer(const iflow_net *net, size_t l, long epoch, const iflow_mi_options *opt,
                         const double *s, const double *t_noisy, const double *t_clean, size_t m,
                         const size_t *gx, const size_t *gy, size_t n_classes,
                         iflow_layer_info *info, iflow_error *err) {
    size_t d = net->widths[l], R = opt->replicas;
    int bounded = net->act == IFLOW_ACT_TANH || net->act == IFLOW_ACT_SIGMOID;
    info->layer = l;
    info->width = d;
    info->n_bins = opt->n_bins;
    int rc = 0, noisy = 0;
    for (size_t b = 0; b < opt->n_bins && !rc; b++) {
        iflow_bin_info *bi = &info->bins[b];
        bi->width = opt->bins[b];
        rc = binned(t_clean, m, d, gy, n_classes, bi->width, bounded, &bi->h_clean, &bi->i_y_clean,
                    err);
        if (!rc) {
            rc = binned(t_noisy, m, d, gy, n_classes, bi->width, bounded, &bi->h_noisy,
                        &bi->i_y_noisy, err);
            noisy = rc != 0;
        }
    }
    if (rc) { /* name the layer, and the noise when it is what cannot be binned */
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
        if (noisy)
            return iflow_error_set(err, rc,
                                   "layer %zu, binning the noisy activations (noise std "
                                   "beta = %g): %s",
                                   l, net->beta[l], msg);
        return iflow_error_set(err, rc, "layer %zu, binning the activations: %s", l, msg);
    }
    double beta = net->beta[l];
    info->has_sp = beta > 0;
    if (!info->has_sp) return 0;
    /* S_l is deterministic given x when no earlier layer is noisy: one sample per input. */
    int noisy_before = 0;
    for (size_t k = 1; k < l; k++) noisy_before |= net->beta[k] > 0;
    size_t per_input = noisy_before ? R : 1;
    size_t n = m * per_input;
    const double *samples = s;
    double *firsts = NULL;
    if (per_input != R) {
        firsts = malloc(m * d * sizeof *firsts);
        if (!firsts) return iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
        for (size_t i = 0; i < m; i++) memcpy(firsts + i * d, s + i * R * d, d * sizeof *firsts);
        samples = firsts;
    }
    size_t *ga = malloc(n * sizeof *ga), *gb = malloc(n * sizeof *gb);
    if (!ga || !gb) {
        free(firsts);
        free(ga);
        free(gb);
        return iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        ga[i] = gx[i / per_input];
        gb[i] = gy[i / per_input];
    }
    iflow_sp_options sp;
    iflow_sp_options_default(&sp);
    sp.beta = beta;
    sp.mc = opt->mc;
    sp.seed = opt->seed;
    sp.normals = opt->normals;
    sp.stream = iflow_rng_stream3(STREAM_SP, (uint64_t)epoch, l);
    sp.tolerance = opt->tolerance;
    sp.threads = opt->threads;
    sp.bias = opt->bias;
    /* Samples are stored input-major (i*R + r): a stride of R/q keeps q queries per input.
     * q is raised to the next divisor of R so that every input gets the same number of queries
     * (X uniform). */
    size_t q = opt->queries_per_input;
    if (per_input > 1 && q > 0 && q < per_input) {
        while (per_input % q) q++;
        sp.query_stride = per_input / q;
    }
    /* Y is a function of X (each input has one label): I(X;T|Y) from the same draws */
    rc = iflow_sp_grouped_cmi(samples, n, d, ga, m, gb, n_classes, &sp, &info->ixt, &info->iyt,
                              &info->ixt_given_y, err);
    if (!rc && opt->slice_dim > 0)
        rc = measure_sliced(samples, n, d, ga, m, gb, n_classes, &sp, epoch, l, opt, info, err);
    if (!rc && !noisy_before) { /* S_l is exact given the inputs: only the draws are random */
        iflow_mi_estimate *e[4] = {&info->ixt, &info->iyt, &info->ixt_sliced, &info->iyt_sliced};
        for (int j = 0; j < (info->has_sliced ? 4 : 2); j++) exact_samples(e[j]);
        exact_sample(&info->ixt_given_y);
    }
    if (!rc) set_saturation(info, gy, m, n_classes);
    if (!rc && l == 1 && !noisy_before) {
        rc = iflow_pairwise_bounds(samples, n, d, beta, opt->threads, &info->kde_lower,
                                   &info->kde_upper, err);
        info->has_bounds = rc == 0;
    }
    free(firsts);
    free(ga);
    free(gb);
    return rc;
}

static int measure_inputs(const iflow_net *net, const double *x, const int *y, size_t m,
                          size_t n_classes, long epoch, const iflow_mi_options *opt,
                          iflow_layer_info *out, iflow_progress_fn progress, void *user,
                          iflow_error *err) {
    size_t L = net->n_layers, R = opt->replicas;
    if (m < 2) return iflow_error_set(err, IFLOW_EINVAL, "need at least 2 inputs, got %zu", m);
    if (R < 1 || R > IFLOW_MAX_REPLICAS || opt->mc < 1 || opt->mc > IFLOW_MAX_MC)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "replicas (%zu) must be in [1, %d] and mc (%zu) "
                               "in [1, %d]",
                               R, IFLOW_MAX_REPLICAS, opt->mc, IFLOW_MAX_MC);
    size_t mr;
    if (iflow_size_mul(m, R, &mr))
        return iflow_error_set(err, IFLOW_EINVAL, "%zu inputs x %zu replicas is too many samples",
                               m, R);
    memset(out, 0, (L - 1) * sizeof *out);
    double *clean[IFLOW_MAX_LAYERS + 1] = {0}, *noisy[IFLOW_MAX_LAYERS + 1] = {0};
    double *tclean = NULL;
    size_t *gx = malloc(m * sizeof *gx), *gy = malloc(m * sizeof *gy);
    int rc = (gx && gy) ? 0 : iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
    size_t max_d = 0;
    for (size_t l = 1; l < L && !rc; l++) {
        size_t dl = net->widths[l];
        max_d = dl > max_d ? dl : max_d;
        size_t count;
        if (iflow_size_mul(mr, dl, &count)) count = SIZE_MAX; /* refused just below */
        clean[l] = iflow_alloc_array(count, sizeof(double), "samples of a hidden layer", err);
        noisy[l] = clean[l] ? iflow_alloc_array(m * dl, sizeof(double), "noisy layer", err) : NULL;
        if (!clean[l] || !noisy[l]) {
            char why[sizeof err->msg];
            snprintf(why, sizeof why, "%s", err ? err->msg : "out of memory");
            rc = iflow_error_set(err, err ? err->code : IFLOW_ENOMEM,
                                 "layer %zu: %zu inputs x %zu replicas x width %zu: %s", l, m, R,
                                 dl, why);
        }
    }
    if (!rc && !(tclean = malloc(m * max_d * sizeof *tclean)))
        rc = iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
    for (size_t i = 0; i < m && !rc; i++) {
        gx[i] = i;
        gy[i] = (size_t)y[i];
        if (y[i] < 0 || (size_t)y[i] >= n_classes)
            rc = iflow_error_set(err, IFLOW_EINVAL, "label %d of input %zu out of range", y[i], i);
    }
    if (!rc) {
        if (progress) progress(user, "sampling", 0);
        rc = draw_samples(net, x, m, R, epoch, opt->seed, opt->normals, clean, noisy, err);
    }
    for (size_t l = 1; l < L && !rc; l++) {
        if (!layer_selected(opt, l)) continue;
        double t0 = iflow_now_seconds();
        report(progress, user, l, L - 1, "estimating", (double)(l - 1) / (double)(L - 1));
        rc = iflow_mi_clean_layer(net, x, m, l, tclean, err);
        if (!rc)
            rc = measure_layer(net, l, epoch, opt, clean[l], noisy[l], tclean, m, gx, gy, n_classes,
                               &out[l - 1], err);
        out[l - 1].seconds = iflow_now_seconds() - t0;
    }
    if (!rc && progress) progress(user, "done", 1);
    for (size_t l = 1; l < L; l++) {
        free(clean[l]);
        free(noisy[l]);
    }
    free(tclean);
    free(gx);
    free(gy);
    return rc;
}

/* resample = bootstrap measures everything above on the epoch's draw of m inputs with
 * replacement (labels travel with them): the authors' protocol, kept apart so that `none` runs
 * exactly the code and draws it always ran. */
static int measure_body(const iflow_net *net, const double *x, const int *y, size_t m,
                        size_t n_classes, long epoch, const iflow_mi_options *opt,
                        iflow_layer_info *out, iflow_progress_fn progress, void *user,
                        iflow_error *err) {
    if (opt->resample == IFLOW_RESAMPLE_NONE)
        return measure_inputs(net, x, y, m, n_classes, epoch, opt, out, progress, user, err);
    if (opt->resample != IFLOW_RESAMPLE_BOOTSTRAP)
        return iflow_error_set(err, IFLOW_EINVAL, "unknown resample mode %d", (int)opt->resample);
    double *xb;
    int *yb;
    int rc = iflow_bootstrap_draw(x, y, m, net->widths[0], opt->seed, epoch, &xb, &yb, err);
    if (!rc) rc = measure_inputs(net, xb, yb, m, n_classes, epoch, opt, out, progress, user, err);
    free(xb);
    free(yb);
    return rc;
}

int iflow_mi_measure(const iflow_net *net, const double *x, const int *y, size_t m,
                     size_t n_classes, long epoch, const iflow_mi_options *opt,
                     iflow_layer_info *out, iflow_progress_fn progress, void *user,
                     iflow_error *err) {
    int blas = iflow_blas_serial_begin(); /* blas.h: the numbers must not depend on it */
    int rc = measure_body(net, x, y, m, n_classes, epoch, opt, out, progress, user, err);
    iflow_blas_serial_end(blas);
    return rc;
}
