/* The G step's reuse of the D step's G forward (lib/model.c,
 * g_forward_from_tape): two models from the same seed, one with the reuse
 * (default) and one without (SG_G_TAPE_REUSE=0 at creation), driven through
 * the same calls, must stay bit-identical: every loss, every tensor of G and
 * D (running statistics and counters included), every gradient and both
 * nets' Adam state. A missed running-statistics update, a stale tape used
 * after set_batch / generate / set_tensor, or the image in the wrong place
 * all break that. The counter sg_model_g_tape_reuses says which G steps took
 * the reuse path, so each case also checks that the reuse happened where it
 * may and nowhere else.
 *
 * Backends: the CPU (1 and 3 threads) and the NHWC emulation of CUDA's
 * layout; on a GPU also CUDA with step graphs against CUDA run eagerly, with
 * G steps that alternate between reuse and recompute so that both G graphs
 * are recorded and replayed (not yet run on a GPU). */
#include "backend.h"
#include "check.h"
#include "model.h"
#include "model_testing.h"
#include "model_compare.h"
#include "nhwc_emulator.h"
#include "rng.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* model *a with the reuse, *b without, same weights; 0 or -1 (reported) */
static int make_pair(const sg_model_config *cfg, sg_backend *ba, sg_backend *bb, sg_model **a, sg_model **b)
{
    sg_err err;
    *a = *b = NULL;
    unsetenv("SG_G_TAPE_REUSE");
    int rc = sg_model_create(a, cfg, ba, 21, &err);
    if (!rc) {
        setenv("SG_G_TAPE_REUSE", "0", 1);
        rc = sg_model_create(b, cfg, bb, 21, &err);
        unsetenv("SG_G_TAPE_REUSE");
    }
    if (rc) {
        CHECK(0, "model create: %s", err.msg);
        sg_model_free(*a); sg_model_free(*b);
        *a = *b = NULL;
    }
    return rc;
}

static int set_batch(sg_model *m, const batch *b, sg_err *err)
{
    return sg_model_set_batch(m, b->ds, b->n, b->x, b->c_org, b->c_trg, b->alpha, err);
}

/* The reference schedule: every iteration a new batch (datasets in turn, a
 * partial batch every third iteration) and a D step, every n_critic-th a G
 * step on the same batch. Every G step may reuse. */
static void schedule_case(sg_backend *be, int n_datasets, int iters, int n_critic)
{
    sg_model_config cfg = tiny_config(n_datasets);
    sg_model *a, *b;
    if (make_pair(&cfg, be, be, &a, &b)) return;
    char what[160];
    sg_err err;
    int g_steps = 0, ok = 1;
    for (int it = 0; it < iters && ok; it++) {
        int ds = it % n_datasets, n = it % 3 == 2 ? cfg.batch - 1 : cfg.batch, g = (it + 1) % n_critic == 0;
        batch bt = make_batch(&cfg, ds, n, 100 + it);
        float lr = 1e-3f * (1 - 0.05f * it);
        sg_model *ms[2] = { a, b };
        for (int k = 0; k < 2 && ok; k++)
            ok = !set_batch(ms[k], &bt, &err) && !sg_model_d_step(ms[k], lr, &err) &&
                 (!g || !sg_model_g_step(ms[k], 0.7f * lr, &err));
        free_batch(&bt);
        if (!ok) { CHECK(0, "schedule: %s", err.msg); break; }
        g_steps += g;
        snprintf(what, sizeof what, "%s, %d dataset(s), n_critic %d, iteration %d", be->name, n_datasets,
                 n_critic, it);
        same_losses(a, b, what);
    }
    snprintf(what, sizeof what, "%s, %d dataset(s), n_critic %d, after %d iterations", be->name, n_datasets,
             n_critic, iters);
    int failed0 = check_failed;
    if (ok) same_state(a, b, what);
    CHECK(g_steps > 0 && sg_model_g_tape_reuses(a) == g_steps && sg_model_g_tape_reuses(b) == 0,
          "%s: G steps %d, reused %lld (with reuse) and %lld (SG_G_TAPE_REUSE=0)", what, g_steps,
          sg_model_g_tape_reuses(a), sg_model_g_tape_reuses(b));
    printf("  %s: %d G steps, %lld reused, %s\n", what, g_steps, sg_model_g_tape_reuses(a),
           check_failed == failed0 ? "bit-identical" : "FAILED");
    sg_model_free(a);
    sg_model_free(b);
}

/* Calls between a D step and a G step that must (or need not) make the G
 * step recompute; each G step is compared, and the state at the end. */
enum { BETWEEN_NONE, NO_D_STEP, BETWEEN_SET_BATCH, BETWEEN_GENERATE, BETWEEN_SET_G_TENSOR,
       BETWEEN_SET_G_RUNNING, BETWEEN_SET_ADAM, SECOND_G_STEP, TWO_D_STEPS, BETWEEN_SET_D_TENSOR, N_BETWEEN };
static const char *between_name[N_BETWEEN] = {
    "nothing between (reuse)", "G step without a D step", "set_batch (another batch) between",
    "generate between", "set_tensor of a G weight between", "set_tensor of a G running mean between",
    "set_adam between", "a second G step", "two D steps (reuse)", "set_tensor of D between" };

static int fallback_step(sg_model *m, const sg_model_config *cfg, int kind, int it, sg_err *err)
{
    batch b1 = make_batch(cfg, it % cfg->n_datasets, cfg->batch, 500 + it);
    batch b2 = make_batch(cfg, (it + 1) % cfg->n_datasets, cfg->batch - 1, 900 + it);
    int rc = set_batch(m, &b1, err);
    if (!rc && kind != NO_D_STEP) rc = sg_model_d_step(m, 1e-3f, err);
    if (!rc && kind == TWO_D_STEPS) rc = sg_model_d_step(m, 1e-3f, err);
    if (!rc && kind == BETWEEN_SET_BATCH) rc = set_batch(m, &b2, err);
    if (!rc && kind == BETWEEN_GENERATE) {
        float *y = malloc((size_t)b2.n * 3 * cfg->image_size * cfg->image_size * sizeof(float));
        rc = sg_model_generate(m, b2.n, b2.x, b2.c_trg, y, err);
        free(y);
    }
    if (!rc && (kind == BETWEEN_SET_G_TENSOR || kind == BETWEEN_SET_G_RUNNING || kind == BETWEEN_SET_D_TENSOR)) {
        /* G: the first conv's weight, or the first IN's running mean; D: its first weight */
        sg_net net = kind == BETWEEN_SET_D_TENSOR ? SG_NET_D : SG_NET_G;
        const sg_tensor_info *ti;
        int nt = sg_model_tensors(m, net, &ti), t = 0;
        if (kind == BETWEEN_SET_G_RUNNING)
            while (t < nt && !strstr(ti[t].name, "running_mean")) t++;
        float *w = malloc(ti[t].numel * sizeof(float));
        rc = sg_model_get_tensor(m, net, t, w, err);
        for (size_t i = 0; i < ti[t].numel; i++) w[i] = w[i] * 0.75f + 0.01f;
        if (!rc) rc = sg_model_set_tensor(m, net, t, w, err);
        free(w);
    }
    if (!rc && kind == BETWEEN_SET_ADAM) {
        size_t n = sg_model_trainable_count(m, SG_NET_G);
        float *m1 = malloc(n * 4), *v1 = malloc(n * 4);
        int64_t s;
        rc = sg_model_get_adam(m, SG_NET_G, m1, v1, &s, err);
        if (!rc) rc = sg_model_set_adam(m, SG_NET_G, m1, v1, s, err);
        free(m1); free(v1);
    }
    if (!rc) rc = sg_model_g_step(m, 2e-3f, err);
    if (!rc && kind == SECOND_G_STEP) rc = sg_model_g_step(m, 2e-3f, err);
    free_batch(&b1);
    free_batch(&b2);
    return rc;
}

static void fallback_case(sg_backend *be, int n_datasets)
{
    sg_model_config cfg = tiny_config(n_datasets);
    sg_model *a, *b;
    if (make_pair(&cfg, be, be, &a, &b)) return;
    char what[200];
    sg_err err;
    for (int kind = 0; kind < N_BETWEEN; kind++) {
        long long r0 = sg_model_g_tape_reuses(a);
        int failed0 = check_failed;
        snprintf(what, sizeof what, "%s, %d dataset(s): %s", be->name, n_datasets, between_name[kind]);
        if (fallback_step(a, &cfg, kind, kind, &err) || fallback_step(b, &cfg, kind, kind, &err)) {
            CHECK(0, "%s: %s", what, err.msg);
            break;
        }
        /* the reuse is taken after a D step with only D changed since */
        long long want = kind == BETWEEN_NONE || kind == TWO_D_STEPS || kind == SECOND_G_STEP ||
                         kind == BETWEEN_SET_D_TENSOR ? 1 : 0;
        long long got = sg_model_g_tape_reuses(a) - r0;
        CHECK(got == want, "%s: %lld G step(s) reused the tape, want %lld", what, got, want);
        same_losses(a, b, what);
        same_state(a, b, what);
        printf("  %s: reused %lld, %s\n", what, got, check_failed == failed0 ? "bit-identical" : "FAILED");
    }
    CHECK(sg_model_g_tape_reuses(b) == 0, "SG_G_TAPE_REUSE=0: %lld G steps reused", sg_model_g_tape_reuses(b));
    sg_model_free(a);
    sg_model_free(b);
}

/* CUDA: a (reuse) on a backend with step graphs, b (no reuse) on one run
 * eagerly, cuDNN's first usable engine on both (as test_cuda_ops's graph
 * test). G steps alternate between the reuse and, after a generate between
 * the D and G step, the recompute, each often enough to be run eagerly,
 * recorded and replayed: a replay of one body where the other belongs
 * breaks the bit-equality. */
static void cuda_graph_case(void)
{
    sg_err err;
    sg_backend *ga, *gb;
    if (cuda_graph_pair(&ga, &gb, "CUDA step graphs with and without the reuse")) return;
    sg_model_config cfg = cuda_case_config();
    sg_model *a, *b;
    if (!make_pair(&cfg, ga, gb, &a, &b)) {
        int ok = 1, g_steps = 0, reuses = 0;
        for (int it = 0; it < 16 && ok; it++) {
            batch bt = make_batch(&cfg, 0, cfg.batch, 300 + it), bg = make_batch(&cfg, 0, cfg.batch, 700 + it);
            int g = it % 2, gen = it % 4 == 3;
            float *y = malloc((size_t)cfg.batch * 3 * 32 * 32 * sizeof(float));
            sg_model *ms[2] = { a, b };
            for (int k = 0; k < 2 && ok; k++)
                ok = !set_batch(ms[k], &bt, &err) && !sg_model_d_step(ms[k], 1e-4f, &err) &&
                     (!gen || !sg_model_generate(ms[k], cfg.batch, bg.x, bg.c_trg, y, &err)) &&
                     (!g || !sg_model_g_step(ms[k], 1e-4f * (1 - it / 20.f), &err));
            free(y);
            free_batch(&bt);
            free_batch(&bg);
            if (!ok) { CHECK(0, "CUDA graphs: %s", err.msg); break; }
            g_steps += g;
            reuses += g && !gen;
            char what[80];
            snprintf(what, sizeof what, "CUDA, graphs + reuse vs eager without, iteration %d", it);
            same_losses(a, b, what);
        }
        if (ok) same_state(a, b, "CUDA, graphs + reuse vs eager without, after 16 iterations");
        CHECK(sg_model_g_tape_reuses(a) == reuses, "CUDA: %lld G steps reused, want %d of %d",
              sg_model_g_tape_reuses(a), reuses, g_steps);
        char note[800];
        sg_backend_cuda_graph_note(ga, note, sizeof note);
        printf("  CUDA step graphs: %s\n", note);
    }
    sg_model_free(a);
    sg_model_free(b);
    sg_backend_destroy(ga);
    sg_backend_destroy(gb);
}

/* Two models trained in turn on one CUDA backend with step graphs (the
 * backend's graph slots are shared, the keys each model's own): each must
 * replay only graphs it recorded, so each stays bit-identical to its twin
 * trained alone and eagerly on another backend. Replaying the other's graph
 * would step the other model twice and leave this one as it was. */
static void cuda_two_models_case(void)
{
    sg_err err;
    sg_backend *ga, *gb;
    if (cuda_graph_pair(&ga, &gb, "CUDA step graphs of two models on one backend")) return;
    sg_model_config cfg = cuda_case_config();
    sg_model *a[2] = { NULL, NULL }, *b[2] = { NULL, NULL };
    int ok = 1;
    for (int k = 0; k < 2 && ok; k++)
        ok = !sg_model_create(&a[k], &cfg, ga, 31 + k, &err) && !sg_model_create(&b[k], &cfg, gb, 31 + k, &err);
    if (!ok) CHECK(0, "two models: create: %s", err.msg);
    for (int it = 0; it < 8 && ok; it++) {
        int g = it % 2;
        for (int k = 0; k < 2 && ok; k++) {
            batch bt = make_batch(&cfg, 0, cfg.batch, 900 + 10 * it + k);
            sg_model *ms[2] = { a[k], b[k] };
            for (int j = 0; j < 2 && ok; j++)
                ok = !set_batch(ms[j], &bt, &err) && !sg_model_d_step(ms[j], 1e-4f, &err) &&
                     (!g || !sg_model_g_step(ms[j], 1e-4f, &err));
            free_batch(&bt);
            if (!ok) { CHECK(0, "two models: %s", err.msg); break; }
            char what[96];
            snprintf(what, sizeof what, "CUDA, model %d of two on one backend with graphs vs alone eagerly, iteration %d",
                     k, it);
            same_losses(a[k], b[k], what);
        }
    }
    for (int k = 0; k < 2 && ok; k++)
        same_state(a[k], b[k], k ? "CUDA, the second of two models on one backend, after 8 iterations"
                                 : "CUDA, the first of two models on one backend, after 8 iterations");
    char note[800];
    sg_backend_cuda_graph_note(ga, note, sizeof note);
    printf("  CUDA step graphs of two models on one backend: %s\n", note);
    for (int k = 0; k < 2; k++) { sg_model_free(a[k]); sg_model_free(b[k]); }
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
        schedule_case(be, 1, 10, 2);
        schedule_case(be, 2, 12, 3);
        if (v != 1) schedule_case(be, 2, 10, 5);
        fallback_case(be, 2);
        sg_backend_destroy(be);
    }
    cuda_graph_case();
    cuda_two_models_case();
    return check_done();
}
