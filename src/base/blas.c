/* OpenBLAS thread count, scoped (blas.h), and the choice of its core (infoflow/blas.h). */
#include "blas.h"

#include <stddef.h>
#include <strings.h>

#include "infoflow/blas.h"

/* Not declared by every cblas.h. */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_corename(void);

int iflow_blas_serial_begin(void) {
    int previous = openblas_get_num_threads();
    if (previous != 1) openblas_set_num_threads(1);
    return previous;
}

void iflow_blas_serial_end(int previous) {
    if (previous != 1 && previous > 0) openblas_set_num_threads(previous);
}

const char *iflow_blas_core(void) {
    const char *name = openblas_get_corename();
    return name ? name : "unknown";
}

const char *iflow_blas_core_choice(const char *core, int avx512, int avx2_fma) {
    static const char *const fast[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake",
                                       "SapphireRapids"};
    for (size_t i = 0; core && i < sizeof fast / sizeof fast[0]; i++)
        if (!strcasecmp(core, fast[i])) return NULL;
    return avx512 ? "SkylakeX" : avx2_fma ? "Haswell" : NULL;
}

const char *iflow_blas_better_core(void) {
    int avx512 = 0, avx2_fma = 0;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    /* cpuid, with the OS's XSAVE support of the wide registers checked by libgcc. */
    __builtin_cpu_init();
    avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return iflow_blas_core_choice(iflow_blas_core(), avx512, avx2_fma);
}
