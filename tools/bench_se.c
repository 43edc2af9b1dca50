/* bench_se: the time of the mixture kernel alone against the whole grouped estimate (kernel,
 * total standard error) and with the half-sample bias, alternated 3 times on 4096 inputs x 16
 * replicas in 4 dimensions, 4 queries per input, truncated sums (docs/ESTIMATION.md 11.1). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "infoflow/entropy.h"
#include "mixture.h"
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
int main(void) {
    size_t m = 4096, R = 16, d = 4, n = m * R, stride = 4;
    double beta = 0.05, *s = malloc(n * d * sizeof *s);
    size_t *ga = malloc(n * sizeof *ga), *gb = malloc(n * sizeof *gb);
    iflow_rng rng;
    iflow_rng_init(&rng, 7, 1);
    for (size_t i = 0; i < m; i++) {
        double c[4];
        for (size_t k = 0; k < d; k++) c[k] = 2 * iflow_rng_uniform(&rng) - 1;
        for (size_t r = 0; r < R; r++) {
            for (size_t k = 0; k < d; k++)
                s[(i * R + r) * d + k] = tanh(c[k] + 0.05 * iflow_rng_normal(&rng));
            ga[i * R + r] = i;
            gb[i * R + r] = i % 2;
        }
    }
    iflow_sp_options o;
    iflow_sp_options_default(&o);
    o.beta = beta;
    o.mc = 1;
    o.tolerance = 1e-6;
    o.threads = 1;
    o.query_stride = stride;
    /* kernel alone on the same problem: queries first, as grouped() does */
    size_t nq = n / stride, *idx = malloc(n * sizeof *idx), j = 0;
    double *sub = malloc(n * d * sizeof *sub), *gad = malloc(n * sizeof *gad),
           *gbd = malloc(n * sizeof *gbd);
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++)
            if ((i % stride == 0) == (pass == 0)) idx[j++] = i;
    for (size_t k = 0; k < n; k++) {
        for (size_t c = 0; c < d; c++) sub[k * d + c] = s[idx[k] * d + c];
        gad[k] = (double)ga[idx[k]];
        gbd[k] = (double)gb[idx[k]];
    }
    iflow_mix_stats *st = malloc(n * sizeof *st);
    for (int rep = 0; rep < 3; rep++) {
        size_t done = 0;
        iflow_mix_mc p = {.s = sub,
                          .n = n,
                          .d = d,
                          .k = 1,
                          .beta = beta,
                          .tolerance = 1e-6,
                          .seed = 1,
                          .ga = gad,
                          .gb = gbd,
                          .orig = idx,
                          .n_query = nq,
                          .threads = 1,
                          .progress_done = &done};
        double t0 = now();
        iflow_mix_mc_run(&p, st, NULL);
        double t1 = now();
        iflow_mi_estimate a, b;
        iflow_sp_grouped_mi2(s, n, d, ga, m, gb, 2, &o, &a, &b, NULL);
        double t2 = now();
        o.bias = 1;
        iflow_sp_grouped_mi2(s, n, d, ga, m, gb, 2, &o, &a, &b, NULL);
        double t3 = now();
        o.bias = 0;
        printf("kernel alone %.3f s, whole estimate with total se %.3f s (ratio %.3f), with bias "
               "%.3f s (ratio %.3f); I=%.4f se=%.4f se_mc=%.4f bias=%.4f\n",
               t1 - t0, t2 - t1, (t2 - t1) / (t1 - t0), t3 - t2, (t3 - t2) / (t2 - t1), a.mi.value,
               a.mi.se, a.mi.se_mc, a.mi.bias);
    }
    return 0;
}
