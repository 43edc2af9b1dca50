/* Shared by the Check test programs: run a suite, remove a temporary directory tree. */
#ifndef IFLOW_TESTS_CHECK_UTIL_H
#define IFLOW_TESTS_CHECK_UTIL_H

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* Runs every test of s (forking, as Check does by default) and returns the number that failed. */
static inline int iflow_check_run(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed;
}

static inline int iflow_rmtree_entry(const char *path, const struct stat *st, int flag,
                                     struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* rm -rf path (depth first, not following links). */
static inline void iflow_rmtree(const char *path) {
    nftw(path, iflow_rmtree_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The whole file at path as a NUL-terminated string (NULL if it cannot be opened); *len its size
 * if len is not NULL. Caller frees. */
static inline char *iflow_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = calloc((size_t)n + 1, 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    if (len) *len = (size_t)n;
    return buf;
}

/* Drops the last comma-separated cell of every line of s, in place (metrics.csv's `seconds`,
 * wall time that differs between runs); returns the number of lines that had no comma (kept as
 * they are). */
static inline size_t iflow_drop_last_column(char *s) {
    char *w = s;
    size_t bare = 0;
    for (char *p = s;; p++) {
        if (*p == '\n' || (!*p && p > s && p[-1] != '\n')) {
            char *c = w;
            while (c > s && c[-1] != ',' && c[-1] != '\n') c--;
            if (c > s && c[-1] == ',')
                w = c - 1;
            else
                bare++;
        }
        if (!*p) break;
        *w++ = *p;
    }
    *w = '\0';
    return bare;
}

#endif
