/* Mean and sd across several runs of the same CSV log (e.g. mi.csv of runs that differ only in
 * their seed), by iflow_aggregate_csv: rows matched by their first K columns, then `runs` and
 * COL_mean,COL_sd for every other column. `infoflow run` does this itself for `repeats`; this
 * tool is for runs made separately.
 *
 * Usage: aggregate --keys K OUT.csv RUN1.csv RUN2.csv ... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infoflow/run.h"

int main(int argc, char **argv) {
    char *end = NULL;
    long k = argc >= 3 ? strtol(argv[2], &end, 10) : 0;
    if (argc < 5 || strcmp(argv[1], "--keys") || !end || *end || k < 1) {
        fprintf(stderr, "usage: aggregate --keys K OUT.csv RUN1.csv RUN2.csv ...\n");
        return 2;
    }
    iflow_error err = {0};
    if (iflow_aggregate_csv((const char *const *)argv + 4, (size_t)(argc - 4), (size_t)k, argv[3],
                            &err)) {
        fprintf(stderr, "aggregate: %s\n", err.msg);
        return 1;
    }
    return 0;
}
