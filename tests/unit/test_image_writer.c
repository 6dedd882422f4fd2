/* Image files on a background thread (lib/image_writer.h): every file as
 * sg_image_write writes it, with a queue shorter than the files; a failed
 * write is reported (by a later put or by finish) and nothing queued after
 * it is written. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "fail_dir_fsync.h"
#include "fileio.h"
#include "image.h"
#include "image_writer.h"
#include "test_tmpdir.h"

static int same_file(const char *a, const char *b)
{
    uint8_t *da = NULL, *db = NULL;
    size_t la = 0, lb = 0;
    sg_err err = { { 0 } };
    int ok = sg_read_file(a, 1 << 20, &da, &la, &err) == 0 && sg_read_file(b, 1 << 20, &db, &lb, &err) == 0 && la == lb &&
             memcmp(da, db, la) == 0;
    free(da);
    free(db);
    return ok;
}

/* abort drops what is still queued: of many large images queued at once
 * (each takes milliseconds to encode), not all are written, and every one
 * that is is whole (no temporary left beside it). */
static void test_abort(void)
{
    enum { W = 640, H = 480, N = 24 };
    uint8_t *rgb = malloc((size_t)W * H * 3);
    if (!rgb) { CHECK(0, "out of memory"); return; }
    uint32_t x = 12345;
    for (size_t i = 0; i < (size_t)W * H * 3; i++) {   /* noise: slow to deflate */
        x = x * 1664525u + 1013904223u;
        rgb[i] = (uint8_t)(x >> 24);
    }
    sg_err err = { { 0 } };
    sg_image_writer *w;
    CHECK(sg_image_writer_start(&w, N, &err) == 0, "%s", err.msg);
    for (int k = 0; k < N; k++) {
        char name[32];
        snprintf(name, sizeof name, "ab%02d.png", k);
        CHECK(sg_image_writer_put(w, test_tmp_path(name), rgb, W, H, &err) == 0, "%s", err.msg);
    }
    sg_image_writer_abort(w);
    int written = 0;
    for (int k = 0; k < N; k++) {
        char name[32];
        snprintf(name, sizeof name, "ab%02d.png", k);
        const char *path = test_tmp_path(name);
        if (access(path, F_OK) != 0) continue;
        written++;
        uint8_t *data = NULL;
        size_t len = 0;
        sg_image img = { 0 };
        CHECK(sg_read_file(path, 16 << 20, &data, &len, &err) == 0 && sg_image_decode(data, len, &img, &err) == 0 &&
              img.width == W && img.height == H && memcmp(img.rgb, rgb, (size_t)W * H * 3) == 0,
              "%s, written before the abort, is not whole (%s)", name, err.msg);
        free(data);
        sg_image_free(&img);
        char tmp[600];
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
        CHECK(access(tmp, F_OK) != 0, "%s's temporary file was left", name);
    }
    CHECK(written < N, "abort wrote all %d queued images instead of dropping them", N);
    free(rgb);
}

int main(void)
{
    if (test_tmpdir_make("test_image_writer")) return 1;
    sg_err err = { { 0 } };
    enum { W = 19, H = 13, N = 20 };
    static uint8_t img[N][W * H * 3], orig[N][W * H * 3];
    for (int k = 0; k < N; k++)
        for (int i = 0; i < W * H * 3; i++) orig[k][i] = img[k][i] = (uint8_t)(i * (k + 1) + k);

    sg_image_writer *w;
    CHECK(sg_image_writer_start(&w, 3, &err) == 0, "%s", err.msg);
    for (int k = 0; k < N; k++) {
        char name[32];
        snprintf(name, sizeof name, "bg%02d.%s", k, k % 3 ? "png" : "jpg");
        CHECK(sg_image_writer_put(w, test_tmp_path(name), img[k], W, H, &err) == 0, "%s", err.msg);
        memset(img[k], 0, sizeof img[k]);   /* the writer has its own copy */
    }
    CHECK(sg_image_writer_finish(w, &err) == 0, "%s", err.msg);
    for (int k = 0; k < N; k++) {
        char name[32], ref[32];
        snprintf(name, sizeof name, "bg%02d.%s", k, k % 3 ? "png" : "jpg");
        snprintf(ref, sizeof ref, "ref%02d.%s", k, k % 3 ? "png" : "jpg");
        CHECK(sg_image_write(test_tmp_path(ref), orig[k], W, H, &err) == 0, "%s", err.msg);
        CHECK(same_file(test_tmp_path(name), test_tmp_path(ref)), "%s differs from sg_image_write's file", name);
    }

    /* a failing write: reported, and what was queued after it is not written */
    CHECK(sg_image_writer_start(&w, 4, &err) == 0, "%s", err.msg);
    CHECK(sg_image_writer_put(w, test_tmp_path("before.png"), orig[0], W, H, &err) == 0, "%s", err.msg);
    CHECK(sg_image_writer_put(w, test_tmp_path("no/such/dir/x.png"), orig[1], W, H, &err) == 0, "%s", err.msg);
    int rc = 0;
    for (int tries = 0; tries < 2000 && rc == 0; tries++) {
        rc = sg_image_writer_put(w, test_tmp_path("after.png"), orig[2], W, H, &err);
        if (rc == 0) usleep(1000);
    }
    CHECK(rc == -1 && strstr(err.msg, "no/such/dir/x.png"), "a later put did not report the failure (%s)", err.msg);
    memset(&err, 0, sizeof err);
    CHECK(sg_image_writer_finish(w, &err) == -1 && strstr(err.msg, "no/such/dir/x.png"),
          "finish did not report the failure (%s)", err.msg);
    CHECK(access(test_tmp_path("before.png"), F_OK) == 0, "the file queued before the failure is missing");
    CHECK(access(test_tmp_path("after.png"), F_OK) != 0, "a file queued after the failure was written");

    /* images written whose directory does not sync, without an unsynced
     * handler (lib/fileio.h): none failed, so every one is written, and
     * finish says so with the first report, not -1 */
    char dir[600], want[1400];
    snprintf(dir, sizeof dir, "%s", test_tmp_path("unsynced"));
    CHECK(mkdir(dir, 0777) == 0, "mkdir %s", dir);
    snprintf(want, sizeof want, "%s/u0.png written, but syncing its directory failed", dir);
    fail_fsync_of = dir;
    CHECK(sg_image_writer_start(&w, 2, &err) == 0, "%s", err.msg);
    for (int k = 0; k < 4; k++) {
        char path[700];
        snprintf(path, sizeof path, "%s/u%d.png", dir, k);
        CHECK(sg_image_writer_put(w, path, orig[k], W, H, &err) == 0, "put %s: %s", path, err.msg);
    }
    memset(&err, 0, sizeof err);
    rc = sg_image_writer_finish(w, &err);
    fail_fsync_of = NULL;
    CHECK(rc == SG_WRITTEN_UNSYNCED && !strncmp(err.msg, want, strlen(want)), "unsynced: rc %d, '%s'", rc, err.msg);
    CHECK(fsyncs_failed == 4, "%d of the 4 directory fsyncs failed", fsyncs_failed);
    for (int k = 0; k < 4; k++) {
        char name[32];
        snprintf(name, sizeof name, "unsynced/u%d.png", k);
        CHECK(access(test_tmp_path(name), F_OK) == 0, "%s not written", name);
    }

    test_abort();
    sg_image_writer_abort(NULL);
    test_tmpdir_remove();
    return check_done();
}
