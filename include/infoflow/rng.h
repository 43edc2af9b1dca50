/* Seeded random numbers with independent streams.
 *
 * iflow_rng is xoshiro256** whose 256-bit state is derived from (seed, stream) by splitmix64, so
 * any computation can give each unit of work (an input, a centre, a layer) its own stream by
 * index: results never depend on how work is split across threads. Normals come from a
 * 128-layer ziggurat (Marsaglia & Tsang 2000, Doornik's ZIGNOR variant). The struct is plain data
 * and can be saved in a checkpoint byte for byte. */
#ifndef IFLOW_RNG_H
#define IFLOW_RNG_H

#include "infoflow/api.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct iflow_rng {
    uint64_t s[4];
} iflow_rng;

/* Seeds rng for stream `stream` of generator `seed`. Distinct (seed, stream) pairs give
 * statistically independent sequences. */
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
/* out[i] = std * N(0,1) for i < n. */
IFLOW_API void iflow_rng_fill_normal(iflow_rng *rng, double *out, size_t n, double std);
/* out[i] += std * N(0,1) for i < n. */
IFLOW_API void iflow_rng_add_normal(iflow_rng *rng, double *out, size_t n, double std);
/* Fisher-Yates shuffle of idx[0..n). */
IFLOW_API void iflow_rng_shuffle(iflow_rng *rng, size_t *idx, size_t n);

#ifdef __cplusplus
}
#endif

#endif
