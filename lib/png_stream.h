/* PNG encoding row by row, and behind a producer on a background thread.
 * Both give the bytes of sg_png_encode (lib/image.h) of the whole image, which
 * is itself a writer fed every row at once: the same libpng settings, and
 * libpng's output does not depend on how the rows are handed to it. */
#ifndef SG_PNG_STREAM_H
#define SG_PNG_STREAM_H
#include <stddef.h>
#include <stdint.h>
#include "error.h"

/* A PNG of width x height RGB8 pixels built in memory, top row first.
 * Failures give libpng's reason ("PNG: encoding failed: insufficient memory"),
 * with sys_errno ENOMEM when memory ran out; libpng prints nothing. */
typedef struct sg_png_writer sg_png_writer;
int sg_png_writer_begin(sg_png_writer **w, int width, int height, sg_err *err);
/* Encodes the next n rows: rgb (n, width, 3), row-major. After an error every
 * later call fails too. */
int sg_png_writer_rows(sg_png_writer *w, const uint8_t *rgb, int n, sg_err *err);
/* After all height rows: *out (malloc'd) and *out_len are the file. Frees w,
 * also on error. */
int sg_png_writer_end(sg_png_writer *w, uint8_t **out, size_t *out_len, sg_err *err);
void sg_png_writer_free(sg_png_writer *w);   /* w may be NULL */

/* Encoding an image while it is being filled in, top to bottom: the caller
 * says how many rows from the top are final (sg_png_background_ready), and a
 * thread of the lowest priority (SCHED_IDLE: it runs only on an otherwise
 * idle core, so it fills the gaps of the caller's own threads instead of
 * taking their time) encodes them. sg_png_background_end encodes whatever
 * is left on the calling thread at its priority. rgb (height, width, 3) must
 * stay allocated until end, and rows once declared final must not change.
 * Without a thread (pthread_create failed) everything is encoded at end. */
typedef struct sg_png_background sg_png_background;
int sg_png_background_begin(sg_png_background **b, const uint8_t *rgb, int width, int height,
                            sg_err *err);
/* Rows [0, rows) are final (rows never decreases; at most height). */
void sg_png_background_ready(sg_png_background *b, int rows);
/* All rows are final: waits for the thread, encodes the rest, frees b (also
 * on error); *out (malloc'd) and *out_len are the file. */
int sg_png_background_end(sg_png_background *b, uint8_t **out, size_t *out_len, sg_err *err);
/* Giving up: stops the thread after its current chunk of rows, encodes
 * nothing more and frees b. b may be NULL. */
void sg_png_background_abort(sg_png_background *b);

#endif
