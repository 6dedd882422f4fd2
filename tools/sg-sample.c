/* sg-sample: translates images with a trained StarGAN generator: a grid over every
 * test-time target (lib/targets), chosen targets (--targets), one file per input and
 * target (--each); inputs from a shard, image files or stdin. See sg-sample(1). */
#include "backend.h"
#include "canvas.h"
#include "font.h"
#include "checkpoint.h"
#include "ckpt_data.h"
#include "ckpt_find.h"
#include "cli.h"
#include "each_dir.h"
#include "fileio.h"
#include "image.h"
#include "image_writer.h"
#include "model.h"
#include "png_stream.h"
#include "rng.h"
#include "run_config.h"
#include "safetensors.h"
#include "shard.h"
#include "strbuf.h"
#include "sysmem.h"
#include "targets.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The records of a shard a grid shows without --count. */
#define GRID_RECORDS_DEFAULT 8

static void usage(void)
{
    printf("Usage: %s --ckpt CKPT [OPTION]... --data SHARD\n"
           "  or:  %s --ckpt CKPT [OPTION]... IMAGE...\n"
           "  or:  %s --ckpt CKPT [OPTION]... --inputs-from LIST\n"
           "Translate images with a trained StarGAN generator. Default output: a grid,\n"
           "one row per input; columns: the input, then every test-time target (each hair\n"
           "colour set exclusively, every other attribute flipped, every class of a one-hot\n"
           "dataset), under a header row naming each column.\n"
           "\n"
           "  -c, --ckpt PATH        run directory (its latest checkpoint), a checkpoint\n"
           "                         prefix (RUN/ckpt/NNNNNN) or a generator file\n"
           "                         (NNNNNN-G.safetensors)\n"
           "  -d, --data SHARD       translate records of this shard (its labels must be\n"
           "                         one of the checkpoint's datasets)\n"
           "      --dataset N|NAME   the checkpoint's dataset the shard's records belong to\n"
           "                         (its number from 1 or its name; default: the one with\n"
           "                         the shard's labels, of several the run's own shard or\n"
           "                         the one named like it); with image files, the dataset\n"
           "                         whose crop frames them (default: the one --targets\n"
           "                         names, else the first)\n"
           "  IMAGE...               PNG or JPEG files of any size ('-' = stdin), turned\n"
           "                         upright as their EXIF orientation says, center-cropped\n"
           "                         and resized as that dataset's training images were\n"
           "      --inputs-from LIST\n"
           "                         instead of IMAGE operands, any number of them:\n"
           "                         the image files named in LIST ('-' = stdin), one\n"
           "                         path a line, taken exactly (an empty line is an\n"
           "                         error), numbered from 0\n"
           "  -0, --null             LIST's paths each end with a NUL byte (find's -print0)\n"
           "  -t, --targets SPEC     one target instead of all: +A,-B,C=0.5 sets A to 1,\n"
           "                         B to 0, C to 0.5 (values in [0,1]); shard inputs\n"
           "                         start from their own labels, image files from zeros;\n"
           "                         DATASET:NAME qualifies (DATASET: a dataset's name\n"
           "                         or its number from 1)\n"
           "  -o, --output PATH      output image (.png or .jpg; '-' = stdout,\n"
           "                         the default), or the output directory with --each\n"
           "      --each             one file per input and target: NNNNNN_TARGET.png (and\n"
           "                         NNNNNN_input.png); NNNNNN = record index or argument\n"
           "                         position; DIR/targets.tsv lists the translations\n"
           "                         (not the inputs); a DIR that holds an earlier\n"
           "                         run's outputs is refused\n"
           "      --append           with --each and image files: add to DIR's earlier\n"
           "                         outputs, numbered on after the highest, rows\n"
           "                         added to targets.tsv\n"
           "      --force            with --each: replace DIR's earlier outputs\n"
           "                         (its numbered files are removed, targets.tsv\n"
           "                         emptied, first)\n"
           "      --grid             a grid even for one input and one --targets target\n"
           "                         (which otherwise gives the translated image alone)\n"
           "  -n, --count N          records of the shard (default %d for a grid, all\n"
           "                         with --each); all of them when the shard holds fewer\n"
           "      --seed S           pick --count records at random with seed S\n"
           "                         (default: the first)\n"
           "      --crop N           center-crop side for image files, 0..65536\n"
           "                         (0: the largest square; default: the dataset's crop\n"
           "                         in the checkpoint, else the largest square; at most\n"
           "                         the image's short side)\n"
           "      --no-exif-rotate   use image files' pixels as stored, ignoring\n"
           "                         their EXIF orientation (as celeb-pack and the\n"
           "                         reference's loader do)\n"
           "      --zoom N           grid cells magnified N times, 1..64\n"
           "                         (default: enough for 96 px)\n"
           "      --format png|jpg   file type with --each (default png)\n"
           "      --device D         cpu, cuda (GPU 0), cuda:N or auto (default auto: GPU 0\n"
           "                         when available)\n"
           "      --precision P      CUDA convolutions: tf32 (default), fp32 or bf16\n"
           "  -b, --batch N          images per generator call, 1..4096 (default 16)\n"
           "      --threads N        CPU threads, 0..1024 (0, the default: the CPUs\n"
           "                         this process may use)\n"
           "      --timing           where the time went, on stderr: inputs, model,\n"
           "                         generator (with its images/s), the rest, output\n"
           "  -q, --quiet            no progress line\n"
           "  -h, --help             this help\n"
           "      --version          version\n"
           "\n"
           "Examples:\n"
           "  %s --ckpt runs/multi --data celebA_test.lmdb --count 8 -o grid.png\n"
           "  %s --ckpt runs/multi --targets +Blond_Hair,-Bangs photo.jpg -o out.png\n"
           "  cat photo.jpg | %s --ckpt runs/multi \\\n"
           "      --targets Blond_Hair=0.5 - > out.png\n"
           "  %s --ckpt runs/multi --data celebB.lmdb --each -o outdir/\n"
           "  find photos -name '*.jpg' | %s --ckpt runs/multi \\\n"
           "      --targets +Blond_Hair --each --inputs-from - -o blond/\n",
           cli_name, cli_name, cli_name, GRID_RECORDS_DEFAULT, cli_name, cli_name, cli_name, cli_name, cli_name);
}

/* One input image, preprocessed to the model's size. */
typedef struct {
    long index;            /* shard record index, or argument position */
    int own_ds;            /* the checkpoint dataset its labels belong to; -1: none */
    float *own_labels;     /* (label_dim[own_ds]) in the checkpoint's order, or NULL */
    uint8_t *rgb;          /* (S, S, 3): in the chunk's pixels while its chunk is translated, or kept */
    uint8_t *kept;         /* an image file that cannot be read twice (stdin, a pipe): its pixels; else NULL */
} input_image;

typedef struct {
    const char *ckpt, *data, *dataset, *targets, *output, *format;
    const char *inputs_from;   /* --inputs-from LIST, or NULL */
    int each, grid, batch, threads, zoom, timing, no_exif_rotate;
    int append, force, null_sep;
    long count;            /* -1: default */
    long crop;             /* -1: checkpoint's */
    int have_seed, have_format;
    uint64_t seed;
    const char *device, *precision;
} options;

/* ---- inputs ------------------------------------------------------------ */

/* Shows a note of lib's (lib/ckpt_data.h), if there is one, as a warning. */
static void warn_note(sg_buf *note)
{
    if (note->len) cli_warn("%s", note->data);
    sg_buf_free(note);
}

/* "crop 178", or "no crop" for 0, as a shard or checkpoint records it. */
static void crop_text(char *out, size_t cap, int crop)
{
    if (crop > 0) snprintf(out, cap, "crop %d", crop);
    else snprintf(out, cap, "no crop");
}

/* The records of the shard --count asks for: its value, else
 * GRID_RECORDS_DEFAULT for a grid, -1 (all) with --each. */
static long records_asked(const options *o)
{
    return o->count >= 0 ? o->count : o->each ? -1 : GRID_RECORDS_DEFAULT;
}

/* Chooses which records to use: the first count (-1: all; all of them too
 * where there are fewer), or count at random with seed; *n_out: how many. */
static long *choose_records(uint64_t n_records, long count, int have_seed, uint64_t seed, long *n_out)
{
    long n = count < 0 || (uint64_t)count > n_records ? (long)n_records : count;
    *n_out = n;
    long *all = malloc(sizeof(long) * (n_records ? n_records : 1));
    if (!all) return NULL;
    for (uint64_t i = 0; i < n_records; i++) all[i] = (long)i;
    if (have_seed)   /* partial Fisher-Yates: the first n positions are a random sample */
        for (long k = 0; k < n; k++) {
            long j = k + (long)sg_randint(seed, SG_STREAM_SAMPLE, (uint64_t)k, (uint32_t)(n_records - k));
            long tmp = all[k]; all[k] = all[j]; all[j] = tmp;
        }
    return all;
}

/* The shard's records to translate: their index and labels. Each record is
 * read whole here (CRC, labels, its pixels decoded into one scratch image),
 * so that a damaged one is found before anything is written; the pixels are
 * read again a chunk at a time as the generator needs them
 * (read_shard_pixels), so that --each over a whole training shard (200,000
 * records: 10 GB of 128 px pixels) needs memory for one chunk only. A second
 * decode of a PNG record costs far less than its translation. The shard stays
 * open (*shard_out). */
static void load_shard_inputs(const options *o, const sg_ckpt_info *ck, const char *g_path, input_image **out,
                              long *n_out, sg_shard **shard_out)
{
    sg_err err = {{0}};
    sg_shard *sh;
    cli_on_crash_blame(o->data);
    if (sg_shard_open(&sh, o->data, &err)) cli_die_err(&err);
    const sg_shard_meta *m = sg_shard_get_meta(sh);
    int S = ck->model.image_size, ds = 0, map[SG_SHARD_MAX_LABELS];
    char run[PATH_MAX];
    sg_ckpt_run_of(o->ckpt, g_path, run, sizeof run);
    sg_buf note = SG_BUF_INIT;
    if (sg_ckpt_match_shard(ck, m, o->data, o->dataset, run, g_path, &ds, map, &note, &err)) cli_die_err(&err);
    warn_note(&note);
    if ((int)m->width != S || (int)m->height != S)
        cli_die("%s: images are %ux%u, the checkpoint's generator takes %dx%d; give a shard packed at that size "
                "(celeb-pack --size %d)", o->data, m->width, m->height, S, S, S);
    int trained_crop = sg_ckpt_dataset_crop(ck, ds);
    /* framed otherwise: worse translations, for no visible reason. A
     * checkpoint of an older build records one crop (the first dataset's):
     * not a word about the others */
    if ((int)m->crop != trained_crop && (ck->dataset_crop_recorded[ds] || ds == 0)) {
        const char *names[SG_MAX_DATASETS];
        char desc[SG_QUOTE_MAX + 32], packed[32], trained[32];
        sg_ckpt_dataset_names(ck, names);
        sg_targets_dataset_desc(&ck->model, names, ds, desc, sizeof desc);
        crop_text(packed, sizeof packed, (int)m->crop);
        crop_text(trained, sizeof trained, trained_crop);
        cli_warn("%s was packed with %s; dataset %s was trained on %s", o->data, packed, desc, trained);
    }
    long n, *order = choose_records(m->count, records_asked(o), o->have_seed, o->seed, &n);
    if (!order) cli_die("out of memory");
    if (n == 0) cli_die("%s: no records", o->data);
    input_image *in = calloc((size_t)n, sizeof *in);
    if (!in) cli_die("out of memory");
    float labels[SG_SHARD_MAX_LABELS];
    uint8_t *scratch = malloc((size_t)S * S * 3);
    if (!scratch) cli_die("out of memory");
    int dim = ck->model.label_dim[ds];
    for (long k = 0; k < n; k++) {
        in[k].index = order[k];
        in[k].own_ds = ds;
        in[k].own_labels = calloc((size_t)dim, sizeof(float));
        if (!in[k].own_labels) cli_die("out of memory");
        if (sg_shard_read(sh, (uint64_t)order[k], scratch, labels, NULL, 0, &err)) cli_die_err(&err);
        for (uint32_t i = 0; i < m->n_labels; i++) in[k].own_labels[map[i]] = labels[i];
        cli_progress("reading %s: %ld/%ld", o->data, k + 1, n);
    }
    cli_progress_end();
    free(scratch);
    free(order);
    *out = in;
    *n_out = n;
    *shard_out = sh;
}

/* Pixels of in[0..n) from the shard into pool (n images of S*S*3 bytes). */
static void read_shard_pixels(sg_shard *sh, input_image *in, long n, int S, uint8_t *pool)
{
    sg_err err = {{0}};
    for (long k = 0; k < n; k++) {
        in[k].rgb = pool + (size_t)k * S * S * 3;
        if (sg_shard_read(sh, (uint64_t)in[k].index, in[k].rgb, NULL, NULL, 0, &err)) cli_die_err(&err);
    }
}

/* A shard directory among the image files (--data forgotten): a usage error
 * saying so, instead of "read: Is a directory" or an option of --data refused.
 * On the error path only; returns when there is none. */
static void refuse_shard_as_image(char **files, int n_files)
{
    for (int k = 0; k < n_files; k++)
        if (strcmp(files[k], "-") && sg_shard_dir_looks_like(files[k]))
            cli_usage_error("%s is a shard, not an image file: give --data %s", files[k],
                            cli_shell_word(files[k]));
}

/* Image file path read, turned upright (exif), center-cropped to crop (0 or
 * more than its short side: the largest square) and resized into rgb
 * (S, S, 3); -1 with err naming the file. */
static int read_file_input(const char *path, int exif, int crop, int S, uint8_t *rgb, sg_err *err)
{
    sg_image img, small;
    /* upright as every viewer shows it: phones store pixels sideways with
     * an EXIF orientation (training data ignores it, as Pillow's loader does) */
    if (sg_image_read_file_oriented(path, exif, &img, err)) return -1;
    int side = img.width < img.height ? img.width : img.height;
    if (crop <= 0 || crop > side) crop = side;
    int rc = sg_center_crop_resize(&img, crop, crop, S, S, &small, err);
    sg_image_free(&img);
    if (rc) return sg_err_prefix(err, "%s", strcmp(path, "-") ? path : "<stdin>");
    memcpy(rgb, small.rgb, (size_t)S * S * 3);
    sg_image_free(&small);
    return 0;
}

/* The image files, each read whole here (decoded, cropped and resized into
 * one scratch image) so that a missing or damaged one is found before
 * anything is written, as a shard's records are (load_shard_inputs); their
 * pixels are read again a chunk at a time as the generator takes them
 * (read_file_pixels), so that --each over 200,000 files needs memory for one
 * chunk, not 10 GB. A file that cannot be read twice (stdin, a pipe: not a
 * regular file) keeps its pixels from this reading. */
static void load_file_inputs(const options *o, int S, int crop, char **files, int n_files, input_image **out,
                             long *n_out)
{
    sg_err err = {{0}};
    int stdin_used = 0;
    input_image *in = calloc((size_t)n_files, sizeof *in);
    uint8_t *scratch = malloc((size_t)S * S * 3);
    if (!in || !scratch) cli_die("out of memory");
    for (int k = 0; k < n_files; k++) {
        if (!strcmp(files[k], "-") && stdin_used++)
            cli_die("'-' (stdin) given twice: give '-' once (standard input can be read only once)");
        struct stat st;
        uint8_t *rgb = scratch;
        if (!strcmp(files[k], "-") || (stat(files[k], &st) == 0 && !S_ISREG(st.st_mode))) {
            if (!(in[k].kept = malloc((size_t)S * S * 3))) cli_die("out of memory");
            rgb = in[k].kept;
        }
        if (read_file_input(files[k], !o->no_exif_rotate, crop, S, rgb, &err)) {
            refuse_shard_as_image(files, n_files);
            cli_die_err(&err);
        }
        in[k].index = k;
        in[k].own_ds = -1;
        cli_progress("reading the image files: %d/%d", k + 1, n_files);
    }
    cli_progress_end();
    free(scratch);
    *out = in;
    *n_out = n_files;
}

/* ---- targets ----------------------------------------------------------- */

typedef struct {
    int n;                 /* targets per input */
    char **names;          /* column names / file-name parts */
    int spec_mode;         /* 1: --targets; 0: every test-time target */
    sg_target_spec spec;
} target_set;

/* A target's file-name part: the label name (qualified by the dataset when
 * several datasets share it), or the --targets text with unsafe characters as '_'. */
static char *safe_name(const char *s)
{
    char *r = strdup(s);
    if (!r) cli_die("out of memory");
    for (char *p = r; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_.=+-", *p)) *p = '_';
    return r;
}

/* --each writes NNNNNN_input and NNNNNN_NAME for every target: a name that is
 * "input" or another target's (labels that differ only in characters safe_name
 * replaces, "a b" and "a_b") gets "@N" appended, N its column from 1. '@' is
 * not in a safe name, so the result repeats no other name. */
static void unique_names(target_set *ts)
{
    for (int t = 0; t < ts->n; t++) {
        int taken = !strcmp(ts->names[t], "input");
        for (int u = 0; u < t && !taken; u++) taken = !strcmp(ts->names[u], ts->names[t]);
        if (!taken) continue;
        size_t len = strlen(ts->names[t]) + 16;
        char *r = malloc(len);
        if (!r) cli_die("out of memory");
        snprintf(r, len, "%s@%d", ts->names[t], t + 1);
        free(ts->names[t]);
        ts->names[t] = r;
    }
}

static void make_target_set(const options *o, const sg_ckpt_info *ck, target_set *ts)
{
    sg_err err = {{0}};
    memset(ts, 0, sizeof *ts);
    const sg_model_config *cfg = &ck->model;
    const char *dataset_names[SG_MAX_DATASETS];
    sg_ckpt_dataset_names(ck, dataset_names);
    if (o->targets) {
        if (sg_targets_parse(cfg, (const char *const *)ck->label_names,
                             dataset_names, o->targets, &ts->spec, &err))
            cli_die_err(&err);
        ts->spec_mode = 1;
        ts->n = 1;
        ts->names = malloc(sizeof(char *));
        if (!ts->names) cli_die("out of memory");
        ts->names[0] = safe_name(o->targets);
        unique_names(ts);
        return;
    }
    ts->n = sg_targets_count(cfg);
    ts->names = calloc((size_t)ts->n, sizeof(char *));
    if (!ts->names) cli_die("out of memory");
    for (int t = 0; t < ts->n; t++) {
        char buf[512];   /* the name --targets takes: DATASET:NAME (or N:NAME) when datasets share it */
        sg_targets_name(cfg, (const char *const *)ck->label_names, dataset_names, t, buf, sizeof buf);
        ts->names[t] = safe_name(buf);
    }
    unique_names(ts);
}

/* c (n_in, c_dim): target t of every input. */
static void fill_target_labels(const sg_ckpt_info *ck, const target_set *ts, int t,
                               const input_image *in, long n_in, float *c, float *scratch)
{
    const sg_model_config *cfg = &ck->model;
    int c_dim = sg_model_c_dim(cfg);
    const char *const *names = (const char *const *)ck->label_names;
    for (long k = 0; k < n_in; k++) {
        float *row = c + (size_t)k * c_dim;
        if (ts->spec_mode) {
            sg_targets_apply(cfg, names, &ts->spec, in[k].own_ds, in[k].own_labels, row);
        } else {
            sg_err err = {{0}};
            if (sg_targets_all(cfg, names, in[k].own_ds, in[k].own_labels, scratch, &err)) cli_die_err(&err);
            memcpy(row, scratch + (size_t)t * c_dim, sizeof(float) * (size_t)c_dim);
        }
    }
}

/* ---- output ------------------------------------------------------------ */

#define GRID_PAD 2       /* pixels between cells, as torchvision's save_image */

typedef struct {
    sg_canvas cv;
    int active, cell, zoom, header_h, cols;
} grid_layout;

/* Header text: the name split at '_' or ',' into lines that fit the cell. */
static int header_lines(const char *name, int chars_per_line, char lines[][64], int max_lines)
{
    int n = 0;
    const char *p = name;
    while (*p && n < max_lines) {
        int len = 0, last_break = -1;
        while (p[len] && len < chars_per_line && len < 63) {
            if (p[len] == '_' || p[len] == ',') last_break = len;
            len++;
        }
        if (p[len] && last_break > 0) len = last_break + 1;
        snprintf(lines[n], 64, "%.*s", len, p);
        size_t l = strlen(lines[n]);
        if (l > 1 && lines[n][l - 1] == '_') lines[n][l - 1] = 0;
        n++;
        p += len;
    }
    return n;
}

static void grid_begin(grid_layout *g, const options *o, int S, const target_set *ts, long n_rows)
{
    g->zoom = o->zoom > 0 ? o->zoom : (96 + S - 1) / S;
    g->cell = S * g->zoom;
    g->cols = 1 + ts->n;
    int chars = (g->cell - 2) / SG_FONT_CELL_W, max_lines = 1;   /* a gap between columns */
    if (chars < 1) chars = 1;
    char lines[8][64];
    for (int t = 0; t < ts->n; t++) {
        int n = header_lines(ts->names[t], chars, lines, 8);
        if (n > max_lines) max_lines = n;
    }
    g->header_h = GRID_PAD + max_lines * SG_FONT_CELL_H;
    long w = (long)g->cols * (g->cell + GRID_PAD) + GRID_PAD;
    long h = g->header_h + n_rows * (g->cell + GRID_PAD) + GRID_PAD;
    const long max = SG_CANVAS_MAX_SIDE;
    if (w > max || h > max) {
        /* what to lower: the targets for the width, the inputs for the
         * height (naming as many as fit), the zoom unless it is 1 already */
        long rows_fit = (max - g->header_h - GRID_PAD) / (g->cell + GRID_PAD);
        char ways[4][64];
        int n = 0;
        if (w > max) snprintf(ways[n++], 64, "fewer targets (--targets)");
        if (h > max && rows_fit >= 1 && o->data) snprintf(ways[n++], 64, "--count %ld or less", rows_fit);
        else if (h > max && rows_fit >= 1) snprintf(ways[n++], 64, "at most %ld image files", rows_fit);
        if (g->zoom > 1) snprintf(ways[n++], 64, "--zoom 1");
        snprintf(ways[n++], 64, "--each");
        char advice[300] = "";
        for (int i = 0; i < n; i++)
            snprintf(advice + strlen(advice), sizeof advice - strlen(advice), "%s%s",
                     i == 0 ? "" : i < n - 1 ? ", " : n > 2 ? ", or " : " or ", ways[i]);
        cli_die("the grid would be %ldx%ld pixels, too %s (at most %ld a side): use %s", w, h,
                w > max && h > max ? "wide and too tall" : w > max ? "wide" : "tall", max, advice);
    }
    sg_err err = {{0}};
    if (sg_canvas_init(&g->cv, (int)w, (int)h, SG_RGB(255, 255, 255), &err)) cli_die_err(&err);
    g->active = 1;
    for (int col = 0; col < g->cols; col++) {
        const char *name = col == 0 ? "input" : ts->names[col - 1];
        int n = header_lines(name, chars, lines, 8);
        for (int l = 0; l < n; l++)
            sg_canvas_text(&g->cv, GRID_PAD + col * (g->cell + GRID_PAD), GRID_PAD + l * SG_FONT_CELL_H,
                           lines[l], 1, SG_RGB(0, 0, 0));
    }
}

/* The top pixel row of the grid's row of cells `row`. Everything above it
 * (the header, the rows before and the padding below each) is final once
 * those rows are pasted: what the background PNG encoder may take. */
static int grid_row_top(const grid_layout *g, long row)
{
    return g->header_h + (int)row * (g->cell + GRID_PAD);
}

/* Pastes an (S,S,3) image into cell (row, col), magnified by zoom (nearest). */
static void grid_put(grid_layout *g, long row, int col, const uint8_t *rgb, int S)
{
    sg_canvas_blit(&g->cv, rgb, S, S, GRID_PAD + col * (g->cell + GRID_PAD), grid_row_top(g, row), g->zoom);
}

static void write_image(const char *path, const uint8_t *rgb, int w, int h)
{
    sg_err err = {{0}};
    if (sg_image_write(path, rgb, w, h, &err)) cli_die_output_err(&err, path);
}

typedef struct { sg_file_entry e; const char *path, *what; } input_entry;

static int cmp_input_entry(const void *pa, const void *pb)
{
    const sg_file_entry *a = &((const input_entry *)pa)->e, *b = &((const input_entry *)pb)->e;
    if (a->dev != b->dev) return a->dev < b->dev ? -1 : 1;
    if (a->ino != b->ino) return a->ino < b->ino ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* Dies when writing out would replace one of the inputs known (sorted), or
 * standard input's file. */
static void refuse_known_input(const char *out, const input_entry *known, int n_known, int from_stdin,
                               const char *advice)
{
    input_entry o;
    if (!strcmp(out, "-") || sg_replaced_entry(out, &o.e)) return;   /* stdout, missing, a device: replaces nothing */
    const input_entry *hit = bsearch(&o, known, (size_t)n_known, sizeof *known, cmp_input_entry);
    if (hit) cli_refuse_output_is_input(out, hit->what, hit->path, advice);
    if (from_stdin) cli_refuse_output_is_input(out, "input", "-", advice);
}

/* --each: every output's name fits in DIR (its NAME_MAX, with the
 * ".tmp.PID.N" of the temporary each is written to first), checked before
 * anything is written: a label of 250 bytes (a folder's name, celeb-pack -F)
 * failed at its first file, after the outputs before it, leaving DIR as an
 * interrupted run's. */
static void refuse_long_each_names(const char *dir, const input_image *in, long n_in, const target_set *ts,
                                   const char *ext)
{
    long top = 0;
    for (long k = 0; k < n_in; k++)
        if (in[k].index > top) top = in[k].index;
    long name_max = pathconf(dir, _PC_NAME_MAX);
    if (name_max <= 0) {   /* DIR not made yet: its parent's */
        char parent[PATH_MAX];
        sg_dir_of(dir, parent, sizeof parent);
        name_max = pathconf(parent, _PC_NAME_MAX);
    }
    if (name_max <= 0) name_max = NAME_MAX;
    size_t temp = sg_temp_name_extra(".tmp.");
    size_t fixed = (size_t)snprintf(NULL, 0, "%06ld_.", top) + strlen(ext);
    for (int t = 0; t < ts->n; t++)
        if (fixed + strlen(ts->names[t]) + temp > (size_t)name_max)
            cli_die("%s: target %s would give file names of %zu bytes (%06ld_ and .%s added), more than the %ld a "
                    "name there can have less the %zu of the temporary each file is written to first: leave it out "
                    "with --targets, or write a grid (without --each)", dir, ts->names[t],
                    fixed + strlen(ts->names[t]), top, ext, name_max, temp);
}

/* Before anything is written: no output may replace an input (sg-sample
 * p.jpg -o p.jpg), the generator file or the --inputs-from list (read
 * whole before, but the user's list all the same), or land in the shard
 * read (lib/fileio.h). With --each, every file the run will write. */
static void refuse_outputs_over_inputs(const options *o, char **files, int n_files, const char *g_path,
                                       const input_image *in, long n_in, const target_set *ts, const char *ext,
                                       const sg_each_known *earlier)
{
    /* Each input's entry once, sorted; then one lookup per existing output
     * (comparing every --each output with every input was quadratic: 7
     * million stats before a rerun of 300 images into the same directory). */
    int n_known = 0, from_stdin = 0;
    input_entry *known = malloc(((size_t)n_files + 2) * sizeof *known);
    if (!known) cli_die("out of memory");
    for (int k = -2; k < n_files; k++) {
        const char *name = k == -2 ? o->inputs_from : k == -1 ? g_path : files[k];
        if (!name) continue;
        if (!strcmp(name, "-")) from_stdin = 1;
        else if (!sg_replaced_entry(name, &known[n_known].e)) {
            known[n_known].path = name;
            known[n_known++].what = k == -2 ? "--inputs-from list" : k == -1 ? "generator file" : "input";
        }
    }
    qsort(known, (size_t)n_known, sizeof *known, cmp_input_entry);
    if (!o->each) {
        cli_refuse_output_in_shard(o->output, o->data);
        refuse_known_input(o->output, known, n_known, from_stdin, "choose another -o");
        cli_refuse_output_over_data(o->output, "choose another -o");   /* a shard's data.mdb, a run's latest */
    } else {
        refuse_long_each_names(o->output, in, n_in, ts, ext);
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/targets.tsv", o->output);
        cli_refuse_output_in_shard(path, o->data);
        /* every file of --each goes into DIR: one check for all (DIR a shard, a run's ckpt/) */
        cli_refuse_output_over_data(path, "choose another -o DIR");
        refuse_known_input(path, known, n_known, from_stdin, "choose another -o DIR");
        for (long k = 0; k < n_in; k++)
            for (int t = -1; t < ts->n; t++) {
                sg_each_path(path, sizeof path, o->output, in[k].index, t < 0 ? "input" : ts->names[t], ext);
                refuse_known_input(path, known, n_known, from_stdin, "choose another -o DIR");
            }
        DIR *d = o->force ? opendir(o->output) : NULL;
        const char *name;
        long number;
        /* and every earlier output --force removes */
        while (d && (name = sg_each_next_output(d, earlier, &number))) {
            snprintf(path, sizeof path, "%s/%s", o->output, name);
            refuse_known_input(path, known, n_known, from_stdin,
                               "--force would remove it as an earlier output; choose another -o DIR");
        }
        if (d) closedir(d);
    }
    free(known);
}

/* path's directory into dir and its last component into base (trailing
 * slashes ignored: "RUN/ckpt/" is RUN and ckpt). */
static void split_path(const char *path, char *dir, size_t dir_cap, char *base, size_t base_cap)
{
    char p[PATH_MAX];
    if (sg_path_trim_slashes(path, p, sizeof p)) snprintf(p, sizeof p, "%s", path);   /* cut: as it was */
    sg_dir_of(p, dir, dir_cap);
    const char *slash = strrchr(p, '/');
    snprintf(base, base_cap, "%s", slash ? slash + 1 : p);
}

/* A near miss for a run: one of its files (RUN/latest, RUN/config.json) or
 * its ckpt directory given as --ckpt, where RUN itself was meant. Called on
 * the error path only; dies with what to give, or returns. */
static void die_run_part(const char *arg)
{
    char dir[PATH_MAX], base[PATH_MAX];
    split_path(arg, dir, sizeof dir, base, sizeof base);
    struct stat st;
    if (stat(arg, &st) != 0 || !sg_run_exists(dir)) return;
    const char *l = strrchr(base, '.');
    if (S_ISREG(st.st_mode) && !(l && !strcmp(l, ".safetensors")))
        cli_die("%s is the run's %s file, not a checkpoint: give the run, --ckpt %s (its latest checkpoint)", arg,
                base, cli_shell_word(dir));
    int64_t latest;
    sg_err ignored;
    if (S_ISDIR(st.st_mode) && !strcmp(base, "ckpt") && !sg_ckpt_latest(dir, &latest, &ignored) && latest >= 0)
        cli_die("%s is the ckpt directory of the run %s, not a checkpoint: give the run, --ckpt %s (its latest "
                "checkpoint)", arg, dir, cli_shell_word(dir));
}

/* Dies with sg_ckpt_find_generator's error; for a run directory without
 * RUN/latest (deleted, or lost with a copy of the run) names the newest
 * complete checkpoint as --ckpt takes it, else the newest G file there (one
 * without D and state files), else says what the directory is (a shard,
 * no run, a run without a checkpoint yet); for a PyTorch
 * checkpoint (the reference's NNNNNN-G.ckpt), says how to convert it. */
static void die_no_generator(const char *arg, const char *g_path, const sg_err *err)
{
    if (g_path[0] && sg_st_torch_format(g_path))
        cli_die("%s; convert it with convert_reference_ckpt.py (see sg-sample(1))", err->msg);
    die_run_part(arg);
    int64_t latest;
    sg_err ignored;
    char run[PATH_MAX];   /* RUN/ckpt/..., not RUN//ckpt/... */
    if (sg_path_trim_slashes(arg, run, sizeof run)) cli_die_err(err);
    if (sg_ckpt_arg_is_run(run) && !sg_ckpt_latest(run, &latest, &ignored) && latest < 0) {
        int64_t newest = sg_ckpt_newest_complete(run, INT64_MAX);
        char prefix[PATH_MAX];
        if (newest >= 0) {
            sg_ckpt_path(prefix, sizeof prefix, run, newest, NULL);
            cli_die("%s; to sample from the newest complete checkpoint there: --ckpt %s", err->msg,
                    cli_shell_word(prefix));
        }
        /* a G alone (a converted reference checkpoint in RUN/ckpt, or a
         * directory of G files given as RUN) */
        char ckdir[PATH_MAX];
        snprintf(ckdir, sizeof ckdir, "%s/ckpt", run);
        if (!sg_ckpt_newest_generator_file(ckdir, prefix, sizeof prefix) ||
            !sg_ckpt_newest_generator_file(run, prefix, sizeof prefix))
            cli_die("%s; a G file is there: --ckpt %s", err->msg, cli_shell_word(prefix));
        /* no checkpoint at all: a shard given for --ckpt (the two swapped),
         * a directory that holds no run, or a run not yet saved */
        char mdb[PATH_MAX + 16];
        snprintf(mdb, sizeof mdb, "%s/data.mdb", run);
        if (!sg_path_missing(mdb))
            cli_die("%s: it is a shard (data.mdb); give it with --data, and --ckpt a run directory, RUN/ckpt/NNNNNN "
                    "or an NNNNNN-G.safetensors file", err->msg);
        if (!sg_run_exists(run))
            cli_die("%s: no run there (no config.json); give --ckpt the directory sg-train -o wrote, "
                    "RUN/ckpt/NNNNNN or an NNNNNN-G.safetensors file", err->msg);
        char when[160];
        sg_run_first_save(run, when, sizeof when);
        cli_die("%s: the run has written no checkpoint yet; %s", err->msg, when);
    }
    cli_die_err(err);
}

/* The crop side for image files, 0 for the largest square: --crop; else the
 * crop of the dataset the images are framed as (sg_ckpt_file_crop), which
 * --dataset names, else the dataset of the --targets target, else (every
 * target: several datasets) the first dataset's. */
static int file_crop(const options *o, const sg_ckpt_info *ck, const char *g_path, const target_set *ts)
{
    const char *names[SG_MAX_DATASETS];
    sg_ckpt_dataset_names(ck, names);
    int ds = 0;
    sg_err err = {{0}};
    if (o->dataset &&   /* checked even beside --crop: a typo is never taken silently */
        sg_targets_dataset_parse(&ck->model, names, o->dataset, &ds, &err)) {
        sg_err_prefix(&err, "--dataset %s", sg_quote_str(o->dataset).s);
        cli_die_err(&err);
    }
    if (o->crop >= 0) return (int)o->crop;
    char run[PATH_MAX];
    sg_ckpt_run_of(o->ckpt, g_path, run, sizeof run);
    int crop;
    sg_buf note = SG_BUF_INIT;
    if (sg_ckpt_file_crop(ck, run, g_path, o->dataset ? ds : ts->spec_mode ? ts->spec.ds : -1, &crop, &note, &err))
        cli_die_err(&err);
    warn_note(&note);
    return crop;
}

/* ---- main -------------------------------------------------------------- */

static sg_backend *open_backend(const options *o, sg_err *err)
{
    char note[512];
    /* legacy cuDNN algorithms unless SG_CUDNN_SEARCH asks: timed engines
     * (sg-train's default) are chosen by timings, so two runs could differ,
     * and the search costs seconds a short translation does not win back */
    sg_backend *be = sg_backend_open(o->device, o->precision, o->threads, SG_CUDNN_SEARCH_LEGACY, note, sizeof note,
                                     err);
    if (!be) return NULL;
    cli_note_device_auto(note, "running");
    cli_note_precision_on_cpu(o->precision, be->name);
    return be;
}

/* What main()'s steps share: the options, the checkpoint, the inputs, the
 * generator and the outputs being written. */
typedef struct {
    options o;
    char **files;              /* the image file operands */
    int n_files;
    sg_err err;                /* one for the whole run: each step dies on its own failure */
    sg_ckpt_info ck;
    char g_path[PATH_MAX];     /* the generator file */
    int S;                     /* the side of the images the generator takes */
    target_set ts;
    input_image *in;
    long n_in;
    int crop;                  /* image files: their crop side (file_crop) */
    sg_shard *shard;           /* --data: open, its pixels read a chunk at a time; else NULL */
    const char *ext;           /* --each files' extension */
    sg_backend *be;
    sg_model *model;
    long chunk;                /* images per generator call */
    char chunk_why[160];       /* --timing: why chunk is below --batch (and the inputs), or "" */
    int plain;                 /* the translated image alone: one input, one --targets target */
    grid_layout g;
    sg_png_background *grid_png;
    int c_dim;
    size_t img_floats;         /* floats of one (3, S, S) image */
    float *x, *y, *c, *scratch;   /* one chunk's inputs, outputs and labels; sg_targets_all's rows */
    uint8_t *rgb, *pixels;     /* one output image; one chunk of inputs (shard records, image files) */
    long done, total;          /* images translated, to translate */
    sg_buf manifest;           /* --each: targets.tsv */
    int dir_claimed;           /* --each: DIR locked and its earlier outputs checked (claim_each_dir) */
    long index_base;           /* --append: the image files' numbers start here */
    uint8_t *old_list;         /* --append: DIR's targets.tsv as it was, or NULL */
    sg_each_known earlier;     /* --each: what marks a file in DIR as an earlier run's output */
    size_t old_list_len;
    sg_image_writer *files_out;
    long queued_hi;            /* --each: the highest input number whose files were queued, -1 before */
    char first_queued[PATH_MAX];   /* --each: the first file queued, "" before */
    /* targets.tsv's dataset column: its name, or N:NAME when several
     * datasets have that name (x/train.lmdb, y/train.lmdb) */
    char dataset_column[SG_MAX_DATASETS][SG_CKPT_NAME_MAX + 16];
    double t_start, t_inputs, t_model, t_generator, t_loop;
} run_state;

/* Options into r->o, operands into r->files: a bad value is a usage error
 * (exit 2); --help and --version exit 0. */
static void parse_options(run_state *r, int argc, char **argv)
{
    options *o = &r->o;
    *o = (options){.output = "-", .format = "png", .batch = 16, .count = -1, .crop = -1, .device = "auto"};
    enum { OPT_EACH = 256, OPT_GRID, OPT_SEED, OPT_CROP, OPT_ZOOM, OPT_FORMAT, OPT_DEVICE,
           OPT_THREADS, OPT_PRECISION, OPT_TIMING, OPT_DATASET, OPT_VERSION, OPT_NO_EXIF_ROTATE,
           OPT_APPEND, OPT_FORCE, OPT_INPUTS_FROM };
    static const struct option longopts[] = {
        {"ckpt", required_argument, 0, 'c'},     {"data", required_argument, 0, 'd'},
        {"dataset", required_argument, 0, OPT_DATASET},
        {"targets", required_argument, 0, 't'},  {"output", required_argument, 0, 'o'},
        {"each", no_argument, 0, OPT_EACH},      {"grid", no_argument, 0, OPT_GRID},
        {"append", no_argument, 0, OPT_APPEND},  {"force", no_argument, 0, OPT_FORCE},
        {"inputs-from", required_argument, 0, OPT_INPUTS_FROM}, {"null", no_argument, 0, '0'},
        {"count", required_argument, 0, 'n'},    {"seed", required_argument, 0, OPT_SEED},
        {"crop", required_argument, 0, OPT_CROP}, {"zoom", required_argument, 0, OPT_ZOOM},
        {"format", required_argument, 0, OPT_FORMAT}, {"device", required_argument, 0, OPT_DEVICE},
        {"precision", required_argument, 0, OPT_PRECISION},
        {"batch", required_argument, 0, 'b'},    {"threads", required_argument, 0, OPT_THREADS},
        {"timing", no_argument, 0, OPT_TIMING},   {"no-exif-rotate", no_argument, 0, OPT_NO_EXIF_ROTATE},
        {"quiet", no_argument, 0, 'q'},          {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, OPT_VERSION}, {0, 0, 0, 0}};
    int opt;
    while ((opt = cli_getopt(argc, argv, "c:d:t:o:n:b:qh0", longopts)) != -1) {
        switch (opt) {
        case 'c': o->ckpt = optarg; break;
        case 'd': o->data = optarg; break;
        case OPT_DATASET: o->dataset = optarg; break;
        case 't': o->targets = optarg; break;
        case 'o': o->output = optarg; break;
        case OPT_EACH: o->each = 1; break;
        case OPT_APPEND: o->append = 1; break;
        case OPT_FORCE: o->force = 1; break;
        case OPT_INPUTS_FROM: o->inputs_from = optarg; break;
        case '0': o->null_sep = 1; break;
        case OPT_GRID: o->grid = 1; break;
        case 'n': o->count = cli_parse_long("--count", optarg, 1, LONG_MAX); break;
        case OPT_SEED: o->seed = cli_parse_u64("--seed", optarg, UINT64_MAX); o->have_seed = 1; break;
        case OPT_CROP: o->crop = cli_parse_long("--crop", optarg, 0, 65536); break;
        case OPT_ZOOM: o->zoom = (int)cli_parse_long("--zoom", optarg, 1, 64); break;
        case OPT_FORMAT:
            if (strcmp(optarg, "png") && strcmp(optarg, "jpg"))
                cli_usage_error("--format: expected png or jpg, not '%s'", sg_quote_str(optarg).s);
            o->format = optarg;
            o->have_format = 1;
            break;
        case OPT_DEVICE: o->device = cli_parse_device(optarg); break;
        case OPT_PRECISION: o->precision = cli_parse_precision(optarg); break;
        case 'b': o->batch = (int)cli_parse_long("--batch", optarg, 1, 4096); break;
        case OPT_THREADS: o->threads = (int)cli_parse_long("--threads", optarg, 0, 1024); break;
        case OPT_TIMING: o->timing = 1; break;
        case OPT_NO_EXIF_ROTATE: o->no_exif_rotate = 1; break;
        case 'q': cli_quiet = 1; break;
        case 'h': usage(); cli_finish_stdout(); exit(0);
        case OPT_VERSION: cli_version();
        default: cli_try_help();   /* an option without a case above */
        }
    }
    r->n_files = argc - optind;
    r->files = argv + optind;
}

/* The operands and the options together: usage errors, exit 2. */
static void check_options(const run_state *r)
{
    const options *o = &r->o;
    if (!o->ckpt) cli_usage_error("--ckpt is required");
    cli_refuse_empty_path("--ckpt", o->ckpt);
    cli_refuse_empty_path("-o/--output", o->output);
    cli_refuse_empty_path("--data", o->data);
    for (int k = 0; k < r->n_files; k++) cli_refuse_empty_path("an image file", r->files[k]);
    cli_refuse_empty_path("--inputs-from", o->inputs_from);
    if (o->inputs_from && (o->data || r->n_files))
        cli_usage_error("give --inputs-from or %s, not both", o->data ? "--data" : "image files");
    if (o->null_sep && !o->inputs_from) cli_usage_error("--null is only for --inputs-from");
    if (!o->data && r->n_files == 0 && !o->inputs_from)
        cli_usage_error("give --data SHARD or image files ('-' for stdin)");
    if (o->data && r->n_files) cli_usage_error("give --data or image files, not both");
    if (o->dataset && !*o->dataset) cli_usage_error("--dataset: empty (give a dataset's number or name)");
    if (o->each && !strcmp(o->output, "-")) cli_usage_error("--each needs -o DIR");
    if (o->each && o->grid) cli_usage_error("--each and --grid exclude each other");
    if (o->append && !o->each) cli_usage_error("--append is only for --each");
    if (o->force && !o->each) cli_usage_error("--force is only for --each (one output file is always replaced)");
    if (o->append && o->force) cli_usage_error("--append and --force exclude each other");
    if (o->append && o->data)
        cli_usage_error("--append is only for image files: translate a shard in one run");
    /* an option of the other input or output mode is refused, never taken
     * silently (--format jpg wrote a PNG to -o x.png without a word) */
    if (o->data && o->crop >= 0) cli_usage_error("--crop is only for image files (a shard was cropped when packed)");
    if (o->data && o->no_exif_rotate) cli_usage_error("--no-exif-rotate is only for image files");
    if (!o->data && (o->count >= 0 || o->have_seed)) refuse_shard_as_image(r->files, r->n_files);
    if (!o->data && o->count >= 0) cli_usage_error("--count is only for --data");
    if (!o->data && o->have_seed) cli_usage_error("--seed is only for --data");
    if (!o->each && o->have_format) {
        /* one output: -o's suffix gives the type (standard output: PNG); a
         * --format that agrees with it is redundant, not wrong */
        int jpeg = strcmp(o->output, "-") && sg_image_path_is_jpeg(o->output);
        if ((strcmp(o->format, "jpg") == 0) != jpeg)
            cli_usage_error("--format %s: the one output %s is written as %s (its type is -o's suffix, .png or "
                            ".jpg; --format is for --each)", o->format,
                            strcmp(o->output, "-") ? cli_shell_word(o->output) : "(standard output)",
                            jpeg ? "JPEG" : "PNG");
    }
    if (o->each && o->zoom) cli_usage_error("--zoom is only for a grid, not --each");
    if (!o->each) cli_refuse_image_to_terminal(o->output);
}

/* --inputs-from LIST: its paths into r->files, one a line (each ended by a
 * NUL byte with --null; the last one's end may be missing), taken exactly
 * but for that end: a path may hold blanks. An empty one is an error (a
 * script's empty variable names no file), as is a NUL byte in a line (a
 * find -print0 list without --null). "-" is the file of that name: standard
 * input may be the list. */
#define INPUT_LIST_MAX ((size_t)1 << 30)   /* 1 GiB: ten million paths and more */

static void read_input_list(run_state *r)
{
    static char dash_file[] = "./-";
    const char *list = r->o.inputs_from, *shown = strcmp(list, "-") ? list : "<stdin>";
    const char *unit = r->o.null_sep ? "entry" : "line";
    char sep = r->o.null_sep ? '\0' : '\n';
    uint8_t *data;
    size_t len, n = 0;
    /* not without a limit: /dev/zero, or `yes a.jpg |`, took all the memory there was */
    if (sg_read_file(list, INPUT_LIST_MAX, &data, &len, &r->err)) {
        if (r->err.sys_errno == E2BIG)
            cli_die("%s; --inputs-from takes a list of image paths: split a larger one and give each part to a "
                    "run of its own (--each --append)", r->err.msg);
        cli_die_err(&r->err);
    }
    for (size_t i = 0; i < len; i++) n += data[i] == (uint8_t)sep;
    if (len && data[len - 1] != (uint8_t)sep) n++;
    if (n == 0) cli_die("%s: no image paths in it", shown);
    if (n > INT_MAX) cli_die("%s: more than %d image paths; split it", shown, INT_MAX);
    char **files = malloc(n * sizeof *files);
    if (!files) cli_die("out of memory");
    char *p = (char *)data, *end = p + len;   /* data[len] is a NUL (sg_read_file) */
    for (size_t k = 0; k < n; k++) {
        char *e = memchr(p, sep, (size_t)(end - p));
        if (!e) e = end;
        *e = 0;
        if (e == p)
            cli_die("%s: %s %zu is empty (an empty %s names no image file)", shown, unit, k + 1, unit);
        if (strlen(p) != (size_t)(e - p))
            cli_die("%s: line %zu holds a NUL byte (paths each ended by one, as find -print0 writes them: give "
                    "--null)", shown, k + 1);
        files[k] = strcmp(p, "-") ? p : dash_file;
        p = e + 1;
    }
    r->files = files;
    r->n_files = (int)n;
}

/* A copy of the len bytes at s appended to l. */
static void add_name(sg_names *l, const char *s, size_t len)
{
    if (sg_names_add(l, s, len)) cli_die("out of memory");
}

/* --each: the names after NNNNNN_ of the outputs this checkpoint writes:
 * "input", this run's targets and every single target's (a run without
 * --targets), whichever an interrupted run in DIR was given. */
static void each_labels(run_state *r)
{
    sg_names *labels = &r->earlier.labels;
    target_set all = {0};
    if (r->ts.spec_mode) {
        options o = r->o;
        o.targets = NULL;
        make_target_set(&o, &r->ck, &all);
    }
    add_name(labels, "input", 5);
    for (int t = 0; t < r->ts.n; t++) add_name(labels, r->ts.names[t], strlen(r->ts.names[t]));
    for (int t = 0; t < all.n; t++) {
        add_name(labels, all.names[t], strlen(all.names[t]));
        free(all.names[t]);
    }
    free(all.names);
    sg_names_sort(labels);
}

/* The checkpoint's generator file and its targets. */
static void open_checkpoint(run_state *r)
{
    const options *o = &r->o;
    /* a live run's latest checkpoint, read again when sg-train --keep deleted
     * the one latest named before its file was opened (lib/ckpt_find.h) */
    r->g_path[0] = 0;
    if (sg_ckpt_find_generator(o->ckpt, r->g_path, sizeof r->g_path, &r->ck, &r->err))
        die_no_generator(o->ckpt, r->g_path, &r->err);
    r->S = r->ck.model.image_size;
    make_target_set(o, &r->ck, &r->ts);
    if (o->each) each_labels(r);
}

/* The inputs, each read whole and checked (load_shard_inputs,
 * load_file_inputs); their pixels are read again a chunk at a time
 * (put_inputs). */
static void open_inputs(run_state *r)
{
    const options *o = &r->o;
    if (o->inputs_from) read_input_list(r);
    if (o->data) {
        load_shard_inputs(o, &r->ck, r->g_path, &r->in, &r->n_in, &r->shard);
    } else {
        r->crop = file_crop(o, &r->ck, r->g_path, &r->ts);
        load_file_inputs(o, r->S, r->crop, r->files, r->n_files, &r->in, &r->n_in);
    }
}

/* ---- --each's directory ------------------------------------------------ */

/* sg_each_remove_command's text, for a message; held until the next call. */
static const char *remove_command(const char *dir, long lo, long hi, const sg_names *labels, int exts)
{
    static sg_buf cmd = SG_BUF_INIT;
    sg_err err = {{0}};
    sg_buf_clear(&cmd);
    if (sg_each_remove_command(&cmd, dir, lo, hi, labels, exts, &err)) cli_die_err(&err);
    return cmd.data;
}

/* DIR's targets.tsv, list: the file names it lists into r->earlier, and
 * itself into r->old_list for --append; returns its highest input number, or
 * -2 (*bad_line) when it is no list --each writes (sg_each_list_highest).
 * --force replaces a list it cannot read (the files it names are then only
 * those named like outputs) and needs no number: -1. */
static long read_each_list(run_state *r, const char *list, long *bad_line)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (sg_refuse_irregular(list, &r->err) || sg_read_file(list, SIZE_MAX / 2, &data, &len, &r->err)) {
        if (!r->o.force) cli_die_err(&r->err);
        r->err = (sg_err){{0}};
        return -1;
    }
    if (sg_each_list_names(data, len, &r->earlier.listed, &r->err)) cli_die_err(&r->err);
    if (r->o.force) {
        free(data);
        return -1;
    }
    r->old_list = data, r->old_list_len = len;
    return sg_each_list_highest(data, len, bad_line);
}

/* DIR holds an earlier run (its targets.tsv, list, or outputs, summed up in
 * scan): refused, unless this is --append and the list names every output
 * there; --append's numbers then follow the list's highest (r->index_base).
 * A list of its header alone and no output (what a --force run stopped
 * before its first file leaves) is no earlier run: nothing there to keep.
 * --data's outputs are numbered by record, so its advice is --force alone. */
static void check_earlier_run(run_state *r, const char *list, int has_list, long highest_listed, long bad_line,
                              const sg_each_scan *scan)
{
    const char *dir = r->o.output;
    int files_in = !r->o.data;   /* --append is for image files only */
    if (highest_listed == -2)
        cli_die("%s: line %ld is not what sg-sample --each writes (%s): %s--force replaces the outputs in %s", list,
                bad_line,
                bad_line == 1 ? "its header, file, input, target, dataset, value"
                              : "five tab-separated fields, the second an input's number of at most 15 digits",
                files_in ? "--append adds only to such a list; " : "", dir);
    if (highest_listed == -1 && !scan->count) return;
    long above = scan->above;
    char files[3 * (NAME_MAX + 3) + 64];   /* "N files: A, B, C, ..." */
    snprintf(files, sizeof files, "%ld file%s: %s%s%s%s%s%s", above, above == 1 ? "" : "s", scan->first[0],
             above > 1 ? ", " : "", above > 1 ? scan->first[1] : "", above > 2 ? ", " : "",
             above > 2 ? scan->first[2] : "", above > 3 ? ", ..." : "");
    if (above && highest_listed < 0)
        cli_die("%s holds the outputs of an interrupted --each run (%s; and %s): --force replaces them", dir, files,
                has_list ? "a targets.tsv that lists none of them" : "no targets.tsv, which is written last");
    if (above && !files_in)
        cli_die("%s holds files numbered above %06ld, the last input its targets.tsv lists (an --each run there "
                "was interrupted; %s): --force replaces all the outputs there", dir, highest_listed, files);
    if (above)
        cli_die("%s holds files numbered above %06ld, the last input its targets.tsv lists (an --each run there "
                "was interrupted; %s): remove them to --append (%s), or --force replaces all the outputs there",
                dir, highest_listed, files, remove_command(dir, scan->lo, scan->hi, &scan->labels, scan->exts));
    if (!r->o.append && !files_in)
        cli_die("%s holds the outputs of an earlier --each run: --force replaces them (a shard's are numbered by "
                "record, so --append is for image files only)", dir);
    if (!r->o.append)
        cli_die("%s holds the outputs of an earlier --each run: --append adds to them, --force replaces them", dir);
    r->index_base = highest_listed + 1;
}

/* --each: one run at a time in DIR, and an earlier run's outputs there
 * refused, continued (--append: r->index_base, r->old_list) or replaced
 * (--force: begin_each). The lock is an exclusive flock(2) on DIR itself, as
 * sg-train's on its run, held until the process ends: two runs at once
 * (xargs -P) would give their files the same numbers and each replace the
 * other's targets.tsv. A file system that refuses it (NFS) leaves DIR
 * unlocked, with a warning. An earlier run is known by its targets.tsv,
 * written last, or its numbered files: those above the last input the list
 * names (all, without a list) are a run's that was interrupted. */
static void claim_each_dir(run_state *r)
{
    const char *dir = r->o.output;
    if (r->dir_claimed) return;
    r->dir_claimed = 1;
    cli_lock_output_dir(dir, "sg-sample --each", "two --each runs at once would give their outputs the same numbers");
    char list[PATH_MAX];
    snprintf(list, sizeof list, "%s/targets.tsv", dir);
    int has_list = !sg_path_missing(list);
    long bad_line = 0, highest_listed = has_list ? read_each_list(r, list, &bad_line) : -1;
    sg_each_scan scan;
    DIR *d = opendir(dir);
    if (!d) cli_die("%s: %s", dir, strerror(errno));
    if (sg_each_scan_dir(d, &r->earlier, highest_listed, &scan, &r->err)) cli_die_err(&r->err);
    closedir(d);
    /* an earlier run: refused or continued; --force's is removed by begin_each */
    if ((has_list || scan.count) && !r->o.force) check_earlier_run(r, list, has_list, highest_listed, bad_line, &scan);
    sg_each_scan_free(&scan);
}

/* The image files' numbers: their positions, after DIR's earlier outputs
 * with --append (a shard's records keep their indices). */
static void number_file_inputs(run_state *r)
{
    /* index_base: at most SG_EACH_NUMBER_MAX + 1 */
    if (!r->o.data && r->n_in > SG_EACH_NUMBER_MAX + 1 - r->index_base)
        cli_die("%s/targets.tsv: its highest input number is %ld: the %ld image file%s would pass %ld, the highest "
                "number --each gives (15 digits): --force replaces the outputs in %s, or give another -o DIR",
                r->o.output, r->index_base - 1, r->n_in, r->n_in == 1 ? "" : "s", SG_EACH_NUMBER_MAX, r->o.output);
    if (!r->o.data)
        for (long k = 0; k < r->n_in; k++) r->in[k].index = r->index_base + k;
}

/* --force: the earlier run's numbered outputs removed (after targets.tsv was
 * emptied: a run stopped now lists no file that is gone). */
static void remove_earlier_outputs(const run_state *r)
{
    DIR *d = opendir(r->o.output);
    if (!d) cli_die("%s: %s", r->o.output, strerror(errno));
    const char *name;
    long n;
    while ((name = sg_each_next_output(d, &r->earlier, &n)))
        if (unlinkat(dirfd(d), name, 0) != 0 && errno != ENOENT)
            cli_die("%s/%s: cannot remove it (%s), as --force removes an earlier run's outputs", r->o.output, name,
                    strerror(errno));
    closedir(d);
}

/* No output over an input; --each's directory made; what a killed run left
 * there (or beside -o's file) removed. */
static void prepare_output(run_state *r)
{
    const options *o = &r->o;
    r->ext = !strcmp(o->format, "jpg") ? "jpg" : "png";
    number_file_inputs(r);
    refuse_outputs_over_inputs(o, r->files, r->n_files, r->g_path, r->in, r->n_in, &r->ts, r->ext, &r->earlier);
    if (o->each) cli_note_output(o->output);   /* for the advice on ENOSPC */
    if (o->each && access(o->output, F_OK) == 0 && !sg_path_is_dir(o->output))   /* a grid's -o x.png */
        cli_die("%s: not a directory; --each writes an image for each input into the directory -o names: choose "
                "another -o, or drop --each for one grid image", o->output);
    if (o->each && sg_mkdir_p(o->output, &r->err)) cli_die_err(&r->err);
    if (o->each && !sg_path_is_dir(o->output)) cli_die("%s: not a directory", o->output);
    if (o->each && !r->dir_claimed) {   /* DIR made now (main claims one that was there) */
        claim_each_dir(r);
        if (r->index_base) {   /* another run filled it meanwhile: numbered on */
            number_file_inputs(r);
            refuse_outputs_over_inputs(o, r->files, r->n_files, r->g_path, r->in, r->n_in, &r->ts, r->ext, &r->earlier);
        }
    }
    if (o->each) {   /* what a killed run left: its files' and its list's temporaries */
        char ext_dot[8], list[PATH_MAX];
        snprintf(ext_dot, sizeof ext_dot, ".%s", r->ext);
        sg_remove_dead_temps_in(o->output, "", ext_dot);
        snprintf(list, sizeof list, "%s/targets.tsv", o->output);
        sg_remove_dead_temps_of(list);   /* next to the file a link there names, where the write puts it */
    } else {
        cli_remove_dead_temps_of(o->output);
    }
}

/* Host memory a chunk of n images takes on the CPU backend: the generator's
 * blocks (sg_model_bytes) and alloc_buffers' x, y, c and input pixels. */
static uint64_t cpu_chunk_bytes(const sg_model_config *cfg, int n)
{
    sg_model_config c = *cfg;
    c.batch = n;
    uint64_t img = 3 * (uint64_t)cfg->image_size * cfg->image_size;
    return sg_model_bytes(&c, 1) + (uint64_t)n * (2 * sizeof(float) * img + sizeof(float) * sg_model_c_dim(cfg) + img);
}

/* cpu_chunk_bytes as sg_sysmem_largest calls it */
static uint64_t cpu_chunk_bytes_of(const void *cfg, int n)
{
    return cpu_chunk_bytes(cfg, n);
}

/* The largest chunk from 1 to n-1 whose bytes (cpu_chunk_bytes) are at most
 * room; 0 for none. */
static int chunk_within(const sg_model_config *cfg, int n, uint64_t room)
{
    return sg_sysmem_largest(cpu_chunk_bytes_of, cfg, n - 1, room);
}

/* The backend; on the CPU, the chunk's memory against the machine's, before
 * the inputs are read: its blocks are calloc'd and touched only when used, so
 * a chunk larger than the memory would not be refused but killed by the
 * kernel mid-run. Over the limit (fixed for a machine or container) it is
 * refused, naming the --batch that fits; over what is available now, a
 * warning. The chunk is never lowered to fit the memory: another chunk can
 * move a pixel value by 1 (the GEMM's rounding, sg-sample(1) --batch), and
 * the same command must give the same bytes whatever memory is free. */
static void open_backend_checked(run_state *r)
{
    const options *o = &r->o;
    r->be = open_backend(o, &r->err);
    if (!r->be) cli_die_err(&r->err);
    if (strcmp(r->be->name, "cpu")) return;   /* CUDA's allocations fail cleanly */
    /* the chunk load_generator takes: --batch, or fewer where the inputs are known to be fewer */
    sg_model_config mcfg = r->ck.model;
    long asked = records_asked(o);   /* -1: all of the shard, in chunks of --batch */
    long n = o->data ? (asked < 0 ? o->batch : asked) : o->inputs_from ? o->batch : r->n_files;
    mcfg.batch = n >= 1 && n < o->batch ? (int)n : o->batch;
    int batch_max = sg_model_batch_max(&mcfg, 1);
    if (batch_max < 1) return;   /* not even one image: load_generator says so */
    if (mcfg.batch > batch_max) mcfg.batch = batch_max;
    sg_sysmem mem;
    sg_sysmem_read(&mem);
    uint64_t need = cpu_chunk_bytes(&mcfg, mcfg.batch);
    const sg_sysmem_verdict verdict = sg_sysmem_fit(&mem, need);
    if (verdict == SG_SYSMEM_FITS) return;
    char need_s[24], limit_s[24], avail_s[24], has[128], what[96];
    sg_size_text(need_s, need);
    sg_size_text(limit_s, mem.limit);
    sg_size_text(avail_s, mem.available);
    sg_sysmem_has_text(has, &mem);
    snprintf(what, sizeof what, "a chunk of %d image%s (--batch %d) at %d px", mcfg.batch,
             mcfg.batch == 1 ? "" : "s", o->batch, r->S);
    if (verdict == SG_SYSMEM_REFUSE) {
        int fits = chunk_within(&mcfg, mcfg.batch, sg_sysmem_most(&mem));
        char one_s[24];
        if (!fits)
            cli_die("the generator at %d px needs about %s of memory on the CPU for one image; %s: use a GPU "
                    "(--device cuda)", r->S, sg_size_text(one_s, cpu_chunk_bytes(&mcfg, 1)), has);
        cli_die("%s needs about %s of memory on the CPU; %s: use --batch %d or less", what, need_s, has, fits);
    }
    int fits_now = chunk_within(&mcfg, mcfg.batch, mem.available);
    char then[64] = "";
    if (fits_now) snprintf(then, sizeof then, "; --batch %d or less fits", fits_now);
    cli_warn("%s needs about %s of memory on the CPU, more than the %s available now (of %s): it goes on, but may "
             "swap, or be killed if other processes need theirs%s", what, need_s, avail_s, limit_s, then);
}

/* The generator with the checkpoint's weights; r->chunk: the
 * images of one generator call. */
static void load_generator(run_state *r)
{
    sg_model_config mcfg = r->ck.model;
    mcfg.batch = r->n_in < r->o.batch ? (int)r->n_in : r->o.batch;   /* generate() buffers for this many images */
    int batch_max = sg_model_batch_max(&mcfg, 1);   /* 0: not even one image (the model says so) */
    if (batch_max >= 1 && mcfg.batch > batch_max) {
        mcfg.batch = batch_max;
        snprintf(r->chunk_why, sizeof r->chunk_why, "%d, the most whose tensors stay within 2^31 values",
                 batch_max);
    }
    if (sg_model_create_generator(&r->model, &mcfg, r->be, 0, &r->err)) {
        if (r->err.sys_errno == ENOMEM)   /* beyond what open_backend_checked saw: a ulimit -v */
            cli_die("%s (--batch %d at %d px; try a smaller --batch)", r->err.msg, mcfg.batch, r->S);
        cli_die_err(&r->err);
    }
    /* Reading the inputs can take minutes (--each over a whole shard): sg-train
     * --keep may have deleted a live run's checkpoint since (lib/ckpt_find.h) */
    if (sg_ckpt_load_generator(r->o.ckpt, r->g_path, sizeof r->g_path, &r->ck, r->model, &r->err))
        cli_die_err(&r->err);
    r->chunk = mcfg.batch;
}

/* The grid's canvas with its header row, unless the output is --each's files
 * or one image alone. */
static void begin_grid(run_state *r)
{
    r->plain = !r->o.each && !r->o.grid && r->n_in == 1 && r->ts.spec_mode;
    if (!r->o.each && !r->plain) grid_begin(&r->g, &r->o, r->S, &r->ts, r->n_in);
    /* A PNG grid is encoded while the generator runs, on a thread that takes
     * only idle CPU time (lib/png_stream.h): each chunk's rows as it is done.
     * The same bytes as encoding the finished canvas. */
    if (r->g.active && !sg_image_path_is_jpeg(r->o.output)) {
        if (sg_png_background_begin(&r->grid_png, r->g.cv.rgb, r->g.cv.width, r->g.cv.height, &r->err))
            cli_die_err(&r->err);
        sg_png_background_ready(r->grid_png, grid_row_top(&r->g, 0));
    }
}

/* One chunk's tensors and pixels. */
static void alloc_buffers(run_state *r)
{
    const sg_model_config *cfg = &r->ck.model;
    r->c_dim = sg_model_c_dim(cfg);
    r->img_floats = (size_t)3 * r->S * r->S;
    r->x = malloc(sizeof(float) * r->img_floats * r->chunk);
    r->y = malloc(sizeof(float) * r->img_floats * r->chunk);
    r->c = malloc(sizeof(float) * (size_t)r->c_dim * r->chunk);
    r->scratch = malloc(sizeof(float) * (size_t)r->c_dim * (sg_targets_count(cfg) + 1));
    r->rgb = malloc(r->img_floats);
    r->pixels = malloc(r->img_floats * r->chunk);   /* one chunk of inputs */
    if (!r->x || !r->y || !r->c || !r->scratch || !r->rgb || !r->pixels) cli_die("out of memory");
    r->total = r->n_in * r->ts.n;
}

/* --each: targets.tsv's dataset column, an earlier run's targets.tsv
 * emptied and the thread that writes the files started; nothing without. */
static void begin_each(run_state *r)
{
    if (!r->o.each) return;
    const sg_model_config *cfg = &r->ck.model;
    /* a dataset is named after its shard's file, which may hold a tab or a
     * newline: control bytes as '_', as in target names, keep a row's five
     * fields; labelled after that, so two names that meet as '_' are numbered */
    char shown[SG_MAX_DATASETS][SG_CKPT_NAME_MAX];
    const char *column_names[SG_MAX_DATASETS] = {0};
    for (int ds = 0; ds < cfg->n_datasets; ds++) {
        snprintf(shown[ds], sizeof shown[ds], "%s", r->ck.dataset_names[ds]);
        for (char *p = shown[ds]; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '_';
        column_names[ds] = shown[ds];
    }
    for (int ds = 0; ds < cfg->n_datasets; ds++)
        sg_targets_dataset_label(cfg, column_names, ds, r->dataset_column[ds], sizeof r->dataset_column[ds]);
    /* OUTDIR/targets.tsv lists every output with its input, target, the
     * target's dataset and the target label's value (for scoring).
     * An earlier run's list is emptied (its header alone) before its first
     * file is replaced: a run that stops half-way (killed) must not leave
     * it describing a mix of both runs' images. Written whole, last. An
     * atomic write, not an unlink: a symbolic link there stays one.
     * --append keeps it as it is until the new list, its rows and then this
     * run's, replaces it: stopped half-way, it lists the earlier runs'. */
    char path[PATH_MAX];
    if (r->old_list) {
        sg_buf_append(&r->manifest, r->old_list, r->old_list_len);
        if (r->old_list[r->old_list_len - 1] != '\n') sg_buf_putc(&r->manifest, '\n');
        free(r->old_list);
        r->old_list = NULL;
    } else {
        sg_buf_puts(&r->manifest, SG_EACH_LIST_HEADER);
        snprintf(path, sizeof path, "%s/targets.tsv", r->o.output);
        if (!sg_path_missing(path) && sg_write_file_atomic(path, r->manifest.data, r->manifest.len, &r->err))
            cli_die_err(&r->err);
    }
    if (r->o.force) remove_earlier_outputs(r);
    sg_each_known_free(&r->earlier);
    /* --each files are encoded and written (each with its two fsyncs) on a
     * thread of their own while the generator runs: 1280 files at 32 px took
     * 0.6 s, mostly waiting for the disk */
    if (sg_image_writer_start(&r->files_out, 256, &r->err)) cli_die_err(&r->err);
}

/* Ends --each's writer thread, if running, leaving no temporary file; a
 * write that fails then too is one more of the interrupted run's outputs. */
static void end_each_writer(run_state *r)
{
    sg_err ignored;
    if (r->files_out) sg_image_writer_finish(r->files_out, &ignored);
    r->files_out = NULL;
}

/* --each stopped half-way (an input that changed, a write that failed):
 * the files written so far stay, targets.tsv (written last) does not list
 * them, and the next run into DIR is refused as after an interrupted one
 * (claim_each_dir). The message says what that run needs: "what: the run
 * stopped; DIR holds its files so far, ...: FIRST--force replaces them", or
 * after an --append, the command that removes this run's files. first (""
 * for none): what to do before, "the file system is full: free space on it,
 * then ". The writer is finished first, so that no temporary file is left. */
/* What the next run into DIR needs once --each stopped half-way (advice,
 * after first): --force, or after an --append the command that removes this
 * run's files. */
static void each_stopped_advice(const run_state *r, const char *first, char *advice, size_t size)
{
    if (r->o.append && r->index_base > 0) {
        /* this run's files: numbered index_base to the last queued, labelled input or a target, sorted */
        sg_names labels = {0};
        add_name(&labels, "input", 5);
        for (int t = 0; t < r->ts.n; t++) add_name(&labels, r->ts.names[t], strlen(r->ts.names[t]));
        sg_names_sort(&labels);
        long hi = r->queued_hi >= r->index_base ? r->queued_hi : r->index_base;
        int ext = strcmp(r->ext, "png") ? SG_EACH_JPG : SG_EACH_PNG;
        snprintf(advice, size, "%sremove those numbered above %06ld to --append again (%s), or --force "
                 "replaces all the outputs there", first, r->index_base - 1,
                 remove_command(r->o.output, r->index_base, hi, &labels, ext));
        sg_names_free(&labels);
    } else {
        snprintf(advice, size, "%s--force replaces them", first);
    }
}

static void die_each_stopped(run_state *r, const char *what, const char *first)
{
    end_each_writer(r);
    char advice[PATH_MAX + 512];
    each_stopped_advice(r, first, advice, sizeof advice);
    cli_die("%s: the run stopped; %s holds its files so far, which targets.tsv (written last) does not list: %s",
            what, r->o.output, advice);
}

/* An image file that was read whole at the start (load_file_inputs) and
 * cannot be now: the run stops as one stopped half-way does (sg-sample(1),
 * --each). Its chunk's files are not queued yet; those of the chunks before
 * are written first, so that no temporary file is left; targets.tsv, written
 * last, stays as it was. A grid or one image is written at the end: nothing. */
static void die_input_changed(run_state *r, const sg_err *err)
{
    if (!r->o.each || (r->done == 0 && !r->o.force))
        cli_die("%s (it was read whole when the run began; changed or removed since)", err->msg);
    char what[sizeof err->msg + 80];
    snprintf(what, sizeof what, "%s (it was read whole when the run began; changed or removed since)", err->msg);
    die_each_stopped(r, what, "");
}

/* --each: writing a file (or targets.tsv, last) failed. Where this run
 * wrote none (the first one failed) and DIR held no earlier run's (no
 * --force), trying again as before works: the usual message. Otherwise the
 * retry would be refused as an interrupted run's: the advice says how to
 * make room first (a full disk), then what that retry needs. */
static void die_each_write(run_state *r, const sg_err *err)
{
    end_each_writer(r);   /* before looking for its files */
    if (!r->o.force && (!r->first_queued[0] || sg_path_missing(r->first_queued))) cli_die_err(err);
    char space[256], first[300] = "";
    if (cli_no_space_advice(err, NULL, space, sizeof space)[0]) snprintf(first, sizeof first, "%s, then ", space);
    die_each_stopped(r, err->msg, first);
}

/* --each: a stop signal once files are queued ends the run at once, as
 * before (cli_init's default: the writer's file in flight removed), and now
 * says what it leaves, as die_each_stopped does; it died silently, and the
 * next run into DIR was refused as an interrupted one's. Made again for each
 * input (after an --append, the command names the highest); none once
 * targets.tsv is in place. */
static cli_stop_line each_stop_line;
static void on_each_stop_signal(int sig) { cli_die_by_signal_saying(sig, &each_stop_line); }

static void set_each_stop_line(const run_state *r)
{
    char advice[PATH_MAX + 512];
    each_stopped_advice(r, "", advice, sizeof advice);
    cli_stop_line_set(&each_stop_line, "interrupted: %s holds this run's files so far, which targets.tsv (written "
                      "last) does not list: %s", r->o.output, advice);
}

/* Queues --each's file path (rgb, S x S) for the writer thread; a write that
 * failed before stops the run (die_each_write). */
static void queue_each_file(run_state *r, const char *path, long index, const uint8_t *rgb)
{
    int first = !r->first_queued[0];
    if (first) snprintf(r->first_queued, sizeof r->first_queued, "%s", path);
    if (index > r->queued_hi) {
        r->queued_hi = index;
        set_each_stop_line(r);
    }
    if (first) cli_catch_stop_signals_not_ignored(on_each_stop_signal);
    if (sg_image_writer_put(r->files_out, path, rgb, r->S, r->S, &r->err)) die_each_write(r, &r->err);
}

/* Pixels of image files k0..k0+n-1 into pool (n images of S*S*3 bytes), or
 * those kept from the start. */
static void read_file_pixels(run_state *r, long k0, long n, uint8_t *pool)
{
    input_image *in = r->in + k0;
    for (long k = 0; k < n; k++) {
        in[k].rgb = in[k].kept ? in[k].kept : pool + (size_t)k * r->S * r->S * 3;
        if (!in[k].kept &&
            read_file_input(r->files[k0 + k], !r->o.no_exif_rotate, r->crop, r->S, in[k].rgb, &r->err))
            die_input_changed(r, &r->err);
    }
}

/* Inputs k0..k0+n-1 into x, and out as --each's NNNNNN_input files or the
 * grid's first column; their pixels read first, the whole chunk's. */
static void put_inputs(run_state *r, long k0, long n)
{
    input_image *in = r->in + k0;
    if (r->shard) read_shard_pixels(r->shard, in, n, r->S, r->pixels);
    else read_file_pixels(r, k0, n, r->pixels);
    for (long k = 0; k < n; k++) {
        sg_rgb_to_chw(in[k].rgb, r->S, 0, r->x + (size_t)k * r->img_floats);
        if (r->o.each) {
            char path[PATH_MAX];
            sg_each_path(path, sizeof path, r->o.output, in[k].index, "input", r->ext);
            queue_each_file(r, path, in[k].index, in[k].rgb);
        } else if (!r->plain) {
            grid_put(&r->g, k0 + k, 0, in[k].rgb, r->S);
        }
    }
}

/* --each: the translation of input i (row k of its chunk) to target t, in rgb,
 * queued for its file; its row of targets.tsv. */
static void put_each_output(run_state *r, long i, long k, int t)
{
    const target_set *ts = &r->ts;
    char path[PATH_MAX];
    sg_each_path(path, sizeof path, r->o.output, r->in[i].index, ts->names[t], r->ext);
    queue_each_file(r, path, r->in[i].index, r->rgb);
    int ds = ts->spec_mode ? ts->spec.ds : sg_targets_dataset_of(&r->ck.model, t, NULL);
    sg_buf_appendf(&r->manifest, "%s\t%ld\t%s\t%s\t", strrchr(path, '/') + 1, r->in[i].index, ts->names[t],
                   r->dataset_column[ds]);
    if (ts->spec_mode) sg_buf_puts(&r->manifest, "-\n");
    else sg_buf_appendf(&r->manifest, "%g\n", r->c[(size_t)k * r->c_dim + t]);
}

/* Inputs k0..k0+n-1 (in x) translated to target t, each result where it goes:
 * --each's file, the one image, or the grid's column 1 + t. */
static void translate_chunk(run_state *r, long k0, long n, int t)
{
    fill_target_labels(&r->ck, &r->ts, t, r->in + k0, n, r->c, r->scratch);
    double t0 = cli_now();
    if (sg_model_generate(r->model, (int)n, r->x, r->c, r->y, &r->err)) cli_die_err(&r->err);
    r->t_generator += cli_now() - t0;
    for (long k = 0; k < n; k++) {
        sg_chw_to_rgb(r->y + (size_t)k * r->img_floats, r->S, r->rgb, (size_t)r->S * 3);
        if (r->o.each) put_each_output(r, k0 + k, k, t);
        else if (r->plain) write_image(r->o.output, r->rgb, r->S, r->S);
        else grid_put(&r->g, k0 + k, 1 + t, r->rgb, r->S);
    }
    r->done += n;
    if (r->done == r->total) cli_progress_unthrottle();   /* ends on N/N */
    char eta[32];
    double rate = cli_rate_eta(cli_now() - r->t_model, (double)r->done, (double)r->total, eta, sizeof eta);
    cli_progress("translating: %ld/%ld images, %.0f images/s, ETA %s", r->done, r->total, rate, eta);
}

/* Every input to every target, a chunk of inputs at a time. */
static void translate_all(run_state *r)
{
    for (long k0 = 0; k0 < r->n_in; k0 += r->chunk) {
        long n = r->n_in - k0 < r->chunk ? r->n_in - k0 : r->chunk;
        put_inputs(r, k0, n);
        for (int t = 0; t < r->ts.n; t++) translate_chunk(r, k0, n, t);
        if (r->grid_png) sg_png_background_ready(r->grid_png, grid_row_top(&r->g, k0 + n));
    }
    cli_progress_end();
}

/* The grid written (the background encoder's PNG, or the canvas saved); --each's
 * files finished, then targets.tsv; standard output checked. */
static void finish_outputs(run_state *r)
{
    const char *out = r->o.output;
    if (r->grid_png) {
        uint8_t *png;
        size_t png_len;
        /* marked as a grid: celeb-synth --judge refuses one whatever its shape (lib/image.h) */
        if (sg_png_background_end(r->grid_png, &png, &png_len, &r->err) ||
            sg_image_add_comment(&png, &png_len, SG_IMAGE_GRID_COMMENT, &r->err)) {
            sg_err_prefix(&r->err, "%s", out);
            cli_die_err(&r->err);
        }
        if (sg_image_write_encoded(out, png, png_len, &r->err)) cli_die_output_err(&r->err, out);
        free(png);
    } else if (r->g.active && sg_image_write_commented(out, r->g.cv.rgb, r->g.cv.width, r->g.cv.height,
                                                       SG_IMAGE_GRID_COMMENT, &r->err)) {
        cli_die_output_err(&r->err, out);
    }
    if (r->o.each) {
        char path[PATH_MAX];
        sg_image_writer *w = r->files_out;
        r->files_out = NULL;
        if (sg_image_writer_finish(w, &r->err)) die_each_write(r, &r->err);
        snprintf(path, sizeof path, "%s/targets.tsv", out);
        /* held over its write: a signal once it is in place (the outputs
         * complete) ends the run with no line, one before with its line */
        sigset_t was;
        cli_hold_stop_signals(&was);
        if (sg_write_file_atomic(path, r->manifest.data, r->manifest.len, &r->err)) die_each_write(r, &r->err);
        cli_stop_line_set(&each_stop_line, "%s", "");
        cli_release_stop_signals(&was);
        sg_buf_free(&r->manifest);
    }
    if (!strcmp(out, "-")) cli_finish_stdout();
}

/* --timing: where the time went, on stderr. */
static void report_timing(const run_state *r)
{
    if (!r->o.timing) return;
    double t_end = cli_now();
    /* the generator: the sg_model_generate calls alone (uploads, forward,
     * download); the rest of the loop: pixel conversions, grid cells, queueing
     * --each files; output: what is left of the grid's PNG or the files */
    char chunks[200] = "";   /* a --batch lowered: by how much and why */
    if (r->chunk_why[0]) snprintf(chunks, sizeof chunks, " in chunks of %s (--batch %d)", r->chunk_why, r->o.batch);
    cli_warn("timing: inputs %.3f s, model %.3f s, generator %.3f s for %ld image%s "
             "(%.2f images/s)%s, rest of the loop %.3f s, output %.3f s, total %.3f s",
             r->t_inputs - r->t_start, r->t_model - r->t_inputs, r->t_generator, r->total, r->total == 1 ? "" : "s",
             r->t_generator > 0 ? r->total / r->t_generator : 0.0, chunks, r->t_loop - r->t_model - r->t_generator,
             t_end - r->t_loop, t_end - r->t_start);
}

/* Everything the run holds, freed (its outputs are written by now). */
static void free_run(run_state *r)
{
    if (r->g.active) sg_canvas_free(&r->g.cv);
    sg_model_free(r->model);
    sg_backend_destroy(r->be);
    /* the inputs point into pixels, reused chunk after chunk, or to what was kept */
    for (long k = 0; k < r->n_in; k++) {
        free(r->in[k].kept);
        free(r->in[k].own_labels);
    }
    free(r->pixels);
    if (r->shard) sg_shard_close(r->shard);
    free(r->in);
    for (int t = 0; t < r->ts.n; t++) free(r->ts.names[t]);
    free(r->ts.names);
    free(r->x); free(r->y); free(r->c); free(r->scratch); free(r->rgb);
    sg_ckpt_info_free(&r->ck);
}

int main(int argc, char **argv)
{
    cli_init(argv);
    run_state r = {.t_start = cli_now(), .manifest = SG_BUF_INIT, .queued_hi = -1};
    parse_options(&r, argc, argv);
    check_options(&r);
    open_checkpoint(&r);   /* its targets name its --each outputs */
    open_backend_checked(&r);   /* a --batch over the memory refused before the inputs are read */
    /* an earlier run's outputs refused before the inputs are read (minutes) */
    if (r.o.each && sg_path_is_dir(r.o.output)) claim_each_dir(&r);
    /* Everything that can fail on bad input is checked before the generator runs
     * and before anything is written. */
    open_inputs(&r);
    prepare_output(&r);
    r.t_inputs = cli_now();
    load_generator(&r);
    r.t_model = cli_now();
    begin_grid(&r);
    alloc_buffers(&r);
    begin_each(&r);
    translate_all(&r);
    r.t_loop = cli_now();
    finish_outputs(&r);
    report_timing(&r);
    free_run(&r);
    return 0;
}
