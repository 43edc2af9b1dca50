/* Benchmark of the training loop on the Shwartz-Ziv & Tishby setting: a 12-10-7-5-4-3-2 tanh
 * net with noise beta = 0.005, 3277 rows of 12 binary features, batch 256, Adam, one core.
 * Usage: bench_train [EPOCHS=1000] [ORTHONORMAL=0] [GENERATOR=v1]; GENERATOR is the normal
 * generator version ([train] noise_generator), v2 also taking the training fast paths.
 * docs/PERFORMANCE.md gives its figures and the command that measures them. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "infoflow/net.h"
#include "infoflow/optim.h"
#include "infoflow/train.h"

void openblas_set_num_threads(int num_threads); /* not declared by every cblas.h */

#define N_ALL   4096
#define N_TRAIN 3277
#define D       12

/* CPU time of this thread, not wall time: on a shared, oversubscribed machine the time spent
 * descheduled would otherwise dominate (the wall time is printed too). */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* All 12-bit vectors in a seeded random order; label = parity of the number of ones among the
 * first 6 bits XOR (bit 6 AND bit 7): a non-linear rule the net can mostly fit. */
static void make_data(double *x, int *y) {
    size_t idx[N_ALL];
    iflow_rng rng;
    iflow_rng_init(&rng, 12345, 0);
    for (size_t i = 0; i < N_ALL; i++) idx[i] = i;
    iflow_rng_shuffle(&rng, idx, N_ALL);
    for (size_t i = 0; i < N_TRAIN; i++) {
        unsigned v = (unsigned)idx[i], ones = 0;
        for (int j = 0; j < D; j++) {
            x[i * D + (size_t)j] = (double)((v >> j) & 1u);
            ones += j < 6 ? (v >> j) & 1u : 0;
        }
        y[i] = (int)((ones & 1u) ^ ((v >> 6) & (v >> 7) & 1u));
    }
}

int main(int argc, char **argv) {
    long epochs = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
    double orthonormal = argc > 2 ? strtod(argv[2], NULL) : 0.0;
    int gen = argc > 3 ? iflow_normals_parse(argv[3]) : IFLOW_NORMALS_V1;
    if (epochs <= 0 || gen < 0) {
        fprintf(stderr, "usage: bench_train [EPOCHS] [ORTHONORMAL] [v1|v2]\n");
        return 2;
    }
    openblas_set_num_threads(1);
    static double x[N_TRAIN * D];
    static int y[N_TRAIN];
    make_data(x, y);

    const size_t widths[] = {D, 10, 7, 5, 4, 3, 2};
    const double beta[] = {0.005, 0.005, 0.005, 0.005, 0.005};
    iflow_net *net = NULL;
    iflow_optim *opt = NULL;
    iflow_trainer *tr = NULL;
    iflow_error err = {0};
    iflow_optim_params op = {
        .kind = IFLOW_OPT_ADAM, .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    if (iflow_net_new(7, widths, IFLOW_ACT_TANH, 0.0, beta, &net, &err) ||
        iflow_optim_new(&op, net->n_params, &opt, &err) ||
        iflow_trainer_new(net, N_TRAIN, 256, &tr, &err)) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        return 1;
    }
    iflow_rng rng;
    iflow_rng_init(&rng, 1, 0);
    iflow_net_init(net, IFLOW_INIT_PYTORCH, &rng);
    rng.normals = (iflow_normals)gen;

    double loss = 0, acc = 0, t0 = now(), w0 = wall();
    for (long e = 0; e < epochs; e++) {
        if (iflow_train_epoch(tr, net, opt, x, y, N_TRAIN, orthonormal, &rng, &loss, &acc, &err)) {
            fprintf(stderr, "bench_train: epoch %ld: %s\n", e + 1, err.msg);
            return 1;
        }
    }
    double secs = now() - t0, wall_secs = wall() - w0;
    double clean_loss, clean_acc;
    iflow_evaluate(net, x, y, N_TRAIN, NULL, tr->ws, tr->batch, &clean_loss, &clean_acc);
    printf("generator         %s\n", iflow_normals_name((iflow_normals)gen));
    printf("epochs            %ld\n", epochs);
    printf("seconds           %.3f (CPU time; wall %.3f)\n", secs, wall_secs);
    printf("epochs/s          %.1f\n", (double)epochs / secs);
    printf("projected 10k (s) %.2f\n", 1e4 * secs / (double)epochs);
    printf("train loss/acc    %.4f / %.4f (last epoch, noisy)\n", loss, acc);
    printf("clean train acc   %.4f\n", clean_acc);

    /* Share of the noise draws: the same number of normals as the timed epochs used. */
    size_t per_epoch = N_TRAIN * (10 + 7 + 5 + 4 + 3);
    size_t count = per_epoch * (size_t)(epochs < 100 ? epochs : 100);
    double *buf = calloc(per_epoch, sizeof *buf);
    t0 = now();
    for (size_t done = 0; done < count; done += per_epoch)
        iflow_rng_add_normal(&rng, buf, per_epoch, 0.005);
    double noise_secs = (now() - t0) * (double)epochs / (double)(epochs < 100 ? epochs : 100);
    printf("noise draws (s)   %.3f (%.0f%% of the run, %.2f ns per normal)\n", noise_secs,
           100.0 * noise_secs / secs, 1e9 * noise_secs / ((double)per_epoch * (double)epochs));
    free(buf);
    iflow_trainer_free(tr);
    iflow_optim_free(opt);
    iflow_net_free(net);
    return 0;
}
