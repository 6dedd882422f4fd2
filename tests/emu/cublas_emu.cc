/* The cuBLAS the CUDA backend calls (kernels/conv_gemm.cu), emulated on the
 * host (tests/emu/emu.h), with the real <cublas_v2.h> declaring every type
 * and signature: handles, their stream, math mode and workspace, and SGEMM.
 *
 * Like the cuDNN emulation it is a test oracle, strict where cuBLAS is and
 * stricter where that catches the backend's mistakes: bad transposes,
 * dimensions and leading dimensions are CUBLAS_STATUS_INVALID_VALUE, as in
 * cuBLAS; so are matrices that are not device memory (cudaMalloc of the
 * emulated runtime) covering what the call reads or writes, a C overlapping
 * A or B, and a workspace that is not device memory or not 256-byte aligned.
 * cublasSetStream resets the workspace to the library's own, as cuBLAS does.
 *
 * Arithmetic: column-major C = alpha op(A) op(B) + beta C, one float
 * accumulator per element summing over k in order with fused multiply-adds;
 * under CUBLAS_TF32_TENSOR_OP_MATH both operands are rounded to TF32 first
 * (sg_emu_tf32_round, as the cuDNN emulation does for tensor cores); beta 0
 * never reads C. The work runs in the handle's stream's order (recorded
 * while that stream is captured). */
#include <cublas_v2.h>
#include "emu.h"
#include <stdint.h>
#include <string.h>
#include <vector>

struct cublasContext {
    uint32_t magic;
    cudaStream_t stream;
    cublasMath_t math;
    void *ws;
    size_t ws_bytes;
};

namespace {

const uint32_t MAGIC_BLAS = 0x43424c53u;

bool handle_ok(cublasHandle_t h) { return h && h->magic == MAGIC_BLAS; }

bool op_ok(cublasOperation_t op) { return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C; }

/* bytes a column-major rows x cols matrix with leading dimension ld spans */
size_t span(int rows, int cols, int ld)
{
    if (rows <= 0 || cols <= 0) return 0;
    return ((size_t)(cols - 1) * ld + rows) * sizeof(float);
}

bool overlap(const void *a, size_t na, const void *b, size_t nb)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return na && nb && x < y + nb && y < x + na;
}

struct Gemm {
    bool ta, tb, tf32;
    int m, n, k, lda, ldb, ldc;
    float alpha, beta;
    const float *A, *B;
    float *C;
    void *ws;
    size_t ws_bytes;
};

void run_gemm(const Gemm &g)
{
    if (g.ws_bytes) memset(g.ws, 0xa5, g.ws_bytes < 4096 ? g.ws_bytes : 4096);   /* the workspace is used */
    /* op(A) as rows of k, op(B) as columns of k: both read along k */
    std::vector<float> a((size_t)g.m * g.k), b((size_t)g.n * g.k);
    for (int i = 0; i < g.m; i++)
        for (int l = 0; l < g.k; l++) {
            float v = g.ta ? g.A[l + (size_t)i * g.lda] : g.A[i + (size_t)l * g.lda];
            a[(size_t)i * g.k + l] = g.tf32 ? sg_emu_tf32_round(v) : v;
        }
    for (int j = 0; j < g.n; j++)
        for (int l = 0; l < g.k; l++) {
            float v = g.tb ? g.B[j + (size_t)l * g.ldb] : g.B[l + (size_t)j * g.ldb];
            b[(size_t)j * g.k + l] = g.tf32 ? sg_emu_tf32_round(v) : v;
        }
    for (int j = 0; j < g.n; j++)
        for (int i = 0; i < g.m; i++) {
            const float *ar = &a[(size_t)i * g.k], *bc = &b[(size_t)j * g.k];
            float acc = 0.f;
            for (int l = 0; l < g.k; l++) acc = __builtin_fmaf(ar[l], bc[l], acc);
            float *c = &g.C[i + (size_t)j * g.ldc];
            *c = g.beta == 0.f ? g.alpha * acc : g.alpha * acc + g.beta * *c;
        }
}

} // namespace

cublasStatus_t cublasCreate_v2(cublasHandle_t *handle)
{
    if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
    *handle = new cublasContext{ MAGIC_BLAS, 0, CUBLAS_DEFAULT_MATH, nullptr, 0 };
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t handle)
{
    if (!handle_ok(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    handle->magic = 0;
    delete handle;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t stream)
{
    if (!handle_ok(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    handle->stream = stream;
    handle->ws = nullptr;               /* back to the default workspace pool */
    handle->ws_bytes = 0;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetStream_v2(cublasHandle_t handle, cudaStream_t *stream)
{
    if (!handle_ok(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!stream) return CUBLAS_STATUS_INVALID_VALUE;
    *stream = handle->stream;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode)
{
    if (!handle_ok(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    int base = (int)mode & ~(int)CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION;
    if (base != CUBLAS_DEFAULT_MATH && base != CUBLAS_PEDANTIC_MATH && base != CUBLAS_TF32_TENSOR_OP_MATH)
        return CUBLAS_STATUS_INVALID_VALUE;
    handle->math = mode;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t *mode)
{
    if (!handle_ok(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!mode) return CUBLAS_STATUS_INVALID_VALUE;
    *mode = handle->math;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t handle, void *workspace, size_t bytes)
{
    if (!handle_ok(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (bytes && (!workspace || ((uintptr_t)workspace & 255) || !sg_emu_device_range(workspace, bytes)))
        return CUBLAS_STATUS_INVALID_VALUE;
    handle->ws = bytes ? workspace : nullptr;
    handle->ws_bytes = bytes;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m,
                              int n, int k, const float *alpha, const float *A, int lda, const float *B, int ldb,
                              const float *beta, float *C, int ldc)
{
    if (!handle_ok(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!op_ok(transa) || !op_ok(transb) || m < 0 || n < 0 || k < 0 || !alpha || !beta)
        return CUBLAS_STATUS_INVALID_VALUE;
    const bool ta = transa != CUBLAS_OP_N, tb = transb != CUBLAS_OP_N;
    /* op(A) m x k: A is m x k (N) or k x m (T) as stored; op(B) k x n likewise */
    const int a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
    if (lda < (a_rows > 1 ? a_rows : 1) || ldb < (b_rows > 1 ? b_rows : 1) || ldc < (m > 1 ? m : 1))
        return CUBLAS_STATUS_INVALID_VALUE;
    if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
    const size_t na = span(a_rows, a_cols, lda), nb = span(b_rows, b_cols, ldb), nc = span(m, n, ldc);
    if ((na && !sg_emu_device_range(A, na)) || (nb && !sg_emu_device_range(B, nb)) || !sg_emu_device_range(C, nc))
        return CUBLAS_STATUS_INVALID_VALUE;
    if (overlap(C, nc, A, na) || overlap(C, nc, B, nb)) return CUBLAS_STATUS_INVALID_VALUE;
    Gemm g;
    g.ta = ta; g.tb = tb;
    g.tf32 = ((int)handle->math & 0xf) == CUBLAS_TF32_TENSOR_OP_MATH;
    g.m = m; g.n = n; g.k = k; g.lda = lda; g.ldb = ldb; g.ldc = ldc;
    g.alpha = *alpha; g.beta = *beta;           /* host pointers: read at the call */
    g.A = A; g.B = B; g.C = C;
    g.ws = handle->ws; g.ws_bytes = handle->ws_bytes;
    cudaError_t e = sg_emu_submit(handle->stream, [g]() { sg_emu_count("cublasSgemm"); run_gemm(g); });
    return e == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}
