/* Test-only hooks of lib/json.c, declared apart from lib/json.h so that no
 * tool reaches them (tests/cli/make.bats checks that none includes this); for
 * tests/unit/test_json.c. */
#ifndef SG_JSON_TESTING_H
#define SG_JSON_TESTING_H
#include <stddef.h>
#include "json.h"

/* The same for len bytes (NULs included). For tests only, outside json.c. */
int json_buf_string(sg_buf *b, const char *s, size_t len);

#endif
