/* Checkpoints of a training run (format: man/man5/stargan-checkpoint.5).
 *
 * A checkpoint after `step` completed iterations is three safetensors files
 *   RUN/ckpt/NNNNNN-G.safetensors      G's state_dict, names/shapes/dtypes as the reference
 *   RUN/ckpt/NNNNNN-D.safetensors      D's state_dict
 *   RUN/ckpt/NNNNNN-state.safetensors  Adam moments and step counters of both nets,
 *                                      and the iteration (the RNG needs nothing else:
 *                                      every draw is a function of seed and iteration)
 * (NNNNNN = step, zero-padded to 6 digits, more when larger) and RUN/latest, a
 * text file "NNNNNN\n" naming the newest complete checkpoint, replaced atomically
 * after all three files are complete.
 *
 * State tensors: "G.exp_avg.<name>" and "G.exp_avg_sq.<name>" (F32, the shape of
 * G's trainable tensor <name>; PyTorch Adam's state names), the same for D,
 * "G.step" and "D.step" (I64 [1], Adam's step counters) and "iteration" (I64 [1]).
 *
 * __metadata__ of every file (all values strings; structured ones JSON-encoded):
 *   format      "stargan-c-checkpoint/1"
 *   net         "G", "D" or "state"
 *   step        completed iterations, decimal
 *   image_size, g_conv_dim, g_repeat, d_conv_dim, d_repeat, c_dim, cls_dim   decimal
 *   n_datasets  decimal
 *   datasets    [{"name":..., "label_kind":"multi-hot"|"one-hot", "offset":N,
 *                 "labels":[names...], "crop":N}, ...]
 *               crop: the center-crop side of that dataset's training shard (0: none);
 *               absent in files of older builds, which read as the top-level crop
 *               for every dataset (readers ignore keys they do not know, so older
 *               builds read newer files)
 *   label_names every label name, in label-vector order (JSON array)
 *   mask        {"offset":N, "size":n_datasets} when n_datasets > 1, else "null"
 *   crop        center-crop side of the first dataset's training shard, 0: none (the
 *               per-dataset crops are in "datasets"; this one is for older readers)
 *   created_by  the build that wrote the file, "stargan-c " sg_version (lib/version.h);
 *               absent in files of builds before it was recorded
 *   data_crc32  CRC-32 of the file's data buffer, 8 hex digits (absent: unchecked)
 *   G_data_crc32, D_data_crc32   state files written by sg_ckpt_save: the data
 *               CRC-32s of the G and D saved with it; sg_ckpt_load compares them
 *               with the CRC-32 of those files' data, sg_ckpt_read_generator G's */
#ifndef SG_CHECKPOINT_H
#define SG_CHECKPOINT_H
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include "error.h"
#include "model.h"

#define SG_CKPT_FORMAT_FAMILY "stargan-c-checkpoint"
#define SG_CKPT_FORMAT SG_CKPT_FORMAT_FAMILY "/1"
#define SG_CKPT_NAME_MAX 128

/* What a checkpoint says about its model and labels. */
typedef struct {
    sg_model_config model;                       /* batch and lambdas are not stored (0) */
    char dataset_names[SG_MAX_DATASETS][SG_CKPT_NAME_MAX];
    int n_labels;                                /* = sg_model_cls_dim(&model) */
    char **label_names;                          /* n_labels names, malloc'd */
    int64_t step;
    int crop;                                    /* center-crop side of the training images
                                                    (the first shard's; 0: none/unknown) */
    int dataset_crop[SG_MAX_DATASETS];           /* each dataset's crop, when has_dataset_crops */
    int has_dataset_crops;                       /* sg_ckpt_read_info sets it (older files: every
                                                    dataset the top-level crop); a writer that
                                                    leaves it 0 records crop for every dataset */
    int dataset_crop_recorded[SG_MAX_DATASETS];  /* the file named this dataset's crop (an older
                                                    build's gives the top-level crop to all) */
    int has_seed;                                /* seed is known: a state file's metadata "seed"
                                                    (sg_ckpt_save writes it when set) */
    uint64_t seed;                               /* sg-train's --seed */
    char created_by[128];                        /* metadata "created_by", the build that wrote
                                                    the file ("stargan-c 0.1.0 (git ...)");
                                                    "" in files of older builds */
} sg_ckpt_info;

void sg_ckpt_info_free(sg_ckpt_info *info);
/* names[ds] = info->dataset_names[ds] for every slot: the array of strings
 * lib/targets.h's functions take. */
void sg_ckpt_dataset_names(const sg_ckpt_info *info, const char *names[SG_MAX_DATASETS]);
/* Dataset ds's center-crop side: dataset_crop[ds], or crop without per-dataset crops. */
int sg_ckpt_dataset_crop(const sg_ckpt_info *info, int ds);
/* Reads the metadata of any checkpoint file (G, D or state) into info. info
 * is overwritten, not freed: free it with sg_ckpt_info_free before reusing
 * it (a reload, a retry). On failure it holds nothing to free. */
int sg_ckpt_read_info(const char *path, sg_ckpt_info *info, sg_err *err);
/* Checks that G file path holds exactly the tensors (names, dtypes, shapes)
 * of the generator info describes, without making one: a damaged or crafted
 * header is refused before a generator of its metadata's size is allocated
 * and initialised. The data itself is checked when it is loaded. */
int sg_ckpt_check_generator_tensors(const char *path, const sg_ckpt_info *info, sg_err *err);

/* Reads a G file into m as sg_ckpt_read_net (lib/checkpoint_testing.h) does,
 * and checks it against its checkpoint's state file when one lies beside it
 * (path "X-G.safetensors", that file "X-state.safetensors"): G's data must have the CRC-32 the state
 * file recorded for it (G_data_crc32), so a G damaged together with its own
 * data_crc32 key, or a G of another run copied in with a consistent key of its
 * own, is refused (sg_ckpt_load's messages). Only the state file's header is
 * read. No state file there (a G file alone, a converted checkpoint; or pruned
 * meanwhile), or one without G_data_crc32 (older runs): G's own key alone. A
 * state file there that cannot be opened or parsed, holds something else, or
 * whose CRC keys are damaged is an error ("STATE: problem: cannot check G
 * against it"): the checkpoint is suspect. *state_fault (may be NULL): 1 when
 * the error is one of these two (the state file's, or G unlike its record),
 * 0 otherwise. A file that fails these checks changes nothing in m; an I/O,
 * memory or backend error while its tensors are copied in may leave m partly
 * loaded (then reload or discard it). */
int sg_ckpt_read_generator(sg_model *m, const char *path, int *state_fault, sg_err *err);

/* "RUN/ckpt/NNNNNN-KIND.safetensors" (kind "G", "D", "state") or, with kind
 * NULL, the prefix "RUN/ckpt/NNNNNN", into out: 0, or -1 when it does not fit
 * in n bytes (out then holds its beginning: a name to show, never one to open
 * or delete). */
int sg_ckpt_path(char *out, size_t n, const char *run_dir, int64_t step, const char *kind);

/* Writes the three files of checkpoint `step`, then RUN/latest. Refuses (without
 * writing) if any parameter or Adam moment is not finite. A file written whose
 * directory then did not sync does not stop it (each file is in place): without
 * an unsynced handler (lib/fileio.h) the checkpoint and latest are written in
 * full and it returns SG_WRITTEN_UNSYNCED with the first such report; -1 is a
 * checkpoint not written in full. */
int sg_ckpt_save(sg_model *m, const char *run_dir, const sg_ckpt_info *info, int64_t step,
                 sg_err *err);
/* sg_ckpt_save that gives up once *abandon is nonzero (a signal handler's
 * flag; NULL: never): looked at before each tensor is gathered or written
 * and before each file's fsync, up to the state file's, so that a request
 * while a large checkpoint is written takes effect within one tensor. Given
 * up: -1, sys_errno ECANCELED, "checkpoint NNNNNN abandoned before it was
 * complete"; the temporary file under way is removed, the files of this
 * checkpoint already renamed into place (G, or G and D) are left for the
 * caller to remove (sg_ckpt_remove), and latest still names the previous
 * checkpoint. Once the state file's fsync began it is not given up: the
 * checkpoint is then complete, and latest is written. */
int sg_ckpt_save_abandonable(sg_model *m, const char *run_dir, const sg_ckpt_info *info, int64_t step,
                             const volatile sig_atomic_t *abandon, sg_err *err);
/* RUN/latest naming checkpoint `step` (written atomically): what sg_ckpt_save
 * ends with, and a resume's repair of a lost one. */
int sg_ckpt_write_latest(const char *run_dir, int64_t step, sg_err *err);
/* The step named by RUN/latest: 0 and *step, or 0 and *step = -1 when there is
 * no latest file (no checkpoint yet), or -1 when it is unreadable or malformed. */
int sg_ckpt_latest(const char *run_dir, int64_t *step, sg_err *err);
/* What counts as a checkpoint: the one rule of everything that looks in
 * RUN/ckpt (prune, sg-train's "the one before it" and its resume without
 * latest, sg-sample's hints and the "the run holds" message), so that they
 * agree about any one run. Nothing here reads a file: a checkpoint that
 * counts may still fail its checks when loaded.
 * - A checkpoint's file is there when its name is a regular file or a link
 *   to one (sg_ckpt_file_there). A directory, a link to nowhere, a FIFO or a
 *   device under that name is not.
 * - A usable generator checkpoint (what sg-sample needs): its G file is there
 *   (sg_ckpt_has_generator). Its G file's name marks the checkpoint: only
 *   these are listed (sg_ckpt_steps) and deleted (sg_ckpt_prune).
 * - A complete checkpoint (what a resume needs, what --keep counts): its G, D
 *   and state files are all there (sg_ckpt_is_complete). D and state without
 *   G are no checkpoint. */
int sg_ckpt_file_there(const char *path);
int sg_ckpt_has_generator(const char *run_dir, int64_t step);
int sg_ckpt_is_complete(const char *run_dir, int64_t step);
/* The newest complete checkpoint in RUN/ckpt before step `below`, or -1
 * (none, or no RUN/ckpt). */
int64_t sg_ckpt_newest_complete(const char *run_dir, int64_t below);
/* The steps of the usable generator checkpoints in RUN/ckpt (G files named
 * as sg_ckpt_g_file_step reads them, and there), ascending: 0 with *steps
 * (malloc'd: free it; NULL when none) and *n (0 when there is no RUN/ckpt),
 * or -1. */
int sg_ckpt_steps(const char *run_dir, int64_t **steps, size_t *n, sg_err *err);
/* The step of a checkpoint's G file name "NNNNNN-G.safetensors" (the name
 * that marks a checkpoint in RUN/ckpt, when its file is there), exactly as
 * sg_ckpt_path writes it (at least 6 digits, no leading zero beyond them): 0
 * and *step, or -1 for any other name. */
int sg_ckpt_g_file_step(const char *name, int64_t *step);
/* Loads G, D and the state of checkpoint `step` into m. All three files are
 * validated first (headers, data CRC-32s, the state's record of G's and D's
 * CRCs, tensors against the model): a bad file changes nothing in m. An I/O,
 * memory or backend error after that, while G, D and the state are copied in
 * one after another, may leave m partly loaded (then reload or discard it).
 * state_info (may be NULL): the state file's metadata (its seed), on success;
 * free it with sg_ckpt_info_free, also before reusing it: it is overwritten,
 * not freed. On failure it holds nothing to free. */
int sg_ckpt_load(sg_model *m, const char *run_dir, int64_t step, sg_ckpt_info *state_info, sg_err *err);
/* Deletes the checkpoints in RUN/ckpt older than the newest `keep` complete
 * ones (never the one RUN/latest names, nor any newer than it, so never the
 * newest complete one). Only complete checkpoints are counted: an incomplete
 * one (a G alone, or G and D) newer than those is kept but not counted, an
 * older one deleted. A name that is no checkpoint (a directory or a link to
 * nowhere under a G file's name, D and state without G) is neither counted
 * nor deleted, nor are the files of that step beside it. keep <= 0 keeps
 * everything. */
int sg_ckpt_prune(const char *run_dir, int keep, sg_err *err);
/* Deletes checkpoint step's files (state, D, then G, which marks a
 * checkpoint), those there: 0, or -1 at the first that cannot be deleted. A
 * directory under one of their names is no checkpoint's file: left as it is.
 * *removed (may be NULL): how many were deleted. */
int sg_ckpt_remove(const char *run_dir, int64_t step, int *removed, sg_err *err);

/* The N of a versioned format string "FAMILY/N" (a checkpoint's "format"
 * metadata, config.json's "format"): N >= 1, or 0 when text is not of that
 * family or N is not a plain decimal number. */
long sg_format_version(const char *text, const char *family);

/* 1 when one of checkpoint step's files in run_dir (G, D, state) is of a
 * checkpoint format newer than this build's: a newer stargan-c continued the
 * run, which is not damage and must not be answered by going back to an
 * earlier checkpoint. 0 otherwise (unreadable files included). */
int sg_ckpt_newer_format(const char *run_dir, int64_t step);

#endif
