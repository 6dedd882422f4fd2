/* PNG row by row (sg_png_writer) and behind a producer (sg_png_background):
 * png_stream.h. */
#define _GNU_SOURCE   /* SCHED_IDLE */
#include "png_stream.h"
#include "png_messages.h"
#include "thread.h"
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---- row by row ------------------------------------------------------------ */

/* Failures say "PNG: encoding failed: " and libpng's reason (png_messages.h). */
#define ENCODING_FAILED "PNG: encoding failed"

typedef struct { uint8_t *buf; size_t len, cap; } membuf;

static void membuf_write(png_structp png, png_bytep data, png_size_t n)
{
    membuf *m = png_get_io_ptr(png);
    if (m->len + n > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + n) cap *= 2;
        uint8_t *nb = realloc(m->buf, cap);
        if (!nb) {
            char what[64];
            snprintf(what, sizeof what, "growing the file to %zu bytes", cap);
            sg_png_out_of_memory(png, what);
        }
        m->buf = nb; m->cap = cap;
    }
    memcpy(m->buf + m->len, data, n);
    m->len += n;
}

static void membuf_flush(png_structp png) { (void)png; }

struct sg_png_writer {
    png_structp png;
    png_infop info;
    int width, height, rows_done, failed;
    membuf m;
    sg_png_messages msgs;   /* libpng's; what a failure says, also to every later call */
};

void sg_png_writer_free(sg_png_writer *w)
{
    if (!w) return;
    png_destroy_write_struct(&w->png, &w->info);
    free(w->m.buf);
    free(w);
}

/* Fails w for good (after a longjmp from libpng): err says libpng's reason. */
static int writer_failed(sg_png_writer *w, sg_err *err)
{
    w->failed = 1;
    return sg_png_messages_err(err, &w->msgs, ENCODING_FAILED);
}

/* writer_failed, then w freed: begin and end, which leave no writer behind. */
static int writer_failed_free(sg_png_writer *w, sg_err *err)
{
    writer_failed(w, err);
    sg_png_writer_free(w);
    return -1;
}

int sg_png_writer_begin(sg_png_writer **out, int width, int height, sg_err *err)
{
    *out = NULL;
    if (width <= 0 || height <= 0) return sg_errf(err, "PNG: bad size %dx%d", width, height);
    sg_png_writer *w = calloc(1, sizeof *w);
    if (!w) return sg_err_sys(err, ENOMEM, ENCODING_FAILED);
    w->width = width;
    w->height = height;
    w->png = sg_png_create_write(&w->msgs);
    w->info = w->png ? png_create_info_struct(w->png) : NULL;
    if (!w->png || !w->info) return writer_failed_free(w, err);
    if (setjmp(png_jmpbuf(w->png))) return writer_failed_free(w, err);
    png_set_write_fn(w->png, &w->m, membuf_write, membuf_flush);
    png_set_IHDR(w->png, w->info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(w->png, 6);
    png_write_info(w->png, w->info);
    *out = w;
    return 0;
}

int sg_png_writer_rows(sg_png_writer *w, const uint8_t *rgb, int n, sg_err *err)
{
    if (w->failed) return writer_failed(w, err);
    if (n < 0 || n > w->height - w->rows_done)
        return sg_errf(err, "PNG: %d more rows for an image with %d left", n, w->height - w->rows_done);
    if (setjmp(png_jmpbuf(w->png))) return writer_failed(w, err);
    size_t stride = (size_t)w->width * 3;
    for (int y = 0; y < n; y++) png_write_row(w->png, (png_const_bytep)(rgb + (size_t)y * stride));
    w->rows_done += n;
    return 0;
}

int sg_png_writer_end(sg_png_writer *w, uint8_t **out, size_t *out_len, sg_err *err)
{
    *out = NULL;
    *out_len = 0;
    if (w->failed || w->rows_done != w->height) {
        if (w->failed) writer_failed(w, err);
        else sg_errf(err, "PNG: %d of %d rows given", w->rows_done, w->height);
        sg_png_writer_free(w);
        return -1;
    }
    if (setjmp(png_jmpbuf(w->png))) return writer_failed_free(w, err);
    png_write_end(w->png, NULL);
    *out = w->m.buf;
    *out_len = w->m.len;
    w->m.buf = NULL;
    sg_png_writer_free(w);
    return 0;
}

/* ---- behind a producer --------------------------------------------------------- */

struct sg_png_background {
    sg_png_writer *w;
    const uint8_t *rgb;
    int width, height;
    atomic_int ready;          /* rows declared final */
    atomic_int stop;
    int done;                  /* rows encoded: the thread's while it runs */
    int failed;                /* the thread's writer failed; err says why */
    sg_err err;
    int have_thread;
    sem_t wake;                /* posted at every ready() and at stop */
    pthread_t thread;
};

/* Rows per writer call on the thread: about 32 KB of pixels, so that end()
 * waits for little when it stops the thread mid-chunk. */
static int background_chunk(const sg_png_background *b)
{
    int n = 32768 / (b->width * 3);
    return n < 1 ? 1 : n;
}

static void *background_main(void *arg)
{
    sg_png_background *b = arg;
    struct sched_param sp = { 0 };
    pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);   /* best effort */
    int chunk = background_chunk(b);
    size_t stride = (size_t)b->width * 3;
    while (!atomic_load(&b->stop)) {
        int r = atomic_load(&b->ready);
        if (b->done >= r) {
            sem_wait(&b->wake);   /* EINTR or an old post: look again */
            continue;
        }
        int n = r - b->done < chunk ? r - b->done : chunk;
        if (sg_png_writer_rows(b->w, b->rgb + (size_t)b->done * stride, n, &b->err)) {
            b->failed = 1;
            break;
        }
        b->done += n;
    }
    return NULL;
}

int sg_png_background_begin(sg_png_background **out, const uint8_t *rgb, int width, int height,
                            sg_err *err)
{
    *out = NULL;
    sg_png_background *b = calloc(1, sizeof *b);
    if (!b) return sg_err_sys(err, ENOMEM, ENCODING_FAILED);
    if (sg_png_writer_begin(&b->w, width, height, err)) { free(b); return -1; }
    b->rgb = rgb;
    b->width = width;
    b->height = height;
    atomic_init(&b->ready, 0);
    atomic_init(&b->stop, 0);
    if (sem_init(&b->wake, 0, 0) == 0) {
        b->have_thread = sg_thread_start(&b->thread, background_main, b) == 0;
        if (!b->have_thread) sem_destroy(&b->wake);
    }
    *out = b;
    return 0;
}

void sg_png_background_ready(sg_png_background *b, int rows)
{
    if (rows > b->height) rows = b->height;
    if (rows <= atomic_load(&b->ready)) return;
    atomic_store(&b->ready, rows);   /* after the caller's writes to those rows */
    if (b->have_thread) sem_post(&b->wake);
}

/* Stops the thread after its current chunk and joins it. */
static void background_stop(sg_png_background *b)
{
    if (!b->have_thread) return;
    atomic_store(&b->stop, 1);
    /* back to normal priority for the rest of its chunk where allowed
     * (leaving SCHED_IDLE needs CAP_SYS_NICE or RLIMIT_NICE) */
    struct sched_param sp = { 0 };
    pthread_setschedparam(b->thread, SCHED_OTHER, &sp);
    sem_post(&b->wake);
    pthread_join(b->thread, NULL);
    sem_destroy(&b->wake);
}

void sg_png_background_abort(sg_png_background *b)
{
    if (!b) return;
    background_stop(b);
    sg_png_writer_free(b->w);
    free(b);
}

int sg_png_background_end(sg_png_background *b, uint8_t **out, size_t *out_len, sg_err *err)
{
    *out = NULL;
    *out_len = 0;
    background_stop(b);
    int rc;
    if (b->failed) {
        *err = b->err;
        sg_png_writer_free(b->w);
        rc = -1;
    } else if (sg_png_writer_rows(b->w, b->rgb + (size_t)b->done * b->width * 3, b->height - b->done, err)) {
        sg_png_writer_free(b->w);
        rc = -1;
    } else {
        rc = sg_png_writer_end(b->w, out, out_len, err);
    }
    free(b);
    return rc;
}
