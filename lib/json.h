/* A strict JSON (RFC 8259) parser into a tree, typed lookups, and a small writer.
 *
 * Parsing: the whole text must be one JSON value surrounded by optional
 * whitespace; the input must be valid UTF-8; no comments, no trailing commas,
 * no unpaired surrogate escapes but \udc80..\udcff, each of which is read as
 * the byte 0x80..0xFF (how the writer keeps bytes that are not UTF-8);
 * no NaN/Infinity, no leading zeros, no control characters in strings.
 * Objects keep their keys in document order. Duplicate keys are an error by
 * default (what a safetensors header needs); JSON_KEEP_FIRST keeps the first
 * occurrence instead. Nesting deeper than max_depth is an error.
 * Numbers: always a double (num); when the literal is an integer (no fraction,
 * no exponent) that fits in int64 it is also parsed exactly into i (is_int = 1),
 * so offsets and counts beyond 2^53 survive; a literal like 1e3 or 2.0 whose value
 * is integral and at most 2^53 in magnitude also gets is_int = 1. An integer
 * literal from 0 to 2^64 - 1 is also parsed exactly into u (is_uint = 1: a
 * uint64_t seed past 2^63 - 1). A literal
 * whose magnitude overflows a double is an error.
 * Errors: "line L column C: problem" (1-based; column counts characters). The
 * caller limits the input size (e.g. sg_read_file's max_bytes).
 */
#ifndef SG_JSON_H
#define SG_JSON_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "error.h"
#include "strbuf.h"

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json_value json_value;
struct json_value {
    json_type type;
    int boolean;            /* JSON_BOOL: 0 or 1 */
    int is_int;             /* JSON_NUMBER: i holds the exact value */
    int64_t i;
    int is_uint;            /* JSON_NUMBER: an integer literal from 0 to 2^64 - 1, exact in u */
    uint64_t u;
    double num;             /* JSON_NUMBER */
    char *str;              /* JSON_STRING: UTF-8, NUL-terminated; may contain NUL (\u0000),
                             * and bytes that are not UTF-8 (from \udc80..\udcff) */
    size_t str_len;
    size_t n;               /* JSON_ARRAY / JSON_OBJECT: number of elements / members */
    json_value **items;     /* elements, or member values */
    char **keys;            /* JSON_OBJECT: member names (NUL-terminated) */
    size_t *key_lens;
};

#define JSON_DEFAULT_MAX_DEPTH 256
enum {
    JSON_KEEP_FIRST = 1,    /* duplicate keys: keep the first value instead of failing */
};

typedef struct {
    int max_depth;          /* 0: JSON_DEFAULT_MAX_DEPTH */
    int flags;              /* JSON_KEEP_FIRST */
} json_opts;

/* Where a parse failed, for callers that compose their own message
 * (e.g. "history.jsonl line 3: expected ',' or '}' at column 14"). */
typedef struct {
    long line, column;      /* 1-based */
    size_t offset;          /* byte offset */
    char what[200];         /* the problem alone */
} json_error_pos;

/* Parses text[0..len) (need not be NUL-terminated). opts and where may be NULL.
 * On success *out is a tree to free with json_free. */
int json_parse(const char *text, size_t len, const json_opts *opts, json_value **out,
               json_error_pos *where, sg_err *err);
void json_free(json_value *v);

const char *json_type_name(json_type t);     /* "null", "boolean", "number", ... */

/* Lookups: NULL when v is NULL, of another type, or has no such member/element. */
const json_value *json_get(const json_value *obj, const char *key);
const json_value *json_at(const json_value *arr, size_t index);
size_t json_len(const json_value *v);       /* elements/members; 0 for scalars */
const char *json_str(const json_value *v);   /* NULL unless a string */
static inline int json_is(const json_value *v, json_type t) { return v && v->type == t; }

/* Typed member lookups with messages: "missing key \"k\"",
 * "key \"k\": expected a string, found number", "key \"k\": expected an integer". */
int json_get_str(const json_value *obj, const char *key, const char **out, sg_err *err);
int json_get_num(const json_value *obj, const char *key, double *out, sg_err *err);
int json_get_int(const json_value *obj, const char *key, int64_t *out, sg_err *err);
/* An integer literal from 0 to 2^64 - 1 (is_uint), else "key \"k\": expected an
 * integer from 0 to 18446744073709551615". */
int json_get_u64(const json_value *obj, const char *key, uint64_t *out, sg_err *err);
int json_get_bool(const json_value *obj, const char *key, int *out, sg_err *err);
int json_get_array(const json_value *obj, const char *key, const json_value **out, sg_err *err);
int json_get_object(const json_value *obj, const char *key, const json_value **out, sg_err *err);

/* Writer. Strings are written quoted and escaped (", \, control characters).
 * A byte that is not part of valid UTF-8 (a Latin-1 name) is written as the
 * escape \udcXX (XX: the byte, 80..ff), Python's "surrogateescape" (PEP
 * 383): the output stays valid JSON text, json_parse reads the byte back, and
 * so does Python (json.loads, then .encode(errors="surrogateescape")). */
int json_buf_cstr(sg_buf *b, const char *s);
/* Numbers that round-trip: %.17g for double (with an exponent, %.16e, for one
 * past 2^53 below 1e17, which json_parse would read back as an exact integer),
 * %.9g for float; non-finite -> null. */
int json_buf_double(sg_buf *b, double d);
int json_buf_float(sg_buf *b, float f);
/* Writes a whole tree compactly (",", ":", no spaces): config.json's
 * "sessions" entries kept as they were read (lib/trainer.c), and tests. */
int json_buf_value(sg_buf *b, const json_value *v);
/* json_buf_cstr to a FILE*: 0, or -1 if writing failed. */
int json_write_string(FILE *f, const char *s);

#endif
