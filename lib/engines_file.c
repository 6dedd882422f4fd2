/* The engines file (lib/engines_file.h): format and parse. */
#include "engines_file.h"
#include "backend.h"
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMMENT "# stargan-c: the cuDNN engines chosen per convolution shape; a run " \
                "that loads this file makes the same choices\n"
#define CHOICE_FORM "\"KIND N Ci H W Co K stride pad rank engine_id [knobs ...]\" (KIND fwd, bwd-data or " \
                    "bwd-filter)"
#define KNOB_FORM "a knob TYPE=VALUE (TYPE 0..2147483647, VALUE an integer)"
#define ANEW " (delete the file to choose anew)"

/* no padding (sg_engine_choice compares with memcmp) */
_Static_assert(sizeof(sg_engine_choice) == 10 * sizeof(int) + sizeof(int64_t) + 2 * sizeof(int) +
                                               SG_ENGINES_MAX_KNOBS * 2 * sizeof(int64_t), "sg_engine_choice padding");

static const char *const kind_names[] = {"fwd", "bwd-data", "bwd-filter"};
static const char *const header_forms[] = {
    "\"device NAME\"", "\"cudnn N\"", "\"layout nhwc\" or \"layout nchw\"",
    "\"precision tf32\", \"precision fp32\" or \"precision bf16\"",
};
static const char *const header_keys[] = {"device", "cudnn", "layout", "precision"};
static const char *const field_names[] = {"N", "Ci", "H", "W", "Co", "K", "stride", "pad"};

/* The name of a kind ("fwd", "bwd-data", "bwd-filter"), NULL if out of range. */
static const char *kind_name(int kind)
{
    return kind >= 0 && kind < 3 ? kind_names[kind] : NULL;
}

/* ---- values both sides check ---------------------------------------------- */

static int is_blank(char ch) { return ch == ' ' || ch == '\t'; }
static int is_control(unsigned char ch) { return ch < 0x20 || ch == 0x7f; }

static int device_ok(const char *s)
{
    size_t n = strnlen(s, 256);
    if (n == 0 || n > 255 || is_blank(s[0]) || is_blank(s[n - 1])) return 0;
    for (size_t i = 0; i < n; i++)
        if (is_control((unsigned char)s[i])) return 0;
    return 1;
}

static int layout_ok(const char *s) { return !strcmp(s, "nhwc") || !strcmp(s, "nchw"); }

/* The fields of a choice in file order after KIND: N Ci H W Co K stride pad. */
static void shape_of(const sg_engine_choice *c, int v[8])
{
    v[0] = c->N; v[1] = c->Ci; v[2] = c->H; v[3] = c->W;
    v[4] = c->Co; v[5] = c->K; v[6] = c->stride; v[7] = c->pad;
}

/* The index of the first of knobs[0..i) with knobs[i]'s type, or -1. */
static int earlier_knob_type(const int64_t (*knobs)[2], int i)
{
    for (int j = 0; j < i; j++)
        if (knobs[j][0] == knobs[i][0]) return j;
    return -1;
}

int sg_engine_knobs_recordable(const int64_t (*knobs)[2], int n)
{
    if (n < 0 || n > SG_ENGINES_MAX_KNOBS) return 0;
    for (int i = 0; i < n; i++)
        if (knobs[i][0] < 0 || knobs[i][0] > SG_ENGINES_MAX_KNOB_TYPE || knobs[i][1] == INT64_MIN ||
            earlier_knob_type(knobs, i) >= 0)
            return 0;
    return 1;
}

/* 0 if c's knobs are what parse makes, else 1: recorded 0 or 1, none
 * unless recorded, none for the legacy call, a count in range, types in
 * range and each once, values not INT64_MIN (which no file text gives), the
 * unused slots zero. */
static int knobs_check(const sg_engine_choice *c)
{
    if (c->knobs_recorded != 0 && c->knobs_recorded != 1) return 1;
    if (!sg_engine_knobs_recordable((const int64_t (*)[2])c->knobs, c->n_knobs)) return 1;
    if (c->n_knobs > 0 && !c->knobs_recorded) return 1;
    if (c->knobs_recorded && c->rank == -1) return 1;
    for (int i = c->n_knobs; i < SG_ENGINES_MAX_KNOBS; i++)
        if (c->knobs[i][0] || c->knobs[i][1]) return 1;
    return 0;
}

/* 0 if c is a valid choice, else which part is not: 1 kind, 2 + field index
 * for a size, 10 rank, 11 engine_id, 12 knobs. */
static int choice_check(const sg_engine_choice *c)
{
    if (!kind_name(c->kind)) return 1;
    int v[8];
    shape_of(c, v);
    for (int i = 0; i < 8; i++)
        if (v[i] < (i == 7 ? 0 : 1) || v[i] > SG_ENGINES_MAX_DIM) return 2 + i;
    if (c->rank < -1 || c->rank > SG_ENGINES_MAX_RANK) return 10;
    if (c->engine_id < -1 || (c->rank == -1 && c->engine_id != -1)) return 11;
    if (knobs_check(c)) return 12;
    return 0;
}

static int choice_cmp(const sg_engine_choice *a, const sg_engine_choice *b)
{
    if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
    int va[8], vb[8];
    shape_of(a, va);
    shape_of(b, vb);
    for (int i = 0; i < 8; i++)
        if (va[i] != vb[i]) return va[i] < vb[i] ? -1 : 1;
    return 0;
}

/* The first pair i < j (smallest j) of choices with the same kind and shape:
 * returns j and sets *first = i, or -1 when there is none; -2 out of memory. */
typedef struct { sg_engine_choice c; int i; } indexed_choice;
static int by_shape_then_index(const void *pa, const void *pb)
{
    const indexed_choice *a = pa, *b = pb;
    int d = choice_cmp(&a->c, &b->c);
    return d ? d : (a->i > b->i) - (a->i < b->i);
}

static int find_duplicate(const sg_engine_choice *c, int n, int *first)
{
    if (n < 2) return -1;
    indexed_choice *s = malloc((size_t)n * sizeof *s);
    if (!s) return -2;
    for (int i = 0; i < n; i++) { s[i].c = c[i]; s[i].i = i; }
    qsort(s, (size_t)n, sizeof *s, by_shape_then_index);
    int best = -1;
    for (int i = 1; i < n; i++)
        if (!choice_cmp(&s[i - 1].c, &s[i].c) && (best < 0 || s[i].i < best)) {
            best = s[i].i;
            *first = s[i - 1].i;
        }
    free(s);
    return best;
}

/* ---- format ------------------------------------------------------------------ */

char *sg_engines_format(const sg_engines_header *h, const sg_engine_choice *c, int n, size_t *len,
                        sg_err *err)
{
    if (!device_ok(h->device))
        { sg_errf(err, "engines file: device name \"%.255s\" cannot be saved (1..255 printable bytes, "
                  "no blank at either end)", h->device); return NULL; }
    if (h->cudnn < 0) { sg_errf(err, "engines file: cuDNN version %lld", h->cudnn); return NULL; }
    if (!layout_ok(h->layout)) { sg_errf(err, "engines file: layout \"%.7s\"", h->layout); return NULL; }
    if (!sg_precision_valid(h->precision))
        { sg_errf(err, "engines file: precision \"%.7s\"", h->precision); return NULL; }
    if (n < 0 || (n > 0 && !c)) { sg_errf(err, "engines file: %d choices", n); return NULL; }
    for (int i = 0; i < n; i++)
        if (choice_check(&c[i])) {
            sg_errf(err, "engines file: choice %d (kind %d, %dx%dx%dx%d to %d, K %d, stride %d, pad %d, "
                    "rank %d, engine %lld, knobs recorded %d, %d knobs) cannot be saved", i, c[i].kind, c[i].N,
                    c[i].Ci, c[i].H, c[i].W, c[i].Co, c[i].K, c[i].stride, c[i].pad, c[i].rank,
                    (long long)c[i].engine_id, c[i].knobs_recorded, c[i].n_knobs);
            return NULL;
        }
    int first = -1, dup = find_duplicate(c, n, &first);
    if (dup == -2) { sg_err_oom(err, "out of memory"); return NULL; }
    if (dup >= 0) {
        sg_errf(err, "engines file: choices %d and %d are for the same kind and shape", first, dup);
        return NULL;
    }
    /* a line: a kind (10), 10 ints (11 each), an int64 (20), blanks, then
     * " knobs" and up to MAX_KNOBS pairs of an int (10) and an int64 (20) */
    size_t line_cap = 160 + 8 + SG_ENGINES_MAX_KNOBS * 40;
    size_t cap = sizeof COMMENT + 256 + 64 + (size_t)n * line_cap, used = 0;
    char *buf = malloc(cap);
    if (!buf) { sg_err_oom(err, "out of memory"); return NULL; }
    used += snprintf(buf, cap, "%sdevice %s\ncudnn %lld\nlayout %s\nprecision %s\n", COMMENT, h->device,
                     h->cudnn, h->layout, h->precision);
    for (int i = 0; i < n; i++) {
        used += snprintf(buf + used, cap - used, "%s %d %d %d %d %d %d %d %d %d %lld",
                         kind_names[c[i].kind], c[i].N, c[i].Ci, c[i].H, c[i].W, c[i].Co, c[i].K,
                         c[i].stride, c[i].pad, c[i].rank, (long long)c[i].engine_id);
        if (c[i].knobs_recorded) {
            used += snprintf(buf + used, cap - used, " knobs%s", c[i].n_knobs ? "" : " none");
            for (int k = 0; k < c[i].n_knobs; k++)
                used += snprintf(buf + used, cap - used, " %lld=%lld", (long long)c[i].knobs[k][0],
                                 (long long)c[i].knobs[k][1]);
        }
        used += snprintf(buf + used, cap - used, "\n");
    }
    *len = used;
    return buf;
}

/* ---- parse ------------------------------------------------------------------- */

/* A line being parsed: s[0..n) without the '\n' and a final '\r'. */
typedef struct {
    const char *path;
    int line;
    const char *s;
    size_t n, pos;
    sg_err *err;
} cursor;

static int fail(cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(cursor *c, const char *fmt, ...)
{
    char what[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return sg_errf(c->err, "%s line %d: %s" ANEW, c->path, c->line, what);
}

/* "expected WHAT, found \"the line\"". */
static int expected(cursor *c, const char *what)
{
    return fail(c, "expected %s, found \"%s\"", what, sg_quote_bytes(c->s, c->n).s);
}

/* The next blank-separated token: 1 with *t, *tn set, 0 at the end of the line. */
static int token(cursor *c, const char **t, size_t *tn)
{
    while (c->pos < c->n && is_blank(c->s[c->pos])) c->pos++;
    if (c->pos == c->n) return 0;
    size_t b = c->pos;
    while (c->pos < c->n && !is_blank(c->s[c->pos])) c->pos++;
    *t = c->s + b;
    *tn = c->pos - b;
    return 1;
}

static int token_is(const char *t, size_t tn, const char *word)
{
    return strlen(word) == tn && !memcmp(t, word, tn);
}

/* A decimal integer: an optional '-', then 1..19 digits, within long long. */
static int parse_ll(const char *t, size_t tn, long long *v)
{
    size_t i = 0;
    int neg = 0;
    if (tn && t[0] == '-') { neg = 1; i = 1; }
    if (i == tn || tn - i > 19) return -1;
    unsigned long long u = 0;
    for (; i < tn; i++) {
        if (t[i] < '0' || t[i] > '9') return -1;
        u = u * 10 + (unsigned)(t[i] - '0');
    }
    if (u > (unsigned long long)LLONG_MAX) return -1;   /* -LLONG_MAX-1 is not needed */
    *v = neg ? -(long long)u : (long long)u;
    return 0;
}

/* One header value after its keyword; k indexes header_keys. */
static int parse_header(cursor *c, int k, sg_engines_header *h)
{
    const char *t;
    size_t tn;
    if (k == 0) {                               /* the rest of the line, blanks trimmed */
        size_t b = c->pos, e = c->n;
        while (b < e && is_blank(c->s[b])) b++;
        while (e > b && is_blank(c->s[e - 1])) e--;
        if (b == e || e - b > 255) return expected(c, "\"device NAME\" (NAME 1..255 bytes)");
        for (size_t i = b; i < e; i++)
            if (is_control((unsigned char)c->s[i]))
                return expected(c, "\"device NAME\" (NAME printable)");
        memcpy(h->device, c->s + b, e - b);
        h->device[e - b] = 0;
        return 0;
    }
    if (!token(c, &t, &tn)) return expected(c, header_forms[k]);
    if (k == 1) {
        long long v;
        if (parse_ll(t, tn, &v) || v < 0) return expected(c, "\"cudnn N\" (N a version number)");
        h->cudnn = v;
    } else {
        char *dst = k == 2 ? h->layout : h->precision;
        if (tn >= sizeof h->layout) return expected(c, header_forms[k]);
        memcpy(dst, t, tn);
        dst[tn] = 0;
        if (!(k == 2 ? layout_ok(dst) : sg_precision_valid(dst))) return expected(c, header_forms[k]);
    }
    if (token(c, &t, &tn)) {
        char value[24];
        snprintf(value, sizeof value, "%lld", h->cudnn);
        return fail(c, "expected the end of the line after \"%s %s\", found \"%s\"", header_keys[k],
                    k == 1 ? value : k == 2 ? h->layout : h->precision,
                    sg_quote_bytes(t, c->n - (size_t)(t - c->s)).s);
    }
    return 0;
}

/* The rest of a choice line after "knobs": "none" or TYPE=VALUE pairs. */
static int parse_knobs(cursor *c, sg_engine_choice *q)
{
    const char *t;
    size_t tn;
    q->knobs_recorded = 1;
    if (!token(c, &t, &tn))
        return fail(c, "expected \"none\" or %s after \"knobs\", found the end of the line", KNOB_FORM);
    if (token_is(t, tn, "none")) {
        if (token(c, &t, &tn))
            return fail(c, "expected the end of the line after \"knobs none\", found \"%s\"",
                        sg_quote_bytes(t, c->n - (size_t)(t - c->s)).s);
        return 0;
    }
    do {
        if (q->n_knobs == SG_ENGINES_MAX_KNOBS)
            return fail(c, "expected at most %d knobs, found another: \"%s\"", SG_ENGINES_MAX_KNOBS,
                        sg_quote_bytes(t, tn).s);
        const char *eq = memchr(t, '=', tn);
        long long type, value;
        if (!eq || parse_ll(t, (size_t)(eq - t), &type) || type < 0 || type > SG_ENGINES_MAX_KNOB_TYPE ||
            parse_ll(eq + 1, tn - (size_t)(eq + 1 - t), &value))
            return fail(c, "expected %s, found \"%s\"", KNOB_FORM, sg_quote_bytes(t, tn).s);
        int i = q->n_knobs++;
        q->knobs[i][0] = type;
        q->knobs[i][1] = value;
        if (earlier_knob_type((const int64_t (*)[2])q->knobs, i) >= 0)
            return fail(c, "a second value for knob type %lld, found \"%s\"", type, sg_quote_bytes(t, tn).s);
    } while (token(c, &t, &tn));
    return 0;
}

/* One choice line; its first token (the kind) is t[0..tn). */
static int parse_choice(cursor *c, const char *t, size_t tn, sg_engine_choice *q)
{
    memset(q, 0, sizeof *q);                    /* the unused knob slots stay zero */
    q->kind = -1;
    for (int k = 0; k < 3; k++)
        if (token_is(t, tn, kind_names[k])) q->kind = k;
    if (q->kind < 0) return expected(c, CHOICE_FORM);
    int v[8];
    for (int i = 0; i < 10; i++) {
        long long x;
        if (!token(c, &t, &tn)) return expected(c, CHOICE_FORM);
        int bad = parse_ll(t, tn, &x) != 0;
        if (i < 8) {
            long long lo = i == 7 ? 0 : 1;
            if (bad || x < lo || x > SG_ENGINES_MAX_DIM)
                return fail(c, "expected %s in %lld..%d, found \"%s\"", field_names[i], lo,
                            SG_ENGINES_MAX_DIM, sg_quote_bytes(t, tn).s);
            v[i] = (int)x;
        } else if (i == 8) {
            if (bad || x < -1 || x > SG_ENGINES_MAX_RANK)
                return fail(c, "expected rank in -1..%d, found \"%s\"", SG_ENGINES_MAX_RANK,
                            sg_quote_bytes(t, tn).s);
            q->rank = (int)x;
        } else {
            if (bad || x < -1)
                return fail(c, "expected engine_id -1 or more, found \"%s\"", sg_quote_bytes(t, tn).s);
            if (q->rank == -1 && x != -1)
                return fail(c, "expected engine_id -1 with rank -1, found \"%s\"", sg_quote_bytes(t, tn).s);
            q->engine_id = x;
        }
    }
    q->N = v[0]; q->Ci = v[1]; q->H = v[2]; q->W = v[3];
    q->Co = v[4]; q->K = v[5]; q->stride = v[6]; q->pad = v[7];
    if (!token(c, &t, &tn)) return 0;           /* knobs not recorded */
    if (!token_is(t, tn, "knobs") || q->rank == -1)
        return fail(c, "expected the end of the line %s, found \"%s\"",
                    q->rank == -1 ? "after engine_id -1 (the legacy call has no knobs)"
                                  : "or \"knobs\" after engine_id",
                    sg_quote_bytes(t, c->n - (size_t)(t - c->s)).s);
    return parse_knobs(c, q);
}

int sg_engines_parse(const char *text, size_t len, const char *path, sg_engines_header *h,
                     sg_engine_choice **out, int *n, sg_err *err)
{
    *out = NULL;
    *n = 0;
    memset(h, 0, sizeof *h);
    sg_engine_choice *w = NULL;
    int *lines = NULL;                          /* the line of each choice */
    int nw = 0, cap = 0, have = 0;              /* have: header lines read (in order) */
    int header_line[4] = {0};
    cursor c = {path, 0, NULL, 0, 0, err};
    size_t pos = 0;
    while (pos < len) {
        c.line++;
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t ln = nl ? (size_t)(nl - s) : len - pos;
        pos += ln + (nl != NULL);
        if (c.line == INT_MAX) { fail(&c, "too many lines"); goto bad; }
        if (memchr(s, 0, ln)) { fail(&c, "expected text, found a NUL byte"); goto bad; }
        if (ln && s[ln - 1] == '\r') ln--;
        c.s = s; c.n = ln; c.pos = 0;
        const char *t;
        size_t tn;
        if (!token(&c, &t, &tn) || t[0] == '#') continue;   /* blank or a comment */
        int k = -1;
        for (int i = 0; i < 4; i++)
            if (token_is(t, tn, header_keys[i])) k = i;
        if (k >= 0) {
            if (header_line[k]) {
                fail(&c, "a second \"%s\" line (the first is line %d)", header_keys[k], header_line[k]);
                goto bad;
            }
            if (k != have) { expected(&c, header_forms[have]); goto bad; }
            if (parse_header(&c, k, h)) goto bad;
            header_line[k] = c.line;
            have++;
            continue;
        }
        if (have < 4) { expected(&c, header_forms[have]); goto bad; }
        if (nw == cap) {
            if (cap > INT_MAX / 2) { fail(&c, "too many choices"); goto bad; }
            int nc = cap ? 2 * cap : 64;
            sg_engine_choice *g = realloc(w, (size_t)nc * sizeof *w);
            if (!g) { sg_err_oom(err, "out of memory"); goto bad; }
            w = g;
            int *gl = realloc(lines, (size_t)nc * sizeof *lines);
            if (!gl) { sg_err_oom(err, "out of memory"); goto bad; }
            lines = gl;
            cap = nc;
        }
        if (parse_choice(&c, t, tn, &w[nw])) goto bad;
        lines[nw++] = c.line;
    }
    if (have < 4) {
        c.line++;
        fail(&c, "expected %s, found the end of the file", header_forms[have]);
        goto bad;
    }
    int first = -1, dup = find_duplicate(w, nw, &first);
    if (dup == -2) { sg_err_oom(err, "out of memory"); goto bad; }
    if (dup >= 0) {
        const sg_engine_choice *q = &w[dup];
        c.line = lines[dup];
        fail(&c, "a second choice for \"%s %d %d %d %d %d %d %d %d\" (the first is line %d)",
             kind_names[q->kind], q->N, q->Ci, q->H, q->W, q->Co, q->K, q->stride, q->pad, lines[first]);
        goto bad;
    }
    free(lines);
    if (nw == 0) { free(w); w = NULL; }
    *out = w;
    *n = nw;
    return 0;
bad:
    free(w);
    free(lines);
    memset(h, 0, sizeof *h);
    return -1;
}

/* ---- header ------------------------------------------------------------------ */

int sg_engines_header_equal(const sg_engines_header *a, const sg_engines_header *b)
{
    return !strncmp(a->device, b->device, sizeof a->device) && a->cudnn == b->cudnn &&
           !strncmp(a->layout, b->layout, sizeof a->layout) &&
           !strncmp(a->precision, b->precision, sizeof a->precision);
}

const char *sg_engines_header_describe(const sg_engines_header *h, char *buf, size_t size)
{
    if (size) snprintf(buf, size, "%.255s / cuDNN %lld / %.7s / %.7s", h->device, h->cudnn, h->layout,
                       h->precision);
    return buf;
}

void sg_engines_header_set_device(sg_engines_header *h, const char *name)
{
    size_t b = 0, e = strlen(name);
    while (b < e && (is_blank(name[b]) || is_control((unsigned char)name[b]))) b++;
    while (e > b && (is_blank(name[e - 1]) || is_control((unsigned char)name[e - 1]))) e--;
    if (e - b > sizeof h->device - 1) e = b + sizeof h->device - 1;
    while (e > b && is_blank(name[e - 1])) e--;   /* the cut may end on a blank */
    if (b == e) { strcpy(h->device, "unknown"); return; }
    for (size_t i = b; i < e; i++)
        h->device[i - b] = is_control((unsigned char)name[i]) ? '?' : name[i];
    h->device[e - b] = 0;
}
