/* Figures of the clustering measures (cluster.h): clustering.png, each measure against epoch
 * per layer, and cosine_hist.png, the within- and between-class cosine histograms per layer at
 * the epochs cosine_hist.csv holds (docs/FORMATS.md). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io.h"
#include "plot_figures.h"

/* Reads run_dir/name into *out (NULL if the file does not exist), checking the columns. */
static int load_csv(plot_ctx *c, const char *name, const char *const *cols, iflow_csv **out,
                    iflow_error *err) {
    char path[1100];
    struct stat st;
    *out = NULL;
    int rc = iflow_path_join(path, sizeof path, c->run_dir, name, err);
    if (rc || (stat(path, &st) != 0 && errno == ENOENT)) return rc;
    rc = iflow_csv_read(path, out, err);
    for (size_t i = 0; !rc && cols[i]; i++) {
        const double *v;
        rc = iflow_csv_numbers(*out, cols[i], &v, err);
    }
    if (rc) {
        iflow_csv_free(*out);
        *out = NULL;
    }
    return rc;
}

static int new_figure(plot_ctx *c, iflow_figure *fig, const char *what, int w, int h,
                      iflow_box *body, iflow_error *err) {
    int rc = iflow_fig_new(fig, w, h, err);
    if (rc) return rc;
    char title[400];
    snprintf(title, sizeof title, "%s  -  %s", what, c->run_name);
    double top = iflow_fig_title(fig, (iflow_box){0, 0, w, h}, title, 28);
    *body = (iflow_box){20, top + 10, w - 40, h - top - 30};
    return 0;
}

/* "layer 3, width 32" from the rows' width column. */
static void layer_name(double l, const double *lay, const double *width, size_t n, char *buf,
                       size_t size) {
    for (size_t i = 0; i < n; i++)
        if (lay[i] == l && isfinite(width[i])) {
            snprintf(buf, size, "layer %g, width %g", l, width[i]);
            return;
        }
    snprintf(buf, size, "layer %g", l);
}

static const char *const MEASURES[4] = {"cos_within", "cos_between", "silhouette", "knn_agreement"};
static const char *const MEASURE_TITLE[4] = {
    "mean cosine similarity, same class", "mean cosine similarity, different classes",
    "silhouette of the class partition (Euclidean)", "k-NN class agreement"};
static const char *const MEASURE_AXIS[4] = {"cosine, same class", "cosine, other classes",
                                            "silhouette", "fraction of neighbours in class"};
#define KNN 3 /* index of knn_agreement */

/* One measure against epoch, a line per layer. */
static void measure_panel(plot_ctx *c, iflow_figure *fig, iflow_box box, iflow_csv *f, int m,
                          const double *layers, size_t nl, size_t *idx, int legend) {
    const double *ep, *lay, *w, *v;
    iflow_csv_numbers(f, "epoch", &ep, NULL), iflow_csv_numbers(f, "layer", &lay, NULL);
    iflow_csv_numbers(f, "width", &w, NULL), iflow_csv_numbers(f, MEASURES[m], &v, NULL);
    iflow_range rx = plot_epoch_range(ep, f->n_rows), ry;
    int logx = rx.hi >= 20 && rx.lo <= rx.hi;
    if (!logx) iflow_range_init(&rx, 0), iflow_range_add(&rx, ep, f->n_rows);
    iflow_range_init(&ry, 0);
    for (size_t i = 0; i < f->n_rows; i++)
        if (!logx || ep[i] > 0) iflow_range_add1(&ry, v[i]);
    double chance = m == KNN ? c->knn_chance : NAN;
    if (isfinite(chance)) iflow_range_add1(&ry, chance);
    iflow_panel p;
    iflow_axis_set(&p.x, rx, logx, 0.02, "epoch");
    iflow_axis_set(&p.y, ry, 0, 0.05, MEASURE_AXIS[m]);
    iflow_panel_init(&p, fig, box, MEASURE_TITLE[m]);
    if (isfinite(chance)) {
        char label[128];
        snprintf(label, sizeof label, "chance %.3g (%s)", chance, c->knn_chance_of);
        iflow_panel_hline(&p, chance, PLOT_REF, label);
    } else if (m == KNN) {
        plot_note(c, "clustering.png: no chance level for k-NN agreement (info.csv has no "
                     "knn_chance or classes, and there is no scatter.csv)");
    }
    iflow_legend_entry leg[MAX_LAYERS];
    char names[MAX_LAYERS][48];
    double *x = malloc(2 * f->n_rows * sizeof *x);
    for (size_t j = 0; x && j < nl; j++) {
        size_t k = plot_layer_rows(lay, ep, f->n_rows, layers[j], idx);
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): k <= n_rows: no write when n_rows is 0 */
        for (size_t i = 0; i < k; i++) x[i] = ep[idx[i]], x[f->n_rows + i] = v[idx[i]];
        iflow_panel_line(&p, x, x + f->n_rows, k, iflow_palette(j), 2.2, 0);
        for (size_t i = 0; i < k; i++)
            iflow_panel_marker(&p, x[i], x[f->n_rows + i], PLOT_MARKS[j % 4], 9, iflow_palette(j),
                               iflow_palette(j));
        layer_name(layers[j], lay, w, f->n_rows, names[j], sizeof names[j]);
        leg[j] = (iflow_legend_entry){names[j], iflow_palette(j), 0, 2.2, PLOT_MARKS[j % 4], 0};
    }
    free(x);
    if (legend) iflow_panel_legend(&p, leg, nl);
    iflow_panel_free(&p);
}

int plot_draw_clustering(plot_ctx *c, iflow_csv *f, iflow_figure *fig, iflow_box body) {
    const double *lay;
    iflow_csv_numbers(f, "layer", &lay, NULL);
    double layers[MAX_LAYERS];
    size_t nl = plot_layers(c, "clustering.csv", lay, f->n_rows, layers);
    size_t *idx = malloc(f->n_rows * sizeof *idx);
    if (!idx) return -2;
    for (int m = 0; m < 4; m++)
        measure_panel(c, fig, iflow_box_cell(body, 2, 2, m / 2, m % 2, 40), f, m, layers, nl, idx,
                      m == 0);
    free(idx);
    return 0;
}

static int clustering_png(plot_ctx *c, iflow_csv *f, iflow_error *err) {
    iflow_figure fig;
    iflow_box body;
    int rc =
        new_figure(c, &fig, "Clustering of the representations by class", 1600, 1100, &body, err);
    if (rc) return rc;
    if (plot_draw_clustering(c, f, &fig, body) != 0)
        rc = iflow_error_set(err, IFLOW_ENOMEM, "clustering.png: out of memory");
    if (!rc) rc = plot_save(c, &fig, "clustering.png", err);
    iflow_fig_free(&fig);
    return rc;
}

/* Layer l's histograms: one line per epoch (viridis by epoch), within solid, between dashed. */
static void hist_panel(iflow_figure *fig, iflow_box box, iflow_csv *f, double l, const char *title,
                       const double *eps, size_t ne, int legend) {
    const double *ep, *lay, *lo, *hi, *fr;
    iflow_csv_numbers(f, "epoch", &ep, NULL), iflow_csv_numbers(f, "layer", &lay, NULL);
    iflow_csv_numbers(f, "lo", &lo, NULL), iflow_csv_numbers(f, "hi", &hi, NULL);
    iflow_csv_numbers(f, "fraction", &fr, NULL);
    int pc = iflow_csv_find(f, "pairs");
    iflow_range rx, ry;
    iflow_range_init(&rx, 0), iflow_range_init(&ry, 0);
    iflow_range_add1(&rx, -1), iflow_range_add1(&rx, 1), iflow_range_add1(&ry, 0);
    for (size_t i = 0; i < f->n_rows; i++)
        if (lay[i] == l) iflow_range_add1(&ry, fr[i]);
    iflow_panel p;
    iflow_axis_set(&p.x, rx, 0, 0.0, "cosine similarity");
    iflow_axis_set(&p.y, ry, 0, 0.05, "fraction of pairs");
    iflow_panel_init(&p, fig, box, title);
    double *x = malloc(2 * f->n_rows * sizeof *x);
    iflow_legend_entry leg[2 * 8];
    char names[2 * 8][48];
    size_t n_leg = 0;
    for (size_t e = 0; x && e < ne; e++) {
        iflow_rgb col = iflow_viridis(ne > 1 ? 0.9 * (double)e / (double)(ne - 1) : 0.0);
        for (int which = 0; which < 2; which++) {
            const char *kind = which ? "between" : "within";
            size_t k = 0;
            for (size_t i = 0; i < f->n_rows; i++)
                if (lay[i] == l && ep[i] == eps[e] && !strcmp(iflow_csv_str(f, i, pc), kind))
                    x[k] = 0.5 * (lo[i] + hi[i]), x[f->n_rows + k++] = fr[i];
            iflow_panel_line(&p, x, x + f->n_rows, k, col, 2.2, which);
            if (n_leg < 16) {
                snprintf(names[n_leg], sizeof names[n_leg], "epoch %g, %s", eps[e], kind);
                leg[n_leg] =
                    (iflow_legend_entry){names[n_leg], col, which, 2.2, IFLOW_MARK_NONE, 0};
                n_leg++;
            }
        }
    }
    free(x);
    if (legend) iflow_panel_legend(&p, leg, n_leg);
    iflow_panel_free(&p);
}

/* The epochs of cosine_hist.csv shown: all of them up to COS_EPOCHS, else COS_EPOCHS spread from
 * the first to the last, with a note naming how many were left out. */
#define COS_EPOCHS 8

static size_t cosine_epochs(plot_ctx *c, const double *ep, size_t n, double *out) {
    size_t all;
    double *e = plot_epochs_of(ep, NULL, n, &all);
    if (!e) return 0;
    size_t k = all < COS_EPOCHS ? all : COS_EPOCHS;
    for (size_t q = 0; q < k; q++)
        out[q] = e[k > 1 ? (size_t)lround((double)q * (double)(all - 1) / (double)(k - 1)) : 0];
    if (all > k)
        plot_note(c,
                  "cosine_hist.png: %zu epochs in cosine_hist.csv, %d shown from %g to %g, %zu "
                  "left out",
                  all, COS_EPOCHS, out[0], out[k - 1], all - k);
    free(e);
    return k;
}

static int cosine_png(plot_ctx *c, iflow_csv *f, const iflow_csv *cl, iflow_error *err) {
    const double *lay, *ep, *cl_lay = NULL, *cl_w = NULL;
    iflow_csv_numbers(f, "layer", &lay, NULL), iflow_csv_numbers(f, "epoch", &ep, NULL);
    if (cl) {
        iflow_csv_numbers((iflow_csv *)cl, "layer", &cl_lay, NULL);
        iflow_csv_numbers((iflow_csv *)cl, "width", &cl_w, NULL);
    }
    double layers[MAX_LAYERS], eps[COS_EPOCHS];
    size_t nl = plot_layers(c, "cosine_hist.csv", lay, f->n_rows, layers);
    size_t ne = cosine_epochs(c, ep, f->n_rows, eps);
    if (nl == 0 || ne == 0) return 0;
    size_t rows = nl <= 3 ? 1 : nl <= 8 ? 2 : 3, cols = (nl + rows - 1) / rows;
    iflow_figure fig;
    iflow_box body;
    int rc = new_figure(c, &fig, "Cosine similarity of representations, within / between classes",
                        1600, rows == 1 ? 700 : 1100, &body, err);
    if (rc) return rc;
    for (size_t j = 0; j < nl; j++) {
        char title[64];
        if (cl)
            layer_name(layers[j], cl_lay, cl_w, cl->n_rows, title, sizeof title);
        else
            snprintf(title, sizeof title, "layer %g", layers[j]);
        hist_panel(&fig,
                   iflow_box_cell(body, (int)rows, (int)cols, (int)(j / cols), (int)(j % cols), 30),
                   f, layers[j], title, eps, ne, j == 0);
    }
    rc = plot_save(c, &fig, "cosine_hist.png", err);
    iflow_fig_free(&fig);
    return rc;
}

int plot_cluster_figures(plot_ctx *c, iflow_error *err) {
    static const char *const cl_cols[] = {"epoch",         "layer",       "width",
                                          "cos_within",    "cos_between", "silhouette",
                                          "knn_agreement", NULL};
    static const char *const h_cols[] = {"epoch", "layer", "lo", "hi", "fraction", NULL};
    iflow_csv *cl = NULL, *h = NULL;
    int rc = load_csv(c, "clustering.csv", cl_cols, &cl, err);
    if (!rc) rc = load_csv(c, "cosine_hist.csv", h_cols, &h, err);
    if (!rc && h && iflow_csv_find(h, "pairs") < 0)
        rc = iflow_error_set(err, IFLOW_EPARSE, "cosine_hist.csv:1: missing column 'pairs'");
    if (!rc && cl && cl->n_rows) rc = clustering_png(c, cl, err);
    if (!rc && h && h->n_rows) rc = cosine_png(c, h, cl, err);
    iflow_csv_free(cl);
    iflow_csv_free(h);
    return rc;
}
