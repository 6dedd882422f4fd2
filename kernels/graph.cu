/* CUDA graphs of whole training steps (lib/backend.h "step graphs"): the
 * model records a D or G step once through stream capture and then replays
 * it with one launch, so the ~250-400 kernel and cuDNN launches of a step
 * cost one host call. The only values that change from step to step inside a
 * step are Adam's lr and step count: captured adam kernels read them from a
 * device slot of their graph, which graph_launch sets with a one-thread
 * kernel (arguments are copied at launch: no host-buffer races) just before
 * the replay, in stream order. */
#include "cuda_backend.cuh"
#include <math.h>
#include <stdlib.h>
#include <string.h>

__global__ void set_adam_hyper_kernel(float *hyper, float step_size, float bc2_sqrt)
{
    hyper[0] = step_size;
    hyper[1] = bc2_sqrt;
}

static int valid_key(sg_cuda *c, int key)
{
    if (key >= 0 && key < SG_CUDA_GRAPHS) return 1;
    sg_cuda_fail(c, __FILE__, __LINE__, "graph key %d out of range (0..%d)", key, SG_CUDA_GRAPHS - 1);
    return 0;
}

void sg_cuda_graph_drop_one(sg_cuda *c, int key)
{
    sg_cuda_graph *g = &c->graphs[key];
    if (g->exec) cudaGraphExecDestroy(g->exec);
    if (g->graph) cudaGraphDestroy(g->graph);
    g->exec = NULL;
    g->graph = NULL;
    g->ready = 0;
    g->n_adam = 0;
}

/* Called (after a stream sync) before buffers that graphs may reference
 * are freed: the cuDNN workspace and the scratch. */
void sg_cuda_graphs_drop_all(sg_cuda *c)
{
    for (int k = 0; k < SG_CUDA_GRAPHS; k++) sg_cuda_graph_drop_one(c, k);
}

int sg_cuda_graph_begin(sg_backend *be, int key)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed || !c->graphs_enabled || !valid_key(c, key)) return -1;
    if (c->capturing >= 0)
        return sg_cuda_fail(c, __FILE__, __LINE__, "graph_begin(%d) while recording graph %d", key,
                            c->capturing);
    sg_cuda_graph_drop_one(c, key);
    c->capture_broken = 0;
    /* thread-local: other threads (data loaders) may use CUDA meanwhile */
    if (CU_CHECK(c, cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeThreadLocal))) return -1;
    c->capturing = key;
    return 0;
}

int sg_cuda_graph_end(sg_backend *be, int key)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->capturing < 0 || c->capturing != key) {
        sg_cuda_fail(c, __FILE__, __LINE__, "graph_end(%d) without graph_begin", key);
        return -1;
    }
    sg_cuda_graph *g = &c->graphs[key];
    cudaGraph_t graph = NULL;
    /* always end the capture, even after a failed op, to give the stream back */
    cudaError_t st = cudaStreamEndCapture(c->stream, &graph);
    c->capturing = -1;
    if (c->capture_broken) {                      /* not an error: run the step eagerly */
        c->capture_broken = 0;
        c->failed = 0;
        c->first_error.msg[0] = 0;
        cudaGetLastError();
        if (graph) cudaGraphDestroy(graph);
        g->n_adam = 0;
        return -1;
    }
    if (st != cudaSuccess) {
        cudaGetLastError();
        if (graph) cudaGraphDestroy(graph);
        g->n_adam = 0;
        return sg_cuda_check_rt(c, st, "cudaStreamEndCapture", __FILE__, __LINE__);
    }
    if (c->failed) {                              /* an op failed while recording */
        if (graph) cudaGraphDestroy(graph);
        g->n_adam = 0;
        return -1;
    }
    cudaGraphExec_t exec = NULL;
    if (CU_CHECK(c, cudaGraphInstantiate(&exec, graph, 0))) {
        cudaGraphDestroy(graph);
        g->n_adam = 0;
        return -1;
    }
    g->graph = graph;
    g->exec = exec;
    g->ready = 1;
    return 0;
}

int sg_cuda_graph_launch(sg_backend *be, int key, float lr, int64_t t)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed || !valid_key(c, key)) return -1;
    sg_cuda_graph *g = &c->graphs[key];
    if (!g->ready) return 1;
    if (g->n_adam > 0) {
        if (t < 1) return sg_cuda_fail(c, __FILE__, __LINE__, "adam: step %lld < 1", (long long)t);
        double bc1 = 1.0 - pow((double)g->beta1, (double)t);
        double bc2 = 1.0 - pow((double)g->beta2, (double)t);
        set_adam_hyper_kernel<<<1, 1, 0, c->stream>>>(c->adam_hyper + 2 * key,
                                                      (float)((double)lr / bc1), (float)sqrt(bc2));
        if (LAUNCH_CHECK(c, "set_adam_hyper_kernel")) return -1;
    }
    return CU_CHECK(c, cudaGraphLaunch(g->exec, c->stream));
}

void sg_cuda_graph_drop(sg_backend *be, int key)
{
    sg_cuda *c = sg_cuda_of(be);
    if (key < 0 || key >= SG_CUDA_GRAPHS || c->capturing == key) return;
    sg_cuda_graph_drop_one(c, key);
}
