#include "error.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* A message is formatted whole (paths of up to PATH_MAX bytes, two of them in
 * some) and then fitted into err->msg: one too long keeps its beginning and
 * its end, where the reason is ("...: File name too long"), joined by " ... ",
 * cut between UTF-8 sequences. */
enum { FULL_MSG = 3 * 4096 };
static void fit_msg(sg_err *err, const char *full)
{
    size_t n = strlen(full), cap = sizeof err->msg - 1;
    if (n <= cap) { memcpy(err->msg, full, n + 1); return; }
    size_t head = cap / 3, tail = cap - head - 5;
    _Static_assert(sizeof err->msg - 1 - (sizeof err->msg - 1) / 3 - 5 == SG_ERR_TAIL, "SG_ERR_TAIL, error.h");
    while (head > 0 && ((unsigned char)full[head] & 0xc0) == 0x80) head--;
    size_t from = n - tail;
    while (from < n && ((unsigned char)full[from] & 0xc0) == 0x80) from++;
    memcpy(err->msg, full, head);
    memcpy(err->msg + head, " ... ", 5);
    memcpy(err->msg + head + 5, full + from, n - from + 1);
}

/* The message as given, with sys_errno e (0: not a system call's failure). */
static void vfit(sg_err *err, int e, const char *fmt, va_list ap)
{
    if (!err) return;
    char full[FULL_MSG];
    vsnprintf(full, sizeof full, fmt, ap);
    fit_msg(err, full);
    err->sys_errno = e;
}

int sg_errf(sg_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfit(err, 0, fmt, ap);
    va_end(ap);
    return -1;
}

int sg_err_oom(sg_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfit(err, ENOMEM, fmt, ap);
    va_end(ap);
    return -1;
}

static int verr_sys(sg_err *err, int e, const char *fmt, va_list ap)
{
    if (!err) return -1;
    char full[FULL_MSG + 128];
    int n = vsnprintf(full, FULL_MSG, fmt, ap);
    if (n < 0) n = 0;
    if ((size_t)n >= FULL_MSG) n = FULL_MSG - 1;
    snprintf(full + n, sizeof full - n, ": %s", strerror(e));
    fit_msg(err, full);
    err->sys_errno = e;
    return -1;
}

int sg_errno(sg_err *err, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    verr_sys(err, saved, fmt, ap);
    va_end(ap);
    return -1;
}

int sg_err_sys(sg_err *err, int e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verr_sys(err, e, fmt, ap);
    va_end(ap);
    return -1;
}

int sg_err_prefix(sg_err *err, const char *fmt, ...)
{
    if (!err) return -1;
    char prefix[FULL_MSG / 2], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    char full[sizeof prefix + sizeof old + 2];
    snprintf(full, sizeof full, "%s: %s", prefix, old);
    fit_msg(err, full);
    return -1;
}

int sg_err_suffix(sg_err *err, const char *fmt, ...)
{
    if (!err) return -1;
    char full[sizeof err->msg + FULL_MSG];
    size_t l = strlen(err->msg);
    memcpy(full, err->msg, l);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(full + l, sizeof full - l, fmt, ap);
    va_end(ap);
    fit_msg(err, full);
    return -1;
}

size_t sg_escape_byte(unsigned char c, char piece[5])
{
    if (c == '\\') strcpy(piece, "\\\\");
    else if (c == '\t') strcpy(piece, "\\t");
    else if (c == '\r') strcpy(piece, "\\r");
    else if (c == '\n') strcpy(piece, "\\n");
    else if (c >= 0x20 && c < 0x7f) { piece[0] = (char)c; piece[1] = 0; }
    else snprintf(piece, 5, "\\x%02x", c);
    return strlen(piece);
}

sg_quoted sg_quote_bytes(const void *data, size_t n)
{
    sg_quoted q;
    const unsigned char *p = data;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char piece[5];
        size_t l = sg_escape_byte(p[i], piece);
        if (o + l > SG_QUOTE_MAX) {
            memcpy(q.s + o, "...", 4);
            return q;
        }
        memcpy(q.s + o, piece, l);
        o += l;
    }
    q.s[o] = 0;
    return q;
}

sg_quoted sg_quote_str(const char *s) { return sg_quote_bytes(s, strlen(s)); }
