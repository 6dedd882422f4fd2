/* lib/each_dir.c: the names of sg-sample --each's files and what tells an
 * earlier run's outputs from the other files in its directory. */
#include "check.h"
#include "each_dir.h"
#include "test_tmpdir.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A sorted list of the NULL-terminated names. */
static sg_each_names names_of(const char *const *names)
{
    sg_each_names l = {0};
    sg_err err = {{0}};
    for (; *names; names++) CHECK(sg_each_names_add(&l, *names, strlen(*names), &err) == 0, "add %s", *names);
    sg_each_names_sort(&l);
    return l;
}

static void expect_number(const char *name, const sg_each_known *k, int want, long want_number)
{
    long number = -7;
    int got = sg_each_name_number(name, k, &number);
    CHECK(got == want, "%s: %d, want %d", name, got, want);
    if (want) CHECK(number == want_number, "%s: number %ld, want %ld", name, number, want_number);
    else CHECK(number == -7, "%s: refused but number set to %ld", name, number);
}

static void names_list(void)
{
    sg_each_names l = {0};
    sg_err err = {{0}};
    CHECK(sg_each_names_add(&l, "b", 1, &err) == 0 && sg_each_names_add(&l, "abc", 2, &err) == 0 &&
          sg_each_names_add(&l, "c\0d", 3, &err) == 0, "add");
    sg_each_names_sort(&l);
    CHECK(l.n == 3 && !strcmp(l.names[0], "ab") && !strcmp(l.names[1], "b") && !strcmp(l.names[2], "c"),
          "the copies cut at len and at a NUL, sorted: %zu names", l.n);
    for (int k = 0; k < 100; k++) sg_each_names_add(&l, "x", 1, &err);   /* past the first capacity */
    CHECK(l.n == 103 && !strcmp(l.names[102], "x"), "grown to %zu", l.n);
    sg_each_names_free(&l);
    CHECK(l.n == 0 && !l.names && !l.cap, "freed: emptied");
    sg_each_names_sort(&l);   /* an empty list: nothing to sort */
    sg_each_names_free(&l);
}

static void paths(void)
{
    char p[64];
    sg_each_path(p, sizeof p, "out", 42, "input", "png");
    CHECK(!strcmp(p, "out/000042_input.png"), "%s", p);
    sg_each_path(p, sizeof p, "a b", 1234567, "+Bangs", "jpg");
    CHECK(!strcmp(p, "a b/1234567_+Bangs.jpg"), "%s (past six digits: no padding)", p);
    sg_each_path(p, sizeof p, ".", SG_EACH_NUMBER_MAX, "x", "png");
    CHECK(!strcmp(p, "./999999999999999_x.png"), "%s", p);
}

static void grammar(void)
{
    const char *labels[] = {"input", "+Bangs", "Black_Hair", "Male=0.5", "a.b", "hair@2", NULL};
    const char *listed[] = {"000007_old-name.jpg", "000008_with space.png", NULL};
    sg_each_known k = {names_of(listed), names_of(labels)};

    /* what sg_each_path writes for each label, and those numbers read back */
    expect_number("000042_input.png", &k, 1, 42);
    expect_number("000000_input.jpg", &k, 1, 0);
    expect_number("000001_+Bangs.png", &k, 1, 1);
    expect_number("000001_Black_Hair.jpg", &k, 1, 1);
    expect_number("000001_Male=0.5.png", &k, 1, 1);
    expect_number("000001_a.b.png", &k, 1, 1);
    expect_number("000001_hair@2.png", &k, 1, 1);
    expect_number("1000000_input.png", &k, 1, 1000000);
    expect_number("999999999999999_input.png", &k, 1, SG_EACH_NUMBER_MAX);   /* 15 digits */
    char path[64];
    sg_each_path(path, sizeof path, "d", 123456789, "Black_Hair", "jpg");
    expect_number(path + 2, &k, 1, 123456789);

    /* the number: six digits, more only without a leading 0, at most 15 */
    expect_number("1000000000000000_input.png", &k, 0, 0);   /* 16 digits */
    expect_number("9999999999999999999999_input.png", &k, 0, 0);   /* would overflow a long */
    expect_number("00042_input.png", &k, 0, 0);
    expect_number("0000042_input.png", &k, 0, 0);
    expect_number("_input.png", &k, 0, 0);
    expect_number("input.png", &k, 0, 0);
    expect_number("-00042_input.png", &k, 0, 0);
    expect_number(" 000042_input.png", &k, 0, 0);

    /* the separator, the extension and the label's characters */
    expect_number("000042input.png", &k, 0, 0);
    expect_number("000042-input.png", &k, 0, 0);
    expect_number("000042__input.png", &k, 0, 0);
    expect_number("000042_input.gif", &k, 0, 0);
    expect_number("000042_input.PNG", &k, 0, 0);
    expect_number("000042_input.jpeg", &k, 0, 0);
    expect_number("000042_input", &k, 0, 0);
    expect_number("000042_.png", &k, 0, 0);
    expect_number("000042_input.png.tmp.123", &k, 0, 0);   /* a write's temporary */
    expect_number("", &k, 0, 0);

    /* a label this checkpoint does not write: its prefix, a longer one, another */
    expect_number("000042_inpu.png", &k, 0, 0);
    expect_number("000042_inputs.png", &k, 0, 0);
    expect_number("000042_input.png.png", &k, 0, 0);
    expect_number("000042_Blond_Hair.png", &k, 0, 0);
    expect_number("20230815_142301.jpg", &k, 0, 0);   /* a camera's photo */

    /* targets.tsv's names count whatever their label, if the name is one --each could write */
    expect_number("000007_old-name.jpg", &k, 1, 7);
    expect_number("000007_old-name.png", &k, 0, 0);   /* only the name listed */
    expect_number("000008_with space.png", &k, 0, 0);   /* listed, but no --each name */

    /* nothing known: nothing is an output */
    sg_each_known none = {{0}, {0}};
    expect_number("000001_input.png", &none, 0, 0);
    sg_each_known_free(&k);
    CHECK(!k.labels.n && !k.listed.n, "known freed");
}

/* sg_each_next_output over a directory: the outputs once each, with their
 * numbers; other files and directories of an output's name skipped */
static void next_output(void)
{
    if (test_tmpdir_make("test_each_dir")) {
        CHECK(0, "no temporary directory");
        return;
    }
    const char *files[] = {"000001_input.png", "000001_x.png", "1000000_x.jpg", "photo.jpg", "000003_y.png",
                           "000004_input.png.tmp.99", "targets.tsv", "20230815_142301.jpg", NULL};
    for (const char **f = files; *f; f++) test_tmp_put(*f, "");
    mkdir(test_tmp_path("000002_input.png"), 0755);   /* a directory: no output */
    const char *labels[] = {"input", "x", NULL};
    sg_each_known k = {{0}, names_of(labels)};
    DIR *d = opendir(test_tmpdir);
    CHECK(d != NULL, "opendir %s", test_tmpdir);
    if (d) {
        int seen[3] = {0}, others = 0;
        long number;
        for (const char *name; (name = sg_each_next_output(d, &k, &number));) {
            if (!strcmp(name, "000001_input.png") && number == 1) seen[0]++;
            else if (!strcmp(name, "000001_x.png") && number == 1) seen[1]++;
            else if (!strcmp(name, "1000000_x.jpg") && number == 1000000) seen[2]++;
            else others++, printf("unexpected output %s (%ld)\n", name, number);
        }
        CHECK(seen[0] == 1 && seen[1] == 1 && seen[2] == 1 && others == 0,
              "outputs found: %d %d %d, %d others", seen[0], seen[1], seen[2], others);
        CHECK(sg_each_next_output(d, &k, &number) == NULL, "still at the end");
        closedir(d);
    }
    sg_each_known_free(&k);
    test_tmpdir_remove();
}

#define H SG_EACH_LIST_HEADER
#define ROW(name, n) name "\t" n "\tinput\tcelebA\t-\n"

/* sg_each_list_highest on list (a string), *bad_line checked on a refusal */
static void expect_highest(const char *what, const char *list, long want, long want_bad_line)
{
    long bad_line = -7;
    long got = sg_each_list_highest((const uint8_t *)list, strlen(list), &bad_line);
    CHECK(got == want, "%s: highest %ld, want %ld", what, got, want);
    if (want == -2) CHECK(bad_line == want_bad_line, "%s: bad line %ld, want %ld", what, bad_line, want_bad_line);
}

static void list_highest(void)
{
    expect_highest("empty", "", -2, 1);
    expect_highest("header alone", H, -1, 0);
    expect_highest("rows", H ROW("000001_input.png", "1") ROW("000003_+Bangs.png", "3") ROW("000002_x.png", "2"), 3, 0);
    expect_highest("no newline at the end", H ROW("000001_input.png", "1") "000009_input.png\t9\tinput\tcelebA\t-",
                   9, 0);
    expect_highest("leading zeros", H ROW("000007_input.png", "000007"), 7, 0);
    expect_highest("15 digits", H ROW("999999999999999_input.png", "999999999999999"), SG_EACH_NUMBER_MAX, 0);
    expect_highest("CRLF rows (a value of \"-\\r\")", H "000004_input.png\t4\tinput\tcelebA\t-\r\n", 4, 0);
    expect_highest("empty fields other than the first two",
                   H "000005_input.png\t5\t\t\t\n", 5, 0);

    /* the header */
    expect_highest("no newline after the header", "file\tinput\ttarget\tdataset\tvalue", -2, 1);
    expect_highest("another header", "file\tinput\ttarget\n" ROW("000001_input.png", "1"), -2, 1);
    expect_highest("a header in capitals", "FILE\tinput\ttarget\tdataset\tvalue\n", -2, 1);
    expect_highest("a BOM before the header", "\xef\xbb\xbf" H, -2, 1);

    /* the rows: five fields, the first not empty, the second a number of 1 to 15 digits */
    expect_highest("four fields", H ROW("000001_input.png", "1") "000002_input.png\t2\tinput\tcelebA\n", -2, 3);
    expect_highest("six fields", H "000002_input.png\t2\tinput\tcelebA\t-\textra\n", -2, 2);
    expect_highest("no first field", H "\t2\tinput\tcelebA\t-\n", -2, 2);
    expect_highest("no number", H ROW("000001_input.png", ""), -2, 2);
    expect_highest("a negative number", H ROW("000001_input.png", "-1"), -2, 2);
    expect_highest("a space before the number", H ROW("000001_input.png", " 1"), -2, 2);
    expect_highest("a letter after the number", H ROW("000001_input.png", "1x"), -2, 2);
    expect_highest("16 digits", H ROW("000001_input.png", "1000000000000000"), -2, 2);
    expect_highest("an empty line", H ROW("000001_input.png", "1") "\n" ROW("000002_input.png", "2"), -2, 3);
    expect_highest("a blank line at the end", H ROW("000001_input.png", "1") "\n", -2, 3);
    expect_highest("spaces for tabs", H "000001_input.png 1 input celebA -\n", -2, 2);
}

static void list_names(void)
{
    const char list[] = H ROW("000002_input.png", "2") "notab\n\n" "000001_a b.png\t1\t\t\t\n" "last\tx";
    sg_each_names names = {0};
    sg_err err = {{0}};
    CHECK(sg_each_names_add(&names, "kept", 4, &err) == 0, "add");
    CHECK(sg_each_list_names((const uint8_t *)list, sizeof list - 1, &names, &err) == 0, "list names: %s", err.msg);
    const char *want[] = {"", "000001_a b.png", "000002_input.png", "kept", "last", "notab"};
    int same = names.n == 6;
    for (size_t k = 0; same && k < 6; k++) same = !strcmp(names.names[k], want[k]);
    CHECK(same, "first fields, appended and sorted: %zu names", names.n);
    sg_each_names_free(&names);

    const char header_only[] = "file\tinput\ttarget\tdataset\tvalue";   /* no newline: no rows */
    CHECK(sg_each_list_names((const uint8_t *)header_only, sizeof header_only - 1, &names, &err) == 0 &&
          names.n == 0, "a header alone: %zu names", names.n);
    CHECK(sg_each_list_names((const uint8_t *)H, sizeof H - 1, &names, &err) == 0 && names.n == 0,
          "a header alone, with its newline: %zu names", names.n);
    sg_each_names_free(&names);
}

int main(void)
{
    names_list();
    paths();
    grammar();
    next_output();
    list_highest();
    list_names();
    return check_done();
}
