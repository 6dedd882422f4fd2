/* The queued batch (lib/model.h sg_model_queue_batch_drawn): a model driven
 * the way sg-train drives it with the overlap on (the next batch queued
 * before each D step that no G step follows, its G forward run by that D
 * step, then next_batch) must stay bit-identical to one driven with
 * set_batch_drawn per iteration: every loss, every tensor of G and D
 * (running statistics included), every gradient, Adam's state. A forward
 * run with the wrong batch, labels or weights, a running-statistics update
 * out of order, fakes used stale, or the G step's tape reuse taken where the
 * tape holds another batch all break that.
 *
 * The queued model is created with SG_OVERLAP_G=1 and makes its D and G
 * steps of one batch in one call (sg_model_d_g_steps), so the G step's
 * reconstruction runs during the D step (on the second lane where there is
 * one), and a G step after something between its D step and it runs D's
 * part on the second lane beside the reconstruction (lib/model.c).
 *
 * Also: what is refused between a D step that ran the queued batch's forward
 * and next_batch, and that a refusal changes nothing.
 *
 * Backends: the CPU (1 and 3 threads) and the NHWC emulation of CUDA's
 * layout, where the queued forward runs in order; then CUDA with step graphs
 * and its second lane against CUDA run eagerly without the queue (on the
 * CPU emulation of CUDA, whose graph replay can interleave the two lanes'
 * branches op by op: a buffer the lanes share would show). */
#include "backend.h"
#include "model_compare.h"
#include "nhwc_emulator.h"
#include "model_testing.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEED 77

static int batch_size(const sg_model_config *cfg, int it) { return it % 5 == 3 ? cfg->batch - 1 : cfg->batch; }

static int set_drawn(sg_model *m, const sg_model_config *cfg, int it, sg_err *err)
{
    batch b = make_batch(cfg, it % cfg->n_datasets, batch_size(cfg, it), 400 + it);
    int rc = sg_model_set_batch_drawn(m, b.ds, b.n, b.x, b.c_org, SEED, it, it % 2, err);
    free_batch(&b);
    return rc;
}

static int queue_drawn(sg_model *m, const sg_model_config *cfg, int it, sg_err *err)
{
    batch b = make_batch(cfg, it % cfg->n_datasets, batch_size(cfg, it), 400 + it);
    int rc = sg_model_queue_batch_drawn(m, b.ds, b.n, b.x, b.c_org, SEED, it, it % 2, err);
    free_batch(&b);
    return rc;
}

static int generate_some(sg_model *m, const sg_model_config *cfg, sg_err *err)
{
    batch b = make_batch(cfg, 0, cfg->batch, 999);
    float *y = malloc((size_t)b.n * 3 * cfg->image_size * cfg->image_size * sizeof(float));
    int rc = sg_model_generate(m, b.n, b.x, b.c_trg, y, err);
    free(y);
    free_batch(&b);
    return rc;
}

/* Iteration it of the reference schedule on the plain model. */
static int plain_iteration(sg_model *m, const sg_model_config *cfg, int it, int g, int gen, float lr,
                           sg_err *err)
{
    return set_drawn(m, cfg, it, err) || sg_model_d_step(m, lr, err) ||
           (gen && generate_some(m, cfg, err)) || (g && sg_model_g_step(m, 0.7f * lr, err)) ? -1 : 0;
}

/* The same on the queued model, as sg-train queues: *current says whether
 * batch it is already current (made so by next_batch). */
static int queued_iteration(sg_model *m, const sg_model_config *cfg, int it, int iters, int g, int gen,
                            float lr, int *current, sg_err *err)
{
    int queue = it + 1 < iters && !g;
    if (!*current && set_drawn(m, cfg, it, err)) return -1;
    if (queue && queue_drawn(m, cfg, it + 1, err)) return -1;
    /* a D step and the G step on its batch in one call, as sg-train makes
     * them (the reconstruction then runs during the D step), unless
     * something comes between them */
    if (g && !gen) {
        if (sg_model_d_g_steps(m, lr, 0.7f * lr, err)) return -1;
    } else if (sg_model_d_step(m, lr, err) || (gen && generate_some(m, cfg, err)) ||
               (g && sg_model_g_step(m, 0.7f * lr, err))) {
        return -1;
    }
    if (queue && sg_model_next_batch(m, err)) return -1;
    *current = queue;
    return 0;
}

/* a queued, b plain, from the same weights; generate between the D and the
 * G step every gen_every-th G step (0: never). */
static void schedule_case(sg_backend *ba, sg_backend *bb, const sg_model_config *cfg, const char *name,
                          int iters, int n_critic, int gen_every)
{
    sg_model *a = NULL, *b = NULL;
    sg_err err;
    setenv("SG_OVERLAP_G", "1", 1);         /* a's G step: D's part and G's weight gradients on the second lane
                                             * (the latter unless SG_OVERLAP_G_WGRAD=0: cuda_wgrad_case) */
    int rc = sg_model_create(&a, cfg, ba, 21, &err);
    setenv("SG_OVERLAP_G", "0", 1);         /* b on one lane (on CUDA the default would be the lane) */
    if (!rc) rc = sg_model_create(&b, cfg, bb, 21, &err);
    unsetenv("SG_OVERLAP_G");
    if (rc) {
        CHECK(0, "%s: model create: %s", name, err.msg);
        sg_model_free(a);
        return;
    }
    char what[200];
    int ok = 1, current = 0, want_prefetch = 0, want_ahead = 0, failed0 = check_failed;
    for (int it = 0; it < iters && ok; it++) {
        int g = (it + 1) % n_critic == 0, gen = g && gen_every && ((it + 1) / n_critic) % gen_every == 0;
        /* the emulation's interleaved replays: the branches meet at another
         * offset every iteration (SG_EMU_GRAPH_STAGGER; a GPU ignores it) */
        char stagger[16];
        snprintf(stagger, sizeof stagger, "%d", it * 7 % 60);
        setenv("SG_EMU_GRAPH_STAGGER", stagger, 1);
        float lr = 1e-3f * (1 - 0.03f * it);
        ok = !queued_iteration(a, cfg, it, iters, g, gen, lr, &current, &err) &&
             !plain_iteration(b, cfg, it, g, gen, lr, &err);
        if (!ok) { CHECK(0, "%s, iteration %d: %s", name, it, err.msg); break; }
        want_prefetch += it + 1 < iters && !g && batch_size(cfg, it + 1) == batch_size(cfg, it);
        want_ahead += g && !gen;
        snprintf(what, sizeof what, "%s, n_critic %d, iteration %d", name, n_critic, it);
        same_losses(a, b, what);
    }
    unsetenv("SG_EMU_GRAPH_STAGGER");
    snprintf(what, sizeof what, "%s, n_critic %d, after %d iterations", name, n_critic, iters);
    if (ok) same_state(a, b, what);
    CHECK(sg_model_prefetches(a) == want_prefetch && (want_prefetch > 0 || n_critic == 1) &&
          sg_model_prefetches(b) == 0,
          "%s: %lld D steps ran the queued forward, want %d", what, sg_model_prefetches(a), want_prefetch);
    CHECK(sg_model_recs_ahead(a) == want_ahead && want_ahead > 0 && sg_model_recs_ahead(b) == 0,
          "%s: %lld G steps' reconstructions ran during the D step, want %d", what, sg_model_recs_ahead(a),
          want_ahead);
    CHECK(sg_model_g_tape_reuses(a) == sg_model_g_tape_reuses(b) && sg_model_g_tape_reuses(a) > 0,
          "%s: G steps that reused the tape: %lld queued, %lld plain", what, sg_model_g_tape_reuses(a),
          sg_model_g_tape_reuses(b));
    printf("  %s: %lld queued forwards, %lld reconstructions ahead, %lld tape reuses, %s\n", what,
           sg_model_prefetches(a), sg_model_recs_ahead(a), sg_model_g_tape_reuses(a),
           check_failed == failed0 ? "bit-identical" : "FAILED");
    sg_model_free(a);
    sg_model_free(b);
}

/* Between a D step that ran the queued forward and next_batch, each of these
 * is refused, and the run then goes on bit-identical to the plain one. */
static void refusal_case(sg_backend *be)
{
    sg_model_config cfg = tiny_config(1);
    sg_model *a = NULL, *b = NULL;
    sg_err err;
    if (sg_model_create(&a, &cfg, be, 21, &err) || sg_model_create(&b, &cfg, be, 21, &err)) {
        CHECK(0, "refusals: model create: %s", err.msg);
        sg_model_free(a);
        return;
    }
    int ok = !set_drawn(a, &cfg, 0, &err) && !queue_drawn(a, &cfg, 1, &err) && !sg_model_d_step(a, 1e-3f, &err);
    CHECK(ok, "refusals: first D step: %s", ok ? "" : err.msg);
    if (ok) {
        const sg_tensor_info *ti;
        int nt = sg_model_tensors(a, SG_NET_G, &ti), w = 0, rm = 0;
        while (rm < nt && !strstr(ti[rm].name, "running_mean")) rm++;
        float *buf = malloc((ti[w].numel > ti[rm].numel ? ti[w].numel : ti[rm].numel) * sizeof(float));
        size_t n = sg_model_trainable_count(a, SG_NET_G);
        float *m1 = calloc(n, 4), *v1 = calloc(n, 4);
        const char *names[8] = { "g_step", "d_step", "set_batch", "queue_batch", "set_tensor of G",
                                 "get_tensor of a running mean", "set_adam of G", "get_tensor of a G weight" };
        int refused[8];
        refused[0] = sg_model_g_step(a, 1e-3f, &err) != 0;
        CHECK(strstr(err.msg, "already run") != NULL, "refusals: the message says why: %s", err.msg);
        refused[1] = sg_model_d_step(a, 1e-3f, &err) != 0;
        refused[2] = set_drawn(a, &cfg, 5, &err) != 0;
        refused[3] = queue_drawn(a, &cfg, 6, &err) != 0;
        refused[4] = sg_model_set_tensor(a, SG_NET_G, w, buf, &err) != 0;
        refused[5] = sg_model_get_tensor(a, SG_NET_G, rm, buf, &err) != 0;
        refused[6] = sg_model_set_adam(a, SG_NET_G, m1, v1, 0, &err) != 0;
        refused[7] = sg_model_get_tensor(a, SG_NET_G, w, buf, &err) != 0;   /* weights are unchanged: allowed */
        for (int k = 0; k < 8; k++)
            CHECK(refused[k] == (k != 7), "refusals: %s %s", names[k], refused[k] ? "refused" : "allowed");
        /* after next_batch, until its D step: the same but d_step and queue */
        ok = !sg_model_next_batch(a, &err);
        CHECK(ok, "refusals: next_batch: %s", ok ? "" : err.msg);
        CHECK(sg_model_g_step(a, 1e-3f, &err) != 0, "refusals: g_step after next_batch, before its d_step");
        CHECK(set_drawn(a, &cfg, 5, &err) != 0, "refusals: set_batch after next_batch, before its d_step");
        CHECK(sg_model_get_tensor(a, SG_NET_G, rm, buf, &err) != 0,
              "refusals: reading a running mean after next_batch, before its d_step");
        free(buf); free(m1); free(v1);
        /* then on, as the plain model */
        ok = ok && !sg_model_d_step(a, 1e-3f, &err) && !sg_model_g_step(a, 0.7f * 1e-3f, &err) &&
             !plain_iteration(b, &cfg, 0, 0, 0, 1e-3f, &err) && !plain_iteration(b, &cfg, 1, 1, 0, 1e-3f, &err);
        CHECK(ok, "refusals: after them: %s", ok ? "" : err.msg);
        if (ok) {
            same_losses(a, b, "refusals: after them");
            same_state(a, b, "refusals: after them");
        }
    }
    CHECK(sg_model_next_batch(a, &err) != 0, "refusals: next_batch without a queued batch is refused");
    sg_model_free(a);
    sg_model_free(b);
}

/* CUDA: a on a backend with step graphs and its second lane, b run eagerly
 * without the queue; cuDNN's first usable engine on both. 24 iterations at
 * n_critic 4: each D step body (own forward + queued one, queued fakes +
 * queued one, queued fakes only) runs eagerly, is recorded and replayed.
 * handles: SG_CUDA_LANE_HANDLES, "2" (a cuDNN handle per lane, the default)
 * or "1" (one shared, its stream switched; one replay order is enough for
 * it on the emulation: the GPU is what can tell the two apart). eager: a
 * without step graphs too, so the lanes fork and join through events on
 * the streams themselves (the emulation runs eager work at once, in
 * order: only a GPU can show a missing wait there). no_priority: a driver
 * that refuses node priorities in graphs (emulated): the graphs are made
 * without them, give the same bits, and the graph note says so. */
/* The CPU emulation of CUDA (tests/emu) names its device so. */
static int emulated(sg_backend *be)
{
    return strstr(sg_backend_cuda_device_name(be), "emulated") != NULL;
}

static void cuda_case(const char *handles, int eager, int no_priority)
{
    sg_backend *ga, *gb;
    char what[160];
    snprintf(what, sizeof what, "CUDA %s and the queued forward on the second lane, %s cuDNN handle%s",
             eager ? "without step graphs" : no_priority ? "with step graphs without node priorities"
                                                         : "with step graphs",
             handles[0] == '1' ? "one" : "a", handles[0] == '1' ? " shared" : " per lane");
    setenv("SG_CUDA_LANE_HANDLES", handles, 1);
    if (eager) setenv("SG_CUDA_GRAPHS", "0", 1);
    int none = cuda_graph_pair(&ga, &gb, what);
    unsetenv("SG_CUDA_LANE_HANDLES");
    unsetenv("SG_CUDA_GRAPHS");
    if (none) return;
    if (no_priority && !emulated(ga)) {   /* a GPU's driver is what it is */
        sg_backend_destroy(ga);
        sg_backend_destroy(gb);
        return;
    }
    printf("%s\n", what);
    CHECK(ga->ops->lane != NULL, "CUDA: the backend has a second lane");
    sg_model_config cfg = cuda_case_config();
    /* The CPU emulation of CUDA replays a graph's two branches in recording
     * order, interleaved op by op from the first, and from the second
     * (SG_EMU_GRAPH_INTERLEAVE, read at each replay; a GPU ignores it): a
     * buffer both lanes use across ops gives different results in one of
     * them (tests/emu: a lane sharing the other's scratch fails here). */
    const char *orders[3] = { "forward", "0", "reverse" };
    if (no_priority) setenv("SG_EMU_REFUSE_NODE_PRIORITY", "1", 1);
    for (int k = 0; k < (handles[0] == '1' || eager || no_priority ? 1 : 3); k++) {
        char name[200];
        snprintf(name, sizeof name, "CUDA (%s handle%s), %s + second lane vs eager without (emulated replay order: %s)",
                 handles, handles[0] == '1' ? "" : "s",
                 eager ? "eager" : no_priority ? "graphs without node priorities" : "graphs", orders[k]);
        setenv("SG_EMU_GRAPH_INTERLEAVE", orders[k], 1);
        schedule_case(ga, gb, &cfg, name, 24, 4, 2);
    }
    unsetenv("SG_EMU_GRAPH_INTERLEAVE");
    unsetenv("SG_EMU_REFUSE_NODE_PRIORITY");
    /* Each handle runs plans made with it: with a handle per lane, lane 1
     * makes its own of each configuration lane 0 chose (the emulation, like
     * some cuDNN engines, refuses a plan from another handle). */
    static char report[1 << 16];
    sg_backend_cuda_plan_report(ga, report, sizeof report);
    const char *at = strstr(report, "other lane's cuDNN handle: ");
    int remade = -1, shared = -1;
    if (at) sscanf(at, "other lane's cuDNN handle: %d, run with a handle not their own: %d", &remade, &shared);
    printf("  cuDNN plans made again for lane 1's handle: %d; run with a handle not their own: %d\n", remade, shared);
    CHECK(shared == 0, "CUDA (%s): every plan runs with the handle it was made with (%d do not)", handles, shared);
    CHECK(handles[0] == '1' ? remade == 0 : remade > 0,
          "CUDA (%s): plans made again for lane 1's handle: %d (expected %s)", handles, remade,
          handles[0] == '1' ? "none: one handle" : "some: lane 1 runs engines lane 0 chose");
    char note[800];
    sg_backend_cuda_graph_note(ga, note, sizeof note);
    printf("  CUDA step graphs: %s\n", note);
    if (!eager)
        CHECK(strstr(note, "turned off") == NULL, "CUDA: step graphs stay on with the second lane: %s", note);
    /* a GPU's driver takes the flag: the note names any graph made without */
    if (!eager && (no_priority || !emulated(ga)))
        CHECK((strstr(note, "without node priorities") != NULL) == no_priority,
              "CUDA: the graph note %s graphs made without node priorities: %s",
              no_priority ? "counts" : "has no", note);
    sg_backend_destroy(ga);
    sg_backend_destroy(gb);
}

/* SG_OVERLAP_G_WGRAD: the G step's weight gradients on the second lane (1,
 * the default) or on lane 0 (0). First that the switch does what it says:
 * with op timing on, a D step and a G step of a model made with
 * SG_OVERLAP_G=1 run backward-filter convolutions on lane 1 (only G's
 * weight gradients can be there: D's part of a G step computes none) under
 * 1 and none under 0, and as many of them in all either way. Then 0 in the
 * lanes-and-graphs case of cuda_case: bit-identical to the plain eager run,
 * as 1 is there, so the two settings train alike. */
static int wgrad_counts(sg_backend *be, const sg_model_config *cfg, const char *wgrad, int *lane1, int *all)
{
    static char report[1 << 16];
    sg_model *m = NULL;
    sg_err err;
    setenv("SG_OVERLAP_G", "1", 1);
    setenv("SG_OVERLAP_G_WGRAD", wgrad, 1);
    int rc = sg_model_create(&m, cfg, be, 21, &err);
    unsetenv("SG_OVERLAP_G");
    unsetenv("SG_OVERLAP_G_WGRAD");
    rc = rc || sg_backend_cuda_op_times_start(be, &err) || set_drawn(m, cfg, 0, &err) ||
         sg_model_d_step(m, 1e-3f, &err) || sg_model_g_step(m, 1e-3f, &err) ||
         sg_backend_cuda_op_times_report(be, 1, NULL, report, sizeof report, &err) < 0;
    sg_backend_cuda_op_times_stop(be);
    sg_backend_cuda_op_times_reset(be);
    sg_model_free(m);
    if (rc) {
        CHECK(0, "SG_OVERLAP_G_WGRAD=%s: %s", wgrad, err.msg);
        return -1;
    }
    /* label lines: total, ms/it, share, calls, calls/it, rate, label */
    *lane1 = *all = 0;
    for (const char *p = report; (p = strstr(p, "conv2d_backward_filter ")) != NULL; p++) {
        const char *bol = p, *eol = strchr(p, '\n');
        while (bol > report && bol[-1] != '\n') bol--;
        double total, per_it, share;
        long long calls;
        if (sscanf(bol, "%lf %lf %lf%% %lld", &total, &per_it, &share, &calls) != 4) continue;   /* by op */
        *all += (int)calls;
        const char *l1 = strstr(p, "[lane 1]");
        if (l1 && (!eol || l1 < eol)) *lane1 += (int)calls;
    }
    return 0;
}

static void cuda_wgrad_case(void)
{
    sg_backend *ga, *gb;
    const char *what = "CUDA, SG_OVERLAP_G_WGRAD=0";
    if (cuda_graph_pair(&ga, &gb, what)) return;
    printf("%s\n", what);
    sg_model_config cfg = cuda_case_config();
    int lane1[2], all[2];
    if (!wgrad_counts(gb, &cfg, "1", &lane1[1], &all[1]) && !wgrad_counts(gb, &cfg, "0", &lane1[0], &all[0])) {
        printf("  backward-filter calls of a D and a G step on lane 1 (of all): %d (%d) with SG_OVERLAP_G_WGRAD=1, "
               "%d (%d) with 0\n", lane1[1], all[1], lane1[0], all[0]);
        CHECK(lane1[1] > 0 && lane1[0] == 0 && all[0] == all[1] && all[0] > lane1[1],
              "SG_OVERLAP_G_WGRAD: G's weight gradients on lane 1 with 1 (%d of %d calls), on lane 0 with 0 "
              "(%d of %d on lane 1)", lane1[1], all[1], lane1[0], all[0]);
    }
    setenv("SG_OVERLAP_G_WGRAD", "0", 1);            /* read when schedule_case makes its models */
    schedule_case(ga, gb, &cfg, "CUDA (2 handles), graphs + second lane, SG_OVERLAP_G_WGRAD=0, vs eager without",
                  24, 4, 2);
    unsetenv("SG_OVERLAP_G_WGRAD");
    sg_backend_destroy(ga);
    sg_backend_destroy(gb);
}

int main(void)
{
    sg_err err;
    for (int v = 0; v < MODEL_TEST_BACKENDS; v++) {
        const char *label;
        sg_backend *be = model_test_backend(v, &label, &err);
        if (!be) { CHECK(0, "backend: %s", err.msg); continue; }
        printf("backend %s\n", label);
        sg_model_config one = tiny_config(1), two = tiny_config(2);
        schedule_case(be, be, &one, label, 12, 3, 0);
        schedule_case(be, be, &two, label, 14, 5, 2);
        if (v == 0) schedule_case(be, be, &one, label, 9, 1, 0);   /* a G step every iteration: nothing queued */
        refusal_case(be);
        sg_backend_destroy(be);
    }
    cuda_case("2", 0, 0);
    cuda_case("1", 0, 0);
    cuda_case("2", 1, 0);
    cuda_case("2", 0, 1);
    cuda_wgrad_case();
    return check_done();
}
