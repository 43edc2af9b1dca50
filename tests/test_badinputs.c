/* Bad-input regressions: every seed and every crash the fuzzers found (tests/fuzz/corpus and
 * tests/fuzz/regress) replayed through the same harness code, here under the normal compiler and
 * (in the sanitizer build) ASan/UBSan; plus the messages users see for the inputs that broke. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The harnesses, each with its entry point renamed (they share fuzz_util.h). */
#define LLVMFuzzerTestOneInput fuzz_config_one
#include "fuzz/fuzz_config.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_csv_one
#include "fuzz/fuzz_csv.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_npy_one
#include "fuzz/fuzz_npy.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_idx_one
#include "fuzz/fuzz_idx.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_checkpoint_one
#include "fuzz/fuzz_checkpoint.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_runlog_one
#include "fuzz/fuzz_runlog.c"
#include "check_util.h"
#undef LLVMFuzzerTestOneInput

typedef int (*harness_fn)(const uint8_t *, size_t);

/* Runs fn on every file of IFLOW_SRCDIR/tests/fuzz/<kind>/<name>; returns how many. */
static int replay_dir(const char *kind, const char *name, harness_fn fn) {
    const char *src = getenv("IFLOW_SRCDIR");
    ck_assert_msg(src != NULL, "IFLOW_SRCDIR is not set (run through meson test)");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/%s/%s", src, kind, name);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        ck_assert_ptr_nonnull(f);
        uint8_t *buf = malloc(1 << 20);
        size_t len = fread(buf, 1, 1 << 20, f);
        fclose(f);
        fn(buf, len); /* a harness aborts on any violated property */
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

static void replay(const char *name, harness_fn fn) {
    ck_assert_int_gt(replay_dir("corpus", name, fn), 0);
    replay_dir("regress", name, fn);
}

START_TEST(test_replay_config) { replay("config", fuzz_config_one); }
END_TEST
START_TEST(test_replay_csv) { replay("csv", fuzz_csv_one); }
END_TEST
START_TEST(test_replay_npy) { replay("npy", fuzz_npy_one); }
END_TEST
START_TEST(test_replay_idx) { replay("idx", fuzz_idx_one); }
END_TEST
START_TEST(test_replay_checkpoint) { replay("checkpoint", fuzz_checkpoint_one); }
END_TEST
START_TEST(test_replay_runlog) { replay("runlog", fuzz_runlog_one); }
END_TEST

/* Loads text as a config file; returns the code, message in err. */
static int load_config_text(const char *text, size_t len, iflow_error *err) {
    char path[256];
    fuzz_write("c.ini", (const uint8_t *)text, len, path);
    iflow_config cfg;
    return iflow_config_load(path, &cfg, err);
}

/* fuzz_config: after a NUL byte, fgets hid the rest of the line, which then came back as a line
 * of its own: a comment could set a key. Now the NUL is an error on its line. */
START_TEST(test_config_nul_byte) {
    static const char text[] = "[data]\nfile = x.csv\n[net]\nlayers = 5,2\n[train]\nepochs = 3\n"
                               "; note\0cccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
                               "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
                               "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
                               "ccccccccccccccccccccccccclr = 7\n";
    iflow_error err = {0};
    ck_assert_int_eq(load_config_text(text, sizeof text - 1, &err), IFLOW_EPARSE);
    ck_assert_msg(strstr(err.msg, "c.ini:7: NUL byte"), "%s", err.msg);
    /* Without the NUL the same line is one long comment: refused as over-long, never split. */
    char copy[sizeof text];
    memcpy(copy, text, sizeof text);
    copy[strchr(text + 40, ';') - text + 6] = ' ';
    ck_assert_int_eq(load_config_text(copy, sizeof text - 1, &err), IFLOW_EPARSE);
    ck_assert_msg(strstr(err.msg, "c.ini:7: line longer than"), "%s", err.msg);
}
END_TEST

/* A NUL byte hid a CSV line from the parser (a line starting with one was skipped as blank, rows
 * vanished silently; one mid-line cut the line short). Now it is an error on its line. */
START_TEST(test_csv_nul_byte) {
    static const char text[] = "1,2,0\n\0\1garbage\n3,4,1\n";
    char path[256];
    fuzz_write("nul.csv", (const uint8_t *)text, sizeof text - 1, path);
    iflow_dataset *ds = NULL;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_dataset_load_csv(path, &ds, &err), IFLOW_EPARSE);
    ck_assert_msg(strstr(err.msg, "nul.csv:2: NUL byte"), "%s", err.msg);
    static const char split[] = "3\n5\0\n";
    fuzz_write("split.txt", (const uint8_t *)split, sizeof split - 1, path);
    iflow_split *sp = NULL;
    ck_assert_int_eq(iflow_split_from_file(path, 10, &sp, &err), IFLOW_EPARSE);
    ck_assert_msg(strstr(err.msg, "split.txt:2: NUL byte"), "%s", err.msg);
}
END_TEST

/* fuzz_idx: a header promising 2^31 images was allocated (13 TB here) before any pixel was read;
 * now a file too short for its header is refused first. */
START_TEST(test_idx_huge_count) {
    static const uint8_t images[] = {0, 0, 8, 3, 0x80, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3};
    static const uint8_t labels[] = {0, 0, 8, 1, 0x80, 0, 0, 0, 1, 2, 3};
    char ip[256], lp[256];
    fuzz_write("i-idx3-ubyte", images, sizeof images, ip);
    fuzz_write("l-idx1-ubyte", labels, sizeof labels, lp);
    iflow_dataset *ds = NULL;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_dataset_load_idx(ip, lp, 0, &ds, &err), IFLOW_ECORRUPT);
    ck_assert_msg(strstr(err.msg, "truncated: expected 1683627180032 bytes of pixel data, got 3"),
                  "%s", err.msg);
    /* max_rows = 1: only the first row must be there. */
    ck_assert_int_eq(iflow_dataset_load_idx(ip, lp, 1, &ds, &err), IFLOW_ECORRUPT);
    ck_assert_msg(strstr(err.msg, "expected 784 bytes of pixel data, got 3"), "%s", err.msg);
}
END_TEST

/* The same for a .npy shape: refused from the file size, before allocating. */
START_TEST(test_npy_huge_shape) {
    char hdr[128];
    int n = snprintf(hdr, sizeof hdr,
                     "{'descr': '<f8', 'fortran_order': False, "
                     "'shape': (4000000000, 1000), }");
    while ((10 + n + 1) % 64) hdr[n++] = ' ';
    hdr[n++] = '\n';
    uint8_t file[256] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)n, 0};
    memcpy(file + 10, hdr, (size_t)n);
    char path[256];
    fuzz_write("big.npy", file, 10 + (size_t)n + 16, path);
    iflow_matrix *m = NULL;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_matrix_load(path, &m, &err), IFLOW_ECORRUPT);
    ck_assert_msg(strstr(err.msg, "truncated: expected 32000000000000 bytes of data, got 16"), "%s",
                  err.msg);
}
END_TEST

int main(void) {
    Suite *s = suite_create("badinputs");
    TCase *tc = tcase_create("replay");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_replay_config);
    tcase_add_test(tc, test_replay_csv);
    tcase_add_test(tc, test_replay_npy);
    tcase_add_test(tc, test_replay_idx);
    tcase_add_test(tc, test_replay_checkpoint);
    tcase_add_test(tc, test_replay_runlog);
    tcase_add_test(tc, test_config_nul_byte);
    tcase_add_test(tc, test_csv_nul_byte);
    tcase_add_test(tc, test_idx_huge_count);
    tcase_add_test(tc, test_npy_huge_shape);
    suite_add_tcase(s, tc);
    int failed = iflow_check_run(s);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
