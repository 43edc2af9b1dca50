/* infoflow cluster: the clustering measures of cluster.h (cosine similarities within and between
 * classes, silhouette, k-NN class agreement) of the labelled rows of a CSV or .npy file, printed
 * as one JSON line. */
#include <getopt.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>

#include "cli_util.h"
#include "commands.h"
#include "estimator_args.h"
#include "infoflow/cluster.h"
#include "infoflow/data.h"
#include "io.h"
#include "progress.h"

#define CMD "cluster"

enum { OPT_LABELS = 300, OPT_KNN, OPT_HIST, OPT_NTHREADS, OPT_QUIET_CLUSTER };

static void usage(FILE *out) {
    fprintf(out,
            "Usage: infoflow cluster --labels-col C [options] FILE\n\n"
            "Measures how the rows of FILE (CSV or .npy) cluster by class: column C holds each\n"
            "row's class (a non-negative integer), the other columns are the representation.\n"
            "Prints one JSON line:\n"
            "  cos_within, cos_between  mean cosine similarity of same-class / different-class\n"
            "                           pairs (rows of norm 0 are left out; n_zero counts them)\n"
            "  silhouette               silhouette coefficient of the class partition\n"
            "                           (Euclidean), in [-1, 1]\n"
            "  knn_agreement            mean fraction of each row's k nearest neighbours\n"
            "                           (Euclidean, itself excluded) in its class, in [0, 1]\n"
            "  hist_within, hist_between  fractions of those pairs in B equal bins on [-1, 1]\n\n"
            "Options:\n"
            "  --labels-col C   0-based column holding the class (required)\n"
            "  --k K            neighbours for knn_agreement (default 10, < rows)\n"
            "  --hist-bins B    cosine histogram bins (default 40, as in runs)\n"
            "  --threads N      threads (default 0: all cores, or $OMP_NUM_THREADS when set;\n"
            "                   results do not depend on it)\n"
            "  --quiet          no progress line (on a terminal, or every 30 s off one)\n"
            "  -h, --help       show this help\n\n"
            "Cost: one Gram matrix by BLAS in blocks, O(n^2 d) time, O(n) rows of memory.\n"
            "Exit status: 0 ok, 1 bad data, 2 bad usage.\n");
}

// clang-format off
static const struct option long_options[] = {
    {"labels-col", required_argument, NULL, OPT_LABELS},
    {"k", required_argument, NULL, OPT_KNN},
    {"hist-bins", required_argument, NULL, OPT_HIST},
    {"threads", required_argument, NULL, OPT_NTHREADS},
    {"quiet", no_argument, NULL, OPT_QUIET_CLUSTER},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};
// clang-format on

typedef struct cluster_args {
    size_t col, knn, bins;
    int have_col;
    long threads;
    int quiet;
    const char *path;
} cluster_args;

/* Applies one option; returns 0 or the usage-error exit code. */
static int apply(cluster_args *a, int opt, const char *v) {
    switch (opt) {
    case OPT_LABELS:
        if (cli_parse_size(v, &a->col))
            return cli_usage_error(CMD, "--labels-col must be an integer >= 0, got '%s'", v);
        a->have_col = 1;
        return 0;
    case OPT_KNN:
        if (cli_parse_size(v, &a->knn) || a->knn < 1)
            return cli_usage_error(CMD, "--k must be an integer >= 1, got '%s'", v);
        return 0;
    case OPT_HIST:
        if (cli_parse_size(v, &a->bins) || a->bins < 1 || a->bins > 10000)
            return cli_usage_error(CMD, "--hist-bins must be an integer in [1, 10000], got '%s'",
                                   v);
        return 0;
    case OPT_NTHREADS:
        if (cli_parse_long(v, &a->threads) || a->threads < 0 || a->threads > 4096)
            return cli_usage_error(CMD, "--threads must be an integer in [0, 4096], got '%s'", v);
        return 0;
    case OPT_QUIET_CLUSTER: a->quiet = 1; return 0;
    }
    return cli_usage_error(CMD, "internal error: option %d", opt);
}

/* Returns -1 to go on, else the exit code (0 after --help). */
static int parse_args(int argc, char **argv, cluster_args *a) {
    iflow_cluster_options d; /* the library's defaults, as a run's clustering measures */
    iflow_cluster_options_default(&d);
    *a = (cluster_args){.knn = d.knn, .bins = d.hist_bins};
    opterr = 0;
    optind = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
        if (opt == 'h') {
            usage(stdout);
            return 0;
        }
        if (opt == ':') return cli_usage_error(CMD, "%s needs a value", argv[optind - 1]);
        if (opt == '?') return cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
        int rc = apply(a, opt, optarg);
        if (rc) return rc;
    }
    if (optind != argc - 1)
        return cli_usage_error(CMD, optind == argc ? "no FILE given" : "give exactly one FILE");
    if (!a->have_col) return cli_usage_error(CMD, "--labels-col C is required");
    a->path = argv[optind];
    return -1;
}

static void print_hist(const char *key, const double *h, size_t bins) {
    printf(",\"%s\":[", key);
    for (size_t b = 0; b < bins; b++) printf("%s%.6g", b ? "," : "", h[b]);
    printf("]");
}

static void cluster_progress(void *user, double fraction) {
    cli_progress_update(user, "infoflow cluster: Gram blocks", fraction);
}

static int measure(const cluster_args *a, const est_tagged *t, iflow_error *err) {
    iflow_cluster_options opt;
    iflow_cluster_options_default(&opt);
    opt.knn = a->knn;
    opt.hist_bins = a->bins;
    opt.threads = (int)a->threads;
    double *hw = malloc(a->bins * sizeof *hw), *hb = malloc(a->bins * sizeof *hb);
    if (!hw || !hb) {
        free(hw);
        free(hb);
        return iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
    }
    iflow_cluster_result r;
    double t0 = iflow_now_seconds();
    cli_progress prog;
    cli_progress_init(&prog, a->quiet);
    opt.progress = cluster_progress;
    opt.progress_user = &prog;
    int rc = iflow_cluster_measure(t->s, t->n, t->d, t->group, t->n_groups, &opt, &r, hw, hb, err);
    cli_progress_done(&prog);
    if (!rc) {
        printf("{\"n\":%zu,\"d\":%zu,\"classes\":%zu,\"k\":%zu", t->n, t->d, t->n_groups, a->knn);
        est_json_number("cos_within", r.cos_within);
        est_json_number("cos_between", r.cos_between);
        printf(",\"pairs_within\":%llu,\"pairs_between\":%llu,\"n_zero\":%zu",
               (unsigned long long)r.n_within, (unsigned long long)r.n_between, r.n_zero);
        est_json_number("silhouette", r.silhouette);
        est_json_number("knn_agreement", r.knn_agreement);
        print_hist("hist_within", hw, a->bins);
        print_hist("hist_between", hb, a->bins);
        est_json_number("seconds", iflow_now_seconds() - t0);
        printf("}\n");
    }
    free(hw);
    free(hb);
    return rc;
}

int cmd_cluster(int argc, char **argv) {
    cluster_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    iflow_error err = {0};
    iflow_matrix *m = NULL;
    uint64_t *ids = NULL; /* the label column as exact integers: ids past 2^53 stay apart */
    if (iflow_matrix_load_ids(a.path, a.col, &m, &ids, &err))
        return est_data_error(CMD, a.path, &err);
    est_tagged t = {0};
    if (m->cols < 2 || a.col >= m->cols)
        rc = iflow_error_set(&err, IFLOW_EINVAL,
                             "%s: needs a label column and at least one "
                             "data column; --labels-col %zu but the file has %zu column(s)",
                             a.path, a.col, m->cols);
    else if (m->rows <= a.knn)
        rc = iflow_error_set(&err, IFLOW_EINVAL, "%s: %zu rows; --k %zu needs more than k rows",
                             a.path, m->rows, a.knn);
    else
        rc = est_split_groups(m, ids, a.col, a.path, &t, &err);
    iflow_matrix_free(m);
    free(ids);
    if (!rc) rc = measure(&a, &t, &err);
    est_tagged_free(&t);
    if (rc) return est_data_error(CMD, a.path, &err);
    return fflush(stdout) ? 1 : 0;
}
