/* Test-only hooks of lib/mt19937.c, declared apart from lib/mt19937.h so that
 * no tool reaches them (tests/cli/make.bats checks that none includes this);
 * for tests/unit/test_split_shuffle.c and tests/unit/test_mutated_inputs.c. */
#ifndef SG_MT19937_TESTING_H
#define SG_MT19937_TESTING_H
#include <stdint.h>
#include "mt19937.h"

/* The next 32-bit output (random.getrandbits(32)). For tests only, outside
 * mt19937.c, as is sg_mt_randbelow. */
uint32_t sg_mt_uint32(sg_mt19937 *m);
/* random._randbelow(n), 1 <= n <= 2^32 - 1: rejection sampling with n.bit_length() bits. */
uint32_t sg_mt_randbelow(sg_mt19937 *m, uint32_t n);

#endif
