/* `infoflow estimate`: information measured again from the checkpoints of a finished run,
 * into new files or replacing its logs, on one process or spread over MPI ranks. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infoflow/checkpoint.h"
#include "blas.h"
#include "csvread.h"
#include "dist.h"
#include "io.h"
#include "run_internal.h"
#include "spread.h"

static int cmp_long_asc(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Output files of `infoflow estimate`: beside the run's own logs, or replacing them. They are
 * written as NAME.new and renamed at the end, so a killed or failed estimate leaves no partial
 * file and a re-run never appends to the rows of an earlier one. */
static int estimate_path(const run_state *st, const iflow_estimate_options *o, size_t i,
                         const char *sfx, char *path, size_t n, iflow_error *err) {
    static const char *const base[] = {"mi", "binned", "activations", "scatter"};
    char name[IFLOW_PATH_MAX];
    int len = i == 0 && o->out_file ? snprintf(name, sizeof name, "%s%s", o->out_file, sfx)
                                    : snprintf(name, sizeof name, "%s%s%s", base[i],
                                               o->replace ? ".csv" : "-estimate.csv", sfx);
    if (len < 0 || (size_t)len >= sizeof name)
        return iflow_error_set(err, IFLOW_EINVAL, "%s: output name too long", o->out_file);
    return iflow_path_join(path, n, st->dir, name, err);
}

static int open_estimate_logs(run_state *st, const iflow_estimate_options *o, iflow_error *err) {
    const char *hdr[] = {runlog_mi_header(o->mi.slice_dim > 0), RUNLOG_BINNED_HEADER,
                         RUNLOG_ACTIVATIONS_HEADER, RUNLOG_SCATTER_HEADER};
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
    static const char *const own[] = {"mi.csv",
                                      "binned.csv",
                                      "activations.csv",
                                      "scatter.csv",
                                      "metrics.csv",
                                      "info.csv",
                                      "mi-mean.csv",
                                      "metrics-mean.csv",
                                      "binned-estimate.csv",
                                      "activations-estimate.csv",
                                      "scatter-estimate.csv"};
    size_t len = strlen(name);
    if (!*name || strchr(name, '/') || name[0] == '.' || len < 5 ||
        strcmp(name + len - 4, ".csv") != 0)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "--out '%s': give a file name ending in .csv "
                               "(written inside %s; no '/', not starting with '.')",
                               name, dir);
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (!strcmp(name, own[i]))
            return iflow_error_set(err, IFLOW_EINVAL,
                                   "--out '%s' is one of the run's own files; "
                                   "choose another name (or --replace for mi.csv)",
                                   name);
    char path[IFLOW_PATH_MAX + 100], head[512] = "";
    int rc = iflow_path_join(path, sizeof path, dir, name, err);
    FILE *f = rc ? NULL : fopen(path, "r");
    if (!f) return rc;
    static const char mi_prefix[] = "epoch,layer,width,I_XT,"; /* old and new layouts */
    int ours = fgets(head, sizeof head, f) && !strncmp(head, mi_prefix, sizeof mi_prefix - 1);
    fclose(f);
    if (!ours)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "--out '%s': %s exists and is not an earlier "
                               "estimate's output; choose another name",
                               name, path);
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
        return iflow_error_set(err, IFLOW_EINVAL,
                               "--epochs '%s': epoch %ld is beyond the run's "
                               "last epoch %ld",
                               spec, beyond, st->cfg.epochs);
    if (rc == 0 && n == 0)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "epochs '%s' select no epoch of the run (0 to "
                               "%ld): nothing to measure",
                               spec, st->cfg.epochs);
    size_t hidden = st->net->n_layers - 1;
    for (size_t i = 0; rc == 0 && i < o->mi.layer_mask_n; i++)
        if (o->mi.layers[i] < 1 || o->mi.layers[i] > hidden)
            return iflow_error_set(err, IFLOW_EINVAL,
                                   "--layers: %zu is not a hidden layer of "
                                   "this net (1 to %zu)",
                                   o->mi.layers[i], hidden);
    return rc;
}

/* `estimate` in an MPI job (dist.h): the (epoch, layer) units go round-robin to the ranks
 * (spread.c), each rank loading the checkpoints of its epochs; rank 0 then writes the epochs
 * in order from the gathered results, as the single-process loop does. */
typedef struct spread_ctx {
    run_state *st;
    const long *epochs;
} spread_ctx;

static int spread_unit(void *user, size_t item, const iflow_mi_options *mi, iflow_layer_info *out,
                       iflow_error *err) {
    const spread_ctx *c = user;
    run_state *st = c->st;
    char path[1200], layers[64] = "";
    for (size_t k = 0, pos = 0; k < mi->layer_mask_n && pos < sizeof layers; k++)
        pos += (size_t)snprintf(layers + pos, sizeof layers - pos, "%s%zu", k ? "," : "",
                                mi->layers[k]);
    iflow_dist_set_task("epoch %ld, layer%s %s", c->epochs[item], mi->layer_mask_n > 1 ? "s" : "",
                        layers);
    run_checkpoint_path(st, c->epochs[item], path, sizeof path);
    iflow_checkpoint_meta meta;
    const iflow_dataset *in = st->inputs;
    int rc = iflow_checkpoint_load(path, &meta, st->net, NULL, NULL, err);
    if (!rc) rc = run_check_meta(st, path, c->epochs[item], &meta, err);
    if (!rc)
        rc = iflow_mi_measure(st->net, in->x, in->y, in->n, st->net->widths[st->net->n_layers],
                              c->epochs[item], mi, out, NULL, NULL, err);
    iflow_dist_set_task("%s", "");
    return rc;
}

static int estimate_spread(run_state *st, const long *epochs, size_t n, iflow_error *err) {
    size_t H = st->net->n_layers - 1;
    int root = st->root;
    iflow_layer_info *all = root ? malloc((n ? n : 1) * H * sizeof *all) : NULL;
    int rc = iflow_dist_agree(
        root && !all ? iflow_error_set(err, IFLOW_ENOMEM, "out of memory") : 0, err);
    spread_ctx c = {st, epochs};
    if (!rc) rc = iflow_spread_units(n, H, &st->mi_opts, spread_unit, &c, all, err);
    for (size_t i = 0; root && i < n && !rc; i++) {
        char path[1200];
        run_checkpoint_path(st, epochs[i], path, sizeof path);
        iflow_checkpoint_meta meta;
        double seconds = 0;
        /* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): root without all: rc != 0
         * (iflow_dist_agree) */
        for (size_t l = 0; l < H; l++) seconds += all[i * H + l].seconds;
        rc = iflow_checkpoint_load(path, &meta, st->net, NULL, NULL, err);
        if (!rc) rc = run_record(st, st->net, epochs[i], all + i * H, seconds, err);
    }
    free(all);
    return iflow_dist_agree(rc, err);
}

/* --replace rewrites mi.csv and its siblings: every epoch they hold must be measured again, and
 * every layer, or rows the run measured would be lost (measure a subset beside them). */
static int check_replace(const run_state *st, const iflow_estimate_options *o, const long *epochs,
                         size_t n, iflow_error *err) {
    char path[1100];
    int rc = iflow_path_join(path, sizeof path, st->dir, "mi.csv", err);
    iflow_csv *mi = NULL;
    const double *ep = NULL;
    if (rc || access(path, F_OK) != 0) return rc;
    if (o->mi.layer_mask_n > 0)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "--replace with --layers would drop the other "
                               "layers' rows from %s; measure a subset without --replace",
                               path);
    rc = iflow_csv_read(path, &mi, err);
    if (!rc) rc = iflow_csv_numbers(mi, "epoch", &ep, err);
    for (size_t i = 0; !rc && i < mi->n_rows; i++) {
        long e = (long)ep[i];
        if (!bsearch(&e, epochs, n, sizeof *epochs, cmp_long_asc))
            rc = iflow_error_set(err, IFLOW_EINVAL,
                                 "--replace would drop the rows of epoch %ld "
                                 "from %s: include it in --epochs, or measure without --replace",
                                 e, path);
    }
    iflow_csv_free(mi);
    return rc;
}

static int estimate_body(const char *dir, const iflow_estimate_options *o, iflow_error *err) {
    iflow_run_options ro = {.progress = o->progress, .progress_user = o->progress_user};
    /* In an MPI job, rank 0 alone locks and writes. */
    run_state st = {.o = &ro, .root = iflow_dist_rank() == 0, .lock_fd = -1};
    snprintf(st.dir, sizeof st.dir, "%s", dir);
    int rc = iflow_run_load_config(dir, &st.cfg, err);
    if (!rc && o->out_file) rc = check_out_name(dir, o->out_file, err);
    if (!rc) st.config_hash = run_resume_hash(&st.cfg);
    if (!rc && st.root) rc = run_open_dir(&st, err);
    if (!rc) rc = run_load_data(&st, err);
    if (!rc) rc = run_build_model(&st, err);
    long *epochs = NULL;
    size_t n = 0;
    if (!rc)
        rc = iflow_epochs_expand(o->epochs ? o->epochs : st.cfg.mi_epochs, st.cfg.epochs, &epochs,
                                 &n, err);
    if (!rc) rc = check_selection(&st, o, n, err);
    if (!rc && o->replace) rc = check_replace(&st, o, epochs, n, err);
    for (size_t i = 0; i < n && !rc; i++) { /* every checkpoint must exist before work starts */
        char path[1200];
        run_checkpoint_path(&st, epochs[i], path, sizeof path);
        if (access(path, R_OK) != 0)
            rc = run_missing_checkpoint(dir, epochs[i], st.cfg.checkpoint_keep, err);
    }
    st.estimating = 1, st.n_to_measure = n, st.t_begin = iflow_now_seconds();
    if (!rc && st.root) rc = open_estimate_logs(&st, o, err);
    rc = iflow_dist_agree(rc, err);
    st.mi_opts = o->mi; /* already merged with the run's config by the caller */
    if (!rc && iflow_dist_size() > 1) rc = estimate_spread(&st, epochs, n, err);
    for (size_t i = 0; i < n && !rc && iflow_dist_size() == 1; i++) {
        char path[1200];
        run_checkpoint_path(&st, epochs[i], path, sizeof path);
        iflow_checkpoint_meta meta;
        rc = iflow_checkpoint_load(path, &meta, st.net, NULL, NULL, err);
        if (!rc) rc = run_check_meta(&st, path, epochs[i], &meta, err);
        if (!rc) rc = run_measure(&st, st.net, epochs[i], err);
    }
    if (st.root) rc = finish_estimate(&st, o, rc, err);
    free(epochs);
    run_release(&st);
    return rc;
}

int iflow_run_estimate(const char *dir, const iflow_estimate_options *o, iflow_error *err) {
    int blas = iflow_blas_serial_begin(); /* blas.h: the numbers must not depend on it */
    int rc = estimate_body(dir, o, err);
    iflow_blas_serial_end(blas);
    return rc;
}
