/* lib/checkpoint: the data CRC-32 checks of sg_ckpt_load, and which error it
 * reports first when a checkpoint has two faults (the order of the checks is
 * the contract: a file's keys, a state file's G_/D_ keys, their agreement, the
 * data; files in the order G, D, state; then the state's record of G and D). */
#include "check.h"
#include "backend.h"
#include "checkpoint.h"
#include "checkpoint_testing.h"
#include "ckpt_edit.h"
#include "fail_dir_fsync.h"
#include "fileio.h"
#include "model.h"
#include "test_tmpdir.h"
#include "version.h"
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static sg_model_config tiny_config(void)
{
    sg_model_config cfg = {0};
    cfg.image_size = 8; cfg.n_datasets = 1; cfg.label_dim[0] = 3;
    cfg.g_conv_dim = 4; cfg.g_repeat = 1; cfg.d_conv_dim = 4; cfg.d_repeat = 2; cfg.batch = 2;
    cfg.lambda_cls = 1; cfg.lambda_rec = 10; cfg.lambda_gp = 10; cfg.beta1 = 0.5; cfg.beta2 = 0.999;
    return cfg;
}

static char *labels[3] = {"Black_Hair", "attr1", "attr2"};

static sg_ckpt_info tiny_info(void)
{
    sg_ckpt_info info = {0};
    info.model = tiny_config();
    snprintf(info.dataset_names[0], SG_CKPT_NAME_MAX, "a");
    info.n_labels = 3;
    info.label_names = labels;
    return info;
}

/* A fresh copy of checkpoint 3 of the run `from` as run `to`. */
static void fresh_run(const char *from, const char *to)
{
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", to, from, to);
    CHECK(system(cmd) == 0, "%s", cmd);
}

/* One case: the damage is done to run `run` (a copy of `clean`), then
 * sg_ckpt_load must fail with a message holding want (and the file it names). */
static void expect_load_error(sg_model *m, const char *run, const char *what, const char *want_file,
                              const char *want)
{
    sg_err err = {{0}};
    int rc = sg_ckpt_load(m, run, 3, NULL, &err);
    CHECK(rc == -1 && strstr(err.msg, want) && !strncmp(err.msg, want_file, strlen(want_file)),
          "%s: rc %d, message '%s' (want '%s: ...%s...')", what, rc, rc ? err.msg : "(loaded)", want_file, want);
}

static void test_load_precedence(sg_backend *be)
{
    sg_err err = {{0}};
    sg_model_config cfg = tiny_config();
    sg_ckpt_info info = tiny_info();
    sg_model *src = NULL, *other = NULL, *dst = NULL;
    CHECK(sg_model_create(&src, &cfg, be, 1, &err) == 0, "create: %s", err.msg);
    CHECK(sg_model_create(&other, &cfg, be, 2, &err) == 0, "create: %s", err.msg);
    CHECK(sg_model_create(&dst, &cfg, be, 3, &err) == 0, "create: %s", err.msg);
    if (!src || !other || !dst) goto done;
    char clean[600], run[600], other_run[600], g[700], d[700], s[700], og[700];
    snprintf(clean, sizeof clean, "%s/clean", test_tmpdir);
    snprintf(other_run, sizeof other_run, "%s/other", test_tmpdir);
    snprintf(run, sizeof run, "%s/run", test_tmpdir);
    CHECK(sg_ckpt_save(src, clean, &info, 3, &err) == 0, "save: %s", err.msg);
    CHECK(sg_ckpt_save(other, other_run, &info, 3, &err) == 0, "save: %s", err.msg);
    sg_ckpt_path(g, sizeof g, run, 3, "G");
    sg_ckpt_path(d, sizeof d, run, 3, "D");
    sg_ckpt_path(s, sizeof s, run, 3, "state");
    sg_ckpt_path(og, sizeof og, other_run, 3, "G");

    fresh_run(clean, run);
    CHECK(sg_ckpt_load(dst, run, 3, NULL, &err) == 0, "a whole checkpoint: %s", err.msg);

    /* G cut short by exactly one byte (a copy that stopped at the last byte):
     * refused, naming G, as data out of the file's bounds */
    fresh_run(clean, run);
    {
        struct stat st;
        CHECK(stat(g, &st) == 0 && truncate(g, st.st_size - 1) == 0, "truncate %s", g);
    }
    expect_load_error(dst, run, "G cut by one byte", g, "out of bounds (the data buffer has");

    /* the state's own key and its G_ key malformed: its own first */
    fresh_run(clean, run);
    ckpt_edit_meta(s, "data_crc32", "zzzzzzzz");
    ckpt_edit_meta(s, "G_data_crc32", "zzzzzzzz");
    expect_load_error(dst, run, "own and G_ keys malformed", s, "metadata \"data_crc32\": 'zzzzzzzz' is not 8 hex digits");
    /* G_ and D_ malformed: G_ first */
    fresh_run(clean, run);
    ckpt_edit_meta(s, "G_data_crc32", "gggggggg");
    ckpt_edit_meta(s, "D_data_crc32", "dddddddx");
    expect_load_error(dst, run, "G_ and D_ malformed", s, "metadata \"G_data_crc32\": 'gggggggg' is not 8 hex digits");
    /* G_ absent (renamed), D_ malformed: the malformed key before the missing one */
    fresh_run(clean, run);
    ckpt_edit_rename_key(s, "G_data_crc32");
    ckpt_edit_meta(s, "D_data_crc32", "dddddddx");
    expect_load_error(dst, run, "G_ absent, D_ malformed", s, "metadata \"D_data_crc32\": 'dddddddx' is not 8 hex digits");
    /* the D_ key absent, its own malformed: the malformed one */
    fresh_run(clean, run);
    ckpt_edit_rename_key(s, "D_data_crc32");
    ckpt_edit_meta(s, "data_crc32", "0000000q");
    expect_load_error(dst, run, "D_ absent, own malformed", s, "metadata \"data_crc32\": '0000000q' is not 8 hex digits");
    /* a key malformed and the data damaged: the key (the header is read first) */
    fresh_run(clean, run);
    ckpt_edit_meta(s, "G_data_crc32", "gggggggg");
    ckpt_edit_flip_data(s, 100);
    expect_load_error(dst, run, "G_ malformed, data damaged", s, "metadata \"G_data_crc32\": 'gggggggg' is not 8 hex digits");
    /* its own key absent and the data damaged: the keys' disagreement, not the data */
    fresh_run(clean, run);
    ckpt_edit_rename_key(s, "data_crc32");
    ckpt_edit_flip_data(s, 100);
    expect_load_error(dst, run, "own key absent, data damaged", s,
                      "metadata holds G_data_crc32 but not data_crc32: the header is damaged");
    /* which key the message says is missing */
    fresh_run(clean, run);
    ckpt_edit_rename_key(s, "G_data_crc32");
    expect_load_error(dst, run, "G_ absent", s, "metadata holds D_data_crc32 but not G_data_crc32: the header is damaged");
    /* the state's data damaged and G damaged under a damaged key: the state's own
     * check (its file) comes before its record of G */
    fresh_run(clean, run);
    ckpt_edit_flip_data(s, 100);
    ckpt_edit_rename_key(g, "data_crc32");
    ckpt_edit_flip_data(g, 0);
    expect_load_error(dst, run, "state data and G damaged", s, "the data does not match its checksum");
    /* G damaged (its own key whole) and the state's header damaged: G first */
    fresh_run(clean, run);
    ckpt_edit_flip_data(g, 0);
    ckpt_edit_rename_key(s, "data_crc32");
    expect_load_error(dst, run, "G damaged, state header damaged", g, "the data does not match its checksum");
    /* D damaged and G mixed in from another run: D (its own check) before the state's record of G */
    fresh_run(clean, run);
    ckpt_edit_copy(og, g);
    ckpt_edit_flip_data(d, 4);
    expect_load_error(dst, run, "D damaged, G of another run", d, "the data does not match its checksum");
    /* G of another run alone: whole, so mixed; without its own key: damaged or mixed */
    fresh_run(clean, run);
    ckpt_edit_copy(og, g);
    expect_load_error(dst, run, "G of another run", g, "not the G saved with");
    ckpt_edit_rename_key(g, "data_crc32");
    expect_load_error(dst, run, "G of another run, its key damaged", g,
                      "the data does not match the checksum");
    /* D too: G's record is compared first */
    ckpt_edit_rename_key(d, "data_crc32");
    ckpt_edit_flip_data(d, 4);
    expect_load_error(dst, run, "G and D both unlike the record", g, "recorded for it");
done:
    sg_model_free(src);
    sg_model_free(other);
    sg_model_free(dst);
}

/* Only the names sg_ckpt_path writes mark a checkpoint: a stray copy named
 * 0002000-G.safetensors counted as a second step 2000 and made prune keep
 * one checkpoint fewer than asked. */
/* "FAMILY/N": N for that family, 0 for anything else (another family, a
 * prefix of the name, a number with a sign, a leading zero or other text) */
static void test_format_version(void)
{
    struct { const char *text; long want; } cases[] = {
        {"stargan-c-checkpoint/1", 1}, {"stargan-c-checkpoint/2", 2}, {"stargan-c-checkpoint/17", 17},
        {"stargan-c-checkpoint/0", 0}, {"stargan-c-checkpoint/02", 0}, {"stargan-c-checkpoint/", 0},
        {"stargan-c-checkpoint/+2", 0}, {"stargan-c-checkpoint/2a", 0}, {"stargan-c-checkpoint", 0},
        {"stargan-c-checkpoints/2", 0}, {"stargan-c-run/2", 0}, {"", 0},
        {"stargan-c-checkpoint/99999999999999999999", 0}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        long got = sg_format_version(cases[k].text, SG_CKPT_FORMAT_FAMILY);
        CHECK(got == cases[k].want, "format version of \"%s\": %ld, expected %ld", cases[k].text, got, cases[k].want);
    }
}

static void test_g_file_names(void)
{
    static const struct { const char *name; int rc; long long step; } cases[] = {
        { "002000-G.safetensors", 0, 2000 },   { "000000-G.safetensors", 0, 0 },
        { "1234567-G.safetensors", 0, 1234567 }, { "0002000-G.safetensors", -1, 0 },
        { "2000-G.safetensors", -1, 0 },       { "01234567-G.safetensors", -1, 0 },
        { "002000-D.safetensors", -1, 0 },     { "002000-G.safetensors~", -1, 0 },
        { "00200x-G.safetensors", -1, 0 },     { "-G.safetensors", -1, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t step = -7;
        int rc = sg_ckpt_g_file_step(cases[i].name, &step);
        CHECK(rc == cases[i].rc && (rc || step == cases[i].step), "sg_ckpt_g_file_step(%s): %d, step %lld",
              cases[i].name, rc, (long long)step);
    }
}

/* sg_ckpt_path says when the name does not fit, and sg_ckpt_remove refuses
 * such a run instead of unlinking a cut name (which exists nowhere) and
 * reporting the checkpoint removed. */
static void test_path_fit(void)
{
    char p[64];
    CHECK(sg_ckpt_path(p, sizeof p, "r", 12, "G") == 0 && !strcmp(p, "r/ckpt/000012-G.safetensors"), "'%s'", p);
    CHECK(sg_ckpt_path(p, sizeof p, "r", 12, NULL) == 0 && !strcmp(p, "r/ckpt/000012"), "'%s'", p);
    size_t exact = strlen("r/ckpt/000012-state.safetensors");
    CHECK(sg_ckpt_path(p, exact + 1, "r", 12, "state") == 0, "a name of exactly the room was refused");
    CHECK(sg_ckpt_path(p, exact, "r", 12, "state") == -1 && strlen(p) == exact - 1,
          "a name one byte over the room: '%s'", p);

    char run[PATH_MAX];   /* "aaaaaaaaa/aaaaaaaaa/...": each name short, so a cut one is merely missing */
    for (size_t i = 0; i < sizeof run; i++) run[i] = i % 10 == 9 ? '/' : 'a';
    run[PATH_MAX - 21] = 0;   /* RUN itself fits; RUN/ckpt/000003-state.safetensors does not */
    sg_err err = {{0}};
    int removed = -1;
    CHECK(sg_ckpt_remove(run, 3, &removed, &err) == -1 && strstr(err.msg, "path too long") && removed == 0,
          "removing a checkpoint of a run whose names do not fit: removed %d, '%.60s'", removed, err.msg);

    /* and one that fits: every file of the step counted */
    const char *r = test_tmp_path("remove-run");
    char dir[600], f[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/ckpt", r);
    CHECK(mkdir(r, 0755) == 0 && mkdir(dir, 0755) == 0, "mkdir %s", dir);
    const char *kinds[3] = {"G", "D", "state"};
    for (int k = 0; k < 3; k++) {
        sg_ckpt_path(f, sizeof f, r, 3, kinds[k]);
        FILE *fp = fopen(f, "w");
        CHECK(fp != NULL, "create %s", f);
        if (fp) fclose(fp);
    }
    CHECK(sg_ckpt_remove(r, 3, &removed, &err) == 0 && removed == 3, "remove: %d removed (%s)", removed, err.msg);
}

/* Every file names the build that wrote it (a resume on another build is
 * noted: sg-train(1)); a file of an older build, without the key, reads as "". */
static void test_created_by(sg_backend *be)
{
    sg_err err = {{0}};
    sg_model_config cfg = tiny_config();
    sg_ckpt_info info = tiny_info(), got;
    sg_model *m = NULL;
    CHECK(sg_model_create(&m, &cfg, be, 1, &err) == 0, "create: %s", err.msg);
    if (!m) return;
    char run[600], p[700];
    snprintf(run, sizeof run, "%s/created_by", test_tmpdir);
    CHECK(sg_ckpt_save(m, run, &info, 5, &err) == 0, "save: %s", err.msg);
    CHECK(!strncmp(sg_created_by, "stargan-c ", 10) && !strcmp(sg_created_by + 10, sg_version),
          "sg_created_by '%s', sg_version '%s'", sg_created_by, sg_version);
    const char *kinds[3] = {"G", "D", "state"};
    for (int k = 0; k < 3; k++) {
        sg_ckpt_path(p, sizeof p, run, 5, kinds[k]);
        CHECK(sg_ckpt_read_info(p, &got, &err) == 0, "read %s: %s", p, err.msg);
        CHECK(!strcmp(got.created_by, sg_created_by), "%s: created_by '%s', want '%s'", kinds[k], got.created_by,
              sg_created_by);
        sg_ckpt_info_free(&got);
    }
    /* the state file as an older build wrote it: loads, and says nobody */
    sg_ckpt_path(p, sizeof p, run, 5, "state");
    ckpt_edit_rename_key(p, "created_by");
    CHECK(sg_ckpt_read_info(p, &got, &err) == 0, "read %s: %s", p, err.msg);
    CHECK(got.created_by[0] == 0, "no key: created_by '%s'", got.created_by);
    sg_ckpt_info_free(&got);
    CHECK(sg_ckpt_load(m, run, 5, &got, &err) == 0, "load without created_by: %s", err.msg);
    CHECK(got.created_by[0] == 0, "load without the key: created_by '%s'", got.created_by);
    sg_ckpt_info_free(&got);
    sg_model_free(m);
}

/* A directory of the run not syncing after a file's rename, without an
 * unsynced handler (lib/fileio.h): each file is in place, so the save goes
 * on to D, state and latest, and returns SG_WRITTEN_UNSYNCED with the first
 * report (-1 would say the checkpoint is not written in full). */
static void test_unsynced_save(sg_backend *be)
{
    sg_err err = {{0}};
    sg_model_config cfg = tiny_config();
    sg_ckpt_info info = tiny_info();
    sg_model *m = NULL, *dst = NULL;
    CHECK(sg_model_create(&m, &cfg, be, 1, &err) == 0, "create: %s", err.msg);
    CHECK(sg_model_create(&dst, &cfg, be, 2, &err) == 0, "create: %s", err.msg);
    if (!m || !dst) goto done;
    char run[600], ckpt[620], g[700], want[1600];
    snprintf(run, sizeof run, "%s/unsynced", test_tmpdir);
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", run);
    CHECK(mkdir(run, 0777) == 0 && mkdir(ckpt, 0777) == 0, "mkdir %s: %s", ckpt, strerror(errno));
    sg_ckpt_path(g, sizeof g, run, 7, "G");
    snprintf(want, sizeof want, "%s written, but syncing its directory failed (%s: fsync: %s): a crash soon may lose it",
             g, ckpt, strerror(EIO));
    unsigned count = sg_unsynced_count();
    fail_fsync_of = ckpt;
    int rc = sg_ckpt_save(m, run, &info, 7, &err);
    fail_fsync_of = NULL;
    CHECK(rc == SG_WRITTEN_UNSYNCED && !strcmp(err.msg, want) && err.sys_errno == EIO,
          "ckpt/ unsynced: rc %d, '%s', not '%s'", rc, err.msg, want);
    CHECK(fsyncs_failed == 3 && sg_unsynced_count() == count + 3, "G, D and state: %d fsyncs failed, %u counted",
          fsyncs_failed, sg_unsynced_count() - count);
    int64_t latest = -1;
    CHECK(sg_ckpt_latest(run, &latest, &err) == 0 && latest == 7, "latest %lld (%s)", (long long)latest, err.msg);
    CHECK(sg_ckpt_load(dst, run, 7, NULL, &err) == 0, "the checkpoint does not load: %s", err.msg);
    /* latest's directory, the run's, alone */
    char lp[620];
    snprintf(lp, sizeof lp, "%s/latest", run);
    snprintf(want, sizeof want, "%s written, but syncing its directory failed (%s: fsync: %s): a crash soon may lose it",
             lp, run, strerror(EIO));
    fail_fsync_of = run;
    rc = sg_ckpt_save(m, run, &info, 8, &err);
    fail_fsync_of = NULL;
    CHECK(rc == SG_WRITTEN_UNSYNCED && !strcmp(err.msg, want), "latest unsynced: rc %d, '%s'", rc, err.msg);
    CHECK(sg_ckpt_latest(run, &latest, &err) == 0 && latest == 8, "latest %lld (%s)", (long long)latest, err.msg);
    /* and nothing failing: 0 */
    CHECK(sg_ckpt_save(m, run, &info, 9, &err) == 0, "save: %s", err.msg);
done:
    sg_model_free(m);
    sg_model_free(dst);
}

/* Replaces every occurrence of from in path's header by to (as long). */
static int header_replace(const char *path, const char *from, const char *to)
{
    long len;
    FILE *f;
    char *h = ckpt_edit_header(path, &len, &f);
    int n = 0;
    if (!h) return 0;
    for (char *p = h + 8; (p = strstr(p, from)); p += strlen(from), n++) memcpy(p, to, strlen(to));   /* after the length */
    fseek(f, 0, SEEK_SET);
    CHECK(fwrite(h, 1, (size_t)len, f) == (size_t)len, "rewrite %s", path);
    fclose(f);
    free(h);
    return n;
}

/* Each dataset's crop goes into its "datasets" entry (CelebA 178 and RaFD 256
 * in one model); a file without them (older builds) reads as the top-level
 * crop for every dataset; the key is optional, and unknown keys of an entry
 * are ignored (so an older reader reads a newer file). */
static void test_dataset_crops(sg_backend *be)
{
    sg_err err = {{0}};
    sg_model_config cfg = tiny_config();
    cfg.n_datasets = 2; cfg.label_dim[1] = 2; cfg.one_hot[1] = 1;
    char *names[5] = {"Black_Hair", "attr1", "attr2", "angry", "happy"};
    sg_ckpt_info info = {0}, got;
    info.model = cfg;
    snprintf(info.dataset_names[0], SG_CKPT_NAME_MAX, "celeba");
    snprintf(info.dataset_names[1], SG_CKPT_NAME_MAX, "rafd");
    info.n_labels = 5;
    info.label_names = names;
    info.crop = 178;
    info.dataset_crop[0] = 178; info.dataset_crop[1] = 256; info.has_dataset_crops = 1;
    sg_model *m = NULL;
    CHECK(sg_model_create(&m, &cfg, be, 1, &err) == 0, "create: %s", err.msg);
    if (!m) return;
    char p[700];
    snprintf(p, sizeof p, "%s/crops-G.safetensors", test_tmpdir);
    CHECK(sg_ckpt_write_net(m, SG_NET_G, p, &info, 1, &err) == 0, "write: %s", err.msg);
    CHECK(sg_ckpt_read_info(p, &got, &err) == 0, "read: %s", err.msg);
    CHECK(got.crop == 178 && got.has_dataset_crops && got.dataset_crop[0] == 178 && got.dataset_crop[1] == 256 &&
          sg_ckpt_dataset_crop(&got, 1) == 256,
          "per-dataset crops: top %d, %d %d", got.crop, got.dataset_crop[0], got.dataset_crop[1]);
    sg_ckpt_info_free(&got);
    /* an older build's file: no "crop" in the entries (renamed to a key
     * nobody knows, which is ignored): every dataset has the top-level crop */
    CHECK(header_replace(p, "\\\"crop\\\":", "\\\"xrop\\\":") == 2, "two entry crops in %s", p);
    CHECK(sg_ckpt_read_info(p, &got, &err) == 0, "read without entry crops: %s", err.msg);
    CHECK(got.dataset_crop[0] == 178 && got.dataset_crop[1] == 178 && sg_ckpt_dataset_crop(&got, 1) == 178,
          "older file: crops %d %d, want 178 178", got.dataset_crop[0], got.dataset_crop[1]);
    sg_ckpt_info_free(&got);
    /* a writer that sets only the top-level crop records it for every dataset */
    info.has_dataset_crops = 0;
    info.dataset_crop[1] = 0;
    CHECK(sg_ckpt_write_net(m, SG_NET_G, p, &info, 1, &err) == 0, "write: %s", err.msg);
    CHECK(sg_ckpt_read_info(p, &got, &err) == 0, "read: %s", err.msg);
    CHECK(got.dataset_crop[0] == 178 && got.dataset_crop[1] == 178, "top-level only: %d %d", got.dataset_crop[0],
          got.dataset_crop[1]);
    sg_ckpt_info_free(&got);
    /* a damaged entry crop is an error naming the entry */
    CHECK(header_replace(p, "\\\"crop\\\":178}]", "\\\"crop\\\":-17}]") == 1, "last entry's crop in %s", p);
    CHECK(sg_ckpt_read_info(p, &got, &err) == -1 && strstr(err.msg, "entry 1: \"crop\""), "bad crop: %s",
          err.msg);
    sg_model_free(m);
}

int main(void)
{
    if (test_tmpdir_make("test_checkpoint")) return 1;
    sg_err err = {{0}};
    sg_backend *be = sg_backend_cpu_create(1, &err);
    CHECK(be != NULL, "cpu backend: %s", err.msg);
    if (!be) return check_done();
    test_g_file_names();
    test_path_fit();
    test_format_version();
    test_load_precedence(be);
    test_created_by(be);
    test_dataset_crops(be);
    test_unsynced_save(be);
    sg_backend_destroy(be);
    if (check_failed == 0) test_tmpdir_remove();
    else printf("kept %s\n", test_tmpdir);
    return check_done();
}
