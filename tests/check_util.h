/* Shared by the Check test programs: run a suite, remove a temporary directory tree. */
#ifndef IFLOW_TESTS_CHECK_UTIL_H
#define IFLOW_TESTS_CHECK_UTIL_H

#include <check.h>
#include <ftw.h>
#include <stdio.h>
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

#endif
