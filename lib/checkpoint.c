#include "checkpoint.h"
#include "checkpoint_testing.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fileio.h"
#include "json.h"
#include "run_config.h"
#include "safetensors.h"
#include "shard.h"
#include "strbuf.h"
#include "text_escape.h"
#include "version.h"

void sg_ckpt_dataset_names(const sg_ckpt_info *info, const char *names[SG_MAX_DATASETS])
{
    for (int ds = 0; ds < SG_MAX_DATASETS; ds++) names[ds] = info->dataset_names[ds];
}

void sg_ckpt_info_free(sg_ckpt_info *info)
{
    if (!info) return;
    if (info->label_names)
        for (int i = 0; i < info->n_labels; i++) free(info->label_names[i]);
    free(info->label_names);
    info->label_names = NULL;
    info->n_labels = 0;
}

int sg_ckpt_dataset_crop(const sg_ckpt_info *info, int ds)
{
    return info->has_dataset_crops && ds >= 0 && ds < SG_MAX_DATASETS ? info->dataset_crop[ds] : info->crop;
}

int sg_ckpt_path(char *out, size_t n, const char *run_dir, int64_t step, const char *kind)
{
    int len = kind ? snprintf(out, n, "%s/ckpt/%06lld-%s.safetensors", run_dir, (long long)step, kind)
                   : snprintf(out, n, "%s/ckpt/%06lld", run_dir, (long long)step);
    return len >= 0 && (size_t)len < n ? 0 : -1;
}

/* ---- metadata ---- */

enum { META_MAX = 24 };
typedef struct {
    size_t n;
    const char *keys[META_MAX];
    char *values[META_MAX];
} meta_list;

static void meta_free(meta_list *ml)
{
    for (size_t i = 0; i < ml->n; i++) free(ml->values[i]);
    ml->n = 0;
}

static int meta_addf(meta_list *ml, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int meta_addf(meta_list *ml, const char *key, const char *fmt, ...)
{
    sg_buf b = SG_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    sg_buf_vappendf(&b, fmt, ap);
    va_end(ap);
    char *s = sg_buf_take(&b, NULL);
    if (!s) return -1;
    ml->keys[ml->n] = key;
    ml->values[ml->n++] = s;
    return 0;
}

static int meta_build(meta_list *ml, const sg_ckpt_info *info, const char *net, int64_t step, sg_err *err)
{
    const sg_model_config *c = &info->model;
    ml->n = 0;
    int rc = 0;
    rc |= meta_addf(ml, "format", "%s", SG_CKPT_FORMAT);
    rc |= meta_addf(ml, "net", "%s", net);
    rc |= meta_addf(ml, "created_by", "%s", sg_created_by);
    rc |= meta_addf(ml, "step", "%lld", (long long)step);
    rc |= meta_addf(ml, "image_size", "%d", c->image_size);
    rc |= meta_addf(ml, "g_conv_dim", "%d", c->g_conv_dim);
    rc |= meta_addf(ml, "g_repeat", "%d", c->g_repeat);
    rc |= meta_addf(ml, "d_conv_dim", "%d", c->d_conv_dim);
    rc |= meta_addf(ml, "d_repeat", "%d", c->d_repeat);
    rc |= meta_addf(ml, "c_dim", "%d", sg_model_c_dim(c));
    rc |= meta_addf(ml, "cls_dim", "%d", sg_model_cls_dim(c));
    rc |= meta_addf(ml, "n_datasets", "%d", c->n_datasets);
    rc |= meta_addf(ml, "crop", "%d", info->crop);
    sg_buf b = SG_BUF_INIT, all = SG_BUF_INIT;
    sg_buf_putc(&b, '[');
    sg_buf_putc(&all, '[');
    for (int ds = 0; ds < c->n_datasets; ds++) {
        int off = sg_model_label_offset(c, ds);
        if (ds) sg_buf_putc(&b, ',');
        sg_buf_puts(&b, "{\"name\":");
        json_buf_cstr(&b, info->dataset_names[ds]);
        sg_buf_appendf(&b, ",\"label_kind\":\"%s\",\"offset\":%d,\"labels\":[",
                       c->one_hot[ds] ? "one-hot" : "multi-hot", off);
        for (int j = 0; j < c->label_dim[ds]; j++) {
            if (j) sg_buf_putc(&b, ',');
            json_buf_cstr(&b, info->label_names[off + j]);
            if (off + j) sg_buf_putc(&all, ',');
            json_buf_cstr(&all, info->label_names[off + j]);
        }
        /* each dataset's own crop: sg-sample frames a photo as that dataset's
         * shard was (CelebA 178, RaFD 256); the top-level "crop" is dataset 1's */
        sg_buf_appendf(&b, "],\"crop\":%d}", sg_ckpt_dataset_crop(info, ds));
    }
    sg_buf_putc(&b, ']');
    sg_buf_putc(&all, ']');
    char *s = sg_buf_take(&b, NULL), *a = sg_buf_take(&all, NULL);
    if (s) { ml->keys[ml->n] = "datasets"; ml->values[ml->n++] = s; } else rc = -1;
    if (a) { ml->keys[ml->n] = "label_names"; ml->values[ml->n++] = a; } else rc = -1;
    /* the seed of every draw: config.json's is a text a user may edit, this one
     * tells a resume whether the run's draws go on as they were */
    if (info->has_seed && !strcmp(net, "state")) rc |= meta_addf(ml, "seed", "%llu", (unsigned long long)info->seed);
    if (c->n_datasets > 1)
        rc |= meta_addf(ml, "mask", "{\"offset\":%d,\"size\":%d}", sg_model_cls_dim(c), c->n_datasets);
    else
        rc |= meta_addf(ml, "mask", "null");
    if (rc) { meta_free(ml); return sg_err_oom(err, "out of memory"); }
    return 0;
}

static int meta_int(const sg_st_file *f, const char *key, long min, long max, long *out, sg_err *err)
{
    const char *v = sg_st_meta(f, key);
    if (!v) return sg_errf(err, "%s: metadata lacks \"%s\" (not a stargan-c checkpoint?)", f->path, key);
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < min || x > max)
        return sg_errf(err, "%s: metadata \"%s\": '%s' is not an integer in [%ld, %ld]", f->path, key,
                       sg_quote_str(v).s, min, max);
    *out = x;
    return 0;
}

static int info_from_file(const sg_st_file *f, sg_ckpt_info *info, sg_err *err)
{
    memset(info, 0, sizeof *info);
    const char *fmt = sg_st_meta(f, "format");
    if (!fmt) return sg_errf(err, "%s: metadata lacks \"format\" (not a stargan-c checkpoint?)", f->path);
    if (strcmp(fmt, SG_CKPT_FORMAT)) {
        if (sg_format_version(fmt, SG_CKPT_FORMAT_FAMILY) > 1)
            return sg_errf(err, "%s: written by a newer stargan-c (format \"%s\"; this one reads %s): use that "
                           "version", f->path, sg_quote_str(fmt).s, SG_CKPT_FORMAT);
        return sg_errf(err, "%s: format \"%s\" is not supported (expected %s)", f->path, sg_quote_str(fmt).s,
                       SG_CKPT_FORMAT);
    }
    sg_model_config *c = &info->model;
    long v[8];
    if (meta_int(f, "image_size", 1, 1 << 16, &v[0], err) || meta_int(f, "g_conv_dim", 1, 1 << 16, &v[1], err) ||
        meta_int(f, "g_repeat", 0, 1024, &v[2], err) || meta_int(f, "d_conv_dim", 1, 1 << 16, &v[3], err) ||
        meta_int(f, "d_repeat", 1, 30, &v[4], err) || meta_int(f, "n_datasets", 1, SG_MAX_DATASETS, &v[5], err) ||
        meta_int(f, "step", 0, LONG_MAX, &v[6], err))
        return -1;
    c->image_size = (int)v[0];
    c->g_conv_dim = (int)v[1];
    c->g_repeat = (int)v[2];
    c->d_conv_dim = (int)v[3];
    c->d_repeat = (int)v[4];
    c->n_datasets = (int)v[5];
    info->step = v[6];
    if (sg_st_meta(f, "crop")) {
        if (meta_int(f, "crop", 0, 1 << 16, &v[7], err)) return -1;
        info->crop = (int)v[7];
    }
    const char *seed = sg_st_meta(f, "seed");
    if (seed) {
        char *end;
        errno = 0;
        unsigned long long x = strtoull(seed, &end, 10);
        if (errno || end == seed || *end || *seed < '0' || *seed > '9')
            return sg_errf(err, "%s: metadata \"seed\": '%s' is not an unsigned integer", f->path,
                           sg_quote_str(seed).s);
        info->seed = x;
        info->has_seed = 1;
    }
    const char *by = sg_st_meta(f, "created_by");   /* optional: older builds did not write it */
    if (by) snprintf(info->created_by, sizeof info->created_by, "%s", by);
    const char *ds_text = sg_st_meta(f, "datasets");
    if (!ds_text) return sg_errf(err, "%s: metadata lacks \"datasets\"", f->path);
    json_value *root = NULL;
    sg_err e;
    if (json_parse(ds_text, strlen(ds_text), NULL, &root, NULL, &e))
        return sg_errf(err, "%s: metadata \"datasets\": %s", f->path, e.msg);
    if (!json_is(root, JSON_ARRAY) || (int)root->n != c->n_datasets) {
        json_free(root);
        return sg_errf(err, "%s: metadata \"datasets\": expected an array of %d datasets", f->path, c->n_datasets);
    }
    int total = 0;
    for (int ds = 0; ds < c->n_datasets; ds++) {
        const json_value *d = root->items[ds], *labels;
        const char *name, *kind;
        if (json_get_str(d, "name", &name, &e) || json_get_str(d, "label_kind", &kind, &e) ||
            json_get_array(d, "labels", &labels, &e)) {
            sg_errf(err, "%s: metadata \"datasets\" entry %d: %s", f->path, ds, e.msg);
            goto fail;
        }
        snprintf(info->dataset_names[ds], SG_CKPT_NAME_MAX, "%s", name);
        if (!strcmp(kind, "one-hot")) c->one_hot[ds] = 1;
        else if (strcmp(kind, "multi-hot")) {
            sg_errf(err, "%s: metadata \"datasets\" entry %d: unknown label_kind \"%s\"", f->path, ds,
                    sg_quote_str(kind).s);
            goto fail;
        }
        if (labels->n < 1 || labels->n > 4096) {
            sg_errf(err, "%s: metadata \"datasets\" entry %d: %zu labels", f->path, ds, labels->n);
            goto fail;
        }
        c->label_dim[ds] = (int)labels->n;
        total += (int)labels->n;
        info->dataset_crop[ds] = info->crop;   /* files of older builds: the top-level crop */
        if (json_get(d, "crop")) {
            int64_t crop;
            if (json_get_int(d, "crop", &crop, &e) || crop < 0 || crop > 1 << 16) {
                sg_errf(err, "%s: metadata \"datasets\" entry %d: \"crop\" is not an integer in [0, 65536]",
                        f->path, ds);
                goto fail;
            }
            info->dataset_crop[ds] = (int)crop;
            info->dataset_crop_recorded[ds] = 1;
        }
    }
    info->has_dataset_crops = 1;
    info->label_names = calloc(total, sizeof(char *));
    if (!info->label_names) { sg_err_oom(err, "out of memory"); goto fail; }
    info->n_labels = total;
    for (int ds = 0, k = 0; ds < c->n_datasets; ds++) {
        const json_value *labels = json_get(root->items[ds], "labels");
        for (size_t j = 0; j < labels->n; j++, k++) {
            const char *s = json_str(labels->items[j]);
            if (!s) { sg_errf(err, "%s: metadata \"datasets\" entry %d: label %zu is not a string", f->path, ds, j); goto fail; }
            if (!(info->label_names[k] = strdup(s))) { sg_err_oom(err, "out of memory"); goto fail; }
        }
    }
    json_free(root);
    long cdim;
    if (meta_int(f, "c_dim", 1, 1 << 20, &cdim, err)) { sg_ckpt_info_free(info); return -1; }
    if (cdim != sg_model_c_dim(c)) {
        sg_ckpt_info_free(info);
        return sg_errf(err, "%s: metadata: c_dim %ld does not match the datasets' %d labels", f->path, cdim, sg_model_c_dim(c));
    }
    return 0;
fail:
    json_free(root);
    sg_ckpt_info_free(info);
    return -1;
}

long sg_format_version(const char *text, const char *family)
{
    size_t n = strlen(family);
    if (strncmp(text, family, n) || text[n] != '/' || text[n + 1] < '1' || text[n + 1] > '9') return 0;
    long v = 0;
    for (const char *p = text + n + 1; *p; p++) {
        if (*p < '0' || *p > '9' || v > 100000000) return 0;
        v = v * 10 + (*p - '0');
    }
    return v;
}

int sg_ckpt_newer_format(const char *run_dir, int64_t step)
{
    const char *nets[3] = {"G", "D", "state"};
    int newer = 0;
    for (int k = 0; k < 3 && !newer; k++) {
        char path[PATH_MAX];
        sg_st_file *f;
        sg_err e;
        if (sg_ckpt_path(path, sizeof path, run_dir, step, nets[k]) || sg_st_open(&f, path, &e)) continue;
        const char *fmt = sg_st_meta(f, "format");
        newer = fmt && sg_format_version(fmt, SG_CKPT_FORMAT_FAMILY) > 1;
        sg_st_close(f);
    }
    return newer;
}

int sg_ckpt_read_info(const char *path, sg_ckpt_info *info, sg_err *err)
{
    sg_st_file *f;
    memset(info, 0, sizeof *info);
    if (sg_st_open(&f, path, err)) return -1;
    int rc = info_from_file(f, info, err);
    sg_st_close(f);
    return rc;
}

/* ---- one net ---- */

static void shape_str(char *out, size_t n, const int64_t *shape, int ndim)
{
    size_t o = snprintf(out, n, "[");
    for (int d = 0; d < ndim && o < n; d++) o += snprintf(out + o, n - o, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (o < n) snprintf(out + o, n - o, "]");
}

static const char *net_name(sg_net net) { return net == SG_NET_G ? "G" : "D"; }

/* The metadata "net" of a stargan-c file ("G", "D", "state"; absent in a file
 * made elsewhere) must be the one asked for: a D file given for G otherwise
 * fails on its first tensor's shape as if the model configuration differed. */
static const char *net_contents(const char *net)
{
    return !strcmp(net, "G") ? "G's weights" : !strcmp(net, "D") ? "D's weights"
         : !strcmp(net, "state") ? "the optimizer state" : "something else";
}

static int check_net_kind(const sg_st_file *f, const char *want, sg_err *err)
{
    const char *have = sg_st_meta(f, "net");
    if (!have || !strcmp(have, want)) return 0;
    sg_errf(err, "%s: metadata net \"%s\": this file holds %s, not %s", f->path, sg_quote_str(have).s,
            net_contents(have), net_contents(want));
    /* a checkpoint's other file (PREFIX-D.safetensors for G): the one meant
     * is beside it, under the name sg_ckpt_path gives it */
    char suffix[32], beside[PATH_MAX];
    snprintf(suffix, sizeof suffix, "-%s.safetensors", have);
    size_t n = strlen(f->path), k = strlen(suffix);
    if (strcmp(net_contents(have), "something else") && n > k && !strcmp(f->path + n - k, suffix) &&
        snprintf(beside, sizeof beside, "%.*s-%s.safetensors", (int)(n - k), f->path, want) < (int)sizeof beside &&
        sg_ckpt_file_there(beside))
        sg_err_suffix(err, "; give the %s file beside it, %s", want, beside);
    return -1;
}

/* The file's dtype of a model tensor of dtype d (lib/model.h stays free of
 * safetensors, so the two enums are kept apart, with the same values: held
 * here, where both headers meet). */
_Static_assert((int)SG_ST_F32 == (int)SG_DTYPE_F32 && (int)SG_ST_I64 == (int)SG_DTYPE_I64,
               "safetensors.h's dtypes and model.h's must keep the same values");
static int st_dtype(int d) { return d == SG_DTYPE_I64 ? SG_ST_I64 : SG_ST_F32; }

/* Bytes of the largest tensor (a scratch buffer for one tensor at a time). */
static size_t max_bytes(const sg_tensor_info *t, int n)
{
    size_t mx = 8;
    for (int i = 0; i < n; i++) {
        size_t b = t[i].numel * (t[i].dtype == SG_DTYPE_I64 ? 8 : 4);
        if (b > mx) mx = b;
    }
    return mx;
}

/* A generator-only model (sg_model_create_generator) holds G alone: loading
 * or saving D or the optimizer state into it is refused before any file is read. */
static int refuse_generator_only(sg_model *m, const char *path, const char *what, sg_err *err)
{
    if (!sg_model_is_generator_only(m)) return 0;
    return sg_errf(err, "%s: %s needs a training model (this one is generator-only: G alone)", path, what);
}

/* Metadata "data_crc32": the CRC-32 (zlib's) of a file's data buffer, as 8
 * hex digits. safetensors has no checksum of its own: a flipped bit in the
 * weights or the Adam moments would load without a word, and a resume would
 * silently go on from other values than the interrupted run's. Files without
 * the key (made elsewhere, or before it) are read unchecked. */
#define META_CRC "data_crc32"

static int write_net_crc(sg_model *m, sg_net net, const char *path, const sg_ckpt_info *info, int64_t step,
                         uint32_t *crc_out, const volatile sig_atomic_t *abandon, sg_err *err);

int sg_ckpt_write_net(sg_model *m, sg_net net, const char *path, const sg_ckpt_info *info,
                      int64_t step, sg_err *err)
{
    return write_net_crc(m, net, path, info, step, NULL, NULL, err);
}

/* Metadata key (a CRC-32 as 8 hex digits) of f into *crc: 1, or 0 when the key
 * is absent, or -1 and err when it is not 8 hex digits. */
static int meta_crc(sg_st_file *f, const char *key, uint32_t *crc, sg_err *err)
{
    const char *v = sg_st_meta(f, key);
    if (!v) return 0;
    char *end;
    errno = 0;
    unsigned long want = strtoul(v, &end, 16);
    if (errno || end == v || *end || strlen(v) != 8 || !isxdigit((unsigned char)v[0]))
        return sg_errf(err, "%s: metadata \"%s\": '%s' is not 8 hex digits", f->path, key, sg_quote_str(v).s);
    *crc = (uint32_t)want;
    return 1;
}

/* The CRC-32 of f's data buffer (everything after the header). */
static int data_crc(sg_st_file *f, uint32_t *out, sg_err *err)
{
    enum { CHUNK = 1 << 20 };
    uint8_t *buf = malloc(CHUNK);
    if (!buf) return sg_err_oom(err, "%s: out of memory", f->path);
    uint32_t crc = 0;
    uint64_t done = 0;
    while (done < f->data_len) {
        size_t want_n = f->data_len - done < CHUNK ? (size_t)(f->data_len - done) : CHUNK;
        ssize_t r = pread(f->fd, buf, want_n, (off_t)(f->data_start + done));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            free(buf);
            return r < 0 ? sg_errno(err, "%s: read", f->path) : sg_errf(err, "%s: truncated", f->path);
        }
        crc = sg_crc32(crc, buf, (size_t)r);
        done += (uint64_t)r;
    }
    free(buf);
    *out = crc;
    return 0;
}

/* What a file's header records of CRC-32s, and what its data's is. */
typedef struct {
    int has_own;          /* "data_crc32": its own data's */
    uint32_t own;
    int has_net[2];       /* a state file's "G_data_crc32", "D_data_crc32": the data */
    uint32_t net[2];      /* of the G and D saved with it */
    uint32_t data;        /* the data's CRC-32, where crc_check read the data */
} crc_record;

/* Which data crc_check reads: none (the header's keys alone), the data when
 * the file records its own CRC, or the data always (its CRC is compared with
 * a state file's record too). */
typedef enum { CRC_KEYS_ONLY, CRC_DATA_IF_RECORDED, CRC_DATA_ALWAYS } crc_read;

/* The one check of a file's CRC-32s (every reader's): parses f's own key and,
 * with state_keys, a state file's G_ and D_ keys; reads the data as `read`
 * says into r->data, and compares it with the file's own key. Errors, the first
 * found reported (sg-train's messages for a checkpoint with two faults depend
 * on this order): a malformed key (own, G_, D_), a state file's keys not all
 * three or none, the data unreadable, the data unlike its own key. */
static int crc_check(sg_st_file *f, int state_keys, crc_read read, crc_record *r, sg_err *err)
{
    memset(r, 0, sizeof *r);
    if ((r->has_own = meta_crc(f, META_CRC, &r->own, err)) < 0) return -1;
    if (state_keys) {
        if ((r->has_net[0] = meta_crc(f, "G_" META_CRC, &r->net[0], err)) < 0 ||
            (r->has_net[1] = meta_crc(f, "D_" META_CRC, &r->net[1], err)) < 0)
            return -1;
        /* sg_ckpt_save writes the three keys together: one without the others
         * is a damaged header, whose data would go unchecked */
        if ((r->has_net[0] || r->has_net[1]) && !(r->has_net[0] && r->has_net[1] && r->has_own))
            return sg_errf(err, "%s: metadata holds %s but not %s: the header is damaged", f->path,
                           r->has_net[0] ? "G_" META_CRC : r->has_net[1] ? "D_" META_CRC : META_CRC,
                           !r->has_own ? META_CRC : !r->has_net[0] ? "G_" META_CRC : "D_" META_CRC);
    }
    if (read == CRC_KEYS_ONLY || (read == CRC_DATA_IF_RECORDED && !r->has_own)) return 0;
    if (data_crc(f, &r->data, err)) return -1;
    if (r->has_own && r->own != r->data)
        return sg_errf(err, "%s: the data does not match its checksum (CRC-32 %08x, recorded %08x): the file is "
                       "damaged", f->path, r->data, r->own);
    return 0;
}

/* Net n's file (r: its crc_check with the data read) against the CRC-32 the
 * state file state_path recorded for it: 0 when they agree. Compared with the
 * data itself, not with the file's own key: a damaged G or D whose data_crc32
 * key is damaged too (read as a file without a CRC) is still caught. */
static int check_net_record(const char *net_path, int n, const crc_record *r, const char *state_path,
                            uint32_t recorded, sg_err *err)
{
    if (r->data == recorded) return 0;
    if (r->has_own)   /* whole (its own CRC matches): another checkpoint's */
        return sg_errf(err, "%s: not the %s saved with %s (its data CRC-32 is %08x, the state file recorded %08x): "
                       "files of different checkpoints or runs mixed", net_path, n ? "D" : "G", state_path, r->data,
                       recorded);
    return sg_errf(err, "%s: the data does not match the checksum %s recorded for it (CRC-32 %08x, recorded %08x): "
                   "the file is damaged, or files of different checkpoints or runs are mixed", net_path, state_path,
                   r->data, recorded);
}

/* A save given up at its caller's request (sg_ckpt_save_abandonable):
 * -1 and err (sys_errno ECANCELED) when *abandon is set; else 0. */
static int abandoned(const volatile sig_atomic_t *abandon, int64_t step, sg_err *err)
{
    if (!abandon || !*abandon) return 0;
    sg_errf(err, "checkpoint %06lld abandoned before it was complete", (long long)step);
    err->sys_errno = ECANCELED;
    return -1;
}

static int write_net_crc(sg_model *m, sg_net net, const char *path, const sg_ckpt_info *info, int64_t step,
                         uint32_t *crc_out, const volatile sig_atomic_t *abandon, sg_err *err)
{
    const sg_tensor_info *list;
    if (net != SG_NET_G && refuse_generator_only(m, path, "writing D", err)) return -1;
    int n = sg_model_tensors(m, net, &list);
    if (n <= 0) return sg_errf(err, "%s: model has no tensors", path);
    sg_st_spec *specs = calloc(n, sizeof *specs);
    void *buf = malloc(max_bytes(list, n));
    meta_list ml = {0};
    sg_st_writer *w = NULL;
    if (!specs || !buf) { free(specs); free(buf); return sg_err_oom(err, "%s: out of memory", path); }
    for (int i = 0; i < n; i++) {
        specs[i].name = list[i].name;
        specs[i].dtype = st_dtype(list[i].dtype);
        specs[i].ndim = list[i].ndim;
        for (int d = 0; d < list[i].ndim; d++) specs[i].shape[d] = list[i].shape[d];
    }
    int rc = -1;
    /* The header holds the data's CRC, so the data is gathered twice: once for
     * the CRC, once to write it (a tensor at a time; no second copy of the net). */
    uint32_t crc = 0;
    for (int i = 0; i < n; i++) {
        if (abandoned(abandon, step, err)) goto done;
        if (sg_model_get_tensor(m, net, i, buf, err)) { sg_err_prefix(err, "%s", path); goto done; }
        crc = sg_crc32(crc, buf, list[i].numel * sg_st_dtype_size(specs[i].dtype));
    }
    if (meta_build(&ml, info, net_name(net), step, err)) goto done;
    if (meta_addf(&ml, META_CRC, "%08x", crc)) { sg_err_oom(err, "out of memory"); goto done; }
    if (crc_out) *crc_out = crc;
    if (sg_st_writer_begin(&w, path, specs, n, ml.keys, (const char *const *)ml.values, ml.n, err)) goto done;
    for (int i = 0; i < n; i++) {
        if (abandoned(abandon, step, err)) goto done;
        if (sg_model_get_tensor(m, net, i, buf, err)) { sg_err_prefix(err, "%s", path); goto done; }
        if (sg_st_writer_put(w, buf, list[i].numel * sg_st_dtype_size(specs[i].dtype), err)) goto done;
    }
    if (abandoned(abandon, step, err)) goto done;   /* before the fsync, the longest wait */
    rc = sg_st_writer_commit(w, err);
    w = NULL;
done:
    sg_st_writer_abort(w);
    meta_free(&ml);
    free(specs);
    free(buf);
    return rc;
}

/* Checks that f holds exactly the tensors of list (by name, dtype, shape), with
 * an optional name prefix; idx[i] receives the file index of list[i]. Only
 * tensors with trainable_only set (when nonzero) are considered. */
static int match_tensors(const sg_st_file *f, const sg_tensor_info *list, int n, const char *prefix,
                         int trainable_only, long *idx, int *matched, sg_err *err)
{
    char name[256], s1[160], s2[160];
    *matched = 0;
    for (int i = 0; i < n; i++) {
        idx[i] = -1;
        if (trainable_only && !list[i].trainable) continue;
        snprintf(name, sizeof name, "%s%s", prefix, list[i].name);
        long k = sg_st_find(f, name);
        if (k < 0) return sg_errf(err, "%s: missing tensor %s (a checkpoint of another model?)", f->path, name);
        const sg_st_tensor *t = &f->tensors[k];
        int want_dtype = st_dtype(list[i].dtype);
        if (t->dtype != want_dtype)
            return sg_errf(err, "%s: tensor %s: dtype %s, expected %s", f->path, name, sg_st_dtype_name(t->dtype),
                           sg_st_dtype_name(want_dtype));
        int same = t->ndim == list[i].ndim;
        for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == list[i].shape[d];
        if (!same) {
            shape_str(s1, sizeof s1, t->shape, t->ndim);
            shape_str(s2, sizeof s2, list[i].shape, list[i].ndim);
            return sg_errf(err, "%s: tensor %s: shape %s, expected %s (the model configuration differs)",
                           f->path, name, s1, s2);
        }
        idx[i] = k;
        (*matched)++;
    }
    return 0;
}

/* A net's file, opened and matched against the model (net_match), to be read
 * into it (net_apply): sg_ckpt_load checks all three files before it changes
 * anything in the model. */
typedef struct {
    sg_st_file *f;
    long *idx;          /* file index of each of the model's tensors */
} net_file;

static void net_close(net_file *nf)
{
    sg_st_close(nf->f);
    free(nf->idx);
    nf->f = NULL;
    nf->idx = NULL;
}

/* Checks that nf->f (open) holds exactly the model's tensors of net. */
/* f holds net's tensors of list (n) and nothing else: idx (n entries) gets
 * each one's index in f. */
static int match_net_tensors(const sg_st_file *f, sg_net net, const sg_tensor_info *list, int n, long *idx,
                             sg_err *err)
{
    int matched;
    if (check_net_kind(f, net_name(net), err) || match_tensors(f, list, n, "", 0, idx, &matched, err)) return -1;
    if ((size_t)matched != f->n_tensors) {
        for (size_t k = 0; k < f->n_tensors; k++) {
            int known = 0;
            for (int i = 0; i < n && !known; i++) known = idx[i] == (long)k;
            if (!known)
                return sg_errf(err, "%s: unexpected tensor %s (a checkpoint of another model?)", f->path,
                               sg_quote_str(f->tensors[k].name).s);
        }
    }
    return 0;
}

static int net_match(sg_model *m, sg_net net, net_file *nf, sg_err *err)
{
    const sg_tensor_info *list;
    int n = sg_model_tensors(m, net, &list);
    if (!(nf->idx = calloc(n ? n : 1, sizeof *nf->idx))) return sg_err_oom(err, "%s: out of memory", nf->f->path);
    return match_net_tensors(nf->f, net, list, n, nf->idx, err);
}

int sg_ckpt_check_generator_tensors(const char *path, const sg_ckpt_info *info, sg_err *err)
{
    sg_tensor_info *list;
    int n = sg_model_layout(&info->model, SG_NET_G, &list, err);
    if (n < 0) return sg_err_prefix(err, "%s", path);
    long *idx = calloc(n ? n : 1, sizeof *idx);
    sg_st_file *f = NULL;
    int rc = !idx ? sg_err_oom(err, "%s: out of memory", path)
           : sg_st_open(&f, path, err) ? -1 : match_net_tensors(f, SG_NET_G, list, n, idx, err);
    if (f) sg_st_close(f);
    free(idx);
    free(list);
    return rc;
}

/* Reads the tensors of a matched file into the model. */
static int net_apply(sg_model *m, sg_net net, net_file *nf, sg_err *err)
{
    const sg_tensor_info *list;
    int n = sg_model_tensors(m, net, &list);
    void *buf = malloc(max_bytes(list, n));
    if (!buf) return sg_err_oom(err, "%s: out of memory", nf->f->path);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const sg_st_tensor *t = &nf->f->tensors[nf->idx[i]];
        if (sg_st_read(nf->f, (size_t)nf->idx[i], buf, t->end - t->begin, err)) rc = -1;
        else if (sg_model_set_tensor(m, net, i, buf, err)) rc = sg_err_prefix(err, "%s", nf->f->path);
    }
    free(buf);
    return rc;
}

int sg_ckpt_read_net(sg_model *m, sg_net net, const char *path, sg_err *err)
{
    if (net != SG_NET_G && refuse_generator_only(m, path, "loading D", err)) return -1;
    net_file nf = {0};
    crc_record crc;
    int rc = sg_st_open(&nf.f, path, err) || net_match(m, net, &nf, err) ||
             crc_check(nf.f, 0, CRC_DATA_IF_RECORDED, &crc, err) ||   /* before the model is changed */
             net_apply(m, net, &nf, err) ? -1 : 0;
    net_close(&nf);
    return rc;
}

/* "X-state.safetensors" for a G file "X-G.safetensors" (0), or -1 when
 * g_path is not named so (a converted checkpoint may be called anything). */
static int state_beside(const char *g_path, char *out, size_t cap)
{
    static const char g_end[] = "-G.safetensors";
    size_t n = strlen(g_path), e = sizeof g_end - 1;
    const char *base = strrchr(g_path, '/');
    base = base ? base + 1 : g_path;
    if (n < e || strcmp(g_path + n - e, g_end) || g_path + n - e == base) return -1;
    return snprintf(out, cap, "%.*s-state.safetensors", (int)(n - e), g_path) < (int)cap ? 0 : -1;
}

/* Checks the G file g (open, its data's CRC-32 read into gr) against the state
 * file sp beside it: its header only (its data, the optimizer state, can be
 * ten times G's, and sg-sample does not use it). sp vanished before it was
 * opened (sg-train --keep pruned the checkpoint: state first, G last): as
 * without one. */
static int check_against_state(const char *g, const crc_record *gr, const char *sp, sg_err *err)
{
    sg_st_file *sf = NULL;
    sg_ckpt_info si;
    crc_record sr;
    int rc = 0;
    if (sg_st_open(&sf, sp, err)) {
        if (sg_path_missing(sp)) return 0;
        rc = -1;
    } else if (info_from_file(sf, &si, err)) {
        rc = -1;
    } else {
        sg_ckpt_info_free(&si);
        if (check_net_kind(sf, "state", err) || crc_check(sf, 1, CRC_KEYS_ONLY, &sr, err)) rc = -1;
    }
    sg_st_close(sf);
    if (rc) return sg_err_suffix(err, ": cannot check %s against it", g);
    return sr.has_net[0] ? check_net_record(g, 0, gr, sp, sr.net[0], err) : 0;
}

int sg_ckpt_read_generator(sg_model *m, const char *path, int *state_fault, sg_err *err)
{
    char sp[PATH_MAX];
    int has_state = state_beside(path, sp, sizeof sp) == 0 && !sg_path_missing(sp);
    net_file nf = {0};
    crc_record crc;
    if (state_fault) *state_fault = 0;
    /* G's own checks first, as sg_ckpt_load's order; its data read when the
     * state file may have recorded its CRC */
    int rc = sg_st_open(&nf.f, path, err) || net_match(m, SG_NET_G, &nf, err) ||
             crc_check(nf.f, 0, has_state ? CRC_DATA_ALWAYS : CRC_DATA_IF_RECORDED, &crc, err) ? -1 : 0;
    if (rc == 0 && has_state && check_against_state(path, &crc, sp, err)) {
        rc = -1;
        if (state_fault) *state_fault = 1;
    }
    if (rc == 0) rc = net_apply(m, SG_NET_G, &nf, err);
    net_close(&nf);
    return rc;
}

/* ---- optimizer state ---- */

static int write_state_crc(sg_model *m, const char *path, const sg_ckpt_info *info, int64_t step,
                           const uint32_t *net_crc, const volatile sig_atomic_t *abandon, sg_err *err);

int sg_ckpt_write_state(sg_model *m, const char *path, const sg_ckpt_info *info, int64_t step,
                        sg_err *err)
{
    return write_state_crc(m, path, info, step, NULL, NULL, err);
}

static size_t spec_bytes(const sg_st_spec *s)
{
    uint64_t numel = 1;
    for (int d = 0; d < s->ndim; d++) numel *= (uint64_t)s->shape[d];
    return (size_t)(numel * sg_st_dtype_size(s->dtype));
}

/* net_crc: the data CRCs of the G and D files saved with this state (or NULL),
 * recorded so that a checkpoint's three files are known to belong together. */
static int write_state_crc(sg_model *m, const char *path, const sg_ckpt_info *info, int64_t step,
                           const uint32_t *net_crc, const volatile sig_atomic_t *abandon, sg_err *err)
{
    const sg_tensor_info *lists[2];
    int counts[2];
    float *m1[2] = {0}, *m2[2] = {0};
    int64_t steps[2];
    sg_st_spec *specs = NULL;
    char (*names)[SG_CKPT_NAME_MAX + 80] = NULL;
    meta_list ml = {0};
    sg_st_writer *w = NULL;
    int rc = -1, ns = 0;
    if (refuse_generator_only(m, path, "writing the optimizer state", err)) return -1;
    for (int net = 0; net < 2; net++) {
        if (abandoned(abandon, step, err)) goto done;
        counts[net] = sg_model_tensors(m, (sg_net)net, &lists[net]);
        size_t tc = sg_model_trainable_count(m, (sg_net)net);
        m1[net] = malloc((tc ? tc : 1) * sizeof(float));
        m2[net] = malloc((tc ? tc : 1) * sizeof(float));
        if (!m1[net] || !m2[net]) { sg_err_oom(err, "%s: out of memory", path); goto done; }
        if (sg_model_get_adam(m, (sg_net)net, m1[net], m2[net], &steps[net], err)) { sg_err_prefix(err, "%s", path); goto done; }
    }
    int total = 2 * (counts[0] + counts[1]) + 3;
    specs = calloc(total, sizeof *specs);
    names = calloc(total, sizeof *names);
    if (!specs || !names) { sg_err_oom(err, "%s: out of memory", path); goto done; }
    for (int net = 0; net < 2; net++)
        for (int pass = 0; pass < 2; pass++) {
            /* G.exp_avg.* then G.exp_avg_sq.*, each in state_dict order over trainable tensors. */
            size_t off = 0;
            for (int i = 0; i < counts[net]; i++) {
                const sg_tensor_info *t = &lists[net][i];
                if (!t->trainable) continue;
                snprintf(names[ns], sizeof names[ns], "%s.%s.%s", net_name((sg_net)net),
                         pass ? "exp_avg_sq" : "exp_avg", t->name);
                specs[ns].name = names[ns];
                specs[ns].dtype = SG_ST_F32;
                specs[ns].ndim = t->ndim;
                for (int d = 0; d < t->ndim; d++) specs[ns].shape[d] = t->shape[d];
                specs[ns].data = (pass ? m2[net] : m1[net]) + off;
                off += t->numel;
                ns++;
            }
        }
    int64_t iteration = step;
    const char *scalar_names[3] = {"G.step", "D.step", "iteration"};
    const int64_t *scalar_data[3] = {&steps[0], &steps[1], &iteration};
    for (int k = 0; k < 3; k++, ns++) {
        specs[ns].name = scalar_names[k];
        specs[ns].dtype = SG_ST_I64;
        specs[ns].ndim = 1;
        specs[ns].shape[0] = 1;
        specs[ns].data = scalar_data[k];
    }
    if (meta_build(&ml, info, "state", step, err)) goto done;
    uint32_t crc = 0;
    for (int k = 0; k < ns; k++) crc = sg_crc32(crc, specs[k].data, spec_bytes(&specs[k]));
    if (meta_addf(&ml, META_CRC, "%08x", crc) ||
        (net_crc && (meta_addf(&ml, "G_" META_CRC, "%08x", net_crc[0]) ||
                     meta_addf(&ml, "D_" META_CRC, "%08x", net_crc[1])))) {
        sg_err_oom(err, "out of memory");
        goto done;
    }
    /* sg_st_write's steps, each tensor a chance to give up */
    if (abandoned(abandon, step, err) ||
        sg_st_writer_begin(&w, path, specs, ns, ml.keys, (const char *const *)ml.values, ml.n, err))
        goto done;
    for (int k = 0; k < ns; k++)
        if (abandoned(abandon, step, err) || sg_st_writer_put(w, specs[k].data, spec_bytes(&specs[k]), err))
            goto done;
    /* the last chance: once this file is renamed the checkpoint is complete, and latest follows */
    if (abandoned(abandon, step, err)) goto done;
    rc = sg_st_writer_commit(w, err);
    w = NULL;
done:
    sg_st_writer_abort(w);
    meta_free(&ml);
    for (int net = 0; net < 2; net++) { free(m1[net]); free(m2[net]); }
    free(specs);
    free(names);
    return rc;
}

static int read_i64(sg_st_file *f, const char *name, int64_t *out, sg_err *err)
{
    long k = sg_st_find(f, name);
    if (k < 0) return sg_errf(err, "%s: missing tensor %s", f->path, name);
    const sg_st_tensor *t = &f->tensors[k];
    if (t->dtype != SG_ST_I64 || t->numel != 1)
        return sg_errf(err, "%s: tensor %s: expected one I64 value", f->path, name);
    return sg_st_read(f, (size_t)k, out, 8, err);
}

/* An optimizer state file's contents, read and checked against the model
 * (state_read) before any of it is set in the model (state_apply). */
typedef struct {
    float *m1[2], *m2[2];        /* Adam's exp_avg, exp_avg_sq of G and D (trainable tensors, in order) */
    int64_t steps[2], iteration;
} state_data;

static void state_free(state_data *sd)
{
    for (int net = 0; net < 2; net++) {
        free(sd->m1[net]); free(sd->m2[net]);
        sd->m1[net] = sd->m2[net] = NULL;
    }
}

/* Reads the open state file f into sd (check_crc 0: the caller has checked
 * the data, sg_ckpt_load); the model is not changed. */
static int state_read(sg_model *m, sg_st_file *f, int check_crc, state_data *sd, sg_err *err)
{
    const char *path = f->path;
    if (check_net_kind(f, "state", err)) return -1;
    long *idx[2][2] = {{0}};
    int rc = -1, counts[2], used = 3;
    const sg_tensor_info *lists[2];
    char prefix[32];
    for (int net = 0; net < 2; net++) {
        counts[net] = sg_model_tensors(m, (sg_net)net, &lists[net]);
        size_t tc = sg_model_trainable_count(m, (sg_net)net);
        sd->m1[net] = malloc((tc ? tc : 1) * sizeof(float));
        sd->m2[net] = malloc((tc ? tc : 1) * sizeof(float));
        for (int pass = 0; pass < 2; pass++) idx[net][pass] = calloc(counts[net], sizeof(long));
        if (!sd->m1[net] || !sd->m2[net] || !idx[net][0] || !idx[net][1]) { sg_err_oom(err, "%s: out of memory", path); goto done; }
        for (int pass = 0; pass < 2; pass++) {
            int matched;
            snprintf(prefix, sizeof prefix, "%s.%s.", net_name((sg_net)net), pass ? "exp_avg_sq" : "exp_avg");
            if (match_tensors(f, lists[net], counts[net], prefix, 1, idx[net][pass], &matched, err)) goto done;
            used += matched;
        }
    }
    if ((size_t)used != f->n_tensors) {
        sg_errf(err, "%s: %zu tensors, expected %d (a state file of another model?)", path, f->n_tensors, used);
        goto done;
    }
    if (read_i64(f, "G.step", &sd->steps[0], err) || read_i64(f, "D.step", &sd->steps[1], err) ||
        read_i64(f, "iteration", &sd->iteration, err))
        goto done;
    if (sd->steps[0] < 0 || sd->steps[1] < 0 || sd->iteration < 0) { sg_errf(err, "%s: negative step counter", path); goto done; }
    crc_record crc;
    if (check_crc && crc_check(f, 0, CRC_DATA_IF_RECORDED, &crc, err)) goto done;
    for (int net = 0; net < 2; net++)
        for (int pass = 0; pass < 2; pass++) {
            size_t off = 0;
            float *dst = pass ? sd->m2[net] : sd->m1[net];
            for (int i = 0; i < counts[net]; i++) {
                if (!lists[net][i].trainable) continue;
                if (sg_st_read(f, (size_t)idx[net][pass][i], dst + off, lists[net][i].numel * 4, err)) goto done;
                off += lists[net][i].numel;
            }
        }
    rc = 0;
done:
    for (int net = 0; net < 2; net++) { free(idx[net][0]); free(idx[net][1]); }
    if (rc) state_free(sd);
    return rc;
}

static int state_apply(sg_model *m, const char *path, const state_data *sd, sg_err *err)
{
    for (int net = 0; net < 2; net++)
        if (sg_model_set_adam(m, (sg_net)net, sd->m1[net], sd->m2[net], sd->steps[net], err))
            return sg_err_prefix(err, "%s", path);
    return 0;
}

int sg_ckpt_read_state(sg_model *m, const char *path, int64_t *step, sg_err *err)
{
    sg_st_file *f;
    state_data sd = {0};
    if (refuse_generator_only(m, path, "loading the optimizer state", err)) return -1;
    if (sg_st_open(&f, path, err)) return -1;
    int rc = state_read(m, f, 1, &sd, err) || state_apply(m, path, &sd, err) ? -1 : 0;
    if (rc == 0) *step = sd.iteration;
    state_free(&sd);
    sg_st_close(f);
    return rc;
}

/* ---- run directory ---- */

/* A write of sg_ckpt_save: -1 stops the save. A file written whose directory
 * did not sync (no unsynced handler: lib/fileio.h) is in place, so the save
 * goes on and reports it at the end, the first such report kept in note. */
static int save_step(int rc, const sg_err *err, int *unsynced, sg_err *note)
{
    if (rc == SG_WRITTEN_UNSYNCED && !(*unsynced)++ && err) *note = *err;
    return rc < 0 ? -1 : 0;
}

int sg_ckpt_save(sg_model *m, const char *run_dir, const sg_ckpt_info *info, int64_t step, sg_err *err)
{
    return sg_ckpt_save_abandonable(m, run_dir, info, step, NULL, err);
}

int sg_ckpt_save_abandonable(sg_model *m, const char *run_dir, const sg_ckpt_info *info, int64_t step,
                             const volatile sig_atomic_t *abandon, sg_err *err)
{
    int finite = 0;
    if (abandoned(abandon, step, err)) return -1;
    if (refuse_generator_only(m, run_dir, "saving a whole checkpoint", err)) return -1;
    if (sg_model_all_finite(m, &finite, err)) return -1;
    if (!finite)
        return sg_errf(err, "not writing checkpoint %06lld: a parameter or Adam moment is not finite", (long long)step);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/ckpt", run_dir);
    if (sg_mkdir_p(path, err)) return -1;
    uint32_t net_crc[2];
    int unsynced = 0;
    sg_err note = {{0}};
    if (sg_ckpt_path(path, sizeof path, run_dir, step, "G")) return sg_errf(err, "%s: path too long", path);
    if (save_step(write_net_crc(m, SG_NET_G, path, info, step, &net_crc[0], abandon, err), err, &unsynced, &note)) return -1;
    if (sg_ckpt_path(path, sizeof path, run_dir, step, "D")) return sg_errf(err, "%s: path too long", path);
    if (save_step(write_net_crc(m, SG_NET_D, path, info, step, &net_crc[1], abandon, err), err, &unsynced, &note)) return -1;
    if (sg_ckpt_path(path, sizeof path, run_dir, step, "state")) return sg_errf(err, "%s: path too long", path);
    if (save_step(write_state_crc(m, path, info, step, net_crc, abandon, err), err, &unsynced, &note)) return -1;
    if (save_step(sg_ckpt_write_latest(run_dir, step, err), err, &unsynced, &note)) return -1;
    if (!unsynced) return 0;
    if (err) *err = note;
    return SG_WRITTEN_UNSYNCED;
}

int sg_ckpt_write_latest(const char *run_dir, int64_t step, sg_err *err)
{
    char path[PATH_MAX], text[32];
    int len = snprintf(text, sizeof text, "%06lld\n", (long long)step);
    snprintf(path, sizeof path, "%s/latest", run_dir);
    return sg_write_file_atomic(path, text, (size_t)len, err);
}

int sg_ckpt_remove(const char *run_dir, int64_t step, int *removed, sg_err *err)
{
    const char *kinds[3] = {"state", "D", "G"};   /* G last: it is what marks a checkpoint */
    if (removed) *removed = 0;
    for (int k = 0; k < 3; k++) {
        char path[PATH_MAX];
        /* a cut name would unlink nothing (or another file) and read as done */
        if (sg_ckpt_path(path, sizeof path, run_dir, step, kinds[k])) return sg_errf(err, "%s: path too long", path);
        if (unlink(path) == 0) { if (removed) (*removed)++; }
        /* EISDIR: a directory is not ours to remove, and failing on it would
         * fail every save's prune */
        else if (errno != ENOENT && errno != EISDIR) return sg_errno(err, "%s", path);
    }
    return 0;
}

static int parse_step(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > 18) return -1;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int sg_ckpt_g_file_step(const char *name, int64_t *step)
{
    const char *dash = strchr(name, '-');
    if (!dash || strcmp(dash, "-G.safetensors")) return -1;
    /* only the name sg_ckpt_path writes (%06lld): a copy named 0002000-G
     * would count as a second step 2000, and prune would keep one fewer */
    size_t len = (size_t)(dash - name);
    if (len < 6 || (len > 6 && name[0] == '0')) return -1;
    return parse_step(name, len, step);
}

int sg_ckpt_file_there(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* 1 when the files of checkpoint step named in kinds are all there */
static int files_there(const char *run_dir, int64_t step, const char *const *kinds, int n)
{
    for (int k = 0; k < n; k++) {
        char p[PATH_MAX];
        if (sg_ckpt_path(p, sizeof p, run_dir, step, kinds[k]) || !sg_ckpt_file_there(p)) return 0;
    }
    return 1;
}

int sg_ckpt_has_generator(const char *run_dir, int64_t step)
{
    static const char *const g[1] = {"G"};
    return files_there(run_dir, step, g, 1);
}

/* (a save writes G, D, state, each by rename: a failed one leaves G alone,
 * or G and D) */
int sg_ckpt_is_complete(const char *run_dir, int64_t step)
{
    static const char *const all[3] = {"G", "D", "state"};
    return files_there(run_dir, step, all, 3);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int sg_ckpt_steps(const char *run_dir, int64_t **steps, size_t *n, sg_err *err)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/ckpt", run_dir);
    *steps = NULL;
    *n = 0;
    DIR *dp = opendir(dir);
    if (!dp) return errno == ENOENT ? 0 : sg_errno(err, "%s", dir);
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(dp))) {
        int64_t st;
        if (sg_ckpt_g_file_step(de->d_name, &st) || !sg_ckpt_has_generator(run_dir, st)) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            int64_t *ns = realloc(*steps, cap * sizeof *ns);
            if (!ns) { free(*steps); *steps = NULL; *n = 0; closedir(dp); return sg_err_oom(err, "out of memory"); }
            *steps = ns;
        }
        (*steps)[(*n)++] = st;
    }
    closedir(dp);
    if (*n) qsort(*steps, *n, sizeof **steps, cmp_i64);
    return 0;
}

/* The newest complete checkpoint among steps (n, sorted) below below, else -1. */
static int64_t newest_complete_of(const char *run_dir, const int64_t *steps, size_t n, int64_t below)
{
    for (size_t i = n; i-- > 0;)
        if (steps[i] < below && sg_ckpt_is_complete(run_dir, steps[i])) return steps[i];
    return -1;
}

int64_t sg_ckpt_newest_complete(const char *run_dir, int64_t below)
{
    int64_t *steps;
    size_t n;
    sg_err err;
    if (sg_ckpt_steps(run_dir, &steps, &n, &err)) return -1;
    int64_t best = newest_complete_of(run_dir, steps, n, below);
    free(steps);
    return best;
}

int sg_ckpt_latest(const char *run_dir, int64_t *step, sg_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/latest", run_dir);
    *step = -1;
    /* lstat: a link to nowhere is a latest that cannot be read, not a run without checkpoints */
    struct stat st;
    if (lstat(path, &st) != 0 && errno == ENOENT) return 0;
    /* a FIFO would block the read for ever; a directory is said to be one */
    if (sg_refuse_irregular(path, err)) return -1;
    uint8_t *data;
    size_t len;
    int rc;
    if (sg_read_file(path, 64, &data, &len, err)) {
        if (err->sys_errno != E2BIG) return -1;
        rc = -1;   /* larger than a number: as a text that is none */
    } else {
        size_t n = len;
        while (n && (data[n - 1] == '\n' || data[n - 1] == '\r' || data[n - 1] == ' ')) n--;
        rc = parse_step((const char *)data, n, step);
        free(data);
    }
    if (rc) {   /* a text edited or damaged: which number would do, from one scan of ckpt/ */
        int64_t *steps;
        size_t n_steps;
        sg_err e;
        int listed = sg_ckpt_steps(run_dir, &steps, &n_steps, &e) == 0;   /* steps NULL, n_steps 0 where not */
        int64_t newest = newest_complete_of(run_dir, steps, n_steps, INT64_MAX);
        free(steps);
        if (newest >= 0) {
            char word[SG_SHELL_WORD_MAX];   /* pastes back: 'my run/latest' */
            sg_errf(err, "%s: expected a checkpoint number such as 001000; the newest complete checkpoint is "
                    "%06lld: echo %06lld > %s", path, (long long)newest, (long long)newest,
                    sg_shell_word_in(word, sizeof word, path) < sizeof word ? word : path);
            return -1;
        }
        if (listed && n_steps == 0) {
            /* not a single G file: the run has not saved yet (a latest
             * written by hand, or damaged, before the first save) */
            char when[160];
            sg_run_first_save(run_dir, when, sizeof when);
            return sg_errf(err, "%s: expected a checkpoint number such as 001000, and the run has no checkpoint "
                           "yet: %s; remove it (sg-train writes latest anew with each checkpoint)", path, when);
        }
        return sg_errf(err, "%s: expected a checkpoint number such as 001000 (%s/ckpt holds no complete checkpoint)",
                       path, run_dir);
    }
    return 0;
}

int sg_ckpt_load(sg_model *m, const char *run_dir, int64_t step, sg_ckpt_info *state_info, sg_err *err)
{
    char g[PATH_MAX], d[PATH_MAX], s[PATH_MAX];
    if (state_info) memset(state_info, 0, sizeof *state_info);
    if (sg_ckpt_path(g, sizeof g, run_dir, step, "G") | sg_ckpt_path(d, sizeof d, run_dir, step, "D") |
        sg_ckpt_path(s, sizeof s, run_dir, step, "state"))
        return sg_errf(err, "%s: path too long", s);
    if (refuse_generator_only(m, s, "loading a whole checkpoint (G, D and state)", err)) return -1;
    /* All three files are checked before anything is loaded into the model
     * (headers, the data's CRCs, the tensors against the model), so that a
     * damaged D or state file leaves G as it was. The data is read twice: once
     * here for its CRC, once to load it. */
    const char *paths[3] = {g, d, s};
    net_file nets[2] = {{0}, {0}};
    sg_st_file *state = NULL;
    state_data sd = {0};
    crc_record crc[3];
    int rc = -1;
    for (int k = 0; k < 3; k++) {
        sg_ckpt_info info;
        sg_st_file **f = k < 2 ? &nets[k].f : &state;
        if (sg_st_open(f, paths[k], err)) goto done;
        memset(&info, 0, sizeof info);
        if (info_from_file(*f, &info, err)) goto done;
        int64_t st = info.step;
        if (k == 2 && state_info) *state_info = info;   /* the caller's (the seed), freed there */
        else sg_ckpt_info_free(&info);
        if (st != step) {
            sg_errf(err, "%s: metadata step %lld, expected %lld", paths[k], (long long)st, (long long)step);
            goto done;
        }
        /* G's and D's data always (the state may have recorded their CRCs),
         * the state's when it records its own */
        if (crc_check(*f, k == 2, k < 2 ? CRC_DATA_ALWAYS : CRC_DATA_IF_RECORDED, &crc[k], err)) goto done;
    }
    /* the state's record of G's and D's data */
    for (int n = 0; n < 2; n++)
        if (crc[2].has_net[n] && check_net_record(paths[n], n, &crc[n], s, crc[2].net[n], err)) goto done;
    if (net_match(m, SG_NET_G, &nets[0], err) || net_match(m, SG_NET_D, &nets[1], err) ||
        state_read(m, state, 0, &sd, err))
        goto done;
    if (sd.iteration != step) {
        sg_errf(err, "%s: iteration %lld, expected %lld", s, (long long)sd.iteration, (long long)step);
        goto done;
    }
    if (net_apply(m, SG_NET_G, &nets[0], err) || net_apply(m, SG_NET_D, &nets[1], err) ||
        state_apply(m, s, &sd, err))
        goto done;
    rc = 0;
done:
    net_close(&nets[0]);
    net_close(&nets[1]);
    sg_st_close(state);
    state_free(&sd);
    if (rc && state_info) {
        sg_ckpt_info_free(state_info);
        memset(state_info, 0, sizeof *state_info);
    }
    return rc;
}


int sg_ckpt_prune(const char *run_dir, int keep, sg_err *err)
{
    if (keep <= 0) return 0;
    int64_t latest;
    if (sg_ckpt_latest(run_dir, &latest, err)) return -1;
    int64_t *steps;
    size_t n;
    if (sg_ckpt_steps(run_dir, &steps, &n, err)) return -1;
    if (n == 0) return 0;   /* no RUN/ckpt, or no checkpoint in it */
    /* leftovers of an unfinished save, newer than latest: overwritten later */
    while (latest >= 0 && n > 0 && steps[n - 1] > latest) n--;
    /* Kept: latest and everything from the keep-th newest complete checkpoint
     * on. An incomplete one (a failed save's G alone, or G and D) is not
     * counted: counted, it left one usable checkpoint fewer than asked. steps
     * holds checkpoints only (their G a file): a directory under a G file's
     * name is neither counted nor removed (unlinking it would fail every
     * save's prune). */
    int64_t oldest_kept = INT64_MIN;   /* fewer than keep complete ones: nothing goes */
    size_t complete = 0;
    for (size_t i = n; i-- > 0 && complete < (size_t)keep;)
        if (sg_ckpt_is_complete(run_dir, steps[i]) && ++complete == (size_t)keep) oldest_kept = steps[i];
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (steps[i] != latest && steps[i] < oldest_kept) rc = sg_ckpt_remove(run_dir, steps[i], NULL, err);
    free(steps);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/ckpt", run_dir);
    /* after removals only: a crash that loses them brings back old files,
     * which the next prune removes; no data is at risk, so no error */
    sg_err ignored;
    if (rc == 0) (void)sg_fsync_dir(dir, &ignored);
    return rc;
}
