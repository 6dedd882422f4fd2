#include "error.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int sg_errf(sg_err *err, const char *fmt, ...)
{
    if (!err) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->sys_errno = 0;
    return -1;
}

static int verr_sys(sg_err *err, int e, const char *fmt, va_list ap)
{
    if (!err) return -1;
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    if (n >= 0 && (size_t)n < sizeof err->msg)
        snprintf(err->msg + n, sizeof err->msg - n, ": %s", strerror(e));
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
    char prefix[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
    return -1;
}

int sg_err_suffix(sg_err *err, const char *fmt, ...)
{
    if (!err) return -1;
    size_t l = strlen(err->msg);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg + l, sizeof err->msg - l, fmt, ap);
    va_end(ap);
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
