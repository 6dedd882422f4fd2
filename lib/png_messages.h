/* Internal to lib/ (image_decode.c, png_stream.c): no tool includes it, and
 * tests/cli/make.bats checks that none does.
 *
 * libpng structs whose messages end up in an sg_err. libpng's default
 * handlers print every warning and error on stderr ("libpng warning: Out of
 * memory"; lib/ never prints) and the caller is left with no reason. The
 * structs made here record libpng's messages instead, and allocate through a
 * malloc that notes whether the latest allocation failed (zlib's go through it
 * too), so that running out of memory is told by sys_errno ENOMEM, not by
 * libpng's words ("Out of memory", "insufficient memory"), and an allocation
 * libpng did without is not blamed for a later error. Shared by the decoder
 * (image_decode.c) and the encoder (png_stream.c). */
#ifndef SG_PNG_MESSAGES_H
#define SG_PNG_MESSAGES_H
#include <png.h>
#include "error.h"

typedef struct {
    char error[256];     /* the error that ended libpng's work; "" before one */
    char warning[256];   /* libpng's first warning; "" if none */
    int out_of_memory;   /* the latest allocation failed: libpng's, zlib's or the caller's */
} sg_png_messages;

/* png_create_read_struct / png_create_write_struct recording into *m (zeroed
 * here), which must outlive the struct. NULL when it cannot be made (out of
 * memory: m says so). Errors longjmp to png_jmpbuf as usual. */
png_structp sg_png_create_read(sg_png_messages *m);
png_structp sg_png_create_write(sg_png_messages *m);

/* The caller's own allocation for png failed: records that and ends with
 * png_error(png, what), as a failure inside libpng does. */
_Noreturn void sg_png_out_of_memory(png_structp png, const char *what);

/* err = "prefix: ERROR", ERROR being libpng's error (or, if there was none,
 * its first warning), followed by " (WARNING)" when the first warning says
 * something else. When the latest allocation before the error failed,
 * ": Cannot allocate memory" instead of the warning, and sys_errno ENOMEM.
 * Returns -1. */
int sg_png_messages_err(sg_err *err, const sg_png_messages *m, const char *prefix);

#endif
