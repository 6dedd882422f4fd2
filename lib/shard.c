/* LMDB shards: writer (temporary directory, batched MDB_APPEND transactions,
 * map grown on demand, sync + rename at the end) and thread-safe reader
 * (MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS: never creates or writes any file).
 * Format: man/man5/stargan-shard.5 and the comment in shard.h. */
#define _GNU_SOURCE
#include "shard.h"
#include "shard_testing.h"
#include "fileio.h"
#include "image.h"
#include "json.h"
#include "strbuf.h"
#include "version.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zlib.h>

/* ---- CRC-32: zlib's (several times faster than a table-driven loop here) ---- */

uint32_t sg_crc32(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len) {
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = (uint32_t)crc32(crc, p, n);
        p += n;
        len -= n;
    }
    return crc;
}

/* ---- names ---- */

const char *sg_shard_pixel_encoding_name(int enc)
{
    return enc == SG_PIXELS_RAW ? "raw" : enc == SG_PIXELS_PNG ? "png" : enc == SG_PIXELS_JPEG ? "jpeg" : "?";
}

int sg_shard_pixel_encoding_parse(const char *s)
{
    if (!strcmp(s, "raw")) return SG_PIXELS_RAW;
    if (!strcmp(s, "png")) return SG_PIXELS_PNG;
    if (!strcmp(s, "jpeg")) return SG_PIXELS_JPEG;
    return -1;
}

const char *sg_shard_label_kind_name(int kind)
{
    return kind == SG_LABELS_ONE_HOT ? "one-hot" : "multi-hot";
}

static void put_le16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put_le32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static uint32_t get_le16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t get_le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static void index_key(uint8_t key[8], uint64_t index)
{
    for (int i = 0; i < 8; i++) key[i] = (uint8_t)(index >> (56 - 8 * i));
}

static void meta_free_names(sg_shard_meta *m)
{
    for (uint32_t i = 0; i < m->n_labels && i < SG_SHARD_MAX_LABELS; i++) {
        free(m->label_names[i]);
        m->label_names[i] = NULL;
    }
}

/* ---- directory helpers ---- */

/* Removes a shard directory (data.mdb, lock.mdb, the directory) or a file. */
static int remove_shard_dir(const char *path, sg_err *err)
{
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : sg_errno(err, "%s", path);
    if (!S_ISDIR(st.st_mode)) return unlink(path) == 0 ? 0 : sg_errno(err, "%s: remove", path);
    char f[PATH_MAX];
    static const char *const files[] = {"data.mdb", "lock.mdb"};
    for (int i = 0; i < 2; i++) {
        snprintf(f, sizeof f, "%s/%s", path, files[i]);
        if (unlink(f) != 0 && errno != ENOENT) return sg_errno(err, "%s: remove", f);
    }
    if (rmdir(path) != 0) return sg_errno(err, "%s: remove", path);
    return 0;
}

int sg_shard_dir_looks_like(const char *path)
{
    char f[PATH_MAX];
    struct stat st;
    snprintf(f, sizeof f, "%s/data.mdb", path);
    return stat(f, &st) == 0 && S_ISREG(st.st_mode);
}

/* Whether --force may replace what is at path (st: its lstat): only a shard
 * directory that holds nothing but the shard's own files. A shard is always a
 * directory: a regular file there is someone's data (celeb-pack -f -o notes.txt,
 * or -o naming its own --attrs file), and a device, FIFO, socket or link
 * (/dev/full, /dev/stdout) is no shard either. Anything else in a shard
 * directory (a README, a user's notes) would be lost with the old shard, or
 * would stop its removal after the new one is already in place. */
static int check_replaceable(const char *path, const struct stat *st, sg_err *err);

int sg_shard_check_output(const char *path_given, int force, sg_err *err)
{
    /* "x.lmdb/" is x.lmdb itself: lstat of "link/" would follow the link */
    char path[PATH_MAX];
    if (sg_path_trim_slashes(path_given, path, sizeof path)) return sg_errf(err, "%s: path too long", path_given);
    struct stat st;
    if (lstat(path, &st) != 0) return 0;
    /* what --force would refuse is refused as such, not with advice to use it */
    if (check_replaceable(path, &st, err)) return -1;
    if (!force) return sg_errf(err, "%s exists (use --force to replace it)", path);
    return 0;
}

static int check_replaceable(const char *path, const struct stat *st, sg_err *err)
{
    if (S_ISLNK(st->st_mode))
        return sg_errf(err, "%s is a symbolic link; not replacing it (give the shard's own path)", path);
    if (!S_ISDIR(st->st_mode)) return sg_errf(err, "%s exists and is not a shard; not replacing it", path);
    if (!sg_shard_dir_looks_like(path))
        return sg_errf(err, "%s exists and is a directory that is not a shard; not replacing it", path);
    DIR *d = opendir(path);
    if (!d) return sg_errno(err, "%s", path);
    struct dirent *e;
    int rc = 0;
    errno = 0;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, "data.mdb") || !strcmp(n, "lock.mdb")) continue;
        rc = sg_errf(err, "%s holds %s, which is not part of a shard; not replacing it (move it out first)",
                     path, sg_quote_str(n).s);
        break;
    }
    if (!rc && errno) rc = sg_errno(err, "%s", path);
    closedir(d);
    return rc;
}

/* Removes "PATH.tmp-PID.N" directories left by writers that were killed
 * (their process no longer exists), and puts "PATH.tmp-old-PID.N" back at
 * PATH where there is none (else removes it); the same for the names without
 * ".N" of earlier versions. Best effort: errors are ignored. */
static void remove_stale_tmps(const char *path)
{
    char dir[PATH_MAX], prefix[PATH_MAX], old_prefix[PATH_MAX], full[PATH_MAX];
    sg_dir_of(path, dir, sizeof dir);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(prefix, sizeof prefix, "%s.tmp-", base);
    snprintf(old_prefix, sizeof old_prefix, "%s.tmp-old-", base);   /* ours too: never a user's OUT.old-DATE */
    size_t plen = strlen(prefix), olen = strlen(old_prefix);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        int is_old = strncmp(e->d_name, old_prefix, olen) == 0;
        if (!is_old && strncmp(e->d_name, prefix, plen) != 0) continue;
        long pid = sg_temp_name_pid(e->d_name + (is_old ? olen : plen));
        if (pid < 0 || pid == getpid()) continue;
        if (!sg_pid_gone(pid)) continue;   /* still running (or not ours) */
        snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
        /* OUT.tmp-old-PID.N: the shard a --force without RENAME_EXCHANGE (install)
         * moved aside, killed before it removed it: back to OUT if the new
         * one never got there, else the old one is done with */
        struct stat st;
        if (is_old && lstat(path, &st) != 0 && errno == ENOENT && rename(full, path) == 0) continue;
        remove_shard_dir(full, NULL);
    }
    closedir(d);
}

/* ---- writer ---- */

typedef struct { size_t offset, len; } pending_record;

struct sg_shard_writer {
    char path[PATH_MAX], tmp[PATH_MAX];
    int force;
    sg_shard_meta meta;
    MDB_env *env;
    MDB_dbi dbi;
    size_t map_size;
    uint64_t count;             /* records appended (flushed or pending) */
    uint64_t flushed;           /* records committed to the database */
    sg_buf batch;               /* values of pending records, back to back */
    pending_record *pending;
    size_t n_pending, cap_pending;
};

#define BATCH_BYTES (8u << 20)      /* one write transaction per ~8 MB */
#define BATCH_RECORDS 4096

/* "MESSAGE: mdb_strerror(rc)". LMDB's own codes are negative; a positive
 * one is the errno of the system call that failed, kept in sys_errno. */
static int lmdb_errf(sg_err *err, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int lmdb_errf(sg_err *err, int rc, const char *fmt, ...)
{
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return rc > 0 ? sg_err_sys(err, rc, "%s", what) : sg_errf(err, "%s: %s", what, mdb_strerror(rc));
}

static int lmdb_err(sg_err *err, const char *path, const char *what, int rc)
{
    /* LMDB turns a short write, which is what a full file system gives, into
     * EIO ("Input/output error"). With next to no room left, that was the
     * cause: recorded as ENOSPC, so that tools give their advice for a full
     * file system (once: these words do not say it), with the room there was. */
    struct statvfs v;
    if (err && rc == EIO && statvfs(path, &v) == 0 && (uint64_t)v.f_bavail * v.f_frsize < 2 * (uint64_t)BATCH_BYTES) {
        sg_err_sys(err, ENOSPC, "%s: %s", path, what);
        return sg_err_suffix(err, " (%llu bytes free)", (unsigned long long)v.f_bavail * v.f_frsize);
    }
    /* The same short write at the file size limit (ulimit -f; SIGXFSZ
     * ignored), which leaves data.mdb exactly that long: EFBIG, which it is. */
    struct rlimit lim;
    struct stat st;
    char data[PATH_MAX];
    if (err && rc == EIO && getrlimit(RLIMIT_FSIZE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY &&
        snprintf(data, sizeof data, "%s/data.mdb", path) < (int)sizeof data && stat(data, &st) == 0 &&
        (uint64_t)st.st_size >= (uint64_t)lim.rlim_cur)
        rc = EFBIG;
    return lmdb_errf(err, rc, "%s: %s", path, what);
}

/* Label names are distinct (celeb-pack refuses --select Bangs,Bangs): a name
 * given twice is a damaged or hand-edited shard, whose labels could not be
 * told apart by name (targets, sg-train's checks). -1 and err naming both. */
static int repeated_label(const sg_shard_meta *m, sg_err *err)
{
    for (uint32_t i = 1; i < m->n_labels; i++)
        for (uint32_t j = 0; j < i; j++)
            if (m->label_names[i] && m->label_names[j] && !strcmp(m->label_names[i], m->label_names[j]))
                return sg_errf(err, "labels %u and %u are both %s (label names must differ)", j, i,
                               sg_quote_str(m->label_names[i]).s);
    return 0;
}

/* The image geometry a shard may have, the same for the writer and the
 * readers (a shard written is one every reader opens): 1..SG_IMAGE_MAX_SIDE
 * pixels a side, RGB. Signed: the readers' values come from JSON. */
static int geometry_ok(int64_t width, int64_t height, int64_t channels)
{
    return width >= 1 && height >= 1 && width <= SG_IMAGE_MAX_SIDE && height <= SG_IMAGE_MAX_SIDE && channels == 3;
}

int sg_shard_writer_open(sg_shard_writer **out, const char *path_given, const sg_shard_meta *meta,
                         int force, uint64_t expected_count, sg_err *err)
{
    *out = NULL;
    /* "celebA.lmdb/" (a shell completes a directory so) names celebA.lmdb:
     * without this the temporary directory would be made inside it. */
    char path[PATH_MAX];
    size_t plen = strlen(path_given);
    if (plen == 0) return sg_errf(err, "empty output path");
    if (plen >= sizeof path) return sg_errf(err, "%s: path too long", path_given);
    sg_path_trim_slashes(path_given, path, sizeof path);
    plen = strlen(path);
    if (meta->n_labels == 0 || meta->n_labels > SG_SHARD_MAX_LABELS)
        return sg_errf(err, "%s: %u labels (1..%d allowed)", path, meta->n_labels, SG_SHARD_MAX_LABELS);
    if (!geometry_ok(meta->width, meta->height, meta->channels))
        return sg_errf(err, "%s: bad image geometry %ux%ux%u (1 to %d pixels a side, 3 channels: what readers open)",
                       path, meta->width, meta->height, meta->channels, SG_IMAGE_MAX_SIDE);
    if (repeated_label(meta, err)) return sg_err_prefix(err, "%s", path);
    if (meta->pixel_encoding < SG_PIXELS_RAW || meta->pixel_encoding > SG_PIXELS_JPEG)
        return sg_errf(err, "%s: unknown pixel encoding %d", path, meta->pixel_encoding);
    /* The longest name written, OUT.tmp-PID.N/data.mdb with a 10-digit PID
     * and N (sg_temp_name), under 40 bytes past OUT: checked before the
     * temporary directory is made, which LMDB would refuse to fill and leave
     * behind. */
    if (plen + 40 >= PATH_MAX)
        return sg_errf(err, "%s: the shard's path is too long (%zu bytes; at most %d, the names inside it add up to "
                       "40 more)", path, plen, PATH_MAX - 41);
    remove_stale_tmps(path);   /* first: it may put a shard back at path */
    if (sg_shard_check_output(path, force, err)) return -1;

    sg_shard_writer *w = calloc(1, sizeof *w);
    if (!w) return sg_err_oom(err, "out of memory");
    if (snprintf(w->path, sizeof w->path, "%s", path) >= (int)sizeof w->path ||
        sg_temp_name(w->tmp, sizeof w->tmp, path, ".tmp-")) {
        free(w);
        return sg_errf(err, "%s: path too long", path);
    }
    w->force = force;
    w->meta = *meta;
    w->meta.version = SG_SHARD_FORMAT_VERSION;
    for (uint32_t i = 0; i < meta->n_labels; i++) {
        w->meta.label_names[i] = strdup(meta->label_names[i] ? meta->label_names[i] : "");
        if (!w->meta.label_names[i]) { meta_free_names(&w->meta); free(w); return sg_err_oom(err, "out of memory"); }
    }
    sg_buf_init(&w->batch);
    remove_shard_dir(w->tmp, NULL);
    if (mkdir(w->tmp, 0777) != 0) {   /* the umask decides, as for files (sg_create_temp) */
        if (errno != ENOENT || !sg_err_missing_dir(path, err))
            sg_errno(err, "%s: cannot create the temporary directory %s", path, w->tmp);
        meta_free_names(&w->meta); free(w);
        return -1;
    }
    /* Map size from the expected size (raw pixels: exact; encoded: an upper
     * bound), grown later if needed. Only address space: the file grows as written. */
    size_t rec = SG_SHARD_RECORD_HEADER + meta->n_labels + 256 + (size_t)meta->width * meta->height * 3 + 4;
    size_t pages = (rec + 4095) / 4096 + 1;
    double est = (double)expected_count * pages * 4096 * 1.1 + (64u << 20);
    w->map_size = est > (double)(SIZE_MAX / 4) ? SIZE_MAX / 4 : (size_t)est;
    int rc = mdb_env_create(&w->env);
    if (!rc) rc = mdb_env_set_mapsize(w->env, w->map_size);
    /* NOLOCK: we are the only user of the temporary directory, so no lock.mdb is
     * made. NOSYNC: one mdb_env_sync at commit instead of one per transaction. */
    if (!rc) rc = mdb_env_open(w->env, w->tmp, MDB_NOLOCK | MDB_NOSYNC, 0666);
    if (rc) {
        lmdb_err(err, w->tmp, "cannot create the database", rc);
        sg_shard_writer_abort(w);
        return -1;
    }
    MDB_txn *txn;
    rc = mdb_txn_begin(w->env, NULL, 0, &txn);
    if (!rc) rc = mdb_dbi_open(txn, NULL, 0, &w->dbi);
    if (!rc) rc = mdb_txn_commit(txn);
    if (rc) {
        lmdb_err(err, w->tmp, "cannot open the database", rc);
        sg_shard_writer_abort(w);
        return -1;
    }
    *out = w;
    return 0;
}

uint64_t sg_shard_writer_count(const sg_shard_writer *w) { return w->count; }
const char *sg_shard_writer_tmp_path(const sg_shard_writer *w) { return w->tmp; }

int sg_shard_writer_test_count_from(sg_shard_writer *w, uint64_t n)
{
    if (w->count || w->n_pending) return -1;
    w->count = w->flushed = n;
    return 0;
}

static int grow_map(sg_shard_writer *w, size_t need, sg_err *err)
{
    size_t size = w->map_size;
    while (size < need) size = size < (SIZE_MAX / 4) ? size * 2 : need;
    int rc = mdb_env_set_mapsize(w->env, size);
    if (rc) return lmdb_err(err, w->tmp, "cannot grow the map", rc);
    w->map_size = size;
    return 0;
}

/* Writes the pending records in one transaction. On MDB_MAP_FULL the
 * transaction is aborted, the map doubled (no transaction is open then, as
 * mdb_env_set_mapsize requires) and the batch written again. */
static int flush_batch(sg_shard_writer *w, sg_err *err)
{
    if (w->n_pending == 0) return 0;
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(w->env, &info);
    mdb_env_stat(w->env, &st);
    size_t used = (size_t)(info.me_last_pgno + 1) * st.ms_psize;
    size_t need = used + w->batch.len + w->batch.len / 4 + w->n_pending * 2 * (size_t)st.ms_psize + (4u << 20);
    if (need > w->map_size && grow_map(w, need, err)) return -1;
    for (int attempt = 0; attempt < 40; attempt++) {
        MDB_txn *txn;
        int rc = mdb_txn_begin(w->env, NULL, 0, &txn);
        if (rc) return lmdb_err(err, w->tmp, "cannot begin a write transaction", rc);
        for (size_t i = 0; i < w->n_pending && !rc; i++) {
            uint8_t kb[8];
            index_key(kb, w->flushed + i);
            MDB_val key = {8, kb}, val = {w->pending[i].len, w->batch.data + w->pending[i].offset};
            rc = mdb_put(txn, w->dbi, &key, &val, MDB_APPEND);
        }
        if (!rc) rc = mdb_txn_commit(txn);
        else mdb_txn_abort(txn);
        if (rc == MDB_MAP_FULL) {
            if (grow_map(w, w->map_size * 2, err)) return -1;
            continue;
        }
        if (rc) return lmdb_err(err, w->tmp, "write", rc);
        w->flushed += w->n_pending;
        w->n_pending = 0;
        sg_buf_clear(&w->batch);
        return 0;
    }
    return sg_errf(err, "%s: the map could not be grown enough", w->tmp);
}

int sg_shard_writer_append(sg_shard_writer *w, const uint8_t *labels, const char *name,
                           const uint8_t *pixels, size_t pixel_len, sg_err *err)
{
    const sg_shard_meta *m = &w->meta;
    size_t name_len = strlen(name);
    /* for messages: the name comes from the caller's input (an attribute file, a folder) */
    const sg_quoted qn = sg_quote_bytes(name, name_len);
    if (w->count >= SG_SHARD_MAX_RECORDS)
        return sg_errf(err, "%s: the shard holds %llu records already, the most a shard may hold (sg-train draws "
                       "each epoch's order in 32 bits; no tool reads more); pack fewer images", qn.s, (unsigned long long)SG_SHARD_MAX_RECORDS);
    if (name_len > SG_SHARD_MAX_NAME) return sg_errf(err, "%s: file name longer than %d bytes", qn.s, SG_SHARD_MAX_NAME);
    if (m->pixel_encoding == SG_PIXELS_RAW && pixel_len != (size_t)m->width * m->height * 3)
        return sg_errf(err, "%s: %zu pixel bytes, expected %zu", qn.s, pixel_len, (size_t)m->width * m->height * 3);
    if (pixel_len > UINT32_MAX) return sg_errf(err, "%s: record too large", qn.s);
    int ones = 0;
    for (uint32_t i = 0; i < m->n_labels; i++) {
        if (labels[i] > 1) return sg_errf(err, "%s: label %u is %d (0 or 1 expected)", qn.s, i, labels[i]);
        ones += labels[i];
    }
    if (m->label_kind == SG_LABELS_ONE_HOT && ones != 1)
        return sg_errf(err, "%s: one-hot labels with %d ones", qn.s, ones);

    if (w->n_pending == w->cap_pending) {
        size_t cap = w->cap_pending ? w->cap_pending * 2 : 64;
        pending_record *p = realloc(w->pending, cap * sizeof *p);
        if (!p) return sg_err_oom(err, "out of memory");
        w->pending = p; w->cap_pending = cap;
    }
    size_t len = SG_SHARD_RECORD_HEADER + m->n_labels + name_len + pixel_len + 4;
    size_t off = w->batch.len;
    if (sg_buf_reserve(&w->batch, len)) return sg_err_oom(err, "out of memory");
    uint8_t *v = (uint8_t *)w->batch.data + off;
    memcpy(v, SG_SHARD_RECORD_MAGIC, 4);
    put_le16(v + 4, m->n_labels);
    put_le16(v + 6, (uint32_t)name_len);
    v[8] = (uint8_t)m->pixel_encoding;
    v[9] = v[10] = v[11] = 0;
    put_le32(v + 12, (uint32_t)pixel_len);
    uint8_t *p = v + SG_SHARD_RECORD_HEADER;
    memcpy(p, labels, m->n_labels); p += m->n_labels;
    memcpy(p, name, name_len); p += name_len;
    memcpy(p, pixels, pixel_len); p += pixel_len;
    put_le32(p, sg_crc32(0, v, len - 4));
    w->batch.len += len;
    w->batch.data[w->batch.len] = 0;
    w->pending[w->n_pending++] = (pending_record){off, len};
    w->count++;
    if (w->batch.len >= BATCH_BYTES || w->n_pending >= BATCH_RECORDS) return flush_batch(w, err);
    return 0;
}

static int meta_to_json(const sg_shard_meta *m, sg_buf *b)
{
    sg_buf_appendf(b, "{\"format\":\"stargan-shard\",\"version\":%u,\"width\":%u,\"height\":%u,\"channels\":%u,"
                      "\"pixel_encoding\":\"%s\",\"label_kind\":\"%s\",\"labels\":[",
                   m->version, m->width, m->height, m->channels,
                   sg_shard_pixel_encoding_name(m->pixel_encoding), sg_shard_label_kind_name(m->label_kind));
    for (uint32_t i = 0; i < m->n_labels; i++) {
        if (i) sg_buf_putc(b, ',');
        json_buf_cstr(b, m->label_names[i]);
    }
    sg_buf_appendf(b, "],\"count\":%llu,\"source\":", (unsigned long long)m->count);
    json_buf_cstr(b, m->source);
    sg_buf_appendf(b, ",\"crop\":%u,\"size\":%u,\"created_by\":", m->crop, m->size);
    json_buf_cstr(b, sg_created_by);
    sg_buf_puts(b, "}\n");
    return b->failed ? -1 : 0;
}

/* Moves the finished temporary directory to path: never replaces without force,
 * and with force swaps atomically where the kernel can (RENAME_EXCHANGE; else
 * the old shard goes to path.tmp-old-PID.N first, which remove_stale_tmps puts back
 * should this process die before the new one is in place).
 * Returns -1 when the new shard is not in place. Once it is, returns 0, and
 * anything left to say (the old shard could not be removed) goes in note. */
static int install(sg_shard_writer *w, sg_err *note, sg_err *err)
{
    struct stat st;
    int exists = lstat(w->path, &st) == 0;
    if (!exists || !w->force) {
        if (renameat2(AT_FDCWD, w->tmp, AT_FDCWD, w->path, RENAME_NOREPLACE) == 0) return 0;
        if (errno == EEXIST) return sg_errf(err, "%s exists (use --force to replace it)", w->path);
        if (errno != EINVAL && errno != ENOSYS) return sg_errno(err, "%s: rename", w->path);
        if (lstat(w->path, &st) == 0) return sg_errf(err, "%s exists (use --force to replace it)", w->path);
        return rename(w->tmp, w->path) == 0 ? 0 : sg_errno(err, "%s: rename", w->path);
    }
    /* again: the old shard may have changed while this one was written */
    if (check_replaceable(w->path, &st, err)) return -1;
    const char *old = w->tmp;                      /* where the old shard ends up */
    char old_name[PATH_MAX];
    if (renameat2(AT_FDCWD, w->tmp, AT_FDCWD, w->path, RENAME_EXCHANGE) != 0) {
        if (errno != EINVAL && errno != ENOSYS) return sg_errno(err, "%s: rename", w->path);
        if (sg_temp_name(old_name, sizeof old_name, w->path, ".tmp-old-")) return sg_errf(err, "%s: path too long", w->path);
        if (rename(w->path, old_name) != 0) return sg_errno(err, "%s: rename", w->path);
        if (rename(w->tmp, w->path) != 0) {
            sg_errno(err, "%s: rename", w->path);
            rename(old_name, w->path);
            return -1;
        }
        old = old_name;
    }
    if (remove_shard_dir(old, note))
        sg_err_prefix(note, "%s replaced, but the old shard is left at %s", w->path, old);
    return 0;
}

static void writer_free(sg_shard_writer *w)
{
    if (w->env) mdb_env_close(w->env);
    w->env = NULL;
    sg_buf_free(&w->batch);
    free(w->pending);
    meta_free_names(&w->meta);
    free(w);
}

int sg_shard_writer_commit(sg_shard_writer *w, sg_err *note, sg_err *err)
{
    if (note) *note = (sg_err){{0}};
    if (flush_batch(w, err)) { sg_shard_writer_abort(w); return -1; }
    w->meta.count = w->count;
    sg_buf json = SG_BUF_INIT;
    if (meta_to_json(&w->meta, &json)) { sg_buf_free(&json); sg_shard_writer_abort(w); return sg_err_oom(err, "out of memory"); }
    MDB_txn *txn;
    int rc = mdb_txn_begin(w->env, NULL, 0, &txn);
    if (!rc) {
        MDB_val key = {4, "meta"}, val = {json.len, json.data};
        rc = mdb_put(txn, w->dbi, &key, &val, 0);
        if (rc == MDB_MAP_FULL) {
            mdb_txn_abort(txn);
            if (!grow_map(w, w->map_size * 2, err) && !(rc = mdb_txn_begin(w->env, NULL, 0, &txn)))
                rc = mdb_put(txn, w->dbi, &key, &val, 0);
        }
        if (!rc) rc = mdb_txn_commit(txn);
        else mdb_txn_abort(txn);
    }
    sg_buf_free(&json);
    if (!rc) rc = mdb_env_sync(w->env, 1);
    if (rc) { lmdb_err(err, w->tmp, "write", rc); sg_shard_writer_abort(w); return -1; }
    mdb_env_close(w->env);
    w->env = NULL;
    char dir[PATH_MAX];
    sg_dir_of(w->path, dir, sizeof dir);
    if (sg_fsync_dir(w->tmp, err) || install(w, note, err)) {
        sg_shard_writer_abort(w);
        return -1;
    }
    /* The new shard is in place from here on: nothing may report it unwritten
     * (or remove w->tmp, which may now be the old shard's remains). A failed
     * fsync of its directory is every writer's report (lib/fileio.h). */
    rc = sg_fsync_dir_after(w->path, dir, err);
    writer_free(w);
    return rc;
}

void sg_shard_writer_abort(sg_shard_writer *w)
{
    if (!w) return;
    if (w->env) mdb_env_close(w->env);
    w->env = NULL;
    remove_shard_dir(w->tmp, NULL);
    writer_free(w);
}

/* ---- reader ---- */

struct sg_shard {
    char path[PATH_MAX];
    MDB_env *env;
    MDB_dbi dbi;
    sg_shard_meta meta;
};

const sg_shard_meta *sg_shard_get_meta(const sg_shard *s) { return &s->meta; }

const char *sg_shard_meta_differs(const sg_shard_meta *a, const sg_shard_meta *b)
{
    if (a->version != b->version) return "format version";
    if (a->width != b->width || a->height != b->height) return "image size";
    if (a->channels != b->channels) return "channel count";
    if (a->pixel_encoding != b->pixel_encoding) return "pixel storage";
    if (a->label_kind != b->label_kind) return "label kind";
    int same = a->n_labels == b->n_labels;
    for (uint32_t j = 0; same && j < a->n_labels; j++) same = !strcmp(a->label_names[j], b->label_names[j]);
    if (!same) return "labels";
    if (a->count != b->count) return "record count";
    if (strcmp(a->source, b->source)) return "source";
    if (a->crop != b->crop || a->size != b->size) return "preprocessing";
    return NULL;
}

void sg_shard_close(sg_shard *s)
{
    if (!s) return;
    if (s->env) mdb_env_close(s->env);
    meta_free_names(&s->meta);
    free(s);
}

/* The metadata record's text into m (label names strdup'd; what was
 * filled before a failure is freed with m, by sg_shard_close). path names the
 * shard in messages. */
static int parse_meta(const char *path, sg_shard_meta *m, const char *text, size_t len, sg_err *err)
{
    json_value *root = NULL;
    if (json_parse(text, len, NULL, &root, NULL, err)) return sg_err_prefix(err, "%s: metadata", path);
    const char *format, *enc, *kind, *source;
    int64_t version, width, height, channels, count, crop, size;
    const json_value *labels;
    int rc = -1;
    if (!json_is(root, JSON_OBJECT) || json_get_str(root, "format", &format, NULL) || strcmp(format, "stargan-shard")) {
        sg_errf(err, "%s: not a stargan shard (the metadata record is not stargan-shard metadata)", path);
        goto done;
    }
    if (json_get_int(root, "version", &version, err)) { sg_err_prefix(err, "%s: metadata", path); goto done; }
    if (version > SG_SHARD_FORMAT_VERSION) {
        sg_errf(err, "%s: shard format version %lld is newer than this tool supports (%d): read it with a newer "
                "stargan-c, or pack it again with this one", path, (long long)version, SG_SHARD_FORMAT_VERSION);
        goto done;
    }
    if (json_get_int(root, "width", &width, err) || json_get_int(root, "height", &height, err) ||
        json_get_int(root, "channels", &channels, err) || json_get_str(root, "pixel_encoding", &enc, err) ||
        json_get_str(root, "label_kind", &kind, err) || json_get_array(root, "labels", &labels, err) ||
        json_get_int(root, "count", &count, err) || json_get_str(root, "source", &source, err) ||
        json_get_int(root, "crop", &crop, err) || json_get_int(root, "size", &size, err)) {
        sg_err_prefix(err, "%s: metadata", path);
        goto done;
    }
    if (version < 1 || !geometry_ok(width, height, channels) || count < 0 || crop < 0 || size < 0 || crop > UINT32_MAX || size > UINT32_MAX) {
        sg_errf(err, "%s: metadata: bad values (version %lld, %lldx%lldx%lld, count %lld)", path,
                (long long)version, (long long)width, (long long)height, (long long)channels, (long long)count);
        goto done;
    }
    m->version = (uint32_t)version;
    m->width = (uint32_t)width; m->height = (uint32_t)height; m->channels = (uint32_t)channels;
    m->pixel_encoding = sg_shard_pixel_encoding_parse(enc);
    if (m->pixel_encoding < 0) {
        sg_errf(err, "%s: metadata: unknown pixel encoding \"%s\"", path, sg_quote_str(enc).s);
        goto done;
    }
    if (!strcmp(kind, "multi-hot")) m->label_kind = SG_LABELS_MULTI_HOT;
    else if (!strcmp(kind, "one-hot")) m->label_kind = SG_LABELS_ONE_HOT;
    else { sg_errf(err, "%s: metadata: unknown label kind \"%s\"", path, sg_quote_str(kind).s); goto done; }
    size_t n = json_len(labels);
    if (n < 1 || n > SG_SHARD_MAX_LABELS) { sg_errf(err, "%s: metadata: %zu labels (1..%d allowed)", path, n, SG_SHARD_MAX_LABELS); goto done; }
    for (size_t i = 0; i < n; i++) {
        const char *name = json_str(json_at(labels, i));
        if (!name) { sg_errf(err, "%s: metadata: label %zu is not a string", path, i); goto done; }
        m->label_names[i] = strdup(name);
        m->n_labels = (uint32_t)(i + 1);
        if (!m->label_names[i]) { sg_err_oom(err, "out of memory"); goto done; }
    }
    if (repeated_label(m, err)) { sg_err_prefix(err, "%s: metadata", path); goto done; }
    /* every reader's refusal, before the count is checked against the records */
    if ((uint64_t)count > SG_SHARD_MAX_RECORDS) {
        sg_errf(err, "%s: metadata: %llu records, more than the %llu a shard may hold (sg-train draws each epoch's "
                "order in 32 bits; no tool reads more): pack fewer images into it", path,
                (unsigned long long)count, (unsigned long long)SG_SHARD_MAX_RECORDS);
        goto done;
    }
    m->count = (uint64_t)count;
    snprintf(m->source, sizeof m->source, "%s", source);
    const char *created_by = NULL;   /* optional: a shard made by another program may lack it */
    if (json_get(root, "created_by") && json_get_str(root, "created_by", &created_by, NULL) == 0)
        snprintf(m->created_by, sizeof m->created_by, "%s", created_by);
    m->crop = (uint32_t)crop;
    m->size = (uint32_t)size;
    rc = 0;
done:
    json_free(root);
    return rc;
}

static int shard_open(sg_shard **out, const char *path, unsigned extra_flags, sg_err *err);

int sg_shard_open(sg_shard **out, const char *path, sg_err *err) { return shard_open(out, path, 0, err); }

int sg_shard_open_random(sg_shard **out, const char *path, sg_err *err)
{
    return shard_open(out, path, MDB_NORDAHEAD, err);
}

/* The error for a path that is no directory: a shard's own data.mdb (or
 * lock.mdb) named where its directory was meant is said so. */
static int not_a_shard_dir(const char *path, sg_err *err)
{
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    char dir[PATH_MAX];
    sg_dir_of(path, dir, sizeof dir);
    sg_path_trim_slashes(dir, dir, sizeof dir);   /* "x.lmdb//data.mdb" */
    if ((!strcmp(base, "data.mdb") || !strcmp(base, "lock.mdb")) && sg_shard_dir_looks_like(dir))
        return sg_errf(err, "%s: not a stargan shard (that is a shard's own file: give its directory, %s)", path,
                       dir);
    return sg_errf(err, "%s: not a stargan shard (not a directory)", path);
}

/* The error for a directory without data.mdb: an sg-train run directory (its
 * config.json beside ckpt/ or history.jsonl) is said so. */
static int no_data_mdb(const char *path, sg_err *err)
{
    char f[PATH_MAX];
    int run = 0;
    snprintf(f, sizeof f, "%s/config.json", path);
    if (access(f, F_OK) == 0) {
        snprintf(f, sizeof f, "%s/ckpt", path);
        run = access(f, F_OK) == 0;
        snprintf(f, sizeof f, "%s/history.jsonl", path);
        run |= access(f, F_OK) == 0;
    }
    if (run)
        return sg_errf(err, "%s: not a stargan shard (no data.mdb): that is a run directory of sg-train; give one of the "
                       "shards its config.json lists", path);
    return sg_errf(err, "%s: not a stargan shard (no data.mdb)", path);
}

/* The pages data.mdb's newer meta page says the database spans (last page
 * + 1) and their size, read from the file as LMDB lays it out (a page header
 * of 16 bytes, then magic, version, address, map size, two 48-byte database
 * records, the first holding the page size, last page, txnid); 0 when it
 * cannot tell. For the message when LMDB cannot map that much (ENOMEM, or
 * MDB_MAP_RESIZED where the size passes 2^64): a damaged last page number,
 * as a map size no longer is. */
static uint64_t recorded_pages(const char *data_path, uint32_t *page_size)
{
    uint8_t page0[152], meta[152];
    uint64_t best = 0, best_txn = 0;
    FILE *f = fopen(data_path, "rb");
    if (!f) return 0;
    if (fread(page0, 1, sizeof page0, f) == sizeof page0) {
        uint32_t psize;
        memcpy(&psize, page0 + 40, 4);
        for (int m = 0; m < 2 && psize >= 512 && psize <= 65536; m++) {
            if (m ? fseek(f, psize, SEEK_SET) || fread(meta, 1, sizeof meta, f) != sizeof meta : 0) break;
            const uint8_t *p = m ? meta : page0;
            uint32_t magic;
            uint64_t last, txn;
            memcpy(&magic, p + 16, 4);
            memcpy(&last, p + 136, 8);
            memcpy(&txn, p + 144, 8);
            if (magic != 0xBEEFC0DE || (m && txn < best_txn)) continue;
            best_txn = txn;
            best = last == UINT64_MAX ? UINT64_MAX : last + 1;
            *page_size = psize;
        }
    }
    fclose(f);
    return best;
}

/* Whether pages of psize bytes pass size bytes (pages x psize > size),
 * without overflow. */
static int pages_pass(uint64_t pages, uint32_t psize, long long size)
{
    return psize && pages > (uint64_t)size / psize;
}

/* The one message for a data.mdb shorter than its header says (cut short,
 * or the header damaged: LMDB does not check it). */
static int truncated_err(sg_err *err, const char *path, long long size, uint64_t pages, uint32_t psize)
{
    return sg_errf(err, "%s: data.mdb is truncated or its header damaged (%lld bytes, the header records %llu "
                   "pages of %u): pack the shard again (celeb-pack)", path, size, (unsigned long long)pages, psize);
}

static int shard_open(sg_shard **out, const char *path, unsigned extra_flags, sg_err *err)
{
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0) return sg_errno(err, "%s", path);
    if (!S_ISDIR(st.st_mode)) return not_a_shard_dir(path, err);
    char data_path[PATH_MAX];
    snprintf(data_path, sizeof data_path, "%s/data.mdb", path);
    int missing = stat(data_path, &st) != 0;
    if (missing && errno != ENOENT && errno != ENOTDIR)   /* EACCES: a shard, but not ours to read */
        return sg_errno(err, "%s", data_path);
    if (missing || !S_ISREG(st.st_mode))   /* sg_shard_dir_looks_like's test */
        return no_data_mdb(path, err);
    /* LMDB reports an empty data.mdb as "Bad file descriptor". */
    if (st.st_size == 0) return sg_errf(err, "%s: not a stargan shard (data.mdb is empty)", path);
    long long data_size = (long long)st.st_size;
    sg_shard *s = calloc(1, sizeof *s);
    if (!s) return sg_err_oom(err, "out of memory");
    snprintf(s->path, sizeof s->path, "%s", path);
    /* RDONLY + NOLOCK: no lock.mdb is created and nothing is written next to
     * the data (shards are immutable once renamed into place, so readers need
     * no lock). NOTLS: read transactions are not tied to threads. The map
     * is the file's size, not the map size the meta page records: a damaged
     * one (2^60) would fail as "Cannot allocate memory", and reading needs no
     * more (LMDB still raises the map to cover the last page it records). */
    int rc = mdb_env_create(&s->env);
    if (!rc) rc = mdb_env_set_mapsize(s->env, (size_t)data_size);
    if (!rc) rc = mdb_env_open(s->env, path, MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS | extra_flags, 0444);
    if (rc) {
        uint32_t psize = 0;
        uint64_t pages = recorded_pages(data_path, &psize);
        if (pages_pass(pages, psize, data_size))
            truncated_err(err, path, data_size, pages, psize);
        else
            lmdb_errf(err, rc, "%s: not a readable LMDB environment", path);
        sg_shard_close(s);
        return -1;
    }
    /* A truncated data.mdb opens fine (the meta pages are at its start) but the
     * first access to a page past the end of the file is SIGBUS in the mmap. */
    MDB_envinfo info;
    MDB_stat envst;
    uint64_t pages = 0;
    if (!mdb_env_info(s->env, &info) && !mdb_env_stat(s->env, &envst) &&
        pages_pass(pages = info.me_last_pgno == (size_t)-1 ? UINT64_MAX : (uint64_t)info.me_last_pgno + 1,
                   envst.ms_psize, data_size)) {
        truncated_err(err, path, data_size, pages, envst.ms_psize);
        sg_shard_close(s);
        return -1;
    }
    MDB_txn *txn;
    rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (!rc) rc = mdb_dbi_open(txn, NULL, 0, &s->dbi);
    if (rc) {
        lmdb_errf(err, rc, "%s", path);
        sg_shard_close(s);
        return -1;
    }
    MDB_val key = {4, "meta"}, val;
    rc = mdb_get(txn, s->dbi, &key, &val);
    if (rc == MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        sg_errf(err, "%s: not a stargan shard (no metadata record)", path);
        sg_shard_close(s);
        return -1;
    }
    MDB_stat dbst;
    if (!rc) rc = mdb_stat(txn, s->dbi, &dbst);
    if (rc) {
        mdb_txn_abort(txn);
        lmdb_errf(err, rc, "%s", path);
        sg_shard_close(s);
        return -1;
    }
    if (parse_meta(s->path, &s->meta, val.mv_data, val.mv_size, err)) {
        mdb_txn_abort(txn);
        sg_shard_close(s);
        return -1;
    }
    mdb_txn_abort(txn);
    if (dbst.ms_entries != s->meta.count + 1) {
        sg_errf(err, "%s: the metadata says %llu records but the database holds %llu", path,
                (unsigned long long)s->meta.count, (unsigned long long)(dbst.ms_entries - 1));
        sg_shard_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

/* The header of record index's value v (len bytes), checked against m (not
 * the CRC, which needs every byte): its label bytes' place in v. path names
 * the shard in messages. */
static int record_header(const sg_shard_meta *m, const char *path, uint64_t index, const uint8_t *v, size_t len,
                         const uint8_t **labels, sg_err *err)
{
    if (len < SG_SHARD_RECORD_HEADER + 4 || memcmp(v, SG_SHARD_RECORD_MAGIC, 4) != 0)
        return sg_errf(err, "%s: record %llu: bad record header", path, (unsigned long long)index);
    uint32_t nl = get_le16(v + 4), nn = get_le16(v + 6), enc = v[8], np = get_le32(v + 12);
    if ((size_t)SG_SHARD_RECORD_HEADER + nl + nn + np + 4 != len || nl != m->n_labels || (int)enc != m->pixel_encoding)
        return sg_errf(err, "%s: record %llu: inconsistent record header", path, (unsigned long long)index);
    *labels = v + SG_SHARD_RECORD_HEADER;
    return 0;
}

/* The fields of record index's value v (len bytes), checked against m:
 * pointers into v. path names the shard in messages. */
static int record_fields(const sg_shard_meta *m, const char *path, uint64_t index, const uint8_t *v, size_t len,
                         const uint8_t **labels, const uint8_t **name, size_t *name_len, const uint8_t **pix,
                         size_t *pix_len, sg_err *err)
{
    if (record_header(m, path, index, v, len, labels, err)) return -1;
    uint32_t nl = get_le16(v + 4), nn = get_le16(v + 6), np = get_le32(v + 12);
    uint32_t stored = get_le32(v + len - 4), computed = sg_crc32(0, v, len - 4);
    if (stored != computed)
        return sg_errf(err, "%s: record %llu: CRC mismatch (stored %08x, computed %08x): the shard is corrupt",
                       path, (unsigned long long)index, stored, computed);
    *name = *labels + nl;
    *name_len = nn;
    *pix = *name + nn;
    *pix_len = np;
    return 0;
}

/* Record index's value, unchecked (inside txn): *val; an index past the
 * shard's count is refused without asking LMDB. */
static int record_value(sg_shard *s, MDB_txn *txn, uint64_t index, MDB_val *val, sg_err *err)
{
    if (index >= s->meta.count)
        return sg_errf(err, "%s: record %llu out of range (the shard holds %llu)", s->path,
                       (unsigned long long)index, (unsigned long long)s->meta.count);
    uint8_t kb[8];
    index_key(kb, index);
    MDB_val key = {8, kb};
    int rc = mdb_get(txn, s->dbi, &key, val);
    if (rc) return lmdb_errf(err, rc, "%s: record %llu", s->path, (unsigned long long)index);
    return 0;
}

/* Validates record index and returns pointers into it (inside txn). */
static int get_record(sg_shard *s, MDB_txn *txn, uint64_t index, const uint8_t **labels,
                      const uint8_t **name, size_t *name_len, const uint8_t **pix, size_t *pix_len, sg_err *err)
{
    MDB_val val;
    if (record_value(s, txn, index, &val, err)) return -1;
    return record_fields(&s->meta, s->path, index, val.mv_data, val.mv_size, labels, name, name_len, pix, pix_len,
                         err);
}

static int check_labels(const sg_shard_meta *m, const char *path, uint64_t index, const uint8_t *l, sg_err *err)
{
    int ones = 0;
    for (uint32_t i = 0; i < m->n_labels; i++) {
        if (l[i] > 1) return sg_errf(err, "%s: record %llu: label %u is %d", path, (unsigned long long)index, i, l[i]);
        ones += l[i];
    }
    if (m->label_kind == SG_LABELS_ONE_HOT && ones != 1)
        return sg_errf(err, "%s: record %llu: one-hot labels with %d ones", path, (unsigned long long)index, ones);
    return 0;
}

/* sg_shard_read's work once record index's value v (len bytes) is found:
 * checked against m and decoded into pixels, labels and name (each may be
 * NULL). No LMDB: tests/fuzz/fuzz_shard.c feeds it bytes. */
static int record_decode(const sg_shard_meta *m, const char *path, uint64_t index, const uint8_t *v, size_t len,
                         uint8_t *pixels, float *labels, char *name, size_t name_len, sg_err *err)
{
    const uint8_t *l, *nm, *px;
    size_t nn, np;
    if (record_fields(m, path, index, v, len, &l, &nm, &nn, &px, &np, err)) return -1;
    /* The name first: its CRC checked, it names the record in a reader's
     * message when the labels or the pixels are then refused. */
    if (name && name_len) {
        size_t k = nn < name_len - 1 ? nn : name_len - 1;
        memcpy(name, nm, k);
        name[k] = 0;
    }
    if (check_labels(m, path, index, l, err)) return -1;
    if (labels)
        for (uint32_t i = 0; i < m->n_labels; i++) labels[i] = (float)l[i];
    size_t want = (size_t)m->width * m->height * 3;
    int rc = 0;
    if (pixels) {
        if (m->pixel_encoding == SG_PIXELS_RAW) {
            if (np != want) rc = sg_errf(err, "%s: record %llu: %zu pixel bytes, expected %zu", path,
                                         (unsigned long long)index, np, want);
            else memcpy(pixels, px, want);
        } else {
            sg_image img;
            if (sg_image_decode(px, np, &img, err)) {
                rc = sg_err_prefix(err, "%s: record %llu", path, (unsigned long long)index);
            } else {
                if ((uint32_t)img.width != m->width || (uint32_t)img.height != m->height)
                    rc = sg_errf(err, "%s: record %llu: image is %dx%d, the shard says %ux%u", path,
                                 (unsigned long long)index, img.width, img.height, m->width, m->height);
                else memcpy(pixels, img.rgb, want);
                sg_image_free(&img);
            }
        }
    }
    return rc;
}

int sg_shard_read(sg_shard *s, uint64_t index, uint8_t *pixels, float *labels,
                  char *name, size_t name_len, sg_err *err)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc) return lmdb_errf(err, rc, "%s", s->path);
    MDB_val val;
    rc = record_value(s, txn, index, &val, err) ? -1
         : record_decode(&s->meta, s->path, index, val.mv_data, val.mv_size, pixels, labels, name, name_len, err);
    mdb_txn_abort(txn);
    return rc;
}

int sg_shard_read_labels(sg_shard *s, uint64_t index, uint8_t *labels, sg_err *err)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc) return lmdb_errf(err, rc, "%s", s->path);
    const uint8_t *l, *nm, *px;
    size_t nn, np;
    rc = get_record(s, txn, index, &l, &nm, &nn, &px, &np, err) || check_labels(&s->meta, s->path, index, l, err)
             ? -1 : 0;
    if (!rc) memcpy(labels, l, s->meta.n_labels);
    mdb_txn_abort(txn);
    return rc;
}

int sg_shard_same_labels(sg_shard *s, uint8_t *labels, sg_err *err)
{
    uint64_t n = s->meta.count;
    if (n == 0) return 0;
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc) return lmdb_errf(err, rc, "%s", s->path);
    uint8_t first[SG_SHARD_MAX_LABELS];
    int same = 1;
    /* record 0, the last, then those between in order: two records of
     * different classes at once where the classes were packed in order */
    for (uint64_t k = 0; k < n && same == 1; k++) {
        uint64_t index = k == 0 ? 0 : k == 1 ? n - 1 : k - 1;
        MDB_val val;
        const uint8_t *l;
        if (record_value(s, txn, index, &val, err) ||
            record_header(&s->meta, s->path, index, val.mv_data, val.mv_size, &l, err) ||
            check_labels(&s->meta, s->path, index, l, err))
            same = -1;
        else if (k == 0)
            memcpy(first, l, s->meta.n_labels);
        else if (memcmp(first, l, s->meta.n_labels))
            same = 0;
    }
    mdb_txn_abort(txn);
    if (same == 1) memcpy(labels, first, s->meta.n_labels);
    return same;
}

/* ---- test-only hooks (lib/shard_testing.h) ---- */

int sg_shard_meta_parse(const char *path, const char *text, size_t len, sg_shard_meta *m, sg_err *err)
{
    memset(m, 0, sizeof *m);
    if (parse_meta(path, m, text, len, err) == 0) return 0;
    meta_free_names(m);
    return -1;
}

void sg_shard_meta_free(sg_shard_meta *m) { meta_free_names(m); }

int sg_shard_record_decode(const sg_shard_meta *m, const char *path, uint64_t index, const uint8_t *value,
                           size_t len, uint8_t *pixels, float *labels, char *name, size_t name_len, sg_err *err)
{
    return record_decode(m, path, index, value, len, pixels, labels, name, name_len, err);
}
