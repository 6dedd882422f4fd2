/* Test-only hooks of lib/safetensors.c, declared apart from lib/safetensors.h
 * so that no tool reaches them (tests/cli/make.bats checks that none includes
 * this); for tests/unit/test_mutated_inputs.c. */
#ifndef SG_SAFETENSORS_TESTING_H
#define SG_SAFETENSORS_TESTING_H
#include <stddef.h>
#include <stdint.h>
#include "safetensors.h"

/* Validates a header already in memory. name is used in messages; data_len is
 * the size of the data buffer that follows the header. Fills f (path = name,
 * fd = -1). For tests only, outside safetensors.c (they check headers directly). */
int sg_st_parse_header(sg_st_file *f, const char *name, const char *header, size_t header_len,
                       uint64_t data_len, sg_err *err);

#endif
