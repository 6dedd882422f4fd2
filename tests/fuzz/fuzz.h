/* Shared by the libFuzzer harnesses of tests/fuzz (make fuzz; README there).
 * Each harness feeds one parser of files a user hands to the tools and
 * checks lib/'s contract: 0, or -1 with a message; never a crash, a leak,
 * undefined behaviour or a hang (the sanitizers and libFuzzer catch those),
 * and what is accepted is consistent (checked here: FUZZ_CHECK aborts, which
 * libFuzzer reports as a crash with the input saved). */
#ifndef SG_FUZZ_H
#define SG_FUZZ_H
#include "error.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond, ...)                                                            \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                                \
            fputc('\n', stderr);                                                         \
            abort();                                                                     \
        }                                                                                \
    } while (0)

/* A call's return value under lib/'s contract: 0, or -1 with a message. */
static inline int fuzz_verdict(int rc, const sg_err *err)
{
    FUZZ_CHECK(rc == 0 || rc == -1, "returned %d", rc);
    if (rc) FUZZ_CHECK(err->msg[0] != 0, "failed without a message");
    if (rc) FUZZ_CHECK(memchr(err->msg, 0, sizeof err->msg) != NULL, "message not terminated");
    return rc;
}

/* The input copied to a buffer of exactly its size (plus nul when asked),
 * so that a read past it is AddressSanitizer's to see. */
static inline char *fuzz_copy(const uint8_t *data, size_t size, int nul)
{
    char *p = malloc(size + (nul ? 1 : 0) + (size || nul ? 0 : 1));
    if (!p) abort();
    if (size) memcpy(p, data, size);
    if (nul) p[size] = 0;
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
