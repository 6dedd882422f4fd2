/* A growable byte buffer for building text (JSON, messages, file contents),
 * and a list of owned strings (sg_names).
 * The buffer's failure is sticky: after an allocation failure every append is
 * a no-op and returns -1, and b->failed stays set, so a writer may check once
 * at the end. */
#ifndef SG_STRBUF_H
#define SG_STRBUF_H
#include <stdarg.h>
#include <stddef.h>

typedef struct {
    char *data;     /* NUL-terminated when non-NULL (NUL not counted in len) */
    size_t len, cap;
    int failed;     /* an allocation failed; contents are incomplete */
} sg_buf;

#define SG_BUF_INIT {NULL, 0, 0, 0}

void sg_buf_init(sg_buf *b);
void sg_buf_free(sg_buf *b);
/* Empties the buffer, keeping its memory (and clearing failed). */
void sg_buf_clear(sg_buf *b);
/* Makes room for n more bytes. */
int sg_buf_reserve(sg_buf *b, size_t n);
int sg_buf_append(sg_buf *b, const void *data, size_t n);
int sg_buf_puts(sg_buf *b, const char *s);
int sg_buf_putc(sg_buf *b, char c);
int sg_buf_appendf(sg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sg_buf_vappendf(sg_buf *b, const char *fmt, va_list ap);
/* Hands the malloc'd string to the caller ("" if nothing was appended) and
 * resets b; NULL if the buffer failed. */
char *sg_buf_take(sg_buf *b, size_t *len);

/* A list of names, each its own malloc'd string; sorted (strcmp: byte
 * value) where a lookup or a listing needs it. {0} is an empty list. */
typedef struct {
    char **names;   /* (n) the array malloc'd, NULL until the first add */
    size_t n, cap;
} sg_names;

/* Appends a copy of the len bytes at s, cut at a NUL byte among them; -1 when
 * out of memory (l as it was). */
int sg_names_add(sg_names *l, const char *s, size_t len);
void sg_names_sort(sg_names *l);
/* Frees every name and the array, and empties l. */
void sg_names_free(sg_names *l);

#endif
