/* celeb-pack: decodes images, center-crops and resizes them exactly as the
 * reference's torchvision CenterCrop + Resize on PIL images, and writes an LMDB
 * shard (stargan-shard(5)) with pixels, labels and metadata. Sources: a CelebA
 * attribute list + image directory, or one class per subfolder. See celeb-pack(1).
 *
 * Threads: N workers decode and preprocess; the main thread writes records in
 * input order. A worker may only start item i while i < next_write + window
 * (window = 4 per thread), so memory stays bounded whatever the dataset size. */
#include "celeba_attrs.h"
#include "cli.h"
#include "fileio.h"
#include "image.h"
#include "image_folders.h"
#include "shard.h"
#include "strbuf.h"
#include "text_escape.h"
#include "thread.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void usage(void)
{
    printf("Usage: %s --attrs FILE --images DIR [OPTION]... -o OUT\n"
           "  or:  %s --folders DIR [OPTION]... -o OUT\n"
           "Decode images (JPEG, PNG), center-crop and resize them exactly as the StarGAN\n"
           "reference does (torchvision CenterCrop + Resize on PIL images), and write an\n"
           "LMDB shard OUT holding pixels, labels and metadata (see stargan-shard(5)).\n"
           "\n"
           "  -a, --attrs FILE        CelebA attribute list (list_attr_celeba.txt, or\n"
           "                          Kaggle's .csv)\n"
           "  -i, --images DIR        directory holding the files the list names\n"
           "  -s, --select A,B,...    attributes to keep, in label order (default: all)\n"
           "  -F, --folders DIR       one class per subfolder (sorted by name), one-hot\n"
           "                          labels; .jpg/.jpeg/.png files in each, sorted by name\n"
           "  -c, --crop N            center-crop side, 1..16384 (default 178 with --attrs,\n"
           "                          256 with --folders); larger than the image pads with\n"
           "                          black, as torchvision does\n"
           "  -S, --size N            output side, 1..4096 (default 128)\n"
           "  -o, --output OUT        the shard to write (a directory)\n"
           "  -e, --encoding ENC      raw (default) or png\n"
           "  -n, --limit N           pack only the first N images (with --folders: in\n"
           "                          class order, not some of each class)\n"
           "  -j, --threads N         decoding threads, 0..1024 (0, the default: the CPUs\n"
           "                          this process may use; 1: decode in the main thread)\n"
           "      --strict            a missing or unreadable image is an error\n"
           "                          (default: skip it)\n"
           "  -f, --force             replace OUT if it is a shard (only once the new shard\n"
           "                          is complete); anything else at OUT is never replaced\n"
           "  -q, --quiet             no progress line, no summary\n"
           "  -h, --help              this help\n"
           "      --version           version\n"
           "\n"
           "Examples:\n"
           "  %s --attrs list_attr_celeba.txt --images img_align_celeba \\\n"
           "     --select Bangs,Black_Hair,Blond_Hair,Brown_Hair,Gray_Hair -o celebA.lmdb\n",
           cli_name, cli_name, cli_name);
}

/* ---- the list of inputs ---- */

typedef struct {
    char *path;          /* file to read */
    char *name;          /* stored name: the file name (attrs) or CLASS/FILE (folders) */
    uint8_t *labels;     /* (n_labels) 0/1, points into the labels block */
} item;

typedef struct {
    item *items;
    size_t n;
    /* --folders: files in a class folder not packed: in folders below it
     * (ImageFolder recurses) or of another extension (ImageFolder takes more;
     * these count every other file); hidden ones are not counted */
    size_t ignored_nested, ignored_other;
    int cut;             /* --limit left rows of the attribute list out */
    /* --folders: the images listed in each class, and the images each class
     * folder holds (those reached before --limit; 0 for those after) */
    size_t listed[SG_SHARD_MAX_LABELS], in_folder[SG_SHARD_MAX_LABELS];
    size_t reached;      /* the class folders listed before --limit was reached */
    uint8_t *labels;     /* (n, n_labels) */
    int n_labels;
    char **label_names;
} input_list;

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d) cli_die("out of memory");
    return d;
}

static int printable_ascii(const char *s)
{
    while (*s && (unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f) s++;
    return !*s;
}

/* The item's path for a message. The name part is a token of the attribute
 * file or a directory entry: shown as it is when it is printable ASCII (a long
 * name stays whole, to find the file by), else quoted escaped and cut
 * (lib/error.h) after the directory as given, so that no byte of it reaches the
 * terminal raw. path ends with name (path_join). */
static const char *path_shown(const char *path, const char *name, char *buf, size_t n)
{
    if (printable_ascii(name)) return path;
    size_t name_len = strlen(name);
    snprintf(buf, n, "%.*s%s", (int)(strlen(path) - name_len), path, sg_quote_bytes(name, name_len).s);
    return buf;
}

static const char *item_shown(const item *it, char *buf, size_t n) { return path_shown(it->path, it->name, buf, n); }

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (!p) cli_die("out of memory");
    snprintf(p, n, "%s%s%s", dir, (*dir && dir[strlen(dir) - 1] == '/') ? "" : "/", name);
    return p;
}

/* dir, given with option opt, is a directory to read; else dies naming both. */
static void require_dir(const char *opt, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0) cli_die("%s %s:", opt, dir);
    if (!S_ISDIR(st.st_mode)) cli_die("%s %s: not a directory", opt, dir);
    if (access(dir, R_OK | X_OK) != 0) cli_die("%s %s:", opt, dir);
}

static void list_from_attrs(input_list *L, const char *attrs, const char *images, const char *select, size_t limit)
{
    sg_attr_table t;
    sg_err err;
    require_dir("--images", images);
    if (sg_attr_table_read(attrs, &t, &err)) cli_die_err(&err);
    int idx[SG_SHARD_MAX_LABELS], n = 0;
    if (select) {
        if (sg_attr_table_select(&t, select, idx, SG_SHARD_MAX_LABELS, &n, &err)) {
            sg_attr_table_free(&t);
            cli_die("--select: %s", err.msg);
        }
    } else {
        if (t.n_attrs > SG_SHARD_MAX_LABELS)
            cli_die("%s: %d attributes; choose at most %d with --select", attrs, t.n_attrs, SG_SHARD_MAX_LABELS);
        n = t.n_attrs;
        for (int j = 0; j < n; j++) idx[j] = j;
    }
    if (n < 1) cli_die("%s: no attributes selected", attrs);
    L->cut = limit && limit < t.n_rows;
    L->n = L->cut ? limit : t.n_rows;
    L->n_labels = n;
    L->label_names = calloc((size_t)n, sizeof *L->label_names);
    L->items = calloc(L->n ? L->n : 1, sizeof *L->items);
    L->labels = malloc(L->n * n + 1);
    if (!L->label_names || !L->items || !L->labels) cli_die("out of memory");
    for (int j = 0; j < n; j++) L->label_names[j] = xstrdup(t.attr_names[idx[j]]);
    for (size_t i = 0; i < L->n; i++) {
        item *it = &L->items[i];
        it->path = path_join(images, t.file_names[i]);
        it->name = xstrdup(t.file_names[i]);
        it->labels = L->labels + i * n;
        for (int j = 0; j < n; j++) it->labels[j] = sg_attr_value(&t, i, idx[j]) == 1;
    }
    sg_attr_table_free(&t);
}

/* One class folder: no tool takes its shard (sg-train needs 2 classes to
 * translate between; sg-sample takes only the shard of a dataset it was
 * trained on, and no model has a one-hot dataset of one class). Refused
 * before anything is decoded; where the class folder holds folders of its
 * own, --folders was probably given one level too high. */
static void die_one_class(const char *root, const char *cls)
{
    char *cdir = path_join(root, cls);
    sg_dir_listing sub;
    sg_err err;
    size_t n_sub = 0;
    if (sg_list_folders(cdir, &sub, &err) == 0) {
        n_sub = sub.listed.n;
        sg_dir_listing_free(&sub);
    } else if (err.sys_errno == ENOMEM) cli_die_err(&err);
    if (n_sub >= 2 && printable_ascii(cls))
        cli_die("%s: one class folder only (%s), and a one-hot shard needs at least 2 classes (sg-train translates "
                "between them); %s holds %zu folders of its own: if they are the classes, give --folders %s", root,
                cls, cdir, n_sub, cli_shell_word(cdir));
    cli_die("%s: one class folder only (%s): a shard of one class is of no use to sg-train, which needs at least 2 "
            "classes to translate between, nor to sg-sample, which takes only the shard of a dataset it was trained "
            "on; put each class's images in a folder of its own under %s, two or more (%s/CLASS/IMAGE.jpg)",
            root, sg_quote_str(cls).s, root, root);
}

static void list_from_folders(input_list *L, const char *root, size_t limit)
{
    require_dir("--folders", root);
    sg_dir_listing class_list, files;
    sg_err err;
    if (sg_list_folders(root, &class_list, &err)) cli_die_err(&err);
    size_t n_classes = class_list.listed.n;
    char **classes = class_list.listed.names;   /* taken over: freed with the label names */
    if (n_classes == 0) cli_die("%s: no class subfolders", root);
    if (n_classes > SG_SHARD_MAX_LABELS) cli_die("%s: %zu classes (at most %d)", root, n_classes, SG_SHARD_MAX_LABELS);
    if (n_classes == 1) die_one_class(root, classes[0]);
    L->n_labels = (int)n_classes;
    L->label_names = classes;
    size_t cap = 0;
    for (size_t c = 0; c < n_classes && !(limit && L->n >= limit); c++) {
        char *cdir = path_join(root, classes[c]);
        if (sg_list_images(cdir, &files, &err)) cli_die_err(&err);
        L->ignored_nested += files.n_nested;
        L->ignored_other += files.n_other;
        L->reached = c + 1;
        L->in_folder[c] = files.listed.n;
        if (files.listed.n == 0) {
            char shown[PATH_MAX];
            cli_warn("%s: no .jpg/.jpeg/.png files in class folder", path_shown(cdir, classes[c], shown, sizeof shown));
        }
        for (size_t f = 0; f < files.listed.n && !(limit && L->n >= limit); f++) {
            if (L->n == cap) {
                cap = cap ? cap * 2 : 256;
                L->items = realloc(L->items, cap * sizeof *L->items);
                if (!L->items) cli_die("out of memory");
            }
            const char *file = files.listed.names[f];
            item *it = &L->items[L->n++];
            it->path = path_join(cdir, file);
            size_t nl = strlen(classes[c]) + strlen(file) + 2;
            it->name = malloc(nl);
            if (!it->name) cli_die("out of memory");
            snprintf(it->name, nl, "%s/%s", classes[c], file);
            it->labels = (uint8_t *)(uintptr_t)c;     /* class index for now */
            L->listed[c]++;
        }
        sg_dir_listing_free(&files);
        free(cdir);
    }
    L->labels = calloc(L->n * n_classes + 1, 1);
    if (!L->labels) cli_die("out of memory");
    for (size_t i = 0; i < L->n; i++) {
        size_t c = (size_t)(uintptr_t)L->items[i].labels;
        L->items[i].labels = L->labels + i * n_classes;
        L->items[i].labels[c] = 1;
    }
}

/* ---- every image missing: what the --images directory holds instead ---- */

/* Per-file messages for missing images: the first MISSING_SHOWN, then one line
 * with how many more (202,599 lines for a wrong directory otherwise). When the
 * first ALL_MISSING_ROWS rows are all missing, and so are LATER_PROBES rows
 * spread over the rest, the directory is the wrong one: stop, and say what it
 * holds instead. (A folder of only the later images, a partial unzip, is
 * right: its rows are packed.) */
#define MISSING_SHOWN 10
#define ALL_MISSING_ROWS 100
#define LATER_PROBES 16

/* 1 when any of LATER_PROBES rows spread over rows [from, n), the last
 * included, is a file. */
static int any_later_row_there(const input_list *L, size_t from)
{
    for (size_t k = 1; k <= LATER_PROBES && from < L->n; k++) {
        size_t r = from + (L->n - 1 - from) * k / LATER_PROBES;
        struct stat st;
        if (stat(L->items[r].path, &st) == 0 && S_ISREG(st.st_mode)) return 1;
    }
    return 0;
}

static int is_file_in(const char *dir, const char *sub, const char *name)
{
    char path[PATH_MAX];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/%s%s%s", dir, sub, *sub ? "/" : "", name) >= (int)sizeof path) return 0;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Why none of the first n rows of the list (attrs) is in images, into buf:
 * a folder of images holds them one level down (Kaggle's
 * img_align_celeba/img_align_celeba), or it holds NAME.png for NAME.jpg (the
 * img_align_celeba_png variant: the list's names are to be rewritten, which
 * celeb-pack does not do behind the user's back), or neither. */
static void all_missing_hint(char *buf, size_t len, const char *images, const char *attrs, const input_list *L,
                             size_t n)
{
    const char *first = L->items[0].name;
    char shown[SG_QUOTE_MAX + 4];
    snprintf(shown, sizeof shown, "%s", sg_quote_str(first).s);
    /* "first" where the list goes on: past the rows looked at, or past --limit */
    const char *first_of = n == ALL_MISSING_ROWS || L->cut ? "first " : "";
    size_t k;
    if (n == 1)
        k = (size_t)snprintf(buf, len, "--images %s: the %simage %s lists (%s) is not there", images, first_of, attrs,
                             shown);
    else k = (size_t)snprintf(buf, len, "--images %s: none of the %s%zu images %s lists is there (the first: %s)",
                              images, first_of, n, attrs, shown);
    if (k >= len) return;
    buf += k; len -= k;

    /* Its entries: folders (sorted, for a stable answer) and a count of the
     * rest; one that cannot be read holds nothing here (the hint, not the
     * failure, is the message) */
    sg_dir_listing sub;
    sg_err err;
    if (sg_list_folders(images, &sub, &err) && err.sys_errno == ENOMEM) cli_die_err(&err);
    char **dirs = sub.listed.names;
    size_t n_dirs = sub.listed.n, n_other = sub.n_other;

    const char *holder = NULL;
    for (size_t i = 0; i < n_dirs && !holder; i++)
        if (printable_ascii(dirs[i]) && is_file_in(images, dirs[i], first)) holder = dirs[i];
    const char *slash = images[strlen(images) - 1] == '/' ? "" : "/";
    const char *dot = strrchr(first, '.');
    int jpg = dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
    char png[PATH_MAX] = "";
    if (jpg && (size_t)(dot - first) + 5 < sizeof png) snprintf(png, sizeof png, "%.*s.png", (int)(dot - first), first);
    char nested[PATH_MAX];   /* the --images to give, as one shell word in the advice */
    if (holder) {
        snprintf(nested, sizeof nested, "%s%s%s", images, slash, holder);
        snprintf(buf, len, ", but %s holds it (a nested folder, as in Kaggle's "
                 "img_align_celeba/img_align_celeba): give --images %s", nested, cli_shell_word(nested));
    } else if (png[0] && is_file_in(images, "", png)) {
        /* The stem .png beside: CelebA's img_align_celeba_png. */
        const char *ext = strrchr(attrs, '.');
        const char *to = ext && !strcmp(ext, ".csv") ? "list_attr_png.csv" : "list_attr_png.txt";
        /* a command to paste: the path as one shell word */
        snprintf(buf, len, ", but %s is (the PNG variant, img_align_celeba_png): rewrite the list's names with "
                 "sed -E 's/\\.jpg([ ,])/.png\\1/' %s > %s and give --attrs %s", sg_quote_str(png).s,
                 cli_shell_operand(attrs), to, to);
    } else if (n_dirs == 1 && n_other == 0 && printable_ascii(dirs[0])) {
        snprintf(nested, sizeof nested, "%s%s%s", images, slash, dirs[0]);
        snprintf(buf, len, "; it holds only the folder %s: give --images %s if the images are in it", dirs[0],
                 cli_shell_word(nested));
    } else if (n_dirs + n_other == 0)
        snprintf(buf, len, ": the directory is empty; check --images");
    else
        snprintf(buf, len, ": check --images");
    sg_dir_listing_free(&sub);
}

/* ---- workers and the reorder window ---- */

enum { SLOT_EMPTY, SLOT_BUSY, SLOT_DONE };
/* Why an image was skipped, counted apart in the closing summary (the
 * names in skip_kinds, same order). */
enum { RESULT_OK, RESULT_MISSING, RESULT_NOT_FILE, RESULT_UNREADABLE, RESULT_EMPTY, RESULT_TOO_LARGE,
       RESULT_UNSUPPORTED, RESULT_CORRUPT, RESULT_KINDS,
       /* not the image's fault but the process's or the machine's (out of
        * descriptors or memory, a read error of the storage): never skipped,
        * the pack ends, as the next images would be dropped alike */
       RESULT_SHORTAGE = RESULT_KINDS };
static const char *const skip_kinds[RESULT_KINDS][2] = {   /* {one, several} */
    [RESULT_MISSING] = {"missing", "missing"},
    [RESULT_NOT_FILE] = {"not a regular file", "not regular files"},
    [RESULT_UNREADABLE] = {"unreadable", "unreadable"},
    [RESULT_EMPTY] = {"empty", "empty"},
    [RESULT_TOO_LARGE] = {"too large", "too large"},
    [RESULT_UNSUPPORTED] = {"unsupported", "unsupported"},
    [RESULT_CORRUPT] = {"corrupt", "corrupt"},
};

typedef struct {
    int state;
    size_t index;
    int result;
    uint8_t *pixels;        /* raw: (size, size, 3); png: encoded */
    size_t pixel_len;
    int src_w, src_h;       /* the image's size, when read */
    char msg[1024];
} slot;

typedef struct {
    const input_list *L;
    int crop, size, encoding;
    pthread_mutex_t mu;
    pthread_cond_t can_take, can_write;
    size_t next_take;       /* next item a worker takes */
    size_t next_write;      /* next item the writer needs */
    size_t window;
    slot *slots;            /* (window), item i lives in slots[i % window] */
    int stop;
} pack_state;

/* The first stop signal (its number), 0 while none came. */
static volatile sig_atomic_t interrupted;
/* 1 from the start of the commit (finish_shard), which a signal does not
 * stop: the handler then answers at once with commit_answer (the commit of
 * a large shard, its last records, the sync and the rename, may take long),
 * made before it. A second SIGINT or SIGTERM there (^C again, the sync
 * seeming stuck) is answered once with again_answer: the shard is still
 * being finished, and ends whole or absent. Ending at once would gain
 * nothing worth having: the sync goes on in the kernel, and a shard that
 * was all but complete would be thrown away. A SIGHUP after the first is no
 * request (a terminal closing; systemd's SIGHUP after its SIGTERM), as in
 * sg-train; a third is not answered (one line is enough). */
static volatile sig_atomic_t committing, answered_again;
static cli_stop_line commit_answer, again_answer;
/* 1 from a first stop signal while packing (before the commit) until what
 * was written is removed (finish_shard). The handler answers that signal at
 * once with stop_answer: the writer notices it within 100 ms (or once the
 * batch of records it writes is done; with -j 1 the image it decodes is
 * given up within a few rows, sg_preprocessor's stop), leaves the decoding
 * threads (the process ends without waiting for them: reading a large file
 * or encoding a PNG is not given up), then the writer's temporary directory goes, which for a
 * large shard (gigabytes of data.mdb to free, on a slow or network file
 * system) may take a while before the line that ends it. A second SIGINT or
 * SIGTERM there is answered once with stopping_answer (dying by it would
 * leave the temporary directory behind); commit_started: the first signal
 * came too late for that (the commit began, or is over). */
static volatile sig_atomic_t stopping, commit_started;
static cli_stop_line stop_answer, stopping_answer;
static void on_signal(int sig)
{
    if (!interrupted) {
        interrupted = sig;
        if (committing) cli_say_from_handler(&commit_answer);
        else if (!commit_started) {
            stopping = 1;
            cli_say_from_handler(&stop_answer);
        }
    } else if ((committing || stopping) && sig != SIGHUP && !answered_again) {
        answered_again = 1;
        cli_say_from_handler(committing ? &again_answer : &stopping_answer);
    }
}

/* The failures that say nothing about the file: a limit of the process
 * (ulimit -n, ulimit -v), of the system, or a storage that failed to read. */
static int is_shortage(int e) { return e == EMFILE || e == ENFILE || e == ENOMEM || e == EIO || e == EAGAIN; }

/* "SHOWN: WHAT: what to do" for a shortage e (is_shortage) into msg;
 * RESULT_SHORTAGE. */
static int shortage(int e, const char *shown, const char *what, char *msg, size_t msg_len)
{
    char advice[128];
    struct rlimit lim;
    if (e == EMFILE) snprintf(advice, sizeof advice, "raise ulimit -n or lower --threads");
    else if (e == ENFILE) snprintf(advice, sizeof advice, "the system's open files are at its limit: lower --threads");
    else if (e == ENOMEM && getrlimit(RLIMIT_AS, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY)
        snprintf(advice, sizeof advice, "out of memory (ulimit -v is %llu KiB): lower --threads",
                 (unsigned long long)lim.rlim_cur / 1024);
    else if (e == ENOMEM) snprintf(advice, sizeof advice, "out of memory: lower --threads");
    else if (e == EIO)   /* a disk's bad block stays bad: the file can be moved away to skip it */
        snprintf(advice, sizeof advice, "check the disk or network file system and try again, or move the file away");
    else snprintf(advice, sizeof advice, "try again");
    snprintf(msg, msg_len, "%s: %s: %s", shown, what, advice);
    return RESULT_SHORTAGE;
}

/* A system call on the file failed with e (fd, if not -1, is closed): a
 * shortage (is_shortage), else the file is missing (ENOENT) or unreadable;
 * the message into msg. */
static int read_failed(int e, int fd, const char *shown, char *msg, size_t msg_len)
{
    if (fd >= 0) close(fd);
    if (is_shortage(e)) return shortage(e, shown, strerror(e), msg, msg_len);
    snprintf(msg, msg_len, "%s: %s", shown, strerror(e));
    return e == ENOENT ? RESULT_MISSING : RESULT_UNREADABLE;
}

/* Reads a whole file into *buf (grown as needed). Returns 0, or why not
 * (RESULT_MISSING, _NOT_FILE, _UNREADABLE, _EMPTY, _TOO_LARGE, _SHORTAGE)
 * with a message. */
static int read_input(const char *path, const char *shown, uint8_t **buf, size_t *cap, size_t *len,
                      char *msg, size_t msg_len)
{
    /* O_NONBLOCK: opening a FIFO (or a device) would wait for a writer
     * forever; it is refused below as not a regular file. */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return read_failed(errno, -1, shown, msg, msg_len);
    struct stat st;
    if (fstat(fd, &st) != 0) return read_failed(errno, fd, shown, msg, msg_len);
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > SG_IMAGE_MAX_FILE) {
        snprintf(msg, msg_len, "%s: %s", shown, !S_ISREG(st.st_mode) ? "not a regular file" : "larger than the file size limit");
        close(fd);
        return !S_ISREG(st.st_mode) ? RESULT_NOT_FILE : RESULT_TOO_LARGE;
    }
    size_t n = (size_t)st.st_size;
    if (*cap < n + 1) {
        uint8_t *nb = realloc(*buf, n + 1);
        if (!nb) { close(fd); return shortage(ENOMEM, shown, "no memory to read it", msg, msg_len); }
        *buf = nb; *cap = n + 1;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, *buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return read_failed(errno, fd, shown, msg, msg_len);
        if (r == 0) break;   /* shorter than fstat said (cut meanwhile): the decoder tells */
        got += (size_t)r;
    }
    close(fd);
    if (got == 0) {
        snprintf(msg, msg_len, "%s: empty file", shown);
        return RESULT_EMPTY;
    }
    *len = got;
    return 0;
}

/* What one decoding thread keeps between images. */
typedef struct {
    sg_preprocessor pre;
    uint8_t *file;          /* the file's bytes */
    size_t file_cap;
    uint8_t *raw;           /* --encoding png: pixels before encoding */
} worker_ctx;

static void worker_ctx_init(worker_ctx *w, const pack_state *S)
{
    memset(w, 0, sizeof *w);
    sg_preprocessor_init(&w->pre, S->crop, S->crop, S->size, S->size);
    w->pre.stop = &interrupted;   /* a stop gives up the image under way (its slot is never written) */
    if (S->encoding == SG_PIXELS_PNG && !(w->raw = malloc((size_t)S->size * S->size * 3))) cli_die("out of memory");
}

static void worker_ctx_free(worker_ctx *w)
{
    free(w->file);
    free(w->raw);
    sg_preprocessor_free(&w->pre);
}

/* Reads, decodes and preprocesses item i into slot sl (result and message). */
static void process_item(const pack_state *S, worker_ctx *w, size_t i, slot *sl)
{
    const item *it = &S->L->items[i];
    const size_t raw_len = (size_t)S->size * S->size * 3;
    size_t len = 0;
    sg_err err;
    char shown_buf[PATH_MAX];
    const char *shown = item_shown(it, shown_buf, sizeof shown_buf);
    sl->result = read_input(it->path, shown, &w->file, &w->file_cap, &len, sl->msg, sizeof sl->msg);
    if (sl->result != RESULT_OK) return;
    uint8_t *dst = S->encoding == SG_PIXELS_RAW ? sl->pixels : w->raw;
    int failed = sg_preprocess(&w->pre, w->file, len, dst, &err);
    sl->src_w = failed ? 0 : w->pre.plan.src_w;
    sl->src_h = failed ? 0 : w->pre.plan.src_h;
    if (failed) {
        snprintf(sl->msg, sizeof sl->msg, "%s: %s", shown, err.msg);
        sl->result = sg_image_unsupported(&err) ? RESULT_UNSUPPORTED : RESULT_CORRUPT;
        /* the decoder's memory ran out (ENOMEM): a sound image */
        if (err.sys_errno == ENOMEM) sl->result = shortage(ENOMEM, shown, err.msg, sl->msg, sizeof sl->msg);
    } else if (S->encoding == SG_PIXELS_RAW) {
        sl->pixel_len = raw_len;
    } else {
        free(sl->pixels);
        sl->pixels = NULL;
        if (sg_png_encode(w->raw, S->size, S->size, &sl->pixels, &sl->pixel_len, &err)) {
            snprintf(sl->msg, sizeof sl->msg, "%s: %s", shown, err.msg);
            sl->result = err.sys_errno == ENOMEM ? shortage(ENOMEM, shown, err.msg, sl->msg, sizeof sl->msg)
                                                 : RESULT_CORRUPT;
        }
    }
}

static void *worker(void *arg)
{
    pack_state *S = arg;
    worker_ctx w;
    worker_ctx_init(&w, S);
    for (;;) {
        pthread_mutex_lock(&S->mu);
        while (!S->stop && S->next_take < S->L->n && S->next_take >= S->next_write + S->window)
            pthread_cond_wait(&S->can_take, &S->mu);
        if (S->stop || S->next_take >= S->L->n) { pthread_mutex_unlock(&S->mu); break; }
        size_t i = S->next_take++;
        slot *sl = &S->slots[i % S->window];
        sl->state = SLOT_BUSY;
        sl->index = i;
        pthread_mutex_unlock(&S->mu);

        process_item(S, &w, i, sl);

        pthread_mutex_lock(&S->mu);
        sl->state = SLOT_DONE;
        if (i == S->next_write) pthread_cond_signal(&S->can_write);
        pthread_mutex_unlock(&S->mu);
    }
    worker_ctx_free(&w);
    return NULL;
}

/* ---- main's steps ---- */

/* The command line, checked and defaulted (check_options). */
struct opts {
    const char *attrs, *images, *select, *folders, *out;
    long crop, size, limit, threads;
    int encoding, strict, force;
};

/* One pack: its inputs, the decoding threads, the shard being written and
 * what the writing loop found. */
struct run {
    const struct opts *o;
    input_list L;
    pack_state S;
    int inline_mode;            /* one thread: the main thread decodes too */
    worker_ctx inline_ctx;
    pthread_t *tids;
    sg_shard_writer *wr;
    size_t n_skipped[RESULT_KINDS];
    /* While every row so far is missing, their messages wait: if the first
     * ALL_MISSING_ROWS all are, one line replaces them. */
    int all_missing;
    char held[MISSING_SHOWN][sizeof ((slot *)0)->msg];
    int n_held;
    int told_crop;              /* warn_padded_crop said it */
    int told_one_class;         /* warn_one_class_listed said it */
    size_t written_per_class[SG_SHARD_MAX_LABELS];   /* --folders: the records of each class */
    int failed;                 /* 1: fail_msg says why; 2: interrupted */
    char fail_msg[1100];
    char fail_hint[192];   /* the words for want of space, where that was why (taken before the abort frees any) */
};

/* Options into o, in the order given; --help, --version and a bad option or
 * value end the process here. */
static void parse_options(struct opts *o, int argc, char **argv)
{
    enum { OPT_STRICT = 256, OPT_VERSION };
    static const struct option opts[] = {
        {"attrs", required_argument, 0, 'a'}, {"images", required_argument, 0, 'i'},
        {"select", required_argument, 0, 's'}, {"folders", required_argument, 0, 'F'},
        {"crop", required_argument, 0, 'c'}, {"size", required_argument, 0, 'S'},
        {"output", required_argument, 0, 'o'}, {"encoding", required_argument, 0, 'e'},
        {"limit", required_argument, 0, 'n'}, {"threads", required_argument, 0, 'j'},
        {"strict", no_argument, 0, OPT_STRICT}, {"force", no_argument, 0, 'f'},
        {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, OPT_VERSION}, {0, 0, 0, 0},
    };
    *o = (struct opts){.size = 128, .encoding = SG_PIXELS_RAW};
    int c;
    while ((c = cli_getopt(argc, argv, "a:i:s:F:c:S:o:e:n:j:fqh", opts)) != -1) {
        switch (c) {
        case 'a': o->attrs = optarg; break;
        case 'i': o->images = optarg; break;
        case 's': o->select = optarg; break;
        case 'F': o->folders = optarg; break;
        case 'c': o->crop = cli_parse_long("--crop", optarg, 1, SG_IMAGE_MAX_SIDE); break;
        case 'S': o->size = cli_parse_long("--size", optarg, 1, 4096); break;
        case 'o': o->out = optarg; break;
        case 'e':
            o->encoding = sg_shard_pixel_encoding_parse(optarg);
            if (o->encoding != SG_PIXELS_RAW && o->encoding != SG_PIXELS_PNG)
                cli_usage_error("--encoding: '%s' is not raw or png", sg_quote_str(optarg).s);
            break;
        case 'n': o->limit = cli_parse_long("--limit", optarg, 1, LONG_MAX); break;
        case 'j': o->threads = cli_parse_long("--threads", optarg, 0, 1024); break;
        case OPT_STRICT: o->strict = 1; break;
        case 'f': o->force = 1; break;
        case 'q': cli_quiet = 1; break;
        case 'h': usage(); cli_finish_stdout(); exit(0);
        case OPT_VERSION: cli_version();
        default: cli_try_help();   /* an option without a case above */
        }
    }
    if (optind < argc) cli_usage_error("unexpected argument '%s'", sg_quote_str(argv[optind]).s);
}

/* The usage errors (exit 2) that take the options together; then the
 * defaults that depend on them. */
static void check_options(struct opts *o)
{
    if (!o->out) cli_usage_error("no output shard (-o OUT)");
    cli_refuse_empty_path("-o/--output", o->out);
    cli_refuse_stdout_dir(o->out, "a shard is a directory and cannot go to standard output");
    cli_refuse_empty_path("--attrs", o->attrs);
    cli_refuse_empty_path("--images", o->images);
    cli_refuse_empty_path("--folders", o->folders);
    if (o->folders && (o->attrs || o->images || o->select))
        cli_usage_error("--folders cannot be combined with --attrs, --images or --select");
    if (!o->folders && !o->attrs) cli_usage_error("give --attrs FILE --images DIR, or --folders DIR");
    if (o->attrs && !o->images) cli_usage_error("--attrs needs --images DIR");
    if (o->images && !o->attrs) cli_usage_error("--images needs --attrs FILE");
    if (!o->crop) o->crop = o->folders ? 256 : 178;
    if (!o->threads) o->threads = sg_cpus_usable();
}

/* An OUT that must not be written, refused before anything is read. */
static void refuse_output_in_the_way(const struct opts *o)
{
    /* The shard would take the place of its own input (-o naming the
     * --attrs file, with --force). */
    cli_refuse_output_is_input(o->out, "--attrs file", o->attrs, "choose another -o");
    cli_refuse_output_is_input(o->out, "--images directory", o->images, "choose another -o");
    cli_refuse_output_is_input(o->out, "--folders directory", o->folders, "choose another -o");
    /* a new shard inside another shard (which --force could then no longer
     * replace) or in a run's ckpt/ (sg-train's): as -o of the readers */
    if (access(o->out, F_OK) != 0) cli_refuse_output_over_data(o->out, "choose another -o");
    /* inside --folders the shard would be read as one more class next time */
    if (o->folders && sg_path_inside_dir(o->out, o->folders))
        cli_die("%s: the output lies inside the --folders directory %s, where it would count as a class; "
                "write it outside", o->out, o->folders);
    /* Fail early, before any decoding, if the output exists (as the writer
     * would, also where --force would not replace it). */
    sg_err err;
    if (sg_shard_check_output(o->out, o->force, &err)) cli_die_err(&err);
}

/* No image listed: where they were looked for, and what to give instead. */
static void die_nothing_to_pack(const input_list *L, const struct opts *o)
{
    if (!o->folders)
        cli_die("%s: no images to pack: the list has no image rows; give --attrs a list that "
                "names images (celeb-split writes an empty one for a group no image went to: check its --group and "
                "--rest)", o->attrs);
    char nested[96] = "";
    if (L->ignored_nested)
        snprintf(nested, sizeof nested, " (%zu file%s in nested folders, which are not read)", L->ignored_nested,
                 L->ignored_nested == 1 ? "" : "s");
    cli_die("%s: no images to pack: its %d class folder%s hold%s no .jpg/.jpeg/.png files%s; put each class's images "
            "directly in its folder (%s/CLASS/IMAGE.jpg)", o->folders, L->n_labels, L->n_labels == 1 ? "" : "s",
            L->n_labels == 1 ? "s" : "", nested, o->folders);
}

/* The classes of names[0..n) whose count is 0 into b, quoted: "'b', 'c'",
 * at most 4 named, then " and N more". */
static void classes_without(sg_buf *b, char *const *names, const size_t *count, size_t n)
{
    size_t k = 0;
    for (size_t c = 0; c < n; c++) {
        if (count[c]) continue;
        if (k < 4) sg_buf_appendf(b, "%s%s", k ? ", " : "", sg_quote_str(names[c]).s);
        k++;
    }
    if (k > 4) sg_buf_appendf(b, " and %zu more", k - 4);
}

/* The index of the one class of count[0..n) above 0; -1 when there are
 * none or several. */
static int only_class(const size_t *count, int n)
{
    int only = -1;
    for (int c = 0; c < n; c++) {
        if (!count[c]) continue;
        if (only >= 0) return -1;
        only = c;
    }
    return only;
}

/* --folders, two or more classes, the images listed all of one: the shard
 * is packed all the same (sg-sample --data translates its records,
 * celeb-dump shows them), but sg-train on it learns nothing of the other
 * classes (its classifier never sees a real one), which is said before
 * anything is decoded. Where --limit cut the list (it takes the first N
 * images in class order), it says so. 1 when said. */
static int warn_one_class_listed(const input_list *L, const struct opts *o)
{
    int only = only_class(L->listed, L->n_labels);
    if (!o->folders || only < 0) return 0;
    sg_buf none = SG_BUF_INIT;
    classes_without(&none, L->label_names, L->listed, (size_t)L->n_labels);
    const char *names = none.failed || !none.data ? "the others" : none.data;
    const char *cls = L->label_names[only];
    if (L->reached < (size_t)L->n_labels) {   /* --limit stopped before the last class */
        char first[32];   /* "image", "3 images" */
        if (o->limit == 1) snprintf(first, sizeof first, "image");
        else snprintf(first, sizeof first, "%ld images", o->limit);
        cli_warn("--limit %ld takes the first %s in class order (not some of each class): %s of class %s (which "
                 "holds %zu), none of %s; sg-train on this shard learns nothing of those classes: give a --limit "
                 "above %zu to reach them, or leave --limit out", o->limit, first, o->limit == 1 ? "it is" : "all are",
                 sg_quote_str(cls).s, L->in_folder[only], names, L->in_folder[only]);
    } else
        cli_warn("%s: only class %s has images to pack, not %s: every record is of one class, and sg-train on this "
                 "shard learns nothing of the others; put each class's images in its folder (%s/CLASS/IMAGE.jpg)",
                 o->folders, sg_quote_str(cls).s, names, o->folders);
    sg_buf_free(&none);
    return 1;
}

/* The images to pack, from --folders or from --attrs and --images; 1 when
 * warn_one_class_listed said the images are of one class. */
static int list_inputs(input_list *L, const struct opts *o)
{
    if (o->folders) list_from_folders(L, o->folders, (size_t)o->limit);
    else list_from_attrs(L, o->attrs, o->images, o->select, (size_t)o->limit);
    if (L->n == 0) die_nothing_to_pack(L, o);
    return warn_one_class_listed(L, o);
}

/* The reorder window's slots, the inline decoder or the threads' ids (not
 * started yet). */
static void prepare_workers(struct run *r)
{
    const struct opts *o = r->o;
    pack_state *S = &r->S;
    memset(S, 0, sizeof *S);
    S->L = &r->L;
    S->crop = (int)o->crop;
    S->size = (int)o->size;
    S->encoding = o->encoding;
    S->window = (size_t)o->threads * 4;
    S->slots = calloc(S->window, sizeof *S->slots);
    if (!S->slots) cli_die("out of memory");
    for (size_t k = 0; k < S->window && o->encoding == SG_PIXELS_RAW; k++) {
        S->slots[k].pixels = malloc((size_t)o->size * o->size * 3);
        if (!S->slots[k].pixels) cli_die("out of memory");
    }
    pthread_mutex_init(&S->mu, NULL);
    pthread_cond_init(&S->can_take, NULL);
    pthread_cond_init(&S->can_write, NULL);
    /* One thread: the main thread decodes too (no hand-offs between threads). */
    r->inline_mode = o->threads == 1;
    if (r->inline_mode) worker_ctx_init(&r->inline_ctx, S);
    r->tids = calloc((size_t)o->threads, sizeof *r->tids);
    if (!r->tids) cli_die("out of memory");
}

/* Opens the shard writer (its temporary directory) with the metadata. */
static void open_shard(struct run *r)
{
    const struct opts *o = r->o;
    sg_shard_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.width = meta.height = (uint32_t)o->size;
    meta.channels = 3;
    meta.pixel_encoding = o->encoding;
    meta.label_kind = o->folders ? SG_LABELS_ONE_HOT : SG_LABELS_MULTI_HOT;
    meta.n_labels = (uint32_t)r->L.n_labels;
    for (int j = 0; j < r->L.n_labels; j++) meta.label_names[j] = r->L.label_names[j];
    snprintf(meta.source, sizeof meta.source, "%s", o->folders ? o->folders : o->attrs);
    meta.crop = (uint32_t)o->crop;
    meta.size = (uint32_t)o->size;

    /* Opened after the allocations, so that dying for want of memory leaves
     * no temporary directory; a failure after it aborts it. */
    sg_err err;
    cli_note_output(o->out);   /* for the advice on ENOSPC */
    if (sg_shard_writer_open(&r->wr, o->out, &meta, o->force, r->L.n, &err)) cli_die_err(&err);
}

/* The decoding threads, none in inline mode. */
static void start_workers(struct run *r)
{
    for (long t = 0; t < r->o->threads && !r->inline_mode; t++) {
        int e = sg_thread_start(&r->tids[t], worker, &r->S);
        if (e != 0) {   /* sg_thread_start returns its error, errno is stale */
            sg_shard_writer_abort(r->wr);
            if (t == 0)
                cli_die("%s: cannot start decoding thread 1 of %ld (%s); %s not written: give -j 1 (decoding in "
                        "the main thread)", r->o->out, r->o->threads, strerror(e), r->o->out);
            cli_die("%s: cannot start decoding thread %ld of %ld (%s); %s not written: give fewer threads with -j "
                    "(%ld started)", r->o->out, t + 1, r->o->threads, strerror(e), r->o->out, t);
        }
    }
}

/* Waits until item i is done in its slot sl (decoding it here in inline
 * mode); 0 when a stop signal came first. */
static int wait_for_item(struct run *r, size_t i, slot *sl)
{
    pack_state *S = &r->S;
    if (r->inline_mode) {
        process_item(S, &r->inline_ctx, i, sl);
        sl->index = i;
        sl->state = SLOT_DONE;
    }
    pthread_mutex_lock(&S->mu);
    while (!(sl->state == SLOT_DONE && sl->index == i) && !interrupted) {
        /* Wake up now and then to notice a signal. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000;
        if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
        pthread_cond_timedwait(&S->can_write, &S->mu, &ts);
    }
    pthread_mutex_unlock(&S->mu);
    return !interrupted;
}

/* The pack fails with msg; 0, for the caller to return. */
static int fail_with(struct run *r, const char *msg)
{
    snprintf(r->fail_msg, sizeof r->fail_msg, "%s", msg);
    r->failed = 1;
    return 0;
}

/* Not every row is missing: the messages held back are told after all. */
static void tell_held(struct run *r)
{
    for (int h = 0; h < r->n_held; h++) cli_warn("%s (skipped)", r->held[h]);
    r->all_missing = 0;
}

/* A crop over twice the image's larger side is torchvision's CenterCrop all
 * the same (padded with black, as documented), but almost surely a typo
 * (--crop 16384 for 178): the picture is a dot in the middle and every thread
 * holds the padded crop (805 MB at 16384). Said once, at the first such image. */
static void warn_padded_crop(struct run *r, const item *it, const slot *sl)
{
    long crop = r->o->crop, side = sl->src_w > sl->src_h ? sl->src_w : sl->src_h;
    if (r->told_crop || side <= 0 || crop <= 2 * side) return;
    r->told_crop = 1;
    char shown_buf[PATH_MAX];
    cli_warn("--crop %ld is more than twice the larger side of the images (%s: %dx%d): each is padded with black "
             "to %ldx%ld (%.0f MiB a thread), the picture a small part of it; probably a typo (--crop %d fits "
             "inside)", crop, item_shown(it, shown_buf, sizeof shown_buf), sl->src_w, sl->src_h, crop, crop,
             (double)crop * (double)crop * 3 / (1 << 20), sl->src_w < sl->src_h ? sl->src_w : sl->src_h);
}

/* Appends item i's record, or counts why it was skipped and tells (or holds)
 * its message; 0 (r->failed set) when the pack must stop. */
static int write_or_skip(struct run *r, size_t i, const slot *sl)
{
    if (sl->result == RESULT_SHORTAGE) return fail_with(r, sl->msg);
    if (r->all_missing && sl->result != RESULT_MISSING) tell_held(r);
    if (sl->result != RESULT_OK) {
        if (r->o->strict) return fail_with(r, sl->msg);
        r->n_skipped[sl->result]++;
        if (sl->result != RESULT_MISSING) cli_warn("%s (skipped)", sl->msg);
        else if (r->n_skipped[RESULT_MISSING] > MISSING_SHOWN) {}   /* counted, told at the end */
        else if (r->all_missing) snprintf(r->held[r->n_held++], sizeof r->held[0], "%s", sl->msg);
        else cli_warn("%s (skipped)", sl->msg);
        return 1;
    }
    const item *it = &r->L.items[i];
    warn_padded_crop(r, it, sl);
    sg_err err;
    if (sg_shard_writer_append(r->wr, it->labels, it->name, sl->pixels, sl->pixel_len, &err)) {
        fail_with(r, err.msg);
        snprintf(r->fail_hint, sizeof r->fail_hint, "%s", cli_no_space_hint(&err));
        return 0;
    }
    for (int j = 0; r->o->folders && j < r->L.n_labels; j++)
        if (it->labels[j]) { r->written_per_class[j]++; break; }
    return 1;
}

/* Slot sl is free again: a worker may take item i + window. */
static void release_slot(struct run *r, size_t i, slot *sl)
{
    pthread_mutex_lock(&r->S.mu);
    sl->state = SLOT_EMPTY;
    r->S.next_write = i + 1;
    pthread_cond_broadcast(&r->S.can_take);
    pthread_mutex_unlock(&r->S.mu);
}

/* The first probe_rows rows are all missing: 0 (r->failed, fail_msg says
 * what --images holds instead) when rows spread over the rest are missing
 * too; else the held messages are told and the pack goes on. */
static int probe_all_missing(struct run *r, size_t probe_rows)
{
    if (!any_later_row_there(&r->L, probe_rows)) {
        all_missing_hint(r->fail_msg, sizeof r->fail_msg, r->o->images, r->o->attrs, &r->L, probe_rows);
        r->failed = 1;
        return 0;
    }
    tell_held(r);
    return 1;
}

/* Writes the records in input order as the workers finish them, with a
 * progress line; stops at a failure or a stop signal (r->failed). */
static void write_records(struct run *r)
{
    const size_t n = r->L.n;
    const size_t probe_rows = n < ALL_MISSING_ROWS ? n : ALL_MISSING_ROWS;
    r->all_missing = !r->o->folders;
    double t0 = cli_now();
    for (size_t i = 0; i < n; i++) {
        slot *sl = &r->S.slots[i % r->S.window];
        if (!wait_for_item(r, i, sl)) { r->failed = 2; break; }
        if (!write_or_skip(r, i, sl)) break;
        release_slot(r, i, sl);
        if (r->all_missing && i + 1 == probe_rows && !probe_all_missing(r, probe_rows)) break;

        char eta[32];
        double rate = cli_rate_eta(cli_now() - t0, (double)(i + 1), (double)n, eta, sizeof eta);
        if (i + 1 == n) cli_progress_unthrottle();   /* ends on N/N */
        cli_progress("%zu/%zu images, %.0f images/s, ETA %s", i + 1, n, rate, eta);
    }
}

/* Tells the workers to stop and waits for them (they may be waiting for a
 * slot the writer no longer frees); stopped by a signal (r->failed 2), not
 * for their images: a large one may take seconds to decode, and the process
 * ends by the signal (finish_shard) as soon as what was written is removed,
 * which they do not touch (they read the inputs and write into the slots). */
static void stop_workers(struct run *r)
{
    pthread_mutex_lock(&r->S.mu);
    r->S.stop = 1;
    pthread_cond_broadcast(&r->S.can_take);
    pthread_mutex_unlock(&r->S.mu);
    for (long t = 0; t < r->o->threads && !r->inline_mode && r->failed != 2; t++) pthread_join(r->tids[t], NULL);
    if (r->inline_mode) worker_ctx_free(&r->inline_ctx);
}

/* --folders: the images listed were of two or more classes, but those of
 * all classes but one were skipped: said as warn_one_class_listed does,
 * once the last record is written. */
static void warn_one_class_written(const struct run *r)
{
    const input_list *L = &r->L;
    int only = only_class(r->written_per_class, L->n_labels);
    if (!r->o->folders || r->told_one_class || only < 0) return;
    sg_buf none = SG_BUF_INIT;
    classes_without(&none, L->label_names, r->written_per_class, (size_t)L->n_labels);
    cli_warn("%s: every record is of class %s, none of %s (their images were skipped, see above, or not there): "
             "sg-train on this shard learns nothing of those classes", r->o->out, sg_quote_str(L->label_names[only]).s,
             none.failed || !none.data ? "the others" : none.data);
    sg_buf_free(&none);
}

/* Commits the shard, or aborts it and dies saying why (a failure, no image
 * read; a stop signal: by that signal); returns the number of records
 * written. */
static uint64_t finish_shard(struct run *r)
{
    const char *out = r->o->out;
    if (!r->failed && r->n_skipped[RESULT_MISSING] > MISSING_SHOWN)
        cli_warn("... and %zu more missing (skipped)", r->n_skipped[RESULT_MISSING] - MISSING_SHOWN);
    if (!r->failed && !interrupted) warn_one_class_written(r);
    uint64_t written = sg_shard_writer_count(r->wr);
    cli_stop_line_set(&commit_answer, "interrupted while finishing: %s is written in full first (all its records "
                      "are packed; another signal does not cut it short), then celeb-pack stops", out);
    cli_stop_line_set(&again_answer, "still finishing: %s is being written in full (another signal does not cut "
                      "it short); it ends complete or, should the commit fail, not written, with any earlier %s "
                      "untouched: never half-written", out, out);
    /* held over the check and the flag: a signal after the last record was
     * waited for stops the pack as one before it, one after is answered as
     * one during the commit */
    sigset_t was;
    cli_hold_stop_signals(&was);
    if (!r->failed && interrupted) r->failed = 2;
    if (!r->failed && written == 0) fail_with(r, "no image could be read");
    committing = commit_started = !r->failed;
    cli_release_stop_signals(&was);
    if (r->failed) {
        sg_shard_writer_abort(r->wr);
        stopping = 0;   /* removed: the line that ends it comes now */
        if (r->failed == 2) {
            cli_warn("interrupted; no shard written");
            cli_exit_by_signal(interrupted);   /* not exit(1): a script running celeb-pack stops too */
        }
        cli_die("%s; %s not written%s", r->fail_msg, out, r->fail_hint);
    }
    /* A signal from here on cannot stop the commit (the shard may be in
     * place already): it finishes, as on_signal says at once, and main says
     * so again (interrupted). */
    sg_err note, err;
    int failed = sg_shard_writer_commit(r->wr, &note, &err);
    committing = 0;   /* a signal from here on: main's line alone, at once */
    if (failed) cli_die("%s; %s not written%s", err.msg, out, cli_no_space_hint(&err));
    if (note.msg[0]) cli_warn("%s", note.msg);
    return written;
}

/* "wrote N records to OUT (what was skipped; files ignored), SxS, K labels" */
static void print_summary(const struct run *r, uint64_t written)
{
    const input_list *L = &r->L;
    const size_t *n_skipped = r->n_skipped;
    size_t skipped = 0;
    for (int k = 0; k < RESULT_KINDS; k++) skipped += n_skipped[k];
    sg_buf skip = SG_BUF_INIT;
    if (skipped) {   /* " (4 skipped: 1 missing, 2 not regular files, 1 corrupt)" */
        sg_buf_appendf(&skip, " (%zu skipped: ", skipped);
        const char *sep = "";
        for (int kind = 0; kind < RESULT_KINDS; kind++) {
            if (!n_skipped[kind]) continue;
            sg_buf_appendf(&skip, "%s%zu %s", sep, n_skipped[kind], skip_kinds[kind][n_skipped[kind] != 1]);
            sep = ", ";
        }
    }
    /* " (3 files ignored: 2 in nested folders, 1 not .jpg/.jpeg/.png)", in
     * the same parentheses as the skipped ones */
    size_t ignored = L->ignored_nested + L->ignored_other;
    if (ignored) {
        sg_buf_appendf(&skip, "%s%zu file%s ignored: ", skipped ? "; " : " (", ignored, ignored == 1 ? "" : "s");
        if (L->ignored_nested)
            sg_buf_appendf(&skip, "%zu in %s", L->ignored_nested,
                           L->ignored_nested == 1 ? "a nested folder" : "nested folders");
        if (L->ignored_other)
            sg_buf_appendf(&skip, "%s%zu not .jpg/.jpeg/.png", L->ignored_nested ? ", " : "", L->ignored_other);
    }
    if (skipped || ignored) sg_buf_putc(&skip, ')');
    /* out of memory: the summary without its parentheses */
    const char *counts = skip.failed || !skip.data ? "" : skip.data;
    cli_warn("wrote %llu record%s to %s%s, %ldx%ld, %d label%s",
             (unsigned long long)written, written == 1 ? "" : "s", r->o->out, counts, r->o->size, r->o->size,
             L->n_labels, L->n_labels == 1 ? "" : "s");
    sg_buf_free(&skip);
}

static void free_run(struct run *r)
{
    for (size_t k = 0; k < r->S.window; k++) free(r->S.slots[k].pixels);
    free(r->S.slots);
    free(r->tids);
    for (size_t i = 0; i < r->L.n; i++) { free(r->L.items[i].path); free(r->L.items[i].name); }
    for (int j = 0; j < r->L.n_labels; j++) free(r->L.label_names[j]);
    free(r->L.label_names);
    free(r->L.items);
    free(r->L.labels);
}

int main(int argc, char **argv)
{
    cli_init(argv);
    /* LMDB mallocs and frees a write batch's pages (8 MB) per transaction: keep
     * freed memory instead of returning it to the kernel and faulting it in again. */
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    struct opts o;
    parse_options(&o, argc, argv);
    check_options(&o);
    refuse_output_in_the_way(&o);

    static struct run r;   /* static: its held messages (10 KB) stay off the stack */
    r.o = &o;
    r.told_one_class = list_inputs(&r.L, &o);
    prepare_workers(&r);
    /* From here a stop signal ends the pack cleanly (write_records notices
     * it, or finish_shard after the last record), aborting the writer: caught
     * before open_shard, since dying by it (cli_init) would leave the
     * writer's temporary directory behind. */
    cli_stop_line_set(&stop_answer, "interrupted: stopping; removing what was written of %s: no shard is written, "
                      "and any earlier %s is untouched", o.out, o.out);
    cli_stop_line_set(&stopping_answer, "still stopping: removing what was written of %s (another signal does not "
                      "cut it short, which would leave it behind); no shard is written, and any earlier %s is "
                      "untouched", o.out, o.out);
    cli_catch_stop_signals(on_signal, 0);
    open_shard(&r);
    start_workers(&r);
    write_records(&r);
    stop_workers(&r);
    cli_progress_end();
    uint64_t written = finish_shard(&r);
    /* Stopped while committing: written all the same, but the process ends
     * by the signal, so that a script running it stops (as sg-train's). */
    int sig = interrupted;
    if (sig) cli_warn("interrupted while finishing; the shard %s was written in full", o.out);
    else if (!cli_quiet) print_summary(&r, written);
    free_run(&r);
    if (sig) cli_exit_by_signal(sig);
    return 0;
}
