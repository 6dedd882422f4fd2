/* lib/error.c: sg_err's sys_errno says which system call error a failure was
 * (0: not a system call's), so that tools tell a full disk from bad input
 * without reading the message. The recording functions, and real failures of
 * lib writers and readers carrying the right errno through prefixes, struct
 * copies across the image writer's thread, and LMDB's own codes (none). */
#include "check.h"
#include "error.h"
#include "fileio.h"
#include "image.h"
#include "image_writer.h"
#include "shard.h"
#include "test_tmpdir.h"
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_recording(void)
{
    sg_err e = {{0}};
    CHECK(e.sys_errno == 0 && e.msg[0] == 0, "{{0}} left sys_errno %d, msg '%s'", e.sys_errno, e.msg);

    errno = ENOENT;
    int rc = sg_errno(&e, "%s", "a.txt");
    CHECK(rc == -1, "sg_errno returned %d", rc);
    CHECK(e.sys_errno == ENOENT, "sg_errno recorded %d, want ENOENT (%d)", e.sys_errno, ENOENT);
    char want[256];
    snprintf(want, sizeof want, "a.txt: %s", strerror(ENOENT));
    CHECK(!strcmp(e.msg, want), "sg_errno wrote '%s', want '%s'", e.msg, want);

    sg_err_prefix(&e, "checkpoint %d", 3);
    CHECK(e.sys_errno == ENOENT, "sg_err_prefix changed sys_errno to %d", e.sys_errno);
    snprintf(want, sizeof want, "checkpoint 3: a.txt: %s", strerror(ENOENT));
    CHECK(!strcmp(e.msg, want), "sg_err_prefix wrote '%s', want '%s'", e.msg, want);
    rc = sg_err_suffix(&e, " (try %s)", "again");
    CHECK(rc == -1 && e.sys_errno == ENOENT, "sg_err_suffix returned %d with sys_errno %d, want -1 and %d", rc,
          e.sys_errno, ENOENT);
    snprintf(want, sizeof want, "checkpoint 3: a.txt: %s (try again)", strerror(ENOENT));
    CHECK(!strcmp(e.msg, want), "sg_err_suffix wrote '%s', want '%s'", e.msg, want);
    memset(e.msg, 'x', sizeof e.msg - 1);
    e.msg[sizeof e.msg - 1] = 0;
    sg_err_suffix(&e, "more");
    CHECK(strlen(e.msg) == sizeof e.msg - 1, "sg_err_suffix on a full message: length %zu, want %zu",
          strlen(e.msg), sizeof e.msg - 1);

    rc = sg_errf(&e, "line %d: bad value", 7);
    CHECK(rc == -1 && e.sys_errno == 0, "sg_errf returned %d with sys_errno %d, want -1 and 0", rc, e.sys_errno);
    CHECK(!strcmp(e.msg, "line 7: bad value"), "sg_errf wrote '%s'", e.msg);

    /* an errno saved earlier, after calls that changed errno */
    errno = EINTR;
    rc = sg_err_sys(&e, EDQUOT, "%s: write", "b.bin");
    snprintf(want, sizeof want, "b.bin: write: %s", strerror(EDQUOT));
    CHECK(rc == -1 && e.sys_errno == EDQUOT && !strcmp(e.msg, want),
          "sg_err_sys: %d, sys_errno %d, '%s'; want -1, EDQUOT (%d), '%s'", rc, e.sys_errno, e.msg, EDQUOT, want);

    /* sg_errno keeps the errno of the failure, not one its own work may set */
    errno = EACCES;
    sg_errno(&e, "%s", "c");
    CHECK(e.sys_errno == EACCES, "sg_errno recorded %d, want EACCES", e.sys_errno);

    /* out of memory: the message as given, ENOMEM recorded (a file that did
     * not fit is not a bad one) */
    rc = sg_err_oom(&e, "%s: out of memory", "d.safetensors");
    CHECK(rc == -1 && e.sys_errno == ENOMEM && !strcmp(e.msg, "d.safetensors: out of memory"),
          "sg_err_oom: %d, sys_errno %d, '%s'", rc, e.sys_errno, e.msg);

    CHECK(sg_errno(NULL, "x") == -1 && sg_err_sys(NULL, EIO, "x") == -1 && sg_errf(NULL, "x") == -1 &&
          sg_err_oom(NULL, "x") == -1 &&
          sg_err_prefix(NULL, "x") == -1 && sg_err_suffix(NULL, "x") == -1, "a NULL err is not ignored");
}

/* A write into a directory that does not exist: ENOENT, kept by a prefix,
 * and the message says what to do. */
static void test_write_missing_dir(void)
{
    sg_err e;
    const char *path = test_tmp_path("no-such-dir/out.txt");
    int rc = sg_write_file_atomic(path, "x", 1, &e);
    CHECK(rc == -1, "writing %s succeeded", path);
    if (rc) {
        CHECK(e.sys_errno == ENOENT && strstr(e.msg, "does not exist; create it first: mkdir -p "),
              "%s: sys_errno %d (%s), want ENOENT", e.msg, e.sys_errno, strerror(e.sys_errno));
        sg_err_prefix(&e, "history");
        CHECK(e.sys_errno == ENOENT && !strncmp(e.msg, "history: ", 9), "after the prefix: %d '%s'", e.sys_errno, e.msg);
    }
}

/* A file read that is not there, and one over its reader's limit (E2BIG:
 * the caller says which file it expected). */
static void test_read(void)
{
    sg_err e;
    uint8_t *data;
    size_t len;
    int rc = sg_read_file(test_tmp_path("missing.json"), 1024, &data, &len, &e);
    CHECK(rc == -1 && e.sys_errno == ENOENT, "reading a missing file: %d, sys_errno %d '%s'", rc, e.sys_errno, e.msg);

    FILE *f = fopen(test_tmp_path("big.txt"), "w");
    if (f) { fputs("0123456789", f); fclose(f); }
    e.sys_errno = EIO;   /* stale: must be cleared */
    rc = sg_read_file(test_tmp_path("big.txt"), 4, &data, &len, &e);
    CHECK(rc == -1 && e.sys_errno == E2BIG, "a file over the limit: %d, sys_errno %d (want E2BIG) '%s'", rc,
          e.sys_errno, e.msg);
}

/* /dev/full refuses every write with ENOSPC: the atomic writer writes devices
 * in place, so the error is the write's own. Through the image writer's
 * thread the error is copied from one sg_err into another. */
static void test_dev_full(void)
{
    struct stat st;
    if (stat("/dev/full", &st) != 0 || !S_ISCHR(st.st_mode)) { SKIP("no /dev/full"); return; }
    sg_err e;
    int rc = sg_write_file_atomic("/dev/full", "x", 1, &e);
    CHECK(rc == -1 && e.sys_errno == ENOSPC, "/dev/full: %d, sys_errno %d '%s', want ENOSPC", rc, e.sys_errno, e.msg);

    uint8_t rgb[4 * 4 * 3];
    memset(rgb, 128, sizeof rgb);
    rc = sg_image_write("/dev/full", rgb, 4, 4, &e);
    CHECK(rc == -1 && e.sys_errno == ENOSPC, "sg_image_write /dev/full: %d, sys_errno %d '%s'", rc, e.sys_errno, e.msg);

    sg_image_writer *w;
    sg_err we = {{0}};
    if (sg_image_writer_start(&w, 2, &we)) { CHECK(0, "image writer: %s", we.msg); return; }
    int put = sg_image_writer_put(w, "/dev/full", rgb, 4, 4, &we);
    rc = sg_image_writer_finish(w, &we);
    CHECK((put || rc) && we.sys_errno == ENOSPC, "image writer into /dev/full: put %d finish %d, sys_errno %d '%s'", put,
          rc, we.sys_errno, we.msg);
}

/* Shards: a missing one is ENOENT; a data.mdb that is not an LMDB file is
 * LMDB's own error (a negative code): no errno. */
static void test_shard(void)
{
    sg_shard *s;
    sg_err e;
    int rc = sg_shard_open(&s, test_tmp_path("missing.lmdb"), &e);
    CHECK(rc == -1 && e.sys_errno == ENOENT, "a missing shard: %d, sys_errno %d '%s'", rc, e.sys_errno, e.msg);

    const char *dir = test_tmp_path("bad.lmdb");
    mkdir(dir, 0755);
    char data[600];
    snprintf(data, sizeof data, "%s/data.mdb", dir);
    FILE *f = fopen(data, "w");
    if (!f) { CHECK(0, "%s: %s", data, strerror(errno)); return; }
    for (int i = 0; i < 20000; i++) fputc(i * 7, f);
    fclose(f);
    e.sys_errno = EIO;
    rc = sg_shard_open(&s, dir, &e);
    CHECK(rc == -1 && e.sys_errno == 0, "a data.mdb of garbage: %d, sys_errno %d '%s'", rc, e.sys_errno, e.msg);
}

/* A message longer than sg_err holds keeps its beginning and its end (the
 * reason), joined by " ... ", never cutting a UTF-8 sequence: a 2000-byte path
 * lost "File name too long". */
static void test_long_messages(void)
{
    char path[2101];
    memset(path, 'a', 2000);
    memcpy(path, "/runs/", 6);
    memcpy(path + 1000, "\xc3\xa9\xc3\xa9\xc3\xa9", 6);   /* é: where the cut may fall */
    path[2000] = 0;
    sg_err err;
    const char *reason = ": File name too long";
    sg_err_sys(&err, ENAMETOOLONG, "%s/config.json", path);
    size_t n = strlen(err.msg);
    CHECK(n < sizeof err.msg && n > 900, "length %zu", n);
    CHECK(!strncmp(err.msg, "/runs/aaa", 9), "beginning kept: %.20s", err.msg);
    CHECK(n > strlen(reason) && !strcmp(err.msg + n - strlen(reason), reason), "end kept: ...%s",
          err.msg + (n > 40 ? n - 40 : 0));
    CHECK(strstr(err.msg, " ... ") != NULL, "no ' ... ' where it was cut");
    CHECK(err.sys_errno == ENAMETOOLONG, "sys_errno %d", err.sys_errno);
    /* Paths of 2-byte characters (é) after 0..3 ASCII bytes: for some shift
     * each cut falls inside a character, which must be kept whole or dropped */
    for (int shift = 0; shift < 4; shift++) {
        char utf[2200];
        size_t l = (size_t)sprintf(utf, "/runs/%.*s", shift, "xxx");
        for (int k = 0; k < 1000; k++) { utf[l++] = (char)0xc3; utf[l++] = (char)0xa9; }
        utf[l] = 0;
        sg_err_sys(&err, ENAMETOOLONG, "%s/config.json", utf);
        n = strlen(err.msg);
        int bad_utf8 = 0;   /* a lone continuation byte, or a lead byte without its continuation */
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)err.msg[i];
            if ((c & 0xc0) == 0x80 && (i == 0 || ((unsigned char)err.msg[i - 1] & 0x80) == 0)) bad_utf8 = 1;
            if (c >= 0xc0 && (i + 1 >= n || ((unsigned char)err.msg[i + 1] & 0xc0) != 0x80)) bad_utf8 = 1;
        }
        CHECK(!bad_utf8, "shift %d: a UTF-8 sequence was cut", shift);
        CHECK(n > strlen(reason) && !strcmp(err.msg + n - strlen(reason), reason), "shift %d: end kept", shift);
    }
    /* prefix and suffix keep the reason too */
    sg_errf(&err, "%s: not a directory", path);
    sg_err_prefix(&err, "sg-train: %s", path);
    n = strlen(err.msg);
    CHECK(n >= 15 && !strcmp(err.msg + n - 15, "not a directory"), "prefix: end ...%s", err.msg + (n > 30 ? n - 30 : 0));
    sg_errf(&err, "%s", path);
    sg_err_suffix(&err, " (checkpoint 000006 is unusable)");
    n = strlen(err.msg);
    CHECK(strstr(err.msg, "(checkpoint 000006 is unusable)") && err.msg[n - 1] == ')', "suffix: end ...%s",
          err.msg + (n > 40 ? n - 40 : 0));
    /* a short one is untouched */
    sg_errf(&err, "%s: %d", "x", 7);
    CHECK(!strcmp(err.msg, "x: 7"), "short: %s", err.msg);
}

int main(void)
{
    if (test_tmpdir_make("test_error")) return 1;
    test_recording();
    test_long_messages();
    test_write_missing_dir();
    test_read();
    test_dev_full();
    test_shard();
    test_tmpdir_remove();
    return check_done();
}
