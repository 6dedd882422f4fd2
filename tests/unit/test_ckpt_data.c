/* lib/ckpt_data: which of a checkpoint's datasets a shard belongs to (its
 * labels in any order, --dataset, the run's record of its shards, the
 * datasets' names) and the crop image files are framed with (the
 * checkpoint's, or for an older build's the run's shard's), on checkpoint
 * records made up here; the runs' config.json written by sg_run_write_config
 * over real shards, and read back by sg_run_shard_paths. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "check.h"
#include "ckpt_data.h"
#include "fileio.h"
#include "run_config.h"
#include "test_tmpdir.h"
#include "train_fixture.h"

/* A checkpoint's record of n datasets: their names, labels (all datasets'
 * names in order) and kinds; 8 px images; each dataset's crop recorded as
 * crops[ds] (older: as an older build's file reads, the first's for all, none
 * recorded). labels must outlive ck. */
static void make_info(sg_ckpt_info *ck, int n, const char *const *names, const int *label_dim, const int *one_hot,
                      char **labels, const int *crops, int older)
{
    memset(ck, 0, sizeof *ck);
    ck->model.image_size = 8;
    ck->model.n_datasets = n;
    for (int ds = 0; ds < n; ds++) {
        snprintf(ck->dataset_names[ds], SG_CKPT_NAME_MAX, "%s", names[ds]);
        ck->model.label_dim[ds] = label_dim[ds];
        ck->model.one_hot[ds] = one_hot[ds];
        ck->n_labels += label_dim[ds];
        ck->dataset_crop[ds] = older ? crops[0] : crops[ds];
        ck->dataset_crop_recorded[ds] = !older;
    }
    ck->label_names = labels;
    ck->crop = crops[0];
    ck->has_dataset_crops = 1;
}

/* A shard's metadata of 8 px images with these labels */
static sg_shard_meta shard_meta(int n, const char *const *labels, int one_hot, int crop)
{
    sg_shard_meta m = {0};
    m.width = m.height = 8;
    m.channels = 3;
    m.n_labels = (uint32_t)n;
    m.label_kind = one_hot ? SG_LABELS_ONE_HOT : SG_LABELS_MULTI_HOT;
    for (int i = 0; i < n; i++) m.label_names[i] = (char *)labels[i];
    m.crop = (uint32_t)crop;
    return m;
}

/* The checkpoint's G file the label mismatches name */
static const char G[] = "/r/ckpt/000100-G.safetensors";

/* celebA (three attributes) and rafd (two expressions, one-hot) */
static char *two_labels[] = {"Black_Hair", "Blond_Hair", "Male", "angry", "happy"};
static const char *two_names[] = {"celebA", "rafd"};
static const int two_dims[] = {3, 2}, two_one_hot[] = {0, 1}, no_crops[] = {0, 0};

/* A shard's labels in any order are its dataset's (map: each to its
 * place), never with a label named twice, another kind or another count. */
static void test_labels_fit(void)
{
    sg_ckpt_info ck;
    make_info(&ck, 2, two_names, two_dims, two_one_hot, two_labels, no_crops, 0);
    int map[8];
    const char *celeb[3] = {"Male", "Black_Hair", "Blond_Hair"};
    sg_shard_meta m = shard_meta(3, celeb, 0, 0);
    CHECK(sg_ckpt_labels_fit(&ck, &m, 0, map) && map[0] == 2 && map[1] == 0 && map[2] == 1,
          "celebA's labels reordered: map %d %d %d", map[0], map[1], map[2]);
    CHECK(!sg_ckpt_labels_fit(&ck, &m, 1, map), "celebA's labels fit rafd");
    const char *twice[3] = {"Male", "Male", "Blond_Hair"};
    m = shard_meta(3, twice, 0, 0);
    CHECK(!sg_ckpt_labels_fit(&ck, &m, 0, map), "a label named twice fits");
    const char *rafd[2] = {"happy", "angry"};
    m = shard_meta(2, rafd, 1, 0);
    CHECK(sg_ckpt_labels_fit(&ck, &m, 1, map) && map[0] == 1 && map[1] == 0, "rafd's labels: map %d %d", map[0],
          map[1]);
    m = shard_meta(2, rafd, 0, 0);
    CHECK(!sg_ckpt_labels_fit(&ck, &m, 1, map), "multi-hot labels fit a one-hot dataset");
    m = shard_meta(2, celeb + 1, 0, 0);
    CHECK(!sg_ckpt_labels_fit(&ck, &m, 0, map), "two of celebA's three labels fit it");
}

/* Whether msg is "PATH: labels ..." whole: it starts with the path, holds
 * at most SG_ERR_TAIL bytes after it (then sg_err never cuts the rest) and
 * each of parts[0..n) in order, the last at its end. */
static int message_whole(const char *msg, const char *path, const char *const *parts, int n)
{
    size_t pl = strlen(path);
    if (strncmp(msg, path, pl) || strncmp(msg + pl, ": labels ", 9) || strlen(msg + pl) > SG_ERR_TAIL) return 0;
    const char *at = msg + pl;
    for (int i = 0; i < n; i++) {
        const char *hit = strstr(at, parts[i]);
        if (!hit) return 0;
        at = hit + strlen(parts[i]);
    }
    return *at == 0;
}

/* n labels "Attribute_000", "Attribute_001" ...: their text in text,
 * pointers to it in names. */
static void attribute_names(char (*text)[16], const char **names, int n)
{
    for (int i = 0; i < n; i++) {
        snprintf(text[i], sizeof text[i], "Attribute_%03d", i);
        names[i] = text[i];
    }
}

/* A label list too long for the message ends ", ..." after its last whole
 * name (room kept for it): the shard's (60 names of 13 letters) and a
 * checkpoint's dataset's (45); each was cut inside a name with no mark. */
static void test_match_shard_cut(void)
{
    static char names[60][16];
    static char *ck_labels[48];
    const char *shard_labels[60];
    attribute_names(names, shard_labels, 60);
    int ds = -1, map[SG_SHARD_MAX_LABELS];
    sg_err err = {{0}};
    sg_buf note = SG_BUF_INIT;
    sg_ckpt_info ck;
    make_info(&ck, 2, two_names, two_dims, two_one_hot, two_labels, no_crops, 0);
    sg_shard_meta m = shard_meta(60, shard_labels, 0, 0);
    const char *none[] = {": labels Attribute_000,Attribute_001,", ", ... match none of the datasets of /r/ckpt/000100-G.safetensors "
                          "(Black_Hair,Blond_Hair,Male; angry,happy); give a shard packed with one of those label lists"};
    CHECK(sg_ckpt_match_shard(&ck, &m, "/d/x.lmdb", NULL, "", G, &ds, map, &note, &err) == -1 &&
          message_whole(err.msg, "/d/x.lmdb", none, 2), "the shard's list cut: %s", err.msg);

    for (int i = 0; i < 45; i++) ck_labels[i] = names[i];
    ck_labels[45] = "Black_Hair", ck_labels[46] = "Blond_Hair", ck_labels[47] = "Male";
    const char *ds_names[2] = {"many", "celebA"};
    const int dims[2] = {45, 3}, multi[2] = {0, 0};
    make_info(&ck, 2, ds_names, dims, multi, ck_labels, no_crops, 0);
    const char *celeb[2] = {"Male", "Black_Hair"};
    m = shard_meta(2, celeb, 0, 0);
    const char *theirs[] = {"Male,Black_Hair match none of the datasets of /r/ckpt/000100-G.safetensors "
                            "(Attribute_000,", "7, ...); give a shard packed with one of those label lists"};
    CHECK(sg_ckpt_match_shard(&ck, &m, "/d/x.lmdb", NULL, "", G, &ds, map, &note, &err) == -1 &&
          message_whole(err.msg, "/d/x.lmdb", theirs, 2), "the checkpoint's lists cut: %s", err.msg);
    const char *asked[] = {"Male,Black_Hair (multi-hot) are not those of dataset 1 many (--dataset) of "
                           "/r/ckpt/000100-G.safetensors, which are Attribute_000,", "1, ... (multi-hot); no "
                           "dataset of the checkpoint has them: give a shard packed with dataset 1 many's labels"};
    CHECK(sg_ckpt_match_shard(&ck, &m, "/d/x.lmdb", "many", "", G, &ds, map, &note, &err) == -1 &&
          message_whole(err.msg, "/d/x.lmdb", asked, 2), "--dataset many: %s", err.msg);
    sg_buf_free(&note);
}

/* The shard's long list cut, --dataset's short one is whole, whatever
 * room the first leaves: label_list kept room for ", ..." after a list's
 * last name too, so the short list, given just what it needs, lost its
 * last name ("Black_Hair,Blond_Hair, ...") for some lengths of the rest of
 * the message (here the dataset's name, 1 to 20 bytes). */
static void test_match_shard_short_list_whole(void)
{
    static char names[60][16];
    const char *shard_labels[60];
    attribute_names(names, shard_labels, 60);
    static char *labels[3] = {"Black_Hair", "Blond_Hair", "Male"};
    sg_shard_meta m = shard_meta(60, shard_labels, 0, 0);
    int ds = -1, map[60];
    sg_err err = {{0}};
    sg_buf note = SG_BUF_INIT;
    for (int n = 1; n <= 20; n++) {
        char name[32];
        memset(name, 'n', (size_t)n);
        name[n] = 0;
        const char *ds_names[1] = {name};
        sg_ckpt_info ck;
        make_info(&ck, 1, ds_names, (const int[1]){3}, (const int[1]){0}, labels, (const int[1]){0}, 0);
        CHECK(sg_ckpt_match_shard(&ck, &m, "/d/x.lmdb", "1", "", G, &ds, map, &note, &err) == -1 &&
              strstr(err.msg, ", ... (multi-hot) are not those of dataset 1 ") &&
              strstr(err.msg, "which are Black_Hair,Blond_Hair,Male (multi-hot); ") &&
              strlen(err.msg + strlen("/d/x.lmdb")) <= SG_ERR_TAIL, "a name of %d bytes: %s", n, err.msg);
    }
    sg_buf_free(&note);
}

/* The worst case: eight datasets of long names (127 bytes, escapes in
 * them), 256 labels of long names each (escaped too), the shard's labels
 * those of seven, and --dataset naming the eighth; and no --dataset with
 * labels of none; the checkpoint's G file a path of 4000 bytes, named by
 * its end in 127 (a '/' 124 bytes from it). Each message is whole (never cut
 * by sg_err, which drops its middle): it starts with the shard, and its
 * advice is at its end; with a shard path of 4000 bytes only that path is
 * cut. Both messages passed 1023 bytes and lost their middle. */
static void test_match_shard_worst(void)
{
    enum { N = SG_MAX_DATASETS, L = SG_SHARD_MAX_LABELS };
    static char label_text[2][L][80], *ck_labels[N * L];
    const char *ds_names[N], *shard_labels[L];
    static char ds_text[N][SG_CKPT_NAME_MAX];
    int dims[N], multi[N] = {0};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < L; i++)
            snprintf(label_text[k][i], sizeof label_text[k][i], "%s_\x01_a_long_attribute_name_%03d_%s",
                     k ? "other" : "shard", i, "and_more_of_it_still");
    for (int d = 0; d < N; d++) {
        memset(ds_text[d], 'd', SG_CKPT_NAME_MAX - 1);
        ds_text[d][SG_CKPT_NAME_MAX - 1] = 0;
        ds_text[d][3] = '\x1b', ds_text[d][0] = (char)('1' + d);
        ds_names[d] = ds_text[d];
        dims[d] = L;
        for (int i = 0; i < L; i++) ck_labels[d * L + i] = label_text[d == 0][i];
    }
    for (int i = 0; i < L; i++) shard_labels[i] = label_text[0][i];
    sg_ckpt_info ck;
    make_info(&ck, N, ds_names, dims, multi, ck_labels, (const int[N]){0}, 0);
    sg_shard_meta m = shard_meta(L, shard_labels, 0, 0);
    int ds = -1, map[L];
    sg_err err = {{0}};
    sg_buf note = SG_BUF_INIT;
    /* the G file: /ggg.../hhh\x1bhhh.../ckpt/000100-G.safetensors, its last
     * 124 bytes from the '/' before the h's */
    static const char g_end[] = "/ckpt/000100-G.safetensors";
    static char long_g[4001], shown[160], after_ds[200], before_list[200];
    memset(long_g, 'g', 4000);
    long_g[0] = '/';
    memset(long_g + 4000 - 124, 'h', 124);
    long_g[4000 - 124] = '/';
    long_g[4000 - 100] = '\x1b';
    memcpy(long_g + 4000 - strlen(g_end), g_end, sizeof g_end);
    snprintf(shown, sizeof shown, "...%s", long_g + 4000 - 124);
    CHECK(strlen(shown) == 127 && !strncmp(shown, ".../hhh", 7), "the G file's end: %s", shown);
    snprintf(after_ds, sizeof after_ds, " (--dataset) of %s, which are other_", shown);
    const char *asked[] = {" (multi-hot) are not those of dataset 1 ", after_ds,
                           ", ... (multi-hot); they are those of datasets 2 ", ", ...: give one of those to --dataset"};
    CHECK(sg_ckpt_match_shard(&ck, &m, "/d/x.lmdb", "1", "", long_g, &ds, map, &note, &err) == -1 &&
          message_whole(err.msg, "/d/x.lmdb", asked, 4), "--dataset 1: %s", err.msg);
    static char long_path[4001];
    memset(long_path, 'p', 4000);
    long_path[0] = '/';
    CHECK(sg_ckpt_match_shard(&ck, &m, long_path, "1", "", long_g, &ds, map, &note, &err) == -1 &&
          !strncmp(err.msg, "/ppp", 4) && strstr(err.msg, "pp ... pp") && strstr(err.msg, "pp: labels shard_") &&
          message_whole(strstr(err.msg, "pp: labels ") + 2, "", asked, 4), "a long path: %s", err.msg);

    for (int d = 0; d < N; d++)
        for (int i = 0; i < L; i++) ck_labels[d * L + i] = label_text[1][i];
    snprintf(before_list, sizeof before_list, " match none of the datasets of %s (other_", shown);
    const char *none[] = {before_list, ", ...); give a shard packed with one of those label lists"};
    CHECK(sg_ckpt_match_shard(&ck, &m, "/d/x.lmdb", NULL, "", long_g, &ds, map, &note, &err) == -1 &&
          message_whole(err.msg, "/d/x.lmdb", none, 2), "labels of none: %s", err.msg);
    CHECK(sg_ckpt_match_shard(&ck, &m, long_path, NULL, "", long_g, &ds, map, &note, &err) == -1 &&
          strstr(err.msg, "pp ... pp") && strstr(err.msg, "pp: labels shard_") &&
          message_whole(strstr(err.msg, "pp: labels ") + 2, "", none, 2), "labels of none, a long path: %s", err.msg);
    sg_buf_free(&note);
}

/* How a label mismatch names the checkpoint's G file: its shell word (a
 * space quoted); the path as it is when only the word is too long (escapes);
 * a long path by its end from a '/', or from a character's first byte when
 * its last name alone is long (never inside a UTF-8 character). */
static void test_match_shard_ckpt_named(void)
{
    sg_ckpt_info ck;
    make_info(&ck, 2, two_names, two_dims, two_one_hot, two_labels, no_crops, 0);
    const char *rafd[2] = {"happy", "angry"};
    sg_shard_meta m = shard_meta(2, rafd, 0, 0);   /* multi-hot: of none */
    int ds = -1, map[8];
    sg_err err = {{0}};
    sg_buf note = SG_BUF_INIT;
    CHECK(sg_ckpt_match_shard(&ck, &m, "/d/x.lmdb", NULL, "", "/r/my run/ckpt/000100-G.safetensors", &ds, map, &note,
                              &err) == -1 &&
          strstr(err.msg, " match none of the datasets of '/r/my run/ckpt/000100-G.safetensors' (Black_Hair,"),
          "a path with a space: %s", err.msg);
    char escaped[128];   /* 100 bytes, each written \xHH in the word */
    memset(escaped, '\x01', 100);
    memcpy(escaped, "/r/", 3);
    escaped[100] = 0;
    char want[256];
    snprintf(want, sizeof want, " match none of the datasets of %s (Black_Hair,", escaped);
    CHECK(sg_ckpt_match_shard(&ck, &m, "/d/x.lmdb", NULL, "", escaped, &ds, map, &note, &err) == -1 &&
          strstr(err.msg, want), "a word too long, a path that fits: %s", err.msg);
    /* a name of 200 two-byte characters: the end from a character's first byte */
    char long_name[512] = "/r/";
    for (int i = 0; i < 200; i++) strcat(long_name, "\xc3\xa9");
    strcat(long_name, "x-G.safetensors");
    const char *end = long_name + strlen(long_name) - 124 + 1;   /* the 124th byte from the end: an 0xa9 */
    snprintf(want, sizeof want, " match none of the datasets of ...%s (Black_Hair,", end);
    CHECK(sg_ckpt_match_shard(&ck, &m, "/d/x.lmdb", NULL, "", long_name, &ds, map, &note, &err) == -1 &&
          strstr(err.msg, want) && (unsigned char)end[-1] == 0xa9, "a long last name: %s", err.msg);

    /* the note of a shard named like none of the datasets of its labels, and
     * the error of several named like it, name it alike */
    static char *split_labels[] = {"Black_Hair", "Blond_Hair", "Male", "Black_Hair", "Blond_Hair", "Male"};
    const char *split_names[2] = {"train", "test"};
    make_info(&ck, 2, split_names, (const int[2]){3, 3}, (const int[2]){0, 0}, split_labels, no_crops, 0);
    const char *celeb[3] = {"Male", "Black_Hair", "Blond_Hair"};
    m = shard_meta(3, celeb, 0, 0);
    CHECK(sg_ckpt_match_shard(&ck, &m, "/d/other.lmdb", NULL, "", "/r/my run/ckpt/000100-G.safetensors", &ds, map,
                              &note, &err) == 0 && ds == 0 && note.data &&
          strstr(note.data, "datasets 1 train, 2 test of '/r/my run/ckpt/000100-G.safetensors', and it is named "),
          "the note, a path with a space: %s", note.data ? note.data : err.msg);
    sg_buf_free(&note);
    CHECK(sg_ckpt_match_shard(&ck, &m, "/d/other.lmdb", NULL, "", long_name, &ds, map, &note, &err) == 0 &&
          note.data && strstr(note.data, end) && strstr(note.data, " test of ...") &&
          strstr(note.data, "-G.safetensors, and it is named "), "the note, a long path: %s",
          note.data ? note.data : err.msg);
    sg_buf_free(&note);
    /* the worst case: eight datasets of one long name (escapes in it), a
     * shard path and a G file of 4000 bytes: whole, the advice at its end */
    enum { N = SG_MAX_DATASETS };
    static char ds_name[SG_CKPT_NAME_MAX], *many_labels[N * 3], long_g[4001], long_shard[4001];
    memset(ds_name, 'n', SG_CKPT_NAME_MAX - 1);
    ds_name[5] = '\x1b';
    const char *many_names[N];
    int dims[N], multi[N] = {0}, crops[N] = {0};
    for (int d = 0; d < N; d++) {
        many_names[d] = ds_name;
        dims[d] = 3;
        for (int i = 0; i < 3; i++) many_labels[d * 3 + i] = split_labels[i];
    }
    make_info(&ck, N, many_names, dims, multi, many_labels, crops, 0);
    memset(long_g, 'g', 4000);
    long_g[0] = '/';
    memcpy(long_g + 4000 - 33, "/my run/ckpt/000100-G.safetensors", 34);
    memset(long_shard, 's', 4000);
    long_shard[0] = '/';
    snprintf(long_shard + 4000 - strlen(ds_name) - 6, strlen(ds_name) + 7, "/%s.lmdb", ds_name);
    CHECK(sg_ckpt_match_shard(&ck, &m, long_shard, NULL, "", long_g, &ds, map, &note, &err) == -1 &&
          !strncmp(err.msg, "/sss", 4) && strstr(err.msg, ".lmdb: datasets 1 'nnnnn\\x1bnn") &&
          strstr(err.msg, "...' of .../my run/ckpt/000100-G.safetensors are named like it and have its labels; "
                 "choose one with --dataset N") &&
          strlen(strstr(err.msg, ".lmdb: datasets ") + 5) <= SG_ERR_TAIL, "two named like it, long: %s", err.msg);
    sg_buf_free(&note);
}

/* sg_ckpt_match_shard without a run: the one dataset of the labels,
 * --dataset, and of datasets of the same labels the one named like the
 * shard, or the first with a note; the errors' words. */
static void test_match_shard(void)
{
    sg_ckpt_info ck;
    make_info(&ck, 2, two_names, two_dims, two_one_hot, two_labels, no_crops, 0);
    int ds = -1, map[8];
    sg_err err = {{0}};
    sg_buf note = SG_BUF_INIT;
    const char *rafd[2] = {"happy", "angry"};
    sg_shard_meta m = shard_meta(2, rafd, 1, 0);
    CHECK(sg_ckpt_match_shard(&ck, &m, "/d/x.lmdb", NULL, "", G, &ds, map, &note, &err) == 0 && ds == 1 &&
          map[0] == 1 && note.len == 0, "rafd's labels: dataset %d, note '%s': %s", ds, note.data ? note.data : "",
          err.msg);
    ds = -1;
    CHECK(sg_ckpt_match_shard(&ck, &m, "/d/x.lmdb", "rafd", "", G, &ds, map, &note, &err) == 0 && ds == 1,
          "--dataset rafd: %d", ds);
    CHECK(sg_ckpt_match_shard(&ck, &m, "/d/x.lmdb", "1", "", G, &ds, map, &note, &err) == -1 &&
          !strcmp(err.msg, "/d/x.lmdb: labels happy,angry (one-hot) are not those of dataset 1 celebA (--dataset) of "
                  "/r/ckpt/000100-G.safetensors, which are Black_Hair,Blond_Hair,Male (multi-hot); they are dataset 2 rafd's: give --dataset 2, "
                  "or no --dataset"), "--dataset 1: %s", err.msg);
    const char *angry[2] = {"angry", "sad"};
    sg_shard_meta other = shard_meta(2, angry, 1, 0);
    CHECK(sg_ckpt_match_shard(&ck, &other, "/d/x.lmdb", "rafd", "", G, &ds, map, &note, &err) == -1 &&
          !strcmp(err.msg, "/d/x.lmdb: labels angry,sad (one-hot) are not those of dataset 2 rafd (--dataset) of "
                  "/r/ckpt/000100-G.safetensors, which are angry,happy (one-hot); no dataset of the checkpoint has them: give a shard packed with "
                  "dataset 2 rafd's labels"), "--dataset rafd, labels of none: %s", err.msg);
    CHECK(sg_ckpt_match_shard(&ck, &m, "/d/x.lmdb", "3", "", G, &ds, map, &note, &err) == -1 &&
          !strncmp(err.msg, "--dataset 3: no dataset 3", 25), "--dataset 3: %s", err.msg);
    m = shard_meta(2, rafd, 0, 0);
    CHECK(sg_ckpt_match_shard(&ck, &m, "/d/x.lmdb", NULL, "", G, &ds, map, &note, &err) == -1 &&
          !strcmp(err.msg, "/d/x.lmdb: labels happy,angry match none of the datasets of "
                  "/r/ckpt/000100-G.safetensors (Black_Hair,Blond_Hair,Male; angry,happy); give a shard packed with one of those label lists"),
          "multi-hot rafd: %s", err.msg);
    CHECK(note.len == 0, "a note without a choice: %s", note.data);

    /* a training and a test split: the same labels */
    static char *split_labels[] = {"Black_Hair", "Blond_Hair", "Male", "Black_Hair", "Blond_Hair", "Male"};
    const char *split_names[2] = {"train", "test"};
    const int dims[2] = {3, 3}, multi[2] = {0, 0};
    make_info(&ck, 2, split_names, dims, multi, split_labels, no_crops, 0);
    const char *celeb[3] = {"Male", "Black_Hair", "Blond_Hair"};
    m = shard_meta(3, celeb, 0, 0);
    ds = -1;
    CHECK(sg_ckpt_match_shard(&ck, &m, "/d/test.lmdb", NULL, "", G, &ds, map, &note, &err) == 0 && ds == 1 &&
          note.len == 0 && map[0] == 2, "test.lmdb: dataset %d, note '%s'", ds, note.data ? note.data : "");
    CHECK(sg_ckpt_match_shard(&ck, &m, "/d/other.lmdb", NULL, "", G, &ds, map, &note, &err) == 0 && ds == 0 &&
          note.data && !strcmp(note.data, "/d/other.lmdb: its labels are those of datasets 1 train, 2 test of "
                               "/r/ckpt/000100-G.safetensors, and it is named like none of them; taking it as "
                               "dataset 1 train (choose with --dataset N|NAME)"),
          "other.lmdb: dataset %d, note '%s'", ds, note.data ? note.data : "");
    sg_buf_free(&note);
    const char *same_names[2] = {"x", "x"};
    make_info(&ck, 2, same_names, dims, multi, split_labels, no_crops, 0);
    CHECK(sg_ckpt_match_shard(&ck, &m, "/d/x.lmdb", NULL, "", G, &ds, map, &note, &err) == -1 &&
          !strcmp(err.msg, "/d/x.lmdb: datasets 1 x, 2 x of /r/ckpt/000100-G.safetensors are named like it and "
                  "have its labels; choose one with --dataset N"), "two named like it: %s", err.msg);
    CHECK(sg_ckpt_match_shard(&ck, &m, "/d/x.lmdb", "2", "", G, &ds, map, &note, &err) == 0 && ds == 1,
          "--dataset 2 of two named like it: %d", ds);
    CHECK(note.len == 0, "a note with a choice: %s", note.data);
    sg_buf_free(&note);
}

/* RUN/config.json of a run of the shards at paths, as sg-train writes it;
 * its shards' names: sg-train's (sg_run_dataset_name). */
static void make_run(const char *run, int n, const char *const *paths)
{
    sg_shard *sh[SG_MAX_DATASETS] = {0};
    char *abs[SG_MAX_DATASETS] = {0};
    char names[SG_MAX_DATASETS][SG_CKPT_NAME_MAX];
    sg_model_config c = {.image_size = 8, .n_datasets = n, .g_conv_dim = 4, .g_repeat = 1, .d_conv_dim = 4,
                         .d_repeat = 2};
    sg_err err = {{0}};
    int ok = 1;
    for (int k = 0; k < n && ok; k++) {
        ok = sg_shard_open(&sh[k], paths[k], &err) == 0 && (abs[k] = realpath(paths[k], NULL)) != NULL;
        CHECK(ok, "%s: %s", paths[k], err.msg);
        if (!ok) break;
        const sg_shard_meta *m = sg_shard_get_meta(sh[k]);
        c.label_dim[k] = (int)m->n_labels;
        c.one_hot[k] = m->label_kind == SG_LABELS_ONE_HOT;
        sg_run_dataset_name(paths[k], names[k], SG_CKPT_NAME_MAX);
    }
    mkdir(run, 0755);
    if (ok) {
        sg_run_datasets d = {run, n, sh, abs, names};
        sg_train_options o;
        sg_train_options_default(&o);
        sg_run_record r = {0};
        CHECK(sg_run_write_config(&d, &c, &o, &r, &err) == 0, "%s: %s", run, err.msg);
        sg_buf_free(&r.sessions_kept);
    }
    for (int k = 0; k < n; k++) {
        if (sh[k]) sg_shard_close(sh[k]);
        free(abs[k]);
    }
}

/* Two shards named alike (a/train.lmdb, b/train.lmdb) of the same labels: the
 * run's record of its shards tells which dataset a shard is, by the file
 * (another spelling of its path too); a run of one shard twice is an error;
 * a config.json that does not read records no shards (then by name). */
static void test_match_by_run(void)
{
    char a[PATH_MAX], b[PATH_MAX], b_other[PATH_MAX], run[PATH_MAX], twice[PATH_MAX];
    snprintf(a, sizeof a, "%s", test_tmp_path("a/train.lmdb"));
    snprintf(b, sizeof b, "%s", test_tmp_path("b/train.lmdb"));
    snprintf(b_other, sizeof b_other, "%s", test_tmp_path("a/../b//train.lmdb/"));
    snprintf(run, sizeof run, "%s", test_tmp_path("run"));
    snprintf(twice, sizeof twice, "%s", test_tmp_path("twice"));
    mkdir(test_tmp_path("a"), 0755);
    mkdir(test_tmp_path("b"), 0755);
    make_shard(a, 3, 8, 3, 0, 1);
    make_shard(b, 3, 8, 3, 0, 2);
    const char *both[2] = {a, b}, *a_twice[2] = {a, a};
    make_run(run, 2, both);
    make_run(twice, 2, a_twice);

    char **paths = NULL;
    int n = 0;
    sg_err err = {{0}};
    char *ra = realpath(a, NULL), *rb = realpath(b, NULL);
    CHECK(sg_run_shard_paths(run, &paths, &n, &err) == 0 && n == 2 && ra && rb && !strcmp(paths[0], ra) &&
          !strcmp(paths[1], rb), "the run's shard paths: %d, %s", n, n ? paths[0] : err.msg);
    sg_run_free_paths(paths, n);

    static char *labels[] = {"Black_Hair", "attr1", "attr2", "Black_Hair", "attr1", "attr2"};
    const char *names[2] = {"train", "train"};
    const int dims[2] = {3, 3}, multi[2] = {0, 0};
    sg_ckpt_info ck;
    make_info(&ck, 2, names, dims, multi, labels, no_crops, 0);
    const char *shard_labels[3] = {"attr2", "attr1", "Black_Hair"};
    sg_shard_meta m = shard_meta(3, shard_labels, 0, 0);
    int ds = -1, map[8];
    sg_buf note = SG_BUF_INIT;
    CHECK(sg_ckpt_match_shard(&ck, &m, b_other, NULL, run, G, &ds, map, &note, &err) == 0 && ds == 1 && note.len == 0,
          "b's train.lmdb by the run's record: dataset %d: %s", ds, err.msg);
    CHECK(sg_ckpt_match_shard(&ck, &m, a, NULL, run, G, &ds, map, &note, &err) == 0 && ds == 0 && map[0] == 2,
          "a's train.lmdb by the run's record: dataset %d: %s", ds, err.msg);
    CHECK(sg_ckpt_match_shard(&ck, &m, b, NULL, "", G, &ds, map, &note, &err) == -1 &&
          strstr(err.msg, "are named like it"), "without the run: %s", err.msg);
    char want[PATH_MAX + 200];
    snprintf(want, sizeof want, "%s is datasets 1 train, 2 train of the run in %s (the same shard twice); choose one "
             "with --dataset N", a, twice);
    CHECK(sg_ckpt_match_shard(&ck, &m, a, NULL, twice, G, &ds, map, &note, &err) == -1 && !strcmp(err.msg, want),
          "a run of one shard twice: %s", err.msg);
    CHECK(note.len == 0, "a note: %s", note.data);

    /* a config.json sg-train would refuse: no shard paths, so by name */
    CHECK(set_config_value(run, "batch", "0"), "batch edited");
    CHECK(sg_run_shard_paths(run, &paths, &n, &err) == -1 && strstr(err.msg, "config.json: \"training\": \"batch\" is 0"),
          "a batch of 0: %s", err.msg);
    CHECK(sg_ckpt_match_shard(&ck, &m, b, NULL, run, G, &ds, map, &note, &err) == -1 &&
          strstr(err.msg, "are named like it"), "a damaged run: %s", err.msg);
    free(ra);
    free(rb);
    sg_buf_free(&note);
}

/* The crop of image files: the checkpoint's of the dataset framed as; of
 * every target, the first's with a note when they differ; an older build's
 * later dataset: its shard's in the run (when still of its labels and
 * size), else the first's with a note saying why. */
static void test_file_crop(void)
{
    static char *labels[] = {"Black_Hair", "attr1", "attr2", "Black_Hair", "attr1"};
    const char *names[2] = {"a", "b"};
    const int dims[2] = {3, 2}, kinds[2] = {0, 1}, crops[2] = {178, 0};
    sg_ckpt_info ck;
    make_info(&ck, 2, names, dims, kinds, labels, crops, 0);
    sg_buf note = SG_BUF_INIT;
    sg_err err = {{0}};
    int crop = -1;
    CHECK(sg_ckpt_file_crop(&ck, "", "G", 1, &crop, &note, &err) == 0 && crop == 0 && note.len == 0,
          "dataset 2's crop: %d", crop);
    CHECK(sg_ckpt_file_crop(&ck, "", "G", 0, &crop, &note, &err) == 0 && crop == 178 && note.len == 0,
          "dataset 1's crop: %d", crop);
    CHECK(sg_ckpt_file_crop(&ck, "", "G", -1, &crop, &note, &err) == 0 && crop == 178 && note.data &&
          !strcmp(note.data, "the datasets' crops differ (1 a 178, 2 b 0); image files are cropped to 178, dataset "
                  "1 a's (choose with --dataset N or --crop N)"), "every target: %d, '%s'", crop,
          note.data ? note.data : "");
    sg_buf_free(&note);
    const int same[2] = {178, 178};
    make_info(&ck, 2, names, dims, kinds, labels, same, 0);
    CHECK(sg_ckpt_file_crop(&ck, "", "G", -1, &crop, &note, &err) == 0 && crop == 178 && note.len == 0,
          "the same crops: %d, '%s'", crop, note.data ? note.data : "");

    /* an older build's checkpoint: the first dataset's crop only */
    make_info(&ck, 2, names, dims, kinds, labels, crops, 1);
    CHECK(sg_ckpt_file_crop(&ck, "", "R/G", 1, &crop, &note, &err) == 0 && crop == 178 && note.data &&
          !strcmp(note.data, "R/G (an older build) records only dataset 1 a's crop, 178: image files for dataset 2 "
                  "b are cropped to it (give --crop N if its shards were packed with another)"),
          "an older build's, no run: %d, '%s'", crop, note.data ? note.data : "");
    sg_buf_free(&note);
    CHECK(sg_ckpt_file_crop(&ck, "", "R/G", -1, &crop, &note, &err) == 0 && crop == 178 && note.len == 0,
          "an older build's, every target, no run: %d, '%s'", crop, note.data ? note.data : "");

    /* its run: the shards a (178) and b (uncropped, one-hot) */
    char a[PATH_MAX], b[PATH_MAX], other[PATH_MAX], run[PATH_MAX], one[PATH_MAX];
    snprintf(a, sizeof a, "%s", test_tmp_path("crop_a.lmdb"));
    snprintf(b, sizeof b, "%s", test_tmp_path("crop_b.lmdb"));
    snprintf(other, sizeof other, "%s", test_tmp_path("crop_other.lmdb"));
    snprintf(run, sizeof run, "%s", test_tmp_path("crop_run"));
    snprintf(one, sizeof one, "%s", test_tmp_path("crop_one"));
    make_shard_from(a, 3, 8, 3, 0, 1, "test", 178);
    make_shard_from(b, 3, 8, 2, 1, 2, "test", 0);
    make_shard_from(other, 3, 8, 3, 1, 3, "test", 0);
    const char *ab[2] = {a, b}, *a_other[2] = {a, other}, *just_a[1] = {a};
    make_run(run, 2, ab);
    make_run(one, 1, just_a);
    CHECK(sg_ckpt_file_crop(&ck, run, "R/G", 1, &crop, &note, &err) == 0 && crop == 0 && note.len == 0,
          "an older build's, its run: %d, '%s'", crop, note.data ? note.data : "");
    CHECK(sg_ckpt_file_crop(&ck, run, "R/G", -1, &crop, &note, &err) == 0 && crop == 178 && note.data &&
          strstr(note.data, "crops differ (1 a 178, 2 b 0)"), "an older build's, its run, every target: %d, '%s'",
          crop, note.data ? note.data : "");
    sg_buf_free(&note);
    char want[PATH_MAX + 300];
    snprintf(want, sizeof want, "R/G (an older build) records only dataset 1 a's crop, 178: image files for dataset "
             "2 b are cropped to it (%s/config.json records 1 dataset, the checkpoint 2; give --crop N if its "
             "shards were packed with another)", one);
    CHECK(sg_ckpt_file_crop(&ck, one, "R/G", 1, &crop, &note, &err) == 0 && crop == 178 && note.data &&
          !strcmp(note.data, want), "a run of one dataset: '%s'", note.data ? note.data : "");
    sg_buf_free(&note);
    /* the run's shard for b replaced by one of other labels */
    make_run(run, 2, a_other);
    char *ro = realpath(other, NULL);
    snprintf(want, sizeof want, "(the run's shard for it, %s, has other labels now; give", ro ? ro : "?");
    CHECK(sg_ckpt_file_crop(&ck, run, "R/G", 1, &crop, &note, &err) == 0 && crop == 178 && note.data &&
          strstr(note.data, want), "the run's shard of other labels: '%s'", note.data ? note.data : "");
    free(ro);
    sg_buf_free(&note);
}

int main(void)
{
    if (test_tmpdir_make("test_ckpt_data")) return 1;
    test_labels_fit();
    test_match_shard();
    test_match_shard_cut();
    test_match_shard_worst();
    test_match_shard_short_list_whole();
    test_match_shard_ckpt_named();
    test_match_by_run();
    test_file_crop();
    if (check_failed == 0) test_tmpdir_remove();
    return check_done();
}
