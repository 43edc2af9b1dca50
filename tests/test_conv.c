/* Tests of the conv and pooling blocks and of conv nets: forward passes against direct loops
 * written here, gradients by central differences for every block type, stride, padding and
 * pooling, and for a whole small CNN; MLPs built as blocks equal iflow_net_new's. */
#include <check.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "infoflow/conv.h"
#include "infoflow/net.h"
#include "infoflow/train.h"
#include "check_util.h"
#include "train_f32.h" /* src/nn: the float32 pass, checked against the double one */

static void fill_uniform(iflow_rng *rng, double *v, size_t n, double lo, double hi) {
    for (size_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * iflow_rng_uniform(rng);
}

/* The textbook definition: y[i][co][oh][ow] = b[co] + sum w[co][ci][a][c] x[i][ci][ih][iw],
 * ih = oh s + a - pad, iw = ow s + c - pad, terms outside the input are 0. */
static double conv_ref(const double *x, size_t i, const iflow_conv_geom *g, const double *w,
                       const double *b, size_t co, size_t oh, size_t ow) {
    double s = b[co];
    for (size_t ci = 0; ci < g->c_in; ci++)
        for (size_t a = 0; a < g->kh; a++)
            for (size_t c = 0; c < g->kw; c++) {
                long ih = (long)(oh * g->stride + a) - (long)g->pad;
                long iw = (long)(ow * g->stride + c) - (long)g->pad;
                if (ih < 0 || iw < 0 || ih >= (long)g->h_in || iw >= (long)g->w_in) continue;
                s += w[((co * g->c_in + ci) * g->kh + a) * g->kw + c] *
                     x[((i * g->c_in + ci) * g->h_in + (size_t)ih) * g->w_in + (size_t)iw];
            }
    return s;
}

/* Geometries: {c_in, h, w, c_out, kh, kw, stride, pad}; the last one needs several im2col
 * chunks (2^21 doubles / (8*5*5 * 32*32) = 10 samples per chunk, n = 23). */
static const size_t geoms[][8] = {
    {1, 6, 6, 2, 3, 3, 1, 0}, {2, 7, 5, 3, 3, 2, 2, 1}, {3, 5, 5, 2, 5, 5, 1, 2},
    {2, 8, 8, 4, 3, 3, 3, 2}, {1, 4, 4, 1, 1, 1, 1, 0}, {8, 32, 32, 4, 5, 5, 1, 2},
};
#define N_GEOMS (sizeof geoms / sizeof geoms[0])

static iflow_conv_geom geom(size_t k) {
    const size_t *v = geoms[k];
    iflow_conv_geom g = {.c_in = v[0],
                         .h_in = v[1],
                         .w_in = v[2],
                         .c_out = v[3],
                         .kh = v[4],
                         .kw = v[5],
                         .stride = v[6],
                         .pad = v[7]};
    ck_assert_int_eq(iflow_conv_geom_init(&g), 0);
    return g;
}

START_TEST(test_conv_forward_direct) {
    iflow_conv_geom g = geom((size_t)_i);
    size_t n = _i == N_GEOMS - 1 ? 23 : 3, in_sz = g.c_in * g.h_in * g.w_in;
    size_t p = g.h_out * g.w_out, nw = g.c_out * g.c_in * g.kh * g.kw;
    ck_assert_uint_eq(g.h_out, (g.h_in + 2 * g.pad - g.kh) / g.stride + 1);
    iflow_rng rng;
    iflow_rng_init(&rng, 5, (uint64_t)_i);
    double *x = malloc(n * in_sz * sizeof *x), *w = malloc(nw * sizeof *w), b[8];
    double *y = malloc(n * g.c_out * p * sizeof *y);
    double *scratch = malloc(iflow_conv_scratch_doubles(&g, n) * sizeof *scratch);
    fill_uniform(&rng, x, n * in_sz, -1, 1);
    fill_uniform(&rng, w, nw, -1, 1);
    fill_uniform(&rng, b, g.c_out, -1, 1);
    iflow_conv_forward(x, n, &g, w, b, y, scratch);
    double worst = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t co = 0; co < g.c_out; co++)
            for (size_t q = 0; q < p; q++)
                worst = fmax(worst, fabs(y[(i * g.c_out + co) * p + q] -
                                         conv_ref(x, i, &g, w, b, co, q / g.w_out, q % g.w_out)));
    ck_assert_msg(worst < 1e-12, "geometry %d: worst error %g", _i, worst);
    free(x), free(w), free(y), free(scratch);
}
END_TEST

/* L = sum r .* conv(x): dL/dw, dL/db, dL/dx by central differences (exact up to rounding, since
 * the conv is linear in each argument) against iflow_conv_backward. */
START_TEST(test_conv_backward_fd) {
    iflow_conv_geom g = geom((size_t)_i);
    size_t n = _i == N_GEOMS - 1 ? 23 : 3, in_sz = g.c_in * g.h_in * g.w_in;
    size_t p = g.h_out * g.w_out, nw = g.c_out * g.c_in * g.kh * g.kw, ny = n * g.c_out * p;
    iflow_rng rng;
    iflow_rng_init(&rng, 6, (uint64_t)_i);
    double *x = malloc(n * in_sz * sizeof *x), *w = malloc(nw * sizeof *w), b[8], db[8];
    double *y = malloc(ny * sizeof *y), *r = malloc(ny * sizeof *r);
    double *dw = malloc(nw * sizeof *dw), *dx = malloc(n * in_sz * sizeof *dx);
    double *scratch = malloc(iflow_conv_scratch_doubles(&g, n) * sizeof *scratch);
    fill_uniform(&rng, x, n * in_sz, -1, 1);
    fill_uniform(&rng, w, nw, -1, 1);
    fill_uniform(&rng, b, g.c_out, -1, 1);
    fill_uniform(&rng, r, ny, -1, 1);
    iflow_conv_backward(r, x, n, &g, w, dw, db, dx, scratch);
    double *vars[] = {w, b, x}, *grads[] = {dw, db, dx};
    size_t counts[] = {nw, g.c_out, n * in_sz};
    double worst = 0, h = 1e-3;
    for (int v = 0; v < 3; v++) {
        size_t step = counts[v] > 400 ? counts[v] / 29 : 1; /* a sample of the big ones */
        for (size_t k = 0; k < counts[v]; k += step) {
            double saved = vars[v][k], lp = 0, lm = 0;
            vars[v][k] = saved + h;
            iflow_conv_forward(x, n, &g, w, b, y, scratch);
            for (size_t q = 0; q < ny; q++) lp += r[q] * y[q];
            vars[v][k] = saved - h;
            iflow_conv_forward(x, n, &g, w, b, y, scratch);
            for (size_t q = 0; q < ny; q++) lm += r[q] * y[q];
            vars[v][k] = saved;
            double fd = (lp - lm) / (2 * h);
            worst = fmax(worst, fabs(fd - grads[v][k]) / fmax(fabs(fd), 1));
        }
    }
    ck_assert_msg(worst < 1e-7, "geometry %d: worst relative error %g", _i, worst);
    free(x), free(w), free(y), free(r), free(dw), free(dx), free(scratch);
}
END_TEST

/* Pools on a 2 x 3 x 7 x 6 batch with k = 2 and 3 (a trailing partial window dropped), against
 * direct loops, and their gradients by central differences. */
START_TEST(test_pooling) {
    enum { N = 2, C = 3, H = 7, W = 6 };
    size_t k = (size_t)_i + 2, oh = H / k, ow = W / k, ny = N * C * oh * ow;
    iflow_rng rng;
    iflow_rng_init(&rng, 7, k);
    double x[N * C * H * W], y[N * C * H * W], r[N * C * H * W], dx[N * C * H * W];
    uint32_t arg[N * C * H * W];
    fill_uniform(&rng, x, N * C * H * W, -1, 1);
    fill_uniform(&rng, r, ny, -1, 1);
    for (int is_max = 0; is_max < 2; is_max++) {
        if (is_max)
            iflow_maxpool_forward(x, N, C, H, W, k, y, arg);
        else
            iflow_avgpool_forward(x, N, C, H, W, k, y);
        for (size_t pl = 0; pl < N * C; pl++)
            for (size_t i = 0; i < oh; i++)
                for (size_t j = 0; j < ow; j++) {
                    double m = -INFINITY, s = 0;
                    for (size_t a = 0; a < k; a++)
                        for (size_t c = 0; c < k; c++) {
                            double v = x[pl * H * W + (i * k + a) * W + j * k + c];
                            m = fmax(m, v);
                            s += v;
                        }
                    double want = is_max ? m : s / (double)(k * k);
                    ck_assert_double_eq_tol(y[(pl * oh + i) * ow + j], want, 1e-15);
                }
        if (is_max)
            iflow_maxpool_backward(r, arg, N, C, H, W, k, dx);
        else
            iflow_avgpool_backward(r, N, C, H, W, k, dx);
        double h = 1e-6, worst = 0;
        for (size_t q = 0; q < N * C * H * W; q++) {
            double saved = x[q], lp = 0, lm = 0;
            x[q] = saved + h;
            if (is_max)
                iflow_maxpool_forward(x, N, C, H, W, k, y, arg);
            else
                iflow_avgpool_forward(x, N, C, H, W, k, y);
            for (size_t t = 0; t < ny; t++) lp += r[t] * y[t];
            x[q] = saved - h;
            if (is_max)
                iflow_maxpool_forward(x, N, C, H, W, k, y, arg);
            else
                iflow_avgpool_forward(x, N, C, H, W, k, y);
            for (size_t t = 0; t < ny; t++) lm += r[t] * y[t];
            x[q] = saved;
            worst = fmax(worst, fabs((lp - lm) / (2 * h) - dx[q]));
        }
        ck_assert_msg(worst < 1e-8, "%s pool %zu: worst gradient error %g", is_max ? "max" : "avg",
                      k, worst);
    }
    /* NaN wins a max pool, so a diverging net shows. */
    x[1] = NAN;
    iflow_maxpool_forward(x, N, C, H, W, 2, y, arg);
    ck_assert(isnan(y[0]));
}
END_TEST

static double loss_at(const iflow_net *net, const double *x, const int *y, size_t n,
                      iflow_workspace *ws) {
    iflow_rng rng;
    iflow_rng_init(&rng, 77, 1);
    const double *logits = iflow_net_forward(net, x, n, &rng, ws);
    return iflow_softmax_xent(logits, y, n, net->widths[net->n_layers], NULL, NULL);
}

/* Whole CNNs on 2 x 9 x 8 inputs, noisy: conv with stride 2 and padding then max pooling, conv
 * with average pooling, a plain conv, dense, dense logits. tanh (smooth), and relu checked away
 * from kinks and ties by a loose bound on the few parameters near one. */
static void cnn_gradient(iflow_activation act, int variant) {
    iflow_block b[5] = {
        {.kind = IFLOW_BLOCK_CONV,
         .units = 3,
         .kh = 3,
         .kw = 3,
         .stride = 2,
         .pad = 1,
         .pool = IFLOW_POOL_MAX,
         .pool_size = 2},
        {.kind = IFLOW_BLOCK_CONV,
         .units = 4,
         .kh = 2,
         .kw = 1,
         .stride = 1,
         .pad = 1,
         .pool = IFLOW_POOL_AVG,
         .pool_size = 2},
        {.kind = IFLOW_BLOCK_CONV, .units = 2, .kh = 1, .kw = 2, .stride = 1, .pad = 0},
        {.kind = IFLOW_BLOCK_DENSE, .units = 5},
        {.kind = IFLOW_BLOCK_DENSE, .units = 3},
    };
    if (variant) { /* conv straight into the logits' dense block, avg pool 1 */
        b[0].pool = IFLOW_POOL_AVG;
        b[0].pool_size = 1;
        b[1] = b[4];
    }
    size_t nb = variant ? 2 : 5;
    const double beta[] = {0.1, 0.05, 0.1, 0.1};
    iflow_net *net = NULL;
    iflow_error err = {0};
    ck_assert_msg(iflow_net_new_blocks((iflow_shape){2, 9, 8}, nb, b, act, 0.1, beta, &net, &err) ==
                      0,
                  "%s", err.msg);
    iflow_rng rng;
    iflow_rng_init(&rng, 1234 + (uint64_t)variant, 0);
    iflow_net_init(net, IFLOW_INIT_PYTORCH, &rng);
    fill_uniform(&rng, net->params, net->n_params, -0.8, 0.8);
    enum { N = 5 };
    double x[N * 2 * 9 * 8];
    int y[N];
    fill_uniform(&rng, x, N * net->widths[0], -2, 2);
    for (int i = 0; i < N; i++) y[i] = (int)iflow_rng_below(&rng, 3);
    iflow_workspace *ws = NULL;
    ck_assert_int_eq(iflow_workspace_new(net, N, &ws, &err), 0);
    double *grad = malloc(net->n_params * sizeof *grad);
    double loss0 = loss_at(net, x, y, N, ws);
    ck_assert_double_eq_tol(iflow_net_backward(net, x, y, N, ws, grad, NULL), loss0, 1e-14);
    const double h = 1e-5;
    double worst = 0;
    size_t bad = 0;
    for (size_t p = 0; p < net->n_params; p++) {
        double saved = net->params[p];
        net->params[p] = saved + h;
        double up = loss_at(net, x, y, N, ws);
        net->params[p] = saved - h;
        double down = loss_at(net, x, y, N, ws);
        net->params[p] = saved;
        double fd = (up - down) / (2 * h);
        double rel = fabs(fd - grad[p]) / fmax(fmax(fabs(fd), fabs(grad[p])), 1e-4);
        worst = fmax(worst, rel);
        bad += rel > 1e-5;
    }
    /* tanh is smooth: every parameter must agree. relu: a step of h may cross a kink or swap a
     * max; allow at most 1% of parameters to, so a wrong gradient still fails. */
    if (act == IFLOW_ACT_TANH)
        ck_assert_msg(worst < 1e-5, "variant %d: worst relative gradient error %g", variant, worst);
    else
        ck_assert_msg(bad <= net->n_params / 100, "relu variant %d: %zu of %zu gradients off",
                      variant, bad, net->n_params);
    free(grad);
    iflow_workspace_free(ws);
    iflow_net_free(net);
}

/* The float32 pass's gradient against the double one (checked above by finite differences) on
 * the same nets, float weights and inputs, and the same noise draws: they agree to float's
 * precision, relative to the gradient's scale. */
static void cnn_gradient_f32(iflow_activation act, int variant) {
    iflow_block b[5] = {
        {.kind = IFLOW_BLOCK_CONV,
         .units = 3,
         .kh = 3,
         .kw = 3,
         .stride = 2,
         .pad = 1,
         .pool = IFLOW_POOL_MAX,
         .pool_size = 2},
        {.kind = IFLOW_BLOCK_CONV,
         .units = 4,
         .kh = 2,
         .kw = 1,
         .stride = 1,
         .pad = 1,
         .pool = IFLOW_POOL_AVG,
         .pool_size = 2},
        {.kind = IFLOW_BLOCK_CONV, .units = 2, .kh = 1, .kw = 2, .stride = 1, .pad = 0},
        {.kind = IFLOW_BLOCK_DENSE, .units = 5},
        {.kind = IFLOW_BLOCK_DENSE, .units = 3},
    };
    if (variant) {
        b[0].pool = IFLOW_POOL_AVG;
        b[0].pool_size = 1;
        b[1] = b[4];
    }
    size_t nb = variant ? 2 : 5;
    const double beta[] = {0.1, 0.05, 0.1, 0.1};
    iflow_net *net = NULL;
    iflow_error err = {0};
    ck_assert_int_eq(
        iflow_net_new_blocks((iflow_shape){2, 9, 8}, nb, b, act, 0.1, beta, &net, &err), 0);
    iflow_rng rng;
    iflow_rng_init(&rng, 99 + (uint64_t)variant, 0);
    iflow_net_init(net, IFLOW_INIT_PYTORCH, &rng);
    enum { N = 7 };
    double x[N * 2 * 9 * 8];
    int y[N];
    fill_uniform(&rng, x, N * net->widths[0], -2, 2);
    for (size_t i = 0; i < net->n_params; i++) net->params[i] = (float)net->params[i];
    for (size_t i = 0; i < N * net->widths[0]; i++) x[i] = (float)x[i];
    for (int i = 0; i < N; i++) y[i] = (int)iflow_rng_below(&rng, 3);
    iflow_workspace *ws = NULL;
    iflow_f32_state *f32 = NULL;
    ck_assert_int_eq(iflow_workspace_new(net, N, &ws, &err), 0);
    ck_assert_int_eq(iflow_f32_state_new(net, N, &f32, &err), 0);
    double *grad = malloc(net->n_params * sizeof *grad);
    iflow_rng r64, r32;
    iflow_rng_init(&r64, 7, 1);
    iflow_rng_init(&r32, 7, 1);
    iflow_net_forward(net, x, N, &r64, ws);
    double loss64 = iflow_net_backward(net, x, y, N, ws, grad, NULL);
    double loss32 = iflow_f32_step(f32, net, x, y, N, &r32, NULL);
    ck_assert_double_eq_tol(loss32, loss64, 1e-5 * fmax(1, loss64));
    /* The f32 gradient is not exposed; an SGD step of lr 1 from zero momentum writes -grad. */
    iflow_optim_params op = {.kind = IFLOW_OPT_SGD, .lr = 1};
    iflow_optim *opt = NULL;
    ck_assert_int_eq(iflow_optim_new(&op, net->n_params, &opt, &err), 0);
    double *p = malloc(net->n_params * sizeof *p), scale = 0, worst = 0;
    for (size_t i = 0; i < net->n_params; i++) p[i] = 0;
    iflow_f32_optim_step(f32, opt, p);
    for (size_t i = 0; i < net->n_params; i++) scale = fmax(scale, fabs(grad[i]));
    for (size_t i = 0; i < net->n_params; i++) worst = fmax(worst, fabs(-p[i] - grad[i]));
    ck_assert_msg(worst <= 1e-5 * scale, "variant %d: float32 gradient off by %g of %g", variant,
                  worst, scale);
    free(p);
    free(grad);
    iflow_optim_free(opt);
    iflow_f32_state_free(f32);
    iflow_workspace_free(ws);
    iflow_net_free(net);
}

START_TEST(test_cnn_gradient_f32) {
    cnn_gradient_f32(_i < 2 ? IFLOW_ACT_TANH : IFLOW_ACT_RELU, _i % 2);
}
END_TEST

START_TEST(test_cnn_gradient) { cnn_gradient(_i < 2 ? IFLOW_ACT_TANH : IFLOW_ACT_RELU, _i % 2); }
END_TEST

/* Shapes and widths of configs/fashion-cnn.ini's net; shape errors name the block. */
START_TEST(test_block_shapes) {
    iflow_block b[4] = {
        {.kind = IFLOW_BLOCK_CONV,
         .units = 16,
         .kh = 5,
         .kw = 5,
         .stride = 1,
         .pad = 2,
         .pool = IFLOW_POOL_MAX,
         .pool_size = 2},
        {.kind = IFLOW_BLOCK_CONV,
         .units = 32,
         .kh = 5,
         .kw = 5,
         .stride = 1,
         .pad = 2,
         .pool = IFLOW_POOL_MAX,
         .pool_size = 2},
        {.kind = IFLOW_BLOCK_DENSE, .units = 128},
        {.kind = IFLOW_BLOCK_DENSE, .units = 10},
    };
    iflow_net *net = NULL;
    iflow_error err = {0};
    ck_assert_int_eq(
        iflow_net_new_blocks((iflow_shape){1, 28, 28}, 4, b, IFLOW_ACT_RELU, 0, NULL, &net, &err),
        0);
    const size_t widths[] = {784, 16 * 14 * 14, 32 * 7 * 7, 128, 10};
    for (size_t l = 0; l <= 4; l++) ck_assert_uint_eq(net->widths[l], widths[l]);
    ck_assert_uint_eq(net->n_params, 16 * 26 + 32 * (16 * 25 + 1) + 128 * 1569 + 10 * 129);
    ck_assert(net->has_conv);
    char text[2048];
    iflow_net_describe(net, text, sizeof text);
    ck_assert_msg(strstr(text, "conv 16 5x5 pad 2 maxpool 2") && strstr(text, "16x14x14 = 3136"),
                  "%s", text);
    iflow_net_free(net);
    iflow_shape s[5];
    b[0].kh = 33; /* larger than 28 + 2 * 2 */
    ck_assert_int_eq(iflow_net_block_shapes((iflow_shape){1, 28, 28}, 4, b, s, &err), IFLOW_EINVAL);
    ck_assert_msg(strstr(err.msg, "block 1") && strstr(err.msg, "larger than the padded input"),
                  "%s", err.msg);
    b[0].kh = 5;
    b[1].pool_size = 20; /* 14 x 14 conv output */
    ck_assert_int_eq(iflow_net_block_shapes((iflow_shape){1, 28, 28}, 4, b, s, &err), IFLOW_EINVAL);
    ck_assert_msg(strstr(err.msg, "block 2") && strstr(err.msg, "size 0"), "%s", err.msg);
    b[1].pool_size = 2;
    ck_assert_int_eq(iflow_net_block_shapes((iflow_shape){1, 28, 28}, 2, b, s, &err), IFLOW_EINVAL);
    ck_assert_msg(strstr(err.msg, "last block must be dense"), "%s", err.msg);
}
END_TEST

/* Every product of sizes is checked, not computed modulo 2^64: an input, a kernel or a conv
 * output whose product wraps around to a small number is refused, not taken for that number. */
START_TEST(test_shape_products_checked) {
    /* Each factor is a legal size (<= 2^24); the product exceeds 2^64 by less than 2^24. */
    const size_t c = 16776682, h = 16769306, w = 65569;
    unsigned __int128 exact = (unsigned __int128)c * h * w;
    size_t wrapped = c * h * w;
    ck_assert(exact > (unsigned __int128)SIZE_MAX && wrapped >= 1 && wrapped <= (size_t)1 << 24);
    iflow_block b[2] = {{.kind = IFLOW_BLOCK_CONV, .units = 4, .kh = 1, .kw = 1, .stride = 1},
                        {.kind = IFLOW_BLOCK_DENSE, .units = 2}};
    iflow_shape s[3];
    iflow_error err = {0};
    ck_assert_int_eq(iflow_net_block_shapes((iflow_shape){c, h, w}, 2, b, s, &err), IFLOW_EINVAL);
    ck_assert_msg(strstr(err.msg, "input shape") && strstr(err.msg, "2^24"), "%s", err.msg);
    /* C_in x KH x KW: 2^24 channels of one pixel, a 2^24 x 2^24 kernel over the padding. */
    const size_t big = (size_t)1 << 24;
    b[0] = (iflow_block){
        .kind = IFLOW_BLOCK_CONV, .units = 1, .kh = big, .kw = big, .stride = 1, .pad = big};
    ck_assert_int_eq(iflow_net_block_shapes((iflow_shape){big, 1, 1}, 2, b, s, &err), IFLOW_EINVAL);
    ck_assert_msg(strstr(err.msg, "block 1") && strstr(err.msg, "kernel larger than 2^24"), "%s",
                  err.msg);
    /* Output C_out x H_out x W_out = 2^24 x (2^25 + 1)^2 from a 1x1 input padded by 2^24. */
    b[0] = (iflow_block){
        .kind = IFLOW_BLOCK_CONV, .units = big, .kh = 1, .kw = 1, .stride = 1, .pad = big};
    ck_assert_int_eq(iflow_net_block_shapes((iflow_shape){1, 1, 1}, 2, b, s, &err), IFLOW_EINVAL);
    ck_assert_msg(strstr(err.msg, "block 1") && strstr(err.msg, "larger than 2^24"), "%s", err.msg);
    /* The same shapes one notch smaller are accepted: the checks are of the products only. */
    b[0].pad = 0;
    ck_assert_int_eq(iflow_net_block_shapes((iflow_shape){1, 1, 1}, 2, b, s, &err), 0);
    ck_assert_uint_eq(s[1].c * s[1].h * s[1].w, big);
}
END_TEST

/* An MLP written as dense blocks is the MLP of iflow_net_new, parameter for parameter after the
 * same initialisation, and conv kernels get the Parseval step as C_out x (C_in K K) matrices. */
START_TEST(test_mlp_as_blocks_and_ortho) {
    const size_t widths[] = {6, 5, 4, 3};
    iflow_block b[3] = {{.kind = IFLOW_BLOCK_DENSE, .units = 5},
                        {.kind = IFLOW_BLOCK_DENSE, .units = 4},
                        {.kind = IFLOW_BLOCK_DENSE, .units = 3}};
    iflow_net *a = NULL, *c = NULL;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_net_new(4, widths, IFLOW_ACT_TANH, 0, NULL, &a, &err), 0);
    ck_assert_int_eq(
        iflow_net_new_blocks((iflow_shape){6, 1, 1}, 3, b, IFLOW_ACT_TANH, 0, NULL, &c, &err), 0);
    iflow_rng r1, r2;
    iflow_rng_init(&r1, 3, 0);
    iflow_rng_init(&r2, 3, 0);
    iflow_net_init(a, IFLOW_INIT_XAVIER, &r1);
    iflow_net_init(c, IFLOW_INIT_XAVIER, &r2);
    ck_assert_uint_eq(a->n_params, c->n_params);
    ck_assert_int_eq(memcmp(a->params, c->params, a->n_params * sizeof(double)), 0);
    iflow_net_free(a);
    iflow_net_free(c);
    /* A conv layer with 3 kernels of 2 x 2 x 2 = 8 weights: repeated steps make the 3 x 8
     * kernel matrix's rows orthonormal. */
    iflow_block cb[2] = {{.kind = IFLOW_BLOCK_CONV, .units = 3, .kh = 2, .kw = 2, .stride = 1},
                         {.kind = IFLOW_BLOCK_DENSE, .units = 2}};
    ck_assert_int_eq(
        iflow_net_new_blocks((iflow_shape){2, 4, 4}, 2, cb, IFLOW_ACT_TANH, 0, NULL, &c, &err), 0);
    ck_assert_uint_eq(c->w_rows[1], 3);
    ck_assert_uint_eq(c->w_cols[1], 8);
    iflow_net_init(c, IFLOW_INIT_PYTORCH, &r1);
    for (int it = 0; it < 300; it++) ck_assert_int_eq(iflow_net_orthonormalize(c, 0.05), 0);
    double worst = 0;
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++) {
            double dot = 0;
            for (size_t k = 0; k < 8; k++) dot += c->w[1][i * 8 + k] * c->w[1][j * 8 + k];
            worst = fmax(worst, fabs(dot - (i == j)));
        }
    ck_assert_msg(worst < 1e-6, "W W^T - I: %g", worst);
    c->b[1][2] = NAN;
    ck_assert_uint_eq(iflow_net_first_nonfinite(c), 1);
    iflow_net_free(c);
}
END_TEST

/* Two noisy Adam epochs of a ReLU CNN with max pooling (the fused pooling path) on a batch of 21
 * rows (weight-gradient groups of 8, 8 and 5) on `threads` threads: the final parameters. */
static double *train_on_threads(int threads, iflow_precision precision, size_t *n_params) {
    iflow_block b[3] = {
        {.kind = IFLOW_BLOCK_CONV,
         .units = 4,
         .kh = 3,
         .kw = 3,
         .stride = 1,
         .pad = 1,
         .pool = IFLOW_POOL_MAX,
         .pool_size = 2},
        {.kind = IFLOW_BLOCK_CONV,
         .units = 5,
         .kh = 3,
         .kw = 3,
         .stride = 1,
         .pad = 1,
         .pool = IFLOW_POOL_MAX,
         .pool_size = 2},
        {.kind = IFLOW_BLOCK_DENSE, .units = 3},
    };
    const double beta[] = {0.1, 0.1};
    enum { N = 50, BATCH = 21 };
    iflow_net *net = NULL;
    iflow_trainer *tr = NULL;
    iflow_optim *opt = NULL;
    iflow_error err = {0};
    iflow_optim_params op = {
        .kind = IFLOW_OPT_ADAM, .lr = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    ck_assert_int_eq(
        iflow_net_new_blocks((iflow_shape){2, 12, 12}, 3, b, IFLOW_ACT_RELU, 0, beta, &net, &err),
        0);
    ck_assert_int_eq(iflow_optim_new(&op, net->n_params, &opt, &err), 0);
    ck_assert_int_eq(iflow_trainer_new(net, N, BATCH, &tr, &err), 0);
    ck_assert_int_eq(iflow_trainer_set_precision(tr, net, precision, &err), 0);
    iflow_rng rng;
    iflow_rng_init(&rng, 5, 0);
    iflow_net_init(net, IFLOW_INIT_PYTORCH, &rng);
    double *x = malloc(N * net->widths[0] * sizeof *x);
    int y[N];
    fill_uniform(&rng, x, N * net->widths[0], -1, 1);
    for (int i = 0; i < N; i++) y[i] = (int)iflow_rng_below(&rng, 3);
    int before = omp_get_max_threads();
    omp_set_num_threads(threads);
    for (int e = 0; e < 2; e++)
        ck_assert_msg(iflow_train_epoch(tr, net, opt, x, y, N, 0, &rng, NULL, NULL, &err) == 0,
                      "%s", err.msg);
    omp_set_num_threads(before);
    double *params = malloc(net->n_params * sizeof *params);
    memcpy(params, net->params, net->n_params * sizeof *params);
    *n_params = net->n_params;
    free(x);
    iflow_trainer_free(tr);
    iflow_optim_free(opt);
    iflow_net_free(net);
    return params;
}

START_TEST(test_cnn_threads_same_numbers) {
    iflow_precision p = (iflow_precision)_i;
    size_t n1, n2, n3;
    double *one = train_on_threads(1, p, &n1), *two = train_on_threads(2, p, &n2),
           *three = train_on_threads(3, p, &n3);
    ck_assert_uint_eq(n1, n2);
    ck_assert_uint_eq(n1, n3);
    ck_assert_int_eq(memcmp(one, two, n1 * sizeof *one), 0);
    ck_assert_int_eq(memcmp(one, three, n1 * sizeof *one), 0);
    free(one), free(two), free(three);
}
END_TEST

int main(void) {
    Suite *s = suite_create("conv");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_conv_forward_direct, 0, (int)N_GEOMS);
    tcase_add_loop_test(tc, test_conv_backward_fd, 0, (int)N_GEOMS);
    tcase_add_loop_test(tc, test_pooling, 0, 2);
    tcase_add_loop_test(tc, test_cnn_gradient, 0, 4);
    tcase_add_test(tc, test_block_shapes);
    tcase_add_test(tc, test_shape_products_checked);
    tcase_add_test(tc, test_mlp_as_blocks_and_ortho);
    tcase_add_loop_test(tc, test_cnn_threads_same_numbers, 0, IFLOW_PRECISION_COUNT);
    tcase_add_loop_test(tc, test_cnn_gradient_f32, 0, 4);
    suite_add_tcase(s, tc);
    return iflow_check_run(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
