/* The convolution and pooling kernels of conv.c, written once for both precisions: conv.c
 * includes this file with REAL = double (GEMM = cblas_dgemm, SFX(f) = f) and with REAL = float
 * (cblas_sgemm, SFX(f) = f##_f32). Needs valid_range, slots_for, groups_for, threads_for, SLOTS
 * and GROUP from conv.c. No include guard, on purpose. */

/* col[(ci KH + ki) KW + kj][c0 + oh W_out + ow] = x[ci][oh s + ki - pad][ow s + kj - pad], or 0
 * in the padding; col has ld columns. x is one sample. The valid columns of each row are found
 * once, so the inner loops are plain copies (contiguous for stride 1). */
static void SFX(im2col)(const REAL *x, const iflow_conv_geom *g, REAL *col, size_t ld, size_t c0) {
    const long H = (long)g->h_in, W = (long)g->w_in, s = (long)g->stride, pad = (long)g->pad;
    const size_t OH = g->h_out, OW = g->w_out;
    for (size_t ci = 0; ci < g->c_in; ci++)
        for (size_t ki = 0; ki < g->kh; ki++)
            for (size_t kj = 0; kj < g->kw; kj++) {
                REAL *dst = col + ((ci * g->kh + ki) * g->kw + kj) * ld + c0;
                const REAL *plane = x + ci * g->h_in * g->w_in;
                size_t lo, hi;
                valid_range(g, kj, &lo, &hi);
                for (size_t oh = 0; oh < OH; oh++, dst += OW) {
                    long ih = (long)oh * s + (long)ki - pad;
                    if (ih < 0 || ih >= H) {
                        memset(dst, 0, OW * sizeof *dst);
                        continue;
                    }
                    const REAL *row = plane + ih * W; /* iw = ow s + off, valid in [lo, hi) */
                    long off = (long)kj - pad;
                    for (size_t ow = 0; ow < lo; ow++) dst[ow] = (REAL)0;
                    if (s == 1 && hi > lo)
                        memcpy(dst + lo, row + (long)lo + off, (hi - lo) * sizeof *dst);
                    else
                        for (size_t ow = lo; ow < hi; ow++) dst[ow] = row[(long)ow * s + off];
                    for (size_t ow = hi; ow < OW; ow++) dst[ow] = (REAL)0;
                }
            }
}

/* The adjoint of im2col: dx[ci][ih][iw] += col[...] over every position that read it, in the
 * same order as the direct loop (ci, ki, kj, oh, ow). */
static void SFX(col2im)(const REAL *col, const iflow_conv_geom *g, size_t ld, size_t c0, REAL *dx) {
    const long H = (long)g->h_in, W = (long)g->w_in, s = (long)g->stride, pad = (long)g->pad;
    const size_t OH = g->h_out, OW = g->w_out;
    for (size_t ci = 0; ci < g->c_in; ci++)
        for (size_t ki = 0; ki < g->kh; ki++)
            for (size_t kj = 0; kj < g->kw; kj++) {
                const REAL *src = col + ((ci * g->kh + ki) * g->kw + kj) * ld + c0;
                REAL *plane = dx + ci * g->h_in * g->w_in;
                size_t lo, hi;
                valid_range(g, kj, &lo, &hi);
                for (size_t oh = 0; oh < OH; oh++, src += OW) {
                    long ih = (long)oh * s + (long)ki - pad;
                    if (ih < 0 || ih >= H) continue;
                    REAL *row = plane + ih * W;
                    long off = (long)kj - pad;
                    if (s == 1) { /* contiguous, and col and dx never overlap: vectorised */
                        REAL *restrict d = row + off;
                        const REAL *restrict v = src;
                        for (size_t ow = lo; ow < hi; ow++) d[ow] += v[ow];
                    } else {
                        for (size_t ow = lo; ow < hi; ow++) row[(long)ow * s + off] += src[ow];
                    }
                }
            }
}

/* Per sample i, on the thread's own columns col (C_in KH KW x P):
 * y_i (C_out x P) = W (C_out x C_in KH KW) col + b, written in place: y's layout per sample is
 * already C_out x P. OpenBLAS runs on one thread inside (the threads are OpenMP's). */
void SFX(iflow_conv_forward)(const REAL *x, size_t n, const iflow_conv_geom *g, const REAL *w,
                             const REAL *b, REAL *y, REAL *scratch) {
    size_t ckk = g->c_in * g->kh * g->kw, p = g->h_out * g->w_out;
    size_t in_sz = g->c_in * g->h_in * g->w_in, out_sz = g->c_out * p;
    int threads = threads_for(n), blas = iflow_blas_serial_begin();
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        REAL *col = scratch + (size_t)omp_get_thread_num() * ckk * p;
#pragma omp for schedule(static)
        for (size_t i = 0; i < n; i++) {
            REAL *yi = y + i * out_sz;
            SFX(im2col)(x + i * in_sz, g, col, p, 0);
            GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->c_out, (int)p, (int)ckk,
                 (REAL)1, w, (int)ckk, col, (int)p, (REAL)0, yi, (int)p);
            for (size_t co = 0; co < g->c_out; co++)
                for (size_t q = 0; q < p; q++) yi[co * p + q] += b[co];
        }
    }
    iflow_blas_serial_end(blas);
}

/* Per group of GROUP samples, sample by sample with D = dy_i (C_out x P, as stored):
 * dW_group += D col^T, db_group += row sums of D, and dx_i = col2im(W^T D); then dW and db are
 * the groups' sums added in group order. */
void SFX(iflow_conv_backward)(const REAL *dy, const REAL *x, size_t n, const iflow_conv_geom *g,
                              const REAL *w, REAL *dw, REAL *db, REAL *dx, REAL *scratch) {
    size_t ckk = g->c_in * g->kh * g->kw, p = g->h_out * g->w_out, co_n = g->c_out;
    size_t in_sz = g->c_in * g->h_in * g->w_in, out_sz = co_n * p, n_groups = groups_for(n);
    REAL *partial = scratch + slots_for(n) * ckk * p; /* group j: dW (co_n x ckk), db (co_n) */
    int threads = threads_for(n), blas = iflow_blas_serial_begin();
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        REAL *col = scratch + (size_t)omp_get_thread_num() * ckk * p;
#pragma omp for schedule(static)
        for (size_t j = 0; j < n_groups; j++) {
            REAL *gw = partial + j * co_n * (ckk + 1), *gb = gw + co_n * ckk;
            memset(gb, 0, co_n * sizeof *gb);
            for (size_t i = j * GROUP; i < n && i < (j + 1) * GROUP; i++) {
                const REAL *d = dy + i * out_sz;
                SFX(im2col)(x + i * in_sz, g, col, p, 0);
                GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)co_n, (int)ckk, (int)p, (REAL)1,
                     d, (int)p, col, (int)p, i == j * GROUP ? (REAL)0 : (REAL)1, gw, (int)ckk);
                for (size_t co = 0; co < co_n; co++) {
                    REAL sum = 0;
                    for (size_t q = 0; q < p; q++) sum += d[co * p + q];
                    gb[co] += sum;
                }
                if (!dx) continue;
                GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ckk, (int)p, (int)co_n, (REAL)1,
                     w, (int)ckk, d, (int)p, (REAL)0, col, (int)p);
                memset(dx + i * in_sz, 0, in_sz * sizeof *dx);
                SFX(col2im)(col, g, p, 0, dx + i * in_sz);
            }
        }
    }
    iflow_blas_serial_end(blas);
    if (!n) { /* no sample: no gradient */
        memset(dw, 0, co_n * ckk * sizeof *dw);
        memset(db, 0, co_n * sizeof *db);
        return;
    }
    memcpy(dw, partial, co_n * ckk * sizeof *dw);
    memcpy(db, partial + co_n * ckk, co_n * sizeof *db);
    for (size_t j = 1; j < n_groups; j++) {
        const REAL *gw = partial + j * co_n * (ckk + 1), *gb = gw + co_n * ckk;
        for (size_t k = 0; k < co_n * ckk; k++) dw[k] += gw[k];
        for (size_t co = 0; co < co_n; co++) db[co] += gb[co];
    }
}

void SFX(iflow_maxpool_forward)(const REAL *x, size_t n, size_t c, size_t h, size_t w, size_t k,
                                REAL *y, uint32_t *argmax) {
    size_t oh = h / k, ow = w / k;
/* Whether v takes the window from best: larger, or the first NaN (`!(v <= best)` would let a
 * later NaN win too); a NaN must win so that a diverging net is seen. */
#define WINS(v, best) ((v) > (best) || ((v) != (v) && (best) == (best)))
#pragma omp parallel for schedule(static) if (n * c * h * w >= ((size_t)1 << 16))
    for (size_t pl = 0; pl < n * c; pl++) {
        const REAL *in = x + pl * h * w;
        REAL *out = y + pl * oh * ow;
        uint32_t *arg = argmax + pl * oh * ow;
        for (size_t i = 0; i < oh; i++)
            for (size_t j = 0; j < ow; j++) {
                size_t at = i * k * w + j * k, best = at;
                REAL v = in[at];
                if (k == 2) { /* the windows of every net here, in the general loop's order */
                    size_t a[3] = {at + 1, at + w, at + w + 1};
                    for (int t = 0; t < 3; t++)
                        if (WINS(in[a[t]], v)) v = in[a[t]], best = a[t];
                } else {
                    for (size_t r = 0; r < k; r++)
                        for (size_t q = 0; q < k; q++) {
                            size_t here = at + r * w + q;
                            if (WINS(in[here], v)) v = in[here], best = here;
                        }
                }
                out[i * ow + j] = v;
                arg[i * ow + j] = (uint32_t)best;
            }
    }
#undef WINS
}

/* The backward pass of max pooling followed by an activation (net.c's pooling before the
 * activation): d_pre (n, c, h, w) = 0 but at each window's winner, 0 + a'(pre) d_s there (the
 * sum the unfused pass forms, zero signs included), a' = [pre > 0] if relu, else 1. When the
 * windows tile the plane each is written whole, without a separate pass to zero d_pre. */
void SFX(iflow_maxpool_act_backward)(const REAL *d_s, const uint32_t *argmax, const REAL *pre,
                                     int relu, size_t n, size_t c, size_t h, size_t w, size_t k,
                                     REAL *d_pre) {
    size_t oh = h / k, ow = w / k, tiled = oh * k == h && ow * k == w;
#pragma omp parallel for schedule(static) if (n * c * h * w >= ((size_t)1 << 16))
    for (size_t pl = 0; pl < n * c; pl++) {
        REAL *dp = d_pre + pl * h * w;
        const REAL *pr = pre + pl * h * w, *ds = d_s + pl * oh * ow;
        const uint32_t *arg = argmax + pl * oh * ow;
        if (!tiled) memset(dp, 0, h * w * sizeof *dp);
        for (size_t i = 0; i < oh; i++)
            for (size_t j = 0; j < ow; j++) {
                size_t at = arg[i * ow + j];
                if (tiled)
                    for (size_t r = 0; r < k; r++)
                        for (size_t q = 0; q < k; q++) dp[(i * k + r) * w + j * k + q] = 0;
                dp[at] = relu && !(pr[at] > 0) ? (REAL)0 : (REAL)0 + ds[i * ow + j];
            }
    }
}

void SFX(iflow_maxpool_backward)(const REAL *dy, const uint32_t *argmax, size_t n, size_t c,
                                 size_t h, size_t w, size_t k, REAL *dx) {
    size_t oh = h / k, ow = w / k;
    memset(dx, 0, n * c * h * w * sizeof *dx);
    for (size_t pl = 0; pl < n * c; pl++)
        for (size_t q = 0; q < oh * ow; q++)
            dx[pl * h * w + argmax[pl * oh * ow + q]] += dy[pl * oh * ow + q];
}

void SFX(iflow_avgpool_forward)(const REAL *x, size_t n, size_t c, size_t h, size_t w, size_t k,
                                REAL *y) {
    size_t oh = h / k, ow = w / k;
    REAL scale = (REAL)(1.0 / (double)(k * k));
    for (size_t pl = 0; pl < n * c; pl++) {
        const REAL *in = x + pl * h * w;
        for (size_t i = 0; i < oh; i++)
            for (size_t j = 0; j < ow; j++) {
                REAL sum = 0;
                for (size_t a = 0; a < k; a++)
                    for (size_t b = 0; b < k; b++) sum += in[(i * k + a) * w + j * k + b];
                y[(pl * oh + i) * ow + j] = sum * scale;
            }
    }
}

void SFX(iflow_avgpool_backward)(const REAL *dy, size_t n, size_t c, size_t h, size_t w, size_t k,
                                 REAL *dx) {
    size_t oh = h / k, ow = w / k;
    REAL scale = (REAL)(1.0 / (double)(k * k));
    memset(dx, 0, n * c * h * w * sizeof *dx);
    for (size_t pl = 0; pl < n * c; pl++)
        for (size_t i = 0; i < oh; i++)
            for (size_t j = 0; j < ow; j++) {
                REAL g = dy[(pl * oh + i) * ow + j] * scale;
                for (size_t a = 0; a < k; a++)
                    for (size_t b = 0; b < k; b++)
                        dx[pl * h * w + (i * k + a) * w + j * k + b] += g;
            }
}
