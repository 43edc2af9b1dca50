/* Loading a run directory's CSV logs (docs/FORMATS.md) into a plot_ctx, and the series and
 * labelling helpers every family of figures uses. */
#include "plot_common.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

const iflow_rgb PLOT_DARK = {0.15, 0.15, 0.15}, PLOT_REF = {0.35, 0.35, 0.35};

void plot_note(plot_ctx *c, const char *fmt, ...) {
    if (!c->verbose || !c->notes || !c->notes_size) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    size_t n = strlen(line);
    for (const char *p = c->notes; (p = strstr(p, line)) != NULL; p += n) /* said already */
        if ((p == c->notes || p[-1] == '\n') && p[n] == '\n') return;
    size_t len = strlen(c->notes);
    if (len + 1 >= c->notes_size) return;
    snprintf(c->notes + len, c->notes_size - len, "%s\n", line);
}

/* ---- loading ---- */

int plot_run_is_live(const char *run_dir) {
    char path[1100];
    if (iflow_path_join(path, sizeof path, run_dir, ".lock", NULL)) return 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    int live = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return live;
}

/* Reads run_dir/name if it exists (NULL otherwise) and checks the listed columns are there and
 * numeric (strings: the names in `text` are only checked for presence). */
static int load(plot_ctx *c, const char *name, const char *const *cols, const char *const *text,
                iflow_csv **out, iflow_error *err) {
    char path[1100];
    struct stat st;
    *out = NULL;
    int rc = iflow_path_join(path, sizeof path, c->run_dir, name, err);
    if (rc) return rc;
    if (stat(path, &st) != 0 && errno == ENOENT) return 0;
    if (S_ISREG(st.st_mode) && st.st_size == 0) /* a run writes a log's header first */
        return iflow_error_set(err, IFLOW_EPARSE, "%s: empty: the run is unfinished (%s)", path,
                               plot_run_is_live(c->run_dir)
                                   ? "an infoflow run is writing it now: plot it when it is done"
                                   : "it stopped before writing it; infoflow run --resume --out "
                                     "DIR finishes it");
    rc = iflow_csv_read(path, out, err);
    for (size_t i = 0; !rc && cols[i]; i++) {
        const double *v;
        rc = iflow_csv_numbers(*out, cols[i], &v, err);
    }
    for (size_t i = 0; !rc && text && text[i]; i++) {
        int col;
        rc = iflow_csv_column(*out, text[i], &col, err);
    }
    if (rc) {
        iflow_csv_free(*out);
        *out = NULL;
    }
    return rc;
}

static double info_value(const iflow_csv *info, const char *key) {
    int kc = iflow_csv_find(info, "key"), vc = iflow_csv_find(info, "value");
    for (size_t i = 0; info && kc >= 0 && vc >= 0 && i < info->n_rows; i++) {
        if (strcmp(iflow_csv_str(info, i, kc), key) != 0) continue;
        char *end;
        double v = strtod(iflow_csv_str(info, i, vc), &end);
        return end != iflow_csv_str(info, i, vc) && *end == '\0' ? v : NAN;
    }
    return NAN;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorted distinct finite values of v[0..n) (or of v[idx[i]] for i < n when idx), malloc'd, *m
 * of them; NULL when there are none or memory is short (*m = SIZE_MAX then). */
static double *sorted_unique(const double *v, const size_t *idx, size_t n, size_t *m) {
    double *u = n ? malloc(n * sizeof *u) : NULL;
    size_t k = 0;
    *m = n && !u ? SIZE_MAX : 0;
    for (size_t i = 0; u && i < n; i++) {
        double x = v[idx ? idx[i] : i];
        if (isfinite(x)) u[k++] = x;
    }
    if (!k) {
        free(u);
        return NULL;
    }
    qsort(u, k, sizeof *u, cmp_double);
    size_t j = 0;
    for (size_t i = 0; i < k; i++)
        if (j == 0 || u[i] != u[j - 1]) u[j++] = u[i];
    *m = j;
    return u;
}

size_t plot_distinct(const double *v, size_t n, double *out, size_t max) {
    size_t all;
    double *u = sorted_unique(v, NULL, n, &all);
    if (u) {
        memcpy(out, u, (all < max ? all : max) * sizeof *out);
        free(u);
        return all;
    }
    if (all == 0) return 0;
    size_t k = 0; /* out of memory: insertion into out, the first max values met */
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) continue;
        size_t j = 0;
        while (j < k && out[j] < v[i]) j++;
        if ((j < k && out[j] == v[i]) || k == max) continue;
        memmove(out + j + 1, out + j, (k - j) * sizeof *out);
        out[j] = v[i];
        k++;
    }
    return k;
}

size_t plot_layers(plot_ctx *c, const char *file, const double *v, size_t n, double *out) {
    size_t all = plot_distinct(v, n, out, MAX_LAYERS);
    if (all <= MAX_LAYERS) return all;
    plot_note(c,
              "%s: %zu distinct layers; the figures show layers %g to %g (the first %d), %zu left "
              "out",
              file, all, out[0], out[MAX_LAYERS - 1], MAX_LAYERS, all - MAX_LAYERS);
    return MAX_LAYERS;
}

double *plot_epochs_of(const double *epoch, const size_t *idx, size_t k, size_t *n_out) {
    double *e = sorted_unique(epoch, idx, k, n_out);
    if (!e) *n_out = 0;
    return e;
}

/* Loads mi-mean.csv and metrics-mean.csv of a `repeats` directory (tools/aggregate: key
 * columns, `runs`, then COL_mean, COL_sd) when the directory has no mi.csv of its own. */
static int load_means(plot_ctx *c, iflow_error *err) {
    static const char *const mi_cols[] = {"epoch",   "layer",     "width",   "runs", "I_XT_mean",
                                          "I_XT_sd", "I_YT_mean", "I_YT_sd", NULL};
    static const char *const m_cols[] = {"epoch",          "train_loss_mean", "train_acc_mean",
                                         "test_loss_mean", "test_acc_mean",   NULL};
    int rc = load(c, "mi-mean.csv", mi_cols, NULL, &c->mi, err);
    if (rc || !c->mi) return rc;
    const double *runs;
    iflow_csv_numbers(c->mi, "runs", &runs, err);
    for (size_t i = 0; i < c->mi->n_rows; i++)
        if (runs[i] > c->repeats && runs[i] < 1e6) c->repeats = (int)runs[i];
    if (c->repeats < 1) c->repeats = 1; /* marks the means as loaded, even from odd counts */
    if (!c->metrics) {
        rc = load(c, "metrics-mean.csv", m_cols, NULL, &c->metrics, err);
        if (!rc && c->metrics) c->msfx = "_mean";
    }
    const char *mean[] = {"I_XT_mean", "I_XT_sd", "I_YT_mean", "I_YT_sd"};
    const double **dst[] = {&c->ixt, &c->ixt_se, &c->iyt, &c->iyt_se};
    for (int k = 0; k < 4 && !rc; k++) rc = iflow_csv_numbers(c->mi, mean[k], dst[k], err);
    return rc;
}

/* The k-sliced columns, when mi.csv has them (older files do not: no sliced figures). */
static int load_sliced(plot_ctx *c, iflow_error *err) {
    const char *cols[] = {"I_XT_sliced", "I_XT_sliced_se", "I_YT_sliced", "I_YT_sliced_se"};
    const double **dst[] = {&c->ixt_k, &c->ixt_k_se, &c->iyt_k, &c->iyt_k_se};
    const double *k = NULL, *m = NULL;
    int rc = 0;
    for (int i = 0; i < 4 && !rc; i++) rc = iflow_csv_numbers_opt(c->mi, cols[i], dst[i], err);
    if (!rc) rc = iflow_csv_numbers_opt(c->mi, "slice_dim", &k, err);
    if (!rc) rc = iflow_csv_numbers_opt(c->mi, "slices", &m, err);
    if (rc || !c->ixt_k || !c->ixt_k_se || !c->iyt_k || !c->iyt_k_se || !k || !m) return rc;
    double kmax = 0, mmax = 0;
    for (size_t i = 0; i < c->mi->n_rows; i++) {
        c->has_sliced |= isfinite(c->ixt_k[i]) && isfinite(c->iyt_k[i]);
        if (m[i] > 0 && k[i] > kmax) kmax = k[i];
        if (m[i] > mmax) mmax = m[i];
    }
    snprintf(c->sliced_label, sizeof c->sliced_label, "k-sliced, k = %g, %g slices", kmax, mmax);
    return 0;
}

/* Chance level of k-NN class agreement (the fraction of a row's neighbours in its class when
 * neighbours are drawn at random): sum of p_c^2 over the class frequencies (info.csv knn_chance),
 * else 1/C with C from info.csv `classes`, else C = the distinct labels of scatter.csv. */
static void knn_chance(plot_ctx *c) {
    c->knn_chance = c->info ? info_value(c->info, "knn_chance") : NAN;
    double classes = c->info ? info_value(c->info, "classes") : NAN;
    c->knn_chance_of[0] = '\0';
    if (c->knn_chance > 0 && c->knn_chance <= 1) {
        snprintf(c->knn_chance_of, sizeof c->knn_chance_of, "class frequencies");
        return;
    }
    const double *lab;
    if (!(classes >= 1) && c->scatter && iflow_csv_numbers(c->scatter, "label", &lab, NULL) == 0) {
        double seen[MAX_LAYERS];
        classes = (double)plot_distinct(lab, c->scatter->n_rows, seen, MAX_LAYERS);
        if (classes >= 1)
            snprintf(c->knn_chance_of, sizeof c->knn_chance_of, "1/%g, the labels of scatter.csv",
                     classes);
    } else if (classes >= 1) {
        snprintf(c->knn_chance_of, sizeof c->knn_chance_of, "1/%g classes", classes);
    }
    c->knn_chance = classes >= 1 ? 1 / classes : NAN;
}

/* sfx "" reads the run's own measurement files, "-estimate" those of `infoflow estimate`. */
static int load_files(plot_ctx *c, const char *sfx, iflow_error *err) {
    static const char *const m_cols[] = {"epoch",     "train_loss", "train_acc",
                                         "test_loss", "test_acc",   NULL};
    static const char *const mi_cols[] = {"epoch",   "layer", "width",   "I_XT",
                                          "I_XT_se", "I_YT",  "I_YT_se", NULL};
    static const char *const b_cols[] = {"epoch", "layer", "H_bin", "I_YT_bin", NULL};
    static const char *const b_text[] = {"bin", "noise", NULL};
    static const char *const a_cols[] = {"epoch", "layer", "lo", "hi", "density", NULL};
    static const char *const s_cols[] = {"epoch", "layer", "label", "u1", "u2", "u3", NULL};
    static const char *const i_text[] = {"key", "value", NULL}, *const none[] = {NULL};
    char name[4][40];
    const char *base[4] = {"mi", "binned", "activations", "scatter"};
    for (int k = 0; k < 4; k++) snprintf(name[k], sizeof name[k], "%s%s.csv", base[k], sfx);
    c->msfx = "";
    int rc = load(c, "metrics.csv", m_cols, NULL, &c->metrics, err);
    if (!rc) rc = load(c, name[0], mi_cols, NULL, &c->mi, err);
    if (!rc && !c->mi && !*sfx) rc = load_means(c, err);
    if (!rc) rc = load(c, name[1], b_cols, b_text, &c->binned, err);
    if (!rc) rc = load(c, name[2], a_cols, NULL, &c->acts, err);
    if (!rc) rc = load(c, name[3], s_cols, NULL, &c->scatter, err);
    if (!rc) rc = load(c, "info.csv", none, i_text, &c->info, err);
    if (rc) return rc;
    c->ln_m = c->info ? info_value(c->info, "ln_m") : NAN;
    c->h_y = c->info ? info_value(c->info, "H_Y") : NAN;
    knn_chance(c);
    if (!c->mi) return 0;
    iflow_csv_numbers(c->mi, "epoch", &c->ep, err);
    iflow_csv_numbers(c->mi, "layer", &c->layer, err);
    iflow_csv_numbers(c->mi, "width", &c->width, err);
    if (!c->repeats) {
        iflow_csv_numbers(c->mi, "I_XT", &c->ixt, err);
        iflow_csv_numbers(c->mi, "I_XT_se", &c->ixt_se, err);
        iflow_csv_numbers(c->mi, "I_YT", &c->iyt, err);
        iflow_csv_numbers(c->mi, "I_YT_se", &c->iyt_se, err);
    }
    c->n_layers = plot_layers(c, name[0], c->layer, c->mi->n_rows, c->layers);
    for (size_t j = 0; j < c->n_layers; j++) {
        c->widths[j] = NAN;
        for (size_t i = 0; i < c->mi->n_rows; i++)
            if (c->layer[i] == c->layers[j]) c->widths[j] = c->width[i];
    }
    for (size_t i = 0; i < c->mi->n_rows; i++)
        c->has_sp |= isfinite(c->ixt[i]) && isfinite(c->iyt[i]);
    return c->repeats ? 0 : load_sliced(c, err);
}

void plot_free_files(plot_ctx *c) {
    iflow_csv_free(c->metrics), iflow_csv_free(c->mi), iflow_csv_free(c->binned);
    iflow_csv_free(c->acts), iflow_csv_free(c->scatter), iflow_csv_free(c->info);
}

/* The run's files; when its mi.csv has no SP values (e.g. trained with [estimate] epochs =
 * none) but `infoflow estimate` wrote mi-estimate.csv, the information figures are drawn from
 * the *-estimate.csv files instead, and a note says so. */
int plot_load_all(plot_ctx *c, iflow_error *err) {
    plot_ctx fresh = *c;
    int rc = load_files(c, "", err);
    char path[1100];
    struct stat st;
    if (rc || c->has_sp || c->repeats ||
        iflow_path_join(path, sizeof path, c->run_dir, "mi-estimate.csv", NULL) ||
        stat(path, &st) != 0)
        return rc;
    plot_free_files(c);
    *c = fresh;
    rc = load_files(c, "-estimate", err);
    if (!rc)
        plot_note(c, "information figures from mi-estimate.csv and the other *-estimate.csv "
                     "files (infoflow estimate): mi.csv has no SP values");
    return rc;
}

/* ---- series helpers ---- */

static int by_key(const void *a, const void *b, void *key) {
    const double *k = key;
    double x = k[*(const size_t *)a], y = k[*(const size_t *)b];
    return (x > y) - (x < y);
}

size_t plot_layer_rows(const double *layer, const double *epoch, size_t n, double l, size_t *idx) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (layer[i] == l) idx[k++] = i;
    qsort_r(idx, k, sizeof *idx, by_key, (void *)epoch);
    return k;
}

static void gather(const double *v, const size_t *idx, size_t k, double scale, double *out) {
    for (size_t i = 0; i < k; i++) out[i] = v ? v[idx[i]] * scale : NAN;
}

int plot_mi_series(plot_ctx *c, size_t j, series *s) {
    size_t n = c->mi->n_rows;
    s->idx = malloc(n * sizeof *s->idx);
    s->e = malloc(7 * n * sizeof *s->e);
    if (!s->idx || !s->e) return -1;
    s->x = s->e + n, s->xse = s->x + n, s->y = s->xse + n, s->yse = s->y + n;
    s->lo = s->yse + n, s->hi = s->lo + n;
    s->n = plot_layer_rows(c->layer, c->ep, n, c->layers[j], s->idx);
    gather(c->ep, s->idx, s->n, 1, s->e);
    gather(c->ixt, s->idx, s->n, c->unit, s->x);
    gather(c->ixt_se, s->idx, s->n, c->unit, s->xse);
    gather(c->iyt, s->idx, s->n, c->unit, s->y);
    gather(c->iyt_se, s->idx, s->n, c->unit, s->yse);
    return 0;
}

void plot_series_free(series *s) {
    free(s->idx);
    free(s->e);
}

void plot_layer_name(const plot_ctx *c, size_t j, char *buf, size_t n) {
    if (isfinite(c->widths[j]))
        snprintf(buf, n, "layer %g, width %g", c->layers[j], c->widths[j]);
    else
        snprintf(buf, n, "layer %g", c->layers[j]);
}

const iflow_marker PLOT_MARKS[4] = {IFLOW_MARK_CIRCLE, IFLOW_MARK_SQUARE, IFLOW_MARK_TRIANGLE,
                                    IFLOW_MARK_DIAMOND};

/* Positive epochs of a column (for log axes, which cannot show epoch 0). */
iflow_range plot_epoch_range(const double *e, size_t n) {
    iflow_range r;
    iflow_range_init(&r, 1);
    iflow_range_add(&r, e, n);
    return r;
}

void plot_ylabel(const plot_ctx *c, const char *what, char *buf, size_t n) {
    snprintf(buf, n, "%s (%s)", what, c->unit_name);
}

int plot_save(plot_ctx *c, iflow_figure *fig, const char *name, iflow_error *err) {
    char path[1100];
    int rc = iflow_path_join(path, sizeof path, c->out_dir, name, err);
    if (!rc) rc = iflow_fig_write(fig, path, c->pdf, c->keys, c->values, c->n_text, err);
    if (!rc) c->n_written++;
    return rc;
}
