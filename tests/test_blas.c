/* The choice of OpenBLAS's core: the rule (which running cores are generic, which core each CPU
 * gets), and that the running library never gets a choice it already runs. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h" /* src/base: the rule, testable without the CPU it needs */
#include "check_util.h"
#include "infoflow/blas.h"

START_TEST(test_core_choice_rule) {
    const char *generic[] = {"Prescott", "Core2",     "Nehalem", "Sandybridge",
                             "Atom",     "Barcelona", "unknown"};
    for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++) {
        ck_assert_str_eq(iflow_blas_core_choice(generic[i], 1, 1), "SkylakeX");
        ck_assert_str_eq(iflow_blas_core_choice(generic[i], 0, 1), "Haswell");
        ck_assert_ptr_null(iflow_blas_core_choice(generic[i], 0, 0));
    }
    /* A core with AVX2 kernels is OpenBLAS's own choice and is kept, whatever the CPU has. */
    const char *fast[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids", "ZEN"};
    for (size_t i = 0; i < sizeof fast / sizeof fast[0]; i++) {
        ck_assert_ptr_null(iflow_blas_core_choice(fast[i], 1, 1));
        ck_assert_ptr_null(iflow_blas_core_choice(fast[i], 0, 1));
    }
}
END_TEST

/* Whatever this machine is: the running core has a name, and a core to recommend is never the
 * one that runs (the CLI would otherwise run itself again for nothing). */
START_TEST(test_running_core) {
    const char *core = iflow_blas_core(), *better = iflow_blas_better_core();
    ck_assert_ptr_nonnull(core);
    ck_assert_int_gt((int)strlen(core), 0);
    if (better) ck_assert_str_ne(better, core);
}
END_TEST

/* `infoflow --version` with OPENBLAS_CORETYPE set as given (NULL: unset) under the shim, whose
 * core is Prescott unless the variable names one: the core the CLI ends up running. */
static void cli_core(const char *coretype, char *core, size_t n) {
    const char *bin = getenv("IFLOW_BIN"), *shim = getenv("IFLOW_BLAS_SHIM");
    ck_assert_msg(bin && shim, "IFLOW_BIN or IFLOW_BLAS_SHIM is not set");
    char cmd[4096], line[256] = "";
    /* Under ASan the preloaded shim would come before its runtime, which it otherwise refuses. */
    snprintf(cmd, sizeof cmd,
             "env %s%s ASAN_OPTIONS=verify_asan_link_order=0 LD_PRELOAD='%s' '%s' --version",
             coretype ? "OPENBLAS_CORETYPE=" : "-u OPENBLAS_CORETYPE", coretype ? coretype : "",
             shim, bin);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, p));
    ck_assert_int_eq(pclose(p), 0);
    const char *at = strstr(line, "OpenBLAS core ");
    ck_assert_msg(at != NULL, "no core in '%s'", line);
    snprintf(core, n, "%s", at + strlen("OpenBLAS core "));
    core[strcspn(core, ")")] = '\0';
}

/* The CLI runs itself again with the core this CPU supports when OpenBLAS runs a generic one and
 * the user set nothing; a core the user set, even a generic one, is kept. */
START_TEST(test_cli_chooses_core) {
    int avx512 = 0, avx2_fma = 0;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    const char *want = iflow_blas_core_choice("Prescott", avx512, avx2_fma);
    char core[64];
    cli_core(NULL, core, sizeof core);
    ck_assert_str_eq(core, want ? want : "Prescott");
    cli_core("Core2", core, sizeof core);
    ck_assert_str_eq(core, "Core2");
}
END_TEST

int main(void) {
    Suite *s = suite_create("blas");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_core_choice_rule);
    tcase_add_test(tc, test_running_core);
    tcase_add_test(tc, test_cli_chooses_core);
    suite_add_tcase(s, tc);
    int failed = iflow_check_run(s);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
