/* The SG_* switches read from the environment (A/B timing of the CUDA
 * backend and the model). A value outside a switch's choices is an error that
 * names them: a typo (SG_CUDA_LAYOUT=NCHW) must not quietly measure the
 * default. Three SG_ variables are read with a plain getenv elsewhere, being
 * neither a choice nor a number: SG_CUDNN_ENGINES (lib/trainer.c, a file's
 * path, sg-train(1)), SG_BENCH_PLANS (bench/train_step_bench.c, set or
 * not, the bench's only) and SG_TEST_MEMORY_KIB (lib/sysmem.c, a pair: the
 * tests' hook for a small machine). */
#ifndef SG_ENV_H
#define SG_ENV_H
#include "error.h"

/* The index in choices (n_choices strings) of NAME's value; def when NAME is
 * unset or empty; -1 with err for any other value. */
int sg_env_choice(const char *name, const char *const *choices, int n_choices, int def, sg_err *err);
/* NAME's value as a decimal integer in [lo, hi] into *out (def when NAME is
 * unset or empty); -1 with err otherwise. */
int sg_env_long(const char *name, long lo, long hi, long def, long *out, sg_err *err);

#endif
