#include "trainer.h"
#include "trainer_testing.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "backend.h"
#include "checkpoint.h"
#include "ckpt_find.h"
#include "engines_file.h"
#include "fileio.h"
#include "image.h"
#include "json.h"
#include "rng.h"
#include "shard.h"
#include "strbuf.h"
#include "sysmem.h"
#include "targets.h"
#include "text_escape.h"
#include "thread.h"
#include "version.h"

/* per-image counters use the low 20 bits; the backend draws targets and
 * alpha for at most SG_BATCH_DRAW_MAX images */
#define MAX_BATCH SG_BATCH_DRAW_MAX

float sg_train_lr(double lr, int64_t i, int64_t iters, int64_t decay_iters, int n_datasets)
{
    if (n_datasets > 1) i -= i % n_datasets;        /* the round's first iteration */
    if (decay_iters > iters) decay_iters = iters;   /* a run shorter than the decay decays throughout */
    if (decay_iters <= 0 || iters - i >= decay_iters) return (float)lr;
    if (i >= iters) return 0.0f;
    return (float)(lr * (double)(iters - i) / (double)decay_iters);
}

/* more than a factor 2 apart, either way; 0 against a rate that is not is too */
static int lr_far(float a, float b)
{
    float lo = a < b ? a : b, hi = a < b ? b : a;
    return hi > 2 * lo;
}

int sg_train_lr_jump(const sg_train_options *run, const sg_train_options *now, int64_t at, int n_datasets,
                     float from[2], float to[2])
{
    const double run_lr[2] = {run->g_lr, run->d_lr}, now_lr[2] = {now->g_lr, now->d_lr};
    int far = 0;
    for (int k = 0; k < 2; k++) {
        from[k] = at > 0 ? sg_train_lr(run_lr[k], at - 1, run->iters, run->decay_iters, n_datasets) : 0;
        to[k] = at < now->iters ? sg_train_lr(now_lr[k], at, now->iters, now->decay_iters, n_datasets) : 0;
        /* against the rate the run's own options give at `at` (past its
         * end, the last it used): a schedule's own step (into the last,
         * partial round of several datasets) is no change of options */
        float own = at < run->iters ? sg_train_lr(run_lr[k], at, run->iters, run->decay_iters, n_datasets) : from[k];
        far |= lr_far(own, to[k]);
    }
    return at > 0 && at < now->iters && far;
}

int sg_train_g_step(int64_t i, int n_datasets, int n_critic)
{
    return (i / n_datasets + 1) % n_critic == 0;
}

int sg_train_default_d_repeat(int image_size)
{
    int lg = 0;
    while ((2 << lg) <= image_size) lg++;   /* floor(log2(image_size)) */
    int r = lg - 1;
    if (r > 6) r = 6;
    return r < 1 ? 1 : r;
}

/* The shards' image size S against D's depth (the model's own check says
 * only "model: image size S must be a multiple of ..."): names the shard
 * and the two ways out, a --d-repeat that fits or sizes to repack at. */
static int check_image_size(const char *shard, int S, int d_repeat, int d_repeat_given, sg_err *err)
{
    const int MAX = SG_MODEL_MAX_IMAGE, unit = sg_model_image_unit(d_repeat);
    if (S >= unit && S % unit == 0 && S >= SG_MODEL_MIN_IMAGE && S <= MAX) return 0;
    if (S < SG_MODEL_MIN_IMAGE)
        return sg_errf(err, "%s: %d px images: the model takes %d px or more (G's residual blocks normalize "
                       "image/4 planes); repack it with celeb-pack --size %d", shard, S, SG_MODEL_MIN_IMAGE,
                       SG_MODEL_MIN_IMAGE);
    int lo = S / unit * unit, hi = lo + unit;
    char sizes[64];
    if (lo >= unit && hi <= MAX) snprintf(sizes, sizeof sizes, "--size %d or %d", lo, hi);
    else snprintf(sizes, sizeof sizes, "--size %d", lo >= unit && lo <= MAX ? lo : hi <= MAX ? hi : MAX);
    if (S % sg_model_image_unit(1) != 0 || S > MAX)   /* no d_repeat fits */
        return sg_errf(err, "%s: %d px images: the model takes multiples of 4 up to %d (G halves them twice); "
                       "repack it with celeb-pack %s", shard, S, MAX, sizes);
    int fit = 1;   /* the largest d_repeat that fits */
    while (fit < 12 && S % sg_model_image_unit(fit + 1) == 0 && sg_model_image_unit(fit + 1) <= S) fit++;
    return sg_errf(err, "%s: %d px images, but D halves them %d times (%s; %d px needs a multiple of %d): give "
                   "--d-repeat %d or less, or repack it with celeb-pack %s", shard, S, d_repeat,
                   d_repeat_given ? "--d-repeat" : "the default for this size", S, unit, fit, sizes);
}

typedef struct {
    /* (B,3,S,S) (B,c_dim), from ops->host_alloc (page-locked on
     * CUDA): uploaded asynchronously, so set_batch_drawn_async from bufs[k]
     * marks fence slot k, which the trainer waits for before bufs[k] is refilled. */
    float *x, *c_org;                   /* c_trg and alpha are drawn by the backend */
    uint8_t *pix;                       /* (S, S, 3) scratch */
    float *labels;                      /* (n_labels) scratch */
    int64_t iter;                       /* iteration held, -1: none */
    int rc;
    sg_err err;
} batch_buf;

struct sg_trainer {
    int resuming;   /* opened with SG_TRAIN_RESUME: the model's sizes are the run's */
    int mode;       /* sg_trainer_prepare's: SG_TRAIN_NEW, _RESUME or _REPLACE */
    int begun;      /* sg_trainer_begin went through */
    /* A resume's cut of history.jsonl, found by sg_trainer_prepare and made
     * by sg_trainer_begin: no file yet (one is made empty), the offset of the
     * first line to drop (SIZE_MAX: none), a newline to add after the last
     * line kept. */
    int history_missing;
    size_t history_cut;
    int history_add_newline;
    sg_run_record rec;            /* config.json's G schedule and "sessions" */
    int latest_lost;   /* a resume found no latest and goes on from the newest complete checkpoint */
    char *run_dir;
    sg_train_options opt;
    int nd;
    sg_shard *shards[SG_MAX_DATASETS];
    char *shard_paths[SG_MAX_DATASETS];
    uint64_t counts[SG_MAX_DATASETS];
    sg_model_config mcfg;
    sg_model *model;
    sg_backend *be;               /* the model's (not owned): host buffers, fences */
    int cuda;                     /* be is the CUDA backend: keep SG_RUN_ENGINES_FILE */
    int engines_saved;            /* engine choices in SG_RUN_ENGINES_FILE (sg_backend_cuda_engine_choices) */
    /* Notes for the tool to show, one line each (sg_trainer_note): n_notes
     * NUL-terminated strings one after the other, note_len bytes in all. */
    char note[8192];
    size_t note_len;
    int n_notes;
    sg_ckpt_info info;
    int c_dim, S;
    int64_t iter, last_ckpt;
    uint32_t *perm[SG_MAX_DATASETS];
    int64_t perm_epoch[SG_MAX_DATASETS];
    /* Batches of iterations i (bufs[i & 1]): a loader thread prepares i+1 while
     * step i runs. Every draw depends on i only, so this changes no result.
     * bufs[k]'s upload is covered by fence slot k (FENCE_BUF + k). */
    batch_buf bufs[2];
    pthread_t loader;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int loader_started, loader_quit, loader_busy;
    int64_t loader_want;          /* iteration requested from the loader, -1: none */
    int64_t loader_asked;         /* the last iteration requested, -1: none; an iteration
                                   * that queued its successor asked for i + 2 already */
    uint64_t batches_loaded;      /* load_batch calls (loader thread or main), atomic */
    FILE *history;
    double elapsed_base;
    int n_samples;
    uint64_t sample_idx[SG_TRAIN_SAMPLES_MAX];
    int64_t log_prev_iter;
    double log_prev_time;
    double log_prev_wait;         /* space_wait_s at log_prev_time */
    /* Losses are read (a sync) only at logged, saved, last and stopping
     * iterations: the steps in between queue work without waiting for it. */
    sg_losses losses;             /* the last losses read */
    int64_t losses_at;            /* the iteration they belong to, 0: none read yet */
    int64_t clean_at;             /* losses last read finite here (or where this session started) */
    int64_t g_at;                 /* the last iteration that updated G, 0: none this session */
    int64_t losses_g_at;          /* g_at when the losses were last read: whose G terms they hold */
    /* With SG_OVERLAP_G=1 (sg_model_overlap_g) iteration i + 1's batch is
     * queued in the model before i's D step (when no G step or checkpoint
     * comes between), whose G forward then runs beside that D step
     * (lib/model.h); batch_current: iteration t->iter's batch is already the
     * model's current one */
    int batch_current;
    sg_train_stop *stop;          /* sg_trainer_run's, or NULL */
    int lock_fd;                  /* run_dir opened and flock'ed (lock_run_dir), or -1 */
    int error_names_checkpoint;   /* the last error says the last good checkpoint */
    int error_dataset;            /* the last error was reading this dataset's shard, else -1 */
    int created_dir;              /* run_dir was made by this open (removed again if it fails) */
    int run_dir_gone;             /* run_dir was deleted while training (follow_run_dir) */
    int run_dir_moves;            /* times follow_run_dir found it moved */
    char run_note[PATH_MAX + 256];   /* a note for the tool from the run (sg_train_status.note), or "" */
    sg_train_space_callback space_cb;   /* sg_trainer_on_no_space's, or NULL */
    void *space_ctx;
    double space_wait_s;          /* seconds spent in space_cb: left out of the rate */
    int no_retry;                 /* the failed try cannot be undone (a failed sync of history.jsonl
                                     may have lost lines): not tried again */
    int history_dirty;            /* history lines written since history.jsonl's last fsync */
};

/* Fence slots of the batch buffers (lib/backend.h: 0..7): FENCE_BUF + k covers
 * the upload from bufs[k]. */
#define FENCE_BUF 0

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int64_t sg_trainer_iteration(const sg_trainer *t) { return t->iter; }
int sg_trainer_former_schedule(const sg_trainer *t) { return t->rec.former_schedule; }
int sg_trainer_error_names_checkpoint(const sg_trainer *t) { return t->error_names_checkpoint; }
const char *sg_trainer_error_shard(const sg_trainer *t)
{
    return t->error_dataset >= 0 ? t->shard_paths[t->error_dataset] : NULL;
}

int64_t sg_trainer_last_checkpoint(const sg_trainer *t) { return t->last_ckpt; }
void sg_trainer_on_no_space(sg_trainer *t, sg_train_space_callback cb, void *ctx)
{
    t->space_cb = cb;
    t->space_ctx = ctx;
}
uint64_t sg_trainer_batches_loaded(const sg_trainer *t)
{
    return __atomic_load_n(&t->batches_loaded, __ATOMIC_RELAXED);
}
const sg_model_config *sg_trainer_model_config(const sg_trainer *t) { return &t->mcfg; }

/* ---- run directory ---- */

/* Adds a note to the trainer ctx (the tool shows each once, on a line of
 * its own: joined, two unrelated notes read as one sentence about one
 * thing). One that does not fit is cut short; none is added once the buffer
 * is full. An sg_run_note_fn, for the checks of config.json. */
static void add_note(void *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_note(void *ctx, const char *fmt, ...)
{
    sg_trainer *t = ctx;
    if (t->note_len + 1 >= sizeof t->note) return;
    char *at = t->note + t->note_len;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(at, sizeof t->note - t->note_len, fmt, ap);
    va_end(ap);
    t->note_len += strlen(at) + 1;
    t->n_notes++;
}

/* Engine choices from path into the backend; one that cannot be used is not
 * an error of the run: the note says so, naming it as label and what
 * follows (then). An error that begins with path (a read or parse error)
 * names the file itself: label's words before path, then the error ("R/f
 * line 3: ...", "SG_CUDNN_ENGINES=f line 3: ..."), not the path twice. */
static void engines_from(sg_trainer *t, const char *path, const char *label, const char *then)
{
    char why[400] = "";
    sg_err e;
    int rc = sg_backend_cuda_engines_load(t->be, path, why, sizeof why, &e);
    if (rc > 0) return;
    size_t pl = strlen(path), ll = strlen(label);
    if (rc < 0 && !strncmp(e.msg, path, pl) && ll >= pl && !strcmp(label + ll - pl, path))
        add_note(t, "%.*s%s; %s", (int)(ll - pl), label, e.msg, then);
    else
        add_note(t, "%s: %s; %s", label, rc < 0 ? e.msg : why, then);
}

/* 1 when the engines file at path is readable and made for another
 * precision than the backend's, and config.json (not yet rewritten) records
 * another precision too: the resume changed the precision (sg-train says so),
 * and engines are chosen per precision, so the file cannot apply. */
static int engines_of_other_precision(sg_trainer *t, const char *path)
{
    const char *now = sg_backend_cuda_precision(t->be);
    char cp[PATH_MAX];
    json_value *root;
    sg_err e;
    if (sg_run_read_config_json(t->run_dir, &root, NULL, cp, sizeof cp, &e)) return 0;
    const char *was = json_str(json_get(json_get(root, "training"), "precision"));
    int other = was && sg_precision_valid(was) && strcmp(was, now);
    json_free(root);
    if (!other) return 0;
    uint8_t *data;
    size_t len;
    if (sg_read_file(path, (size_t)16 << 20, &data, &len, &e)) return 0;
    sg_engines_header h;
    sg_engine_choice *c;
    int n;
    int parsed = sg_engines_parse((const char *)data, len, path, &h, &c, &n, &e) == 0;
    free(data);
    if (!parsed) return 0;   /* damaged: said as before */
    free(c);
    return strcmp(h.precision, now) != 0;
}

/* A resumed run: its own SG_RUN_ENGINES_FILE, if there is one (unusable: the
 * engines are chosen anew, and only bit-exactness with the earlier run is
 * lost). Not read after a change of precision: a second line saying that
 * the engines are chosen anew would only repeat sg-train's warning. */
static void load_engines(sg_trainer *t)
{
    char p[PATH_MAX];
    sg_run_file(p, sizeof p, t->run_dir, SG_RUN_ENGINES_FILE);
    if (access(p, F_OK) == 0 && !engines_of_other_precision(t, p))
        engines_from(t, p, p, "the resumed run may differ from an uninterrupted one in the last bits");
}

/* A new run with SG_CUDNN_ENGINES=FILE starts from another run's engine
 * choices (e.g. its RUN/cudnn-engines.txt): the shapes it covers are not
 * searched again. */
static void seed_engines(sg_trainer *t)
{
    const char *p = getenv("SG_CUDNN_ENGINES");
    if (!p || !*p) return;
    char label[PATH_MAX + 32];
    snprintf(label, sizeof label, "SG_CUDNN_ENGINES=%s", p);
    engines_from(t, p, label, "choosing anew");
}

const char *sg_trainer_note(const sg_trainer *t, int k)
{
    if (k < 0 || k >= t->n_notes) return NULL;
    const char *p = t->note;
    while (k--) p += strlen(p) + 1;
    return p;
}
const sg_train_session *sg_trainer_session(const sg_trainer *t) { return &t->rec.session; }
const sg_train_session *sg_trainer_resumed_session(const sg_trainer *t)
{
    return t->rec.has_resumed ? &t->rec.resumed : NULL;
}

/* ---- history.jsonl ---- */

/* A resume keeps the entries with iteration <= step (a run may have logged
 * past its last checkpoint before dying); a torn last line is dropped. Reads
 * history.jsonl and finds the cut (t->history_*: cut_history makes it); sets
 * t->elapsed_base to the last kept entry's elapsed seconds (0 without one). */
static int scan_history(sg_trainer *t, int64_t step, sg_err *err)
{
    char path[PATH_MAX];
    sg_run_file(path, sizeof path, t->run_dir, "history.jsonl");
    t->elapsed_base = 0;
    t->history_missing = 0;
    t->history_cut = SIZE_MAX;
    t->history_add_newline = 0;
    uint8_t *data;
    size_t len;
    if (sg_refuse_irregular(path, err)) return -1;
    /* lstat: a link to nowhere is a history that cannot be read (an error
     * naming it, as for latest), not a run without one: writing an empty
     * history through it would lose the run's */
    struct stat st;
    if (lstat(path, &st) != 0 && errno == ENOENT) {
        t->history_missing = 1;
        return 0;
    }
    if (sg_read_file(path, (size_t)1 << 34, &data, &len, err)) return -1;
    size_t pos = 0, cut = SIZE_MAX;   /* cut: offset of the first line to drop, SIZE_MAX: none */
    int add_newline = 0;              /* the last line, kept, has no newline */
    long line = 0;
    int rc = 0;
    while (pos < len) {
        line++;
        size_t start = pos;
        const char *s = (const char *)data + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t l = nl ? (size_t)(nl - s) : len - pos;
        pos += l + (nl ? 1 : 0);
        if (l == 0) continue;
        json_value *v = NULL;
        sg_err e;
        json_error_pos where;
        if (json_parse(s, l, NULL, &v, &where, &e) || !json_is(v, JSON_OBJECT)) {
            json_free(v);
            if (pos >= len) {   /* torn last line of a killed run */
                if (cut == SIZE_MAX) cut = start;
                break;
            }
            if (v) rc = sg_errf(err, "%s line %ld: not an object", path, line);
            else rc = sg_errf(err, "%s line %ld: %s at column %ld", path, line, where.what, where.column);
            break;
        }
        int64_t it;
        if (json_get_int(v, "iteration", &it, &e)) {
            json_free(v);
            rc = sg_errf(err, "%s line %ld: %s", path, line, e.msg);
            break;
        }
        if (it <= step && cut == SIZE_MAX) {
            double el;
            if (json_get_num(v, "elapsed", &el, &e) == 0) t->elapsed_base = el;
            add_newline = !nl;
        } else if (cut == SIZE_MAX) {
            cut = start;   /* this line and every one after it go */
        }
        json_free(v);
    }
    if (rc)   /* a damaged line before the last: not a crash's, and not ours to drop */
        sg_err_suffix(err, " (mend or delete that line, then resume again)");
    free(data);
    t->history_cut = cut;
    t->history_add_newline = add_newline;
    return rc;
}

/* The cut scan_history found, made: the file is cut in place (ftruncate at
 * the first line to drop, then fsync), and left alone when nothing is to
 * go: a `tail -f` reading it follows on (a new file by rename left it
 * reading the old one, and `tail -F` read it all again). */
static int cut_history(sg_trainer *t, sg_err *err)
{
    char path[PATH_MAX];
    sg_run_file(path, sizeof path, t->run_dir, "history.jsonl");
    if (t->history_missing) return sg_write_file_atomic(path, "", 0, err);
    size_t cut = t->history_cut;
    if (cut == SIZE_MAX && !t->history_add_newline) return 0;
    int rc = 0;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return sg_errno(err, "%s", path);
    if (cut != SIZE_MAX ? ftruncate(fd, (off_t)cut) != 0
                        : lseek(fd, 0, SEEK_END) < 0 || write(fd, "\n", 1) != 1)
        rc = sg_errno(err, "%s", path);
    else if (fsync(fd) != 0)
        rc = sg_errno(err, "%s: fsync", path);
    close(fd);
    return rc;
}

static int open_history(sg_trainer *t, sg_err *err)
{
    char path[PATH_MAX];
    sg_run_file(path, sizeof path, t->run_dir, "history.jsonl");
    t->history = fopen(path, "a");
    if (!t->history) return sg_errno(err, "%s", path);
    t->history_dirty = 1;
    return 0;
}

/* ---- open ---- */

int sg_train_sample_rows(uint64_t seed, uint64_t count, int n, uint64_t *rows)
{
    if (n < 0 || count == 0) n = 0;
    if ((uint64_t)n > count) n = (int)count;   /* else the search for a new row never ends */
    uint64_t ctr = 0;
    for (int k = 0; k < n; k++) {
        for (;;) {
            uint64_t r = sg_rand64(seed, SG_STREAM_SAMPLE, ctr++) % count;
            int dup = 0;
            for (int j = 0; j < k && !dup; j++) dup = rows[j] == r;
            if (!dup) { rows[k] = r; break; }
        }
    }
    return n;
}

/* The sample grid's images the options ask for, within sample_idx's size. */
static int samples_asked(const sg_trainer *t)
{
    return t->opt.n_samples > SG_TRAIN_SAMPLES_MAX ? SG_TRAIN_SAMPLES_MAX : t->opt.n_samples;
}

static void pick_samples(sg_trainer *t)
{
    t->n_samples = sg_train_sample_rows(t->opt.seed, t->counts[0], samples_asked(t), t->sample_idx);
}

/* Checkpoint step's G metadata against the shards and options. *unreadable:
 * 1 when G's metadata could not be read at all (missing, truncated, damaged),
 * so that the caller says how to go on from an earlier checkpoint. */
static int check_ckpt_matches(sg_trainer *t, int64_t step, int *unreadable, sg_err *err)
{
    char path[PATH_MAX];
    sg_ckpt_path(path, sizeof path, t->run_dir, step, "G");
    sg_ckpt_info ci;
    *unreadable = 0;
    if (sg_ckpt_read_info(path, &ci, err)) { *unreadable = 1; return -1; }
    const sg_model_config *a = &ci.model, *b = &t->mcfg;
    int rc = 0;
    if (a->image_size != b->image_size)
        rc = sg_errf(err, "%s: image size %d, but the shards hold %d px images", path, a->image_size, b->image_size);
    else if (a->g_conv_dim != b->g_conv_dim || a->g_repeat != b->g_repeat || a->d_conv_dim != b->d_conv_dim ||
             a->d_repeat != b->d_repeat)
        rc = sg_errf(err, "%s: model g_conv_dim %d g_repeat %d d_conv_dim %d d_repeat %d, options give %d %d %d %d",
                     path, a->g_conv_dim, a->g_repeat, a->d_conv_dim, a->d_repeat, b->g_conv_dim, b->g_repeat,
                     b->d_conv_dim, b->d_repeat);
    else if (a->n_datasets != b->n_datasets)
        rc = sg_errf(err, "%s: trained on %d datasets, %d shards given", path, a->n_datasets, b->n_datasets);
    else
        for (int ds = 0; ds < a->n_datasets && !rc; ds++) {
            int same = a->label_dim[ds] == b->label_dim[ds] && a->one_hot[ds] == b->one_hot[ds];
            int off = sg_model_label_offset(a, ds);
            for (int j = 0; same && j < a->label_dim[ds]; j++)
                same = !strcmp(ci.label_names[off + j], t->info.label_names[off + j]);
            if (!same)
                rc = sg_errf(err, "%s: the labels of dataset %s differ from shard %s", path,
                             sg_quote_str(ci.dataset_names[ds]).s, t->shard_paths[ds]);
        }
    sg_ckpt_info_free(&ci);
    return rc;
}

/* One sg-train per run directory: an exclusive flock(2) on RUN itself, held
 * until sg_trainer_free (the kernel drops it when the process dies, however it
 * dies). A second process would trim history.jsonl under the first (whose
 * lines then go to the replaced file), rewrite config.json and interleave
 * checkpoints. A new run's directory is created here. A file system that
 * refuses the lock (EINVAL, ENOLCK, EOPNOTSUPP; NFS, which locks only files
 * open for writing) leaves the run unlocked, and the note says so. */
static int lock_run_dir(sg_trainer *t, int create, sg_err *err)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        struct stat st, locked;
        int made = 0;
        if (stat(t->run_dir, &st) != 0) {
            if (errno != ENOENT || !create) return 0;   /* a resume then finds no config.json */
            if (sg_mkdir_p(t->run_dir, err)) return -1;
            made = 1;
        }
        int fd = open(t->run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return errno == ENOTDIR ? sg_errf(err, "%s: not a directory", t->run_dir) : sg_errno(err, "%s", t->run_dir);
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            close(fd);
            /* not ours to remove: the other process may have made it */
            if (e == EWOULDBLOCK) {
                /* any process's flock, not only a trainer's: a flock(1) guarding this very command takes it too */
                sg_errf(err, "%s: the run directory is locked (flock) by another process: another sg-train "
                        "training it, or a flock(1) or script locking the directory itself (two sg-train at once "
                        "would mix their checkpoints and history: wait for it to end or stop it; a script guarding "
                        "sg-train should lock another file)", t->run_dir);
                return SG_TRAIN_BUSY;
            }
            /* NFS (without local_lock=flock) refuses flock on a directory opened read-only */
            add_note(t, "%s: not locked (flock: %s): do not run a second sg-train on it at the same time",
                     t->run_dir, strerror(e));
            t->created_dir = made;
            return 0;
        }
        /* Locked, but is it still RUN? Another process that failed may have
         * removed the directory between our open and our flock. */
        if (fstat(fd, &locked) == 0 && stat(t->run_dir, &st) == 0 && st.st_dev == locked.st_dev &&
            st.st_ino == locked.st_ino) {
            t->lock_fd = fd;
            t->created_dir = made;   /* removed again on failure, while still locked and empty */
            return 0;
        }
        close(fd);
    }
    return sg_errf(err, "%s: the run directory was removed or replaced while it was being opened; try again",
                   t->run_dir);
}

/* 1 when the shards cannot all stay in the page cache (more than half the
 * memory): records are read in random order, so those are read without
 * read-ahead. */
static int shards_need_random_reads(const char *const *shard_paths, int n)
{
    unsigned long long shard_bytes = 0;
    for (int ds = 0; ds < n; ds++) {
        char dp[PATH_MAX];
        struct stat ds_st;
        snprintf(dp, sizeof dp, "%s/data.mdb", shard_paths[ds]);
        if (stat(dp, &ds_st) == 0) shard_bytes += (unsigned long long)ds_st.st_size;
    }
    sg_sysmem mem;   /* the most the page cache can use: the machine's, or a container's limit */
    sg_sysmem_read(&mem);
    return mem.limit > 0 && shard_bytes > mem.limit / 2;
}

/* Opens the shards (paths as given) and checks them: the same square image
 * size, labels, at least a batch of records. Fills t's counts, S, the
 * model's label dimensions and the datasets' names. dup: the positions of
 * the first shard given twice, else left {-1, -1}. */
static int open_shards(sg_trainer *t, const char *const *shard_paths, int dup[2], sg_err *err)
{
    int random_reads = shards_need_random_reads(shard_paths, t->nd);
    struct stat shard_st[SG_MAX_DATASETS];
    for (int ds = 0; ds < t->nd; ds++) {
        char *rp = realpath(shard_paths[ds], NULL);
        t->shard_paths[ds] = rp ? rp : strdup(shard_paths[ds]);
        if (!t->shard_paths[ds]) return sg_err_oom(err, "out of memory");
        if ((random_reads ? sg_shard_open_random : sg_shard_open)(&t->shards[ds], shard_paths[ds], err)) return -1;
        /* The same shard twice (by device and inode: another spelling of its
         * path or a link to it is the same) would be two datasets of the same
         * name and data, each with its own slot in the label vector. */
        if (stat(shard_paths[ds], &shard_st[ds]) != 0) return sg_errno(err, "%s", shard_paths[ds]);
        for (int j = 0; j < ds && dup[0] < 0; j++)
            if (shard_st[j].st_dev == shard_st[ds].st_dev && shard_st[j].st_ino == shard_st[ds].st_ino) {
                dup[0] = j;
                dup[1] = ds;
            }
        const sg_shard_meta *sm = sg_shard_get_meta(t->shards[ds]);
        if (sm->width != sm->height || sm->channels != 3)
            return sg_errf(err, "%s: %ux%ux%u images; sg-train needs square RGB images", shard_paths[ds], sm->width,
                           sm->height, sm->channels);
        if (ds && sm->width != (uint32_t)t->S)
            return sg_errf(err, "%s: %ux%u images, but %s has %dx%d: all shards must have the same image size",
                           shard_paths[ds], sm->width, sm->height, shard_paths[0], t->S, t->S);
        t->S = (int)sm->width;
        if (sm->n_labels < 1) return sg_errf(err, "%s: the shard has no labels", shard_paths[ds]);
        /* the model's own check said "model: one-hot dataset 1 needs at
         * least 2 classes", neither the shard nor the way out */
        if (sm->label_kind == SG_LABELS_ONE_HOT && sm->n_labels < 2)
            return sg_errf(err, "%s: one class only (%s): a one-hot dataset needs at least 2 classes to translate "
                           "between; pack two or more class folders into it (celeb-pack --folders)",
                           shard_paths[ds], sm->label_names[0]);
        if (sm->count < (uint64_t)t->opt.batch)
            return sg_errf(err, "%s: %llu image%s, fewer than the batch size %d; give --batch %llu or less, or pack "
                           "more images into it", shard_paths[ds], (unsigned long long)sm->count,
                           sm->count == 1 ? "" : "s", t->opt.batch, (unsigned long long)(sm->count ? sm->count : 1));
        /* at most SG_SHARD_MAX_RECORDS: sg_shard_open refuses more */
        t->counts[ds] = sm->count;
        t->mcfg.label_dim[ds] = (int)sm->n_labels;
        t->mcfg.one_hot[ds] = sm->label_kind == SG_LABELS_ONE_HOT;
        sg_run_dataset_name(shard_paths[ds], t->info.dataset_names[ds], SG_CKPT_NAME_MAX);
    }
    return 0;
}

/* The model's configuration from the options and the open shards (the first
 * named as given: first_shard), checked, and what checkpoints record of the
 * run (t->info: the model, crops, seed, label names). Resolves an automatic
 * d_repeat in t->opt. */
static int fill_config(sg_trainer *t, const char *first_shard, sg_err *err)
{
    const sg_train_options *opt = &t->opt;
    sg_model_config *c = &t->mcfg;
    c->image_size = t->S;
    c->n_datasets = t->nd;
    c->g_conv_dim = opt->g_conv_dim;
    c->g_repeat = opt->g_repeat;
    c->d_conv_dim = opt->d_conv_dim;
    int d_repeat_given = opt->d_repeat > 0;
    c->d_repeat = d_repeat_given ? opt->d_repeat : sg_train_default_d_repeat(t->S);
    t->opt.d_repeat = c->d_repeat;
    if (check_image_size(first_shard, t->S, c->d_repeat, d_repeat_given, err)) return -1;
    c->batch = opt->batch;
    c->lambda_cls = (float)opt->lambda_cls;
    c->lambda_rec = (float)opt->lambda_rec;
    c->lambda_gp = (float)opt->lambda_gp;
    c->beta1 = opt->beta1;
    c->beta2 = opt->beta2;
    if (sg_model_config_check(c, err)) return -1;
    t->c_dim = sg_model_c_dim(c);
    t->info.model = *c;
    t->info.crop = (int)sg_shard_get_meta(t->shards[0])->crop;
    for (int ds = 0; ds < t->nd; ds++)   /* each dataset's: sg-sample frames photos as its shard was */
        t->info.dataset_crop[ds] = (int)sg_shard_get_meta(t->shards[ds])->crop;
    t->info.has_dataset_crops = 1;
    t->info.seed = opt->seed;
    t->info.has_seed = 1;
    int total_labels = 0;
    for (int ds = 0; ds < t->nd; ds++) total_labels += c->label_dim[ds];
    t->info.n_labels = total_labels;
    if (!(t->info.label_names = calloc(total_labels, sizeof(char *)))) return sg_err_oom(err, "out of memory");
    for (int ds = 0, k = 0; ds < t->nd; ds++) {
        const sg_shard_meta *sm = sg_shard_get_meta(t->shards[ds]);
        for (uint32_t j = 0; j < sm->n_labels; j++, k++)
            if (!(t->info.label_names[k] = strdup(sm->label_names[j]))) return sg_err_oom(err, "out of memory");
    }
    return 0;
}

/* The two batch buffers (bufs). */
static int alloc_batch_bufs(sg_trainer *t, sg_err *err)
{
    sg_backend *be = t->be;
    const sg_backend_ops *o = be->ops;
    int B = t->opt.batch, S = t->S;
    for (int k = 0; k < 2; k++) {
        batch_buf *b = &t->bufs[k];
        b->iter = -1;
        b->pix = malloc((size_t)S * S * 3);
        b->labels = malloc(sizeof(float) * (size_t)(SG_SHARD_MAX_LABELS + 1));
        if (!b->pix || !b->labels) return sg_err_oom(err, "out of memory");
        /* What set_batch_drawn_async uploads: host_alloc memory, so that the upload is asynchronous. */
        b->x = o->host_alloc(be, sizeof(float) * (size_t)B * 3 * S * S);
        b->c_org = o->host_alloc(be, sizeof(float) * (size_t)B * t->c_dim);
        if (!b->x || !b->c_org) {
            if (o->sync(be, err) == 0) sg_err_oom(err, "out of memory");
            return sg_err_prefix(err, "batch buffers (%zu bytes of host staging memory)",
                                 2 * sizeof(float) * ((size_t)B * 3 * S * S + (size_t)B * t->c_dim));
        }
    }
    return 0;
}

/* Host memory a run with batch B needs on the CPU backend: the model's
 * blocks (sg_model_bytes) and the two batch buffers (alloc_batch_bufs). */
static uint64_t cpu_run_bytes(const sg_trainer *t, int B)
{
    sg_model_config c = t->mcfg;
    c.batch = B;
    size_t S = (size_t)t->S;
    return (uint64_t)sg_model_bytes(&c, 0) + 2 * sizeof(float) * ((uint64_t)B * 3 * S * S + (uint64_t)B * t->c_dim);
}

/* cpu_run_bytes as sg_sysmem_largest calls it */
static uint64_t cpu_run_bytes_of(const void *t, int B)
{
    return cpu_run_bytes(t, B);
}

/* The largest batch below B (and within the model's sg_model_batch_max)
 * whose run needs at most room bytes; 0: none. */
static int batch_within(const sg_trainer *t, int B, uint64_t room)
{
    int batch_max = sg_model_batch_max(&t->mcfg, 0);
    return sg_sysmem_largest(cpu_run_bytes_of, t, B - 1 < batch_max ? B - 1 : batch_max, room);
}

static uint64_t sample_bytes(int S, int C, int n, int T);

/* The sample grid's memory, taken at the first sample (sample_once); 0 when
 * the run writes none. */
static uint64_t grid_bytes(const sg_trainer *t, int *n, int *T)
{
    *n = samples_asked(t);   /* pick_samples' count */
    if ((uint64_t)*n > t->counts[0]) *n = (int)t->counts[0];
    *T = sg_targets_count(&t->mcfg);
    return t->opt.sample_every > 0 && *n > 0 ? sample_bytes(t->S, t->c_dim, *n, *T) : 0;
}

/* The CPU backend's blocks are calloc'd and touched only when used: under
 * Linux's overcommit a model larger than the memory is not refused there
 * but killed by the kernel during the first steps, without a word (another
 * process may be killed instead). So a run that needs more than the process
 * can ever have (sg_sysmem limit) is refused here, before the run directory
 * is touched, naming a batch that fits; one that needs more than is
 * available now gets a note and goes on. CUDA's allocations fail cleanly,
 * but the sample grid is host memory on every backend, taken at the first
 * sample: counted here too, so that a run that cannot afford it stops now
 * rather than at iteration --sample-every. */
static int check_memory(sg_trainer *t, sg_err *err)
{
    sg_sysmem mem;
    sg_sysmem_read(&mem);
    const int B = t->opt.batch;
    int n, T;
    uint64_t grid = grid_bytes(t, &n, &T), need = grid + (t->cuda ? 0 : cpu_run_bytes(t, B));
    const sg_sysmem_verdict verdict = sg_sysmem_fit(&mem, need);
    if (verdict == SG_SYSMEM_FITS) return 0;
    const uint64_t hard = sg_sysmem_most(&mem);   /* refused only beyond memory and swap together */
    char need_s[24], limit_s[24], avail_s[24], grid_s[24], has[128], what[160];
    sg_size_text(need_s, need);
    sg_size_text(limit_s, mem.limit);
    sg_size_text(avail_s, mem.available);
    sg_sysmem_has_text(has, &mem);
    snprintf(what, sizeof what, "the sample grid (%d image%s to %d target%s at %d px)", n, n == 1 ? "" : "s", T,
             T == 1 ? "" : "s", t->S);
    if (grid > hard)
        return sg_errf(err, "%s needs about %s of memory; %s: use --sample-every 0 (no samples)", what,
                       sg_size_text(grid_s, grid), has);
    if (t->cuda) {   /* the grid alone, over what is available now */
        add_note(t, "%s needs about %s of memory, more than the %s available now (of %s): training goes on, but "
                 "may swap, or be killed if other processes need theirs", what, need_s, avail_s, limit_s);
        return 0;
    }
    char with[200] = "";   /* the grid named where it is a good part of the need */
    if (grid && grid >= need / 4) snprintf(with, sizeof with, " (%s of it %s)", sg_size_text(grid_s, grid), what);
    /* the batches that fit beside the grid */
    uint64_t avail_room = mem.available > grid ? mem.available - grid : 0;
    int fits_now = avail_room ? batch_within(t, B, avail_room) : 0;
    if (verdict == SG_SYSMEM_WARN) {
        char then[64] = "";
        if (fits_now) snprintf(then, sizeof then, "; --batch %d or less fits", fits_now);
        add_note(t, "--batch %d at %d px needs about %s of memory on the CPU%s, more than the %s available now "
                 "(of %s): training goes on, but may swap, or be killed if other processes need theirs%s", B, t->S,
                 need_s, with, avail_s, limit_s, then);
        return 0;
    }
    int fits = fits_now ? fits_now : batch_within(t, B, hard - grid);
    if (fits)
        return sg_errf(err, "--batch %d at %d px needs about %s of memory on the CPU%s; %s: use --batch %d or less",
                       B, t->S, need_s, with, has, fits);
    char one_s[24];
    sg_size_text(one_s, cpu_run_bytes(t, 1) + grid);
    if (t->resuming)   /* the model's sizes are the run's: --resume takes no other */
        return sg_errf(err, "--batch %d at %d px needs about %s of memory on the CPU%s, and --batch 1 about %s; "
                       "%s: resume the run on a GPU (--device cuda) or a machine with more memory%s", B, t->S,
                       need_s, with, one_s, has, with[0] ? ", or with --sample-every 0" : "");
    return sg_errf(err, "--batch %d at %d px needs about %s of memory on the CPU%s, and --batch 1 about %s; %s: use "
                   "smaller --g-conv-dim and --d-conv-dim%s, or a GPU (--device cuda)", B, t->S, need_s, with,
                   one_s, has, with[0] ? ", --sample-every 0" : "");
}

/* t's datasets, for config.json's writer and its checks (run_dir: where the
 * run is now) */
static sg_run_datasets run_datasets(sg_trainer *t)
{
    return (sg_run_datasets){t->run_dir, t->nd, t->shards, t->shard_paths, t->info.dataset_names};
}

/* config.json written with the options, model and datasets now */
static int write_run_config(sg_trainer *t, sg_err *err)
{
    sg_run_datasets d = run_datasets(t);
    return sg_run_write_config(&d, &t->mcfg, &t->opt, &t->rec, err);
}

/* Locks the run directory (a new run's is made) and checks it against the
 * mode: a resume needs the run (of these shards, in this order), a new run
 * an empty place. dup: open_shards'. */
static int check_run_dir(sg_trainer *t, int mode, const char *const *shard_paths, const int dup[2], sg_err *err)
{
    int resume = mode == SG_TRAIN_RESUME;
    if (dup[0] >= 0 && !resume) return sg_run_shard_twice(shard_paths, dup, err);
    int locked = lock_run_dir(t, !resume, err);   /* SG_TRAIN_BUSY passed on */
    if (locked) return locked;
    if (resume) {
        if (!sg_run_exists(t->run_dir)) return sg_run_resume_missing(t->run_dir, err);
        sg_run_datasets d = run_datasets(t);
        return sg_run_check_datasets(&d, shard_paths, dup, add_note, t, err);
    }
    if (sg_run_refuse_foreign(t->run_dir, err)) return -1;
    if (mode == SG_TRAIN_NEW && sg_run_exists(t->run_dir))
        return sg_errf(err, "%s already holds a run (--resume continues it, --force starts over)", t->run_dir);
    if (mode == SG_TRAIN_NEW && sg_run_refuse_files_left(t->run_dir, err)) return -1;
    if (mode == SG_TRAIN_REPLACE && sg_run_refuse_newer(t->run_dir, err)) return -1;
    return 0;
}

/* A resume: the checkpoint RUN/latest names (or, without latest, the newest
 * complete one) loaded into the model, checked against the shards and the
 * seed; t->iter and t->last_ckpt are its step. No checkpoint: the run starts
 * from iteration 0. */
static int load_latest_checkpoint(sg_trainer *t, sg_err *err)
{
    const char *run_dir = t->run_dir;
    int64_t step = -1;
    char lp[PATH_MAX];
    sg_run_file(lp, sizeof lp, run_dir, "latest");
    /* A FIFO would block the read for ever, a device would be read to the
     * limit: sg_ckpt_latest refuses them. */
    if (sg_ckpt_latest(run_dir, &step, err)) return -1;
    /* No latest but a checkpoint's three files: a first save killed between
     * them and latest, or latest deleted or lost. Starting from iteration 0
     * would trim the whole history and overwrite the checkpoints; the newest
     * complete one is where the run was (the state file's CRCs of G and D
     * tell whether the three belong together). */
    int64_t found = step < 0 ? sg_ckpt_newest_complete(run_dir, INT64_MAX) : -1;
    if (found >= 0) {
        add_note(t, "%s is missing: resuming from checkpoint %06lld, the newest in %s/ckpt (latest names it "
                 "again)", lp, (long long)found, run_dir);
        step = found;
    }
    if (step < 0) return 0;
    int unreadable;
    sg_ckpt_info si;   /* the state file's metadata: the run's seed */
    if (check_ckpt_matches(t, step, &unreadable, err) ||
        (unreadable = 1, sg_ckpt_load(t->model, run_dir, step, &si, err))) {
        /* damaged, truncated, missing or mixed files: say how to go on from the one before
         * (not for files a newer stargan-c wrote: going back would undo its work) */
        if (!unreadable || sg_ckpt_newer_format(run_dir, step)) return -1;
        /* a limit or permissions, not the files: going back would throw iterations away */
        if (sg_ckpt_access_hint(err)) return -1;
        int64_t prev = sg_ckpt_newest_complete(run_dir, step);
        if (prev >= 0) {
            char word[SG_SHELL_WORD_MAX];   /* pastes back: 'my run/latest' */
            sg_err_suffix(err, " (checkpoint %06lld is unusable; to resume from the one before it: echo %06lld > %s)",
                          (long long)step, (long long)prev,
                          sg_shell_word_in(word, sizeof word, lp) < sizeof word ? word : lp);
            return -1;
        }
        return sg_err_suffix(err, " (checkpoint %06lld is unusable and there is no earlier one; --force starts "
                             "over)", (long long)step);
    }
    /* --seed may not change on resume; config.json's is a text a user may edit */
    char sp[PATH_MAX];
    sg_ckpt_path(sp, sizeof sp, run_dir, step, "state");
    int other_seed = si.has_seed && si.seed != t->opt.seed;
    uint64_t run_seed = si.seed;
    /* another build may round, sum or draw otherwise (sg-train(1)): the
     * run goes on, and the user knows why it may not match a run that
     * was never stopped */
    if (!si.created_by[0])
        add_note(t, "%s was written by an older build of stargan-c, this is %s: the run goes on, "
                 "bit-for-bit as an uninterrupted run only on the build that wrote it", sp, sg_created_by);
    else if (strcmp(si.created_by, sg_created_by))
        add_note(t, "%s was written by %s, this is %s: the run goes on, bit-for-bit as an uninterrupted "
                 "run only on the build that wrote it", sp, sg_quote_str(si.created_by).s, sg_created_by);
    sg_ckpt_info_free(&si);
    if (other_seed) {
        char cf[PATH_MAX];
        sg_run_file(cf, sizeof cf, run_dir, "config.json");
        return sg_errf(err, "%s: seed %llu, but %s was trained with seed %llu (edited by hand? every draw would "
                       "differ from the run's: put the seed back)", cf, (unsigned long long)t->opt.seed, sp,
                       (unsigned long long)run_seed);
    }
    t->latest_lost = found >= 0;   /* written back once the resume is accepted (sg_trainer_begin) */
    t->iter = step;
    t->last_ckpt = step;
    return 0;
}

/* A resume, read: the latest checkpoint loaded, config.json's sessions and
 * history.jsonl's cut back to it found, the engine choices read. */
static int read_resumed(sg_trainer *t, sg_err *err)
{
    if (load_latest_checkpoint(t, err) || sg_run_keep_sessions(t->run_dir, t->nd, t->iter, &t->opt, &t->rec, err) ||
        scan_history(t, t->iter, err)) return -1;
    if (t->cuda) load_engines(t);
    t->rec.session.from = t->iter;
    return 0;
}

/* A resume, written: old checkpoints past --keep pruned, history.jsonl cut
 * back to the checkpoint, config.json written with the options now in force
 * (not when nothing is left to train: config.json stays as it was, another
 * build's run that build's own), latest named again where it was lost. */
static int continue_run(sg_trainer *t, sg_err *err)
{
    /* A save killed while pruning leaves a checkpoint too many, or one
     * without its state; the next save prunes it, but a finished run
     * makes none. Not an error of the resume. */
    sg_err pe;
    if (sg_ckpt_prune(t->run_dir, t->opt.keep, &pe)) add_note(t, "old checkpoints not pruned: %s", pe.msg);
    if (cut_history(t, err) || (t->iter < t->opt.iters && write_run_config(t, err))) return -1;
    /* latest again, for sg-sample and the pipelines (which read it), also
     * where this resume has nothing to train */
    return t->latest_lost ? sg_ckpt_write_latest(t->run_dir, t->iter, err) : 0;
}

/* A new run (mode SG_TRAIN_NEW or SG_TRAIN_REPLACE, whose old files go
 * first): config.json and an empty history.jsonl. */
static int start_run(sg_trainer *t, sg_err *err)
{
    if (t->mode == SG_TRAIN_REPLACE && sg_run_clear(t->run_dir, err)) return -1;
    if (sg_mkdir_p(t->run_dir, err) || write_run_config(t, err)) return -1;
    char hp[PATH_MAX];
    sg_run_file(hp, sizeof hp, t->run_dir, "history.jsonl");
    return sg_write_file_atomic(hp, "", 0, err);
}

int sg_trainer_prepare(sg_trainer **out, const char *run_dir, const sg_train_options *opt,
                       const char *const *shard_paths, int n_shards, sg_backend *be, int mode, sg_err *err)
{
    *out = NULL;
    if (n_shards < 1 || n_shards > SG_MAX_DATASETS)
        return sg_errf(err, "%d shards given (1 to %d)", n_shards, SG_MAX_DATASETS);
    if (opt->batch < 1 || opt->batch > MAX_BATCH)
        return sg_errf(err, "batch %d out of range (1..%d)", opt->batch, MAX_BATCH);
    if (opt->n_critic < 1) return sg_errf(err, "n_critic must be at least 1");
    /* The longest name a run writes, RUN/ckpt/NNNNNN-state.safetensors.tmp.PID.N
     * with 19-digit iterations, a 10-digit PID and a 10-digit writer number
     * (sg_temp_name), 69 bytes past RUN, within the 96 kept: a longer RUN
     * failed only at the first checkpoint, hours in. */
    if (strlen(run_dir) + 96 >= PATH_MAX)
        return sg_errf(err, "%s: the run directory's path is too long (%zu bytes; at most %d, its files' names "
                       "add up to 96 more)", run_dir, strlen(run_dir), PATH_MAX - 97);
    int dir_rc = -1;   /* check_run_dir's: SG_TRAIN_BUSY is returned as it is */
    sg_trainer *t = calloc(1, sizeof *t);
    if (!t) return sg_err_oom(err, "out of memory");
    t->opt = *opt;
    t->nd = n_shards;
    t->last_ckpt = -1;
    t->loader_asked = -1;
    t->error_dataset = -1;
    t->lock_fd = -1;
    t->be = be;
    t->cuda = be->name && !strcmp(be->name, "cuda");
    /* this start's "sessions" entry (from: continue_run) */
    sg_train_session *s = &t->rec.session;
    s->opt = *opt;
    s->threads_used = sg_backend_cpu_threads(be);
    if (s->threads_used) sg_backend_cpu_numerics(s->numerics, sizeof s->numerics);
    snprintf(s->created_by, sizeof s->created_by, "%s", sg_created_by);
    t->resuming = mode == SG_TRAIN_RESUME;
    t->mode = mode;
    for (int ds = 0; ds < n_shards; ds++) t->perm_epoch[ds] = -1;
    if (!(t->run_dir = strdup(run_dir))) {
        sg_err_oom(err, "out of memory");
        goto fail;
    }
    /* sg_trainer_free copes with a trainer stopped at any of these steps */
    int dup[2] = {-1, -1};   /* the first shard given twice: its two positions */
    if (open_shards(t, shard_paths, dup, err) || fill_config(t, shard_paths[0], err) || check_memory(t, err) ||
        alloc_batch_bufs(t, err) || (dir_rc = check_run_dir(t, mode, shard_paths, dup, err)))
        goto fail;
    if (sg_model_create(&t->model, &t->mcfg, be, opt->seed, err)) {
        /* the model's memory (on the CPU, beyond what check_memory could see: a ulimit -v) */
        if (err->sys_errno == ENOMEM)
            sg_err_suffix(err, " (--batch %d at %d px; try a smaller --batch)", opt->batch, t->S);
        goto fail;
    }
    sg_run_remove_stale_tmp(t->run_dir);
    if (mode == SG_TRAIN_RESUME) {
        if (read_resumed(t, err)) goto fail;
    } else {
        char hp[PATH_MAX];
        sg_run_file(hp, sizeof hp, t->run_dir, "history.jsonl");
        if (sg_refuse_irregular(hp, err)) goto fail;
        if (t->cuda) seed_engines(t);
    }
    pick_samples(t);
    t->clean_at = t->iter;
    *out = t;
    return 0;
fail:
    if (t->created_dir) rmdir(t->run_dir);   /* only if still empty; the lock is still held */
    sg_trainer_free(t);
    return dir_rc == SG_TRAIN_BUSY ? SG_TRAIN_BUSY : -1;
}

int sg_trainer_begin(sg_trainer *t, sg_err *err)
{
    if (t->begun) return 0;
    if ((t->mode == SG_TRAIN_RESUME ? continue_run(t, err) : start_run(t, err)) || open_history(t, err)) {
        if (t->created_dir) rmdir(t->run_dir);   /* only if still empty; the lock is still held */
        return -1;
    }
    t->begun = 1;
    t->log_prev_iter = t->iter;
    t->log_prev_time = now_s();
    return 0;
}

int sg_trainer_open(sg_trainer **out, const char *run_dir, const sg_train_options *opt,
                    const char *const *shard_paths, int n_shards, sg_backend *be, int mode, sg_err *err)
{
    int rc = sg_trainer_prepare(out, run_dir, opt, shard_paths, n_shards, be, mode, err);
    if (rc || sg_trainer_begin(*out, err) == 0) return rc;
    sg_trainer_free(*out);
    *out = NULL;
    return -1;
}

void sg_trainer_free(sg_trainer *t)
{
    if (!t) return;
    if (t->loader_started) {
        pthread_mutex_lock(&t->mu);
        t->loader_quit = 1;
        pthread_cond_broadcast(&t->cv);
        pthread_mutex_unlock(&t->mu);
        pthread_join(t->loader, NULL);
        pthread_mutex_destroy(&t->mu);
        pthread_cond_destroy(&t->cv);
    }
    if (t->history) fclose(t->history);
    sg_model_free(t->model);
    for (int ds = 0; ds < SG_MAX_DATASETS; ds++) {
        if (t->shards[ds]) sg_shard_close(t->shards[ds]);
        free(t->shard_paths[ds]);
        free(t->perm[ds]);
    }
    sg_ckpt_info_free(&t->info);
    for (int k = 0; k < 2; k++) {
        batch_buf *b = &t->bufs[k];
        free(b->pix); free(b->labels);
        /* host_free waits for an upload from the buffer still in flight */
        t->be->ops->host_free(t->be, b->x); t->be->ops->host_free(t->be, b->c_org);
    }
    if (t->lock_fd >= 0) close(t->lock_fd);
    sg_buf_free(&t->rec.sessions_kept);
    free(t->run_dir);
    free(t);
}

/* ---- one iteration ---- */

void sg_train_epoch_order(uint64_t seed, int ds, int64_t epoch, uint64_t n, uint32_t *p)
{
    for (uint64_t j = 0; j < n; j++) p[j] = (uint32_t)j;
    /* Fisher-Yates; the counter packs dataset, epoch and position. */
    uint64_t base = ((uint64_t)ds << 56) ^ ((uint64_t)epoch << 32);
    for (uint64_t j = n - 1; n > 1 && j > 0; j--) {
        uint32_t r = sg_randint(seed, SG_STREAM_EPOCH, base ^ j, (uint32_t)(j + 1));
        uint32_t tmp = p[j]; p[j] = p[r]; p[r] = tmp;
    }
}

int sg_train_flip(uint64_t seed, int64_t i, int k)
{
    return (int)(sg_rand64(seed, SG_STREAM_FLIP, ((uint64_t)i << 20) | (uint64_t)k) >> 63);
}

static int ensure_perm(sg_trainer *t, int ds, int64_t epoch, sg_err *err)
{
    if (t->perm_epoch[ds] == epoch) return 0;
    uint64_t n = t->counts[ds];
    if (!t->perm[ds] && !(t->perm[ds] = malloc(sizeof(uint32_t) * n))) return sg_err_oom(err, "out of memory");
    sg_train_epoch_order(t->opt.seed, ds, epoch, n, t->perm[ds]);
    t->perm_epoch[ds] = epoch;
    return 0;
}

static int load_batch(sg_trainer *t, int64_t i, batch_buf *bb, sg_err *err)
{
    __atomic_fetch_add(&t->batches_loaded, 1, __ATOMIC_RELAXED);
    const int ds = (int)(i % t->nd);
    const int B = t->opt.batch, S = t->S, C = t->c_dim;
    const uint64_t seed = t->opt.seed;
    uint64_t b = (uint64_t)i / t->nd, per_epoch = t->counts[ds] / B;
    int64_t epoch = (int64_t)(b / per_epoch);
    uint64_t pos = (b % per_epoch) * B;
    if (ensure_perm(t, ds, epoch, err)) return -1;
    for (int k = 0; k < B; k++) {
        uint64_t idx = t->perm[ds][pos + k];
        if (sg_shard_read(t->shards[ds], idx, bb->pix, bb->labels, NULL, 0, err)) return -1;
        int flip = t->opt.flip && sg_train_flip(seed, i, k);
        sg_rgb_to_chw(bb->pix, S, flip, bb->x + (size_t)k * 3 * S * S);
        sg_targets_own(&t->mcfg, ds, bb->labels, bb->c_org + (size_t)k * C);
    }
    /* c_trg and alpha: drawn by the backend from (seed, i) in step_queue */
    return 0;
}

static void *loader_main(void *arg)
{
    sg_trainer *t = arg;
    pthread_mutex_lock(&t->mu);
    while (!t->loader_quit) {
        if (t->loader_want < 0) { pthread_cond_wait(&t->cv, &t->mu); continue; }
        int64_t i = t->loader_want;
        t->loader_want = -1;
        t->loader_busy = 1;
        pthread_mutex_unlock(&t->mu);
        batch_buf *bb = &t->bufs[i & 1];
        bb->rc = load_batch(t, i, bb, &bb->err);
        pthread_mutex_lock(&t->mu);
        bb->iter = i;
        t->loader_busy = 0;
        pthread_cond_broadcast(&t->cv);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

/* Waits until the last upload from bufs[k] is done (fence slot FENCE_BUF + k),
 * so that the buffer may be refilled; on the main thread. 0, or -1 and err. */
static int buf_free_wait(sg_trainer *t, int k, sg_err *err)
{
    if (t->be->ops->fence_wait(t->be, FENCE_BUF + k) == 0) return 0;
    if (t->be->ops->sync(t->be, err) == 0) sg_errf(err, "backend error");
    return -1;
}

/* Asks the loader thread for iteration i's batch (no-op without the thread)
 * once the previous upload from its buffer is done. 0, or -1 and err. */
static int request_batch(sg_trainer *t, int64_t i, sg_err *err)
{
    if (buf_free_wait(t, (int)(i & 1), err)) return -1;
    if (!t->loader_started) {
        if (pthread_mutex_init(&t->mu, NULL) != 0) return 0;
        if (pthread_cond_init(&t->cv, NULL) != 0) { pthread_mutex_destroy(&t->mu); return 0; }
        t->loader_want = -1;
        if (sg_thread_start(&t->loader, loader_main, t) != 0) {
            pthread_cond_destroy(&t->cv);
            pthread_mutex_destroy(&t->mu);
            return 0;   /* batches are then loaded synchronously */
        }
        t->loader_started = 1;
    }
    pthread_mutex_lock(&t->mu);
    t->bufs[i & 1].iter = -1;
    t->loader_want = i;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    return 0;
}

/* Iteration i's batch: the loader's if it prepared it, else loaded here. */
static batch_buf *get_batch(sg_trainer *t, int64_t i)
{
    batch_buf *bb = &t->bufs[i & 1];
    if (t->loader_started) {
        pthread_mutex_lock(&t->mu);
        while (t->loader_busy || t->loader_want >= 0) pthread_cond_wait(&t->cv, &t->mu);
        pthread_mutex_unlock(&t->mu);
    }
    if (bb->iter != i) {
        bb->rc = buf_free_wait(t, (int)(i & 1), &bb->err);
        if (bb->rc == 0) bb->rc = load_batch(t, i, bb, &bb->err);
        bb->iter = i;
    }
    return bb;
}

static void ckpt_desc(const sg_trainer *t, char *out, size_t n)
{
    if (t->last_ckpt < 0) snprintf(out, n, "none yet");
    else sg_ckpt_path(out, n, t->run_dir, t->last_ckpt, NULL);
}

static const char *const loss_names[7] = {"D/loss_real", "D/loss_fake", "D/loss_cls", "D/loss_gp",
                                          "G/loss_fake", "G/loss_rec", "G/loss_cls"};

static void loss_values(const sg_losses *L, float v[7])
{
    v[0] = L->d_loss_real; v[1] = L->d_loss_fake; v[2] = L->d_loss_cls; v[3] = L->d_loss_gp;
    v[4] = L->g_loss_fake; v[5] = L->g_loss_rec; v[6] = L->g_loss_cls;
}

static int with_last_ckpt(sg_trainer *t, sg_err *err);

/* Uploads iteration i's batch into the model: as the current batch, or
 * (queue) as the one after it. */
static int upload_batch(sg_trainer *t, int64_t i, int queue, sg_err *err)
{
    batch_buf *bb = get_batch(t, i);
    int ds = (int)(i % t->nd);
    if (bb->rc) {                 /* a damaged record, or the shard unreadable */
        *err = bb->err;
        t->error_dataset = ds;
        return -1;
    }
    /* marks fence slot FENCE_BUF + (i & 1), waited for before bufs[i & 1] is refilled */
    if ((queue ? sg_model_queue_batch_drawn_async : sg_model_set_batch_drawn_async)(
            t->model, ds, t->opt.batch, bb->x, bb->c_org, t->opt.seed, i, t->opt.target_random,
            FENCE_BUF + (int)(i & 1), err))
        return -1;
    bb->iter = -1;   /* queued: the buffer is free for iteration i + 2 once the fence is reached */
    return 0;
}

/* Queues iteration t->iter (set_batch, the D step, the G step when due) and
 * advances t->iter; waits for nothing but the upload of the buffer the loader
 * refills next. may_queue: the next iteration's batch may be queued ahead
 * (sg_model_overlap_g), which makes its G forward run in this D step, so this
 * iteration must not end in a checkpoint. st: the iteration's fields, losses
 * those last read. */
static int step_queue(sg_trainer *t, sg_train_status *st, int may_queue, sg_err *err)
{
    int64_t i = t->iter;
    int ds = (int)(i % t->nd);
    float lr_d = sg_train_lr(t->opt.d_lr, i, t->opt.iters, t->opt.decay_iters, t->nd);
    float lr_g = sg_train_lr(t->opt.g_lr, i, t->opt.iters, t->opt.decay_iters, t->nd);
    int g_step = sg_train_g_step(i, t->nd, t->opt.n_critic);
    int saving_after = (t->opt.save_every > 0 && (i + 1) % t->opt.save_every == 0) || (t->stop && t->stop->stop);
    int queue = may_queue && sg_model_overlap_g(t->model) && i + 1 < t->opt.iters && !g_step && !saving_after;
    if ((!t->batch_current && upload_batch(t, i, 0, err)) || (queue && upload_batch(t, i + 1, 1, err))) {
        sg_err_prefix(err, "iteration %lld", (long long)(i + 1));
        return t->error_dataset >= 0 ? with_last_ckpt(t, err) : -1;
    }
    int64_t ask = queue ? i + 2 : i + 1;   /* the loader's next batch */
    if ((ask < t->opt.iters && ask > t->loader_asked && (t->loader_asked = ask, request_batch(t, ask, err))) ||
        (g_step ? sg_model_d_g_steps(t->model, lr_d, lr_g, err) : sg_model_d_step(t->model, lr_d, err)) ||
        (queue && sg_model_next_batch(t->model, err)))
        return sg_err_prefix(err, "iteration %lld", (long long)(i + 1));
    t->batch_current = queue;
    t->iter = i + 1;
    if (g_step) t->g_at = t->iter;
    if (st) {
        memset(st, 0, sizeof *st);
        st->iteration = t->iter;
        st->iters = t->opt.iters;
        st->dataset = ds;
        st->g_stepped = g_step;
        st->losses = t->losses;
        st->losses_at = t->losses_at;
        st->g_at = t->losses_g_at;
    }
    return 0;
}

/* Reads the losses of the iteration just run (a sync: the queued work is done
 * after it) into t->losses and st, and stops on a non-finite one. D's terms are
 * this iteration's; G's those of the last G update, checked if G was updated
 * since the last read. A problem is only seen here, so it is reported as having
 * appeared after the last read that was finite. */
static int read_losses(sg_trainer *t, sg_train_status *st, sg_err *err)
{
    sg_losses L;
    if (sg_model_read_losses(t->model, &L, err)) return sg_err_prefix(err, "iteration %lld", (long long)t->iter);
    float v[7];
    loss_values(&L, v);
    int check_g = t->g_at > t->clean_at;
    for (int k = 0; k < (check_g ? 7 : 4); k++)
        if (!isfinite(v[k])) {
            char cp[PATH_MAX];
            ckpt_desc(t, cp, sizeof cp);
            int64_t at = k < 4 ? t->iter : t->g_at, from = t->clean_at + 1;
            const char *what = isnan(v[k]) ? "nan" : "inf";
            t->error_names_checkpoint = 1;
            if (from >= at)
                return sg_errf(err, "iteration %lld: %s is %s; last good checkpoint: %s", (long long)at,
                               loss_names[k], what, cp);
            return sg_errf(err, "iteration %lld: %s is %s; it appeared between iterations %lld and %lld "
                           "(losses are checked at logged iterations and checkpoints); last good checkpoint: %s",
                           (long long)at, loss_names[k], what, (long long)from, (long long)at, cp);
        }
    t->losses = L;
    t->losses_at = t->clean_at = t->iter;
    t->losses_g_at = t->g_at;
    if (st) {
        st->losses = L;
        st->losses_at = t->iter;
        st->g_at = t->g_at;
    }
    return 0;
}

int sg_trainer_step(sg_trainer *t, sg_train_status *st, sg_err *err)
{
    return step_queue(t, st, 0, err) || read_losses(t, st, err) ? -1 : 0;
}

/* ---- logging, sampling, saving ---- */

static int write_in_run(sg_trainer *t, int what, const sg_buf *line, sg_err *err);

/* One history line, by write(2) on the file's descriptor (not stdio, whose
 * buffer a failed write leaves in no known state): a line written in part
 * is cut off again, so that the line can be tried again (write_in_run) and a
 * run stopped here leaves no torn line. */
static int append_history(sg_trainer *t, const sg_buf *line, sg_err *err)
{
    int fd = fileno(t->history);
    struct stat st;
    if (fstat(fd, &st) != 0) return sg_errno(err, "%s/history.jsonl", t->run_dir);
    for (size_t off = 0; off < line->len;) {
        ssize_t n = write(fd, line->data + off, line->len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            if (off > 0 && ftruncate(fd, st.st_size) != 0) t->no_retry = 1;
            return sg_err_sys(err, e, "%s/history.jsonl", t->run_dir);
        }
        off += (size_t)n;
    }
    t->history_dirty = 1;
    return 0;
}

static int write_history(sg_trainer *t, const sg_train_status *st, double images_per_s, sg_err *err)
{
    sg_buf b = SG_BUF_INIT;
    int64_t i = st->iteration - 1;
    sg_buf_appendf(&b, "{\"iteration\":%lld,\"dataset\":", (long long)st->iteration);
    /* a name another dataset shares (x/train.lmdb, y/train.lmdb) with its
     * number, "2:train", as sg-sample shows it: the two stay apart in plots
     * (sg_targets_dataset_label) */
    const char *names[SG_MAX_DATASETS];
    sg_ckpt_dataset_names(&t->info, names);
    char label[SG_CKPT_NAME_MAX + 16];
    sg_targets_dataset_label(&t->mcfg, names, st->dataset, label, sizeof label);
    json_buf_cstr(&b, label);
    float vals[7];
    loss_values(&st->losses, vals);
    for (int k = 0; k < (st->g_stepped ? 7 : 4); k++) {
        sg_buf_appendf(&b, ",\"%s\":", loss_names[k]);
        json_buf_float(&b, vals[k]);
    }
    /* One "lr" when G and D use the same rate (DESIGN.md's name), else "G/lr" and "D/lr". */
    float lr_g = sg_train_lr(t->opt.g_lr, i, t->opt.iters, t->opt.decay_iters, t->nd);
    float lr_d = sg_train_lr(t->opt.d_lr, i, t->opt.iters, t->opt.decay_iters, t->nd);
    if (lr_g == lr_d) {
        sg_buf_puts(&b, ",\"lr\":");
        json_buf_float(&b, lr_g);
    } else {
        sg_buf_puts(&b, ",\"G/lr\":");
        json_buf_float(&b, lr_g);
        sg_buf_puts(&b, ",\"D/lr\":");
        json_buf_float(&b, lr_d);
    }
    sg_buf_appendf(&b, ",\"images/s\":%.2f,\"elapsed\":%.3f}\n", images_per_s, st->elapsed);
    int rc = b.failed ? sg_err_oom(err, "out of memory") : write_in_run(t, SG_TRAIN_WRITE_HISTORY, &b, err);
    sg_buf_free(&b);
    return rc;
}

static int sample_once(sg_trainer *t, sg_err *err);

/* mkdir of one level: a RUN gone since it was opened is not made again, as
 * mkdir -p would (follow_run_dir). 0777: the umask decides, as for mkdir(1)
 * and sg_mkdir_p (a group sharing a run under umask 002 writes in it). */
static int mkdir_in_run(const char *path, sg_err *err)
{
    struct stat st;
    if (mkdir(path, 0777) != 0 && errno != EEXIST) return sg_errno(err, "%s", path);
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return sg_errf(err, "%s: not a directory", path);
    return 0;
}

/* Before a sample or checkpoint: is run_dir still the directory we locked?
 * Files are written by path, so after `mv RUN NEW` they would go to a new RUN
 * (without config.json and history) while history.jsonl, an open file, went on
 * in NEW: a run split in two. A moved run goes on in its new place (found by
 * the locked fd) and the tool is told once; a deleted one stops, as nothing
 * saved there could be resumed. No lock (NFS): nothing to compare with. */
static int follow_run_dir(sg_trainer *t, sg_err *err)
{
    struct stat st, locked;
    if (t->lock_fd < 0 || fstat(t->lock_fd, &locked) != 0) return 0;
    if (stat(t->run_dir, &st) == 0 && st.st_dev == locked.st_dev && st.st_ino == locked.st_ino) return 0;
    char fdp[64], now[PATH_MAX];
    ssize_t n = -1;
    snprintf(fdp, sizeof fdp, "/proc/self/fd/%d", t->lock_fd);
    if (locked.st_nlink > 0) n = readlink(fdp, now, sizeof now - 1);
    if (n > 0) now[n] = 0;
    /* the link reads "PATH (deleted)" once the directory is gone; check it is ours */
    if (n <= 0 || (size_t)n + 64 >= PATH_MAX || stat(now, &st) != 0 || st.st_dev != locked.st_dev ||
        st.st_ino != locked.st_ino)
        return t->run_dir_gone = 1,
               sg_errf(err, "%s: the run directory was deleted while training (or moved where it cannot be "
                       "found): nothing can be saved there, so the run stops at iteration %lld without a "
                       "checkpoint", t->run_dir, (long long)t->iter);
    char *moved = strdup(now);
    if (!moved) return sg_err_oom(err, "out of memory");
    snprintf(t->run_note, sizeof t->run_note, "%s was moved to %s: the run goes on there", t->run_dir, moved);
    free(t->run_dir);
    t->run_dir = moved;
    t->run_dir_moves++;
    /* a write cut short by the move left its NAME.tmp.PID there */
    sg_run_remove_stale_tmp(t->run_dir);
    return 0;
}

/* After a failed sample or save: 1 when the run directory was moved meanwhile
 * (the write is tried again in the new place), else 0; -1 (err replaced) when
 * it was deleted. */
static int moved_meanwhile(sg_trainer *t, sg_err *err)
{
    int moves = t->run_dir_moves;
    sg_err e;
    /* A file or folder of the run gone under a write while RUN is still
     * there: maybe an rm -rf RUN under way; its end tells which. */
    for (int k = 0; k < 2; k++) {
        if (follow_run_dir(t, &e)) {
            *err = e;
            t->error_names_checkpoint = 0;   /* the failed write's message named one */
            return -1;
        }
        if (t->run_dir_moves != moves || err->sys_errno != ENOENT) break;
        if (k == 0) nanosleep(&(struct timespec){0, 200000000}, NULL);
    }
    return t->run_dir_moves != moves;
}

static int save_once(sg_trainer *t, sg_err *err);

/* One try of a write of the run (what: SG_TRAIN_WRITE_*). A sample or a
 * checkpoint goes to the run directory wherever it is now, once more where
 * it was moved during the write; history.jsonl is an open file. */
static int write_once(sg_trainer *t, int what, const sg_buf *line, sg_err *err)
{
    if (what == SG_TRAIN_WRITE_HISTORY) return append_history(t, line, err);
    int (*write_file)(sg_trainer *, sg_err *) = what == SG_TRAIN_WRITE_SAMPLE ? sample_once : save_once;
    if (follow_run_dir(t, err)) return -1;
    int rc = write_file(t, err);
    if (rc && !t->no_retry && moved_meanwhile(t, err) > 0) rc = write_file(t, err);
    return rc;
}

/* The tool's callback for a write that found no space (s->err set) or that
 * went through after such tries (s->err NULL); its time is the wait, left out
 * of the rates. Returns the callback's answer: try again or not. */
static int call_space_cb(sg_trainer *t, sg_train_space *s)
{
    static const char *const names[] = {"ckpt", "samples", "history.jsonl"};
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", t->run_dir, names[s->what]);
    s->path = path;
    s->last_checkpoint = t->last_ckpt;
    double t0 = now_s();
    int again = t->space_cb(t->space_ctx, s);
    t->space_wait_s += now_s() - t0;
    s->path = NULL;
    return again;
}

/* A write of the run, tried again while it fails for want of space and the
 * tool's callback says so (sg_trainer_on_no_space): the one place a full disk
 * is waited out. A failed try leaves nothing behind (a checkpoint's partial
 * files are removed, a history line's part cut off), and the model and the
 * draws are untouched, so the run goes on as if the first try had gone
 * through. */
static int write_in_run(sg_trainer *t, int what, const sg_buf *line, sg_err *err)
{
    sg_train_space s = {what, t->iter, NULL, -1, 0, err};
    int rc;
    t->no_retry = 0;
    while ((rc = write_once(t, what, line, err)) && t->space_cb && !t->no_retry && !t->run_dir_gone &&
           (err->sys_errno == ENOSPC || err->sys_errno == EDQUOT)) {
        s.tries++;
        if (!call_space_cb(t, &s)) break;
    }
    if (!rc && s.tries) {
        t->error_names_checkpoint = 0;   /* set by the failed tries' messages */
        s.err = NULL;                    /* the callback's "space found" */
        call_space_cb(t, &s);
    }
    return rc;
}

/* Writes RUN/samples/NNNNNN.png for the current iteration. */
static int write_sample(sg_trainer *t, sg_err *err) { return write_in_run(t, SG_TRAIN_WRITE_SAMPLE, NULL, err); }

const char *sg_trainer_run_dir(const sg_trainer *t) { return t->run_dir; }

/* The host memory sample_once takes for n images and T targets at S px, C
 * labels: x, y and c for all n x T translations (one sg_model_generate
 * call), the grid, and its PNG (about the grid's size). */
static uint64_t sample_bytes(int S, int C, int n, int T)
{
    uint64_t img = 3 * (uint64_t)S * S, grid = img * ((uint64_t)T + 1) * n;
    return sizeof(float) * (2 * img + C) * n * T + sizeof(float) * (SG_SHARD_MAX_LABELS + 1) + img + 2 * grid;
}

static int sample_once(sg_trainer *t, sg_err *err)
{
    const int S = t->S, C = t->c_dim, n = t->n_samples;
    const int T = sg_targets_count(&t->mcfg);
    if (n == 0) return 0;
    size_t img = (size_t)3 * S * S;
    float *x = malloc(sizeof(float) * img * n * T);
    float *c = malloc(sizeof(float) * (size_t)C * n * T);
    float *y = malloc(sizeof(float) * img * n * T);
    float *lab = malloc(sizeof(float) * (SG_SHARD_MAX_LABELS + 1));
    uint8_t *pix = malloc((size_t)S * S * 3);
    uint8_t *grid = malloc((size_t)S * (T + 1) * S * n * 3);
    int W = S * (T + 1), rc = -1;
    if (!x || !c || !y || !lab || !grid || !pix) { sg_err_oom(err, "out of memory"); goto done; }
    for (int k = 0; k < n; k++) {
        if (sg_shard_read(t->shards[0], t->sample_idx[k], pix, lab, NULL, 0, err)) goto done;
        for (int yy = 0; yy < S; yy++)   /* the grid's first column: the input */
            memcpy(grid + ((size_t)k * S + yy) * W * 3, pix + (size_t)yy * S * 3, (size_t)S * 3);
        sg_rgb_to_chw(pix, S, 0, x + (size_t)k * T * img);
        for (int j = 1; j < T; j++) memcpy(x + ((size_t)k * T + j) * img, x + (size_t)k * T * img, sizeof(float) * img);
        if (sg_targets_all(&t->mcfg, (const char *const *)t->info.label_names, 0, lab, c + (size_t)k * T * C, err))
            goto done;
    }
    if (sg_model_generate(t->model, n * T, x, c, y, err)) goto done;
    for (int k = 0; k < n; k++)
        for (int j = 0; j < T; j++)
            sg_chw_to_rgb(y + ((size_t)k * T + j) * img, S, grid + ((size_t)k * S * W + (size_t)(j + 1) * S) * 3,
                          (size_t)W * 3);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/samples", t->run_dir);
    if (mkdir_in_run(path, err)) goto done;
    snprintf(path, sizeof path, "%s/samples/%06lld.png", t->run_dir, (long long)t->iter);
    rc = sg_image_write_commented(path, grid, W, S * n, SG_IMAGE_GRID_COMMENT, err);   /* not one face */
done:
    free(x); free(c); free(y); free(lab); free(grid); free(pix);
    return rc;
}

/* A checkpoint, history or sample write that failed stops the run: the
 * message says where a resume continues from. Returns -1. */
static int with_last_ckpt(sg_trainer *t, sg_err *err)
{
    if (t->run_dir_gone) return -1;   /* its checkpoints went with it */
    t->error_names_checkpoint = 1;
    char cp[PATH_MAX];
    ckpt_desc(t, cp, sizeof cp);
    return sg_err_suffix(err, "; last good checkpoint: %s", cp);
}

/* After a failed save: the checkpoint a resume would continue from now, as
 * the files say (latest, or without it the newest complete checkpoint:
 * sg_trainer_open's rule). The save may have failed after latest already
 * named the new checkpoint (syncing its directory), or after all three files
 * of a first checkpoint were written but not latest. */
static void last_ckpt_from_disk(sg_trainer *t)
{
    sg_err ignored;
    int64_t step;
    if (sg_ckpt_latest(t->run_dir, &step, &ignored) != 0) return;
    if (step < 0) step = sg_ckpt_newest_complete(t->run_dir, INT64_MAX);
    if (step > t->last_ckpt && sg_ckpt_is_complete(t->run_dir, step)) t->last_ckpt = step;
}

static int save_once(sg_trainer *t, sg_err *err)
{
    if (t->cuda) {
        int made = sg_backend_cuda_engine_choices(t->be, NULL, NULL);
        char p[PATH_MAX];
        sg_run_file(p, sizeof p, t->run_dir, SG_RUN_ENGINES_FILE);
        if (made > t->engines_saved) {
            if (sg_backend_cuda_engines_save(t->be, p, err)) return -1;
            t->engines_saved = made;
        }
    }
    /* History up to this iteration is durable before the checkpoint points
     * past it. A failed fsync may have dropped lines that no later fsync
     * would report: that one is not tried again (no_retry). */
    if (t->history && t->history_dirty) {
        if (fsync(fileno(t->history)) != 0) {
            t->no_retry = 1;
            sg_errno(err, "%s/history.jsonl", t->run_dir);
            return with_last_ckpt(t, err);
        }
        t->history_dirty = 0;
    }
    char ckd[PATH_MAX];
    /* one level, as for samples (sg_ckpt_save's own mkdir -p then finds it) */
    snprintf(ckd, sizeof ckd, "%s/ckpt", t->run_dir);
    if (mkdir_in_run(ckd, err)) return with_last_ckpt(t, err);
    /* A run of the former schedule becomes "stargan-c-run/2" with the first
     * checkpoint trained in rounds: before latest names it, and back to 1
     * should the save fail before that (killed in between: /2, with latest
     * still naming one of the former schedule). */
    int bumped = 0;
    if (t->rec.former_schedule && t->iter > t->rec.session.from) {
        t->rec.former_schedule = 0;
        t->rec.rounds_from = t->iter;
        if (write_run_config(t, err)) {
            t->rec.former_schedule = 1;
            t->rec.rounds_from = 0;
            return with_last_ckpt(t, err);
        }
        bumped = 1;
    }
    unsigned unsynced = sg_unsynced_count();
    const volatile sig_atomic_t *abandon = t->stop ? &t->stop->abandon : NULL;
    int saved = sg_ckpt_save_abandonable(t->model, t->run_dir, &t->info, t->iter, abandon, err);
    if (saved < 0) {
        last_ckpt_from_disk(t);
        if (bumped && t->last_ckpt != t->iter) {
            sg_err ignored;   /* best effort: the save's error is the news */
            t->rec.former_schedule = 1;
            t->rec.rounds_from = 0;
            write_run_config(t, &ignored);
        }
        /* Not the checkpoint a resume continues from: its files written so
         * far (G, or G and D) would stay for good as "newer than latest",
         * hundreds of MB on a disk that is likely full. */
        if (t->last_ckpt != t->iter) {
            int removed = 0;
            sg_err re;
            sg_ckpt_remove(t->run_dir, t->iter, &removed, &re);   /* best effort: the save's error is the news */
            if (removed) {
                char cp[PATH_MAX];
                sg_ckpt_path(cp, sizeof cp, t->run_dir, t->iter, NULL);
                sg_err_suffix(err, " (the partial checkpoint %s was removed)", cp);
            }
        }
        return with_last_ckpt(t, err);
    }
    t->last_ckpt = t->iter;
    /* complete, a directory unsynced and no unsynced handler to warn (a
     * program of its own on lib/; the tools install one): a note says so */
    if (saved == SG_WRITTEN_UNSYNCED) add_note(t, "%s", err->msg);
    /* a file of it whose directory did not sync (a warning said so) may not
     * survive a crash: the older checkpoints stay, the next save prunes */
    if (sg_unsynced_count() != unsynced) return 0;
    return sg_ckpt_prune(t->run_dir, t->opt.keep, err) ? with_last_ckpt(t, err) : 0;
}

int sg_trainer_save(sg_trainer *t, sg_err *err) { return write_in_run(t, SG_TRAIN_WRITE_CHECKPOINT, NULL, err); }

double sg_train_rate_add(sg_train_rate *r, double dt, int64_t n)
{
    if (dt < 0) dt = 0;
    double w = exp(-dt / SG_TRAIN_RATE_WINDOW);
    r->time = r->time * w + dt;
    r->iters = r->iters * w + (double)n;
    return r->time > 0 ? r->iters / r->time : 0;
}

static int should_log(const sg_trainer *t, int64_t done)
{
    /* Every iteration of a round (one per dataset) that holds a multiple of
     * log_every, so that every dataset appears in the history, with its G
     * losses in a round that updates G (logging log_every and the n_datasets
     * - 1 iterations after it crossed rounds: with 2 datasets only the
     * second's G losses were ever logged). */
    if (t->opt.log_every <= 0) return 0;
    int64_t last = (done - 1) / t->nd * t->nd + t->nd;   /* the round's last iteration, counted from 1 */
    return last % t->opt.log_every < t->nd;
}

static int run_loop(sg_trainer *t, sg_train_stop *stop, sg_train_callback cb, void *ctx, sg_err *err)
{
    double start = now_s();
    t->log_prev_time = start;
    t->log_prev_wait = t->space_wait_s;
    t->log_prev_iter = t->iter;
    sg_train_rate rate = {0, 0};
    double prev_end = start, waited = t->space_wait_s;
    while (t->iter < t->opt.iters) {
        sg_train_status st;
        if (step_queue(t, &st, 1, err)) return -1;
        /* Only these iterations wait for the device: the losses are read (and
         * checked) where they are logged, before every checkpoint and at the end.
         * A stop asked for after the next batch's G forward was queued ends
         * one iteration later, when that forward's D step has run. */
        int stopping = stop && stop->stop && !t->batch_current;
        int logging = should_log(t, t->iter);
        int saving = (t->opt.save_every > 0 && t->iter % t->opt.save_every == 0) || t->iter == t->opt.iters ||
                     stopping;
        if ((logging || saving) && read_losses(t, &st, err)) return -1;
        double t1 = now_s();
        st.elapsed = t->elapsed_base + (t1 - start);
        if (logging) {
            /* not the time a full disk was waited out, as for it/s below */
            double waited_at_t1 = t->space_wait_s;
            double span = t1 - t->log_prev_time - (waited_at_t1 - t->log_prev_wait);
            double ips = span > 0 ? (double)(t->iter - t->log_prev_iter) * t->opt.batch / span : 0;
            if (write_history(t, &st, ips, err)) return with_last_ckpt(t, err);
            t->log_prev_time = t1;
            t->log_prev_wait = waited_at_t1;
            t->log_prev_iter = t->iter;
        }
        t->run_note[0] = 0;   /* set when sampling or saving finds the run directory moved */
        if (t->opt.sample_every > 0 && t->iter % t->opt.sample_every == 0 && write_sample(t, err))
            return with_last_ckpt(t, err);
        if (saving && stop) stop->saving = 1;   /* left so when this returns: the tool's handler reads it */
        if (saving && sg_trainer_save(t, err)) return -1;
        st.saved = saving;
        st.note = t->run_note[0] ? t->run_note : NULL;
        /* from the previous iteration's end: its history line, sample and
         * checkpoint count (a rate of the steps alone promised an ETA that a
         * run saving often never met) */
        double t2 = now_s();
        /* not the time a full disk was waited out (sg_trainer_on_no_space) */
        st.it_per_s = sg_train_rate_add(&rate, t2 - prev_end - (t->space_wait_s - waited), 1);
        prev_end = t2;
        waited = t->space_wait_s;
        if (cb) cb(ctx, &st);
        /* a stop seen in the last iteration: its checkpoint is the run's
         * last, nothing is left to resume. A second request that came too
         * late to give this checkpoint up ends the run here, with it. */
        if ((stopping || (saving && stop && stop->abandon)) && t->iter < t->opt.iters) return 1;
        if (stop) stop->saving = 0;
    }
    return 0;
}

int sg_trainer_run(sg_trainer *t, sg_train_stop *stop, sg_train_callback cb, void *ctx, sg_err *err)
{
    if (!t->begun) return sg_errf(err, "%s: training asked for before sg_trainer_begin", t->run_dir);
    t->stop = stop;   /* step_queue queues no batch ahead once a stop is asked for */
    int rc = run_loop(t, stop, cb, ctx, err);
    t->stop = NULL;
    return rc;
}
