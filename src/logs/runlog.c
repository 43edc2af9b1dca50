/* CSV logs of a run directory: append, trim on resume, row formats. */
#include "runlog.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io.h"

const char *const RUNLOG_METRICS_HEADER =
    "epoch,train_loss,train_acc,test_loss,test_acc,train_loss_clean,train_acc_clean,"
    "test_loss_clean,test_acc_clean,seconds";
/* mi.csv's columns, in layouts that grew over time; a resumed run appends in its file's own
 * layout, so no file mixes two (docs/FORMATS.md):
 *   v1  MI_BASE                                       (*_se: Monte Carlo only)
 *   v2  MI_BASE MI_SE [MI_SLICED]                     (*_se: Monte Carlo only)
 *   v3  MI_BASE MI_SE [MI_SLICED] MI_UNCERTAINTY MI_COND
 *                                                     (*_se: total; *_se_mc: Monte Carlo)
 * Files of v1 and v2 keep getting the Monte Carlo se in their *_se columns, the meaning their
 * earlier rows have. Every column name is declared here once. */
#define MI_BASE                                                                                    \
    "epoch,layer,width,I_XT,I_XT_se,I_YT,I_YT_se,h_T,h_T_given_X,h_T_given_Y,kde_lower_h_T,"       \
    "kde_upper_h_T"
#define MI_SE     ",h_T_se,h_T_given_X_se,h_T_given_Y_se"
#define MI_SLICED ",I_XT_sliced,I_XT_sliced_se,I_YT_sliced,I_YT_sliced_se,slice_dim,slices"
#define MI_UNCERTAINTY                                                                             \
    ",I_XT_se_mc,I_XT_bias,I_YT_se_mc,I_YT_bias,se_kind,I_XT_ceiling,I_XT_saturated,"              \
    "I_YT_ceiling,I_YT_saturated"
#define MI_COND ",I_XT_given_Y,I_XT_given_Y_se,I_XT_given_Y_se_mc,I_XT_given_Y_bias"
const char *const RUNLOG_MI_HEADER = MI_BASE MI_SE MI_UNCERTAINTY MI_COND;
/* Appended when [estimate] slice_dim > 0 (docs/FORMATS.md). */
static const char *const MI_SLICED_HEADER = MI_BASE MI_SE MI_SLICED MI_UNCERTAINTY MI_COND;
/* Older layouts: appended to in their own. */
static const char *const MI_V1_HEADER = MI_BASE;
static const char *const MI_V2_HEADER = MI_BASE MI_SE;
static const char *const MI_V2_SLICED_HEADER = MI_BASE MI_SE MI_SLICED;
#define MI_COLS_V1 12
const char *const RUNLOG_BINNED_HEADER = "epoch,layer,bin,noise,H_bin,I_YT_bin";
const char *const RUNLOG_ACTIVATIONS_HEADER = "epoch,layer,lo,hi,density";
const char *const RUNLOG_SCATTER_HEADER = "epoch,layer,input,label,u1,u2,u3";

#define HIST_BINS 50

static size_t count_fields(const char *line) {
    size_t n = 1;
    for (; *line && *line != '\n'; line++) n += *line == ',';
    return n;
}

const char *runlog_mi_header(int sliced) { return sliced ? MI_SLICED_HEADER : RUNLOG_MI_HEADER; }

/* 0 if path is missing, empty or starts with the line header (or, for mi.csv, an older layout
 * of the same slicing); else the error. */
static int check_header(const char *path, const char *header, iflow_error *err) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len = getline(&line, &cap, f);
    fclose(f);
    int rc = 0;
    if (len > 0) {
        if (line[len - 1] == '\n') line[--len] = '\0';
        int older = (header == RUNLOG_MI_HEADER &&
                     (!strcmp(line, MI_V1_HEADER) || !strcmp(line, MI_V2_HEADER))) ||
                    (header == MI_SLICED_HEADER && !strcmp(line, MI_V2_SLICED_HEADER));
        if (strcmp(line, header) != 0 && !older)
            rc = iflow_error_set(err, IFLOW_EINVAL,
                                 "%s: its header is not the one this run "
                                 "writes (\"%.200s\"); was it started with other [estimate] "
                                 "settings (e.g. slice_dim)? Use those, or another --out",
                                 path, header);
    }
    free(line);
    return rc;
}

int runlog_check(const char *dir, const char *name, const char *header, iflow_error *err) {
    char path[1100];
    int rc = iflow_path_join(path, sizeof path, dir, name, err);
    if (rc) return rc;
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    if (!S_ISREG(st.st_mode))
        return iflow_error_set(err, IFLOW_EIO, "%s: not a regular file", path);
    FILE *f = fopen(path, "r");
    if (!f) return iflow_error_set(err, IFLOW_EIO, "%s: cannot read: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    while (!rc && (len = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (line[len - 1] != '\n') break; /* a row cut short by a kill: trimmed on resume */
        if (len >= 2 && line[len - 2] == '\r') {
            rc = iflow_error_set(err, IFLOW_EPARSE,
                                 "%s:%ld: CRLF line ending (the file was saved by a Windows "
                                 "editor?); the run writes LF only: convert it back (e.g. "
                                 "sed -i 's/\\r$//' %s) and resume again",
                                 path, lineno, path);
        } else if (lineno > 1) {
            char *end;
            errno = 0;
            long epoch = strtol(line, &end, 10);
            if (end == line || *end != ',' || errno == ERANGE || epoch < 0) {
                char *comma = strchr(line, ',');
                int shown = comma ? (int)(comma - line) : 20;
                rc = iflow_error_set(err, IFLOW_EPARSE,
                                     "%s:%ld: epoch '%.*s': the run writes epochs as "
                                     "integers (41, not 41.0); fix the row (or remove it) and "
                                     "resume again",
                                     path, lineno, shown > 40 ? 40 : shown, line);
            }
        }
    }
    free(line);
    fclose(f);
    return rc ? rc : check_header(path, header, err);
}

int runlog_open(const char *dir, const char *name, const char *header, runlog *out,
                iflow_error *err) {
    out->f = NULL;
    out->sliced = header == MI_SLICED_HEADER;
    int rc = iflow_path_join(out->path, sizeof out->path, dir, name, err);
    if (!rc) rc = check_header(out->path, header, err);
    if (rc) return rc;
    out->n_cols = count_fields(header);
    struct stat st; /* a FIFO or device in place of a log would block or swallow the rows */
    if (stat(out->path, &st) == 0 && !S_ISREG(st.st_mode))
        return iflow_error_set(err, IFLOW_EIO, "%s: not a regular file", out->path);
    FILE *old = fopen(out->path, "r");
    char first[4096];
    if (old && fgets(first, sizeof first, old) && strchr(first, '\n'))
        out->n_cols = count_fields(first);
    if (old) fclose(old);
    out->total_se = out->n_cols == count_fields(header);
    FILE *f = fopen(out->path, "a");
    if (!f)
        return iflow_error_set(err, IFLOW_EIO, "%s: cannot open: %s", out->path, strerror(errno));
    /* The header reaches the file at once: a figure drawn while the run goes on (or one of a
     * run that measures nothing) reads it. */
    if (ftell(f) == 0 && (fprintf(f, "%s\n", header) < 0 || fflush(f) != 0)) {
        fclose(f);
        return iflow_error_set(err, IFLOW_EIO, "%s: write failed", out->path);
    }
    out->f = f;
    return 0;
}

int runlog_close(runlog *log) {
    int rc = log->f && fclose(log->f) != 0 ? -1 : 0;
    log->f = NULL;
    return rc;
}

int runlog_trim(const char *dir, const char *name, long max_epoch, iflow_error *err) {
    char path[1100];
    int rc = iflow_path_join(path, sizeof path, dir, name, err);
    if (rc) return rc;
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return iflow_error_set(err, IFLOW_EIO, "%s: not a regular file", path);
    FILE *in = fopen(path, "r");
    if (!in) return 0;
    iflow_atomic out;
    if ((rc = iflow_atomic_open(&out, path, err))) {
        fclose(in);
        return rc;
    }
    char *line = NULL;
    size_t cap = 0, fields = 0;
    ssize_t len;
    int first = 1;
    while ((len = getline(&line, &cap, in)) > 0) {
        if (line[len - 1] != '\n') break; /* a row cut short by a kill */
        if (first) {
            fields = count_fields(line);
            first = 0;
        } else {
            char *end;
            long epoch = strtol(line, &end, 10);
            if (end == line || *end != ',' || epoch > max_epoch || count_fields(line) != fields)
                continue;
        }
        fputs(line, out.f);
    }
    free(line);
    fclose(in);
    return iflow_atomic_commit(&out, err);
}

/* fopen for reading a log, or NULL if it is missing or not a regular file (no FIFO blocks). */
static FILE *open_log(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) ? fopen(path, "r") : NULL;
}

long runlog_last_epoch(const char *dir, const char *name) {
    char path[1100];
    if (iflow_path_join(path, sizeof path, dir, name, NULL)) return -1;
    FILE *in = open_log(path);
    if (!in) return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long last = -1;
    for (int first = 1; (len = getline(&line, &cap, in)) > 0; first = 0) {
        char *end;
        long e = strtol(line, &end, 10);
        if (!first && line[len - 1] == '\n' && end != line && *end == ',') last = e;
    }
    free(line);
    fclose(in);
    return last;
}

size_t runlog_epoch_rows(const char *dir, const char *name, long epoch) {
    char path[1100];
    if (iflow_path_join(path, sizeof path, dir, name, NULL)) return 0;
    FILE *in = open_log(path);
    if (!in) return 0;
    char *line = NULL;
    size_t cap = 0, rows = 0;
    ssize_t len;
    int first = 1;
    while ((len = getline(&line, &cap, in)) > 0) {
        if (first || line[len - 1] != '\n') {
            first = 0;
            continue;
        }
        char *end;
        rows += strtol(line, &end, 10) == epoch && *end == ',';
    }
    free(line);
    fclose(in);
    return rows;
}

int runlog_flush(runlog *log, iflow_error *err) {
    if (fflush(log->f) != 0 || ferror(log->f))
        return iflow_error_set(err, IFLOW_EIO, "%s: write failed: %s", log->path, strerror(errno));
    return 0;
}

int runlog_write_metrics(runlog *log, long epoch, const runlog_metrics *m, iflow_error *err) {
    fprintf(log->f, "%ld,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.6g\n", epoch,
            m->train_loss, m->train_acc, m->test_loss, m->test_acc, m->train_loss_clean,
            m->train_acc_clean, m->test_loss_clean, m->test_acc_clean, m->seconds);
    return runlog_flush(log, err);
}

static void bin_name(double width, char *buf, size_t n) {
    if (width == 0)
        snprintf(buf, n, "szt30");
    else
        snprintf(buf, n, "%g", width);
}

/* A standard error field: the total se in a v3 file (empty when n/a: the se_kind column says
 * so), the Monte Carlo se in an older one; then a comma if comma. */
static void write_se(FILE *f, const iflow_estimate *e, int total, int comma) {
    if (!total)
        fprintf(f, "%.6g", e->se_mc);
    else if (e->se_kind != IFLOW_SE_NA)
        fprintf(f, "%.6g", e->se);
    if (comma) fputc(',', f);
}

/* binned.csv first, mi.csv last: complete mi.csv rows mark the epoch as measured. */
int runlog_write_mi(runlog *mi, runlog *binned, long epoch, const iflow_layer_info *info, size_t n,
                    iflow_error *err) {
    for (size_t i = 0; i < n; i++) {
        const iflow_layer_info *li = &info[i];
        for (size_t b = 0; li->layer && b < li->n_bins; b++) {
            char name[32];
            bin_name(li->bins[b].width, name, sizeof name);
            fprintf(binned->f, "%ld,%zu,%s,clean,%.10g,%.10g\n", epoch, li->layer, name,
                    li->bins[b].h_clean, li->bins[b].i_y_clean);
            if (li->has_sp)
                fprintf(binned->f, "%ld,%zu,%s,noisy,%.10g,%.10g\n", epoch, li->layer, name,
                        li->bins[b].h_noisy, li->bins[b].i_y_noisy);
        }
    }
    int rc = runlog_flush(binned, err);
    for (size_t i = 0; i < n && !rc; i++) {
        const iflow_layer_info *li = &info[i];
        if (li->layer == 0) continue;
        fprintf(mi->f, "%ld,%zu,%zu,", epoch, li->layer, li->width);
        /* An older layout's *_se columns hold the Monte Carlo se, as its earlier rows do. */
        int v3 = mi->total_se;
        if (li->has_sp) {
            fprintf(mi->f, "%.10g,", li->ixt.mi.value);
            write_se(mi->f, &li->ixt.mi, v3, 1);
            fprintf(mi->f, "%.10g,", li->iyt.mi.value);
            write_se(mi->f, &li->iyt.mi, v3, 1);
            fprintf(mi->f, "%.10g,%.10g,%.10g,", li->ixt.h.value, li->ixt.h_cond.value,
                    li->iyt.h_cond.value);
        } else {
            fputs(",,,,,,,", mi->f);
        }
        if (li->has_bounds)
            fprintf(mi->f, "%.10g,%.10g", li->kde_lower, li->kde_upper);
        else
            fputs(",", mi->f);
        if (mi->n_cols > MI_COLS_V1 && li->has_sp) {
            const iflow_estimate *e[3] = {&li->ixt.h, &li->ixt.h_cond, &li->iyt.h_cond};
            for (int j = 0; j < 3; j++) {
                fputc(',', mi->f);
                write_se(mi->f, e[j], v3, 0);
            }
        } else if (mi->n_cols > MI_COLS_V1) {
            fputs(",,,", mi->f);
        }
        if (mi->sliced && li->has_sliced) {
            fprintf(mi->f, ",%.10g,", li->ixt_sliced.mi.value);
            write_se(mi->f, &li->ixt_sliced.mi, v3, 1);
            fprintf(mi->f, "%.10g,", li->iyt_sliced.mi.value);
            write_se(mi->f, &li->iyt_sliced.mi, v3, 0);
            fprintf(mi->f, ",%zu,%zu", li->slice_dim, li->slices);
        } else if (mi->sliced) {
            fputs(",,,,,,", mi->f);
        }
        if (v3 && li->has_sp) {
            const iflow_estimate *x = &li->ixt.mi, *y = &li->iyt.mi, *c = &li->ixt_given_y;
            fprintf(mi->f, ",%.6g,", x->se_mc);
            if (x->has_bias) fprintf(mi->f, "%.6g", x->bias);
            fprintf(mi->f, ",%.6g,", y->se_mc);
            if (y->has_bias) fprintf(mi->f, "%.6g", y->bias);
            /* se_kind as its iflow_se_kind code, so every column stays numeric (the
             * aggregation over seeds averages them): 0 total, 1 exact, 2 n/a. */
            fprintf(mi->f, ",%d,%.10g,%d,%.10g,%d", x->se_kind, li->ixt_ceiling, li->ixt_saturated,
                    li->iyt_ceiling, li->iyt_saturated);
            fprintf(mi->f, ",%.10g,%.6g,%.6g,", c->value, c->se, c->se_mc);
            if (c->has_bias) fprintf(mi->f, "%.6g", c->bias);
        } else if (v3) {
            fputs(",,,,,,,,,,,,,", mi->f);
        }
        fputc('\n', mi->f);
    }
    return rc ? rc : runlog_flush(mi, err);
}

int runlog_write_activations(runlog *acts, runlog *scatter, long epoch, size_t l, size_t width,
                             iflow_activation act, const double *t, const int *labels, size_t m,
                             iflow_error *err) {
    size_t n = m * width;
    double lo = -1, hi = 1;
    if (act == IFLOW_ACT_SIGMOID) {
        lo = 0;
    } else if (act != IFLOW_ACT_TANH) {
        lo = INFINITY;
        hi = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            lo = fmin(lo, t[i]);
            hi = fmax(hi, t[i]);
        }
        if (!(hi > lo)) hi = lo + 1;
    }
    size_t counts[HIST_BINS] = {0};
    double step = (hi - lo) / HIST_BINS;
    for (size_t i = 0; i < n; i++) {
        double b = floor((t[i] - lo) / step);
        size_t k = b < 0 ? 0 : b >= HIST_BINS ? HIST_BINS - 1 : (size_t)b;
        counts[k]++;
    }
    for (size_t k = 0; k < HIST_BINS; k++)
        fprintf(acts->f, "%ld,%zu,%.10g,%.10g,%.10g\n", epoch, l, lo + (double)k * step,
                lo + (double)(k + 1) * step, (double)counts[k] / ((double)n * step));
    if (scatter && width <= 3) {
        for (size_t i = 0; i < m; i++) {
            fprintf(scatter->f, "%ld,%zu,%zu,%d", epoch, l, i, labels[i]);
            for (size_t j = 0; j < 3; j++) {
                if (j < width)
                    fprintf(scatter->f, ",%.6g", t[i * width + j]);
                else
                    fputc(',', scatter->f);
            }
            fputc('\n', scatter->f);
        }
    }
    int rc = runlog_flush(acts, err);
    return rc || !scatter ? rc : runlog_flush(scatter, err);
}
