/* Image files written on a background thread: encoding and the atomic write's
 * fsyncs (sg_image_write) overlap the caller's work, e.g. sg-sample --each's
 * generator. Files are written in the order queued, each exactly as
 * sg_image_write would write it. */
#ifndef SG_IMAGE_WRITER_H
#define SG_IMAGE_WRITER_H
#include <stdint.h>
#include "error.h"

typedef struct sg_image_writer sg_image_writer;

/* At most max_queued images wait at a time (sg_image_writer_put blocks when
 * the queue is full). Without a thread (pthread_create failed) put writes
 * at once. */
int sg_image_writer_start(sg_image_writer **w, int max_queued, sg_err *err);
/* Queues path <- rgb (width x height x 3, copied). -1 with the error of an
 * earlier write that failed (then nothing more is written). */
int sg_image_writer_put(sg_image_writer *w, const char *path, const uint8_t *rgb, int width, int height,
                        sg_err *err);
/* Waits until every queued image is written; 0, or -1 with the first error.
 * An image written whose directory did not sync, without an unsynced handler
 * (lib/fileio.h), fails nothing: the rest are written, and finish returns
 * SG_WRITTEN_UNSYNCED with the first such report when nothing failed. Frees
 * w, also on error. */
int sg_image_writer_finish(sg_image_writer *w, sg_err *err);
/* Giving up: the images still queued are dropped (one being written when it
 * is called is completed, atomically as ever), the thread is joined and w
 * freed. w may be NULL. */
void sg_image_writer_abort(sg_image_writer *w);

#endif
