/* The figures of a run directory: the table of figures and the driver, iflow_plot_run. Each family
 * of figures is drawn by its own unit (plot_info.c, plot_dist.c, plot_cluster.c) from the logs
 * that plot_common.c loads. */
#include "infoflow/plot.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io.h"
#include "plot_figures.h"

/* Config-Hash tEXt: the run's config.hash (what a resumed run must match, written by the run),
 * else FNV-1a 64 of config.ini's bytes (a directory without config.hash); Config-Hash-Of says
 * which. */
static void config_hash(plot_ctx *c) {
    char path[1100];
    const char *of = "config.hash";
    if (iflow_path_join(path, sizeof path, c->run_dir, "config.hash", NULL)) return;
    FILE *f = fopen(path, "r");
    unsigned long long v = 0;
    int ok = f && fscanf(f, "%16llx", &v) == 1;
    if (f) fclose(f);
    uint64_t h = v;
    if (!ok) {
        if (iflow_path_join(path, sizeof path, c->run_dir, "config.ini", NULL)) return;
        if (iflow_fnv1a64_file(path, &h)) return;
        of = "fnv1a64 of config.ini bytes";
    }
    snprintf(c->hash, sizeof c->hash, "%016llx", (unsigned long long)h);
    c->keys[c->n_text] = "Config-Hash";
    c->values[c->n_text++] = c->hash;
    c->keys[c->n_text] = "Config-Hash-Of";
    c->values[c->n_text++] = of;
}

static void cell_message(iflow_figure *fig, iflow_box b, const char *msg) {
    cairo_set_source_rgb(fig->cr, 0.45, 0.45, 0.45);
    iflow_text(fig, b.x + b.w / 2, b.y + b.h / 2, msg, fig->font_px + 2, 0.5, 0.5, 0, 0);
}

typedef enum {
    F_INFO,
    F_MI,
    F_BINNED,
    F_LOSS,
    F_ACTS,
    F_SCATTER,
    F_SUMMARY,
    F_INFO_K,
    F_MI_K,
    N_FIGS
} fig_id;
static const char *const FIG_FILE[N_FIGS] = {
    "info_plane.png", "mi_epochs.png",         "binned_vs_sp.png",
    "loss_acc.png",   "activations.png",       "scatter.png",
    "summary.png",    "info_plane_sliced.png", "mi_epochs_sliced.png"};
static const char *const FIG_TITLE[N_FIGS] = {
    "Information plane", "Mutual information by epoch", "Binned estimates vs sample propagation",
    "Loss and accuracy", "Activation distributions",    "Hidden representations",
    "Summary",           "Information plane, k-sliced", "k-sliced mutual information by epoch"};

/* The information figures again from the k-sliced columns (F_INFO_K, F_MI_K). */
static int draw_sliced(plot_ctx *c, fig_id id, iflow_figure *fig, iflow_box body) {
    if (!c->mi || !c->has_sliced) return -1;
    const double *keep[4] = {c->ixt, c->ixt_se, c->iyt, c->iyt_se};
    c->ixt = c->ixt_k, c->ixt_se = c->ixt_k_se, c->iyt = c->iyt_k, c->iyt_se = c->iyt_k_se;
    c->sliced_view = 1;
    int rc =
        id == F_INFO_K ? plot_draw_info_plane(c, fig, body) : plot_draw_mi_epochs(c, fig, body);
    c->ixt = keep[0], c->ixt_se = keep[1], c->iyt = keep[2], c->iyt_se = keep[3];
    c->sliced_view = 0;
    return rc;
}

/* Draws figure id into fig (already sized); -1 if the data do not support it. */
static int draw(plot_ctx *c, fig_id id, iflow_figure *fig, iflow_box body, const scat_plan *sp) {
    switch (id) {
    case F_INFO: return plot_draw_info_plane(c, fig, body);
    case F_MI: return plot_draw_mi_epochs(c, fig, body);
    case F_BINNED: return plot_draw_binned(c, fig, body);
    case F_LOSS: return plot_draw_loss_acc(c, fig, body);
    case F_ACTS: return plot_draw_activations(c, fig, body);
    case F_SCATTER: return sp->n_layers ? plot_draw_scatter(c, fig, body, sp) : -1;
    case F_INFO_K:
    case F_MI_K: return draw_sliced(c, id, fig, body);
    default: break;
    }
    /* summary: information plane, MI vs epoch, loss/accuracy, one scatter panel */
    int drawn = 0;
    iflow_box cell[4];
    for (int k = 0; k < 4; k++) cell[k] = iflow_box_cell(body, 2, 2, k / 2, k % 2, 50);
    iflow_box top = {body.x, body.y, body.w, cell[0].h};
    if (!c->has_sp && plot_draw_binned(c, fig, top) == 0) { /* deterministic run: binning is all */
        drawn++;
    } else {
        if (plot_draw_info_plane(c, fig, cell[0]) == 0)
            drawn++;
        else
            cell_message(fig, cell[0], "information plane: no SP estimates");
        if (plot_draw_mi_epochs(c, fig, cell[1]) == 0)
            drawn++;
        else
            cell_message(fig, cell[1], "MI vs epoch: no SP estimates");
    }
    if (plot_draw_loss_acc(c, fig, cell[2]) == 0)
        drawn++;
    else
        cell_message(fig, cell[2], "loss/accuracy: no metrics.csv");
    if (sp->n_layers) { /* the last epoch, every pair of units of a 3-wide layer */
        static const int pairs[3][2] = {{0, 1}, {0, 2}, {1, 2}};
        size_t k = sp->n_ep[0] - 1;
        int n_pairs = sp->width[0] == 3 ? 3 : 1;
        for (int q = 0; q < n_pairs; q++)
            plot_scatter_panel(c, fig, iflow_box_cell(cell[3], 1, n_pairs, 0, q, 30), sp->layers[0],
                               sp->eps[0][k], pairs[q][0], pairs[q][1], q == 0);
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
    case F_BINNED: return c->binned ? "binned.csv has no epoch > 0" : "no binned.csv";
    case F_LOSS: return c->metrics ? "metrics.csv has no rows" : "no metrics.csv";
    case F_ACTS:
        return c->acts ? "activations.csv has no positive epoch or density" : "no activations.csv";
    case F_SCATTER:
        return c->scatter ? "scatter.csv has no layer of width 2 or 3" : "no scatter.csv";
    case F_INFO_K:
    case F_MI_K: return "mi.csv has no k-sliced values ([estimate] slice_dim = 0)";
    default: return "no data";
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
    c->fig_name = FIG_FILE[id];
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
                  .verbose = opt ? opt->verbose_notes : 1,
                  .pdf = !(opt && opt->png_only)};
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
    while (len > 1 && tmp[len - 1] == '/') tmp[--len] = '\0';
    const char *base = strrchr(tmp, '/');
    snprintf(c.run_name, sizeof c.run_name, "%s", base ? base + 1 : tmp);
    snprintf(c.version, sizeof c.version, "infoflow %s", IFLOW_VERSION);
    c.keys[0] = "Software", c.values[0] = c.version, c.n_text = 1;
    int rc = plot_load_all(&c, err);
    if (!rc && !c.metrics && !c.mi && !c.info && !c.repeats)
        rc = iflow_error_set(err, IFLOW_EINVAL,
                             "%s: not a run directory (no metrics.csv, mi.csv or info.csv; "
                             "infoflow run writes them)",
                             run_dir);
    if (!rc && c.repeats) {
        len = strlen(c.run_name);
        snprintf(c.run_name + len, sizeof c.run_name - len, " (mean of %d seeds)", c.repeats);
    }
    if (!rc) rc = iflow_mkdirs(c.out_dir, err);
    if (!rc) {
        config_hash(&c);
        scat_plan sp;
        plot_scatter_plan(&c, &sp);
        for (int id = 0; id < N_FIGS && !rc; id++) rc = figure(&c, (fig_id)id, &sp, err);
        if (!rc) rc = plot_cluster_figures(&c, err);
    }
    plot_free_files(&c);
    if (n_written) *n_written = c.n_written;
    return rc;
}
