/* Elementwise ops, label tiling and channel slices. All are memory-bound:
 * grid-stride loops, coalesced, 16-byte accesses where the pointers allow.
 * Label tiling and channel slices depend on the layout (lib/backend.h
 * "Layout"): per-plane kernels in NCHW, one thread per element in NHWC. */
#include "cuda_backend.cuh"

#define EW_THREADS 256

/* Runs f(i) for i < n over a grid sized for the device. */
/* Kernels over index ranges; the per-element work is a functor (no extended
 * lambdas: the build passes no --extended-lambda). */
template <typename Op>
__global__ void map1_kernel(float *__restrict__ y, const float *__restrict__ x, size_t n, Op op)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        y[i] = op(x[i]);
}

template <typename Op>
__global__ void map1_vec4_kernel(float4 *__restrict__ y, const float4 *__restrict__ x, size_t n4, Op op)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n4;
         i += (size_t)gridDim.x * blockDim.x) {
        float4 v = x[i];
        y[i] = make_float4(op(v.x), op(v.y), op(v.z), op(v.w));
    }
}

template <typename Op>
__global__ void map2_kernel(float *__restrict__ y, const float *__restrict__ a,
                            const float *__restrict__ b, size_t n, Op op)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        y[i] = op(a[i], b[i]);
}

template <typename Op>
__global__ void map2_vec4_kernel(float4 *__restrict__ y, const float4 *__restrict__ a,
                                 const float4 *__restrict__ b, size_t n4, Op op)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n4;
         i += (size_t)gridDim.x * blockDim.x) {
        float4 u = a[i], v = b[i];
        y[i] = make_float4(op(u.x, v.x), op(u.y, v.y), op(u.z, v.z), op(u.w, v.w));
    }
}

static inline bool aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }

/* y = op(x) over n elements (y == x allowed: each element is read before it
 * is written by the same thread), float4 when both pointers are 16-byte
 * aligned, the tail of n % 4 elements scalar. __restrict__ is safe for
 * y == x here because each element is read once, then written once. */
template <typename Op>
static void map1(sg_cuda *c, float *y, const float *x, size_t n, Op op, const char *name)
{
    if (c->failed || n == 0) return;
    size_t done = 0;
    if (aligned16(y) && aligned16(x) && n >= 4) {
        size_t n4 = n / 4;
        map1_vec4_kernel<<<sg_cuda_blocks(c, n4, EW_THREADS), EW_THREADS, 0, c->stream>>>(
            (float4 *)y, (const float4 *)x, n4, op);
        if (LAUNCH_CHECK(c, name)) return;
        done = n4 * 4;
    }
    if (done < n) {
        map1_kernel<<<sg_cuda_blocks(c, n - done, EW_THREADS), EW_THREADS, 0, c->stream>>>(
            y + done, x + done, n - done, op);
        LAUNCH_CHECK(c, name);
    }
}

template <typename Op>
static void map2(sg_cuda *c, float *y, const float *a, const float *b, size_t n, Op op,
                 const char *name)
{
    if (c->failed || n == 0) return;
    size_t done = 0;
    if (aligned16(y) && aligned16(a) && aligned16(b) && n >= 4) {
        size_t n4 = n / 4;
        map2_vec4_kernel<<<sg_cuda_blocks(c, n4, EW_THREADS), EW_THREADS, 0, c->stream>>>(
            (float4 *)y, (const float4 *)a, (const float4 *)b, n4, op);
        if (LAUNCH_CHECK(c, name)) return;
        done = n4 * 4;
    }
    if (done < n) {
        map2_kernel<<<sg_cuda_blocks(c, n - done, EW_THREADS), EW_THREADS, 0, c->stream>>>(
            y + done, a + done, b + done, n - done, op);
        LAUNCH_CHECK(c, name);
    }
}

/* The functors are structs (not lambdas) so that they can be called from both
 * the float4 and the scalar paths of the same template. */
struct tanh_op { __device__ float operator()(float x) const { return tanhf(x); } };
struct fill_op {
    float value;
    __device__ float operator()(float) const { return value; }
};
/* backward ops take (dy, x-or-y) */
struct leaky_bwd_op {
    float slope;
    __device__ float operator()(float dy, float x) const { return x > 0.f ? dy : slope * dy; }
};
struct tanh_bwd_op {
    __device__ float operator()(float dy, float y) const { return dy * (1.f - y * y); }
};
struct add_op { __device__ float operator()(float a, float b) const { return a + b; } };

void sg_cuda_fill(sg_backend *be, float *p, float value, size_t n)
{
    map1(sg_cuda_of(be), p, p, n, fill_op{value}, "fill");
}

void sg_cuda_leaky_relu_backward(sg_backend *be, float *dx, const float *dy, const float *x,
                                 float slope, size_t n)
{
    map2(sg_cuda_of(be), dx, dy, x, n, leaky_bwd_op{slope}, "leaky_relu_backward");
}

void sg_cuda_tanh_forward(sg_backend *be, float *y, const float *x, size_t n)
{
    map1(sg_cuda_of(be), y, x, n, tanh_op{}, "tanh_forward");
}

void sg_cuda_tanh_backward(sg_backend *be, float *dx, const float *dy, const float *y, size_t n)
{
    map2(sg_cuda_of(be), dx, dy, y, n, tanh_bwd_op{}, "tanh_backward");
}

void sg_cuda_add(sg_backend *be, float *y, const float *a, const float *b, size_t n)
{
    map2(sg_cuda_of(be), y, a, b, n, add_op{}, "add");
}

/* Per-plane kernels below: grid (planes, chunks) from sg_cuda_plane_grid. */

/* out[n, i] = alpha[n]*a[n, i] + (1 - alpha[n])*b[n, i]; plane = image */
__global__ void lerp_images_kernel(float *out, const float *a, const float *b,
                                   const float *__restrict__ alpha, size_t per_image)
{
    size_t base = (size_t)blockIdx.x * per_image;
    float t = alpha[blockIdx.x], u = 1.f - t;
    for (size_t i = (size_t)blockIdx.y * blockDim.x + threadIdx.x; i < per_image;
         i += (size_t)gridDim.y * blockDim.x)
        out[base + i] = t * a[base + i] + u * b[base + i];
}

void sg_cuda_lerp_images(sg_backend *be, float *out, const float *a, const float *b,
                         const float *alpha, int N, size_t per_image)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed || N <= 0 || per_image == 0) return;
    lerp_images_kernel<<<sg_cuda_plane_grid(N, per_image, EW_THREADS), EW_THREADS, 0, c->stream>>>(
        out, a, b, alpha, per_image);
    LAUNCH_CHECK(c, "lerp_images_kernel");
}

/* out (N, Cx+Cc, HW) = [x (N,Cx,HW) | labels (N,Cc) tiled over HW]; plane = (n, ch) of out */
__global__ void concat_labels_kernel(float *__restrict__ out, const float *__restrict__ x,
                                     const float *__restrict__ labels, int Cx, int Cc, int HW)
{
    unsigned plane = blockIdx.x, Ct = Cx + Cc;
    unsigned img = plane / Ct, ch = plane - img * Ct;
    float *o = out + (size_t)plane * HW;
    int start = blockIdx.y * blockDim.x + threadIdx.x, step = gridDim.y * blockDim.x;
    if (ch < (unsigned)Cx) {
        const float *xp = x + ((size_t)img * Cx + ch) * HW;
        for (int i = start; i < HW; i += step) o[i] = xp[i];
    } else {
        float v = labels[(size_t)img * Cc + (ch - Cx)];
        for (int i = start; i < HW; i += step) o[i] = v;
    }
}

/* NHWC: out[(n*HW + hw)*Ct + ch] = ch < Cx ? x[(n*HW + hw)*Cx + ch] : labels[n*Cc + ch - Cx],
 * Ct = Cx + Cc; one thread per output element (coalesced writes; the x reads
 * are contiguous runs of Cx) */
__global__ void concat_labels_nhwc_kernel(float *__restrict__ out, const float *__restrict__ x,
                                          const float *__restrict__ labels, int Cx, int Cc,
                                          int HW, size_t total)
{
    const size_t Ct = (size_t)Cx + Cc;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t pix = i / Ct, ch = i - pix * Ct;      /* pix = n*HW + hw */
        out[i] = ch < (size_t)Cx ? x[pix * Cx + ch] : labels[(pix / HW) * Cc + (ch - Cx)];
    }
}

void sg_cuda_concat_labels(sg_backend *be, float *out, const float *x, const float *labels,
                           int N, int Cx, int Cc, int HW)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed || N <= 0 || Cx + Cc <= 0 || HW <= 0) return;
    if (c->nhwc) {
        size_t total = (size_t)N * HW * ((size_t)Cx + Cc);
        concat_labels_nhwc_kernel<<<sg_cuda_blocks(c, total, EW_THREADS), EW_THREADS, 0,
                                    c->stream>>>(out, x, labels, Cx, Cc, HW, total);
        LAUNCH_CHECK(c, "concat_labels_nhwc_kernel");
        return;
    }
    concat_labels_kernel<<<sg_cuda_plane_grid((size_t)N * (Cx + Cc), HW, EW_THREADS), EW_THREADS, 0,
                           c->stream>>>(out, x, labels, Cx, Cc, HW);
    LAUNCH_CHECK(c, "concat_labels_kernel");
}

/* dst (N, Cd, HW) = src (N, Cs, HW) channels [c0, c0+Cd); plane = (n, ch) of dst */
__global__ void channel_slice_kernel(float *__restrict__ dst, const float *__restrict__ src,
                                     int Cs, int c0, int Cd, int HW)
{
    unsigned plane = blockIdx.x;
    unsigned img = plane / Cd, ch = plane - img * Cd;
    float *d = dst + (size_t)plane * HW;
    const float *sp = src + ((size_t)img * Cs + c0 + ch) * HW;
    for (int i = blockIdx.y * blockDim.x + threadIdx.x; i < HW; i += gridDim.y * blockDim.x)
        d[i] = sp[i];
}

/* NHWC: dst[pix*Cd + ch] = src[pix*Cs + c0 + ch], pix = n*HW + hw; one thread
 * per output element */
__global__ void channel_slice_nhwc_kernel(float *__restrict__ dst, const float *__restrict__ src,
                                          int Cs, int c0, int Cd, size_t total)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t pix = i / (size_t)Cd, ch = i - pix * (size_t)Cd;
        dst[i] = src[pix * Cs + c0 + ch];
    }
}

void sg_cuda_channel_slice(sg_backend *be, float *dst, const float *src, int N, int Cs,
                           int c0, int Cd, int HW)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed || N <= 0 || Cd <= 0 || HW <= 0) return;
    if (c->nhwc) {
        size_t total = (size_t)N * HW * Cd;
        channel_slice_nhwc_kernel<<<sg_cuda_blocks(c, total, EW_THREADS), EW_THREADS, 0,
                                    c->stream>>>(dst, src, Cs, c0, Cd, total);
        LAUNCH_CHECK(c, "channel_slice_nhwc_kernel");
        return;
    }
    channel_slice_kernel<<<sg_cuda_plane_grid((size_t)N * Cd, HW, EW_THREADS), EW_THREADS, 0,
                           c->stream>>>(dst, src, Cs, c0, Cd, HW);
    LAUNCH_CHECK(c, "channel_slice_kernel");
}

/* The batch's random draws (lib/batch_draw.h): one block; thread 0 shuffles
 * the rows in shared memory (32 KiB; Fisher-Yates is sequential, n a batch),
 * then the block writes alpha and the rows of c_trg. */
__global__ void draw_batch_kernel(float *__restrict__ c_trg, float *__restrict__ alpha,
                                  const float *__restrict__ c_org, sg_batch_draw d)
{
    __shared__ int perm[SG_BATCH_DRAW_MAX];
    for (int k = threadIdx.x; k < d.n; k += blockDim.x) alpha[k] = sg_draw_alpha(&d, k);
    if (d.random_targets) {
        for (int k = threadIdx.x; k < d.n; k += blockDim.x)
            sg_draw_random_target(&d, k, c_trg + (size_t)k * d.c_dim);
        return;
    }
    if (threadIdx.x == 0) sg_draw_target_perm(&d, perm);
    __syncthreads();
    for (int i = threadIdx.x; i < d.n * d.c_dim; i += blockDim.x) {
        int k = i / d.c_dim, j = i - k * d.c_dim;
        c_trg[i] = c_org[(size_t)perm[k] * d.c_dim + j];
    }
}

void sg_cuda_draw_batch(sg_backend *be, float *c_trg, float *alpha, const float *c_org,
                        const sg_batch_draw *d)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed) return;
    if (d->n < 1 || d->n > SG_BATCH_DRAW_MAX) {
        sg_cuda_fail(c, __FILE__, __LINE__, "draw_batch: batch of %d images (1..%d allowed)", d->n,
                     SG_BATCH_DRAW_MAX);
        return;
    }
    draw_batch_kernel<<<1, EW_THREADS, 0, c->stream>>>(c_trg, alpha, c_org, *d);
    LAUNCH_CHECK(c, "draw_batch_kernel");
}
