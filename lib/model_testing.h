/* Test-only hooks of lib/model.c, declared apart from lib/model.h so that no
 * tool reaches them (tests/cli/make.bats checks that none includes this); for
 * the unit tests and bench/train_step_bench.c. */
#ifndef SG_MODEL_TESTING_H
#define SG_MODEL_TESTING_H
#include <stdint.h>
#include "model.h"

/* Bytes of backend memory the model holds (parameters, state, activations; not
 * the backend's own scratch). For tests only. */
size_t sg_model_backend_bytes(const sg_model *m);
/* How many d_steps ran a queued batch's G forward. For tests and the bench only. */
long long sg_model_prefetches(const sg_model *m);
/* What sg_model_set_batch_drawn draws for a batch of dataset ds: d filled.
 * For tests only, outside model.c. */
void sg_model_batch_draw(const sg_model_config *cfg, int ds, int n, uint64_t seed, int64_t iter,
                         int random_targets, sg_batch_draw *d);
/* How many G steps ran their reconstruction pass during the D step
 * (SG_OVERLAP_G=1: sg_model_d_g_steps). For tests and the bench only. */
long long sg_model_recs_ahead(const sg_model *m);
/* How many G steps took G(x, c_trg) from the D step before them (lib/model.h,
 * after sg_model_overlap_g). For tests only. */
long long sg_model_g_tape_reuses(const sg_model *m);

#endif
