/* Helpers shared by the tools (not part of lib/: these print and exit).
 * Conventions: errors on stderr as "tool: message", exit 1; usage errors exit 2;
 * -h/--help prints usage on stdout and exits 0; --version prints "tool VERSION". */
#ifndef SG_CLI_H
#define SG_CLI_H
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include "error.h"

extern const char *cli_name;          /* set by cli_init from argv[0] */

/* Sets cli_name from argv[0] (its last component: messages say "sg-train: ...");
 * keeps descriptors 0-2 taken; on SIGINT, SIGTERM and SIGHUP
 * removes the temporary files writers have in flight (lib/fileio.h) and ends
 * as the signal would; ignores SIGXFSZ (a write past ulimit -f fails with
 * EFBIG instead of killing the tool); an output written whose directory's
 * fsync then failed is a warning, "OUT written, but syncing its directory
 * failed (DIR: fsync: ...): a crash soon may lose it", and the tool goes on
 * (lib/fileio.h sg_set_unsynced_handler). */
void cli_init(char **argv);
/* For a signal handler: removes the temporary files writers have in flight
 * (lib/fileio.h) and ends the process as signal sig would have. */
void cli_die_by_signal(int sig);
/* For a tool that stopped gracefully on signal sig, its messages written and
 * its cleanup done: flushes stdout and stderr, then ends the process by sig
 * at its default action (the shell's $? is 128 + sig), not by exit(128 +
 * sig): a shell running the tool in a script stops the script only when the
 * tool died of the SIGINT, as a tool that caught nothing would have. */
void cli_exit_by_signal(int sig) __attribute__((noreturn));
/* Installs handler (with sa_flags) for SIGINT, SIGTERM and SIGHUP, for a tool
 * that stops gracefully: always for the first two (a script's background job,
 * which starts with SIGINT ignored, can still be stopped with kill -INT), and
 * for SIGHUP unless it was ignored when the tool started (nohup). */
void cli_catch_stop_signals(void (*handler)(int), int sa_flags);
/* As cli_catch_stop_signals, but one ignored when the tool started stays
 * ignored, as cli_init leaves it: for a tool that still ends at once on a
 * stop signal and only says more (cli_die_by_signal_saying), whose man page
 * says that an ignored signal stays ignored. */
void cli_catch_stop_signals_not_ignored(void (*handler)(int));
/* Holds SIGINT, SIGTERM and SIGHUP (blocked in the calling thread; the
 * tools' other threads block them from their start) over a few short steps
 * that a stop must not cut in two (renames of several files, the removal of
 * a run), the mask before in *was. cli_release_stop_signals(was) puts it
 * back, and one that came meanwhile is then delivered. */
void cli_hold_stop_signals(sigset_t *was);
void cli_release_stop_signals(const sigset_t *was);
/* A line for a signal handler that ends the process at once to say what the
 * stop leaves (the handler cannot format it: printf is not
 * async-signal-safe): made in advance, and made again whenever that changes,
 * with cli_stop_line_set on the ordinary path; a handler writes the last one
 * made in full (two buffers: it never sees one half made). Zero-initialised:
 * no line. */
typedef struct {
    char text[2][8192];
    size_t len[2];
    volatile sig_atomic_t current;    /* the buffer a handler writes */
} cli_stop_line;
/* "tool: MESSAGE" made as cli_warn makes its line (escaped, cut to fit);
 * "" as fmt: no line. */
void cli_stop_line_set(cli_stop_line *line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* For a signal handler: ends a progress line, writes line (NULL, or none
 * made: nothing), then cli_die_by_signal(sig). A reader of stderr that has
 * gone does not change how the process ends. */
void cli_die_by_signal_saying(int sig, const cli_stop_line *line);
/* For a signal handler that lets the tool go on (a stop it will carry out
 * later): writes line at once (nothing for NULL or none made), ending a
 * progress line first, with write(2) alone; a reader of stderr that has gone
 * (EPIPE) does not end the process. */
void cli_say_from_handler(const cli_stop_line *line);
/* Messages (cli_die, cli_warn, cli_usage_error, cli_progress and those built
 * on them) are one line each: control bytes in them (a newline in a path), C1
 * controls, invisible and bidi characters and bytes of no UTF-8 are written
 * escaped, \n, \t, \x1b, \xe2\x80\xae (lib/text_escape.h
 * sg_escape_message); backslashes and printable UTF-8 are kept. Each line
 * goes out in one write(2), so that tools sharing a stderr (make -j, xargs
 * -P) never interleave in the middle of a line (of up to 4 KiB on a pipe). Tools print their messages
 * through these only. */
/* "tool: message" on stderr, exit 1. A trailing ':' in fmt appends strerror(errno)
 * (and cli_no_space_hint's words when errno is ENOSPC, EDQUOT or EFBIG). */
void cli_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* Prints err->msg as "tool: message" followed by cli_no_space_hint(err), exit 1. */
void cli_die_err(const sg_err *err) __attribute__((noreturn));
/* cli_die_err for a failure to write the output out ("-": standard output),
 * with no advice about space where out is a device, FIFO or socket (ENOSPC
 * on /dev/full is no full file system); out missing counts as a file. */
void cli_die_output_err(const sg_err *err, const char *out) __attribute__((noreturn));
/* "tool: <stdout>: strerror(errno)", exit 1: writing standard output failed.
 * The advice for want of space only where it is a regular file. */
void cli_die_stdout(void) __attribute__((noreturn));
/* Records path (a file or a directory, there or not yet) as what the tool
 * writes: on ENOSPC, the advice looks at its file system, and says "the file
 * system has no free inodes (df -i): remove files" where blocks are free but
 * inodes are not, instead of "the file system is full: free space on it".
 * cli_die_output_err and cli_remove_dead_temps_of record theirs. "-" and
 * NULL: nothing. */
void cli_note_output(const char *path);
/* What to do, for a message of a tool's own built around err->msg
 * (cli_die("%s; %s not written%s", err.msg, out, cli_no_space_hint(&err))):
 * " (the file system is full: free space on it and try again)" for ENOSPC
 * (" (the file system has no free inodes (df -i): remove files and try
 * again)" where the noted output's file system has blocks but no inodes),
 * " (the disk quota is exceeded: free space or ask for more quota, then try
 * again)" for EDQUOT, " (the file size limit (ulimit -f) is N KiB: raise it
 * and try again)" for EFBIG under such a limit, else "" (valid until the
 * next call). */
const char *cli_no_space_hint(const sg_err *err);
/* The same advice as a phrase, for a tool's own sentence about what comes
 * after ("(%s, then sg-train --resume ...)"), into buf (n bytes), returned:
 * "the file system is full: free space on it" for ENOSPC ("the file system has
 * no free inodes (df -i): remove files" as above), "the disk quota is
 * exceeded: free space or ask for more quota" for EDQUOT, "the file size
 * limit (ulimit -f) is N KiB: raise it" for EFBIG under such a limit (without
 * aside), else "". aside
 * (NULL: none) follows "free space": "free space on it (--keep N ...)",
 * "free space (--keep N ...) or ask for more quota". */
const char *cli_no_space_advice(const sg_err *err, const char *aside, char *buf, size_t n);
/* s (a path) as one word of a command a message suggests ("sg-train -o %s
 * --resume"), for the user to paste back: lib/text_escape.h
 * sg_buf_put_shell_word (an ordinary path bare; 'a b', $'a\nb'), which the
 * messages' escaping leaves as it is. The text lives until the eighth call
 * after; allocates nothing. A text whose word does not fit
 * SG_SHELL_WORD_MAX (PATH_MAX bytes or more: no path a system call takes)
 * is returned as it is. */
const char *cli_shell_word(const char *s);
/* cli_shell_word for a path that is an operand of the suggested command
 * ("celeb-dump --verify %s", "sed ... %s"): one starting with - (not "-"
 * alone, standard input to the command as to the tool) as ./-..., which the
 * command does not read as options (s as it is when ./s is PATH_MAX bytes
 * or more). */
const char *cli_shell_operand(const char *s);
/* qsort/bsearch order of an array of char * (strcmp of the strings they point to). */
int cli_compare_strings(const void *a, const void *b);
/* "tool: message" on stderr (a warning or a note: "wrote N records to OUT"), returns. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "tool: message" + "Try 'tool --help'." on stderr, exit 2. */
void cli_usage_error(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* "Try 'tool --help'." on stderr, exit 2. */
void cli_try_help(void) __attribute__((noreturn));
/* getopt_long (argument permutation, abbreviated long options) whose errors
 * are usage errors (cli_usage_error: one line, escaped as every message, "Try
 * 'tool --help'.", exit 2) in getopt_long's own words ("unrecognized option
 * '--x'", "option '--ite' is ambiguous; possibilities: '--iters'
 * '--iter-x'", "option '--output' requires an argument", "option '--force'
 * doesn't allow an argument", "invalid option -- 'Z'", "option requires an
 * argument -- 'o'"); otherwise its return value. */
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts);
/* A usage error "what: empty path" when path is "" (NULL: not given, fine):
 * an empty name would otherwise reach the file system as the working or the
 * root directory ("" + "/img_align_celeba"), or give "tool: : No such file". */
void cli_refuse_empty_path(const char *what, const char *path);
/* A usage error when path (-o's value, the tool's output directory) is "-",
 * which is standard output to the tools that write a file (and to the
 * advice on a full disk): "-o/--output: WHY; for a directory named -, give
 * -o ./-". why says what goes to a directory ("a shard is a directory and
 * cannot go to standard output"). */
void cli_refuse_stdout_dir(const char *path, const char *why);
/* Dies (exit 1) when writing out would replace the input in: a file whose
 * directory entry the write replaces (lib/fileio.h sg_write_replaces; in "-":
 * standard input), a directory by device and inode (sg_same_file):
 * "tool: OUT: the output is the same file as the WHAT IN; ADVICE" ("the same
 * directory" for one). what names
 * the input ("input", "--attrs file"); advice says what to do ("choose
 * another -o"). Nothing where out is "-" or either is missing. */
void cli_refuse_output_is_input(const char *out, const char *what, const char *in, const char *advice);
/* Dies (exit 1) when out (a file, or an output directory to be created; not
 * "-") lies inside the shard directory shard (lib/fileio.h
 * sg_path_inside_dir): readers never write next to a shard's data, and
 * celeb-pack --force would delete what they did. */
void cli_refuse_output_in_shard(const char *out, const char *shard);
/* Dies (exit 1) when writing the file out (not "-") would replace data the
 * tools made: it lands in a shard's directory (sg_shard_dir_looks_like: its
 * data.mdb, next to it, or in a directory below it), or it is a training
 * run's latest, config.json, history.jsonl or cudnn-engines.txt, or lands in
 * the run's ckpt/ or below it (a run's
 * directory: its config.json's "format" is "stargan-c-run/N"). Symbolic links
 * are followed as the write follows them. "tool: OUT: the output lies inside
 * the shard DIR; ADVICE", "...is the file NAME of the training run DIR;
 * ADVICE", "...lies inside the checkpoints (ckpt/) of the training run DIR;
 * ADVICE". */
void cli_refuse_output_over_data(const char *out, const char *advice);
/* sg-train: records run_dir as the output (cli_note_output); dies (exit 1)
 * when the run directory run_dir is one of the
 * shard operands, lies inside one (by device and inode), or is a shard
 * itself (it holds data.mdb): the run's files would be written next to a
 * shard's data, where readers never write. */
void cli_refuse_run_dir_shard(const char *run_dir, const char *const *shards, int n);
/* --device's and --precision's values (lib/backend.h sg_device_parse,
 * sg_precision_valid), returned; anything else is a usage error, "--device:
 * expected cpu, cuda, cuda:N or auto, not 'X'", "--precision: expected tf32,
 * fp32 or bf16, not 'X'". */
const char *cli_parse_device(const char *s);
const char *cli_parse_precision(const char *s);
/* --device auto's fallback (note: sg_backend_open's fallback_note, "" when
 * it chose CUDA) as "--device auto: NOTE; VERB on the CPU" ("running",
 * "training"): a note for people, so nothing with -q or where stderr is not
 * a terminal (a log). */
void cli_note_device_auto(const char *note, const char *verb);
/* Warns that --precision P (given, not fp32) does nothing when the backend
 * the device resolved to is the CPU's, which computes in fp32. */
void cli_note_precision_on_cpu(const char *precision, const char *backend_name);
void cli_version(void) __attribute__((noreturn));
/* Flushes and checks stdout; dies if writing it failed (cli_die_stdout). */
void cli_finish_stdout(void);
/* Dies when out is "-" and standard output is a terminal: an image's bytes
 * there are garbage at best, control sequences at worst. */
void cli_refuse_image_to_terminal(const char *out);
/* Removes the temporary files a killed earlier run left at output out
 * (sg_remove_dead_temps_of); nothing for NULL or "-" (stdout). */
void cli_remove_dead_temps_of(const char *out);

/* One writer at a time in the output directory dir (it must exist): an
 * exclusive flock(2) on dir itself, held until the process ends (the kernel
 * drops it however the process dies). Busy (another process holds one, a
 * flock(1) guarding this very command too): "tool: DIR: the directory is
 * locked (flock) by another process: another WHO writing into it, or a
 * flock(1) or script locking the directory itself (WHY: wait for it to end,
 * or give each its own -o DIR; a script guarding TOOL should lock another
 * file)", exit 75 (EX_TEMPFAIL, as sg-train's: a script tells "already
 * running" from a failure). A file system that refuses the lock (NFS) leaves
 * dir unlocked with a warning "DIR: not locked (flock: ...): run one WHO into
 * it at a time", and 0 is returned; 1 when locked. Dies when dir cannot be
 * opened. who: "sg-sample --each"; why: "two --each runs at once would give
 * their outputs the same numbers". */
int cli_lock_output_dir(const char *dir, const char *who, const char *why);

/* Progress line on stderr, only when stderr is a terminal and not quiet:
 * rewritten in place at most ~10 times a second; cli_progress_end ends the line. */
extern int cli_quiet;
void cli_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The next cli_progress line is shown even if one was shown under 0.1 s
 * ago: the last one of a loop (a run's N/N, not the last shown 2875/3000). */
void cli_progress_unthrottle(void);
void cli_progress_end(void);
/* A duration as the tools' messages give it (a progress line's remaining
 * time, a wait): "0m02s", "12m05s", "3h07m" (whole minutes from an hour
 * up), s rounded to the second; "?" when s is negative or NaN. */
void cli_format_duration(char *out, size_t n, double s);
/* Remaining time for a progress line: cli_format_duration's, or "?" over
 * 1e8 s too (no estimate yet). */
void cli_format_eta(char *out, size_t n, double s);
/* The rate of `done` items in `elapsed` seconds (per second), and in eta the
 * time left for the rest of `total` at that rate (cli_format_eta). */
double cli_rate_eta(double elapsed, double done, double total, char *eta, size_t n);
/* Seconds on the monotonic clock (for elapsed times; its zero means nothing). */
double cli_now(void);

/* Strict number parsing for option values: dies with a usage error naming the option. */
long cli_parse_long(const char *opt, const char *s, long min, long max);
/* An unsigned integer 0..max (up to UINT64_MAX, past what a long holds): a
 * negative one, junk or one past max is a usage error naming the option. */
uint64_t cli_parse_u64(const char *opt, const char *s, uint64_t max);
double cli_parse_double(const char *opt, const char *s, double min, double max);

/* LMDB trusts its pages: a damaged shard can crash the reader inside the
 * library. After this call a SIGSEGV or SIGBUS prints one line naming what was
 * being read ("tool: fatal signal while reading WHAT: ...") and exits 1 instead
 * of dumping core. */
void cli_on_crash_blame(const char *what);

#endif
