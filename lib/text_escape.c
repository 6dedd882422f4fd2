#include "text_escape.h"
#include <langinfo.h>
#include <stdint.h>
#include <stdio.h>
#include <strings.h>

/* Length of the UTF-8 sequence of a printable character at p (n bytes left),
 * or 0: malformed, overlong, a surrogate, past U+10FFFF, or a control. */
static size_t printable_utf8_len(const unsigned char *p, size_t n)
{
    size_t len;
    uint32_t cp, min;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) { len = 2; cp = p[0] & 0x1f; min = 0x80; }
    else if (p[0] >= 0xe0 && p[0] <= 0xef) { len = 3; cp = p[0] & 0x0f; min = 0x800; }
    else if (p[0] >= 0xf0 && p[0] <= 0xf4) { len = 4; cp = p[0] & 0x07; min = 0x10000; }
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    if (cp < 0xa0 || cp == 0x061c || cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
        (cp >= 0x2066 && cp <= 0x2069))
        return 0;
    return len;
}

/* Walks s: each piece is either a run of bytes kept as is or one escape. */
static size_t escape(sg_buf *b, const unsigned char *p, size_t n, int utf8)
{
    size_t width = 0;
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t keep = c >= 0x20 && c < 0x7f && c != '\\' ? 1 : utf8 && c >= 0x80 ? printable_utf8_len(p + i, n - i) : 0;
        if (keep) {
            if (b) sg_buf_append(b, p + i, keep);
            width++;
            i += keep;
            continue;
        }
        char e[5];
        if (c == '\\') snprintf(e, sizeof e, "\\\\");
        else if (c == '\t') snprintf(e, sizeof e, "\\t");
        else if (c == '\r') snprintf(e, sizeof e, "\\r");
        else if (c == '\n') snprintf(e, sizeof e, "\\n");
        else snprintf(e, sizeof e, "\\x%02x", c);
        if (b) sg_buf_puts(b, e);
        width += e[1] == 'x' ? 4 : 2;
        i++;
    }
    return width;
}

int sg_buf_put_escaped(sg_buf *b, const void *s, size_t n, int utf8)
{
    escape(b, s, n, utf8);
    return b->failed ? -1 : 0;
}

size_t sg_escaped_width(const void *s, size_t n, int utf8)
{
    return escape(NULL, s, n, utf8);
}

int sg_locale_utf8(void)
{
    const char *cs = nl_langinfo(CODESET);
    return cs && (!strcasecmp(cs, "UTF-8") || !strcasecmp(cs, "UTF8"));
}
