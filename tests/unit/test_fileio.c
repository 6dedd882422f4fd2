/* lib/fileio.c: the atomic writer replaces regular files wherever they are
 * (under /dev too), writes descriptor names in place, never writes through
 * something placed at its temporary name; the reader's size limit and its
 * word for a directory; the registry of temporary files in flight, which the
 * safetensors writer uses too (a link at its temporary name is not followed
 * either). */
#include "check.h"
#include "fileio.h"
#include "safetensors.h"
#include "fail_dir_fsync.h"
#include "test_tmpdir.h"
#include "dead_pid.h"
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The bytes of path (at most n), or -1. */
static long slurp(const char *path, char *buf, size_t n)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    ssize_t r = read(fd, buf, n);
    close(fd);
    return (long)r;
}

static void put(const char *path, const char *text)
{
    sg_err err;
    int rc = sg_write_file_atomic(path, text, strlen(text), &err);
    CHECK(rc == 0, "write %s: %s", path, rc ? err.msg : "");
}

/* Writing a file twice leaves the second content only. */
static void check_replaced(const char *path)
{
    char buf[64];
    put(path, "first version\n");
    put(path, "second\n");
    long n = slurp(path, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    CHECK(n == 7 && !strcmp(buf, "second\n"), "%s holds %ld bytes '%s', want 'second\\n'", path, n, buf);
}

static void test_replace(void)
{
    check_replaced(test_tmp_path("plain.txt"));
    /* /dev/shm is a tmpfs of regular files: they were appended to (O_APPEND),
     * as if they were /dev/stdout. */
    char shm[64];
    snprintf(shm, sizeof shm, "/dev/shm/test_fileio.%ld", (long)getpid());
    int fd = open(shm, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) { SKIP("/dev/shm not writable: %s", strerror(errno)); return; }
    close(fd);
    check_replaced(shm);
    unlink(shm);
}

static void test_fd_names_in_place(void)
{
    /* /dev/fd/N of a regular file the caller opened: written there, not replaced. */
    const char *path = test_tmp_path("through_fd.txt");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0, "open %s", path);
    struct stat before, after;
    fstat(fd, &before);
    char name[64];
    snprintf(name, sizeof name, "/dev/fd/%d", fd);
    put(name, "via fd\n");
    snprintf(name, sizeof name, "/proc/self/fd/%d", fd);
    put(name, "and proc\n");
    stat(path, &after);
    char buf[64];
    long n = slurp(path, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    CHECK(before.st_ino == after.st_ino, "the file behind /dev/fd/N was replaced");
    CHECK(!strcmp(buf, "via fd\nand proc\n"), "through the descriptor: '%s'", buf);
    close(fd);
    /* /dev/null is a device: written in place, still a device afterwards. */
    put("/dev/null", "x");
    struct stat st;
    CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode), "/dev/null is no longer a device");
}

/* The temporary name the next write to out will use: sg_temp_name's next
 * number (this test writes from one thread). */
static void next_temp_name(char *tmp, size_t n, const char *out)
{
    char probe[600];
    CHECK(sg_temp_name(probe, sizeof probe, out, ".tmp.") == 0, "sg_temp_name %s", out);
    unsigned serial = (unsigned)strtoul(strrchr(probe, '.') + 1, NULL, 10);
    snprintf(tmp, n, "%s.tmp.%ld.%u", out, (long)getpid(), serial + 1);
}

static void test_tmp_name_taken(void)
{
    /* A link at the predictable temporary name (PATH.tmp.PID.N) is not followed. */
    const char *victim = test_tmp_path("victim.txt"), *out = test_tmp_path("out.txt");
    put(victim, "precious\n");
    char tmp[600];
    next_temp_name(tmp, sizeof tmp, out);
    CHECK(symlink(victim, tmp) == 0, "symlink %s", tmp);
    put(out, "output\n");
    char buf[64];
    long n = slurp(victim, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    CHECK(!strcmp(buf, "precious\n"), "the link's target was overwritten: '%s'", buf);
    n = slurp(out, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    CHECK(!strcmp(buf, "output\n"), "output '%s'", buf);
    struct stat st;
    CHECK(lstat(tmp, &st) != 0, "the temporary name is left behind");
    /* A stale regular file there (an earlier process of the same number). */
    next_temp_name(tmp, sizeof tmp, out);
    int fd = open(tmp, O_WRONLY | O_CREAT, 0600);
    CHECK(fd >= 0 && write(fd, "stale", 5) == 5, "stale file");
    close(fd);
    put(out, "again\n");
    n = slurp(out, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    CHECK(!strcmp(buf, "again\n"), "output '%s'", buf);
    CHECK(lstat(tmp, &st) != 0, "the stale file is left behind");
}

/* Temporary names: one per call (so one per writer), and the parser of what
 * follows the tag, which the cleaners of dead writers' files use. */
static void test_temp_names(void)
{
    char a[64], b[64], want[64];
    CHECK(sg_temp_name(a, sizeof a, "o.png", ".tmp.") == 0 && sg_temp_name(b, sizeof b, "o.png", ".tmp.") == 0 &&
          strcmp(a, b), "two names: %s, %s", a, b);
    snprintf(want, sizeof want, "o.png.tmp.%ld.", (long)getpid());
    CHECK(!strncmp(a, want, strlen(want)) && strlen(a) <= strlen("o.png") + sg_temp_name_extra(".tmp."),
          "%s: not %sN, or longer than sg_temp_name_extra says", a, want);
    CHECK(sg_temp_name(a, 12, "o.png", ".tmp.") == -1, "a name cut short: %s", a);
    static const struct { const char *s; long pid; } cases[] = {
        {"4711", 4711}, {"4711.0", 4711}, {"4711.12", 4711}, {"1.4294967295", 1},
        {"", -1}, {"0", -1}, {"0.1", -1}, {"04711", -1}, {"-1", -1}, {"+4711", -1}, {"4711.", -1}, {"4711.01", -1},
        {"4711.1.2", -1}, {"4711.old", -1}, {"4711x", -1}, {"4711.1x", -1}, {" 4711", -1}, {"12345678901", -1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        CHECK(sg_temp_name_pid(cases[k].s) == cases[k].pid, "sg_temp_name_pid(\"%s\"): %ld, not %ld", cases[k].s,
              sg_temp_name_pid(cases[k].s), cases[k].pid);
}

/* Two threads of one process writing one path at the same time: each write
 * has a temporary file of its own, so what a reader finds at the path, while
 * they write and after, is one of the two contents whole, and neither write
 * fails (with a shared temporary name, the second writer removed the first
 * one's file, the first renamed the second's half-written file into place,
 * and the second's rename failed). */
enum { MIX_LEN = 1 << 20, MIX_ROUNDS = 40 };
typedef struct {
    const char *path;
    char byte;
    int failures;
    pthread_barrier_t *round;
    atomic_int *writes_done;
} mix_writer;

static void *write_rounds(void *arg)
{
    mix_writer *w = arg;
    char *data = malloc(MIX_LEN);
    if (data) memset(data, w->byte, MIX_LEN);
    for (int r = 0; r < MIX_ROUNDS; r++) {
        pthread_barrier_wait(w->round);   /* both start together */
        sg_err err;
        if (!data || sg_write_file_atomic(w->path, data, MIX_LEN, &err)) w->failures++;
        atomic_fetch_add(w->writes_done, 1);
        pthread_barrier_wait(w->round);   /* the main thread checks the file once more */
    }
    free(data);
    return NULL;
}

static void test_two_writers_one_path(void)
{
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s", test_tmp_path("mix"));
    snprintf(path, sizeof path, "%s/out.bin", dir);
    CHECK(mkdir(dir, 0755) == 0, "mkdir %s", dir);
    pthread_barrier_t round;
    pthread_barrier_init(&round, NULL, 3);
    atomic_int writes_done = 0;
    mix_writer w[2] = {{path, 'A', 0, &round, &writes_done}, {path, 'B', 0, &round, &writes_done}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, write_rounds, &w[i]);
    char *got = malloc(MIX_LEN + 1);
    int reads = 0, bad = 0;
    for (int r = 0; r < MIX_ROUNDS; r++) {
        pthread_barrier_wait(&round);
        for (int last = 0; !last;) {   /* while they write, and once after */
            last = atomic_load(&writes_done) == 2 * (r + 1);
            long n = got ? slurp(path, got, MIX_LEN + 1) : -1;
            if (n < 0 && r == 0 && !last) continue;   /* not written yet */
            int whole = n == MIX_LEN && (got[0] == 'A' || got[0] == 'B');
            for (long i = 1; whole && i < n; i++) whole = got[i] == got[0];
            reads++;
            if (!whole && !bad++) CHECK(0, "round %d: %ld bytes read, not the %d of one writer", r, n, MIX_LEN);
        }
        pthread_barrier_wait(&round);
    }
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&round);
    free(got);
    CHECK(w[0].failures == 0 && w[1].failures == 0, "writes failed: %d and %d of %d", w[0].failures, w[1].failures,
          MIX_ROUNDS);
    CHECK(bad == 0, "%d of %d reads found no whole content", bad, reads);
    DIR *d = opendir(dir);
    struct dirent *e;
    int others = 0;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "out.bin")) others++;
    if (d) closedir(d);
    CHECK(others == 0, "%d files beside the output (temporary files left)", others);
}

/* A dangling or looping link at the output is refused and kept, as cp
 * refuses to write through a dangling link: the output would land beside it. */
static void test_dangling_link(void)
{
    char dangling[4096], loop[4096], buf[64];
    snprintf(dangling, sizeof dangling, "%s", test_tmp_path("dangling.png"));
    snprintf(loop, sizeof loop, "%s", test_tmp_path("loop.png"));
    CHECK(symlink("/nonexistent/share/x.png", dangling) == 0 && symlink("loop.png", loop) == 0, "symlink");
    sg_err err;
    int rc = sg_write_file_atomic(dangling, "x", 1, &err);
    CHECK(rc != 0 && strstr(err.msg, "dangling.png: a symbolic link to /nonexistent/share/x.png, which does not exist"),
          "dangling: rc %d '%s'", rc, rc ? err.msg : "");
    rc = sg_write_file_atomic(loop, "x", 1, &err);
    CHECK(rc != 0 && strstr(err.msg, "loop.png: a symbolic link to loop.png, which loops"), "loop: rc %d '%s'", rc,
          rc ? err.msg : "");
    struct stat st;
    CHECK(lstat(dangling, &st) == 0 && S_ISLNK(st.st_mode), "the dangling link was replaced");
    CHECK(lstat(loop, &st) == 0 && S_ISLNK(st.st_mode), "the looping link was replaced");
    CHECK(readlink(loop, buf, sizeof buf) == 8, "the looping link was changed");
}

static void test_read_limit(void)
{
    uint8_t *data = NULL;
    size_t len = 0;
    sg_err err;
    /* An endless input stops one byte past the limit with a message naming it. */
    int rc = sg_read_file("/dev/zero", 100000, &data, &len, &err);
    CHECK(rc != 0 && strstr(err.msg, "/dev/zero: larger than the limit of 100000 bytes") && err.sys_errno == E2BIG,
          "got rc %d '%s'", rc,
          rc ? err.msg : "");
    const char *path = test_tmp_path("exact.txt");
    char text[1000];
    memset(text, 'a', sizeof text);
    CHECK(sg_write_file_atomic(path, text, sizeof text, &err) == 0, "write");
    rc = sg_read_file(path, sizeof text, &data, &len, &err);
    CHECK(rc == 0 && len == sizeof text && data[len] == 0, "a file of exactly the limit: rc %d len %zu", rc, len);
    if (rc == 0) free(data);
    rc = sg_read_file(path, sizeof text - 1, &data, &len, &err);
    CHECK(rc != 0, "a file one byte over the limit was read");
    /* a failure leaves the outputs empty, not as they were (error.h) */
    static uint8_t stale[1];
    data = stale;
    len = 7;
    rc = sg_read_file(test_tmp_path("no-such-file"), 100, &data, &len, &err);
    CHECK(rc != 0 && data == NULL && len == 0, "a failed read left rc %d data %p len %zu", rc, (void *)data, len);
}

/* A directory where a file is read: fopen opens one on Linux and its read
 * fails ("read: Is a directory"); said as what it is, EISDIR. The same words
 * from sg_refuse_irregular, which adds what to do; a FIFO keeps its own. */
static void test_read_directory(void)
{
    uint8_t *data = (uint8_t *)"stale";
    size_t len = 3;
    sg_err err = {{0}};
    char dir[600], link[600], fifo[600], want[1200];
    snprintf(dir, sizeof dir, "%s", test_tmp_path("a-dir"));
    snprintf(link, sizeof link, "%s", test_tmp_path("dir-link"));
    snprintf(fifo, sizeof fifo, "%s", test_tmp_path("a-fifo"));
    CHECK(mkdir(dir, 0755) == 0, "mkdir %s", dir);
    snprintf(want, sizeof want, "%s: is a directory, not a file", dir);
    int rc = sg_read_file(dir, 100, &data, &len, &err);
    CHECK(rc == -1 && !strcmp(err.msg, want) && err.sys_errno == EISDIR && data == NULL && len == 0,
          "read a directory: rc %d '%s' errno %d (want '%s', EISDIR)", rc, err.msg, err.sys_errno, want);
    /* through a link: the path as given */
    CHECK(symlink(dir, link) == 0, "symlink");
    snprintf(want, sizeof want, "%s: is a directory, not a file", link);
    rc = sg_read_file(link, 100, &data, &len, &err);
    CHECK(rc == -1 && !strcmp(err.msg, want) && err.sys_errno == EISDIR, "a link to a directory: '%s'", err.msg);
    snprintf(want, sizeof want, "%s: is a directory, not a file (move it away)", dir);
    rc = sg_refuse_irregular(dir, &err);
    CHECK(rc == -1 && !strcmp(err.msg, want) && err.sys_errno == EISDIR, "refuse a directory: '%s' (want '%s')",
          err.msg, want);
    CHECK(mkfifo(fifo, 0644) == 0, "mkfifo");
    snprintf(want, sizeof want, "%s: not a regular file (a FIFO; move it away)", fifo);
    rc = sg_refuse_irregular(fifo, &err);
    CHECK(rc == -1 && !strcmp(err.msg, want) && err.sys_errno == 0, "refuse a FIFO: '%s'", err.msg);
    CHECK(sg_err_is_dir(NULL, dir) == -1, "sg_err_is_dir without err");
    unlink(fifo);
    unlink(link);
    rmdir(dir);
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void test_temp_registry(void)
{
    const char *a = test_tmp_path("a.tmp"), *b = test_tmp_path("b.tmp"), *c = test_tmp_path("c.tmp");
    put(a, "a"); put(b, "b"); put(c, "c");
    int sa = sg_temp_track(a), sb = sg_temp_track(b), sc = sg_temp_track(c);
    CHECK(sa >= 0 && sb >= 0 && sc >= 0 && sa != sb && sb != sc && sa != sc, "slots %d %d %d", sa, sb, sc);
    sg_temp_untrack(sb);
    sg_temp_remove_all();
    CHECK(!exists(a) && !exists(c), "a registered temporary file is left");
    CHECK(exists(b), "a file no longer registered was removed");
    sg_temp_untrack(sa);
    sg_temp_untrack(sc);

    /* All slots taken: the next name is not registered, and -1 is harmless. */
    int slots[SG_TEMP_SLOTS];
    for (int i = 0; i < SG_TEMP_SLOTS; i++) slots[i] = sg_temp_track(b);
    int extra = sg_temp_track(a);
    CHECK(slots[SG_TEMP_SLOTS - 1] >= 0 && extra == -1, "slot %d of %d, then %d", slots[SG_TEMP_SLOTS - 1],
          SG_TEMP_SLOTS, extra);
    sg_temp_untrack(extra);
    for (int i = 0; i < SG_TEMP_SLOTS; i++) sg_temp_untrack(slots[i]);
    sg_temp_remove_all();
    CHECK(exists(b), "removed after every slot was freed");

    /* The atomic writer registers nothing after it returns. */
    const char *out = test_tmp_path("after.txt");
    char tmp[600];
    next_temp_name(tmp, sizeof tmp, out);
    put(out, "x");
    put(tmp, "not ours any more");
    sg_temp_remove_all();
    CHECK(exists(tmp), "the atomic writer left its temporary name registered");
    unlink(tmp);
}

/* sg_temp_end against a writer thread at work: once it returns, no
 * temporary file is left and none is created any more, wherever the writer
 * was (registering, creating, writing, renaming). With "register, then
 * create" and a plain removal pass, a file created just after the pass
 * outlived a stopped sg-sample --each. Each round in a child process, as
 * sg_temp_end is for a process that ends. */
static atomic_int temp_end_writes;

static void *write_files_until_refused(void *dir)
{
    char path[700];
    sg_err err;
    for (int i = 0;; i++) {
        snprintf(path, sizeof path, "%s/out-%d.bin", (const char *)dir, i);
        if (sg_write_file_atomic(path, "0123456789", 10, &err)) return NULL;
        atomic_fetch_add(&temp_end_writes, 1);
    }
}

static int temp_files_in(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static void test_temp_end_with_writer(void)
{
    int bad = 0, rounds = 100;
    for (int r = 0; r < rounds; r++) {
        /* in memory where it can be (fsync there is free: more rounds) */
        char dir[600];
        snprintf(dir, sizeof dir, "%s", access("/dev/shm", W_OK) == 0 ? "/dev/shm/sg-temp-end.XXXXXX"
                                                                         : test_tmp_path("temp-end.XXXXXX"));
        if (!mkdtemp(dir)) { CHECK(0, "mkdtemp %s", dir); return; }
        pid_t pid = fork();
        if (pid == 0) {
            pthread_t t;
            atomic_store(&temp_end_writes, 0);
            if (pthread_create(&t, NULL, write_files_until_refused, dir)) _exit(3);
            while (atomic_load(&temp_end_writes) < 1) nanosleep(&(struct timespec){0, 100000}, NULL);
            nanosleep(&(struct timespec){0, (r % 10) * 20000L}, NULL);   /* somewhere in a later write */
            sg_temp_end();
            int left = temp_files_in(dir);
            nanosleep(&(struct timespec){0, 5000000}, NULL);   /* the writer, refused, creates nothing */
            int later = temp_files_in(dir);
            _exit(left != 0 ? 1 : later != 0 ? 2 : 0);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        char cmd[700];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) bad++;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            bad++;
            CHECK(0, "round %d: %s", r, WIFEXITED(st) && WEXITSTATUS(st) == 1 ? "a temporary file left after sg_temp_end"
                                         : WIFEXITED(st) && WEXITSTATUS(st) == 2 ? "a temporary file created after sg_temp_end"
                                                                                 : "the child failed");
        }
    }
    CHECK(bad == 0, "%d of %d rounds", bad, rounds);
}

/* The checkpoint writer: its temporary file is registered from begin until
 * the rename, and created without following a link planted at its name. */
static void test_safetensors_temp(void)
{
    const char *victim = test_tmp_path("st-victim.txt"), *out = test_tmp_path("st.safetensors");
    char tmp[600];
    put(victim, "precious\n");
    next_temp_name(tmp, sizeof tmp, out);
    CHECK(symlink(victim, tmp) == 0, "symlink %s", tmp);
    float v[4] = {1, 2, 3, 4};
    sg_st_spec spec = {.name = "w", .dtype = SG_ST_F32, .ndim = 1, .shape = {4}, .data = v};
    sg_st_writer *w;
    sg_err err;
    int rc = sg_st_writer_begin(&w, out, &spec, 1, NULL, NULL, 0, &err);
    CHECK(rc == 0, "begin: %s", rc ? err.msg : "");
    if (rc) return;
    char buf[64];
    long n = slurp(victim, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    CHECK(!strcmp(buf, "precious\n"), "the link's target was written: '%s'", buf);
    struct stat st;
    CHECK(lstat(tmp, &st) == 0 && S_ISREG(st.st_mode), "the temporary file is not a new regular file");
    rc = sg_st_writer_put(w, v, sizeof v, &err);
    CHECK(rc == 0, "put: %s", rc ? err.msg : "");
    /* What a signal handler does now: the half-written file goes. */
    sg_temp_remove_all();
    CHECK(!exists(tmp), "the writer's temporary file is not registered");
    rc = sg_st_writer_commit(w, &err);
    CHECK(rc != 0 && !exists(out), "commit after the temporary file was removed: rc %d", rc);

    next_temp_name(tmp, sizeof tmp, out);
    rc = sg_st_write(out, &spec, 1, NULL, NULL, 0, &err);
    CHECK(rc == 0 && exists(out), "write: %s", rc ? err.msg : "");
    put(tmp, "not the writer's");
    sg_temp_remove_all();
    CHECK(exists(tmp), "the writer left its temporary name registered after commit");
    unlink(tmp);
}

/* An empty path (a tool's "-o ''") is refused before anything is made:
 * sg_mkdir_p read past its copy of it, and the atomic writer made
 * ".tmp.PID" in the working directory, then failed to rename it to "". */
static void test_empty_paths(void)
{
    sg_err err;
    CHECK(sg_mkdir_p("", &err) == -1 && !strcmp(err.msg, "empty directory name"), "mkdir_p(\"\"): '%s'", err.msg);
    CHECK(sg_write_file_atomic("", "x", 1, &err) == -1 && !strcmp(err.msg, "empty file name"),
          "write_file_atomic(\"\"): '%s'", err.msg);
}

/* sg_mkdir_p_made says which directories it made (celeb-split removes
 * those on a stop, while empty): the topmost new one's prefix, 0 when the
 * path was there; "a/" and "a//b" as given on a command line. */
static void test_mkdir_p_made(void)
{
    char top[512], path[600];
    size_t made = 99;
    sg_err err;
    snprintf(top, sizeof top, "%s", test_tmp_path("mkdir_made"));
    snprintf(path, sizeof path, "%s/b//c/", top);
    CHECK(sg_mkdir_p_made(path, &made, &err) == 0, "mkdir_p_made: %s", err.msg);
    CHECK(made == strlen(top), "made %zu, want %zu (%s)", made, strlen(top), top);
    CHECK(sg_mkdir_p_made(path, &made, &err) == 0 && made == 0, "again: made %zu", made);
    snprintf(path, sizeof path, "%s/b/d", top);
    CHECK(sg_mkdir_p_made(path, &made, &err) == 0 && made == strlen(path), "a/b/d: made %zu", made);
    snprintf(path, sizeof path, "%s/b/f", top);
    put(path, "x");
    snprintf(path, sizeof path, "%s/b/e/g", top);
    CHECK(sg_mkdir_p_made(path, &made, &err) == 0 && made == strlen(top) + 4, "a/b/e/g: made %zu", made);
    snprintf(path, sizeof path, "%s/b/f/g", top);
    CHECK(sg_mkdir_p_made(path, &made, &err) == -1 && made == 0, "under a file: made %zu", made);
}

/* sg_same_file and sg_path_inside_dir: the tools refuse an output that would
 * replace an input (sg-plot h.jsonl -o h.jsonl) or land in a shard
 * (celeb-dump -o x.lmdb/data.mdb), by device and inode, through links. */
static void test_same_file(void)
{
    char a[512], b[512], link_a[512], hard_a[512], dotted[512];
    snprintf(a, sizeof a, "%s", test_tmp_path("same_a"));
    snprintf(b, sizeof b, "%s", test_tmp_path("same_b"));
    snprintf(link_a, sizeof link_a, "%s", test_tmp_path("same_link"));
    snprintf(hard_a, sizeof hard_a, "%s", test_tmp_path("same_hard"));
    snprintf(dotted, sizeof dotted, "%s/./same_a", test_tmpdir);
    put(a, "a\n");
    put(b, "b\n");
    CHECK(symlink(a, link_a) == 0 && link(a, hard_a) == 0, "link: %s", strerror(errno));
    CHECK(sg_same_file(a, a) == 1, "a file is itself");
    CHECK(sg_same_file(a, dotted) == 1, "%s and %s", a, dotted);
    CHECK(sg_same_file(a, link_a) == 1 && sg_same_file(link_a, a) == 1, "a symbolic link is its file");
    CHECK(sg_same_file(a, hard_a) == 1, "a hard link is the same file");
    CHECK(sg_same_file(a, b) == 0, "two files are not the same");
    CHECK(sg_same_file(a, test_tmp_path("missing")) == 0 && sg_same_file(test_tmp_path("missing"), test_tmp_path("missing")) == 0,
          "a missing file is the same as nothing");
    CHECK(sg_same_file(test_tmpdir, test_tmp_path(".")) == 1, "a directory is itself");
    /* what an atomic write over out destroys: in's own entry (through links),
     * not a hard link of it under another name, not a device */
    CHECK(sg_write_replaces(a, a) == 1 && sg_write_replaces(dotted, a) == 1, "writing a file replaces it");
    CHECK(sg_write_replaces(link_a, a) == 1 && sg_write_replaces(a, link_a) == 1, "through a symbolic link");
    CHECK(sg_write_replaces(hard_a, a) == 0 && sg_write_replaces(a, hard_a) == 0,
          "a hard link under another name keeps the file");
    CHECK(sg_write_replaces(b, a) == 0 && sg_write_replaces(test_tmp_path("missing"), a) == 0, "another or no file");
    CHECK(sg_write_replaces("/dev/null", "/dev/null") == 0, "a device is written in place");
    int fd = open(b, O_RDONLY);
    CHECK(fd >= 0 && sg_write_replaces_fd(b, fd) == 1 && sg_write_replaces_fd(a, fd) == 0, "sg_write_replaces_fd");
    if (fd >= 0) close(fd);
    fd = open(a, O_RDONLY);   /* a has a second name (hard_a): writing it keeps the data */
    CHECK(fd >= 0 && sg_write_replaces_fd(a, fd) == 0, "sg_write_replaces_fd: a file with two names");
    if (fd >= 0) close(fd);
}

static void test_path_inside_dir(void)
{
    char dir[512], sub[512], other[512], p[600], cwd[512];
    snprintf(dir, sizeof dir, "%s", test_tmp_path("shard.lmdb"));
    snprintf(sub, sizeof sub, "%s/sub", dir);
    snprintf(other, sizeof other, "%s", test_tmp_path("elsewhere"));
    CHECK(mkdir(dir, 0755) == 0 && mkdir(sub, 0755) == 0 && mkdir(other, 0755) == 0, "mkdir: %s", strerror(errno));
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    put(p, "data");
    CHECK(sg_path_inside_dir(p, dir) == 1, "%s (existing) inside %s", p, dir);
    snprintf(p, sizeof p, "%s/new.png", dir);
    CHECK(sg_path_inside_dir(p, dir) == 1, "%s (missing) inside %s", p, dir);
    snprintf(p, sizeof p, "%s/x.png", sub);
    CHECK(sg_path_inside_dir(p, dir) == 1, "%s: a directory below", p);
    snprintf(p, sizeof p, "%s/not/yet/made/x.png", dir);
    CHECK(sg_path_inside_dir(p, dir) == 1, "%s: directories mkdir -p would make", p);
    snprintf(p, sizeof p, "%s/../elsewhere/x.png", dir);
    CHECK(sg_path_inside_dir(p, dir) == 0, "%s is outside", p);
    snprintf(p, sizeof p, "%s/x.png", other);
    CHECK(sg_path_inside_dir(p, dir) == 0, "%s is outside", p);
    CHECK(sg_path_inside_dir(dir, dir) == 0, "the directory itself is not inside itself");
    /* a link outside pointing at the data: the write replaces the data */
    char link_out[512], data[600];
    snprintf(link_out, sizeof link_out, "%s/out.png", other);
    snprintf(data, sizeof data, "%s/data.mdb", dir);
    CHECK(symlink(data, link_out) == 0, "symlink: %s", strerror(errno));
    CHECK(sg_path_inside_dir(link_out, dir) == 1, "%s -> %s", link_out, data);
    /* a dangling link is replaced itself: where it stands counts */
    snprintf(link_out, sizeof link_out, "%s/dangling.png", other);
    snprintf(data, sizeof data, "%s/gone.png", dir);
    CHECK(symlink(data, link_out) == 0, "symlink: %s", strerror(errno));
    CHECK(sg_path_inside_dir(link_out, dir) == 0, "dangling %s -> %s", link_out, data);
    /* relative names, from inside the directory */
    CHECK(getcwd(cwd, sizeof cwd) && chdir(sub) == 0, "chdir %s", sub);
    CHECK(sg_path_inside_dir("x.png", dir) == 1 && sg_path_inside_dir("../data.mdb", dir) == 1, "relative names");
    CHECK(sg_path_inside_dir("../../x.png", dir) == 0, "../../x.png from %s", sub);
    CHECK(sg_path_inside_dir("x.png", "..") == 1 && sg_path_inside_dir("x.png", ".") == 1, "relative directory");
    CHECK(chdir(cwd) == 0, "chdir back");
    CHECK(sg_path_inside_dir(p, test_tmp_path("missing")) == 0, "a missing directory holds nothing");
    CHECK(sg_path_inside_dir("/x.png", "/") == 1, "everything is inside /");
}

/* What killed writers left is removed: "NAME.tmp.PID.N" (and the
 * "NAME.tmp.PID" of earlier versions) of a dead PID, its NAME
 * exactly the output's (sg_remove_dead_temps_of) or of the prefix and suffix
 * (sg_remove_dead_temps_in); a live writer's, another name's, a directory and
 * a name with no number stay. */
static void test_dead_temps(void)
{
    char dir[4096], path[4200], out[4200];
    snprintf(dir, sizeof dir, "%s/dead", test_tmpdir);
    mkdir(dir, 0755);
    long dead = dead_pid(), live = (long)getppid();
    CHECK(sg_pid_gone(dead) && !sg_pid_gone(live) && !sg_pid_gone((long)getpid()),
          "sg_pid_gone: dead %ld %d, live %ld %d", dead, sg_pid_gone(dead), live, sg_pid_gone(live));
    struct { const char *fmt; long pid; int gone_of, gone_in; } files[] = {
        {"%s/out.png.tmp.%ld", 0, 1, 1},        /* the output's, dead */
        {"%s/out.png.tmp.%ld", 1, 0, 0},        /* the output's, live */
        {"%s/out.png.bak.tmp.%ld", 0, 0, 0},    /* another name */
        {"%s/x_Male.png.tmp.%ld", 0, 0, 1},     /* another output of the directory */
        {"%s/x_Male.jpg.tmp.%ld", 0, 0, 0},     /* another suffix */
        {"%s/out.png.tmp.%ldx", 0, 0, 0},       /* no number */
        {"%s/out.png.tmp.%ld.0", 0, 1, 1},      /* sg_temp_name's: PID.N, dead */
        {"%s/out.png.tmp.%ld.17", 0, 1, 1},
        {"%s/out.png.tmp.%ld.17", 1, 0, 0},     /* ... live */
        {"%s/x_Male.png.tmp.%ld.3", 0, 0, 1},
        {"%s/out.png.tmp.%ld.old", 0, 0, 0},    /* celeb-split's earlier output, to put back, never removed */
        {"%s/out.png.tmp.%ld.", 0, 0, 0},       /* no N */
        {"%s/out.png.tmp.%ld.017", 0, 0, 0},    /* not as sg_temp_name writes N */
        {"%s/out.png.tmp.%ld.1.2", 0, 0, 0},
        {"%s/out.png.tmp.%ld.-1", 0, 0, 0},
    };
    size_t n = sizeof files / sizeof files[0];
    for (int pass = 0; pass < 2; pass++) {
        struct timespec old[2] = {{time(NULL) - SG_DEAD_TEMP_AGE_S - 60, 0}, {time(NULL) - SG_DEAD_TEMP_AGE_S - 60, 0}};
        for (size_t k = 0; k < n; k++) {
            snprintf(path, sizeof path, files[k].fmt, dir, files[k].pid ? live : dead);
            put(path, "x");
            utimensat(AT_FDCWD, path, old, 0);
        }
        /* dead but just written: maybe a live writer of another machine or PID namespace */
        char fresh[4200];
        snprintf(fresh, sizeof fresh, "%s/out.png.tmp.%ld", dir, dead + 1 == live ? dead + 2 : dead + 1);
        int fresh_dead = sg_pid_gone(dead + 1 == live ? dead + 2 : dead + 1);
        put(fresh, "x");
        snprintf(path, sizeof path, "%s/y.png.tmp.%ld", dir, dead);   /* a directory: stays */
        mkdir(path, 0755);
        snprintf(out, sizeof out, "%s/out.png", dir);
        if (pass == 0) sg_remove_dead_temps_of(out);
        else sg_remove_dead_temps_in(dir, "", ".png");
        for (size_t k = 0; k < n; k++) {
            snprintf(path, sizeof path, files[k].fmt, dir, files[k].pid ? live : dead);
            int gone = sg_path_missing(path), want = pass == 0 ? files[k].gone_of : files[k].gone_in;
            CHECK(gone == want, "%s after %s: %s, expected %s", path, pass ? "_in" : "_of", gone ? "removed" : "kept",
                  want ? "removed" : "kept");
        }
        snprintf(path, sizeof path, "%s/y.png.tmp.%ld", dir, dead);
        CHECK(sg_path_is_dir(path), "a directory named like a temporary file was removed");
        CHECK(!fresh_dead || !sg_path_missing(fresh), "%s: a dead PID's file written just now was removed", fresh);
        unlink(fresh);
    }
}

static sg_err noted;
static int notes;
static void note_unsynced(const sg_err *note) { noted = *note; notes++; }

/* The directory's fsync failing after the rename: the file is written, and
 * says so in words every tool shares (naming it, not its directory) through
 * the handler, returning 0; without a handler, SG_WRITTEN_UNSYNCED (not -1,
 * "not written") with the same words. Counted either way. */
static void test_unsynced(void)
{
    char path[512], want[1200], buf[64];
    sg_err err = {{0}};
    snprintf(path, sizeof path, "%s", test_tmp_path("unsynced.txt"));
    snprintf(want, sizeof want, "%s written, but syncing its directory failed (%s: fsync: %s): a crash soon may "
             "lose it", path, test_tmpdir, strerror(EIO));
    unsigned count = sg_unsynced_count();
    fail_fsync_of = test_tmpdir;
    int rc = sg_write_file_atomic(path, "one\n", 4, &err);
    fail_fsync_of = NULL;
    CHECK(fsyncs_failed == 1, "the directory's fsync was not reached (%d)", fsyncs_failed);
    CHECK(rc == SG_WRITTEN_UNSYNCED, "no handler: rc %d, not SG_WRITTEN_UNSYNCED", rc);
    CHECK(sg_unsynced_count() == count + 1, "no handler: counted %u times", sg_unsynced_count() - count);
    CHECK(!strcmp(err.msg, want), "no handler: '%s', not '%s'", err.msg, want);
    CHECK(err.sys_errno == EIO, "no handler: sys_errno %d", err.sys_errno);
    CHECK(slurp(path, buf, sizeof buf) == 4 && !memcmp(buf, "one\n", 4), "the file is not written");

    sg_set_unsynced_handler(note_unsynced);
    err = (sg_err){{0}};
    fail_fsync_of = test_tmpdir;
    rc = sg_write_file_atomic(path, "two\n", 4, &err);
    fail_fsync_of = NULL;
    CHECK(rc == 0, "with a handler: rc %d (%s)", rc, err.msg);
    CHECK(sg_unsynced_count() == count + 2, "with a handler: counted %u times", sg_unsynced_count() - count);
    CHECK(notes == 1 && !strcmp(noted.msg, want), "with a handler: %d notes, '%s'", notes, noted.msg);
    CHECK(noted.sys_errno == EIO, "with a handler: sys_errno %d", noted.sys_errno);
    CHECK(slurp(path, buf, sizeof buf) == 4 && !memcmp(buf, "two\n", 4), "the file is not replaced");
    /* a link: the name asked for is the one the report gives */
    char link[512];
    snprintf(link, sizeof link, "%s", test_tmp_path("unsynced-link.txt"));
    CHECK(symlink(path, link) == 0, "symlink: %s", strerror(errno));
    fail_fsync_of = test_tmpdir;
    rc = sg_write_file_atomic(link, "three\n", 6, &err);
    fail_fsync_of = NULL;
    snprintf(want, sizeof want, "%s written, but syncing its directory failed", link);
    CHECK(rc == 0 && notes == 2 && !strncmp(noted.msg, want, strlen(want)), "through a link: '%s'", noted.msg);
    /* the fsync succeeding: no note */
    rc = sg_write_file_atomic(path, "four\n", 5, &err);
    CHECK(rc == 0 && notes == 2, "a durable write noted (%d)", notes);
    sg_set_unsynced_handler(NULL);
    unlink(link);
    unlink(path);
}

int main(void)
{
    if (test_tmpdir_make("test_fileio")) return 1;
    test_replace();
    test_fd_names_in_place();
    test_tmp_name_taken();
    test_temp_names();
    test_two_writers_one_path();
    test_dangling_link();
    test_read_limit();
    test_read_directory();
    test_temp_registry();
    test_temp_end_with_writer();
    test_safetensors_temp();
    test_empty_paths();
    test_mkdir_p_made();
    test_same_file();
    test_path_inside_dir();
    test_dead_temps();
    test_unsynced();
    test_tmpdir_remove();
    return check_done();
}
