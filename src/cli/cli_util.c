/* Helpers shared by the subcommands. */
#include "cli_util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dist.h"

int cli_fail(const iflow_error *err) {
    if (iflow_dist_error_shared() && iflow_dist_world_rank() > 0) return 1; /* rank 0 says it */
    fprintf(stderr, "infoflow: %s\n", err && err->msg[0] ? err->msg : "unknown error");
    return 1;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "infoflow %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'infoflow %s --help'.\n", cmd);
    va_end(ap);
    return 2;
}

int cli_parse_double(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

int cli_parse_u64(const char *s, uint64_t *out) {
    char *end;
    if (*s == '-' || *s == '\0') return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || errno == ERANGE) return -1;
    *out = (uint64_t)v;
    return 0;
}

int cli_parse_size(const char *s, size_t *out) {
    uint64_t v;
    if (cli_parse_u64(s, &v) != 0 || v > SIZE_MAX) return -1;
    *out = (size_t)v;
    return 0;
}

int cli_parse_long(const char *s, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE) return -1;
    *out = v;
    return 0;
}

int cli_stderr_is_tty(void) { return isatty(STDERR_FILENO); }

const char *cli_range_note(const char *s) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    return end != s && *end == '\0' && (errno == ERANGE || isinf(v)) && !isnan(v)
               ? " (out of the range of a double)"
               : "";
}
