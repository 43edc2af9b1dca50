/* infoflow entropy: estimates the entropy of the samples (rows) of a CSV or .npy file with one of
 * the estimators of entropy.h / binning.h and prints the result as one JSON line. */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli_util.h"
#include "commands.h"
#include "infoflow/binning.h"
#include "infoflow/data.h"
#include "infoflow/entropy.h"

#define CMD "entropy"

typedef enum { EST_SP, EST_KDE_LOWER, EST_KDE_UPPER, EST_BIN, EST_KNN } estimator;

static const char *const estimator_names[] = {"sp", "kde-lower", "kde-upper", "bin", "knn"};

typedef struct entropy_args {
    estimator est;
    double sigma; /* 0: not given */
    size_t mc;
    uint64_t seed;
    double tolerance;
    int have_bins;
    iflow_binning bins;
    size_t k;
    long threads;
    const char *path;
} entropy_args;

static void usage(FILE *out) {
    fprintf(out,
            "Usage: infoflow entropy [options] FILE\n\n"
            "Estimates the entropy (nats) of the samples in FILE (CSV or .npy, one sample per\n"
            "row) and prints one JSON line.\n\n"
            "Options:\n"
            "  --estimator E    sp (default): SP estimate of h(P * N(0, sigma^2 I)), Monte Carlo\n"
            "                   kde-lower, kde-upper: pairwise bounds on that entropy (exact)\n"
            "                   bin: plug-in entropy of the binned rows (discrete)\n"
            "                   knn: Kozachenko-Leonenko estimate of h(P) (no noise)\n"
            "  --sigma B        noise std for sp and kde-* (required for them, > 0)\n"
            "  --mc K           sp: draws per sample (default 16)\n"
            "  --seed S         sp: random seed (default 1)\n"
            "  --tolerance TOL  sp: skip far samples, each log-density within TOL of exact\n"
            "                   (default 0: exact sums)\n"
            "  --bin-width W    bin: bins of width W, bin 0 = [0, W) (no default)\n"
            "  --bins szt30     bin: 30 edges on [-1, 1] as in Shwartz-Ziv & Tishby\n"
            "  --k K            knn: neighbour order (default 3)\n"
            "  --threads N      OpenMP threads (default 0: OpenMP's choice; results do not\n"
            "                   depend on it)\n"
            "  -h, --help       show this help\n\n"
            "Options that do not apply to the chosen estimator are ignored. Exit status: 0 ok,\n"
            "1 bad data, 2 bad usage.\n");
}

enum {
    OPT_ESTIMATOR = 256,
    OPT_SIGMA,
    OPT_MC,
    OPT_SEED,
    OPT_TOL,
    OPT_WIDTH,
    OPT_BINS,
    OPT_K,
    OPT_THREADS
};

static const struct option long_options[] = {
    {"estimator", required_argument, NULL, OPT_ESTIMATOR},
    {"sigma", required_argument, NULL, OPT_SIGMA},
    {"mc", required_argument, NULL, OPT_MC},
    {"seed", required_argument, NULL, OPT_SEED},
    {"tolerance", required_argument, NULL, OPT_TOL},
    {"bin-width", required_argument, NULL, OPT_WIDTH},
    {"bins", required_argument, NULL, OPT_BINS},
    {"k", required_argument, NULL, OPT_K},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Applies one option's value; returns 0 or the usage-error exit code. */
static int apply_option(entropy_args *a, int opt, const char *v) {
    switch (opt) {
    case OPT_ESTIMATOR:
        for (size_t i = 0; i < sizeof estimator_names / sizeof estimator_names[0]; i++)
            if (!strcmp(v, estimator_names[i])) {
                a->est = (estimator)i;
                return 0;
            }
        return cli_usage_error(CMD, "unknown estimator '%s' (sp, kde-lower, kde-upper, bin, knn)",
                               v);
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
    case OPT_K:
        if (cli_parse_size(v, &a->k) || a->k < 1)
            return cli_usage_error(CMD, "--k must be an integer >= 1, got '%s'", v);
        return 0;
    case OPT_THREADS:
        if (cli_parse_long(v, &a->threads) || a->threads < 0 || a->threads > 4096)
            return cli_usage_error(CMD, "--threads must be an integer in [0, 4096], got '%s'", v);
        return 0;
    }
    return cli_usage_error(CMD, "internal error: option %d", opt);
}

/* Parses argv into a; returns -1 to go on, else the exit code (0 after --help). */
static int parse_args(int argc, char **argv, entropy_args *a) {
    *a = (entropy_args){.est = EST_SP, .mc = 16, .seed = 1, .k = 3};
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
    int needs_sigma = a->est == EST_SP || a->est == EST_KDE_LOWER || a->est == EST_KDE_UPPER;
    if (needs_sigma && a->sigma == 0)
        return cli_usage_error(CMD, "--estimator %s needs --sigma", estimator_names[a->est]);
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

/* Runs the chosen estimator on m; fills h and se (se < 0: not applicable). */
static int estimate(const entropy_args *a, const iflow_matrix *m, double *h, double *se,
                    iflow_error *err) {
    *se = -1;
    if (a->est == EST_SP) {
        iflow_sp_options opt;
        iflow_sp_options_default(&opt);
        opt.beta = a->sigma;
        opt.mc = a->mc;
        opt.seed = a->seed;
        opt.tolerance = a->tolerance;
        opt.threads = (int)a->threads;
        iflow_estimate e = {0};
        int rc = iflow_sp_entropy(m->data, NULL, m->rows, m->cols, &opt, &e, err);
        *h = e.value;
        *se = e.se;
        return rc;
    }
    if (a->est == EST_KDE_LOWER || a->est == EST_KDE_UPPER) {
        double lower = 0, upper = 0;
        int rc = iflow_pairwise_bounds(m->data, m->rows, m->cols, a->sigma, (int)a->threads, &lower,
                                       &upper, err);
        *h = a->est == EST_KDE_LOWER ? lower : upper;
        return rc;
    }
    if (a->est == EST_BIN) return iflow_bin_entropy(m->data, m->rows, m->cols, &a->bins, h, err);
    return iflow_knn_entropy(m->data, m->rows, m->cols, a->k, (int)a->threads, h, err);
}

static void print_result(const entropy_args *a, const iflow_matrix *m, double h, double se,
                         double seconds) {
    printf("{\"estimator\":\"%s\"", estimator_names[a->est]);
    json_number("h", h);
    if (se >= 0) json_number("stderr", se);
    printf(",\"n\":%zu,\"d\":%zu", m->rows, m->cols);
    if (a->est == EST_SP || a->est == EST_KDE_LOWER || a->est == EST_KDE_UPPER)
        json_number("sigma", a->sigma);
    if (a->est == EST_SP) printf(",\"mc\":%zu", a->mc);
    if (a->est == EST_KNN) printf(",\"k\":%zu", a->k);
    if (a->est == EST_BIN && a->bins.kind == IFLOW_BIN_WIDTH)
        json_number("bin_width", a->bins.width);
    if (a->est == EST_BIN && a->bins.kind == IFLOW_BIN_SZT30) printf(",\"bins\":\"szt30\"");
    json_number("seconds", seconds);
    printf("}\n");
}

int cmd_entropy(int argc, char **argv) {
    entropy_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    iflow_error err = {0};
    iflow_matrix *m = NULL;
    if (iflow_matrix_load(a.path, &m, &err)) return data_error(a.path, &err);
    if (m->rows < 2) {
        fprintf(stderr, "infoflow %s: %s: need at least 2 samples (rows), got %zu\n", CMD, a.path,
                m->rows);
        iflow_matrix_free(m);
        return 1;
    }
    double h = 0, se = -1, t0 = now_seconds();
    rc = estimate(&a, m, &h, &se, &err);
    double seconds = now_seconds() - t0;
    if (rc) {
        rc = data_error(a.path, &err);
    } else {
        print_result(&a, m, h, se, seconds);
        rc = fflush(stdout) ? 1 : 0;
    }
    iflow_matrix_free(m);
    return rc;
}
