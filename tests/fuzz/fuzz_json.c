/* lib/json.c: json_parse on any bytes, with the default options and with
 * JSON_KEEP_FIRST and a small depth; an accepted tree is written back
 * (json_buf_value) and must parse again to the same tree. */
#include "fuzz.h"
#include "json.h"
#include "strbuf.h"

static int same(const json_value *a, const json_value *b)
{
    if (a->type != b->type) return 0;
    switch (a->type) {
    case JSON_NULL: return 1;
    case JSON_BOOL: return a->boolean == b->boolean;
    case JSON_NUMBER:
        /* 1e3 is written 1000, which is then an integer literal (is_uint) */
        return a->is_int == b->is_int && (!a->is_int || a->i == b->i) && (!a->is_uint || (b->is_uint && a->u == b->u)) &&
               a->num == b->num;
    case JSON_STRING: return a->str_len == b->str_len && !memcmp(a->str, b->str, a->str_len);
    case JSON_ARRAY:
    case JSON_OBJECT:
        if (a->n != b->n) return 0;
        for (size_t i = 0; i < a->n; i++) {
            if (a->type == JSON_OBJECT &&
                (a->key_lens[i] != b->key_lens[i] || memcmp(a->keys[i], b->keys[i], a->key_lens[i])))
                return 0;
            if (!same(a->items[i], b->items[i])) return 0;
        }
        return 1;
    }
    return 0;
}

static void one(const char *text, size_t len, const json_opts *opts)
{
    json_value *v = NULL;
    json_error_pos where;
    sg_err err = {{0}};
    if (fuzz_verdict(json_parse(text, len, opts, &v, &where, &err), &err)) {
        FUZZ_CHECK(where.line >= 1 && where.column >= 1 && where.offset <= len, "error position %ld:%ld @%zu",
                   where.line, where.column, where.offset);
        return;
    }
    sg_buf b = {0};
    FUZZ_CHECK(json_buf_value(&b, v) == 0 && !b.failed, "json_buf_value failed");
    json_value *w = NULL;
    json_opts again = {.max_depth = opts ? opts->max_depth : 0};
    int rc = json_parse(b.data, b.len, &again, &w, NULL, &err);
    FUZZ_CHECK(rc == 0, "the tree written back does not parse: %s: %.*s", err.msg, (int)(b.len > 200 ? 200 : b.len),
               b.data);
    FUZZ_CHECK(same(v, w), "the tree written back parses to another tree: %.*s", (int)(b.len > 200 ? 200 : b.len),
               b.data);
    json_free(w);
    sg_buf_free(&b);
    json_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_copy(data, size, 0);
    one(text, size, NULL);
    json_opts o = {.max_depth = 8, .flags = JSON_KEEP_FIRST};
    one(text, size, &o);
    free(text);
    return 0;
}
