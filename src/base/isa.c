/* isa: the runtime choice of the vector kernels' instruction set (isa.h), made once per
 * process from the CPU's features (__builtin_cpu_supports) and the IFLOW_ISA variable. */
#include "isa.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char *const isa_names[IFLOW_ISA_COUNT] = {"generic", "avx2", "avx512"};
_Static_assert(sizeof isa_names / sizeof *isa_names == IFLOW_ISA_COUNT, "a name per level");

static pthread_once_t isa_once = PTHREAD_ONCE_INIT;
static iflow_isa_level isa_chosen = IFLOW_ISA_GENERIC;

const char *iflow_isa_name(iflow_isa_level level) {
    return (unsigned)level < IFLOW_ISA_COUNT ? isa_names[level] : "?";
}

/* IFLOW_ISA's level, IFLOW_ISA_COUNT if unset or empty, -1 if not a level's name. */
static int env_level(void) {
    const char *v = getenv("IFLOW_ISA");
    if (!v || !*v) return IFLOW_ISA_COUNT;
    for (int i = 0; i < IFLOW_ISA_COUNT; i++)
        if (strcmp(v, isa_names[i]) == 0) return i;
    return -1;
}

int iflow_isa_available(iflow_isa_level level) {
    switch (level) {
    case IFLOW_ISA_GENERIC: return 1;
#if defined(IFLOW_ISA_MULTI) && (defined(__x86_64__) || defined(__i386__))
    case IFLOW_ISA_AVX2: return __builtin_cpu_supports("x86-64-v3");
    case IFLOW_ISA_AVX512: return __builtin_cpu_supports("x86-64-v4");
#endif
    default: return 0;
    }
}

static void isa_choose(void) {
    int cap = env_level();
    int level = IFLOW_ISA_GENERIC;
    for (int i = IFLOW_ISA_GENERIC + 1; i < IFLOW_ISA_COUNT; i++)
        if ((cap < 0 || i <= cap) && iflow_isa_available((iflow_isa_level)i)) level = i;
    isa_chosen = (iflow_isa_level)level;
}

iflow_isa_level iflow_isa(void) {
    /* pthread_once orders isa_chosen's write before every reader's read. */
    pthread_once(&isa_once, isa_choose);
    return isa_chosen;
}

int iflow_isa_check_env(iflow_error *err) {
    if (env_level() >= 0) return 0;
    return iflow_error_set(
        err, IFLOW_EINVAL,
        "environment variable IFLOW_ISA = '%s': expected generic, avx2 or avx512",
        getenv("IFLOW_ISA"));
}
