/* Deterministic block reductions: a fixed per-thread order, then warp shuffles
 * and a fixed tree over the warps, so a sum is bit-equal on every run. */
#ifndef SG_REDUCE_CUH
#define SG_REDUCE_CUH

__device__ __forceinline__ float warp_sum(float v)
{
    for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
    return v;
}

/* Sum of v over the block (blockDim.x a multiple of 32, at most 1024); the
 * result is valid in every thread. `shm` holds 32 floats. */
__device__ __forceinline__ float block_sum(float v, float *shm)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();                       /* shm may still be read by a previous call */
    if (lane == 0) shm[warp] = v;
    __syncthreads();
    v = lane < nwarps ? shm[lane] : 0.f;
    v = warp_sum(v);                       /* every warp reduces the same values */
    return __shfl_sync(0xffffffffu, v, 0);
}

/* Two sums at once (fewer barriers). shm holds 64 floats. */
__device__ __forceinline__ void block_sum2(float &a, float &b, float *shm)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    a = warp_sum(a);
    b = warp_sum(b);
    __syncthreads();
    if (lane == 0) { shm[warp] = a; shm[32 + warp] = b; }
    __syncthreads();
    a = lane < nwarps ? shm[lane] : 0.f;
    b = lane < nwarps ? shm[32 + lane] : 0.f;
    a = warp_sum(a);
    b = warp_sum(b);
    a = __shfl_sync(0xffffffffu, a, 0);
    b = __shfl_sync(0xffffffffu, b, 0);
}

#endif
