/* Tests of the runtime dispatch (src/base/isa.h): the choice, IFLOW_ISA, and each variant of the
 * vector kernels that this CPU runs against its definition and against the others. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "infoflow/rng.h"
#include "check_util.h"
#include "dense_small.h"
#include "isa.h"
#include "mixture_hetero.h"
#include "mixture_kernel.h"
#include "normal_v2.h"
#include "tanh_array.h"

/* Every variant of fn, by level; NULL where the build has none. */
#ifdef IFLOW_ISA_MULTI
#define VARIANTS(fn)                                                                               \
    { fn##_generic, fn##_avx2, fn##_avx512 }
#else
#define VARIANTS(fn)                                                                               \
    { fn##_generic, NULL, NULL }
#endif

static int runs_here(int level) { return iflow_isa_available((iflow_isa_level)level); }

START_TEST(test_choice) {
    iflow_isa_level l = iflow_isa();
    ck_assert(runs_here(l));
    ck_assert(runs_here(IFLOW_ISA_GENERIC));
    ck_assert_int_eq(iflow_isa(), l); /* once per process */
    const char *env = getenv("IFLOW_ISA");
    for (int i = 0; i < IFLOW_ISA_COUNT; i++) {
        ck_assert_str_ne(iflow_isa_name((iflow_isa_level)i), "?");
        /* the best available level, unless IFLOW_ISA caps it */
        if (runs_here(i) && !(env && *env)) ck_assert_int_ge(l, i);
        if (env && strcmp(env, iflow_isa_name((iflow_isa_level)i)) == 0) ck_assert_int_le(l, i);
    }
    ck_assert_str_eq(iflow_isa_name(IFLOW_ISA_COUNT), "?");
}
END_TEST

START_TEST(test_env_check) {
    iflow_error err = {0};
    const char *old = getenv("IFLOW_ISA");
    char *saved = old ? strdup(old) : NULL;
    setenv("IFLOW_ISA", "avx2", 1);
    ck_assert_int_eq(iflow_isa_check_env(&err), 0);
    setenv("IFLOW_ISA", "sse9", 1);
    ck_assert_int_eq(iflow_isa_check_env(&err), IFLOW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "IFLOW_ISA"));
    ck_assert_ptr_nonnull(strstr(err.msg, "sse9"));
    unsetenv("IFLOW_ISA");
    ck_assert_int_eq(iflow_isa_check_env(&err), 0);
    if (saved) setenv("IFLOW_ISA", saved, 1);
    free(saved);
}
END_TEST

/* Normals v2 are defined bit for bit (normal_v2.c): every variant gives the generic's doubles,
 * for lengths that end inside a block and with and without x. */
START_TEST(test_normal_v2_variants) {
    void (*fn[])(uint64_t, const double *, double *, size_t, double) = VARIANTS(iflow_normal_v2);
    size_t n = 1000;
    double *x = malloc(n * sizeof *x), *ref = malloc(n * sizeof *ref),
           *got = malloc(n * sizeof *got);
    for (size_t i = 0; i < n; i++) x[i] = sin((double)i);
    const size_t lens[] = {1, 31, 32, 33, 100, 1000};
    for (int l = 1; l < IFLOW_ISA_COUNT; l++) {
        if (!fn[l] || !runs_here(l)) continue;
        for (size_t c = 0; c < sizeof lens / sizeof *lens; c++)
            for (int withx = 0; withx < 2; withx++) {
                uint64_t key = 0x9e3779b97f4a7c15ULL * (c + 1);
                fn[0](key, withx ? x : NULL, ref, lens[c], 0.3);
                fn[l](key, withx ? x : NULL, got, lens[c], 0.3);
                ck_assert_mem_eq(ref, got, lens[c] * sizeof *ref);
            }
    }
    free(x);
    free(ref);
    free(got);
}
END_TEST

/* The fused small-dense forward against its definition: b_j, then fma(a_ic, W_jc, .) over c. */
START_TEST(test_dense_small_variants) {
    void (*fn[])(const double *, size_t, size_t, const double *, const double *, size_t, double *) =
        VARIANTS(iflow_dense_small_forward);
    iflow_rng rng;
    iflow_rng_init(&rng, 3, 0);
    enum { N = 37, MAXW = IFLOW_DENSE_SMALL_MAX };
    double a[N * MAXW], w[MAXW * MAXW], b[MAXW], ref[N * MAXW], got[N * MAXW];
    for (size_t i = 0; i < N * MAXW; i++) a[i] = 2 * iflow_rng_uniform(&rng) - 1;
    for (size_t i = 0; i < MAXW * MAXW; i++) w[i] = 2 * iflow_rng_uniform(&rng) - 1;
    for (size_t i = 0; i < MAXW; i++) b[i] = iflow_rng_uniform(&rng);
    const size_t shapes[][2] = {{12, 10}, {10, 7}, {5, 4}, {3, 2}, {16, 16}, {1, 9}, {9, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        size_t k = shapes[s][0], m = shapes[s][1];
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < m; j++) {
                double v = b[j];
                for (size_t c = 0; c < k; c++) v = fma(a[i * k + c], w[j * k + c], v);
                ref[i * m + j] = v;
            }
        for (int l = 0; l < IFLOW_ISA_COUNT; l++) {
            if (!fn[l] || !runs_here(l)) continue;
            fn[l](a, N, k, w, b, m, got);
            ck_assert_mem_eq(ref, got, N * m * sizeof *ref);
        }
    }
}
END_TEST

/* tanh: every variant gives the generic's doubles (fused and not), within 3 ulp of libm. */
START_TEST(test_tanh_variants) {
    void (*fn[])(const double *, double *, size_t, int) = VARIANTS(iflow_tanh_array);
    enum { N = 4001 };
    static double in[N], ref[N], got[N];
    for (size_t i = 0; i < N; i++)
        in[i] = -25.0 + 50.0 * (double)i / (N - 1) + 1e-3 * sin((double)i);
    for (int fused = 0; fused < 2; fused++) {
        fn[0](in, ref, N, fused);
        for (size_t i = 0; i < N; i++) {
            double t = tanh(in[i]);
            double ulp = nextafter(fabs(t), INFINITY) - fabs(t);
            ck_assert_double_le(fabs(ref[i] - t), 3 * ulp);
        }
        for (int l = 1; l < IFLOW_ISA_COUNT; l++) {
            if (!fn[l] || !runs_here(l)) continue;
            fn[l](in, got, N, fused);
            ck_assert_mem_eq(ref, got, sizeof ref);
        }
    }
}
END_TEST

/* The mixture sweep: each variant's three sums per draw against the sums taken with libm's exp,
 * in d = 1..13 (13: the generic-d kernel), n not a multiple of 8, one or two groupings. */
START_TEST(test_mix_sweep_variants) {
    void (*fn[])(const mc_ctx *, const centre_run *, size_t, workspace *, size_t) =
        VARIANTS(iflow_mix_sweep);
    const size_t n = 1003, k = 2;
    iflow_rng rng;
    iflow_rng_init(&rng, 5, 0);
    for (size_t d = 1; d <= 13; d++) {
        double *s = malloc(n * d * sizeof *s), *lw = malloc(n * sizeof *lw);
        double *ga = malloc(n * sizeof *ga), *gb = malloc(n * sizeof *gb);
        for (size_t i = 0; i < n * d; i++) s[i] = iflow_rng_uniform(&rng);
        for (size_t i = 0; i < n; i++) {
            lw[i] = -log((double)n) - 0.1 * iflow_rng_uniform(&rng);
            ga[i] = (double)(i % 3);
            gb[i] = (double)(i % 5);
        }
        iflow_mix_mc p = {.s = s,
                          .lw = lw,
                          .ga = ga,
                          .gb = gb,
                          .n = n,
                          .d = d,
                          .k = k,
                          .beta = 0.2,
                          .seed = 9,
                          .normals = IFLOW_NORMALS_V2};
        mc_ctx cx = {.p = &p, .ng = 2, .inv = 1.0 / (2 * p.beta * p.beta), .lw_max = 0};
        iflow_mix_tiles tl;
        ck_assert_int_eq(iflow_mix_tiles_new(&tl, s, lw, ga, gb, n, d), 0);
        workspace w, ref;
        size_t nqc = 13; /* query centres: 26 draws, 3 groups of 8 and one of 4 */
        ck_assert_int_eq(iflow_mix_ws_init(&w, nqc * k, d), 0);
        ck_assert_int_eq(iflow_mix_ws_init(&ref, nqc * k, d), 0);
        size_t nq = iflow_mix_draw(&cx, NULL, 0, nqc, &w);
        for (size_t q = 0; q < nq; q++) {
            double sum[3] = {0};
            for (size_t j = 0; j < n; j++) {
                double dist = 0;
                for (size_t c = 0; c < d; c++) {
                    double e = w.t[q * d + c] - s[j * d + c];
                    dist += e * e;
                }
                double e = exp(lw[j] - dist * cx.inv + w.c[q]);
                sum[0] += e;
                sum[1] += ga[j] == w.qa[q] ? e : 0.0;
                sum[2] += gb[j] == w.qb[q] ? e : 0.0;
            }
            for (size_t u = 0; u < 3; u++) ref.sum[u * w.cap_q + q] = sum[u];
        }
        for (int l = 0; l < IFLOW_ISA_COUNT; l++) {
            if (!fn[l] || !runs_here(l)) continue;
            fn[l](&cx, tl.runs, tl.n_tiles, &w, nq);
            for (size_t q = 0; q < nq; q++)
                for (size_t u = 0; u < 3; u++) {
                    double r = ref.sum[u * w.cap_q + q], g = w.sum[u * w.cap_q + q];
                    ck_assert_msg(fabs(g - r) <= 1e-13 * r,
                                  "d %zu variant %s draw %zu sum %d: %.17g "
                                  "against %.17g",
                                  d, iflow_isa_name((iflow_isa_level)l), q, (int)u, g, r);
                }
        }
        iflow_mix_ws_free(&w);
        iflow_mix_ws_free(&ref);
        iflow_mix_tiles_free(&tl);
        free(s);
        free(lw);
        free(ga);
        free(gb);
    }
}
END_TEST

/* The heteroscedastic sweep likewise, with a std per centre and one per coordinate. */
START_TEST(test_mixh_sweep_variants) {
    void (*fn[])(const mc_ctx *, const centre_run *, size_t, workspace *, size_t) =
        VARIANTS(iflow_mixh_sweep);
    const size_t n = 1003, k = 2;
    iflow_rng rng;
    iflow_rng_init(&rng, 6, 0);
    for (size_t d = 1; d <= 13; d += 3) {
        for (size_t cols = 1; cols <= d; cols += d > 1 ? d - 1 : 1) {
            double *s = malloc(n * d * sizeof *s), *sig = malloc(n * cols * sizeof *sig);
            double *ga = malloc(n * sizeof *ga), *gb = malloc(n * sizeof *gb);
            for (size_t i = 0; i < n * d; i++) s[i] = iflow_rng_uniform(&rng);
            for (size_t i = 0; i < n * cols; i++) sig[i] = 0.1 + 0.3 * iflow_rng_uniform(&rng);
            for (size_t i = 0; i < n; i++) ga[i] = (double)(i % 3), gb[i] = (double)(i % 5);
            iflow_mix_mc p = {.s = s,
                              .ga = ga,
                              .gb = gb,
                              .n = n,
                              .d = d,
                              .k = k,
                              .seed = 9,
                              .sigma = sig,
                              .sigma_cols = cols};
            mc_ctx cx = {.p = &p, .ng = 2};
            ck_assert_int_eq(iflow_mixh_setup(&cx), 0);
            iflow_mix_tiles tl;
            ck_assert_int_eq(iflow_mix_tiles_new(&tl, s, cx.hlv, ga, gb, n, d), 0);
            double *tw = iflow_mixh_tiles(&cx, &tl);
            ck_assert_ptr_nonnull(tw);
            workspace w, ref;
            size_t nqc = 13;
            ck_assert_int_eq(iflow_mix_ws_init(&w, nqc * k, d), 0);
            ck_assert_int_eq(iflow_mix_ws_init(&ref, nqc * k, d), 0);
            size_t nq = iflow_mixh_draw(&cx, NULL, 0, nqc, &w);
            for (size_t q = 0; q < nq; q++) {
                double sum[3] = {0};
                for (size_t j = 0; j < n; j++) {
                    double dist = 0;
                    for (size_t c = 0; c < d; c++) {
                        double e = w.t[q * d + c] - s[j * d + c], sg = sig[j * cols + (c % cols)];
                        dist += e * e / (2 * sg * sg);
                    }
                    double e = exp(cx.hlv[j] - dist + w.c[q]);
                    sum[0] += e;
                    sum[1] += ga[j] == w.qa[q] ? e : 0.0;
                    sum[2] += gb[j] == w.qb[q] ? e : 0.0;
                }
                for (size_t u = 0; u < 3; u++) ref.sum[u * w.cap_q + q] = sum[u];
            }
            for (int l = 0; l < IFLOW_ISA_COUNT; l++) {
                if (!fn[l] || !runs_here(l)) continue;
                fn[l](&cx, tl.runs, tl.n_tiles, &w, nq);
                for (size_t q = 0; q < nq; q++)
                    for (size_t u = 0; u < 3; u++) {
                        double r = ref.sum[u * w.cap_q + q], g = w.sum[u * w.cap_q + q];
                        ck_assert_msg(fabs(g - r) <= 1e-13 * r,
                                      "d %zu cols %zu variant %s draw %zu sum %d: %.17g against "
                                      "%.17g",
                                      d, cols, iflow_isa_name((iflow_isa_level)l), q, (int)u, g, r);
                    }
            }
            iflow_mix_ws_free(&w);
            iflow_mix_ws_free(&ref);
            iflow_mix_tiles_free(&tl);
            free(tw);
            iflow_mixh_free(&cx);
            free(s);
            free(sig);
            free(ga);
            free(gb);
        }
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("isa");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_choice);
    tcase_add_test(tc, test_env_check);
    tcase_add_test(tc, test_normal_v2_variants);
    tcase_add_test(tc, test_dense_small_variants);
    tcase_add_test(tc, test_tanh_variants);
    tcase_add_test(tc, test_mix_sweep_variants);
    tcase_add_test(tc, test_mixh_sweep_variants);
    suite_add_tcase(s, tc);
    return iflow_check_run(s);
}
