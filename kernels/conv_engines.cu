/* Convolutions through cuDNN's backend (graph) API.
 *
 * The legacy v7 calls offer one algorithm family for every shape of this
 * model (IMPLICIT_PRECOMP_GEMM) and their heuristics pick one kernel inside
 * it; for G's 7x7 convolutions that kernel is 2-3x slower than others cuDNN
 * has (bench/NOTES.md). The backend API exposes every engine configuration
 * (engine and knob values). For each shape and kind, the candidates are the
 * configurations of cuDNN's heuristics (mode A, then the fallback list) that
 * are deterministic (no NONDETERMINISTIC note, so runs repeat bit for bit),
 * keep float inputs and reductions (no down-conversion), use no tensor cores
 * in fp32 mode, need no runtime compilation (unless SG_CUDNN_RTC=1) and fit
 * the workspace cap. A configuration the list repeats (the fallback list
 * may repeat one of mode A's) is skipped.
 *
 * Every candidate first runs once on the call's own inputs, into a scratch
 * output, and must give what the legacy call gives (check_candidate: a
 * wrong engine is never chosen silently). SG_CUDNN_SEARCH=heuristic then
 * takes the first candidate that passes: the same in every process.
 * SG_CUDNN_SEARCH=timed times each, and the legacy algorithm, and keeps the
 * fastest, like cudnn.benchmark; timings differ between processes,
 * so the choices (engine and knob values) can be saved to a text file and
 * loaded by a later process, which takes only the same configuration
 * (sg-train keeps one in its run directory: a resumed run repeats the
 * uninterrupted one bit for bit).
 *
 * Where the only legacy algorithms within the cap are ones cuDNN documents
 * as nondeterministic (and SG_CUDNN_NONDET is off), the legacy call is the
 * check's reference and nothing more: it is not timed, a file's choice of
 * it is rejected, and without a deterministic engine the kind stops with an
 * error (plan_algo). */
#include "cuda_backend.cuh"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
extern "C" {
#include "fileio.h"
}

typedef cudnnBackendDescriptor_t bdesc;

enum { UID_X = 1, UID_W = 2, UID_Y = 3 };
enum { MAX_PRIMARY = 24, MAX_FALLBACK = 6, MAX_CAND = MAX_PRIMARY + MAX_FALLBACK };
enum { TIMED_RUNS = 3 };

const char *sg_conv_kind_name(int kind)
{
    return kind == SG_CONV_FWD ? "fwd" : kind == SG_CONV_BWD_DATA ? "bwd-data" : "bwd-filter";
}

static void destroy(bdesc *d)
{
    if (*d) cudnnBackendDestroyDescriptor(*d);
    *d = NULL;
}

void sg_conv_engine_destroy(sg_conv_engine *e)
{
    for (int i = 0; i < e->n_packs; i++) destroy(&e->packs[i].pack);
    e->n_packs = e->next_pack = 0;
    destroy(&e->plan);
    destroy(&e->other_plan);
    for (int i = 0; i < 7; i++) {
        destroy(&e->keep[i]);
        destroy(&e->other_keep[i]);
    }
    e->other_shared = 0;
}

/* A float tensor (n, ch, h, w) in the backend's layout: NHWC strides for
 * activations go with KRSC for weights, the same formula with (Co, Ci, K, K). */
static cudnnStatus_t make_tensor(bdesc *t, int64_t uid, int nhwc, int64_t n, int64_t ch, int64_t h,
                                 int64_t w)
{
    cudnnStatus_t st = cudnnBackendCreateDescriptor(CUDNN_BACKEND_TENSOR_DESCRIPTOR, t);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    int64_t dims[4] = { n, ch, h, w };
    int64_t strides[4];
    if (nhwc) { strides[0] = h * w * ch; strides[1] = 1; strides[2] = w * ch; strides[3] = ch; }
    else { strides[0] = ch * h * w; strides[1] = h * w; strides[2] = w; strides[3] = 1; }
    cudnnDataType_t type = CUDNN_DATA_FLOAT;
    int64_t align = 16;     /* checked per call: unaligned pointers take the legacy path */
    if ((st = cudnnBackendSetAttribute(*t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type)) ||
        (st = cudnnBackendSetAttribute(*t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims)) ||
        (st = cudnnBackendSetAttribute(*t, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides)) ||
        (st = cudnnBackendSetAttribute(*t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid)) ||
        (st = cudnnBackendSetAttribute(*t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align)))
        return st;
    return cudnnBackendFinalize(*t);
}

/* keep[0..5]: x, w, y, the convolution, the operation of `kind`, its graph.
 * Backward-filter accumulates (beta 1, lib/backend.h "Accumulation"). */
static cudnnStatus_t build_graph(sg_cuda *c, const sg_conv_plan *p, int kind, bdesc *keep)
{
    cudnnStatus_t st;
    if ((st = make_tensor(&keep[0], UID_X, c->nhwc, p->N, p->Ci, p->H, p->W)) ||
        (st = make_tensor(&keep[1], UID_W, c->nhwc, p->Co, p->Ci, p->K, p->K)) ||
        (st = make_tensor(&keep[2], UID_Y, c->nhwc, p->N, p->Co, p->Ho, p->Wo)))
        return st;
    int64_t dims = 2, one[2] = { 1, 1 }, stride[2] = { p->stride, p->stride }, pad[2] = { p->pad, p->pad };
    cudnnDataType_t comp = CUDNN_DATA_FLOAT;
    cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;    /* PyTorch's conv: no kernel flip */
    bdesc conv;
    if ((st = cudnnBackendCreateDescriptor(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, &keep[3]))) return st;
    conv = keep[3];
    if ((st = cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &dims)) ||
        (st = cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp)) ||
        (st = cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode)) ||
        (st = cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, one)) ||
        (st = cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, stride)) ||
        (st = cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, pad)) ||
        (st = cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, pad)) ||
        (st = cudnnBackendFinalize(conv)))
        return st;
    float alpha = 1.f, beta = kind == SG_CONV_BWD_FILTER ? 1.f : 0.f;
    /* per kind: the operation and its attributes for alpha, beta, the
     * convolution and the tensors in the roles of x, w, y */
    static const struct {
        cudnnBackendDescriptorType_t type;
        cudnnBackendAttributeName_t alpha, beta, conv, x, w, y;
    } ops[SG_CONV_KINDS] = {
        { CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR,
          CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA,
          CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X,
          CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y },
        { CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY },
        { CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY },
    };
    cudnnBackendDescriptorType_t type = ops[kind].type;
    cudnnBackendAttributeName_t a_alpha = ops[kind].alpha, a_beta = ops[kind].beta, a_conv = ops[kind].conv;
    cudnnBackendAttributeName_t a_x = ops[kind].x, a_w = ops[kind].w, a_y = ops[kind].y;
    if ((st = cudnnBackendCreateDescriptor(type, &keep[4]))) return st;
    bdesc op = keep[4];
    if ((st = cudnnBackendSetAttribute(op, a_alpha, CUDNN_TYPE_FLOAT, 1, &alpha)) ||
        (st = cudnnBackendSetAttribute(op, a_beta, CUDNN_TYPE_FLOAT, 1, &beta)) ||
        (st = cudnnBackendSetAttribute(op, a_conv, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &conv)) ||
        (st = cudnnBackendSetAttribute(op, a_x, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &keep[0])) ||
        (st = cudnnBackendSetAttribute(op, a_w, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &keep[1])) ||
        (st = cudnnBackendSetAttribute(op, a_y, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &keep[2])) ||
        (st = cudnnBackendFinalize(op)))
        return st;
    if ((st = cudnnBackendCreateDescriptor(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, &keep[5]))) return st;
    if ((st = cudnnBackendSetAttribute(keep[5], CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &op)) ||
        (st = cudnnBackendSetAttribute(keep[5], CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &c->cudnn)))
        return st;
    return cudnnBackendFinalize(keep[5]);
}

/* Up to `max` engine configurations of one heuristics mode into out[]. */
static int heuristic_list(bdesc graph, cudnnBackendHeurMode_t mode, bdesc *out, int max)
{
    bdesc h = NULL;
    int64_t count = 0, got = 0;
    int n = 0;
    if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, &h)) return 0;
    if (cudnnBackendSetAttribute(h, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph) ||
        cudnnBackendSetAttribute(h, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode) ||
        cudnnBackendFinalize(h) ||
        cudnnBackendGetAttribute(h, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count, NULL) ||
        count <= 0) {
        destroy(&h);
        return 0;
    }
    if (count > max) count = max;
    int made = 0;
    for (; made < count; made++)
        if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, &out[made])) break;
    if (made > 0 && cudnnBackendGetAttribute(h, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                             made, &got, out) == CUDNN_STATUS_SUCCESS)
        n = got < made ? (int)got : made;
    for (int i = n; i < made; i++) destroy(&out[i]);
    destroy(&h);
    return n;
}

/* The candidate list of a graph: mode A's configurations, then the fallback
 * list's; the order is what an engines file's rank refers to. */
static int candidate_list(bdesc graph, bdesc *out)
{
    int n = heuristic_list(graph, CUDNN_HEUR_MODE_A, out, MAX_PRIMARY);
    if (n == 0) n = heuristic_list(graph, CUDNN_HEUR_MODE_INSTANT, out, MAX_PRIMARY);
    return n + heuristic_list(graph, CUDNN_HEUR_MODE_FALLBACK, out + n, MAX_FALLBACK);
}

/* Whether a configuration's engine may run for this backend; its global index. */
static int usable(const sg_cuda *c, bdesc cfg, int64_t *engine_id)
{
    bdesc eng = NULL;
    int64_t n = 0;
    int ok = 0;
    *engine_id = -1;
    if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINE_DESCRIPTOR, &eng)) return 0;
    if (cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n, &eng) ||
        cudnnBackendGetAttribute(eng, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &n, engine_id))
        goto out;
    {
        cudnnBackendNumericalNote_t num[CUDNN_NUMERICAL_NOTE_TYPE_COUNT + 8];
        cudnnBackendBehaviorNote_t beh[CUDNN_BEHAVIOR_NOTE_TYPE_COUNT + 8];
        int64_t n_num = 0, n_beh = 0;
        if (cudnnBackendGetAttribute(eng, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                                     CUDNN_NUMERICAL_NOTE_TYPE_COUNT + 8, &n_num, num))
            goto out;
        /* unknown notes: not usable (it might compile at run time) */
        if (cudnnBackendGetAttribute(eng, CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE, CUDNN_TYPE_BEHAVIOR_NOTE,
                                     CUDNN_BEHAVIOR_NOTE_TYPE_COUNT + 8, &n_beh, beh))
            goto out;
        /* elementCount is how many the engine has; only that many up to
         * the requested count were written */
        if (n_num > CUDNN_NUMERICAL_NOTE_TYPE_COUNT + 8) n_num = CUDNN_NUMERICAL_NOTE_TYPE_COUNT + 8;
        if (n_beh > CUDNN_BEHAVIOR_NOTE_TYPE_COUNT + 8) n_beh = CUDNN_BEHAVIOR_NOTE_TYPE_COUNT + 8;
        for (int64_t i = 0; i < n_num; i++) {
            if ((num[i] == CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC && !c->allow_nondet) ||
                num[i] == CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS ||
                num[i] == CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION)
                goto out;
            /* fp32 must not drift to TF32 tensor cores */
            if (num[i] == CUDNN_NUMERICAL_NOTE_TENSOR_CORE && c->precision == SG_CUDA_FP32) goto out;
        }
        for (int64_t i = 0; i < n_beh; i++)
            if (beh[i] == CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION && !c->allow_rtc) goto out;
        ok = 1;
    }
out:
    destroy(&eng);
    return ok;
}

/* An execution plan for cfg and its workspace, or NULL (the engine does not
 * support this shape, or needs more workspace than the cap). */
static bdesc make_plan(const sg_cuda *c, bdesc cfg, int64_t *ws)
{
    bdesc plan = NULL;
    if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &plan)) return NULL;
    int64_t n = 0;
    cudnnHandle_t h = c->cudnn;
    if (cudnnBackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &h) ||
        cudnnBackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfg) ||
        cudnnBackendFinalize(plan) ||
        cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &n, ws) ||
        *ws < 0 || (uint64_t)*ws > c->workspace_limit) {
        destroy(&plan);
        return NULL;
    }
    return plan;
}

/* A plan for candidate cfg if its engine is usable here (usable, make_plan),
 * with its engine's global index and workspace; else NULL. */
static bdesc candidate_plan(const sg_cuda *c, bdesc cfg, int64_t *engine_id, int64_t *ws)
{
    return usable(c, cfg, engine_id) ? make_plan(c, cfg, ws) : NULL;
}

/* What tells candidate configurations apart: the engine and its knob values
 * in the order cuDNN lists them. The fallback list may repeat one of mode
 * A's; a repeat is skipped, not checked and timed again. ok 0: not read in
 * full (then never a repeat). The engines file records the same knobs. */
enum { MAX_KNOBS = SG_ENGINES_MAX_KNOBS };
typedef struct {
    int ok, n_knobs;
    int64_t engine;
    int64_t knobs[MAX_KNOBS][2];                /* type, value */
} config_key;

static void read_config_key(bdesc cfg, config_key *k)
{
    memset(k, 0, sizeof *k);
    bdesc eng = NULL, choice[MAX_KNOBS] = { 0 };
    int64_t n = 0, got = 0;
    int made = 0;
    if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINE_DESCRIPTOR, &eng)) return;
    int ok = !cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n, &eng) &&
             !cudnnBackendGetAttribute(eng, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &n, &k->engine);
    destroy(&eng);
    for (; ok && made < MAX_KNOBS; made++)
        if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_KNOB_CHOICE_DESCRIPTOR, &choice[made])) ok = 0;
    ok = ok && !cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_KNOB_CHOICES, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                         MAX_KNOBS, &got, choice) &&
         got >= 0 && got <= MAX_KNOBS;
    for (int64_t i = 0; ok && i < got; i++) {
        cudnnBackendKnobType_t type;
        ok = !cudnnBackendGetAttribute(choice[i], CUDNN_ATTR_KNOB_CHOICE_KNOB_TYPE, CUDNN_TYPE_KNOB_TYPE, 1, &n,
                                       &type) &&
             !cudnnBackendGetAttribute(choice[i], CUDNN_ATTR_KNOB_CHOICE_KNOB_VALUE, CUDNN_TYPE_INT64, 1, &n,
                                       &k->knobs[i][1]);
        k->knobs[i][0] = (int64_t)type;
    }
    for (int i = 0; i < made; i++) destroy(&choice[i]);
    k->ok = ok;
    k->n_knobs = ok ? (int)got : 0;
}

static int same_config(const config_key *a, const config_key *b)
{
    return a->ok && b->ok && a->engine == b->engine && a->n_knobs == b->n_knobs &&
           !memcmp(a->knobs, b->knobs, (size_t)a->n_knobs * sizeof a->knobs[0]);
}

/* Whether candidate cfg is the configuration an engines file's choice
 * recorded (knobs_recorded): the same engine and knob values, in any order
 * (the file holds each type once). */
static int is_wished_config(const sg_engine_choice *wish, bdesc cfg)
{
    config_key k;
    read_config_key(cfg, &k);
    if (!k.ok || k.engine != wish->engine_id || k.n_knobs != wish->n_knobs) return 0;
    for (int i = 0; i < wish->n_knobs; i++) {
        int found = 0;
        for (int j = 0; j < k.n_knobs && !found; j++)
            found = k.knobs[j][0] == wish->knobs[i][0] && k.knobs[j][1] == wish->knobs[i][1];
        if (!found) return 0;
    }
    return 1;
}

/* The candidate an engines file's choice names, or -1. Knob values recorded:
 * the configuration at the recorded rank if it is the recorded one
 * (is_wished_config), else the first such in the list (cuDNN's heuristics
 * may list it elsewhere); the same engine with other knob values is not
 * taken, its results may differ in the last bits. Not recorded (an older
 * file): the recorded rank, whose engine the caller checks. */
static int wished_candidate(const sg_engine_choice *wish, bdesc *cand, int n)
{
    if (!wish->knobs_recorded) return wish->rank < n ? wish->rank : -1;
    if (wish->rank < n && is_wished_config(wish, cand[wish->rank])) return wish->rank;
    for (int i = 0; i < n; i++)
        if (i != wish->rank && is_wished_config(wish, cand[i])) return i;
    return -1;
}

/* e's knob values from its configuration, as the engines file records them:
 * known only when read in full with each type once, within the file's range. */
static void engine_set_knobs(sg_conv_engine *e, bdesc cfg)
{
    config_key k;
    read_config_key(cfg, &k);
    e->knobs_known = k.ok && sg_engine_knobs_recordable(k.knobs, k.n_knobs);
    e->n_knobs = 0;
    memset(e->knobs, 0, sizeof e->knobs);
    if (!e->knobs_known) return;
    e->n_knobs = k.n_knobs;
    memcpy(e->knobs, k.knobs, (size_t)k.n_knobs * sizeof k.knobs[0]);
}

static cudnnStatus_t make_pack(sg_cuda *c, bdesc *pack, void *x, void *w, void *y)
{
    cudnnStatus_t st = cudnnBackendCreateDescriptor(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, pack);
    if (st) return st;
    int64_t uids[3] = { UID_X, UID_W, UID_Y };
    void *ptrs[3] = { x, w, y };
    void *ws = c->workspace;
    if ((st = cudnnBackendSetAttribute(*pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, uids)) ||
        (st = cudnnBackendSetAttribute(*pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, ptrs)) ||
        (st = cudnnBackendSetAttribute(*pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws)) ||
        (st = cudnnBackendFinalize(*pack)))
        destroy(pack);
    return st;
}

/* One run of a timing candidate: plan with its pack, or the legacy call. */
static cudnnStatus_t run_candidate(sg_cuda *c, sg_conv_plan *p, int kind, bdesc plan, bdesc pack, void *x,
                                   void *w, void *y)
{
    return plan ? cudnnBackendExecute(c->cudnn, plan, pack) : sg_conv_legacy_run(c, p, kind, x, w, y);
}

/* Runs plan (e's, for the active handle) with a cached pack (the workspace
 * is part of the key: it moves when it grows; packs hold no handle). */
static cudnnStatus_t execute_cached(sg_cuda *c, sg_conv_engine *e, bdesc plan, void *x, void *w, void *y)
{
    for (int i = 0; i < e->n_packs; i++)
        if (e->packs[i].x == x && e->packs[i].w == w && e->packs[i].y == y && e->packs[i].ws == c->workspace)
            return cudnnBackendExecute(c->cudnn, plan, e->packs[i].pack);
    int slot = e->n_packs < SG_CONV_PACKS ? e->n_packs++ : e->next_pack++ % SG_CONV_PACKS;
    destroy(&e->packs[slot].pack);
    cudnnStatus_t st = make_pack(c, &e->packs[slot].pack, x, w, y);
    if (st != CUDNN_STATUS_SUCCESS) {
        e->packs[slot].x = e->packs[slot].w = e->packs[slot].y = e->packs[slot].ws = NULL;
        return st;
    }
    e->packs[slot].x = x; e->packs[slot].w = w; e->packs[slot].y = y; e->packs[slot].ws = c->workspace;
    return cudnnBackendExecute(c->cudnn, plan, e->packs[slot].pack);
}

static int aligned16(const void *a, const void *b, const void *d)
{
    return (((uintptr_t)a | (uintptr_t)b | (uintptr_t)d) & 15) == 0;
}

/* Mean ms of one candidate (plan with its pack, or the legacy call when
 * plan is NULL) on the call's inputs; a negative value when it fails to
 * run. Unless warm (it just ran: the check, or the legacy reference), one
 * untimed run first: a kernel's first launch loads its module (CUDA's lazy
 * loading), which would count against every engine not run before. The
 * pack is the one the check used, so the timed runs measure what a cached
 * pack costs. A candidate whose first timed run is over 4x the best so far
 * is not run again. */
static float time_candidate(sg_cuda *c, sg_conv_plan *p, int kind, bdesc plan, bdesc pack, int warm, void *x,
                            void *w, void *y, cudaEvent_t e0, cudaEvent_t e1, float best)
{
    float ms = -1.f;
    if (!warm && run_candidate(c, p, kind, plan, pack, x, w, y) != CUDNN_STATUS_SUCCESS) goto failed;
    for (int round = 0; round < 2; round++) {
        int runs = round == 0 ? 1 : TIMED_RUNS;
        if (cudaEventRecord(e0, c->stream) != cudaSuccess) { cudaGetLastError(); return -1.f; }
        for (int r = 0; r < runs; r++)
            if (run_candidate(c, p, kind, plan, pack, x, w, y) != CUDNN_STATUS_SUCCESS) goto failed;
        if (cudaEventRecord(e1, c->stream) != cudaSuccess || cudaEventSynchronize(e1) != cudaSuccess ||
            cudaEventElapsedTime(&ms, e0, e1) != cudaSuccess) {
            cudaGetLastError();
            return -1.f;
        }
        ms /= runs;
        if (round == 0 && best > 0 && ms > 4 * best) return ms;
    }
    return ms;
failed:
    cudaStreamSynchronize(c->stream);
    cudaGetLastError();
    return -1.f;
}

/* ---- checking a candidate's result against the legacy call ------------------ */

enum { CHECK_BLOCKS = 64, CHECK_THREADS = 256 };
/* An engine within 1e-2 of the legacy result (relative, over the whole
 * output) computes the same convolution: TF32 engines differ by ~1e-3 from
 * each other, and an engine that drops beta (backward-filter's dw +=) or
 * reads the wrong layout is off by 30-100%. In fp32 mode 1e-4: float sums
 * in another order differ by ~1e-6 (3e-5 at worst over the 262k terms of
 * a 128 px weight gradient), while TF32 rounding of the operands is ~4e-4
 * rms, so an engine that uses tensor cores without the TENSOR_CORE note
 * is refused too. */
#define CHECK_TOL 1e-2
#define CHECK_TOL_FP32 1e-4

/* partial[2b], partial[2b+1]: the sums of (a - f*ref)^2 and (f*ref)^2 over
 * block b's grid-stride slice, in a fixed order */
__global__ void check_sums_kernel(double *__restrict__ partial, const float *__restrict__ a,
                                  const float *__restrict__ ref, float f, size_t n)
{
    __shared__ double sd[CHECK_THREADS], sq[CHECK_THREADS];
    double d = 0, q = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        double r = (double)f * ref[i], e = (double)a[i] - r;
        d += e * e;
        q += r * r;
    }
    sd[threadIdx.x] = d;
    sq[threadIdx.x] = q;
    __syncthreads();
    for (int k = CHECK_THREADS / 2; k > 0; k >>= 1) {
        if ((int)threadIdx.x < k) {
            sd[threadIdx.x] += sd[threadIdx.x + k];
            sq[threadIdx.x] += sq[threadIdx.x + k];
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        partial[2 * blockIdx.x] = sd[0];
        partial[2 * blockIdx.x + 1] = sq[0];
    }
}

/* What a search needs beside the call's buffers: a scratch output the
 * candidates write (the call's own output stays untouched), the legacy
 * call's result, the check's partial sums, two timing events. */
typedef struct {
    void *scratch, *ref;
    double *partial;
    cudaEvent_t e0, e1;
} search_buffers;

static void search_end(sg_cuda *c, search_buffers *b)
{
    cudaStreamSynchronize(c->stream);
    cudaFree(b->scratch);
    cudaFree(b->ref);
    cudaFree(b->partial);
    if (b->e0) cudaEventDestroy(b->e0);
    if (b->e1) cudaEventDestroy(b->e1);
    memset(b, 0, sizeof *b);
}

/* 0, or -1: no search (the legacy call runs this kind). Too little device
 * memory for the search's buffers is not an error of the run. */
static int search_begin(sg_cuda *c, search_buffers *b, size_t out_floats)
{
    memset(b, 0, sizeof *b);
    /* both lanes idle: the timings measure each candidate alone, not beside
     * the other lane's work (a queued G forward) */
    if (sg_cuda_sync_lanes(c)) return -1;
    if (cudaMalloc(&b->scratch, out_floats * sizeof(float)) != cudaSuccess ||
        cudaMalloc(&b->ref, out_floats * sizeof(float)) != cudaSuccess ||
        cudaMalloc((void **)&b->partial, 2 * CHECK_BLOCKS * sizeof(double)) != cudaSuccess) {
        cudaGetLastError();                     /* an allocation failure is not sticky */
        search_end(c, b);
        c->engine_searches_skipped++;
        return -1;
    }
    if (CU_CHECK(c, cudaMemsetAsync(b->scratch, 0, out_floats * sizeof(float), c->stream)) ||
        CU_CHECK(c, cudaEventCreate(&b->e0)) || CU_CHECK(c, cudaEventCreate(&b->e1))) {
        search_end(c, b);
        return -1;
    }
    return 0;
}

/* 1 if plan, run once with pack and the output starting as the legacy
 * result R, gives R again (forward, backward-data: overwritten) or 2R
 * (backward-filter adds: a plan that ignores beta gives R), within
 * CHECK_TOL (CHECK_TOL_FP32 in fp32 mode); 0 if it differs; -1 if it fails
 * to run, *run_status then cuDNN's status (CUDNN_STATUS_EXECUTION_FAILED
 * when the failure came from CUDA). pack: the call's x, w and the kind's
 * output pointing at b->scratch. */
static int check_candidate(sg_cuda *c, search_buffers *b, int kind, bdesc plan, bdesc pack, size_t n,
                           cudnnStatus_t *run_status)
{
    double h[2 * CHECK_BLOCKS];
    *run_status = CUDNN_STATUS_EXECUTION_FAILED;
    int ok = cudaMemcpyAsync(b->scratch, b->ref, n * sizeof(float), cudaMemcpyDeviceToDevice, c->stream) ==
                 cudaSuccess &&
             (*run_status = cudnnBackendExecute(c->cudnn, plan, pack)) == CUDNN_STATUS_SUCCESS;
    if (ok) {
        check_sums_kernel<<<CHECK_BLOCKS, CHECK_THREADS, 0, c->stream>>>(
            b->partial, (const float *)b->scratch, (const float *)b->ref, kind == SG_CONV_BWD_FILTER ? 2.f : 1.f, n);
        ok = cudaGetLastError() == cudaSuccess &&
             cudaMemcpyAsync(h, b->partial, sizeof h, cudaMemcpyDeviceToHost, c->stream) == cudaSuccess &&
             cudaStreamSynchronize(c->stream) == cudaSuccess;
    }
    if (!ok) {                                  /* a failure to run: not chosen, not fatal */
        if (*run_status == CUDNN_STATUS_SUCCESS) *run_status = CUDNN_STATUS_EXECUTION_FAILED;
        cudaStreamSynchronize(c->stream);
        cudaGetLastError();
        return -1;
    }
    double d = 0, q = 0, tol = c->precision == SG_CUDA_FP32 ? CHECK_TOL_FP32 : CHECK_TOL;
    for (int i = 0; i < CHECK_BLOCKS; i++) { d += h[2 * i]; q += h[2 * i + 1]; }
    return q > 0 ? d <= tol * tol * q : d == 0;    /* NaN: not <= */
}

static const sg_engine_choice *find_wish(const sg_cuda *c, const sg_conv_plan *p, int kind)
{
    for (int i = 0; i < c->n_wishes; i++) {
        const sg_engine_choice *q = &c->wishes[i];
        if (q->kind == kind && q->N == p->N && q->Ci == p->Ci && q->H == p->H && q->W == p->W &&
            q->Co == p->Co && q->K == p->K && q->stride == p->stride && q->pad == p->pad)
            return q;
    }
    return NULL;
}

int sg_conv_engine_choose(sg_cuda *c, sg_conv_plan *p, int kind, void *x, void *w, void *y)
{
    sg_conv_engine *e = &p->eng[kind];
    sg_conv_engine_destroy(e);
    memset(e, 0, sizeof *e);
    e->engine_id = -1;
    e->rank = -1;
    e->source = SG_PICK_LEGACY;
    c->engine_choices++;
    const sg_engine_choice *wish = find_wish(c, p, kind);
    /* loaded choices apply whatever the search mode: a resumed run repeats
     * the interrupted one even if SG_CUDNN_SEARCH changed in between */
    if (!wish && c->search < SG_SEARCH_HEURISTIC) return 0;
    if (wish && wish->rank < 0 && !p->legacy_refused[kind]) {  /* the legacy call was chosen before */
        c->wishes_used++;
        e->source = SG_PICK_FILE;
        return 0;
    }
    if (wish && wish->rank < 0) {              /* ... under another cap: now nondeterministic, refused */
        c->wishes_rejected++;
        wish = NULL;
        if (c->search < SG_SEARCH_HEURISTIC) return 0;
    }
    /* the output the kind writes: timing writes a scratch copy instead */
    void **out = kind == SG_CONV_FWD ? &y : kind == SG_CONV_BWD_DATA ? &x : &w;
    cudnnStatus_t gst = build_graph(c, p, kind, e->keep);
    if (gst != CUDNN_STATUS_SUCCESS) {
        sg_conv_engine_destroy(e);
        e->candidates = -(int)gst;              /* for the report: why no engine was tried */
        if (wish) c->wishes_rejected++;
        return 0;                               /* no backend-API graph: the legacy call */
    }
    bdesc cand[MAX_CAND];
    int n = candidate_list(e->keep[5], cand);
    e->candidates = n;
    int chosen = -1;
    bdesc chosen_plan = NULL;
    int64_t chosen_ws = 0, chosen_id = -1;
    int timed = c->search == SG_SEARCH_TIMED && !wish;
    if (wish) {
        int64_t id = -1, ws = 0;
        int at = wished_candidate(wish, cand, n);
        bdesc plan = at >= 0 ? candidate_plan(c, cand[at], &id, &ws) : NULL;
        if (plan && id == wish->engine_id && !sg_cuda_grow_workspace(c, (size_t)ws)) {
            chosen = at; chosen_plan = plan; chosen_ws = ws; chosen_id = id;
            e->source = SG_PICK_FILE;
            c->wishes_used++;
        } else {
            destroy(&plan);
            c->wishes_rejected++;
            timed = c->search == SG_SEARCH_TIMED;
            if (c->failed || c->search < SG_SEARCH_HEURISTIC) goto done;
        }
    }
    if (chosen < 0) {
        /* Each candidate runs once on the call's inputs into a scratch output
         * and must give what the legacy call gives (check_candidate) before
         * it may be chosen; timed: then the fastest of those, the legacy
         * algorithm competing too; heuristic: the first. Unaligned inputs
         * cannot run a plan: the legacy call then. */
        size_t out_floats = kind == SG_CONV_FWD ? (size_t)p->N * p->Co * p->Ho * p->Wo
                          : kind == SG_CONV_BWD_DATA ? (size_t)p->N * p->Ci * p->H * p->W
                          : (size_t)p->Co * p->Ci * p->K * p->K;
        search_buffers b;
        if (search_begin(c, &b, out_floats)) goto done;
        *out = b.scratch;
        /* the reference: the legacy call from zeros (backward-filter adds) */
        int have_ref = run_candidate(c, p, kind, NULL, NULL, x, w, y) == CUDNN_STATUS_SUCCESS &&
                       cudaMemcpyAsync(b.ref, b.scratch, out_floats * sizeof(float), cudaMemcpyDeviceToDevice,
                                       c->stream) == cudaSuccess;
        if (!have_ref) { cudaStreamSynchronize(c->stream); cudaGetLastError(); }
        float best = 0;
        /* a refused (nondeterministic) legacy algorithm is the reference, no competitor */
        if (timed && !p->legacy_refused[kind]) {   /* the reference run was the legacy call's warm-up */
            best = time_candidate(c, p, kind, NULL, NULL, have_ref, x, w, y, b.e0, b.e1, 0.f);
            e->legacy_ms = best;
            if (best < 0) best = 0;             /* the legacy call failed: any engine wins */
        }
        config_key key[MAX_CAND];
        for (int i = 0; i < n && !c->failed && aligned16(x, w, y) && (timed || chosen < 0); i++) {
            read_config_key(cand[i], &key[i]);
            int repeat = 0;
            for (int j = 0; j < i && !repeat; j++) repeat = same_config(&key[j], &key[i]);
            if (repeat) { e->repeats++; continue; }
            int64_t id = -1, ws = 0;
            if (!usable(c, cand[i], &id)) { e->excluded++; continue; }
            bdesc plan = make_plan(c, cand[i], &ws);
            if (!plan) { e->no_plan++; continue; }
            /* the pack after growing: it holds the workspace pointer */
            if (sg_cuda_grow_workspace(c, (size_t)ws)) { destroy(&plan); break; }
            bdesc pack = NULL;
            if (make_pack(c, &pack, x, w, y) != CUDNN_STATUS_SUCCESS) { destroy(&plan); continue; }
            cudnnStatus_t run_status = CUDNN_STATUS_SUCCESS;
            int same = have_ref ? check_candidate(c, &b, kind, plan, pack, out_floats, &run_status) : 1;
            if (same <= 0) {
                if (same == 0) e->wrong++;
                else if (e->failed_runs++ == 0) e->failed_status = run_status;
                destroy(&pack);
                destroy(&plan);
                continue;
            }
            float ms = timed ? time_candidate(c, p, kind, plan, pack, have_ref, x, w, y, b.e0, b.e1, best) : 1.f;
            destroy(&pack);
            if (timed) e->timed++;
            if (ms > 0 && (best <= 0 || ms < best)) {
                destroy(&chosen_plan);
                best = ms; chosen = i; chosen_plan = plan; chosen_ws = ws; chosen_id = id;
            } else {
                destroy(&plan);
            }
        }
        e->ms = best;
        if (timed) e->source = SG_PICK_TIMED;
        else if (chosen >= 0) e->source = SG_PICK_HEURISTIC;
        search_end(c, &b);
    }
done:
    for (int i = 0; i < n; i++)
        if (i != chosen) destroy(&cand[i]);
    if (chosen < 0 || c->failed) {
        destroy(&chosen_plan);
        if (chosen >= 0) destroy(&cand[chosen]);
        sg_conv_engine_destroy(e);              /* the legacy call runs this kind; the report's fields stay */
        return c->failed ? -1 : 0;
    }
    e->keep[6] = cand[chosen];
    engine_set_knobs(e, e->keep[6]);
    e->plan = chosen_plan;
    e->plan_slot = sg_cuda_handle_slot(c);
    e->workspace = chosen_ws;
    e->engine_id = chosen_id;
    e->rank = chosen;
    return 0;
}

/* e's configuration made again with the active handle (the other lane's):
 * its operation graph and candidate list rebuilt there, and the candidate
 * with the same engine and knob values (or, if the knobs cannot be read, the
 * same rank and engine) made into a plan. 0, or -1 with the error recorded;
 * when no equal configuration can be made, e->other_shared is set and e's
 * own plan serves this handle too. */
static int remake_for_active_handle(sg_cuda *c, sg_conv_plan *p, int kind, sg_conv_engine *e)
{
    config_key want;
    read_config_key(e->keep[6], &want);
    bdesc cand[MAX_CAND];
    int n = 0, found = -1;
    int64_t ws = 0;
    if (build_graph(c, p, kind, e->other_keep) == CUDNN_STATUS_SUCCESS) n = candidate_list(e->other_keep[5], cand);
    for (int i = 0; i < n && found < 0; i++) {
        config_key k;
        read_config_key(cand[i], &k);
        if (want.ok ? !same_config(&want, &k) : i != e->rank) continue;
        int64_t id = -1;
        bdesc plan = candidate_plan(c, cand[i], &id, &ws);
        if (plan && id == e->engine_id) {
            found = i;
            e->other_plan = plan;
        } else {
            destroy(&plan);
        }
    }
    for (int i = 0; i < n; i++)
        if (i != found) destroy(&cand[i]);
    if (found < 0) {
        for (int i = 0; i < 7; i++) destroy(&e->other_keep[i]);
        e->other_shared = 1;
        c->plans_shared++;
        return 0;
    }
    e->other_keep[6] = cand[found];
    c->plans_remade++;
    if (ws > e->workspace) e->workspace = ws;   /* both lanes' workspaces are sized by it */
    return (size_t)ws > c->workspace_size ? sg_cuda_grow_workspace(c, (size_t)ws) : 0;
}

int sg_conv_engine_run(sg_cuda *c, sg_conv_plan *p, int kind, void *x, void *w, void *y)
{
    sg_conv_engine *e = &p->eng[kind];
    if (!e->plan) return 0;
    if (!aligned16(x, w, y) || ((uintptr_t)c->workspace & 15)) {
        c->engine_misaligned++;
        return 0;
    }
    bdesc plan = e->plan;
    if (sg_cuda_handle_slot(c) != e->plan_slot && !e->other_shared) {
        if (!e->other_plan) {
            /* made during the step's first, eager run: building graphs and
             * plans is kept out of recordings */
            if (c->capturing >= 0)
                return sg_cuda_break_capture(c, __FILE__, __LINE__, "a cuDNN plan for the other lane's handle");
            if (remake_for_active_handle(c, p, kind, e)) return -1;
        }
        if (e->other_plan) plan = e->other_plan;
    }
    if ((size_t)e->workspace > c->workspace_size)   /* never: grown when chosen or remade */
        return sg_cuda_fail(c, __FILE__, __LINE__, "cuDNN engine workspace %lld over %zu",
                            (long long)e->workspace, c->workspace_size);
    return DNN_CHECK(c, execute_cached(c, e, plan, x, w, y)) ? -1 : 1;
}

/* ---- the engines file (its format: lib/engines_file.c) ---------------------- */

static_assert((int)SG_ENGINE_FWD == (int)SG_CONV_FWD && (int)SG_ENGINE_BWD_DATA == (int)SG_CONV_BWD_DATA &&
              (int)SG_ENGINE_BWD_FILTER == (int)SG_CONV_BWD_FILTER, "engines file kinds");
static_assert(MAX_CAND - 1 <= SG_ENGINES_MAX_RANK, "engines file ranks");
static_assert(MAX_KNOBS <= SG_ENGINES_MAX_KNOBS, "engines file knobs");

/* The header that must match for a file's choices to apply: same GPU model,
 * cuDNN build, layout and precision. */
static void header(const sg_cuda *c, sg_engines_header *h)
{
    memset(h, 0, sizeof *h);
    sg_engines_header_set_device(h, c->device_name);
    h->cudnn = (long long)cudnnGetVersion();
    snprintf(h->layout, sizeof h->layout, "%s", c->nhwc ? "nhwc" : "nchw");
    snprintf(h->precision, sizeof h->precision, "%s", sg_cuda_precision_name(c->precision));
}

extern "C" int sg_backend_cuda_engines_save(sg_backend *be, const char *path, sg_err *err)
{
    sg_cuda *c = sg_cuda_of(be);
    sg_engines_header h;
    header(c, &h);
    sg_engine_choice *ch = (sg_engine_choice *)malloc(((size_t)c->n_plans * SG_CONV_KINDS + 1) * sizeof *ch);
    if (!ch) return sg_errf(err, "out of memory");
    int n = 0;
    for (int i = 0; i < c->n_plans; i++) {
        const sg_conv_plan *p = &c->plans[i];
        for (int k = 0; k < SG_CONV_KINDS; k++) {
            if (!p->have_algo[k]) continue;
            const sg_conv_engine *e = &p->eng[k];
            sg_engine_choice *q = &ch[n++];
            memset(q, 0, sizeof *q);            /* unused knob slots zero, as the file format wants */
            q->kind = k;
            q->N = p->N; q->Ci = p->Ci; q->H = p->H; q->W = p->W;
            q->Co = p->Co; q->K = p->K; q->stride = p->stride; q->pad = p->pad;
            q->rank = e->plan ? e->rank : -1;
            q->engine_id = e->plan ? e->engine_id : -1;
            if (e->plan && e->knobs_known) {
                q->knobs_recorded = 1;
                q->n_knobs = e->n_knobs;
                memcpy(q->knobs, e->knobs, sizeof q->knobs);
            }
        }
    }
    size_t len = 0;
    char *text = sg_engines_format(&h, ch, n, &len, err);
    free(ch);
    if (!text) return sg_err_prefix(err, "%s", path);
    int rc = sg_write_file_atomic(path, text, len, err);
    free(text);
    return rc;
}

extern "C" int sg_backend_cuda_engines_load(sg_backend *be, const char *path, char *note, size_t note_size,
                                            sg_err *err)
{
    sg_cuda *c = sg_cuda_of(be);
    if (note_size) note[0] = 0;
    uint8_t *data = NULL;
    size_t len = 0;
    if (sg_read_file(path, (size_t)16 << 20, &data, &len, err)) return -1;
    sg_engines_header got, want;
    sg_engine_choice *w = NULL;
    int n = 0;
    int rc = sg_engines_parse((const char *)data, len, path, &got, &w, &n, err);
    free(data);
    if (rc) return -1;
    header(c, &want);
    if (!sg_engines_header_equal(&got, &want)) {
        char a[320], b[320];
        snprintf(note, note_size, "made for %s, this is %s; choosing anew",
                 sg_engines_header_describe(&got, a, sizeof a), sg_engines_header_describe(&want, b, sizeof b));
        free(w);
        return 0;
    }
    free(c->wishes);
    c->wishes = w;
    c->n_wishes = n;
    c->wishes_used = c->wishes_rejected = 0;
    return 1;
}

extern "C" int sg_backend_cuda_engine_choices(sg_backend *be, int *used_from_file, int *rejected)
{
    sg_cuda *c = sg_cuda_of(be);
    if (used_from_file) *used_from_file = c->wishes_used;
    if (rejected) *rejected = c->wishes_rejected;
    return c->engine_choices;
}
