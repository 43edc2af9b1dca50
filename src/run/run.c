/* A training run: config -> run directory with metrics, checkpoints, information measurements
 * and figures; exact resume from the last good checkpoint. */
#include "infoflow/run.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "infoflow/checkpoint.h"
#include "infoflow/data.h"
#include "infoflow/plot.h"
#include "infoflow/train.h"
#include "csvread.h"
#include "dist.h"
#include "io.h"
#include "run_cluster.h"
#include "runlog.h"
#include "spread.h"
#include "blas.h"

enum { STREAM_INIT = 1, STREAM_TRAIN = 2, STREAM_EVAL = 3, STREAM_SUBSET = 4, STREAM_CLUSTER = 5 };
#define EVAL_ROWS 1024
#define EVAL_BUDGET ((size_t)1 << 24) /* doubles of an evaluation workspace of a conv net */

typedef struct run_state {
    iflow_config cfg;
    const iflow_run_options *o;
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
    size_t n_measured; /* MI epochs measured in this invocation */
    uint64_t config_hash; /* of cfg, computed once (it reads the data files) */
    long resumed_from;    /* the checkpoint resumed from (-1: none): never thinned away */
    iflow_mi_options mi_opts;
} run_state;

static void say(run_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static uint64_t resume_hash(const iflow_config *c);
static void say(run_state *st, const char *fmt, ...) {
    char line[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (st->log) {
        time_t t = time(NULL);
        char stamp[32];
        strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", localtime(&t));
        fprintf(st->log, "%s %s\n", stamp, line);
        fflush(st->log);
    }
    if (st->o->message) st->o->message(st->o->progress_user, line);
}

static int contains(const long *v, size_t n, long x) {
    for (size_t i = 0; i < n; i++)
        if (v[i] == x) return 1;
    return 0;
}

static void checkpoint_path(const run_state *st, long epoch, char *out, size_t n) {
    snprintf(out, n, "%s/checkpoints/epoch-%06ld.ckpt", st->dir, epoch);
}

/* A loaded checkpoint must be the one its name promises: of this run (config hash, as
 * config.hash; checkpoints written before that stored iflow_config_hash with the same epochs)
 * and of the epoch in its name (a renamed or copied file is refused). */
static int check_meta(const run_state *st, const char *path, long epoch,
                      const iflow_checkpoint_meta *meta, iflow_error *err) {
    if (meta->epoch != epoch)
        return iflow_error_set(err, IFLOW_ECORRUPT, "%s: holds epoch %ld, not %ld (a renamed or "
                               "copied checkpoint)", path, meta->epoch, epoch);
    if (meta->config_hash != st->config_hash && meta->config_hash != iflow_config_hash(&st->cfg))
        return iflow_error_set(err, IFLOW_ECORRUPT, "%s: written by another run or config "
                               "(config hash %016llx, this run's %016llx)", path,
                               (unsigned long long)meta->config_hash,
                               (unsigned long long)st->config_hash);
    return 0;
}

/* The run goes on with the generator it started with; a config naming another one is another
 * run (its hash differs too, but a checkpoint from before the key existed matches either). */
static int check_normals(const run_state *st, const char *path, iflow_error *err) {
    if (st->rng.normals == st->cfg.noise_generator) return 0;
    return iflow_error_set(err, IFLOW_ECORRUPT, "%s: its training noise was drawn with "
                           "noise_generator = %s, the config says %s", path,
                           iflow_normals_name(st->rng.normals),
                           iflow_normals_name(st->cfg.noise_generator));
}

/* The run directory: created, writable, locked against a concurrent run. */
static int open_dir(run_state *st, iflow_error *err) {
    int rc = iflow_mkdirs(st->dir, err);
    char path[1100];
    if (!rc) rc = iflow_path_join(path, sizeof path, st->dir, "checkpoints", err);
    if (!rc) rc = iflow_mkdirs(path, err);
    if (!rc) rc = iflow_path_join(path, sizeof path, st->dir, ".lock", err);
    if (rc) return rc;
    st->lock_fd = open(path, O_RDWR | O_CREAT, 0666);
    if (st->lock_fd < 0)
        return iflow_error_set(err, IFLOW_EIO, "%s: cannot write in the run directory: %s",
                               st->dir, strerror(errno));
    if (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return iflow_error_set(err, IFLOW_EBUSY,
                               "%s: another infoflow run is using this directory", st->dir);
    if (!rc) rc = iflow_path_join(path, sizeof path, st->dir, "log.txt", err);
    if (!rc && !(st->log = fopen(path, "a")))
        rc = iflow_error_set(err, IFLOW_EIO, "%s: cannot write: %s", path, strerror(errno));
    return rc;
}

static int load_data(run_state *st, iflow_error *err) {
    const iflow_config *c = &st->cfg;
    iflow_dataset *all = NULL;
    int rc;
    int idx = !strcmp(c->data_format, "idx");
    if (idx)
        rc = iflow_dataset_load_idx(c->data_file, c->data_labels, c->max_rows, &all, err);
    else
        rc = iflow_dataset_load_csv(c->data_file, &all, err);
    if (rc) return rc;
    if (!idx && c->max_rows > 0 && c->max_rows < all->n) all->n = c->max_rows; /* as for IDX */
    char where[IFLOW_PATH_MAX + 16];
    if (c->layers_line) snprintf(where, sizeof where, "%s:%d", c->path, c->layers_line);
    else snprintf(where, sizeof where, "%s", c->path);
    if (all->d != c->widths[0] && c->n_blocks) {
        rc = iflow_error_set(err, IFLOW_EINVAL,
                             "%s: data rows have %zu values but [net] input %zux%zux%zu has %zu",
                             where, all->d, c->input.c, c->input.h, c->input.w, c->widths[0]);
    } else if (all->d != c->widths[0]) {
        rc = iflow_error_set(err, IFLOW_EINVAL,
                             "%s: data has %zu features but [net] layers starts with %zu",
                             where, all->d, c->widths[0]);
    } else if (all->n_classes > c->widths[c->n_widths - 1]) {
        rc = iflow_error_set(err, IFLOW_EINVAL,
                             "%s: data has labels up to %zu but [net] layers ends with %zu outputs",
                             where, all->n_classes - 1, c->widths[c->n_widths - 1]);
    }
    if (!rc && idx && c->test_file[0]) {
        rc = iflow_dataset_load_idx(c->test_file, c->test_labels, c->max_rows, &st->test, err);
        st->train = all;
        all = NULL;
    } else if (!rc) {
        iflow_split *sp = NULL;
        rc = c->test_split[0] ? iflow_split_from_file(c->test_split, all->n, &sp, err)
                              : iflow_split_fraction(all->n, c->test_fraction, c->split_seed, &sp,
                                                     err);
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
    if (!rc && st->cluster_set && !run_cluster_usable(st->cluster_set, c->cluster_k, why,
                                                      sizeof why)) {
        say(st, "clustering measures skipped: %s", why);
        iflow_dataset_free(st->cluster_set);
        st->cluster_set = NULL;
    }
    if (rc) {
        iflow_dataset_free(all);
        return rc;
    }
    if (c->mi_inputs > 0 && c->mi_inputs < all->n) {
        size_t *perm = malloc(all->n * sizeof *perm);
        if (!perm) rc = iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
        if (!rc) {
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

/* info.csv: constants the figures mark (ln m, H(Y)). */
static int write_info(run_state *st, iflow_error *err) {
    const iflow_dataset *in = st->inputs;
    size_t nc = in->n_classes, *counts = calloc(nc ? nc : 1, sizeof *counts);
    if (!counts)
        return iflow_error_set(err, IFLOW_ENOMEM, "info.csv: out of memory for %zu classes", nc);
    for (size_t i = 0; i < in->n; i++)
        if (in->y[i] >= 0 && (size_t)in->y[i] < nc) counts[in->y[i]]++;
    double hy = 0; /* H(Y) over every class (it counted only the first 1024) */
    for (size_t c = 0; c < nc; c++)
        if (counts[c]) {
            double p = (double)counts[c] / (double)in->n;
            hy -= p * log(p);
        }
    free(counts);
    char path[1100];
    iflow_atomic a;
    int rc = iflow_path_join(path, sizeof path, st->dir, "info.csv", err);
    if (!rc) rc = iflow_atomic_open(&a, path, err);
    if (rc) return rc;
    fprintf(a.f, "key,value\nm,%zu\nH_Y,%.10g\nln_m,%.10g\nactivation,%s\nbeta,%.10g\n", in->n,
            hy, log((double)in->n), iflow_activation_name(st->cfg.activation), st->cfg.beta);
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
        say(st, "net: %s", line);
    return rc;
}

static int build_model(run_state *st, iflow_error *err) {
    const iflow_config *c = &st->cfg;
    int rc = iflow_config_net(c, &st->net, err);
    if (!rc) rc = iflow_optim_new(&c->optim, st->net->n_params, &st->opt, err);
    if (!rc) rc = iflow_trainer_new(st->net, st->train->n, c->batch, &st->trainer, err);
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

static int save_checkpoint(run_state *st, long epoch, iflow_error *err) {
    char path[1200];
    checkpoint_path(st, epoch, path, sizeof path);
    iflow_checkpoint_meta meta = {.epoch = epoch, .config_hash = st->config_hash};
    int rc = iflow_checkpoint_save(path, &meta, st->net, st->opt, &st->rng, err);
    if (rc) return rc;
    /* Thin: the previous epoch's checkpoint goes unless the keep rule or an MI epoch wants it. */
    long prev = epoch - 1;
    if (prev >= 0 && prev != st->resumed_from && !contains(st->keep_epochs, st->n_keep, prev) &&
        !contains(st->mi_epochs, st->n_mi, prev) && strcmp(st->cfg.checkpoint_keep, "all")) {
        checkpoint_path(st, prev, path, sizeof path);
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
        iflow_evaluate(st->net, te->x, te->y, te->n, NULL, st->eval_ws, rows,
                       &m->test_loss_clean, &m->test_acc_clean);
    } else {
        m->test_loss = m->test_acc = m->test_loss_clean = m->test_acc_clean = NAN;
    }
}

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

/* Forwards the estimator's stages to the run's progress display, with the run's fraction done
 * (so the ETA stays that of the whole run). */
typedef struct mi_progress {
    run_state *st;
    long epoch;
} mi_progress;

static void forward_progress(void *user, const char *stage, double fraction) {
    (void)fraction;
    const mi_progress *p = user;
    char line[160];
    snprintf(line, sizeof line, "epoch %ld/%ld  measuring information: %s", p->epoch,
             p->st->cfg.epochs, stage);
    p->st->o->progress(p->st->o->progress_user, line,
                       (double)p->epoch / (double)(p->st->cfg.epochs > 0 ? p->st->cfg.epochs : 1));
}

/* Appends the rows of one measured epoch: activations and scatter of the net as it is, then
 * binned.csv and mi.csv from info (measured here or on another rank); `seconds` for the log. */
static int record(run_state *st, const iflow_net *net, long epoch, const iflow_layer_info *info,
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
                                          epoch, l, net->widths[l], net->act, t, in->y, in->n,
                                          err);
    }
    free(t);
    if (!rc && st->clusters.f)
        rc = run_cluster_epoch(net, st->cluster_set, epoch, st->cfg.cluster_k, st->cfg.threads,
                               &st->clusters, scatter_epoch(st, epoch) ? &st->cos_hist : NULL,
                               err);
    /* mi.csv last: a full set of its rows marks the epoch complete (see catch_up). */
    if (!rc) rc = runlog_write_mi(&st->mi, &st->binned, epoch, info, H, err);
    if (rc) return rc;
    char line[1024];
    int pos = snprintf(line, sizeof line, "epoch %ld: I(X;T) =", epoch);
    for (size_t l = 0; l < H && pos < (int)sizeof line - 16; l++)
        pos += info[l].has_sp ? snprintf(line + pos, sizeof line - (size_t)pos, " %.3f",
                                         info[l].ixt.mi.value)
                              : snprintf(line + pos, sizeof line - (size_t)pos, " -");
    say(st, "%s nats (%.1f s)", line, seconds + iflow_now_seconds() - t0);
    st->n_measured++;
    return 0;
}

/* Measures information at `epoch` with the net as it is and appends the rows. */
static int measure(run_state *st, const iflow_net *net, long epoch, iflow_error *err) {
    iflow_layer_info info[IFLOW_MAX_LAYERS];
    const iflow_dataset *in = st->inputs;
    double t0 = iflow_now_seconds();
    mi_progress mp = {st, epoch};
    int rc = iflow_mi_measure(net, in->x, in->y, in->n, net->widths[net->n_layers], epoch,
                              &st->mi_opts, info, st->o->progress ? forward_progress : NULL, &mp,
                              err);
    return rc ? rc : record(st, net, epoch, info, iflow_now_seconds() - t0, err);
}

/* Draws the figures; a failure is logged, and returned (err may be NULL) for the final plot. */
static int plot(run_state *st, iflow_error *err) {
    iflow_plot_options po = {.bits = 0, .verbose_notes = 1};
    char notes[2048] = "";
    int n = 0;
    iflow_error e = {0};
    int rc = iflow_plot_run(st->dir, st->dir, &po, notes, sizeof notes, &n, &e);
    if (rc) {
        say(st, "plot failed: %s", e.msg);
        return iflow_error_set(err, rc, "%s: the run is complete but its figures were not "
                               "written: %s (infoflow plot %s draws them again)", st->dir, e.msg,
                               st->dir);
    }
    say(st, "wrote %d figures to %s", n, st->dir);
    return 0;
}

static int cmp_long_asc(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static int cmp_long_desc(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x < y) - (x > y);
}

/* Epochs of the checkpoints in dir/checkpoints, newest first. */
static int list_checkpoints(const char *dir, long **out, size_t *n, iflow_error *err) {
    char path[1100];
    int rc = iflow_path_join(path, sizeof path, dir, "checkpoints", err);
    if (rc) return rc;
    *out = NULL;
    *n = 0;
    DIR *d = opendir(path);
    if (!d) return 0;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        long epoch;
        char tail[8];
        if (sscanf(e->d_name, "epoch-%ld.ck%7s", &epoch, tail) != 2 || strcmp(tail, "pt"))
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            long *grown = realloc(*out, cap * sizeof *grown);
            if (!grown) {
                closedir(d);
                return iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
            }
            *out = grown;
        }
        (*out)[(*n)++] = epoch;
    }
    closedir(d);
    if (*n > 1) qsort(*out, *n, sizeof **out, cmp_long_desc); /* qsort(NULL, 0) is UB */
    return 0;
}

/* Loads the newest checkpoint that passes every check; *epoch = -1 if none. */
static int resume_point(run_state *st, long *epoch, iflow_error *err) {
    long *epochs = NULL;
    size_t n = 0;
    int rc = list_checkpoints(st->dir, &epochs, &n, err);
    *epoch = -1;
    iflow_error e = {0};
    for (size_t i = 0; i < n && !rc && *epoch < 0; i++) {
        char path[1200];
        checkpoint_path(st, epochs[i], path, sizeof path);
        iflow_checkpoint_meta meta;
        if (iflow_checkpoint_load(path, &meta, st->net, st->opt, &st->rng, &e) == 0 &&
            check_meta(st, path, epochs[i], &meta, &e) == 0 && check_normals(st, path, &e) == 0)
            *epoch = meta.epoch;
        else
            say(st, "skipping checkpoint: %s", e.msg);
    }
    free(epochs);
    /* Starting from scratch would overwrite the run those checkpoints belong to. */
    if (!rc && n > 0 && *epoch < 0)
        rc = iflow_error_set(err, IFLOW_ECORRUPT,
                             "%s: none of its %zu checkpoints can be resumed (the last said: "
                             "%.600s); refusing to start over this run: use another --out",
                             st->dir, n, e.msg);
    return rc;
}

/* mi.csv gains the k-sliced columns only when slicing is on: other runs' files stay as they
 * were. */
static const char *mi_header(const run_state *st) {
    return runlog_mi_header(st->cfg.slice_dim > 0);
}

static int open_logs(run_state *st, iflow_error *err) {
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

static int trim_logs(run_state *st, long epoch, iflow_error *err) {
    static const char *const names[] = {"metrics.csv", "mi.csv",         "binned.csv",
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
    static const char *const names[] = {"mi.csv",         "binned.csv",     "activations.csv",
                                        "scatter.csv",    "clustering.csv", "cosine_hist.csv"};
    const char *headers[] = {mi_header(st),         RUNLOG_BINNED_HEADER,
                             RUNLOG_ACTIVATIONS_HEADER, RUNLOG_SCATTER_HEADER,
                             RUN_CLUSTER_HEADER,     RUN_COSINE_HIST_HEADER};
    runlog *files[] = {&st->mi, &st->binned, &st->acts, &st->scatter, &st->clusters,
                       &st->cos_hist};
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
 * is left to `infoflow estimate`; measuring it here would first drop every later row. */
static int catch_up(run_state *st, long epoch, iflow_error *err) {
    long last_logged = runlog_last_epoch(st->dir, "mi.csv");
    for (size_t i = 0; i < st->n_mi && st->mi_epochs[i] <= epoch; i++) {
        long e = st->mi_epochs[i];
        if (runlog_epoch_rows(st->dir, "mi.csv", e) == st->net->n_layers - 1) continue;
        char path[1200];
        checkpoint_path(st, e, path, sizeof path);
        if (e < last_logged || access(path, F_OK) != 0) {
            say(st, "epoch %ld was not measured before (the [estimate] epochs changed%s); "
                    "measure it with infoflow estimate",
                e, access(path, F_OK) ? " and its checkpoint was not kept" : "");
            continue;
        }
        iflow_net *copy;
        int rc = iflow_net_clone_shape(st->net, &copy, err);
        if (rc) return rc;
        iflow_checkpoint_meta meta;
        rc = iflow_checkpoint_load(path, &meta, copy, NULL, NULL, err);
        if (!rc) rc = check_meta(st, path, e, &meta, err);
        if (!rc) rc = retrim_mi_logs(st, e - 1, err); /* rows of e cut off mid-write */
        if (!rc) last_logged = e;
        if (!rc) {
            say(st, "measuring epoch %ld, interrupted before", e);
            rc = measure(st, copy, e, err);
        }
        iflow_net_free(copy);
        if (rc) return rc;
    }
    return 0;
}

static int one_epoch(run_state *st, long epoch, iflow_error *err) {
    double t0 = iflow_now_seconds();
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
        return iflow_error_set(err, rc, "training diverged at epoch %ld: %s; the last good "
                               "checkpoint is epoch %ld (%s)", epoch, msg, epoch - 1,
                               beta_max > 1e6 ? "the noise std [net] beta is huge: its square "
                                                "enters the gradients and overflows"
                                              : "lower lr?");
    }
    if (!rc && contains(st->mi_epochs, st->n_mi, epoch)) {
        rc = measure(st, st->net, epoch, err);
        if (!rc && st->o->plot && st->cfg.plot_every > 0 &&
            st->n_measured % (size_t)st->cfg.plot_every == 0)
            plot(st, NULL); /* logged; training goes on */
    }
    if (!rc && st->o->progress) {
        char stage[160];
        snprintf(stage, sizeof stage, "epoch %ld/%ld  loss %.4f  train %.2f%%  test %.2f%%",
                 epoch, st->cfg.epochs, m.train_loss_clean, 100 * m.train_acc_clean,
                 100 * m.test_acc_clean);
        st->o->progress(st->o->progress_user, stage, (double)epoch / (double)st->cfg.epochs);
    }
    return rc;
}

/* config.ini records absolute data paths; in a moved or re-cloned run directory they may not
 * exist any more. Such paths are replaced by the current config's, whose files are then compared
 * by content through the hash. */
static void adopt_moved_paths(iflow_config *old, const iflow_config *now) {
    struct {
        char *o;
        const char *n;
    } f[] = {{old->data_file, now->data_file},
             {old->data_labels, now->data_labels},
             {old->test_split, now->test_split},
             {old->test_file, now->test_file},
             {old->test_labels, now->test_labels}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].o[0] && access(f[i].o, R_OK) != 0) snprintf(f[i].o, IFLOW_PATH_MAX, "%s", f[i].n);
}

/* What a resumed run must share with the original: everything that affects training except the
 * number of epochs (a run may be extended), with data files by content. */
static uint64_t resume_hash(const iflow_config *c) {
    iflow_config tmp = *c;
    tmp.epochs = 0;
    return iflow_config_hash(&tmp);
}

/* dir/config.hash holds resume_hash of the run's config as 16 hex digits: the original data's
 * contents are remembered even if the files are later changed in place. */
static int read_hash(const char *path, uint64_t *h) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    unsigned long long v;
    int ok = fscanf(f, "%16llx", &v) == 1;
    fclose(f);
    *h = v;
    return ok ? 0 : -1;
}

static int write_hash(const char *path, uint64_t h, iflow_error *err) {
    iflow_atomic a;
    int rc = iflow_atomic_open(&a, path, err);
    if (rc) return rc;
    fprintf(a.f, "%016llx\n", (unsigned long long)h);
    return iflow_atomic_commit(&a, err);
}

/* A new run into an existing directory: files a run writes that are there without config.hash
 * (which a run writes first, so an earlier attempt that failed has it) are the user's, e.g.
 * `--out .` beside a config named config.ini: refused rather than overwritten. */
static int check_foreign_files(const run_state *st, const char *hpath, iflow_error *err) {
    static const char *const ours[] = {"config.ini", "mi.csv", "binned.csv", "activations.csv",
                                       "scatter.csv", "info.csv", "summary.png",
                                       "info_plane.png"};
    if (access(hpath, F_OK) == 0) return 0;
    for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++) {
        char path[1100];
        if (iflow_path_join(path, sizeof path, st->dir, ours[i], NULL) == 0 &&
            access(path, F_OK) == 0)
            return iflow_error_set(err, IFLOW_EINVAL, "%s: already there and not from an infoflow "
                                   "run (no config.hash beside it); refusing to overwrite it: use "
                                   "another --out", path);
    }
    return 0;
}

/* A resume may extend a run, never shorten it: config.ini would then describe fewer epochs
 * than the run's files hold. */
static int check_not_shorter(const run_state *st, const char *path, iflow_error *err) {
    iflow_config old;
    iflow_error e;
    if (access(path, F_OK) != 0 || iflow_config_load(path, &old, &e) != 0) return 0;
    if (st->cfg.epochs >= old.epochs) return 0;
    return iflow_error_set(err, IFLOW_EINVAL,
                           "%s: the run has [train] epochs = %ld; resuming with %ld would shorten "
                           "it (nothing was changed): resume with epochs >= %ld, or use another "
                           "--out",
                           path, old.epochs, st->cfg.epochs, old.epochs);
}

/* The effective config: a new run writes it; a resumed one must match it (epochs may grow). */
static int check_config(run_state *st, iflow_error *err) {
    char path[1100], hpath[1100];
    int rc = iflow_path_join(path, sizeof path, st->dir, "config.ini", err);
    if (!rc) rc = iflow_path_join(hpath, sizeof hpath, st->dir, "config.hash", err);
    if (rc) return rc;
    uint64_t now = resume_hash(&st->cfg), then;
    if (st->o->resume && read_hash(hpath, &then) == 0) {
        if (then != now)
            return iflow_error_set(err, IFLOW_EINVAL,
                                   "%s: the config or its data differ from the ones this run was "
                                   "started with; resume with those or use another --out",
                                   path);
    } else if (st->o->resume && access(path, F_OK) == 0) {
        /* A run directory from before config.hash existed: compare with its config.ini. */
        iflow_config old;
        if ((rc = iflow_config_load(path, &old, err))) return rc;
        adopt_moved_paths(&old, &st->cfg);
        if (resume_hash(&old) != now)
            return iflow_error_set(err, IFLOW_EINVAL,
                                   "%s: the config differs from the one this run was started "
                                   "with; resume with that config or use another --out",
                                   path);
    } else if (!st->o->resume) {
        char metrics[1100];
        iflow_path_join(metrics, sizeof metrics, st->dir, "metrics.csv", NULL);
        if (access(metrics, F_OK) == 0)
            return iflow_error_set(err, IFLOW_EINVAL,
                                   "%s already holds a run; use --resume to continue it, or "
                                   "another --out",
                                   st->dir);
        if ((rc = check_foreign_files(st, hpath, err))) return rc;
    }
    if (st->o->resume && (rc = check_not_shorter(st, path, err))) return rc;
    rc = iflow_config_write(&st->cfg, path, err);
    return rc ? rc : write_hash(hpath, now, err);
}

static void release(run_state *st) {
    runlog *logs[] = {&st->metrics, &st->mi,      &st->binned,  &st->acts,
                      &st->scatter, &st->clusters, &st->cos_hist};
    for (size_t i = 0; i < sizeof logs / sizeof logs[0]; i++) runlog_close(logs[i]);
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

static int prepare(run_state *st, iflow_error *err) {
    const iflow_config *c = &st->cfg;
    int rc = iflow_config_validate(c, err);
    st->config_hash = resume_hash(c); /* as config.hash: a run may be extended */
    if (!rc) rc = iflow_epochs_expand(c->mi_epochs, c->epochs, &st->mi_epochs, &st->n_mi, err);
    if (!rc) {
        const char *keep = c->checkpoint_keep;
        if (!strcmp(keep, "all") || !strcmp(keep, "last")) keep = "none";
        rc = iflow_epochs_expand(keep, c->epochs, &st->keep_epochs, &st->n_keep, err);
    }
    if (!rc) rc = open_dir(st, err);
    if (!rc) rc = check_config(st, err);
    if (!rc) rc = load_data(st, err);
    if (!rc) rc = write_info(st, err);
    if (!rc) rc = build_model(st, err);
    if (!rc) rc = write_net_txt(st, err);
    iflow_mi_options_from_config(c, &st->mi_opts);
    return rc;
}

static int run_body(const iflow_config *cfg, const iflow_run_options *opts, iflow_error *err) {
    run_state st = {.cfg = *cfg, .o = opts, .lock_fd = -1, .resumed_from = -1};
    snprintf(st.dir, sizeof st.dir, "%s", cfg->out_dir);
    int rc = prepare(&st, err);
    long start = -1;
    if (!rc && opts->resume) {
        rc = resume_point(&st, &start, err);
        st.resumed_from = start; /* kept under the rules it was written with */
        if (!rc && start >= 0) say(&st, "resuming after epoch %ld", start);
        if (!rc && start < 0) say(&st, "no usable checkpoint: starting from scratch");
        if (!rc) rc = trim_logs(&st, start, err);
    }
    if (!rc) rc = open_logs(&st, err);
    if (!rc && start >= 0) rc = catch_up(&st, start, err);
    if (!rc && start < 0)
        say(&st, "training %zu rows (test %zu), MI on %zu inputs at %zu epochs, into %s",
            st.train->n, st.test->n, st.inputs->n, st.n_mi, st.dir);
    long done = 0;
    for (long e = start + 1; !rc && e <= cfg->epochs; e++) {
        rc = one_epoch(&st, e, err);
        if (!rc && e > 0 && opts->stop_after > 0 && ++done >= opts->stop_after) break;
    }
    if (rc)
        say(&st, "stopped: %s", err->msg);
    else if (opts->plot)
        rc = plot(&st, err);
    release(&st);
    return rc;
}

int iflow_run(const iflow_config *cfg, const iflow_run_options *opts, iflow_error *err) {
    int blas = iflow_blas_serial_begin(); /* blas.h: the numbers must not depend on it */
    int rc = run_body(cfg, opts, err);
    iflow_blas_serial_end(blas);
    return rc;
}

int iflow_run_load_config(const char *dir, iflow_config *cfg, iflow_error *err) {
    char path[1100];
    int rc = iflow_path_join(path, sizeof path, dir, "config.ini", err);
    if (!rc && access(path, R_OK) != 0)
        return iflow_error_set(err, IFLOW_EIO, "%s: not a run directory (no readable config.ini)",
                               dir);
    return rc ? rc : iflow_config_load(path, cfg, err);
}

/* Output files of `infoflow estimate`: beside the run's own logs, or replacing them. They are
 * written as NAME.new and renamed at the end, so a killed or failed estimate leaves no partial
 * file and a re-run never appends to the rows of an earlier one. */
static int estimate_path(const run_state *st, const iflow_estimate_options *o, size_t i,
                         const char *sfx, char *path, size_t n, iflow_error *err) {
    static const char *const base[] = {"mi", "binned", "activations", "scatter"};
    char name[IFLOW_PATH_MAX];
    int len = i == 0 && o->out_file
                  ? snprintf(name, sizeof name, "%s%s", o->out_file, sfx)
                  : snprintf(name, sizeof name, "%s%s%s", base[i],
                             o->replace ? ".csv" : "-estimate.csv", sfx);
    if (len < 0 || (size_t)len >= sizeof name)
        return iflow_error_set(err, IFLOW_EINVAL, "%s: output name too long", o->out_file);
    return iflow_path_join(path, n, st->dir, name, err);
}

static int open_estimate_logs(run_state *st, const iflow_estimate_options *o, iflow_error *err) {
    const char *hdr[] = {runlog_mi_header(o->mi.slice_dim > 0), RUNLOG_BINNED_HEADER, RUNLOG_ACTIVATIONS_HEADER,
                         RUNLOG_SCATTER_HEADER};
    runlog *files[] = {&st->mi, &st->binned, &st->acts, &st->scatter};
    for (size_t i = 0; i < 4; i++) {
        char path[IFLOW_PATH_MAX + 100];
        int rc = estimate_path(st, o, i, ".new", path, sizeof path, err);
        if (!rc) remove(path); /* left by a killed estimate */
        if (!rc) rc = runlog_open(NULL, path, hdr[i], files[i], err);
        if (rc) return rc;
    }
    return 0;
}

/* Closes the four files and renames them into place (rc == 0), or removes them. */
static int finish_estimate(run_state *st, const iflow_estimate_options *o, int rc,
                           iflow_error *err) {
    runlog *files[] = {&st->mi, &st->binned, &st->acts, &st->scatter};
    for (size_t i = 0; i < 4; i++) {
        char from[IFLOW_PATH_MAX + 100], to[IFLOW_PATH_MAX + 100];
        if (!files[i]->f) continue;
        int bad = runlog_close(files[i]) != 0;
        if (estimate_path(st, o, i, ".new", from, sizeof from, NULL) ||
            estimate_path(st, o, i, "", to, sizeof to, NULL))
            continue; /* open_estimate_logs opened it, so both fit */
        if (!rc && bad)
            rc = iflow_error_set(err, IFLOW_EIO, "%s: write failed: %s", from, strerror(errno));
        if (!rc && rename(from, to) != 0)
            rc = iflow_error_set(err, IFLOW_EIO, "%s: cannot rename to %s: %s", from, to,
                                 strerror(errno));
        if (rc) remove(from);
    }
    return rc;
}

/* --out NAME: a plain .csv name in the run directory that is none of the run's own files; an
 * existing file is replaced only if it is an earlier estimate's (its header is mi.csv's). */
static int check_out_name(const char *dir, const char *name, iflow_error *err) {
    static const char *const own[] = {"mi.csv", "binned.csv", "activations.csv", "scatter.csv",
                                      "metrics.csv", "info.csv", "mi-mean.csv",
                                      "metrics-mean.csv", "binned-estimate.csv",
                                      "activations-estimate.csv", "scatter-estimate.csv"};
    size_t len = strlen(name);
    if (!*name || strchr(name, '/') || name[0] == '.' || len < 5 || strcmp(name + len - 4, ".csv"))
        return iflow_error_set(err, IFLOW_EINVAL, "--out '%s': give a file name ending in .csv "
                               "(written inside %s; no '/', not starting with '.')", name, dir);
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (!strcmp(name, own[i]))
            return iflow_error_set(err, IFLOW_EINVAL, "--out '%s' is one of the run's own files; "
                                   "choose another name (or --replace for mi.csv)", name);
    char path[IFLOW_PATH_MAX + 100], head[512] = "";
    int rc = iflow_path_join(path, sizeof path, dir, name, err);
    FILE *f = rc ? NULL : fopen(path, "r");
    if (!f) return rc;
    static const char mi_prefix[] = "epoch,layer,width,I_XT,"; /* old and new layouts */
    int ours = fgets(head, sizeof head, f) && !strncmp(head, mi_prefix, sizeof mi_prefix - 1);
    fclose(f);
    if (!ours)
        return iflow_error_set(err, IFLOW_EINVAL, "--out '%s': %s exists and is not an earlier "
                               "estimate's output; choose another name", name, path);
    return 0;
}

/* The epochs and layers asked for must exist: an estimate that measures nothing would replace
 * an earlier output with an empty file. */
static int check_selection(const run_state *st, const iflow_estimate_options *o, size_t n,
                           iflow_error *err) {
    const char *spec = o->epochs ? o->epochs : st->cfg.mi_epochs;
    long *wide = NULL;
    size_t n_wide = 0;
    int rc = iflow_epochs_expand(spec, IFLOW_MAX_EPOCHS, &wide, &n_wide, err);
    long beyond = rc == 0 && n_wide > n ? wide[n] : -1; /* wide is sorted: the first dropped */
    free(wide);
    if (rc == 0 && isdigit((unsigned char)spec[0]) && beyond >= 0)
        return iflow_error_set(err, IFLOW_EINVAL, "--epochs '%s': epoch %ld is beyond the run's "
                               "last epoch %ld", spec, beyond, st->cfg.epochs);
    if (rc == 0 && n == 0)
        return iflow_error_set(err, IFLOW_EINVAL, "epochs '%s' select no epoch of the run (0 to "
                               "%ld): nothing to measure", spec, st->cfg.epochs);
    size_t hidden = st->net->n_layers - 1;
    for (size_t i = 0; rc == 0 && i < o->mi.layer_mask_n; i++)
        if (o->mi.layers[i] < 1 || o->mi.layers[i] > hidden)
            return iflow_error_set(err, IFLOW_EINVAL, "--layers: %zu is not a hidden layer of "
                                   "this net (1 to %zu)", o->mi.layers[i], hidden);
    return rc;
}

/* `estimate` in an MPI job (dist.h): the (epoch, layer) units go round-robin to the ranks
 * (spread.c), each rank loading the checkpoints of its epochs; rank 0 then writes the epochs
 * in order from the gathered results, as the single-process loop does. */
typedef struct spread_ctx {
    run_state *st;
    const long *epochs;
} spread_ctx;

static int spread_unit(void *user, size_t item, const iflow_mi_options *mi,
                       iflow_layer_info *out, iflow_error *err) {
    const spread_ctx *c = user;
    run_state *st = c->st;
    char path[1200], layers[64] = "";
    for (size_t k = 0, pos = 0; k < mi->layer_mask_n && pos < sizeof layers; k++)
        pos += (size_t)snprintf(layers + pos, sizeof layers - pos, "%s%zu", k ? "," : "",
                                mi->layers[k]);
    iflow_dist_set_task("epoch %ld, layer%s %s", c->epochs[item], mi->layer_mask_n > 1 ? "s" : "",
                        layers);
    checkpoint_path(st, c->epochs[item], path, sizeof path);
    iflow_checkpoint_meta meta;
    const iflow_dataset *in = st->inputs;
    int rc = iflow_checkpoint_load(path, &meta, st->net, NULL, NULL, err);
    if (!rc) rc = check_meta(st, path, c->epochs[item], &meta, err);
    if (!rc)
        rc = iflow_mi_measure(st->net, in->x, in->y, in->n, st->net->widths[st->net->n_layers],
                              c->epochs[item], mi, out, NULL, NULL, err);
    iflow_dist_set_task("%s", "");
    return rc;
}

static int estimate_spread(run_state *st, const long *epochs, size_t n, iflow_error *err) {
    size_t H = st->net->n_layers - 1;
    int root = iflow_dist_rank() == 0;
    iflow_layer_info *all = root ? malloc((n ? n : 1) * H * sizeof *all) : NULL;
    int rc = iflow_dist_agree(root && !all ? iflow_error_set(err, IFLOW_ENOMEM, "out of memory")
                                           : 0, err);
    spread_ctx c = {st, epochs};
    if (!rc) rc = iflow_spread_units(n, H, &st->mi_opts, spread_unit, &c, all, err);
    for (size_t i = 0; root && i < n && !rc; i++) {
        char path[1200];
        checkpoint_path(st, epochs[i], path, sizeof path);
        iflow_checkpoint_meta meta;
        double seconds = 0;
        for (size_t l = 0; l < H; l++) seconds += all[i * H + l].seconds;
        rc = iflow_checkpoint_load(path, &meta, st->net, NULL, NULL, err);
        if (!rc) rc = record(st, st->net, epochs[i], all + i * H, seconds, err);
    }
    free(all);
    return iflow_dist_agree(rc, err);
}

/* --replace rewrites mi.csv and its siblings: every epoch they hold must be measured again, and
 * every layer, or rows the run measured would be lost (measure a subset beside them). */
static int check_replace(const run_state *st, const iflow_estimate_options *o,
                         const long *epochs, size_t n, iflow_error *err) {
    char path[1100];
    int rc = iflow_path_join(path, sizeof path, st->dir, "mi.csv", err);
    iflow_csv *mi = NULL;
    const double *ep = NULL;
    if (rc || access(path, F_OK) != 0) return rc;
    if (o->mi.layer_mask_n > 0)
        return iflow_error_set(err, IFLOW_EINVAL, "--replace with --layers would drop the other "
                               "layers' rows from %s; measure a subset without --replace", path);
    rc = iflow_csv_read(path, &mi, err);
    if (!rc) rc = iflow_csv_numbers(mi, "epoch", &ep, err);
    for (size_t i = 0; !rc && i < mi->n_rows; i++) {
        long e = (long)ep[i];
        if (!bsearch(&e, epochs, n, sizeof *epochs, cmp_long_asc))
            rc = iflow_error_set(err, IFLOW_EINVAL, "--replace would drop the rows of epoch %ld "
                                 "from %s: include it in --epochs, or measure without --replace",
                                 e, path);
    }
    iflow_csv_free(mi);
    return rc;
}

static int estimate_body(const char *dir, const iflow_estimate_options *o, iflow_error *err) {
    iflow_run_options ro = {.progress = o->progress, .progress_user = o->progress_user};
    run_state st = {.o = &ro, .lock_fd = -1};
    snprintf(st.dir, sizeof st.dir, "%s", dir);
    int root = iflow_dist_rank() == 0; /* in an MPI job, rank 0 alone locks and writes */
    int rc = iflow_run_load_config(dir, &st.cfg, err);
    if (!rc && o->out_file) rc = check_out_name(dir, o->out_file, err);
    if (!rc) st.config_hash = resume_hash(&st.cfg);
    if (!rc && root) rc = open_dir(&st, err);
    if (!rc) rc = load_data(&st, err);
    if (!rc) rc = build_model(&st, err);
    long *epochs = NULL;
    size_t n = 0;
    if (!rc)
        rc = iflow_epochs_expand(o->epochs ? o->epochs : st.cfg.mi_epochs, st.cfg.epochs, &epochs,
                                 &n, err);
    if (!rc) rc = check_selection(&st, o, n, err);
    if (!rc && o->replace) rc = check_replace(&st, o, epochs, n, err);
    for (size_t i = 0; i < n && !rc; i++) { /* every checkpoint must exist before work starts */
        char path[1200];
        checkpoint_path(&st, epochs[i], path, sizeof path);
        if (access(path, R_OK) != 0)
            rc = iflow_error_set(err, IFLOW_EINVAL, "%s: no checkpoint for epoch %ld", path,
                                 epochs[i]);
    }
    if (!rc && root) rc = open_estimate_logs(&st, o, err);
    rc = iflow_dist_agree(rc, err);
    st.mi_opts = o->mi; /* already merged with the run's config by the caller */
    if (!rc && iflow_dist_size() > 1) rc = estimate_spread(&st, epochs, n, err);
    for (size_t i = 0; i < n && !rc && iflow_dist_size() == 1; i++) {
        char path[1200];
        checkpoint_path(&st, epochs[i], path, sizeof path);
        iflow_checkpoint_meta meta;
        rc = iflow_checkpoint_load(path, &meta, st.net, NULL, NULL, err);
        if (!rc) rc = check_meta(&st, path, epochs[i], &meta, err);
        if (!rc) rc = measure(&st, st.net, epochs[i], err);
    }
    if (root) rc = finish_estimate(&st, o, rc, err);
    free(epochs);
    release(&st);
    return rc;
}

int iflow_run_estimate(const char *dir, const iflow_estimate_options *o, iflow_error *err) {
    int blas = iflow_blas_serial_begin(); /* blas.h: the numbers must not depend on it */
    int rc = estimate_body(dir, o, err);
    iflow_blas_serial_end(blas);
    return rc;
}
