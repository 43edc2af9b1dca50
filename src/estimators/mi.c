/* Per-epoch information measurement: samples S_l | X = x_i by noisy forward passes, then the SP
 * estimator (grouped by input and by label), binned entropies and pairwise bounds per layer. */
#include "infoflow/mi.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infoflow/binning.h"
#include "infoflow/rng.h"
#include "io.h"

/* Stream tags keep the draws of different purposes apart for the same seed and epoch. */
enum { STREAM_SAMPLES = 0x53414d50, STREAM_SP = 0x53505350 };
#define CHUNK_ROWS 4096 /* forward passes in batches of about this many rows */
#define CONV_BUDGET ((size_t)1 << 24) /* doubles of a conv net's workspace (128 MB) */

/* Rows per forward batch: CHUNK_ROWS, fewer for a conv net whose workspace would pass
 * CONV_BUDGET (MLPs keep CHUNK_ROWS, so their draws stay as they were). */
static size_t chunk_rows(const iflow_net *net) {
    size_t per_row = iflow_workspace_row_doubles(net);
    if (!net->has_conv || per_row * CHUNK_ROWS <= CONV_BUDGET) return CHUNK_ROWS;
    return CONV_BUDGET / per_row > 0 ? CONV_BUDGET / per_row : 1;
}

void iflow_mi_options_from_config(const iflow_config *cfg, iflow_mi_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->replicas = cfg->replicas;
    opt->mc = cfg->mc;
    opt->queries_per_input = cfg->queries_per_input;
    opt->tolerance = cfg->tolerance;
    opt->seed = cfg->mi_seed;
    opt->threads = cfg->threads;
    opt->n_bins = cfg->n_bins;
    memcpy(opt->bins, cfg->bins, sizeof opt->bins);
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
                        uint64_t seed, double **clean, double **noisy, iflow_error *err) {
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
        iflow_net_forward(net, xb, c * R, &rng, ws);
        for (size_t l = 1; l < L; l++) {
            size_t dl = net->widths[l];
            memcpy(clean[l] + i0 * R * dl, iflow_workspace_clean(ws, l), c * R * dl * sizeof(double));
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

static int measure_layer(const iflow_net *net, size_t l, long epoch, const iflow_mi_options *opt,
                         const double *s, const double *t_noisy, const double *t_clean, size_t m,
                         const size_t *gx, const size_t *gy, size_t n_classes,
                         iflow_layer_info *info, iflow_error *err) {
    size_t d = net->widths[l], R = opt->replicas;
    int bounded = net->act == IFLOW_ACT_TANH || net->act == IFLOW_ACT_SIGMOID;
    info->layer = l;
    info->width = d;
    info->n_bins = opt->n_bins;
    int rc = 0;
    for (size_t b = 0; b < opt->n_bins && !rc; b++) {
        iflow_bin_info *bi = &info->bins[b];
        bi->width = opt->bins[b];
        rc = binned(t_clean, m, d, gy, n_classes, bi->width, bounded, &bi->h_clean, &bi->i_y_clean,
                    err);
        if (!rc)
            rc = binned(t_noisy, m, d, gy, n_classes, bi->width, bounded, &bi->h_noisy,
                        &bi->i_y_noisy, err);
    }
    if (rc) return rc;
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
    sp.stream = iflow_rng_stream3(STREAM_SP, (uint64_t)epoch, l);
    sp.tolerance = opt->tolerance;
    sp.threads = opt->threads;
    /* Samples are stored input-major (i*R + r): a stride of R/q keeps q queries per input.
     * q is raised to the next divisor of R so that every input gets the same number of queries
     * (X uniform). */
    size_t q = opt->queries_per_input;
    if (per_input > 1 && q > 0 && q < per_input) {
        while (per_input % q) q++;
        sp.query_stride = per_input / q;
    }
    rc = iflow_sp_grouped_mi2(samples, n, d, ga, m, gb, n_classes, &sp, &info->ixt, &info->iyt,
                              err);
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

int iflow_mi_measure(const iflow_net *net, const double *x, const int *y, size_t m,
                     size_t n_classes, long epoch, const iflow_mi_options *opt,
                     iflow_layer_info *out, iflow_progress_fn progress, void *user,
                     iflow_error *err) {
    size_t L = net->n_layers, R = opt->replicas;
    if (m < 2) return iflow_error_set(err, IFLOW_EINVAL, "need at least 2 inputs, got %zu", m);
    if (R < 1 || opt->mc < 1)
        return iflow_error_set(err, IFLOW_EINVAL, "replicas and mc must be >= 1");
    memset(out, 0, (L - 1) * sizeof *out);
    double *clean[IFLOW_MAX_LAYERS + 1] = {0}, *noisy[IFLOW_MAX_LAYERS + 1] = {0};
    double *tclean = NULL;
    size_t *gx = malloc(m * sizeof *gx), *gy = malloc(m * sizeof *gy);
    int rc = (gx && gy) ? 0 : iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
    size_t max_d = 0;
    for (size_t l = 1; l < L && !rc; l++) {
        size_t dl = net->widths[l];
        max_d = dl > max_d ? dl : max_d;
        clean[l] = malloc(m * R * dl * sizeof(double));
        noisy[l] = malloc(m * dl * sizeof(double));
        if (!clean[l] || !noisy[l])
            rc = iflow_error_set(err, IFLOW_ENOMEM, "out of memory for %zu x %zu samples of layer %zu",
                                 m * R, dl, l);
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
        rc = draw_samples(net, x, m, R, epoch, opt->seed, clean, noisy, err);
    }
    for (size_t l = 1; l < L && !rc; l++) {
        if (!layer_selected(opt, l)) continue;
        double t0 = iflow_now_seconds();
        report(progress, user, l, L - 1, "estimating", (double)(l - 1) / (double)(L - 1));
        rc = iflow_mi_clean_layer(net, x, m, l, tclean, err);
        if (!rc)
            rc = measure_layer(net, l, epoch, opt, clean[l], noisy[l], tclean, m, gx, gy,
                               n_classes, &out[l - 1], err);
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
