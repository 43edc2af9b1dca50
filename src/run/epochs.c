/* Epoch specifications ("log:100", "every:50", "1,10,100", "all", "none") expanded into sorted
 * lists of epochs: which epochs a run measures and which checkpoints it keeps. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "infoflow/epochs.h"

/* Strict integer: the whole string, in range. */
static int parse_ll(const char *s, long long *out) {
    char *end;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return (end == s || *end || errno == ERANGE) ? -1 : 0;
}

static int cmp_long(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Sorts, drops duplicates and entries above last. */
static size_t tidy_epochs(long *e, size_t n, long last) {
    qsort(e, n, sizeof *e, cmp_long);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (e[i] <= last && (m == 0 || e[i] != e[m - 1])) e[m++] = e[i];
    return m;
}

/* "0, 1, 5,10": integers >= 0 separated by commas, into e (room for every entry). */
static int parse_epoch_list(const char *spec, long *e, size_t *m, iflow_error *err) {
    const char *p = spec;
    for (*m = 0;;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno == ERANGE) break;
        if (v < 0)
            return iflow_error_set(err, IFLOW_EINVAL, "epoch spec '%s': epoch %ld is negative",
                                   spec, v);
        e[(*m)++] = v;
        for (p = end; *p == ' ' || *p == '\t';) p++;
        if (!*p) return 0;
        if (*p++ != ',') break;
    }
    return iflow_error_set(err, IFLOW_EPARSE,
                           "epoch spec '%s': expected none, all, every:N, log:K or a list of "
                           "epochs like 0,1,5,10",
                           spec);
}

int iflow_epochs_expand(const char *spec, long last, long **epochs, size_t *n, iflow_error *err) {
    long long k = 0;
    size_t cap = 1, m = 0;
    *epochs = NULL;
    *n = 0;
    if (last < 0 || last > IFLOW_MAX_EPOCHS)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "epoch spec '%s': last epoch %ld is not in [0, %d]", spec, last,
                               IFLOW_MAX_EPOCHS);
    int all = !strcmp(spec, "all"), every = !strncmp(spec, "every:", 6),
        logk = !strncmp(spec, "log:", 4), none = !strcmp(spec, "none");
    if (every && (parse_ll(spec + 6, &k) || k < 1))
        return iflow_error_set(err, IFLOW_EINVAL, "epoch spec '%s': every:N needs N >= 1", spec);
    if (logk && (parse_ll(spec + 4, &k) || k < 2 || k > 1000000))
        return iflow_error_set(err, IFLOW_EINVAL, "epoch spec '%s': log:K needs 2 <= K <= 1e6",
                               spec);
    if (all) cap = (size_t)last + 1;
    if (every) cap = (size_t)(last / k) + 2;
    if (logk) cap = (size_t)k;
    if (!all && !every && !logk && !none)
        for (const char *c = spec; *c; c++) cap += *c == ',';
    long *e = iflow_alloc_array(cap, sizeof *e, "epoch spec", err);
    if (!e) return err ? err->code : IFLOW_ENOMEM;
    if (all)
        for (long t = 1; t <= last; t++) e[m++] = t;
    if (every && last >= 1) {
        for (long t = (long)k; t <= last; t = t > last - k ? last + 1 : t + (long)k) e[m++] = t;
        e[m++] = last; /* duplicate if last is a multiple of N; tidy_epochs removes it */
    }
    /* Log-spaced over [1, last]: round(10^(j log10(last) / (K - 1))), j = 0..K-1. */
    for (long long j = 0; logk && last >= 1 && j < k; j++) {
        double x = pow(10.0, (double)j * log10((double)last) / (double)(k - 1));
        e[m++] = x >= (double)last ? last : x < 1 ? 1 : lround(x);
    }
    if (!all && !every && !logk && !none) {
        int rc = parse_epoch_list(spec, e, &m, err);
        if (rc) {
            free(e);
            return rc;
        }
    }
    *n = tidy_epochs(e, m, last);
    *epochs = e;
    return 0;
}
