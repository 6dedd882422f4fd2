/* sg-sample --each's output directory: the names of its files, NNNNNN_LABEL.EXT
 * (NNNNNN the input's number, LABEL "input" or a target's name), and what
 * tells an earlier run's outputs from the other files there (a camera's
 * 20230815_142301.jpg is no output). The decisions and messages are the
 * tool's; these are the rules they rest on. */
#ifndef SG_EACH_DIR_H
#define SG_EACH_DIR_H
#include "error.h"
#include "strbuf.h"
#include <dirent.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

/* The highest number an --each output may have: 15 digits. Far below
 * LONG_MAX, so that --append's numbers (highest + 1 + k) never wrap, and
 * exact in awk's and bash's arithmetic (a command given to remove some). */
#define SG_EACH_NUMBER_MAX 999999999999999L

/* What makes a file in DIR an earlier --each output: targets.tsv names it, or
 * its name is one this checkpoint's --each writes (an interrupted run's,
 * before its list). Only such files are counted, refused or removed by
 * --force. */
typedef struct {
    sg_names listed;   /* the file names targets.tsv lists, sorted */
    sg_names labels;   /* "input", the run's target names and every single target's, sorted */
} sg_each_known;

void sg_each_known_free(sg_each_known *k);

/* The file types --each writes, or'ed where several may be. */
enum { SG_EACH_PNG = 1, SG_EACH_JPG = 2 };

/* --each's file for input index and target name ("input": the input itself):
 * DIR/NNNNNN_NAME.EXT, the number at least six digits, zero-padded. */
void sg_each_path(char *path, size_t n, const char *dir, long index, const char *name, const char *ext);

/* 1 with the number of an --each output called name in *number: a name
 * sg_each_path gives (six digits, or up to SG_EACH_NUMBER_MAX's 15 without a
 * leading 0, '_', one of known's labels, then .png or .jpg; the label of
 * letters, digits and _.=+-@ only), or another of those digits_label.ext
 * names that known->listed holds; 0 for any other name. */
int sg_each_name_number(const char *name, const sg_each_known *known, long *number);

/* The next entry of d that is an earlier --each output (sg_each_name_number),
 * with its number in *number; NULL at the end. A directory of such a name is
 * no output (the write that meets it fails and says so). */
const char *sg_each_next_output(DIR *d, const sg_each_known *known, long *number);

/* What DIR holds of earlier --each runs: its outputs, and those numbered
 * above the last input targets.tsv lists (all, without a list): an
 * interrupted run's. */
typedef struct {
    long count;                    /* the earlier outputs */
    long above;                    /* those numbered above the list's highest */
    long lo, hi;                   /* the least and the greatest number above (LONG_MAX and -1 for none) */
    char first[3][NAME_MAX + 1];   /* the names above that sort first (strcmp), in order; "" past above */
    sg_names labels;               /* the labels of the names above, once each, sorted */
    int exts;                      /* SG_EACH_PNG, SG_EACH_JPG: the types of the names above */
} sg_each_scan;

/* The rest of d's entries that are earlier outputs (sg_each_next_output)
 * summed up in *s, those numbered above highest_listed (-1: every one) apart;
 * an "out of memory" error. Free s with sg_each_scan_free either way. */
int sg_each_scan_dir(DIR *d, const sg_each_known *known, long highest_listed, sg_each_scan *s, sg_err *err);
void sg_each_scan_free(sg_each_scan *s);

/* targets.tsv, the list --each writes in DIR last: this header, then a row
 * per file: its name, its input's number, the target, the target's dataset
 * and the target label's value, tab-separated. */
#define SG_EACH_LIST_HEADER "file\tinput\ttarget\tdataset\tvalue\n"

/* The highest input number the list (len bytes) names; -1 for none (its
 * header alone); -2 when a line is not what --each writes (another header;
 * a row of other than five fields, with an empty first one, or whose second
 * is not a number of 1 to 15 digits; an empty line), with *bad_line its
 * number from 1. */
long sg_each_list_highest(const uint8_t *list, size_t len, long *bad_line);

/* The file names (first fields) of the list's rows, the lines after its
 * first, whatever else they hold, appended to *names, then sorted; an
 * "out of memory" error. */
int sg_each_list_names(const uint8_t *list, size_t len, sg_names *names, sg_err *err);

/* Appends to cmd a bash command to paste that removes the files in dir
 * numbered lo..hi called NNNNNN_LABEL.EXT, LABEL each of labels (one or
 * more, in their order, of the characters --each's labels have: letters,
 * digits and _.=+-@) and EXT each of exts: rm -f -- over bash's
 * zero-padded brace ranges (DIR/{000003..000005}_{a,b}.png; one range each
 * side of 10^6, as {000999..1000001} would pad to 7 digits), dir as one
 * shell word (sg_buf_put_shell_word), the names that are not there no
 * error. Past 4096 names, more than one command line takes: printf (a
 * builtin) to xargs -0 rm. Past 100000, more than a shell should build in
 * memory (a stray 20230815_input.png above 000003_input.png: 20 million;
 * up to 10^15): a loop over dir's files that removes those numbered lo or
 * above of one of the labels and exts, as sg_each_name_number reads a
 * name. An "out of memory" error. */
int sg_each_remove_command(sg_buf *cmd, const char *dir, long lo, long hi, const sg_names *labels, int exts,
                           sg_err *err);

#endif
