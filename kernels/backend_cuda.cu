/* The CUDA backend: lifetime, memory, error recording and the ops table.
 * The ops themselves live in conv_cudnn.cu, instnorm.cu, elementwise.cu,
 * loss.cu and adam.cu. */
#include "cuda_backend.cuh"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sg_cuda_fail(sg_cuda *c, const char *file, int line, const char *fmt, ...)
{
    if (c->failed) return -1;               /* keep the first error: later ones are echoes */
    c->failed = 1;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sg_errf(&c->first_error, "%s:%d: %s", file, line, msg);
    return -1;
}

int sg_cuda_break_capture(sg_cuda *c, const char *file, int line, const char *why)
{
    if (c->capturing < 0 || c->failed) return sg_cuda_fail(c, file, line, "%s", why);
    c->capture_broken = 1;                  /* only when no real error came first */
    return sg_cuda_fail(c, file, line, "recording a step graph: %s", why);
}

/* The called function's name out of the stringified call "f(args...)". */
static int call_name_len(const char *what)
{
    const char *paren = strchr(what, '(');
    return paren ? (int)(paren - what) : (int)strlen(what);
}

int sg_cuda_check_rt(sg_cuda *c, cudaError_t st, const char *what, const char *file, int line)
{
    if (st == cudaSuccess) return 0;
    /* cleared once recorded (a sticky error stays whatever is done): the
     * next call's check then reports its own failure, not this one again */
    cudaGetLastError();
    return sg_cuda_fail(c, file, line, "%.*s: %s (%s)", call_name_len(what), what,
                        cudaGetErrorString(st), cudaGetErrorName(st));
}

int sg_cuda_check_dnn(sg_cuda *c, cudnnStatus_t st, const char *what, const char *file, int line)
{
    if (st == CUDNN_STATUS_SUCCESS) return 0;
    char detail[384] = "";
    cudnnGetLastErrorString(detail, sizeof detail);     /* cuDNN 9: why, when it knows */
    for (char *q = detail; *q; q++)
        if (*q == '\n') *q = ' ';
    return sg_cuda_fail(c, file, line, "%.*s: %s%s%s", call_name_len(what), what,
                        cudnnGetErrorString(st), detail[0] ? ": " : "", detail);
}

/* cudaMalloc, failing the backend with the size and the device's free
 * memory (what a user needs to choose a smaller batch or model) */
static int device_malloc(sg_cuda *c, void **p, size_t bytes, const char *what, const char *file, int line)
{
    cudaError_t st = cudaMalloc(p, bytes);
    if (st == cudaSuccess) return 0;
    size_t free_b = 0, total_b = 0;
    *p = NULL;
    cudaGetLastError();                     /* an allocation failure is not sticky */
    cudaMemGetInfo(&free_b, &total_b);
    return sg_cuda_fail(c, file, line, "cudaMalloc of %zu bytes%s%s%s: %s (%.2f GiB free of %.2f GiB on %s)",
                        bytes, what ? " (" : "", what ? what : "", what ? ")" : "", cudaGetErrorString(st),
                        free_b / 1073741824.0, total_b / 1073741824.0, c->device_name);
}

int sg_cuda_sync_lanes(sg_cuda *c)
{
    if (CU_CHECK(c, cudaStreamSynchronize(c->stream))) return -1;
    return c->parked.stream ? CU_CHECK(c, cudaStreamSynchronize(c->parked.stream)) : 0;
}

int sg_cuda_grow_buffer(sg_cuda *c, void **buf, size_t *bytes, size_t need, size_t min_bytes,
                        const char *why)
{
    if (need <= *bytes) return 0;
    cudaStreamCaptureStatus cap = cudaStreamCaptureStatusNone;
    if (CU_CHECK(c, cudaStreamIsCapturing(c->stream, &cap))) return -1;
    if (cap != cudaStreamCaptureStatusNone) return sg_cuda_break_capture(c, __FILE__, __LINE__, why);
    if (*buf) {
        if (sg_cuda_sync_lanes(c)) return -1;
        sg_cuda_graphs_drop_all(c);             /* they hold the old pointer */
        if (CU_CHECK(c, cudaFree(*buf))) return -1;
        *buf = NULL;
        *bytes = 0;
    }
    size_t want = need < min_bytes ? min_bytes : need;
    if (device_malloc(c, buf, want, why, __FILE__, __LINE__)) return -1;
    *bytes = want;
    return 0;
}

float *sg_cuda_scratch(sg_cuda *c, size_t n)
{
    if (c->failed) return NULL;
    /* 4 MiB at least: few regrowths */
    if (sg_cuda_grow_buffer(c, (void **)&c->scratch, &c->scratch_bytes, n * sizeof(float), (size_t)4 << 20,
                            "the scratch buffer must grow"))
        return NULL;
    return c->scratch;
}

/* ---- lifetime and memory ------------------------------------------------ */

static void cuda_destroy(sg_backend *be)
{
    if (!be) return;
    sg_cuda *c = sg_cuda_of(be);
    if (c) {
        cudaSetDevice(c->device);
        if (c->capturing >= 0) {
            cudaGraph_t g = NULL;
            cudaStreamEndCapture(c->stream, &g);
            if (g) cudaGraphDestroy(g);
        }
        if (c->stream) cudaStreamSynchronize(c->stream);
        if (c->parked.stream) cudaStreamSynchronize(c->parked.stream);
        sg_cuda_graphs_drop_all(c);
        sg_cuda_op_times_free(c);
        sg_cuda_conv_plans_destroy(c);
        sg_conv_gemm_destroy(c);
        free(c->wishes);
        if (c->cudnn) cudnnDestroy(c->cudnn);
        if (c->parked.cudnn) cudnnDestroy(c->parked.cudnn);
        cudaFree(c->workspace);
        cudaFree(c->partials);
        cudaFree(c->scratch);
        cudaFree(c->bf16_scratch);
        cudaFree(c->pad3_scratch);
        cudaFree(c->parked.workspace);
        cudaFree(c->parked.partials);
        cudaFree(c->parked.scratch);
        cudaFree(c->parked.bf16_scratch);
        cudaFree(c->parked.pad3_scratch);
        if (c->parked.stream) cudaStreamDestroy(c->parked.stream);
        if (c->lane_fork_event) cudaEventDestroy(c->lane_fork_event);
        if (c->lane_join_event) cudaEventDestroy(c->lane_join_event);
        cudaFree(c->flag_dev);
        cudaFree(c->adam_hyper);
        if (c->flag_host) cudaFreeHost(c->flag_host);
        for (int i = 0; i < 8; i++)
            if (c->fences[i]) cudaEventDestroy(c->fences[i]);
        if (c->stream) cudaStreamDestroy(c->stream);
        free(c);
    }
    free(be);
}

static int cuda_sync(sg_backend *be, sg_err *err)
{
    sg_cuda *c = sg_cuda_of(be);
    sg_cuda_lane_home(c);
    if (!c->failed) CU_CHECK(c, cudaStreamSynchronize(c->stream));
    if (!c->failed) return 0;
    if (err) *err = c->first_error;
    c->failed = 0;                          /* handed over: the caller decides what next */
    c->first_error.msg[0] = 0;
    return -1;
}

static void *cuda_alloc(sg_backend *be, size_t bytes)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed) return NULL;
    void *p = NULL;
    if (bytes == 0) bytes = 1;
    if (device_malloc(c, &p, bytes, NULL, __FILE__, __LINE__)) return NULL;
    if (CU_CHECK(c, cudaMemsetAsync(p, 0, bytes, c->stream))) { cudaFree(p); return NULL; }
    return p;
}

static void cuda_free(sg_backend *be, void *p)
{
    if (!p) return;
    sg_cuda *c = sg_cuda_of(be);
    /* cudaFree "may" synchronize, no more: both lanes' queued work that may
     * use p is waited for first (idle streams cost next to nothing) */
    sg_cuda_sync_lanes(c);
    cudaError_t st = cudaFree(p);
    if (st != cudaSuccess) sg_cuda_check_rt(c, st, "cudaFree", __FILE__, __LINE__);
}

/* Whether [p, p + bytes) lies in one block of host_alloc (page-locked). */
static int host_pinned(const sg_cuda *c, const void *p, size_t bytes)
{
    uintptr_t a = (uintptr_t)p;
    for (int i = 0; i < c->n_pinned; i++) {
        uintptr_t b = (uintptr_t)c->pinned[i].p;
        if (a >= b && a - b <= c->pinned[i].bytes && bytes <= c->pinned[i].bytes - (a - b)) return 1;
    }
    return 0;
}

static void cuda_upload(sg_backend *be, void *dst, const void *host_src, size_t bytes)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed || bytes == 0) return;
    if (CU_CHECK(c, cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, c->stream))) return;
    /* From pageable memory cudaMemcpyAsync "might be synchronous"; CUDA
     * promises that host_src was staged on return only for cudaMemcpy. The
     * caller may reuse it at once (lib/backend.h), so wait for the copy:
     * batches come from host_alloc memory, uploads from elsewhere are rare
     * (weights, tests). Never inside a recording, which has no uploads. */
    if (!host_pinned(c, host_src, bytes) && c->capturing < 0)
        CU_CHECK(c, cudaStreamSynchronize(c->stream));
}

static void cuda_download(sg_backend *be, void *host_dst, const void *src, size_t bytes)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed || bytes == 0) return;
    if (CU_CHECK(c, cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, c->stream))) return;
    CU_CHECK(c, cudaStreamSynchronize(c->stream));
}

static void cuda_copy(sg_backend *be, void *dst, const void *src, size_t bytes)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed || bytes == 0 || dst == src) return;
    CU_CHECK(c, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, c->stream));
}

static void cuda_memzero(sg_backend *be, void *p, size_t bytes)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed || bytes == 0) return;
    CU_CHECK(c, cudaMemsetAsync(p, 0, bytes, c->stream));
}

static void *cuda_host_alloc(sg_backend *be, size_t bytes)
{
    sg_cuda *c = sg_cuda_of(be);
    void *p = NULL;
    if (c->failed) return NULL;
    if (CU_CHECK(c, cudaMallocHost(&p, bytes ? bytes : 1))) return NULL;
    memset(p, 0, bytes);
    if (c->n_pinned < SG_CUDA_PINNED) {     /* untracked: uploads from it wait, no more */
        c->pinned[c->n_pinned].p = p;
        c->pinned[c->n_pinned++].bytes = bytes;
    }
    return p;
}

static void cuda_host_free(sg_backend *be, void *p)
{
    sg_cuda *c = sg_cuda_of(be);
    if (!p) return;
    for (int i = 0; i < c->n_pinned; i++)
        if (c->pinned[i].p == p) c->pinned[i] = c->pinned[--c->n_pinned];
    sg_cuda_sync_lanes(c);                       /* an upload from p may be in flight */
    cudaFreeHost(p);
}

static void cuda_fence(sg_backend *be, int slot)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed) return;
    if (slot < 0 || slot >= SG_BACKEND_FENCES) {
        sg_cuda_fail(c, __FILE__, __LINE__, "fence slot %d out of range (0..%d)", slot, SG_BACKEND_FENCES - 1);
        return;
    }
    if (!c->fences[slot] &&
        CU_CHECK(c, cudaEventCreateWithFlags(&c->fences[slot], cudaEventDisableTiming)))
        return;
    CU_CHECK(c, cudaEventRecord(c->fences[slot], c->stream));
}

static int cuda_fence_wait(sg_backend *be, int slot)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed) return -1;
    if (slot < 0 || slot >= SG_BACKEND_FENCES || !c->fences[slot]) return 0;   /* nothing marked */
    return CU_CHECK(c, cudaEventSynchronize(c->fences[slot]));
}

/* ---- lanes ------------------------------------------------------------- */

#define SWAP_FIELD(f) do { auto t_ = c->f; c->f = c->parked.f; c->parked.f = t_; } while (0)

/* Makes the other lane the active one: its stream and buffers take the
 * place of the current lane's in sg_cuda, which ops use. */
static void lane_swap(sg_cuda *c)
{
    SWAP_FIELD(stream);
    if (!c->shared_cudnn) SWAP_FIELD(cudnn);
    SWAP_FIELD(workspace);
    SWAP_FIELD(workspace_size);
    SWAP_FIELD(partials);
    SWAP_FIELD(scratch);
    SWAP_FIELD(scratch_bytes);
    SWAP_FIELD(bf16_scratch);
    SWAP_FIELD(bf16_scratch_bytes);
    SWAP_FIELD(pad3_scratch);
    SWAP_FIELD(pad3_scratch_bytes);
    SWAP_FIELD(cublas);                 /* one per lane always: bound to its stream */
    SWAP_FIELD(cublas_ws);
    SWAP_FIELD(cublas_ws_bytes);
    SWAP_FIELD(col_scratch);
    SWAP_FIELD(col_scratch_bytes);
    c->lane ^= 1;
    if (c->shared_cudnn) DNN_CHECK(c, cudnnSetStream(c->cudnn, c->stream));
}

/* Events order the lanes: recorded on one stream, waited for on the other
 * (inside a graph recording this forks and joins its branches). After an
 * error the ops are skipped but the lane still changes, so the next op
 * (and graph_end) finds lane 0 where the caller expects it; and a fork that
 * ran is joined even then, so that a recording broken on lane 1 (a buffer
 * had to grow) ends joined and is run eagerly, not reported unjoined. */
static void lane_to(sg_cuda *c, int what)
{
    switch (what) {
    case SG_LANE_FORK: {
        if (c->lane == 1) return;
        int ok = !c->failed && !CU_CHECK(c, cudaEventRecord(c->lane_fork_event, c->stream));
        lane_swap(c);
        if (ok && !CU_CHECK(c, cudaStreamWaitEvent(c->stream, c->lane_fork_event, 0))) c->lane_forked = 1;
        return;
    }
    case SG_LANE_MAIN:
        if (c->lane == 1) lane_swap(c);
        return;
    case SG_LANE_JOIN:
        if (c->lane == 1) lane_swap(c);
        if (!c->lane_forked) return;
        c->lane_forked = 0;
        if (c->failed) {                          /* the first error stays the one reported */
            cudaEventRecord(c->lane_join_event, c->parked.stream);
            cudaStreamWaitEvent(c->stream, c->lane_join_event, 0);
            cudaGetLastError();
        } else if (!CU_CHECK(c, cudaEventRecord(c->lane_join_event, c->parked.stream))) {
            CU_CHECK(c, cudaStreamWaitEvent(c->stream, c->lane_join_event, 0));
        }
        return;
    default:
        sg_cuda_fail(c, __FILE__, __LINE__, "lane(%d): expected SG_LANE_FORK, _MAIN or _JOIN", what);
    }
}

static void cuda_lane(sg_backend *be, int what) { lane_to(sg_cuda_of(be), what); }

void sg_cuda_lane_home(sg_cuda *c)
{
    if (c->lane == 1 || c->lane_forked) lane_to(c, SG_LANE_JOIN);
}

static const sg_backend_ops cuda_ops = {
    /* destroy */ cuda_destroy,
    /* sync */ cuda_sync,
    /* alloc */ cuda_alloc,
    /* free */ cuda_free,
    /* upload */ cuda_upload,
    /* download */ cuda_download,
    /* copy */ cuda_copy,
    /* memzero */ cuda_memzero,
    /* fill */ sg_cuda_fill,
    /* conv2d_forward */ sg_cuda_conv2d_forward,
    /* conv2d_backward_data */ sg_cuda_conv2d_backward_data,
    /* conv2d_backward_filter */ sg_cuda_conv2d_backward_filter,
    /* instnorm_forward */ sg_cuda_instnorm_forward,
    /* instnorm_backward */ sg_cuda_instnorm_backward,
    /* leaky_relu_backward */ sg_cuda_leaky_relu_backward,
    /* tanh_forward */ sg_cuda_tanh_forward,
    /* tanh_backward */ sg_cuda_tanh_backward,
    /* add */ sg_cuda_add,
    /* lerp_images */ sg_cuda_lerp_images,
    /* concat_labels */ sg_cuda_concat_labels,
    /* channel_slice */ sg_cuda_channel_slice,
    /* mean_loss */ sg_cuda_mean_loss,
    /* bce_logits_loss */ sg_cuda_bce_logits_loss,
    /* softmax_ce_loss */ sg_cuda_softmax_ce_loss,
    /* l1_loss */ sg_cuda_l1_loss,
    /* gp_loss */ sg_cuda_gp_loss,
    /* adam */ sg_cuda_adam,
    /* all_finite */ sg_cuda_all_finite,
    /* graph_begin */ sg_cuda_graph_begin,
    /* graph_end */ sg_cuda_graph_end,
    /* graph_launch */ sg_cuda_graph_launch,
    /* graph_drop */ sg_cuda_graph_drop,
    /* to_layout */ sg_cuda_to_layout,
    /* from_layout */ sg_cuda_from_layout,
    /* host_alloc */ cuda_host_alloc,
    /* host_free */ cuda_host_free,
    /* fence */ cuda_fence,
    /* fence_wait */ cuda_fence_wait,
    /* draw_batch */ sg_cuda_draw_batch,
    /* bias_leaky_relu */ sg_cuda_bias_leaky_relu,
    /* leaky_relu_backward_bias */ sg_cuda_leaky_relu_backward_bias,
    /* lane */ cuda_lane,
};

/* A probe kernel: proves that this build's machine code runs on the device
 * (a GPU the build has no kernels for fails here with "no kernel image"). */
__global__ void probe_kernel(int *flag) { *flag = 0x5a; }

static sg_backend *create_fail(sg_backend *be, sg_cuda *c, sg_err *err)
{
    if (err && c) *err = c->first_error;
    if (be) { be->impl = c; cuda_destroy(be); }
    else free(c);
    return NULL;
}

/* The precision's name, as sg-train's --precision spells it. */
static int parse_precision(const char *precision, int *prec, sg_err *err)
{
    if (!precision || !*precision) precision = SG_PRECISION_DEFAULT;
    if (!strcmp(precision, "tf32")) *prec = SG_CUDA_TF32;
    else if (!strcmp(precision, "fp32")) *prec = SG_CUDA_FP32;
    else if (!strcmp(precision, "bf16")) *prec = SG_CUDA_BF16;    /* kernels/conv_cudnn.cu */
    else return sg_errf(err, "unknown precision '%s' (expected tf32, fp32 or bf16)", precision);
    return 0;
}

/* That the driver loads and `device` exists, in the words a user acts on
 * (no driver, an old one, no GPU, a device number out of range). */
static int check_device(int device, sg_err *err)
{
    int count = 0;
    cudaError_t st = cudaGetDeviceCount(&count);
    if (st == cudaErrorInsufficientDriver) {
        int drv = 0, rt = 0;
        cudaDriverGetVersion(&drv);
        cudaRuntimeGetVersion(&rt);
        if (drv == 0) return sg_errf(err, "no CUDA GPU found (no NVIDIA driver is loaded: libcuda.so is missing)");
        return sg_errf(err, "the NVIDIA driver is too old: it supports CUDA %d.%d, this build needs %d.%d",
                       drv / 1000, drv % 1000 / 10, rt / 1000, rt % 1000 / 10);
    }
    if (st == cudaErrorNoDevice || (st == cudaSuccess && count == 0)) return sg_errf(err, "no CUDA GPU found");
    if (st != cudaSuccess)
        return sg_errf(err, "no usable CUDA GPU: cudaGetDeviceCount: %s (%s)", cudaGetErrorString(st),
                       cudaGetErrorName(st));
    if (device < 0 || device >= count)
        return sg_errf(err, "CUDA device %d does not exist (%d device%s present)", device, count,
                       count == 1 ? "" : "s");
    return 0;
}

/* The A/B switches (sg_cuda_switches_read, lib/backend_open.c; the defaults
 * are what bench/NOTES.md measured fastest): cuDNN's workspace cap; how
 * convolution engines are chosen (conv_cudnn.cu, conv_engines.cu: timed by
 * default, like cudnn.benchmark, the choices kept in sg-train's run
 * directory so that a resume makes the same ones; heuristic, legacy v7
 * heuristics, v7 find); 3-channel operands padded by the backend; the
 * lanes' cuDNN handles (struct sg_cuda_lane); runtime-compiled and
 * nondeterministic engines; step graphs; NHWC or NCHW; NHWC instance norm
 * in one pass per plane where it fits (instnorm.cu); convolutions with few
 * output pixels as im2col + cuBLAS (conv_gemm.cu). */
static void apply_switches(sg_cuda *c, sg_backend *be, const sg_cuda_switches *sw)
{
    static const int search_modes[] = {SG_SEARCH_LEGACY, SG_SEARCH_FIND, SG_SEARCH_HEURISTIC, SG_SEARCH_TIMED};
    c->workspace_limit = sw->workspace_limit;
    c->search = search_modes[sw->search];
    c->pad3 = sw->pad3;
    c->shared_cudnn = sw->shared_cudnn;
    c->allow_rtc = sw->allow_rtc;
    c->allow_nondet = sw->allow_nondet;
    c->capturing = -1;
    c->graphs_enabled = sw->graphs;
    c->nhwc = sw->nhwc;
    c->in_fused = sw->in_fused;
    c->gemm_max_pixels = sw->gemm_max_pixels;
    be->nhwc = c->nhwc;
}

/* The architectures the Makefile compiled for (CUDA_ARCH); the oldest is
 * the oldest GPU that can run them. */
#ifndef SG_CUDA_ARCH_MIN
#define SG_CUDA_ARCH_MIN 90
#define SG_CUDA_ARCHS "90"
#endif

/* The device and its properties (at least the compute capability the build
 * targets); cuDNN was loaded and its version checked before
 * (kernels/cudnn_api.cu). */
static int open_device(sg_cuda *c)
{
    if (CU_CHECK(c, cudaSetDevice(c->device))) return -1;
    cudaDeviceProp prop;
    if (CU_CHECK(c, cudaGetDeviceProperties(&prop, c->device))) return -1;
    snprintf(c->device_name, sizeof c->device_name, "%s", prop.name);
    c->sm_count = prop.multiProcessorCount > 0 ? prop.multiProcessorCount : 1;
    if (prop.major * 10 + prop.minor < SG_CUDA_ARCH_MIN)
        return sg_cuda_fail(c, __FILE__, __LINE__, "%s has compute capability %d.%d; this build was "
                            "compiled for CUDA_ARCH=%s (sm_%d or newer): rebuild with make CUDA_ARCH=%d%d "
                            "(untested; the kernels are tested on sm_90)", prop.name, prop.major, prop.minor,
                            SG_CUDA_ARCHS, SG_CUDA_ARCH_MIN, prop.major, prop.minor);
    return 0;
}

/* Lane 0 (every op unless ops->lane moved them) at the device's highest
 * stream priority, lane 1 at its lowest: where both have work, the block
 * scheduler serves lane 0's (a step's own chain, e.g. the D step's small,
 * latency-bound kernels) first, and lane 1's (the work the model put beside
 * it, e.g. a G forward's large convolutions) fills what is left.
 * lane_priority 0 (SG_CUDA_LANE_PRIORITY=0): both at the default (A/B
 * timing). Step graphs keep the priorities (graph.cu). Each lane's stream,
 * cuDNN handle and reduction partials are made now, lane 1's scratch and
 * workspace when its first ops need them. */
static int open_lanes(sg_cuda *c, int lane_priority)
{
    int least = 0, greatest = 0;
    if (lane_priority && CU_CHECK(c, cudaDeviceGetStreamPriorityRange(&least, &greatest))) return -1;
    if (CU_CHECK(c, cudaStreamCreateWithPriority(&c->stream, cudaStreamNonBlocking, greatest)) ||
        DNN_CHECK(c, cudnnCreate(&c->cudnn)) || DNN_CHECK(c, cudnnSetStream(c->cudnn, c->stream)) ||
        CU_CHECK(c, cudaMalloc((void **)&c->partials, SG_CUDA_PARTIALS * sizeof(float))))
        return -1;
    if (CU_CHECK(c, cudaStreamCreateWithPriority(&c->parked.stream, cudaStreamNonBlocking, least)) ||
        (!c->shared_cudnn && (DNN_CHECK(c, cudnnCreate(&c->parked.cudnn)) ||
                              DNN_CHECK(c, cudnnSetStream(c->parked.cudnn, c->parked.stream)))) ||
        CU_CHECK(c, cudaMalloc((void **)&c->parked.partials, SG_CUDA_PARTIALS * sizeof(float))) ||
        CU_CHECK(c, cudaEventCreateWithFlags(&c->lane_fork_event, cudaEventDisableTiming)) ||
        CU_CHECK(c, cudaEventCreateWithFlags(&c->lane_join_event, cudaEventDisableTiming)))
        return -1;
    return 0;
}

/* The backend's own small buffers: the probe's flag (device and pinned
 * host), Adam's per-graph hyperparameters, the first scratch. */
static int alloc_buffers(sg_cuda *c)
{
    if (CU_CHECK(c, cudaMalloc((void **)&c->flag_dev, sizeof(int))) ||
        CU_CHECK(c, cudaMalloc((void **)&c->adam_hyper, 2 * SG_CUDA_GRAPHS * sizeof(float))) ||
        CU_CHECK(c, cudaMallocHost((void **)&c->flag_host, sizeof(int))))
        return -1;
    return sg_cuda_scratch(c, 1u << 20) ? 0 : -1;
}

/* One kernel run and its result read back: a device that takes launches
 * but runs nothing (a broken driver, a kernel image for another
 * architecture) fails here, at start, in one line. */
static int probe_device(sg_cuda *c)
{
    probe_kernel<<<1, 1, 0, c->stream>>>(c->flag_dev);
    if (LAUNCH_CHECK(c, "probe_kernel")) return -1;
    *c->flag_host = 0;
    if (CU_CHECK(c, cudaMemcpyAsync(c->flag_host, c->flag_dev, sizeof(int), cudaMemcpyDeviceToHost, c->stream)) ||
        CU_CHECK(c, cudaStreamSynchronize(c->stream)))
        return -1;
    if (*c->flag_host != 0x5a)
        return sg_cuda_fail(c, __FILE__, __LINE__, "probe kernel on %s did not run", c->device_name);
    return 0;
}

extern "C" sg_backend *sg_backend_cuda_create_switches(int device, const char *precision,
                                                       const sg_cuda_switches *sw, sg_err *err)
{
    int prec = 0;
    const char *why;
    if (parse_precision(precision, &prec, err)) return NULL;
    /* cuDNN first: a library that is not installed is said as such, before
     * the driver is started; but where there is no GPU (a CPU node), that is
     * what to say, which cuDNN would not change */
    if (sg_cudnn_load(&why)) {
        if (check_device(device, err)) return NULL;
        sg_errf(err, "%s", why);
        return NULL;
    }
    if (check_device(device, err)) return NULL;
    sg_backend *be = (sg_backend *)calloc(1, sizeof *be);
    sg_cuda *c = (sg_cuda *)calloc(1, sizeof *c);
    if (!be || !c) {
        free(be); free(c);
        sg_errf(err, "out of host memory creating the CUDA backend");
        return NULL;
    }
    c->device = device;
    c->precision = prec;
    apply_switches(c, be, sw);
    be->name = "cuda";
    be->ops = &cuda_ops;
    if (open_device(c) || sg_conv_gemm_open(c, sw->gemm_asked) || open_lanes(c, sw->lane_priority) ||
        alloc_buffers(c) || probe_device(c))
        return create_fail(be, c, err);
    be->impl = c;
    return be;
}

extern "C" const char *sg_backend_cuda_device_name(sg_backend *be)
{
    return sg_cuda_of(be)->device_name;
}

const char *sg_cuda_precision_name(int precision)
{
    return precision == SG_CUDA_FP32 ? "fp32" : precision == SG_CUDA_BF16 ? "bf16" : "tf32";
}

extern "C" const char *sg_backend_cuda_precision(sg_backend *be)
{
    return sg_cuda_precision_name(sg_cuda_of(be)->precision);
}

extern "C" int sg_backend_cuda_allows_nondet(sg_backend *be)
{
    return sg_cuda_of(be)->allow_nondet;
}
