#define _GNU_SOURCE   /* wcwidth */
#include "text_escape.h"
#include "error.h"
#include <langinfo.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <wchar.h>

/* Length of the well-formed UTF-8 sequence at p (n bytes left), its code
 * point in *cp; 0 when malformed, overlong, a surrogate or past U+10FFFF. */
static size_t utf8_sequence(const unsigned char *p, size_t n, uint32_t *cp)
{
    size_t len;
    uint32_t v, min;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) { len = 2; v = p[0] & 0x1f; min = 0x80; }
    else if (p[0] >= 0xe0 && p[0] <= 0xef) { len = 3; v = p[0] & 0x0f; min = 0x800; }
    else if (p[0] >= 0xf0 && p[0] <= 0xf4) { len = 4; v = p[0] & 0x07; min = 0x10000; }
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        v = v << 6 | (p[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return len;
}

/* Characters that print nothing or move text (C1 controls, separators, bidi
 * and other format characters: zero-width spaces and joiners, the byte-order
 * mark, soft hyphen, interlinear annotation, tags): a name holding one would
 * look like another, or reorder what follows. */
static int invisible(uint32_t cp)
{
    return cp < 0xa0 || cp == 0xad || cp == 0x061c || (cp >= 0x200b && cp <= 0x200f) ||
           (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x206f) || cp == 0xfeff ||
           (cp >= 0xfff9 && cp <= 0xfffb) || (cp >= 0xe0000 && cp <= 0xe007f);
}

/* Length of the UTF-8 sequence of a printable character at p, or 0; its width
 * in terminal columns (wcwidth: 0 for a combining mark, 2 for a wide one) in
 * *columns. */
static size_t printable_utf8_len(const unsigned char *p, size_t n, size_t *columns)
{
    uint32_t cp;
    size_t len = utf8_sequence(p, n, &cp);
    if (!len || invisible(cp)) return 0;
    int w = wcwidth((wchar_t)cp);
    if (w < 0) return 0;   /* unassigned or a control in the C library's tables */
    *columns = (size_t)w;
    return len;
}

/* Walks s: each piece is either a run of bytes kept as is or one escape. */
static size_t escape(sg_buf *b, const unsigned char *p, size_t n, int utf8)
{
    size_t width = 0;
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t columns = 1;
        size_t keep = c >= 0x20 && c < 0x7f && c != '\\' ? 1
                      : utf8 && c >= 0x80 ? printable_utf8_len(p + i, n - i, &columns) : 0;
        if (keep) {
            if (b) sg_buf_append(b, p + i, keep);
            width += columns;
            i += keep;
            continue;
        }
        char e[5];
        width += sg_escape_byte((unsigned char)c, e);   /* not kept: never itself */
        if (b) sg_buf_puts(b, e);
        i++;
    }
    return width;
}

int sg_buf_put_escaped(sg_buf *b, const void *s, size_t n, int utf8)
{
    escape(b, s, n, utf8);
    return b->failed ? -1 : 0;
}

int sg_buf_put_escaped_cell(sg_buf *b, const void *s, size_t n, int utf8, size_t columns)
{
    for (size_t k = escape(b, s, n, utf8); k < columns; k++) sg_buf_putc(b, ' ');
    return b->failed ? -1 : 0;
}

size_t sg_escaped_width(const void *s, size_t n, int utf8)
{
    return escape(NULL, s, n, utf8);
}

size_t sg_bom_length(const void *text, size_t len)
{
    return len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3) ? 3 : 0;
}

int sg_name_needs_quotes(const char *s)
{
    if (!*s) return 1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!(*p >= 0x80 || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("_-.+:@%/=^~", *p)))
            return 1;
    return 0;
}

/* A byte bare in a shell word: not a metacharacter, quote, glob or
 * expansion; not ~ either (bash expands it after = and : in any argument
 * that looks like an assignment, --x=~/a), nor ^ (the old Bourne shell's
 * pipe). UTF-8 is checked apart. */
static int shell_bare(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("_-.+:@%/=", c));
}

/* Length of a printable UTF-8 character at p (n bytes left), else 0; the
 * locale's wcwidth is not asked: a suggested command, and a message holding
 * one, reads the same in any. */
static size_t shell_utf8(const unsigned char *p, size_t n)
{
    uint32_t cp;
    size_t len = p[0] >= 0x80 ? utf8_sequence(p, n, &cp) : 0;
    return len && !invisible(cp) ? len : 0;
}

size_t sg_escape_message(char *out, size_t n, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t left = strlen(s), o = 0, full = 0;
    while (left) {
        /* kept: printable ASCII, a backslash too (lib's quoted text is
         * escaped already), and the UTF-8 that shell words keep, so that one
         * in a message is not escaped again */
        char e[5];
        const char *piece = (const char *)p;
        size_t in = shell_utf8(p, left), l;
        if (in) l = in;
        else if (*p >= 0x20 && *p < 0x7f) l = in = 1;
        else { l = sg_escape_byte(*p, e); piece = e; in = 1; }
        if (full == o && o + l < n) {   /* never cut inside a piece */
            memcpy(out + o, piece, l);
            o += l;
        }
        full += l;
        p += in;
        left -= in;
    }
    if (n) out[o] = 0;
    return full;
}

/* Where a shell word goes: an sg_buf, or out (n bytes) of which len are
 * counted so far; a piece is written only while the whole so far fits. */
typedef struct {
    sg_buf *b;
    char *out;
    size_t n, len;
} word_sink;

static void word_put(word_sink *w, const void *p, size_t k)
{
    if (w->b) { sg_buf_append(w->b, p, k); return; }
    if (w->len + k < w->n) memcpy(w->out + w->len, p, k);
    w->len += k;
}

static void word_puts(word_sink *w, const char *s) { word_put(w, s, strlen(s)); }

static void put_shell_word(word_sink *w, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    /* a leading = is zsh's EQUALS expansion (=cmd: the path of cmd) */
    int quote = n == 0 || p[0] == '=', dollar = 0;
    for (size_t i = 0; i < n;) {
        size_t u = shell_utf8(p + i, n - i);
        if (u) { i += u; continue; }
        if (!shell_bare(p[i])) quote = 1;
        if (p[i] < 0x20 || p[i] >= 0x7f) dollar = 1;
        i++;
    }
    if (!quote) { word_put(w, s, n); return; }
    if (!dollar) {
        word_puts(w, "'");
        for (; *s; s++) {
            if (*s == '\'') word_puts(w, "'\\''");
            else word_put(w, s, 1);
        }
        word_puts(w, "'");
        return;
    }
    /* $'...': a message stays one line, and the terminal shows each byte */
    word_puts(w, "$'");
    int hex = 0;   /* the last piece was \xHH */
    for (size_t i = 0; i < n;) {
        size_t u = shell_utf8(p + i, n - i);
        unsigned c = p[i];
        if (u || (c >= 0x20 && c < 0x7f)) {
            /* \x1bb is one byte to some shells (POSIX leaves \xHHH unspecified): end the
             * quote between, $'\x1b'$'b' */
            if (hex && !u && strchr("0123456789abcdefABCDEF", (int)c)) word_puts(w, "'$'");
            if (c == '\\' || c == '\'') word_puts(w, "\\");
            if (!u) u = 1;
            word_put(w, p + i, u);
            i += u;
            hex = 0;
            continue;
        }
        char e[5];   /* \n \t \r or \xHH: what $'...' reads back as the byte */
        word_put(w, e, sg_escape_byte((unsigned char)c, e));
        hex = e[1] == 'x';
        i++;
    }
    word_puts(w, "'");
}

int sg_buf_put_shell_word(sg_buf *b, const char *s)
{
    word_sink w = {b, NULL, 0, 0};
    put_shell_word(&w, s);
    return b->failed ? -1 : 0;
}

size_t sg_shell_word_in(char *out, size_t n, const char *s)
{
    word_sink w = {NULL, out, n, 0};
    put_shell_word(&w, s);
    if (n) out[w.len < n ? w.len : 0] = 0;   /* a word cut short would paste as another path */
    return w.len;
}

char *sg_shell_word(const char *s)
{
    sg_buf b = SG_BUF_INIT;
    sg_buf_put_shell_word(&b, s);
    return sg_buf_take(&b, NULL);   /* NULL when it failed */
}

int sg_locale_utf8(void)
{
    const char *cs = nl_langinfo(CODESET);
    return cs && (!strcasecmp(cs, "UTF-8") || !strcasecmp(cs, "UTF8"));
}
