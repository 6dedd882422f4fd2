/* lib/ckpt_find: sg-sample's --ckpt resolving, and its retry when the checkpoint
 * RUN/latest named is deleted (sg-train --keep) before its file is opened.
 *
 * The race is made deterministic without a hook in the library: this test
 * defines fopen, which the library's sg_read_file reads RUN/latest with, and
 * while a script of steps is armed, the i-th opening of latest for reading
 * first rewrites the file with the i-th step (the first reading gets a
 * checkpoint that is not there, deleted; the next one the checkpoint that
 * is), then opens it. So the test also counts how often latest was read.
 *
 * Then sg_ckpt_load_generator: the generator's file deleted between finding and
 * loading it (the run's newest checkpoint, when of the same model), and its
 * check against the state file beside it (sg_ckpt_read_generator). */
#include "check.h"
#include "backend.h"
#include "checkpoint.h"
#include "checkpoint_testing.h"
#include "ckpt_edit.h"
#include "ckpt_find.h"
#include "fileio.h"
#include "model.h"
#include "test_tmpdir.h"
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* What the readings of latest get while armed (steps non-NULL): the i-th
 * reading steps[i], the last one again past the end (reads then exceeds n,
 * which the checks see). */
static struct {
    const char *const *steps;
    int n;
    int reads;   /* readings of latest while armed */
} latest_script;

/* The library's fopen (this definition in the test binary comes before the C
 * library's): a path ending in "/latest" opened for reading while a script is
 * armed is rewritten with the next step first, then opened as usual. The step
 * is written with open and write, not through this function. */
FILE *fopen(const char *path, const char *mode)
{
    static FILE *(*real_fopen)(const char *, const char *);
    if (!real_fopen) real_fopen = (FILE *(*)(const char *, const char *))dlsym(RTLD_NEXT, "fopen");
    if (!real_fopen) { errno = ENOSYS; return NULL; }
    size_t len = strlen(path);
    if (latest_script.steps && mode[0] == 'r' && len >= 7 && !strcmp(path + len - 7, "/latest")) {
        int k = latest_script.reads < latest_script.n ? latest_script.reads : latest_script.n - 1;
        latest_script.reads++;
        const char *text = latest_script.steps[k];
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ssize_t w = fd >= 0 ? write(fd, text, strlen(text)) : -1;
        CHECK(fd >= 0 && w == (ssize_t)strlen(text), "writing step %d to %s", k, path);
        if (fd >= 0) close(fd);
    }
    return real_fopen(path, mode);
}

/* Runs sg_ckpt_find_generator on run while latest gives steps[0..n) one per
 * reading. Returns its result; *reads: how often latest was read. */
static int find_with_steps(const char *run, const char *const *steps, int n, char *path, size_t cap,
                          sg_ckpt_info *info, sg_err *err, int *reads)
{
    char lp[600];
    snprintf(lp, sizeof lp, "%s/latest", run);
    unlink(lp);
    /* there before the first reading (a missing latest is a run without checkpoints) */
    int fd = open(lp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0, "create %s", lp);
    if (fd < 0) return -2;
    close(fd);
    latest_script.steps = steps;
    latest_script.n = n;
    latest_script.reads = 0;
    int rc = sg_ckpt_find_generator(run, path, cap, info, err);
    *reads = latest_script.reads;
    latest_script.steps = NULL;
    unlink(lp);
    return rc;
}


/* The first weight of G in m (the checks compare which file was loaded). */
static float first_weight(sg_model *m)
{
    const sg_tensor_info *list;
    int n = sg_model_tensors(m, SG_NET_G, &list);
    float *w = n > 0 ? malloc(list[0].numel * sizeof(float)) : NULL;
    sg_err err = {{0}};
    float v = w && sg_model_get_tensor(m, SG_NET_G, 0, w, &err) == 0 ? w[0] : -1e30f;
    free(w);
    return v;
}

static void write_latest(const char *run, const char *text)
{
    char lp[700];
    snprintf(lp, sizeof lp, "%s/latest", run);
    unlink(lp);
    FILE *lf = fopen(lp, "w");
    if (lf) { fputs(text, lf); fclose(lf); }
}

/* sg_ckpt_load_generator's own retry: G deleted after it was found (sg-train --keep
 * while sg-sample read its inputs). */
static void test_load_after_delete(sg_backend *be, const sg_model_config *cfg, sg_ckpt_info *info)
{
    sg_err err = {{0}};
    char run[600], p1[700], p2[700], p3[700], path[1024];
    snprintf(run, sizeof run, "%s/live", test_tmpdir);
    snprintf(path, sizeof path, "%s/ckpt", run);
    mkdir(run, 0755);
    mkdir(path, 0755);
    sg_model *m1 = NULL, *m2 = NULL, *into = NULL, *wide = NULL;
    sg_model_config wide_cfg = *cfg;
    wide_cfg.g_conv_dim = 3;
    CHECK(sg_model_create_generator(&m1, cfg, be, 11, &err) == 0 && sg_model_create_generator(&m2, cfg, be, 12, &err) == 0 &&
          sg_model_create_generator(&into, cfg, be, 13, &err) == 0 &&
          sg_model_create_generator(&wide, &wide_cfg, be, 14, &err) == 0, "generators: %s", err.msg);
    if (!m1 || !m2 || !into || !wide) goto done;
    CHECK(first_weight(m1) != first_weight(m2) && first_weight(m2) != first_weight(into), "the seeds give other weights");
    sg_ckpt_path(p1, sizeof p1, run, 1, "G");
    sg_ckpt_path(p2, sizeof p2, run, 2, "G");
    sg_ckpt_path(p3, sizeof p3, run, 3, "G");
    CHECK(sg_ckpt_write_net(m1, SG_NET_G, p1, info, 1, &err) == 0, "write: %s", err.msg);
    write_latest(run, "000001\n");
    sg_ckpt_info found;
    CHECK(sg_ckpt_find_generator(run, path, sizeof path, &found, &err) == 0 && !strcmp(path, p1), "find: %s", err.msg);
    /* the run moves on: checkpoint 2 saved, latest names it, 1 pruned */
    CHECK(sg_ckpt_write_net(m2, SG_NET_G, p2, info, 2, &err) == 0, "write: %s", err.msg);
    write_latest(run, "000002\n");
    unlink(p1);
    int rc = sg_ckpt_load_generator(run, path, sizeof path, &found, into, &err);
    CHECK(rc == 0 && !strcmp(path, p2) && first_weight(into) == first_weight(m2),
          "moved on: rc %d path %s (want %s), weight %g (want checkpoint 2's %g): %s", rc, path, p2,
          first_weight(into), first_weight(m2), rc ? err.msg : "");
    /* the run's newest is another model: said so, the model unchanged */
    CHECK(sg_ckpt_write_net(m1, SG_NET_G, p1, info, 1, &err) == 0, "write: %s", err.msg);
    snprintf(path, sizeof path, "%s", p1);
    sg_ckpt_info wide_info = *info;
    wide_info.model = wide_cfg;
    CHECK(sg_ckpt_write_net(wide, SG_NET_G, p3, &wide_info, 3, &err) == 0, "write: %s", err.msg);
    write_latest(run, "000003\n");
    unlink(p1);
    float before = first_weight(into);
    char want[2200];
    snprintf(want, sizeof want, "%s was deleted while the inputs were read, and the run's latest checkpoint %s is of "
             "another model or labels", p1, p3);
    rc = sg_ckpt_load_generator(run, path, sizeof path, &found, into, &err);
    CHECK(rc == -1 && !strcmp(err.msg, want) && first_weight(into) == before, "another model: rc %d '%s' (want '%s')",
          rc, err.msg, want);
    /* not a run directory (a prefix or a file cannot move on): the read's error */
    char prefix[700];
    sg_ckpt_path(prefix, sizeof prefix, run, 1, NULL);
    snprintf(path, sizeof path, "%s", p1);
    rc = sg_ckpt_load_generator(prefix, path, sizeof path, &found, into, &err);
    CHECK(rc == -1 && strstr(err.msg, p1) && strstr(err.msg, "No such file"), "a prefix, deleted: rc %d '%s'", rc,
          err.msg);
    sg_ckpt_info_free(&found);
done:
    sg_model_free(m1);
    sg_model_free(m2);
    sg_model_free(into);
    sg_model_free(wide);
}

/* A checkpoint's G checked against the state file saved with it. */
static void test_checked_against_state(sg_backend *be, sg_model_config cfg, sg_ckpt_info *info)
{
    sg_err err = {{0}};
    cfg.lambda_cls = 1; cfg.lambda_rec = 10; cfg.lambda_gp = 10; cfg.beta1 = 0.5; cfg.beta2 = 0.999;
    sg_model *full = NULL, *other = NULL, *into = NULL;
    CHECK(sg_model_create(&full, &cfg, be, 21, &err) == 0 && sg_model_create(&other, &cfg, be, 22, &err) == 0 &&
          sg_model_create_generator(&into, &cfg, be, 23, &err) == 0, "models: %s", err.msg);
    if (!full || !other || !into) goto done;
    char run[600], orun[600], g[700], s[700], og[700], saved[800], msg[1100];
    snprintf(run, sizeof run, "%s/whole", test_tmpdir);
    snprintf(orun, sizeof orun, "%s/other", test_tmpdir);
    CHECK(sg_ckpt_save(full, run, info, 4, &err) == 0 && sg_ckpt_save(other, orun, info, 4, &err) == 0, "save: %s",
          err.msg);
    sg_ckpt_path(g, sizeof g, run, 4, "G");
    sg_ckpt_path(s, sizeof s, run, 4, "state");
    sg_ckpt_path(og, sizeof og, orun, 4, "G");
    snprintf(saved, sizeof saved, "%s.saved", g);
    ckpt_edit_copy(g, saved);
    int fault = -1;
    CHECK(sg_ckpt_read_generator(into, g, &fault, &err) == 0 && fault == 0 && first_weight(into) == first_weight(full),
          "whole: fault %d: %s", fault, err.msg);
    float before = first_weight(into);

    /* The state file not opened for want of a descriptor (EMFILE, as under a
     * low ulimit -n): the checkpoint is intact, so no "unusable" nor a --ckpt
     * of the one before it, a hint instead. The open-file limit set just
     * above the lowest free descriptor, then one higher, ...: one of them
     * lets G open but not the state file. */
    {
        struct rlimit rl;
        int lowest = open("/dev/null", O_RDONLY), state_emfile = 0;
        if (lowest >= 0) close(lowest);
        CHECK(lowest >= 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0, "getrlimit");
        for (int lim = lowest; lowest >= 0 && lim < lowest + 6; lim++) {
            struct rlimit low = {(rlim_t)lim, rl.rlim_max};
            char gp[1024];
            snprintf(gp, sizeof gp, "%s", g);
            int frc = setrlimit(RLIMIT_NOFILE, &low);
            int lrc = sg_ckpt_load_generator(g, gp, sizeof gp, info, into, &err);
            setrlimit(RLIMIT_NOFILE, &rl);
            if (frc != 0 || lrc == 0) continue;
            CHECK(err.sys_errno == EMFILE, "limit %d: '%s'", lim, err.msg);
            if (strncmp(err.msg, s, strlen(s))) continue;   /* G's own open */
            state_emfile = 1;
            CHECK(!strstr(err.msg, "unusable") && strstr(err.msg, ": cannot check ") &&
                  strlen(err.msg) > 18 && !strcmp(err.msg + strlen(err.msg) - 18, " (raise ulimit -n)"),
                  "state file not opened (EMFILE): '%s'", err.msg);
        }
        CHECK(state_emfile, "no open-file limit made the state file's open fail");
        CHECK(sg_ckpt_access_hint(&(sg_err){{EIO, "x"}}) == 0, "EIO is the file's: unusable");
        const int not_content[] = {EMFILE, ENFILE, ENOMEM, EACCES, EPERM, EAGAIN, EINTR};
        for (size_t k = 0; k < sizeof not_content / sizeof not_content[0]; k++) {
            sg_err e = {{not_content[k], "x"}};
            CHECK(sg_ckpt_access_hint(&e) == 1 && !strncmp(e.msg, "x (", 3) && e.sys_errno == not_content[k],
                  "errno %d: not the file's content: '%s'", not_content[k], e.msg);
        }
    }

    /* The state file a directory: said so, naming it, and the checkpoint not
     * called unusable (nothing is wrong with its files' content) */
    {
        char s_saved[800], want[2200];
        snprintf(s_saved, sizeof s_saved, "%s.saved", s);
        ckpt_edit_copy(s, s_saved);
        unlink(s);
        CHECK(mkdir(s, 0755) == 0, "mkdir %s", s);
        char gp[1024];
        snprintf(gp, sizeof gp, "%s", g);
        snprintf(want, sizeof want, "%s: is a directory, not a file (move it away): cannot check %s against it", s, g);
        int lrc = sg_ckpt_load_generator(g, gp, sizeof gp, info, into, &err);
        CHECK(lrc == -1 && !strcmp(err.msg, want) && err.sys_errno == EISDIR && first_weight(into) == before,
              "state file a directory: rc %d '%s' (want '%s')", lrc, err.msg, want);
        rmdir(s);
        ckpt_edit_copy(s_saved, s);
        unlink(s_saved);
        sg_err e = {{0}};
        sg_err_is_dir(&e, "x");
        CHECK(sg_ckpt_access_hint(&e) == 1 && !strcmp(e.msg, "x: is a directory, not a file"),
              "EISDIR: not the file's content, no hint added: '%s'", e.msg);
    }

    /* G's data and its own key damaged */
    ckpt_edit_rename_key(g, "data_crc32");
    ckpt_edit_flip_data(g, 0);
    CHECK(sg_ckpt_read_net(into, SG_NET_G, g, &err) == 0, "sg_ckpt_read_net reads G alone: unchecked: %s", err.msg);
    sg_ckpt_read_generator(into, saved, NULL, &err);   /* back to the checkpoint's weights */
    snprintf(msg, sizeof msg, "%s: the data does not match the checksum %s recorded for it (CRC-32 ", g, s);
    int rc = sg_ckpt_read_generator(into, g, &fault, &err);
    CHECK(rc == -1 && fault == 1 && !strncmp(err.msg, msg, strlen(msg)) && first_weight(into) == before,
          "G and its key damaged: rc %d fault %d '%s'", rc, fault, err.msg);
    /* through sg_ckpt_load_generator: what to do (no ckpt/ one before it in this run) */
    sg_ckpt_info found;
    char path[1024];
    CHECK(sg_ckpt_find_generator(run, path, sizeof path, &found, &err) == 0, "find: %s", err.msg);
    rc = sg_ckpt_load_generator(run, path, sizeof path, &found, into, &err);
    char prefix[700], tail[900];
    sg_ckpt_path(prefix, sizeof prefix, run, 4, NULL);
    snprintf(tail, sizeof tail, " (checkpoint %s is unusable: restore its G and state files together, or sample from "
             "another checkpoint)", prefix);
    size_t ml = strlen(err.msg), tl = strlen(tail);
    CHECK(rc == -1 && !strncmp(err.msg, msg, strlen(msg)) && ml > tl && !strcmp(err.msg + ml - tl, tail),
          "load_generator: rc %d '%s'", rc, err.msg);
    sg_ckpt_info_free(&found);

    /* a whole G of another run */
    ckpt_edit_copy(og, g);
    snprintf(msg, sizeof msg, "%s: not the G saved with %s (its data CRC-32 is ", g, s);
    rc = sg_ckpt_read_generator(into, g, &fault, &err);
    CHECK(rc == -1 && fault == 1 && !strncmp(err.msg, msg, strlen(msg)) && first_weight(into) == before,
          "G of another run: rc %d fault %d '%s'", rc, fault, err.msg);
    /* G's own damage is G's error, before the state is looked at */
    ckpt_edit_copy(saved, g);
    ckpt_edit_flip_data(g, 0);
    ckpt_edit_rename_key(s, "G_data_crc32");
    rc = sg_ckpt_read_generator(into, g, &fault, &err);
    CHECK(rc == -1 && fault == 0 && strstr(err.msg, "the data does not match its checksum") && !strncmp(err.msg, g, strlen(g)),
          "G damaged, state header damaged: rc %d fault %d '%s'", rc, fault, err.msg);
    /* the state's header damaged: "cannot check" */
    ckpt_edit_copy(saved, g);
    snprintf(msg, sizeof msg, "%s: metadata holds D_data_crc32 but not G_data_crc32: the header is damaged: cannot check "
             "%s against it", s, g);
    rc = sg_ckpt_read_generator(into, g, &fault, &err);
    CHECK(rc == -1 && fault == 1 && !strcmp(err.msg, msg), "state header damaged: rc %d fault %d '%s' (want '%s')", rc,
          fault, err.msg, msg);
    /* a state file without the keys (sg_ckpt_write_state, older runs): G's own key alone */
    CHECK(sg_ckpt_write_state(full, s, info, 4, &err) == 0, "write state: %s", err.msg);
    ckpt_edit_copy(og, g);
    CHECK(sg_ckpt_read_generator(into, g, &fault, &err) == 0 && fault == 0, "state without G_data_crc32: %s", err.msg);
    /* no state file: as sg_ckpt_read_net (a damaged key and data load unchecked) */
    ckpt_edit_copy(saved, g);
    ckpt_edit_rename_key(g, "data_crc32");
    ckpt_edit_flip_data(g, 0);
    unlink(s);
    CHECK(sg_ckpt_read_generator(into, g, &fault, &err) == 0 && fault == 0, "no state file: %s", err.msg);
    /* a G file not named X-G.safetensors has no state file beside it */
    CHECK(sg_ckpt_save(full, run, info, 4, &err) == 0, "save: %s", err.msg);
    char odd[700];
    snprintf(odd, sizeof odd, "%s/ckpt/000004-G.st", run);
    ckpt_edit_copy(og, odd);
    CHECK(sg_ckpt_read_generator(into, odd, &fault, &err) == 0 && fault == 0, "another name: %s", err.msg);
done:
    sg_model_free(full);
    sg_model_free(other);
    sg_model_free(into);
}

/* sg_model_layout lists what a model of the same configuration has. */
static void test_layout(sg_backend *be, sg_model_config cfg)
{
    sg_err err = {{0}};
    cfg.n_datasets = 2; cfg.label_dim[1] = 3; cfg.one_hot[1] = 1;   /* the mask, a one-hot set */
    sg_model *m = NULL;
    CHECK(sg_model_create(&m, &cfg, be, 1, &err) == 0, "model: %s", err.msg);
    if (!m) return;
    for (int net = 0; net < 2; net++) {
        const sg_tensor_info *have;
        sg_tensor_info *want;
        int n = sg_model_tensors(m, (sg_net)net, &have), k = sg_model_layout(&cfg, (sg_net)net, &want, &err);
        int same = n == k;
        for (int i = 0; same && i < n; i++) {
            same = !strcmp(have[i].name, want[i].name) && have[i].ndim == want[i].ndim &&
                   have[i].dtype == want[i].dtype && have[i].trainable == want[i].trainable;
            for (int d = 0; same && d < have[i].ndim; d++) same = have[i].shape[d] == want[i].shape[d];
        }
        CHECK(same && n > 0, "sg_model_layout(%s): %d tensors, the model's %d, %s", net ? "D" : "G", k, n,
              same ? "the same" : "differing");
        free(want);
    }
    sg_model_free(m);
}

/* A G file whose metadata describes another generator than its tensors (a
 * damaged or crafted header; a 516-byte file said g_conv_dim 128, g_repeat
 * 64) is refused when found, before a generator of that size is made. */
static void test_tensors_against_metadata(const char *g2)
{
    char path[1024], edited[800];
    sg_err err = {{0}};
    sg_ckpt_info got;
    snprintf(edited, sizeof edited, "%s/edited-G.safetensors", test_tmpdir);
    ckpt_edit_copy(g2, edited);
    ckpt_edit_meta(edited, "g_repeat", "9");
    CHECK(sg_ckpt_find_generator(edited, path, sizeof path, &got, &err) == -1 &&
          strstr(err.msg, "edited-G.safetensors: missing tensor main.10.main.0.weight"), "g_repeat 9: '%s'", err.msg);
    ckpt_edit_copy(g2, edited);
    ckpt_edit_meta(edited, "g_conv_dim", "8");
    CHECK(sg_ckpt_find_generator(edited, path, sizeof path, &got, &err) == -1 &&
          strstr(err.msg, "tensor main.0.weight: shape [2, 5, 7, 7], expected [8, 5, 7, 7]"), "g_conv_dim 8: '%s'",
          err.msg);
    unlink(edited);
}

static void touch(const char *dir, const char *name)
{
    char p[900];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (f) fclose(f);
}

/* sg-sample's hint for a run without latest (a converted G alone in
 * celeba/ckpt, as sg-sample(1) lays it out): the newest G file by its step,
 * named as --ckpt takes it; files of other names, D and state files, and a
 * directory called like a G file do not count. */
static void test_newest_generator_file(void)
{
    char dir[700], prefix[900], want[900];
    snprintf(dir, sizeof dir, "%s/gfiles", test_tmpdir);
    mkdir(dir, 0755);
    CHECK(sg_ckpt_newest_generator_file(dir, prefix, sizeof prefix) == -1, "empty directory: '%s'", prefix);
    touch(dir, "000100-G.safetensors");
    snprintf(want, sizeof want, "%s/000100", dir);
    CHECK(sg_ckpt_newest_generator_file(dir, prefix, sizeof prefix) == 0 && !strcmp(prefix, want),
          "one G: '%s' (want '%s')", prefix, want);
    touch(dir, "000300-D.safetensors");
    touch(dir, "000300-state.safetensors");
    touch(dir, "00200-G.safetensors");        /* not as sg_ckpt_path writes it */
    touch(dir, "000050-G.safetensors");
    touch(dir, "notes.txt");
    char sub[800];
    snprintf(sub, sizeof sub, "%s/000900-G.safetensors", dir);
    mkdir(sub, 0755);
    CHECK(sg_ckpt_newest_generator_file(dir, prefix, sizeof prefix) == 0 && !strcmp(prefix, want),
          "the newest G among others: '%s' (want '%s')", prefix, want);
    touch(dir, "1000000-G.safetensors");
    snprintf(want, sizeof want, "%s/1000000", dir);
    CHECK(sg_ckpt_newest_generator_file(dir, prefix, sizeof prefix) == 0 && !strcmp(prefix, want),
          "7 digits: '%s' (want '%s')", prefix, want);
    char missing[800];
    snprintf(missing, sizeof missing, "%s/none", dir);
    CHECK(sg_ckpt_newest_generator_file(missing, prefix, sizeof prefix) == -1, "a missing directory");
}

/* The run a G file belongs to, however the file is named: "000002" from
 * inside RUN/ckpt, "./", links (the text of the path was looked at before,
 * and "." has no "ckpt" in it). */
static void test_run_of(void)
{
    char run[700], ck[800], link[800], cwd[PATH_MAX], got[PATH_MAX], real_run[PATH_MAX];
    snprintf(run, sizeof run, "%s/runof", test_tmpdir);
    snprintf(ck, sizeof ck, "%s/ckpt", run);
    mkdir(run, 0755);
    mkdir(ck, 0755);
    touch(ck, "000002-G.safetensors");
    CHECK(sg_ckpt_run_of(run, "", got, sizeof got) == -1 && !got[0], "a directory without config.json: '%s'", got);
    touch(run, "config.json");
    CHECK(realpath(run, real_run) != NULL, "realpath");
    CHECK(sg_ckpt_run_of(run, "", got, sizeof got) == 0 && !strcmp(got, run), "the run itself: '%s'", got);
    char g[900];
    snprintf(g, sizeof g, "%s/000002-G.safetensors", ck);
    CHECK(sg_ckpt_run_of(g, g, got, sizeof got) == 0 && !strcmp(got, real_run), "RUN/ckpt/G: '%s'", got);
    CHECK(getcwd(cwd, sizeof cwd) && chdir(ck) == 0, "chdir");
    CHECK(sg_ckpt_run_of("000002", "000002-G.safetensors", got, sizeof got) == 0 && !strcmp(got, real_run),
          "from inside RUN/ckpt: '%s'", got);
    CHECK(sg_ckpt_run_of("./000002", "./000002-G.safetensors", got, sizeof got) == 0 && !strcmp(got, real_run),
          "./000002: '%s'", got);
    CHECK(chdir(cwd) == 0, "chdir back");
    snprintf(link, sizeof link, "%s/link-G.safetensors", test_tmpdir);
    CHECK(symlink(g, link) == 0, "symlink");
    CHECK(sg_ckpt_run_of(link, link, got, sizeof got) == 0 && !strcmp(got, real_run), "a link to it: '%s'", got);
    touch(test_tmpdir, "loose-G.safetensors");
    snprintf(g, sizeof g, "%s/loose-G.safetensors", test_tmpdir);
    CHECK(sg_ckpt_run_of(g, g, got, sizeof got) == -1 && !got[0], "a G outside any run: '%s'", got);
}

int main(void)
{
    if (test_tmpdir_make("test_ckpt_find")) return 1;
    test_newest_generator_file();
    test_run_of();
    sg_err err = {{0}};
    const char *run = test_tmpdir;
    char ckdir[600];
    snprintf(ckdir, sizeof ckdir, "%s/ckpt", run);
    mkdir(ckdir, 0755);

    /* checkpoint 2's generator: a real file (its metadata is read) */
    sg_backend *be = sg_backend_cpu_create(1, &err);
    CHECK(be != NULL, "cpu backend: %s", err.msg);
    if (!be) return check_done();
    sg_model_config cfg = {.image_size = 8, .n_datasets = 1, .label_dim = {2}, .g_conv_dim = 2, .g_repeat = 1,
                           .d_conv_dim = 2, .d_repeat = 2, .batch = 1};
    sg_model *g = NULL;
    CHECK(sg_model_create_generator(&g, &cfg, be, 0, &err) == 0, "generator: %s", err.msg);
    if (!g) return check_done();
    const char *names[2] = {"Bangs", "Male"};
    sg_ckpt_info info = {0};
    info.model = cfg;
    info.n_labels = 2;
    info.label_names = (char **)names;
    snprintf(info.dataset_names[0], SG_CKPT_NAME_MAX, "celebA");
    char g2[700];
    sg_ckpt_path(g2, sizeof g2, run, 2, "G");
    CHECK(sg_ckpt_write_net(g, SG_NET_G, g2, &info, 2, &err) == 0, "write %s: %s", g2, err.msg);

    char path[1024], want_missing[700];
    sg_ckpt_info got;
    int reads = 0;

    /* latest named checkpoint 1, deleted since; read again it names 2 */
    const char *moved_on[] = {"000001\n", "000002\n"};
    int rc = find_with_steps(run, moved_on, 2, path, sizeof path, &got, &err, &reads);
    CHECK(rc == 0 && !strcmp(path, g2) && got.step == 2 && reads == 2,
          "latest moved on: rc %d path %s step %lld reads %d (want 0, %s, 2, 2): %s", rc, path,
          rc == 0 ? (long long)got.step : -1LL, reads, g2, rc ? err.msg : "");
    if (rc == 0) sg_ckpt_info_free(&got);

    /* latest names a missing checkpoint, and again the same: the run lacks it */
    const char *stuck[] = {"000001\n", "000001\n", "000001\n", "000001\n", "000001\n", "000001\n"};
    sg_ckpt_path(want_missing, sizeof want_missing, run, 1, "G");
    char want_msg[2200];
    snprintf(want_msg, sizeof want_msg, "%s: %s/latest names %s, which is missing; the newest checkpoint there is 000002: --ckpt %s/ckpt/000002 takes it", run, run, want_missing, run);
    err.msg[0] = 0;
    rc = find_with_steps(run, stuck, 6, path, sizeof path, &got, &err, &reads);
    CHECK(rc == -1 && !strcmp(err.msg, want_msg) && reads == 2,
          "stuck: rc %d reads %d (want 2) message '%s' (want '%s')", rc, reads, err.msg, want_msg);

    /* a run whose latest keeps moving onto deleted checkpoints: SG_CKPT_FIND_TRIES readings, then
     * the message names the last one */
    const char *racing[] = {"000003\n", "000004\n", "000005\n", "000006\n", "000007\n", "000008\n", "000009\n"};
    sg_ckpt_path(want_missing, sizeof want_missing, run, SG_CKPT_FIND_TRIES + 2, "G");
    snprintf(want_msg, sizeof want_msg, "%s: %s/latest names %s, which is missing; the newest checkpoint there is 000002: --ckpt %s/ckpt/000002 takes it", run, run, want_missing, run);
    err.msg[0] = 0;
    rc = find_with_steps(run, racing, 7, path, sizeof path, &got, &err, &reads);
    CHECK(rc == -1 && !strcmp(err.msg, want_msg) && reads == SG_CKPT_FIND_TRIES,
          "racing: rc %d reads %d (want %d) message '%s' (want '%s')", rc, reads, SG_CKPT_FIND_TRIES, err.msg,
          want_msg);

    /* a plain latest file naming a missing checkpoint: the same message */
    char lp[700];
    snprintf(lp, sizeof lp, "%s/latest", run);
    FILE *lf = fopen(lp, "w");
    fputs("000001\n", lf);
    fclose(lf);
    sg_ckpt_path(want_missing, sizeof want_missing, run, 1, "G");
    snprintf(want_msg, sizeof want_msg, "%s: %s/latest names %s, which is missing; the newest checkpoint there is 000002: --ckpt %s/ckpt/000002 takes it", run, run, want_missing, run);
    err.msg[0] = 0;
    CHECK(sg_ckpt_find_generator(run, path, sizeof path, &got, &err) == -1 && !strcmp(err.msg, want_msg),
          "plain latest: '%s'", err.msg);
    /* ... and naming checkpoint 2: found */
    lf = fopen(lp, "w");
    fputs("000002\n", lf);
    fclose(lf);
    CHECK(sg_ckpt_find_generator(run, path, sizeof path, &got, &err) == 0 && !strcmp(path, g2) && got.step == 2,
          "plain latest 2: %s", err.msg);
    sg_ckpt_info_free(&got);
    /* latest a directory: said so, naming it (its read said "read: Is a directory");
     * a FIFO: refused, not read (that blocked for ever) */
    unlink(lp);
    CHECK(mkdir(lp, 0755) == 0, "mkdir %s", lp);
    snprintf(want_msg, sizeof want_msg, "%s: is a directory, not a file (move it away)", lp);
    rc = sg_ckpt_find_generator(run, path, sizeof path, &got, &err);
    CHECK(rc == -1 && !strcmp(err.msg, want_msg) && err.sys_errno == EISDIR,
          "latest a directory: rc %d '%s' (want '%s')", rc, err.msg, want_msg);
    rmdir(lp);
    CHECK(mkfifo(lp, 0644) == 0, "mkfifo %s", lp);
    snprintf(want_msg, sizeof want_msg, "%s: not a regular file (a FIFO; move it away)", lp);
    rc = sg_ckpt_find_generator(run, path, sizeof path, &got, &err);
    CHECK(rc == -1 && !strcmp(err.msg, want_msg), "latest a FIFO: rc %d '%s' (want '%s')", rc, err.msg, want_msg);
    unlink(lp);
    write_latest(run, "000002\n");

    /* a prefix, a file, nothing */
    char prefix[700];
    sg_ckpt_path(prefix, sizeof prefix, run, 2, NULL);
    CHECK(sg_ckpt_find_generator(prefix, path, sizeof path, &got, &err) == 0 && !strcmp(path, g2), "prefix: %s",
          err.msg);
    sg_ckpt_info_free(&got);
    CHECK(sg_ckpt_find_generator(g2, path, sizeof path, &got, &err) == 0 && !strcmp(path, g2), "file: %s", err.msg);
    sg_ckpt_info_free(&got);
    CHECK(sg_ckpt_find_generator(ckdir, path, sizeof path, &got, &err) == -1 && strstr(err.msg, "no checkpoint found"),
          "a directory without latest: '%s'", err.msg);
    sg_ckpt_path(prefix, sizeof prefix, run, 9, NULL);   /* the run holds 000002 only */
    CHECK(sg_ckpt_find_generator(prefix, path, sizeof path, &got, &err) == -1 &&
          strstr(err.msg, "000009: no such checkpoint: the run holds 000002 only (none of that step was written; "),
          "no such prefix: '%s'", err.msg);
    CHECK(sg_ckpt_arg_is_run(run) && !sg_ckpt_arg_is_run(g2), "arg_is_run");

    test_layout(be, cfg);
    test_tensors_against_metadata(g2);
    test_load_after_delete(be, &cfg, &info);
    test_checked_against_state(be, cfg, &info);

    sg_model_free(g);
    sg_backend_destroy(be);
    test_tmpdir_remove();
    return check_done();
}
