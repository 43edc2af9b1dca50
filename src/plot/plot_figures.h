/* Internal to the plotting code: the families of figures, each in its own unit (plot_info.c,
 * plot_dist.c, plot_cluster.c), called by the driver (plot.c). Figure bodies return 0 when
 * drawn, -1 if the data do not support them. */
#ifndef IFLOW_PLOT_FIGURES_H
#define IFLOW_PLOT_FIGURES_H

#include "plot_common.h"

/* plot_info.c: information plane, MI against epoch (from the columns c->ixt... point at, so the
 * k-sliced view reuses them), loss and accuracy. */
int plot_draw_info_plane(plot_ctx *c, iflow_figure *fig, iflow_box box);
int plot_draw_mi_epochs(plot_ctx *c, iflow_figure *fig, iflow_box box);
int plot_draw_loss_acc(plot_ctx *c, iflow_figure *fig, iflow_box box);

/* plot_dist.c: binned estimates, activation distributions, scatter of 2-3 unit layers. */
#define SC_LAYERS 8

/* Which layers (width 2 or 3) and which <= 4 epochs of scatter.csv to show. */
typedef struct scat_plan {
    size_t n_layers, rows, cols;
    double layers[SC_LAYERS], eps[SC_LAYERS][4];
    int width[SC_LAYERS];
    size_t n_ep[SC_LAYERS];
} scat_plan;

int plot_scatter_plan(plot_ctx *c, scat_plan *sp);
int plot_draw_binned(plot_ctx *c, iflow_figure *fig, iflow_box box);
/* clustering.png and cosine_hist.png from clustering.csv and cosine_hist.csv (plot_cluster.c),
 * when the run wrote them. */
int plot_cluster_figures(plot_ctx *c, iflow_error *err);
/* The four clustering measures of clustering.csv (f) against epoch in body; -2 if out of memory. */
int plot_draw_clustering(plot_ctx *c, iflow_csv *f, iflow_figure *fig, iflow_box body);
int plot_draw_activations(plot_ctx *c, iflow_figure *fig, iflow_box box);
int plot_draw_scatter(plot_ctx *c, iflow_figure *fig, iflow_box box, const scat_plan *sp);
/* The summary's scatter cell: the first planned layer at its last epoch, a panel per pair of
 * units (three for a 3-wide layer). */
void plot_draw_scatter_last(plot_ctx *c, iflow_figure *fig, iflow_box box, const scat_plan *sp);
/* One scatter panel: layer l at epoch e, units ua and ub (0-based) on the axes. */
void plot_scatter_panel(plot_ctx *c, iflow_figure *fig, iflow_box box, double l, double e, int ua,
                        int ub, int legend);

#endif
