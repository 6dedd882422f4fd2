/* The CPU backend and OpenBLAS's work buffers (lib/backend_cpu.c, blas_*):
 * every sgemm takes a 128 MiB buffer from OpenBLAS's table and, when none is
 * free, maps another, retrying for ever when the mapping fails. The backend
 * makes its threads' buffers exist at creation (48 at most) and lets at most
 * that many sgemm calls run at once. Here a 128-thread backend convolves 128
 * images (an sgemm of ~0.5 GFLOP per thread) with the address space limited
 * so that no further buffer can be mapped: the result must equal one
 * thread's, and the process must not hang (an alarm fails it). Without the
 * limit on calls at once it hung in 4 runs of 4 (tried). */
#include "backend.h"
#include "check.h"
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

/* VmSize of this process in bytes, or 0 */
static size_t address_space_in_use(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    size_t kib = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %zu kB", &kib) == 1) break;
    fclose(f);
    return kib * 1024;
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "FAIL: the convolution did not finish in 60 s (an sgemm waiting for a buffer?)\n";
    if (write(2, msg, sizeof msg - 1) < 0) {}
    _exit(1);
}

enum { N = 128, Ci = 512, H = 16, Co = 2048, THREADS = 128 };

typedef struct { float *x, *w, *y; } conv_arrays;

/* x (N, Ci, H, H) and w (Co, Ci, 1, 1) uploaded, y (N, Co, H, H) */
static int conv_arrays_make(sg_backend *be, conv_arrays *a, const float *x, const float *w)
{
    size_t nx = (size_t)N * Ci * H * H, nw = (size_t)Co * Ci, ny = (size_t)N * Co * H * H;
    a->x = be->ops->alloc(be, nx * sizeof(float));
    a->w = be->ops->alloc(be, nw * sizeof(float));
    a->y = be->ops->alloc(be, ny * sizeof(float));
    if (!a->x || !a->w || !a->y) return -1;
    be->ops->upload(be, a->x, x, nx * sizeof(float));
    be->ops->upload(be, a->w, w, nw * sizeof(float));
    return 0;
}

/* y = conv(x, w), a 1x1 convolution: one sgemm of Co x H*H x Ci per image,
 * each thread one image, with little scratch (the im2col copy, 1 MiB) */
static int convolve(sg_backend *be, conv_arrays *a, float *y)
{
    be->ops->conv2d_forward(be, a->y, a->x, a->w, NULL, N, Ci, H, H, Co, 1, 1, 0);
    be->ops->download(be, y, a->y, (size_t)N * Co * H * H * sizeof(float));
    sg_err err;
    if (be->ops->sync(be, &err)) { CHECK(0, "convolution: %s", err.msg); return -1; }
    return 0;
}

int main(void)
{
#ifdef SANITIZED
    SKIP("a sanitizer build reserves its own address space: no limit can be set");
    return check_done();
#endif
    sg_err err;
    sg_backend *one = sg_backend_cpu_create(1, &err), *many = sg_backend_cpu_create(THREADS, &err);
    if (!one || !many) { CHECK(0, "cpu backend: %s", err.msg); return check_done(); }
    size_t nx = (size_t)N * Ci * H * H, nw = (size_t)Co * Ci, ny = (size_t)N * Co * H * H;
    float *x = malloc(nx * sizeof(float)), *w = malloc(nw * sizeof(float));
    float *want = malloc(ny * sizeof(float)), *got = malloc(ny * sizeof(float));
    if (!x || !w || !want || !got) { CHECK(0, "out of memory for the test's arrays"); return check_done(); }
    for (size_t i = 0; i < nx; i++) x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    for (size_t i = 0; i < nw; i++) w[i] = (float)((i * 40503u) % 1000) / 5000.0f - 0.1f;
    conv_arrays a1, am;
    if (conv_arrays_make(one, &a1, x, w) || conv_arrays_make(many, &am, x, w)) {
        CHECK(0, "out of memory for the test's arrays");
        return check_done();
    }
    if (convolve(one, &a1, want)) return check_done();

    /* room for the threads' scratch (the im2col copy, 1 MiB each, made in
     * the first call) and a little more, not for one more 128 MiB buffer */
    struct rlimit old, lim;
    getrlimit(RLIMIT_AS, &old);
    size_t in_use = address_space_in_use();
    lim = old;
    lim.rlim_cur = in_use + (size_t)THREADS * ((size_t)Ci * H * H * sizeof(float) + 65536) + 48u * 1024 * 1024;
    if (!in_use || (old.rlim_cur != RLIM_INFINITY && old.rlim_cur < lim.rlim_cur) || setrlimit(RLIMIT_AS, &lim)) {
        SKIP("cannot limit the address space here");
        return check_done();
    }
    signal(SIGALRM, on_alarm);
    alarm(60);
    /* three times: how many calls overlap depends on the scheduler */
    int failed = 0;
    for (int rep = 0; rep < 3 && !failed; rep++) failed = convolve(many, &am, got);
    alarm(0);
    setrlimit(RLIMIT_AS, &old);
    if (!failed) {
        /* the threads split the images differently: sums in another order */
        double worst = 0, ss = 0;
        for (size_t i = 0; i < ny; i++) ss += (double)want[i] * want[i];
        double rms = sqrt(ss / ny);
        for (size_t i = 0; i < ny; i++) {
            double d = fabs((double)got[i] - want[i]) / (fabs(want[i]) + rms);
            if (d > worst) worst = d;
        }
        CHECK(worst < 1e-4, "%d threads, the address space limited to %zu MiB (48 buffers): "
              "worst relative difference to 1 thread %.2g (tolerance 1e-4)", THREADS,
              (size_t)lim.rlim_cur >> 20, worst);
    }
    free(x); free(w); free(want); free(got);
    one->ops->free(one, a1.x); one->ops->free(one, a1.w); one->ops->free(one, a1.y);
    many->ops->free(many, am.x); many->ops->free(many, am.w); many->ops->free(many, am.y);
    sg_backend_destroy(one);
    sg_backend_destroy(many);
    return check_done();
}
