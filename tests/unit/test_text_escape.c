/* lib/text_escape.c: what human-readable output keeps and what it escapes. */
#include "check.h"
#include "text_escape.h"
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* width: the terminal columns of the result; AUTO: one per character of
 * want (ASCII and escapes only). */
#define AUTO ((size_t)-1)
static void expect_width(const char *in, size_t n, int utf8, const char *want, size_t width)
{
    sg_buf b = SG_BUF_INIT;
    int rc = sg_buf_put_escaped(&b, in, n, utf8);
    const char *got = b.data ? b.data : "";
    CHECK(rc == 0 && !strcmp(got, want), "utf8=%d: got '%s', want '%s'", utf8, got, want);
    size_t w = sg_escaped_width(in, n, utf8);
    if (width == AUTO) width = strlen(want);
    CHECK(w == width, "utf8=%d '%s': width %zu, want %zu", utf8, want, w, width);
    sg_buf_free(&b);
}

static void expect(const char *in, size_t n, int utf8, const char *want)
{
    expect_width(in, n, utf8, want, AUTO);
}

#define BOTH(in, want) do { expect(in, sizeof in - 1, 0, want); expect(in, sizeof in - 1, 1, want); } while (0)

static void expect_word(const char *in, const char *want)
{
    sg_buf b = SG_BUF_INIT;
    int rc = sg_buf_put_shell_word(&b, in);
    const char *got = b.data ? b.data : "";
    CHECK(rc == 0 && !strcmp(got, want), "shell word: got '%s', want '%s'", got, want);
    sg_buf_free(&b);
}

/* Every word, read back by bash (in locale loc), gives the bytes it was
 * made of: printf '%s\0' WORD... through a pipe. */
static void expect_bash_reads_back(const char *loc, const char *const *in, size_t n)
{
    sg_buf cmd = SG_BUF_INIT;
    sg_buf_appendf(&cmd, "LC_ALL=%s bash 2>/dev/null -c ", loc);
    sg_buf script = SG_BUF_INIT;
    sg_buf_puts(&script, "printf '%s\\0'");
    for (size_t k = 0; k < n; k++) {
        sg_buf_putc(&script, ' ');
        sg_buf_put_shell_word(&script, in[k]);
    }
    sg_buf_put_shell_word(&cmd, script.data);   /* one word for sh: in quotes, no control byte in it */
    FILE *f = popen(cmd.data, "r");
    CHECK(f != NULL, "popen bash");
    if (!f) return;
    static char out[1 << 16];
    size_t len = fread(out, 1, sizeof out, f);
    int st = pclose(f);
    CHECK(st == 0, "%s: bash failed (%d)", loc, st);
    size_t at = 0;
    for (size_t k = 0; k < n; k++) {
        size_t l = strlen(in[k]);
        int same = at + l < len && !memcmp(out + at, in[k], l) && out[at + l] == 0;
        CHECK(same, "%s: word %zu does not read back", loc, k);
        if (!same) break;
        at += l + 1;
    }
    CHECK(at == len, "%s: %zu bytes read back, want %zu", loc, len, at);
    sg_buf_free(&cmd);
    sg_buf_free(&script);
}

/* sg_buf_put_shell_word: words a user pastes from a message into a shell. */
static void shell_words(void)
{
    expect_word("runs/celebA", "runs/celebA");   /* ordinary: as it is */
    expect_word("/data/a-b_c.d+e:f@g%h=i", "/data/a-b_c.d+e:f@g%h=i");
    expect_word("caf\xc3\xa9/\xe6\x97\xa5", "caf\xc3\xa9/\xe6\x97\xa5");   /* printable UTF-8 */
    expect_word("", "''");
    expect_word("my run", "'my run'");
    expect_word("it's", "'it'\\''s'");
    expect_word("$HOME/`x`/*!", "'$HOME/`x`/*!'");
    expect_word("a\\b", "'a\\b'");
    expect_word("~/run", "'~/run'");              /* no tilde expansion */
    expect_word("--x=~", "'--x=~'");              /* bash's, after = too */
    expect_word("a^b", "'a^b'");
    expect_word("=run", "'=run'");                /* zsh's =cmd expansion */
    expect_word("=", "'='");
    expect_word("a=b/=c", "a=b/=c");              /* = bare but first */
    /* control bytes and what does not print: $'...', one line */
    expect_word("a\nb", "$'a\\nb'");
    expect_word("it's\t\\\r", "$'it\\'s\\t\\\\\\r'");
    expect_word("\x1b[31m", "$'\\x1b[31m'");
    expect_word("\x1b" "b", "$'\\x1b'$'b'");     /* \x1bb would be one byte to some shells */
    expect_word("\x7f" "g", "$'\\x7fg'");
    expect_word("\xff/x", "$'\\xff/x'");       /* no UTF-8 */
    expect_word("\xe2\x80\xae" "a", "$'\\xe2\\x80\\xae'$'a'");   /* U+202E, invisible */
    expect_word("\xc3\xa9\n", "$'\xc3\xa9\\n'");
    /* every byte, and a hex digit after each: no control byte in any word,
     * and bash reads each back as it was */
    const char *in[300];
    static char bytes[256][4], all[512];
    size_t n = 0, k = 0;
    for (int c = 1; c < 256; c++) {
        snprintf(bytes[c], sizeof bytes[c], "%c%c", c, c == 'a' ? 'b' : 'c');
        in[n++] = bytes[c];
        all[k++] = (char)c;
        all[k++] = (char)(c % 16 < 10 ? '0' + c % 16 : 'a' + c % 16 - 10);
    }
    all[k] = 0;
    const char *more[] = {all, "", "my run's \"dir\"", "a\nb", "\n", "\\", "'", "$'x'", "-o", "x\x01" "1",
                          "\xe6\x97\xa5 \x1b", "~", "a=~", "=ls", "#c", "{a,b}", "[ab]", "!!", "x\x80\xbf"};
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) in[n++] = more[i];
    for (size_t i = 0; i < n; i++) {
        sg_buf b = SG_BUF_INIT;
        sg_buf_put_shell_word(&b, in[i]);
        int clean = 1;
        for (const unsigned char *p = (const unsigned char *)b.data; *p; p++)
            if (*p < 0x20 || *p == 0x7f) clean = 0;
        CHECK(clean, "shell word %zu holds a control byte", i);
        /* a message holding the word shows it as it is: not escaped twice */
        static char shown[4096];
        size_t len = sg_escape_message(shown, sizeof shown, b.data);
        CHECK(len == strlen(b.data) && !strcmp(shown, b.data), "shell word %zu: a message changes it to '%s'", i,
              shown);
        sg_buf_free(&b);
    }
    expect_bash_reads_back("C", in, n);
    expect_bash_reads_back("C.UTF-8", in, n);
    char *w = sg_shell_word("a b");
    CHECK(w && !strcmp(w, "'a b'"), "sg_shell_word");
    free(w);
}

/* sg_shell_word_in: the word of sg_buf_put_shell_word in a buffer of the
 * caller's, whole or not at all. */
static void expect_word_in(const char *in, const char *want)
{
    char out[64];
    size_t len = sg_shell_word_in(out, sizeof out, in);
    CHECK(len == strlen(want) && !strcmp(out, want), "shell word in a buffer: got '%s' (%zu), want '%s'", out, len,
          want);
    /* just fitting, one byte short, the length alone */
    char *fit = malloc(len + 1);
    memset(fit, 'Z', len + 1);
    CHECK(sg_shell_word_in(fit, len + 1, in) == len && !strcmp(fit, want), "'%s' in %zu bytes: got '%s'", want,
          len + 1, fit);
    memset(fit, 'Z', len + 1);
    CHECK(sg_shell_word_in(fit, len, in) == len && (len == 0 || fit[0] == 0), "'%s' in %zu bytes: not cut to ''",
          want, len);
    CHECK(sg_shell_word_in(NULL, 0, in) == len, "'%s': the length alone", want);
    free(fit);
}

static void shell_words_in(void)
{
    expect_word_in("runs/celebA", "runs/celebA");
    expect_word_in("", "''");
    expect_word_in("my run", "'my run'");
    expect_word_in("it's \"x\"", "'it'\\''s \"x\"'");
    expect_word_in("a\nb", "$'a\\nb'");
    expect_word_in("\x1b" "b", "$'\\x1b'$'b'");
    expect_word_in("=run", "'=run'");
    /* cut: never part of a word, which would paste as another path */
    char out[8];
    memset(out, 'Z', sizeof out);
    CHECK(sg_shell_word_in(out, 4, "/data/run") == 9 && out[0] == 0, "a bare word cut: got '%s'", out);
    memset(out, 'Z', sizeof out);
    CHECK(sg_shell_word_in(out, 8, "my run") == 8 && out[0] == 0, "a quoted word cut: got '%s'", out);
    CHECK(sg_shell_word_in(out, 1, "") == 2 && out[0] == 0, "'' in 1 byte: got '%s'", out);
    /* the same words as in a buffer that grows, for every byte */
    for (int c = 1; c < 256; c++) {
        char in[4] = {(char)c, 'b', (char)c, 0};
        sg_buf b = SG_BUF_INIT;
        sg_buf_put_shell_word(&b, in);
        char got[64];
        size_t len = sg_shell_word_in(got, sizeof got, in);
        CHECK(b.data && len == b.len && !strcmp(got, b.data), "byte 0x%02x: '%s', want '%s'", c, got,
              b.data ? b.data : "");
        sg_buf_free(&b);
    }
    /* SG_SHELL_WORD_MAX holds the longest word of a path shorter than
     * PATH_MAX: each byte 4 ('\'' or \xHH or '$'X) */
    static char worst[PATH_MAX], word[SG_SHELL_WORD_MAX];
    const char *const fill[] = {"'", "\x01", "\x1b" "b"};
    for (size_t f = 0; f < 3; f++) {
        size_t k = 0;
        while (k + strlen(fill[f]) < sizeof worst) k += (size_t)snprintf(worst + k, sizeof worst - k, "%s", fill[f]);
        worst[k] = 0;
        size_t len = sg_shell_word_in(word, sizeof word, worst);
        CHECK(len < sizeof word && word[0] && len >= 4 * k, "a %zu-byte path of '%s': a word of %zu bytes", k,
              fill[f], len);
    }
}

static void expect_message(const char *in, const char *want)
{
    char out[256];
    size_t len = sg_escape_message(out, sizeof out, in);
    CHECK(len == strlen(want) && !strcmp(out, want), "message: got '%s', want '%s'", out, want);
    CHECK(sg_escape_message(NULL, 0, in) == len, "message '%s': the length alone", want);
}

static void expect_message_cut(const char *in, size_t n, const char *want, size_t full)
{
    char out[64];
    memset(out, 'Z', sizeof out);
    size_t len = sg_escape_message(out, n, in);
    CHECK(len == full && !strcmp(out, want), "message in %zu bytes: got '%s' (%zu), want '%s' (%zu)", n, out, len,
          want, full);
}

/* sg_escape_message: the tools' messages, one line whatever the paths in them. */
static void messages(void)
{
    expect_message("runs/celebA: No such file", "runs/celebA: No such file");
    expect_message("", "");
    expect_message("a\nb\tc\rd\x1b[31m\x7f\x01", "a\\nb\\tc\\rd\\x1b[31m\\x7f\\x01");
    expect_message("a\\nb 'c' $'x\\ty'", "a\\nb 'c' $'x\\ty'");   /* backslashes kept: quoted already */
    expect_message("caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80 \xc2\xa0",
                   "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80 \xc2\xa0");   /* printable UTF-8, in any locale */
    expect_message("\xc2\x9b" "31m", "\\xc2\\x9b31m");           /* U+009B CSI: xterm acts on it */
    expect_message("a\xc2\x85" "b", "a\\xc2\\x85b");              /* U+0085 NEL: a line break to Python */
    expect_message("\xe2\x80\xae" "gpj.exe", "\\xe2\\x80\\xaegpj.exe");   /* U+202E RIGHT-TO-LEFT OVERRIDE */
    expect_message("\xe2\x81\xa6" "x", "\\xe2\\x81\\xa6x");       /* U+2066 LEFT-TO-RIGHT ISOLATE */
    expect_message("a\xe2\x80\xa8" "b\xe2\x80\xa9", "a\\xe2\\x80\\xa8b\\xe2\\x80\\xa9");   /* U+2028, U+2029 */
    expect_message("Smi\xe2\x80\x8bling\xef\xbb\xbf", "Smi\\xe2\\x80\\x8bling\\xef\\xbb\\xbf");
    expect_message("\x9b" "31m\xff\xfe", "\\x9b31m\\xff\\xfe");   /* no UTF-8 */
    expect_message("\xc0\xaf\xed\xa0\x80", "\\xc0\\xaf\\xed\\xa0\\x80");   /* overlong, a surrogate */
    expect_message("ab\xe2\x82", "ab\\xe2\\x82");                 /* cut short */
    expect_message("\xe2\x82" "\xc3\xa9", "\\xe2\\x82\xc3\xa9");  /* the next one kept */
    /* cut before a piece that does not fit, never inside one */
    expect_message_cut("ab\x1b" "c", 8, "ab\\x1bc", 7);
    expect_message_cut("ab\x1b" "c", 7, "ab\\x1b", 7);
    expect_message_cut("ab\x1b" "c", 6, "ab", 7);
    expect_message_cut("a\xc3\xa9" "b", 3, "a", 4);
    expect_message_cut("a\xc3\xa9" "b", 4, "a\xc3\xa9", 4);
    expect_message_cut("ab", 1, "", 2);
}

int main(void)
{
    shell_words();   /* in any locale */
    shell_words_in();
    messages();
    /* The tools set the locale from the environment; UTF-8 output assumes a
     * UTF-8 locale, whose wcwidth gives the columns. */
    if (!setlocale(LC_CTYPE, "C.UTF-8") || !sg_locale_utf8()) {
        SKIP("no C.UTF-8 locale");
        return check_done();
    }
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
    /* Invisible format characters: a name holding one looks like another. */
    BOTH("Smi\xe2\x80\x8bling", "Smi\\xe2\\x80\\x8bling");   /* U+200B ZERO WIDTH SPACE */
    BOTH("\xef\xbb\xbf" "a", "\\xef\\xbb\\xbfa");             /* U+FEFF */
    BOTH("x\xc2\xad", "x\\xc2\\xad");                        /* U+00AD SOFT HYPHEN */
    BOTH("\xe2\x81\xa0", "\\xe2\\x81\\xa0");                  /* U+2060 WORD JOINER */
    BOTH("\xef\xbf\xb9", "\\xef\\xbf\\xb9");                  /* U+FFF9 */
    BOTH("\xf3\xa0\x81\x81", "\\xf3\\xa0\\x81\\x81");         /* U+E0041 TAG LATIN CAPITAL A */
    BOTH("\xf4\x8f\xbf\xbf", "\\xf4\\x8f\\xbf\\xbf");         /* U+10FFFF, a noncharacter */
    /* Printable UTF-8: kept in a UTF-8 locale, escaped byte by byte else;
     * the width is in terminal columns. */
    expect_width("caf\xc3\xa9", 5, 1, "caf\xc3\xa9", 4);
    expect("caf\xc3\xa9", 5, 0, "caf\\xc3\\xa9");
    expect_width("\xc2\xa0", 2, 1, "\xc2\xa0", 1);              /* U+00A0, the first after C1 */
    expect_width("\xe6\x97\xa5\xe6\x9c\xac", 6, 1, "\xe6\x97\xa5\xe6\x9c\xac", 4);   /* wide: 2 each */
    expect_width("\xf0\x9f\x98\x80", 4, 1, "\xf0\x9f\x98\x80", 2);
    expect_width("e\xcc\x81", 3, 1, "e\xcc\x81", 1);            /* e + U+0301: combining, 0 columns */
    expect_width("x\xc3\xa9\x1b", 4, 1, "x\xc3\xa9\\x1b", 6);
    /* A table cell: padded to its columns by the text's width, not its bytes. */
    struct { const char *in; size_t columns; const char *want; } cells[] = {
        {"ab", 5, "ab   "}, {"\xe6\x97\xa5", 5, "\xe6\x97\xa5   "}, {"e\xcc\x81", 3, "e\xcc\x81  "},
        {"\x1b", 2, "\\x1b"}, {"toolong", 3, "toolong"}};
    for (size_t k = 0; k < sizeof cells / sizeof cells[0]; k++) {
        sg_buf b = SG_BUF_INIT;
        int rc = sg_buf_put_escaped_cell(&b, cells[k].in, strlen(cells[k].in), 1, cells[k].columns);
        const char *got = b.data ? b.data : "";
        CHECK(rc == 0 && !strcmp(got, cells[k].want), "cell of %zu columns: got '%s', want '%s'", cells[k].columns,
              got, cells[k].want);
        sg_buf_free(&b);
    }
    return check_done();
}
