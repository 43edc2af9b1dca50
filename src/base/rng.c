/* xoshiro256** with splitmix64 seeding, a ziggurat normal sampler (normals v1), and the
 * dispatch of batched normals to v1 or v2 (normal_v2.c). */
#include "infoflow/rng.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "normal_v2.h"

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void iflow_rng_init(iflow_rng *rng, uint64_t seed, uint64_t stream) {
    /* Hash seed and stream separately so (seed, stream) and (seed+1, stream-1) do not collide. */
    uint64_t a = seed;
    uint64_t h = splitmix64(&a);
    uint64_t b = stream ^ 0x5851f42d4c957f2dULL;
    h ^= splitmix64(&b) * 0xd6e8feb86659fd93ULL;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&h);
    if (!(rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3])) rng->s[0] = 1;
    rng->normals = IFLOW_NORMALS_V1;
}

static const char *const normals_names[IFLOW_NORMALS_COUNT] = {"v1", "v2"};

const char *iflow_normals_name(iflow_normals v) {
    return (unsigned)v < IFLOW_NORMALS_COUNT ? normals_names[v] : NULL;
}

int iflow_normals_parse(const char *s) {
    for (int v = 0; v < IFLOW_NORMALS_COUNT; v++)
        if (!strcmp(s, normals_names[v])) return v;
    return -1;
}

uint64_t iflow_rng_stream3(uint64_t a, uint64_t b, uint64_t c) {
    uint64_t x = a;
    uint64_t h = splitmix64(&x);
    x = h ^ b;
    h = splitmix64(&x);
    x = h ^ c;
    return splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* xoshiro256** step; static so the samplers below inline it (an exported function called
 * from inside the shared library goes through the PLT and is never inlined). */
static inline uint64_t next(iflow_rng *rng) {
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t iflow_rng_u64(iflow_rng *rng) { return next(rng); }

/* 53 random bits, offset by half an ulp: in (0, 1). */
static inline double uniform(iflow_rng *rng) {
    return ((double)(next(rng) >> 11) + 0.5) * 0x1.0p-53;
}

double iflow_rng_uniform(iflow_rng *rng) { return uniform(rng); }

uint64_t iflow_rng_below(iflow_rng *rng, uint64_t n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* reject the incomplete last block */
    uint64_t x;
    do {
        x = next(rng);
    } while (x >= limit);
    return x % n;
}

/* Ziggurat tables (Doornik 2005, "An improved ziggurat method to generate normal random
 * samples"): 128 layers, R = start of the tail, V = area of each layer. */
#define ZIG_C 128
#define ZIG_R 3.442619855899
#define ZIG_V 9.91256303526217e-3
static double zig_x[ZIG_C + 1];
static double zig_ratio[ZIG_C];
static pthread_once_t zig_once = PTHREAD_ONCE_INIT;

static void zig_init(void) {
    double f = exp(-0.5 * ZIG_R * ZIG_R);
    zig_x[0] = ZIG_V / f; /* the base layer is a box of width V / f(R) plus the tail */
    zig_x[1] = ZIG_R;
    zig_x[ZIG_C] = 0;
    for (int i = 2; i < ZIG_C; i++) {
        zig_x[i] = sqrt(-2 * log(ZIG_V / zig_x[i - 1] + f));
        f = exp(-0.5 * zig_x[i] * zig_x[i]);
    }
    for (int i = 0; i < ZIG_C; i++) zig_ratio[i] = zig_x[i + 1] / zig_x[i];
}

static double normal_tail(iflow_rng *rng, int negative) {
    double x, y;
    do {
        x = log(uniform(rng)) / ZIG_R;
        y = log(uniform(rng));
    } while (-2 * y < x * x);
    return negative ? x - ZIG_R : ZIG_R - x;
}

static inline double zig_normal(iflow_rng *rng) {
    for (;;) {
        uint64_t r = next(rng);
        unsigned i = (unsigned)(r & 0x7F);
        /* uniform on (-1, 1) from the top 53 bits */
        double u = 2.0 * (((double)(r >> 11) + 0.5) * 0x1.0p-53) - 1.0;
        if (fabs(u) < zig_ratio[i]) return u * zig_x[i];
        if (i == 0) return normal_tail(rng, u < 0);
        double x = u * zig_x[i];
        double f0 = exp(-0.5 * (zig_x[i] * zig_x[i] - x * x));
        double f1 = exp(-0.5 * (zig_x[i + 1] * zig_x[i + 1] - x * x));
        if (f1 + uniform(rng) * (f0 - f1) < 1.0) return x;
    }
}

double iflow_rng_normal(iflow_rng *rng) {
    pthread_once(&zig_once, zig_init);
    return zig_normal(rng);
}

void iflow_rng_fill_normal(iflow_rng *rng, double *out, size_t n, double std) {
    if (rng->normals == IFLOW_NORMALS_V2) {
        if (n) iflow_normal_v2(next(rng), NULL, out, n, std);
        return;
    }
    pthread_once(&zig_once, zig_init);
    for (size_t i = 0; i < n; i++) out[i] = std * zig_normal(rng);
}

void iflow_rng_add_normal(iflow_rng *rng, double *out, size_t n, double std) {
    if (rng->normals == IFLOW_NORMALS_V2) {
        if (n) iflow_normal_v2(next(rng), out, out, n, std);
        return;
    }
    pthread_once(&zig_once, zig_init);
    for (size_t i = 0; i < n; i++) out[i] += std * zig_normal(rng);
}

void iflow_rng_noisy_copy(iflow_rng *rng, const double *x, double *out, size_t n, double std) {
    if (rng->normals == IFLOW_NORMALS_V2) {
        if (n) iflow_normal_v2(next(rng), x, out, n, std); /* one pass, no copy */
        return;
    }
    if (out != x) memcpy(out, x, n * sizeof *out);
    iflow_rng_add_normal(rng, out, n, std);
}

void iflow_rng_shuffle(iflow_rng *rng, size_t *idx, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)iflow_rng_below(rng, i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}
