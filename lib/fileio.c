#include "fileio.h"
#include "text_escape.h"
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int sg_fsync_dir(const char *dir, sg_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return sg_errno(err, "%s", dir);
    int rc = fsync(fd);
    close(fd);
    /* Some file systems refuse fsync on directories; that is not a data loss. */
    if (rc != 0 && errno != EINVAL && errno != EROFS) return sg_errno(err, "%s: fsync", dir);
    return 0;
}

static _Atomic(sg_unsynced_handler) unsynced_handler;

void sg_set_unsynced_handler(sg_unsynced_handler handler) { atomic_store(&unsynced_handler, handler); }

int sg_err_unsynced(sg_err *note, const char *out, const sg_err *sync_err)
{
    if (!note) return SG_WRITTEN_UNSYNCED;
    sg_err copy = *sync_err;   /* note may be sync_err itself */
    sg_errf(note, "%s written, but syncing its directory failed (%s): a crash soon may lose it", out, copy.msg);
    note->sys_errno = copy.sys_errno;
    return SG_WRITTEN_UNSYNCED;
}

static atomic_uint unsynced_reports;

unsigned sg_unsynced_count(void) { return atomic_load(&unsynced_reports); }

int sg_fsync_dir_after(const char *out, const char *dir, sg_err *err)
{
    sg_err sync_err = {{0}};
    if (sg_fsync_dir(dir, &sync_err) == 0) return 0;
    atomic_fetch_add(&unsynced_reports, 1);
    sg_unsynced_handler handler = atomic_load(&unsynced_handler);
    if (!handler) return sg_err_unsynced(err, out, &sync_err);
    sg_err note;
    sg_err_unsynced(&note, out, &sync_err);
    handler(&note);
    return 0;
}

void sg_dir_of(const char *path, char *dir, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, n, ".");
    else if (slash == path) snprintf(dir, n, "/");
    else snprintf(dir, n, "%.*s", (int)(slash - path), path);
}

int sg_path_trim_slashes(const char *path, char *out, size_t n)
{
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/') len--;
    if (len >= n) return -1;
    memmove(out, path, len);   /* out may be path itself */
    out[len] = 0;
    return 0;
}

static int write_all(int fd, const char *name, const void *data, size_t len, sg_err *err)
{
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return sg_errno(err, "%s: write", name);
        }
        p += w; len -= (size_t)w;
    }
    return 0;
}

/* /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N, /proc/PID/fd/N: names
 * of a descriptor the caller already has open, not of a file to replace. */
static int is_fd_name(const char *path)
{
    if (!strcmp(path, "/dev/stdout") || !strcmp(path, "/dev/stderr") || !strncmp(path, "/dev/fd/", 8)) return 1;
    if (strncmp(path, "/proc/", 6)) return 0;
    const char *p = path + 6;
    if (!strncmp(p, "self/", 5)) p += 5;
    else if (!strncmp(p, "thread-self/", 12)) p += 12;
    else {
        if (*p < '0' || *p > '9') return 0;
        while (*p >= '0' && *p <= '9') p++;
        if (*p++ != '/') return 0;
    }
    return !strncmp(p, "fd/", 3);
}

int sg_err_missing_dir(const char *path, sg_err *err)
{
    char dir[PATH_MAX];
    sg_dir_of(path, dir, sizeof dir);
    if (!sg_path_missing(dir)) return 0;
    char word[SG_SHELL_WORD_MAX];   /* a word to paste */
    sg_errf(err, "%s: the directory %s does not exist; create it first: mkdir -p %s", path, dir,
            sg_shell_word_in(word, sizeof word, dir) < sizeof word ? word : dir);
    if (err) err->sys_errno = ENOENT;   /* still the system call's failure, for callers that tell them apart */
    return 1;
}

int sg_write_file_atomic(const char *path, const void *data, size_t len, sg_err *err)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    /* Devices, FIFOs and sockets (/dev/null, /dev/full, a named pipe) and the
     * /dev/stdout, /dev/fd/N, /proc/self/fd/N links are written in place:
     * renaming over them would replace the node or the link with a file (as
     * root) and hide write errors such as ENOSPC on /dev/full. A regular file
     * elsewhere under /dev or /proc (/dev/shm/x.png) is replaced as any other. */
    struct stat st, lst;
    char real[PATH_MAX];
    const char *asked = path;   /* path may become the file a link names */
    if (!path[0]) return sg_errf(err, "empty file name");
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) return sg_errf(err, "%s: is a directory", path);
        if (!S_ISREG(st.st_mode) || is_fd_name(path)) {
            int fd = open(path, O_WRONLY | (S_ISREG(st.st_mode) ? O_APPEND : 0));
            if (fd < 0) return sg_errno(err, "%s", path);
            if (write_all(fd, path, data, len, err)) { close(fd); return -1; }
            return close(fd) == 0 ? 0 : sg_errno(err, "%s: close", path);
        }
        /* A link to a regular file: replace the file, keep the link. */
        if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode) && realpath(path, real)) path = real;
    } else if ((errno == ENOENT || errno == ELOOP) && lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
        /* A dangling or looping link (a share not mounted): replacing it with a
         * file would lose the link and put the output where nobody looks. */
        int loops = errno == ELOOP;
        ssize_t n = readlink(path, real, sizeof real - 1);
        real[n > 0 ? n : 0] = 0;
        return sg_errf(err, "%s: a symbolic link to %s, which %s; not replacing the link (remove it, or give "
                       "another path)", path, real, loops ? "loops" : "does not exist");
    }
    if (sg_temp_name(tmp, sizeof tmp, path, ".tmp.")) return sg_errf(err, "%s: path too long", path);
    int slot;
    int fd = sg_temp_create_tracked(tmp, &slot);
    if (fd < 0) {
        if (errno != ENOENT || !sg_err_missing_dir(path, err)) sg_errno(err, "%s", path);
        sg_temp_untrack(slot);
        return -1;
    }
    /* errors name the file asked for: its temporary name means nothing to a user */
    if (write_all(fd, path, data, len, err)) goto fail;
    if (fsync(fd) != 0) { sg_errno(err, "%s: fsync", path); goto fail; }
    int rc = close(fd);
    fd = -1;
    if (rc != 0) { sg_errno(err, "%s: close", path); goto fail; }
    if (rename(tmp, path) != 0) { sg_errno(err, "%s: rename", path); goto fail; }
    sg_temp_untrack(slot);
    sg_dir_of(path, dir, sizeof dir);
    return sg_fsync_dir_after(asked, dir, err);   /* written: the file asked for is named, not its directory */
fail:
    if (fd >= 0) close(fd);
    unlink(tmp);
    sg_temp_untrack(slot);
    return -1;
}

static atomic_uint temp_serial;

int sg_temp_name(char *out, size_t n, const char *path, const char *tag)
{
    unsigned serial = atomic_fetch_add(&temp_serial, 1);
    int len = snprintf(out, n, "%s%s%ld.%u", path, tag, (long)getpid(), serial);
    return len >= 0 && (size_t)len < n ? 0 : -1;
}

size_t sg_temp_name_extra(const char *tag)
{
    return strlen(tag) + (size_t)snprintf(NULL, 0, "%ld.%u", (long)getpid(), UINT_MAX);
}

/* The first byte after the decimal number p starts with, or NULL when p does
 * not start with one whose first digit is 1..9 (a number has one spelling). */
static const char *skip_number(const char *p)
{
    if (*p < '1' || *p > '9') return NULL;
    while (*p >= '0' && *p <= '9') p++;
    return p;
}

long sg_temp_name_pid(const char *after_tag)
{
    const char *end = skip_number(after_tag);
    if (!end || end - after_tag > 10) return -1;   /* a pid_t has at most 10 digits */
    if (*end == '.') {   /* ".N": N is 0 or has no leading 0 */
        const char *n = end + 1;
        const char *n_end = *n == '0' ? n + 1 : skip_number(n);
        if (!n_end || *n_end) return -1;
    } else if (*end) {
        return -1;
    }
    return strtol(after_tag, NULL, 10);
}

int sg_pid_gone(long pid)
{
    return pid > 0 && pid <= INT_MAX && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Removes dir's regular files "NAME.tmp.PID.N" (and the "NAME.tmp.PID" of
 * earlier versions) of dead writers whose NAME is exact (when non-NULL) or
 * starts with prefix and ends with suffix. */
static void remove_dead_temps(const char *dir, const char *exact, const char *prefix, const char *suffix)
{
    DIR *dp = opendir(dir);
    if (!dp) return;
    size_t pl = strlen(prefix), sl = strlen(suffix);
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(dp))) {
        const char *name = de->d_name, *tmp = NULL;
        for (const char *p = strstr(name, ".tmp."); p; p = strstr(p + 1, ".tmp.")) tmp = p;
        if (!tmp || !tmp[5]) continue;
        size_t stem = (size_t)(tmp - name);
        if (exact ? strlen(exact) != stem || strncmp(name, exact, stem)
                  : stem < pl + sl || strncmp(name, prefix, pl) || strncmp(tmp - sl, suffix, sl))
            continue;
        long pid = sg_temp_name_pid(tmp + 5);
        if (pid < 0 || pid == (long)getpid() || !sg_pid_gone(pid)) continue;
        struct stat st;
        if (fstatat(dirfd(dp), name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            st.st_mtime < now - SG_DEAD_TEMP_AGE_S)
            unlinkat(dirfd(dp), name, 0);   /* no path to cut short */
    }
    closedir(dp);
}

void sg_remove_dead_temps_of(const char *path)
{
    char real[PATH_MAX], dir[PATH_MAX];
    struct stat lst;
    if (!path[0]) return;
    if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode) && realpath(path, real)) path = real;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!*base) return;
    sg_dir_of(path, dir, sizeof dir);
    remove_dead_temps(dir, base, "", "");
}

void sg_remove_dead_temps_in(const char *dir, const char *prefix, const char *suffix)
{
    remove_dead_temps(dir, NULL, prefix, suffix);
}

int sg_path_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int sg_path_missing(const char *path)
{
    struct stat st;
    return stat(path, &st) != 0 && errno == ENOENT;
}

/* Modes 0666 and 0777, as cp, mkdir and the shell's > use: the umask decides,
 * so a group sharing a directory under umask 002 can resume each other's runs. */
int sg_create_temp(const char *tmp)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    return fd;
}

/* Each slot's word is generation * 4 + state (free, being filled by the
 * thread that claimed it, registered, or registered with its file being
 * created). Freeing a slot bumps its generation, so a signal handler that
 * copies a registered name and finds the generation unchanged afterwards
 * knows no other thread freed and refilled the slot meanwhile: it never
 * removes a name half overwritten. */
enum { TEMP_FREE, TEMP_FILLING, TEMP_REGISTERED, TEMP_CREATING };
static _Atomic unsigned temp_word[SG_TEMP_SLOTS];
static char temp_path[SG_TEMP_SLOTS][PATH_MAX];
static _Atomic long temp_creator[SG_TEMP_SLOTS];   /* the thread of a TEMP_CREATING slot */
static _Atomic int temp_ending;                     /* sg_temp_end: no file is created any more */

static long this_thread(void) { return (long)syscall(SYS_gettid); }   /* async-signal-safe */

static int track_as(const char *path, unsigned state)
{
    size_t n = strlen(path);
    if (n >= PATH_MAX) return -1;
    for (int i = 0; i < SG_TEMP_SLOTS; i++) {
        unsigned w = atomic_load(&temp_word[i]);
        if ((w & 3) != TEMP_FREE || !atomic_compare_exchange_strong(&temp_word[i], &w, (w & ~3u) | TEMP_FILLING))
            continue;
        memcpy(temp_path[i], path, n + 1);
        atomic_store(&temp_creator[i], this_thread());
        atomic_store(&temp_word[i], (w & ~3u) | state);
        return i;
    }
    return -1;
}

int sg_temp_track(const char *path) { return track_as(path, TEMP_REGISTERED); }

/* The creation is a handshake with sg_temp_end, both sides sequentially
 * consistent: this side marks the slot TEMP_CREATING, then looks at
 * temp_ending; sg_temp_end sets temp_ending, then looks at the slots. So
 * either this side sees the end and creates nothing, or sg_temp_end sees the
 * slot creating and waits until the file exists before it removes it. With
 * only "register, then create", a file created just after the handler's pass
 * outlived the process (sg-sample --each stopped under load left its
 * writer's temporary file). */
int sg_temp_create_tracked(const char *tmp, int *slot)
{
    *slot = track_as(tmp, TEMP_CREATING);
    if (atomic_load(&temp_ending)) {
        /* the process is ending: the slot freed at once (sg_temp_end waits
         * for it), then wait for the end rather than fail (a failure would
         * be reported as an error of its own) */
        sg_temp_untrack(*slot);
        *slot = -1;
        for (int i = 0; i < 200; i++) nanosleep(&(struct timespec){0, 10000000}, NULL);
        errno = ECANCELED;
        return -1;
    }
    int fd = sg_create_temp(tmp);
    if (*slot >= 0) {
        unsigned w = atomic_load(&temp_word[*slot]);   /* only this thread changes it now */
        atomic_store(&temp_word[*slot], (w & ~3u) | TEMP_REGISTERED);
    }
    return fd;
}

void sg_temp_untrack(int slot)
{
    if (slot < 0 || slot >= SG_TEMP_SLOTS) return;
    unsigned w = atomic_load(&temp_word[slot]);   /* only the thread that registered it frees it */
    atomic_store(&temp_word[slot], ((w >> 2) + 1) << 2 | TEMP_FREE);
}

void sg_temp_remove_all(void)
{
    char name[PATH_MAX];
    for (int i = 0; i < SG_TEMP_SLOTS; i++) {
        unsigned w = atomic_load(&temp_word[i]);
        if ((w & 3) != TEMP_REGISTERED && (w & 3) != TEMP_CREATING) continue;
        memcpy(name, temp_path[i], sizeof name);
        name[sizeof name - 1] = 0;
        unsigned now = atomic_load(&temp_word[i]);   /* the same name: not freed and refilled meanwhile */
        if (now >> 2 == w >> 2 && ((now & 3) == TEMP_REGISTERED || (now & 3) == TEMP_CREATING)) unlink(name);
    }
}

void sg_temp_end(void)
{
    atomic_store(&temp_ending, 1);
    long me = this_thread();
    /* a creation in flight in another thread ends within its open(2); one
     * in this thread (the handler interrupted it) never resumes: its file
     * exists now or never will. Bounded (1 s in all), for a file system
     * that hangs. */
    int waits = 100;   /* of 10 ms, in all */
    for (int i = 0; i < SG_TEMP_SLOTS; i++)
        while ((atomic_load(&temp_word[i]) & 3) == TEMP_CREATING && atomic_load(&temp_creator[i]) != me && waits > 0) {
            nanosleep(&(struct timespec){0, 10000000}, NULL);
            waits--;
        }
    sg_temp_remove_all();
}

int sg_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *len, sg_err *err)
{
    *data = NULL;
    *len = 0;
    int is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "<stdin>" : path;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) return sg_errno(err, "%s", name);
    struct stat fst;   /* a directory opens; its read would say "Is a directory" */
    if (!is_stdin && fstat(fileno(f), &fst) == 0 && S_ISDIR(fst.st_mode)) {
        fclose(f);
        return sg_err_is_dir(err, name);
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap + 1);
    if (!buf) { if (!is_stdin) fclose(f); return sg_err_oom(err, "%s: out of memory", name); }
    for (;;) {
        if (n == cap) {
            if (cap > max_bytes) break;
            /* At most one byte over the limit: enough to tell that the input
             * is too large (/dev/zero) without asking for twice the limit. */
            size_t ncap = cap > max_bytes / 2 ? max_bytes + 1 : cap * 2;
            uint8_t *nb = realloc(buf, ncap + 1);
            if (!nb) { free(buf); if (!is_stdin) fclose(f); return sg_err_oom(err, "%s: out of memory", name); }
            buf = nb; cap = ncap;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    int bad = ferror(f);
    if (!is_stdin) fclose(f);
    if (bad) {
        free(buf);
        struct stat st;   /* a closed stdin: the tools' start-up (cli_init) puts "/" on descriptor 0 */
        if (is_stdin && errno == EISDIR && fstat(0, &st) == 0 && S_ISDIR(st.st_mode))
            return sg_errf(err, "%s: standard input is closed (or a directory): give the data on it or name a file",
                           name);
        return sg_errno(err, "%s: read", name);
    }
    if (n > max_bytes) {
        free(buf);
        sg_errf(err, "%s: larger than the limit of %zu bytes", name, max_bytes);
        err->sys_errno = E2BIG;   /* for the caller's words on the file it expected */
        return -1;
    }
    buf[n] = 0;
    *data = buf; *len = n;
    return 0;
}

int sg_mkdir_p(const char *path, sg_err *err)
{
    size_t made;
    return sg_mkdir_p_made(path, &made, err);
}

int sg_mkdir_p_made(const char *path, size_t *made, sg_err *err)
{
    char buf[PATH_MAX];
    *made = 0;
    if (!path[0]) return sg_errf(err, "empty directory name");
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return sg_errf(err, "%s: path too long", path);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p; *p = 0;
            if (mkdir(buf, 0777) == 0) {
                if (!*made) *made = (size_t)(p - buf);
            } else if (errno != EEXIST) {
                return sg_errno(err, "%s", buf);
            }
            struct stat st;
            if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) return sg_errf(err, "%s: not a directory", buf);
            *p = c;
            if (!c) break;
        }
    }
    return 0;
}

int sg_err_is_dir(sg_err *err, const char *path)
{
    sg_errf(err, "%s: is a directory, not a file", path);
    if (err) err->sys_errno = EISDIR;
    return -1;
}

int sg_refuse_irregular_mode(const char *path, unsigned mode, sg_err *err)
{
    if (S_ISREG(mode)) return 0;
    if (S_ISDIR(mode)) return sg_err_is_dir(err, path), sg_err_suffix(err, " (move it away)");
    return sg_errf(err, "%s: not a regular file (%s; move it away)", path,
                   S_ISFIFO(mode) ? "a FIFO" : S_ISCHR(mode) || S_ISBLK(mode) ? "a device" : "a socket");
}

int sg_refuse_irregular(const char *path, sg_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    return sg_refuse_irregular_mode(path, st.st_mode, err);
}

static int same_id(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

int sg_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && same_id(&sa, &sb);
}

/* A regular file only: a device, FIFO or socket is written in place. */
int sg_replaced_entry(const char *path, sg_file_entry *e)
{
    char real[PATH_MAX], d[PATH_MAX];
    struct stat st, ds;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || !realpath(path, real)) return -1;
    const char *base = strrchr(real, '/');
    if (snprintf(e->name, sizeof e->name, "%s", base ? base + 1 : real) >= (int)sizeof e->name) return -1;
    sg_dir_of(real, d, sizeof d);
    if (stat(d, &ds) != 0) return -1;
    e->dev = ds.st_dev;
    e->ino = ds.st_ino;
    return 0;
}

int sg_write_replaces(const char *out, const char *in)
{
    sg_file_entry a, b;
    return sg_replaced_entry(out, &a) == 0 && sg_replaced_entry(in, &b) == 0 && a.dev == b.dev && a.ino == b.ino &&
           !strcmp(a.name, b.name);
}

int sg_write_replaces_fd(const char *out, int fd)
{
    struct stat so, sf;
    return stat(out, &so) == 0 && S_ISREG(so.st_mode) && fstat(fd, &sf) == 0 && same_id(&so, &sf) &&
           sf.st_nlink == 1;
}

int sg_nearest_existing_dir(const char *dir, char real[PATH_MAX])
{
    char where[PATH_MAX], up[PATH_MAX];
    if (snprintf(where, sizeof where, "%s", dir) >= (int)sizeof where) return -1;
    while (!realpath(where, real)) {
        if ((errno != ENOENT && errno != ENOTDIR) || !strcmp(where, ".") || !strcmp(where, "/")) return -1;
        sg_dir_of(where, up, sizeof up);
        memcpy(where, up, sizeof where);
    }
    return 0;
}

int sg_path_inside_dir(const char *path, const char *dir)
{
    struct stat ds, st;
    char where[PATH_MAX], real[PATH_MAX];
    if (stat(dir, &ds) != 0 || !S_ISDIR(ds.st_mode)) return 0;
    /* the file a link at path names, else path itself (missing, or a
     * dangling link, which a write replaces) */
    if (realpath(path, real)) sg_dir_of(real, where, sizeof where);
    else sg_dir_of(path, where, sizeof where);
    if (sg_nearest_existing_dir(where, real)) return 0;   /* where the file or mkdir -p would go */
    for (;;) {   /* real is absolute and canonical: walk up by cutting names */
        if (stat(real, &st) == 0 && same_id(&st, &ds)) return 1;
        char *slash = strrchr(real, '/');
        if (!slash || slash == real) break;
        *slash = 0;
    }
    return stat("/", &st) == 0 && same_id(&st, &ds);
}
