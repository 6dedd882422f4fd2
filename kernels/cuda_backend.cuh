/* Private state and helpers of the CUDA backend (kernels/*.cu). The public
 * face is lib/backend.h: sg_backend_cuda_create_precision and the ops table.
 *
 * Every op is queued on one stream and never synchronises, so a whole D or G
 * step can be captured into a CUDA graph; the only host syncs are ops->sync,
 * download and all_finite (and, while op timing is on, a full ring of
 * pending events: kernels/op_times.cu). The first CUDA/cuDNN error is
 * recorded with the file and line that saw it; later ops are skipped until
 * ops->sync hands the error to the caller (lib/backend.h "Errors"). */
#ifndef SG_CUDA_BACKEND_CUH
#define SG_CUDA_BACKEND_CUH
#include <cuda_runtime.h>
#include <cudnn.h>
#include <cublas_v2.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
#include "backend.h"
#include "engines_file.h"
#include "error.h"
}

/* cuDNN is loaded (dlopen) when a CUDA backend starts (kernels/cudnn_api.cu),
 * not linked: a CUDA build's tools then start, and run --device cpu, on a
 * machine without cuDNN, and --device cuda says in one line what is
 * missing. Every cuDNN function the backend calls is listed here; the
 * macros below send each call through the loaded table, so call sites read
 * as cuDNN's own and DNN_CHECK's messages name the function. A call of one
 * not listed fails to link (nothing links libcudnn). The emulated build
 * (tests/emu) binds the table to tests/emu/cudnn_emu.cc. */
#define SG_CUDNN_FUNCTIONS(X)                                                                              \
    X(cudnnGetVersion) X(cudnnGetErrorString) X(cudnnGetLastErrorString)                                   \
    X(cudnnCreate) X(cudnnDestroy) X(cudnnSetStream)                                                       \
    X(cudnnCreateTensorDescriptor) X(cudnnSetTensor4dDescriptor) X(cudnnDestroyTensorDescriptor)           \
    X(cudnnCreateFilterDescriptor) X(cudnnSetFilter4dDescriptor) X(cudnnDestroyFilterDescriptor)           \
    X(cudnnCreateConvolutionDescriptor) X(cudnnSetConvolution2dDescriptor)                                 \
    X(cudnnSetConvolutionMathType) X(cudnnDestroyConvolutionDescriptor)                                    \
    X(cudnnGetConvolutionForwardAlgorithm_v7) X(cudnnGetConvolutionBackwardDataAlgorithm_v7)               \
    X(cudnnGetConvolutionBackwardFilterAlgorithm_v7) X(cudnnFindConvolutionForwardAlgorithm)               \
    X(cudnnFindConvolutionBackwardDataAlgorithm) X(cudnnFindConvolutionBackwardFilterAlgorithm)            \
    X(cudnnGetConvolutionForwardWorkspaceSize) X(cudnnGetConvolutionBackwardDataWorkspaceSize)             \
    X(cudnnGetConvolutionBackwardFilterWorkspaceSize) X(cudnnConvolutionForward)                           \
    X(cudnnConvolutionBackwardData) X(cudnnConvolutionBackwardFilter)                                      \
    X(cudnnBackendCreateDescriptor) X(cudnnBackendDestroyDescriptor) X(cudnnBackendSetAttribute)           \
    X(cudnnBackendGetAttribute) X(cudnnBackendFinalize) X(cudnnBackendExecute)
/* the headers' own prototypes: a field cannot disagree with cuDNN's */
struct sg_cudnn_api {
#define SG_CUDNN_FIELD(name) decltype(&::name) name;
    SG_CUDNN_FUNCTIONS(SG_CUDNN_FIELD)
#undef SG_CUDNN_FIELD
};
extern sg_cudnn_api sg_cudnn;
/* Loads cuDNN, once per process (at every CUDA backend's creation, before
 * the device is touched). 0, or -1 with *why the reason, one line naming the
 * library and what to do. */
int sg_cudnn_load(const char **why);

/* kernels/cudnn_api.cu alone defines SG_CUDNN_NO_REDIRECT: it names the real
 * functions. */
#ifndef SG_CUDNN_NO_REDIRECT
#define cudnnGetVersion (sg_cudnn.cudnnGetVersion)
#define cudnnGetErrorString (sg_cudnn.cudnnGetErrorString)
#define cudnnGetLastErrorString (sg_cudnn.cudnnGetLastErrorString)
#define cudnnCreate (sg_cudnn.cudnnCreate)
#define cudnnDestroy (sg_cudnn.cudnnDestroy)
#define cudnnSetStream (sg_cudnn.cudnnSetStream)
#define cudnnCreateTensorDescriptor (sg_cudnn.cudnnCreateTensorDescriptor)
#define cudnnSetTensor4dDescriptor (sg_cudnn.cudnnSetTensor4dDescriptor)
#define cudnnDestroyTensorDescriptor (sg_cudnn.cudnnDestroyTensorDescriptor)
#define cudnnCreateFilterDescriptor (sg_cudnn.cudnnCreateFilterDescriptor)
#define cudnnSetFilter4dDescriptor (sg_cudnn.cudnnSetFilter4dDescriptor)
#define cudnnDestroyFilterDescriptor (sg_cudnn.cudnnDestroyFilterDescriptor)
#define cudnnCreateConvolutionDescriptor (sg_cudnn.cudnnCreateConvolutionDescriptor)
#define cudnnSetConvolution2dDescriptor (sg_cudnn.cudnnSetConvolution2dDescriptor)
#define cudnnSetConvolutionMathType (sg_cudnn.cudnnSetConvolutionMathType)
#define cudnnDestroyConvolutionDescriptor (sg_cudnn.cudnnDestroyConvolutionDescriptor)
#define cudnnGetConvolutionForwardAlgorithm_v7 (sg_cudnn.cudnnGetConvolutionForwardAlgorithm_v7)
#define cudnnGetConvolutionBackwardDataAlgorithm_v7 (sg_cudnn.cudnnGetConvolutionBackwardDataAlgorithm_v7)
#define cudnnGetConvolutionBackwardFilterAlgorithm_v7 (sg_cudnn.cudnnGetConvolutionBackwardFilterAlgorithm_v7)
#define cudnnFindConvolutionForwardAlgorithm (sg_cudnn.cudnnFindConvolutionForwardAlgorithm)
#define cudnnFindConvolutionBackwardDataAlgorithm (sg_cudnn.cudnnFindConvolutionBackwardDataAlgorithm)
#define cudnnFindConvolutionBackwardFilterAlgorithm (sg_cudnn.cudnnFindConvolutionBackwardFilterAlgorithm)
#define cudnnGetConvolutionForwardWorkspaceSize (sg_cudnn.cudnnGetConvolutionForwardWorkspaceSize)
#define cudnnGetConvolutionBackwardDataWorkspaceSize (sg_cudnn.cudnnGetConvolutionBackwardDataWorkspaceSize)
#define cudnnGetConvolutionBackwardFilterWorkspaceSize (sg_cudnn.cudnnGetConvolutionBackwardFilterWorkspaceSize)
#define cudnnConvolutionForward (sg_cudnn.cudnnConvolutionForward)
#define cudnnConvolutionBackwardData (sg_cudnn.cudnnConvolutionBackwardData)
#define cudnnConvolutionBackwardFilter (sg_cudnn.cudnnConvolutionBackwardFilter)
#define cudnnBackendCreateDescriptor (sg_cudnn.cudnnBackendCreateDescriptor)
#define cudnnBackendDestroyDescriptor (sg_cudnn.cudnnBackendDestroyDescriptor)
#define cudnnBackendSetAttribute (sg_cudnn.cudnnBackendSetAttribute)
#define cudnnBackendGetAttribute (sg_cudnn.cudnnBackendGetAttribute)
#define cudnnBackendFinalize (sg_cudnn.cudnnBackendFinalize)
#define cudnnBackendExecute (sg_cudnn.cudnnBackendExecute)
#endif

/* The convolutions' arithmetic (lib/backend.h). SG_CUDA_BF16: cuDNN runs on
 * bf16 copies of the float operands (kernels/conv_cudnn.cu); every other op
 * and every tensor in memory stays float32. */
enum { SG_CUDA_TF32 = 0, SG_CUDA_FP32 = 1, SG_CUDA_BF16 = 2 };

/* Which cuDNN call a cached algorithm is for. */
enum { SG_CONV_FWD = 0, SG_CONV_BWD_DATA = 1, SG_CONV_BWD_FILTER = 2, SG_CONV_KINDS = 3 };

/* How convolution algorithms are chosen (SG_CUDNN_SEARCH). The legacy ones
 * use cuDNN's v7 calls; the others its backend (graph) API, in
 * kernels/conv_engines.cu, where every engine configuration is a candidate. */
enum {
    SG_SEARCH_LEGACY = 0,      /* v7 heuristics: the same choice in every process */
    SG_SEARCH_FIND = 1,        /* v7 cudnnFind: timed over the legacy algorithms */
    SG_SEARCH_HEURISTIC = 2,   /* the backend API's first usable engine (mode A order) */
    SG_SEARCH_TIMED = 3,       /* every usable engine and the legacy algorithm timed, fastest wins */
};

/* Where a kind's engine came from, for the report. */
enum { SG_PICK_LEGACY = 0, SG_PICK_HEURISTIC = 1, SG_PICK_TIMED = 2, SG_PICK_FILE = 3 };

#define SG_CONV_PACKS 32

/* One kind of one shape run through the backend API. The descriptors the
 * plan was built from stay alive as long as the plan. */
struct sg_conv_engine {
    cudnnBackendDescriptor_t keep[7];         /* x, w, y, convolution, operation, graph, config */
    cudnnBackendDescriptor_t plan;            /* NULL: the legacy call runs this kind */
    int plan_slot;                            /* the handle it was made with: sg_cuda_handle_slot */
    /* The same configuration made again with the other lane's cuDNN handle,
     * at that lane's first (eager) run of this kind: some engines require
     * the executing handle to be the one the plan was made with (MXNet met
     * this and rebuilds plans per handle). other_shared: no equal
     * configuration could be made there, so `plan` runs with that handle
     * too (counted in the plan report). */
    cudnnBackendDescriptor_t other_keep[7], other_plan;
    int other_shared;
    int64_t workspace;
    int64_t engine_id;                        /* CUDNN_ATTR_ENGINE_GLOBAL_INDEX, -1 legacy */
    int rank;                                 /* index in the candidate list, -1 legacy */
    /* the chosen configuration's knob values (type, value) in cuDNN's order,
     * for the engines file and the report; knobs_known 0: cuDNN's answer
     * could not be read (or over SG_ENGINES_MAX_KNOBS), not recorded */
    int knobs_known, n_knobs;
    int64_t knobs[SG_ENGINES_MAX_KNOBS][2];
    int source;                               /* SG_PICK_* */
    int wrong;                                /* candidates whose result differed from the legacy call's */
    int excluded;                             /* candidates passed over for their notes (usable) */
    int no_plan;                              /* candidates without a plan here (unsupported, over the cap) */
    int failed_runs;                          /* candidates that failed to run, the first with failed_status */
    cudnnStatus_t failed_status;
    int repeats;                              /* candidates skipped: the same configuration as an earlier one */
    int candidates, timed;                    /* engine configurations offered / timed;
                                                 candidates < 0: -(the cudnnStatus_t) with which
                                                 building the operation graph failed */
    float ms, legacy_ms;                      /* timed: the winner's and the legacy algorithm's */
    /* variant packs by pointers (many layers share a shape): building one
     * per call costs host time when steps run eagerly */
    struct { void *x, *w, *y, *ws; cudnnBackendDescriptor_t pack; } packs[SG_CONV_PACKS];
    int n_packs, next_pack;
};

/* One convolution shape: descriptors made once, algorithms found once per
 * kind (lazily, the first time that kind runs), math type per algorithm.
 * x_desc, w_desc, y_desc describe what cuDNN reads and writes: float, or in
 * bf16 mode the bf16 copies (nothing in that mode uses float descriptors:
 * the bias ops are own kernels and the backend-API engines are not used). */
struct sg_conv_plan {
    int N, Ci, H, W, Co, K, stride, pad, Ho, Wo;
    cudnnTensorDescriptor_t x_desc, y_desc, bias_desc;
    cudnnFilterDescriptor_t w_desc;
    cudnnConvolutionDescriptor_t conv_desc;
    int have_algo[SG_CONV_KINDS];
    int algo[SG_CONV_KINDS];                  /* cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t */
    /* algo is one cuDNN documents as nondeterministic and SG_CUDNN_NONDET is
     * off: only the engine search's reference, never the call's path (the
     * kind runs its backend-API engine, or stops with an error) */
    int legacy_refused[SG_CONV_KINDS];
    cudnnMathType_t math[SG_CONV_KINDS];
    size_t workspace[SG_CONV_KINDS];
    sg_conv_engine eng[SG_CONV_KINDS];        /* backend-API choice, when the search uses it */
};

/* One recorded step (kernels/graph.cu). */
struct sg_cuda_graph {
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    int ready;
    const void *owner;                        /* who recorded it (lib/backend.h: a model) */
    int n_adam;                               /* adam calls recorded (they share lr, t) */
    double beta1, beta2;                      /* of the recorded adam calls */
};

/* What each lane (lib/backend.h ops->lane) has of its own: its stream, its
 * cuDNN handle (bound to that stream: cuDNN's advice for concurrent streams,
 * so no per-handle state is shared between lanes; each handle executes
 * backend-API plans made with it: sg_conv_engine's other_plan) and the
 * buffers ops use across their
 * kernels. The active lane's live in sg_cuda's fields of the same names, so
 * ops need not know about lanes; the other lane's are parked here
 * (lane_swap in backend_cuda.cu). SG_CUDA_LANE_HANDLES=1: one handle whose
 * stream follows the active lane instead (what PyTorch does with streams in
 * one thread), cudnn NULL here. Which of the two a GPU prefers has not been
 * tried yet: tests/gpu/run checks both. */
struct sg_cuda_lane {
    cudaStream_t stream;
    cudnnHandle_t cudnn;
    void *workspace;
    size_t workspace_size;
    float *partials;
    float *scratch;
    size_t scratch_bytes;
    void *bf16_scratch;
    size_t bf16_scratch_bytes;
    void *pad3_scratch;
    size_t pad3_scratch_bytes;
    cublasHandle_t cublas;
    void *cublas_ws;
    size_t cublas_ws_bytes;
    float *col_scratch;
    size_t col_scratch_bytes;
};

#define SG_CUDA_GRAPHS 128
#define SG_CUDA_MAX_PLANS 128
#define SG_CUDA_PINNED 32                     /* host_alloc blocks tracked */
#define SG_CUDA_PARTIALS 1024                 /* blocks of a two-stage reduction */

struct sg_cuda {
    int device, precision;
    char device_name[256];
    int sm_count;
    cudaStream_t stream;
    cudnnHandle_t cudnn;
    /* cuDNN workspace: one buffer, grown (never past workspace_limit) when a
     * newly found algorithm needs more; growth happens only during the first
     * (eager) run of a shape, never inside a captured step. */
    void *workspace;
    size_t workspace_size, workspace_limit;
    int search;                               /* SG_SEARCH_* */
    int allow_rtc;                            /* SG_CUDNN_RTC=1: runtime-compiled engines too */
    int allow_nondet;                         /* SG_CUDNN_NONDET=1: NONDETERMINISTIC engines too, and
                                                 nondeterministic legacy algorithms (pick_algo) */
    sg_engine_choice *wishes;                 /* from sg_backend_cuda_engines_load, applied
                                                 when their shapes first run */
    int n_wishes, wishes_used, wishes_rejected;
    long long engine_misaligned;              /* calls sent to the legacy path: unaligned pointers */
    int engine_searches_skipped;              /* engine searches without device memory for their buffers */
    int engine_choices;                       /* choices made: saving is needed when it grew */
    int plans_remade, plans_shared;           /* plans made again for the other lane's handle;
                                                 plans run with a handle they were not made with */
    sg_conv_plan plans[SG_CUDA_MAX_PLANS];
    int n_plans, plan_evict;
    /* reduction scratch: SG_CUDA_PARTIALS floats (two-stage sums) */
    float *partials;
    /* per-op scratch (instance-norm variances and per-plane partial sums, GP
     * norms), grown on demand and freed at destroy */
    float *scratch;
    size_t scratch_bytes;
    /* bf16 mode: the bf16 copies of one convolution's operands (x, w, y),
     * grown like scratch (never inside graph capture) */
    void *bf16_scratch;
    size_t bf16_scratch_bytes;
    int pad3;                                 /* SG_CUDA_PAD3: pad 3-channel operands to 4 or 8 (0: off) */
    void *pad3_scratch;                       /* the padded copies (conv_cudnn.cu) */
    size_t pad3_scratch_bytes;
    /* SG_CUDA_GEMM_MAX_PIXELS: NHWC tf32/fp32 convolutions whose output has
     * at most this many pixels run as im2col + cuBLAS GEMM (conv_gemm.cu; 0:
     * never). Each lane has its own cuBLAS handle, bound to its stream, with
     * its own workspace (cuBLAS's rule for bit-equal results across streams),
     * made at the lane's first such call, and its own im2col buffer. */
    long gemm_max_pixels;
    cublasHandle_t cublas;
    void *cublas_ws;
    size_t cublas_ws_bytes;
    float *col_scratch;                       /* im2col / col2im matrix (M x K*K*Ci) */
    size_t col_scratch_bytes;
    long long gemm_calls[SG_CONV_KINDS];      /* calls issued through GEMM (replays not counted) */
    size_t gemm_col_peak;                     /* the largest col matrix, bytes */
    /* step graphs: capturing is the key being recorded or -1; adam_hyper holds
     * [step_size, bc2_sqrt] per key for the recorded adam kernels */
    sg_cuda_graph graphs[SG_CUDA_GRAPHS];
    int capturing, graphs_enabled, capture_broken;
    int graphs_recorded;
    int graphs_without_priority;              /* instantiated without node priorities */
    char priority_refusal[160];               /* the first refusal's error */
    long long graph_launches;
    char graph_note[640];                     /* why graphs were turned off, or "" */
    float *adam_hyper;
    int nhwc;                                 /* activation layout (lib/backend.h "Layout") */
    int in_fused;                             /* SG_CUDA_IN_FUSED: NHWC instance norm in one pass
                                                 where a plane fits (instnorm.cu) */
    cudaEvent_t fences[SG_BACKEND_FENCES];                    /* ops->fence slots (created lazily) */
    struct { void *p; size_t bytes; } pinned[SG_CUDA_PINNED];   /* host_alloc's blocks */
    int n_pinned;
    int *flag_dev;                            /* all_finite's answer */
    int *flag_host;                           /* pinned */
    /* lanes: lane is the active one (0 or 1), parked the other's state;
     * lane_forked: lane 1 has work since the last join */
    int lane, lane_forked;
    int shared_cudnn;                         /* SG_CUDA_LANE_HANDLES=1 */
    sg_cuda_lane parked;
    cudaEvent_t lane_fork_event, lane_join_event;
    int failed;                               /* 1 after the first error */
    sg_err first_error;
    /* op timing (kernels/op_times.cu): NULL until first started */
    struct sg_op_times *op_times;
};

static inline sg_cuda *sg_cuda_of(sg_backend *be) { return (sg_cuda *)be->impl; }

/* Which cuDNN handle is active: 0 with one shared handle, else the lane. */
static inline int sg_cuda_handle_slot(const sg_cuda *c) { return c->shared_cudnn ? 0 : c->lane; }

/* Records the first error ("file:line: message"); returns -1. */
int sg_cuda_fail(sg_cuda *c, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Recording a graph cannot go on (something must be allocated or timed
 * first): skips the remaining ops like an error, but graph_end then reports
 * a failed recording, not an error, and the caller runs the step eagerly. */
int sg_cuda_break_capture(sg_cuda *c, const char *file, int line, const char *why);
int sg_cuda_check_rt(sg_cuda *c, cudaError_t st, const char *what, const char *file, int line);
int sg_cuda_check_dnn(sg_cuda *c, cudnnStatus_t st, const char *what, const char *file, int line);

/* Checks a runtime/cuDNN call; evaluates to 0 or -1. */
#define CU_CHECK(c, call) sg_cuda_check_rt((c), (call), #call, __FILE__, __LINE__)
#define DNN_CHECK(c, call) sg_cuda_check_dnn((c), (call), #call, __FILE__, __LINE__)
/* After every kernel launch: the launch's own error (bad configuration,
 * missing kernel image, a sticky fault from an earlier kernel). */
#define LAUNCH_CHECK(c, name) sg_cuda_check_rt((c), cudaGetLastError(), name, __FILE__, __LINE__)

/* Makes *buf (device memory, *bytes its size) hold at least `need` bytes
 * (min_bytes at least when it must grow): never inside graph capture (that
 * breaks the recording with `why`; the first, eager run of a step sizes
 * every buffer), and growing drops the recorded graphs, which hold the old
 * pointer. Returns 0, or -1 with the error recorded. */
int sg_cuda_grow_buffer(sg_cuda *c, void **buf, size_t *bytes, size_t need, size_t min_bytes,
                        const char *why);

/* Waits for both lanes' streams: before freeing a buffer or a plan that a
 * step graph may use (a graph launched on lane 0 runs lane 1's branch too,
 * so syncing the active lane alone is not enough). 0 or -1 (error recorded). */
int sg_cuda_sync_lanes(sg_cuda *c);

/* Back on lane 0, joined (ops->lane's SG_LANE_JOIN if lane 1 has work):
 * before a sync or the end of a graph recording. */
void sg_cuda_lane_home(sg_cuda *c);
/* "tf32", "fp32" or "bf16" for SG_CUDA_* */
const char *sg_cuda_precision_name(int precision);

/* Returns scratch of at least n floats, or NULL (error recorded). Growing it
 * frees the old buffer after a stream sync: it must not happen inside graph
 * capture, so the first (eager) step sizes it. */
float *sg_cuda_scratch(sg_cuda *c, size_t n);

/* Grid size for an elementwise kernel over n items with `threads` per block. */
static inline unsigned sg_cuda_blocks(sg_cuda *c, size_t n, int threads)
{
    size_t b = (n + threads - 1) / threads;
    size_t cap = (size_t)c->sm_count * 32;    /* grid-stride beyond this */
    if (b > cap) b = cap;
    if (b < 1) b = 1;
    return (unsigned)b;
}

/* Grid for per-plane kernels: x = plane (up to 2^31-1), y = chunks of
 * `threads` elements within the plane, so kernels index with 32-bit
 * arithmetic and no division per element. */
static inline dim3 sg_cuda_plane_grid(size_t planes, size_t hw, int threads)
{
    size_t chunks = (hw + threads - 1) / threads;
    if (chunks > 65535) chunks = 65535;
    if (chunks < 1) chunks = 1;
    return dim3((unsigned)planes, (unsigned)chunks, 1);
}

/* ops, one group per .cu file */
void sg_cuda_to_layout(sg_backend *be, float *dst, const float *src, int N, int C, int HW);
void sg_cuda_from_layout(sg_backend *be, float *dst, const float *src, int N, int C, int HW);
void sg_cuda_conv2d_forward(sg_backend *be, float *y, const float *x, const float *w,
                            const float *bias, int N, int Ci, int H, int W, int Co,
                            int K, int stride, int pad);
void sg_cuda_conv2d_backward_data(sg_backend *be, float *dx, const float *dy, const float *w,
                                  int N, int Ci, int H, int W, int Co, int K, int stride, int pad);
void sg_cuda_conv2d_backward_filter(sg_backend *be, float *dw, float *db, const float *x,
                                    const float *dy, int N, int Ci, int H, int W, int Co,
                                    int K, int stride, int pad);
void sg_cuda_conv_plans_destroy(sg_cuda *c);
/* kernels/conv_gemm.cu: whether the GEMM path takes a convolution (switch
 * on, NHWC, tf32 or fp32, Ho*Wo <= the switch); one kind through it (x, w,
 * y as conv_kind's in conv_cudnn.cu: forward and backward-data overwrite,
 * backward-filter adds), 0 or -1 (error recorded); the handles' teardown. */
int sg_conv_gemm_applies(const sg_cuda *c, int H, int W, int K, int stride, int pad);
int sg_conv_gemm_run(sg_cuda *c, int kind, float *x, float *w, float *y, int N, int Ci, int H, int W, int Co,
                     int K, int stride, int pad);
void sg_conv_gemm_destroy(sg_cuda *c);
/* At the backend's creation, where the GEMM path can take a convolution
 * (c->gemm_max_pixels > 0, NHWC, not bf16): loads cuBLAS; if it cannot be
 * loaded, an error when the switch was asked for (asked; sys_errno ELIBACC,
 * which --device auto does not take for a missing GPU), else the GEMM path
 * off (cuDNN everywhere). 0 or -1 (c's first error). */
int sg_conv_gemm_open(sg_cuda *c, int asked);
/* kernels/conv_cudnn.cu for conv_engines.cu: the legacy call of one kind
 * (x, w, y: input, weight, output of the forward convolution, whichever of
 * them the kind writes), and growing the shared workspace. */
cudnnStatus_t sg_conv_legacy_run(sg_cuda *c, sg_conv_plan *p, int kind, void *x, void *w, void *y);
int sg_cuda_grow_workspace(sg_cuda *c, size_t need);
/* kernels/conv_engines.cu: choose the backend-API engine of one kind for p
 * (eagerly, never while recording; the legacy algorithm is already chosen);
 * run it (1), or 0 when the legacy call must run instead, -1 on error. */
int sg_conv_engine_choose(sg_cuda *c, sg_conv_plan *p, int kind, void *x, void *w, void *y);
int sg_conv_engine_run(sg_cuda *c, sg_conv_plan *p, int kind, void *x, void *w, void *y);
void sg_conv_engine_destroy(sg_conv_engine *e);
const char *sg_conv_kind_name(int kind);

void sg_cuda_instnorm_forward(sg_backend *be, float *y, float *mean, float *rstd,
                              const float *x, const float *gamma, const float *beta,
                              float *running_mean, float *running_var,
                              int N, int C, int HW, float eps, float momentum, int relu,
                              const float *res);
void sg_cuda_instnorm_backward(sg_backend *be, float *dx, float *dgamma, float *dbeta,
                               const float *dy, const float *y_relu, const float *x,
                               const float *mean, const float *rstd, const float *gamma,
                               int N, int C, int HW);

void sg_cuda_fill(sg_backend *be, float *p, float value, size_t n);
void sg_cuda_leaky_relu_backward(sg_backend *be, float *dx, const float *dy, const float *x,
                                 float slope, size_t n);
void sg_cuda_tanh_forward(sg_backend *be, float *y, const float *x, size_t n);
void sg_cuda_tanh_backward(sg_backend *be, float *dx, const float *dy, const float *y, size_t n);
void sg_cuda_add(sg_backend *be, float *y, const float *a, const float *b, size_t n);
void sg_cuda_lerp_images(sg_backend *be, float *out, const float *a, const float *b,
                         const float *alpha, int N, size_t per_image);
void sg_cuda_bias_leaky_relu(sg_backend *be, float *y, const float *bias, float slope, int N, int C, int HW);
void sg_cuda_leaky_relu_backward_bias(sg_backend *be, float *dx, float *db, const float *dy, const float *x,
                                      float slope, int N, int C, int HW, int n_bias);
void sg_cuda_draw_batch(sg_backend *be, float *c_trg, float *alpha, const float *c_org,
                        const sg_batch_draw *d);
void sg_cuda_concat_labels(sg_backend *be, float *out, const float *x, const float *c,
                           int N, int Cx, int Cc, int HW);
void sg_cuda_channel_slice(sg_backend *be, float *dst, const float *src, int N, int Cs,
                           int c0, int Cd, int HW);

void sg_cuda_mean_loss(sg_backend *be, float *loss, float *grad, const float *x, size_t n,
                       float sign, float weight);
void sg_cuda_bce_logits_loss(sg_backend *be, float *loss, float *grad, const float *logits,
                             int ldl, int off, const float *targets, int ldt, int toff,
                             int N, int C, float weight);
void sg_cuda_softmax_ce_loss(sg_backend *be, float *loss, float *grad, const float *logits,
                             int ldl, int off, const float *targets, int ldt, int toff,
                             int N, int C, float weight);
void sg_cuda_l1_loss(sg_backend *be, float *loss, float *grad, const float *a, const float *b,
                     size_t n, float weight);
void sg_cuda_gp_loss(sg_backend *be, float *loss, float *grad, const float *u, int N,
                     size_t D, float weight);
void sg_cuda_adam(sg_backend *be, float *p, const float *g, float *m, float *v, size_t n,
                  float lr, double beta1, double beta2, float eps, int64_t t);
int sg_cuda_all_finite(sg_backend *be, const float *p, size_t n);

int sg_cuda_graph_begin(sg_backend *be, int key, const void *owner);
int sg_cuda_graph_end(sg_backend *be, int key);
int sg_cuda_graph_launch(sg_backend *be, int key, const void *owner, float lr, int64_t t);
void sg_cuda_graph_drop(sg_backend *be, int key, const void *owner);
void sg_cuda_graphs_drop_all(sg_cuda *c);

/* kernels/op_times.cu: frees the op-timing state (at destroy) */
void sg_cuda_op_times_free(sg_cuda *c);

#endif
