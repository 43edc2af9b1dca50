/* bench_hetero: pair rate of the heteroscedastic mixture sums (one std per centre, one per
 * coordinate) against the isotropic ones on the same centres and draws, exact sums, timed
 * interleaved (I S C I S C ...) so that load on a shared machine hits all three alike.
 * Usage: bench_hetero [--n N] [--k K] [--reps R] [--threads T] [--d D]... (default d 2 5 10)
 * Compiled with -DBENCH_ISOTROPIC_ONLY it times the isotropic sums alone, so that it builds
 * against a library without the heteroscedastic ones (to compare two builds' isotropic rates). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "infoflow/rng.h"
#include "mixture.h"

/* Process CPU time (all threads): per-core throughput stays meaningful under load. */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds of one exact run of p (sigma NULL: isotropic). */
static double time_run(const iflow_mix_mc *p, iflow_mix_stats *st) {
    iflow_error err = {0};
    double t0 = cpu_now();
    if (iflow_mix_mc_run(p, st, &err)) {
        fprintf(stderr, "bench_hetero: %s\n", err.msg);
        exit(1);
    }
    return cpu_now() - t0;
}

int main(int argc, char **argv) {
    size_t n = 4000, k = 16, reps = 5, dims[16] = {0}, n_dims = 0;
    int threads = 1;
    for (int a = 1; a < argc; a++) {
        if (a + 1 < argc && !strcmp(argv[a], "--n"))
            n = strtoul(argv[++a], NULL, 10);
        else if (a + 1 < argc && !strcmp(argv[a], "--k"))
            k = strtoul(argv[++a], NULL, 10);
        else if (a + 1 < argc && !strcmp(argv[a], "--reps"))
            reps = strtoul(argv[++a], NULL, 10);
        else if (a + 1 < argc && !strcmp(argv[a], "--threads"))
            threads = atoi(argv[++a]);
        else if (a + 1 < argc && !strcmp(argv[a], "--d") && n_dims < 16)
            dims[n_dims++] = strtoul(argv[++a], NULL, 10);
        else {
            fprintf(stderr, "usage: bench_hetero [--n N] [--k K] [--reps R] [--threads T] "
                            "[--d D]...\n");
            return 2;
        }
    }
    if (!n_dims) dims[0] = 2, dims[1] = 5, dims[2] = 10, n_dims = 3;
    printf("| d | isotropic Mpairs/s | per-sample std | ratio | per-coordinate std | ratio |\n");
    printf("|---|---|---|---|---|---|\n");
    for (size_t u = 0; u < n_dims; u++) {
        size_t d = dims[u];
        double *s = malloc(n * d * sizeof *s), *s1 = malloc(n * sizeof *s1);
        double *sd = malloc(n * d * sizeof *sd);
        iflow_mix_stats *st = malloc(n * sizeof *st);
        iflow_rng r;
        iflow_rng_init(&r, 1, 1);
        for (size_t i = 0; i < n * d; i++) s[i] = 2 * iflow_rng_uniform(&r) - 1;
        for (size_t i = 0; i < n; i++) s1[i] = 0.2 + 0.2 * iflow_rng_uniform(&r);
        for (size_t i = 0; i < n * d; i++) sd[i] = 0.2 + 0.2 * iflow_rng_uniform(&r);
        iflow_mix_mc p = {
            .s = s, .n = n, .d = d, .k = k, .beta = 0.3, .seed = 1, .threads = threads};
        double t[3] = {0, 0, 0};
        for (size_t rep = 0; rep < reps; rep++) {
            t[0] += time_run(&p, st);
#ifndef BENCH_ISOTROPIC_ONLY
            p.sigma = s1, p.sigma_cols = 1;
            t[1] += time_run(&p, st);
            p.sigma = sd, p.sigma_cols = d;
            t[2] += time_run(&p, st);
            p.sigma = NULL;
#endif
        }
        double pairs = (double)reps * (double)n * (double)k * (double)n * 1e-6;
        printf("| %zu | %.1f | %.1f | %.2f | %.1f | %.2f |\n", d, pairs / t[0], pairs / t[1],
               t[0] / t[1], pairs / t[2], t[0] / t[2]);
        fflush(stdout);
        free(s);
        free(s1);
        free(sd);
        free(st);
    }
    return 0;
}
