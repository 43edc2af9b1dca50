/* The coverage study of `infoflow validate`: exact values by 1-D quadrature or closed form, and
 * SP estimates (value, total se, Monte Carlo se, bias) over independent seeded sample sets. */
#include "validate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infoflow/entropy.h"
#include "infoflow/rng.h"
#include "io.h"

enum { TAG_SAMPLES = 0x56414c53, TAG_SP = 0x56414c50 };

/* The tanh chain's maps (validate.h). */
#define W1 2.0
#define B1 0.1
#define W2 1.5
#define B2 (-0.2)

static const char *const channel_names[] = {"tanh", "cube", "gauss"};
_Static_assert(sizeof channel_names / sizeof *channel_names == VALIDATE_CHANNEL_COUNT,
               "a name per channel");
static const double betas[][2] = {{0.1, 0.3}, {0.5, 1.0}, {0.5, 1.0}};
_Static_assert(sizeof betas / sizeof *betas == VALIDATE_CHANNEL_COUNT, "levels per channel");

const char *validate_channel_name(validate_channel c) { return channel_names[c]; }
double validate_beta(validate_channel c, int level) { return betas[c][level]; }
size_t validate_grid(size_t d) { return d <= 1 ? 32 : d == 2 ? 6 : 4; }

static double gauss_pdf(double x, double sd) {
    return exp(-0.5 * (x / sd) * (x / sd)) / (sd * sqrt(2 * M_PI));
}

/* I(X;T) = h(T) - mean_j h(T | x_j) of g conditional densities p[j * nt + t] on a grid of
 * step dt (trapezoid = plain sum: the densities vanish at both ends). */
static double mi_from_densities(const double *p, size_t g, size_t nt, double dt) {
    double h_cond = 0, h = 0;
    for (size_t t = 0; t < nt; t++) {
        double mix = 0;
        for (size_t j = 0; j < g; j++) {
            double q = p[j * nt + t];
            mix += q / (double)g;
            if (q > 0) h_cond -= q * log(q) * dt / (double)g;
        }
        if (mix > 0) h -= mix * log(mix) * dt;
    }
    return h - h_cond;
}

/* One coordinate of the tanh chain: p(t | x) = int phi_beta(u - tanh(W1 x + B1))
 * phi_beta(t - tanh(W2 u + B2)) du, both integrals by the trapezoid rule (spectrally accurate
 * for these smooth, fast-decaying integrands) with steps of `step` times the narrowest scale. */
static double tanh_mi_1d(size_t g, double beta, double step) {
    double t_lo = -1 - 10 * beta, dt = beta * step;
    size_t nt = (size_t)ceil((2 + 20 * beta) / dt) + 1;
    double du = fmin(beta, beta / W2) * step;
    size_t nu = (size_t)ceil(20 * beta / du) + 1;
    double *p = calloc(g * nt, sizeof *p);
    if (!p) return NAN;
    for (size_t j = 0; j < g; j++) {
        double x = g > 1 ? -1 + 2 * (double)j / (double)(g - 1) : 0, mu = tanh(W1 * x + B1);
        for (size_t a = 0; a < nu; a++) {
            double u = mu - 10 * beta + (double)a * du;
            double w = gauss_pdf(u - mu, beta) * du, s = tanh(W2 * u + B2);
            for (size_t t = 0; t < nt; t++)
                p[j * nt + t] += w * gauss_pdf(t_lo + (double)t * dt - s, beta);
        }
    }
    double mi = mi_from_densities(p, g, nt, dt);
    free(p);
    return mi;
}

/* Binary-input AWGN capacity: X uniform on {-1, 1}, T = X + N(0, sd^2). */
static double biawgn(double sd, double step) {
    double t_lo = -1 - 12 * sd, dt = sd * step;
    size_t nt = (size_t)ceil((2 + 24 * sd) / dt) + 1;
    double *p = malloc(2 * nt * sizeof *p);
    if (!p) return NAN;
    for (size_t t = 0; t < nt; t++) {
        p[t] = gauss_pdf(t_lo + (double)t * dt + 1, sd);
        p[nt + t] = gauss_pdf(t_lo + (double)t * dt - 1, sd);
    }
    double mi = mi_from_densities(p, 2, nt, dt);
    free(p);
    return mi;
}

double validate_truth(validate_channel c, size_t d, double beta, double step) {
    switch (c) {
    case VALIDATE_TANH: return (double)d * tanh_mi_1d(validate_grid(d), beta, step);
    case VALIDATE_CUBE: return (double)d * biawgn(beta, step);
    case VALIDATE_GAUSS: return 0.5 * (double)d * log(2 * M_PI * M_E * (1 + beta * beta));
    default: return NAN;
    }
}

/* Samples of one set: n x d, replica r of input i at row i * R + r, group[row] = i. */
static void draw_set(const validate_cell *c, double beta, size_t m, size_t set, double *s,
                     size_t *group) {
    size_t d = c->d, R = c->replicas, g = validate_grid(d);
    for (size_t i = 0; i < m; i++) {
        iflow_rng rng;
        iflow_rng_init(&rng, c->seed, iflow_rng_stream3(TAG_SAMPLES, set, i));
        for (size_t r = 0; r < R; r++) {
            double *row = s + (i * R + r) * d;
            group[i * R + r] = i;
            size_t code = i;
            for (size_t k = 0; k < d; k++) {
                if (c->channel == VALIDATE_TANH) {
                    double x = -1 + 2 * (double)(code % g) / (double)(g - 1);
                    code /= g;
                    row[k] = tanh(W2 * (tanh(W1 * x + B1) + beta * iflow_rng_normal(&rng)) + B2);
                } else if (c->channel == VALIDATE_CUBE) {
                    row[k] = code & 1 ? 1.0 : -1.0;
                    code >>= 1;
                } else {
                    row[k] = iflow_rng_normal(&rng);
                }
            }
        }
    }
}

static size_t n_inputs(const validate_cell *c) {
    if (c->channel == VALIDATE_TANH) {
        size_t m = 1;
        for (size_t k = 0; k < c->d; k++) m *= validate_grid(c->d);
        return m;
    }
    if (c->channel == VALIDATE_CUBE) return (size_t)1 << c->d;
    return 16; /* GAUSS: 16 R i.i.d. samples, drawn as 16 blocks of R */
}

int validate_run(const validate_cell *c, validate_row *row, iflow_error *err) {
    memset(row, 0, sizeof *row);
    double beta = validate_beta(c->channel, c->level);
    size_t m = n_inputs(c), R = c->replicas, n = m * R, d = c->d;
    if (c->sets < 2 || R < 1 || d < 1 || d > 8)
        return iflow_error_set(err, IFLOW_EINVAL, "validate: need >= 2 sets, R >= 1, 1 <= d <= 8");
    row->beta = beta;
    row->truth = validate_truth(c->channel, d, beta, 1.0 / 25);
    double *s = malloc(n * d * sizeof *s), *v = malloc(c->sets * sizeof *v);
    double *vc = malloc(c->sets * sizeof *vc);
    size_t *group = malloc(n * sizeof *group);
    int rc = s && v && vc && group ? 0 : iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
    double t0 = iflow_now_seconds(), se2 = 0, se_mc2 = 0;
    size_t n_se = 0, hit = 0, hit_c = 0;
    for (size_t set = 0; set < c->sets && rc == 0; set++) {
        draw_set(c, beta, m, set, s, group);
        iflow_sp_options opt;
        iflow_sp_options_default(&opt);
        opt.beta = beta;
        opt.mc = c->mc;
        opt.seed = c->seed;
        opt.stream = iflow_rng_stream3(TAG_SP, set, 0);
        opt.threads = c->threads;
        opt.bias = 1;
        size_t q = c->queries;
        if (q > 0 && q < R) {
            while (R % q) q++;
            opt.query_stride = R / q;
        }
        iflow_estimate e;
        if (c->channel == VALIDATE_GAUSS) {
            rc = iflow_sp_entropy(s, NULL, n, d, &opt, &e, err);
        } else {
            iflow_mi_estimate mi;
            rc = iflow_sp_grouped_mi(s, n, d, group, m, &opt, &mi, err);
            e = mi.mi;
        }
        if (rc) break;
        v[set] = e.value;
        vc[set] = e.has_bias ? e.value - e.bias : e.value;
        row->n_bias += (size_t)e.has_bias;
        row->bias += e.has_bias ? e.bias : 0;
        se_mc2 += e.se_mc * e.se_mc;
        if (e.se_kind == IFLOW_SE_NA) {
            row->n_na++;
            continue;
        }
        n_se++;
        se2 += e.se * e.se;
        hit += fabs(e.value - row->truth) <= 1.96 * e.se;
        hit_c += fabs(vc[set] - row->truth) <= 1.96 * e.se;
    }
    if (rc == 0) {
        double mean = 0, mean_c = 0, ss = 0, ss_c = 0, k = (double)c->sets;
        for (size_t j = 0; j < c->sets; j++) mean += v[j] / k, mean_c += vc[j] / k;
        for (size_t j = 0; j < c->sets; j++) {
            ss += (v[j] - mean) * (v[j] - mean);
            ss_c += (vc[j] - mean_c) * (vc[j] - mean_c);
        }
        row->mean = mean;
        row->sd = sqrt(ss / (k - 1));
        row->sd_corrected = sqrt(ss_c / (k - 1));
        row->se = n_se ? sqrt(se2 / (double)n_se) : NAN;
        row->se_mc = sqrt(se_mc2 / k);
        row->bias = row->n_bias ? row->bias / (double)row->n_bias : NAN;
        row->cover = n_se ? (double)hit / (double)n_se : NAN;
        row->cover_corrected = n_se ? (double)hit_c / (double)n_se : NAN;
        row->seconds = iflow_now_seconds() - t0;
        size_t q = c->queries > 0 && c->queries < R ? c->queries : R;
        while (R % q) q++;
        row->n_values = m * q;
    }
    free(s);
    free(v);
    free(vc);
    free(group);
    return rc;
}
