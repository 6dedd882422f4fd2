/* CelebA attribute lists (list_attr_celeba.txt and files in the same format).
 *
 * Format (see celeba-attrs(5)):
 *   line 1: number of rows
 *   line 2: attribute names separated by spaces (CelebA ends it with a space)
 *   then one row per image: file name, one space, then each value right-aligned
 *   in width 2 (" 1" or "-1") joined by single spaces:  "000001.jpg -1  1  1 -1 ..."
 * The reader accepts any blanks between fields, CRLF line ends and blank lines,
 * and Kaggle's CSV form (list_attr_celeba.csv: a first line "image_id,NAME,...",
 * no count line, comma-separated rows), told apart by that first line;
 * the writer writes CelebA's exact layout with LF line ends, so reading and
 * writing an unmodified CelebA file reproduces it byte for byte. */
#ifndef SG_CELEBA_ATTRS_H
#define SG_CELEBA_ATTRS_H
#include <stddef.h>
#include <stdint.h>
#include "error.h"

typedef struct {
    int n_attrs;
    char **attr_names;          /* (n_attrs) in file order (CelebA: 40) */
    size_t n_rows;
    char **file_names;          /* (n_rows) e.g. "000001.jpg" */
    int8_t *values;             /* (n_rows, n_attrs), each -1 or 1 */
    int names_trailing_space;   /* line 2 ends in a space (CelebA's does); kept for byte-exact rewrites */
} sg_attr_table;

/* CelebA's 40 attribute names in its order. */
extern const char *const sg_celeba_attr_names[40];

/* The text of a CelebA list file (this format, or list_eval_partition.txt):
 * 0 and in *start where its lines begin (past a UTF-8 byte-order mark, an
 * editor's "UTF-8 with BOM"), or -1 and "NAME line N: NUL byte (not a text
 * file?)" when it holds a NUL byte, which would silently cut a file name
 * short (a binary file, a broken copy). */
int sg_list_text_start(const char *name, const void *text, size_t len, size_t *start, sg_err *err);

/* 1 when a list's text (from sg_list_text_start's start) is Kaggle's CSV
 * form: its first line starts with "image_id," (list_attr_celeba.csv,
 * list_eval_partition.csv). */
int sg_list_is_csv(const char *text, size_t len);
/* Splits the line [s, end) in place (NUL-terminating each field; *end is
 * '\n' or a NUL and may be overwritten) into at most max fields in tok, and
 * returns the number of fields (those past max counted, not stored): between
 * blanks, or with csv between commas with blanks around each removed. A line
 * of blanks has none. */
int sg_list_split(char *s, char *end, char **tok, int max, int csv);

/* Reads and validates path ("-" = stdin). Errors: "PATH line N: problem".
 * t is overwritten, not freed: free it with sg_attr_table_free before
 * reusing it (as for sg_attr_table_parse and _create). On failure it holds
 * nothing to free. */
int sg_attr_table_read(const char *path, sg_attr_table *t, sg_err *err);

/* An empty table of n_rows rows with the given names, every value -1 and every
 * file name NULL (the caller fills file_names[i] with malloc'd strings;
 * sg_attr_table_format refuses a row left NULL). t is overwritten, not
 * freed: free it with sg_attr_table_free before reusing it. */
int sg_attr_table_create(sg_attr_table *t, int n_attrs, const char *const *names, size_t n_rows, sg_err *err);

/* Formats rows (indices into t; rows == NULL means all n_rows in order) in
 * CelebA's layout; *out is malloc'd. A row without a file name (NULL) is an
 * error. */
int sg_attr_table_format(const sg_attr_table *t, const size_t *rows, size_t n_rows,
                         char **out, size_t *out_len, sg_err *err);
/* Formats and writes atomically (see fileio.h). */
int sg_attr_table_write(const char *path, const sg_attr_table *t, const size_t *rows, size_t n_rows, sg_err *err);

/* Parses "A,B,C" into attribute indices (at most max). An unknown name, an empty
 * item or a name given twice is an error naming it (and listing the valid names). */
int sg_attr_table_select(const sg_attr_table *t, const char *csv, int *idx, int max, int *n, sg_err *err);

static inline int8_t sg_attr_value(const sg_attr_table *t, size_t row, int attr)
{
    return t->values[row * (size_t)t->n_attrs + attr];
}

void sg_attr_table_free(sg_attr_table *t);

/* CelebA's partition file for table t (celeb-split --split partition):
 * list_eval_partition.txt, "000001.jpg 0" per line, or Kaggle's
 * list_eval_partition.csv, "image_id,partition", then "000001.jpg,0".
 * Returns per table row the partition (0, 1, 2), malloc'd; every row of the
 * table must be listed (lines naming other images are skipped). NULL and
 * "PATH line N: problem" (or a message saying the file is an attribute list,
 * empty, or another dataset's) on failure. */
int8_t *sg_partition_read(const char *path, const sg_attr_table *t, sg_err *err);

#endif
