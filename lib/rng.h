/* Counter-based random numbers: every random draw is a pure function of
 * (seed, stream, counter), so the CPU and CUDA backends draw the same numbers
 * and a resumed run needs no generator state beyond the iteration number. */
#ifndef SG_RNG_H
#define SG_RNG_H
#include <stdint.h>

#ifdef __CUDACC__
#define SG_HD __host__ __device__
#else
#define SG_HD
#endif

/* splitmix64's finaliser: a bijective 64-bit mix. */
static inline SG_HD uint64_t sg_mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline SG_HD uint64_t sg_rand64(uint64_t seed, uint64_t stream, uint64_t counter)
{
    return sg_mix64(sg_mix64(seed ^ sg_mix64(stream + 0x632be59bd9b4e019ull)) + counter);
}

/* Uniform float in [0, 1) with 24 random bits. */
static inline SG_HD float sg_randu(uint64_t seed, uint64_t stream, uint64_t counter)
{
    return (float)(sg_rand64(seed, stream, counter) >> 40) * (1.0f / 16777216.0f);
}

/* Uniform integer in [0, n), n > 0 (multiply-shift; bias below 2^-32 for small n). */
static inline SG_HD uint32_t sg_randint(uint64_t seed, uint64_t stream, uint64_t counter, uint32_t n)
{
    return (uint32_t)(((sg_rand64(seed, stream, counter) >> 32) * (uint64_t)n) >> 32);
}

/* Streams: one per kind of draw, so that adding a kind never shifts another. */
enum {
    SG_STREAM_INIT_G = 1,   /* weight init of G (counter: element index) */
    SG_STREAM_INIT_D,       /* weight init of D */
    SG_STREAM_EPOCH,        /* data order: permutation of a shard per epoch */
    SG_STREAM_FLIP,         /* horizontal flip per image */
    SG_STREAM_TARGET,       /* target labels (permutation or random bits) */
    SG_STREAM_ALPHA,        /* gradient-penalty interpolation weights */
    SG_STREAM_SAMPLE        /* fixed sample batch selection */
};

#endif
