/* Tests of training epochs and evaluation: a separable problem is learned, runs are bit-for-bit
 * reproducible, divergence is reported with the layer, and epoch statistics are exact means. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infoflow/train.h"
#include "check_util.h"

typedef struct {
    iflow_net *net;
    iflow_optim *opt;
    iflow_trainer *tr;
} setup;

static setup make(size_t n_widths, const size_t *widths, iflow_activation act, const double *beta,
                  iflow_optim_params op, size_t n_rows, size_t batch, uint64_t seed) {
    setup s = {0};
    iflow_error err = {0};
    ck_assert_msg(iflow_net_new(n_widths, widths, act, 0.01, beta, &s.net, &err) == 0, "%s",
                  err.msg);
    ck_assert_msg(iflow_optim_new(&op, s.net->n_params, &s.opt, &err) == 0, "%s", err.msg);
    ck_assert_msg(iflow_trainer_new(s.net, n_rows, batch, &s.tr, &err) == 0, "%s", err.msg);
    iflow_rng rng;
    iflow_rng_init(&rng, seed, 0);
    iflow_net_init(s.net, IFLOW_INIT_XAVIER, &rng);
    return s;
}

static void release(setup *s) {
    iflow_trainer_free(s->tr);
    iflow_optim_free(s->opt);
    iflow_net_free(s->net);
}

/* Two Gaussian blobs of std 0.5 around (-1.5, -1) and (1.5, 1): Bayes error ~ 1e-4. */
static void blobs(size_t n, double scale, uint64_t seed, double *x, int *y) {
    iflow_rng rng;
    iflow_rng_init(&rng, seed, 42);
    for (size_t i = 0; i < n; i++) {
        y[i] = (int)(i % 2);
        double sign = y[i] ? 1.0 : -1.0;
        x[2 * i] = scale * (1.5 * sign + 0.5 * iflow_rng_normal(&rng));
        x[2 * i + 1] = scale * (1.0 * sign + 0.5 * iflow_rng_normal(&rng));
    }
}

static const iflow_optim_params adam = {
    .kind = IFLOW_OPT_ADAM, .lr = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};

enum { N = 300 };

START_TEST(test_learns_blobs) {
    static double x[N * 2];
    static int y[N];
    blobs(N, 1.0, 1, x, y);
    const size_t widths[] = {2, 6, 4, 2};
    const double beta[] = {0.05, 0.05};
    setup s = make(4, widths, IFLOW_ACT_TANH, beta, adam, N, 32, 3);
    iflow_rng rng;
    iflow_rng_init(&rng, 3, 1);
    double loss0, acc0, loss = 0, acc = 0;
    iflow_evaluate(s.net, x, y, N, NULL, s.tr->ws, s.tr->batch, &loss0, &acc0);
    iflow_error err = {0};
    for (int e = 0; e < 200; e++)
        ck_assert_msg(iflow_train_epoch(s.tr, s.net, s.opt, x, y, N, 0, &rng, &loss, &acc, &err) ==
                          0,
                      "%s", err.msg);
    ck_assert_double_gt(acc, 0.95);
    ck_assert_double_lt(loss, 0.5 * loss0);
    double eval_loss, eval_acc;
    iflow_evaluate(s.net, x, y, N, NULL, s.tr->ws, s.tr->batch, &eval_loss, &eval_acc);
    ck_assert_double_gt(eval_acc, 0.95);
    /* held-out points from the same blobs */
    static double xt[N * 2];
    static int yt[N];
    blobs(N, 1.0, 2, xt, yt);
    iflow_evaluate(s.net, xt, yt, N, &rng, s.tr->ws, s.tr->batch, &eval_loss, &eval_acc);
    ck_assert_double_gt(eval_acc, 0.95);
    ck_assert_int_eq(s.opt->step, 200 * ((N + 31) / 32));
    release(&s);
}
END_TEST

static void train_copy(uint64_t seed, double orthonormal, double *params_out, size_t n_params) {
    static double x[N * 2];
    static int y[N];
    blobs(N, 1.0, 1, x, y);
    const size_t widths[] = {2, 5, 3, 2};
    const double beta[] = {0.1, 0.1};
    setup s = make(4, widths, IFLOW_ACT_RELU, beta, adam, N, 50, 7);
    ck_assert_uint_eq(s.net->n_params, n_params);
    iflow_rng rng;
    iflow_rng_init(&rng, seed, 1);
    iflow_error err = {0};
    for (int e = 0; e < 20; e++)
        ck_assert_int_eq(
            iflow_train_epoch(s.tr, s.net, s.opt, x, y, N, orthonormal, &rng, NULL, NULL, &err), 0);
    memcpy(params_out, s.net->params, n_params * sizeof *params_out);
    release(&s);
}

START_TEST(test_same_seed_bit_identical) {
    enum { P = 5 * 3 + 3 * 6 + 2 * 4 };
    double a[P], b[P], c[P];
    train_copy(10, 0.01, a, P);
    train_copy(10, 0.01, b, P);
    train_copy(11, 0.01, c, P);
    ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
    ck_assert_int_ne(memcmp(a, c, sizeof a), 0);
}
END_TEST

/* ||W W^T - I||_F of a layer with rows <= columns. */
static double ortho_error(const iflow_net *net, size_t l) {
    size_t r = net->widths[l], c = net->widths[l - 1];
    double e = 0;
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < r; j++) {
            double g = 0;
            for (size_t q = 0; q < c; q++) g += net->w[l][i * c + q] * net->w[l][j * c + q];
            e += (g - (i == j)) * (g - (i == j));
        }
    return sqrt(e);
}

START_TEST(test_orthonormal_step_applied) {
    static double x[N * 2];
    static int y[N];
    blobs(N, 1.0, 1, x, y);
    const size_t widths[] = {2, 8, 4, 2}; /* layer 2 is 4 x 8 */
    double err_with = 0, err_without = 0;
    for (int with = 0; with < 2; with++) {
        setup s = make(4, widths, IFLOW_ACT_TANH, NULL, adam, N, 30, 5);
        iflow_rng rng;
        iflow_rng_init(&rng, 5, 1);
        iflow_error err = {0};
        for (int e = 0; e < 30; e++)
            ck_assert_int_eq(iflow_train_epoch(s.tr, s.net, s.opt, x, y, N, with ? 0.1 : 0, &rng,
                                               NULL, NULL, &err),
                             0);
        *(with ? &err_with : &err_without) = ortho_error(s.net, 2);
        release(&s);
    }
    /* Training alone drifts far from orthonormal; the step after every update holds W_2 near. */
    ck_assert_double_lt(err_with, 0.25 * err_without);
}
END_TEST

/* Random labels on unnormalised inputs (std 1000): nothing to fit, so the gradients never
 * vanish. Returns the code of the first failing epoch (0 if 50 epochs pass). */
static int diverge(iflow_activation act, double lr, setup *s, iflow_error *err) {
    static double x[N * 2];
    static int y[N];
    iflow_rng rng;
    iflow_rng_init(&rng, 12, 0);
    for (size_t i = 0; i < N; i++) {
        y[i] = (int)iflow_rng_below(&rng, 2);
        x[2 * i] = 1000 * iflow_rng_normal(&rng);
        x[2 * i + 1] = 1000 * iflow_rng_normal(&rng);
    }
    const size_t widths[] = {2, 16, 8, 2};
    iflow_optim_params sgd = {.kind = IFLOW_OPT_SGD, .lr = lr};
    *s = make(4, widths, act, NULL, sgd, N, 30, 9);
    int rc = 0;
    for (int epoch = 0; rc == 0 && epoch < 50; epoch++)
        rc = iflow_train_epoch(s->tr, s->net, s->opt, x, y, N, 0, &rng, NULL, NULL, err);
    return rc;
}

/* "layer L (R x C): ..." with R x C the shape of that layer's W. */
static size_t named_layer(const iflow_net *net, const char *msg) {
    size_t layer = 0, rows = 0, cols = 0;
    ck_assert_msg(sscanf(msg, "layer %zu (%zu x %zu)", &layer, &rows, &cols) == 3, "%s", msg);
    ck_assert_msg(strstr(msg, "NaN/Inf") && strstr(msg, "step"), "%s", msg);
    ck_assert(layer >= 1 && layer <= net->n_layers);
    ck_assert_uint_eq(rows, net->widths[layer]);
    ck_assert_uint_eq(cols, net->widths[layer - 1]);
    return layer;
}

START_TEST(test_divergence_names_layer) {
    setup s;
    iflow_error err = {0};
    /* Linear layers: the weights grow geometrically until the logits overflow, with the weights
     * themselves still finite; the message names the layer whose outputs broke. */
    ck_assert_int_eq(diverge(IFLOW_ACT_LINEAR, 1e6, &s, &err), IFLOW_ENUMERIC);
    size_t layer = named_layer(s.net, err.msg);
    ck_assert_uint_eq(iflow_net_first_nonfinite(s.net), 0);
    ck_assert(strstr(err.msg, "activations") != NULL);
    const double *out = iflow_workspace_layer(s.tr->ws, layer);
    int overflowed = 0;
    for (size_t i = 0; i < 30 * s.net->widths[layer]; i++) overflowed |= !isfinite(out[i]);
    ck_assert(overflowed);
    release(&s);
    /* tanh with lr 1e308: the first update of W_1 (gradient ~ x ~ 1000) overflows to Inf. */
    ck_assert_int_eq(diverge(IFLOW_ACT_TANH, 1e308, &s, &err), IFLOW_ENUMERIC);
    layer = named_layer(s.net, err.msg);
    ck_assert(strstr(err.msg, "weights") != NULL);
    ck_assert_uint_eq(layer, iflow_net_first_nonfinite(s.net));
    ck_assert_uint_eq(layer, 1);
    release(&s);
}
END_TEST

START_TEST(test_epoch_statistics_are_means) {
    /* A deterministic net and a learning rate too small to move the weights: the epoch's
     * loss and accuracy must equal one noiseless evaluation over all rows, whatever the
     * batching (300 rows in batches of 70: the last one has 20). */
    static double x[N * 2];
    static int y[N];
    blobs(N, 1.0, 4, x, y);
    const size_t widths[] = {2, 3, 2};
    iflow_optim_params sgd = {.kind = IFLOW_OPT_SGD, .lr = 1e-300};
    setup s = make(3, widths, IFLOW_ACT_SIGMOID, NULL, sgd, N, 70, 4);
    iflow_rng rng;
    iflow_rng_init(&rng, 4, 1);
    double loss, acc, eval_loss, eval_acc, eval_loss7, eval_acc7;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_train_epoch(s.tr, s.net, s.opt, x, y, N, 0, &rng, &loss, &acc, &err), 0);
    ck_assert_int_eq(s.opt->step, 5);
    iflow_evaluate(s.net, x, y, N, NULL, s.tr->ws, s.tr->batch, &eval_loss, &eval_acc);
    iflow_evaluate(s.net, x, y, N, NULL, s.tr->ws, 7, &eval_loss7, &eval_acc7);
    ck_assert_double_eq_tol(loss, eval_loss, 1e-13);
    ck_assert_double_eq_tol(acc, eval_acc, 1e-15);
    ck_assert_double_eq_tol(eval_loss7, eval_loss, 1e-13);
    ck_assert_double_eq_tol(eval_acc7, eval_acc, 1e-15);
    ck_assert(acc > 0 && acc < 1); /* not a degenerate net */

    /* Wrong shapes are reported, not trusted. */
    ck_assert_int_eq(iflow_train_epoch(s.tr, s.net, s.opt, x, y, N - 1, 0, &rng, &loss, &acc, &err),
                     IFLOW_EINVAL);
    iflow_trainer *t2 = NULL;
    ck_assert_int_eq(iflow_trainer_new(s.net, N, 0, &t2, &err), IFLOW_EINVAL);
    ck_assert_ptr_null(t2);
    release(&s);
}
END_TEST

int main(void) {
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_learns_blobs);
    tcase_add_test(tc, test_same_seed_bit_identical);
    tcase_add_test(tc, test_orthonormal_step_applied);
    tcase_add_test(tc, test_divergence_names_layer);
    tcase_add_test(tc, test_epoch_statistics_are_means);
    suite_add_tcase(s, tc);
    int failed = iflow_check_run(s);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
