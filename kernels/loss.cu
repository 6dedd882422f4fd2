/* Losses and their gradients, the gradient-penalty term, and the finiteness
 * check. Every scalar is a fixed-order reduction (per-thread strides, a fixed
 * tree per block, then one block over the per-block partials): no float
 * atomics, so a loss is bit-equal from run to run. The values stay on the
 * device; the model copies them to the host once per logged step. */
#include "cuda_backend.cuh"
#include "reduce.cuh"

#define RED_THREADS 256

/* Blocks of stage 1 for n items: a pure function of n (determinism). */
static unsigned partial_blocks(size_t n)
{
    size_t b = (n + RED_THREADS * 8 - 1) / (RED_THREADS * 8);
    if (b > SG_CUDA_PARTIALS) b = SG_CUDA_PARTIALS;
    return b < 1 ? 1 : (unsigned)b;
}

/* Stage 2: *out = scale * sum(partials[0..n)) */
__global__ void __launch_bounds__(1024)
final_sum_kernel(float *out, const float *__restrict__ partials, int n, float scale)
{
    __shared__ float shm[32];
    float s = 0.f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) s += partials[i];
    s = block_sum(s, shm);
    if (threadIdx.x == 0) *out = s * scale;
}

static void final_sum(sg_cuda *c, float *out, unsigned nparts, float scale, const char *name)
{
    final_sum_kernel<<<1, 1024, 0, c->stream>>>(out, c->partials, (int)nparts, scale);
    LAUNCH_CHECK(c, name);
}

/* ---- mean ------------------------------------------------------------------ */

__global__ void __launch_bounds__(RED_THREADS)
mean_loss_kernel(float *__restrict__ partials, float *__restrict__ grad,
                 const float *__restrict__ x, size_t n, float g)
{
    __shared__ float shm[32];
    float s = 0.f;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        s += x[i];
        if (grad) grad[i] = g;
    }
    s = block_sum(s, shm);
    if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

void sg_cuda_mean_loss(sg_backend *be, float *loss, float *grad, const float *x, size_t n,
                       float sign, float weight)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed || n == 0) return;
    unsigned nb = partial_blocks(n);
    mean_loss_kernel<<<nb, RED_THREADS, 0, c->stream>>>(c->partials, grad, x, n,
                                                        weight * sign / (float)n);
    if (LAUNCH_CHECK(c, "mean_loss_kernel")) return;
    final_sum(c, loss, nb, sign / (float)n, "final_sum_kernel (mean_loss)");
}

/* ---- L1 -------------------------------------------------------------------- */

__global__ void __launch_bounds__(RED_THREADS)
l1_loss_kernel(float *__restrict__ partials, float *__restrict__ grad,
               const float *__restrict__ a, const float *__restrict__ b, size_t n, float g)
{
    __shared__ float shm[32];
    float s = 0.f;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float d = a[i] - b[i];
        s += fabsf(d);
        if (grad) grad[i] = d > 0.f ? g : (d < 0.f ? -g : 0.f);
    }
    s = block_sum(s, shm);
    if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

void sg_cuda_l1_loss(sg_backend *be, float *loss, float *grad, const float *a, const float *b,
                     size_t n, float weight)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed || n == 0) return;
    unsigned nb = partial_blocks(n);
    l1_loss_kernel<<<nb, RED_THREADS, 0, c->stream>>>(c->partials, grad, a, b, n,
                                                      weight / (float)n);
    if (LAUNCH_CHECK(c, "l1_loss_kernel")) return;
    final_sum(c, loss, nb, 1.f / (float)n, "final_sum_kernel (l1_loss)");
}

/* ---- classification (N rows, small): one block ----------------------------- */

/* BCE with logits over columns [off, off+C) of logits (N, ldl), targets (N, ldt) at toff. */
__global__ void bce_logits_kernel(float *loss, float *__restrict__ grad,
                                  const float *__restrict__ logits, int ldl, int off,
                                  const float *__restrict__ targets, int ldt, int toff,
                                  int N, int C, float weight)
{
    __shared__ float shm[32];
    float s = 0.f;
    int total = N * C;
    for (int i = threadIdx.x; i < total; i += blockDim.x) {
        int n = i / C, j = i - n * C;
        float z = logits[(size_t)n * ldl + off + j];
        float t = targets[(size_t)n * ldt + toff + j];
        /* stable: max(z,0) - z*t + log(1 + exp(-|z|)) */
        s += fmaxf(z, 0.f) - z * t + log1pf(expf(-fabsf(z)));
        if (grad) {
            float sig = 1.f / (1.f + expf(-z));
            grad[(size_t)n * ldl + off + j] = weight * (sig - t) / (float)N;
        }
    }
    s = block_sum(s, shm);
    if (threadIdx.x == 0) *loss = s / (float)N;
}

void sg_cuda_bce_logits_loss(sg_backend *be, float *loss, float *grad, const float *logits,
                             int ldl, int off, const float *targets, int ldt, int toff,
                             int N, int C, float weight)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed || N <= 0 || C <= 0) return;
    bce_logits_kernel<<<1, RED_THREADS, 0, c->stream>>>(loss, grad, logits, ldl, off, targets,
                                                        ldt, toff, N, C, weight);
    LAUNCH_CHECK(c, "bce_logits_kernel");
}

/* Softmax cross-entropy per row (one thread per row); class = first arg-max
 * of the target slice. */
__global__ void softmax_ce_kernel(float *loss, float *__restrict__ grad,
                                  const float *__restrict__ logits, int ldl, int off,
                                  const float *__restrict__ targets, int ldt, int toff,
                                  int N, int C, float weight)
{
    __shared__ float shm[32];
    float s = 0.f;
    for (int n = threadIdx.x; n < N; n += blockDim.x) {
        const float *z = logits + (size_t)n * ldl + off;
        const float *t = targets + (size_t)n * ldt + toff;
        int cls = 0;
        for (int j = 1; j < C; j++)
            if (t[j] > t[cls]) cls = j;
        float zmax = z[0];
        for (int j = 1; j < C; j++) zmax = fmaxf(zmax, z[j]);
        float se = 0.f;
        for (int j = 0; j < C; j++) se += expf(z[j] - zmax);
        float lse = zmax + logf(se);
        s += lse - z[cls];
        if (grad) {
            float *g = grad + (size_t)n * ldl + off;
            for (int j = 0; j < C; j++) {
                float p = expf(z[j] - lse);
                g[j] = weight * (p - (j == cls ? 1.f : 0.f)) / (float)N;
            }
        }
    }
    s = block_sum(s, shm);
    if (threadIdx.x == 0) *loss = s / (float)N;
}

void sg_cuda_softmax_ce_loss(sg_backend *be, float *loss, float *grad, const float *logits,
                             int ldl, int off, const float *targets, int ldt, int toff,
                             int N, int C, float weight)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed || N <= 0 || C <= 0) return;
    softmax_ce_kernel<<<1, RED_THREADS, 0, c->stream>>>(loss, grad, logits, ldl, off, targets,
                                                        ldt, toff, N, C, weight);
    LAUNCH_CHECK(c, "softmax_ce_kernel");
}

/* ---- gradient penalty -------------------------------------------------------- */

/* norms[row] = ||u_row|| (one block per row) */
__global__ void __launch_bounds__(1024)
row_norm_kernel(float *__restrict__ norms, const float *__restrict__ u, size_t D)
{
    __shared__ float shm[32];
    const float *r = u + blockIdx.x * D;
    float s = 0.f;
    for (size_t i = threadIdx.x; i < D; i += blockDim.x) s += r[i] * r[i];
    s = block_sum(s, shm);
    if (threadIdx.x == 0) norms[blockIdx.x] = sqrtf(s);
}

/* grad = weight * 2(||u_i|| - 1) u_i / (||u_i|| N); grid (rows, chunks) */
__global__ void gp_grad_kernel(float *__restrict__ grad, const float *__restrict__ u,
                               const float *__restrict__ norms, size_t D, float weight, int N)
{
    float nrm = norms[blockIdx.x];
    float f = weight * 2.f * (nrm - 1.f) / (nrm * (float)N);   /* the CPU's order */
    size_t base = (size_t)blockIdx.x * D;
    for (size_t i = (size_t)blockIdx.y * blockDim.x + threadIdx.x; i < D;
         i += (size_t)gridDim.y * blockDim.x)
        grad[base + i] = f * u[base + i];
}

/* value = mean_i (||u_i|| - 1)^2, i in order */
__global__ void gp_value_kernel(float *loss, const float *__restrict__ norms, int N)
{
    if (threadIdx.x != 0) return;
    float s = 0.f;
    for (int i = 0; i < N; i++) {
        float d = norms[i] - 1.f;
        s += d * d;
    }
    *loss = s / (float)N;
}

void sg_cuda_gp_loss(sg_backend *be, float *loss, float *grad, const float *u, int N,
                     size_t D, float weight)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed || N <= 0 || D == 0) return;
    float *norms = sg_cuda_scratch(c, (size_t)N);
    if (!norms) return;
    row_norm_kernel<<<N, 1024, 0, c->stream>>>(norms, u, D);
    if (LAUNCH_CHECK(c, "row_norm_kernel")) return;
    gp_value_kernel<<<1, 32, 0, c->stream>>>(loss, norms, N);
    if (LAUNCH_CHECK(c, "gp_value_kernel")) return;
    if (grad) {
        gp_grad_kernel<<<sg_cuda_plane_grid(N, D, 256), 256, 0, c->stream>>>(grad, u, norms, D,
                                                                            weight, N);
        LAUNCH_CHECK(c, "gp_grad_kernel");
    }
}

/* ---- finiteness -------------------------------------------------------------- */

__global__ void nonfinite_kernel(int *flag, const float *__restrict__ p, size_t n)
{
    int bad = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        bad |= !isfinite(p[i]);
    if (__syncthreads_or(bad) && threadIdx.x == 0) *flag = 1;   /* every writer writes 1 */
}

int sg_cuda_all_finite(sg_backend *be, const float *p, size_t n)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed) return -1;
    if (n == 0) return 1;
    if (CU_CHECK(c, cudaMemsetAsync(c->flag_dev, 0, sizeof(int), c->stream))) return -1;
    nonfinite_kernel<<<sg_cuda_blocks(c, n, 256), 256, 0, c->stream>>>(c->flag_dev, p, n);
    if (LAUNCH_CHECK(c, "nonfinite_kernel")) return -1;
    if (CU_CHECK(c, cudaMemcpyAsync(c->flag_host, c->flag_dev, sizeof(int),
                                    cudaMemcpyDeviceToHost, c->stream)))
        return -1;
    if (CU_CHECK(c, cudaStreamSynchronize(c->stream))) return -1;
    return *c->flag_host ? 0 : 1;
}
