/* Data sets, matrices (.npy or CSV, from files or streams) and train/test splits; the file
 * formats are read by csv.c, idx.c and npy_read.c. Every parse error names the file and line. */
#include "infoflow/data.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "infoflow/rng.h"
#include "alloc.h"
#include "io.h"
#include "data_internal.h"

int data_dataset_alloc(size_t n, size_t d, iflow_dataset **out, iflow_error *err) {
    *out = NULL;
    if (d != 0 && n > SIZE_MAX / sizeof(double) / d)
        return iflow_error_set(err, IFLOW_ENOMEM, "data set of %zu x %zu is too large", n, d);
    iflow_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
    /* max(1, .) so an empty subset still gets valid pointers */
    ds->x = malloc((n * d > 0 ? n * d : 1) * sizeof *ds->x);
    ds->y = malloc((n ? n : 1) * sizeof *ds->y);
    if (!ds->x || !ds->y) {
        iflow_dataset_free(ds);
        return iflow_error_set(err, IFLOW_ENOMEM, "out of memory for %zu x %zu data set", n, d);
    }
    ds->n = n;
    ds->d = d;
    *out = ds;
    return 0;
}

size_t data_count_classes(const int *y, size_t n) {
    int max = -1;
    for (size_t i = 0; i < n; i++)
        if (y[i] > max) max = y[i];
    return max < 0 ? 0 : (size_t)max + 1;
}

int iflow_dataset_load_csv(const char *path, iflow_dataset **out, iflow_error *err) {
    *out = NULL;
    csv_table t;
    int rc = data_read_csv(path, NULL, SIZE_MAX, 1, 0, &t, err);
    if (rc) return rc;
    iflow_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) {
        free(t.x);
        free(t.y);
        return iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory", path);
    }
    ds->n = t.rows;
    ds->d = t.n_feat;
    ds->x = t.x;
    ds->y = t.y;
    ds->n_classes = data_count_classes(ds->y, ds->n);
    *out = ds;
    return 0;
}

int iflow_dataset_subset(const iflow_dataset *src, const size_t *idx, size_t n, iflow_dataset **out,
                         iflow_error *err) {
    *out = NULL;
    for (size_t i = 0; i < n; i++)
        if (idx[i] >= src->n)
            return iflow_error_set(err, IFLOW_EINVAL,
                                   "subset: row index %zu out of range (n = %zu)", idx[i], src->n);
    iflow_dataset *ds;
    int rc = data_dataset_alloc(n, src->d, &ds, err);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        memcpy(ds->x + i * src->d, src->x + idx[i] * src->d, src->d * sizeof *ds->x);
        ds->y[i] = src->y[idx[i]];
    }
    /* The parent's class count, not the subset's: a test split missing the top class must still
     * give the network the same number of outputs. */
    ds->n_classes = src->n_classes;
    *out = ds;
    return 0;
}

void iflow_dataset_free(iflow_dataset *ds) {
    if (!ds) return;
    free(ds->x);
    free(ds->y);
    free(ds);
}
/* Most bytes read from a pipe or device (4 GiB): an endless stream is refused. */
#define MAX_STREAM ((size_t)1 << 32)

/* Reads a stream (pipe, process substitution, device) to its end into *buf, so that sniffing
 * the format consumes nothing and every row is parsed. A first block holding a NUL byte that is
 * not a .npy file (/dev/zero, binary junk) stops at once. */
static int slurp(FILE *f, const char *path, char **buf, size_t *len, iflow_error *err) {
    size_t cap = 1 << 16;
    *len = 0;
    *buf = malloc(cap);
    if (!*buf) return iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory", path);
    for (;;) {
        if (*len == cap) {
            if (cap >= MAX_STREAM)
                return iflow_error_set(err, IFLOW_EINVAL,
                                       "%s: more than %zu bytes from a pipe or "
                                       "device: save the data to a file",
                                       path, MAX_STREAM);
            char *grown = realloc(*buf, 2 * cap);
            if (!grown) return iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory", path);
            *buf = grown;
            cap *= 2;
        }
        size_t got = fread(*buf + *len, 1, cap - *len, f);
        int first = *len == 0;
        *len += got;
        if (first && got > 0 && (got < 6 || memcmp(*buf, data_npy_magic, 6) != 0) &&
            memchr(*buf, 0, got))
            return iflow_error_set(err, IFLOW_EPARSE, "%s: NUL byte: not a text file", path);
        if (got == 0) break;
    }
    if (ferror(f))
        return iflow_error_set(err, IFLOW_EIO, "%s: read failed: %s", path, strerror(errno));
    return 0;
}

/* The matrix in f (size bytes, or a regular file's size): .npy by its magic, else CSV. */
static int matrix_from(FILE *f, size_t size, const char *path, size_t id_col, iflow_matrix **out,
                       uint64_t **ids, iflow_error *err) {
    char magic[6];
    if (fread(magic, 1, 6, f) == 6 && memcmp(magic, data_npy_magic, 6) == 0) {
        rewind(f);
        int rc = data_npy_load(f, size, path, out, err);
        if (rc || !ids) return rc;
        /* Groups from a float file: exact only up to 2^53 (beyond, neighbours merge). */
        iflow_matrix *m = *out;
        if (id_col >= m->cols)
            rc = iflow_error_set(err, IFLOW_EINVAL,
                                 "%s: no column %zu "
                                 "(0-based) for the groups: the file has %zu column(s)",
                                 path, id_col, m->cols);
        *ids = rc ? NULL : iflow_alloc_array(m->rows, sizeof **ids, path, err);
        if (!rc && !*ids) rc = IFLOW_ENOMEM;
        for (size_t i = 0; !rc && i < m->rows; i++) {
            double g = m->data[i * m->cols + id_col];
            if (!(g >= 0 && g <= 0x1p53 && g == floor(g)))
                rc = iflow_error_set(err, IFLOW_EINVAL,
                                     "%s: data row %zu, column %zu (0-based): "
                                     "group %.17g is not a non-negative integer below 2^53 (a "
                                     "float file cannot hold larger ones exactly; use CSV)",
                                     path, i + 1, id_col, g);
            else
                (*ids)[i] = (uint64_t)g;
        }
        if (rc) {
            free(*ids);
            *ids = NULL;
            iflow_matrix_free(m);
            *out = NULL;
        }
        return rc;
    }
    rewind(f);
    csv_table t;
    int rc = data_read_csv(path, f, id_col, 0, 1, &t, err);
    if (rc) return rc;
    iflow_matrix *m = calloc(1, sizeof *m);
    if (!m) {
        free(t.x);
        free(t.ids);
        return iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory", path);
    }
    m->rows = t.rows;
    m->cols = t.cols;
    m->data = t.x;
    if (ids) *ids = t.ids;
    *out = m;
    return 0;
}

int iflow_matrix_load_ids(const char *path, size_t id_col, iflow_matrix **out, uint64_t **ids,
                          iflow_error *err) {
    *out = NULL;
    if (ids) *ids = NULL;
    int regular = 0, rc;
    FILE *f = iflow_open_read(path, &regular, err);
    if (!f) return err ? err->code : IFLOW_EIO;
    if (regular) {
        struct stat st;
        size_t size = fstat(fileno(f), &st) == 0 ? (size_t)st.st_size : SIZE_MAX;
        rc = matrix_from(f, size, path, ids ? id_col : SIZE_MAX, out, ids, err);
        fclose(f);
        return rc;
    }
    char *buf = NULL;
    size_t len = 0;
    rc = slurp(f, path, &buf, &len, err);
    fclose(f);
    FILE *mem = rc || len == 0 ? NULL : fmemopen(buf, len, "rb");
    if (!rc && len == 0) rc = iflow_error_set(err, IFLOW_EPARSE, "%s: no data rows", path);
    if (!rc && !mem) rc = iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory", path);
    if (!rc) rc = matrix_from(mem, len, path, ids ? id_col : SIZE_MAX, out, ids, err);
    if (mem) fclose(mem);
    free(buf);
    return rc;
}

int iflow_matrix_load(const char *path, iflow_matrix **out, iflow_error *err) {
    return iflow_matrix_load_ids(path, SIZE_MAX, out, NULL, err);
}

int iflow_matrix_save_npy(const char *path, const double *data, size_t rows, size_t cols,
                          iflow_error *err) {
    /* Version 1.0: magic, 1, 0, u16 header length, then the dict padded with spaces and a final
     * '\n' so that the data starts at a multiple of 64 bytes. */
    char dict[160];
    int len = snprintf(dict, sizeof dict,
                       "{'descr': '<f8', 'fortran_order': False, 'shape': "
                       "(%zu, %zu), }",
                       rows, cols);
    size_t total = 10 + (size_t)len + 1;
    size_t hlen = (total + 63) / 64 * 64 - 10;
    iflow_atomic a;
    int rc = iflow_atomic_open(&a, path, err);
    if (rc) return rc;
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
    fwrite(pre, 1, sizeof pre, a.f);
    fprintf(a.f, "%-*s\n", (int)hlen - 1, dict);
    unsigned char b[8];
    for (size_t k = 0; k < rows * cols; k++) {
        uint64_t u;
        memcpy(&u, &data[k], sizeof u);
        for (int i = 0; i < 8; i++) b[i] = (unsigned char)(u >> (8 * i));
        fwrite(b, 1, 8, a.f);
    }
    return iflow_atomic_commit(&a, err); /* checks ferror for every write above */
}

void iflow_matrix_free(iflow_matrix *m) {
    if (!m) return;
    free(m->data);
    free(m);
}
/* ---------------------------------------------------------------- train/test splits */

/* Builds the ascending train and test lists from is_test[0..n). */
static int split_from_marks(const unsigned char *is_test, size_t n, iflow_split **out,
                            iflow_error *err) {
    size_t n_test = 0;
    for (size_t i = 0; i < n; i++) n_test += is_test[i];
    iflow_split *s = calloc(1, sizeof *s);
    if (s) {
        s->train = malloc((n - n_test ? n - n_test : 1) * sizeof *s->train);
        s->test = malloc((n_test ? n_test : 1) * sizeof *s->test);
    }
    if (!s || !s->train || !s->test) {
        iflow_split_free(s);
        return iflow_error_set(err, IFLOW_ENOMEM, "split of %zu rows: out of memory", n);
    }
    for (size_t i = 0; i < n; i++) {
        if (is_test[i])
            s->test[s->n_test++] = i;
        else
            s->train[s->n_train++] = i;
    }
    *out = s;
    return 0;
}

/* first_line[i]: the line where index i appeared (0 = not yet), to report duplicates. */
static int read_split_lines(line_reader *lr, const char *path, size_t n, size_t *first_line,
                            size_t *count, iflow_error *err) {
    char *line;
    while ((line = data_next_line(lr)) != NULL) {
        size_t i;
        char b[64];
        if (data_parse_index(line, &i) != 0)
            return iflow_error_set(err, IFLOW_EPARSE, "%s:%zu: '%s' is not a row index", path,
                                   lr->line_no, data_shown(line, b));
        if (i >= n)
            return iflow_error_set(err, IFLOW_EINVAL,
                                   "%s:%zu: row index %zu out of range (data has %zu rows)", path,
                                   lr->line_no, i, n);
        if (first_line[i])
            return iflow_error_set(err, IFLOW_EINVAL,
                                   "%s:%zu: duplicate row index %zu (first on line %zu)", path,
                                   lr->line_no, i, first_line[i]);
        first_line[i] = lr->line_no;
        ++*count;
    }
    return data_line_reader_failed(lr, path, err);
}

int iflow_split_from_file(const char *path, size_t n, iflow_split **out, iflow_error *err) {
    *out = NULL;
    line_reader lr;
    int rc = data_open_text(path, NULL, &lr, err);
    if (rc) return rc;
    size_t *first_line = calloc(n ? n : 1, sizeof *first_line);
    unsigned char *is_test = calloc(n ? n : 1, 1);
    size_t count = 0;
    if (!first_line || !is_test) rc = iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory", path);
    if (rc == 0) rc = read_split_lines(&lr, path, n, first_line, &count, err);
    if (rc == 0 && count == 0) rc = iflow_error_set(err, IFLOW_EPARSE, "%s: no row indices", path);
    for (size_t i = 0; rc == 0 && i < n; i++) is_test[i] = first_line[i] != 0;
    if (rc == 0) rc = split_from_marks(is_test, n, out, err);
    free(first_line);
    free(is_test);
    data_close_text(&lr, NULL);
    return rc;
}

int iflow_split_fraction(size_t n, double test_fraction, uint64_t seed, iflow_split **out,
                         iflow_error *err) {
    *out = NULL;
    if (!(test_fraction >= 0 && test_fraction < 1))
        return iflow_error_set(err, IFLOW_EINVAL, "test fraction %g is not in [0, 1)",
                               test_fraction);
    /* A random subset of size round(f n): the first n_test entries of a shuffled 0..n-1. */
    size_t n_test = (size_t)llround(test_fraction * (double)n);
    size_t *perm = malloc((n ? n : 1) * sizeof *perm);
    unsigned char *is_test = calloc(n ? n : 1, 1);
    int rc = 0;
    if (!perm || !is_test) {
        rc = iflow_error_set(err, IFLOW_ENOMEM, "split of %zu rows: out of memory", n);
    } else {
        for (size_t i = 0; i < n; i++) perm[i] = i;
        iflow_rng rng;
        iflow_rng_init(&rng, seed, 0);
        iflow_rng_shuffle(&rng, perm, n);
        for (size_t i = 0; i < n_test; i++) is_test[perm[i]] = 1;
        rc = split_from_marks(is_test, n, out, err);
    }
    free(perm);
    free(is_test);
    return rc;
}

void iflow_split_free(iflow_split *s) {
    if (!s) return;
    free(s->train);
    free(s->test);
    free(s);
}
