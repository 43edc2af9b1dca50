/* Checkpoints: a fixed little-endian header, then a zlib-compressed payload written field by field
 * (never a struct dump), so files are portable and every field is checked on load. */
#include "infoflow/checkpoint.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "io.h"

/* Header: magic[8], u32 version, u32 flags, u64 payload length, u64 compressed length,
 * u32 crc32(payload). No flags are defined; a set flag means a newer writer. Version 2 adds the
 * architecture (input shape and blocks) after the betas, and the RNG's normal generator version
 * (u32, 1 = v1, 2 = v2) after the RNG state; version 1 files (MLPs, normals v1, which every
 * version 1 writer used) still load. */
#define CKPT_MAGIC        "IFLOWCKP"
#define CKPT_MAGIC_LEN    8
#define CKPT_VERSION      2u
#define CKPT_BLOCK_FIELDS 8 /* u32 kind, units, kh, kw, stride, pad, pool, pool size */
#define CKPT_HEADER_LEN   36
#define CKPT_ZLIB_LEVEL   6
/* Deflate compresses by at most 1032:1, so payload length / 1032 > compressed length can only be
 * a corrupt header; checking it avoids a huge allocation. */
#define CKPT_MAX_RATIO 1032u

/* ---- little-endian encoding into a buffer of exactly the right size ---- */

typedef struct {
    unsigned char *buf;
    size_t len, pos;
} writer;

static void put_u8(writer *w, unsigned v) {
    assert(w->pos + 1 <= w->len);
    w->buf[w->pos++] = (unsigned char)v;
}

static void put_u32(writer *w, uint32_t v) {
    assert(w->pos + 4 <= w->len);
    for (int i = 0; i < 4; i++) w->buf[w->pos++] = (unsigned char)(v >> (8 * i));
}

static void put_u64(writer *w, uint64_t v) {
    assert(w->pos + 8 <= w->len);
    for (int i = 0; i < 8; i++) w->buf[w->pos++] = (unsigned char)(v >> (8 * i));
}

static void put_f64(writer *w, double x) {
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    put_u64(w, bits);
}

static uint32_t load_u32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static uint64_t load_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static double load_f64(const unsigned char *p) {
    uint64_t bits = load_u64(p);
    double x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

/* ---- bounds-checked decoding: a read past the end sets `bad` and yields 0 ---- */

typedef struct {
    const unsigned char *buf;
    size_t len, pos;
    int bad;
} reader;

static const unsigned char *take(reader *r, size_t n) {
    if (r->bad || n > r->len - r->pos) {
        r->bad = 1;
        return NULL;
    }
    const unsigned char *p = r->buf + r->pos;
    r->pos += n;
    return p;
}

static unsigned get_u8(reader *r) {
    const unsigned char *p = take(r, 1);
    return p ? p[0] : 0;
}

static uint32_t get_u32(reader *r) {
    const unsigned char *p = take(r, 4);
    return p ? load_u32(p) : 0;
}

static uint64_t get_u64(reader *r) {
    const unsigned char *p = take(r, 8);
    return p ? load_u64(p) : 0;
}

static double get_f64(reader *r) {
    const unsigned char *p = take(r, 8);
    return p ? load_f64(p) : 0.0;
}

/* Skips an array of n doubles and returns where it starts (NULL if it does not fit). The values
 * are decoded later, straight into the destination, once every check has passed. */
static const unsigned char *get_f64_array(reader *r, uint64_t n) {
    if (r->bad || n > (r->len - r->pos) / 8) {
        r->bad = 1;
        return NULL;
    }
    return take(r, (size_t)n * 8);
}

/* ---- payload layout ---- */

/* Everything a payload holds; arrays stay encoded in the payload buffer until applied. */
typedef struct {
    uint64_t epoch, config_hash;
    size_t n_layers;
    size_t widths[IFLOW_MAX_LAYERS + 1];
    uint32_t act;
    double leaky_slope;
    double beta[IFLOW_MAX_LAYERS + 1];
    iflow_shape input;                       /* version 1: (widths[0], 1, 1) */
    iflow_block block[IFLOW_MAX_LAYERS + 1]; /* version 1: dense blocks of the widths */
    uint64_t n_params;
    const unsigned char *params;
    int has_optim;
    iflow_optim_params op;
    int64_t step;
    uint64_t n_optim;
    const unsigned char *m, *v;
    int has_rng;
    uint64_t rng[4];
    iflow_normals normals;
} payload;

static size_t payload_size(const iflow_net *net, const iflow_optim *opt, const iflow_rng *rng) {
    size_t L = net->n_layers;
    size_t n = 8 + 8 + 4 + 4 * (L + 1) + 4 + 8 + 8 * (L - 1) + 8 + 8 * net->n_params + 1;
    n += 3 * 4 + 4 * CKPT_BLOCK_FIELDS * L; /* the architecture */
    if (opt) n += 4 + 6 * 8 + 8 + 8 + 16 * opt->n_params;
    n += 1;
    if (rng) n += 4 * 8 + 4;
    return n;
}

static void encode_payload(writer *w, const iflow_checkpoint_meta *meta, const iflow_net *net,
                           const iflow_optim *opt, const iflow_rng *rng) {
    put_u64(w, meta ? (uint64_t)meta->epoch : 0);
    put_u64(w, meta ? meta->config_hash : 0);
    put_u32(w, (uint32_t)net->n_layers);
    for (size_t l = 0; l <= net->n_layers; l++) put_u32(w, (uint32_t)net->widths[l]);
    put_u32(w, (uint32_t)net->act);
    put_f64(w, net->leaky_slope);
    for (size_t l = 1; l < net->n_layers; l++) put_f64(w, net->beta[l]);
    put_u32(w, (uint32_t)net->shape[0].c);
    put_u32(w, (uint32_t)net->shape[0].h);
    put_u32(w, (uint32_t)net->shape[0].w);
    for (size_t l = 1; l <= net->n_layers; l++) {
        const iflow_block *b = &net->block[l];
        const size_t f[CKPT_BLOCK_FIELDS] = {b->kind,   b->units, b->kh,   b->kw,
                                             b->stride, b->pad,   b->pool, b->pool_size};
        for (int i = 0; i < CKPT_BLOCK_FIELDS; i++) put_u32(w, (uint32_t)f[i]);
    }
    put_u64(w, net->n_params);
    for (size_t i = 0; i < net->n_params; i++) put_f64(w, net->params[i]);
    put_u8(w, opt != NULL);
    if (opt) {
        put_u32(w, (uint32_t)opt->p.kind);
        put_f64(w, opt->p.lr);
        put_f64(w, opt->p.momentum);
        put_f64(w, opt->p.weight_decay);
        put_f64(w, opt->p.beta1);
        put_f64(w, opt->p.beta2);
        put_f64(w, opt->p.eps);
        put_u64(w, (uint64_t)(int64_t)opt->step);
        put_u64(w, opt->n_params);
        for (size_t i = 0; i < opt->n_params; i++) put_f64(w, opt->m[i]);
        for (size_t i = 0; i < opt->n_params; i++) put_f64(w, opt->v[i]);
    }
    put_u8(w, rng != NULL);
    if (rng) {
        for (int i = 0; i < 4; i++) put_u64(w, rng->s[i]);
        put_u32(w, (uint32_t)rng->normals + 1);
    }
}

/* ---- save ---- */

/* Index of the first NaN or Inf in x[0..n), or -1. */
static long long first_nonfinite(const double *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return (long long)i;
    return -1;
}

/* A checkpoint that could not be loaded back is worse than none: refuse to write one. */
static int check_savable(const char *path, const iflow_checkpoint_meta *meta, const iflow_net *net,
                         const iflow_optim *opt, iflow_error *err) {
    if (meta && meta->epoch < 0)
        return iflow_error_set(err, IFLOW_EINVAL, "%s: negative epoch %ld", path, meta->epoch);
    if (net->n_layers < 1 || net->n_layers > IFLOW_MAX_LAYERS)
        return iflow_error_set(err, IFLOW_EINVAL, "%s: net has %zu layers", path, net->n_layers);
    for (size_t l = 0; l <= net->n_layers; l++)
        if (net->widths[l] == 0 || net->widths[l] > UINT32_MAX)
            return iflow_error_set(err, IFLOW_EINVAL, "%s: width %zu of layer %zu out of range",
                                   path, net->widths[l], l);
    long long bad = first_nonfinite(net->params, net->n_params);
    if (bad >= 0)
        return iflow_error_set(err, IFLOW_ENUMERIC,
                               "%s: not saved: parameter %lld of the net is not finite", path, bad);
    if (!opt) return 0;
    if (opt->n_params != net->n_params)
        return iflow_error_set(err, IFLOW_EINVAL, "%s: optimiser has %zu parameters, net has %zu",
                               path, opt->n_params, net->n_params);
    long long bad_m = first_nonfinite(opt->m, opt->n_params);
    long long bad_v = first_nonfinite(opt->v, opt->n_params);
    if (bad_m >= 0 || bad_v >= 0)
        return iflow_error_set(err, IFLOW_ENUMERIC,
                               "%s: not saved: optimiser state %s[%lld] is not finite", path,
                               bad_m >= 0 ? "m" : "v", bad_m >= 0 ? bad_m : bad_v);
    if (opt->step < 0)
        return iflow_error_set(err, IFLOW_EINVAL, "%s: negative optimiser step %ld", path,
                               opt->step);
    return 0;
}

static void encode_header(unsigned char *h, size_t payload_len, size_t comp_len, uint32_t crc) {
    writer w = {h, CKPT_HEADER_LEN, 0};
    memcpy(h, CKPT_MAGIC, CKPT_MAGIC_LEN);
    w.pos = CKPT_MAGIC_LEN;
    put_u32(&w, CKPT_VERSION);
    put_u32(&w, 0); /* flags */
    put_u64(&w, payload_len);
    put_u64(&w, comp_len);
    put_u32(&w, crc);
}

static int write_file(const char *path, const unsigned char *header, const unsigned char *comp,
                      size_t comp_len, iflow_error *err) {
    iflow_atomic a;
    int rc = iflow_atomic_open(&a, path, err);
    if (rc) return rc;
    if (fwrite(header, 1, CKPT_HEADER_LEN, a.f) != CKPT_HEADER_LEN ||
        fwrite(comp, 1, comp_len, a.f) != comp_len) {
        int saved = errno;
        iflow_atomic_abort(&a);
        return iflow_error_set(err, IFLOW_EIO, "%s: write failed: %s", path, strerror(saved));
    }
    return iflow_atomic_commit(&a, err);
}

int iflow_checkpoint_save(const char *path, const iflow_checkpoint_meta *meta, const iflow_net *net,
                          const iflow_optim *opt, const iflow_rng *rng, iflow_error *err) {
    int rc = check_savable(path, meta, net, opt, err);
    if (rc) return rc;
    size_t len = payload_size(net, opt, rng);
    uLongf comp_len = compressBound((uLong)len);
    unsigned char *buf = malloc(len), *comp = malloc(comp_len);
    if (!buf || !comp) {
        rc = iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory for a %zu-byte checkpoint", path,
                             len);
        goto done;
    }
    writer w = {buf, len, 0};
    encode_payload(&w, meta, net, opt, rng);
    assert(w.pos == len); /* payload_size and encode_payload agree */
    int zrc = compress2(comp, &comp_len, buf, (uLong)len, CKPT_ZLIB_LEVEL);
    if (zrc != Z_OK) {
        rc = iflow_error_set(err, zrc == Z_MEM_ERROR ? IFLOW_ENOMEM : IFLOW_EIO,
                             "%s: compression failed: %s", path, zError(zrc));
        goto done;
    }
    unsigned char header[CKPT_HEADER_LEN];
    encode_header(header, len, comp_len, (uint32_t)crc32_z(0L, buf, len));
    rc = write_file(path, header, comp, comp_len, err);
done:
    free(buf);
    free(comp);
    return rc;
}

/* ---- load: file and header ---- */

static int read_whole_file(const char *path, unsigned char **out, size_t *size, iflow_error *err) {
    int regular = 0; /* a FIFO named like a checkpoint must not block the open */
    FILE *f = iflow_open_read(path, &regular, NULL);
    if (!f)
        return iflow_error_set(err, IFLOW_EIO, "%s: cannot open checkpoint: %s", path,
                               strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return iflow_error_set(err, IFLOW_EIO, "%s: not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    unsigned char *data = malloc(n ? n : 1);
    if (!data) {
        fclose(f);
        return iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory reading %zu bytes", path, n);
    }
    size_t got = fread(data, 1, n, f);
    int failed = ferror(f);
    fclose(f);
    if (failed || got != n) {
        free(data);
        return iflow_error_set(err, IFLOW_EIO, "%s: read failed after %zu of %zu bytes", path, got,
                               n);
    }
    *out = data;
    *size = n;
    return 0;
}

typedef struct {
    uint64_t payload_len, comp_len;
    uint32_t crc, version;
} header;

static int parse_header(const char *path, const unsigned char *d, size_t size, header *h,
                        iflow_error *err) {
    size_t n_magic = size < CKPT_MAGIC_LEN ? size : CKPT_MAGIC_LEN;
    if (size == 0)
        return iflow_error_set(err, IFLOW_ECORRUPT, "%s: empty file, not an infoflow checkpoint",
                               path);
    if (memcmp(d, CKPT_MAGIC, n_magic) != 0)
        return iflow_error_set(err, IFLOW_ECORRUPT, "%s: not an infoflow checkpoint", path);
    if (size < CKPT_HEADER_LEN)
        return iflow_error_set(err, IFLOW_ECORRUPT,
                               "%s: truncated: %zu bytes, shorter than the %d-byte header", path,
                               size, CKPT_HEADER_LEN);
    uint32_t version = load_u32(d + 8), flags = load_u32(d + 12);
    if (version > CKPT_VERSION)
        return iflow_error_set(err, IFLOW_ECORRUPT,
                               "%s: checkpoint format version %u is newer than this infoflow (%u)",
                               path, version, CKPT_VERSION);
    if (version < 1)
        return iflow_error_set(err, IFLOW_ECORRUPT, "%s: unknown checkpoint format version %u",
                               path, version);
    if (flags != 0)
        return iflow_error_set(err, IFLOW_ECORRUPT,
                               "%s: unknown header flags 0x%x (written by a newer infoflow?)", path,
                               flags);
    h->version = version;
    h->payload_len = load_u64(d + 16);
    h->comp_len = load_u64(d + 24);
    h->crc = load_u32(d + 32);
    uint64_t have = size - CKPT_HEADER_LEN;
    if (h->comp_len > have)
        return iflow_error_set(err, IFLOW_ECORRUPT,
                               "%s: truncated: header promises %llu compressed bytes, file has "
                               "%llu",
                               path, (unsigned long long)h->comp_len, (unsigned long long)have);
    if (h->comp_len < have)
        return iflow_error_set(err, IFLOW_ECORRUPT,
                               "%s: %llu unexpected bytes after the compressed payload", path,
                               (unsigned long long)(have - h->comp_len));
    if (h->payload_len / CKPT_MAX_RATIO > h->comp_len || h->payload_len > SIZE_MAX / 2)
        return iflow_error_set(err, IFLOW_ECORRUPT,
                               "%s: corrupt header: payload length %llu is impossible for %llu "
                               "compressed bytes",
                               path, (unsigned long long)h->payload_len,
                               (unsigned long long)h->comp_len);
    return 0;
}

/* Inflates the compressed part and checks its length and CRC; *out is the payload. */
static int inflate_payload(const char *path, const unsigned char *comp, const header *h,
                           unsigned char **out, iflow_error *err) {
    unsigned char *buf = malloc(h->payload_len ? h->payload_len : 1);
    if (!buf)
        return iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory for a %llu-byte payload", path,
                               (unsigned long long)h->payload_len);
    uLongf len = (uLongf)h->payload_len;
    int zrc = uncompress(buf, &len, comp, (uLong)h->comp_len);
    int rc = 0;
    if (zrc == Z_MEM_ERROR)
        rc = iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory decompressing", path);
    else if (zrc == Z_BUF_ERROR || (zrc == Z_OK && len != h->payload_len))
        rc = iflow_error_set(err, IFLOW_ECORRUPT,
                             "%s: corrupt: compressed data does not decompress to the %llu bytes "
                             "the header promises",
                             path, (unsigned long long)h->payload_len);
    else if (zrc != Z_OK)
        rc = iflow_error_set(err, IFLOW_ECORRUPT, "%s: corrupt compressed data (zlib: %s)", path,
                             zError(zrc));
    else if ((uint32_t)crc32_z(0L, buf, len) != h->crc)
        rc = iflow_error_set(err, IFLOW_ECORRUPT, "%s: CRC mismatch: file is corrupt", path);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    return 0;
}

/* ---- load: payload ---- */

static int corrupt_payload(const char *path, const reader *r, const char *what, iflow_error *err) {
    if (r->bad)
        return iflow_error_set(err, IFLOW_ECORRUPT, "%s: corrupt payload: ends early (%zu bytes)",
                               path, r->len);
    return iflow_error_set(err, IFLOW_ECORRUPT, "%s: corrupt payload: %s", path, what);
}

/* A NaN or Inf among n encoded doubles: its index, or -1. */
static long long encoded_nonfinite(const unsigned char *p, uint64_t n) {
    for (uint64_t i = 0; i < n; i++)
        if (!isfinite(load_f64(p + 8 * i))) return (long long)i;
    return -1;
}

/* Version 2's architecture: the input shape and one block per layer, checked by the same
 * rules as a config's; the widths stored before must agree with it. */
static int parse_arch(const char *path, reader *r, payload *pl, iflow_error *err) {
    pl->input.c = get_u32(r);
    pl->input.h = get_u32(r);
    pl->input.w = get_u32(r);
    for (size_t l = 1; l <= pl->n_layers; l++) {
        uint32_t f[CKPT_BLOCK_FIELDS];
        for (int i = 0; i < CKPT_BLOCK_FIELDS; i++) f[i] = get_u32(r);
        if (f[0] > IFLOW_BLOCK_CONV || f[6] > IFLOW_POOL_AVG)
            return corrupt_payload(path, r, "unknown block or pooling kind", err);
        pl->block[l] = (iflow_block){.kind = (iflow_block_kind)f[0],
                                     .units = f[1],
                                     .kh = f[2],
                                     .kw = f[3],
                                     .stride = f[4],
                                     .pad = f[5],
                                     .pool = (iflow_pool)f[6],
                                     .pool_size = f[7]};
    }
    if (r->bad) return corrupt_payload(path, r, "", err);
    iflow_shape sh[IFLOW_MAX_LAYERS + 1];
    iflow_error e = {0};
    if (iflow_net_block_shapes(pl->input, pl->n_layers, pl->block + 1, sh, &e))
        return iflow_error_set(err, IFLOW_ECORRUPT, "%s: corrupt payload: %s", path, e.msg);
    for (size_t l = 0; l <= pl->n_layers; l++)
        if (sh[l].c * sh[l].h * sh[l].w != pl->widths[l])
            return corrupt_payload(path, r, "widths do not match the blocks", err);
    return 0;
}

/* Parameters the architecture has: W (rows x cols) and b (rows) per block. */
static uint64_t arch_params(const payload *pl) {
    uint64_t total = 0;
    iflow_shape in = pl->input;
    for (size_t l = 1; l <= pl->n_layers; l++) {
        const iflow_block *b = &pl->block[l];
        uint64_t cols = b->kind == IFLOW_BLOCK_CONV ? (uint64_t)in.c * b->kh * b->kw
                                                    : (uint64_t)pl->widths[l - 1];
        total += (uint64_t)b->units * (cols + 1);
        in.c = b->units; /* only the channels matter for the next conv's kernel */
    }
    return total;
}

/* Shape and parameters: n_layers, widths, activation, leaky slope, beta, the architecture
 * (version >= 2), params. */
static int parse_net(const char *path, reader *r, uint32_t version, payload *pl, iflow_error *err) {
    uint32_t n_layers = get_u32(r);
    if (r->bad || n_layers < 1 || n_layers > IFLOW_MAX_LAYERS)
        return corrupt_payload(path, r, "layer count out of range", err);
    pl->n_layers = n_layers;
    for (size_t l = 0; l <= pl->n_layers; l++) {
        pl->widths[l] = get_u32(r);
        if (!r->bad && pl->widths[l] == 0) return corrupt_payload(path, r, "zero width", err);
    }
    pl->act = get_u32(r);
    pl->leaky_slope = get_f64(r);
    for (size_t l = 1; l < pl->n_layers; l++) pl->beta[l] = get_f64(r);
    if (r->bad || pl->act > IFLOW_ACT_LINEAR)
        return corrupt_payload(path, r, "unknown activation", err);
    if (version >= 2) {
        int rc = parse_arch(path, r, pl, err);
        if (rc) return rc;
    } else { /* an MLP */
        pl->input = (iflow_shape){pl->widths[0], 1, 1};
        for (size_t l = 1; l <= pl->n_layers; l++)
            pl->block[l] = (iflow_block){.kind = IFLOW_BLOCK_DENSE, .units = pl->widths[l]};
    }
    pl->n_params = get_u64(r);
    if (r->bad) return corrupt_payload(path, r, "", err);
    if (pl->n_params != arch_params(pl))
        return corrupt_payload(path, r, "parameter count does not match the widths", err);
    pl->params = get_f64_array(r, pl->n_params);
    if (r->bad) return corrupt_payload(path, r, "", err);
    int beta_ok = isfinite(pl->leaky_slope);
    for (size_t l = 1; l < pl->n_layers; l++) beta_ok &= isfinite(pl->beta[l]) && pl->beta[l] >= 0;
    if (!beta_ok) return corrupt_payload(path, r, "non-finite leaky slope or beta", err);
    long long bad = encoded_nonfinite(pl->params, pl->n_params);
    if (bad >= 0)
        return iflow_error_set(err, IFLOW_ECORRUPT, "%s: parameter %lld is not finite (NaN or Inf)",
                               path, bad);
    return 0;
}

static int parse_optim(const char *path, reader *r, payload *pl, iflow_error *err) {
    unsigned has = get_u8(r);
    if (r->bad || has > 1) return corrupt_payload(path, r, "bad optimiser flag", err);
    pl->has_optim = (int)has;
    if (!has) return 0;
    uint32_t kind = get_u32(r);
    pl->op.kind = kind == IFLOW_OPT_ADAM ? IFLOW_OPT_ADAM : IFLOW_OPT_SGD;
    double *hyper[6] = {&pl->op.lr,    &pl->op.momentum, &pl->op.weight_decay,
                        &pl->op.beta1, &pl->op.beta2,    &pl->op.eps};
    int finite = 1;
    for (int i = 0; i < 6; i++) finite &= isfinite(*hyper[i] = get_f64(r));
    pl->step = (int64_t)get_u64(r);
    pl->n_optim = get_u64(r);
    if (r->bad || kind > IFLOW_OPT_ADAM)
        return corrupt_payload(path, r, "unknown optimiser kind", err);
    if (!finite || pl->step < 0 || pl->step > LONG_MAX)
        return corrupt_payload(path, r, "optimiser settings or step out of range", err);
    if (pl->n_optim != pl->n_params)
        return corrupt_payload(path, r, "optimiser size differs from the parameter count", err);
    pl->m = get_f64_array(r, pl->n_optim);
    pl->v = get_f64_array(r, pl->n_optim);
    if (r->bad) return corrupt_payload(path, r, "", err);
    long long bad_m = encoded_nonfinite(pl->m, pl->n_optim);
    long long bad_v = encoded_nonfinite(pl->v, pl->n_optim);
    if (bad_m >= 0 || bad_v >= 0)
        return iflow_error_set(err, IFLOW_ECORRUPT,
                               "%s: optimiser state %s[%lld] is not finite (NaN or Inf)", path,
                               bad_m >= 0 ? "m" : "v", bad_m >= 0 ? bad_m : bad_v);
    return 0;
}

static int parse_payload(const char *path, const unsigned char *buf, size_t len, uint32_t version,
                         payload *pl, iflow_error *err) {
    reader r = {buf, len, 0, 0};
    memset(pl, 0, sizeof *pl);
    pl->epoch = get_u64(&r);
    pl->config_hash = get_u64(&r);
    if (!r.bad && pl->epoch > LONG_MAX) return corrupt_payload(path, &r, "epoch too large", err);
    int rc = parse_net(path, &r, version, pl, err);
    if (!rc) rc = parse_optim(path, &r, pl, err);
    if (rc) return rc;
    unsigned has = get_u8(&r);
    if (r.bad || has > 1) return corrupt_payload(path, &r, "bad RNG flag", err);
    pl->has_rng = (int)has;
    for (int i = 0; has && i < 4; i++) pl->rng[i] = get_u64(&r);
    uint32_t normals = has && version >= 2 ? get_u32(&r) : 1;
    if (r.bad) return corrupt_payload(path, &r, "", err);
    if (normals < 1 || normals > IFLOW_NORMALS_COUNT)
        return corrupt_payload(path, &r, "unknown normal generator version", err);
    pl->normals = (iflow_normals)(normals - 1);
    /* xoshiro's all-zero state is a fixed point: it would emit zeros forever. */
    if (has && !(pl->rng[0] | pl->rng[1] | pl->rng[2] | pl->rng[3]))
        return corrupt_payload(path, &r, "RNG state is all zero", err);
    if (r.pos != len) return corrupt_payload(path, &r, "unexpected bytes after the RNG state", err);
    return 0;
}

/* ---- load: compare with the destination, then apply ---- */

static void format_widths(char *out, size_t n, const size_t *widths, size_t n_layers) {
    size_t pos = 0;
    out[0] = '\0';
    for (size_t l = 0; l <= n_layers && pos < n; l++) {
        int k = snprintf(out + pos, n - pos, l ? "-%zu" : "%zu", widths[l]);
        if (k < 0) break;
        pos += (size_t)k;
    }
}

/* Field by field: the structs have padding. Conv-only fields of dense blocks do not count. */
static int same_block(const iflow_block *a, const iflow_block *b) {
    if (a->kind != b->kind || a->units != b->units) return 0;
    return a->kind == IFLOW_BLOCK_DENSE ||
           (a->kh == b->kh && a->kw == b->kw && a->stride == b->stride && a->pad == b->pad &&
            a->pool == b->pool && (a->pool == IFLOW_POOL_NONE || a->pool_size == b->pool_size));
}

/* "1x28x28: conv 16 5x5 pad 2 maxpool 2, dense 10" */
static void format_arch(char *out, size_t n, const iflow_shape *in, const iflow_block *block,
                        size_t n_layers) {
    int pos = snprintf(out, n, "%zux%zux%zu:", in->c, in->h, in->w);
    for (size_t l = 1; l <= n_layers && pos >= 0 && (size_t)pos < n; l++) {
        char text[128];
        iflow_block_format(&block[l], text, sizeof text);
        pos += snprintf(out + pos, n - (size_t)pos, "%s %s", l > 1 ? "," : "", text);
    }
}

static int check_net(const char *path, const payload *pl, const iflow_net *net, iflow_error *err) {
    int same = pl->n_layers == net->n_layers;
    for (size_t l = 0; same && l <= pl->n_layers; l++) same = pl->widths[l] == net->widths[l];
    if (!same) {
        char have[400], want[400];
        format_widths(have, sizeof have, pl->widths, pl->n_layers);
        format_widths(want, sizeof want, net->widths, net->n_layers);
        return iflow_error_set(err, IFLOW_EINVAL, "%s: checkpoint is for a %s net, expected %s",
                               path, have, want);
    }
    int same_arch = !memcmp(&pl->input, &net->shape[0], sizeof pl->input);
    for (size_t l = 1; same_arch && l <= pl->n_layers; l++)
        same_arch = same_block(&pl->block[l], &net->block[l]);
    if (!same_arch) {
        char have[600], want[600];
        format_arch(have, sizeof have, &pl->input, pl->block, pl->n_layers);
        format_arch(want, sizeof want, &net->shape[0], net->block, net->n_layers);
        return iflow_error_set(err, IFLOW_EINVAL, "%s: checkpoint is for the net %s, expected %s",
                               path, have, want);
    }
    if (pl->act != (uint32_t)net->act)
        return iflow_error_set(err, IFLOW_EINVAL, "%s: checkpoint is for a %s net, expected %s",
                               path, iflow_activation_name((iflow_activation)pl->act),
                               iflow_activation_name(net->act));
    if (net->act == IFLOW_ACT_LEAKY_RELU && pl->leaky_slope != net->leaky_slope)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "%s: checkpoint has leaky_relu slope %.17g, expected %.17g", path,
                               pl->leaky_slope, net->leaky_slope);
    /* The noise level defines the model whose information flow is measured, so a resumed run
     * with another beta would silently mix two experiments. */
    for (size_t l = 1; l < pl->n_layers; l++)
        if (pl->beta[l] != net->beta[l])
            return iflow_error_set(err, IFLOW_EINVAL,
                                   "%s: checkpoint has beta[%zu] = %.17g, expected %.17g", path, l,
                                   pl->beta[l], net->beta[l]);
    if (pl->n_params != net->n_params)
        return iflow_error_set(err, IFLOW_EINVAL, "%s: checkpoint has %llu parameters, net has %zu",
                               path, (unsigned long long)pl->n_params, net->n_params);
    return 0;
}

static int check_optim_rng(const char *path, const payload *pl, const iflow_optim *opt,
                           const iflow_rng *rng, iflow_error *err) {
    if (opt && !pl->has_optim)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "%s: checkpoint holds no optimiser state (weights only)", path);
    if (opt && pl->op.kind != opt->p.kind)
        return iflow_error_set(
            err, IFLOW_EINVAL, "%s: checkpoint has %s optimiser state, expected %s", path,
            iflow_optimizer_name(pl->op.kind), iflow_optimizer_name(opt->p.kind));
    if (opt && pl->n_optim != opt->n_params)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "%s: checkpoint has optimiser state for %llu parameters, "
                               "expected %zu",
                               path, (unsigned long long)pl->n_optim, opt->n_params);
    if (rng && !pl->has_rng)
        return iflow_error_set(err, IFLOW_EINVAL, "%s: checkpoint holds no RNG state", path);
    return 0;
}

static void decode_f64s(double *dst, const unsigned char *src, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) dst[i] = load_f64(src + 8 * i);
}

/* Only called once every check has passed, so a failed load changes nothing. The optimiser's
 * hyperparameters are restored too: a resumed run continues exactly as the saved one would. */
static void apply(const payload *pl, iflow_checkpoint_meta *meta, iflow_net *net, iflow_optim *opt,
                  iflow_rng *rng) {
    decode_f64s(net->params, pl->params, pl->n_params);
    if (opt) {
        opt->p = pl->op;
        opt->step = (long)pl->step;
        decode_f64s(opt->m, pl->m, pl->n_optim);
        decode_f64s(opt->v, pl->v, pl->n_optim);
    }
    if (rng) {
        memcpy(rng->s, pl->rng, sizeof rng->s);
        rng->normals = pl->normals;
    }
    if (meta) {
        meta->epoch = (long)pl->epoch;
        meta->config_hash = pl->config_hash;
    }
}

/* Reads, inflates and parses path into pl. On success *file and *buf hold the bytes pl points
 * into (the caller frees both); on failure they are freed and NULL. */
static int read_payload(const char *path, unsigned char **file, unsigned char **buf, payload *pl,
                        iflow_error *err) {
    size_t size = 0;
    header h = {0, 0, 0, 0};
    *file = *buf = NULL;
    int rc = read_whole_file(path, file, &size, err);
    if (!rc) rc = parse_header(path, *file, size, &h, err);
    if (!rc) rc = inflate_payload(path, *file + CKPT_HEADER_LEN, &h, buf, err);
    if (!rc) rc = parse_payload(path, *buf, (size_t)h.payload_len, h.version, pl, err);
    if (rc) {
        free(*buf);
        free(*file);
        *file = *buf = NULL;
    }
    return rc;
}

int iflow_checkpoint_load(const char *path, iflow_checkpoint_meta *meta, iflow_net *net,
                          iflow_optim *opt, iflow_rng *rng, iflow_error *err) {
    unsigned char *file, *buf;
    payload pl;
    int rc = read_payload(path, &file, &buf, &pl, err);
    if (!rc) rc = check_net(path, &pl, net, err);
    if (!rc) rc = check_optim_rng(path, &pl, opt, rng, err);
    if (!rc) apply(&pl, meta, net, opt, rng);
    free(buf);
    free(file);
    return rc;
}

int iflow_checkpoint_load_net(const char *path, iflow_checkpoint_meta *meta, iflow_net **out,
                              iflow_error *err) {
    unsigned char *file, *buf;
    payload pl;
    *out = NULL;
    int rc = read_payload(path, &file, &buf, &pl, err);
    iflow_net *net = NULL;
    iflow_error net_err;
    if (!rc &&
        (rc = iflow_net_new_blocks(pl.input, pl.n_layers, pl.block + 1, (iflow_activation)pl.act,
                                   pl.leaky_slope, pl.beta + 1, &net, &net_err)))
        iflow_error_set(err, rc, "%s: %s", path, net_err.msg);
    if (!rc) {
        apply(&pl, meta, net, NULL, NULL);
        *out = net;
    }
    free(buf);
    free(file);
    return rc;
}
