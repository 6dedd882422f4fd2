/* Text from a file (a shard's record names and metadata, an attribute file's
 * names) made safe to print in human-readable output, whole: unlike
 * sg_quote_bytes (lib/error.h, for messages) nothing is cut. Machine formats
 * (JSON) do not use it: they carry the exact text. */
#ifndef SG_TEXT_ESCAPE_H
#define SG_TEXT_ESCAPE_H
#include <limits.h>
#include <stddef.h>
#include "strbuf.h"

/* Appends s (n bytes) escaped: printable ASCII as is; a backslash, tab, CR and
 * LF as \\ \t \r \n; any other byte as \xHH, so that nothing reaches a terminal
 * as a control sequence. With utf8 set (the terminal's character set is UTF-8:
 * sg_locale_utf8), a well-formed UTF-8 sequence of a printable character is
 * kept as it is; C1 controls (U+0080..U+009F), the line and paragraph
 * separators, the bidirectional controls and other invisible format
 * characters (U+00AD, U+061C, U+200B..U+200F, U+202A..U+202E,
 * U+2060..U+206F, U+FEFF, U+FFF9..U+FFFB, tags U+E0000..U+E007F) and what
 * the C library's wcwidth calls unprintable are not printable here. */
int sg_buf_put_escaped(sg_buf *b, const void *s, size_t n, int utf8);
/* sg_buf_put_escaped, then spaces up to `columns` terminal columns (none when
 * the text is as wide or wider): a left-aligned table cell. */
int sg_buf_put_escaped_cell(sg_buf *b, const void *s, size_t n, int utf8, size_t columns);
/* The terminal columns of what sg_buf_put_escaped appends for s (a kept UTF-8
 * character counts its wcwidth: 0 for a combining mark, 2 for a wide one):
 * the width for aligning columns. */
size_t sg_escaped_width(const void *s, size_t n, int utf8);
/* Bytes of a UTF-8 byte-order mark at the start of text (an editor's "UTF-8
 * with BOM"), else 0: what readers of text files skip. */
size_t sg_bom_length(const void *text, size_t len);
/* 1 when the name s (a label, a dataset's name) should be quoted in a list
 * of names separated by spaces or commas: empty, or holding a byte other
 * than letters, digits, _-.+:@%/=^~ and non-ASCII ("sad face", "a,b"). The
 * one rule for celeb-dump's lists and sg-sample's messages. */
int sg_name_needs_quotes(const char *s);
/* s as one word of a shell command a user may paste (a path in a message's
 * "sg-train -o RUN --resume"), one that bash reads back as exactly the bytes
 * of s: bare when it holds only letters, digits, _-.+:@%/= and printable
 * UTF-8, and does not start with = (zsh would expand =cmd): an ordinary path
 * prints as it is; else in single quotes, a quote
 * in it as '\''; and where it holds a control byte, DEL, a byte of no
 * well-formed UTF-8 sequence or an invisible character (as
 * sg_buf_put_escaped tells them), as $'...' with those bytes written \n \t
 * \r or \xHH and a backslash and a quote as \\ and \': one line of printable
 * text. ($'...' is bash's, zsh's, ksh's and POSIX.1-2024's, not older dash's:
 * no other one-line form gives a newline back.) */
int sg_buf_put_shell_word(sg_buf *b, const char *s);
/* s as a message shows it, on one line and with nothing that moves or hides
 * text: a C0 control byte, DEL, a byte of no well-formed UTF-8 sequence and
 * each byte of an invisible character (as sg_buf_put_escaped tells them: C1
 * controls such as U+009B CSI and U+0085 NEL, U+2028, U+202E...) as
 * sg_escape_byte writes it (\n, \t, \x1b, \xc2\x9b); the rest as it is,
 * a backslash too (text lib/ quoted with sg_quote_bytes is escaped already)
 * and printable UTF-8 in any locale (as sg_buf_put_shell_word keeps it, so
 * that a shell word in a message stays the same). Into out (n bytes, with
 * its NUL; out may be NULL when n is 0), cut before a piece (an escape, a
 * character) that does not fit; returns the length of the whole, as
 * snprintf. */
size_t sg_escape_message(char *out, size_t n, const char *s);
/* sg_buf_put_shell_word into a new malloc'd string; NULL when out of memory. */
char *sg_shell_word(const char *s);
/* The most bytes, with its NUL, of the shell word of a string shorter than
 * PATH_MAX (any path a system call takes): each byte is written in at most 4
 * ('\'' for a quote, \xHH, '$'X for a hex digit after \xHH), and the quotes
 * add 3 ($' and '). */
#define SG_SHELL_WORD_MAX (4 * PATH_MAX)
/* sg_buf_put_shell_word into out (n bytes, with its NUL; out may be NULL when
 * n is 0), allocating nothing: for a message that must name the word when
 * memory has run out. Returns the word's length; when that is n or more, the
 * word does not fit and out is "" (a word cut short would paste as another
 * path: the caller shows something else). SG_SHELL_WORD_MAX bytes hold the
 * word of any path. */
size_t sg_shell_word_in(char *out, size_t n, const char *s);
/* 1 when the C library's character set (LC_CTYPE, as set by the program with
 * setlocale) is UTF-8. */
int sg_locale_utf8(void);

#endif
