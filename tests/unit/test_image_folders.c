/* lib/image_folders.c: the class folders and image files celeb-pack --folders
 * lists, in ImageFolder's order, and what it counts as left out. */
#include "check.h"
#include "image_folders.h"
#include "test_tmpdir.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void make_dir(const char *rel) { mkdir(test_tmp_path(rel), 0755); }

static void make_link(const char *target, const char *rel)
{
    if (symlink(target, test_tmp_path(rel)) != 0) perror(rel);
}

/* The listing's names joined with spaces, compared with want. */
static void expect_names(const sg_dir_listing *l, const char *want, const char *what)
{
    char got[1024] = "";
    for (size_t i = 0; i < l->listed.n; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? " " : "", l->listed.names[i]);
    CHECK(!strcmp(got, want), "%s: names '%s', want '%s'", what, got, want);
}

static void test_image_names(void)
{
    const char *yes[] = {"a.jpg", "a.JPG", "a.jpeg", "a.JpEg", "a.png", "a.PNG", "x.tar.png", "0.jpg"};
    const char *no[] = {"a.gif", "a.bmp", "a.jpg.txt", "a.jpe", "jpg", "a_jpg", "a.pngx", "a.", ""};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) CHECK(sg_is_image_name(yes[i]), "'%s' is an image", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) CHECK(!sg_is_image_name(no[i]), "'%s' is no image", no[i]);
}

/* A dataset root: the classes sorted by bytes (upper case before lower, a
 * UTF-8 name last), links to folders among them, hidden ones and files not. */
static void test_folders(void)
{
    make_dir("root");
    make_dir("root/b");
    make_dir("root/a");
    make_dir("root/B");
    make_dir("root/a b");
    make_dir("root/\xc3\xa9t\xc3\xa9");
    make_dir("root/.hidden");
    make_dir("outside");
    make_link("../outside", "root/linked");
    make_link("nowhere", "root/dangling");
    test_tmp_put("root/readme.txt", "x\n");
    test_tmp_put("root/c.jpg", "x\n");
    test_tmp_put("root/.DS_Store", "x\n");

    sg_dir_listing l;
    sg_err err = {{0}};
    int rc = sg_list_folders(test_tmp_path("root"), &l, &err);
    CHECK(rc == 0, "list root: %s", err.msg);
    if (rc) return;
    expect_names(&l, "B a a b b linked \xc3\xa9t\xc3\xa9", "root");
    CHECK(l.n_other == 3, "root: %zu other entries, want 3 (readme.txt, c.jpg, dangling)", l.n_other);
    CHECK(l.n_nested == 0, "root: %zu nested files, want 0", l.n_nested);
    sg_dir_listing_free(&l);
    CHECK(l.listed.n == 0 && !l.listed.names, "freed listing is empty");

    /* a root with nothing to list */
    make_dir("none");
    make_dir("none/.git");
    rc = sg_list_folders(test_tmp_path("none"), &l, &err);
    CHECK(rc == 0 && l.listed.n == 0 && !l.listed.names && l.n_other == 0, "empty root: rc %d, %zu names, %zu other",
          rc, l.listed.n, l.n_other);
    sg_dir_listing_free(&l);
}

/* A class folder: image files sorted; other files and dangling links without
 * an image's name counted as other; files below it counted as nested, the
 * hidden ones neither. */
static void test_images(void)
{
    make_dir("cls");
    const char *images[] = {"cls/b.jpg", "cls/A.PNG", "cls/a.jpeg", "cls/10.jpg", "cls/9.jpg"};
    for (size_t i = 0; i < sizeof images / sizeof *images; i++) test_tmp_put(images[i], "x\n");
    test_tmp_put("cls/notes.txt", "x\n");
    test_tmp_put("cls/c.bmp", "x\n");
    test_tmp_put("cls/.d.jpg", "x\n");
    make_link("nowhere.jpg", "cls/gone.jpg");     /* listed: the reader says it is missing */
    make_link("nowhere", "cls/gone");              /* other */
    /* nested: 2 + 1 + 1 files; the hidden folder and file not; a folder
     * named like an image is a folder */
    test_tmp_put("cls/sub/1.jpg", "x\n");
    test_tmp_put("cls/sub/readme", "x\n");
    test_tmp_put("cls/sub/.h.jpg", "x\n");
    test_tmp_put("cls/sub/deeper/2.png", "x\n");
    test_tmp_put("cls/sub/.ipynb_checkpoints/3.jpg", "x\n");
    test_tmp_put("cls/e.jpg/4.jpg", "x\n");
    make_link("..", "cls/sub/up");                 /* a link to a folder below: not followed */
    make_link("nowhere", "cls/sub/dangling");      /* a file as far as the count goes */
    /* a link to a folder in the class folder is followed: 2 more */
    test_tmp_put("elsewhere/5.jpg", "x\n");
    test_tmp_put("elsewhere/6.jpg", "x\n");
    make_link("../elsewhere", "cls/linked");

    sg_dir_listing l;
    sg_err err = {{0}};
    int rc = sg_list_images(test_tmp_path("cls"), &l, &err);
    CHECK(rc == 0, "list cls: %s", err.msg);
    if (rc) return;
    expect_names(&l, "10.jpg 9.jpg A.PNG a.jpeg b.jpg gone.jpg", "cls");
    CHECK(l.n_other == 3, "cls: %zu other entries, want 3 (notes.txt, c.bmp, gone)", l.n_other);
    CHECK(l.n_nested == 7, "cls: %zu nested files, want 7 (sub: 4, e.jpg: 1, linked: 2)", l.n_nested);
    sg_dir_listing_free(&l);

    /* the same folder given with a trailing slash */
    char slash[600];
    snprintf(slash, sizeof slash, "%s/", test_tmp_path("cls"));
    rc = sg_list_images(slash, &l, &err);
    CHECK(rc == 0 && l.listed.n == 6 && l.n_other == 3 && l.n_nested == 7,
          "cls/: rc %d, %zu names, %zu other, %zu nested", rc, l.listed.n, l.n_other, l.n_nested);
    sg_dir_listing_free(&l);
}

/* Nested files are counted in the first 32 folders down, no deeper. */
static void test_depth_limit(void)
{
    char rel[512] = "deep";
    make_dir(rel);
    for (int depth = 0; depth < 40; depth++) {
        snprintf(rel + strlen(rel), sizeof rel - strlen(rel), "/%d", depth % 10);
        make_dir(rel);
        char file[600];
        snprintf(file, sizeof file, "%s/f.jpg", rel);
        test_tmp_put(file, "x\n");
    }
    sg_dir_listing l;
    sg_err err = {{0}};
    int rc = sg_list_images(test_tmp_path("deep"), &l, &err);
    CHECK(rc == 0 && l.listed.n == 0 && l.n_nested == 32, "deep: rc %d, %zu names, %zu nested (want 0, 32)", rc,
          l.listed.n, l.n_nested);
    sg_dir_listing_free(&l);
}

/* A folder that cannot be opened: "DIR: strerror", its errno, an empty listing. */
static void test_errors(void)
{
    sg_dir_listing l;
    sg_err err = {{0}};
    const char *missing = test_tmp_path("missing");
    char want[600];
    snprintf(want, sizeof want, "%s: %s", missing, strerror(ENOENT));
    int rc = sg_list_folders(missing, &l, &err);
    CHECK(rc == -1 && err.sys_errno == ENOENT && !strcmp(err.msg, want), "missing: rc %d, errno %d, '%s'", rc,
          err.sys_errno, err.msg);
    CHECK(l.listed.n == 0 && !l.listed.names, "missing: listing empty");
    rc = sg_list_images(test_tmp_path("root/readme.txt"), &l, &err);
    CHECK(rc == -1 && err.sys_errno == ENOTDIR, "a file: rc %d, errno %d", rc, err.sys_errno);
    CHECK(l.listed.n == 0 && !l.listed.names, "a file: listing empty");
}

int main(void)
{
    if (test_tmpdir_make("test_image_folders")) return 1;
    test_image_names();
    test_folders();
    test_images();
    test_depth_limit();
    test_errors();
    test_tmpdir_remove();
    return check_done();
}
