/* bench_estimators: times the SP entropy kernel (exact and truncated) on uniform and clustered
 * centres, and this machine's vectorised-exp and FMA peaks for comparison.
 * Usage: bench_estimators [--quick] [--threads N] [--n N] [--k K] [--scaled] [--plans]
 * --k: draws per centre (default 16); the information protocol draws k = 1 around a subset of
 * the centres, the regime where the truncated sum's blocks matter most.
 * --scaled: truncated sums at large n timed on the subset only, never repeated in full (whose
 * choice depends on the subset's wall time): the same work in every run, to compare builds.
 * --plans: only the truncated sums, under the greedy and the bottom-up block plans (timed
 * interleaved, G B G B), with their blocks and pairs against the own-ball lower bound. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "infoflow/entropy.h"
#include "infoflow/rng.h"
#include "mixture.h"

#if defined(__AVX512F__)
#define WIDE __attribute__((target("prefer-vector-width=512")))
#else
#define WIDE
#endif

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }
/* Process CPU time (all threads): per-core throughput stays meaningful when other processes
 * share the cores. */
static double cpu_now(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

/* Uniform on [-1, 1]^d. */
static double *uniform_data(size_t n, size_t d, uint64_t seed) {
    iflow_rng r;
    iflow_rng_init(&r, seed, 1);
    double *s = malloc(n * d * sizeof *s);
    for (size_t i = 0; i < n * d; i++) s[i] = 2 * iflow_rng_uniform(&r) - 1;
    return s;
}

/* A tanh layer's view of the 12-bit inputs: s = tanh(W x + b) for the 4096 binary vectors x
 * (cycled when n > 4096, in random order), W ~ N(0, 1), plus N(0, 0.002^2) jitter: tight
 * clusters like a trained, saturated layer. */
static double *clustered_data(size_t n, size_t d, uint64_t seed) {
    iflow_rng r;
    iflow_rng_init(&r, seed, 2);
    double *w = malloc(12 * d * sizeof *w), *b = malloc(d * sizeof *b);
    iflow_rng_fill_normal(&r, w, 12 * d, 1.0);
    iflow_rng_fill_normal(&r, b, d, 0.5);
    double *s = malloc(n * d * sizeof *s);
    for (size_t i = 0; i < n; i++) {
        size_t x = iflow_rng_below(&r, 4096);
        for (size_t c = 0; c < d; c++) {
            double a = b[c];
            for (size_t bit = 0; bit < 12; bit++) a += w[c * 12 + bit] * (double)((x >> bit) & 1);
            s[i * d + c] = tanh(a) + 0.002 * iflow_rng_normal(&r);
        }
    }
    free(w);
    free(b);
    return s;
}

/* One SP run through the internal driver: h and se (equal weights), seconds. n_query = 0: all
 * centres carry draws; otherwise only the first n_query (a random subset: the data are in
 * random order), which estimates the same h with fewer strata. */
typedef struct result {
    double h, se, seconds, cpu;
} result;

static result run_sp_plan(const double *s, size_t n, size_t d, double beta, size_t k, double tol,
                          size_t n_query, int threads, iflow_mix_plan plan,
                          iflow_mix_plan_stats *ps) {
    size_t nq = n_query ? n_query : n;
    iflow_mix_stats *st = malloc(nq * sizeof *st);
    iflow_mix_mc p = {.s = s,
                      .n = n,
                      .d = d,
                      .k = k,
                      .n_query = n_query,
                      .beta = beta,
                      .tolerance = tol,
                      .seed = 1,
                      .plan = plan,
                      .threads = threads,
                      .plan_stats = ps};
    double t0 = now(), c0 = cpu_now();
    iflow_error err;
    if (iflow_mix_mc_run(&p, st, &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        exit(1);
    }
    result r = {0, 0, now() - t0, cpu_now() - c0};
    double var = 0;
    for (size_t i = 0; i < nq; i++) {
        r.h -= st[i].mean[IFLOW_MIX_L] / (double)nq;
        var += st[i].var[IFLOW_MIX_L];
    }
    r.h += log((double)n) + 0.5 * (double)d * log(2 * M_PI * beta * beta);
    r.se = sqrt(var / (double)k) / (double)nq;
    free(st);
    return r;
}

static result run_sp(const double *s, size_t n, size_t d, double beta, size_t k, double tol,
                     size_t n_query, int threads) {
    return run_sp_plan(s, n, d, beta, k, tol, n_query, threads, IFLOW_MIX_PLAN_GREEDY, NULL);
}

WIDE __attribute__((noinline)) static double exp_sum(const double *x, size_t n) {
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (size_t i = 0; i < n; i++) s += iflow_exp_kernel(x[i]);
    return s;
}

/* Peaks per core (CPU time, one thread): the kernel's exp on an L1-resident array (the asm barrier
 * keeps the compiler from hoisting the pure call out of the loop); 12 independent FMA chains of 8
 * lanes held in registers (gcc vector extension: enough chains to cover the FMA latency on two
 * ports); and the same 12 FMA chains interleaved with 12 chains of additions, which tells whether
 * additions have pipes of their own (AMD Zen 4/5: twice the operations per second) or share the
 * FMA pipes (Intel's ports 0 and 5 at 512 bits: the same rate). */
typedef double v8d __attribute__((vector_size(64)));

/* ISO C11 does not contract a * b + c: ask for FMAs in these two functions (noipa: not found
 * pure and called once for the 3 repetitions). */
__attribute__((noipa, optimize("fp-contract=fast"))) static double fma_chains(long iters) {
    v8d acc[12], a = {0}, b = {0};
    a += 0.999999;
    b += 1e-7;
    for (int i = 0; i < 12; i++) acc[i] = (v8d){0} + (double)i;
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) acc[i] = acc[i] * a + b;
    }
    double sum = 0;
    for (int i = 0; i < 12; i++) sum += acc[i][0];
    return sum;
}

__attribute__((noipa, optimize("fp-contract=fast"))) static double fma_add_chains(long iters) {
    v8d acc[12], add[12], a = {0}, b = {0};
    a += 0.999999;
    b += 1e-7;
    for (int i = 0; i < 12; i++) acc[i] = add[i] = (v8d){0} + (double)i;
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) {
            acc[i] = acc[i] * a + b;
            add[i] = add[i] + b;
        }
    }
    double sum = 0;
    for (int i = 0; i < 12; i++) sum += acc[i][0] + add[i][0];
    return sum;
}

/* The exact kernel's compute bound from its operation count (kernel_fixed in
 * src/estimators/mixture_kernel.c and the IFLOW_EXP_* steps in mixture.h; one lane of a vector
 * per pair, no grouping). Per pair: d subtractions and d FMAs for ||t - s||^2; 2 for the
 * exponent's argument (lw + c, then one FMA); 21 for exp (argument reduction: an FMA for
 * k + shifter, a subtraction for k, an FMA for x - k C1, a multiply and a subtraction for - k C2;
 * 12 Horner FMAs; 2 integer ops and a multiply for the scale; a compare for the underflow, whose
 * mask the multiply applies); 1 to accumulate: 2d + 24 vector operations (the count in the
 * generated AVX-512 loop), of which d + 17 are FMAs or multiplies.
 * The bound is the tighter of: the FMA pipes doing their d + 17 at the measured FMA rate, and all
 * 2d + 24 at the measured rate of FMAs mixed with additions (= the FMA rate where additions share
 * the FMA pipes, twice it where they have their own). The latter treats the integer ops, the
 * compare and the blend like additions. */
static double ops_per_pair(size_t d) { return 2.0 * (double)d + 24.0; }
static double fma_ops_per_pair(size_t d) { return (double)d + 17.0; }
static double g_fma_per_s, g_mixed_per_s; /* measured by peaks() */

static double bound_pairs_per_s(size_t d, int *fma_bound) {
    double by_fma = g_fma_per_s / fma_ops_per_pair(d), by_all = g_mixed_per_s / ops_per_pair(d);
    if (fma_bound) *fma_bound = by_fma <= by_all;
    return by_fma <= by_all ? by_fma : by_all;
}

static void peaks(void) {
    size_t n = 2048, reps = 100000;
    double *x = aligned_alloc(64, n * sizeof *x), s = 0;
    for (size_t i = 0; i < n; i++) x[i] = -20.0 * (double)i / (double)n;
    double t0 = cpu_now();
    for (size_t r = 0; r < reps; r++) {
        __asm__ volatile("" ::: "memory");
        s += exp_sum(x, n);
    }
    double t_exp = cpu_now() - t0;
    printf("peak exp (vectorised kernel, L1, 1 core): %.0f M exp/s  (checksum %.3g)\n",
           (double)(n * reps) / t_exp / 1e6, s);
    /* Peaks are maxima: the best of 3 runs, so a time slice lost to another process on a shared
     * core does not lower the bound. */
    long iters = 50000000;
    double fma_per_s = 0, mixed_per_s = 0, sum = 0;
    for (int rep = 0; rep < 3; rep++) {
        t0 = cpu_now();
        sum = fma_chains(iters);
        double r = 12.0 * 8.0 * (double)iters / (cpu_now() - t0);
        fma_per_s = r > fma_per_s ? r : fma_per_s;
    }
    g_fma_per_s = fma_per_s;
    printf("peak FMA (1 core, best of 3): %.1f GFLOP/s = %.0f M FMA/s  (checksum %.3g)\n",
           2 * fma_per_s / 1e9, fma_per_s / 1e6, sum);
    for (int rep = 0; rep < 3; rep++) {
        t0 = cpu_now();
        sum = fma_add_chains(iters);
        double r = 24.0 * 8.0 * (double)iters / (cpu_now() - t0);
        mixed_per_s = r > mixed_per_s ? r : mixed_per_s;
    }
    g_mixed_per_s = mixed_per_s;
    printf("peak FMA + add, 1:1 (1 core, best of 3): %.0f M ops/s = %.2f x the FMA rate: additions "
           "%s  (checksum %.3g)\n",
           mixed_per_s / 1e6, mixed_per_s / fma_per_s,
           mixed_per_s > 1.5 * fma_per_s ? "have pipes of their own" : "share the FMA pipes", sum);
    printf("exact kernel per pair: 2d + 24 vector ops, d + 17 of them FMAs/multiplies; bound = "
           "min(FMA rate / (d + 17), FMA + add rate / (2d + 24)):\n");
    size_t dims[3] = {2, 5, 10};
    for (int i = 0; i < 3; i++) {
        int fb;
        double b = bound_pairs_per_s(dims[i], &fb);
        printf(
            "  d = %2zu: FMAs only %5.0f, all ops %5.0f -> bound %5.0f M pairs/s per core (%s)\n",
            dims[i], g_fma_per_s / fma_ops_per_pair(dims[i]) / 1e6,
            g_mixed_per_s / ops_per_pair(dims[i]) / 1e6, b / 1e6,
            fb ? "FMA pipes" : "all vector pipes");
    }
    free(x);
}

typedef struct config {
    int quick, threads, plans, scaled;
    size_t only_n, k;
} config;

/* Exact and truncated at one setting. At large n both are timed on a random subset of query
 * centres (all n centres still enter every sum) and the times scaled by n / subset (marked *);
 * the truncated run is repeated in full when that is predicted to take < 120 s. The truncated
 * error is measured on the subset's draws, shared with the exact run: |dh| <= tolerance. */
static void bench_case(const config *cf, const char *kind, const double *s, size_t n, size_t d,
                       double beta) {
    size_t k = cf->k, sub = n > 8192 ? (cf->quick ? 512 : 2048) : (cf->quick ? 1024 : 0);
    double tol = 1e-6, scale = sub ? (double)n / (double)sub : 1.0;
    double pairs = (double)n * (double)k * (double)n;
    result ex = run_sp(s, n, d, beta, k, 0.0, sub, cf->threads);
    double t_ex = ex.seconds * scale, c_ex = ex.cpu * scale;
    double rate = pairs / c_ex, bound = bound_pairs_per_s(d, NULL);
    double fma_only = g_fma_per_s / fma_ops_per_pair(d);
    printf("%6zu %3zu %6.3f %-9s exact %9.3f%s %9.3f %8.1f %8.1f %9.4f %7.4f  %.0f%% of bound "
           "(FMAs only: %.0f%%)\n",
           n, d, beta, kind, t_ex, sub ? "*" : " ", c_ex, rate / 1e6, pairs / t_ex / 1e6, ex.h,
           ex.se, 100.0 * rate / bound, 100.0 * rate / fma_only);
    result tr_sub = run_sp(s, n, d, beta, k, tol, sub, cf->threads), tr = tr_sub;
    /* The subset's time includes building the tree over all n centres, which scaling by
     * n / subset multiplies too: the prediction overstates, hence the generous limit. */
    int full = !sub || (!cf->scaled && tr_sub.seconds * scale < 120.0);
    if (sub && full) tr = run_sp(s, n, d, beta, k, tol, 0, cf->threads);
    double t_tr = full ? tr.seconds : tr.seconds * scale, c_tr = full ? tr.cpu : tr.cpu * scale;
    printf("%6zu %3zu %6.3f %-9s trunc %9.3f%s %9.3f %8s %8s %9.4f %7.4f  x%-6.1f %.1e\n", n, d,
           beta, kind, t_tr, full ? " " : "*", c_tr, "", "", tr.h, tr.se, t_ex / t_tr,
           fabs(tr_sub.h - ex.h) / ex.se);
    fflush(stdout);
}

/* The two block plans at one setting, all n centres queried: blocks, pairs (millions) and
 * their ratio to the own-ball lower bound, CPU seconds of two interleaved runs each (the plan
 * statistics are taken in a separate, untimed run), and the difference of the two h. */
static void plan_case(const config *cf, const char *kind, const double *s, size_t n, size_t d,
                      double beta) {
    iflow_mix_plan_stats st[2];
    result r[2][2];
    for (int p = 0; p < 2; p++)
        run_sp_plan(s, n, d, beta, cf->k, 1e-6, 0, cf->threads, (iflow_mix_plan)p, &st[p]);
    for (int rep = 0; rep < 2; rep++)
        for (int p = 0; p < 2; p++)
            r[p][rep] =
                run_sp_plan(s, n, d, beta, cf->k, 1e-6, 0, cf->threads, (iflow_mix_plan)p, NULL);
    for (int p = 0; p < 2; p++)
        printf("%6zu %3zu %6.3f %-9s %-6s %8.0f %9.2f %8.2f %6.2f %7.3f %7.3f %+.2e\n", n, d, beta,
               kind, p ? "best" : "greedy", st[p].blocks, st[p].pairs / 1e6,
               st[p].own_ball_pairs / 1e6, st[p].pairs / st[p].own_ball_pairs, r[p][0].cpu,
               r[p][1].cpu, r[p][0].h - r[0][0].h);
    fflush(stdout);
}

/* fn at every setting for n centres: d = 2, 5, 10; beta = 0.1, 0.005; uniform and clustered
 * centres (the same data for both betas). */
typedef void case_fn(const config *cf, const char *kind, const double *s, size_t n, size_t d,
                     double beta);
static void each_case(const config *cf, size_t n, case_fn *fn) {
    const size_t dims[3] = {2, 5, 10};
    const double betas[2] = {0.1, 0.005};
    for (int b = 0; b < 3; b++) {
        double *uni = uniform_data(n, dims[b], 3), *clu = clustered_data(n, dims[b], 4);
        for (int c = 0; c < 2; c++) {
            fn(cf, "uniform", uni, n, dims[b], betas[c]);
            fn(cf, "clustered", clu, n, dims[b], betas[c]);
        }
        free(uni);
        free(clu);
    }
}

int main(int argc, char **argv) {
    config cf = {.threads = omp_get_max_threads(), .k = 16};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            cf.quick = 1;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            cf.threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--n") && i + 1 < argc)
            cf.only_n = strtoul(argv[++i], 0, 10);
        else if (!strcmp(argv[i], "--k") && i + 1 < argc)
            cf.k = strtoul(argv[++i], 0, 10);
        else if (!strcmp(argv[i], "--scaled"))
            cf.scaled = 1;
        else if (!strcmp(argv[i], "--plans"))
            cf.plans = 1;
        else {
            fprintf(stderr,
                    "usage: %s [--quick] [--threads N] [--n N] [--k K] [--scaled] [--plans]\n",
                    argv[0]);
            return 2;
        }
    }
    if (cf.threads < 1) cf.threads = 1;
    if (cf.k < 1) cf.k = 1;
    printf("bench_estimators: %d thread(s), k = %zu draws per centre, tolerance 1e-6\n", cf.threads,
           cf.k);
    if (cf.plans) {
        printf("     n   d   beta data      plan     blocks   Mpairs  Mlower  ratio  cpu s1  cpu s2"
               "  h - h(greedy)\n");
        each_case(&cf, cf.only_n ? cf.only_n : 16384, plan_case);
        return 0;
    }
    peaks();
    printf("\n     n   d   beta data      mode   wall s     cpu s  Mpair/s  Mpair/s         h"
           "      se  speed  |dh|/se\n"
           "                                                   /core    total\n");
    if (cf.only_n)
        each_case(&cf, cf.only_n, bench_case);
    else
        for (size_t n = 4096; n <= 65536; n *= 16) each_case(&cf, n, bench_case);
    printf("* timed on a random subset of query centres, scaled by n/subset. pairs = n k n; "
           "per core = pairs / cpu s; speed = exact wall / trunc wall;\n"
           "bound: per-core rate against the compute bound printed above\n");
    return 0;
}
