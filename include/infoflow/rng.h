/* Seeded random numbers with independent streams.
 *
 * iflow_rng is xoshiro256** whose 256-bit state is derived from (seed, stream) by splitmix64, so
 * any computation can give each unit of work (an input, a centre, a layer) its own stream by
 * index: results never depend on how work is split across threads. Single normals
 * (iflow_rng_normal) come from a 128-layer ziggurat (Marsaglia & Tsang 2000, Doornik's ZIGNOR
 * variant). Batches (iflow_rng_fill_normal, iflow_rng_add_normal) come from the generator version
 * the rng is set to: v1, the same ziggurat (the default; every committed result), or v2, 16
 * lanes of xoshiro256** through an exact Box-Muller transform, about 6x faster and bit-identical
 * on any IEEE-754 machine (src/base/normal_v2.c). The struct is plain data; a checkpoint stores
 * its state and version field by field. */
#ifndef IFLOW_RNG_H
#define IFLOW_RNG_H

#include "infoflow/api.h"

#include <stddef.h>
#include <stdint.h>

/* Normal generator versions: a run keeps the version it started with ([train] noise_generator,
 * recorded in its effective config and checkpoints). 0 so that a zeroed rng is v1. */
typedef enum iflow_normals { IFLOW_NORMALS_V1 = 0, IFLOW_NORMALS_V2 = 1 } iflow_normals;
#define IFLOW_NORMALS_COUNT 2

#ifdef __cplusplus
extern "C" {
#endif

typedef struct iflow_rng {
    uint64_t s[4];
    iflow_normals normals; /* how fill/add_normal draw; iflow_rng_init sets V1 */
} iflow_rng;

/* "v1" / "v2" for IFLOW_NORMALS_V1 / V2 (NULL for any other value). */
IFLOW_API const char *iflow_normals_name(iflow_normals v);
/* The version named s ("v1", "v2"); -1 if s names none. */
IFLOW_API int iflow_normals_parse(const char *s);

/* Seeds rng for stream `stream` of generator `seed`, with normals v1 (set rng->normals after
 * it for v2). Distinct (seed, stream) pairs give statistically independent sequences. */
IFLOW_API void iflow_rng_init(iflow_rng *rng, uint64_t seed, uint64_t stream);

/* Mixes several indices into one stream id, e.g. iflow_rng_stream3(purpose, epoch, layer). */
IFLOW_API uint64_t iflow_rng_stream3(uint64_t a, uint64_t b, uint64_t c);

IFLOW_API uint64_t iflow_rng_u64(iflow_rng *rng);
/* Uniform on (0, 1): never returns 0 or 1. */
IFLOW_API double iflow_rng_uniform(iflow_rng *rng);
/* Uniform integer in [0, n), unbiased. n > 0. */
IFLOW_API uint64_t iflow_rng_below(iflow_rng *rng, uint64_t n);
/* Standard normal N(0, 1). */
IFLOW_API double iflow_rng_normal(iflow_rng *rng);
/* out[i] = std * N(0,1) for i < n. v1: n ziggurat draws; v2 (n > 0): one draw of rng keys the
 * 16 lanes that make the n normals, so the call costs the rng one step. */
IFLOW_API void iflow_rng_fill_normal(iflow_rng *rng, double *out, size_t n, double std);
/* out[i] += std * N(0,1) for i < n (v2: out[i] = fma(std, z_i, out[i])), drawn as fill_normal. */
IFLOW_API void iflow_rng_add_normal(iflow_rng *rng, double *out, size_t n, double std);
/* out[i] = x[i] + std * N(0,1) for i < n, drawn as add_normal on a copy of x (x may be out). */
IFLOW_API void iflow_rng_noisy_copy(iflow_rng *rng, const double *x, double *out, size_t n,
                                    double std);
/* Fisher-Yates shuffle of idx[0..n). */
IFLOW_API void iflow_rng_shuffle(iflow_rng *rng, size_t *idx, size_t n);

#ifdef __cplusplus
}
#endif

#endif
