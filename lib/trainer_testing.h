/* Test-only hooks of lib/trainer.c, declared apart from lib/trainer.h so that
 * no tool reaches them (tests/cli/make.bats checks that none includes this);
 * for tests/unit/test_trainer.c. */
#ifndef SG_TRAINER_TESTING_H
#define SG_TRAINER_TESTING_H
#include "trainer.h"

/* One iteration (no logging, sampling or saving), its losses read and checked
 * (a sync every call, unlike sg_trainer_run): for tests. */
int sg_trainer_step(sg_trainer *t, sg_train_status *st, sg_err *err);
/* Writes checkpoint at the current iteration and prunes per opt.keep. For
 * tests only: sg_trainer_run saves on its own schedule. */
int sg_trainer_save(sg_trainer *t, sg_err *err);

#endif
