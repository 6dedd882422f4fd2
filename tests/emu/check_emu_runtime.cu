/* Self-check of the emulated CUDA runtime (tests/emu/cudart_emu.cc), built
 * like kernels/*.cu are for the emulation: what the emulation promises the
 * project's kernels, each checked on a small kernel of its own. */
#include <cuda_runtime.h>
#include <stdio.h>
#include <string.h>

static int passed, failed;
#define CHECK(cond, ...) do { if (cond) passed++; else { failed++; printf("FAIL %s:%d: ", __FILE__, __LINE__); \
    printf(__VA_ARGS__); printf("\n"); } } while (0)

/* every thread reads what thread 0 wrote, with or without the barrier */
__global__ void broadcast(int *out, int barrier)
{
    __shared__ int v;
    if (threadIdx.x == 0) v = 42;
    if (barrier) __syncthreads();
    out[threadIdx.x] = v;
}

/* a warp sum by shuffles, then a block sum of the warps' sums */
__global__ void block_sum(const float *x, float *out)
{
    __shared__ float warp_sums[32];
    float v = x[threadIdx.x];
    for (int d = 16; d > 0; d >>= 1) v += __shfl_down_sync(0xffffffffu, v, d);
    if ((threadIdx.x & 31) == 0) warp_sums[threadIdx.x >> 5] = v;
    __syncthreads();
    if (threadIdx.x < 32) {
        float s = threadIdx.x < blockDim.x / 32 ? warp_sums[threadIdx.x] : 0.f;
        for (int d = 16; d > 0; d >>= 1) s += __shfl_down_sync(0xffffffffu, s, d);
        if (threadIdx.x == 0) out[blockIdx.x] = s;
    }
}

__global__ void any_negative(const float *x, int *out)
{
    int any = __syncthreads_or(x[threadIdx.x] < 0.f);
    if (threadIdx.x == 0) *out = any;
}

/* block b reads what block b - 1 wrote in the same launch: a race */
__global__ void chain(int *x)
{
    x[blockIdx.x] = blockIdx.x ? x[blockIdx.x - 1] + 1 : 0;
}

__global__ void add_one(float *x, int n)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) x[i] += 1.f;
}

int main()
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int *di = NULL;
    float *df = NULL, *dsum = NULL;
    CHECK(cudaMalloc(&di, 256 * sizeof(int)) == cudaSuccess && cudaMalloc(&df, 256 * sizeof(float)) == cudaSuccess &&
          cudaMalloc(&dsum, 4 * sizeof(float)) == cudaSuccess, "cudaMalloc");
    if (!di || !df || !dsum) { printf("%d passed, %d failed\n", passed, failed); return 1; }

    float host[256];
    memcpy(host, df, sizeof host);
    CHECK(host[0] != host[0], "fresh device memory reads as NaN: %g", host[0]);

    /* a missing barrier shows: the readers that run before the writer see
     * the poisoned shared variable, not 42 */
    broadcast<<<1, 64>>>(di, 0);
    int stale = 0;
    for (int i = 0; i < 64; i++) stale += di[i] != 42;
    CHECK(stale > 0 && stale < 64, "without __syncthreads some threads read the shared value unwritten: %d of 64", stale);
    broadcast<<<1, 64>>>(di, 1);
    stale = 0;
    for (int i = 0; i < 64; i++) stale += di[i] != 42;
    CHECK(stale == 0, "with __syncthreads every thread reads 42: %d stale", stale);

    /* blocks run in a shuffled order: the chain breaks somewhere */
    cudaMemsetAsync(di, 0xff, 64 * sizeof(int), 0);
    chain<<<64, 1>>>(di);
    int broken = 0;
    for (int i = 0; i < 64; i++) broken += di[i] != i;
    CHECK(broken > 0, "a block reading another block's output of the same launch sees it unwritten: %d of 64", broken);

    for (int i = 0; i < 256; i++) host[i] = (float)(i % 7) - 2.f;
    cudaMemcpyAsync(df, host, sizeof host, cudaMemcpyHostToDevice, 0);
    block_sum<<<1, 256>>>(df, dsum);
    float want = 0;
    for (int i = 0; i < 256; i++) want += host[i];
    CHECK(dsum[0] == want, "shuffle and shared-memory block sum: %g, want %g", dsum[0], want);
    any_negative<<<1, 128>>>(df, di);
    CHECK(di[0] == 1, "__syncthreads_or sees a negative value: %d", di[0]);
    any_negative<<<1, 2>>>(df + 2, di);
    CHECK(di[0] == 0, "__syncthreads_or of two non-negative values: %d", di[0]);

    add_one<<<1, 2048>>>(df, 256);
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration, "a block of 2048 threads is refused at launch");
    CHECK(cudaGetLastError() == cudaSuccess, "cudaGetLastError clears the error");
    CHECK(cudaMemsetAsync(host, 0, sizeof host, 0) == cudaErrorInvalidValue, "cudaMemsetAsync on host memory is refused");
    CHECK(cudaMemcpyAsync(df, host, 2 * sizeof host, cudaMemcpyHostToDevice, 0) == cudaErrorInvalidValue,
          "a copy past the end of a device buffer is refused");

    /* stream capture records, the graph replays; a sync while capturing breaks the capture */
    cudaStream_t s;
    cudaGraph_t g = NULL;
    cudaGraphExec_t ge = NULL;
    cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
    cudaMemcpyAsync(df, host, sizeof host, cudaMemcpyHostToDevice, s);
    CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal) == cudaSuccess, "begin capture");
    add_one<<<2, 64, 0, s>>>(df, 256);
    CHECK(df[5] == host[5], "a captured launch does not run: %g", df[5]);
    void *p = NULL;
    CHECK(cudaMalloc(&p, 16) == cudaErrorStreamCaptureUnsupported, "cudaMalloc while capturing is refused");
    CHECK(cudaStreamEndCapture(s, &g) == cudaSuccess && g, "end capture");
    CHECK(cudaGraphInstantiate(&ge, g, 0) == cudaSuccess, "instantiate");
    cudaGraphLaunch(ge, s);
    cudaGraphLaunch(ge, s);
    CHECK(df[5] == host[5] + 2.f, "two replays add 2: %g", df[5]);
    cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal);
    CHECK(cudaStreamSynchronize(s) != cudaSuccess, "a sync while capturing fails");
    cudaGraph_t g2 = NULL;
    CHECK(cudaStreamEndCapture(s, &g2) == cudaErrorStreamCaptureInvalidated && !g2, "and invalidates the capture");
    cudaGraphExecDestroy(ge);
    cudaGraphDestroy(g);
    cudaStreamDestroy(s);
    cudaFree(di); cudaFree(df); cudaFree(dsum);
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
