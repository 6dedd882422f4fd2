/* celeb-synth: writes a synthetic dataset in CelebA's on-disk layout, or
 * (--judge) reads the drawn attributes back from images. See celeb-synth(1). */
#include "celeba_attrs.h"
#include "cli.h"
#include "fileio.h"
#include "image.h"
#include "json.h"
#include "synth.h"
#include "text_escape.h"
#include "thread.h"
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <locale.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(void)
{
    printf("Usage: %s [OPTION]... -o DIR\n"
           "  or:  %s --judge [--json] IMAGE...\n"
           "Write a synthetic face dataset in CelebA's layout:\n"
           "DIR/img_align_celeba/000001.jpg ... (178x218 JPEG), DIR/list_attr_celeba.txt\n"
           "(40 attributes) and DIR/list_eval_partition.txt (0 train, 1 validation, 2 test;\n"
           "about 80/10/10). Hair colour, bangs, eyeglasses, hat, mustache, earrings, sex,\n"
           "age, smile and pale skin are drawn visibly. The same seed gives the same bytes.\n"
           "\n"
           "  -n, --count N       number of images (default 2000, at most 999999)\n"
           "  -s, --seed N        random seed (default 1)\n"
           "  -o, --output DIR    output directory; must be empty or missing unless --force\n"
           "      --quality Q     JPEG quality 1..100 (default 90)\n"
           "  -j, --threads N     worker threads 0..256 (default 1; 0: the CPUs this\n"
           "                      process may use; the output is the same)\n"
           "  -f, --force         write into a non-empty DIR (replacing files\n"
           "                      of the same names)\n"
           "      --judge         read Black_Hair Blond_Hair Brown_Hair Gray_Hair Bangs\n"
           "                      Eyeglasses Wearing_Hat Mustache Wearing_Earrings from\n"
           "                      synthetic face images (PNG or JPEG, 4x4 or larger; the\n"
           "                      178x218 canvas or its central 178x178 crop; '-' reads\n"
           "                      stdin); prints 'FILE ATTR=0|1 ...'\n"
           "      --json          with --judge: print a JSON array instead\n"
           "  -q, --quiet         no progress line, no closing summary\n"
           "  -h, --help          this help\n"
           "      --version       version\n"
           "\n"
           "Examples:\n"
           "  %s -n 2000 --seed 1 -o data/synth\n"
           "  %s --judge samples/*.png\n",
           cli_name, cli_name, cli_name, cli_name);
}

/* ---- generation ----------------------------------------------------------- */

typedef struct {
    const char *img_dir;
    uint64_t seed;
    size_t n;
    int quality, n_threads, thread;
    const int8_t *attrs;        /* (n, 40) */
    atomic_size_t *done;
    atomic_int *failed;
    sg_err err;
} worker;

static int write_plain(const char *path, const uint8_t *data, size_t len, sg_err *err)
{
    FILE *f = fopen(path, "wb");
    if (!f) return sg_errno(err, "%s", path);
    size_t w = fwrite(data, 1, len, f);
    int bad = w != len || ferror(f);
    if (fclose(f) != 0 || bad) return sg_errno(err, "%s: write", path);
    return 0;
}

static void *work(void *arg)
{
    worker *w = arg;
    uint8_t *rgb = malloc((size_t)SG_SYNTH_W * SG_SYNTH_H * 3);
    if (!rgb) { sg_errf(&w->err, "out of memory"); atomic_store(w->failed, 1); return NULL; }
    char path[PATH_MAX];
    for (size_t i = w->thread; i < w->n && !atomic_load(w->failed); i += w->n_threads) {
        uint8_t *jpg; size_t len;
        if (sg_synth_draw(w->seed, i, w->attrs + i * SG_SYNTH_N_ATTRS, rgb, &w->err) != 0
            || sg_jpeg_encode(rgb, SG_SYNTH_W, SG_SYNTH_H, w->quality, &jpg, &len, &w->err) != 0) {
            atomic_store(w->failed, 1); break;
        }
        snprintf(path, sizeof path, "%s/%06zu.jpg", w->img_dir, i + 1);
        int rc = write_plain(path, jpg, len, &w->err);
        free(jpg);
        if (rc != 0) { atomic_store(w->failed, 1); break; }
        size_t d = atomic_fetch_add(w->done, 1) + 1;
        if (w->thread == 0) cli_progress("%zu/%zu images", d, w->n);   /* thread 0 is the main thread */
    }
    free(rgb);
    return NULL;
}

static int dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return errno == ENOENT ? 1 : -1;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) { empty = 0; break; }
    closedir(d);
    return empty;
}

/* Once DIR holds this run's images (none of its lists, written last), a
 * failure leaves a directory that a plain retry refuses as not empty: the
 * message says that --force replaces them, instead of "try again" alone. */
static const char *stopped_dir;

static __attribute__((noreturn)) void die_stopped(const sg_err *err)
{
    char space[192];
    if (!stopped_dir) cli_die_err(err);
    if (cli_no_space_advice(err, NULL, space, sizeof space)[0])
        cli_die("%s (%s, then run again with --force: %s holds this run's images so far but not its attribute list)",
                err->msg, space, stopped_dir);
    cli_die("%s (the run stopped: %s holds its images so far but not its attribute list; --force replaces them)", err->msg,
            stopped_dir);
}

/* A stop signal once images are being written ends the run at once (the
 * images under way are of no use half drawn), saying what it leaves, as
 * die_stopped does: no line said it, and a plain retry was then refused as
 * "directory is not empty". Made before the images; none once the attribute
 * list is in place (the dataset complete). */
static cli_stop_line stop_line;
static void on_stop_signal(int sig) { cli_die_by_signal_saying(sig, &stop_line); }

static __attribute__((noreturn)) void die_stopped_oom(void)
{
    sg_err err;
    sg_err_oom(&err, "out of memory");
    die_stopped(&err);
}

static int generate(const char *dir, size_t n, uint64_t seed, int quality, int n_threads, int force)
{
    sg_err err;
    struct stat st;
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
        cli_die("%s: not a directory; -o names the directory to write the dataset into: choose another -o (a missing "
                "one is made)", dir);
    /* The longest names made: DIR/img_align_celeba/999999.jpg and the lists'
     * temporary DIR/list_eval_partition.txt.tmp.PID; a cut one would be some
     * other file. */
    if (strlen(dir) + 40 >= PATH_MAX)
        cli_die("%s: path too long (the dataset's file names would exceed %d bytes)", dir, PATH_MAX - 1);
    /* not into a shard's directory or a run's ckpt/ (as -o of the readers),
     * --force or not: a shard holding anything else can no longer be
     * replaced, and ckpt/ is sg-train's */
    char list[PATH_MAX];
    snprintf(list, sizeof list, "%s/list_attr_celeba.txt", dir);
    cli_refuse_output_over_data(list, "choose another -o DIR");
    cli_note_output(dir);   /* for the advice on ENOSPC */
    if (sg_mkdir_p(dir, &err) != 0) cli_die_err(&err);
    /* Held to the end, and taken before DIR is looked at: two runs at once
     * (--force) would write over each other's images, and the lists of one
     * would name the other's. */
    cli_lock_output_dir(dir, "celeb-synth", "two runs at once would leave a mix of their images and lists");
    int empty = dir_is_empty(dir);
    if (empty < 0) cli_die("%s:", dir);
    if (!empty && !force) cli_die("%s: directory is not empty (use --force to write into it)", dir);

    char img_dir[PATH_MAX], attr_path[PATH_MAX], part_path[PATH_MAX];
    snprintf(img_dir, sizeof img_dir, "%s/img_align_celeba", dir);
    snprintf(attr_path, sizeof attr_path, "%s/list_attr_celeba.txt", dir);
    snprintf(part_path, sizeof part_path, "%s/list_eval_partition.txt", dir);
    /* The lists are written last: while images are being written (or after a
     * crash) no list refers to a set of images that is not complete. */
    if (unlink(attr_path) != 0 && errno != ENOENT) cli_die("%s:", attr_path);
    if (unlink(part_path) != 0 && errno != ENOENT) cli_die("%s:", part_path);
    sg_remove_dead_temps_of(attr_path);   /* what a killed run left */
    sg_remove_dead_temps_of(part_path);

    sg_attr_table t;
    if (sg_attr_table_create(&t, SG_SYNTH_N_ATTRS, sg_celeba_attr_names, n, &err) != 0) cli_die_err(&err);
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "%06zu.jpg", i + 1);
        if (!(t.file_names[i] = strdup(name))) cli_die("out of memory");
        sg_synth_attrs(seed, i, t.values + i * SG_SYNTH_N_ATTRS);
    }
    worker *ws = calloc(n_threads, sizeof *ws);
    pthread_t *th = calloc(n_threads, sizeof *th);
    if (!ws || !th) cli_die("out of memory");

    if (sg_mkdir_p(img_dir, &err) != 0) cli_die_err(&err);
    stopped_dir = dir;
    cli_stop_line_set(&stop_line, "interrupted: %s holds this run's images so far but not its attribute list; "
                      "--force replaces them", dir);
    cli_catch_stop_signals_not_ignored(on_stop_signal);
    double t0 = cli_now();
    atomic_size_t done = 0;
    atomic_int failed = 0;
    for (int k = 0; k < n_threads; k++) {
        ws[k] = (worker){img_dir, seed, n, quality, n_threads, k, t.values, &done, &failed, {{0}}};
        /* sg_thread_start returns its error and leaves errno alone */
        int e = k > 0 ? sg_thread_start(&th[k], work, &ws[k]) : 0;
        if (e) {
            sg_errf(&err, "%s: cannot start worker thread %d of %d (%s): give fewer threads with -j (%d started)",
                    dir, k + 1, n_threads, strerror(e), k);
            die_stopped(&err);
        }
    }
    /* Thread 0 is this one; it also shows progress between images. */
    if (n_threads == 1) {
        /* draw in small slices so the progress line moves */
        worker *w = &ws[0];
        uint8_t *rgb = malloc((size_t)SG_SYNTH_W * SG_SYNTH_H * 3);
        char path[PATH_MAX];
        if (!rgb) die_stopped_oom();
        for (size_t i = 0; i < n; i++) {
            uint8_t *jpg; size_t len;
            if (sg_synth_draw(seed, i, t.values + i * SG_SYNTH_N_ATTRS, rgb, &w->err) != 0
                || sg_jpeg_encode(rgb, SG_SYNTH_W, SG_SYNTH_H, quality, &jpg, &len, &w->err) != 0) die_stopped(&w->err);
            snprintf(path, sizeof path, "%s/%06zu.jpg", img_dir, i + 1);
            if (write_plain(path, jpg, len, &w->err) != 0) die_stopped(&w->err);
            free(jpg);
            if (i + 1 == n) cli_progress_unthrottle();   /* ends on N/N */
            cli_progress("%zu/%zu images", i + 1, n);
        }
        free(rgb);
    } else {
        work(&ws[0]);
        for (int k = 1; k < n_threads; k++) pthread_join(th[k], NULL);
        cli_progress_unthrottle();   /* ends on N/N */
        cli_progress("%zu/%zu images", (size_t)atomic_load(&done), n);
        if (atomic_load(&failed))
            for (int k = 0; k < n_threads; k++)
                if (ws[k].err.msg[0]) die_stopped(&ws[k].err);
    }
    cli_progress_end();
    double dt = cli_now() - t0;

    /* CelebA's proportions: 162770 / 19867 / 19962 of 202599. */
    size_t n_train = (size_t)((double)n * 162770 / 202599 + 0.5);
    size_t n_val = (size_t)((double)n * 19867 / 202599 + 0.5);
    size_t cap = n * 16 + 1;
    char *part = malloc(cap), *p = part;
    if (!part) die_stopped_oom();
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%06zu.jpg %d\n", i + 1, i < n_train ? 0 : i < n_train + n_val ? 1 : 2);
    if (sg_write_file_atomic(part_path, part, (size_t)(p - part), &err) != 0) die_stopped(&err);
    free(part);
    /* a failure leaves no attr_path (its directory's failed fsync after the
     * rename is cli's warning, not a failure: lib/fileio.h) */
    /* held over the write: a signal once the list is renamed into place (the
     * dataset complete) ends the run with no line, one before with its line */
    sigset_t was;
    cli_hold_stop_signals(&was);
    if (sg_attr_table_write(attr_path, &t, NULL, 0, &err) != 0) die_stopped(&err);
    cli_stop_line_set(&stop_line, "%s", "");
    cli_release_stop_signals(&was);
    if (!cli_quiet)
        cli_warn("wrote %zu images to %s in %.2f s (%.0f images/s, %d thread%s)", n, dir, dt,
                 dt > 0 ? n / dt : 0.0, n_threads, n_threads > 1 ? "s" : "");
    sg_attr_table_free(&t);
    free(ws); free(th);
    return 0;
}

/* ---- judge ---------------------------------------------------------------- */

static int judge(char **files, int n_files, int json)
{
    int status = 0, first = 1;
    /* names as celeb-dump --list shows them: escaped (a tab or newline would
     * split the record), UTF-8 kept where the terminal shows it */
    setlocale(LC_CTYPE, "");
    int utf8 = sg_locale_utf8();
    sg_buf name = SG_BUF_INIT;
    if (json) printf("[");
    for (int f = 0; f < n_files; f++) {
        sg_image img = {0};
        sg_err err;
        if (sg_image_read_file(files[f], &img, &err) != 0) { cli_warn("%s", err.msg); status = 1; continue; }
        if (img.width < 4 || img.height < 4) {
            cli_warn("%s: image too small (%dx%d) to judge", files[f], img.width, img.height);
            sg_image_free(&img); status = 1; continue;
        }
        /* a verdict on it would mean nothing: the tools' grids (marked, whatever
         * their shape), and any other image that is not one face's shape */
        if (sg_image_file_has_comment(files[f], SG_IMAGE_GRID_COMMENT)) {
            cli_warn("%s: a grid (sg-sample, sg-train's samples, celeb-dump --grid), not one face; judge sg-sample "
                     "--each outputs", files[f]);
            sg_image_free(&img); status = 1; continue;
        }
        if (sg_synth_judge_framing(img.width, img.height) < 0) {
            cli_warn("%s: %dx%d is not one face (neither square nor 178:218: a grid?); judge sg-sample --each "
                     "outputs", files[f], img.width, img.height);
            sg_image_free(&img); status = 1; continue;
        }
        int out[SG_JUDGE_N];
        float sc[SG_JUDGE_N];
        sg_synth_judge(&img, out, sc);
        if (json) {
            printf("%s\n  {\"file\": ", first ? "" : ",");
            json_write_string(stdout, files[f]);
            printf(", \"width\": %d, \"height\": %d", img.width, img.height);
            for (int a = 0; a < SG_JUDGE_N; a++) printf(", \"%s\": %d", sg_judge_attr_names[a], out[a]);
            printf("}");
        } else {
            sg_buf_clear(&name);
            if (sg_buf_put_escaped(&name, files[f], strlen(files[f]), utf8)) cli_die("out of memory");
            fwrite(name.data, 1, name.len, stdout);
            /* tabs: a blank in a name is no field separator */
            for (int a = 0; a < SG_JUDGE_N; a++) printf("\t%s=%d", sg_judge_attr_names[a], out[a]);
            printf("\n");
        }
        first = 0;
        sg_image_free(&img);
    }
    if (json) printf("%s]\n", first ? "" : "\n");
    sg_buf_free(&name);
    cli_finish_stdout();
    return status;
}

int main(int argc, char **argv)
{
    cli_init(argv);
    enum { OPT_QUALITY = 256, OPT_JUDGE, OPT_JSON, OPT_VERSION };
    static const struct option opts[] = {
        {"count", required_argument, 0, 'n'}, {"seed", required_argument, 0, 's'},
        {"output", required_argument, 0, 'o'}, {"quality", required_argument, 0, OPT_QUALITY},
        {"threads", required_argument, 0, 'j'}, {"force", no_argument, 0, 'f'},
        {"judge", no_argument, 0, OPT_JUDGE}, {"json", no_argument, 0, OPT_JSON},
        {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, OPT_VERSION}, {0, 0, 0, 0},
    };
    long n = 2000, quality = 90, threads = 1;
    uint64_t seed = 1;
    int force = 0, do_judge = 0, json = 0;
    const char *out = NULL, *generating_only = NULL;   /* the last option --judge has no use for */
    int c;
    while ((c = cli_getopt(argc, argv, "n:s:o:j:fqh", opts)) != -1) {
        if (c == 'n' || c == 's' || c == OPT_QUALITY || c == 'j' || c == 'f')
            generating_only = c == 'n' ? "-n/--count" : c == 's' ? "-s/--seed" : c == OPT_QUALITY ? "--quality"
                            : c == 'j' ? "-j/--threads" : "-f/--force";
        switch (c) {
        case 'n': n = cli_parse_long("--count", optarg, 1, 999999); break;
        case 's': seed = cli_parse_u64("--seed", optarg, UINT64_MAX); break;   /* sg_synth's whole range */
        case 'o': out = optarg; break;
        case OPT_QUALITY: quality = cli_parse_long("--quality", optarg, 1, 100); break;
        case 'j': threads = cli_parse_long("--threads", optarg, 0, 256); break;
        case 'f': force = 1; break;
        case OPT_JUDGE: do_judge = 1; break;
        case OPT_JSON: json = 1; break;
        case 'q': cli_quiet = 1; break;
        case 'h': usage(); cli_finish_stdout(); return 0;
        case OPT_VERSION: cli_version();
        default: cli_try_help();   /* an option without a case above */
        }
    }
    if (do_judge) {
        if (out) cli_usage_error("--judge takes images, not -o");
        if (generating_only) cli_usage_error("%s is for drawing a dataset, not for --judge", generating_only);
        if (optind == argc) cli_usage_error("--judge: no images given");
        int stdin_used = 0;
        for (int k = optind; k < argc; k++) {
            cli_refuse_empty_path("--judge: an image file", argv[k]);
            /* the second would read an empty stdin: refused as sg-sample does */
            if (!strcmp(argv[k], "-") && stdin_used++)
                cli_die("'-' (stdin) given twice: give '-' once (standard input can be read only once)");
        }
        return judge(argv + optind, argc - optind, json);
    }
    if (json) cli_usage_error("--json is only for --judge");
    if (optind != argc) cli_usage_error("unexpected argument '%s'", sg_quote_str(argv[optind]).s);
    if (!out) cli_usage_error("no output directory (-o DIR)");
    cli_refuse_empty_path("-o/--output", out);
    cli_refuse_stdout_dir(out, "a dataset is a directory and cannot go to standard output");
    if (threads == 0) {
        threads = sg_cpus_usable();
        if (threads > 256) threads = 256;
    }
    return generate(out, (size_t)n, seed, (int)quality, (int)threads, force);
}
