/* libFuzzer harness: sample matrices (NumPy .npy, or CSV when the .npy magic is absent). A loaded
 * matrix must be non-empty and finite; a saved one must load back bit-for-bit. */
#include <math.h>

#include "fuzz_util.h"
#include "infoflow/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[256], out[256];
    fuzz_write("m.npy", data, size, path);
    iflow_matrix *m = NULL, *back = NULL;
    iflow_error err = {0};
    int rc = iflow_matrix_load(path, &m, &err);
    fuzz_check_message(rc, err.msg);
    if (rc) return 0;
    if (m->rows == 0 || m->cols == 0) abort();
    for (size_t i = 0; i < m->rows * m->cols; i++)
        if (!isfinite(m->data[i])) abort();
    snprintf(out, sizeof out, "%s/back.npy", fuzz_tmpdir());
    if (iflow_matrix_save_npy(out, m->data, m->rows, m->cols, &err) != 0) abort();
    if (iflow_matrix_load(out, &back, &err) != 0) abort();
    if (back->rows != m->rows || back->cols != m->cols ||
        memcmp(back->data, m->data, m->rows * m->cols * sizeof *m->data) != 0)
        abort();
    iflow_matrix_free(back);
    iflow_matrix_free(m);
    return 0;
}
