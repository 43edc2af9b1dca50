/* Tests of the noisy dense net: gradients by central differences for every activation, the
 * softmax cross-entropy, noise statistics, propagate(), initialisers and orthonormalisation. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infoflow/net.h"
#include "check_util.h"

static iflow_net *make_net(size_t n_widths, const size_t *widths, iflow_activation act,
                           const double *beta) {
    iflow_net *net = NULL;
    iflow_error err = {0};
    ck_assert_msg(iflow_net_new(n_widths, widths, act, 0.1, beta, &net, &err) == 0, "%s", err.msg);
    return net;
}

static iflow_workspace *make_ws(const iflow_net *net, size_t max_n) {
    iflow_workspace *ws = NULL;
    iflow_error err = {0};
    ck_assert_msg(iflow_workspace_new(net, max_n, &ws, &err) == 0, "%s", err.msg);
    return ws;
}

static void fill_uniform(iflow_rng *rng, double *v, size_t n, double lo, double hi) {
    for (size_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * iflow_rng_uniform(rng);
}

/* The activation applied by the test itself, to check the library's forward pass. */
static double act_ref(iflow_activation a, double x, double slope) {
    switch (a) {
    case IFLOW_ACT_TANH: return tanh(x);
    case IFLOW_ACT_RELU: return x > 0 ? x : 0;
    case IFLOW_ACT_LEAKY_RELU: return x > 0 ? x : slope * x;
    case IFLOW_ACT_SIGMOID: return 1 / (1 + exp(-x));
    default: return x;
    }
}

/* Loss with the noise fixed: the rng is re-seeded identically for every evaluation. */
static double loss_at(const iflow_net *net, const double *x, const int *y, size_t n,
                      iflow_workspace *ws) {
    iflow_rng rng;
    iflow_rng_init(&rng, 77, 1);
    const double *logits = iflow_net_forward(net, x, n, &rng, ws);
    return iflow_softmax_xent(logits, y, n, net->widths[net->n_layers], NULL, NULL);
}

/* Smallest |pre-activation| of the hidden layers, recomputed here from the layer inputs: the
 * finite differences are valid only away from the relu kink. */
static double min_abs_pre(const iflow_net *net, const double *x, size_t n, iflow_workspace *ws) {
    double m = INFINITY;
    for (size_t l = 1; l < net->n_layers; l++) {
        size_t k = net->widths[l - 1];
        const double *in = l > 1 ? iflow_workspace_layer(ws, l - 1) : x;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < net->widths[l]; j++) {
                double s = net->b[l][j];
                for (size_t q = 0; q < k; q++) s += net->w[l][j * k + q] * in[i * k + q];
                m = fmin(m, fabs(s));
            }
    }
    return m;
}

static void gradient_check(iflow_activation act) {
    const size_t widths[] = {4, 5, 3, 3};
    const double beta[] = {0.1, 0.1};
    iflow_net *net = make_net(4, widths, act, beta);
    iflow_rng rng;
    iflow_rng_init(&rng, 1000 + (uint64_t)act, 0);
    iflow_net_init(net, IFLOW_INIT_PYTORCH, &rng);
    fill_uniform(&rng, net->params, net->n_params, -1, 1); /* larger than init: sharper test */
    enum { N = 7 };
    double x[N * 4];
    int y[N];
    fill_uniform(&rng, x, N * 4, -2, 2);
    for (int i = 0; i < N; i++) y[i] = (int)iflow_rng_below(&rng, 3);
    iflow_workspace *ws = make_ws(net, N);
    double *grad = malloc(net->n_params * sizeof *grad);
    double loss0 = loss_at(net, x, y, N, ws);
    ck_assert_double_gt(min_abs_pre(net, x, N, ws), 1e-3);
    double loss_bw = iflow_net_backward(net, x, y, N, ws, grad, NULL);
    ck_assert_double_eq_tol(loss_bw, loss0, 1e-14);
    const double h = 1e-5;
    double worst = 0;
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
    }
    ck_assert_msg(worst < 1e-6, "%s: worst relative gradient error %g", iflow_activation_name(act),
                  worst);
    free(grad);
    iflow_workspace_free(ws);
    iflow_net_free(net);
}

START_TEST(test_gradient_every_activation) { gradient_check((iflow_activation)_i); }
END_TEST

START_TEST(test_softmax_xent_direct) {
    enum { N = 5, C = 4 };
    iflow_rng rng;
    iflow_rng_init(&rng, 3, 0);
    double z[N * C], g[N * C];
    int y[N];
    fill_uniform(&rng, z, N * C, -3, 3);
    for (int i = 0; i < N; i++) y[i] = (int)iflow_rng_below(&rng, C);
    size_t correct = 99;
    double loss = iflow_softmax_xent(z, y, N, C, g, &correct);
    double ref = 0;
    size_t ref_correct = 0;
    for (int i = 0; i < N; i++) {
        double sum = 0;
        int arg = 0;
        for (int j = 0; j < C; j++) {
            sum += exp(z[i * C + j]);
            if (z[i * C + j] > z[i * C + arg]) arg = j;
        }
        ref -= log(exp(z[i * C + y[i]]) / sum) / N;
        ref_correct += arg == y[i];
        for (int j = 0; j < C; j++) {
            double p = exp(z[i * C + j]) / sum - (j == y[i]);
            ck_assert_double_eq_tol(g[i * C + j], p / N, 1e-15);
        }
    }
    ck_assert_double_eq_tol(loss, ref, 1e-14);
    ck_assert_uint_eq(correct, ref_correct);
}
END_TEST

START_TEST(test_softmax_large_logits) {
    /* exp(1000) overflows; the log-sum-exp form must still give the closed forms. */
    double z[6] = {1000, 999, 998, 1000, -1000, 0};
    int y[2] = {0, 1};
    double g[6];
    double loss = iflow_softmax_xent(z, y, 2, 3, g, NULL);
    double l0 = log(1 + exp(-1.0) + exp(-2.0)); /* row 0, label 0 */
    double l1 = 2000 + log(1 + exp(-2000.0) + exp(-1000.0));
    ck_assert(isfinite(loss));
    ck_assert_double_eq_tol(loss, (l0 + l1) / 2, 1e-12);
    for (int i = 0; i < 2; i++) {
        double s = 0;
        for (int j = 0; j < 3; j++) {
            ck_assert(isfinite(g[i * 3 + j]));
            s += g[i * 3 + j];
        }
        ck_assert_double_eq_tol(s, 0, 1e-15);
    }
    ck_assert_double_eq_tol(g[3], 0.5 / (1 + exp(-2000.0) + exp(-1000.0)), 1e-15);
    ck_assert_double_eq_tol(g[4], -0.5, 1e-15);
}
END_TEST

START_TEST(test_forward_shapes_and_noise) {
    const size_t widths[] = {3, 60, 40, 2};
    const double beta[] = {0.3, 0.2};
    iflow_net *net = make_net(4, widths, IFLOW_ACT_TANH, beta);
    iflow_rng rng;
    iflow_rng_init(&rng, 11, 0);
    iflow_net_init(net, IFLOW_INIT_XAVIER, &rng);
    enum { N = 500 };
    double *x = malloc(N * 3 * sizeof *x);
    fill_uniform(&rng, x, N * 3, -1, 1);
    iflow_workspace *ws = make_ws(net, N);

    const double *logits = iflow_net_forward(net, x, N, NULL, ws);
    ck_assert_ptr_eq(logits, iflow_workspace_layer(ws, 3));
    for (size_t l = 1; l <= 2; l++) {
        const double *t = iflow_workspace_layer(ws, l), *s = iflow_workspace_clean(ws, l);
        for (size_t i = 0; i < N * widths[l]; i++) ck_assert(t[i] == s[i]);
    }
    logits = iflow_net_forward(net, x, N, &rng, ws);
    for (size_t l = 1; l <= 2; l++) {
        const double *t = iflow_workspace_layer(ws, l), *s = iflow_workspace_clean(ws, l);
        double sum = 0, sum2 = 0, cnt = (double)(N * widths[l]);
        for (size_t i = 0; i < N * widths[l]; i++) {
            sum += t[i] - s[i];
            sum2 += (t[i] - s[i]) * (t[i] - s[i]);
        }
        double mean = sum / cnt, sd = sqrt(sum2 / cnt - mean * mean);
        ck_assert_double_eq_tol(sd, beta[l - 1], 0.05 * beta[l - 1]);
        ck_assert_double_eq_tol(mean, 0, 5 * beta[l - 1] / sqrt(cnt));
    }
    /* S_1 = tanh(W_1 x + b_1) and S_2 = tanh(W_2 T_1 + b_2) from the noisy T_1; logits from T_2. */
    for (size_t l = 1; l <= 3; l++) {
        size_t k = widths[l - 1];
        const double *in = l > 1 ? iflow_workspace_layer(ws, l - 1) : x;
        const double *s = iflow_workspace_clean(ws, l);
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < widths[l]; j++) {
                double pre = net->b[l][j];
                for (size_t q = 0; q < k; q++) pre += net->w[l][j * k + q] * in[i * k + q];
                double ref = l < 3 ? tanh(pre) : pre;
                ck_assert_double_eq_tol(s[i * widths[l] + j], ref, 1e-13);
            }
    }
    ck_assert_ptr_eq(logits, iflow_workspace_clean(ws, 3));
    free(x);
    iflow_workspace_free(ws);
    iflow_net_free(net);
}
END_TEST

/* A 1-1-2 net with W_1 = 1, b_1 = 0 exposes the activation itself: compare it elementwise with
 * the C library over a wide range, including NaN propagation and the tanh kernel's branch at
 * |x| = 0.625. */
/* A noisy pass under normals v2 takes the fused kernel for widths <= 16: on a linear net without
 * noise, each layer is b_j then fma(a_ic, W_jc, .) over c in order, recomputed here; v1 (and a
 * 17-wide layer under v2) goes through OpenBLAS, equal to rounding. */
START_TEST(test_fused_forward_v2) {
    const size_t widths[] = {12, 16, 9, 17, 3}, n = 37;
    iflow_net *net = make_net(5, widths, IFLOW_ACT_LINEAR, NULL);
    iflow_workspace *ws = make_ws(net, n);
    iflow_rng r;
    iflow_rng_init(&r, 3, 0);
    fill_uniform(&r, net->params, net->n_params, -0.5, 0.5);
    double x[37 * 12], a[37 * 17], next[37 * 17], v1[37 * 3];
    fill_uniform(&r, x, n * 12, -1, 1);
    memcpy(v1, iflow_net_forward(net, x, n, NULL, ws), sizeof v1);
    r.normals = IFLOW_NORMALS_V2;
    const double *v2 = iflow_net_forward(net, x, n, &r, ws);
    memcpy(a, x, sizeof x);
    for (size_t l = 1; l < 5; l++) {
        size_t k = widths[l - 1], m = widths[l];
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < m; j++) {
                double s = net->b[l][j];
                if (k <= 16 && m <= 16)
                    for (size_t c = 0; c < k; c++) s = fma(a[i * k + c], net->w[l][j * k + c], s);
                else
                    for (size_t c = 0; c < k; c++) s += a[i * k + c] * net->w[l][j * k + c];
                next[i * m + j] = s;
            }
        memcpy(a, next, n * m * sizeof *a);
    }
    for (size_t i = 0; i < n * 3; i++) {
        ck_assert_double_eq_tol(v1[i], a[i], 1e-12);
        ck_assert_double_eq_tol(v2[i], a[i], 1e-12);
    }
    /* Layers 1-2 (12 -> 16 -> 9) are fused: bit for bit. */
    double *s2 = malloc(n * 9 * sizeof *s2);
    memcpy(a, x, sizeof x);
    for (size_t l = 1; l <= 2; l++) {
        size_t k = widths[l - 1], m = widths[l];
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < m; j++) {
                double s = net->b[l][j];
                for (size_t c = 0; c < k; c++) s = fma(a[i * k + c], net->w[l][j * k + c], s);
                next[i * m + j] = s;
            }
        memcpy(a, next, n * m * sizeof *a);
    }
    iflow_rng_init(&r, 3, 1);
    r.normals = IFLOW_NORMALS_V2;
    iflow_net_propagate(net, x, n, 2, &r, ws, s2);
    ck_assert_mem_eq(s2, a, n * 9 * sizeof *s2);
    free(s2);
    iflow_workspace_free(ws);
    iflow_net_free(net);
}
END_TEST

START_TEST(test_activation_values) {
    const size_t widths[] = {1, 1, 2};
    enum { N = 4003 };
    double *x = malloc(N * sizeof *x);
    int nan_seen = 0;
    for (int i = 0; i < N - 3; i++) x[i] = -25 + 50.0 * i / (N - 4);
    x[N - 3] = NAN;
    x[N - 2] = 0.625;
    x[N - 1] = nextafter(0.625, 0);
    for (int a = 0; a < 5; a++) {
        iflow_net *net = make_net(3, widths, (iflow_activation)a, NULL);
        net->w[1][0] = 1;
        iflow_workspace *ws = make_ws(net, N);
        /* A pass with an rng but no noise: under v2 the fast paths (fused layer, fma tanh). */
        iflow_rng r;
        iflow_rng_init(&r, 1, 0);
        r.normals = (iflow_normals)_i;
        iflow_net_forward(net, x, N, &r, ws);
        const double *s = iflow_workspace_clean(ws, 1);
        for (int i = 0; i < N; i++) {
            double ref = act_ref((iflow_activation)a, x[i], 0.1);
            if (isnan(x[i])) {
                ck_assert_msg(isnan(s[i]), "%s(NaN) is not NaN", iflow_activation_name(a));
                nan_seen++;
                continue;
            }
            ck_assert_msg(fabs(s[i] - ref) <= 8e-16 * fabs(ref), "%s(%.17g) = %.17g, want %.17g",
                          iflow_activation_name(a), x[i], s[i], ref);
        }
        iflow_workspace_free(ws);
        iflow_net_free(net);
    }
    ck_assert_int_eq(nan_seen, 5);
    free(x);
}
END_TEST

START_TEST(test_propagate) {
    const size_t widths[] = {4, 6, 5, 4, 3};
    const double beta[] = {0.2, 0.1, 0.3};
    iflow_net *net = make_net(5, widths, IFLOW_ACT_RELU, beta);
    iflow_rng rng, r1, r2;
    iflow_rng_init(&rng, 5, 0);
    iflow_net_init(net, IFLOW_INIT_PYTORCH, &rng);
    enum { N = 37 };
    double x[N * 4], out[N * 6];
    fill_uniform(&rng, x, N * 4, -1, 1);
    iflow_workspace *ws = make_ws(net, N), *small = make_ws(net, 8);
    for (size_t l = 1; l <= 3; l++) {
        /* Noiseless, in chunks of 8 rows: equal to the clean layer of one forward pass. */
        iflow_net_forward(net, x, N, NULL, ws);
        iflow_net_propagate(net, x, N, l, NULL, small, out);
        const double *clean = iflow_workspace_clean(ws, l);
        for (size_t i = 0; i < N * widths[l]; i++) ck_assert_double_eq_tol(out[i], clean[i], 1e-14);
        /* Noisy: forward draws layer 1's noise, then layer 2's, ... so the same seed gives
         * propagate() the same noise on layers 1..l-1, and S_l must match exactly. */
        iflow_rng_init(&r1, 9, (uint64_t)l);
        iflow_rng_init(&r2, 9, (uint64_t)l);
        iflow_net_forward(net, x, N, &r1, ws);
        iflow_net_propagate(net, x, N, l, &r2, ws, out);
        ck_assert_int_eq(memcmp(out, iflow_workspace_clean(ws, l), N * widths[l] * sizeof *out), 0);
        /* No noise is drawn after layer l: the rng has advanced by exactly the normals of
         * layers 1..l-1. */
        size_t drawn = 0;
        for (size_t q = 1; q < l; q++) drawn += N * widths[q];
        iflow_rng_init(&r1, 9, (uint64_t)l);
        double *skip = malloc((drawn + 1) * sizeof *skip);
        iflow_rng_fill_normal(&r1, skip, drawn, 1.0);
        free(skip);
        ck_assert_uint_eq(iflow_rng_u64(&r1), iflow_rng_u64(&r2));
        if (l > 1) { /* and the noise does matter */
            iflow_net_propagate(net, x, N, l, NULL, ws, out);
            iflow_net_forward(net, x, N, &r1, ws);
            ck_assert_int_ne(memcmp(out, iflow_workspace_clean(ws, l), N * widths[l] * sizeof *out),
                             0);
        }
    }
    iflow_workspace_free(ws);
    iflow_workspace_free(small);
    iflow_net_free(net);
}
END_TEST

static void moments(const double *v, size_t n, double *mean, double *var, double *maxabs) {
    double s = 0, s2 = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        s += v[i];
        s2 += v[i] * v[i];
        m = fmax(m, fabs(v[i]));
    }
    *mean = s / (double)n;
    *var = s2 / (double)n - *mean * *mean;
    *maxabs = m;
}

START_TEST(test_inits) {
    const size_t widths[] = {200, 300, 10};
    const size_t fi = 200, fo = 300, nw = fi * fo;
    iflow_net *net = make_net(3, widths, IFLOW_ACT_TANH, NULL);
    iflow_rng rng;
    double mean, var, maxabs;
    /* Variance of N(0, s^2) truncated to [-2s, 2s]: s^2 (1 - 2 * 2 phi(2) / (2 Phi(2) - 1)). */
    double phi2 = exp(-2.0) / sqrt(2 * M_PI), mass = erf(2 / sqrt(2.0));
    double trunc_var = (1.0 / (double)fi) * (1 - 4 * phi2 / mass);
    double a_pt = 1 / sqrt((double)fi), a_xv = sqrt(6.0 / (double)(fi + fo));
    struct {
        iflow_init kind;
        double bound, var;
        int zero_bias;
    } cases[] = {{IFLOW_INIT_PYTORCH, a_pt, a_pt * a_pt / 3, 0},
                 {IFLOW_INIT_XAVIER, a_xv, a_xv * a_xv / 3, 1},
                 {IFLOW_INIT_TRUNCNORMAL, 2 * a_pt, trunc_var, 1}};
    for (int c = 0; c < 3; c++) {
        iflow_rng_init(&rng, 21, (uint64_t)c);
        iflow_net_init(net, cases[c].kind, &rng);
        moments(net->w[1], nw, &mean, &var, &maxabs);
        ck_assert_double_le(maxabs, cases[c].bound);
        ck_assert_double_eq_tol(mean, 0, 5 * sqrt(cases[c].var / (double)nw));
        ck_assert_double_eq_tol(var, cases[c].var, 0.03 * cases[c].var);
        /* the truncated normal reaches close to its bound; a plain N(0, 1/fi) would exceed it */
        ck_assert_double_ge(maxabs, 0.95 * cases[c].bound);
        moments(net->b[1], fo, &mean, &var, &maxabs);
        if (cases[c].zero_bias)
            ck_assert_double_eq(maxabs, 0);
        else
            ck_assert(maxabs > 0.5 * a_pt && maxabs <= a_pt);
    }
    iflow_net_free(net);
}
END_TEST

/* ||W W^T - I||_F for r <= c, else ||W^T W - I||_F. */
static double ortho_error(const double *w, size_t r, size_t c) {
    size_t g = r <= c ? r : c;
    double e = 0;
    for (size_t i = 0; i < g; i++)
        for (size_t j = 0; j < g; j++) {
            double s = 0;
            for (size_t q = 0; q < (r <= c ? c : r); q++)
                s += r <= c ? w[i * c + q] * w[j * c + q] : w[q * c + i] * w[q * c + j];
            e += (s - (i == j)) * (s - (i == j));
        }
    return sqrt(e);
}

START_TEST(test_orthonormalize) {
    const size_t widths[] = {8, 5, 9, 3};
    iflow_net *net = make_net(4, widths, IFLOW_ACT_TANH, NULL);
    iflow_rng rng;
    iflow_rng_init(&rng, 8, 0);
    fill_uniform(&rng, net->params, net->n_params, -0.5, 0.5);
    double before[4], *w0 = malloc(net->n_params * sizeof *w0);
    memcpy(w0, net->params, net->n_params * sizeof *w0);
    for (size_t l = 1; l <= 3; l++) before[l] = ortho_error(net->w[l], widths[l], widths[l - 1]);
    const double alpha = 0.1;
    ck_assert_int_eq(iflow_net_orthonormalize(net, alpha), 0);
    for (size_t l = 1; l <= 3; l++) {
        size_t r = widths[l], c = widths[l - 1];
        const double *w = w0 + (net->w[l] - net->params);
        /* One step equals (1 + a) W - a W W^T W, computed here directly. */
        for (size_t i = 0; i < r; i++)
            for (size_t j = 0; j < c; j++) {
                double wwtw = 0;
                for (size_t p = 0; p < r; p++) {
                    double g = 0;
                    for (size_t q = 0; q < c; q++) g += w[i * c + q] * w[p * c + q];
                    wwtw += g * w[p * c + j];
                }
                ck_assert_double_eq_tol(net->w[l][i * c + j],
                                        (1 + alpha) * w[i * c + j] - alpha * wwtw, 1e-14);
            }
        ck_assert_double_lt(ortho_error(net->w[l], r, c), before[l]);
    }
    for (int it = 0; it < 300; it++) iflow_net_orthonormalize(net, alpha);
    for (size_t l = 1; l <= 3; l++)
        ck_assert_double_lt(ortho_error(net->w[l], widths[l], widths[l - 1]), 1e-8);
    free(w0);
    iflow_net_free(net);
}
END_TEST

START_TEST(test_first_nonfinite_and_errors) {
    const size_t widths[] = {3, 4, 4, 2};
    iflow_net *net = make_net(4, widths, IFLOW_ACT_TANH, NULL);
    ck_assert_uint_eq(iflow_net_first_nonfinite(net), 0);
    net->b[3][1] = INFINITY;
    ck_assert_uint_eq(iflow_net_first_nonfinite(net), 3);
    net->w[2][5] = NAN;
    ck_assert_uint_eq(iflow_net_first_nonfinite(net), 2);
    iflow_net_free(net);

    iflow_net *bad = NULL;
    iflow_error err = {0};
    const size_t zero[] = {3, 0, 2};
    const double neg[] = {-0.1};
    ck_assert_int_eq(iflow_net_new(1, widths, IFLOW_ACT_TANH, 0, NULL, &bad, &err), IFLOW_EINVAL);
    ck_assert_int_eq(iflow_net_new(3, zero, IFLOW_ACT_TANH, 0, NULL, &bad, &err), IFLOW_EINVAL);
    ck_assert(strstr(err.msg, "widths[1]") != NULL);
    ck_assert_int_eq(iflow_net_new(3, widths, IFLOW_ACT_TANH, 0, neg, &bad, &err), IFLOW_EINVAL);
    ck_assert(strstr(err.msg, "hidden layer 1") != NULL);
    ck_assert_ptr_null(bad);

    for (int a = 0; a < 5; a++) {
        iflow_activation back;
        ck_assert_int_eq(iflow_activation_parse(iflow_activation_name(a), &back), 0);
        ck_assert_int_eq(back, a);
    }
    for (int k = 0; k < 3; k++) {
        iflow_init back;
        ck_assert_int_eq(iflow_init_parse(iflow_init_name(k), &back), 0);
        ck_assert_int_eq(back, k);
    }
    iflow_activation a;
    ck_assert_int_eq(iflow_activation_parse("softplus", &a), IFLOW_EINVAL);
}
END_TEST

int main(void) {
    Suite *s = suite_create("net");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_gradient_every_activation, 0, 5);
    tcase_add_test(tc, test_softmax_xent_direct);
    tcase_add_test(tc, test_softmax_large_logits);
    tcase_add_test(tc, test_forward_shapes_and_noise);
    tcase_add_loop_test(tc, test_activation_values, IFLOW_NORMALS_V1, IFLOW_NORMALS_COUNT);
    tcase_add_test(tc, test_fused_forward_v2);
    tcase_add_test(tc, test_propagate);
    tcase_add_test(tc, test_inits);
    tcase_add_test(tc, test_orthonormalize);
    tcase_add_test(tc, test_first_nonfinite_and_errors);
    suite_add_tcase(s, tc);
    int failed = iflow_check_run(s);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
