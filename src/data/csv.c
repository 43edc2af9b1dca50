/* Numeric CSV tables: labelled data sets (last column an integer label) and matrices, with an
 * optional column of exact integer ids. Every parse error names the file and the line. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "io.h"
#include "data_internal.h"

/* An id (e.g. a group): digits read exactly (2^53 + 1 stays itself), or a number that is an
 * integer a double holds exactly (<= 2^53), so "3.0" from np.savetxt works. */
static int parse_id(const char *s, uint64_t *out) {
    size_t v;
    double d;
    if (data_parse_index(s, &v) == 0) {
        *out = v;
        return 0;
    }
    if (data_parse_number(s, &d) == 0 && d >= 0 && d <= 0x1p53 && d == floor(d)) {
        *out = (uint64_t)d;
        return 0;
    }
    return -1;
}

static int grow_table(csv_table *t, int labelled) {
    size_t new_cap = t->cap ? 2 * t->cap : 256;
    /* n_feat >= 1 once set_columns ran; 0 would make realloc free t->x */
    if (t->n_feat == 0 || new_cap > SIZE_MAX / sizeof(double) / t->n_feat) return -1;
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
        if (data_parse_number(fields[j], &v) == 0) return 0;
    return 1;
}

/* A line written with another separator (';' as in locales with a decimal comma, or tabs): a
 * field holding ';' or white space between two values. Such a file would otherwise lose its
 * first line as a "header" and then fail on a "number" such as '4;5;6'. */
static int foreign_separator(char **fields, size_t n) {
    for (size_t j = 0; j < n; j++) {
        const char *f = fields[j];
        while (isspace((unsigned char)*f)) f++;
        size_t len = strlen(f);
        while (len > 0 && isspace((unsigned char)f[len - 1])) len--;
        for (size_t i = 0; i < len; i++)
            if (f[i] == ';')
                return ';';
            else if (f[i] == '\t')
                return '\t';
    }
    return 0;
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
        if (data_parse_number(fields[j], &row[j]) != 0)
            return iflow_error_set(err, IFLOW_EPARSE, "%s:%zu: column %zu: '%s' is not a number",
                                   path, line, j + 1, data_shown(fields[j], b));
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
        if (data_parse_number(s, &v) != 0 || !(v >= 0 && v <= MAX_LABEL) || v != floor(v))
            return iflow_error_set(err, IFLOW_EPARSE,
                                   "%s:%zu: label '%s' is not an integer in [0, %d]", path, line,
                                   data_shown(s, b), MAX_LABEL);
        t->y[t->rows] = (int)v;
    }
    if (t->id_col < t->n_feat && parse_id(fields[t->id_col], &t->ids[t->rows]) != 0)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "%s:%zu: data row %zu, column %zu (0-based): group '%s' is not a "
                               "non-negative integer",
                               path, line, t->rows + 1, t->id_col,
                               data_shown(fields[t->id_col], (char[64]){0}));
    t->rows++;
    return 0;
}

/* Reads every data line of a CSV. labelled: the last column is an integer label. allow_header:
 * a first data line whose fields are all non-numeric is a header and skipped. */
int data_read_csv(const char *path, FILE *in, size_t id_col, int labelled, int allow_header,
                  csv_table *t, iflow_error *err) {
    line_reader lr;
    memset(t, 0, sizeof *t);
    t->id_col = id_col;
    int rc = data_open_text(path, in, &lr, err);
    if (rc) return rc;
    char **fields = NULL;
    size_t fields_cap = 0;
    int first = 1;
    char *line;
    while (rc == 0 && (line = data_next_line(&lr)) != NULL) {
        size_t count = data_split_fields(line, &fields, &fields_cap);
        int sep = count ? foreign_separator(fields, count) : 0;
        if (count == 0) {
            rc = iflow_error_set(err, IFLOW_ENOMEM, "%s:%zu: out of memory", path, lr.line_no);
        } else if (sep) {
            rc = iflow_error_set(err, IFLOW_EPARSE,
                                 "%s:%zu: values separated by %s: infoflow reads comma-separated "
                                 "values only (e.g. tr '%s' ',' < FILE > FILE.csv; "
                                 "docs/FORMATS.md)",
                                 path, lr.line_no, sep == ';' ? "';'" : "tabs",
                                 sep == ';' ? ";" : "\\t");
        } else if (first && allow_header && all_non_numeric(fields, count)) {
            first = 0;
        } else if (t->cols == 0) {
            first = 0;
            rc = set_columns(t, labelled, count, path, lr.line_no, err);
        } else if (count != t->cols) {
            rc = iflow_error_set(err, IFLOW_EPARSE, "%s:%zu: expected %zu columns, found %zu", path,
                                 lr.line_no, t->cols, count);
        }
        /* A skipped header leaves t->cols == 0, so it is not parsed as data. */
        if (rc == 0 && t->cols != 0) {
            if (t->rows == t->cap && grow_table(t, labelled) != 0)
                rc = iflow_error_set(err, IFLOW_ENOMEM, "%s:%zu: out of memory", path, lr.line_no);
            else
                rc = parse_row(t, labelled, fields, path, lr.line_no, err);
        }
    }
    if (rc == 0) rc = data_line_reader_failed(&lr, path, err);
    if (rc == 0 && t->rows == 0) rc = iflow_error_set(err, IFLOW_EPARSE, "%s: no data rows", path);
    /* Give back the unused tail of the doubling buffer (never to 0 bytes: realloc would free). */
    if (rc == 0 && t->rows < t->cap && t->rows > 0 && t->n_feat > 0) {
        double *x = realloc(t->x, t->rows * t->n_feat * sizeof *x);
        if (x) t->x = x;
    }
    if (rc == 0 && id_col != SIZE_MAX && id_col >= t->n_feat)
        rc = iflow_error_set(err, IFLOW_EINVAL,
                             "%s: no column %zu (0-based) for the groups: the "
                             "file has %zu column(s)",
                             path, id_col, t->n_feat);
    free(fields);
    data_close_text(&lr, in);
    if (rc) {
        free(t->x);
        free(t->y);
        free(t->ids);
        memset(t, 0, sizeof *t);
    }
    return rc;
}

int iflow_matrix_row_line(const char *path, size_t row, size_t *line, iflow_error *err) {
    *line = 0;
    line_reader lr;
    int rc = data_open_text(path, NULL, &lr, err);
    if (rc) return rc;
    char magic[6];
    int npy = fread(magic, 1, 6, lr.f) == 6 && memcmp(magic, data_npy_magic, 6) == 0;
    rewind(lr.f);
    char **fields = NULL, *text;
    size_t fields_cap = 0, rows = 0;
    int first = 1;
    /* the rules of data_read_csv (allow_header): blank and '#' lines, then a header line */
    while (!npy && (text = data_next_line(&lr)) != NULL) {
        size_t count = data_split_fields(text, &fields, &fields_cap);
        if (count == 0) break;
        int header = first && all_non_numeric(fields, count);
        first = 0;
        if (!header && rows++ == row) {
            *line = lr.line_no;
            break;
        }
    }
    free(fields);
    data_close_text(&lr, NULL);
    return 0;
}
