/* Mutated inputs: the library's parsers of files a user hands to the tools,
 * fed thousands of deterministic (seeded MT19937) mutations of a valid input
 * made by the library's own writers: bit flips, byte replacements,
 * truncations, insertions, deletions, duplicated / dropped / swapped lines,
 * numbers replaced by huge, negative or NaN-like text, odd tokens (bad
 * escapes, NUL bytes, CR, invalid UTF-8). Every call must return 0 or -1; -1
 * with a non-empty message that names the input; 0 with a structure that is
 * internally consistent (checked field by field and, where the library has a
 * writer, written back and parsed again to the same thing); images give what a
 * fresh decoder gives (nothing carried over from the thread's previous input). Each format
 * prints one line: how many inputs were accepted and rejected (information,
 * not an assertion). Inputs are malloc'd to their exact length, so an
 * over-read shows under AddressSanitizer: tests/unit/run-asan-mutated builds
 * lib/ and this test with -fsanitize=address,undefined and runs it.
 * SHOW_MESSAGES=1 prints every rejection's message; KEEP=1 keeps the temporary
 * directory.
 *
 * LMDB shards: data.mdb is truncated (sg_shard_open checks the length) but its
 * pages are not corrupted: LMDB memory-maps the file and trusts its B-tree
 * pages, which this project does not control. What the project does control,
 * the metadata record and the record values, is mutated through the LMDB API. */
#define _GNU_SOURCE
#include "check.h"
#include "celeba_attrs.h"
#include "celeba_attrs_testing.h"
#include "checkpoint.h"
#include "engines_file.h"
#include "fileio.h"
#include "image.h"
#include "image_decode_testing.h"
#include "json.h"
#include "mt19937.h"
#include "mt19937_testing.h"
#include "safetensors.h"
#include "safetensors_testing.h"
#include "shard.h"
#include "strbuf.h"
#include "test_tmpdir.h"
#include <lmdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jpeglib.h>
#include <turbojpeg.h>
#include <unistd.h>

static sg_mt19937 rng;

static uint32_t rnd(uint32_t n) { return n > 1 ? sg_mt_randbelow(&rng, n) : 0; }

/* ---- per-format tally and the contract -------------------------------------- */

typedef struct {
    const char *name;
    long inputs, accepted, rejected, broken;
    long current;               /* the input being checked, for messages */
} tally;

static void tally_start(tally *t, const char *name)
{
    memset(t, 0, sizeof *t);
    t->name = name;
}

/* A broken contract: the first few are printed with the input's number. */
static void broken(tally *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void broken(tally *t, const char *fmt, ...)
{
    if (++t->broken > 10) return;
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL %s input %ld: ", t->name, t->current);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
}

static void tally_end(tally *t)
{
    printf("%s: %ld inputs, %ld accepted, %ld rejected\n", t->name, t->inputs, t->accepted, t->rejected);
    CHECK(t->broken == 0, "%s: %ld of %ld inputs broke the contract", t->name, t->broken, t->inputs);
}

/* rc must be 0 or -1; -1 needs a message containing `name` (when non-NULL).
 * Counts the input; returns 1 when it was accepted. */
static int verdict(tally *t, int rc, const sg_err *err, const char *name)
{
    t->inputs++;
    if (rc == 0) { t->accepted++; return 1; }
    t->rejected++;
    if (getenv("SHOW_MESSAGES")) printf("%s: %s\n", t->name, err->msg);
    if (rc != -1) { broken(t, "returned %d", rc); return 0; }
    if (!memchr(err->msg, 0, sizeof err->msg)) broken(t, "message not NUL-terminated");
    else if (!err->msg[0]) broken(t, "-1 without a message");
    else if (name && !strstr(err->msg, name)) broken(t, "message \"%s\" does not name %s", err->msg, name);
    else {
        /* the input's bytes are quoted escaped (sg_quote_bytes): nothing in a
         * message reaches the user's terminal as a control sequence */
        for (const char *c = err->msg; *c; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e) {
                const char *from = c - err->msg > 20 ? c - 20 : err->msg;
                broken(t, "byte 0x%02x at %zu in the message \"%.*s...\", there: \"%s\"", (unsigned char)*c,
                       (size_t)(c - err->msg), (int)(from - err->msg), err->msg, sg_quote_bytes(from, strlen(from)).s);
                break;
            }
    }
    return 0;
}

/* ---- mutations --------------------------------------------------------------- */

typedef struct { uint8_t *p; size_t n, cap; } bytes;

static void b_reserve(bytes *b, size_t n)
{
    if (n <= b->cap && b->p) return;
    size_t c = b->cap ? b->cap : 256;
    while (c < n) c *= 2;
    b->p = realloc(b->p, c);
    if (!b->p) { perror("realloc"); exit(1); }
    b->cap = c;
}
static void b_set(bytes *b, const void *p, size_t n) { b_reserve(b, n); if (n) memcpy(b->p, p, n); b->n = n; }
static void b_replace(bytes *b, size_t at, size_t del, const void *p, size_t m)
{
    if (at > b->n) at = b->n;
    if (del > b->n - at) del = b->n - at;
    b_reserve(b, b->n - del + m);
    memmove(b->p + at + m, b->p + at + del, b->n - at - del);
    if (m) memcpy(b->p + at, p, m);
    b->n = b->n - del + m;
}
static void b_free(bytes *b) { free(b->p); memset(b, 0, sizeof *b); }

/* A copy in a buffer of exactly n bytes (no NUL after it): over-reads show under ASan. */
static uint8_t *exact_copy(const bytes *b)
{
    uint8_t *p = malloc(b->n ? b->n : 1);
    if (!p) { perror("malloc"); exit(1); }
    if (b->n) memcpy(p, b->p, b->n);
    return p;
}

static const uint8_t odd_bytes[] = {0, 1, 0x7f, 0x80, 0xbf, 0xc0, 0xed, 0xf4, 0xfe, 0xff, '\n', '\r', ' ', '\t',
                                    '\v', '"', '\\', '{', '}', '[', ']', ',', ':', '-', '0', '1', '9', '#', 'e', '.'};
static const char *const odd_numbers[] = {
    "99999999999999999999999999", "-1", "-0", "0", "NaN", "nan", "-inf", "inf", "Infinity", "1e309", "-1e400",
    "1e-400", "18446744073709551615", "18446744073709551616", "9223372036854775807", "9223372036854775808",
    "-9223372036854775808", "-9223372036854775809", "2147483647", "2147483648", "-2147483649", "4294967296",
    "1048576", "1048577", "0x10", "1.5", "1e3", "00", "+1", "", "65", "-2", "1 2", "1e999999999999",
    "12345678901234567890123456789012345678901234567890", "2.0", "64", "-1.0", "0.0"};
static const char *const odd_tokens[] = {
    "\\u0000", "\\ud800", "\\udc00\\ud800", "\\ud800\\u0041", "\\x", "\\", "\"", "\r\n", "\r", "\t", "#", "\xc3\x28",
    "\xef\xbb\xbf", "null", "{}", "[]", "[[[[", "}}}}", ",", ":", "\n\n", "\xff", "\xe2\x82", " -1", " 1", "\v",
    "\x1b[31m", "\\u", "\xf0\x9f\x98\x80", "\xed\xa0\x80", "\xc0\x80", " ", "-", "e"};

enum { OP_FLIP, OP_BYTE, OP_TRUNC, OP_INSERT, OP_DELETE, OP_DUP, OP_SPLICE, OP_ARITH, /* text only: */
       OP_DUPLINE, OP_DELLINE, OP_SWAPLINES, OP_NUMBER, OP_NUMBER2, OP_TOKEN, N_OPS };

/* A position in [0, n); with hot > 0 half of them fall in the first hot bytes
 * (where binary formats keep their headers). */
static size_t pick_pos(size_t n, size_t hot)
{
    if (!n) return 0;
    if (hot && hot < n && rnd(2)) return rnd((uint32_t)hot);
    return rnd((uint32_t)n);
}

/* The line around pos: [*b, *e) including its '\n'. */
static void line_at(const bytes *x, size_t pos, size_t *b, size_t *e)
{
    size_t s = pos, t = pos;
    while (s > 0 && x->p[s - 1] != '\n') s--;
    while (t < x->n && x->p[t] != '\n') t++;
    if (t < x->n) t++;
    *b = s; *e = t;
}

static int is_num_char(uint8_t c) { return (c >= '0' && c <= '9') || c == '-' || c == '.' || c == 'e' || c == 'E' || c == '+'; }

static void mutate_once(bytes *x, int text, size_t hot)
{
    int op = (int)rnd(text ? N_OPS : OP_ARITH + 1);
    size_t n = x->n, pos = pick_pos(n, hot);
    switch (op) {
    case OP_FLIP:
        if (n) x->p[pos] ^= (uint8_t)(1u << rnd(8));
        break;
    case OP_BYTE:
        if (n) x->p[pos] = rnd(2) ? odd_bytes[rnd(sizeof odd_bytes)] : (uint8_t)rnd(256);
        break;
    case OP_TRUNC:
        x->n = rnd((uint32_t)n + 1);
        break;
    case OP_INSERT: {
        uint8_t ins[8];
        size_t m = 1 + rnd(8);
        for (size_t k = 0; k < m; k++) ins[k] = rnd(2) ? odd_bytes[rnd(sizeof odd_bytes)] : (uint8_t)rnd(256);
        b_replace(x, pos, 0, ins, m);
        break;
    }
    case OP_DELETE:
        b_replace(x, pos, 1 + rnd(16), NULL, 0);
        break;
    case OP_DUP: case OP_SPLICE: {
        if (!n) break;
        size_t from = rnd((uint32_t)n), len = 1 + rnd(32);
        if (len > n - from) len = n - from;
        uint8_t chunk[32];
        memcpy(chunk, x->p + from, len);
        b_replace(x, pos, op == OP_DUP ? 0 : len, chunk, len);
        break;
    }
    case OP_DUPLINE: case OP_DELLINE: {
        if (!n) break;
        size_t b, e;
        line_at(x, pos, &b, &e);
        if (op == OP_DELLINE) { b_replace(x, b, e - b, NULL, 0); break; }
        uint8_t *copy = malloc(e - b + 1);
        memcpy(copy, x->p + b, e - b);
        size_t len = e - b;
        if (len && copy[len - 1] != '\n') copy[len++] = '\n';   /* the last line without '\n' */
        b_replace(x, b, 0, copy, len);
        free(copy);
        break;
    }
    case OP_SWAPLINES: {
        if (!n) break;
        size_t b1, e1, b2, e2;
        line_at(x, pos, &b1, &e1);
        line_at(x, rnd((uint32_t)n), &b2, &e2);
        if (b2 < b1) { size_t t = b1; b1 = b2; b2 = t; t = e1; e1 = e2; e2 = t; }
        if (e1 > b2) break;   /* the same line */
        bytes y = {0};
        b_set(&y, x->p, b1);
        b_replace(&y, y.n, 0, x->p + b2, e2 - b2);
        b_replace(&y, y.n, 0, x->p + e1, b2 - e1);
        b_replace(&y, y.n, 0, x->p + b1, e1 - b1);
        b_replace(&y, y.n, 0, x->p + e2, n - e2);
        b_set(x, y.p, y.n);
        b_free(&y);
        break;
    }
    case OP_ARITH: {
        /* binary: a byte moved by a little; text: a number moved by a little or
         * scaled (63 -> 64, 0 -> -1, 1048576 -> 1048577: the edges of ranges) */
        if (!n) break;
        static const long long deltas[] = {1, -1, 2, -2, 3, -3, 8, -8, 256, -256};
        if (!text) { x->p[pos] = (uint8_t)(x->p[pos] + deltas[rnd(8)]); break; }
        size_t k = 0;
        while (k < n && !(x->p[(pos + k) % n] >= '0' && x->p[(pos + k) % n] <= '9')) k++;
        if (k == n) break;
        size_t s = (pos + k) % n, e = s;
        while (s > 0 && x->p[s - 1] >= '0' && x->p[s - 1] <= '9') s--;
        while (e < n && x->p[e] >= '0' && x->p[e] <= '9') e++;
        if (s > 0 && x->p[s - 1] == '-') s--;
        if (e - s > 18) break;
        char num[24];
        memcpy(num, x->p + s, e - s);
        num[e - s] = 0;
        long long v = strtoll(num, NULL, 10);
        uint32_t how = rnd(14);
        v = how < 10 ? v + deltas[how] : how == 10 ? -v : how == 11 ? v * 2 : how == 12 ? v * 10 : v / 2;
        snprintf(num, sizeof num, "%lld", v);
        b_replace(x, s, e - s, num, strlen(num));
        break;
    }
    case OP_NUMBER: case OP_NUMBER2: {
        /* the first run of number characters at or after pos (wrapping), replaced */
        size_t k = 0;
        while (k < n && !(x->p[(pos + k) % n] >= '0' && x->p[(pos + k) % n] <= '9')) k++;
        if (k == n) break;
        size_t s = (pos + k) % n, e = s;
        while (s > 0 && is_num_char(x->p[s - 1])) s--;
        while (e < n && is_num_char(x->p[e])) e++;
        const char *r = odd_numbers[rnd(sizeof odd_numbers / sizeof *odd_numbers)];
        b_replace(x, s, e - s, r, strlen(r));
        break;
    }
    case OP_TOKEN: {
        const char *t = odd_tokens[rnd(sizeof odd_tokens / sizeof *odd_tokens)];
        b_replace(x, pos, rnd(2) ? 0 : 1, t, strlen(t));
        break;
    }
    }
}

/* x = base with one mutation (three quarters of the time) or 2..4 stacked. */
static void mutate(bytes *x, const uint8_t *base, size_t n, int text, size_t hot)
{
    b_set(x, base, n);
    int k = rnd(4) ? 1 : 2 + (int)rnd(3);
    for (int i = 0; i < k; i++) mutate_once(x, text, hot);
}

static int write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* Text base b (valid): through check, which must accept it; then every
 * truncation of it (shorter than it) and `mutations` mutations of it. */
static void text_base_cases(tally *t, bytes *x, const char *base, size_t len, int b, long mutations,
                            void (*check)(tally *, const bytes *))
{
    b_set(x, base, len);
    t->current = -1;
    long accepted = t->accepted;
    check(t, x);
    CHECK(t->accepted == accepted + 1, "%s: the valid base %d is rejected", t->name, b);
    for (size_t k = 0; k < len; k++) {
        b_set(x, base, k);
        t->current = (long)k;
        check(t, x);
    }
    for (long i = 0; i < mutations; i++) {
        t->current = i;
        mutate(x, (const uint8_t *)base, len, 1, 0);
        check(t, x);
    }
}

/* The tally `name` of a text format over two valid bases, each through
 * text_base_cases with 2500 mutations: what the library wrote, and a
 * hand-written variant the reader also accepts. */
static void text_bases_tally(const char *name, const char *written, size_t written_len, const char *variant,
                             size_t variant_len, void (*check)(tally *, const bytes *))
{
    const char *bases[2] = {written, variant};
    size_t base_len[2] = {written_len, variant_len};
    tally t;
    tally_start(&t, name);
    bytes x = {0};
    for (int b = 0; b < 2; b++) text_base_cases(&t, &x, bases[b], base_len[b], b, 2500, check);
    b_free(&x);
    tally_end(&t);
}

/* ---- 1. the cuDNN engines file -------------------------------------------------- */

static int choice_same_shape(const sg_engine_choice *a, const sg_engine_choice *b)
{
    return a->kind == b->kind && a->N == b->N && a->Ci == b->Ci && a->H == b->H && a->W == b->W &&
           a->Co == b->Co && a->K == b->K && a->stride == b->stride && a->pad == b->pad;
}

static void check_engines(tally *t, const bytes *in)
{
    uint8_t *text = exact_copy(in);
    sg_engines_header h;
    sg_engine_choice *c = (sg_engine_choice *)&h;   /* must be reset */
    int n = -7;
    sg_err err = {{0}};
    int rc = sg_engines_parse((const char *)text, in->n, "engines.txt", &h, &c, &n, &err);
    free(text);
    if (!verdict(t, rc, &err, "engines.txt line ")) {
        if (c || n) broken(t, "rejected but *out %p, *n %d", (void *)c, n);
        return;
    }
    size_t dl = strnlen(h.device, sizeof h.device);
    if (dl == 0 || dl >= sizeof h.device) broken(t, "device name of %zu bytes", dl);
    for (size_t i = 0; i < dl; i++)
        if ((unsigned char)h.device[i] < 0x20 || h.device[i] == 0x7f) { broken(t, "control byte in the device name"); break; }
    if (h.cudnn < 0) broken(t, "cudnn %lld", h.cudnn);
    if (strcmp(h.layout, "nhwc") && strcmp(h.layout, "nchw")) broken(t, "layout \"%.8s\"", h.layout);
    if (strcmp(h.precision, "tf32") && strcmp(h.precision, "fp32") && strcmp(h.precision, "bf16"))
        broken(t, "precision \"%.8s\"", h.precision);
    if (n < 0 || (n == 0) != (c == NULL)) broken(t, "%d choices at %p", n, (void *)c);
    for (int i = 0; i < n; i++) {
        const sg_engine_choice *q = &c[i];
        int v[8] = {q->N, q->Ci, q->H, q->W, q->Co, q->K, q->stride, q->pad};
        int bad = q->kind < 0 || q->kind > 2 || q->rank < -1 || q->rank > SG_ENGINES_MAX_RANK ||
                  q->engine_id < -1 || (q->rank == -1 && q->engine_id != -1);
        for (int k = 0; k < 8; k++) bad |= v[k] < (k == 7 ? 0 : 1) || v[k] > SG_ENGINES_MAX_DIM;
        /* knob values: recorded or not, none on the legacy call, each type once, unused slots zero */
        bad |= (q->knobs_recorded != 0 && q->knobs_recorded != 1) || q->n_knobs < 0 ||
               q->n_knobs > SG_ENGINES_MAX_KNOBS || (!q->knobs_recorded && q->n_knobs) ||
               (q->knobs_recorded && q->rank == -1);
        for (int k = 0; k < SG_ENGINES_MAX_KNOBS && !bad; k++) {
            if (k >= q->n_knobs) { bad |= q->knobs[k][0] || q->knobs[k][1]; continue; }
            bad |= q->knobs[k][0] < 0 || q->knobs[k][0] > SG_ENGINES_MAX_KNOB_TYPE;
            for (int j = 0; j < k; j++) bad |= q->knobs[j][0] == q->knobs[k][0];
        }
        if (bad) broken(t, "choice %d out of range", i);
        for (int j = 0; j < i; j++)
            if (choice_same_shape(&c[i], &c[j])) broken(t, "choices %d and %d have the same kind and shape", j, i);
    }
    /* written back and read again: the same header and choices */
    size_t len;
    char *again = t->broken ? NULL : sg_engines_format(&h, c, n, &len, &err);
    if (!t->broken && !again) broken(t, "accepted but cannot be written back: %s", err.msg);
    if (again) {
        sg_engines_header h2;
        sg_engine_choice *c2;
        int n2;
        if (sg_engines_parse(again, len, "again.txt", &h2, &c2, &n2, &err))
            broken(t, "written back, does not parse: %s", err.msg);
        else {
            if (!sg_engines_header_equal(&h, &h2) || n2 != n || (n && memcmp(c, c2, (size_t)n * sizeof *c)))
                broken(t, "written back, parses to something else");
            free(c2);
        }
        free(again);
    }
    free(c);
}

static void test_engines(void)
{
    sg_engines_header h;
    memset(&h, 0, sizeof h);
    sg_engines_header_set_device(&h, "NVIDIA H200");
    h.cudnn = 91900;
    strcpy(h.layout, "nhwc");
    strcpy(h.precision, "tf32");
    /* knob values recorded (several, none) and not (as in older files) */
    sg_engine_choice c[6] = {
        {.kind = SG_ENGINE_FWD, 16, 3, 128, 128, 64, 7, 1, 3, 4, 12, .knobs_recorded = 1, .n_knobs = 2,
         .knobs = {{0, 1}, {3, -2}}},
        {.kind = SG_ENGINE_BWD_DATA, 16, 64, 128, 128, 128, 4, 2, 1, -1, -1},
        {.kind = SG_ENGINE_BWD_FILTER, 16, 64, 128, 128, 128, 4, 2, 1, 63, 123456789012LL, .knobs_recorded = 1},
        {.kind = SG_ENGINE_FWD, 1, 2048, 2, 2, 1, 3, 1, 1, 0, 0},
        {.kind = SG_ENGINE_BWD_FILTER, 1048576, 1, 1, 1, 1, 1, 1, 0, 2, 7, .knobs_recorded = 1, .n_knobs = 1,
         .knobs = {{17, 9223372036854775807LL}}},
        {.kind = SG_ENGINE_BWD_DATA, 2, 3, 32, 32, 16, 4, 2, 1, 5, 40},
    };
    size_t len;
    sg_err err = {{0}};
    char *text = sg_engines_format(&h, c, 6, &len, &err);
    CHECK(text != NULL, "sg_engines_format: %s", err.msg);
    if (!text) return;
    /* the same with comments, blank lines, CRLF and extra blanks, which the reader accepts */
    static const char variant[] =
        "# a comment\r\n\r\ndevice   NVIDIA H200 (MIG 1g)  \r\ncudnn 90100\r\n  layout nchw\r\n"
        "precision bf16\r\n# between\r\nfwd 16 3 128 128 64 7 1 3 4 12  knobs\t1=0 3=2\r\n"
        "\tbwd-data 1 2 3 4 5 6 7 0 -1 -1\r\nbwd-data 1 2 3 4 5 6 7 1 0 3 knobs none \r\n"
        "bwd-filter 1 1 1 1 1 1 1 1 1 1";
    text_bases_tally("engines file", text, len, variant, sizeof variant - 1, check_engines);
    free(text);
}

/* ---- 2. safetensors and checkpoint metadata ---------------------------------- */

/* Everything sg_st_parse_header promises about an accepted header. */
static void check_st_consistent(tally *t, const sg_st_file *f, uint64_t data_len)
{
    if (f->data_len != data_len) broken(t, "data_len %llu, expected %llu", (unsigned long long)f->data_len, (unsigned long long)data_len);
    uint64_t at = 0;
    for (size_t i = 0; i < f->n_tensors; i++) {
        const sg_st_tensor *q = &f->tensors[i];
        if (!q->name || !q->name[0]) { broken(t, "tensor %zu has no name", i); continue; }
        if (q->dtype != SG_ST_F32 && q->dtype != SG_ST_I64) broken(t, "tensor %s: dtype %d", q->name, q->dtype);
        if (q->ndim < 0 || q->ndim > SG_ST_MAX_DIMS) { broken(t, "tensor %s: %d dims", q->name, q->ndim); continue; }
        unsigned __int128 numel = 1;
        for (int d = 0; d < q->ndim; d++) {
            if (q->shape[d] < 0) broken(t, "tensor %s: negative dimension", q->name);
            numel *= (uint64_t)q->shape[d];
            if (numel > UINT64_MAX) numel = (unsigned __int128)UINT64_MAX + 1;
        }
        if (numel != q->numel) broken(t, "tensor %s: numel %llu is not the product of the shape", q->name, (unsigned long long)q->numel);
        if (q->begin != at || q->end < q->begin || (unsigned __int128)(q->end - q->begin) != numel * sg_st_dtype_size(q->dtype))
            broken(t, "tensor %s: data_offsets [%llu, %llu] do not follow at %llu with its size", q->name,
                   (unsigned long long)q->begin, (unsigned long long)q->end, (unsigned long long)at);
        at = q->end;
        if (sg_st_find(f, q->name) != (long)i) broken(t, "tensor %s: found at %ld, not %zu", q->name, sg_st_find(f, q->name), i);
    }
    if (at != data_len) broken(t, "tensors cover %llu of %llu bytes", (unsigned long long)at, (unsigned long long)data_len);
    for (size_t i = 0; i < f->n_meta; i++)
        if (!f->meta_keys[i] || !f->meta_values[i] || sg_st_meta(f, f->meta_keys[i]) == NULL)
            broken(t, "metadata entry %zu unusable", i);
}

/* expect: 1 the header is valid, 0 it is not, -1 unknown (a mutation) */
static void check_st_header(tally *t, const bytes *in, uint64_t data_len, int expect)
{
    uint8_t *text = exact_copy(in);
    sg_st_file *f = calloc(1, sizeof *f);
    sg_err err = {{0}};
    int rc = sg_st_parse_header(f, "hdr.safetensors", (const char *)text, in->n, data_len, &err);
    free(text);
    if (expect == 1 && rc) broken(t, "a valid header is refused: %s", err.msg);
    if (expect == 0 && !rc) broken(t, "an invalid header is accepted: %.*s", (int)(in->n < 300 ? in->n : 300), (const char *)in->p);
    if (verdict(t, rc, &err, "hdr.safetensors")) {
        check_st_consistent(t, f, data_len);
        sg_st_close(f);   /* fd is -1: frees the contents and f */
    } else {
        if (f->tensors || f->meta_keys || f->n_tensors || f->path) broken(t, "rejected but f is not empty");
        free(f);
    }
}

/* Opens path, checks it, reads every tensor. */
static void check_st_file(tally *t, const char *path, uint64_t file_size)
{
    sg_st_file *f = (sg_st_file *)&t;   /* must be reset */
    sg_err err = {{0}};
    int rc = sg_st_open(&f, path, &err);
    if (!verdict(t, rc, &err, path)) {
        if (f) broken(t, "rejected but *out is %p", (void *)f);
        return;
    }
    check_st_consistent(t, f, f->data_len);
    if (f->data_start + f->data_len != file_size) broken(t, "header and data do not make up the file");
    for (size_t i = 0; i < f->n_tensors && !t->broken; i++) {
        size_t nb = (size_t)(f->tensors[i].end - f->tensors[i].begin);
        uint8_t *buf = malloc(nb ? nb : 1);
        if (sg_st_read(f, i, buf, nb, &err)) broken(t, "tensor %zu of an accepted file: %s", i, err.msg);
        err.msg[0] = 0;
        if (sg_st_read(f, i, buf, nb + 1, &err) != -1 || !err.msg[0]) broken(t, "a wrong size is not refused");
        free(buf);
    }
    err.msg[0] = 0;
    if (sg_st_read(f, f->n_tensors, NULL, 0, &err) != -1 || !err.msg[0]) broken(t, "tensor n_tensors is not refused");
    sg_st_close(f);
}

static void check_st_bytes(tally *t, const bytes *in)
{
    const char *p = test_tmp_path("m.safetensors");
    if (write_bytes(p, in->p, in->n)) { broken(t, "cannot write %s", p); return; }
    check_st_file(t, p, in->n);
}

static int read_whole(const char *path, bytes *out)
{
    uint8_t *d;
    size_t n;
    sg_err err;
    if (sg_read_file(path, 1 << 20, &d, &n, &err)) { CHECK(0, "%s", err.msg); return -1; }
    b_set(out, d, n);
    free(d);
    return 0;
}

static void test_safetensors(void)
{
    float w[6] = {0.5f, -1.0f, 2.0f, 3.5f, -0.0f, 1e-30f}, c1[4] = {1, 2, 3, 4};
    int64_t nbt = 123456789012345LL;
    sg_st_spec specs[4] = {
        {.name = "main.0.weight", .dtype = SG_ST_F32, .ndim = 2, .shape = {2, 3}, .data = w},
        {.name = "main.1.num_batches_tracked", .dtype = SG_ST_I64, .ndim = 0, .data = &nbt},
        {.name = "empty", .dtype = SG_ST_F32, .ndim = 2, .shape = {0, 4}, .data = NULL},
        {.name = "conv1.weight", .dtype = SG_ST_F32, .ndim = 4, .shape = {1, 2, 2, 1}, .data = c1},
    };
    const char *mk[2] = {"format", "note"}, *mv[2] = {"test", "caf\xc3\xa9 \"quoted\" \\ [1, 2]"};
    const char *path = test_tmp_path("base.safetensors");
    sg_err err = {{0}};
    int rc = sg_st_write(path, specs, 4, mk, mv, 2, &err);
    CHECK(rc == 0, "sg_st_write: %s", err.msg);
    bytes file = {0}, x = {0};
    if (rc || read_whole(path, &file)) return;
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; k--) hlen = hlen << 8 | file.p[k];
    uint64_t data_len = file.n - 8 - hlen;

    tally t;
    tally_start(&t, "safetensors header");
    b_set(&x, file.p + 8, hlen);
    t.current = -1;
    check_st_header(&t, &x, data_len, -1);
    CHECK(t.accepted == 1, "the valid header is rejected");
    for (size_t k = 0; k < hlen; k++) {
        b_set(&x, file.p + 8, k);
        t.current = (long)k;
        check_st_header(&t, &x, data_len, -1);
    }
    for (long i = 0; i < 4000; i++) {
        t.current = i;
        mutate(&x, file.p + 8, hlen, 1, 0);
        /* now and then a data buffer of another size */
        uint64_t dl = rnd(8) ? data_len : rnd(3) ? data_len + rnd(9) - 4 : (uint64_t)1 << (32 + rnd(31));
        check_st_header(&t, &x, dl, -1);
    }
    tally_end(&t);

    tally_start(&t, "safetensors file");
    t.current = -1;
    check_st_bytes(&t, &file);
    CHECK(t.accepted == 1, "the valid file is rejected");
    for (size_t k = 0; k < file.n; k++) {   /* every truncation */
        b_set(&x, file.p, k);
        t.current = (long)k;
        check_st_bytes(&t, &x);
    }
    /* the length prefix: 0, off by one, past the end, beyond the limit, huge */
    uint64_t lens[] = {0, 1, 2, hlen - 1, hlen + 1, file.n - 8, file.n - 7, SG_ST_MAX_HEADER, SG_ST_MAX_HEADER + 1ULL,
                       (uint64_t)1 << 32, (uint64_t)1 << 63, UINT64_MAX, UINT64_MAX - 7};
    for (size_t k = 0; k < sizeof lens / sizeof *lens; k++) {
        b_set(&x, file.p, file.n);
        for (int j = 0; j < 8; j++) x.p[j] = (uint8_t)(lens[k] >> (8 * j));
        t.current = 100000 + (long)k;
        check_st_bytes(&t, &x);
    }
    for (long i = 0; i < 2000; i++) {
        t.current = i;
        mutate(&x, file.p, file.n, i % 2, 8 + hlen);   /* half the time text mutations (of the header) */
        check_st_bytes(&t, &x);
    }
    tally_end(&t);
    b_free(&file);
    b_free(&x);
}

/* Headers put together from parts: up to 4 tensors with random dtypes and
 * shapes, offsets mostly right and sometimes a little off, repeated or
 * overlapping, and a data buffer of about the covered size. The checks behind
 * the JSON (sizes, order, gaps, overlaps, coverage) need valid JSON, which
 * byte mutations seldom give. */
static int cmp_span(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return x[0] != y[0] ? (x[0] < y[0] ? -1 : 1) : x[1] != y[1] ? (x[1] < y[1] ? -1 : 1) : 0;
}

static uint32_t rnd_with(sg_mt19937 *r, uint32_t n) { return n > 1 ? sg_mt_randbelow(r, n) : 0; }

/* Headers written here, each known valid or not: every tensor an F32 or I64
 * of a distinct name, its offsets integers (up to 2^63 - 1) that hold exactly
 * its bytes (counted without wrapping around: 0 when a dimension is 0,
 * however large the others; too many when the count passes 2^64), the
 * tensors in offset order each starting where the one before ended (an empty
 * tensor may sit at any boundary, as safetensors allows), the data buffer as
 * long as they cover; the header is refused exactly when one of these fails.
 * n headers from r, a dimension 2^20..2^63 one time in huge_one_in (else 0..4). */
static void st_generated_headers(const char *name, sg_mt19937 *r, long n, uint32_t huge_one_in)
{
    static const char *const dtypes[] = {"F32", "I64", "F16", "f32"};
    tally t;
    tally_start(&t, name);
    bytes x = {0};
    for (long i = 0; i < n; i++) {
        t.current = i;
        sg_buf h = SG_BUF_INIT;
        sg_buf_putc(&h, '{');
        int nt = 1 + (int)rnd_with(r, 4), valid = 1;
        uint64_t at = 0, begins[4], spans[4][2];
        unsigned names = 0;     /* bit k: name tk used */
        for (int k = 0; k < nt; k++) {
            int dt = rnd_with(r, 10) ? (int)rnd_with(r, 2) : 2 + (int)rnd_with(r, 2);
            uint64_t es = dt == 1 ? 8 : 4, numel = 1;
            int nd = (int)rnd_with(r, 4);
            int name = rnd_with(r, 16) ? k : 0;
            if (dt > 1 || names >> name & 1) valid = 0;
            names |= 1u << name;
            sg_buf_appendf(&h, "%s\"t%d\":{\"dtype\":\"%s\",\"shape\":[", k ? "," : "", name, dtypes[dt]);
            unsigned __int128 exact = 1;    /* the true element count, saturated above 2^64 */
            for (int d = 0; d < nd; d++) {
                uint64_t v = rnd_with(r, huge_one_in) ? rnd_with(r, 5) : (uint64_t)1 << (20 + rnd_with(r, 44));
                numel *= v;
                exact *= v;
                if (exact > UINT64_MAX) exact = (unsigned __int128)UINT64_MAX + 1;
                if (v > INT64_MAX) valid = 0;
                sg_buf_appendf(&h, "%s%llu", d ? "," : "", (unsigned long long)v);
            }
            uint64_t begin = rnd_with(r, 3) ? at : k && rnd_with(r, 2) ? begins[rnd_with(r, (uint32_t)k)] : at + rnd_with(r, 9) - 4;
            uint64_t end = begin + numel * es + (rnd_with(r, 10) ? 0 : rnd_with(r, 9) - 4);
            begins[k] = begin;
            exact *= es;
            if (exact > UINT64_MAX || (unsigned __int128)end != begin + exact || begin > INT64_MAX || end > INT64_MAX) valid = 0;
            spans[k][0] = begin;
            spans[k][1] = end;
            sg_buf_appendf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)begin, (unsigned long long)end);
            if (end > at) at = end;
        }
        sg_buf_putc(&h, '}');
        uint64_t dl = rnd_with(r, 4) ? at : at + rnd_with(r, 9) - 4;
        qsort(spans, (size_t)nt, sizeof spans[0], cmp_span);
        uint64_t covered = 0;
        for (int k = 0; k < nt; k++) {
            if (spans[k][0] != covered) valid = 0;
            covered = spans[k][1];
        }
        if (dl != covered) valid = 0;
        b_set(&x, h.data, h.len);
        check_st_header(&t, &x, dl, valid);
        sg_buf_free(&h);
    }
    b_free(&x);
    tally_end(&t);
}

/* The main run draws from the file's generator; a second run from its own
 * (the other formats' inputs stay as they were) has huge dimensions often
 * enough that some meet a zero in the same shape. */
static void test_safetensors_generated(void)
{
    st_generated_headers("safetensors header (generated)", &rng, 3000, 40);
    sg_mt19937 own;
    sg_mt_seed_python(&own, 20261129);
    st_generated_headers("safetensors header (generated, huge dimensions)", &own, 1500, 3);
}

/* A safetensors file holding one F32 tensor [2] and this metadata, built here
 * (no fsync per file, unlike sg_st_write) with the library's JSON string writer. */
static void st_bytes_with_meta(bytes *out, const char *const *keys, const char *const *values, size_t n)
{
    sg_buf h = SG_BUF_INIT;
    sg_buf_puts(&h, "{\"__metadata__\":{");
    for (size_t i = 0; i < n; i++) {
        if (i) sg_buf_putc(&h, ',');
        json_buf_cstr(&h, keys[i]);
        sg_buf_putc(&h, ':');
        json_buf_cstr(&h, values[i]);
    }
    sg_buf_puts(&h, "},\"main.0.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}");
    while (h.len % 8) sg_buf_putc(&h, ' ');
    uint8_t lb[8];
    for (int k = 0; k < 8; k++) lb[k] = (uint8_t)((uint64_t)h.len >> (8 * k));
    float data[2] = {1.0f, -2.0f};
    b_set(out, lb, 8);
    b_replace(out, out->n, 0, h.data, h.len);
    b_replace(out, out->n, 0, data, sizeof data);
    sg_buf_free(&h);
}

static void check_ckpt_info(tally *t, const bytes *in)
{
    const char *p = test_tmp_path("ckpt.safetensors");
    if (write_bytes(p, in->p, in->n)) { broken(t, "cannot write %s", p); return; }
    sg_ckpt_info info;
    memset(&info, 0x5a, sizeof info);
    sg_err err = {{0}};
    int rc = sg_ckpt_read_info(p, &info, &err);
    if (!verdict(t, rc, &err, p)) {
        if (info.label_names || info.n_labels) broken(t, "rejected but info holds %d label names", info.n_labels);
        return;
    }
    const sg_model_config *c = &info.model;
    if (c->n_datasets < 1 || c->n_datasets > SG_MAX_DATASETS) { broken(t, "%d datasets", c->n_datasets); sg_ckpt_info_free(&info); return; }
    int total = 0;
    for (int ds = 0; ds < c->n_datasets; ds++) {
        if (c->label_dim[ds] < 1 || c->label_dim[ds] > 4096) broken(t, "dataset %d: %d labels", ds, c->label_dim[ds]);
        if (c->one_hot[ds] != 0 && c->one_hot[ds] != 1) broken(t, "dataset %d: one_hot %d", ds, c->one_hot[ds]);
        if (!memchr(info.dataset_names[ds], 0, SG_CKPT_NAME_MAX)) broken(t, "dataset %d: name not terminated", ds);
        total += c->label_dim[ds];
    }
    if (info.n_labels != total || total != sg_model_cls_dim(c)) broken(t, "%d label names for %d labels", info.n_labels, total);
    for (int i = 0; i < info.n_labels; i++)
        if (!info.label_names || !info.label_names[i]) { broken(t, "label name %d missing", i); break; }
    if (info.step < 0 || info.crop < 0 || c->image_size < 1 || c->g_conv_dim < 1 || c->g_repeat < 0 ||
        c->d_conv_dim < 1 || c->d_repeat < 1)
        broken(t, "out-of-range model numbers (step %lld, crop %d, image_size %d)", (long long)info.step, info.crop, c->image_size);
    sg_ckpt_info_free(&info);
}

static void test_checkpoint_info(void)
{
    const char *keys[] = {"format", "net", "step", "image_size", "g_conv_dim", "g_repeat", "d_conv_dim", "d_repeat",
                          "c_dim", "cls_dim", "n_datasets", "crop", "datasets", "label_names", "mask"};
    const char *values[] = {
        SG_CKPT_FORMAT, "G", "1000", "128", "64", "6", "64", "6", "10", "8", "2", "178",
        "[{\"name\":\"CelebA\",\"label_kind\":\"multi-hot\",\"offset\":0,\"labels\":[\"Black_Hair\",\"Blond_Hair\","
        "\"Brown_Hair\",\"Male\",\"Young\"]},{\"name\":\"RaFD\",\"label_kind\":\"one-hot\",\"offset\":5,"
        "\"labels\":[\"angry\",\"happy\",\"sad\"]}]",
        "[\"Black_Hair\",\"Blond_Hair\",\"Brown_Hair\",\"Male\",\"Young\",\"angry\",\"happy\",\"sad\"]",
        "{\"offset\":8,\"size\":2}"};
    enum { NK = sizeof keys / sizeof *keys };
    bytes file = {0}, x = {0}, v = {0};
    st_bytes_with_meta(&file, keys, values, NK);
    tally t;
    tally_start(&t, "checkpoint metadata");
    t.current = -1;
    check_ckpt_info(&t, &file);
    CHECK(t.accepted == 1, "the valid checkpoint metadata is rejected");
    /* one metadata value mutated (the datasets JSON half the time) or one key left out,
     * in an otherwise valid safetensors file: what sg_ckpt_read_info itself checks */
    for (long i = 0; i < 1500; i++) {
        t.current = i;
        const char *mv[NK];
        char *owned = NULL;
        memcpy(mv, values, sizeof mv);
        size_t k = rnd(2) ? 12 : rnd(NK), nk = NK;
        const char *mkeys[NK];
        memcpy(mkeys, keys, sizeof mkeys);
        if (rnd(10) == 0) {   /* leave key k out */
            mkeys[k] = keys[NK - 1]; mv[k] = values[NK - 1];
            nk = NK - 1;
        } else {
            mutate(&v, (const uint8_t *)values[k], strlen(values[k]), 1, 0);
            owned = malloc(v.n + 1);
            memcpy(owned, v.p, v.n);
            owned[v.n] = 0;   /* a NUL inside cuts the value short: a C string is all a writer can pass */
            mv[k] = owned;
        }
        st_bytes_with_meta(&x, mkeys, mv, nk);
        check_ckpt_info(&t, &x);
        free(owned);
    }
    /* the whole file mutated */
    for (long i = 0; i < 1000; i++) {
        t.current = 10000 + i;
        mutate(&x, file.p, file.n, 1, 0);
        check_ckpt_info(&t, &x);
    }
    tally_end(&t);
    b_free(&file); b_free(&x); b_free(&v);
}

/* ---- 3. JSON --------------------------------------------------------------------- */

static int json_equal(const json_value *a, const json_value *b)
{
    if (a->type != b->type) return 0;
    switch (a->type) {
    case JSON_NULL: return 1;
    case JSON_BOOL: return a->boolean == b->boolean;
    /* is_int follows the literal: 9.0071992547409e16 (is_int 0) is written back as
     * 90071992547408992 (is_int 1), the same double */
    case JSON_NUMBER: return a->num == b->num && (!a->is_int || !b->is_int || a->i == b->i);
    case JSON_STRING: return a->str_len == b->str_len && !memcmp(a->str, b->str, a->str_len);
    case JSON_ARRAY: case JSON_OBJECT:
        if (a->n != b->n) return 0;
        for (size_t k = 0; k < a->n; k++) {
            if (a->type == JSON_OBJECT && (a->key_lens[k] != b->key_lens[k] || memcmp(a->keys[k], b->keys[k], a->key_lens[k])))
                return 0;
            if (!json_equal(a->items[k], b->items[k])) return 0;
        }
        return 1;
    }
    return 0;
}

/* The tree's invariants; returns its depth (containers). No object holds a key
 * twice: duplicates are an error, or (JSON_KEEP_FIRST) dropped. */
static int check_json_tree(tally *t, const json_value *v)
{
    if (!v) { broken(t, "NULL value in the tree"); return 0; }
    switch (v->type) {
    case JSON_NULL: case JSON_BOOL: return 0;
    case JSON_NUMBER:
        if (!(v->num == v->num) || v->num - v->num != 0) broken(t, "non-finite number %g", v->num);
        if (v->is_int && (double)v->i != v->num && fabs(v->num) <= 9007199254740992.0) broken(t, "i %lld vs num %.17g", (long long)v->i, v->num);
        return 0;
    case JSON_STRING:
        if (!v->str || v->str[v->str_len] != 0) broken(t, "string not NUL-terminated at its length");
        return 0;
    case JSON_ARRAY: case JSON_OBJECT: {
        int depth = 0;
        if (v->n && !v->items) { broken(t, "container without items"); return 1; }
        for (size_t k = 0; k < v->n; k++) {
            if (v->type == JSON_OBJECT) {
                if (!v->keys || !v->key_lens || !v->keys[k] || v->keys[k][v->key_lens[k]] != 0) { broken(t, "bad key %zu", k); continue; }
                for (size_t j = 0; j < k; j++)
                    if (v->key_lens[j] == v->key_lens[k] && !memcmp(v->keys[j], v->keys[k], v->key_lens[k]))
                        broken(t, "duplicate key kept");
            }
            int d = check_json_tree(t, v->items[k]);
            if (d > depth) depth = d;
        }
        return depth + 1;
    }
    }
    broken(t, "type %d", (int)v->type);
    return 0;
}

static void check_json(tally *t, const uint8_t *p, size_t n, const json_opts *opts)
{
    bytes in = {(uint8_t *)p, n, n};
    uint8_t *text = exact_copy(&in);
    json_value *v = (json_value *)&in;   /* must be reset */
    json_error_pos where;
    memset(&where, 0, sizeof where);
    sg_err err = {{0}};
    int rc = json_parse((const char *)text, n, opts, &v, &where, &err);
    free(text);
    if (!verdict(t, rc, &err, "line ")) {
        if (v) broken(t, "rejected but *out is %p", (void *)v);
        if (where.line < 1 || where.column < 1 || where.offset > n || !where.what[0])
            broken(t, "position line %ld column %ld offset %zu (of %zu) \"%s\"", where.line, where.column, where.offset, n, where.what);
        return;
    }
    int max_depth = opts && opts->max_depth > 0 ? opts->max_depth : JSON_DEFAULT_MAX_DEPTH;
    int depth = check_json_tree(t, v);
    if (depth > max_depth) broken(t, "depth %d above the limit %d", depth, max_depth);
    /* written back and parsed again: the same tree */
    sg_buf b = SG_BUF_INIT;
    json_value *again = NULL;
    json_opts deep = {depth + 1, 0};
    if (json_buf_value(&b, v) || b.failed) broken(t, "cannot write the tree back");
    else if (json_parse(b.data, b.len, &deep, &again, NULL, &err)) broken(t, "written back, does not parse: %s", err.msg);
    else if (!json_equal(v, again))
        broken(t, "\"%.*s\" written back as \"%s\" parses to another tree", (int)(n < 300 ? n : 300), (const char *)p, b.data);
    json_free(again);
    sg_buf_free(&b);
    json_free(v);
}

/* A fixed case whose verdict is known. */
static void json_expect(tally *t, const char *text, size_t n, int flags, int max_depth, int want_ok, const char *want_msg)
{
    json_opts o = {max_depth, flags};
    long acc = t->accepted;
    t->current = -2;
    check_json(t, (const uint8_t *)text, n, &o);
    int ok = t->accepted > acc;
    CHECK(ok == want_ok, "JSON \"%.60s\" (%zu bytes): %s", text, n, ok ? "accepted" : "rejected");
    if (want_msg && !ok) {
        json_value *v;
        sg_err err = {{0}};
        json_parse(text, n, &o, &v, NULL, &err);
        CHECK(strstr(err.msg, want_msg) != NULL, "JSON \"%.60s\": message \"%s\" lacks \"%s\"", text, err.msg, want_msg);
    }
}

static char *repeat_nested(const char *open, const char *close, int depth, size_t *len)
{
    size_t lo = strlen(open), lc = strlen(close);
    char *s = malloc((lo + lc) * (size_t)depth + 2);
    size_t n = 0;
    for (int i = 0; i < depth; i++) { memcpy(s + n, open, lo); n += lo; }
    s[n++] = '1';
    for (int i = 0; i < depth; i++) { memcpy(s + n, close, lc); n += lc; }
    s[n] = 0;
    *len = n;
    return s;
}

static void test_json(void)
{
    static const char *const bases[] = {
        "{\"__metadata__\":{\"format\":\"pt\",\"step\":\"1000\"},\"main.0.weight\":{\"dtype\":\"F32\","
        "\"shape\":[64,3,7,7],\"data_offsets\":[0,37632]},\"main.1.num_batches_tracked\":{\"dtype\":\"I64\","
        "\"shape\":[],\"data_offsets\":[37632,37640]}}",
        "{\"format\":\"stargan-shard\",\"version\":1,\"width\":128,\"height\":128,\"channels\":3,"
        "\"pixel_encoding\":\"raw\",\"label_kind\":\"multi-hot\",\"labels\":[\"Black_Hair\",\"Male\"],"
        "\"count\":202599,\"source\":\"data/list_attr_celeba.txt\",\"crop\":178,\"size\":128}\n",
        "{\"iteration\":100,\"dataset\":0,\"D/loss_real\":-1.2345678901234567e-3,\"D/loss_fake\":0.5,"
        "\"D/loss_gp\":1e-10,\"G/loss_rec\":0.25,\"lr\":0.0001,\"images/s\":12.5,\"elapsed\":3.75}",
        "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"\\u00e9\\u20ac\\ud83d\\ude00\", \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\","
        " -0, 0.5e-10, 1E+2, 9007199254740993, -9223372036854775808, 18446744073709551616, true, false, null,"
        " {}, [], [[[]]], {\"a\":{\"b\":[1,{\"c\":null}]}}, \"\\u0000\"]",
    };
    tally t;
    tally_start(&t, "JSON");
    bytes x = {0};
    for (size_t b = 0; b < sizeof bases / sizeof *bases; b++) {
        size_t n = strlen(bases[b]);
        t.current = -1;
        long acc = t.accepted;
        check_json(&t, (const uint8_t *)bases[b], n, NULL);
        CHECK(t.accepted == acc + 1, "valid JSON base %zu rejected", b);
        for (size_t k = 0; k < n; k++) { t.current = (long)k; check_json(&t, (const uint8_t *)bases[b], k, NULL); }
        for (long i = 0; i < 1500; i++) {
            t.current = i;
            mutate(&x, (const uint8_t *)bases[b], n, 1, 0);
            json_opts o = {rnd(4) ? 0 : 1 + (int)rnd(4), rnd(4) ? 0 : JSON_KEEP_FIRST};
            check_json(&t, x.p, x.n, &o);
        }
    }
    /* nesting: the default limit exactly, one above it, and far above it (no stack overflow) */
    size_t len;
    char *s = repeat_nested("[", "]", JSON_DEFAULT_MAX_DEPTH, &len);
    json_expect(&t, s, len, 0, 0, 1, NULL);
    free(s);
    s = repeat_nested("[", "]", JSON_DEFAULT_MAX_DEPTH + 1, &len);
    json_expect(&t, s, len, 0, 0, 0, "nesting too deep");
    free(s);
    s = repeat_nested("{\"a\":", "}", JSON_DEFAULT_MAX_DEPTH + 1, &len);
    json_expect(&t, s, len, 0, 0, 0, "nesting too deep");
    free(s);
    s = repeat_nested("[", "", 1000000, &len);   /* never closed */
    json_expect(&t, s, len, 0, 0, 0, "nesting too deep");
    free(s);
    s = repeat_nested("{\"\":", "}", 3, &len);
    json_expect(&t, s, len, 0, 2, 0, "nesting too deep");
    json_expect(&t, s, len, 0, 3, 1, NULL);
    free(s);
    /* numbers */
    static const struct { const char *text; int ok; } nums[] = {
        {"1e308", 1}, {"1e309", 0}, {"-1e309", 0}, {"1e-400", 1}, {"-1e-400", 1}, {"1.7976931348623157e308", 1},
        {"1.7976931348623159e308", 0}, {"9223372036854775807", 1}, {"-9223372036854775808", 1},
        {"9223372036854775808", 1}, {"-9223372036854775809", 1}, {"18446744073709551616", 1}, {"NaN", 0},
        {"-NaN", 0}, {"Infinity", 0}, {"-Infinity", 0}, {"inf", 0}, {"-", 0}, {"01", 0}, {"-01", 0}, {"1.", 0},
        {".5", 0}, {"1e", 0}, {"1e+", 0}, {"+1", 0}, {"0x10", 0}, {"1_000", 0}, {"--1", 0}, {"1.5e3", 1}, {"-0", 1},
        {"0e0", 1}, {"1E-2", 1},
    };
    for (size_t k = 0; k < sizeof nums / sizeof *nums; k++)
        json_expect(&t, nums[k].text, strlen(nums[k].text), 0, 0, nums[k].ok, NULL);
    char big[1200];
    memset(big, '9', sizeof big - 1);
    big[sizeof big - 1] = 0;
    json_expect(&t, big, 400, 0, 0, 0, "out of range");      /* 400 digits: beyond a double */
    json_expect(&t, big, 300, 0, 0, 1, NULL);                  /* 300 digits: a double */
    big[0] = '0'; big[1] = '.';
    json_expect(&t, big, sizeof big - 1, 0, 0, 1, NULL);       /* 1198 fraction digits */
    /* strings: escapes, NUL bytes, UTF-8 */
    static const struct { const char *text; size_t n; int ok; } strs[] = {
        {"\"\\x\"", 4, 0}, {"\"\\u12\"", 6, 0}, {"\"\\u12G4\"", 8, 0}, {"\"\\ud800\"", 8, 0}, {"\"\\udc00\"", 8, 0},
        {"\"\\ud800\\u0041\"", 14, 0}, {"\"\\ud800\\n\"", 10, 0}, {"\"\\", 2, 0}, {"\"\\u", 3, 0}, {"\"\\ud800\\u", 9, 0},
        {"\"\\ud83d\\ude00\"", 14, 1}, {"\"a\0b\"", 5, 0}, {"1\0", 2, 0}, {"\0", 1, 0}, {"[1,\0 2]", 7, 0},
        {"\"\\u0000\"", 8, 1}, {"{\"a\\u0000b\":1}", 14, 1}, {"\"\xc0\x80\"", 4, 0}, {"\"\xed\xa0\x80\"", 5, 0},
        {"\"\xf4\x90\x80\x80\"", 6, 0}, {"\"\xe2\x82\"", 4, 0}, {"\"\xe2\x82", 3, 0}, {"\"\xff\"", 3, 0},
        {"\"\t\"", 3, 0}, {"\"\x7f\"", 3, 1}, {"\"abc", 4, 0}, {"", 0, 0}, {"   ", 3, 0}, {"[1,]", 4, 0},
        {"{\"a\":1,}", 8, 0}, {"[1 2]", 5, 0}, {"{\"a\" 1}", 7, 0}, {"{1:2}", 5, 0}, {"// c\n1", 6, 0}, {"tru", 3, 0},
        {"nul", 3, 0}, {"[]]", 3, 0}, {"\xef\xbb\xbf{}", 5, 0},
    };
    for (size_t k = 0; k < sizeof strs / sizeof *strs; k++)
        json_expect(&t, strs[k].text, strs[k].n, 0, 0, strs[k].ok, NULL);
    json_expect(&t, "{\"a\":1,\"a\":2}", 13, 0, 0, 0, "duplicate key");
    json_expect(&t, "{\"a\":1,\"a\":2}", 13, JSON_KEEP_FIRST, 0, 1, NULL);
    /* a key that decodes to an ESC sequence and UTF-8: escaped in the message */
    static const char esc_keys[] = "{\"\\u001b[2J\xc3\xa9\":1,\"\\u001b[2J\xc3\xa9\":2}";
    json_expect(&t, esc_keys, strlen(esc_keys), 0, 0, 0, "duplicate key \"\\x1b[2J\\xc3\\xa9\"");
    /* Objects of 8 members or more find duplicates through a hash table: one of
     * 16 near-equal keys (prefixes, a NUL inside, 8-byte boundaries) mutated, under
     * its own seed so that the inputs of the formats after this one stay the same. */
    static const char many[] =
        "{\"a\":1,\"ab\":2,\"abc\":3,\"abcdefg\":4,\"abcdefgh\":5,\"abcdefghi\":6,\"a\\u0000\":7,"
        "\"a\\u0000b\":8,\"b\":9,\"ba\":10,\"\":11,\"k1\":[1,{\"x\":1,\"y\":2}],\"k2\":{\"k1\":1},"
        "\"main.0.weight\":0,\"main.1.weight\":1,\"main.10.weight\":2}";
    sg_mt19937 keep_rng = rng;
    sg_mt_seed_python(&rng, 20261129);
    t.current = -1;
    long acc = t.accepted;
    check_json(&t, (const uint8_t *)many, sizeof many - 1, NULL);
    CHECK(t.accepted == acc + 1, "the 16-key object is rejected");
    for (long i = 0; i < 3000; i++) {
        t.current = 20000 + i;
        mutate(&x, (const uint8_t *)many, sizeof many - 1, 1, 0);
        json_opts o = {0, i % 2 ? JSON_KEEP_FIRST : 0};
        check_json(&t, x.p, x.n, &o);
    }
    rng = keep_rng;
    /* a duplicate deep in a large object (a safetensors header of 100k tensors) */
    long nk = 100000;
    char *big_obj = malloc((size_t)nk * 24 + 64);
    size_t n = 0, dup_at = 0;
    big_obj[n++] = '{';
    for (long k = 0; k < nk; k++) n += (size_t)sprintf(big_obj + n, "%s\"t.%ld\":%ld", k ? "," : "", k, k);
    big_obj[n++] = ',';
    dup_at = n;
    n += (size_t)sprintf(big_obj + n, "\"t.%ld\":0}", nk - 2);
    json_value *jv = NULL;
    json_error_pos where;
    sg_err jerr = {{0}};
    CHECK(json_parse(big_obj, n, NULL, &jv, &where, &jerr) == -1 && where.offset == dup_at &&
          strcmp(where.what, "duplicate key \"t.99998\"") == 0, "%ld keys and t.99998 again: \"%s\" at %zu, want %zu",
          nk, jerr.msg, where.offset, dup_at);
    json_opts keep_first = {0, JSON_KEEP_FIRST};
    CHECK(json_parse(big_obj, n, &keep_first, &jv, NULL, &jerr) == 0 && jv->n == (size_t)nk &&
          json_get(jv, "t.99998")->i == nk - 2, "%ld keys and t.99998 again, keep-first: %s", nk, jerr.msg);
    json_free(jv);
    big_obj[dup_at - 1] = '}';   /* without the duplicate */
    CHECK(json_parse(big_obj, dup_at, NULL, &jv, NULL, &jerr) == 0 && jv->n == (size_t)nk &&
          json_get(jv, "t.0")->i == 0 && strcmp(jv->keys[nk - 1], "t.99999") == 0, "%ld keys: %s", nk, jerr.msg);
    json_free(jv);
    free(big_obj);
    b_free(&x);
    tally_end(&t);
}

/* ---- 4. the CelebA attribute table --------------------------------------------- */

static void check_attrs(tally *t, const bytes *in)
{
    uint8_t *text = exact_copy(in);
    sg_attr_table a;
    memset(&a, 0x5a, sizeof a);
    sg_err err = {{0}};
    int rc = sg_attr_table_parse("list_attr.txt", (const char *)text, in->n, &a, &err);
    free(text);
    if (!verdict(t, rc, &err, "list_attr.txt")) {
        if (a.attr_names || a.file_names || a.values || a.n_rows || a.n_attrs) broken(t, "rejected but the table is not empty");
        return;
    }
    if (a.n_attrs < 1 || a.n_attrs > 4096 || !a.attr_names) { broken(t, "%d attributes", a.n_attrs); sg_attr_table_free(&a); return; }
    for (int i = 0; i < a.n_attrs; i++) {
        const char *s = a.attr_names[i];
        if (!s || !s[0] || strpbrk(s, " \t\r\n\v\f")) { broken(t, "attribute name %d", i); continue; }
        for (int j = 0; j < i; j++)
            if (a.attr_names[j] && !strcmp(a.attr_names[j], s)) broken(t, "attribute names %d and %d equal", j, i);
    }
    for (size_t r = 0; r < a.n_rows; r++) {
        const char *s = a.file_names[r];
        if (!s || !s[0] || strpbrk(s, " \t\r\n\v\f")) { broken(t, "file name %zu", r); continue; }
        for (int k = 0; k < a.n_attrs; k++)
            if (sg_attr_value(&a, r, k) != 1 && sg_attr_value(&a, r, k) != -1) broken(t, "row %zu value %d", r, k);
    }
    /* written back and read again: the same table */
    char *out;
    size_t out_len;
    if (!t->broken) {
        if (sg_attr_table_format(&a, NULL, 0, &out, &out_len, &err)) broken(t, "cannot write the table back: %s", err.msg);
        else {
            sg_attr_table b;
            if (sg_attr_table_parse("again.txt", out, out_len, &b, &err)) broken(t, "written back, does not parse: %s", err.msg);
            else {
                int same = b.n_attrs == a.n_attrs && b.n_rows == a.n_rows &&
                           (a.n_rows == 0 || !memcmp(a.values, b.values, a.n_rows * (size_t)a.n_attrs));
                for (int i = 0; same && i < a.n_attrs; i++) same = !strcmp(a.attr_names[i], b.attr_names[i]);
                for (size_t r = 0; same && r < a.n_rows; r++) same = !strcmp(a.file_names[r], b.file_names[r]);
                if (!same) broken(t, "written back, parses to another table");
                sg_attr_table_free(&b);
            }
            free(out);
        }
    }
    sg_attr_table_free(&a);
}

static void test_attrs(void)
{
    static const char *const names[5] = {"Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"};
    sg_attr_table a;
    sg_err err = {{0}};
    CHECK(sg_attr_table_create(&a, 5, names, 6, &err) == 0, "%s", err.msg);
    for (size_t r = 0; r < 6; r++) {
        char fn[32];
        snprintf(fn, sizeof fn, "%06zu.jpg", r + 1);
        a.file_names[r] = strdup(fn);
        for (int k = 0; k < 5; k++) a.values[r * 5 + k] = ((r >> (k % 3)) ^ (size_t)k) & 1 ? 1 : -1;
    }
    char *text;
    size_t len;
    CHECK(sg_attr_table_format(&a, NULL, 0, &text, &len, &err) == 0, "%s", err.msg);
    sg_attr_table_free(&a);
    static const char variant[] = "3\r\nA B\tC \r\n\r\nx.jpg  1 -1\t1\r\ny.png -1 -1 -1\r\n\r\nz  1 1 1";
    text_bases_tally("CelebA attribute table", text, len, variant, sizeof variant - 1, check_attrs);
    free(text);
}

/* ---- 5. LMDB shards ------------------------------------------------------------------ */

static const char *const shard_labels[5] = {"Bangs", "Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair"};
enum { SW = 4, SH = 3 };

static void shard_pixels(uint8_t *px, uint64_t i)
{
    for (int k = 0; k < SW * SH * 3; k++) px[k] = (uint8_t)(k * 7 + i * 13);
}

static int write_shard(const char *path, int enc, int kind, uint64_t n, sg_err *err)
{
    sg_shard_meta m;
    memset(&m, 0, sizeof m);
    m.width = SW; m.height = SH; m.channels = 3;
    m.pixel_encoding = enc;
    m.label_kind = kind;
    m.n_labels = 5;
    for (int i = 0; i < 5; i++) m.label_names[i] = (char *)shard_labels[i];
    snprintf(m.source, sizeof m.source, "list_attr_celeba.txt");
    m.crop = 178; m.size = SW;
    sg_shard_writer *w;
    if (sg_shard_writer_open(&w, path, &m, 1, n, err)) return -1;
    for (uint64_t i = 0; i < n; i++) {
        uint8_t labels[5], px[SW * SH * 3], *data = px;
        for (int j = 0; j < 5; j++) labels[j] = kind == SG_LABELS_ONE_HOT ? i % 5 == (uint64_t)j : (i >> j) & 1;
        shard_pixels(px, i);
        size_t len = sizeof px;
        if (enc == SG_PIXELS_PNG && sg_png_encode(px, SW, SH, &data, &len, err)) { sg_shard_writer_abort(w); return -1; }
        char name[32];
        snprintf(name, sizeof name, "%06llu.jpg", (unsigned long long)i + 1);
        int rc = sg_shard_writer_append(w, labels, name, data, len, err);
        if (data != px) free(data);
        if (rc) { sg_shard_writer_abort(w); return -1; }
    }
    sg_err note;
    return sg_shard_writer_commit(w, &note, err);
}

/* Opens the shard and reads every record (and one past the end). */
static void check_shard(tally *t, const char *path)
{
    sg_shard *s = (sg_shard *)&t;   /* must be reset */
    sg_err err = {{0}};
    int rc = sg_shard_open(&s, path, &err);
    if (!verdict(t, rc, &err, path)) {
        if (s) broken(t, "rejected but *out is %p", (void *)s);
        return;
    }
    const sg_shard_meta *m = sg_shard_get_meta(s);
    if (m->n_labels < 1 || m->n_labels > SG_SHARD_MAX_LABELS || m->width < 1 || m->height < 1 ||
        m->width > SG_IMAGE_MAX_SIDE || m->height > SG_IMAGE_MAX_SIDE || m->channels != 3 ||
        m->version != SG_SHARD_FORMAT_VERSION || !memchr(m->source, 0, sizeof m->source) ||
        (m->label_kind != SG_LABELS_MULTI_HOT && m->label_kind != SG_LABELS_ONE_HOT) ||
        m->pixel_encoding < SG_PIXELS_RAW || m->pixel_encoding > SG_PIXELS_JPEG) {
        broken(t, "inconsistent metadata");
        sg_shard_close(s);
        return;
    }
    for (uint32_t i = 0; i < m->n_labels; i++)
        if (!m->label_names[i]) broken(t, "label name %u missing", i);
    size_t npx = (size_t)m->width * m->height * 3;
    uint8_t *px = malloc(npx);
    float *labels = malloc(m->n_labels * sizeof *labels);
    uint8_t *lb = malloc(m->n_labels);
    for (uint64_t r = 0; r <= m->count && r < 4096; r++) {
        char name[64];
        memset(name, 'x', sizeof name);
        err.msg[0] = 0;
        rc = sg_shard_read(s, r, px, labels, name, sizeof name, &err);
        if (r == m->count) {   /* one past the end */
            if (rc != -1 || !err.msg[0]) broken(t, "record %llu past the end: rc %d", (unsigned long long)r, rc);
            break;
        }
        t->inputs++;   /* each record is an input too */
        if (rc != 0 && rc != -1) { broken(t, "record %llu: rc %d", (unsigned long long)r, rc); continue; }
        if (rc == -1) {
            t->rejected++;   /* a bad record in an accepted shard */
            if (!err.msg[0] || !strstr(err.msg, path)) broken(t, "record %llu: message \"%s\"", (unsigned long long)r, err.msg);
            err.msg[0] = 0;
            if (sg_shard_read_labels(s, r, lb, &err) == 0) {
                /* labels alone may be fine when only the pixels are bad */
            } else if (!err.msg[0]) broken(t, "record %llu: labels rejected without a message", (unsigned long long)r);
            continue;
        }
        t->accepted++;
        if (!memchr(name, 0, sizeof name)) broken(t, "record %llu: name not terminated", (unsigned long long)r);
        int ones = 0;
        for (uint32_t i = 0; i < m->n_labels; i++) {
            if (labels[i] != 0.0f && labels[i] != 1.0f) broken(t, "record %llu: label %g", (unsigned long long)r, labels[i]);
            ones += labels[i] == 1.0f;
        }
        if (m->label_kind == SG_LABELS_ONE_HOT && ones != 1) broken(t, "record %llu: one-hot with %d ones", (unsigned long long)r, ones);
        if (sg_shard_read_labels(s, r, lb, &err)) broken(t, "record %llu: labels rejected: %s", (unsigned long long)r, err.msg);
    }
    free(px); free(labels); free(lb);
    sg_shard_close(s);
}

/* Why a shard or its record 0 is refused, for messages ("" when it is not). */
static const char *shard_problem(const char *path)
{
    static sg_err err;
    sg_shard *s;
    err.msg[0] = 0;
    if (sg_shard_open(&s, path, &err)) return err.msg;
    uint8_t *px = malloc((size_t)sg_shard_get_meta(s)->width * sg_shard_get_meta(s)->height * 3);
    sg_shard_read(s, 0, px, NULL, NULL, 0, &err);
    free(px);
    sg_shard_close(s);
    return err.msg;
}

/* A record value per the layout in shard.h; fix_crc recomputes the CRC after a mutation. */
static void record_value(bytes *out, const uint8_t *labels, int nl, const char *name, int enc, const uint8_t *px, size_t np)
{
    size_t nn = strlen(name);
    uint8_t h[SG_SHARD_RECORD_HEADER] = {'S', 'G', 'R', '1', (uint8_t)nl, (uint8_t)(nl >> 8), (uint8_t)nn, (uint8_t)(nn >> 8),
                                         (uint8_t)enc, 0, 0, 0, (uint8_t)np, (uint8_t)(np >> 8), (uint8_t)(np >> 16), (uint8_t)(np >> 24)};
    b_set(out, h, sizeof h);
    b_replace(out, out->n, 0, labels, (size_t)nl);
    b_replace(out, out->n, 0, name, nn);
    b_replace(out, out->n, 0, px, np);
    uint8_t crc[4] = {0};
    b_replace(out, out->n, 0, crc, 4);
}
static void fix_crc(bytes *v)
{
    if (v->n < 4) return;
    uint32_t c = sg_crc32(0, v->p, v->n - 4);
    for (int k = 0; k < 4; k++) v->p[v->n - 4 + k] = (uint8_t)(c >> (8 * k));
}

static void index_key(uint8_t key[8], uint64_t i)
{
    for (int k = 0; k < 8; k++) key[k] = (uint8_t)(i >> (8 * (7 - k)));
}

/* A shard written through LMDB directly: meta, then records[0..n) as given. */
static int lmdb_shard(const char *path, const bytes *meta, const bytes *records, size_t n)
{
    mkdir(path, 0755);
    char data[600];
    snprintf(data, sizeof data, "%s/data.mdb", path);
    unlink(data);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    int rc = mdb_env_create(&env);
    if (!rc) rc = mdb_env_set_mapsize(env, 64 << 20);
    if (!rc) rc = mdb_env_open(env, path, MDB_NOLOCK | MDB_NOSYNC, 0644);
    if (!rc) rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (!rc && (rc = mdb_dbi_open(txn, NULL, 0, &dbi))) mdb_txn_abort(txn);
    if (!rc) {
        MDB_val k = {4, "meta"}, v = {meta->n, meta->p};
        rc = mdb_put(txn, dbi, &k, &v, 0);
        for (size_t i = 0; i < n && !rc; i++) {
            uint8_t kb[8];
            index_key(kb, i);
            MDB_val rk = {8, kb}, rv = {records[i].n, records[i].p};
            rc = mdb_put(txn, dbi, &rk, &rv, 0);
        }
        if (rc) mdb_txn_abort(txn);
        else rc = mdb_txn_commit(txn);
    }
    mdb_env_close(env);
    if (rc) CHECK(0, "lmdb_shard %s: %s", path, mdb_strerror(rc));
    return rc ? -1 : 0;
}

static void copy_file_prefix(const char *from, const char *to, size_t n)
{
    bytes b = {0};
    if (read_whole(from, &b)) return;
    if (n > b.n) n = b.n;
    if (write_bytes(to, b.p, n)) CHECK(0, "cannot write %s", to);
    b_free(&b);
}

static void test_shard(void)
{
    sg_err err = {{0}};
    const char *raw = test_tmp_path("raw.lmdb"), *png = test_tmp_path("png.lmdb");
    int rc = write_shard(raw, SG_PIXELS_RAW, SG_LABELS_MULTI_HOT, 6, &err);
    CHECK(rc == 0, "write %s: %s", raw, err.msg);
    rc |= write_shard(png, SG_PIXELS_PNG, SG_LABELS_ONE_HOT, 6, &err);
    CHECK(rc == 0, "write %s: %s", png, err.msg);
    if (rc) return;

    /* (a) data.mdb truncated: at every page boundary and at random lengths */
    tally t;
    tally_start(&t, "shard data.mdb truncated");
    char data[600], cut[600];
    snprintf(data, sizeof data, "%s/data.mdb", raw);
    const char *cutdir = test_tmp_path("cut.lmdb");
    mkdir(cutdir, 0755);
    snprintf(cut, sizeof cut, "%s/data.mdb", cutdir);
    struct stat st;
    stat(data, &st);
    t.current = -1;
    copy_file_prefix(data, cut, (size_t)st.st_size);
    check_shard(&t, cutdir);
    CHECK(t.accepted > 0 && t.rejected == 0, "the intact shard is rejected");
    long pagesz = sysconf(_SC_PAGESIZE);
    for (long k = 0; k < 200; k++) {
        size_t n = k < (long)(st.st_size / pagesz) ? (size_t)(k * pagesz) : rnd((uint32_t)st.st_size);
        t.current = (long)n;
        copy_file_prefix(data, cut, n);
        check_shard(&t, cutdir);
    }
    tally_end(&t);

    /* (b) the metadata record mutated, with one valid record */
    bytes meta = {0}, rec[64] = {{0}}, x = {0};
    {
        MDB_env *env;
        MDB_txn *txn;
        MDB_dbi dbi;
        MDB_val k = {4, "meta"}, v;
        mdb_env_create(&env);
        if (mdb_env_open(env, raw, MDB_RDONLY | MDB_NOLOCK, 0444) || mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) {
            CHECK(0, "cannot open %s through LMDB", raw);
            mdb_env_close(env);
            return;
        }
        mdb_dbi_open(txn, NULL, 0, &dbi);
        if (mdb_get(txn, dbi, &k, &v) == 0) b_set(&meta, v.mv_data, v.mv_size);
        mdb_txn_abort(txn);
        mdb_env_close(env);
    }
    CHECK(meta.n > 0, "no metadata in %s", raw);
    uint8_t labels[5] = {1, 0, 1, 0, 0}, px[SW * SH * 3];
    shard_pixels(px, 0);
    bytes valid = {0};
    record_value(&valid, labels, 5, "000001.jpg", SG_PIXELS_RAW, px, sizeof px);
    fix_crc(&valid);
    const char *lm = test_tmp_path("lmdb.lmdb");
    tally_start(&t, "shard metadata record");
    t.current = -1;
    if (lmdb_shard(lm, &meta, &valid, 1) == 0) check_shard(&t, lm);   /* meta count is 6: rejected */
    bytes one = {0};
    b_set(&one, meta.p, meta.n);
    {
        /* the same metadata saying 1 record */
        char *c = memmem(one.p, one.n, "\"count\":6", 9);
        CHECK(c != NULL, "metadata without \"count\":6: %.*s", (int)meta.n, (const char *)meta.p);
        if (c) c[8] = '1';
    }
    long acc = t.accepted;
    t.current = -2;
    if (lmdb_shard(lm, &one, &valid, 1) == 0) check_shard(&t, lm);
    CHECK(t.accepted == acc + 2, "the shard written through LMDB is rejected (does the test know the record layout?): %s",
          shard_problem(lm));
    for (long i = 0; i < 600; i++) {
        t.current = i;
        mutate(&x, one.p, one.n, 1, 0);
        if (x.n == 0) continue;   /* LMDB stores no empty values */
        if (lmdb_shard(lm, &x, &valid, 1)) break;
        check_shard(&t, lm);
    }
    tally_end(&t);

    /* (c) record values mutated: raw mutations (mostly CRC mismatches) and,
     * half the time, mutations with the CRC made right again, so the checks
     * behind the CRC run: header fields, labels, pixel counts, PNG decoding */
    static const int encs[2] = {SG_PIXELS_RAW, SG_PIXELS_PNG};
    for (int e = 0; e < 2; e++) {
        bytes base = {0};
        uint8_t *enc_px = px;
        size_t enc_len = sizeof px;
        uint8_t oh[5] = {0, 0, 1, 0, 0};
        if (encs[e] == SG_PIXELS_PNG && sg_png_encode(px, SW, SH, &enc_px, &enc_len, &err)) { CHECK(0, "%s", err.msg); break; }
        record_value(&base, encs[e] == SG_PIXELS_PNG ? oh : labels, 5, "000001.jpg", encs[e], enc_px, enc_len);
        fix_crc(&base);
        if (enc_px != px) free(enc_px);
        bytes m = {0};
        b_set(&m, meta.p, meta.n);   /* raw.lmdb's metadata: multi-hot, raw */
        if (encs[e] == SG_PIXELS_PNG) {
            /* png.lmdb's metadata: one-hot, png */
            MDB_env *env;
            MDB_txn *txn;
            MDB_dbi dbi;
            MDB_val k = {4, "meta"}, v;
            mdb_env_create(&env);
            if (!mdb_env_open(env, png, MDB_RDONLY | MDB_NOLOCK, 0444) && !mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) {
                mdb_dbi_open(txn, NULL, 0, &dbi);
                if (mdb_get(txn, dbi, &k, &v) == 0) b_set(&m, v.mv_data, v.mv_size);
                mdb_txn_abort(txn);
            }
            mdb_env_close(env);
        }
        char *c = memmem(m.p, m.n, "\"count\":6", 9);
        if (c) b_replace(&m, (size_t)(c - (char *)m.p), 9, "\"count\":64", 10);
        tally_start(&t, encs[e] == SG_PIXELS_PNG ? "shard records (png)" : "shard records (raw)");
        for (long round = 0; round < 16; round++) {
            for (int i = 0; i < 64; i++) {
                mutate(&rec[i], base.p, base.n, 0, SG_SHARD_RECORD_HEADER + 5);   /* header and labels */
                if (round % 2) fix_crc(&rec[i]);
                if (rec[i].n == 0) b_set(&rec[i], "?", 1);
            }
            if (round == 0) b_set(&rec[0], base.p, base.n);   /* one valid record */
            t.current = round;
            long a0 = t.accepted;
            if (lmdb_shard(lm, &m, rec, 64)) break;
            check_shard(&t, lm);
            if (round == 0) CHECK(t.accepted > a0 + 1, "%s: the valid record is rejected: %s", t.name, shard_problem(lm));
        }
        /* the three length fields set to odd values, the CRC right */
        static const uint32_t odd[] = {0, 1, 4, 5, 6, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0xffffffff};
        for (size_t k = 0; k < sizeof odd / sizeof *odd; k++) {
            for (int f = 0; f < 3; f++) {
                bytes *r = &rec[3 * k + (size_t)f];
                b_set(r, base.p, base.n);
                if (f < 2) { r->p[4 + 2 * f] = (uint8_t)odd[k]; r->p[5 + 2 * f] = (uint8_t)(odd[k] >> 8); }
                else for (int j = 0; j < 4; j++) r->p[12 + j] = (uint8_t)(odd[k] >> (8 * j));
                fix_crc(r);
            }
        }
        for (int i = 33; i < 64; i++) b_set(&rec[i], base.p, base.n);
        /* PNG records of another size than the shard's, CRC right: smaller
         * (a copy of the shard's size would read past the decoded image,
         * which AddressSanitizer reports) and larger */
        static const int wrong[2][2] = {{SW - 1, SH}, {2 * SW, 2 * SH}};
        for (int k = 0; encs[e] == SG_PIXELS_PNG && k < 2; k++) {
            uint8_t big[4 * SW * SH * 3], *enc_w = NULL;
            size_t len_w = 0;
            for (size_t j = 0; j < sizeof big; j++) big[j] = (uint8_t)(j * 5);
            if (sg_png_encode(big, wrong[k][0], wrong[k][1], &enc_w, &len_w, &err)) { CHECK(0, "%s", err.msg); continue; }
            record_value(&rec[33 + k], oh, 5, "000001.jpg", SG_PIXELS_PNG, enc_w, len_w);
            fix_crc(&rec[33 + k]);
            free(enc_w);
        }
        t.current = 100;
        if (lmdb_shard(lm, &m, rec, 64) == 0) {
            check_shard(&t, lm);
            sg_shard *s;
            if (encs[e] == SG_PIXELS_PNG && sg_shard_open(&s, lm, &err) == 0) {
                for (int k = 0; k < 2; k++) {
                    char want[700];
                    snprintf(want, sizeof want, "%s: record %d: image is %dx%d, the shard says %dx%d", lm, 33 + k,
                             wrong[k][0], wrong[k][1], SW, SH);
                    err.msg[0] = 0;
                    int rc = sg_shard_read(s, (uint64_t)(33 + k), px, NULL, NULL, 0, &err);
                    CHECK(rc == -1 && !strcmp(err.msg, want), "a %dx%d PNG record in a %dx%d shard: rc %d, '%s'",
                          wrong[k][0], wrong[k][1], SW, SH, rc, err.msg);
                }
                sg_shard_close(s);
            }
        }
        tally_end(&t);
        b_free(&m);
        b_free(&base);
    }
    for (int i = 0; i < 64; i++) b_free(&rec[i]);
    b_free(&meta); b_free(&one); b_free(&x); b_free(&valid);
}

/* ---- 6. PNG and JPEG decoding ------------------------------------------------------ */

enum { IW = 16, IH = 24, CROP = 10, OUT = 6 };

/* Recomputes the CRC of every PNG chunk that fits, so mutations reach past the CRC check. */
static void png_fix_crcs(bytes *x)
{
    size_t at = 8;
    while (at + 12 <= x->n) {
        uint32_t len = (uint32_t)x->p[at] << 24 | (uint32_t)x->p[at + 1] << 16 | (uint32_t)x->p[at + 2] << 8 | x->p[at + 3];
        if (len > x->n - at - 12) break;
        uint32_t c = sg_crc32(0, x->p + at + 4, (size_t)len + 4);
        for (int k = 0; k < 4; k++) x->p[at + 8 + len + (size_t)k] = (uint8_t)(c >> (8 * (3 - k)));
        at += 12 + (size_t)len;
    }
}

/* The valid image and what it decodes to: after any input, good or bad, it
 * must still decode to the same pixels (no state left behind by a failure). */
typedef struct {
    const uint8_t *data;
    size_t len;
    uint8_t rgb[IW * IH * 3], out[OUT * OUT * 3];
} image_base;

static void check_base_still_decodes(tally *t, sg_preprocessor *pp, const image_base *b)
{
    uint8_t *data = malloc(b->len), out[OUT * OUT * 3];
    memcpy(data, b->data, b->len);
    sg_image img;
    sg_err err = {{0}};
    if (sg_image_decode(data, b->len, &img, &err)) broken(t, "afterwards the valid image is rejected: %s", err.msg);
    else {
        if (img.width != IW || img.height != IH || memcmp(img.rgb, b->rgb, sizeof b->rgb))
            broken(t, "afterwards the valid image decodes to other pixels");
        sg_image_free(&img);
    }
    if (sg_preprocess(pp, data, b->len, out, &err)) broken(t, "afterwards sg_preprocess rejects the valid image: %s", err.msg);
    else if (memcmp(out, b->out, sizeof out)) broken(t, "afterwards sg_preprocess gives other pixels for the valid image");
    free(data);
}

/* What decoders that have seen no other image make of an input: sg_image_decode
 * and sg_image_probe on a new thread (so a new TurboJPEG decompressor), and
 * sg_preprocess with a new preprocessor. A thread's decoder keeps libjpeg's
 * tables from image to image; an abbreviated JPEG (no DQT or DHT of its own)
 * once decoded with the tables of the thread's previous image. */
typedef struct {
    const uint8_t *data;
    size_t len;
    int rc, probe_rc, w, h, pre_rc;
    sg_image img;
    sg_err err, probe_err, pre_err;
    uint8_t out[OUT * OUT * 3];
} fresh_result;

static void *fresh_run(void *arg)
{
    fresh_result *f = arg;
    f->rc = sg_image_decode(f->data, f->len, &f->img, &f->err);
    f->probe_rc = sg_image_probe(f->data, f->len, &f->w, &f->h, &f->probe_err);
    sg_preprocessor pp;
    sg_preprocessor_init(&pp, CROP, CROP, OUT, OUT);
    f->pre_rc = sg_preprocess(&pp, f->data, f->len, f->out, &f->pre_err);
    sg_preprocessor_free(&pp);
    return NULL;
}

static void fresh_decode(fresh_result *f, const uint8_t *data, size_t len)
{
    memset(f, 0, sizeof *f);
    f->data = data;
    f->len = len;
    pthread_t th;
    if (pthread_create(&th, NULL, fresh_run, f) != 0) { perror("pthread_create"); exit(1); }
    pthread_join(th, NULL);
}

/* The results of this thread's decoders (decode, probe, preprocess) against a fresh decoder's. */
static void check_same_as_fresh(tally *t, const uint8_t *data, size_t len, int rc, const sg_image *img, const sg_err *err,
                                int probe_rc, int w, int h, const sg_err *probe_err,
                                int pre_rc, const uint8_t *out, const sg_err *pre_err)
{
    fresh_result f;
    fresh_decode(&f, data, len);
    if (rc != f.rc || (rc && strcmp(err->msg, f.err.msg)))
        broken(t, "decode: rc %d \"%s\" after other images, rc %d \"%s\" on a fresh decoder", rc, rc ? err->msg : "",
               f.rc, f.rc ? f.err.msg : "");
    else if (!rc && (img->width != f.img.width || img->height != f.img.height ||
                     memcmp(img->rgb, f.img.rgb, (size_t)img->width * img->height * 3)))
        broken(t, "decode: other pixels after other images than on a fresh decoder");
    if (probe_rc != f.probe_rc || (probe_rc ? strcmp(probe_err->msg, f.probe_err.msg) : w != f.w || h != f.h))
        broken(t, "probe: rc %d \"%s\" %dx%d after other images, rc %d \"%s\" %dx%d on a fresh decoder", probe_rc,
               probe_rc ? probe_err->msg : "", w, h, f.probe_rc, f.probe_rc ? f.probe_err.msg : "", f.w, f.h);
    if (pre_rc != f.pre_rc || (pre_rc && strcmp(pre_err->msg, f.pre_err.msg)))
        broken(t, "preprocess: rc %d \"%s\" after other images, rc %d \"%s\" with a fresh preprocessor", pre_rc,
               pre_rc ? pre_err->msg : "", f.pre_rc, f.pre_rc ? f.pre_err.msg : "");
    else if (!pre_rc && memcmp(out, f.out, sizeof f.out))
        broken(t, "preprocess: other pixels after other images than with a fresh preprocessor");
    if (!f.rc) sg_image_free(&f.img);
}

static void check_image(tally *t, sg_preprocessor *pp, const bytes *in, const image_base *base)
{
    uint8_t *data = exact_copy(in);
    sg_image img;
    sg_err err = {{0}};
    int rc = sg_image_decode(data, in->n, &img, &err);
    int decoded = verdict(t, rc, &err, NULL);
    if (decoded) {
        if (img.width < 1 || img.height < 1 || img.width > SG_IMAGE_MAX_SIDE || img.height > SG_IMAGE_MAX_SIDE ||
            (long)img.width * img.height > SG_IMAGE_MAX_PIXELS || !img.rgb)
            broken(t, "decoded %dx%d", img.width, img.height);
        else {
            unsigned sum = 0;   /* every byte is there (ASan) */
            for (size_t k = 0; k < (size_t)img.width * img.height * 3; k++) sum += img.rgb[k];
            (void)sum;
        }
    } else if (img.rgb) broken(t, "rejected but rgb is set");
    /* the header alone: the same size as the decode */
    int w = -1, h = -1;
    sg_err probe_err = {{0}};
    int probe_rc = sg_image_probe(data, in->n, &w, &h, &probe_err);
    if (probe_rc != 0 && (probe_rc != -1 || !probe_err.msg[0])) broken(t, "probe: rc %d, message \"%s\"", probe_rc, probe_err.msg);
    if (decoded && (probe_rc != 0 || w != img.width || h != img.height)) broken(t, "probe says %dx%d, decode %dx%d", w, h, img.width, img.height);
    /* probe refuses only what decode refuses, with decode's message (the same
     * header check runs first in both); an image decode refuses for its size,
     * probe refuses (a PNG of 2^31 x 3 once probed as -2147483648x3) */
    if (!decoded && probe_rc != 0 && strcmp(probe_err.msg, err.msg))
        broken(t, "probe refuses with \"%s\", decode with \"%s\"", probe_err.msg, err.msg);
    if (!decoded && probe_rc == 0 && (strstr(err.msg, "bad image size") || strstr(err.msg, " are refused")))
        broken(t, "decode refuses \"%s\", probe accepts %dx%d", err.msg, w, h);
    /* and the header faults both check (image.h): IHDR first, its length,
     * CRC and fields, a four-component JPEG (a second IHDR later, "out of
     * place", only a decode reaches) */
    static const char *const header_faults[] = { "the first chunk is not IHDR", "IHDR: invalid",
                                                 "IHDR: CRC error", "Invalid IHDR data", "CMYK/YCCK" };
    int header_fault = 0;
    for (size_t k = 0; k < sizeof header_faults / sizeof *header_faults; k++)
        if (strstr(err.msg, header_faults[k])) header_fault = 1;
    if (!decoded && probe_rc == 0 && header_fault)
        broken(t, "decode refuses a header fault \"%s\", probe accepts %dx%d", err.msg, w, h);
    /* decode + crop + resize in one (partial JPEG decoding): the pixels of the two steps */
    uint8_t out[OUT * OUT * 3];
    sg_err pre_err = {{0}};
    int pre_rc = sg_preprocess(pp, data, in->n, out, &pre_err);
    if (pre_rc != 0 && (pre_rc != -1 || !pre_err.msg[0])) broken(t, "preprocess: rc %d, message \"%s\"", pre_rc, pre_err.msg);
    if (decoded && !t->broken) {
        sg_image ref;
        sg_err ref_err = {{0}};
        int rr = sg_center_crop_resize(&img, CROP, CROP, OUT, OUT, &ref, &ref_err);
        if (rr == 0 && pre_rc != 0) broken(t, "decodes, but sg_preprocess refuses it: %s", pre_err.msg);
        if (rr == 0 && pre_rc == 0 && memcmp(out, ref.rgb, sizeof out)) broken(t, "sg_preprocess differs from decode + crop + resize");
        if (rr == 0) sg_image_free(&ref);
    }
    /* no result depends on what the thread decoded before */
    check_same_as_fresh(t, data, in->n, rc, &img, &err, probe_rc, w, h, &probe_err, pre_rc, out, &pre_err);
    if (decoded) sg_image_free(&img);
    free(data);
    if (base) check_base_still_decodes(t, pp, base);
}

static void test_images(void)
{
    uint8_t px[IW * IH * 3];
    for (int k = 0; k < IW * IH * 3; k++) px[k] = (uint8_t)((k / 3 % IW) * 9 + (k / 3 / IW) * 5 + (k % 3) * 60);
    uint8_t *png = NULL, *jpg = NULL;
    size_t png_len = 0, jpg_len = 0;
    sg_err err = {{0}};
    CHECK(sg_png_encode(px, IW, IH, &png, &png_len, &err) == 0, "%s", err.msg);
    CHECK(sg_jpeg_encode(px, IW, IH, 90, &jpg, &jpg_len, &err) == 0, "%s", err.msg);
    /* progressive: several scans, Huffman tables between them */
    tjhandle tj = tjInitCompress();
    unsigned char *prog = NULL;
    unsigned long prog_len = 0;
    CHECK(tj && tjCompress2(tj, px, IW, 0, IH, TJPF_RGB, &prog, &prog_len, TJSAMP_420, 90, TJFLAG_PROGRESSIVE) == 0,
          "progressive JPEG: %s", tj ? tjGetErrorStr2(tj) : "no compressor");
    if (tj) tjDestroy(tj);
    if (!png || !jpg || !prog) return;
    sg_preprocessor pp;
    sg_preprocessor_init(&pp, CROP, CROP, OUT, OUT);
    const uint8_t *bases[3] = {png, jpg, prog};
    size_t lens[3] = {png_len, jpg_len, prog_len};
    const char *names[3] = {"PNG decode", "JPEG decode", "progressive JPEG decode"};
    bytes x = {0};
    static image_base ib;
    for (int b = 0; b < 3; b++) {
        tally t;
        tally_start(&t, names[b]);
        b_set(&x, bases[b], lens[b]);
        t.current = -1;
        check_image(&t, &pp, &x, NULL);
        CHECK(t.accepted == 1, "the valid %s is rejected", names[b]);
        sg_image img;
        if (sg_image_decode(bases[b], lens[b], &img, &err) || img.width != IW || img.height != IH ||
            sg_preprocess(&pp, bases[b], lens[b], ib.out, &err)) {
            CHECK(0, "the valid %s: %s", names[b], err.msg);
            continue;
        }
        memcpy(ib.rgb, img.rgb, sizeof ib.rgb);
        sg_image_free(&img);
        ib.data = bases[b];
        ib.len = lens[b];
        /* every truncation, each followed by the valid image (a JPEG cut short
         * after its tables once left TurboJPEG's decompressor unusable for the
         * thread's next image, and one cut after 3 bytes gave an undefined size) */
        for (size_t k = 0; k < lens[b]; k++) {
            b_set(&x, bases[b], k);
            t.current = (long)k;
            check_image(&t, &pp, &x, &ib);
        }
        for (long i = 0; i < 2500; i++) {
            t.current = i;
            mutate(&x, bases[b], lens[b], 0, b == 0 ? 64 : 640);
            if (b == 0 && i % 2) png_fix_crcs(&x);
            check_image(&t, &pp, &x, i % 4 ? NULL : &ib);
        }
        tally_end(&t);
    }
    /* the reduced cases of the bug above, by name */
    static const uint8_t soi_only[3] = {0xff, 0xd8, 0xff};
    sg_image img;
    err.msg[0] = 0;
    CHECK(sg_image_decode(soi_only, 3, &img, &err) == -1 && strstr(err.msg, "JPEG: no image"), "FF D8 FF: \"%s\"", err.msg);
    CHECK(sg_image_decode(jpg, 400 < jpg_len ? 400 : jpg_len / 2, &img, &err) == -1, "a JPEG cut short is accepted");
    int ok = sg_image_decode(jpg, jpg_len, &img, &err) == 0;
    CHECK(ok, "after a JPEG cut short, the valid JPEG is rejected: %s", err.msg);
    if (ok) sg_image_free(&img);
    sg_preprocessor_free(&pp);
    b_free(&x);
    free(png);
    free(jpg);
    tjFree(prog);
}

/* A copy of the JPEG `in` without the marker segments before its first SOS that
 * `cut` picks (marker, first payload byte: a DQT's or DHT's table number). */
static void jpeg_without(bytes *out, const bytes *in, int (*cut)(uint8_t marker, uint8_t first))
{
    b_set(out, in->p, 2);   /* SOI */
    size_t at = 2;
    while (at + 4 <= in->n && in->p[at] == 0xff && in->p[at + 1] != 0xda) {
        size_t seg = 2 + ((size_t)in->p[at + 2] << 8 | in->p[at + 3]);
        if (at + seg > in->n) break;
        if (!cut(in->p[at + 1], in->p[at + 4])) b_replace(out, out->n, 0, in->p + at, seg);
        at += seg;
    }
    b_replace(out, out->n, 0, in->p + at, in->n - at);
}
static int cut_dqt(uint8_t m, uint8_t first) { (void)first; return m == 0xdb; }
static int cut_dht(uint8_t m, uint8_t first) { (void)first; return m == 0xc4; }
static int cut_dqt_1(uint8_t m, uint8_t first) { return m == 0xdb && (first & 15) == 1; }
static int cut_dht_ac1(uint8_t m, uint8_t first) { return m == 0xc4 && first == 0x11; }

/* A 40x24 JPEG with a restart marker after every MCU row (libjpeg's encoder). */
static void write_restart_jpeg(bytes *out)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    unsigned char *buf = NULL;
    unsigned long len = 0;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &buf, &len);
    c.image_width = 40;
    c.image_height = 24;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    c.restart_in_rows = 1;
    jpeg_start_compress(&c, TRUE);
    uint8_t row[40 * 3];
    while (c.next_scanline < c.image_height) {
        for (int i = 0; i < 40 * 3; i++) row[i] = (uint8_t)(i * 7 + c.next_scanline * 13);
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    b_set(out, buf, len);
    free(buf);
}

/* Abbreviated JPEGs (no DQT, no DHT, or one table missing) decoded after other
 * images on the same thread: the same result as a fresh decoder's, as Pillow's
 * (a new decoder per image) would be. libjpeg writes one DQT and one DHT segment
 * per table with the standard Huffman tables (no optimisation), so without
 * DHT a fresh decoder's standard tables give the original pixels; without DQT it
 * refuses the image. Before, the thread's decoder used its previous image's
 * tables: the images decoded, with those tables' pixels. */
static void test_jpeg_tables(void)
{
    uint8_t px[IW * IH * 3], other[IW * IH * 3];
    for (int k = 0; k < IW * IH * 3; k++) {
        px[k] = (uint8_t)((k / 3 % IW) * 9 + (k / 3 / IW) * 5 + (k % 3) * 60);
        other[k] = (uint8_t)((k * 37) ^ (k / 3 / IW) * 11);
    }
    sg_err err = {{0}};
    bytes x = {0}, prev[3] = {{0}};
    uint8_t *enc = NULL;
    size_t enc_len = 0;
    CHECK(sg_jpeg_encode(px, IW, IH, 90, &enc, &enc_len, &err) == 0, "%s", err.msg);
    b_set(&x, enc, enc_len);
    free(enc);
    /* the images decoded before: other quantisation tables (quality 20); the
     * Huffman tables of a progressive JPEG (optimised per scan); x itself */
    CHECK(sg_jpeg_encode(other, IW, IH, 20, &enc, &enc_len, &err) == 0, "%s", err.msg);
    b_set(&prev[0], enc, enc_len);
    free(enc);
    tjhandle tj = tjInitCompress();
    unsigned char *pj = NULL;
    unsigned long pj_len = 0;
    CHECK(tj && tjCompress2(tj, other, IW, 0, IH, TJPF_RGB, &pj, &pj_len, TJSAMP_444, 60, TJFLAG_PROGRESSIVE) == 0,
          "progressive JPEG: %s", tj ? tjGetErrorStr2(tj) : "no compressor");
    b_set(&prev[1], pj, pj_len);
    tjFree(pj);
    tjDestroy(tj);
    b_set(&prev[2], x.p, x.n);
    /* the check that picks the thread's decoder: yes for complete JPEGs (baseline,
     * progressive, grey, restart markers, fill bytes, a JPEG inside APP1 as EXIF
     * thumbnails are), no for abbreviated or cut ones */
    for (int k = 0; k < 3; k++) CHECK(sg_jpeg_defines_its_tables(prev[k].p, prev[k].n) == 1, "image %d: not self-contained", k);
    bytes y = {0};
    write_restart_jpeg(&y);
    CHECK(y.n && sg_jpeg_defines_its_tables(y.p, y.n) == 1, "a JPEG with restart markers: not self-contained");
    fresh_result fr;
    fresh_decode(&fr, y.p, y.n);
    CHECK(fr.rc == 0 && fr.pre_rc == 0, "a JPEG with restart markers: %s", fr.rc ? fr.err.msg : fr.pre_err.msg);
    if (!fr.rc) sg_image_free(&fr.img);
    b_set(&y, x.p, x.n);
    static const uint8_t app1[] = {0xff, 0xe1, 0x00, 0x08, 0xff, 0xd8, 0xff, 0xda, 0xff, 0xd9, 0xff, 0xff};
    b_replace(&y, 2, 0, app1, sizeof app1);   /* APP1 holding SOI SOS EOI, then two fill bytes */
    CHECK(sg_jpeg_defines_its_tables(y.p, y.n) == 1, "APP1 with markers inside, fill bytes: not self-contained");
    fresh_decode(&fr, y.p, y.n);
    CHECK(fr.rc == 0 && fr.img.width == IW, "APP1 with markers inside, fill bytes: %s", fr.err.msg);
    if (!fr.rc) sg_image_free(&fr.img);
    tj = tjInitCompress();
    pj = NULL;
    CHECK(tj && tjCompress2(tj, px, IW, 0, IH, TJPF_RGB, &pj, &pj_len, TJSAMP_GRAY, 80, 0) == 0, "grey JPEG");
    CHECK(pj && sg_jpeg_defines_its_tables(pj, pj_len) == 1, "grey JPEG: not self-contained");
    tjFree(pj);
    tjDestroy(tj);
    /* cut before the end of its (only) SOS segment; after it, a cut stream may reuse
     * the thread's decoder: it defines the tables it uses, libjpeg refuses it all the same */
    size_t sos_end = 0;
    for (size_t k = 2; k + 3 < x.n && !sos_end; k++)
        if (x.p[k] == 0xff && x.p[k + 1] == 0xda) sos_end = k + 2 + ((size_t)x.p[k + 2] << 8 | x.p[k + 3]);
    CHECK(sos_end > 0, "no SOS in the JPEG");
    for (size_t k = 0; k < sos_end; k++)
        if (sg_jpeg_defines_its_tables(x.p, k)) { CHECK(0, "the JPEG cut to %zu bytes: self-contained", k); break; }
    for (size_t k = 0; k < prev[1].n - 1; k++)   /* the progressive one, cut before EOI's last byte */
        if (sg_jpeg_defines_its_tables(prev[1].p, k)) { CHECK(0, "the progressive JPEG cut to %zu bytes: self-contained", k); break; }
    b_free(&y);
    sg_image orig;
    if (sg_image_decode(x.p, x.n, &orig, &err)) { CHECK(0, "the valid JPEG: %s", err.msg); return; }

    static const struct {
        const char *name;
        int (*cut)(uint8_t, uint8_t);
        const char *fresh_msg;      /* NULL: decodes to the original pixels */
    } cases[] = {
        {"no DQT", cut_dqt, "JPEG: Quantization table 0x00 was not defined"},
        {"no DQT for table 1", cut_dqt_1, "JPEG: Quantization table 0x01 was not defined"},
        {"no DHT", cut_dht, NULL},
        {"no DHT for AC table 1", cut_dht_ac1, NULL},
    };
    sg_preprocessor pp;
    sg_preprocessor_init(&pp, CROP, CROP, OUT, OUT);
    bytes ab = {0};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        jpeg_without(&ab, &x, cases[c].cut);
        CHECK(ab.n < x.n, "%s: nothing cut", cases[c].name);
        CHECK(sg_jpeg_defines_its_tables(ab.p, ab.n) == 0, "%s: self-contained", cases[c].name);
        fresh_result f;
        fresh_decode(&f, ab.p, ab.n);
        if (cases[c].fresh_msg)
            CHECK(f.rc == -1 && strcmp(f.err.msg, cases[c].fresh_msg) == 0 && f.pre_rc == -1 &&
                  strcmp(f.pre_err.msg, cases[c].fresh_msg) == 0,
                  "%s on a fresh decoder: \"%s\", preprocess \"%s\"; want \"%s\"", cases[c].name, f.rc ? f.err.msg : "accepted",
                  f.pre_rc ? f.pre_err.msg : "accepted", cases[c].fresh_msg);
        else
            CHECK(f.rc == 0 && f.img.width == IW && f.img.height == IH && !memcmp(f.img.rgb, orig.rgb, sizeof px) && f.pre_rc == 0,
                  "%s on a fresh decoder: not the original pixels (%s)", cases[c].name, f.rc ? f.err.msg : f.pre_err.msg);
        CHECK(f.probe_rc == 0 && f.w == IW && f.h == IH, "%s: probe %dx%d \"%s\"", cases[c].name, f.w, f.h, f.probe_err.msg);
        if (!f.rc) sg_image_free(&f.img);
        for (int k = 0; k < 3; k++) {
            tally t;
            char name[80];
            snprintf(name, sizeof name, "%s after image %d", cases[c].name, k);
            tally_start(&t, name);
            sg_image img;
            uint8_t out[OUT * OUT * 3];
            int ok = sg_image_decode(prev[k].p, prev[k].n, &img, &err) == 0;
            CHECK(ok && sg_preprocess(&pp, prev[k].p, prev[k].n, out, &err) == 0, "%s: the image before: %s", name, err.msg);
            if (ok) sg_image_free(&img);
            sg_err derr = {{0}}, perr = {{0}}, prerr = {{0}};
            int w = 0, h = 0;
            int rc = sg_image_decode(ab.p, ab.n, &img, &derr);
            int probe_rc = sg_image_probe(ab.p, ab.n, &w, &h, &perr);
            int pre_rc = sg_preprocess(&pp, ab.p, ab.n, out, &prerr);
            check_same_as_fresh(&t, ab.p, ab.n, rc, &img, &derr, probe_rc, w, h, &perr, pre_rc, out, &prerr);
            if (!rc) sg_image_free(&img);
            CHECK(t.broken == 0, "%s: not what a fresh decoder gives", name);
        }
    }
    sg_image_free(&orig);
    sg_preprocessor_free(&pp);
    b_free(&ab); b_free(&x);
    for (int k = 0; k < 3; k++) b_free(&prev[k]);
}

int main(void)
{
    if (test_tmpdir_make("test_mutated")) return 1;
    sg_mt_seed_python(&rng, 20261128);
    test_engines();
    test_safetensors();
    test_safetensors_generated();
    test_checkpoint_info();
    test_json();
    test_attrs();
    test_shard();
    test_images();
    test_jpeg_tables();
    test_tmpdir_remove();
    return check_done();
}
