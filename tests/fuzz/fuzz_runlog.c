/* libFuzzer harness: a run's CSV logs as `infoflow plot` reads them (possibly cut short by a
 * kill) and as a resume trims them. Every column is fetched as numbers; trimming must keep the
 * header and never grow the file. */
#include <sys/stat.h>

#include "csvread.h"
#include "fuzz_util.h"
#include "runlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[256];
    fuzz_write("mi.csv", data, size, path);
    iflow_csv *csv = NULL;
    iflow_error err = {0};
    int rc = iflow_csv_read(path, &csv, &err);
    fuzz_check_message(rc, err.msg);
    if (!rc) {
        for (size_t c = 0; c < csv->n_cols; c++) {
            const double *v;
            rc = iflow_csv_numbers(csv, csv->header[c], &v, &err);
            fuzz_check_message(rc, err.msg);
            for (size_t r = 0; r < csv->n_rows; r++) (void)iflow_csv_str(csv, r, (int)c);
        }
        iflow_csv_free(csv);
    }
    (void)runlog_epoch_rows(fuzz_tmpdir(), "mi.csv", 3);
    rc = runlog_trim(fuzz_tmpdir(), "mi.csv", 3, &err);
    fuzz_check_message(rc, err.msg);
    struct stat st;
    if (stat(path, &st) != 0 || (size_t)st.st_size > size) abort();
    return 0;
}
