/* MT19937 seeded and used exactly as CPython's `random` module does, so that
 * `random.seed(S); random.shuffle(x)` of the reference implementation
 * (yunjey/stargan's CelebA test split) can be reproduced bit for bit. */
#ifndef SG_MT19937_H
#define SG_MT19937_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t mt[624];
    int index;
} sg_mt19937;

/* random.seed(seed) for a non-negative int seed: init_by_array with the seed's
 * 32-bit words, least significant first ([0] for seed 0). */
void sg_mt_seed_python(sg_mt19937 *m, uint64_t seed);
/* random.shuffle(x) (CPython 3) applied to a permutation of n indices:
 * perm must hold n entries (usually 0..n-1) and is shuffled in place. */
void sg_mt_shuffle_python(sg_mt19937 *m, size_t *perm, size_t n);

#endif
