/* celeb-split: splits a CelebA attribute list into sub-datasets by attribute
 * groups, and optionally into train/test, writing attribute files in CelebA's
 * format. Copies no images. See celeb-split(1). */
#include "celeba_attrs.h"
#include "cli.h"
#include "fileio.h"
#include "json.h"
#include "mt19937.h"
#include "text_escape.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_GROUPS 16
#define MAX_GROUP_ATTRS 64

static void usage(void)
{
    printf("Usage: %s [OPTION]... --group NAME=ATTR[,ATTR]... -o OUT ATTR_FILE\n"
           "Split a CelebA attribute list (list_attr_celeba.txt, or Kaggle's .csv) into\n"
           "groups of images by attributes, and optionally into train/test. Writes\n"
           "OUT/attr_NAME.txt per group (and attr_NAME_train.txt, attr_NAME_test.txt\n"
           "with --split) in CelebA's format (the .txt one).\n"
           "\n"
           "Rule: an image with any attribute of the --priority group goes there; else to\n"
           "the first group (command-line order) that has one of its attributes; else to\n"
           "the --rest group, or nowhere (drop).\n"
           "\n"
           "  -g, --group NAME=A,B,...   a group and its attributes (repeatable)\n"
           "  -p, --priority NAME        group that wins when an image qualifies\n"
           "                             for several\n"
           "  -r, --rest NAME|drop       where images with none of the attributes go\n"
           "                             (default drop)\n"
           "  -o, --output DIR           output directory (created if missing)\n"
           "  -s, --split MODE           none (default), reference, or partition[=FILE]\n"
           "                             reference: Python random.seed(SEED);\n"
           "                               random.shuffle of each group's rows; the\n"
           "                               first N rows are test (yunjey/stargan)\n"
           "                             partition: list_eval_partition.txt or .csv\n"
           "                               (0 train, 2 test)\n"
           "      --partition FILE       the partition file for --split partition\n"
           "      --val-to train|test|drop\n"
           "                             where partition 1 (validation) goes\n"
           "                             (default drop)\n"
           "      --test-count N         test rows per group for --split reference\n"
           "                             (default 1999)\n"
           "      --seed N               seed for --split reference (default 1234)\n"
           "      --json                 print the statistics as JSON\n"
           "  -q, --quiet                no progress line\n"
           "  -h, --help                 this help\n"
           "      --version              version\n"
           "\n"
           "Examples (the CelebA/CelebB split):\n"
           "  %s --group celebA=Bangs,Black_Hair,Blond_Hair,Brown_Hair,Gray_Hair \\\n"
           "     --group celebB=Wearing_Earrings,Wearing_Hat,Mustache,Eyeglasses \\\n"
           "     --priority celebB --rest celebB --split reference \\\n"
           "     -o split list_attr_celeba.txt\n",
           cli_name, cli_name);
}

typedef struct {
    char name[64];
    int attrs[MAX_GROUP_ATTRS], n_attrs;
    const char *spec;           /* "A,B,C" from the command line */
    size_t *rows, n_rows;       /* rows of the table, file order */
    size_t *train, n_train, *test, n_test;
} group;

enum { SPLIT_NONE, SPLIT_REFERENCE, SPLIT_PARTITION };

/* Outputs are written to temporary names first and renamed together at the
 * end, so that a failure leaves every earlier output as it was: the earlier
 * output of each name is renamed aside (old, ".NAME.tmp.PID.old", in the
 * temporaries' names: never a user's file) first, and put
 * back on an error (commit_pending). */
typedef struct {
    char path[PATH_MAX], tmp[PATH_MAX], old[PATH_MAX];
    int tmp_slot;
    int has_old;    /* the earlier output is at old */
    int renamed;    /* tmp is at path */
} pending_file;
static pending_file pending[3 * MAX_GROUPS];
static int n_pending;

/* Removes the temporary files not renamed, and forgets all. */
static void remove_pending(void)
{
    for (int i = 0; i < n_pending; i++) {
        if (!pending[i].renamed) unlink(pending[i].tmp);
        sg_temp_untrack(pending[i].tmp_slot);
    }
    n_pending = 0;
}

/* A stop signal (SIGINT, SIGTERM, SIGHUP) ends the run at once, as it
 * did, but says what it leaves: no list before they are all in place
 * (commit_pending holds the signals over the renames), the staged ones
 * removed; all of them after. A -o DIR this run made (and the directories
 * above it that it made) is removed too while empty, deepest first: never
 * one that was there; an error before the lists are in place removes them
 * the same way (die_made). The lines are made in advance (a handler cannot
 * format one): stop_line for what is left when every directory made went,
 * made_dir_only_line when DIR went but one above it stayed (another
 * process's files in it), made_left_line when DIR itself stayed. */
static cli_stop_line stop_line, made_dir_only_line, made_left_line;
static char made_path[PATH_MAX];        /* -o DIR without trailing slashes, while it is this run's and new */
static volatile size_t made_len;        /* 0: none; else the length of the topmost directory made */
static volatile sig_atomic_t stopping;

enum { MADE_LEFT, MADE_DIR_ONLY_REMOVED, MADE_ALL_REMOVED };

/* Removes made_path and the directories above it that this run made (down
 * to made_len), deepest first, each while empty (rmdir alone: the stop's
 * handler calls it too); then forgets them (made_len 0). Says how far it
 * went: MADE_LEFT with rmdir's errno when made_path stayed. */
static int remove_made_dirs(void)
{
    size_t top = made_len, len = 0;
    made_len = 0;
    while (made_path[len]) len++;
    int removed = 0;
    for (;;) {
        if (rmdir(made_path) != 0) break;
        removed++;
        while (len > 0 && made_path[len - 1] != '/') len--;   /* up to the parent */
        while (len > 0 && made_path[len - 1] == '/') len--;
        if (len < top) break;   /* there before this run */
        made_path[len] = 0;
    }
    return !removed ? MADE_LEFT : len < top ? MADE_ALL_REMOVED : MADE_DIR_ONLY_REMOVED;
}

static void on_stop_signal(int sig)
{
    if (stopping) return;   /* another stop signal during this one: the first one ends the run */
    stopping = 1;
    sg_temp_end();   /* the staged lists: DIR as empty as this run made it */
    const cli_stop_line *line = &stop_line;
    if (made_len) {
        int how = remove_made_dirs();
        line = how == MADE_LEFT ? &made_left_line : how == MADE_ALL_REMOVED ? &stop_line : &made_dir_only_line;
    }
    cli_die_by_signal_saying(sig, line);
}

/* An error before the lists are in place (the staged ones removed, no new
 * list left in DIR): dies with err, after removing a -o DIR that this run
 * made, as a stop does, and saying what it left ("...; DIR, which this run
 * made, is removed"). Nothing more for a DIR that was there. */
static void __attribute__((noreturn)) die_made(sg_err *err)
{
    sigset_t was;
    cli_hold_stop_signals(&was);   /* one removal: the handler's or this (the error wins; exit drops the signal) */
    if (made_len) {
        char path[PATH_MAX], top[PATH_MAX];
        size_t top_len = made_len;
        memcpy(path, made_path, strlen(made_path) + 1);
        snprintf(top, sizeof top, "%.*s", (int)top_len, path);
        int how = remove_made_dirs(), e = errno;
        if (how == MADE_LEFT && (e == ENOTEMPTY || e == EEXIST))
            sg_err_suffix(err, "; %s, which this run made, is left: it is not empty (another process wrote into it?)",
                          path);
        else if (how == MADE_LEFT)
            sg_err_suffix(err, "; %s, which this run made, is left (rmdir: %s)", path, strerror(e));
        else if (how == MADE_ALL_REMOVED && top_len < strlen(path))
            sg_err_suffix(err, "; %s, which this run made, is removed, and so are the directories above it that it "
                          "made, up to %s", path, top);
        else sg_err_suffix(err, "; %s, which this run made, is removed", path);
    }
    cli_die_err(err);
}

/* The stop's line while no list is in place: for a DIR that was there, or
 * before one is made. */
static void stop_line_no_list(const char *dir, int dir_was_there)
{
    if (dir_was_there) cli_stop_line_set(&stop_line, "interrupted: no list written; %s is as it was", dir);
    else cli_stop_line_set(&stop_line, "interrupted: no list written");
}

/* Makes -o DIR (mkdir -p), and the stop's lines for what it made (signals
 * held: a stop in between would leave a new directory the handler does not
 * know of). One that fails part-way removes what it made (die_made). */
static void make_out_dir(const char *dir)
{
    sg_err err;
    sigset_t was;
    size_t made;
    cli_hold_stop_signals(&was);
    int rc = sg_mkdir_p_made(dir, &made, &err);
    char path[PATH_MAX];
    if (made && sg_path_trim_slashes(dir, path, sizeof path) == 0 && made <= strlen(path)) {
        /* failed part-way: the deepest it made is the last there, below the topmost it made */
        size_t len = strlen(path);
        struct stat st;
        while (rc != 0 && len > made && lstat(path, &st) != 0) {
            while (len > made && path[len - 1] != '/') len--;
            while (len > made && path[len - 1] == '/') len--;
            path[len] = 0;
        }
        char top[PATH_MAX];
        snprintf(top, sizeof top, "%.*s", (int)made, path);
        if (made < strlen(path))
            cli_stop_line_set(&stop_line, "interrupted: no list written; %s, which this run made, is removed, and so "
                              "are the directories above it that it made, up to %s", path, top);
        else cli_stop_line_set(&stop_line, "interrupted: no list written; %s, which this run made, is removed", path);
        cli_stop_line_set(&made_dir_only_line, "interrupted: no list written; %s, which this run made, is removed",
                          path);
        cli_stop_line_set(&made_left_line, "interrupted: no list written; %s, which this run made, is left: it is "
                          "not empty (another process wrote into it?)", path);
        memcpy(made_path, path, strlen(path) + 1);
        made_len = made;
    } else if (rc == 0) {
        stop_line_no_list(dir, 1);
    }
    if (rc != 0) die_made(&err);
    cli_release_stop_signals(&was);
}

/* Once the lists are in place (signals held): a stop says so, and DIR stays. */
static void stop_line_written(const char *dir)
{
    made_len = 0;
    cli_stop_line_set(&stop_line, "interrupted: %s holds this split's lists, written in full", dir);
}

static void __attribute__((noreturn)) die_cleanup(sg_err *err)
{
    remove_pending();
    die_made(err);
}

static void stage_file(const char *dir, const char *name, const sg_attr_table *t, const size_t *rows, size_t n)
{
    pending_file *p = &pending[n_pending];
    sg_err err;
    /* A cut name would write (and rename to) some other file. */
    if (snprintf(p->path, sizeof p->path, "%s/%s", dir, name) >= (int)sizeof p->path ||
        snprintf(p->tmp, sizeof p->tmp, "%s/.%s.tmp.%ld", dir, name, (long)getpid()) >= (int)sizeof p->tmp ||
        snprintf(p->old, sizeof p->old, "%s/.%s.tmp.%ld.old", dir, name, (long)getpid()) >= (int)sizeof p->old) {
        sg_errf(&err, "%s: path too long (over %d bytes) in the output directory %s", name, PATH_MAX - 1, dir);
        die_cleanup(&err);
    }
    for (int i = 0; i < n_pending; i++)
        if (!strcmp(pending[i].path, p->path)) {   /* e.g. groups "x" and "x_train" with --split */
            sg_errf(&err, "%s: two outputs of this name (rename a group)", p->path);
            die_cleanup(&err);
        }
    char *buf; size_t len;
    if (sg_attr_table_format(t, rows, n, &buf, &len, &err) != 0) { sg_err_prefix(&err, "%s", p->path); die_cleanup(&err); }
    /* Registered as it is created, so that a signal at any point removes it. */
    p->tmp_slot = -1;
    p->has_old = p->renamed = 0;
    n_pending++;
    int fd = sg_temp_create_tracked(p->tmp, &p->tmp_slot);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        free(buf);
        sg_errno(&err, "%s", p->tmp);
        if (fd >= 0) close(fd);
        die_cleanup(&err);
    }
    size_t w = fwrite(buf, 1, len, f);
    free(buf);
    if (w != len || fflush(f) != 0 || fsync(fileno(f)) != 0) { sg_errno(&err, "%s: write", p->tmp); fclose(f); die_cleanup(&err); }
    if (fclose(f) != 0) { sg_errno(&err, "%s: close", p->tmp); die_cleanup(&err); }
}

/* An error in commit_pending: the new files renamed so far are removed,
 * then the earlier ones put back (in that order: a kill in between leaves
 * what restore_dead_asides makes whole again, never a mix), the temporary
 * files removed, and err reported. */
static void __attribute__((noreturn)) die_uncommitted(sg_err *err)
{
    int ok = 1;
    for (int i = n_pending - 1; i >= 0; i--)
        if (pending[i].renamed && unlink(pending[i].path) != 0 && ok) {
            sg_err_suffix(err, "; removing the new %s failed too (%s)", pending[i].path, strerror(errno));
            ok = 0;
        }
    /* each one it can: those left aside, the next run puts back (none of the new files is in place) */
    for (int i = 0, failed = 0; i < n_pending && ok; i++)
        if (pending[i].has_old && rename(pending[i].old, pending[i].path) != 0 && !failed++)
            sg_err_suffix(err, "; putting the earlier %s back failed too (%s): the next celeb-split into this "
                          "directory puts it back", pending[i].path, strerror(errno));
    remove_pending();
    if (ok) die_made(err);   /* no new list left: a DIR this run made goes */
    cli_die_err(err);
}

static void commit_pending(const char *dir)
{
    sg_err err;
    /* Renames of several files cannot be one atomic step; refuse what would
     * make one fail half-way (a directory in the way) before renaming any. */
    for (int i = 0; i < n_pending; i++) {
        struct stat st;
        if (stat(pending[i].path, &st) == 0 && S_ISDIR(st.st_mode)) {
            sg_errf(&err, "%s: is a directory", pending[i].path);
            die_cleanup(&err);
        }
    }
    /* SIGINT, SIGTERM and SIGHUP wait until every file is in place: their
     * handler would remove the temporary files not yet renamed, leaving the
     * new files beside the earlier run's. SIGKILL cannot wait: the earlier
     * outputs go aside first, then the new ones are renamed, those that have
     * an earlier one first, and the earlier ones are removed last. What a
     * kill leaves, the next run's restore_dead_asides puts back whole (no new
     * file in place yet) or removes (some are): never a train list of one
     * split beside a test list of another. */
    sigset_t was;
    cli_hold_stop_signals(&was);
    for (int i = 0; i < n_pending; i++) {
        if (rename(pending[i].path, pending[i].old) == 0) pending[i].has_old = 1;
        else if (errno != ENOENT) {
            sg_errno(&err, "%s: rename", pending[i].path);
            die_uncommitted(&err);
        }
    }
    for (int pass = 1; pass >= 0; pass--)
        for (int i = 0; i < n_pending; i++) {
            if (pending[i].has_old != pass) continue;
            if (rename(pending[i].tmp, pending[i].path) != 0) {
                sg_errno(&err, "%s: rename", pending[i].path);
                die_uncommitted(&err);
            }
            pending[i].renamed = 1;
        }
    for (int i = 0; i < n_pending; i++)
        if (pending[i].has_old) unlink(pending[i].old);   /* one left is the next run's to remove */
    remove_pending();   /* all renamed: nothing to remove */
    char lists[PATH_MAX + 16];
    snprintf(lists, sizeof lists, "the lists in %s", dir);
    /* in place: a failed fsync is cli's warning (lib/fileio.h), exit 0 */
    if (sg_fsync_dir_after(lists, dir, &err) != 0) cli_die_err(&err);
    stop_line_written(dir);
    cli_release_stop_signals(&was);
}

/* The earlier outputs that a run killed in commit_pending left aside in dir
 * (".NAME.tmp.PID.old" of a process that no longer runs): put back, all of that
 * run's, when none of its new files is in place (no NAME of them exists), else
 * removed (the new files stand, some perhaps missing); a killed run's number
 * may be this one's (numbers are reused). Without the directory's
 * lock (NFS) only those aside for SG_DEAD_TEMP_AGE_S, as for temporary files:
 * a writer on another machine looks dead here. */
static void restore_dead_asides(const char *dir, int locked)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct aside { char name[NAME_MAX + 1], final[NAME_MAX + 1]; long pid; int young, done; } *a = NULL;
    size_t n = 0, cap = 0;
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *nm = e->d_name, *old = NULL;   /* the last ".txt.tmp.": a group's name may hold one */
        for (const char *q = strstr(nm, ".txt.tmp."); q; q = strstr(q + 1, ".txt.tmp.")) old = q;
        if (strncmp(nm, ".attr_", 6) || !old || old[9] < '1' || old[9] > '9') continue;
        char *end;
        errno = 0;
        long pid = strtol(old + 9, &end, 10);
        struct stat st;
        /* this process's number is a dead run's under the lock (nothing is aside
         * yet: this runs first), perhaps a live writer's elsewhere without it */
        if (strcmp(end, ".old") || errno || !(pid == (long)getpid() ? locked : sg_pid_gone(pid)) ||
            fstatat(dirfd(d), nm, &st, AT_SYMLINK_NOFOLLOW) != 0 || !(S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)))
            continue;
        if (n == cap) {
            struct aside *more = realloc(a, (cap = cap ? 2 * cap : 16) * sizeof *a);
            if (!more) break;
            a = more;
        }
        snprintf(a[n].name, sizeof a[n].name, "%s", nm);
        snprintf(a[n].final, sizeof a[n].final, "%.*s", (int)(old + 4 - nm - 1), nm + 1);   /* attr_X.txt */
        a[n].pid = pid;
        a[n].young = st.st_ctime >= now - SG_DEAD_TEMP_AGE_S;   /* the rename aside set its ctime */
        a[n].done = 0;
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        if (a[i].done) continue;
        int in_place = 0, young = 0;
        for (size_t k = i; k < n; k++) {
            struct stat st;
            if (a[k].pid != a[i].pid) continue;
            young |= a[k].young;
            in_place |= fstatat(dirfd(d), a[k].final, &st, AT_SYMLINK_NOFOLLOW) == 0;
        }
        for (size_t k = i; k < n; k++) {
            if (a[k].pid != a[i].pid) continue;
            a[k].done = 1;
            if (!locked && young) continue;
            /* best effort, as for temporary files */
            if (in_place) unlinkat(dirfd(d), a[k].name, 0);
            else renameat(dirfd(d), a[k].name, dirfd(d), a[k].final);
        }
    }
    free(a);
    closedir(d);
}

static int find_group(const group *g, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(g[i].name, name)) return i;
    return -1;
}

/* The command line. groups[] is filled in by the phases below: each group's
 * attribute indices, then its rows, then its training and test rows. */
typedef struct {
    group groups[MAX_GROUPS];
    int n_groups;
    int priority_g, rest_g;     /* group indices; -1: none, drop */
    int split, val_to;          /* val_to: -1 drop, 0 train, 2 test */
    const char *reference_only, *partition_only;   /* the last option given that only that split uses */
    int json;
    long test_count;
    uint64_t seed;
    const char *in_path, *out_dir, *partition_path;
} options;

/* --group NAME=A,B,...: a new group with NAME and its spec (resolved once
 * the attribute file is read). */
static void add_group(options *o, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1])
        cli_usage_error("--group: expected NAME=ATTR[,ATTR]..., got '%s'", sg_quote_str(arg).s);
    if (o->n_groups == MAX_GROUPS) cli_usage_error("--group: at most %d groups", MAX_GROUPS);
    size_t l = (size_t)(eq - arg);
    if (l >= sizeof o->groups[0].name) cli_usage_error("--group: name too long in '%s'", sg_quote_str(arg).s);
    group *g = &o->groups[o->n_groups];
    memcpy(g->name, arg, l);
    g->name[l] = 0;
    for (const char *s = g->name; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
            cli_usage_error("--group: name '%s' may hold only letters, digits, '_', '-', '.'", sg_quote_str(g->name).s);
    /* '/' is refused above; dots alone make lists named attr_..txt, attr_...txt */
    if (strspn(g->name, ".") == l)
        cli_usage_error("--group: name '%s' is dots alone: give one with a letter or digit", g->name);
    if (!strcmp(g->name, "drop")) cli_usage_error("--group: 'drop' is reserved (it is a --rest value)");
    if (find_group(o->groups, o->n_groups, g->name) >= 0) cli_usage_error("--group: group %s given twice", g->name);
    g->spec = eq + 1;
    o->n_groups++;
}

/* The checks that need every option: what is missing, the groups that
 * --priority and --rest name, and what --split needs. */
static void check_options(options *o, const char *priority, const char *rest)
{
    if (!o->n_groups) cli_usage_error("no --group given");
    if (!o->out_dir) cli_usage_error("no output directory (-o DIR)");
    cli_refuse_empty_path("-o/--output", o->out_dir);
    cli_refuse_stdout_dir(o->out_dir, "the groups' lists go to a directory, not to standard output");
    cli_refuse_empty_path("--partition", o->partition_path);
    cli_refuse_empty_path("ATTR_FILE", o->in_path);
    if (priority && (o->priority_g = find_group(o->groups, o->n_groups, priority)) < 0)
        cli_usage_error("--priority: no group named %s", sg_quote_str(priority).s);
    if (strcmp(rest, "drop") && (o->rest_g = find_group(o->groups, o->n_groups, rest)) < 0)
        cli_usage_error("--rest: no group named %s (or 'drop')", sg_quote_str(rest).s);
    if (o->split == SPLIT_PARTITION && !o->partition_path) cli_usage_error("--split partition needs --partition FILE");
    if (o->split != SPLIT_PARTITION && o->partition_path) cli_usage_error("--partition is only for --split partition");
    /* taken silently, they would write no _train/_test lists (or other ones) with exit 0 */
    if (o->split != SPLIT_PARTITION && o->partition_only) cli_usage_error("%s is only for --split partition", o->partition_only);
    if (o->split != SPLIT_REFERENCE && o->reference_only) cli_usage_error("%s is only for --split reference", o->reference_only);
    if (o->split != SPLIT_NONE)   /* "x" with --split writes attr_x_train.txt, as group "x_train" would */
        for (int i = 0; i < o->n_groups; i++)
            for (int j = 0; j < o->n_groups; j++) {
                const char *name_i = o->groups[i].name, *name_j = o->groups[j].name;
                size_t l = strlen(name_j);
                if (i != j && !strncmp(name_i, name_j, l) && (!strcmp(name_i + l, "_train") || !strcmp(name_i + l, "_test")))
                    cli_usage_error("--group: groups %s and %s would both write attr_%s.txt", name_j, name_i, name_i);
            }
}

static void parse_args(int argc, char **argv, options *o)
{
    static const struct option opts[] = {
        {"group", required_argument, 0, 'g'}, {"priority", required_argument, 0, 'p'},
        {"rest", required_argument, 0, 'r'}, {"output", required_argument, 0, 'o'},
        {"split", required_argument, 0, 's'}, {"partition", required_argument, 0, 'P'},
        {"val-to", required_argument, 0, 'V'}, {"test-count", required_argument, 0, 'T'},
        {"seed", required_argument, 0, 'S'}, {"json", no_argument, 0, 'j'},
        {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'v'}, {0, 0, 0, 0},
    };
    o->split = SPLIT_NONE;
    o->val_to = -1;
    o->priority_g = o->rest_g = -1;
    o->test_count = 1999;
    o->seed = 1234;
    const char *priority = NULL, *rest = "drop";
    int c;
    while ((c = cli_getopt(argc, argv, "g:p:r:o:s:qh", opts)) != -1) {
        switch (c) {
        case 'g': add_group(o, optarg); break;
        case 'p': priority = optarg; break;
        case 'r': rest = optarg; break;
        case 'o': o->out_dir = optarg; break;
        case 's':
            if (!strcmp(optarg, "none")) o->split = SPLIT_NONE;
            else if (!strcmp(optarg, "reference")) o->split = SPLIT_REFERENCE;
            else if (!strcmp(optarg, "partition")) o->split = SPLIT_PARTITION;
            else if (!strncmp(optarg, "partition=", 10) && optarg[10]) { o->split = SPLIT_PARTITION; o->partition_path = optarg + 10; }
            else cli_usage_error("--split: expected none, reference or partition[=FILE], got '%s'", sg_quote_str(optarg).s);
            break;
        case 'P': o->partition_path = optarg; break;
        case 'V':
            if (!strcmp(optarg, "train")) o->val_to = 0;
            else if (!strcmp(optarg, "test")) o->val_to = 2;
            else if (!strcmp(optarg, "drop")) o->val_to = -1;
            else cli_usage_error("--val-to: expected train, test or drop, got '%s'", sg_quote_str(optarg).s);
            o->partition_only = "--val-to";
            break;
        case 'T': o->test_count = cli_parse_long("--test-count", optarg, 0, LONG_MAX); o->reference_only = "--test-count"; break;
        case 'S': o->seed = cli_parse_u64("--seed", optarg, UINT64_MAX); o->reference_only = "--seed"; break;
        case 'j': o->json = 1; break;
        case 'q': cli_quiet = 1; break;
        case 'h': usage(); cli_finish_stdout(); exit(0);
        case 'v': cli_version();
        default: cli_try_help();   /* an option without a case above */
        }
    }
    if (optind != argc - 1) cli_usage_error(optind == argc ? "missing ATTR_FILE" : "expected one ATTR_FILE");
    o->in_path = argv[optind];
    check_options(o, priority, rest);
}

/* Reads the attribute file into t, resolves each group's attributes and
 * makes room for its rows; returns the partition file's per-row partitions
 * with --split partition, else NULL. */
static int8_t *read_inputs(options *o, sg_attr_table *t)
{
    sg_err err;
    if (sg_attr_table_read(o->in_path, t, &err) != 0) cli_die_err(&err);
    for (int gi = 0; gi < o->n_groups; gi++) {
        group *g = &o->groups[gi];
        if (sg_attr_table_select(t, g->spec, g->attrs, MAX_GROUP_ATTRS, &g->n_attrs, &err) != 0) {
            sg_err_prefix(&err, "--group %s (%s)", g->name, o->in_path);
            cli_die_err(&err);
        }
        g->rows = malloc((t->n_rows + 1) * sizeof *g->rows);
        g->train = malloc((t->n_rows + 1) * sizeof *g->train);
        g->test = malloc((t->n_rows + 1) * sizeof *g->test);
        if (!g->rows || !g->train || !g->test) cli_die("out of memory");
    }
    int8_t *part = NULL;
    if (o->split == SPLIT_PARTITION && !(part = sg_partition_read(o->partition_path, t, &err))) cli_die_err(&err);
    return part;
}

/* Puts each row of t into its group's rows (the rule in usage()); returns
 * how many rows went to none. */
static size_t assign_rows(options *o, const sg_attr_table *t)
{
    size_t dropped = 0;
    for (size_t r = 0; r < t->n_rows; r++) {
        int dest = -1;
        for (int k = -1; k < o->n_groups && dest < 0; k++) {
            int gi = k < 0 ? o->priority_g : k;
            if (gi < 0) continue;
            for (int a = 0; a < o->groups[gi].n_attrs; a++)
                if (sg_attr_value(t, r, o->groups[gi].attrs[a]) > 0) { dest = gi; break; }
        }
        if (dest < 0) dest = o->rest_g;
        if (dest < 0) { dropped++; continue; }
        o->groups[dest].rows[o->groups[dest].n_rows++] = r;
        if ((r & 0xffff) == 0) cli_progress("%zu/%zu rows", r, t->n_rows);
    }
    cli_progress_unthrottle();   /* ends on N/N */
    cli_progress("%zu/%zu rows", t->n_rows, t->n_rows);
    cli_progress_end();
    return dropped;
}

/* With --split, divides each group's rows into its training and test rows;
 * returns how many validation rows --val-to drop dropped. */
static size_t split_train_test(options *o, const int8_t *part)
{
    size_t val_dropped = 0;
    for (int gi = 0; gi < o->n_groups; gi++) {
        group *g = &o->groups[gi];
        if (o->split == SPLIT_REFERENCE) {
            /* The reference shuffles the data lines of the group's attribute file
             * (written in file order) and takes lines i with i+1 < 2000 as test;
             * both parts keep the shuffled order, as the reference's lists do. */
            if (g->n_rows > UINT32_MAX) cli_die("%s: too many rows for --split reference", g->name);
            size_t *perm = malloc((g->n_rows + 1) * sizeof *perm);
            if (!perm) cli_die("out of memory");
            for (size_t i = 0; i < g->n_rows; i++) perm[i] = i;
            sg_mt19937 m;
            sg_mt_seed_python(&m, o->seed);
            sg_mt_shuffle_python(&m, perm, g->n_rows);
            for (size_t i = 0; i < g->n_rows; i++) {
                size_t r = g->rows[perm[i]];
                if (i < (size_t)o->test_count) g->test[g->n_test++] = r;
                else g->train[g->n_train++] = r;
            }
            free(perm);
        } else if (o->split == SPLIT_PARTITION) {
            for (size_t i = 0; i < g->n_rows; i++) {
                size_t r = g->rows[i];
                int p = part[r] == 1 ? o->val_to : part[r];
                if (p == 0) g->train[g->n_train++] = r;
                else if (p == 2) g->test[g->n_test++] = r;
                else val_dropped++;
            }
        }
    }
    return val_dropped;
}

/* An empty training list is written (the split is what was asked), but
 * celeb-pack refuses it later: say so now, with the likely cause. */
static void warn_empty_training_lists(const options *o)
{
    for (int gi = 0; gi < o->n_groups && o->split != SPLIT_NONE; gi++) {
        const group *g = &o->groups[gi];
        if (g->n_train > 0 || g->n_rows == 0) continue;
        if (o->split == SPLIT_REFERENCE)
            cli_warn("group %s: %s %zu row%s went to test (--test-count %ld): its training list is empty; "
                     "give a smaller --test-count", sg_quote_str(g->name).s, g->n_rows == 1 ? "its" : "all",
                     g->n_rows, g->n_rows == 1 ? "" : "s", o->test_count);
        else
            cli_warn("group %s: %s %zu row%s in the partition file's training part (0): its training list is "
                     "empty; give %s--partition file that puts rows of it in 0", sg_quote_str(g->name).s,
                     g->n_rows == 1 ? "its" : "none of its", g->n_rows, g->n_rows == 1 ? " is not" : "s is",
                     o->val_to == 0 ? "another " : "--val-to train (its validation rows, 1), or another ");
    }
}

static int same_file(const char *path, const struct stat *st)
{
    struct stat other;
    return path && stat(path, &other) == 0 && other.st_dev == st->st_dev && other.st_ino == st->st_ino;
}

/* An earlier split's lists that this run did not replace (its other groups'
 * attr_B.txt, its attr_A_train.txt beside --split none's attr_A.txt) stay in
 * DIR, where a later celeb-pack or a glob would take them for this split's:
 * named in one warning, never removed (the file names are not proof that
 * they are celeb-split's). Names as celeb-split writes them: attr_GROUP.txt,
 * GROUP of its letters (attr_A_train.txt is one too). */
static void warn_earlier_lists(const options *o, const char *const *written, int n_written)
{
    DIR *d = opendir(o->out_dir);
    if (!d) return;
    char **stale = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *nm = e->d_name;
        size_t len = strlen(nm);
        if (len <= 9 || strncmp(nm, "attr_", 5) || strcmp(nm + len - 4, ".txt")) continue;
        if (strspn(nm + 5, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.") < len - 9) continue;
        int ours = 0;
        for (int k = 0; k < n_written && !ours; k++) ours = !strcmp(written[k], nm);
        char path[PATH_MAX];
        struct stat st;
        if (ours || snprintf(path, sizeof path, "%s/%s", o->out_dir, nm) >= (int)sizeof path ||
            stat(path, &st) != 0 || !S_ISREG(st.st_mode) || same_file(o->in_path, &st) ||
            same_file(o->partition_path, &st))
            continue;
        if (n == cap) {
            char **more = realloc(stale, (cap = cap ? 2 * cap : 16) * sizeof *stale);
            if (!more) break;
            stale = more;
        }
        if (!(stale[n] = strdup(nm))) break;
        n++;
    }
    closedir(d);
    if (n) {
        qsort(stale, n, sizeof *stale, cli_compare_strings);
        sg_buf list = SG_BUF_INIT;
        for (size_t k = 0; k < n && k < 8; k++) sg_buf_appendf(&list, "%s%s", k ? ", " : "", stale[k]);
        if (n > 8) sg_buf_appendf(&list, " and %zu more", n - 8);
        cli_warn("%s also holds %s, not written by this run: lists of an earlier split, or your files; remove "
                 "them, or split into an empty -o DIR, so that nothing takes them for this split's",
                 o->out_dir, list.failed || !list.data ? "lists" : list.data);
        sg_buf_free(&list);
    }
    for (size_t k = 0; k < n; k++) free(stale[k]);
    free(stale);
}

/* Writes per group attr_NAME.txt, and with --split its training and test
 * lists, all or none (stage_file, commit_pending). */
static void write_outputs(const options *o, const sg_attr_table *t)
{
    struct { char name[128]; const size_t *rows; size_t n; } outs[3 * MAX_GROUPS];
    int n_outs = 0;
    for (int gi = 0; gi < o->n_groups; gi++) {
        const group *g = &o->groups[gi];
        snprintf(outs[n_outs].name, sizeof outs[0].name, "attr_%s.txt", g->name);
        outs[n_outs].rows = g->rows; outs[n_outs++].n = g->n_rows;
        if (o->split == SPLIT_NONE) continue;
        snprintf(outs[n_outs].name, sizeof outs[0].name, "attr_%s_train.txt", g->name);
        outs[n_outs].rows = g->train; outs[n_outs++].n = g->n_train;
        snprintf(outs[n_outs].name, sizeof outs[0].name, "attr_%s_test.txt", g->name);
        outs[n_outs].rows = g->test; outs[n_outs++].n = g->n_test;
    }
    /* Read whole already, an input is still replaced by the rename: refuse
     * before anything is written (-o sp sp/attr_a.txt, group a). */
    for (int k = 0; k < n_outs; k++) {
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", o->out_dir, outs[k].name) >= (int)sizeof path) continue;   /* stage_file says so */
        cli_refuse_output_is_input(path, "attribute file", o->in_path, "choose another -o DIR");
        cli_refuse_output_is_input(path, "--partition file", o->partition_path, "choose another -o DIR");
        /* nor into a shard's directory or a run's ckpt/ (as -o of the readers) */
        cli_refuse_output_over_data(path, "choose another -o DIR");
    }
    cli_note_output(o->out_dir);   /* for the advice on ENOSPC */
    make_out_dir(o->out_dir);
    if (access(o->out_dir, W_OK) != 0) {
        sg_err err;
        sg_errno(&err, "%s", o->out_dir);
        die_made(&err);
    }
    /* held to the end: two runs at once would each rename their lists over the other's */
    int locked = cli_lock_output_dir(o->out_dir, "celeb-split", "two runs at once would leave a mix of their lists");
    restore_dead_asides(o->out_dir, locked);   /* before the temporaries: a killed run's, as it left them */
    sg_remove_dead_temps_in(o->out_dir, ".", ".txt");   /* stage_file's, left by a killed run */
    for (int k = 0; k < n_outs; k++) stage_file(o->out_dir, outs[k].name, t, outs[k].rows, outs[k].n);
    commit_pending(o->out_dir);
    const char *written[3 * MAX_GROUPS];
    for (int k = 0; k < n_outs; k++) written[k] = outs[k].name;
    warn_earlier_lists(o, written, n_outs);
}

/* How many of group g's rows have attribute a (an index into g->attrs). */
static size_t count_positive(const sg_attr_table *t, const group *g, int a)
{
    size_t pos = 0;
    for (size_t i = 0; i < g->n_rows; i++) pos += sg_attr_value(t, g->rows[i], g->attrs[a]) > 0;
    return pos;
}

static void print_stats_json(const options *o, const sg_attr_table *t, size_t dropped, size_t val_dropped)
{
    printf("{\"input\": ");
    json_write_string(stdout, o->in_path);
    printf(", \"rows\": %zu, \"dropped\": %zu, \"split\": \"%s\"", t->n_rows, dropped,
           o->split == SPLIT_NONE ? "none" : o->split == SPLIT_REFERENCE ? "reference" : "partition");
    if (o->split == SPLIT_PARTITION) printf(", \"validation_dropped\": %zu", val_dropped);
    printf(", \"groups\": [");
    for (int gi = 0; gi < o->n_groups; gi++) {
        const group *g = &o->groups[gi];
        printf("%s{\"name\": ", gi ? ", " : "");
        json_write_string(stdout, g->name);
        printf(", \"rows\": %zu", g->n_rows);
        if (o->split != SPLIT_NONE) printf(", \"train\": %zu, \"test\": %zu", g->n_train, g->n_test);
        printf(", \"attributes\": [");
        for (int a = 0; a < g->n_attrs; a++) {
            size_t pos = count_positive(t, g, a);
            printf("%s{\"name\": ", a ? ", " : "");
            json_write_string(stdout, t->attr_names[g->attrs[a]]);
            printf(", \"positive\": %zu, \"negative\": %zu}", pos, g->n_rows - pos);
        }
        printf("]}");
    }
    printf("]}\n");
}

static void print_stats_table(const options *o, const sg_attr_table *t, size_t dropped, size_t val_dropped)
{
    printf("%-16s %8s", "group", "rows");
    if (o->split != SPLIT_NONE) printf(" %8s %8s", "train", "test");
    printf("\n");
    for (int gi = 0; gi < o->n_groups; gi++) {
        const group *g = &o->groups[gi];
        printf("%-16s %8zu", g->name, g->n_rows);
        if (o->split != SPLIT_NONE) printf(" %8zu %8zu", g->n_train, g->n_test);
        printf("\n");
    }
    printf("%-16s %8zu\n", "(dropped)", dropped);
    if (o->split == SPLIT_PARTITION && val_dropped) printf("%-16s %8zu\n", "(validation)", val_dropped);
    printf("\n%-16s %-20s %8s %8s\n", "group", "attribute", "positive", "negative");
    /* Attribute names come from the file: escaped (lib/text_escape.h),
     * so that none drives the terminal. */
    int utf8 = sg_locale_utf8();
    sg_buf shown = SG_BUF_INIT;
    for (int gi = 0; gi < o->n_groups; gi++) {
        const group *g = &o->groups[gi];
        for (int a = 0; a < g->n_attrs; a++) {
            size_t pos = count_positive(t, g, a);
            const char *name = t->attr_names[g->attrs[a]];
            sg_buf_clear(&shown);
            sg_buf_put_escaped_cell(&shown, name, strlen(name), utf8, 20);
            if (shown.failed) cli_die("out of memory");
            printf("%-16s %s %8zu %8zu\n", g->name, shown.data, pos, g->n_rows - pos);
        }
    }
    sg_buf_free(&shown);
}

int main(int argc, char **argv)
{
    cli_init(argv);
    setlocale(LC_CTYPE, "");
    static options o;   /* static: groups[] is large */
    parse_args(argc, argv, &o);
    struct stat st;
    stop_line_no_list(o.out_dir, stat(o.out_dir, &st) == 0);
    cli_catch_stop_signals_not_ignored(on_stop_signal);
    sg_attr_table t;
    int8_t *part = read_inputs(&o, &t);
    size_t dropped = assign_rows(&o, &t);
    size_t val_dropped = split_train_test(&o, part);
    warn_empty_training_lists(&o);
    write_outputs(&o, &t);
    if (o.json) print_stats_json(&o, &t, dropped, val_dropped);
    else print_stats_table(&o, &t, dropped, val_dropped);
    cli_finish_stdout();
    for (int gi = 0; gi < o.n_groups; gi++) { free(o.groups[gi].rows); free(o.groups[gi].train); free(o.groups[gi].test); }
    free(part);
    sg_attr_table_free(&t);
    return 0;
}
