/* infoflow mi: estimates the grouped mutual information I(G;T) = h(T) - sum_g p_g h(T | G = g) of
 * tagged samples (one column of the file holds each row's group) and prints one JSON line. */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_util.h"
#include "commands.h"
#include "infoflow/binning.h"
#include "infoflow/data.h"
#include "infoflow/entropy.h"

#define CMD "mi"

typedef enum { EST_SP, EST_BIN } estimator;

typedef struct mi_args {
    estimator est;
    size_t group_col;
    int have_group_col;
    double sigma; /* 0: not given */
    size_t mc;
    uint64_t seed;
    double tolerance;
    int have_bins;
    iflow_binning bins;
    long threads;
    const char *path;
} mi_args;

static void usage(FILE *out) {
    fprintf(out,
            "Usage: infoflow mi --group-col C [options] FILE\n\n"
            "Estimates I(G;T) = h(T) - sum_g p_g h(T | G = g) in nats, where column C of FILE\n"
            "(CSV or .npy) holds each row's group G (a non-negative integer) and the other\n"
            "columns are the sample. Prints one JSON line.\n\n"
            "Options:\n"
            "  --group-col C    0-based column holding the group (required)\n"
            "  --estimator E    sp (default): T = sample + N(0, sigma^2 I), SP estimate\n"
            "                   bin: T = the binned sample, plug-in entropies\n"
            "  --sigma B        sp: noise std (required, > 0)\n"
            "  --mc K           sp: draws per sample (default 16)\n"
            "  --seed S         sp: random seed (default 1)\n"
            "  --tolerance TOL  sp: skip far samples, each log-density within TOL of exact\n"
            "                   (default 0: exact sums)\n"
            "  --bin-width W    bin: bins of width W, bin 0 = [0, W) (no default)\n"
            "  --bins szt30     bin: 30 edges on [-1, 1] as in Shwartz-Ziv & Tishby\n"
            "  --threads N      OpenMP threads (default 0: OpenMP's choice; results do not\n"
            "                   depend on it)\n"
            "  -h, --help       show this help\n\n"
            "Options that do not apply to the chosen estimator are ignored. Exit status: 0 ok,\n"
            "1 bad data, 2 bad usage.\n");
}

enum {
    OPT_GROUP = 256,
    OPT_ESTIMATOR,
    OPT_SIGMA,
    OPT_MC,
    OPT_SEED,
    OPT_TOL,
    OPT_WIDTH,
    OPT_BINS,
    OPT_THREADS
};

static const struct option long_options[] = {
    {"group-col", required_argument, NULL, OPT_GROUP},
    {"estimator", required_argument, NULL, OPT_ESTIMATOR},
    {"sigma", required_argument, NULL, OPT_SIGMA},
    {"mc", required_argument, NULL, OPT_MC},
    {"seed", required_argument, NULL, OPT_SEED},
    {"tolerance", required_argument, NULL, OPT_TOL},
    {"bin-width", required_argument, NULL, OPT_WIDTH},
    {"bins", required_argument, NULL, OPT_BINS},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Applies one option's value; returns 0 or the usage-error exit code. */
static int apply_option(mi_args *a, int opt, const char *v) {
    switch (opt) {
    case OPT_GROUP:
        if (cli_parse_size(v, &a->group_col))
            return cli_usage_error(CMD, "--group-col must be an integer >= 0, got '%s'", v);
        a->have_group_col = 1;
        return 0;
    case OPT_ESTIMATOR:
        if (!strcmp(v, "sp") || !strcmp(v, "bin")) {
            a->est = strcmp(v, "sp") ? EST_BIN : EST_SP;
            return 0;
        }
        return cli_usage_error(CMD, "unknown estimator '%s' (sp, bin)", v);
    case OPT_SIGMA:
        if (cli_parse_double(v, &a->sigma) || !(a->sigma > 0))
            return cli_usage_error(CMD, "--sigma must be a number > 0, got '%s'", v);
        return 0;
    case OPT_MC:
        if (cli_parse_size(v, &a->mc) || a->mc < 1)
            return cli_usage_error(CMD, "--mc must be an integer >= 1, got '%s'", v);
        return 0;
    case OPT_SEED:
        if (cli_parse_u64(v, &a->seed))
            return cli_usage_error(CMD, "--seed must be a non-negative integer, got '%s'", v);
        return 0;
    case OPT_TOL:
        if (cli_parse_double(v, &a->tolerance) || a->tolerance < 0)
            return cli_usage_error(CMD, "--tolerance must be a number >= 0, got '%s'", v);
        return 0;
    case OPT_WIDTH:
        if (a->have_bins) return cli_usage_error(CMD, "give one of --bin-width and --bins");
        a->bins = (iflow_binning){IFLOW_BIN_WIDTH, 0.0, 0.0};
        if (cli_parse_double(v, &a->bins.width) || !(a->bins.width > 0))
            return cli_usage_error(CMD, "--bin-width must be a number > 0, got '%s'", v);
        a->have_bins = 1;
        return 0;
    case OPT_BINS:
        if (a->have_bins) return cli_usage_error(CMD, "give one of --bin-width and --bins");
        if (strcmp(v, "szt30"))
            return cli_usage_error(CMD, "--bins accepts only 'szt30', got '%s'", v);
        a->bins = (iflow_binning){IFLOW_BIN_SZT30, 0.0, 0.0};
        a->have_bins = 1;
        return 0;
    case OPT_THREADS:
        if (cli_parse_long(v, &a->threads) || a->threads < 0 || a->threads > 4096)
            return cli_usage_error(CMD, "--threads must be an integer in [0, 4096], got '%s'", v);
        return 0;
    }
    return cli_usage_error(CMD, "internal error: option %d", opt);
}

/* Parses argv into a; returns -1 to go on, else the exit code (0 after --help). */
static int parse_args(int argc, char **argv, mi_args *a) {
    *a = (mi_args){.est = EST_SP, .mc = 16, .seed = 1};
    opterr = 0; /* report errors in our own words */
    optind = 0; /* glibc: full re-initialisation */
    int opt;
    while ((opt = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
        if (opt == 'h') {
            usage(stdout);
            return 0;
        }
        if (opt == ':') return cli_usage_error(CMD, "%s needs a value", argv[optind - 1]);
        if (opt == '?' && optopt > 0 && optopt < 256)
            return cli_usage_error(CMD, "unknown option '-%c'", optopt);
        if (opt == '?') return cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
        int rc = apply_option(a, opt, optarg);
        if (rc) return rc;
    }
    if (optind != argc - 1)
        return cli_usage_error(CMD, optind == argc ? "no FILE given" : "give exactly one FILE");
    a->path = argv[optind];
    if (!a->have_group_col) return cli_usage_error(CMD, "--group-col C is required");
    if (a->est == EST_SP && a->sigma == 0)
        return cli_usage_error(CMD, "--estimator sp needs --sigma");
    if (a->est == EST_BIN && !a->have_bins)
        return cli_usage_error(CMD, "--estimator bin needs --bin-width W or --bins szt30");
    return -1;
}

/* Prints a library error, naming the file if the message does not already; returns 1. */
static int data_error(const char *path, const iflow_error *err) {
    const char *msg = err->msg[0] ? err->msg : iflow_strerror(err->code);
    if (strstr(msg, path))
        fprintf(stderr, "infoflow %s: %s\n", CMD, msg);
    else
        fprintf(stderr, "infoflow %s: %s: %s\n", CMD, path, msg);
    return 1;
}

/* The rows and groups of the file: samples n x d (the matrix without column group_col) and each
 * row's group renumbered 0..n_groups-1 in increasing order of the value in the file (so sparse
 * labels such as {3, 1000} cost nothing). */
typedef struct tagged {
    size_t n, d, n_groups;
    double *s;
    size_t *group;
} tagged;

static void tagged_free(tagged *t) {
    free(t->s);
    free(t->group);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The rank of v among the sorted distinct values. */
static size_t rank_of(const double *distinct, size_t n_distinct, double v) {
    const double *p = bsearch(&v, distinct, n_distinct, sizeof *distinct, cmp_double);
    return (size_t)(p - distinct);
}

static int split_groups(const iflow_matrix *m, const mi_args *a, tagged *t, iflow_error *err) {
    size_t n = m->rows, c = a->group_col;
    *t = (tagged){.n = n, .d = m->cols - 1};
    double *values = malloc(n * sizeof *values);
    t->s = malloc(n * t->d * sizeof *t->s);
    t->group = malloc(n * sizeof *t->group);
    if (!values || !t->s || !t->group) {
        free(values);
        return iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory for %zu rows", a->path, n);
    }
    for (size_t i = 0; i < n; i++) {
        const double *row = m->data + i * m->cols;
        double g = row[c];
        /* 2^53: beyond it doubles no longer hold every integer. */
        if (!(g >= 0 && g <= 9007199254740992.0 && g == floor(g))) {
            free(values);
            return iflow_error_set(err, IFLOW_EINVAL,
                                   "%s: data row %zu, column %zu (0-based): group %.10g is "
                                   "not a non-negative integer",
                                   a->path, i + 1, c, g);
        }
        values[i] = g;
        memcpy(t->s + i * t->d, row, c * sizeof *row);
        memcpy(t->s + i * t->d + c, row + c + 1, (t->d - c) * sizeof *row);
    }
    qsort(values, n, sizeof *values, cmp_double);
    size_t n_distinct = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || values[i] != values[n_distinct - 1]) values[n_distinct++] = values[i];
    for (size_t i = 0; i < n; i++)
        t->group[i] = rank_of(values, n_distinct, m->data[i * m->cols + c]);
    t->n_groups = n_distinct;
    free(values);
    return 0;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A JSON number field; JSON has no NaN or Inf, so those print as null. */
static void json_number(const char *key, double v) {
    if (isfinite(v))
        printf(",\"%s\":%.10g", key, v);
    else
        printf(",\"%s\":null", key);
}

static int run_sp(const mi_args *a, const tagged *t, iflow_error *err) {
    iflow_sp_options opt;
    iflow_sp_options_default(&opt);
    opt.beta = a->sigma;
    opt.mc = a->mc;
    opt.seed = a->seed;
    opt.tolerance = a->tolerance;
    opt.threads = (int)a->threads;
    iflow_mi_estimate e = {0};
    double t0 = now_seconds();
    int rc = iflow_sp_grouped_mi(t->s, t->n, t->d, t->group, t->n_groups, &opt, &e, err);
    if (rc) return rc;
    double seconds = now_seconds() - t0;
    printf("{\"estimator\":\"sp\"");
    json_number("mi", e.mi.value);
    json_number("stderr", e.mi.se);
    json_number("h", e.h.value);
    json_number("h_stderr", e.h.se);
    json_number("h_cond", e.h_cond.value);
    json_number("h_cond_stderr", e.h_cond.se);
    printf(",\"groups\":%zu,\"n\":%zu,\"d\":%zu", e.n_groups, t->n, t->d);
    json_number("sigma", a->sigma);
    printf(",\"mc\":%zu", a->mc);
    json_number("seconds", seconds);
    printf("}\n");
    return 0;
}

static int run_bin(const mi_args *a, const tagged *t, iflow_error *err) {
    double h = 0, h_cond = 0, t0 = now_seconds();
    int rc = iflow_bin_grouped(t->s, t->n, t->d, &a->bins, t->group, t->n_groups, &h, &h_cond, err);
    if (rc) return rc;
    double seconds = now_seconds() - t0;
    printf("{\"estimator\":\"bin\"");
    json_number("mi", h - h_cond);
    json_number("h", h);
    json_number("h_cond", h_cond);
    printf(",\"groups\":%zu,\"n\":%zu,\"d\":%zu", t->n_groups, t->n, t->d);
    if (a->bins.kind == IFLOW_BIN_WIDTH)
        json_number("bin_width", a->bins.width);
    else
        printf(",\"bins\":\"szt30\"");
    json_number("seconds", seconds);
    printf("}\n");
    return 0;
}

int cmd_mi(int argc, char **argv) {
    mi_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    iflow_error err = {0};
    iflow_matrix *m = NULL;
    if (iflow_matrix_load(a.path, &m, &err)) return data_error(a.path, &err);
    tagged t = {0};
    if (m->cols < 2 || a.group_col >= m->cols) {
        rc = iflow_error_set(&err, IFLOW_EINVAL,
                             "%s: needs a group column and at least one sample column; "
                             "--group-col %zu but the file has %zu column(s)",
                             a.path, a.group_col, m->cols);
    } else if (m->rows < 2) {
        rc = iflow_error_set(&err, IFLOW_EINVAL, "%s: need at least 2 samples (rows), got %zu",
                             a.path, m->rows);
    } else {
        rc = split_groups(m, &a, &t, &err);
    }
    iflow_matrix_free(m);
    if (!rc) rc = a.est == EST_SP ? run_sp(&a, &t, &err) : run_bin(&a, &t, &err);
    tagged_free(&t);
    if (rc) return data_error(a.path, &err);
    return fflush(stdout) ? 1 : 0;
}
