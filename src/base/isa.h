/* isa: which instruction set the vector kernels run with, chosen once per process (runtime
 * dispatch; docs/PERFORMANCE.md says how to give a kernel variants). Internal to the library. */
#ifndef IFLOW_ISA_H
#define IFLOW_ISA_H

#include "infoflow/error.h"

/* The variants a kernel is compiled in. GENERIC is the build's own flags (x86-64 baseline in a
 * plain build, this machine's in a -Dnative build, the portable code elsewhere); AVX2 is
 * x86-64-v3 (AVX2 + FMA), AVX512 is x86-64-v4 (AVX-512 F, BW, CD, DQ, VL). */
typedef enum iflow_isa_level {
    IFLOW_ISA_GENERIC = 0,
    IFLOW_ISA_AVX2 = 1,
    IFLOW_ISA_AVX512 = 2,
    IFLOW_ISA_COUNT
} iflow_isa_level;

/* The variant in use: the best one compiled in that this CPU runs, lowered to the IFLOW_ISA
 * environment variable's level if that is set (generic, avx2 or avx512; an unknown value is
 * ignored here and reported by iflow_isa_check_env). Decided at the first call, in a
 * thread-safe way, and the same for the life of the process. */
iflow_isa_level iflow_isa(void);
/* "generic", "avx2", "avx512". */
const char *iflow_isa_name(iflow_isa_level level);
/* 1 if the variant is compiled in and this CPU runs it (tests call each such variant). */
int iflow_isa_available(iflow_isa_level level);
/* 0, or IFLOW_EINVAL naming IFLOW_ISA's value if it is not one of the names above. */
int iflow_isa_check_env(iflow_error *err);

/* A kernel `fn` with variants is defined once in a file compiled once per variant (meson.build:
 * isa_sources) as IFLOW_ISA_FN(fn), which names it fn_generic, fn_avx2 or fn_avx512;
 * IFLOW_ISA_DECLARE declares the three, and callers call IFLOW_ISA_PICK(fn)(args). Builds
 * without variants (-Dnative=true, non-x86) compile fn_generic only and call it directly. */
#define IFLOW_ISA_CAT_(a, b) a##b
#define IFLOW_ISA_CAT(a, b)  IFLOW_ISA_CAT_(a, b)
#ifndef IFLOW_ISA_SUFFIX
#define IFLOW_ISA_SUFFIX _generic
#endif
#define IFLOW_ISA_FN(fn) IFLOW_ISA_CAT(fn, IFLOW_ISA_SUFFIX)
#define IFLOW_ISA_DECLARE(ret, fn, params)                                                         \
    ret fn##_generic params;                                                                       \
    ret fn##_avx2 params;                                                                          \
    ret fn##_avx512 params
#ifdef IFLOW_ISA_MULTI
#define IFLOW_ISA_PICK(fn)                                                                         \
    (iflow_isa() == IFLOW_ISA_AVX512 ? fn##_avx512                                                 \
     : iflow_isa() == IFLOW_ISA_AVX2 ? fn##_avx2                                                   \
                                     : fn##_generic)
#else
#define IFLOW_ISA_PICK(fn) fn##_generic
#endif

#endif
