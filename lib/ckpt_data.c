#include "ckpt_data.h"
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include "fileio.h"
#include "model.h"
#include "run_config.h"
#include "targets.h"
#include "text_escape.h"

int sg_ckpt_labels_fit(const sg_ckpt_info *ck, const sg_shard_meta *m, int ds, int *map)
{
    const sg_model_config *cfg = &ck->model;
    if ((int)m->n_labels != cfg->label_dim[ds]) return 0;
    if ((m->label_kind == SG_LABELS_ONE_HOT) != (cfg->one_hot[ds] != 0)) return 0;
    int off = sg_model_label_offset(cfg, ds);
    unsigned char used[SG_SHARD_MAX_LABELS] = {0};
    for (uint32_t i = 0; i < m->n_labels; i++) {
        map[i] = -1;
        for (int j = 0; j < cfg->label_dim[ds]; j++)
            if (!used[j] && !strcmp(m->label_names[i], ck->label_names[off + j])) { map[i] = j; break; }
        if (map[i] < 0) return 0;
        used[map[i]] = 1;
    }
    return 1;
}

/* The bytes label_list appends for names[0..n) after sep, uncut. */
static size_t label_list_len(const char *sep, const char *const *names, int n)
{
    size_t len = n > 0 ? strlen(sep) : 0;
    for (int i = 0; i < n; i++) len += (i ? 1 : 0) + strlen(sg_quote_str(names[i]).s);
    return len;
}

/* Appends to out (cap bytes, *len of them used) sep and names[0..n) quoted
 * escaped, joined by commas ("a,b,c"), for messages. A list that does not
 * fit ends ", ..." (room for it kept), as lib/targets.c's list_names ends a
 * cut list, so that a cut list never reads as whole nor its last name as cut
 * short: returns -1 then, else 0. after: the bytes later calls append to out
 * (0: none); a list that fits with them is never cut, room for ", ..." is
 * kept only where something will follow. */
static int label_list(char *out, size_t cap, size_t *len, const char *sep, const char *const *names, int n,
                      size_t after)
{
    static const char more[] = ", ...";
    int whole = *len + label_list_len(sep, names, n) + after < cap;
    for (int i = 0; i < n; i++) {
        sg_quoted q = sg_quote_str(names[i]);
        const char *s = i ? "," : sep;
        if (!whole && *len + strlen(s) + strlen(q.s) + sizeof more > cap) {
            const char *mark = *len ? more : more + 2;
            if (*len + strlen(mark) < cap) *len += (size_t)snprintf(out + *len, cap - *len, "%s", mark);
            return -1;
        }
        *len += (size_t)snprintf(out + *len, cap - *len, "%s%s", s, q.s);
    }
    return 0;
}

/* A message's two label lists after the shard's path: the rest of that
 * text (rest bytes without the lists) and the lists together hold at most
 * SG_ERR_TAIL bytes, so that sg_err cuts a long path only (lib/error.h)
 * and the advice at the end always survives. The lists share what the rest
 * leaves: the first's cap for label_list (first_cap) leaves the second what
 * it needs uncut (second_len bytes) up to half; the second's (second_cap)
 * is what the first left. Each at most LIST_CAP. */
enum { LIST_CAP = SG_ERR_TAIL + 1 };
static size_t lists_room(size_t rest) { return rest < SG_ERR_TAIL ? SG_ERR_TAIL - rest : 0; }
static size_t first_cap(size_t room, size_t second_len)
{
    return room - (second_len < room / 2 ? second_len : room / 2) + 1;
}
static size_t second_cap(size_t room, size_t first_len) { return (first_len < room ? room - first_len : 0) + 1; }

/* The checkpoint's G file as a label mismatch names it, in at most
 * CKPT_SHOWN - 1 bytes, so that the message's bound holds (lists_room):
 * its shell word (sg_shell_word_in, as lib quotes paths) when that fits;
 * else the path as it is when that fits (the tool escapes the message);
 * else "..." and the path's end from a '/', which names the run and the
 * checkpoint (".../run/ckpt/000100-G.safetensors"), or from a character's
 * first byte when no '/' is near enough to the end. */
enum { CKPT_SHOWN = 128 };
static void ckpt_shown(const char *g_path, char out[CKPT_SHOWN])
{
    if (sg_shell_word_in(out, CKPT_SHOWN, g_path) < CKPT_SHOWN) return;
    size_t len = strlen(g_path);
    if (len < CKPT_SHOWN) {
        memcpy(out, g_path, len + 1);
        return;
    }
    const char *end = g_path + len, *tail = end - (CKPT_SHOWN - 4), *slash = strchr(tail, '/');
    if (slash && slash + 1 < end) tail = slash;
    else
        while ((unsigned char)*tail >= 0x80 && (unsigned char)*tail < 0xc0 && tail < end - 1) tail++;
    snprintf(out, CKPT_SHOWN, "...%s", tail);
}

/* "1 train, 2 train" for the datasets in list[0..n). */
static void dataset_subset(const sg_ckpt_info *ck, const int *list, int n, char *out, size_t cap)
{
    const char *names[SG_MAX_DATASETS];
    sg_ckpt_dataset_names(ck, names);
    sg_targets_dataset_list(&ck->model, names, list, n, out, cap);
}

/* The datasets among cand[0..n) whose shard in the checkpoint's run is
 * shard_path (the same file by device and inode; config.json records each
 * shard's path): into hit, their count. 0 without a run. */
static int datasets_by_path(const char *run, const sg_ckpt_info *ck, const char *shard_path, const int *cand,
                            int n, int *hit)
{
    if (!run[0]) return 0;
    char **paths;
    int n_paths, n_hit = 0;
    sg_err ignored;
    if (sg_run_shard_paths(run, &paths, &n_paths, &ignored)) return 0;   /* then by name */
    if (n_paths == ck->model.n_datasets)
        for (int k = 0; k < n; k++)
            if (paths[cand[k]] && sg_same_file(paths[cand[k]], shard_path)) hit[n_hit++] = cand[k];
    sg_run_free_paths(paths, n_paths);
    return n_hit;
}

int sg_ckpt_match_shard(const sg_ckpt_info *ck, const sg_shard_meta *m, const char *shard_path,
                        const char *dataset_arg, const char *run, const char *g_path, int *ds_out, int *map,
                        sg_buf *note, sg_err *err)
{
    const sg_model_config *cfg = &ck->model;
    const char *dataset_names[SG_MAX_DATASETS];
    sg_ckpt_dataset_names(ck, dataset_names);
    const char *const *shard_labels = (const char *const *)m->label_names;
    const char *kind = sg_shard_label_kind_name(m->label_kind);
    char have[LIST_CAP] = "", want[LIST_CAP] = "", desc[SG_QUOTE_MAX + 32], ckpt[CKPT_SHOWN];
    size_t have_len = 0, want_len = 0;
    int cand[SG_MAX_DATASETS], n_cand = 0, scratch[SG_SHARD_MAX_LABELS];
    for (int ds = 0; ds < cfg->n_datasets; ds++)
        if (sg_ckpt_labels_fit(ck, m, ds, scratch)) cand[n_cand++] = ds;
    if (dataset_arg) {
        int ds;
        if (sg_targets_dataset_parse(cfg, dataset_names, dataset_arg, &ds, err))
            return sg_err_prefix(err, "--dataset %s", sg_quote_str(dataset_arg).s);
        if (sg_ckpt_labels_fit(ck, m, ds, map)) { *ds_out = ds; return 0; }
        sg_targets_dataset_desc(cfg, dataset_names, ds, desc, sizeof desc);
        /* what to do: the dataset(s) of the shard's labels, else a shard of ds's */
        char advice[300], list[200];
        if (n_cand == 1) {
            sg_targets_dataset_desc(cfg, dataset_names, cand[0], list, sizeof list);
            snprintf(advice, sizeof advice, "they are dataset %s's: give --dataset %d, or no --dataset", list,
                     cand[0] + 1);
        } else if (n_cand > 1) {
            dataset_subset(ck, cand, n_cand, list, sizeof list);
            snprintf(advice, sizeof advice, "they are those of datasets %s: give one of those to --dataset", list);
        } else {
            snprintf(advice, sizeof advice, "no dataset of the checkpoint has them: give a shard packed with "
                     "dataset %s's labels", desc);
        }
        static const char fmt[] = ": labels %s (%s) are not those of dataset %s (--dataset) of %s, which are %s "
                                  "(%s); %s";
        /* the rest leaves the lists room whatever the names and the path */
        _Static_assert(sizeof fmt + 2 * sizeof "multi-hot" + sizeof desc + CKPT_SHOWN + sizeof advice + 64 <
                       SG_ERR_TAIL, "the rest of the --dataset mismatch fits SG_ERR_TAIL");
        const char *ds_want = cfg->one_hot[ds] ? "one-hot" : "multi-hot";
        const char *const *ds_labels = (const char *const *)ck->label_names + sg_model_label_offset(cfg, ds);
        ckpt_shown(g_path, ckpt);
        size_t room = lists_room((size_t)snprintf(NULL, 0, fmt, "", kind, desc, ckpt, "", ds_want, advice));
        label_list(have, first_cap(room, label_list_len("", ds_labels, cfg->label_dim[ds])), &have_len, "",
                   shard_labels, (int)m->n_labels, 0);
        label_list(want, second_cap(room, have_len), &want_len, "", ds_labels, cfg->label_dim[ds], 0);
        char tail[SG_ERR_TAIL + 1];
        snprintf(tail, sizeof tail, fmt, have, kind, desc, ckpt, want, ds_want, advice);
        return sg_errf(err, "%s%s", shard_path, tail);
    }
    if (n_cand == 0) {   /* every dataset's labels: "a,b; c,d" */
        static const char fmt[] = ": labels %s match none of the datasets of %s (%s); give a shard packed with one "
                                  "of those label lists";
        _Static_assert(sizeof fmt + CKPT_SHOWN + 64 < SG_ERR_TAIL, "the rest of the mismatch fits SG_ERR_TAIL");
        ckpt_shown(g_path, ckpt);
        size_t room = lists_room((size_t)snprintf(NULL, 0, fmt, "", ckpt, "")), all_len = 0;
        for (int ds = 0; ds < cfg->n_datasets; ds++)
            all_len += label_list_len(ds ? "; " : "", (const char *const *)ck->label_names +
                                      sg_model_label_offset(cfg, ds), cfg->label_dim[ds]);
        label_list(have, first_cap(room, all_len), &have_len, "", shard_labels, (int)m->n_labels, 0);
        size_t cap = second_cap(room, have_len), after = all_len;
        for (int ds = 0; ds < cfg->n_datasets; ds++) {
            const char *const *labels = (const char *const *)ck->label_names + sg_model_label_offset(cfg, ds);
            after -= label_list_len(ds ? "; " : "", labels, cfg->label_dim[ds]);   /* the datasets after ds */
            if (label_list(want, cap, &want_len, ds ? "; " : "", labels, cfg->label_dim[ds], after)) break;
        }
        char tail[SG_ERR_TAIL + 1];
        snprintf(tail, sizeof tail, fmt, have, ckpt, want);
        return sg_errf(err, "%s%s", shard_path, tail);
    }
    int chosen = cand[0];
    if (n_cand > 1) {
        char list[400];
        int hit[SG_MAX_DATASETS], n_hit = datasets_by_path(run, ck, shard_path, cand, n_cand, hit);
        if (n_hit > 1) {
            dataset_subset(ck, hit, n_hit, list, sizeof list);
            return sg_errf(err, "%s is datasets %s of the run in %s (the same shard twice); choose one with "
                           "--dataset N", shard_path, list, run);
        }
        if (n_hit == 1) {
            chosen = hit[0];
        } else {
            char own_name[SG_CKPT_NAME_MAX];
            sg_run_dataset_name(shard_path, own_name, sizeof own_name);
            int named[SG_MAX_DATASETS], n_named = 0;
            for (int k = 0; k < n_cand; k++)
                if (!strcmp(ck->dataset_names[cand[k]], own_name)) named[n_named++] = cand[k];
            if (n_named > 1) {
                static const char fmt[] = ": datasets %s of %s are named like it and have its labels; choose one "
                                          "with --dataset N";
                _Static_assert(sizeof fmt + sizeof list + CKPT_SHOWN < SG_ERR_TAIL,
                               "the datasets named like the shard fit SG_ERR_TAIL");
                dataset_subset(ck, named, n_named, list, sizeof list);
                ckpt_shown(g_path, ckpt);
                char tail[SG_ERR_TAIL + 1];
                snprintf(tail, sizeof tail, fmt, list, ckpt);
                return sg_errf(err, "%s%s", shard_path, tail);
            }
            if (n_named == 1) {
                chosen = named[0];
            } else {
                dataset_subset(ck, cand, n_cand, list, sizeof list);
                sg_targets_dataset_desc(cfg, dataset_names, chosen, desc, sizeof desc);
                ckpt_shown(g_path, ckpt);
                sg_buf_appendf(note, "%s: its labels are those of datasets %s of %s, and it is named like none of "
                               "them; taking it as dataset %s (choose with --dataset N|NAME)", shard_path, list, ckpt,
                               desc);
                if (note->failed) return sg_err_oom(err, "out of memory");
            }
        }
    }
    sg_ckpt_labels_fit(ck, m, chosen, map);
    *ds_out = chosen;
    return 0;
}

/* The checkpoint's run and its shard paths (config.json), read when a
 * dataset first needs them and then kept for the others. */
typedef struct {
    const char *run;   /* "" for none */
    int read;          /* 0: not yet; 1: paths and n_paths hold them; -1: unreadable, err says why */
    char **paths;
    int n_paths;
    sg_err err;
} run_shards;

static int run_shards_read(run_shards *rs)
{
    if (!rs->read) rs->read = sg_run_shard_paths(rs->run, &rs->paths, &rs->n_paths, &rs->err) ? -1 : 1;
    return rs->read == 1 ? 0 : -1;
}

static void run_shards_free(run_shards *rs)
{
    if (rs->read == 1) sg_run_free_paths(rs->paths, rs->n_paths);
}

/* Dataset ds's crop from its shard in the checkpoint's run (config.json
 * records the shard's path), for a checkpoint of an older build, which
 * records the first dataset's crop only: 0 and *crop, else -1 and why not
 * ("" without a run). A shard there must still have the dataset's labels and
 * the generator's image size: another one put at its path is not the data the
 * dataset was trained on. */
static int run_shard_crop(const sg_ckpt_info *ck, run_shards *rs, int ds, int *crop, char *why, size_t cap)
{
    why[0] = 0;
    if (!rs->run[0]) return -1;
    if (run_shards_read(rs)) {
        snprintf(why, cap, "%s", rs->err.msg);
        return -1;
    }
    const char *run = rs->run;
    char **paths = rs->paths;
    int n_paths = rs->n_paths, rc = -1, map[SG_SHARD_MAX_LABELS];
    sg_err err = {{0}};
    sg_shard *sh = NULL;
    if (n_paths != ck->model.n_datasets) {
        snprintf(why, cap, "%s/config.json records %d dataset%s, the checkpoint %d", run, n_paths,
                 n_paths == 1 ? "" : "s", ck->model.n_datasets);
    } else if (sg_shard_open(&sh, paths[ds], &err)) {
        snprintf(why, cap, "the run's shard for it: %s", err.msg);
    } else {
        const sg_shard_meta *m = sg_shard_get_meta(sh);
        if (!sg_ckpt_labels_fit(ck, m, ds, map))
            snprintf(why, cap, "the run's shard for it, %s, has other labels now", paths[ds]);
        else if ((int)m->width != ck->model.image_size || (int)m->height != ck->model.image_size)
            snprintf(why, cap, "the run's shard for it, %s, has %ux%u images now", paths[ds], m->width, m->height);
        else {
            *crop = (int)m->crop;
            rc = 0;
        }
        sg_shard_close(sh);
    }
    return rc;
}

/* Dataset ds's crop: the checkpoint's; for a dataset after the first of an
 * older build's checkpoint, which records only the first's, the one its shard
 * in the run was packed with (run_shard_crop), else the first's: a guess,
 * which a note names when note is not NULL (image files framed as ds with it). */
static int dataset_crop(const sg_ckpt_info *ck, run_shards *rs, const char *g_path, int ds, sg_buf *note)
{
    int crop = sg_ckpt_dataset_crop(ck, ds);
    char why[1400];
    if (ds == 0 || ck->dataset_crop_recorded[ds] || run_shard_crop(ck, rs, ds, &crop, why, sizeof why) == 0 ||
        !note)
        return crop;
    const char *names[SG_MAX_DATASETS];
    char first[SG_QUOTE_MAX + 32], desc[SG_QUOTE_MAX + 32];
    sg_ckpt_dataset_names(ck, names);
    sg_targets_dataset_desc(&ck->model, names, 0, first, sizeof first);
    sg_targets_dataset_desc(&ck->model, names, ds, desc, sizeof desc);
    sg_buf_appendf(note, "%s (an older build) records only dataset %s's crop, %d: image files for dataset %s are "
                   "cropped to it (%s%sgive --crop N if its shards were packed with another)", g_path, first, crop,
                   desc, why, why[0] ? "; " : "");
    return crop;
}

int sg_ckpt_file_crop(const sg_ckpt_info *ck, const char *run, const char *g_path, int ds, int *crop,
                      sg_buf *note, sg_err *err)
{
    const sg_model_config *cfg = &ck->model;
    run_shards rs = { .run = run };
    if (ds >= 0) {
        *crop = dataset_crop(ck, &rs, g_path, ds, note);
        run_shards_free(&rs);
        return note->failed ? sg_err_oom(err, "out of memory") : 0;
    }
    const char *names[SG_MAX_DATASETS];
    sg_ckpt_dataset_names(ck, names);
    int crops[SG_MAX_DATASETS] = {0}, differ = 0;
    for (int d = 0; d < cfg->n_datasets; d++) {
        crops[d] = dataset_crop(ck, &rs, g_path, d, NULL);   /* only for the note: framed as the first */
        differ |= crops[d] != crops[0];
    }
    run_shards_free(&rs);
    if (differ) {
        char list[600], desc[SG_QUOTE_MAX + 32];
        size_t len = 0;
        list[0] = 0;
        for (int d = 0; d < cfg->n_datasets && len + 2 < sizeof list; d++) {
            sg_targets_dataset_desc(cfg, names, d, desc, sizeof desc);
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s %d", d ? ", " : "", desc, crops[d]);
        }
        sg_targets_dataset_desc(cfg, names, 0, desc, sizeof desc);
        sg_buf_appendf(note, "the datasets' crops differ (%s); image files are cropped to %d, dataset %s's (choose "
                       "with --dataset N or --crop N)", list, crops[0], desc);
    }
    *crop = crops[0];
    return note->failed ? sg_err_oom(err, "out of memory") : 0;
}
