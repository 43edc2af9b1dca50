/* infoflow entropy: estimates the entropy of the samples (rows) of a CSV or .npy file with one of
 * the estimators of entropy.h / binning.h and prints the result as one JSON line. */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "estimator_args.h"
#include "io.h"
#include "progress.h"
#include "commands.h"
#include "dist.h"
#include "infoflow/binning.h"
#include "infoflow/data.h"
#include "infoflow/entropy.h"

#define CMD "entropy"

enum { EST_SP, EST_KDE_LOWER, EST_KDE_UPPER, EST_BIN, EST_KNN };

static const char *const estimator_names[] = {"sp", "kde-lower", "kde-upper", "bin", "knn"};

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
            "  --sigma B        noise std for sp and kde-* (required for them, > "
            "0)\n" EST_HELP_SIGMA_FILE EST_HELP_SP_BIN EST_HELP_SLICED
            "  --k K            knn: neighbour order (default 3)\n" EST_HELP_TAIL);
}

// clang-format off
static const struct option long_options[] = {
    EST_OPTIONS_SP_BIN,
    EST_OPTIONS_SLICED,
    {"k", required_argument, NULL, OPT_K},
    EST_OPTIONS_TAIL,
};
// clang-format on

static const est_command command = {CMD,
                                    estimator_names,
                                    sizeof estimator_names / sizeof *estimator_names,
                                    "sp, kde-lower, kde-upper, bin, knn",
                                    long_options,
                                    usage};

/* Parses argv into a; returns -1 to go on, else the exit code (0 after --help). */
static int parse_args(int argc, char **argv, est_args *a) {
    int rc = est_parse_args(&command, argc, argv, a);
    if (rc >= 0) return rc;
    int needs_sigma = a->est == EST_SP || a->est == EST_KDE_LOWER || a->est == EST_KDE_UPPER;
    if (a->sigma_file && a->est != EST_SP)
        return cli_usage_error(CMD, "--sigma-file applies to --estimator sp only");
    if (needs_sigma && a->sigma == 0 && !a->sigma_file)
        return cli_usage_error(CMD, "--estimator %s needs --sigma%s", estimator_names[a->est],
                               a->est == EST_SP ? " or --sigma-file" : "");
    if (a->est == EST_BIN && !a->have_bins)
        return cli_usage_error(CMD, "--estimator bin needs --bin-width W or --bins szt30");
    return -1;
}

static void sp_progress(void *user, double fraction) {
    cli_progress_update(user, "infoflow entropy: SP draws", fraction);
}

/* Runs the chosen estimator on m (sigma: the --sigma-file stds, n x sigma_cols, or NULL); fills
 * h, and e (SP only, *has_se set) and, when sliced, sl. */
static int estimate(const est_args *a, const iflow_matrix *m, const double *sigma,
                    size_t sigma_cols, double *h, iflow_estimate *e, int *has_se,
                    iflow_sliced_estimate *sl, iflow_error *err) {
    *has_se = a->est == EST_SP;
    if (a->est == EST_SP && a->slice_dim > 0) {
        iflow_sp_options opt;
        est_sp_options(a, &opt);
        iflow_slice_options so;
        est_slice_options(a, &so);
        int rc = iflow_sliced_entropy(m->data, m->rows, m->cols, &opt, &so, sl, NULL, err);
        *h = sl->est.value;
        *e = sl->est;
        return rc;
    }
    if (a->est == EST_SP) {
        iflow_sp_options opt;
        est_sp_options(a, &opt);
        cli_progress prog; /* a line on a terminal only: a long entropy shows where it is */
        cli_progress_init(&prog, a->quiet);
        opt.progress = sp_progress;
        opt.progress_user = &prog;
        int rc = sigma ? iflow_sp_entropy_hetero(m->data, sigma, sigma_cols, m->rows, m->cols, &opt,
                                                 e, err)
                       : iflow_sp_entropy(m->data, NULL, m->rows, m->cols, &opt, e, err);
        cli_progress_done(&prog);
        *h = e->value;
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

static void print_result(const est_args *a, const iflow_matrix *m, size_t sigma_cols, double h,
                         const iflow_estimate *e, int has_se, const iflow_sliced_estimate *sl,
                         double seconds) {
    printf("{\"estimator\":\"%s\"", estimator_names[a->est]);
    if (has_se)
        est_json_estimate("h", e);
    else
        est_json_number("h", h);
    printf(",\"n\":%zu,\"d\":%zu", m->rows, m->cols);
    if (a->sigma_file)
        printf(",\"sigma_file_cols\":%zu", sigma_cols);
    else if (a->est == EST_SP || a->est == EST_KDE_LOWER || a->est == EST_KDE_UPPER)
        est_json_number("sigma", a->sigma);
    if (a->est == EST_SP) est_json_sp_settings(a);
    if (a->est == EST_SP && a->slice_dim > 0) est_json_sliced(a, sl);
    if (a->est == EST_KNN) printf(",\"k\":%zu", a->k);
    if (a->est == EST_BIN && a->bins.kind == IFLOW_BIN_WIDTH)
        est_json_number("bin_width", a->bins.width);
    if (a->est == EST_BIN && a->bins.kind == IFLOW_BIN_SZT30) printf(",\"bins\":\"szt30\"");
    est_json_number("seconds", seconds);
    printf("}\n");
}

int cmd_entropy(int argc, char **argv) {
    est_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    iflow_error err = {0};
    iflow_matrix *m = NULL;
    /* In an MPI job every rank reads the file (see cmd_mi.c). */
    if (iflow_dist_agree(iflow_matrix_load(a.path, &m, &err), &err)) {
        iflow_matrix_free(m);
        return est_data_error(CMD, a.path, &err);
    }
    if (m->rows < 2) {
        fprintf(stderr, "infoflow %s: %s: need at least 2 samples (rows), got %zu\n", CMD, a.path,
                m->rows);
        iflow_matrix_free(m);
        return 1;
    }
    double *sigma = NULL;
    size_t sigma_cols = 0;
    if (a.sigma_file &&
        iflow_dist_agree(est_load_sigma(a.sigma_file, m->rows, m->cols, &sigma, &sigma_cols, &err),
                         &err)) {
        iflow_matrix_free(m);
        free(sigma);
        return est_data_error(CMD, a.sigma_file, &err);
    }
    double h = 0, t0 = iflow_now_seconds();
    iflow_estimate e = {0};
    int has_se = 0;
    iflow_sliced_estimate sl = {0};
    rc = estimate(&a, m, sigma, sigma_cols, &h, &e, &has_se, &sl, &err);
    double seconds = iflow_now_seconds() - t0;
    if (!rc) rc = est_check_finite("the entropy", h, &err);
    if (!rc && has_se) rc = est_check_estimate("the entropy", &e, &err);
    if (rc) {
        rc = est_data_error(CMD, a.path, &err);
    } else {
        print_result(&a, m, sigma_cols, h, &e, has_se, &sl, seconds);
        const iflow_estimate *all[] = {&e};
        if (has_se) est_note_se(CMD, all, 1);
        rc = fflush(stdout) ? 1 : 0;
    }
    iflow_matrix_free(m);
    free(sigma);
    return rc;
}
