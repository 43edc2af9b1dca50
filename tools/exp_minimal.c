/* Experiment 1 of the reproduction (Goldfeld et al. 2019, "minimal example"): one noisy tanh
 * neuron T = tanh(w X + b) + Z, X uniform on a few points, swept over w with b tied to w.
 * Writes minimal.csv, config.ini and minimal.png: I(X;T) by SP beside quadrature and binning.
 *
 * Usage: exp_minimal --config configs/exp-minimal.ini --out results/minimal */
#include <getopt.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "chart.h"
#include "infoflow/binning.h"
#include "infoflow/entropy.h"
#include "infoflow/rng.h"

#define MAX_POINTS 16
#define MAX_BINS   4

typedef struct {
    size_t n_points;
    double points[MAX_POINTS], labels[MAX_POINTS];
    double beta, bias_per_weight; /* b = bias_per_weight * w */
    double w_min, w_max;          /* log-spaced sweep */
    long n_w, mc, bin_samples;
    size_t n_bins;
    double bins[MAX_BINS]; /* 0 = szt30, else a bin width */
    unsigned long long seed;
} config;

/* Comma-separated list of doubles; "szt30" reads as 0 when allow_szt. */
static int parse_list(const char *v, double *out, size_t max, size_t *n, int allow_szt) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    *n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        char *end;
        if (*n == max) return 0;
        if (allow_szt && !strncmp(tok, "szt30", 5)) {
            out[(*n)++] = 0;
            continue;
        }
        out[*n] = strtod(tok, &end);
        while (*end == ' ') end++;
        if (end == tok || *end) return 0;
        (*n)++;
    }
    return *n > 0;
}

static int num(const char *v, double *out) {
    char *end;
    *out = strtod(v, &end);
    return end != v && *end == 0 && isfinite(*out);
}

static int handler(void *user, const char *section, const char *name, const char *value) {
    config *c = user;
    double x = 0;
    size_t n;
    if (strcmp(section, "minimal")) return 0;
    if (!strcmp(name, "points")) return parse_list(value, c->points, MAX_POINTS, &c->n_points, 0);
    if (!strcmp(name, "labels"))
        return parse_list(value, c->labels, MAX_POINTS, &n, 0) && n == c->n_points;
    if (!strcmp(name, "bins")) return parse_list(value, c->bins, MAX_BINS, &c->n_bins, 1);
    if (!num(value, &x)) return 0;
    if (!strcmp(name, "beta"))
        c->beta = x;
    else if (!strcmp(name, "bias_per_weight"))
        c->bias_per_weight = x;
    else if (!strcmp(name, "w_min"))
        c->w_min = x;
    else if (!strcmp(name, "w_max"))
        c->w_max = x;
    else if (!strcmp(name, "n_w"))
        c->n_w = (long)x;
    else if (!strcmp(name, "mc"))
        c->mc = (long)x;
    else if (!strcmp(name, "bin_samples"))
        c->bin_samples = (long)x;
    else if (!strcmp(name, "seed"))
        c->seed = (unsigned long long)x;
    else
        return 0;
    return 1;
}

static void bin_name(double b, char *s, size_t size) {
    if (b == 0)
        snprintf(s, size, "szt30");
    else
        snprintf(s, size, "%g", b);
}

static void write_config(const config *c, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f, "; effective config of exp_minimal\n[minimal]\npoints = ");
    for (size_t i = 0; i < c->n_points; i++) fprintf(f, "%s%.17g", i ? "," : "", c->points[i]);
    fprintf(f, "\nlabels = ");
    for (size_t i = 0; i < c->n_points; i++) fprintf(f, "%s%.17g", i ? "," : "", c->labels[i]);
    fprintf(f, "\nbeta = %.17g\nbias_per_weight = %.17g\nw_min = %.17g\nw_max = %.17g\n", c->beta,
            c->bias_per_weight, c->w_min, c->w_max);
    fprintf(f, "n_w = %ld\nmc = %ld\nbin_samples = %ld\nbins = ", c->n_w, c->mc, c->bin_samples);
    for (size_t i = 0; i < c->n_bins; i++) {
        char s[32];
        bin_name(c->bins[i], s, sizeof s);
        fprintf(f, "%s%s", i ? "," : "", s);
    }
    fprintf(f, "\nseed = %llu\n", c->seed);
    fclose(f);
}

/* Entropy of the 1-D mixture sum_i p_i N(mu_i, sd^2) by the trapezoid rule on a grid of step
 * sd/20 reaching 12 sd beyond the outer centres: h = -int g ln g. For a smooth integrand that
 * decays like a Gaussian the trapezoid error is O(exp(-2 pi^2 (sd/step)^2)), far below 1e-9. */
static double mixture_entropy_1d(const double *mu, const double *p, size_t m, double sd) {
    double lo = mu[0], hi = mu[0];
    for (size_t i = 1; i < m; i++) lo = fmin(lo, mu[i]), hi = fmax(hi, mu[i]);
    lo -= 12 * sd, hi += 12 * sd;
    double step = sd / 20, sum = 0;
    size_t n = (size_t)ceil((hi - lo) / step);
    for (size_t k = 0; k <= n; k++) {
        double t = lo + (double)k * step, mx = -INFINITY, e[MAX_POINTS];
        for (size_t i = 0; i < m; i++) {
            double z = (t - mu[i]) / sd;
            e[i] = log(p[i]) - 0.5 * z * z;
            mx = fmax(mx, e[i]);
        }
        double s = 0;
        for (size_t i = 0; i < m; i++) s += exp(e[i] - mx);
        double lg = mx + log(s) - log(sd * sqrt(2 * M_PI)), g = exp(lg);
        sum += (k == 0 || k == n ? 0.5 : 1.0) * (g > 0 ? -g * lg : 0.0);
    }
    return sum * step;
}

/* I(X;T) = h(T) - h(Z) and I(Y;T) = h(T) - sum_y p(y) h(T|Y=y) by quadrature (X uniform). */
static void exact_mi(const config *c, const double *s, double *ixt, double *iyt) {
    size_t m = c->n_points;
    double p[MAX_POINTS], hy = 0;
    for (size_t i = 0; i < m; i++) p[i] = 1.0 / (double)m;
    double ht = mixture_entropy_1d(s, p, m, c->beta);
    *ixt = ht - iflow_gaussian_entropy(1, c->beta);
    for (size_t a = 0; a < m; a++) { /* each label once: the first point that carries it */
        size_t first = 0, my = 0;
        while (c->labels[first] != c->labels[a]) first++;
        if (first != a) continue;
        double mu[MAX_POINTS], q[MAX_POINTS];
        for (size_t i = 0; i < m; i++)
            if (c->labels[i] == c->labels[a]) mu[my++] = s[i];
        for (size_t i = 0; i < my; i++) q[i] = 1.0 / (double)my;
        hy += (double)my / (double)m * mixture_entropy_1d(mu, q, my, c->beta);
    }
    *iyt = ht - hy;
}

typedef struct {
    double w, b, ixt, iyt;
    iflow_mi_estimate sp_x, sp_y;
    double h_bin_clean[MAX_BINS], i_bin_noisy[MAX_BINS];
} row;

static int measure(const config *c, size_t iw, row *r, iflow_error *err) {
    size_t m = c->n_points, group_x[MAX_POINTS], group_y[MAX_POINTS];
    double s[MAX_POINTS];
    r->w = c->w_min * pow(c->w_max / c->w_min, (double)iw / (double)(c->n_w - 1));
    r->b = c->bias_per_weight * r->w;
    for (size_t i = 0; i < m; i++) {
        s[i] = tanh(r->w * c->points[i] + r->b);
        group_x[i] = i, group_y[i] = (size_t)c->labels[i];
    }
    exact_mi(c, s, &r->ixt, &r->iyt);
    /* SP exactly as the pipeline does it for a first layer: X uniform on the data set, so the
     * centres are the m activations themselves, with mc Monte Carlo draws around each. */
    iflow_sp_options o;
    iflow_sp_options_default(&o);
    o.beta = c->beta, o.mc = (size_t)c->mc, o.seed = c->seed, o.stream = iw * 1000;
    o.normals = IFLOW_NORMALS_V1, o.tolerance = 0; /* as the committed results were made */
    o.threads = 1;
    /* One exact sample per point: the draws are all that is random, so se_mc is the whole error
     * (the total se is n/a: no group has two samples). */
    int rc = iflow_sp_grouped_mi2(s, m, 1, group_x, m, group_y, 2, &o, &r->sp_x, &r->sp_y, err);
    /* Binned: I(X; Bin T) from bin_samples noisy draws per point, and H(Bin S) of the noiseless
     * activations (= I(X; Bin S) since the points are distinct). */
    size_t nb = m * (size_t)c->bin_samples;
    double *t = malloc(nb * sizeof *t);
    size_t *g = malloc(nb * sizeof *g);
    if (!t || !g) rc = rc ? rc : IFLOW_ENOMEM;
    iflow_rng rng;
    iflow_rng_init(&rng, c->seed, iw * 1000 + 999);
    for (size_t k = 0; !rc && k < nb; k++)
        g[k] = k % m, t[k] = s[k % m] + c->beta * iflow_rng_normal(&rng);
    for (size_t j = 0; !rc && j < c->n_bins; j++) {
        iflow_binning bins = {c->bins[j] == 0 ? IFLOW_BIN_SZT30 : IFLOW_BIN_WIDTH, c->bins[j], 0};
        double h, hc;
        rc = iflow_bin_entropy(s, m, 1, &bins, &r->h_bin_clean[j], err);
        if (!rc) rc = iflow_bin_grouped(t, nb, 1, &bins, g, m, &h, &hc, err);
        r->i_bin_noisy[j] = h - hc;
    }
    free(t), free(g);
    return rc;
}

static int write_csv(const config *c, const row *r, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "w,b,I_XT_exact,I_YT_exact,I_XT_sp,I_XT_sp_se,I_YT_sp,I_YT_sp_se");
    for (size_t j = 0; j < c->n_bins; j++) {
        char s[32];
        bin_name(c->bins[j], s, sizeof s);
        fprintf(f, ",H_bin_clean_%s,I_XT_bin_noisy_%s", s, s);
    }
    fprintf(f, "\n");
    for (long i = 0; i < c->n_w; i++) {
        fprintf(f, "%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g", r[i].w, r[i].b, r[i].ixt,
                r[i].iyt, r[i].sp_x.mi.value, r[i].sp_x.mi.se_mc, r[i].sp_y.mi.value,
                r[i].sp_y.mi.se_mc);
        for (size_t j = 0; j < c->n_bins; j++)
            fprintf(f, ",%.10g,%.10g", r[i].h_bin_clean[j], r[i].i_bin_noisy[j]);
        fprintf(f, "\n");
    }
    return fclose(f);
}

/* Left: I(X;T) and I(Y;T) against w; right: the activations tanh(w x_i + b) merging. */
static int plot(const config *c, const row *r, const char *path, iflow_error *err) {
    iflow_figure fig;
    int rc = iflow_fig_new(&fig, 1500, 640, err);
    if (rc) return rc;
    double top = iflow_fig_title(&fig, (iflow_box){0, 0, 1500, 640},
                                 "One noisy tanh neuron: T = tanh(w X + b) + Z", 26);
    iflow_box area = {10, top + 6, 1480, 640 - top - 16};
    size_t n = (size_t)c->n_w;
    double *w = malloc(n * sizeof *w), *y = malloc(4 * n * sizeof *y);
    if (!w || !y) {
        free(w), free(y), iflow_fig_free(&fig);
        return IFLOW_ENOMEM;
    }
    iflow_range rx, ry;
    iflow_range_init(&rx, 1), iflow_range_init(&ry, 0);
    for (size_t i = 0; i < n; i++) iflow_range_add1(&rx, w[i] = r[i].w);
    iflow_range_add1(&ry, 0), iflow_range_add1(&ry, log((double)c->n_points) * 1.08);
    iflow_panel p;
    char title[160];
    snprintf(title, sizeof title, "I(X;T) and I(Y;T), beta = %g, b = %g w", c->beta,
             c->bias_per_weight);
    iflow_axis_set(&p.x, rx, 1, 0.02, "weight w");
    iflow_axis_set(&p.y, ry, 0, 0.02, "nats");
    iflow_panel_init(&p, &fig, iflow_box_cell(area, 1, 2, 0, 0, 30), title);
    iflow_panel_hline(&p, log((double)c->n_points), (iflow_rgb){.5, .5, .5}, "ln m");
    double *ix = y, *iy = y + n, *hb = y + 2 * n, *ib = y + 3 * n;
    for (size_t i = 0; i < n; i++)
        ix[i] = r[i].ixt, iy[i] = r[i].iyt, hb[i] = r[i].h_bin_clean[0],
        ib[i] = r[i].i_bin_noisy[0];
    iflow_rgb cx = iflow_palette(0), cy = iflow_palette(1), cb = iflow_palette(2),
              cn = iflow_palette(3);
    iflow_panel_line(&p, w, ix, n, cx, 2.2, 0);
    iflow_panel_line(&p, w, iy, n, cy, 2.2, 0);
    if (c->n_bins) {
        iflow_panel_line(&p, w, hb, n, cb, 1.8, 1);
        iflow_panel_line(&p, w, ib, n, cn, 1.8, 1);
    }
    for (size_t i = 0; i < n; i++) {
        iflow_panel_errorbar(&p, w[i], r[i].sp_x.mi.value, 0, 2 * r[i].sp_x.mi.se_mc, cx);
        iflow_panel_marker(&p, w[i], r[i].sp_x.mi.value, IFLOW_MARK_CIRCLE, 6, cx, cx);
        iflow_panel_errorbar(&p, w[i], r[i].sp_y.mi.value, 0, 2 * r[i].sp_y.mi.se_mc, cy);
        iflow_panel_marker(&p, w[i], r[i].sp_y.mi.value, IFLOW_MARK_SQUARE, 6, cy, cy);
    }
    char bn[32], lb[64], lc[64];
    bin_name(c->n_bins ? c->bins[0] : 0, bn, sizeof bn);
    snprintf(lb, sizeof lb, "I(X; Bin T), noisy, %s", bn);
    snprintf(lc, sizeof lc, "H(Bin S), noiseless, %s", bn);
    iflow_legend_entry leg[] = {
        {"I(X;T) exact (quadrature)", cx, 0, 2.2, IFLOW_MARK_NONE, 0},
        {"I(X;T) SP, +-2 se", cx, 0, 0, IFLOW_MARK_CIRCLE, 0},
        {"I(Y;T) exact (quadrature)", cy, 0, 2.2, IFLOW_MARK_NONE, 0},
        {"I(Y;T) SP, +-2 se", cy, 0, 0, IFLOW_MARK_SQUARE, 0},
        {lc, cb, 1, 1.8, IFLOW_MARK_NONE, 0},
        {lb, cn, 1, 1.8, IFLOW_MARK_NONE, 0},
    };
    iflow_panel_legend(&p, leg, c->n_bins ? 6 : 4);
    iflow_panel_free(&p);

    iflow_range_init(&ry, 0), iflow_range_add1(&ry, -1), iflow_range_add1(&ry, 1);
    iflow_axis_set(&p.x, rx, 1, 0.02, "weight w");
    iflow_axis_set(&p.y, ry, 0, 0.04, "S = tanh(w x + b)");
    iflow_panel_init(&p, &fig, iflow_box_cell(area, 1, 2, 0, 1, 30),
                     "Noiseless activation of each input (colour = label)");
    for (size_t k = 0; k < c->n_points; k++) {
        for (size_t i = 0; i < n; i++) y[i] = tanh(w[i] * (c->points[k] + c->bias_per_weight));
        iflow_panel_line(&p, w, y, n, iflow_palette(4 + (size_t)c->labels[k]), 2.0, k % 2);
    }
    iflow_panel_free(&p);
    free(w), free(y);
    const char *keys[] = {"Software"}, *vals[] = {"infoflow tools/exp_minimal"};
    rc = iflow_fig_write_png(&fig, path, keys, vals, 1, err);
    iflow_fig_free(&fig);
    return rc;
}

int main(int argc, char **argv) {
    const char *cfg_path = NULL, *out = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--config"))
            cfg_path = argv[i + 1];
        else if (!strcmp(argv[i], "--out"))
            out = argv[i + 1];
    }
    if (!cfg_path || !out) {
        fprintf(stderr, "usage: exp_minimal --config FILE.ini --out DIR\n");
        return 2;
    }
    config c = {.beta = 0.01,
                .bias_per_weight = -2,
                .w_min = 1e-3,
                .w_max = 20,
                .n_w = 61,
                .mc = 200,
                .bin_samples = 2000,
                .seed = 1};
    int line = ini_parse(cfg_path, handler, &c);
    if (line) {
        if (line < 0)
            fprintf(stderr, "exp_minimal: cannot read %s\n", cfg_path);
        else
            fprintf(stderr, "exp_minimal: %s:%d: bad value or unknown key\n", cfg_path, line);
        return 1;
    }
    if (c.n_points < 2 || !(c.beta > 0) || !(c.w_min > 0) || !(c.w_max > c.w_min) || c.n_w < 2 ||
        c.mc < 2 || c.bin_samples < 1) {
        fprintf(stderr,
                "exp_minimal: %s: need points, beta > 0, 0 < w_min < w_max, n_w >= 2, "
                "mc >= 2, bin_samples >= 1\n",
                cfg_path);
        return 1;
    }
    for (size_t i = 0; i < c.n_points; i++)
        if (c.labels[i] != 0 && c.labels[i] != 1) {
            fprintf(stderr, "exp_minimal: %s: labels must be 0 or 1\n", cfg_path);
            return 1;
        }
    mkdir(out, 0777);
    row *r = calloc((size_t)c.n_w, sizeof *r);
    iflow_error err = {0};
    int rc = r ? 0 : IFLOW_ENOMEM;
    for (long i = 0; !rc && i < c.n_w; i++) rc = measure(&c, (size_t)i, &r[i], &err);
    char path[1200];
    if (!rc) {
        snprintf(path, sizeof path, "%s/config.ini", out);
        write_config(&c, path);
        snprintf(path, sizeof path, "%s/minimal.csv", out);
        if (write_csv(&c, r, path)) fprintf(stderr, "exp_minimal: cannot write %s\n", path), rc = 1;
    }
    if (!rc) {
        snprintf(path, sizeof path, "%s/minimal.png", out);
        rc = plot(&c, r, path, &err);
    }
    if (rc)
        fprintf(stderr, "exp_minimal: %s\n", err.msg[0] ? err.msg : "failed");
    else
        printf("exp_minimal: wrote %s/{minimal.csv,minimal.png,config.ini}\n", out);
    free(r);
    return rc ? 1 : 0;
}
