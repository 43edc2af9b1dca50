/* Options shared by the estimator commands (`entropy`, `mi`): parsing, JSON output, errors. */
#ifndef IFLOW_CLI_ESTIMATOR_ARGS_H
#define IFLOW_CLI_ESTIMATOR_ARGS_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "infoflow/binning.h"
#include "infoflow/error.h"

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
    OPT_GROUP
};

typedef struct est_args {
    size_t est;   /* index into the command's estimator names */
    double sigma; /* 0: not given */
    size_t mc;
    uint64_t seed;
    double tolerance;
    int have_bins;
    iflow_binning bins;
    size_t k;
    long threads;
    size_t group_col;
    int have_group_col;
    const char *path;
} est_args;

typedef struct est_command {
    const char *name;                 /* "entropy" */
    const char *const *estimators;    /* names, the first is the default */
    size_t n_estimators;
    const char *estimator_list;       /* "sp, bin" for messages */
    const struct option *options;
    void (*usage)(FILE *out);
} est_command;

/* Parses argv (one FILE operand) into a with defaults mc 16, seed 1, k 3. Returns -1 to go on,
 * else the exit code (0 after --help, 2 after a usage error). */
int est_parse_args(const est_command *c, int argc, char **argv, est_args *a);

/* Prints a library error for FILE (naming it if the message does not already); returns 1. */
int est_data_error(const char *cmd, const char *path, const iflow_error *err);

/* A JSON number field ",\"key\":v"; JSON has no NaN or Inf, so those print as null. */
void est_json_number(const char *key, double v);


#endif
