/* What counts as a checkpoint in RUN/ckpt, asked of every scanner of it:
 * sg_ckpt_steps (prune's list, the "the run holds" message), sg_ckpt_newest_complete
 * (sg-train's "the one before it", a resume without latest, sg-sample's hint),
 * sg_ckpt_newest_generator_file (sg-sample's hint for G files alone) and
 * sg_ckpt_prune. They once each had a rule of their own: a directory or a
 * dangling link named like a G file was a checkpoint to one, nothing to
 * another, and a complete one (its G unchecked) to a third, so prune could
 * delete the only complete checkpoint, or fail on the directory at every save.
 *
 * The files are empty: no scanner reads a checkpoint's content. */
#include "check.h"
#include "checkpoint.h"
#include "ckpt_find.h"
#include "test_tmpdir.h"
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum g_kind { G_NONE, G_FILE, G_DIR, G_DANGLING, G_LINK_TO_FILE };

/* The library's opendir (this definition in the test binary comes before the
 * C library's): counts the scans of a directory named ".../ckpt". */
static int ckpt_scans;

DIR *opendir(const char *name)
{
    static DIR *(*real_opendir)(const char *);
    if (!real_opendir) real_opendir = (DIR *(*)(const char *))dlsym(RTLD_NEXT, "opendir");
    if (!real_opendir) { errno = ENOSYS; return NULL; }
    size_t len = strlen(name);
    if (len >= 5 && !strcmp(name + len - 5, "/ckpt")) ckpt_scans++;
    return real_opendir(name);
}

static void put_file(const char *path)
{
    FILE *f = fopen(path, "wb");
    if (f) fclose(f);
    CHECK(f != NULL, "cannot create %s", path);
}

/* Checkpoint step of run: its G as kind, its D and state regular files when
 * d_and_state. */
static void make_ckpt(const char *run, int64_t step, enum g_kind kind, int d_and_state)
{
    char g[PATH_MAX], p[PATH_MAX], target[PATH_MAX];
    snprintf(p, sizeof p, "%s/ckpt", run);
    mkdir(run, 0755);
    mkdir(p, 0755);
    sg_ckpt_path(g, sizeof g, run, step, "G");
    switch (kind) {
    case G_NONE: break;
    case G_FILE: put_file(g); break;
    case G_DIR: CHECK(mkdir(g, 0755) == 0, "mkdir %s", g); break;
    case G_DANGLING:
        snprintf(target, sizeof target, "%s/nowhere-%lld", run, (long long)step);
        CHECK(symlink(target, g) == 0, "symlink %s", g);
        break;
    case G_LINK_TO_FILE:
        snprintf(target, sizeof target, "%s/store-%lld-G.safetensors", run, (long long)step);
        put_file(target);
        CHECK(symlink(target, g) == 0, "symlink %s", g);
        break;
    }
    if (!d_and_state) return;
    sg_ckpt_path(p, sizeof p, run, step, "D");
    put_file(p);
    sg_ckpt_path(p, sizeof p, run, step, "state");
    put_file(p);
}

static void write_latest(const char *run, int64_t step)
{
    sg_err err;
    CHECK(sg_ckpt_write_latest(run, step, &err) == 0, "latest: %s", err.msg);
}

/* 1 when every one of checkpoint step's files named in kinds ("G", "D",
 * "state") is there under its name (lstat: a link counts as itself) */
static int names_there(const char *run, int64_t step, const char *kinds)
{
    static const char *all[3] = {"G", "D", "state"};
    for (int k = 0; k < 3; k++) {
        if (!strstr(kinds, all[k])) continue;
        char p[PATH_MAX];
        struct stat st;
        sg_ckpt_path(p, sizeof p, run, step, all[k]);
        if (lstat(p, &st) != 0) return 0;
    }
    return 1;
}

/* The rule itself: a regular file, or a link to one. */
static void test_file_there(void)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/plain", test_tmpdir);
    put_file(p);
    CHECK(sg_ckpt_file_there(p) == 1, "a regular file is not there");
    snprintf(p, sizeof p, "%s/link", test_tmpdir);
    CHECK(symlink("plain", p) == 0 && sg_ckpt_file_there(p) == 1, "a link to a regular file is not there");
    snprintf(p, sizeof p, "%s/dangling", test_tmpdir);
    CHECK(symlink("nowhere", p) == 0 && sg_ckpt_file_there(p) == 0, "a dangling link is there");
    snprintf(p, sizeof p, "%s/dir", test_tmpdir);
    CHECK(mkdir(p, 0755) == 0 && sg_ckpt_file_there(p) == 0, "a directory is there");
    snprintf(p, sizeof p, "%s/fifo", test_tmpdir);
    CHECK(mkfifo(p, 0644) == 0 && sg_ckpt_file_there(p) == 0, "a FIFO is there");
    snprintf(p, sizeof p, "%s/missing", test_tmpdir);
    CHECK(sg_ckpt_file_there(p) == 0, "a missing file is there");
}

/* One run with one checkpoint of each kind; every scanner gives the same
 * answer about each step. */
static void test_scanners_agree(void)
{
    char run[PATH_MAX], ck[PATH_MAX], prefix[PATH_MAX], want[PATH_MAX];
    snprintf(run, sizeof run, "%s/agree", test_tmpdir);
    snprintf(ck, sizeof ck, "%s/ckpt", run);
    static const struct { int64_t step; enum g_kind g; int d_and_state, has_generator, complete; } k[] = {
        {50, G_LINK_TO_FILE, 1, 1, 1},   /* a run put together with links */
        {100, G_FILE, 1, 1, 1},          /* complete */
        {200, G_NONE, 1, 0, 0},          /* D and state without G */
        {300, G_FILE, 0, 1, 0},          /* G only (a converted G, or a failed save's) */
        {400, G_DIR, 1, 0, 0},           /* a directory named like a G file */
        {500, G_DANGLING, 1, 0, 0},      /* a link to nowhere named like a G file */
    };
    int nk = (int)(sizeof k / sizeof k[0]);
    for (int i = 0; i < nk; i++) make_ckpt(run, k[i].step, k[i].g, k[i].d_and_state);

    int64_t *steps;
    size_t n;
    sg_err err;
    CHECK(sg_ckpt_steps(run, &steps, &n, &err) == 0, "steps: %s", err.msg);
    CHECK(n == 3 && steps[0] == 50 && steps[1] == 100 && steps[2] == 300,
          "steps: %zu of them, want 50, 100 and 300 (a directory or dangling link is no checkpoint)", n);
    int64_t newest_generator = -1, newest_complete = -1;
    for (int i = 0; i < nk; i++) {
        int64_t s = k[i].step;
        int listed = 0;
        for (size_t j = 0; j < n; j++) listed |= steps[j] == s;
        CHECK(sg_ckpt_has_generator(run, s) == k[i].has_generator, "step %lld: has_generator %d, want %d",
              (long long)s, sg_ckpt_has_generator(run, s), k[i].has_generator);
        CHECK(sg_ckpt_is_complete(run, s) == k[i].complete, "step %lld: is_complete %d, want %d", (long long)s,
              sg_ckpt_is_complete(run, s), k[i].complete);
        CHECK(listed == k[i].has_generator, "step %lld: listed by sg_ckpt_steps %d, want %d", (long long)s, listed,
              k[i].has_generator);
        /* step the newest complete one below step + 1 exactly when complete */
        int64_t below = sg_ckpt_newest_complete(run, s + 1);
        CHECK((below == s) == k[i].complete, "step %lld: sg_ckpt_newest_complete(below %lld) is %lld",
              (long long)s, (long long)(s + 1), (long long)below);
        if (k[i].has_generator) newest_generator = s;
        if (k[i].complete) newest_complete = s;
    }
    free(steps);
    /* sg-sample's hint for this run without latest, and a resume's choice */
    int64_t got = sg_ckpt_newest_complete(run, INT64_MAX);
    CHECK(got == newest_complete, "newest complete %lld, want %lld", (long long)got, (long long)newest_complete);
    got = sg_ckpt_newest_complete(run, 400);
    CHECK(got == 100, "the complete one before 400: %lld, want 100", (long long)got);
    snprintf(want, sizeof want, "%s/%06lld", ck, (long long)newest_generator);
    CHECK(sg_ckpt_newest_generator_file(ck, prefix, sizeof prefix) == 0 && !strcmp(prefix, want),
          "newest G file '%s', want '%s'", prefix, want);

    /* --ckpt naming the directory or the dangling link: the run's checkpoints
     * are those listed, and the message says what is under the G name */
    write_latest(run, 100);
    sg_ckpt_info info;
    char arg[PATH_MAX], path[PATH_MAX];
    for (int64_t s = 400; s <= 500; s += 100) {
        snprintf(arg, sizeof arg, "%s/%06lld", ck, (long long)s);
        CHECK(sg_ckpt_find_generator(arg, path, sizeof path, &info, &err) == -1 &&
              strstr(err.msg, "the run holds 3 checkpoints, 000050 to 000300") &&
              strstr(err.msg, "-G.safetensors there is not a regular file"), "--ckpt %s: '%s'", arg, err.msg);
    }
    /* none of that step: as before */
    snprintf(arg, sizeof arg, "%s/000600", ck);
    CHECK(sg_ckpt_find_generator(arg, path, sizeof path, &info, &err) == -1 &&
          strstr(err.msg, "the run holds 3 checkpoints") && strstr(err.msg, "none of that step was written"),
          "--ckpt %s: '%s'", arg, err.msg);
}

/* A RUN/latest that holds no checkpoint number: sg_ckpt_latest's message
 * names the newest complete checkpoint, or says there is none, or that there
 * is no checkpoint at all, from one scan of RUN/ckpt. */
static void test_latest_unreadable(void)
{
    struct { const char *name; int complete, g_only; const char *want; } k[] = {
        {"complete", 1, 1, "the newest complete checkpoint is 000100: echo 000100 > "},
        {"g-only", 0, 1, "/ckpt holds no complete checkpoint)"},
        {"none", 0, 0, "and the run has no checkpoint yet"},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        char run[PATH_MAX], lp[PATH_MAX + 16];
        snprintf(run, sizeof run, "%s/latest-%s", test_tmpdir, k[i].name);
        snprintf(lp, sizeof lp, "%s/ckpt", run);
        mkdir(run, 0755);
        mkdir(lp, 0755);
        if (k[i].complete) make_ckpt(run, 100, G_FILE, 1);
        if (k[i].g_only) make_ckpt(run, 200, G_FILE, 0);
        snprintf(lp, sizeof lp, "%s/latest", run);
        FILE *f = fopen(lp, "w");
        if (f) { fputs("edited\n", f); fclose(f); }
        CHECK(f != NULL, "cannot write %s", lp);
        int64_t step = 7;
        sg_err err = {{0}};
        ckpt_scans = 0;
        int rc = sg_ckpt_latest(run, &step, &err);
        CHECK(rc == -1 && strstr(err.msg, "expected a checkpoint number such as 001000") && strstr(err.msg, k[i].want),
              "%s: latest 'edited': rc %d, '%s'", k[i].name, rc, err.msg);
        CHECK(ckpt_scans == 1, "%s: RUN/ckpt scanned %d times for the message, want once", k[i].name, ckpt_scans);
    }
}

/* Prune counts complete checkpoints only, deletes only checkpoints (those
 * with their G file), and so never the last complete one. */
static void test_prune(void)
{
    sg_err err;
    /* latest names a step whose G is not a file (a directory, a link to
     * nowhere) beside D and state: the complete one before it is the only
     * checkpoint a resume or sg-sample can use, and stays */
    static const enum g_kind unusable[2] = {G_DIR, G_DANGLING};
    for (int u = 0; u < 2; u++) {
        char run[PATH_MAX];
        snprintf(run, sizeof run, "%s/last-%d", test_tmpdir, u);
        make_ckpt(run, 100, G_FILE, 1);
        make_ckpt(run, 200, unusable[u], 1);
        write_latest(run, 200);
        CHECK(sg_ckpt_prune(run, 1, &err) == 0, "prune (%s): %s", run, err.msg);
        CHECK(sg_ckpt_is_complete(run, 100), "prune --keep 1 (G of 200: %s) deleted the only complete checkpoint",
              u ? "a dangling link" : "a directory");
        CHECK(names_there(run, 200, "G D state"), "prune touched 200 (G: %s)", u ? "a dangling link" : "a directory");
    }

    /* keep 2 among complete 100, 200, 400 (latest) and names that are no
     * checkpoint: 200 and 400 stay, 100 goes, the others are left alone
     * (not counted, not deleted: a directory would fail every save's prune) */
    char run[PATH_MAX];
    snprintf(run, sizeof run, "%s/keep2", test_tmpdir);
    make_ckpt(run, 50, G_DIR, 1);
    make_ckpt(run, 60, G_DANGLING, 1);
    make_ckpt(run, 70, G_NONE, 1);
    make_ckpt(run, 80, G_FILE, 0);   /* incomplete: its D a directory */
    char d80[PATH_MAX], s80[PATH_MAX];
    sg_ckpt_path(d80, sizeof d80, run, 80, "D");
    sg_ckpt_path(s80, sizeof s80, run, 80, "state");
    CHECK(mkdir(d80, 0755) == 0, "mkdir %s", d80);
    put_file(s80);
    make_ckpt(run, 100, G_FILE, 1);
    make_ckpt(run, 200, G_FILE, 1);
    make_ckpt(run, 300, G_DIR, 1);
    make_ckpt(run, 400, G_FILE, 1);
    write_latest(run, 400);
    CHECK(sg_ckpt_prune(run, 2, &err) == 0, "prune --keep 2: %s", err.msg);
    CHECK(!names_there(run, 100, "G") && !names_there(run, 100, "D") && !names_there(run, 100, "state"),
          "prune --keep 2 left checkpoint 100");
    CHECK(sg_ckpt_is_complete(run, 200) && sg_ckpt_is_complete(run, 400),
          "prune --keep 2 did not keep 200 and 400 (a directory counted as a checkpoint kept)");
    static const int64_t left_alone[3] = {50, 60, 300};
    for (int i = 0; i < 3; i++)
        CHECK(names_there(run, left_alone[i], "G D state"), "prune touched %lld, which is no checkpoint",
              (long long)left_alone[i]);
    CHECK(names_there(run, 70, "D state"), "prune touched 70's D and state (no G)");
    /* an older incomplete checkpoint goes, but for a directory under its D's name */
    CHECK(!names_there(run, 80, "G") && !names_there(run, 80, "state"), "prune left checkpoint 80's G or state");
    struct stat st;
    CHECK(stat(d80, &st) == 0 && S_ISDIR(st.st_mode), "prune removed the directory %s", d80);
}

int main(void)
{
    if (test_tmpdir_make("test_ckpt_scan")) return 1;
    test_file_there();
    test_scanners_agree();
    test_latest_unreadable();
    test_prune();
    test_tmpdir_remove();
    return check_done();
}
