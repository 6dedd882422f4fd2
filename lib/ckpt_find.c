#include "ckpt_find.h"
#include "fileio.h"
#include "run_config.h"
#include "text_escape.h"
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int sg_ckpt_newest_generator_file(const char *dir, char *prefix, size_t cap)
{
    DIR *dp = opendir(dir);
    if (!dp) return -1;
    int64_t best = -1;
    char name[PATH_MAX] = "";
    struct dirent *de;
    while ((de = readdir(dp))) {
        int64_t step;
        char path[PATH_MAX];
        if (sg_ckpt_g_file_step(de->d_name, &step) || step <= best) continue;
        /* a usable generator's rule (sg_ckpt_has_generator's), in any directory */
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path || !sg_ckpt_file_there(path))
            continue;
        best = step;
        snprintf(name, sizeof name, "%s", de->d_name);
    }
    closedir(dp);
    if (best < 0) return -1;
    /* the name without "-G.safetensors" */
    snprintf(prefix, cap, "%s/%.*s", dir, (int)(strlen(name) - strlen("-G.safetensors")), name);
    return 0;
}

int sg_ckpt_arg_is_run(const char *arg)
{
    return sg_path_is_dir(arg);
}

/* G's metadata, and its tensors checked against what the metadata describes
 * (before anything allocates a generator of that size). */
static int read_generator_info(const char *path, sg_ckpt_info *info, sg_err *err)
{
    if (sg_ckpt_read_info(path, info, err)) return -1;
    if (!sg_ckpt_check_generator_tensors(path, info, err)) return 0;
    sg_ckpt_info_free(info);
    return -1;
}

int sg_ckpt_run_of(const char *arg, const char *g_path, char *run, size_t cap)
{
    run[0] = 0;
    if (sg_ckpt_arg_is_run(arg)) {
        snprintf(run, cap, "%s", arg);
    } else {
        /* resolved: "000002" from inside RUN/ckpt has no "ckpt" in its text */
        char real[PATH_MAX], dir[PATH_MAX];
        if (!realpath(g_path, real)) return -1;
        sg_dir_of(real, dir, sizeof dir);
        const char *base = strrchr(dir, '/');
        if (!base || strcmp(base + 1, "ckpt")) return -1;
        sg_dir_of(dir, run, cap);
    }
    if (sg_run_exists(run)) return 0;
    run[0] = 0;
    return -1;
}

/* arg has the form RUN/ckpt/NNNNNN of a run (RUN/latest there) that holds
 * other checkpoints, not that one (pruned by --keep, or never written): 0
 * and a message that names those it holds; -1 when arg is not such. */
static int pruned_checkpoint_message(const char *arg, sg_err *err)
{
    char dir[PATH_MAX], run[PATH_MAX], latest[PATH_MAX + 8];
    int64_t step;
    const char *base = strrchr(arg, '/');
    char g_name[64];
    if (!base || snprintf(g_name, sizeof g_name, "%s-G.safetensors", base + 1) >= (int)sizeof g_name ||
        sg_ckpt_g_file_step(g_name, &step))
        return -1;
    sg_dir_of(arg, dir, sizeof dir);
    const char *d = strrchr(dir, '/');
    if (strcmp(d ? d + 1 : dir, "ckpt")) return -1;
    sg_dir_of(dir, run, sizeof run);
    snprintf(latest, sizeof latest, "%s/latest", run);
    int64_t *steps;
    size_t n;
    sg_err e;
    if (sg_path_missing(latest) || sg_ckpt_steps(run, &steps, &n, &e)) return -1;
    int64_t lo = n ? steps[0] : -1, hi = n ? steps[n - 1] : -1;
    free(steps);
    if (n == 0) return -1;
    char holds[96];
    if (n == 1) snprintf(holds, sizeof holds, "%06lld only", (long long)lo);
    else snprintf(holds, sizeof holds, "%zu checkpoints, %06lld to %06lld", n, (long long)lo, (long long)hi);
    /* something under the G file's name that is no checkpoint's file (a
     * directory, a link to nowhere): not a checkpoint, and not listed */
    char g_path[PATH_MAX + 80], why[128];
    struct stat st;
    snprintf(g_path, sizeof g_path, "%s/%s", dir, g_name);
    if (lstat(g_path, &st) == 0 && !sg_ckpt_file_there(g_path))
        snprintf(why, sizeof why, "%s there is not a regular file", g_name);
    else
        snprintf(why, sizeof why, "%s", step < lo ? "a run with --keep deletes the older ones"
                                                  : "none of that step was written");
    char word[SG_SHELL_WORD_MAX];   /* a word to paste */
    sg_errf(err, "%s: no such checkpoint: the run holds %s (%s; --ckpt %s takes the newest)", arg, holds, why,
            sg_shell_word_in(word, sizeof word, run) < sizeof word ? word : run);
    return 0;
}

/* arg ends in a checkpoint number written without sg_ckpt_path's six
 * digits (RUN/ckpt/4, RUN/ckpt/0000004, RUN/ckpt/4-G.safetensors, or
 * RUN/ckpt/4-G, half of either form) where the checkpoint of that number is
 * there (RUN/ckpt/000004): 0 and a message that names it as --ckpt takes it
 * (the G file for a G file's name, else the prefix); the same for a padded
 * NNNNNN-G, the G file's name cut short. -1 when arg is not such. */
static int unpadded_checkpoint_message(const char *arg, sg_err *err)
{
    const char *slash = strrchr(arg, '/'), *base = slash ? slash + 1 : arg;
    size_t len = strspn(base, "0123456789");
    const char *suffix = base + len;
    int g_file = !strcmp(suffix, "-G.safetensors");
    if (len == 0 || len > 18 || (*suffix && !g_file && strcmp(suffix, "-G"))) return -1;
    int64_t step = 0;
    for (size_t i = 0; i < len; i++) step = step * 10 + (base[i] - '0');
    char digits[24], prefix[PATH_MAX], g[PATH_MAX + 32];
    snprintf(digits, sizeof digits, "%06lld", (long long)step);
    int padded = strlen(digits) == len && !strncmp(digits, base, len);
    if (padded && !*suffix) return -1;   /* written as it should be: not this near miss */
    if (padded && g_file) return -1;
    if (snprintf(prefix, sizeof prefix, "%.*s%s", (int)(base - arg), arg, digits) >= (int)sizeof prefix) return -1;
    snprintf(g, sizeof g, "%s-G.safetensors", prefix);
    if (!sg_ckpt_file_there(g)) return -1;
    char word[SG_SHELL_WORD_MAX];   /* a word to paste */
    const char *named = g_file ? g : prefix;
    const char *shown = sg_shell_word_in(word, sizeof word, named) < sizeof word ? word : named;
    if (padded)   /* NNNNNN-G */
        sg_errf(err, "%s: no checkpoint found (--ckpt takes a checkpoint as RUN/ckpt/NNNNNN or its G file, "
                "NNNNNN-G.safetensors): --ckpt %s", arg, shown);
    else
        sg_errf(err, "%s: no checkpoint found (checkpoint numbers are zero-padded to six digits): --ckpt %s", arg,
                shown);
    return 0;
}

/* RUN/latest names the G file path, which is missing (deleted by hand, or a
 * run copied without it): says so and, where the run holds another
 * generator, the newest, as the --ckpt that takes it. -1. */
static int missing_named_message(const char *arg, const char *run, const char *path, sg_err *err)
{
    int64_t *steps;
    size_t n;
    sg_err e;
    if (sg_ckpt_steps(run, &steps, &n, &e) || n == 0)   /* steps is NULL when n is 0 */
        return sg_errf(err, "%s: %s/latest names %s, which is missing", arg, run, path);
    int64_t newest = steps[n - 1];
    free(steps);
    char word[SG_SHELL_WORD_MAX];   /* a word to paste */
    sg_errf(err, "%s: %s/latest names %s, which is missing; the newest checkpoint there is %06lld: --ckpt "
            "%s/ckpt/%06lld takes it", arg, run, path, (long long)newest,
            sg_shell_word_in(word, sizeof word, run) < sizeof word ? word : run, (long long)newest);
    return -1;
}

int sg_ckpt_find_generator(const char *arg, char *path, size_t cap, sg_ckpt_info *info, sg_err *err)
{
    if (sg_path_is_dir(arg)) {
        /* the run without the trailing slashes a shell's completion adds:
         * RUN/latest, not RUN//latest, in paths and messages */
        char run[PATH_MAX];
        if (sg_path_trim_slashes(arg, run, sizeof run)) return sg_errf(err, "%s: path too long", arg);
        int64_t named = -1;   /* the step latest named at the previous try */
        for (int tries = 0;; tries++) {
            int64_t step;
            if (sg_ckpt_latest(run, &step, err)) return -1;
            if (step < 0) return sg_errf(err, "%s: no checkpoint found (no %s/latest)", arg, run);
            if (sg_ckpt_path(path, cap, run, step, "G")) return sg_errf(err, "%s: path too long", path);
            if (!read_generator_info(path, info, err)) return 0;
            if (!sg_path_missing(path)) return -1;   /* an error other than the file vanishing */
            /* Gone between reading latest and opening the file (sg-train --keep
             * deleted it): latest has moved on; read it again. The same step
             * again, or too many tries: the run is missing its checkpoint. */
            if (step == named || tries + 1 >= SG_CKPT_FIND_TRIES)
                return missing_named_message(arg, run, path, err);
            named = step;
        }
    }
    if (sg_ckpt_file_there(arg)) snprintf(path, cap, "%s", arg);
    else if (snprintf(path, cap, "%s-G.safetensors", arg), !sg_ckpt_file_there(path)) {
        if (!unpadded_checkpoint_message(arg, err) || !pruned_checkpoint_message(arg, err)) return -1;
        return sg_errf(err, "%s: no checkpoint found (expected a run directory, RUN/ckpt/NNNNNN or an "
                       "NNNNNN-G.safetensors file)", arg);
    }
    return read_generator_info(path, info, err);
}

/* 1 when a and b describe the same generator and labels (two checkpoints of
 * one run). */
static int same_generator(const sg_ckpt_info *a, const sg_ckpt_info *b)
{
    const sg_model_config *x = &a->model, *y = &b->model;
    if (x->image_size != y->image_size || x->n_datasets != y->n_datasets || x->g_conv_dim != y->g_conv_dim ||
        x->g_repeat != y->g_repeat || a->n_labels != b->n_labels || a->crop != b->crop)
        return 0;
    for (int ds = 0; ds < x->n_datasets; ds++)
        if (x->label_dim[ds] != y->label_dim[ds] || x->one_hot[ds] != y->one_hot[ds] ||
            strcmp(a->dataset_names[ds], b->dataset_names[ds]))
            return 0;
    for (int i = 0; i < a->n_labels; i++)
        if (strcmp(a->label_names[i], b->label_names[i])) return 0;
    return 1;
}

int sg_ckpt_access_hint(sg_err *err)
{
    const char *hint;
    switch (err ? err->sys_errno : 0) {
    case EMFILE: hint = "raise ulimit -n"; break;
    case ENFILE: hint = "the system's table of open files is full: try again later"; break;
    case EACCES: case EPERM: hint = "check the file's permissions"; break;
    case ENOMEM: hint = "free some memory, then try again"; break;
    case EAGAIN: case EINTR: hint = "try again"; break;
    case EISDIR: return 1;   /* sg_err_is_dir's message says it */
    default: return 0;
    }
    sg_err_suffix(err, " (%s)", hint);
    return 1;
}

/* Appends to err what to do about the checkpoint of G file path (named
 * X-G.safetensors; sg_ckpt_read_generator refused it for its state file):
 * the run's checkpoint before it, when path is RUN/ckpt/NNNNNN-G.safetensors
 * and the run has one; a hint alone when the state file could not be opened
 * for a reason that is not its content (sg_ckpt_access_hint). */
static void say_unusable(const char *path, sg_err *err)
{
    if (!err || sg_ckpt_access_hint(err)) return;
    char prefix[PATH_MAX], run[PATH_MAX], prev_prefix[PATH_MAX];
    size_t n = strlen(path), e = strlen("-G.safetensors");
    snprintf(prefix, sizeof prefix, "%.*s", (int)(n > e ? n - e : 0), path);
    /* RUN/ckpt/NNNNNN-G.safetensors: the run and the step */
    const char *name = strrchr(path, '/');
    int64_t step, prev = -1;
    if (name && name - path >= 4 && !strncmp(name - 4, "ckpt", 4) && (name - 4 == path || name[-5] == '/') &&
        sg_ckpt_g_file_step(name + 1, &step) == 0) {
        if (name - 4 == path) snprintf(run, sizeof run, ".");
        else snprintf(run, sizeof run, "%.*s", (int)(name - 5 - path), path);
        prev = sg_ckpt_newest_complete(run[0] ? run : "/", step);
        if (prev >= 0 && sg_ckpt_path(prev_prefix, sizeof prev_prefix, run, prev, NULL)) prev = -1;   /* no hint */
    }
    if (prev >= 0) {
        char word[SG_SHELL_WORD_MAX];   /* a word to paste */
        sg_err_suffix(err, " (checkpoint %s is unusable; to sample from the one before it: --ckpt %s)", prefix,
                      sg_shell_word_in(word, sizeof word, prev_prefix) < sizeof word ? word : prev_prefix);
    } else
        sg_err_suffix(err, " (checkpoint %s is unusable: restore its G and state files together, or sample from "
                      "another checkpoint)", prefix);
}

int sg_ckpt_load_generator(const char *arg, char *path, size_t cap, const sg_ckpt_info *info, sg_model *m,
                           sg_err *err)
{
    for (int tries = 1;; tries++) {
        int state_fault;
        if (!sg_ckpt_read_generator(m, path, &state_fault, err)) return 0;
        if (state_fault) {
            say_unusable(path, err);
            return -1;
        }
        if (!sg_ckpt_arg_is_run(arg) || !sg_path_missing(path) || tries >= SG_CKPT_FIND_TRIES) return -1;
        /* Deleted since it was found (sg-train --keep, while the caller read
         * its inputs): the run's newest checkpoint, when it is the same model
         * with the same labels (what the caller checked its targets and
         * inputs against). */
        char gone[PATH_MAX];
        snprintf(gone, sizeof gone, "%s", path);
        sg_ckpt_info now;
        if (sg_ckpt_find_generator(arg, path, cap, &now, err)) return -1;
        int same = same_generator(info, &now);
        sg_ckpt_info_free(&now);
        if (!same)
            return sg_errf(err, "%s was deleted while the inputs were read, and the run's latest checkpoint %s is "
                           "of another model or labels", gone, path);
    }
}
