/* The figures of a run directory: reads its CSV logs (docs/FORMATS.md) and draws the information
 * plane, MI vs epoch, binned vs SP estimates, loss/accuracy, activations and scatter PNGs. */
#include "infoflow/plot.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "chart.h"
#include "csvread.h"
#include "infoflow/config.h"
#include "io.h"
#include "plot_internal.h"

const iflow_rgb PLOT_DARK = {0.15, 0.15, 0.15}, PLOT_REF = {0.35, 0.35, 0.35};

void plot_note(plot_ctx *c, const char *fmt, ...) {
    if (!c->verbose || !c->notes || !c->notes_size) return;
    size_t len = strlen(c->notes);
    if (len + 1 >= c->notes_size) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->notes + len, c->notes_size - len, fmt, ap);
    va_end(ap);
    len = strlen(c->notes);
    if (len + 1 < c->notes_size) strcat(c->notes, "\n");
}

/* ---- loading ---- */

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
        if (strcmp(iflow_csv_str(info, i, kc), key)) continue;
        char *end;
        double v = strtod(iflow_csv_str(info, i, vc), &end);
        return end != iflow_csv_str(info, i, vc) && *end == '\0' ? v : NAN;
    }
    return NAN;
}

/* Sorted distinct finite values of v[0..n) into out (at most max). */
size_t plot_distinct(const double *v, size_t n, double *out, size_t max) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) continue;
        size_t j = 0;
        while (j < k && out[j] < v[i])
            j++;
        if (j < k && out[j] == v[i]) continue;
        if (k == max) continue;
        memmove(out + j + 1, out + j, (k - j) * sizeof *out);
        out[j] = v[i];
        k++;
    }
    return k;
}

/* Loads mi-mean.csv and metrics-mean.csv of a `repeats` directory (tools/aggregate: key
 * columns, `runs`, then COL_mean, COL_sd) when the directory has no mi.csv of its own. */
static int load_means(plot_ctx *c, iflow_error *err) {
    static const char *const mi_cols[] = {"epoch", "layer", "width", "runs", "I_XT_mean",
                                          "I_XT_sd", "I_YT_mean", "I_YT_sd", NULL};
    static const char *const m_cols[] = {"epoch", "train_loss_mean", "train_acc_mean",
                                         "test_loss_mean", "test_acc_mean", NULL};
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
    c->n_layers = plot_distinct(c->layer, c->mi->n_rows, c->layers, MAX_LAYERS);
    for (size_t j = 0; j < c->n_layers; j++) {
        c->widths[j] = NAN;
        for (size_t i = 0; i < c->mi->n_rows; i++)
            if (c->layer[i] == c->layers[j]) c->widths[j] = c->width[i];
    }
    for (size_t i = 0; i < c->mi->n_rows; i++)
        c->has_sp |= isfinite(c->ixt[i]) && isfinite(c->iyt[i]);
    return c->repeats ? 0 : load_sliced(c, err);
}

static void free_files(plot_ctx *c) {
    iflow_csv_free(c->metrics), iflow_csv_free(c->mi), iflow_csv_free(c->binned);
    iflow_csv_free(c->acts), iflow_csv_free(c->scatter), iflow_csv_free(c->info);
}

/* The run's files; when its mi.csv has no SP values (e.g. trained with [estimate] epochs =
 * none) but `infoflow estimate` wrote mi-estimate.csv, the information figures are drawn from
 * the *-estimate.csv files instead, and a note says so. */
static int load_all(plot_ctx *c, iflow_error *err) {
    plot_ctx fresh = *c;
    int rc = load_files(c, "", err);
    char path[1100];
    struct stat st;
    if (rc || c->has_sp || c->repeats ||
        iflow_path_join(path, sizeof path, c->run_dir, "mi-estimate.csv", NULL) ||
        stat(path, &st) != 0)
        return rc;
    free_files(c);
    *c = fresh;
    rc = load_files(c, "-estimate", err);
    if (!rc)
        plot_note(c, "information figures from mi-estimate.csv and the other *-estimate.csv "
                     "files (infoflow estimate): mi.csv has no SP values");
    return rc;
}

/* Config-Hash tEXt: iflow_config_hash of config.ini when it loads, else FNV-1a 64 of its bytes
 * (the Config-Hash-Of chunk says which). */
static void config_hash(plot_ctx *c) {
    char path[1100];
    if (iflow_path_join(path, sizeof path, c->run_dir, "config.ini", NULL)) return;
    FILE *f = fopen(path, "rb");
    if (!f) return;
    uint64_t h = 14695981039346656037ULL;
    int ch;
    while ((ch = getc(f)) != EOF)
        h = (h ^ (unsigned char)ch) * 1099511628211ULL;
    fclose(f);
    static iflow_config cfg; /* large: keep it off the stack */
    const char *of = "fnv1a64 of config.ini bytes";
    if (iflow_config_load(path, &cfg, NULL) == 0) {
        h = iflow_config_hash(&cfg);
        of = "iflow_config_hash";
    }
    snprintf(c->hash, sizeof c->hash, "%016llx", (unsigned long long)h);
    c->keys[c->n_text] = "Config-Hash";
    c->values[c->n_text++] = c->hash;
    c->keys[c->n_text] = "Config-Hash-Of";
    c->values[c->n_text++] = of;
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
    for (size_t i = 0; i < k; i++)
        out[i] = v ? v[idx[i]] * scale : NAN;
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
        snprintf(buf, n, "layer %g (%g)", c->layers[j], c->widths[j]);
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

/* ---- information plane ---- */

/* I(Y;T) against I(X;T), one curve per layer, markers coloured by epoch on a log scale. */
static int draw_info_plane(plot_ctx *c, iflow_figure *fig, iflow_box box) {
    if (!c->mi || !c->has_sp) return -1;
    iflow_range rx, ry, re;
    iflow_range_init(&rx, 0), iflow_range_init(&ry, 0);
    re = plot_epoch_range(c->ep, c->mi->n_rows);
    for (size_t i = 0; i < c->mi->n_rows; i++) {
        double se_x = isfinite(c->ixt_se[i]) ? c->ixt_se[i] : 0;
        double se_y = isfinite(c->iyt_se[i]) ? c->iyt_se[i] : 0;
        iflow_range_add1(&rx, (c->ixt[i] - se_x) * c->unit),
            iflow_range_add1(&rx, (c->ixt[i] + se_x) * c->unit);
        iflow_range_add1(&ry, (c->iyt[i] - se_y) * c->unit),
            iflow_range_add1(&ry, (c->iyt[i] + se_y) * c->unit);
    }
    double lnm = c->ln_m * c->unit, hy = c->h_y * c->unit;
    if (lnm <= 1.3 * rx.hi) iflow_range_add1(&rx, lnm); /* the bound, when it is in view */
    if (hy <= 1.3 * ry.hi) iflow_range_add1(&ry, hy);
    if (!(re.lo <= re.hi)) re.lo = re.hi = 1;
    if (re.hi <= re.lo) re.hi = re.lo * 10;
    char lx[64], ly[64];
    plot_ylabel(c, c->sliced_view ? "I_k(X;T)" : "I(X;T)", lx, sizeof lx);
    plot_ylabel(c, c->sliced_view ? "I_k(Y;T)" : "I(Y;T)", ly, sizeof ly);
    iflow_panel p;
    iflow_axis_set(&p.x, rx, 0, 0.05, lx);
    iflow_axis_set(&p.y, ry, 0, 0.05, ly);
    iflow_box pb = box;
    pb.w -= 140;
    char title[160];
    if (c->repeats)
        snprintf(title, sizeof title, "I(Y;T) vs I(X;T), mean +-1 sd over %d seeds, markers "
                 "coloured by epoch", c->repeats);
    else
        snprintf(title, sizeof title, "I(Y;T) vs I(X;T), +-1 se, markers coloured by epoch");
    if (c->sliced_view)
        snprintf(title, sizeof title, "%s: I_k(Y;T) vs I_k(X;T), +-1 se, markers coloured by "
                 "epoch", c->sliced_label);
    iflow_panel_init(&p, fig, pb, title);
    iflow_panel_vline(&p, lnm, PLOT_REF, c->unit == 1 ? "ln m" : "log2 m");
    iflow_panel_hline(&p, hy, PLOT_REF, "H(Y)");
    iflow_legend_entry leg[MAX_LAYERS];
    char names[MAX_LAYERS][48];
    for (size_t j = 0; j < c->n_layers; j++) {
        series s;
        if (plot_mi_series(c, j, &s) == 0) {
            iflow_rgb col = iflow_palette(j);
            iflow_panel_line(&p, s.x, s.y, s.n, col, 2, 0);
            for (size_t i = 0; i < s.n; i++)
                iflow_panel_errorbar(&p, s.x[i], s.y[i], s.xse[i], s.yse[i], col);
            for (size_t i = 0; i < s.n; i++) {
                double t = iflow_scale01(fmax(s.e[i], re.lo), re.lo, re.hi, 1);
                iflow_panel_marker(&p, s.x[i], s.y[i], PLOT_MARKS[j % 4], 14, iflow_viridis(t),
                                   col);
            }
        }
        plot_series_free(&s);
        plot_layer_name(c, j, names[j], sizeof names[j]);
        leg[j] = (iflow_legend_entry){names[j], iflow_palette(j), 0, 2, PLOT_MARKS[j % 4], 0};
    }
    iflow_panel_legend(&p, leg, c->n_layers);
    iflow_colorbar(fig, (iflow_box){pb.x + pb.w + 30, p.area.y, 110, p.area.h}, re.lo, re.hi, 1,
                   "epoch");
    iflow_panel_free(&p);
    return 0;
}

/* ---- MI against epoch ---- */

/* One panel: I(X;T_l) (which = 0) or I(Y;T_l) (which = 1) against epoch, +-1 se bands. */
static void mi_panel(plot_ctx *c, iflow_figure *fig, iflow_box box, int which, int legend) {
    const double *v = which ? c->iyt : c->ixt, *se = which ? c->iyt_se : c->ixt_se;
    double bound = (which ? c->h_y : c->ln_m) * c->unit;
    iflow_range rx = plot_epoch_range(c->ep, c->mi->n_rows), ry;
    iflow_range_init(&ry, 0);
    for (size_t i = 0; i < c->mi->n_rows; i++) {
        if (!(c->ep[i] > 0)) continue;
        double s = isfinite(se[i]) ? se[i] : 0;
        iflow_range_add1(&ry, (v[i] - s) * c->unit), iflow_range_add1(&ry, (v[i] + s) * c->unit);
    }
    if (bound <= 1.3 * ry.hi) iflow_range_add1(&ry, bound);
    char lx[64];
    plot_ylabel(c, which ? (c->sliced_view ? "I_k(Y;T)" : "I(Y;T)")
                         : (c->sliced_view ? "I_k(X;T)" : "I(X;T)"),
                lx, sizeof lx);
    iflow_panel p;
    iflow_axis_set(&p.x, rx, 1, 0.02, "epoch");
    iflow_axis_set(&p.y, ry, 0, 0.05, lx);
    char title[160];
    snprintf(title, sizeof title, "%s by layer", which ? "I(Y; T_l)" : "I(X; T_l)");
    if (c->sliced_view)
        snprintf(title, sizeof title, "%s, %s", which ? "I_k(Y; T_l)" : "I_k(X; T_l)",
                 c->sliced_label);
    if (c->repeats)
        snprintf(title + strlen(title), sizeof title - strlen(title),
                 ", mean +-1 sd over %d seeds", c->repeats);
    iflow_panel_init(&p, fig, box, title);
    iflow_panel_hline(&p, bound, PLOT_REF, which ? "H(Y)" : c->unit == 1 ? "ln m" : "log2 m");
    iflow_legend_entry leg[MAX_LAYERS];
    char names[MAX_LAYERS][48];
    for (size_t j = 0; j < c->n_layers; j++) {
        series s;
        if (plot_mi_series(c, j, &s) == 0) {
            double *m = which ? s.y : s.x, *sd = which ? s.yse : s.xse;
            for (size_t i = 0; i < s.n; i++)
                s.lo[i] = m[i] - sd[i], s.hi[i] = m[i] + sd[i];
            iflow_panel_band(&p, s.e, s.lo, s.hi, s.n, iflow_palette(j), 0.25);
            iflow_panel_line(&p, s.e, m, s.n, iflow_palette(j), 2.2, 0);
        }
        plot_series_free(&s);
        plot_layer_name(c, j, names[j], sizeof names[j]);
        leg[j] = (iflow_legend_entry){names[j], iflow_palette(j), 0, 2.2, IFLOW_MARK_NONE, 1};
    }
    if (legend) iflow_panel_legend(&p, leg, c->n_layers);
    iflow_panel_free(&p);
}

static int draw_mi_epochs(plot_ctx *c, iflow_figure *fig, iflow_box box) {
    if (!c->mi || !c->has_sp) return -1;
    iflow_range rx = plot_epoch_range(c->ep, c->mi->n_rows);
    if (!(rx.lo <= rx.hi)) return -1;
    mi_panel(c, fig, iflow_box_cell(box, 1, 2, 0, 0, 30), 0, 1);
    mi_panel(c, fig, iflow_box_cell(box, 1, 2, 0, 1, 30), 1, 0);
    return 0;
}

/* ---- loss and accuracy ---- */

static int draw_loss_acc(plot_ctx *c, iflow_figure *fig, iflow_box box) {
    if (!c->metrics || c->metrics->n_rows == 0) return -1;
    iflow_csv *m = c->metrics;
    static const char *const cols[2][4] = {
        {"train_loss", "train_loss_clean", "test_loss", "test_loss_clean"},
        {"train_acc", "train_acc_clean", "test_acc", "test_acc_clean"}};
    static const char *const names[4] = {"train (noisy)", "train (clean)", "test (noisy)",
                                         "test (clean)"};
    const double *ep;
    iflow_csv_numbers(m, "epoch", &ep, NULL);
    iflow_range rx = plot_epoch_range(ep, m->n_rows);
    int logx = rx.hi >= 20; /* long runs: the early epochs matter, as in the MI plots */
    if (!logx) iflow_range_init(&rx, 0), iflow_range_add(&rx, ep, m->n_rows);
    for (int k = 0; k < 2; k++) {
        const double *v[4];
        iflow_range ry;
        iflow_range_init(&ry, 0);
        for (int s = 0; s < 4; s++) {
            char col[64];
            snprintf(col, sizeof col, "%s%s", cols[k][s], c->msfx); /* "_mean" for repeats */
            if (iflow_csv_numbers_opt(m, col, &v[s], NULL) != 0) v[s] = NULL;
            for (size_t i = 0; v[s] && i < m->n_rows; i++)
                if (!logx || ep[i] > 0) iflow_range_add1(&ry, v[s][i]); /* only what is drawn */
        }
        iflow_panel p;
        iflow_axis_set(&p.x, rx, logx, 0.02, "epoch");
        iflow_axis_set(&p.y, ry, 0, 0.05, k ? "accuracy" : "cross-entropy loss (nats)");
        iflow_panel_init(&p, fig, iflow_box_cell(box, 1, 2, 0, k, 30), k ? "Accuracy" : "Loss");
        iflow_legend_entry leg[4];
        size_t n_leg = 0;
        for (int s = 0; s < 4; s++) {
            int has = 0;
            for (size_t i = 0; v[s] && i < m->n_rows; i++)
                has |= isfinite(v[s][i]);
            if (!has) continue;
            iflow_rgb col = iflow_palette((size_t)s / 2);
            iflow_panel_line(&p, ep, v[s], m->n_rows, col, 2.2, s % 2);
            leg[n_leg++] = (iflow_legend_entry){names[s], col, s % 2, 2.2, IFLOW_MARK_NONE, 0};
        }
        iflow_panel_legend(&p, leg, n_leg);
        iflow_panel_free(&p);
    }
    return 0;
}

/* ---- figures and entry point ---- */

int plot_save(plot_ctx *c, iflow_figure *fig, const char *name, iflow_error *err) {
    char path[1100];
    int rc = iflow_path_join(path, sizeof path, c->out_dir, name, err);
    if (!rc) rc = iflow_fig_write_png(fig, path, c->keys, c->values, c->n_text, err);
    if (!rc) c->n_written++;
    return rc;
}

static void cell_message(iflow_figure *fig, iflow_box b, const char *msg) {
    cairo_set_source_rgb(fig->cr, 0.45, 0.45, 0.45);
    iflow_text(fig, b.x + b.w / 2, b.y + b.h / 2, msg, fig->font_px + 2, 0.5, 0.5, 0, 0);
}

typedef enum {
    F_INFO, F_MI, F_BINNED, F_LOSS, F_ACTS, F_SCATTER, F_SUMMARY, F_INFO_K, F_MI_K, N_FIGS
} fig_id;
static const char *const FIG_FILE[N_FIGS] = {
    "info_plane.png",  "mi_epochs.png", "binned_vs_sp.png", "loss_acc.png",
    "activations.png", "scatter.png",   "summary.png",      "info_plane_sliced.png",
    "mi_epochs_sliced.png"};
static const char *const FIG_TITLE[N_FIGS] = {"Information plane",
                                              "Mutual information by epoch",
                                              "Binned estimates vs sample propagation",
                                              "Loss and accuracy",
                                              "Activation distributions",
                                              "Hidden representations",
                                              "Summary",
                                              "Information plane, k-sliced",
                                              "k-sliced mutual information by epoch"};

/* The information figures again from the k-sliced columns (F_INFO_K, F_MI_K). */
static int draw_sliced(plot_ctx *c, fig_id id, iflow_figure *fig, iflow_box body) {
    if (!c->mi || !c->has_sliced) return -1;
    const double *keep[4] = {c->ixt, c->ixt_se, c->iyt, c->iyt_se};
    c->ixt = c->ixt_k, c->ixt_se = c->ixt_k_se, c->iyt = c->iyt_k, c->iyt_se = c->iyt_k_se;
    c->sliced_view = 1;
    int rc = id == F_INFO_K ? draw_info_plane(c, fig, body) : draw_mi_epochs(c, fig, body);
    c->ixt = keep[0], c->ixt_se = keep[1], c->iyt = keep[2], c->iyt_se = keep[3];
    c->sliced_view = 0;
    return rc;
}

/* Draws figure id into fig (already sized); -1 if the data do not support it. */
static int draw(plot_ctx *c, fig_id id, iflow_figure *fig, iflow_box body, const scat_plan *sp) {
    switch (id) {
    case F_INFO:
        return draw_info_plane(c, fig, body);
    case F_MI:
        return draw_mi_epochs(c, fig, body);
    case F_BINNED:
        return plot_draw_binned(c, fig, body);
    case F_LOSS:
        return draw_loss_acc(c, fig, body);
    case F_ACTS:
        return plot_draw_activations(c, fig, body);
    case F_SCATTER:
        return sp->n_layers ? plot_draw_scatter(c, fig, body, sp) : -1;
    case F_INFO_K:
    case F_MI_K:
        return draw_sliced(c, id, fig, body);
    default:
        break;
    }
    /* summary: information plane, MI vs epoch, loss/accuracy, one scatter panel */
    int drawn = 0;
    iflow_box cell[4];
    for (int k = 0; k < 4; k++)
        cell[k] = iflow_box_cell(body, 2, 2, k / 2, k % 2, 50);
    iflow_box top = {body.x, body.y, body.w, cell[0].h};
    if (!c->has_sp && plot_draw_binned(c, fig, top) == 0) { /* deterministic run: binning is all */
        drawn++;
    } else {
        if (draw_info_plane(c, fig, cell[0]) == 0)
            drawn++;
        else
            cell_message(fig, cell[0], "information plane: no SP estimates");
        if (draw_mi_epochs(c, fig, cell[1]) == 0)
            drawn++;
        else
            cell_message(fig, cell[1], "MI vs epoch: no SP estimates");
    }
    if (draw_loss_acc(c, fig, cell[2]) == 0)
        drawn++;
    else
        cell_message(fig, cell[2], "loss/accuracy: no metrics.csv");
    if (sp->n_layers) {
        size_t k = sp->n_ep[0] - 1;
        plot_scatter_panel(c, fig, cell[3], sp->layers[0], sp->eps[0][k], 0, 1, 1);
        drawn++;
    } else {
        cell_message(fig, cell[3], "scatter: no layer of width 2 or 3 logged");
    }
    return drawn ? 0 : -1;
}

static const char *why_missing(const plot_ctx *c, fig_id id) {
    switch (id) {
    case F_INFO:
    case F_MI:
        if (!c->mi) return "no mi.csv";
        if (c->mi->n_rows == 0)
            return "mi.csv has no rows (no epoch measured: infoflow estimate measures them)";
        return c->has_sp ? "mi.csv has no epoch > 0"
                         : "mi.csv has no SP values (deterministic run)";
    case F_BINNED:
        return c->binned ? "binned.csv has no epoch > 0" : "no binned.csv";
    case F_LOSS:
        return c->metrics ? "metrics.csv has no rows" : "no metrics.csv";
    case F_ACTS:
        return c->acts ? "activations.csv has no positive epoch or density" : "no activations.csv";
    case F_SCATTER:
        return c->scatter ? "scatter.csv has no layer of width 2 or 3" : "no scatter.csv";
    case F_INFO_K:
    case F_MI_K:
        return "mi.csv has no k-sliced values ([estimate] slice_dim = 0)";
    default:
        return "no data";
    }
}

static int figure(plot_ctx *c, fig_id id, const scat_plan *sp, iflow_error *err) {
    int w = id == F_SUMMARY ? 2400 : 1600, h = id == F_SUMMARY ? 1600 : 1000;
    if (id == F_SCATTER && sp->rows > 3) h = 120 + 330 * (int)sp->rows;
    iflow_figure fig;
    int rc = iflow_fig_new(&fig, w, h, err);
    if (rc) return rc;
    if (id == F_SUMMARY) fig.font_px = 22;
    char title[400];
    snprintf(title, sizeof title, "%s  -  %s", FIG_TITLE[id], c->run_name);
    double top = iflow_fig_title(&fig, (iflow_box){0, 0, w, h}, title, 28);
    iflow_box body = {20, top + 10, w - 40, h - top - 30};
    rc = draw(c, id, &fig, body, sp);
    if (rc == -1) {
        /* Runs without slicing: no note for figures nobody asked for. */
        if (c->ixt_k || (id != F_INFO_K && id != F_MI_K))
            plot_note(c, "%s: skipped, %s", FIG_FILE[id], why_missing(c, id));
        rc = 0;
    } else if (rc == 0) {
        if (id == F_BINNED && !c->has_sp)
            plot_note(c, "%s: no SP curve, %s", FIG_FILE[id], why_missing(c, F_INFO));
        rc = plot_save(c, &fig, FIG_FILE[id], err);
    } else {
        rc = iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory", FIG_FILE[id]);
    }
    iflow_fig_free(&fig);
    return rc;
}

int iflow_plot_run(const char *run_dir, const char *out_dir, const iflow_plot_options *opt,
                   char *notes, size_t notes_size, int *n_written, iflow_error *err) {
    plot_ctx c = {.run_dir = run_dir,
                  .out_dir = out_dir && *out_dir ? out_dir : run_dir,
                  .notes = notes,
                  .notes_size = notes_size,
                  .verbose = opt ? opt->verbose_notes : 1};
    int bits = opt && opt->bits;
    c.unit = bits ? 1 / M_LN2 : 1;
    c.unit_name = bits ? "bits" : "nats";
    if (notes && notes_size) notes[0] = '\0';
    if (n_written) *n_written = 0;
    struct stat st;
    if (stat(run_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return iflow_error_set(err, IFLOW_EIO, "%s: not a run directory: %s", run_dir,
                               stat(run_dir, &st) != 0 ? strerror(errno) : "not a directory");
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s", run_dir);
    size_t len = strlen(tmp);
    while (len > 1 && tmp[len - 1] == '/')
        tmp[--len] = '\0';
    const char *base = strrchr(tmp, '/');
    snprintf(c.run_name, sizeof c.run_name, "%s", base ? base + 1 : tmp);
    snprintf(c.version, sizeof c.version, "infoflow %s", IFLOW_VERSION);
    c.keys[0] = "Software", c.values[0] = c.version, c.n_text = 1;
    int rc = load_all(&c, err);
    if (!rc && c.repeats) {
        len = strlen(c.run_name);
        snprintf(c.run_name + len, sizeof c.run_name - len, " (mean of %d seeds)", c.repeats);
    }
    if (!rc) rc = iflow_mkdirs(c.out_dir, err);
    if (!rc) {
        config_hash(&c);
        scat_plan sp;
        plot_scatter_plan(&c, &sp);
        for (int id = 0; id < N_FIGS && !rc; id++)
            rc = figure(&c, (fig_id)id, &sp, err);
        if (!rc) rc = plot_cluster_figures(&c, err);
    }
    free_files(&c);
    if (n_written) *n_written = c.n_written;
    return rc;
}
