/* A small chart layer over cairo (panels, axes with 1-2-5 or decade ticks, lines, markers,
 * bands, legends, viridis colour bars), a libpng writer with tEXt metadata and a PDF writer. */
#include "chart.h"

#include <cairo-pdf.h>
#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

#define FONT "DejaVu Sans"
#define CAP  0.73 /* cap height of DejaVu Sans as a fraction of the font size */

static const iflow_rgb INK = {0.13, 0.13, 0.13}, GRID = {0.88, 0.88, 0.88},
                       FRAME = {0.25, 0.25, 0.25};

static void set_rgb(cairo_t *cr, iflow_rgb c) { cairo_set_source_rgb(cr, c.r, c.g, c.b); }

static void set_font(cairo_t *cr, double size, int bold) {
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

/* ---- figure and text ---- */

int iflow_fig_new(iflow_figure *fig, int width, int height, iflow_error *err) {
    memset(fig, 0, sizeof *fig);
    cairo_rectangle_t extents = {0, 0, width, height};
    fig->surface = cairo_recording_surface_create(CAIRO_CONTENT_COLOR_ALPHA, &extents);
    if (width < 1 || height < 1 || cairo_surface_status(fig->surface) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(fig->surface);
        fig->surface = NULL;
        return iflow_error_set(err, IFLOW_ENOMEM, "cannot create a %d x %d image", width, height);
    }
    fig->cr = cairo_create(fig->surface);
    fig->width = width;
    fig->height = height;
    fig->font_px = 20;
    cairo_set_source_rgb(fig->cr, 1, 1, 1);
    cairo_paint(fig->cr);
    cairo_set_line_join(fig->cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(fig->cr, CAIRO_LINE_CAP_ROUND);
    return 0;
}

void iflow_fig_free(iflow_figure *fig) {
    if (!fig) return;
    if (fig->cr) cairo_destroy(fig->cr);
    if (fig->surface) cairo_surface_destroy(fig->surface);
    free(fig->texts);
    fig->cr = NULL;
    fig->surface = NULL;
    fig->texts = NULL;
}

/* Appends s and a newline to fig->texts; on out of memory the record is dropped (NULL), which
 * iflow_fig_says reports as saying nothing. */
static void record_text(iflow_figure *fig, const char *s) {
    size_t n = strlen(s);
    if (fig->texts_len + n + 2 > fig->texts_cap) {
        if (!fig->texts && fig->texts_cap) return; /* an earlier failure */
        size_t cap = 2 * (fig->texts_len + n + 2) + 256;
        char *t = realloc(fig->texts, cap);
        if (!t) {
            free(fig->texts);
            fig->texts = NULL;
            fig->texts_cap = 1;
            return;
        }
        fig->texts = t, fig->texts_cap = cap;
    }
    memcpy(fig->texts + fig->texts_len, s, n);
    fig->texts_len += n;
    fig->texts[fig->texts_len++] = '\n';
    fig->texts[fig->texts_len] = '\0';
}

int iflow_fig_says(const iflow_figure *fig, const char *needle) {
    return fig->texts && strstr(fig->texts, needle) != NULL;
}

double iflow_text_width(iflow_figure *fig, const char *s, double size, int bold) {
    cairo_text_extents_t te;
    set_font(fig->cr, size, bold);
    cairo_text_extents(fig->cr, s, &te);
    return te.x_advance;
}

/* Baseline sits CAP*size*(1 - valign) below y, so valign 0 puts the cap line at y. */
void iflow_text(iflow_figure *fig, double x, double y, const char *s, double size, double halign,
                double valign, double angle, int bold) {
    cairo_t *cr = fig->cr;
    double w = iflow_text_width(fig, s, size, bold);
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, angle);
    cairo_move_to(cr, -halign * w, CAP * size * (1 - valign));
    cairo_show_text(cr, s);
    cairo_restore(cr);
    record_text(fig, s);
}

/* Largest size <= size at which s fits in max_w (not below 60 %). */
static double fit_size(iflow_figure *fig, const char *s, double size, double max_w, int bold) {
    double w = iflow_text_width(fig, s, size, bold);
    return w <= max_w ? size : fmax(0.6 * size, size * max_w / w);
}

double iflow_fig_title(iflow_figure *fig, iflow_box box, const char *title, double font_px) {
    double size = fit_size(fig, title, font_px, box.w - 20, 1);
    set_rgb(fig->cr, INK);
    iflow_text(fig, box.x + box.w / 2, box.y + 14, title, size, 0.5, 0, 0, 1);
    return size * CAP + 28;
}

iflow_box iflow_box_cell(iflow_box box, int rows, int cols, int row, int col, double gap) {
    double w = (box.w - gap * (cols - 1)) / cols, h = (box.h - gap * (rows - 1)) / rows;
    iflow_box b = {box.x + col * (w + gap), box.y + row * (h + gap), w, h};
    return b;
}

/* ---- ranges, scales and ticks ---- */

void iflow_range_init(iflow_range *r, int positive) {
    r->lo = INFINITY;
    r->hi = -INFINITY;
    r->positive = positive;
}

void iflow_range_add1(iflow_range *r, double v) {
    if (!isfinite(v) || (r->positive && v <= 0)) return;
    r->lo = fmin(r->lo, v);
    r->hi = fmax(r->hi, v);
}

void iflow_range_add(iflow_range *r, const double *v, size_t n) {
    for (size_t i = 0; v && i < n; i++) iflow_range_add1(r, v[i]);
}

void iflow_axis_set(iflow_axis *a, iflow_range r, int log, double frac, const char *label) {
    double lo = r.lo, hi = r.hi;
    if (log) {
        if (!(lo <= hi) || lo <= 0) lo = 1, hi = 10;
        double l0 = log10(lo), l1 = log10(hi);
        if (l1 - l0 < 1e-9) l0 -= 0.3, l1 += 0.3;
        double pad = frac * (l1 - l0);
        lo = pow(10, l0 - pad);
        hi = pow(10, l1 + pad);
    } else {
        if (!(lo <= hi)) lo = 0, hi = 1;
        if (hi - lo < 1e-12 * fmax(1, fabs(hi))) {
            double d = fabs(lo) > 0 ? 0.1 * fabs(lo) : 0.5;
            lo -= d, hi += d;
        }
        double pad = frac * (hi - lo);
        lo -= pad, hi += pad;
    }
    a->lo = lo;
    a->hi = hi;
    a->log = log;
    snprintf(a->label, sizeof a->label, "%s", label ? label : "");
    a->n_ticks = 0;
}

double iflow_scale01(double v, double lo, double hi, int log) {
    double t = log ? (log10(v) - log10(lo)) / (log10(hi) - log10(lo)) : (v - lo) / (hi - lo);
    return t;
}

/* Step of 1, 2 or 5 times a power of ten giving about `target` intervals over span. */
static double nice_step(double span, double target) {
    double raw = span / fmax(target, 1), mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

/* The finest 1-2-5 step that gives at most max_ticks ticks in [lo, hi]. */
static size_t linear_ticks(double lo, double hi, size_t max_ticks, double *t) {
    double step = nice_step(hi - lo, (double)max_ticks);
    for (int tries = 0; tries < 4; tries++) {
        double k0 = ceil(lo / step - 1e-9), k1 = floor(hi / step + 1e-9);
        if (k1 - k0 + 1 <= (double)max_ticks) break;
        step = nice_step(step * 1.01, 1); /* the next larger 1-2-5 step */
    }
    size_t n = 0;
    for (double k = ceil(lo / step - 1e-9); n < max_ticks && k * step <= hi + 1e-9 * step; k++)
        t[n++] = fabs(k) < 0.5 ? 0 : k * step;
    return n;
}

size_t iflow_ticks(double lo, double hi, int log, size_t max_ticks, double *t, int *sci) {
    *sci = 0;
    max_ticks = max_ticks < 2                           ? 2
                : max_ticks > IFLOW_CHART_MAX_TICKS - 1 ? IFLOW_CHART_MAX_TICKS - 1
                                                        : max_ticks;
    if (!log) return linear_ticks(lo, hi, max_ticks, t);
    int k0 = (int)ceil(log10(lo) - 1e-9), k1 = (int)floor(log10(hi) + 1e-9);
    int n_dec = k1 - k0 + 1;
    size_t n = 0;
    /* few decades: 1-2-5 (or 1-3) ticks read better than two lone powers */
    static const double mant[2][3] = {{1, 2, 5}, {1, 3, 0}};
    for (int set = 0; set < 2 && n_dec < 3; set++) {
        n = 0;
        for (int k = k0 - 1; k <= k1; k++)
            for (int m = 0; m < 3 && mant[set][m] > 0 && n < IFLOW_CHART_MAX_TICKS; m++) {
                double v = mant[set][m] * pow(10, k);
                if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) t[n++] = v;
            }
        if (n >= 2 && n <= max_ticks) return n;
    }
    n = 0;
    if (n_dec >= 2) {
        int every = (n_dec + (int)max_ticks - 1) / (int)max_ticks;
        for (int k = k0; k <= k1; k += every) t[n++] = pow(10, k);
        *sci = 1;
        return n;
    }
    return linear_ticks(lo, hi, max_ticks, t);
}

/* Tick label: 10^k is drawn with a raised exponent, others with just enough decimals. */
static void tick_text(const iflow_axis *a, double v, char *buf, size_t n) {
    if (a->log && a->sci) {
        snprintf(buf, n, "%d", (int)lround(log10(v)));
    } else if (a->log) {
        snprintf(buf, n, "%g", v);
    } else {
        double step = a->n_ticks > 1 ? a->ticks[1] - a->ticks[0] : fabs(v);
        int dec = step > 0 ? (int)ceil(-log10(step) - 1e-9) : 0;
        snprintf(buf, n, "%.*f", dec < 0 ? 0 : dec > 8 ? 8 : dec, v);
    }
}

static double tick_width(iflow_figure *fig, const iflow_axis *a, double v, double size) {
    char buf[64];
    tick_text(a, v, buf, sizeof buf);
    if (a->log && a->sci)
        return iflow_text_width(fig, "10", size, 0) + iflow_text_width(fig, buf, 0.7 * size, 0);
    return iflow_text_width(fig, buf, size, 0);
}

/* Draws a tick label aligned like iflow_text (halign on the full width, valign on the base). */
static void draw_tick(iflow_figure *fig, const iflow_axis *a, double v, double x, double y,
                      double size, double halign, double valign) {
    char buf[64];
    tick_text(a, v, buf, sizeof buf);
    double w = tick_width(fig, a, v, size);
    if (!(a->log && a->sci)) {
        iflow_text(fig, x - halign * w + 0, y, buf, size, 0, valign, 0, 0);
        return;
    }
    double w10 = iflow_text_width(fig, "10", size, 0);
    iflow_text(fig, x - halign * w, y, "10", size, 0, valign, 0, 0);
    iflow_text(fig, x - halign * w + w10, y - 0.45 * size, buf, 0.7 * size, 0, valign, 0, 0);
}

static double max_tick_width(iflow_figure *fig, const iflow_axis *a, double size) {
    double w = 0;
    for (size_t i = 0; i < a->n_ticks; i++) w = fmax(w, tick_width(fig, a, a->ticks[i], size));
    return w;
}

/* ---- panels ---- */

int iflow_panel_px(const iflow_panel *p, double x, double y, double *px, double *py) {
    if (!isfinite(x) || !isfinite(y) || (p->x.log && x <= 0) || (p->y.log && y <= 0)) return -1;
    *px = p->area.x + p->area.w * iflow_scale01(x, p->x.lo, p->x.hi, p->x.log);
    *py = p->area.y + p->area.h * (1 - iflow_scale01(y, p->y.lo, p->y.hi, p->y.log));
    return 0;
}

/* Records a drawn pixel for legend placement; reference lines weigh less than data (covering
 * a dashed bound is better than covering measurements). */
static void add_pt_w(iflow_panel *p, double x, double y, double weight) {
    if (p->n_pts == p->cap_pts) {
        size_t cap = p->cap_pts ? 2 * p->cap_pts : 256;
        double *pts = realloc(p->pts, 3 * cap * sizeof *pts);
        if (!pts) return; /* only legend placement degrades */
        p->pts = pts;
        p->cap_pts = cap;
    }
    p->pts[3 * p->n_pts] = x;
    p->pts[3 * p->n_pts + 1] = y;
    p->pts[3 * p->n_pts + 2] = weight;
    p->n_pts++;
}

static void add_pt(iflow_panel *p, double x, double y) { add_pt_w(p, x, y, 1); }

static void set_ticks(iflow_panel *p) {
    iflow_figure *fig = p->fig;
    double fs = fig->font_px;
    size_t ny = (size_t)fmax(2, p->area.h / (2.6 * fs));
    p->y.n_ticks = iflow_ticks(p->y.lo, p->y.hi, p->y.log, ny, p->y.ticks, &p->y.sci);
    /* x labels sit side by side: shrink the count until the widest label fits its slot */
    for (size_t nx = (size_t)fmax(2, p->area.w / (4.5 * fs)); nx >= 2; nx--) {
        p->x.n_ticks = iflow_ticks(p->x.lo, p->x.hi, p->x.log, nx, p->x.ticks, &p->x.sci);
        if ((max_tick_width(fig, &p->x, fs) + fs) * (double)p->x.n_ticks <= p->area.w) break;
    }
}

/* Margins from measured label sizes so no text leaves the outer box. */
static void layout(iflow_panel *p) {
    iflow_figure *fig = p->fig;
    double fs = fig->font_px, lab = fs + 2, tit = fs + 4;
    double top = p->title[0] ? tit * CAP + 24 : 14;
    p->area =
        (iflow_box){p->outer.x + 110, p->outer.y + top, p->outer.w - 140, p->outer.h - top - 90};
    for (int pass = 0; pass < 2; pass++) {
        set_ticks(p);
        double left = 8 + (p->y.label[0] ? lab + 12 : 0) + max_tick_width(fig, &p->y, fs) + 14;
        double bottom = 12 + fs * (p->x.sci ? 1.05 : CAP) + (p->x.label[0] ? 14 + lab : 0) + 6;
        double right = 10;
        if (p->x.n_ticks)
            right = fmax(right, tick_width(fig, &p->x, p->x.ticks[p->x.n_ticks - 1], fs) / 2 + 4);
        p->area.x = p->outer.x + left;
        p->area.w = fmax(20, p->outer.w - left - right);
        p->area.h = fmax(20, p->outer.h - top - bottom);
    }
}

static void draw_axes(iflow_panel *p) {
    iflow_figure *fig = p->fig;
    cairo_t *cr = fig->cr;
    double fs = fig->font_px, px, py;
    const iflow_box *a = &p->area;
    cairo_set_line_width(cr, 1.2);
    set_rgb(cr, GRID);
    for (size_t i = 0; i < p->x.n_ticks; i++) {
        px = a->x + a->w * iflow_scale01(p->x.ticks[i], p->x.lo, p->x.hi, p->x.log);
        cairo_move_to(cr, px, a->y);
        cairo_line_to(cr, px, a->y + a->h);
    }
    for (size_t i = 0; i < p->y.n_ticks; i++) {
        py = a->y + a->h * (1 - iflow_scale01(p->y.ticks[i], p->y.lo, p->y.hi, p->y.log));
        cairo_move_to(cr, a->x, py);
        cairo_line_to(cr, a->x + a->w, py);
    }
    cairo_stroke(cr);
    set_rgb(cr, FRAME);
    cairo_set_line_width(cr, 1.5);
    cairo_rectangle(cr, a->x, a->y, a->w, a->h);
    cairo_stroke(cr);
    for (size_t i = 0; i < p->x.n_ticks; i++) {
        px = a->x + a->w * iflow_scale01(p->x.ticks[i], p->x.lo, p->x.hi, p->x.log);
        cairo_move_to(cr, px, a->y + a->h);
        cairo_line_to(cr, px, a->y + a->h + 6);
        cairo_stroke(cr);
        draw_tick(fig, &p->x, p->x.ticks[i], px, a->y + a->h + 12 + (p->x.sci ? 0.3 * fs : 0), fs,
                  0.5, 0);
    }
    for (size_t i = 0; i < p->y.n_ticks; i++) {
        py = a->y + a->h * (1 - iflow_scale01(p->y.ticks[i], p->y.lo, p->y.hi, p->y.log));
        cairo_move_to(cr, a->x - 6, py);
        cairo_line_to(cr, a->x, py);
        cairo_stroke(cr);
        draw_tick(fig, &p->y, p->y.ticks[i], a->x - 10, py, fs, 1, 0.5);
    }
    set_rgb(cr, INK);
    double lab = fs + 2;
    if (p->x.label[0])
        iflow_text(fig, a->x + a->w / 2, p->outer.y + p->outer.h - 6, p->x.label,
                   fit_size(fig, p->x.label, lab, a->w, 0), 0.5, 1, 0, 0);
    if (p->y.label[0])
        iflow_text(fig, p->outer.x + 8, a->y + a->h / 2, p->y.label,
                   fit_size(fig, p->y.label, lab, a->h, 0), 0.5, 0, -M_PI / 2, 0);
    if (p->title[0])
        iflow_text(fig, a->x + a->w / 2, p->outer.y + 10, p->title,
                   fit_size(fig, p->title, fs + 4, p->outer.w - 10, 1), 0.5, 0, 0, 1);
}

void iflow_panel_init(iflow_panel *p, iflow_figure *fig, iflow_box outer, const char *title) {
    p->fig = fig;
    p->outer = outer;
    snprintf(p->title, sizeof p->title, "%s", title ? title : "");
    p->pts = NULL;
    p->n_pts = p->cap_pts = 0;
    layout(p);
    draw_axes(p);
}

void iflow_panel_free(iflow_panel *p) {
    free(p->pts);
    p->pts = NULL;
    p->n_pts = p->cap_pts = 0;
}

static void clip_begin(iflow_panel *p) {
    cairo_save(p->fig->cr);
    cairo_rectangle(p->fig->cr, p->area.x, p->area.y, p->area.w, p->area.h);
    cairo_clip(p->fig->cr);
}

static void clip_end(iflow_panel *p) { cairo_restore(p->fig->cr); }

static void set_dash(cairo_t *cr, int dashed, double width) {
    double d[2] = {4 * width + 2, 2.5 * width + 2};
    cairo_set_dash(cr, d, dashed ? 2 : 0, 0);
}

/* ---- data ---- */

void iflow_panel_line(iflow_panel *p, const double *x, const double *y, size_t n, iflow_rgb c,
                      double width, int dashed) {
    cairo_t *cr = p->fig->cr;
    clip_begin(p);
    set_rgb(cr, c);
    cairo_set_line_width(cr, width);
    set_dash(cr, dashed, width);
    int open = 0;
    double px, py, lx = 0, ly = 0;
    for (size_t i = 0; i < n; i++) {
        if (iflow_panel_px(p, x[i], y[i], &px, &py) != 0) {
            open = 0;
            continue;
        }
        if (open) {
            cairo_line_to(cr, px, py);
            /* sample the segment every ~10 px so the legend sees the whole line */
            int k = (int)(hypot(px - lx, py - ly) / 10);
            for (int j = 1; j <= k && k < 400; j++)
                add_pt(p, lx + (px - lx) * j / (k + 1), ly + (py - ly) * j / (k + 1));
        } else {
            cairo_move_to(cr, px, py);
        }
        add_pt(p, px, py);
        open = 1;
        lx = px, ly = py;
    }
    cairo_stroke(cr);
    clip_end(p);
}

static void marker_path(cairo_t *cr, double x, double y, iflow_marker m, double s) {
    double r = s / 2;
    switch (m) {
    case IFLOW_MARK_SQUARE:
        cairo_rectangle(cr, x - 0.85 * r, y - 0.85 * r, 1.7 * r, 1.7 * r);
        break;
    case IFLOW_MARK_TRIANGLE:
        cairo_move_to(cr, x, y - 1.1 * r);
        cairo_line_to(cr, x + r, y + 0.7 * r);
        cairo_line_to(cr, x - r, y + 0.7 * r);
        cairo_close_path(cr);
        break;
    case IFLOW_MARK_DIAMOND:
        cairo_move_to(cr, x, y - 1.15 * r);
        cairo_line_to(cr, x + r, y);
        cairo_line_to(cr, x, y + 1.15 * r);
        cairo_line_to(cr, x - r, y);
        cairo_close_path(cr);
        break;
    case IFLOW_MARK_CIRCLE:
        cairo_new_sub_path(cr);
        cairo_arc(cr, x, y, r, 0, 2 * M_PI);
        break;
    case IFLOW_MARK_NONE: break;
    }
}

void iflow_panel_marker(iflow_panel *p, double x, double y, iflow_marker m, double size_px,
                        iflow_rgb fill, iflow_rgb edge) {
    double px, py;
    if (m == IFLOW_MARK_NONE || iflow_panel_px(p, x, y, &px, &py) != 0) return;
    cairo_t *cr = p->fig->cr;
    clip_begin(p);
    marker_path(cr, px, py, m, size_px);
    set_rgb(cr, fill);
    cairo_fill_preserve(cr);
    set_rgb(cr, edge);
    cairo_set_line_width(cr, 1.2);
    set_dash(cr, 0, 1);
    cairo_stroke(cr);
    clip_end(p);
    add_pt(p, px, py);
    p->fig->n_markers++;
}

void iflow_panel_errorbar(iflow_panel *p, double x, double y, double xerr, double yerr,
                          iflow_rgb c) {
    double px, py, a, b, t;
    if (iflow_panel_px(p, x, y, &px, &py) != 0) return;
    cairo_t *cr = p->fig->cr;
    clip_begin(p);
    set_rgb(cr, c);
    cairo_set_line_width(cr, 1.5);
    set_dash(cr, 0, 1);
    if (isfinite(xerr) && xerr > 0 && iflow_panel_px(p, x - xerr, y, &a, &t) == 0 &&
        iflow_panel_px(p, x + xerr, y, &b, &t) == 0) {
        cairo_move_to(cr, a, py - 4), cairo_line_to(cr, a, py + 4);
        cairo_move_to(cr, a, py), cairo_line_to(cr, b, py);
        cairo_move_to(cr, b, py - 4), cairo_line_to(cr, b, py + 4);
    }
    if (isfinite(yerr) && yerr > 0 && iflow_panel_px(p, x, y - yerr, &t, &a) == 0 &&
        iflow_panel_px(p, x, y + yerr, &t, &b) == 0) {
        cairo_move_to(cr, px - 4, a), cairo_line_to(cr, px + 4, a);
        cairo_move_to(cr, px, a), cairo_line_to(cr, px, b);
        cairo_move_to(cr, px - 4, b), cairo_line_to(cr, px + 4, b);
    }
    cairo_stroke(cr);
    clip_end(p);
}

/* Fills one run [i0, i1) of valid points: along lo, back along hi. */
static void band_run(iflow_panel *p, const double *x, const double *lo, const double *hi, size_t i0,
                     size_t i1) {
    cairo_t *cr = p->fig->cr;
    double px = 0, py = 0; /* the caller passes valid points only: iflow_panel_px sets them */
    for (size_t i = i0; i < i1; i++) {
        iflow_panel_px(p, x[i], lo[i], &px, &py);
        if (i == i0)
            cairo_move_to(cr, px, py);
        else
            cairo_line_to(cr, px, py);
    }
    for (size_t i = i1; i-- > i0;) {
        iflow_panel_px(p, x[i], hi[i], &px, &py);
        cairo_line_to(cr, px, py);
    }
    cairo_close_path(cr);
    cairo_fill(cr);
}

void iflow_panel_band(iflow_panel *p, const double *x, const double *lo, const double *hi, size_t n,
                      iflow_rgb c, double alpha) {
    clip_begin(p);
    cairo_set_source_rgba(p->fig->cr, c.r, c.g, c.b, alpha);
    size_t start = 0;
    double px, py;
    for (size_t i = 0; i <= n; i++) {
        int ok = i < n && iflow_panel_px(p, x[i], lo[i], &px, &py) == 0 &&
                 iflow_panel_px(p, x[i], hi[i], &px, &py) == 0;
        if (ok) continue;
        if (i > start + 1) band_run(p, x, lo, hi, start, i);
        start = i + 1;
    }
    clip_end(p);
}

static void ref_line(iflow_panel *p, double x0, double y0, double x1, double y1, iflow_rgb c) {
    cairo_t *cr = p->fig->cr;
    clip_begin(p);
    set_rgb(cr, c);
    cairo_set_line_width(cr, 2);
    set_dash(cr, 1, 2);
    cairo_move_to(cr, x0, y0);
    cairo_line_to(cr, x1, y1);
    cairo_stroke(cr);
    set_dash(cr, 0, 1);
    clip_end(p);
}

void iflow_panel_hline(iflow_panel *p, double y, iflow_rgb c, const char *label) {
    double px, py;
    double xr = p->x.log ? p->x.hi : p->x.lo;
    if (iflow_panel_px(p, xr, y, &px, &py) != 0 || py < p->area.y || py > p->area.y + p->area.h)
        return;
    ref_line(p, p->area.x, py, p->area.x + p->area.w, py, c);
    for (long k = 0; 10.0 * (double)k <= p->area.w; k++) /* a point every 10 px */
        add_pt_w(p, p->area.x + 10.0 * (double)k, py, 0.1);
    if (!label || !label[0]) return;
    double fs = p->fig->font_px - 2;
    set_rgb(p->fig->cr, c);
    int below = py - p->area.y < fs + 10; /* no room above the line: write under it */
    double ty = below ? py + 6 : py - 6;
    iflow_text(p->fig, p->area.x + p->area.w - 8, ty, label, fs, 1, below ? 0 : 1, 0, 0);
    double w = iflow_text_width(p->fig, label, fs, 0);
    for (long k = 0; 10.0 * (double)k <= w; k++)
        add_pt_w(p, p->area.x + p->area.w - 8 - 10.0 * (double)k, ty + (below ? 8 : -8), 50);
}

void iflow_panel_vline(iflow_panel *p, double x, iflow_rgb c, const char *label) {
    double px, py;
    double yr = p->y.log ? p->y.hi : p->y.lo;
    if (iflow_panel_px(p, x, yr, &px, &py) != 0 || px < p->area.x || px > p->area.x + p->area.w)
        return;
    ref_line(p, px, p->area.y, px, p->area.y + p->area.h, c);
    for (long k = 0; 10.0 * (double)k <= p->area.h; k++) /* a point every 10 px */
        add_pt_w(p, px, p->area.y + 10.0 * (double)k, 0.1);
    if (!label || !label[0]) return;
    double fs = p->fig->font_px - 2;
    set_rgb(p->fig->cr, c);
    /* written up along the line from the bottom, on its left (inside the panel), so it never
     * meets the label of a horizontal line, which sits at the top right */
    double y0 = p->area.y + p->area.h - 8;
    iflow_text(p->fig, px - 6, y0, label, fs, 0, 1, -M_PI / 2, 0);
    double w = iflow_text_width(p->fig, label, fs, 0);
    for (long k = 0; 10.0 * (double)k <= w; k++) add_pt_w(p, px - 14, y0 - 10.0 * (double)k, 50);
}

void iflow_panel_rect(iflow_panel *p, double x0, double x1, double y0, double y1, iflow_rgb c) {
    double ax, ay, bx, by;
    if (iflow_panel_px(p, x0, y0, &ax, &ay) != 0 || iflow_panel_px(p, x1, y1, &bx, &by) != 0)
        return;
    cairo_t *cr = p->fig->cr;
    clip_begin(p);
    cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
    set_rgb(cr, c);
    /* round outward to whole pixels so neighbouring cells leave no hairline gaps */
    double l = floor(fmin(ax, bx)), r = ceil(fmax(ax, bx)), t = floor(fmin(ay, by)),
           b = ceil(fmax(ay, by));
    cairo_rectangle(cr, l, t, r - l, b - t);
    cairo_fill(cr);
    cairo_set_antialias(cr, CAIRO_ANTIALIAS_DEFAULT);
    clip_end(p);
}

/* ---- legends ---- */

#define SWATCH 46.0

static void legend_swatch(iflow_figure *fig, double x, double y, const iflow_legend_entry *e) {
    cairo_t *cr = fig->cr;
    set_rgb(cr, e->colour);
    if (e->band) {
        cairo_set_source_rgba(cr, e->colour.r, e->colour.g, e->colour.b, 0.35);
        cairo_rectangle(cr, x, y - 8, SWATCH, 16);
        cairo_fill(cr);
        set_rgb(cr, e->colour);
    }
    if (e->line_width > 0) {
        cairo_set_line_width(cr, e->line_width);
        set_dash(cr, e->dashed, e->line_width);
        cairo_move_to(cr, x, y);
        cairo_line_to(cr, x + SWATCH, y);
        cairo_stroke(cr);
        set_dash(cr, 0, 1);
    }
    if (e->marker != IFLOW_MARK_NONE) {
        marker_path(cr, x + SWATCH / 2, y, e->marker, 13);
        cairo_fill(cr);
    }
}

static void legend_at(iflow_figure *fig, double x, double y, const iflow_legend_entry *e, size_t n,
                      double row_h, double size) {
    for (size_t i = 0; i < n; i++) {
        double cy = y + row_h * ((double)i + 0.5);
        legend_swatch(fig, x, cy, &e[i]);
        set_rgb(fig->cr, INK);
        iflow_text(fig, x + SWATCH + 10, cy, e[i].label, size, 0, 0.5, 0, 0);
    }
}

static double legend_label_width(iflow_figure *fig, const iflow_legend_entry *e, size_t n,
                                 double size) {
    double w = 0;
    for (size_t i = 0; i < n; i++) w = fmax(w, iflow_text_width(fig, e[i].label, size, 0));
    return w;
}

void iflow_panel_legend(iflow_panel *p, const iflow_legend_entry *e, size_t n) {
    if (!n) return;
    iflow_figure *fig = p->fig;
    double size = fig->font_px - 1, row_h = 1.45 * size, pad = 10;
    double w = 2 * pad + SWATCH + 10 + legend_label_width(fig, e, n, size);
    double h = 2 * pad + row_h * (double)n;
    const iflow_box *a = &p->area;
    /* corners first, then edge midpoints: the place covering the least drawn weight */
    double l = a->x + 10, r = a->x + a->w - w - 10, mx = a->x + (a->w - w) / 2;
    double t = a->y + 10, b = a->y + a->h - h - 10, my = a->y + (a->h - h) / 2;
    double cx[8] = {r, l, r, l, mx, mx, l, r}, cy[8] = {t, t, b, b, t, b, my, my};
    size_t best = 0;
    double best_score = INFINITY;
    for (size_t k = 0; k < 8; k++) {
        double score = 0;
        for (size_t i = 0; i < p->n_pts; i++) {
            double x = p->pts[3 * i], y = p->pts[3 * i + 1];
            if (x > cx[k] - 6 && x < cx[k] + w + 6 && y > cy[k] - 6 && y < cy[k] + h + 6)
                score += p->pts[3 * i + 2];
        }
        if (score < best_score - 1e-9) best = k, best_score = score;
    }
    cairo_t *cr = fig->cr;
    cairo_set_source_rgba(cr, 1, 1, 1, 0.88);
    cairo_rectangle(cr, cx[best], cy[best], w, h);
    cairo_fill_preserve(cr);
    set_rgb(cr, (iflow_rgb){0.7, 0.7, 0.7});
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    legend_at(fig, cx[best] + pad, cy[best] + pad, e, n, row_h, size);
}

void iflow_legend_box(iflow_figure *fig, iflow_box box, const iflow_legend_entry *e, size_t n) {
    if (!n) return;
    double size = fig->font_px, row_h = 1.5 * size;
    size_t rows = (size_t)fmax(1, box.h / row_h), cols = (n + rows - 1) / rows;
    rows = (n + cols - 1) / cols;
    double col_w = SWATCH + 24 + legend_label_width(fig, e, n, size);
    double x0 = box.x + fmax(0, (box.w - col_w * (double)cols) / 2);
    double y0 = box.y + fmax(0, (box.h - row_h * (double)rows) / 2);
    for (size_t c = 0; c < cols; c++) {
        size_t i0 = c * rows, cnt = i0 + rows <= n ? rows : n - i0;
        legend_at(fig, x0 + col_w * (double)c, y0, e + i0, cnt, row_h, size);
    }
}

/* ---- colours ---- */

/* matplotlib's viridis (CC0) at t = k/15, k = 0..15. */
static const double VIRIDIS[16][3] = {
    {0.2670, 0.0049, 0.3294}, {0.2827, 0.1002, 0.4222}, {0.2771, 0.1852, 0.4899},
    {0.2539, 0.2653, 0.5300}, {0.2220, 0.3392, 0.5488}, {0.1906, 0.4071, 0.5561},
    {0.1636, 0.4711, 0.5581}, {0.1391, 0.5338, 0.5553}, {0.1206, 0.5964, 0.5436},
    {0.1347, 0.6586, 0.5176}, {0.2080, 0.7187, 0.4729}, {0.3278, 0.7740, 0.4066},
    {0.4775, 0.8214, 0.3182}, {0.6473, 0.8584, 0.2099}, {0.8249, 0.8847, 0.1062},
    {0.9932, 0.9062, 0.1439}};

iflow_rgb iflow_viridis(double t) {
    t = isfinite(t) ? fmin(1, fmax(0, t)) : 0;
    double u = t * 15;
    int k = (int)fmin(14, floor(u));
    double f = u - k;
    iflow_rgb c = {VIRIDIS[k][0] + f * (VIRIDIS[k + 1][0] - VIRIDIS[k][0]),
                   VIRIDIS[k][1] + f * (VIRIDIS[k + 1][1] - VIRIDIS[k][1]),
                   VIRIDIS[k][2] + f * (VIRIDIS[k + 1][2] - VIRIDIS[k][2])};
    return c;
}

iflow_rgb iflow_palette(size_t i) {
    static const unsigned hex[10] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
                                     0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf};
    unsigned h = hex[i % 10];
    iflow_rgb c = {((h >> 16) & 255) / 255.0, ((h >> 8) & 255) / 255.0, (h & 255) / 255.0};
    return c;
}

void iflow_colorbar(iflow_figure *fig, iflow_box box, double lo, double hi, int log,
                    const char *label) {
    cairo_t *cr = fig->cr;
    double fs = fig->font_px, bw = fmin(28, box.w * 0.3);
    for (int i = 0; i < 256; i++) { /* t = 0 at the bottom */
        set_rgb(cr, iflow_viridis((i + 0.5) / 256));
        double y0 = box.y + box.h * (1 - (i + 1) / 256.0);
        cairo_rectangle(cr, box.x, floor(y0), bw, box.h / 256 + 1);
        cairo_fill(cr);
    }
    set_rgb(cr, FRAME);
    cairo_set_line_width(cr, 1.2);
    cairo_rectangle(cr, box.x, box.y, bw, box.h);
    cairo_stroke(cr);
    iflow_axis a = {.lo = lo, .hi = hi, .log = log};
    a.n_ticks = iflow_ticks(lo, hi, log, (size_t)fmax(2, box.h / (2.6 * fs)), a.ticks, &a.sci);
    double wmax = max_tick_width(fig, &a, fs);
    for (size_t i = 0; i < a.n_ticks; i++) {
        double y = box.y + box.h * (1 - iflow_scale01(a.ticks[i], lo, hi, log));
        set_rgb(cr, FRAME);
        cairo_move_to(cr, box.x + bw, y);
        cairo_line_to(cr, box.x + bw + 6, y);
        cairo_stroke(cr);
        set_rgb(cr, INK);
        draw_tick(fig, &a, a.ticks[i], box.x + bw + 10, y, fs, 0, 0.5);
    }
    if (label && label[0])
        iflow_text(fig, box.x + bw + 10 + wmax + 12, box.y + box.h / 2, label,
                   fit_size(fig, label, fs + 2, box.h, 0), 0.5, 0, -M_PI / 2, 0);
}

/* ---- PNG ---- */

/* cairo's ARGB32 is premultiplied, native-endian 0xAARRGGBB; the canvas is painted opaque white
 * first, so alpha is 255 everywhere and the colour bytes are the RGB we write. */
static void argb_to_rgb(const unsigned char *src, int width, unsigned char *dst) {
    const uint32_t *px = (const uint32_t *)(const void *)src;
    for (int x = 0; x < width; x++) {
        uint32_t v = px[x];
        unsigned a = v >> 24;
        for (int k = 0; k < 3; k++) {
            unsigned c = (v >> (16 - 8 * k)) & 255;
            /* un-premultiply over white in case anything left alpha < 255 */
            dst[3 * x + k] = (unsigned char)(a ? c + (255 - a) : 255);
        }
    }
}

/* libpng's own handlers print to stderr; ours keep the message for the caller's error. */
static void png_fail(png_structp png, png_const_charp msg) {
    char *keep = png_get_error_ptr(png);
    if (keep) snprintf(keep, 200, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warn(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

static int png_rows(FILE *f, const iflow_figure *fig, cairo_surface_t *image,
                    const char *const *keys, const char *const *values, size_t n_text,
                    png_text *text, unsigned char *row, char *why) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, why, png_fail, png_warn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)fig->width, (png_uint_32)fig->height, 8,
                 PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    for (size_t i = 0; i < n_text; i++) {
        memset(&text[i], 0, sizeof text[i]);
        text[i].compression = PNG_TEXT_COMPRESSION_NONE;
        text[i].key = (png_charp)(uintptr_t)keys[i];
        text[i].text = (png_charp)(uintptr_t)values[i];
    }
    if (n_text) png_set_text(png, info, text, (int)n_text);
    png_write_info(png, info);
    cairo_surface_flush(image);
    const unsigned char *data = cairo_image_surface_get_data(image);
    int stride = cairo_image_surface_get_stride(image);
    for (int y = 0; y < fig->height; y++) {
        argb_to_rgb(data + (size_t)y * (size_t)stride, fig->width, row);
        png_write_row(png, row);
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return 0;
}

/* The recording replayed onto a W x H image (NULL if out of memory). */
static cairo_surface_t *rasterise(const iflow_figure *fig) {
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, fig->width, fig->height);
    if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(img);
        return NULL;
    }
    cairo_t *cr = cairo_create(img);
    cairo_set_source_surface(cr, fig->surface, 0, 0);
    cairo_paint(cr);
    int bad = cairo_status(cr) != CAIRO_STATUS_SUCCESS;
    cairo_destroy(cr);
    if (bad) {
        cairo_surface_destroy(img);
        return NULL;
    }
    return img;
}

int iflow_fig_write_png(const iflow_figure *fig, const char *path, const char *const *keys,
                        const char *const *values, size_t n_text, iflow_error *err) {
    unsigned char *row = malloc((size_t)fig->width * 3);
    png_text *text = calloc(n_text ? n_text : 1, sizeof *text); /* every chunk asked for */
    cairo_surface_t *image = row && text ? rasterise(fig) : NULL;
    if (!image) {
        free(row), free(text);
        return iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory", path);
    }
    iflow_atomic a;
    int rc = iflow_atomic_open(&a, path, err);
    if (rc) {
        free(row), free(text);
        cairo_surface_destroy(image);
        return rc;
    }
    char why[200] = "out of memory";
    errno = 0;
    int failed = png_rows(a.f, fig, image, keys, values, n_text, text, row, why) != 0;
    int saved = errno;
    cairo_surface_destroy(image);
    free(text);
    if (failed) {
        iflow_atomic_abort(&a);
        if (saved) /* libpng's "Write Error" is a failed fwrite: say why */
            return iflow_error_set(err, IFLOW_EIO, "%s: write failed: %s", path, strerror(saved));
        return iflow_error_set(err, IFLOW_EIO, "%s: libpng failed: %s", path, why);
    }
    free(row);
    return iflow_atomic_commit(&a, err);
}

/* ---- PDF ---- */

static cairo_status_t pdf_out(void *closure, const unsigned char *data, unsigned int length) {
    return fwrite(data, 1, length, closure) == length ? CAIRO_STATUS_SUCCESS
                                                      : CAIRO_STATUS_WRITE_ERROR;
}

int iflow_fig_write_pdf(const iflow_figure *fig, const char *path, const char *creator,
                        const char *subject, iflow_error *err) {
    iflow_atomic a;
    int rc = iflow_atomic_open(&a, path, err);
    if (rc) return rc;
    errno = 0;
    /* one pixel is one point: a 1600 x 1000 figure is a 22.2 x 13.9 inch page */
    cairo_surface_t *pdf =
        cairo_pdf_surface_create_for_stream(pdf_out, a.f, fig->width, fig->height);
    if (creator) cairo_pdf_surface_set_metadata(pdf, CAIRO_PDF_METADATA_CREATOR, creator);
    if (subject) cairo_pdf_surface_set_metadata(pdf, CAIRO_PDF_METADATA_SUBJECT, subject);
    /* no CreationDate: the same logs give the same bytes */
    cairo_pdf_surface_set_metadata(pdf, CAIRO_PDF_METADATA_CREATE_DATE, "");
    cairo_t *cr = cairo_create(pdf);
    cairo_set_source_surface(cr, fig->surface, 0, 0);
    cairo_paint(cr);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_finish(pdf);
    if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_status(pdf);
    cairo_surface_destroy(pdf);
    if (st != CAIRO_STATUS_SUCCESS) {
        int saved = errno;
        iflow_atomic_abort(&a);
        if (st == CAIRO_STATUS_WRITE_ERROR && saved)
            return iflow_error_set(err, IFLOW_EIO, "%s: write failed: %s", path, strerror(saved));
        return iflow_error_set(err, IFLOW_EIO, "%s: cairo failed: %s", path,
                               cairo_status_to_string(st));
    }
    return iflow_atomic_commit(&a, err);
}

int iflow_fig_write(const iflow_figure *fig, const char *png_path, int pdf, const char *const *keys,
                    const char *const *values, size_t n_text, iflow_error *err) {
    int rc = iflow_fig_write_png(fig, png_path, keys, values, n_text, err);
    size_t len = strlen(png_path);
    if (rc || !pdf || len < 4 || strcmp(png_path + len - 4, ".png") != 0) return rc;
    char *path = malloc(len + 1), subject[512] = "";
    if (!path) return iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory", png_path);
    memcpy(path, png_path, len - 4);
    memcpy(path + len - 4, ".pdf", 5);
    const char *creator = NULL;
    for (size_t i = 0; i < n_text; i++) { /* the PNG's tEXt chunks: Creator and Subject */
        size_t used = strlen(subject);
        if (!strcmp(keys[i], "Software"))
            creator = values[i];
        else
            snprintf(subject + used, sizeof subject - used, "%s%s: %s", used ? "; " : "", keys[i],
                     values[i]);
    }
    rc = iflow_fig_write_pdf(fig, path, creator, subject[0] ? subject : NULL, err);
    free(path);
    return rc;
}
