/* Test-only hooks of lib/celeba_attrs.c, declared apart from
 * lib/celeba_attrs.h so that no tool reaches them (tests/cli/make.bats checks
 * that none includes this); for tests/unit/test_celeba_attrs.c and
 * tests/unit/test_mutated_inputs.c. */
#ifndef SG_CELEBA_ATTRS_TESTING_H
#define SG_CELEBA_ATTRS_TESTING_H
#include <stddef.h>
#include "celeba_attrs.h"

/* Parses text of len bytes; name is used in messages. For tests only, outside
 * celeba_attrs.c (the tools read files: sg_attr_table_read). */
int sg_attr_table_parse(const char *name, const char *text, size_t len, sg_attr_table *t, sg_err *err);
/* Index of the attribute called name, or -1. For tests only, outside
 * celeba_attrs.c. */
int sg_attr_table_find(const sg_attr_table *t, const char *name);
/* sg_partition_read's parse of text (len bytes, need not be NUL-terminated);
 * path is used in messages. For tests only, outside celeba_attrs.c. */
int8_t *sg_partition_parse(const char *path, const char *text, size_t len, const sg_attr_table *t, sg_err *err);

#endif
