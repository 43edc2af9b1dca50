/* A training run: one config in, a run directory out (docs/FORMATS.md): the effective config,
 * metrics.csv, a checkpoint per epoch, information measurements at the configured epochs, and
 * figures. Runs resume exactly from their last good checkpoint. */
#ifndef IFLOW_RUN_H
#define IFLOW_RUN_H

#include "infoflow/api.h"

#include <stdint.h>

#include "infoflow/config.h"
#include "infoflow/error.h"
#include "infoflow/mi.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct iflow_run_options {
    int resume;                 /* continue the run in out_dir from its last good checkpoint */
    int plot;                   /* draw the figures at the end (and every plot_every MI epochs) */
    long stop_after;            /* > 0: stop after this many epochs of this invocation (tests) */
    iflow_progress_fn progress; /* may be NULL */
    void *progress_user;
    /* Messages for the user (one line each, no newline), e.g. to print on the terminal; they
     * are also appended to out_dir/log.txt. May be NULL. */
    void (*message)(void *user, const char *line);
} iflow_run_options;

/* Trains and measures as cfg says, in cfg->out_dir. A directory holding another run is refused
 * unless opts->resume; a directory locked by a live run is refused (IFLOW_EBUSY). */
IFLOW_API int iflow_run(const iflow_config *cfg, const iflow_run_options *opts, iflow_error *err);

/* cfg->repeats runs (iflow_run when it is 1): seeds cfg->seed .. cfg->seed + repeats - 1, each
 * in cfg->out_dir/seed-S (the estimator seed follows the training seed unless the config set
 * its own), then cfg->out_dir/mi-mean.csv and metrics-mean.csv (iflow_aggregate_csv), info.csv,
 * and the figures of the means if opts->plot. With opts->resume, seeds already begun resume and
 * the others start. */
IFLOW_API int iflow_run_repeats(const iflow_config *cfg, const iflow_run_options *opts,
                                iflow_error *err);

/* Mean and sd across files of the same CSV log (e.g. mi.csv of runs that differ in their seed):
 * rows are matched by their first n_keys columns and written sorted by them; the output has the
 * key columns, `runs` (how many files had the row), then COL_mean,COL_sd for every other
 * column. Empty cells are left out of the mean; sd needs two values, else it is empty. Every
 * file must have the same header and only numbers. Written atomically to out_path. */
IFLOW_API int iflow_aggregate_csv(const char *const *paths, size_t n, size_t n_keys,
                                  const char *out_path, iflow_error *err);

/* Writes the net of run_dir at `epoch` (its checkpoint, which must hold that epoch) to out_dir as
 * .npy files in PyTorch's layouts (weight-J, bias-J), the first n_inputs rows of the data file
 * (inputs, labels), the noiseless output S-L of every hidden block for them, and net.txt
 * (docs/FORMATS.md). out_dir may not be run_dir or inside it; it must be missing or empty, or,
 * with force, an earlier export (a directory of only those files), which is replaced. The files
 * are written in a new directory beside out_dir, renamed onto it when all are written: on
 * failure out_dir is as it was. */
IFLOW_API int iflow_run_export(const char *run_dir, long epoch, size_t n_inputs,
                               const char *out_dir, int force, iflow_error *err);

/* Loads the effective config of an existing run directory (dir/config.ini). */
IFLOW_API int iflow_run_load_config(const char *dir, iflow_config *cfg, iflow_error *err);

typedef struct iflow_estimate_options {
    const char *epochs;   /* epoch spec; NULL = the config's MI epochs */
    const char *out_file; /* NULL = dir/mi-estimate.csv (and binned-estimate.csv) */
    int replace;          /* write mi.csv / binned.csv themselves */
    iflow_mi_options mi;  /* what to measure */
    iflow_progress_fn progress;
    void *progress_user;
} iflow_estimate_options;

/* Measures information at the given epochs from the checkpoints saved in dir. Epochs without a
 * checkpoint are reported as an error before any work starts. */
IFLOW_API int iflow_run_estimate(const char *dir, const iflow_estimate_options *opts,
                                 iflow_error *err);

#ifdef __cplusplus
}
#endif

#endif
