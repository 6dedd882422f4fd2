/* A checkpoint's datasets against the data sg-sample is given: which of
 * them a shard's records belong to (their labels start that dataset's
 * targets only), and the crop each was trained with, for image files to be
 * framed as its shard was. run: the checkpoint's run directory
 * (sg_ckpt_run_of), "" for none; its config.json records each dataset's
 * shard, which tells apart datasets of the same labels and gives an older
 * build's checkpoint (which records only the first dataset's crop) the
 * others'. A note is a warning for the tool to show (one line, appended to
 * an sg_buf; nothing when there is none). */
#ifndef SG_CKPT_DATA_H
#define SG_CKPT_DATA_H
#include "checkpoint.h"
#include "error.h"
#include "shard.h"
#include "strbuf.h"

/* Whether the shard's labels are dataset ds's: the same kind and the same
 * names, one to one (a shard that names a label twice matches nothing: one of
 * the dataset's labels would get no value); map[i] = position in ds of shard
 * label i. */
int sg_ckpt_labels_fit(const sg_ckpt_info *ck, const sg_shard_meta *m, int ds, int *map);

/* Which of the checkpoint's datasets the shard's records belong to (the
 * shard at shard_path, its metadata m): *ds_out, and map[i] = position in
 * *ds_out of shard label i. dataset_arg (--dataset N|NAME, or NULL) chooses
 * it; else the one dataset with the shard's labels; of several, the one whose
 * shard in the run is this shard (the same file), else the one sg-train named
 * like it. Two named like it (x/train.lmdb, y/train.lmdb) is an error naming
 * --dataset; none named like it takes the first, with a note. Errors: a
 * --dataset that names none ("--dataset 'X': ...") or one of other labels
 * (naming the datasets that have the shard's labels, else asking for a shard
 * of the one named), labels of none of the datasets, the same shard twice in
 * the run (which names the run). The label mismatches, the error of two
 * named like it and the note of none name the checkpoint by g_path, its G
 * file (its shell word; a long one cut to its end, ".../run/ckpt/...", in
 * under 128 bytes), for the user who has several runs. The errors' text
 * after shard_path is at most SG_ERR_TAIL bytes, label lists cut to fit
 * (", ..."): only a long shard path is cut, and the advice at the end
 * survives. */
int sg_ckpt_match_shard(const sg_ckpt_info *ck, const sg_shard_meta *m, const char *shard_path,
                        const char *dataset_arg, const char *run, const char *g_path, int *ds_out, int *map,
                        sg_buf *note, sg_err *err);

/* The crop side for image files framed as dataset ds (-1: no dataset, the
 * targets of several: the first's, with a note naming it when the datasets'
 * crops differ; one framing for a whole grid: its input column shows what
 * every target column was made from) into *crop. Dataset ds's
 * crop is the checkpoint's (g_path: its G file, for the note); for a dataset
 * after the first of an older build's checkpoint, which records only the
 * first's, the one its shard in the run was packed with, else the first's:
 * a guess, which a note names. -1 only when out of memory. */
int sg_ckpt_file_crop(const sg_ckpt_info *ck, const char *run, const char *g_path, int ds, int *crop,
                      sg_buf *note, sg_err *err);

#endif
