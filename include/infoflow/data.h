/* Data sets and sample matrices: CSV, NumPy .npy, IDX (optionally gzip-compressed), splits.
 * All matrices are row-major doubles. */
#ifndef IFLOW_DATA_H
#define IFLOW_DATA_H

#include "infoflow/api.h"

#include <stddef.h>
#include <stdint.h>

#include "infoflow/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A labelled data set: n rows of d features and an integer label each. */
typedef struct iflow_dataset {
    size_t n;         /* rows */
    size_t d;         /* features per row */
    size_t n_classes; /* 1 + the largest label */
    double *x;        /* n x d, row-major */
    int *y;           /* n labels in [0, n_classes) */
} iflow_dataset;

/* Reads a CSV of labelled rows: d feature columns, then the label (an integer in [0, 65535]).
 * Lines starting with '#' and blank lines are skipped. Errors (message "path:line: ...") for a
 * missing file, an empty file (no data rows), a ragged row, a non-number, NaN or Inf, a label
 * that is not an integer in range, fewer than 2 columns. */
IFLOW_API int iflow_dataset_load_csv(const char *path, iflow_dataset **out, iflow_error *err);

/* Reads IDX images (type 0x08 unsigned byte, 3 dims: n x rows x cols, or 2 dims) and IDX labels
 * (0x08, 1 dim), each gzip-compressed or not (detected from the content, via zlib's gzread).
 * Pixels are scaled to [0, 1] (divided by 255); d = rows * cols. max_rows > 0 keeps only the first
 * max_rows rows. Errors: bad magic, unsupported type, truncated file, label count different from
 * image count. */
IFLOW_API int iflow_dataset_load_idx(const char *images_path, const char *labels_path,
                                     size_t max_rows, iflow_dataset **out, iflow_error *err);

/* A new data set holding rows idx[0..n) of src (copies). */
IFLOW_API int iflow_dataset_subset(const iflow_dataset *src, const size_t *idx, size_t n,
                                   iflow_dataset **out, iflow_error *err);

IFLOW_API void iflow_dataset_free(iflow_dataset *ds);

/* An unlabelled sample matrix, e.g. activations handed to `infoflow entropy`. */
typedef struct iflow_matrix {
    size_t rows, cols;
    double *data; /* rows x cols, row-major */
} iflow_matrix;

/* Reads a matrix: NumPy .npy (version 1.0/2.0/3.0, '<f8' or '<f4', 2-D or 1-D, C order; Fortran
 * order is transposed on load) if the file starts with the .npy magic, else CSV (every column
 * numeric, '#' comment lines). Errors name the file and line/field: ragged rows, non-numbers,
 * NaN/Inf (with the row number), an empty file, a truncated .npy, an unsupported dtype. */
IFLOW_API int iflow_matrix_load(const char *path, iflow_matrix **out, iflow_error *err);

/* The 1-based line of data row `row` (0-based) of the CSV file read by iflow_matrix_load, for
 * messages about a value found bad after loading; *line = 0 for a .npy file or no such row. */
IFLOW_API int iflow_matrix_row_line(const char *path, size_t row, size_t *line, iflow_error *err);

/* The same, and column id_col (0-based) also as exact integers in *ids (rows entries, malloc'ed,
 * caller frees): CSV digits are read as integers, so ids beyond 2^53 stay distinct; a float
 * value must be an integer <= 2^53. A pipe or device is read to its end first (at most 4 GiB),
 * then parsed like a file; both functions accept them. */
IFLOW_API int iflow_matrix_load_ids(const char *path, size_t id_col, iflow_matrix **out,
                                    uint64_t **ids, iflow_error *err);

/* Writes a 2-D '<f8' .npy file (temporary name, then rename). */
IFLOW_API int iflow_matrix_save_npy(const char *path, const double *data, size_t rows, size_t cols,
                                    iflow_error *err);

IFLOW_API void iflow_matrix_free(iflow_matrix *m);

/* Writes an array of ndim (<= 8) dimensions as .npy format 1.0, C order: doubles as '<f8',
 * int64 as '<i8' (temporary name, then rename). */
IFLOW_API int iflow_npy_save_f8(const char *path, const double *data, const size_t *shape,
                                size_t ndim, iflow_error *err);
IFLOW_API int iflow_npy_save_i8(const char *path, const int64_t *data, const size_t *shape,
                                size_t ndim, iflow_error *err);

/* A train/test partition of rows 0..n-1. */
typedef struct iflow_split {
    size_t n_train, n_test;
    size_t *train; /* ascending row indices */
    size_t *test;  /* ascending row indices */
} iflow_split;

/* Reads a split file: one 0-based test row index per line, '#' comments. Errors for an index
 * >= n, a duplicate, a non-integer (with the line number). Every other row is a train row. */
IFLOW_API int iflow_split_from_file(const char *path, size_t n, iflow_split **out,
                                    iflow_error *err);

/* Random split: round(test_fraction * n) test rows, chosen with iflow_rng(seed, stream 0).
 * test_fraction in [0, 1). */
IFLOW_API int iflow_split_fraction(size_t n, double test_fraction, uint64_t seed, iflow_split **out,
                                   iflow_error *err);

IFLOW_API void iflow_split_free(iflow_split *s);

#ifdef __cplusplus
}
#endif

#endif
