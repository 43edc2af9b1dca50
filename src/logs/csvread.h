/* Internal: reads a run directory's CSV logs (header line, comma-separated, no quoting) into
 * named columns that can be fetched as numbers (empty cell -> NaN, marked missing) or strings. */
#ifndef IFLOW_CSVREAD_H
#define IFLOW_CSVREAD_H

#include <stddef.h>

#include "infoflow/error.h"

typedef struct iflow_csv {
    char path[1100];
    const char *name; /* basename of path, used in messages ("mi.csv:17: ...") */
    size_t n_rows, n_cols;
    char **header; /* n_cols names */
    char **cells;  /* n_rows * n_cols, row-major; pointers into `text` */
    long *line;    /* n_rows: 1-based line number of each row in the file */
    double **num;  /* per column: parsed numbers (NULL until requested) */
    char *text;    /* the file's bytes, split in place */
} iflow_csv;

/* Reads path. Errors: IFLOW_EIO "path: cannot open: ...", IFLOW_EPARSE for an empty file or a
 * ragged row ("mi.csv:5: 7 cells, header has 12"). *out is freed with iflow_csv_free. */
int iflow_csv_read(const char *path, iflow_csv **out, iflow_error *err);
void iflow_csv_free(iflow_csv *csv);

/* Column index of name, or -1. */
int iflow_csv_find(const iflow_csv *csv, const char *name);

/* The column `name` as n_rows doubles (owned by csv). Empty cells are NaN (see
 * iflow_csv_missing); a cell that is not a number is an IFLOW_EPARSE error
 * "mi.csv:17: column I_XT: 'abc' is not a number"; a missing column is IFLOW_EPARSE
 * "mi.csv:1: missing column 'I_XT'". */
int iflow_csv_numbers(iflow_csv *csv, const char *name, const double **vals, iflow_error *err);

/* Like iflow_csv_numbers but a missing column gives *vals = NULL and returns 0. */
int iflow_csv_numbers_opt(iflow_csv *csv, const char *name, const double **vals, iflow_error *err);

/* The raw text of a cell ("" if empty); col from iflow_csv_find. */
const char *iflow_csv_str(const iflow_csv *csv, size_t row, int col);

/* 1 if the cell is empty ("not applicable"). */
int iflow_csv_missing(const iflow_csv *csv, size_t row, int col);

/* Index of a required column, or IFLOW_EPARSE "file:1: missing column 'name'". */
int iflow_csv_column(const iflow_csv *csv, const char *name, int *col, iflow_error *err);

#endif
