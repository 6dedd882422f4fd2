/* The compute backend: a table of operations over backend memory, implemented
 * once for the CPU (lib/backend_cpu.c, float32, the reference every other
 * backend is checked against) and once for CUDA (kernels/, .cu files). The model
 * (lib/model.c) calls only these operations.
 *
 * Memory. Pointers passed to ops are backend memory from ops->alloc: host
 * memory for the CPU backend, device memory for CUDA. Every tensor is float32
 * and contiguous. Host memory is touched only by upload/download/all_finite.
 *
 * Layout. Shapes below are written NCHW. A backend with be->nhwc == 0 (the
 * CPU) stores them so. One with be->nhwc == 1 (CUDA by default: cuDNN's
 * tensor-core kernels work on NHWC and would otherwise transpose every
 * operand of every convolution) stores every activation written (N,C,H,W)
 * or (N,C,HW) as N,H,W,C, and every convolution weight written (A,B,K,K)
 * as A,K,K,B. The rest is the same in both: biases, gamma/beta and running
 * statistics (C), mean/rstd (N*C, n-major), labels (N,Cc), D's heads (their
 * outputs have one channel or 1x1 pixels), per-image rows (N,D) whatever
 * their inner order, losses, Adam's flat buffers (elementwise). Host data is
 * always NCHW: the model converts at its boundaries (to_layout/from_layout
 * for images, host-side permutes for weights).
 *
 * Errors. Ops return nothing: a failure (a CUDA error, a bad argument) is
 * recorded in the backend as its first error and later ops may be skipped.
 * ops->sync waits for all queued work and returns 0, or -1 with that first
 * error in err (and clears it). alloc returns NULL on failure and records it.
 *
 * Aliasing. Unless an op says otherwise, outputs must not overlap inputs.
 * Elementwise ops (leaky_relu_backward, tanh_*, add, lerp_images) allow
 * out == in exactly.
 *
 * Determinism. For a fixed backend and thread count every op gives bit-equal
 * results from run to run (fixed reduction orders, no atomics on floats), so
 * that a resumed training run reproduces an uninterrupted one.
 *
 * Shapes below: N batch, C/Ci/Co channels, H/W input height/width, Ho/Wo
 * output height/width, K square kernel size, HW = H*W. For a conv with stride s
 * and zero padding p: Ho = (H + 2p - K)/s + 1, Wo likewise (floor).
 *
 * Accumulation. Ops named *_backward_filter and the dgamma/dbeta outputs of
 * instnorm_backward ADD into their outputs (+=): the model zeroes gradients
 * once per step. Every other output is overwritten. */
#ifndef SG_BACKEND_H
#define SG_BACKEND_H
#include <stddef.h>
#include <stdint.h>
#include "batch_draw.h"
#include "error.h"

typedef struct sg_backend sg_backend;
/* How many fence slots a backend has (ops->fence, ops->fence_wait). */
#define SG_BACKEND_FENCES 8
typedef struct sg_backend_ops sg_backend_ops;

struct sg_backend {
    const sg_backend_ops *ops;
    const char *name;        /* "cpu", "cuda" */
    void *impl;              /* backend-private state (threads, scratch, handles, stream) */
    int nhwc;                /* activation layout (see "Layout"): 0 NCHW, 1 NHWC */
};

struct sg_backend_ops {
    /* ---- lifetime and memory ------------------------------------------ */
    void (*destroy)(sg_backend *be);                 /* frees be itself too */
    /* Waits for queued work; returns 0, or -1 and the first recorded error. */
    int (*sync)(sg_backend *be, sg_err *err);
    void *(*alloc)(sg_backend *be, size_t bytes);    /* zero-filled; NULL on failure */
    void (*free)(sg_backend *be, void *p);           /* p may be NULL */
    void (*upload)(sg_backend *be, void *dst, const void *host_src, size_t bytes);
    void (*download)(sg_backend *be, void *host_dst, const void *src, size_t bytes); /* synchronous */
    void (*copy)(sg_backend *be, void *dst, const void *src, size_t bytes);
    void (*memzero)(sg_backend *be, void *p, size_t bytes);
    /* p[i] = value, i < n */
    void (*fill)(sg_backend *be, float *p, float value, size_t n);

    /* ---- convolution (cross-correlation, zero padding, square kernel) --
     * x (N,Ci,H,W), w (Co,Ci,K,K), bias (Co) or NULL, y (N,Co,Ho,Wo). */
    /* y = conv(x; w) + bias */
    void (*conv2d_forward)(sg_backend *be, float *y, const float *x, const float *w,
                           const float *bias, int N, int Ci, int H, int W, int Co,
                           int K, int stride, int pad);
    /* dx = conv^T(dy; w): the gradient w.r.t. x of sum(dy * conv(x; w)).
     * dx (N,Ci,H,W) overwritten, dy (N,Co,Ho,Wo). */
    void (*conv2d_backward_data)(sg_backend *be, float *dx, const float *dy, const float *w,
                                 int N, int Ci, int H, int W, int Co, int K, int stride, int pad);
    /* dw (Co,Ci,K,K) += sum_n corr(x, dy); db (Co) += sum over n,Ho,Wo of dy (db may be NULL;
     * dw may be NULL too: then db alone, and x is not read). */
    void (*conv2d_backward_filter)(sg_backend *be, float *dw, float *db, const float *x,
                                   const float *dy, int N, int Ci, int H, int W, int Co,
                                   int K, int stride, int pad);
    /* The transposed conv (PyTorch ConvTranspose2d(Cin, Cout, K, s, p), weight
     * (Cin, Cout, K, K)) is the conv Cout -> Cin with the same weight tensor:
     *   forward:       conv2d_backward_data(y, x, w, N, Cout, Hout, Wout, Cin, K, s, p)
     *   backward data: conv2d_forward(dx, dy, w, NULL, N, Cout, Hout, Wout, Cin, K, s, p)
     *   weight grad:   conv2d_backward_filter(dw, NULL, dy, x, N, Cout, Hout, Wout, Cin, K, s, p)
     * with x (N,Cin,Hin,Win), y (N,Cout,Hout,Wout), Hout = (Hin-1)s - 2p + K. */

    /* ---- instance norm (affine, per (n,c) statistics over HW) -----------
     * x, y (N,C,HW); gamma, beta (C); mean, rstd (N*C) saved for backward,
     * rstd = 1/sqrt(biased_var + eps). y = (x - mean)*rstd*gamma + beta.
     * If running_mean/running_var (C) are non-NULL they are updated like
     * PyTorch's InstanceNorm2d(track_running_stats=True) in training mode:
     *   running_mean = mean_n((1-momentum)*running_mean + momentum*mean[n,c])
     *   running_var  = mean_n((1-momentum)*running_var  + momentum*unbiased_var[n,c])
     * (unbiased_var = biased_var * HW/(HW-1)).
     * relu != 0: y = max(0, that) in the same pass (G's IN + ReLU without a
     * second read and write of y); mean, rstd and running stats unchanged.
     * y == NULL: statistics only (mean, rstd and the running statistics,
     * bit-identical to a call with y), no normalized output written.
     * residual (N,C,HW) non-NULL: y = that + residual, added last, in the
     * same pass (G's residual blocks: block input + IN(z), bit for bit what
     * a separate add gives, one read and write of y fewer); not overlapping y. */
    void (*instnorm_forward)(sg_backend *be, float *y, float *mean, float *rstd,
                             const float *x, const float *gamma, const float *beta,
                             float *running_mean, float *running_var,
                             int N, int C, int HW, float eps, float momentum, int relu,
                             const float *residual);
    /* dx (N,C,HW) overwritten (dx == x allowed: the model puts each layer's
     * gradient in its tape's place); dgamma, dbeta (C) +=; x, mean, rstd as saved by forward.
     * y_relu (N,C,HW) NULL, or the output of a relu != 0 forward: then dy is
     * read as 0 where y_relu <= 0 (the ReLU's backward: dy where y_relu > 0,
     * else 0), so dy is the gradient w.r.t. the ReLU's output and is not
     * modified. */
    void (*instnorm_backward)(sg_backend *be, float *dx, float *dgamma, float *dbeta,
                              const float *dy, const float *y_relu, const float *x,
                              const float *mean, const float *rstd, const float *gamma,
                              int N, int C, int HW);

    /* ---- elementwise (n elements; out == in allowed) --------------------
     * No ReLU or LeakyReLU forward: G's ReLU is fused into instnorm_forward
     * (and its backward into instnorm_backward), D's LeakyReLU into
     * bias_leaky_relu. */
    /* dx = x > 0 ? dy : slope*dy (x: the pre-activation). Also the GP chain's
     * mask multiply g <- g (.) m. */
    void (*leaky_relu_backward)(sg_backend *be, float *dx, const float *dy, const float *x,
                                float slope, size_t n);
    void (*tanh_forward)(sg_backend *be, float *y, const float *x, size_t n);
    /* dx = dy * (1 - y^2), y the forward's OUTPUT */
    void (*tanh_backward)(sg_backend *be, float *dx, const float *dy, const float *y, size_t n);
    /* y = a + b (residual add, gradient sums) */
    void (*add)(sg_backend *be, float *y, const float *a, const float *b, size_t n);
    /* GP interpolation per image: out[n,i] = alpha[n]*a[n,i] + (1-alpha[n])*b[n,i];
     * a, b, out (N, per_image); alpha (N) backend memory. */
    void (*lerp_images)(sg_backend *be, float *out, const float *a, const float *b,
                        const float *alpha, int N, size_t per_image);

    /* ---- label tiling and channel slices -------------------------------
     * out (N, Cx+Cc, HW) = concat(x (N,Cx,HW), c (N,Cc) tiled over HW). */
    void (*concat_labels)(sg_backend *be, float *out, const float *x, const float *c,
                          int N, int Cx, int Cc, int HW);
    /* dst (N, Cd, HW) = src (N, Cs, HW) channels [c0, c0+Cd) (gradient of the concat). */
    void (*channel_slice)(sg_backend *be, float *dst, const float *src, int N, int Cs,
                          int c0, int Cd, int HW);

    /* ---- losses: each writes its scalar value to *loss (backend memory,
     * one float) and, if grad is non-NULL, weight * d(value)/d(input) to grad.
     * The value is unweighted (the reference logs unweighted terms). -------- */
    /* value = sign * mean(x); grad[i] = weight*sign/n (x, grad (n)) */
    void (*mean_loss)(sg_backend *be, float *loss, float *grad, const float *x, size_t n,
                      float sign, float weight);
    /* BCE with logits summed over a column slice and divided by N:
     * logits (N, ldl), columns [off, off+C); targets (N, ldt), columns [toff, toff+C).
     * value = sum_{n,j} max(z,0) - z*t + log1p(exp(-|z|)) / N;
     * grad (N, ldl): columns [off, off+C) = weight*(sigmoid(z) - t)/N, others untouched. */
    void (*bce_logits_loss)(sg_backend *be, float *loss, float *grad, const float *logits,
                            int ldl, int off, const float *targets, int ldt, int toff,
                            int N, int C, float weight);
    /* Softmax cross-entropy, mean over N; the class is the arg-max of the target
     * slice (first maximum); layout and grad as bce_logits_loss:
     * grad = weight*(softmax(z) - onehot)/N. */
    void (*softmax_ce_loss)(sg_backend *be, float *loss, float *grad, const float *logits,
                            int ldl, int off, const float *targets, int ldt, int toff,
                            int N, int C, float weight);
    /* value = mean|a - b|; grad (w.r.t. a) = weight*sign(a - b)/n, sign(0) = 0. */
    void (*l1_loss)(sg_backend *be, float *loss, float *grad, const float *a, const float *b,
                    size_t n, float weight);
    /* Gradient penalty on u (N, D) = d D_src / d x_hat, one row per image:
     * value = mean_i (||u_i|| - 1)^2 (no epsilon, like the reference);
     * grad = weight * 2(||u_i|| - 1) u_i / (||u_i|| * N). */
    void (*gp_loss)(sg_backend *be, float *loss, float *grad, const float *u, int N,
                    size_t D, float weight);

    /* ---- optimizer and checks ------------------------------------------
     * Adam, PyTorch 1.13 order, over one flat buffer (p, g, m, v (n)), step t >= 1:
     *   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g
     *   bc1 = 1 - b1^t;  bc2 = 1 - b2^t
     *   denom = sqrt(v)/sqrt(bc2) + eps;  p -= (lr/bc1) * m/denom
     * The betas are doubles, as Python's: 1-b1, 1-b2, bc1, bc2, lr/bc1 and
     * sqrt(bc2) are taken in double and rounded to float once (1-0.999f in
     * float is 1.3e-5 short of PyTorch's 0.001f: a bias in v at every step). */
    void (*adam)(sg_backend *be, float *p, const float *g, float *m, float *v, size_t n,
                 float lr, double beta1, double beta2, float eps, int64_t t);
    /* Synchronous: 1 if every p[i] is finite, 0 if not, -1 on a backend error. */
    int (*all_finite)(sg_backend *be, const float *p, size_t n);

    /* ---- step graphs (optional: NULL where unsupported, e.g. the CPU) ---
     * Graphs belong to an owner (a model): keys are the owner's own, and a
     * slot recorded by another owner counts as gone for this one (so two
     * models on one backend each replay only their own graphs, re-recording
     * when the other took the slot).
     * graph_begin(key, owner): the ops that follow, up to graph_end(key), are recorded
     * into graph `key` (0 <= key < 128) instead of being run; nothing between
     * may sync, allocate, or run a conv shape/kind for the first time. Returns
     * 0, or -1 if graphs are off (SG_CUDA_GRAPHS=0) or a CUDA error was recorded.
     * graph_end(key): stops recording and instantiates; 0 or -1 (then the
     * recorded ops did NOT run: run them again eagerly, sync reports errors).
     * graph_launch(key, owner, lr, t): runs the graph, with the lr and step t of its
     * adam calls replaced (everything else is as recorded: same pointers,
     * sizes, scalars). Returns 0; 1 if the graph no longer exists (the backend
     * drops every graph when its workspace must grow) or another owner
     * recorded over it: record it again; -1 on an error.
     * graph_drop(key, owner) forgets graph key if owner recorded it (buffers
     * or shapes changed, the owner is freed). */
    int (*graph_begin)(sg_backend *be, int key, const void *owner);
    int (*graph_end)(sg_backend *be, int key);
    int (*graph_launch)(sg_backend *be, int key, const void *owner, float lr, int64_t t);
    void (*graph_drop)(sg_backend *be, int key, const void *owner);

    /* ---- layout conversion (backend memory, no overlap) -----------------
     * to_layout: dst (N,C,HW) in the backend's layout = src (N,C,HW) NCHW;
     * from_layout the reverse. A copy where be->nhwc == 0. */
    void (*to_layout)(sg_backend *be, float *dst, const float *src, int N, int C, int HW);
    void (*from_layout)(sg_backend *be, float *dst, const float *src, int N, int C, int HW);

    /* ---- host staging and ordering --------------------------------------
     * host_alloc: host memory that upload can read without staging (CUDA:
     * page-locked), zero-filled, NULL on failure; host_free frees it (p may
     * be NULL). An upload FROM host_alloc memory is asynchronous: the memory
     * must not change until a later fence_wait (or sync) covers the upload.
     * From any other host memory, upload may be reused as soon as it returns
     * (CUDA: such an upload waits for its copy). The model's batch calls
     * (lib/model.h) wait for their uploads, or with _async take the fence
     * slot to wait for.
     * fence(slot) marks the work queued so far (0 <= slot < SG_BACKEND_FENCES);
     * fence_wait(slot) blocks until that work is done: 0, or -1 after a
     * backend error (sync reports it). */
    void *(*host_alloc)(sg_backend *be, size_t bytes);
    void (*host_free)(sg_backend *be, void *p);
    void (*fence)(sg_backend *be, int slot);
    int (*fence_wait)(sg_backend *be, int slot);

    /* ---- the batch's random draws (lib/batch_draw.h) -------------------
     * alpha (n) and c_trg (n, c_dim) of the batch described by d, whose own
     * label vectors are c_org (n, c_dim); backend memory, c_trg not
     * overlapping c_org; 1 <= d->n <= SG_BATCH_DRAW_MAX. Every backend draws
     * the same bits (the functions of lib/batch_draw.h). */
    void (*draw_batch)(sg_backend *be, float *c_trg, float *alpha, const float *c_org,
                       const sg_batch_draw *d);

    /* ---- D's bias and LeakyReLU in one pass ------------------------------
     * y (N,C,HW) in place: y = v > 0 ? v : slope*v with v = y + bias[c]
     * (bias (C)): conv2d_forward with a bias followed by a LeakyReLU,
     * one read and write of y fewer. The output's sign is v's, so it serves as
     * leaky_relu_backward's x. */
    void (*bias_leaky_relu)(sg_backend *be, float *y, const float *bias, float slope, int N, int C,
                            int HW);

    /* ---- D's LeakyReLU backward and bias gradient in one pass -------------
     * dx (N,C,HW) = leaky_relu_backward(dy, x) (dx == dy allowed), and db (C)
     * += the sum over n < n_bias (0 <= n_bias <= N: the first rows, a prefix
     * in both layouts) and HW of dx: bit for bit leaky_relu_backward followed
     * by conv2d_backward_filter(dw NULL, db, x NULL, dy = dx, N = n_bias) of
     * the convolution whose output dx is, with dy and x read once and no
     * second pass over dx's first n_bias rows. db NULL or n_bias 0: the mask
     * alone, as leaky_relu_backward. */
    void (*leaky_relu_backward_bias)(sg_backend *be, float *dx, float *db, const float *dy, const float *x,
                                     float slope, int N, int C, int HW, int n_bias);

    /* ---- a second lane of work (optional: NULL runs everything in order) --
     * lane(SG_LANE_FORK): the ops that follow go to lane 1, after all work
     * queued so far on lane 0; lane(SG_LANE_MAIN): they go to lane 0 again,
     * which does not wait for lane 1; lane(SG_LANE_JOIN): lane 0 waits for
     * all work queued on lane 1, and the ops that follow go to lane 0. The
     * two lanes' work may run at the same time: each lane has its own
     * scratch and convolution workspace, and the caller keeps the buffers
     * the two touch apart. Legal inside a graph recording, which then has
     * two branches and must be joined before graph_end. Everything else
     * (uploads, fences, sync, graph_begin/launch) is for lane 0 only. */
    void (*lane)(sg_backend *be, int what);
};

enum { SG_LANE_FORK = 1, SG_LANE_MAIN = 2, SG_LANE_JOIN = 3 };

/* Host arrays: (outer, mid, inner) NCHW-order <-> (outer, inner, mid), i.e.
 * an activation (N,C,HW) or a conv weight (A,B,KK) to the NHWC layout
 * (to_nhwc = 1) or back (0). dst and src must not overlap. */
void sg_layout_permute(float *dst, const float *src, size_t outer, size_t mid, size_t inner,
                       int to_nhwc);

/* The CPU backend with nthreads worker threads (0: sg_cpus_usable(), the CPUs
 * this process may use). Returns NULL and fills err on failure. The first one in a process loads
 * OpenBLAS (sg_backend_cpu_prepare) unless that was done before: so, as for
 * sg_backend_cpu_prepare, the first is made before the process starts
 * threads that read the environment (an image writer, a decode pool), or
 * after an sg_backend_cpu_prepare made before them. A backend and the models
 * on it are used from one thread (one stream, one first error). */
sg_backend *sg_backend_cpu_create(int nthreads, sg_err *err);
/* Loads OpenBLAS with no threads of its own: it sets OPENBLAS_NUM_THREADS for
 * the moment of the load, so it must run before the process starts threads
 * that may read the environment (a CUDA runtime's included). Returns 0, or -1
 * with err filled (err may be NULL: sg_backend_cpu_create reports the same
 * failure later). Idempotent. */
int sg_backend_cpu_prepare(sg_err *err);
/* The threads a CPU backend computes with (its --threads, 0 resolved to the
 * CPUs usable, capped); 0 for any other backend. The count decides how sums
 * are split, so the last bits of a result. */
int sg_backend_cpu_threads(const sg_backend *be);
/* What else decides the CPU backend's last bits on this machine and build,
 * into out (n bytes): OpenBLAS's version and kernel (picked by CPU, or by
 * OPENBLAS_CORETYPE), the clones of the hot loops the CPU runs, and a hash of
 * the compiler and its flags (sg_cflags_id), e.g. "OpenBLAS 0.3.21 Haswell,
 * x86-64-v3 clones, cflags 1a2b3c4d"; "(version unknown)" for an OpenBLAS
 * without openblas_get_config. Call after OpenBLAS is loaded
 * (sg_backend_cpu_prepare, or a CPU backend made). */
void sg_backend_cpu_numerics(char *out, size_t n);

/* The CUDA backend on device `device` (kernels/). NULL and err on failure,
 * e.g. no GPU present. Declared in every build: without CUDA at build time
 * (SG_HAVE_CUDA undefined) it fails with a clear message (backend_cuda_stub.c).
 * precision: the convolutions' arithmetic, "tf32" (the default, like PyTorch's:
 * SG_PRECISION_DEFAULT),
 * "fp32" (no tensor-core rounding) or "bf16" (each convolution on bf16 copies of
 * its float inputs, float accumulation, its result converted back to float;
 * everything else stays float32); NULL or "" is the default. The CUDA
 * switches are the environment's (sg_cuda_switches_read, searching with
 * SG_CUDNN_SEARCH_DEFAULT unless SG_CUDNN_SEARCH says). */
sg_backend *sg_backend_cuda_create_precision(int device, const char *precision, sg_err *err);
/* The precision a NULL or empty one means, here and in sg_backend_open. */
#define SG_PRECISION_DEFAULT "tf32"
/* The GPU's name (e.g. "NVIDIA H200") of a CUDA backend. */
const char *sg_backend_cuda_device_name(sg_backend *be);
/* The precision a CUDA backend runs its convolutions in: "tf32", "fp32" or
 * "bf16" (what a run records, so that a resume asks for the same). */
const char *sg_backend_cuda_precision(sg_backend *be);
/* 1 when a CUDA backend lets engines that cuDNN marks nondeterministic run
 * (SG_CUDNN_NONDET=1, read with the other switches: sg_cuda_switches), so
 * that a tool can say a resumed run will not repeat an uninterrupted one. */
int sg_backend_cuda_allows_nondet(sg_backend *be);
/* Step-graph diagnostics of a CUDA backend into buf: graphs recorded and
 * launched, and why graphs were turned off if they were (a recording that
 * fails turns them off and the steps run eagerly). Returns buf. */
const char *sg_backend_cuda_graph_note(sg_backend *be, char *buf, size_t size);
/* The convolution shapes seen so far and the cuDNN algorithm chosen for each
 * kind (forward, backward-data, backward-filter; -1 not used yet), one line
 * per shape, into buf. Returns buf. */
const char *sg_backend_cuda_plan_report(sg_backend *be, char *buf, size_t size);
/* Op timing of a CUDA backend (kernels/op_times.cu; bench/train_step_bench.c
 * --op-times): where the GPU time goes, per op and shape. While it is on,
 * every op that queues GPU work (all but sync, free, the host_* and fence
 * calls, lane and the graph calls) records a CUDA event on its lane's stream
 * before and after its work; the pair's elapsed time is added to the op's
 * label, its name and shape arguments (e.g. "conv2d_backward_filter N=16
 * Ci=256 H=32 Co=256 K=3 s=1 p=1", "instnorm_backward N=16 C=64 HW=16384
 * relu"; " [lane 1]" appended for ops on the second lane, whose times may
 * overlap lane 0's). Pairs wait unresolved, at most SG_CUDA_OP_TIMES_PENDING,
 * until ops->sync, a report, or a full ring (the host then waits for the
 * oldest). An op's time runs from the GPU reaching its first event to its
 * last: where the host launches slower than the GPU runs, that includes the
 * op's own launch time (unless the work was queued behind a hold: below). Timing is meaningful eagerly only, so graph_begin
 * returns -1 while it is on (as with SG_CUDA_GRAPHS=0), and _start drops the
 * recorded graphs: a model then runs its steps eagerly, and keeps doing so
 * after _stop (graph_begin's -1 turns its graphs off).
 * _start: waits for the queued work (ops->sync: an earlier error is handed
 * over here) and turns timing on (the accumulators keep what they had);
 * 0, or -1 with err (not a CUDA backend, a graph being recorded, no memory
 * for the events). _stop: timing off, pending pairs resolved, the
 * accumulators kept. _reset: forgets every label and pending pair. */
#define SG_CUDA_OP_TIMES_PENDING 512
int sg_backend_cuda_op_times_start(sg_backend *be, sg_err *err);
void sg_backend_cuda_op_times_stop(sg_backend *be);
void sg_backend_cuda_op_times_reset(sg_backend *be);
/* The report into buf: waits for the queued work (ops->sync), then a header
 * line and one line per label by total time, largest first: total ms, ms per
 * iteration (iterations >= 1: what the caller ran), share of the sum, calls,
 * calls per iteration, rate, label; then the sum over labels (label "sum of
 * N labels", rate "-"); last one line per op (a label's first word: every
 * shape and both lanes together), largest first: "by op", ms per iteration,
 * share of the sum, calls per iteration, rate, op (e.g. "by op    1.23456
 * ms/it  12.3%     4.00 calls/it    245TFLOP/s  conv2d_forward"). The rate
 * is one word, 3 significant digits: a convolution's multiply-adds x 2 per
 * second ("TFLOP/s"; the forward convolution's, for each kind), another
 * op's bytes per second with each operand read or written once ("GB/s":
 * the least the op can move, so a multi-pass kernel shows below the memory's
 * bandwidth), "-" where no work is estimated. Returns the length of the whole
 * report (as snprintf: when it is size or more, buf holds the lines that
 * fit), or -1 with err (timing never started, a CUDA error). *sum_ms (may be NULL): the sum, in ms. */
int sg_backend_cuda_op_times_report(sg_backend *be, int iterations, double *sum_ms, char *buf,
                                    size_t size, sg_err *err);
/* For the bench's --op-times: _hold queues on lane 0, between steps, a
 * kernel that keeps the GPU busy for ms, itself untimed; _held, called once
 * the ops after it are queued, returns 1 if it was still running then with
 * no host wait behind it in between (a sync, or a full ring waiting for a
 * pair recorded after it), else 0. Held, the GPU reaches each op's start
 * event when the op before it ends, also where the host launches slower
 * than the GPU runs (where an op's time is otherwise its launch time): op
 * times are GPU time with the real gaps between kernels, as when a step
 * graph replays. The emulation (tests/emu) runs a kernel when it is
 * queued: its hold is empty and never held. _hold: 0, or -1 with err
 * (timing not on, lane 1 active, ms outside 0..60000, a CUDA error). */
int sg_backend_cuda_op_times_hold(sg_backend *be, double ms, sg_err *err);
int sg_backend_cuda_op_times_held(sg_backend *be);
/* Convolution engine choices (kernels/conv_engines.cu). By default a CUDA
 * backend times cuDNN's engines on the first call of each convolution shape,
 * so two processes may choose differently (and round differently). A process
 * that loads the choices another one saved makes the same choices:
 * _save writes them (atomically) to path; _load reads them before the shapes
 * are first used and returns 1, or 0 with the reason in note when the file
 * was made for another GPU, cuDNN, layout or precision (then nothing is
 * loaded), or -1 with err (unreadable, malformed). _choices returns how many
 * choices were made so far (save again when it grew), and through the
 * pointers how many loaded choices were applied and how many could not be. */
int sg_backend_cuda_engines_save(sg_backend *be, const char *path, sg_err *err);
int sg_backend_cuda_engines_load(sg_backend *be, const char *path, char *note, size_t note_size,
                                 sg_err *err);
int sg_backend_cuda_engine_choices(sg_backend *be, int *used_from_file, int *rejected);

/* The CUDA backend's switches from the environment (A/B timing; sg-train(1)
 * ENVIRONMENT). sg_backend_cuda_create_precision reads them, and
 * sg_backend_open reads them first whatever the device, so that a mistyped
 * value is an error on every machine, never a quiet run with the default or,
 * with --device auto, on the CPU. 0, or -1 with err naming the variable and
 * its choices (lib/env.h). */
typedef struct {
    size_t workspace_limit;   /* SG_CUDNN_WORKSPACE_MIB: 1..65536 MiB (256), in bytes */
    int search;               /* SG_CUDNN_SEARCH (SG_CUDNN_SEARCH_*; unset: the caller's default);
                                 SG_CUDNN_FIND=1: find */
    int pad3;                 /* SG_CUDA_PAD3: 0, 4 or 8 */
    int shared_cudnn;         /* SG_CUDA_LANE_HANDLES=1 (2: a handle per lane) */
    int allow_rtc;            /* SG_CUDNN_RTC=1 */
    int graphs;               /* SG_CUDA_GRAPHS (1; 0: no step graphs) */
    int nhwc;                 /* SG_CUDA_LAYOUT: nhwc (1) or nchw */
    int lane_priority;        /* SG_CUDA_LANE_PRIORITY (1; 0: both lanes at the default) */
    int in_fused;             /* SG_CUDA_IN_FUSED (1: NHWC instance norm in one pass where a plane
                                 fits; 0: the chunked kernels everywhere) */
    int allow_nondet;         /* SG_CUDNN_NONDET=1: engines that are not bit-exact run to run too
                                 (timing what determinism costs; 0 by default), and a legacy
                                 algorithm documented so where no other fits the workspace cap
                                 (0: an error) */
    long gemm_max_pixels;     /* SG_CUDA_GEMM_MAX_PIXELS: NHWC tf32/fp32 convolutions whose output has
                                 at most this many pixels run as im2col + cuBLAS GEMM (0: never;
                                 cuDNN everywhere; the default: SG_CUDA_GEMM_DEFAULT_PIXELS) */
    int gemm_asked;           /* SG_CUDA_GEMM_MAX_PIXELS was set: a cuBLAS that cannot be loaded is
                                 an error; the default falls back to cuDNN */
} sg_cuda_switches;
/* 0 until a GPU call measures the GEMM path faster (bench/train-speed's -gemm rows) */
#define SG_CUDA_GEMM_DEFAULT_PIXELS 0
/* How convolution engines are chosen, SG_CUDNN_SEARCH's values in order:
 * cuDNN's v7 heuristics (the same choice in every process), v7 cudnnFind,
 * the backend API's first usable engine, every usable engine timed. */
enum { SG_CUDNN_SEARCH_LEGACY, SG_CUDNN_SEARCH_FIND, SG_CUDNN_SEARCH_HEURISTIC, SG_CUDNN_SEARCH_TIMED };
/* timed: the fastest mode on an H200 (bench/NOTES.md, 2026-11-29: 132.9 it/s
 * against legacy's 108.4), its determinism and resume checks passed */
#define SG_CUDNN_SEARCH_DEFAULT SG_CUDNN_SEARCH_TIMED
/* search_default: the mode where SG_CUDNN_SEARCH is unset or empty
 * (SG_CUDNN_SEARCH_*). */
int sg_cuda_switches_read(sg_cuda_switches *s, int search_default, sg_err *err);
/* sg_backend_cuda_create_precision with the switches given (read by the
 * caller) instead of the environment's. */
sg_backend *sg_backend_cuda_create_switches(int device, const char *precision, const sg_cuda_switches *sw,
                                            sg_err *err);

/* Whether name is a CUDA convolution precision: "tf32", "fp32" or "bf16". */
int sg_precision_valid(const char *name);

/* A --device value: SG_DEVICE_CPU ("cpu"), SG_DEVICE_CUDA ("cuda", GPU 0, or
 * "cuda:N", GPU N as CUDA numbers them: *cuda_index = N; may be NULL) or
 * SG_DEVICE_AUTO ("auto"); -1 for anything else. */
enum { SG_DEVICE_CPU, SG_DEVICE_CUDA, SG_DEVICE_AUTO };
int sg_device_parse(const char *name, int *cuda_index);

/* The backend a tool's --device option names: "cpu"; "cuda" or "cuda:N" (an
 * error when that GPU is not usable: never a silent CPU fallback); "auto"
 * (GPU 0 when usable, else the CPU, with the reason in fallback_note if
 * non-NULL, "" otherwise). precision (CUDA only; NULL: the default) and the
 * CUDA switches (sg_cuda_switches_read) are checked even when the CPU is
 * chosen, so a typo fails on every machine. threads: CPU
 * worker threads (0: the CPUs this process may use). search_default: how
 * CUDA chooses convolution engines unless SG_CUDNN_SEARCH says
 * (SG_CUDNN_SEARCH_*: SG_CUDNN_SEARCH_DEFAULT, or a tool's own). Call it
 * before starting threads that read the environment, as
 * sg_backend_cpu_create. */
sg_backend *sg_backend_open(const char *device, const char *precision, int threads, int search_default,
                            char *fallback_note, size_t note_len, sg_err *err);

static inline void sg_backend_destroy(sg_backend *be) { if (be) be->ops->destroy(be); }

#endif
