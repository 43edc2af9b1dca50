/* Small helpers shared by the subcommands: error printing and strict number parsing. */
#ifndef IFLOW_CLI_UTIL_H
#define IFLOW_CLI_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "infoflow/error.h"

/* Prints "infoflow: <message>" to stderr and returns 1. */
int cli_fail(const iflow_error *err);
/* Prints "infoflow <cmd>: <formatted message>\nTry 'infoflow <cmd> --help'." and returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Strict parsers for option values: the whole string must be a number in range.
 * Return 0 on success, -1 otherwise. */
int cli_parse_double(const char *s, double *out);
int cli_parse_size(const char *s, size_t *out);
int cli_parse_u64(const char *s, uint64_t *out);
int cli_parse_long(const char *s, long *out);

/* " (out of the range of a double)" if s is a well-formed number beyond double (1e400), else
 * "": appended to usage messages, which otherwise call it not a number. */
const char *cli_range_note(const char *s);

/* 1 if stderr is a terminal (progress displays are shown only then). */
int cli_stderr_is_tty(void);

#endif
