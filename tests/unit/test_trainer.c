/* lib/trainer: the lr schedule, D's default depth, G's schedule, the input
 * normalisation, the data order per epoch, the flip draw, the sample rows,
 * config.json round trip, and the loop driven as a library (determinism,
 * save + resume, stop flag). */
#define _GNU_SOURCE   /* memmem */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "backend.h"
#include "check.h"
#include "ckpt_edit.h"
#include "fail_dir_fsync.h"
#include "checkpoint.h"
#include "fileio.h"
#include "rng.h"
#include "shard.h"
#include "staging_check.h"
#include "strbuf.h"
#include "train_fixture.h"
#include "trainer.h"
#include "trainer_testing.h"
#include "version.h"

static char dir[256];

/* The reference's train_multi: in each round (one iteration per dataset) G
 * is updated after every dataset's D step when the round is an n_critic-th;
 * i mod n_critic left a dataset without any G step whenever n_critic and the
 * number of datasets shared a factor (n_critic 2 with 2 datasets: G trained
 * on the second only). */
static void test_g_schedule(void)
{
    for (int nd = 1; nd <= 3; nd++)
        for (int nc = 1; nc <= 6; nc++) {
            int per_ds[3] = {0, 0, 0}, total = 0;
            for (int64_t i = 0; i < (int64_t)nd * nc * 4; i++)
                if (sg_train_g_step(i, nd, nc)) { per_ds[i % nd]++; total++; }
            CHECK(total == 4 * nd && per_ds[0] == 4 && (nd < 2 || per_ds[1] == 4) && (nd < 3 || per_ds[2] == 4),
                  "%d datasets, n_critic %d: G steps %d per dataset %d %d %d (want 4 each)", nd, nc, total,
                  per_ds[0], per_ds[1], per_ds[2]);
        }
    CHECK(sg_train_g_step(4, 1, 5) && !sg_train_g_step(3, 1, 5), "one dataset: (i + 1) mod n_critic");
    CHECK(sg_train_g_step(8, 2, 5) && sg_train_g_step(9, 2, 5) && !sg_train_g_step(4, 2, 5),
          "two datasets, n_critic 5: G after iterations 8 and 9 (round 4)");
}

static void test_lr(void)
{
    CHECK(sg_train_lr(1e-4, 0, 10, 4, 1) == 1e-4f, "lr before decay");
    CHECK(sg_train_lr(1e-4, 6, 10, 4, 1) == 1e-4f, "lr at the start of the decay");
    CHECK(sg_train_lr(1e-4, 7, 10, 4, 1) == (float)(1e-4 * 3 / 4), "lr 7");
    CHECK(sg_train_lr(1e-4, 9, 10, 4, 1) == (float)(1e-4 / 4), "lr last");
    CHECK(sg_train_lr(1e-4, 9, 10, 0, 1) == 1e-4f, "no decay");
    CHECK(sg_train_lr(1e-4, 0, 10, 100, 1) == 1e-4f && sg_train_lr(1e-4, 5, 10, 100, 1) == (float)(1e-4 * 5 / 10),
          "decay longer than the run spans the run");
    CHECK(sg_train_lr(2e-4, 150000, 200000, 100000, 1) == (float)(2e-4 * 0.5), "reference schedule midpoint");
    /* two datasets: a round's two batches share the rate of its first (the
     * reference's train_multi decays after each round); rounds of 3: the same */
    CHECK(sg_train_lr(1e-4, 7, 10, 4, 2) == (float)(1e-4 * 4 / 4) && sg_train_lr(1e-4, 8, 10, 4, 2) == (float)(1e-4 * 2 / 4) &&
          sg_train_lr(1e-4, 9, 10, 4, 2) == (float)(1e-4 * 2 / 4), "two datasets: rounds 3 (6, 7) and 4 (8, 9)");
    CHECK(sg_train_lr(1e-4, 6, 9, 6, 3) == (float)(1e-4 * 3 / 6) && sg_train_lr(1e-4, 8, 9, 6, 3) == (float)(1e-4 * 3 / 6) &&
          sg_train_lr(1e-4, 5, 9, 6, 3) == (float)(1e-4 * 6 / 6), "three datasets: the last round at lr * 3 / D");
    CHECK(sg_train_lr(2e-4, 300001, 400000, 200000, 2) == (float)(2e-4 * 0.5), "README's two-dataset schedule midpoint");
    /* a resume's change of rate: the reference run decayed to lr/D, resumed with --iters 300000 */
    sg_train_options run, now;
    sg_train_options_default(&run);
    float from[2], to[2];
    now = run;
    now.iters = 300000;
    CHECK(sg_train_lr_jump(&run, &now, 200000, 1, from, to) == 1 && from[0] == (float)(1e-4 / 100000) &&
          from[1] == from[0] && to[0] == 1e-4f && to[1] == to[0],
          "train longer: the rate jumps back up (%g %g -> %g %g)", from[0], from[1], to[0], to[1]);
    CHECK(sg_train_lr_jump(&run, &run, 200000, 1, from, to) == 0 && to[0] == 0, "nothing left to train: no jump");
    CHECK(sg_train_lr_jump(&run, &now, 120000, 1, from, to) == 0, "within a factor 2 (0.8 -> 0.9 of lr)");
    CHECK(sg_train_lr_jump(&run, &now, 50000, 1, from, to) == 0, "before the decay: the same rate");
    CHECK(sg_train_lr_jump(&run, &now, 0, 1, from, to) == 0, "nothing trained yet: no jump");
    now = run;
    now.iters = 160000;   /* shorter: down by 5 at 150000 */
    CHECK(sg_train_lr_jump(&run, &now, 150000, 1, from, to) == 1, "a shorter run drops the rate: %g -> %g", from[0], to[0]);
    now = run;
    now.d_lr = 3e-4;      /* D's alone, up by 3 */
    CHECK(sg_train_lr_jump(&run, &now, 10, 1, from, to) == 1 && to[0] == from[0], "D's rate alone");
    now.d_lr = 1.9e-4;
    CHECK(sg_train_lr_jump(&run, &now, 10, 1, from, to) == 0, "D's rate up by 1.9: no jump");
    now = run;
    now.g_lr = 0;         /* 0 against a rate */
    CHECK(sg_train_lr_jump(&run, &now, 10, 1, from, to) == 1, "a rate of 0 against one that is not");
    /* two datasets, --iters 7 (the last round partial: iteration 6 at lr/4, the
     * round before at 3lr/4): a resume at 6 with the same options is no change */
    sg_train_options odd = run;
    odd.iters = 7;
    odd.decay_iters = 4;
    CHECK(sg_train_lr_jump(&odd, &odd, 6, 2, from, to) == 0 && from[0] == (float)(1e-4 * 3 / 4) &&
          to[0] == (float)(1e-4 / 4), "the schedule's own step into a partial last round (%g -> %g)", from[0], to[0]);
    run.g_lr = run.d_lr = now.d_lr = 0;
    CHECK(sg_train_lr_jump(&run, &now, 10, 1, from, to) == 0, "0 and 0");
    int sizes[7] = {4, 8, 16, 32, 64, 128, 256}, want[7] = {1, 2, 3, 4, 5, 6, 6};
    for (int k = 0; k < 7; k++)
        CHECK(sg_train_default_d_repeat(sizes[k]) == want[k], "d_repeat(%d) = %d, want %d", sizes[k],
              sg_train_default_d_repeat(sizes[k]), want[k]);
}

/* Whether p[0..n) is a permutation of 0..n-1 */
static int is_permutation(const uint32_t *p, uint32_t n)
{
    unsigned char *seen = calloc(n, 1);
    int ok = seen != NULL;
    for (uint32_t j = 0; ok && j < n; j++) ok = p[j] < n && !seen[p[j]]++;
    free(seen);
    return ok;
}

/* The data order: a permutation of the shard per dataset and epoch, a new one
 * every epoch (a shuffle that left the epoch out would repeat epoch 0's
 * batches for ever), different between datasets, and pinned for one seed (so
 * that a change of the stream or the counter shows as a change of order). */
static void test_epoch_order(void)
{
    enum { N = 1000 };
    uint32_t *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b), *c = malloc(N * sizeof *c);
    sg_train_epoch_order(0, 0, 0, N, a);
    sg_train_epoch_order(0, 0, 1, N, b);
    sg_train_epoch_order(0, 1, 0, N, c);
    CHECK(is_permutation(a, N) && is_permutation(b, N) && is_permutation(c, N),
          "epoch orders must be permutations of 0..%d", N - 1);
    int same01 = 0, same_ds = 0;
    for (int j = 0; j < N; j++) { same01 += a[j] == b[j]; same_ds += a[j] == c[j]; }
    /* two independent permutations agree at about 1 place */
    CHECK(same01 < 10, "epochs 0 and 1 of dataset 0 agree at %d of %d places", same01, N);
    CHECK(same_ds < 10, "datasets 0 and 1 in epoch 0 agree at %d of %d places", same_ds, N);
    static const uint32_t want0[8] = { 114, 277, 228, 829, 812, 656, 680, 576 }, want1[8] = { 411, 16, 922, 336, 502, 719, 474, 534 };
    CHECK(!memcmp(a, want0, sizeof want0), "seed 0, dataset 0, epoch 0 starts %u %u %u %u %u %u %u %u",
          a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
    CHECK(!memcmp(b, want1, sizeof want1), "seed 0, dataset 0, epoch 1 starts %u %u %u %u %u %u %u %u",
          b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
    sg_train_epoch_order(1, 0, 0, N, c);
    int same_seed = 0;
    for (int j = 0; j < N; j++) same_seed += a[j] == c[j];
    CHECK(same_seed < 10, "seeds 0 and 1 agree at %d of %d places", same_seed, N);
    /* the whole orders pinned (FNV-1a of the entries' little-endian bytes),
     * not just their first 8 entries: the last swaps are at the end */
    uint64_t h[2] = {1469598103934665603ull, 1469598103934665603ull};
    for (int j = 0; j < N; j++)
        for (int k = 0; k < 4; k++) {
            h[0] = (h[0] ^ ((a[j] >> (8 * k)) & 0xff)) * 1099511628211ull;
            h[1] = (h[1] ^ ((b[j] >> (8 * k)) & 0xff)) * 1099511628211ull;
        }
    CHECK(h[0] == 0xd7a6ffdd29720717ull && h[1] == 0x18d2b65354ccb9ebull,
          "seed 0, dataset 0, epochs 0 and 1: FNV-1a %016llx %016llx", (unsigned long long)h[0],
          (unsigned long long)h[1]);
    /* a shard of two records: the last swap (p[0], p[1]) is drawn too, half
     * the epochs over 64 (36 for seed 0: fixed, so never flaky) */
    int swapped = 0;
    for (int e = 0; e < 64; e++) {
        uint32_t two[2];
        sg_train_epoch_order(0, 0, e, 2, two);
        swapped += two[0] == 1 && two[1] == 0;
    }
    CHECK(swapped > 16 && swapped < 48, "a shard of two records: swapped in %d of 64 epochs", swapped);
    uint32_t one = 7;
    sg_train_epoch_order(0, 0, 3, 1, &one);
    CHECK(one == 0, "a shard of one record: order %u", one);
    free(a); free(b); free(c);
}

/* The horizontal flip: half the images over 10^5 draws (within 0.01, about
 * 6 standard deviations of 0.0016: a fixed seed, so never flaky), and the
 * first 16 draws of seed 0 pinned. */
static void test_flip_draw(void)
{
    int flipped = 0, n = 0;
    for (int64_t i = 0; i < 1000; i++)
        for (int k = 0; k < 100; k++, n++) flipped += sg_train_flip(0, i, k) != 0;
    double rate = (double)flipped / n;
    CHECK(rate > 0.49 && rate < 0.51, "flip rate %.4f over %d draws, want 0.5 +- 0.01", rate, n);
    static const int want[16] = { 0, 1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0 };
    int got[16], same = 1;
    for (int j = 0; j < 16; j++) { got[j] = sg_train_flip(0, j / 4, j % 4); same &= got[j] == want[j]; }
    CHECK(same, "flips of seed 0, iterations 0-3, images 0-3: %d%d%d%d %d%d%d%d %d%d%d%d %d%d%d%d", got[0], got[1],
          got[2], got[3], got[4], got[5], got[6], got[7], got[8], got[9], got[10], got[11], got[12], got[13], got[14],
          got[15]);
}

/* The sample grid's records are all different, also when they are all of a
 * small shard's (where random draws repeat: 4 draws from 4 records, most
 * seeds), and in range. */
static void test_sample_rows(void)
{
    static const struct { uint64_t count; int n; } cases[] = { { 4, 4 }, { 5, 4 }, { 8, 8 }, { 64, 64 }, { 1000, 8 } };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (uint64_t seed = 0; seed < 20; seed++) {
            uint64_t rows[64];
            int n = cases[c].n, ok = 1;
            ok = sg_train_sample_rows(seed, cases[c].count, n, rows) == n;
            for (int k = 0; k < n && ok; k++) {
                ok = rows[k] < cases[c].count;
                for (int j = 0; j < k && ok; j++) ok = rows[j] != rows[k];
            }
            CHECK(ok, "seed %llu: %d sample rows of %llu records repeat or are out of range",
                  (unsigned long long)seed, n, (unsigned long long)cases[c].count);
        }
    /* more rows asked than records, none, or no records: as many as there are */
    uint64_t rows[64];
    CHECK(sg_train_sample_rows(3, 5, 8, rows) == 5 && sg_train_sample_rows(3, 5, 0, rows) == 0 &&
          sg_train_sample_rows(3, 5, -2, rows) == 0 && sg_train_sample_rows(3, 0, 4, rows) == 0,
          "sample rows beyond the records: %d %d %d %d", sg_train_sample_rows(3, 5, 8, rows),
          sg_train_sample_rows(3, 5, 0, rows), sg_train_sample_rows(3, 5, -2, rows), sg_train_sample_rows(3, 0, 4, rows));
}

/* The shown rate counts saves and samples: 99 fast iterations and a slow one
 * (a checkpoint) give the mean over all, not the steps' rate. */
static void test_rate(void)
{
    sg_train_rate r = {0, 0};
    CHECK(sg_train_rate_add(&r, 0, 0) == 0, "no time yet: 0");
    double ips = 0;
    for (int k = 0; k < 100; k++) ips = sg_train_rate_add(&r, k == 50 ? 1.0 : 0.01, 1);
    double want = 100 / 1.99;
    CHECK(fabs(ips - want) < 0.01 * want, "rate with a 1 s save among 99 0.01 s steps: %g, want about %g", ips, want);
    /* an old slow stretch fades: after much longer than the window, only the recent rate counts */
    sg_train_rate s = {0, 0};
    sg_train_rate_add(&s, 100, 1);
    for (int k = 0; k < 10000; k++) ips = sg_train_rate_add(&s, 1, 10);
    CHECK(fabs(ips - 10) < 0.01, "after 10000 s at 10 it/s: %g", ips);
}

static void test_loop(sg_backend *be)
{
    char a[600], b[600], run1[600], run2[600];
    snprintf(a, sizeof a, "%s/a.lmdb", dir);
    snprintf(b, sizeof b, "%s/b.lmdb", dir);
    snprintf(run1, sizeof run1, "%s/run1", dir);
    snprintf(run2, sizeof run2, "%s/run2", dir);
    make_shard(a, 7, 8, 3, 0, 1);
    make_shard(b, 5, 8, 2, 1, 2);
    const char *shards[2] = {a, b};
    sg_train_options o = tiny_options();
    sg_err err = {{0}};
    sg_trainer *t1 = NULL, *t2 = NULL;
    CHECK(sg_trainer_open(&t1, run1, &o, shards, 2, be, SG_TRAIN_NEW, &err) == 0, "open: %s", err.msg);
    CHECK(sg_trainer_open(&t2, run2, &o, shards, 2, be, SG_TRAIN_NEW, &err) == 0, "open: %s", err.msg);
    if (!t1 || !t2) return;
    CHECK(sg_trainer_model_config(t1)->d_repeat == 2, "8 px: d_repeat 2");

    /* Same seed, same steps: the same losses, bit for bit. */
    for (int k = 0; k < 5; k++) {
        sg_train_status s1, s2;
        CHECK(sg_trainer_step(t1, &s1, &err) == 0, "step: %s", err.msg);
        CHECK(sg_trainer_step(t2, &s2, &err) == 0, "step: %s", err.msg);
        CHECK(!memcmp(&s1.losses, &s2.losses, sizeof s1.losses), "losses differ at step %d", k);
        /* two datasets: rounds of two iterations, G in every 5th round: none in
         * rounds 0-2 (test_g_schedule checks the rounds that have it; the
         * bats tests run consecutive G steps through the trainer) */
        CHECK(s1.dataset == k % 2 && s1.g_stepped == ((k / 2 + 1) % 5 == 0), "dataset/g_stepped at %d", k);
    }
    CHECK(sg_trainer_save(t1, &err) == 0, "save: %s", err.msg);
    CHECK(sg_trainer_last_checkpoint(t1) == 5, "last checkpoint");
    sg_trainer_free(t1);

    /* config.json round trip, doubles exactly. */
    sg_train_options r;
    char **paths;
    int n;
    CHECK(sg_run_config_read(run1, &r, &paths, &n, &err) == 0, "config: %s", err.msg);
    CHECK(n == 2 && strstr(paths[1], "b.lmdb"), "shard paths");
    sg_run_free_paths(paths, n);
    CHECK(r.g_lr == o.g_lr && r.d_lr == o.d_lr && r.lambda_gp == o.lambda_gp && r.seed == o.seed &&
          r.batch == 3 && r.iters == 8 && r.d_repeat == 2 && r.threads == 1 && r.flip == 1,
          "config round trip");

    /* A new run over an existing one is refused; resume continues at 5 and matches t2. */
    CHECK(sg_trainer_open(&t1, run1, &o, shards, 2, be, SG_TRAIN_NEW, &err) == -1 && strstr(err.msg, "already holds a run"),
          "existing run: %s", err.msg);
    CHECK(sg_trainer_open(&t1, run1, &o, shards, 2, be, SG_TRAIN_RESUME, &err) == 0, "resume: %s", err.msg);
    if (!t1) return;
    CHECK(sg_trainer_iteration(t1) == 5, "resumed at %lld", (long long)sg_trainer_iteration(t1));
    sg_train_status s1, s2;
    CHECK(sg_trainer_step(t1, &s1, &err) == 0 && sg_trainer_step(t2, &s2, &err) == 0, "step: %s", err.msg);
    /* D terms only: G's are those of the last G step, which t1 has not run in this process. */
    CHECK(s1.losses.d_loss_real == s2.losses.d_loss_real && s1.losses.d_loss_fake == s2.losses.d_loss_fake &&
          s1.losses.d_loss_cls == s2.losses.d_loss_cls && s1.losses.d_loss_gp == s2.losses.d_loss_gp,
          "resumed losses differ: %.9g %.9g", s1.losses.d_loss_fake, s2.losses.d_loss_fake);

    /* The stop flag: one iteration, a checkpoint, status 1. */
    sg_train_stop stop = {.stop = 1};
    CHECK(sg_trainer_run(t1, &stop, NULL, NULL, &err) == 1, "stopped run: %s", err.msg);
    CHECK(sg_trainer_iteration(t1) == 7 && sg_trainer_last_checkpoint(t1) == 7, "stopped at 7");
    int64_t latest;
    CHECK(sg_ckpt_latest(run1, &latest, &err) == 0 && latest == 7, "latest 7");
    /* To the end, the stop flag still set: the last iteration is saved and
     * sampled (8 % 4 == 0) and the run is complete, status 0 (1 would have the
     * caller offer a resume with nothing to train). */
    int rc_last = sg_trainer_run(t1, &stop, NULL, NULL, &err);
    CHECK(rc_last == 0, "stop in the last iteration: status %d (%s)", rc_last, rc_last < 0 ? err.msg : "");
    CHECK(sg_trainer_iteration(t1) == 8, "ended at %lld", (long long)sg_trainer_iteration(t1));
    CHECK(sg_ckpt_latest(run1, &latest, &err) == 0 && latest == 8, "latest 8");
    char png[700];
    snprintf(png, sizeof png, "%s/samples/000008.png", run1);
    CHECK(access(png, F_OK) == 0, "sample written");
    sg_trainer_free(t1);
    sg_trainer_free(t2);

    /* Shards of different sizes, too few images for the batch. */
    char c16[600];
    snprintf(c16, sizeof c16, "%s/c16.lmdb", dir);
    make_shard(c16, 4, 16, 2, 0, 3);
    const char *mixed[2] = {a, c16};
    char run3[600];
    snprintf(run3, sizeof run3, "%s/run3", dir);
    CHECK(sg_trainer_open(&t1, run3, &o, mixed, 2, be, SG_TRAIN_NEW, &err) == -1 && strstr(err.msg, "same image size"),
          "mixed sizes: %s", err.msg);
    o.batch = 6;
    CHECK(sg_trainer_open(&t1, run3, &o, shards, 2, be, SG_TRAIN_NEW, &err) == -1 && strstr(err.msg, "fewer than the batch size 6"),
          "small shard: %s", err.msg);
    CHECK(access(run3, F_OK) != 0, "failed opens created the run directory");

    /* Each iteration's batch is read once, also when the next iteration's is
     * queued ahead (SG_OVERLAP_G=1): a G step after a queued batch asked the
     * loader for the batch already asked for, one read more per G step. */
    o.batch = 3;
    for (int overlap = 0; overlap < 2; overlap++) {
        snprintf(run3, sizeof run3, "%s/loads%d", dir, overlap);
        setenv("SG_OVERLAP_G", overlap ? "1" : "0", 1);
        CHECK(sg_trainer_open(&t1, run3, &o, shards, 2, be, SG_TRAIN_NEW, &err) == 0, "open: %s", err.msg);
        unsetenv("SG_OVERLAP_G");
        if (!t1) continue;
        CHECK(sg_trainer_run(t1, NULL, NULL, NULL, &err) == 0, "run: %s", err.msg);
        CHECK(sg_trainer_batches_loaded(t1) == (uint64_t)o.iters, "SG_OVERLAP_G=%d: %llu batches read for %lld iterations",
              overlap, (unsigned long long)sg_trainer_batches_loaded(t1), (long long)o.iters);
        sg_trainer_free(t1);
    }
}

/* A resume from another shard while the one config.json records is still
 * there: a copy of it (the same metadata: cp -r to a faster disk, the
 * original kept) goes on; a shard whose metadata says it holds other data
 * (another source or preprocessing, also of the same count and labels; one
 * that cannot be compared with the recorded one) is refused, naming what
 * differs, and the run is left as it was. */
static void test_copied_shard(sg_backend *be)
{
    char a[600], b[600], run[600], other[600], cfg[700];
    snprintf(a, sizeof a, "%s/cp_a.lmdb", dir);
    snprintf(b, sizeof b, "%s/cp_b.lmdb", dir);
    snprintf(run, sizeof run, "%s/cp_run", dir);
    snprintf(cfg, sizeof cfg, "%s/config.json", run);
    make_shard_from(a, 7, 8, 3, 0, 1, "attr_train.txt", 178);
    make_shard(b, 5, 8, 2, 1, 2);
    const char *shards[2] = {a, b};
    sg_train_options o = tiny_options();
    sg_err err = {{0}};
    sg_trainer *t = NULL;
    CHECK(sg_trainer_open(&t, run, &o, shards, 2, be, SG_TRAIN_NEW, &err) == 0, "open: %s", err.msg);
    if (!t) return;
    sg_train_status st;
    CHECK(sg_trainer_step(t, &st, &err) == 0 && sg_trainer_save(t, &err) == 0, "step/save: %s", err.msg);
    sg_trainer_free(t);
    uint8_t *before = NULL;
    size_t before_len = 0;
    CHECK(sg_read_file(cfg, 1 << 20, &before, &before_len, &err) == 0, "config: %s", err.msg);

    static const struct { const char *name, *source; uint32_t crop; int n; const char *why; } refused[] = {
        {"src", "attr_test.txt", 178, 7, "its source differs"},
        {"crop", "attr_train.txt", 0, 7, "its preprocessing differs"},
        {"count", "attr_train.txt", 178, 6, "its record count differs"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        snprintf(other, sizeof other, "%s/cp_%s.lmdb", dir, refused[i].name);
        make_shard_from(other, refused[i].n, 8, 3, 0, 1, refused[i].source, refused[i].crop);
        const char *given[2] = {other, b};
        CHECK(sg_trainer_open(&t, run, &o, given, 2, be, SG_TRAIN_RESUME, &err) == -1 &&
              strstr(err.msg, "is still there (and not a copy of it: ") && strstr(err.msg, refused[i].why) &&
              strstr(err.msg, "move that one away first"), "%s: %s", refused[i].name, err.msg);
        if (t) sg_trainer_free(t), t = NULL;
    }
    /* The recorded shard cannot be read: no telling a copy from other data. */
    char mdb[700], saved[700];
    snprintf(mdb, sizeof mdb, "%s/data.mdb", a);
    snprintf(saved, sizeof saved, "%s/cp_saved.mdb", dir);
    snprintf(other, sizeof other, "%s/cp_copy.lmdb", dir);
    make_shard_from(other, 7, 8, 3, 0, 1, "attr_train.txt", 178);
    CHECK(rename(mdb, saved) == 0, "rename");
    FILE *f = fopen(mdb, "w");
    if (f) fputs("not lmdb", f), fclose(f);
    const char *copy[2] = {other, b};
    CHECK(sg_trainer_open(&t, run, &o, copy, 2, be, SG_TRAIN_RESUME, &err) == -1 &&
          strstr(err.msg, "(and not a copy of it: it could not be compared: "), "unreadable: %s", err.msg);
    if (t) sg_trainer_free(t), t = NULL;
    CHECK(rename(saved, mdb) == 0, "rename back");
    uint8_t *after = NULL;
    size_t after_len = 0;
    CHECK(sg_read_file(cfg, 1 << 20, &after, &after_len, &err) == 0 && after_len == before_len &&
          !memcmp(before, after, before_len), "a refused resume changed config.json");
    free(after);
    free(before);

    /* A copy: resumes, config.json records it, the dataset keeps its name. */
    CHECK(sg_trainer_open(&t, run, &o, copy, 2, be, SG_TRAIN_RESUME, &err) == 0, "copy: %s", err.msg);
    if (!t) return;
    CHECK(sg_trainer_iteration(t) == 1, "copy resumed at %lld", (long long)sg_trainer_iteration(t));
    CHECK(sg_trainer_step(t, &st, &err) == 0 && sg_trainer_save(t, &err) == 0, "step/save: %s", err.msg);
    sg_trainer_free(t);
    CHECK(sg_read_file(cfg, 1 << 20, &after, &after_len, &err) == 0 &&
          strstr((char *)after, "cp_copy.lmdb\", \"name\": \"cp_a\""),
          "config.json after the copy's resume: %s", after ? (char *)after : err.msg);
    free(after);
}

typedef struct {
    int n;
    sg_train_status st[16];
} status_log;

static void record_status(void *ctx, const sg_train_status *st)
{
    status_log *l = ctx;
    if (l->n < 16) l->st[l->n++] = *st;
}

/* sg_trainer_run reads the losses (a sync) only at logged iterations and
 * checkpoints: the callback sees the last ones read, equal bit for bit to those
 * of the same iterations run one sg_trainer_step (a read each) at a time. */
static void test_loss_reads(sg_backend *be)
{
    char c[600], run4[600], run5[600], hist[700];
    snprintf(c, sizeof c, "%s/c.lmdb", dir);
    snprintf(run4, sizeof run4, "%s/run4", dir);
    snprintf(run5, sizeof run5, "%s/run5", dir);
    make_shard(c, 9, 8, 3, 0, 4);
    const char *shards[1] = {c};
    sg_train_options o = tiny_options();
    o.iters = 7; o.log_every = 3; o.sample_every = 0; o.save_every = 5; o.n_critic = 2;
    sg_err err = {{0}};
    sg_trainer *t = NULL, *ref = NULL;
    CHECK(sg_trainer_open(&t, run4, &o, shards, 1, be, SG_TRAIN_NEW, &err) == 0, "open: %s", err.msg);
    CHECK(sg_trainer_open(&ref, run5, &o, shards, 1, be, SG_TRAIN_NEW, &err) == 0, "open: %s", err.msg);
    if (!t || !ref) { sg_trainer_free(t); sg_trainer_free(ref); return; }
    sg_losses want[8];
    for (int k = 1; k <= 7; k++) {
        sg_train_status s;
        CHECK(sg_trainer_step(ref, &s, &err) == 0, "step: %s", err.msg);
        CHECK(s.losses_at == k, "sg_trainer_step reads every iteration: %lld at %d", (long long)s.losses_at, k);
        want[k] = s.losses;
    }
    status_log l = {0};
    CHECK(sg_trainer_run(t, NULL, record_status, &l, &err) == 0, "run: %s", err.msg);
    CHECK(l.n == 7, "callbacks: %d", l.n);
    /* Read at 3 and 6 (logged), 5 (saved), 7 (the last). */
    const int64_t read_at[8] = {0, 0, 0, 3, 3, 5, 6, 7};
    for (int k = 0; k < l.n; k++) {
        const sg_train_status *s = &l.st[k];
        int64_t at = read_at[s->iteration];
        CHECK(s->iteration == k + 1 && s->losses_at == at, "iteration %lld: losses of %lld, want %lld",
              (long long)s->iteration, (long long)s->losses_at, (long long)at);
        if (at > 0)
            CHECK(!memcmp(&s->losses, &want[at], sizeof want[at]), "iteration %lld: losses differ from a step's",
                  (long long)s->iteration);
    }
    /* history.jsonl: the logged iterations only, as before. */
    snprintf(hist, sizeof hist, "%s/history.jsonl", run4);
    FILE *f = fopen(hist, "r");
    char line[1024];
    int lines = 0;
    long long its[4] = {0};
    while (f && fgets(line, sizeof line, f)) {
        if (lines < 4) sscanf(line, "{\"iteration\":%lld", &its[lines]);
        lines++;
    }
    if (f) fclose(f);
    CHECK(lines == 2 && its[0] == 3 && its[1] == 6, "history: %d lines (%lld, %lld)", lines, its[0], its[1]);
    sg_trainer_free(t);
    sg_trainer_free(ref);
}

/* A new run on one shard of 9 images (8x8, 3 labels, drawn from seed):
 * DIR/STEM.lmdb, DIR/run_STEM, tiny_options() with iters, no samples, a
 * checkpoint every 2 iterations. */
typedef struct {
    char shard[600], run[600];
    const char *shards[1];
    sg_train_options o;
} one_shard_run;

/* Makes the shard and opens the run (SG_TRAIN_NEW), checking that it opened;
 * NULL where it did not. */
static sg_trainer *one_shard_run_open(one_shard_run *r, const char *stem, uint64_t seed, int64_t iters,
                                      sg_backend *be, sg_err *err)
{
    snprintf(r->shard, sizeof r->shard, "%s/%s.lmdb", dir, stem);
    snprintf(r->run, sizeof r->run, "%s/run_%s", dir, stem);
    make_shard(r->shard, 9, 8, 3, 0, seed);
    r->shards[0] = r->shard;
    r->o = tiny_options();
    r->o.iters = iters; r->o.sample_every = 0; r->o.save_every = 2;
    sg_trainer *t = NULL;
    CHECK(sg_trainer_open(&t, r->run, &r->o, r->shards, 1, be, SG_TRAIN_NEW, err) == 0, "open: %s", err->msg);
    return t;
}

/* A stop and its abandon, as a tool's handler sets them, from the
 * callback of iteration at (0: never). */
typedef struct {
    sg_train_stop *stop;
    int64_t at;
    int saving_seen;              /* bit k - 7 for iteration k >= 7 whose callback saw saving 1 */
} stop_at;

static void stop_and_abandon_at(void *ctx, const sg_train_status *st)
{
    stop_at *s = ctx;
    if (st->iteration == s->at) s->stop->stop = s->stop->abandon = SIGINT;
    if (st->iteration >= 7 && s->stop->saving) s->saving_seen |= 1 << (st->iteration - 7);
}

/* sg_train_stop's abandon: set before the stop's checkpoint is written, it
 * gives that checkpoint up (ECANCELED, no file of it, latest on the one
 * before); set once it is written (the callback after it), it ends the run
 * there instead of training on to the next; saving is left 1 either way. */
static void test_abandon(sg_backend *be)
{
    char path[700];
    one_shard_run r;
    sg_err err = {{0}};
    sg_trainer *t = one_shard_run_open(&r, "ab", 6, 8, be, &err);
    if (!t) return;
    /* asked at 3: iteration 4 ends in the stop's checkpoint, given up at once */
    sg_train_stop stop = {0};
    stop_at at = {&stop, 3, 0};
    CHECK(sg_trainer_run(t, &stop, stop_and_abandon_at, &at, &err) == -1 && err.sys_errno == ECANCELED,
          "abandoned: %s (errno %d)", err.msg, err.sys_errno);
    CHECK(strstr(err.msg, "checkpoint 000004 abandoned") != NULL, "message: %s", err.msg);
    CHECK(sg_trainer_iteration(t) == 4 && sg_trainer_last_checkpoint(t) == 2, "at %lld, last checkpoint %lld",
          (long long)sg_trainer_iteration(t), (long long)sg_trainer_last_checkpoint(t));
    CHECK(stop.saving == 1, "saving left 1 on return");
    int64_t latest = -1;
    CHECK(sg_ckpt_latest(r.run, &latest, &err) == 0 && latest == 2, "latest %lld", (long long)latest);
    for (int k = 0; k < 3; k++) {
        sg_ckpt_path(path, sizeof path, r.run, 4, (const char *[]){"G", "D", "state"}[k]);
        CHECK(access(path, F_OK) != 0, "%s left", path);
    }
    sg_trainer_free(t);
    /* asked in the callback of checkpoint 6 (saving): the run ends there, not at 7 */
    CHECK(sg_trainer_open(&t, r.run, &r.o, r.shards, 1, be, SG_TRAIN_RESUME, &err) == 0, "resume: %s", err.msg);
    if (!t) return;
    stop = (sg_train_stop){0};
    at.at = 6;
    CHECK(sg_trainer_run(t, &stop, stop_and_abandon_at, &at, &err) == 1, "stopped: %s", err.msg);
    CHECK(sg_trainer_iteration(t) == 6 && sg_trainer_last_checkpoint(t) == 6, "at %lld, last checkpoint %lld",
          (long long)sg_trainer_iteration(t), (long long)sg_trainer_last_checkpoint(t));
    CHECK(stop.saving == 1, "saving left 1 on return");
    /* the callbacks see it 1 after a checkpoint only (7: none, 8: the last) */
    sg_trainer_free(t);
    CHECK(sg_trainer_open(&t, r.run, &r.o, r.shards, 1, be, SG_TRAIN_RESUME, &err) == 0, "resume: %s", err.msg);
    if (!t) return;
    stop = (sg_train_stop){0};
    at.at = 0;
    at.saving_seen = 0;
    CHECK(sg_trainer_run(t, &stop, stop_and_abandon_at, &at, &err) == 0, "run: %s", err.msg);
    CHECK(sg_trainer_last_checkpoint(t) == 8 && at.saving_seen == 2, "saving seen in the callbacks: %d (want 8's "
          "only: 2)", at.saving_seen);
    sg_trainer_free(t);
}

/* RUN/NAME (up to 1 MiB) in *data, the caller frees, its path in path;
 * 0, or -1 when it cannot be read. */
static int read_run_file(const char *run, const char *name, char path[700], uint8_t **data, size_t *len)
{
    sg_err err;
    snprintf(path, 700, "%s/%s", run, name);
    return sg_read_file(path, 1 << 20, data, len, &err) ? -1 : 0;
}

/* The bytes of file name in run ("" when it cannot be read), for comparing
 * before and after; the caller frees. */
static char *run_file_text(const char *run, const char *name)
{
    char path[700];
    uint8_t *data;
    size_t len;
    return read_run_file(run, name, path, &data, &len) ? strdup("") : (char *)data;
}

static int file_there(const char *run, const char *name)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", run, name);
    return access(path, F_OK) == 0;
}

/* A checkpoint complete but for its directory's fsync, with no unsynced
 * handler installed (a program of its own on lib/): the run goes on from it
 * and says so in a note, where it stopped as if the save had failed. */
static void test_unsynced_save(sg_backend *be)
{
    char ckpt[700];
    one_shard_run r;
    sg_err err = {{0}};
    sg_trainer *t = one_shard_run_open(&r, "us", 7, 4, be, &err);
    if (!t) return;
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", r.run);
    CHECK(mkdir(ckpt, 0777) == 0, "mkdir %s", ckpt);
    fail_fsync_of = ckpt;
    fsyncs_failed = 0;
    int rc = sg_trainer_run(t, NULL, NULL, NULL, &err);
    fail_fsync_of = NULL;
    CHECK(rc == 0, "run with its checkpoints' directory unsynced: %d, %s", rc, err.msg);
    CHECK(fsyncs_failed >= 2, "%d directory fsyncs failed", fsyncs_failed);
    int noted = 0;
    for (int k = 0; sg_trainer_note(t, k); k++) noted += strstr(sg_trainer_note(t, k), "syncing its directory failed") != NULL;
    CHECK(noted == 2, "%d notes of an unsynced checkpoint, want 2 (checkpoints 2 and 4)", noted);
    CHECK(sg_trainer_last_checkpoint(t) == 4, "last checkpoint %lld, want 4", (long long)sg_trainer_last_checkpoint(t));
    sg_trainer_free(t);
    char *latest = run_file_text(r.run, "latest");
    CHECK(latest && !strncmp(latest, "000004", 6), "latest: %s", latest ? latest : "(none)");
    free(latest);
}

/* sg_trainer_prepare changes nothing in the run (a resume's history cut and
 * config.json, --force's removal wait for sg_trainer_begin); no training
 * before begin. */
static void test_prepare_begin(sg_backend *be)
{
    char hist[700];
    one_shard_run r;
    sg_err err = {{0}};
    sg_trainer *t = one_shard_run_open(&r, "pb", 7, 4, be, &err);
    if (!t) return;
    CHECK(sg_trainer_run(t, NULL, NULL, NULL, &err) == 0, "run: %s", err.msg);
    sg_trainer_free(t);
    /* a line logged past the last checkpoint, for the resume to cut */
    snprintf(hist, sizeof hist, "%s/history.jsonl", r.run);
    FILE *f = fopen(hist, "a");
    if (f) { fputs("{\"iteration\":5}\n", f); fclose(f); }
    char *history = run_file_text(r.run, "history.jsonl"), *config = run_file_text(r.run, "config.json");
    r.o.iters = 6;
    CHECK(sg_trainer_prepare(&t, r.run, &r.o, r.shards, 1, be, SG_TRAIN_RESUME, &err) == 0, "prepare: %s", err.msg);
    if (!t) { free(history); free(config); return; }
    char *h1 = run_file_text(r.run, "history.jsonl"), *c1 = run_file_text(r.run, "config.json");
    CHECK(strstr(h1, "\"iteration\":5") && !strcmp(h1, history) && !strcmp(c1, config),
          "prepared resume: history.jsonl or config.json changed");
    CHECK(sg_trainer_run(t, NULL, NULL, NULL, &err) == -1 && strstr(err.msg, "before sg_trainer_begin"),
          "run before begin: %s", err.msg);
    CHECK(sg_trainer_begin(t, &err) == 0, "begin: %s", err.msg);
    char *h2 = run_file_text(r.run, "history.jsonl"), *c2 = run_file_text(r.run, "config.json");
    CHECK(!strstr(h2, "\"iteration\":5") && strstr(c2, "\"iters\": 6"), "begun resume: history %s", h2);
    free(h1); free(c1); free(h2); free(c2); free(history); free(config);
    sg_trainer_free(t);
    /* --force: the previous run stays until begin */
    CHECK(sg_trainer_prepare(&t, r.run, &r.o, r.shards, 1, be, SG_TRAIN_REPLACE, &err) == 0, "prepare: %s", err.msg);
    if (!t) return;
    CHECK(file_there(r.run, "latest") && file_there(r.run, "ckpt/000004-G.safetensors"), "prepared --force removed files");
    CHECK(sg_trainer_begin(t, &err) == 0, "begin: %s", err.msg);
    CHECK(!file_there(r.run, "latest") && !file_there(r.run, "ckpt/000004-G.safetensors") &&
          file_there(r.run, "config.json") && file_there(r.run, "history.jsonl"), "begun --force: the old run left");
    sg_trainer_free(t);
}

/* sg_ckpt_load checks all three files before it loads any: a damaged D or
 * state file is reported with G (and D) as they were in the model. A G or D
 * without its own data_crc32 key is still checked against the CRC the state
 * file recorded for it. */
static void test_load_checks_first(sg_backend *be)
{
    char run[600], path[700], saved[700];
    snprintf(run, sizeof run, "%s/run_load", dir);
    sg_model_config cfg = {0};
    cfg.image_size = 8; cfg.n_datasets = 1; cfg.label_dim[0] = 3;
    cfg.g_conv_dim = 4; cfg.g_repeat = 1; cfg.d_conv_dim = 4; cfg.d_repeat = 2; cfg.batch = 2;
    cfg.lambda_cls = 1; cfg.lambda_rec = 10; cfg.lambda_gp = 10; cfg.beta1 = 0.5; cfg.beta2 = 0.999;
    char *labels[3] = {"Black_Hair", "attr1", "attr2"};
    sg_ckpt_info info = {0};
    info.model = cfg;
    snprintf(info.dataset_names[0], SG_CKPT_NAME_MAX, "a");
    info.n_labels = 3;
    info.label_names = labels;
    sg_model *src = NULL, *dst = NULL;
    sg_err err = {{0}};
    CHECK(sg_model_create(&src, &cfg, be, 1, &err) == 0, "create: %s", err.msg);
    CHECK(sg_model_create(&dst, &cfg, be, 2, &err) == 0, "create: %s", err.msg);
    if (!src || !dst) { sg_model_free(src); sg_model_free(dst); return; }
    CHECK(sg_ckpt_save(src, run, &info, 3, &err) == 0, "save: %s", err.msg);
    const sg_tensor_info *gl, *dl;
    sg_model_tensors(dst, SG_NET_G, &gl);
    sg_model_tensors(dst, SG_NET_D, &dl);
    size_t gn = gl[0].numel, dn = dl[0].numel;
    float *g0 = malloc(gn * 4), *d0 = malloc(dn * 4), *now = malloc((gn > dn ? gn : dn) * 4);
    CHECK(sg_model_get_tensor(dst, SG_NET_G, 0, g0, &err) == 0 && sg_model_get_tensor(dst, SG_NET_D, 0, d0, &err) == 0,
          "get: %s", err.msg);
    /* the data of D, the data of the state, and a G without its key whose data differs */
    const char *kinds[3] = {"D", "state", "G"};
    const char *want[3] = {"the data does not match its checksum", "the data does not match its checksum",
                           "-state.safetensors recorded for it"};
    for (int k = 0; k < 3; k++) {
        sg_ckpt_path(path, sizeof path, run, 3, kinds[k]);
        snprintf(saved, sizeof saved, "%s.saved", path);
        ckpt_edit_copy(path, saved);
        if (k == 2) ckpt_edit_rename_key(path, "data_crc32");
        ckpt_edit_flip_data(path, 0);
        int rc = sg_ckpt_load(dst, run, 3, NULL, &err);
        CHECK(rc == -1 && strstr(err.msg, want[k]) && strstr(err.msg, path), "%s damaged: %d %s", kinds[k], rc,
              rc ? err.msg : "loaded");
        CHECK(sg_model_get_tensor(dst, SG_NET_G, 0, now, &err) == 0 && !memcmp(now, g0, gn * 4),
              "%s damaged: G was changed by the failed load", kinds[k]);
        CHECK(sg_model_get_tensor(dst, SG_NET_D, 0, now, &err) == 0 && !memcmp(now, d0, dn * 4),
              "%s damaged: D was changed by the failed load", kinds[k]);
        ckpt_edit_copy(saved, path);
    }
    /* G without its key but whole: loads */
    sg_ckpt_path(path, sizeof path, run, 3, "G");
    ckpt_edit_rename_key(path, "data_crc32");
    CHECK(sg_ckpt_load(dst, run, 3, NULL, &err) == 0, "G without its key: %s", err.msg);
    free(g0); free(d0); free(now);
    sg_model_free(src);
    sg_model_free(dst);
}

/* config.json with every occurrence of from replaced by to (a text edit of
 * the record, as a user might make one); 1 when one was found. */
static int edit_config(const char *run, const char *from, const char *to)
{
    char path[700];
    uint8_t *data;
    size_t len;
    sg_err err;
    if (read_run_file(run, "config.json", path, &data, &len)) return 0;
    char *out = malloc(len * 2 + strlen(to) * 64 + 1), *o = out;
    const char *p = (const char *)data, *end = p + len;
    int found = 0;
    for (const char *q; (q = memmem(p, (size_t)(end - p), from, strlen(from))); p = q + strlen(from), found = 1) {
        memcpy(o, p, (size_t)(q - p)); o += q - p;
        memcpy(o, to, strlen(to)); o += strlen(to);
    }
    memcpy(o, p, (size_t)(end - p)); o += end - p;
    if (found) sg_write_file_atomic(path, out, (size_t)(o - out), &err);
    free(out);
    free(data);
    return found;
}

/* config.json's "sessions" array (text from its '[' to the matching line
 * "  ]") replaced by with, or the whole key removed (with NULL). */
static int replace_sessions(const char *run, const char *with)
{
    char path[700];
    uint8_t *data;
    size_t len;
    sg_err err;
    if (read_run_file(run, "config.json", path, &data, &len)) return 0;
    char *text = (char *)data, *b = strstr(text, with ? "[\n    {" : "\n  \"sessions\": ["), *e = b ? strstr(b, "\n  ]") : NULL;
    int ok = b && e;
    if (ok) {
        e += with ? 4 : 5;   /* past "\n  ]", or "\n  ]," (before "\n  \"datasets\"") */
        sg_buf n = SG_BUF_INIT;
        sg_buf_append(&n, text, (size_t)(b - text));
        if (with) sg_buf_puts(&n, with);
        sg_buf_append(&n, e, len - (size_t)(e - text));
        ok = sg_write_file_atomic(path, n.data, n.len, &err) == 0;
        sg_buf_free(&n);
    }
    free(data);
    return ok;
}

static int count_of(const char *run, const char *what)
{
    char path[700];
    uint8_t *data;
    size_t len;
    if (read_run_file(run, "config.json", path, &data, &len)) return -1;
    int n = 0;
    for (const char *p = (const char *)data; (p = memmem(p, len - (size_t)(p - (const char *)data), what, strlen(what)));
         p++)
        n++;
    free(data);
    return n;
}

/* config.json's "sessions": one entry per start that trains, with the
 * threads and numerics of the CPU backend; a resume reads the start that
 * trained up to its checkpoint, values it lacks or holds invalid as the
 * options now; a run from before sessions (none in config.json) gets one
 * from 0 with its "training", nothing else; a "sessions" that is no array
 * is an error naming it. */
static void test_sessions(sg_backend *be)
{
    char a[600], run[600];
    snprintf(a, sizeof a, "%s/ses_a.lmdb", dir);
    snprintf(run, sizeof run, "%s/ses_run", dir);
    make_shard(a, 7, 8, 3, 0, 1);
    const char *shards[1] = {a};
    sg_err err = {{0}};

    char numerics[192];
    sg_backend_cpu_numerics(numerics, sizeof numerics);

    sg_train_options o = tiny_options();
    o.iters = 4;
    o.sample_every = 0;
    sg_trainer *t = NULL;
    CHECK(sg_trainer_open(&t, run, &o, shards, 1, be, SG_TRAIN_NEW, &err) == 0, "open: %s", err.msg);
    if (!t) return;
    const sg_train_session *s = sg_trainer_session(t);
    CHECK(s->from == 0 && s->threads_used == 1 && !strcmp(s->numerics, numerics) &&
          !strcmp(s->created_by, sg_created_by) && !sg_trainer_resumed_session(t), "a new run's session");
    CHECK(sg_trainer_run(t, NULL, NULL, NULL, &err) == 0, "run: %s", err.msg);
    sg_trainer_free(t);
    CHECK(count_of(run, "{\"from\":") == 1 && count_of(run, "\"threads_used\":1,\"numerics\":") == 1, "one entry");

    /* resumed with another lambda: the first start's read back, a second entry */
    o.iters = 6;
    o.lambda_gp = 5;
    CHECK(sg_trainer_open(&t, run, &o, shards, 1, be, SG_TRAIN_RESUME, &err) == 0, "resume: %s", err.msg);
    if (!t) return;
    const sg_train_session *w = sg_trainer_resumed_session(t);
    CHECK(w && w->from == 0 && w->opt.lambda_gp == 7.5 && w->opt.iters == 4 && w->opt.g_lr == 3e-4 &&
          w->threads_used == 1 && !strcmp(w->numerics, numerics) && !strcmp(w->created_by, sg_created_by),
          "the resumed start");
    CHECK(sg_trainer_session(t)->from == 4 && sg_trainer_session(t)->opt.lambda_gp == 5, "this start");
    CHECK(sg_trainer_run(t, NULL, NULL, NULL, &err) == 0, "run: %s", err.msg);
    sg_trainer_free(t);
    CHECK(count_of(run, "{\"from\":") == 2 && count_of(run, "{\"from\":4,") == 1 &&
          count_of(run, "\"lambda_gp\":7.5,") == 1 && count_of(run, "\"lambda_gp\":5,") == 1, "two entries");

    /* nothing to train: no entry, config.json as it was */
    char cfg[700];
    snprintf(cfg, sizeof cfg, "%s/config.json", run);
    uint8_t *before, *after;
    size_t before_len, after_len;
    CHECK(sg_read_file(cfg, 1 << 20, &before, &before_len, &err) == 0, "read: %s", err.msg);
    CHECK(sg_trainer_open(&t, run, &o, shards, 1, be, SG_TRAIN_RESUME, &err) == 0, "resume: %s", err.msg);
    sg_trainer_free(t);
    CHECK(sg_read_file(cfg, 1 << 20, &after, &after_len, &err) == 0, "read: %s", err.msg);
    CHECK(before_len == after_len && !memcmp(before, after, before_len), "a resume with nothing to train changed config.json");
    free(before);
    free(after);

    /* the record edited: values that do not read are the options now's, not compared */
    CHECK(edit_config(run, "\"lambda_gp\":5,", "\"lambda_gp\":\"x\",") &&
          edit_config(run, "{\"from\":4,\"training\":{\"iters\":6,", "{\"from\":4,\"training\":{\"iters\":-1,") &&
          edit_config(run, "\"threads_used\":1,\"numerics\":\"OpenBLAS", "\"threads_used\":0.5,\"numerics\":\"\\u001bOpenBLAS"),
          "edits");
    o.iters = 8;
    o.lambda_gp = 3;
    CHECK(sg_trainer_open(&t, run, &o, shards, 1, be, SG_TRAIN_RESUME, &err) == 0, "resume: %s", err.msg);
    if (!t) return;
    w = sg_trainer_resumed_session(t);
    CHECK(w && w->from == 4 && w->opt.lambda_gp == 3 && w->opt.iters == 8 && w->opt.batch == 3 &&
          w->threads_used == 0 && !w->numerics[0], "an edited entry: lambda_gp %g, iters %lld, threads %d, numerics '%s'",
          w ? w->opt.lambda_gp : 0, w ? (long long)w->opt.iters : 0, w ? w->threads_used : -1, w ? w->numerics : "");
    sg_trainer_free(t);   /* not run: the entries stay as they were but for this start's */
    CHECK(count_of(run, "{\"from\":") == 3 && count_of(run, "\"lambda_gp\":\"x\"") == 1, "the edited entry kept as it was");

    /* a resume from an earlier checkpoint drops the starts from it on */
    char latest[700];
    snprintf(latest, sizeof latest, "%s/latest", run);
    CHECK(sg_write_file_atomic(latest, "000004\n", 7, &err) == 0, "latest: %s", err.msg);
    CHECK(sg_trainer_open(&t, run, &o, shards, 1, be, SG_TRAIN_RESUME, &err) == 0, "resume: %s", err.msg);
    if (!t) return;
    w = sg_trainer_resumed_session(t);
    CHECK(sg_trainer_iteration(t) == 4 && w && w->from == 0 && w->opt.lambda_gp == 7.5, "resumed from 4");
    sg_trainer_free(t);
    CHECK(count_of(run, "{\"from\":") == 2 && count_of(run, "{\"from\":4,") == 1 &&
          count_of(run, "\"lambda_gp\":\"x\"") == 0, "the starts from 4 on dropped");

    /* a run from before sessions: one entry from 0 with its "training" */
    CHECK(replace_sessions(run, NULL) && count_of(run, "sessions") == 0, "sessions removed");
    o.lambda_gp = 2;
    CHECK(sg_trainer_open(&t, run, &o, shards, 1, be, SG_TRAIN_RESUME, &err) == 0, "resume: %s", err.msg);
    if (!t) return;
    w = sg_trainer_resumed_session(t);
    CHECK(w && w->from == 0 && w->opt.lambda_gp == 3 && w->threads_used == 0 && !w->numerics[0] &&
          !w->created_by[0], "a run from before sessions");
    sg_trainer_free(t);
    CHECK(count_of(run, "{\"from\":") == 2 && count_of(run, "\"threads_used\"") == 1 &&
          count_of(run, "{\"from\":0,\"training\":{\"iters\":8,") == 1, "its entry from 0");

    /* "sessions" that is no array: an error naming it, nothing changed */
    CHECK(replace_sessions(run, "3"), "sessions replaced");
    CHECK(sg_trainer_open(&t, run, &o, shards, 1, be, SG_TRAIN_RESUME, &err) == -1 &&
          strstr(err.msg, "config.json: \"sessions\": expected an array, found number"), "sessions 3: %s", err.msg);
    CHECK(count_of(run, "\"sessions\": 3,") == 1, "config.json unchanged");
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_trainer.%ld", (long)getpid());
    mkdir(dir, 0755);
    test_g_schedule();
    test_lr();
    test_rate();
    test_epoch_order();
    test_flip_draw();
    test_sample_rows();
    sg_err err;
    sg_backend *be = sg_backend_cpu_create(1, &err);
    if (!be) { printf("cpu backend: %s\n", err.msg); return 1; }
    /* the batch buffers' rule (tests/unit/staging_check.h): each upload
     * from them marked by a fence (set_batch_drawn_async's), none changed
     * before a wait covered it */
    staging_check_install(be);
    test_loop(be);
    CHECK(staging.uploads > 0 && staging.fence_retired > 0 && staging.unfenced == 0 && staging.violations == 0,
          "loop: %lld uploads from the batch buffers, %lld retired by a fence_wait, %lld without a fence, "
          "%d refilled too early", staging.uploads, staging.fence_retired, staging.unfenced, staging.violations);
    staging_check_remove(be);
    test_loss_reads(be);
    test_abandon(be);
    test_prepare_begin(be);
    test_unsynced_save(be);
    test_load_checks_first(be);
    test_copied_shard(be);
    test_sessions(be);
    sg_backend_destroy(be);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (check_failed == 0 && system(cmd)) {}
    return check_done();
}
