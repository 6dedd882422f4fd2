/* The batch's random draws (lib/batch_draw.h, ops->draw_batch,
 * sg_model_set_batch_drawn) against the trainer's host code that drew them
 * before they moved to the backend (lib/trainer.c up to 0131609, kept here
 * as the reference): a run must draw the same alpha and targets as before,
 * so that runs started before the move resume bit for bit. Then what the
 * draws must be (a permutation of the batch's rows; alpha in [0, 1); random
 * targets with one class or 0/1 labels in the batch's slot and the mask),
 * and the model fed by set_batch_drawn against the same batch given
 * explicitly: equal losses after a D and a G step. */
#include "backend.h"
#include "check.h"
#include "model.h"
#include "model_testing.h"
#include "rng.h"
#include "targets.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The former lib/trainer.c load_batch, after c_org: alpha and c_trg. */
static void reference_draw(const sg_model_config *cfg, int ds, int B, uint64_t seed, int64_t i,
                           int target_random, const float *c_org, float *c_trg, float *alpha)
{
    int C = sg_model_c_dim(cfg);
    for (int k = 0; k < B; k++)
        alpha[k] = sg_randu(seed, SG_STREAM_ALPHA, ((uint64_t)i << 20) | (uint64_t)k);
    int off = sg_model_label_offset(cfg, ds), L = cfg->label_dim[ds];
    if (!target_random) {
        int *tperm = malloc(sizeof(int) * (size_t)B);
        for (int k = 0; k < B; k++) tperm[k] = k;
        for (int j = B - 1; j > 0; j--) {
            int r = (int)sg_randint(seed, SG_STREAM_TARGET, ((uint64_t)i << 20) | (uint64_t)j, (uint32_t)(j + 1));
            int tmp = tperm[j]; tperm[j] = tperm[r]; tperm[r] = tmp;
        }
        for (int k = 0; k < B; k++)
            memcpy(c_trg + (size_t)k * C, c_org + (size_t)tperm[k] * C, sizeof(float) * C);
        free(tperm);
    } else {
        for (int k = 0; k < B; k++) {
            float *c = c_trg + (size_t)k * C;
            sg_targets_own(cfg, ds, NULL, c);
            uint64_t ctr = ((uint64_t)i << 32) | ((uint64_t)k << 12);
            if (cfg->one_hot[ds]) c[off + sg_randint(seed, SG_STREAM_TARGET, ctr, (uint32_t)L)] = 1.0f;
            else
                for (int j = 0; j < L; j++)
                    c[off + j] = (sg_rand64(seed, SG_STREAM_TARGET, ctr + (uint64_t)j) >> 63) ? 1.0f : 0.0f;
        }
    }
}

static sg_model_config config(int n_datasets)
{
    /* CelebA's 5 attributes (+ RaFD's 8 classes): the reference's label layout */
    sg_model_config cfg = { .image_size = 16, .n_datasets = n_datasets, .label_dim = { 5, 8 },
                            .one_hot = { 0, 1 }, .g_conv_dim = 4, .g_repeat = 1, .d_conv_dim = 4,
                            .d_repeat = 2, .batch = 16, .lambda_cls = 1, .lambda_rec = 10,
                            .lambda_gp = 10, .beta1 = 0.5, .beta2 = 0.999 };
    return cfg;
}

/* own label vectors of a batch of dataset ds: distinct rows, so that a row
 * taken from the wrong image shows */
static void own_labels(const sg_model_config *cfg, int ds, int B, uint64_t key, float *c_org)
{
    int C = sg_model_c_dim(cfg), L = cfg->label_dim[ds];
    float *lab = malloc(sizeof(float) * (size_t)L);
    for (int k = 0; k < B; k++) {
        if (cfg->one_hot[ds]) {
            memset(lab, 0, sizeof(float) * (size_t)L);
            lab[sg_randint(key, 1, (uint64_t)k, (uint32_t)L)] = 1;
        } else
            for (int j = 0; j < L; j++) lab[j] = sg_randu(key, 1, (uint64_t)k * 64 + j);
        sg_targets_own(cfg, ds, lab, c_org + (size_t)k * C);
    }
    free(lab);
}

static int same(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof(float)) == 0; }

/* The CPU backend's draw_batch against the reference, and its properties. */
static void test_draws(sg_backend *be)
{
    const int batches[] = { 1, 2, 16, 33 };
    const int64_t iters[] = { 0, 1, 99999, (int64_t)1 << 30 };
    int n_cases = 0, n_same = 0, n_ok = 0;
    for (int nd = 1; nd <= 2; nd++) {
        sg_model_config cfg = config(nd);
        int C = sg_model_c_dim(&cfg);
        for (int ds = 0; ds < nd; ds++)
            for (int bi = 0; bi < 4; bi++)
                for (int ii = 0; ii < 4; ii++)
                    for (int tr = 0; tr < 2; tr++) {
                        int B = batches[bi];
                        int64_t it = iters[ii];
                        uint64_t seed = 1234 + (uint64_t)ii;
                        float *c_org = calloc((size_t)B * C, sizeof(float));
                        float *want_c = calloc((size_t)B * C, sizeof(float)), *want_a = calloc(B, sizeof(float));
                        float *got_c = calloc((size_t)B * C, sizeof(float)), *got_a = calloc(B, sizeof(float));
                        own_labels(&cfg, ds, B, seed ^ 77, c_org);
                        reference_draw(&cfg, ds, B, seed, it, tr, c_org, want_c, want_a);
                        sg_batch_draw d;
                        sg_model_batch_draw(&cfg, ds, B, seed, it, tr, &d);
                        be->ops->draw_batch(be, got_c, got_a, c_org, &d);
                        n_cases++;
                        int eq = same(got_c, want_c, (size_t)B * C) && same(got_a, want_a, B);
                        if (eq) n_same++;
                        else printf("FAIL draw: %d datasets, dataset %d, batch %d, iteration %lld, %s targets: "
                                    "not the former trainer's draws\n", nd, ds, B, (long long)it,
                                    tr ? "random" : "permuted");
                        /* properties, independent of the reference */
                        int ok = 1;
                        for (int k = 0; k < B; k++) ok &= got_a[k] >= 0 && got_a[k] < 1;
                        if (!tr) {
                            int *used = calloc(B, sizeof(int));
                            for (int k = 0; k < B; k++) {
                                int from = -1;
                                for (int r = 0; r < B && from < 0; r++)
                                    if (!used[r] && same(got_c + (size_t)k * C, c_org + (size_t)r * C, C)) from = r;
                                if (from < 0) ok = 0; else used[from] = 1;
                            }
                            free(used);
                        } else {
                            int off = sg_model_label_offset(&cfg, ds), L = cfg.label_dim[ds];
                            for (int k = 0; k < B; k++) {
                                const float *c = got_c + (size_t)k * C;
                                int ones = 0;
                                for (int j = 0; j < C; j++) {
                                    int in_slot = j >= off && j < off + L, mask = nd > 1 && j == sg_model_cls_dim(&cfg) + ds;
                                    if (c[j] != 0 && c[j] != 1) ok = 0;
                                    if (!in_slot && c[j] != (mask ? 1.f : 0.f)) ok = 0;
                                    if (in_slot) ones += c[j] == 1;
                                }
                                if (cfg.one_hot[ds] && ones != 1) ok = 0;
                            }
                        }
                        if (ok) n_ok++;
                        else printf("FAIL draw: %d datasets, dataset %d, batch %d, iteration %lld, %s targets: "
                                    "alpha outside [0, 1) or targets malformed\n", nd, ds, B, (long long)it,
                                    tr ? "random" : "permuted");
                        free(c_org); free(want_c); free(want_a); free(got_c); free(got_a);
                    }
    }
    CHECK(n_same == n_cases, "draw_batch equals the former trainer's draws in %d of %d cases", n_same, n_cases);
    CHECK(n_ok == n_cases, "draw_batch's draws well formed in %d of %d cases", n_ok, n_cases);

    /* the permutation moves rows at all (a batch of 16 left in place has odds 1/16!) */
    sg_model_config cfg = config(1);
    int C = sg_model_c_dim(&cfg);
    float c_org[16 * 5], c_trg[16 * 5], alpha[16];
    own_labels(&cfg, 0, 16, 5, c_org);
    sg_batch_draw d;
    sg_model_batch_draw(&cfg, 0, 16, 1, 7, 0, &d);
    be->ops->draw_batch(be, c_trg, alpha, c_org, &d);
    CHECK(!same(c_trg, c_org, (size_t)16 * C), "permuted targets differ from the batch's own labels");

    /* too large a batch is an error, not an overflow */
    sg_err err;
    d.n = SG_BATCH_DRAW_MAX + 1;
    be->ops->draw_batch(be, c_trg, alpha, c_org, &d);
    CHECK(be->ops->sync(be, &err) == -1 && strstr(err.msg, "draw_batch"),
          "a batch over SG_BATCH_DRAW_MAX is refused: '%s'", err.msg);
}

/* The model: set_batch_drawn and set_batch with the reference's draws give
 * the same losses after a D step and a G step, for each dataset. */
static void test_model(sg_backend *be)
{
    sg_err err;
    sg_model_config cfg = config(2);
    int B = cfg.batch, S = cfg.image_size, C = sg_model_c_dim(&cfg);
    size_t nx = (size_t)B * 3 * S * S;
    float *x = malloc(nx * sizeof(float)), *c_org = calloc((size_t)B * C, sizeof(float));
    float *c_trg = calloc((size_t)B * C, sizeof(float)), *alpha = calloc(B, sizeof(float));
    for (size_t i = 0; i < nx; i++) x[i] = 2 * sg_randu(9, 1, i) - 1;
    for (int ds = 0; ds < 2; ds++) {
        sg_model *a = NULL, *b = NULL;
        if (sg_model_create(&a, &cfg, be, 3, &err) || sg_model_create(&b, &cfg, be, 3, &err)) {
            CHECK(0, "model create: %s", err.msg);
            sg_model_free(a);
            continue;
        }
        own_labels(&cfg, ds, B, 40 + (uint64_t)ds, c_org);
        reference_draw(&cfg, ds, B, 11, 5 + ds, 0, c_org, c_trg, alpha);
        sg_losses la, lb;
        int rc = sg_model_set_batch_drawn(a, ds, B, x, c_org, 11, 5 + ds, 0, &err) ||
                 sg_model_d_step(a, 1e-3f, &err) || sg_model_g_step(a, 1e-3f, &err) ||
                 sg_model_read_losses(a, &la, &err) ||
                 sg_model_set_batch(b, ds, B, x, c_org, c_trg, alpha, &err) ||
                 sg_model_d_step(b, 1e-3f, &err) || sg_model_g_step(b, 1e-3f, &err) ||
                 sg_model_read_losses(b, &lb, &err);
        CHECK(!rc, "dataset %d: steps: %s", ds, rc ? err.msg : "");
        if (!rc)
            CHECK(!memcmp(&la, &lb, sizeof la),
                  "dataset %d: losses with drawn targets (D gp %.9g, G cls %.9g) = with the same given "
                  "(%.9g, %.9g)", ds, la.d_loss_gp, la.g_loss_cls, lb.d_loss_gp, lb.g_loss_cls);
        sg_model_free(a);
        sg_model_free(b);
    }
    /* a generator-only model has no batch */
    sg_model *g = NULL;
    if (sg_model_create_generator(&g, &cfg, be, 3, &err) == 0) {
        CHECK(sg_model_set_batch_drawn(g, 0, B, x, c_org, 1, 1, 0, &err) == -1,
              "set_batch_drawn refused on a generator-only model");
        sg_model_free(g);
    }
    free(x); free(c_org); free(c_trg); free(alpha);
}

int main(void)
{
    sg_err err;
    sg_backend *be = sg_backend_cpu_create(2, &err);
    if (!be) { CHECK(0, "cpu backend: %s", err.msg); return check_done(); }
    test_draws(be);
    test_model(be);
    sg_backend_destroy(be);
    return check_done();
}
