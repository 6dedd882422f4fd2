/* Shards: write/read round trip (raw and PNG), CRC corruption detected,
 * not-a-shard and newer-version errors, --force semantics, concurrent readers. */
#define _GNU_SOURCE
#include "check.h"
#include "shard.h"
#include "shard_testing.h"
#include "fileio.h"
#include "fail_dir_fsync.h"
#include "image.h"
#include "test_tmpdir.h"
#include "dead_pid.h"
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>


static const char *const names5[] = {"Bangs", "Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair"};

static void fill_pixels(uint8_t *px, int w, int h, uint64_t i)
{
    for (int k = 0; k < w * h * 3; k++) px[k] = (uint8_t)(k * 7 + i * 13 + (k >> 5));
}

static sg_shard_meta make_meta(int w, int h, int enc, int kind, int n_labels)
{
    sg_shard_meta m;
    memset(&m, 0, sizeof m);
    m.width = (uint32_t)w; m.height = (uint32_t)h; m.channels = 3;
    m.pixel_encoding = enc;
    m.label_kind = kind;
    m.n_labels = (uint32_t)n_labels;
    for (int i = 0; i < n_labels; i++) m.label_names[i] = (char *)names5[i];
    snprintf(m.source, sizeof m.source, "test source");
    m.crop = 178; m.size = (uint32_t)w;
    return m;
}

/* Writes n records; record i has labels (i >> j) & 1 (multi-hot) or one-hot i % n_labels. */
static int write_shard(const char *path, int w, int h, int enc, int kind, uint64_t n, int force, sg_err *err)
{
    sg_shard_meta m = make_meta(w, h, enc, kind, 5);
    sg_shard_writer *wr;
    if (sg_shard_writer_open(&wr, path, &m, force, n, err)) return -1;
    uint8_t *px = malloc((size_t)w * h * 3);
    for (uint64_t i = 0; i < n; i++) {
        uint8_t labels[5];
        for (int j = 0; j < 5; j++) labels[j] = kind == SG_LABELS_ONE_HOT ? (i % 5 == (uint64_t)j) : (i >> j) & 1;
        char name[32];
        snprintf(name, sizeof name, "%06llu.jpg", (unsigned long long)i + 1);
        fill_pixels(px, w, h, i);
        uint8_t *data = px;
        size_t len = (size_t)w * h * 3;
        if (enc == SG_PIXELS_PNG && sg_png_encode(px, w, h, &data, &len, err)) { free(px); sg_shard_writer_abort(wr); return -1; }
        int rc = sg_shard_writer_append(wr, labels, name, data, len, err);
        if (data != px) free(data);
        if (rc) { free(px); sg_shard_writer_abort(wr); return -1; }
    }
    free(px);
    sg_err note;
    int rc = sg_shard_writer_commit(wr, &note, err);
    CHECK(rc || !note.msg[0], "%s: commit note: %s", path, note.msg);
    return rc;
}

/* 1 when this process maps path's data.mdb with random-read advice (VmFlags
 * "rr" in /proc/self/smaps: MADV_RANDOM, what MDB_NORDAHEAD asks), 0 when it
 * maps it without, -1 when it is not mapped or smaps cannot be read. */
static int mapped_for_random_reads(const char *shard_path)
{
    char want[300], line[4608];
    snprintf(want, sizeof want, "%s/data.mdb", shard_path);
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return -1;
    int in_map = 0, found = -1;
    while (fgets(line, sizeof line, f)) {
        size_t l = strlen(line);
        if (l && line[l - 1] == '\n') line[--l] = 0;
        if (strchr(line, '-') && strchr(line, '/') && strncmp(line, "VmFlags", 7)) {   /* a mapping's first line */
            in_map = l >= strlen(want) && !strcmp(line + l - strlen(want), want);
        } else if (in_map && !strncmp(line, "VmFlags:", 8)) {
            found = strstr(line, " rr") != NULL;
            break;
        }
    }
    fclose(f);
    return found;
}

static void test_round_trip(int enc, int kind, uint64_t n, int w, int h)
{
    char path[256];
    sg_err err;
    snprintf(path, sizeof path, "%s/rt-%d-%d.lmdb", test_tmpdir, enc, kind);
    int rc = write_shard(path, w, h, enc, kind, n, 0, &err);
    CHECK(rc == 0, "write %s: %s", path, err.msg);
    if (rc) return;
    char lock[300];
    snprintf(lock, sizeof lock, "%s/lock.mdb", path);
    CHECK(access(lock, F_OK) != 0, "the writer left lock.mdb in the shard");
    sg_shard *s;
    /* one-hot shards are read as the trainer reads shards larger than half the memory */
    rc = (kind == SG_LABELS_ONE_HOT ? sg_shard_open_random : sg_shard_open)(&s, path, &err);
    CHECK(rc == 0, "open %s: %s", path, err.msg);
    if (rc) return;
    int rr = mapped_for_random_reads(path);
    if (rr < 0) SKIP("no /proc/self/smaps entry for %s/data.mdb", path);
    else CHECK(rr == (kind == SG_LABELS_ONE_HOT), "read-ahead advice: VmFlags rr %d, expected %d", rr,
               kind == SG_LABELS_ONE_HOT);
    const sg_shard_meta *m = sg_shard_get_meta(s);
    CHECK(m->version == 1 && m->width == (uint32_t)w && m->height == (uint32_t)h && m->channels == 3 &&
          m->count == n && m->n_labels == 5 && m->pixel_encoding == enc && m->label_kind == kind &&
          m->crop == 178 && m->size == (uint32_t)w && !strcmp(m->source, "test source"),
          "meta read back wrong: v%u %ux%ux%u count %llu labels %u enc %d kind %d",
          m->version, m->width, m->height, m->channels, (unsigned long long)m->count, m->n_labels,
          m->pixel_encoding, m->label_kind);
    for (int j = 0; j < 5 && j < (int)m->n_labels; j++)
        CHECK(!strcmp(m->label_names[j], names5[j]), "label %d: %s", j, m->label_names[j]);
    uint8_t *px = malloc((size_t)w * h * 3), *want = malloc((size_t)w * h * 3);
    int bad = 0;
    for (uint64_t i = 0; i < n; i++) {
        float labels[5];
        char name[32];
        if (sg_shard_read(s, i, px, labels, name, sizeof name, &err)) {
            CHECK(0, "read %llu: %s", (unsigned long long)i, err.msg);
            bad++;
            break;
        }
        fill_pixels(want, w, h, i);
        char want_name[32];
        snprintf(want_name, sizeof want_name, "%06llu.jpg", (unsigned long long)i + 1);
        int ok = !memcmp(px, want, (size_t)w * h * 3) && !strcmp(name, want_name);
        for (int j = 0; j < 5; j++)
            ok &= labels[j] == (kind == SG_LABELS_ONE_HOT ? (float)(i % 5 == (uint64_t)j) : (float)((i >> j) & 1));
        if (!ok && bad++ == 0) CHECK(0, "record %llu differs (name %s)", (unsigned long long)i, name);
    }
    CHECK(bad == 0, "%d of %llu records differ", bad, (unsigned long long)n);
    CHECK(sg_shard_read(s, n, px, NULL, NULL, 0, &err) == -1 && strstr(err.msg, "out of range"),
          "reading past the end: %s", err.msg);
    uint8_t lb[5];
    CHECK(sg_shard_read_labels(s, 3, lb, &err) == 0 && lb[0] == (kind == SG_LABELS_ONE_HOT ? 0 : 1),
          "read_labels: %s", err.msg);
    free(px); free(want);
    sg_shard_close(s);
}

/* Finds the first occurrence of record index's pixels in data.mdb and flips one byte. */
static int corrupt_record(const char *path, uint64_t index, int w, int h)
{
    char f[300];
    snprintf(f, sizeof f, "%s/data.mdb", path);
    uint8_t *data;
    size_t len;
    sg_err err;
    if (sg_read_file(f, 1u << 30, &data, &len, &err)) return -1;
    size_t n = (size_t)w * h * 3;
    uint8_t *px = malloc(n);
    fill_pixels(px, w, h, index);
    uint8_t *hit = memmem(data, len, px, n);
    int rc = -1;
    if (hit) {
        FILE *fp = fopen(f, "r+b");
        if (fp) {
            long off = (long)(hit - data) + (long)n / 2;
            fseek(fp, off, SEEK_SET);
            fputc(hit[n / 2] ^ 0x10, fp);
            rc = fclose(fp) == 0 ? 0 : -1;
        }
    }
    free(px); free(data);
    return rc;
}

static void test_corruption(void)
{
    char path[256];
    sg_err err;
    snprintf(path, sizeof path, "%s/corrupt.lmdb", test_tmpdir);
    CHECK(write_shard(path, 16, 16, SG_PIXELS_RAW, SG_LABELS_MULTI_HOT, 20, 0, &err) == 0, "%s", err.msg);
    CHECK(corrupt_record(path, 7, 16, 16) == 0, "could not find record 7's pixels in data.mdb");
    sg_shard *s;
    if (sg_shard_open(&s, path, &err)) { CHECK(0, "open: %s", err.msg); return; }
    uint8_t px[16 * 16 * 3];
    CHECK(sg_shard_read(s, 6, px, NULL, NULL, 0, &err) == 0, "record 6 should be intact: %s", err.msg);
    int rc = sg_shard_read(s, 7, px, NULL, NULL, 0, &err);
    CHECK(rc == -1 && strstr(err.msg, "CRC mismatch") && strstr(err.msg, "record 7"),
          "flipped byte in record 7 not detected: rc %d, %s", rc, rc ? err.msg : "");
    sg_shard_close(s);
}

/* The map size LMDB records in data.mdb's meta pages (mm_mapsize, at byte 32
 * of each: the page header's 16 bytes, then magic, version, address) damaged
 * to 2^60 in both: LMDB mapped that much and failed with "Cannot allocate
 * memory", blaming memory for a damaged file (review-fuzz22 F4). Reading needs
 * no more than the file, so the shard reads as it is. */
static void test_damaged_map_size(void)
{
    char path[256], data[300];
    sg_err err = {{0}};
    snprintf(path, sizeof path, "%s/mapsize.lmdb", test_tmpdir);
    snprintf(data, sizeof data, "%s/data.mdb", path);
    CHECK(write_shard(path, 16, 16, SG_PIXELS_RAW, SG_LABELS_MULTI_HOT, 20, 0, &err) == 0, "%s", err.msg);
    uint8_t *d;
    size_t n;
    if (sg_read_file(data, 1 << 24, &d, &n, &err)) { CHECK(0, "%s", err.msg); return; }
    uint32_t psize;
    memcpy(&psize, d + 40, 4);   /* the free DB's md_pad: LMDB keeps the page size there */
    CHECK(psize >= 512 && psize + 40 <= n, "page size %u in a %zu-byte data.mdb", psize, n);
    if (psize >= 512 && psize + 40 <= n) {
        uint64_t huge = (uint64_t)1 << 60;
        memcpy(d + 32, &huge, 8);
        memcpy(d + psize + 32, &huge, 8);
        CHECK(sg_write_file_atomic(data, d, n, &err) == 0, "%s", err.msg);
        sg_shard *s;
        int rc = sg_shard_open(&s, path, &err);
        CHECK(rc == 0, "damaged map size: open \"%s\"", err.msg);
        if (!rc) {
            CHECK(sg_shard_get_meta(s)->count == 20, "damaged map size: %llu records",
                  (unsigned long long)sg_shard_get_meta(s)->count);
            uint8_t px[16 * 16 * 3], want[16 * 16 * 3];
            for (uint64_t i = 0; i < 20; i++) {
                fill_pixels(want, 16, 16, i);
                rc = sg_shard_read(s, i, px, NULL, NULL, 0, &err);
                CHECK(rc == 0 && !memcmp(px, want, sizeof px), "damaged map size: record %llu: %s",
                      (unsigned long long)i, rc ? err.msg : "pixels differ");
            }
            sg_shard_close(s);
        }
    }
    free(d);
}

/* An LMDB environment written directly, with an optional "meta" value. */
static void make_env(const char *path, const char *meta)
{
    mkdir(path, 0755);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    mdb_env_create(&env);
    mdb_env_open(env, path, MDB_NOLOCK, 0644);
    mdb_txn_begin(env, NULL, 0, &txn);
    mdb_dbi_open(txn, NULL, 0, &dbi);
    MDB_val k = {5, "hello"}, v = {5, "world"};
    mdb_put(txn, dbi, &k, &v, 0);
    if (meta) {
        MDB_val mk = {4, "meta"}, mv = {strlen(meta), (void *)meta};
        mdb_put(txn, dbi, &mk, &mv, 0);
    }
    mdb_txn_commit(txn);
    mdb_env_close(env);
}

static void test_open_errors(void)
{
    char path[256], want[400];
    sg_err err;
    sg_shard *s;

    snprintf(path, sizeof path, "%s/plain.lmdb", test_tmpdir);
    make_env(path, NULL);
    snprintf(want, sizeof want, "%s: not a stargan shard (no metadata record)", path);
    CHECK(sg_shard_open(&s, path, &err) == -1 && !strcmp(err.msg, want), "no meta: got \"%s\"", err.msg);

    snprintf(path, sizeof path, "%s/v3.lmdb", test_tmpdir);
    make_env(path, "{\"format\":\"stargan-shard\",\"version\":3,\"width\":8}");
    snprintf(want, sizeof want, "%s: shard format version 3 is newer than this tool supports (1): read it with a newer stargan-c, or pack it again with this one", path);
    CHECK(sg_shard_open(&s, path, &err) == -1 && !strcmp(err.msg, want), "newer version: got \"%s\"", err.msg);

    snprintf(path, sizeof path, "%s/badmeta.lmdb", test_tmpdir);
    make_env(path, "{\"format\":\"stargan-shard\",\"version\":1,");
    CHECK(sg_shard_open(&s, path, &err) == -1 && strstr(err.msg, "metadata"), "bad JSON: got \"%s\"", err.msg);

    /* A label name twice (hand-edited metadata; celeb-pack never writes one):
     * every reader refuses it, naming both, and the writer never writes it. */
    snprintf(path, sizeof path, "%s/twice.lmdb", test_tmpdir);
    make_env(path, "{\"format\":\"stargan-shard\",\"version\":1,\"width\":8,\"height\":8,\"channels\":3,"
                   "\"pixel_encoding\":\"raw\",\"label_kind\":\"multi-hot\",\"labels\":[\"Bangs\",\"Male\",\"Bangs\"],"
                   "\"count\":1,\"source\":\"x\",\"crop\":0,\"size\":8}");
    snprintf(want, sizeof want, "%s: metadata: labels 0 and 2 are both Bangs (label names must differ)", path);
    CHECK(sg_shard_open(&s, path, &err) == -1 && !strcmp(err.msg, want), "label twice: got \"%s\"", err.msg);
    {
        sg_shard_meta m = make_meta(8, 8, SG_PIXELS_RAW, SG_LABELS_MULTI_HOT, 3);
        m.label_names[2] = (char *)names5[1];
        sg_shard_writer *wr;
        snprintf(path, sizeof path, "%s/twice-written.lmdb", test_tmpdir);
        snprintf(want, sizeof want, "%s: labels 1 and 2 are both Black_Hair (label names must differ)", path);
        CHECK(sg_shard_writer_open(&wr, path, &m, 0, 1, &err) == -1 && !strcmp(err.msg, want),
              "writer, label twice: got \"%s\"", err.msg);
        CHECK(access(path, F_OK) != 0, "%s written", path);
    }

    /* Image geometry: the writer refuses what the readers refuse (a shard
     * packed for hours that no reader opens), and takes what they take. */
    {
        static const uint32_t bad[][3] = {{16385, 8, 3}, {8, 16385, 3}, {0, 8, 3}, {8, 0, 3}, {8, 8, 4}, {UINT32_MAX, 8, 3}};
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            sg_shard_meta m = make_meta(8, 8, SG_PIXELS_RAW, SG_LABELS_MULTI_HOT, 3);
            m.width = bad[k][0]; m.height = bad[k][1]; m.channels = bad[k][2];
            sg_shard_writer *wr = NULL;
            snprintf(path, sizeof path, "%s/geometry.lmdb", test_tmpdir);
            snprintf(want, sizeof want, "%s: bad image geometry %ux%ux%u (1 to 16384 pixels a side, 3 channels: what "
                     "readers open)", path, bad[k][0], bad[k][1], bad[k][2]);
            CHECK(sg_shard_writer_open(&wr, path, &m, 0, 1, &err) == -1 && !strcmp(err.msg, want),
                  "writer, %ux%ux%u: got \"%s\"", bad[k][0], bad[k][1], bad[k][2], err.msg);
            if (wr) sg_shard_writer_abort(wr);
            CHECK(access(path, F_OK) != 0, "%s written", path);
            snprintf(path, sizeof path, "%s/geometry-read.lmdb", test_tmpdir);
            char meta[400];
            snprintf(meta, sizeof meta, "{\"format\":\"stargan-shard\",\"version\":1,\"width\":%u,\"height\":%u,"
                     "\"channels\":%u,\"pixel_encoding\":\"raw\",\"label_kind\":\"multi-hot\",\"labels\":[\"A\"],"
                     "\"count\":0,\"source\":\"x\",\"crop\":0,\"size\":8}", bad[k][0], bad[k][1], bad[k][2]);
            make_env(path, meta);
            CHECK(sg_shard_open(&s, path, &err) == -1 && strstr(err.msg, "metadata: bad values"),
                  "reader, %ux%ux%u: got \"%s\"", bad[k][0], bad[k][1], bad[k][2], err.msg);
            char cmd[600];
            snprintf(cmd, sizeof cmd, "rm -r '%s'", path);
            CHECK(system(cmd) == 0, "%s", cmd);
        }
        /* the largest: taken by both (a raw record's size, in the message) */
        sg_shard_meta m = make_meta(16384, 16384, SG_PIXELS_RAW, SG_LABELS_MULTI_HOT, 3);
        sg_shard_writer *wr = NULL;
        snprintf(path, sizeof path, "%s/largest.lmdb", test_tmpdir);
        CHECK(sg_shard_writer_open(&wr, path, &m, 0, 1, &err) == 0, "writer, 16384x16384: %s", err.msg);
        uint8_t lab[3] = {0, 1, 0}, px[3] = {0};
        CHECK(wr && sg_shard_writer_append(wr, lab, "x.png", px, sizeof px, &err) == -1 &&
              !strcmp(err.msg, "x.png: 3 pixel bytes, expected 805306368"), "append: '%s'", err.msg);
        sg_shard_writer_abort(wr);
        make_env(path, "{\"format\":\"stargan-shard\",\"version\":1,\"width\":16384,\"height\":16384,\"channels\":3,"
                       "\"pixel_encoding\":\"raw\",\"label_kind\":\"multi-hot\",\"labels\":[\"A\"],\"count\":1,"
                       "\"source\":\"x\",\"crop\":0,\"size\":16384}");   /* make_env's one record */
        CHECK(sg_shard_open(&s, path, &err) == 0, "reader, 16384x16384: %s", err.msg);
        if (s == NULL) CHECK(0, "no shard");
        else sg_shard_close(s);
    }

    snprintf(path, sizeof path, "%s/empty-dir", test_tmpdir);
    mkdir(path, 0755);
    CHECK(sg_shard_open(&s, path, &err) == -1 && strstr(err.msg, "not a stargan shard"), "empty dir: %s", err.msg);
    CHECK(sg_shard_open(&s, "/nonexistent/shard", &err) == -1 && strstr(err.msg, "/nonexistent/shard"),
          "missing: %s", err.msg);

    /* Readers never create lock.mdb. */
    char lock[300];
    snprintf(path, sizeof path, "%s/rt-0-0.lmdb", test_tmpdir);
    snprintf(lock, sizeof lock, "%s/lock.mdb", path);
    if (sg_shard_open(&s, path, &err) == 0) sg_shard_close(s);
    CHECK(access(lock, F_OK) != 0, "opening a shard created %s", lock);
}

/* Count of shard records at path, -1 when it does not open. */
static long shard_count(const char *path)
{
    sg_shard *s;
    sg_err err;
    if (sg_shard_open(&s, path, &err)) return -1;
    long n = (long)sg_shard_get_meta(s)->count;
    sg_shard_close(s);
    return n;
}

/* --force and a shard directory holding files of its own (a README): the
 * file would be lost with the old shard, or, found only after the swap,
 * stopped its removal and the tool said "not written" over a replaced
 * shard. Now it is refused at open and again at commit, and whatever goes
 * wrong after the swap is a note, never an error. path: a 5-record shard. */
static void test_force_foreign_files(const char *path, const sg_shard_meta *m)
{
    char readme[300], tmp[300], want[700], lock[300];
    sg_err err, note;
    sg_shard_writer *wr;
    uint8_t px[8 * 8 * 3] = {0}, lab[5] = {1, 0, 1, 0, 0};
    snprintf(readme, sizeof readme, "%s/README", path);
    CHECK(sg_write_file_atomic(readme, "notes\n", 6, &err) == 0, "%s", err.msg);
    snprintf(want, sizeof want, "%s holds README, which is not part of a shard; not replacing it (move it out first)", path);
    CHECK(sg_shard_writer_open(&wr, path, m, 1, 2, &err) == -1 && !strcmp(err.msg, want),
          "force over a shard with a README: '%s'", err.msg);
    unlink(readme);

    /* the README appears while the new shard is written: commit refuses, the
     * old shard and the README stay, the temporary directory goes */
    CHECK(sg_shard_writer_open(&wr, path, m, 1, 2, &err) == 0, "%s", err.msg);
    snprintf(tmp, sizeof tmp, "%s", sg_shard_writer_tmp_path(wr));
    for (int i = 0; i < 2; i++) CHECK(sg_shard_writer_append(wr, lab, "x.jpg", px, sizeof px, &err) == 0, "%s", err.msg);
    CHECK(sg_write_file_atomic(readme, "notes\n", 6, &err) == 0, "%s", err.msg);
    CHECK(sg_shard_writer_commit(wr, &note, &err) == -1 && !strcmp(err.msg, want), "commit over a README: '%s'", err.msg);
    CHECK(shard_count(path) == 5 && access(readme, F_OK) == 0 && access(tmp, F_OK) != 0,
          "after a refused commit: count %ld, README %s, tmp %s", shard_count(path),
          access(readme, F_OK) == 0 ? "kept" : "LOST", access(tmp, F_OK) == 0 ? "LEFT" : "gone");
    unlink(readme);

    /* the old shard cannot be removed after the swap (its lock.mdb is a
     * directory): the new shard is in place, commit succeeds with a note */
    snprintf(lock, sizeof lock, "%s/lock.mdb", path);
    unlink(lock);
    CHECK(mkdir(lock, 0755) == 0, "mkdir %s: %s", lock, strerror(errno));
    CHECK(sg_shard_writer_open(&wr, path, m, 1, 2, &err) == 0, "%s", err.msg);
    snprintf(tmp, sizeof tmp, "%s", sg_shard_writer_tmp_path(wr));
    for (int i = 0; i < 2; i++) CHECK(sg_shard_writer_append(wr, lab, "x.jpg", px, sizeof px, &err) == 0, "%s", err.msg);
    int rc = sg_shard_writer_commit(wr, &note, &err);
    snprintf(want, sizeof want, "%s replaced, but the old shard is left at %s: %s/lock.mdb: remove: ", path, tmp, tmp);
    CHECK(rc == 0 && !strncmp(note.msg, want, strlen(want)), "old shard not removable: rc %d, note '%s', err '%s'",
          rc, note.msg, rc ? err.msg : "");
    CHECK(shard_count(path) == 2, "the new shard is not in place: count %ld", shard_count(path));
    char tmp_lock[320];
    snprintf(tmp_lock, sizeof tmp_lock, "%s/lock.mdb", tmp);
    rmdir(tmp_lock);
    rmdir(tmp);
}

static sg_err handed;
static int handed_n;
static void take_unsynced(const sg_err *note) { handed = *note; handed_n++; }

/* The shard's directory not syncing after the rename: the shard is written,
 * and reported as every writer reports it (lib/fileio.h): without a handler
 * SG_WRITTEN_UNSYNCED with the words in err, with one 0 and the words handed
 * to it; sg_unsynced_count counts it either way. note keeps only what the
 * shard writer alone can say (an old shard left), and may be NULL. */
static void test_unsynced_commit(void)
{
    char dir[300], path[320], want[1200], lock[340], tmp[340], left[1000];
    snprintf(dir, sizeof dir, "%s/unsynced", test_tmpdir);
    snprintf(path, sizeof path, "%s/u.lmdb", dir);
    snprintf(want, sizeof want, "%s written, but syncing its directory failed (%s: fsync: %s): a crash soon may lose it",
             path, dir, strerror(EIO));
    CHECK(mkdir(dir, 0777) == 0, "mkdir %s: %s", dir, strerror(errno));
    sg_shard_meta m = make_meta(8, 8, SG_PIXELS_RAW, SG_LABELS_MULTI_HOT, 5);
    uint8_t px[8 * 8 * 3] = {0}, lab[5] = {1, 0, 1, 0, 0};
    sg_err err, note;
    sg_shard_writer *wr;
    unsigned count = sg_unsynced_count();
    /* round 0: no handler, a note; 1: a handler, no note (NULL), replacing
     * round 0's shard; 2: no handler, and the old shard cannot be removed */
    for (int round = 0; round < 3; round++) {
        sg_set_unsynced_handler(round == 1 ? take_unsynced : NULL);
        if (round == 2) {   /* its lock.mdb a directory, as in test_force_foreign_files */
            snprintf(lock, sizeof lock, "%s/lock.mdb", path);
            unlink(lock);
            CHECK(mkdir(lock, 0755) == 0, "mkdir %s: %s", lock, strerror(errno));
        }
        if (sg_shard_writer_open(&wr, path, &m, round > 0, 4, &err)) { CHECK(0, "open: %s", err.msg); break; }
        snprintf(tmp, sizeof tmp, "%s", sg_shard_writer_tmp_path(wr));
        for (int i = 0; i < 2 + round; i++)
            CHECK(sg_shard_writer_append(wr, lab, "x.jpg", px, sizeof px, &err) == 0, "%s", err.msg);
        memset(&note, 'x', sizeof note);
        note.msg[sizeof note.msg - 1] = 0;
        memset(&err, 0, sizeof err);
        int failed = fsyncs_failed;
        fail_fsync_of = dir;
        int rc = sg_shard_writer_commit(wr, round == 1 ? NULL : &note, &err);
        fail_fsync_of = NULL;
        CHECK(fsyncs_failed == failed + 1, "round %d: the directory's fsync was not reached", round);
        if (round == 1) {
            CHECK(rc == 0, "with a handler: rc %d (%s)", rc, err.msg);
            CHECK(handed_n == 1 && !strcmp(handed.msg, want) && handed.sys_errno == EIO,
                  "with a handler: %d reports, '%s'", handed_n, handed.msg);
        } else {
            CHECK(rc == SG_WRITTEN_UNSYNCED && !strcmp(err.msg, want) && err.sys_errno == EIO,
                  "round %d, no handler: rc %d, '%s' (sys_errno %d), not '%s'", round, rc, err.msg, err.sys_errno, want);
            snprintf(left, sizeof left, "%s replaced, but the old shard is left at %s: ", path, tmp);
            if (round == 0) CHECK(!note.msg[0] && !note.sys_errno, "a note without an old shard: '%s'", note.msg);
            else CHECK(!strncmp(note.msg, left, strlen(left)), "the old shard left: note '%s'", note.msg);
        }
        CHECK(shard_count(path) == 2 + round, "round %d: the shard holds %ld records", round, shard_count(path));
        CHECK(sg_unsynced_count() == count + round + 1, "round %d: %u counted", round, sg_unsynced_count() - count);
    }
    sg_set_unsynced_handler(NULL);
    snprintf(lock, sizeof lock, "%s/lock.mdb", tmp);
    rmdir(lock);
    rmdir(tmp);
}

/* An empty directory at dir/name (made like a writer's temporary one). */
static void make_dir_at(const char *dir, const char *name)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    CHECK(mkdir(p, 0777) == 0, "mkdir %s: %s", p, strerror(errno));
}

static int present(const char *dir, const char *name)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* What killed writers left: OUT.tmp-PID.N (and OUT.tmp-PID of earlier
 * versions) of a dead process are removed by the next writer of OUT; its
 * OUT.tmp-old-PID[.N] (a --force's old shard, moved aside) is put back at
 * OUT where there is none. A live process's, or a name not of that form,
 * stays. Two writers of one OUT in one process each have their own
 * temporary directory: the second leaves the first one's alone. */
static void test_stale_tmps(void)
{
    char dir[300], path[320], name[200];
    snprintf(dir, sizeof dir, "%s/stale", test_tmpdir);
    snprintf(path, sizeof path, "%s/s.lmdb", dir);
    CHECK(mkdir(dir, 0777) == 0, "mkdir %s: %s", dir, strerror(errno));
    long dead = dead_pid(), live = (long)getppid();
    CHECK(sg_pid_gone(dead) && !sg_pid_gone(live), "dead %ld, live %ld", dead, live);
    struct { const char *fmt; long pid; int gone; } cases[] = {
        {"s.lmdb.tmp-%ld", 0, 1},        /* an earlier version's, dead */
        {"s.lmdb.tmp-%ld.0", 0, 1},      /* this version's, dead */
        {"s.lmdb.tmp-%ld.12", 0, 1},
        {"s.lmdb.tmp-%ld.12", 1, 0},     /* live */
        {"s.lmdb.tmp-%ld", 1, 0},
        {"s.lmdb.tmp-%ld.x", 0, 0},      /* not the form */
        {"s.lmdb.tmp-%ld.012", 0, 0},
        {"s.lmdb.tmp-%ld.1.2", 0, 0},
        {"t.lmdb.tmp-%ld.1", 0, 0},      /* another shard's */
    };
    size_t n = sizeof cases / sizeof cases[0];
    for (size_t k = 0; k < n; k++) {
        snprintf(name, sizeof name, cases[k].fmt, cases[k].pid ? live : dead);
        make_dir_at(dir, name);
    }
    /* a dead --force's old shard, moved aside, new form: back at OUT (there is none) */
    CHECK(write_shard(path, 8, 8, SG_PIXELS_RAW, SG_LABELS_MULTI_HOT, 3, 0, NULL) == 0, "write %s", path);
    char old[400];
    snprintf(old, sizeof old, "%s.tmp-old-%ld.4", path, dead);
    CHECK(rename(path, old) == 0, "rename to %s", old);
    sg_err err = {{0}};
    CHECK(write_shard(path, 8, 8, SG_PIXELS_RAW, SG_LABELS_MULTI_HOT, 5, 0, &err) == -1 && strstr(err.msg, "exists"),
          "the old shard was not put back: %s", err.msg);
    CHECK(shard_count(path) == 3 && access(old, F_OK) != 0, "old shard back: %ld records", shard_count(path));
    for (size_t k = 0; k < n; k++) {
        snprintf(name, sizeof name, cases[k].fmt, cases[k].pid ? live : dead);
        CHECK(present(dir, name) == !cases[k].gone, "%s %s", name, cases[k].gone ? "left" : "removed");
    }
    /* the earlier version's OUT.tmp-old-PID, with OUT in place: removed */
    snprintf(old, sizeof old, "%s.tmp-old-%ld", path, dead);
    CHECK(mkdir(old, 0777) == 0, "mkdir %s", old);
    CHECK(write_shard(path, 8, 8, SG_PIXELS_RAW, SG_LABELS_MULTI_HOT, 5, 1, &err) == 0, "force: %s", err.msg);
    CHECK(access(old, F_OK) != 0 && shard_count(path) == 5, "%s left", old);

    /* two writers of s.lmdb in this process */
    sg_shard_meta m = make_meta(8, 8, SG_PIXELS_RAW, SG_LABELS_MULTI_HOT, 5);
    sg_shard_writer *a = NULL, *b = NULL;
    uint8_t px[8 * 8 * 3] = {0}, lab[5] = {1, 0, 1, 0, 0};
    char tmp_a[400];
    CHECK(sg_shard_writer_open(&a, path, &m, 1, 2, &err) == 0, "open a: %s", err.msg);
    if (!a) return;
    snprintf(tmp_a, sizeof tmp_a, "%s", sg_shard_writer_tmp_path(a));
    for (int i = 0; i < 2; i++) CHECK(sg_shard_writer_append(a, lab, "a.jpg", px, sizeof px, &err) == 0, "%s", err.msg);
    CHECK(sg_shard_writer_open(&b, path, &m, 1, 2, &err) == 0, "open b: %s", err.msg);
    CHECK(b && strcmp(sg_shard_writer_tmp_path(b), tmp_a), "the two writers share %s", tmp_a);
    CHECK(access(tmp_a, F_OK) == 0, "the second writer removed the first one's %s", tmp_a);
    CHECK(sg_shard_writer_commit(a, NULL, &err) == 0, "commit a: %s", err.msg);
    CHECK(shard_count(path) == 2, "a's shard: %ld records", shard_count(path));
    sg_shard_writer_abort(b);
}

static void test_force(void)
{
    char path[256], tmp[300];
    sg_err err;
    sg_shard *s;
    snprintf(path, sizeof path, "%s/force.lmdb", test_tmpdir);
    CHECK(write_shard(path, 8, 8, SG_PIXELS_RAW, SG_LABELS_MULTI_HOT, 3, 0, &err) == 0, "%s", err.msg);
    char want[400];
    snprintf(want, sizeof want, "%s exists (use --force to replace it)", path);
    CHECK(write_shard(path, 8, 8, SG_PIXELS_RAW, SG_LABELS_MULTI_HOT, 5, 0, &err) == -1 && !strcmp(err.msg, want),
          "overwrite without force: %s", err.msg);
    CHECK(sg_shard_open(&s, path, &err) == 0 && sg_shard_get_meta(s)->count == 3, "old shard damaged: %s", err.msg);
    sg_shard_close(s);

    /* With force: while the new one is being written the old one is intact and
     * nothing but the tmp directory exists; after commit the new one is in place. */
    sg_shard_meta m = make_meta(8, 8, SG_PIXELS_RAW, SG_LABELS_MULTI_HOT, 5);
    sg_shard_writer *wr;
    CHECK(sg_shard_writer_open(&wr, path, &m, 1, 5, &err) == 0, "%s", err.msg);
    snprintf(tmp, sizeof tmp, "%s", sg_shard_writer_tmp_path(wr));
    uint8_t px[8 * 8 * 3] = {0}, lab[5] = {1, 0, 1, 0, 0};
    for (int i = 0; i < 5; i++) CHECK(sg_shard_writer_append(wr, lab, "x.jpg", px, sizeof px, &err) == 0, "%s", err.msg);
    CHECK(access(tmp, F_OK) == 0, "tmp dir %s missing while writing", tmp);
    CHECK(sg_shard_open(&s, path, &err) == 0 && sg_shard_get_meta(s)->count == 3, "old shard gone during write: %s", err.msg);
    sg_shard_close(s);
    sg_err note;
    CHECK(sg_shard_writer_commit(wr, &note, &err) == 0 && !note.msg[0], "%s / note %s", err.msg, note.msg);
    CHECK(access(tmp, F_OK) != 0, "tmp dir %s left after commit", tmp);
    CHECK(sg_shard_open(&s, path, &err) == 0 && sg_shard_get_meta(s)->count == 5, "new shard not in place: %s", err.msg);
    sg_shard_close(s);

    /* Abort leaves neither a shard nor the tmp dir. */
    char path2[256];
    snprintf(path2, sizeof path2, "%s/aborted.lmdb", test_tmpdir);
    CHECK(sg_shard_writer_open(&wr, path2, &m, 0, 5, &err) == 0, "%s", err.msg);
    snprintf(tmp, sizeof tmp, "%s", sg_shard_writer_tmp_path(wr));
    sg_shard_writer_append(wr, lab, "x.jpg", px, sizeof px, &err);
    sg_shard_writer_abort(wr);
    CHECK(access(path2, F_OK) != 0 && access(tmp, F_OK) != 0, "abort left files behind");

    /* --force never replaces a directory that is not a shard. */
    snprintf(path2, sizeof path2, "%s/empty-dir", test_tmpdir);
    CHECK(sg_shard_writer_open(&wr, path2, &m, 1, 5, &err) == -1 && strstr(err.msg, "not a shard"),
          "force over a non-shard directory: %s", err.msg);
    /* Nor a regular file: a shard is always a directory, and a file there is
     * someone's data (celeb-pack -f -o notes.txt, or -o its own --attrs file). */
    snprintf(path2, sizeof path2, "%s/notes.txt", test_tmpdir);
    FILE *f = fopen(path2, "w");
    CHECK(f && fputs("my notes\n", f) >= 0 && fclose(f) == 0, "cannot write %s", path2);
    snprintf(want, sizeof want, "%s exists and is not a shard; not replacing it", path2);
    CHECK(sg_shard_writer_open(&wr, path2, &m, 1, 5, &err) == -1 && !strcmp(err.msg, want),
          "force over a regular file: '%s'", err.msg);
    /* without force the same refusal, not advice to use force (which would refuse it) */
    CHECK(sg_shard_writer_open(&wr, path2, &m, 0, 5, &err) == -1 && !strcmp(err.msg, want),
          "no force over a regular file: '%s'", err.msg);
    CHECK(sg_shard_check_output(path2, 0, &err) == -1 && !strcmp(err.msg, want), "check_output: '%s'", err.msg);
    struct stat st;
    CHECK(stat(path2, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 9, "%s changed", path2);
    /* ... also when the file appears while the shard is written (checked again at commit) */
    snprintf(path2, sizeof path2, "%s/late.txt", test_tmpdir);
    CHECK(sg_shard_writer_open(&wr, path2, &m, 1, 5, &err) == 0, "%s", err.msg);
    f = fopen(path2, "w");
    CHECK(f && fputs("my notes\n", f) >= 0 && fclose(f) == 0, "cannot write %s", path2);
    snprintf(want, sizeof want, "%s exists and is not a shard; not replacing it", path2);
    CHECK(sg_shard_writer_commit(wr, &note, &err) == -1 && !strcmp(err.msg, want), "commit over a regular file: '%s'", err.msg);
    CHECK(stat(path2, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 9, "%s changed", path2);
    test_force_foreign_files(path, &m);
}

/* The record's name (from the caller's input) is quoted escaped and cut in the
 * writer's messages (lib/error.h sg_quote_bytes). */
static void test_append_messages(void)
{
    char path[256];
    sg_err err;
    snprintf(path, sizeof path, "%s/names.lmdb", test_tmpdir);
    sg_shard_meta m = make_meta(8, 8, SG_PIXELS_RAW, SG_LABELS_MULTI_HOT, 2);
    sg_shard_writer *wr;
    CHECK(sg_shard_writer_open(&wr, path, &m, 0, 4, &err) == 0, "%s", err.msg);
    uint8_t px[8 * 8 * 3] = {0}, lab[2] = {1, 2};
    CHECK(sg_shard_writer_append(wr, lab, "\x1b[2Jx\xc3.jpg", px, sizeof px, &err) == -1 &&
          !strcmp(err.msg, "\\x1b[2Jx\\xc3.jpg: label 1 is 2 (0 or 1 expected)"), "ESC name: '%s'", err.msg);
    lab[1] = 0;
    CHECK(sg_shard_writer_append(wr, lab, "\a.jpg", px, 5, &err) == -1 &&
          !strcmp(err.msg, "\\x07.jpg: 5 pixel bytes, expected 192"), "BEL name: '%s'", err.msg);
    static char long_name[SG_SHARD_MAX_NAME + 2];
    memset(long_name, '\x1b', SG_SHARD_MAX_NAME + 1);
    CHECK(sg_shard_writer_append(wr, lab, long_name, px, sizeof px, &err) == -1 &&
          !strcmp(err.msg, "\\x1b\\x1b\\x1b\\x1b\\x1b\\x1b\\x1b\\x1b\\x1b\\x1b...: file name longer than 4096 bytes"),
          "long name: '%.200s'", err.msg);
    sg_shard_writer_abort(wr);
}

/* The writer stops at SG_SHARD_MAX_RECORDS, the most sg-train reads (its
 * epoch order is 32-bit): the record past it is refused with a message naming
 * the limit. Reached through the test hook, which counts the records before
 * as written. */
static void test_record_limit(void)
{
    char path[256];
    sg_err err;
    CHECK(SG_SHARD_MAX_RECORDS == 4294967295u, "SG_SHARD_MAX_RECORDS is %llu",
          (unsigned long long)SG_SHARD_MAX_RECORDS);
    snprintf(path, sizeof path, "%s/full.lmdb", test_tmpdir);
    sg_shard_meta m = make_meta(8, 8, SG_PIXELS_RAW, SG_LABELS_MULTI_HOT, 2);
    sg_shard_writer *wr;
    CHECK(sg_shard_writer_open(&wr, path, &m, 0, 2, &err) == 0, "%s", err.msg);
    if (!wr) return;
    uint8_t px[8 * 8 * 3] = {0}, lab[2] = {1, 0};
    CHECK(sg_shard_writer_test_count_from(wr, SG_SHARD_MAX_RECORDS - 1) == 0, "count_from refused");
    CHECK(sg_shard_writer_append(wr, lab, "last.jpg", px, sizeof px, &err) == 0, "the last record: %s", err.msg);
    CHECK(sg_shard_writer_count(wr) == SG_SHARD_MAX_RECORDS, "count %llu",
          (unsigned long long)sg_shard_writer_count(wr));
    const char *want = "one\\x1b.jpg: the shard holds 4294967295 records already, the most a shard may hold (sg-train "
                       "draws each epoch's order in 32 bits; no tool reads more); pack fewer images";
    CHECK(sg_shard_writer_append(wr, lab, "one\x1b.jpg", px, sizeof px, &err) == -1 && !strcmp(err.msg, want),
          "one past the limit: '%s'", err.msg);
    CHECK(sg_shard_writer_count(wr) == SG_SHARD_MAX_RECORDS, "count %llu after the refusal",
          (unsigned long long)sg_shard_writer_count(wr));
    CHECK(sg_shard_writer_test_count_from(wr, 0) == -1, "count_from after records taken");
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", sg_shard_writer_tmp_path(wr));
    sg_shard_writer_abort(wr);
    CHECK(access(tmp, F_OK) != 0 && access(path, F_OK) != 0, "%s or %s left", tmp, path);
}

/* Metadata that counts more than SG_SHARD_MAX_RECORDS (another program's
 * shard, or damage) is refused by the reader, so by every tool, naming the
 * shard and the limit and saying what to do: before, sg-train alone refused
 * it, and only after the count's check against the records. At the limit
 * the count is taken (and then found not to match the records). */
static void test_reader_record_limit(void)
{
    static const char fmt[] = "{\"format\":\"stargan-shard\",\"version\":1,\"width\":8,\"height\":8,\"channels\":3,"
                              "\"pixel_encoding\":\"raw\",\"label_kind\":\"multi-hot\",\"labels\":[\"Bangs\",\"Male\"],"
                              "\"count\":%llu,\"source\":\"x\",\"crop\":0,\"size\":8}";
    char path[256], meta[512], want[600];
    sg_err err;
    sg_shard *s = NULL;
    snprintf(path, sizeof path, "%s/too-many.lmdb", test_tmpdir);
    snprintf(meta, sizeof meta, fmt, (unsigned long long)SG_SHARD_MAX_RECORDS + 1);
    make_env(path, meta);
    snprintf(want, sizeof want, "%s: metadata: 4294967296 records, more than the 4294967295 a shard may hold (sg-train "
             "draws each epoch's order in 32 bits; no tool reads more): pack fewer images into it", path);
    err.msg[0] = 0;
    int rc = sg_shard_open(&s, path, &err);
    CHECK(rc == -1 && !strcmp(err.msg, want), "count 2^32: rc %d, '%s' (want '%s')", rc, rc ? err.msg : "opened", want);
    if (!rc) sg_shard_close(s);
    err.msg[0] = 0;
    rc = sg_shard_open_random(&s, path, &err);
    CHECK(rc == -1 && !strcmp(err.msg, want), "count 2^32, random reads: rc %d, '%s'", rc, rc ? err.msg : "opened");
    if (!rc) sg_shard_close(s);
    snprintf(path, sizeof path, "%s/many.lmdb", test_tmpdir);
    snprintf(meta, sizeof meta, fmt, (unsigned long long)SG_SHARD_MAX_RECORDS);
    make_env(path, meta);
    snprintf(want, sizeof want, "%s: the metadata says 4294967295 records but the database holds 1", path);
    err.msg[0] = 0;
    rc = sg_shard_open(&s, path, &err);
    CHECK(rc == -1 && !strcmp(err.msg, want), "count 2^32 - 1: rc %d, '%s' (want '%s')", rc, rc ? err.msg : "opened",
          want);
    if (!rc) sg_shard_close(s);
}

/* Many small records: several transactions and at least one map growth from a
 * deliberately low estimate (expected_count 1). */
static void test_growth(void)
{
    char path[256];
    sg_err err;
    snprintf(path, sizeof path, "%s/grow.lmdb", test_tmpdir);
    sg_shard_meta m = make_meta(64, 64, SG_PIXELS_RAW, SG_LABELS_MULTI_HOT, 5);
    sg_shard_writer *wr;
    CHECK(sg_shard_writer_open(&wr, path, &m, 0, 1, &err) == 0, "%s", err.msg);
    uint8_t px[64 * 64 * 3], lab[5] = {0, 1, 0, 0, 1};
    const int n = 9000;   /* 9000 x 12 KB > the initial 64 MB map */
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        fill_pixels(px, 64, 64, (uint64_t)i);
        rc = sg_shard_writer_append(wr, lab, "g.png", px, sizeof px, &err);
    }
    CHECK(rc == 0, "append: %s", err.msg);
    sg_err note;
    CHECK(sg_shard_writer_commit(wr, &note, &err) == 0 && !note.msg[0], "%s / note %s", err.msg, note.msg);
    sg_shard *s;
    if (sg_shard_open(&s, path, &err)) { CHECK(0, "%s", err.msg); return; }
    uint8_t got[64 * 64 * 3];
    int ok = sg_shard_get_meta(s)->count == (uint64_t)n;
    for (int i = 0; i < n && ok; i += 997) {
        fill_pixels(px, 64, 64, (uint64_t)i);
        ok = sg_shard_read(s, (uint64_t)i, got, NULL, NULL, 0, &err) == 0 && !memcmp(got, px, sizeof px);
    }
    CHECK(ok, "grown shard reads back wrong: %s", err.msg);
    sg_shard_close(s);
}

/* The writer refuses one-hot label rows that are not exactly one 1 (the
 * reader would refuse the record only at training time, after a whole pack). */
static void test_one_hot_writer(void)
{
    char path[256];
    sg_err err;
    snprintf(path, sizeof path, "%s/onehot-bad.lmdb", test_tmpdir);
    sg_shard_meta m = make_meta(8, 8, SG_PIXELS_RAW, SG_LABELS_ONE_HOT, 3);
    sg_shard_writer *wr;
    CHECK(sg_shard_writer_open(&wr, path, &m, 0, 4, &err) == 0, "%s", err.msg);
    if (!wr) return;
    uint8_t px[8 * 8 * 3] = {0};
    static const struct { uint8_t lab[3]; const char *want; } cases[] = {
        {{0, 0, 0}, "none.jpg: one-hot labels with 0 ones"},
        {{1, 1, 0}, "two.jpg: one-hot labels with 2 ones"},
        {{1, 1, 1}, "three.jpg: one-hot labels with 3 ones"},
    };
    static const char *const names[] = {"none.jpg", "two.jpg", "three.jpg"};
    for (int c = 0; c < 3; c++) {
        err.msg[0] = 0;
        int rc = sg_shard_writer_append(wr, cases[c].lab, names[c], px, sizeof px, &err);
        CHECK(rc == -1 && !strcmp(err.msg, cases[c].want), "one-hot {%d,%d,%d}: rc %d, '%s' (want '%s')",
              cases[c].lab[0], cases[c].lab[1], cases[c].lab[2], rc, err.msg, cases[c].want);
    }
    const uint8_t one[3] = {0, 0, 1};
    CHECK(sg_shard_writer_append(wr, one, "one.jpg", px, sizeof px, &err) == 0, "one-hot {0,0,1}: %s", err.msg);
    CHECK(sg_shard_writer_count(wr) == 1, "refused rows were counted: %llu",
          (unsigned long long)sg_shard_writer_count(wr));
    sg_shard_writer_abort(wr);
}

/* A PNG record whose image is not the shard's size (the writer checks only
 * RAW records' sizes, so the public API can store one): the reader refuses it
 * by its size. Smaller, copying the shard's size would read past the decoded
 * image; larger, it would give the wrong pixels without a word. */
static void test_png_wrong_size(void)
{
    char path[256];
    sg_err err;
    snprintf(path, sizeof path, "%s/png-size.lmdb", test_tmpdir);
    sg_shard_meta m = make_meta(16, 16, SG_PIXELS_PNG, SG_LABELS_MULTI_HOT, 5);
    sg_shard_writer *wr;
    CHECK(sg_shard_writer_open(&wr, path, &m, 0, 3, &err) == 0, "%s", err.msg);
    if (!wr) return;
    static const int sides[3] = {8, 20, 16};
    uint8_t px[20 * 20 * 3], labels[5] = {1, 0, 0, 1, 0};
    for (int k = 0; k < 3; k++) {
        uint8_t *png = NULL;
        size_t len = 0;
        char name[32];
        fill_pixels(px, sides[k], sides[k], (uint64_t)k);
        snprintf(name, sizeof name, "side%d.jpg", sides[k]);
        int rc = sg_png_encode(px, sides[k], sides[k], &png, &len, &err);
        if (!rc) rc = sg_shard_writer_append(wr, labels, name, png, len, &err);
        free(png);
        CHECK(rc == 0, "append a %dx%d PNG: %s", sides[k], sides[k], err.msg);
        if (rc) { sg_shard_writer_abort(wr); return; }
    }
    sg_err note;
    CHECK(sg_shard_writer_commit(wr, &note, &err) == 0, "commit %s: %s", path, err.msg);
    sg_shard *s;
    if (sg_shard_open(&s, path, &err)) { CHECK(0, "open %s: %s", path, err.msg); return; }
    uint8_t *out = malloc(16 * 16 * 3);
    float lab[5];
    char want[400];
    for (int k = 0; k < 2; k++) {
        err.msg[0] = 0;
        int rc = sg_shard_read(s, (uint64_t)k, out, lab, NULL, 0, &err);
        snprintf(want, sizeof want, "%s: record %d: image is %dx%d, the shard says 16x16", path, k, sides[k], sides[k]);
        CHECK(rc == -1 && !strcmp(err.msg, want), "a %dx%d PNG in a 16x16 shard: rc %d, '%s' (want '%s')", sides[k],
              sides[k], rc, err.msg, want);
    }
    fill_pixels(px, 16, 16, 2);
    CHECK(sg_shard_read(s, 2, out, lab, NULL, 0, &err) == 0 && !memcmp(out, px, 16 * 16 * 3),
          "the 16x16 record after them: %s", err.msg);
    free(out);
    sg_shard_close(s);
}

/* Opens the shard at path for writing with LMDB directly (as a foreign or
 * buggy writer would), NULL env on failure. */
static int raw_begin(const char *path, MDB_env **env, MDB_txn **txn, MDB_dbi *dbi)
{
    int rc = mdb_env_create(env);
    if (!rc) rc = mdb_env_open(*env, path, MDB_NOLOCK, 0644);
    if (!rc) rc = mdb_txn_begin(*env, NULL, 0, txn);
    if (!rc) rc = mdb_dbi_open(*txn, NULL, 0, dbi);
    CHECK(rc == 0, "%s: lmdb: %s", path, mdb_strerror(rc));
    return rc;
}

static int raw_commit(const char *path, MDB_env *env, MDB_txn *txn)
{
    int rc = mdb_txn_commit(txn);
    CHECK(rc == 0, "%s: commit: %s", path, mdb_strerror(rc));
    mdb_env_close(env);
    char lock[300];
    snprintf(lock, sizeof lock, "%s/lock.mdb", path);
    unlink(lock);
    return rc;
}

/* The reader's consistency checks that the CRC does not cover: a record
 * whose header gives another label count than the metadata (its length and
 * CRC made consistent, as a foreign writer would), and a metadata count that
 * understates the records held. */
static void test_reader_consistency(void)
{
    char path[256], want[600];
    sg_err err;
    snprintf(path, sizeof path, "%s/consistency.lmdb", test_tmpdir);
    CHECK(write_shard(path, 8, 8, SG_PIXELS_RAW, SG_LABELS_MULTI_HOT, 4, 0, &err) == 0, "%s", err.msg);

    /* record 2 rewritten with 6 labels (one more byte, 0) and a correct CRC */
    MDB_env *env = NULL;
    MDB_txn *txn;
    MDB_dbi dbi;
    if (raw_begin(path, &env, &txn, &dbi)) { if (env) mdb_env_close(env); return; }
    uint8_t kb[8] = {0, 0, 0, 0, 0, 0, 0, 2};
    MDB_val key = {8, kb}, val;
    int rc = mdb_get(txn, dbi, &key, &val);
    CHECK(rc == 0 && val.mv_size > SG_SHARD_RECORD_HEADER + 5 + 4, "record 2: %s", mdb_strerror(rc));
    if (rc) { mdb_txn_abort(txn); mdb_env_close(env); return; }
    const uint8_t *old = val.mv_data;
    size_t len = val.mv_size + 1;
    uint8_t *v = malloc(len);
    CHECK(old[4] == 5 && old[5] == 0, "record 2 holds %d labels, expected 5", old[4] | old[5] << 8);
    memcpy(v, old, SG_SHARD_RECORD_HEADER + 5);
    v[4] = 6;
    v[SG_SHARD_RECORD_HEADER + 5] = 0;
    memcpy(v + SG_SHARD_RECORD_HEADER + 6, old + SG_SHARD_RECORD_HEADER + 5, val.mv_size - 4 - SG_SHARD_RECORD_HEADER - 5);
    uint32_t crc = sg_crc32(0, v, len - 4);
    for (int i = 0; i < 4; i++) v[len - 4 + i] = (uint8_t)(crc >> (8 * i));
    MDB_val nv = {len, v};
    CHECK(mdb_put(txn, dbi, &key, &nv, 0) == 0, "put record 2");
    free(v);
    if (raw_commit(path, env, txn)) return;
    env = NULL;   /* closed by raw_commit */

    sg_shard *s;
    if (sg_shard_open(&s, path, &err)) { CHECK(0, "open after the record rewrite: %s", err.msg); return; }
    uint8_t px[8 * 8 * 3];
    float labels[6];
    CHECK(sg_shard_read(s, 1, px, labels, NULL, 0, &err) == 0, "record 1 should be intact: %s", err.msg);
    snprintf(want, sizeof want, "%s: record 2: inconsistent record header", path);
    err.msg[0] = 0;
    rc = sg_shard_read(s, 2, px, labels, NULL, 0, &err);
    CHECK(rc == -1 && !strcmp(err.msg, want), "record 2 with 6 labels (the metadata says 5): rc %d, '%s' (want '%s')",
          rc, err.msg, want);
    uint8_t lb[6];
    err.msg[0] = 0;
    rc = sg_shard_read_labels(s, 2, lb, &err);
    CHECK(rc == -1 && !strcmp(err.msg, want), "read_labels of record 2 with 6 labels: rc %d, '%s'", rc, err.msg);
    sg_shard_close(s);

    /* the metadata's count one less than the records held */
    if (raw_begin(path, &env, &txn, &dbi)) { if (env) mdb_env_close(env); return; }
    MDB_val mk = {4, "meta"}, mv;
    rc = mdb_get(txn, dbi, &mk, &mv);
    CHECK(rc == 0, "meta: %s", mdb_strerror(rc));
    if (rc) { mdb_txn_abort(txn); mdb_env_close(env); return; }
    char *meta = malloc(mv.mv_size + 1);
    memcpy(meta, mv.mv_data, mv.mv_size);
    meta[mv.mv_size] = 0;
    char *at = strstr(meta, "\"count\":4,");
    CHECK(at != NULL, "no \"count\":4 in the metadata: %s", meta);
    if (at) {
        at[8] = '3';
        MDB_val nm = {mv.mv_size, meta};
        CHECK(mdb_put(txn, dbi, &mk, &nm, 0) == 0, "put meta");
    }
    free(meta);
    if (raw_commit(path, env, txn) || !at) return;
    snprintf(want, sizeof want, "%s: the metadata says 3 records but the database holds 4", path);
    err.msg[0] = 0;
    rc = sg_shard_open(&s, path, &err);
    CHECK(rc == -1 && !strcmp(err.msg, want), "metadata count 3 of 4 records: rc %d, '%s' (want '%s')", rc,
          rc ? err.msg : "opened", want);
    if (!rc) sg_shard_close(s);
}

typedef struct { sg_shard *s; int tid, bad; } reader_arg;

static void *reader_thread(void *p)
{
    reader_arg *a = p;
    uint8_t px[16 * 16 * 3], want[16 * 16 * 3];
    sg_err err;
    for (int rep = 0; rep < 50; rep++)
        for (uint64_t i = (uint64_t)a->tid; i < 40; i += 4) {
            fill_pixels(want, 16, 16, i);
            if (sg_shard_read(a->s, i, px, NULL, NULL, 0, &err) || memcmp(px, want, sizeof px)) a->bad++;
        }
    return NULL;
}

static void test_threads(void)
{
    char path[256];
    sg_err err;
    snprintf(path, sizeof path, "%s/threads.lmdb", test_tmpdir);
    CHECK(write_shard(path, 16, 16, SG_PIXELS_RAW, SG_LABELS_MULTI_HOT, 40, 0, &err) == 0, "%s", err.msg);
    sg_shard *s;
    if (sg_shard_open(&s, path, &err)) { CHECK(0, "%s", err.msg); return; }
    pthread_t t[4];
    reader_arg a[4];
    for (int i = 0; i < 4; i++) { a[i] = (reader_arg){s, i, 0}; pthread_create(&t[i], NULL, reader_thread, &a[i]); }
    int bad = 0;
    for (int i = 0; i < 4; i++) { pthread_join(t[i], NULL); bad += a[i].bad; }
    CHECK(bad == 0, "%d concurrent reads failed", bad);
    sg_shard_close(s);
}

static void test_crc(void)
{
    /* zlib.crc32(b"123456789") == 0xcbf43926; in pieces as well. */
    CHECK(sg_crc32(0, "123456789", 9) == 0xcbf43926u, "crc32 check value: %08x", sg_crc32(0, "123456789", 9));
    CHECK(sg_crc32(sg_crc32(0, "1234", 4), "56789", 5) == 0xcbf43926u, "crc32 chained");
    char buf[1000];
    for (int i = 0; i < 1000; i++) buf[i] = (char)(i * 31);
    /* Same value from any split (exercises the aligned 8-byte path and the tails). */
    uint32_t whole = sg_crc32(0, buf, 1000);
    int ok = 1;
    for (int k = 0; k < 20; k++) ok &= sg_crc32(sg_crc32(0, buf, (size_t)k), buf + k, 1000 - (size_t)k) == whole;
    CHECK(ok, "crc32 depends on the split");
}

/* An OUT whose temporary directory fits PATH_MAX but whose data.mdb inside it
 * does not: refused before anything is made (the directory was left behind,
 * one per try, and the message named a path cut short). */
static void test_path_near_path_max(void)
{
    char dir[PATH_MAX], out[PATH_MAX], seg[251];
    memset(seg, 'd', 250); seg[250] = 0;
    int n = snprintf(dir, sizeof dir, "%s/long", test_tmpdir);
    CHECK(mkdir(dir, 0755) == 0, "mkdir %s", dir);
    /* OUT.tmp-PID.N is about PATH_MAX - 6 bytes with its NUL (N of 1 to 3
     * digits): OUT.tmp-PID.N/data.mdb is too long */
    int pid_digits = snprintf(NULL, 0, "%ld", (long)getpid());
    int want_len = PATH_MAX - 6 - 1 - 5 - pid_digits - 3;
    while (want_len - n - 1 > 250) {
        n += snprintf(dir + n, sizeof dir - (size_t)n, "/%s", seg);
        if (mkdir(dir, 0755) != 0) { CHECK(0, "mkdir %s: %s", dir, strerror(errno)); return; }
    }
    int fill = want_len - n - 1;
    if (fill < 1 || fill > 255) { SKIP("test directory too deep for this case (%d)", fill); return; }
    char name[256];
    memset(name, 'z', (size_t)fill); name[fill] = 0;
    snprintf(out, sizeof out, "%s/%s", dir, name);
    sg_shard_meta m = make_meta(8, 8, SG_PIXELS_RAW, SG_LABELS_MULTI_HOT, 2);
    sg_shard_writer *wr = NULL;
    sg_err err;
    int rc = sg_shard_writer_open(&wr, out, &m, 0, 1, &err);
    if (rc == 0) sg_shard_writer_abort(wr);
    CHECK(rc == -1 && strstr(err.msg, "zz: the shard's path is too long ("),
          "got rc %d \"%s\"", rc, rc ? err.msg : "");
    DIR *d = opendir(dir);
    struct dirent *e;
    int left = 0;
    while (d && (e = readdir(d))) left += e->d_name[0] == 'z';   /* OUT's temporary directory */
    if (d) closedir(d);
    CHECK(left == 0, "the temporary directory was left");
}

/* The reader's decoding without LMDB (shard_testing.h, for tests/fuzz):
 * the metadata text and a record value checked as sg_shard_open and
 * sg_shard_read check them. */
static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void test_decode_bytes(void)
{
    static const char text[] = "{\"format\":\"stargan-shard\",\"version\":1,\"width\":2,\"height\":1,\"channels\":3,"
                               "\"pixel_encoding\":\"raw\",\"label_kind\":\"one-hot\",\"labels\":[\"a\",\"b\"],"
                               "\"count\":1,\"source\":\"s\",\"crop\":0,\"size\":2}";
    sg_shard_meta m;
    sg_err err;
    CHECK(sg_shard_meta_parse("x.lmdb", text, sizeof text - 1, &m, &err) == 0, "%s", err.msg);
    CHECK(m.n_labels == 2 && !strcmp(m.label_names[1], "b") && m.width == 2 && m.count == 1, "meta");
    /* header, labels 0 1, name "n", 6 pixel bytes, CRC */
    uint8_t v[16 + 2 + 1 + 6 + 4] = "SGR1";
    v[4] = 2; v[6] = 1; v[8] = SG_PIXELS_RAW;
    put32(v + 12, 6);
    v[16] = 0; v[17] = 1; v[18] = 'n';
    for (int i = 0; i < 6; i++) v[19 + i] = (uint8_t)(10 * i);
    put32(v + sizeof v - 4, sg_crc32(0, v, sizeof v - 4));
    uint8_t px[6];
    float lab[2];
    char name[8];
    CHECK(sg_shard_record_decode(&m, "x.lmdb", 0, v, sizeof v, px, lab, name, sizeof name, &err) == 0, "%s", err.msg);
    CHECK(lab[0] == 0 && lab[1] == 1 && !strcmp(name, "n") && px[5] == 50, "decoded");
    v[17] = 0;   /* no label set in a one-hot record, CRC made anew */
    put32(v + sizeof v - 4, sg_crc32(0, v, sizeof v - 4));
    CHECK(sg_shard_record_decode(&m, "x.lmdb", 3, v, sizeof v, px, lab, name, sizeof name, &err) == -1 &&
              strstr(err.msg, "x.lmdb: record 3: one-hot labels with 0 ones"), "%s", err.msg);
    CHECK(sg_shard_record_decode(&m, "x.lmdb", 3, v, 24, px, lab, name, sizeof name, &err) == -1 &&
              strstr(err.msg, "inconsistent record header"), "%s", err.msg);
    sg_shard_meta_free(&m);
    CHECK(sg_shard_meta_parse("x.lmdb", text, 40, &m, &err) == -1 && strstr(err.msg, "x.lmdb: metadata"), "%s",
          err.msg);
}

/* Writes n 8x8 records of 3 labels, record i's labels rows[i]. */
static int write_rows(const char *path, int kind, uint64_t n, const uint8_t (*rows)[3], sg_err *err)
{
    sg_shard_meta m = make_meta(8, 8, SG_PIXELS_RAW, kind, 3);
    sg_shard_writer *wr;
    if (sg_shard_writer_open(&wr, path, &m, 0, n, err)) return -1;
    uint8_t px[8 * 8 * 3];
    for (uint64_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "%06llu.jpg", (unsigned long long)i + 1);
        fill_pixels(px, 8, 8, i);
        if (sg_shard_writer_append(wr, rows[i], name, px, sizeof px, err)) {
            sg_shard_writer_abort(wr);
            return -1;
        }
    }
    sg_err note;
    return sg_shard_writer_commit(wr, &note, err);
}

/* Sets record index's first label byte in path to v, behind the writer's
 * back (its CRC left as it was). */
static int set_label_byte(const char *path, uint64_t index, uint8_t v)
{
    MDB_env *env = NULL;
    MDB_txn *txn;
    MDB_dbi dbi;
    if (raw_begin(path, &env, &txn, &dbi)) { if (env) mdb_env_close(env); return -1; }
    uint8_t kb[8];
    for (int i = 0; i < 8; i++) kb[i] = (uint8_t)(index >> (56 - 8 * i));
    MDB_val key = {8, kb}, val;
    int rc = mdb_get(txn, dbi, &key, &val);
    uint8_t *copy = rc ? NULL : malloc(val.mv_size);
    if (copy) {
        memcpy(copy, val.mv_data, val.mv_size);
        copy[SG_SHARD_RECORD_HEADER] = v;
        MDB_val nv = {val.mv_size, copy};
        rc = mdb_put(txn, dbi, &key, &nv, 0);
        free(copy);
    }
    CHECK(rc == 0, "%s: record %llu: %s", path, (unsigned long long)index, rc ? mdb_strerror(rc) : "out of memory");
    if (rc) { mdb_txn_abort(txn); mdb_env_close(env); return -1; }
    return raw_commit(path, env, txn);
}

/* sg_shard_same_labels: 1 with the labels where every record agrees (a
 * one-hot shard of one class, a multi-hot one of constant attributes), 0
 * where two differ, wherever they are, or there are no records; a damaged
 * record read is an error, but the scan stops at the first that differs. */
static void test_same_labels(void)
{
    static const uint8_t a[3] = {1, 0, 1}, c0[3] = {1, 0, 0}, c1[3] = {0, 1, 0}, c2[3] = {0, 0, 1};
    static const struct {
        const char *name;
        int kind, n, differs;   /* differs: the record of other labels (-1: none) */
        const uint8_t *base, *other;
        int want;
    } cases[] = {
        {"multi-same", SG_LABELS_MULTI_HOT, 5, -1, a, NULL, 1},
        {"onehot-one-class", SG_LABELS_ONE_HOT, 6, -1, c1, NULL, 1},
        {"onehot-one-record", SG_LABELS_ONE_HOT, 1, -1, c2, NULL, 1},
        {"onehot-last", SG_LABELS_ONE_HOT, 6, 5, c0, c2, 0},
        {"onehot-first", SG_LABELS_ONE_HOT, 6, 0, c0, c1, 0},
        {"onehot-middle", SG_LABELS_ONE_HOT, 7, 3, c0, c1, 0},
        {"multi-second", SG_LABELS_MULTI_HOT, 2, 1, a, c0, 0},
        {"multi-middle", SG_LABELS_MULTI_HOT, 9, 6, a, c2, 0},
        {"empty", SG_LABELS_ONE_HOT, 0, -1, c0, NULL, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char path[256];
        sg_err err;
        uint8_t rows[9][3];
        for (int i = 0; i < cases[c].n; i++) memcpy(rows[i], i == cases[c].differs ? cases[c].other : cases[c].base, 3);
        snprintf(path, sizeof path, "%s/same-%s.lmdb", test_tmpdir, cases[c].name);
        if (write_rows(path, cases[c].kind, (uint64_t)cases[c].n, (const uint8_t (*)[3])rows, &err)) {
            CHECK(0, "%s: %s", path, err.msg);
            continue;
        }
        sg_shard *s;
        if (sg_shard_open(&s, path, &err)) { CHECK(0, "open %s: %s", path, err.msg); continue; }
        uint8_t got[3] = {9, 9, 9};
        int rc = sg_shard_same_labels(s, got, &err);
        CHECK(rc == cases[c].want, "%s: sg_shard_same_labels %d, want %d (%s)", cases[c].name, rc, cases[c].want,
              rc < 0 ? err.msg : "");
        if (cases[c].want == 1)
            CHECK(!memcmp(got, cases[c].base, 3), "%s: labels %d%d%d, want %d%d%d", cases[c].name, got[0], got[1],
                  got[2], cases[c].base[0], cases[c].base[1], cases[c].base[2]);
        else
            CHECK(got[0] == 9 && got[1] == 9 && got[2] == 9, "%s: labels written where they differ", cases[c].name);
        sg_shard_close(s);
    }

    /* a damaged label byte (its CRC not checked: a record the scan reads is
     * refused by its labels) */
    char path[256], want[400];
    sg_err err;
    snprintf(path, sizeof path, "%s/same-damaged.lmdb", test_tmpdir);
    uint8_t rows[6][3];
    for (int i = 0; i < 6; i++) memcpy(rows[i], c1, 3);
    if (write_rows(path, SG_LABELS_ONE_HOT, 6, (const uint8_t (*)[3])rows, &err) || set_label_byte(path, 3, 2)) {
        CHECK(0, "%s: %s", path, err.msg);
        return;
    }
    sg_shard *s;
    if (sg_shard_open(&s, path, &err)) { CHECK(0, "open %s: %s", path, err.msg); return; }
    uint8_t got[3];
    int rc = sg_shard_same_labels(s, got, &err);
    snprintf(want, sizeof want, "%s: record 3: label 0 is 2", path);
    CHECK(rc == -1 && !strcmp(err.msg, want), "damaged label: rc %d, '%s' (want '%s')", rc, rc ? err.msg : "", want);
    sg_shard_close(s);

    /* the last record read second: classes in order are told by two records,
     * the damaged one between them never read */
    snprintf(path, sizeof path, "%s/same-ordered.lmdb", test_tmpdir);
    for (int i = 0; i < 6; i++) memcpy(rows[i], i < 4 ? c0 : c2, 3);
    if (write_rows(path, SG_LABELS_ONE_HOT, 6, (const uint8_t (*)[3])rows, &err) || set_label_byte(path, 2, 2)) {
        CHECK(0, "%s: %s", path, err.msg);
        return;
    }
    if (sg_shard_open(&s, path, &err)) { CHECK(0, "open %s: %s", path, err.msg); return; }
    rc = sg_shard_same_labels(s, got, &err);
    CHECK(rc == 0, "classes in order: rc %d (%s), want 0 from records 0 and 5", rc, rc < 0 ? err.msg : "");
    sg_shard_close(s);
}

int main(void)
{
    if (test_tmpdir_make("test_shard")) return 1;
    test_crc();
    test_round_trip(SG_PIXELS_RAW, SG_LABELS_MULTI_HOT, 100, 32, 24);
    test_round_trip(SG_PIXELS_PNG, SG_LABELS_ONE_HOT, 30, 20, 20);
    test_corruption();
    test_damaged_map_size();
    test_open_errors();
    test_force();
    test_unsynced_commit();
    test_stale_tmps();
    test_append_messages();
    test_record_limit();
    test_reader_record_limit();
    test_one_hot_writer();
    test_png_wrong_size();
    test_reader_consistency();
    test_growth();
    test_threads();
    test_path_near_path_max();
    test_decode_bytes();
    test_same_labels();
    test_tmpdir_remove();
    return check_done();
}
