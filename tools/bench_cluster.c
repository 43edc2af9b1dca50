/* bench_cluster: cost of the clustering measures (cluster.h) and of a k-sliced SP estimate
 * (sliced.h) on a wide synthetic layer, against brute-force pair loops timed in the same run.
 * Usage: bench_cluster [--m M] [--d D] [--threads N] [--brute B] [--slices S] [--k K]
 * Defaults: m = 2000 representations of d = 12544 units (a 16 x 28 x 28 conv layer), 10
 * classes, k-NN k = 10; the pair loops run on the first B = 300 rows and are scaled by
 * (m / B)^2 (their cost is exactly quadratic). Prints wall and CPU seconds and GFLOP/s of the
 * Gram matrix (2 m^2 d flops). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "infoflow/cluster.h"
#include "infoflow/rng.h"
#include "infoflow/sliced.h"

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ReLU-like class-structured data: class mean (sparse, non-negative) + noise, clipped at 0. */
static double *layer_data(size_t m, size_t d, size_t *labels) {
    iflow_rng r;
    iflow_rng_init(&r, 3, 1);
    double *means = malloc(10 * d * sizeof *means), *s = malloc(m * d * sizeof *s);
    for (size_t i = 0; i < 10 * d; i++) means[i] = iflow_rng_uniform(&r) < 0.3 ? 1.0 : 0.0;
    for (size_t i = 0; i < m; i++) {
        labels[i] = iflow_rng_below(&r, 10);
        for (size_t c = 0; c < d; c++)
            s[i * d + c] = fmax(0.0, means[labels[i] * d + c] + 0.8 * iflow_rng_normal(&r));
    }
    free(means);
    return s;
}

/* The definitions pair by pair (distances and cosines from coordinates), for B rows against
 * the B rows: the cost of the naive method, without its k-NN sort. */
static double brute_pairs(const double *s, size_t b, size_t d, const size_t *lab) {
    double acc = 0;
#pragma omp parallel for reduction(+ : acc) schedule(dynamic, 4)
    for (size_t i = 0; i < b; i++)
        for (size_t j = 0; j < b; j++) {
            if (j == i) continue;
            double dot = 0, ni = 0, nj = 0, d2 = 0;
            for (size_t c = 0; c < d; c++) {
                double x = s[i * d + c], y = s[j * d + c];
                dot += x * y, ni += x * x, nj += y * y, d2 += (x - y) * (x - y);
            }
            acc += (lab[i] == lab[j]) * dot / sqrt(ni * nj) + sqrt(d2);
        }
    return acc;
}

int main(int argc, char **argv) {
    size_t m = 2000, d = 12544, brute = 300, slices = 16, k = 4;
    int threads = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--m"))
            m = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--d"))
            d = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--brute"))
            brute = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--slices"))
            slices = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--k"))
            k = strtoul(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "usage: bench_cluster [--m M] [--d D] [--threads N] [--brute B] "
                            "[--slices S] [--k K]\n");
            return 2;
        }
    }
    if (threads > 0) omp_set_num_threads(threads);
    if (brute > m) brute = m;
    size_t *lab = malloc(m * sizeof *lab);
    double *s = layer_data(m, d, lab);
    printf("m = %zu, d = %zu, %d OpenMP threads\n", m, d, omp_get_max_threads());

    iflow_cluster_options opt;
    iflow_cluster_options_default(&opt);
    opt.threads = threads;
    iflow_cluster_result r;
    iflow_error err = {0};
    double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    if (iflow_cluster_measure(s, m, d, lab, 10, &opt, &r, NULL, NULL, &err)) {
        fprintf(stderr, "bench_cluster: %s\n", err.msg);
        return 1;
    }
    double wall = clock_s(CLOCK_MONOTONIC) - w0, cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    double flops = 2.0 * (double)m * (double)m * (double)d;
    printf("cluster measures (GEMM):   %.2f s wall, %.2f s CPU, Gram %.1f GFLOP/s wall\n"
           "  cos within %.4f, between %.4f, silhouette %.4f, kNN agreement %.4f\n",
           wall, cpu, flops / wall * 1e-9, r.cos_within, r.cos_between, r.silhouette,
           r.knn_agreement);

    w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    volatile double sink = brute_pairs(s, brute, d, lab);
    (void)sink;
    double bw = clock_s(CLOCK_MONOTONIC) - w0, bc = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    double scale = ((double)m / (double)brute) * ((double)m / (double)brute);
    printf("pair loops on %zu rows:    %.2f s wall, %.2f s CPU -> for m = %zu: %.1f s wall "
           "(x %.1f of GEMM), %.1f s CPU (x %.1f)\n",
           brute, bw, bc, m, bw * scale, bw * scale / wall, bc * scale, bc * scale / cpu);

    iflow_sp_options sp;
    iflow_sp_options_default(&sp);
    sp.beta = 0.5;
    sp.mc = 1;
    sp.tolerance = 1e-6;
    sp.normals = IFLOW_NORMALS_V1; /* as the committed timings were made */
    sp.threads = threads;
    iflow_slice_options sl;
    iflow_slice_options_default(&sl);
    sl.slices = slices;
    sl.dim = k;
    size_t *gx = malloc(m * sizeof *gx);
    for (size_t i = 0; i < m; i++) gx[i] = i;
    iflow_mi_estimate ex, ey;
    w0 = clock_s(CLOCK_MONOTONIC);
    /* One sample per input: se_mc (slices and draws) is the error; the total is n/a. */
    if (iflow_sliced_grouped_mi2(s, m, d, gx, m, lab, 10, &sp, &sl, &ex, &ey, NULL, NULL, &err)) {
        fprintf(stderr, "bench_cluster: %s\n", err.msg);
        return 1;
    }
    printf("k-sliced SP, k = %zu, %zu slices, beta 0.5: %.2f s wall; I_k(X;T) = %.3f +- %.3f, "
           "I_k(Y;T) = %.3f +- %.3f nats (ln m = %.3f)\n",
           k, slices, clock_s(CLOCK_MONOTONIC) - w0, ex.mi.value, ex.mi.se_mc, ey.mi.value,
           ey.mi.se_mc, log((double)m));
    free(gx);
    free(s);
    free(lab);
    return 0;
}
