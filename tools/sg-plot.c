/* sg-plot: draws a training history (history.jsonl) as loss and learning-rate
 * panels, or dataset statistics (celeb-dump --stats --json, celeb-split --json)
 * as bars, into a PNG. See sg-plot(1). */
#include "canvas.h"
#include "checkpoint.h"
#include "cli.h"
#include "fileio.h"
#include "font.h"
#include "json.h"
#include "near_name.h"
#include "run_config.h"
#include "text_escape.h"
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_INPUT_BYTES ((size_t)1 << 30)
/* Every history sg-train writes fits: each of SG_MAX_DATASETS datasets'
 * seven loss terms and lr, or G/lr and D/lr (a run resumed with other
 * rates logs both kinds). */
#define MAX_SERIES (SG_MAX_DATASETS * 10)

static const sg_rgb WHITE = {255, 255, 255}, BLACK = {0, 0, 0}, GRID = {228, 228, 228},
                    AXIS = {90, 90, 90}, TEXT = {30, 30, 30}, NOTE = {170, 30, 30};
/* Ten well-separated colours (the usual "tab10" set), then their lighter
 * twins ("tab20"'s), so that a panel's colours repeat only after 20 series
 * (three datasets give the D panel 12). */
#define PALETTE_SIZE 20
static const sg_rgb PALETTE[PALETTE_SIZE] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189},
    {140, 86, 75}, {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
    {174, 199, 232}, {255, 187, 120}, {152, 223, 138}, {255, 152, 150}, {197, 176, 213},
    {196, 156, 148}, {247, 182, 210}, {199, 199, 199}, {219, 219, 141}, {158, 218, 229}};

static void usage(void)
{
    printf("Usage: %s [OPTION]... -o OUT.png HISTORY.jsonl\n"
           "  or:  %s --bars [OPTION]... -o OUT.png STATS.json\n"
           "Draw a training history as three panels (discriminator losses, generator\n"
           "losses, learning rate) against the iteration, or dataset statistics as bars.\n"
           "FILE '-' reads stdin; OUT '-' writes PNG to stdout; OUT ending in .jpg/.jpeg\n"
           "writes JPEG.\n"
           "\n"
           "The y-range of each panel is robust to spikes: it spans the 1st to 99th\n"
           "percentile of the plotted values (the full range when nothing lies far\n"
           "outside); points beyond it are drawn at the border with a triangle and\n"
           "counted in the panel title.\n"
           "\n"
           "  -o, --output PATH     output image (required)\n"
           "      --bars            FILE is statistics JSON: positive/negative bars\n"
           "                        per attribute\n"
           "      --smooth N        moving average over the last N logged points,\n"
           "                        1..1000000 (default 1: none)\n"
           "      --full-range      y-range from the minimum to the maximum (no clipping)\n"
           "      --dataset NAME    plot only the records of dataset NAME (\"dataset\":\n"
           "                        \"NAME\" or \"N:NAME\"); repeatable\n"
           "      --title TEXT      title (default: from the input)\n"
           "      --width N         image width in pixels, 200..16384 (default 1200)\n"
           "      --height N        image height, 150..16384 (default 900, or what the\n"
           "                        legends need; --bars: fits the attributes)\n"
           "  -q, --quiet           no notes on stderr\n"
           "  -h, --help            this help\n"
           "      --version         version\n"
           "\n"
           "Examples:\n"
           "  %s runs/multi/history.jsonl -o losses.png\n"
           "  celeb-dump --stats --json celebA.lmdb | %s --bars - -o attrs.png\n",
           cli_name, cli_name, cli_name, cli_name);
}

/* ---------------------------------------------------------------- layout helpers */

/* A 1-2-5 step giving about `target` intervals over [lo, hi]. */
static double nice_step(double lo, double hi, int target)
{
    double raw = (hi - lo) / (target > 0 ? target : 1);
    if (!(raw > 0)) return 1;
    double mag = pow(10, floor(log10(raw))), f = raw / mag;
    double nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    return nice * mag;
}

/* Tick label with as many significant digits as the step needs. */
static void format_tick(char *out, size_t n, double v, double step)
{
    if (fabs(v) < step * 1e-9) v = 0;
    double big = fmax(fabs(v), step);
    int digits = (int)floor(log10(big)) - (int)floor(log10(step) + 1e-9) + 1;
    if (digits < 1) digits = 1;
    if (digits > 12) digits = 12;
    if (fabs(v) >= 1 && fabs(v) < 1e7 && step >= 1) snprintf(out, n, "%.0f", v);
    else snprintf(out, n, "%.*g", digits, v);
}

typedef struct { double v[64]; int n; double step; } ticks;

static void make_ticks(ticks *t, double lo, double hi, int target)
{
    t->step = nice_step(lo, hi, target);
    t->n = 0;
    for (double v = ceil(lo / t->step - 1e-9) * t->step; v <= hi + t->step * 1e-9 && t->n < 64; v += t->step)
        t->v[t->n++] = v;
}

static int text_width(const char *s, int scale)
{
    int w;
    sg_text_size(s, scale, &w, NULL);
    return w;
}

/* Draws s with its right edge at x. */
static void text_right(sg_canvas *c, int x, int y, const char *s, int scale, sg_rgb col)
{
    sg_canvas_text(c, x - text_width(s, scale), y, s, scale, col);
}

/* Bold-ish text: drawn twice, one pixel apart. */
static void text_bold(sg_canvas *c, int x, int y, const char *s, int scale, sg_rgb col)
{
    sg_canvas_text(c, x, y, s, scale, col);
    sg_canvas_text(c, x + 1, y, s, scale, col);
}

static int default_scale(int w, int h)
{
    int s = (w < h ? w : h) / 420;
    return s < 1 ? 1 : s > 4 ? 4 : s;
}

/* ---------------------------------------------------------------- history */

enum { PANEL_D, PANEL_G, PANEL_LR, N_PANELS };
static const char *const PANEL_TITLE[N_PANELS] = {"Discriminator losses", "Generator losses", "Learning rate"};

typedef struct {
    char *key, *dataset;
    int panel;
    double *x, *y;
    size_t n, cap;
    long last_line;   /* the line of x[n - 1] */
} series;

typedef struct {
    series s[MAX_SERIES];
    int n_series;
    int n_datasets;
    char *datasets[MAX_SERIES];
    long records, skipped_nonfinite;
    long kept;               /* records of the --dataset datasets (all without) */
    const char *const *only; /* --dataset NAMEs (n_only of them; none: every dataset) */
    int n_only;
    int *only_hit;           /* only[i] matched a record */
    char *seen[256];         /* with --dataset: the records' datasets, for messages */
    int n_seen, seen_cut;
    long torn_line;          /* the last line, cut short and skipped (0: none) */
    double xmin, xmax;
} history;

static int panel_of(const char *key)
{
    size_t n = strlen(key);
    if (n >= 2 && strcmp(key + n - 2, "lr") == 0) return PANEL_LR;
    if (strncmp(key, "D/", 2) == 0) return PANEL_D;
    if (strncmp(key, "G/", 2) == 0) return PANEL_G;
    return -1;
}

static series *find_series(history *h, const char *key, const char *dataset, const char *name, long line)
{
    for (int k = 0; k < h->n_series; k++)
        if (strcmp(h->s[k].key, key) == 0 && strcmp(h->s[k].dataset, dataset) == 0) return &h->s[k];
    if (h->n_series == MAX_SERIES && h->n_datasets > 1)
        cli_die("%s line %ld: more than %d series (one for each key of each dataset, of %d datasets so far); plot "
                "fewer datasets at a time with --dataset NAME (repeatable), e.g. sg-plot --dataset %s -o OUT %s",
                name, line, MAX_SERIES, h->n_datasets, cli_shell_word(h->datasets[0]),
                strcmp(name, "<stdin>") ? cli_shell_operand(name) : "-");
    if (h->n_series == MAX_SERIES)
        cli_die("%s line %ld: more than %d series (keys beginning D/ or G/ or ending in lr); plot a history of "
                "at most %d such keys (drop the others from its lines)", name, line, MAX_SERIES, MAX_SERIES);
    series *s = &h->s[h->n_series++];
    memset(s, 0, sizeof *s);
    s->key = strdup(key);
    s->dataset = strdup(dataset);
    s->panel = panel_of(key);
    if (!s->key || !s->dataset) cli_die("out of memory");
    int known = 0;
    for (int d = 0; d < h->n_datasets; d++) known |= strcmp(h->datasets[d], dataset) == 0;
    if (!known) h->datasets[h->n_datasets++] = s->dataset;
    return s;
}

/* Dataset label d (a record's "dataset") without sg-train's number: NAME of
 * "N:NAME", the label of a name that several datasets share. */
static const char *bare_dataset(const char *d)
{
    size_t k = 0;
    while (d[k] >= '0' && d[k] <= '9') k++;
    return k > 0 && d[k] == ':' ? d + k + 1 : d;
}

/* 1 when --dataset name selects the records of dataset label d: name is d
 * or d's NAME of N:NAME (every dataset of that name). */
static int dataset_selects(const char *name, const char *d)
{
    return !strcmp(d, name) || !strcmp(bare_dataset(d), name);
}

/* A --dataset NAME that no record is of: the history's datasets, and the
 * one nearest to it. */
static void die_no_dataset(const history *h, const char *file, const char *want)
{
    const char *cand[256];
    int n = 0;
    for (int i = 0; i < h->n_seen; i++)
        if (h->seen[i][0]) cand[n++] = h->seen[i];
    if (n == 0)
        cli_die("%s: no record names a dataset (none has a \"dataset\": a history of one dataset); drop --dataset",
                file);
    char list[700] = "";
    size_t len = 0;
    int cut = h->seen_cut;
    for (int i = 0; i < n && !cut; i++) {
        const char *q = sg_quote_str(cand[i]).s;
        if (len + strlen(q) + 2 + 5 >= sizeof list) { cut = 1; break; }
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", q);
    }
    if (cut) snprintf(list + len, sizeof list - len, "%s...", len ? ", " : "");
    const char *bare[256];
    for (int i = 0; i < n; i++) bare[i] = bare_dataset(cand[i]);
    const char *near = sg_near_name(want, bare, (size_t)n);
    char near_text[SG_QUOTE_MAX + 32] = "";
    if (near) snprintf(near_text, sizeof near_text, "; did you mean '%s'?", sg_quote_str(near).s);
    cli_die("%s: no dataset is called '%s' (--dataset); the history's datasets are %s%s", file,
            sg_quote_str(want).s, list, near_text);
}

static void add_point(series *s, double x, double y)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->x = realloc(s->x, s->cap * sizeof *s->x);
        s->y = realloc(s->y, s->cap * sizeof *s->y);
        if (!s->x || !s->y) cli_die("out of memory");
    }
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->n++;
}

/* "nan", "inf", "-Infinity", ...: values a logger may write for non-finite numbers. */
static int is_nonfinite_word(const char *s)
{
    if (*s == '+' || *s == '-') s++;
    return strcasecmp(s, "nan") == 0 || strcasecmp(s, "inf") == 0 || strcasecmp(s, "infinity") == 0;
}

/* The input could not be read: a run directory given for its history is
 * said so (on the error path only); else err as it is. */
static void die_unreadable(const char *path, const sg_err *err, int bars_mode)
{
    char run[PATH_MAX], f[PATH_MAX + 16];
    if (sg_path_trim_slashes(path, run, sizeof run)) cli_die_err(err);   /* "RUN/" */
    snprintf(f, sizeof f, "%s/history.jsonl", run);
    if (strcmp(path, "-") && sg_path_is_dir(path) && access(f, F_OK) == 0)
        cli_die("%s is a run directory: give its training history, %s%s", path, cli_shell_operand(f),
                bars_mode ? ", without --bars" : "");
    if (err->sys_errno == E2BIG)   /* /dev/zero, or a file given for another */
        cli_die("%s; sg-plot reads %s", err->msg,
                bars_mode ? "the statistics of celeb-dump --stats --json or celeb-split --json" : "a run's history.jsonl");
    cli_die_err(err);
}

/* 1 when the text's first line is one record of a training history (an
 * object with a numeric "iteration"): for the error of --bars given one. */
static int looks_like_history(const uint8_t *data, size_t len)
{
    size_t bom = sg_bom_length(data, len);
    const char *start = (const char *)data + bom, *nl = memchr(start, '\n', len - bom);
    json_value *v;
    json_error_pos where;
    sg_err ignored;
    if (json_parse(start, nl ? (size_t)(nl - start) : len - bom, NULL, &v, &where, &ignored) != 0) return 0;
    int is = json_is(json_get(v, "iteration"), JSON_NUMBER);
    json_free(v);
    return is;
}

/* 1 when v is a statistics object (celeb-dump --stats --json, celeb-split
 * --json: a "labels" or "groups" array), for the error of a history plot
 * given one. */
static int is_stats_object(const json_value *v)
{
    return json_is(json_get(v, "labels"), JSON_ARRAY) || json_is(json_get(v, "groups"), JSON_ARRAY);
}

/* What the whole text is when it is one JSON document (spread over lines):
 * WHOLE_STATS (a statistics object), WHOLE_JSON (any other), else
 * WHOLE_NONE. */
enum { WHOLE_NONE, WHOLE_JSON, WHOLE_STATS };
static int whole_document(const uint8_t *data, size_t len)
{
    size_t bom = sg_bom_length(data, len);
    json_value *v;
    json_error_pos where;
    sg_err ignored;
    if (json_parse((const char *)data + bom, len - bom, NULL, &v, &where, &ignored) != 0) return WHOLE_NONE;
    int what = is_stats_object(v) ? WHOLE_STATS : WHOLE_JSON;
    json_free(v);
    return what;
}

/* What to give instead of a file that is not a training history: the
 * history.jsonl beside it when there is one (a run's config.json given), else
 * the general form. */
static const char *history_to_give(const char *path, char *buf, size_t n)
{
    char dir[PATH_MAX];
    if (strcmp(path, "-")) {
        sg_dir_of(path, dir, sizeof dir);
        snprintf(buf, n, "%s/history.jsonl", dir);
        if (access(buf, F_OK) == 0) return cli_shell_operand(buf);
    }
    return "RUN/history.jsonl, the file sg-train appends a record to";
}

/* A history without a record yet: a run stopped (or looked at) before its
 * first --log-every iterations. The run's config.json beside it says when
 * its first record comes; a run that finished before it (RUN/latest names
 * its last iteration, --iters below --log-every) gets none: the line gives
 * the resume that reaches it. */
static void die_no_records(const char *path, const char *name)
{
    char dir[PATH_MAX], **shards;
    int n_shards;
    sg_train_options o;
    sg_err ignored;
    if (strcmp(path, "-")) {
        sg_dir_of(path, dir, sizeof dir);
        if (sg_run_config_read(dir, &o, &shards, &n_shards, &ignored) == 0) {
            sg_run_free_paths(shards, n_shards);
            if (o.log_every == 0)
                cli_die("%s: no records (an empty history: the run was started with --log-every 0, which writes "
                        "none); train with --log-every N to plot its losses", name);
            /* a run that ended (its last checkpoint is its last iteration) before its first record */
            int64_t at;
            if (sg_ckpt_latest(dir, &at, &ignored) == 0 && at > 0 && at == o.iters && at < o.log_every)
                cli_die("%s: no records (an empty history: the run finished at iteration %lld, before its first "
                        "record at iteration %lld, --log-every); train it on to that record: sg-train -o %s --resume "
                        "--iters %lld, or start it over with --log-every %lld or less (sg-train --force)",
                        name, (long long)at, (long long)o.log_every, cli_shell_word(dir), (long long)o.log_every,
                        (long long)at);
            cli_die("%s: no records yet (an empty history: sg-train writes one every %lld iterations, "
                    "--log-every); plot it once the run has passed iteration %lld", name, (long long)o.log_every,
                    (long long)o.log_every);
        }
    }
    cli_die("%s: no records (empty input); give a history that sg-train has written to (one record every "
            "--log-every iterations)", name);
}

/* Reads the history at path; only_hit[n_only] receives which of the
 * --dataset names only[] matched a record (all must). */
static void read_history(history *h, const char *path, const char *const *only, int n_only, int *only_hit)
{
    const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    uint8_t *data;
    size_t len;
    sg_err err;
    if (sg_read_file(path, MAX_INPUT_BYTES, &data, &len, &err) != 0) die_unreadable(path, &err, 0);
    memset(h, 0, sizeof *h);
    h->only = only;
    h->n_only = n_only;
    h->only_hit = only_hit;
    h->xmin = INFINITY;
    h->xmax = -INFINITY;
    const char *text = (const char *)data;
    long line = 0;
    for (size_t pos = sg_bom_length(data, len); pos < len;) {   /* as the attribute readers */
        const char *start = text + pos, *nl = memchr(start, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - start) : len - pos;
        pos += n + (nl != NULL);
        line++;
        size_t trimmed = n;
        while (trimmed && (start[trimmed - 1] == '\r' || start[trimmed - 1] == ' ' || start[trimmed - 1] == '\t')) trimmed--;
        size_t lead = 0;
        while (lead < trimmed && (start[lead] == ' ' || start[lead] == '\t')) lead++;
        if (lead == trimmed) continue;   /* blank line */
        json_value *v;
        json_error_pos where;
        if (json_parse(start, n, NULL, &v, &where, &err) != 0) {
            /* A last line without its newline is one being written (sg-train
             * appends a line at a time) or cut by a crash: skipped, as
             * sg-train --resume drops it. */
            if (!nl) { h->torn_line = line; break; }
            int whole = h->records == 0 ? whole_document(data, len) : WHOLE_NONE;
            if (whole == WHOLE_STATS)   /* statistics over several lines */
                cli_die("%s: dataset statistics, not a training history: add --bars", name);
            if (whole == WHOLE_JSON) {   /* a run's config.json, say */
                char buf[PATH_MAX + 16];
                cli_die("%s: not a history.jsonl (one JSON document over several lines, not a record a line); "
                        "give %s", name, history_to_give(path, buf, sizeof buf));
            }
            cli_die("%s line %ld: %s at column %ld", name, line, where.what, where.column);
        }
        if (v->type != JSON_OBJECT) cli_die("%s line %ld: expected a JSON object, found %s", name, line, json_type_name(v->type));
        double it;
        if (json_get_num(v, "iteration", &it, &err) != 0) {
            if (h->records == 0 && is_stats_object(v))
                cli_die("%s: dataset statistics, not a training history: add --bars", name);
            if (h->records == 0 && !json_get(v, "iteration")) {
                char buf[PATH_MAX + 16];
                cli_die("%s: not a history.jsonl (line %ld's object has no \"iteration\"); give %s", name, line,
                        history_to_give(path, buf, sizeof buf));
            }
            cli_die("%s line %ld: %s", name, line, err.msg);
        }
        const json_value *ds = json_get(v, "dataset");
        const char *dataset = json_str(ds) ? json_str(ds) : "";
        if (h->n_only) {
            int keep = 0, known = 0;
            for (int i = 0; i < h->n_only; i++)
                if (dataset_selects(h->only[i], dataset)) keep = h->only_hit[i] = 1;
            for (int i = 0; i < h->n_seen && !known; i++) known = !strcmp(h->seen[i], dataset);
            if (!known && h->n_seen == (int)(sizeof h->seen / sizeof *h->seen)) h->seen_cut = 1;
            else if (!known && !(h->seen[h->n_seen++] = strdup(dataset))) cli_die("out of memory");
            if (!keep) {   /* another dataset's record: not plotted */
                h->records++;
                json_free(v);
                continue;
            }
        }
        h->kept++;
        for (size_t k = 0; k < v->n; k++) {
            const char *key = v->keys[k];
            const json_value *val = v->items[k];
            if (panel_of(key) < 0) continue;
            if (val->type == JSON_NULL || (val->type == JSON_STRING && is_nonfinite_word(val->str))) {
                h->skipped_nonfinite++;
                continue;
            }
            if (val->type != JSON_NUMBER)
                cli_die("%s line %ld: key \"%s\": expected a number, found %s", name, line,
                        sg_quote_bytes(key, v->key_lens[k]).s, json_type_name(val->type));
            series *sr = find_series(h, key, dataset, name, line);
            /* sg-train writes one record per iteration, going forward (a
             * resume cuts the history back to its checkpoint first): a
             * series going back would zigzag drawn in file order, and
             * keeping one point per iteration would pass off two runs as
             * one. Datasets are apart: several may log one iteration. */
            if (sr->n && !(it > sr->x[sr->n - 1]))
                cli_die("%s line %ld: iteration %.15g after iteration %.15g (line %ld); a run's history goes "
                        "only forward (two runs' histories joined, or lines edited?): plot each run's history on "
                        "its own", name, line, it, sr->x[sr->n - 1], sr->last_line);
            sr->last_line = line;
            add_point(sr, it, val->num);
            if (it < h->xmin) h->xmin = it;
            if (it > h->xmax) h->xmax = it;
        }
        h->records++;
        json_free(v);
    }
    free(data);
    if (h->records == 0 && h->torn_line)
        cli_die("%s: no records (line %ld is cut short: no newline at its end); plot it once the run has written "
                "that line whole, or resume a run that crashed (sg-train --resume drops the line)", name,
                h->torn_line);
    if (h->records == 0) die_no_records(path, name);
    for (int i = 0; i < h->n_only; i++)
        if (!h->only_hit[i]) die_no_dataset(h, name, h->only[i]);
    if (h->n_series == 0)
        cli_die("%s: no loss or lr values in %ld record%s%s; sg-plot draws keys beginning D/ or G/ and keys ending "
                "in lr (sg-train's history.jsonl has D/loss_real, G/loss_rec, lr...): give a history with such keys",
                name, h->kept, h->kept == 1 ? "" : "s", h->n_only ? " of the datasets given (--dataset)" : "");
    for (int i = 0; i < h->n_seen; i++) free(h->seen[i]);
    h->n_seen = 0;
    if (h->torn_line && !cli_quiet)
        cli_warn("%s line %ld: cut short (no newline at its end: a run still writing it?); skipped", name,
                 h->torn_line);
}

/* Trailing moving average over the last `window` points. */
static void smooth_series(series *s, int window)
{
    if (window <= 1 || s->n == 0) return;
    double *out = malloc(s->n * sizeof *out), sum = 0;
    if (!out) cli_die("out of memory");
    for (size_t i = 0; i < s->n; i++) {
        sum += s->y[i];
        if (i >= (size_t)window) sum -= s->y[i - window];
        size_t count = i + 1 < (size_t)window ? i + 1 : (size_t)window;
        out[i] = sum / count;
    }
    free(s->y);
    s->y = out;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Percentile by linear interpolation between order statistics. */
static double percentile(const double *sorted, size_t n, double p)
{
    double r = p / 100 * (n - 1);
    size_t i = (size_t)floor(r);
    if (i + 1 >= n) return sorted[n - 1];
    return sorted[i] + (r - i) * (sorted[i + 1] - sorted[i]);
}

/* y-limits of a panel: robust (1st..99th percentile, widened to the true minimum
 * or maximum when that lies within a quarter span of it) plus a 5% margin. */
static int panel_range(const history *h, int panel, int full_range, double *lo, double *hi)
{
    size_t n = 0;
    for (int k = 0; k < h->n_series; k++) if (h->s[k].panel == panel) n += h->s[k].n;
    if (n == 0) return -1;
    double *all = malloc(n * sizeof *all);
    if (!all) cli_die("out of memory");
    n = 0;
    for (int k = 0; k < h->n_series; k++)
        if (h->s[k].panel == panel) { memcpy(all + n, h->s[k].y, h->s[k].n * sizeof *all); n += h->s[k].n; }
    qsort(all, n, sizeof *all, cmp_double);
    /* Limits within +-1e300, so that spans, margins and ticks stay finite
     * (values near DBL_MAX made every one inf: an empty panel); a point
     * beyond them is clipped to the panel's edge like any outlier. */
    const double LIMIT = 1e300;
#define WITHIN_LIMIT(v) fmin(fmax((v), -LIMIT), LIMIT)
    double mn = WITHIN_LIMIT(all[0]), mx = WITHIN_LIMIT(all[n - 1]);
    double a = WITHIN_LIMIT(percentile(all, n, 1)), b = WITHIN_LIMIT(percentile(all, n, 99));
#undef WITHIN_LIMIT
    free(all);
    if (full_range) { a = mn; b = mx; }
    double span = b - a;
    if (mn >= a - 0.25 * span) a = mn;
    if (mx <= b + 0.25 * span) b = mx;
    span = b - a;
    if (!(span > 0)) {
        /* A constant series (e.g. the learning rate before decay) is shown against zero. */
        if (a > 0) { a = 0; b = b * 1.25; }
        else if (a < 0) { b = 0; a = a * 1.25; }
        else { a = -1; b = 1; }
        span = b - a;
    }
    *lo = a - 0.05 * span;
    *hi = b + 0.05 * span;
    /* Losses that never go negative keep 0 as the floor if the margin crossed it. */
    if (mn >= 0 && *lo < 0) *lo = 0;
    return 0;
}

/* Everything about a history plot's layout that depends on the image size
 * (the text scale grows with it): what draw_history draws with, and what
 * says whether a size is large enough. */
typedef struct {
    int S, lh, title_scale, top, header, xlabels, avail;
    int need_avail;   /* the panels' least total height: MIN_PANELS_H, or more for their legends */
    int has[N_PANELS], py[N_PANELS], ph[N_PANELS], left, px, pw;
    double lo[N_PANELS], hi[N_PANELS];
    ticks yt[N_PANELS];
    char ylab[N_PANELS][64][32];
    char labels[MAX_SERIES][160];
} history_layout;

enum { MIN_PANELS_H = 3 * 40, MIN_PLOT_W = 100 };

/* Which panels have data, and their y-ranges: the same at every size, so
 * found once (each sorts every value), not per layout_history of a size search. */
static void panel_ranges(const history *h, int full_range, history_layout *L)
{
    for (int p = 0; p < N_PANELS; p++) {
        L->has[p] = panel_range(h, p, full_range, &L->lo[p], &L->hi[p]) == 0;
        if (!L->has[p]) { L->lo[p] = 0; L->hi[p] = 1; }
    }
}

/* L's ranges from panel_ranges; the rest for size W x H. */
static void layout_history(const history *h, const char *title, int W, int H, history_layout *L)
{
    int S = L->S = default_scale(W, H), lh = L->lh = SG_FONT_CELL_H * S;
    /* Heights 2:2:1 (lr is simpler). */
    int weight[N_PANELS] = {2, 2, 1}, total_w = 0;
    for (int p = 0; p < N_PANELS; p++) total_w += weight[p];
    L->title_scale = text_width(title, S + 1) <= W - 20 ? S + 1 : S;
    L->top = 8 + SG_FONT_CELL_H * L->title_scale + 6;
    L->header = lh + 4;
    L->xlabels = lh + 6;
    int bottom_label = lh + 6;
    L->avail = H - L->top - bottom_label - N_PANELS * (L->header + L->xlabels) - 6;

    /* Legend labels ("key (dataset)" when the history has several datasets) and their width. */
    int legend_w = 0;
    for (int k = 0; k < h->n_series; k++) {
        if (h->n_datasets > 1 && h->s[k].dataset[0])
            snprintf(L->labels[k], sizeof L->labels[k], "%s (%s)", h->s[k].key, h->s[k].dataset);
        else snprintf(L->labels[k], sizeof L->labels[k], "%s", h->s[k].key);
        int w = text_width(L->labels[k], S);
        if (w > legend_w) legend_w = w;
    }
    legend_w += 3 * lh + 12 + 12;

    /* Heights: each panel at least as high as its legend (which may use the
     * x tick labels' band below it, not the next panel's title), the rest
     * shared 2:2:1 among the panels that need no more than their share. */
    int min_h[N_PANELS] = {0}, fixed[N_PANELS] = {0}, min_total = 0;
    for (int p = 0; p < N_PANELS; p++) {
        int entries = 0;
        for (int k = 0; k < h->n_series; k++) entries += h->s[k].panel == p && h->s[k].n > 0;
        int legend_h = entries ? entries * (lh + 6) + 4 - L->xlabels : 0;
        min_h[p] = legend_h > 0 ? legend_h : 0;
        min_total += min_h[p];
    }
    L->need_avail = min_total > MIN_PANELS_H ? min_total : MIN_PANELS_H;
    int left_h = L->avail, left_w = total_w;
    for (int changed = 1; changed;) {
        changed = 0;
        for (int p = 0; p < N_PANELS; p++)
            if (!fixed[p] && left_w > 0 && (left_h > 0 ? left_h : 0) * weight[p] / left_w < min_h[p]) {
                fixed[p] = changed = 1;
                L->ph[p] = min_h[p];
                left_h -= min_h[p];
                left_w -= weight[p];
            }
    }
    for (int p = 0; p < N_PANELS; p++)
        if (!fixed[p]) L->ph[p] = left_h > 0 ? left_h * weight[p] / left_w : 0;

    /* Vertical layout first (ticks depend only on heights), then tick labels decide the left margin. */
    int y = L->top;
    L->left = 0;
    for (int p = 0; p < N_PANELS; p++) {
        L->py[p] = y + L->header;
        y = L->py[p] + L->ph[p] + L->xlabels;
        make_ticks(&L->yt[p], L->lo[p], L->hi[p], L->ph[p] / (2 * lh) > 3 ? L->ph[p] / (2 * lh) : 3);
        for (int t = 0; t < L->yt[p].n; t++) {
            format_tick(L->ylab[p][t], sizeof L->ylab[p][t], L->yt[p].v[t], L->yt[p].step);
            int w = text_width(L->ylab[p][t], S);
            if (w > L->left) L->left = w;
        }
    }
    L->left += 8 + 2 * S;
    L->px = L->left;
    L->pw = W - L->left - legend_w - 10;
}

/* The smallest size from the given one up that the plot fits: the text
 * grows with the image (default_scale), so a shortfall measured at one size
 * may not be the one at the next. height: search the height, else the width. */
static int size_needed(const history *h, const char *title, int W, int H, int height, history_layout *L)
{
    for (int k = 0; k < 64; k++) {
        layout_history(h, title, W, H, L);
        int short_by = height ? L->need_avail - L->avail : MIN_PLOT_W - L->pw;
        if (short_by <= 0) return height ? H : W;
        if (height) H += short_by;
        else W += short_by;
        if ((height ? H : W) > 16384) break;
    }
    return -1;
}

static void draw_history(const history *h, const char *title, int W, int H, int full_range,
                         const char *out_path, int quiet, const char *name)
{
    history_layout *L = malloc(sizeof *L);
    if (!L) cli_die("out of memory");
    int grow = H == 0;   /* no --height: 900, or taller where the legends need it */
    if (grow) H = 900;
    panel_ranges(h, full_range, L);
    layout_history(h, title, W, H, L);
    if (L->avail < L->need_avail && grow && (H = size_needed(h, title, W, H, 1, L)) > 0)
        layout_history(h, title, W, H, L);
    if (L->avail < L->need_avail) {
        if (grow) cli_die("the legends of this plot need an image higher than 16384 pixels");
        const char *what = L->need_avail > MIN_PANELS_H ? "three panels and their legends" : "three panels";
        int need = size_needed(h, title, W, H, 1, L);
        if (need < 0) cli_die("image height %d is too small for %s", H, what);
        cli_die("image height %d is too small for %s; this plot needs --height %d or more", H, what, need);
    }
    if (L->pw < MIN_PLOT_W) {
        int need = size_needed(h, title, W, H, 0, L);
        if (need < 0) cli_die("image width %d is too small for the plot and its legend", W);
        cli_die("image width %d is too small for the plot and its legend; this plot needs --width %d or more", W,
                need);
    }
    int S = L->S, lh = L->lh, title_scale = L->title_scale, header = L->header, px = L->px, pw = L->pw;
    const int *has = L->has, *py = L->py, *ph = L->ph;
    const double *lo = L->lo, *hi = L->hi;
    const ticks *yt = L->yt;
    sg_canvas c;
    sg_err err;
    if (sg_canvas_init(&c, W, H, WHITE, &err) != 0) cli_die_err(&err);

    double x0 = h->xmin, x1 = h->xmax;
    if (!(x1 > x0)) { x0 -= 1; x1 += 1; }
    ticks xt;
    make_ticks(&xt, x0, x1, pw / (7 * lh) > 2 ? pw / (7 * lh) : 2);

    text_bold(&c, (W - text_width(title, title_scale)) / 2, 8, title, title_scale, BLACK);

    long clipped_total = 0, clipped[N_PANELS] = {0};
    for (int p = 0; p < N_PANELS; p++) {
        int ax = px, ay = py[p], aw = pw, ah = ph[p];
        /* Grid and tick labels. */
        for (int t = 0; t < yt[p].n; t++) {
            int ty = ay + ah - 1 - (int)lround((yt[p].v[t] - lo[p]) / (hi[p] - lo[p]) * (ah - 1));
            sg_canvas_fill_rect(&c, ax, ty, aw, 1, GRID);
            sg_canvas_fill_rect(&c, ax - 2 * S, ty, 2 * S, 1, AXIS);
            if (has[p]) text_right(&c, ax - 2 * S - 4, ty - lh / 2, L->ylab[p][t], S, TEXT);
        }
        for (int t = 0; t < xt.n; t++) {
            int tx = ax + (int)lround((xt.v[t] - x0) / (x1 - x0) * (aw - 1));
            char lab[32];
            format_tick(lab, sizeof lab, xt.v[t], xt.step);
            sg_canvas_fill_rect(&c, tx, ay, 1, ah, GRID);
            sg_canvas_fill_rect(&c, tx, ay + ah, 1, 2 * S, AXIS);
            int lw = text_width(lab, S), lx = tx - lw / 2;
            if (lx + lw > W) lx = W - lw;
            sg_canvas_text(&c, lx, ay + ah + 2 * S + 2, lab, S, TEXT);
        }
        sg_canvas_rect(&c, ax - 1, ay - 1, aw + 2, ah + 2, AXIS);

        /* Series: polylines, clipped points at the border with a triangle. */
        int entry = 0;
        double mark = 3.0 * S + 3;
        for (int k = 0; k < h->n_series; k++) {
            const series *s = &h->s[k];
            if (s->panel != p || s->n == 0) continue;
            sg_rgb col = PALETTE[entry % PALETTE_SIZE];
            double *xs = malloc(s->n * sizeof *xs), *ys = malloc(s->n * sizeof *ys);
            if (!xs || !ys) cli_die("out of memory");
            for (size_t i = 0; i < s->n; i++) {
                double v = s->y[i];
                xs[i] = ax + (s->x[i] - x0) / (x1 - x0) * (aw - 1) + 0.5;
                if (v > hi[p]) v = hi[p];
                if (v < lo[p]) v = lo[p];
                ys[i] = ay + ah - 1 - (v - lo[p]) / (hi[p] - lo[p]) * (ah - 1) + 0.5;
            }
            sg_canvas_polyline(&c, xs, ys, (int)s->n, S > 1 ? 1.6 : 1.2, col);
            /* Few points: mark each, so that a short history is readable. */
            if (s->n <= 60)
                for (size_t i = 0; i < s->n; i++)
                    if (s->y[i] <= hi[p] && s->y[i] >= lo[p]) sg_canvas_marker(&c, xs[i], ys[i], SG_MARK_CIRCLE, 2.0 * S + 2, col);
            for (size_t i = 0; i < s->n; i++) {
                if (s->y[i] > hi[p]) sg_canvas_marker(&c, xs[i], ay + mark / 2, SG_MARK_TRI_UP, mark, col);
                else if (s->y[i] < lo[p]) sg_canvas_marker(&c, xs[i], ay + ah - mark / 2, SG_MARK_TRI_DOWN, mark, col);
                else continue;
                clipped[p]++;
            }
            free(xs);
            free(ys);
            /* Legend entry beside the panel. */
            int ly = ay + entry * (lh + 6) + 4, lx = ax + aw + 12;
            sg_canvas_line(&c, lx, ly + lh / 2.0, lx + 2.5 * lh, ly + lh / 2.0, 2.0 * S, col);
            sg_canvas_text(&c, lx + 3 * lh, ly, L->labels[k], S, TEXT);
            entry++;
        }
        clipped_total += clipped[p];

        /* Panel title, with the clipping note. */
        text_bold(&c, ax, ay - header, PANEL_TITLE[p], S, BLACK);
        int tw = text_width(PANEL_TITLE[p], S) + 1;
        char note[128] = "";
        if (!has[p]) snprintf(note, sizeof note, "  (no data)");
        else if (clipped[p])
            snprintf(note, sizeof note, "  (%ld point%s clipped: triangles at the border)", clipped[p], clipped[p] == 1 ? "" : "s");
        sg_canvas_text(&c, ax + tw, ay - header, note, S, NOTE);
    }
    const char *xname = "iteration";
    sg_canvas_text(&c, px + (pw - text_width(xname, S)) / 2, H - lh - 4, xname, S, TEXT);
    if (h->skipped_nonfinite) {
        char note[96];
        snprintf(note, sizeof note, "%ld non-finite value%s skipped", h->skipped_nonfinite, h->skipped_nonfinite == 1 ? "" : "s");
        sg_canvas_text(&c, 4, H - lh - 4, note, S, NOTE);
    }

    if (sg_canvas_save(&c, out_path, &err) != 0) cli_die_output_err(&err, out_path);
    sg_canvas_free(&c);
    free(L);
    if (!quiet && (clipped_total || h->skipped_nonfinite)) {
        cli_warn("%s: %ld point%s clipped (D %ld, G %ld, lr %ld), %ld non-finite value%s skipped",
                 name, clipped_total, clipped_total == 1 ? "" : "s", clipped[PANEL_D], clipped[PANEL_G],
                 clipped[PANEL_LR], h->skipped_nonfinite, h->skipped_nonfinite == 1 ? "" : "s");
    }
}

/* ---------------------------------------------------------------- bars */

typedef struct { char label[160]; int64_t positive, negative; } bar;
#define MAX_BAR_COUNT (INT64_C(1) << 52)
#define MAX_BARS 4096       /* one row each; draw_bars keeps a 64-byte string per bar on the stack */

static void read_bar_entry(const json_value *o, const char *group, bar *b, const char *name, const char *where)
{
    sg_err err;
    const char *label;
    if (o->type != JSON_OBJECT) cli_die("%s: %s: expected an object", name, where);
    if (json_get_str(o, "name", &label, &err) != 0 || json_get_int(o, "positive", &b->positive, &err) != 0 ||
        json_get_int(o, "negative", &b->negative, &err) != 0)
        cli_die("%s: %s: %s", name, where, err.msg);
    if (b->positive < 0 || b->negative < 0) cli_die("%s: %s: negative count", name, where);
    /* Their sum must not overflow (and stays exact as a double). */
    if (b->positive > MAX_BAR_COUNT || b->negative > MAX_BAR_COUNT)
        cli_die("%s: %s: count larger than %lld", name, where, (long long)MAX_BAR_COUNT);
    if (group) snprintf(b->label, sizeof b->label, "%s: %s", group, label);
    else snprintf(b->label, sizeof b->label, "%s", label);
}

/* Accepts celeb-dump --stats --json ({"labels": [...]}) and celeb-split --json
 * ({"groups": [{"name", "attributes": [...]}]}). */
static bar *read_bars(const char *path, int *n_out, char *title, size_t title_len)
{
    const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    uint8_t *data;
    size_t len;
    sg_err err;
    if (sg_read_file(path, MAX_INPUT_BYTES, &data, &len, &err) != 0) die_unreadable(path, &err, 1);
    json_value *v;
    json_error_pos where;
    size_t bom = sg_bom_length(data, len);
    if (json_parse((const char *)data + bom, len - bom, NULL, &v, &where, &err) != 0) {
        if (where.line == 1 && where.column == 1 && len == bom) cli_die("%s: empty input", name);
        if (looks_like_history(data, len))
            cli_die("%s: a training history, not statistics JSON: drop --bars", name);
        if (where.line == 1 && where.column == 1)   /* celeb-dump --stats's table, say */
            cli_die("%s line 1: %s at column 1: not JSON (--bars reads celeb-dump --stats --json or "
                    "celeb-split --json)", name, where.what);
        cli_die("%s line %ld: %s at column %ld", name, where.line, where.what, where.column);
    }
    free(data);
    if (v->type != JSON_OBJECT) cli_die("%s: expected a JSON object, found %s", name, json_type_name(v->type));
    bar *bars = NULL;
    int n = 0;
    const json_value *labels = json_get(v, "labels"), *groups = json_get(v, "groups");
    char where_s[96];
    if (json_is(labels, JSON_ARRAY)) {
        bars = calloc(labels->n + 1, sizeof *bars);
        if (!bars) cli_die("out of memory");
        for (size_t i = 0; i < labels->n; i++) {
            snprintf(where_s, sizeof where_s, "labels[%zu]", i);
            read_bar_entry(labels->items[i], NULL, &bars[n++], name, where_s);
        }
        const char *shard = json_str(json_get(v, "shard"));
        const json_value *count = json_get(v, "count");
        snprintf(title, title_len, "Attributes of %s%s", shard ? shard : name, "");
        if (json_is(count, JSON_NUMBER)) {
            size_t l = strlen(title);
            snprintf(title + l, title_len - l, " (%.0f records)", count->num);
        }
    } else if (json_is(groups, JSON_ARRAY)) {
        size_t total = 0;
        for (size_t g = 0; g < groups->n; g++) total += json_len(json_get(groups->items[g], "attributes"));
        bars = calloc(total + 1, sizeof *bars);
        if (!bars) cli_die("out of memory");
        for (size_t g = 0; g < groups->n; g++) {
            const json_value *gr = groups->items[g], *attrs;
            const char *gname;
            snprintf(where_s, sizeof where_s, "groups[%zu]", g);
            if (json_get_str(gr, "name", &gname, &err) != 0 || json_get_array(gr, "attributes", &attrs, &err) != 0)
                cli_die("%s: %s: %s", name, where_s, err.msg);
            for (size_t i = 0; i < attrs->n; i++) {
                snprintf(where_s, sizeof where_s, "groups[%zu].attributes[%zu]", g, i);
                read_bar_entry(attrs->items[i], gname, &bars[n++], name, where_s);
            }
        }
        const char *input = json_str(json_get(v, "input"));
        snprintf(title, title_len, "Attribute groups of %s", input ? input : name);
    } else {
        if (json_is(json_get(v, "iteration"), JSON_NUMBER))   /* a history of one record */
            cli_die("%s: a training history, not statistics JSON: drop --bars", name);
        cli_die("%s: expected statistics JSON with a \"labels\" array (celeb-dump --stats --json) "
                "or a \"groups\" array (celeb-split --json)", name);
    }
    int of_labels = json_is(labels, JSON_ARRAY);   /* read before v is freed */
    json_free(v);
    if (n == 0 && of_labels)
        cli_die("%s: no attributes to plot (an empty \"labels\" array); give the statistics of a shard, as "
                "celeb-dump --stats --json writes them", name);
    if (n == 0)
        cli_die("%s: no attributes to plot (no group lists any); give the groups celeb-split --json writes", name);
    if (n > MAX_BARS)
        cli_die("%s: %d attributes (at most %d can be plotted, a bar each); plot them in parts: split its %s into "
                "files of at most %d attributes", name, n, MAX_BARS, of_labels ? "\"labels\" array" : "groups",
                MAX_BARS);
    *n_out = n;
    return bars;
}

/* draw_bars' layout at W x H (H <= 0: as high as the bars need), its
 * widest label and count texts at scale 1 given: whether it fits. */
typedef struct { int S, lh, row_h, title_scale, top, H, name_w, num_w, bx, bw; } bars_layout;

static int layout_bars(int n, const char *title, int name_w1, int num_w1, int W, int H, bars_layout *L)
{
    int S = default_scale(W, W * 3 / 4), lh = SG_FONT_CELL_H * S;
    int row_h = lh + 8 * S;
    int title_scale = text_width(title, S + 1) <= W - 20 ? S + 1 : S;
    int top = 10 + SG_FONT_CELL_H * title_scale + 10 + lh + 12;   /* title, then the legend line */
    if (H <= 0) H = top + n * row_h + 16;
    int fits = 1;
    if (n * row_h > H - top - 8) {
        row_h = (H - top - 8) / n;
        if (row_h < SG_FONT_CELL_H) fits = 0;
        while (S > 1 && SG_FONT_CELL_H * S > row_h - 2) S--;
        lh = SG_FONT_CELL_H * S;
    }
    *L = (bars_layout){.S = S, .lh = lh, .row_h = row_h, .title_scale = title_scale, .top = top, .H = H,
                       .name_w = name_w1 * S, .num_w = num_w1 * S};
    L->bx = 10 + L->name_w + 10;
    L->bw = W - L->bx - L->num_w - 20;
    return fits && L->bw >= 60;
}

/* The smallest --width (height 0) or --height (1) from the given size up
 * at which the bars fit; -1 when none up to 16384 does. */
static int bars_size_needed(int n, const char *title, int name_w1, int num_w1, int W, int H, int height)
{
    bars_layout L;
    for (int v = height ? H : W; v <= 16384; v++)
        if (layout_bars(n, title, name_w1, num_w1, height ? W : v, height ? v : H, &L)) return v;
    return -1;
}

static void draw_bars(const bar *bars, int n, const char *title, int W, int H, const char *out_path)
{
    int name_w1 = 0, num_w1 = 0;
    char nums[n][64];
    for (int i = 0; i < n; i++) {
        int w = text_width(bars[i].label, 1);
        if (w > name_w1) name_w1 = w;
        int64_t tot = bars[i].positive + bars[i].negative;
        if (tot)
            snprintf(nums[i], sizeof nums[i], "%lld / %lld (%.1f%%)", (long long)bars[i].positive,
                     (long long)bars[i].negative, 100.0 * bars[i].positive / tot);
        else snprintf(nums[i], sizeof nums[i], "no records");
        w = text_width(nums[i], 1);
        if (w > num_w1) num_w1 = w;
    }
    bars_layout L;
    if (!layout_bars(n, title, name_w1, num_w1, W, H, &L)) {
        int high = L.row_h < SG_FONT_CELL_H, need = bars_size_needed(n, title, name_w1, num_w1, W, H, high);
        char what[64];
        if (high) snprintf(what, sizeof what, "%d bars", n);
        else snprintf(what, sizeof what, "the labels");
        if (need < 0) cli_die("image %s %d is too small for %s", high ? "height" : "width", high ? H : W, what);
        cli_die("image %s %d is too small for %s; this plot needs --%s %d or more", high ? "height" : "width",
                high ? H : W, what, high ? "height" : "width", need);
    }
    int S = L.S, lh = L.lh, row_h = L.row_h, title_scale = L.title_scale, top = L.top, bx = L.bx, bw = L.bw;
    H = L.H;
    sg_canvas c;
    sg_err err;
    if (sg_canvas_init(&c, W, H, WHITE, &err) != 0) cli_die_err(&err);
    const sg_rgb POS = PALETTE[0], NEG = {205, 205, 205};

    text_bold(&c, (W - text_width(title, title_scale)) / 2, 10, title, title_scale, BLACK);
    int ly = 10 + SG_FONT_CELL_H * title_scale + 10;
    sg_canvas_fill_rect(&c, bx, ly + 2, 2 * lh, lh - 4, POS);
    int lx = bx + 2 * lh + 6;
    lx += sg_canvas_text(&c, lx, ly, "positive", S, TEXT) + 3 * lh;
    sg_canvas_fill_rect(&c, lx, ly + 2, 2 * lh, lh - 4, NEG);
    lx += 2 * lh + 6;
    lx += sg_canvas_text(&c, lx, ly, "negative", S, TEXT) + 3 * lh;
    sg_canvas_text(&c, lx, ly, "(bar length: share of records)", S, AXIS);

    for (int i = 0; i < n; i++) {
        int y = top + i * row_h, bh = row_h - 6;
        int64_t tot = bars[i].positive + bars[i].negative;
        int pos_w = tot ? (int)lround((double)bars[i].positive / tot * bw) : 0;
        text_right(&c, bx - 10, y + (row_h - lh) / 2, bars[i].label, S, TEXT);
        if (tot) {   /* no records (an empty group): no bar, which would read as all negative */
            sg_canvas_fill_rect(&c, bx, y + 3, pos_w, bh, POS);
            sg_canvas_fill_rect(&c, bx + pos_w, y + 3, bw - pos_w, bh, NEG);
        }
        sg_canvas_text(&c, bx + bw + 10, y + (row_h - lh) / 2, nums[i], S, TEXT);
    }
    /* 50% guide. */
    for (int y = top; y < top + n * row_h; y += 4) sg_canvas_fill_rect(&c, bx + bw / 2, y, 1, 2, BLACK);

    if (sg_canvas_save(&c, out_path, &err) != 0) cli_die_output_err(&err, out_path);
    sg_canvas_free(&c);
}

int main(int argc, char **argv)
{
    cli_init(argv);
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"bars", no_argument, 0, 'b'},
        {"smooth", required_argument, 0, 's'}, {"full-range", no_argument, 0, 'F'},
        {"title", required_argument, 0, 't'}, {"width", required_argument, 0, 'W'},
        {"height", required_argument, 0, 'H'}, {"dataset", required_argument, 0, 'd'},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'}, {0, 0, 0, 0}};
    const char *out = NULL, *title = NULL;
    int bars_mode = 0, smooth = 1, full_range = 0, W = 1200, H = 0;
    const char *history_only = NULL;   /* the last option --bars has no use for */
    const char **only = calloc((size_t)argc, sizeof *only);   /* --dataset NAMEs */
    int n_only = 0, *only_hit = calloc((size_t)argc, sizeof *only_hit);
    if (!only || !only_hit) cli_die("out of memory");
    int c;
    while ((c = cli_getopt(argc, argv, "o:qh", opts)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'b': bars_mode = 1; break;
        case 's': smooth = (int)cli_parse_long("--smooth", optarg, 1, 1000000); history_only = "--smooth"; break;
        case 'F': full_range = 1; history_only = "--full-range"; break;
        case 't': title = optarg; break;
        case 'W': W = (int)cli_parse_long("--width", optarg, 200, 16384); break;
        case 'H': H = (int)cli_parse_long("--height", optarg, 150, 16384); break;
        case 'd':
            if (!*optarg) cli_usage_error("--dataset: empty (give a dataset's name, as the history's records have it)");
            only[n_only++] = optarg;
            history_only = "--dataset";
            break;
        case 'q': cli_quiet = 1; break;
        case 'h': usage(); cli_finish_stdout(); return 0;
        case 'V': cli_version();
        default: cli_try_help();   /* an option without a case above */
        }
    }
    if (optind + 1 != argc) cli_usage_error(optind == argc ? "missing input file" : "too many arguments");
    if (bars_mode && history_only) cli_usage_error("%s is for a history plot, not for --bars", history_only);
    if (!out) cli_usage_error("missing -o/--output");
    cli_refuse_empty_path("-o/--output", out);
    cli_refuse_empty_path("the input file", argv[optind]);
    cli_refuse_image_to_terminal(out);
    const char *in = argv[optind];
    cli_refuse_output_is_input(out, "input", in, "choose another -o");   /* h.jsonl -o h.jsonl */
    cli_refuse_output_over_data(out, "choose another -o");   /* a shard's data.mdb, a run's config.json */
    cli_remove_dead_temps_of(out);

    if (bars_mode) {
        int n;
        char auto_title[512];
        bar *bars = read_bars(in, &n, auto_title, sizeof auto_title);
        draw_bars(bars, n, title ? title : auto_title, W, H, out);
        free(bars);
    } else {
        history h;
        read_history(&h, in, only, n_only, only_hit);
        for (int k = 0; k < h.n_series; k++) smooth_series(&h.s[k], smooth);
        char auto_title[512], datasets[256] = "";
        const char *base = strcmp(in, "-") == 0 ? "<stdin>" : strlen(in) <= 60 ? in : strrchr(in, '/') ? strrchr(in, '/') + 1 : in;
        /* the datasets chosen: a legend names them only when there are several */
        for (int i = 0; i < n_only; i++) {
            size_t l = strlen(datasets);
            snprintf(datasets + l, sizeof datasets - l, "%s%s", i ? ", " : n_only > 1 ? ", datasets " : ", dataset ",
                     only[i]);
        }
        if (smooth > 1)
            snprintf(auto_title, sizeof auto_title, "Training history: %s%s (moving average of %d)", base, datasets,
                     smooth);
        else snprintf(auto_title, sizeof auto_title, "Training history: %s%s", base, datasets);
        draw_history(&h, title ? title : auto_title, W, H, full_range, out, cli_quiet,
                     strcmp(in, "-") == 0 ? "<stdin>" : in);
        for (int k = 0; k < h.n_series; k++) { free(h.s[k].key); free(h.s[k].dataset); free(h.s[k].x); free(h.s[k].y); }
    }
    free(only);
    free(only_hit);
    if (strcmp(out, "-") == 0) cli_finish_stdout();
    return 0;
}
