/* The StarGAN training loop as a library (sg-train is a thin front end; tests
 * drive it directly). Run directory layout, history and checkpoint formats:
 * man/man1/sg-train.1, man/man5/stargan-checkpoint.5.
 *
 *   RUN/config.json          training options, model config, datasets
 *   RUN/history.jsonl        one JSON object per logged iteration
 *   RUN/samples/NNNNNN.png   fixed sample batch translated to every target
 *   RUN/ckpt/NNNNNN-{G,D,state}.safetensors, RUN/latest   (checkpoint.h)
 *   RUN/cudnn-engines.txt    CUDA runs: cuDNN's engine choices, read on resume
 *
 * Iteration i (0-based) trains on dataset ds = i % n_datasets with its batch
 * number b = i / n_datasets of that dataset: the shard is visited in a random
 * permutation per epoch (SG_STREAM_EPOCH, keyed by dataset and epoch), an epoch
 * being floor(count / batch) batches (the last incomplete batch is dropped, as
 * the reference's DataLoader(drop_last=True) does); so every draw is a function
 * of (seed, i) and a resumed run repeats an uninterrupted one bit for bit. */
#ifndef SG_TRAINER_H
#define SG_TRAINER_H
#include <signal.h>
#include <stdint.h>
#include "error.h"
#include "model.h"
#include "run_config.h"

/* The learning rate at iteration i (0-based): constant, then a linear decay over
 * the last D = min(decay_iters, iters) iterations: lr * min(1, (iters - i) / D)
 * (so the last iteration uses lr/D; computed in double, rounded to float).
 * With several datasets, i is its round's first iteration (i - i mod
 * n_datasets): the batches of a round share a rate, as the reference's
 * train_multi decays after each round (the last round: lr * n_datasets / D). */
float sg_train_lr(double lr, int64_t i, int64_t iters, int64_t decay_iters, int n_datasets);
/* A resume at iteration at (0-based: the first it trains) under the options
 * now, of a run of n_datasets that trained up to there under run (config.json's): the
 * rates of G and D (from[0], from[1]) at its last iteration, at - 1 under
 * run, and (to[]) at iteration at under now. Returns 1 when either of to[]
 * differs by more than a factor 2, either way (0 against a rate that is not
 * counts), from the rate run's own options give at iteration at (past
 * their end, from[]), so that only changed options warn, never the schedule's own
 * steps; else 0; also 0 when at is 0 or not below now->iters (nothing
 * trained or nothing to train). A larger --iters moves the decay window: a
 * run decayed to lr/D goes on at nearly the full rate. */
int sg_train_lr_jump(const sg_train_options *run, const sg_train_options *now, int64_t at, int n_datasets,
                     float from[2], float to[2]);
/* min(6, floor(log2(image_size)) - 1), at least 1: D's last map is >= 2x2. */
int sg_train_default_d_repeat(int image_size);
/* Whether iteration i (from 0) updates G after its D step. Iterations go in
 * rounds of one per dataset (i mod n_datasets), the reference's train_multi
 * iteration; G is updated after each dataset's D step in round r = i /
 * n_datasets when (r + 1) mod n_critic = 0, so every dataset trains G (with
 * one dataset: when (i + 1) mod n_critic = 0). */
int sg_train_g_step(int64_t i, int n_datasets, int n_critic);

/* The order in which the trainer visits dataset ds's n records in epoch
 * epoch: out[0..n-1] a permutation of 0..n-1 (Fisher-Yates on SG_STREAM_EPOCH,
 * the counter packing ds, epoch and position), a new one every epoch, as the
 * reference's DataLoader(shuffle=True) reshuffles. n <= UINT32_MAX (the
 * indices are uint32_t; the trainer refuses larger shards). */
void sg_train_epoch_order(uint64_t seed, int ds, int64_t epoch, uint64_t n, uint32_t *out);

/* Whether image k of iteration i's batch is mirrored left-right (with the
 * flip option on): 1 with probability 1/2, a function of (seed, i, k) on
 * SG_STREAM_FLIP, as the reference's RandomHorizontalFlip(p=0.5). */
int sg_train_flip(uint64_t seed, int64_t i, int k);

/* The records of the fixed sample grid: rows[0..m-1] m = min(n, count)
 * different record numbers in [0, count), drawn from (seed) on
 * SG_STREAM_SAMPLE. Returns m (0 for n <= 0 or count 0). */
int sg_train_sample_rows(uint64_t seed, uint64_t count, int n, uint64_t *rows);

typedef struct sg_trainer sg_trainer;

enum {
    SG_TRAIN_NEW = 0,      /* a new run; an existing run in run_dir is an error */
    SG_TRAIN_RESUME,       /* continue the run in run_dir from its latest checkpoint */
    SG_TRAIN_REPLACE       /* a new run replacing an existing one (removed only after
                              the shards and options were checked; a run of a newer
                              stargan-c, config.json or a checkpoint of a newer format
                              than this build reads, is an error and stays) */
};
/* Opens the shards, creates the model on be (not owned; it must outlive the
 * trainer: the batch buffers are its host_alloc memory) and either starts a new
 * run in run_dir (writes config.json, empties history) or, with SG_TRAIN_RESUME,
 * loads the latest checkpoint (checking that shards and model match the run),
 * trims history.jsonl to the checkpoint's iteration and rewrites config.json
 * with the options now (not when nothing is left to train; a multi-dataset
 * run of the former G schedule stays "stargan-c-run/1" until the first
 * checkpoint saved, which makes it /2 before latest names it). Nothing in run_dir changes
 * when this fails on bad input. The trainer holds an exclusive flock(2) on
 * run_dir until sg_trainer_free: a run directory another trainer (in any
 * process) holds is an error. On the CPU backend, a model that needs more
 * memory than the process can ever have (lib/sysmem.h) is an error naming a
 * batch that fits, before run_dir is touched; more than is available now, a
 * note. */
/* 0; SG_TRAIN_BUSY when run_dir is busy (another process holds a flock on
 * it: a trainer, or a script), not broken: trying again later may succeed;
 * -1 for any other failure. */
#define SG_TRAIN_BUSY (-2)
int sg_trainer_open(sg_trainer **out, const char *run_dir, const sg_train_options *opt,
                    const char *const *shard_paths, int n_shards, sg_backend *be, int mode, sg_err *err);
/* sg_trainer_open in two steps, for a tool that tells a stop in the first
 * from one in the second. sg_trainer_prepare does all the reading and
 * checking (the run directory locked; a new run's made, empty; temporary
 * files of killed writers removed) and changes nothing else in it: a
 * process that ends here leaves the run as it was. sg_trainer_begin makes
 * the changes, short and few: --force's removal of the previous run,
 * config.json and an empty history.jsonl; a resume's pruning of checkpoints
 * past --keep, history.jsonl cut back to the checkpoint, config.json, latest
 * where it was lost. A failed begin (a write: a full disk) leaves the
 * trainer to sg_trainer_free; sg_trainer_run needs a begun one. */
int sg_trainer_prepare(sg_trainer **out, const char *run_dir, const sg_train_options *opt,
                       const char *const *shard_paths, int n_shards, sg_backend *be, int mode, sg_err *err);
int sg_trainer_begin(sg_trainer *t, sg_err *err);
void sg_trainer_free(sg_trainer *t);

int64_t sg_trainer_iteration(const sg_trainer *t);       /* completed iterations */
/* 1: a resume of several datasets from a checkpoint trained before G's
 * schedule became the reference's rounds (sg_train_g_step; it trained G
 * after iterations i with (i+1) mod n_critic = 0), until this session saves
 * its first checkpoint: it goes on in rounds, so it does not repeat an
 * uninterrupted run. */
int sg_trainer_former_schedule(const sg_trainer *t);
/* The k-th (from 0) of the things the user should know that are not errors
 * (e.g. a resumed CUDA run could not reuse the earlier run's convolution
 * engines), one line each, in the order found; NULL past the last. */
const char *sg_trainer_note(const sg_trainer *t, int k);
/* This start's "sessions" entry: written to config.json unless a resume has
 * nothing to train (its iteration at or past --iters). */
const sg_train_session *sg_trainer_session(const sg_trainer *t);
/* A resume: the start that trained the iterations up to the checkpoint it
 * continues from (config.json's last "sessions" entry from before it; for a
 * run from before "sessions", from 0 with config.json's "training" options,
 * no threads, numerics or build), for the tool to say what now differs. A
 * value the entry lacks or holds invalid reads as the options now. NULL: a
 * new run, or a resume from iteration 0. */
const sg_train_session *sg_trainer_resumed_session(const sg_trainer *t);
int64_t sg_trainer_last_checkpoint(const sg_trainer *t); /* -1 if none */
/* The run directory's path: the one opened, or where it was moved to while
 * training (sg_trainer_run follows a moved run before each sample and
 * checkpoint; a deleted one stops it with an error). The trainer's string:
 * a move frees it, so ask again after sg_trainer_run (and in its callbacks)
 * rather than keeping the pointer. */
const char *sg_trainer_run_dir(const sg_trainer *t);
/* Training batches read from the shards so far (each iteration's once; for
 * tests: a batch read twice is wasted work). */
uint64_t sg_trainer_batches_loaded(const sg_trainer *t);
/* After sg_trainer_run failed: 1 when its message already ends with "; last
 * good checkpoint: PATH" (a failed write, a loss that is not finite). */
int sg_trainer_error_names_checkpoint(const sg_trainer *t);
/* After sg_trainer_run failed: the shard whose record could not be read (a
 * damaged record, a read error), else NULL. */
const char *sg_trainer_error_shard(const sg_trainer *t);
/* The model's configuration (image size, label layout). */
const sg_model_config *sg_trainer_model_config(const sg_trainer *t);

typedef struct {
    int64_t iteration;            /* completed iterations */
    int64_t iters;
    int dataset;
    int g_stepped;                /* G was updated at this iteration */
    sg_losses losses;             /* the losses last read: at losses_at (G's: the last G update's) */
    int64_t losses_at;            /* iteration of `losses`: this one where they were read, else an
                                     earlier one (0: none read yet) */
    int64_t g_at;                 /* the iteration whose G update gave losses' G terms (with several
                                     datasets, maybe another dataset's); 0: none in this session */
    double it_per_s;              /* recent average of wall time per iteration (sg_train_rate_add) */
    double elapsed;               /* seconds, including earlier runs */
    /* Something to tell the user once, at this iteration, or NULL: "RUN was
     * moved to NEW: the run goes on there" (sg_trainer_run_dir is NEW then). */
    const char *note;
    int saved;                    /* a checkpoint of this iteration was written */
} sg_train_status;
typedef void (*sg_train_callback)(void *ctx, const sg_train_status *st);

/* The rate sg_train_status.it_per_s shows (and the ETA built on it): wall-clock
 * time between the ends of iterations, so the steps, history lines, samples and
 * checkpoints all count, averaged over roughly the last SG_TRAIN_RATE_WINDOW
 * seconds (time and iterations decayed by exp(-dt / window)). Start from
 * {0, 0}; each call adds n iterations that took dt seconds and returns the
 * iterations per second (0 before any time passed). */
#define SG_TRAIN_RATE_WINDOW 600.0
typedef struct { double time, iters; } sg_train_rate;
double sg_train_rate_add(sg_train_rate *r, double dt, int64_t n);

/* A write in the run directory that failed for want of space: a full file
 * system (ENOSPC) or a disk quota reached (EDQUOT). The writes covered: a
 * checkpoint (its files and latest), a sample grid, a history line; what a
 * failed try wrote is gone again (a checkpoint's partial files, a history
 * line's part), so trying once more leaves the run as if the first try had gone
 * through. A failed fsync of history.jsonl before a checkpoint is not tried
 * again: the lines it may have lost would not be reported twice. */
enum { SG_TRAIN_WRITE_CHECKPOINT, SG_TRAIN_WRITE_SAMPLE, SG_TRAIN_WRITE_HISTORY };
typedef struct {
    int what;                     /* SG_TRAIN_WRITE_* */
    int64_t iteration;            /* the iteration being saved, sampled or logged */
    const char *path;             /* RUN/ckpt, RUN/samples or RUN/history.jsonl (RUN: where it is now) */
    int64_t last_checkpoint;      /* the one a resume would continue from, -1: none */
    int tries;                    /* tries that failed so far (1 at the first failure) */
    const sg_err *err;            /* the last try's error (sys_errno ENOSPC or EDQUOT); NULL: the
                                     try after `tries` failed ones went through */
} sg_train_space;
/* The tool's policy for such a failure: return 1 to try the write again (the
 * callback waits before it as it sees fit), 0 to give up (the run stops
 * with err, as without a callback). Called once more with err NULL when a
 * try after failed ones went through (the return value is ignored). Nothing
 * random is drawn and the model is not touched meanwhile, so the run goes on
 * exactly as an uninterrupted one; the time spent in the callback is left
 * out of the rate (sg_train_status.it_per_s). */
typedef int (*sg_train_space_callback)(void *ctx, const sg_train_space *s);
/* Sets the callback (NULL, the default: such a failure stops the run). */
void sg_trainer_on_no_space(sg_trainer *t, sg_train_space_callback cb, void *ctx);

/* What sg_trainer_run and a tool's signal handler share; each member is
 * written by one side and read by the other. */
typedef struct {
    /* by the tool: nonzero asks for a stop with a checkpoint, looked at
     * after every iteration */
    volatile sig_atomic_t stop;
    /* by the trainer: 1 from the start of a checkpoint's write until the
     * callback after it has returned and the run goes on, and still 1 when
     * sg_trainer_run returns after it: a second request then belongs to the
     * trainer (abandon), where at any other time the process can end at once
     * and the checkpoints stay as the last callback saw them */
    volatile sig_atomic_t saving;
    /* by the tool, while saving: nonzero gives up the checkpoint under way
     * (sg_ckpt_save_abandonable; its partial files removed, latest left
     * naming the previous one): sg_trainer_run fails with sys_errno
     * ECANCELED and sg_trainer_last_checkpoint is where a resume continues.
     * Set after the checkpoint was complete, it ends the run right after it
     * (1, or 0 when that was the last iteration) */
    volatile sig_atomic_t abandon;
} sg_train_stop;

/* Runs iterations until opt.iters or stop->stop becomes nonzero (checked after
 * every iteration; then a checkpoint is written; stop NULL: none). Returns 0
 * when finished (a stop seen in the last iteration too: the run is complete),
 * 1 when stopped with iterations left (checkpoint written), -1 on error. The steps do not wait for the
 * device: the losses are read (a sync) and checked only at logged iterations
 * (should they be logged, history.jsonl), before every checkpoint (save_every,
 * the last iteration, a stop) and at the end; a non-finite one gives
 *   "iteration N: D/loss_gp is nan; last good checkpoint: RUN/ckpt/001000"
 * when the previous iteration's losses were read, else
 *   "iteration N: D/loss_gp is nan; it appeared between iterations M and N
 *    (losses are checked at logged iterations and checkpoints); last good ..."
 * (M: one past the last read), and writes no checkpoint. Every checkpoint also
 * checks that all parameters and Adam moments are finite (sg_ckpt_save), so none
 * ever holds a non-finite value. cb (may be NULL) is called after every
 * iteration; st->losses are the last ones read (st->losses_at). */
int sg_trainer_run(sg_trainer *t, sg_train_stop *stop, sg_train_callback cb, void *ctx, sg_err *err);

#endif
