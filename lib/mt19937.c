#include "mt19937.h"
#include "mt19937_testing.h"

#define MT_N 624
#define MT_M 397

static void init_genrand(sg_mt19937 *m, uint32_t s)
{
    m->mt[0] = s;
    for (int i = 1; i < MT_N; i++)
        m->mt[i] = 1812433253u * (m->mt[i - 1] ^ (m->mt[i - 1] >> 30)) + (uint32_t)i;
    m->index = MT_N;
}

static void init_by_array(sg_mt19937 *m, const uint32_t *key, int key_len)
{
    init_genrand(m, 19650218u);
    int i = 1, j = 0;
    for (int k = MT_N > key_len ? MT_N : key_len; k; k--) {
        m->mt[i] = (m->mt[i] ^ ((m->mt[i - 1] ^ (m->mt[i - 1] >> 30)) * 1664525u)) + key[j] + (uint32_t)j;
        i++; j++;
        if (i >= MT_N) { m->mt[0] = m->mt[MT_N - 1]; i = 1; }
        if (j >= key_len) j = 0;
    }
    for (int k = MT_N - 1; k; k--) {
        m->mt[i] = (m->mt[i] ^ ((m->mt[i - 1] ^ (m->mt[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
        i++;
        if (i >= MT_N) { m->mt[0] = m->mt[MT_N - 1]; i = 1; }
    }
    m->mt[0] = 0x80000000u;   /* non-zero initial state */
}

void sg_mt_seed_python(sg_mt19937 *m, uint64_t seed)
{
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    init_by_array(m, key, key[1] ? 2 : 1);
}

uint32_t sg_mt_uint32(sg_mt19937 *m)
{
    if (m->index >= MT_N) {
        int k;
        uint32_t y;
        for (k = 0; k < MT_N - MT_M; k++) {
            y = (m->mt[k] & 0x80000000u) | (m->mt[k + 1] & 0x7fffffffu);
            m->mt[k] = m->mt[k + MT_M] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
        }
        for (; k < MT_N - 1; k++) {
            y = (m->mt[k] & 0x80000000u) | (m->mt[k + 1] & 0x7fffffffu);
            m->mt[k] = m->mt[k + (MT_M - MT_N)] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
        }
        y = (m->mt[MT_N - 1] & 0x80000000u) | (m->mt[0] & 0x7fffffffu);
        m->mt[MT_N - 1] = m->mt[MT_M - 1] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
        m->index = 0;
    }
    uint32_t y = m->mt[m->index++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

/* random.getrandbits(k), 1 <= k <= 32. */
static uint32_t getrandbits(sg_mt19937 *m, int k)
{
    return sg_mt_uint32(m) >> (32 - k);
}

uint32_t sg_mt_randbelow(sg_mt19937 *m, uint32_t n)
{
    int k = 0;
    for (uint32_t v = n; v; v >>= 1) k++;   /* n.bit_length() */
    uint32_t r = getrandbits(m, k);
    while (r >= n) r = getrandbits(m, k);
    return r;
}

void sg_mt_shuffle_python(sg_mt19937 *m, size_t *perm, size_t n)
{
    for (size_t i = n - (n > 0); i >= 1; i--) {
        size_t j = sg_mt_randbelow(m, (uint32_t)(i + 1));
        size_t tmp = perm[i]; perm[i] = perm[j]; perm[j] = tmp;
    }
}
