/* Tests of checkpoints: bit-exact round trips, the documented byte layout, and that every kind
 * of damage (truncation, flipped bits, foreign or future files, wrong shapes) is an error that
 * leaves the destination untouched. */
#include <check.h>
#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "infoflow/checkpoint.h"
#include "check_util.h"

#define HEADER_LEN 36

static char tmpdir[256];

static void make_tmpdir(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/iflow-ckpt-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void) {
    DIR *d = opendir(tmpdir);
    if (!d) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
            remove(p);
        }
    closedir(d);
    rmdir(tmpdir);
}

static const char *tmp_path(const char *name) {
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

static unsigned char *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *d = malloc(*n + 1);
    ck_assert_uint_eq(fread(d, 1, *n, f), *n);
    fclose(f);
    return d;
}

static void write_bytes(const char *path, const unsigned char *d, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(d, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

static void put_le32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void put_le64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* ---- fixtures: nets, optimisers and snapshots of everything a load may change ---- */

static iflow_net *make_net(size_t n_widths, const size_t *widths, iflow_activation act,
                           const double *beta, uint64_t seed) {
    iflow_net *net;
    iflow_error err;
    ck_assert_int_eq(iflow_net_new(n_widths, widths, act, 0.01, beta, &net, &err), 0);
    iflow_rng r;
    iflow_rng_init(&r, seed, 1);
    for (size_t i = 0; i < net->n_params; i++) net->params[i] = iflow_rng_normal(&r);
    /* Values that a lossy or text encoding would not keep. */
    net->params[0] = -0.0;
    net->params[1] = 4.9406564584124654e-324;
    net->params[2] = DBL_MAX;
    net->params[3] = 1.0 / 3.0;
    return net;
}

static iflow_optim *make_opt(iflow_optimizer kind, size_t n, uint64_t seed) {
    iflow_optim_params p = {kind, 0.01, 0.9, 1e-4, 0.9, 0.999, 1e-8};
    iflow_optim *o;
    iflow_error err;
    ck_assert_int_eq(iflow_optim_new(&p, n, &o, &err), 0);
    iflow_rng r;
    iflow_rng_init(&r, seed, 2);
    for (size_t i = 0; i < n; i++) {
        o->m[i] = iflow_rng_normal(&r);
        o->v[i] = iflow_rng_uniform(&r) * 1e-3;
    }
    o->step = 123456;
    o->p.lr = 0.0123; /* differs from a freshly made one: the load must restore it */
    return o;
}

typedef struct {
    size_t n_params, n_optim;
    double *params, *m, *v;
    iflow_optim_params p;
    long step;
    iflow_rng rng;
    iflow_checkpoint_meta meta;
} snapshot;

static snapshot snap(const iflow_net *net, const iflow_optim *opt, const iflow_rng *rng,
                     const iflow_checkpoint_meta *meta) {
    snapshot s = {0};
    s.n_params = net->n_params;
    s.params = malloc(s.n_params * sizeof(double));
    memcpy(s.params, net->params, s.n_params * sizeof(double));
    if (opt) {
        s.n_optim = opt->n_params;
        s.m = malloc(s.n_optim * sizeof(double) + 1);
        s.v = malloc(s.n_optim * sizeof(double) + 1);
        memcpy(s.m, opt->m, s.n_optim * sizeof(double));
        memcpy(s.v, opt->v, s.n_optim * sizeof(double));
        s.p = opt->p;
        s.step = opt->step;
    }
    if (rng) s.rng = *rng;
    if (meta) s.meta = *meta;
    return s;
}

static void snap_free(snapshot *s) {
    free(s->params);
    free(s->m);
    free(s->v);
}

static int same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* Bitwise equality of everything in s with the given objects (NULL ones are skipped). */
static void assert_matches(const snapshot *s, const iflow_net *net, const iflow_optim *opt,
                           const iflow_rng *rng, const iflow_checkpoint_meta *meta) {
    ck_assert_uint_eq(net->n_params, s->n_params);
    ck_assert(memcmp(net->params, s->params, s->n_params * sizeof(double)) == 0);
    if (opt) {
        ck_assert_uint_eq(opt->n_params, s->n_optim);
        ck_assert(memcmp(opt->m, s->m, s->n_optim * sizeof(double)) == 0);
        ck_assert(memcmp(opt->v, s->v, s->n_optim * sizeof(double)) == 0);
        ck_assert_int_eq(opt->p.kind, s->p.kind);
        ck_assert(same_bits(opt->p.lr, s->p.lr) && same_bits(opt->p.momentum, s->p.momentum));
        ck_assert(same_bits(opt->p.weight_decay, s->p.weight_decay));
        ck_assert(same_bits(opt->p.beta1, s->p.beta1) && same_bits(opt->p.beta2, s->p.beta2));
        ck_assert(same_bits(opt->p.eps, s->p.eps));
        ck_assert_int_eq(opt->step, s->step);
    }
    if (rng) ck_assert(memcmp(rng->s, s->rng.s, sizeof rng->s) == 0);
    if (meta) {
        ck_assert_int_eq(meta->epoch, s->meta.epoch);
        ck_assert_uint_eq(meta->config_hash, s->meta.config_hash);
    }
}

/* A small complete checkpoint (3-4-2 tanh net, Adam, RNG) used by the corruption tests, and a
 * differently filled destination of the same shape. */
typedef struct {
    iflow_net *net, *dst_net;
    iflow_optim *opt, *dst_opt;
    iflow_rng rng, dst_rng;
    iflow_checkpoint_meta meta, dst_meta;
} pair;

static const size_t small_widths[] = {3, 4, 2};
static const double small_beta[] = {0.1};

static pair make_pair(const char *path) {
    pair p;
    p.net = make_net(3, small_widths, IFLOW_ACT_TANH, small_beta, 1);
    p.dst_net = make_net(3, small_widths, IFLOW_ACT_TANH, small_beta, 2);
    p.opt = make_opt(IFLOW_OPT_ADAM, p.net->n_params, 3);
    p.dst_opt = make_opt(IFLOW_OPT_ADAM, p.net->n_params, 4);
    iflow_rng_init(&p.rng, 5, 0);
    iflow_rng_init(&p.dst_rng, 6, 0);
    p.meta = (iflow_checkpoint_meta){17, 0xfeedfacecafebeefULL};
    p.dst_meta = (iflow_checkpoint_meta){-1, 1};
    iflow_error err;
    ck_assert_int_eq(iflow_checkpoint_save(path, &p.meta, p.net, p.opt, &p.rng, &err), 0);
    return p;
}

static void pair_free(pair *p) {
    iflow_net_free(p->net);
    iflow_net_free(p->dst_net);
    iflow_optim_free(p->opt);
    iflow_optim_free(p->dst_opt);
}

/* Loads path into p's destination expecting failure with `code`; checks nothing changed. */
static void expect_fail(pair *p, const char *path, int code, iflow_error *err) {
    snapshot before = snap(p->dst_net, p->dst_opt, &p->dst_rng, &p->dst_meta);
    int rc = iflow_checkpoint_load(path, &p->dst_meta, p->dst_net, p->dst_opt, &p->dst_rng, err);
    ck_assert_int_eq(rc, code);
    ck_assert_int_eq(err->code, code);
    ck_assert_ptr_nonnull(strstr(err->msg, path));
    assert_matches(&before, p->dst_net, p->dst_opt, &p->dst_rng, &p->dst_meta);
    snap_free(&before);
}

/* ---- round trips ---- */

START_TEST(test_round_trip) {
    const size_t widths[] = {12, 10, 7, 2};
    const double beta[] = {0.05, 0.25};
    iflow_net *net = make_net(4, widths, IFLOW_ACT_LEAKY_RELU, beta, 10);
    iflow_optim *opt = make_opt(IFLOW_OPT_ADAM, net->n_params, 11);
    iflow_rng rng;
    iflow_rng_init(&rng, 12, 3);
    for (int i = 0; i < 77; i++) iflow_rng_u64(&rng);
    iflow_checkpoint_meta meta = {42, 0x0123456789abcdefULL};
    snapshot saved = snap(net, opt, &rng, &meta);
    const char *path = tmp_path("round.ckpt");
    iflow_error err;
    ck_assert_int_eq(iflow_checkpoint_save(path, &meta, net, opt, &rng, &err), 0);

    /* Into the same objects after scrambling them. */
    for (size_t i = 0; i < net->n_params; i++) net->params[i] = opt->m[i] = opt->v[i] = 7.0;
    opt->step = 0;
    opt->p.lr = 1;
    iflow_rng_init(&rng, 0, 0);
    meta = (iflow_checkpoint_meta){0, 0};
    ck_assert_int_eq(iflow_checkpoint_load(path, &meta, net, opt, &rng, &err), 0);
    assert_matches(&saved, net, opt, &rng, &meta);

    /* Into freshly allocated ones (zero parameters, default optimiser settings). */
    iflow_net *net2;
    ck_assert_int_eq(iflow_net_new(4, widths, IFLOW_ACT_LEAKY_RELU, 0.01, beta, &net2, &err), 0);
    iflow_optim_params p = {IFLOW_OPT_ADAM, 0.5, 0, 0, 0.8, 0.9, 1e-6};
    iflow_optim *opt2;
    ck_assert_int_eq(iflow_optim_new(&p, net2->n_params, &opt2, &err), 0);
    iflow_rng rng2 = {{1, 2, 3, 4}, IFLOW_NORMALS_V1};
    iflow_checkpoint_meta meta2 = {0, 0};
    ck_assert_int_eq(iflow_checkpoint_load(path, &meta2, net2, opt2, &rng2, &err), 0);
    assert_matches(&saved, net2, opt2, &rng2, &meta2);
    /* The layer views still point into the restored block: W_3 of the 7 -> 2 layer. */
    ck_assert(same_bits(net2->w[3][0], saved.params[12 * 10 + 10 + 10 * 7 + 7]));

    /* meta, opt and rng may each be left out of a load of a full checkpoint. */
    memset(net2->params, 0, net2->n_params * sizeof(double));
    ck_assert_int_eq(iflow_checkpoint_load(path, NULL, net2, NULL, NULL, &err), 0);
    assert_matches(&saved, net2, NULL, NULL, NULL);

    snap_free(&saved);
    iflow_net_free(net);
    iflow_net_free(net2);
    iflow_optim_free(opt);
    iflow_optim_free(opt2);
}
END_TEST

START_TEST(test_rng_continues) {
    iflow_rng rng, restored;
    iflow_rng_init(&rng, 2019, 9);
    for (int i = 0; i < 1000; i++) iflow_rng_normal(&rng);
    iflow_net *net = make_net(3, small_widths, IFLOW_ACT_RELU, NULL, 1);
    const char *path = tmp_path("rng.ckpt");
    iflow_error err;
    ck_assert_int_eq(iflow_checkpoint_save(path, NULL, net, NULL, &rng, &err), 0);
    iflow_rng_init(&restored, 1, 1);
    ck_assert_int_eq(iflow_checkpoint_load(path, NULL, net, NULL, &restored, &err), 0);
    for (int i = 0; i < 1000; i++) {
        ck_assert_uint_eq(iflow_rng_u64(&rng), iflow_rng_u64(&restored));
        double a = iflow_rng_normal(&rng), b = iflow_rng_normal(&restored);
        ck_assert(same_bits(a, b));
    }
    iflow_net_free(net);
}
END_TEST

START_TEST(test_weights_only) {
    const size_t widths[] = {5, 3};
    iflow_net *net = make_net(2, widths, IFLOW_ACT_SIGMOID, NULL, 3);
    iflow_net *dst = make_net(2, widths, IFLOW_ACT_SIGMOID, NULL, 4);
    iflow_optim *opt = make_opt(IFLOW_OPT_SGD, net->n_params, 5);
    iflow_rng rng;
    iflow_rng_init(&rng, 1, 2);
    const char *path = tmp_path("weights.ckpt");
    iflow_error err;
    iflow_checkpoint_meta meta = {3, 99}, got = {0, 0};
    ck_assert_int_eq(iflow_checkpoint_save(path, &meta, net, NULL, NULL, &err), 0);

    /* Asking for optimiser or RNG state that is not there fails and changes nothing. */
    snapshot before = snap(dst, opt, &rng, &got);
    ck_assert_int_eq(iflow_checkpoint_load(path, &got, dst, opt, NULL, &err), IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "no optimiser state"));
    ck_assert_int_eq(iflow_checkpoint_load(path, &got, dst, NULL, &rng, &err), IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "no RNG state"));
    assert_matches(&before, dst, opt, &rng, &got);

    ck_assert_int_eq(iflow_checkpoint_load(path, &got, dst, NULL, NULL, &err), 0);
    snapshot saved = snap(net, NULL, NULL, &meta);
    assert_matches(&saved, dst, NULL, NULL, &got);
    /* A weights-only file is smaller than one with SGD state (m and v of every parameter). */
    const char *full = tmp_path("full.ckpt");
    ck_assert_int_eq(iflow_checkpoint_save(full, &meta, net, opt, &rng, &err), 0);
    size_t n_w, n_f;
    free(read_bytes(path, &n_w));
    free(read_bytes(full, &n_f));
    ck_assert_uint_lt(n_w, n_f);
    snap_free(&before);
    snap_free(&saved);
    iflow_net_free(net);
    iflow_net_free(dst);
    iflow_optim_free(opt);
}
END_TEST

/* The bytes follow the layout documented in checkpoint.h and the brief, decoded here
 * independently of the library. */
START_TEST(test_byte_layout) {
    const char *path = tmp_path("layout.ckpt");
    pair p = make_pair(path);
    size_t n;
    unsigned char *d = read_bytes(path, &n);
    ck_assert(memcmp(d, "IFLOWCKP", 8) == 0);
    ck_assert_uint_eq(le32(d + 8), 2);
    ck_assert_uint_eq(le32(d + 12), 0);
    uint64_t len = le64(d + 16), comp_len = le64(d + 24);
    ck_assert_uint_eq(comp_len, n - HEADER_LEN);
    unsigned char *pl = malloc(len);
    uLongf got = (uLongf)len;
    ck_assert_int_eq(uncompress(pl, &got, d + HEADER_LEN, (uLong)comp_len), Z_OK);
    ck_assert_uint_eq(got, len);
    ck_assert_uint_eq(le32(d + 32), crc32(0L, pl, (uInt)len));

    const iflow_net *net = p.net;
    size_t P = net->n_params, at = 0;
    ck_assert_uint_eq(le64(pl), 17);
    ck_assert_uint_eq(le64(pl + 8), p.meta.config_hash);
    ck_assert_uint_eq(le32(pl + 16), 2);
    for (int l = 0; l < 3; l++) ck_assert_uint_eq(le32(pl + 20 + 4 * l), small_widths[l]);
    ck_assert_uint_eq(le32(pl + 32), IFLOW_ACT_TANH);
    at = 36 + 8; /* leaky slope */
    uint64_t bits;
    memcpy(&bits, &small_beta[0], 8);
    ck_assert_uint_eq(le64(pl + at), bits);
    at += 8;
    /* Version 2: the input shape (12 x 1 x 1), then kind, units, kh, kw, stride, pad, pool,
     * pool size of each block (dense blocks here: zeros except the units). */
    ck_assert_uint_eq(le32(pl + at), small_widths[0]);
    ck_assert_uint_eq(le32(pl + at + 4), 1);
    ck_assert_uint_eq(le32(pl + at + 8), 1);
    at += 12;
    for (int l = 1; l < 3; l++, at += 32) {
        ck_assert_uint_eq(le32(pl + at), IFLOW_BLOCK_DENSE);
        ck_assert_uint_eq(le32(pl + at + 4), small_widths[l]);
        for (int f = 2; f < 8; f++) ck_assert_uint_eq(le32(pl + at + 4 * f), 0);
    }
    ck_assert_uint_eq(le64(pl + at), P);
    at += 8;
    for (size_t i = 0; i < P; i++, at += 8) {
        memcpy(&bits, &net->params[i], 8);
        ck_assert_uint_eq(le64(pl + at), bits);
    }
    ck_assert_uint_eq(pl[at], 1);
    ck_assert_uint_eq(le32(pl + at + 1), IFLOW_OPT_ADAM);
    at += 1 + 4 + 6 * 8;
    ck_assert_uint_eq(le64(pl + at), 123456);
    ck_assert_uint_eq(le64(pl + at + 8), P);
    at += 16 + 16 * P;
    ck_assert_uint_eq(pl[at], 1);
    for (int i = 0; i < 4; i++) ck_assert_uint_eq(le64(pl + at + 1 + 8 * i), p.rng.s[i]);
    ck_assert_uint_eq(le32(pl + at + 1 + 32), 1); /* normals v1 */
    ck_assert_uint_eq(at + 1 + 32 + 4, len);
    free(pl);
    free(d);
    pair_free(&p);
}
END_TEST

/* ---- damage ---- */

START_TEST(test_truncated_everywhere) {
    const char *path = tmp_path("trunc.ckpt"), *cut = tmp_path("cut.ckpt");
    pair p = make_pair(path);
    size_t n;
    unsigned char *d = read_bytes(path, &n);
    iflow_error err;
    for (size_t k = 0; k < n; k++) {
        write_bytes(cut, d, k);
        expect_fail(&p, cut, IFLOW_ECORRUPT, &err);
        if (k >= HEADER_LEN) ck_assert_ptr_nonnull(strstr(err.msg, "truncated"));
    }
    /* Extra bytes after the compressed data are an error too. */
    d = realloc(d, n + 1);
    d[n] = 0;
    write_bytes(cut, d, n + 1);
    expect_fail(&p, cut, IFLOW_ECORRUPT, &err);
    free(d);
    pair_free(&p);
}
END_TEST

static void restore(const snapshot *s, iflow_net *net, iflow_optim *opt, iflow_rng *rng,
                    iflow_checkpoint_meta *meta) {
    memcpy(net->params, s->params, s->n_params * sizeof(double));
    memcpy(opt->m, s->m, s->n_optim * sizeof(double));
    memcpy(opt->v, s->v, s->n_optim * sizeof(double));
    opt->p = s->p;
    opt->step = s->step;
    *rng = s->rng;
    *meta = s->meta;
}

/* Every single-bit flip in the header and the compressed part is caught (zlib's own checks, the
 * length checks or the CRC): never a crash, never a load of different data. A few flips are
 * harmless and may load: deflate can encode the same bytes two ways (e.g. a back-reference
 * whose distance changes by one inside a run of zero bytes); such a load must then yield
 * exactly the saved data. */
START_TEST(test_every_bit_flip) {
    const char *path = tmp_path("flip.ckpt"), *bad = tmp_path("flipped.ckpt");
    pair p = make_pair(path);
    snapshot src = snap(p.net, p.opt, &p.rng, &p.meta);
    size_t n;
    unsigned char *d = read_bytes(path, &n);
    iflow_error err;
    int crc_errors = 0, zlib_errors = 0, same_data = 0;
    for (size_t i = 0; i < n; i++)
        for (int b = 0; b < 8; b++) {
            d[i] ^= (unsigned char)(1u << b);
            write_bytes(bad, d, n);
            snapshot before = snap(p.dst_net, p.dst_opt, &p.dst_rng, &p.dst_meta);
            int rc =
                iflow_checkpoint_load(bad, &p.dst_meta, p.dst_net, p.dst_opt, &p.dst_rng, &err);
            if (rc == 0) {
                ck_assert_uint_ge(i, HEADER_LEN); /* every header bit matters */
                assert_matches(&src, p.dst_net, p.dst_opt, &p.dst_rng, &p.dst_meta);
                restore(&before, p.dst_net, p.dst_opt, &p.dst_rng, &p.dst_meta);
                same_data++;
            } else {
                ck_assert_int_eq(rc, IFLOW_ECORRUPT);
                assert_matches(&before, p.dst_net, p.dst_opt, &p.dst_rng, &p.dst_meta);
            }
            snap_free(&before);
            crc_errors += strstr(err.msg, "CRC mismatch") != NULL;
            zlib_errors += strstr(err.msg, "zlib") != NULL;
            d[i] ^= (unsigned char)(1u << b);
        }
    /* Both detectors are exercised: flips in the stored CRC itself, and in the deflate data;
     * harmless re-encodings are rare. */
    ck_assert_int_ge(crc_errors, 32);
    ck_assert_int_gt(zlib_errors, 100);
    ck_assert_int_lt(same_data, 16);
    /* The undamaged file still loads (the loop restored every bit). */
    write_bytes(bad, d, n);
    ck_assert_int_eq(iflow_checkpoint_load(bad, NULL, p.dst_net, NULL, NULL, &err), 0);
    free(d);
    snap_free(&src);
    pair_free(&p);
}
END_TEST

START_TEST(test_foreign_and_future_files) {
    const char *path = tmp_path("ok.ckpt"), *bad = tmp_path("bad.ckpt");
    pair p = make_pair(path);
    size_t n;
    unsigned char *d = read_bytes(path, &n);
    iflow_error err;
    char want[700];

    d[0] = 'X';
    write_bytes(bad, d, n);
    expect_fail(&p, bad, IFLOW_ECORRUPT, &err);
    snprintf(want, sizeof want, "%s: not an infoflow checkpoint", bad);
    ck_assert_str_eq(err.msg, want);
    d[0] = 'I';

    put_le32(d + 8, 7);
    write_bytes(bad, d, n);
    expect_fail(&p, bad, IFLOW_ECORRUPT, &err);
    snprintf(want, sizeof want, "%s: checkpoint format version 7 is newer than this infoflow (2)",
             bad);
    ck_assert_str_eq(err.msg, want);
    put_le32(d + 8, 0);
    write_bytes(bad, d, n);
    expect_fail(&p, bad, IFLOW_ECORRUPT, &err);
    put_le32(d + 8, 2);

    put_le32(d + 12, 4); /* a flag this version does not know */
    write_bytes(bad, d, n);
    expect_fail(&p, bad, IFLOW_ECORRUPT, &err);
    put_le32(d + 12, 0);

    /* A payload length no deflate stream of this size can produce (no huge allocation). */
    put_le64(d + 16, UINT64_MAX / 2);
    write_bytes(bad, d, n);
    expect_fail(&p, bad, IFLOW_ECORRUPT, &err);

    write_bytes(bad, (const unsigned char *)"", 0);
    expect_fail(&p, bad, IFLOW_ECORRUPT, &err);
    ck_assert_ptr_nonnull(strstr(err.msg, "empty file"));

    write_bytes(bad, (const unsigned char *)"epoch,loss\n1,2\n", 15);
    expect_fail(&p, bad, IFLOW_ECORRUPT, &err);
    ck_assert_ptr_nonnull(strstr(err.msg, "not an infoflow checkpoint"));

    const char *missing = tmp_path("missing.ckpt");
    expect_fail(&p, missing, IFLOW_EIO, &err);
    ck_assert_ptr_nonnull(strstr(err.msg, "No such file"));
    expect_fail(&p, tmpdir, IFLOW_EIO, &err); /* a directory */
    free(d);
    pair_free(&p);
}
END_TEST

/* Decompresses path's payload (the test's own decoder). */
static unsigned char *payload_of(const char *path, size_t *len) {
    size_t n;
    unsigned char *d = read_bytes(path, &n);
    *len = (size_t)le64(d + 16);
    unsigned char *pl = malloc(*len + 1);
    uLongf got = (uLongf)*len;
    ck_assert_int_eq(uncompress(pl, &got, d + HEADER_LEN, (uLong)(n - HEADER_LEN)), Z_OK);
    free(d);
    return pl;
}

/* Writes a well-formed file (valid header, lengths and CRC) around an arbitrary payload, to
 * reach the payload parser's own checks. */
static void write_with_payload(const char *path, const unsigned char *pl, size_t len) {
    const uint32_t version = 2;
    uLongf comp_len = compressBound((uLong)len);
    unsigned char *d = malloc(HEADER_LEN + comp_len);
    ck_assert_int_eq(compress2(d + HEADER_LEN, &comp_len, pl, (uLong)len, 6), Z_OK);
    memcpy(d, "IFLOWCKP", 8);
    put_le32(d + 8, version);
    put_le32(d + 12, 0);
    put_le64(d + 16, len);
    put_le64(d + 24, comp_len);
    put_le32(d + 32, (uint32_t)crc32(0L, pl, (uInt)len));
    write_bytes(path, d, HEADER_LEN + comp_len);
    free(d);
}

/* Normals v2 is restored with the state, so a resumed run draws its noise as before; a
 * format 1 file (no generator field) loads as v1; an unknown generator is refused. */
START_TEST(test_normals_version) {
    iflow_rng rng, restored;
    iflow_rng_init(&rng, 2019, 9);
    rng.normals = IFLOW_NORMALS_V2;
    double a[100], b[100];
    iflow_rng_fill_normal(&rng, a, 100, 1.0);
    iflow_net *net = make_net(3, small_widths, IFLOW_ACT_RELU, NULL, 1);
    const char *path = tmp_path("normals.ckpt"), *old = tmp_path("format1.ckpt");
    iflow_error err;
    ck_assert_int_eq(iflow_checkpoint_save(path, NULL, net, NULL, &rng, &err), 0);
    iflow_rng_init(&restored, 1, 1);
    ck_assert_int_eq(iflow_checkpoint_load(path, NULL, net, NULL, &restored, &err), 0);
    ck_assert_int_eq(restored.normals, IFLOW_NORMALS_V2);
    iflow_rng_fill_normal(&rng, a, 100, 1.0);
    iflow_rng_fill_normal(&restored, b, 100, 1.0);
    for (int i = 0; i < 100; i++) ck_assert(same_bits(a[i], b[i]));

    size_t len;
    unsigned char *pl = payload_of(path, &len);
    ck_assert_uint_eq(le32(pl + len - 4), 2);
    /* A file written by the format 1 writer (tests/data/v1-run, see test_faults): v1. */
    const char *src = getenv("IFLOW_SRCDIR");
    ck_assert_ptr_nonnull(src);
    char v1[1024];
    snprintf(v1, sizeof v1, "%s/tests/data/v1-run/checkpoints/epoch-000001.ckpt", src);
    iflow_net *v1net = NULL;
    ck_assert_msg(iflow_checkpoint_load_net(v1, NULL, &v1net, &err) == 0, "%s", err.msg);
    restored.normals = IFLOW_NORMALS_V2;
    ck_assert_msg(iflow_checkpoint_load(v1, NULL, v1net, NULL, &restored, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(restored.normals, IFLOW_NORMALS_V1);
    iflow_net_free(v1net);
    put_le32(pl + len - 4, 3);
    write_with_payload(old, pl, len);
    restored.normals = IFLOW_NORMALS_V2;
    ck_assert_int_eq(iflow_checkpoint_load(old, NULL, net, NULL, &restored, &err), IFLOW_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "unknown normal generator version"));
    ck_assert_int_eq(restored.normals, IFLOW_NORMALS_V2); /* untouched by the failed load */
    free(pl);
    iflow_net_free(net);
}
END_TEST

/* Payloads cut short at every length but with a valid CRC: the parser's bounds checks must
 * catch each one on its own. */
START_TEST(test_short_payload_valid_crc) {
    const char *path = tmp_path("pl.ckpt"), *bad = tmp_path("plbad.ckpt");
    pair p = make_pair(path);
    size_t len;
    unsigned char *pl = payload_of(path, &len);
    iflow_error err;
    for (size_t k = 0; k < len; k++) {
        write_with_payload(bad, pl, k);
        expect_fail(&p, bad, IFLOW_ECORRUPT, &err);
        ck_assert_ptr_nonnull(strstr(err.msg, "corrupt payload"));
    }
    pl = realloc(pl, len + 3);
    memset(pl + len, 0, 3);
    write_with_payload(bad, pl, len + 3);
    expect_fail(&p, bad, IFLOW_ECORRUPT, &err);
    write_with_payload(bad, pl, len); /* the control: the untouched payload loads */
    ck_assert_int_eq(iflow_checkpoint_load(bad, NULL, p.dst_net, NULL, NULL, &err), 0);
    free(pl);
    pair_free(&p);
}
END_TEST

/* NaN or Inf stored in a checkpoint, and out-of-range fields, are refused. */
START_TEST(test_bad_values_in_payload) {
    const char *path = tmp_path("v.ckpt"), *bad = tmp_path("vbad.ckpt");
    pair p = make_pair(path);
    size_t len, P = p.net->n_params;
    unsigned char *pl = payload_of(path, &len);
    unsigned char *copy = malloc(len);
    iflow_error err;
    /* 3-4-2 net: one beta, then (version 2) the input shape and 2 blocks of 8 u32 */
    const size_t params_at = 36 + 8 + 8 * 1 + 12 + 2 * 32 + 8;
    const size_t optim_at = params_at + 8 * P, m_at = optim_at + 1 + 4 + 48 + 16;
    const size_t rng_at = m_at + 16 * P;
    struct {
        size_t offset, width;
        uint64_t value;
        const char *msg;
    } cases[] = {
        {params_at + 8 * 5, 8, 0x7ff8000000000000ULL, "parameter 5 is not finite"}, /* NaN */
        {params_at, 8, 0xfff0000000000000ULL, "parameter 0 is not finite"},         /* -Inf */
        {m_at + 8 * 2, 8, 0x7ff0000000000000ULL, "m[2] is not finite"},
        {m_at + 8 * (P + 1), 8, 0x7ff8000000000001ULL, "v[1] is not finite"},
        {32, 4, 99, "unknown activation"},
        {16, 4, 0, "layer count"},
        {20, 4, 0, "zero width"},
        {optim_at, 1, 2, "bad optimiser flag"},
        {optim_at + 1, 4, 5, "unknown optimiser kind"},
        {m_at - 16, 8, UINT64_MAX, "step out of range"}, /* step = -1 */
        {rng_at, 1, 7, "bad RNG flag"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        memcpy(copy, pl, len);
        for (size_t i = 0; i < cases[c].width; i++)
            copy[cases[c].offset + i] = (unsigned char)(cases[c].value >> (8 * i));
        write_with_payload(bad, copy, len);
        expect_fail(&p, bad, IFLOW_ECORRUPT, &err);
        ck_assert_msg(strstr(err.msg, cases[c].msg), "case %zu: %s", c, err.msg);
    }
    memcpy(copy, pl, len);
    memset(copy + rng_at + 1, 0, 32); /* xoshiro cannot run from the all-zero state */
    write_with_payload(bad, copy, len);
    expect_fail(&p, bad, IFLOW_ECORRUPT, &err);
    ck_assert_ptr_nonnull(strstr(err.msg, "all zero"));
    free(copy);
    free(pl);
    pair_free(&p);
}
END_TEST

/* ---- shape mismatches ---- */

START_TEST(test_wrong_shape) {
    const char *path = tmp_path("shape.ckpt");
    const size_t w_small[] = {12, 10, 2}, w_big[] = {12, 10, 7, 2};
    const double beta[] = {0.1, 0.1};
    iflow_net *net = make_net(3, w_small, IFLOW_ACT_TANH, beta, 1);
    iflow_optim *opt = make_opt(IFLOW_OPT_SGD, net->n_params, 2);
    iflow_rng rng;
    iflow_rng_init(&rng, 3, 3);
    iflow_error err;
    ck_assert_int_eq(iflow_checkpoint_save(path, NULL, net, opt, &rng, &err), 0);
    pair p = {0};
    char want[700];

    p.dst_net = make_net(4, w_big, IFLOW_ACT_TANH, beta, 4);
    p.dst_opt = make_opt(IFLOW_OPT_SGD, p.dst_net->n_params, 5);
    expect_fail(&p, path, IFLOW_EINVAL, &err);
    snprintf(want, sizeof want, "%s: checkpoint is for a 12-10-2 net, expected 12-10-7-2", path);
    ck_assert_str_eq(err.msg, want);
    pair_free(&p);

    const size_t w_wide[] = {12, 11, 2};
    p.dst_net = make_net(3, w_wide, IFLOW_ACT_TANH, beta, 4);
    p.dst_opt = NULL;
    expect_fail(&p, path, IFLOW_EINVAL, &err);
    ck_assert_ptr_nonnull(strstr(err.msg, "12-10-2 net, expected 12-11-2"));
    pair_free(&p);

    p.dst_net = make_net(3, w_small, IFLOW_ACT_RELU, beta, 4);
    expect_fail(&p, path, IFLOW_EINVAL, &err);
    ck_assert_ptr_nonnull(strstr(err.msg, "tanh net, expected relu"));
    pair_free(&p);

    const double other_beta[] = {0.2};
    p.dst_net = make_net(3, w_small, IFLOW_ACT_TANH, other_beta, 4);
    expect_fail(&p, path, IFLOW_EINVAL, &err);
    ck_assert_ptr_nonnull(strstr(err.msg, "beta[1]"));
    pair_free(&p);

    /* Right net, wrong optimiser: the net must not be half-loaded. */
    p.dst_net = make_net(3, w_small, IFLOW_ACT_TANH, beta, 4);
    p.dst_opt = make_opt(IFLOW_OPT_ADAM, p.dst_net->n_params, 5);
    expect_fail(&p, path, IFLOW_EINVAL, &err);
    ck_assert_ptr_nonnull(strstr(err.msg, "sgd optimiser state, expected adam"));
    iflow_optim_free(p.dst_opt);
    p.dst_opt = make_opt(IFLOW_OPT_SGD, p.dst_net->n_params + 1, 5);
    expect_fail(&p, path, IFLOW_EINVAL, &err);
    ck_assert_ptr_nonnull(strstr(err.msg, "optimiser state for"));
    iflow_optim_free(p.dst_opt);
    p.dst_opt = make_opt(IFLOW_OPT_SGD, p.dst_net->n_params, 5);
    ck_assert_int_eq(iflow_checkpoint_load(path, NULL, p.dst_net, p.dst_opt, NULL, &err), 0);
    pair_free(&p);
    iflow_net_free(net);
    iflow_optim_free(opt);
}
END_TEST

/* ---- saving ---- */

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

START_TEST(test_save_errors) {
    /* This test case owns its own directory listing: a fresh subdirectory. */
    char dir[600];
    snprintf(dir, sizeof dir, "%s/save", tmpdir);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    char path[700], tmp[720], nowhere[700];
    snprintf(path, sizeof path, "%s/a.ckpt", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    snprintf(nowhere, sizeof nowhere, "%s/no/such/dir/a.ckpt", dir);
    iflow_net *net = make_net(3, small_widths, IFLOW_ACT_TANH, small_beta, 1);
    iflow_error err;

    ck_assert_int_eq(iflow_checkpoint_save(nowhere, NULL, net, NULL, NULL, &err), IFLOW_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "no/such/dir/a.ckpt"));
    ck_assert_int_eq(count_entries(dir), 0);

    iflow_checkpoint_meta first = {1, 1}, second = {2, 2}, got;
    ck_assert_int_eq(iflow_checkpoint_save(path, &first, net, NULL, NULL, &err), 0);
    ck_assert_int_eq(count_entries(dir), 1); /* a.ckpt only: the .tmp was renamed */
    ck_assert_int_ne(access(tmp, F_OK), 0);
    ck_assert_int_eq(iflow_checkpoint_save(path, &second, net, NULL, NULL, &err), 0);
    ck_assert_int_eq(iflow_checkpoint_load(path, &got, net, NULL, NULL, &err), 0);
    ck_assert_int_eq(got.epoch, 2);

    /* A diverged net is refused, and the previous checkpoint stays intact. */
    double keep = net->params[4];
    net->params[4] = NAN;
    ck_assert_int_eq(iflow_checkpoint_save(path, &first, net, NULL, NULL, &err), IFLOW_ENUMERIC);
    ck_assert_ptr_nonnull(strstr(err.msg, "parameter 4"));
    net->params[4] = keep;
    ck_assert_int_eq(count_entries(dir), 1);
    ck_assert_int_eq(iflow_checkpoint_load(path, &got, net, NULL, NULL, &err), 0);
    ck_assert_int_eq(got.epoch, 2);

    iflow_checkpoint_meta negative = {-5, 0};
    ck_assert_int_eq(iflow_checkpoint_save(path, &negative, net, NULL, NULL, &err), IFLOW_EINVAL);
    iflow_optim *opt = make_opt(IFLOW_OPT_SGD, net->n_params + 2, 1);
    ck_assert_int_eq(iflow_checkpoint_save(path, NULL, net, opt, NULL, &err), IFLOW_EINVAL);
    ck_assert_int_eq(count_entries(dir), 1);
    remove(path);
    rmdir(dir);
    iflow_optim_free(opt);
    iflow_net_free(net);
}
END_TEST

/* ---- a checkpoint's net without knowing its shape (iflow_checkpoint_load_net) ---- */

START_TEST(test_load_net) {
    const size_t widths[] = {5, 4, 3, 2};
    const double beta[] = {0.125, 0};
    iflow_net *net = make_net(4, widths, IFLOW_ACT_LEAKY_RELU, beta, 21);
    net->leaky_slope = 0.2;
    iflow_checkpoint_meta meta = {7, 99};
    const char *path = tmp_path("net.ckpt");
    iflow_error err;
    ck_assert_int_eq(iflow_checkpoint_save(path, &meta, net, NULL, NULL, &err), 0);

    iflow_net *got = NULL;
    iflow_checkpoint_meta got_meta = {0, 0};
    ck_assert_int_eq(iflow_checkpoint_load_net(path, &got_meta, &got, &err), 0);
    ck_assert_int_eq(got_meta.epoch, 7);
    ck_assert_uint_eq(got_meta.config_hash, 99);
    size_t w[4], L = iflow_net_shape(got, NULL, NULL, NULL, NULL);
    double b[4], slope;
    iflow_activation act;
    ck_assert_uint_eq(L, 3);
    ck_assert_uint_eq(iflow_net_shape(got, w, b, &act, &slope), 3);
    for (size_t l = 0; l <= L; l++) ck_assert_uint_eq(w[l], widths[l]);
    ck_assert(b[0] == 0 && b[1] == 0.125 && b[2] == 0 && b[3] == 0);
    ck_assert_int_eq(act, IFLOW_ACT_LEAKY_RELU);
    ck_assert(same_bits(slope, 0.2));
    /* Layer by layer, W in the row-major d_out x d_in layout, then b: the params block. */
    size_t at = 0;
    for (size_t l = 1; l <= L; l++) {
        double wl[20], bl[4];
        ck_assert_int_eq(iflow_net_layer_params(got, l, wl, bl, &err), 0);
        for (size_t i = 0; i < widths[l] * widths[l - 1]; i++)
            ck_assert(same_bits(wl[i], net->params[at++]));
        for (size_t i = 0; i < widths[l]; i++) ck_assert(same_bits(bl[i], net->params[at++]));
    }
    ck_assert_uint_eq(at, net->n_params);
    ck_assert_int_eq(iflow_net_layer_params(got, 0, NULL, NULL, &err), IFLOW_EINVAL);
    ck_assert_int_eq(iflow_net_layer_params(got, 4, NULL, NULL, &err), IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "layer 4 out of range 1..3"));
    iflow_net_free(got);

    /* A damaged file: the loader's own message, and no net. */
    size_t n;
    unsigned char *bytes = read_bytes(path, &n);
    write_bytes(path, bytes, n - 1);
    got = (iflow_net *)&err; /* must be reset */
    ck_assert_int_eq(iflow_checkpoint_load_net(path, NULL, &got, &err), IFLOW_ECORRUPT);
    ck_assert_ptr_null(got);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    ck_assert_int_eq(iflow_checkpoint_load_net(tmp_path("missing.ckpt"), NULL, &got, &err),
                     IFLOW_EIO);
    ck_assert_ptr_null(got);
    free(bytes);
    iflow_net_free(net);
}
END_TEST

int main(void) {
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("core");
    tcase_add_unchecked_fixture(tc, make_tmpdir, remove_tmpdir);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_rng_continues);
    tcase_add_test(tc, test_normals_version);
    tcase_add_test(tc, test_weights_only);
    tcase_add_test(tc, test_byte_layout);
    tcase_add_test(tc, test_truncated_everywhere);
    tcase_add_test(tc, test_every_bit_flip);
    tcase_add_test(tc, test_foreign_and_future_files);
    tcase_add_test(tc, test_short_payload_valid_crc);
    tcase_add_test(tc, test_bad_values_in_payload);
    tcase_add_test(tc, test_wrong_shape);
    tcase_add_test(tc, test_save_errors);
    tcase_add_test(tc, test_load_net);
    suite_add_tcase(s, tc);
    int failed = iflow_check_run(s);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
