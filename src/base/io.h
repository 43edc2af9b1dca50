/* Internal file helpers: atomic writes (temporary name, then rename) and directory creation. */
#ifndef IFLOW_IO_H
#define IFLOW_IO_H

#include <stdint.h>
#include <stdio.h>

#include "infoflow/error.h"

typedef struct iflow_atomic {
    FILE *f;
    char path[1100];
    char tmp[1130];
} iflow_atomic;

/* Opens PATH.PID.tmp for writing ("wb"): the process id keeps two processes writing the same
 * file (e.g. two `infoflow plot`s) from sharing one temporary file. */
int iflow_atomic_open(iflow_atomic *a, const char *path, iflow_error *err);
/* Checks for write errors, flushes, fsyncs, closes and renames PATH.PID.tmp onto PATH. On failure
 * the temporary file is removed and PATH is left as it was. */
int iflow_atomic_commit(iflow_atomic *a, iflow_error *err);
/* Closes and removes the temporary file. */
void iflow_atomic_abort(iflow_atomic *a);

/* Opens path for reading ("rb") without blocking: a FIFO with no writer opens at once (and reads
 * as empty) instead of hanging in open(2). *regular tells a regular file from a pipe, FIFO,
 * device or socket, which can be read only once and may never end. NULL (err set) on failure. */
FILE *iflow_open_read(const char *path, int *regular, iflow_error *err);

/* FNV-1a 64 (offset basis IFLOW_FNV1A64_INIT): of a string continuing hash h, and of a regular
 * file's bytes (-1 if it cannot be opened or read, or is not a regular file: a pipe is never
 * read to its end here). The one copy of the hash behind config hashes and PNG Config-Hash. */
#define IFLOW_FNV1A64_INIT 14695981039346656037ULL
uint64_t iflow_fnv1a64(uint64_t h, const char *s);
int iflow_fnv1a64_file(const char *path, uint64_t *out);

/* Monotonic wall-clock seconds, for timings and progress. */
double iflow_now_seconds(void);

/* mkdir -p. */
int iflow_mkdirs(const char *path, iflow_error *err);

/* Joins dir and name into out (size n); error if it does not fit. */
int iflow_path_join(char *out, size_t n, const char *dir, const char *name, iflow_error *err);

#endif
