/* Shared by the model tests that drive two models through the same calls and
 * require them to stay bit-identical (test_model_gtape, test_model_overlap):
 * a tiny configuration, random batches, and comparisons of losses and of
 * every tensor, gradient and Adam moment. */
#ifndef SG_TEST_MODEL_COMPARE_H
#define SG_TEST_MODEL_COMPARE_H
#include "backend.h"
#include "check.h"
#include "model.h"
#include "rng.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sg_model_config tiny_config(int n_datasets)
{
    /* two residual blocks (the residual IN's skip add), D 2 layers at 16 px */
    sg_model_config cfg = { .image_size = 16, .n_datasets = n_datasets, .label_dim = { 3, 4 },
                            .one_hot = { 0, 1 }, .g_conv_dim = 4, .g_repeat = 2, .d_conv_dim = 4,
                            .d_repeat = 2, .batch = 3, .lambda_cls = 1, .lambda_rec = 10,
                            .lambda_gp = 10, .beta1 = 0.5, .beta2 = 0.999 };
    return cfg;
}

/* A batch of n images of dataset ds drawn from `key`: images in [-1, 1],
 * labels of that dataset (multi-hot or one class) with the mask, c_trg the
 * labels rotated by one image (the reference's permutation), alpha U(0,1). */
typedef struct { int ds, n; float *x, *c_org, *c_trg, *alpha; } batch;

static batch make_batch(const sg_model_config *cfg, int ds, int n, uint64_t key)
{
    int S = cfg->image_size, cd = sg_model_c_dim(cfg), off = sg_model_label_offset(cfg, ds);
    int L = cfg->label_dim[ds];
    size_t img = (size_t)3 * S * S;
    batch b = { ds, n, malloc(n * img * sizeof(float)), calloc((size_t)n * cd, sizeof(float)),
                calloc((size_t)n * cd, sizeof(float)), malloc(n * sizeof(float)) };
    for (size_t i = 0; i < n * img; i++) b.x[i] = 2 * sg_randu(key, 1, i) - 1;
    for (int i = 0; i < n; i++) {
        float *c = b.c_org + (size_t)i * cd;
        if (cfg->one_hot[ds]) c[off + (int)(sg_rand64(key, 2, i) % L)] = 1;
        else for (int j = 0; j < L; j++) c[off + j] = (float)(sg_rand64(key, 2, (uint64_t)i * 64 + j) & 1);
        if (cfg->n_datasets > 1) c[sg_model_cls_dim(cfg) + ds] = 1;
        b.alpha[i] = sg_randu(key, 3, i);
    }
    for (int i = 0; i < n; i++)
        memcpy(b.c_trg + (size_t)i * cd, b.c_org + (size_t)((i + 1) % n) * cd, cd * sizeof(float));
    return b;
}

static void free_batch(batch *b) { free(b->x); free(b->c_org); free(b->c_trg); free(b->alpha); }

static int same_losses(sg_model *a, sg_model *b, const char *what)
{
    sg_err err;
    sg_losses la, lb;
    if (sg_model_read_losses(a, &la, &err) || sg_model_read_losses(b, &lb, &err)) {
        CHECK(0, "%s: read_losses: %s", what, err.msg);
        return 0;
    }
    int same = !memcmp(&la, &lb, sizeof la);
    CHECK(same, "%s: losses differ: G fake %.9g / %.9g, rec %.9g / %.9g, cls %.9g / %.9g, D real %.9g / %.9g",
          what, la.g_loss_fake, lb.g_loss_fake, la.g_loss_rec, lb.g_loss_rec, la.g_loss_cls, lb.g_loss_cls,
          la.d_loss_real, lb.d_loss_real);
    return same;
}

/* Every tensor, gradient and Adam moment of both nets, bit for bit; the
 * first difference of each kind is named. */
static void same_state(sg_model *a, sg_model *b, const char *what)
{
    sg_err err;
    for (int net = 0; net < 2; net++) {
        const char *nn = net == SG_NET_G ? "G" : "D";
        const sg_tensor_info *ti;
        int nt = sg_model_tensors(a, net, &ti), bad_t = -1, bad_g = -1;
        for (int i = 0; i < nt; i++) {
            size_t bytes = ti[i].numel * (ti[i].dtype == SG_DTYPE_I64 ? 8 : 4);
            void *x = malloc(bytes + 8), *y = malloc(bytes + 8);
            if (sg_model_get_tensor(a, net, i, x, &err) || sg_model_get_tensor(b, net, i, y, &err)) {
                CHECK(0, "%s: get_tensor: %s", what, err.msg);
            } else if (memcmp(x, y, bytes) && bad_t < 0) bad_t = i;
            if (ti[i].trainable) {
                if (sg_model_get_grad(a, net, i, x, &err) || sg_model_get_grad(b, net, i, y, &err))
                    CHECK(0, "%s: get_grad: %s", what, err.msg);
                else if (memcmp(x, y, bytes) && bad_g < 0) bad_g = i;
            }
            free(x); free(y);
        }
        CHECK(bad_t < 0, "%s: %s tensor %s differs", what, nn, bad_t < 0 ? "" : ti[bad_t].name);
        CHECK(bad_g < 0, "%s: %s gradient of %s differs", what, nn, bad_g < 0 ? "" : ti[bad_g].name);
        size_t n = sg_model_trainable_count(a, net);
        float *m1 = malloc(n * 4), *v1 = malloc(n * 4), *m2 = malloc(n * 4), *v2 = malloc(n * 4);
        int64_t s1, s2;
        if (sg_model_get_adam(a, net, m1, v1, &s1, &err) || sg_model_get_adam(b, net, m2, v2, &s2, &err))
            CHECK(0, "%s: get_adam: %s", what, err.msg);
        else
            CHECK(!memcmp(m1, m2, n * 4) && !memcmp(v1, v2, n * 4) && s1 == s2,
                  "%s: %s Adam state differs (steps %lld, %lld)", what, nn, (long long)s1, (long long)s2);
        free(m1); free(v1); free(m2); free(v2);
    }
}

/* Two CUDA backends on GPU 0, cuDNN's first usable engine on both (so both
 * pick the same ones): *graphs records and replays step graphs, *eager runs
 * every step eagerly. 0, or -1 (nothing to free) after a SKIP naming what
 * the pair was for: no GPU, or no CUDA in this build. */
static int cuda_graph_pair(sg_backend **graphs, sg_backend **eager, const char *what)
{
    sg_err err;
    setenv("SG_CUDNN_SEARCH", "heuristic", 1);
    *graphs = sg_backend_cuda_create_precision(0, NULL, &err);
    setenv("SG_CUDA_GRAPHS", "0", 1);
    *eager = *graphs ? sg_backend_cuda_create_precision(0, NULL, &err) : NULL;
    unsetenv("SG_CUDA_GRAPHS");
    unsetenv("SG_CUDNN_SEARCH");
    if (*graphs && *eager) return 0;
    SKIP("%s: %s", what, err.msg);
    sg_backend_destroy(*graphs);
    sg_backend_destroy(*eager);
    *graphs = *eager = NULL;
    return -1;
}

/* The configuration of those CUDA cases: 32 px, 8 channels, D 4 layers. */
static sg_model_config cuda_case_config(void)
{
    sg_model_config cfg = tiny_config(1);
    cfg.image_size = 32; cfg.g_conv_dim = 8; cfg.d_conv_dim = 8; cfg.d_repeat = 4; cfg.batch = 4;
    return cfg;
}

#endif
