/* Internal: a small chart layer over cairo for the run figures: panels with linear or log10
 * axes and 1-2-5 ticks, lines, markers, error bars, bands, heat-map cells, legends, viridis
 * colour bars; a figure is drawn once (a cairo recording surface) and written as PNG with libpng
 * (tEXt metadata) and as PDF with cairo. Sizes are in pixels (a pixel is a point in the PDF). */
#ifndef IFLOW_CHART_H
#define IFLOW_CHART_H

#include <cairo.h>
#include <stddef.h>

#include "infoflow/error.h"

#define IFLOW_CHART_MAX_TICKS 40

typedef struct iflow_rgb {
    double r, g, b;
} iflow_rgb;

typedef struct iflow_box {
    double x, y, w, h;
} iflow_box;

typedef struct iflow_figure {
    int width, height;
    cairo_surface_t *surface; /* a recording surface, replayed by the PNG and PDF writers */
    cairo_t *cr;
    double font_px; /* tick labels; axis labels get font_px + 2, titles font_px + 4 */
    /* What the figure says in words: every string drawn, one per line (NULL if out of memory),
     * and the number of markers drawn, so a caller can check a figure without reading pixels. */
    char *texts;
    size_t texts_len, texts_cap, n_markers;
} iflow_figure;

typedef struct iflow_axis {
    double lo, hi; /* range shown (lo < hi; both > 0 when log) */
    int log;       /* 1: log10 scale */
    char label[160];
    size_t n_ticks;
    double ticks[IFLOW_CHART_MAX_TICKS];
    int sci; /* log axis labels drawn as 10^k */
} iflow_axis;

typedef struct iflow_panel {
    iflow_figure *fig;
    iflow_box outer; /* space given to the panel, labels included */
    iflow_box area;  /* the plotting area inside the axes */
    iflow_axis x, y;
    char title[200];
    double *pts; /* pixel positions drawn so far (x, y pairs): the legend avoids them */
    size_t n_pts, cap_pts;
} iflow_panel;

/* Running min/max of finite values (positive only when `positive`), for axis ranges. */
typedef struct iflow_range {
    double lo, hi;
    int positive;
} iflow_range;

typedef enum {
    IFLOW_MARK_NONE,
    IFLOW_MARK_CIRCLE,
    IFLOW_MARK_SQUARE,
    IFLOW_MARK_TRIANGLE,
    IFLOW_MARK_DIAMOND
} iflow_marker;

typedef struct iflow_legend_entry {
    const char *label;
    iflow_rgb colour;
    int dashed; /* line style; width 0 draws no line */
    double line_width;
    iflow_marker marker; /* drawn in `colour` */
    int band;            /* 1: a filled swatch (for shaded bands, heat maps) */
} iflow_legend_entry;

/* Figure: white W x H canvas. iflow_fig_free(NULL) is a no-op. */
int iflow_fig_new(iflow_figure *fig, int width, int height, iflow_error *err);
void iflow_fig_free(iflow_figure *fig);
/* Title centred at the top of box; returns the height used. */
double iflow_fig_title(iflow_figure *fig, iflow_box box, const char *title, double font_px);
/* Writes an RGB 8-bit PNG with libpng (atomically: path.tmp then rename), with one tEXt chunk
 * per (keys[i], values[i]), every one of the n_text. */
int iflow_fig_write_png(const iflow_figure *fig, const char *path, const char *const *keys,
                        const char *const *values, size_t n_text, iflow_error *err);
/* Writes the same drawing as a one-page vector PDF with cairo (atomically), with creator and
 * subject (either may be NULL) as its metadata and no creation date. */
int iflow_fig_write_pdf(const iflow_figure *fig, const char *path, const char *creator,
                        const char *subject, iflow_error *err);
/* The PNG at png_path and, when pdf and png_path ends in .png, the PDF beside it (same name with
 * .pdf) whose Creator is the "Software" value and whose Subject lists the other tEXt pairs. */
int iflow_fig_write(const iflow_figure *fig, const char *png_path, int pdf, const char *const *keys,
                    const char *const *values, size_t n_text, iflow_error *err);
/* 1 if the figure drew a string containing `needle` (iflow_text, titles, labels, legends). */
int iflow_fig_says(const iflow_figure *fig, const char *needle);

/* Cell (row, col) of a rows x cols grid inside box, with `gap` px between cells. */
iflow_box iflow_box_cell(iflow_box box, int rows, int cols, int row, int col, double gap);

void iflow_range_init(iflow_range *r, int positive);
void iflow_range_add(iflow_range *r, const double *v, size_t n);
void iflow_range_add1(iflow_range *r, double v);
/* Sets an axis to r widened by frac of its span (in log10 units when log) on each side; an empty
 * range becomes [0, 1] ([1, 10] for log); a zero-width one is widened around its value. */
void iflow_axis_set(iflow_axis *a, iflow_range r, int log, double frac, const char *label);

/* Ticks within [lo, hi]: 1-2-5 steps, about max_ticks of them; on a log axis spanning at least
 * two decades, powers of ten (every k-th decade when there are many) and *sci = 1. */
size_t iflow_ticks(double lo, double hi, int log, size_t max_ticks, double *ticks, int *sci);

/* Lays the panel out in outer (measuring tick and axis labels so nothing is clipped), then
 * draws grid, frame, ticks, labels and title. Axes must be set before. */
void iflow_panel_init(iflow_panel *p, iflow_figure *fig, iflow_box outer, const char *title);
void iflow_panel_free(iflow_panel *p);
/* Data -> pixel: px = area.x + area.w (s(x) - s(lo)) / (s(hi) - s(lo)) with s = id or log10,
 * y flipped. Returns -1 (and leaves px, py alone) if a value is not finite or not > 0 on a log
 * axis. */
int iflow_panel_px(const iflow_panel *p, double x, double y, double *px, double *py);

/* Polyline through the finite points, broken at NaN (or non-positive on a log axis). */
void iflow_panel_line(iflow_panel *p, const double *x, const double *y, size_t n, iflow_rgb c,
                      double width, int dashed);
void iflow_panel_marker(iflow_panel *p, double x, double y, iflow_marker m, double size_px,
                        iflow_rgb fill, iflow_rgb edge);
/* Error bars of half-widths xerr, yerr (either may be NaN or 0 to omit), with caps. */
void iflow_panel_errorbar(iflow_panel *p, double x, double y, double xerr, double yerr,
                          iflow_rgb c);
/* Shaded band between lo[i] and hi[i] over x[i], split at missing values. */
void iflow_panel_band(iflow_panel *p, const double *x, const double *lo, const double *hi, size_t n,
                      iflow_rgb c, double alpha);
/* Reference lines across the panel, with a short label at their right (h) or top (v) end. */
void iflow_panel_hline(iflow_panel *p, double y, iflow_rgb c, const char *label);
void iflow_panel_vline(iflow_panel *p, double x, iflow_rgb c, const char *label);
/* Filled rectangle [x0, x1] x [y0, y1] in data coordinates (heat-map cell, no anti-aliasing). */
void iflow_panel_rect(iflow_panel *p, double x0, double x1, double y0, double y1, iflow_rgb c);
/* Legend in the inside corner that covers the fewest drawn points. */
void iflow_panel_legend(iflow_panel *p, const iflow_legend_entry *e, size_t n);
/* Legend laid out in columns inside a free box of the figure. */
void iflow_legend_box(iflow_figure *fig, iflow_box box, const iflow_legend_entry *e, size_t n);

/* Viridis at t in [0, 1] (clamped), interpolated between 16 anchor colours. */
iflow_rgb iflow_viridis(double t);
/* Qualitative colours (tab10), cycled. */
iflow_rgb iflow_palette(size_t i);
/* Position of v on a colour scale [lo, hi] (log10 when log) in [0, 1]. */
double iflow_scale01(double v, double lo, double hi, int log);
/* Vertical viridis colour bar in box (bar at left, ticks and label to its right). */
void iflow_colorbar(iflow_figure *fig, iflow_box box, double lo, double hi, int log,
                    const char *label);

/* Text helpers. halign/valign: 0 left/top, 0.5 centre, 1 right/bottom. Angle in radians. */
void iflow_text(iflow_figure *fig, double x, double y, const char *s, double size, double halign,
                double valign, double angle, int bold);
double iflow_text_width(iflow_figure *fig, const char *s, double size, int bold);

#endif
