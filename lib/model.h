/* The StarGAN generator and discriminator on a backend: parameters laid out as
 * the reference's state_dict, one training step of D and of G (the reference's
 * solver.py semantics, DESIGN.md "Numerical semantics"), and inference.
 *
 * This header is the contract between the engine (lib/model.c, the backends)
 * and the tools (sg-train, sg-sample). Every host array is float32, NCHW. */
#ifndef SG_MODEL_H
#define SG_MODEL_H
#include <stddef.h>
#include <stdint.h>
#include "batch_draw.h"
#include "error.h"

#define SG_MAX_DATASETS 8

typedef struct sg_backend sg_backend;   /* backend.h */

typedef struct {
    int image_size;                      /* H = W, a multiple of 2^d_repeat */
    int n_datasets;                      /* 1: no mask vector; >1: mask appended to G's labels */
    int label_dim[SG_MAX_DATASETS];      /* labels of each dataset */
    int one_hot[SG_MAX_DATASETS];        /* 1: softmax cross-entropy (RaFD-like), 0: BCE */
    int g_conv_dim, g_repeat;            /* 64, 6 */
    int d_conv_dim, d_repeat;            /* 64, 6 */
    int batch;                           /* capacity of the training buffers */
    float lambda_cls, lambda_rec, lambda_gp;   /* 1, 10, 10 */
    double beta1, beta2;                 /* Adam: 0.5, 0.999 (eps 1e-8); double as in PyTorch (ops->adam) */
} sg_model_config;

/* G's label input: sum(label_dim) + (n_datasets > 1 ? n_datasets : 0). */
int sg_model_c_dim(const sg_model_config *cfg);
/* D's classifier output: sum(label_dim). */
int sg_model_cls_dim(const sg_model_config *cfg);
/* Offset of dataset ds's labels in both vectors above. */
int sg_model_label_offset(const sg_model_config *cfg, int ds);
/* The image sides a model takes: multiples of sg_model_image_unit(d_repeat)
 * (2^d_repeat: D halves the image d_repeat times; at least 4: G halves it
 * twice), from that unit up to SG_MODEL_MAX_IMAGE. d_repeat 1..12. */
#define SG_MODEL_MAX_IMAGE 4096
/* ... and at least 8: G's residual blocks instance-normalize image/4 planes,
 * which would be 1x1 at 4 px (all zero; PyTorch refuses them). */
#define SG_MODEL_MIN_IMAGE 8
int sg_model_image_unit(int d_repeat);
/* The largest batch (at most SG_MODEL_MAX_BATCH, 65535: a CUDA grid
 * dimension's limit, which kernels/layout.cu's transpose and the NHWC bias
 * gradient put images in) whose every convolution tensor holds at
 * most 2^31 - 1 values (cuDNN's limit for one tensor descriptor): G's widest
 * map, max(g_conv_dim, 3 + c_dim) x S x S per image; in training also D's
 * first, max(3 x S x S, d_conv_dim x S/2 x S/2), on 3 rows per image (real,
 * fake, x_hat). generator_only: G alone (sg_model_create_generator). */
int sg_model_batch_max(const sg_model_config *cfg, int generator_only);
/* The ranges of the model's shape that sg_model_config_check allows; the
 * same bound sg-train's options and config.json (lib/trainer.c). */
#define SG_MODEL_MAX_CONV_DIM 4096       /* g_conv_dim, d_conv_dim: 1.. */
#define SG_MODEL_MAX_G_REPEAT 64         /* 0.. */
#define SG_MODEL_MAX_D_REPEAT 12         /* 1.. */
#define SG_MODEL_MAX_BATCH 65535         /* batch: 1.. (sg_model_batch_max) */
/* Checks sizes (image_size divisible by 2^d_repeat and >= 2^d_repeat, dims > 0...). */
int sg_model_config_check(const sg_model_config *cfg, sg_err *err);

typedef enum { SG_NET_G = 0, SG_NET_D = 1 } sg_net;
enum { SG_DTYPE_F32 = 0, SG_DTYPE_I64 = 1 };

/* One entry of a network's state_dict, in the reference's order. */
typedef struct {
    char name[64];          /* e.g. "main.1.running_mean", "conv1.weight" */
    int ndim;
    int64_t shape[4];
    int dtype;              /* SG_DTYPE_F32, or SG_DTYPE_I64 for num_batches_tracked */
    int trainable;          /* 1: weight/bias (Adam-updated); 0: running stats / counters */
    size_t numel;
} sg_tensor_info;

typedef struct sg_model sg_model;

/* be is borrowed and must outlive the model (sg_model_free hands its memory
 * back to be); a backend and its models are used from one thread.
 * Allocates G and D on be and initialises weights like PyTorch's defaults
 * (kaiming-uniform a=sqrt(5), bias U(+-1/sqrt(fan_in)), IN weight 1 bias 0,
 * running_mean 0, running_var 1) from counter-based draws of init_seed. */
int sg_model_create(sg_model **out, const sg_model_config *cfg, sg_backend *be,
                    uint64_t init_seed, sg_err *err);
/* An inference-only model: G's parameters and running statistics, and what
 * sg_model_generate needs for cfg->batch images at a time (activations reused
 * layer by layer, nothing kept for a backward); no D, no gradients, no Adam
 * moments, no training buffers. G starts as sg_model_create's would with the
 * same init_seed (callers normally load a checkpoint over it). Its output is
 * bit-identical to a full model's with the same weights and batch capacity.
 * On it: generate, tensors/get_tensor/set_tensor of G,
 * trainable_count (G; 0 for D), all_finite (G's parameters) and free work;
 * every D or training call (set_batch, d_step, g_step, get/set_adam, get_grad,
 * read_losses, D's tensors) returns -1 with an error saying so. */
int sg_model_create_generator(sg_model **out, const sg_model_config *cfg, sg_backend *be,
                              uint64_t init_seed, sg_err *err);
/* 1 for a model from sg_model_create_generator, 0 for a full one. */
int sg_model_is_generator_only(const sg_model *m);
/* The same for a model of cfg (sg_model_create's; generator_only:
 * sg_model_create_generator's) on an NCHW backend such as the CPU, before
 * one is made: the sizes model creation allocates, added up without
 * allocating them, and for a full model with SG_OVERLAP_G=1 in the
 * environment (the CPU's default is 0) the queued batch's blocks that its
 * training run allocates at its first sg_model_queue_batch_drawn(_async). 0
 * when cfg fails sg_model_config_check, SG_OVERLAP_G is neither 0 nor 1 (model
 * creation refuses both), or out of memory. The CPU backend's blocks are
 * calloc'd and touched only when used, so creation alone cannot tell
 * whether they fit. */
size_t sg_model_bytes(const sg_model_config *cfg, int generator_only);
void sg_model_free(sg_model *m);

/* The state_dict of a net: *list points at n entries owned by the model
 * (n = 0 and *list = NULL for D of a generator-only model). */
int sg_model_tensors(const sg_model *m, sg_net net, const sg_tensor_info **list);
/* The list sg_model_tensors would give for a model of cfg, without a backend
 * or any parameter memory (to check a checkpoint's tensors before a model of
 * its metadata's size is made): *list (free() it) and its count, or -1. */
int sg_model_layout(const sg_model_config *cfg, sg_net net, sg_tensor_info **list, sg_err *err);
/* Copies tensor i between the model and host memory (float or int64 per dtype). */
int sg_model_get_tensor(sg_model *m, sg_net net, int i, void *host, sg_err *err);
int sg_model_set_tensor(sg_model *m, sg_net net, int i, const void *host, sg_err *err);
/* The gradient of trainable tensor i (index into sg_model_tensors) left by the
 * last d_step (D) or g_step (G), numel floats; for tests and diagnostics. */
int sg_model_get_grad(sg_model *m, sg_net net, int i, float *host, sg_err *err);
/* Adam moments of the trainable tensors, in state_dict order, concatenated
 * (length = sum of numel of trainable tensors), and the step counter. */
size_t sg_model_trainable_count(const sg_model *m, sg_net net);
int sg_model_get_adam(sg_model *m, sg_net net, float *m1, float *m2, int64_t *step, sg_err *err);
int sg_model_set_adam(sg_model *m, sg_net net, const float *m1, const float *m2, int64_t step, sg_err *err);

/* Training data for the next steps (uploaded once, used by d_step then g_step):
 *   x      (n, 3, S, S) in [-1, 1]
 *   c_org  (n, c_dim)   G's label vector of the real images (mask included)
 *   c_trg  (n, c_dim)   target label vector (mask included)
 *   alpha  (n)          GP interpolation weights in [0, 1)
 * ds picks the dataset: D's cls loss uses its slice of the cls output and the
 * targets c_org/c_trg at sg_model_label_offset(ds) (one-hot: the arg-max class).
 * Returns once the uploads are done (a sync, ops->sync: a backend error of
 * this or earlier work, e.g. CUDA's, is reported here), so the host arrays may
 * be reused at once, whatever memory they are in, ops->host_alloc's included.
 * For tests and the bench only: the trainer draws on the backend (below). */
int sg_model_set_batch(sg_model *m, int ds, int n, const float *x, const float *c_org,
                       const float *c_trg, const float *alpha, sg_err *err);
/* The same with c_trg and alpha drawn on the backend (ops->draw_batch, the
 * CUDA backend on the device, on its stream) from (seed, iter) as the trainer
 * draws them: lib/batch_draw.h; n <= SG_BATCH_DRAW_MAX. */
int sg_model_set_batch_drawn(sg_model *m, int ds, int n, const float *x, const float *c_org,
                             uint64_t seed, int64_t iter, int random_targets, sg_err *err);
/* The same without waiting (what the trainer uses): the uploads and draws are
 * queued ahead of the steps and fence slot fence_slot (0..7, lib/backend.h
 * "host staging") is marked after them. x and c_org must then stay unchanged
 * until ops->fence_wait(fence_slot) or ops->sync has returned: from
 * ops->host_alloc memory (CUDA: page-locked) the copy runs later, and
 * changed arrays are trained on silently. Any host memory may be given (from
 * other memory CUDA's upload waits for its copy). A backend error surfaces at
 * the next sync or fence_wait. On an error return nothing was uploaded and
 * the slot is not marked. */
int sg_model_set_batch_drawn_async(sg_model *m, int ds, int n, const float *x, const float *c_org, uint64_t seed,
                                   int64_t iter, int random_targets, int fence_slot, sg_err *err);
/* The next iteration's batch, queued while the current one is in use, so
 * that G's forward of it overlaps D's work:
 * - sg_model_queue_batch_drawn uploads it (and draws its c_trg and alpha, as
 *   sg_model_set_batch_drawn would) into a second slot; the current batch is
 *   unchanged.
 * - The next d_step (of the current batch) then also computes G(x, c_trg) of
 *   the queued batch, when its size is the current one's: on the backend's
 *   second lane where it has one (CUDA: beside the D step's own work), else
 *   in order.
 * - sg_model_next_batch makes the queued batch current, with those fakes:
 *   its d_step skips that forward.
 * Results are bit-identical to set_batch_drawn per iteration, provided G does
 * not change in between; so from a d_step that ran the queued batch's forward
 * until that batch's own d_step, g_step, set_batch, queue, writing G and
 * reading G's running statistics (a checkpoint would see one forward too
 * many) are refused with an error, as is a second d_step before next_batch.
 * Queue a batch only when no G step or checkpoint comes before its D step.
 * sg_model_queue_batch_drawn waits for its uploads as set_batch_drawn does;
 * sg_model_queue_batch_drawn_async marks fence_slot instead, as
 * set_batch_drawn_async does, with the same rule for x and c_org. */
int sg_model_queue_batch_drawn(sg_model *m, int ds, int n, const float *x, const float *c_org,
                               uint64_t seed, int64_t iter, int random_targets, sg_err *err);
int sg_model_queue_batch_drawn_async(sg_model *m, int ds, int n, const float *x, const float *c_org, uint64_t seed,
                                     int64_t iter, int random_targets, int fence_slot, sg_err *err);
int sg_model_next_batch(sg_model *m, sg_err *err);

/* One D update (loss real + fake + lambda_cls*cls + lambda_gp*gp, Adam at lr) and
 * one G update (fake + lambda_rec*rec + lambda_cls*cls, Adam at lr), each exactly
 * as the reference's train(): G runs in training mode (per-image IN statistics,
 * running statistics updated at every G forward). sg_model_g_step on its own
 * is for tests and the bench only (the trainer calls sg_model_d_g_steps). */
int sg_model_d_step(sg_model *m, float lr, sg_err *err);
int sg_model_g_step(sg_model *m, float lr, sg_err *err);
/* sg_model_d_step then sg_model_g_step, the same results. With SG_OVERLAP_G=1
 * in the environment when the model is created (and the G step reusing the
 * D step's forward, below), the G step's reconstruction pass through G runs
 * during the D step, on the backend's second lane where it has one (CUDA:
 * beside D's work); sg_model_recs_ahead counts those
 * (lib/model_testing.h). */
int sg_model_d_g_steps(sg_model *m, float lr_d, float lr_g, sg_err *err);
/* 1 if the model was created with SG_OVERLAP_G=1: its drivers (sg-train, the
 * bench) then queue batches (sg_model_queue_batch_drawn_async) too. Such a model's
 * G steps also compute G's weight gradients on the second lane, beside the
 * rest of G's backward, unless SG_OVERLAP_G_WGRAD=0 was in the environment
 * when it was created (then on lane 0, in order: the same results). */
int sg_model_overlap_g(const sg_model *m);
/* A G step right after a D step on the same batch takes G(x, c_trg) from the
 * D step instead of computing it again (bit-identical results; the running
 * statistics are still updated twice). SG_G_TAPE_REUSE=0 in the environment
 * when the model is created turns that off (A/B timing, tests).
 * sg_model_g_tape_reuses (lib/model_testing.h) counts the G steps that did
 * reuse it. */

typedef struct {
    float d_loss_real, d_loss_fake, d_loss_cls, d_loss_gp;   /* last d_step */
    float g_loss_fake, g_loss_rec, g_loss_cls;               /* last g_step */
} sg_losses;
/* Copies the last losses to the host (the only sync point of a step). */
int sg_model_read_losses(sg_model *m, sg_losses *out, sg_err *err);
/* 0 with *finite = 1 when every parameter and Adam moment of both nets is
 * finite (a generator-only model: G's parameters), *finite = 0 when one is
 * not; -1 with err on a backend error. */
int sg_model_all_finite(sg_model *m, int *finite, sg_err *err);

/* Inference: y = G(x, c) for n images (any n; processed in chunks of batch),
 * per-image IN statistics as in the reference's test(); running stats untouched. */
int sg_model_generate(sg_model *m, int n, const float *x, const float *c, float *y, sg_err *err);

#endif
