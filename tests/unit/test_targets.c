/* lib/targets: create_labels semantics (single and multi-dataset), --targets parsing
 * and application. Expected vectors are written out by hand from the reference's
 * solver.py (create_labels, test_multi). */
#include "check.h"
#include "targets.h"
#include "text_escape.h"
#include <string.h>

static void check_rows(const char *what, const float *got, const float *want, int n)
{
    double a[128], b[128];
    if (n > 128) { CHECK(0, "%s: %d elements, check_rows holds 128", what, n); return; }
    for (int i = 0; i < n; i++) { a[i] = got[i]; b[i] = want[i]; }
    CHECK_CLOSE(what, a, b, n, 0, 0);
}

static const char *const CELEBA5[] = {"Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"};

static void test_single_celeba(void)
{
    sg_model_config cfg = {.n_datasets = 1, .label_dim = {5}};
    sg_err err = {{0}};
    CHECK(sg_targets_count(&cfg) == 5, "count %d", sg_targets_count(&cfg));
    float own[5] = {1, 0, 0, 1, 1}, c[5 * 5];
    CHECK(sg_targets_all(&cfg, CELEBA5, 0, own, c, &err) == 0, "%s", err.msg);
    static const float want[5][5] = {
        {1, 0, 0, 1, 1},   /* Black_Hair: set, other colours cleared */
        {0, 1, 0, 1, 1},   /* Blond_Hair */
        {0, 0, 1, 1, 1},   /* Brown_Hair */
        {1, 0, 0, 0, 1},   /* Male flipped */
        {1, 0, 0, 1, 0},   /* Young flipped */
    };
    check_rows("celeba targets", c, &want[0][0], 25);

    float own2[5] = {0, 0, 0, 0, 0};
    CHECK(sg_targets_all(&cfg, CELEBA5, 0, own2, c, &err) == 0, "%s", err.msg);
    CHECK(c[3 * 5 + 3] == 1 && c[4 * 5 + 4] == 1 && c[1 * 5 + 1] == 1 && c[1 * 5 + 0] == 0,
          "flip from zeros");
    float o[5];
    sg_targets_own(&cfg, 0, own, o);
    check_rows("own", o, own, 5);
}

/* CelebA (5) + RaFD (8, one-hot), input from CelebA: test_multi's c_trg lists. */
static void test_multi_rafd(void)
{
    sg_model_config cfg = {.n_datasets = 2, .label_dim = {5, 8}, .one_hot = {0, 1}};
    const char *names[13] = {"Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young",
                             "angry", "contemptuous", "disgusted", "fearful", "happy",
                             "neutral", "sad", "surprised"};
    sg_err err = {{0}};
    enum { C = 15 };
    float own[5] = {0, 1, 0, 0, 1}, c[13 * C], want[13 * C];
    CHECK(sg_targets_count(&cfg) == 13, "count");
    CHECK(sg_targets_all(&cfg, names, 0, own, c, &err) == 0, "%s", err.msg);
    memset(want, 0, sizeof want);
    static const float celeba[5][5] = {
        {1, 0, 0, 0, 1}, {0, 1, 0, 0, 1}, {0, 0, 1, 0, 1}, {0, 1, 0, 1, 1}, {0, 1, 0, 0, 0}};
    for (int t = 0; t < 5; t++) {
        memcpy(want + t * C, celeba[t], sizeof celeba[t]);   /* c_celeba, zero_rafd */
        want[t * C + 13] = 1;                                 /* mask_celeba [1, 0] */
    }
    for (int k = 0; k < 8; k++) {
        want[(5 + k) * C + 5 + k] = 1;                        /* zero_celeba, c_rafd */
        want[(5 + k) * C + 14] = 1;                           /* mask_rafd [0, 1] */
    }
    check_rows("multi targets 0-3", c, want, 4 * C);
    check_rows("multi targets 4-7", c + 4 * C, want + 4 * C, 4 * C);
    check_rows("multi targets 8-12", c + 8 * C, want + 8 * C, 5 * C);
    CHECK(sg_targets_dataset_of(&cfg, 4, NULL) == 0 && sg_targets_dataset_of(&cfg, 5, NULL) == 1 &&
          sg_targets_dataset_of(&cfg, 13, NULL) == -1, "dataset_of");
    int idx;
    CHECK(sg_targets_dataset_of(&cfg, 9, &idx) == 1 && idx == 4, "index of happy %d", idx);
}

/* Two multi-hot sets (the seed's CelebA/CelebB split), input from the second:
 * the first set's targets start from zeros. */
static const char *const AB[] = {"Bangs", "Black_Hair", "Blond_Hair", "Eyeglasses", "Wearing_Hat"};
static const char *const DSN[] = {"celebA", "celebB"};
static sg_model_config ab_cfg(void)
{
    sg_model_config cfg = {.n_datasets = 2, .label_dim = {3, 2}};
    return cfg;
}

static void test_multi_two_multihot(void)
{
    sg_model_config cfg = ab_cfg();
    sg_err err = {{0}};
    enum { C = 7 };
    float own[2] = {1, 0}, c[5 * C];
    CHECK(sg_targets_all(&cfg, AB, 1, own, c, &err) == 0, "%s", err.msg);
    static const float want[5][C] = {
        {1, 0, 0, 0, 0, 1, 0},   /* Bangs flipped from zero */
        {0, 1, 0, 0, 0, 1, 0},   /* Black_Hair */
        {0, 0, 1, 0, 0, 1, 0},   /* Blond_Hair */
        {0, 0, 0, 0, 0, 0, 1},   /* Eyeglasses flipped from the input's 1 */
        {0, 0, 0, 1, 1, 0, 1},   /* Wearing_Hat flipped from 0 */
    };
    check_rows("two multi-hot", c, &want[0][0], 5 * C);
    float o[C];
    sg_targets_own(&cfg, 1, own, o);
    static const float want_own[C] = {0, 0, 0, 1, 0, 0, 1};
    check_rows("own multi", o, want_own, C);
    sg_targets_own(&cfg, -1, NULL, o);
    static const float want_none[C] = {0, 0, 0, 0, 0, 1, 0};
    check_rows("own none", o, want_none, C);
}

/* Three datasets of different sizes (2 multi-hot, 3 one-hot, 4 multi-hot):
 * the third's slot starts at 2 + 3 = 5, in the model's layout and in the
 * targets' (offsets summed as label_dim[0] for every earlier dataset would
 * put it at 4, which two datasets, or equal sizes, never show). */
static void test_three_datasets(void)
{
    sg_model_config cfg = {.n_datasets = 3, .label_dim = {2, 3, 4}, .one_hot = {0, 1, 0}};
    static const char *const names[9] = {"a0", "a1", "b0", "b1", "b2", "Bangs", "Black_Hair", "Blond_Hair", "Male"};
    sg_err err = {{0}};
    enum { C = 12 };   /* 9 labels + a mask of 3 */
    CHECK(sg_model_label_offset(&cfg, 0) == 0 && sg_model_label_offset(&cfg, 1) == 2 &&
          sg_model_label_offset(&cfg, 2) == 5, "label offsets %d %d %d, want 0 2 5", sg_model_label_offset(&cfg, 0),
          sg_model_label_offset(&cfg, 1), sg_model_label_offset(&cfg, 2));
    CHECK(sg_model_cls_dim(&cfg) == 9 && sg_model_c_dim(&cfg) == C && sg_targets_count(&cfg) == 9,
          "cls_dim %d, c_dim %d, targets %d; want 9, 12, 9", sg_model_cls_dim(&cfg), sg_model_c_dim(&cfg),
          sg_targets_count(&cfg));
    int idx = -1;
    CHECK(sg_targets_dataset_of(&cfg, 4, &idx) == 1 && idx == 2, "dataset of label 4: index %d", idx);
    CHECK(sg_targets_dataset_of(&cfg, 5, &idx) == 2 && idx == 0, "dataset of label 5: index %d", idx);

    float own[4] = {1, 0, 1, 1}, o[C], c[9 * C];
    sg_targets_own(&cfg, 2, own, o);
    static const float want_own[C] = {0, 0, 0, 0, 0, 1, 0, 1, 1, 0, 0, 1};
    check_rows("three datasets: own labels of the third", o, want_own, C);
    CHECK(sg_targets_all(&cfg, names, 2, own, c, &err) == 0, "%s", err.msg);
    static const float want[9][C] = {
        {1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0},   /* a0 flipped from zero */
        {0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0},   /* a1 */
        {0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0},   /* b0: one-hot */
        {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0},   /* b1 */
        {0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0},   /* b2 */
        {0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1},   /* Bangs flipped from the input's 1 */
        {0, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 1},   /* Black_Hair set, Blond_Hair cleared */
        {0, 0, 0, 0, 0, 1, 0, 1, 1, 0, 0, 1},   /* Blond_Hair (already the only colour) */
        {0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1},   /* Male flipped */
    };
    check_rows("three datasets: targets 0-4", c, &want[0][0], 5 * C);
    check_rows("three datasets: targets 5-8", c + 5 * C, &want[5][0], 4 * C);
}

/* targets.c keeps its own copies of model.c's sg_model_c_dim, cls_dim and
 * label_offset (targets link without the engine): the vectors it builds
 * must follow model.c's layout, for one dataset up to SG_MAX_DATASETS. A
 * drifted copy writes a label, a mask or a row stride elsewhere. */
static void test_layout_agrees_with_model(void)
{
    static const sg_model_config cfgs[] = {
        {.n_datasets = 1, .label_dim = {5}},
        {.n_datasets = 2, .label_dim = {5, 8}, .one_hot = {0, 1}},
        {.n_datasets = 3, .label_dim = {2, 3, 4}, .one_hot = {0, 1, 0}},
        {.n_datasets = SG_MAX_DATASETS, .label_dim = {1, 2, 3, 4, 5, 6, 7, 8}, .one_hot = {1, 0, 1, 0, 1, 0, 1, 0}},
    };
    enum { GUARD = 4, MAX_C = 64 };
    const float poison = -7;
    sg_err err = {{0}};
    for (size_t k = 0; k < sizeof cfgs / sizeof cfgs[0]; k++) {
        const sg_model_config *cfg = &cfgs[k];
        int cls = sg_model_cls_dim(cfg), c_dim = sg_model_c_dim(cfg), nd = cfg->n_datasets;
        CHECK(sg_targets_count(cfg) == cls, "config %zu: %d targets, cls_dim %d", k, sg_targets_count(cfg), cls);
        for (int ds = 0; ds < nd; ds++) {
            float own[8], c[MAX_C + GUARD], want[MAX_C + GUARD];
            for (int i = 0; i < 8; i++) own[i] = 0.5f;
            for (int i = 0; i < MAX_C + GUARD; i++) c[i] = want[i] = poison;
            for (int i = 0; i < c_dim; i++) want[i] = 0;
            for (int i = 0; i < cfg->label_dim[ds]; i++) want[sg_model_label_offset(cfg, ds) + i] = 0.5f;
            if (nd > 1) want[cls + ds] = 1;
            sg_targets_own(cfg, ds, own, c);
            char what[64];
            snprintf(what, sizeof what, "config %zu: own labels of dataset %d", k, ds);
            check_rows(what, c, want, c_dim + GUARD);
        }
        /* every target: row t (stride c_dim) has label t and t's dataset's mask */
        static float rows[MAX_C * MAX_C + GUARD];
        for (int i = 0; i < MAX_C * MAX_C + GUARD; i++) rows[i] = poison;
        CHECK(sg_targets_all(cfg, NULL, -1, NULL, rows, &err) == 0, "config %zu: %s", k, err.msg);
        for (int t = 0; t < cls; t++) {
            int i = -1, ds = sg_targets_dataset_of(cfg, t, &i);
            float want[MAX_C];
            for (int j = 0; j < c_dim; j++) want[j] = 0;
            want[sg_model_label_offset(cfg, ds) + i] = 1;
            if (nd > 1) want[cls + ds] = 1;
            char what[64];
            snprintf(what, sizeof what, "config %zu: target %d", k, t);
            check_rows(what, rows + (size_t)t * c_dim, want, c_dim);
        }
        CHECK(rows[(size_t)cls * c_dim] == poison, "config %zu: sg_targets_all wrote past %d rows of %d", k, cls, c_dim);
    }
}

static void test_parse_apply(void)
{
    sg_model_config cfg = {.n_datasets = 1, .label_dim = {5}};
    sg_target_spec s;
    sg_err err = {{0}};
    float own[5] = {1, 0, 0, 1, 1}, c[5];

    CHECK(sg_targets_parse(&cfg, CELEBA5, NULL, "+Blond_Hair,-Male", &s, &err) == 0, "%s", err.msg);
    CHECK(s.ds == 0 && s.n == 2, "spec ds %d n %d", s.ds, s.n);
    sg_targets_apply(&cfg, CELEBA5, &s, 0, own, c);
    static const float w1[5] = {0, 1, 0, 0, 1};
    check_rows("+Blond_Hair,-Male", c, w1, 5);

    CHECK(sg_targets_parse(&cfg, CELEBA5, NULL, "Blond_Hair=0.5", &s, &err) == 0, "%s", err.msg);
    sg_targets_apply(&cfg, CELEBA5, &s, 0, own, c);
    static const float w2[5] = {0, 0.5f, 0, 1, 1};
    check_rows("Blond_Hair=0.5", c, w2, 5);

    CHECK(sg_targets_parse(&cfg, CELEBA5, NULL, "+Blond_Hair,Black_Hair=1", &s, &err) == 0, "%s", err.msg);
    sg_targets_apply(&cfg, CELEBA5, &s, 0, own, c);
    static const float w3[5] = {1, 1, 0, 1, 1};
    check_rows("two named hair colours both kept", c, w3, 5);

    /* An image file: no labels of its own, unnamed attributes are 0. */
    CHECK(sg_targets_parse(&cfg, CELEBA5, NULL, "+Young,Male=0.25", &s, &err) == 0, "%s", err.msg);
    sg_targets_apply(&cfg, CELEBA5, &s, -1, NULL, c);
    static const float w4[5] = {0, 0, 0, 0.25f, 1};
    check_rows("from an image file", c, w4, 5);

    struct { const char *spec, *want; } bad[] = {
        {"+Foo", "unknown attribute 'Foo' (known: Black_Hair, Blond_Hair"},
        /* a near name is suggested, after the list; none for a far one */
        {"+Blnd_Hair", "unknown attribute 'Blnd_Hair' (known: Black_Hair, Blond_Hair, Brown_Hair, Male, Young); "
                       "did you mean 'Blond_Hair'?"},
        {"-young", "(known: Black_Hair, Blond_Hair, Brown_Hair, Male, Young); did you mean 'Young'?"},
        {"+Smiling", "unknown attribute 'Smiling' (known: Black_Hair, Blond_Hair, Brown_Hair, Male, Young)"},
        {"Young=2", "must be a number in [0, 1]"},
        {"Young=-0.1", "must be a number in [0, 1]"},
        {"Young=x", "must be a number in [0, 1]"},
        {"Young=", "must be a number in [0, 1]"},
        /* what strtod takes beyond a plain decimal: refused, the value named */
        {"Young= 0.5", "value of 'Young' ' 0.5' starts with white space; give a plain decimal number in [0, 1] "
                       "(such as 0.5, .25 or 1e-1)"},
        {"Young=\t1", "value of 'Young' '\\t1' starts with white space"},
        {"Young=+0.5", "value of 'Young' '+0.5' has a sign; give a plain decimal"},
        {"Young=-0", "value of 'Young' '-0' has a sign"},
        {"Young=0x0.8", "value of 'Young' '0x0.8' is hexadecimal; give a plain decimal"},
        {"Young=0X1p-1", "value of 'Young' '0X1p-1' is hexadecimal"},
        /* Below a float's smallest value: it would become 0 without a word. */
        {"Young=1e-400", "value of 'Young' '1e-400' is too small to tell from 0: give 0"},
        {"Young=1e-50", "value of 'Young' '1e-50' is too small to tell from 0: give 0"},
        {"+Young,,-Male", "empty item"},
        {"+Young,", "empty item"},
        {"", "empty"},
        {"+", "empty attribute name"},
        {"+Young=1", "use +NAME"},
        {"+Young,-Young", "given twice"},
    };
    /* plain decimals in every form the man page's examples use */
    struct { const char *spec; float value; } good[] = {
        {"Young=0.5", 0.5f}, {"Young=.25", 0.25f}, {"Young=1e-1", 0.1f}, {"Young=1E0", 1.0f}, {"Young=0", 0.0f},
        {"Young=1.", 1.0f},
    };
    for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
        err.msg[0] = 0;
        int rc = sg_targets_parse(&cfg, CELEBA5, NULL, good[k].spec, &s, &err);
        CHECK(rc == 0 && s.n == 1 && s.value[0] == good[k].value, "'%s': rc %d %s", good[k].spec, rc, err.msg);
    }
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        err.msg[0] = 0;
        int rc = sg_targets_parse(&cfg, CELEBA5, NULL, bad[k].spec, &s, &err);
        CHECK(rc == -1 && strstr(err.msg, bad[k].want), "'%s': rc %d message '%s' (want '%s')",
              bad[k].spec, rc, err.msg, bad[k].want);
    }
    CHECK(sg_targets_parse(&cfg, CELEBA5, NULL, "+Smiling", &s, &err) == -1 && !strstr(err.msg, "did you mean"),
          "nothing near Smiling: '%s'", err.msg);
}

static void test_parse_multi(void)
{
    sg_model_config cfg = ab_cfg();
    sg_target_spec s;
    sg_err err = {{0}};
    float c[7];

    CHECK(sg_targets_parse(&cfg, AB, DSN, "+Eyeglasses", &s, &err) == 0, "%s", err.msg);
    CHECK(s.ds == 1 && s.n == 1 && s.index[0] == 0, "ds %d index %d", s.ds, s.index[0]);
    sg_targets_apply(&cfg, AB, &s, -1, NULL, c);
    static const float w1[7] = {0, 0, 0, 1, 0, 0, 1};
    check_rows("image + Eyeglasses", c, w1, 7);

    /* Input from celebA (own labels of the other set) naming a celebB attribute. */
    float ownA[3] = {1, 1, 0};
    sg_targets_apply(&cfg, AB, &s, 0, ownA, c);
    check_rows("celebA input, celebB target", c, w1, 7);
    /* Same dataset: starts from own labels. */
    CHECK(sg_targets_parse(&cfg, AB, DSN, "+Blond_Hair", &s, &err) == 0, "%s", err.msg);
    sg_targets_apply(&cfg, AB, &s, 0, ownA, c);
    static const float w2[7] = {1, 0, 1, 0, 0, 1, 0};
    check_rows("celebA input +Blond_Hair", c, w2, 7);

    CHECK(sg_targets_parse(&cfg, AB, DSN, "celebB:Wearing_Hat=0.5", &s, &err) == 0, "%s", err.msg);
    CHECK(s.ds == 1 && s.index[0] == 1 && s.value[0] == 0.5f, "qualified");

    err.msg[0] = 0;
    CHECK(sg_targets_parse(&cfg, AB, DSN, "+Bangs,+Eyeglasses", &s, &err) == -1 &&
          strstr(err.msg, "different datasets"), "two datasets: '%s'", err.msg);
    err.msg[0] = 0;
    CHECK(sg_targets_parse(&cfg, AB, DSN, "celebC:Bangs", &s, &err) == -1 &&
          !strcmp(err.msg, "--targets: 'celebC:Bangs': no dataset is called 'celebC'; the datasets are 1 celebA, "
                           "2 celebB"), "unknown dataset: '%s'", err.msg);
    err.msg[0] = 0;
    CHECK(sg_targets_parse(&cfg, AB, DSN, "celebB:Bangs", &s, &err) == -1 &&
          !strcmp(err.msg, "--targets: 'celebB:Bangs': dataset 2 (celebB) has no attribute 'Bangs' (it has: "
                           "Eyeglasses, Wearing_Hat)"), "wrong dataset: '%s'", err.msg);

    /* A name in both sets is ambiguous unless qualified. */
    const char *dup[] = {"Male", "Young", "Bangs", "Male", "Eyeglasses"};
    sg_model_config cfg2 = {.n_datasets = 2, .label_dim = {2, 3}};
    err.msg[0] = 0;
    CHECK(sg_targets_parse(&cfg2, dup, DSN, "-Male", &s, &err) == -1 && strstr(err.msg, "several datasets"),
          "ambiguous: '%s'", err.msg);
    CHECK(sg_targets_parse(&cfg2, dup, DSN, "celebB:Male=0", &s, &err) == 0 && s.ds == 1 && s.index[0] == 1,
          "qualified duplicate: %s", err.msg);
}

/* Class folders named with a comma or '=' ("e,f", "x=y"): --targets split
 * them into items and nothing named them, while the unknown-attribute message
 * suggested "did you mean 'e,f'?". The whole spec after its + or - is that one
 * name; every name sg_targets_name gives parses back. */
static void test_comma_labels(void)
{
    sg_model_config cfg = {.n_datasets = 1, .label_dim = {4}, .one_hot = {1}};
    const char *names[] = {"e,f", "x=y", "e", "g"};
    const char *dsn[] = {"faces"};
    sg_target_spec s;
    sg_err err = {{0}};
    CHECK(sg_targets_parse(&cfg, names, dsn, "e,f", &s, &err) == 0 && s.n == 1 && s.index[0] == 0 &&
          s.value[0] == 1.0f, "e,f: '%s' n %d", err.msg, s.n);
    CHECK(sg_targets_parse(&cfg, names, dsn, "-e,f", &s, &err) == 0 && s.n == 1 && s.index[0] == 0 &&
          s.value[0] == 0.0f, "-e,f: '%s'", err.msg);
    CHECK(sg_targets_parse(&cfg, names, dsn, "+faces:e,f", &s, &err) == 0 && s.n == 1 && s.index[0] == 0,
          "faces:e,f: '%s'", err.msg);
    CHECK(sg_targets_parse(&cfg, names, dsn, "+x=y", &s, &err) == 0 && s.n == 1 && s.index[0] == 1,
          "+x=y: '%s'", err.msg);
    /* what names no label whole is split as before */
    CHECK(sg_targets_parse(&cfg, names, dsn, "+e,-g", &s, &err) == 0 && s.n == 2 && s.index[0] == 2 &&
          s.index[1] == 3, "+e,-g: '%s' n %d", err.msg, s.n);
    CHECK(sg_targets_parse(&cfg, names, dsn, "e=0.5", &s, &err) == 0 && s.n == 1 && s.index[0] == 2 &&
          s.value[0] == 0.5f, "e=0.5: '%s'", err.msg);
    for (int t = 0; t < 4; t++) {
        char n[256], spec[300];
        sg_targets_name(&cfg, names, dsn, t, n, sizeof n);
        snprintf(spec, sizeof spec, "+%s", n);
        CHECK(sg_targets_parse(&cfg, names, dsn, spec, &s, &err) == 0 && s.index[0] == t,
              "target %d '%s' parses back: '%s'", t, spec, err.msg);
    }
}

/* Datasets that share a name (a shard given twice to sg-train, x/train.lmdb and
 * y/train.lmdb): a qualifier naming both was taken as the last of them, and
 * nothing could name the first; now a dataset's number (from 1) qualifies, and a
 * name that means several datasets is an error. A label holding ':' (a class
 * folder "a:b") could not be named unqualified: "unknown dataset". */
static void test_qualifiers(void)
{
    sg_model_config cfg = {.n_datasets = 3, .label_dim = {2, 2, 2}, .one_hot = {0, 0, 1}};
    const char *names[] = {"Bangs", "Male", "Bangs", "Male", "a:b", "c"};
    const char *same[] = {"celebA", "celebA", "rafd"};
    sg_target_spec s;
    sg_err err = {{0}};
    CHECK(sg_targets_parse(&cfg, names, same, "2:Male=0.5", &s, &err) == 0 && s.ds == 1 && s.index[0] == 1,
          "2:Male: rc message '%s' ds %d", err.msg, s.ds);
    CHECK(sg_targets_parse(&cfg, names, same, "+1:Bangs", &s, &err) == 0 && s.ds == 0 && s.index[0] == 0,
          "1:Bangs: '%s' ds %d", err.msg, s.ds);
    err.msg[0] = 0;
    CHECK(sg_targets_parse(&cfg, names, same, "+celebA:Bangs", &s, &err) == -1 &&
          !strcmp(err.msg, "--targets: 'celebA:Bangs': several datasets are called 'celebA'; write N:Bangs, "
                           "N the dataset's number (1 to 3)"), "qualifier of two datasets: '%s'", err.msg);
    err.msg[0] = 0;
    CHECK(sg_targets_parse(&cfg, names, same, "-Male", &s, &err) == -1 &&
          strstr(err.msg, "'Male' is in several datasets; write N:Male, N the dataset's number (1 to 3)"),
          "ambiguous, same dataset names: '%s'", err.msg);
    err.msg[0] = 0;
    CHECK(sg_targets_parse(&cfg, names, same, "4:Male", &s, &err) == -1 &&
          !strcmp(err.msg, "--targets: '4:Male': no dataset 4; the datasets are 1 celebA, 2 celebA, 3 rafd"),
          "number out of range: '%s'", err.msg);
    CHECK(sg_targets_parse(&cfg, names, same, "02:Male", &s, &err) == 0 && s.ds == 1,
          "leading zeros: the number: '%s'", err.msg);
    /* the label "a:b" unqualified ("a" is no dataset), and qualified */
    CHECK(sg_targets_parse(&cfg, names, same, "+a:b", &s, &err) == 0 && s.ds == 2 && s.index[0] == 0,
          "a:b: '%s' ds %d", err.msg, s.ds);
    CHECK(sg_targets_parse(&cfg, names, same, "+rafd:a:b", &s, &err) == 0 && s.ds == 2 && s.index[0] == 0,
          "rafd:a:b: '%s'", err.msg);
    CHECK(sg_targets_parse(&cfg, names, same, "+3:c", &s, &err) == 0 && s.ds == 2 && s.index[0] == 1, "3:c");
    /* a label that reads as a number qualifier ("01:a", a class folder):
     * dataset 1 has no attribute 'a', so the whole text is the label (a
     * review found it refused since leading zeros became numbers) */
    const char *numbered[] = {"Bangs", "Male", "Bangs", "Male", "01:a", "c"};
    CHECK(sg_targets_parse(&cfg, numbered, same, "+01:a", &s, &err) == 0 && s.ds == 2 && s.index[0] == 0,
          "01:a: '%s' ds %d", err.msg, s.ds);
    char shown[256];
    sg_targets_name(&cfg, numbered, same, 4, shown, sizeof shown);
    CHECK(sg_targets_parse(&cfg, numbered, same, shown, &s, &err) == 0 && s.ds == 2 && s.index[0] == 0,
          "01:a by its shown name '%s': '%s'", shown, err.msg);
    /* qualifiers and target names as sg-sample's columns show them */
    char q[SG_TARGETS_QUALIFIER_MAX], n[256];
    sg_targets_qualifier(&cfg, same, 0, q, sizeof q);
    CHECK(!strcmp(q, "1"), "qualifier of a shared name: '%s'", q);
    sg_targets_qualifier(&cfg, same, 2, q, sizeof q);
    CHECK(!strcmp(q, "rafd"), "qualifier of a unique name: '%s'", q);
    sg_targets_name(&cfg, names, same, 3, n, sizeof n);
    CHECK(!strcmp(n, "2:Male"), "name of target 3: '%s'", n);
    sg_targets_name(&cfg, names, same, 4, n, sizeof n);
    CHECK(!strcmp(n, "a:b"), "name of target 4: '%s'", n);
    /* every name sg_targets_name gives is parsed back to its own target */
    for (int t = 0; t < 6; t++) {
        char spec[300];
        sg_targets_name(&cfg, names, same, t, n, sizeof n);
        snprintf(spec, sizeof spec, "+%s", n);
        int idx = 0, ds = sg_targets_dataset_of(&cfg, t, &idx);
        CHECK(sg_targets_parse(&cfg, names, same, spec, &s, &err) == 0 && s.ds == ds && s.index[0] == idx,
              "target %d '%s' parses back: '%s' ds %d", t, spec, err.msg, s.ds);
    }
    /* A dataset called "2" beside two called "x": digits are always a
     * number, so each of the three has a name that parses back to it (the
     * dataset "2" took "2:" before, and dataset 2 could not be named). */
    const char *digit[] = {"2", "x", "x"};
    const char *both[] = {"Bangs", "Male", "Bangs", "Male", "Bangs", "Male"};
    sg_model_config three = {.n_datasets = 3, .label_dim = {2, 2, 2}};
    for (int t = 0; t < 6; t++) {
        char spec[300];
        sg_targets_name(&three, both, digit, t, n, sizeof n);
        snprintf(spec, sizeof spec, "+%s", n);
        int idx = 0, ds = sg_targets_dataset_of(&three, t, &idx);
        char want[32];
        snprintf(want, sizeof want, "%d:%s", ds + 1, both[t]);
        CHECK(!strcmp(n, want), "target %d of datasets 2, x, x is named '%s' (want '%s')", t, n, want);
        CHECK(sg_targets_parse(&three, both, digit, spec, &s, &err) == 0 && s.ds == ds && s.index[0] == idx,
              "target %d '%s' parses back: '%s' ds %d", t, spec, err.msg, s.ds);
    }
    /* a name twice in one dataset is not "in several datasets" */
    sg_model_config one = {.n_datasets = 1, .label_dim = {2}};
    const char *twice[] = {"Bangs", "Bangs"};
    err.msg[0] = 0;
    CHECK(sg_targets_parse(&one, twice, NULL, "+Bangs", &s, &err) == -1 &&
          strstr(err.msg, "'Bangs' is named more than once in one dataset"), "twice in one: '%s'", err.msg);
    /* "=" names no attribute */
    err.msg[0] = 0;
    CHECK(sg_targets_parse(&one, CELEBA5, NULL, "=0.5", &s, &err) == -1 && strstr(err.msg, "empty attribute name"),
          "'=0.5': '%s'", err.msg);
}

/* One-hot: naming a class clears the others (starting from the input's own class). */
static void test_one_hot_spec(void)
{
    sg_model_config cfg = {.n_datasets = 1, .label_dim = {3}, .one_hot = {1}};
    const char *names[] = {"angry", "happy", "sad"};
    sg_target_spec s;
    sg_err err = {{0}};
    float own[3] = {1, 0, 0}, c[3];
    CHECK(sg_targets_parse(&cfg, names, NULL, "+sad", &s, &err) == 0, "%s", err.msg);
    sg_targets_apply(&cfg, names, &s, 0, own, c);
    static const float w[3] = {0, 0, 1};
    check_rows("one-hot +sad", c, w, 3);
    float all[9];
    CHECK(sg_targets_all(&cfg, names, 0, own, all, &err) == 0, "%s", err.msg);
    static const float wa[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    check_rows("one-hot all", all, wa, 9);
}

/* The user's --targets text and the label/dataset names of a checkpoint's
 * metadata are quoted in messages escaped and cut (lib/error.h sg_quote_bytes):
 * an ESC sequence, invalid UTF-8 or a value of any length once went into the
 * message as it was. */
static int printable(const char *m)
{
    for (; *m; m++)
        if ((unsigned char)*m < 0x20 || (unsigned char)*m >= 0x7f) return 0;
    return 1;
}

static void test_messages_quoted(void)
{
    sg_model_config cfg = {.n_datasets = 1, .label_dim = {5}};
    sg_target_spec s;
    sg_err err = {{0}};
    char long_name[301];
    memset(long_name, 'x', 300);
    long_name[0] = '+';
    long_name[300] = 0;
    struct { const char *spec, *want; } cases[] = {
        {"+X\x1b[2J", "--targets: unknown attribute 'X\\x1b[2J' (known: Black_Hair, Blond_Hair, Brown_Hair, Male, Young)"},
        {"+caf\xc3\xa9\xff", "--targets: unknown attribute 'caf\\xc3\\xa9\\xff' (known: "},
        {"Young=\x07", "--targets: value of 'Young' must be a number in [0, 1], not '\\x07'"},
        {"\x9b" "31m=2", "--targets: value of '\\x9b31m' must be a number in [0, 1], not '2'"},
        {"+Young,,\x1b]0;t\x07", "--targets: empty item in '+Young,,\\x1b]0;t\\x07'"},
        {"+\x1b=1", "--targets: '+\\x1b=1': use +NAME, -NAME or NAME=VALUE"},
        {"+Young,-\x7fYoung", "--targets: unknown attribute '\\x7fYoung'"},
        {"+Young,+", "--targets: empty attribute name in '+Young,+'"},
        {long_name, "--targets: unknown attribute 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' (known: "},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        err.msg[0] = 0;
        int rc = sg_targets_parse(&cfg, CELEBA5, NULL, cases[k].spec, &s, &err);
        CHECK(rc == -1 && !strncmp(err.msg, cases[k].want, strlen(cases[k].want)) && printable(err.msg),
              "case %zu: rc %d message '%s' (want it to start '%s', printable)", k, rc, err.msg, cases[k].want);
    }
    /* Names from the metadata: in the list of known names, the dataset-mix and
     * the ambiguity messages. */
    const char *names[] = {"A\x1b[31m", "B\xe2\x80\xae", "A\x1b[31m", "C"};
    const char *datasets[] = {"one\x1b", "two"};
    sg_model_config cfg2 = {.n_datasets = 2, .label_dim = {2, 2}};
    struct { const char *spec, *want; } meta[] = {
        /* names two datasets share are listed as --targets takes them: qualified */
        {"+D", "--targets: unknown attribute 'D' (known: one\\x1b:A\\x1b[31m, B\\xe2\\x80\\xae, two:A\\x1b[31m, C)"},
        {"+B\xe2\x80\xae,+C", "--targets: 'B\\xe2\\x80\\xae' (dataset 1 'one\\x1b') and 'C' (dataset 2 two) "
                              "belong to different datasets"},
        {"+A\x1b[31m", "--targets: attribute 'A\\x1b[31m' is in several datasets; write DATASET:A\\x1b[31m"},
        {"one\x1b:C", "--targets: 'one\\x1b:C': dataset 1 ('one\\x1b') has no attribute 'C' (it has: "
                       "A\\x1b[31m, B\\xe2\\x80\\xae)"},
        {"thr\x1b:C", "--targets: 'thr\\x1b:C': no dataset is called 'thr\\x1b'; the datasets are 1 'one\\x1b', 2 two"},
    };
    for (size_t k = 0; k < sizeof meta / sizeof meta[0]; k++) {
        err.msg[0] = 0;
        int rc = sg_targets_parse(&cfg2, names, datasets, meta[k].spec, &s, &err);
        CHECK(rc == -1 && !strncmp(err.msg, meta[k].want, strlen(meta[k].want)) && printable(err.msg),
              "metadata case %zu: rc %d message '%s' (want it to start '%s', printable)", k, rc, err.msg, meta[k].want);
    }
    /* The known-name list stays within the message with long names. */
    const char *longs[40];
    char buf[40][200];
    for (int i = 0; i < 40; i++) {
        memset(buf[i], 'a' + i % 26, 199);
        buf[i][199] = 0;
        buf[i][0] = (char)('0' + i % 10);
        longs[i] = buf[i];
    }
    sg_model_config cfg3 = {.n_datasets = 1, .label_dim = {40}};
    err.msg[0] = 0;
    CHECK(sg_targets_parse(&cfg3, longs, NULL, "+nope", &s, &err) == -1 && strlen(err.msg) < 800 &&
          strstr(err.msg, "0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa..., 1bbbb") && strstr(err.msg, "...") &&
          printable(err.msg), "long names: '%s'", err.msg);
}

/* The list of known names in an unknown attribute's message: one cut at
 * its room ends ", ..."; 64 short names were cut after the 50th with nothing
 * to say so (the list read as whole), and a cut one ended "Young..." as if
 * its last name were cut short. The longest message (every name cut by
 * sg_quote_str, the list full, a suggestion) stays within sg_err's msg: the
 * name asked for and the suggestion are never cut out (sg-sample adds no
 * prefix but "--targets", which is in it). */
static void test_known_list_cut(void)
{
    static char buf[64][200];
    const char *names[64];
    for (int i = 0; i < 64; i++) {
        snprintf(buf[i], sizeof buf[i], "Attribute_%02d", i);
        names[i] = buf[i];
    }
    sg_model_config cfg = {.n_datasets = 1, .label_dim = {64}};
    sg_target_spec s;
    sg_err err = {{0}};
    CHECK(sg_targets_parse(&cfg, names, NULL, "+Atribute_07", &s, &err) == -1 &&
          strstr(err.msg, "(known: Attribute_00, Attribute_01, ") &&
          strstr(err.msg, ", ...); did you mean 'Attribute_07'?") && !strstr(err.msg, "Attribute_63"),
          "64 names, the list cut: '%s'", err.msg);
    /* a list that just fits its room (699 bytes) is whole: room for ", ..."
     * is kept only while names follow */
    for (int i = 0; i < 49; i++) names[i] = buf[i];
    snprintf(buf[49], sizeof buf[49], "Attribute_49x");
    names[49] = buf[49];
    sg_model_config cfg50 = {.n_datasets = 1, .label_dim = {50}};
    err.msg[0] = 0;
    CHECK(sg_targets_parse(&cfg50, names, NULL, "+Zzzz", &s, &err) == -1 &&
          strstr(err.msg, ", Attribute_48, Attribute_49x)") && !strstr(err.msg, "..."),
          "50 names just fitting: '%s'", err.msg);
    const char *five[] = {"Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"};
    sg_model_config cfg5 = {.n_datasets = 1, .label_dim = {5}};
    CHECK(sg_targets_parse(&cfg5, five, NULL, "+Yung", &s, &err) == -1 &&
          !strcmp(err.msg, "--targets: unknown attribute 'Yung' (known: Black_Hair, Blond_Hair, Brown_Hair, Male, "
                           "Young); did you mean 'Young'?"), "a whole list: '%s'", err.msg);

    /* the longest: names of escaped bytes, cut by sg_quote_str; two datasets
     * of one (quoted) name sharing every label, so that the list is qualified */
    for (int i = 0; i < 32; i++) {
        memset(buf[i], '\x1b', sizeof buf[i] - 1);
        buf[i][sizeof buf[i] - 1] = 0;
        memcpy(buf[i], "L", 1);
        buf[i][1] = (char)('A' + i % 26);
        buf[i][2] = (char)('A' + i / 26);
        names[i] = names[i + 32] = buf[i];
    }
    char dn[200];
    memset(dn, '\'', sizeof dn - 1);
    dn[sizeof dn - 1] = 0;
    dn[0] = '\x1b';
    const char *datasets[] = {dn, dn};
    sg_model_config cfg2 = {.n_datasets = 2, .label_dim = {32, 32}};
    char spec[400];
    const char *quals[] = {"+", "+2:", "+1:"};
    for (int k = 0; k < 3; k++) {
        snprintf(spec, sizeof spec, "%s%s", quals[k], names[3]);
        spec[strlen(quals[k]) + 4] = 'X';   /* 'LDA\x1bX\x1b...' for 'LDA\x1b\x1b...' */
        err.msg[0] = 0;
        size_t l = 0;
        CHECK(sg_targets_parse(&cfg2, names, datasets, spec, &s, &err) == -1 &&
              (l = strlen(err.msg)) < sizeof err.msg - 1 - 100 && !strstr(err.msg, " ... ") &&
              strstr(err.msg, "LDA\\x1bX\\x1b") && strstr(err.msg, ", ...)") &&
              strstr(err.msg, "; did you mean '") && !strcmp(err.msg + l - 5, "...'?") && printable(err.msg),
              "the longest message, %s (%zu bytes, want 100 under %zu, nothing cut by sg_err): '%s'", quals[k], l,
              sizeof err.msg - 1, err.msg);
    }
}

/* Messages a black-box review found unhelpful, each quoting the user's text on
 * one line: an unknown dataset lists the datasets (or says there is one);
 * digits with leading zeros are the number; a mix of datasets names both items
 * as typed; a qualified name the dataset lacks lists that dataset's names;
 * 'RaFD:+happy' suggests '+RaFD:happy'. And an unqualified name that several
 * datasets share takes the dataset of the spec's other items. */
static void test_review_messages(void)
{
    sg_model_config cfg = {.n_datasets = 3, .label_dim = {2, 2, 3}, .one_hot = {0, 0, 1}};
    const char *names[] = {"Bangs", "Black_Hair", "Bangs", "Black_Hair", "angry", "happy", "sad"};
    const char *ds_names[] = {"train", "train", "rafd"};
    sg_target_spec s;
    sg_err err = {{0}};
    struct { const char *spec, *want; } cases[] = {
        {"+celebA:Bangs", "--targets: 'celebA:Bangs': no dataset is called 'celebA'; the datasets are "
                          "1 train, 2 train, 3 rafd"},
        {"+4:Bangs", "--targets: '4:Bangs': no dataset 4; the datasets are 1 train, 2 train, 3 rafd"},
        {"+0:Bangs", "--targets: '0:Bangs': no dataset 0; the datasets are 1 train, 2 train, 3 rafd"},
        {"+99999999999999999999:Bangs", "--targets: '99999999999999999999:Bangs': no dataset 99999999999999999999; "
                                        "the datasets are 1 train, 2 train, 3 rafd"},
        {"+2:Bangs,+1:Black_Hair", "--targets: '2:Bangs' (dataset 2 train) and '1:Black_Hair' (dataset 1 train) "
                                   "belong to different datasets; name attributes of one dataset"},
        {"+3:Bangs", "--targets: '3:Bangs': dataset 3 (rafd) has no attribute 'Bangs' (it has: angry, happy, sad)"},
        {"+rafd:Bangs", "--targets: 'rafd:Bangs': dataset 3 (rafd) has no attribute 'Bangs' (it has: angry, happy, sad)"},
        /* the suggestion from the dataset named, unqualified; from all, qualified where datasets share it */
        {"+rafd:hapy", "--targets: 'rafd:hapy': dataset 3 (rafd) has no attribute 'hapy' (it has: angry, happy, sad); "
                       "did you mean 'happy'?"},
        {"+Bangz", "--targets: unknown attribute 'Bangz' (known: 1:Bangs, 1:Black_Hair, 2:Bangs, 2:Black_Hair, angry, "
                   "happy, sad); did you mean '1:Bangs'?"},
        {"rafd:+happy", "--targets: 'rafd:+happy': dataset 3 (rafd) has no attribute '+happy'; write +rafd:happy"},
        {"3:-sad", "--targets: '3:-sad': dataset 3 (rafd) has no attribute '-sad'; write -3:sad"},
        /* no item names one dataset: still ambiguous */
        {"-Black_Hair,+Bangs", "--targets: attribute 'Black_Hair' is in several datasets; write N:Black_Hair"},
        /* the other item's dataset lacks it: ambiguous as before */
        {"+happy,-Bangs", "--targets: attribute 'Bangs' is in several datasets; write N:Bangs"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        err.msg[0] = 0;
        int rc = sg_targets_parse(&cfg, names, ds_names, cases[k].spec, &s, &err);
        CHECK(rc == -1 && !strncmp(err.msg, cases[k].want, strlen(cases[k].want)) && !strchr(err.msg, '\n'),
              "'%s': rc %d message '%s' (want it to start '%s')", cases[k].spec, rc, err.msg, cases[k].want);
    }
    /* leading zeros: the number */
    CHECK(sg_targets_parse(&cfg, names, ds_names, "+02:Bangs", &s, &err) == 0 && s.ds == 1 && s.index[0] == 0,
          "02:Bangs: '%s' ds %d", err.msg, s.ds);
    CHECK(sg_targets_parse(&cfg, names, ds_names, "+003:sad", &s, &err) == 0 && s.ds == 2 && s.index[0] == 2,
          "003:sad: '%s' ds %d", err.msg, s.ds);
    /* the qualified item's dataset decides the unqualified one's, in either order */
    CHECK(sg_targets_parse(&cfg, names, ds_names, "+2:Bangs,-Black_Hair", &s, &err) == 0 && s.ds == 1 && s.n == 2 &&
          s.index[0] == 0 && s.index[1] == 1 && s.value[1] == 0.0f, "2:Bangs,-Black_Hair: '%s' ds %d", err.msg, s.ds);
    CHECK(sg_targets_parse(&cfg, names, ds_names, "-Black_Hair,+1:Bangs", &s, &err) == 0 && s.ds == 0 && s.n == 2 &&
          s.index[0] == 1 && s.index[1] == 0, "-Black_Hair,+1:Bangs: '%s' ds %d", err.msg, s.ds);

    /* one dataset: say so */
    sg_model_config one = {.n_datasets = 1, .label_dim = {5}};
    const char *celeba[] = {"celebA"};
    err.msg[0] = 0;
    CHECK(sg_targets_parse(&one, CELEBA5, celeba, "+2:Male", &s, &err) == -1 &&
          !strcmp(err.msg, "--targets: '2:Male': no dataset 2; the checkpoint has one dataset, 1 celebA"),
          "one dataset: '%s'", err.msg);
    err.msg[0] = 0;
    CHECK(sg_targets_parse(&one, CELEBA5, celeba, "+celebB:Male", &s, &err) == -1 &&
          !strcmp(err.msg, "--targets: 'celebB:Male': no dataset is called 'celebB'; the checkpoint has one "
                           "dataset, 1 celebA"), "one dataset, by name: '%s'", err.msg);
    CHECK(sg_targets_parse(&one, CELEBA5, celeba, "+01:Male", &s, &err) == 0 && s.ds == 0 && s.index[0] == 3,
          "01:Male: '%s'", err.msg);

    /* the list of datasets as messages show it */
    char list[200];
    sg_targets_dataset_list(&cfg, ds_names, NULL, 0, list, sizeof list);
    CHECK(!strcmp(list, "1 train, 2 train, 3 rafd"), "dataset list '%s'", list);
    const char *odd[] = {"a b", "x\x1b"};
    sg_model_config two = {.n_datasets = 2, .label_dim = {1, 1}};
    sg_targets_dataset_list(&two, odd, NULL, 0, list, sizeof list);
    CHECK(!strcmp(list, "1 'a b', 2 'x\\x1b'"), "dataset list with odd names '%s'", list);
    sg_targets_dataset_list(&two, NULL, NULL, 0, list, sizeof list);
    CHECK(!strcmp(list, "1, 2"), "dataset list without names '%s'", list);
    /* cut as the list of known names is: ", ..." after the last whole entry,
     * room for it kept while more follow; it was "1 train, 2 train..." (the
     * last name read as cut short), and a list just fitting is whole */
    static const struct { size_t cap; const char *want; } cut[] = {
        {25, "1 train, 2 train, 3 rafd"}, {24, "1 train, 2 train, ..."}, {22, "1 train, 2 train, ..."},
        {21, "1 train, ..."}, {13, "1 train, ..."}, {12, "..."}, {4, "..."}, {3, ""},
    };
    for (size_t k = 0; k < sizeof cut / sizeof cut[0]; k++) {
        memset(list, 'x', sizeof list);
        sg_targets_dataset_list(&cfg, ds_names, NULL, 0, list, cut[k].cap);
        CHECK(!strcmp(list, cut[k].want), "dataset list in %zu bytes: '%s' (want '%s')", cut[k].cap, list,
              cut[k].want);
    }
}

/* sg-sample --dataset N|NAME: a number (leading zeros allowed) or one
 * dataset's name. */
static void test_dataset_parse(void)
{
    sg_model_config cfg = {.n_datasets = 3, .label_dim = {2, 2, 3}};
    const char *ds_names[] = {"train", "train", "rafd"};
    sg_err err = {{0}};
    int ds = -1;
    CHECK(sg_targets_dataset_parse(&cfg, ds_names, "2", &ds, &err) == 0 && ds == 1, "'2': %d '%s'", ds, err.msg);
    CHECK(sg_targets_dataset_parse(&cfg, ds_names, "003", &ds, &err) == 0 && ds == 2, "'003': %d", ds);
    CHECK(sg_targets_dataset_parse(&cfg, ds_names, "rafd", &ds, &err) == 0 && ds == 2, "'rafd': %d", ds);
    /* as targets.tsv shows a dataset whose name others share */
    CHECK(sg_targets_dataset_parse(&cfg, ds_names, "2:train", &ds, &err) == 0 && ds == 1, "'2:train': %d '%s'", ds,
          err.msg);
    struct { const char *text, *want; } bad[] = {
        {"3:train", "no dataset is called '3:train'; the datasets are 1 train, 2 train, 3 rafd"},
        {"0", "no dataset 0; the datasets are 1 train, 2 train, 3 rafd"},
        {"4", "no dataset 4; the datasets are 1 train, 2 train, 3 rafd"},
        {"train", "several datasets are called 'train'; give its number (the datasets are 1 train, 2 train, 3 rafd)"},
        {"celebA", "no dataset is called 'celebA'; the datasets are 1 train, 2 train, 3 rafd"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        err.msg[0] = 0;
        CHECK(sg_targets_dataset_parse(&cfg, ds_names, bad[k].text, &ds, &err) == -1 && !strcmp(err.msg, bad[k].want),
              "'%s': '%s' (want '%s')", bad[k].text, err.msg, bad[k].want);
    }
}

/* Datasets' labels in files (history.jsonl, targets.tsv): a name, or N:NAME
 * when another dataset has it or it reads as N:NAME itself, so that labels
 * of two datasets never meet (a review found a shard named "2:train" beside
 * two "train"s merged with the second); --dataset takes both forms, and a
 * text that is one dataset's name and another's N:NAME is an error. */
static void test_dataset_labels(void)
{
    sg_model_config cfg = {.n_datasets = 3, .label_dim = {1, 1, 1}};
    const char *names[] = {"train", "train", "2:train"};
    char l[300];
    const char *want[] = {"1:train", "2:train", "3:2:train"};
    for (int ds = 0; ds < 3; ds++) {
        sg_targets_dataset_label(&cfg, names, ds, l, sizeof l);
        CHECK(!strcmp(l, want[ds]), "label of dataset %d: '%s' (want '%s')", ds + 1, l, want[ds]);
    }
    const char *plain[] = {"celebA", "rafd", "x"};
    sg_targets_dataset_label(&cfg, plain, 1, l, sizeof l);
    CHECK(!strcmp(l, "rafd"), "a name of its own: '%s'", l);
    sg_err err = {{0}};
    int ds = -1;
    CHECK(sg_targets_dataset_parse(&cfg, names, "3:2:train", &ds, &err) == 0 && ds == 2, "'3:2:train': %d '%s'", ds,
          err.msg);
    CHECK(sg_targets_dataset_parse(&cfg, names, "2:train", &ds, &err) == -1 &&
          !strcmp(err.msg, "'2:train' is dataset 3's name and dataset 2 as N:NAME; give 2 or 3:2:train"),
          "both readings: '%s'", err.msg);
    /* a quote in a name, the shell's way (as celeb-dump's lists) */
    const char *quoted[] = {"it's", "b", "c"};
    sg_targets_dataset_desc(&cfg, quoted, 0, l, sizeof l);
    CHECK(!strcmp(l, "1 'it'\\''s'"), "a quote in a dataset's name: '%s'", l);
    /* a quoted name too long for its 48 bytes is cut after a whole quote or
     * escape and ends "...'"; it was cut with no mark ('h'\''i'\''' read
     * as whole), or inside an escape ('\x') */
    const char *long_names[] = {"'''\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01",
                                "a'b'c'd'e'f'g'h'i'j'k'l", "c"};
    sg_targets_dataset_desc(&cfg, long_names, 0, l, sizeof l);
    CHECK(!strcmp(l, "1 ''\\'''\\'''\\''\\x01\\x01\\x01\\x01\\x01\\x01\\x01...'"), "an escape cut: '%s'", l);
    sg_targets_dataset_desc(&cfg, long_names, 1, l, sizeof l);
    CHECK(!strcmp(l, "2 'a'\\''b'\\''c'\\''d'\\''e'\\''f'\\''g'\\''h'\\''i...'"), "quotes cut: '%s'", l);
    /* a list of some datasets */
    int which[] = {2, 0};
    sg_targets_dataset_list(&cfg, plain, which, 2, l, sizeof l);
    CHECK(!strcmp(l, "3 x, 1 celebA"), "a subset: '%s'", l);
}

/* The one rule for quoting a name in a list (celeb-dump, sg-sample). */
static void test_name_quotes(void)
{
    static const struct { const char *s; int q; } cases[] = {
        {"Black_Hair", 0}, {"a-b.c+d", 0}, {"2:train", 0}, {"x@y/z=w%^~", 0}, {"caf\xc3\xa9", 0},
        {"sad face", 1}, {"a,b", 1}, {"it's", 1}, {"", 1}, {"tab\there", 1}, {"$x", 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        CHECK(sg_name_needs_quotes(cases[k].s) == cases[k].q, "'%s': %d", cases[k].s, !cases[k].q);
}

int main(void)
{
    test_single_celeba();
    test_multi_rafd();
    test_multi_two_multihot();
    test_three_datasets();
    test_layout_agrees_with_model();
    test_parse_apply();
    test_parse_multi();
    test_qualifiers();
    test_one_hot_spec();
    test_messages_quoted();
    test_known_list_cut();
    test_review_messages();
    test_dataset_parse();
    test_dataset_labels();
    test_name_quotes();
    test_comma_labels();
    return check_done();
}
