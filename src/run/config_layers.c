/* Parsing of typed [net] layers entries (conv / dense blocks) and of [net] input = CxHxW. Shapes
 * are checked later, once both keys are known (iflow_net_block_shapes). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "config_layers.h"

/* Strict: the whole token is one integer. */
static int parse_ll(const char *s, long long *out) {
    char *end;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return (end == s || *end || errno == ERANGE) ? -1 : 0;
}

static int copy_str(char *dst, size_t n, const char *src) {
    return snprintf(dst, n, "%s", src) >= (int)n ? -1 : 0;
}

#define MAX_SIZE ((long long)1 << 24) /* any size above this is a typo */

/* A size in 1..2^24 (0..2^24 if zero_ok), the whole token. */
static int parse_size_tok(const char *t, int zero_ok, size_t *out) {
    long long v;
    if (!t || parse_ll(t, &v) || v < (zero_ok ? 0 : 1) || v > MAX_SIZE) return -1;
    *out = (size_t)v;
    return 0;
}

/* "5x5" -> 5, 5 (each 1..2^24). */
static int parse_pair(const char *t, size_t *a, size_t *b) {
    char buf[64];
    if (!t || copy_str(buf, sizeof buf, t)) return -1;
    char *x = strchr(buf, 'x');
    if (!x) return -1;
    *x = '\0';
    return parse_size_tok(buf, 0, a) || parse_size_tok(x + 1, 0, b) ? -1 : 0;
}

/* One typed entry: `dense N` or `conv C KHxKW [stride S] [pad P] [maxpool K | avgpool K]`. */
int iflow_config_parse_block(char *item, iflow_block *b, char *msg, size_t n) {
    char *save = NULL, *tok[16];
    size_t nt = 0;
    for (char *t = strtok_r(item, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        if (nt == 16) {
            snprintf(msg, n, "[net] layers: too many words in one entry");
            return IFLOW_EPARSE;
        }
        tok[nt++] = t;
    }
    *b = (iflow_block){.stride = 1};
    const char *want = NULL;
    if (nt == 0) {
        snprintf(msg, n, "[net] layers: empty entry");
        return IFLOW_EPARSE;
    }
    if (!strcmp(tok[0], "dense")) {
        b->kind = IFLOW_BLOCK_DENSE;
        if (nt < 2 || parse_size_tok(tok[1], 0, &b->units))
            want = "dense N (N in 1..16777216)";
        else if (nt > 2)
            want = "nothing after dense N";
    } else if (!strcmp(tok[0], "conv")) {
        b->kind = IFLOW_BLOCK_CONV;
        if (nt < 3 || parse_size_tok(tok[1], 0, &b->units) || parse_pair(tok[2], &b->kh, &b->kw))
            want = "conv C KxK (sizes in 1..16777216)";
        int seen_stride = 0, seen_pad = 0;
        for (size_t i = 3; !want && i < nt; i += 2) {
            const char *w = tok[i], *v = i + 1 < nt ? tok[i + 1] : NULL;
            int pool = !strcmp(w, "maxpool")   ? IFLOW_POOL_MAX
                       : !strcmp(w, "avgpool") ? IFLOW_POOL_AVG
                                               : IFLOW_POOL_NONE;
            if (!strcmp(w, "stride") && !seen_stride++) {
                if (parse_size_tok(v, 0, &b->stride)) want = "stride S (S in 1..16777216)";
            } else if (!strcmp(w, "pad") && !seen_pad++) {
                if (parse_size_tok(v, 1, &b->pad)) want = "pad P (P in 0..16777216)";
            } else if (pool && b->pool == IFLOW_POOL_NONE) {
                b->pool = (iflow_pool)pool;
                if (parse_size_tok(v, 0, &b->pool_size)) want = "maxpool K or avgpool K";
            } else {
                snprintf(msg, n,
                         "[net] layers: unexpected word '%.40s' in a conv entry (allowed once "
                         "each, in any order: stride S, pad P, maxpool K or avgpool K)",
                         w);
                return IFLOW_EPARSE;
            }
        }
    } else {
        snprintf(msg, n, "[net] layers: unknown block '%.40s'; use conv or dense", tok[0]);
        return IFLOW_EPARSE;
    }
    if (!want) return 0;
    snprintf(msg, n, "[net] layers: malformed or missing number in '%.200s'; expected %s", tok[0],
             want);
    return IFLOW_EPARSE;
}

/* input = CxHxW (each 1..2^24), e.g. 1x28x28; empty = not given. */
int iflow_config_parse_input(const char *v, iflow_shape *out, char *msg, size_t n) {
    char buf[64];
    size_t d[3];
    if (!*v) {
        *out = (iflow_shape){0, 0, 0};
        return 0;
    }
    if (!copy_str(buf, sizeof buf, v)) {
        char *x1 = strchr(buf, 'x'), *x2 = x1 ? strchr(x1 + 1, 'x') : NULL;
        if (x2) {
            *x1 = *x2 = '\0';
            if (!parse_size_tok(buf, 0, &d[0]) && !parse_size_tok(x1 + 1, 0, &d[1]) &&
                !parse_size_tok(x2 + 1, 0, &d[2])) {
                /* Each size fits; their product (checked: 2^24 cubed wraps around 2^64) must too,
                 * as it is the width of the input layer. */
                size_t count;
                if (iflow_size_mul3(d[0], d[1], d[2], &count) || count > (size_t)MAX_SIZE) {
                    snprintf(msg, n,
                             "[net] input: %zux%zux%zu has more than 16777216 (2^24) values", d[0],
                             d[1], d[2]);
                    return IFLOW_EINVAL;
                }
                *out = (iflow_shape){d[0], d[1], d[2]};
                return 0;
            }
        }
    }
    snprintf(msg, n,
             "[net] input: expected CxHxW (e.g. 1x28x28, sizes in 1..16777216), got "
             "'%.200s'",
             v);
    return IFLOW_EPARSE;
}
