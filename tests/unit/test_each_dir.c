/* lib/each_dir.c: the names of sg-sample --each's files and what tells an
 * earlier run's outputs from the other files in its directory. */
#include "check.h"
#include "each_dir.h"
#include "test_tmpdir.h"
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A sorted list of the NULL-terminated names. */
static sg_names names_of(const char *const *names)
{
    sg_names l = {0};
    for (; *names; names++) CHECK(sg_names_add(&l, *names, strlen(*names)) == 0, "add %s", *names);
    sg_names_sort(&l);
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
    expect_number("000042_input.png.tmp.123.4", &k, 0, 0);
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
    sg_names names = {0};
    sg_err err = {{0}};
    CHECK(sg_names_add(&names, "kept", 4) == 0, "add");
    CHECK(sg_each_list_names((const uint8_t *)list, sizeof list - 1, &names, &err) == 0, "list names: %s", err.msg);
    const char *want[] = {"", "000001_a b.png", "000002_input.png", "kept", "last", "notab"};
    int same = names.n == 6;
    for (size_t k = 0; same && k < 6; k++) same = !strcmp(names.names[k], want[k]);
    CHECK(same, "first fields, appended and sorted: %zu names", names.n);
    sg_names_free(&names);

    const char header_only[] = "file\tinput\ttarget\tdataset\tvalue";   /* no newline: no rows */
    CHECK(sg_each_list_names((const uint8_t *)header_only, sizeof header_only - 1, &names, &err) == 0 &&
          names.n == 0, "a header alone: %zu names", names.n);
    CHECK(sg_each_list_names((const uint8_t *)H, sizeof H - 1, &names, &err) == 0 && names.n == 0,
          "a header alone, with its newline: %zu names", names.n);
    sg_names_free(&names);
}

/* sg_each_remove_command's text for labels (NULL-terminated) */
static void expect_command(const char *dir, long lo, long hi, const char *const *labels, int exts, const char *want)
{
    sg_names l = {0};
    sg_err err = {{0}};
    for (; *labels; labels++) sg_names_add(&l, *labels, strlen(*labels));   /* in this order */
    sg_buf cmd = SG_BUF_INIT;
    int rc = sg_each_remove_command(&cmd, dir, lo, hi, &l, exts, &err);
    const char *got = cmd.data ? cmd.data : "";
    CHECK(rc == 0 && !strcmp(got, want), "%ld..%ld:\n got  %s\n want %s", lo, hi, got, want);
    sg_buf_free(&cmd);
    sg_names_free(&l);
}

static void remove_command_text(void)
{
    const char *two[] = {"+Bangs", "input", NULL}, *one[] = {"input", NULL}, *odd[] = {"+Bangs", "a.b", "input", NULL};
    expect_command("out", 1, 1, two, SG_EACH_PNG, "rm -f -- out/000001_{+Bangs,input}.png");
    expect_command("out", 2, 3, one, SG_EACH_JPG, "rm -f -- out/{000002..000003}_input.jpg");
    expect_command("out", 2, 3, one, SG_EACH_PNG | SG_EACH_JPG, "rm -f -- out/{000002..000003}_input.{png,jpg}");
    const char *rev[] = {"input", "+Bangs", NULL};
    expect_command("out", 1, 1, rev, SG_EACH_PNG, "rm -f -- out/000001_{input,+Bangs}.png");   /* the order given */

    /* a range each side of 10^6: one range would pad its numbers below to 7 digits */
    expect_command("d", 999998, 1000001, one, SG_EACH_PNG,
                   "rm -f -- d/{999998..999999}_input.png d/{1000000..1000001}_input.png");
    expect_command("d", 999999, 1000000, one, SG_EACH_PNG, "rm -f -- d/999999_input.png d/1000000_input.png");
    expect_command("d", 1000000, 1000000, one, SG_EACH_PNG, "rm -f -- d/1000000_input.png");
    expect_command("d", 1000000, 1000005, one, SG_EACH_PNG, "rm -f -- d/{1000000..1000005}_input.png");

    /* past 4096 names: printf to xargs; past 100000 a loop over DIR */
    expect_command("d", 0, 2047, two, SG_EACH_PNG, "rm -f -- d/{000000..002047}_{+Bangs,input}.png");
    expect_command("d", 0, 2048, two, SG_EACH_PNG,
                   "printf '%s\\0' d/{000000..002048}_{+Bangs,input}.png | xargs -0 rm -f --");
    expect_command("d", 0, 1023, two, SG_EACH_PNG | SG_EACH_JPG,
                   "rm -f -- d/{000000..001023}_{+Bangs,input}.{png,jpg}");
    expect_command("d", 0, 1024, two, SG_EACH_PNG | SG_EACH_JPG,
                   "printf '%s\\0' d/{000000..001024}_{+Bangs,input}.{png,jpg} | xargs -0 rm -f --");
    expect_command("d", 1, 100000, one, SG_EACH_PNG, "printf '%s\\0' d/{000001..100000}_input.png | xargs -0 rm -f --");
    expect_command("d", 1, 100001, one, SG_EACH_PNG,
                   "for f in d/*; do if [[ ${f##*/} =~ ^([0-9]{6}|[1-9][0-9]{6,14})_(input)\\.png$ ]] && "
                   "((10#${BASH_REMATCH[1]} >= 1)); then rm -f -- \"$f\"; fi; done");
    expect_command("s p", 3, 20230815, odd, SG_EACH_PNG | SG_EACH_JPG,
                   "for f in 's p'/*; do if [[ ${f##*/} =~ ^([0-9]{6}|[1-9][0-9]{6,14})_(\\+Bangs|a\\.b|input)"
                   "\\.(png|jpg)$ ]] && ((10#${BASH_REMATCH[1]} >= 3)); then rm -f -- \"$f\"; fi; done");
    expect_command("d", 7, SG_EACH_NUMBER_MAX, one, SG_EACH_JPG,
                   "for f in d/*; do if [[ ${f##*/} =~ ^([0-9]{6}|[1-9][0-9]{6,14})_(input)\\.jpg$ ]] && "
                   "((10#${BASH_REMATCH[1]} >= 7)); then rm -f -- \"$f\"; fi; done");

    /* DIR as one shell word */
    expect_command("my outputs", 1, 2, two, SG_EACH_PNG, "rm -f -- 'my outputs'/{000001..000002}_{+Bangs,input}.png");
    expect_command("it's", 1, 1, one, SG_EACH_PNG, "rm -f -- 'it'\\''s'/000001_input.png");
    expect_command("two\nlines", 1, 1, one, SG_EACH_PNG, "rm -f -- $'two\\nlines'/000001_input.png");
    expect_command("-out", 1, 1, one, SG_EACH_PNG, "rm -f -- -out/000001_input.png");   /* after --: no option */
    expect_command("b{1..2}", 1, 1, one, SG_EACH_PNG, "rm -f -- 'b{1..2}'/000001_input.png");
    expect_command("=x", 1, 1, one, SG_EACH_PNG, "rm -f -- '=x'/000001_input.png");

    /* appended to what cmd holds */
    sg_names l = {0};
    sg_err err = {{0}};
    sg_names_add(&l, "input", 5);
    sg_buf cmd = SG_BUF_INIT;
    sg_buf_puts(&cmd, "before: ");
    CHECK(sg_each_remove_command(&cmd, "d", 1, 1, &l, SG_EACH_PNG, &err) == 0 &&
          !strcmp(cmd.data, "before: rm -f -- d/000001_input.png"), "appended: %s", cmd.data);
    sg_buf_free(&cmd);
    sg_names_free(&l);
}

/* 1 when the file rel (under the temporary directory) is there */
static int present(const char *dir, const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "%s/%s", dir, name);
    struct stat st;
    return lstat(test_tmp_path(rel), &st) == 0;
}

/* Runs sg_each_remove_command's command with bash in the temporary directory
 * on dir (a relative path, as a user gives -o) holding files; checks that
 * exactly the files of gone[] went. */
static void expect_removed(const char *dir, long lo, long hi, int exts, const char *const *gone,
                           const char *const *kept)
{
    char rel[256];
    mkdir(test_tmp_path(dir), 0755);
    for (int pass = 0; pass < 2; pass++)
        for (const char *const *f = pass ? kept : gone; *f; f++) {
            snprintf(rel, sizeof rel, "%s/%s", dir, *f);
            test_tmp_put(rel, "");
        }
    sg_names labels = {0};
    sg_err err = {{0}};
    sg_names_add(&labels, "+Bangs", 6);
    sg_names_add(&labels, "input", 5);
    sg_buf cmd = SG_BUF_INIT;
    CHECK(sg_each_remove_command(&cmd, dir, lo, hi, &labels, exts, &err) == 0, "command");
    test_tmp_put("cmd.sh", cmd.data);
    char run[600];
    snprintf(run, sizeof run, "cd '%s' && bash cmd.sh", test_tmpdir);
    int st = system(run);
    CHECK(st == 0, "bash failed (%d): %s", st, cmd.data);
    for (const char *const *f = gone; *f; f++) CHECK(!present(dir, *f), "%s: %s not removed by %s", dir, *f, cmd.data);
    for (const char *const *f = kept; *f; f++) CHECK(present(dir, *f), "%s: %s removed by %s", dir, *f, cmd.data);
    sg_buf_free(&cmd);
    sg_names_free(&labels);
}

/* what bash does with the commands, in directories of awkward names */
static void remove_command_run(void)
{
    if (test_tmpdir_make("test_each_dir")) {
        CHECK(0, "no temporary directory");
        return;
    }
    const char *dirs[] = {"s p", "it's", "new\nline", "-dash", "--", "\"dq\" $HOME `id` *", "b{1..2}", "tab\there",
                          "caf\xc3\xa9", "\xff\x1b[31m", NULL};
    const char *gone[] = {"000002_input.png", "000002_+Bangs.png", "000003_input.png", NULL};
    const char *kept[] = {"000001_input.png", "000004_input.png", "000002_input.jpg", "000002_other.png",
                          "photo.png", NULL};
    for (const char **d = dirs; *d; d++) expect_removed(*d, 2, 3, SG_EACH_PNG, gone, kept);

    /* each side of 10^6 */
    const char *gone_m[] = {"999999_input.png", "1000000_+Bangs.png", "1000001_input.png", NULL};
    const char *kept_m[] = {"0999999_input.png", "01000000_input.png", "999998_input.png", "1000002_input.png", NULL};
    expect_removed("million", 999999, 1000001, SG_EACH_PNG, gone_m, kept_m);

    /* printf to xargs: both types */
    const char *gone_x[] = {"000002_input.png", "000002_input.jpg", "002999_+Bangs.jpg", "003000_input.png", NULL};
    const char *kept_x[] = {"000001_input.png", "003001_input.png", "000002_other.png", "000002_input.gif", NULL};
    expect_removed("-x y", 2, 3000, SG_EACH_PNG | SG_EACH_JPG, gone_x, kept_x);

    /* the loop: every name of the grammar numbered lo or above */
    const char *gone_l[] = {"000002_input.png", "000003_+Bangs.png", "20230815_input.png",
                            "999999999999999_input.png", NULL};
    const char *kept_l[] = {"000001_input.png", "000002_input.jpg", "000002_other.png", "0000005_input.png",
                            "00005_input.png", "20230815_142301.png", "000002_+Bangsx.png", "000002_input.png.tmp.9",
                            "x000002_input.png", NULL};
    expect_removed("loop 'q'", 2, 20230815, SG_EACH_PNG, gone_l, kept_l);
    test_tmpdir_remove();
}

/* sg_each_scan_dir over the temporary directory */
static sg_each_scan scan_of(const sg_each_known *k, long highest_listed)
{
    sg_each_scan s;
    sg_err err = {{0}};
    DIR *d = opendir(test_tmpdir);
    CHECK(d && sg_each_scan_dir(d, k, highest_listed, &s, &err) == 0, "scan: %s", err.msg);
    if (d) closedir(d);
    return s;
}

static int labels_are(const sg_names *l, const char *const *want)
{
    size_t n = 0;
    for (; want[n]; n++)
        if (n >= l->n || strcmp(l->names[n], want[n])) return 0;
    return n == l->n;
}

static void scan(void)
{
    if (test_tmpdir_make("test_each_dir")) {
        CHECK(0, "no temporary directory");
        return;
    }
    const char *files[] = {"000001_input.png", "000001_+Bangs.png", "000002_input.png", "000005_x.jpg",
                           "000004_+Bangs.png", "20230815_input.png", "photo.jpg", "000009_other.png",
                           "targets.tsv", NULL};
    for (const char **f = files; *f; f++) test_tmp_put(*f, "");
    mkdir(test_tmp_path("000003_input.png"), 0755);
    const char *labels[] = {"input", "+Bangs", "x", NULL};
    sg_each_known k = {{0}, names_of(labels)};

    sg_each_scan s = scan_of(&k, 1);
    CHECK(s.count == 6 && s.above == 4 && s.lo == 2 && s.hi == 20230815, "above 1: count %ld, above %ld, %ld..%ld",
          s.count, s.above, s.lo, s.hi);
    CHECK(!strcmp(s.first[0], "000002_input.png") && !strcmp(s.first[1], "000004_+Bangs.png") &&
          !strcmp(s.first[2], "000005_x.jpg"), "above 1: first %s, %s, %s", s.first[0], s.first[1], s.first[2]);
    const char *all[] = {"+Bangs", "input", "x", NULL};
    CHECK(labels_are(&s.labels, all), "above 1: %zu labels, each once, sorted", s.labels.n);
    CHECK(s.exts == (SG_EACH_PNG | SG_EACH_JPG), "above 1: types %d", s.exts);
    sg_each_scan_free(&s);

    s = scan_of(&k, -1);   /* no list: every output is above */
    CHECK(s.count == 6 && s.above == 6 && s.lo == 1 && s.hi == 20230815, "no list: count %ld, above %ld, %ld..%ld",
          s.count, s.above, s.lo, s.hi);
    CHECK(!strcmp(s.first[0], "000001_+Bangs.png") && !strcmp(s.first[1], "000001_input.png") &&
          !strcmp(s.first[2], "000002_input.png"), "no list: first %s, %s, %s", s.first[0], s.first[1], s.first[2]);
    sg_each_scan_free(&s);

    s = scan_of(&k, 5);
    const char *input[] = {"input", NULL};
    CHECK(s.count == 6 && s.above == 1 && s.lo == 20230815 && s.hi == 20230815 && s.exts == SG_EACH_PNG &&
          labels_are(&s.labels, input) && !strcmp(s.first[0], "20230815_input.png") && !s.first[1][0],
          "above 5: count %ld, above %ld, %ld..%ld, types %d", s.count, s.above, s.lo, s.hi, s.exts);
    sg_each_scan_free(&s);

    s = scan_of(&k, 20230815);   /* a whole run */
    CHECK(s.count == 6 && s.above == 0 && s.lo == LONG_MAX && s.hi == -1 && s.exts == 0 && s.labels.n == 0 &&
          !s.first[0][0], "all listed: count %ld, above %ld, %ld..%ld", s.count, s.above, s.lo, s.hi);
    sg_each_scan_free(&s);
    sg_each_known_free(&k);
    test_tmpdir_remove();

    /* the first three names whatever order readdir gives: 40 files */
    if (test_tmpdir_make("test_each_dir")) return;
    for (int i = 0; i < 40; i++) {
        char name[32];
        snprintf(name, sizeof name, "%06d_input.png", (i * 17) % 40 + 100);
        test_tmp_put(name, "");
    }
    k = (sg_each_known){{0}, names_of(input)};
    s = scan_of(&k, 101);
    CHECK(s.count == 40 && s.above == 38 && s.lo == 102 && s.hi == 139 && !strcmp(s.first[0], "000102_input.png") &&
          !strcmp(s.first[1], "000103_input.png") && !strcmp(s.first[2], "000104_input.png"),
          "40 files: count %ld, above %ld, first %s, %s, %s", s.count, s.above, s.first[0], s.first[1], s.first[2]);
    sg_each_scan_free(&s);
    sg_each_known_free(&k);
    test_tmpdir_remove();
}

int main(void)
{
    paths();
    grammar();
    next_output();
    list_highest();
    list_names();
    remove_command_text();
    remove_command_run();
    scan();
    return check_done();
}
