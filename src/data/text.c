/* Text files of data: a line reader that skips blanks and comments and refuses NUL bytes and
 * over-long lines, and the strict parsers of CSV fields. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io.h"
#include "data_internal.h"

/* Reads one line (with its '\n') into lr->buf; -1 at end of file or on a stop (see the flags). */
static ssize_t read_text_line(line_reader *lr) {
    size_t len = 0;
    int c;
    while ((c = getc_unlocked(lr->f)) != EOF) {
        if (len + 2 > lr->cap) {
            if (lr->cap >= MAX_LINE) {
                lr->too_long = 1;
                return -1;
            }
            size_t cap = lr->cap ? 2 * lr->cap : 256;
            char *grown = realloc(lr->buf, cap);
            if (!grown) {
                lr->no_memory = 1;
                return -1;
            }
            lr->buf = grown;
            lr->cap = cap;
        }
        lr->buf[len++] = (char)c;
        if (c == '\n') break;
    }
    if (len == 0) return -1;
    lr->buf[len] = '\0';
    return (ssize_t)len;
}

/* Next line that is neither blank nor a '#' comment, with its line ending (LF or CRLF) removed
 * and, on line 1, a UTF-8 byte order mark skipped (it would otherwise sit invisibly inside the
 * first field and its messages). NULL at end of file, on a read error, a NUL byte or an
 * over-long line (tell them apart with line_reader_failed): a NUL would hide the rest of its
 * line, or the whole line, from the parser. */
char *data_next_line(line_reader *lr) {
    ssize_t len;
    while ((len = read_text_line(lr)) >= 0) {
        lr->line_no++;
        if (memchr(lr->buf, '\0', (size_t)len)) {
            lr->nul = 1;
            return NULL;
        }
        if (lr->line_no == 1 && len >= 3 && !memcmp(lr->buf, "\xEF\xBB\xBF", 3)) {
            memmove(lr->buf, lr->buf + 3, (size_t)len - 2);
            len -= 3;
        }
        while (len > 0 && (lr->buf[len - 1] == '\n' || lr->buf[len - 1] == '\r'))
            lr->buf[--len] = '\0';
        const char *p = lr->buf;
        while (isspace((unsigned char)*p)) p++;
        if (*p != '\0' && *p != '#') return lr->buf;
    }
    return NULL;
}

int data_line_reader_failed(const line_reader *lr, const char *path, iflow_error *err) {
    if (lr->nul)
        return iflow_error_set(err, IFLOW_EPARSE, "%s:%zu: NUL byte: not a text file", path,
                               lr->line_no);
    if (lr->too_long)
        return iflow_error_set(err, IFLOW_EPARSE,
                               "%s:%zu: line longer than %zu bytes: not a "
                               "data file",
                               path, lr->line_no + 1, MAX_LINE);
    if (lr->no_memory)
        return iflow_error_set(err, IFLOW_ENOMEM, "%s:%zu: out of memory", path, lr->line_no + 1);
    if (ferror(lr->f) || !feof(lr->f))
        return iflow_error_set(err, IFLOW_EIO, "%s:%zu: read failed: %s", path, lr->line_no + 1,
                               strerror(errno ? errno : EIO));
    return 0;
}

/* Opens a text file; f != NULL: reads that stream instead (owned by the caller). Data sets and
 * splits are read more than once (hashed, then loaded; again on resume), so they must be
 * regular files. */
int data_open_text(const char *path, FILE *f, line_reader *lr, iflow_error *err) {
    memset(lr, 0, sizeof *lr);
    if (f) {
        lr->f = f;
        return 0;
    }
    int regular = 0;
    lr->f = iflow_open_read(path, &regular, err);
    if (!lr->f) return err ? err->code : IFLOW_EIO;
    if (!regular) {
        fclose(lr->f);
        lr->f = NULL;
        return iflow_error_set(err, IFLOW_EINVAL,
                               "%s: not a regular file (a directory, pipe, "
                               "FIFO or device); a data file is read more than once: save it to "
                               "a file",
                               path);
    }
    return 0;
}

void data_close_text(line_reader *lr, FILE *borrowed) {
    if (lr->f && lr->f != borrowed) fclose(lr->f);
    free(lr->buf);
}

/* Splits line in place at commas; *fields grows as needed. Returns the field count or 0 when
 * out of memory. */
size_t data_split_fields(char *line, char ***fields, size_t *cap) {
    size_t count = 0;
    for (char *p = line;; p++) {
        if (count == *cap) {
            size_t new_cap = *cap ? 2 * *cap : 16;
            char **grown = realloc(*fields, new_cap * sizeof *grown);
            if (!grown) return 0;
            *fields = grown;
            *cap = new_cap;
        }
        (*fields)[count++] = p;
        p = strchr(p, ',');
        if (!p) return count;
        *p = '\0';
    }
}

/* A field as shown in a message: at most 40 bytes, control characters and non-ASCII bytes as
 * \xNN, so nothing invisible (a stray BOM, a zero-width space) hides inside the quotes. Returns
 * buf (64 bytes). */
const char *data_shown(const char *field, char *buf) {
    size_t o = 0;
    for (const unsigned char *c = (const unsigned char *)field; *c && o < 56; c++) {
        if (c - (const unsigned char *)field >= 40) {
            o += (size_t)snprintf(buf + o, 64 - o, "...");
            break;
        }
        if (*c < 0x20 || *c >= 0x7f)
            o += (size_t)snprintf(buf + o, 64 - o, "\\x%02x", *c);
        else
            buf[o++] = (char)*c;
    }
    buf[o < 64 ? o : 63] = '\0';
    return buf;
}

/* Strict number: the whole field is one strtod number, surrounding spaces allowed. NaN and Inf
 * parse here; callers reject them with the row number. */
int data_parse_number(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s) return -1;
    while (isspace((unsigned char)*end)) end++;
    if (*end != '\0') return -1;
    *out = v;
    return 0;
}

/* Strict non-negative integer: digits only, surrounding spaces allowed. */
int data_parse_index(const char *s, size_t *out) {
    while (isspace((unsigned char)*s)) s++;
    if (!isdigit((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    while (isspace((unsigned char)*end)) end++;
    if (*end != '\0' || errno == ERANGE || v > SIZE_MAX) return -1;
    *out = (size_t)v;
    return 0;
}
