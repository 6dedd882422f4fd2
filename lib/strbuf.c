#include "strbuf.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sg_buf_init(sg_buf *b) { b->data = NULL; b->len = b->cap = 0; b->failed = 0; }

void sg_buf_free(sg_buf *b) { free(b->data); sg_buf_init(b); }

void sg_buf_clear(sg_buf *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->data) b->data[0] = 0;
}

int sg_buf_reserve(sg_buf *b, size_t n)
{
    if (b->failed) return -1;
    if (n > (size_t)-1 / 2 - b->len - 1) { b->failed = 1; return -1; }
    size_t need = b->len + n + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) { b->failed = 1; return -1; }
    b->data = p;
    b->data[b->len] = 0;
    b->cap = cap;
    return 0;
}

int sg_buf_append(sg_buf *b, const void *data, size_t n)
{
    if (sg_buf_reserve(b, n) != 0) return -1;
    if (n) memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

int sg_buf_puts(sg_buf *b, const char *s) { return sg_buf_append(b, s, strlen(s)); }

int sg_buf_putc(sg_buf *b, char c) { return sg_buf_append(b, &c, 1); }

int sg_buf_vappendf(sg_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap2);
    va_end(ap2);
    if (n < 0) { b->failed = 1; return -1; }
    if ((size_t)n < sizeof small) return sg_buf_append(b, small, (size_t)n);
    if (sg_buf_reserve(b, (size_t)n) != 0) return -1;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int sg_buf_appendf(sg_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = sg_buf_vappendf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *sg_buf_take(sg_buf *b, size_t *len)
{
    if (b->failed) { sg_buf_free(b); return NULL; }
    if (!b->data && sg_buf_reserve(b, 0) != 0) return NULL;
    char *s = b->data;
    if (len) *len = b->len;
    sg_buf_init(b);
    return s;
}

int sg_names_add(sg_names *l, const char *s, size_t len)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **grown = realloc(l->names, cap * sizeof *grown);
        if (!grown) return -1;
        l->names = grown;
        l->cap = cap;
    }
    if (!(l->names[l->n] = strndup(s, len))) return -1;
    l->n++;
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void sg_names_sort(sg_names *l)
{
    if (l->n) qsort(l->names, l->n, sizeof *l->names, compare_names);   /* none: names may be NULL */
}

void sg_names_free(sg_names *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof *l);
}
