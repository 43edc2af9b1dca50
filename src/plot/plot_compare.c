/* One figure comparing I(X;T_l) against epoch from several mi.csv files of the same net (e.g.
 * estimated with resample = none and bootstrap): a panel per hidden layer, one curve per file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chart.h"
#include "csvread.h"
#include "infoflow/plot.h"

typedef struct cmp_file {
    iflow_csv *csv;
    const double *ep, *layer, *ixt, *se;
} cmp_file;

static int cmp_load(const char *path, cmp_file *f, iflow_error *err) {
    int rc = iflow_csv_read(path, &f->csv, err);
    if (!rc) rc = iflow_csv_numbers(f->csv, "epoch", &f->ep, err);
    if (!rc) rc = iflow_csv_numbers(f->csv, "layer", &f->layer, err);
    if (!rc) rc = iflow_csv_numbers(f->csv, "I_XT", &f->ixt, err);
    if (!rc) rc = iflow_csv_numbers(f->csv, "I_XT_se", &f->se, err);
    return rc;
}

/* Rows of layer l with a finite I_XT and epoch > 0 (log axis), in file order (by epoch). */
static size_t cmp_rows(const cmp_file *f, double l, double *e, double *v, double *lo, double *hi) {
    size_t n = 0;
    for (size_t i = 0; i < f->csv->n_rows; i++) {
        if (f->layer[i] != l || !(f->ep[i] > 0) || !isfinite(f->ixt[i])) continue;
        double s = isfinite(f->se[i]) ? f->se[i] : 0;
        e[n] = f->ep[i], v[n] = f->ixt[i], lo[n] = v[n] - s, hi[n] = v[n] + s;
        n++;
    }
    return n;
}

static void cmp_panel(iflow_figure *fig, iflow_box box, const cmp_file *f, size_t n_files, double l,
                      const iflow_plot_compare_options *opt, double *buf, size_t cap) {
    double *e = buf, *v = buf + cap, *lo = buf + 2 * cap, *hi = buf + 3 * cap;
    iflow_range rx, ry;
    iflow_range_init(&rx, 1);
    iflow_range_init(&ry, 0);
    for (size_t k = 0; k < n_files; k++) {
        size_t n = cmp_rows(&f[k], l, e, v, lo, hi);
        iflow_range_add(&rx, e, n);
        iflow_range_add(&ry, lo, n);
        iflow_range_add(&ry, hi, n);
    }
    for (size_t r = 0; r < opt->n_refs; r++) /* as run figures do with ln m */
        if (opt->refs[r] <= ry.hi + 0.3 * fabs(ry.hi)) iflow_range_add1(&ry, opt->refs[r]);
    iflow_panel p;
    iflow_axis_set(&p.x, rx, 1, 0.02, "epoch");
    iflow_axis_set(&p.y, ry, 0, 0.05, "I(X;T) (nats)");
    char title[64];
    snprintf(title, sizeof title, "layer %g", l);
    iflow_panel_init(&p, fig, box, title);
    for (size_t r = 0; r < opt->n_refs; r++)
        if (opt->refs[r] >= p.y.lo && opt->refs[r] <= p.y.hi)
            iflow_panel_hline(&p, opt->refs[r], iflow_palette(n_files + r), opt->ref_labels[r]);
    for (size_t k = 0; k < n_files; k++) {
        size_t n = cmp_rows(&f[k], l, e, v, lo, hi);
        iflow_panel_band(&p, e, lo, hi, n, iflow_palette(k), 0.25);
        iflow_panel_line(&p, e, v, n, iflow_palette(k), 2.2, 0);
    }
    iflow_panel_free(&p);
}

int iflow_plot_compare_mi(const char *const *csv_paths, const char *const *labels, size_t n_files,
                          const iflow_plot_compare_options *opt, const char *out_png,
                          iflow_error *err) {
    if (n_files < 1 || n_files > 6 || !opt || opt->n_refs > 4)
        return iflow_error_set(err, IFLOW_EINVAL, "compare: 1 to 6 files and at most 4 refs");
    cmp_file f[6] = {{0}};
    int rc = 0;
    size_t cap = 1;
    for (size_t k = 0; k < n_files && !rc; k++) {
        rc = cmp_load(csv_paths[k], &f[k], err);
        if (!rc && f[k].csv->n_rows > cap) cap = f[k].csv->n_rows;
    }
    /* every layer of the first file: at most one per row */
    double *layers = rc ? NULL : malloc((f[0].csv->n_rows + 1) * sizeof *layers);
    if (!rc && !layers) rc = iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
    size_t n_layers = 0;
    for (size_t i = 0; !rc && i < f[0].csv->n_rows; i++) { /* the first file's layers, in order */
        size_t j = 0;
        while (j < n_layers && layers[j] != f[0].layer[i]) j++;
        if (j == n_layers && isfinite(f[0].ixt[i])) layers[n_layers++] = f[0].layer[i];
    }
    if (!rc && n_layers == 0)
        rc = iflow_error_set(err, IFLOW_EINVAL, "%s: no layer with an I_XT value", csv_paths[0]);
    double *buf = rc ? NULL : malloc(4 * cap * sizeof *buf);
    if (!rc && !buf) rc = iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
    iflow_figure fig = {0};
    int cols = 3, rows = (int)(n_layers + 1 + 2) / 3; /* one spare cell for the legend */
    if (!rc) rc = iflow_fig_new(&fig, 1600, 60 + 460 * rows, err);
    if (!rc) {
        double top = iflow_fig_title(&fig, (iflow_box){0, 0, fig.width, fig.height},
                                     opt->title ? opt->title : "I(X;T_l) compared", 28);
        iflow_box body = {20, top + 10, fig.width - 40, fig.height - top - 30};
        for (size_t j = 0; j < n_layers; j++)
            cmp_panel(&fig, iflow_box_cell(body, rows, cols, (int)j / cols, (int)j % cols, 30), f,
                      n_files, layers[j], opt, buf, cap);
        iflow_legend_entry leg[10];
        size_t n_leg = 0;
        for (size_t k = 0; k < n_files; k++)
            leg[n_leg++] =
                (iflow_legend_entry){labels[k], iflow_palette(k), 0, 2.2, IFLOW_MARK_NONE, 1};
        for (size_t r = 0; r < opt->n_refs; r++)
            leg[n_leg++] = (iflow_legend_entry){
                opt->ref_labels[r], iflow_palette(n_files + r), 1, 1.0, IFLOW_MARK_NONE, 0};
        iflow_box cell =
            iflow_box_cell(body, rows, cols, (int)n_layers / cols, (int)n_layers % cols, 30);
        iflow_legend_box(&fig, cell, leg, n_leg);
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
