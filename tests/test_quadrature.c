/* The exact values of `infoflow validate`'s channels (src/run/validate.c): the quadratures
 * converge, agree with an independent formula, and obey the bounds the channels must. */
#include <check.h>
#include <math.h>

#include "check_util.h"
#include "validate.h"

/* Binary-input AWGN capacity by its other formula, ln 2 - E ln(1 + exp(-2 Y / s^2)) with
 * Y ~ N(1, s^2), by the trapezoid rule on 40 s either side. */
static double biawgn_other(double s) {
    double e = 0, h = s / 200;
    for (double y = 1 - 40 * s; y <= 1 + 40 * s; y += h) {
        double z = -2 * y / (s * s), soft = z > 30 ? z + log1p(exp(-z)) : log1p(exp(z));
        e += soft * exp(-0.5 * (y - 1) * (y - 1) / (s * s)) / (s * sqrt(2 * M_PI)) * h;
    }
    return log(2.0) - e;
}

START_TEST(test_cube_capacity) {
    for (double beta = 0.3; beta <= 2.0; beta *= 1.7) {
        double c = validate_truth(VALIDATE_CUBE, 1, beta, 1.0 / 25);
        ck_assert_double_eq_tol(c, biawgn_other(beta), 1e-7);
        ck_assert_double_eq_tol(validate_truth(VALIDATE_CUBE, 3, beta, 1.0 / 25), 3 * c, 1e-12);
    }
    /* Far apart at this noise: one bit. */
    ck_assert_double_eq_tol(validate_truth(VALIDATE_CUBE, 1, 0.05, 1.0 / 25), log(2.0), 1e-9);
}
END_TEST

START_TEST(test_tanh_chain) {
    for (size_t d = 1; d <= 3; d++) {
        double lo = validate_truth(VALIDATE_TANH, d, 0.1, 1.0 / 25);
        ck_assert_double_eq_tol(lo, validate_truth(VALIDATE_TANH, d, 0.1, 1.0 / 50), 1e-7);
        double hi = validate_truth(VALIDATE_TANH, d, 0.3, 1.0 / 25);
        ck_assert_double_eq_tol(hi, validate_truth(VALIDATE_TANH, d, 0.3, 1.0 / 50), 1e-7);
        /* More noise, less information; never more than H(X) = d ln g. */
        ck_assert_double_gt(hi, 0);
        ck_assert_double_lt(hi, lo);
        ck_assert_double_lt(lo, (double)d * log((double)validate_grid(d)));
    }
}
END_TEST

START_TEST(test_gauss) {
    ck_assert_double_eq_tol(validate_truth(VALIDATE_GAUSS, 2, 0.5, 1.0 / 25),
                            log(2 * M_PI * M_E * 1.25), 1e-12);
}
END_TEST

int main(void) {
    Suite *s = suite_create("quadrature");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_cube_capacity);
    tcase_add_test(tc, test_tanh_chain);
    tcase_add_test(tc, test_gauss);
    suite_add_tcase(s, tc);
    return iflow_check_run(s) ? 1 : 0;
}
