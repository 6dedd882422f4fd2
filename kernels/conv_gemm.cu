/* Convolutions as im2col + cuBLAS GEMM, for NHWC convolutions whose output
 * has few pixels (SG_CUDA_GEMM_MAX_PIXELS; off by default).
 *
 * Why: D's deep layers at 128 px (e.g. (48, 4x4, 1024) -> (48, 2x2, 2048):
 * a GEMM of M = 192 output positions, N = 2048, K = 16384) are long, thin
 * GEMMs that cuDNN's deterministic engines may tile into a few dozen CTAs
 * (no split-K without atomics); cuBLAS splits K itself, deterministically
 * (the same bits every run for a fixed handle, stream, workspace and GPU).
 * This path is for timing against cuDNN (bench/train-speed); cuDNN stays
 * the default.
 *
 * Layout (lib/backend.h "Layout", NHWC): x (N,H,W,Ci), y (N,Ho,Wo,Co), w
 * (Co,K,K,Ci): w is a row-major Co x Kc matrix, Kc = K*K*Ci, and y a
 * row-major M x Co one, M = N*Ho*Wo. col (M x Kc, row-major) holds, per
 * output position, the input patch in the weight rows' order (kh, kw, ci),
 * zeros where the patch reaches into the padding. cuBLAS is column-major:
 * a row-major R x C matrix is its C x R transpose with ld C.
 *   forward:          y = col W^T      y^T = W col^T       (T, N: Co x M, k Kc)
 *   backward-data:    dcol = dy W      dcol^T = W^T dy^T   (N, N: Kc x M, k Co),
 *                     then dx gathered from dcol (col2im: each dx element
 *                     sums its at most ceil(K/s)^2 terms in a fixed order,
 *                     no atomics), overwritten
 *   backward-filter:  dW += dy^T col   dW^T += col^T dy    (N, T: Kc x Co, k M), beta 1
 * A 1x1 convolution with stride 1 and no padding needs no col: it is x.
 *
 * Math: tf32 precision lets cuBLAS use TF32 tensor cores
 * (CUBLAS_TF32_TENSOR_OP_MATH, what PyTorch's allow_tf32 sets); fp32 keeps
 * CUBLAS_DEFAULT_MATH, which never rounds float inputs to TF32. bf16
 * precision never comes here (sg_conv_gemm_applies). */
#include "cuda_backend.cuh"
extern "C" {
#include "backend_cuda_testing.h"
}
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* cuBLAS is loaded when a CUDA backend starts with the GEMM path on (and
 * NHWC, not bf16: where it can take a convolution), not linked: libcublasLt
 * alone maps over 500 MB, which every CUDA build of the tools would
 * otherwise map at start, switch on or off (and fail to start under a small
 * ulimit -v: tests/cli/low-memory.bats). The emulated build (tests/emu)
 * links tests/emu/cublas_emu.cc instead. One table per process. */
struct blas_api {
    cublasStatus_t (*create)(cublasHandle_t *);
    cublasStatus_t (*destroy)(cublasHandle_t);
    cublasStatus_t (*set_stream)(cublasHandle_t, cudaStream_t);
    cublasStatus_t (*set_math)(cublasHandle_t, cublasMath_t);
    cublasStatus_t (*set_workspace)(cublasHandle_t, void *, size_t);
    cublasStatus_t (*sgemm)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const float *,
                            const float *, int, const float *, int, const float *, float *, int);
};
static blas_api blas;
static char blas_error[512];
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void blas_load(void)
{
#ifdef SG_EMU_CUDA_RUNTIME_H
    blas.create = cublasCreate;
    blas.destroy = cublasDestroy;
    blas.set_stream = cublasSetStream;
    blas.set_math = cublasSetMathMode;
    blas.set_workspace = cublasSetWorkspace;
    blas.sgemm = cublasSgemm;
#else
    char name[64];
    snprintf(name, sizeof name, "libcublas.so.%d", CUBLAS_VER_MAJOR);    /* the headers' major version */
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(blas_error, sizeof blas_error, "cannot load cuBLAS (%s): %s; install CUDA's cuBLAS %d or unset "
                 "SG_CUDA_GEMM_MAX_PIXELS", name, dlerror(), CUBLAS_VER_MAJOR);
        return;
    }
    blas_api t;
    const char *missing = NULL;
#define BLAS_SYM(field, sym) \
    if (!missing && !(*(void **)&t.field = dlsym(h, sym))) missing = sym
    BLAS_SYM(create, "cublasCreate_v2");
    BLAS_SYM(destroy, "cublasDestroy_v2");
    BLAS_SYM(set_stream, "cublasSetStream_v2");
    BLAS_SYM(set_math, "cublasSetMathMode");
    BLAS_SYM(set_workspace, "cublasSetWorkspace_v2");
    BLAS_SYM(sgemm, "cublasSgemm_v2");
#undef BLAS_SYM
    if (missing) {
        snprintf(blas_error, sizeof blas_error, "%s has no %s", name, missing);
        return;                                 /* h stays loaded: harmless */
    }
    blas = t;
#endif
}

/* cuBLAS's recommended workspace on Hopper; given to each lane's handle
 * (cublasSetWorkspace) so that no call allocates, in a graph or outside */
static const size_t CUBLAS_WORKSPACE = (size_t)32 << 20;

static const char *blas_status_name(cublasStatus_t st)
{
    switch (st) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "an unknown cuBLAS status";
    }
}

static int check_blas(sg_cuda *c, cublasStatus_t st, const char *what, const char *file, int line)
{
    if (st == CUBLAS_STATUS_SUCCESS) return 0;
    const char *paren = strchr(what, '(');
    return sg_cuda_fail(c, file, line, "%.*s: %s (%d)", paren ? (int)(paren - what) : (int)strlen(what), what,
                        blas_status_name(st), (int)st);
}
#define BLAS_CHECK(c, call) check_blas((c), (call), #call, __FILE__, __LINE__)

int sg_conv_gemm_applies(const sg_cuda *c, int H, int W, int K, int stride, int pad)
{
    if (c->gemm_max_pixels <= 0 || !c->nhwc || c->precision == SG_CUDA_BF16) return 0;
    /* a bad shape goes on to cuDNN's path, which reports it */
    if (K <= 0 || stride <= 0 || pad < 0 || H + 2 * pad < K || W + 2 * pad < K) return 0;
    long long ho = (H + 2 * pad - K) / stride + 1, wo = (W + 2 * pad - K) / stride + 1;
    return ho * wo <= c->gemm_max_pixels;
}

/* Whether cuBLAS is loaded (at the first call); else *why says why. */
static bool blas_ready(const char **why)
{
#ifdef SG_EMU_CUDA_RUNTIME_H
    if (getenv("SG_EMU_NO_CUBLAS")) {           /* a machine without cuBLAS, for the tests: asked every call */
        *why = "cannot load cuBLAS (libcublas.so): SG_EMU_NO_CUBLAS is set";
        return false;
    }
#endif
    pthread_once(&blas_once, blas_load);
    *why = blas_error;
    return blas.create != NULL;
}

int sg_conv_gemm_open(sg_cuda *c, int asked)
{
    const char *why;
    if (c->gemm_max_pixels <= 0 || !c->nhwc || c->precision == SG_CUDA_BF16) return 0;   /* never used */
    if (blas_ready(&why)) return 0;
    if (asked) {
        sg_cuda_fail(c, __FILE__, __LINE__, "SG_CUDA_GEMM_MAX_PIXELS: %s", why);
        /* a switch the user set that cannot be honoured: not a reason for
         * --device auto to fall back to the CPU (lib/backend_open.c) */
        c->first_error.sys_errno = ELIBACC;
        return -1;
    }
    c->gemm_max_pixels = 0;                     /* the default asked for nothing: cuDNN does it all */
    return 0;
}

extern "C" int sg_backend_cuda_test_gemm_open(sg_backend *be, long max_pixels, int asked, long *now, sg_err *err)
{
    sg_cuda *c = sg_cuda_of(be);
    c->gemm_max_pixels = max_pixels;
    int rc = sg_conv_gemm_open(c, asked);
    *now = c->gemm_max_pixels;
    if (rc && err) *err = c->first_error;
    return rc;
}

/* The active lane's handle, made at its first call (never while recording:
 * cublasCreate allocates), bound to the lane's stream, with the lane's own
 * workspace (set after cublasSetStream, which resets it). */
static int lane_handle(sg_cuda *c)
{
    if (c->cublas) return 0;
    const char *why;
    if (!blas_ready(&why)) return sg_cuda_fail(c, __FILE__, __LINE__, "SG_CUDA_GEMM_MAX_PIXELS: %s", why);
    cudaStreamCaptureStatus cap = cudaStreamCaptureStatusNone;
    if (CU_CHECK(c, cudaStreamIsCapturing(c->stream, &cap))) return -1;
    if (cap != cudaStreamCaptureStatusNone)
        return sg_cuda_break_capture(c, __FILE__, __LINE__, "a lane's cuBLAS handle must be made");
    if (sg_cuda_grow_buffer(c, &c->cublas_ws, &c->cublas_ws_bytes, CUBLAS_WORKSPACE, 0,
                            "the cuBLAS workspace must be allocated"))
        return -1;
    cublasHandle_t h = NULL;
    if (BLAS_CHECK(c, blas.create(&h))) return -1;
    cublasMath_t math = c->precision == SG_CUDA_TF32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH;
    if (BLAS_CHECK(c, blas.set_stream(h, c->stream)) || BLAS_CHECK(c, blas.set_math(h, math)) ||
        BLAS_CHECK(c, blas.set_workspace(h, c->cublas_ws, c->cublas_ws_bytes))) {
        blas.destroy(h);
        return -1;
    }
    c->cublas = h;
    return 0;
}

void sg_conv_gemm_destroy(sg_cuda *c)
{
    /* a handle exists only where cuBLAS was loaded */
    if (c->cublas) blas.destroy(c->cublas);
    if (c->parked.cublas) blas.destroy(c->parked.cublas);
    c->cublas = c->parked.cublas = NULL;
    cudaFree(c->cublas_ws);
    cudaFree(c->parked.cublas_ws);
    cudaFree(c->col_scratch);
    cudaFree(c->parked.col_scratch);
    c->cublas_ws = c->parked.cublas_ws = NULL;
    c->col_scratch = c->parked.col_scratch = NULL;
}

/* im2col and col2im give each warp a run of channels: lanes walk the Ci
 * channels of one pixel (coalesced on both sides, float4 where Ci % 4 == 0
 * and the pointers allow), and the pixel's position is worked out once per
 * run, in 32 bits: every index that is divided fits in 32 bits by
 * sg_conv_gemm_run's checks (m < M <= INT_MAX, p < N*H*W <= INT_MAX, a
 * (kh, kw) slot < K*K <= 65535), so there is no 64-bit division, which is a
 * software routine on the GPU, and no division at all per element or tap.
 * Lanes past Ci idle: the convolutions this path is for (D's deep layers and
 * heads) have hundreds of channels. */
#define COL_RUNS_PER_BLOCK 8                    /* warps per block, a run each */

static __device__ __forceinline__ void col_add(float &s, float v) { s += v; }
static __device__ __forceinline__ void col_add(float4 &s, float4 v)
{
    s.x += v.x;
    s.y += v.y;
    s.z += v.z;
    s.w += v.w;
}

/* col (M x Kc) from x (N,H,W,Ci), V = float or float4, Cv = Ci in V's:
 * blockIdx.y is the (kh, kw) slot, a warp copies the Ci run of col row m's
 * slot, zeros where the patch reaches into the padding */
template <typename V>
__global__ void im2col_nhwc_kernel(V *__restrict__ col, const V *__restrict__ x, int H, int W, int Cv, int K,
                                   int stride, int pad, int Ho, int Wo, unsigned M)
{
    const unsigned slot = blockIdx.y, KK = (unsigned)K * K;
    const int kh = (int)(slot / K), kw = (int)(slot % K);
    const unsigned runs = gridDim.x * COL_RUNS_PER_BLOCK;      /* m + runs < 2^32: m < 2^31, runs far less */
    for (unsigned m = blockIdx.x * COL_RUNS_PER_BLOCK + threadIdx.y; m < M; m += runs) {
        const unsigned t = m / Wo, n = t / Ho;
        const int ow = (int)(m - t * Wo), oh = (int)(t - n * Ho);
        const int ih = oh * stride - pad + kh, iw = ow * stride - pad + kw;
        V *dst = col + ((size_t)m * KK + slot) * Cv;
        if (ih >= 0 && ih < H && iw >= 0 && iw < W) {
            const V *src = x + (((size_t)n * H + ih) * W + iw) * Cv;
            for (int c = threadIdx.x; c < Cv; c += 32) dst[c] = src[c];
        } else {
            const V zero = {};
            for (int c = threadIdx.x; c < Cv; c += 32) dst[c] = zero;
        }
    }
}

/* dx (N,H,W,Ci) = the sum of dcol's entries that im2col would have copied
 * from each element, kh then kw ascending: a fixed order (per float4
 * component the same sums); a warp per input pixel p */
template <typename V>
__global__ void col2im_nhwc_kernel(V *__restrict__ dx, const V *__restrict__ dcol, int H, int W, int Cv, int K,
                                   int stride, int pad, int Ho, int Wo, unsigned P)
{
    const size_t Kcv = (size_t)K * K * Cv;
    const unsigned runs = gridDim.x * COL_RUNS_PER_BLOCK;      /* p + runs < 2^32: p < 2^31, runs far less */
    for (unsigned p = blockIdx.x * COL_RUNS_PER_BLOCK + threadIdx.y; p < P; p += runs) {
        const unsigned t = p / W, n = t / H;
        const int w = (int)(p - t * W), h = (int)(t - n * H);
        const V *rows = dcol + (size_t)n * Ho * Wo * Kcv;      /* image n's col rows */
        /* the taps that reach (h, w): kh with h + pad - kh = stride * oh,
         * oh >= 0, i.e. kh = (h + pad) % stride, then every stride-th, oh
         * one less each time (kw and ow alike) */
        const int kh0 = (h + pad) % stride, oh0 = (h + pad) / stride;
        const int kw0 = (w + pad) % stride, ow0 = (w + pad) / stride;
        for (int c = threadIdx.x; c < Cv; c += 32) {
            V s = {};
            for (int kh = kh0, oh = oh0; kh < K && oh >= 0; kh += stride, oh--) {
                if (oh >= Ho) continue;
                for (int kw = kw0, ow = ow0; kw < K && ow >= 0; kw += stride, ow--) {
                    if (ow >= Wo) continue;
                    col_add(s, rows[((size_t)oh * Wo + ow) * Kcv + ((size_t)kh * K + kw) * Cv + c]);
                }
            }
            dx[(size_t)p * Cv + c] = s;
        }
    }
}

int sg_conv_gemm_run(sg_cuda *c, int kind, float *x, float *w, float *y, int N, int Ci, int H, int W, int Co,
                     int K, int stride, int pad)
{
    if (N <= 0 || Ci <= 0 || Co <= 0)
        return sg_cuda_fail(c, __FILE__, __LINE__, "bad convolution shape N %d Ci %d H %d W %d Co %d K %d "
                            "stride %d pad %d", N, Ci, H, W, Co, K, stride, pad);
    const int Ho = (H + 2 * pad - K) / stride + 1, Wo = (W + 2 * pad - K) / stride + 1;
    const long long M = (long long)N * Ho * Wo, Kc = (long long)K * K * Ci;
    if (M > 0x7fffffff || Kc > 0x7fffffff)
        return sg_cuda_fail(c, __FILE__, __LINE__, "convolution N %d Ci %d %dx%d Co %d K %d: a GEMM of %lld x "
                            "%lld is past cuBLAS's int dimensions", N, Ci, H, W, Co, K, M, Kc);
    /* im2col's and col2im's 32-bit indices (above them) */
    if ((long long)K * K > 65535 || (long long)N * H * W > 0x7fffffff)
        return sg_cuda_fail(c, __FILE__, __LINE__, "convolution N %d Ci %d %dx%d Co %d K %d: past the GEMM path's "
                            "limits (K*K <= 65535, N*H*W < 2^31); unset SG_CUDA_GEMM_MAX_PIXELS", N, Ci, H, W, Co, K);
    if (lane_handle(c)) return -1;
    /* 1x1, stride 1, no padding: col is x itself (M = N*H*W, Kc = Ci) */
    const int direct = K == 1 && stride == 1 && pad == 0;
    const size_t ncol = (size_t)M * (size_t)Kc;
    float *col = x;
    if (!direct) {
        if (sg_cuda_grow_buffer(c, (void **)&c->col_scratch, &c->col_scratch_bytes, ncol * sizeof(float),
                                (size_t)4 << 20, "the im2col buffer must grow"))
            return -1;
        col = c->col_scratch;
        if (ncol * sizeof(float) > c->gemm_col_peak) c->gemm_col_peak = ncol * sizeof(float);
    }
    const float one = 1.f, zero = 0.f;
    c->gemm_calls[kind]++;
    /* float4 runs where every run starts 16-byte aligned: Ci % 4 == 0 and
     * x so (col is the scratch buffer, cudaMalloc'ed) */
    const int vec4 = Ci % 4 == 0 && (uintptr_t)x % 16 == 0 && (uintptr_t)col % 16 == 0;
    const dim3 run_block(32, COL_RUNS_PER_BLOCK);
    /* forward and backward-filter read x as columns */
    if (kind != SG_CONV_BWD_DATA && !direct) {
        const dim3 grid(sg_cuda_blocks(c, (size_t)M, COL_RUNS_PER_BLOCK), (unsigned)(K * K));
        if (vec4)
            im2col_nhwc_kernel<float4><<<grid, run_block, 0, c->stream>>>((float4 *)col, (const float4 *)x, H, W,
                                                                          Ci / 4, K, stride, pad, Ho, Wo, (unsigned)M);
        else
            im2col_nhwc_kernel<float><<<grid, run_block, 0, c->stream>>>(col, x, H, W, Ci, K, stride, pad, Ho, Wo,
                                                                         (unsigned)M);
        if (LAUNCH_CHECK(c, "im2col_nhwc_kernel")) return -1;
    }
    if (kind == SG_CONV_FWD)
        return BLAS_CHECK(c, blas.sgemm(c->cublas, CUBLAS_OP_T, CUBLAS_OP_N, Co, (int)M, (int)Kc, &one, w, (int)Kc,
                                         col, (int)Kc, &zero, y, Co));
    if (kind == SG_CONV_BWD_DATA) {
        if (BLAS_CHECK(c, blas.sgemm(c->cublas, CUBLAS_OP_N, CUBLAS_OP_N, (int)Kc, (int)M, Co, &one, w, (int)Kc,
                                      y, Co, &zero, col, (int)Kc)))
            return -1;
        if (direct) return 0;
        const unsigned P = (unsigned)((size_t)N * H * W);
        const unsigned grid = sg_cuda_blocks(c, P, COL_RUNS_PER_BLOCK);
        if (vec4)
            col2im_nhwc_kernel<float4><<<grid, run_block, 0, c->stream>>>((float4 *)x, (const float4 *)col, H, W,
                                                                          Ci / 4, K, stride, pad, Ho, Wo, P);
        else
            col2im_nhwc_kernel<float><<<grid, run_block, 0, c->stream>>>(x, col, H, W, Ci, K, stride, pad, Ho, Wo,
                                                                         P);
        return LAUNCH_CHECK(c, "col2im_nhwc_kernel");
    }
    /* beta 1: dw accumulates (lib/backend.h "Accumulation") */
    return BLAS_CHECK(c, blas.sgemm(c->cublas, CUBLAS_OP_N, CUBLAS_OP_T, (int)Kc, Co, (int)M, &one, col, (int)Kc,
                                     y, Co, &one, w, (int)Kc));
}
