/* A training run: config -> run directory with metrics, checkpoints, information measurements
 * and figures. This unit: the data and model of a run, the training loop and iflow_run. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infoflow/checkpoint.h"
#include "infoflow/plot.h"
#include "blas.h"
#include "dist.h"
#include "io.h"
#include "run_cluster.h"
#include "run_internal.h"

#define AGREE_EVERY 50 /* epochs between two checks of the ranks on each other (dist.h) */
#define EVAL_ROWS   1024
#define EVAL_BUDGET ((size_t)1 << 24) /* doubles of an evaluation workspace of a conv net */

static int contains(const long *v, size_t n, long x) {
    for (size_t i = 0; i < n; i++)
        if (v[i] == x) return 1;
    return 0;
}

int run_load_data(run_state *st, iflow_error *err) {
    const iflow_config *c = &st->cfg;
    iflow_dataset *all = NULL;
    int rc;
    int idx = !strcmp(c->data_format, "idx");
    if (idx)
        rc = iflow_dataset_load_idx(c->data_file, c->data_labels, c->max_rows, &all, err);
    else
        rc = iflow_dataset_load_csv(c->data_file, &all, err);
    /* Name the config line (and the labels file only when the error is about it). */
    if (rc)
        return iflow_config_blame_path(c,
                                       idx && c->data_labels[0] && strstr(err->msg, c->data_labels)
                                           ? c->data_labels
                                           : c->data_file,
                                       err);
    if (!idx && c->max_rows > 0 && c->max_rows < all->n) all->n = c->max_rows; /* as for IDX */
    char where[IFLOW_PATH_MAX + 16];
    if (c->layers_line)
        snprintf(where, sizeof where, "%s:%d", c->path, c->layers_line);
    else
        snprintf(where, sizeof where, "%s", c->path);
    if (all->d != c->widths[0] && c->n_blocks) {
        rc = iflow_error_set(err, IFLOW_EINVAL,
                             "%s: data rows have %zu values but [net] input %zux%zux%zu has %zu",
                             where, all->d, c->input.c, c->input.h, c->input.w, c->widths[0]);
    } else if (all->d != c->widths[0]) {
        rc = iflow_error_set(err, IFLOW_EINVAL,
                             "%s: data has %zu features but [net] layers starts with %zu", where,
                             all->d, c->widths[0]);
    } else if (all->n_classes > c->widths[c->n_widths - 1]) {
        rc = iflow_error_set(err, IFLOW_EINVAL,
                             "%s: data has labels up to %zu but [net] layers ends with %zu outputs",
                             where, all->n_classes - 1, c->widths[c->n_widths - 1]);
    }
    if (!rc && idx && c->test_file[0]) {
        rc = iflow_dataset_load_idx(c->test_file, c->test_labels, c->max_rows, &st->test, err);
        if (rc)
            iflow_config_blame_path(
                c, strstr(err->msg, c->test_labels) ? c->test_labels : c->test_file, err);
        st->train = all;
        all = NULL;
    } else if (!rc) {
        iflow_split *sp = NULL;
        if (c->test_split[0]) {
            rc = iflow_split_from_file(c->test_split, all->n, &sp, err);
            if (rc) iflow_config_blame_path(c, c->test_split, err);
        } else {
            rc = iflow_split_fraction(all->n, c->test_fraction, c->split_seed, &sp, err);
            if (rc) {
                char msg[sizeof err->msg];
                snprintf(msg, sizeof msg, "%s", err->msg);
                iflow_error_set(err, rc, "%s: [data] test_fraction = %g: %s", c->path,
                                c->test_fraction, msg);
            }
        }
        if (!rc) rc = iflow_dataset_subset(all, sp->train, sp->n_train, &st->train, err);
        if (!rc) rc = iflow_dataset_subset(all, sp->test, sp->n_test, &st->test, err);
        iflow_split_free(sp);
    }
    if (rc) {
        iflow_dataset_free(all);
        return rc;
    }
    if (!all) { /* separate test file: X is uniform on train and test together */
        size_t n = st->train->n + st->test->n, d = st->train->d;
        size_t *idx_all = malloc(n * sizeof *idx_all);
        iflow_dataset *both = NULL;
        if (!idx_all) return iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
        for (size_t i = 0; i < st->train->n; i++) idx_all[i] = i;
        rc = iflow_dataset_subset(st->train, idx_all, st->train->n, &both, err);
        free(idx_all);
        if (rc) return rc;
        double *x = realloc(both->x, n * d * sizeof *x);
        int *y = realloc(both->y, n * sizeof *y);
        if (x) both->x = x;
        if (y) both->y = y;
        if (!x || !y) {
            iflow_dataset_free(both);
            return iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
        }
        memcpy(x + st->train->n * d, st->test->x, st->test->n * d * sizeof *x);
        memcpy(y + st->train->n, st->test->y, st->test->n * sizeof *y);
        both->n = n;
        if (st->test->n_classes > both->n_classes) both->n_classes = st->test->n_classes;
        all = both;
    }
    if (c->cluster_inputs > 0)
        rc = run_cluster_subset(all, c->cluster_inputs, c->mi_seed, STREAM_CLUSTER,
                                &st->cluster_set, err);
    char why[128];
    if (!rc && st->cluster_set &&
        !run_cluster_usable(st->cluster_set, c->cluster_k, why, sizeof why)) {
        run_say(st, "clustering measures skipped: %s", why);
        iflow_dataset_free(st->cluster_set);
        st->cluster_set = NULL;
    }
    if (rc) {
        iflow_dataset_free(all);
        return rc;
    }
    if (c->mi_inputs > 0 && c->mi_inputs < all->n) {
        size_t *perm = malloc(all->n * sizeof *perm);
        if (!perm) {
            rc = iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
        } else {
            iflow_rng r;
            iflow_rng_init(&r, c->mi_seed, STREAM_SUBSET);
            for (size_t i = 0; i < all->n; i++) perm[i] = i;
            iflow_rng_shuffle(&r, perm, all->n);
            rc = iflow_dataset_subset(all, perm, c->mi_inputs, &st->inputs, err);
        }
        free(perm);
        iflow_dataset_free(all);
    } else {
        st->inputs = all;
    }
    return rc;
}

/* info.csv: constants the figures mark (ln m, H(Y), the chance level of k-NN class agreement). */
static int write_info(run_state *st, iflow_error *err) {
    const iflow_dataset *in = st->inputs;
    size_t nc = in->n_classes, *counts = calloc(nc ? nc : 1, sizeof *counts);
    if (!counts)
        return iflow_error_set(err, IFLOW_ENOMEM, "info.csv: out of memory for %zu classes", nc);
    for (size_t i = 0; i < in->n; i++)
        if (in->y[i] >= 0 && (size_t)in->y[i] < nc) counts[in->y[i]]++;
    double hy = 0, same = 0; /* H(Y) over every class; same: sum of p_c^2 */
    for (size_t c = 0; c < nc; c++)
        if (counts[c]) {
            double p = (double)counts[c] / (double)in->n;
            hy -= p * log(p);
            same += p * p;
        }
    free(counts);
    char path[1100];
    iflow_atomic a;
    int rc = iflow_path_join(path, sizeof path, st->dir, "info.csv", err);
    if (!rc) rc = iflow_atomic_open(&a, path, err);
    if (rc) return rc;
    fprintf(a.f,
            "key,value\nm,%zu\nH_Y,%.10g\nln_m,%.10g\nactivation,%s\nbeta,%.10g\nclasses,%zu\n"
            "knn_chance,%.10g\n",
            in->n, hy, log((double)in->n), iflow_activation_name(st->cfg.activation), st->cfg.beta,
            nc, same);
    return iflow_atomic_commit(&a, err);
}

/* Rows per evaluation batch: EVAL_ROWS, fewer for a wide conv net (its workspace per row is
 * large); an MLP keeps EVAL_ROWS, so its numbers stay as they were. */
static size_t eval_rows(const iflow_net *net) {
    size_t per_row = iflow_workspace_row_doubles(net);
    if (!net->has_conv || per_row * EVAL_ROWS <= EVAL_BUDGET) return EVAL_ROWS;
    return EVAL_BUDGET / per_row > 0 ? EVAL_BUDGET / per_row : 1;
}

/* net.txt: one line per block with its output shape and parameter count. */
static int write_net_txt(run_state *st, iflow_error *err) {
    char path[1100], text[8192];
    iflow_atomic a;
    iflow_net_describe(st->net, text, sizeof text);
    int rc = iflow_path_join(path, sizeof path, st->dir, "net.txt", err);
    if (!rc) rc = iflow_atomic_open(&a, path, err);
    if (rc) return rc;
    fputs(text, a.f);
    rc = iflow_atomic_commit(&a, err);
    for (char *line = strtok(text, "\n"); line && !rc; line = strtok(NULL, "\n"))
        run_say(st, "net: %s", line);
    return rc;
}

int run_build_model(run_state *st, iflow_error *err) {
    const iflow_config *c = &st->cfg;
    int rc = iflow_config_net(c, &st->net, err);
    if (!rc) rc = iflow_optim_new(&c->optim, st->net->n_params, &st->opt, err);
    if (!rc) rc = iflow_trainer_new(st->net, st->train->n, c->batch, &st->trainer, err);
    if (!rc) rc = iflow_trainer_set_precision(st->trainer, st->net, c->precision, err);
    st->eval_rows = eval_rows(st->net);
    if (!rc) rc = iflow_workspace_new(st->net, st->eval_rows, &st->eval_ws, err);
    if (rc) return rc;
    iflow_rng init;
    iflow_rng_init(&init, c->seed, STREAM_INIT);
    iflow_net_init(st->net, c->init, &init);
    iflow_rng_init(&st->rng, c->seed, STREAM_TRAIN);
    st->rng.normals = c->noise_generator; /* a resumed run takes its checkpoint's */
    return 0;
}

/* A checkpoint older than the newest that the run keeps: checkpoint_keep's, or a measured one. */
static int keeps_checkpoint(const run_state *st, long epoch) {
    return !strcmp(st->cfg.checkpoint_keep, "all") ||
           contains(st->keep_epochs, st->n_keep, epoch) || contains(st->mi_epochs, st->n_mi, epoch);
}

static int save_checkpoint(run_state *st, long epoch, iflow_error *err) {
    char path[1200];
    run_checkpoint_path(st, epoch, path, sizeof path);
    iflow_checkpoint_meta meta = {.epoch = epoch, .config_hash = st->config_hash};
    int rc = iflow_checkpoint_save(path, &meta, st->net, st->opt, &st->rng, err);
    if (rc) return rc;
    /* Thin: the previous epoch's checkpoint goes unless the keep rule or an MI epoch wants it;
     * after a resume, once a newer one exists, every older one (the one resumed from, and
     * those of an invocation that was interrupted) under the same rule. */
    if (st->resumed_from >= 0) {
        st->resumed_from = -1;
        return run_thin_checkpoints(st, epoch, keeps_checkpoint, err);
    }
    long prev = epoch - 1;
    if (prev >= 0 && !keeps_checkpoint(st, prev)) {
        run_checkpoint_path(st, prev, path, sizeof path);
        remove(path);
    }
    return 0;
}

static void evaluate(run_state *st, long epoch, runlog_metrics *m) {
    iflow_rng r;
    iflow_rng_init(&r, st->cfg.seed, iflow_rng_stream3(STREAM_EVAL, (uint64_t)epoch, 0));
    r.normals = st->cfg.noise_generator;
    const iflow_dataset *tr = st->train, *te = st->test;
    size_t rows = st->eval_rows;
    iflow_evaluate(st->net, tr->x, tr->y, tr->n, &r, st->eval_ws, rows, &m->train_loss,
                   &m->train_acc);
    iflow_evaluate(st->net, tr->x, tr->y, tr->n, NULL, st->eval_ws, rows, &m->train_loss_clean,
                   &m->train_acc_clean);
    if (te->n) {
        iflow_evaluate(st->net, te->x, te->y, te->n, &r, st->eval_ws, rows, &m->test_loss,
                       &m->test_acc);
        iflow_evaluate(st->net, te->x, te->y, te->n, NULL, st->eval_ws, rows, &m->test_loss_clean,
                       &m->test_acc_clean);
    } else {
        m->test_loss = m->test_acc = m->test_loss_clean = m->test_acc_clean = NAN;
    }
}

/* Draws the figures; a failure is logged, and returned (err may be NULL) for the final plot. */
static int plot(run_state *st, iflow_error *err) {
    iflow_plot_options po = {.bits = 0, .verbose_notes = 1};
    char notes[2048] = "";
    int n = 0;
    iflow_error e = {0};
    int rc = iflow_plot_run(st->dir, st->dir, &po, notes, sizeof notes, &n, &e);
    if (rc) {
        if (err)
            run_log(st, "plot failed: %s", e.msg); /* the caller reports err */
        else
            run_say(st, "plot failed: %s", e.msg);
        return iflow_error_set(err, rc,
                               "%s: the run is complete but its figures were not "
                               "written: %s (infoflow plot %s draws them again)",
                               st->dir, e.msg, st->dir);
    }
    run_say(st, "wrote %d figures to %s", n, st->dir);
    return 0;
}

/* At an MI epoch every rank takes part in the measurement (its mixture sums are split over the
 * ranks: dist.h), after agreeing that all are well; rc is this rank's state so far. */
static int measure_epoch(run_state *st, long epoch, int rc, iflow_error *err) {
    if (!contains(st->mi_epochs, st->n_mi, epoch)) return rc;
    rc = iflow_dist_agree(rc, err);
    if (!rc) rc = run_measure(st, st->net, epoch, err);
    if (!rc && st->root && st->o->plot && st->cfg.plot_every > 0 &&
        st->n_measured % (size_t)st->cfg.plot_every == 0)
        plot(st, NULL); /* logged; training goes on */
    return rc;
}

static int one_epoch(run_state *st, long epoch, iflow_error *err) {
    double t0 = iflow_now_seconds(), measured_before = st->measure_seconds;
    runlog_metrics m;
    if (epoch > 0) {
        int rc = iflow_train_epoch(st->trainer, st->net, st->opt, st->train->x, st->train->y,
                                   st->train->n, st->cfg.orthonormal, &st->rng, &m.train_loss,
                                   &m.train_acc, err);
        if (rc) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            return iflow_error_set(err, rc,
                                   "training diverged at epoch %ld: %s; the last good "
                                   "checkpoint is epoch %ld (lower lr?)",
                                   epoch, msg, epoch - 1);
        }
    }
    /* In an MPI job the other ranks only train (the same net, from the same streams): rank 0
     * evaluates, logs and checkpoints, and its verdict reaches them at the next agreement
     * (run_body, or before a measurement). */
    if (!st->root) return measure_epoch(st, epoch, 0, err);
    evaluate(st, epoch, &m);
    m.seconds = iflow_now_seconds() - t0;
    if (!isfinite(m.train_loss_clean)) {
        size_t l = iflow_net_first_nonfinite(st->net);
        return iflow_error_set(err, IFLOW_ENUMERIC,
                               "training diverged at epoch %ld: loss is %g (layer %zu); the last "
                               "good checkpoint is epoch %ld",
                               epoch, m.train_loss_clean, l, epoch - 1);
    }
    int rc = runlog_write_metrics(&st->metrics, epoch, &m, err);
    if (!rc) rc = save_checkpoint(st, epoch, err);
    if (rc == IFLOW_ENUMERIC) { /* the state overflowed although the loss did not */
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        double beta_max = 0;
        for (size_t l = 1; l + 1 < st->cfg.n_widths; l++)
            beta_max = fmax(beta_max, iflow_config_beta(&st->cfg, l));
        return iflow_error_set(err, rc,
                               "training diverged at epoch %ld: %s; the last good "
                               "checkpoint is epoch %ld (%s)",
                               epoch, msg, epoch - 1,
                               beta_max > 1e6 ? "the noise std [net] beta is huge: its square "
                                                "enters the gradients and overflows"
                                              : "lower lr?");
    }
    rc = measure_epoch(st, epoch, rc, err);
    if (epoch > 0) { /* epoch 0 only evaluates */
        st->train_seconds += iflow_now_seconds() - t0 - (st->measure_seconds - measured_before);
        st->n_trained++;
    }
    if (!rc) {
        char stage[160];
        snprintf(stage, sizeof stage, "epoch %ld/%ld  loss %.4f  train %.2f%%  test %.2f%%", epoch,
                 st->cfg.epochs, m.train_loss_clean, 100 * m.train_acc_clean,
                 100 * m.test_acc_clean);
        run_progress(st, stage, epoch, -1);
    }
    return rc;
}

void run_release(run_state *st) {
    run_close_logs(st, NULL);
    if (st->log) fclose(st->log);
    if (st->lock_fd >= 0) close(st->lock_fd);
    iflow_dataset_free(st->train);
    iflow_dataset_free(st->test);
    iflow_dataset_free(st->inputs);
    iflow_dataset_free(st->cluster_set);
    iflow_net_free(st->net);
    iflow_optim_free(st->opt);
    iflow_trainer_free(st->trainer);
    iflow_workspace_free(st->eval_ws);
    free(st->mi_epochs);
    free(st->keep_epochs);
}

/* info.csv and net.txt; with config.ini and config.hash too for a resume (accepted by now). */
static int write_run_files(run_state *st, iflow_error *err) {
    int rc = st->o->resume ? run_write_config(st, err) : 0;
    if (!rc) rc = write_info(st, err);
    if (!rc) rc = write_net_txt(st, err);
    return rc;
}

static int prepare(run_state *st, iflow_error *err) {
    const iflow_config *c = &st->cfg;
    int rc = iflow_config_validate(c, err);
    if (!rc) rc = iflow_epochs_expand(c->mi_epochs, c->epochs, &st->mi_epochs, &st->n_mi, err);
    /* Rank 0 alone creates, locks and writes the run directory; the others wait for its
     * verdict before loading anything, and take the generator it adopted for a resumed run. */
    if (!rc && st->root) rc = run_open_dir(st, err);
    if (!rc && st->root) rc = run_check_config(st, err); /* may adopt the run's generator */
    if (!rc) { /* after run_check_config, which may adopt the run's checkpoint_keep */
        const char *keep = c->checkpoint_keep;
        if (!strcmp(keep, "all") || !strcmp(keep, "last")) keep = "none";
        rc = iflow_epochs_expand(keep, c->epochs, &st->keep_epochs, &st->n_keep, err);
    }
    /* A new run writes its config first (a directory with config.hash is a run's); a resume
     * writes nothing until it is accepted (run_body). */
    if (!rc && st->root && !st->o->resume) rc = run_write_config(st, err);
    rc = iflow_dist_agree(rc, err);
    if (!rc) rc = iflow_dist_bcast(&st->cfg.noise_generator, sizeof st->cfg.noise_generator, err);
    st->config_hash = run_resume_hash(c); /* as config.hash: a run may be extended */
    if (!rc) rc = run_load_data(st, err);
    if (!rc) rc = run_build_model(st, err);
    if (!rc && st->root && st->o->resume) rc = run_check_logs(st, err);
    if (!rc && st->root && !st->o->resume) rc = write_run_files(st, err);
    iflow_mi_options_from_config(c, &st->mi_opts);
    return iflow_dist_agree(rc, err);
}

/* Under MPI every rank loads the checkpoint to resume from itself (the run directory must be
 * visible to all of them, as for `estimate`): a few kilobytes to megabytes read once, through
 * the checks of a single process. Rank 0's choice is sent to the others, and one that chose
 * another (it sees another directory, or a checkpoint changed in between) stops the job. */
static int agree_start(long start, int rc, iflow_error *err) {
    rc = iflow_dist_agree(rc, err);
    long first = start;
    if (!rc) rc = iflow_dist_bcast(&first, sizeof first, err);
    if (!rc && first != start)
        rc = iflow_error_set(err, IFLOW_ECORRUPT,
                             "resumes after epoch %ld, rank 0 after epoch %ld: every rank must "
                             "see the same run directory (a file system shared by the ranks)",
                             start, first);
    return iflow_dist_agree(rc, err);
}

static int run_body(const iflow_config *cfg, const iflow_run_options *opts, iflow_error *err) {
    run_state st = {
        .cfg = *cfg, .o = opts, .root = iflow_dist_rank() == 0, .lock_fd = -1, .resumed_from = -1};
    snprintf(st.dir, sizeof st.dir, "%s", cfg->out_dir);
    int rc = prepare(&st, err);
    long start = -1;
    if (!rc && opts->resume) {
        rc = agree_start(start, run_resume_point(&st, &start, err), err);
        st.resumed_from = start; /* thinned with the others once a newer one is written */
        if (!rc && start >= 0) run_say(&st, "resuming after epoch %ld", start);
        if (!rc && start < 0) run_say(&st, "no usable checkpoint: starting from scratch");
        if (!rc && st.root) rc = write_run_files(&st, err);
        if (!rc && st.root) run_remove_stale_tmp(&st);
        if (!rc && st.root) rc = run_trim_logs(&st, start, err);
    }
    if (!rc && st.root) rc = run_open_logs(&st, err);
    rc = iflow_dist_agree(rc, err);
    if (!rc && start >= 0) rc = run_catch_up(&st, start, err);
    rc = iflow_dist_agree(rc, err);
    if (!rc && start < 0)
        run_say(&st, "training %zu rows (test %zu), MI on %zu inputs at %zu epochs, into %s",
                st.train->n, st.test->n, st.inputs->n, st.n_mi, st.dir);
    long done = 0;
    st.t_begin = iflow_now_seconds();
    int split = iflow_dist_size() > 1; /* a seed of repeats keeps its task ("seed S") */
    for (long e = start + 1; !rc && e <= cfg->epochs; e++) {
        if (split) iflow_dist_set_task("epoch %ld (training)", e); /* for a kill's message */
        rc = one_epoch(&st, e, err);
        /* In an MPI job a rank that failed (rank 0 writing, say) says so at once, and the
         * others learn it at their next agreement: before a measurement, every AGREE_EVERY
         * epochs, or at the end. Agreeing every epoch would hold every rank to the slowest one
         * at every epoch. */
        if (rc || e % AGREE_EVERY == 0) rc = iflow_dist_agree(rc, err);
        if (!rc && e > 0 && opts->stop_after > 0 && ++done >= opts->stop_after) break;
    }
    if (split) iflow_dist_set_task("%s", "");
    /* A resume of a finished run writes no checkpoint: thin what an interrupted write left. */
    if (!rc && st.root && start >= cfg->epochs)
        rc = run_thin_checkpoints(&st, cfg->epochs, keeps_checkpoint, err);
    rc = iflow_dist_agree(rc, err);
    if (rc) run_log(&st, "stopped: %s", err->msg); /* the caller reports err */
    /* Every row reaches the disk before the figures read the logs back. */
    if (!rc && st.root) rc = run_close_logs(&st, err);
    if (!rc && opts->plot) rc = iflow_dist_agree(st.root ? plot(&st, err) : 0, err);
    run_release(&st);
    return rc;
}

int iflow_run(const iflow_config *cfg, const iflow_run_options *opts, iflow_error *err) {
    int blas = iflow_blas_serial_begin(); /* blas.h: the numbers must not depend on it */
    int rc = run_body(cfg, opts, err);
    iflow_blas_serial_end(blas);
    return rc;
}
