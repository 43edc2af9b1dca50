/* Reads the CSV logs of a run directory into named columns; every error names the file and line
 * so a damaged log points straight at the bad cell. */
#include "csvread.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

static int slurp(const char *path, char **text, size_t *len, iflow_error *err) {
    int regular = 0;
    FILE *f = iflow_open_read(path, &regular, err); /* never blocks on a FIFO */
    if (!f) return err ? err->code : IFLOW_EIO;
    if (!regular) {
        fclose(f);
        return iflow_error_set(err, IFLOW_EIO, "%s: not a regular file", path);
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1) break;
        char *grown = realloc(buf, cap * 2);
        if (!grown) free(buf);
        buf = grown;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) return iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory", path);
    if (bad) {
        free(buf);
        return iflow_error_set(err, IFLOW_EIO, "%s: read error", path);
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}

/* Splits one line (already NUL-terminated, '\r' stripped) at commas into cells[0..max).
 * Returns the number of cells found (which may exceed max: the caller reports it). */
static size_t split_line(char *line, char **cells, size_t max) {
    size_t n = 0;
    for (char *p = line;; p++) {
        char *start = p;
        while (*p && *p != ',') p++;
        if (n < max) cells[n] = start;
        n++;
        if (!*p) break;
        *p = '\0';
    }
    return n;
}

static size_t count_cells(const char *line) {
    size_t n = 1;
    for (; *line; line++) n += *line == ',';
    return n;
}

/* Cuts text into lines in place; returns the next line and advances *p, or NULL at the end. */
static char *next_line(char **p, long *lineno) {
    if (!**p) return NULL;
    char *line = *p, *e = strchr(line, '\n');
    if (e) {
        *e = '\0';
        *p = e + 1;
    } else {
        *p = line + strlen(line);
    }
    size_t len = strlen(line);
    if (len && line[len - 1] == '\r') line[len - 1] = '\0';
    (*lineno)++;
    return line;
}

static int parse_rows(iflow_csv *c, char *p, long lineno, iflow_error *err) {
    size_t cap = 64;
    c->cells = malloc(cap * c->n_cols * sizeof *c->cells);
    c->line = malloc(cap * sizeof *c->line);
    if (!c->cells || !c->line)
        return iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory", c->path);
    char *line;
    while ((line = next_line(&p, &lineno))) {
        if (!*line) continue; /* blank lines (e.g. a trailing one) carry no row */
        if (c->n_rows == cap) {
            cap *= 2;
            char **cells = realloc(c->cells, cap * c->n_cols * sizeof *cells);
            if (cells) c->cells = cells;
            long *lines = realloc(c->line, cap * sizeof *lines);
            if (lines) c->line = lines;
            if (!cells || !lines)
                return iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory", c->path);
        }
        size_t n = count_cells(line);
        if (n != c->n_cols)
            return iflow_error_set(err, IFLOW_EPARSE, "%s:%ld: %zu cells, header has %zu", c->name,
                                   lineno, n, c->n_cols);
        split_line(line, c->cells + c->n_rows * c->n_cols, c->n_cols);
        c->line[c->n_rows++] = lineno;
    }
    return 0;
}

int iflow_csv_read(const char *path, iflow_csv **out, iflow_error *err) {
    *out = NULL;
    iflow_csv *c = calloc(1, sizeof *c);
    if (!c) return iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory", path);
    snprintf(c->path, sizeof c->path, "%s", path);
    const char *slash = strrchr(c->path, '/');
    c->name = slash ? slash + 1 : c->path;
    size_t len;
    int rc = slurp(path, &c->text, &len, err);
    if (rc) {
        free(c);
        return rc;
    }
    char *p = c->text;
    long lineno = 0;
    char *head = next_line(&p, &lineno);
    if (!head || !*head) {
        rc = iflow_error_set(err, IFLOW_EPARSE, "%s:1: empty file (no header)", c->name);
    } else {
        c->n_cols = count_cells(head);
        c->header = malloc(c->n_cols * sizeof *c->header);
        c->num = calloc(c->n_cols, sizeof *c->num);
        if (!c->header || !c->num)
            rc = iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory", path);
        else {
            split_line(head, c->header, c->n_cols);
            rc = parse_rows(c, p, lineno, err);
        }
    }
    if (rc) {
        iflow_csv_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void iflow_csv_free(iflow_csv *csv) {
    if (!csv) return;
    if (csv->num)
        for (size_t j = 0; j < csv->n_cols; j++) free(csv->num[j]);
    free(csv->num);
    free(csv->header);
    free(csv->cells);
    free(csv->line);
    free(csv->text);
    free(csv);
}

int iflow_csv_find(const iflow_csv *csv, const char *name) {
    for (size_t j = 0; j < csv->n_cols; j++)
        if (!strcmp(csv->header[j], name)) return (int)j;
    return -1;
}

int iflow_csv_column(const iflow_csv *csv, const char *name, int *col, iflow_error *err) {
    *col = iflow_csv_find(csv, name);
    if (*col < 0)
        return iflow_error_set(err, IFLOW_EPARSE, "%s:1: missing column '%s'", csv->name, name);
    return 0;
}

const char *iflow_csv_str(const iflow_csv *csv, size_t row, int col) {
    return csv->cells[row * csv->n_cols + (size_t)col];
}

int iflow_csv_missing(const iflow_csv *csv, size_t row, int col) {
    const char *s = iflow_csv_str(csv, row, col);
    while (*s == ' ') s++;
    return *s == '\0';
}

static int parse_column(iflow_csv *c, int col, iflow_error *err) {
    double *v = malloc((c->n_rows ? c->n_rows : 1) * sizeof *v);
    if (!v) return iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory", c->path);
    for (size_t i = 0; i < c->n_rows; i++) {
        const char *s = iflow_csv_str(c, i, col);
        if (iflow_csv_missing(c, i, col)) {
            v[i] = NAN;
            continue;
        }
        char *end;
        errno = 0;
        v[i] = strtod(s, &end);
        while (*end == ' ') end++;
        if (end == s || *end != '\0') {
            free(v);
            return iflow_error_set(err, IFLOW_EPARSE, "%s:%ld: column %s: '%s' is not a number",
                                   c->name, c->line[i], c->header[col], s);
        }
    }
    c->num[col] = v;
    return 0;
}

int iflow_csv_numbers_opt(iflow_csv *csv, const char *name, const double **vals, iflow_error *err) {
    *vals = NULL;
    int col = iflow_csv_find(csv, name);
    if (col < 0) return 0;
    if (!csv->num[col]) {
        int rc = parse_column(csv, col, err);
        if (rc) return rc;
    }
    *vals = csv->num[col];
    return 0;
}

int iflow_csv_numbers(iflow_csv *csv, const char *name, const double **vals, iflow_error *err) {
    int col;
    int rc = iflow_csv_column(csv, name, &col, err);
    if (rc) {
        *vals = NULL;
        return rc;
    }
    return iflow_csv_numbers_opt(csv, name, vals, err);
}
