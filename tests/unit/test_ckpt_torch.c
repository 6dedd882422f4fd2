/* Checkpoints: save/load round trip (weights, running stats, num_batches_tracked,
 * Adam moments and steps bit for bit), validation against the model (another
 * config, corrupt files, step mismatch), latest/prune, and — when /usr/bin/python3
 * has torch — loading the files into the reference PyTorch model
 * (tests/golden/load_ckpt_in_torch.py), whose G output must match sg_model_generate. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "backend.h"
#include "check.h"
#include "checkpoint.h"
#include "checkpoint_testing.h"
#include "ckpt_edit.h"
#include "model.h"
#include "rng.h"
#include "safetensors.h"

static char dir[256];

static sg_model_config tiny_config(int conv)
{
    sg_model_config c = {.image_size = 16, .n_datasets = 2, .label_dim = {3, 2}, .one_hot = {0, 1},
                         .g_conv_dim = conv, .g_repeat = 1, .d_conv_dim = conv, .d_repeat = 3, .batch = 4,
                         .lambda_cls = 1, .lambda_rec = 10, .lambda_gp = 10, .beta1 = 0.5, .beta2 = 0.999};
    return c;
}

static void random_batch(sg_model *m, const sg_model_config *cfg, int it)
{
    int n = cfg->batch, S = cfg->image_size, C = sg_model_c_dim(cfg), ds = it % 2;
    int off = sg_model_label_offset(cfg, ds), L = cfg->label_dim[ds], mask = sg_model_cls_dim(cfg);
    float *x = malloc(sizeof(float) * n * 3 * S * S), *co = calloc(n * C, 4), *ct = calloc(n * C, 4);
    float al[64];
    for (int i = 0; i < n * 3 * S * S; i++) x[i] = sg_randu(7, 100 + it, i) * 2 - 1;
    for (int k = 0; k < n; k++) {
        if (cfg->one_hot[ds]) {
            co[k * C + off + sg_randint(7, 200 + it, k, L)] = 1;
            ct[k * C + off + sg_randint(7, 300 + it, k, L)] = 1;
        } else
            for (int j = 0; j < L; j++) {
                co[k * C + off + j] = sg_randu(7, 200 + it, k * L + j) < 0.5f;
                ct[k * C + off + j] = sg_randu(7, 300 + it, k * L + j) < 0.5f;
            }
        co[k * C + mask + ds] = ct[k * C + mask + ds] = 1;
        al[k] = sg_randu(7, 400 + it, k);
    }
    sg_err err;
    CHECK(sg_model_set_batch(m, ds, n, x, co, ct, al, &err) == 0, "set_batch: %s", err.msg);
    free(x); free(co); free(ct);
}

/* Every tensor and the Adam state of both nets, bit for bit. */
static int same_state(sg_model *a, sg_model *b, int verbose)
{
    int same = 1;
    sg_err err;
    for (int net = 0; net < 2; net++) {
        const sg_tensor_info *la;
        int n = sg_model_tensors(a, (sg_net)net, &la);
        for (int i = 0; i < n; i++) {
            size_t bytes = la[i].numel * (la[i].dtype == SG_DTYPE_I64 ? 8 : 4);
            void *pa = malloc(bytes), *pb = malloc(bytes);
            sg_model_get_tensor(a, (sg_net)net, i, pa, &err);
            sg_model_get_tensor(b, (sg_net)net, i, pb, &err);
            if (memcmp(pa, pb, bytes)) { if (verbose) printf("  differs: %s %s\n", net ? "D" : "G", la[i].name); same = 0; }
            free(pa); free(pb);
        }
        size_t tc = sg_model_trainable_count(a, (sg_net)net);
        float *m1a = malloc(4 * tc), *m2a = malloc(4 * tc), *m1b = malloc(4 * tc), *m2b = malloc(4 * tc);
        int64_t sa, sb;
        sg_model_get_adam(a, (sg_net)net, m1a, m2a, &sa, &err);
        sg_model_get_adam(b, (sg_net)net, m1b, m2b, &sb, &err);
        if (sa != sb || memcmp(m1a, m1b, 4 * tc) || memcmp(m2a, m2b, 4 * tc)) {
            if (verbose) printf("  differs: %s Adam state (steps %lld %lld)\n", net ? "D" : "G", (long long)sa, (long long)sb);
            same = 0;
        }
        free(m1a); free(m2a); free(m1b); free(m2b);
    }
    return same;
}

static void write_floats(const char *name, const float *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(p, 4, n, f) == n && fclose(f) == 0, "write %s", path);
}

static void copy_file(const char *from, const char *to)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    CHECK(system(cmd) == 0, "%s", cmd);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_ckpt_torch.%ld", (long)getpid());
    mkdir(dir, 0755);
    sg_err err = {{0}};
    sg_backend *be = sg_backend_cpu_create(1, &err);
    if (!be) { printf("cpu backend: %s\n", err.msg); return 1; }
    sg_model_config cfg = tiny_config(4);
    sg_model *a = NULL, *b = NULL, *other = NULL;
    CHECK(sg_model_create(&a, &cfg, be, 1, &err) == 0, "create: %s", err.msg);
    CHECK(sg_model_create(&b, &cfg, be, 2, &err) == 0, "create: %s", err.msg);
    if (!a || !b) return check_done();
    /* A few steps so that weights, running stats, counters and Adam moments are nontrivial. */
    for (int it = 0; it < 4; it++) {
        random_batch(a, &cfg, it);
        CHECK(sg_model_d_step(a, 1e-3f, &err) == 0, "d_step: %s", err.msg);
        if (it % 2) CHECK(sg_model_g_step(a, 1e-3f, &err) == 0, "g_step: %s", err.msg);
    }
    const char *names[5] = {"Black_Hair", "Blond_Hair", "Male", "happy", "sad"};
    sg_ckpt_info info = {0};
    info.model = cfg;
    info.n_labels = 5;
    info.label_names = (char **)names;
    info.crop = 178;
    snprintf(info.dataset_names[0], SG_CKPT_NAME_MAX, "celebA");
    snprintf(info.dataset_names[1], SG_CKPT_NAME_MAX, "rafd");
    CHECK(sg_ckpt_save(a, dir, &info, 4, &err) == 0, "save: %s", err.msg);
    int64_t latest = -2;
    CHECK(sg_ckpt_latest(dir, &latest, &err) == 0 && latest == 4, "latest %lld: %s", (long long)latest, err.msg);

    /* Round trip into a model with other initial weights. */
    CHECK(!same_state(a, b, 0), "models should differ before loading");
    CHECK(sg_ckpt_load(b, dir, 4, NULL, &err) == 0, "load: %s", err.msg);
    CHECK(same_state(a, b, 1), "loaded model differs from the saved one");

    /* Metadata. */
    char g[512], d[512], s[512], bad[600];
    sg_ckpt_path(g, sizeof g, dir, 4, "G");
    sg_ckpt_path(d, sizeof d, dir, 4, "D");
    sg_ckpt_path(s, sizeof s, dir, 4, "state");
    sg_ckpt_info ri;
    CHECK(sg_ckpt_read_info(g, &ri, &err) == 0, "read_info: %s", err.msg);
    CHECK(ri.model.image_size == 16 && ri.model.n_datasets == 2 && ri.model.label_dim[1] == 2 &&
          ri.model.one_hot[1] == 1 && ri.model.one_hot[0] == 0 && ri.model.d_repeat == 3 && ri.step == 4 &&
          ri.crop == 178 && ri.n_labels == 5 && !strcmp(ri.label_names[3], "happy") &&
          !strcmp(ri.dataset_names[1], "rafd"), "metadata round trip");
    sg_ckpt_info_free(&ri);

    /* Another configuration: a clear shape message, nothing loaded. */
    sg_model_config c8 = tiny_config(8);
    CHECK(sg_model_create(&other, &c8, be, 3, &err) == 0, "create: %s", err.msg);
    CHECK(sg_ckpt_read_net(other, SG_NET_G, g, &err) == -1 && strstr(err.msg, "main.0.weight: shape [4, 10, 7, 7], expected [8, 10, 7, 7]"),
          "other config: %s", err.msg);
    CHECK(sg_ckpt_read_state(other, s, &latest, &err) == -1 && strstr(err.msg, "shape"), "other config state: %s", err.msg);
    /* G's file given for D: its metadata says so (before, the first tensor's shape did) */
    CHECK(sg_ckpt_read_net(a, SG_NET_D, g, &err) == -1 &&
          strstr(err.msg, "000004-G.safetensors: metadata net \"G\": this file holds G's weights, not D's weights"),
          "G file as D: %s", err.msg);
    CHECK(sg_ckpt_read_net(a, SG_NET_G, s, &err) == -1 &&
          strstr(err.msg, "000004-state.safetensors: metadata net \"state\": this file holds the optimizer state, not G's weights"),
          "state file as G: %s", err.msg);
    CHECK(sg_ckpt_read_state(a, d, &latest, &err) == -1 &&
          strstr(err.msg, "000004-D.safetensors: metadata net \"D\": this file holds D's weights, not the optimizer state"),
          "D file as state: %s", err.msg);
    /* ... and names the file meant, beside it (it said only what the file holds) */
    {
        char want[1200];
        snprintf(want, sizeof want, "; give the G file beside it, %s", g);
        CHECK(sg_ckpt_read_net(a, SG_NET_G, d, &err) == -1 && strlen(err.msg) >= strlen(want) &&
              !strcmp(err.msg + strlen(err.msg) - strlen(want), want), "D file as G: %s", err.msg);
        snprintf(want, sizeof want, "; give the state file beside it, %s", s);
        CHECK(sg_ckpt_read_state(a, d, &latest, &err) == -1 && strlen(err.msg) >= strlen(want) &&
              !strcmp(err.msg + strlen(err.msg) - strlen(want), want), "D file as state: %s", err.msg);
        /* none beside it: nothing named */
        char lone[600];
        snprintf(lone, sizeof lone, "%s/lone-D.safetensors", dir);
        CHECK(link(d, lone) == 0, "link %s: %s", lone, strerror(errno));
        CHECK(sg_ckpt_read_net(a, SG_NET_G, lone, &err) == -1 && strstr(err.msg, "not G's weights") &&
              !strstr(err.msg, "beside"), "lone D file as G: %s", err.msg);
        unlink(lone);
    }

    /* G's tensors and metadata and one more tensor: another model's file, refused
     * by name (without the data_crc32 key, which the new data would not match:
     * the tensor check is the one that must catch it) */
    {
        sg_st_file *gf = NULL;
        char extra[600];
        snprintf(extra, sizeof extra, "%s/extra-G.safetensors", dir);
        if (sg_st_open(&gf, g, &err)) {
            CHECK(0, "open %s: %s", g, err.msg);
        } else {
            size_t nt = gf->n_tensors, nm = 0;
            sg_st_spec *specs = calloc(nt + 1, sizeof *specs);
            void **bufs = calloc(nt, sizeof *bufs);
            const char **keys = calloc(gf->n_meta, sizeof *keys), **values = calloc(gf->n_meta, sizeof *values);
            int ok = specs && bufs && keys && values;
            for (size_t k = 0; ok && k < nt; k++) {
                const sg_st_tensor *t = &gf->tensors[k];
                specs[k].name = t->name;
                specs[k].dtype = t->dtype;
                specs[k].ndim = t->ndim;
                memcpy(specs[k].shape, t->shape, sizeof t->shape);
                ok = (bufs[k] = malloc(t->end - t->begin + 1)) && !sg_st_read(gf, k, bufs[k], t->end - t->begin, &err);
                specs[k].data = bufs[k];
            }
            static const float w99[2] = {0.5f, -0.5f};
            if (ok) specs[nt] = (sg_st_spec){"main.99.weight", SG_ST_F32, 1, {2}, w99};
            for (size_t k = 0; ok && k < gf->n_meta; k++)
                if (strcmp(gf->meta_keys[k], "data_crc32")) { keys[nm] = gf->meta_keys[k]; values[nm++] = gf->meta_values[k]; }
            CHECK(ok && sg_st_write(extra, specs, nt + 1, keys, values, nm, &err) == 0, "write %s: %s", extra, err.msg);
            for (size_t k = 0; bufs && k < nt; k++) free(bufs[k]);
            free(specs); free(bufs); free(keys); free(values);
            sg_st_close(gf);
            const char *want = "extra-G.safetensors: unexpected tensor main.99.weight (a checkpoint of another model?)";
            CHECK(sg_ckpt_read_net(b, SG_NET_G, extra, &err) == -1 && strstr(err.msg, want), "an extra tensor: %s",
                  err.msg);
            CHECK(sg_ckpt_read_generator(b, extra, NULL, &err) == -1 && strstr(err.msg, want),
                  "an extra tensor (generator): %s", err.msg);
            sg_ckpt_info ei;
            if (sg_ckpt_read_info(extra, &ei, &err) == 0) {
                CHECK(sg_ckpt_check_generator_tensors(extra, &ei, &err) == -1 && strstr(err.msg, want),
                      "an extra tensor (checked for sg-sample): %s", err.msg);
                sg_ckpt_info_free(&ei);
            } else {
                CHECK(0, "read_info %s: %s", extra, err.msg);
            }
            CHECK(same_state(a, b, 1), "a refused G file changed the model");
        }
    }

    /* Corrupt and truncated files: the load fails and the model keeps its state. */
    snprintf(bad, sizeof bad, "%s/bad", dir);
    mkdir(bad, 0755);
    snprintf(bad, sizeof bad, "%s/bad/ckpt", dir);
    mkdir(bad, 0755);
    char bg[600], bd[600], bs[600];
    snprintf(bad, sizeof bad, "%s/bad", dir);
    sg_ckpt_path(bg, sizeof bg, bad, 4, "G");
    sg_ckpt_path(bd, sizeof bd, bad, 4, "D");
    sg_ckpt_path(bs, sizeof bs, bad, 4, "state");
    copy_file(g, bg);
    copy_file(d, bd);
    copy_file(s, bs);
    struct stat st;
    stat(bs, &st);
    CHECK(truncate(bs, st.st_size - 100) == 0, "truncate");
    sg_model *fresh;
    CHECK(sg_model_create(&fresh, &cfg, be, 2, &err) == 0, "create: %s", err.msg);
    CHECK(sg_ckpt_load(fresh, bad, 4, NULL, &err) == -1 && strstr(err.msg, bs) && strstr(err.msg, "out of bounds"),
          "truncated state: %s", err.msg);
    sg_model *fresh2;
    CHECK(sg_model_create(&fresh2, &cfg, be, 2, &err) == 0, "create: %s", err.msg);
    CHECK(same_state(fresh, fresh2, 1), "a failed load changed the model");
    CHECK(sg_ckpt_load(fresh, bad, 5, NULL, &err) == -1 && strstr(err.msg, "No such file"), "missing step: %s", err.msg);
    /* A G file of step 4 named as step 8. */
    copy_file(s, bs);
    char g8[600], d8[600], s8[600];
    sg_ckpt_path(g8, sizeof g8, bad, 8, "G");
    sg_ckpt_path(d8, sizeof d8, bad, 8, "D");
    sg_ckpt_path(s8, sizeof s8, bad, 8, "state");
    copy_file(g, g8);
    copy_file(d, d8);
    copy_file(s, s8);
    CHECK(sg_ckpt_load(fresh, bad, 8, NULL, &err) == -1 && strstr(err.msg, "metadata step 4, expected 8"), "step mismatch: %s", err.msg);
    /* ... with every file's metadata step made 8 too (the data CRCs do not
     * cover metadata): the state's own iteration counter still says 4 */
    ckpt_edit_meta(g8, "step", "8");
    ckpt_edit_meta(d8, "step", "8");
    ckpt_edit_meta(s8, "step", "8");
    CHECK(sg_ckpt_load(fresh, bad, 8, NULL, &err) == -1 && strstr(err.msg, s8) &&
          strstr(err.msg, "iteration 4, expected 8"), "iteration counter 4 under metadata step 8: %s", err.msg);
    CHECK(same_state(fresh, fresh2, 1), "a failed load changed the model");
    /* A negative G.step (Adam's t: its bias correction 1 - beta^t would turn
     * negative), the state's own CRC made right */
    {
        sg_st_file *sf = NULL;
        long at = -1;
        if (sg_st_open(&sf, bs, &err) == 0) {
            long i = sg_st_find(sf, "G.step");
            if (i >= 0 && sf->tensors[i].end - sf->tensors[i].begin == 8) at = (long)sf->tensors[i].begin + 7;
            sg_st_close(sf);
        }
        CHECK(at >= 0, "no 8-byte G.step in %s: %s", bs, err.msg);
        if (at >= 0) ckpt_edit_set_data(bs, at, 0xff);   /* the I64's top byte */
        sg_model *fresh3;
        CHECK(sg_model_create(&fresh3, &cfg, be, 2, &err) == 0, "create: %s", err.msg);
        CHECK(sg_ckpt_load(fresh3, bad, 4, NULL, &err) == -1 && strstr(err.msg, bs) &&
              strstr(err.msg, "negative step counter"), "a negative G.step: %s", err.msg);
        /* refused before the weights were applied (the model's own refusal of
         * a negative Adam step comes only after them) */
        CHECK(same_state(fresh3, fresh2, 1), "a load refused for a negative step changed the model");
        sg_model_free(fresh3);
        copy_file(s, bs);
    }

    /* latest: malformed, missing; prune keeps the newest N and the latest. */
    char lp[600];
    snprintf(lp, sizeof lp, "%s/latest", bad);
    FILE *f = fopen(lp, "w");
    fputs("12x\n", f);
    fclose(f);
    CHECK(sg_ckpt_latest(bad, &latest, &err) == -1 && strstr(err.msg, "latest"), "bad latest: %s", err.msg);
    f = fopen(lp, "w");
    fputs("000004\n", f);
    fclose(f);
    CHECK(sg_ckpt_latest(bad, &latest, &err) == 0 && latest == 4, "latest 4");
    CHECK(sg_ckpt_prune(bad, 1, &err) == 0, "prune: %s", err.msg);
    CHECK(access(bg, F_OK) == 0 && access(g8, F_OK) == 0, "prune kept latest (4) and ignored 8 > latest");
    CHECK(sg_ckpt_save(a, bad, &info, 12, &err) == 0, "save 12: %s", err.msg);
    CHECK(sg_ckpt_prune(bad, 1, &err) == 0, "prune: %s", err.msg);
    CHECK(access(bg, F_OK) != 0 && access(bs, F_OK) != 0 && access(g8, F_OK) != 0, "prune removed 4 and 8");
    sg_ckpt_path(bg, sizeof bg, bad, 12, "state");
    CHECK(access(bg, F_OK) == 0, "prune kept 12");
    /* a stray copy of 12's G under another name is not a second checkpoint 12 */
    char stray[700];
    sg_ckpt_path(bg, sizeof bg, bad, 12, "G");
    snprintf(stray, sizeof stray, "%s/ckpt/0000012-G.safetensors", bad);
    copy_file(bg, stray);
    CHECK(sg_ckpt_save(a, bad, &info, 16, &err) == 0, "save 16: %s", err.msg);
    CHECK(sg_ckpt_prune(bad, 2, &err) == 0, "prune: %s", err.msg);
    CHECK(access(bg, F_OK) == 0 && access(stray, F_OK) == 0, "prune 2 with a stray 0000012-G kept only 16");
    /* an incomplete checkpoint (a failed save's G alone) is not counted: with
     * 12, G-only 16 and 20, keep 2 keeps 12 (16's D and state removed by hand) */
    char d16[700], s16[700];
    sg_ckpt_path(d16, sizeof d16, bad, 16, "D");
    sg_ckpt_path(s16, sizeof s16, bad, 16, "state");
    unlink(d16); unlink(s16);
    CHECK(sg_ckpt_save(a, bad, &info, 20, &err) == 0, "save 20: %s", err.msg);
    CHECK(sg_ckpt_prune(bad, 2, &err) == 0, "prune: %s", err.msg);
    CHECK(access(bg, F_OK) == 0, "prune 2 over complete 12, G-only 16 and 20 removed 12");
    CHECK(sg_ckpt_save(a, bad, &info, 24, &err) == 0 && sg_ckpt_prune(bad, 2, &err) == 0, "save 24: %s", err.msg);
    sg_ckpt_path(d16, sizeof d16, bad, 16, "G");
    CHECK(access(bg, F_OK) != 0 && access(d16, F_OK) != 0, "prune 2 at 24 kept 12 or G-only 16 (older than 20)");
    int64_t none;
    snprintf(lp, sizeof lp, "%s/nothing-here", dir);
    CHECK(sg_ckpt_latest(lp, &none, &err) == 0 && none == -1, "no latest");

    /* G output for the PyTorch comparison. */
    int n = 3, S = cfg.image_size, C = sg_model_c_dim(&cfg);
    float *x = malloc(sizeof(float) * n * 3 * S * S), *c = calloc(n * C, 4), *y = malloc(sizeof(float) * n * 3 * S * S);
    for (int i = 0; i < n * 3 * S * S; i++) x[i] = sg_randu(11, 1, i) * 2 - 1;
    c[0 * C + 0] = 1; c[0 * C + 2] = 1; c[0 * C + 5] = 1;    /* celebA labels, mask 0 */
    c[1 * C + 4] = 1; c[1 * C + 6] = 1;                     /* rafd class 1, mask 1 */
    c[2 * C + 1] = 1; c[2 * C + 5] = 1;
    CHECK(sg_model_generate(b, n, x, c, y, &err) == 0, "generate: %s", err.msg);
    write_floats("x.f32", x, (size_t)n * 3 * S * S);
    write_floats("c.f32", c, (size_t)n * C);
    write_floats("y.f32", y, (size_t)n * 3 * S * S);
    if (system("/usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1") != 0) {
        SKIP("PyTorch comparison: /usr/bin/python3 cannot import torch");
    } else {
        char cmd[3000];
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/golden/load_ckpt_in_torch.py %s %s %s/x.f32 %s/y.f32 %s/c.f32 %d",
                 g, d, dir, dir, dir, n);
        int rc = system(cmd);
        CHECK(rc == 0, "PyTorch comparison failed (exit %d): %s", rc, cmd);
    }
    free(x); free(c); free(y);
    sg_model_free(a); sg_model_free(b); sg_model_free(other); sg_model_free(fresh); sg_model_free(fresh2);
    sg_backend_destroy(be);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (check_failed == 0 && system(cmd)) {}
    return check_done();
}
