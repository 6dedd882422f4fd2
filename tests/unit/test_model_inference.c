/* The generator-only model (sg_model_create_generator) against the full one:
 * same G weights give bit-identical generate() output at two chunk sizes (with
 * a partial last chunk); D and training calls fail with an error instead of
 * crashing; G round-trips through a checkpoint file; and it holds far less
 * backend memory than the training model at 128 px, conv dim 64. The output
 * comparison runs on the CPU backend and, where a GPU is usable, on CUDA. */
#include "backend.h"
#include "check.h"
#include "checkpoint.h"
#include "checkpoint_testing.h"
#include "model.h"
#include "model_testing.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sg_model_config small_config(int batch)
{
    sg_model_config cfg = { .image_size = 32, .n_datasets = 2, .label_dim = { 3, 4 }, .one_hot = { 0, 1 },
                            .g_conv_dim = 8, .g_repeat = 2, .d_conv_dim = 8, .d_repeat = 3, .batch = batch,
                            .lambda_cls = 1, .lambda_rec = 10, .lambda_gp = 10, .beta1 = 0.5, .beta2 = 0.999 };
    return cfg;
}

/* Deterministic pseudo-random floats in [lo, hi). */
static void fill(float *p, size_t n, uint32_t seed, float lo, float hi)
{
    uint32_t s = seed * 2654435761u + 12345u;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = lo + (hi - lo) * (float)(s >> 8) / 16777216.0f;
    }
}

/* Copies every G tensor of src into dst through the host. */
static int copy_g(sg_model *dst, sg_model *src, sg_err *err)
{
    const sg_tensor_info *list;
    int n = sg_model_tensors(src, SG_NET_G, &list);
    for (int i = 0; i < n; i++) {
        void *buf = malloc(list[i].numel * 8);
        int rc = !buf || sg_model_get_tensor(src, SG_NET_G, i, buf, err) ||
                 sg_model_set_tensor(dst, SG_NET_G, i, buf, err);
        free(buf);
        if (rc) return -1;
    }
    return 0;
}

/* 1 if every G tensor (floats and counters) of a and b is bit-equal. */
static int same_g(sg_model *a, sg_model *b, char *which, size_t which_len)
{
    const sg_tensor_info *la, *lb;
    int n = sg_model_tensors(a, SG_NET_G, &la);
    if (n != sg_model_tensors(b, SG_NET_G, &lb)) { snprintf(which, which_len, "tensor count"); return 0; }
    sg_err err;
    for (int i = 0; i < n; i++) {
        size_t bytes = la[i].numel * (la[i].dtype == SG_DTYPE_I64 ? 8 : 4);
        void *x = malloc(bytes), *y = malloc(bytes);
        int same = x && y && !sg_model_get_tensor(a, SG_NET_G, i, x, &err) &&
                   !sg_model_get_tensor(b, SG_NET_G, i, y, &err) && !memcmp(x, y, bytes) &&
                   !strcmp(la[i].name, lb[i].name);
        free(x); free(y);
        if (!same) { snprintf(which, which_len, "%s", la[i].name); return 0; }
    }
    return 1;
}

/* Number of differing elements of two float arrays (bit comparison), and the first. */
static long bit_diff(const float *a, const float *b, size_t n, long *first)
{
    long d = 0;
    *first = -1;
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float))) { if (!d) *first = (long)i; d++; }
    return d;
}

static int has_msg(const sg_err *e, const char *s) { return strstr(e->msg, s) != NULL; }

/* A trained (one D and one G step) full model: weights and running statistics
 * away from their initial values. The num_batches_tracked counters stay 0,
 * as in PyTorch, whose InstanceNorm never counts (only BatchNorm does; the
 * golden test compares them). */
static sg_model *trained_model(sg_backend *be)
{
    sg_err err;
    sg_model_config cfg = small_config(4);
    sg_model *m;
    if (sg_model_create(&m, &cfg, be, 7, &err)) { CHECK(0, "create: %s", err.msg); return NULL; }
    int S = cfg.image_size, c_dim = sg_model_c_dim(&cfg), N = 4;
    float *x = malloc(sizeof(float) * N * 3 * S * S), *co = calloc((size_t)N * c_dim, sizeof(float)),
          *ct = calloc((size_t)N * c_dim, sizeof(float)), alpha[4] = { 0.1f, 0.5f, 0.7f, 0.9f };
    fill(x, (size_t)N * 3 * S * S, 1, -1, 1);
    for (int i = 0; i < N; i++) {   /* dataset 0 (multi-hot, 3 labels) + its mask */
        co[i * c_dim + (i % 3)] = 1; ct[i * c_dim + ((i + 1) % 3)] = 1;
        co[i * c_dim + 7] = ct[i * c_dim + 7] = 1;
    }
    int rc = sg_model_set_batch(m, 0, N, x, co, ct, alpha, &err) || sg_model_d_step(m, 1e-3f, &err) ||
             sg_model_g_step(m, 1e-3f, &err);
    free(x); free(co); free(ct);
    if (rc) { CHECK(0, "training step: %s", err.msg); sg_model_free(m); return NULL; }
    return m;
}

static void test_same_output(sg_backend *be, sg_model *trained)
{
    sg_err err;
    const int n = 5, chunks[2] = { 2, 3 };
    sg_model_config cfg0 = small_config(1);
    int S = cfg0.image_size, c_dim = sg_model_c_dim(&cfg0);
    size_t img = (size_t)3 * S * S;
    float *x = malloc(sizeof(float) * n * img), *c = calloc((size_t)n * c_dim, sizeof(float));
    float *y_full = malloc(sizeof(float) * n * img), *y_gen = malloc(sizeof(float) * n * img);
    fill(x, n * img, 2, -1, 1);
    for (int i = 0; i < n; i++) {   /* alternate the datasets: multi-hot / one-hot, with the mask */
        if (i % 2) { c[i * c_dim + 3 + (i % 4)] = 1; c[i * c_dim + 8] = 1; }
        else { c[i * c_dim + 0] = 1; c[i * c_dim + 2] = 0.5f; c[i * c_dim + 7] = 1; }
    }
    for (int k = 0; k < 2; k++) {
        sg_model_config cfg = small_config(chunks[k]);
        sg_model *full = NULL, *gen = NULL;
        /* other seeds than the trained model's: the copy must overwrite everything */
        if (sg_model_create(&full, &cfg, be, 11, &err) || sg_model_create_generator(&gen, &cfg, be, 12, &err)) {
            CHECK(0, "chunk %d: create: %s", chunks[k], err.msg);
            sg_model_free(full); sg_model_free(gen);
            continue;
        }
        CHECK(sg_model_is_generator_only(gen) == 1 && sg_model_is_generator_only(full) == 0,
              "is_generator_only: gen %d, full %d", sg_model_is_generator_only(gen), sg_model_is_generator_only(full));
        if (copy_g(full, trained, &err) || copy_g(gen, trained, &err)) CHECK(0, "copying G: %s", err.msg);
        char which[80];
        CHECK(same_g(gen, trained, which, sizeof which), "chunk %d: G read back from the generator-only model differs at %s",
              chunks[k], which);
        memset(y_gen, 0xff, sizeof(float) * n * img);
        if (sg_model_generate(full, n, x, c, y_full, &err) || sg_model_generate(gen, n, x, c, y_gen, &err)) {
            CHECK(0, "chunk %d: generate: %s", chunks[k], err.msg);
        } else {
            long first, d = bit_diff(y_gen, y_full, n * img, &first);
            CHECK(d == 0, "chunk %d: %ld of %zu outputs differ from the full model's; first %ld: %.9g vs %.9g",
                  chunks[k], d, n * img, first, first >= 0 ? y_gen[first] : 0.0, first >= 0 ? y_full[first] : 0.0);
            /* not vacuous: a real, varying image in every row */
            int finite = 1;
            float lo = y_gen[0], hi = y_gen[0];
            for (size_t i = 0; i < n * img; i++) {
                if (!(y_gen[i] >= -1 && y_gen[i] <= 1)) finite = 0;
                if (y_gen[i] < lo) lo = y_gen[i];
                if (y_gen[i] > hi) hi = y_gen[i];
            }
            CHECK(finite && hi - lo > 1e-3f, "chunk %d: output range [%g, %g], finite in [-1,1] %d", chunks[k], lo, hi, finite);
            /* generate leaves the running statistics alone in both */
            CHECK(same_g(gen, trained, which, sizeof which), "chunk %d: generate changed %s", chunks[k], which);
        }
        sg_model_free(full);
        sg_model_free(gen);
    }
    /* a fresh generator-only model starts from the full model's G for the same seed */
    sg_model_config cfg = small_config(2);
    sg_model *full, *gen;
    if (sg_model_create(&full, &cfg, be, 5, &err) || sg_model_create_generator(&gen, &cfg, be, 5, &err)) {
        CHECK(0, "create: %s", err.msg);
    } else {
        char which[80];
        CHECK(same_g(gen, full, which, sizeof which), "initial G differs from the full model's at %s", which);
        sg_model_free(full); sg_model_free(gen);
    }
    free(x); free(c); free(y_full); free(y_gen);
}

static void test_refusals(sg_backend *be, sg_model *trained)
{
    sg_err err;
    sg_model_config cfg = small_config(2);
    sg_model *gen;
    if (sg_model_create_generator(&gen, &cfg, be, 3, &err)) { CHECK(0, "create: %s", err.msg); return; }
    int S = cfg.image_size, c_dim = sg_model_c_dim(&cfg);
    float *x = calloc((size_t)2 * 3 * S * S, sizeof(float)), *c = calloc((size_t)2 * c_dim, sizeof(float));
    float alpha[2] = { 0.5f, 0.5f }, host[64];
    int64_t step;
    sg_losses losses;
    const char *key = "generator-only";
#define REFUSED(call, what) do { err.msg[0] = 0; int rc_ = (call); \
        CHECK(rc_ == -1 && has_msg(&err, key), "%s on a generator-only model: rc %d, error '%s'", what, rc_, err.msg); } while (0)
    REFUSED(sg_model_set_batch(gen, 0, 2, x, c, c, alpha, &err), "set_batch");
    REFUSED(sg_model_d_step(gen, 1e-4f, &err), "d_step");
    REFUSED(sg_model_g_step(gen, 1e-4f, &err), "g_step");
    REFUSED(sg_model_read_losses(gen, &losses, &err), "read_losses");
    REFUSED(sg_model_get_adam(gen, SG_NET_G, host, host, &step, &err), "get_adam(G)");
    REFUSED(sg_model_get_adam(gen, SG_NET_D, host, host, &step, &err), "get_adam(D)");
    REFUSED(sg_model_set_adam(gen, SG_NET_D, host, host, 1, &err), "set_adam(D)");
    REFUSED(sg_model_get_grad(gen, SG_NET_G, 0, host, &err), "get_grad(G)");
    REFUSED(sg_model_get_tensor(gen, SG_NET_D, 0, host, &err), "get_tensor(D)");
    REFUSED(sg_model_set_tensor(gen, SG_NET_D, 0, host, &err), "set_tensor(D)");
    const sg_tensor_info *list;
    CHECK(sg_model_tensors(gen, SG_NET_D, &list) == 0 && list == NULL, "D of a generator-only model lists tensors");
    CHECK(sg_model_trainable_count(gen, SG_NET_D) == 0, "D trainable count %zu", sg_model_trainable_count(gen, SG_NET_D));
    CHECK(sg_model_trainable_count(gen, SG_NET_G) == sg_model_trainable_count(trained, SG_NET_G),
          "G trainable count %zu vs %zu", sg_model_trainable_count(gen, SG_NET_G), sg_model_trainable_count(trained, SG_NET_G));
    int finite = 0;
    CHECK(sg_model_all_finite(gen, &finite, &err) == 0 && finite == 1, "all_finite on a generator-only model: %d", finite);

    /* checkpoints: G written from the trained model loads into a generator-only
     * model and generates as the trained model does; D, state and whole
     * checkpoints are refused before anything is read or written */
    char dir[] = "/tmp/test_model_inference.XXXXXX", path[300];
    if (!mkdtemp(dir)) { CHECK(0, "mkdtemp failed"); goto done; }
    char *names[8] = { "a", "b", "c", "d", "e", "f", "g" };
    sg_ckpt_info info = { .model = small_config(0), .n_labels = 7, .label_names = names, .step = 3 };
    strcpy(info.dataset_names[0], "one"); strcpy(info.dataset_names[1], "two");
    snprintf(path, sizeof path, "%s/000003-G.safetensors", dir);
    if (sg_ckpt_write_net(trained, SG_NET_G, path, &info, 3, &err)) { CHECK(0, "write G: %s", err.msg); goto clean; }
    CHECK(sg_ckpt_read_net(gen, SG_NET_G, path, &err) == 0, "reading G into a generator-only model: %s", err.msg);
    char which[80];
    CHECK(same_g(gen, trained, which, sizeof which), "G loaded from a file differs at %s", which);
    float *y1 = malloc(sizeof(float) * 2 * 3 * S * S), *y2 = malloc(sizeof(float) * 2 * 3 * S * S);
    sg_model_config cfg2 = small_config(2);
    sg_model *full2;
    fill(x, (size_t)2 * 3 * S * S, 9, -1, 1);
    c[1] = 1; c[7] = 1; c[c_dim + 4] = 1; c[c_dim + 8] = 1;
    if (sg_model_create(&full2, &cfg2, be, 1, &err) || copy_g(full2, trained, &err) ||
        sg_model_generate(full2, 2, x, c, y1, &err) || sg_model_generate(gen, 2, x, c, y2, &err)) {
        CHECK(0, "generate after loading: %s", err.msg);
    } else {
        long first, d = bit_diff(y2, y1, (size_t)2 * 3 * S * S, &first);
        CHECK(d == 0, "after loading G from a file: %ld outputs differ (first %ld)", d, first);
        sg_model_free(full2);
    }
    free(y1); free(y2);
    char dpath[300];
    snprintf(dpath, sizeof dpath, "%s/000003-D.safetensors", dir);
    key = "generator-only";
    REFUSED(sg_ckpt_read_net(gen, SG_NET_D, dpath, &err), "sg_ckpt_read_net(D)");
    REFUSED(sg_ckpt_write_net(gen, SG_NET_D, dpath, &info, 3, &err), "sg_ckpt_write_net(D)");
    CHECK(access(dpath, F_OK) != 0, "a refused D write left %s", dpath);
    REFUSED(sg_ckpt_read_state(gen, dpath, &step, &err), "sg_ckpt_read_state");
    REFUSED(sg_ckpt_write_state(gen, dpath, &info, 3, &err), "sg_ckpt_write_state");
    REFUSED(sg_ckpt_load(gen, dir, 3, NULL, &err), "sg_ckpt_load");
    REFUSED(sg_ckpt_save(gen, dir, &info, 4, &err), "sg_ckpt_save");
    snprintf(dpath, sizeof dpath, "%s/ckpt", dir);
    CHECK(access(dpath, F_OK) != 0, "a refused save created %s", dpath);
#undef REFUSED
clean:
    unlink(path);
    rmdir(dir);
done:
    free(x); free(c);
    sg_model_free(gen);
}

/* Backend bytes at sg-sample's 128 px, conv dim 64 (the reference's CelebA
 * model), for one image and for a chunk of 16. */
static void test_memory(sg_backend *be)
{
    sg_err err;
    const int batches[2] = { 1, 16 };
    for (int k = 0; k < 2; k++) {
        sg_model_config cfg = { .image_size = 128, .n_datasets = 1, .label_dim = { 5 }, .g_conv_dim = 64,
                                .g_repeat = 6, .d_conv_dim = 64, .d_repeat = 6, .batch = batches[k],
                                .lambda_cls = 1, .lambda_rec = 10, .lambda_gp = 10, .beta1 = 0.5, .beta2 = 0.999 };
        sg_model *gen, *full = NULL;
        if (sg_model_create_generator(&gen, &cfg, be, 0, &err)) { CHECK(0, "create generator: %s", err.msg); continue; }
        size_t g_bytes = sg_model_backend_bytes(gen);
        size_t g_params = 4 * sg_model_trainable_count(gen, SG_NET_G);
        sg_model_free(gen);
        /* what the tools compare with the machine's memory before making one */
        CHECK(sg_model_bytes(&cfg, 1) == g_bytes, "sg_model_bytes, generator-only, batch %d: %zu, made %zu",
              batches[k], sg_model_bytes(&cfg, 1), g_bytes);
        /* the full model only for batch 1 (its 16-image buffers are gigabytes of
         * address space); its bytes grow with the batch at least as fast */
        size_t f_bytes = 0;
        if (k == 0) {
            if (sg_model_create(&full, &cfg, be, 0, &err)) { CHECK(0, "create full: %s", err.msg); continue; }
            f_bytes = sg_model_backend_bytes(full);
            sg_model_free(full);
            CHECK(sg_model_bytes(&cfg, 0) == f_bytes, "sg_model_bytes, full, batch 1: %zu, made %zu",
                  sg_model_bytes(&cfg, 0), f_bytes);
            printf("128 px, conv 64, batch 1: full model %.1f MB, generator-only %.1f MB (%.1f%%; G's parameters %.1f MB)\n",
                   f_bytes / 1e6, g_bytes / 1e6, 100.0 * g_bytes / f_bytes, g_params / 1e6);
            CHECK(g_bytes < 0.40 * f_bytes, "generator-only model holds %zu bytes, %.1f%% of the full model's %zu (limit 40%%)",
                  g_bytes, 100.0 * g_bytes / f_bytes, f_bytes);
        } else {
            /* parameters + stats, plus the activations: five (image-size, 64-channel)
             * buffers per image and the (3 + c_dim)-channel input, x and c */
            size_t S = 128, per_image = 4 * (5 * 64 * S * S + (3 + 5) * S * S + 3 * S * S + 5 + 2 * 256);
            size_t bound = g_params + 4 * 64 * 1024 + batches[k] * per_image;
            printf("128 px, conv 64, batch 16: generator-only %.1f MB (bound %.1f MB)\n", g_bytes / 1e6, bound / 1e6);
            CHECK(g_bytes <= bound, "generator-only model at batch 16 holds %zu bytes, over %zu", g_bytes, bound);
        }
    }
}

int main(void)
{
    sg_err err;
    sg_backend *be = sg_backend_cpu_create(2, &err);
    if (!be) { CHECK(0, "cpu backend: %s", err.msg); return check_done(); }
    sg_model *trained = trained_model(be);
    if (trained) {
        test_same_output(be, trained);
        test_refusals(be, trained);
        /* the same comparison on a GPU, where there is one (weights copied
         * through the host from the CPU-trained model) */
        sg_backend *gpu = sg_backend_cuda_create_precision(0, NULL, &err);
        if (!gpu) SKIP("generator-only vs full model on CUDA: %s", err.msg);
        else { test_same_output(gpu, trained); sg_backend_destroy(gpu); }
        sg_model_free(trained);
    }
    test_memory(be);
    sg_backend_destroy(be);
    return check_done();
}
