/* NCHW <-> the backend's layout (lib/backend.h "Layout"): a tiled transpose
 * of each image's (C, HW) matrix through shared memory, so that both the
 * reads and the writes are coalesced. A plain copy when the backend is NCHW. */
#include "cuda_backend.cuh"

enum { TILE = 32, ROWS = 8 };

/* out[n][j][i] = in[n][i][j] for an (R, S) matrix per image; grid
 * (ceil(S/TILE), up to 65535 row tiles, N), block (TILE, ROWS). R is HW in
 * from_layout: a grid's y is at most 65535, so blocks step over row tiles
 * (images of 1449 px and more have over 65535 tiles of 32 pixels). */
__global__ void transpose_kernel(float *__restrict__ out, const float *__restrict__ in, int R, int S)
{
    __shared__ float tile[TILE][TILE + 1];       /* +1: no bank conflicts */
    size_t base = (size_t)blockIdx.z * R * S;
    int c0 = blockIdx.x * TILE;
    for (int r0 = blockIdx.y * TILE; r0 < R; r0 += gridDim.y * TILE) {
        for (int k = threadIdx.y; k < TILE; k += ROWS) {
            int r = r0 + k, col = c0 + threadIdx.x;
            if (r < R && col < S) tile[k][threadIdx.x] = in[base + (size_t)r * S + col];
        }
        __syncthreads();
        for (int k = threadIdx.y; k < TILE; k += ROWS) {
            int col = c0 + k, r = r0 + threadIdx.x;      /* out row = in column */
            if (r < R && col < S) out[base + (size_t)col * R + r] = tile[threadIdx.x][k];
        }
        __syncthreads();                         /* the tile is written again next round */
    }
}

static void transpose(sg_cuda *c, float *dst, const float *src, int N, int R, int S, const char *name)
{
    if (c->failed || N <= 0 || R <= 0 || S <= 0) return;
    if (N > 65535) {
        sg_cuda_fail(c, __FILE__, __LINE__, "%s: %d images in one call (65535 at most)", name, N);
        return;
    }
    int row_tiles = (R + TILE - 1) / TILE;
    dim3 grid((S + TILE - 1) / TILE, row_tiles < 65535 ? row_tiles : 65535, N), block(TILE, ROWS);
    transpose_kernel<<<grid, block, 0, c->stream>>>(dst, src, R, S);
    LAUNCH_CHECK(c, name);
}

/* NCHW -> NHWC (to_nhwc) or back; a copy where nothing moves */
static void convert(sg_backend *be, float *dst, const float *src, int N, int C, int HW, int to_nhwc)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed) return;
    if (!c->nhwc || C == 1 || HW == 1) {
        CU_CHECK(c, cudaMemcpyAsync(dst, src, (size_t)N * C * HW * sizeof(float),
                                    cudaMemcpyDeviceToDevice, c->stream));
        return;
    }
    if (to_nhwc) transpose(c, dst, src, N, C, HW, "transpose_kernel (to_layout)");   /* (C,HW) -> (HW,C) */
    else transpose(c, dst, src, N, HW, C, "transpose_kernel (from_layout)");        /* (HW,C) -> (C,HW) */
}

void sg_cuda_to_layout(sg_backend *be, float *dst, const float *src, int N, int C, int HW)
{
    convert(be, dst, src, N, C, HW, 1);
}

void sg_cuda_from_layout(sg_backend *be, float *dst, const float *src, int N, int C, int HW)
{
    convert(be, dst, src, N, C, HW, 0);
}
