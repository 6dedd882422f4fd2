#include "celeba_attrs.h"
#include "celeba_attrs_testing.h"
#include "fileio.h"
#include "near_name.h"
#include "text_escape.h"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const sg_celeba_attr_names[40] = {
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald",
    "Bangs", "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair",
    "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby", "Double_Chin",
    "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones",
    "Male", "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard",
    "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks",
    "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings",
    "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
};

/* The list files are at most a few tens of MB (CelebA's is 26 MB). */
#define ATTR_FILE_MAX ((size_t)1 << 31)
#define MAX_ATTRS 4096

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/* Whether s holds a character the .txt reader splits on: a CSV name with
 * one would be written as two fields. */
static int has_blank(const char *s)
{
    for (; *s; s++)
        if (is_blank(*s)) return 1;
    return 0;
}

/* Splits one line (without its '\n') into tokens in place. Returns the count
 * (tokens beyond max are counted but not stored). */
static int split_tokens(char *s, char *end, char **tok, int max)
{
    int n = 0;
    while (s < end) {
        while (s < end && is_blank(*s)) s++;
        if (s == end) break;
        char *start = s;
        while (s < end && !is_blank(*s)) s++;
        if (n < max) tok[n] = start;
        n++;
        if (s < end) *s++ = 0;
        else *s = 0;   /* end points at '\n' or the final NUL */
    }
    return n;
}

int sg_list_is_csv(const char *text, size_t len)
{
    static const char head[] = "image_id,";
    return len >= sizeof head - 1 && !memcmp(text, head, sizeof head - 1);
}

/* The CSV form of split_tokens: fields between commas, blanks around each
 * removed; a line of blanks only has none. */
static int split_csv(char *s, char *end, char **tok, int max)
{
    char *q = s;
    while (q < end && is_blank(*q)) q++;
    if (q == end) return 0;
    int n = 0;
    for (;;) {
        while (s < end && is_blank(*s)) s++;
        char *start = s, *fe = s;
        while (fe < end && *fe != ',') fe++;
        char *comma = fe < end ? fe : NULL, *te = fe;
        while (te > start && is_blank(te[-1])) te--;
        if (n < max) tok[n] = start;
        n++;
        *te = 0;   /* te <= fe: the comma, a blank, the '\n' or the final NUL */
        if (!comma) break;
        s = comma + 1;
    }
    return n;
}

int sg_list_split(char *s, char *end, char **tok, int max, int csv)
{
    return csv ? split_csv(s, end, tok, max) : split_tokens(s, end, tok, max);
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;    /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

void sg_attr_table_free(sg_attr_table *t)
{
    if (!t) return;
    if (t->attr_names)
        for (int i = 0; i < t->n_attrs; i++) free(t->attr_names[i]);
    if (t->file_names)
        for (size_t i = 0; i < t->n_rows; i++) free(t->file_names[i]);
    free(t->attr_names);
    free(t->file_names);
    free(t->values);
    memset(t, 0, sizeof *t);
}

int sg_attr_table_create(sg_attr_table *t, int n_attrs, const char *const *names, size_t n_rows, sg_err *err)
{
    memset(t, 0, sizeof *t);
    t->names_trailing_space = 1;
    t->attr_names = calloc(n_attrs ? n_attrs : 1, sizeof *t->attr_names);
    t->file_names = calloc(n_rows ? n_rows : 1, sizeof *t->file_names);
    t->values = malloc(n_rows * (size_t)n_attrs + 1);
    if (!t->attr_names || !t->file_names || !t->values) goto oom;
    t->n_attrs = n_attrs;
    t->n_rows = n_rows;
    for (int i = 0; i < n_attrs; i++)
        if (!(t->attr_names[i] = strdup(names[i]))) goto oom;
    memset(t->values, -1, n_rows * n_attrs);
    return 0;
oom:
    sg_attr_table_free(t);
    return sg_err_oom(err, "out of memory");
}

/* Open-addressing set of file names; returns the row already holding name, or
 * inserts row and returns -1. */
typedef struct { size_t cap; long *slot; } name_set;

static long name_set_insert(name_set *s, char **names, const char *name, long row)
{
    size_t i = hash_str(name) & (s->cap - 1);
    while (s->slot[i] >= 0) {
        if (strcmp(names[s->slot[i]], name) == 0) return s->slot[i];
        i = (i + 1) & (s->cap - 1);
    }
    s->slot[i] = row;
    return -1;
}

int sg_list_text_start(const char *name, const void *text, size_t len, size_t *start, sg_err *err)
{
    const char *buf = text, *nul = memchr(buf, 0, len);
    if (nul) {
        size_t nul_line = 1;
        for (const char *q = buf; q < nul; q++) nul_line += *q == '\n';
        return sg_errf(err, "%s line %zu: NUL byte (not a text file?)", name, nul_line);
    }
    *start = sg_bom_length(buf, len);
    return 0;
}

/* One parse in progress: the copy split in place, and what the lines so far gave. */
typedef struct {
    const char *name;       /* for messages */
    const char *text;       /* the caller's bytes, which the splitting leaves as they were */
    char *buf;              /* (len + 1) the copy that the splitting cuts into fields */
    size_t len;
    int csv;                /* Kaggle's form: no count line, fields between commas */
    size_t line_no;         /* of the line being parsed */
    size_t *row_line;       /* (cap_rows) the line of each row, for the duplicate message */
    size_t cap_rows;
} attr_parse;

static int only_blank_lines(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_blank(s[i]) && s[i] != '\n') return 0;
    return 1;
}

/* Line 1 of the .txt form: the number of rows, alone. */
static int parse_count_line(const attr_parse *ps, char **tok, int n, size_t *count, sg_err *err)
{
    const char *q = n == 1 ? tok[0] : NULL;
    unsigned long long v = 0;
    int ok = q && *q;
    for (; ok && *q; q++) {
        if (*q < '0' || *q > '9' || v > (unsigned long long)1e15) ok = 0;
        else v = v * 10 + (unsigned)(*q - '0');
    }
    if (ok) {
        *count = (size_t)v;
        return 0;
    }
    /* list_eval_partition.txt given for the attribute list */
    if (n == 2 && (!strcmp(tok[1], "0") || !strcmp(tok[1], "1") || !strcmp(tok[1], "2")))
        return sg_errf(err, "%s line %zu: expected the number of rows, found '%s ...': this looks like a "
                       "partition file (list_eval_partition.txt); give the attribute list "
                       "(list_attr_celeba.txt)", ps->name, ps->line_no, sg_quote_str(tok[0]).s);
    if (n == 0) return sg_errf(err, "%s line %zu: expected the number of rows, found an empty line", ps->name, ps->line_no);
    return sg_errf(err, "%s line %zu: expected the number of rows, found '%s%s'", ps->name, ps->line_no,
                   sg_quote_str(tok[0]).s, n > 1 ? " ..." : "");
}

/* The n names in tok: present, at most MAX_ATTRS, none a value, none twice. */
static int check_attr_names(const attr_parse *ps, char **tok, int n, sg_err *err)
{
    if (n <= 0) return sg_errf(err, "%s line %zu: expected attribute names, found an empty line", ps->name, ps->line_no);
    if (n > MAX_ATTRS) return sg_errf(err, "%s line %zu: more than %d attribute names", ps->name, ps->line_no, MAX_ATTRS);
    for (int i = 0; i < n; i++)
        if (!strcmp(tok[i], "1") || !strcmp(tok[i], "-1"))
            return sg_errf(err, "%s line %zu: expected attribute names, found a data row (missing header line?)",
                           ps->name, ps->line_no);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(tok[i], tok[j]))
                return sg_errf(err, "%s line %zu: duplicate attribute name %s (names %d and %d)", ps->name,
                               ps->line_no, sg_quote_str(tok[i]).s, j + 1, i + 1);
    return 0;
}

/* The line of attribute names (line 2 of the .txt form, line 1 of the CSV's). */
static int parse_names_line(const attr_parse *ps, char **tok, int n, sg_attr_table *t, sg_err *err)
{
    if (ps->csv) {   /* past "image_id" */
        if (n == 2 && !strcmp(tok[1], "partition"))
            return sg_errf(err, "%s line %zu: 'image_id,partition': this is a partition file "
                           "(list_eval_partition.csv); give the attribute list (list_attr_celeba.csv)",
                           ps->name, ps->line_no);
        int stored = n < MAX_ATTRS + 2 ? n : MAX_ATTRS + 2;
        for (int i = 1; i < stored; i++) tok[i - 1] = tok[i];
        n--;   /* over MAX_ATTRS still: refused below */
        for (int i = 0; i < n && i < MAX_ATTRS; i++) {
            if (!tok[i][0])
                return sg_errf(err, "%s line %zu: attribute name %d is empty", ps->name, ps->line_no, i + 1);
            if (has_blank(tok[i]))
                return sg_errf(err, "%s line %zu: attribute name '%s' has a blank, which the .txt lists cannot hold: "
                               "rename the attribute", ps->name, ps->line_no, sg_quote_str(tok[i]).s);
        }
    }
    if (check_attr_names(ps, tok, n, err)) return -1;
    t->attr_names = calloc(n, sizeof *t->attr_names);
    if (!t->attr_names) return sg_err_oom(err, "%s: out of memory", ps->name);
    t->n_attrs = n;
    for (int i = 0; i < n; i++)
        if (!(t->attr_names[i] = strdup(tok[i]))) return sg_err_oom(err, "%s: out of memory", ps->name);
    /* Whether a blank follows the last name (split_tokens overwrote it
     * with a NUL, so look at the original text). A CSV's is written
     * as CelebA's list_attr_celeba.txt has it, so that the outputs of
     * either form are the same files. */
    if (ps->csv) t->names_trailing_space = 1;
    else {
        size_t off = (size_t)(tok[n - 1] + strlen(tok[n - 1]) - ps->buf);
        t->names_trailing_space = off < ps->len && (ps->text[off] == ' ' || ps->text[off] == '\t');
    }
    return 0;
}

/* Room for one more row in t and in ps->row_line. */
static int grow_rows(attr_parse *ps, sg_attr_table *t, sg_err *err)
{
    if (t->n_rows < ps->cap_rows) return 0;
    size_t nc = ps->cap_rows ? ps->cap_rows * 2 : 1024;
    char **fn = realloc(t->file_names, nc * sizeof *fn);
    if (fn) t->file_names = fn;
    int8_t *va = realloc(t->values, nc * t->n_attrs);
    if (va) t->values = va;
    size_t *rl = realloc(ps->row_line, nc * sizeof *rl);
    if (rl) ps->row_line = rl;
    if (!fn || !va || !rl) return sg_err_oom(err, "%s: out of memory", ps->name);
    ps->cap_rows = nc;
    return 0;
}

/* One line after the names: a file name and n_attrs values, or a blank line. */
static int parse_row_line(attr_parse *ps, char **tok, int n, sg_attr_table *t, sg_err *err)
{
    if (n == 0) return 0;   /* blank lines (e.g. at the end) */
    if (ps->csv && !tok[0][0]) return sg_errf(err, "%s line %zu: empty file name", ps->name, ps->line_no);
    /* CelebA's .txt form, which celeb-split writes, ends a name at a blank */
    if (ps->csv && has_blank(tok[0]))
        return sg_errf(err, "%s line %zu: file name '%s' has a blank, which the .txt lists cannot hold: rename the file",
                       ps->name, ps->line_no, sg_quote_str(tok[0]).s);
    if (n - 1 != t->n_attrs)
        return sg_errf(err, "%s line %zu: expected %d value%s, found %d", ps->name, ps->line_no, t->n_attrs,
                       t->n_attrs == 1 ? "" : "s", n - 1);
    if (grow_rows(ps, t, err)) return -1;
    int8_t *row = t->values + t->n_rows * t->n_attrs;
    for (int a = 0; a < t->n_attrs; a++) {
        const char *v = tok[a + 1];
        if (!strcmp(v, "1")) row[a] = 1;
        else if (!strcmp(v, "-1")) row[a] = -1;
        else
            return sg_errf(err, "%s line %zu: value '%s' of %s is not 1 or -1", ps->name, ps->line_no,
                           sg_quote_str(v).s, sg_quote_str(t->attr_names[a]).s);
    }
    if (!(t->file_names[t->n_rows] = strdup(tok[0]))) return sg_err_oom(err, "%s: out of memory", ps->name);
    ps->row_line[t->n_rows] = ps->line_no;
    t->n_rows++;
    return 0;
}

static int check_unique_file_names(const attr_parse *ps, const sg_attr_table *t, sg_err *err)
{
    name_set set = {16, NULL};
    while (set.cap < 2 * t->n_rows) set.cap *= 2;
    set.slot = malloc(set.cap * sizeof *set.slot);
    if (!set.slot) return sg_err_oom(err, "%s: out of memory", ps->name);
    memset(set.slot, -1, set.cap * sizeof *set.slot);
    int rc = 0;
    for (size_t i = 0; i < t->n_rows && rc == 0; i++) {
        long first = name_set_insert(&set, t->file_names, t->file_names[i], (long)i);
        if (first >= 0)
            rc = sg_errf(err, "%s line %zu: duplicate file name %s (first on line %zu)", ps->name, ps->row_line[i],
                         sg_quote_str(t->file_names[i]).s, ps->row_line[first]);
    }
    free(set.slot);
    return rc;
}

int sg_attr_table_parse(const char *name, const char *text, size_t len, sg_attr_table *t, sg_err *err)
{
    memset(t, 0, sizeof *t);
    attr_parse ps = {.name = name, .text = text, .len = len};
    ps.buf = malloc(len + 1);
    char **tok = malloc((MAX_ATTRS + 2) * sizeof *tok);
    int rc = -1;
    if (!ps.buf || !tok) { sg_err_oom(err, "%s: out of memory", name); goto done; }
    memcpy(ps.buf, text, len);
    ps.buf[len] = 0;
    size_t start;
    if (sg_list_text_start(name, ps.buf, len, &start, err)) goto done;   /* a byte-order mark is not the row count */
    if (only_blank_lines(ps.buf + start, len - start)) { sg_errf(err, "%s: empty file", name); goto done; }

    char *p = ps.buf + start, *end = ps.buf + len;
    /* Kaggle's list_attr_celeba.csv has no count line: its first line is
     * "image_id," and the names. */
    ps.csv = sg_list_is_csv(p, (size_t)(end - p));
    enum { COUNT_LINE, NAMES_LINE, ROW_LINES } expect = ps.csv ? NAMES_LINE : COUNT_LINE;
    size_t expected_rows = 0;
    while (p < end) {
        char *nl = memchr(p, '\n', end - p);
        char *le = nl ? nl : end;
        ps.line_no++;
        int n = sg_list_split(p, le, tok, MAX_ATTRS + 2, ps.csv);
        p = nl ? nl + 1 : end;
        if (expect == COUNT_LINE) {
            if (parse_count_line(&ps, tok, n, &expected_rows, err)) goto done;
            expect = NAMES_LINE;
        } else if (expect == NAMES_LINE) {
            if (parse_names_line(&ps, tok, n, t, err)) goto done;
            expect = ROW_LINES;
        } else if (parse_row_line(&ps, tok, n, t, err)) goto done;
    }
    if (expect != ROW_LINES) { sg_errf(err, "%s line %zu: missing the line of attribute names", name, ps.line_no + 1); goto done; }
    /* only the header lines, the rows gone (cut short, or filtered to
     * none): "set line 1 to 0" would make a list of no images, which
     * celeb-pack refuses in turn */
    if (!ps.csv && t->n_rows == 0 && expected_rows > 0) {
        sg_errf(err, "%s: lists no images: line 1 counts %zu row%s, but no image row follows the attribute names "
                "(cut short after its header?); give the whole list", name, expected_rows,
                expected_rows == 1 ? "" : "s");
        goto done;
    }
    if (!ps.csv && t->n_rows != expected_rows) {
        sg_errf(err, "%s line 1: the count says %zu row%s, but the file has %zu: set line 1 to %zu", name,
                expected_rows, expected_rows == 1 ? "" : "s", t->n_rows, t->n_rows);
        goto done;
    }
    if (check_unique_file_names(&ps, t, err)) goto done;
    rc = 0;
done:
    if (rc != 0) sg_attr_table_free(t);
    free(ps.row_line);
    free(tok);
    free(ps.buf);
    return rc;
}

int sg_attr_table_read(const char *path, sg_attr_table *t, sg_err *err)
{
    uint8_t *data;
    size_t len;
    memset(t, 0, sizeof *t);
    if (sg_read_file(path, ATTR_FILE_MAX, &data, &len, err) != 0) {
        if (err->sys_errno == E2BIG)   /* list_attr_celeba.txt: 26 MB */
            sg_err_suffix(err, "; no attribute list is that large: give list_attr_celeba.txt or a list of its "
                          "format");
        return -1;
    }
    int rc = sg_attr_table_parse(strcmp(path, "-") ? path : "<stdin>", (const char *)data, len, t, err);
    free(data);
    return rc;
}

/* ---- the partition file ---- */

int8_t *sg_partition_parse(const char *path, const char *text, size_t len, const sg_attr_table *t, sg_err *err)
{
    /* split in place (sg_list_split), NUL-terminated past the end */
    char *data = malloc(len + 1);
    if (!data) { sg_err_oom(err, "%s: out of memory", path); return NULL; }
    memcpy(data, text, len);
    data[len] = 0;
    size_t start;
    if (sg_list_text_start(path, data, len, &start, err)) {
        free(data);
        return NULL;
    }
    /* name -> row index of t (open addressing) */
    size_t cap = 16;
    while (cap < 2 * t->n_rows) cap *= 2;
    long *slot = malloc(cap * sizeof *slot);
    int8_t *part = malloc(t->n_rows + 1);
    size_t *line_of = calloc(t->n_rows + 1, sizeof *line_of);
    if (!slot || !part || !line_of) { sg_err_oom(err, "%s: out of memory", path); goto fail; }
    memset(slot, -1, cap * sizeof *slot);
    memset(part, -1, t->n_rows);
    for (size_t r = 0; r < t->n_rows; r++) {
        uint64_t h = 1469598103934665603ull;
        for (const char *s = t->file_names[r]; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
        size_t i = h & (cap - 1);
        while (slot[i] >= 0) i = (i + 1) & (cap - 1);
        slot[i] = (long)r;
    }
    char *p = (char *)data + start, *end = (char *)data + len;
    /* Kaggle's list_eval_partition.csv: exactly this header (a .txt list may
     * name a file "image_id,...") */
    static const char csv_head[] = "image_id,partition";
    const char *nl1 = memchr(p, '\n', (size_t)(end - p));
    size_t hl = (size_t)((nl1 ? nl1 : end) - p);
    while (hl && (p[hl - 1] == '\r' || p[hl - 1] == ' ' || p[hl - 1] == '\t')) hl--;
    const int csv = hl == sizeof csv_head - 1 && !memcmp(p, csv_head, hl);
    size_t line = 0, rows = 0;
    while (p < end) {
        char *nl = memchr(p, '\n', end - p), *le = nl ? nl : end;
        line++;
        char *tok[3];
        int n = sg_list_split(p, le, tok, 3, csv);
        p = nl ? nl + 1 : end;
        if (n == 0) continue;
        if (csv && line == 1) continue;   /* the header */
        if (n != 2) {
            /* an attribute list given for the partition file: its count line, or Kaggle's header */
            if (line == 1 && n == 1 && strspn(tok[0], "0123456789") == strlen(tok[0]))
                sg_errf(err, "%s line 1: expected 'FILE PARTITION', found a number: this looks like an attribute "
                        "list (list_attr_celeba.txt); give the partition file (list_eval_partition.txt)", path);
            else if (line == 1 && !csv && sg_list_is_csv(tok[0], strlen(tok[0])))
                sg_errf(err, "%s line 1: expected 'image_id,partition', found another CSV header: this looks "
                        "like an attribute list (list_attr_celeba.csv); give the partition file "
                        "(list_eval_partition.csv)", path);
            else
                sg_errf(err, "%s line %zu: expected '%s', found %d field%s", path, line,
                        csv ? "FILE,PARTITION" : "FILE PARTITION", n, n == 1 ? "" : "s");
            goto fail;
        }
        if (strlen(tok[1]) != 1 || tok[1][0] < '0' || tok[1][0] > '2') {
            sg_errf(err, "%s line %zu: partition '%s' is not 0, 1 or 2", path, line, sg_quote_str(tok[1]).s); goto fail;
        }
        rows++;
        uint64_t h = 1469598103934665603ull;
        for (const char *s = tok[0]; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
        size_t i = h & (cap - 1);
        while (slot[i] >= 0 && strcmp(t->file_names[slot[i]], tok[0])) i = (i + 1) & (cap - 1);
        if (slot[i] < 0) continue;   /* an image not in this attribute file: fine */
        long r = slot[i];
        if (part[r] >= 0) {
            sg_errf(err, "%s line %zu: duplicate file name %s (first on line %zu)", path, line, sg_quote_str(tok[0]).s,
                    line_of[r]);
            goto fail;
        }
        part[r] = (int8_t)(tok[1][0] - '0');
        line_of[r] = line;
    }
    if (rows == 0) {   /* every image "not listed": the file is what is wrong */
        sg_errf(err, "%s: the file %s: give CelebA's partition file, list_eval_partition.txt (or Kaggle's "
                "list_eval_partition.csv)", path,
                csv ? "holds only its header (no 'FILE,PARTITION' rows)" : "is empty (no 'FILE PARTITION' rows)");
        goto fail;
    }
    size_t missing = 0, first = 0;
    for (size_t r = 0; r < t->n_rows; r++)
        if (part[r] < 0 && missing++ == 0) first = r;
    if (missing) {   /* another dataset's or an older list: say how far apart the two files are */
        sg_errf(err, "%s: %s is not listed (images of the attribute list missing from it: %zu of %zu): give the partition "
                "file of the attribute list's own dataset, or --split reference, which needs none", path,
                sg_quote_str(t->file_names[first]).s, missing, t->n_rows);
        goto fail;
    }
    free(slot); free(line_of); free(data);
    return part;
fail:
    free(slot); free(part); free(line_of); free(data);
    return NULL;
}

int8_t *sg_partition_read(const char *path, const sg_attr_table *t, sg_err *err)
{
    uint8_t *data; size_t len;
    if (sg_read_file(path, (size_t)1 << 30, &data, &len, err) != 0) {
        if (err->sys_errno == E2BIG)   /* list_eval_partition.txt: 3 MB */
            sg_err_suffix(err, "; no partition file is that large: give list_eval_partition.txt");
        return NULL;
    }
    int8_t *part = sg_partition_parse(path, (const char *)data, len, t, err);
    free(data);
    return part;
}

int sg_attr_table_format(const sg_attr_table *t, const size_t *rows, size_t n_rows,
                         char **out, size_t *out_len, sg_err *err)
{
    *out = NULL;
    *out_len = 0;
    if (!rows) n_rows = t->n_rows;
    size_t cap = 32 + (t->n_attrs + 1);
    for (int a = 0; a < t->n_attrs; a++) cap += strlen(t->attr_names[a]) + 1;
    for (size_t i = 0; i < n_rows; i++) {
        size_t r = rows ? rows[i] : i;
        if (r >= t->n_rows) return sg_errf(err, "row %zu out of range (%zu rows)", r, t->n_rows);
        if (!t->file_names[r])   /* sg_attr_table_create leaves them to the caller */
            return sg_errf(err, "row %zu has no file name", r);
        cap += strlen(t->file_names[r]) + 3 * (size_t)t->n_attrs + 1;
    }
    char *buf = malloc(cap), *p = buf;
    if (!buf) return sg_err_oom(err, "out of memory");
    p += sprintf(p, "%zu\n", n_rows);
    for (int a = 0; a < t->n_attrs; a++) {
        if (a) *p++ = ' ';
        size_t l = strlen(t->attr_names[a]);
        memcpy(p, t->attr_names[a], l);
        p += l;
    }
    if (t->names_trailing_space) *p++ = ' ';
    *p++ = '\n';
    for (size_t i = 0; i < n_rows; i++) {
        size_t r = rows ? rows[i] : i;
        size_t l = strlen(t->file_names[r]);
        memcpy(p, t->file_names[r], l);
        p += l;
        const int8_t *v = t->values + r * t->n_attrs;
        for (int a = 0; a < t->n_attrs; a++) {
            /* " %2d": "  1" or " -1" */
            p[0] = ' ';
            p[1] = v[a] > 0 ? ' ' : '-';
            p[2] = '1';
            p += 3;
        }
        *p++ = '\n';
    }
    *out = buf;
    *out_len = (size_t)(p - buf);
    return 0;
}

int sg_attr_table_write(const char *path, const sg_attr_table *t, const size_t *rows, size_t n_rows, sg_err *err)
{
    char *buf;
    size_t len;
    if (sg_attr_table_format(t, rows, n_rows, &buf, &len, err) != 0) return sg_err_prefix(err, "%s", path);
    int rc = sg_write_file_atomic(path, buf, len, err);
    free(buf);
    return rc;
}

int sg_attr_table_find(const sg_attr_table *t, const char *name)
{
    for (int a = 0; a < t->n_attrs; a++)
        if (!strcmp(t->attr_names[a], name)) return a;
    return -1;
}

/* "valid: A B C ..." cut to fit the message; each name quoted as the file's bytes are. */
static void list_names(const sg_attr_table *t, char *s, size_t n)
{
    size_t used = 0;
    s[0] = 0;
    for (int a = 0; a < t->n_attrs; a++) {
        sg_quoted q = sg_quote_str(t->attr_names[a]);
        size_t l = strlen(q.s);
        if (used + l + 6 >= n) { snprintf(s + used, n - used, " ..."); return; }
        used += snprintf(s + used, n - used, "%s%s", a ? " " : "", q.s);
    }
}

int sg_attr_table_select(const sg_attr_table *t, const char *csv, int *idx, int max, int *n, sg_err *err)
{
    char valid[700];
    *n = 0;
    const char *p = csv;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t l = comma ? (size_t)(comma - p) : strlen(p);
        char item[256];
        if (l == 0) return sg_errf(err, "empty attribute name in '%s'", sg_quote_str(csv).s);
        if (l >= sizeof item) return sg_errf(err, "attribute name too long in '%s'", sg_quote_str(csv).s);
        memcpy(item, p, l);
        item[l] = 0;
        int a = sg_attr_table_find(t, item);
        if (a < 0) {
            /* the list cut so that the whole message, the suggestion last,
             * is kept behind any prefix (celeb-split's --group NAME (PATH)):
             * a long list of long names put the name asked for in the middle
             * that a long path's message loses (lib/error.h SG_ERR_TAIL) */
            char head[SG_QUOTE_MAX + 32], near_text[SG_QUOTE_MAX + 32] = "";
            snprintf(head, sizeof head, "unknown attribute '%s' (valid: ", sg_quote_str(item).s);
            const char *near = sg_near_name(item, (const char *const *)t->attr_names, (size_t)t->n_attrs);
            if (near) snprintf(near_text, sizeof near_text, "; did you mean '%s'?", sg_quote_str(near).s);
            size_t room = SG_ERR_TAIL - strlen(head) - strlen(near_text) - 1;   /* ')' */
            list_names(t, valid, room + 1 < sizeof valid ? room + 1 : sizeof valid);
            return sg_errf(err, "%s%s)%s", head, valid, near_text);
        }
        for (int i = 0; i < *n; i++)
            if (idx[i] == a) return sg_errf(err, "attribute %s given twice in '%s'", sg_quote_str(item).s, sg_quote_str(csv).s);
        if (*n >= max) return sg_errf(err, "more than %d attributes in '%s'", max, sg_quote_str(csv).s);
        idx[(*n)++] = a;
        if (!comma) break;
        p = comma + 1;
    }
    return 0;
}
