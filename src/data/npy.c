/* N-dimensional NumPy .npy writer (format 1.0, C order, little-endian '<f8' and '<i8'), the
 * counterpart of the .npy reader in data.c, for `infoflow export`. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "infoflow/data.h"
#include "io.h"

#define NPY_MAX_DIMS 8

/* The header: magic, version 1.0, u16 header length, then the dict padded with spaces and a
 * final '\n' so that the data start at a multiple of 64 bytes. shape () is a scalar; (n,) 1-D. */
static int write_header(FILE *f, const char *descr, const size_t *shape, size_t ndim) {
    char dict[512];
    int len =
        snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (size_t i = 0; i < ndim; i++)
        len += snprintf(dict + len, sizeof dict - (size_t)len, "%zu%s", shape[i],
                        ndim == 1      ? ","
                        : i + 1 < ndim ? ", "
                                       : "");
    len += snprintf(dict + len, sizeof dict - (size_t)len, "), }");
    size_t hlen = (10 + (size_t)len + 1 + 63) / 64 * 64 - 10;
    unsigned char pre[10] = {0x93,
                             'N',
                             'U',
                             'M',
                             'P',
                             'Y',
                             1,
                             0,
                             (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    fwrite(pre, 1, sizeof pre, f);
    return fprintf(f, "%-*s\n", (int)hlen - 1, dict) < 0 ? -1 : 0;
}

/* 8-byte values, little-endian whatever the host's order. */
static int save(const char *path, const char *descr, const void *data, const size_t *shape,
                size_t ndim, iflow_error *err) {
    if (ndim > NPY_MAX_DIMS)
        return iflow_error_set(err, IFLOW_EINVAL, "%s: %zu dimensions, at most %d", path, ndim,
                               NPY_MAX_DIMS);
    /* The header promises prod(shape) values: a product that wraps would promise what the data
     * do not hold (and NumPy would refuse the file). */
    size_t count = 1;
    for (size_t i = 0; i < ndim; i++)
        if (iflow_size_mul(count, shape[i], &count))
            return iflow_error_set(err, IFLOW_EINVAL, "%s: the product of the shape overflows",
                                   path);
    int rc = iflow_check_array(count, 8, path, err);
    if (rc) return rc;
    iflow_atomic a;
    if ((rc = iflow_atomic_open(&a, path, err))) return rc;
    write_header(a.f, descr, shape, ndim);
    const unsigned char *p = data;
    unsigned char b[8];
    for (size_t k = 0; k < count; k++) {
        uint64_t u;
        memcpy(&u, p + 8 * k, sizeof u);
        for (int i = 0; i < 8; i++) b[i] = (unsigned char)(u >> (8 * i));
        fwrite(b, 1, 8, a.f);
    }
    return iflow_atomic_commit(&a, err); /* checks ferror for every write above */
}

int iflow_npy_save_f8(const char *path, const double *data, const size_t *shape, size_t ndim,
                      iflow_error *err) {
    return save(path, "<f8", data, shape, ndim, err);
}

int iflow_npy_save_i8(const char *path, const int64_t *data, const size_t *shape, size_t ndim,
                      iflow_error *err) {
    return save(path, "<i8", data, shape, ndim, err);
}
