/* Data loaders: labelled CSV, IDX (MNIST-style, plain or gzip), NumPy .npy and CSV matrices, and
 * train/test splits. Every parse error names the file and the line (or row) at fault. */
#include "infoflow/data.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "infoflow/rng.h"
#include "alloc.h"
#include "io.h"

#define MAX_LABEL 65535

/* ---------------------------------------------------------------- text lines and fields */

/* Longest text line read (16 MiB, far beyond any data row): an endless line, e.g. from a device
 * or a binary file, is refused instead of growing memory without bound. */
#define MAX_LINE ((size_t)1 << 24)

typedef struct line_reader {
    FILE *f;
    char *buf;
    size_t cap;
    size_t line_no; /* 1-based number of the line in buf */
    int nul;        /* stopped at a line holding a NUL byte */
    int too_long;   /* stopped at a line longer than MAX_LINE */
    int no_memory;
} line_reader;

/* Reads one line (with its '\n') into lr->buf; -1 at end of file or on a stop (see the flags). */
static ssize_t read_text_line(line_reader *lr) {
    size_t len = 0;
    int c;
    while ((c = getc_unlocked(lr->f)) != EOF) {
        if (len + 2 > lr->cap) {
            if (lr->cap >= MAX_LINE) {
                lr->too_long = 1;
                return -1;
            }
            size_t cap = lr->cap ? 2 * lr->cap : 256;
            char *grown = realloc(lr->buf, cap);
            if (!grown) {
                lr->no_memory = 1;
                return -1;
            }
            lr->buf = grown;
            lr->cap = cap;
        }
        lr->buf[len++] = (char)c;
        if (c == '\n') break;
    }
    if (len == 0) return -1;
    lr->buf[len] = '\0';
    return (ssize_t)len;
}

/* Next line that is neither blank nor a '#' comment, with its line ending (LF or CRLF) removed
 * and, on line 1, a UTF-8 byte order mark skipped (it would otherwise sit invisibly inside the
 * first field and its messages). NULL at end of file, on a read error, a NUL byte or an
 * over-long line (tell them apart with line_reader_failed): a NUL would hide the rest of its
 * line, or the whole line, from the parser. */
static char *next_line(line_reader *lr) {
    ssize_t len;
    while ((len = read_text_line(lr)) >= 0) {
        lr->line_no++;
        if (memchr(lr->buf, '\0', (size_t)len)) {
            lr->nul = 1;
            return NULL;
        }
        if (lr->line_no == 1 && len >= 3 && !memcmp(lr->buf, "\xEF\xBB\xBF", 3)) {
            memmove(lr->buf, lr->buf + 3, (size_t)len - 2);
            len -= 3;
        }
        while (len > 0 && (lr->buf[len - 1] == '\n' || lr->buf[len - 1] == '\r'))
            lr->buf[--len] = '\0';
        const char *p = lr->buf;
        while (isspace((unsigned char)*p)) p++;
        if (*p != '\0' && *p != '#') return lr->buf;
    }
    return NULL;
}

static int line_reader_failed(const line_reader *lr, const char *path, iflow_error *err) {
    if (lr->nul)
        return iflow_error_set(err, IFLOW_EPARSE, "%s:%zu: NUL byte: not a text file", path,
                               lr->line_no);
    if (lr->too_long)
        return iflow_error_set(err, IFLOW_EPARSE, "%s:%zu: line longer than %zu bytes: not a "
                               "data file", path, lr->line_no + 1, MAX_LINE);
    if (lr->no_memory)
        return iflow_error_set(err, IFLOW_ENOMEM, "%s:%zu: out of memory", path, lr->line_no + 1);
    if (ferror(lr->f) || !feof(lr->f))
        return iflow_error_set(err, IFLOW_EIO, "%s:%zu: read failed: %s", path, lr->line_no + 1,
                               strerror(errno ? errno : EIO));
    return 0;
}

/* Opens a text file; f != NULL: reads that stream instead (owned by the caller). Data sets and
 * splits are read more than once (hashed, then loaded; again on resume), so they must be
 * regular files. */
static int open_text(const char *path, FILE *f, line_reader *lr, iflow_error *err) {
    memset(lr, 0, sizeof *lr);
    if (f) {
        lr->f = f;
        return 0;
    }
    int regular = 0;
    lr->f = iflow_open_read(path, &regular, err);
    if (!lr->f) return err ? err->code : IFLOW_EIO;
    if (!regular) {
        fclose(lr->f);
        lr->f = NULL;
        return iflow_error_set(err, IFLOW_EINVAL, "%s: not a regular file (a directory, pipe, "
                               "FIFO or device); a data file is read more than once: save it to "
                               "a file", path);
    }
    return 0;
}

static void close_text(line_reader *lr, FILE *borrowed) {
    if (lr->f && lr->f != borrowed) fclose(lr->f);
    free(lr->buf);
}

/* Splits line in place at commas; *fields grows as needed. Returns the field count or 0 when
 * out of memory. */
static size_t split_fields(char *line, char ***fields, size_t *cap) {
    size_t count = 0;
    for (char *p = line;; p++) {
        if (count == *cap) {
            size_t new_cap = *cap ? 2 * *cap : 16;
            char **grown = realloc(*fields, new_cap * sizeof *grown);
            if (!grown) return 0;
            *fields = grown;
            *cap = new_cap;
        }
        (*fields)[count++] = p;
        p = strchr(p, ',');
        if (!p) return count;
        *p = '\0';
    }
}

/* A field as shown in a message: at most 40 bytes, control characters and non-ASCII bytes as
 * \xNN, so nothing invisible (a stray BOM, a zero-width space) hides inside the quotes. Returns
 * buf (64 bytes). */
static const char *shown(const char *field, char *buf) {
    size_t o = 0;
    for (const unsigned char *c = (const unsigned char *)field; *c && o < 56; c++) {
        if (c - (const unsigned char *)field >= 40) {
            o += (size_t)snprintf(buf + o, 64 - o, "...");
            break;
        }
        if (*c < 0x20 || *c >= 0x7f)
            o += (size_t)snprintf(buf + o, 64 - o, "\\x%02x", *c);
        else
            buf[o++] = (char)*c;
    }
    buf[o < 64 ? o : 63] = '\0';
    return buf;
}

/* Strict number: the whole field is one strtod number, surrounding spaces allowed. NaN and Inf
 * parse here; callers reject them with the row number. */
static int parse_number(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s) return -1;
    while (isspace((unsigned char)*end)) end++;
    if (*end != '\0') return -1;
    *out = v;
    return 0;
}

/* Strict non-negative integer: digits only, surrounding spaces allowed. */
static int parse_index(const char *s, size_t *out) {
    while (isspace((unsigned char)*s)) s++;
    if (!isdigit((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    while (isspace((unsigned char)*end)) end++;
    if (*end != '\0' || errno == ERANGE || v > SIZE_MAX) return -1;
    *out = (size_t)v;
    return 0;
}

/* ---------------------------------------------------------------- numeric CSV tables */

typedef struct csv_table {
    size_t rows, cols; /* cols counts every column, the label included */
    size_t n_feat;     /* cols - 1 if labelled, else cols */
    size_t cap;        /* rows allocated */
    double *x;         /* rows x n_feat */
    int *y;            /* rows labels, labelled tables only */
    size_t id_col;     /* SIZE_MAX, or a column also read as exact integers into ids */
    uint64_t *ids;
} csv_table;

/* An id (e.g. a group): digits read exactly (2^53 + 1 stays itself), or a number that is an
 * integer a double holds exactly (<= 2^53), so "3.0" from np.savetxt works. */
static int parse_id(const char *s, uint64_t *out) {
    size_t v;
    double d;
    if (parse_index(s, &v) == 0) {
        *out = v;
        return 0;
    }
    if (parse_number(s, &d) == 0 && d >= 0 && d <= 0x1p53 && d == floor(d)) {
        *out = (uint64_t)d;
        return 0;
    }
    return -1;
}

static int grow_table(csv_table *t, int labelled) {
    size_t new_cap = t->cap ? 2 * t->cap : 256;
    if (new_cap > SIZE_MAX / sizeof(double) / (t->n_feat ? t->n_feat : 1)) return -1;
    double *x = realloc(t->x, new_cap * t->n_feat * sizeof *x);
    if (!x) return -1;
    t->x = x;
    if (labelled) {
        int *y = realloc(t->y, new_cap * sizeof *y);
        if (!y) return -1;
        t->y = y;
    }
    if (t->id_col != SIZE_MAX) {
        uint64_t *ids = realloc(t->ids, new_cap * sizeof *ids);
        if (!ids) return -1;
        t->ids = ids;
    }
    t->cap = new_cap;
    return 0;
}

static int all_non_numeric(char **fields, size_t n) {
    double v;
    for (size_t j = 0; j < n; j++)
        if (parse_number(fields[j], &v) == 0) return 0;
    return 1;
}

/* Fixes the column count from the first data line; checks labelled tables have a label. */
static int set_columns(csv_table *t, int labelled, size_t count, const char *path, size_t line,
                       iflow_error *err) {
    if (labelled && count < 2)
        return iflow_error_set(err, IFLOW_EPARSE,
                               "%s:%zu: need at least 2 columns (features, then the label), "
                               "found %zu",
                               path, line, count);
    t->cols = count;
    t->n_feat = labelled ? count - 1 : count;
    return 0;
}

/* Parses one data line's fields into row t->rows. */
static int parse_row(csv_table *t, int labelled, char **fields, const char *path, size_t line,
                     iflow_error *err) {
    double *row = t->x + t->rows * t->n_feat;
    for (size_t j = 0; j < t->n_feat; j++) {
        char b[64];
        if (parse_number(fields[j], &row[j]) != 0)
            return iflow_error_set(err, IFLOW_EPARSE, "%s:%zu: column %zu: '%s' is not a number",
                                   path, line, j + 1, shown(fields[j], b));
        if (!isfinite(row[j]))
            return iflow_error_set(err, IFLOW_EPARSE,
                                   "%s:%zu: NaN or Inf in column %zu (data row %zu)", path, line,
                                   j + 1, t->rows + 1);
    }
    if (labelled) {
        /* Any number that is an exact integer is accepted, so "1.0" written by np.savetxt works. */
        const char *s = fields[t->n_feat];
        double v;
        char b[64];
        if (parse_number(s, &v) != 0 || !(v >= 0 && v <= MAX_LABEL) || v != floor(v))
            return iflow_error_set(err, IFLOW_EPARSE,
                                   "%s:%zu: label '%s' is not an integer in [0, %d]", path, line,
                                   shown(s, b), MAX_LABEL);
        t->y[t->rows] = (int)v;
    }
    if (t->id_col < t->n_feat && parse_id(fields[t->id_col], &t->ids[t->rows]) != 0)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "%s:%zu: data row %zu, column %zu (0-based): group '%s' is not a "
                               "non-negative integer", path, line, t->rows + 1, t->id_col,
                               shown(fields[t->id_col], (char[64]){0}));
    t->rows++;
    return 0;
}

/* Reads every data line of a CSV. labelled: the last column is an integer label. allow_header:
 * a first data line whose fields are all non-numeric is a header and skipped. */
static int read_csv(const char *path, FILE *in, size_t id_col, int labelled, int allow_header,
                    csv_table *t, iflow_error *err) {
    line_reader lr;
    memset(t, 0, sizeof *t);
    t->id_col = id_col;
    int rc = open_text(path, in, &lr, err);
    if (rc) return rc;
    char **fields = NULL;
    size_t fields_cap = 0;
    int first = 1;
    char *line;
    while (rc == 0 && (line = next_line(&lr)) != NULL) {
        size_t count = split_fields(line, &fields, &fields_cap);
        if (count == 0) {
            rc = iflow_error_set(err, IFLOW_ENOMEM, "%s:%zu: out of memory", path, lr.line_no);
        } else if (first && allow_header && all_non_numeric(fields, count)) {
            first = 0;
        } else if (t->cols == 0) {
            first = 0;
            rc = set_columns(t, labelled, count, path, lr.line_no, err);
        } else if (count != t->cols) {
            rc = iflow_error_set(err, IFLOW_EPARSE, "%s:%zu: expected %zu columns, found %zu",
                                 path, lr.line_no, t->cols, count);
        }
        /* A skipped header leaves t->cols == 0, so it is not parsed as data. */
        if (rc == 0 && t->cols != 0) {
            if (t->rows == t->cap && grow_table(t, labelled) != 0)
                rc = iflow_error_set(err, IFLOW_ENOMEM, "%s:%zu: out of memory", path, lr.line_no);
            else
                rc = parse_row(t, labelled, fields, path, lr.line_no, err);
        }
    }
    if (rc == 0) rc = line_reader_failed(&lr, path, err);
    if (rc == 0 && t->rows == 0) rc = iflow_error_set(err, IFLOW_EPARSE, "%s: no data rows", path);
    if (rc == 0 && t->rows < t->cap) { /* give back the unused tail of the doubling buffer */
        double *x = realloc(t->x, t->rows * t->n_feat * sizeof *x);
        if (x) t->x = x;
    }
    if (rc == 0 && id_col != SIZE_MAX && id_col >= t->n_feat)
        rc = iflow_error_set(err, IFLOW_EINVAL, "%s: no column %zu (0-based) for the groups: the "
                             "file has %zu column(s)", path, id_col, t->n_feat);
    free(fields);
    close_text(&lr, in);
    if (rc) {
        free(t->x);
        free(t->y);
        free(t->ids);
        memset(t, 0, sizeof *t);
    }
    return rc;
}

/* ---------------------------------------------------------------- labelled data sets */

static int dataset_alloc(size_t n, size_t d, iflow_dataset **out, iflow_error *err) {
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

static size_t count_classes(const int *y, size_t n) {
    int max = -1;
    for (size_t i = 0; i < n; i++)
        if (y[i] > max) max = y[i];
    return (size_t)(max + 1);
}

int iflow_dataset_load_csv(const char *path, iflow_dataset **out, iflow_error *err) {
    *out = NULL;
    csv_table t;
    int rc = read_csv(path, NULL, SIZE_MAX, 1, 0, &t, err);
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
    ds->n_classes = count_classes(ds->y, ds->n);
    *out = ds;
    return 0;
}

int iflow_dataset_subset(const iflow_dataset *src, const size_t *idx, size_t n,
                         iflow_dataset **out, iflow_error *err) {
    *out = NULL;
    for (size_t i = 0; i < n; i++)
        if (idx[i] >= src->n)
            return iflow_error_set(err, IFLOW_EINVAL, "subset: row index %zu out of range (n = %zu)",
                                   idx[i], src->n);
    iflow_dataset *ds;
    int rc = dataset_alloc(n, src->d, &ds, err);
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

/* ---------------------------------------------------------------- IDX files */

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
        return iflow_error_set(err, IFLOW_EINVAL, "%s: not a regular file (a pipe, FIFO or "
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
        rc = iflow_error_set(err, IFLOW_EINVAL, "%s: %d dimensions, expected %d to %d", path,
                             h[3], min_dims, max_dims);
    if (rc == 0) {
        *ndims = h[3];
        got = gz_read_full(*gz, h + 4, 4 * (size_t)*ndims);
        if (got != 4 * *ndims)
            rc = iflow_error_set(err, IFLOW_ECORRUPT, "%s: truncated: incomplete IDX header", path);
    }
    for (int k = 0; rc == 0 && k < *ndims; k++) {
        const unsigned char *b = h + 4 + 4 * k;
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
                               "%s: truncated: expected %zu bytes of %s, got %lld", path, len,
                               what, got);
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
                               "%s: truncated: expected %zu bytes of %s, got %s%zu", path,
                               need, what, gzdirect(gz) ? "" : "at most ", have);
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
    size_t idims[3], ldims[1];
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
    if (rc == 0) rc = dataset_alloc(n, d, &ds, err);
    if (rc == 0) rc = idx_read_rows(gi, images_path, gl, labels_path, ds, err);
    if (gi) gzclose(gi);
    if (gl) gzclose(gl);
    if (rc) {
        iflow_dataset_free(ds);
        return rc;
    }
    ds->n_classes = count_classes(ds->y, ds->n);
    *out = ds;
    return 0;
}

/* ---------------------------------------------------------------- NumPy .npy */

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

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
    if (strcmp(descr, "<f8") == 0) h->elsize = 8;
    else if (strcmp(descr, "<f4") == 0) h->elsize = 4;
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
        if (*v == ',') v++;
        else if (*v != ')') goto bad;
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
        return iflow_error_set(err, IFLOW_ECORRUPT, "%s: unexpected key '%s' in the .npy header "
                               "(only 'descr', 'fortran_order', 'shape')", path, key);
    }
    if (!rc && !*end)
        rc = iflow_error_set(err, IFLOW_ECORRUPT, "%s: .npy header: malformed value of '%s'",
                             path, key);
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
        while (k < 3 && strcmp(key, names[k])) k++;
        if (k < 3 && seen[k]++)
            return iflow_error_set(err, IFLOW_ECORRUPT, "%s: .npy header: duplicate key '%s'",
                                   path, key);
        rc = npy_dict_value(key, npy_space(v), &p, path, h, err);
        if (rc) return rc;
        p = npy_space(p);
        if (*p == ',') p++;
        else if (*p != '}') goto bad;
    }
    if (*npy_space(p + 1) != '\0') goto bad;
    for (int k = 0; k < 3; k++)
        if (!seen[k])
            return iflow_error_set(err, IFLOW_ECORRUPT, "%s: .npy header lacks '%s'", path,
                                   names[k]);
    return 0;
bad:
    return iflow_error_set(err, IFLOW_ECORRUPT, "%s: .npy header is not a Python dict of "
                           "'descr', 'fortran_order' and 'shape' (near byte %ld of the header)",
                           path, (long)(p - dict));
}

/* Reads the magic, version, header length and the header dict. */
static int npy_read_header(FILE *f, const char *path, npy_header *h, iflow_error *err) {
    unsigned char pre[12];
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, npy_magic, 6) != 0)
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
        return iflow_error_set(err, IFLOW_EINVAL, "%s: unsupported .npy version %d.%d", path,
                               major, pre[7]);
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
        uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                     (uint32_t)b[3] << 24;
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
static int npy_load(FILE *f, size_t size, const char *path, iflow_matrix **out,
                    iflow_error *err) {
    npy_header h = {0};
    int rc = npy_read_header(f, path, &h, err);
    if (rc) return rc;
    size_t count = h.rows * h.cols;
    if (h.cols != 0 && (h.rows > SIZE_MAX / h.cols || count > SIZE_MAX / sizeof(double)))
        return iflow_error_set(err, IFLOW_EINVAL, "%s: matrix %zu x %zu is too large", path,
                               h.rows, h.cols);
    size_t bytes = count * (size_t)h.elsize;
    /* Checked before allocating, so a corrupt shape cannot ask for gigabytes. */
    long pos = ftell(f);
    if (pos >= 0 && (size < (size_t)pos || size - (size_t)pos < bytes))
        return iflow_error_set(err, IFLOW_ECORRUPT,
                               "%s: truncated: expected %zu bytes of data, got %lld",
                               path, bytes, (long long)size - pos);
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
                return iflow_error_set(err, IFLOW_EINVAL, "%s: more than %zu bytes from a pipe or "
                                       "device: save the data to a file", path, MAX_STREAM);
            char *grown = realloc(*buf, 2 * cap);
            if (!grown) return iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory", path);
            *buf = grown;
            cap *= 2;
        }
        size_t got = fread(*buf + *len, 1, cap - *len, f);
        int first = *len == 0;
        *len += got;
        if (first && got > 0 && (got < 6 || memcmp(*buf, npy_magic, 6)) && memchr(*buf, 0, got))
            return iflow_error_set(err, IFLOW_EPARSE, "%s: NUL byte: not a text file", path);
        if (got == 0) break;
    }
    if (ferror(f)) return iflow_error_set(err, IFLOW_EIO, "%s: read failed: %s", path, strerror(errno));
    return 0;
}

/* The matrix in f (size bytes, or a regular file's size): .npy by its magic, else CSV. */
static int matrix_from(FILE *f, size_t size, const char *path, size_t id_col,
                       iflow_matrix **out, uint64_t **ids, iflow_error *err) {
    char magic[6];
    if (fread(magic, 1, 6, f) == 6 && memcmp(magic, npy_magic, 6) == 0) {
        rewind(f);
        int rc = npy_load(f, size, path, out, err);
        if (rc || !ids) return rc;
        /* Groups from a float file: exact only up to 2^53 (beyond, neighbours merge). */
        iflow_matrix *m = *out;
        if (id_col >= m->cols) rc = iflow_error_set(err, IFLOW_EINVAL, "%s: no column %zu "
                                      "(0-based) for the groups: the file has %zu column(s)",
                                      path, id_col, m->cols);
        *ids = rc ? NULL : iflow_alloc_array(m->rows, sizeof **ids, path, err);
        if (!rc && !*ids) rc = IFLOW_ENOMEM;
        for (size_t i = 0; !rc && i < m->rows; i++) {
            double g = m->data[i * m->cols + id_col];
            if (!(g >= 0 && g <= 0x1p53 && g == floor(g)))
                rc = iflow_error_set(err, IFLOW_EINVAL, "%s: data row %zu, column %zu (0-based): "
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
    int rc = read_csv(path, f, id_col, 0, 1, &t, err);
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
    int len = snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': False, 'shape': "
                                          "(%zu, %zu), }", rows, cols);
    size_t total = 10 + (size_t)len + 1;
    size_t hlen = (total + 63) / 64 * 64 - 10;
    iflow_atomic a;
    int rc = iflow_atomic_open(&a, path, err);
    if (rc) return rc;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                             (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
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
        if (is_test[i]) s->test[s->n_test++] = i;
        else s->train[s->n_train++] = i;
    }
    *out = s;
    return 0;
}

/* first_line[i]: the line where index i appeared (0 = not yet), to report duplicates. */
static int read_split_lines(line_reader *lr, const char *path, size_t n, size_t *first_line,
                            size_t *count, iflow_error *err) {
    char *line;
    while ((line = next_line(lr)) != NULL) {
        size_t i;
        char b[64];
        if (parse_index(line, &i) != 0)
            return iflow_error_set(err, IFLOW_EPARSE, "%s:%zu: '%s' is not a row index", path,
                                   lr->line_no, shown(line, b));
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
    return line_reader_failed(lr, path, err);
}

int iflow_split_from_file(const char *path, size_t n, iflow_split **out, iflow_error *err) {
    *out = NULL;
    line_reader lr;
    int rc = open_text(path, NULL, &lr, err);
    if (rc) return rc;
    size_t *first_line = calloc(n ? n : 1, sizeof *first_line);
    unsigned char *is_test = calloc(n ? n : 1, 1);
    size_t count = 0;
    if (!first_line || !is_test)
        rc = iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory", path);
    if (rc == 0) rc = read_split_lines(&lr, path, n, first_line, &count, err);
    if (rc == 0 && count == 0) rc = iflow_error_set(err, IFLOW_EPARSE, "%s: no row indices", path);
    for (size_t i = 0; rc == 0 && i < n; i++) is_test[i] = first_line[i] != 0;
    if (rc == 0) rc = split_from_marks(is_test, n, out, err);
    free(first_line);
    free(is_test);
    close_text(&lr, NULL);
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
