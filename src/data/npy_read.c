/* The NumPy .npy reader (format 1.0-3.0, 2-D or 1-D, '<f8' or '<f4'), the counterpart of the
 * writer in npy.c. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "io.h"
#include "data_internal.h"

const char data_npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

typedef struct npy_header {
    int elsize; /* 8 for '<f8', 4 for '<f4' */
    int fortran;
    size_t rows, cols;
} npy_header;

/* A quoted Python string without escapes ('...' or "..."); p past it, or NULL if malformed. */
static const char *npy_string(const char *p, char *out, size_t n) {
    char q = *p;
    if (q != '\'' && q != '"') return NULL;
    const char *end = strchr(p + 1, q);
    if (!end || memchr(p + 1, '\\', (size_t)(end - p - 1)) || (size_t)(end - p - 1) >= n)
        return NULL;
    memcpy(out, p + 1, (size_t)(end - p - 1));
    out[end - p - 1] = '\0';
    return end + 1;
}

static const char *npy_space(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

static int npy_parse_descr(const char *v, const char *path, npy_header *h, iflow_error *err) {
    char descr[16] = "";
    if (v && (*v == '\'' || *v == '"')) {
        const char *end = strchr(v + 1, *v);
        if (end && (size_t)(end - v - 1) < sizeof descr)
            memcpy(descr, v + 1, (size_t)(end - v - 1));
    }
    if (strcmp(descr, "<f8") == 0)
        h->elsize = 8;
    else if (strcmp(descr, "<f4") == 0)
        h->elsize = 4;
    else if (descr[0] == '>')
        return iflow_error_set(err, IFLOW_EINVAL,
                               "%s: big-endian dtype '%s' is not supported (use '<f8' or '<f4')",
                               path, descr);
    else
        return iflow_error_set(err, IFLOW_EINVAL,
                               "%s: unsupported dtype '%s' (only '<f8' and '<f4')", path, descr);
    return 0;
}

/* shape: "(r, c)", "(r, c,)" or "(r,)"; a 1-D array becomes r x 1. */
static int npy_parse_shape(const char *v, const char *path, npy_header *h, iflow_error *err) {
    size_t dims[2];
    int nd = 0;
    if (!v || *v != '(') goto bad;
    for (v++;;) {
        while (*v == ' ') v++;
        if (*v == ')') break;
        if (nd == 2 || !isdigit((unsigned char)*v)) goto bad;
        char *end;
        errno = 0;
        unsigned long long x = strtoull(v, &end, 10);
        if (errno == ERANGE || x > SIZE_MAX) goto bad;
        dims[nd++] = (size_t)x;
        for (v = end; *v == ' '; v++) {}
        if (*v == ',')
            v++;
        else if (*v != ')')
            goto bad;
    }
    if (nd == 0) goto bad;
    h->rows = dims[0];
    h->cols = nd == 2 ? dims[1] : 1;
    if (h->rows == 0 || h->cols == 0)
        return iflow_error_set(err, IFLOW_EINVAL, "%s: empty matrix (%zu x %zu)", path, h->rows,
                               h->cols);
    return 0;
bad:
    return iflow_error_set(err, IFLOW_EINVAL,
                           "%s: .npy 'shape' must be (rows,) or (rows, cols) of integers", path);
}

/* One value of the header dict (p at its first character); *end past it. */
static int npy_dict_value(const char *key, const char *p, const char **end, const char *path,
                          npy_header *h, iflow_error *err) {
    char text[64];
    int rc = 0;
    if (!strcmp(key, "descr")) {
        rc = npy_parse_descr(p, path, h, err);
        *end = npy_string(p, text, sizeof text);
    } else if (!strcmp(key, "fortran_order")) {
        h->fortran = !strncmp(p, "True", 4);
        *end = h->fortran ? p + 4 : !strncmp(p, "False", 5) ? p + 5 : NULL;
    } else if (!strcmp(key, "shape")) {
        rc = npy_parse_shape(p, path, h, err);
        *end = strchr(p, ')');
        if (*end) ++*end;
    } else {
        return iflow_error_set(err, IFLOW_ECORRUPT,
                               "%s: unexpected key '%s' in the .npy header "
                               "(only 'descr', 'fortran_order', 'shape')",
                               path, key);
    }
    if (!rc && !*end)
        rc = iflow_error_set(err, IFLOW_ECORRUPT, "%s: .npy header: malformed value of '%s'", path,
                             key);
    return rc;
}

/* The header is a Python dict literal, parsed as one (as numpy does), not searched for keys: a
 * key named inside another key's string value cannot win. Exactly the three keys, once each,
 * in any order, an optional trailing comma, then only padding. */
static int npy_parse_dict(const char *dict, const char *path, npy_header *h, iflow_error *err) {
    static const char *const names[3] = {"descr", "fortran_order", "shape"};
    int seen[3] = {0, 0, 0}, rc = 0;
    const char *p = npy_space(dict);
    if (*p++ != '{') goto bad;
    for (p = npy_space(p); rc == 0 && *p != '}'; p = npy_space(p)) {
        char key[32];
        const char *v = npy_string(p, key, sizeof key);
        if (!v) goto bad;
        v = npy_space(v);
        if (*v++ != ':') goto bad;
        int k = 0;
        while (k < 3 && strcmp(key, names[k]) != 0) k++;
        if (k < 3 && seen[k]++)
            return iflow_error_set(err, IFLOW_ECORRUPT, "%s: .npy header: duplicate key '%s'", path,
                                   key);
        rc = npy_dict_value(key, npy_space(v), &p, path, h, err);
        if (rc) return rc;
        p = npy_space(p);
        if (*p == ',')
            p++;
        else if (*p != '}')
            goto bad;
    }
    if (*npy_space(p + 1) != '\0') goto bad;
    for (int k = 0; k < 3; k++)
        if (!seen[k])
            return iflow_error_set(err, IFLOW_ECORRUPT, "%s: .npy header lacks '%s'", path,
                                   names[k]);
    return 0;
bad:
    return iflow_error_set(err, IFLOW_ECORRUPT,
                           "%s: .npy header is not a Python dict of "
                           "'descr', 'fortran_order' and 'shape' (near byte %ld of the header)",
                           path, (long)(p - dict));
}

/* Reads the magic, version, header length and the header dict. */
static int npy_read_header(FILE *f, const char *path, npy_header *h, iflow_error *err) {
    unsigned char pre[12];
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, data_npy_magic, 6) != 0)
        return iflow_error_set(err, IFLOW_ECORRUPT, "%s: truncated .npy preamble", path);
    int major = pre[6];
    size_t hlen;
    if (major == 1) {
        hlen = pre[8] | (size_t)pre[9] << 8;
    } else if (major == 2 || major == 3) {
        if (fread(pre + 10, 1, 2, f) != 2)
            return iflow_error_set(err, IFLOW_ECORRUPT, "%s: truncated .npy preamble", path);
        hlen = pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    } else {
        return iflow_error_set(err, IFLOW_EINVAL, "%s: unsupported .npy version %d.%d", path, major,
                               pre[7]);
    }
    if (hlen > (1u << 24))
        return iflow_error_set(err, IFLOW_ECORRUPT, "%s: .npy header length %zu is implausible",
                               path, hlen);
    char *dict = malloc(hlen + 1);
    if (!dict) return iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory", path);
    int rc = 0;
    if (fread(dict, 1, hlen, f) != hlen)
        rc = iflow_error_set(err, IFLOW_ECORRUPT, "%s: truncated .npy header", path);
    dict[hlen] = '\0';
    if (rc == 0) rc = npy_parse_dict(dict, path, h, err);
    free(dict);
    return rc;
}

/* Little-endian bytes to double, independent of the host's byte order. */
static double npy_decode(const unsigned char *b, int elsize) {
    if (elsize == 4) {
        uint32_t u =
            (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        float v;
        memcpy(&v, &u, sizeof v);
        return v;
    }
    uint64_t u = 0;
    for (int k = 7; k >= 0; k--) u = u << 8 | b[k];
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* size: bytes of the whole file (known: a regular file or a pipe read into memory). */
int data_npy_load(FILE *f, size_t size, const char *path, iflow_matrix **out, iflow_error *err) {
    npy_header h = {0};
    int rc = npy_read_header(f, path, &h, err);
    if (rc) return rc;
    size_t count, bytes;
    if (iflow_size_mul(h.rows, h.cols, &count) || iflow_size_mul(count, sizeof(double), &bytes))
        return iflow_error_set(err, IFLOW_EINVAL, "%s: matrix %zu x %zu is too large", path, h.rows,
                               h.cols);
    bytes = count * (size_t)h.elsize; /* elsize <= sizeof(double): no wrap */
    /* Checked before allocating, so a corrupt shape cannot ask for gigabytes. */
    long pos = ftell(f);
    if (pos >= 0 && (size < (size_t)pos || size - (size_t)pos < bytes))
        return iflow_error_set(err, IFLOW_ECORRUPT,
                               "%s: truncated: expected %zu bytes of data, got %lld", path, bytes,
                               (long long)size - pos);
    unsigned char *raw = malloc(bytes);
    iflow_matrix *m = calloc(1, sizeof *m);
    double *data = malloc(count * sizeof *data);
    if (!raw || !m || !data) {
        rc = iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory for %zu x %zu", path, h.rows,
                             h.cols);
    } else {
        size_t got = fread(raw, 1, bytes, f);
        if (got < bytes)
            rc = iflow_error_set(err, ferror(f) ? IFLOW_EIO : IFLOW_ECORRUPT,
                                 "%s: truncated: expected %zu bytes of data, got %zu", path, bytes,
                                 got);
    }
    /* Fortran order stores element (i, j) at j * rows + i; C order at i * cols + j. */
    for (size_t k = 0; rc == 0 && k < count; k++) {
        size_t i = h.fortran ? k % h.rows : k / h.cols, j = h.fortran ? k / h.rows : k % h.cols;
        double v = npy_decode(raw + k * (size_t)h.elsize, h.elsize);
        if (!isfinite(v))
            rc = iflow_error_set(err, IFLOW_EPARSE, "%s: NaN or Inf at row %zu, column %zu", path,
                                 i + 1, j + 1);
        data[i * h.cols + j] = v;
    }
    free(raw);
    if (rc) {
        free(data);
        free(m);
        return rc;
    }
    m->rows = h.rows;
    m->cols = h.cols;
    m->data = data;
    *out = m;
    return 0;
}
