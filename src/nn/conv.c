/* Convolution by im2col + cblas_dgemm, and max / average pooling, forward and backward, over
 * batches in (N, C, H, W) order. */
#include "infoflow/conv.h"

#include <cblas.h>
#include <string.h>

/* im2col chunks hold at most this many doubles (16 MB): big enough for efficient GEMMs, small
 * enough for a 12,544-wide layer. The chunk size depends on the geometry only. */
#define COL_BUDGET ((size_t)1 << 21)
/* Below this many im2col entries a chunk is copied by one thread: waking a team costs more. */
#define PARALLEL_MIN ((size_t)1 << 16)

int iflow_conv_geom_init(iflow_conv_geom *g) {
    if (!g->c_in || !g->h_in || !g->w_in || !g->c_out || !g->kh || !g->kw || !g->stride) return -1;
    if (g->kh > g->h_in + 2 * g->pad || g->kw > g->w_in + 2 * g->pad) return -1;
    g->h_out = (g->h_in + 2 * g->pad - g->kh) / g->stride + 1;
    g->w_out = (g->w_in + 2 * g->pad - g->kw) / g->stride + 1;
    return 0;
}

/* Samples per im2col chunk. */
static size_t chunk_samples(const iflow_conv_geom *g, size_t n) {
    size_t per = g->c_in * g->kh * g->kw * g->h_out * g->w_out;
    size_t c = per < COL_BUDGET ? COL_BUDGET / per : 1;
    return c < n ? c : (n ? n : 1);
}

size_t iflow_conv_scratch_doubles(const iflow_conv_geom *g, size_t max_n) {
    size_t ckk = g->c_in * g->kh * g->kw, p = g->h_out * g->w_out;
    return (ckk + g->c_out) * chunk_samples(g, max_n) * p;
}

/* The output columns ow whose input column iw = ow s + kj - pad lies in [0, W): [*lo, *hi). */
static void valid_range(const iflow_conv_geom *g, size_t kj, size_t *lo, size_t *hi) {
    long s = (long)g->stride, off = (long)kj - (long)g->pad, W = (long)g->w_in;
    long a = off >= 0 ? 0 : (-off + s - 1) / s;           /* first ow with iw >= 0 */
    long b = W - 1 - off < 0 ? 0 : (W - 1 - off) / s + 1; /* one past the last with iw < W */
    if (b > (long)g->w_out) b = (long)g->w_out;
    if (a > b) a = b;
    *lo = (size_t)a;
    *hi = (size_t)b;
}

/* col[(ci KH + ki) KW + kj][c0 + oh W_out + ow] = x[ci][oh s + ki - pad][ow s + kj - pad], or 0
 * in the padding; col has ld columns. x is one sample. The valid columns of each row are found
 * once, so the inner loops are plain copies (contiguous for stride 1). */
static void im2col(const double *x, const iflow_conv_geom *g, double *col, size_t ld, size_t c0) {
    const long H = (long)g->h_in, W = (long)g->w_in, s = (long)g->stride, pad = (long)g->pad;
    const size_t OH = g->h_out, OW = g->w_out;
    for (size_t ci = 0; ci < g->c_in; ci++)
        for (size_t ki = 0; ki < g->kh; ki++)
            for (size_t kj = 0; kj < g->kw; kj++) {
                double *dst = col + ((ci * g->kh + ki) * g->kw + kj) * ld + c0;
                const double *plane = x + ci * g->h_in * g->w_in;
                size_t lo, hi;
                valid_range(g, kj, &lo, &hi);
                for (size_t oh = 0; oh < OH; oh++, dst += OW) {
                    long ih = (long)oh * s + (long)ki - pad;
                    if (ih < 0 || ih >= H) {
                        memset(dst, 0, OW * sizeof *dst);
                        continue;
                    }
                    const double *row = plane + ih * W; /* iw = ow s + off, valid in [lo, hi) */
                    long off = (long)kj - pad;
                    for (size_t ow = 0; ow < lo; ow++) dst[ow] = 0.0;
                    if (s == 1 && hi > lo)
                        memcpy(dst + lo, row + (long)lo + off, (hi - lo) * sizeof *dst);
                    else
                        for (size_t ow = lo; ow < hi; ow++) dst[ow] = row[(long)ow * s + off];
                    for (size_t ow = hi; ow < OW; ow++) dst[ow] = 0.0;
                }
            }
}

/* The adjoint of im2col: dx[ci][ih][iw] += col[...] over every position that read it, in the
 * same order as the direct loop (ci, ki, kj, oh, ow). */
static void col2im(const double *col, const iflow_conv_geom *g, size_t ld, size_t c0, double *dx) {
    const long H = (long)g->h_in, W = (long)g->w_in, s = (long)g->stride, pad = (long)g->pad;
    const size_t OH = g->h_out, OW = g->w_out;
    for (size_t ci = 0; ci < g->c_in; ci++)
        for (size_t ki = 0; ki < g->kh; ki++)
            for (size_t kj = 0; kj < g->kw; kj++) {
                const double *src = col + ((ci * g->kh + ki) * g->kw + kj) * ld + c0;
                double *plane = dx + ci * g->h_in * g->w_in;
                size_t lo, hi;
                valid_range(g, kj, &lo, &hi);
                for (size_t oh = 0; oh < OH; oh++, src += OW) {
                    long ih = (long)oh * s + (long)ki - pad;
                    if (ih < 0 || ih >= H) continue;
                    double *row = plane + ih * W;
                    long off = (long)kj - pad;
                    for (size_t ow = lo; ow < hi; ow++) row[(long)ow * s + off] += src[ow];
                }
            }
}

/* col (C_in KH KW) x (cnt P) for samples i0 .. i0 + cnt - 1; each sample fills its own columns,
 * so the threads never share a write. */
static void im2col_chunk(const double *x, size_t i0, size_t cnt, const iflow_conv_geom *g,
                         double *col) {
    size_t in_sz = g->c_in * g->h_in * g->w_in, p = g->h_out * g->w_out;
    size_t work = cnt * p * g->c_in * g->kh * g->kw;
#pragma omp parallel for schedule(static) if (cnt > 1 && work >= PARALLEL_MIN)
    for (size_t i = 0; i < cnt; i++) im2col(x + (i0 + i) * in_sz, g, col, cnt * p, i * p);
}

void iflow_conv_forward(const double *x, size_t n, const iflow_conv_geom *g, const double *w,
                        const double *b, double *y, double *scratch) {
    size_t ckk = g->c_in * g->kh * g->kw, p = g->h_out * g->w_out, G = chunk_samples(g, n);
    double *col = scratch, *tmp = scratch + ckk * G * p;
    for (size_t i0 = 0; i0 < n; i0 += G) {
        size_t cnt = n - i0 < G ? n - i0 : G, ld = cnt * p;
        im2col_chunk(x, i0, cnt, g, col);
        /* tmp (C_out x cnt P) = W (C_out x C_in KH KW) col */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->c_out, (int)ld, (int)ckk,
                    1.0, w, (int)ckk, col, (int)ld, 0.0, tmp, (int)ld);
        for (size_t i = 0; i < cnt; i++)
            for (size_t co = 0; co < g->c_out; co++) {
                double *dst = y + ((i0 + i) * g->c_out + co) * p;
                const double *src = tmp + co * ld + i * p;
                for (size_t q = 0; q < p; q++) dst[q] = src[q] + b[co];
            }
    }
}

/* Per chunk, with D = dy reordered to C_out x (cnt P): dW += D col^T, db += row sums of D,
 * dcol = W^T D scattered back by col2im. */
void iflow_conv_backward(const double *dy, const double *x, size_t n, const iflow_conv_geom *g,
                         const double *w, double *dw, double *db, double *dx, double *scratch) {
    size_t ckk = g->c_in * g->kh * g->kw, p = g->h_out * g->w_out, G = chunk_samples(g, n);
    size_t in_sz = g->c_in * g->h_in * g->w_in;
    double *col = scratch, *tmp = scratch + ckk * G * p;
    memset(db, 0, g->c_out * sizeof *db);
    if (dx) memset(dx, 0, n * in_sz * sizeof *dx);
    for (size_t i0 = 0; i0 < n; i0 += G) {
        size_t cnt = n - i0 < G ? n - i0 : G, ld = cnt * p;
        im2col_chunk(x, i0, cnt, g, col);
        for (size_t i = 0; i < cnt; i++)
            for (size_t co = 0; co < g->c_out; co++)
                memcpy(tmp + co * ld + i * p, dy + ((i0 + i) * g->c_out + co) * p, p * sizeof *tmp);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g->c_out, (int)ckk, (int)ld, 1.0,
                    tmp, (int)ld, col, (int)ld, i0 ? 1.0 : 0.0, dw, (int)ckk);
        for (size_t co = 0; co < g->c_out; co++) {
            double sum = 0;
            for (size_t q = 0; q < ld; q++) sum += tmp[co * ld + q];
            db[co] += sum;
        }
        if (!dx) continue;
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ckk, (int)ld, (int)g->c_out, 1.0,
                    w, (int)ckk, tmp, (int)ld, 0.0, col, (int)ld);
#pragma omp parallel for schedule(static) if (cnt > 1 && ld * ckk >= PARALLEL_MIN)
        for (size_t i = 0; i < cnt; i++) col2im(col, g, ld, i * p, dx + (i0 + i) * in_sz);
    }
}

void iflow_maxpool_forward(const double *x, size_t n, size_t c, size_t h, size_t w, size_t k,
                           double *y, uint32_t *argmax) {
    size_t oh = h / k, ow = w / k;
    for (size_t pl = 0; pl < n * c; pl++) {
        const double *in = x + pl * h * w;
        double *out = y + pl * oh * ow;
        uint32_t *arg = argmax + pl * oh * ow;
        for (size_t i = 0; i < oh; i++)
            for (size_t j = 0; j < ow; j++) {
                size_t best = i * k * w + j * k;
                for (size_t a = 0; a < k; a++)
                    for (size_t b = 0; b < k; b++) {
                        size_t at = (i * k + a) * w + j * k + b;
                        /* `!(v <= best)` would also be true for NaN; a NaN must win so that a
                         * diverging net is seen. */
                        if (in[at] > in[best] || (in[at] != in[at] && in[best] == in[best]))
                            best = at;
                    }
                out[i * ow + j] = in[best];
                arg[i * ow + j] = (uint32_t)best;
            }
    }
}

void iflow_maxpool_backward(const double *dy, const uint32_t *argmax, size_t n, size_t c, size_t h,
                            size_t w, size_t k, double *dx) {
    size_t oh = h / k, ow = w / k;
    memset(dx, 0, n * c * h * w * sizeof *dx);
    for (size_t pl = 0; pl < n * c; pl++)
        for (size_t q = 0; q < oh * ow; q++)
            dx[pl * h * w + argmax[pl * oh * ow + q]] += dy[pl * oh * ow + q];
}

void iflow_avgpool_forward(const double *x, size_t n, size_t c, size_t h, size_t w, size_t k,
                           double *y) {
    size_t oh = h / k, ow = w / k;
    double scale = 1.0 / (double)(k * k);
    for (size_t pl = 0; pl < n * c; pl++) {
        const double *in = x + pl * h * w;
        for (size_t i = 0; i < oh; i++)
            for (size_t j = 0; j < ow; j++) {
                double sum = 0;
                for (size_t a = 0; a < k; a++)
                    for (size_t b = 0; b < k; b++) sum += in[(i * k + a) * w + j * k + b];
                y[(pl * oh + i) * ow + j] = sum * scale;
            }
    }
}

void iflow_avgpool_backward(const double *dy, size_t n, size_t c, size_t h, size_t w, size_t k,
                            double *dx) {
    size_t oh = h / k, ow = w / k;
    double scale = 1.0 / (double)(k * k);
    memset(dx, 0, n * c * h * w * sizeof *dx);
    for (size_t pl = 0; pl < n * c; pl++)
        for (size_t i = 0; i < oh; i++)
            for (size_t j = 0; j < ow; j++) {
                double g = dy[(pl * oh + i) * ow + j] * scale;
                for (size_t a = 0; a < k; a++)
                    for (size_t b = 0; b < k; b++)
                        dx[pl * h * w + (i * k + a) * w + j * k + b] += g;
            }
}
