/* Error reporting for libinfoflow: every fallible call returns 0 or a negative IFLOW_E* code
 * and fills an iflow_error whose message names the file, line or field at fault. */
#ifndef IFLOW_ERROR_H
#define IFLOW_ERROR_H

#include "infoflow/api.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    IFLOW_OK = 0,
    IFLOW_EIO = -1,      /* cannot open, read or write a file */
    IFLOW_EPARSE = -2,   /* malformed text: config, CSV, number */
    IFLOW_EINVAL = -3,   /* a value out of range, a dimension mismatch, a bad option */
    IFLOW_ENOMEM = -4,   /* allocation failed */
    IFLOW_ECORRUPT = -5, /* a binary file fails its checks (magic, version, CRC, length) */
    IFLOW_ENUMERIC = -6, /* NaN or Inf produced (diverging training) */
    IFLOW_EBUSY = -7     /* resource in use (e.g. a run directory locked by another run) */
};

typedef struct iflow_error {
    int code;
    char msg[1024];
} iflow_error;

/* Sets err (if not NULL) with a printf-style message and returns code, so callers can write
 * `return iflow_error_set(err, IFLOW_EINVAL, "%s:%d: ...", file, line);`. */
IFLOW_API int iflow_error_set(iflow_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#if defined(__clang_analyzer__) && !defined(IFLOW_ERROR_C)
/* For clang's static analyzer only (tools/lint), which cannot see into error.c: that the call
 * returns code, so it does not follow "error set, yet rc == 0" paths that never run. */
#define iflow_error_set(err, code, ...) (iflow_error_set((err), (code), __VA_ARGS__), (code))
#endif

/* Clears err (code 0, empty message). NULL is a no-op. */
IFLOW_API void iflow_error_clear(iflow_error *err);

/* A short name for a code, e.g. "I/O error". */
IFLOW_API const char *iflow_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif
