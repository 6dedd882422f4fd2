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
#include "model.h"

#define SG_CKPT_FIND_TRIES 5

/* Resolves arg to G's file (path, cap bytes) and reads its metadata into info
 * (free with sg_ckpt_info_free), its tensors checked against the metadata
 * (sg_ckpt_check_generator_tensors). Errors: "ARG: no checkpoint found
 * (...)", "ARG: ARG/latest names PATH, which is missing", the metadata's or
 * the tensors'. */
int sg_ckpt_find_generator(const char *arg, char *path, size_t cap, sg_ckpt_info *info, sg_err *err);

/* The newest generator file directly in dir, by its step (named
 * NNNNNN-G.safetensors as sg_ckpt_path writes it and there by the rule of a
 * usable generator checkpoint, checkpoint.h's sg_ckpt_has_generator, with or
 * without the D and state files beside it; dir need not be RUN/ckpt): 0 and
 * prefix = "DIR/NNNNNN" as --ckpt takes it,
 * or -1 when there is none (or no dir). For sg-sample's hint on a run
 * without latest: a converted G alone in RUN/ckpt. */
int sg_ckpt_newest_generator_file(const char *dir, char *prefix, size_t cap);

/* 1 when arg is a directory: --ckpt takes any directory as a run (whose
 * latest may move on), and what it lacks is said when it is read. Not the
 * test of a run: sg_run_exists (RUN/config.json) is. */
int sg_ckpt_arg_is_run(const char *arg);

/* The run directory the checkpoint sg_ckpt_find_generator found belongs to
 * (config.json there): arg when it is a run directory, else RUN for a G file
 * in RUN/ckpt, however named (--ckpt 000002 from inside RUN/ckpt). 0 and
 * run, or -1 and "" when it belongs to none. */
int sg_ckpt_run_of(const char *arg, const char *g_path, char *run, size_t cap);

/* After a checkpoint's file could not be read: when err's system error says
 * nothing about the file's content (sys_errno EMFILE, ENFILE, ENOMEM, EACCES,
 * EPERM, EAGAIN or EINTR: a limit, permissions, a passing shortage), appends
 * a short hint (" (raise ulimit -n)", " (check the file's permissions)") and
 * returns 1: the checkpoint may well be intact, and advice to go back to an
 * earlier one would throw iterations away (the resumed run then writes over
 * the good one). 1 with nothing appended for EISDIR (a directory in the
 * file's place: sg_err_is_dir's message says so). Else 0: a format, CRC or shape error, truncation, a missing
 * file or EIO, about which the caller says the checkpoint is unusable. */
int sg_ckpt_access_hint(sg_err *err);

/* Loads into m the generator that sg_ckpt_find_generator found for arg (path,
 * its metadata info), checked against the state file beside it
 * (sg_ckpt_read_generator). The second moment of a live run: when arg is a
 * run directory and the file was deleted since it was found (sg-train --keep,
 * while the caller read its inputs), the run's latest checkpoint is found
 * again (with sg_ckpt_find_generator's own retry) and loaded when it is of the
 * same model and labels as info; up to SG_CKPT_FIND_TRIES loads in all. path
 * then names the file loaded. Errors: the read's; "GONE was deleted while the
 * inputs were read, and the run's latest checkpoint PATH is of another model
 * or labels"; the state file's, or G unlike the state's record of it, followed
 * by what to do: " (checkpoint PREFIX is unusable; to sample from the one
 * before it: --ckpt RUN/ckpt/NNNNNN)" when the run has an earlier complete
 * checkpoint, else " (checkpoint PREFIX is unusable: restore its G and state
 * files together, or sample from another checkpoint)"; a state file that
 * could not be opened for a reason not its content is followed by
 * sg_ckpt_access_hint's hint instead. */
int sg_ckpt_load_generator(const char *arg, char *path, size_t cap, const sg_ckpt_info *info, sg_model *m,
                           sg_err *err);

#endif
