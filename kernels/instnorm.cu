/* Instance norm (affine, per-(n,c) statistics over H*W), forward and backward.
 * NCHW: one block per (n,c) plane; the plane (at most 64 KiB at 128px) stays
 * in L1/L2 between the passes. NHWC (lib/backend.h "Layout"): a plane is a
 * strided column of each image's (HW, C) matrix, so blocks take a tile of
 * channels (consecutive threads, consecutive channels: coalesced) times a
 * chunk of rows, write per-chunk partials, and a second kernel combines the
 * chunks of each (n,c) in a fixed order; where a plane is small enough
 * (HW <= INF_MAX_HW, SG_CUDA_IN_FUSED=1, the default) one kernel does it all
 * in one pass over memory instead ("one pass", below). Sums over n (running statistics,
 * dgamma, dbeta) go through per-plane partials and a small kernel with a
 * fixed order. No atomics anywhere: bit-equal results from run to run.
 * G's ReLU is fused (lib/backend.h): the max in the normalize pass, and the
 * backward reads dy masked by the ReLU's output wherever it loads dy. */
#include "cuda_backend.cuh"
#include "reduce.cuh"

#define IN_THREADS 256

/* NHWC paths (end of this file) */
static void instnorm_forward_nhwc(sg_cuda *c, float *y, float *mean, float *rstd, const float *x,
                                  const float *gamma, const float *beta, float *running_mean,
                                  float *running_var, int N, int C, int HW, float eps,
                                  float momentum, int relu, const float *res);
static void instnorm_backward_nhwc(sg_cuda *c, float *dx, float *dgamma, float *dbeta,
                                   const float *dy, const float *y_relu, const float *x,
                                   const float *mean, const float *rstd, const float *gamma,
                                   int N, int C, int HW);

/* the fused ReLU: v > 0 ? v : 0, so -0 and NaN give +0 (the CPU backend's rule) */
__device__ __forceinline__ float relu_if(float v, int relu) { return relu && !(v > 0.f) ? 0.f : v; }
/* dy[i], read as 0 where the fused ReLU's output is <= 0 (y_relu NULL: no ReLU) */
__device__ __forceinline__ float dy_masked(const float *__restrict__ dy,
                                           const float *__restrict__ y_relu, size_t i)
{
    float g = dy[i];                    /* loaded either way: keeps the loads in flight together */
    return y_relu && !(y_relu[i] > 0.f) ? 0.f : g;
}

/* x, y (N*C planes, HW); mean, rstd (N*C); var_out (N*C) biased variance or NULL;
 * relu: y = max(0, IN(x)) */
__global__ void __launch_bounds__(IN_THREADS)
instnorm_forward_kernel(float *__restrict__ y, float *__restrict__ mean_out,
                        float *__restrict__ rstd_out, float *__restrict__ var_out,
                        const float *__restrict__ x, const float *__restrict__ gamma,
                        const float *__restrict__ beta, int C, int HW, float eps, int relu,
                        const float *__restrict__ res)
{
    __shared__ float shm[32];
    size_t plane = blockIdx.x;
    int ch = (int)(plane % C);
    const float *xp = x + plane * HW;

    float s = 0.f;
    for (int i = threadIdx.x; i < HW; i += blockDim.x) s += xp[i];
    float mean = block_sum(s, shm) / HW;

    /* two passes: the variance from centred values, no cancellation */
    float q = 0.f;
    for (int i = threadIdx.x; i < HW; i += blockDim.x) {
        float d = xp[i] - mean;
        q += d * d;
    }
    float var = block_sum(q, shm) / HW;
    float rstd = rsqrtf(var + eps);

    float g = gamma[ch] * rstd, b = beta[ch];
    if (y) {                                    /* NULL: statistics only */
        float *yp = y + plane * HW;
        const float *rp = res ? res + plane * HW : NULL;
        for (int i = threadIdx.x; i < HW; i += blockDim.x) {
            float v = relu_if((xp[i] - mean) * g + b, relu);
            yp[i] = rp ? v + rp[i] : v;
        }
    }
    if (threadIdx.x == 0) {
        mean_out[plane] = mean;
        rstd_out[plane] = rstd;
        if (var_out) var_out[plane] = var;
    }
}

/* running_* (C): mean over n of the per-image momentum updates, as PyTorch's
 * InstanceNorm2d(track_running_stats=True) does in training mode. */
__device__ __forceinline__ void running_update(float *running_mean, float *running_var,
                                               const float *__restrict__ mean,
                                               const float *__restrict__ var, int ch, int N, int C,
                                               int HW, float momentum)
{
    float rm = running_mean[ch], rv = running_var[ch];
    float unbias = HW > 1 ? (float)HW / (float)(HW - 1) : 1.f;
    float sm = 0.f, sv = 0.f;
    for (int n = 0; n < N; n++) {
        sm += (1.f - momentum) * rm + momentum * mean[(size_t)n * C + ch];
        sv += (1.f - momentum) * rv + momentum * var[(size_t)n * C + ch] * unbias;
    }
    running_mean[ch] = sm / N;
    running_var[ch] = sv / N;
}

__global__ void instnorm_running_kernel(float *running_mean, float *running_var,
                                        const float *__restrict__ mean,
                                        const float *__restrict__ var, int N, int C, int HW,
                                        float momentum)
{
    int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch < C) running_update(running_mean, running_var, mean, var, ch, N, C, HW, momentum);
}

void sg_cuda_instnorm_forward(sg_backend *be, float *y, float *mean, float *rstd,
                              const float *x, const float *gamma, const float *beta,
                              float *running_mean, float *running_var,
                              int N, int C, int HW, float eps, float momentum, int relu,
                              const float *res)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed || N <= 0 || C <= 0 || HW <= 0) return;
    /* with one channel or one pixel the two layouts are the same memory */
    if (c->nhwc && C > 1 && HW > 1) {
        instnorm_forward_nhwc(c, y, mean, rstd, x, gamma, beta, running_mean, running_var, N, C,
                              HW, eps, momentum, relu, res);
        return;
    }
    int planes = N * C;
    float *var = NULL;
    if (running_mean && running_var) {
        var = sg_cuda_scratch(c, planes);
        if (!var) return;
    }
    instnorm_forward_kernel<<<planes, IN_THREADS, 0, c->stream>>>(y, mean, rstd, var, x, gamma,
                                                                   beta, C, HW, eps, relu, res);
    if (LAUNCH_CHECK(c, "instnorm_forward_kernel")) return;
    if (var) {
        instnorm_running_kernel<<<(C + 127) / 128, 128, 0, c->stream>>>(
            running_mean, running_var, mean, var, N, C, HW, momentum);
        LAUNCH_CHECK(c, "instnorm_running_kernel");
    }
}

/* dx = gamma*rstd*(dy - mean(dy) - xhat*mean(dy*xhat)) per plane, dy masked
 * by y_relu if non-NULL; partial[plane] = sum(dy*xhat), partial[planes + plane] = sum(dy) */
__global__ void __launch_bounds__(IN_THREADS)
instnorm_backward_kernel(float *dx, float *__restrict__ partial,
                         const float *__restrict__ dy, const float *__restrict__ y_relu,
                         const float *x, const float *__restrict__ mean,
                         const float *__restrict__ rstd, const float *__restrict__ gamma, int C,
                         int HW, int planes)
{
    __shared__ float shm[64];
    size_t plane = blockIdx.x;
    int ch = (int)(plane % C);
    const float *xp = x + plane * HW, *dyp = dy + plane * HW;
    const float *yrp = y_relu ? y_relu + plane * HW : NULL;
    float *dxp = dx + plane * HW;
    float mu = mean[plane], rs = rstd[plane];

    float sdy = 0.f, sdyx = 0.f;
    for (int i = threadIdx.x; i < HW; i += blockDim.x) {
        float g = dy_masked(dyp, yrp, i);
        sdy += g;
        sdyx += g * (xp[i] - mu) * rs;
    }
    block_sum2(sdy, sdyx, shm);
    float k = gamma[ch] * rs, a = sdy / HW, b = sdyx / HW;
    for (int i = threadIdx.x; i < HW; i += blockDim.x)
        dxp[i] = k * (dy_masked(dyp, yrp, i) - a - (xp[i] - mu) * rs * b);
    if (threadIdx.x == 0) {
        partial[plane] = sdyx;
        partial[planes + plane] = sdy;
    }
}

/* dgamma[ch] += sum_n partial[n,ch]; dbeta likewise, n in order */
__device__ __forceinline__ void param_grad_update(float *dgamma, float *dbeta, const float *__restrict__ partial,
                                                  int ch, int N, int C)
{
    size_t planes = (size_t)N * C;
    float sg = 0.f, sb = 0.f;
    for (int n = 0; n < N; n++) {
        sg += partial[(size_t)n * C + ch];
        sb += partial[planes + (size_t)n * C + ch];
    }
    if (dgamma) dgamma[ch] += sg;
    if (dbeta) dbeta[ch] += sb;
}

__global__ void instnorm_param_grad_kernel(float *dgamma, float *dbeta,
                                           const float *__restrict__ partial, int N, int C)
{
    int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch < C) param_grad_update(dgamma, dbeta, partial, ch, N, C);
}

void sg_cuda_instnorm_backward(sg_backend *be, float *dx, float *dgamma, float *dbeta,
                               const float *dy, const float *y_relu, const float *x,
                               const float *mean, const float *rstd, const float *gamma,
                               int N, int C, int HW)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed || N <= 0 || C <= 0 || HW <= 0) return;
    if (c->nhwc && C > 1 && HW > 1) {
        instnorm_backward_nhwc(c, dx, dgamma, dbeta, dy, y_relu, x, mean, rstd, gamma, N, C, HW);
        return;
    }
    int planes = N * C;
    float *partial = sg_cuda_scratch(c, 2 * (size_t)planes);
    if (!partial) return;
    instnorm_backward_kernel<<<planes, IN_THREADS, 0, c->stream>>>(dx, partial, dy, y_relu, x, mean,
                                                                    rstd, gamma, C, HW, planes);
    if (LAUNCH_CHECK(c, "instnorm_backward_kernel")) return;
    if (dgamma || dbeta) {
        instnorm_param_grad_kernel<<<(C + 127) / 128, 128, 0, c->stream>>>(dgamma, dbeta, partial,
                                                                            N, C);
        LAUNCH_CHECK(c, "instnorm_param_grad_kernel");
    }
}

/* ---- NHWC ------------------------------------------------------------------
 * Each image is an (HW, C) row-major matrix: element (n, c, hw) lies at
 * (n*HW + hw)*C + c. A block of NH_THREADS threads is shaped (tc, tr): tc
 * channels (a power of two: the smallest >= C, at most 32) by tr =
 * NH_THREADS/tc rows, so a warp reads 32/tc row segments of tc consecutive
 * channels. A block covers one image n, one tile of tc channels and one
 * chunk of rows = tr*NH_ROWS rows (thread (tx, ty) takes rows ty + k*tr,
 * k < NH_ROWS, loaded into registers up front: NH_ROWS loads in flight per
 * thread). The 1-D grid enumerates (n, chunk, tile), tile fastest, so blocks
 * that run together read neighbouring segments of the same rows. Per-chunk
 * partials live in scratch as [n][chunk][c] (coalesced in both stages); a
 * combine kernel with one block per (n, tile) reduces the chunks of each
 * (n,c) in a fixed order: thread row ty takes chunks ty, ty+tr, ... in
 * order, then a fixed tree over ty. */
#define NH_THREADS 256
#define NH_ROWS 16

struct nhwc_geom {
    int tc, tr, rows;       /* block (tc, tr); rows per chunk */
    int ctiles, nchunks;
    size_t blocks;          /* N * nchunks * ctiles: the per-chunk kernels' grid */
};

static nhwc_geom nhwc_geometry(int N, int C, int HW)
{
    nhwc_geom g;
    g.tc = 1;
    while (g.tc < C && g.tc < 32) g.tc <<= 1;
    g.tr = NH_THREADS / g.tc;
    g.rows = g.tr * NH_ROWS;
    g.ctiles = (int)(((size_t)C + g.tc - 1) / g.tc);
    g.nchunks = (int)(((size_t)HW + g.rows - 1) / g.rows);
    g.blocks = (size_t)N * g.nchunks * g.ctiles;
    return g;
}

/* Where chunk j's partial of plane (n,c) lies in scratch ([n][chunk][c]). */
__device__ __forceinline__ size_t chunk_partial(int n, int j, int c, int nchunks, int C)
{
    return ((size_t)n * nchunks + j) * C + c;
}

/* The kernels with one block per (n, channel tile), blockIdx.x = n*ctiles +
 * tile, tiles tc channels wide: this thread's image n and channel c (c >= C
 * in the last tile's spare threads). */
struct tile_plane {
    int n, c;
};

__device__ __forceinline__ tile_plane tile_plane_of(int ctiles, int tc)
{
    tile_plane p;
    p.n = (int)(blockIdx.x / (unsigned)ctiles);
    p.c = (int)(blockIdx.x % (unsigned)ctiles) * tc + (int)threadIdx.x;
    return p;
}

/* This block's image, chunk, row count, and this thread's channel and the
 * offset of its first row (row j*rows of the chunk, channel c). */
struct nhwc_block {
    int n, j, c, cnt;
    size_t base;
};

__device__ __forceinline__ nhwc_block nhwc_block_of(int C, int HW, int ctiles, int nchunks)
{
    nhwc_block b;
    unsigned t = blockIdx.x;
    int ct = (int)(t % (unsigned)ctiles);
    t /= (unsigned)ctiles;
    b.j = (int)(t % (unsigned)nchunks);
    b.n = (int)(t / (unsigned)nchunks);
    b.c = ct * (int)blockDim.x + (int)threadIdx.x;
    int rows = (int)blockDim.y * NH_ROWS;
    int row0 = b.j * rows;                          /* < HW */
    b.cnt = min(rows, HW - row0);
    b.base = ((size_t)b.n * HW + row0) * C + b.c;  /* not dereferenced when c >= C */
    return b;
}

/* Sum of v over the threads of one column (same threadIdx.x) of the block,
 * by a fixed tree over threadIdx.y (blockDim.y a power of two); valid in
 * every thread. shm holds blockDim.x*blockDim.y floats. */
__device__ __forceinline__ float col_sum(float v, float *shm)
{
    int tc = blockDim.x, t = threadIdx.y * tc + threadIdx.x;
    __syncthreads();                        /* shm may still be read by a previous call */
    shm[t] = v;
    __syncthreads();
    for (int st = blockDim.y >> 1; st > 0; st >>= 1) {
        if ((int)threadIdx.y < st) shm[t] += shm[t + st * tc];
        __syncthreads();
    }
    return shm[threadIdx.x];
}

/* Chan et al.: (na, ma, qa) <- the union of the two sets (count, mean, sum of
 * squared deviations from the mean). */
__device__ __forceinline__ void chan_merge(float &na, float &ma, float &qa, float nb, float mb,
                                           float qb)
{
    if (nb == 0.f) return;
    if (na == 0.f) {
        na = nb;
        ma = mb;
        qa = qb;
        return;
    }
    float n = na + nb, d = mb - ma, f = nb / n;
    ma += d * f;
    qa += qb + d * d * na * f;
    na = n;
}

/* Chunk j of plane (n,c): pmean/pm2[(n*nchunks + j)*C + c] = the chunk's
 * mean and sum of squared deviations from that mean (two passes over the
 * values held in registers). */
__global__ void __launch_bounds__(NH_THREADS)
instnorm_nhwc_stats_kernel(float *__restrict__ pmean, float *__restrict__ pm2,
                           const float *__restrict__ x, int C, int HW, int ctiles, int nchunks)
{
    __shared__ float shm[NH_THREADS];
    nhwc_block b = nhwc_block_of(C, HW, ctiles, nchunks);
    const bool cok = b.c < C;
    const int ty = threadIdx.y, tr = blockDim.y;
    float v[NH_ROWS];
#pragma unroll
    for (int k = 0; k < NH_ROWS; k++) {
        int r = ty + k * tr;
        v[k] = cok && r < b.cnt ? x[b.base + (size_t)r * C] : 0.f;
    }
    float s = 0.f;
#pragma unroll
    for (int k = 0; k < NH_ROWS; k++) s += v[k];
    float m = col_sum(s, shm) / (float)b.cnt;
    float q = 0.f;
#pragma unroll
    for (int k = 0; k < NH_ROWS; k++) {
        int r = ty + k * tr;
        float d = v[k] - m;
        if (cok && r < b.cnt) q += d * d;
    }
    q = col_sum(q, shm);
    if (ty == 0 && cok) {
        size_t o = chunk_partial(b.n, b.j, b.c, nchunks, C);
        pmean[o] = m;
        pm2[o] = q;
    }
}

/* One block per (n, channel tile): mean, rstd (and the biased variance in
 * var_out if non-NULL) of each plane (n,c) from its chunks' partials. */
__global__ void __launch_bounds__(NH_THREADS)
instnorm_nhwc_combine_kernel(float *__restrict__ mean_out, float *__restrict__ rstd_out,
                             float *__restrict__ var_out, const float *__restrict__ pmean,
                             const float *__restrict__ pm2, int C, int HW, int ctiles,
                             int nchunks, int rows, float eps)
{
    __shared__ float sn[NH_THREADS], sm[NH_THREADS], sq[NH_THREADS];
    const int tc = blockDim.x, tr = blockDim.y, ty = threadIdx.y;
    const tile_plane tp = tile_plane_of(ctiles, tc);
    const int n = tp.n, c = tp.c;
    const bool cok = c < C;
    float cn = 0.f, m = 0.f, q = 0.f;
    if (cok)
        for (int j = ty; j < nchunks; j += tr) {
            size_t o = chunk_partial(n, j, c, nchunks, C);
            chan_merge(cn, m, q, (float)min(rows, HW - j * rows), pmean[o], pm2[o]);
        }
    const int t = ty * tc + (int)threadIdx.x;
    sn[t] = cn;
    sm[t] = m;
    sq[t] = q;
    __syncthreads();
    for (int st = tr >> 1; st > 0; st >>= 1) {
        if (ty < st) {
            int u = t + st * tc;
            float an = sn[t], am = sm[t], aq = sq[t];
            chan_merge(an, am, aq, sn[u], sm[u], sq[u]);
            sn[t] = an;
            sm[t] = am;
            sq[t] = aq;
        }
        __syncthreads();
    }
    if (ty == 0 && cok) {
        size_t p = (size_t)n * C + c;
        float var = sq[threadIdx.x] / (float)HW;
        mean_out[p] = sm[threadIdx.x];
        rstd_out[p] = 1.f / sqrtf(var + eps);
        if (var_out) var_out[p] = var;
    }
}

/* y = (x - mean)*gamma*rstd + beta over the block's chunk; relu: max(0, that) */
__global__ void __launch_bounds__(NH_THREADS)
instnorm_nhwc_normalize_kernel(float *__restrict__ y, const float *__restrict__ x,
                               const float *__restrict__ mean, const float *__restrict__ rstd,
                               const float *__restrict__ gamma, const float *__restrict__ beta,
                               int C, int HW, int ctiles, int nchunks, int relu,
                               float *running_mean, float *running_var,
                               const float *__restrict__ var, int N, float momentum,
                               const float *__restrict__ res)
{
    /* block 0 also updates the running statistics (var non-NULL): a launch
     * less per instance norm, and the same arithmetic as instnorm_running_kernel */
    if (var && blockIdx.x == 0)
        for (int ch = threadIdx.y * blockDim.x + threadIdx.x; ch < C; ch += blockDim.x * blockDim.y)
            running_update(running_mean, running_var, mean, var, ch, N, C, HW, momentum);
    nhwc_block b = nhwc_block_of(C, HW, ctiles, nchunks);
    if (b.c >= C) return;                           /* no barriers in this kernel */
    const int ty = threadIdx.y, tr = blockDim.y;
    size_t p = (size_t)b.n * C + b.c;
    float mu = mean[p], g = gamma[b.c] * rstd[p], bt = beta[b.c];
    float v[NH_ROWS];
#pragma unroll
    for (int k = 0; k < NH_ROWS; k++) {
        int r = ty + k * tr;
        v[k] = r < b.cnt ? x[b.base + (size_t)r * C] : 0.f;
    }
#pragma unroll
    for (int k = 0; k < NH_ROWS; k++) {
        int r = ty + k * tr;
        if (r < b.cnt) {
            size_t i = b.base + (size_t)r * C;
            float o = relu_if((v[k] - mu) * g + bt, relu);
            y[i] = res ? o + res[i] : o;
        }
    }
}

/* Chunk j of plane (n,c): psdyx/psdy[(n*nchunks + j)*C + c] = the chunk's
 * sums of dy*xhat and dy, xhat = (x - mean)*rstd, dy masked by y_relu if non-NULL */
__global__ void __launch_bounds__(NH_THREADS)
instnorm_nhwc_bwd_partial_kernel(float *__restrict__ psdyx, float *__restrict__ psdy,
                                 const float *__restrict__ dy, const float *__restrict__ y_relu,
                                 const float *__restrict__ x, const float *__restrict__ mean,
                                 const float *__restrict__ rstd, int C, int HW, int ctiles,
                                 int nchunks)
{
    __shared__ float shm[NH_THREADS];
    nhwc_block b = nhwc_block_of(C, HW, ctiles, nchunks);
    const bool cok = b.c < C;
    const int ty = threadIdx.y, tr = blockDim.y;
    size_t p = (size_t)b.n * C + b.c;
    float mu = cok ? mean[p] : 0.f, rs = cok ? rstd[p] : 0.f;
    float gv[NH_ROWS], xv[NH_ROWS];
#pragma unroll
    for (int k = 0; k < NH_ROWS; k++) {
        int r = ty + k * tr;
        bool ok = cok && r < b.cnt;
        gv[k] = ok ? dy_masked(dy, y_relu, b.base + (size_t)r * C) : 0.f;
        xv[k] = ok ? x[b.base + (size_t)r * C] : 0.f;
    }
    float sdy = 0.f, sdyx = 0.f;
#pragma unroll
    for (int k = 0; k < NH_ROWS; k++) {
        int r = ty + k * tr;
        if (cok && r < b.cnt) {
            sdy += gv[k];
            sdyx += gv[k] * ((xv[k] - mu) * rs);
        }
    }
    sdy = col_sum(sdy, shm);
    sdyx = col_sum(sdyx, shm);
    if (ty == 0 && cok) {
        size_t o = chunk_partial(b.n, b.j, b.c, nchunks, C);
        psdyx[o] = sdyx;
        psdy[o] = sdy;
    }
}

/* One block per (n, channel tile): partial[plane] = sum(dy*xhat),
 * partial[planes + plane] = sum(dy) of each plane (n,c), plane = n*C + c
 * (the layout instnorm_param_grad_kernel reads). */
__global__ void __launch_bounds__(NH_THREADS)
instnorm_nhwc_bwd_combine_kernel(float *__restrict__ partial, const float *__restrict__ psdyx,
                                 const float *__restrict__ psdy, int N, int C, int ctiles,
                                 int nchunks)
{
    __shared__ float shm[NH_THREADS];
    const int tc = blockDim.x, tr = blockDim.y, ty = threadIdx.y;
    const tile_plane tp = tile_plane_of(ctiles, tc);
    const int n = tp.n, c = tp.c;
    const bool cok = c < C;
    float a = 0.f, s = 0.f;
    if (cok)
        for (int j = ty; j < nchunks; j += tr) {
            size_t o = chunk_partial(n, j, c, nchunks, C);
            a += psdyx[o];
            s += psdy[o];
        }
    a = col_sum(a, shm);
    s = col_sum(s, shm);
    if (ty == 0 && cok) {
        size_t p = (size_t)n * C + c, planes = (size_t)N * C;
        partial[p] = a;
        partial[planes + p] = s;
    }
}

/* dx = gamma*rstd*(dy - mean(dy) - xhat*mean(dy*xhat)) over the block's chunk,
 * dy masked by y_relu if non-NULL. dx may be x (lib/backend.h): each thread
 * reads its elements before it writes them, and no other thread reads them;
 * so neither pointer is __restrict__ in the kernels that write dx. */
__global__ void __launch_bounds__(NH_THREADS)
instnorm_nhwc_dx_kernel(float *dx, const float *__restrict__ dy,
                        const float *__restrict__ y_relu, const float *x,
                        const float *__restrict__ mean, const float *__restrict__ rstd,
                        const float *__restrict__ gamma, const float *__restrict__ partial,
                        int N, int C, int HW, int ctiles, int nchunks, float *dgamma, float *dbeta)
{
    /* block 0 also adds dgamma and dbeta (when asked): a launch less per
     * instance norm backward, the arithmetic of instnorm_param_grad_kernel */
    if ((dgamma || dbeta) && blockIdx.x == 0)
        for (int ch = threadIdx.y * blockDim.x + threadIdx.x; ch < C; ch += blockDim.x * blockDim.y)
            param_grad_update(dgamma, dbeta, partial, ch, N, C);
    nhwc_block b = nhwc_block_of(C, HW, ctiles, nchunks);
    if (b.c >= C) return;                           /* no barriers in this kernel */
    const int ty = threadIdx.y, tr = blockDim.y;
    size_t p = (size_t)b.n * C + b.c, planes = (size_t)N * C;
    float mu = mean[p], rs = rstd[p];
    float kk = gamma[b.c] * rs, a = partial[planes + p] / HW, bb = partial[p] / HW;
    float gv[NH_ROWS], xv[NH_ROWS];
#pragma unroll
    for (int k = 0; k < NH_ROWS; k++) {
        int r = ty + k * tr;
        bool ok = r < b.cnt;
        gv[k] = ok ? dy_masked(dy, y_relu, b.base + (size_t)r * C) : 0.f;
        xv[k] = ok ? x[b.base + (size_t)r * C] : 0.f;
    }
#pragma unroll
    for (int k = 0; k < NH_ROWS; k++) {
        int r = ty + k * tr;
        if (r < b.cnt) dx[b.base + (size_t)r * C] = kk * (gv[k] - a - (xv[k] - mu) * rs * bb);
    }
}

/* ---- NHWC, one pass (SG_CUDA_IN_FUSED=1) -----------------------------------
 * Where a plane fits (HW <= INF_MAX_HW), one block per (image n, tile of
 * INF_TC = 8 consecutive channels) holds the tile's whole HW x 8 column: x
 * (forward), or masked dy and xhat (backward). The block is (8, tr): a warp
 * is 8 channels x 4 rows, so each load is 4 row segments of 32 bytes (a
 * sector each, consecutive threads on consecutive channels), and thread
 * (tx, ty) keeps rows ty + k*tr, k < R, in registers (R a template
 * parameter, so the arrays stay in registers). The register file rather
 * than shared memory: each thread only ever uses the values it loaded, the
 * register file is the larger store (256 KB per SM against 228), and a
 * backward tile (64 KB at HW 1024) would not fit the 48 KB of static shared
 * memory, while dynamic shared memory is not emulated (tests/emu). Each
 * kernel reads its inputs once and writes its outputs once; the statistics
 * are column sums over the block (shuffles within a warp, then the warps in
 * index order: a fixed order, bit-equal from run to run). What needs all
 * images (the running statistics; dgamma and dbeta) is a small second launch
 * with a fixed order over n (instnorm_running_kernel,
 * instnorm_param_grad_kernel): a last-block-done pattern would save it but
 * needs atomics, which the emulation lacks.
 * Budget: a block is (8, tr <= 64), 512 threads, R <= 16 rows a thread: a
 * forward tile (HW*8 floats) is 16 floats a thread at HW 1024, a backward
 * tile (dy and xhat) 32; 56 registers a thread forward (64 with the
 * residual, a template flag of its own) and 64 backward (ptxas, sm_90, no
 * spills), so 2 blocks (1024 threads) per SM and 264 resident blocks: G's
 * 32x32 planes (N 16, C 256: 512 blocks) in two rounds, 16 loads per thread
 * in flight (64 KB per SM). (256 threads with 32 rows each spilled at the
 * 64 registers that 4 blocks per SM allow.) HW 4096 would need 64 floats a
 * thread forward and 128 backward: spills, or a quarter of the SM per
 * block; such planes take the chunked kernels. */
#define INF_TC 8
#define INF_MAX_HW 1024
#define INF_TR 64                           /* rows of threads at most: 512 threads */

static bool fused_fits(const sg_cuda *c, int N, int C, int HW)
{
    return c->in_fused && HW <= INF_MAX_HW && (size_t)HW * C <= 0x7fffffffu &&
           (size_t)N * (((size_t)C + INF_TC - 1) / INF_TC) <= 0x7fffffffu;
}

/* The block's rows of threads tr (a power of two in [4, max_tr], no more
 * than HW needs, 4 at least so that warps are whole) and the rows each
 * thread keeps, R (a power of two, tr*R >= HW). */
static int fused_rows(int HW, int max_tr, int *tr)
{
    int t = 4;
    while (t < max_tr && t < HW) t <<= 1;
    int R = 1;
    while ((long)t * R < HW) R <<= 1;
    *tr = t;
    return R;
}

/* v[i] <- its sum over the rows of threads of the block (same threadIdx.x),
 * for NV values at once: within each warp (8 channels x 4 rows) by two xor
 * shuffles (every lane of a column gets the same bits: a + b == b + a), then
 * over the warps in index order through shm (NV * blockDim.y/4 * INF_TC
 * floats). Valid in every thread; blockDim (INF_TC, a multiple of 4). */
template <int NV>
__device__ __forceinline__ void fused_col_sums(float (&v)[NV], float *shm)
{
#pragma unroll
    for (int i = 0; i < NV; i++) {
        v[i] += __shfl_xor_sync(0xffffffffu, v[i], 8);
        v[i] += __shfl_xor_sync(0xffffffffu, v[i], 16);
    }
    const int tx = threadIdx.x, warps = (int)blockDim.y >> 2, w = (int)threadIdx.y >> 2;
    __syncthreads();                        /* shm may still be read by a previous call */
    if ((threadIdx.y & 3) == 0)
#pragma unroll
        for (int i = 0; i < NV; i++) shm[(i * warps + w) * INF_TC + tx] = v[i];
    __syncthreads();
#pragma unroll
    for (int i = 0; i < NV; i++) {
        float s = 0.f;
        for (int k = 0; k < warps; k++) s += shm[(i * warps + k) * INF_TC + tx];
        v[i] = s;
    }
}

/* One block per (n, channel tile), blockIdx.x = n*ctiles + tile (neighbouring
 * blocks read neighbouring segments of the same rows): mean, rstd (var_out:
 * the biased variance, if non-NULL) of the tile's planes, and y (if non-NULL)
 * = (x - mean)*gamma*rstd + beta, relu: max(0, that), RES: plus res. x read
 * once. RES is a template flag, not a NULL test, because the residual's
 * pointer alone pushed R 16 past 64 registers (spills) for every instance. */
template <int R, bool RES>
__global__ void __launch_bounds__(INF_TC * INF_TR, 2)
instnorm_fused_fwd_kernel(float *__restrict__ y, float *__restrict__ mean_out,
                          float *__restrict__ rstd_out, float *__restrict__ var_out,
                          const float *__restrict__ x, const float *__restrict__ gamma,
                          const float *__restrict__ beta, int C, int HW, int ctiles, float eps,
                          int relu, const float *__restrict__ res)
{
    __shared__ float shm[INF_TR / 4 * INF_TC];
    const int ty = threadIdx.y, tr = blockDim.y;
    const tile_plane tp = tile_plane_of(ctiles, INF_TC);
    const int n = tp.n, c = tp.c;
    const bool cok = c < C;
    /* 32-bit offsets within the image (fused_fits: HW*C < 2^31), one
     * multiply-add per address instead of R 64-bit addresses in registers */
    const size_t img = (size_t)n * HW * C;
    const float *xi = x + img;
    float v[R];
#pragma unroll
    for (int k = 0; k < R; k++) {
        int r = ty + k * tr;
        v[k] = cok && r < HW ? xi[r * C + c] : 0.f;
    }
    float s[1] = { 0.f };
#pragma unroll
    for (int k = 0; k < R; k++) s[0] += v[k];
    fused_col_sums<1>(s, shm);
    const float m = s[0] / (float)HW;
    /* two passes over the registers: the variance from centred values */
    s[0] = 0.f;
#pragma unroll
    for (int k = 0; k < R; k++) {
        float d = v[k] - m;
        if (cok && ty + k * tr < HW) s[0] += d * d;
    }
    fused_col_sums<1>(s, shm);
    const float var = s[0] / (float)HW, rstd = 1.f / sqrtf(var + eps);
    if (!cok) return;                               /* no barriers from here */
    if (ty == 0) {
        size_t p = (size_t)n * C + c;
        mean_out[p] = m;
        rstd_out[p] = rstd;
        if (var_out) var_out[p] = var;
    }
    if (!y) return;                                 /* statistics only */
    float *yi = y + img;
    const float g = gamma[c] * rstd, b = beta[c];
#pragma unroll
    for (int k = 0; k < R; k++) {
        int r = ty + k * tr;
        if (r < HW) {
            float o = relu_if((v[k] - m) * g + b, relu);
            yi[r * C + c] = RES ? o + res[img + r * C + c] : o;
        }
    }
}

/* One block per (n, channel tile), as the forward: dx = gamma*rstd*(dy -
 * mean(dy) - xhat*mean(dy*xhat)), dy masked by y_relu if non-NULL; partial
 * (if non-NULL) [plane] = sum(dy*xhat), [planes + plane] = sum(dy), the
 * layout instnorm_param_grad_kernel reads. dy, y_relu and x read once. */
template <int R>
__global__ void __launch_bounds__(INF_TC * INF_TR, 2)
instnorm_fused_bwd_kernel(float *dx, float *__restrict__ partial,
                          const float *__restrict__ dy, const float *__restrict__ y_relu,
                          const float *x, const float *__restrict__ mean,
                          const float *__restrict__ rstd, const float *__restrict__ gamma, int C,
                          int HW, int ctiles, size_t planes)
{
    __shared__ float shm[2 * INF_TR / 4 * INF_TC];
    const int ty = threadIdx.y, tr = blockDim.y;
    const tile_plane tp = tile_plane_of(ctiles, INF_TC);
    const int n = tp.n, c = tp.c;
    const bool cok = c < C;
    const size_t img = (size_t)n * HW * C, p = (size_t)n * C + c;
    const float *dyi = dy + img, *yri = y_relu ? y_relu + img : NULL, *xi = x + img;
    const float mu = cok ? mean[p] : 0.f, rs = cok ? rstd[p] : 0.f;
    float gv[R], xh[R];
#pragma unroll
    for (int k = 0; k < R; k++) {
        int r = ty + k * tr;
        bool ok = cok && r < HW;
        gv[k] = ok ? dy_masked(dyi, yri, r * C + c) : 0.f;
        xh[k] = ok ? (xi[r * C + c] - mu) * rs : 0.f;
    }
    float s[2] = { 0.f, 0.f };                      /* sum(dy), sum(dy*xhat) */
#pragma unroll
    for (int k = 0; k < R; k++) {
        s[0] += gv[k];
        s[1] += gv[k] * xh[k];
    }
    fused_col_sums<2>(s, shm);
    if (!cok) return;                               /* no barriers from here */
    if (ty == 0 && partial) {
        partial[p] = s[1];
        partial[planes + p] = s[0];
    }
    float *dxi = dx + img;
    const float kk = gamma[c] * rs, a = s[0] / HW, bb = s[1] / HW;
#pragma unroll
    for (int k = 0; k < R; k++) {
        int r = ty + k * tr;
        if (r < HW) dxi[r * C + c] = kk * (gv[k] - a - xh[k] * bb);
    }
}

template <int R>
static void fused_fwd_launch(sg_cuda *c, unsigned blocks, int tr, float *y, float *mean,
                             float *rstd, float *var, const float *x, const float *gamma,
                             const float *beta, int C, int HW, int ctiles, float eps, int relu,
                             const float *res)
{
    if (res)
        instnorm_fused_fwd_kernel<R, true><<<blocks, dim3(INF_TC, tr), 0, c->stream>>>(
            y, mean, rstd, var, x, gamma, beta, C, HW, ctiles, eps, relu, res);
    else
        instnorm_fused_fwd_kernel<R, false><<<blocks, dim3(INF_TC, tr), 0, c->stream>>>(
            y, mean, rstd, var, x, gamma, beta, C, HW, ctiles, eps, relu, (const float *)NULL);
}

template <int R>
static void fused_bwd_launch(sg_cuda *c, unsigned blocks, int tr, float *dx, float *partial,
                             const float *dy, const float *y_relu, const float *x,
                             const float *mean, const float *rstd, const float *gamma, int C,
                             int HW, int ctiles, size_t planes)
{
    instnorm_fused_bwd_kernel<R><<<blocks, dim3(INF_TC, tr), 0, c->stream>>>(
        dx, partial, dy, y_relu, x, mean, rstd, gamma, C, HW, ctiles, planes);
}

static void instnorm_forward_fused(sg_cuda *c, float *y, float *mean, float *rstd, const float *x,
                                   const float *gamma, const float *beta, float *running_mean,
                                   float *running_var, int N, int C, int HW, float eps,
                                   float momentum, int relu, const float *res)
{
    bool running = running_mean && running_var;
    float *var = NULL;
    if (running && !(var = sg_cuda_scratch(c, (size_t)N * C))) return;
    int tr, R = fused_rows(HW, INF_TR, &tr), ctiles = (C + INF_TC - 1) / INF_TC;
    unsigned blocks = (unsigned)((size_t)N * ctiles);
    switch (R) {
#define FWD(r)                                                                                     \
    case r:                                                                                        \
        fused_fwd_launch<r>(c, blocks, tr, y, mean, rstd, var, x, gamma, beta, C, HW, ctiles, eps, \
                            relu, res);                                                            \
        break;
    FWD(1) FWD(2) FWD(4) FWD(8) FWD(16)
#undef FWD
    default:
        sg_cuda_fail(c, __FILE__, __LINE__, "instnorm_forward: no one-pass kernel for HW %d", HW);
        return;
    }
    if (LAUNCH_CHECK(c, "instnorm_fused_fwd_kernel")) return;
    if (running) {
        instnorm_running_kernel<<<(C + 127) / 128, 128, 0, c->stream>>>(
            running_mean, running_var, mean, var, N, C, HW, momentum);
        LAUNCH_CHECK(c, "instnorm_running_kernel");
    }
}

static void instnorm_backward_fused(sg_cuda *c, float *dx, float *dgamma, float *dbeta,
                                    const float *dy, const float *y_relu, const float *x,
                                    const float *mean, const float *rstd, const float *gamma,
                                    int N, int C, int HW)
{
    size_t planes = (size_t)N * C;
    float *partial = NULL;
    if ((dgamma || dbeta) && !(partial = sg_cuda_scratch(c, 2 * planes))) return;
    int tr, R = fused_rows(HW, INF_TR, &tr), ctiles = (C + INF_TC - 1) / INF_TC;
    unsigned blocks = (unsigned)((size_t)N * ctiles);
    switch (R) {
#define BWD(r)                                                                                     \
    case r:                                                                                        \
        fused_bwd_launch<r>(c, blocks, tr, dx, partial, dy, y_relu, x, mean, rstd, gamma, C, HW,   \
                            ctiles, planes);                                                       \
        break;
    BWD(1) BWD(2) BWD(4) BWD(8) BWD(16)
#undef BWD
    default:
        sg_cuda_fail(c, __FILE__, __LINE__, "instnorm_backward: no one-pass kernel for HW %d", HW);
        return;
    }
    if (LAUNCH_CHECK(c, "instnorm_fused_bwd_kernel")) return;
    if (partial) {
        instnorm_param_grad_kernel<<<(C + 127) / 128, 128, 0, c->stream>>>(dgamma, dbeta, partial,
                                                                            N, C);
        LAUNCH_CHECK(c, "instnorm_param_grad_kernel");
    }
}

static int nhwc_grid_ok(sg_cuda *c, const nhwc_geom &g, const char *name)
{
    if (g.blocks > 0x7fffffffu) {
        sg_cuda_fail(c, __FILE__, __LINE__, "%s: %zu blocks in one grid (2^31-1 at most)", name,
                     g.blocks);
        return 0;
    }
    return 1;
}

static void instnorm_forward_nhwc(sg_cuda *c, float *y, float *mean, float *rstd, const float *x,
                                  const float *gamma, const float *beta, float *running_mean,
                                  float *running_var, int N, int C, int HW, float eps,
                                  float momentum, int relu, const float *res)
{
    if (fused_fits(c, N, C, HW)) {
        instnorm_forward_fused(c, y, mean, rstd, x, gamma, beta, running_mean, running_var, N, C, HW,
                               eps, momentum, relu, res);
        return;
    }
    nhwc_geom g = nhwc_geometry(N, C, HW);
    if (!nhwc_grid_ok(c, g, "instnorm_forward")) return;
    size_t planes = (size_t)N * C, part = (size_t)N * g.nchunks * C;
    bool running = running_mean && running_var;
    float *s = sg_cuda_scratch(c, 2 * part + (running ? planes : 0));
    if (!s) return;
    float *pmean = s, *pm2 = s + part, *var = running ? s + 2 * part : NULL;
    dim3 block(g.tc, g.tr);
    instnorm_nhwc_stats_kernel<<<(unsigned)g.blocks, block, 0, c->stream>>>(pmean, pm2, x, C, HW,
                                                                            g.ctiles, g.nchunks);
    if (LAUNCH_CHECK(c, "instnorm_nhwc_stats_kernel")) return;
    instnorm_nhwc_combine_kernel<<<(unsigned)((size_t)N * g.ctiles), block, 0, c->stream>>>(
        mean, rstd, var, pmean, pm2, C, HW, g.ctiles, g.nchunks, g.rows, eps);
    if (LAUNCH_CHECK(c, "instnorm_nhwc_combine_kernel")) return;
    if (!y) {                                   /* statistics only: no normalize pass */
        if (running) {
            instnorm_running_kernel<<<(C + 127) / 128, 128, 0, c->stream>>>(
                running_mean, running_var, mean, var, N, C, HW, momentum);
            LAUNCH_CHECK(c, "instnorm_running_kernel");
        }
        return;
    }
    instnorm_nhwc_normalize_kernel<<<(unsigned)g.blocks, block, 0, c->stream>>>(
        y, x, mean, rstd, gamma, beta, C, HW, g.ctiles, g.nchunks, relu, running_mean, running_var,
        var, N, momentum, res);
    LAUNCH_CHECK(c, "instnorm_nhwc_normalize_kernel");
}

static void instnorm_backward_nhwc(sg_cuda *c, float *dx, float *dgamma, float *dbeta,
                                   const float *dy, const float *y_relu, const float *x,
                                   const float *mean, const float *rstd, const float *gamma,
                                   int N, int C, int HW)
{
    if (fused_fits(c, N, C, HW)) {
        instnorm_backward_fused(c, dx, dgamma, dbeta, dy, y_relu, x, mean, rstd, gamma, N, C, HW);
        return;
    }
    nhwc_geom g = nhwc_geometry(N, C, HW);
    if (!nhwc_grid_ok(c, g, "instnorm_backward")) return;
    size_t planes = (size_t)N * C, part = (size_t)N * g.nchunks * C;
    float *s = sg_cuda_scratch(c, 2 * planes + 2 * part);
    if (!s) return;
    float *partial = s, *psdyx = s + 2 * planes, *psdy = psdyx + part;
    dim3 block(g.tc, g.tr);
    instnorm_nhwc_bwd_partial_kernel<<<(unsigned)g.blocks, block, 0, c->stream>>>(
        psdyx, psdy, dy, y_relu, x, mean, rstd, C, HW, g.ctiles, g.nchunks);
    if (LAUNCH_CHECK(c, "instnorm_nhwc_bwd_partial_kernel")) return;
    instnorm_nhwc_bwd_combine_kernel<<<(unsigned)((size_t)N * g.ctiles), block, 0, c->stream>>>(
        partial, psdyx, psdy, N, C, g.ctiles, g.nchunks);
    if (LAUNCH_CHECK(c, "instnorm_nhwc_bwd_combine_kernel")) return;
    instnorm_nhwc_dx_kernel<<<(unsigned)g.blocks, block, 0, c->stream>>>(
        dx, dy, y_relu, x, mean, rstd, gamma, partial, N, C, HW, g.ctiles, g.nchunks, dgamma, dbeta);
    LAUNCH_CHECK(c, "instnorm_nhwc_dx_kernel");
}
