/* Internal to the plotting code: the state of one iflow_plot_run (plot_ctx), its loading and the
 * helpers every family of figures uses (plot_common.c). */
#ifndef IFLOW_PLOT_COMMON_H
#define IFLOW_PLOT_COMMON_H

#include <stddef.h>

#include "chart.h"
#include "csvread.h"
#include "infoflow/net.h"

/* Layers a figure shows: as many as a net can have; a hand-made file with more distinct layer
 * numbers gets its smallest MAX_LAYERS shown and a note naming what was left out. */
#define MAX_LAYERS IFLOW_MAX_LAYERS

typedef struct plot_ctx {
    const char *run_dir, *out_dir;
    char run_name[256];
    double unit; /* multiplies nats: 1 or 1 / ln 2 */
    const char *unit_name;
    char *notes;
    size_t notes_size;
    int verbose, n_written;
    int pdf;              /* 1: a .pdf beside every .png */
    const char *fig_name; /* the figure being drawn, for notes */
    const char *keys[3], *values[3];
    size_t n_text;
    char version[64], hash[32];
    iflow_csv *metrics, *mi, *binned, *acts, *scatter, *info;
    double ln_m, h_y; /* from info.csv, NaN if absent (nats) */
    /* chance level of k-NN class agreement and what it is ("class frequencies", "1/classes"),
     * from info.csv or the labels of scatter.csv; NaN and "" if neither says */
    double knn_chance;
    char knn_chance_of[64];
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

/* Sorted distinct finite values of v[0..n) into out (the smallest max of them); returns how many
 * there are in all, which may exceed max. */
size_t plot_distinct(const double *v, size_t n, double *out, size_t max);
/* The distinct layer numbers of a file's column (at most MAX_LAYERS, the smallest), noting the
 * ones left out under the file's name; returns how many are in out. */
size_t plot_layers(plot_ctx *c, const char *file, const double *v, size_t n, double *out);
/* Sorted distinct finite epochs of the rows idx[0..k) (malloc'd, *n_out of them; NULL and 0 if
 * out of memory or none). */
double *plot_epochs_of(const double *epoch, const size_t *idx, size_t k, size_t *n_out);

/* Appends a line to the caller's notes (when verbose); a line already there is not repeated. */
void plot_note(plot_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Indices of rows with layer == l, ordered by epoch. */
size_t plot_layer_rows(const double *layer, const double *epoch, size_t n, double l, size_t *idx);
/* "layer 3, width 5": a layer named by its number and width. */
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
/* Writes fig as out_dir/name (a .png name) with the run's tEXt chunks, counting it, and the same
 * drawing as out_dir/name with .pdf for .png when c->pdf. */
int plot_save(plot_ctx *c, iflow_figure *fig, const char *name, iflow_error *err);

#endif
