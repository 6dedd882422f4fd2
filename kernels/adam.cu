/* Adam over one flat parameter buffer in a single launch (PyTorch 1.13's
 * single-tensor order, lib/backend.h). The bias corrections are computed on
 * the host in double, as Python does. */
#include "cuda_backend.cuh"
#include <math.h>
#include <stdint.h>

/* One element's update, in the CPU's order (m, then v, then p); omb1 and
 * omb2: 1 - beta1 and 1 - beta2, taken in double on the host (ops->adam). */
__device__ __forceinline__ void adam_one(float &p, float g, float &m, float &v, float beta1, float beta2,
                                         float omb1, float omb2, float step_size, float bc2_sqrt, float eps)
{
    float mi = m * beta1 + g * omb1;
    float vi = v * beta2 + g * g * omb2;
    m = mi;
    v = vi;
    float denom = sqrtf(vi) / bc2_sqrt + eps;
    p -= step_size * (mi / denom);
}

/* hyper: NULL, or (in a recorded step graph) [step_size, bc2_sqrt] in device
 * memory, set before each replay (graph.cu) */
__global__ void adam_kernel(float *__restrict__ p, const float *__restrict__ g,
                            float *__restrict__ m, float *__restrict__ v, size_t n,
                            float beta1, float beta2, float omb1, float omb2, float step_size, float bc2_sqrt,
                            float eps, const float *__restrict__ hyper)
{
    if (hyper) {
        step_size = hyper[0];
        bc2_sqrt = hyper[1];
    }
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        adam_one(p[i], g[i], m[i], v[i], beta1, beta2, omb1, omb2, step_size, bc2_sqrt, eps);
}

/* The same update four elements at a time (16-byte loads and stores: the
 * kernel is memory-bound, 28 bytes per element); n4 = n / 4 float4s, the
 * tail of n % 4 elements by the scalar kernel. */
__global__ void adam4_kernel(float4 *__restrict__ p, const float4 *__restrict__ g, float4 *__restrict__ m,
                             float4 *__restrict__ v, size_t n4, float beta1, float beta2, float omb1, float omb2,
                             float step_size, float bc2_sqrt, float eps, const float *__restrict__ hyper)
{
    if (hyper) {
        step_size = hyper[0];
        bc2_sqrt = hyper[1];
    }
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n4;
         i += (size_t)gridDim.x * blockDim.x) {
        float4 pi = p[i], gi = g[i], mi = m[i], vi = v[i];
        adam_one(pi.x, gi.x, mi.x, vi.x, beta1, beta2, omb1, omb2, step_size, bc2_sqrt, eps);
        adam_one(pi.y, gi.y, mi.y, vi.y, beta1, beta2, omb1, omb2, step_size, bc2_sqrt, eps);
        adam_one(pi.z, gi.z, mi.z, vi.z, beta1, beta2, omb1, omb2, step_size, bc2_sqrt, eps);
        adam_one(pi.w, gi.w, mi.w, vi.w, beta1, beta2, omb1, omb2, step_size, bc2_sqrt, eps);
        p[i] = pi; m[i] = mi; v[i] = vi;
    }
}

void sg_cuda_adam(sg_backend *be, float *p, const float *g, float *m, float *v, size_t n,
                  float lr, double beta1, double beta2, float eps, int64_t t)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed || n == 0) return;
    if (t < 1) {
        sg_cuda_fail(c, __FILE__, __LINE__, "adam: step %lld < 1", (long long)t);
        return;
    }
    double bc1 = 1.0 - pow(beta1, (double)t);
    double bc2 = 1.0 - pow(beta2, (double)t);
    float b1 = (float)beta1, b2 = (float)beta2, omb1 = (float)(1.0 - beta1), omb2 = (float)(1.0 - beta2);
    float step_size = (float)((double)lr / bc1);
    float bc2_sqrt = (float)sqrt(bc2);
    const float *hyper = NULL;
    if (c->capturing >= 0) {
        /* recorded: lr and t come from the graph's slot at each replay; this
         * call's values are its first replay's (graph_end launches nothing) */
        sg_cuda_graph *gr = &c->graphs[c->capturing];
        if (gr->n_adam > 0 && (gr->beta1 != beta1 || gr->beta2 != beta2)) {
            sg_cuda_fail(c, __FILE__, __LINE__, "two adam calls with different betas in one graph");
            return;
        }
        gr->beta1 = beta1;
        gr->beta2 = beta2;
        gr->n_adam++;
        hyper = c->adam_hyper + 2 * c->capturing;
    }
    size_t n4 = 0;
    if ((((uintptr_t)p | (uintptr_t)g | (uintptr_t)m | (uintptr_t)v) & 15) == 0) {
        n4 = n / 4;
        if (n4) {
            adam4_kernel<<<sg_cuda_blocks(c, n4, 256), 256, 0, c->stream>>>(
                (float4 *)p, (const float4 *)g, (float4 *)m, (float4 *)v, n4, b1, b2, omb1, omb2, step_size,
                bc2_sqrt, eps, hyper);
            if (LAUNCH_CHECK(c, "adam4_kernel")) return;
        }
    }
    size_t done = 4 * n4;
    if (done < n) {
        adam_kernel<<<sg_cuda_blocks(c, n - done, 256), 256, 0, c->stream>>>(
            p + done, g + done, m + done, v + done, n - done, b1, b2, omb1, omb2, step_size, bc2_sqrt, eps,
            hyper);
        LAUNCH_CHECK(c, "adam_kernel");
    }
}
