/* lib/targets.c: sg-sample's --targets (and the dataset names --dataset
 * takes), for one of three models chosen by the input's first byte: one
 * CelebA dataset; CelebA and RaFD; two datasets both called "train" and
 * sharing label names. An accepted spec names labels of one dataset, each
 * once, with values in [0, 1], and applies to a label vector with its mask
 * on that dataset. */
#include "fuzz.h"
#include "model.h"
#include "targets.h"

static const char *const celeba[5] = {"Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"};
static const char *const rafd[8] = {"angry", "contemptuous", "disgusted", "fearful", "happy", "neutral", "sad",
                                    "surprised"};
static const char *const both[13] = {"Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young", "angry",
                                     "contemptuous", "disgusted", "fearful", "happy", "neutral", "sad", "surprised"};
static const char *const twice[10] = {"Bangs", "Black_Hair", "Male", "Young", "a:b",
                                      "Bangs", "Black_Hair", "Male", "Young", "2:Bangs"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    sg_model_config cfg = {0};
    const char *const *labels;
    const char *const *datasets;
    static const char *const ds_celeba[1] = {"celeba"}, *const ds_two[2] = {"celeba", "rafd"},
                             *const ds_same[2] = {"train", "train"};
    switch (data[0] % 3) {
    case 0: cfg.n_datasets = 1; cfg.label_dim[0] = 5; labels = celeba; datasets = ds_celeba; break;
    case 1:
        cfg.n_datasets = 2; cfg.label_dim[0] = 5; cfg.label_dim[1] = 8; cfg.one_hot[1] = 1;
        labels = both; datasets = ds_two;
        break;
    default: cfg.n_datasets = 2; cfg.label_dim[0] = cfg.label_dim[1] = 5; labels = twice; datasets = ds_same; break;
    }
    if (data[0] & 0x80) datasets = NULL;
    (void)rafd;
    char *text = fuzz_copy(data + 1, size - 1, 1);
    sg_target_spec spec;
    sg_err err = {{0}};
    if (fuzz_verdict(sg_targets_parse(&cfg, labels, datasets, text, &spec, &err), &err) == 0) {
        FUZZ_CHECK(spec.ds >= 0 && spec.ds < cfg.n_datasets, "dataset %d", spec.ds);
        FUZZ_CHECK(spec.n >= 1 && spec.n <= SG_TARGETS_MAX_ITEMS, "%d items", spec.n);
        for (int i = 0; i < spec.n; i++) {
            FUZZ_CHECK(spec.index[i] >= 0 && spec.index[i] < cfg.label_dim[spec.ds], "item %d: label %d", i,
                       spec.index[i]);
            FUZZ_CHECK(spec.value[i] >= 0 && spec.value[i] <= 1, "item %d: value %g", i, spec.value[i]);
            for (int j = 0; j < i; j++) FUZZ_CHECK(spec.index[j] != spec.index[i], "label %d named twice", spec.index[i]);
        }
        float own[8] = {1, 0, 1, 0, 1, 0, 0, 0}, c[32];
        int cd = sg_model_c_dim(&cfg);
        sg_targets_apply(&cfg, labels, &spec, 0, own, c);
        for (int k = 0; k < cd; k++) FUZZ_CHECK(c[k] >= 0 && c[k] <= 1, "c[%d] = %g", k, c[k]);
        if (cfg.n_datasets > 1) {
            int off = sg_model_cls_dim(&cfg);
            for (int d = 0; d < cfg.n_datasets; d++) FUZZ_CHECK(c[off + d] == (d == spec.ds), "mask %d", d);
        }
    }
    int ds;
    if (fuzz_verdict(sg_targets_dataset_parse(&cfg, datasets, text, &ds, &err), &err) == 0)
        FUZZ_CHECK(ds >= 0 && ds < cfg.n_datasets, "dataset %d", ds);
    free(text);
    return 0;
}
