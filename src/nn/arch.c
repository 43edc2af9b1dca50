/* Architecture of block nets: output shapes and their checks, and the text form of blocks
 * ("conv 16 5x5 pad 2 maxpool 2", "dense 10") used by configs, net.txt and checkpoints' errors. */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "infoflow/conv.h"
#include "infoflow/net.h"

#define MAX_DIM ((size_t)1 << 24) /* any single size above this is a typo, not a net */

void iflow_block_format(const iflow_block *b, char *buf, size_t n) {
    if (b->kind == IFLOW_BLOCK_DENSE) {
        snprintf(buf, n, "dense %zu", b->units);
        return;
    }
    int len = snprintf(buf, n, "conv %zu %zux%zu", b->units, b->kh, b->kw);
    if (b->stride != 1 && len >= 0 && (size_t)len < n)
        len += snprintf(buf + len, n - (size_t)len, " stride %zu", b->stride);
    if (b->pad && len >= 0 && (size_t)len < n)
        len += snprintf(buf + len, n - (size_t)len, " pad %zu", b->pad);
    if (b->pool != IFLOW_POOL_NONE && len >= 0 && (size_t)len < n)
        snprintf(buf + len, n - (size_t)len, " %s %zu",
                 b->pool == IFLOW_POOL_MAX ? "maxpool" : "avgpool", b->pool_size);
}

/* 0 if c * h * w (no wrap-around: each factor may be up to 2^24) is at most MAX_DIM. */
static int shape_fits(iflow_shape s) {
    size_t count;
    return iflow_size_mul3(s.c, s.h, s.w, &count) == 0 && count <= MAX_DIM ? 0 : -1;
}

static int block_error(iflow_error *err, size_t l, const iflow_block *b, const char *what) {
    char text[128];
    iflow_block_format(b, text, sizeof text);
    return iflow_error_set(err, IFLOW_EINVAL, "block %zu (%s): %s", l, text, what);
}

/* The shape after block l (1-based) on input `in`. */
static int one_block(size_t l, int last, const iflow_block *b, iflow_shape in, iflow_shape *out,
                     iflow_error *err) {
    char msg[200];
    if (b->units == 0 || b->units > MAX_DIM) return block_error(err, l, b, "size must be 1..2^24");
    if (b->kind == IFLOW_BLOCK_DENSE) {
        if (b->pool != IFLOW_POOL_NONE) return block_error(err, l, b, "pooling needs a conv block");
        *out = (iflow_shape){b->units, 1, 1};
        return 0;
    }
    if (b->kind != IFLOW_BLOCK_CONV) return block_error(err, l, b, "unknown block kind");
    if (last) return block_error(err, l, b, "the last block must be dense (the logits)");
    if (b->kh == 0 || b->kw == 0 || b->stride == 0 || b->kh > MAX_DIM || b->kw > MAX_DIM ||
        b->stride > MAX_DIM || b->pad > MAX_DIM)
        return block_error(err, l, b, "kernel and stride must be 1..2^24, pad 0..2^24");
    iflow_conv_geom g = {.c_in = in.c,
                         .h_in = in.h,
                         .w_in = in.w,
                         .c_out = b->units,
                         .kh = b->kh,
                         .kw = b->kw,
                         .stride = b->stride,
                         .pad = b->pad};
    if (iflow_conv_geom_init(&g)) {
        snprintf(msg, sizeof msg, "kernel %zux%zu larger than the padded input %zux%zu", b->kh,
                 b->kw, in.h + 2 * b->pad, in.w + 2 * b->pad);
        return block_error(err, l, b, msg);
    }
    /* The kernel is one row of W: C_in x KH x KW values (checked, as every product of sizes). */
    if (shape_fits((iflow_shape){in.c, b->kh, b->kw}))
        return block_error(err, l, b, "kernel larger than 2^24 values (C_in x KH x KW)");
    *out = (iflow_shape){b->units, g.h_out, g.w_out};
    if (b->pool == IFLOW_POOL_NONE) return 0;
    if (b->pool_size == 0 || b->pool_size > MAX_DIM)
        return block_error(err, l, b, "pool size must be 1..2^24");
    if (b->pool_size > g.h_out || b->pool_size > g.w_out) {
        snprintf(msg, sizeof msg, "pool %zu larger than the conv output %zux%zu: output of size 0",
                 b->pool_size, g.h_out, g.w_out);
        return block_error(err, l, b, msg);
    }
    out->h = g.h_out / b->pool_size;
    out->w = g.w_out / b->pool_size;
    return 0;
}

int iflow_net_block_shapes(iflow_shape input, size_t n_blocks, const iflow_block *blocks,
                           iflow_shape *out, iflow_error *err) {
    if (n_blocks < 1 || n_blocks > IFLOW_MAX_LAYERS)
        return iflow_error_set(err, IFLOW_EINVAL, "net: %zu blocks given, need 1..%d", n_blocks,
                               IFLOW_MAX_LAYERS);
    if (!input.c || !input.h || !input.w || input.c > MAX_DIM || input.h > MAX_DIM ||
        input.w > MAX_DIM || shape_fits(input))
        return iflow_error_set(err, IFLOW_EINVAL,
                               "net: input shape %zux%zux%zu out of range (at most 2^24 values)",
                               input.c, input.h, input.w);
    out[0] = input;
    for (size_t l = 1; l <= n_blocks; l++) {
        int rc = one_block(l, l == n_blocks, &blocks[l - 1], out[l - 1], &out[l], err);
        if (rc) return rc;
        if (shape_fits(out[l]))
            return block_error(err, l, &blocks[l - 1], "output larger than 2^24 values");
    }
    return 0;
}

int iflow_net_block_info(const iflow_net *net, size_t l, size_t *info, iflow_error *err) {
    if (l < 1 || l > net->n_layers)
        return iflow_error_set(err, IFLOW_EINVAL, "net: block %zu out of range 1..%zu", l,
                               net->n_layers);
    const iflow_block *b = &net->block[l];
    const iflow_shape *out = &net->shape[l], *in = &net->shape[l - 1];
    const size_t v[IFLOW_BLOCK_INFO_N] = {
        (size_t)b->kind, b->units,     b->kh,  b->kw,  b->stride, b->pad,
        (size_t)b->pool, b->pool_size, out->c, out->h, out->w,    net->w_rows[l],
        net->w_cols[l],  in->c,        in->h,  in->w};
    memcpy(info, v, sizeof v);
    return 0;
}

void iflow_net_describe(const iflow_net *net, char *buf, size_t n) {
    size_t len = 0;
    const iflow_shape *in = &net->shape[0];
    len +=
        (size_t)snprintf(buf, n, "input  %zux%zux%zu = %zu\n", in->c, in->h, in->w, net->widths[0]);
    for (size_t l = 1; l <= net->n_layers && len < n; l++) {
        char text[128];
        iflow_block_format(&net->block[l], text, sizeof text);
        const iflow_shape *s = &net->shape[l];
        size_t params = net->w_rows[l] * (net->w_cols[l] + 1);
        len += (size_t)snprintf(
            buf + len, n - len, "%-5zu  %-32s  out %zux%zux%zu = %zu  params %zu%s\n", l, text,
            s->c, s->h, s->w, net->widths[l], params, l == net->n_layers ? "  (logits)" : "");
    }
    if (len < n) snprintf(buf + len, n - len, "total params %zu\n", net->n_params);
}
