/* Test-only hooks of lib/checkpoint.c, declared apart from lib/checkpoint.h
 * so that no tool reaches them (tests/cli/make.bats checks that none includes
 * this); for the unit tests that write or read a checkpoint's files one by
 * one. */
#ifndef SG_CHECKPOINT_TESTING_H
#define SG_CHECKPOINT_TESTING_H
#include <stdint.h>
#include "checkpoint.h"

/* One net to / from a safetensors file. Reading checks that the file holds exactly
 * the model's tensors with the same dtypes and shapes, and says which differ.
 * For tests only, as is the state file's pair below: the tools go through
 * sg_ckpt_save, sg_ckpt_load and sg_ckpt_read_generator. */
int sg_ckpt_write_net(sg_model *m, sg_net net, const char *path, const sg_ckpt_info *info,
                      int64_t step, sg_err *err);
int sg_ckpt_read_net(sg_model *m, sg_net net, const char *path, sg_err *err);
/* The optimizer state file (lib/checkpoint.h). For tests only. */
int sg_ckpt_write_state(sg_model *m, const char *path, const sg_ckpt_info *info, int64_t step,
                        sg_err *err);
int sg_ckpt_read_state(sg_model *m, const char *path, int64_t *step, sg_err *err);

#endif
