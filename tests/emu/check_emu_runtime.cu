/* Self-check of the emulated CUDA runtime (tests/emu/cudart_emu.cc), built
 * like kernels/*.cu are for the emulation: what the emulation promises the
 * project's kernels, each checked on a small kernel of its own. */
#include <cuda_runtime.h>
#include "emu.h"
#include <stdio.h>
#include <stdlib.h>
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

__global__ void fill_index(float *x, int n, float base)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = (float)i + base;
}

__global__ void scaled(const float *x, float *out, int n, float k)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = x[i] * k;
}

__global__ void accumulate(const float *x, float *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] += x[i];
}

/* two streams, the way the CUDA backend forks a second one off its own */
enum { FN = 64 };
struct Fork {
    cudaStream_t s0, s1;
    cudaEvent_t fork, join;
    float *in, *a_scratch, *b_scratch, *a_out, *b_out, *sum;
};

/* s0 fills `in` and forks; branch A (s0) scales it by 2 through its scratch
 * into a_out, branch B (s1) by 3 through its scratch into b_out, then adds
 * `in` (B runs one node more than A); after the join s0 sums b_out and
 * a_out: sum = 6 in. When a_scratch is b_scratch the branches race. */
static void fork_join(const Fork &f, int join)
{
    fill_index<<<1, FN, 0, f.s0>>>(f.in, FN, 1.f);
    cudaEventRecord(f.fork, f.s0);
    cudaStreamWaitEvent(f.s1, f.fork, 0);
    scaled<<<1, FN, 0, f.s0>>>(f.in, f.a_scratch, FN, 2.f);
    scaled<<<1, FN, 0, f.s0>>>(f.a_scratch, f.a_out, FN, 1.f);
    scaled<<<1, FN, 0, f.s1>>>(f.in, f.b_scratch, FN, 3.f);
    scaled<<<1, FN, 0, f.s1>>>(f.b_scratch, f.b_out, FN, 1.f);
    accumulate<<<1, FN, 0, f.s1>>>(f.in, f.b_out, FN);
    if (join) {
        cudaEventRecord(f.join, f.s1);
        cudaStreamWaitEvent(f.s0, f.join, 0);
    }
    scaled<<<1, FN, 0, f.s0>>>(f.b_out, f.sum, FN, 1.f);
    accumulate<<<1, FN, 0, f.s0>>>(f.a_out, f.sum, FN);
}

/* NaN everywhere before a run: what a node runs too early reads shows */
static void poison(const Fork &f)
{
    float *all[] = { f.in, f.a_scratch, f.b_scratch, f.a_out, f.b_out, f.sum };
    for (float *p : all) cudaMemsetAsync(p, 0xff, FN * sizeof(float), 0);
}

/* elements of a_out, b_out or sum off their values (2, 4 and 6 times in) */
static int wrong(const Fork &f)
{
    int n = 0;
    for (int i = 0; i < FN; i++) {
        float x = (float)i + 1.f;
        n += f.a_out[i] != 2.f * x || f.b_out[i] != 4.f * x || f.sum[i] != 6.f * x;
    }
    return n;
}

static cudaStreamCaptureStatus capture_status(cudaStream_t s)
{
    cudaStreamCaptureStatus st = cudaStreamCaptureStatusInvalidated;
    cudaStreamIsCapturing(s, &st);
    return st;
}

/* the replay in each interleave mode: how many elements come out wrong */
static void replay_modes(const Fork &f, cudaGraphExec_t ge, int wrong_by_mode[3])
{
    for (int mode = 0; mode < 3; mode++) {
        sg_emu_set_graph_interleave(mode);
        poison(f);
        cudaGraphLaunch(ge, f.s0);
        wrong_by_mode[mode] = wrong(f);
    }
    sg_emu_set_graph_interleave(-1);
}

static void check_two_streams(void)
{
    Fork f;
    memset(&f, 0, sizeof f);
    float **bufs[] = { &f.in, &f.a_scratch, &f.b_scratch, &f.a_out, &f.b_out, &f.sum };
    for (float **b : bufs) CHECK(cudaMalloc(b, FN * sizeof(float)) == cudaSuccess, "cudaMalloc");
    cudaStreamCreateWithFlags(&f.s0, cudaStreamNonBlocking);
    cudaStreamCreateWithFlags(&f.s1, cudaStreamNonBlocking);
    cudaEventCreateWithFlags(&f.fork, cudaEventDisableTiming);
    cudaEventCreateWithFlags(&f.join, cudaEventDisableTiming);

    /* eagerly: the waits are met at once */
    cudaGetLastError();                         /* the errors checked before */
    poison(f);
    fork_join(f, 1);
    CHECK(cudaGetLastError() == cudaSuccess && wrong(f) == 0, "the fork and join run eagerly: %d wrong", wrong(f));
    CHECK(cudaStreamWaitEvent(f.s1, f.fork, 0) == cudaSuccess, "an eager wait succeeds");

    /* a capture that s1 joins through the fork event and leaves at the end */
    cudaGraph_t g = NULL;
    cudaGraphExec_t ge = NULL;
    CHECK(cudaStreamBeginCapture(f.s0, cudaStreamCaptureModeThreadLocal) == cudaSuccess, "begin capture");
    CHECK(capture_status(f.s1) == cudaStreamCaptureStatusNone, "s1 is not capturing before the fork");
    cudaEventRecord(f.fork, f.s0);
    CHECK(cudaStreamWaitEvent(f.s1, f.fork, 0) == cudaSuccess, "s1 waits for the fork event");
    CHECK(capture_status(f.s1) == cudaStreamCaptureStatusActive && sg_emu_capturing(f.s1),
          "s1 is capturing after the fork");
    CHECK(cudaEventSynchronize(f.fork) == cudaErrorCapturedEvent, "syncing an event recorded in the capture fails");
    CHECK(cudaStreamEndCapture(f.s0, &g) == cudaErrorStreamCaptureInvalidated && !g, "and invalidates the capture");
    CHECK(capture_status(f.s0) == cudaStreamCaptureStatusNone && capture_status(f.s1) == cudaStreamCaptureStatusNone,
          "both streams leave the failed capture");
    CHECK(cudaEventSynchronize(f.fork) == cudaSuccess, "the event can be synced once its capture ended");
    cudaGetLastError();

    /* the whole pattern captured, replayed in recording order and in both
     * interleaved orders: the events order the branches, so all agree */
    CHECK(cudaStreamBeginCapture(f.s0, cudaStreamCaptureModeThreadLocal) == cudaSuccess, "begin capture");
    poison(f);
    fork_join(f, 1);
    CHECK(capture_status(f.s1) == cudaStreamCaptureStatusActive, "s1 is capturing after the join");
    CHECK(cudaGetLastError() == cudaSuccess, "no error while capturing the fork and join");
    CHECK(cudaStreamEndCapture(f.s0, &g) == cudaSuccess && g, "end capture of a joined fork");
    CHECK(capture_status(f.s1) == cudaStreamCaptureStatusNone, "s1 leaves the capture at its end");
    CHECK(f.sum[0] != f.sum[0], "nothing ran while capturing");
    CHECK(cudaGraphInstantiate(&ge, g, 0) == cudaSuccess, "instantiate");
    int w[3];
    replay_modes(f, ge, w);
    CHECK(w[0] == 0 && w[1] == 0 && w[2] == 0,
          "the fork and join replay as eagerly in every order (fork and join honoured): %d, %d, %d wrong",
          w[0], w[1], w[2]);
    cudaGraphExecDestroy(ge);
    cudaGraphDestroy(g);

    /* the same with one scratch buffer for both branches: in recording order
     * the race hides, interleaved it shows (either branch first) */
    float *b_scratch = f.b_scratch;
    f.b_scratch = f.a_scratch;
    cudaStreamBeginCapture(f.s0, cudaStreamCaptureModeThreadLocal);
    fork_join(f, 1);
    CHECK(cudaStreamEndCapture(f.s0, &g) == cudaSuccess && cudaGraphInstantiate(&ge, g, 0) == cudaSuccess,
          "capture of the racy fork");
    replay_modes(f, ge, w);
    CHECK(w[0] == 0, "the racy fork replayed in recording order is right: %d wrong", w[0]);
    CHECK(w[1] == FN && w[2] == FN, "interleaved, the branches' shared scratch shows: %d and %d of %d wrong",
          w[1], w[2], FN);
    setenv("SG_EMU_GRAPH_INTERLEAVE", "reverse", 1);
    poison(f);
    cudaGraphLaunch(ge, f.s0);
    CHECK(wrong(f) == FN, "SG_EMU_GRAPH_INTERLEAVE=reverse interleaves too: %d wrong", wrong(f));
    unsetenv("SG_EMU_GRAPH_INTERLEAVE");
    poison(f);
    cudaGraphLaunch(ge, f.s0);
    CHECK(wrong(f) == 0, "without it, recording order again: %d wrong", wrong(f));
    cudaGraphExecDestroy(ge);
    cudaGraphDestroy(g);
    f.b_scratch = b_scratch;

    /* a fork never joined back */
    cudaStreamBeginCapture(f.s0, cudaStreamCaptureModeThreadLocal);
    fork_join(f, 0);
    CHECK(cudaStreamEndCapture(f.s0, &g) == cudaErrorStreamCaptureUnjoined && !g, "an unjoined fork fails the capture");
    CHECK(capture_status(f.s0) == cudaStreamCaptureStatusNone && capture_status(f.s1) == cudaStreamCaptureStatusNone,
          "both streams leave the unjoined capture");
    /* joined, then more work on s1 */
    cudaStreamBeginCapture(f.s0, cudaStreamCaptureModeThreadLocal);
    fork_join(f, 1);
    accumulate<<<1, FN, 0, f.s1>>>(f.in, f.b_out, FN);
    CHECK(cudaStreamEndCapture(f.s0, &g) == cudaErrorStreamCaptureUnjoined && !g,
          "work on s1 after its join fails the capture");
    /* the join recorded on s1 but never waited for on s0 */
    cudaStreamBeginCapture(f.s0, cudaStreamCaptureModeThreadLocal);
    fork_join(f, 0);
    cudaEventRecord(f.join, f.s1);
    CHECK(cudaStreamEndCapture(f.s0, &g) == cudaErrorStreamCaptureUnjoined && !g,
          "a join event s0 never waits for fails the capture");
    /* a fork with no work on s1 has nothing to join */
    cudaStreamBeginCapture(f.s0, cudaStreamCaptureModeThreadLocal);
    cudaEventRecord(f.fork, f.s0);
    cudaStreamWaitEvent(f.s1, f.fork, 0);
    CHECK(cudaStreamEndCapture(f.s0, &g) == cudaSuccess && g, "a fork without work needs no join");
    cudaGraphDestroy(g);
    cudaGetLastError();

    /* illegal calls on the joined stream break the whole capture */
    cudaStreamBeginCapture(f.s0, cudaStreamCaptureModeThreadLocal);
    cudaEventRecord(f.fork, f.s0);
    cudaStreamWaitEvent(f.s1, f.fork, 0);
    CHECK(cudaStreamSynchronize(f.s1) == cudaErrorStreamCaptureUnsupported, "syncing the joined stream fails");
    CHECK(capture_status(f.s0) == cudaStreamCaptureStatusInvalidated, "and invalidates the capture of s0");
    CHECK(cudaStreamEndCapture(f.s0, &g) == cudaErrorStreamCaptureInvalidated && !g, "which then ends in failure");
    CHECK(capture_status(f.s1) == cudaStreamCaptureStatusNone, "s1 leaves the invalidated capture");
    cudaStreamBeginCapture(f.s0, cudaStreamCaptureModeThreadLocal);
    cudaEventRecord(f.fork, f.s0);
    cudaStreamWaitEvent(f.s1, f.fork, 0);
    CHECK(cudaStreamEndCapture(f.s1, &g) == cudaErrorStreamCaptureUnmatched && !g,
          "the capture cannot end on the joined stream");
    CHECK(cudaStreamEndCapture(f.s0, &g) == cudaErrorStreamCaptureInvalidated && !g, "nor then on s0");
    /* a capture may not wait for work outside it */
    cudaEventRecord(f.join, f.s1);
    cudaStreamBeginCapture(f.s0, cudaStreamCaptureModeThreadLocal);
    CHECK(cudaStreamWaitEvent(f.s0, f.join, 0) == cudaErrorStreamCaptureIsolation,
          "waiting for an event recorded outside the capture fails");
    CHECK(cudaStreamEndCapture(f.s0, &g) == cudaErrorStreamCaptureInvalidated && !g, "and invalidates the capture");
    cudaGetLastError();

    /* eager timing events still time */
    cudaEvent_t e0, e1;
    float ms = -1.f;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    cudaEventRecord(e0, f.s0);
    fork_join(f, 1);
    cudaEventRecord(e1, f.s0);
    CHECK(cudaEventSynchronize(e1) == cudaSuccess && cudaEventElapsedTime(&ms, e0, e1) == cudaSuccess && ms >= 0.f,
          "eager events time the fork and join: %g ms", ms);
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);

    for (float **b : bufs) cudaFree(*b);
    cudaEventDestroy(f.fork);
    cudaEventDestroy(f.join);
    cudaStreamDestroy(f.s0);
    cudaStreamDestroy(f.s1);
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

    check_two_streams();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
