/* Instance norm (affine, per-(n,c) statistics over H*W), forward and backward.
 * One block per (n,c) plane; the plane (at most 64 KiB at 128px) stays in L1/L2
 * between the passes. Sums over n (running statistics, dgamma, dbeta) go
 * through per-plane partials and a second kernel with a fixed order: no
 * atomics, bit-equal results from run to run. */
#include "cuda_backend.cuh"
#include "reduce.cuh"

#define IN_THREADS 256

/* x, y (N*C planes, HW); mean, rstd (N*C); var_out (N*C) biased variance or NULL */
__global__ void __launch_bounds__(IN_THREADS)
instnorm_forward_kernel(float *__restrict__ y, float *__restrict__ mean_out,
                        float *__restrict__ rstd_out, float *__restrict__ var_out,
                        const float *__restrict__ x, const float *__restrict__ gamma,
                        const float *__restrict__ beta, int C, int HW, float eps)
{
    __shared__ float shm[32];
    size_t plane = blockIdx.x;
    int ch = (int)(plane % C);
    const float *xp = x + plane * HW;
    float *yp = y + plane * HW;

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
    for (int i = threadIdx.x; i < HW; i += blockDim.x) yp[i] = (xp[i] - mean) * g + b;
    if (threadIdx.x == 0) {
        mean_out[plane] = mean;
        rstd_out[plane] = rstd;
        if (var_out) var_out[plane] = var;
    }
}

/* running_* (C): mean over n of the per-image momentum updates, as PyTorch's
 * InstanceNorm2d(track_running_stats=True) does in training mode. */
__global__ void instnorm_running_kernel(float *running_mean, float *running_var,
                                        const float *__restrict__ mean,
                                        const float *__restrict__ var, int N, int C, int HW,
                                        float momentum)
{
    int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= C) return;
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

void sg_cuda_instnorm_forward(sg_backend *be, float *y, float *mean, float *rstd,
                              const float *x, const float *gamma, const float *beta,
                              float *running_mean, float *running_var,
                              int N, int C, int HW, float eps, float momentum)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed || N <= 0 || C <= 0 || HW <= 0) return;
    int planes = N * C;
    float *var = NULL;
    if (running_mean && running_var) {
        var = sg_cuda_scratch(c, planes);
        if (!var) return;
    }
    instnorm_forward_kernel<<<planes, IN_THREADS, 0, c->stream>>>(y, mean, rstd, var, x, gamma,
                                                                   beta, C, HW, eps);
    if (LAUNCH_CHECK(c, "instnorm_forward_kernel")) return;
    if (var) {
        instnorm_running_kernel<<<(C + 127) / 128, 128, 0, c->stream>>>(
            running_mean, running_var, mean, var, N, C, HW, momentum);
        LAUNCH_CHECK(c, "instnorm_running_kernel");
    }
}

/* dx = gamma*rstd*(dy - mean(dy) - xhat*mean(dy*xhat)) per plane;
 * partial[plane] = sum(dy*xhat), partial[planes + plane] = sum(dy) */
__global__ void __launch_bounds__(IN_THREADS)
instnorm_backward_kernel(float *__restrict__ dx, float *__restrict__ partial,
                         const float *__restrict__ dy, const float *__restrict__ x,
                         const float *__restrict__ mean, const float *__restrict__ rstd,
                         const float *__restrict__ gamma, int C, int HW, int planes)
{
    __shared__ float shm[64];
    size_t plane = blockIdx.x;
    int ch = (int)(plane % C);
    const float *xp = x + plane * HW, *dyp = dy + plane * HW;
    float *dxp = dx + plane * HW;
    float mu = mean[plane], rs = rstd[plane];

    float sdy = 0.f, sdyx = 0.f;
    for (int i = threadIdx.x; i < HW; i += blockDim.x) {
        float g = dyp[i];
        sdy += g;
        sdyx += g * (xp[i] - mu) * rs;
    }
    block_sum2(sdy, sdyx, shm);
    float k = gamma[ch] * rs, a = sdy / HW, b = sdyx / HW;
    for (int i = threadIdx.x; i < HW; i += blockDim.x)
        dxp[i] = k * (dyp[i] - a - (xp[i] - mu) * rs * b);
    if (threadIdx.x == 0) {
        partial[plane] = sdyx;
        partial[planes + plane] = sdy;
    }
}

/* dgamma[c] += sum_n partial[n,c]; dbeta likewise, n in order */
__global__ void instnorm_param_grad_kernel(float *dgamma, float *dbeta,
                                           const float *__restrict__ partial, int N, int C)
{
    int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= C) return;
    size_t planes = (size_t)N * C;
    float sg = 0.f, sb = 0.f;
    for (int n = 0; n < N; n++) {
        sg += partial[(size_t)n * C + ch];
        sb += partial[planes + (size_t)n * C + ch];
    }
    if (dgamma) dgamma[ch] += sg;
    if (dbeta) dbeta[ch] += sb;
}

void sg_cuda_instnorm_backward(sg_backend *be, float *dx, float *dgamma, float *dbeta,
                               const float *dy, const float *x, const float *mean,
                               const float *rstd, const float *gamma, int N, int C, int HW)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed || N <= 0 || C <= 0 || HW <= 0) return;
    int planes = N * C;
    float *partial = sg_cuda_scratch(c, 2 * (size_t)planes);
    if (!partial) return;
    instnorm_backward_kernel<<<planes, IN_THREADS, 0, c->stream>>>(dx, partial, dy, x, mean, rstd,
                                                                    gamma, C, HW, planes);
    if (LAUNCH_CHECK(c, "instnorm_backward_kernel")) return;
    if (dgamma || dbeta) {
        instnorm_param_grad_kernel<<<(C + 127) / 128, 128, 0, c->stream>>>(dgamma, dbeta, partial,
                                                                            N, C);
        LAUNCH_CHECK(c, "instnorm_param_grad_kernel");
    }
}
