#include "safetensors.h"
#include "safetensors_testing.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fileio.h"
#include "json.h"
#include "strbuf.h"

const char *sg_st_dtype_name(int dtype)
{
    return dtype == SG_ST_F32 ? "F32" : dtype == SG_ST_I64 ? "I64" : "?";
}

size_t sg_st_dtype_size(int dtype)
{
    return dtype == SG_ST_F32 ? 4 : dtype == SG_ST_I64 ? 8 : 0;
}

static void free_contents(sg_st_file *f)
{
    for (size_t i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->tensors);
    for (size_t i = 0; i < f->n_meta; i++) { free(f->meta_keys[i]); free(f->meta_values[i]); }
    free(f->meta_keys);
    free(f->meta_values);
    free(f->path);
    memset(f, 0, sizeof *f);
    f->fd = -1;
}

void sg_st_close(sg_st_file *f)
{
    if (!f) return;
    if (f->fd >= 0) close(f->fd);
    free_contents(f);
    free(f);
}

/* "[2, 3, 4]" for messages. */
static void shape_str(char *out, size_t n, const int64_t *shape, int ndim)
{
    size_t o = 0;
    o += snprintf(out + o, n - o, "[");
    for (int d = 0; d < ndim && o < n; d++)
        o += snprintf(out + o, n - o, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (o < n) snprintf(out + o, n - o, "]");
}

/* The element and byte counts of a tensor: 0 and 0 when any dimension is 0,
 * however large the others (their product alone may pass 2^64); -1 when the
 * byte count passes UINT64_MAX. Shape entries are non-negative. The reader and
 * the writer both size tensors with this. */
static int tensor_size(const int64_t *shape, int ndim, int dtype, uint64_t *numel, uint64_t *bytes)
{
    *numel = *bytes = 0;
    for (int d = 0; d < ndim; d++)
        if (shape[d] == 0) return 0;
    uint64_t n = 1, esize = sg_st_dtype_size(dtype);
    for (int d = 0; d < ndim; d++) {
        if (n > UINT64_MAX / (uint64_t)shape[d]) return -1;
        n *= (uint64_t)shape[d];
    }
    if (n > UINT64_MAX / esize) return -1;
    *numel = n;
    *bytes = n * esize;
    return 0;
}

static int cmp_begin(const void *a, const void *b)
{
    const sg_st_tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int parse_tensor(sg_st_tensor *t, const char *name, const char *raw_key, const json_value *v,
                        uint64_t data_len, sg_err *err)
{
    sg_quoted quoted_key = sg_quote_str(raw_key);   /* the file's bytes, for messages */
    const char *key = quoted_key.s;
    if (!json_is(v, JSON_OBJECT))
        return sg_errf(err, "%s: tensor %s: expected an object, found %s", name, key, json_type_name(v->type));
    for (size_t k = 0; k < v->n; k++) {
        const char *m = v->keys[k];
        /* a NUL inside a name ends it for strcmp: "dtype\0x" is not "dtype" */
        if (strlen(m) != v->key_lens[k] || (strcmp(m, "dtype") && strcmp(m, "shape") && strcmp(m, "data_offsets")))
            return sg_errf(err, "%s: tensor %s: unknown field \"%s\"", name, key, sg_quote_bytes(m, v->key_lens[k]).s);
    }
    const char *dtype;
    const json_value *shape, *offsets;
    sg_err e;
    if (json_get_str(v, "dtype", &dtype, &e) || json_get_array(v, "shape", &shape, &e) ||
        json_get_array(v, "data_offsets", &offsets, &e))
        return sg_errf(err, "%s: tensor %s: %s", name, key, e.msg);
    if (!strcmp(dtype, "F32")) t->dtype = SG_ST_F32;
    else if (!strcmp(dtype, "I64")) t->dtype = SG_ST_I64;
    else return sg_errf(err, "%s: tensor %s: dtype \"%s\" is not supported (only F32 and I64)", name, key,
                        sg_quote_str(dtype).s);
    if (shape->n > SG_ST_MAX_DIMS)
        return sg_errf(err, "%s: tensor %s: %zu dimensions (at most %d)", name, key, shape->n, SG_ST_MAX_DIMS);
    t->ndim = (int)shape->n;
    for (size_t d = 0; d < shape->n; d++) {
        const json_value *s = shape->items[d];
        if (!json_is(s, JSON_NUMBER) || !s->is_int || s->i < 0)
            return sg_errf(err, "%s: tensor %s: shape entry %zu is not a non-negative integer", name, key, d);
        t->shape[d] = s->i;
    }
    if (offsets->n != 2)
        return sg_errf(err, "%s: tensor %s: data_offsets has %zu entries (expected 2)", name, key, offsets->n);
    for (int k = 0; k < 2; k++) {
        const json_value *o = offsets->items[k];
        if (!json_is(o, JSON_NUMBER) || !o->is_int || o->i < 0)
            return sg_errf(err, "%s: tensor %s: data_offsets entry %d is not a non-negative integer", name, key, k);
    }
    t->begin = (uint64_t)offsets->items[0]->i;
    t->end = (uint64_t)offsets->items[1]->i;
    if (t->begin > t->end)
        return sg_errf(err, "%s: tensor %s: data_offsets [%llu, %llu] out of order", name, key,
                       (unsigned long long)t->begin, (unsigned long long)t->end);
    if (t->end > data_len)
        return sg_errf(err, "%s: tensor %s: data_offsets [%llu, %llu] out of bounds (the data buffer has %llu bytes)",
                       name, key, (unsigned long long)t->begin, (unsigned long long)t->end,
                       (unsigned long long)data_len);
    uint64_t numel, bytes;
    int overflow = tensor_size(t->shape, t->ndim, t->dtype, &numel, &bytes) != 0;
    if (overflow || bytes != t->end - t->begin) {
        char ss[160];
        shape_str(ss, sizeof ss, t->shape, t->ndim);
        return sg_errf(err, "%s: tensor %s: shape %s of %s needs %s%llu bytes, data_offsets [%llu, %llu] hold %llu",
                       name, key, ss, dtype, overflow ? "more than " : "",
                       (unsigned long long)(overflow ? UINT64_MAX : bytes),
                       (unsigned long long)t->begin, (unsigned long long)t->end,
                       (unsigned long long)(t->end - t->begin));
    }
    t->numel = numel;
    return 0;
}

int sg_st_parse_header(sg_st_file *f, const char *name, const char *header, size_t header_len,
                       uint64_t data_len, sg_err *err)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->data_len = data_len;
    f->data_start = 8 + header_len;
    json_value *root = NULL;
    json_error_pos where;
    sg_err e;
    if (json_parse(header, header_len, NULL, &root, &where, &e) != 0) {
        if (strstr(where.what, "duplicate key"))
            return sg_errf(err, "%s: header: duplicate tensor name (%s)", name, e.msg);
        return sg_errf(err, "%s: header is not valid JSON: %s", name, e.msg);
    }
    if (root->type != JSON_OBJECT) {
        sg_errf(err, "%s: header is a JSON %s, expected an object", name, json_type_name(root->type));
        json_free(root);
        return -1;
    }
    if (!(f->path = strdup(name))) goto oom;
    size_t n = root->n;
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    if (!f->tensors) goto oom;
    for (size_t k = 0; k < n; k++) {
        const char *key = root->keys[k];
        const json_value *v = root->items[k];
        if (strlen(key) != root->key_lens[k] || !key[0]) {
            sg_errf(err, "%s: header: empty tensor name or NUL in a name", name);
            goto fail;
        }
        if (!strcmp(key, "__metadata__")) {
            if (!json_is(v, JSON_OBJECT)) {
                sg_errf(err, "%s: __metadata__: expected an object of strings, found %s", name, json_type_name(v->type));
                goto fail;
            }
            f->meta_keys = calloc(v->n ? v->n : 1, sizeof(char *));
            f->meta_values = calloc(v->n ? v->n : 1, sizeof(char *));
            if (!f->meta_keys || !f->meta_values) goto oom;
            for (size_t m = 0; m < v->n; m++) {
                if (!json_is(v->items[m], JSON_STRING)) {
                    sg_errf(err, "%s: __metadata__ value \"%s\" is a %s, expected a string", name,
                            sg_quote_bytes(v->keys[m], v->key_lens[m]).s, json_type_name(v->items[m]->type));
                    goto fail;
                }
                /* the reader hands out C strings: a NUL would cut them short silently */
                if (strlen(v->keys[m]) != v->key_lens[m] || strlen(v->items[m]->str) != v->items[m]->str_len) {
                    sg_errf(err, "%s: __metadata__ value \"%s\": a NUL in the key or the value", name,
                            sg_quote_bytes(v->keys[m], v->key_lens[m]).s);
                    goto fail;
                }
                f->meta_keys[m] = strdup(v->keys[m]);
                f->meta_values[m] = strdup(v->items[m]->str);
                f->n_meta = m + 1;
                if (!f->meta_keys[m] || !f->meta_values[m]) goto oom;
            }
            continue;
        }
        sg_st_tensor *t = &f->tensors[f->n_tensors];
        if (parse_tensor(t, name, key, v, data_len, err)) goto fail;
        if (!(t->name = strdup(key))) goto oom;
        f->n_tensors++;
    }
    json_free(root);
    root = NULL;
    /* Contiguity: sorted by begin, each tensor starts where the previous ended. */
    qsort(f->tensors, f->n_tensors, sizeof *f->tensors, cmp_begin);
    uint64_t at = 0;
    for (size_t i = 0; i < f->n_tensors; i++) {
        sg_st_tensor *t = &f->tensors[i];
        if (t->begin != at) {
            sg_quoted tn = sg_quote_str(t->name);
            if (t->begin > at)
                sg_errf(err, "%s: tensor %s: data_offsets [%llu, %llu] leave a gap (bytes %llu..%llu belong to no tensor)",
                        name, tn.s, (unsigned long long)t->begin, (unsigned long long)t->end,
                        (unsigned long long)at, (unsigned long long)t->begin);
            else
                sg_errf(err, "%s: tensor %s: data_offsets [%llu, %llu] overlap tensor %s",
                        name, tn.s, (unsigned long long)t->begin, (unsigned long long)t->end,
                        i ? sg_quote_str(f->tensors[i - 1].name).s : "?");
            goto fail;
        }
        at = t->end;
    }
    if (at != data_len) {
        sg_errf(err, "%s: the data buffer has %llu bytes but the tensors cover %llu", name,
                (unsigned long long)data_len, (unsigned long long)at);
        goto fail;
    }
    return 0;
oom:
    sg_err_oom(err, "%s: out of memory", name);
fail:
    json_free(root);
    free_contents(f);
    return -1;
}

static int read_full(int fd, void *buf, size_t n, uint64_t off)
{
    char *p = buf;
    while (n) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0) { if (errno == EINTR) continue; return -1; }
        if (r == 0) { errno = EIO; return -2; }
        p += r; n -= (size_t)r; off += (uint64_t)r;
    }
    return 0;
}

/* What a file's first bytes say it is when it is a PyTorch checkpoint
 * (torch.save): "zip archive" (a zip's local file header "PK\3\4", PyTorch
 * 1.6 on) or "pickle" (the protocol opcode 0x80 then 2..5, the legacy
 * format); NULL for anything else. A safetensors header is JSON, so byte 8
 * is '{': such a file is never taken for either, whatever its length bytes. */
static const char *torch_kind(const unsigned char *b, size_t n)
{
    if (n >= 9 && b[8] == '{') return NULL;
    if (n >= 4 && !memcmp(b, "PK\3\4", 4)) return "zip archive";
    if (n >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5) return "pickle";
    return NULL;
}

const char *sg_st_torch_format(const char *path)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    unsigned char head[9];
    ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? pread(fd, head, sizeof head, 0) : -1;
    close(fd);
    return n > 0 ? torch_kind(head, (size_t)n) : NULL;
}

int sg_st_open(sg_st_file **out, const char *path, sg_err *err)
{
    *out = NULL;
    /* O_NONBLOCK: a FIFO put in a file's place must not block the open for
     * ever; it is refused below, as a directory or a device is */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return sg_errno(err, "%s", path);
    struct stat st;
    if (fstat(fd, &st) != 0) { sg_errno(err, "%s", path); close(fd); return -1; }
    if (sg_refuse_irregular_mode(path, st.st_mode, err)) { close(fd); return -1; }
    uint64_t size = (uint64_t)st.st_size;
    unsigned char head[9];
    size_t head_len = size < sizeof head ? (size_t)size : sizeof head;
    int r = head_len ? read_full(fd, head, head_len, 0) : 0;
    if (r) { r == -1 ? sg_errno(err, "%s: read", path) : sg_errf(err, "%s: truncated", path); close(fd); return -1; }
    const char *torch = torch_kind(head, head_len);
    if (torch) {
        close(fd);
        return sg_errf(err, "%s: a PyTorch checkpoint (%s), not safetensors", path, torch);
    }
    if (size < 8) {
        close(fd);
        return sg_errf(err, "%s: %llu bytes: too short for a safetensors file (truncated?)", path,
                       (unsigned long long)size);
    }
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; k--) hlen = hlen << 8 | head[k];
    if (hlen > SG_ST_MAX_HEADER) {
        close(fd);
        return sg_errf(err, "%s: header length %llu exceeds the limit of %u bytes (not a safetensors file?)",
                       path, (unsigned long long)hlen, SG_ST_MAX_HEADER);
    }
    if (hlen > size - 8) {
        close(fd);
        return sg_errf(err, "%s: header length %llu runs past the end of the file (%llu bytes; truncated?)",
                       path, (unsigned long long)hlen, (unsigned long long)size);
    }
    char *hdr = malloc(hlen + 1);
    if (!hdr) { close(fd); return sg_err_oom(err, "%s: out of memory", path); }
    r = read_full(fd, hdr, hlen, 8);
    if (r) { r == -1 ? sg_errno(err, "%s: read", path) : sg_errf(err, "%s: truncated", path); free(hdr); close(fd); return -1; }
    sg_st_file *f = calloc(1, sizeof *f);
    if (!f) { free(hdr); close(fd); return sg_err_oom(err, "%s: out of memory", path); }
    if (sg_st_parse_header(f, path, hdr, hlen, size - 8 - hlen, err) != 0) {
        free(hdr); free(f); close(fd); return -1;
    }
    free(hdr);
    f->fd = fd;
    *out = f;
    return 0;
}

long sg_st_find(const sg_st_file *f, const char *name)
{
    for (size_t i = 0; i < f->n_tensors; i++)
        if (!strcmp(f->tensors[i].name, name)) return (long)i;
    return -1;
}

const char *sg_st_meta(const sg_st_file *f, const char *key)
{
    for (size_t i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta_keys[i], key)) return f->meta_values[i];
    return NULL;
}

int sg_st_read(sg_st_file *f, size_t i, void *dst, size_t dst_bytes, sg_err *err)
{
    if (i >= f->n_tensors) return sg_errf(err, "%s: no tensor %zu", f->path, i);
    const sg_st_tensor *t = &f->tensors[i];
    sg_quoted tn = sg_quote_str(t->name);
    if (dst_bytes != t->end - t->begin)
        return sg_errf(err, "%s: tensor %s: has %llu bytes, caller expects %zu", f->path, tn.s,
                       (unsigned long long)(t->end - t->begin), dst_bytes);
    if (f->fd < 0) return sg_errf(err, "%s: not open", f->path);
    int r = read_full(f->fd, dst, dst_bytes, f->data_start + t->begin);
    if (r == -1) return sg_errno(err, "%s: tensor %s: read", f->path, tn.s);
    if (r == -2) return sg_errf(err, "%s: tensor %s: file truncated while reading", f->path, tn.s);
    return 0;
}

/* ---- writer ---- */

struct sg_st_writer {
    char *path, *tmp;
    int fd, tmp_slot;   /* tmp_slot: the temporary name's registration (lib/fileio.h) */
    size_t n, next;
    uint64_t *sizes;
};

static int write_full(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) { if (errno == EINTR) continue; return -1; }
        p += w; n -= (size_t)w;
    }
    return 0;
}

void sg_st_writer_abort(sg_st_writer *w)
{
    if (!w) return;
    if (w->fd >= 0) close(w->fd);
    if (w->tmp) unlink(w->tmp);
    sg_temp_untrack(w->tmp_slot);
    free(w->path); free(w->tmp); free(w->sizes);
    free(w);
}

int sg_st_writer_begin(sg_st_writer **out, const char *path, const sg_st_spec *specs, size_t n,
                       const char *const *meta_keys, const char *const *meta_values,
                       size_t n_meta, sg_err *err)
{
    *out = NULL;
    sg_buf b = SG_BUF_INIT;
    sg_st_writer *w = calloc(1, sizeof *w);
    if (!w) return sg_err_oom(err, "%s: out of memory", path);
    w->fd = -1;
    w->tmp_slot = -1;
    w->n = n;
    w->sizes = calloc(n ? n : 1, sizeof *w->sizes);
    w->path = strdup(path);
    size_t tl = strlen(path) + sg_temp_name_extra(".tmp.") + 1;
    w->tmp = malloc(tl);
    if (!w->sizes || !w->path || !w->tmp) { free(w->tmp); w->tmp = NULL; sg_err_oom(err, "%s: out of memory", path); goto fail; }
    sg_temp_name(w->tmp, tl, path, ".tmp.");   /* fits: tl is its most */

    sg_buf_putc(&b, '{');
    if (n_meta) {
        json_buf_cstr(&b, "__metadata__");
        sg_buf_puts(&b, ":{");
        for (size_t m = 0; m < n_meta; m++) {
            if (m) sg_buf_putc(&b, ',');
            json_buf_cstr(&b, meta_keys[m]);
            sg_buf_putc(&b, ':');
            json_buf_cstr(&b, meta_values[m]);
        }
        sg_buf_putc(&b, '}');
    }
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const sg_st_spec *s = &specs[i];
        if (!s->name || !s->name[0] || !strcmp(s->name, "__metadata__")) {
            sg_errf(err, "%s: invalid tensor name \"%s\"", path, s->name ? s->name : "(null)");
            goto fail;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(specs[j].name, s->name)) { sg_errf(err, "%s: duplicate tensor name %s", path, s->name); goto fail; }
        if (s->dtype != SG_ST_F32 && s->dtype != SG_ST_I64) {
            sg_errf(err, "%s: tensor %s: unsupported dtype %d", path, s->name, s->dtype);
            goto fail;
        }
        if (s->ndim < 0 || s->ndim > SG_ST_MAX_DIMS) {
            sg_errf(err, "%s: tensor %s: %d dimensions", path, s->name, s->ndim);
            goto fail;
        }
        for (int d = 0; d < s->ndim; d++)
            if (s->shape[d] < 0) { sg_errf(err, "%s: tensor %s: negative shape", path, s->name); goto fail; }
        uint64_t numel, bytes;
        if (tensor_size(s->shape, s->ndim, s->dtype, &numel, &bytes)) {
            char ss[160];
            shape_str(ss, sizeof ss, s->shape, s->ndim);
            sg_errf(err, "%s: tensor %s: shape %s of %s needs more than %llu bytes", path, s->name, ss,
                    sg_st_dtype_name(s->dtype), (unsigned long long)UINT64_MAX);
            goto fail;
        }
        /* the reader takes offsets as JSON integers up to 2^63 - 1 */
        if (bytes > (uint64_t)INT64_MAX - off) {
            sg_errf(err, "%s: tensor %s: %llu bytes at data offset %llu end past %lld, the largest offset a reader accepts",
                    path, s->name, (unsigned long long)bytes, (unsigned long long)off, (long long)INT64_MAX);
            goto fail;
        }
        w->sizes[i] = bytes;
        if (i || n_meta) sg_buf_putc(&b, ',');
        json_buf_cstr(&b, s->name);
        sg_buf_appendf(&b, ":{\"dtype\":\"%s\",\"shape\":[", sg_st_dtype_name(s->dtype));
        for (int d = 0; d < s->ndim; d++) sg_buf_appendf(&b, "%s%lld", d ? "," : "", (long long)s->shape[d]);
        sg_buf_appendf(&b, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                       (unsigned long long)(off + bytes));
        off += bytes;
    }
    sg_buf_putc(&b, '}');
    /* Pad so that the data buffer starts at a multiple of 8 bytes. */
    while (b.len % 8 && !b.failed) sg_buf_putc(&b, ' ');
    if (b.failed) { sg_err_oom(err, "%s: out of memory", path); goto fail; }

    w->fd = sg_temp_create_tracked(w->tmp, &w->tmp_slot);
    if (w->fd < 0) {
        if (errno != ENOENT || !sg_err_missing_dir(w->path, err)) sg_errno(err, "%s", w->path);
        free(w->tmp);
        w->tmp = NULL;
        goto fail;
    }
    unsigned char lenb[8];
    uint64_t hl = b.len;
    for (int k = 0; k < 8; k++) lenb[k] = (unsigned char)(hl >> (8 * k));
    if (write_full(w->fd, lenb, 8) || write_full(w->fd, b.data, b.len)) {
        sg_errno(err, "%s: write", w->path);
        goto fail;
    }
    sg_buf_free(&b);
    *out = w;
    return 0;
fail:
    sg_buf_free(&b);
    sg_st_writer_abort(w);
    return -1;
}

int sg_st_writer_put(sg_st_writer *w, const void *data, size_t bytes, sg_err *err)
{
    if (w->next >= w->n) return sg_errf(err, "%s: more tensors than declared", w->path);
    if (bytes != w->sizes[w->next])
        return sg_errf(err, "%s: tensor %zu: %zu bytes given, %llu declared", w->path, w->next, bytes,
                       (unsigned long long)w->sizes[w->next]);
    if (bytes && write_full(w->fd, data, bytes)) return sg_errno(err, "%s: write", w->path);
    w->next++;
    return 0;
}

int sg_st_writer_commit(sg_st_writer *w, sg_err *err)
{
    int rc = -1;
    if (w->next != w->n) { sg_errf(err, "%s: %zu of %zu tensors written", w->path, w->next, w->n); goto done; }
    if (fsync(w->fd) != 0) { sg_errno(err, "%s: fsync", w->path); goto done; }
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) != 0) { sg_errno(err, "%s: close", w->path); goto done; }
    if (rename(w->tmp, w->path) != 0) { sg_errno(err, "%s: rename", w->path); goto done; }
    free(w->tmp);
    w->tmp = NULL;   /* renamed: nothing to delete */
    sg_temp_untrack(w->tmp_slot);
    w->tmp_slot = -1;
    char dir[PATH_MAX];
    sg_dir_of(w->path, dir, sizeof dir);
    rc = sg_fsync_dir_after(w->path, dir, err);   /* in place: a failure is a warning (lib/fileio.h) */
done:
    sg_st_writer_abort(w);
    return rc;
}

int sg_st_write(const char *path, const sg_st_spec *specs, size_t n,
                const char *const *meta_keys, const char *const *meta_values, size_t n_meta,
                sg_err *err)
{
    sg_st_writer *w;
    if (sg_st_writer_begin(&w, path, specs, n, meta_keys, meta_values, n_meta, err)) return -1;
    for (size_t i = 0; i < n; i++) {
        if (sg_st_writer_put(w, specs[i].data, w->sizes[i], err)) { sg_st_writer_abort(w); return -1; }
    }
    return sg_st_writer_commit(w, err);
}
