/* lib/celeba_attrs: parsing (good and bad files), byte-exact round trip, select. */
#include "check.h"
#include "celeba_attrs.h"
#include "celeba_attrs_testing.h"
#include "fileio.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A 3-attribute file in CelebA's exact layout. */
static const char GOOD[] =
    "3\n"
    "Bald Bangs Young \n"
    "000001.jpg -1  1  1\n"
    "000002.jpg  1 -1 -1\n"
    "000003.jpg -1 -1  1\n";

static int parse(const char *text, sg_attr_table *t, sg_err *err)
{
    return sg_attr_table_parse("t.txt", text, strlen(text), t, err);
}

/* Expects text to be rejected with a message containing want. */
static void expect_bad(const char *text, const char *want, int line)
{
    sg_attr_table t;
    sg_err err = {{0}};
    int rc = parse(text, &t, &err);
    CHECK(rc == -1, "case at line %d: accepted a bad file", line);
    CHECK(strstr(err.msg, want) != NULL, "case at line %d: message '%s' lacks '%s'", line, err.msg, want);
    CHECK(t.n_rows == 0 && t.values == NULL, "case at line %d: table not cleared on error", line);
}
#define BAD(text, want) expect_bad(text, want, __LINE__)

static void test_good(void)
{
    sg_attr_table t;
    sg_err err = {{0}};
    CHECK(parse(GOOD, &t, &err) == 0, "good file rejected: %s", err.msg);
    CHECK(t.n_attrs == 3 && t.n_rows == 3, "shape %d x %zu", t.n_attrs, t.n_rows);
    CHECK(!strcmp(t.attr_names[1], "Bangs"), "name 1 = %s", t.attr_names[1]);
    CHECK(!strcmp(t.file_names[2], "000003.jpg"), "file 2 = %s", t.file_names[2]);
    CHECK(sg_attr_value(&t, 0, 0) == -1 && sg_attr_value(&t, 0, 1) == 1 && sg_attr_value(&t, 1, 0) == 1,
          "values wrong");
    CHECK(t.names_trailing_space == 1, "trailing space not seen");
    CHECK(sg_attr_table_find(&t, "Young") == 2 && sg_attr_table_find(&t, "Male") == -1, "find");

    /* Round trip: byte for byte. */
    char *out; size_t len;
    CHECK(sg_attr_table_format(&t, NULL, 0, &out, &len, &err) == 0, "format: %s", err.msg);
    CHECK(len == strlen(GOOD) && !memcmp(out, GOOD, len), "round trip differs:\n%.*s", (int)len, out);
    free(out);

    /* A subset of rows: count updated, rows unchanged. */
    size_t rows[] = {2, 0};
    CHECK(sg_attr_table_format(&t, rows, 2, &out, &len, &err) == 0, "format rows: %s", err.msg);
    const char *want = "2\nBald Bangs Young \n000003.jpg -1 -1  1\n000001.jpg -1  1  1\n";
    CHECK(len == strlen(want) && !memcmp(out, want, len), "subset differs:\n%.*s", (int)len, out);
    free(out);

    /* select */
    int idx[8], n;
    CHECK(sg_attr_table_select(&t, "Young,Bald", idx, 8, &n, &err) == 0 && n == 2 && idx[0] == 2 && idx[1] == 0,
          "select: %s", err.msg);
    CHECK(sg_attr_table_select(&t, "Young,Blond_Hair", idx, 8, &n, &err) == -1
          && strstr(err.msg, "unknown attribute 'Blond_Hair'") && strstr(err.msg, "Bald Bangs Young"),
          "select unknown: %s", err.msg);
    CHECK(sg_attr_table_select(&t, "Young,,Bald", idx, 8, &n, &err) == -1 && strstr(err.msg, "empty"),
          "select empty: %s", err.msg);
    CHECK(sg_attr_table_select(&t, "Young,Young", idx, 8, &n, &err) == -1 && strstr(err.msg, "twice"),
          "select twice: %s", err.msg);
    sg_attr_table_free(&t);
}

/* The first two rows of the real list_attr_celeba.txt (as published in many
 * places): a read/write round trip must reproduce them byte for byte. */
static void test_real_excerpt(void)
{
    char text[2048];
    int n = snprintf(text, sizeof text, "2\n");
    for (int a = 0; a < 40; a++) n += snprintf(text + n, sizeof text - n, "%s ", sg_celeba_attr_names[a]);
    n += snprintf(text + n, sizeof text - n, "\n%s\n%s\n",
        "000001.jpg -1  1  1 -1 -1 -1 -1 -1 -1 -1 -1  1 -1 -1 -1 -1 -1 -1  1  1 -1  1 -1 -1  1 -1 -1  1 -1 -1 -1  1  1 -1  1 -1  1 -1 -1  1",
        "000002.jpg -1 -1 -1  1 -1 -1 -1  1 -1 -1 -1  1 -1 -1 -1 -1 -1 -1 -1  1 -1  1 -1 -1  1 -1 -1 -1 -1 -1 -1  1 -1 -1 -1 -1 -1 -1 -1  1");
    sg_attr_table t;
    sg_err err = {{0}};
    CHECK(parse(text, &t, &err) == 0, "real excerpt rejected: %s", err.msg);
    CHECK(t.n_attrs == 40 && t.n_rows == 2, "real excerpt shape %d x %zu", t.n_attrs, t.n_rows);
    CHECK(sg_attr_value(&t, 0, sg_attr_table_find(&t, "Young")) == 1
          && sg_attr_value(&t, 1, sg_attr_table_find(&t, "Bags_Under_Eyes")) == 1
          && sg_attr_value(&t, 0, sg_attr_table_find(&t, "Male")) == -1, "real excerpt values");
    char *out; size_t len;
    sg_attr_table_format(&t, NULL, 0, &out, &len, &err);
    CHECK(len == (size_t)n && !memcmp(out, text, len), "real excerpt round trip differs");
    free(out);
    sg_attr_table_free(&t);
}

static void test_lenient(void)
{
    /* CRLF, tabs, extra blanks, no trailing space on the names, trailing blank lines. */
    const char *text = "3\r\nBald\tBangs  Young\r\n000001.jpg\t-1 1 1\r\n\r\n000002.jpg 1   -1 -1\r\n"
                       "000003.jpg -1 -1 1\r\n\r\n\n";
    sg_attr_table t;
    sg_err err = {{0}};
    CHECK(parse(text, &t, &err) == 0, "lenient file rejected: %s", err.msg);
    CHECK(t.n_rows == 3 && t.n_attrs == 3 && sg_attr_value(&t, 1, 0) == 1, "lenient shape/values");
    CHECK(t.names_trailing_space == 0, "trailing space wrongly seen");
    char *out; size_t len;
    sg_attr_table_format(&t, NULL, 0, &out, &len, &err);
    const char *want = "3\nBald Bangs Young\n000001.jpg -1  1  1\n000002.jpg  1 -1 -1\n000003.jpg -1 -1  1\n";
    CHECK(len == strlen(want) && !memcmp(out, want, len), "normalised output differs:\n%.*s", (int)len, out);
    free(out);
    sg_attr_table_free(&t);

    /* A UTF-8 byte-order mark before the count is ignored (written without). */
    char bom[sizeof GOOD + 3] = "\xef\xbb\xbf";
    strcat(bom, GOOD);
    CHECK(parse(bom, &t, &err) == 0, "a file starting with a BOM rejected: %s", err.msg);
    if (t.n_rows == 3) {
        sg_attr_table_format(&t, NULL, 0, &out, &len, &err);
        CHECK(len == strlen(GOOD) && !memcmp(out, GOOD, len), "BOM file rewritten as:\n%.*s", (int)len, out);
        free(out);
    }
    sg_attr_table_free(&t);
    BAD("\xef\xbb\xbf", "t.txt: empty file");
    BAD("\xef\xbb\xbf\xef\xbb\xbf" "3\n", "t.txt line 1: expected the number of rows, found '\\xef\\xbb\\xbf3'");

    /* Zero rows is a valid file. */
    CHECK(parse("0\nA B\n", &t, &err) == 0 && t.n_rows == 0, "empty table rejected: %s", err.msg);
    sg_attr_table_free(&t);
}

static void test_bad(void)
{
    BAD("", "t.txt: empty file");
    BAD("\n \n", "t.txt: empty file");
    BAD("abc\nA B\n", "t.txt line 1: expected the number of rows, found 'abc'");
    BAD("3 4\nA B\n", "t.txt line 1: expected the number of rows");
    BAD("-3\nA B\n", "t.txt line 1: expected the number of rows");
    /* a count past 64 bits is no count (2^64 + 1 would wrap to 1 and pass with one row) */
    BAD("18446744073709551617\nA B\nx.jpg 1 -1\n",
        "t.txt line 1: expected the number of rows, found '18446744073709551617'");
    BAD("99999999999999999999\nA B\nx.jpg 1 -1\n",
        "t.txt line 1: expected the number of rows, found '99999999999999999999'");
    BAD("\nA B\n", "t.txt line 1: expected the number of rows, found an empty line");
    BAD("1\n", "t.txt line 2: missing the line of attribute names");
    BAD("1\n000001.jpg -1 1\n", "t.txt line 2: expected attribute names, found a data row");
    BAD("1\nA B A\n000001.jpg -1 1 1\n", "t.txt line 2: duplicate attribute name A");
    /* rows filtered with grep: the message says what to write */
    BAD("2\nA B\n000001.jpg -1 1\n", "t.txt line 1: the count says 2 rows, but the file has 1: set line 1 to 1");
    BAD("1\nA B\n000001.jpg -1 1\n000002.jpg 1 1\n", "the count says 1 row, but the file has 2: set line 1 to 2");
    /* the header lines alone: not "set line 1 to 0", a list of no images */
    BAD("5\nA B\n", "t.txt: lists no images: line 1 counts 5 rows, but no image row follows the attribute names "
        "(cut short after its header?); give the whole list");
    BAD("1\r\nA B\r\n\r\n", "t.txt: lists no images: line 1 counts 1 row, but no image row follows");
    /* list_eval_partition.txt given for the attribute list */
    BAD("000001.jpg 0\n000002.jpg 2\n", "t.txt line 1: expected the number of rows, found '000001.jpg ...': "
        "this looks like a partition file (list_eval_partition.txt); give the attribute list (list_attr_celeba.txt)");
    BAD("\xef\xbb\xbf" "000001.jpg\t1\r\n", "t.txt line 1: expected the number of rows, found '000001.jpg ...': this looks like a partition file");
    BAD("000001.jpg 3\n", "t.txt line 1: expected the number of rows, found '000001.jpg ...'");   /* not 0/1/2: no guess */
    BAD("2\nA B\n000001.jpg -1 1\n000002.jpg 1\n", "t.txt line 4: expected 2 values, found 1");
    BAD("1\nA B\n000001.jpg -1 1 1\n", "t.txt line 3: expected 2 values, found 3");
    BAD("1\nA B\n000001.jpg -1 x\n", "t.txt line 3: value 'x' of B is not 1 or -1");
    BAD("1\nA B\n000001.jpg 0 1\n", "t.txt line 3: value '0' of A is not 1 or -1");
    BAD("1\nA B\n000001.jpg +1 1\n", "value '+1' of A");
    BAD("1\nA B\n000001.jpg 1.0 1\n", "value '1.0' of A");
    BAD("4\nA B\n000001.jpg -1 1\n000002.jpg -1 1\n\n000003.jpg 1 1\n000002.jpg 1 -1\n",
        "t.txt line 7: duplicate file name 000002.jpg (first on line 4)");
}

/* Kaggle's list_attr_celeba.csv: "image_id," and the names on line 1, no
 * count line, commas between fields, CRLF line ends; read as the same table as
 * the .txt, and written as CelebA's .txt (names line ending in a space). */
static void test_csv(void)
{
    static const char *const forms[] = {
        "image_id,Bald,Bangs,Young\r\n000001.jpg,-1,1,1\r\n000002.jpg,1,-1,-1\r\n000003.jpg,-1,-1,1\r\n",
        "image_id,Bald,Bangs,Young\n000001.jpg,-1,1,1\n000002.jpg,1,-1,-1\n000003.jpg,-1,-1,1",
        "\xef\xbb\xbfimage_id,Bald,Bangs,Young\n000001.jpg, -1, 1, 1\n\n000002.jpg,1 ,-1,-1\n000003.jpg,-1,-1,1\n\n",
    };
    for (size_t f = 0; f < sizeof forms / sizeof *forms; f++) {
        sg_attr_table t;
        sg_err err = {{0}};
        CHECK(parse(forms[f], &t, &err) == 0, "csv form %zu rejected: %s", f, err.msg);
        if (t.n_rows != 3) { sg_attr_table_free(&t); continue; }
        CHECK(t.n_attrs == 3 && !strcmp(t.attr_names[0], "Bald") && !strcmp(t.file_names[1], "000002.jpg")
              && sg_attr_value(&t, 1, 0) == 1 && sg_attr_value(&t, 0, 0) == -1, "csv form %zu: table", f);
        char *out; size_t len;
        CHECK(sg_attr_table_format(&t, NULL, 0, &out, &len, &err) == 0, "format: %s", err.msg);
        CHECK(len == strlen(GOOD) && !memcmp(out, GOOD, len), "csv form %zu written as:\n%.*s", f, (int)len, out);
        free(out);
        sg_attr_table_free(&t);
    }
    /* Line numbers count the header as line 1. */
    BAD("image_id,A,B\n1.jpg,-1\n", "t.txt line 2: expected 2 values, found 1");
    BAD("image_id,A,B\n1.jpg,-1,1,1\n", "t.txt line 2: expected 2 values, found 3");
    BAD("image_id,A,B\n1.jpg,-1,,\n", "t.txt line 2: expected 2 values, found 3");
    BAD("image_id,A,B\n1.jpg,-1,0\n", "t.txt line 2: value '0' of B is not 1 or -1");
    BAD("image_id,A,B\n1.jpg,-1,\n", "t.txt line 2: value '' of B is not 1 or -1");
    BAD("image_id,A,B\n1.jpg,-1 1,1\n", "t.txt line 2: value '-1 1' of A is not 1 or -1");
    BAD("image_id,A,B\n,-1,1\n", "t.txt line 2: empty file name");
    BAD("image_id,A,,B\n", "t.txt line 1: attribute name 2 is empty");
    BAD("image_id,A,B,A\n", "t.txt line 1: duplicate attribute name A (names 1 and 3)");
    BAD("image_id,A,B\n1.jpg,-1,1\n2.jpg,1,1\n1.jpg,1,1\n", "t.txt line 4: duplicate file name 1.jpg (first on line 2)");
    BAD("image_id,partition\r\n000001.jpg,0\r\n", "t.txt line 1: 'image_id,partition': this is a partition file");
    /* A header only: no rows. */
    sg_attr_table t;
    sg_err err = {{0}};
    CHECK(parse("image_id,A,B\r\n", &t, &err) == 0 && t.n_rows == 0 && t.n_attrs == 2, "csv header only: %s", err.msg);
    sg_attr_table_free(&t);
    /* Not CSV: a .txt whose first line merely holds a comma is still read as a .txt. */
    BAD("image_id\nA,B\n", "t.txt line 1: expected the number of rows, found 'image_id'");
}

/* A CSV name holding a character the .txt reader splits on (space, tab, CR,
 * VT, FF) would be written by sg_attr_table_format as two fields, a list that
 * celeb-split and celeb-pack then refuse: the CSV itself is refused, naming
 * the name. The round trip shows what the first parse guards against. */
static void test_csv_blank_names(void)
{
    static const struct { const char *csv, *want; } cases[] = {
        {"image_id,Male,Big Nose\n000001.jpg,1,-1\n000002.jpg,-1,1\n",
         "t.txt line 1: attribute name 'Big Nose' has a blank, which the .txt lists cannot hold: rename the attribute"},
        {"image_id,Male,Big\tNose\n000001.jpg,1,-1\n", "t.txt line 1: attribute name 'Big\\tNose' has a blank"},
        {"image_id,A\fB\n000001.jpg,1\n", "t.txt line 1: attribute name 'A\\x0cB' has a blank"},
        {"image_id,Male\n000001\v.jpg,1\n000002.jpg,-1\n",
         "t.txt line 2: file name '000001\\x0b.jpg' has a blank, which the .txt lists cannot hold: rename the file"},
        {"image_id,Male\r\n000001.jpg,1\r\n000002\r.jpg,-1\r\n", "t.txt line 3: file name '000002\\r.jpg' has a blank"},
        {"image_id,Male\n0\f1.jpg,1\n", "t.txt line 2: file name '0\\x0c1.jpg' has a blank"},
        {"image_id,Male\nmy photo.jpg,1\n", "t.txt line 2: file name 'my photo.jpg' has a blank"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        sg_attr_table t, back;
        sg_err err = {{0}};
        int rc = parse(cases[k].csv, &t, &err);
        CHECK(rc == -1 && strstr(err.msg, cases[k].want), "blank name case %zu: rc %d, message '%s' lacks '%s'", k, rc,
              err.msg, cases[k].want);
        if (rc != 0) continue;
        char *out; size_t len;
        CHECK(sg_attr_table_format(&t, NULL, 0, &out, &len, &err) == 0, "blank name case %zu: format: %s", k, err.msg);
        rc = sg_attr_table_parse("t.txt", out, len, &back, &err);
        CHECK(rc == 0, "blank name case %zu: the written list does not read back: %s", k, err.msg);
        if (rc == 0) sg_attr_table_free(&back);
        free(out);
        sg_attr_table_free(&t);
    }
    /* A blank around a field is not in the name (trimmed), so it is no blank in it. */
    sg_attr_table t;
    sg_err err = {{0}};
    CHECK(parse("image_id, Male\t,Young\r\n 000001.jpg\v,1,-1\r\n", &t, &err) == 0 && !strcmp(t.attr_names[0], "Male")
          && !strcmp(t.file_names[0], "000001.jpg"), "blanks around fields: %s", err.msg);
    sg_attr_table_free(&t);
    /* one attribute: "1 value" */
    BAD("1\nA\n000001.jpg 1 1\n", "t.txt line 3: expected 1 value, found 2");
}

/* sg_quote_bytes (lib/error.h), which the messages below quote the file with:
 * printable ASCII as is, everything else escaped, at most 40 characters. */
static void test_quote_bytes(void)
{
    static const struct { const char *in; size_t n; const char *want; } cases[] = {
        {"Bald", 4, "Bald"},
        {"", 0, ""},
        {"\x1b[2J", 4, "\\x1b[2J"},
        {"a\0b", 3, "a\\x00b"},
        {"tab\there\r\n", 10, "tab\\there\\r\\n"},
        {"back\\slash", 10, "back\\\\slash"},
        {"\x7f\x80\x9b\xff", 4, "\\x7f\\x80\\x9b\\xff"},
        {"caf\xc3\xa9", 5, "caf\\xc3\\xa9"},
        {"'quotes\" stay", 13, "'quotes\" stay"},
        {"0123456789012345678901234567890123456789", 40, "0123456789012345678901234567890123456789"},
        {"01234567890123456789012345678901234567890", 41, "0123456789012345678901234567890123456789..."},
        /* an escape that would pass 40 characters is left out whole */
        {"0123456789012345678901234567890123456\x1b", 38, "0123456789012345678901234567890123456..."},
        {"012345678901234567890123456789012345\x1b", 37, "012345678901234567890123456789012345\\x1b"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        sg_quoted q = sg_quote_bytes(cases[c].in, cases[c].n);
        CHECK(!strcmp(q.s, cases[c].want), "quote case %zu: \"%s\", want \"%s\"", c, q.s, cases[c].want);
    }
}

/* The file's bytes in messages are escaped and cut (a name or value holding
 * an ESC sequence once went to the terminal as it was). */
static void test_quoted_messages(void)
{
    BAD("\x1b[31m5\nA B\n", "t.txt line 1: expected the number of rows, found '\\x1b[31m5'");
    BAD("\x1b[31m5 6\nA B\n", "t.txt line 1: expected the number of rows, found '\\x1b[31m5 ...'");
    BAD("1\nA\x1b[2J B A\x1b[2J\n", "t.txt line 2: duplicate attribute name A\\x1b[2J (names 1 and 3)");
    BAD("1\nA B\xc3\xa9\n000001.jpg -1 \x1b]0;title\x07\n",
        "t.txt line 3: value '\\x1b]0;title\\x07' of B\\xc3\\xa9 is not 1 or -1");
    BAD("1\nA B\n000001.jpg -1 1xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
        "t.txt line 3: value '1xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' of B is not 1 or -1");
    BAD("2\nA\n\x7f\\x.jpg 1\n\x7f\\x.jpg -1\n", "t.txt line 4: duplicate file name \\x7f\\\\x.jpg (first on line 3)");
    /* select: the command line's names and the file's */
    sg_attr_table t;
    sg_err err = {{0}};
    CHECK(parse("0\nBald B\x1b[0m\n", &t, &err) == 0, "names with ESC: %s", err.msg);
    int idx[4], n;
    CHECK(sg_attr_table_select(&t, "Bald,X\x1b[1m", idx, 4, &n, &err) == -1 &&
          !strcmp(err.msg, "unknown attribute 'X\\x1b[1m' (valid: Bald B\\x1b[0m); did you mean 'B\\x1b[0m'?"),
          "select unknown (the suggestion escaped too): %s", err.msg);
    CHECK(sg_attr_table_select(&t, "Bald,bald", idx, 4, &n, &err) == -1 &&
          !strcmp(err.msg, "unknown attribute 'bald' (valid: Bald B\\x1b[0m); did you mean 'Bald'?"),
          "select in another case: %s", err.msg);
    CHECK(sg_attr_table_select(&t, "Bald,\x01,", idx, 4, &n, &err) == -1 &&
          !strcmp(err.msg, "unknown attribute '\\x01' (valid: Bald B\\x1b[0m)"), "select control: %s", err.msg);
    CHECK(sg_attr_table_select(&t, "Bald,Bald\t", idx, 4, &n, &err) == -1 && strstr(err.msg, "'Bald\\t'"),
          "select tab: %s", err.msg);
    CHECK(sg_attr_table_select(&t, "Bald,,\x1b", idx, 4, &n, &err) == -1 &&
          !strcmp(err.msg, "empty attribute name in 'Bald,,\\x1b'"), "select empty: %s", err.msg);
    CHECK(sg_attr_table_select(&t, "Bald,Bald,\x1b", idx, 4, &n, &err) == -1 &&
          !strcmp(err.msg, "attribute Bald given twice in 'Bald,Bald,\\x1b'"), "select twice: %s", err.msg);
    sg_attr_table_free(&t);
}

static void test_file_io(void)
{
    char dir[] = "/tmp/test_celeba_attrs.XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char in[256], out[256];
    snprintf(in, sizeof in, "%s/in.txt", dir);
    snprintf(out, sizeof out, "%s/out.txt", dir);
    sg_err err = {{0}};
    CHECK(sg_write_file_atomic(in, GOOD, strlen(GOOD), &err) == 0, "write: %s", err.msg);
    sg_attr_table t;
    CHECK(sg_attr_table_read(in, &t, &err) == 0, "read: %s", err.msg);
    CHECK(sg_attr_table_write(out, &t, NULL, 0, &err) == 0, "write table: %s", err.msg);
    uint8_t *data; size_t len;
    CHECK(sg_read_file(out, 1 << 20, &data, &len, &err) == 0, "read back: %s", err.msg);
    CHECK(len == strlen(GOOD) && !memcmp(data, GOOD, len), "file round trip differs");
    free(data);
    sg_attr_table_free(&t);

    /* Errors name the path. */
    CHECK(sg_attr_table_read("/nonexistent/x.txt", &t, &err) == -1 && strstr(err.msg, "/nonexistent/x.txt"),
          "missing file: %s", err.msg);
    unlink(in); unlink(out); rmdir(dir);

    /* create: CelebA's names, every value -1. */
    CHECK(sg_attr_table_create(&t, 40, sg_celeba_attr_names, 2, &err) == 0, "create");
    t.file_names[0] = strdup("000001.jpg");
    t.file_names[1] = strdup("000002.jpg");
    char *buf;
    sg_attr_table_format(&t, NULL, 0, &buf, &len, &err);
    CHECK(!strncmp(buf, "2\n5_o_Clock_Shadow Arched_Eyebrows ", 35), "create header: %.40s", buf);
    CHECK(strstr(buf, "Wearing_Necktie Young \n000001.jpg -1 -1") != NULL, "create layout");
    free(buf);

    /* a row whose file name the caller left NULL: an error, not a crash,
     * with *out NULL and no file written */
    free(t.file_names[1]);
    t.file_names[1] = NULL;
    static char stale[1];
    buf = stale;
    len = 5;
    CHECK(sg_attr_table_format(&t, NULL, 0, &buf, &len, &err) == -1 && strstr(err.msg, "row 1 has no file name") &&
          buf == NULL && len == 0, "a NULL file name: buf %p len %zu '%s'", (void *)buf, len, err.msg);
    size_t first = 0;
    CHECK(sg_attr_table_format(&t, &first, 1, &buf, &len, &err) == 0, "row 0 alone: %s", err.msg);
    free(buf);
    char dir2[] = "/tmp/test_celeba_attrs.XXXXXX";
    CHECK(mkdtemp(dir2) != NULL, "mkdtemp");
    snprintf(out, sizeof out, "%s/out.txt", dir2);
    CHECK(sg_attr_table_write(out, &t, NULL, 0, &err) == -1 && strstr(err.msg, out) && strstr(err.msg, "no file name"),
          "write with a NULL file name: %s", err.msg);
    CHECK(access(out, F_OK) != 0, "a table with a NULL file name was written");
    rmdir(dir2);
    sg_attr_table_free(&t);
}

/* The partition file (sg_partition_parse; celeb-split --split partition),
 * read from memory that need not end in a NUL. */
static void test_partition(void)
{
    static const char list[] = "3\nSmiling \n000001.jpg  1\n000002.jpg -1\n000003.jpg  1\n";
    sg_attr_table t;
    sg_err err;
    CHECK(sg_attr_table_parse("l.txt", list, sizeof list - 1, &t, &err) == 0, "%s", err.msg);
    static const char txt[] = "000001.jpg 0\n000009.jpg 1\n000003.jpg 2\n000002.jpg 1";
    char *exact = malloc(sizeof txt - 1);
    memcpy(exact, txt, sizeof txt - 1);
    int8_t *part = sg_partition_parse("p.txt", exact, sizeof txt - 1, &t, &err);
    CHECK(part && part[0] == 0 && part[1] == 1 && part[2] == 2, "%s", part ? "values" : err.msg);
    free(part);
    static const char csv[] = "image_id,partition\r\n000001.jpg,0\r\n000002.jpg,0\r\n000003.jpg,1\r\n";
    part = sg_partition_parse("p.csv", csv, sizeof csv - 1, &t, &err);
    CHECK(part && part[0] == 0 && part[1] == 0 && part[2] == 1, "%s", part ? "values" : err.msg);
    free(part);
    static const char dup[] = "000001.jpg 0\n000002.jpg 1\n000001.jpg 2\n";
    CHECK(!sg_partition_parse("p.txt", dup, sizeof dup - 1, &t, &err) &&
              !strcmp(err.msg, "p.txt line 3: duplicate file name 000001.jpg (first on line 1)"), "%s", err.msg);
    CHECK(!sg_partition_parse("p.txt", list, sizeof list - 1, &t, &err) &&
              strstr(err.msg, "p.txt line 1: expected 'FILE PARTITION', found a number"), "%s", err.msg);
    CHECK(!sg_partition_parse("p.txt", txt, 12, &t, &err) && strstr(err.msg, "p.txt: 000002.jpg is not listed"),
          "%s", err.msg);
    free(exact);
    sg_attr_table_free(&t);
}

/* An unknown attribute behind a long prefix (celeb-split's --group NAME
 * (PATH)): sg_err keeps a long message's beginning and end, and with long
 * attribute names the list pushed 'unknown attribute NAME' and the list's
 * start into the middle that is cut: what was left was a path, part of a list
 * and the suggestion. The whole message is kept now, the list cut with ' ...'. */
static void test_unknown_behind_long_path(void)
{
    char text[4096] = "0\n", path[2100];
    for (int a = 0; a < 40; a++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%sAttribute_with_a_rather_long_name_%02d",
                 a ? " " : "", a);
    strcat(text, "\n");
    sg_attr_table t;
    sg_err err = {{0}};
    CHECK(parse(text, &t, &err) == 0, "long names: %s", err.msg);
    memset(path, 'd', sizeof path - 1);
    path[sizeof path - 1] = 0;
    for (size_t i = 0; i < sizeof path - 1; i += 100) path[i] = '/';
    int idx[4], n;
    CHECK(sg_attr_table_select(&t, "Atribute_with_a_rather_long_name_07", idx, 4, &n, &err) == -1,
          "select unknown: %s", err.msg);
    CHECK(strlen(err.msg) <= SG_ERR_TAIL, "the message (%zu bytes) fits in what a prefix leaves: %s",
          strlen(err.msg), err.msg);
    sg_err_prefix(&err, "--group g1 (%s)", path);
    const char *want = "unknown attribute 'Atribute_with_a_rather_long_name_07' (valid: "
                       "Attribute_with_a_rather_long_name_00 Attribute_with_a_rather_long_name_01 ";
    const char *end = " ...); did you mean 'Attribute_with_a_rather_long_name_07'?";
    size_t l = strlen(err.msg);
    CHECK(strstr(err.msg, want) && l > strlen(end) && !strcmp(err.msg + l - strlen(end), end),
          "behind a 2100-byte path, the name asked for, the list's start and the suggestion: %s", err.msg);
    CHECK(!strncmp(err.msg, "--group g1 (/ddd", 16), "the prefix's start: %s", err.msg);
    sg_attr_table_free(&t);
}

int main(void)
{
    test_good();
    test_real_excerpt();
    test_lenient();
    test_bad();
    test_csv();
    test_csv_blank_names();
    test_quote_bytes();
    test_quoted_messages();
    test_unknown_behind_long_path();
    test_file_io();
    test_partition();
    return check_done();
}
