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
#include <stdio.h>
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

static void graph_drop_one(sg_cuda *c, int key)
{
    sg_cuda_graph *g = &c->graphs[key];
    if (g->exec) cudaGraphExecDestroy(g->exec);
    if (g->graph) cudaGraphDestroy(g->graph);
    g->exec = NULL;
    g->graph = NULL;
    g->ready = 0;
    g->n_adam = 0;
    g->owner = NULL;
}

/* Called (after a stream sync) before buffers that graphs may reference
 * are freed: the cuDNN workspace and the scratch. */
void sg_cuda_graphs_drop_all(sg_cuda *c)
{
    for (int k = 0; k < SG_CUDA_GRAPHS; k++) graph_drop_one(c, k);
}

int sg_cuda_graph_begin(sg_backend *be, int key, const void *owner)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed || !c->graphs_enabled || !valid_key(c, key)) return -1;
    if (c->capturing >= 0)
        return sg_cuda_fail(c, __FILE__, __LINE__, "graph_begin(%d) while recording graph %d", key,
                            c->capturing);
    graph_drop_one(c, key);
    c->graphs[key].owner = owner;
    c->capture_broken = 0;
    /* thread-local: other threads (data loaders) may use CUDA meanwhile */
    if (CU_CHECK(c, cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeThreadLocal))) return -1;
    c->capturing = key;
    return 0;
}

/* A recording that failed for a reason of its own (an operation that cannot
 * be captured, an error reported while recording: nothing ran, so no data was
 * touched) turns step graphs off for this backend instead of failing the
 * training: the steps run eagerly, where a genuine error shows up again and
 * is reported then. The reason stays readable (sg_backend_cuda_graph_note). */
static int recording_failed(sg_cuda *c, sg_cuda_graph *g, cudaGraph_t graph, const char *why)
{
    cudaGetLastError();                           /* capture errors are not sticky */
    if (graph) cudaGraphDestroy(graph);
    g->n_adam = 0;
    if (why) {
        snprintf(c->graph_note, sizeof c->graph_note, "step graphs turned off: %s", why);
        c->graphs_enabled = 0;
    }
    c->failed = 0;
    c->first_error.msg[0] = 0;
    return -1;
}

int sg_cuda_graph_end(sg_backend *be, int key)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->capturing < 0 || c->capturing != key) {
        sg_cuda_fail(c, __FILE__, __LINE__, "graph_end(%d) without graph_begin", key);
        return -1;
    }
    sg_cuda_lane_home(c);                         /* a recording ends joined */
    sg_cuda_graph *g = &c->graphs[key];
    cudaGraph_t graph = NULL;
    /* always end the capture, even after a failed op, to give the stream back */
    cudaError_t st = cudaStreamEndCapture(c->stream, &graph);
    c->capturing = -1;
    if (c->capture_broken) {                      /* needs an allocation first: not an error */
        c->capture_broken = 0;
        return recording_failed(c, g, graph, NULL);
    }
    char why[sizeof c->graph_note];
    if (st != cudaSuccess) {
        snprintf(why, sizeof why, "%s:%d: cudaStreamEndCapture: %s%s%s", __FILE__, __LINE__,
                 cudaGetErrorString(st), c->failed ? "; first error while recording: " : "",
                 c->failed ? c->first_error.msg : "");
        return recording_failed(c, g, graph, why);
    }
    if (c->failed) {                              /* an op reported an error while recording */
        snprintf(why, sizeof why, "while recording: %s", c->first_error.msg);
        return recording_failed(c, g, graph, why);
    }
    cudaGraphExec_t exec = NULL;
    /* the kernels' priorities as captured from their lanes' streams (else a
     * replay runs every node at the launch stream's); without the flag if a
     * driver refuses it: the priorities are a speed matter only, and the
     * graph note says so */
    cudaError_t ist = cudaGraphInstantiate(&exec, graph, cudaGraphInstantiateFlagUseNodePriority);
    if (ist != cudaSuccess) {
        cudaGetLastError();
        exec = NULL;
        if (!c->priority_refusal[0])
            snprintf(c->priority_refusal, sizeof c->priority_refusal, "%s", cudaGetErrorString(ist));
        ist = cudaGraphInstantiate(&exec, graph, 0);
        if (ist == cudaSuccess) c->graphs_without_priority++;
    }
    if (ist != cudaSuccess) {
        snprintf(why, sizeof why, "%s:%d: cudaGraphInstantiate: %s", __FILE__, __LINE__,
                 cudaGetErrorString(ist));
        return recording_failed(c, g, graph, why);
    }
    g->graph = graph;
    g->exec = exec;
    g->ready = 1;
    c->graphs_recorded++;
    return 0;
}

int sg_cuda_graph_launch(sg_backend *be, int key, const void *owner, float lr, int64_t t)
{
    sg_cuda *c = sg_cuda_of(be);
    if (c->failed || !valid_key(c, key)) return -1;
    sg_cuda_graph *g = &c->graphs[key];
    if (!g->ready || g->owner != owner) return 1;     /* gone, or another owner's now */
    if (g->n_adam > 0) {
        if (t < 1) return sg_cuda_fail(c, __FILE__, __LINE__, "adam: step %lld < 1", (long long)t);
        double bc1 = 1.0 - pow(g->beta1, (double)t);
        double bc2 = 1.0 - pow(g->beta2, (double)t);
        set_adam_hyper_kernel<<<1, 1, 0, c->stream>>>(c->adam_hyper + 2 * key,
                                                      (float)((double)lr / bc1), (float)sqrt(bc2));
        if (LAUNCH_CHECK(c, "set_adam_hyper_kernel")) return -1;
    }
    if (CU_CHECK(c, cudaGraphLaunch(g->exec, c->stream))) return -1;
    c->graph_launches++;
    return 0;
}

extern "C" const char *sg_backend_cuda_graph_note(sg_backend *be, char *buf, size_t size)
{
    sg_cuda *c = sg_cuda_of(be);
    char priorities[256] = "";
    if (c->graphs_without_priority)   /* lane 1's work then runs at lane 0's priority: slower only */
        snprintf(priorities, sizeof priorities, " (%d without node priorities: cudaGraphInstantiate: %s)",
                 c->graphs_without_priority, c->priority_refusal);
    snprintf(buf, size, "%s%sgraphs recorded %d%s, launched %lld", c->graph_note,
             c->graph_note[0] ? "; " : "", c->graphs_recorded, priorities, (long long)c->graph_launches);
    return buf;
}

void sg_cuda_graph_drop(sg_backend *be, int key, const void *owner)
{
    sg_cuda *c = sg_cuda_of(be);
    if (key < 0 || key >= SG_CUDA_GRAPHS || c->capturing == key || c->graphs[key].owner != owner) return;
    graph_drop_one(c, key);
}
