#include "targets.h"
#include "near_name.h"
#include "text_escape.h"
#include <ctype.h>
#include <errno.h>
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

/* 1 for Black_Hair, Blond_Hair, Brown_Hair, Gray_Hair. */
static int is_hair_colour(const char *name)
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
        } else if (label_names && is_hair_colour(label_names[t])) {
            for (int j = 0; j < cfg->label_dim[ds]; j++)
                if (j != i && is_hair_colour(label_names[off + j])) slot[j] = 0.0f;
            slot[i] = 1.0f;
        } else {
            slot[i] = slot[i] == 0.0f ? 1.0f : 0.0f;   /* reference: (c == 0) */
        }
    }
    return 0;
}

/* Whether q[0..len) is all decimal digits: such a qualifier is always a
 * dataset's number, never a name (a dataset called "2" is qualified by its
 * own number), so that "2:" cannot mean two datasets. */
static int all_digits(const char *q, size_t len)
{
    if (len == 0) return 0;
    for (size_t k = 0; k < len; k++)
        if (q[k] < '0' || q[k] > '9') return 0;
    return 1;
}

/* Dataset number N (1..n_datasets) written as decimal digits in q[0..len),
 * leading zeros allowed ("02" is 2), else -1. */
static int dataset_number(const sg_model_config *cfg, const char *q, size_t len)
{
    if (!all_digits(q, len)) return -1;
    long v = 0;
    for (size_t k = 0; k < len; k++) {
        v = v * 10 + (q[k] - '0');
        if (v > cfg->n_datasets) return -1;   /* also keeps a long run of digits from overflowing */
    }
    return v >= 1 ? (int)v - 1 : -1;
}

/* Datasets called q[0..len): their count; *first the first of them. */
static int datasets_named(const sg_model_config *cfg, const char *const *dataset_names, const char *q,
                          size_t len, int *first)
{
    int n = 0;
    *first = -1;
    for (int ds = 0; ds < cfg->n_datasets; ds++)
        if (dataset_names && dataset_names[ds] && strlen(dataset_names[ds]) == len &&
            !strncmp(dataset_names[ds], q, len)) {
            if (!n) *first = ds;
            n++;
        }
    return n;
}

void sg_targets_qualifier(const sg_model_config *cfg, const char *const *dataset_names, int ds,
                          char *out, size_t cap)
{
    int first;
    const char *name = dataset_names && ds >= 0 && ds < cfg->n_datasets ? dataset_names[ds] : NULL;
    if (name && *name && !strchr(name, ':') && !all_digits(name, strlen(name)) &&
        datasets_named(cfg, dataset_names, name, strlen(name), &first) == 1)
        snprintf(out, cap, "%s", name);
    else
        snprintf(out, cap, "%d", ds + 1);
}

void sg_targets_name(const sg_model_config *cfg, const char *const *label_names,
                        const char *const *dataset_names, int t, char *out, size_t cap)
{
    int n = sg_targets_count(cfg), ds = sg_targets_dataset_of(cfg, t, NULL), shared = 0;
    for (int u = 0; u < n && !shared; u++)
        shared = sg_targets_dataset_of(cfg, u, NULL) != ds && !strcmp(label_names[u], label_names[t]);
    if (!shared || !dataset_names) { snprintf(out, cap, "%s", label_names[t]); return; }
    char q[SG_TARGETS_QUALIFIER_MAX];
    sg_targets_qualifier(cfg, dataset_names, ds, q, sizeof q);
    snprintf(out, cap, "%s:%s", q, label_names[t]);
}

/* The piece of sg_quote_str's text at p as a single-quoted word holds it:
 * into piece (NUL-terminated), its length in the text into *used. A quote is
 * '\'' (the shell's way, as celeb-dump's lists), an escape (\\, \n, \xHH)
 * and the "..." that ends the text one piece each, so that a cut never breaks
 * an escape, nor leaves a dot or two before its own "...". */
static size_t quoted_piece(const char *p, char piece[5], size_t *used)
{
    size_t l = *p == '\\' ? (p[1] == 'x' ? 4 : 2) : !strcmp(p, "...") ? 3 : 1;
    if (*p == '\'') { memcpy(piece, "'\\''", 5); *used = 1; return 4; }
    for (size_t k = 0; k < l; k++)
        if (!p[k]) l = k;   /* never past the end (sg_quote_str's escapes are whole) */
    memcpy(piece, p, l);
    piece[l] = 0;
    *used = l;
    return l;
}

/* A dataset's name in a list: bare unless sg_name_needs_quotes (lib/
 * text_escape.h), else quoted ('a b'); escaped either way (lib/error.h). A
 * quoted name longer than cap (cap >= 8) is cut after a whole piece
 * (quoted_piece) and ends "...'", as sg_quote_str marks a cut name. */
static void plain_or_quoted(const char *name, char *out, size_t cap)
{
    sg_quoted quoted = sg_quote_str(name);   /* kept: .s of the temporary would not outlive it */
    const char *q = quoted.s;
    if (!sg_name_needs_quotes(name)) { snprintf(out, cap, "%s", q); return; }
    static const char cut[] = "...'";
    size_t whole = 2, used;
    char piece[5];
    for (const char *p = q; *p; p += used) whole += quoted_piece(p, piece, &used);
    size_t n = 0;
    out[n++] = '\'';
    for (const char *p = q; *p; p += used) {
        size_t l = quoted_piece(p, piece, &used);
        if (whole >= cap && n + l + sizeof cut > cap) {
            memcpy(out + n, cut, sizeof cut);
            return;
        }
        memcpy(out + n, piece, l);
        n += l;
    }
    memcpy(out + n, "'", 2);
}

void sg_targets_dataset_desc(const sg_model_config *cfg, const char *const *dataset_names, int ds,
                             char *out, size_t cap)
{
    char q[SG_QUOTE_MAX + 8];
    if (!dataset_names || ds < 0 || ds >= cfg->n_datasets || !dataset_names[ds]) {
        snprintf(out, cap, "%d", ds + 1);
        return;
    }
    plain_or_quoted(dataset_names[ds], q, sizeof q);
    snprintf(out, cap, "%d %s", ds + 1, q);
}

/* Whether name reads as a dataset number and a name ("2:train"). */
static int reads_as_numbered(const char *name)
{
    const char *colon = strchr(name, ':');
    return colon && all_digits(name, (size_t)(colon - name));
}

void sg_targets_dataset_label(const sg_model_config *cfg, const char *const *dataset_names, int ds, char *out,
                              size_t cap)
{
    const char *name = dataset_names[ds];
    int numbered = reads_as_numbered(name);
    for (int d = 0; d < cfg->n_datasets && !numbered; d++)
        numbered = d != ds && dataset_names[d] && !strcmp(dataset_names[d], name);
    if (numbered) snprintf(out, cap, "%d:%s", ds + 1, name);
    else snprintf(out, cap, "%s", name);
}

/* A list for messages, "a, b, c", written item by item into out: one that
 * does not fit ends ", ..." ("..." when not even the first item fits), room
 * for it kept while more items follow, so that a cut list never reads as
 * whole, nor its last item as cut short. */
typedef struct {
    char *out;
    size_t cap, len;
    int listed, cut;
} msg_list;

static void msg_list_start(msg_list *l, char *out, size_t cap)
{
    *l = (msg_list){.out = out, .cap = cap};
    if (cap) out[0] = 0;
}

/* Adds item (last: none follows it); once the list is cut, does nothing. */
static void msg_list_add(msg_list *l, const char *item, int last)
{
    static const char more[] = ", ...";
    if (l->cut || !l->cap) return;
    const char *sep = l->listed ? ", " : "";
    if (l->len + strlen(sep) + strlen(item) + (last ? 1 : sizeof more) > l->cap) {
        const char *mark = l->listed ? more : more + 2;
        if (l->len + strlen(mark) < l->cap) snprintf(l->out + l->len, l->cap - l->len, "%s", mark);
        l->cut = 1;
        return;
    }
    l->len += (size_t)snprintf(l->out + l->len, l->cap - l->len, "%s%s", sep, item);
    l->listed++;
}

void sg_targets_dataset_list(const sg_model_config *cfg, const char *const *dataset_names, const int *which,
                             int n_which, char *out, size_t cap)
{
    msg_list l;
    msg_list_start(&l, out, cap);
    int n = which ? n_which : cfg->n_datasets;
    for (int k = 0; k < n; k++) {
        char d[SG_QUOTE_MAX + 32];
        sg_targets_dataset_desc(cfg, dataset_names, which ? which[k] : k, d, sizeof d);
        msg_list_add(&l, d, k == n - 1);
    }
}

/* The datasets for a message: "the datasets are 1 a, 2 b" or, with one,
 * "the checkpoint has one dataset, 1 a". */
static void datasets_phrase(const sg_model_config *cfg, const char *const *dataset_names, char *out, size_t cap)
{
    char list[400];
    sg_targets_dataset_list(cfg, dataset_names, NULL, 0, list, sizeof list);
    if (cfg->n_datasets == 1) snprintf(out, cap, "the checkpoint has one dataset, %s", list);
    else snprintf(out, cap, "the datasets are %s", list);
}

int sg_targets_dataset_parse(const sg_model_config *cfg, const char *const *dataset_names, const char *text,
                              int *ds, sg_err *err)
{
    size_t len = strlen(text);
    char phrase[500];
    datasets_phrase(cfg, dataset_names, phrase, sizeof phrase);
    if (all_digits(text, len)) {
        *ds = dataset_number(cfg, text, len);
        if (*ds < 0) return sg_errf(err, "no dataset %s; %s", sg_quote_str(text).s, phrase);
        return 0;
    }
    int first, n_named = datasets_named(cfg, dataset_names, text, len, &first);
    /* "2:train", as history.jsonl and targets.tsv label a dataset whose name
     * another shares (sg_targets_dataset_label) */
    const char *colon = strchr(text, ':');
    int numbered = -1;
    if (dataset_names && reads_as_numbered(text)) {
        int n = dataset_number(cfg, text, (size_t)(colon - text));
        if (n >= 0 && dataset_names[n] && !strcmp(dataset_names[n], colon + 1)) numbered = n;
    }
    if (n_named == 1 && numbered >= 0 && numbered != first)
        return sg_errf(err, "'%s' is dataset %d's name and dataset %d as N:NAME; give %d or %d:%s", sg_quote_str(text).s,
                       first + 1, numbered + 1, numbered + 1, first + 1, sg_quote_str(text).s);
    if (n_named == 1) { *ds = first; return 0; }
    if (!n_named && numbered >= 0) { *ds = numbered; return 0; }
    if (n_named > 1)
        return sg_errf(err, "several datasets are called '%s'; give its number (%s)", sg_quote_str(text).s, phrase);
    return sg_errf(err, "no dataset is called '%s'; %s", sg_quote_str(text).s, phrase);
}

/* Known names for messages: "A, B, C" (qualified when datasets share names);
 * only dataset only_ds's, unqualified, when only_ds >= 0; cut as msg_list
 * cuts. */
static void list_names(const sg_model_config *cfg, const char *const *label_names,
                       const char *const *dataset_names, int only_ds, char *out, size_t cap)
{
    int n = sg_targets_count(cfg), last = -1;
    for (int t = 0; t < n; t++)
        if (only_ds < 0 || sg_targets_dataset_of(cfg, t, NULL) == only_ds) last = t;
    msg_list l;
    msg_list_start(&l, out, cap);
    for (int t = 0; t <= last && !l.cut; t++) {
        char name[512];
        if (only_ds >= 0) {
            if (sg_targets_dataset_of(cfg, t, NULL) != only_ds) continue;
            snprintf(name, sizeof name, "%s", label_names[t]);
        } else {
            sg_targets_name(cfg, label_names, dataset_names, t, name, sizeof name);
        }
        msg_list_add(&l, sg_quote_str(name).s, t == last);
    }
}

/* "; did you mean 'NAME'?" for a label not found (nothing when no label is
 * near it): dataset only_ds's labels, unqualified, when only_ds >= 0, else
 * every label, written as list_names writes it (qualified when datasets share
 * the name). */
static void did_you_mean(const sg_model_config *cfg, const char *const *label_names,
                         const char *const *dataset_names, int only_ds, const char *label, char *out, size_t cap)
{
    int n = sg_targets_count(cfg);
    out[0] = 0;
    const char **cand = calloc(n > 0 ? (size_t)n : 1, sizeof *cand);
    if (!cand) return;   /* no suggestion */
    for (int t = 0; t < n; t++)
        if (only_ds < 0 || sg_targets_dataset_of(cfg, t, NULL) == only_ds) cand[t] = label_names[t];
    const char *near = sg_near_name(label, cand, (size_t)n);
    int t = 0;
    while (near && cand[t] != near) t++;
    free(cand);
    if (!near) return;
    char name[512];
    if (only_ds >= 0) snprintf(name, sizeof name, "%s", near);
    else sg_targets_name(cfg, label_names, dataset_names, t, name, sizeof name);
    snprintf(out, cap, "; did you mean '%s'?", sg_quote_str(name).s);
}

/* Labels of dataset ds (every dataset when ds < 0) called label: their
 * count; *found the first, *other_ds a dataset other than *found's that has it
 * too (-1 when none). */
static int find_label(const sg_model_config *cfg, const char *const *label_names, int ds, const char *label,
                      int *found, int *other_ds)
{
    int n = sg_targets_count(cfg), n_found = 0;
    *found = -1;
    *other_ds = -1;
    for (int t = 0; t < n; t++) {
        int d = sg_targets_dataset_of(cfg, t, NULL);
        if ((ds >= 0 && d != ds) || strcmp(label_names[t], label)) continue;
        if (n_found == 0) *found = t;
        else if (d != sg_targets_dataset_of(cfg, *found, NULL)) *other_ds = d;
        n_found++;
    }
    return n_found;
}

/* Resolves one (possibly qualified) name to a label; -1 with a message otherwise.
 * A qualifier of digits is a dataset's number from 1; any other, a dataset's
 * name. A name whose part before ':' is neither is looked up whole (a class
 * folder called "a:b"). An unqualified name that several datasets have is
 * anchor_ds's when anchor_ds (the dataset the spec's other items name, or
 * -1) has it. */
static int resolve(const sg_model_config *cfg, const char *const *label_names,
                   const char *const *dataset_names, const char *name, int anchor_ds, int *ds_out,
                   int *index_out, sg_err *err)
{
    const char *colon = strchr(name, ':');
    int want_ds = -1, n = sg_targets_count(cfg);
    const char *label = name;
    if (colon && dataset_names) {
        size_t ql = (size_t)(colon - name);
        int digits = all_digits(name, ql);
        int first, n_named = digits ? 0 : datasets_named(cfg, dataset_names, name, ql, &first);
        if (n_named == 1) want_ds = first;
        else if (digits) want_ds = dataset_number(cfg, name, ql);
        else if (n_named > 1)
            return sg_errf(err, "'%s': several datasets are called '%s'; write N:%s, N the dataset's number "
                           "(1 to %d)", sg_quote_str(name).s, sg_quote_bytes(name, ql).s,
                           sg_quote_str(colon + 1).s, cfg->n_datasets);
        if (want_ds >= 0) {
            label = colon + 1;
        } else {
            int whole = 0;
            for (int t = 0; t < n && !whole; t++) whole = !strcmp(label_names[t], name);
            if (!whole) {
                char phrase[500];
                datasets_phrase(cfg, dataset_names, phrase, sizeof phrase);
                if (digits)
                    return sg_errf(err, "'%s': no dataset %s; %s", sg_quote_str(name).s, sg_quote_bytes(name, ql).s,
                                   phrase);
                return sg_errf(err, "'%s': no dataset is called '%s'; %s", sg_quote_str(name).s,
                               sg_quote_bytes(name, ql).s, phrase);
            }
        }
    }
    int found, other_ds;
    int n_found = find_label(cfg, label_names, want_ds, label, &found, &other_ds);
    if (n_found == 0 && want_ds >= 0 && find_label(cfg, label_names, -1, name, &found, &other_ds) > 0) {
        /* no such attribute in the dataset the qualifier names, but a label is
         * the whole text (a class folder called "01:a") */
        want_ds = -1;
        label = name;
        n_found = find_label(cfg, label_names, -1, name, &found, &other_ds);
    }
    if (n_found == 0 && want_ds >= 0) {
        char desc[SG_QUOTE_MAX + 32], q[SG_QUOTE_MAX + 8];
        int alt, alt_other;
        sg_targets_dataset_desc(cfg, dataset_names, want_ds, desc, sizeof desc);
        const char *sp = strchr(desc, ' ');   /* "3 rafd" -> "dataset 3 (rafd)" */
        snprintf(q, sizeof q, "%s", sp ? sp + 1 : "");
        char where[SG_QUOTE_MAX + 48];
        if (sp) snprintf(where, sizeof where, "dataset %d (%s)", want_ds + 1, q);
        else snprintf(where, sizeof where, "dataset %d", want_ds + 1);
        /* 'rafd:+happy' for '+rafd:happy' */
        if ((label[0] == '+' || label[0] == '-') && find_label(cfg, label_names, want_ds, label + 1, &alt, &alt_other))
            return sg_errf(err, "'%s': %s has no attribute '%s'; write %c%s:%s", sg_quote_str(name).s, where,
                           sg_quote_str(label).s, label[0], sg_quote_bytes(name, (size_t)(colon - name)).s,
                           sg_quote_str(label + 1).s);
        char known[600], near[SG_QUOTE_MAX + 32];
        list_names(cfg, label_names, dataset_names, want_ds, known, sizeof known);
        did_you_mean(cfg, label_names, dataset_names, want_ds, label, near, sizeof near);
        return sg_errf(err, "'%s': %s has no attribute '%s' (it has: %s)%s", sg_quote_str(name).s, where,
                       sg_quote_str(label).s, known, near);
    }
    if (n_found == 0) {
        char known[700], near[SG_QUOTE_MAX + 32];
        list_names(cfg, label_names, dataset_names, -1, known, sizeof known);
        did_you_mean(cfg, label_names, dataset_names, -1, name, near, sizeof near);
        return sg_errf(err, "unknown attribute '%s' (known: %s)%s", sg_quote_str(name).s, known, near);
    }
    if (n_found > 1 && other_ds < 0)
        return sg_errf(err, "attribute '%s' is named more than once in one dataset", sg_quote_str(name).s);
    if (n_found > 1 && anchor_ds >= 0) {
        /* all items belong to one dataset: the one the others name */
        int in_anchor = find_label(cfg, label_names, anchor_ds, label, &found, &other_ds);
        if (in_anchor == 1) {
            *ds_out = sg_targets_dataset_of(cfg, found, index_out);
            return 0;
        }
        n_found = find_label(cfg, label_names, -1, label, &found, &other_ds);
    }
    if (n_found > 1) {
        int ds = sg_targets_dataset_of(cfg, found, NULL);
        int same_names = dataset_names && dataset_names[ds] && dataset_names[other_ds] &&
                         !strcmp(dataset_names[ds], dataset_names[other_ds]);
        if (same_names)   /* datasets of one name (x/a.lmdb, y/a.lmdb): only a number tells them apart */
            return sg_errf(err, "attribute '%s' is in several datasets; write N:%s, N the dataset's number "
                           "(1 to %d)", sg_quote_str(name).s, sg_quote_str(label).s, cfg->n_datasets);
        return sg_errf(err, "attribute '%s' is in several datasets; write DATASET:%s", sg_quote_str(name).s,
                       sg_quote_str(label).s);
    }
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
    if (!copy) return sg_err_oom(err, "out of memory");
    memcpy(copy, text, len + 1);
    int rc = -1, n_items = 0;
    char *names[SG_TARGETS_MAX_ITEMS];
    float values[SG_TARGETS_MAX_ITEMS];
    char *item = copy;
    /* A label whose name holds a comma or '=' (a class folder "e,f"), the
     * whole spec after its + or -, is that one item: split, no item could
     * name it (and the unknown-attribute message suggested it). */
    char *body = copy + (copy[0] == '+' || copy[0] == '-');
    int whole_ds, whole_index;
    if (strpbrk(body, ",=") &&
        !resolve(cfg, label_names, dataset_names, body, -1, &whole_ds, &whole_index, NULL)) {
        names[0] = body;
        values[0] = copy[0] == '-' ? 0.0f : 1.0f;
        n_items = 1;
        item = NULL;
    }
    /* The items' syntax first. Split by hand (strtok would skip empty items;
     * "A,,B" is an error). */
    while (item) {
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
            if (!*name) { sg_errf(err, "--targets: empty attribute name in '%s'", sg_quote_str(text).s); goto out; }
            char *end = NULL;
            errno = 0;
            double v = strtod(eq + 1, &end);
            int underflow = errno == ERANGE && v < 1 && v > -1;   /* not 1e400 */
            if (end == eq + 1 || *end || !(v >= 0.0 && v <= 1.0)) {
                sg_errf(err, "--targets: value of '%s' must be a number in [0, 1], not '%s'", sg_quote_str(name).s,
                        sg_quote_str(eq + 1).s);
                goto out;
            }
            /* what strtod takes beyond a plain decimal, which the man page
             * promises: white space before it, a sign, hexadecimal */
            const char *quirk = isspace((unsigned char)eq[1]) ? "starts with white space"
                                : eq[1] == '+' || eq[1] == '-' ? "has a sign"
                                : strpbrk(eq + 1, "xX") ? "is hexadecimal" : NULL;
            if (quirk) {
                sg_errf(err, "--targets: value of '%s' '%s' %s; give a plain decimal number in [0, 1] (such as 0.5, "
                        ".25 or 1e-1)", sg_quote_str(name).s, sg_quote_str(eq + 1).s, quirk);
                goto out;
            }
            value = (float)v;
            if (underflow || (v > 0 && value == 0)) {   /* 1e-400, 1e-50: would be 0 without a word */
                sg_errf(err, "--targets: value of '%s' '%s' is too small to tell from 0: give 0",
                        sg_quote_str(name).s, sg_quote_str(eq + 1).s);
                goto out;
            }
        }
        if (!*name) { sg_errf(err, "--targets: empty attribute name in '%s'", sg_quote_str(text).s); goto out; }
        if (n_items == SG_TARGETS_MAX_ITEMS) {
            sg_errf(err, "--targets: more than %d attributes", SG_TARGETS_MAX_ITEMS);
            goto out;
        }
        names[n_items] = name;
        values[n_items] = value;
        n_items++;
        item = comma ? comma + 1 : NULL;
    }
    /* All items belong to one dataset: the first that names one dataset by
     * itself (qualified, or a name no other dataset has) is the anchor for
     * names several datasets share ("+2:Bangs,-Black_Hair"). */
    int anchor = -1;
    for (int k = 0; k < n_items && anchor < 0; k++) {
        int ds, index;
        if (!resolve(cfg, label_names, dataset_names, names[k], -1, &ds, &index, NULL)) anchor = ds;
    }
    int first_item = -1;   /* the item that set spec->ds, for messages */
    for (int k = 0; k < n_items; k++) {
        int ds, index = 0;   /* set with ds by sg_targets_dataset_of; 0 keeps gcc from warning */
        if (resolve(cfg, label_names, dataset_names, names[k], anchor, &ds, &index, err)) {
            sg_err_prefix(err, "--targets");
            goto out;
        }
        if (spec->ds >= 0 && ds != spec->ds) {
            char d0[SG_QUOTE_MAX + 32], d1[SG_QUOTE_MAX + 32];
            sg_targets_dataset_desc(cfg, dataset_names, spec->ds, d0, sizeof d0);
            sg_targets_dataset_desc(cfg, dataset_names, ds, d1, sizeof d1);
            sg_errf(err, "--targets: '%s' (dataset %s) and '%s' (dataset %s) belong to different datasets; "
                    "name attributes of one dataset", sg_quote_str(names[first_item]).s, d0,
                    sg_quote_str(names[k]).s, d1);
            goto out;
        }
        for (int j = 0; j < spec->n; j++)
            if (spec->index[j] == index) { sg_errf(err, "--targets: '%s' given twice", sg_quote_str(names[k]).s); goto out; }
        if (first_item < 0) first_item = k;
        spec->ds = ds;
        spec->index[spec->n] = index;
        spec->value[spec->n] = values[k];
        spec->n++;
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
                              (label_names && is_hair_colour(label_names[off + i]));
        if (!exclusive_group) continue;
        for (int j = 0; j < cfg->label_dim[ds]; j++) {
            if (j == i || spec_names(spec, j)) continue;
            if (cfg->one_hot[ds] || is_hair_colour(label_names[off + j])) slot[j] = 0.0f;
        }
    }
    for (int k = 0; k < spec->n; k++) slot[spec->index[k]] = spec->value[k];
}
