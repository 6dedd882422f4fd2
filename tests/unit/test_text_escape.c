/* lib/text_escape.c: what human-readable output keeps and what it escapes. */
#include "check.h"
#include "text_escape.h"
#include <string.h>

static void expect(const char *in, size_t n, int utf8, const char *want)
{
    sg_buf b = SG_BUF_INIT;
    int rc = sg_buf_put_escaped(&b, in, n, utf8);
    const char *got = b.data ? b.data : "";
    CHECK(rc == 0 && !strcmp(got, want), "utf8=%d: got '%s', want '%s'", utf8, got, want);
    size_t w = sg_escaped_width(in, n, utf8);
    /* Every kept multi-byte sequence counts one column. */
    size_t cols = 0;
    for (const unsigned char *p = (const unsigned char *)got; *p; p++) cols += (*p & 0xc0) != 0x80;
    CHECK(w == cols, "utf8=%d '%s': width %zu, want %zu", utf8, want, w, cols);
    sg_buf_free(&b);
}

#define BOTH(in, want) do { expect(in, sizeof in - 1, 0, want); expect(in, sizeof in - 1, 1, want); } while (0)

int main(void)
{
    BOTH("000001.jpg", "000001.jpg");
    BOTH("", "");
    BOTH("a\\b", "a\\\\b");
    BOTH("\t\r\n", "\\t\\r\\n");
    BOTH("\x1b[2Jx\a", "\\x1b[2Jx\\x07");
    BOTH("\x1b]0;title\x07", "\\x1b]0;title\\x07");
    BOTH("del\x7f", "del\\x7f");
    BOTH("nul\0x", "nul\\x00x");
    BOTH("\x9b" "31m", "\\x9b31m");                    /* 8-bit CSI */
    BOTH("\xc2\x9b" "31m", "\\xc2\\x9b31m");           /* U+009B, CSI as UTF-8 */
    BOTH("\xc2\x85", "\\xc2\\x85");                    /* U+0085 NEL */
    BOTH("\xc0\xaf", "\\xc0\\xaf");                    /* overlong '/' */
    BOTH("\xe0\x80\xaf", "\\xe0\\x80\\xaf");           /* overlong, 3 bytes */
    BOTH("\xed\xa0\x80", "\\xed\\xa0\\x80");           /* a surrogate */
    BOTH("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");  /* past U+10FFFF */
    BOTH("ab\xe2\x82", "ab\\xe2\\x82");                /* cut short */
    BOTH("\xe2\x80\xae" "gpj.exe", "\\xe2\\x80\\xaegpj.exe");   /* U+202E RIGHT-TO-LEFT OVERRIDE */
    BOTH("\xe2\x81\xa6", "\\xe2\\x81\\xa6");           /* U+2066 */
    BOTH("\xe2\x80\xa8", "\\xe2\\x80\\xa8");           /* U+2028 LINE SEPARATOR */
    BOTH("\xd8\x9c", "\\xd8\\x9c");                    /* U+061C */
    BOTH("\xff\xfe", "\\xff\\xfe");
    /* Printable UTF-8: kept in a UTF-8 locale, escaped byte by byte else. */
    expect("caf\xc3\xa9", 5, 1, "caf\xc3\xa9");
    expect("caf\xc3\xa9", 5, 0, "caf\\xc3\\xa9");
    expect("\xc2\xa0", 2, 1, "\xc2\xa0");              /* U+00A0, the first after C1 */
    expect("\xe6\x97\xa5\xe6\x9c\xac", 6, 1, "\xe6\x97\xa5\xe6\x9c\xac");
    expect("\xf0\x9f\x98\x80", 4, 1, "\xf0\x9f\x98\x80");
    expect("\xf4\x8f\xbf\xbf", 4, 1, "\xf4\x8f\xbf\xbf");       /* U+10FFFF */
    expect("x\xc3\xa9\x1b", 4, 1, "x\xc3\xa9\\x1b");
    return check_done();
}
