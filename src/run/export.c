/* infoflow export: a run's net at one epoch as NumPy arrays in PyTorch's layouts, with the first
 * inputs of its data file and their noiseless hidden outputs S_l (docs/FORMATS.md). The files
 * are written into a fresh directory beside --out, renamed onto it once all are written. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "infoflow/checkpoint.h"
#include "infoflow/data.h"
#include "infoflow/run.h"
#include "io.h"
#include "run_internal.h"

typedef struct export_state {
    const char *out;
    iflow_config cfg;
    iflow_net *net;
    iflow_dataset *data;
    size_t n; /* inputs exported */
} export_state;

static int save_f8(const export_state *s, const char *name, const double *v, const size_t *shape,
                   size_t ndim, iflow_error *err) {
    char path[IFLOW_PATH_MAX + 64];
    int rc = iflow_path_join(path, sizeof path, s->out, name, err);
    return rc ? rc : iflow_npy_save_f8(path, v, shape, ndim, err);
}

/* weight-J.npy as (C_out, C_in, KH, KW) or (out, in), bias-J.npy (out,): W is stored C_out x
 * (C_in KH KW) row-major, which is exactly PyTorch's C-order layout. */
static int export_weights(const export_state *s, iflow_error *err) {
    const iflow_net *net = s->net;
    int rc = 0;
    for (size_t l = 1; l <= net->n_layers && !rc; l++) {
        const iflow_block *b = &net->block[l];
        char name[64];
        size_t conv[4] = {b->units, net->shape[l - 1].c, b->kh, b->kw};
        size_t dense[2] = {net->w_rows[l], net->w_cols[l]};
        int is_conv = b->kind == IFLOW_BLOCK_CONV;
        snprintf(name, sizeof name, "weight-%zu.npy", l);
        rc = save_f8(s, name, net->w[l], is_conv ? conv : dense, is_conv ? 4 : 2, err);
        snprintf(name, sizeof name, "bias-%zu.npy", l);
        if (!rc) rc = save_f8(s, name, net->b[l], &net->w_rows[l], 1, err);
    }
    return rc;
}

/* inputs.npy, labels.npy and S-L.npy of every hidden block L. */
static int export_activations(const export_state *s, iflow_error *err) {
    const iflow_net *net = s->net;
    const iflow_shape *in = &s->cfg.input;
    size_t n = s->n;
    size_t img[4] = {n, in->c, in->h, in->w}, flat[2] = {n, net->widths[0]};
    int rc = save_f8(s, "inputs.npy", s->data->x, in->c ? img : flat, in->c ? 4 : 2, err);
    int64_t *labels = malloc((n ? n : 1) * sizeof *labels);
    if (!labels) return iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) labels[i] = s->data->y[i];
    char path[IFLOW_PATH_MAX + 64];
    if (!rc) rc = iflow_path_join(path, sizeof path, s->out, "labels.npy", err);
    if (!rc) rc = iflow_npy_save_i8(path, labels, &n, 1, err);
    free(labels);
    size_t max_w = 0;
    for (size_t l = 1; l < net->n_layers; l++)
        max_w = net->widths[l] > max_w ? net->widths[l] : max_w;
    iflow_workspace *ws = NULL;
    double *out = NULL;
    if (!rc && max_w) rc = iflow_workspace_new(net, n < 256 ? n : 256, &ws, err);
    size_t count = 0;
    if (!rc && max_w && iflow_size_mul(n, max_w, &count))
        rc = iflow_error_set(err, IFLOW_EINVAL, "%zu inputs x %zu outputs overflow", n, max_w);
    if (!rc && max_w && !(out = iflow_alloc_array(count, sizeof *out, "hidden outputs", err)))
        rc = err ? err->code : IFLOW_ENOMEM;
    for (size_t l = 1; l < net->n_layers && !rc; l++) {
        const iflow_shape *sh = &net->shape[l];
        size_t conv[4] = {n, sh->c, sh->h, sh->w}, dense[2] = {n, net->widths[l]};
        int is_conv = net->block[l].kind == IFLOW_BLOCK_CONV;
        char name[64];
        iflow_net_propagate(net, s->data->x, n, l, NULL, ws, out);
        snprintf(name, sizeof name, "S-%zu.npy", l);
        rc = save_f8(s, name, out, is_conv ? conv : dense, is_conv ? 4 : 2, err);
    }
    free(out);
    iflow_workspace_free(ws);
    return rc;
}

/* The shortest of %.15g..%.17g that reads back as x. */
static void fmt_double(double x, char *buf, size_t n) {
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) return;
    }
}

/* net.txt: a comment with the input, activation and noise, then one block per line. */
static int export_net_txt(const export_state *s, iflow_error *err) {
    const iflow_net *net = s->net;
    char path[IFLOW_PATH_MAX + 64];
    iflow_atomic a;
    int rc = iflow_path_join(path, sizeof path, s->out, "net.txt", err);
    if (!rc) rc = iflow_atomic_open(&a, path, err);
    if (rc) return rc;
    fprintf(a.f, "# input %zux%zux%zu, activation %s", net->shape[0].c, net->shape[0].h,
            net->shape[0].w, iflow_activation_name(net->act));
    char num[40];
    if (net->act == IFLOW_ACT_LEAKY_RELU) {
        fmt_double(net->leaky_slope, num, sizeof num);
        fprintf(a.f, " (slope %s)", num);
    }
    fprintf(a.f, ", beta");
    for (size_t l = 1; l < net->n_layers; l++) {
        fmt_double(net->beta[l], num, sizeof num);
        fprintf(a.f, "%s%s", l > 1 ? "," : " ", num);
    }
    fprintf(a.f, "\n");
    for (size_t l = 1; l <= net->n_layers; l++) {
        char text[128];
        iflow_block_format(&net->block[l], text, sizeof text);
        fprintf(a.f, "%s\n", text);
    }
    return iflow_atomic_commit(&a, err);
}

static int load_inputs(export_state *s, size_t n_inputs, iflow_error *err) {
    const iflow_config *c = &s->cfg;
    int rc = !strcmp(c->data_format, "idx")
                 ? iflow_dataset_load_idx(c->data_file, c->data_labels, n_inputs, &s->data, err)
                 : iflow_dataset_load_csv(c->data_file, &s->data, err);
    if (rc) return rc;
    if (s->data->d != s->net->widths[0])
        return iflow_error_set(err, IFLOW_EINVAL, "%s: rows have %zu values, the net takes %zu",
                               c->data_file, s->data->d, s->net->widths[0]);
    s->n = s->data->n < n_inputs ? s->data->n : n_inputs;
    return 0;
}

/* ---- the output directory ---------------------------------------------------------------- */

/* name is PREFIX, digits, ".npy". */
static int numbered_npy(const char *name, const char *prefix) {
    size_t lp = strlen(prefix);
    if (strncmp(name, prefix, lp) != 0 || !isdigit((unsigned char)name[lp])) return 0;
    const char *p = name + lp;
    while (isdigit((unsigned char)*p)) p++;
    return !strcmp(p, ".npy");
}

/* A file export writes: a directory holding only these is an earlier export. */
static int export_file_name(const char *name) {
    return !strcmp(name, "inputs.npy") || !strcmp(name, "labels.npy") || !strcmp(name, "net.txt") ||
           numbered_npy(name, "weight-") || numbered_npy(name, "bias-") || numbered_npy(name, "S-");
}

enum { OUT_MISSING, OUT_EMPTY, OUT_EXPORT, OUT_OTHER };

/* What dir holds: nothing (missing or empty), only an earlier export's files, or anything else. */
static int out_contents(const char *dir, int *state, iflow_error *err) {
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT)
            return iflow_error_set(err, IFLOW_EIO, "--out %s: %s", dir, strerror(errno));
        *state = OUT_MISSING;
        return 0;
    }
    if (!S_ISDIR(st.st_mode))
        return iflow_error_set(err, IFLOW_EINVAL, "--out %s exists and is not a directory", dir);
    DIR *d = opendir(dir);
    if (!d) return iflow_error_set(err, IFLOW_EIO, "--out %s: %s", dir, strerror(errno));
    *state = OUT_EMPTY;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char path[IFLOW_PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        int ours = export_file_name(e->d_name) && lstat(path, &st) == 0 && S_ISREG(st.st_mode);
        *state = ours && *state != OUT_OTHER ? OUT_EXPORT : OUT_OTHER;
    }
    closedir(d);
    return 0;
}

/* Removes dir and the plain files in it (a directory export made: no subdirectories). */
static void remove_flat_dir(const char *dir) {
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[IFLOW_PATH_MAX + 300];
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path)
            unlink(path);
    }
    if (d) closedir(d);
    rmdir(dir);
}

/* The absolute path path will have, with no symbolic links, whether or not it exists yet: the
 * longest existing prefix resolved by realpath, then the rest ('.' dropped; '..' refused there,
 * as it cannot be resolved). */
static int resolve_future(const char *path, char *out, size_t n, iflow_error *err) {
    char head[IFLOW_PATH_MAX], tail[IFLOW_PATH_MAX] = "";
    if (snprintf(head, sizeof head, "%s", path) >= (int)sizeof head)
        return iflow_error_set(err, IFLOW_EINVAL, "%s: path too long", path);
    for (;;) {
        size_t len = strlen(head);
        while (len > 1 && head[len - 1] == '/') head[--len] = '\0';
        char *real = realpath(head, NULL);
        if (real) {
            int w = snprintf(out, n, "%s%s%s", real, *tail && strcmp(real, "/") ? "/" : "", tail);
            free(real);
            if (w < 0 || (size_t)w >= n)
                return iflow_error_set(err, IFLOW_EINVAL, "%s: path too long", path);
            return 0;
        }
        if (errno != ENOENT || !strcmp(head, ".") || !strcmp(head, "/"))
            return iflow_error_set(err, IFLOW_EIO, "%s: %s", head, strerror(errno));
        char *slash = strrchr(head, '/');
        const char *last = slash ? slash + 1 : head;
        if (!strcmp(last, ".."))
            return iflow_error_set(err, IFLOW_EINVAL,
                                   "--out %s: '..' after a directory that does not exist", path);
        if (strcmp(last, ".")) {
            char joined[IFLOW_PATH_MAX];
            snprintf(joined, sizeof joined, "%s%s%s", last, *tail ? "/" : "", tail);
            snprintf(tail, sizeof tail, "%s", joined);
        }
        if (!slash)
            snprintf(head, sizeof head, ".");
        else if (slash == head)
            snprintf(head, sizeof head, "/");
        else
            *slash = '\0';
    }
}

/* --out must not be the run directory or inside it (its own files, checkpoints), and must be
 * missing, empty, or (with force) an earlier export; nothing else is ever replaced. */
static int check_out(const char *run_dir, const char *out, int force, int *state,
                     iflow_error *err) {
    char run_real[IFLOW_PATH_MAX], out_real[IFLOW_PATH_MAX];
    if (!*out) return iflow_error_set(err, IFLOW_EINVAL, "--out is empty: name a directory");
    int rc = resolve_future(run_dir, run_real, sizeof run_real, err);
    if (!rc) rc = resolve_future(out, out_real, sizeof out_real, err);
    if (rc) return rc;
    size_t lr = strlen(run_real);
    if (!strncmp(out_real, run_real, lr) &&
        (out_real[lr] == '\0' || out_real[lr] == '/' || !strcmp(run_real, "/")))
        return iflow_error_set(err, IFLOW_EINVAL,
                               "--out %s (%s) is the run directory %s or inside it: export "
                               "never writes there; choose a directory outside the run",
                               out, out_real, run_real);
    if ((rc = out_contents(out, state, err))) return rc;
    if (*state == OUT_OTHER)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "--out %s holds files export does not write; it is never "
                               "replaced: choose a new or empty directory",
                               out);
    if (*state == OUT_EXPORT && !force)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "--out %s holds an earlier export; add --force to replace it", out);
    return 0;
}

/* A fresh directory beside out (same file system, so it can be renamed onto it). */
static int make_temp_dir(const char *out, char *tmp, size_t n, iflow_error *err) {
    char parent[IFLOW_PATH_MAX];
    snprintf(parent, sizeof parent, "%s", out);
    size_t len = strlen(parent);
    while (len > 1 && parent[len - 1] == '/') parent[--len] = '\0';
    char *slash = strrchr(parent, '/');
    const char *base = slash ? slash + 1 : parent;
    char dir[IFLOW_PATH_MAX];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == parent)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - parent), parent);
    int rc = iflow_mkdirs(dir, err);
    if (rc) return rc;
    if (snprintf(tmp, n, "%s/.%s.export-XXXXXX", dir, base) >= (int)n)
        return iflow_error_set(err, IFLOW_EINVAL, "%s: path too long", out);
    if (!mkdtemp(tmp))
        return iflow_error_set(err, IFLOW_EIO, "%s: cannot create a directory beside it: %s", out,
                               strerror(errno));
    return 0;
}

/* Puts the finished tmp in place of out: rename onto a missing or empty directory, or an
 * atomic exchange with an earlier export, which is then removed. Where the file system cannot
 * exchange, the earlier export is first renamed onto a fresh empty directory beside it. */
static int install(const char *tmp, const char *out, int state, iflow_error *err) {
    if (state != OUT_EXPORT) {
        if (rename(tmp, out) == 0) return 0;
    } else if (renameat2(AT_FDCWD, tmp, AT_FDCWD, out, RENAME_EXCHANGE) == 0) {
        remove_flat_dir(tmp); /* now the earlier export */
        return 0;
    } else if (errno == EINVAL || errno == ENOSYS) {
        char old[IFLOW_PATH_MAX + 64];
        int rc = make_temp_dir(out, old, sizeof old, err);
        if (rc) return rc;
        if (rename(out, old) == 0) {
            if (rename(tmp, out) == 0) {
                remove_flat_dir(old);
                return 0;
            }
            int saved = errno;
            rename(old, out); /* put the earlier export back */
            errno = saved;
        } else {
            int saved = errno;
            rmdir(old);
            errno = saved;
        }
    }
    return iflow_error_set(err, IFLOW_EIO, "%s: cannot rename to %s: %s", tmp, out,
                           strerror(errno));
}

/* ---- the checkpoint ------------------------------------------------------------------------ */

/* The checkpoint of `epoch`, which must hold that epoch (as `estimate` checks): a run without
 * checkpoints, or without this one, is told apart and named. */
static int load_checkpoint(const char *run_dir, long epoch, iflow_net *net, iflow_error *err) {
    long *epochs = NULL;
    size_t n = 0;
    int rc = run_list_checkpoints(run_dir, &epochs, &n, err);
    char path[IFLOW_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/checkpoints/epoch-%06ld.ckpt", run_dir, epoch);
    int found = 0;
    for (size_t i = 0; i < n; i++) found |= epochs[i] == epoch;
    if (!rc && n == 0)
        rc = iflow_error_set(err, IFLOW_EINVAL,
                             "%s: the run has no checkpoints (checkpoints/epoch-*.ckpt) to "
                             "export; a run writes them as it trains, keeping those [train] "
                             "checkpoint_keep names: train the config again (infoflow run "
                             "%s/config.ini --out NEW_DIR) to get them",
                             run_dir, run_dir);
    else if (!rc && !found)
        rc = iflow_error_set(err, IFLOW_EINVAL,
                             "%s: no checkpoint of epoch %ld; the run has %zu, the newest of "
                             "epoch %ld, the oldest of epoch %ld",
                             path, epoch, n, epochs[0], epochs[n - 1]);
    free(epochs);
    iflow_checkpoint_meta meta;
    if (!rc) rc = iflow_checkpoint_load(path, &meta, net, NULL, NULL, err);
    if (!rc && meta.epoch != epoch)
        rc = iflow_error_set(err, IFLOW_ECORRUPT,
                             "%s: holds epoch %ld, not %ld (a renamed or copied checkpoint)", path,
                             meta.epoch, epoch);
    return rc;
}

int iflow_run_export(const char *run_dir, long epoch, size_t n_inputs, const char *out_dir,
                     int force, iflow_error *err) {
    export_state s = {0};
    char tmp[IFLOW_PATH_MAX + 64];
    int state = OUT_MISSING, made = 0;
    if (n_inputs == 0) return iflow_error_set(err, IFLOW_EINVAL, "--inputs must be >= 1");
    int rc = check_out(run_dir, out_dir, force, &state, err);
    if (!rc) rc = iflow_run_load_config(run_dir, &s.cfg, err);
    if (!rc) rc = iflow_config_net(&s.cfg, &s.net, err);
    if (!rc) rc = load_checkpoint(run_dir, epoch, s.net, err);
    if (!rc) rc = load_inputs(&s, n_inputs, err);
    if (!rc) rc = make_temp_dir(out_dir, tmp, sizeof tmp, err);
    made = !rc;
    s.out = tmp;
    if (!rc) rc = export_weights(&s, err);
    if (!rc) rc = export_activations(&s, err);
    if (!rc) rc = export_net_txt(&s, err);
    if (!rc) rc = install(tmp, out_dir, state, err);
    if (rc && made) remove_flat_dir(tmp); /* a failure leaves no half-written export */
    iflow_dataset_free(s.data);
    iflow_net_free(s.net);
    return rc;
}
