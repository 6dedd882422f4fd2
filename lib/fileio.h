/* Whole-file I/O that never leaves a half-written output behind. */
#ifndef SG_FILEIO_H
#define SG_FILEIO_H
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include "error.h"

/* Writes data to path via "path.tmp.PID.N" (sg_temp_name), fsync, rename,
 * fsync of the directory: readers see the old file or the complete new one,
 * never a partial one, whatever else this process writes meanwhile. An
 * existing directory is an error; a device, FIFO or socket, and /dev/stdout,
 * /dev/stderr, /dev/fd/N, /proc/self/fd/N are written in place (not atomically);
 * through a symbolic link, the file it names is replaced. The temporary file is
 * created exclusively (never through a link placed at its name). A failure
 * of the directory's fsync, after the rename, is no failure to write: it is
 * reported as sg_fsync_dir_after does (SG_WRITTEN_UNSYNCED without a handler). */
int sg_write_file_atomic(const char *path, const void *data, size_t len, sg_err *err);

/* Written, but unsynced: an output written in full and renamed into place
 * whose directory's fsync then failed. Every reader sees the new file, but a
 * crash (power loss) soon may lose the rename. That is no failure to write,
 * and trying again would not help (the error is reported once), so tools say
 * so and go on (exit status 0): a script tells "not written" (1) from
 * "written". The report, the same from every writer (sg_err_unsynced), goes
 * to the handler a tool installs (tools/cli: a warning); lib/ never prints.
 * The handler may be called from any thread writing. NULL removes it.
 *
 * The writers that can end so (this list is the one place that says it):
 * sg_fsync_dir_after, sg_write_file_atomic, sg_st_writer_commit, sg_st_write,
 * sg_ckpt_write_net, sg_ckpt_write_state, sg_ckpt_write_latest, sg_ckpt_save,
 * sg_image_write (_commented, _encoded), sg_canvas_save,
 * sg_image_writer_finish, sg_attr_table_write and sg_shard_writer_commit
 * (sg_ckpt_write_net and _state are declared in lib/checkpoint_testing.h).
 * With a handler they return 0 (written) once it has the report. Without
 * one they return SG_WRITTEN_UNSYNCED (1), the report in err, so that
 * nothing is lost silently: a caller testing `if (f(...))` stops on it as on
 * a failure, and one that needs to know tells the two apart by the sign:
 * -1 always means not written (or not in full), never this. */
enum { SG_WRITTEN_UNSYNCED = 1 };
typedef void (*sg_unsynced_handler)(const sg_err *note);
void sg_set_unsynced_handler(sg_unsynced_handler handler);
/* The report's words, in note (sys_errno that of sync_err): "OUT written, but
 * syncing its directory failed (DIR: fsync: Input/output error): a crash soon
 * may lose it", sync_err->msg in the parentheses. Returns SG_WRITTEN_UNSYNCED. */
int sg_err_unsynced(sg_err *note, const char *out, const sg_err *sync_err);
/* fsync of dir, the directory that out (written in full) was just renamed
 * into. 0 when it succeeded, or when it failed and the handler took the
 * report; SG_WRITTEN_UNSYNCED with the report in err when there is no
 * handler. */
int sg_fsync_dir_after(const char *out, const char *dir, sg_err *err);
/* How many such failures sg_fsync_dir_after has met in this process (with a
 * handler or not): a writer that goes on compares it before and after, e.g.
 * sg-train keeps its older checkpoints when a new one may not be durable. */
unsigned sg_unsynced_count(void);
/* Reads a whole file (at most max_bytes; larger is an error, "PATH: larger
 * than the limit of N bytes", sys_errno E2BIG). path "-" reads stdin.
 * *data is malloc'd and NUL-terminated (not counted in *len). A directory
 * (which fopen opens on Linux, its read then failing) is sg_err_is_dir's error. */
int sg_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *len, sg_err *err);
/* fsync a directory so that a rename inside it is durable. */
int sg_fsync_dir(const char *dir, sg_err *err);
/* The directory part of path, like dirname(1): "." without a slash, "/" for "/x". */
void sg_dir_of(const char *path, char *dir, size_t n);
/* path without the trailing slashes a shell's completion adds ("run/" is
 * "run", "/" stays "/"), into out (which may be path); -1 when it does not
 * fit in n bytes. */
int sg_path_trim_slashes(const char *path, char *out, size_t n);
/* mkdir -p. */
int sg_mkdir_p(const char *path, sg_err *err);
/* sg_mkdir_p that says which directories it made: *made is the length of
 * the prefix of path naming the topmost one (every directory from there down
 * to path is new), 0 when path was there already; on an error, those it made
 * so far. */
int sg_mkdir_p_made(const char *path, size_t *made, sg_err *err);
/* After creating path (or a temporary name beside it) failed with errno
 * ENOENT: when path's directory does not exist, err says so and what to do
 * ("x/y/out.png: the directory x/y does not exist; create it first: mkdir -p
 * x/y", sys_errno ENOENT) and the result is 1; else 0, err untouched. */
int sg_err_missing_dir(const char *path, sg_err *err);
/* 1 when path names a directory (through links). */
int sg_path_is_dir(const char *path);
/* 1 when nothing is at path (never there, or deleted): stat fails with ENOENT. */
int sg_path_missing(const char *path);
/* The error of a path read as a file that is a directory: "PATH: is a
 * directory, not a file", sys_errno EISDIR (not a read error, nor the file's
 * content: a checkpoint is not "unusable" for it). Returns -1. */
int sg_err_is_dir(sg_err *err, const char *path);
/* A file that is read whole must be a regular file: a FIFO in its place would
 * block the open or the read for ever, /dev/zero would be read up to the size
 * limit. 0 when path is a regular file or nothing is there (through links);
 * else -1 and err: "PATH: not a regular file (a FIFO; move it away)", or for a
 * directory "PATH: is a directory, not a file (move it away)" (EISDIR). */
int sg_refuse_irregular(const char *path, sg_err *err);
/* The same for a file already opened (mode from fstat): 0 for a regular file. */
int sg_refuse_irregular_mode(const char *path, unsigned mode, sg_err *err);

/* 1 when a and b name the same existing file or directory: the same device
 * and inode through symbolic links ("x" and "./x", a link to it, a hard link
 * of it); 0 when they differ or either cannot be stat'ed.
 * This is the project's rule for "the same shard" (or run directory): by
 * device and inode, so that another spelling of its path, a symbolic link,
 * a bind mount or a hard link is the same shard, and a copy is another (that
 * a copy holds the run's data is a question of its metadata). The trainer's
 * shard given twice and its check of the run's recorded shard (by stat's
 * st_dev and st_ino), sg-train's crash blame and sg-sample's matching of a
 * shard to a checkpoint's datasets follow it. Path text is compared only
 * where the question is the path itself: the trainer's check of the shards'
 * order finds a shard's position by the real path config.json records. */
int sg_same_file(const char *a, const char *b);
/* 1 when writing out with sg_write_file_atomic would destroy the regular
 * file in: out names the same directory entry as in once symbolic links are
 * resolved (the write renames over that entry). A hard link of in under
 * another name keeps it, and a device, FIFO or socket is written in place,
 * so neither counts; 0 too when either is missing. */
int sg_write_replaces(const char *out, const char *in);
/* The directory entry of a regular file that writing path would replace
 * (symbolic links resolved): its directory's device and inode, and its name.
 * Two paths name the same entry when all three are equal (sg_write_replaces);
 * for comparing many outputs with many inputs, one call per path. */
typedef struct { unsigned long long dev, ino; char name[256]; } sg_file_entry;
int sg_replaced_entry(const char *path, sg_file_entry *e);   /* 0, or -1: no regular file */
/* The same for the file open as descriptor fd (standard input): out is that
 * regular file and its only name (st_nlink 1). */
int sg_write_replaces_fd(const char *out, int fd);
/* The canonical path (realpath) of directory dir, or where it does not exist
 * (yet), of its nearest existing ancestor: where mkdir -p would create the
 * rest, on whose file system a file in dir lands. 0, or -1 (a name too long,
 * no ancestor resolves). */
int sg_nearest_existing_dir(const char *dir, char real[PATH_MAX]);
/* 1 when a file written at path (existing or not) lands in directory dir or in
 * a directory below it. The place is that of the file a symbolic link at path
 * names, where it exists (an atomic write replaces that file); where path's
 * directory does not exist yet, its nearest existing ancestor (mkdir -p would
 * create the rest there). Each directory from there up to "/" is compared
 * with dir by device and inode; 0 when none is dir, dir is no directory, or a
 * name is too long. */
int sg_path_inside_dir(const char *path, const char *dir);

/* The temporary name of one write to path: path, tag, this process's number,
 * ".", and a number no other call in this process got ("out.png" ".tmp." ->
 * "out.png.tmp.4711.0"; the shard writer's tag is ".tmp-"). So two writers
 * of one path in one process (two threads) never share a temporary file,
 * and a file already at the name is an earlier process's that had the same
 * number. 0, or -1 when it does not fit in n bytes. */
int sg_temp_name(char *out, size_t n, const char *path, const char *tag);
/* The most bytes sg_temp_name adds to path with this tag (a name's length
 * checked before anything is written). */
size_t sg_temp_name_extra(const char *tag);
/* The writer's process number in what follows the tag of a temporary name:
 * "PID.N" (sg_temp_name's), or "PID" alone (the names of earlier versions,
 * which a crash under one of them left); -1 for anything else. */
long sg_temp_name_pid(const char *after_tag);

/* Creates the temporary file tmp for writing, exclusively and never through a
 * symbolic link placed at its name (temporary names are predictable); one left
 * by an earlier process of the same number (sg_temp_name never gives a name
 * twice in one process) is removed first. Returns the descriptor, or -1 with
 * errno set. */
int sg_create_temp(const char *tmp);

/* 1 when no process of number pid exists (kill(2) says ESRCH): the writer of
 * a temporary file named with it is dead. */
int sg_pid_gone(long pid);
#define SG_DEAD_TEMP_AGE_S 600
/* Temporary files that writers killed by SIGKILL (or a crash) left behind,
 * which no signal handler could remove: "NAME.tmp.PID.N" (sg_write_file_atomic's
 * names; "NAME.tmp.PID" of earlier versions too, sg_temp_name_pid) whose PID
 * no longer runs and that were last written over SG_DEAD_TEMP_AGE_S ago: a
 * PID is this machine's, and a writer on another machine sharing the
 * directory (NFS) or in another PID namespace (a container) looks dead here,
 * but writes its file within seconds. Tools
 * remove those of their outputs before writing them; best effort, only
 * regular files, errors ignored.
 * sg_remove_dead_temps_of: path's own (symbolic links resolved as
 * sg_write_file_atomic resolves them). sg_remove_dead_temps_in: every one in
 * dir whose NAME starts with prefix and ends with suffix, in one scan (a
 * directory of many outputs). */
void sg_remove_dead_temps_of(const char *path);
void sg_remove_dead_temps_in(const char *dir, const char *prefix, const char *suffix);

/* Temporary files in flight. A process killed between creating a temporary
 * file and renaming it leaves the file behind; writers register each name
 * here while it exists, and a tool's signal handler calls sg_temp_end
 * before the process dies. Best effort: with all SG_TEMP_SLOTS taken a name
 * is not registered (sg_temp_track returns -1, which sg_temp_untrack
 * ignores). Safe from any thread; sg_temp_remove_all is async-signal-safe. */
enum { SG_TEMP_SLOTS = 64 };
int sg_temp_track(const char *path);
void sg_temp_untrack(int slot);
void sg_temp_remove_all(void);
/* sg_create_temp with tmp registered (slot set, -1 when no slot was free)
 * such that sg_temp_end removes the file whether it runs before, during or
 * after the creation; after sg_temp_end it creates nothing (-1, ECANCELED,
 * once the process has had up to 2 s to end). */
int sg_temp_create_tracked(const char *tmp, int *slot);
/* For a stop signal's handler, the process ending: no temporary file is
 * created from now on (sg_temp_create_tracked), those being created in other
 * threads are waited for (up to 1 s in all), and every registered one is
 * removed. Async-signal-safe. */
void sg_temp_end(void);

#endif
