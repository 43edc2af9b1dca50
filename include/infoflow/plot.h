/* Figures from a run directory's CSV logs (formats in docs/FORMATS.md), drawn with cairo and
 * written as PNG with libpng (a tEXt chunk records the infoflow version and config hash). */
#ifndef IFLOW_PLOT_H
#define IFLOW_PLOT_H

#include "infoflow/api.h"

#include <stddef.h>

#include "infoflow/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct iflow_plot_options {
    int bits;          /* 1: information axes in bits, 0: nats */
    int verbose_notes; /* 1: fill `notes` with what was left out and why */
    int png_only;      /* 1: no .pdf beside each .png */
} iflow_plot_options;

/* Reads run_dir/{metrics,mi,binned,activations,scatter,clustering,cosine_hist,info}.csv
 * (whichever exist; columns are found by name, extra columns are ignored) and writes
 * out_dir/{info_plane,mi_epochs,binned_vs_sp,loss_acc,activations,scatter,summary,
 * info_plane_sliced,mi_epochs_sliced,clustering,cosine_hist}.png for each figure the data
 * support, each with the same drawing as a vector .pdf beside it unless opt->png_only. notes (if
 * not NULL, size notes_size) receives one line per figure left out, e.g. "info_plane.png: skipped,
 * mi.csv has no SP columns (deterministic run)", and per part of the data a figure leaves out.
 * n_written (if not NULL) gets the number of PNGs written. */
IFLOW_API int iflow_plot_run(const char *run_dir, const char *out_dir,
                             const iflow_plot_options *opt, char *notes, size_t notes_size,
                             int *n_written, iflow_error *err);

/* Horizontal reference lines drawn on every panel whose range reaches them (nats). */
typedef struct iflow_plot_compare_options {
    const char *title; /* NULL: "I(X;T_l) compared" */
    size_t n_refs;     /* at most 4 */
    double refs[4];
    const char *ref_labels[4];
} iflow_plot_compare_options;

/* Overlays I(X;T_l) (+-1 se bands) against epoch from n_files (1..6) mi.csv files of the same
 * net, e.g. estimated with [estimate] resample = none and bootstrap: one panel per hidden layer
 * of the first file, a legend with labels[k]; writes out_png atomically. */
IFLOW_API int iflow_plot_compare_mi(const char *const *csv_paths, const char *const *labels,
                                    size_t n_files, const iflow_plot_compare_options *opt,
                                    const char *out_png, iflow_error *err);

/* Overlays the clustering measures (cos_within, cos_between, silhouette, knn_agreement) against
 * epoch from n_files (1..6) clustering.csv files of the same net: a row of panels per measure, a
 * column per hidden layer of the first file, a legend with labels[k]; writes out_png atomically. */
IFLOW_API int iflow_plot_compare_cluster(const char *const *csv_paths, const char *const *labels,
                                         size_t n_files, const char *title, const char *out_png,
                                         iflow_error *err);

#ifdef __cplusplus
}
#endif

#endif
