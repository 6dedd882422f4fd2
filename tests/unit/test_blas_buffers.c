/* The CPU backend's limit on sgemm calls at once (lib/backend_cpu.c,
 * blas_sgemm): every OpenBLAS sgemm takes a 128 MiB work buffer from
 * OpenBLAS's table and, when none is free, maps another, retrying for ever
 * when the mapping fails (under ulimit -v). The backend makes 48 buffers at
 * most exist at creation, so a pool of more threads must never run more than
 * 48 calls at once. Here a stand-in sgemm (sg_backend_cpu_test_sgemm) counts
 * the calls inside it while a 128-thread backend convolves 128 images (one
 * sgemm per thread); each call waits there until a 49th arrives or half a
 * second has passed since the first. Without the limit, more than 48 meet at
 * once (tried: the 49th call ended the wait in 3 runs of 3); with it, exactly 48. */
#include "backend.h"
#include "backend_cpu_testing.h"
#include "check.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

enum { THREADS = 128, LIMIT = 48 };

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int inside, most, calls;
    struct timespec deadline;   /* set by the first call */
} meet = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, { 0, 0 } };

static void counting_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                           int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    pthread_mutex_lock(&meet.mu);
    if (meet.calls++ == 0) {
        clock_gettime(CLOCK_REALTIME, &meet.deadline);
        meet.deadline.tv_nsec += 500000000L;
        if (meet.deadline.tv_nsec >= 1000000000L) { meet.deadline.tv_sec++; meet.deadline.tv_nsec -= 1000000000L; }
    }
    if (++meet.inside > meet.most) meet.most = meet.inside;
    pthread_cond_broadcast(&meet.cv);
    while (meet.most <= LIMIT && pthread_cond_timedwait(&meet.cv, &meet.mu, &meet.deadline) == 0) {}
    meet.inside--;
    pthread_mutex_unlock(&meet.mu);
}

int main(void)
{
    sg_err err;
    sg_backend *be = sg_backend_cpu_create(THREADS, &err);
    if (!be) {
        /* 48 buffers of 128 MiB and 128 thread stacks of address space */
        if (err.sys_errno == ENOMEM || err.sys_errno == EAGAIN) SKIP("%s", err.msg);
        else CHECK(0, "cpu backend: %s", err.msg);
        return check_done();
    }
    /* 128 images of 64 channels at 8x8, a 1x1 convolution to 64: one sgemm
     * per image, each thread one image */
    const int N = THREADS, Ci = 64, H = 8, Co = 64;
    float *x = be->ops->alloc(be, (size_t)N * Ci * H * H * sizeof(float));
    float *w = be->ops->alloc(be, (size_t)Co * Ci * sizeof(float));
    float *y = be->ops->alloc(be, (size_t)N * Co * H * H * sizeof(float));
    CHECK(x && w && y, "out of memory for the test's arrays");
    CHECK(sg_backend_cpu_test_sgemm(counting_sgemm) == 0, "OpenBLAS not loaded");
    if (x && w && y) {
        be->ops->conv2d_forward(be, y, x, w, NULL, N, Ci, H, H, Co, 1, 1, 0);
        CHECK(be->ops->sync(be, &err) == 0, "convolution: %s", err.msg);
    }
    sg_backend_cpu_test_sgemm(NULL);
    CHECK(meet.calls == N, "%d sgemm calls for %d images on %d threads (one each expected)", meet.calls, N, THREADS);
    CHECK(meet.most == LIMIT, "%d threads: at most %d sgemm calls at once, expected exactly %d (OpenBLAS's buffers "
          "made at creation)", THREADS, meet.most, LIMIT);
    be->ops->free(be, x); be->ops->free(be, w); be->ops->free(be, y);
    sg_backend_destroy(be);
    return check_done();
}
