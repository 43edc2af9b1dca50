/* Internal: what the data loaders share. Who owns what:
 *   text.c      the text line reader (lines, comments, BOM, NUL and over-long lines) and the
 *               strict field parsers, for CSV tables and split files;
 *   csv.c       numeric CSV tables (labelled data sets, matrices with an optional id column);
 *   idx.c       IDX images and labels (MNIST-style, plain or gzip): iflow_dataset_load_idx;
 *   npy_read.c  the NumPy .npy reader (npy.c is the writer);
 *   data.c      data sets, matrices (.npy or CSV, from files or streams) and train/test splits. */
#ifndef IFLOW_DATA_INTERNAL_H
#define IFLOW_DATA_INTERNAL_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "infoflow/data.h"
#include "infoflow/error.h"

/* Largest class label a data set may hold. */
#define MAX_LABEL 65535

/* text.c: the line reader */
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

/* text.c */
char *data_next_line(line_reader *lr);
int data_line_reader_failed(const line_reader *lr, const char *path, iflow_error *err);
int data_open_text(const char *path, FILE *f, line_reader *lr, iflow_error *err);
void data_close_text(line_reader *lr, FILE *borrowed);
size_t data_split_fields(char *line, char ***fields, size_t *cap);
const char *data_shown(const char *field, char *buf);
int data_parse_number(const char *s, double *out);
int data_parse_index(const char *s, size_t *out);

/* csv.c */
typedef struct csv_table {
    size_t rows, cols; /* cols counts every column, the label included */
    size_t n_feat;     /* cols - 1 if labelled, else cols */
    size_t cap;        /* rows allocated */
    double *x;         /* rows x n_feat */
    int *y;            /* rows labels, labelled tables only */
    size_t id_col;     /* SIZE_MAX, or a column also read as exact integers into ids */
    uint64_t *ids;
} csv_table;
int data_read_csv(const char *path, FILE *in, size_t id_col, int labelled, int allow_header,
                  csv_table *t, iflow_error *err);

/* npy_read.c */
extern const char data_npy_magic[6];
int data_npy_load(FILE *f, size_t size, const char *path, iflow_matrix **out, iflow_error *err);

/* data.c */
int data_dataset_alloc(size_t n, size_t d, iflow_dataset **out, iflow_error *err);
size_t data_count_classes(const int *y, size_t n);

#endif
