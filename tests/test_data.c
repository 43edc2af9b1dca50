/* Tests of the data loaders: the real szt12 files, every CSV/IDX/.npy/split error case on small
 * files written here, .npy and IDX byte layouts, and random splits. */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "infoflow/data.h"
#include "check_util.h"

static char tmpdir[256];

/* A path in the temporary directory; 8 rotating buffers so a test can hold a few at once. */
static const char *tmp_path(const char *name) {
    static char bufs[8][512];
    static int next;
    char *p = bufs[next++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

static const char *write_bytes(const char *name, const void *bytes, size_t len) {
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

static const char *write_text(const char *name, const char *text) {
    return write_bytes(name, text, strlen(text));
}

static const char *src_path(const char *rel) {
    static char buf[1024];
    const char *root = getenv("IFLOW_SRCDIR");
    ck_assert_msg(root != NULL, "IFLOW_SRCDIR is not set");
    snprintf(buf, sizeof buf, "%s/%s", root, rel);
    return buf;
}

/* rc is `code` and the message mentions every given fragment (NULL-terminated list). */
static void expect_error(int rc, const iflow_error *err, int code, const char *frag1,
                         const char *frag2) {
    ck_assert_int_eq(rc, code);
    ck_assert_int_eq(err->code, code);
    ck_assert_msg(strstr(err->msg, frag1) != NULL, "'%s' lacks '%s'", err->msg, frag1);
    if (frag2) ck_assert_msg(strstr(err->msg, frag2) != NULL, "'%s' lacks '%s'", err->msg, frag2);
}

/* A labelled CSV that must fail with `code`, the file name and `frag` in the message. */
static void expect_csv_error(const char *name, const char *text, int code, const char *frag) {
    const char *path = write_text(name, text);
    iflow_dataset *ds = (iflow_dataset *)1;
    iflow_error err = {0};
    int rc = iflow_dataset_load_csv(path, &ds, &err);
    ck_assert_ptr_null(ds);
    expect_error(rc, &err, code, path, frag);
}

/* ---------------------------------------------------------------- the real szt12 files */

START_TEST(test_szt12_real) {
    iflow_dataset *ds;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_dataset_load_csv(src_path("datasets/szt12.csv"), &ds, &err), 0);
    ck_assert_uint_eq(ds->n, 4096);
    ck_assert_uint_eq(ds->d, 12);
    ck_assert_uint_eq(ds->n_classes, 2);
    size_t ones = 0, zeros = 0;
    /* The file holds every 12-bit input exactly once: read each row as a binary number. */
    int *seen = calloc(4096, sizeof *seen);
    for (size_t i = 0; i < ds->n; i++) {
        unsigned code = 0;
        for (size_t j = 0; j < 12; j++) {
            double v = ds->x[i * 12 + j];
            ck_assert(v == 0.0 || v == 1.0);
            code = code << 1 | (v == 1.0);
        }
        seen[code]++;
        ones += ds->y[i] == 1;
        zeros += ds->y[i] == 0;
    }
    for (int c = 0; c < 4096; c++) ck_assert_int_eq(seen[c], 1);
    ck_assert_uint_eq(ones, 2118);
    ck_assert_uint_eq(zeros, 1978);
    free(seen);

    iflow_split *sp;
    ck_assert_int_eq(
        iflow_split_from_file(src_path("datasets/szt12-test-split.txt"), ds->n, &sp, &err), 0);
    ck_assert_uint_eq(sp->n_test, 819);
    ck_assert_uint_eq(sp->n_train, 3277);
    iflow_dataset *test;
    ck_assert_int_eq(iflow_dataset_subset(ds, sp->test, sp->n_test, &test, &err), 0);
    ck_assert_uint_eq(test->n, 819);
    ck_assert_uint_eq(test->n_classes, 2);
    ck_assert_int_eq(memcmp(test->x + 5 * 12, ds->x + sp->test[5] * 12, 12 * sizeof(double)), 0);
    iflow_dataset_free(test);
    iflow_split_free(sp);
    iflow_dataset_free(ds);
}
END_TEST

/* ---------------------------------------------------------------- labelled CSV */

START_TEST(test_csv_good) {
    /* CRLF endings, comments, blank lines, spaces around fields, an exponent, label 1.0. */
    const char *path = write_text("good.csv", "# comment\r\n\r\n 1.5 , -2e-3,3\r\n"
                                              "  # indented comment\n0,4, 1.0 \r\n");
    iflow_dataset *ds;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_dataset_load_csv(path, &ds, &err), 0);
    ck_assert_uint_eq(ds->n, 2);
    ck_assert_uint_eq(ds->d, 2);
    ck_assert_uint_eq(ds->n_classes, 4);
    ck_assert(ds->x[0] == 1.5 && ds->x[1] == -2e-3 && ds->x[2] == 0 && ds->x[3] == 4);
    ck_assert(ds->y[0] == 3 && ds->y[1] == 1);
    iflow_dataset_free(ds);
    iflow_dataset_free(NULL);
}
END_TEST

START_TEST(test_csv_long_line) {
    /* 3000 features on one line: longer than any fixed buffer would likely be. */
    size_t d = 3000, cap = 2 * (d * 26 + 64), len = 0;
    char *text = malloc(cap);
    for (int r = 0; r < 2; r++) {
        for (size_t j = 0; j < d; j++)
            len += (size_t)snprintf(text + len, cap - len, "%.17g,", (double)j / 7.0 + r);
        len += (size_t)snprintf(text + len, cap - len, "%d\n", 65535 * r);
    }
    const char *path = write_text("long.csv", text);
    free(text);
    iflow_dataset *ds;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_dataset_load_csv(path, &ds, &err), 0);
    ck_assert_uint_eq(ds->d, d);
    ck_assert(ds->x[d + 2999] == 2999.0 / 7.0 + 1);
    ck_assert_uint_eq(ds->n_classes, 65536);
    iflow_dataset_free(ds);
}
END_TEST

START_TEST(test_csv_errors) {
    iflow_dataset *ds = NULL;
    iflow_error err = {0};
    const char *missing = tmp_path("missing.csv");
    expect_error(iflow_dataset_load_csv(missing, &ds, &err), &err, IFLOW_EIO, missing,
                 strerror(ENOENT));
    expect_csv_error("empty.csv", "", IFLOW_EPARSE, "no data rows");
    expect_csv_error("comments.csv", "# only\n\n# comments\n", IFLOW_EPARSE, "no data rows");
    expect_csv_error("ragged.csv", "#c\n1,2,0\n3,4,1\n5,1\n", IFLOW_EPARSE,
                     ":4: expected 3 columns, found 2");
    expect_csv_error("wide.csv", "1,2,0\n3,4,5,1\n", IFLOW_EPARSE,
                     ":2: expected 3 columns, found 4");
    expect_csv_error("word.csv", "1,2,0\n3,abc,1\n", IFLOW_EPARSE, ":2: column 2: 'abc'");
    expect_csv_error("junk.csv", "1,2,0\n\n1.5x,2,1\n", IFLOW_EPARSE, ":3: column 1");
    expect_csv_error("emptyfield.csv", "1,,0\n", IFLOW_EPARSE, ":1: column 2");
    expect_csv_error("nan.csv", "1,2,0\n3,nan,1\n", IFLOW_EPARSE, ":2: NaN or Inf");
    expect_csv_error("inf.csv", "1,2,0\n3,4,1\n-inf,4,1\n", IFLOW_EPARSE, "data row 3");
    expect_csv_error("huge.csv", "1e999,2,0\n", IFLOW_EPARSE, ":1: NaN or Inf");
    expect_csv_error("frac.csv", "1,2,0\n3,4,1.5\n", IFLOW_EPARSE, ":2: label '1.5'");
    expect_csv_error("neg.csv", "1,2,-1\n", IFLOW_EPARSE, ":1: label '-1'");
    expect_csv_error("big.csv", "1,2,65536\n", IFLOW_EPARSE, "not an integer in [0, 65535]");
    expect_csv_error("cat.csv", "1,2,cat\n", IFLOW_EPARSE, ":1: label 'cat'");
    /* The CR of a CRLF ending is not part of the field quoted in the message. */
    expect_csv_error("crlf.csv", "1,2,0\r\n1,2,dog\r\n", IFLOW_EPARSE, ":2: label 'dog' is");
    expect_csv_error("onecol.csv", "# x\n1\n2\n", IFLOW_EPARSE, ":2: need at least 2 columns");
    /* A header is not allowed in a labelled CSV: it is a non-number on line 1. */
    expect_csv_error("header.csv", "a,b,y\n1,2,0\n", IFLOW_EPARSE, ":1: column 1: 'a'");
}
END_TEST

/* ---------------------------------------------------------------- CSV matrices */

static iflow_matrix *load_matrix_ok(const char *path) {
    iflow_matrix *m = NULL;
    iflow_error err = {0};
    int rc = iflow_matrix_load(path, &m, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    return m;
}

static void expect_matrix_error(const char *path, int code, const char *frag) {
    iflow_matrix *m = (iflow_matrix *)1;
    iflow_error err = {0};
    int rc = iflow_matrix_load(path, &m, &err);
    ck_assert_ptr_null(m);
    expect_error(rc, &err, code, path, frag);
}

START_TEST(test_matrix_csv) {
    iflow_matrix *m = load_matrix_ok(write_text("m.csv", "# acts\nu1, u2\n0.25,-1\r\n3,4e1\n"));
    ck_assert_uint_eq(m->rows, 2);
    ck_assert_uint_eq(m->cols, 2);
    ck_assert(m->data[0] == 0.25 && m->data[1] == -1 && m->data[2] == 3 && m->data[3] == 40);
    iflow_matrix_free(m);
    m = load_matrix_ok(write_text("nohead.csv", "1\n2\n3\n"));
    ck_assert(m->rows == 3 && m->cols == 1 && m->data[2] == 3);
    iflow_matrix_free(m);
    iflow_matrix_free(NULL);

    /* Only a line with no numeric field is a header; a mixed one is an error. */
    expect_matrix_error(write_text("mixed.csv", "u1,2\n1,2\n"), IFLOW_EPARSE, ":1: column 1");
    expect_matrix_error(write_text("twohead.csv", "a,b\nc,d\n1,2\n"), IFLOW_EPARSE,
                        ":2: column 1: 'c'");
    expect_matrix_error(write_text("onlyhead.csv", "#x\na,b\n"), IFLOW_EPARSE, "no data rows");
    expect_matrix_error(write_text("mempty.csv", ""), IFLOW_EPARSE, "no data rows");
    expect_matrix_error(write_text("mragged.csv", "1,2\n3\n"), IFLOW_EPARSE,
                        ":2: expected 2 columns, found 1");
    expect_matrix_error(write_text("mnan.csv", "1,2\n3,4\n5,NaN\n"), IFLOW_EPARSE,
                        ":3: NaN or Inf in column 2 (data row 3)");
    expect_matrix_error(tmp_path("nope.csv"), IFLOW_EIO, strerror(ENOENT));
}
END_TEST

/* ---------------------------------------------------------------- .npy */

/* Writes a .npy byte by byte: magic, version, header length (u16 for 1.0, u32 for 2.0/3.0), the
 * dict padded with spaces and '\n' to a multiple of 64, then `data`. */
static const char *write_npy(const char *name, int major, const char *dict, const void *data,
                             size_t len) {
    unsigned char buf[4096];
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t hlen = (pre + dl + 1 + 63) / 64 * 64 - pre;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    for (size_t k = 0; k < pre - 8; k++) buf[8 + k] = (unsigned char)(hlen >> (8 * k));
    memset(buf + pre, ' ', hlen);
    memcpy(buf + pre, dict, dl);
    buf[pre + hlen - 1] = '\n';
    ck_assert_uint_le(pre + hlen + len, sizeof buf);
    memcpy(buf + pre + hlen, data, len);
    return write_bytes(name, buf, pre + hlen + len);
}

/* Little-endian encodings, built from the bit patterns so they do not depend on the host. */
static size_t put_f8(unsigned char *b, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    for (int k = 0; k < 8; k++) b[k] = (unsigned char)(u >> (8 * k));
    return 8;
}

static size_t put_f4(unsigned char *b, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    for (int k = 0; k < 4; k++) b[k] = (unsigned char)(u >> (8 * k));
    return 4;
}

START_TEST(test_npy_roundtrip) {
    const size_t rows = 7, cols = 5;
    double data[35];
    for (size_t k = 0; k < rows * cols; k++) data[k] = sin((double)k * 1.3) * pow(10, (int)k - 17);
    data[3] = -0.0;
    data[4] = 5e-324; /* smallest subnormal: must survive bit for bit */
    const char *path = tmp_path("rt.npy");
    iflow_error err = {0};
    ck_assert_int_eq(iflow_matrix_save_npy(path, data, rows, cols, &err), 0);
    ck_assert_int_eq(access(tmp_path("rt.npy.tmp"), F_OK), -1);

    /* Layout: v1.0, header length such that the data starts at a multiple of 64. */
    FILE *f = fopen(path, "rb");
    unsigned char pre[10];
    ck_assert_uint_eq(fread(pre, 1, 10, f), 10);
    ck_assert_int_eq(memcmp(pre, "\x93NUMPY\x01\x00", 8), 0);
    size_t hlen = pre[8] | (size_t)pre[9] << 8;
    ck_assert_uint_eq((10 + hlen) % 64, 0);
    fseek(f, 0, SEEK_END);
    ck_assert_int_eq(ftell(f), (long)(10 + hlen + rows * cols * 8));
    fclose(f);

    iflow_matrix *m = load_matrix_ok(path);
    ck_assert(m->rows == rows && m->cols == cols);
    ck_assert_int_eq(memcmp(m->data, data, sizeof data), 0);
    iflow_matrix_free(m);
}
END_TEST

START_TEST(test_npy_f4_fortran_1d) {
    /* '<f4', C order, 2 x 3, version 2.0; values exact in float. */
    const float vals[6] = {0.5f, -1.25f, 3.0f, 1e-3f, 65504.0f, -7.75f};
    unsigned char b[64];
    size_t len = 0;
    for (int k = 0; k < 6; k++) len += put_f4(b + len, vals[k]);
    iflow_matrix *m = load_matrix_ok(write_npy(
        "f4.npy", 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", b, len));
    ck_assert(m->rows == 2 && m->cols == 3);
    for (int k = 0; k < 6; k++) ck_assert(m->data[k] == (double)vals[k]);
    iflow_matrix_free(m);

    /* '<f8', Fortran order, 2 x 3, version 3.0: column-major storage of a[i][j] = 10 i + j. */
    len = 0;
    for (int j = 0; j < 3; j++)
        for (int i = 0; i < 2; i++) len += put_f8(b + len, 10.0 * i + j);
    m = load_matrix_ok(write_npy(
        "fo.npy", 3, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", b, len));
    ck_assert(m->rows == 2 && m->cols == 3);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) ck_assert(m->data[i * 3 + j] == 10.0 * i + j);
    iflow_matrix_free(m);

    /* 1-D (4,) becomes 4 x 1. */
    len = 0;
    for (int k = 0; k < 4; k++) len += put_f8(b + len, k * 0.5);
    m = load_matrix_ok(
        write_npy("v.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", b, len));
    ck_assert(m->rows == 4 && m->cols == 1 && m->data[3] == 1.5);
    iflow_matrix_free(m);
}
END_TEST

START_TEST(test_npy_errors) {
    unsigned char b[64];
    size_t len = 0;
    for (int k = 0; k < 6; k++) len += put_f8(b + len, k);
    expect_matrix_error(write_npy("be.npy", 1,
                                  "{'descr': '>f8', 'fortran_order': False, 'shape': (2, 3), }", b,
                                  len),
                        IFLOW_EINVAL, "big-endian");
    expect_matrix_error(write_npy("i4.npy", 1,
                                  "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", b,
                                  len),
                        IFLOW_EINVAL, "unsupported dtype '<i4'");
    expect_matrix_error(write_npy("3d.npy", 1,
                                  "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2, 3), }",
                                  b, len),
                        IFLOW_EINVAL, "shape");
    expect_matrix_error(write_npy("short.npy", 1,
                                  "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 4), }", b,
                                  len),
                        IFLOW_ECORRUPT, "truncated: expected 64 bytes of data, got 48");
    expect_matrix_error(write_npy("v9.npy", 9, "{}", b, 0), IFLOW_EINVAL, "version 9.0");
    put_f8(b + 8 * 4, NAN);
    expect_matrix_error(write_npy("nan.npy", 1,
                                  "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", b,
                                  len),
                        IFLOW_EPARSE, "row 2, column 2");
    put_f8(b + 8 * 4, 4.0);
    put_f8(b + 8 * 1, INFINITY); /* Fortran position 1 is element (1, 0): row 2, column 1 */
    expect_matrix_error(write_npy("finf.npy", 1,
                                  "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", b,
                                  len),
                        IFLOW_EPARSE, "row 2, column 1");
    expect_matrix_error(write_bytes("stub.npy", "\x93NUMPY\x01", 7), IFLOW_ECORRUPT, "truncated");
    /* Shape products that wrap around 2^64 (to 0 and to 6 values): too large, never the data. */
    expect_matrix_error(write_npy("wrap0.npy", 1,
                                  "{'descr': '<f8', 'fortran_order': False, "
                                  "'shape': (4294967296, 4294967296), }",
                                  b, len),
                        IFLOW_EINVAL, "too large");
    expect_matrix_error(write_npy("wrap6.npy", 1,
                                  "{'descr': '<f8', 'fortran_order': False, "
                                  "'shape': (2, 9223372036854775811), }",
                                  b, len),
                        IFLOW_EINVAL, "too large");
}
END_TEST

/* The writer's header promises prod(shape) values: a shape whose product wraps around 2^64 is
 * refused, and nothing is left at the path. */
START_TEST(test_npy_save_shape_overflow) {
    const double v[6] = {1, 2, 3, 4, 5, 6};
    const size_t wrap_to_6[2] = {2, (size_t)9223372036854775811u}; /* 2 x that = 2^64 + 6 */
    ck_assert_uint_eq(wrap_to_6[0] * wrap_to_6[1], 6);
    const size_t huge[3] = {(size_t)1 << 32, (size_t)1 << 32, 1}; /* 2^64 wraps to 0 */
    const char *path = tmp_path("wrap-save.npy");
    iflow_error err = {0};
    ck_assert_int_eq(iflow_npy_save_f8(path, v, wrap_to_6, 2, &err), IFLOW_EINVAL);
    ck_assert_msg(strstr(err.msg, "overflows") && strstr(err.msg, "wrap-save.npy"), "%s", err.msg);
    ck_assert_int_eq(iflow_npy_save_f8(path, v, huge, 3, &err), IFLOW_EINVAL);
    ck_assert_int_eq(access(path, F_OK), -1);
    const size_t ok[2] = {2, 3};
    ck_assert_int_eq(iflow_npy_save_f8(path, v, ok, 2, &err), 0);
    iflow_matrix *m = load_matrix_ok(path);
    ck_assert(m->rows == 2 && m->cols == 3 && m->data[5] == 6.0);
    iflow_matrix_free(m);
}
END_TEST

/* The header is parsed as the Python dict literal it is, as numpy does:
 * exactly the three keys, once each, in any order, either quote; nothing found by substring. */
START_TEST(test_npy_header_dict) {
    unsigned char b[64];
    size_t len = 0;
    for (int k = 0; k < 6; k++) len += put_f8(b + len, k + 0.5);
    const char *ok[] = {
        "{\"shape\": (2, 3), \"fortran_order\": False, \"descr\": \"<f8\"}",
        "{ 'fortran_order' : False , 'descr' : '<f8' , 'shape' : ( 2 , 3 ) , }",
    };
    for (int i = 0; i < 2; i++) {
        iflow_matrix *m = load_matrix_ok(write_npy("ok.npy", 1, ok[i], b, len));
        ck_assert_uint_eq(m->rows, 2);
        ck_assert_uint_eq(m->cols, 3);
        ck_assert_double_eq(m->data[5], 5.5);
        iflow_matrix_free(m);
    }
    /* A key quoted inside another value once won the substring search ('<i4' read as '<f8'
     * by numpy and the other way round by infoflow); now the extra key is refused. */
    expect_matrix_error(write_npy("hide.npy", 1,
                                  "{'note': \"'descr': '<f8', \", 'descr': '<i4', "
                                  "'fortran_order': False, 'shape': (2, 3), }",
                                  b, len),
                        IFLOW_ECORRUPT, "unexpected key 'note'");
    expect_matrix_error(write_npy("dup.npy", 1,
                                  "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), "
                                  "'descr': '<i4'}",
                                  b, len),
                        IFLOW_ECORRUPT, "duplicate key 'descr'");
    expect_matrix_error(
        write_npy("lack.npy", 1, "{'descr': '<f8', 'fortran_order': False}", b, len),
        IFLOW_ECORRUPT, "lacks 'shape'");
    expect_matrix_error(write_npy("junk.npy", 1,
                                  "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)} x", b,
                                  len),
                        IFLOW_ECORRUPT, "not a Python dict");
    expect_matrix_error(write_npy("noclose.npy", 1,
                                  "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3),", b,
                                  len),
                        IFLOW_ECORRUPT, "not a Python dict");
    expect_matrix_error(
        write_npy("fo.npy", 1, "{'descr': '<f8', 'fortran_order': Maybe, 'shape': (2, 3)}", b, len),
        IFLOW_ECORRUPT, "fortran_order");
}
END_TEST

/* a BOM before a labelled CSV is skipped; a data set or split that
 * is not a regular file is refused at once (it is read more than once); lines are capped. */
START_TEST(test_csv_bom_devices_long_lines) {
    iflow_dataset *a = NULL, *b = NULL;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_dataset_load_csv(write_text("nb.csv", "1,2,0\n3,4,1\n"), &a, &err), 0);
    ck_assert_int_eq(iflow_dataset_load_csv(write_text("b.csv", "\xEF\xBB\xBF"
                                                                "1,2,0\n3,4,1\n"),
                                            &b, &err),
                     0);
    ck_assert_uint_eq(a->n, b->n);
    ck_assert_mem_eq(a->x, b->x, a->n * a->d * sizeof *a->x);
    iflow_dataset_free(a);
    iflow_dataset_free(b);
    iflow_split *sp = NULL;
    ck_assert_int_eq(iflow_split_from_file(write_text("s.txt", "\xEF\xBB\xBF"
                                                               "1\n"),
                                           3, &sp, &err),
                     0);
    ck_assert_uint_eq(sp->n_test, 1);
    iflow_split_free(sp);
    const char *devices[] = {"/dev/zero", "/dev/null"};
    for (int i = 0; i < 2; i++) {
        a = (iflow_dataset *)1;
        expect_error(iflow_dataset_load_csv(devices[i], &a, &err), &err, IFLOW_EINVAL, devices[i],
                     "not a regular file");
        expect_error(iflow_split_from_file(devices[i], 3, &sp, &err), &err, IFLOW_EINVAL,
                     devices[i], "not a regular file");
        expect_error(iflow_dataset_load_idx(devices[i], devices[i], 0, &a, &err), &err,
                     IFLOW_EINVAL, devices[i], "not a regular file");
    }
    char fifo[300];
    snprintf(fifo, sizeof fifo, "%s", tmp_path("fifo"));
    ck_assert_int_eq(mkfifo(fifo, 0600), 0); /* no writer: open would block */
    expect_error(iflow_dataset_load_csv(fifo, &a, &err), &err, IFLOW_EINVAL, "fifo",
                 "not a regular file");
    expect_error(iflow_dataset_load_idx(fifo, fifo, 0, &a, &err), &err, IFLOW_EINVAL, "fifo",
                 "not a regular file");
    iflow_matrix *m = NULL;
    expect_error(iflow_matrix_load(fifo, &m, &err), &err, IFLOW_EPARSE, "fifo", "no data rows");
    /* 17 MiB without a newline: refused at the cap, not grown without bound. */
    FILE *f = fopen(tmp_path("endless.csv"), "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < (17 << 20) / 8; i++) fputs("1,1,1,1,", f);
    ck_assert_int_eq(fclose(f), 0);
    a = (iflow_dataset *)1;
    expect_error(iflow_dataset_load_csv(tmp_path("endless.csv"), &a, &err), &err, IFLOW_EPARSE,
                 "endless.csv:1:", "line longer than 16777216 bytes");
}
END_TEST

/* ---------------------------------------------------------------- IDX */

/* Writes an IDX file (plain, or gzip through zlib): 0 0 type ndims, big-endian u32 dims,
 * payload. */
static const char *write_idx(const char *name, int gz, int type, int ndims, const uint32_t *dims,
                             const unsigned char *payload, size_t len) {
    unsigned char buf[1024];
    size_t n = 0;
    buf[n++] = 0;
    buf[n++] = 0;
    buf[n++] = (unsigned char)type;
    buf[n++] = (unsigned char)ndims;
    for (int k = 0; k < ndims; k++)
        for (int s = 24; s >= 0; s -= 8) buf[n++] = (unsigned char)(dims[k] >> s);
    ck_assert_uint_le(n + len, sizeof buf);
    memcpy(buf + n, payload, len);
    n += len;
    if (!gz) return write_bytes(name, buf, n);
    const char *path = tmp_path(name);
    gzFile g = gzopen(path, "wb");
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(gzwrite(g, buf, (unsigned)n), (int)n);
    ck_assert_int_eq(gzclose(g), Z_OK);
    return path;
}

START_TEST(test_idx_good) {
    /* 5 images of 2 x 3 with pixel p = 50 i + 7 j (fits in a byte), labels 2 i mod 7. */
    unsigned char px[30], lab[5];
    for (int i = 0; i < 5; i++) {
        lab[i] = (unsigned char)(2 * i % 7);
        for (int j = 0; j < 6; j++) px[i * 6 + j] = (unsigned char)(50 * i + 7 * j);
    }
    for (int gz = 0; gz < 2; gz++) {
        const uint32_t idim[3] = {5, 2, 3}, ldim[1] = {5};
        const char *ip = write_idx(gz ? "i.gz" : "i.idx", gz, 8, 3, idim, px, 30);
        const char *lp = write_idx(gz ? "l.gz" : "l.idx", gz, 8, 1, ldim, lab, 5);
        iflow_dataset *ds;
        iflow_error err = {0};
        ck_assert_int_eq(iflow_dataset_load_idx(ip, lp, 0, &ds, &err), 0);
        ck_assert(ds->n == 5 && ds->d == 6);
        ck_assert_uint_eq(ds->n_classes, 7); /* labels 0 2 4 6 1 */
        for (int k = 0; k < 30; k++) ck_assert_double_eq_tol(ds->x[k], px[k] / 255.0, 1e-15);
        for (int i = 0; i < 5; i++) ck_assert_int_eq(ds->y[i], lab[i]);
        iflow_dataset_free(ds);

        ck_assert_int_eq(iflow_dataset_load_idx(ip, lp, 2, &ds, &err), 0);
        ck_assert(ds->n == 2 && ds->d == 6 && ds->n_classes == 3 && ds->x[11] == px[11] / 255.0);
        iflow_dataset_free(ds);
    }
    /* 2-D images (n, d). */
    const uint32_t idim2[2] = {3, 10}, ldim[1] = {3};
    const char *ip = write_idx("i2.idx", 0, 8, 2, idim2, px, 30);
    const char *lp = write_idx("l3.idx", 0, 8, 1, ldim, lab, 3);
    iflow_dataset *ds;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_dataset_load_idx(ip, lp, 100, &ds, &err), 0);
    ck_assert(ds->n == 3 && ds->d == 10 && ds->x[29] == px[29] / 255.0);
    iflow_dataset_free(ds);
}
END_TEST

static void expect_idx_error(const char *ip, const char *lp, int code, const char *who,
                             const char *frag) {
    iflow_dataset *ds = (iflow_dataset *)1;
    iflow_error err = {0};
    int rc = iflow_dataset_load_idx(ip, lp, 0, &ds, &err);
    ck_assert_ptr_null(ds);
    expect_error(rc, &err, code, who, frag);
}

START_TEST(test_idx_errors) {
    unsigned char px[30] = {0}, lab[5] = {0};
    const uint32_t idim[3] = {5, 2, 3}, ldim5[1] = {5}, ldim4[1] = {4};
    const char *ip = write_idx("ok-i.idx", 0, 8, 3, idim, px, 30);
    const char *lp = write_idx("ok-l.idx", 0, 8, 1, ldim5, lab, 5);
    for (int gz = 0; gz < 2; gz++) {
        const char *trunc = write_idx(gz ? "tr.gz" : "tr.idx", gz, 8, 3, idim, px, 29);
        expect_idx_error(trunc, lp, IFLOW_ECORRUPT, trunc,
                         "truncated: expected 30 bytes of pixel data, got 29");
    }
    const char *ltrunc = write_idx("ltr.idx", 0, 8, 1, ldim5, lab, 3);
    expect_idx_error(ip, ltrunc, IFLOW_ECORRUPT, ltrunc, "expected 5 bytes of labels, got 3");
    const char *l4 = write_idx("l4.gz", 1, 8, 1, ldim4, lab, 4);
    expect_idx_error(ip, l4, IFLOW_EINVAL, l4, "5 images");
    const char *ftype = write_idx("f.idx", 0, 0x0D, 3, idim, px, 30);
    expect_idx_error(ftype, lp, IFLOW_EINVAL, ftype, "unsupported IDX type 0x0d");
    const char *magic = write_bytes("magic.idx", "\x1f\x00\x08\x03\x00\x00\x00\x05", 8);
    expect_idx_error(magic, lp, IFLOW_ECORRUPT, magic, "bad magic");
    expect_idx_error(lp, lp, IFLOW_EINVAL, lp, "1 dimensions, expected 2 to 3");
    expect_idx_error(ip, ip, IFLOW_EINVAL, ip, "3 dimensions, expected 1 to 1");
    const char *hdr = write_bytes("hdr.idx", "\x00\x00\x08\x03\x00\x00", 6);
    expect_idx_error(hdr, lp, IFLOW_ECORRUPT, hdr, "incomplete IDX header");
    const char *missing = tmp_path("absent.idx");
    expect_idx_error(missing, lp, IFLOW_EIO, missing, strerror(ENOENT));
}
END_TEST

/* First 200 Fashion-MNIST training rows, compared with the raw bytes read here through zlib.
 * Skipped (passes with a note) when the Debian package is not installed. */
START_TEST(test_fashion_mnist) {
    const char *ip = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";
    const char *lp = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz";
    if (access(ip, R_OK) != 0 || access(lp, R_OK) != 0) {
        fprintf(stderr, "test_fashion_mnist: skipped, %s not present\n", ip);
        return;
    }
    enum { N = 200, D = 784 };
    iflow_dataset *ds;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_dataset_load_idx(ip, lp, N, &ds, &err), 0);
    ck_assert(ds->n == N && ds->d == D);
    ck_assert_uint_le(ds->n_classes, 10);
    static unsigned char raw[16 + N * D];
    gzFile g = gzopen(ip, "rb");
    ck_assert_int_eq(gzread(g, raw, sizeof raw), (int)sizeof raw);
    gzclose(g);
    ck_assert_int_eq(raw[2], 8);
    ck_assert_int_eq(raw[3], 3);
    size_t nonzero = 0;
    for (size_t k = 0; k < (size_t)N * D; k++) {
        ck_assert(ds->x[k] >= 0 && ds->x[k] <= 1);
        ck_assert(ds->x[k] == raw[16 + k] / 255.0);
        nonzero += ds->x[k] > 0;
    }
    ck_assert_uint_gt(nonzero, (size_t)N * D / 10);
    int classes[10] = {0};
    for (size_t i = 0; i < N; i++) {
        ck_assert(ds->y[i] >= 0 && ds->y[i] <= 9);
        classes[ds->y[i]]++;
    }
    for (int c = 0; c < 10; c++) ck_assert_int_gt(classes[c], 0); /* 200 draws over 10 classes */
    iflow_dataset_free(ds);
}
END_TEST

/* ---------------------------------------------------------------- splits and subsets */

static void check_partition(const iflow_split *s, size_t n) {
    ck_assert_uint_eq(s->n_train + s->n_test, n);
    int *seen = calloc(n, sizeof *seen);
    for (size_t i = 0; i < s->n_train; i++) {
        if (i) ck_assert_uint_lt(s->train[i - 1], s->train[i]);
        seen[s->train[i]]++;
    }
    for (size_t i = 0; i < s->n_test; i++) {
        if (i) ck_assert_uint_lt(s->test[i - 1], s->test[i]);
        seen[s->test[i]]++;
    }
    for (size_t i = 0; i < n; i++) ck_assert_int_eq(seen[i], 1);
    free(seen);
}

START_TEST(test_split_fraction) {
    iflow_split *a, *b, *c;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_split_fraction(1000, 0.2, 7, &a, &err), 0);
    ck_assert_int_eq(iflow_split_fraction(1000, 0.2, 7, &b, &err), 0);
    ck_assert_int_eq(iflow_split_fraction(1000, 0.2, 8, &c, &err), 0);
    ck_assert_uint_eq(a->n_test, 200);
    check_partition(a, 1000);
    check_partition(c, 1000);
    ck_assert_int_eq(memcmp(a->test, b->test, 200 * sizeof *a->test), 0);
    ck_assert_int_ne(memcmp(a->test, c->test, 200 * sizeof *a->test), 0);
    iflow_split_free(a);
    iflow_split_free(b);
    iflow_split_free(c);
    iflow_split_free(NULL);
    /* round(0.25 * 10) = round(2.5) = 3; round(0.7 * 3) = round(2.1) = 2. */
    ck_assert_int_eq(iflow_split_fraction(10, 0.25, 1, &a, &err), 0);
    ck_assert_uint_eq(a->n_test, (size_t)llround(0.25 * 10));
    check_partition(a, 10);
    iflow_split_free(a);
    ck_assert_int_eq(iflow_split_fraction(3, 0.7, 1, &a, &err), 0);
    ck_assert_uint_eq(a->n_test, (size_t)llround(0.7 * 3));
    iflow_split_free(a);
    ck_assert_int_eq(iflow_split_fraction(5, 0.0, 1, &a, &err), 0);
    ck_assert(a->n_test == 0 && a->n_train == 5);
    iflow_split_free(a);
    const double bad[3] = {1.0, -0.1, NAN};
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(iflow_split_fraction(10, bad[k], 1, &a, &err), IFLOW_EINVAL);
        ck_assert_ptr_null(a);
        ck_assert_ptr_nonnull(strstr(err.msg, "test fraction"));
    }
}
END_TEST

static void expect_split_error(const char *name, const char *text, int code, const char *frag) {
    const char *path = write_text(name, text);
    iflow_split *s = (iflow_split *)1;
    iflow_error err = {0};
    int rc = iflow_split_from_file(path, 10, &s, &err);
    ck_assert_ptr_null(s);
    expect_error(rc, &err, code, path, frag);
}

START_TEST(test_split_file) {
    iflow_split *s;
    iflow_error err = {0};
    ck_assert_int_eq(
        iflow_split_from_file(write_text("s.txt", "# test rows\r\n7\n 0 \n\n3\r\n"), 10, &s, &err),
        0);
    ck_assert(s->n_test == 3 && s->test[0] == 0 && s->test[1] == 3 && s->test[2] == 7);
    check_partition(s, 10);
    iflow_split_free(s);
    expect_split_error("range.txt", "1\n10\n", IFLOW_EINVAL, ":2: row index 10 out of range");
    expect_split_error("dup.txt", "#\n4\n5\n4\n", IFLOW_EINVAL,
                       ":4: duplicate row index 4 (first on line 2)");
    expect_split_error("float.txt", "1\n2.0\n", IFLOW_EPARSE, ":2: '2.0' is not a row index");
    expect_split_error("negative.txt", "-1\n", IFLOW_EPARSE, ":1: '-1'");
    expect_split_error("two.txt", "1 2\n", IFLOW_EPARSE, ":1: '1 2'");
    expect_split_error("none.txt", "# nothing\n", IFLOW_EPARSE, "no row indices");
    const char *missing = tmp_path("nosplit.txt");
    ck_assert_int_eq(iflow_split_from_file(missing, 10, &s, &err), IFLOW_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, missing));
}
END_TEST

START_TEST(test_subset) {
    iflow_dataset *ds, *sub;
    iflow_error err = {0};
    ck_assert_int_eq(
        iflow_dataset_load_csv(write_text("sub.csv", "0,1,0\n2,3,1\n4,5,2\n6,7,1\n"), &ds, &err),
        0);
    const size_t idx[3] = {3, 0, 3};
    ck_assert_int_eq(iflow_dataset_subset(ds, idx, 3, &sub, &err), 0);
    ck_assert(sub->n == 3 && sub->d == 2 && sub->n_classes == 3);
    ck_assert(sub->x[0] == 6 && sub->x[1] == 7 && sub->x[2] == 0 && sub->x[5] == 7);
    ck_assert(sub->y[0] == 1 && sub->y[1] == 0 && sub->y[2] == 1);
    iflow_dataset_free(sub);
    ck_assert_int_eq(iflow_dataset_subset(ds, idx, 0, &sub, &err), 0);
    ck_assert_uint_eq(sub->n, 0);
    iflow_dataset_free(sub);
    const size_t bad[1] = {4};
    ck_assert_int_eq(iflow_dataset_subset(ds, bad, 1, &sub, &err), IFLOW_EINVAL);
    ck_assert_ptr_null(sub);
    ck_assert_ptr_nonnull(strstr(err.msg, "row index 4"));
    iflow_dataset_free(ds);
}
END_TEST

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/iflow-test-data-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    Suite *s = suite_create("data");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_szt12_real);
    tcase_add_test(tc, test_csv_good);
    tcase_add_test(tc, test_csv_long_line);
    tcase_add_test(tc, test_csv_errors);
    tcase_add_test(tc, test_matrix_csv);
    tcase_add_test(tc, test_npy_roundtrip);
    tcase_add_test(tc, test_npy_f4_fortran_1d);
    tcase_add_test(tc, test_npy_errors);
    tcase_add_test(tc, test_npy_save_shape_overflow);
    tcase_add_test(tc, test_npy_header_dict);
    tcase_add_test(tc, test_csv_bom_devices_long_lines);
    tcase_add_test(tc, test_idx_good);
    tcase_add_test(tc, test_idx_errors);
    tcase_add_test(tc, test_fashion_mnist);
    tcase_add_test(tc, test_split_fraction);
    tcase_add_test(tc, test_split_file);
    tcase_add_test(tc, test_subset);
    suite_add_tcase(s, tc);
    int failed = iflow_check_run(s);
    iflow_rmtree(tmpdir);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
