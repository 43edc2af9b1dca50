/* The information measurements of a run: the logs of measured epochs (mi.csv, binned.csv,
 * activations, scatter, clustering), their trimming on resume, and the epochs a kill cut off. */
#include <stdlib.h>
#include <unistd.h>

#include "infoflow/checkpoint.h"
#include "dist.h"
#include "io.h"
#include "run_cluster.h"
#include "run_internal.h"

/* Scatter rows are kept at a few epochs only (4096 rows per layer each): the first MI epoch
 * at or after each power of ten, and the last. */
static int scatter_epoch(const run_state *st, long epoch) {
    if (st->n_mi == 0) return 1;
    if (epoch == st->mi_epochs[st->n_mi - 1]) return 1;
    for (long p = 1; p <= st->cfg.epochs; p *= 10) {
        size_t i = 0;
        while (i < st->n_mi && st->mi_epochs[i] < p) i++;
        if (i < st->n_mi && st->mi_epochs[i] == epoch) return 1;
    }
    return 0;
}

void run_progress(run_state *st, const char *stage, long epoch, double measured) {
    if (!st->o->progress || !st->root) return;
    double now = iflow_now_seconds(), elapsed = now - st->t_begin;
    double per_epoch = st->n_trained ? st->train_seconds / (double)st->n_trained : 0;
    double per_measure =
        st->n_measures_done ? st->measure_seconds / (double)st->n_measures_done : 0;
    double current_left = 0; /* of the measurement in progress */
    if (measured >= 0) {
        double spent = now - st->measure_t0;
        double whole = measured > 0.05 ? spent / measured : per_measure;
        if (!st->n_measures_done) per_measure = whole;
        current_left = whole > spent ? whole - spent : 0;
    }
    size_t measures_left = 0;
    long epochs_left = 0;
    if (st->estimating) {
        size_t started = st->n_measures_done + (measured >= 0);
        measures_left = st->n_to_measure > started ? st->n_to_measure - started : 0;
    } else {
        for (size_t i = 0; i < st->n_mi; i++) measures_left += st->mi_epochs[i] > epoch;
        epochs_left = st->cfg.epochs - epoch;
    }
    double left =
        (double)epochs_left * per_epoch + (double)measures_left * per_measure + current_left;
    int more = epochs_left > 0 || measures_left > 0 || measured >= 0;
    double fraction = elapsed + left > 0 ? elapsed / (elapsed + left) : 1;
    if (more && left <= 0) fraction = 0;            /* not timed yet: no ETA */
    if (more && fraction > 0.999) fraction = 0.999; /* 100% only when nothing is left */
    st->o->progress(st->o->progress_user, stage, fraction);
}

/* Forwards the estimator's stages (layer l of L: fraction (l-1)/L) to the run's display. */
typedef struct mi_progress {
    run_state *st;
    long epoch;
} mi_progress;

static void forward_progress(void *user, const char *stage, double fraction) {
    const mi_progress *p = user;
    char line[160];
    snprintf(line, sizeof line, "epoch %ld/%ld  measuring information: %s", p->epoch,
             p->st->cfg.epochs, stage);
    run_progress(p->st, line, p->epoch, fraction < 1 ? fraction : 0.999);
}

/* Appends the rows of one measured epoch: activations and scatter of the net as it is, then
 * binned.csv and mi.csv from info (measured here or on another rank); `seconds` for the log. */
int run_record(run_state *st, const iflow_net *net, long epoch, const iflow_layer_info *info,
               double seconds, iflow_error *err) {
    size_t H = net->n_layers - 1;
    const iflow_dataset *in = st->inputs;
    double t0 = iflow_now_seconds();
    int rc = 0;
    size_t max_w = 0;
    for (size_t l = 1; l <= H; l++) max_w = net->widths[l] > max_w ? net->widths[l] : max_w;
    double *t = malloc(in->n * max_w * sizeof *t);
    if (!t) rc = iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
    for (size_t l = 1; l <= H && !rc; l++) {
        rc = iflow_mi_clean_layer(net, in->x, in->n, l, t, err);
        if (!rc)
            rc = runlog_write_activations(&st->acts, scatter_epoch(st, epoch) ? &st->scatter : NULL,
                                          epoch, l, net->widths[l], net->act, t, in->y, in->n, err);
    }
    free(t);
    if (!rc && st->clusters.f)
        rc = run_cluster_epoch(net, st->cluster_set, epoch, st->cfg.cluster_k, st->cfg.threads,
                               &st->clusters, scatter_epoch(st, epoch) ? &st->cos_hist : NULL, err);
    /* mi.csv last: a full set of its rows marks the epoch complete (see catch_up). */
    if (!rc) rc = runlog_write_mi(&st->mi, &st->binned, epoch, info, H, err);
    if (rc) return rc;
    char line[1024], sat[256] = "";
    int pos = snprintf(line, sizeof line, "epoch %ld: I(X;T) =", epoch), n_sat = 0, n_saty = 0;
    size_t spos = 0;
    for (size_t l = 0; l < H && pos < (int)sizeof line - 16; l++) {
        const iflow_layer_info *li = &info[l];
        pos += li->has_sp ? snprintf(line + pos, sizeof line - (size_t)pos, " %.3f%s",
                                     li->ixt.mi.value, li->ixt_saturated ? "*" : "")
                          : snprintf(line + pos, sizeof line - (size_t)pos, " -");
        n_sat += li->has_sp && li->ixt_saturated;
        if (li->has_sp && li->iyt_saturated && spos < sizeof sat - 8)
            spos += (size_t)snprintf(sat + spos, sizeof sat - spos, "%s%zu", n_saty++ ? "," : "",
                                     li->layer);
    }
    /* Saturated values are the ceiling, not information kept (iflow_layer_info): say so. */
    char note[384] = "";
    int npos = 0;
    if (n_sat)
        npos = snprintf(note, sizeof note, "; *: saturated, within max(%.2f, 2 se) of ln m",
                        IFLOW_SATURATION_MARGIN);
    if (n_saty)
        snprintf(note + npos, sizeof note - (size_t)npos,
                 "; I(Y;T) saturated at H(Y) in layer%s %s", n_saty > 1 ? "s" : "", sat);
    run_say(st, "%s nats (%.1f s)%s", line, seconds + iflow_now_seconds() - t0, note);
    st->n_measured++;
    return 0;
}

/* Measures information at `epoch` with the net as it is and appends the rows. In an MPI job
 * every rank calls it: the mixture sums are split over the ranks and every rank ends with the
 * whole result (the binned estimates are cheap and computed by each); rank 0 records it, and
 * computes the activations and clustering measures it writes. */
int run_measure(run_state *st, const iflow_net *net, long epoch, iflow_error *err) {
    iflow_layer_info info[IFLOW_MAX_LAYERS];
    const iflow_dataset *in = st->inputs;
    double t0 = iflow_now_seconds();
    mi_progress mp = {st, epoch};
    st->measure_t0 = t0;
    int split = iflow_dist_size() > 1; /* a seed of repeats keeps its task ("seed S") */
    if (split) iflow_dist_set_task("the measurement of epoch %ld", epoch);
    int rc =
        iflow_mi_measure(net, in->x, in->y, in->n, net->widths[net->n_layers], epoch, &st->mi_opts,
                         info, st->o->progress && st->root ? forward_progress : NULL, &mp, err);
    if (split) iflow_dist_set_task("%s", "");
    if (!rc && st->root) rc = run_record(st, net, epoch, info, iflow_now_seconds() - t0, err);
    st->measure_seconds += iflow_now_seconds() - t0;
    st->n_measures_done++;
    return rc;
}

/* mi.csv gains the k-sliced columns only when slicing is on: other runs' files stay as they
 * were. */
static const char *mi_header(const run_state *st) {
    return runlog_mi_header(st->cfg.slice_dim > 0);
}

int run_open_logs(run_state *st, iflow_error *err) {
    int rc = runlog_open(st->dir, "metrics.csv", RUNLOG_METRICS_HEADER, &st->metrics, err);
    if (!rc) rc = runlog_open(st->dir, "mi.csv", mi_header(st), &st->mi, err);
    if (!rc) rc = runlog_open(st->dir, "binned.csv", RUNLOG_BINNED_HEADER, &st->binned, err);
    if (!rc)
        rc = runlog_open(st->dir, "activations.csv", RUNLOG_ACTIVATIONS_HEADER, &st->acts, err);
    if (!rc) rc = runlog_open(st->dir, "scatter.csv", RUNLOG_SCATTER_HEADER, &st->scatter, err);
    if (!rc && st->cluster_set)
        rc = runlog_open(st->dir, "clustering.csv", RUN_CLUSTER_HEADER, &st->clusters, err);
    if (!rc && st->cluster_set)
        rc = runlog_open(st->dir, "cosine_hist.csv", RUN_COSINE_HIST_HEADER, &st->cos_hist, err);
    return rc;
}

int run_check_logs(run_state *st, iflow_error *err) {
    const char *names[] = {"metrics.csv", "mi.csv",         "binned.csv",     "activations.csv",
                           "scatter.csv", "clustering.csv", "cosine_hist.csv"};
    const char *headers[] = {RUNLOG_METRICS_HEADER,     mi_header(st),         RUNLOG_BINNED_HEADER,
                             RUNLOG_ACTIVATIONS_HEADER, RUNLOG_SCATTER_HEADER, RUN_CLUSTER_HEADER,
                             RUN_COSINE_HIST_HEADER};
    int rc = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !rc; i++)
        rc = runlog_check(st->dir, names[i], headers[i], err);
    return rc;
}

int run_close_logs(run_state *st, iflow_error *err) {
    runlog *logs[] = {&st->metrics, &st->mi,       &st->binned,  &st->acts,
                      &st->scatter, &st->clusters, &st->cos_hist};
    int rc = 0;
    for (size_t i = 0; i < sizeof logs / sizeof logs[0]; i++) {
        char path[sizeof logs[i]->path];
        snprintf(path, sizeof path, "%s", logs[i]->path);
        if (runlog_close(logs[i]) && !rc)
            rc = iflow_error_set(err, IFLOW_EIO, "%s: write failed (disk full?)", path);
    }
    return rc;
}

int run_trim_logs(run_state *st, long epoch, iflow_error *err) {
    static const char *const names[] = {"metrics.csv",     "mi.csv",      "binned.csv",
                                        "activations.csv", "scatter.csv", "clustering.csv",
                                        "cosine_hist.csv"};
    int rc = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !rc; i++)
        rc = runlog_trim(st->dir, names[i], epoch, err);
    return rc;
}

/* Drops the measurement rows of epochs > max_epoch. The files are closed first: trimming
 * replaces them, and rows written through the old handles would be lost. */
static int retrim_mi_logs(run_state *st, long max_epoch, iflow_error *err) {
    static const char *const names[] = {"mi.csv",      "binned.csv",     "activations.csv",
                                        "scatter.csv", "clustering.csv", "cosine_hist.csv"};
    const char *headers[] = {mi_header(st),         RUNLOG_BINNED_HEADER, RUNLOG_ACTIVATIONS_HEADER,
                             RUNLOG_SCATTER_HEADER, RUN_CLUSTER_HEADER,   RUN_COSINE_HIST_HEADER};
    runlog *files[] = {&st->mi, &st->binned, &st->acts, &st->scatter, &st->clusters, &st->cos_hist};
    int rc = 0;
    for (size_t i = 0; i < 6 && !rc; i++) {
        if (i >= 4 && !st->cluster_set) break;
        runlog_close(files[i]);
        rc = runlog_trim(st->dir, names[i], max_epoch, err);
        if (!rc) rc = runlog_open(st->dir, names[i], headers[i], files[i], err);
    }
    return rc;
}

/* After a resume: measures MI epochs <= epoch whose rows a kill (or a full disk) cut off, from
 * their checkpoints. mi.csv is written last, so an epoch with all its mi.csv rows is complete.
 * Only the newest measurement can have been cut off: an epoch older than the last one logged
 * was not in the run's list when it passed ([estimate] epochs changed, which is allowed) and
 * is left to `infoflow estimate`; measuring it here would first drop every later row.
 * In an MPI job rank 0 reads the logs and decides; every rank loads the checkpoint of an
 * epoch to measure and takes part in its measurement. */
int run_catch_up(run_state *st, long epoch, iflow_error *err) {
    long last_logged = st->root ? runlog_last_epoch(st->dir, "mi.csv") : -1;
    for (size_t i = 0; i < st->n_mi && st->mi_epochs[i] <= epoch; i++) {
        long e = st->mi_epochs[i];
        char path[1200];
        run_checkpoint_path(st, e, path, sizeof path);
        int todo = st->root && runlog_epoch_rows(st->dir, "mi.csv", e) != st->net->n_layers - 1;
        if (todo && (e < last_logged || access(path, F_OK) != 0)) {
            run_say(st,
                    "epoch %ld was not measured before (the [estimate] epochs changed%s); "
                    "measure it with infoflow estimate",
                    e, access(path, F_OK) ? " and its checkpoint was not kept" : "");
            todo = 0;
        }
        int rc = iflow_dist_bcast(&todo, sizeof todo, err);
        if (rc) return rc;
        if (!todo) continue;
        iflow_net *copy = NULL;
        rc = iflow_net_clone_shape(st->net, &copy, err);
        iflow_checkpoint_meta meta;
        if (!rc) rc = iflow_checkpoint_load(path, &meta, copy, NULL, NULL, err);
        if (!rc) rc = run_check_meta(st, path, e, &meta, err);
        if (!rc && st->root) rc = retrim_mi_logs(st, e - 1, err); /* rows of e cut off mid-write */
        if (!rc) last_logged = e;
        rc = iflow_dist_agree(rc, err);
        if (!rc) {
            run_say(st, "measuring epoch %ld, interrupted before", e);
            rc = run_measure(st, copy, e, err);
        }
        iflow_net_free(copy);
        rc = iflow_dist_agree(rc, err);
        if (rc) return rc;
    }
    return 0;
}
