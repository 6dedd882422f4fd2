/* Error reporting for lib/: functions return 0 on success and -1 on failure,
 * with a one-line message in an sg_err that the calling tool prints as
 * "tool: message" (the writers of lib/fileio.h's list may also return
 * SG_WRITTEN_UNSYNCED: written, but unsynced). lib/ never prints and never
 * exits.
 *
 * Conventions of every lib/ function unless its comment says otherwise:
 * - err must point to an sg_err: lib/ copies into *err unchecked. Only the
 *   sg_err* functions below, and functions whose comment says so, take NULL
 *   (and drop the message).
 * - Out-pointers on failure: a function that hands back memory or an object
 *   through T **out sets *out to NULL (a length to 0) before anything can
 *   fail, so that "T *p; if (f(&p, err)) goto out; ... out: free(p);" is
 *   right. An out-struct (sg_image, sg_attr_table, sg_ckpt_info...) is
 *   overwritten without freeing what it held: free it before reusing it. */
#ifndef SG_ERROR_H
#define SG_ERROR_H
#include <stddef.h>

typedef struct {
    /* An anonymous struct with the int first, so that the "sg_err err =
     * {{0}};" callers write zero-fills both members without a warning. */
    struct {
        /* The errno of the failed system call the message ends with (ENOSPC,
         * ENOENT...), 0 when the failure was not a system call's (bad input,
         * a library's own error): callers tell failure kinds apart by it,
         * never by searching msg, whose wording is for people. lib/ also
         * sets it, with no system call failing, to mark these kinds:
         *   ENOMEM   memory ran out (malloc, libpng, libjpeg, OpenBLAS's
         *            buffers; sg_err_oom): the input may be sound;
         *   ENOTSUP  a sound image of a kind not read, a CMYK/YCCK JPEG
         *            (sg_image_unsupported); on Linux EOPNOTSUPP is the
         *            same number, so only image calls' errors mean this;
         *   ELIBACC  a CUDA switch the user set cannot be honoured (cuBLAS
         *            missing for SG_CUDA_GEMM_MAX_PIXELS): --device auto
         *            does not fall back to the CPU for it;
         *   ENOSPC, EFBIG  a shard write LMDB reports as EIO, on a full
         *            file system or at the file size limit (shard.c);
         *   E2BIG    a file larger than its reader's limit (sg_read_file):
         *            the caller may add which file it expected. */
        int sys_errno;
        char msg[1024];
    };
} sg_err;

/* A message longer than msg holds keeps its beginning and its last
 * SG_ERR_TAIL bytes (lib/error.c): a message of at most SG_ERR_TAIL bytes
 * survives whole any prefix a caller puts before it (sg_err_prefix, a long
 * path), and text meant to survive belongs at its end. */
#define SG_ERR_TAIL 677

/* Formats the message into err (if non-NULL), sets sys_errno to 0 and returns -1. */
int sg_errf(sg_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like sg_errf (the message as given: "...: out of memory"), recording ENOMEM
 * in sys_errno, so that a caller tells a sound file that did not fit in memory
 * from a bad one (a checkpoint is not "unusable", celeb-pack stops). */
int sg_err_oom(sg_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like sg_errf, appending ": strerror(errno)" and recording errno in sys_errno. */
int sg_errno(sg_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like sg_errno with an explicit error number e (one saved earlier, or a
 * library's code that is an errno value). */
int sg_err_sys(sg_err *err, int e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefixes an existing message: "prefix: old message"; sys_errno is kept.
 * Returns -1. (Text appended to err->msg in place keeps it too; a message
 * copied into another sg_err with sg_errf does not: copy the struct and
 * prefix it instead.) */
int sg_err_prefix(sg_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends to an existing message (cut at its size): "old message" fmt...
 * Keeps sys_errno. Returns -1. */
int sg_err_suffix(sg_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Bytes of untrusted input (a token from a user's file) made safe to quote in
 * a message: printable ASCII as is; a backslash, tab, CR and LF as \\ \t \r \n;
 * any other byte as \xHH (ESC, NUL, DEL, the bytes of UTF-8 sequences), so that
 * nothing reaches the user's terminal as a control sequence. At most
 * SG_QUOTE_MAX characters, then "..." when cut. The text is in the returned
 * struct, which lives until the end of the full expression holding the call:
 *   sg_errf(err, "%s line %zu: found '%s'", path, line, sg_quote_bytes(tok, len).s); */
#define SG_QUOTE_MAX 40
typedef struct { char s[SG_QUOTE_MAX + 4]; } sg_quoted;
sg_quoted sg_quote_bytes(const void *data, size_t n);
/* sg_quote_bytes of a NUL-terminated string. */
sg_quoted sg_quote_str(const char *s);
/* One byte as sg_quote_bytes shows it, into piece (NUL-terminated): itself
 * when printable ASCII other than a backslash, else \\ \t \r \n or \xHH.
 * Returns its length (1, 2 or 4). */
size_t sg_escape_byte(unsigned char c, char piece[5]);

#endif
