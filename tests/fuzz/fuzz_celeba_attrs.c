/* lib/celeba_attrs.c: an attribute list (list_attr_celeba.txt, or Kaggle's
 * .csv). An accepted table is written in CelebA's layout
 * (sg_attr_table_format) and must read back to the same table. */
#include "fuzz.h"
#include "celeba_attrs.h"
#include "celeba_attrs_testing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_copy(data, size, 0);
    sg_attr_table t;
    sg_err err = {{0}};
    int rc = fuzz_verdict(sg_attr_table_parse("fuzz.txt", text, size, &t, &err), &err);
    free(text);
    if (rc) return 0;
    FUZZ_CHECK(t.n_attrs >= 1, "%d attributes", t.n_attrs);
    for (size_t r = 0; r < t.n_rows; r++)
        for (int a = 0; a < t.n_attrs; a++) {
            int8_t v = sg_attr_value(&t, r, a);
            FUZZ_CHECK(v == -1 || v == 1, "row %zu attribute %d is %d", r, a, v);
        }
    for (int a = 0; a < t.n_attrs; a++)
        FUZZ_CHECK(sg_attr_table_find(&t, t.attr_names[a]) == a, "attribute %d not found by name", a);
    char *out;
    size_t out_len;
    rc = sg_attr_table_format(&t, NULL, 0, &out, &out_len, &err);
    FUZZ_CHECK(rc == 0, "an accepted table is not written: %s", err.msg);
    sg_attr_table u;
    rc = sg_attr_table_parse("again.txt", out, out_len, &u, &err);
    FUZZ_CHECK(rc == 0, "the table written does not read back: %s", err.msg);
    FUZZ_CHECK(u.n_attrs == t.n_attrs && u.n_rows == t.n_rows, "read back as %d x %zu, not %d x %zu", u.n_attrs,
               u.n_rows, t.n_attrs, t.n_rows);
    for (int a = 0; a < t.n_attrs; a++)
        FUZZ_CHECK(!strcmp(u.attr_names[a], t.attr_names[a]), "attribute %d read back as another name", a);
    for (size_t r = 0; r < t.n_rows; r++)
        FUZZ_CHECK(!strcmp(u.file_names[r], t.file_names[r]), "row %zu's file name read back as another", r);
    FUZZ_CHECK(!t.n_rows || !memcmp(u.values, t.values, t.n_rows * (size_t)t.n_attrs), "values read back otherwise");
    sg_attr_table_free(&u);
    free(out);
    sg_attr_table_free(&t);
    return 0;
}
