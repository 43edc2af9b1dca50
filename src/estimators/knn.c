/* knn: the Kozachenko-Leonenko k-nearest-neighbour entropy estimator (docs/ESTIMATION.md section
 * 4), a generic baseline for the SP estimator, on the k-d tree of kdtree.c. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "infoflow/entropy.h"
#include "kdtree.h"

/* Digamma psi(x), x > 0: the recurrence psi(x) = psi(x + 1) - 1/x up to x >= 10, then the
 * asymptotic series ln x - 1/(2x) - sum B_2j / (2j x^2j); with terms to x^-12 the first
 * omitted one is 1/(12 x^14)... below 1e-15 at x = 10. */
static double digamma(double x) {
    double acc = 0;
    while (x < 10.0) {
        acc -= 1.0 / x;
        x += 1.0;
    }
    double r = 1.0 / (x * x);
    double series =
        r * (1.0 / 12 -
             r * (1.0 / 120 -
                  r * (1.0 / 252 - r * (1.0 / 240 - r * (1.0 / 132 - r * (691.0 / 32760))))));
    return acc + log(x) - 0.5 / x - series;
}

/* ln of the volume of the unit d-ball: (d/2) ln pi - lgamma(d/2 + 1). */
static double log_unit_ball(size_t d) {
    return 0.5 * (double)d * log(M_PI) - lgamma(0.5 * (double)d + 1.0);
}

static int check_knn(const double *x, size_t n, size_t d, size_t k, iflow_error *err) {
    if (!x || d < 1 || k < 1 || n < k + 1)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "iflow_knn_entropy: need d >= 1, k >= 1 and "
                               "n > k (n = %zu, d = %zu, k = %zu)",
                               n, d, k);
    for (size_t i = 0; i < n * d; i++)
        if (!isfinite(x[i]))
            return iflow_error_set(err, IFLOW_EINVAL,
                                   "iflow_knn_entropy: sample %zu, "
                                   "coordinate %zu is %g",
                                   i / d, i % d, x[i]);
    return 0;
}

int iflow_knn_entropy(const double *x, size_t n, size_t d, size_t k, int threads, double *h,
                      iflow_error *err) {
    int rc = check_knn(x, n, d, k, err);
    if (rc) return rc;
    if (threads < 0 || threads > IFLOW_MAX_THREADS)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "iflow_knn_entropy: threads must be in [0, %d], "
                               "got %d",
                               IFLOW_MAX_THREADS, threads);
    iflow_kdtree *tree = iflow_kdtree_new(x, n, d, 16);
    double *log_eps = malloc(n * sizeof(double));
    if (!tree || !log_eps) {
        iflow_kdtree_free(tree);
        free(log_eps);
        return iflow_error_set(err, IFLOW_ENOMEM, "iflow_knn_entropy: out of memory (n = %zu)", n);
    }
    /* nth is read by num_threads(nth), which the analyzer does not model */
    /* NOLINTNEXTLINE(clang-analyzer-deadcode.DeadStores) */
    int nth = threads > 0 ? threads : omp_get_max_threads(), fail = 0;
#pragma omp parallel num_threads(nth)
    {
        double *d2 = malloc(k * sizeof(double));
        size_t *idx = malloc(k * sizeof(size_t));
        if (!d2 || !idx) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(dynamic, 64)
        for (size_t i = 0; i < n; i++) {
            if (!d2 || !idx) continue;
            iflow_kdtree_knn(tree, x + i * d, k, i, d2, idx);
            log_eps[i] = 0.5 * log(d2[k - 1]); /* ln eps_i, eps_i = k-th neighbour distance */
        }
        free(d2);
        free(idx);
    }
    if (fail) rc = iflow_error_set(err, IFLOW_ENOMEM, "iflow_knn_entropy: out of memory");
    double sum = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!isfinite(log_eps[i]))
            rc = iflow_error_set(err, IFLOW_EINVAL,
                                 "iflow_knn_entropy: sample %zu has %zu or "
                                 "more exact duplicates (k-th neighbour distance 0)",
                                 i, k);
        sum += log_eps[i];
    }
    /* h = psi(n) - psi(k) + ln V_d + (d/n) sum_i ln eps_i */
    if (rc == 0)
        *h = digamma((double)n) - digamma((double)k) + log_unit_ball(d) +
             (double)d * sum / (double)n;
    iflow_kdtree_free(tree);
    free(log_eps);
    return rc;
}
