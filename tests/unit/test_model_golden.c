/* The model (lib/model.c on the CPU backend) against PyTorch: one D step and
 * one G step on the golden files made by tests/golden/stargan_ref.py (the
 * reference architecture and solver in torch 1.13, float32): one dataset; two
 * (multi-hot + one-hot) with the batch from the one-hot set; two multi-hot,
 * the batch from the second (its BCE targets at columns 3..6). Compares every
 * loss term, every gradient, the weights after Adam and the running statistics;
 * prints the worst element of each comparison on failure and a summary of the
 * worst relative error per kind. */
#include "backend.h"
#include "check.h"
#include "model.h"
#include "safetensors.h"
#include <stdlib.h>
#include <string.h>

#ifndef GOLDEN_DIR
#define GOLDEN_DIR "tests/golden"
#endif

static double worst_rel[4];   /* losses, gradients, weights after, running stats */
static const char *kind_name[4] = { "losses", "gradients", "Adam update", "running stats" };

static float *read_tensor(sg_st_file *f, const char *name, size_t want_numel)
{
    long i = sg_st_find(f, name);
    if (i < 0) { CHECK(0, "golden file lacks %s", name); return NULL; }
    sg_st_tensor *t = &f->tensors[i];
    if (want_numel && t->numel != want_numel) {
        CHECK(0, "%s: %llu elements in the golden file, model has %zu", name,
              (unsigned long long)t->numel, want_numel);
        return NULL;
    }
    void *buf = malloc(t->end - t->begin + 8);
    sg_err err;
    if (sg_st_read(f, i, buf, t->end - t->begin, &err)) { CHECK(0, "%s", err.msg); free(buf); return NULL; }
    return buf;
}

static long meta_int(sg_st_file *f, const char *key)
{
    const char *v = sg_st_meta(f, key);
    return v ? strtol(v, NULL, 10) : -1;
}

/* Compares got with want: |got - want| <= rtol*|want| + atol, atol relative to
 * the tensor's largest magnitude (float32 sums cancel down to that scale). */
static void compare(int kind, const char *what, const float *got, const float *want, size_t n,
                    double rtol, double atol_rel)
{
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), maxabs = 0, worst = 0;
    for (size_t i = 0; i < n; i++) {
        a[i] = got[i]; b[i] = want[i];
        if (fabs(b[i]) > maxabs) maxabs = fabs(b[i]);
    }
    double atol = atol_rel * maxabs;
    if (atol < 1e-12) atol = 1e-12;
    for (size_t i = 0; i < n; i++) {
        double r = fabs(a[i] - b[i]) / (fabs(b[i]) + atol / rtol);
        if (r > worst) worst = r;
    }
    if (worst > worst_rel[kind]) worst_rel[kind] = worst;
    CHECK_CLOSE(what, a, b, (long)n, rtol, atol);
    free(a); free(b);
}

/* Loads the initial state_dicts (checking names, order, shapes and dtypes
 * against PyTorch's) and the Adam state into m. */
static int load_golden_state(sg_st_file *f, sg_model *m, long adam_step)
{
    sg_err err;
    int failed_before = check_failed;   /* this case's own failures, not earlier cases' */
    /* state_dicts: same names, order, shapes, dtypes as PyTorch's */
    char name[128];
    const sg_tensor_info *ti[2];
    int nt[2];
    for (int net = 0; net < 2; net++) {
        nt[net] = sg_model_tensors(m, net, &ti[net]);
        const char *pre = net == SG_NET_G ? "G" : "D";
        int count = 0;
        uint64_t last = 0;
        for (size_t k = 0; k < f->n_tensors; k++) {
            char p[8];
            snprintf(p, sizeof p, "%s.init.", pre);
            if (!strncmp(f->tensors[k].name, p, strlen(p))) count++;
        }
        CHECK(count == nt[net], "%s: %d tensors in PyTorch's state_dict, %d in the model", pre, count, nt[net]);
        for (int i = 0; i < nt[net]; i++) {
            snprintf(name, sizeof name, "%s.init.%s", pre, ti[net][i].name);
            long k = sg_st_find(f, name);
            if (k < 0) { CHECK(0, "model tensor %s not in PyTorch's state_dict", name); continue; }
            sg_st_tensor *t = &f->tensors[k];
            CHECK(t->begin >= last, "%s: out of PyTorch's order", name);
            last = t->begin;
            int same = t->ndim == ti[net][i].ndim && t->dtype == ti[net][i].dtype;
            for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == ti[net][i].shape[d];
            CHECK(same, "%s: shape or dtype differs from PyTorch's", name);
            if (!same) continue;
            void *buf = read_tensor(f, name, 0);
            if (buf && sg_model_set_tensor(m, net, i, buf, &err)) CHECK(0, "%s", err.msg);
            free(buf);
        }
    }
    if (check_failed > failed_before) return -1;

    if (adam_step > 0) {
        const char *mn[2] = { "G.adam_m", "D.adam_m" }, *vn[2] = { "G.adam_v", "D.adam_v" };
        for (int net = 0; net < 2; net++) {
            size_t n = sg_model_trainable_count(m, net);
            float *m1 = read_tensor(f, mn[net], n), *m2 = read_tensor(f, vn[net], n);
            if (m1 && m2 && sg_model_set_adam(m, net, m1, m2, adam_step, &err)) CHECK(0, "%s", err.msg);
            free(m1); free(m2);
        }
    }

    return 0;
}

static void run_case(const char *path, int extra_capacity, int threads)
{
    sg_err err;
    sg_st_file *f;
    if (sg_st_open(&f, path, &err)) { CHECK(0, "%s", err.msg); return; }
    printf("case %s, %d threads\n", path, threads);

    sg_model_config cfg = { 0 };
    cfg.image_size = meta_int(f, "image_size");
    cfg.g_conv_dim = meta_int(f, "g_conv_dim"); cfg.g_repeat = meta_int(f, "g_repeat");
    cfg.d_conv_dim = meta_int(f, "d_conv_dim"); cfg.d_repeat = meta_int(f, "d_repeat");
    cfg.batch = meta_int(f, "batch");
    const char *ld = sg_st_meta(f, "label_dims"), *oh = sg_st_meta(f, "one_hot");
    for (char *e; ld && *ld && cfg.n_datasets < SG_MAX_DATASETS; ld = *e ? e + 1 : e) {
        cfg.label_dim[cfg.n_datasets] = strtol(ld, &e, 10);
        cfg.one_hot[cfg.n_datasets] = strtol(oh, (char **)&oh, 10);
        if (*oh == ',') oh++;
        cfg.n_datasets++;
    }
    cfg.lambda_cls = strtof(sg_st_meta(f, "lambda_cls"), NULL);
    cfg.lambda_rec = strtof(sg_st_meta(f, "lambda_rec"), NULL);
    cfg.lambda_gp = strtof(sg_st_meta(f, "lambda_gp"), NULL);
    cfg.beta1 = 0.5; cfg.beta2 = 0.999;
    float lr = strtof(sg_st_meta(f, "lr"), NULL);
    int ds = meta_int(f, "dataset"), N = cfg.batch;
    cfg.batch += extra_capacity;   /* batches smaller than the buffers' capacity */
    long adam_step = meta_int(f, "adam_step");

    sg_backend *be = sg_backend_cpu_create(threads, &err);
    sg_model *m = NULL;
    if (!be || sg_model_create(&m, &cfg, be, 7, &err)) {
        CHECK(0, "creating the model: %s", err.msg);
        sg_backend_destroy(be); sg_st_close(f);
        return;
    }

    if (load_golden_state(f, m, adam_step)) goto out;
    char name[128];
    const sg_tensor_info *ti[2];
    int nt[2];
    for (int net = 0; net < 2; net++) nt[net] = sg_model_tensors(m, net, &ti[net]);

    int c_dim = sg_model_c_dim(&cfg), S = cfg.image_size;
    float *x = read_tensor(f, "x", (size_t)N * 3 * S * S), *c_org = read_tensor(f, "c_org", (size_t)N * c_dim);
    float *c_trg = read_tensor(f, "c_trg", (size_t)N * c_dim), *alpha = read_tensor(f, "alpha", N);
    if (!x || !c_org || !c_trg || !alpha) goto out_batch;

    /* inference on 2N+1 images (several chunks of the capacity): each copy of
     * the batch must equal PyTorch's G(x, c_trg); running stats stay untouched
     * (checked with the G step's running stats below) */
    {
        size_t img = (size_t)3 * S * S;
        int n = 2 * N + 1;
        float *gx = malloc(n * img * sizeof *gx), *gc = malloc((size_t)n * c_dim * sizeof *gc);
        float *gy = malloc(n * img * sizeof *gy), *want = read_tensor(f, "G.generate", N * img);
        for (int i = 0; i < n; i++) {
            memcpy(gx + i * img, x + (i % N) * img, img * sizeof *gx);
            memcpy(gc + (size_t)i * c_dim, c_trg + (size_t)(i % N) * c_dim, c_dim * sizeof *gc);
        }
        if (want && !sg_model_generate(m, n, gx, gc, gy, &err))
            for (int r = 0; r * N < n; r++) {
                int k = n - r * N < N ? n - r * N : N;
                snprintf(name, sizeof name, "generate, images %d..%d", r * N, r * N + k - 1);
                compare(1, name, gy + r * N * img, want, k * img, 1e-4, 1e-5);
            }
        else CHECK(0, "generate: %s", want ? err.msg : "no golden output");
        free(gx); free(gc); free(gy); free(want);
    }
    if (sg_model_set_batch(m, ds, N, x, c_org, c_trg, alpha, &err)) { CHECK(0, "%s", err.msg); goto out_batch; }

    for (int net = SG_NET_D, pass = 0; pass < 2; pass++, net = SG_NET_G) {
        const char *pre = net == SG_NET_G ? "G" : "D";
        if ((net == SG_NET_D ? sg_model_d_step(m, lr, &err) : sg_model_g_step(m, lr, &err)) != 0) {
            CHECK(0, "%s step: %s", pre, err.msg);
            break;
        }
        sg_losses L;
        if (sg_model_read_losses(m, &L, &err)) { CHECK(0, "%s", err.msg); break; }
        float dl[4] = { L.d_loss_real, L.d_loss_fake, L.d_loss_cls, L.d_loss_gp };
        float gl[3] = { L.g_loss_fake, L.g_loss_rec, L.g_loss_cls };
        snprintf(name, sizeof name, "%s.loss", pre);
        float *want = read_tensor(f, name, net == SG_NET_D ? 4 : 3);
        if (want) {
            const char *dn[4] = { "D/loss_real", "D/loss_fake", "D/loss_cls", "D/loss_gp" };
            const char *gn[3] = { "G/loss_fake", "G/loss_rec", "G/loss_cls" };
            for (int k = 0; k < (net == SG_NET_D ? 4 : 3); k++)
                compare(0, net == SG_NET_D ? dn[k] : gn[k], net == SG_NET_D ? &dl[k] : &gl[k], &want[k], 1, 1e-4, 1e-6);
        }
        free(want);
        for (int i = 0; i < nt[net]; i++) {
            const sg_tensor_info *t = &ti[net][i];
            size_t n = t->numel;
            float *gw = NULL;
            if (t->trainable) {
                snprintf(name, sizeof name, "%s.grad.%s", pre, t->name);
                float *g = malloc(n * sizeof *g);
                gw = read_tensor(f, name, n);
                if (gw && !sg_model_get_grad(m, net, i, g, &err)) compare(1, name, g, gw, n, 1e-4, 1e-4);
                free(g);
            }
            /* the state after the step: the Adam update (after - before) for
             * trainable tensors, the values for running stats and counters */
            char init_name[128];
            snprintf(name, sizeof name, "%s.after.%s", pre, t->name);
            snprintf(init_name, sizeof init_name, "%s.init.%s", pre, t->name);
            if (t->dtype == SG_DTYPE_I64) {
                int64_t got, *w = (int64_t *)read_tensor(f, name, 1);
                if (w && !sg_model_get_tensor(m, net, i, &got, &err))
                    CHECK(got == *w, "%s: %lld, PyTorch %lld", name, (long long)got, (long long)*w);
                free(w); free(gw);
                continue;
            }
            float *got = malloc(n * sizeof *got), *w = read_tensor(f, name, n), *w0 = read_tensor(f, init_name, n);
            if (w && w0 && !sg_model_get_tensor(m, net, i, got, &err)) {
                if (t->trainable && gw) {
                    /* At Adam's first step the update is ~lr*sign(grad): where
                     * PyTorch's gradient is non-zero but within the gradient
                     * tolerance of 0 (float noise decides the sign) the update
                     * is not compared. Later steps are smooth in grad. */
                    double gmax = 0;
                    for (size_t k = 0; k < n; k++) if (fabs(gw[k]) > gmax) gmax = fabs(gw[k]);
                    size_t skipped = 0;
                    for (size_t k = 0; k < n; k++) {
                        got[k] -= w0[k]; w[k] -= w0[k];
                        if (adam_step == 0 && gw[k] != 0 && fabs(gw[k]) <= 1e-4 * gmax) { got[k] = w[k] = 0; skipped++; }
                    }
                    if (skipped) printf("%s: %zu of %zu updates with |grad| <= 1e-4*max not compared\n", name, skipped, n);
                    compare(2, name, got, w, n, 1e-3, 1e-3);
                } else compare(3, name, got, w, n, 1e-4, 1e-5);
            }
            free(got); free(w); free(w0); free(gw);
        }
    }

    /* determinism: a second model from the same state, same steps, same thread
     * count: bit-identical losses, weights, running stats and Adam moments */
    {
        sg_model *m2 = NULL;
        sg_losses l1, l2;
        if (sg_model_create(&m2, &cfg, be, 7, &err) || load_golden_state(f, m2, adam_step) ||
            sg_model_set_batch(m2, ds, N, x, c_org, c_trg, alpha, &err) ||
            sg_model_d_step(m2, lr, &err) || sg_model_g_step(m2, lr, &err) ||
            sg_model_read_losses(m, &l1, &err) || sg_model_read_losses(m2, &l2, &err)) {
            CHECK(0, "determinism run: %s", err.msg);
        } else {
            CHECK(!memcmp(&l1, &l2, sizeof l1), "determinism: losses differ between identical runs");
            int same = 1;
            for (int net = 0; net < 2; net++) {
                for (int i = 0; i < nt[net]; i++) {
                    size_t bytes = ti[net][i].numel * (ti[net][i].dtype == SG_DTYPE_I64 ? 8 : 4);
                    void *a = malloc(bytes), *b = malloc(bytes);
                    sg_model_get_tensor(m, net, i, a, &err);
                    sg_model_get_tensor(m2, net, i, b, &err);
                    if (memcmp(a, b, bytes)) { same = 0; printf("determinism: %s differs\n", ti[net][i].name); }
                    free(a); free(b);
                }
                size_t n = sg_model_trainable_count(m, net);
                float *a1 = malloc(n * 4), *a2 = malloc(n * 4), *b1 = malloc(n * 4), *b2 = malloc(n * 4);
                int64_t s1, s2;
                sg_model_get_adam(m, net, a1, a2, &s1, &err);
                sg_model_get_adam(m2, net, b1, b2, &s2, &err);
                if (memcmp(a1, b1, n * 4) || memcmp(a2, b2, n * 4) || s1 != s2) { same = 0; printf("determinism: Adam state differs\n"); }
                free(a1); free(a2); free(b1); free(b2);
            }
            CHECK(same, "determinism: state differs between identical runs");
        }
        sg_model_free(m2);
    }
out_batch:
    free(x); free(c_org); free(c_trg); free(alpha);
out:
    sg_model_free(m);
    sg_backend_destroy(be);
    sg_st_close(f);
}

/* PyTorch's default init from the counter-based draws: every conv weight and
 * D bias uniform within +-1/sqrt(fan_in) (fan_in from dim 1, so Cout*K*K for
 * G's ConvTranspose2d) and spread over that range; IN weight 1, bias 0,
 * running mean 0, var 1; the same seed gives the same weights. Also checks
 * that bad configurations are refused. */
static void test_init_and_config(void)
{
    sg_model_config cfg = { .image_size = 32, .n_datasets = 2, .label_dim = { 3, 4 }, .one_hot = { 0, 1 },
                            .g_conv_dim = 8, .g_repeat = 1, .d_conv_dim = 8, .d_repeat = 3, .batch = 2,
                            .lambda_cls = 1, .lambda_rec = 10, .lambda_gp = 10, .beta1 = 0.5, .beta2 = 0.999 };
    CHECK(sg_model_c_dim(&cfg) == 9 && sg_model_cls_dim(&cfg) == 7 && sg_model_label_offset(&cfg, 1) == 3,
          "label layout: c_dim %d cls_dim %d offset %d", sg_model_c_dim(&cfg), sg_model_cls_dim(&cfg),
          sg_model_label_offset(&cfg, 1));
    sg_err err;
    sg_model_config bad = cfg;
    bad.image_size = 36;   /* not a multiple of 2^d_repeat */
    CHECK(sg_model_config_check(&bad, &err) != 0, "image size 36 with d_repeat 3 must be refused");
    bad = cfg; bad.image_size = 4; bad.d_repeat = 2;   /* G's residual blocks would normalize 1x1 planes */
    CHECK(sg_model_config_check(&bad, &err) != 0, "image size 4 must be refused");
    bad.image_size = 8;
    CHECK(sg_model_config_check(&bad, &err) == 0, "image size 8 with d_repeat 2: %s", err.msg);
    bad = cfg; bad.n_datasets = 0;
    CHECK(sg_model_config_check(&bad, &err) != 0, "0 datasets must be refused");
    /* the batch bound: one tensor within 2^31 - 1 values (cuDNN's limit) */
    sg_model_config ref = { .image_size = 128, .n_datasets = 1, .label_dim = { 5 }, .g_conv_dim = 64, .g_repeat = 6,
                            .d_conv_dim = 64, .d_repeat = 6, .batch = 2048, .beta1 = 0.5, .beta2 = 0.999 };
    /* G's 64 x 128 x 128 maps: 2^31 / 2^20 = 2048, less the one value over */
    CHECK(sg_model_batch_max(&ref, 1) == 2047 && sg_model_batch_max(&ref, 0) == 2047, "batch max at 128 px: %d, %d",
          sg_model_batch_max(&ref, 1), sg_model_batch_max(&ref, 0));
    sg_model_config small_g = ref;
    small_g.g_conv_dim = 1;   /* G's widest: 3 + c_dim = 8 channels; D's first: 3 rows x 64 x 64 x 64 per image */
    CHECK(sg_model_batch_max(&small_g, 1) == 16383 && sg_model_batch_max(&small_g, 0) == 2730,
          "batch max, tiny G: %d, %d", sg_model_batch_max(&small_g, 1), sg_model_batch_max(&small_g, 0));
    small_g.image_size = 8;
    /* the tensors would allow 65536 images: the CUDA kernels' grid limit is 65535 */
    CHECK(sg_model_batch_max(&small_g, 0) == 65535, "batch max at 8 px: %d", sg_model_batch_max(&small_g, 0));
    {
        sg_backend *cpu = sg_backend_cpu_create(1, &err);
        sg_model *big = NULL;
        /* true on both backends: the CPU keeps the CUDA backend's limit */
        const char *want = "model: batch 2048 at 128 px is too large: a convolution would hold more than 2^31-1 "
                           "values (cuDNN's limit for one tensor; kept on the CPU so that runs move between the "
                           "backends); the largest batch is 2047";
        CHECK(cpu && sg_model_create_generator(&big, &ref, cpu, 1, &err) == -1 && !big && !strcmp(err.msg, want),
              "batch 2048 at 128 px: \"%s\"", err.msg);
        if (big) sg_model_free(big);
        sg_model_config huge = ref;   /* 4096 px, 128 channels: 2^31 values in one image's map */
        huge.image_size = 4096;
        huge.g_conv_dim = 128;
        huge.batch = 1;
        CHECK(sg_model_batch_max(&huge, 1) == 0, "batch max at 4096 px, conv 128: %d", sg_model_batch_max(&huge, 1));
        CHECK(cpu && sg_model_create_generator(&big, &huge, cpu, 1, &err) == -1 && !big &&
              strstr(err.msg, "one image's convolution would hold more than 2^31-1 values (cuDNN's limit for one "
                     "tensor; kept on the CPU"), "one image too large: \"%s\"",
              err.msg);
        if (big) sg_model_free(big);
        if (cpu) sg_backend_destroy(cpu);
    }
    bad = cfg; bad.one_hot[1] = 1; bad.label_dim[1] = 1;
    CHECK(sg_model_config_check(&bad, &err) != 0, "a one-hot dataset with 1 class must be refused");
    /* every conv weight within 2^31 - 1 values (cuDNN's filter limit), the
     * option to lower named with the most it may be */
    {
        sg_model_config w = ref;
        w.batch = 1;
        w.d_conv_dim = 512;   /* D's main.10: (16384, 8192, 4, 4) = 2^31 */
        CHECK(sg_model_config_check(&w, &err) != 0 &&
              !strcmp(err.msg, "model: D's conv main.10 would hold 2147483648 weights, more than 2^31-1 (cuDNN's "
                      "limit for one tensor; kept on the CPU so that runs move between the backends): use "
                      "--d-conv-dim 511 or less"), "--d-conv-dim 512: \"%s\"", err.msg);
        w.d_conv_dim = 511;   /* 8192 x 511^2 = 2139103232 */
        CHECK(sg_model_config_check(&w, &err) == 0, "--d-conv-dim 511: %s", err.msg);
        w = ref; w.batch = 1;
        w.g_conv_dim = 4096;  /* a residual conv: (16384, 16384, 3, 3) */
        CHECK(sg_model_config_check(&w, &err) != 0 && strstr(err.msg, "model: G's conv main.9.main.0 would hold "
              "2415919104 weights") && strstr(err.msg, ": use --g-conv-dim 3861 or less"), "--g-conv-dim 4096: \"%s\"",
              err.msg);
        w.g_conv_dim = 3861;  /* 144 x 3861^2 = 2146706064 */
        CHECK(sg_model_config_check(&w, &err) == 0, "--g-conv-dim 3861: %s", err.msg);
        w = ref; w.batch = 1;
        w.image_size = 4096; w.d_repeat = 1; w.label_dim[0] = 40;   /* the cls head: (40, 64, 2048, 2048) */
        CHECK(sg_model_config_check(&w, &err) != 0 && strstr(err.msg, "model: D's conv conv2 would hold 10737418240 "
              "weights") && strstr(err.msg, ": use --d-conv-dim 12 or less"), "cls head at 4096 px: \"%s\"", err.msg);
        w.label_dim[0] = 4096; w.d_conv_dim = 1;   /* (4096, 1, 2048, 2048): no conv dim fits */
        CHECK(sg_model_config_check(&w, &err) != 0 && strstr(err.msg, ": use a larger --d-repeat or fewer labels"),
              "cls head at d_conv_dim 1: \"%s\"", err.msg);
    }

    sg_backend *be = sg_backend_cpu_create(2, &err);
    sg_model *m = NULL, *m2 = NULL;
    if (!be || sg_model_create(&m, &cfg, be, 42, &err) || sg_model_create(&m2, &cfg, be, 42, &err)) {
        CHECK(0, "creating models: %s", err.msg);
        sg_model_free(m); sg_backend_destroy(be);
        return;
    }
    for (int net = 0; net < 2; net++) {
        const sg_tensor_info *ti;
        int n = sg_model_tensors(m, net, &ti);
        for (int i = 0; i < n; i++) {
            const sg_tensor_info *t = &ti[i];
            if (t->dtype == SG_DTYPE_I64) {
                int64_t v = -1;
                sg_model_get_tensor(m, net, i, &v, &err);
                CHECK(v == 0, "%s: %lld, want 0", t->name, (long long)v);
                continue;
            }
            float *a = malloc(t->numel * sizeof *a), *b = malloc(t->numel * sizeof *b);
            sg_model_get_tensor(m, net, i, a, &err);
            sg_model_get_tensor(m2, net, i, b, &err);
            CHECK(!memcmp(a, b, t->numel * sizeof *a), "%s: the same seed must give the same values", t->name);
            const char *leaf = strrchr(t->name, '.') + 1;
            int conv_bias = net == SG_NET_D && !strcmp(leaf, "bias");
            if (t->ndim == 4 || conv_bias) {
                /* the weight of a bias is the tensor before it */
                const sg_tensor_info *w = t->ndim == 4 ? t : t - 1;
                double bound = 1 / sqrt((double)(w->shape[1] * w->shape[2] * w->shape[3])), lo = 0, hi = 0;
                for (size_t k = 0; k < t->numel; k++) { if (a[k] < lo) lo = a[k]; if (a[k] > hi) hi = a[k]; }
                CHECK(lo >= -bound && hi <= bound, "%s: values in [%g, %g], bound %g", t->name, lo, hi, bound);
                if (t->numel >= 64)
                    CHECK(lo < -0.8 * bound && hi > 0.8 * bound, "%s: values in [%g, %g] do not fill +-%g",
                          t->name, lo, hi, bound);
            } else {
                float want = !strcmp(leaf, "weight") || !strcmp(leaf, "running_var") ? 1.0f : 0.0f;
                int ok = 1;
                for (size_t k = 0; k < t->numel; k++) ok &= a[k] == want;
                CHECK(ok, "%s: every value must be %g", t->name, want);
            }
            free(a); free(b);
        }
    }
    /* G's first up-sampling layer is a ConvTranspose2d (Cin, Cout, 4, 4) */
    const sg_tensor_info *gt;
    int ng = sg_model_tensors(m, SG_NET_G, &gt), found = 0;
    for (int i = 0; i < ng; i++)
        if (!strcmp(gt[i].name, "main.10.weight"))
            found = gt[i].shape[0] == 32 && gt[i].shape[1] == 16 && gt[i].shape[2] == 4;
    CHECK(found, "main.10.weight (G's first ConvTranspose2d, g_repeat 1) must be (32, 16, 4, 4)");
    sg_model_free(m); sg_model_free(m2);
    sg_backend_destroy(be);
}

int main(void)
{
    test_init_and_config();
    /* the CPU backend splits work by thread count: the result must match
     * PyTorch for any count */
    for (int threads = 1; threads <= 3; threads++) {
        run_case(GOLDEN_DIR "/stargan_single.safetensors", 0, threads);
        run_case(GOLDEN_DIR "/stargan_multi.safetensors", 2, threads);
        run_case(GOLDEN_DIR "/stargan_multi_hot.safetensors", 1, threads);
    }
    for (int k = 0; k < 4; k++)
        printf("worst relative error (|d|/(|want|+atol/rtol)), %s: %.3g\n", kind_name[k], worst_rel[k]);
    return check_done();
}
