#include "targets.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The layout arithmetic of lib/model.h (sg_model_c_dim, sg_model_cls_dim,
 * sg_model_label_offset), computed here so that targets depend on the config
 * alone and not on the engine (tools that only parse labels link without it). */
static int cls_dim(const sg_model_config *cfg)
{
    int n = 0;
    for (int ds = 0; ds < cfg->n_datasets; ds++) n += cfg->label_dim[ds];
    return n;
}
static int c_dim_of(const sg_model_config *cfg)
{
    return cls_dim(cfg) + (cfg->n_datasets > 1 ? cfg->n_datasets : 0);
}
static int label_offset(const sg_model_config *cfg, int ds)
{
    int off = 0;
    for (int k = 0; k < ds; k++) off += cfg->label_dim[k];
    return off;
}

int sg_targets_count(const sg_model_config *cfg)
{
    return cls_dim(cfg);
}

int sg_targets_dataset_of(const sg_model_config *cfg, int t, int *index)
{
    int off = 0;
    for (int ds = 0; ds < cfg->n_datasets; ds++) {
        if (t >= off && t < off + cfg->label_dim[ds]) {
            if (index) *index = t - off;
            return ds;
        }
        off += cfg->label_dim[ds];
    }
    return -1;
}

int sg_targets_is_hair_colour(const char *name)
{
    static const char *const hair[] = {"Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair"};
    for (int i = 0; i < 4; i++)
        if (name && !strcmp(name, hair[i])) return 1;
    return 0;
}

/* Zeros everywhere, the mask (n_datasets > 1) set to ds. */
static void clear_with_mask(const sg_model_config *cfg, int ds, float *c)
{
    int c_dim = c_dim_of(cfg);
    memset(c, 0, sizeof(float) * (size_t)c_dim);
    if (cfg->n_datasets > 1 && ds >= 0) c[cls_dim(cfg) + ds] = 1.0f;
}

void sg_targets_own(const sg_model_config *cfg, int own_ds, const float *own_labels, float *c)
{
    clear_with_mask(cfg, own_ds < 0 ? 0 : own_ds, c);
    if (own_ds >= 0 && own_labels)
        memcpy(c + label_offset(cfg, own_ds), own_labels,
               sizeof(float) * (size_t)cfg->label_dim[own_ds]);
}

/* Dataset ds's slot of c starts as the input's labels when ds is the input's own. */
static void start_slot(const sg_model_config *cfg, int ds, int own_ds, const float *own_labels, float *c)
{
    clear_with_mask(cfg, ds, c);
    if (ds == own_ds && own_labels)
        memcpy(c + label_offset(cfg, ds), own_labels, sizeof(float) * (size_t)cfg->label_dim[ds]);
}

int sg_targets_all(const sg_model_config *cfg, const char *const *label_names,
                   int own_ds, const float *own_labels, float *c_trg, sg_err *err)
{
    if (cfg->n_datasets < 1 || cfg->n_datasets > SG_MAX_DATASETS)
        return sg_errf(err, "targets: %d datasets (expected 1..%d)", cfg->n_datasets, SG_MAX_DATASETS);
    if (own_ds >= cfg->n_datasets)
        return sg_errf(err, "targets: input dataset %d of %d", own_ds, cfg->n_datasets);
    int c_dim = c_dim_of(cfg), n = sg_targets_count(cfg);
    for (int t = 0; t < n; t++) {
        int i = 0, ds = sg_targets_dataset_of(cfg, t, &i);
        int off = label_offset(cfg, ds);
        float *c = c_trg + (size_t)t * c_dim;
        start_slot(cfg, ds, own_ds, own_labels, c);
        float *slot = c + off;
        if (cfg->one_hot[ds]) {
            memset(slot, 0, sizeof(float) * (size_t)cfg->label_dim[ds]);
            slot[i] = 1.0f;
        } else if (label_names && sg_targets_is_hair_colour(label_names[t])) {
            for (int j = 0; j < cfg->label_dim[ds]; j++)
                if (j != i && sg_targets_is_hair_colour(label_names[off + j])) slot[j] = 0.0f;
            slot[i] = 1.0f;
        } else {
            slot[i] = slot[i] == 0.0f ? 1.0f : 0.0f;   /* reference: (c == 0) */
        }
    }
    return 0;
}

/* Known names for messages: "A, B, C" (qualified when datasets share names). */
static void list_names(const sg_model_config *cfg, const char *const *label_names, char *out, size_t cap)
{
    size_t len = 0;
    int n = sg_targets_count(cfg);
    out[0] = 0;
    for (int t = 0; t < n && len + 8 < cap; t++) {
        int w = snprintf(out + len, cap - len, "%s%s", t ? ", " : "", sg_quote_str(label_names[t]).s);
        if (w < 0 || (size_t)w >= cap - len) { snprintf(out + len, cap - len, "..."); break; }
        len += (size_t)w;
    }
}

/* Resolves one (possibly qualified) name to a label; -1 with a message otherwise. */
static int resolve(const sg_model_config *cfg, const char *const *label_names,
                   const char *const *dataset_names, const char *name, int *ds_out,
                   int *index_out, sg_err *err)
{
    const char *colon = strchr(name, ':');
    int want_ds = -1;
    const char *label = name;
    if (colon && dataset_names) {
        for (int ds = 0; ds < cfg->n_datasets; ds++)
            if (dataset_names[ds] && strlen(dataset_names[ds]) == (size_t)(colon - name) &&
                !strncmp(dataset_names[ds], name, (size_t)(colon - name)))
                want_ds = ds;
        if (want_ds < 0)
            return sg_errf(err, "unknown dataset in '%s'", sg_quote_str(name).s);
        label = colon + 1;
    }
    int found = -1, n_found = 0, n = sg_targets_count(cfg);
    for (int t = 0; t < n; t++) {
        int ds = sg_targets_dataset_of(cfg, t, NULL);
        if (want_ds >= 0 && ds != want_ds) continue;
        if (!strcmp(label_names[t], label)) {
            if (n_found == 0) found = t;
            n_found++;
        }
    }
    if (n_found == 0) {
        char known[700];
        list_names(cfg, label_names, known, sizeof known);
        return sg_errf(err, "unknown attribute '%s' (known: %s)", sg_quote_str(name).s, known);
    }
    if (n_found > 1)
        return sg_errf(err, "attribute '%s' is in several datasets; write DATASET:%s", sg_quote_str(name).s, sg_quote_str(label).s);
    *ds_out = sg_targets_dataset_of(cfg, found, index_out);
    return 0;
}

int sg_targets_parse(const sg_model_config *cfg, const char *const *label_names,
                     const char *const *dataset_names, const char *text,
                     sg_target_spec *spec, sg_err *err)
{
    memset(spec, 0, sizeof *spec);
    spec->ds = -1;
    if (!text || !*text) return sg_errf(err, "--targets: empty specification");
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    if (!copy) return sg_errf(err, "out of memory");
    memcpy(copy, text, len + 1);
    int rc = -1;
    char *item = copy;
    /* Split by hand (strtok would skip empty items; "A,,B" is an error). */
    for (;;) {
        char *comma = strchr(item, ',');
        if (comma) *comma = 0;
        if (!*item) { sg_errf(err, "--targets: empty item in '%s'", sg_quote_str(text).s); goto out; }
        float value = 1.0f;
        char *name = item, *eq = strchr(item, '=');
        if (item[0] == '+' || item[0] == '-') {
            value = item[0] == '+' ? 1.0f : 0.0f;
            name = item + 1;
            if (eq) { sg_errf(err, "--targets: '%s': use +NAME, -NAME or NAME=VALUE", sg_quote_str(item).s); goto out; }
        } else if (eq) {
            *eq = 0;
            char *end = NULL;
            double v = strtod(eq + 1, &end);
            if (end == eq + 1 || *end || !(v >= 0.0 && v <= 1.0)) {
                sg_errf(err, "--targets: value of '%s' must be a number in [0, 1], not '%s'", sg_quote_str(name).s,
                        sg_quote_str(eq + 1).s);
                goto out;
            }
            value = (float)v;
        }
        if (!*name) { sg_errf(err, "--targets: empty attribute name in '%s'", sg_quote_str(text).s); goto out; }
        int ds, index = 0;   /* set with ds by sg_targets_dataset_of; 0 keeps gcc from warning */
        if (resolve(cfg, label_names, dataset_names, name, &ds, &index, err)) {
            sg_err_prefix(err, "--targets");
            goto out;
        }
        if (spec->ds >= 0 && ds != spec->ds) {
            int first = label_offset(cfg, spec->ds) + spec->index[0];
            sg_errf(err, "--targets: '%s' and '%s' belong to different datasets; name attributes of one dataset",
                    sg_quote_str(label_names[first]).s, sg_quote_str(name).s);
            goto out;
        }
        for (int k = 0; k < spec->n; k++)
            if (spec->index[k] == index) { sg_errf(err, "--targets: '%s' given twice", sg_quote_str(name).s); goto out; }
        if (spec->n == SG_TARGETS_MAX_ITEMS) {
            sg_errf(err, "--targets: more than %d attributes", SG_TARGETS_MAX_ITEMS);
            goto out;
        }
        spec->ds = ds;
        spec->index[spec->n] = index;
        spec->value[spec->n] = value;
        spec->n++;
        if (!comma) break;
        item = comma + 1;
    }
    rc = 0;
out:
    free(copy);
    if (rc) { spec->n = 0; spec->ds = -1; }
    return rc;
}

static int spec_names(const sg_target_spec *spec, int index)
{
    for (int k = 0; k < spec->n; k++)
        if (spec->index[k] == index) return 1;
    return 0;
}

void sg_targets_apply(const sg_model_config *cfg, const char *const *label_names,
                      const sg_target_spec *spec, int own_ds, const float *own_labels, float *c)
{
    int ds = spec->ds < 0 ? 0 : spec->ds;
    int off = label_offset(cfg, ds);
    start_slot(cfg, ds, own_ds, own_labels, c);
    float *slot = c + off;
    for (int k = 0; k < spec->n; k++) {
        int i = spec->index[k];
        if (spec->value[k] <= 0.0f) continue;
        int exclusive_group = cfg->one_hot[ds] ||
                              (label_names && sg_targets_is_hair_colour(label_names[off + i]));
        if (!exclusive_group) continue;
        for (int j = 0; j < cfg->label_dim[ds]; j++) {
            if (j == i || spec_names(spec, j)) continue;
            if (cfg->one_hot[ds] || sg_targets_is_hair_colour(label_names[off + j])) slot[j] = 0.0f;
        }
    }
    for (int k = 0; k < spec->n; k++) slot[spec->index[k]] = spec->value[k];
}
