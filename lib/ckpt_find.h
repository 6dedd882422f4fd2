/* Finding the generator a user names (sg-sample --ckpt): a run directory of
 * sg-train (the checkpoint its `latest` file names), a checkpoint prefix
 * RUN/ckpt/NNNNNN, or a generator file NNNNNN-G.safetensors.
 *
 * A run directory may be live: sg-train --keep N deletes old checkpoints once
 * a new one is complete and RUN/latest names it, so the checkpoint latest named
 * when it was read can be gone when its file is opened. Then latest is read
 * again, up to SG_CKPT_FIND_TRIES times in all, and only when it keeps naming
 * a missing file (or names the same one again) is that an error. */
#ifndef SG_CKPT_FIND_H
#define SG_CKPT_FIND_H
#include <stddef.h>
#include "checkpoint.h"
#include "error.h"

#define SG_CKPT_FIND_TRIES 5

/* Resolves arg to G's file (path, cap bytes) and reads its metadata into info
 * (free with sg_ckpt_info_free). Errors: "ARG: no checkpoint found (...)",
 * "ARG: ARG/latest names PATH, which is missing", or the metadata's. */
int sg_ckpt_find_generator(const char *arg, char *path, size_t cap, sg_ckpt_info *info, sg_err *err);

/* 1 when arg names a run directory (whose latest may move on). */
int sg_ckpt_arg_is_run(const char *arg);

#endif
