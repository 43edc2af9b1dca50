/* libFuzzer harness: IDX images + labels. Input layout: byte 0 = max_rows (0 = all), bytes 1-2 =
 * little-endian length of the images file (clamped), then the images bytes, then the labels
 * bytes. Either part may itself be gzip data. Pixels must land in [0, 1]. */
#include "fuzz_util.h"
#include "infoflow/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3) return 0;
    size_t max_rows = data[0];
    size_t n_img = (size_t)data[1] | (size_t)data[2] << 8;
    data += 3;
    size -= 3;
    if (n_img > size) n_img = size;
    char images[256], labels[256];
    fuzz_write("images-idx3-ubyte", data, n_img, images);
    fuzz_write("labels-idx1-ubyte", data + n_img, size - n_img, labels);
    iflow_dataset *ds = NULL;
    iflow_error err = {0};
    int rc = iflow_dataset_load_idx(images, labels, max_rows, &ds, &err);
    fuzz_check_message(rc, err.msg);
    if (rc) return 0;
    if (ds->n == 0 || ds->d == 0 || (max_rows && ds->n > max_rows)) abort();
    for (size_t i = 0; i < ds->n * ds->d; i++)
        if (!(ds->x[i] >= 0 && ds->x[i] <= 1)) abort();
    for (size_t i = 0; i < ds->n; i++)
        if (ds->y[i] < 0 || (size_t)ds->y[i] >= ds->n_classes) abort();
    iflow_dataset_free(ds);
    return 0;
}
