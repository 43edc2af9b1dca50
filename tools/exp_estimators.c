/* Experiment 7 of the reproduction: SP against Kozachenko-Leonenko kNN and a cross-validated
 * Gaussian KDE, estimating h(S + Z) with S uniform on the corners of [-1,1]^d (optionally each
 * corner blurred by N(0, component_std^2 I)) and Z ~ N(0, beta^2 I), so that T = S + Z is a
 * mixture of 2^d Gaussians. Error against n, for each dimension in the config.
 *
 * Usage: exp_estimators --config configs/exp-estimators.ini --out results/estimators */
#include <ini.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "chart.h"
#include "infoflow/entropy.h"
#include "infoflow/rng.h"
#include "mixture.h"

#define MAX_LIST 16
#define MAX_GRID 64
enum { EST_SP, EST_KNN, EST_KDE, N_EST };
static const char *est_name[N_EST] = {"SP", "kNN", "KDE-CV"};

typedef struct {
    size_t n_dims, n_n, n_nmax;
    double dims[MAX_LIST], ns[MAX_LIST], nmax[MAX_LIST]; /* nmax[i]: largest n for dims[i] */
    double beta, component_std;
    long repeats, min_repeats, budget; /* reps(n) = clamp(budget / n, min_repeats, repeats) */
    long sp_draws, knn_k, kde_queries, kde_grid, truth_mc;
    double kde_h_min, kde_h_max;
    unsigned long long seed;
} config;

static int parse_list(const char *v, double *out, size_t *n) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    *n = 0;
    for (char *sv = NULL, *tok = strtok_r(buf, ",", &sv); tok; tok = strtok_r(NULL, ",", &sv)) {
        char *end;
        if (*n == MAX_LIST) return 0;
        out[*n] = strtod(tok, &end);
        while (*end == ' ') end++;
        if (end == tok || *end || !(out[*n] > 0)) return 0;
        (*n)++;
    }
    return *n > 0;
}

static int handler(void *user, const char *section, const char *name, const char *value) {
    config *c = user;
    if (strcmp(section, "estimators")) return 0;
    if (!strcmp(name, "dims")) return parse_list(value, c->dims, &c->n_dims);
    if (!strcmp(name, "n")) return parse_list(value, c->ns, &c->n_n);
    if (!strcmp(name, "n_max")) return parse_list(value, c->nmax, &c->n_nmax);
    char *end;
    double x = strtod(value, &end);
    if (end == value || *end || !isfinite(x) || x < 0) return 0;
    struct {
        const char *key;
        double *d;
        long *l;
    } keys[] = {{"beta", &c->beta, 0},           {"component_std", &c->component_std, 0},
                {"repeats", 0, &c->repeats},     {"min_repeats", 0, &c->min_repeats},
                {"budget", 0, &c->budget},       {"sp_draws", 0, &c->sp_draws},
                {"knn_k", 0, &c->knn_k},         {"kde_queries", 0, &c->kde_queries},
                {"kde_grid", 0, &c->kde_grid},   {"kde_h_min", &c->kde_h_min, 0},
                {"kde_h_max", &c->kde_h_max, 0}, {"truth_mc", 0, &c->truth_mc}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(name, keys[i].key)) {
            if (keys[i].d)
                *keys[i].d = x;
            else
                *keys[i].l = (long)x;
            return 1;
        }
    if (!strcmp(name, "seed")) return c->seed = (unsigned long long)x, 1;
    return 0;
}

static void write_list(FILE *f, const char *key, const double *v, size_t n) {
    fprintf(f, "%s = ", key);
    for (size_t i = 0; i < n; i++) fprintf(f, "%s%.17g", i ? "," : "", v[i]);
    fprintf(f, "\n");
}

static void write_config(const config *c, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f, "; effective config of exp_estimators\n[estimators]\n");
    write_list(f, "dims", c->dims, c->n_dims);
    write_list(f, "n", c->ns, c->n_n);
    write_list(f, "n_max", c->nmax, c->n_nmax);
    fprintf(f,
            "beta = %.17g\ncomponent_std = %.17g\nrepeats = %ld\nmin_repeats = %ld\n"
            "budget = %ld\nsp_draws = %ld\nknn_k = %ld\nkde_queries = %ld\nkde_grid = %ld\n"
            "kde_h_min = %.17g\nkde_h_max = %.17g\ntruth_mc = %ld\nseed = %llu\n",
            c->beta, c->component_std, c->repeats, c->min_repeats, c->budget, c->sp_draws, c->knn_k,
            c->kde_queries, c->kde_grid, c->kde_h_min, c->kde_h_max, c->truth_mc, c->seed);
    fclose(f);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ln of the 1-D density of one coordinate of T: (1/2) N(-1, v) + (1/2) N(1, v). */
static double log_p1(double t, double v) {
    double a = -(t + 1) * (t + 1) / (2 * v), b = -(t - 1) * (t - 1) / (2 * v);
    double m = fmax(a, b);
    return m + log(0.5 * exp(a - m) + 0.5 * exp(b - m)) - 0.5 * log(2 * M_PI * v);
}

/* Truth. The coordinates of T are independent (uniform corners and an isotropic Gaussian are
 * both product measures), so h(T) = d h1 with h1 the entropy of one coordinate's two-component
 * mixture: trapezoid rule, step sd/20 over [-1 - 14 sd, 1 + 14 sd] (error far below 1e-9). */
static double truth_quadrature(size_t d, double v) {
    double sd = sqrt(v), lo = -1 - 14 * sd, step = sd / 20, sum = 0;
    size_t n = (size_t)ceil((2 + 28 * sd) / step);
    for (size_t k = 0; k <= n; k++) {
        double lp = log_p1(lo + (double)k * step, v), p = exp(lp);
        sum += (k == 0 || k == n ? 0.5 : 1.0) * (p > 0 ? -p * lp : 0);
    }
    return (double)d * sum * step;
}

/* The independent check the brief asks for: -mean ln p(T) over m fresh draws of T, with its SE. */
static void truth_mc(size_t d, double v, size_t m, uint64_t seed, double *h, double *se) {
    double s = 0, s2 = 0;
#pragma omp parallel for reduction(+ : s, s2) schedule(static)
    for (size_t i = 0; i < m; i++) {
        iflow_rng r;
        iflow_rng_init(&r, seed, 0x7777000000ULL + i);
        double lp = 0;
        for (size_t c = 0; c < d; c++) {
            double t = (iflow_rng_uniform(&r) < 0.5 ? -1.0 : 1.0) + sqrt(v) * iflow_rng_normal(&r);
            lp += log_p1(t, v);
        }
        s += -lp, s2 += lp * lp;
    }
    *h = s / (double)m;
    *se = sqrt(fmax(s2 / (double)m - *h * *h, 0) / (double)m);
}

/* n samples of S (corners, blurred by component_std) and of T = S + beta Z. */
static void draw(const config *c, size_t n, size_t d, uint64_t stream, double *s, double *t) {
    iflow_rng r;
    iflow_rng_init(&r, c->seed, stream);
    for (size_t i = 0; i < n * d; i++) {
        s[i] = (iflow_rng_uniform(&r) < 0.5 ? -1.0 : 1.0) + c->component_std * iflow_rng_normal(&r);
        t[i] = s[i] + c->beta * iflow_rng_normal(&r);
    }
}

/* KDE p(t) = (1/n) sum_j N(t; t_j, h^2 I) on the T samples. The bandwidth maximises the
 * leave-one-out log-likelihood (1/q) sum_i ln((1/(n-1)) sum_{j != i} N(t_i; t_j, h^2 I)) over a
 * log grid, with the first q samples as queries (an unbiased subsample of the n terms); the
 * entropy is the resubstitution estimate -(1/q) sum_i ln p(t_i) with every j, self included. */
static double kde_entropy(const config *c, const double *t, size_t n, size_t d, double *h_best) {
    size_t q = n < (size_t)c->kde_queries ? n : (size_t)c->kde_queries, ng = (size_t)c->kde_grid;
    double hs[MAX_GRID], loo[MAX_GRID] = {0}, resub[MAX_GRID] = {0};
    for (size_t g = 0; g < ng; g++)
        hs[g] = c->kde_h_min * pow(c->kde_h_max / c->kde_h_min, (double)g / (double)(ng - 1));
#pragma omp parallel
    {
        double *dist = malloc(n * sizeof *dist), lo[MAX_GRID] = {0}, rs[MAX_GRID] = {0};
#pragma omp for schedule(dynamic, 8)
        for (size_t i = 0; i < q; i++) {
            double dmin = INFINITY;
            for (size_t j = 0; j < n; j++) {
                double s = 0;
                for (size_t k = 0; k < d; k++) {
                    double u = t[i * d + k] - t[j * d + k];
                    s += u * u;
                }
                dist[j] = s;
                if (j != i) dmin = fmin(dmin, s);
            }
            dist[i] = INFINITY; /* the self term, handled apart below */
            for (size_t g = 0; g < ng; g++) {
                double inv = 1 / (2 * hs[g] * hs[g]), sum = 0;
#pragma omp simd reduction(+ : sum)
                for (size_t j = 0; j < n; j++) {
                    double x = -(dist[j] - dmin) * inv;
                    sum += iflow_exp_kernel(x < -745 ? -745 : x);
                }
                double others = -dmin * inv + log(sum),
                       lnorm = 0.5 * (double)d * log(2 * M_PI * hs[g] * hs[g]);
                lo[g] += others - log((double)(n - 1)) - lnorm;
                /* ln(1 + sum_{j != i}) = logaddexp(0, others): the self term is exp(0) */
                double all = others > 0 ? others + log1p(exp(-others)) : log1p(exp(others));
                rs[g] += all - log((double)n) - lnorm;
            }
        }
#pragma omp critical
        for (size_t g = 0; g < ng; g++) loo[g] += lo[g], resub[g] += rs[g];
        free(dist);
    }
    size_t best = 0;
    for (size_t g = 1; g < ng; g++)
        if (loo[g] > loo[best]) best = g;
    *h_best = hs[best];
    return -resub[best] / (double)q;
}

typedef struct {
    size_t d, n, rep;
    double est[N_EST], seconds[N_EST], kde_h;
} result;

static int run_one(const config *c, size_t d, size_t n, size_t rep, result *r, iflow_error *err) {
    double *s = malloc(n * d * sizeof *s), *t = malloc(n * d * sizeof *t);
    if (!s || !t) {
        free(s), free(t);
        return IFLOW_ENOMEM;
    }
    uint64_t stream = ((uint64_t)d << 40) ^ ((uint64_t)n << 8) ^ rep;
    draw(c, n, d, stream, s, t);
    *r = (result){.d = d, .n = n, .rep = rep};
    iflow_sp_options o;
    iflow_sp_options_default(&o);
    o.beta = c->beta, o.seed = c->seed, o.stream = stream << 20, o.tolerance = 1e-6;
    o.normals = IFLOW_NORMALS_V1; /* the committed results' generator, not the default's */
    o.mc = (size_t)((c->sp_draws + (long)n - 1) / (long)n);
    if (o.mc < 2) o.mc = 2;
    iflow_estimate e;
    double t0 = now();
    int rc = iflow_sp_entropy(s, NULL, n, d, &o, &e, err);
    r->est[EST_SP] = e.value, r->seconds[EST_SP] = now() - t0, t0 = now();
    if (!rc) rc = iflow_knn_entropy(t, n, d, (size_t)c->knn_k, 0, &r->est[EST_KNN], err);
    r->seconds[EST_KNN] = now() - t0, t0 = now();
    if (!rc) r->est[EST_KDE] = kde_entropy(c, t, n, d, &r->kde_h);
    r->seconds[EST_KDE] = now() - t0;
    free(s), free(t);
    return rc;
}

/* Per (d, n, estimator): mean estimate, its sd, bias, RMSE and mean |error| over repetitions. */
typedef struct {
    size_t d, n, reps;
    double mean[N_EST], sd[N_EST], bias[N_EST], rmse[N_EST], mae[N_EST], seconds[N_EST];
} summary;

static void summarise(const result *r, size_t nr, double truth, summary *s) {
    s->d = r[0].d, s->n = r[0].n, s->reps = nr;
    for (int e = 0; e < N_EST; e++) {
        double m = 0, m2 = 0, ae = 0, se = 0, sec = 0;
        for (size_t i = 0; i < nr; i++) {
            double x = r[i].est[e], err = x - truth;
            m += x, m2 += x * x, ae += fabs(err), se += err * err, sec += r[i].seconds[e];
        }
        double k = (double)nr;
        s->mean[e] = m / k, s->bias[e] = m / k - truth, s->mae[e] = ae / k;
        s->rmse[e] = sqrt(se / k), s->seconds[e] = sec;
        s->sd[e] = nr > 1 ? sqrt(fmax(m2 - m * m / k, 0) / (k - 1)) : 0;
    }
}

/* Top row: mean |error| against n (log-log) with an n^-1/2 guide; bottom: the estimates. */
static int plot(const config *c, const summary *s, size_t ns, const double *truth, const char *path,
                iflow_error *err) {
    iflow_figure fig;
    int W = 1500, H = 1150, rc = iflow_fig_new(&fig, W, H, err);
    if (rc) return rc;
    char title[200];
    snprintf(title, sizeof title, "h(S + Z), S uniform on the corners of [-1,1]^d%s, beta = %g",
             c->component_std > 0 ? " (blurred)" : "", c->beta);
    double top = iflow_fig_title(&fig, (iflow_box){0, 0, W, H}, title, 26);
    iflow_box area = {10, top + 6, W - 20, H - top - 16};
    double x[MAX_LIST], y[MAX_LIST], lo[MAX_LIST], hi[MAX_LIST];
    for (size_t di = 0; di < c->n_dims; di++) {
        size_t d = (size_t)c->dims[di];
        for (int row = 0; row < 2; row++) {
            iflow_range rx, ry;
            iflow_range_init(&rx, 1), iflow_range_init(&ry, row == 0);
            for (size_t i = 0; i < ns; i++) {
                if (s[i].d != d) continue;
                iflow_range_add1(&rx, (double)s[i].n);
                for (int e = 0; e < N_EST; e++)
                    if (row == 0)
                        iflow_range_add1(&ry, s[i].mae[e]);
                    else
                        iflow_range_add1(&ry, s[i].mean[e] - s[i].sd[e]),
                            iflow_range_add1(&ry, s[i].mean[e] + s[i].sd[e]);
            }
            if (row == 1) iflow_range_add1(&ry, truth[di]);
            iflow_panel p;
            char t2[120];
            snprintf(t2, sizeof t2,
                     row ? "d = %zu: estimates, mean +-1 sd over repetitions"
                         : "d = %zu: mean absolute error",
                     d);
            iflow_axis_set(&p.x, rx, 1, 0.04, "n (samples)");
            iflow_axis_set(&p.y, ry, row == 0, 0.05, row ? "h estimate (nats)" : "|error| (nats)");
            iflow_panel_init(&p, &fig, iflow_box_cell(area, 2, (int)c->n_dims, row, (int)di, 30),
                             t2);
            if (row == 1) iflow_panel_hline(&p, truth[di], (iflow_rgb){.4, .4, .4}, "true h");
            for (int e = 0; e < N_EST; e++) {
                size_t k = 0;
                for (size_t i = 0; i < ns; i++) {
                    if (s[i].d != d) continue;
                    x[k] = (double)s[i].n, y[k] = row ? s[i].mean[e] : s[i].mae[e];
                    lo[k] = s[i].mean[e] - s[i].sd[e], hi[k] = s[i].mean[e] + s[i].sd[e], k++;
                }
                iflow_rgb col = iflow_palette((size_t)e);
                if (row == 1) iflow_panel_band(&p, x, lo, hi, k, col, 0.2);
                iflow_panel_line(&p, x, y, k, col, 2.2, 0);
                for (size_t i = 0; i < k; i++)
                    iflow_panel_marker(&p, x[i], y[i], (iflow_marker)(e + 1), 7, col, col);
                if (row == 0 && e == EST_SP &&
                    k > 0) { /* guide: SP's first error times sqrt(n0/n) */
                    for (size_t i = 0; i < k; i++) lo[i] = y[0] * sqrt(x[0] / x[i]);
                    iflow_panel_line(&p, x, lo, k, (iflow_rgb){.5, .5, .5}, 1.2, 1);
                }
            }
            iflow_legend_entry leg[N_EST + 1];
            for (int e = 0; e < N_EST; e++)
                leg[e] = (iflow_legend_entry){est_name[e], iflow_palette((size_t)e), 0,
                                              2.2,         (iflow_marker)(e + 1),    0};
            leg[N_EST] =
                (iflow_legend_entry){"slope n^-1/2", {.5, .5, .5}, 1, 1.2, IFLOW_MARK_NONE, 0};
            iflow_panel_legend(&p, leg, row == 0 ? N_EST + 1 : N_EST);
            iflow_panel_free(&p);
        }
    }
    const char *keys[] = {"Software"}, *vals[] = {"infoflow tools/exp_estimators"};
    rc = iflow_fig_write_png(&fig, path, keys, vals, 1, err);
    iflow_fig_free(&fig);
    return rc;
}

static long reps_for(const config *c, size_t n) {
    long r = c->budget / (long)n;
    if (r > c->repeats) r = c->repeats;
    return r < c->min_repeats ? c->min_repeats : r;
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
        fprintf(stderr, "usage: exp_estimators --config FILE.ini --out DIR\n");
        return 2;
    }
    config c = {.beta = 0.1,
                .repeats = 10,
                .min_repeats = 3,
                .budget = 100000,
                .sp_draws = 20000,
                .knn_k = 3,
                .kde_queries = 2000,
                .kde_grid = 24,
                .kde_h_min = 0.01,
                .kde_h_max = 1,
                .truth_mc = 1000000,
                .seed = 1};
    int line = ini_parse(cfg_path, handler, &c);
    if (line) {
        if (line < 0)
            fprintf(stderr, "exp_estimators: cannot read %s\n", cfg_path);
        else
            fprintf(stderr, "exp_estimators: %s:%d: bad value or unknown key\n", cfg_path, line);
        return 1;
    }
    if (!c.n_dims || !c.n_n || c.n_nmax != c.n_dims || !(c.beta > 0) || c.kde_grid < 2 ||
        c.kde_grid > MAX_GRID || c.knn_k < 1 || c.min_repeats < 1 || c.repeats < c.min_repeats ||
        !(c.kde_h_max > c.kde_h_min && c.kde_h_min > 0) || c.truth_mc < 2 || c.kde_queries < 2) {
        fprintf(stderr,
                "exp_estimators: %s: need dims, n, n_max (one per dim), beta > 0, "
                "2 <= kde_grid <= %d, 0 < kde_h_min < kde_h_max, knn_k, repeats >= "
                "min_repeats >= 1\n",
                cfg_path, MAX_GRID);
        return 1;
    }
    mkdir(out, 0777);
    char path[1200];
    snprintf(path, sizeof path, "%s/config.ini", out);
    write_config(&c, path);
    snprintf(path, sizeof path, "%s/estimators.csv", out);
    FILE *fr = fopen(path, "w");
    snprintf(path, sizeof path, "%s/truth.csv", out);
    FILE *ft = fopen(path, "w");
    if (!fr || !ft) return fprintf(stderr, "exp_estimators: cannot write in %s\n", out), 1;
    fprintf(fr, "d,n,rep,truth,SP,kNN,KDE_CV,kde_bandwidth,SP_seconds,kNN_seconds,KDE_seconds\n");
    fprintf(ft, "d,truth_quadrature,truth_mc,truth_mc_se,mc_samples\n");
    summary s[MAX_LIST * MAX_LIST];
    double truth[MAX_LIST];
    size_t ns = 0;
    iflow_error err = {0};
    int rc = 0;
    double v = c.component_std * c.component_std + c.beta * c.beta;
    for (size_t di = 0; !rc && di < c.n_dims; di++) {
        size_t d = (size_t)c.dims[di];
        double hmc, hse;
        truth[di] = truth_quadrature(d, v);
        truth_mc(d, v, (size_t)c.truth_mc, c.seed + 1000, &hmc, &hse);
        fprintf(ft, "%zu,%.10g,%.10g,%.3g,%ld\n", d, truth[di], hmc, hse, c.truth_mc);
        printf("d = %zu: true h = %.6f (quadrature), %.6f +- %.6f (Monte Carlo, %ld draws)\n", d,
               truth[di], hmc, hse, c.truth_mc);
        for (size_t ni = 0; !rc && ni < c.n_n; ni++) {
            size_t n = (size_t)c.ns[ni];
            if (n > (size_t)c.nmax[di]) continue;
            long reps = reps_for(&c, n);
            result r[64];
            if (reps > 64) reps = 64;
            for (long k = 0; !rc && k < reps; k++) {
                rc = run_one(&c, d, n, (size_t)k, &r[k], &err);
                fprintf(fr, "%zu,%zu,%ld,%.10g,%.10g,%.10g,%.10g,%.6g,%.4g,%.4g,%.4g\n", d, n, k,
                        truth[di], r[k].est[EST_SP], r[k].est[EST_KNN], r[k].est[EST_KDE],
                        r[k].kde_h, r[k].seconds[EST_SP], r[k].seconds[EST_KNN],
                        r[k].seconds[EST_KDE]);
                fflush(fr);
            }
            if (rc) break;
            summarise(r, (size_t)reps, truth[di], &s[ns]);
            printf("d = %zu n = %zu (%ld reps): |err| SP %.4f  kNN %.4f  KDE %.4f  (s: %.1f %.1f "
                   "%.1f)\n",
                   d, n, reps, s[ns].mae[0], s[ns].mae[1], s[ns].mae[2], s[ns].seconds[0],
                   s[ns].seconds[1], s[ns].seconds[2]);
            fflush(stdout);
            ns++;
        }
    }
    fclose(fr), fclose(ft);
    if (rc) return fprintf(stderr, "exp_estimators: %s\n", err.msg), 1;
    snprintf(path, sizeof path, "%s/estimators-summary.csv", out);
    FILE *f = fopen(path, "w");
    if (!f) return fprintf(stderr, "exp_estimators: cannot write %s\n", path), 1;
    fprintf(f, "d,n,reps,estimator,mean,sd,bias,rmse,mean_abs_error,seconds_total\n");
    for (size_t i = 0; i < ns; i++)
        for (int e = 0; e < N_EST; e++)
            fprintf(f, "%zu,%zu,%zu,%s,%.10g,%.6g,%.6g,%.6g,%.6g,%.4g\n", s[i].d, s[i].n, s[i].reps,
                    est_name[e], s[i].mean[e], s[i].sd[e], s[i].bias[e], s[i].rmse[e], s[i].mae[e],
                    s[i].seconds[e]);
    fclose(f);
    snprintf(path, sizeof path, "%s/estimators.png", out);
    if (plot(&c, s, ns, truth, path, &err))
        return fprintf(stderr, "exp_estimators: %s\n", err.msg), 1;
    printf("exp_estimators: wrote %s/{estimators.csv,estimators-summary.csv,truth.csv,"
           "estimators.png,config.ini}\n",
           out);
    return 0;
}
