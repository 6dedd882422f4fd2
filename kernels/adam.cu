/* Adam over one flat parameter buffer in a single launch (PyTorch 1.13's
 * single-tensor order, lib/backend.h). The bias corrections are computed on
 * the host in double, as Python does. */
#include "cuda_backend.cuh"
#include <math.h>

/* hyper: NULL, or (in a recorded step graph) [step_size, bc2_sqrt] in device
 * memory, set before each replay (graph.cu) */
__global__ void adam_kernel(float *__restrict__ p, const float *__restrict__ g,
                            float *__restrict__ m, float *__restrict__ v, size_t n,
                            float beta1, float beta2, float step_size, float bc2_sqrt, float eps,
                            const float *__restrict__ hyper)
{
    if (hyper) {
        step_size = hyper[0];
        bc2_sqrt = hyper[1];
    }
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float gi = g[i];
        float mi = m[i] * beta1 + gi * (1.f - beta1);
        float vi = v[i] * beta2 + gi * gi * (1.f - beta2);   /* the CPU's order */
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        p[i] -= step_size * (mi / denom);
    }
}

void sg_cuda_adam(sg_backend *be, float *p, const float *g, float *m, float *v, size_t n,
                  float lr, float beta1, float beta2, float eps, int64_t t)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed || n == 0) return;
    if (t < 1) {
        sg_cuda_fail(c, __FILE__, __LINE__, "adam: step %lld < 1", (long long)t);
        return;
    }
    double bc1 = 1.0 - pow((double)beta1, (double)t);
    double bc2 = 1.0 - pow((double)beta2, (double)t);
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
    adam_kernel<<<sg_cuda_blocks(c, n, 256), 256, 0, c->stream>>>(p, g, m, v, n, beta1, beta2,
                                                                 step_size, bc2_sqrt, eps, hyper);
    LAUNCH_CHECK(c, "adam_kernel");
}
