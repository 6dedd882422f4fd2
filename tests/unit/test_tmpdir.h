/* A unit test's temporary directory: test_tmpdir_make("test_x") makes
 * /tmp/test_x.XXXXXX (its path in test_tmpdir); test_tmp_path("f") names a
 * file in it (four rotating buffers, so a few names can be held at once);
 * test_tmp_put("a/b/f", text) writes text there, its folders first;
 * test_tmpdir_remove() removes it, or keeps it and says so when KEEP=1. */
#ifndef SG_TEST_TMPDIR_H
#define SG_TEST_TMPDIR_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* 0, or -1 with a message when the file cannot be written */
static inline int test_tmp_put(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s", test_tmp_path(rel));
    for (char *s = path + strlen(test_tmpdir) + 1; (s = strchr(s, '/')); s++) {
        *s = 0;
        mkdir(path, 0755);
        *s = '/';
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return -1;
    }
    int bad = fputs(text, f) < 0;
    bad |= fclose(f) != 0;
    if (bad) perror(path);
    return bad ? -1 : 0;
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
