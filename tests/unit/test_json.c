/* JSON parser, lookups, writer and sg_buf. */
#include "check.h"
#include "json.h"
#include "json_testing.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_value *parse(const char *s, sg_err *err)
{
    json_value *v = NULL;
    if (json_parse(s, strlen(s), NULL, &v, NULL, err) != 0) return NULL;
    return v;
}

/* Expects a parse failure whose message is exactly `want`. */
static void expect_error(const char *text, const char *want)
{
    sg_err err = {{0}};
    json_value *v = NULL;
    int rc = json_parse(text, strlen(text), NULL, &v, NULL, &err);
    CHECK(rc == -1 && v == NULL, "parse of %s should fail", text);
    CHECK(strcmp(err.msg, want) == 0, "parse of %s: got message '%s', want '%s'", text, err.msg, want);
    json_free(v);
}

static void test_valid(void)
{
    sg_err err = {{0}};
    const char *doc = "{\"b\": [1, 2.5, -3e2, true, false, null], \"a\": {\"x\": \"y\"}, \"\": 0}";
    json_value *v = parse(doc, &err);
    CHECK(v != NULL, "valid doc: %s", err.msg);
    if (!v) return;
    CHECK(v->type == JSON_OBJECT && v->n == 3, "object with 3 members");
    CHECK(strcmp(v->keys[0], "b") == 0 && strcmp(v->keys[1], "a") == 0 && strcmp(v->keys[2], "") == 0,
          "keys keep document order");
    const json_value *b = json_get(v, "b");
    CHECK(json_len(b) == 6, "array length %zu", json_len(b));
    CHECK(json_at(b, 0)->is_int && json_at(b, 0)->i == 1, "1 is an int");
    CHECK(!json_at(b, 1)->is_int && json_at(b, 1)->num == 2.5, "2.5");
    CHECK(json_at(b, 2)->is_int && json_at(b, 2)->i == -300 && json_at(b, 2)->num == -300.0, "-3e2 integral");
    CHECK(json_at(b, 3)->type == JSON_BOOL && json_at(b, 3)->boolean == 1, "true");
    CHECK(json_at(b, 4)->type == JSON_BOOL && json_at(b, 4)->boolean == 0, "false");
    CHECK(json_at(b, 5)->type == JSON_NULL, "null");
    CHECK(json_at(b, 6) == NULL, "out of range index -> NULL");
    CHECK(strcmp(json_str(json_get(json_get(v, "a"), "x")), "y") == 0, "nested lookup");
    CHECK(json_get(v, "missing") == NULL, "missing key -> NULL");
    CHECK(json_get(b, "x") == NULL && json_at(v, 0) == NULL, "wrong-type lookups -> NULL");
    CHECK(json_get(v, "")->is_int, "empty key");

    const char *s; double d; int64_t i; int bo; const json_value *arr;
    CHECK(json_get_str(json_get(v, "a"), "x", &s, &err) == 0 && strcmp(s, "y") == 0, "json_get_str");
    CHECK(json_get_array(v, "b", &arr, &err) == 0 && arr == b, "json_get_array");
    CHECK(json_get_num(v, "a", &d, &err) == -1 && strcmp(err.msg, "key \"a\": expected a number, found object") == 0,
          "type error message: %s", err.msg);
    CHECK(json_get_int(v, "nope", &i, &err) == -1 && strcmp(err.msg, "missing key \"nope\"") == 0, "missing: %s", err.msg);
    CHECK(json_get_bool(v, "b", &bo, &err) == -1 && strstr(err.msg, "expected a boolean, found array"), "%s", err.msg);
    json_free(v);

    /* Scalars at top level, surrounding whitespace. */
    v = parse(" \t\r\n\"top\" \n", &err);
    CHECK(v && v->type == JSON_STRING && strcmp(v->str, "top") == 0, "top-level string");
    json_free(v);
    v = parse("0", &err);
    CHECK(v && v->is_int && v->i == 0, "0");
    json_free(v);
    v = parse("-0.0", &err);
    CHECK(v && v->num == 0 && signbit(v->num), "-0.0 keeps its sign");
    json_free(v);
    v = parse("[[], {}, [[]]]", &err);
    CHECK(v && v->n == 3 && json_len(json_at(v, 0)) == 0 && json_at(v, 1)->type == JSON_OBJECT, "empty containers");
    json_free(v);
    v = parse("1.5e-3", &err);
    CHECK(v && fabs(v->num - 1.5e-3) == 0, "1.5e-3");
    json_free(v);
}

static void test_numbers(void)
{
    sg_err err = {{0}};
    /* Safetensors offsets: integers beyond 2^53 must be exact. */
    json_value *v = parse("[9007199254740993, 9223372036854775807, -9223372036854775808, "
                          "9223372036854775808, 18446744073709551616, 2.0, 1e3, 1e300]", &err);
    CHECK(v != NULL, "big numbers: %s", err.msg);
    if (!v) return;
    CHECK(json_at(v, 0)->is_int && json_at(v, 0)->i == 9007199254740993LL, "2^53+1 exact: %lld", (long long)json_at(v, 0)->i);
    CHECK(json_at(v, 1)->is_int && json_at(v, 1)->i == INT64_MAX, "INT64_MAX");
    CHECK(json_at(v, 2)->is_int && json_at(v, 2)->i == INT64_MIN, "INT64_MIN");
    CHECK(!json_at(v, 3)->is_int && json_at(v, 3)->num == 9223372036854775808.0, "2^63 is not an int64");
    CHECK(!json_at(v, 4)->is_int, "2^64 is not an int64");
    CHECK(json_at(v, 5)->is_int && json_at(v, 5)->i == 2, "2.0 integral");
    CHECK(json_at(v, 6)->is_int && json_at(v, 6)->i == 1000, "1e3 integral");
    CHECK(!json_at(v, 7)->is_int && json_at(v, 7)->num == 1e300, "1e300 not exact as int");
    int64_t i;
    CHECK(json_get_int(v, "x", &i, &err) == -1, "json_get_int on an array fails");
    json_free(v);
    v = parse("{\"off\": 0.5}", &err);
    CHECK(v && json_get_int(v, "off", &i, &err) == -1 && strcmp(err.msg, "key \"off\": expected an integer") == 0,
          "non-integer: %s", err.msg);
    json_free(v);
    v = parse("{\"off\": 123456789012345}", &err);
    CHECK(v && json_get_int(v, "off", &i, &err) == 0 && i == 123456789012345LL, "json_get_int");
    json_free(v);
}

static void test_strings(void)
{
    sg_err err = {{0}};
    json_value *v = parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20ac\\ud83d\\ude00\"", &err);
    CHECK(v != NULL, "escapes: %s", err.msg);
    if (v) {
        const char *want = "a\"b\\c/d\b\f\n\r\tA\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
        CHECK(v->str_len == strlen(want) && memcmp(v->str, want, v->str_len) == 0, "escapes decode to UTF-8");
    }
    json_free(v);
    v = parse("\"x\\u0000y\"", &err);
    CHECK(v && v->str_len == 3 && v->str[1] == 0 && v->str[2] == 'y', "\\u0000 kept with its length");
    json_free(v);
    v = parse("\"caf\xC3\xA9 \xF0\x9F\x98\x80\"", &err);
    CHECK(v && v->str_len == 10, "raw UTF-8 passes through");
    json_free(v);
}

static void test_invalid(void)
{
    expect_error("", "line 1 column 1: empty input: expected a JSON value");
    expect_error("  \n ", "line 2 column 2: empty input: expected a JSON value");
    expect_error("{\"a\": 1,\n \"b\": 2\n \"c\": 3}", "line 3 column 2: expected ',' or '}'");
    expect_error("{\"a\": 1 \"b\": 2}", "line 1 column 9: expected ',' or '}'");
    expect_error("[1, 2", "line 1 column 6: unexpected end of input: expected ',' or ']'");
    expect_error("[1, 2,]", "line 1 column 7: expected a value");
    expect_error("{\"a\": 1,}", "line 1 column 9: expected a string key");
    expect_error("{a: 1}", "line 1 column 2: expected a string key");
    expect_error("{\"a\" 1}", "line 1 column 6: expected ':'");
    expect_error("[1 2]", "line 1 column 4: expected ',' or ']'");
    expect_error("{\"a\": 1", "line 1 column 8: unexpected end of input: expected ',' or '}'");
    expect_error("{\"a\": 1,", "line 1 column 9: unexpected end of input: expected a string key");
    expect_error("{\"a\"", "line 1 column 5: unexpected end of input: expected ':'");
    expect_error("[", "line 1 column 2: unexpected end of input: expected a value");
    expect_error("01", "line 1 column 1: invalid number (leading zero)");
    expect_error("1.", "line 1 column 3: invalid number (expected a digit after '.')");
    expect_error("1e+", "line 1 column 4: invalid number (expected a digit in the exponent)");
    expect_error("-", "line 1 column 2: invalid number");
    expect_error("+1", "line 1 column 1: expected a value");
    expect_error(".5", "line 1 column 1: expected a value");
    expect_error("NaN", "line 1 column 1: expected a value");
    expect_error("Infinity", "line 1 column 1: expected a value");
    expect_error("1e400", "line 1 column 1: number out of range");
    expect_error("tru", "line 1 column 1: invalid literal (expected true, false or null)");
    expect_error("nul", "line 1 column 1: invalid literal (expected true, false or null)");
    expect_error("1 2", "line 1 column 3: unexpected data after the JSON value");
    expect_error("{} x", "line 1 column 4: unexpected data after the JSON value");
    expect_error("\"abc", "line 1 column 5: unterminated string");
    expect_error("\"a\tb\"", "line 1 column 3: control character in string (must be escaped)");
    expect_error("\"a\\x\"", "line 1 column 3: invalid escape in string");
    expect_error("\"\\u12G4\"", "line 1 column 6: expected 4 hex digits after \\u");
    expect_error("\"\\ud83d\"", "line 1 column 2: unpaired high surrogate in \\u escape");
    expect_error("\"\\ud83d\\u0041\"", "line 1 column 2: unpaired high surrogate in \\u escape");
    expect_error("\"\\ude00\"", "line 1 column 2: unpaired low surrogate in \\u escape");
    expect_error("\"\xC3\"", "line 1 column 2: invalid UTF-8 in string");
    expect_error("\"\xC0\xAF\"", "line 1 column 2: invalid UTF-8 in string");        /* overlong '/' */
    expect_error("\"\xED\xA0\x80\"", "line 1 column 2: invalid UTF-8 in string");    /* raw surrogate */
    /* Columns count characters, not bytes. */
    expect_error("[\"\xC3\xA9\xC3\xA9\" x]", "line 1 column 7: expected ',' or ']'");
    expect_error("// c\n1", "line 1 column 1: expected a value");
    expect_error("{\"k\": 1, \"k\": 2}", "line 1 column 10: duplicate key \"k\"");
    /* Text need not be NUL-terminated: a length cuts it. */
    json_value *v = NULL;
    sg_err err = {{0}};
    CHECK(json_parse("[1]xyz", 3, NULL, &v, NULL, &err) == 0 && v && v->n == 1, "length-limited parse");
    json_free(v);
    json_error_pos where;
    CHECK(json_parse("{\"a\":\n  [1 2]}", 14, NULL, &v, &where, &err) == -1, "where");
    CHECK(where.line == 2 && where.column == 6 && where.offset == 11 && strcmp(where.what, "expected ',' or ']'") == 0,
          "error position: line %ld col %ld off %zu what '%s'", where.line, where.column, where.offset, where.what);
}

/* Bytes that are not UTF-8 (a Latin-1 path) are written \udcXX and read back
 * as the bytes: a path recorded in config.json names the same file again. */
static void test_non_utf8_bytes(void)
{
    sg_buf b = SG_BUF_INIT;
    sg_err err = {{0}};
    /* Latin-1 "café", a stray continuation byte, a cut 2-byte sequence, an
     * encoded surrogate, an overlong '/', then valid UTF-8 */
    static const char raw[] = "caf\xE9 \x80|\xC3|\xED\xA0\x80|\xC0\xAF|\xC3\xA9";
    json_buf_string(&b, raw, sizeof raw - 1);
    CHECK(strcmp(b.data, "\"caf\\udce9 \\udc80|\\udcc3|\\udced\\udca0\\udc80|\\udcc0\\udcaf|\xC3\xA9\"") == 0,
          "written: %s", b.data);
    json_value *v = parse(b.data, &err);
    CHECK(v && v->type == JSON_STRING && v->str_len == sizeof raw - 1 && !memcmp(v->str, raw, sizeof raw - 1),
          "read back byte for byte: %s", err.msg);
    json_free(v);
    /* every byte alone, and pairs of bytes, round-trip */
    int bad = 0, bad_x = 0, bad_y = 0;
    for (int x = 0; x < 256; x++)
        for (int y = -1; y < 256; y += 1 + (x & 7)) {
            char in[2] = {(char)x, (char)y};
            size_t n = y < 0 ? 1 : 2;
            sg_buf_clear(&b);
            json_buf_string(&b, in, n);
            v = NULL;
            if ((json_parse(b.data, b.len, NULL, &v, NULL, &err) || v->str_len != n || memcmp(v->str, in, n)) && !bad++)
                bad_x = x, bad_y = y;
            json_free(v);
        }
    CHECK(bad == 0, "%d byte strings do not round-trip, the first: %02x %02x", bad, bad_x, bad_y);
    sg_buf_free(&b);
    /* a lone \udc80..\udcff is the byte; below \udc80 (an ASCII byte,
     * never written so) and other lone surrogates stay errors */
    v = parse("[\"\\udc80\\udcFF\\uDCab\"]", &err);
    CHECK(v && json_at(v, 0)->str_len == 3 && !memcmp(json_at(v, 0)->str, "\x80\xFF\xAB", 3), "escapes to bytes");
    json_free(v);
    expect_error("\"\\udc7f\"", "line 1 column 2: unpaired low surrogate in \\u escape");
    expect_error("\"\\udd80\"", "line 1 column 2: unpaired low surrogate in \\u escape");
    expect_error("\"\\ud800\\u00e9\"", "line 1 column 2: unpaired high surrogate in \\u escape");
    /* a high surrogate then \udc80 is a pair (U+10080), as in Python */
    v = parse("\"\\ud800\\udc80\"", &err);
    CHECK(v && v->str_len == 4 && !memcmp(v->str, "\xF0\x90\x82\x80", 4), "a pair stays a character");
    json_free(v);
    /* as a key too */
    v = parse("{\"a\\udcff\": 1}", &err);
    CHECK(v && !strcmp(v->keys[0], "a\xFF") && json_get(v, "a\xFF"), "key with a byte");
    json_free(v);
}

static void test_duplicates_and_depth(void)
{
    sg_err err = {{0}};
    json_value *v = NULL;
    json_opts keep = {0, JSON_KEEP_FIRST};
    const char *dup = "{\"k\": 1, \"j\": 3, \"k\": 2}";
    CHECK(json_parse(dup, strlen(dup), &keep, &v, NULL, &err) == 0, "keep-first: %s", err.msg);
    CHECK(v && v->n == 2 && json_get(v, "k")->i == 1, "first value kept");
    json_free(v);

    /* Depth: max_depth nested containers parse, one more fails. */
    char deep[600];
    for (int depth = 1; depth <= 2; depth++) {
        int n = depth == 1 ? JSON_DEFAULT_MAX_DEPTH : JSON_DEFAULT_MAX_DEPTH + 1;
        memset(deep, '[', n);
        memset(deep + n, ']', n);
        json_value *d = NULL;
        int rc = json_parse(deep, 2 * n, NULL, &d, NULL, &err);
        if (depth == 1) CHECK(rc == 0, "%d nested arrays parse: %s", n, err.msg);
        else CHECK(rc == -1 && strstr(err.msg, "nesting too deep") && strstr(err.msg, "column 257"),
                   "%d nested arrays fail: %s", n, err.msg);
        json_free(d);
    }
    json_opts shallow = {2, 0};
    CHECK(json_parse("[[1]]", 5, &shallow, &v, NULL, &err) == 0, "depth 2 ok with max 2");
    json_free(v);
    CHECK(json_parse("[{\"a\":[]}]", 10, &shallow, &v, NULL, &err) == -1 &&
          strcmp(err.msg, "line 1 column 7: nesting too deep") == 0, "depth 3 with max 2: %s", err.msg);
    /* Deeply nested garbage must not blow the stack. */
    size_t big = 1 << 20;
    char *bomb = malloc(big);
    memset(bomb, '[', big);
    CHECK(json_parse(bomb, big, NULL, &v, NULL, &err) == -1 && strstr(err.msg, "nesting too deep"), "1M '[': %s", err.msg);
    free(bomb);
}

/* "{"k0":0,"k1":1,...}" with n members, then (dup >= 0) a member "k<dup>" again;
 * *dup_at: the offset of that member's key. */
static char *numbered_object(long n, long dup, size_t *len, size_t *dup_at)
{
    char *s = malloc((size_t)(n + 1) * 32 + 2);
    size_t k = 0;
    s[k++] = '{';
    for (long i = 0; i < n; i++) k += (size_t)sprintf(s + k, "%s\"k%ld\":%ld", i ? "," : "", i, i);
    if (dup >= 0) {
        k += (size_t)sprintf(s + k, "%s", n ? "," : "");
        *dup_at = k;
        k += (size_t)sprintf(s + k, "\"k%ld\":-1", dup);
    }
    s[k++] = '}';
    s[k] = 0;
    *len = k;
    return s;
}

/* Objects past the size where duplicate keys are found through a hash table:
 * the same verdicts, messages, positions and member order as below it. */
static void test_many_keys(void)
{
    sg_err err = {{0}};
    json_opts keep = {0, JSON_KEEP_FIRST};
    char want[160];
    for (long n = 0; n <= 40; n++) {
        size_t len, at = 0;
        char *s = numbered_object(n, -1, &len, &at);
        json_value *v = NULL;
        int ok = json_parse(s, len, NULL, &v, NULL, &err) == 0 && v->n == (size_t)n;
        for (long i = 0; ok && i < n; i++) {
            char key[32];
            snprintf(key, sizeof key, "k%ld", i);
            ok = strcmp(v->keys[i], key) == 0 && v->items[i]->i == i && json_get(v, key) == v->items[i];
        }
        CHECK(ok, "%ld distinct keys: %s", n, err.msg);
        json_free(v);
        free(s);
        for (long d = 0; d < n; d++) {
            s = numbered_object(n, d, &len, &at);
            snprintf(want, sizeof want, "line 1 column %zu: duplicate key \"k%ld\"", at + 1, d);
            expect_error(s, want);
            v = NULL;
            ok = json_parse(s, len, &keep, &v, NULL, &err) == 0 && v->n == (size_t)n && json_get(v, "k0")->i == 0;
            for (long i = 0; ok && i < n; i++) ok = v->items[i]->i == i;
            CHECK(ok, "%ld keys and k%ld again, keep-first: %s", n, d, err.msg);
            json_free(v);
            free(s);
        }
    }
    /* keys equal up to a NUL, prefixes of each other, empty: all distinct */
    const char *near = "{\"a\":0,\"a\\u0000\":1,\"a\\u0000b\":2,\"a\\u0000c\":3,\"\":4,\"ab\":5,\"b\":6,"
                       "\"ba\":7,\"a\\u0000b\\u0000\":8,\"abcdefgh\":9,\"abcdefghi\":10,\"abcdefgi\":11}";
    json_value *v = parse(near, &err);
    CHECK(v && v->n == 12 && json_get(v, "ab")->i == 5 && json_get(v, "")->i == 4, "near-equal keys: %s", err.msg);
    json_free(v);
    char dup_nul[200];
    snprintf(dup_nul, sizeof dup_nul, "%.*s,\"a\\u0000b\":12}", (int)strlen(near) - 1, near);
    snprintf(want, sizeof want, "line 1 column %zu: duplicate key \"a\\x00b\"", strlen(near) + 1);   /* the NUL escaped */
    expect_error(dup_nul, want);

    /* 200k members (a large safetensors header): accepted, in order; a
     * duplicate near the end is still found, with the message and position. */
    long big = 200000;
    size_t len, at = 0;
    char *s = numbered_object(big, -1, &len, &at);
    v = NULL;
    int ok = json_parse(s, len, NULL, &v, NULL, &err) == 0 && v->n == (size_t)big;
    for (long i = 0; ok && i < big; i++) ok = v->items[i]->i == i;
    CHECK(ok, "%ld keys: %s", big, err.msg);
    CHECK(ok && strcmp(v->keys[big - 1], "k199999") == 0 && json_get(v, "k123456")->i == 123456 &&
          !json_get(v, "k200000"), "%ld keys: order and lookups", big);
    json_free(v);
    free(s);
    s = numbered_object(big, 123, &len, &at);
    snprintf(want, sizeof want, "line 1 column %zu: duplicate key \"k123\"", at + 1);
    expect_error(s, want);
    v = NULL;
    CHECK(json_parse(s, len, &keep, &v, NULL, &err) == 0 && v->n == (size_t)big && json_get(v, "k123")->i == 123,
          "%ld keys and k123 again, keep-first: %s", big, err.msg);
    json_free(v);
    free(s);
}

static void test_writer(void)
{
    sg_buf b = SG_BUF_INIT;
    json_buf_string(&b, "a\"b\\c\n\x01\x1f/\xC3\xA9\xFF", 12);
    CHECK(strcmp(b.data, "\"a\\\"b\\\\c\\n\\u0001\\u001f/\xC3\xA9\\udcff\"") == 0, "escaped: %s", b.data);
    sg_buf_clear(&b);

    /* Numbers round-trip through text. */
    double ds[] = {0.1, 1.0 / 3.0, -2.5e-300, 1e300, 123456789.123456789, 5e-324};
    for (size_t k = 0; k < sizeof ds / sizeof ds[0]; k++) {
        sg_buf_clear(&b);
        json_buf_double(&b, ds[k]);
        CHECK(strtod(b.data, NULL) == ds[k], "double %.17g -> %s", ds[k], b.data);
    }
    float fs[] = {0.1f, 1.0f / 3.0f, 3.4028235e38f, 1e-45f, 16777217.0f};
    for (size_t k = 0; k < sizeof fs / sizeof fs[0]; k++) {
        sg_buf_clear(&b);
        json_buf_float(&b, fs[k]);
        CHECK(strtof(b.data, NULL) == fs[k], "float %.9g -> %s", (double)fs[k], b.data);
    }
    sg_buf_clear(&b);
    json_buf_double(&b, NAN);
    sg_buf_putc(&b, ',');
    json_buf_float(&b, -INFINITY);
    CHECK(strcmp(b.data, "null,null") == 0, "non-finite -> null: %s", b.data);

    /* Tree round trip: parse -> write -> parse -> write gives the same text. */
    const char *doc = "{\"s\":\"\\u00e9\\n\",\"n\":[1,-2,0.5,9007199254740993,1e+300],\"o\":{\"t\":true,\"f\":false,\"z\":null}}";
    sg_err err = {{0}};
    json_value *v = parse(doc, &err);
    sg_buf_clear(&b);
    json_buf_value(&b, v);
    json_value *w = NULL;
    CHECK(json_parse(b.data, b.len, NULL, &w, NULL, &err) == 0, "reparse: %s", err.msg);
    sg_buf c = SG_BUF_INIT;
    if (w) json_buf_value(&c, w);
    CHECK(c.data && strcmp(b.data, c.data) == 0, "stable round trip: %s vs %s", b.data, c.data ? c.data : "");
    CHECK(strstr(b.data, "9007199254740993") != NULL, "big int written exactly: %s", b.data);
    json_free(v); json_free(w);
    sg_buf_free(&c);

    /* A double past 2^53 (integral, as they all are) but below 1e17, which
     * %.17g writes as digits alone, reads back as a double, not as an exact
     * integer (is_int): found by tests/fuzz/fuzz_json.c. */
    const char *big = "[-92233720368547758.8, 1.5e16, 2.0, 1e3]";
    v = parse(big, &err);
    sg_buf_clear(&b);
    if (v) json_buf_value(&b, v);
    w = NULL;
    CHECK(v && json_parse(b.data, b.len, NULL, &w, NULL, &err) == 0, "reparse: %s", err.msg);
    for (size_t k = 0; w && k < 4; k++)
        CHECK(w->items[k]->is_int == v->items[k]->is_int && w->items[k]->num == v->items[k]->num,
              "element %zu written as %s: is_int %d, was %d", k, b.data, w->items[k]->is_int, v->items[k]->is_int);
    json_free(v); json_free(w);

    /* sg_buf growth and appendf beyond the small buffer. */
    sg_buf_clear(&b);
    for (int k = 0; k < 1000; k++) sg_buf_appendf(&b, "%d,", k);
    char longs[600];
    memset(longs, 'x', sizeof longs - 1);
    longs[sizeof longs - 1] = 0;
    sg_buf_appendf(&b, "[%s]", longs);
    CHECK(!b.failed && b.len == 3890 + 601 && strncmp(b.data, "0,1,2,", 6) == 0 && b.data[b.len - 1] == ']',
          "sg_buf len %zu", b.len);
    size_t len;
    char *s = sg_buf_take(&b, &len);
    CHECK(s && len == 4491 && b.data == NULL && b.len == 0, "take");
    free(s);
    s = sg_buf_take(&b, &len);
    CHECK(s && len == 0 && s[0] == 0, "take of empty buffer gives \"\"");
    free(s);
    sg_buf_free(&b);
}

int main(void)
{
    test_valid();
    test_numbers();
    test_strings();
    test_invalid();
    test_non_utf8_bytes();
    test_duplicates_and_depth();
    test_many_keys();
    test_writer();
    return check_done();
}
