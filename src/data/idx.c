/* IDX images and labels (MNIST-style, plain or gzip): iflow_dataset_load_idx. A file too short
 * for what its header promises is refused before any allocation. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "alloc.h"
#include "io.h"
#include "data_internal.h"

/* Reads up to len bytes; returns the count read (short at end of data) or -1 on a zlib error. */
static long long gz_read_full(gzFile gz, void *buf, size_t len) {
    size_t done = 0;
    while (done < len) {
        size_t chunk = len - done < (1u << 30) ? len - done : (1u << 30);
        int got = gzread(gz, (unsigned char *)buf + done, (unsigned)chunk);
        if (got < 0) return -1;
        if (got == 0) break;
        done += (size_t)got;
    }
    return (long long)done;
}

static const char *gz_message(gzFile gz) {
    int code;
    const char *msg = gzerror(gz, &code);
    return code == Z_ERRNO ? strerror(errno) : msg;
}

/* Opens an IDX file and reads its header: 0x00 0x00 type ndims, then ndims big-endian u32. */
static int idx_open(const char *path, int min_dims, int max_dims, gzFile *gz, size_t *dims,
                    int *ndims, iflow_error *err) {
    struct stat st;
    *gz = NULL;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) /* gzopen would block on a FIFO */
        return iflow_error_set(err, IFLOW_EINVAL,
                               "%s: not a regular file (a pipe, FIFO or "
                               "device); a data file is read more than once: save it to a file",
                               path);
    *gz = gzopen(path, "rb");
    if (!*gz)
        return iflow_error_set(err, IFLOW_EIO, "%s: cannot open: %s", path,
                               errno ? strerror(errno) : "out of memory");
    unsigned char h[4 + 4 * 3];
    int rc = 0;
    long long got = gz_read_full(*gz, h, 4);
    if (got < 0)
        rc = iflow_error_set(err, IFLOW_EIO, "%s: read failed: %s", path, gz_message(*gz));
    else if (got < 4)
        rc = iflow_error_set(err, IFLOW_ECORRUPT, "%s: truncated: no IDX header", path);
    else if (h[0] != 0 || h[1] != 0)
        rc = iflow_error_set(err, IFLOW_ECORRUPT,
                             "%s: bad magic %02x %02x %02x %02x (not an IDX file)", path, h[0],
                             h[1], h[2], h[3]);
    else if (h[2] != 0x08)
        rc = iflow_error_set(err, IFLOW_EINVAL,
                             "%s: unsupported IDX type 0x%02x (only 0x08, unsigned byte)", path,
                             h[2]);
    else if (h[3] < min_dims || h[3] > max_dims)
        rc = iflow_error_set(err, IFLOW_EINVAL, "%s: %d dimensions, expected %d to %d", path, h[3],
                             min_dims, max_dims);
    if (rc == 0) {
        *ndims = h[3];
        got = gz_read_full(*gz, h + 4, 4 * (size_t)*ndims);
        if (got != 4 * (long long)*ndims)
            rc = iflow_error_set(err, IFLOW_ECORRUPT, "%s: truncated: incomplete IDX header", path);
    }
    for (int k = 0; rc == 0 && k < *ndims; k++) {
        const unsigned char *b = h + 4 + 4 * (size_t)k;
        dims[k] = (size_t)b[0] << 24 | (size_t)b[1] << 16 | (size_t)b[2] << 8 | b[3];
    }
    if (rc) {
        gzclose(*gz);
        *gz = NULL;
    }
    return rc;
}

/* Reads len bytes of payload; a short read is a truncated file. */
static int idx_payload(gzFile gz, const char *path, const char *what, unsigned char *buf,
                       size_t len, iflow_error *err) {
    long long got = gz_read_full(gz, buf, len);
    if (got < 0)
        return iflow_error_set(err, IFLOW_EIO, "%s: read failed: %s", path, gz_message(gz));
    if ((size_t)got < len)
        return iflow_error_set(err, IFLOW_ECORRUPT,
                               "%s: truncated: expected %zu bytes of %s, got %lld", path, len, what,
                               got);
    return 0;
}

/* Bytes of data that path can hold after `header` bytes: its size if plain, 1032 times it if
 * gzip (deflate's largest ratio); SIZE_MAX if unknown (not a regular file). */
static size_t idx_capacity(gzFile gz, const char *path, size_t header) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return SIZE_MAX;
    size_t size = (size_t)st.st_size;
    if (!gzdirect(gz)) return size > SIZE_MAX / 1032 ? SIZE_MAX : 1032 * size;
    return size > header ? size - header : 0;
}

/* A file too short for the rows its header promises is refused before the allocation, so a
 * corrupt count cannot ask for gigabytes. */
static int idx_check_size(gzFile gz, const char *path, int ndims, size_t need, const char *what,
                          iflow_error *err) {
    size_t have = idx_capacity(gz, path, 4 + 4 * (size_t)ndims);
    if (need > have)
        return iflow_error_set(err, IFLOW_ECORRUPT,
                               "%s: truncated: expected %zu bytes of %s, got %s%zu", path, need,
                               what, gzdirect(gz) ? "" : "at most ", have);
    return 0;
}

/* Reads the first n rows of d pixels and n labels into ds (already allocated). */
static int idx_read_rows(gzFile gi, const char *images_path, gzFile gl, const char *labels_path,
                         iflow_dataset *ds, iflow_error *err) {
    size_t n = ds->n, d = ds->d;
    unsigned char *buf = malloc(n * d > n ? n * d : n);
    if (!buf) return iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory", images_path);
    int rc = idx_payload(gi, images_path, "pixel data", buf, n * d, err);
    for (size_t i = 0; rc == 0 && i < n * d; i++) ds->x[i] = buf[i] / 255.0;
    if (rc == 0) rc = idx_payload(gl, labels_path, "labels", buf, n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) ds->y[i] = buf[i]; /* u8: always <= 65535 */
    free(buf);
    return rc;
}

int iflow_dataset_load_idx(const char *images_path, const char *labels_path, size_t max_rows,
                           iflow_dataset **out, iflow_error *err) {
    *out = NULL;
    gzFile gi = NULL, gl = NULL;
    size_t idims[3] = {0},
           ldims[1] = {0}; /* zeros: idx_open fills them, the analyzer cannot tell */
    int ni, nl;
    int rc = idx_open(images_path, 2, 3, &gi, idims, &ni, err);
    if (rc == 0) rc = idx_open(labels_path, 1, 1, &gl, ldims, &nl, err);
    size_t n = rc == 0 ? idims[0] : 0, d = 0;
    if (rc == 0) {
        d = ni == 3 ? idims[1] * idims[2] : idims[1]; /* each < 2^32: no overflow in size_t */
        if (ldims[0] != n)
            rc = iflow_error_set(err, IFLOW_EINVAL, "%s has %zu images but %s has %zu labels",
                                 images_path, n, labels_path, ldims[0]);
        else if (n == 0 || d == 0)
            rc = iflow_error_set(err, IFLOW_EINVAL, "%s: no data (%zu images of %zu pixels)",
                                 images_path, n, d);
    }
    if (max_rows > 0 && max_rows < n) n = max_rows;
    if (rc == 0) rc = idx_check_size(gi, images_path, ni, n * d, "pixel data", err);
    if (rc == 0) rc = idx_check_size(gl, labels_path, nl, n, "labels", err);
    iflow_dataset *ds = NULL;
    if (rc == 0) rc = data_dataset_alloc(n, d, &ds, err);
    if (rc == 0) rc = idx_read_rows(gi, images_path, gl, labels_path, ds, err);
    if (gi) gzclose(gi);
    if (gl) gzclose(gl);
    if (rc) {
        iflow_dataset_free(ds);
        return rc;
    }
    ds->n_classes = data_count_classes(ds->y, ds->n);
    *out = ds;
    return 0;
}
