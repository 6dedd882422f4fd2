#include "cli.h"
#include "version.h"
#include "backend.h"
#include "fileio.h"
#include "shard.h"
#include "checkpoint.h"
#include "json.h"
#include "text_escape.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

const char *cli_name = "stargan";
int cli_quiet;
static volatile sig_atomic_t progress_shown;   /* read by cli_die_by_signal */

static void catch_signals(void (*handler)(int), int sa_flags, int keep_ignored);

/* An output written whose directory's fsync failed (lib/fileio.h
 * sg_set_unsynced_handler): a warning, and the tool goes on. */
static void warn_unsynced(const sg_err *note) { cli_warn("%s", note->msg); }

void cli_die_by_signal(int sig)
{
    sg_temp_end();
    /* a progress line ends, so the shell's prompt starts on a line of its own */
    if (progress_shown && write(STDERR_FILENO, "\n", 1) < 0) progress_shown = 0;
    signal(sig, SIG_DFL);
    raise(sig);
}

void cli_exit_by_signal(int sig)
{
    fflush(stdout);
    fflush(stderr);
    cli_die_by_signal(sig);                     /* the default action, raised: pending where sig is blocked */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);   /* delivered to this thread, now */
    _exit(128 + sig);   /* a signal whose default is not to end the process: not one of the stop signals */
}

void cli_init(char **argv)
{
    const char *argv0 = argv[0];
    const char *slash = argv0 ? strrchr(argv0, '/') : NULL;
    /* escaped as every message (a link named with a newline starts each one) */
    static char name[256];
    sg_escape_message(name, sizeof name, slash ? slash + 1 : (argv0 ? argv0 : cli_name));
    cli_name = name;
    /* Started with stdin, stdout or stderr closed (2>&-), the next file opened
     * would get that number and messages would be written into it (an LMDB
     * data file, an output). Keep 0..2 taken by the root directory: writing
     * there still fails (EBADF), reading too (EISDIR), and so does opening it
     * again by name (-o /dev/stdout: a directory), where /dev/null would
     * quietly take the output. */
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int nfd = open("/", O_RDONLY | O_DIRECTORY);
            if (nfd >= 0 && nfd != fd) close(nfd);   /* cannot happen: fd is the lowest free number */
        }
    /* Interrupted (^C, kill, a closed terminal), leave no temporary files; a
     * signal ignored at start (a background job of a script ignores SIGINT)
     * must not end the tool now. Tools that stop gracefully on a signal
     * install their own handler after this (cli_catch_stop_signals). */
    catch_signals(cli_die_by_signal, 0, 1);
    sg_set_unsynced_handler(warn_unsynced);
    /* A write past the file size limit (ulimit -f; a batch system's) would
     * kill the tool without a word and leave its temporary files: ignored,
     * the write fails with EFBIG, which the tool reports and cleans up after
     * as any failed write. */
    signal(SIGXFSZ, SIG_IGN);
}

/* handler for SIGINT, SIGTERM and SIGHUP; one ignored at start stays so
 * where keep_ignored, else only SIGHUP (nohup's). */
static void catch_signals(void (*handler)(int), int sa_flags, int keep_ignored)
{
    static const int stops[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++) {
        struct sigaction old, sa;
        if (sigaction(stops[i], NULL, &old) != 0) continue;
        if (old.sa_handler == SIG_IGN && (keep_ignored || stops[i] == SIGHUP)) continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = handler;
        sa.sa_flags = sa_flags;
        sigemptyset(&sa.sa_mask);
        sigaction(stops[i], &sa, NULL);
    }
}

void cli_catch_stop_signals(void (*handler)(int), int sa_flags)
{
    catch_signals(handler, sa_flags, 0);
}

void cli_catch_stop_signals_not_ignored(void (*handler)(int))
{
    catch_signals(handler, 0, 1);
}

static void stop_signal_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
}

void cli_hold_stop_signals(sigset_t *was)
{
    sigset_t stops;
    stop_signal_set(&stops);
    pthread_sigmask(SIG_BLOCK, &stops, was);
}

void cli_release_stop_signals(const sigset_t *was)
{
    pthread_sigmask(SIG_SETMASK, was, NULL);
}

void cli_stop_line_set(cli_stop_line *line, const char *fmt, ...)
{
    int next = !line->current;
    char msg[sizeof line->text[0]], *out = line->text[next];
    size_t cap = sizeof line->text[0], len = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (msg[0]) {
        int k = snprintf(out, cap, "%s: ", cli_name);   /* cli_name is under 256 bytes */
        len = k > 0 ? (size_t)k : 0;
        sg_escape_message(out + len, cap - len - 1, msg);   /* cut to leave room for the newline */
        len += strlen(out + len);
        out[len++] = '\n';
    }
    line->len[next] = len;
    /* made in full before a handler may take it: the compiler may not move
     * the plain stores above past the volatile one (volatile orders only
     * volatile accesses) */
    atomic_signal_fence(memory_order_release);
    line->current = next;
}

/* Writes line (async-signal-safe): a progress line ended first. */
static void write_line_from_handler(const cli_stop_line *line)
{
    int k = line ? line->current : 0;
    const char *p = line ? line->text[k] : NULL;
    size_t n = line ? line->len[k] : 0;
    if (!n) return;
    int saved = errno;
    if (progress_shown && write(STDERR_FILENO, "\n", 1) == 1) progress_shown = 0;
    while (n) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        p += w;
        n -= (size_t)w;
    }
    errno = saved;
}

void cli_die_by_signal_saying(int sig, const cli_stop_line *line)
{
    /* a reader gone: the write fails (EPIPE), and sig still ends the process */
    if (line && line->len[line->current]) signal(SIGPIPE, SIG_IGN);
    write_line_from_handler(line);
    cli_die_by_signal(sig);
}

void cli_say_from_handler(const cli_stop_line *line)
{
    if (!line || !line->len[line->current]) return;
    /* SIGPIPE ignored for the write alone (sigaction is async-signal-safe;
     * the SIGPIPE of a pipe closed meanwhile is discarded, not left pending) */
    struct sigaction ign, old;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    int ignored = sigaction(SIGPIPE, &ign, &old) == 0;
    write_line_from_handler(line);
    if (ignored) sigaction(SIGPIPE, &old, NULL);
}

/* The words for want of space, written here only: what happened, how to
 * make room (a tool's aside follows "free space"), and, for a quota, another
 * way out. */
#define FULL_STATE "the file system is full"
#define FULL_FREE "free space on it"
#define QUOTA_STATE "the disk quota is exceeded"
#define QUOTA_FREE "free space"
#define QUOTA_OTHER " or ask for more quota"

/* ENOSPC where inodes ran out, not blocks (many small files: one per image):
 * "free space" would send the user deleting large files, which does not help. */
#define INODES_STATE "the file system has no free inodes (df -i)"
#define INODES_FREE "remove files"

/* The output the tool writes (cli_note_output), for telling which file system
 * an ENOSPC came from. */
static char noted_output[PATH_MAX];

void cli_note_output(const char *path)
{
    if (path && strcmp(path, "-") && strlen(path) < sizeof noted_output) strcpy(noted_output, path);
}

/* 1 when the file system of the noted output (the nearest existing directory
 * on its path, where it is not there yet) is out of inodes rather than blocks:
 * next to none left (the failed write's cleanup may have freed the one or two
 * it took) and a smaller share of them free than of the blocks. */
static int out_of_inodes(void)
{
    char real[PATH_MAX];
    struct statvfs v;
    if (!noted_output[0] || sg_nearest_existing_dir(noted_output, real) || statvfs(real, &v) != 0) return 0;
    if (v.f_files == 0 || v.f_blocks == 0) return 0;   /* no inode count (btrfs, NFS) */
    return v.f_favail < 64 && (double)v.f_favail / (double)v.f_files < (double)v.f_bavail / (double)v.f_blocks;
}

/* The file size limit (ulimit -f) in KiB, as the shells count it; 0 when
 * there is none (an EFBIG then is the file system's own largest file). */
#define FSIZE_STATE "the file size limit (ulimit -f) is %llu KiB"
static unsigned long long file_size_limit_kib(void)
{
    struct rlimit lim;
    if (getrlimit(RLIMIT_FSIZE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return 0;
    return (unsigned long long)lim.rlim_cur / 1024;
}

/* The advice for want of space as a phrase, by the errno that said so (aside
 * after "free space"), into buf; "" for any other errno. The one place its
 * words are put together: the hint below and sg-train's sentences use it. */
static const char *space_advice(int e, const char *aside, char *buf, size_t n)
{
    const char *sep = aside && aside[0] ? " " : "";
    if (!aside) aside = "";
    if (e == ENOSPC && out_of_inodes()) snprintf(buf, n, INODES_STATE ": " INODES_FREE "%s%s", sep, aside);
    else if (e == ENOSPC) snprintf(buf, n, FULL_STATE ": " FULL_FREE "%s%s", sep, aside);
    else if (e == EDQUOT) snprintf(buf, n, QUOTA_STATE ": " QUOTA_FREE "%s%s" QUOTA_OTHER, sep, aside);
    else if (e == EFBIG && file_size_limit_kib() > 0)   /* no aside: fewer files do not help */
        snprintf(buf, n, FSIZE_STATE ": raise it", file_size_limit_kib());
    else if (n) buf[0] = 0;
    return buf;
}

/* " (ADVICE and try again)" (", then try again" after a quota's "or ask for
 * more quota"), or "" for another errno; lives until the next call. */
static const char *no_space_hint(int e)
{
    static char hint[192];
    char advice[160];
    if (!space_advice(e, NULL, advice, sizeof advice)[0]) return "";
    snprintf(hint, sizeof hint, " (%s%s try again)", advice, e == EDQUOT ? ", then" : " and");
    return hint;
}

const char *cli_no_space_hint(const sg_err *err) { return no_space_hint(err->sys_errno); }

const char *cli_no_space_advice(const sg_err *err, const char *aside, char *buf, size_t n)
{
    return space_advice(err->sys_errno, aside, buf, n);
}

/* 1 when standard output is a regular file: ENOSPC on a device (/dev/full)
 * or EDQUOT there says nothing about a file system, so no advice to free space. */
static int stdout_is_file(void)
{
    struct stat st;
    return fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode);
}

/* Writes the n bytes at s to stderr with write(2), whole (a short write or
 * EINTR goes on); a failure is dropped, as stdio's would be. A reader of
 * stderr that went away (`tool 2>&1 | head`) must not kill the tool by
 * SIGPIPE half way through its output (celeb-pack left its temporary shard):
 * SIGPIPE is blocked in this thread for the write, and the one the write
 * raised is taken back. stdout keeps the default: a closed pipe there ends
 * the tool, as any Unix filter. */
static void write_stderr(const char *s, size_t n)
{
    sigset_t pipe_only, old, pending;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    /* one already pending (blocked by the caller) is not this write's to take */
    int was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
    int broken = 0;
    while (n) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EPIPE) broken = 1;
        if (w <= 0) break;
        s += w;
        n -= (size_t)w;
    }
    if (broken && !was_pending) {
        struct timespec now = {0, 0};
        int saved = errno;
        while (sigtimedwait(&pipe_only, NULL, &now) < 0 && errno == EINTR) {}
        errno = saved;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Puts one message line on stderr, "tool: MSG TAIL\n", in one write(2):
 * two tools sharing a stderr (make -j, xargs -P) then never interleave in
 * the middle of a line (on a pipe, of one up to PIPE_BUF, 4 KiB: the kernel
 * may split a longer write). A progress line on the terminal is ended first, in
 * the same write. MSG is escaped (sg_escape_message: control bytes, C1
 * controls, bidi overrides, line separators and bytes of no UTF-8 as \n,
 * \t, \x1b, \xc2\x9b): a path or a name holding a newline leaves a message
 * on one line, which a script reading stderr line by line (Python's
 * splitlines too) reads as one, and no escape sequence or reordering in it
 * reaches a terminal. Backslashes and printable UTF-8 (a name in any script)
 * stay as they are: messages are for people, and what lib/ quoted with
 * sg_quote_bytes, or a shell word, is escaped already. TAIL (strerror and
 * its advice) is ours, written as it is. A line longer than the stack buffer
 * goes on the heap; only out of memory is it written in pieces, cut. */
static void put_line(const char *msg, const char *tail)
{
    char stack[8192], *line = stack;
    const char *lead = progress_shown ? "\n" : "";
    progress_shown = 0;
    int k = snprintf(stack, sizeof stack, "%s%s: ", lead, cli_name);   /* cli_name is under 256 bytes */
    size_t head = k > 0 ? (size_t)k : 0, tl = strlen(tail);
    size_t len = sg_escape_message(stack + head, sizeof stack - head, msg);
    size_t total = head + len + tl + 1;
    if (total >= sizeof stack) {
        if ((line = malloc(total + 1)) != NULL) {
            memcpy(line, stack, head);
            sg_escape_message(line + head, len + 1, msg);
        } else {   /* out of memory: the cut message, then the rest, in pieces */
            line = stack;
            len = strlen(stack + head);
            write_stderr(stack, head + len);
            write_stderr(tail, tl);
            write_stderr("\n", 1);
            return;
        }
    }
    memcpy(line + head + len, tail, tl);
    line[head + len + tl] = '\n';
    fflush(stderr);   /* nothing of stdio's may come after it */
    write_stderr(line, total);
    if (line != stack) free(line);
}

/* Every message of the tools goes out here: the one place that keeps each
 * on one line (put_line), whatever the paths and names in it. */
static void vmessage(const char *fmt, va_list ap)
{
    int saved = errno;
    /* formatted whole first, to be escaped; a message longer than the stack
     * buffer (two long paths) on the heap, else cut */
    char stack[8192], *msg = stack;
    stack[0] = 0;
    va_list again;
    va_copy(again, ap);
    int len = vsnprintf(stack, sizeof stack, fmt, ap);
    if (len >= (int)sizeof stack && (msg = malloc((size_t)len + 1)) != NULL)
        vsnprintf(msg, (size_t)len + 1, fmt, again);
    else
        msg = stack;
    va_end(again);
    char tail[256] = "";
    size_t n = strlen(fmt);
    if (n && fmt[n - 1] == ':') snprintf(tail, sizeof tail, " %s%s", strerror(saved), no_space_hint(saved));
    put_line(msg, tail);
    if (msg != stack) free(msg);
}

void cli_die(const char *fmt, ...)
{
    va_list ap; va_start(ap, fmt); vmessage(fmt, ap); va_end(ap);
    exit(1);
}

void cli_die_err(const sg_err *err) { cli_die("%s%s", err->msg, cli_no_space_hint(err)); }

void cli_die_output_err(const sg_err *err, const char *out)
{
    cli_note_output(out);
    struct stat st;
    int device = !strcmp(out, "-") ? !stdout_is_file() : stat(out, &st) == 0 && !S_ISREG(st.st_mode);
    cli_die("%s%s", err->msg, device ? "" : cli_no_space_hint(err));
}

void cli_die_stdout(void)
{
    int saved = errno;
    cli_die("<stdout>: %s%s", strerror(saved), stdout_is_file() ? no_space_hint(saved) : "");
}

/* s's shell word in one of 8 slots (a few at once for one message), allocating
 * nothing; NULL when it does not fit, s then PATH_MAX bytes or more */
static const char *shell_word_slot(const char *s)
{
    static char words[8][SG_SHELL_WORD_MAX];
    static unsigned next;
    char *w = words[next++ % 8];
    return sg_shell_word_in(w, sizeof words[0], s) < sizeof words[0] ? w : NULL;
}

const char *cli_shell_word(const char *s)
{
    const char *w = shell_word_slot(s);
    return w ? w : s;
}

int cli_compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

const char *cli_shell_operand(const char *s)
{
    if (s[0] != '-' || !s[1]) return cli_shell_word(s);
    char dotted[PATH_MAX];   /* its word fits a slot */
    int k = snprintf(dotted, sizeof dotted, "./%s", s);
    const char *w = k > 0 && (size_t)k < sizeof dotted ? shell_word_slot(dotted) : NULL;
    return w ? w : s;
}

void cli_warn(const char *fmt, ...)
{
    va_list ap; va_start(ap, fmt); vmessage(fmt, ap); va_end(ap);
}

void cli_usage_error(const char *fmt, ...)
{
    va_list ap; va_start(ap, fmt); vmessage(fmt, ap); va_end(ap);
    cli_try_help();
}

void cli_try_help(void)
{
    char line[300];
    int k = snprintf(line, sizeof line, "Try '%s --help'.\n", cli_name);
    fflush(stderr);
    write_stderr(line, k > 0 && (size_t)k < sizeof line ? (size_t)k : 0);   /* one write, as every line */
    exit(2);
}

/* The long option that the element --NAME[=...] (name: NAME..., n its
 * length) stands for: an exact name, else the first it abbreviates; with
 * val >= 0 only one whose val is that. NULL if none. */
static const struct option *long_option_named(const struct option *longopts, const char *name, size_t n,
                                              int val)
{
    const struct option *first = NULL;
    for (const struct option *o = longopts; o && o->name; o++) {
        if (strncmp(o->name, name, n) || (val >= 0 && o->val != val)) continue;
        if (strlen(o->name) == n) return o;
        if (!first) first = o;
    }
    return first;
}

/* Prints "option 'ARG' is ambiguous; possibilities: '--a' '--b'" (arg the
 * whole element, --NAME[=VALUE]) and dies when NAME abbreviates long options
 * that differ in what they do (getopt_long takes abbreviations of one and
 * the same option); returns otherwise. */
static void refuse_ambiguous(const struct option *longopts, const char *arg, const char *name, size_t n)
{
    const struct option *first = NULL;
    int differ = 0;
    char list[1024] = "";
    size_t used = 0;
    for (const struct option *o = longopts; o && o->name; o++) {
        if (strncmp(o->name, name, n)) continue;
        if (strlen(o->name) == n) return;      /* an exact name is never ambiguous */
        if (!first) first = o;
        else if (o->has_arg != first->has_arg || o->flag != first->flag || o->val != first->val) differ = 1;
        int k = snprintf(list + used, sizeof list - used, " '--%s'", o->name);
        if (k > 0 && (size_t)k < sizeof list - used) used += (size_t)k;
    }
    if (differ) cli_usage_error("option '%s' is ambiguous; possibilities:%s", arg, list);
}

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
    opterr = 0;                             /* its messages are ours: one line, escaped */
    int before = optind ? optind : 1;       /* 0: getopt's own first call starts at 1 */
    int c = getopt_long(argc, argv, shortopts, longopts, NULL);
    if (c != '?' && c != ':') return c;
    /* A long option's error leaves optind past its element, which this
     * call consumed (and optopt 0 for an unknown or ambiguous name, else its
     * val); a short option's leaves optopt the letter, and optind past its
     * element only at the element's end: inside a group (-Sq) optind stays,
     * and argv[optind - 1] is an earlier element, maybe a --option. */
    const char *arg = optind > before && optind <= argc ? argv[optind - 1] : NULL;
    if (arg && arg[0] == '-' && arg[1] == '-' && arg[2]) {
        const char *name = arg + 2;
        size_t n = strcspn(name, "=");
        if (!optopt) {
            refuse_ambiguous(longopts, arg, name, n);
            cli_usage_error("unrecognized option '%s'", arg);
        }
        const struct option *o = long_option_named(longopts, name, n, optopt);
        if (o) {
            if (name[n] == '=') cli_usage_error("option '--%s' doesn't allow an argument", o->name);
            cli_usage_error("option '--%s' requires an argument", o->name);
        }
    }
    if (optopt && optopt != ':' && strchr(shortopts, optopt))
        cli_usage_error("option requires an argument -- '%c'", optopt);
    cli_usage_error("invalid option -- '%c'", optopt);
}

void cli_refuse_empty_path(const char *what, const char *path)
{
    if (path && !*path) cli_usage_error("%s: empty path", what);
}

void cli_refuse_stdout_dir(const char *path, const char *why)
{
    if (path && !strcmp(path, "-"))
        cli_usage_error("-o/--output: %s; for a directory named -, give -o ./-", why);
}

void cli_refuse_output_is_input(const char *out, const char *what, const char *in, const char *advice)
{
    if (!out || !in || !strcmp(out, "-")) return;
    /* a directory (celeb-pack's --images) by identity; a file when the
     * write would replace it (not a hard link of it under another name) */
    int same = !strcmp(in, "-") ? sg_write_replaces_fd(out, STDIN_FILENO)
             : sg_path_is_dir(in) ? sg_same_file(out, in) : sg_write_replaces(out, in);
    if (same)
        cli_die("%s: the output is the same %s as the %s %s; %s", out, sg_path_is_dir(out) ? "directory" : "file",
                what, !strcmp(in, "-") ? "<stdin>" : in, advice);
}

void cli_refuse_output_in_shard(const char *out, const char *shard)
{
    if (out && shard && strcmp(out, "-") && sg_path_inside_dir(out, shard))
        cli_die("%s: the output lies inside the shard %s; write it outside the shard", out, shard);
}

/* The place a file written at out lands, symbolic links resolved as
 * sg_write_file_atomic resolves them: its directory (canonical) into dir and
 * its name into name; 0. Where that directory does not exist yet (sg-sample
 * --each makes it), 1 and in dir its nearest existing ancestor, where mkdir
 * -p would make it. -1 when there is none to check: out is a directory, a
 * device, FIFO or socket (written in place, or refused by the write). */
static int output_place(const char *out, char *dir, size_t dn, char *name, size_t nn)
{
    struct stat st;
    char real[PATH_MAX], d[PATH_MAX];
    if (stat(out, &st) == 0) {
        if (!S_ISREG(st.st_mode) || !realpath(out, real)) return -1;
    } else {   /* missing, or a dangling link (refused by the write): where the name is */
        sg_dir_of(out, d, sizeof d);
        const char *slash = strrchr(out, '/'), *base = slash ? slash + 1 : out;
        if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) return -1;
        if (!realpath(d, real)) {   /* a directory to be made (sg-sample --each): where it would be */
            if (sg_nearest_existing_dir(d, real)) return -1;
            return snprintf(dir, dn, "%s", real) < (int)dn ? 1 : -1;
        }
        size_t k = strlen(real);
        if (snprintf(real + k, sizeof real - k, "%s%s", real[k - 1] == '/' ? "" : "/", base) >= (int)(sizeof real - k))
            return -1;
    }
    const char *slash = strrchr(real, '/');
    if (snprintf(name, nn, "%s", slash + 1) >= (int)nn) return -1;
    sg_dir_of(real, dir, dn);
    return 0;
}

/* 1 when dir is a training run's directory: its config.json says so
 * ("format": "stargan-c-run/N", lib/trainer.c's RUN_FORMAT_FAMILY; a newer
 * version too). */
static int is_run_dir(const char *dir)
{
    char path[PATH_MAX];
    uint8_t *data;
    size_t len;
    sg_err err;
    json_value *root;
    const char *fmt;
    if (snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path) return 0;
    if (sg_refuse_irregular(path, &err) || sg_read_file(path, 16 << 20, &data, &len, &err)) return 0;
    int run = 0;
    if (!json_parse((const char *)data, len, NULL, &root, NULL, &err)) {
        run = !json_get_str(root, "format", &fmt, &err) && sg_format_version(fmt, "stargan-c-run") > 0;
        json_free(root);
    }
    free(data);
    return run;
}

void cli_refuse_output_over_data(const char *out, const char *advice)
{
    char dir[PATH_MAX], name[256];
    int place = out && strcmp(out, "-") ? output_place(out, dir, sizeof dir, name, sizeof name) : -1;
    if (place < 0) return;
    static const char *const run_files[] = {"latest", "config.json", "history.jsonl", "cudnn-engines.txt"};
    for (size_t k = 0; place != 1 && k < sizeof run_files / sizeof run_files[0]; k++)   /* 1: a directory to be made */
        if (!strcmp(name, run_files[k]) && is_run_dir(dir))
            cli_die("%s: the output is the file %s of the training run %s; %s", out, name, dir, advice);
    /* a shard (a directory with data.mdb) or a run's ckpt/ at any depth
     * above, not only the file's own directory: a shard holding anything
     * else can no longer be replaced (celeb-pack --force refuses it), and
     * sg-train owns ckpt/ */
    char up[PATH_MAX];
    snprintf(up, sizeof up, "%s", dir);
    for (;;) {
        if (sg_shard_dir_looks_like(up))
            cli_die("%s: the output lies inside the shard %s; %s", out, up, advice);
        const char *slash = strrchr(up, '/');
        if (!slash || slash == up) break;
        if (!strcmp(slash + 1, "ckpt")) {
            char run[PATH_MAX];
            sg_dir_of(up, run, sizeof run);
            if (is_run_dir(run))
                cli_die("%s: the output lies inside the checkpoints (ckpt/) of the training run %s; %s", out, run,
                        advice);
        }
        up[slash - up] = 0;
    }
}

void cli_refuse_run_dir_shard(const char *run_dir, const char *const *shards, int n)
{
    char file[PATH_MAX];
    if (snprintf(file, sizeof file, "%s/config.json", run_dir) >= (int)sizeof file) return;   /* a file of the run */
    for (int k = 0; k < n; k++) {
        /* only shards: an operand that is none is reported as such later */
        if (!sg_shard_dir_looks_like(shards[k])) continue;
        if (sg_same_file(run_dir, shards[k]))
            cli_die("%s: the run directory is the shard %s it trains on; choose another -o RUN", run_dir, shards[k]);
        if (sg_path_inside_dir(file, shards[k]))
            cli_die("%s: the run directory lies inside the shard %s; choose another -o RUN", run_dir, shards[k]);
    }
    if (sg_shard_dir_looks_like(run_dir))
        cli_die("%s: the run directory is a shard (it holds data.mdb); choose another -o RUN", run_dir);
}

const char *cli_parse_device(const char *s)
{
    if (sg_device_parse(s, NULL) < 0)
        cli_usage_error("--device: expected cpu, cuda, cuda:N or auto, not '%s'", sg_quote_str(s).s);
    return s;
}

const char *cli_parse_precision(const char *s)
{
    if (!sg_precision_valid(s))
        cli_usage_error("--precision: expected tf32, fp32 or bf16, not '%s'", sg_quote_str(s).s);
    return s;
}

void cli_note_device_auto(const char *note, const char *verb)
{
    if (note[0] && !cli_quiet && isatty(STDERR_FILENO)) cli_warn("--device auto: %s; %s on the CPU", note, verb);
}

void cli_note_precision_on_cpu(const char *precision, const char *backend_name)
{
    if (precision && strcmp(precision, "fp32") && backend_name && !strcmp(backend_name, "cpu"))
        cli_warn("--precision %s is for CUDA's convolutions; the CPU computes in fp32", precision);
}

void cli_version(void)
{
    printf("%s %s\n", cli_name, sg_version);
    cli_finish_stdout();
    exit(0);
}

void cli_finish_stdout(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) cli_die_stdout();
}

static int progress_unthrottled;

void cli_progress_unthrottle(void) { progress_unthrottled = 1; }

double cli_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

void cli_progress(const char *fmt, ...)
{
    static double last;
    if (cli_quiet || !isatty(STDERR_FILENO)) return;
    double now = cli_now(), dt = now - last;
    if (progress_shown && dt < 0.1 && !progress_unthrottled) return;
    progress_unthrottled = 0;
    last = now;
    char text[1024], line[1024];
    va_list ap; va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    /* a name in it with a newline would end the line that \r rewrites */
    int k = snprintf(line, sizeof line, "%s: ", cli_name);
    if (k >= 0 && (size_t)k < sizeof line) sg_escape_message(line + k, sizeof line - (size_t)k, text);
    /* One row of the terminal, read at every redraw (a resize needs no
     * signal): a line that wraps leaves its first rows behind at each \r, a
     * screenful of them over a long run. The end goes first (sg-train's G
     * losses); a column is a character, not a byte (UTF-8 in names). */
    struct winsize ws;
    size_t max_cols = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 ? (size_t)ws.ws_col - 1 : (size_t)-1;
    size_t cols = 0, i = 0;
    for (; line[i]; i++)
        if (((unsigned char)line[i] & 0xC0) != 0x80 && ++cols > max_cols) { cols--; break; }
    line[i] = 0;
    /* A dumb terminal (Emacs' shell buffer; TERM unset: no terminal type
     * known) shows "\033[K" as ^[[K: spaces clear what is left of the line
     * before instead. */
    static size_t last_cols;
    const char *term = getenv("TERM");
    char out[2 * sizeof line + 8];   /* one write, as every line: the line and its padding (at most as wide) */
    int n;
    if (!term || !*term || !strcmp(term, "dumb")) {
        int pad = progress_shown && last_cols > cols ? (int)(last_cols - cols) : 0;
        n = snprintf(out, sizeof out, "\r%s%*s", line, pad, "");
    } else {
        n = snprintf(out, sizeof out, "\r\033[K%s", line);
    }
    last_cols = cols;
    fflush(stderr);
    write_stderr(out, n > 0 ? ((size_t)n < sizeof out ? (size_t)n : sizeof out - 1) : 0);
    progress_shown = 1;
}

void cli_progress_end(void)
{
    if (progress_shown) { fflush(stderr); write_stderr("\n", 1); progress_shown = 0; }
}

void cli_format_duration(char *out, size_t n, double s)
{
    if (!(s >= 0) || s >= 9e18) { snprintf(out, n, "?"); return; }   /* beyond a long: as good as NaN */
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(out, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else snprintf(out, n, "%ldm%02lds", t / 60, t % 60);
}

void cli_format_eta(char *out, size_t n, double s)
{
    cli_format_duration(out, n, s > 1e8 ? -1 : s);
}

double cli_rate_eta(double elapsed, double done, double total, char *eta, size_t n)
{
    double rate = done / (elapsed > 1e-9 ? elapsed : 1e-9);
    cli_format_eta(eta, n, (total - done) / rate);
    return rate;
}

long cli_parse_long(const char *opt, const char *s, long min, long max)
{
    char *end; errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || (errno && errno != ERANGE))
        cli_usage_error("%s: '%s' is not an integer", opt, sg_quote_str(s).s);
    if (errno == ERANGE)      /* an integer, beyond what a long holds */
        cli_usage_error("%s: %s is out of range [%ld, %ld]", opt, sg_quote_str(s).s, min, max);
    if (v < min || v > max)
        cli_usage_error("%s: %ld is out of range [%ld, %ld]", opt, v, min, max);
    return v;
}

uint64_t cli_parse_u64(const char *opt, const char *s, uint64_t max)
{
    /* strtoull takes "-1" as 2^64 - 1: a sign is looked for first */
    const char *p = s;
    while (*p == ' ' || (*p >= '\t' && *p <= '\r')) p++;
    int negative = *p == '-';
    char *end; errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end || (errno && errno != ERANGE))
        cli_usage_error("%s: '%s' is not an integer", opt, sg_quote_str(s).s);
    if (errno == ERANGE || (negative && v != 0) || v > max)   /* as given: a negative one too */
        cli_usage_error("%s: %s is out of range [0, %llu]", opt, sg_quote_str(s).s, (unsigned long long)max);
    return v;
}

/* x as %g, or with the digits %g drops (0.9999999 is not 1) */
static const char *shown_number(char *buf, size_t n, double x)
{
    snprintf(buf, n, "%g", x);
    if (strtod(buf, NULL) != x) snprintf(buf, n, "%.10g", x);
    return buf;
}

double cli_parse_double(const char *opt, const char *s, double min, double max)
{
    char *end; errno = 0;
    double v = strtod(s, &end);
    int range = errno == ERANGE;   /* a number still: beyond a double (1e400), or below its normal values (1e-400) */
    if ((errno && !range) || end == s || *end || v != v)
        cli_usage_error("%s: '%s' is not a number", opt, sg_quote_str(s).s);
    char a[32], b[32], c[32];
    if (range)
        cli_usage_error("%s: %s is out of range (too %s for a double) [%s, %s]", opt, sg_quote_str(s).s,
                        fabs(v) > 1 ? "large" : "small", shown_number(b, sizeof b, min),
                        shown_number(c, sizeof c, max));
    if (v < min || v > max) {
        cli_usage_error("%s: %s is out of range [%s, %s]", opt, shown_number(a, sizeof a, v),
                        shown_number(b, sizeof b, min), shown_number(c, sizeof c, max));
    }
    return v;
}

static char crash_message[1024];
static size_t crash_message_len;

static void crash_handler(int sig)
{
    /* Only async-signal-safe calls here: the message was formatted in advance. */
    (void)sig;
    ssize_t rc = write(STDERR_FILENO, crash_message, crash_message_len);
    (void)rc;
    _exit(1);
}

void cli_on_crash_blame(const char *what)
{
    char shown[512];
    sg_escape_message(shown, sizeof shown, what);   /* one line, as every message */
    int n = snprintf(crash_message, sizeof crash_message,
                     "\n%s: fatal signal while reading %s: the data may be damaged, LMDB does not "
                     "check its pages (celeb-dump --verify checks a shard, celeb-pack remakes it)\n",
                     cli_name, shown);
    crash_message_len = n < 0 ? 0 : (size_t)n < sizeof crash_message ? (size_t)n : sizeof crash_message - 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = crash_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
}

void cli_remove_dead_temps_of(const char *out)
{
    cli_note_output(out);
    if (out && strcmp(out, "-")) sg_remove_dead_temps_of(out);
}

int cli_lock_output_dir(const char *dir, const char *who, const char *why)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) cli_die("%s: %s", dir, errno == ENOTDIR ? "not a directory" : strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return 1;   /* fd stays open, and the lock held, until the process ends */
    int e = errno;
    /* any process's flock, not only this tool's: a flock(1) guarding this very command too */
    if (e == EWOULDBLOCK) {
        cli_warn("%s: the directory is locked (flock) by another process: another %s writing into it, or a flock(1) "
                 "or script locking the directory itself (%s: wait for it to end, or give each its own -o DIR; a "
                 "script guarding %s should lock another file)", dir, who, why, cli_name);
        exit(75);
    }
    /* NFS (without local_lock=flock) refuses flock on a directory opened read-only */
    cli_warn("%s: not locked (flock: %s): run one %s into it at a time", dir, strerror(e), who);
    close(fd);
    return 0;
}

void cli_refuse_image_to_terminal(const char *out)
{
    if (out && !strcmp(out, "-") && isatty(STDOUT_FILENO))
        cli_die("refusing to write an image to a terminal; use -o FILE or a redirection");
}
