/* Options shared by the estimator commands (`entropy`, `mi`): parsing, JSON output, errors. */
#ifndef IFLOW_CLI_ESTIMATOR_ARGS_H
#define IFLOW_CLI_ESTIMATOR_ARGS_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "infoflow/binning.h"
#include "infoflow/entropy.h"
#include "infoflow/data.h"
#include "infoflow/error.h"
#include "infoflow/sliced.h"

/* getopt_long values of the shared options; a command lists the ones it accepts. */
enum {
    OPT_ESTIMATOR = 256,
    OPT_SIGMA,
    OPT_MC,
    OPT_SEED,
    OPT_TOL,
    OPT_WIDTH,
    OPT_BINS,
    OPT_K,
    OPT_THREADS,
    OPT_GROUP,
    OPT_SLICES,
    OPT_SLICE_DIM,
    OPT_NORMALS,
    OPT_QUIET,
    OPT_NO_BIAS,
    OPT_SIGMA_FILE,
    OPT_MAX_SLICE,
    OPT_SAVE_DIRS
};

/* Default --tolerance: the run's [estimate] tolerance. */
#define EST_DEFAULT_TOLERANCE IFLOW_SP_DEFAULT_TOLERANCE
/* Largest --k of the knn estimator (each thread holds k distances). */
#define IFLOW_MAX_KNN_K 1000000

/* Help lines of the options both commands take: the sp and bin ones, then the tail. */
#define EST_HELP_SP_BIN                                                                            \
    "  --mc K           sp: draws per sample (default 1, as runs)\n"                               \
    "  --seed S         sp: random seed (default 1)\n"                                             \
    "  --tolerance TOL  sp: skip far samples, each log-density within TOL of exact\n"              \
    "                   (default 1e-6, as runs; 0: exact sums)\n"                                  \
    "  --normals V      sp: normal generator of the draws, v2 (default, as runs) or v1\n"          \
    "  --no-bias        sp: skip the finite-sample bias (its half-sample estimates cost\n"         \
    "                   half as much again as the estimate)\n"                                     \
    "  --bin-width W    bin: bins of width W, bin 0 = [0, W) (no default)\n"                       \
    "  --bins szt30     bin: 30 edges on [-1, 1] as in Shwartz-Ziv & Tishby\n"
#define EST_HELP_SIGMA_FILE                                                                        \
    "  --sigma-file F   sp: heteroscedastic noise instead of --sigma: F (CSV or .npy)\n"           \
    "                   holds one row per sample of 1 (a std per sample) or d columns\n"           \
    "                   (a std per coordinate), all > 0 (e.g. dropout: sqrt(v) |s|)\n"
#define EST_HELP_SLICED                                                                            \
    "  --slice-dim K    sp: k-sliced estimate, the mean over random k-dimensional\n"               \
    "                   projections (Haar; default 0: unsliced, all d dimensions)\n"               \
    "  --slices M       sp: number of projections with --slice-dim (default 16;\n"                 \
    "                   >= 2 when K < d: the stderr comes from their spread)\n"
#define EST_HELP_TAIL                                                                              \
    "  --threads N      threads (default 0: all cores, or $OMP_NUM_THREADS when set;\n"            \
    "                   results do not depend on it)\n"                                            \
    "  --quiet          no progress line (on a terminal, or every 30 s off one)\n"                 \
    "  -h, --help       show this help\n\n"                                                        \
    "Options that do not apply to the chosen estimator are ignored. Exit status: 0 ok,\n"          \
    "1 bad data, 2 bad usage. Under MPI, `mpirun -np N infoflow ...` splits the sp\n"              \
    "draws over the ranks, with the same output as one process (docs/SCALING.md).\n"

/* The matching getopt_long entries. */
#define EST_OPTIONS_SP_BIN                                                                         \
    {"estimator", required_argument, NULL, OPT_ESTIMATOR},                                         \
        {"sigma", required_argument, NULL, OPT_SIGMA}, {"mc", required_argument, NULL, OPT_MC},    \
        {"sigma-file", required_argument, NULL, OPT_SIGMA_FILE},                                   \
        {"seed", required_argument, NULL, OPT_SEED},                                               \
        {"tolerance", required_argument, NULL, OPT_TOL},                                           \
        {"normals", required_argument, NULL, OPT_NORMALS},                                         \
        {"no-bias", no_argument, NULL, OPT_NO_BIAS},                                               \
        {"bin-width", required_argument, NULL, OPT_WIDTH}, {                                       \
        "bins", required_argument, NULL, OPT_BINS                                                  \
    }
#define EST_OPTIONS_SLICED                                                                         \
    {"slices", required_argument, NULL, OPT_SLICES}, {                                             \
        "slice-dim", required_argument, NULL, OPT_SLICE_DIM                                        \
    }
#define EST_OPTIONS_TAIL                                                                           \
    {"threads", required_argument, NULL, OPT_THREADS}, {"quiet", no_argument, NULL, OPT_QUIET},    \
        {"help", no_argument, NULL, 'h'}, {                                                        \
        NULL, 0, NULL, 0                                                                           \
    }

typedef struct est_args {
    size_t est;             /* index into the command's estimator names */
    double sigma;           /* 0: not given */
    const char *sigma_file; /* --sigma-file, NULL: not given */
    size_t mc;
    uint64_t seed;
    double tolerance;
    iflow_normals normals; /* --normals, default IFLOW_SP_DEFAULT_NORMALS */
    int no_bias;           /* --no-bias */
    int have_bins;
    iflow_binning bins;
    size_t k;
    long threads;
    size_t group_col;
    int have_group_col;
    size_t slices, slice_dim; /* slice_dim 0: unsliced */
    int max_slice;            /* --max-slice: the maximum over projections, not the mean */
    const char *save_dirs;    /* --save-directions F, NULL: not given */
    int have_slices;
    int quiet; /* --quiet: no progress line */
    const char *path;
} est_args;

typedef struct est_command {
    const char *name;              /* "entropy" */
    const char *const *estimators; /* names, the first is the default */
    size_t n_estimators;
    const char *estimator_list; /* "sp, bin" for messages */
    const struct option *options;
    void (*usage)(FILE *out);
} est_command;

/* Parses argv (one FILE operand) into a with the SP defaults (entropy.h), seed 1, k 3. Returns -1
 * to go on, else the exit code (0 after --help, 2 after a usage error). */
int est_parse_args(const est_command *c, int argc, char **argv, est_args *a);

/* The SP options the arguments ask for (sigma, mc, seed, tolerance, threads; the rest default). */
void est_sp_options(const est_args *a, iflow_sp_options *opt);

/* The slice options of --slices/--slice-dim (seed from --seed); call only with slice_dim > 0. */
void est_slice_options(const est_args *a, iflow_slice_options *opt);

/* Prints the JSON fields of the SP settings used: mc, normals, tolerance, plan, seed. */
void est_json_sp_settings(const est_args *a);

/* Prints the JSON fields of a k-sliced estimate: slice_dim, slices, sd_slices, mc_se. */
void est_json_sliced(const est_args *a, const iflow_sliced_estimate *e);

/* Prints the JSON fields of an estimate named name: name (the value), name_se (the total se;
 * null when it cannot be estimated), name_se_mc, name_se_kind ("total", "exact" or "n/a") and,
 * when estimated, name_bias and name_corrected (value - bias). */
void est_json_estimate(const char *name, const iflow_estimate *e);

/* Checks that an estimate's value, se_mc and (unless n/a) se are finite; names them by name. */
int est_check_estimate(const char *name, const iflow_estimate *e, iflow_error *err);

/* If any of the n estimates has no total se, says so on stderr (the JSON shows null). */
void est_note_se(const char *cmd, const iflow_estimate *const *e, size_t n);

/* Rows of a matrix tagged by one of its columns: samples n x d (the matrix without column col)
 * and each row's group renumbered 0..n_groups-1 in increasing order of the value in the file
 * (so sparse labels such as {3, 1000} cost nothing). */
typedef struct est_tagged {
    size_t n, d, n_groups;
    double *s;
    size_t *group;
} est_tagged;

/* Splits m by column col (values must be non-negative integers; errors name path, row and
 * column). Free with est_tagged_free. */
int est_split_groups(const iflow_matrix *m, const uint64_t *ids, size_t col, const char *path,
                     est_tagged *t, iflow_error *err);
void est_tagged_free(est_tagged *t);

/* The stds of --sigma-file for n samples of dimension d: *sigma (n x *cols, malloc'ed, caller
 * frees), *cols = 1 or d. Errors name the file and, for a bad value in a CSV, its line. */
int est_load_sigma(const char *path, size_t n, size_t d, double **sigma, size_t *cols,
                   iflow_error *err);

/* Prints a library error for FILE (naming it if the message does not already); returns 1. */
int est_data_error(const char *cmd, const char *path, const iflow_error *err);

/* A JSON number field ",\"key\":v"; JSON has no NaN or Inf, so those print as null (callers
 * check with est_check_finite first: a result is never printed as null). */
void est_json_number(const char *key, double v);

/* 0 if v is finite, else an IFLOW_ENUMERIC error naming `what` (a printed result). */
int est_check_finite(const char *what, double v, iflow_error *err);

#endif
