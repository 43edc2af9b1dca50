/* One figure comparing the clustering measures (clustering.csv) of several runs of the same net
 * against epoch: a row per measure (within- and between-class cosine, silhouette, k-NN class
 * agreement), a column per hidden layer, one curve per run (results/REPRODUCTION.md section 9). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "chart.h"
#include "csvread.h"
#include "infoflow/plot.h"

#define CC_MAX_FILES 6

static const char *const cc_cols[] = {"cos_within", "cos_between", "silhouette", "knn_agreement"};
static const char *const cc_names[] = {"within-class cosine", "between-class cosine", "silhouette",
                                       "k-NN class agreement"};
#define CC_MEASURES 4

typedef struct cc_file {
    iflow_csv *csv;
    const double *ep, *layer, *v[CC_MEASURES];
} cc_file;

static int cc_load(const char *path, cc_file *f, iflow_error *err) {
    int rc = iflow_csv_read(path, &f->csv, err);
    if (!rc) rc = iflow_csv_numbers(f->csv, "epoch", &f->ep, err);
    if (!rc) rc = iflow_csv_numbers(f->csv, "layer", &f->layer, err);
    for (int m = 0; m < CC_MEASURES && !rc; m++)
        rc = iflow_csv_numbers(f->csv, cc_cols[m], &f->v[m], err);
    return rc;
}

/* Rows of layer l (epoch, measure m), in file order (by epoch). */
static size_t cc_rows(const cc_file *f, double l, int m, double *e, double *v) {
    size_t n = 0;
    for (size_t i = 0; i < f->csv->n_rows; i++)
        if (f->layer[i] == l && isfinite(f->v[m][i])) e[n] = f->ep[i], v[n++] = f->v[m][i];
    return n;
}

static void cc_panel(iflow_figure *fig, iflow_box box, const cc_file *f, size_t n_files, double l,
                     int m, double *e, double *v) {
    iflow_range rx, ry;
    iflow_range_init(&rx, 0);
    iflow_range_init(&ry, 0);
    for (size_t k = 0; k < n_files; k++) {
        size_t n = cc_rows(&f[k], l, m, e, v);
        iflow_range_add(&rx, e, n);
        iflow_range_add(&ry, v, n);
    }
    iflow_panel p;
    iflow_axis_set(&p.x, rx, 0, 0.04, "epoch");
    iflow_axis_set(&p.y, ry, 0, 0.08, cc_names[m]);
    char title[64];
    snprintf(title, sizeof title, "layer %g: %s", l, cc_names[m]);
    iflow_panel_init(&p, fig, box, title);
    for (size_t k = 0; k < n_files; k++) {
        size_t n = cc_rows(&f[k], l, m, e, v);
        iflow_panel_line(&p, e, v, n, iflow_palette(k), 2.2, k % 2);
        for (size_t i = 0; i < n; i++)
            iflow_panel_marker(&p, e[i], v[i], IFLOW_MARK_CIRCLE, 6, iflow_palette(k),
                               iflow_palette(k));
    }
    iflow_panel_free(&p);
}

int iflow_plot_compare_cluster(const char *const *csv_paths, const char *const *labels,
                               size_t n_files, const char *title, const char *out_png,
                               iflow_error *err) {
    if (n_files < 1 || n_files > CC_MAX_FILES)
        return iflow_error_set(err, IFLOW_EINVAL, "compare: 1 to %d files", CC_MAX_FILES);
    cc_file f[CC_MAX_FILES] = {{0}};
    int rc = 0;
    size_t cap = 1;
    for (size_t k = 0; k < n_files && !rc; k++) {
        rc = cc_load(csv_paths[k], &f[k], err);
        if (!rc && f[k].csv->n_rows > cap) cap = f[k].csv->n_rows;
    }
    /* every layer of the first file: at most one per row */
    double *layers = rc ? NULL : malloc((f[0].csv->n_rows + 1) * sizeof *layers);
    if (!rc && !layers) rc = iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
    size_t n_layers = 0;
    for (size_t i = 0; !rc && i < f[0].csv->n_rows; i++) { /* the first file's layers, in order */
        size_t j = 0;
        while (j < n_layers && layers[j] != f[0].layer[i]) j++;
        if (j == n_layers) layers[n_layers++] = f[0].layer[i];
    }
    if (!rc && n_layers == 0) rc = iflow_error_set(err, IFLOW_EINVAL, "%s: no rows", csv_paths[0]);
    double *buf = rc ? NULL : malloc(2 * cap * sizeof *buf);
    if (!rc && !buf) rc = iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
    iflow_figure fig = {0};
    int cols = (int)n_layers, rows = CC_MEASURES;
    if (!rc) rc = iflow_fig_new(&fig, 80 + 520 * cols, 130 + 380 * rows, err);
    if (!rc) {
        double top = iflow_fig_title(&fig, (iflow_box){0, 0, fig.width, fig.height},
                                     title ? title : "clustering measures compared", 28);
        iflow_legend_entry leg[CC_MAX_FILES];
        for (size_t k = 0; k < n_files; k++)
            leg[k] = (iflow_legend_entry){labels[k], iflow_palette(k),  (int)(k % 2),
                                          2.2,       IFLOW_MARK_CIRCLE, 0};
        iflow_legend_box(&fig, (iflow_box){20, top, fig.width - 40, 60}, leg, n_files);
        iflow_box body = {20, top + 70, fig.width - 40, fig.height - top - 90};
        for (int m = 0; m < rows; m++)
            for (int j = 0; j < cols; j++)
                cc_panel(&fig, iflow_box_cell(body, rows, cols, m, j, 30), f, n_files, layers[j], m,
                         buf, buf + cap);
        char version[64];
        snprintf(version, sizeof version, "infoflow %s", IFLOW_VERSION);
        const char *keys[] = {"Software"}, *values[] = {version};
        rc = iflow_fig_write(&fig, out_png, 1, keys, values, 1, err);
    }
    iflow_fig_free(&fig);
    free(buf);
    free(layers);
    for (size_t k = 0; k < n_files; k++) iflow_csv_free(f[k].csv);
    return rc;
}
