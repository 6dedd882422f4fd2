/* lib/run_config: the options' defaults, the option table that config.json's
 * writer and reader and sg-train's options share (every row's extremes
 * written by a run and read back, one past each end refused), and the
 * datasets' names sg-train gives shards. */
#define _GNU_SOURCE   /* memmem */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "backend.h"
#include "check.h"
#include "dead_pid.h"
#include "fileio.h"
#include "run_config.h"
#include "strbuf.h"
#include "test_tmpdir.h"
#include "train_fixture.h"
#include "trainer.h"

/* The defaults are the reference StarGAN recipe (a plain sg-train run trains
 * it; --help prints these numbers, and docs.bats checks them against a run's
 * config.json): a drifted beta2 or lambda_gp passes every other test. */
static void test_defaults(void)
{
    sg_train_options o;
    sg_train_options_default(&o);
    CHECK(o.g_lr == 1e-4 && o.d_lr == 1e-4 && o.beta1 == 0.5 && o.beta2 == 0.999, "Adam: g_lr %g d_lr %g betas %g %g",
          o.g_lr, o.d_lr, o.beta1, o.beta2);
    CHECK(o.lambda_cls == 1 && o.lambda_rec == 10 && o.lambda_gp == 10, "lambdas: cls %g rec %g gp %g", o.lambda_cls,
          o.lambda_rec, o.lambda_gp);
    CHECK(o.n_critic == 5 && o.batch == 16 && o.iters == 200000 && o.decay_iters == 100000,
          "n_critic %d batch %d iters %lld decay_iters %lld", o.n_critic, o.batch, (long long)o.iters,
          (long long)o.decay_iters);
    CHECK(o.g_conv_dim == 64 && o.g_repeat == 6 && o.d_conv_dim == 64 && o.d_repeat == 0,
          "model: g_conv_dim %d g_repeat %d d_conv_dim %d d_repeat %d (0: by image size)", o.g_conv_dim, o.g_repeat,
          o.d_conv_dim, o.d_repeat);
    CHECK(o.flip == 1 && o.target_random == 0 && o.seed == 0, "flip %d target_random %d seed %llu", o.flip,
          o.target_random, (unsigned long long)o.seed);
    CHECK(o.log_every == 10 && o.sample_every == 1000 && o.save_every == 10000 && o.keep == 0 && o.threads == 0,
          "log_every %lld sample_every %lld save_every %lld keep %d threads %d", (long long)o.log_every,
          (long long)o.sample_every, (long long)o.save_every, o.keep, o.threads);
}

/* sg-train's dataset names, which sg-sample matches shards against. */
static void test_dataset_name(void)
{
    const char *in[6] = {"/d/celebA_train.lmdb", "x/a.lmdb//", "a", ".lmdb", "d/b.lmdb.old", "rafd.lmdb"};
    const char *want[6] = {"celebA_train", "a", "a", ".lmdb", "b.lmdb.old", "rafd"};
    char out[64];
    for (int k = 0; k < 6; k++) {
        sg_run_dataset_name(in[k], out, sizeof out);
        CHECK(!strcmp(out, want[k]), "dataset name of %s: %s, want %s", in[k], out, want[k]);
    }
    sg_run_dataset_name("/d/celebA_train.lmdb", out, 6);
    CHECK(!strcmp(out, "celeb"), "cut to the buffer: %s", out);
    /* "." and "..": the directory they stand for names the dataset (it was ".") */
    char p[400], sub[400];
    snprintf(p, sizeof p, "%s/named.lmdb", test_tmpdir);
    snprintf(sub, sizeof sub, "%s/sub", p);
    mkdir(p, 0755);
    mkdir(sub, 0755);
    const char *fmt[4] = {"%s/.", "%s/./", "%s/sub/..", "%s/sub/../"};
    for (int k = 0; k < 4; k++) {
        char in2[500];
        snprintf(in2, sizeof in2, fmt[k], p);
        sg_run_dataset_name(in2, out, sizeof out);
        CHECK(!strcmp(out, "named"), "dataset name of %s: %s, want named", in2, out);
    }
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd) && chdir(p) == 0) {
        sg_run_dataset_name(".", out, sizeof out);
        CHECK(!strcmp(out, "named"), "dataset name of . inside named.lmdb: %s", out);
        sg_run_dataset_name("sub/..", out, sizeof out);
        CHECK(!strcmp(out, "named"), "dataset name of sub/.. inside named.lmdb: %s", out);
        if (chdir(cwd)) {}
    }
    /* a link keeps its own name; a path that does not resolve, the text */
    snprintf(sub, sizeof sub, "%s/link.lmdb", test_tmpdir);
    CHECK(symlink(p, sub) == 0, "symlink %s", sub);
    sg_run_dataset_name(sub, out, sizeof out);
    CHECK(!strcmp(out, "link"), "dataset name of a link: %s", out);
    sg_run_dataset_name("/nonexistent-dir/x/.", out, sizeof out);
    CHECK(!strcmp(out, "."), "a missing path's name: %s", out);
}

/* Whether field f holds the same value in a and b. */
static int field_equal(const sg_train_options *a, const sg_train_options *b, const sg_train_field *f)
{
    sg_train_options x = *a;
    sg_train_field_copy(&x, b, f);
    return !memcmp(&x, a, sizeof x);
}

/* f's value in o at its lowest (hi 0) or highest (hi 1) */
static void set_extreme(sg_train_options *o, const sg_train_field *f, int hi)
{
    char *at = (char *)o + f->off;
    switch (f->type) {
    case 'i': *(int *)at = (int)(hi ? f->ihi : f->ilo); break;
    case 'l': *(int64_t *)at = hi ? f->ihi : f->ilo; break;
    case 'u': *(uint64_t *)at = hi ? UINT64_MAX : 0; break;
    case 'd': *(double *)at = hi ? f->dhi : f->dlo; break;
    case 'b': case 'c': *(int *)at = hi; break;
    }
}

/* Whether f's value in o lies in f's range ('u', 'b', 'c': any it holds) */
static int in_range(const sg_train_options *o, const sg_train_field *f)
{
    const char *at = (const char *)o + f->off;
    switch (f->type) {
    case 'i': return *(const int *)at >= f->ilo && *(const int *)at <= f->ihi;
    case 'l': return *(const int64_t *)at >= f->ilo && *(const int64_t *)at <= f->ihi;
    case 'd': return *(const double *)at >= f->dlo && *(const double *)at <= f->dhi;
    }
    return 1;
}

/* The option table (run_config.h's sg_train_field) that config.json's writer
 * and reader and sg-train's options share: every row's lowest and highest
 * value is written to config.json and read back as it was (what sg-train
 * accepts, its --resume reads), one past either end is refused naming the
 * row, the model's rows end where sg_model_config_check's ranges do, and
 * the defaults lie within. A bound changed in one of these places only (a
 * literal where the table's constant was) fails here; tests/cli/sg-train.bats
 * checks sg-train's ranges against config.json's. */
static void test_option_table(sg_backend *be)
{
    const sg_train_field *f;
    sg_err err = {{0}};
    sg_train_options d;
    sg_train_options_default(&d);
    int n_rows = 0;
    for (int k = 0; (f = sg_train_field_at(k)); k++, n_rows++) {
        CHECK(!f->option || sg_train_field_of_option(f->option) == f, "%s: found by its option %s", f->key,
              f->option);
        if (f->type == 'i' || f->type == 'l')
            CHECK(f->ilo <= f->ihi && (f->type == 'l' || (f->ilo >= INT_MIN && f->ihi <= INT_MAX)),
                  "%s: range %lld to %lld", f->key, (long long)f->ilo, (long long)f->ihi);
        if (f->type == 'd') CHECK(f->dlo <= f->dhi, "%s: range %g to %g", f->key, f->dlo, f->dhi);
        /* a default outside the range would be written for the next --resume to refuse
         * (d_repeat's 0 is "by the image size": config.json holds the depth chosen) */
        CHECK(!strcmp(f->key, "d_repeat") || in_range(&d, f), "%s: the default lies outside the range", f->key);
    }
    CHECK(n_rows > 20 && sg_train_field_at(-1) == NULL && sg_train_field_of_option("--no-such") == NULL &&
          sg_train_field_of_option("--samples") == NULL, "%d rows", n_rows);

    /* The model's rows end where the model's own check's ranges do: each at
     * either end accepted (the others small), one past refused. */
    for (int k = 0; (f = sg_train_field_at(k)); k++) {
        if (f->section != SG_CONFIG_MODEL) continue;
        for (int end = 0; end < 4; end++) {
            int hi = end / 2, past = end % 2, v = hi ? (int)f->ihi + past : (int)f->ilo - past;
            sg_model_config c = {.image_size = 16, .n_datasets = 1, .label_dim = {3}, .g_conv_dim = 4, .g_repeat = 1,
                                 .d_conv_dim = 4, .d_repeat = 2, .batch = 2, .beta1 = 0.5, .beta2 = 0.999};
            if (!strcmp(f->key, "g_conv_dim")) c.g_conv_dim = v;
            else if (!strcmp(f->key, "g_repeat")) c.g_repeat = v;
            else if (!strcmp(f->key, "d_conv_dim")) c.d_conv_dim = v, c.d_repeat = 1;   /* D's last layer: <= 65536 */
            else if (!strcmp(f->key, "d_repeat")) c.d_repeat = v, c.image_size = v > 4 ? sg_model_image_unit(v) : 16;
            else CHECK(0, "a model row %s this test does not know", f->key);
            /* the range's message: past an end; at it, a model may still be refused
             * for its size (g_conv_dim 4096: a conv of more than 2^31-1 weights) */
            int rc = sg_model_config_check(&c, &err), range = rc && strstr(err.msg, " allowed)");
            CHECK(past ? range : !range, "model %s %d: %s", f->key, v, rc ? err.msg : "accepted");
        }
    }

    /* Two runs: every row at its lowest; every training row at its highest
     * (the model's highest would not fit in memory: read below). The batch
     * at its highest needs a shard of as many images. */
    int64_t most = sg_train_field_of_option("--batch")->ihi;
    char shard[600];
    snprintf(shard, sizeof shard, "%s/ext.lmdb", test_tmpdir);
    make_shard(shard, (int)most, 8, 3, 0, 5);
    const char *shards[1] = {shard};
    for (int hi = 0; hi < 2; hi++) {
        char run[600];
        snprintf(run, sizeof run, "%s/ext_%s", test_tmpdir, hi ? "hi" : "lo");
        sg_train_options o = tiny_options();
        for (int k = 0; (f = sg_train_field_at(k)); k++)
            if (!hi || f->section == SG_CONFIG_TRAINING) set_extreme(&o, f, hi);
        sg_trainer *t = NULL;
        CHECK(sg_trainer_open(&t, run, &o, shards, 1, be, SG_TRAIN_NEW, &err) == 0, "%s: open: %s", run, err.msg);
        if (!t) continue;
        sg_trainer_free(t);
        sg_train_options r;
        char **paths;
        int n;
        int rc = sg_run_config_read(run, &r, &paths, &n, &err);
        CHECK(rc == 0, "%s: read: %s", run, err.msg);
        if (rc) continue;
        sg_run_free_paths(paths, n);
        for (int k = 0; (f = sg_train_field_at(k)); k++)
            if (!hi || f->section == SG_CONFIG_TRAINING)
                CHECK(field_equal(&r, &o, f), "%s: \"%s\" not read back as written", run, f->key);
    }

    /* The reader's range, at and one past each end, on the lowest run's
     * config.json (each edit undone before the next) */
    char run[600], cfg[700];
    snprintf(run, sizeof run, "%s/ext_lo", test_tmpdir);
    snprintf(cfg, sizeof cfg, "%s/config.json", run);
    uint8_t *orig;
    size_t orig_len;
    if (sg_read_file(cfg, 1 << 20, &orig, &orig_len, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    for (int k = 0; (f = sg_train_field_at(k)); k++) {
        if (f->type != 'i' && f->type != 'l' && f->type != 'd') continue;
        for (int hi = 0; hi < 2; hi++) {
            char at[40], past[40];
            if (f->type == 'd') {
                double end = hi ? f->dhi : f->dlo;
                snprintf(at, sizeof at, "%.17g", end);
                double beyond = hi ? nextafter(end, INFINITY) : end > 0 ? nextafter(end, -INFINITY) : -DBL_MIN;
                snprintf(past, sizeof past, "%.17g", beyond);
            } else {
                snprintf(at, sizeof at, "%lld", (long long)(hi ? f->ihi : f->ilo));
                if (hi) snprintf(past, sizeof past, "%llu", (unsigned long long)f->ihi + 1);
                else snprintf(past, sizeof past, "%lld", (long long)f->ilo - 1);
            }
            sg_train_options want, r;
            sg_train_options_default(&want);
            set_extreme(&want, f, hi);
            char **paths;
            int n;
            CHECK(set_config_value(run, f->key, at), "%s: not in config.json", f->key);
            int rc = sg_run_config_read(run, &r, &paths, &n, &err);
            CHECK(rc == 0 && field_equal(&r, &want, f), "\"%s\": %s not read as it is: %s", f->key, at,
                  rc ? err.msg : "another value");
            if (rc == 0) sg_run_free_paths(paths, n);
            CHECK(set_config_value(run, f->key, past), "%s: not in config.json", f->key);
            char named[80];
            snprintf(named, sizeof named, "\"%s\"", f->key);
            rc = sg_run_config_read(run, &r, &paths, &n, &err);
            CHECK(rc == -1 && strstr(err.msg, named), "\"%s\": %s read: %s", f->key, past, rc ? err.msg : "accepted");
            if (rc == 0) sg_run_free_paths(paths, n);
            CHECK(sg_write_file_atomic(cfg, orig, orig_len, &err) == 0, "restore: %s", err.msg);
        }
    }
    free(orig);

}

/* sg_run_remove_stale_tmp removes only the temporary names of sg-train's
 * own writes (NAME.tmp.PID.N, or NAME.tmp.PID of earlier versions; in ckpt/
 * and samples/ NAME as sg-train names its checkpoints and samples) whose
 * writer is gone or is this process: a user's look-alike files and a live
 * writer's temporary file stay (it removed every name that began with
 * "config.json.tmp." and every "*.png.tmp.*" in samples/). */
static void test_stale_tmp(void)
{
    long dead = dead_pid(), live = (long)getppid(), self = (long)getpid();
    CHECK(sg_pid_gone(dead) && !sg_pid_gone(live), "dead %ld, live %ld", dead, live);
    struct { const char *fmt; long pid; int gone; } files[] = {
        {"config.json.tmp.%ld.3", dead, 1},
        {"latest.tmp.%ld", dead, 1},                          /* an earlier version's: no .N */
        {"history.jsonl.tmp.%ld.0", self, 1},                 /* this process's: a write cut short by a move */
        {"cudnn-engines.txt.tmp.%ld.12", dead, 1},
        {"ckpt/000016-G.safetensors.tmp.%ld.0", dead, 1},
        {"ckpt/000016-state.safetensors.tmp.%ld", dead, 1},
        {"ckpt/1234567-D.safetensors.tmp.%ld.5", dead, 1},
        {"samples/000016.png.tmp.%ld.2", dead, 1},
        {"config.json.tmp.%ld.1", live, 0},                   /* another process may be writing it */
        {"ckpt/000016-G.safetensors.tmp.%ld.0", live, 0},
        {"config.json.tmp.bak", 0, 0},                        /* a user's */
        {"config.json.tmp.%ld.bak", dead, 0},
        {"latest.tmp.%ld.01", dead, 0},
        {"history.jsonl.tmp.%ld.1.tmp.2", dead, 0},
        {"my-config.json.tmp.%ld", dead, 0},
        {"ckpt/mine.safetensors.tmp.%ld.0", dead, 0},
        {"ckpt/00016-G.safetensors.tmp.%ld", dead, 0},        /* five digits: no step of sg-train's */
        {"ckpt/000016-G.safetensors.tmp.old", 0, 0},
        {"samples/plot.png.tmp.%ld", dead, 0},
        {"samples/000016.jpg.tmp.%ld", dead, 0},
        {"000016.png.tmp.%ld", dead, 0},                      /* a sample's name, not in samples/ */
    };
    enum { N = sizeof files / sizeof files[0] };
    char rel[N][96];
    for (int k = 0; k < N; k++) {
        snprintf(rel[k], sizeof rel[k], "stale/%s", files[k].fmt);
        char name[96];
        snprintf(name, sizeof name, rel[k], files[k].pid);
        memcpy(rel[k], name, sizeof name);
        CHECK(test_tmp_put(rel[k], "partial") == 0, "%s", rel[k]);
    }
    /* a directory of such a name cannot be unlinked: the others still go */
    char sub[600];
    snprintf(sub, sizeof sub, "%s/stale/ckpt/000008-G.safetensors.tmp.%ld.0", test_tmpdir, dead);
    CHECK(mkdir(sub, 0755) == 0, "mkdir %s", sub);
    sg_run_remove_stale_tmp(test_tmp_path("stale"));
    for (int k = 0; k < N; k++) {
        int gone = access(test_tmp_path(rel[k]), F_OK) != 0;
        CHECK(gone == files[k].gone, "%s: %s", rel[k], gone ? "removed" : "left");
    }
    CHECK(access(sub, F_OK) == 0, "the directory %s", sub);
}

static void ignore_note(void *ctx, const char *fmt, ...) { (void)ctx; (void)fmt; }

/* The message of n shards given to a resume in the reverse of the run's
 * order (run: the run directory to write, trained on path[0..n)), with
 * given[] as the paths shown: into err, -1. */
static int order_message_of(const char *run, int n, char (*path)[PATH_MAX], const char *const *given, sg_err *err)
{
    enum { N = SG_MAX_DATASETS };
    sg_shard *sh[N] = {0}, *sh_rev[N];
    char *abs[N] = {0}, *abs_rev[N], names[N][SG_CKPT_NAME_MAX], names_rev[N][SG_CKPT_NAME_MAX];
    sg_model_config c = {.image_size = 8, .n_datasets = n, .g_conv_dim = 4, .g_repeat = 1, .d_conv_dim = 4,
                         .d_repeat = 2};
    int rc = 0, ok = 1;
    for (int k = 0; k < n && ok; k++) {
        ok = sg_shard_open(&sh[k], path[k], err) == 0 && (abs[k] = realpath(path[k], NULL)) != NULL;
        c.label_dim[k] = 3;
        sg_run_dataset_name(path[k], names[k], SG_CKPT_NAME_MAX);
    }
    if (ok) {
        sg_run_datasets d = {run, n, sh, abs, names};
        sg_train_options o = tiny_options();
        sg_run_record r = {0};
        ok = sg_run_write_config(&d, &c, &o, &r, err) == 0;
        sg_buf_free(&r.sessions_kept);
    }
    if (ok) {
        for (int k = 0; k < n; k++) {
            sh_rev[k] = sh[n - 1 - k];
            abs_rev[k] = abs[n - 1 - k];
            memcpy(names_rev[k], names[n - 1 - k], SG_CKPT_NAME_MAX);
        }
        sg_run_datasets d = {run, n, sh_rev, abs_rev, names_rev};
        const int dup[2] = {-1, -1};
        rc = sg_run_check_datasets(&d, given, dup, ignore_note, NULL, err);
    }
    for (int k = 0; k < n; k++) {
        if (sh[k]) sg_shard_close(sh[k]);
        free(abs[k]);
    }
    return ok ? rc : 1;
}

/* Eight shards of long paths (about 150 bytes) given to a resume in the
 * reverse of the run's order: the message ends with the run's order, what
 * to give, whole or cut " ..." after a whole path, within SG_ERR_TAIL
 * bytes, so that sg_err never cuts it. Each list passed the message's 1023
 * bytes, and the cut dropped the start of the run's order. */
static void test_order_message(void)
{
    enum { N = SG_MAX_DATASETS };
    char dir[PATH_MAX], run[PATH_MAX], path[N][PATH_MAX], *abs[N] = {0};
    const char *abs_rev[N];
    sg_err err = {{0}};
    snprintf(dir, sizeof dir, "%s/order_%0100d", test_tmpdir, 0);
    snprintf(run, sizeof run, "%s/order_run", test_tmpdir);
    mkdir(dir, 0755);
    mkdir(run, 0755);
    int ok = 1;
    for (int k = 0; k < N && ok; k++) {
        snprintf(path[k], sizeof path[k], "%s/shard_%d.lmdb", dir, k);
        make_shard(path[k], 2, 8, 3, 0, (uint64_t)k + 1);
        ok = (abs[k] = realpath(path[k], NULL)) != NULL;
        CHECK(ok, "%s", path[k]);
    }
    if (ok) {
        for (int k = 0; k < N; k++) abs_rev[k] = abs[N - 1 - k];
        char head[PATH_MAX + 100], order[2 * PATH_MAX + 100];
        snprintf(head, sizeof head, "shards given in another order than the run in %s was trained on (given: %s ",
                 run, abs[N - 1]);
        snprintf(order, sizeof order, "; give them in its order (each dataset keeps its slot in the label vector): "
                 "%s %s ", abs[0], abs[1]);
        int rc = order_message_of(run, N, path, abs_rev, &err);
        const char *tail = strstr(err.msg, order);
        size_t l = strlen(err.msg);
        CHECK(rc == -1 && !strncmp(err.msg, head, strlen(head)) && tail && strlen(tail) <= SG_ERR_TAIL &&
              !strstr(err.msg, " ... ") && l > 4 && !strcmp(err.msg + l - 4, " ..."),
              "shards in reverse (%zu-byte paths): %s", strlen(abs[0]), err.msg);
    }
    for (int k = 0; k < N; k++) free(abs[k]);
}

/* The shards given are cut only where they do not fit: path_list kept room
 * for " ..." after each path but the last, so a list ending in a short path
 * that fitted the message exactly lost it ("(given: PAD ...)"). And a run
 * directory longer than the whole message left the list a cap of 1:
 * "(given: )", no path and no mark; now the list gets what the tail that
 * sg_err keeps leaves after the text that follows the path. */
static void test_order_message_given_list(void)
{
    enum { MSG_MAX = sizeof ((sg_err *)0)->msg - 1 };
    char path[2][PATH_MAX], run[PATH_MAX], *abs[2] = {0};
    sg_err err = {{0}};
    for (int k = 0; k < 2; k++) {
        snprintf(path[k], sizeof path[k], "%s/given_%d.lmdb", test_tmpdir, k);
        make_shard(path[k], 2, 8, 3, 0, (uint64_t)k + 1);
        abs[k] = realpath(path[k], NULL);
        CHECK(abs[k] != NULL, "%s", path[k]);
    }
    if (!abs[0] || !abs[1]) goto done;
    snprintf(run, sizeof run, "%s/given_run", test_tmpdir);
    mkdir(run, 0755);
    char pad[MSG_MAX + 1], full[2 * MSG_MAX];
    int fitted = 0, cut = 0;
    for (size_t n = 1; n < MSG_MAX; n++) {   /* PAD x: whole while the message fits */
        memset(pad, 'p', n);
        pad[n] = 0;
        const char *given[2] = {pad, "x"};
        int len = snprintf(full, sizeof full, "shards given in another order than the run in %s was trained on "
                           "(given: %s x); give them in its order (each dataset keeps its slot in the label "
                           "vector): %s %s", run, pad, abs[0], abs[1]);
        CHECK(order_message_of(run, 2, path, given, &err) == -1, "PAD of %zu bytes: %s", n, err.msg);
        if (len <= MSG_MAX) {
            fitted++;
            CHECK(!strcmp(err.msg, full), "PAD of %zu bytes, a message of %d: %s", n, len, err.msg);
        } else {
            cut++;
            CHECK(strlen(err.msg) <= MSG_MAX && !strstr(err.msg, " ... ") &&
                  (strstr(err.msg, " ...); give them") || strstr(err.msg, "(given: ...); give them")),
                  "PAD of %zu bytes, cut: %s", n, err.msg);
        }
    }
    CHECK(fitted > 100 && cut > 100, "%d fitted, %d cut", fitted, cut);
    /* a run directory of about 1300 bytes */
    size_t l = (size_t)snprintf(run, sizeof run, "%s/given_long", test_tmpdir);
    mkdir(run, 0755);
    for (int level = 0; level < 6 && l < sizeof run - 210; level++) {
        l += (size_t)snprintf(run + l, sizeof run - l, "/%0200d", level);
        CHECK(mkdir(run, 0755) == 0, "mkdir %s", run);
    }
    static char g0[101], g1[601];
    memset(g0, 'g', 100);
    memset(g1, 'h', sizeof g1 - 1);
    struct { const char *given[2], *shown; } cases[] = {
        {{"given_1", "given_0"}, "(given: given_1 given_0); give them in its order"},
        {{g0, g1}, NULL},   /* g0 ... */
        {{g1, g0}, "(given: ...); give them in its order"},
    };
    char g0_cut[200];
    snprintf(g0_cut, sizeof g0_cut, "(given: %s ...); give them in its order", g0);
    cases[1].shown = g0_cut;
    for (int i = 0; i < 3; i++) {
        static const char head[] = "shards given in another order than the run in ";
        char tail[SG_ERR_TAIL + 1];
        snprintf(tail, sizeof tail, "; give them in its order (each dataset keeps its slot in the label vector): "
                 "%s %s", abs[0], abs[1]);
        CHECK(order_message_of(run, 2, path, cases[i].given, &err) == -1 && strlen(err.msg) <= MSG_MAX &&
              !strncmp(err.msg, head, strlen(head)) &&
              strstr(err.msg, cases[i].shown) && strlen(strstr(err.msg, " was trained on (given: ")) <= SG_ERR_TAIL &&
              strlen(err.msg) >= strlen(tail) && !strcmp(err.msg + strlen(err.msg) - strlen(tail), tail),
              "a run directory of %zu bytes, case %d: %s", l, i, err.msg);
    }
done:
    free(abs[0]);
    free(abs[1]);
}

int main(void)
{
    if (test_tmpdir_make("test_run_config")) return 1;
    test_defaults();
    test_dataset_name();
    test_stale_tmp();
    test_order_message();
    test_order_message_given_list();
    sg_err err;
    sg_backend *be = sg_backend_cpu_create(1, &err);
    if (!be) { printf("cpu backend: %s\n", err.msg); return 1; }
    test_option_table(be);
    sg_backend_destroy(be);
    if (check_failed == 0) test_tmpdir_remove();
    return check_done();
}
