/* Internal to lib/ and kernels/: tools get it only through lib/model.h and
 * lib/backend.h, never include it themselves, and tests/cli/make.bats checks
 * that none does.
 *
 * The random part of a training batch: the gradient-penalty weights alpha and
 * the target labels c_trg, drawn from (seed, iteration) with the counter-based
 * RNG (lib/rng.h). The functions are host/device, so the CPU backend and the
 * CUDA backend's kernel (ops->draw_batch) run the same code and draw the same
 * bits; the trainer sends only the images and their own labels.
 *
 * Targets (sg_train_options.target_random):
 *   0, the reference's c_trg = c_org[randperm(n)]: a Fisher-Yates shuffle of
 *      the batch's rows, j from n-1 down to 1 swapping with randint(j+1);
 *   1, random labels in the batch's dataset slot: one class of a one-hot
 *      dataset, or each multi-hot label a fair coin; the other slots zero and
 *      the mask (several datasets) on the batch's dataset. */
#ifndef SG_BATCH_DRAW_H
#define SG_BATCH_DRAW_H
#include <stdint.h>
#include "rng.h"

/* The largest batch ops->draw_batch takes (the CUDA kernel shuffles in
 * shared memory). */
#define SG_BATCH_DRAW_MAX 8192

typedef struct {
    uint64_t seed;
    int64_t iter;           /* the training iteration: the draws' counter */
    int n;                  /* images in the batch */
    int c_dim;              /* G's label vector, mask included */
    int label_off;          /* the batch's dataset slot: columns [label_off, +label_dim) */
    int label_dim;
    int one_hot;            /* the dataset's labels are one class */
    int mask_col;           /* the mask column set to 1, or -1 (one dataset) */
    int random_targets;     /* 0: permute the batch's labels; 1: random labels */
} sg_batch_draw;

/* alpha of image k, uniform in [0, 1). */
static inline SG_HD float sg_draw_alpha(const sg_batch_draw *d, int k)
{
    return sg_randu(d->seed, SG_STREAM_ALPHA, ((uint64_t)d->iter << 20) | (uint64_t)k);
}

/* perm (n): c_trg row k is c_org row perm[k] (random_targets 0). */
static inline SG_HD void sg_draw_target_perm(const sg_batch_draw *d, int *perm)
{
    for (int k = 0; k < d->n; k++) perm[k] = k;
    for (int j = d->n - 1; j > 0; j--) {
        int r = (int)sg_randint(d->seed, SG_STREAM_TARGET, ((uint64_t)d->iter << 20) | (uint64_t)j,
                                (uint32_t)(j + 1));
        int tmp = perm[j]; perm[j] = perm[r]; perm[r] = tmp;
    }
}

/* Row k of random targets (random_targets 1): c (c_dim) overwritten. */
static inline SG_HD void sg_draw_random_target(const sg_batch_draw *d, int k, float *c)
{
    for (int j = 0; j < d->c_dim; j++) c[j] = 0.0f;
    if (d->mask_col >= 0) c[d->mask_col] = 1.0f;
    uint64_t ctr = ((uint64_t)d->iter << 32) | ((uint64_t)k << 12);
    if (d->one_hot)
        c[d->label_off + sg_randint(d->seed, SG_STREAM_TARGET, ctr, (uint32_t)d->label_dim)] = 1.0f;
    else
        for (int j = 0; j < d->label_dim; j++)
            c[d->label_off + j] = (sg_rand64(d->seed, SG_STREAM_TARGET, ctr + (uint64_t)j) >> 63) ? 1.0f : 0.0f;
}

#endif
