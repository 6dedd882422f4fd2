/* lib/backend.h's "host staging" rule checked around a backend's ops: an
 * upload from host_alloc memory is in flight until a fence_wait of a slot
 * marked after it, or a sync, and that memory must not change meanwhile.
 * The CPU backend copies at once, so a caller breaking the rule trains on
 * the right data there and on the refilled data on a GPU; here the change
 * is seen when the upload is retired (its bytes kept at the upload are
 * compared) and counted in staging.violations.
 *
 * staging_check_install(be) puts the checking ops on be (one backend at a
 * time), staging_check_remove(be) retires what is left and puts the
 * backend's own ops back. The ops are called on one thread (lib/backend.h);
 * another thread may fill memory no upload in flight was made from. */
#ifndef SG_TEST_STAGING_CHECK_H
#define SG_TEST_STAGING_CHECK_H

#include "backend.h"
#include <stdlib.h>
#include <string.h>

#define STAGING_BLOCKS 16

typedef struct {
    const char *src;
    size_t bytes;
    char *copy;          /* src's bytes at the upload */
    unsigned slots;      /* fence slots marked since the upload (bit per slot) */
} staging_upload;

static struct {
    const sg_backend_ops *own;
    sg_backend_ops ops;
    struct { const char *p; size_t bytes; } blocks[STAGING_BLOCKS];
    int n_blocks;
    staging_upload *up;
    int n_up, cap;
    int violations;          /* memory changed while an upload from it was in flight */
    long long uploads;       /* uploads from host_alloc memory */
    long long fence_retired; /* of those, retired by a fence_wait */
    long long unfenced;      /* of those, retired before any fence was marked after them */
} staging;

static void staging_retire(int i)
{
    staging_upload *u = &staging.up[i];
    if (memcmp(u->copy, u->src, u->bytes) != 0) staging.violations++;
    if (!u->slots) staging.unfenced++;
    free(u->copy);
    staging.up[i] = staging.up[--staging.n_up];
}

static void *staging_host_alloc(sg_backend *be, size_t bytes)
{
    void *p = staging.own->host_alloc(be, bytes);
    if (p && staging.n_blocks < STAGING_BLOCKS) {
        staging.blocks[staging.n_blocks].p = p;
        staging.blocks[staging.n_blocks++].bytes = bytes;
    }
    return p;
}

static void staging_host_free(sg_backend *be, void *p)
{
    for (int b = 0; b < staging.n_blocks; b++) {
        if (staging.blocks[b].p != p) continue;
        for (int i = staging.n_up - 1; i >= 0; i--)   /* freed after its uploads (host_free waits for them) */
            if (staging.up[i].src >= (const char *)p && staging.up[i].src < (const char *)p + staging.blocks[b].bytes)
                staging_retire(i);
        staging.blocks[b] = staging.blocks[--staging.n_blocks];
        break;
    }
    staging.own->host_free(be, p);
}

static void staging_upload_op(sg_backend *be, void *dst, const void *host_src, size_t bytes)
{
    const char *s = host_src;
    for (int b = 0; b < staging.n_blocks && bytes; b++) {
        if (s < staging.blocks[b].p || s >= staging.blocks[b].p + staging.blocks[b].bytes) continue;
        if (staging.n_up == staging.cap) {
            staging.cap = staging.cap ? 2 * staging.cap : 16;
            staging.up = realloc(staging.up, sizeof *staging.up * (size_t)staging.cap);
        }
        staging_upload u = { s, bytes, malloc(bytes), 0 };
        memcpy(u.copy, s, bytes);
        staging.up[staging.n_up++] = u;
        staging.uploads++;
        break;
    }
    staging.own->upload(be, dst, host_src, bytes);
}

static void staging_fence(sg_backend *be, int slot)
{
    if (slot >= 0 && slot < SG_BACKEND_FENCES)
        for (int i = 0; i < staging.n_up; i++) staging.up[i].slots |= 1u << slot;
    staging.own->fence(be, slot);
}

static int staging_fence_wait(sg_backend *be, int slot)
{
    int rc = staging.own->fence_wait(be, slot);
    for (int i = staging.n_up - 1; i >= 0; i--)
        if (slot >= 0 && slot < SG_BACKEND_FENCES && (staging.up[i].slots >> slot & 1)) {
            staging_retire(i);
            staging.fence_retired++;
        }
    return rc;
}

static int staging_sync(sg_backend *be, sg_err *err)
{
    int rc = staging.own->sync(be, err);
    while (staging.n_up) staging_retire(staging.n_up - 1);
    return rc;
}

static void staging_check_install(sg_backend *be)
{
    memset(&staging, 0, sizeof staging);
    staging.own = be->ops;
    staging.ops = *be->ops;
    staging.ops.host_alloc = staging_host_alloc;
    staging.ops.host_free = staging_host_free;
    staging.ops.upload = staging_upload_op;
    staging.ops.fence = staging_fence;
    staging.ops.fence_wait = staging_fence_wait;
    staging.ops.sync = staging_sync;
    be->ops = &staging.ops;
}

static void staging_check_remove(sg_backend *be)
{
    while (staging.n_up) staging_retire(staging.n_up - 1);
    free(staging.up);
    staging.up = NULL;
    staging.cap = 0;
    be->ops = staging.own;
}

#endif
