/* The figures of a run's distributions: binned entropies beside the SP estimate, activation
 * heat maps and scatter plots of narrow layers (part of iflow_plot_run, see plot.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot_figures.h"
/* ---- binned estimates beside SP ---- */

typedef struct combo {
    const char *bin, *noise;
} combo;

/* Distinct (bin, noise) pairs of binned.csv, in order of appearance (out and bins hold n_rows). */
static size_t binned_combos(const iflow_csv *b, combo *out, size_t *n_bins, const char **bins) {
    int bc = iflow_csv_find(b, "bin"), nc = iflow_csv_find(b, "noise");
    size_t n = 0;
    *n_bins = 0;
    for (size_t i = 0; i < b->n_rows; i++) {
        const char *bin = iflow_csv_str(b, i, bc), *nz = iflow_csv_str(b, i, nc);
        size_t k = 0;
        while (k < n && (strcmp(out[k].bin, bin) != 0 || strcmp(out[k].noise, nz) != 0)) k++;
        if (k == n) out[n++] = (combo){bin, nz};
        k = 0;
        while (k < *n_bins && strcmp(bins[k], bin) != 0) k++;
        if (k == *n_bins) bins[(*n_bins)++] = bin;
    }
    return n;
}

static size_t bin_index(const char **bins, size_t n, const char *bin) {
    size_t k = 0;
    while (k < n && strcmp(bins[k], bin) != 0) k++;
    return k;
}

/* One layer: H(Bin T_l) per (bin, noise) and the SP estimate of I(X;T_l) against epoch. */
static void binned_panel(plot_ctx *c, iflow_panel *p, double l, const combo *cb, size_t n_cb,
                         const char **bins, size_t n_bins, double *buf, size_t *idx) {
    iflow_csv *b = c->binned;
    const double *ep, *lay, *h;
    iflow_csv_numbers(b, "epoch", &ep, NULL);
    iflow_csv_numbers(b, "layer", &lay, NULL);
    iflow_csv_numbers(b, "H_bin", &h, NULL);
    int bc = iflow_csv_find(b, "bin"), nc = iflow_csv_find(b, "noise");
    size_t k = plot_layer_rows(lay, ep, b->n_rows, l, idx);
    double *x = buf, *y = buf + b->n_rows;
    for (size_t q = 0; q < n_cb; q++) {
        size_t m = 0;
        for (size_t i = 0; i < k; i++) {
            size_t r = idx[i];
            if (strcmp(iflow_csv_str(b, r, bc), cb[q].bin) != 0 ||
                strcmp(iflow_csv_str(b, r, nc), cb[q].noise) != 0)
                continue;
            /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): m < k <= n_rows: no write when n_rows is
             * 0 */
            x[m] = ep[r], y[m++] = h[r] * c->unit;
        }
        iflow_panel_line(p, x, y, m, iflow_palette(bin_index(bins, n_bins, cb[q].bin) + 1), 2.2,
                         !strcmp(cb[q].noise, "clean"));
    }
    for (size_t j = 0; c->has_sp && j < c->n_layers; j++) {
        if (c->layers[j] != l) continue;
        series s;
        if (plot_mi_series(c, j, &s) == 0) {
            for (size_t i = 0; i < s.n; i++)
                s.lo[i] = s.x[i] - s.xse[i], s.hi[i] = s.x[i] + s.xse[i];
            iflow_panel_band(p, s.e, s.lo, s.hi, s.n, PLOT_DARK, 0.2);
            iflow_panel_line(p, s.e, s.x, s.n, PLOT_DARK, 2.6, 0);
        }
        plot_series_free(&s);
    }
}

int plot_draw_binned(plot_ctx *c, iflow_figure *fig, iflow_box box) {
    iflow_csv *b = c->binned;
    if (!b || b->n_rows == 0) return -1;
    const double *ep, *lay, *h;
    iflow_csv_numbers(b, "epoch", &ep, NULL);
    iflow_csv_numbers(b, "layer", &lay, NULL);
    iflow_csv_numbers(b, "H_bin", &h, NULL);
    double layers[MAX_LAYERS];
    size_t nl = plot_layers(c, "binned.csv", lay, b->n_rows, layers);
    iflow_range rx = plot_epoch_range(ep, b->n_rows), ry;
    if (!(rx.lo <= rx.hi) || nl == 0) return -1;
    /* every (bin, noise) pair of the file: at most one per row */
    combo *cb = malloc(b->n_rows * sizeof *cb);
    const char **bins = malloc(b->n_rows * sizeof *bins);
    iflow_legend_entry *leg = malloc((b->n_rows + 1) * sizeof *leg);
    char(*names)[64] = malloc(b->n_rows * sizeof *names);
    if (!cb || !bins || !leg || !names) {
        free(cb), free(bins), free(leg), free(names);
        return -2;
    }
    size_t n_bins, n_cb = binned_combos(b, cb, &n_bins, bins);
    iflow_range_init(&ry, 0);
    for (size_t i = 0; i < b->n_rows; i++) iflow_range_add1(&ry, h[i] * c->unit);
    for (size_t i = 0; c->has_sp && i < c->mi->n_rows; i++)
        iflow_range_add1(&ry, c->ixt[i] * c->unit);
    iflow_range_add1(&ry, 0);
    size_t cells = nl + 1,
           rows = cells <= 3   ? 1
                  : cells <= 8 ? 2
                               : 3,
           cols = (cells + rows - 1) / rows;
    double *buf = malloc(2 * b->n_rows * sizeof *buf);
    size_t *idx = malloc(b->n_rows * sizeof *idx);
    if (!buf || !idx) {
        free(buf), free(idx), free(cb), free(bins), free(leg), free(names);
        return -2;
    }
    char yl[64];
    plot_ylabel(c, "information", yl, sizeof yl);
    for (size_t j = 0; j < nl; j++) {
        char title[64];
        snprintf(title, sizeof title, "layer %g", layers[j]);
        for (size_t q = 0; q < c->n_layers; q++)
            if (c->layers[q] == layers[j]) plot_layer_name(c, q, title, sizeof title);
        iflow_panel p;
        iflow_axis_set(&p.x, rx, 1, 0.02, "epoch");
        iflow_axis_set(&p.y, ry, 0, 0.05, yl);
        iflow_panel_init(
            &p, fig,
            iflow_box_cell(box, (int)rows, (int)cols, (int)(j / cols), (int)(j % cols), 24), title);
        binned_panel(c, &p, layers[j], cb, n_cb, bins, n_bins, buf, idx);
        iflow_panel_free(&p);
    }
    free(buf), free(idx);
    size_t n_leg = 0;
    if (c->has_sp)
        leg[n_leg++] =
            (iflow_legend_entry){"I(X;T), SP +-1 se", PLOT_DARK, 0, 2.6, IFLOW_MARK_NONE, 1};
    for (size_t q = 0; q < n_cb; q++) {
        snprintf(names[q], sizeof names[q], "H(Bin T), bin %s, %s", cb[q].bin, cb[q].noise);
        int clean = !strcmp(cb[q].noise, "clean");
        leg[n_leg++] = (iflow_legend_entry){
            names[q],        iflow_palette(bin_index(bins, n_bins, cb[q].bin) + 1),
            clean,           2.2,
            IFLOW_MARK_NONE, 0};
    }
    iflow_box lb =
        iflow_box_cell(box, (int)rows, (int)cols, (int)(nl / cols), (int)(nl % cols), 24);
    iflow_legend_box(fig, lb, leg, n_leg); /* cell nl is free: cells = nl + 1 */
    free(cb), free(bins), free(leg), free(names);
    return 0;
}

/* ---- activation histograms ---- */

/* Heat map of one layer: columns at the positive epochs (edges at geometric midpoints, so
 * they tile the log axis), rows at the histogram bins, colour = log10 density. */
static void act_panel(plot_ctx *c, iflow_panel *p, double l, double dlo, double dhi, size_t *idx) {
    iflow_csv *a = c->acts;
    const double *ep, *lay, *lo, *hi, *d;
    iflow_csv_numbers(a, "epoch", &ep, NULL), iflow_csv_numbers(a, "layer", &lay, NULL);
    iflow_csv_numbers(a, "lo", &lo, NULL), iflow_csv_numbers(a, "hi", &hi, NULL);
    iflow_csv_numbers(a, "density", &d, NULL);
    size_t k = plot_layer_rows(lay, ep, a->n_rows, l, idx), n_all, ne = 0;
    double *eps = plot_epochs_of(ep, idx, k, &n_all); /* every epoch of the layer, sorted */
    for (size_t i = 0; i < n_all; i++)
        if (eps[i] > 0) eps[ne++] = eps[i]; /* the positive ones: a log axis */
    if (ne == 0) {
        free(eps);
        return;
    }
    size_t e = 0;
    for (size_t i = 0; i < k; i++) {
        size_t r = idx[i];
        if (!(ep[r] > 0) || !(d[r] > 0)) continue;
        while (e + 1 < ne && eps[e] < ep[r]) e++;
        double left =
            /* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult): a row with ep > 0
               put eps[0] in */
            e > 0 ? sqrt(eps[e - 1] * eps[e]) : eps[e] / (ne > 1 ? sqrt(eps[1] / eps[0]) : 2);
        double right = e + 1 < ne ? sqrt(eps[e] * eps[e + 1])
                                  : eps[e] * (ne > 1 ? sqrt(eps[e] / eps[e - 1]) : 2);
        iflow_panel_rect(p, left, right, lo[r], hi[r],
                         iflow_viridis(iflow_scale01(fmax(d[r], dlo), dlo, dhi, 1)));
    }
    free(eps);
}

int plot_draw_activations(plot_ctx *c, iflow_figure *fig, iflow_box box) {
    iflow_csv *a = c->acts;
    if (!a || a->n_rows == 0) return -1;
    const double *ep, *lay, *lo, *hi, *d;
    iflow_csv_numbers(a, "epoch", &ep, NULL), iflow_csv_numbers(a, "layer", &lay, NULL);
    iflow_csv_numbers(a, "lo", &lo, NULL), iflow_csv_numbers(a, "hi", &hi, NULL);
    iflow_csv_numbers(a, "density", &d, NULL);
    double layers[MAX_LAYERS];
    size_t nl = plot_layers(c, "activations.csv", lay, a->n_rows, layers);
    iflow_range rx = plot_epoch_range(ep, a->n_rows), rd = plot_epoch_range(d, a->n_rows);
    if (!(rx.lo <= rx.hi) || !(rd.lo <= rd.hi) || nl == 0) return -1;
    /* densities span decades (saturated units pile up at +-1): show 3 decades below the peak */
    double dhi = rd.hi, dlo = fmax(rd.lo, dhi * 1e-3);
    if (dlo >= dhi) dlo = dhi / 10;
    size_t *idx = malloc(a->n_rows * sizeof *idx);
    if (!idx) return -2;
    size_t rows = nl <= 3 ? 1 : nl <= 8 ? 2 : 3, cols = (nl + rows - 1) / rows;
    iflow_box grid = box;
    grid.w -= 150;
    iflow_panel p = {0};
    for (size_t j = 0; j < nl; j++) {
        iflow_range ry;
        iflow_range_init(&ry, 0);
        for (size_t i = 0; i < a->n_rows; i++)
            if (lay[i] == layers[j]) iflow_range_add1(&ry, lo[i]), iflow_range_add1(&ry, hi[i]);
        char title[64];
        snprintf(title, sizeof title, "layer %g", layers[j]);
        for (size_t q = 0; q < c->n_layers; q++)
            if (c->layers[q] == layers[j]) plot_layer_name(c, q, title, sizeof title);
        iflow_axis_set(&p.x, rx, 1, 0.0, "epoch");
        iflow_axis_set(&p.y, ry, 0, 0.0, "activation");
        iflow_panel_init(
            &p, fig,
            iflow_box_cell(grid, (int)rows, (int)cols, (int)(j / cols), (int)(j % cols), 24),
            title);
        act_panel(c, &p, layers[j], dlo, dhi, idx);
        iflow_panel_free(&p);
    }
    free(idx);
    iflow_colorbar(fig, (iflow_box){grid.x + grid.w + 30, box.y + 60, 110, box.h - 160}, dlo, dhi,
                   1, "density");
    return 0;
}

/* ---- scatter of narrow layers ---- */

/* Which layers (width 2 or 3, the first SC_LAYERS) and which <= 4 epochs (first, last and two
 * between) to show; a note names the narrow layers left out. */
int plot_scatter_plan(plot_ctx *c, scat_plan *sp) {
    iflow_csv *s = c->scatter;
    memset(sp, 0, sizeof *sp);
    if (!s || s->n_rows == 0) return -1;
    const double *ep, *lay, *u2, *u3;
    iflow_csv_numbers(s, "epoch", &ep, NULL), iflow_csv_numbers(s, "layer", &lay, NULL);
    iflow_csv_numbers(s, "u2", &u2, NULL), iflow_csv_numbers(s, "u3", &u3, NULL);
    double layers[MAX_LAYERS];
    size_t nl = plot_layers(c, "scatter.csv", lay, s->n_rows, layers), n_narrow = 0;
    size_t *idx = malloc(s->n_rows * sizeof *idx);
    if (!idx) return -1;
    char left_out[256] = "";
    for (size_t j = 0; j < nl; j++) {
        int w = 1;
        for (size_t i = 0; i < s->n_rows; i++)
            if (lay[i] == layers[j]) w = isfinite(u3[i]) ? 3 : isfinite(u2[i]) && w < 2 ? 2 : w;
        if (w < 2) continue;
        if (n_narrow++ >= SC_LAYERS) {
            size_t len = strlen(left_out);
            snprintf(left_out + len, sizeof left_out - len, "%s%g", len ? ", " : "", layers[j]);
            continue;
        }
        size_t ns, k = sp->n_layers;
        double *sorted =
            plot_epochs_of(ep, idx, plot_layer_rows(lay, ep, s->n_rows, layers[j], idx),
                           &ns); /* every epoch of this layer */
        size_t n_show = ns < 4 ? ns : 4;
        for (size_t q = 0; q < n_show; q++)
            sp->eps[k][q] =
                sorted[n_show > 1
                           ? (size_t)lround((double)q * (double)(ns - 1) / (double)(n_show - 1))
                           : 0];
        free(sorted);
        if (n_show == 0) continue;
        sp->layers[k] = layers[j], sp->width[k] = w, sp->n_ep[k] = n_show;
        sp->rows += w == 3 ? 3 : 1;
        sp->cols = sp->cols > n_show ? sp->cols : n_show;
        sp->n_layers++;
    }
    free(idx);
    if (n_narrow > SC_LAYERS)
        plot_note(
            c, "scatter.png: %zu layers of width 2 or 3, the first %d shown; left out: layer%s %s",
            n_narrow, SC_LAYERS, n_narrow - SC_LAYERS > 1 ? "s" : "", left_out);
    return sp->n_layers ? 0 : -1;
}

/* Legend entries for the labels of scatter.csv: one per colour (tab10, so labels 0 and 10 share
 * one), naming every label drawn in it ("y = 0, 10, 20"). */
static size_t label_legend(plot_ctx *c, iflow_legend_entry *leg, char (*names)[48]) {
    const double *lab;
    iflow_csv_numbers(c->scatter, "label", &lab, NULL);
    double labels[64];
    size_t n_lab = plot_distinct(lab, c->scatter->n_rows, labels, 64),
           shown = n_lab < 64 ? n_lab : 64;
    int other = 0; /* empty or negative labels, drawn in colour 9 */
    for (size_t i = 0; i < c->scatter->n_rows && !other; i++) other = !(lab[i] >= 0);
    size_t n = 0;
    for (size_t k = 0; k < 10; k++) {
        size_t len = 0;
        names[k][0] = '\0';
        for (size_t q = 0; q < shown; q++)
            if (labels[q] >= 0 && (size_t)labels[q] % 10 == k && len < 40)
                len += (size_t)snprintf(names[k] + len, 48 - len, "%s%g",
                                        len ? ", " : "y = ", labels[q]);
        if (k == 9 && other && len < 40)
            len += (size_t)snprintf(names[k] + len, 48 - len, "%sno label", len ? ", " : "");
        if (!len) continue;
        if (len >= 40 || (k == 9 && n_lab > shown))
            snprintf(names[k] + (len < 40 ? len : 40), 8, ", ...");
        leg[n++] = (iflow_legend_entry){names[k], iflow_palette(k), 0, 0, IFLOW_MARK_CIRCLE, 0};
    }
    return n;
}

/* One panel: coordinates (u_a, u_b) of layer l at epoch e, coloured by label. */
void plot_scatter_panel(plot_ctx *c, iflow_figure *fig, iflow_box box, double l, double e, int ua,
                        int ub, int legend) {
    iflow_csv *s = c->scatter;
    const double *ep, *lay, *lab, *u[3];
    iflow_csv_numbers(s, "epoch", &ep, NULL), iflow_csv_numbers(s, "layer", &lay, NULL);
    iflow_csv_numbers(s, "label", &lab, NULL), iflow_csv_numbers(s, "u1", &u[0], NULL);
    iflow_csv_numbers(s, "u2", &u[1], NULL), iflow_csv_numbers(s, "u3", &u[2], NULL);
    iflow_range rx, ry; /* shared by all epochs of the layer so motion is visible */
    iflow_range_init(&rx, 0), iflow_range_init(&ry, 0);
    for (size_t i = 0; i < s->n_rows; i++)
        if (lay[i] == l) iflow_range_add1(&rx, u[ua][i]), iflow_range_add1(&ry, u[ub][i]);
    char lx[16], ly[16], title[96], names[10][48];
    snprintf(lx, sizeof lx, "u%d", ua + 1), snprintf(ly, sizeof ly, "u%d", ub + 1);
    snprintf(title, sizeof title, "layer %g", l);
    for (size_t q = 0; q < c->n_layers; q++)
        if (c->layers[q] == l) plot_layer_name(c, q, title, sizeof title);
    snprintf(title + strlen(title), sizeof title - strlen(title), ", epoch %g", e);
    iflow_panel p;
    iflow_axis_set(&p.x, rx, 0, 0.05, lx);
    iflow_axis_set(&p.y, ry, 0, 0.05, ly);
    iflow_panel_init(&p, fig, box, title);
    for (size_t i = 0; i < s->n_rows; i++) {
        if (lay[i] != l || ep[i] != e) continue;
        size_t k = isfinite(lab[i]) && lab[i] >= 0 ? (size_t)lab[i] % 10 : 9;
        iflow_panel_marker(&p, u[ua][i], u[ub][i], IFLOW_MARK_CIRCLE, 7, iflow_palette(k),
                           iflow_palette(k));
    }
    iflow_legend_entry leg[10];
    if (legend) iflow_panel_legend(&p, leg, label_legend(c, leg, names));
    iflow_panel_free(&p);
}

/* The pairs of units a layer's panels show: (u1, u2), and (u1, u3), (u2, u3) when 3 wide. */
static const int PAIRS[3][2] = {{0, 1}, {0, 2}, {1, 2}};

void plot_draw_scatter_last(plot_ctx *c, iflow_figure *fig, iflow_box box, const scat_plan *sp) {
    size_t k = sp->n_ep[0] - 1;
    int n_pairs = sp->width[0] == 3 ? 3 : 1;
    for (int q = 0; q < n_pairs; q++)
        plot_scatter_panel(c, fig, iflow_box_cell(box, 1, n_pairs, 0, q, 30), sp->layers[0],
                           sp->eps[0][k], PAIRS[q][0], PAIRS[q][1], q == 0);
}

int plot_draw_scatter(plot_ctx *c, iflow_figure *fig, iflow_box box, const scat_plan *sp) {
    iflow_legend_entry leg[10];
    char names[10][48];
    iflow_legend_box(fig, (iflow_box){box.x, box.y, box.w, 30}, leg, label_legend(c, leg, names));
    box.y += 40, box.h -= 40;
    size_t row = 0;
    for (size_t j = 0; j < sp->n_layers; j++) {
        int n_pairs = sp->width[j] == 3 ? 3 : 1;
        for (int q = 0; q < n_pairs; q++, row++)
            for (size_t k = 0; k < sp->n_ep[j]; k++)
                plot_scatter_panel(
                    c, fig, iflow_box_cell(box, (int)sp->rows, (int)sp->cols, (int)row, (int)k, 20),
                    sp->layers[j], sp->eps[j][k], PAIRS[q][0], PAIRS[q][1], 0);
    }
    return 0;
}
