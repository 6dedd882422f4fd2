/* Test-time target labels: the reference's create_labels (solver.py), generalised
 * to several datasets with a mask vector, and --targets specifications.
 *
 * Label layout (lib/model.h): G's label vector is
 *   [labels of dataset 0 | labels of dataset 1 | ... | one-hot mask (n_datasets > 1 only)]
 * and label_names lists sum(label_dim) names in that order (the checkpoint's
 * metadata, or a shard's names for one dataset).
 *
 * Targets: there is one test-time target per label, so target t is label t of the
 * concatenated layout (its name is label_names[t]):
 *   multi-hot dataset, a hair colour (Black_Hair, Blond_Hair, Brown_Hair, Gray_Hair):
 *     that colour set to 1 and every other hair colour of the dataset cleared;
 *   multi-hot dataset, any other attribute: that attribute flipped (v -> v == 0);
 *   one-hot dataset: the class's one-hot vector.
 * A multi-hot target starts from the input's own labels when the target's dataset is
 * the input's own, and from zeros otherwise (the reference's test_multi builds the
 * CelebA targets from the CelebA labels and zero_celeba for the other set). The other
 * datasets' slots are zero and the mask selects the target's dataset. */
#ifndef SG_TARGETS_H
#define SG_TARGETS_H
#include "error.h"
#include "model.h"

#define SG_TARGETS_MAX_ITEMS 64

/* Number of test-time targets (= sg_model_cls_dim). */
int sg_targets_count(const sg_model_config *cfg);
/* Dataset of label t (0 <= t < sg_model_cls_dim), or -1 when out of range;
 * *index (may be NULL) receives t's index inside that dataset. */
int sg_targets_dataset_of(const sg_model_config *cfg, int t, int *index);

/* G's label vector for an input's own labels: c (c_dim) = own labels in ds's slot,
 * zeros elsewhere, mask = ds. own_ds -1 (no labels, e.g. an image file) gives zeros
 * with mask 0. own_labels: label_dim[own_ds] values, or NULL for zeros with the
 * mask still set to own_ds. */
void sg_targets_own(const sg_model_config *cfg, int own_ds, const float *own_labels, float *c);

/* Every test-time target for one input: c_trg (sg_targets_count, c_dim), row t is
 * target t (see above). own_ds / own_labels as in sg_targets_own. */
int sg_targets_all(const sg_model_config *cfg, const char *const *label_names,
                   int own_ds, const float *own_labels, float *c_trg, sg_err *err);

/* A parsed --targets specification: "+A,-B,C=0.5" sets A to 1, B to 0 and C to 0.5
 * (values in [0, 1]). Names may be qualified by a dataset name as "DATASET:NAME"
 * (needed only when several datasets share a name). All named labels must belong to
 * one dataset. */
typedef struct {
    int ds;                                  /* dataset of the named labels */
    int n;
    int index[SG_TARGETS_MAX_ITEMS];         /* label index inside dataset ds */
    float value[SG_TARGETS_MAX_ITEMS];
} sg_target_spec;

/* How --targets qualifies dataset ds (DATASET:NAME): its name when no other
 * dataset is called so (and it has no ':' and is not all digits), else its
 * number from 1 ("2"), which a qualifier also accepts: a qualifier of digits
 * is always a number. dataset_names may be NULL (then the number). For tests
 * only, outside targets.c. */
#define SG_TARGETS_QUALIFIER_MAX 160
void sg_targets_qualifier(const sg_model_config *cfg, const char *const *dataset_names, int ds,
                          char *out, size_t cap);
/* Dataset ds as messages show it: its number from 1 and its name, "2 train"
 * (the name quoted escaped, 'a b', when sg_name_needs_quotes says so; the
 * number alone without dataset_names). */
void sg_targets_dataset_desc(const sg_model_config *cfg, const char *const *dataset_names, int ds,
                             char *out, size_t cap);
/* Dataset ds's label in files (history.jsonl, sg-sample's targets.tsv): its
 * name, or "N:NAME" (N its number from 1) when another dataset has that name
 * or the name itself reads as N:NAME ("2:train"), so that labels of two
 * datasets never meet. --dataset takes either. */
void sg_targets_dataset_label(const sg_model_config *cfg, const char *const *dataset_names, int ds, char *out,
                              size_t cap);
/* Every dataset so, or the n_which of which (NULL: all): "1 train, 2 train,
 * 3 rafd"; a list longer than cap ends ", ..." after its last whole entry
 * ("1 train, ..."), as the known names in --targets' messages do. */
void sg_targets_dataset_list(const sg_model_config *cfg, const char *const *dataset_names, const int *which,
                             int n_which, char *out, size_t cap);
/* The dataset text names, as a qualifier does: digits are its number from 1
 * (leading zeros allowed), anything else its name, which must be one
 * dataset's; "N:NAME" (sg-sample's targets.tsv column) when both agree. Errors (no prefix): "no dataset 4; the datasets are 1 a, 2 b",
 * "no dataset is called 'x'; ...", "several datasets are called 'a'; give
 * its number (...)". */
int sg_targets_dataset_parse(const sg_model_config *cfg, const char *const *dataset_names, const char *text,
                             int *ds, sg_err *err);
/* Target t's name as --targets takes it: QUALIFIER:NAME when a label of another
 * dataset has the same name, else NAME. */
void sg_targets_name(const sg_model_config *cfg, const char *const *label_names,
                     const char *const *dataset_names, int t, char *out, size_t cap);

/* dataset_names: n_datasets names (may be NULL: then names cannot be qualified).
 * A qualifier is a dataset's name or its number from 1 (needed when datasets
 * share a name, x/train.lmdb and y/train.lmdb; digits are always a number,
 * leading zeros allowed: "02:" is dataset 2); a name whose part before ':'
 * qualifies nothing is a label name as a whole ("a:b"). All items belong to
 * one dataset, so an unqualified name several datasets have is taken from the
 * dataset another item names by itself ("+2:Bangs,-Black_Hair").
 * Errors, each one line quoting the user's text: "unknown attribute 'X'
 * (known: A, B, ...)", "'4:X': no dataset 4; the datasets are 1 a, 2 b" (or
 * "the checkpoint has one dataset, 1 a"), "'N:X': dataset N (a) has no
 * attribute 'X' (it has: ...)" ("; write +N:X" for 'N:+X'), an empty item, a
 * value outside [0, 1], a name given twice, "'2:A' (dataset 2 b) and '1:B'
 * (dataset 1 a) belong to different datasets", an ambiguous name. */
int sg_targets_parse(const sg_model_config *cfg, const char *const *label_names,
                     const char *const *dataset_names, const char *text,
                     sg_target_spec *spec, sg_err *err);

/* The label vector c (c_dim) for spec and one input: dataset spec->ds's slot starts
 * from the input's own labels when own_ds == spec->ds, else from zeros; then each
 * named value is written. A hair colour (multi-hot) or a class (one-hot) named with
 * a value > 0 clears the other hair colours / classes that the spec does not name,
 * as create_labels does. Other slots are zero; the mask selects spec->ds. */
void sg_targets_apply(const sg_model_config *cfg, const char *const *label_names,
                      const sg_target_spec *spec, int own_ds, const float *own_labels,
                      float *c);

#endif
