/* lib/mt19937 against CPython (golden file from tests/golden/make_split_golden.py):
 * raw 32-bit outputs after random.seed(1234), and random.shuffle of range(N)
 * for several seeds and sizes up to CelebA's 202,599 rows. */
#include "check.h"
#include "mt19937.h"
#include "mt19937_testing.h"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define GOLDEN "tests/golden/split_shuffle.txt"

static uint64_t fnv1a64_perm(const size_t *perm, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    char num[32];
    for (size_t i = 0; i < n; i++) {
        int l = snprintf(num, sizeof num, i ? ",%zu" : "%zu", perm[i]);
        for (int k = 0; k < l; k++) h = (h ^ (unsigned char)num[k]) * 1099511628211ull;
    }
    return h;
}

/* Compares a line "tag v v v ..." with want[0..n). */
static void check_list(const char *line, const char *tag, const size_t *want, size_t n, const char *what)
{
    size_t tl = strlen(tag);
    if (strncmp(line, tag, tl) != 0) { CHECK(0, "%s: golden line is not '%s'", what, tag); return; }
    const char *p = line + tl;
    size_t i = 0;
    char *end;
    for (;;) {
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p) break;
        if (i >= n || v != want[i]) {
            CHECK(0, "%s %s: element %zu: got %zu want %llu", what, tag, i, i < n ? want[i] : (size_t)-1, v);
            return;
        }
        i++; p = end;
    }
    CHECK(i == n, "%s %s: golden has %zu elements, expected %zu", what, tag, i, n);
}

int main(void)
{
    FILE *f = fopen(GOLDEN, "r");
    /* a missing golden is a failure: a deleted or renamed file must not turn this test into one that cannot fail */
    if (!f) { CHECK(0, "%s not found (tests/run runs from the repository root)", GOLDEN); return check_done(); }
    static char line[1 << 16];
    int cases = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "bits32 ", 7)) {
            unsigned long long seed = strtoull(line + 7, NULL, 10);
            sg_mt19937 m;
            sg_mt_seed_python(&m, seed);
            char *p = strchr(line + 7, ' '), *end;
            int k = 0, bad = -1;
            uint32_t got = 0; unsigned long long want = 0;
            for (;; k++) {
                unsigned long long v = strtoull(p, &end, 10);
                if (end == p) break;
                p = end;
                uint32_t g = sg_mt_uint32(&m);
                if (g != v && bad < 0) { bad = k; got = g; want = v; }
            }
            CHECK(bad < 0, "getrandbits(32) #%d after seed(%llu): got %u want %llu", bad, seed, got, want);
            CHECK(k > 624, "too few raw outputs (%d) to cover a state refill", k);
            continue;
        }
        if (strncmp(line, "case ", 5)) continue;
        unsigned long long seed, n, hash;
        if (sscanf(line + 5, "%llu %llu %llu", &seed, &n, &hash) != 3) { CHECK(0, "bad golden line: %s", line); break; }
        size_t *perm = malloc((n ? n : 1) * sizeof *perm);
        for (size_t i = 0; i < n; i++) perm[i] = i;
        sg_mt19937 m;
        sg_mt_seed_python(&m, seed);
        sg_mt_shuffle_python(&m, perm, n);
        char what[64];
        snprintf(what, sizeof what, "seed %llu n %llu", seed, n);
        uint64_t h = fnv1a64_perm(perm, n);
        CHECK(h == hash, "%s: permutation hash %" PRIu64 " want %llu", what, h, hash);
        size_t k = n < 50 ? n : 50;
        if (fgets(line, sizeof line, f)) check_list(line, "head", perm, k, what);
        if (fgets(line, sizeof line, f)) check_list(line, "tail", perm + n - k, k, what);
        free(perm);
        cases++;
    }
    fclose(f);
    CHECK(cases >= 10, "only %d cases in %s", cases, GOLDEN);

    /* randbelow(1) draws 1-bit numbers until one is 0 (CPython: k = n.bit_length()). */
    sg_mt19937 a;
    sg_mt_seed_python(&a, 5);
    for (int i = 0; i < 100; i++) CHECK(sg_mt_randbelow(&a, 1) == 0, "randbelow(1) != 0");
    return check_done();
}
