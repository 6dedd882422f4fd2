/* Convolutions through cuDNN: forward, backward-data, backward-filter, and the
 * bias add / bias gradient around them. Transposed convolutions and the
 * gradient-penalty chain use the same three calls in other roles (lib/backend.h).
 *
 * A plan per shape holds the descriptors and, per kind, the legacy algorithm
 * chosen the first time that kind runs (the v7 heuristics, the same in every
 * process; cudnnFind with SG_CUDNN_SEARCH=find), preferring deterministic
 * algorithms so that runs repeat bit for bit, and never one whose workspace
 * passes the limit. Unless SG_CUDNN_SEARCH=legacy|find, a backend-API engine
 * is then chosen too (kernels/conv_engines.cu) and runs instead of the legacy
 * call whenever it was faster.
 *
 * bf16 mode (precision bf16): every tensor in memory stays float32; each
 * convolution converts its float inputs to bf16 copies (round to nearest
 * even) in one scratch buffer, runs cuDNN on them (bf16 tensors and filter,
 * float compute type: cuDNN's PSEUDO_BFLOAT16_CONFIG, the one bf16
 * configuration of the v7 calls, which wants x, w and y all bf16), and
 * converts the bf16 result back: forward and backward-data overwrite their
 * float output; backward-filter writes a bf16 weight gradient with beta 0,
 * which a kernel then adds into the float dw (the backend's "dw +="). So a
 * weight gradient is rounded to bf16 once per call before it is accumulated
 * in float, as under PyTorch's autocast. Only the legacy calls run in bf16
 * mode: the backend-API engine search (SG_CUDNN_SEARCH=timed|heuristic) is
 * built for float tensors and is skipped, the legacy algorithm runs. */
#include "cuda_backend.cuh"
#include "reduce.cuh"
#include <cuda_bf16.h>
#include <stdio.h>
#include <string.h>

/* cuDNN math for the backend's precision. CUDNN_DEFAULT_MATH lets cuDNN 8+/9
 * use TF32 tensor cores for float data on Ampere and newer (what PyTorch does
 * with allow_tf32); CUDNN_FMA_MATH forces true float32 arithmetic;
 * CUDNN_TENSOR_OP_MATH allows tensor cores on the bf16 copies (what PyTorch
 * sets for bf16 convolutions). */
static cudnnMathType_t precision_math(const sg_cuda *c)
{
    if (c->precision == SG_CUDA_BF16) return CUDNN_TENSOR_OP_MATH;
    return c->precision == SG_CUDA_FP32 ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
}

/* Frees what a plan holds (its engines and descriptors; NULL ones skipped). */
static void plan_release(sg_conv_plan *p)
{
    for (int k = 0; k < SG_CONV_KINDS; k++) sg_conv_engine_destroy(&p->eng[k]);
    if (p->x_desc) cudnnDestroyTensorDescriptor(p->x_desc);
    if (p->y_desc) cudnnDestroyTensorDescriptor(p->y_desc);
    if (p->bias_desc) cudnnDestroyTensorDescriptor(p->bias_desc);
    if (p->w_desc) cudnnDestroyFilterDescriptor(p->w_desc);
    if (p->conv_desc) cudnnDestroyConvolutionDescriptor(p->conv_desc);
}

static sg_conv_plan *find_plan(sg_cuda *c, int N, int Ci, int H, int W, int Co, int K,
                               int stride, int pad)
{
    for (int i = 0; i < c->n_plans; i++) {
        sg_conv_plan *p = &c->plans[i];
        if (p->N == N && p->Ci == Ci && p->H == H && p->W == W && p->Co == Co && p->K == K &&
            p->stride == stride && p->pad == pad)
            return p;
    }
    if (N <= 0 || Ci <= 0 || Co <= 0 || K <= 0 || stride <= 0 || pad < 0 ||
        H + 2 * pad < K || W + 2 * pad < K) {
        sg_cuda_fail(c, __FILE__, __LINE__, "bad convolution shape N %d Ci %d H %d W %d Co %d "
                     "K %d stride %d pad %d", N, Ci, H, W, Co, K, stride, pad);
        return NULL;
    }
    sg_conv_plan *p;
    /* the backend's layout (lib/backend.h "Layout"): NHWC activations go with
     * KRSC (A,K,K,B) weights, what cuDNN's tensor-core kernels read directly */
    const cudnnTensorFormat_t fmt = c->nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
    /* what cuDNN reads and writes: the float tensors, or their bf16 copies */
    const cudnnDataType_t dt = c->precision == SG_CUDA_BF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
    if (c->n_plans == SG_CUDA_MAX_PLANS) {
        /* full (many batch sizes, e.g. sg-sample's last chunks): reuse slots
         * in turn. A recorded step graph may still launch the evicted plan's
         * kernels (a backend-API plan owns them, and destroying one may free
         * device memory), so never during a recording, and the graphs go
         * first (recorded again at their next launch) */
        cudaStreamCaptureStatus cap = cudaStreamCaptureStatusNone;
        if (CU_CHECK(c, cudaStreamIsCapturing(c->stream, &cap))) return NULL;
        if (cap != cudaStreamCaptureStatusNone) {
            sg_cuda_break_capture(c, __FILE__, __LINE__, "the convolution plan cache is full");
            return NULL;
        }
        if (sg_cuda_sync_lanes(c)) return NULL;
        sg_cuda_graphs_drop_all(c);
        p = &c->plans[c->plan_evict++ % SG_CUDA_MAX_PLANS];
        plan_release(p);
    } else {
        p = &c->plans[c->n_plans++];
    }
    memset(p, 0, sizeof *p);
    p->N = N; p->Ci = Ci; p->H = H; p->W = W; p->Co = Co; p->K = K;
    p->stride = stride; p->pad = pad;
    p->Ho = (H + 2 * pad - K) / stride + 1;
    p->Wo = (W + 2 * pad - K) / stride + 1;
    if (DNN_CHECK(c, cudnnCreateTensorDescriptor(&p->x_desc)) ||
        DNN_CHECK(c, cudnnCreateTensorDescriptor(&p->y_desc)) ||
        DNN_CHECK(c, cudnnCreateTensorDescriptor(&p->bias_desc)) ||
        DNN_CHECK(c, cudnnCreateFilterDescriptor(&p->w_desc)) ||
        DNN_CHECK(c, cudnnCreateConvolutionDescriptor(&p->conv_desc)))
        goto fail;
    if (DNN_CHECK(c, cudnnSetTensor4dDescriptor(p->x_desc, fmt, dt, N, Ci, H, W)) ||
        DNN_CHECK(c, cudnnSetTensor4dDescriptor(p->y_desc, fmt, dt, N, Co, p->Ho, p->Wo)) ||
        DNN_CHECK(c, cudnnSetTensor4dDescriptor(p->bias_desc, fmt, CUDNN_DATA_FLOAT, 1, Co, 1, 1)) ||
        DNN_CHECK(c, cudnnSetFilter4dDescriptor(p->w_desc, dt, fmt, Co, Ci, K, K)) ||
        /* CUDNN_CROSS_CORRELATION: PyTorch's conv (no kernel flip); compute
         * type float in every mode (bf16: accumulation in float) */
        DNN_CHECK(c, cudnnSetConvolution2dDescriptor(p->conv_desc, pad, pad, stride, stride, 1, 1,
                                                     CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT)) ||
        DNN_CHECK(c, cudnnSetConvolutionMathType(p->conv_desc, precision_math(c))))
        goto fail;
    return p;
fail:
    plan_release(p);
    memset(p, 0, sizeof *p);
    p->N = -1;                                  /* matches no shape */
    return NULL;
}

/* The algorithms cuDNN documents as non-deterministic (atomics), whatever a
 * perf result reports (the heuristics may leave the field unset). */
static bool known_nondeterministic(int kind, int algo)
{
    if (kind == SG_CONV_BWD_FILTER)
        return algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 || algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3;
    if (kind == SG_CONV_BWD_DATA) return algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_0;
    return false;
}

extern "C" const char *sg_backend_cuda_plan_report(sg_backend *be, char *buf, size_t size)
{
    sg_cuda *c = sg_cuda_of(be);
    static const char *search[] = { "legacy", "find", "heuristic", "timed" };
    static const char *source[] = { "legacy", "heuristic", "timed", "file" };
    size_t used = 0;
    if (size) buf[0] = 0;
    int n = snprintf(buf, size, "search %s, workspace %zu MiB in use (cap %zu MiB); engines file: %d "
                     "choices used, %d rejected; %lld calls on the legacy path (unaligned pointers); "
                     "%d searches skipped (no device memory for them); plans made again for the other "
                     "lane's cuDNN handle: %d, run with a handle not their own: %d\n",
                     search[c->search & 3], c->workspace_size >> 20, c->workspace_limit >> 20,
                     c->wishes_used, c->wishes_rejected, c->engine_misaligned, c->engine_searches_skipped,
                     c->plans_remade, c->plans_shared);
    if (n > 0) used = (size_t)n;
    if (c->gemm_max_pixels > 0 && used + 1 < size) {
        n = snprintf(buf + used, size - used, "GEMM path (SG_CUDA_GEMM_MAX_PIXELS=%ld, %s): %lld forward, %lld "
                     "backward-data, %lld backward-filter calls issued through im2col + cuBLAS (replays not "
                     "counted); largest col matrix %zu bytes\n", c->gemm_max_pixels,
                     !c->nhwc ? "off: NCHW" : c->precision == SG_CUDA_BF16 ? "off: bf16" : "NHWC",
                     c->gemm_calls[SG_CONV_FWD], c->gemm_calls[SG_CONV_BWD_DATA], c->gemm_calls[SG_CONV_BWD_FILTER],
                     c->gemm_col_peak);
        if (n > 0) used += (size_t)n;
        if (used >= size) used = size - 1;
    }
    if (c->precision == SG_CUDA_BF16 && used + 1 < size) {
        n = snprintf(buf + used, size - used, "bf16: cuDNN on bf16 copies, legacy algorithms only "
                     "(the engine search is for float tensors)\n");
        if (n > 0) used += (size_t)n;
        if (used >= size) used = size - 1;
    }
    for (int i = 0; i < c->n_plans && used + 1 < size; i++) {
        const sg_conv_plan *p = &c->plans[i];
        n = snprintf(buf + used, size - used, "N%d Ci%d %dx%d Co%d K%d s%d p%d:", p->N, p->Ci, p->H,
                     p->W, p->Co, p->K, p->stride, p->pad);
        if (n < 0) break;
        used += (size_t)n;
        for (int k = 0; k < SG_CONV_KINDS && used + 1 < size; k++) {
            const sg_conv_engine *e = &p->eng[k];
            if (!p->have_algo[k]) continue;
            char knobs[34 * SG_ENGINES_MAX_KNOBS + 8] = "";   /* " knobs T=V ...", as the engines file has them */
            for (int i = 0; e->plan && e->knobs_known && i < e->n_knobs; i++)
                snprintf(knobs + strlen(knobs), sizeof knobs - strlen(knobs), "%s %lld=%lld", i ? "" : " knobs",
                         (long long)e->knobs[i][0], (long long)e->knobs[i][1]);
            if (e->plan)
                n = snprintf(buf + used, size - used, " %s engine %lld%s (#%d of %d, %s",
                             sg_conv_kind_name(k), (long long)e->engine_id, knobs, e->rank, e->candidates,
                             source[e->source & 3]);
            else
                n = snprintf(buf + used, size - used, " %s legacy algo %d math %d (%s",
                             sg_conv_kind_name(k), p->algo[k], (int)p->math[k], source[e->source & 3]);
            if (n < 0) break;
            used += (size_t)n;
            if (used + 1 >= size) break;
            char wrong[256] = "";
            if (e->wrong) snprintf(wrong, sizeof wrong, ", %d differed from the legacy result", e->wrong);
            if (e->failed_runs)
                snprintf(wrong + strlen(wrong), sizeof wrong - strlen(wrong), ", %d failed to run (first: %s)",
                         e->failed_runs, cudnnGetErrorString(e->failed_status));
            if (e->excluded || e->no_plan)
                snprintf(wrong + strlen(wrong), sizeof wrong - strlen(wrong), ", %d excluded by their notes, "
                         "%d without a plan", e->excluded, e->no_plan);
            if (e->repeats)
                snprintf(wrong + strlen(wrong), sizeof wrong - strlen(wrong), ", %d repeated", e->repeats);
            if (!e->plan && known_nondeterministic(k, p->algo[k]))    /* SG_CUDNN_NONDET=1 let it in */
                snprintf(wrong + strlen(wrong), sizeof wrong - strlen(wrong), ", nondeterministic");
            if (p->legacy_refused[k])
                snprintf(wrong + strlen(wrong), sizeof wrong - strlen(wrong), ", legacy algo %d nondeterministic: "
                         "the check's reference only", p->algo[k]);
            char legacy_ms[32];
            snprintf(legacy_ms, sizeof legacy_ms, p->legacy_refused[k] ? "not timed" : "%.3f ms", e->legacy_ms);
            if (e->candidates < 0)
                n = snprintf(buf + used, size - used, ", no backend-API graph: %s)",
                             cudnnGetErrorString((cudnnStatus_t)-e->candidates));
            else if (e->source == SG_PICK_TIMED)
                n = snprintf(buf + used, size - used, " %.3f ms, legacy %s, %d of %d timed%s)", e->ms,
                             legacy_ms, e->timed, e->candidates, wrong);
            else
                n = snprintf(buf + used, size - used, "%s)", wrong);
            if (n < 0) break;
            used += (size_t)n;
        }
        if (used + 1 < size) buf[used++] = '\n', buf[used] = 0;
    }
    if (used >= size && size) buf[size - 1] = 0;
    return buf;
}

void sg_cuda_conv_plans_destroy(sg_cuda *c)
{
    for (int i = 0; i < c->n_plans; i++) plan_release(&c->plans[i]);
    c->n_plans = 0;
}

/* Picks from perf results (sorted fastest first by cuDNN): the fastest
 * deterministic algorithm that succeeded, fits the workspace limit and uses
 * an allowed math type; if none is reported deterministic (the heuristics
 * may leave the field unset), the fastest that fits and is not documented
 * as nondeterministic, those too only with SG_CUDNN_NONDET=1: a run would
 * otherwise lose its bit-equal resume without a word. 0; -1 when none fits;
 * -2 when only documented-nondeterministic ones would, *algo, *math and *ws
 * then the fastest of those (the engine search's reference, plan_algo). */
template <typename Perf>
static int pick_algo(sg_cuda *c, int kind, const Perf *perf, int n, int *algo,
                     cudnnMathType_t *math, size_t *ws)
{
    int refused = -1;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < n; i++) {
            if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
            if (perf[i].memory > c->workspace_limit) continue;
            if (pass == 0 && (perf[i].determinism != CUDNN_DETERMINISTIC ||
                              known_nondeterministic(kind, (int)perf[i].algo)))
                continue;
            /* never let cuDNN round float data to fp16 */
            if (perf[i].mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) continue;
            /* fp32 must not drift to TF32 tensor cores */
            if (c->precision == SG_CUDA_FP32 && perf[i].mathType != CUDNN_FMA_MATH &&
                perf[i].mathType != CUDNN_DEFAULT_MATH)
                continue;
            if (known_nondeterministic(kind, (int)perf[i].algo) && !c->allow_nondet) {
                if (refused < 0) refused = i;
                continue;
            }
            *algo = (int)perf[i].algo;
            *math = c->precision == SG_CUDA_FP32 ? CUDNN_FMA_MATH : perf[i].mathType;
            *ws = perf[i].memory;
            return 0;
        }
    }
    if (refused < 0) return -1;
    *algo = (int)perf[refused].algo;
    *math = c->precision == SG_CUDA_FP32 ? CUDNN_FMA_MATH : perf[refused].mathType;
    *ws = perf[refused].memory;
    return -2;
}

/* What the engine path did for a kind whose legacy algorithms within the cap
 * are all nondeterministic: not asked (legacy search, bf16), found no
 * deterministic engine, or could not search (no device memory for its
 * buffers: then nothing is known of the engines, and the line must not say
 * there is none). */
enum { ENGINES_NOT_ASKED, ENGINES_NONE_DETERMINISTIC, ENGINES_SEARCH_SKIPPED };

/* The error of a kind for which no deterministic choice is left: only
 * nondeterministic legacy algorithms fit the cap, and engines says why no
 * backend-API engine runs instead. */
static int fail_nondeterministic(sg_cuda *c, const sg_conv_plan *p, const char *what, int engines)
{
    const char *why = engines == ENGINES_NONE_DETERMINISTIC ? " (legacy, and no deterministic backend-API engine)"
                      : engines == ENGINES_SEARCH_SKIPPED
                          ? " (legacy; the backend-API engine search was skipped: no device memory for its buffers)"
                          : "";
    return sg_cuda_fail(c, __FILE__, __LINE__, "cuDNN offers only nondeterministic %s%s algorithms%s for N %d "
                        "Ci %d %dx%d Co %d K %d stride %d pad %d within %zu MiB of workspace: raise "
                        "SG_CUDNN_WORKSPACE_MIB (or SG_CUDNN_NONDET=1 lets them run: runs then differ in the "
                        "last bits)", c->precision == SG_CUDA_BF16 ? "bf16 " : "", what, why,
                        p->N, p->Ci, p->H, p->W, p->Co, p->K, p->stride, p->pad, c->workspace_limit >> 20);
}

int sg_cuda_grow_workspace(sg_cuda *c, size_t need)
{
    return sg_cuda_grow_buffer(c, &c->workspace, &c->workspace_size, need, 0, "the cuDNN workspace must grow");
}

/* cuDNN's workspace query of each kind of algorithm, under one name for heuristic_sizes. */
static cudnnStatus_t workspace_size(sg_cuda *c, sg_conv_plan *p, cudnnConvolutionFwdAlgo_t algo, size_t *ws)
{
    return cudnnGetConvolutionForwardWorkspaceSize(c->cudnn, p->x_desc, p->w_desc, p->conv_desc,
                                                   p->y_desc, algo, ws);
}

static cudnnStatus_t workspace_size(sg_cuda *c, sg_conv_plan *p, cudnnConvolutionBwdDataAlgo_t algo, size_t *ws)
{
    return cudnnGetConvolutionBackwardDataWorkspaceSize(c->cudnn, p->w_desc, p->y_desc, p->conv_desc,
                                                        p->x_desc, algo, ws);
}

static cudnnStatus_t workspace_size(sg_cuda *c, sg_conv_plan *p, cudnnConvolutionBwdFilterAlgo_t algo, size_t *ws)
{
    return cudnnGetConvolutionBackwardFilterWorkspaceSize(c->cudnn, p->x_desc, p->y_desc, p->conv_desc,
                                                          p->w_desc, algo, ws);
}

/* The heuristics do not promise perf[].memory: ask for each candidate's
 * workspace (with its math type) so that pick_algo can respect the limit. A
 * candidate whose query fails is marked unusable. */
template <typename Perf>
static void heuristic_sizes(sg_cuda *c, sg_conv_plan *p, Perf *perf, int n)
{
    for (int i = 0; i < n; i++) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
        size_t ws = 0;
        cudnnMathType_t math = c->precision == SG_CUDA_FP32 ? CUDNN_FMA_MATH : perf[i].mathType;
        if (cudnnSetConvolutionMathType(p->conv_desc, math) != CUDNN_STATUS_SUCCESS ||
            workspace_size(c, p, perf[i].algo, &ws) != CUDNN_STATUS_SUCCESS)
            perf[i].status = CUDNN_STATUS_NOT_SUPPORTED;
        perf[i].memory = ws;
    }
}

/* Chooses the algorithm of one kind for plan p, once; x, w, y are the call's
 * (input, weight, output of the forward convolution), which timing runs on. */
static int plan_algo(sg_cuda *c, sg_conv_plan *p, int kind, const void *x, const void *w, const void *y)
{
    if (p->have_algo[kind]) return 0;
    cudaStreamCaptureStatus cap = cudaStreamCaptureStatusNone;
    if (CU_CHECK(c, cudaStreamIsCapturing(c->stream, &cap))) return -1;
    int capturing = cap != cudaStreamCaptureStatusNone;
    /* The v7 heuristics are host-side queries, fine while recording; cudnnFind
     * and the engine search run candidates (and build plans) and must not be
     * recorded. */
    int find_algorithms = c->search == SG_SEARCH_FIND;
    /* an engine is chosen when the search asks for one or choices were
     * loaded from a file; the backend-API engines describe float tensors:
     * bf16 mode keeps the legacy algorithm whatever SG_CUDNN_SEARCH says */
    int choose_engine = (c->search >= SG_SEARCH_HEURISTIC || c->n_wishes) && c->precision != SG_CUDA_BF16;
    if (capturing && (find_algorithms || choose_engine))
        return sg_cuda_break_capture(c, __FILE__, __LINE__, "a convolution shape not timed yet");
    /* cudnnFind runs on the handle's stream but times with its own events:
     * finish queued work, both lanes', so that it is measured alone. */
    if (find_algorithms && sg_cuda_sync_lanes(c)) return -1;
    DNN_CHECK(c, cudnnSetConvolutionMathType(p->conv_desc, precision_math(c)));
    enum { MAXA = 16 };
    int n = 0, rc = -1, algo = 0;
    cudnnMathType_t math = CUDNN_DEFAULT_MATH;
    size_t ws = 0;
    const char *what = "";
    if (kind == SG_CONV_FWD) {
        cudnnConvolutionFwdAlgoPerf_t perf[MAXA];
        what = "forward";
        if (find_algorithms
                ? DNN_CHECK(c, cudnnFindConvolutionForwardAlgorithm(c->cudnn, p->x_desc, p->w_desc,
                            p->conv_desc, p->y_desc, MAXA, &n, perf))
                : DNN_CHECK(c, cudnnGetConvolutionForwardAlgorithm_v7(c->cudnn, p->x_desc,
                            p->w_desc, p->conv_desc, p->y_desc, MAXA, &n, perf)))
            return -1;
        if (!find_algorithms) heuristic_sizes(c, p, perf, n);
        rc = pick_algo(c, kind, perf, n, &algo, &math, &ws);
    } else if (kind == SG_CONV_BWD_DATA) {
        cudnnConvolutionBwdDataAlgoPerf_t perf[MAXA];
        what = "backward-data";
        if (find_algorithms
                ? DNN_CHECK(c, cudnnFindConvolutionBackwardDataAlgorithm(c->cudnn, p->w_desc,
                            p->y_desc, p->conv_desc, p->x_desc, MAXA, &n, perf))
                : DNN_CHECK(c, cudnnGetConvolutionBackwardDataAlgorithm_v7(c->cudnn, p->w_desc,
                            p->y_desc, p->conv_desc, p->x_desc, MAXA, &n, perf)))
            return -1;
        if (!find_algorithms) heuristic_sizes(c, p, perf, n);
        rc = pick_algo(c, kind, perf, n, &algo, &math, &ws);
    } else {
        cudnnConvolutionBwdFilterAlgoPerf_t perf[MAXA];
        what = "backward-filter";
        if (find_algorithms
                ? DNN_CHECK(c, cudnnFindConvolutionBackwardFilterAlgorithm(c->cudnn, p->x_desc,
                            p->y_desc, p->conv_desc, p->w_desc, MAXA, &n, perf))
                : DNN_CHECK(c, cudnnGetConvolutionBackwardFilterAlgorithm_v7(c->cudnn, p->x_desc,
                            p->y_desc, p->conv_desc, p->w_desc, MAXA, &n, perf)))
            return -1;
        if (!find_algorithms) heuristic_sizes(c, p, perf, n);
        rc = pick_algo(c, kind, perf, n, &algo, &math, &ws);
    }
    /* Only nondeterministic legacy algorithms fit: where an engine is
     * chosen (a search, or choices from a file), a deterministic engine may
     * still; the refused algorithm is then only its check's reference */
    int refused = rc == -2;
    if (refused && !choose_engine) return fail_nondeterministic(c, p, what, ENGINES_NOT_ASKED);
    if (rc && !refused)
        return sg_cuda_fail(c, __FILE__, __LINE__, "cuDNN offers no %s%s algorithm for N %d Ci %d "
                            "%dx%d Co %d K %d stride %d pad %d within %zu MiB of workspace: raise "
                            "SG_CUDNN_WORKSPACE_MIB",
                            c->precision == SG_CUDA_BF16 ? "bf16 " : "", what,
                            p->N, p->Ci, p->H, p->W, p->Co, p->K, p->stride, p->pad,
                            c->workspace_limit >> 20);
    if (sg_cuda_grow_workspace(c, ws)) return -1;
    p->algo[kind] = algo;
    p->math[kind] = math;
    p->workspace[kind] = ws;
    p->legacy_refused[kind] = refused;
    p->have_algo[kind] = 1;
    int skipped_before = c->engine_searches_skipped;
    if (choose_engine && sg_conv_engine_choose(c, p, kind, (void *)x, (void *)w, (void *)y)) {
        if (refused) p->have_algo[kind] = 0;    /* never the refused algorithm on a later call */
        return -1;
    }
    if (refused && !p->eng[kind].plan) {
        p->have_algo[kind] = 0;
        return fail_nondeterministic(c, p, what,
                                     c->search < SG_SEARCH_HEURISTIC ? ENGINES_NOT_ASKED
                                     : c->engine_searches_skipped != skipped_before ? ENGINES_SEARCH_SKIPPED
                                                                                    : ENGINES_NONE_DETERMINISTIC);
    }
    return 0;
}

/* x, w, y in the plan's data type: the bf16 copies in bf16 mode. The scaling
 * factors are floats for float and bf16 tensors alike (cuDNN wants double
 * ones only for double tensors). */
cudnnStatus_t sg_conv_legacy_run(sg_cuda *c, sg_conv_plan *p, int kind, void *x, void *w, void *y)
{
    const float one = 1.f, zero = 0.f;
    cudnnStatus_t st = cudnnSetConvolutionMathType(p->conv_desc, p->math[kind]);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    if (kind == SG_CONV_FWD)
        return cudnnConvolutionForward(c->cudnn, &one, p->x_desc, x, p->w_desc, w, p->conv_desc,
                                       (cudnnConvolutionFwdAlgo_t)p->algo[kind], c->workspace,
                                       c->workspace_size, &zero, p->y_desc, y);
    if (kind == SG_CONV_BWD_DATA)
        return cudnnConvolutionBackwardData(c->cudnn, &one, p->w_desc, w, p->y_desc, y, p->conv_desc,
                                            (cudnnConvolutionBwdDataAlgo_t)p->algo[kind], c->workspace,
                                            c->workspace_size, &zero, p->x_desc, x);
    /* beta 1: dw accumulates (lib/backend.h "Accumulation"); bf16: beta 0
     * into the bf16 scratch, added to the float dw afterwards */
    return cudnnConvolutionBackwardFilter(c->cudnn, &one, p->x_desc, x, p->y_desc, y, p->conv_desc,
                                          (cudnnConvolutionBwdFilterAlgo_t)p->algo[kind], c->workspace,
                                          c->workspace_size, c->precision == SG_CUDA_BF16 ? &zero : &one,
                                          p->w_desc, w);
}

/* One kind on the chosen path: the backend-API engine, else the legacy call. */
static int conv_run(sg_cuda *c, sg_conv_plan *p, int kind, const void *x, const void *w, const void *y)
{
    /* the workspace grew when the lane that chose this kind ran it first;
     * the other lane's (ops->lane) grows at its own first call */
    size_t need = p->workspace[kind];
    if (p->eng[kind].plan && (size_t)p->eng[kind].workspace > need) need = (size_t)p->eng[kind].workspace;
    if (need > c->workspace_size && sg_cuda_grow_workspace(c, need)) return -1;
    int ran = sg_conv_engine_run(c, p, kind, (void *)x, (void *)w, (void *)y);
    if (ran) return ran < 0 ? -1 : 0;
    if (p->legacy_refused[kind])                /* the engine cannot run this call (unaligned pointers) */
        return sg_cuda_fail(c, __FILE__, __LINE__, "%s N %d Ci %d %dx%d Co %d K %d stride %d pad %d: its "
                            "backend-API engine cannot run pointers that are not 16-byte aligned, and the legacy "
                            "algorithms within %zu MiB are nondeterministic: raise SG_CUDNN_WORKSPACE_MIB (or "
                            "SG_CUDNN_NONDET=1 lets them run)", sg_conv_kind_name(kind), p->N, p->Ci, p->H, p->W,
                            p->Co, p->K, p->stride, p->pad, c->workspace_limit >> 20);
    cudnnStatus_t st = sg_conv_legacy_run(c, p, kind, (void *)x, (void *)w, (void *)y);
    const char *what = kind == SG_CONV_FWD ? "cudnnConvolutionForward"
                     : kind == SG_CONV_BWD_DATA ? "cudnnConvolutionBackwardData"
                     : "cudnnConvolutionBackwardFilter";
    return sg_cuda_check_dnn(c, st, what, __FILE__, __LINE__);
}

/* Bias add, and D's bias + LeakyReLU (ops->bias_leaky_relu): y = act(y + bias[c]) */
struct bias_only {
    __device__ float operator()(float v) const { return v; }
};
struct bias_leaky {                 /* the CPU backend's select: -0 and NaN take the slope */
    float slope;
    __device__ float operator()(float v) const { return v > 0.f ? v : slope * v; }
};

/* NCHW: y (N, Co, HW); grid (N*Co planes, chunks) */
template <class Act>
__global__ void bias_act_kernel(float *__restrict__ y, const float *__restrict__ bias, int Co, int HW, Act act)
{
    unsigned plane = blockIdx.x;
    float b = bias[plane % Co];
    float *yp = y + (size_t)plane * HW;
    for (int i = blockIdx.y * blockDim.x + threadIdx.x; i < HW; i += gridDim.y * blockDim.x)
        yp[i] = act(yp[i] + b);
}

/* NHWC: y (N*HW rows, Co), bias per column; grid-stride over all elements
 * (Index: size_t, or unsigned when n < 2^31, whose modulo is several times
 * cheaper: i + the grid's stride then cannot wrap past 2^32 back below n) */
template <class Index, class Act>
__global__ void bias_act_nhwc_kernel(float *__restrict__ y, const float *__restrict__ bias, Index Co, Index n,
                                     Act act)
{
    for (Index i = blockIdx.x * (Index)blockDim.x + threadIdx.x; i < n; i += (Index)gridDim.x * blockDim.x)
        y[i] = act(y[i] + bias[i % Co]);
}

/* the same four columns at a time (Co % 4 == 0, y and bias 16-byte aligned) */
template <class Act>
__global__ void bias_act_nhwc4_kernel(float4 *__restrict__ y, const float4 *__restrict__ bias, unsigned Co4,
                                      unsigned n4, Act act)
{
    for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += gridDim.x * blockDim.x) {
        float4 v = y[i], b = bias[i % Co4];
        y[i] = make_float4(act(v.x + b.x), act(v.y + b.y), act(v.z + b.z), act(v.w + b.w));
    }
}

template <class Act>
static void bias_act(sg_cuda *c, float *y, const float *bias, int N, int Co, int hw, Act act)
{
    if (c->nhwc) {
        size_t n = (size_t)N * hw * Co;
        if (n > 0x7fffffffu)
            bias_act_nhwc_kernel<size_t, Act><<<sg_cuda_blocks(c, n, 256), 256, 0, c->stream>>>(y, bias, Co, n, act);
        else if (Co % 4 == 0 && (((uintptr_t)y | (uintptr_t)bias) & 15) == 0)
            bias_act_nhwc4_kernel<Act><<<sg_cuda_blocks(c, n / 4, 256), 256, 0, c->stream>>>(
                (float4 *)y, (const float4 *)bias, (unsigned)Co / 4, (unsigned)(n / 4), act);
        else
            bias_act_nhwc_kernel<unsigned, Act><<<sg_cuda_blocks(c, n, 256), 256, 0, c->stream>>>(
                y, bias, (unsigned)Co, (unsigned)n, act);
        LAUNCH_CHECK(c, "bias_act_nhwc_kernel");
        return;
    }
    int threads = hw >= 256 ? 256 : (hw + 31) / 32 * 32;
    bias_act_kernel<Act><<<sg_cuda_plane_grid((size_t)N * Co, hw, threads), threads, 0, c->stream>>>(
        y, bias, Co, hw, act);
    LAUNCH_CHECK(c, "bias_act_kernel");
}

void sg_cuda_bias_leaky_relu(sg_backend *be, float *y, const float *bias, float slope, int N, int C, int HW)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed || N <= 0 || C <= 0 || HW <= 0) return;
    bias_act(c, y, bias, N, C, HW, bias_leaky{slope});
}

/* The (32, 8) NHWC bias blocks' last step: each thread's sum s into
 * partial[n*Co + co] as the fixed-order sum of the 8 rows' sums, row 0
 * first (every thread of the block calls it: it holds a barrier). */
static __device__ __forceinline__ void bias_rows_to_partial(float (*rows)[33], float s, float *partial, int n, int co,
                                                            int Co)
{
    rows[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && co < Co) {
        float t = 0.f;
        for (int r = 0; r < 8; r++) t += rows[r][threadIdx.x];
        partial[(size_t)n * Co + co] = t;
    }
}

/* NHWC: partial[n*Co + co] = sum over hw of dy[n, hw, co]; block (32, 8) per
 * (32-channel tile, image): lanes read consecutive channels (coalesced), the
 * 8 rows stride over hw, then a fixed-order sum of the 8 row sums */
__global__ void bias_grad_partial_nhwc_kernel(float *__restrict__ partial, const float *__restrict__ dy,
                                              int Co, int HW)
{
    __shared__ float rows[8][33];
    int co = blockIdx.x * 32 + threadIdx.x, n = blockIdx.y;
    float s = 0.f;
    if (co < Co) {
        const float *p = dy + (size_t)n * HW * Co + co;
        for (int hw = threadIdx.y; hw < HW; hw += 8) s += p[(size_t)hw * Co];
    }
    bias_rows_to_partial(rows, s, partial, n, co, Co);
}

/* partial[n*Co + co] = sum over hw of dy[n, co, hw]: one block per plane,
 * a fixed order inside the block */
__global__ void bias_grad_partial_kernel(float *__restrict__ partial, const float *__restrict__ dy,
                                         int HW)
{
    __shared__ float shm[32];
    const float *p = dy + (size_t)blockIdx.x * HW;
    float s = 0.f;
    for (int i = threadIdx.x; i < HW; i += blockDim.x) s += p[i];
    s = block_sum(s, shm);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

/* db[co] += sum over n of partial[n, co], n in order: deterministic */
__global__ void bias_grad_final_kernel(float *db, const float *__restrict__ partial, int N, int Co)
{
    int co = blockIdx.x * blockDim.x + threadIdx.x;
    if (co >= Co) return;
    float s = 0.f;
    for (int n = 0; n < N; n++) s += partial[(size_t)n * Co + co];
    db[co] += s;
}

/* D's LeakyReLU backward with its bias gradient (ops->leaky_relu_backward_bias):
 * dx = x > 0 ? dy : slope*dy as leaky_bwd_op (kernels/elementwise.cu) writes
 * it, and for the first n_bias images the partial sums the two kernels above
 * take of that dx, in their order, so that db is the two-step result bit for
 * bit. The product is __fmul_rn: rounded on its own, as the mask kernel
 * rounds it, never contracted with the sum into an FMA. dx may be dy: each
 * element is read and then written by one thread, so no __restrict__ here.
 *
 * NHWC: the grid and block of bias_grad_partial_nhwc_kernel over all N images
 * (those past n_bias only masked); each thread loads LRB_UNROLL rows of dy
 * and x before it writes and adds them, in the same order, so that a thread
 * of a large plane keeps that many loads in flight (the grid is only
 * Co/32 x N blocks). */
#define LRB_UNROLL 8
__global__ void leaky_bias_grad_nhwc_kernel(float *dx, float *partial, const float *dy, const float *x,
                                            float slope, int Co, int HW, int n_bias)
{
    __shared__ float rows[8][33];
    int co = blockIdx.x * 32 + threadIdx.x, n = blockIdx.y;
    float s = 0.f;
    if (co < Co) {
        size_t base = (size_t)n * HW * Co + co;
        int hw = threadIdx.y;
        for (; hw + 8 * (LRB_UNROLL - 1) < HW; hw += 8 * LRB_UNROLL) {
            float d[LRB_UNROLL], v[LRB_UNROLL];
#pragma unroll
            for (int u = 0; u < LRB_UNROLL; u++) {
                size_t i = base + (size_t)(hw + 8 * u) * Co;
                d[u] = dy[i];
                v[u] = x[i];
            }
#pragma unroll
            for (int u = 0; u < LRB_UNROLL; u++) {
                float g = v[u] > 0.f ? d[u] : __fmul_rn(slope, d[u]);
                dx[base + (size_t)(hw + 8 * u) * Co] = g;
                s += g;
            }
        }
        for (; hw < HW; hw += 8) {
            size_t i = base + (size_t)hw * Co;
            float d = dy[i], g = x[i] > 0.f ? d : __fmul_rn(slope, d);
            dx[i] = g;
            s += g;
        }
    }
    if (n >= n_bias) return;            /* the whole block: no barrier skipped by some threads only */
    bias_rows_to_partial(rows, s, partial, n, co, Co);
}

/* NCHW: bias_grad_partial_kernel's block per plane over all N*Co planes */
__global__ void leaky_bias_grad_kernel(float *dx, float *partial, const float *dy, const float *x, float slope,
                                       int HW, int n_bias_planes)
{
    __shared__ float shm[32];
    size_t off = (size_t)blockIdx.x * HW;
    float s = 0.f;
    for (int i = threadIdx.x; i < HW; i += blockDim.x) {
        float d = dy[off + i], g = x[off + i] > 0.f ? d : __fmul_rn(slope, d);
        dx[off + i] = g;
        s += g;
    }
    if ((int)blockIdx.x >= n_bias_planes) return;   /* the whole block */
    s = block_sum(s, shm);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

void sg_cuda_leaky_relu_backward_bias(sg_backend *be, float *dx, float *db, const float *dy, const float *x,
                                      float slope, int N, int C, int HW, int n_bias)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed || N <= 0 || C <= 0 || HW <= 0) return;
    if (!db || n_bias <= 0) {
        sg_cuda_leaky_relu_backward(be, dx, dy, x, slope, (size_t)N * C * HW);
        return;
    }
    if (n_bias > N) {
        sg_cuda_fail(c, __FILE__, __LINE__, "leaky_relu_backward_bias: n_bias %d over N %d", n_bias, N);
        return;
    }
    float *partial = sg_cuda_scratch(c, (size_t)n_bias * C);
    if (!partial) return;
    if (c->nhwc) {
        if (N > 65535) {
            sg_cuda_fail(c, __FILE__, __LINE__, "bias gradient: batch %d over 65535", N);
            return;
        }
        leaky_bias_grad_nhwc_kernel<<<dim3((C + 31) / 32, N), dim3(32, 8), 0, c->stream>>>(dx, partial, dy, x,
                                                                                            slope, C, HW, n_bias);
        if (LAUNCH_CHECK(c, "leaky_bias_grad_nhwc_kernel")) return;
    } else {
        int threads = HW >= 256 ? 256 : (HW + 31) / 32 * 32;
        leaky_bias_grad_kernel<<<N * C, threads, 0, c->stream>>>(dx, partial, dy, x, slope, HW, n_bias * C);
        if (LAUNCH_CHECK(c, "leaky_bias_grad_kernel")) return;
    }
    bias_grad_final_kernel<<<(C + 127) / 128, 128, 0, c->stream>>>(db, partial, n_bias, C);
    LAUNCH_CHECK(c, "bias_grad_final_kernel");
}

/* ---- bf16 mode: the operands' bf16 copies ------------------------------------ */

/* dst = src rounded to bf16, round to nearest even (NaN stays NaN, overflow
 * goes to inf); grid-stride */
__global__ void to_bf16_kernel(__nv_bfloat16 *__restrict__ dst, const float *__restrict__ src, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        dst[i] = __float2bfloat16_rn(src[i]);
}

/* dst = src (exact: every bf16 is a float); accumulate: dst += src */
__global__ void from_bf16_kernel(float *__restrict__ dst, const __nv_bfloat16 *__restrict__ src, size_t n,
                                 int accumulate)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float v = __bfloat162float(src[i]);
        dst[i] = accumulate ? dst[i] + v : v;
    }
}

static int to_bf16(sg_cuda *c, __nv_bfloat16 *dst, const float *src, size_t n)
{
    to_bf16_kernel<<<sg_cuda_blocks(c, n, 256), 256, 0, c->stream>>>(dst, src, n);
    return LAUNCH_CHECK(c, "to_bf16_kernel");
}

static int from_bf16(sg_cuda *c, float *dst, const __nv_bfloat16 *src, size_t n, int accumulate)
{
    from_bf16_kernel<<<sg_cuda_blocks(c, n, 256), 256, 0, c->stream>>>(dst, src, n, accumulate);
    return LAUNCH_CHECK(c, "from_bf16_kernel");
}

/* n bytes rounded up to 256: the start of the next region in a buffer */
static size_t region(size_t n) { return (n + 255) / 256 * 256; }

/* Room for the bf16 copies of plan p's x (N,Ci,H,W), w (Co,Ci,K,K) and y
 * (N,Co,Ho,Wo), each 256-byte aligned, in one buffer (sg_cuda_grow_buffer). */
static int bf16_operands(sg_cuda *c, const sg_conv_plan *p, __nv_bfloat16 **x, __nv_bfloat16 **w,
                         __nv_bfloat16 **y)
{
    size_t nx = (size_t)p->N * p->Ci * p->H * p->W, nw = (size_t)p->Co * p->Ci * p->K * p->K;
    size_t ny = (size_t)p->N * p->Co * p->Ho * p->Wo;
    size_t bx = region(nx * sizeof(__nv_bfloat16)), bw = region(nw * sizeof(__nv_bfloat16));
    if (sg_cuda_grow_buffer(c, &c->bf16_scratch, &c->bf16_scratch_bytes, bx + bw + ny * sizeof(__nv_bfloat16),
                            (size_t)4 << 20, "the bf16 scratch buffer must grow"))
        return -1;
    char *base = (char *)c->bf16_scratch;
    *x = (__nv_bfloat16 *)base;
    *w = (__nv_bfloat16 *)(base + bx);
    *y = (__nv_bfloat16 *)(base + bx + bw);
    return 0;
}

/* One kind in bf16 mode. The kind's inputs are converted to bf16, cuDNN
 * writes the bf16 output, which is converted back into out: overwriting it
 * (forward: y; backward-data: dx) or added to it (backward-filter: dw).
 * xf, wf, yf: the float operands, the output among them unread. */
static int conv_run_bf16(sg_cuda *c, sg_conv_plan *p, int kind, const float *xf, const float *wf,
                         const float *yf, float *out)
{
    __nv_bfloat16 *xb, *wb, *yb;
    if (bf16_operands(c, p, &xb, &wb, &yb)) return -1;
    size_t nx = (size_t)p->N * p->Ci * p->H * p->W, nw = (size_t)p->Co * p->Ci * p->K * p->K;
    size_t ny = (size_t)p->N * p->Co * p->Ho * p->Wo;
    if (kind != SG_CONV_FWD && to_bf16(c, yb, yf, ny)) return -1;             /* dy */
    if (kind != SG_CONV_BWD_DATA && to_bf16(c, xb, xf, nx)) return -1;        /* x */
    if (kind != SG_CONV_BWD_FILTER && to_bf16(c, wb, wf, nw)) return -1;      /* w */
    if (conv_run(c, p, kind, xb, wb, yb)) return -1;
    if (kind == SG_CONV_FWD) return from_bf16(c, out, yb, ny, 0);
    if (kind == SG_CONV_BWD_DATA) return from_bf16(c, out, xb, nx, 0);
    return from_bf16(c, out, wb, nw, 1);
}

static int pad3_applies(const sg_cuda *c, int Ci, int Co)
{
    return c->pad3 && c->nhwc && (Ci == 3 || Co == 3);
}

static int conv_kind_pad3(sg_cuda *c, int kind, float *x, float *w, float *y, int N, int Ci, int H, int W,
                          int Co, int K, int stride, int pad);

/* The three kinds on the backend's precision, without bias: x, w, y as the
 * forward convolution's input, weight and output, the kind's output among
 * them (forward y, backward-data x: overwritten; backward-filter w: +=).
 * 3-channel operands go through the padding below when it is on. */
static int conv_kind(sg_cuda *c, int kind, float *x, float *w, float *y, int N, int Ci, int H, int W,
                     int Co, int K, int stride, int pad)
{
    /* few output pixels: im2col + cuBLAS where SG_CUDA_GEMM_MAX_PIXELS asks
     * (conv_gemm.cu); transposed convolutions reach here in their
     * convolution's terms, so Ho*Wo is the small side either way */
    if (sg_conv_gemm_applies(c, H, W, K, stride, pad))
        return sg_conv_gemm_run(c, kind, x, w, y, N, Ci, H, W, Co, K, stride, pad);
    if (pad3_applies(c, Ci, Co)) return conv_kind_pad3(c, kind, x, w, y, N, Ci, H, W, Co, K, stride, pad);
    sg_conv_plan *p = find_plan(c, N, Ci, H, W, Co, K, stride, pad);
    if (!p || plan_algo(c, p, kind, x, w, y)) return -1;
    if (c->precision != SG_CUDA_BF16) return conv_run(c, p, kind, x, w, y);
    return conv_run_bf16(c, p, kind, kind == SG_CONV_BWD_DATA ? NULL : x, kind == SG_CONV_BWD_FILTER ? NULL : w,
                         kind == SG_CONV_FWD ? NULL : y, kind == SG_CONV_FWD ? y : kind == SG_CONV_BWD_DATA ? x : w);
}

/* ---- 3-channel operands (SG_CUDA_PAD3=P, NHWC) ------------------------------
 * cuDNN's NHWC tensor-core kernels read channels in vectors; a 3-channel
 * tensor (the images: D's first convolution's input, G's last one's output)
 * is padded by cuDNN's own conversion kernels on every call (about 0.77 ms
 * per iteration on an H200 with the legacy calls, bench/NOTES.md). With
 * SG_CUDA_PAD3=4 or 8 the backend pads such operands to P channels itself
 * (zeros; the weights get zero input channels or zero filters), runs the
 * P-channel convolution, and slices the result: the same sums, since every
 * added term is a product with zero. */

/* dst (rows, Cd) from src (rows, Cs): channel k < min(Cs, Cd) copied, the
 * rest of dst zero; accumulate: dst += instead of = */
__global__ void repack_channels_kernel(float *__restrict__ dst, const float *__restrict__ src, size_t rows,
                                       int Cs, int Cd, int accumulate)
{
    size_t n = rows * (size_t)Cd;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        size_t r = i / Cd;
        int k = (int)(i - r * Cd);
        float v = k < Cs ? src[r * Cs + k] : 0.f;
        dst[i] = accumulate ? dst[i] + v : v;
    }
}

static int repack(sg_cuda *c, float *dst, const float *src, size_t rows, int Cs, int Cd, int accumulate)
{
    size_t n = rows * (size_t)Cd;
    repack_channels_kernel<<<sg_cuda_blocks(c, n, 256), 256, 0, c->stream>>>(dst, src, rows, Cs, Cd, accumulate);
    return LAUNCH_CHECK(c, "repack_channels_kernel");
}

/* One kind with 3-channel operands padded to P = c->pad3 channels. The
 * padded copies live in c->pad3_scratch: x2 (N,H,W,Ci2), w2 (Co2,K,K,Ci2),
 * y2 (N,Ho,Wo,Co2) and, for backward-filter, dw2 (Co2,K,K,Ci2). The padded
 * convolution (P channels, never 3) is an ordinary conv_kind. */
static int conv_kind_pad3(sg_cuda *c, int kind, float *x, float *w, float *y, int N, int Ci, int H, int W,
                          int Co, int K, int stride, int pad)
{
    const int P = c->pad3;
    int Ci2 = Ci == 3 ? P : Ci, Co2 = Co == 3 ? P : Co;
    int Ho = (H + 2 * pad - K) / stride + 1, Wo = (W + 2 * pad - K) / stride + 1;
    size_t px = (size_t)N * H * W, py = (size_t)N * Ho * Wo, kk = (size_t)K * K;
    size_t nx = px * Ci2, nw = (size_t)Co2 * kk * Ci2, ny = py * Co2;
    size_t bx = region(nx * sizeof(float)), bw = region(nw * sizeof(float)), by = region(ny * sizeof(float));
    if (sg_cuda_grow_buffer(c, &c->pad3_scratch, &c->pad3_scratch_bytes, bx + 2 * bw + by, (size_t)4 << 20,
                            "the 3-channel padding buffer must grow"))
        return -1;
    char *base = (char *)c->pad3_scratch;
    float *x2 = (float *)base, *w2 = (float *)(base + bx), *y2 = (float *)(base + bx + bw);
    float *dw2 = (float *)(base + bx + bw + by);
    /* the kind's inputs, padded where they have 3 channels */
    float *xin = x, *win = w, *yin = y;
    if (kind != SG_CONV_BWD_DATA && Ci == 3) {
        if (repack(c, x2, x, px, 3, P, 0)) return -1;
        xin = x2;
    }
    if (kind != SG_CONV_BWD_FILTER) {           /* w (Co,K,K,Ci) -> w2 (Co2,K,K,Ci2) */
        if (repack(c, w2, w, (size_t)Co * kk, Ci, Ci2, 0)) return -1;
        if (Co2 > Co && CU_CHECK(c, cudaMemsetAsync(w2 + (size_t)Co * kk * Ci2, 0,
                                                   (size_t)(Co2 - Co) * kk * Ci2 * sizeof(float), c->stream)))
            return -1;
        win = w2;
    }
    if (kind != SG_CONV_FWD && Co == 3) {
        if (repack(c, y2, y, py, 3, P, 0)) return -1;
        yin = y2;
    }
    if (kind == SG_CONV_FWD) {
        float *out = Co == 3 ? y2 : y;
        if (conv_kind(c, kind, xin, win, out, N, Ci2, H, W, Co2, K, stride, pad)) return -1;
        return Co == 3 ? repack(c, y, y2, py, P, 3, 0) : 0;
    }
    if (kind == SG_CONV_BWD_DATA) {
        float *out = Ci == 3 ? x2 : x;
        if (conv_kind(c, kind, out, win, yin, N, Ci2, H, W, Co2, K, stride, pad)) return -1;
        return Ci == 3 ? repack(c, x, x2, px, P, 3, 0) : 0;
    }
    /* backward-filter accumulates: into zeros, then the real filters' real
     * channels are added to dw (KRSC: filter co's rows are co*K*K...) */
    if (CU_CHECK(c, cudaMemsetAsync(dw2, 0, nw * sizeof(float), c->stream)) ||
        conv_kind(c, kind, xin, dw2, yin, N, Ci2, H, W, Co2, K, stride, pad))
        return -1;
    return repack(c, w, dw2, (size_t)Co * kk, Ci2, Ci, 1);
}

void sg_cuda_conv2d_forward(sg_backend *be, float *y, const float *x, const float *w,
                            const float *bias, int N, int Ci, int H, int W, int Co,
                            int K, int stride, int pad)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed) return;
    if (conv_kind(c, SG_CONV_FWD, (float *)x, (float *)w, y, N, Ci, H, W, Co, K, stride, pad))
        return;
    if (bias)
        bias_act(c, y, bias, N, Co, ((H + 2 * pad - K) / stride + 1) * ((W + 2 * pad - K) / stride + 1),
                 bias_only{});
}

void sg_cuda_conv2d_backward_data(sg_backend *be, float *dx, const float *dy, const float *w,
                                  int N, int Ci, int H, int W, int Co, int K, int stride, int pad)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed) return;
    conv_kind(c, SG_CONV_BWD_DATA, dx, (float *)w, (float *)dy, N, Ci, H, W, Co, K, stride, pad);
}

void sg_cuda_conv2d_backward_filter(sg_backend *be, float *dw, float *db, const float *x,
                                    const float *dy, int N, int Ci, int H, int W, int Co,
                                    int K, int stride, int pad)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed) return;
    if (dw && conv_kind(c, SG_CONV_BWD_FILTER, (float *)x, dw, (float *)dy, N, Ci, H, W, Co, K, stride, pad))
        return;
    if (db) {
        int hw = ((H + 2 * pad - K) / stride + 1) * ((W + 2 * pad - K) / stride + 1);
        int threads = hw >= 256 ? 256 : (hw + 31) / 32 * 32;
        float *partial = sg_cuda_scratch(c, (size_t)N * Co);
        if (!partial) return;
        if (c->nhwc) {
            if (N > 65535) {
                sg_cuda_fail(c, __FILE__, __LINE__, "bias gradient: batch %d over 65535", N);
                return;
            }
            bias_grad_partial_nhwc_kernel<<<dim3((Co + 31) / 32, N), dim3(32, 8), 0, c->stream>>>(
                partial, dy, Co, hw);
            if (LAUNCH_CHECK(c, "bias_grad_partial_nhwc_kernel")) return;
        } else {
            bias_grad_partial_kernel<<<N * Co, threads, 0, c->stream>>>(partial, dy, hw);
            if (LAUNCH_CHECK(c, "bias_grad_partial_kernel")) return;
        }
        bias_grad_final_kernel<<<(Co + 127) / 128, 128, 0, c->stream>>>(db, partial, N, Co);
        LAUNCH_CHECK(c, "bias_grad_final_kernel");
    }
}
