#define _GNU_SOURCE   /* memmem */
#include "trainer.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
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

/* config.json's format: /1 for one dataset (unchanged since the first
 * release) and for several datasets trained with the former G schedule; /2
 * for several datasets trained in rounds (sg_train_g_step), so that an older
 * sg-train refuses such a run instead of going on with its own schedule. */
#define RUN_FORMAT_FAMILY "stargan-c-run"
#define RUN_FORMAT_NEWEST 2
/* per-image counters use the low 20 bits; the backend draws targets and
 * alpha for at most SG_BATCH_DRAW_MAX images */
#define MAX_BATCH SG_BATCH_DRAW_MAX
#define SAMPLES_DEFAULT 8

void sg_train_options_default(sg_train_options *o)
{
    memset(o, 0, sizeof *o);
    o->g_conv_dim = 64; o->g_repeat = 6; o->d_conv_dim = 64; o->d_repeat = 0;
    o->iters = 200000; o->decay_iters = 100000;
    o->batch = 16; o->n_critic = 5;
    o->g_lr = 1e-4; o->d_lr = 1e-4; o->beta1 = 0.5; o->beta2 = 0.999;
    o->lambda_cls = 1; o->lambda_rec = 10; o->lambda_gp = 10;
    o->flip = 1; o->target_random = 0; o->seed = 0;
    o->log_every = 10; o->sample_every = 1000; o->save_every = 10000; o->keep = 0;
    o->n_samples = SAMPLES_DEFAULT;
}

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
     * CUDA): uploaded asynchronously, so after set_batch from bufs[k] the
     * trainer marks fence slot k and waits for it before bufs[k] is refilled. */
    float *x, *c_org;                   /* c_trg and alpha are drawn by the backend */
    uint8_t *pix;                       /* (S, S, 3) scratch */
    float *labels;                      /* (n_labels) scratch */
    int64_t iter;                       /* iteration held, -1: none */
    int rc;
    sg_err err;
} batch_buf;

/* config.json's record of a run's G schedule and of its starts, carried
 * from a resume's read of it (keep_sessions) to every write of it
 * (write_config). */
typedef struct {
    /* A resume of several datasets from a checkpoint of the former G
     * schedule (sg_trainer_former_schedule) that has not yet saved a
     * checkpoint: config.json stays "stargan-c-run/1" until then (write_config) */
    int former_schedule;
    /* config.json's "g_rounds_from": a run of the former schedule's first
     * checkpoint in rounds (0: none, or in rounds from its start). A resume
     * from an earlier checkpoint (one killed before latest named that one)
     * is of the former schedule, whatever the format says. */
    int64_t rounds_from;
    /* config.json's "sessions": the earlier starts' entries kept (JSON, joined
     * by SESSION_SEP), then this start's (write_config) */
    sg_buf sessions_kept;
    int n_sessions_kept;
    sg_train_session session;     /* this start */
    sg_train_session resumed;     /* the start that trained up to the checkpoint resumed from */
    int has_resumed;
} sg_run_record;

/* A run's datasets as the trainer holds them, for config.json's writer and
 * its checks: the shards open, their absolute paths, and the datasets' names
 * (check_config_datasets sets them to the run's). */
typedef struct {
    const char *run_dir;
    int n;
    sg_shard *const *shards;
    char *const *paths;
    char (*names)[SG_CKPT_NAME_MAX];
} sg_run_datasets;

/* Where the checks of config.json put a note for the tool (sg_trainer_note). */
typedef void (*sg_run_note_fn)(void *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct sg_trainer {
    int resuming;   /* opened with SG_TRAIN_RESUME: the model's sizes are the run's */
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
    int cuda;                     /* be is the CUDA backend: keep ENGINES_FILE */
    int engines_saved;            /* engine choices in ENGINES_FILE (sg_backend_cuda_engine_choices) */
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
    volatile sig_atomic_t *stop;  /* sg_trainer_run's, or NULL */
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

/* The CUDA backend's convolution engine choices (lib/backend.h): saved with
 * each checkpoint when new ones were made, loaded on resume, so that a
 * resumed run computes what the uninterrupted one would have. */
#define ENGINES_FILE "cudnn-engines.txt"

static void run_file(char *out, size_t n, const char *run_dir, const char *name)
{
    snprintf(out, n, "%s/%s", run_dir, name);
}

int sg_run_exists(const char *run_dir)
{
    char p[PATH_MAX];
    run_file(p, sizeof p, run_dir, "config.json");
    return access(p, F_OK) == 0;
}

/* The entries of dir whose name is PREFIX, then one character or more that
 * hold INFIX, then SUFFIX (each part may be ""): "000002-G.safetensors" is a
 * run's ".safetensors", a file named ".png" alone is no sample. Without
 * remove: 1 at the first one found, else 0 (also when dir cannot be read).
 * With remove: each is unlinked; 0, or -1 and err when dir exists but cannot
 * be read or an entry cannot be removed (the scan stops there), except without
 * err (NULL): then every entry is tried and failures are ignored. */
static int scan_dir(const char *dir, const char *prefix, const char *infix, const char *suffix, int remove,
                    sg_err *err)
{
    DIR *dp = opendir(dir);
    if (!dp) return !remove || errno == ENOENT ? 0 : sg_errno(err, "%s", dir);
    size_t pl = strlen(prefix), il = strlen(infix), sl = strlen(suffix);
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(dp))) {
        const char *n = de->d_name;
        size_t l = strlen(n);
        if (l <= pl + sl || strncmp(n, prefix, pl) || strcmp(n + l - sl, suffix) ||
            (il && !memmem(n + pl, l - pl - sl, infix, il)))
            continue;
        if (!remove) {
            rc = 1;
            break;
        }
        if (unlinkat(dirfd(dp), n, 0) != 0 && errno != ENOENT && err) {   /* no path to cut short */
            rc = sg_errno(err, "%s/%s", dir, n);
            break;
        }
    }
    closedir(dp);
    return rc;
}

/* A run's output without its config.json (deleted by hand): latest, a
 * non-empty history, checkpoints or samples. The name of the first found, or
 * NULL. A new run there would empty the history and write over them. */
static const char *run_files_left(const char *run_dir)
{
    char p[PATH_MAX];
    struct stat st;
    run_file(p, sizeof p, run_dir, "latest");
    if (access(p, F_OK) == 0) return "latest";
    run_file(p, sizeof p, run_dir, "history.jsonl");
    if (stat(p, &st) == 0 && st.st_size > 0) return "history.jsonl";
    run_file(p, sizeof p, run_dir, "ckpt");
    if (scan_dir(p, "", "", ".safetensors", 0, NULL)) return "ckpt/";
    run_file(p, sizeof p, run_dir, "samples");
    if (scan_dir(p, "", "", ".png", 0, NULL)) return "samples/";
    return NULL;
}

/* A run's files without its config.json (deleted by hand, or what an
 * interrupted --force had yet to delete: it removes config.json before the
 * checkpoints): -1 and the error that says what to do in either case; 0
 * when there are none. */
static int refuse_run_files_left(const char *run_dir, sg_err *err)
{
    const char *left = run_files_left(run_dir);
    return left ? sg_errf(err, "%s holds a run's %s but no config.json (deleted by hand? restore it to --resume; "
                          "left by an interrupted --force? run it again: --force starts over)", run_dir, left)
                : 0;
}

int sg_run_resume_missing(const char *run_dir, sg_err *err)
{
    if (refuse_run_files_left(run_dir, err)) return -1;
    return sg_errf(err, "%s: no run to resume (no config.json): is it the run's directory? A run stopped before "
                   "writing config.json leaves none: start such a run again without --resume", run_dir);
}

/* Removes what a run writes (config.json, history.jsonl, latest,
 * cudnn-engines.txt, the .safetensors in ckpt/ and the .png in samples/) so
 * that a new run can start in RUN (sg-train --force). */
static int run_clear(const char *run_dir, sg_err *err)
{
    char p[PATH_MAX];
    const char *files[4] = {"latest", "history.jsonl", "config.json", ENGINES_FILE};
    for (int k = 0; k < 4; k++) {
        run_file(p, sizeof p, run_dir, files[k]);
        if (unlink(p) != 0 && errno != ENOENT) return sg_errno(err, "%s", p);
    }
    const char *const ours[2][2] = {{"ckpt", ".safetensors"}, {"samples", ".png"}};
    for (int k = 0; k < 2; k++) {
        run_file(p, sizeof p, run_dir, ours[k][0]);
        if (scan_dir(p, "", "", ours[k][1], 1, err)) return -1;
        rmdir(p);   /* only if empty: never removes a user's files */
    }
    return 0;
}

static int parse_config_json(const char *run_dir, json_value **root, char *path, size_t pn, sg_err *err);

/* --force on a run that a newer stargan-c wrote (config.json's format
 * newer than this build's, or a checkpoint of a newer format, as a resume
 * refuses them): -1 and an error saying to remove it by hand; else 0. A
 * pipeline or script of an older build passes --force as it always did, and
 * would silently throw away work this build cannot even read. */
static int refuse_newer_run(const char *run_dir, sg_err *err)
{
    char p[PATH_MAX], what[PATH_MAX + 80] = "";
    sg_err e;
    json_value *root;
    /* an unreadable or damaged config.json is no newer run's: --force replaces it, as before */
    if (parse_config_json(run_dir, &root, p, sizeof p, &e) == 0) {
        const char *fmt = json_str(json_get(root, "format"));
        if (fmt && sg_format_version(fmt, RUN_FORMAT_FAMILY) > RUN_FORMAT_NEWEST)
            snprintf(what, sizeof what, "format \"%s\"", sg_quote_str(fmt).s);
        json_free(root);
    }
    int64_t *steps = NULL;
    size_t n = 0;
    if (!what[0] && sg_ckpt_steps(run_dir, &steps, &n, &e) == 0)
        for (size_t k = n; k-- > 0;)   /* the newest first: where a newer build's would be */
            if (sg_ckpt_newer_format(run_dir, steps[k])) {
                sg_ckpt_path(p, sizeof p, run_dir, steps[k], NULL);
                snprintf(what, sizeof what, "checkpoint %s of a format newer than %s", p, SG_CKPT_FORMAT);
                break;
            }
    free(steps);
    if (!what[0]) return 0;
    char *word = sg_shell_word(run_dir);
    sg_errf(err, "%s was written by a newer stargan-c (%s): --force would delete it; remove it yourself (rm -r %s) "
            "to start over, or use that version", run_dir, what, word ? word : run_dir);
    free(word);
    return -1;
}

/* Temporary files of writes that were killed (every file of a run is written
 * as NAME.tmp.PID and renamed): checkpoints ("NNNNNN-G.safetensors.tmp.PID"),
 * samples, latest, config.json, history.jsonl and the engines file. Called
 * once the run directory is locked (lock_run_dir), so no other sg-train is
 * writing them (unless the file system has no locks). */
static void remove_stale_tmp(const char *run_dir)
{
    char dir[PATH_MAX];
    run_file(dir, sizeof dir, run_dir, "ckpt");
    scan_dir(dir, "", ".safetensors.tmp.", "", 1, NULL);
    run_file(dir, sizeof dir, run_dir, "samples");
    scan_dir(dir, "", ".png.tmp.", "", 1, NULL);
    const char *files[4] = {"latest.tmp.", "config.json.tmp.", "history.jsonl.tmp.", ENGINES_FILE ".tmp."};
    for (int k = 0; k < 4; k++) scan_dir(run_dir, files[k], "", "", 1, NULL);
}

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

static int read_config_json(const char *run_dir, json_value **root, long *version, char *path, size_t pn,
                            sg_err *err);

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
    if (read_config_json(t->run_dir, &root, NULL, cp, sizeof cp, &e)) return 0;
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

/* A resumed run: its own ENGINES_FILE, if there is one (unusable: the
 * engines are chosen anew, and only bit-exactness with the earlier run is
 * lost). Not read after a change of precision: a second line saying that
 * the engines are chosen anew would only repeat sg-train's warning. */
static void load_engines(sg_trainer *t)
{
    char p[PATH_MAX];
    run_file(p, sizeof p, t->run_dir, ENGINES_FILE);
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

/* ---- config.json ---- */

/* sg_train_field (trainer.h): one table for write_config (the "training"
 * rows, in the order written), sg_run_config_read (every row; the "model"
 * section's other values are write_config's own, not options) and sg-train's
 * options. The file is a text a user may edit: a value outside its range (a
 * negative sample count, a batch past int) is an error naming it, not a
 * fault later. */
#define SEC_MODEL SG_CONFIG_MODEL
#define SEC_TRAINING SG_CONFIG_TRAINING
static const char *const section_names[] = {"model", "training"};
#define OPT(f) offsetof(sg_train_options, f)
static const sg_train_field run_fields[] = {
    {SEC_MODEL, "g_conv_dim", "--g-conv-dim", 'i', OPT(g_conv_dim), .ilo = 1, .ihi = SG_MODEL_MAX_CONV_DIM},
    {SEC_MODEL, "g_repeat", "--g-repeat", 'i', OPT(g_repeat), .ilo = 0, .ihi = SG_MODEL_MAX_G_REPEAT},
    {SEC_MODEL, "d_conv_dim", "--d-conv-dim", 'i', OPT(d_conv_dim), .ilo = 1, .ihi = SG_MODEL_MAX_CONV_DIM},
    /* from 1: config.json holds the depth in use, never sg_train_options' 0 (automatic) */
    {SEC_MODEL, "d_repeat", "--d-repeat", 'i', OPT(d_repeat), .ilo = 1, .ihi = SG_MODEL_MAX_D_REPEAT},
    {SEC_TRAINING, "iters", "--iters", 'l', OPT(iters), .ilo = 1, .ihi = LONG_MAX / 2},
    {SEC_TRAINING, "decay_iters", "--decay-iters", 'l', OPT(decay_iters), .ilo = 0, .ihi = LONG_MAX / 2},
    {SEC_TRAINING, "batch", "--batch", 'i', OPT(batch), .ilo = 1, .ihi = MAX_BATCH},
    {SEC_TRAINING, "n_critic", "--n-critic", 'i', OPT(n_critic), .ilo = 1, .ihi = 1000000},
    {SEC_TRAINING, "g_lr", "--g-lr", 'd', OPT(g_lr), .dlo = 0, .dhi = 1e3},
    {SEC_TRAINING, "d_lr", "--d-lr", 'd', OPT(d_lr), .dlo = 0, .dhi = 1e3},
    {SEC_TRAINING, "beta1", "--beta1", 'd', OPT(beta1), .dlo = 0, .dhi = 0.999999},
    {SEC_TRAINING, "beta2", "--beta2", 'd', OPT(beta2), .dlo = 0, .dhi = 0.9999999},   /* as a float: below 1 */
    {SEC_TRAINING, "lambda_cls", "--lambda-cls", 'd', OPT(lambda_cls), .dlo = 0, .dhi = 1e6},
    {SEC_TRAINING, "lambda_rec", "--lambda-rec", 'd', OPT(lambda_rec), .dlo = 0, .dhi = 1e6},
    {SEC_TRAINING, "lambda_gp", "--lambda-gp", 'd', OPT(lambda_gp), .dlo = 0, .dhi = 1e6},
    {SEC_TRAINING, "flip", "--flip", 'b', OPT(flip), .optional = 0},
    {SEC_TRAINING, "target_labels", "--target-labels", 'c', OPT(target_random), .choices = {"permute", "random"}},
    {SEC_TRAINING, "seed", "--seed", 'u', OPT(seed), .ilo = 0},   /* 0 to UINT64_MAX */
    {SEC_TRAINING, "log_every", "--log-every", 'l', OPT(log_every), .ilo = 0, .ihi = INT64_MAX},
    {SEC_TRAINING, "sample_every", "--sample-every", 'l', OPT(sample_every), .ilo = 0, .ihi = INT64_MAX},
    {SEC_TRAINING, "save_every", "--save-every", 'l', OPT(save_every), .ilo = 0, .ihi = INT64_MAX},
    {SEC_TRAINING, "keep", "--keep", 'i', OPT(keep), .ilo = 0, .ihi = INT_MAX},
    {SEC_TRAINING, "samples", NULL, 'i', OPT(n_samples), .ilo = 0, .ihi = SG_TRAIN_SAMPLES_MAX},
    {SEC_TRAINING, "threads", "--threads", 'i', OPT(threads), .ilo = 0, .ihi = 1024, .optional = 1},
};
#undef OPT
#define N_RUN_FIELDS (sizeof run_fields / sizeof run_fields[0])

const sg_train_field *sg_train_field_at(int k)
{
    return k >= 0 && (size_t)k < N_RUN_FIELDS ? &run_fields[k] : NULL;
}

const sg_train_field *sg_train_field_of_option(const char *option)
{
    for (size_t k = 0; k < N_RUN_FIELDS; k++)
        if (run_fields[k].option && !strcmp(run_fields[k].option, option)) return &run_fields[k];
    return NULL;
}

void sg_train_field_copy(sg_train_options *to, const sg_train_options *from, const sg_train_field *f)
{
    size_t n = f->type == 'l' ? sizeof(int64_t) : f->type == 'u' ? sizeof(uint64_t)
             : f->type == 'd' ? sizeof(double) : sizeof(int);
    memcpy((char *)to + f->off, (const char *)from + f->off, n);
}

/* Appends field f's value in o to b as JSON. */
static void write_field(sg_buf *b, const sg_train_field *f, const sg_train_options *o)
{
    const char *at = (const char *)o + f->off;
    switch (f->type) {
    case 'i': sg_buf_appendf(b, "%d", *(const int *)at); break;
    case 'l': sg_buf_appendf(b, "%lld", (long long)*(const int64_t *)at); break;
    case 'u': sg_buf_appendf(b, "%llu", (unsigned long long)*(const uint64_t *)at); break;
    case 'd': json_buf_double(b, *(const double *)at); break;
    case 'b': sg_buf_puts(b, *(const int *)at ? "true" : "false"); break;
    case 'c': sg_buf_appendf(b, "\"%s\"", f->choices[*(const int *)at != 0]); break;
    }
}

/* Reads field f from obj (its section of config.json at path) into o. */
static int read_field(const json_value *obj, const sg_train_field *f, sg_train_options *o, const char *path,
                      sg_err *err)
{
    const char *sec = section_names[f->section];
    char *at = (char *)o + f->off;
    sg_err e;
    int64_t v;
    double d;
    const char *str;
    switch (f->type) {
    case 'u':   /* the whole uint64_t range (a seed): not bounded by ilo, ihi */
        if (json_get_u64(obj, f->key, (uint64_t *)at, &e)) return sg_errf(err, "%s: \"%s\": %s", path, sec, e.msg);
        return 0;
    case 'i': case 'l':
        if (f->optional && (!json_get(obj, f->key) || json_get_int(obj, f->key, &v, &e))) return 0;
        if (json_get_int(obj, f->key, &v, &e)) return sg_errf(err, "%s: \"%s\": %s", path, sec, e.msg);
        if (v < f->ilo || v > f->ihi)
            return sg_errf(err, "%s: \"%s\": \"%s\" is %lld, expected %lld to %lld", path, sec, f->key,
                           (long long)v, (long long)f->ilo, (long long)f->ihi);
        if (f->type == 'i') *(int *)at = (int)v;
        else *(int64_t *)at = v;
        return 0;
    case 'd':
        if (json_get_num(obj, f->key, &d, &e)) return sg_errf(err, "%s: \"%s\": %s", path, sec, e.msg);
        if (!(d >= f->dlo && d <= f->dhi))
            return sg_errf(err, "%s: \"%s\": \"%s\" is %g, expected %g to %.10g", path, sec, f->key, d, f->dlo,
                           f->dhi);
        *(double *)at = d;
        return 0;
    case 'b':
        return json_get_bool(obj, f->key, (int *)at, &e) ? sg_errf(err, "%s: \"%s\": %s", path, sec, e.msg) : 0;
    case 'c':
        if (json_get_str(obj, f->key, &str, &e)) return sg_errf(err, "%s: \"%s\": %s", path, sec, e.msg);
        for (int k = 0; k < 2; k++)
            if (!strcmp(str, f->choices[k])) {
                *(int *)at = k;
                return 0;
            }
        return sg_errf(err, "%s: \"%s\": \"%s\" is \"%s\", expected \"%s\" or \"%s\"", path, sec, f->key,
                       sg_quote_str(str).s, f->choices[0], f->choices[1]);
    }
    return sg_errf(err, "%s: \"%s\": \"%s\": unknown field type", path, sec, f->key);
}

/* The "training" object of o: its run_fields, the device and precision;
 * sep between members, colon after keys (", " ": " or compact). */
static void write_training(sg_buf *b, const sg_train_options *o, const char *sep, const char *colon)
{
    sg_buf_putc(b, '{');
    for (size_t k = 0, n = 0; k < N_RUN_FIELDS; k++) {
        if (run_fields[k].section != SEC_TRAINING) continue;
        sg_buf_appendf(b, "%s\"%s\"%s", n++ ? sep : "", run_fields[k].key, colon);
        write_field(b, &run_fields[k], o);
    }
    if (o->device[0]) {
        sg_buf_appendf(b, "%s\"device\"%s", sep, colon);
        json_buf_cstr(b, o->device);
    }
    if (o->precision[0]) {
        sg_buf_appendf(b, "%s\"precision\"%s", sep, colon);
        json_buf_cstr(b, o->precision);
    }
    sg_buf_putc(b, '}');
}

/* config.json's "sessions" entries, one a line, compact: one per start of
 * the run that trained (sg-train(1)); SESSION_SEP between two. */
#define SESSION_SEP ",\n    "
static void write_session(sg_buf *b, const sg_train_session *s)
{
    sg_buf_appendf(b, "{\"from\":%lld,\"training\":", (long long)s->from);
    write_training(b, &s->opt, ",", ":");
    if (s->threads_used > 0) sg_buf_appendf(b, ",\"threads_used\":%d", s->threads_used);
    if (s->numerics[0]) {
        sg_buf_puts(b, ",\"numerics\":");
        json_buf_cstr(b, s->numerics);
    }
    if (s->created_by[0]) {
        sg_buf_puts(b, ",\"created_by\":");
        json_buf_cstr(b, s->created_by);
    }
    sg_buf_putc(b, '}');
}

/* config.json of the run of datasets d, model c and options o, with r's
 * schedule and starts (this start's options set to o). */
static int write_config(const sg_run_datasets *d, const sg_model_config *c, const sg_train_options *o,
                        sg_run_record *r, sg_err *err)
{
    sg_buf b = SG_BUF_INIT;
    /* several datasets: 2 (G in rounds), so that an older sg-train, which
     * would go on with the former schedule, refuses the run; a run of the
     * former schedule stays 1 until this session's first checkpoint (all its
     * checkpoints are of that schedule until then, and the build that made
     * it can still go on with it) */
    int rounds = c->n_datasets > 1 && !r->former_schedule;
    sg_buf_appendf(&b, "{\n  \"format\": \"%s/%d\",\n", RUN_FORMAT_FAMILY, rounds ? 2 : 1);
    if (rounds && r->rounds_from > 0)
        sg_buf_appendf(&b, "  \"g_rounds_from\": %lld,\n", (long long)r->rounds_from);
    sg_buf_appendf(&b, "  \"model\": {\"image_size\": %d, \"g_conv_dim\": %d, \"g_repeat\": %d, "
                   "\"d_conv_dim\": %d, \"d_repeat\": %d, \"c_dim\": %d, \"cls_dim\": %d, \"n_datasets\": %d},\n",
                   c->image_size, c->g_conv_dim, c->g_repeat, c->d_conv_dim, c->d_repeat,
                   sg_model_c_dim(c), sg_model_cls_dim(c), c->n_datasets);
    sg_buf_puts(&b, "  \"training\": ");
    write_training(&b, o, ", ", ": ");
    sg_buf_puts(&b, ",\n  \"sessions\": [");
    int add = r->session.from < o->iters;   /* a start that trains nothing leaves no entry */
    if (r->n_sessions_kept) {
        sg_buf_puts(&b, "\n    ");
        sg_buf_append(&b, r->sessions_kept.data, r->sessions_kept.len);
    }
    if (add) {
        sg_buf_puts(&b, r->n_sessions_kept ? SESSION_SEP : "\n    ");
        r->session.opt = *o;
        write_session(&b, &r->session);
    }
    sg_buf_puts(&b, r->n_sessions_kept || add ? "\n  ],\n" : "],\n");
    sg_buf_puts(&b, "  \"datasets\": [");
    for (int ds = 0; ds < d->n; ds++) {
        const sg_shard_meta *sm = sg_shard_get_meta(d->shards[ds]);
        sg_buf_puts(&b, ds ? ",\n    {\"path\": " : "\n    {\"path\": ");
        json_buf_cstr(&b, d->paths[ds]);
        sg_buf_puts(&b, ", \"name\": ");
        json_buf_cstr(&b, d->names[ds]);
        sg_buf_appendf(&b, ", \"label_kind\": \"%s\", \"count\": %llu, \"image_size\": %u, \"offset\": %d, \"labels\": [",
                       c->one_hot[ds] ? "one-hot" : "multi-hot", (unsigned long long)sm->count, sm->width,
                       sg_model_label_offset(c, ds));
        for (int j = 0; j < c->label_dim[ds]; j++) {
            if (j) sg_buf_puts(&b, ", ");
            json_buf_cstr(&b, sm->label_names[j]);
        }
        sg_buf_puts(&b, "]}");
    }
    sg_buf_puts(&b, "\n  ],\n");
    if (c->n_datasets > 1)
        sg_buf_appendf(&b, "  \"mask\": {\"offset\": %d, \"size\": %d}\n}\n", sg_model_cls_dim(c), c->n_datasets);
    else
        sg_buf_puts(&b, "  \"mask\": null\n}\n");
    if (b.failed) { sg_buf_free(&b); return sg_err_oom(err, "out of memory"); }
    char p[PATH_MAX];
    run_file(p, sizeof p, d->run_dir, "config.json");
    int rc = sg_write_file_atomic(p, b.data, b.len, err);
    sg_buf_free(&b);
    return rc;
}

/* run_dir's config.json (its path in path) read and parsed into *root,
 * whatever its format. */
static int parse_config_json(const char *run_dir, json_value **root, char *path, size_t pn, sg_err *err)
{
    run_file(path, pn, run_dir, "config.json");
    uint8_t *data;
    size_t len;
    if (sg_refuse_irregular(path, err) || sg_read_file(path, 16 << 20, &data, &len, err)) return -1;
    sg_err e;
    int rc = json_parse((const char *)data, len, NULL, root, NULL, &e);
    free(data);
    return rc ? sg_errf(err, "%s: %s", path, e.msg) : 0;
}

/* parse_config_json, then a check of its "format": a stargan-c run
 * configuration of a version this one reads. version: config.json's format
 * version (1 to RUN_FORMAT_NEWEST); may be NULL */
static int read_config_json(const char *run_dir, json_value **root, long *version, char *path, size_t pn,
                            sg_err *err)
{
    if (parse_config_json(run_dir, root, path, pn, err)) return -1;
    sg_err e;
    const char *fmt;
    if (json_get_str(*root, "format", &fmt, &e)) {
        json_free(*root);
        return sg_errf(err, "%s: not a stargan-c run configuration (no \"format\")", path);
    }
    long v = sg_format_version(fmt, RUN_FORMAT_FAMILY);
    if (v < 1 || v > RUN_FORMAT_NEWEST) {
        if (v > RUN_FORMAT_NEWEST)
            sg_errf(err, "%s: written by a newer stargan-c (format \"%s\"; this one reads %s/1 to /%d): use that "
                    "version, or start a new run with another -o", path, sg_quote_str(fmt).s, RUN_FORMAT_FAMILY,
                    RUN_FORMAT_NEWEST);
        else
            sg_errf(err, "%s: not a stargan-c run configuration (format \"%s\", expected %s/1 to /%d)", path,
                    sg_quote_str(fmt).s, RUN_FORMAT_FAMILY, RUN_FORMAT_NEWEST);
        json_free(*root);
        return -1;
    }
    if (version) *version = v;
    return 0;
}

/* Whether config.json (root, of format version) records a run of the former
 * G schedule: format 1 without "g_schedule": "rounds" (how the first
 * sg-train with the rounds schedule recorded it); format 2 is G in rounds. */
static int config_former_schedule(const json_value *root, long version)
{
    const char *sched = json_str(json_get(json_get(root, "training"), "g_schedule"));
    return version == 1 && !(sched && !strcmp(sched, "rounds"));
}

/* config.json's "g_rounds_from" (write_config), 0 when absent or invalid */
static int64_t config_rounds_from(const json_value *root)
{
    const json_value *v = json_get(root, "g_rounds_from");
    return json_is(v, JSON_NUMBER) && v->is_int && v->i > 0 ? v->i : 0;
}

void sg_run_free_paths(char **paths, int n)
{
    if (!paths) return;
    for (int i = 0; i < n; i++) free(paths[i]);
    free(paths);
}

int sg_run_config_read(const char *run_dir, sg_train_options *o, char ***shard_paths, int *n_shards,
                       sg_err *err)
{
    char path[PATH_MAX];
    json_value *root;
    char **paths = NULL;
    *shard_paths = NULL;
    *n_shards = 0;
    long version;
    if (read_config_json(run_dir, &root, &version, path, sizeof path, err)) return -1;
    sg_train_options_default(o);
    const json_value *sec[2], *ds = NULL;
    sg_err e;
    if (json_get_object(root, "model", &sec[SEC_MODEL], &e) ||
        json_get_object(root, "training", &sec[SEC_TRAINING], &e) || json_get_array(root, "datasets", &ds, &e)) {
        sg_errf(err, "%s: %s", path, e.msg);
        goto fail;
    }
    const json_value *tr = sec[SEC_TRAINING];
    for (size_t k = 0; k < N_RUN_FIELDS; k++)
        if (read_field(sec[run_fields[k].section], &run_fields[k], o, path, err)) goto fail;
    /* optional (recorded since the CUDA backend): only the values sg-train writes */
    const char *dev = NULL, *prec = NULL;
    if (json_get(tr, "device") && json_get_str(tr, "device", &dev, &e) == 0 &&
        (!strcmp(dev, "cpu") || !strcmp(dev, "cuda")))
        snprintf(o->device, sizeof o->device, "%s", dev);
    if (json_get(tr, "precision") && json_get_str(tr, "precision", &prec, &e) == 0 &&
        sg_precision_valid(prec))
        snprintf(o->precision, sizeof o->precision, "%s", prec);
    if (ds->n < 1 || ds->n > SG_MAX_DATASETS) {
        sg_errf(err, "%s: \"datasets\": expected 1 to %d entries", path, SG_MAX_DATASETS);
        goto fail;
    }
    if (!(paths = calloc(ds->n, sizeof *paths))) {
        sg_err_oom(err, "out of memory");
        goto fail;
    }
    for (size_t k = 0; k < ds->n; k++) {
        const char *p;
        if (json_get_str(ds->items[k], "path", &p, &e)) {
            sg_errf(err, "%s: datasets entry %zu: %s", path, k, e.msg);
            goto fail;
        }
        if (!(paths[k] = strdup(p))) {
            sg_err_oom(err, "out of memory");
            goto fail;
        }
    }
    *shard_paths = paths;
    *n_shards = (int)ds->n;
    json_free(root);
    return 0;
fail:
    sg_run_free_paths(paths, paths ? (int)ds->n : 0);
    json_free(root);
    return -1;
}

/* ---- config.json's "sessions" ---- */

/* s is printable ASCII of fewer than n bytes: what sg-train may show as it is */
static int printable_fits(const char *s, size_t n)
{
    if (!s || strlen(s) >= n) return 0;
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e) return 0;
    return 1;
}

/* A "sessions" entry e (or, for a run from before them, {"from": 0} and
 * the run's "training") into s, for sg-train to compare with the options
 * now: a value that is missing or invalid reads as now's (no false alarm
 * for a record edited or cut short), an unknown threads count, numerics or
 * build (or one not printable ASCII) as 0 or "" (not compared). */
static void read_session(const json_value *e, const json_value *training, const sg_train_options *now,
                         sg_train_session *s)
{
    memset(s, 0, sizeof *s);
    const json_value *v = json_get(e, "from");
    s->from = json_is(v, JSON_NUMBER) && v->is_int && v->i >= 0 ? v->i : 0;
    s->opt = *now;
    /* read_field writes a field only when it reads it valid: else now's stays */
    for (size_t k = 0; k < N_RUN_FIELDS; k++) {
        sg_err err;
        if (run_fields[k].section == SEC_TRAINING) (void)read_field(training, &run_fields[k], &s->opt, "", &err);
    }
    const char *str = json_str(json_get(training, "device"));
    if (str && (!strcmp(str, "cpu") || !strcmp(str, "cuda"))) snprintf(s->opt.device, sizeof s->opt.device, "%s", str);
    str = json_str(json_get(training, "precision"));
    if (str && sg_precision_valid(str)) snprintf(s->opt.precision, sizeof s->opt.precision, "%s", str);
    v = json_get(e, "threads_used");
    if (json_is(v, JSON_NUMBER) && v->is_int && v->i >= 1 && v->i <= 1024) s->threads_used = (int)v->i;
    if (printable_fits(str = json_str(json_get(e, "numerics")), sizeof s->numerics))
        snprintf(s->numerics, sizeof s->numerics, "%s", str);
    if (printable_fits(str = json_str(json_get(e, "created_by")), sizeof s->created_by))
        snprintf(s->created_by, sizeof s->created_by, "%s", str);
}

/* A resume from iteration iter of the run in run_dir (of n_datasets, its
 * options now: now): config.json's "sessions" entries that trained before
 * it kept in r (one that started at it or later trained only iterations the
 * resume drops), the last of them read into r->resumed. A run from before
 * "sessions" gets one entry from 0 with its "training" (the options of its
 * last start, all config.json held). From the same read, r->former_schedule
 * for a run of several datasets. */
static int keep_sessions(const char *run_dir, int n_datasets, int64_t iter, const sg_train_options *now,
                         sg_run_record *r, sg_err *err)
{
    char path[PATH_MAX];
    json_value *root;
    long version;
    if (read_config_json(run_dir, &root, &version, path, sizeof path, err)) return -1;
    /* of the former schedule: as recorded, or a checkpoint from before the
     * first one in rounds (a session killed between config.json's /2 and
     * latest naming its checkpoint) */
    r->rounds_from = config_rounds_from(root);
    r->former_schedule = n_datasets > 1 && (config_former_schedule(root, version) ||
                                            (version == 2 && r->rounds_from > iter));
    if (r->former_schedule) r->rounds_from = 0;
    const json_value *all = json_get(root, "sessions"), *last = NULL;
    int rc = 0;
    if (all && !json_is(all, JSON_ARRAY)) {
        rc = sg_errf(err, "%s: \"sessions\": expected an array, found %s (edited by hand? put it back, or remove "
                     "the key: the record of the run's starts then begins anew)", path, json_type_name(all->type));
        goto done;
    }
    for (size_t k = 0; k < json_len(all); k++) {
        const json_value *e = json_at(all, k), *from = json_get(e, "from");
        if (!json_is(e, JSON_OBJECT) || !json_is(from, JSON_NUMBER) || !from->is_int || from->i < 0) {
            rc = sg_errf(err, "%s: \"sessions\" entry %zu: expected an object with \"from\", an iteration (edited "
                         "by hand? put it back, or remove the entry)", path, k + 1);
            goto done;
        }
        if (from->i >= iter) continue;
        if (r->n_sessions_kept++) sg_buf_puts(&r->sessions_kept, SESSION_SEP);
        json_buf_value(&r->sessions_kept, e);
        last = e;
    }
    const json_value *training = json_get(root, "training");
    if (last) {
        read_session(last, json_get(last, "training"), now, &r->resumed);
        r->has_resumed = 1;
    } else if (iter > 0 && json_is(training, JSON_OBJECT)) {
        sg_buf_puts(&r->sessions_kept, "{\"from\":0,\"training\":");
        json_buf_value(&r->sessions_kept, training);
        sg_buf_putc(&r->sessions_kept, '}');
        r->n_sessions_kept = 1;
        read_session(NULL, training, now, &r->resumed);
        r->has_resumed = 1;
    }
    if (r->sessions_kept.failed) rc = sg_err_oom(err, "out of memory");
done:
    json_free(root);
    return rc;
}

/* A shard given twice (dup: its two positions; paths as given). Returns -1. */
static int shard_twice_error(const char *const *given, const int dup[2], sg_err *err)
{
    return sg_errf(err, "%s and %s are the same shard (given twice): each dataset needs a shard of its own",
                   given[dup[0]], given[dup[1]]);
}

/* Each shard must be the run's dataset of its position: shards of the same
 * labels given in another order resumed silently, and each slot of the label
 * vector (and of the mask) went on training on another dataset. A shard is
 * the run's dataset j when its absolute path is the one config.json records
 * for j, or, for a shard not at a recorded path (moved), when its name is
 * dataset j's and the shard given at j is not j's own by path. A shard that
 * is neither (moved and renamed) is left to the label checks, as before.
 * ds: config.json's "datasets" (as many as shards). */
static int check_shard_order(const sg_run_datasets *d, const char *const *given, const json_value *ds,
                             sg_err *err)
{
    const char *rpath[SG_MAX_DATASETS], *rname[SG_MAX_DATASETS];
    int at_own_path[SG_MAX_DATASETS];
    for (int k = 0; k < d->n; k++) {
        rpath[k] = json_str(json_get(json_at(ds, k), "path"));
        rname[k] = json_str(json_get(json_at(ds, k), "name"));
        at_own_path[k] = rpath[k] && !strcmp(rpath[k], d->paths[k]);
    }
    int other = -1;   /* a shard given at the position of another of the run's datasets */
    for (int k = 0; k < d->n && other < 0; k++) {
        if (at_own_path[k]) continue;
        int by_path = 0;
        for (int j = 0; j < d->n && other < 0; j++)
            if (j != k && rpath[j] && !strcmp(rpath[j], d->paths[k])) other = k, by_path = 1;
        if (by_path || (rname[k] && !strcmp(rname[k], d->names[k]))) continue;
        for (int j = 0; j < d->n && other < 0; j++)
            if (j != k && !at_own_path[j] && rname[j] && !strcmp(rname[j], d->names[k])) other = k;
    }
    if (other < 0) return 0;
    sg_buf g = SG_BUF_INIT, r = SG_BUF_INIT;
    for (int k = 0; k < d->n; k++) {
        if (k) { sg_buf_putc(&g, ' '); sg_buf_putc(&r, ' '); }
        sg_buf_puts(&g, given[k]);
        if (rpath[k]) sg_buf_put_escaped(&r, rpath[k], strlen(rpath[k]), 0);
        else sg_buf_puts(&r, "?");
    }
    int rc;
    if (g.failed || r.failed) rc = sg_err_oom(err, "out of memory");
    else rc = sg_errf(err, "shards given in another order than the run's (given: %s; the run in %s: %s): give the "
                      "shards in the run's order (each dataset keeps its slot in the label vector)",
                      g.data, d->run_dir, r.data);
    sg_buf_free(&g);
    sg_buf_free(&r);
    return rc;
}

/* Whether the shard at rp (the one config.json records, still there) holds
 * other data than the one given (meta: its metadata): 1, with why saying
 * what differs ("its record count differs") or why they could not be
 * compared; 0 for a copy. */
static int recorded_shard_differs(const char *rp, const sg_shard_meta *meta, char *why, size_t why_len)
{
    sg_shard *rs = NULL;
    sg_err e = {{0}};
    if (sg_shard_open(&rs, rp, &e)) {
        snprintf(why, why_len, "it could not be compared: %s", e.msg);
        return 1;
    }
    const char *d = sg_shard_meta_differs(sg_shard_get_meta(rs), meta);
    if (d) snprintf(why, why_len, "its %s differs", d);
    sg_shard_close(rs);
    return d != NULL;
}

/* Checks that the shards of d (given: as given on the command line, or the
 * run's) are the datasets config.json recorded, and gives them the run's
 * names; what goes on but differs from the run is a note. dup: the
 * positions of a shard given twice ({-1, -1}: none), refused unless the run
 * was trained so. */
static int check_config_datasets(const sg_run_datasets *d, const char *const *given, const int dup[2],
                                 sg_run_note_fn note, void *note_ctx, sg_err *err)
{
    char path[PATH_MAX];
    json_value *root;
    if (read_config_json(d->run_dir, &root, NULL, path, sizeof path, err)) return -1;
    const json_value *ds = json_get(root, "datasets");
    int rc = -1;
    if ((int)json_len(ds) != d->n) {
        sg_errf(err, "the run in %s was trained on %zu dataset%s, %d shard%s given", d->run_dir, json_len(ds),
                json_len(ds) == 1 ? "" : "s", d->n, d->n == 1 ? "" : "s");
        goto done;
    }
    if (dup[0] >= 0) {
        /* A run trained on one shard twice (before sg-train refused it) goes
         * on as it was trained, with a warning; any other is refused. */
        const char *p0 = json_str(json_get(json_at(ds, dup[0]), "path"));
        const char *p1 = json_str(json_get(json_at(ds, dup[1]), "path"));
        if (!p0 || !p1 || strcmp(p0, p1) || strcmp(p0, d->paths[dup[0]])) {
            shard_twice_error(given, dup, err);
            goto done;
        }
        /* numbered from 1, as sg-sample's --targets N:NAME counts them */
        note(note_ctx, "%s is datasets %d and %d of the run (the same shard twice: a new run would refuse it)",
             given[dup[0]], dup[0] + 1, dup[1] + 1);
    }
    if (check_shard_order(d, given, ds, err)) goto done;
    for (int k = 0; k < d->n; k++) {
        const json_value *e = json_at(ds, k), *labels = json_get(e, "labels");
        const sg_shard_meta *sm = sg_shard_get_meta(d->shards[k]);
        const char *name = json_str(json_get(e, "name"));
        const char *kind = json_str(json_get(e, "label_kind"));
        const json_value *isz = json_get(e, "image_size");
        if (!name || !kind || !labels || !isz) { sg_errf(err, "%s: datasets entry %d is incomplete", path, k); goto done; }
        if (!isz->is_int || isz->i != (int64_t)sm->width) {
            sg_errf(err, "%s: %ux%u images, but the run's dataset %s has %lld px images", d->paths[k],
                    sm->width, sm->height, sg_quote_str(name).s, (long long)isz->i);
            goto done;
        }
        int same = json_len(labels) == sm->n_labels &&
                   !strcmp(kind, sg_shard_label_kind_name(sm->label_kind));
        uint32_t j = 0;
        for (; same && j < sm->n_labels; j++) {
            const char *ln = json_str(json_at(labels, j));
            same = ln && !strcmp(ln, sm->label_names[j]);
        }
        if (!same && j > 0) {   /* as many labels of the same kind: name the first that differs */
            const char *ln = json_str(json_at(labels, j - 1));
            sg_errf(err, "%s: label %u is %s, the run's dataset %s has %s there: another dataset?", d->paths[k],
                    j, sg_quote_str(sm->label_names[j - 1]).s, sg_quote_str(name).s,
                    ln ? sg_quote_str(ln).s : "no name");
            goto done;
        }
        if (!same) {
            sg_errf(err, "%s: labels (%u, %s) differ from the run's dataset %s (%zu, %s): another dataset?",
                    d->paths[k], sm->n_labels, sg_shard_label_kind_name(sm->label_kind),
                    sg_quote_str(name).s, json_len(labels), sg_quote_str(kind).s);
            goto done;
        }
        /* Another shard of these labels while the run's own is still there (the
         * test shards beside the training ones): not a moved shard. Taken as one,
         * the run went on training on other data under other names. The same
         * directory (device and inode) under another spelling or link is the
         * run's; one gone, or no longer a shard, was moved. A copy of it (on a
         * faster disk, the original kept, maybe read-only; a copied experiment)
         * is the run's data too: the same metadata, as a moved shard, silently. */
        const char *rp = json_str(json_get(e, "path"));
        struct stat rst, gst;
        char why[1100];
        if (rp && sg_shard_dir_looks_like(rp) && stat(rp, &rst) == 0 && stat(d->paths[k], &gst) == 0 &&
            (rst.st_dev != gst.st_dev || rst.st_ino != gst.st_ino) && recorded_shard_differs(rp, sm, why, sizeof why)) {
            sg_buf r = SG_BUF_INIT;
            sg_buf_put_escaped(&r, rp, strlen(rp), 0);
            if (r.failed) sg_err_oom(err, "out of memory");
            else
                sg_errf(err, "%s is not the run's dataset %d %s, whose shard %s is still there (and not a copy of "
                        "it: %s): give the run's shards (--resume without shards takes them); to go on with %s "
                        "instead, move that one away first", given[k], k + 1, sg_quote_str(name).s, r.data, why,
                        given[k]);
            sg_buf_free(&r);
            goto done;
        }
        /* The same labels, other records (repacked, or another split): allowed, but
         * the epochs' permutations are of another count, so the run goes on
         * differently from an uninterrupted one. */
        const json_value *count = json_get(e, "count");
        if (json_is(count, JSON_NUMBER) && count->is_int && count->i != (int64_t)sm->count)
            note(note_ctx, "%s: %llu images, the run's dataset %s had %lld: from here on the data order differs "
                 "from the run's", d->paths[k], (unsigned long long)sm->count, sg_quote_str(name).s,
                 (long long)count->i);
    }
    /* The datasets keep the run's names (in its checkpoints' labels and its
     * history), whatever the paths they are now at are called */
    for (int k = 0; k < d->n; k++)
        snprintf(d->names[k], SG_CKPT_NAME_MAX, "%s", json_str(json_get(json_at(ds, k), "name")));
    rc = 0;
done:
    json_free(root);
    return rc;
}

/* ---- history.jsonl ---- */

/* Keeps the entries with iteration <= step (a run may have logged past its last
 * checkpoint before dying); a torn last line is dropped. Sets t->elapsed_base
 * to the last kept entry's elapsed seconds (0 without one). The file is cut
 * in place (ftruncate at the first line to drop, then fsync), and left alone
 * when nothing is to go: a `tail -f` reading it follows on (a new file by
 * rename left it reading the old one, and `tail -F` read it all again). */
static int trim_history(sg_trainer *t, int64_t step, sg_err *err)
{
    char path[PATH_MAX];
    run_file(path, sizeof path, t->run_dir, "history.jsonl");
    t->elapsed_base = 0;
    uint8_t *data;
    size_t len;
    if (sg_refuse_irregular(path, err)) return -1;
    /* lstat: a link to nowhere is a history that cannot be read (an error
     * naming it, as for latest), not a run without one: writing an empty
     * history through it would lose the run's */
    struct stat st;
    if (lstat(path, &st) != 0 && errno == ENOENT) return sg_write_file_atomic(path, "", 0, err);
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
    if (rc || (cut == SIZE_MAX && !add_newline)) return rc;
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
    run_file(path, sizeof path, t->run_dir, "history.jsonl");
    t->history = fopen(path, "a");
    if (!t->history) return sg_errno(err, "%s", path);
    t->history_dirty = 1;
    return 0;
}

/* ---- open ---- */

void sg_run_dataset_name(const char *shard_path, char *out, size_t n)
{
    size_t l = strlen(shard_path);
    while (l > 1 && shard_path[l - 1] == '/') l--;
    const char *start = shard_path;
    for (size_t k = 0; k < l; k++) if (shard_path[k] == '/' && k + 1 < l) start = shard_path + k + 1;
    size_t bl = (size_t)(shard_path + l - start);
    /* "." or ".." (x.lmdb/., a shard given from inside it) names no shard:
     * the directory it stands for does. Only then: a link keeps its own name. */
    char *canon = NULL;
    if ((bl == 1 && start[0] == '.') || (bl == 2 && start[0] == '.' && start[1] == '.')) {
        canon = realpath(shard_path, NULL);
        if (canon && strcmp(canon, "/")) {
            sg_run_dataset_name(canon, out, n);
            free(canon);
            return;
        }
        free(canon);
    }
    if (bl >= n) bl = n - 1;
    memcpy(out, start, bl);
    out[bl] = 0;
    char *dot = strrchr(out, '.');
    if (dot && dot != out && !strcmp(dot, ".lmdb")) *dot = 0;
}

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
        if (sm->count < (uint64_t)t->opt.batch)
            return sg_errf(err, "%s: %llu image%s, fewer than the batch size %d", shard_paths[ds],
                           (unsigned long long)sm->count, sm->count == 1 ? "" : "s", t->opt.batch);
        if (sm->count > UINT32_MAX) return sg_errf(err, "%s: more than 2^32 records", shard_paths[ds]);
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
        /* What set_batch uploads: host_alloc memory, so that the upload is asynchronous. */
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
    return write_config(&d, &t->mcfg, &t->opt, &t->rec, err);
}

/* Locks the run directory (a new run's is made) and checks it against the
 * mode: a resume needs the run (of these shards, in this order), a new run
 * an empty place. dup: open_shards'. */
static int check_run_dir(sg_trainer *t, int mode, const char *const *shard_paths, const int dup[2], sg_err *err)
{
    int resume = mode == SG_TRAIN_RESUME;
    if (dup[0] >= 0 && !resume) return shard_twice_error(shard_paths, dup, err);
    int locked = lock_run_dir(t, !resume, err);   /* SG_TRAIN_BUSY passed on */
    if (locked) return locked;
    if (resume) {
        if (!sg_run_exists(t->run_dir)) return sg_run_resume_missing(t->run_dir, err);
        sg_run_datasets d = run_datasets(t);
        return check_config_datasets(&d, shard_paths, dup, add_note, t, err);
    }
    if (mode == SG_TRAIN_NEW && sg_run_exists(t->run_dir))
        return sg_errf(err, "%s already holds a run (--resume continues it, --force starts over)", t->run_dir);
    if (mode == SG_TRAIN_NEW && refuse_run_files_left(t->run_dir, err)) return -1;
    if (mode == SG_TRAIN_REPLACE && refuse_newer_run(t->run_dir, err)) return -1;
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
    run_file(lp, sizeof lp, run_dir, "latest");
    /* A FIFO would block the read for ever (sg_ckpt_latest reads one: tests
     * feed it through one), a device would be read to the limit. */
    if (sg_refuse_irregular(lp, err) || sg_ckpt_latest(run_dir, &step, err)) return -1;
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
        if (prev >= 0)
            return sg_err_suffix(err, " (checkpoint %06lld is unusable; to resume from the one before it: "
                                 "echo %06lld > %s)", (long long)step, (long long)prev, lp);
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
        run_file(cf, sizeof cf, run_dir, "config.json");
        return sg_errf(err, "%s: seed %llu, but %s was trained with seed %llu (edited by hand? every draw would "
                       "differ from the run's: put the seed back)", cf, (unsigned long long)t->opt.seed, sp,
                       (unsigned long long)run_seed);
    }
    t->latest_lost = found >= 0;   /* written back once the resume is accepted (sg_trainer_open) */
    t->iter = step;
    t->last_ckpt = step;
    /* A save killed while pruning leaves a checkpoint too many, or one
     * without its state; the next save prunes it, but a finished run
     * makes none. Not an error of the resume. */
    sg_err pe;
    if (sg_ckpt_prune(run_dir, t->opt.keep, &pe)) add_note(t, "old checkpoints not pruned: %s", pe.msg);
    return 0;
}

/* A resume: the latest checkpoint loaded, history.jsonl cut back to it, the
 * engine choices read, config.json written with the options now in force
 * (not when nothing is left to train: config.json stays as it was, another
 * build's run that build's own). */
static int continue_run(sg_trainer *t, sg_err *err)
{
    if (load_latest_checkpoint(t, err) || keep_sessions(t->run_dir, t->nd, t->iter, &t->opt, &t->rec, err) ||
        trim_history(t, t->iter, err))
        return -1;
    if (t->cuda) load_engines(t);
    t->rec.session.from = t->iter;
    if (t->iter >= t->opt.iters) return 0;
    return write_run_config(t, err);
}

/* A new run (mode SG_TRAIN_NEW or SG_TRAIN_REPLACE, whose old files go
 * first): config.json and an empty history.jsonl. */
static int start_run(sg_trainer *t, int mode, sg_err *err)
{
    if (mode == SG_TRAIN_REPLACE && run_clear(t->run_dir, err)) return -1;
    if (t->cuda) seed_engines(t);
    if (sg_mkdir_p(t->run_dir, err) || write_run_config(t, err)) return -1;
    char hp[PATH_MAX];
    run_file(hp, sizeof hp, t->run_dir, "history.jsonl");
    return sg_refuse_irregular(hp, err) || sg_write_file_atomic(hp, "", 0, err) ? -1 : 0;
}

int sg_trainer_open(sg_trainer **out, const char *run_dir, const sg_train_options *opt,
                    const char *const *shard_paths, int n_shards, sg_backend *be, int mode,
                    sg_err *err)
{
    *out = NULL;
    if (n_shards < 1 || n_shards > SG_MAX_DATASETS)
        return sg_errf(err, "%d shards given (1 to %d)", n_shards, SG_MAX_DATASETS);
    if (opt->batch < 1 || opt->batch > MAX_BATCH)
        return sg_errf(err, "batch %d out of range (1..%d)", opt->batch, MAX_BATCH);
    if (opt->n_critic < 1) return sg_errf(err, "n_critic must be at least 1");
    /* The longest name a run writes, RUN/ckpt/NNNNNN-state.safetensors.tmp.PID
     * with 19-digit iterations and a 10-digit PID, under 64 bytes past RUN: a
     * longer RUN failed only at the first checkpoint, hours in. */
    if (strlen(run_dir) + 64 >= PATH_MAX)
        return sg_errf(err, "%s: the run directory's path is too long (%zu bytes; at most %d, its files' names "
                       "add up to 64 more)", run_dir, strlen(run_dir), PATH_MAX - 65);
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
    remove_stale_tmp(t->run_dir);
    if ((mode == SG_TRAIN_RESUME ? continue_run(t, err) : start_run(t, mode, err)) || open_history(t, err)) goto fail;
    /* latest again, for sg-sample and the pipelines (which read it), also
     * where this resume has nothing to train; not by a resume refused */
    if (t->latest_lost && sg_ckpt_write_latest(t->run_dir, t->iter, err)) goto fail;
    pick_samples(t);
    t->clean_at = t->iter;
    t->log_prev_iter = t->iter;
    t->log_prev_time = now_s();
    *out = t;
    return 0;
fail:
    if (t->created_dir) rmdir(t->run_dir);   /* only if still empty; the lock is still held */
    sg_trainer_free(t);
    return dir_rc == SG_TRAIN_BUSY ? SG_TRAIN_BUSY : -1;
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
    if ((queue ? sg_model_queue_batch_drawn : sg_model_set_batch_drawn)(t->model, ds, t->opt.batch, bb->x, bb->c_org,
                                                                        t->opt.seed, i, t->opt.target_random, err))
        return -1;
    t->be->ops->fence(t->be, FENCE_BUF + (int)(i & 1));   /* bufs[i & 1] is refilled after this */
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
    int saving_after = (t->opt.save_every > 0 && (i + 1) % t->opt.save_every == 0) || (t->stop && *t->stop);
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
    remove_stale_tmp(t->run_dir);
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
    if (step > t->last_ckpt && sg_ckpt_newest_complete(t->run_dir, step + 1) == step) t->last_ckpt = step;
}

static int save_once(sg_trainer *t, sg_err *err)
{
    if (t->cuda) {
        int made = sg_backend_cuda_engine_choices(t->be, NULL, NULL);
        char p[PATH_MAX];
        run_file(p, sizeof p, t->run_dir, ENGINES_FILE);
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
    if (sg_ckpt_save(t->model, t->run_dir, &t->info, t->iter, err)) {
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

static int run_loop(sg_trainer *t, volatile sig_atomic_t *stop, sg_train_callback cb, void *ctx, sg_err *err)
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
        int stopping = stop && *stop && !t->batch_current;
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
         * last, nothing is left to resume */
        if (stopping && t->iter < t->opt.iters) return 1;
    }
    return 0;
}

int sg_trainer_run(sg_trainer *t, volatile sig_atomic_t *stop, sg_train_callback cb, void *ctx,
                   sg_err *err)
{
    t->stop = stop;   /* step_queue queues no batch ahead once a stop is asked for */
    int rc = run_loop(t, stop, cb, ctx, err);
    t->stop = NULL;
    return rc;
}
