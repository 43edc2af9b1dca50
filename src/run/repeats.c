/* repeats: one config trained and measured over several seeds (`[output] repeats`), each run in
 * DIR/seed-S, then the mean and sd across seeds of every logged number (mi-mean.csv,
 * metrics-mean.csv, clustering-mean.csv when the runs measure clustering) and the figures of
 * those means. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csvread.h"
#include "dist.h"
#include "infoflow/plot.h"
#include "infoflow/run.h"
#include "io.h"

/* ---- aggregation ------------------------------------------------------------------------- */

/* One row of one input file, for sorting by its key columns. */
typedef struct entry {
    size_t file, row;
} entry;

typedef struct agg {
    iflow_csv **in;
    const double ***num; /* [file][column] -> values */
    size_t n_keys;
} agg;

static int key_cmp(const agg *a, const entry *x, const entry *y) {
    for (size_t c = 0; c < a->n_keys; c++) {
        double u = a->num[x->file][c][x->row], v = a->num[y->file][c][y->row];
        if (u != v) return u < v ? -1 : 1;
    }
    return 0;
}

/* By key, then by file and row: a total order, so the output does not depend on the sort. */
static int by_key(const void *p, const void *q, void *ctx) {
    const entry *x = p, *y = q;
    int c = key_cmp(ctx, x, y);
    if (c) return c;
    return x->file != y->file ? (x->file < y->file ? -1 : 1) : (x->row < y->row ? -1 : 1);
}

/* Reads the files and checks they share one header whose every column is numeric, with keys
 * present in every row. */
static int agg_load(agg *a, const char *const *paths, size_t n, iflow_error *err) {
    for (size_t f = 0; f < n; f++) {
        int rc = iflow_csv_read(paths[f], &a->in[f], err);
        if (rc) return rc;
        iflow_csv *c = a->in[f], *first = a->in[0];
        if (c->n_cols != first->n_cols)
            return iflow_error_set(err, IFLOW_EPARSE, "%s:1: %zu columns, %s has %zu", c->path,
                                   c->n_cols, first->path, first->n_cols);
        if (a->n_keys >= c->n_cols)
            return iflow_error_set(err, IFLOW_EINVAL, "%s: %zu key columns, the file has %zu",
                                   c->path, a->n_keys, c->n_cols);
        a->num[f] = malloc(c->n_cols * sizeof *a->num[f]);
        if (!a->num[f]) return iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
        for (size_t k = 0; k < c->n_cols; k++) {
            if (strcmp(c->header[k], first->header[k]) != 0)
                return iflow_error_set(err, IFLOW_EPARSE, "%s:1: column %zu is '%s', %s has '%s'",
                                       c->path, k + 1, c->header[k], first->path, first->header[k]);
            rc = iflow_csv_numbers(c, c->header[k], &a->num[f][k], err);
            if (rc) return rc;
            for (size_t r = 0; k < a->n_keys && r < c->n_rows; r++)
                if (isnan(a->num[f][k][r]))
                    return iflow_error_set(err, IFLOW_EPARSE, "%s:%ld: empty key column '%s'",
                                           c->path, c->line[r], c->header[k]);
        }
    }
    return 0;
}

/* Writes the rows of one key group: keys, runs, then mean and sd (two passes) per column. */
static void agg_row(const agg *a, const entry *g, size_t ng, FILE *out) {
    const iflow_csv *c0 = a->in[g[0].file];
    for (size_t k = 0; k < a->n_keys; k++) fprintf(out, "%s,", iflow_csv_str(c0, g[0].row, (int)k));
    fprintf(out, "%zu", ng);
    for (size_t k = a->n_keys; k < c0->n_cols; k++) {
        double sum = 0, ss = 0;
        size_t cnt = 0;
        for (size_t i = 0; i < ng; i++) {
            double v = a->num[g[i].file][k][g[i].row];
            if (!isnan(v)) sum += v, cnt++;
        }
        double mean = cnt ? sum / (double)cnt : NAN;
        for (size_t i = 0; i < ng; i++) {
            double v = a->num[g[i].file][k][g[i].row];
            if (!isnan(v)) ss += (v - mean) * (v - mean);
        }
        if (!cnt)
            fputs(",,", out);
        else if (cnt == 1)
            fprintf(out, ",%.10g,", mean);
        else
            fprintf(out, ",%.10g,%.6g", mean, sqrt(ss / (double)(cnt - 1)));
    }
    fputc('\n', out);
}

int iflow_aggregate_csv(const char *const *paths, size_t n, size_t n_keys, const char *out_path,
                        iflow_error *err) {
    if (n < 1 || n_keys < 1)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "aggregate: need at least one file and one key "
                               "column");
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of n pointers, one per file */
    agg a = {.in = calloc(n, sizeof *a.in), .num = calloc(n, sizeof *a.num), .n_keys = n_keys};
    entry *e = NULL;
    size_t total = 0;
    int rc = a.in && a.num ? agg_load(&a, paths, n, err)
                           : iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
    for (size_t f = 0; !rc && f < n; f++) total += a.in[f]->n_rows;
    if (!rc && !(e = malloc((total ? total : 1) * sizeof *e)))
        rc = iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
    if (!rc) {
        size_t k = 0;
        for (size_t f = 0; f < n; f++)
            for (size_t r = 0; r < a.in[f]->n_rows; r++) e[k++] = (entry){f, r};
        qsort_r(e, total, sizeof *e, by_key, &a);
        iflow_atomic out;
        rc = iflow_atomic_open(&out, out_path, err);
        if (!rc) {
            const iflow_csv *c0 = a.in[0];
            for (size_t c = 0; c < n_keys; c++) fprintf(out.f, "%s,", c0->header[c]);
            fputs("runs", out.f);
            for (size_t c = n_keys; c < c0->n_cols; c++)
                fprintf(out.f, ",%s_mean,%s_sd", c0->header[c], c0->header[c]);
            fputc('\n', out.f);
            for (size_t i = 0, j; i < total; i = j) {
                for (j = i + 1; j < total && key_cmp(&a, &e[i], &e[j]) == 0; j++) {}
                agg_row(&a, e + i, j - i, out.f);
            }
            rc = iflow_atomic_commit(&out, err);
        }
    }
    for (size_t f = 0; a.in && f < n; f++) {
        if (a.num) free(a.num[f]);
        iflow_csv_free(a.in[f]);
    }
    free(a.in);
    free(a.num);
    free(e);
    return rc;
}

/* ---- repeated runs ----------------------------------------------------------------------- */

static void say(const iflow_run_options *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(const iflow_run_options *o, const char *fmt, ...) {
    if (!o->message) return;
    char line[1400];
    va_list ap;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): started on the line above */
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    o->message(o->progress_user, line);
}

static int copy_file(const char *from, const char *to, iflow_error *err) {
    FILE *in = fopen(from, "rb");
    if (!in) return iflow_error_set(err, IFLOW_EIO, "%s: cannot open", from);
    iflow_atomic out;
    int rc = iflow_atomic_open(&out, to, err);
    char buf[8192];
    size_t got;
    while (!rc && (got = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, got, out.f);
    if (!rc && ferror(in)) {
        iflow_atomic_abort(&out);
        rc = iflow_error_set(err, IFLOW_EIO, "%s: read failed", from);
    } else if (!rc) {
        rc = iflow_atomic_commit(&out, err);
    }
    fclose(in);
    return rc;
}

/* DIR/NAME-mean.csv from DIR/seed-S/NAME.csv over the seeds, when the first seed has NAME.csv. */
static int aggregate_log(const iflow_config *cfg, const char *name, size_t n_keys,
                         iflow_error *err) {
    size_t n = cfg->repeats;
    char(*paths)[1200] = malloc(n * sizeof *paths);
    const char **ptrs = malloc(n * sizeof *ptrs);
    char out[1200];
    int rc = paths && ptrs ? 0 : iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
    for (size_t r = 0; !rc && r < n; r++) {
        snprintf(paths[r], sizeof paths[r], "%s/seed-%llu/%s.csv", cfg->out_dir,
                 (unsigned long long)cfg->seed + (unsigned long long)r, name);
        ptrs[r] = paths[r];
    }
    snprintf(out, sizeof out, "%s/%s-mean.csv", cfg->out_dir, name);
    if (!rc && access(paths[0], R_OK) == 0) rc = iflow_aggregate_csv(ptrs, n, n_keys, out, err);
    free(paths);
    free(ptrs);
    return rc;
}

/* One seed of the study, in cfg->out_dir/seed-S. */
static int run_seed(const iflow_config *cfg, const iflow_run_options *opts, size_t r,
                    iflow_error *err) {
    iflow_config c = *cfg;
    c.seed = cfg->seed + r;
    if (cfg->mi_seed == cfg->seed) c.mi_seed = c.seed; /* the estimator follows the seed */
    c.repeats = 1;
    int len = snprintf(c.out_dir, sizeof c.out_dir, "%s/seed-%llu", cfg->out_dir,
                       (unsigned long long)c.seed);
    if (len < 0 || (size_t)len >= sizeof c.out_dir)
        return iflow_error_set(err, IFLOW_EINVAL, "%s: path too long", cfg->out_dir);
    char ini[1200];
    snprintf(ini, sizeof ini, "%s/config.ini", c.out_dir);
    iflow_run_options o = *opts;
    o.resume = opts->resume && access(ini, F_OK) == 0; /* a seed not begun starts afresh */
    say(opts, "seed %llu (%zu of %zu) -> %s", (unsigned long long)c.seed, r + 1, cfg->repeats,
        c.out_dir);
    iflow_dist_set_task("seed %llu", (unsigned long long)c.seed);
    int rc = iflow_run(&c, &o, err);
    iflow_dist_set_task("%s", "");
    return rc;
}

int iflow_run_repeats(const iflow_config *cfg, const iflow_run_options *opts, iflow_error *err) {
    /* A single run under MPI: every rank trains, the measurements are split (run.c). */
    if (cfg->repeats <= 1) return iflow_run(cfg, opts, err);
    int rc = iflow_mkdirs(cfg->out_dir, err);
    /* In an MPI job seed r goes to rank r mod N, each run on its own (solo); the aggregate is
     * written by rank 0 once every rank has finished its seeds. */
    size_t rank = (size_t)iflow_dist_rank(), size = (size_t)iflow_dist_size();
    int was = iflow_dist_solo(1);
    for (size_t r = rank; !rc && r < cfg->repeats; r += size) rc = run_seed(cfg, opts, r, err);
    iflow_dist_solo(was);
    rc = iflow_dist_agree(rc, err);
    if (iflow_dist_rank() != 0) return rc;
    if (!rc) rc = aggregate_log(cfg, "mi", 3, err);
    if (!rc) rc = aggregate_log(cfg, "metrics", 1, err);
    if (!rc) rc = aggregate_log(cfg, "clustering", 3, err);
    char from[1200], to[1200];
    snprintf(from, sizeof from, "%s/seed-%llu/info.csv", cfg->out_dir,
             (unsigned long long)cfg->seed);
    snprintf(to, sizeof to, "%s/info.csv", cfg->out_dir); /* H(Y), ln m: the same for all seeds */
    if (!rc && access(from, R_OK) == 0) rc = copy_file(from, to, err);
    if (!rc && opts->plot) {
        iflow_plot_options po = {.bits = 0, .verbose_notes = 0};
        rc = iflow_plot_run(cfg->out_dir, cfg->out_dir, &po, NULL, 0, NULL, err);
    }
    if (!rc)
        say(opts, "mean and sd over seeds %llu..%llu: %s/mi-mean.csv, metrics-mean.csv",
            (unsigned long long)cfg->seed, (unsigned long long)(cfg->seed + cfg->repeats - 1),
            cfg->out_dir);
    return rc;
}
