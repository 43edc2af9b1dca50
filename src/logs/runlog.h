/* Internal: the CSV logs of a run directory (docs/FORMATS.md), appended row by row so a killed
 * run keeps what it measured, and trimmed on resume so no row is ever duplicated. */
#ifndef IFLOW_RUNLOG_H
#define IFLOW_RUNLOG_H

#include <stdio.h>

#include "infoflow/error.h"
#include "infoflow/mi.h"
#include "infoflow/net.h"

extern const char *const RUNLOG_METRICS_HEADER;
extern const char *const RUNLOG_MI_HEADER;
extern const char *const RUNLOG_BINNED_HEADER;
extern const char *const RUNLOG_ACTIVATIONS_HEADER;
extern const char *const RUNLOG_SCATTER_HEADER;

/* An open log and its path, which every write error names. */
typedef struct runlog {
    FILE *f;    /* NULL when closed */
    int sliced; /* mi.csv: the k-sliced columns follow (set by runlog_open from the header) */
    char path[1100];
    size_t n_cols; /* columns of the file's header (an older file may have fewer than ours) */
    int cond;      /* mi.csv: the I_XT_given_Y columns end the rows (not in older files) */
} runlog;

/* mi.csv's header: RUNLOG_MI_HEADER, with the k-sliced columns appended when sliced. */
const char *runlog_mi_header(int sliced);

/* Opens dir/name (name alone if dir is NULL) for appending, writing header first if the file is
 * new or empty. An existing file whose header differs (other columns) is an error, so rows of
 * two layouts never mix. */
int runlog_open(const char *dir, const char *name, const char *header, runlog *out,
                iflow_error *err);

/* Checks dir/name before a resume changes anything: a missing file passes; a CRLF line, a
 * complete row whose first field (the epoch) is not a non-negative integer, or another header
 * (as runlog_open) is an error naming the file and line. */
int runlog_check(const char *dir, const char *name, const char *header, iflow_error *err);

/* Closes the log if open; returns 0, or -1 if fclose failed (a write did not reach the disk). */
int runlog_close(runlog *log);

/* Rewrites dir/name (atomically) keeping the header and every complete row (newline-terminated,
 * as many fields as the header) whose first field, an epoch, is <= max_epoch. A missing file is
 * not an error. */
int runlog_trim(const char *dir, const char *name, long max_epoch, iflow_error *err);

/* Epoch of the last complete row of dir/name; -1 if it has none (or cannot be read). */
long runlog_last_epoch(const char *dir, const char *name);

/* Number of complete rows (newline-terminated) of dir/name for this epoch. */
size_t runlog_epoch_rows(const char *dir, const char *name, long epoch);

typedef struct runlog_metrics {
    double train_loss, train_acc, test_loss, test_acc;
    double train_loss_clean, train_acc_clean, test_loss_clean, test_acc_clean;
    double seconds;
} runlog_metrics;

int runlog_write_metrics(runlog *f, long epoch, const runlog_metrics *m, iflow_error *err);

/* Rows of binned.csv, then mi.csv, for one epoch (layers with layer == 0 are skipped). */
int runlog_write_mi(runlog *mi, runlog *binned, long epoch, const iflow_layer_info *info, size_t n,
                    iflow_error *err);

/* Histogram rows (activations.csv) and, for layers of width <= 3 when scatter is not NULL,
 * scatter rows (scatter.csv) of the noiseless activations t (m x width) of hidden layer l. */
int runlog_write_activations(runlog *acts, runlog *scatter, long epoch, size_t l, size_t width,
                             iflow_activation act, const double *t, const int *labels, size_t m,
                             iflow_error *err);

/* fflush + error check, naming the file. */
int runlog_flush(runlog *log, iflow_error *err);

#endif
