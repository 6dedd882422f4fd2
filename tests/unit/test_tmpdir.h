/* A unit test's temporary directory: test_tmpdir_make("test_x") makes
 * /tmp/test_x.XXXXXX (its path in test_tmpdir); test_tmp_path("f") names a
 * file in it (four rotating buffers, so a few names can be held at once);
 * test_tmpdir_remove() removes it, or keeps it and says so when KEEP=1. */
#ifndef SG_TEST_TMPDIR_H
#define SG_TEST_TMPDIR_H
#include <stdio.h>
#include <stdlib.h>

static char test_tmpdir[256];

static inline int test_tmpdir_make(const char *name)
{
    snprintf(test_tmpdir, sizeof test_tmpdir, "/tmp/%s.XXXXXX", name);
    if (mkdtemp(test_tmpdir)) return 0;
    perror("mkdtemp");
    return -1;
}

static inline const char *test_tmp_path(const char *file)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", test_tmpdir, file);
    return buf[k];
}

static inline void test_tmpdir_remove(void)
{
    if (getenv("KEEP")) {
        printf("kept %s\n", test_tmpdir);
        return;
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", test_tmpdir);
}
#endif
