/* Op timing (lib/backend.h, sg_backend_cuda_op_times_start): where a
 * training iteration's GPU time goes, per op and shape.
 *
 * Turned on, the backend's ops table is swapped for timed_ops below. Each of
 * its entries that queues GPU work formats its label (the op's name and
 * shape arguments), records a start event on the active lane's stream,
 * calls the real op through the table it replaced, and records an end
 * event. The pair waits in a ring of SG_CUDA_OP_TIMES_PENDING; ops->sync, a
 * report, _stop, or a full ring (the host then waits for the oldest pair's
 * end event: the one host wait timing adds between syncs) resolves it with
 * cudaEventElapsedTime into its label's total. Calls are counted when the op
 * is called, so counts are exact even where a time is lost to an error.
 * The other entries (free, host memory, fences, lanes, graphs) only pass
 * the call on; graph_begin refuses, as with SG_CUDA_GRAPHS=0. A hold
 * (sg_backend_cuda_op_times_hold, below) sleeps on the GPU while the host
 * queues what follows, so that those ops' times are GPU time. */
#include "cuda_backend.cuh"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PENDING SG_CUDA_OP_TIMES_PENDING
#define LABEL_MAX 160

struct op_label {
    char text[LABEL_MAX];
    long long calls;
    double ms;
    /* one call's work, for the report's rate (op_work): a convolution's
     * multiply-adds x 2, else the bytes of its operands read and written
     * once each (what it cannot do with less); 0: not estimated */
    double flop, bytes;
};

/* a timed op whose events are not resolved yet */
struct pending_op {
    cudaEvent_t start, end;
    int label;
    long long seq;                            /* the pair's number, in order of recording */
};

struct sg_op_times {
    const sg_backend_ops *real;               /* the table the timed entries call */
    pending_op ring[PENDING];                 /* events created once, reused */
    int head, count;                          /* the oldest pending pair; how many */
    op_label *labels;                         /* in order of first use */
    int n_labels, cap_labels;
    int *index;                               /* open addressing: label + 1, 0 empty */
    int index_size;                           /* a power of two, > 2 * n_labels */
    long long recorded;                       /* pairs recorded so far: the next one's number */
    /* the hold (sg_backend_cuda_op_times_hold): the event after its kernel,
     * the number of the first pair after it; open until _held, broken by a
     * host wait for work queued after it */
    cudaEvent_t hold_end;
    long long hold_seq;
    int hold_open, hold_broken;
};

static int is_cuda(const sg_backend *be) { return be && be->name && !strcmp(be->name, "cuda"); }

static const sg_backend_ops *real_ops(sg_backend *be) { return sg_cuda_of(be)->op_times->real; }

/* ---- labels ------------------------------------------------------------- */

static unsigned label_hash(const char *s)
{
    unsigned h = 2166136261u;                 /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Doubles the index (or makes the first one) and puts every label back. */
static int index_grow(sg_op_times *t)
{
    int size = t->index_size ? 2 * t->index_size : 1024;
    int *index = (int *)calloc((size_t)size, sizeof *index);
    if (!index) return -1;
    for (int i = 0; i < t->n_labels; i++) {
        unsigned k = label_hash(t->labels[i].text) & (unsigned)(size - 1);
        while (index[k]) k = (k + 1) & (unsigned)(size - 1);
        index[k] = i + 1;
    }
    free(t->index);
    t->index = index;
    t->index_size = size;
    return 0;
}

/* The label's number, made on its first use; -1 on want of memory (recorded). */
static int label_of(sg_cuda *c, const char *text)
{
    sg_op_times *t = c->op_times;
    if (2 * (t->n_labels + 1) > t->index_size && index_grow(t))
        return sg_cuda_fail(c, __FILE__, __LINE__, "op timing: out of host memory for labels");
    unsigned k = label_hash(text) & (unsigned)(t->index_size - 1);
    for (; t->index[k]; k = (k + 1) & (unsigned)(t->index_size - 1))
        if (!strcmp(t->labels[t->index[k] - 1].text, text)) return t->index[k] - 1;
    if (t->n_labels == t->cap_labels) {
        int cap = t->cap_labels ? 2 * t->cap_labels : 256;
        op_label *l = (op_label *)realloc(t->labels, (size_t)cap * sizeof *l);
        if (!l) return sg_cuda_fail(c, __FILE__, __LINE__, "op timing: out of host memory for labels");
        t->labels = l;
        t->cap_labels = cap;
    }
    op_label *l = &t->labels[t->n_labels];
    snprintf(l->text, sizeof l->text, "%s", text);
    l->calls = 0;
    l->ms = 0;
    l->flop = l->bytes = 0;
    t->index[k] = ++t->n_labels;
    return t->n_labels - 1;
}

/* ---- pending pairs ------------------------------------------------------ */

/* Waits for the oldest pair and adds its time to its label. After an error
 * the pair is dropped unread (its events may never have run). */
static void resolve_oldest(sg_cuda *c)
{
    sg_op_times *t = c->op_times;
    pending_op *p = &t->ring[t->head];
    float ms = 0;
    if (t->hold_open && p->seq >= t->hold_seq) t->hold_broken = 1;   /* the host waits behind the hold */
    if (!c->failed && !CU_CHECK(c, cudaEventSynchronize(p->end)) &&
        !CU_CHECK(c, cudaEventElapsedTime(&ms, p->start, p->end)))
        t->labels[p->label].ms += ms;
    t->head = (t->head + 1) % PENDING;
    t->count--;
}

static void resolve_all(sg_cuda *c)
{
    while (c->op_times && c->op_times->count > 0) resolve_oldest(c);
}

/* Before an op: counts the call under its label (printf's fmt and
 * arguments; lane 1's ops apart) and records the start event. Returns the
 * ring slot, or -1 when nothing is timed (an error came first). */
static int op_begin(sg_backend *be, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int op_begin(sg_backend *be, const char *fmt, ...)
{
    sg_cuda *c = sg_cuda_of(be);
    sg_op_times *t = c->op_times;
    char full[LABEL_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(full, sizeof full, fmt, ap);
    va_end(ap);
    if (c->lane == 1 && n >= 0 && (size_t)n < sizeof full) snprintf(full + n, sizeof full - n, " [lane 1]");
    int label = label_of(c, full);
    if (label < 0) return -1;
    t->labels[label].calls++;
    if (c->failed) return -1;
    if (t->count == PENDING) resolve_oldest(c);
    int slot = (t->head + t->count) % PENDING;
    if (CU_CHECK(c, cudaEventRecord(t->ring[slot].start, c->stream))) return -1;
    t->ring[slot].label = label;
    return slot;
}

/* The work of one call of the op begun in slot (its label's: the label
 * holds every argument the work depends on). */
static void op_work(sg_backend *be, int slot, double flop, double bytes)
{
    sg_op_times *t = sg_cuda_of(be)->op_times;
    if (slot < 0) return;
    t->labels[t->ring[slot].label].flop = flop;
    t->labels[t->ring[slot].label].bytes = bytes;
}

/* bytes of n floats */
static double f32(double n) { return 4 * n; }

/* After the op: the end event, on the same stream (ops do not change lanes). */
static void op_end(sg_backend *be, int slot)
{
    sg_cuda *c = sg_cuda_of(be);
    sg_op_times *t = c->op_times;
    if (slot < 0) return;
    if (CU_CHECK(c, cudaEventRecord(t->ring[slot].end, c->stream))) return;
    t->ring[slot].seq = t->recorded++;
    t->count++;
}

/* ---- the timed table ------------------------------------------------------
 * Square convolutions print H only; W too where it differs. */

static int conv_begin(sg_backend *be, const char *op, int N, int Ci, int H, int W, int Co, int K, int stride,
                      int pad, const char *extra)
{
    char w[24] = "";
    if (W != H) snprintf(w, sizeof w, " W=%d", W);
    int slot = op_begin(be, "%s N=%d Ci=%d H=%d%s Co=%d K=%d s=%d p=%d%s", op, N, Ci, H, w, Co, K, stride, pad,
                        extra);
    /* the forward convolution's output pixels: each kind does its multiply-adds */
    double pixels = (double)((H + 2 * pad - K) / stride + 1) * ((W + 2 * pad - K) / stride + 1);
    op_work(be, slot, 2.0 * N * pixels * Co * Ci * K * K, 0);
    return slot;
}

static void timed_destroy(sg_backend *be)
{
    real_ops(be)->destroy(be);                /* frees the timing state too */
}

/* Resolves every pending pair after the queued work is done. */
static int timed_sync(sg_backend *be, sg_err *err)
{
    sg_op_times *t = sg_cuda_of(be)->op_times;
    if (t->hold_open) t->hold_broken = 1;     /* the host waits for the hold and all after it */
    resolve_all(sg_cuda_of(be));
    return real_ops(be)->sync(be, err);
}

static void *timed_alloc(sg_backend *be, size_t bytes)
{
    int slot = op_begin(be, "alloc bytes=%zu", bytes);
    void *p = real_ops(be)->alloc(be, bytes);
    op_end(be, slot);
    return p;
}

static void timed_free(sg_backend *be, void *p) { real_ops(be)->free(be, p); }

static void timed_upload(sg_backend *be, void *dst, const void *host_src, size_t bytes)
{
    int slot = op_begin(be, "upload bytes=%zu", bytes);
    op_work(be, slot, 0, (double)bytes);
    real_ops(be)->upload(be, dst, host_src, bytes);
    op_end(be, slot);
}

static void timed_download(sg_backend *be, void *host_dst, const void *src, size_t bytes)
{
    int slot = op_begin(be, "download bytes=%zu", bytes);
    op_work(be, slot, 0, (double)bytes);
    real_ops(be)->download(be, host_dst, src, bytes);
    op_end(be, slot);
}

static void timed_copy(sg_backend *be, void *dst, const void *src, size_t bytes)
{
    int slot = op_begin(be, "copy bytes=%zu", bytes);
    op_work(be, slot, 0, 2.0 * bytes);
    real_ops(be)->copy(be, dst, src, bytes);
    op_end(be, slot);
}

static void timed_memzero(sg_backend *be, void *p, size_t bytes)
{
    int slot = op_begin(be, "memzero bytes=%zu", bytes);
    op_work(be, slot, 0, (double)bytes);
    real_ops(be)->memzero(be, p, bytes);
    op_end(be, slot);
}

static void timed_fill(sg_backend *be, float *p, float value, size_t n)
{
    int slot = op_begin(be, "fill n=%zu", n);
    op_work(be, slot, 0, f32(n));
    real_ops(be)->fill(be, p, value, n);
    op_end(be, slot);
}

static void timed_conv2d_forward(sg_backend *be, float *y, const float *x, const float *w, const float *bias,
                                 int N, int Ci, int H, int W, int Co, int K, int stride, int pad)
{
    int slot = conv_begin(be, "conv2d_forward", N, Ci, H, W, Co, K, stride, pad, bias ? " bias" : "");
    real_ops(be)->conv2d_forward(be, y, x, w, bias, N, Ci, H, W, Co, K, stride, pad);
    op_end(be, slot);
}

static void timed_conv2d_backward_data(sg_backend *be, float *dx, const float *dy, const float *w, int N,
                                       int Ci, int H, int W, int Co, int K, int stride, int pad)
{
    int slot = conv_begin(be, "conv2d_backward_data", N, Ci, H, W, Co, K, stride, pad, "");
    real_ops(be)->conv2d_backward_data(be, dx, dy, w, N, Ci, H, W, Co, K, stride, pad);
    op_end(be, slot);
}

static void timed_conv2d_backward_filter(sg_backend *be, float *dw, float *db, const float *x,
                                         const float *dy, int N, int Ci, int H, int W, int Co, int K,
                                         int stride, int pad)
{
    /* dw NULL: the bias gradient alone (no cuDNN call), an op of its own in the report */
    int slot = conv_begin(be, dw ? "conv2d_backward_filter" : "conv2d_bias_grad", N, Ci, H, W, Co, K, stride,
                          pad, dw && db ? " db" : "");
    if (!dw)   /* a reduction of dy: bytes, not the convolution's multiply-adds */
        op_work(be, slot, 0, f32((double)N * Co * ((H + 2 * pad - K) / stride + 1) * ((W + 2 * pad - K) / stride + 1) + Co));
    real_ops(be)->conv2d_backward_filter(be, dw, db, x, dy, N, Ci, H, W, Co, K, stride, pad);
    op_end(be, slot);
}

/* " relu": ReLU fused; " stats": no output written; " running": running
 * statistics updated; " +residual": the residual added in the same pass */
static void timed_instnorm_forward(sg_backend *be, float *y, float *mean, float *rstd, const float *x,
                                   const float *gamma, const float *beta, float *running_mean,
                                   float *running_var, int N, int C, int HW, float eps, float momentum,
                                   int relu, const float *residual)
{
    int slot = op_begin(be, "instnorm_forward N=%d C=%d HW=%d%s%s%s%s", N, C, HW, relu ? " relu" : "",
                        y ? "" : " stats", running_mean ? " running" : "", y && residual ? " +residual" : "");
    /* x in, and y and the residual where there are */
    op_work(be, slot, 0, f32((1.0 + (y != NULL) + (y && residual)) * N * C * HW));
    real_ops(be)->instnorm_forward(be, y, mean, rstd, x, gamma, beta, running_mean, running_var, N, C, HW, eps,
                                   momentum, relu, residual);
    op_end(be, slot);
}

static void timed_instnorm_backward(sg_backend *be, float *dx, float *dgamma, float *dbeta, const float *dy,
                                    const float *y_relu, const float *x, const float *mean, const float *rstd,
                                    const float *gamma, int N, int C, int HW)
{
    int slot = op_begin(be, "instnorm_backward N=%d C=%d HW=%d%s", N, C, HW, y_relu ? " relu" : "");
    /* dy, x and the ReLU's output in, dx out */
    op_work(be, slot, 0, f32((3.0 + (y_relu != NULL)) * N * C * HW));
    real_ops(be)->instnorm_backward(be, dx, dgamma, dbeta, dy, y_relu, x, mean, rstd, gamma, N, C, HW);
    op_end(be, slot);
}

static void timed_leaky_relu_backward(sg_backend *be, float *dx, const float *dy, const float *x, float slope,
                                      size_t n)
{
    int slot = op_begin(be, "leaky_relu_backward n=%zu", n);
    op_work(be, slot, 0, f32(3.0 * n));
    real_ops(be)->leaky_relu_backward(be, dx, dy, x, slope, n);
    op_end(be, slot);
}

static void timed_tanh_forward(sg_backend *be, float *y, const float *x, size_t n)
{
    int slot = op_begin(be, "tanh_forward n=%zu", n);
    op_work(be, slot, 0, f32(2.0 * n));
    real_ops(be)->tanh_forward(be, y, x, n);
    op_end(be, slot);
}

static void timed_tanh_backward(sg_backend *be, float *dx, const float *dy, const float *y, size_t n)
{
    int slot = op_begin(be, "tanh_backward n=%zu", n);
    op_work(be, slot, 0, f32(3.0 * n));
    real_ops(be)->tanh_backward(be, dx, dy, y, n);
    op_end(be, slot);
}

static void timed_add(sg_backend *be, float *y, const float *a, const float *b, size_t n)
{
    int slot = op_begin(be, "add n=%zu", n);
    op_work(be, slot, 0, f32(3.0 * n));
    real_ops(be)->add(be, y, a, b, n);
    op_end(be, slot);
}

static void timed_lerp_images(sg_backend *be, float *out, const float *a, const float *b, const float *alpha,
                              int N, size_t per_image)
{
    int slot = op_begin(be, "lerp_images N=%d per_image=%zu", N, per_image);
    op_work(be, slot, 0, f32(3.0 * N * per_image + N));
    real_ops(be)->lerp_images(be, out, a, b, alpha, N, per_image);
    op_end(be, slot);
}

static void timed_concat_labels(sg_backend *be, float *out, const float *x, const float *c, int N, int Cx,
                                int Cc, int HW)
{
    int slot = op_begin(be, "concat_labels N=%d Cx=%d Cc=%d HW=%d", N, Cx, Cc, HW);
    op_work(be, slot, 0, f32((double)N * ((2.0 * Cx + Cc) * HW + Cc)));
    real_ops(be)->concat_labels(be, out, x, c, N, Cx, Cc, HW);
    op_end(be, slot);
}

static void timed_channel_slice(sg_backend *be, float *dst, const float *src, int N, int Cs, int c0, int Cd,
                                int HW)
{
    int slot = op_begin(be, "channel_slice N=%d Cs=%d c0=%d Cd=%d HW=%d", N, Cs, c0, Cd, HW);
    op_work(be, slot, 0, f32(2.0 * N * Cd * HW));
    real_ops(be)->channel_slice(be, dst, src, N, Cs, c0, Cd, HW);
    op_end(be, slot);
}

/* the losses: " grad" where the gradient is written too */
static void timed_mean_loss(sg_backend *be, float *loss, float *grad, const float *x, size_t n, float sign,
                            float weight)
{
    int slot = op_begin(be, "mean_loss n=%zu%s", n, grad ? " grad" : "");
    op_work(be, slot, 0, f32((grad ? 2.0 : 1.0) * n));
    real_ops(be)->mean_loss(be, loss, grad, x, n, sign, weight);
    op_end(be, slot);
}

static void timed_bce_logits_loss(sg_backend *be, float *loss, float *grad, const float *logits, int ldl,
                                  int off, const float *targets, int ldt, int toff, int N, int C, float weight)
{
    int slot = op_begin(be, "bce_logits_loss N=%d C=%d%s", N, C, grad ? " grad" : "");
    real_ops(be)->bce_logits_loss(be, loss, grad, logits, ldl, off, targets, ldt, toff, N, C, weight);
    op_end(be, slot);
}

static void timed_softmax_ce_loss(sg_backend *be, float *loss, float *grad, const float *logits, int ldl,
                                  int off, const float *targets, int ldt, int toff, int N, int C, float weight)
{
    int slot = op_begin(be, "softmax_ce_loss N=%d C=%d%s", N, C, grad ? " grad" : "");
    real_ops(be)->softmax_ce_loss(be, loss, grad, logits, ldl, off, targets, ldt, toff, N, C, weight);
    op_end(be, slot);
}

static void timed_l1_loss(sg_backend *be, float *loss, float *grad, const float *a, const float *b, size_t n,
                          float weight)
{
    int slot = op_begin(be, "l1_loss n=%zu%s", n, grad ? " grad" : "");
    op_work(be, slot, 0, f32((grad ? 3.0 : 2.0) * n));
    real_ops(be)->l1_loss(be, loss, grad, a, b, n, weight);
    op_end(be, slot);
}

static void timed_gp_loss(sg_backend *be, float *loss, float *grad, const float *u, int N, size_t D,
                          float weight)
{
    int slot = op_begin(be, "gp_loss N=%d D=%zu%s", N, D, grad ? " grad" : "");
    op_work(be, slot, 0, f32((grad ? 2.0 : 1.0) * N * D));
    real_ops(be)->gp_loss(be, loss, grad, u, N, D, weight);
    op_end(be, slot);
}

static void timed_adam(sg_backend *be, float *p, const float *g, float *m, float *v, size_t n, float lr,
                       double beta1, double beta2, float eps, int64_t t)
{
    int slot = op_begin(be, "adam n=%zu", n);
    op_work(be, slot, 0, f32(7.0 * n));
    real_ops(be)->adam(be, p, g, m, v, n, lr, beta1, beta2, eps, t);
    op_end(be, slot);
}

static int timed_all_finite(sg_backend *be, const float *p, size_t n)
{
    int slot = op_begin(be, "all_finite n=%zu", n);
    op_work(be, slot, 0, f32(n));
    int r = real_ops(be)->all_finite(be, p, n);
    op_end(be, slot);
    return r;
}

/* Graphs are refused while timing: a replay is one launch, nothing per op
 * to time. The others pass on (no graph is recorded while timing is on). */
static int timed_graph_begin(sg_backend *be, int key, const void *owner) { return -1; }

static int timed_graph_end(sg_backend *be, int key) { return real_ops(be)->graph_end(be, key); }

static int timed_graph_launch(sg_backend *be, int key, const void *owner, float lr, int64_t t)
{
    return real_ops(be)->graph_launch(be, key, owner, lr, t);
}

static void timed_graph_drop(sg_backend *be, int key, const void *owner)
{
    real_ops(be)->graph_drop(be, key, owner);
}

static void timed_to_layout(sg_backend *be, float *dst, const float *src, int N, int C, int HW)
{
    int slot = op_begin(be, "to_layout N=%d C=%d HW=%d", N, C, HW);
    op_work(be, slot, 0, f32(2.0 * N * C * HW));
    real_ops(be)->to_layout(be, dst, src, N, C, HW);
    op_end(be, slot);
}

static void timed_from_layout(sg_backend *be, float *dst, const float *src, int N, int C, int HW)
{
    int slot = op_begin(be, "from_layout N=%d C=%d HW=%d", N, C, HW);
    op_work(be, slot, 0, f32(2.0 * N * C * HW));
    real_ops(be)->from_layout(be, dst, src, N, C, HW);
    op_end(be, slot);
}

static void *timed_host_alloc(sg_backend *be, size_t bytes) { return real_ops(be)->host_alloc(be, bytes); }

static void timed_host_free(sg_backend *be, void *p) { real_ops(be)->host_free(be, p); }

static void timed_fence(sg_backend *be, int slot) { real_ops(be)->fence(be, slot); }

static int timed_fence_wait(sg_backend *be, int slot) { return real_ops(be)->fence_wait(be, slot); }

static void timed_draw_batch(sg_backend *be, float *c_trg, float *alpha, const float *c_org,
                             const sg_batch_draw *d)
{
    int slot = op_begin(be, "draw_batch N=%d c_dim=%d", d->n, d->c_dim);
    real_ops(be)->draw_batch(be, c_trg, alpha, c_org, d);
    op_end(be, slot);
}

static void timed_bias_leaky_relu(sg_backend *be, float *y, const float *bias, float slope, int N, int C,
                                  int HW)
{
    int slot = op_begin(be, "bias_leaky_relu N=%d C=%d HW=%d", N, C, HW);
    op_work(be, slot, 0, f32(2.0 * N * C * HW + C));
    real_ops(be)->bias_leaky_relu(be, y, bias, slope, N, C, HW);
    op_end(be, slot);
}

/* " n_bias=k": the bias gradient over the first k images (absent: the mask alone) */
static void timed_leaky_relu_backward_bias(sg_backend *be, float *dx, float *db, const float *dy, const float *x,
                                           float slope, int N, int C, int HW, int n_bias)
{
    int nb = db ? n_bias : 0;
    char extra[24] = "";
    if (nb > 0) snprintf(extra, sizeof extra, " n_bias=%d", nb);
    int slot = op_begin(be, "leaky_relu_backward_bias N=%d C=%d HW=%d%s", N, C, HW, extra);
    /* dy and x in, dx out, db written */
    op_work(be, slot, 0, f32(3.0 * N * C * HW + (nb > 0 ? C : 0)));
    real_ops(be)->leaky_relu_backward_bias(be, dx, db, dy, x, slope, N, C, HW, n_bias);
    op_end(be, slot);
}

static void timed_lane(sg_backend *be, int what) { real_ops(be)->lane(be, what); }

static const sg_backend_ops timed_ops_table = {
    /* destroy */ timed_destroy,
    /* sync */ timed_sync,
    /* alloc */ timed_alloc,
    /* free */ timed_free,
    /* upload */ timed_upload,
    /* download */ timed_download,
    /* copy */ timed_copy,
    /* memzero */ timed_memzero,
    /* fill */ timed_fill,
    /* conv2d_forward */ timed_conv2d_forward,
    /* conv2d_backward_data */ timed_conv2d_backward_data,
    /* conv2d_backward_filter */ timed_conv2d_backward_filter,
    /* instnorm_forward */ timed_instnorm_forward,
    /* instnorm_backward */ timed_instnorm_backward,
    /* leaky_relu_backward */ timed_leaky_relu_backward,
    /* tanh_forward */ timed_tanh_forward,
    /* tanh_backward */ timed_tanh_backward,
    /* add */ timed_add,
    /* lerp_images */ timed_lerp_images,
    /* concat_labels */ timed_concat_labels,
    /* channel_slice */ timed_channel_slice,
    /* mean_loss */ timed_mean_loss,
    /* bce_logits_loss */ timed_bce_logits_loss,
    /* softmax_ce_loss */ timed_softmax_ce_loss,
    /* l1_loss */ timed_l1_loss,
    /* gp_loss */ timed_gp_loss,
    /* adam */ timed_adam,
    /* all_finite */ timed_all_finite,
    /* graph_begin */ timed_graph_begin,
    /* graph_end */ timed_graph_end,
    /* graph_launch */ timed_graph_launch,
    /* graph_drop */ timed_graph_drop,
    /* to_layout */ timed_to_layout,
    /* from_layout */ timed_from_layout,
    /* host_alloc */ timed_host_alloc,
    /* host_free */ timed_host_free,
    /* fence */ timed_fence,
    /* fence_wait */ timed_fence_wait,
    /* draw_batch */ timed_draw_batch,
    /* bias_leaky_relu */ timed_bias_leaky_relu,
    /* leaky_relu_backward_bias */ timed_leaky_relu_backward_bias,
    /* lane */ timed_lane,
};

/* ---- public face ---------------------------------------------------------- */

void sg_cuda_op_times_free(sg_cuda *c)
{
    sg_op_times *t = c->op_times;
    if (!t) return;
    for (int i = 0; i < PENDING; i++) {
        if (t->ring[i].start) cudaEventDestroy(t->ring[i].start);
        if (t->ring[i].end) cudaEventDestroy(t->ring[i].end);
    }
    if (t->hold_end) cudaEventDestroy(t->hold_end);
    free(t->labels);
    free(t->index);
    free(t);
    c->op_times = NULL;
}

extern "C" int sg_backend_cuda_op_times_start(sg_backend *be, sg_err *err)
{
    if (!is_cuda(be))
        return sg_errf(err, "op timing needs the CUDA backend (this one is %s)", be && be->name ? be->name : "none");
    if (be->ops == &timed_ops_table) return 0;
    sg_cuda *c = sg_cuda_of(be);
    if (c->capturing >= 0)
        return sg_errf(err, "op timing cannot start while step graph %d is being recorded", c->capturing);
    if (be->ops->sync(be, err)) return sg_err_prefix(err, "op timing");
    if (!c->op_times) {
        sg_op_times *t = (sg_op_times *)calloc(1, sizeof *t);
        if (!t) return sg_err_oom(err, "op timing: out of host memory");
        c->op_times = t;
        for (int i = 0; i < PENDING; i++) {
            cudaError_t st = cudaEventCreate(&t->ring[i].start);
            if (st == cudaSuccess) st = cudaEventCreate(&t->ring[i].end);
            if (st != cudaSuccess) {
                cudaGetLastError();
                sg_cuda_op_times_free(c);
                return sg_errf(err, "op timing: cudaEventCreate: %s", cudaGetErrorString(st));
            }
        }
        cudaError_t st = cudaEventCreateWithFlags(&t->hold_end, cudaEventDisableTiming);
        if (st != cudaSuccess) {
            cudaGetLastError();
            sg_cuda_op_times_free(c);
            return sg_errf(err, "op timing: cudaEventCreate: %s", cudaGetErrorString(st));
        }
    }
    /* the sync above waited for lane 0, which had joined lane 1: no graph runs */
    sg_cuda_graphs_drop_all(c);
    c->op_times->real = be->ops;
    be->ops = &timed_ops_table;
    return 0;
}

extern "C" void sg_backend_cuda_op_times_stop(sg_backend *be)
{
    if (!is_cuda(be) || be->ops != &timed_ops_table) return;
    sg_cuda *c = sg_cuda_of(be);
    resolve_all(c);
    be->ops = c->op_times->real;
}

extern "C" void sg_backend_cuda_op_times_reset(sg_backend *be)
{
    if (!is_cuda(be) || !sg_cuda_of(be)->op_times) return;
    sg_op_times *t = sg_cuda_of(be)->op_times;
    t->head = t->count = 0;                   /* events recorded again when reused: legal */
    t->n_labels = 0;
    t->hold_open = 0;
    if (t->index) memset(t->index, 0, (size_t)t->index_size * sizeof *t->index);
}

/* ---- the hold (sg_backend_cuda_op_times_hold) ------------------------------
 * One thread sleeps until the global nanosecond timer has moved on by ns.
 * The emulation (tests/emu) runs a kernel when it is queued, before the host
 * goes on, so no kernel there can hold later work back (and it has neither
 * __nanosleep nor %globaltimer): its hold is empty, and _held says 0. */
__global__ void op_times_hold_kernel(unsigned long long ns)
{
#ifndef SG_EMU_CUDA_RUNTIME_H
    unsigned long long t0, t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
    do {
        __nanosleep(1000);
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    } while (t - t0 < ns);
#endif
}

extern "C" int sg_backend_cuda_op_times_hold(sg_backend *be, double ms, sg_err *err)
{
    if (!is_cuda(be) || be->ops != &timed_ops_table)
        return sg_errf(err, "op timing hold: op timing is not on (sg_backend_cuda_op_times_start)");
    sg_cuda *c = sg_cuda_of(be);
    sg_op_times *t = c->op_times;
    if (c->lane != 0) return sg_errf(err, "op timing hold: for lane 0, between steps (lane %d is active)", c->lane);
    if (!(ms >= 0 && ms <= 60e3)) return sg_errf(err, "op timing hold: %g ms (0 to 60000 expected)", ms);
    t->hold_open = 0;
    /* an error, earlier or here, is handed over as the sync hands it over
     * (recorded: it waits for nothing) */
    if (c->failed) return real_ops(be)->sync(be, err);
    op_times_hold_kernel<<<1, 1, 0, c->stream>>>((unsigned long long)(ms * 1e6));
    if (LAUNCH_CHECK(c, "op_times_hold_kernel") || CU_CHECK(c, cudaEventRecord(t->hold_end, c->stream)))
        return real_ops(be)->sync(be, err);
    t->hold_seq = t->recorded;
    t->hold_open = 1;
    t->hold_broken = 0;
    return 0;
}

extern "C" int sg_backend_cuda_op_times_held(sg_backend *be)
{
    if (!is_cuda(be) || !sg_cuda_of(be)->op_times || !sg_cuda_of(be)->op_times->hold_open) return 0;
    sg_cuda *c = sg_cuda_of(be);
    sg_op_times *t = c->op_times;
    t->hold_open = 0;
    if (t->hold_broken || c->failed) return 0;
    cudaError_t st = cudaEventQuery(t->hold_end);
    if (st == cudaErrorNotReady) {
        cudaGetLastError();                   /* not an error: nothing else is pending (LAUNCH_CHECK) */
        return 1;
    }
    CU_CHECK(c, st);                          /* an error is the backend's, for its next call */
    return 0;
}

/* The report being written: lines go in whole while they fit; `need`
 * counts what the whole report takes. */
struct report {
    char *buf;
    size_t size, written, need;
};

static void report_line(report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report_line(report *r, const char *fmt, ...)
{
    char line[LABEL_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (n >= (int)sizeof line) n = (int)sizeof line - 1;
    if (r->written == r->need && r->written + (size_t)n < r->size) {
        memcpy(r->buf + r->written, line, (size_t)n + 1);
        r->written += (size_t)n;
    }
    r->need += (size_t)n;
}

/* largest total first; equal totals by label, so the order is reproducible */
static int by_time(const void *a, const void *b)
{
    const op_label *x = *(const op_label *const *)a, *y = *(const op_label *const *)b;
    if (x->ms != y->ms) return x->ms > y->ms ? -1 : 1;
    return strcmp(x->text, y->text);
}

/* An op's totals over its labels (every shape, both lanes): the op is the
 * label's first word, text[0..len). */
struct op_total {
    const char *op;
    int len;
    double ms;
    long long calls;
    double flop, bytes, ms_flop, ms_bytes;   /* work done, and the time of the calls that did it */
};

/* The rate column: work over time, one word with 3 significant digits or
 * more ("-": no estimate, or no time), at most 15 characters (the
 * emulation's 1.15e-06TFLOP/s) */
static const char *rate_text(char *buf, size_t size, double flop, double ms_flop, double bytes, double ms_bytes)
{
    double v = 0;
    const char *unit = "";
    if (flop > 0 && ms_flop > 0) v = flop / ms_flop * 1e-9, unit = "TFLOP/s";
    else if (bytes > 0 && ms_bytes > 0) v = bytes / ms_bytes * 1e-6, unit = "GB/s";
    if (v <= 0) snprintf(buf, size, "-");
    else if (v >= 100) snprintf(buf, size, "%.0f%s", v, unit);
    else if (v >= 10) snprintf(buf, size, "%.1f%s", v, unit);
    else if (v >= 1) snprintf(buf, size, "%.2f%s", v, unit);
    else snprintf(buf, size, "%.3g%s", v, unit);   /* the emulation's, or a stalled op's */
    return buf;
}

/* largest total first; equal totals by op name */
static int by_op_time(const void *a, const void *b)
{
    const op_total *x = (const op_total *)a, *y = (const op_total *)b;
    if (x->ms != y->ms) return x->ms > y->ms ? -1 : 1;
    int c = strncmp(x->op, y->op, (size_t)(x->len < y->len ? x->len : y->len));
    return c ? c : x->len - y->len;
}

extern "C" int sg_backend_cuda_op_times_report(sg_backend *be, int iterations, double *sum_ms, char *buf,
                                               size_t size, sg_err *err)
{
    if (sum_ms) *sum_ms = 0;
    if (size) buf[0] = 0;
    if (!is_cuda(be))
        return sg_errf(err, "op timing needs the CUDA backend (this one is %s)", be && be->name ? be->name : "none");
    sg_cuda *c = sg_cuda_of(be);
    sg_op_times *t = c->op_times;
    if (!t) return sg_errf(err, "op timing was never started (sg_backend_cuda_op_times_start)");
    if (iterations < 1) return sg_errf(err, "op timing report: %d iterations (1 or more expected)", iterations);
    resolve_all(c);
    if (be->ops->sync(be, err)) return sg_err_prefix(err, "op timing");
    const op_label **order = (const op_label **)malloc(((size_t)t->n_labels + 1) * sizeof *order);
    op_total *ops = (op_total *)malloc(((size_t)t->n_labels + 1) * sizeof *ops);
    if (!order || !ops) {
        free(order);
        free(ops);
        return sg_err_oom(err, "op timing report: out of host memory");
    }
    double sum = 0;
    long long calls = 0;
    int n_ops = 0;
    for (int i = 0; i < t->n_labels; i++) {
        const op_label *l = &t->labels[i];
        order[i] = l;
        sum += l->ms;
        calls += l->calls;
        int len = (int)strcspn(l->text, " "), k = 0;
        while (k < n_ops && (ops[k].len != len || strncmp(ops[k].op, l->text, (size_t)len))) k++;
        if (k == n_ops) ops[n_ops++] = op_total{ l->text, len, 0, 0, 0, 0, 0, 0 };
        ops[k].ms += l->ms;
        ops[k].calls += l->calls;
        if (l->flop > 0) ops[k].flop += l->flop * l->calls, ops[k].ms_flop += l->ms;
        else if (l->bytes > 0) ops[k].bytes += l->bytes * l->calls, ops[k].ms_bytes += l->ms;
    }
    qsort(order, (size_t)t->n_labels, sizeof *order, by_time);
    report r = { buf, size, 0, 0 };
    char rate[32];
    /* rate: a convolution's multiply-adds x 2 per second, another op's
     * bytes of its operands (each read or written once) per second */
    report_line(&r, "%11s %10s %6s %9s %9s %15s  %s\n", "total_ms", "ms/it", "share", "calls", "calls/it", "rate",
                "op and shape");
    for (int i = 0; i < t->n_labels; i++) {
        const op_label *l = order[i];
        double work_ms = l->calls ? l->ms : 0;
        report_line(&r, "%11.4f %10.5f %5.1f%% %9lld %9.2f %15s  %s\n", l->ms, l->ms / iterations,
                    sum > 0 ? 100 * l->ms / sum : 0.0, l->calls, (double)l->calls / iterations,
                    rate_text(rate, sizeof rate, l->flop * l->calls, work_ms, l->bytes * l->calls, work_ms), l->text);
    }
    report_line(&r, "%11.4f %10.5f %5.1f%% %9lld %9.2f %15s  sum of %d label%s\n", sum, sum / iterations,
                sum > 0 ? 100.0 : 0.0, calls, (double)calls / iterations, "-", t->n_labels,
                t->n_labels == 1 ? "" : "s");
    qsort(ops, (size_t)n_ops, sizeof *ops, by_op_time);
    for (int i = 0; i < n_ops; i++)
        report_line(&r, "by op %10.5f ms/it %5.1f%% %9.2f calls/it %15s  %.*s\n", ops[i].ms / iterations,
                    sum > 0 ? 100 * ops[i].ms / sum : 0.0, (double)ops[i].calls / iterations,
                    rate_text(rate, sizeof rate, ops[i].flop, ops[i].ms_flop, ops[i].bytes, ops[i].ms_bytes),
                    ops[i].len, ops[i].op);
    free(order);
    free(ops);
    if (sum_ms) *sum_ms = sum;
    return r.need > 0x7fffffff ? 0x7fffffff : (int)r.need;
}
