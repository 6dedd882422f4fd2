#include "each_dir.h"
#include "text_escape.h"
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void sg_each_known_free(sg_each_known *k)
{
    sg_names_free(&k->listed);
    sg_names_free(&k->labels);
}

void sg_each_path(char *path, size_t n, const char *dir, long index, const char *name, const char *ext)
{
    snprintf(path, n, "%s/%06ld_%s.%s", dir, index, name, ext);
}

/* 1 when the sorted list l holds the len bytes at s as a whole name: a
 * binary search in strcmp's order with the text unterminated (a label
 * within a file name). */
static int names_hold(const sg_names *l, const char *s, size_t len)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *name = l->names[mid];
        int c = strncmp(name, s, len);
        if (!c && name[len]) c = 1;   /* s is a prefix of the longer name */
        if (!c) return 1;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return 0;
}

int sg_each_name_number(const char *name, const sg_each_known *known, long *number)
{
    const char *p = name;
    long v = 0;
    for (; isdigit((unsigned char)*p); p++) {
        if (v > (SG_EACH_NUMBER_MAX - 9) / 10) return 0;   /* more than 15 digits: none that --each writes */
        v = v * 10 + (*p - '0');
    }
    if (p - name < 6 || (p - name > 6 && *name == '0') || *p++ != '_') return 0;
    size_t n = strlen(p);
    if (n < 5 || (strcmp(p + n - 4, ".png") && strcmp(p + n - 4, ".jpg"))) return 0;
    for (const char *q = p; *q; q++)
        if (!isalnum((unsigned char)*q) && !strchr("_.=+-@", *q)) return 0;
    if (!names_hold(&known->labels, p, n - 4) && !names_hold(&known->listed, name, strlen(name))) return 0;
    *number = v;
    return 1;
}

const char *sg_each_next_output(DIR *d, const sg_each_known *known, long *number)
{
    struct dirent *e;
    struct stat st;
    while ((e = readdir(d))) {
        if (!sg_each_name_number(e->d_name, known, number) || e->d_type == DT_DIR) continue;
        if (e->d_type == DT_UNKNOWN && fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISDIR(st.st_mode))
            continue;
        return e->d_name;
    }
    return NULL;
}

/* name among s's first three names (s->above of them so far), kept in strcmp's order */
static void keep_first(sg_each_scan *s, const char *name)
{
    int i = s->above < 3 ? (int)s->above : 3;
    for (; i > 0 && strcmp(name, s->first[i - 1]) < 0; i--)
        if (i < 3) memcpy(s->first[i], s->first[i - 1], sizeof s->first[i]);
    if (i < 3) snprintf(s->first[i], sizeof s->first[i], "%s", name);
}

int sg_each_scan_dir(DIR *d, const sg_each_known *known, long highest_listed, sg_each_scan *s, sg_err *err)
{
    memset(s, 0, sizeof *s);
    s->lo = LONG_MAX;
    s->hi = -1;
    long n;
    for (const char *name; (name = sg_each_next_output(d, known, &n));) {
        s->count++;
        if (n <= highest_listed) continue;
        keep_first(s, name);
        s->above++;
        if (n < s->lo) s->lo = n;
        if (n > s->hi) s->hi = n;
        const char *label = strchr(name, '_') + 1;   /* NNNNNN_LABEL.EXT, as sg_each_name_number found it */
        size_t len = strlen(label) - 4;
        s->exts |= strcmp(label + len, ".png") ? SG_EACH_JPG : SG_EACH_PNG;
        size_t k = 0;
        while (k < s->labels.n && (strlen(s->labels.names[k]) != len || strncmp(s->labels.names[k], label, len))) k++;
        if (k == s->labels.n && sg_names_add(&s->labels, label, len)) return sg_err_oom(err, "out of memory");
    }
    sg_names_sort(&s->labels);
    return 0;
}

void sg_each_scan_free(sg_each_scan *s)
{
    sg_names_free(&s->labels);
}

long sg_each_list_highest(const uint8_t *list, size_t len, long *bad_line)
{
    size_t h = sizeof SG_EACH_LIST_HEADER - 1;
    long highest = -1, line = 1;
    *bad_line = 1;
    if (len < h || memcmp(list, SG_EACH_LIST_HEADER, h)) return -2;
    for (const char *p = (const char *)list + h, *end = (const char *)list + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *eol = nl ? nl : end;
        *bad_line = ++line;
        int tabs = 0;
        for (const char *q = p; q < eol; q++) tabs += *q == '\t';
        const char *num = memchr(p, '\t', (size_t)(eol - p));
        if (tabs != 4 || num == p) return -2;
        long v = 0;
        const char *q = num + 1;
        for (; isdigit((unsigned char)*q); q++) {
            if (v > (SG_EACH_NUMBER_MAX - 9) / 10) return -2;
            v = v * 10 + (*q - '0');
        }
        if (q == num + 1 || *q != '\t') return -2;
        if (v > highest) highest = v;
        p = eol + 1;
    }
    return highest;
}

int sg_each_list_names(const uint8_t *list, size_t len, sg_names *names, sg_err *err)
{
    const char *p = memchr(list, '\n', len), *end = (const char *)list + len;   /* after the header */
    for (p = p ? p + 1 : end; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *eol = nl ? nl : end;
        const char *tab = memchr(p, '\t', (size_t)(eol - p));
        if (sg_names_add(names, p, (size_t)((tab ? tab : eol) - p))) return sg_err_oom(err, "out of memory");
        p = eol + 1;
    }
    sg_names_sort(names);
    return 0;
}

/* the removal as a loop over dir's files (sg_each_remove_command) */
static void remove_loop(sg_buf *cmd, const char *dir, long lo, const sg_names *labels, int exts)
{
    sg_buf_puts(cmd, "for f in ");
    sg_buf_put_shell_word(cmd, dir);
    sg_buf_puts(cmd, "/*; do if [[ ${f##*/} =~ ^([0-9]{6}|[1-9][0-9]{6,14})_(");
    for (size_t k = 0; k < labels->n; k++) {
        if (k) sg_buf_putc(cmd, '|');
        for (const char *c = labels->names[k]; *c; c++) {   /* letters, digits and _.=+-@: . and + escaped */
            if (*c == '.' || *c == '+') sg_buf_putc(cmd, '\\');
            sg_buf_putc(cmd, *c);
        }
    }
    sg_buf_appendf(cmd, ")\\.%s$ ]] && ((10#${BASH_REMATCH[1]} >= %ld)); then rm -f -- \"$f\"; fi; done",
                   exts == SG_EACH_PNG ? "png" : exts == SG_EACH_JPG ? "jpg" : "(png|jpg)", lo);
}

int sg_each_remove_command(sg_buf *cmd, const char *dir, long lo, long hi, const sg_names *labels, int exts,
                           sg_err *err)
{
    int n_exts = exts == (SG_EACH_PNG | SG_EACH_JPG) ? 2 : 1;
    if ((double)(hi - lo + 1) * (double)labels->n * n_exts > 100000) {
        remove_loop(cmd, dir, lo, labels, exts);
        return cmd->failed ? sg_err_oom(err, "out of memory") : 0;
    }
    sg_buf words = SG_BUF_INIT;
    long names = 0;
    long from[2] = {lo, 1000000}, to[2] = {hi < 1000000 ? hi : 999999, hi};
    for (int part = 0; part < 2; part++) {
        if (part == 1 && (hi < 1000000 || lo >= 1000000)) break;
        if (part == 0 && lo >= 1000000) from[0] = lo, to[0] = hi;
        if (words.len) sg_buf_putc(&words, ' ');
        sg_buf_put_shell_word(&words, dir);
        sg_buf_putc(&words, '/');
        if (from[part] == to[part]) sg_buf_appendf(&words, "%06ld_", from[part]);
        else sg_buf_appendf(&words, "{%06ld..%06ld}_", from[part], to[part]);
        if (labels->n > 1) sg_buf_putc(&words, '{');
        for (size_t k = 0; k < labels->n; k++)
            sg_buf_appendf(&words, "%s%s", k ? "," : "", labels->names[k]);
        if (labels->n > 1) sg_buf_putc(&words, '}');
        sg_buf_puts(&words, exts == SG_EACH_PNG ? ".png" : exts == SG_EACH_JPG ? ".jpg" : ".{png,jpg}");
        names += (to[part] - from[part] + 1) * (long)labels->n * n_exts;
    }
    if (!words.failed) {
        if (names > 4096) sg_buf_appendf(cmd, "printf '%%s\\0' %s | xargs -0 rm -f --", words.data);
        else sg_buf_appendf(cmd, "rm -f -- %s", words.data);
    }
    int failed = words.failed || cmd->failed;
    sg_buf_free(&words);
    return failed ? sg_err_oom(err, "out of memory") : 0;
}
