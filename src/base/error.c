/* iflow_error helpers. */
#define IFLOW_ERROR_C /* the definition below, not the analyzer-only macro of error.h */
#include "infoflow/error.h"

#include <stdarg.h>
#include <stdio.h>

int iflow_error_set(iflow_error *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void iflow_error_clear(iflow_error *err) {
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

const char *iflow_strerror(int code) {
    switch (code) {
    case IFLOW_OK: return "ok";
    case IFLOW_EIO: return "I/O error";
    case IFLOW_EPARSE: return "parse error";
    case IFLOW_EINVAL: return "invalid value";
    case IFLOW_ENOMEM: return "out of memory";
    case IFLOW_ECORRUPT: return "corrupt file";
    case IFLOW_ENUMERIC: return "numerical failure";
    case IFLOW_EBUSY: return "busy";
    default: return "unknown error";
    }
}
