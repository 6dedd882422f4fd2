/* The device side of CUDA for kernels built on the host (tests/emu/emu.h):
 * built-in variables, barriers, warp shuffles, kernel launches. A launch
 * `k<<<grid, block, smem, stream>>>(args)` is rewritten by
 * tests/emu/unchevron.pl into sg_emu_launch(sg_emu_config(grid, block, smem,
 * stream), [](auto... a) { k(a...); }, args): the arguments are copied at the
 * launch, as CUDA does, and the grid runs in stream order (or is recorded
 * while the stream is captured). */
#ifndef SG_EMU_CUDA_EMU_H
#define SG_EMU_CUDA_EMU_H
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <functional>
#include <tuple>
#include <cuda_runtime_api.h>

/* set by the emulator before it runs each thread */
extern thread_local uint3 threadIdx, blockIdx;
extern thread_local dim3 blockDim, gridDim;

struct sg_emu_cfg {
    dim3 grid, block;
    size_t smem;
    cudaStream_t stream;
};
static inline sg_emu_cfg sg_emu_config(dim3 grid, dim3 block, size_t smem = 0, cudaStream_t stream = 0)
{
    sg_emu_cfg c;
    c.grid = grid; c.block = block; c.smem = smem; c.stream = stream;
    return c;
}

/* Runs (or records) body for every thread of cfg's grid; a bad
 * configuration is reported by cudaGetLastError, as on a GPU. */
void sg_emu_run(const sg_emu_cfg &cfg, const char *kernel, std::function<void()> body);

template <class F, class... A>
static inline void sg_emu_launch(const sg_emu_cfg &cfg, const char *kernel, F f, A... args)
{
    std::tuple<A...> t(args...);
    sg_emu_run(cfg, kernel, std::function<void()>([f, t]() { std::apply(f, t); }));
}

/* barriers of the running block; they abort the process with a message on
 * a deadlock (a barrier some thread of the block can never reach) */
void sg_emu_syncthreads(void);
int sg_emu_syncthreads_or(int pred);
/* every lane in mask deposits v and gets the value of lane src (its own if
 * src is out of range) */
uint32_t sg_emu_shfl(uint32_t mask, uint32_t v, int src);

/* fills a block's __shared__ variable with 0xff bytes (NaN) the first time a
 * thread of the running block reaches its declaration (tests/emu/unchevron.pl) */
void sg_emu_poison_shared(void *p, size_t bytes);

static inline void __syncthreads(void) { sg_emu_syncthreads(); }
static inline int __syncthreads_or(int pred) { return sg_emu_syncthreads_or(pred); }

static inline unsigned sg_emu_lane(void)
{
    return (threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)) & 31u;
}
template <class T> static inline T sg_emu_shfl_value(uint32_t mask, T v, int src)
{
    static_assert(sizeof(T) == 4, "32-bit shuffles only");
    uint32_t bits, got;
    memcpy(&bits, &v, 4);
    got = sg_emu_shfl(mask, bits, src);
    T r;
    memcpy(&r, &got, 4);
    return r;
}
template <class T> static inline T __shfl_sync(unsigned mask, T v, int src, int width = 32)
{
    int lane = (int)sg_emu_lane();
    return sg_emu_shfl_value(mask, v, (lane & ~(width - 1)) + (src & (width - 1)));
}
template <class T> static inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32)
{
    int lane = (int)sg_emu_lane();
    int src = (lane % width) + (int)delta < width ? lane + (int)delta : lane;
    return sg_emu_shfl_value(mask, v, src);
}
template <class T> static inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32)
{
    int lane = (int)sg_emu_lane();
    int src = lane ^ lane_mask;
    if ((src & ~(width - 1)) != (lane & ~(width - 1))) src = lane;
    return sg_emu_shfl_value(mask, v, src);
}

static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
/* a product rounded on its own, never contracted into an FMA with what uses
 * it (CUDA's promise), whatever the host compiler's flags */
static inline float __fmul_rn(float a, float b) { volatile float p = a * b; return p; }
/* CUDA's integer min/max overloads */
static inline int min(int a, int b) { return a < b ? a : b; }
static inline int max(int a, int b) { return a > b ? a : b; }
static inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
static inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
static inline long long min(long long a, long long b) { return a < b ? a : b; }
static inline long long max(long long a, long long b) { return a > b ? a : b; }
static inline unsigned long min(unsigned long a, unsigned long b) { return a < b ? a : b; }
static inline unsigned long max(unsigned long a, unsigned long b) { return a > b ? a : b; }
#endif
