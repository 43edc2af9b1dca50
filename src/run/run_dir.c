/* The run directory of a run: created and locked, its config checked against the one it was
 * started with (config.hash), its checkpoints named, verified and resumed from. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "infoflow/checkpoint.h"
#include "io.h"
#include "run_internal.h"

static void vsay(run_state *st, int terminal, const char *fmt, va_list ap) {
    if (!st->root) return;
    char line[1200];
    vsnprintf(line, sizeof line, fmt, ap);
    if (st->log) {
        time_t t = time(NULL);
        char stamp[32];
        strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", localtime(&t));
        fprintf(st->log, "%s %s\n", stamp, line);
        fflush(st->log);
    }
    if (terminal && st->o->message) st->o->message(st->o->progress_user, line);
}

void run_say(run_state *st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsay(st, 1, fmt, ap);
    va_end(ap);
}

void run_log(run_state *st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsay(st, 0, fmt, ap);
    va_end(ap);
}

void run_checkpoint_path(const run_state *st, long epoch, char *out, size_t n) {
    snprintf(out, n, "%s/checkpoints/epoch-%06ld.ckpt", st->dir, epoch);
}

/* A loaded checkpoint must be the one its name promises: of this run (config hash, as
 * config.hash; checkpoints written before that stored iflow_config_hash with the same epochs)
 * and of the epoch in its name (a renamed or copied file is refused). */
int run_check_meta(const run_state *st, const char *path, long epoch,
                   const iflow_checkpoint_meta *meta, iflow_error *err) {
    if (meta->epoch != epoch)
        return iflow_error_set(err, IFLOW_ECORRUPT,
                               "%s: holds epoch %ld, not %ld (a renamed or "
                               "copied checkpoint)",
                               path, meta->epoch, epoch);
    if (meta->config_hash != st->config_hash && meta->config_hash != iflow_config_hash(&st->cfg))
        return iflow_error_set(err, IFLOW_ECORRUPT,
                               "%s: written by another run or config "
                               "(config hash %016llx, this run's %016llx)",
                               path, (unsigned long long)meta->config_hash,
                               (unsigned long long)st->config_hash);
    return 0;
}

/* The run goes on with the generator it started with; a config naming another one is another
 * run (its hash differs too, but a checkpoint from before the key existed matches either). */
static int check_normals(const run_state *st, const char *path, iflow_error *err) {
    if (st->rng.normals == st->cfg.noise_generator) return 0;
    return iflow_error_set(err, IFLOW_ECORRUPT,
                           "%s: its training noise was drawn with "
                           "noise_generator = %s, the config says %s",
                           path, iflow_normals_name(st->rng.normals),
                           iflow_normals_name(st->cfg.noise_generator));
}

/* The run directory: created, writable, locked against a concurrent run. */
int run_open_dir(run_state *st, iflow_error *err) {
    int rc = iflow_mkdirs(st->dir, err);
    char path[1100];
    if (!rc) rc = iflow_path_join(path, sizeof path, st->dir, "checkpoints", err);
    if (!rc) rc = iflow_mkdirs(path, err);
    if (!rc) rc = iflow_path_join(path, sizeof path, st->dir, ".lock", err);
    if (rc) return rc;
    st->lock_fd = open(path, O_RDWR | O_CREAT, 0666);
    if (st->lock_fd < 0)
        return iflow_error_set(err, IFLOW_EIO, "%s: cannot write in the run directory: %s", st->dir,
                               strerror(errno));
    if (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return iflow_error_set(err, IFLOW_EBUSY, "%s: another infoflow run is using this directory",
                               st->dir);
    if (!rc) rc = iflow_path_join(path, sizeof path, st->dir, "log.txt", err);
    if (!rc && !(st->log = fopen(path, "a")))
        rc = iflow_error_set(err, IFLOW_EIO, "%s: cannot write: %s", path, strerror(errno));
    return rc;
}

static int cmp_long_desc(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x < y) - (x > y);
}

/* Epochs of the checkpoints in dir/checkpoints, newest first. */
int run_list_checkpoints(const char *dir, long **out, size_t *n, iflow_error *err) {
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
        if (sscanf(e->d_name, "epoch-%ld.ck%7s", &epoch, tail) != 2 || strcmp(tail, "pt") != 0)
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

int run_missing_checkpoint(const char *dir, long epoch, const char *keep, iflow_error *err) {
    long *epochs = NULL;
    size_t n = 0;
    int rc = run_list_checkpoints(dir, &epochs, &n, err);
    if (rc) return rc;
    if (n == 0)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "%s: the run has no checkpoints (none in %s/checkpoints: results "
                               "committed to a repository leave them out); train it again to get "
                               "them (infoflow run CONFIG --out NEW_DIR)",
                               dir, dir);
    char kept[256] = "";
    size_t len = 0;
    for (size_t i = n; i-- > 0 && len + 24 < sizeof kept;) /* oldest first */
        len += (size_t)snprintf(kept + len, sizeof kept - len, "%s%ld", len ? "," : "", epochs[i]);
    if (len + 24 >= sizeof kept) snprintf(kept + len, sizeof kept - len, ",...");
    free(epochs);
    return iflow_error_set(err, IFLOW_EINVAL,
                           "%s: the run has no checkpoint of epoch %ld; it kept epochs %s "
                           "([train] checkpoint_keep = %s: a run keeps the measured epochs, "
                           "the last and those that key names; train again with a "
                           "checkpoint_keep that names epoch %ld)",
                           dir, epoch, kept, keep && keep[0] ? keep : "?", epoch);
}

/* Loads the newest checkpoint that passes every check; *epoch = -1 if none. */
int run_resume_point(run_state *st, long *epoch, iflow_error *err) {
    long *epochs = NULL;
    size_t n = 0;
    int rc = run_list_checkpoints(st->dir, &epochs, &n, err);
    *epoch = -1;
    iflow_error e = {0};
    for (size_t i = 0; i < n && !rc && *epoch < 0; i++) {
        char path[1200];
        run_checkpoint_path(st, epochs[i], path, sizeof path);
        iflow_checkpoint_meta meta;
        if (iflow_checkpoint_load(path, &meta, st->net, st->opt, &st->rng, &e) == 0 &&
            run_check_meta(st, path, epochs[i], &meta, &e) == 0 && check_normals(st, path, &e) == 0)
            *epoch = meta.epoch;
        else
            run_say(st, "skipping checkpoint: %s", e.msg);
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
uint64_t run_resume_hash(const iflow_config *c) {
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
    static const char *const ours[] = {
        "config.ini", "mi.csv",      "binned.csv",     "activations.csv", "scatter.csv",
        "info.csv",   "summary.png", "info_plane.png", "summary.pdf",     "info_plane.pdf"};
    if (access(hpath, F_OK) == 0) return 0;
    for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++) {
        char path[1100];
        if (iflow_path_join(path, sizeof path, st->dir, ours[i], NULL) == 0 &&
            access(path, F_OK) == 0)
            return iflow_error_set(err, IFLOW_EINVAL,
                                   "%s: already there and not from an infoflow "
                                   "run (no config.hash beside it); refusing to overwrite it: use "
                                   "another --out",
                                   path);
    }
    return 0;
}

/* A run directory's config.ini, whose noise_generator, if not named, is v1: every run since the
 * key existed writes it, so a file without it is from a run made before, with v1. */
static int load_run_config(const char *path, iflow_config *cfg, iflow_error *err) {
    int rc = iflow_config_load(path, cfg, err);
    if (!rc && !cfg->noise_generator_given) cfg->noise_generator = IFLOW_NORMALS_V1;
    return rc;
}

/* A resume may extend a run, never shorten it: config.ini would then describe fewer epochs
 * than the run's files hold. */
static int check_not_shorter(const run_state *st, const char *path, iflow_error *err) {
    iflow_config old;
    iflow_error e;
    if (access(path, F_OK) != 0 || load_run_config(path, &old, &e) != 0) return 0;
    if (st->cfg.epochs >= old.epochs) return 0;
    return iflow_error_set(err, IFLOW_EINVAL,
                           "%s: the run has [train] epochs = %ld; resuming with %ld would shorten "
                           "it (nothing was changed): resume with epochs >= %ld, or use another "
                           "--out",
                           path, old.epochs, st->cfg.epochs, old.epochs);
}

/* A resumed run keeps the generator it started with when the config does not name one: the
 * default moved from v1 to v2, and a config written before must still resume its v1 run.
 * config.hash tells which (v1 is not hashed); a directory from before config.hash existed has
 * only its config.ini. */
static int adopt_run_generator(run_state *st, const char *path, const char *hpath,
                               iflow_error *err) {
    if (!st->o->resume || st->cfg.noise_generator_given) return 0;
    uint64_t then;
    if (read_hash(hpath, &then) == 0) {
        iflow_config v1 = st->cfg;
        v1.noise_generator = IFLOW_NORMALS_V1;
        if (then == run_resume_hash(&v1)) st->cfg.noise_generator = IFLOW_NORMALS_V1;
        return 0;
    }
    if (access(path, F_OK) != 0) return 0;
    iflow_config old;
    int rc = load_run_config(path, &old, err);
    if (!rc) st->cfg.noise_generator = old.noise_generator;
    return rc;
}

/* A resumed run keeps the checkpoint_keep of its config.ini when the config names none, so a
 * resume never deletes checkpoints the run's own rule kept (e.g. a run with `all`). */
static int adopt_run_keep(run_state *st, const char *path, iflow_error *err) {
    if (!st->o->resume || st->cfg.checkpoint_keep_given || access(path, F_OK) != 0) return 0;
    iflow_config old;
    int rc = load_run_config(path, &old, err);
    if (!rc)
        snprintf(st->cfg.checkpoint_keep, sizeof st->cfg.checkpoint_keep, "%s",
                 old.checkpoint_keep);
    return rc;
}

/* The effective config: a new run writes it; a resumed one must match it (epochs may grow). */
int run_check_config(run_state *st, iflow_error *err) {
    char path[1100], hpath[1100];
    int rc = iflow_path_join(path, sizeof path, st->dir, "config.ini", err);
    if (!rc) rc = iflow_path_join(hpath, sizeof hpath, st->dir, "config.hash", err);
    if (!rc) rc = adopt_run_generator(st, path, hpath, err);
    if (!rc) rc = adopt_run_keep(st, path, err);
    if (rc) return rc;
    uint64_t now = run_resume_hash(&st->cfg), then;
    if (st->o->resume && read_hash(hpath, &then) == 0) {
        if (then != now)
            return iflow_error_set(err, IFLOW_EINVAL,
                                   "%s: the config or its data differ from the ones this run was "
                                   "started with; resume with those or use another --out",
                                   path);
    } else if (st->o->resume && access(path, F_OK) == 0) {
        /* A run directory from before config.hash existed: compare with its config.ini. */
        iflow_config old;
        if ((rc = load_run_config(path, &old, err))) return rc;
        adopt_moved_paths(&old, &st->cfg);
        if (run_resume_hash(&old) != now)
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
    return 0;
}

int run_write_config(run_state *st, iflow_error *err) {
    char path[1100], hpath[1100];
    int rc = iflow_path_join(path, sizeof path, st->dir, "config.ini", err);
    if (!rc) rc = iflow_path_join(hpath, sizeof hpath, st->dir, "config.hash", err);
    if (!rc) rc = iflow_config_write(&st->cfg, path, err);
    return rc ? rc : write_hash(hpath, run_resume_hash(&st->cfg), err);
}

/* "NAME.PID.tmp", an iflow_atomic file (io.h) whose writer died before renaming it. */
static int is_atomic_tmp(const char *name) {
    size_t len = strlen(name);
    if (len < 7 || strcmp(name + len - 4, ".tmp") != 0) return 0;
    size_t i = len - 4, digits = 0;
    while (i > 0 && name[i - 1] >= '0' && name[i - 1] <= '9') i--, digits++;
    return digits > 0 && i > 1 && name[i - 1] == '.';
}

void run_remove_stale_tmp(run_state *st) {
    const char *subdirs[] = {"", "checkpoints"};
    for (size_t k = 0; k < 2; k++) {
        char dir[1100], path[1400];
        if (iflow_path_join(dir, sizeof dir, st->dir, subdirs[k], NULL)) continue;
        DIR *d = opendir(dir);
        if (!d) continue;
        struct dirent *e;
        while ((e = readdir(d)))
            if (is_atomic_tmp(e->d_name)) {
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                if (remove(path) == 0)
                    run_log(st, "removed %s, left by an interrupted write", path);
            }
        closedir(d);
    }
}

int run_thin_checkpoints(run_state *st, long newest, int (*kept)(const run_state *, long),
                         iflow_error *err) {
    long *epochs = NULL;
    size_t n = 0;
    int rc = run_list_checkpoints(st->dir, &epochs, &n, err);
    for (size_t i = 0; i < n && !rc; i++) {
        if (epochs[i] >= newest || kept(st, epochs[i])) continue;
        char path[1200];
        run_checkpoint_path(st, epochs[i], path, sizeof path);
        remove(path);
    }
    free(epochs);
    return rc;
}

int iflow_run_load_config(const char *dir, iflow_config *cfg, iflow_error *err) {
    char path[1100];
    int rc = iflow_path_join(path, sizeof path, dir, "config.ini", err);
    if (!rc && access(path, R_OK) != 0)
        return iflow_error_set(err, IFLOW_EIO, "%s: not a run directory (no readable config.ini)",
                               dir);
    return rc ? rc : load_run_config(path, cfg, err);
}
