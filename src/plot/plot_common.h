/* Internal to the plotting code: the state of one iflow_plot_run (plot_ctx), its loading and the
 * helpers every family of figures uses (plot_common.c). */
#ifndef IFLOW_PLOT_COMMON_H
#define IFLOW_PLOT_COMMON_H

#include <stddef.h>

#include "chart.h"
#include "csvread.h"

#define MAX_LAYERS 64

typedef struct plot_ctx {
    const char *run_dir, *out_dir;
    char run_name[256];
    double unit; /* multiplies nats: 1 or 1 / ln 2 */
    const char *unit_name;
    char *notes;
    size_t notes_size;
    int verbose, n_written;
    const char *keys[3], *values[3];
    size_t n_text;
    char version[64], hash[32];
    iflow_csv *metrics, *mi, *binned, *acts, *scatter, *info;
    double ln_m, h_y; /* from info.csv, NaN if absent (nats) */
    /* mi.csv columns and its layers */
    const double *ep, *layer, *width, *ixt, *ixt_se, *iyt, *iyt_se;
    size_t n_layers;
    double layers[MAX_LAYERS], widths[MAX_LAYERS];
    int has_sp; /* some finite I_XT: the net was noisy and SP ran */
    /* A `repeats` directory (mi-mean.csv and metrics-mean.csv from tools/aggregate, no mi.csv):
     * the columns above hold means and the "se" columns sds over this many seeds; 0 otherwise. */
    int repeats;
    const char *msfx; /* suffix of the metrics columns: "" or "_mean" */
    /* k-sliced columns of mi.csv (NULL in files without them) and the label of their figures;
     * sliced_view = 1 while those figures are drawn from them (ixt... point at them then). */
    const double *ixt_k, *ixt_k_se, *iyt_k, *iyt_k_se;
    int has_sliced, sliced_view;
    char sliced_label[96];
} plot_ctx;

extern const iflow_rgb PLOT_DARK, PLOT_REF;
extern const iflow_marker PLOT_MARKS[4];

/* Series buffers for one layer of mi.csv. */
typedef struct series {
    size_t n;
    double *e, *x, *xse, *y, *yse, *lo, *hi;
    size_t *idx;
} series;

/* Fills s with layer j's rows of mi.csv (information scaled to the plot's unit); -1 if out of
 * memory. plot_series_free releases it. */
int plot_mi_series(plot_ctx *c, size_t j, series *s);
void plot_series_free(series *s);

/* Sorted distinct finite values of v[0..n) into out (at most max); returns their count. */
size_t plot_distinct(const double *v, size_t n, double *out, size_t max);

/* Appends a line to the caller's notes (when verbose). */
void plot_note(plot_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Indices of rows with layer == l, ordered by epoch. */
size_t plot_layer_rows(const double *layer, const double *epoch, size_t n, double l, size_t *idx);
/* "layer 3 (5)": a layer named by its number and width. */
void plot_layer_name(const plot_ctx *c, size_t j, char *buf, size_t n);
/* Positive epochs of a column (log axes cannot show epoch 0). */
iflow_range plot_epoch_range(const double *e, size_t n);
/* "what (nats)" or "what (bits)". */
void plot_ylabel(const plot_ctx *c, const char *what, char *buf, size_t n);

/* 1 if an infoflow run holds run_dir's lock now (it is being written). */
int plot_run_is_live(const char *run_dir);

/* Loads the run directory's logs into c (the *-estimate.csv files when mi.csv has no SP values
 * but `infoflow estimate` wrote them; a note says so); plot_free_files releases them. */
int plot_load_all(plot_ctx *c, iflow_error *err);
void plot_free_files(plot_ctx *c);
/* Writes fig as out_dir/name with the run's tEXt chunks, counting it. */
int plot_save(plot_ctx *c, iflow_figure *fig, const char *name, iflow_error *err);

#endif
