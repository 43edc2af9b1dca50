/* libFuzzer harness: labelled CSV data sets and split files. A loaded data set must hold only
 * finite features and labels in [0, n_classes); a split must partition its rows. */
#include <math.h>

#include "fuzz_util.h"
#include "infoflow/data.h"

static void check_dataset(const iflow_dataset *ds) {
    if (ds->n == 0 || ds->d == 0) abort();
    for (size_t i = 0; i < ds->n * ds->d; i++)
        if (!isfinite(ds->x[i])) abort();
    for (size_t i = 0; i < ds->n; i++)
        if (ds->y[i] < 0 || (size_t)ds->y[i] >= ds->n_classes) abort();
}

static void check_split(const iflow_split *s, size_t n) {
    if (s->n_train + s->n_test != n) abort();
    for (size_t i = 0; i < s->n_test; i++)
        if (s->test[i] >= n || (i && s->test[i] <= s->test[i - 1])) abort();
    for (size_t i = 0; i < s->n_train; i++)
        if (s->train[i] >= n || (i && s->train[i] <= s->train[i - 1])) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[256];
    fuzz_write("data.csv", data, size, path);
    iflow_dataset *ds = NULL;
    iflow_error err = {0};
    int rc = iflow_dataset_load_csv(path, &ds, &err);
    fuzz_check_message(rc, err.msg);
    if (!rc) check_dataset(ds);
    iflow_dataset_free(ds);
    /* The same bytes as a split file over 64 rows. */
    iflow_split *sp = NULL;
    rc = iflow_split_from_file(path, 64, &sp, &err);
    fuzz_check_message(rc, err.msg);
    if (!rc) check_split(sp, 64);
    iflow_split_free(sp);
    return 0;
}
