/* The model's batch calls and host_alloc memory (lib/model.h, lib/backend.h
 * "host staging"), on the CPU backend with the rule checked around its ops
 * (staging_check.h): the plain calls (set_batch, set_batch_drawn,
 * queue_batch_drawn) wait for their uploads, so host_alloc arrays refilled
 * right after them are never read by an upload still in flight; the _async
 * calls leave their uploads in flight and mark the fence slot they were
 * given, and refuse a slot out of range before uploading anything. */
#include "backend.h"
#include "check.h"
#include "model.h"
#include "rng.h"
#include "staging_check.h"
#include <stdio.h>
#include <string.h>

static sg_model_config config(void)
{
    sg_model_config cfg = { .image_size = 16, .n_datasets = 1, .label_dim = { 5 }, .one_hot = { 0 },
                            .g_conv_dim = 4, .g_repeat = 1, .d_conv_dim = 4, .d_repeat = 2, .batch = 4,
                            .lambda_cls = 1, .lambda_rec = 10, .lambda_gp = 10, .beta1 = 0.5, .beta2 = 0.999 };
    return cfg;
}

typedef struct {
    float *x, *c_org, *c_trg, *alpha;   /* host_alloc memory */
    int n;
    size_t nx, nc;
} host_batch;

static void fill(host_batch *b, uint64_t key)
{
    for (size_t i = 0; i < b->nx; i++) b->x[i] = 2 * sg_randu(key, 1, i) - 1;
    for (size_t i = 0; i < b->nc; i++) {
        b->c_org[i] = (float)(sg_rand64(key, 2, i) & 1);
        b->c_trg[i] = (float)(sg_rand64(key, 3, i) & 1);
    }
    for (int i = 0; i < b->n; i++) b->alpha[i] = sg_randu(key, 4, (uint64_t)i);
}

/* The checker finds an upload's memory changed before a wait covered it
 * (else the checks below could not fail). */
static void test_checker(sg_backend *be)
{
    sg_err err;
    float *dev = be->ops->alloc(be, 64 * sizeof(float)), *h = be->ops->host_alloc(be, 64 * sizeof(float));
    if (!dev || !h) { CHECK(0, "alloc"); return; }
    be->ops->upload(be, dev, h, 64 * sizeof(float));
    h[3] = 1;
    be->ops->sync(be, &err);
    CHECK(staging.violations == 1, "checker: memory changed before the sync is seen (%d)", staging.violations);
    be->ops->upload(be, dev, h, 64 * sizeof(float));
    be->ops->fence(be, 3);
    be->ops->fence_wait(be, 2);
    CHECK(staging.n_up == 1, "checker: a wait for another fence slot leaves the upload in flight");
    be->ops->fence_wait(be, 3);
    CHECK(staging.n_up == 0 && staging.violations == 1, "checker: the fence slot marked after it retires it");
    be->ops->host_free(be, h);
    be->ops->free(be, dev);
    staging.violations = 0;
    staging.fence_retired = 0;
}

/* The plain calls from host_alloc memory: nothing in flight when they
 * return, so refilling the arrays at once changes no upload. */
static void test_plain(sg_backend *be, host_batch *b)
{
    sg_err err;
    sg_model_config cfg = config();
    sg_model *m = NULL;
    if (sg_model_create(&m, &cfg, be, 3, &err)) { CHECK(0, "model: %s", err.msg); return; }
    const char *names[3] = { "set_batch", "set_batch_drawn", "queue_batch_drawn" };
    for (int k = 0; k < 3; k++) {
        fill(b, 10 + (uint64_t)k);
        long long before = staging.uploads;
        int rc = k == 0 ? sg_model_set_batch(m, 0, b->n, b->x, b->c_org, b->c_trg, b->alpha, &err)
               : k == 1 ? sg_model_set_batch_drawn(m, 0, b->n, b->x, b->c_org, 5, k, 0, &err)
                        : sg_model_queue_batch_drawn(m, 0, b->n, b->x, b->c_org, 5, k, 0, &err);
        CHECK(rc == 0, "%s: %s", names[k], rc ? err.msg : "");
        CHECK(staging.uploads > before, "%s uploads from the host_alloc arrays", names[k]);
        CHECK(staging.n_up == 0, "%s returns with its uploads done (%d in flight)", names[k], staging.n_up);
        fill(b, 20 + (uint64_t)k);   /* the next batch, as a loader would */
        rc = sg_model_d_step(m, 1e-3f, &err) || be->ops->sync(be, &err);
        CHECK(!rc, "%s: d_step: %s", names[k], rc ? err.msg : "");
        CHECK(staging.violations == 0, "%s: arrays refilled after it returned changed no upload in flight",
              names[k]);
        staging.violations = 0;
    }
    CHECK(sg_model_next_batch(m, &err) == 0, "next_batch: %s", err.msg);
    sg_model_free(m);
}

/* The _async calls: their uploads stay in flight, covered by the fence
 * slot given; a slot out of range is refused with nothing uploaded. */
static void test_async(sg_backend *be, host_batch *b)
{
    sg_err err;
    sg_model_config cfg = config();
    sg_model *m = NULL;
    if (sg_model_create(&m, &cfg, be, 3, &err)) { CHECK(0, "model: %s", err.msg); return; }
    fill(b, 30);
    int rc = sg_model_set_batch_drawn_async(m, 0, b->n, b->x, b->c_org, 5, 1, 0, 5, &err);
    CHECK(rc == 0, "set_batch_drawn_async: %s", rc ? err.msg : "");
    int marked = staging.n_up == 2;
    for (int i = 0; i < staging.n_up; i++) marked &= staging.up[i].slots == 1u << 5;
    CHECK(marked, "set_batch_drawn_async: x and c_org in flight, fence slot 5 marked after them (%d in flight)",
          staging.n_up);
    be->ops->fence_wait(be, 4);
    CHECK(staging.n_up == 2, "set_batch_drawn_async: slot 4 does not cover them");
    be->ops->fence_wait(be, 5);
    CHECK(staging.n_up == 0 && staging.fence_retired == 2 && staging.violations == 0,
          "set_batch_drawn_async: fence_wait(5) covers them");
    fill(b, 31);

    rc = sg_model_queue_batch_drawn_async(m, 0, b->n, b->x, b->c_org, 5, 2, 0, 2, &err);
    CHECK(rc == 0, "queue_batch_drawn_async: %s", rc ? err.msg : "");
    marked = staging.n_up == 2;
    for (int i = 0; i < staging.n_up; i++) marked &= staging.up[i].slots == 1u << 2;
    CHECK(marked, "queue_batch_drawn_async: fence slot 2 marked after its uploads (%d in flight)", staging.n_up);
    /* the caller's part: the arrays changed before fence_wait are seen */
    fill(b, 32);
    be->ops->fence_wait(be, 2);
    CHECK(staging.n_up == 0 && staging.violations == 2,
          "queue_batch_drawn_async: x and c_org refilled before fence_wait(2) are two violations (%d)",
          staging.violations);
    staging.violations = 0;
    rc = sg_model_d_step(m, 1e-3f, &err) || sg_model_next_batch(m, &err) || sg_model_d_step(m, 1e-3f, &err) ||
         be->ops->sync(be, &err);
    CHECK(!rc, "steps after the async calls: %s", rc ? err.msg : "");

    int bad[2] = { -1, 8 };
    for (int k = 0; k < 2; k++) {
        long long before = staging.uploads;
        CHECK(sg_model_set_batch_drawn_async(m, 0, b->n, b->x, b->c_org, 5, 3, 0, bad[k], &err) == -1 &&
                  strstr(err.msg, "fence slot"),
              "set_batch_drawn_async refuses fence slot %d: '%s'", bad[k], err.msg);
        CHECK(sg_model_queue_batch_drawn_async(m, 0, b->n, b->x, b->c_org, 5, 3, 0, bad[k], &err) == -1 &&
                  strstr(err.msg, "fence slot"),
              "queue_batch_drawn_async refuses fence slot %d: '%s'", bad[k], err.msg);
        CHECK(staging.uploads == before && staging.n_up == 0, "nothing uploaded with fence slot %d", bad[k]);
    }
    sg_model_free(m);
}

int main(void)
{
    sg_err err;
    sg_backend *be = sg_backend_cpu_create(2, &err);
    if (!be) { CHECK(0, "cpu backend: %s", err.msg); return check_done(); }
    staging_check_install(be);
    sg_model_config cfg = config();
    host_batch b = { .n = cfg.batch };
    b.nx = (size_t)b.n * 3 * cfg.image_size * cfg.image_size;
    b.nc = (size_t)b.n * sg_model_c_dim(&cfg);
    b.x = be->ops->host_alloc(be, b.nx * sizeof(float));
    b.c_org = be->ops->host_alloc(be, b.nc * sizeof(float));
    b.c_trg = be->ops->host_alloc(be, b.nc * sizeof(float));
    b.alpha = be->ops->host_alloc(be, b.n * sizeof(float));
    if (b.x && b.c_org && b.c_trg && b.alpha) {
        test_checker(be);
        test_plain(be, &b);
        test_async(be, &b);
    } else
        CHECK(0, "host_alloc");
    be->ops->host_free(be, b.x);
    be->ops->host_free(be, b.c_org);
    be->ops->host_free(be, b.c_trg);
    be->ops->host_free(be, b.alpha);
    staging_check_remove(be);
    sg_backend_destroy(be);
    return check_done();
}
