#include "run_config.h"
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "backend.h"
#include "engines_file.h"
#include "fileio.h"
#include "text_escape.h"

/* config.json's format: /1 for one dataset (unchanged since the first
 * release) and for several datasets trained with the former G schedule; /2
 * for several datasets trained in rounds (sg_train_g_step), so that an older
 * sg-train refuses such a run instead of going on with its own schedule. */
#define RUN_FORMAT_FAMILY "stargan-c-run"
#define RUN_FORMAT_NEWEST 2
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

/* ---- run directory ---- */

void sg_run_file(char *out, size_t n, const char *run_dir, const char *name)
{
    snprintf(out, n, "%s/%s", run_dir, name);
}

int sg_run_exists(const char *run_dir)
{
    char p[PATH_MAX];
    sg_run_file(p, sizeof p, run_dir, "config.json");
    return access(p, F_OK) == 0;
}

void sg_run_first_save(const char *run_dir, char *out, size_t n)
{
    sg_train_options o;
    char **paths;
    int n_paths;
    sg_err e;
    if (sg_run_config_read(run_dir, &o, &paths, &n_paths, &e)) {
        snprintf(out, n, "sg-train writes one every --save-every iterations, at the end of the run, and when it "
                 "is stopped");
        return;
    }
    sg_run_free_paths(paths, n_paths);
    if (o.save_every > 0 && o.save_every < o.iters)
        snprintf(out, n, "sg-train writes its first at iteration %lld (--save-every in config.json) or when it is "
                 "stopped before", (long long)o.save_every);
    else
        snprintf(out, n, "sg-train writes its first at iteration %lld (--iters in config.json: the end of the run) "
                 "or when it is stopped before", (long long)o.iters);
}

/* The names sg-train gives its checkpoints' files and its sample grids:
 * a step of six digits or more (%06lld), then one of the suffixes. */
static const char *const ckpt_ends[] = {"-G.safetensors", "-D.safetensors", "-state.safetensors", NULL};
static const char *const sample_ends[] = {".png", NULL};
/* The files sg-train writes at the top of a run, latest first: a clear cut
 * short leaves no latest naming a checkpoint it removed. */
static const char *const run_files[] = {"latest", "history.jsonl", "config.json", SG_RUN_ENGINES_FILE, NULL};

static int is_step_name(const char *n, const char *const *ends)
{
    size_t d = 0;
    while (n[d] >= '0' && n[d] <= '9') d++;
    if (d < 6) return 0;
    for (int k = 0; ends[k]; k++)
        if (!strcmp(n + d, ends[k])) return 1;
    return 0;
}

/* The entries of dir named as is_step_name says: 1 at the first one found
 * (without remove), else 0, also when dir cannot be read; with remove each
 * is unlinked: 0, or -1 and err when dir exists but cannot be read or an
 * entry cannot be removed (the scan stops there). A user's own files there
 * (a plot saved in samples/, a model in ckpt/) are neither counted nor
 * removed. */
static int scan_steps(const char *dir, const char *const *ends, int remove, sg_err *err)
{
    DIR *dp = opendir(dir);
    if (!dp) return !remove || errno == ENOENT ? 0 : sg_errno(err, "%s", dir);
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(dp))) {
        if (!is_step_name(de->d_name, ends)) continue;
        if (!remove) {
            rc = 1;
            break;
        }
        if (unlinkat(dirfd(dp), de->d_name, 0) != 0 && errno != ENOENT) {
            rc = sg_errno(err, "%s/%s", dir, de->d_name);
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
    sg_run_file(p, sizeof p, run_dir, "latest");
    if (access(p, F_OK) == 0) return "latest";
    sg_run_file(p, sizeof p, run_dir, "history.jsonl");
    if (stat(p, &st) == 0 && st.st_size > 0) return "history.jsonl";
    sg_run_file(p, sizeof p, run_dir, "ckpt");
    if (scan_steps(p, ckpt_ends, 0, NULL)) return "ckpt/";
    sg_run_file(p, sizeof p, run_dir, "samples");
    if (scan_steps(p, sample_ends, 0, NULL)) return "samples/";
    return NULL;
}

int sg_run_refuse_files_left(const char *run_dir, sg_err *err)
{
    const char *left = run_files_left(run_dir);
    return left ? sg_errf(err, "%s holds a run's %s but no config.json (deleted by hand? restore it to --resume; "
                          "left by an interrupted --force? run it again: --force starts over)", run_dir, left)
                : 0;
}

int sg_run_resume_missing(const char *run_dir, sg_err *err)
{
    if (sg_run_refuse_files_left(run_dir, err)) return -1;
    return sg_errf(err, "%s: no run to resume (no config.json): is it the run's directory? A run stopped before "
                   "writing config.json leaves none: start such a run again without --resume", run_dir);
}

/* ---- whose files: --force deletes only what sg-train wrote ---- */

static int parse_config_json(const char *run_dir, json_value **root, char *path, size_t pn, sg_err *err);

/* The first up to n bytes of path into buf (*len of them); *whole: the file
 * holds no more. -1 when it cannot be read. */
static int read_head(const char *path, char *buf, size_t n, size_t *len, int *whole)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    *len = fread(buf, 1, n, f);
    int more = *len == n && fgetc(f) != EOF;
    int bad = ferror(f);
    fclose(f);
    *whole = !more;
    return bad ? -1 : 0;
}

/* A record as sg-train's history writer starts each line:
 * {"iteration":N,"dataset":"...", ..., "elapsed":S}. */
static int is_history_record(const char *s, size_t n)
{
    json_value *v = NULL;
    sg_err e;
    int ours = json_parse(s, n, NULL, &v, NULL, &e) == 0 && json_is(v, JSON_OBJECT) && v->n >= 3 &&
               !strcmp(v->keys[0], "iteration") && json_is(v->items[0], JSON_NUMBER) &&
               v->items[0]->num >= 0 && v->items[0]->num == (double)(int64_t)v->items[0]->num &&
               !strcmp(v->keys[1], "dataset") && json_is(v->items[1], JSON_STRING) &&
               json_is(json_get(v, "elapsed"), JSON_NUMBER);
    json_free(v);
    return ours;
}

/* Empty (a run set up with no record yet), or its first line a record
 * sg-train writes; a first and only line cut short (a run killed while
 * writing it) counts when it starts as one. */
static int history_is_ours(const char *path)
{
    char buf[65536];
    size_t len;
    int whole;
    if (read_head(path, buf, sizeof buf, &len, &whole)) return 0;
    if (len == 0) return 1;
    const char *nl = memchr(buf, '\n', len);
    if (nl) return is_history_record(buf, (size_t)(nl - buf));
    if (!whole) return 0;   /* a first line longer than any record */
    static const char start[] = "{\"iteration\":";
    size_t sl = sizeof start - 1;
    return is_history_record(buf, len) || (len > sl && !memcmp(buf, start, sl) && buf[sl] >= '0' && buf[sl] <= '9');
}

/* A checkpoint number, as sg_ckpt_write_latest writes it (or a user does,
 * echo 001000 > latest). */
static int latest_is_ours(const char *path)
{
    char buf[64];
    size_t len;
    int whole;
    if (read_head(path, buf, sizeof buf, &len, &whole) || !whole) return 0;
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ')) len--;
    if (len == 0 || len > 19) return 0;
    for (size_t k = 0; k < len; k++)
        if (buf[k] < '0' || buf[k] > '9') return 0;
    return 1;
}

/* A run configuration of any version ("format": "stargan-c-run/N"): a
 * newer one is sg_run_refuse_newer's to refuse. */
static int config_is_ours(const char *run_dir)
{
    char p[PATH_MAX];
    json_value *root;
    sg_err e;
    if (parse_config_json(run_dir, &root, p, sizeof p, &e)) return 0;
    const char *fmt = json_str(json_get(root, "format"));
    int ours = fmt && sg_format_version(fmt, RUN_FORMAT_FAMILY) >= 1;
    json_free(root);
    return ours;
}

/* The engines file: what sg_engines_parse reads, or one starting with the
 * comment sg-train writes at its top (of a later format, say). */
static int engines_is_ours(const char *path)
{
    enum { MAX = 1 << 20 };   /* far beyond a run's few hundred lines */
    static const char start[] = "# stargan-c:";
    char *buf = malloc(MAX);
    size_t len;
    int whole, ours = 0;
    if (!buf || read_head(path, buf, MAX, &len, &whole)) {
        free(buf);
        return 0;
    }
    if (len >= sizeof start - 1 && !memcmp(buf, start, sizeof start - 1)) {
        ours = 1;
    } else if (whole) {
        sg_engines_header h;
        sg_engine_choice *c;
        int n;
        sg_err e;
        ours = sg_engines_parse(buf, len, path, &h, &c, &n, &e) == 0;
        if (ours) free(c);
    }
    free(buf);
    return ours;
}

int sg_run_refuse_foreign(const char *run_dir, sg_err *err)
{
    static const char *const names[4] = {"config.json", "history.jsonl", "latest", SG_RUN_ENGINES_FILE};
    static const char *const what[4] = {
        "not a stargan-c run configuration (no \"format\": \"stargan-c-run/N\")",
        "its first line is not a record sg-train writes",
        "not a checkpoint number",
        "not the cuDNN engines file sg-train writes",
    };
    char p[PATH_MAX];
    for (int k = 0; k < 4; k++) {
        struct stat st;
        sg_run_file(p, sizeof p, run_dir, names[k]);
        if (stat(p, &st) != 0) continue;   /* none (or a link to nowhere: removing it loses nothing) */
        if (sg_refuse_irregular_mode(p, st.st_mode, err)) return -1;
        int ours = k == 0 ? config_is_ours(run_dir) : k == 1 ? history_is_ours(p) : k == 2 ? latest_is_ours(p)
                                                                                      : engines_is_ours(p);
        if (!ours)
            return sg_errf(err, "%s: not sg-train's (%s), and a new run in %s would delete it: move it away, or "
                           "choose another -o", p, what[k], run_dir);
    }
    return 0;
}

int sg_run_clear(const char *run_dir, sg_err *err)
{
    char p[PATH_MAX];
    if (sg_run_refuse_foreign(run_dir, err)) return -1;
    for (int k = 0; run_files[k]; k++) {
        sg_run_file(p, sizeof p, run_dir, run_files[k]);
        if (unlink(p) != 0 && errno != ENOENT) return sg_errno(err, "%s", p);
    }
    const char *const dirs[2] = {"ckpt", "samples"};
    const char *const *const ends[2] = {ckpt_ends, sample_ends};
    for (int k = 0; k < 2; k++) {
        sg_run_file(p, sizeof p, run_dir, dirs[k]);
        if (scan_steps(p, ends[k], 1, err)) return -1;
        rmdir(p);   /* only if empty: never removes a user's files */
    }
    return 0;
}

int sg_run_refuse_newer(const char *run_dir, sg_err *err)
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
    char word[SG_SHELL_WORD_MAX];   /* a word to paste */
    sg_errf(err, "%s was written by a newer stargan-c (%s): --force would delete it; remove it yourself (rm -r %s) "
            "to start over, or use that version", run_dir, what,
            sg_shell_word_in(word, sizeof word, run_dir) < sizeof word ? word : run_dir);
    return -1;
}

/* The writer's process number when n is the temporary name of one of
 * sg-train's writes (sg_temp_name: NAME ".tmp." PID "." N, or NAME ".tmp."
 * PID of earlier versions; sg_temp_name_pid) to a file named as is_step_name
 * says with ends (ends non-NULL), or to the file name (ends NULL); else -1.
 * A user's "config.json.tmp.bak" or "plot.png.tmp.1" is no such name. */
static long run_temp_pid(const char *n, const char *const *ends, const char *name)
{
    const char *tmp = strstr(n, ".tmp.");   /* none of the names sg-train writes holds one */
    if (!tmp) return -1;
    size_t stem = (size_t)(tmp - n);
    if (ends) {
        char base[NAME_MAX + 1];
        if (stem >= sizeof base) return -1;
        memcpy(base, n, stem);
        base[stem] = 0;
        if (!is_step_name(base, ends)) return -1;
    } else if (strlen(name) != stem || strncmp(n, name, stem)) {
        return -1;
    }
    return sg_temp_name_pid(tmp + 5);
}

/* Unlinks dir's temporary names (run_temp_pid) of writers that are gone, or
 * of this process (a write cut short by a move of the run directory);
 * those of another live process are kept: it may be writing them (a file
 * system without locks, where two sg-train can share a run). Best effort:
 * failures (a directory of such a name) are ignored and the scan goes on. */
static void remove_run_temps(const char *dir, const char *const *ends, const char *const *names)
{
    DIR *dp = opendir(dir);
    if (!dp) return;
    long self = (long)getpid();
    struct dirent *de;
    while ((de = readdir(dp))) {
        long pid = -1;
        if (ends) pid = run_temp_pid(de->d_name, ends, NULL);
        for (int k = 0; !ends && names[k] && pid < 0; k++) pid = run_temp_pid(de->d_name, NULL, names[k]);
        if (pid > 0 && (pid == self || sg_pid_gone(pid)))
            unlinkat(dirfd(dp), de->d_name, 0);   /* no path to cut short */
    }
    closedir(dp);
}

void sg_run_remove_stale_tmp(const char *run_dir)
{
    char dir[PATH_MAX];
    sg_run_file(dir, sizeof dir, run_dir, "ckpt");
    remove_run_temps(dir, ckpt_ends, NULL);
    sg_run_file(dir, sizeof dir, run_dir, "samples");
    remove_run_temps(dir, sample_ends, NULL);
    remove_run_temps(run_dir, NULL, run_files);
}

/* ---- config.json ---- */

/* sg_train_field (run_config.h): one table for sg_run_write_config (the
 * "training" rows, in the order written), sg_run_config_read (every row; the
 * "model" section's other values are sg_run_write_config's own, not options)
 * and sg-train's options. The file is a text a user may edit: a value
 * outside its range (a negative sample count, a batch past int) is an error
 * naming it, not a fault later. */
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
    {SEC_TRAINING, "batch", "--batch", 'i', OPT(batch), .ilo = 1, .ihi = SG_BATCH_DRAW_MAX},
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

int sg_run_write_config(const sg_run_datasets *d, const sg_model_config *c, const sg_train_options *o,
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
    sg_run_file(p, sizeof p, d->run_dir, "config.json");
    int rc = sg_write_file_atomic(p, b.data, b.len, err);
    sg_buf_free(&b);
    return rc;
}

/* run_dir's config.json (its path in path) read and parsed into *root,
 * whatever its format. */
static int parse_config_json(const char *run_dir, json_value **root, char *path, size_t pn, sg_err *err)
{
    sg_run_file(path, pn, run_dir, "config.json");
    uint8_t *data;
    size_t len;
    if (sg_refuse_irregular(path, err)) return -1;
    if (sg_read_file(path, 16 << 20, &data, &len, err)) {
        if (err->sys_errno == E2BIG)
            sg_err_suffix(err, "; not the config.json sg-train writes (a few KiB): restore the run's own");
        return -1;
    }
    sg_err e;
    int rc = json_parse((const char *)data, len, NULL, root, NULL, &e);
    free(data);
    return rc ? sg_errf(err, "%s: %s", path, e.msg) : 0;
}

int sg_run_read_config_json(const char *run_dir, json_value **root, long *version, char *path, size_t pn,
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

/* config.json's "g_rounds_from" (sg_run_write_config), 0 when absent or invalid */
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
    if (sg_run_read_config_json(run_dir, &root, &version, path, sizeof path, err)) return -1;
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

int sg_run_shard_paths(const char *run_dir, char ***shard_paths, int *n_shards, sg_err *err)
{
    sg_train_options checked;   /* read and range-checked, then not needed */
    return sg_run_config_read(run_dir, &checked, shard_paths, n_shards, err);
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

int sg_run_keep_sessions(const char *run_dir, int n_datasets, int64_t iter, const sg_train_options *now,
                         sg_run_record *r, sg_err *err)
{
    char path[PATH_MAX];
    json_value *root;
    long version;
    if (sg_run_read_config_json(run_dir, &root, &version, path, sizeof path, err)) return -1;
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

int sg_run_shard_twice(const char *const *given, const int dup[2], sg_err *err)
{
    return sg_errf(err, "%s and %s are the same shard (given twice): each dataset needs a shard of its own",
                   given[dup[0]], given[dup[1]]);
}

/* Paths for a message, "a b c", into out (cap bytes): whole, each path;
 * one that does not fit ends the list " ..." (room kept for it), as
 * lib/celeba_attrs.c's lists of names end, so that a cut list never reads
 * as whole and no path is cut short (it would read as another). A list that
 * fits whole is never cut: room for " ..." is kept only where paths do not
 * fit (it kept it after each but the last, so a list ending in a short path
 * that fitted exactly was cut). */
static void path_list(char *out, size_t cap, const char *const *paths, int n)
{
    static const char more[] = " ...";
    size_t len = 0, total = 0;
    for (int k = 0; k < n; k++) total += (k ? 1 : 0) + strlen(paths[k]);
    int whole = total < cap;
    if (cap) out[0] = 0;
    for (int k = 0; k < n; k++) {
        const char *sep = k ? " " : "";
        if (!whole && len + strlen(sep) + strlen(paths[k]) + sizeof more > cap) {
            const char *mark = k ? more : more + 1;
            if (len + strlen(mark) < cap) snprintf(out + len, cap - len, "%s", mark);
            return;
        }
        len += (size_t)snprintf(out + len, cap - len, "%s%s", sep, paths[k]);
    }
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
    /* The run's order, what to give, ends the message within SG_ERR_TAIL
     * bytes (cut " ..." past them), so that sg_err never cuts it (lib/error.h);
     * the shards given, before it, get what is left of the message: with
     * eight long paths each list passed the message's 1023 bytes, and its
     * middle, the start of the run's order, was lost */
    sg_buf r[SG_MAX_DATASETS];
    const char *recorded[SG_MAX_DATASETS];
    int failed = 0;
    for (int k = 0; k < d->n; k++) {
        r[k] = (sg_buf)SG_BUF_INIT;
        if (rpath[k]) sg_buf_put_escaped(&r[k], rpath[k], strlen(rpath[k]), 0);
        else sg_buf_puts(&r[k], "?");
        failed |= r[k].failed;
        recorded[k] = r[k].data;
    }
    int rc;
    if (failed) {
        rc = sg_err_oom(err, "out of memory");
    } else {
        static const char advice[] = "; give them in its order (each dataset keeps its slot in the label vector): ";
        static const char head[] = "shards given in another order than the run in %s was trained on (given: %s)%s%s";
        enum { MSG_MAX = sizeof ((sg_err *)0)->msg - 1 };
        char run_order[SG_ERR_TAIL + 1], given_list[MSG_MAX + 1];
        path_list(run_order, sizeof run_order - (sizeof advice - 1), recorded, d->n);
        size_t rest = (size_t)snprintf(NULL, 0, head, d->run_dir, "", advice, run_order), given_cap;
        if (rest + strlen("...") <= MSG_MAX) {
            given_cap = MSG_MAX - rest + 1;   /* the message whole: the list gets what is left of it */
        } else {
            /* a run directory so long that sg_err cuts the message (in the
             * path), or that leaves no room for the list's mark: the list
             * gets what the kept tail leaves after the text that follows the
             * path; it got a cap of 1 and read "(given: )" */
            size_t after = rest - (size_t)(strstr(head, "%s") - head) - strlen(d->run_dir);
            given_cap = after < SG_ERR_TAIL ? SG_ERR_TAIL - after + 1 : 1;
        }
        if (given_cap < sizeof "...") given_cap = sizeof "...";   /* a list cut whole says so: "(given: ...)" */
        path_list(given_list, given_cap, given, d->n);
        rc = sg_errf(err, head, d->run_dir, given_list, advice, run_order);
    }
    for (int k = 0; k < d->n; k++) sg_buf_free(&r[k]);
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

/* Dataset k of the run (e: its config.json entry; path: config.json's)
 * against the shard of d at k (given[k] as given): sg_run_check_datasets'
 * checks of one dataset. */
static int check_config_dataset(const sg_run_datasets *d, int k, const json_value *e, const char *const *given,
                                const char *path, sg_run_note_fn note, void *note_ctx, sg_err *err)
{
    const json_value *labels = json_get(e, "labels");
    const sg_shard_meta *sm = sg_shard_get_meta(d->shards[k]);
    const char *name = json_str(json_get(e, "name"));
    const char *kind = json_str(json_get(e, "label_kind"));
    const json_value *isz = json_get(e, "image_size");
    if (!name || !kind || !labels || !isz) return sg_errf(err, "%s: datasets entry %d is incomplete", path, k);
    if (!isz->is_int || isz->i != (int64_t)sm->width) {
        sg_errf(err, "%s: %ux%u images, but the run's dataset %s has %lld px images; give the run's shards "
                "(--resume without shards takes them)", d->paths[k], sm->width, sm->height, sg_quote_str(name).s,
                (long long)isz->i);
        return -1;
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
        return -1;
    }
    if (!same) {
        sg_errf(err, "%s: labels (%u, %s) differ from the run's dataset %s (%zu, %s): another dataset?",
                d->paths[k], sm->n_labels, sg_shard_label_kind_name(sm->label_kind),
                sg_quote_str(name).s, json_len(labels), sg_quote_str(kind).s);
        return -1;
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
        return -1;
    }
    /* The same labels, other records (repacked, or another split): allowed, but
     * the epochs' permutations are of another count, so the run goes on
     * differently from an uninterrupted one. */
    const json_value *count = json_get(e, "count");
    if (json_is(count, JSON_NUMBER) && count->is_int && count->i != (int64_t)sm->count)
        note(note_ctx, "%s: %llu images, the run's dataset %s had %lld: from here on the data order differs "
             "from the run's", d->paths[k], (unsigned long long)sm->count, sg_quote_str(name).s,
             (long long)count->i);
    return 0;
}

int sg_run_check_datasets(const sg_run_datasets *d, const char *const *given, const int dup[2],
                          sg_run_note_fn note, void *note_ctx, sg_err *err)
{
    char path[PATH_MAX];
    json_value *root;
    if (sg_run_read_config_json(d->run_dir, &root, NULL, path, sizeof path, err)) return -1;
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
            sg_run_shard_twice(given, dup, err);
            goto done;
        }
        /* numbered from 1, as sg-sample's --targets N:NAME counts them */
        note(note_ctx, "%s is datasets %d and %d of the run (the same shard twice: a new run would refuse it)",
             given[dup[0]], dup[0] + 1, dup[1] + 1);
    }
    if (check_shard_order(d, given, ds, err)) goto done;
    for (int k = 0; k < d->n; k++)
        if (check_config_dataset(d, k, json_at(ds, k), given, path, note, note_ctx, err)) goto done;
    /* The datasets keep the run's names (in its checkpoints' labels and its
     * history), whatever the paths they are now at are called */
    for (int k = 0; k < d->n; k++)
        snprintf(d->names[k], SG_CKPT_NAME_MAX, "%s", json_str(json_get(json_at(ds, k), "name")));
    rc = 0;
done:
    json_free(root);
    return rc;
}

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
