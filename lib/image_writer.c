/* Image files written on a background thread (image_writer.h). */
#include "image_writer.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "fileio.h"
#include "image.h"
#include "thread.h"

typedef struct {
    char *path;
    uint8_t *rgb;
    int width, height;
} write_job;

struct sg_image_writer {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    write_job *ring;           /* max_queued slots */
    int max_queued, head, count;
    int finishing;             /* finish() called: exit when the queue is empty */
    int failed;                /* a write failed: err holds why; later jobs are dropped */
    int dropping;              /* abort() called: the jobs left are dropped too */
    sg_err err;
    int unsynced;              /* an image written, its directory not synced (no handler: lib/fileio.h) */
    sg_err unsynced_note;      /* the first such report */
    int have_thread;
    pthread_t thread;
};

static void job_free(write_job *j) { free(j->path); free(j->rgb); }

/* The first report of an image written whose directory did not sync. */
static void note_unsynced(sg_image_writer *w, const sg_err *note)
{
    if (!w->unsynced++) w->unsynced_note = *note;
}

static void *writer_main(void *arg)
{
    sg_image_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->count == 0 && !w->finishing) pthread_cond_wait(&w->not_empty, &w->mu);
        if (w->count == 0) break;
        write_job j = w->ring[w->head];
        w->head = (w->head + 1) % w->max_queued;
        w->count--;
        int failed = w->failed || w->dropping;
        pthread_cond_signal(&w->not_full);
        pthread_mutex_unlock(&w->mu);
        sg_err err = { { 0 } };
        int rc = failed ? 0 : sg_image_write(j.path, j.rgb, j.width, j.height, &err);
        job_free(&j);
        pthread_mutex_lock(&w->mu);
        if (rc == SG_WRITTEN_UNSYNCED) note_unsynced(w, &err);   /* written: the rest go on */
        else if (rc && !w->failed) { w->failed = 1; w->err = err; }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int sg_image_writer_start(sg_image_writer **out, int max_queued, sg_err *err)
{
    *out = NULL;
    sg_image_writer *w = calloc(1, sizeof *w);
    if (max_queued < 1) max_queued = 1;
    if (w) w->ring = calloc((size_t)max_queued, sizeof *w->ring);
    if (!w || !w->ring) { free(w); return sg_err_oom(err, "image writer: out of memory"); }
    w->max_queued = max_queued;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->not_empty, NULL);
    pthread_cond_init(&w->not_full, NULL);
    w->have_thread = sg_thread_start(&w->thread, writer_main, w) == 0;
    *out = w;
    return 0;
}

int sg_image_writer_put(sg_image_writer *w, const char *path, const uint8_t *rgb, int width, int height,
                        sg_err *err)
{
    if (!w->have_thread) {
        if (w->failed) { *err = w->err; return -1; }
        int rc = sg_image_write(path, rgb, width, height, err);
        if (rc == SG_WRITTEN_UNSYNCED) note_unsynced(w, err);
        else if (rc) { w->failed = 1; w->err = *err; return -1; }
        return 0;
    }
    size_t bytes = (size_t)width * height * 3;
    write_job j = { strdup(path), malloc(bytes ? bytes : 1), width, height };
    if (!j.path || !j.rgb) { job_free(&j); return sg_err_oom(err, "%s: out of memory", path); }
    memcpy(j.rgb, rgb, bytes);
    pthread_mutex_lock(&w->mu);
    while (w->count == w->max_queued && !w->failed) pthread_cond_wait(&w->not_full, &w->mu);
    if (w->failed) {
        *err = w->err;
        pthread_mutex_unlock(&w->mu);
        job_free(&j);
        return -1;
    }
    w->ring[(w->head + w->count) % w->max_queued] = j;
    w->count++;
    pthread_cond_signal(&w->not_empty);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

/* Lets the thread end once the queue is empty and joins it; with drop, the
 * jobs still queued are dropped unwritten (as after a failed write). */
static void stop_thread(sg_image_writer *w, int drop)
{
    if (!w->have_thread) return;
    pthread_mutex_lock(&w->mu);
    w->finishing = 1;
    if (drop) w->dropping = 1;
    pthread_cond_signal(&w->not_empty);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
}

static void writer_free(sg_image_writer *w)
{
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->not_empty);
    pthread_cond_destroy(&w->not_full);
    free(w->ring);
    free(w);
}

int sg_image_writer_finish(sg_image_writer *w, sg_err *err)
{
    stop_thread(w, 0);
    int rc = 0;
    if (w->failed) { *err = w->err; rc = -1; }
    else if (w->unsynced) { *err = w->unsynced_note; rc = SG_WRITTEN_UNSYNCED; }
    writer_free(w);
    return rc;
}

void sg_image_writer_abort(sg_image_writer *w)
{
    if (!w) return;
    stop_thread(w, 1);
    writer_free(w);
}
