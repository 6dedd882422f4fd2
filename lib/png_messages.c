/* libpng's messages into an sg_err: png_messages.h. */
#include "png_messages.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libpng's error handler must not return (png_error would then call its
 * default handler, which prints): record, then back to png_jmpbuf. During
 * png_create_* png is libpng's struct for the creation, whose error pointer is
 * ours too. */
static void on_error(png_structp png, png_const_charp msg)
{
    sg_png_messages *m = png_get_error_ptr(png);
    snprintf(m->error, sizeof m->error, "%s", msg ? msg : "unknown error");
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    sg_png_messages *m = png_get_error_ptr(png);
    if (!m->warning[0]) snprintf(m->warning, sizeof m->warning, "%s", msg ? msg : "unknown warning");
}

/* Out of memory is the reason for an error when the latest allocation before
 * it failed. libpng and zlib give up at the first allocation they cannot do
 * without (png_malloc's png_error, zlib's Z_MEM_ERROR), with nothing
 * allocated between it and the error. One they can do without (an ancillary
 * chunk's buffer, png_malloc_warn) gets a warning and the work goes on: the
 * row buffers and zlib's state are allocated before the image data, where a
 * later error comes from, so a CRC error there keeps its own words and the
 * warning. Only an error with no allocation since such a failure (a file cut
 * short right after the chunk) is still put down to memory. */
static png_voidp noting_malloc(png_structp png, png_alloc_size_t n)
{
    void *p = malloc(n);
    ((sg_png_messages *)png_get_mem_ptr(png))->out_of_memory = p == NULL;
    return p;
}

static void plain_free(png_structp png, png_voidp p) { (void)png; free(p); }

png_structp sg_png_create_read(sg_png_messages *m)
{
    memset(m, 0, sizeof *m);
    return png_create_read_struct_2(PNG_LIBPNG_VER_STRING, m, on_error, on_warning,
                                    m, noting_malloc, plain_free);
}

png_structp sg_png_create_write(sg_png_messages *m)
{
    memset(m, 0, sizeof *m);
    return png_create_write_struct_2(PNG_LIBPNG_VER_STRING, m, on_error, on_warning,
                                     m, noting_malloc, plain_free);
}

void sg_png_out_of_memory(png_structp png, const char *what)
{
    ((sg_png_messages *)png_get_error_ptr(png))->out_of_memory = 1;
    png_error(png, what);
}

int sg_png_messages_err(sg_err *err, const sg_png_messages *m, const char *prefix)
{
    const char *msg = m->error[0] ? m->error : m->warning[0] ? m->warning : NULL;
    if (m->out_of_memory) {
        /* libpng's words for it ("insufficient memory") or the caller's; the
         * warnings are then libpng's "Out of memory" for the same cause */
        return msg ? sg_err_sys(err, ENOMEM, "%s: %s", prefix, msg) : sg_err_sys(err, ENOMEM, "%s", prefix);
    }
    if (!msg) return sg_errf(err, "%s: libpng failed without a message", prefix);
    if (msg == m->error && m->warning[0] && strcmp(m->warning, m->error) != 0)
        return sg_errf(err, "%s: %s (%s)", prefix, m->error, m->warning);
    return sg_errf(err, "%s: %s", prefix, msg);
}
