/* Benchmark of one training epoch of a conv net config (default configs/fashion-cnn.ini) on its
 * IDX training data: infoflow's epoch, the time its GEMMs take alone (the same calls replayed),
 * the machine's dgemm rate, and the same net in PyTorch (tools/bench_cnn_torch.py, float64 and
 * float32) with the same rows, batch and threads, in one run so that the ratios share the load.
 * infoflow runs in float64 and float32 ([train] precision), each from the same initial weights.
 * Usage: bench_cnn [CONFIG] [ROWS=60000] [THREADS=2] [--no-torch] */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "infoflow/blas.h"
#include "infoflow/config.h"
#include "infoflow/conv.h"
#include "infoflow/data.h"
#include "infoflow/train.h"

void openblas_set_num_threads(int num_threads); /* not declared by every cblas.h */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds of this process: with one thread, the fair measure on a shared machine. */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds of each OpenMP thread (libgomp keeps its threads, so thread t is the same one
 * before and after an epoch); returns the team size. */
#define MAX_TEAM 64
static int team_cpu(double *cpu) {
    int team = 1;
#pragma omp parallel
    {
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        int t = omp_get_thread_num();
        if (t < MAX_TEAM) cpu[t] = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#pragma omp single
        team = omp_get_num_threads();
    }
    return team < MAX_TEAM ? team : MAX_TEAM;
}

static double *filled(size_t n) {
    double *v = malloc(n * sizeof *v);
    if (!v) exit(1);
    for (size_t i = 0; i < n; i++) v[i] = 1e-3 * (double)(i % 1000);
    return v;
}

/* C (m x n) = op(A) op(B) with k inner, transposes as given ("NT": A as is, B transposed),
 * timed (CPU seconds with one thread, else wall); adds 2 m n k to *flops. */
static int one_thread;
static double clock_now(void) { return one_thread ? cpu_now() : now(); }
static int single; /* replay GEMMs in float (cblas_sgemm on the same buffers) */
static double gemmt(const char *tr, size_t m, size_t n, size_t k, double *a, double *b, double *c,
                    double *flops) {
    int ta = tr[0] == 'T', tb = tr[1] == 'T';
    double t0 = clock_now();
    if (single)
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    (int)m, (int)n, (int)k, 1.0f, (float *)a, ta ? (int)m : (int)k, (float *)b,
                    tb ? (int)k : (int)n, 0.0f, (float *)c, (int)n);
    else
        cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    (int)m, (int)n, (int)k, 1.0, a, ta ? (int)m : (int)k, b, tb ? (int)k : (int)n,
                    0.0, c, (int)n);
    *flops += 2.0 * (double)m * (double)n * (double)k;
    return clock_now() - t0;
}

static double gemm(size_t m, size_t n, size_t k, double *a, double *b, double *c, double *flops) {
    return gemmt("NN", m, n, k, a, b, c, flops);
}

/* Best of three 2048^3 dgemms: the machine's rate with the current thread count. */
static double machine_gflops(void) {
    size_t n = 2048;
    double *a = filled(n * n), *b = filled(n * n), *c = filled(n * n), best = 1e30, fl = 0;
    for (int r = 0; r < 3; r++) {
        double t = gemm(n, n, n, a, b, c, &fl);
        best = t < best ? t : best;
    }
    free(a), free(b), free(c);
    return 2.0 * (double)n * (double)n * (double)n / best / 1e9;
}

/* The GEMMs of one training step on nb rows, as net.c / train_f32.c and conv.c call them
 * (forward, dW, and d input except for block 1; a conv block's one sample at a time), on scratch
 * buffers; returns their seconds, adds their flops. */
static double step_gemms(const iflow_net *net, size_t nb, double *buf[3], double *flops) {
    double t = 0;
    for (size_t l = 1; l <= net->n_layers; l++) {
        size_t rows = net->w_rows[l], cols = net->w_cols[l];
        if (net->block[l].kind == IFLOW_BLOCK_DENSE) {
            t += gemmt("NT", nb, rows, cols, buf[0], buf[1], buf[2], flops);
            t += gemmt("TN", rows, cols, nb, buf[0], buf[1], buf[2], flops);
            if (l > 1) t += gemmt("NN", nb, cols, rows, buf[0], buf[1], buf[2], flops);
            continue;
        }
        size_t p = net->pre_size[l] / rows;
        for (size_t i = 0; i < nb; i++) {
            t += gemmt("NN", rows, p, cols, buf[0], buf[1], buf[2], flops);
            t += gemmt("NT", rows, cols, p, buf[0], buf[1], buf[2], flops);
            if (l > 1) t += gemmt("TN", cols, p, rows, buf[0], buf[1], buf[2], flops);
        }
    }
    return t;
}

/* Runs the PyTorch script and reads "torch float64 WALL CPU" / "torch float32 WALL CPU" into
 * f64 / f32 (the time compared: CPU seconds with one thread, else wall) and prints both. */
static void run_torch(size_t rows, int threads, size_t batch, double *f64, double *f32) {
    char cmd[512], line[256];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 tools/bench_cnn_torch.py --rows %zu --threads %d --batch %zu", rows,
             threads, batch);
    FILE *p = popen(cmd, "r");
    *f64 = *f32 = 0;
    while (p && fgets(line, sizeof line, p)) {
        double wall, cpu;
        char dtype[16];
        if (sscanf(line, "torch %15s %lf %lf", dtype, &wall, &cpu) != 3) continue;
        double *into = !strcmp(dtype, "float64") ? f64 : !strcmp(dtype, "float32") ? f32 : NULL;
        if (!into) continue;
        *into = threads == 1 ? cpu : wall;
        printf("pytorch %s epoch: %.2f CPU s, wall %.2f s\n", dtype, cpu, wall);
    }
    if (p) pclose(p);
}

/* One epoch of a fresh copy of `init` in precision p, timed; the GEMMs of the same epoch
 * replayed alone. epoch_cpu gets the process's CPU seconds and those of its busiest thread. */
static void one_epoch(const iflow_config *cfg, const iflow_dataset *ds, const iflow_net *init,
                      iflow_precision p, double rate, double *epoch_s, double epoch_cpu[2]) {
    iflow_error err = {0};
    iflow_net *net = NULL;
    iflow_optim *opt = NULL;
    iflow_trainer *tr = NULL;
    if (iflow_net_clone_shape(init, &net, &err) ||
        iflow_optim_new(&cfg->optim, net->n_params, &opt, &err) ||
        iflow_trainer_new(net, ds->n, cfg->batch, &tr, &err) ||
        iflow_trainer_set_precision(tr, net, p, &err)) {
        fprintf(stderr, "bench_cnn: %s\n", err.msg);
        exit(1);
    }
    memcpy(net->params, init->params, net->n_params * sizeof *net->params);
    iflow_rng rng;
    iflow_rng_init(&rng, 1, 1);
    double before[MAX_TEAM], after[MAX_TEAM];
    team_cpu(before);
    double t0 = clock_now(), w0 = now(), c0 = cpu_now(), loss, acc, flops = 0, gemm_s = 0;
    if (iflow_train_epoch(tr, net, opt, ds->x, ds->y, ds->n, cfg->orthonormal, &rng, &loss, &acc,
                          &err)) {
        fprintf(stderr, "bench_cnn: %s\n", err.msg);
        exit(1);
    }
    double epoch = clock_now() - t0, wall = now() - w0, cpu = cpu_now() - c0, busiest = 0;
    int team = team_cpu(after);
    for (int t = 0; t < team; t++)
        busiest = after[t] - before[t] > busiest ? after[t] - before[t] : busiest;
    epoch_cpu[0] = cpu;
    epoch_cpu[1] = busiest;
    printf("infoflow %s epoch: %.2f s (wall %.2f s; loss %.4f, train accuracy %.4f)\n",
           iflow_precision_name(p), epoch, wall, loss, acc);
    if (one_thread) { /* the breakdown, with OpenBLAS on one thread as in the epoch */
        size_t big = cfg->batch * 2048 * 32; /* generous for every GEMM operand of this net */
        double *buf[3] = {filled(big), filled(big), filled(big)};
        single = p == IFLOW_PRECISION_FLOAT32;
        for (size_t i0 = 0; i0 < ds->n; i0 += cfg->batch)
            gemm_s +=
                step_gemms(net, ds->n - i0 < cfg->batch ? ds->n - i0 : cfg->batch, buf, &flops);
        single = 0;
        printf("  GEMMs replayed alone: %.2f s = %.0f%% of the epoch, %.1f GFLOP/s", gemm_s,
               100 * gemm_s / epoch, flops / gemm_s / 1e9);
        if (p == IFLOW_PRECISION_FLOAT64 && rate > 0)
            printf(" = %.0f%% of the machine's dgemm rate", 100 * flops / gemm_s / 1e9 / rate);
        printf("\n  the rest (im2col/col2im, pooling, activations, noise, Adam): %.2f s\n",
               epoch - gemm_s);
        free(buf[0]), free(buf[1]), free(buf[2]);
    }
    *epoch_s = epoch;
    iflow_trainer_free(tr);
    iflow_optim_free(opt);
    iflow_net_free(net);
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "configs/fashion-cnn.ini";
    size_t rows = argc > 2 ? strtoul(argv[2], NULL, 10) : 60000;
    int threads = argc > 3 ? atoi(argv[3]) : 2,
        torch = !(argc > 4 && !strcmp(argv[4], "--no-torch"));
    iflow_config cfg;
    iflow_error err = {0};
    iflow_dataset *ds = NULL;
    iflow_net *net = NULL;
    if (iflow_config_load(path, &cfg, &err) ||
        iflow_dataset_load_idx(cfg.data_file, cfg.data_labels, rows, &ds, &err) ||
        iflow_config_net(&cfg, &net, &err)) {
        fprintf(stderr, "bench_cnn: %s\n", err.msg);
        return 1;
    }
    openblas_set_num_threads(threads);
    one_thread = threads == 1;
    omp_set_num_threads(threads);
    iflow_rng rng;
    iflow_rng_init(&rng, 1, 1);
    iflow_net_init(net, cfg.init, &rng);
    printf("%s: %zu rows, batch %zu, %d threads, %zu parameters, OpenBLAS core %s\n", path, ds->n,
           cfg.batch, threads, net->n_params, iflow_blas_core());
    double rate = machine_gflops(), f64_s, f32_s;
    printf("machine dgemm (2048^3, %d threads): %.1f GFLOP/s\n", threads, rate);
    printf("times are %s seconds\n", one_thread ? "CPU" : "wall");
    double cpu64[2], cpu32[2];
    one_epoch(&cfg, ds, net, IFLOW_PRECISION_FLOAT64, rate, &f64_s, cpu64);
    one_epoch(&cfg, ds, net, IFLOW_PRECISION_FLOAT32, rate, &f32_s, cpu32);
    if (threads > 1) {
        /* On a shared machine the wall time of a team says little: each thread's CPU time
         * does. The team's epoch takes at least its busiest thread's CPU time (the rest waits
         * at barriers, asleep with OMP_WAIT_POLICY=passive), which on an idle machine is its
         * wall time; one thread's CPU time over it is the speedup to expect. */
        omp_set_num_threads(1);
        openblas_set_num_threads(1);
        one_thread = 1;
        double s64, s32, one64[2], one32[2];
        printf("the same on one thread, for the speedup (CPU seconds):\n");
        one_epoch(&cfg, ds, net, IFLOW_PRECISION_FLOAT64, 0, &s64, one64);
        one_epoch(&cfg, ds, net, IFLOW_PRECISION_FLOAT32, 0, &s32, one32);
        for (int k = 0; k < 2; k++) {
            double *team = k ? cpu32 : cpu64, *one = k ? one32 : one64;
            printf("%s: one thread %.2f CPU s; %d threads: %.2f CPU s in all, busiest thread "
                   "%.2f s; speedup on an idle machine %.2fx (wall now: %.2fx)\n",
                   k ? "float32" : "float64", one[0], threads, team[0], team[1], one[0] / team[1],
                   (k ? s32 : s64) / (k ? f32_s : f64_s));
        }
        one_thread = 0;
        omp_set_num_threads(threads);
        openblas_set_num_threads(threads);
    }
    if (torch) {
        double t64, t32;
        run_torch(ds->n, threads, cfg.batch, &t64, &t32);
        printf("ratios of %s seconds: infoflow float64 / torch float64 %.2f; infoflow float32 / "
               "torch float32 %.2f; infoflow float64 / torch float32 %.2f\n",
               one_thread ? "CPU" : "wall", f64_s / t64, f32_s / t32, f64_s / t32);
    }
    iflow_net_free(net);
    iflow_dataset_free(ds);
    return 0;
}
