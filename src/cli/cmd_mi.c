/* infoflow mi: estimates the grouped mutual information I(G;T) = h(T) - sum_g p_g h(T | G = g) of
 * tagged samples (one column of the file holds each row's group) and prints one JSON line. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "estimator_args.h"
#include "progress.h"
#include "io.h"
#include "commands.h"
#include "dist.h"
#include "infoflow/binning.h"
#include "infoflow/data.h"
#include "infoflow/entropy.h"

#define CMD "mi"

enum { EST_SP, EST_BIN };

static const char *const estimator_names[] = {"sp", "bin"};

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
            "  --sigma B        sp: noise std (required, > 0)\n" EST_HELP_SIGMA_FILE EST_HELP_SP_BIN
                EST_HELP_SLICED
            "  --max-slice      sp: with --slice-dim K, the max-sliced information: the\n"
            "                   maximum over K-dimensional projections, searched with common\n"
            "                   draws, then estimated at the optimum with fresh ones\n"
            "  --save-directions F  with --max-slice: the optimum's d x K orthonormal\n"
            "                   directions as CSV (one row per coordinate of the "
            "sample)\n" EST_HELP_TAIL);
}

// clang-format off
static const struct option long_options[] = {
    {"group-col", required_argument, NULL, OPT_GROUP},
    EST_OPTIONS_SP_BIN,
    EST_OPTIONS_SLICED,
    {"max-slice", no_argument, NULL, OPT_MAX_SLICE},
    {"save-directions", required_argument, NULL, OPT_SAVE_DIRS},
    EST_OPTIONS_TAIL,
};
// clang-format on

static const est_command command = {CMD, estimator_names, 2, "sp, bin", long_options, usage};

/* Parses argv into a; returns -1 to go on, else the exit code (0 after --help). */
static int parse_args(int argc, char **argv, est_args *a) {
    int rc = est_parse_args(&command, argc, argv, a);
    if (rc >= 0) return rc;
    if (!a->have_group_col) return cli_usage_error(CMD, "--group-col C is required");
    if (a->sigma_file && a->est != EST_SP)
        return cli_usage_error(CMD, "--sigma-file applies to --estimator sp only");
    if (a->est == EST_SP && a->sigma == 0 && !a->sigma_file)
        return cli_usage_error(CMD, "--estimator sp needs --sigma or --sigma-file");
    if (a->est == EST_BIN && !a->have_bins)
        return cli_usage_error(CMD, "--estimator bin needs --bin-width W or --bins szt30");
    return -1;
}

/* The d x k directions as CSV, one row per coordinate; rank 0 writes in an MPI job. */
static int save_directions(const char *path, const double *dirs, size_t d, size_t k,
                           iflow_error *err) {
    if (iflow_dist_rank() != 0) return 0;
    FILE *f = fopen(path, "w");
    if (!f) return iflow_error_set(err, IFLOW_EIO, "%s: cannot write: %s", path, strerror(errno));
    for (size_t r = 0; r < d; r++)
        for (size_t c = 0; c < k; c++)
            fprintf(f, "%.17g%s", dirs[r * k + c], c + 1 < k ? "," : "\n");
    if (fclose(f) != 0) return iflow_error_set(err, IFLOW_EIO, "%s: write failed", path);
    return 0;
}

static void sp_progress(void *user, double fraction) {
    cli_progress_update(user, "infoflow mi: SP draws", fraction);
}

/* sigma: the --sigma-file stds (t->n x sigma_cols) or NULL. */
static int run_sp(const est_args *a, const est_tagged *t, const double *sigma, size_t sigma_cols,
                  iflow_error *err) {
    iflow_sp_options opt;
    est_sp_options(a, &opt);
    cli_progress prog;
    cli_progress_init(&prog, a->quiet);
    if (a->slice_dim == 0) { /* the sliced estimate reports no draws */
        opt.progress = sp_progress;
        opt.progress_user = &prog;
    }
    iflow_mi_estimate e = {0};
    iflow_sliced_estimate sl_e = {0};
    double t0 = iflow_now_seconds();
    int rc;
    iflow_maxsliced_estimate mx = {0};
    if (a->max_slice) {
        if (a->slice_dim >= t->d)
            return iflow_error_set(err, IFLOW_EINVAL,
                                   "--max-slice needs --slice-dim K below the sample's %zu "
                                   "dimensions (K = d is the unsliced estimate)",
                                   t->d);
        iflow_maxslice_options mo = {
            .dim = a->slice_dim, .starts = 8, .sweeps = 40, .seed = a->seed};
        double *dirs = malloc(t->d * a->slice_dim * sizeof *dirs);
        if (!dirs) return iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
        rc = iflow_maxsliced_grouped_mi(t->s, t->n, t->d, t->group, t->n_groups, &opt, &mo, dirs,
                                        &mx, err);
        if (!rc && a->save_dirs) rc = save_directions(a->save_dirs, dirs, t->d, a->slice_dim, err);
        free(dirs);
        e = mx.mi;
    } else if (a->slice_dim > 0) {
        iflow_slice_options sl;
        est_slice_options(a, &sl);
        rc = iflow_sliced_grouped_mi2(t->s, t->n, t->d, t->group, t->n_groups, NULL, 0, &opt, &sl,
                                      &e, NULL, &sl_e, NULL, err);
    } else if (sigma) {
        rc = iflow_sp_grouped_hetero(t->s, sigma, sigma_cols, t->n, t->d, t->group, t->n_groups,
                                     NULL, 0, &opt, &e, NULL, NULL, err);
    } else {
        rc = iflow_sp_grouped_mi(t->s, t->n, t->d, t->group, t->n_groups, &opt, &e, err);
    }
    cli_progress_done(&prog);
    if (!rc) rc = est_check_estimate("mi", &e.mi, err);
    if (!rc) rc = est_check_estimate("h", &e.h, err);
    if (!rc) rc = est_check_estimate("h_cond", &e.h_cond, err);
    if (rc) return rc;
    double seconds = iflow_now_seconds() - t0;
    printf("{\"estimator\":\"sp\"");
    est_json_estimate("mi", &e.mi);
    est_json_estimate("h", &e.h);
    est_json_estimate("h_cond", &e.h_cond);
    const iflow_estimate *all[] = {&e.mi, &e.h, &e.h_cond};
    est_note_se(CMD, all, 3);
    printf(",\"groups\":%zu,\"n\":%zu,\"d\":%zu", e.n_groups, t->n, t->d);
    if (sigma)
        printf(",\"sigma_file_cols\":%zu", sigma_cols);
    else
        est_json_number("sigma", a->sigma);
    est_json_sp_settings(a);
    if (a->max_slice) {
        printf(",\"max_slice_dim\":%zu", a->slice_dim);
        est_json_number("search_value", mx.search_value);
        printf(",\"evaluations\":%zu", mx.evaluations);
    } else if (a->slice_dim > 0) {
        est_json_sliced(a, &sl_e);
    }
    est_json_number("seconds", seconds);
    printf("}\n");
    return 0;
}

static int run_bin(const est_args *a, const est_tagged *t, iflow_error *err) {
    double h = 0, h_cond = 0, t0 = iflow_now_seconds();
    int rc = iflow_bin_grouped(t->s, t->n, t->d, &a->bins, t->group, t->n_groups, &h, &h_cond, err);
    if (!rc) rc = est_check_finite("h", h, err);
    if (!rc) rc = est_check_finite("h_cond", h_cond, err);
    if (rc) return rc;
    double seconds = iflow_now_seconds() - t0;
    printf("{\"estimator\":\"bin\"");
    est_json_number("mi", h - h_cond);
    est_json_number("h", h);
    est_json_number("h_cond", h_cond);
    printf(",\"groups\":%zu,\"n\":%zu,\"d\":%zu", t->n_groups, t->n, t->d);
    if (a->bins.kind == IFLOW_BIN_WIDTH)
        est_json_number("bin_width", a->bins.width);
    else
        printf(",\"bins\":\"szt30\"");
    est_json_number("seconds", seconds);
    printf("}\n");
    return 0;
}

int cmd_mi(int argc, char **argv) {
    est_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    iflow_error err = {0};
    iflow_matrix *m = NULL;
    uint64_t *ids = NULL;
    /* In an MPI job every rank reads the file; agreeing keeps a failure on one from leaving
     * the others waiting in the estimator's collective calls. */
    if (iflow_dist_agree(iflow_matrix_load_ids(a.path, a.group_col, &m, &ids, &err), &err)) {
        iflow_matrix_free(m);
        free(ids);
        return est_data_error(CMD, a.path, &err);
    }
    est_tagged t = {0};
    if (m->cols < 2 || a.group_col >= m->cols) {
        rc = iflow_error_set(&err, IFLOW_EINVAL,
                             "%s: needs a group column and at least one sample column; "
                             "--group-col %zu but the file has %zu column(s)",
                             a.path, a.group_col, m->cols);
    } else if (m->rows < 2) {
        rc = iflow_error_set(&err, IFLOW_EINVAL, "%s: need at least 2 samples (rows), got %zu",
                             a.path, m->rows);
    } else {
        rc = est_split_groups(m, ids, a.group_col, a.path, &t, &err);
    }
    iflow_matrix_free(m);
    free(ids);
    rc = iflow_dist_agree(rc, &err);
    double *sigma = NULL;
    size_t sigma_cols = 0;
    if (!rc && a.sigma_file &&
        iflow_dist_agree(est_load_sigma(a.sigma_file, t.n, t.d, &sigma, &sigma_cols, &err), &err)) {
        est_tagged_free(&t);
        return est_data_error(CMD, a.sigma_file, &err);
    }
    if (!rc) rc = a.est == EST_SP ? run_sp(&a, &t, sigma, sigma_cols, &err) : run_bin(&a, &t, &err);
    est_tagged_free(&t);
    free(sigma);
    if (rc) return est_data_error(CMD, a.path, &err);
    return fflush(stdout) ? 1 : 0;
}
