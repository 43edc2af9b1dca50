/* The information figures (information plane, I(X;T) and I(Y;T) against epoch, also from the
 * k-sliced columns) and loss/accuracy. */
#include "plot_figures.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- information plane ---- */

/* Layers j < k coincide in a panel when at least half of the epochs both measured put their
 * points (x, y) within COINCIDE_PX pixels of each other (e.g. both saturated at (ln m, H(Y))). */
#define COINCIDE_PX 6.0

static int coincide(const iflow_panel *p, const series *a, const series *b) {
    size_t both = 0, close = 0;
    for (size_t i = 0; i < a->n; i++)
        for (size_t q = 0; q < b->n; q++) {
            double ax, ay, bx, by;
            if (b->e[q] != a->e[i] || iflow_panel_px(p, a->x[i], a->y[i], &ax, &ay) != 0 ||
                iflow_panel_px(p, b->x[q], b->y[q], &bx, &by) != 0)
                continue;
            both++;
            close += hypot(ax - bx, ay - by) < COINCIDE_PX;
        }
    return both && 2 * close >= both;
}

/* under[j]: how many later layers coincide with layer j. */
static void coinciding(const plot_ctx *c, const iflow_panel *p, const series *s, size_t *under) {
    for (size_t j = 0; j < c->n_layers; j++) {
        under[j] = 0;
        for (size_t k = j + 1; k < c->n_layers; k++)
            under[j] += coincide(p, &s[j], &s[k]) ? 1u : 0u;
    }
}

/* "layers 1-2 coincide" (or "layers 1, 3, 4 coincide") for each group of coinciding layers, as a
 * legend line (text only) in leg[0..) with its text in names[0..), and as a note for the caller;
 * returns the number of lines. */
static size_t coinciding_notes(plot_ctx *c, const iflow_panel *p, const series *s,
                               iflow_legend_entry *leg, char (*names)[48]) {
    size_t n_lines = 0;
    int done[MAX_LAYERS] = {0};
    for (size_t j = 0; j < c->n_layers; j++) {
        if (done[j]) continue;
        size_t group[MAX_LAYERS], n = 0;
        group[n++] = j;
        for (size_t k = j + 1; k < c->n_layers; k++)
            if (!done[k] && coincide(p, &s[j], &s[k])) group[n++] = k, done[k] = 1;
        if (n < 2) continue;
        char *text = names[n_lines];
        size_t size = sizeof names[n_lines];
        int run = group[n - 1] - group[0] == n - 1 &&
                  c->layers[group[n - 1]] - c->layers[group[0]] == (double)(n - 1);
        if (run) {
            snprintf(text, size, "layers %g-%g coincide", c->layers[group[0]],
                     c->layers[group[n - 1]]);
        } else {
            size_t len = (size_t)snprintf(text, size, "layers %g", c->layers[group[0]]);
            for (size_t q = 1; q < n && len < size; q++)
                len += (size_t)snprintf(text + len, size - len, ", %g", c->layers[group[q]]);
            if (len < size) snprintf(text + len, size - len, " coincide");
        }
        leg[n_lines++] = (iflow_legend_entry){text, PLOT_DARK, 0, 0, IFLOW_MARK_NONE, 0};
        plot_note(c, "%s: %s (drawn as rings around one another)",
                  c->fig_name ? c->fig_name : "info plane", text);
    }
    return n_lines;
}

/* I(Y;T) against I(X;T), one curve per layer, markers coloured by epoch on a log scale. */
int plot_draw_info_plane(plot_ctx *c, iflow_figure *fig, iflow_box box) {
    if (!c->mi || !c->has_sp) return -1;
    iflow_range rx, ry, re;
    iflow_range_init(&rx, 0), iflow_range_init(&ry, 0);
    re = plot_epoch_range(c->ep, c->mi->n_rows);
    for (size_t i = 0; i < c->mi->n_rows; i++) {
        double se_x = isfinite(c->ixt_se[i]) ? c->ixt_se[i] : 0;
        double se_y = isfinite(c->iyt_se[i]) ? c->iyt_se[i] : 0;
        iflow_range_add1(&rx, (c->ixt[i] - se_x) * c->unit),
            iflow_range_add1(&rx, (c->ixt[i] + se_x) * c->unit);
        iflow_range_add1(&ry, (c->iyt[i] - se_y) * c->unit),
            iflow_range_add1(&ry, (c->iyt[i] + se_y) * c->unit);
    }
    double lnm = c->ln_m * c->unit, hy = c->h_y * c->unit;
    if (lnm <= 1.3 * rx.hi) iflow_range_add1(&rx, lnm); /* the bound, when it is in view */
    if (hy <= 1.3 * ry.hi) iflow_range_add1(&ry, hy);
    if (!(re.lo <= re.hi)) re.lo = re.hi = 1;
    if (re.hi <= re.lo) re.hi = re.lo * 10;
    char lx[64], ly[64];
    plot_ylabel(c, c->sliced_view ? "I_k(X;T)" : "I(X;T)", lx, sizeof lx);
    plot_ylabel(c, c->sliced_view ? "I_k(Y;T)" : "I(Y;T)", ly, sizeof ly);
    iflow_panel p;
    iflow_axis_set(&p.x, rx, 0, 0.05, lx);
    iflow_axis_set(&p.y, ry, 0, 0.05, ly);
    iflow_box pb = box;
    pb.w -= 140;
    char title[160];
    if (c->repeats)
        snprintf(title, sizeof title,
                 "I(Y;T) vs I(X;T), mean +-1 sd over %d seeds, markers "
                 "coloured by epoch",
                 c->repeats);
    else
        snprintf(title, sizeof title, "I(Y;T) vs I(X;T), +-1 se, markers coloured by epoch");
    if (c->sliced_view)
        snprintf(title, sizeof title,
                 "%s: I_k(Y;T) vs I_k(X;T), +-1 se, markers coloured by "
                 "epoch",
                 c->sliced_label);
    iflow_panel_init(&p, fig, pb, title);
    iflow_panel_vline(&p, lnm, PLOT_REF, c->unit == 1 ? "ln m" : "log2 m");
    iflow_panel_hline(&p, hy, PLOT_REF, "H(Y)");
    series s[MAX_LAYERS];
    for (size_t j = 0; j < c->n_layers; j++)
        if (plot_mi_series(c, j, &s[j]) != 0) s[j].n = 0;
    size_t under[MAX_LAYERS]; /* later layers whose markers would cover layer j's */
    coinciding(c, &p, s, under);
    iflow_legend_entry leg[2 * MAX_LAYERS];
    char names[2 * MAX_LAYERS][48];
    for (size_t j = 0; j < c->n_layers; j++) {
        /* a covered layer gets wider lines and larger markers: it shows as a ring around the
         * layers drawn over it */
        iflow_rgb col = iflow_palette(j);
        double grow = (double)under[j];
        iflow_panel_line(&p, s[j].x, s[j].y, s[j].n, col, 2 + 2 * grow, 0);
        for (size_t i = 0; i < s[j].n; i++)
            iflow_panel_errorbar(&p, s[j].x[i], s[j].y[i], s[j].xse[i], s[j].yse[i], col);
        for (size_t i = 0; i < s[j].n; i++) {
            double t = iflow_scale01(fmax(s[j].e[i], re.lo), re.lo, re.hi, 1);
            iflow_panel_marker(&p, s[j].x[i], s[j].y[i], PLOT_MARKS[j % 4], 14 + 7 * grow,
                               iflow_viridis(t), col);
        }
        plot_layer_name(c, j, names[j], sizeof names[j]);
        leg[j] = (iflow_legend_entry){names[j], iflow_palette(j), 0, 2, PLOT_MARKS[j % 4], 0};
    }
    size_t n_leg = c->n_layers + coinciding_notes(c, &p, s, leg + c->n_layers, names + c->n_layers);
    for (size_t j = 0; j < c->n_layers; j++) plot_series_free(&s[j]);
    iflow_panel_legend(&p, leg, n_leg);
    iflow_colorbar(fig, (iflow_box){pb.x + pb.w + 30, p.area.y, 110, p.area.h}, re.lo, re.hi, 1,
                   "epoch");
    iflow_panel_free(&p);
    return 0;
}

/* ---- MI against epoch ---- */

/* One panel: I(X;T_l) (which = 0) or I(Y;T_l) (which = 1) against epoch, +-1 se bands. */
static void mi_panel(plot_ctx *c, iflow_figure *fig, iflow_box box, int which, int legend) {
    const double *v = which ? c->iyt : c->ixt, *se = which ? c->iyt_se : c->ixt_se;
    double bound = (which ? c->h_y : c->ln_m) * c->unit;
    iflow_range rx = plot_epoch_range(c->ep, c->mi->n_rows), ry;
    iflow_range_init(&ry, 0);
    for (size_t i = 0; i < c->mi->n_rows; i++) {
        if (!(c->ep[i] > 0)) continue;
        double s = isfinite(se[i]) ? se[i] : 0;
        iflow_range_add1(&ry, (v[i] - s) * c->unit), iflow_range_add1(&ry, (v[i] + s) * c->unit);
    }
    if (bound <= 1.3 * ry.hi) iflow_range_add1(&ry, bound);
    char lx[64];
    plot_ylabel(c,
                which ? (c->sliced_view ? "I_k(Y;T)" : "I(Y;T)")
                      : (c->sliced_view ? "I_k(X;T)" : "I(X;T)"),
                lx, sizeof lx);
    iflow_panel p;
    iflow_axis_set(&p.x, rx, 1, 0.02, "epoch");
    iflow_axis_set(&p.y, ry, 0, 0.05, lx);
    char title[160];
    snprintf(title, sizeof title, "%s by layer", which ? "I(Y; T_l)" : "I(X; T_l)");
    if (c->sliced_view)
        snprintf(title, sizeof title, "%s, %s", which ? "I_k(Y; T_l)" : "I_k(X; T_l)",
                 c->sliced_label);
    if (c->repeats)
        snprintf(title + strlen(title), sizeof title - strlen(title), ", mean +-1 sd over %d seeds",
                 c->repeats);
    iflow_panel_init(&p, fig, box, title);
    iflow_panel_hline(&p, bound, PLOT_REF, which ? "H(Y)" : c->unit == 1 ? "ln m" : "log2 m");
    series s[MAX_LAYERS], view[MAX_LAYERS]; /* view: (epoch, value) of this panel */
    for (size_t j = 0; j < c->n_layers; j++) {
        if (plot_mi_series(c, j, &s[j]) != 0) s[j].n = 0;
        view[j] = (series){.n = s[j].n, .e = s[j].e, .x = s[j].e, .y = which ? s[j].y : s[j].x};
    }
    size_t under[MAX_LAYERS]; /* as on the information plane: covered layers drawn larger */
    coinciding(c, &p, view, under);
    iflow_legend_entry leg[2 * MAX_LAYERS];
    char names[2 * MAX_LAYERS][48];
    for (size_t j = 0; j < c->n_layers; j++) {
        double *m = view[j].y, *sd = which ? s[j].yse : s[j].xse, grow = (double)under[j];
        for (size_t i = 0; i < s[j].n; i++) s[j].lo[i] = m[i] - sd[i], s[j].hi[i] = m[i] + sd[i];
        iflow_panel_band(&p, s[j].e, s[j].lo, s[j].hi, s[j].n, iflow_palette(j), 0.25);
        iflow_panel_line(&p, s[j].e, m, s[j].n, iflow_palette(j), 2.2 + 2 * grow, 0);
        for (size_t i = 0; i < s[j].n; i++) /* the measured epochs */
            iflow_panel_marker(&p, s[j].e[i], m[i], PLOT_MARKS[j % 4], 9 + 6 * grow,
                               iflow_palette(j), iflow_palette(j));
        plot_layer_name(c, j, names[j], sizeof names[j]);
        leg[j] = (iflow_legend_entry){names[j], iflow_palette(j), 0, 2.2, PLOT_MARKS[j % 4], 0};
    }
    size_t n_lines = coinciding_notes(c, &p, view, leg + c->n_layers, names + c->n_layers);
    for (size_t j = 0; j < c->n_layers; j++) plot_series_free(&s[j]);
    if (legend)
        iflow_panel_legend(&p, leg, c->n_layers + n_lines);
    else
        iflow_panel_legend(&p, leg + c->n_layers, n_lines); /* only what coincides here */
    iflow_panel_free(&p);
}

int plot_draw_mi_epochs(plot_ctx *c, iflow_figure *fig, iflow_box box) {
    if (!c->mi || !c->has_sp) return -1;
    iflow_range rx = plot_epoch_range(c->ep, c->mi->n_rows);
    if (!(rx.lo <= rx.hi)) return -1;
    mi_panel(c, fig, iflow_box_cell(box, 1, 2, 0, 0, 30), 0, 1);
    mi_panel(c, fig, iflow_box_cell(box, 1, 2, 0, 1, 30), 1, 0);
    return 0;
}

/* ---- loss and accuracy ---- */

int plot_draw_loss_acc(plot_ctx *c, iflow_figure *fig, iflow_box box) {
    if (!c->metrics || c->metrics->n_rows == 0) return -1;
    iflow_csv *m = c->metrics;
    static const char *const cols[2][4] = {
        {"train_loss", "train_loss_clean", "test_loss", "test_loss_clean"},
        {"train_acc", "train_acc_clean", "test_acc", "test_acc_clean"}};
    static const char *const names[4] = {"train (noisy)", "train (clean)", "test (noisy)",
                                         "test (clean)"};
    const double *ep;
    iflow_csv_numbers(m, "epoch", &ep, NULL);
    iflow_range rx = plot_epoch_range(ep, m->n_rows);
    int logx = rx.hi >= 20; /* long runs: the early epochs matter, as in the MI plots */
    if (!logx) iflow_range_init(&rx, 0), iflow_range_add(&rx, ep, m->n_rows);
    for (int k = 0; k < 2; k++) {
        const double *v[4];
        iflow_range ry;
        iflow_range_init(&ry, 0);
        for (int s = 0; s < 4; s++) {
            char col[64];
            snprintf(col, sizeof col, "%s%s", cols[k][s], c->msfx); /* "_mean" for repeats */
            if (iflow_csv_numbers_opt(m, col, &v[s], NULL) != 0) v[s] = NULL;
            for (size_t i = 0; v[s] && i < m->n_rows; i++)
                if (!logx || ep[i] > 0) iflow_range_add1(&ry, v[s][i]); /* only what is drawn */
        }
        iflow_panel p;
        iflow_axis_set(&p.x, rx, logx, 0.02, "epoch");
        iflow_axis_set(&p.y, ry, 0, 0.05, k ? "accuracy" : "cross-entropy loss (nats)");
        iflow_panel_init(&p, fig, iflow_box_cell(box, 1, 2, 0, k, 30), k ? "Accuracy" : "Loss");
        iflow_legend_entry leg[4];
        size_t n_leg = 0;
        for (int s = 0; s < 4; s++) {
            int has = 0;
            for (size_t i = 0; v[s] && i < m->n_rows; i++) has |= isfinite(v[s][i]);
            if (!has) continue;
            iflow_rgb col = iflow_palette((size_t)s / 2);
            iflow_panel_line(&p, ep, v[s], m->n_rows, col, 2.2, s % 2);
            leg[n_leg++] = (iflow_legend_entry){names[s], col, s % 2, 2.2, IFLOW_MARK_NONE, 0};
        }
        iflow_panel_legend(&p, leg, n_leg);
        iflow_panel_free(&p);
    }
    return 0;
}
