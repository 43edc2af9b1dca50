/* Tests of the optimisers: SGD (plain, momentum, weight decay) and Adam against updates written
 * out by hand, convergence on a quadratic, and parameter validation. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infoflow/optim.h"
#include "check_util.h"

static iflow_optim *make_opt(iflow_optim_params p, size_t n) {
    iflow_optim *o = NULL;
    iflow_error err = {0};
    ck_assert_msg(iflow_optim_new(&p, n, &o, &err) == 0, "%s", err.msg);
    return o;
}

START_TEST(test_sgd_plain_and_weight_decay) {
    iflow_optim *o = make_opt((iflow_optim_params){.kind = IFLOW_OPT_SGD, .lr = 0.1}, 3);
    double p[3] = {1, -2, 0.5}, g[3] = {0.3, -0.4, 2};
    iflow_optim_step(o, p, g);
    ck_assert_double_eq_tol(p[0], 1 - 0.1 * 0.3, 1e-15);
    ck_assert_double_eq_tol(p[1], -2 + 0.1 * 0.4, 1e-15);
    ck_assert_double_eq_tol(p[2], 0.5 - 0.1 * 2, 1e-15);
    ck_assert_int_eq(o->step, 1);
    iflow_optim_free(o);

    o = make_opt((iflow_optim_params){.kind = IFLOW_OPT_SGD, .lr = 0.1, .weight_decay = 0.01}, 3);
    double q[3] = {1, -2, 0.5};
    iflow_optim_step(o, q, g);
    /* g + wd p */
    ck_assert_double_eq_tol(q[0], 1 - 0.1 * (0.3 + 0.01 * 1), 1e-15);
    ck_assert_double_eq_tol(q[1], -2 - 0.1 * (-0.4 + 0.01 * -2), 1e-15);
    ck_assert_double_eq_tol(q[2], 0.5 - 0.1 * (2 + 0.01 * 0.5), 1e-15);
    iflow_optim_free(o);
}
END_TEST

START_TEST(test_sgd_momentum) {
    /* PyTorch: v1 = g1, v_t = mu v_{t-1} + g_t, p -= lr v_t. */
    const double lr = 0.05, mu = 0.9;
    iflow_optim *o =
        make_opt((iflow_optim_params){.kind = IFLOW_OPT_SGD, .lr = lr, .momentum = mu}, 2);
    double p[2] = {1, 2};
    const double g[3][2] = {{1, -1}, {0.5, 0.25}, {-2, 0}};
    double ref[2] = {1, 2}, v[2] = {0, 0};
    for (int t = 0; t < 3; t++) {
        iflow_optim_step(o, p, g[t]);
        for (int i = 0; i < 2; i++) {
            v[i] = t == 0 ? g[t][i] : mu * v[i] + g[t][i];
            ref[i] -= lr * v[i];
            ck_assert_double_eq_tol(p[i], ref[i], 1e-15);
        }
    }
    /* step 2 of coordinate 0 written out: v2 = 0.9 * 1 + 0.5 = 1.4 */
    ck_assert_double_eq_tol(v[0], 0.9 * (0.9 * 1 + 0.5) - 2, 1e-15);
    ck_assert_double_eq_tol(o->m[0], v[0], 1e-15);
    iflow_optim_free(o);
}
END_TEST

START_TEST(test_adam_two_steps) {
    /* Kingma & Ba, Algorithm 1, with L2 decay added to the gradient (PyTorch's Adam). */
    const double lr = 0.01, b1 = 0.8, b2 = 0.95, eps = 1e-6, wd = 0.1;
    iflow_optim *o = make_opt((iflow_optim_params){.kind = IFLOW_OPT_ADAM,
                                                   .lr = lr,
                                                   .beta1 = b1,
                                                   .beta2 = b2,
                                                   .eps = eps,
                                                   .weight_decay = wd},
                              2);
    double p[2] = {0.5, -1.5};
    const double g1[2] = {0.2, -3}, g2[2] = {-0.1, 1};
    iflow_optim_step(o, p, g1);
    iflow_optim_step(o, p, g2);
    /* coordinate 0 */
    double p0 = 0.5, gg = 0.2 + wd * p0;
    double m = (1 - b1) * gg, v = (1 - b2) * gg * gg;
    p0 -= lr * (m / (1 - b1)) / (sqrt(v / (1 - b2)) + eps);
    gg = -0.1 + wd * p0;
    m = b1 * m + (1 - b1) * gg;
    v = b2 * v + (1 - b2) * gg * gg;
    p0 -= lr * (m / (1 - b1 * b1)) / (sqrt(v / (1 - b2 * b2)) + eps);
    ck_assert_double_eq_tol(p[0], p0, 1e-15);
    ck_assert_double_eq_tol(o->m[0], m, 1e-15);
    ck_assert_double_eq_tol(o->v[0], v, 1e-15);
    /* coordinate 1 */
    double p1 = -1.5;
    gg = -3 + wd * p1;
    m = (1 - b1) * gg;
    v = (1 - b2) * gg * gg;
    p1 -= lr * (m / (1 - b1)) / (sqrt(v / (1 - b2)) + eps);
    gg = 1 + wd * p1;
    m = b1 * m + (1 - b1) * gg;
    v = b2 * v + (1 - b2) * gg * gg;
    p1 -= lr * (m / (1 - b1 * b1)) / (sqrt(v / (1 - b2 * b2)) + eps);
    ck_assert_double_eq_tol(p[1], p1, 1e-15);
    ck_assert_int_eq(o->step, 2);
    iflow_optim_free(o);
}
END_TEST

/* f(p) = 1/2 sum_i a_i (p_i - c_i)^2, gradient a_i (p_i - c_i), minimum at c. */
static double quadratic(const double *p, double *g, size_t n) {
    double f = 0;
    for (size_t i = 0; i < n; i++) {
        double a = 0.5 + (double)i, c = 1.0 - 0.3 * (double)i, d = p[i] - c;
        f += 0.5 * a * d * d;
        g[i] = a * d;
    }
    return f;
}

START_TEST(test_minimise_quadratic) {
    enum { N = 5 };
    iflow_optim_params cases[] = {
        {.kind = IFLOW_OPT_SGD, .lr = 0.1},
        {.kind = IFLOW_OPT_SGD, .lr = 0.05, .momentum = 0.9},
        {.kind = IFLOW_OPT_ADAM, .lr = 0.02, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8},
    };
    for (int c = 0; c < 3; c++) {
        iflow_optim *o = make_opt(cases[c], N);
        double p[N] = {0}, g[N];
        double f0 = quadratic(p, g, N), f = f0;
        for (int t = 0; t < 3000; t++) {
            f = quadratic(p, g, N);
            iflow_optim_step(o, p, g);
        }
        f = quadratic(p, g, N);
        ck_assert_msg(f < 1e-10 * f0, "optimiser %d: f = %g from %g", c, f, f0);
        for (size_t i = 0; i < N; i++) ck_assert_double_eq_tol(p[i], 1.0 - 0.3 * (double)i, 1e-4);
        iflow_optim_free(o);
    }
}
END_TEST

START_TEST(test_validation_and_names) {
    iflow_optim *o = NULL;
    iflow_error err = {0};
    iflow_optim_params bad_lr = {.kind = IFLOW_OPT_SGD, .lr = 0};
    ck_assert_int_eq(iflow_optim_new(&bad_lr, 3, &o, &err), IFLOW_EINVAL);
    ck_assert(strstr(err.msg, "lr") != NULL);
    iflow_optim_params bad_mu = {.kind = IFLOW_OPT_SGD, .lr = 0.1, .momentum = 1};
    ck_assert_int_eq(iflow_optim_new(&bad_mu, 3, &o, &err), IFLOW_EINVAL);
    ck_assert(strstr(err.msg, "momentum") != NULL);
    iflow_optim_params bad_b2 = {
        .kind = IFLOW_OPT_ADAM, .lr = 0.1, .beta1 = 0.9, .beta2 = 1, .eps = 1e-8};
    ck_assert_int_eq(iflow_optim_new(&bad_b2, 3, &o, &err), IFLOW_EINVAL);
    ck_assert(strstr(err.msg, "beta2") != NULL);
    iflow_optim_params bad_wd = {.kind = IFLOW_OPT_ADAM,
                                 .lr = 0.1,
                                 .beta1 = 0.9,
                                 .beta2 = 0.9,
                                 .eps = 1e-8,
                                 .weight_decay = NAN};
    ck_assert_int_eq(iflow_optim_new(&bad_wd, 3, &o, &err), IFLOW_EINVAL);
    ck_assert_ptr_null(o);
    iflow_optimizer k;
    ck_assert_int_eq(iflow_optimizer_parse("adam", &k), 0);
    ck_assert_int_eq(k, IFLOW_OPT_ADAM);
    ck_assert_str_eq(iflow_optimizer_name(k), "adam");
    ck_assert_int_eq(iflow_optimizer_parse("sgd", &k), 0);
    ck_assert_str_eq(iflow_optimizer_name(k), "sgd");
    ck_assert_int_eq(iflow_optimizer_parse("rmsprop", &k), IFLOW_EINVAL);
    iflow_optim_free(NULL);
}
END_TEST

int main(void) {
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_sgd_plain_and_weight_decay);
    tcase_add_test(tc, test_sgd_momentum);
    tcase_add_test(tc, test_adam_two_steps);
    tcase_add_test(tc, test_minimise_quadratic);
    tcase_add_test(tc, test_validation_and_names);
    suite_add_tcase(s, tc);
    int failed = iflow_check_run(s);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
