#include "json.h"
#include "json_testing.h"
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

typedef struct {
    const char *text;
    size_t len, pos;
    int max_depth, flags;
    const char *what;       /* first error (static message) */
    char what_buf[160];     /* or a formatted one */
    size_t err_pos;
    int failed;
} parser;

static int fail_at(parser *p, size_t pos, const char *what)
{
    if (!p->failed) { p->failed = 1; p->err_pos = pos; p->what = what; }
    return -1;
}

static int fail_fmt(parser *p, size_t pos, const char *fmt, const char *arg)
{
    if (!p->failed) {
        snprintf(p->what_buf, sizeof p->what_buf, fmt, arg);
        fail_at(p, pos, p->what_buf);
    }
    return -1;
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len) {
        char c = p->text[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

/* "expected WHAT" at p->pos, or "unexpected end of input: expected WHAT" there past the end. */
static int fail_expected(parser *p, const char *what)
{
    return fail_fmt(p, p->pos, p->pos < p->len ? "expected %s" : "unexpected end of input: expected %s", what);
}

/* After an element of an array or object: skips ',' (1: another element follows) or
 * the closing bracket (0: the container ends); anything else fails (-1). */
static int after_element(parser *p, char close, const char *expected)
{
    skip_ws(p);
    if (p->pos < p->len && p->text[p->pos] == ',') { p->pos++; return 1; }
    if (p->pos < p->len && p->text[p->pos] == close) { p->pos++; return 0; }
    return fail_expected(p, expected);
}

static json_value *new_value(json_type t)
{
    json_value *v = calloc(1, sizeof *v);
    if (v) v->type = t;
    return v;
}

void json_free(json_value *v)
{
    if (!v) return;
    free(v->str);
    for (size_t k = 0; k < v->n; k++) {
        json_free(v->items[k]);
        if (v->keys) free(v->keys[k]);
    }
    free(v->items);
    free(v->keys);
    free(v->key_lens);
    free(v);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if invalid
 * (overlong forms, surrogates and code points above U+10FFFF are invalid). */
static size_t utf8_seq_len(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) { if (cp) *cp = c; return 1; }
    else if ((c & 0xE0) == 0xC0) { len = 2; v = c & 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { len = 3; v = c & 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { len = 4; v = c & 0x07; min = 0x10000; }
    else return 0;
    if (len > n) return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[k] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    if (cp) *cp = v;
    return len;
}

static int put_utf8(sg_buf *b, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) { u[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { u[0] = (char)(0xC0 | (cp >> 6)); u[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12)); u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18)); u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); u[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
    }
    return sg_buf_append(b, u, n);
}

static int hex4(parser *p, size_t at, uint32_t *out)
{
    uint32_t v = 0;
    if (at + 4 > p->len) return fail_at(p, at, "expected 4 hex digits after \\u");
    for (int k = 0; k < 4; k++) {
        char c = p->text[at + k];
        int d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return fail_at(p, at + k, "expected 4 hex digits after \\u");
        v = v * 16 + (uint32_t)d;
    }
    *out = v;
    return 0;
}

/* Parses a string starting at the opening quote into a malloc'd NUL-terminated copy. */
static int parse_string(parser *p, char **out, size_t *out_len)
{
    sg_buf b = SG_BUF_INIT;
    p->pos++;   /* opening quote */
    for (;;) {
        if (p->pos >= p->len) { sg_buf_free(&b); return fail_at(p, p->pos, "unterminated string"); }
        unsigned char c = (unsigned char)p->text[p->pos];
        if (c == '"') { p->pos++; break; }
        if (c < 0x20) { sg_buf_free(&b); return fail_at(p, p->pos, "control character in string (must be escaped)"); }
        if (c == '\\') {
            size_t at = p->pos;
            if (at + 1 >= p->len) { sg_buf_free(&b); return fail_at(p, at, "unterminated string"); }
            char e = p->text[at + 1];
            char lit = 0;
            switch (e) {
            case '"': lit = '"'; break;
            case '\\': lit = '\\'; break;
            case '/': lit = '/'; break;
            case 'b': lit = '\b'; break;
            case 'f': lit = '\f'; break;
            case 'n': lit = '\n'; break;
            case 'r': lit = '\r'; break;
            case 't': lit = '\t'; break;
            case 'u': {
                uint32_t cp;
                if (hex4(p, at + 2, &cp) != 0) { sg_buf_free(&b); return -1; }
                p->pos = at + 6;
                /* a lone \udc80..\udcff is a byte that was not UTF-8 (the
                 * writer's, PEP 383's surrogateescape): the byte again */
                if (cp >= 0xDC80 && cp <= 0xDCFF) { sg_buf_putc(&b, (char)(cp & 0xFF)); continue; }
                if (cp >= 0xDC00 && cp <= 0xDFFF) { sg_buf_free(&b); return fail_at(p, at, "unpaired low surrogate in \\u escape"); }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    uint32_t lo;
                    if (p->pos + 1 >= p->len || p->text[p->pos] != '\\' || p->text[p->pos + 1] != 'u') {
                        sg_buf_free(&b); return fail_at(p, at, "unpaired high surrogate in \\u escape");
                    }
                    if (hex4(p, p->pos + 2, &lo) != 0) { sg_buf_free(&b); return -1; }
                    if (lo < 0xDC00 || lo > 0xDFFF) { sg_buf_free(&b); return fail_at(p, at, "unpaired high surrogate in \\u escape"); }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p->pos += 6;
                }
                put_utf8(&b, cp);
                continue;
            }
            default:
                sg_buf_free(&b);
                return fail_at(p, at, "invalid escape in string");
            }
            sg_buf_putc(&b, lit);
            p->pos = at + 2;
            continue;
        }
        /* Copy a run of plain bytes, validating UTF-8. */
        size_t start = p->pos;
        while (p->pos < p->len) {
            unsigned char d = (unsigned char)p->text[p->pos];
            if (d == '"' || d == '\\' || d < 0x20) break;
            if (d < 0x80) { p->pos++; continue; }
            size_t k = utf8_seq_len((const unsigned char *)p->text + p->pos, p->len - p->pos, NULL);
            if (!k) { sg_buf_free(&b); return fail_at(p, p->pos, "invalid UTF-8 in string"); }
            p->pos += k;
        }
        sg_buf_append(&b, p->text + start, p->pos - start);
    }
    if (b.failed) { sg_buf_free(&b); return fail_at(p, p->pos, "out of memory"); }
    *out = sg_buf_take(&b, out_len);
    if (!*out) return fail_at(p, p->pos, "out of memory");
    return 0;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int parse_number(parser *p, json_value *v)
{
    size_t start = p->pos, i = p->pos;
    int integral = 1;
    if (i < p->len && p->text[i] == '-') i++;
    if (i >= p->len || !is_digit(p->text[i])) return fail_at(p, i, "invalid number");
    if (p->text[i] == '0') {
        i++;
        if (i < p->len && is_digit(p->text[i])) return fail_at(p, start, "invalid number (leading zero)");
    } else {
        while (i < p->len && is_digit(p->text[i])) i++;
    }
    if (i < p->len && p->text[i] == '.') {
        integral = 0;
        i++;
        if (i >= p->len || !is_digit(p->text[i])) return fail_at(p, i, "invalid number (expected a digit after '.')");
        while (i < p->len && is_digit(p->text[i])) i++;
    }
    if (i < p->len && (p->text[i] == 'e' || p->text[i] == 'E')) {
        integral = 0;
        i++;
        if (i < p->len && (p->text[i] == '+' || p->text[i] == '-')) i++;
        if (i >= p->len || !is_digit(p->text[i])) return fail_at(p, i, "invalid number (expected a digit in the exponent)");
        while (i < p->len && is_digit(p->text[i])) i++;
    }
    size_t n = i - start;
    char small[64], *copy = n < sizeof small ? small : malloc(n + 1);
    if (!copy) return fail_at(p, start, "out of memory");
    memcpy(copy, p->text + start, n);
    copy[n] = 0;
    errno = 0;
    double d = strtod(copy, NULL);
    int range = errno == ERANGE && isinf(d);
    if (integral) {
        /* Exact int64 from the digits (strtod would round beyond 2^53). */
        const char *s = copy;
        int neg = *s == '-';
        if (neg) s++;
        uint64_t mag = 0;
        int overflow = 0;
        for (; *s; s++) {
            unsigned dig = (unsigned)(*s - '0');
            if (mag > (UINT64_MAX - dig) / 10) { overflow = 1; break; }
            mag = mag * 10 + dig;
        }
        if (!overflow && !neg) {
            v->is_uint = 1;
            v->u = mag;
        }
        if (!overflow && (neg ? mag <= (uint64_t)INT64_MAX + 1 : mag <= (uint64_t)INT64_MAX)) {
            v->is_int = 1;
            v->i = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
        }
    }
    if (copy != small) free(copy);
    if (range) return fail_at(p, start, "number out of range");
    if (!v->is_int && d == floor(d) && fabs(d) <= 9007199254740992.0) {
        v->is_int = 1;
        v->i = (int64_t)d;
    }
    v->num = d;
    p->pos = i;
    return 0;
}

static int match_word(parser *p, const char *w)
{
    size_t n = strlen(w);
    if (p->len - p->pos < n || memcmp(p->text + p->pos, w, n) != 0) return 0;
    p->pos += n;
    return 1;
}

static int grow(json_value *v, size_t *cap, int with_keys)
{
    if (v->n < *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 4;
    json_value **items = realloc(v->items, nc * sizeof *items);
    if (!items) return -1;
    v->items = items;
    if (with_keys) {
        char **keys = realloc(v->keys, nc * sizeof *keys);
        if (!keys) return -1;
        v->keys = keys;
        size_t *lens = realloc(v->key_lens, nc * sizeof *lens);
        if (!lens) return -1;
        v->key_lens = lens;
    }
    *cap = nc;
    return 0;
}

static json_value *parse_value(parser *p, int depth);
typedef struct key_index key_index;
static json_value *parse_members(parser *p, int depth, json_value *v, key_index *ix);

static json_value *parse_array(parser *p, int depth)
{
    json_value *v = new_value(JSON_ARRAY);
    size_t cap = 0;
    if (!v) { fail_at(p, p->pos, "out of memory"); return NULL; }
    p->pos++;   /* [ */
    skip_ws(p);
    if (p->pos < p->len && p->text[p->pos] == ']') { p->pos++; return v; }
    for (;;) {
        skip_ws(p);
        json_value *e = parse_value(p, depth + 1);
        if (!e) { json_free(v); return NULL; }
        if (grow(v, &cap, 0) != 0) { json_free(e); json_free(v); fail_at(p, p->pos, "out of memory"); return NULL; }
        v->items[v->n++] = e;
        int more = after_element(p, ']', "',' or ']'");
        if (more < 0) { json_free(v); return NULL; }
        if (!more) return v;
    }
}

/* ---- duplicate keys ----
 * Comparing each key with every earlier one is quadratic: 80k keys (a 7 MB
 * safetensors header; one may be 100 MB) took seconds, a hostile one hours. So an
 * object that reaches KEY_INDEX_MIN members gets an open-addressing table of its
 * members (load at most 1/2), used only while it is parsed. Keys are hashed with
 * SipHash-1-3 under a random per-process key, so that keys chosen to collide
 * cannot make the table quadratic again; the results never depend on the key. */
enum { KEY_INDEX_MIN = 8 };

typedef struct {
    size_t member_plus1;    /* 0: empty slot */
    uint64_t hash;
} key_slot;

struct key_index {
    key_slot *slots;        /* NULL: below KEY_INDEX_MIN members, keys compared one by one */
    size_t mask;            /* slots - 1 (a power of two) */
};

static uint64_t sip_key[2];
static pthread_once_t sip_key_once = PTHREAD_ONCE_INIT;

static void sip_key_init(void)
{
    if (getrandom(sip_key, sizeof sip_key, GRND_NONBLOCK) != (ssize_t)sizeof sip_key) {
        /* no entropy yet (early boot): the addresses still differ per run under ASLR */
        sip_key[0] = (uint64_t)(uintptr_t)&sip_key ^ 0x9e3779b97f4a7c15u;
        sip_key[1] = (uint64_t)(uintptr_t)&sip_key_init * 0xbf58476d1ce4e5b9u;
    }
}

#define ROTL64(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIP_ROUND(v0, v1, v2, v3) do { \
        v0 += v1; v1 = ROTL64(v1, 13); v1 ^= v0; v0 = ROTL64(v0, 32); \
        v2 += v3; v3 = ROTL64(v3, 16); v3 ^= v2; \
        v0 += v3; v3 = ROTL64(v3, 21); v3 ^= v0; \
        v2 += v1; v1 = ROTL64(v1, 17); v1 ^= v2; v2 = ROTL64(v2, 32); \
    } while (0)

/* SipHash-1-3 (one compression round per 8-byte word, three finalisation rounds). */
static uint64_t key_hash(const char *s, size_t n)
{
    const unsigned char *b = (const unsigned char *)s;
    uint64_t v0 = sip_key[0] ^ 0x736f6d6570736575u, v1 = sip_key[1] ^ 0x646f72616e646f6du;
    uint64_t v2 = sip_key[0] ^ 0x6c7967656e657261u, v3 = sip_key[1] ^ 0x7465646279746573u;
    size_t whole = n & ~(size_t)7;
    for (size_t k = 0; k < whole; k += 8) {
        uint64_t m = 0;
        for (int j = 7; j >= 0; j--) m = m << 8 | b[k + (size_t)j];   /* little-endian */
        v3 ^= m;
        SIP_ROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    uint64_t m = (uint64_t)(n & 0xff) << 56;
    for (size_t j = 0; j < (n & 7); j++) m |= (uint64_t)b[whole + j] << (8 * j);
    v3 ^= m;
    SIP_ROUND(v0, v1, v2, v3);
    v0 ^= m;
    v2 ^= 0xff;
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

static void key_index_put(key_index *ix, size_t member, uint64_t hash)
{
    size_t at = (size_t)hash & ix->mask;
    while (ix->slots[at].member_plus1) at = (at + 1) & ix->mask;
    ix->slots[at].member_plus1 = member + 1;
    ix->slots[at].hash = hash;
}

/* (Re)builds the table for v's members with at least 4 slots per member. */
static int key_index_build(key_index *ix, const json_value *v)
{
    size_t n_slots = 4 * KEY_INDEX_MIN;
    while (n_slots < 4 * v->n) n_slots *= 2;
    key_slot *slots = calloc(n_slots, sizeof *slots);
    if (!slots) return -1;
    if (!ix->slots) pthread_once(&sip_key_once, sip_key_init);
    free(ix->slots);
    ix->slots = slots;
    ix->mask = n_slots - 1;
    for (size_t k = 0; k < v->n; k++) key_index_put(ix, k, key_hash(v->keys[k], v->key_lens[k]));
    return 0;
}

/* Whether v already has a member named key; *hash is set when the table is in use. */
static int has_key(const json_value *v, const key_index *ix, const char *key, size_t key_len, uint64_t *hash)
{
    if (!ix->slots) {
        for (size_t k = 0; k < v->n; k++)
            if (v->key_lens[k] == key_len && memcmp(v->keys[k], key, key_len) == 0) return 1;
        return 0;
    }
    *hash = key_hash(key, key_len);
    for (size_t at = (size_t)*hash & ix->mask; ix->slots[at].member_plus1; at = (at + 1) & ix->mask) {
        size_t k = ix->slots[at].member_plus1 - 1;
        if (ix->slots[at].hash == *hash && v->key_lens[k] == key_len && memcmp(v->keys[k], key, key_len) == 0) return 1;
    }
    return 0;
}

/* After member v->n - 1 was appended (its hash in `hash` when the table is in use). */
static int key_index_add(key_index *ix, const json_value *v, uint64_t hash)
{
    if (!ix->slots) return v->n >= KEY_INDEX_MIN ? key_index_build(ix, v) : 0;
    if (2 * v->n > ix->mask + 1) return key_index_build(ix, v);
    key_index_put(ix, v->n - 1, hash);
    return 0;
}

static json_value *parse_object(parser *p, int depth)
{
    json_value *v = new_value(JSON_OBJECT);
    if (!v) { fail_at(p, p->pos, "out of memory"); return NULL; }
    key_index ix = {NULL, 0};
    json_value *r = parse_members(p, depth, v, &ix);
    free(ix.slots);
    return r;
}

/* The members of the object v, whose '{' is at p->pos; v is freed on failure. */
static json_value *parse_members(parser *p, int depth, json_value *v, key_index *ix)
{
    size_t cap = 0;
    p->pos++;   /* { */
    skip_ws(p);
    if (p->pos < p->len && p->text[p->pos] == '}') { p->pos++; return v; }
    for (;;) {
        skip_ws(p);
        if (p->pos >= p->len || p->text[p->pos] != '"') {
            fail_expected(p, "a string key");
            json_free(v); return NULL;
        }
        size_t key_pos = p->pos;
        char *key; size_t key_len;
        if (parse_string(p, &key, &key_len) != 0) { json_free(v); return NULL; }
        skip_ws(p);
        if (p->pos >= p->len || p->text[p->pos] != ':') {
            free(key); json_free(v);
            fail_expected(p, "':'");
            return NULL;
        }
        p->pos++;
        skip_ws(p);
        json_value *e = parse_value(p, depth + 1);
        if (!e) { free(key); json_free(v); return NULL; }
        uint64_t hash = 0;
        if (has_key(v, ix, key, key_len, &hash)) {
            if (!(p->flags & JSON_KEEP_FIRST)) {
                fail_fmt(p, key_pos, "duplicate key \"%s\"", sg_quote_bytes(key, key_len).s);
                free(key); json_free(e); json_free(v);
                return NULL;
            }
            free(key); json_free(e);
        } else {
            if (grow(v, &cap, 1) != 0) { free(key); json_free(e); json_free(v); fail_at(p, p->pos, "out of memory"); return NULL; }
            v->keys[v->n] = key;
            v->key_lens[v->n] = key_len;
            v->items[v->n++] = e;
            if (key_index_add(ix, v, hash) != 0) { json_free(v); fail_at(p, p->pos, "out of memory"); return NULL; }
        }
        int more = after_element(p, '}', "',' or '}'");
        if (more < 0) { json_free(v); return NULL; }
        if (!more) return v;
    }
}

static json_value *parse_value(parser *p, int depth)
{
    if (p->pos >= p->len) { fail_at(p, p->pos, "unexpected end of input: expected a value"); return NULL; }
    char c = p->text[p->pos];
    if ((c == '[' || c == '{') && depth >= p->max_depth) {
        fail_at(p, p->pos, "nesting too deep");
        return NULL;
    }
    json_value *v;
    switch (c) {
    case '{': return parse_object(p, depth);
    case '[': return parse_array(p, depth);
    case '"':
        v = new_value(JSON_STRING);
        if (!v) { fail_at(p, p->pos, "out of memory"); return NULL; }
        if (parse_string(p, &v->str, &v->str_len) != 0) { json_free(v); return NULL; }
        return v;
    case 't': case 'f': case 'n': {
        size_t at = p->pos;
        json_type t = c == 'n' ? JSON_NULL : JSON_BOOL;
        int ok = match_word(p, c == 't' ? "true" : c == 'f' ? "false" : "null");
        if (!ok) { fail_at(p, at, "invalid literal (expected true, false or null)"); return NULL; }
        v = new_value(t);
        if (!v) { fail_at(p, at, "out of memory"); return NULL; }
        v->boolean = c == 't';
        return v;
    }
    default:
        if (c == '-' || is_digit(c)) {
            v = new_value(JSON_NUMBER);
            if (!v) { fail_at(p, p->pos, "out of memory"); return NULL; }
            if (parse_number(p, v) != 0) { json_free(v); return NULL; }
            return v;
        }
        fail_at(p, p->pos, "expected a value");
        return NULL;
    }
}

int json_parse(const char *text, size_t len, const json_opts *opts, json_value **out,
               json_error_pos *where, sg_err *err)
{
    parser p = {0};
    p.text = text;
    p.len = len;
    p.max_depth = opts && opts->max_depth > 0 ? opts->max_depth : JSON_DEFAULT_MAX_DEPTH;
    p.flags = opts ? opts->flags : 0;
    *out = NULL;
    skip_ws(&p);
    json_value *v = NULL;
    if (p.pos >= p.len) fail_at(&p, p.pos, "empty input: expected a JSON value");
    else {
        v = parse_value(&p, 0);
        if (v) {
            skip_ws(&p);
            if (p.pos < p.len) { fail_at(&p, p.pos, "unexpected data after the JSON value"); json_free(v); v = NULL; }
        }
    }
    if (v) { *out = v; return 0; }
    /* Position: lines counted by '\n', columns in characters (UTF-8 lead bytes). */
    long line = 1, column = 1;
    for (size_t k = 0; k < p.err_pos && k < len; k++) {
        unsigned char c = (unsigned char)text[k];
        if (c == '\n') { line++; column = 1; }
        else if ((c & 0xC0) != 0x80) column++;
    }
    if (where) {
        where->line = line;
        where->column = column;
        where->offset = p.err_pos;
        snprintf(where->what, sizeof where->what, "%s", p.what);
    }
    return sg_errf(err, "line %ld column %ld: %s", line, column, p.what);
}

const char *json_type_name(json_type t)
{
    switch (t) {
    case JSON_NULL: return "null";
    case JSON_BOOL: return "boolean";
    case JSON_NUMBER: return "number";
    case JSON_STRING: return "string";
    case JSON_ARRAY: return "array";
    case JSON_OBJECT: return "object";
    }
    return "?";
}

const json_value *json_get(const json_value *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJECT) return NULL;
    size_t n = strlen(key);
    for (size_t k = 0; k < obj->n; k++)
        if (obj->key_lens[k] == n && memcmp(obj->keys[k], key, n) == 0) return obj->items[k];
    return NULL;
}

const json_value *json_at(const json_value *arr, size_t index)
{
    if (!arr || arr->type != JSON_ARRAY || index >= arr->n) return NULL;
    return arr->items[index];
}

size_t json_len(const json_value *v)
{
    return v && (v->type == JSON_ARRAY || v->type == JSON_OBJECT) ? v->n : 0;
}

const char *json_str(const json_value *v) { return v && v->type == JSON_STRING ? v->str : NULL; }

static int get_typed(const json_value *obj, const char *key, json_type t, const json_value **out, sg_err *err)
{
    *out = NULL;
    if (!obj || obj->type != JSON_OBJECT) return sg_errf(err, "expected an object");
    const json_value *v = json_get(obj, key);
    if (!v) return sg_errf(err, "missing key \"%s\"", key);
    if (v->type != t) {
        const char *want = json_type_name(t);
        int an = t == JSON_ARRAY || t == JSON_OBJECT;
        return sg_errf(err, "key \"%s\": expected a%s %s, found %s", key, an ? "n" : "", want, json_type_name(v->type));
    }
    *out = v;
    return 0;
}

int json_get_str(const json_value *obj, const char *key, const char **out, sg_err *err)
{
    const json_value *v;
    if (get_typed(obj, key, JSON_STRING, &v, err) != 0) return -1;
    *out = v->str;
    return 0;
}

int json_get_num(const json_value *obj, const char *key, double *out, sg_err *err)
{
    const json_value *v;
    if (get_typed(obj, key, JSON_NUMBER, &v, err) != 0) return -1;
    *out = v->num;
    return 0;
}

int json_get_int(const json_value *obj, const char *key, int64_t *out, sg_err *err)
{
    const json_value *v;
    if (get_typed(obj, key, JSON_NUMBER, &v, err) != 0) return -1;
    if (!v->is_int) return sg_errf(err, "key \"%s\": expected an integer", key);
    *out = v->i;
    return 0;
}

int json_get_u64(const json_value *obj, const char *key, uint64_t *out, sg_err *err)
{
    const json_value *v;
    if (get_typed(obj, key, JSON_NUMBER, &v, err) != 0) return -1;
    if (!v->is_uint)
        return sg_errf(err, "key \"%s\": expected an integer from 0 to %llu", key, (unsigned long long)UINT64_MAX);
    *out = v->u;
    return 0;
}

int json_get_bool(const json_value *obj, const char *key, int *out, sg_err *err)
{
    const json_value *v;
    if (get_typed(obj, key, JSON_BOOL, &v, err) != 0) return -1;
    *out = v->boolean;
    return 0;
}

int json_get_array(const json_value *obj, const char *key, const json_value **out, sg_err *err)
{
    return get_typed(obj, key, JSON_ARRAY, out, err);
}

int json_get_object(const json_value *obj, const char *key, const json_value **out, sg_err *err)
{
    return get_typed(obj, key, JSON_OBJECT, out, err);
}

/* ---- writer ---- */

int json_buf_string(sg_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    sg_buf_putc(b, '"');
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') { char e[2] = {'\\', (char)c}; sg_buf_append(b, e, 2); i++; }
        else if (c < 0x20) {
            const char *e = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" :
                            c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
            if (e) sg_buf_puts(b, e);
            else { char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]}; sg_buf_append(b, u, 6); }
            i++;
        } else if (c < 0x80) {
            size_t start = i;
            while (i < len && (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x80 && s[i] != '"' && s[i] != '\\') i++;
            sg_buf_append(b, s + start, i - start);
        } else {
            size_t k = utf8_seq_len((const unsigned char *)s + i, len - i, NULL);
            if (k) { sg_buf_append(b, s + i, k); i += k; }
            else {   /* a byte that is no UTF-8 (a Latin-1 file name): \udcXX, read back as the byte */
                char u[6] = {'\\', 'u', 'd', 'c', hex[c >> 4], hex[c & 15]};
                sg_buf_append(b, u, 6);
                i++;
            }
        }
    }
    sg_buf_putc(b, '"');
    return b->failed ? -1 : 0;
}

int json_buf_cstr(sg_buf *b, const char *s) { return json_buf_string(b, s, strlen(s)); }

int json_buf_double(sg_buf *b, double d)
{
    if (!isfinite(d)) return sg_buf_puts(b, "null");
    /* %.17g writes a double past 2^53 but below 1e17 as digits alone, which
     * json_parse reads as an exact integer (is_int): json_buf_value turned a
     * number that was no integer into one. The exponent keeps it a double. */
    if (fabs(d) > 9007199254740992.0 && fabs(d) < 1e17) return sg_buf_appendf(b, "%.16e", d);
    return sg_buf_appendf(b, "%.17g", d);
}

int json_buf_float(sg_buf *b, float f)
{
    if (!isfinite(f)) return sg_buf_puts(b, "null");
    return sg_buf_appendf(b, "%.9g", (double)f);
}

int json_buf_value(sg_buf *b, const json_value *v)
{
    switch (v->type) {
    case JSON_NULL: return sg_buf_puts(b, "null");
    case JSON_BOOL: return sg_buf_puts(b, v->boolean ? "true" : "false");
    case JSON_NUMBER:
        if (v->is_int) return sg_buf_appendf(b, "%lld", (long long)v->i);
        if (v->is_uint) return sg_buf_appendf(b, "%llu", (unsigned long long)v->u);
        return json_buf_double(b, v->num);
    case JSON_STRING: return json_buf_string(b, v->str, v->str_len);
    case JSON_ARRAY:
        sg_buf_putc(b, '[');
        for (size_t k = 0; k < v->n; k++) {
            if (k) sg_buf_putc(b, ',');
            json_buf_value(b, v->items[k]);
        }
        return sg_buf_putc(b, ']');
    case JSON_OBJECT:
        sg_buf_putc(b, '{');
        for (size_t k = 0; k < v->n; k++) {
            if (k) sg_buf_putc(b, ',');
            json_buf_string(b, v->keys[k], v->key_lens[k]);
            sg_buf_putc(b, ':');
            json_buf_value(b, v->items[k]);
        }
        return sg_buf_putc(b, '}');
    }
    return -1;
}

static int write_buf(FILE *f, sg_buf *b, int rc)
{
    if (rc == 0 && fwrite(b->data, 1, b->len, f) != b->len) rc = -1;
    sg_buf_free(b);
    return rc;
}

int json_write_string(FILE *f, const char *s)
{
    sg_buf b = SG_BUF_INIT;
    return write_buf(f, &b, json_buf_cstr(&b, s));
}
