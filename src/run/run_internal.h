/* Internal: the state of one run or estimate (run_state) and the functions the units of a run
 * share. Who owns what:
 *   run.c         the data and model of a run (run_load_data, run_build_model, run_release),
 *                 the training loop and iflow_run;
 *   run_dir.c     the run directory: lock and log (run_open_dir, run_say), config.hash and the
 *                 resume checks (run_check_config, run_resume_hash), checkpoint names and
 *                 verification (run_checkpoint_path, run_check_meta), resume (run_resume_point),
 *                 iflow_run_load_config;
 *   run_measure.c the measured epochs: their logs (run_open_logs, run_trim_logs), one
 *                 measurement and its rows (run_measure, run_record), and the epochs a kill cut
 *                 off (run_catch_up);
 *   estimate.c    `infoflow estimate` from checkpoints, with its MPI spread (iflow_run_estimate).
 */
#ifndef IFLOW_RUN_INTERNAL_H
#define IFLOW_RUN_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "infoflow/config.h"
#include "infoflow/checkpoint.h"
#include "infoflow/data.h"
#include "infoflow/mi.h"
#include "infoflow/net.h"
#include "infoflow/optim.h"
#include "infoflow/rng.h"
#include "infoflow/run.h"
#include "infoflow/train.h"
#include "runlog.h"

/* The random streams of a run (iflow_rng(seed or mi_seed, stream)): fixed, results depend on them.
 */
enum { STREAM_INIT = 1, STREAM_TRAIN = 2, STREAM_EVAL = 3, STREAM_SUBSET = 4, STREAM_CLUSTER = 5 };

typedef struct run_state {
    iflow_config cfg;
    const iflow_run_options *o;
    /* Rank 0 of the group (dist.h), the one that writes: in an MPI job every rank trains the
     * same net and takes part in the measurements, but only rank 0 touches the run directory
     * (lock, logs, checkpoints, figures) and prints; the others only read it on --resume. */
    int root;
    char dir[IFLOW_PATH_MAX];
    int lock_fd;
    FILE *log;
    iflow_dataset *train, *test; /* the training and test rows */
    iflow_dataset *inputs;       /* the m inputs X is uniform on (train and test, or a subset) */
    iflow_dataset *cluster_set;  /* [estimate] cluster_inputs of them for clustering.csv */
    iflow_net *net;
    iflow_optim *opt;
    iflow_trainer *trainer;
    iflow_workspace *eval_ws;
    size_t eval_rows;
    iflow_rng rng; /* training stream: shuffles and noise */
    long *mi_epochs, *keep_epochs;
    size_t n_mi, n_keep;
    runlog metrics, mi, binned, acts, scatter;
    runlog clusters, cos_hist; /* clustering.csv, cosine_hist.csv (closed: not measured) */
    size_t n_measured;         /* MI epochs measured in this invocation */
    uint64_t config_hash;      /* of cfg, computed once (it reads the data files) */
    long resumed_from; /* the checkpoint resumed from, until a newer one is written (-1: none) */
    iflow_mi_options mi_opts;
    /* The progress display's fraction of this invocation's work (run_progress): time spent so
     * far against the time left, estimated from the epochs trained and measured so far. */
    double t_begin, train_seconds, measure_seconds, measure_t0;
    size_t n_trained;       /* epochs trained in this invocation */
    size_t n_measures_done; /* measurements finished in this invocation */
    size_t n_to_measure;    /* `estimate`: measurements it makes (a run counts its MI epochs) */
    int estimating;         /* `estimate`: measures only */
} run_state;

/* run.c */
int run_load_data(run_state *st, iflow_error *err);
int run_build_model(run_state *st, iflow_error *err);
void run_release(run_state *st);

/* run_dir.c */
/* A line to log.txt (time-stamped) and to the run's message callback; rank 0's only. */
void run_say(run_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A line to log.txt only: e.g. the error that stopped a run, which the caller reports. */
void run_log(run_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void run_checkpoint_path(const run_state *st, long epoch, char *out, size_t n);
int run_check_meta(const run_state *st, const char *path, long epoch,
                   const iflow_checkpoint_meta *meta, iflow_error *err);
int run_open_dir(run_state *st, iflow_error *err);
int run_resume_point(run_state *st, long *epoch, iflow_error *err);
/* Epochs of the checkpoints in dir/checkpoints (*out malloc'ed, *n of them), newest first. */
int run_list_checkpoints(const char *dir, long **out, size_t *n, iflow_error *err);
uint64_t run_resume_hash(const iflow_config *c);
/* The error for a run directory without a checkpoint of `epoch` (for `estimate` and `export`):
 * that the run has no checkpoints at all and how to get them, or which epochs it kept and why
 * (keep: its [train] checkpoint_keep). Returns IFLOW_EINVAL. */
int run_missing_checkpoint(const char *dir, long epoch, const char *keep, iflow_error *err);
/* The effective config against the run directory's: a new run into a directory of another, a
 * resume with another config or fewer epochs are refused. Writes nothing. */
int run_check_config(run_state *st, iflow_error *err);
/* Writes config.ini and config.hash (a new run at once; a resume once it is accepted). */
int run_write_config(run_state *st, iflow_error *err);
/* Removes NAME.PID.tmp files of the run directory and its checkpoints/, left by a write a kill
 * cut off (the caller holds the run's lock, so no live writer owns them). */
void run_remove_stale_tmp(run_state *st);
/* Removes the checkpoints older than `newest` that kept() does not want: after a resume those
 * written before the interruption follow the same rule as the others. */
int run_thin_checkpoints(run_state *st, long newest, int (*kept)(const run_state *, long),
                         iflow_error *err);

/* run_measure.c */
int run_open_logs(run_state *st, iflow_error *err);
/* Checks every log of the run directory before a resume writes anything (runlog_check). */
int run_check_logs(run_state *st, iflow_error *err);
/* Closes every log (all rows reach the disk, as the final figures read them); idempotent. */
int run_close_logs(run_state *st, iflow_error *err);
int run_trim_logs(run_state *st, long epoch, iflow_error *err);
int run_measure(run_state *st, const iflow_net *net, long epoch, iflow_error *err);
/* Shows `stage` with the fraction of the invocation's work done: after epoch's training
 * (measured < 0), or with that share of epoch's measurement done (in [0, 1)). The time left
 * counts the epochs to train and the measurements to make, each at its mean so far (a
 * measurement in progress extrapolated from its layers done), so the ETA includes measuring. */
void run_progress(run_state *st, const char *stage, long epoch, double measured);
int run_record(run_state *st, const iflow_net *net, long epoch, const iflow_layer_info *info,
               double seconds, iflow_error *err);
int run_catch_up(run_state *st, long epoch, iflow_error *err);

#endif
