/* The CPU backend (backend.h): float32, convolutions as im2col + OpenBLAS
 * sgemm (Winograd F(2x2,3x3) + sgemm for 3x3 stride-1 convs, direct loops for
 * convs with very few output channels), everything else in plain vector
 * loops, all split over a small pthread pool.
 *
 * Threads: the pool's threads are the only ones; OpenBLAS runs single-threaded
 * inside them (its own spinning threads would compete with the pool's), and
 * is opened with no threads of its own (see blas_open). A conv
 * splits the batch into one contiguous image range per thread, each with its
 * own scratch: one hand-off per op.
 *
 * Determinism: work is split into fixed contiguous ranges per thread and every
 * reduction has one fixed order (per-thread partials summed in thread order,
 * per-plane partials then a serial sum over the batch), so results depend only
 * on the inputs and the thread count (and on what sg_backend_cpu_numerics
 * names: OpenBLAS's kernel, the clones the CPU runs, the compiler flags).
 *
 * Scratch (im2col columns, gathered gradients, partial weight gradients) is
 * grown to the largest size seen and reused: no allocation per iteration.
 *
 * Hot loops are compiled twice (x86-64-v3 = AVX2+FMA, and the baseline) and
 * picked at load time, since the build targets generic x86-64. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif
#include "backend.h"
#include "backend_cpu_testing.h"
#include "thread.h"
#include "version.h"
#include <cblas.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Not under GCC's ThreadSanitizer: the clones' ifunc resolver is instrumented
 * and runs in the dynamic loader, before the TSan runtime exists (a crash
 * before main). Not when the compiler already targets AVX2 (CFLAGS with
 * -march=native or -mavx2): a v3 clone adds little then, and GCC 12 with
 * -march=native on an AVX-512 CPU stops with an internal compiler error on
 * ew_range's clones. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__) && \
    !defined(__AVX2__)
#define SG_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#define SG_HAVE_VECTOR_CLONES 1
#else
#define SG_VECTOR_CLONES
#endif

/* ---- thread pool ------------------------------------------------------- */

/* Runs items [begin, end) on pool thread `thread`. */
typedef void (*range_fn)(void *ctx, size_t begin, size_t end, int thread);

typedef struct {
    int nthreads;                 /* including the calling thread */
    pthread_t *workers;           /* nthreads - 1 */
    pthread_mutex_t mu;
    pthread_cond_t start_cv, done_cv;
    /* written under mu; also read without it (atomically) by a thread that
     * spins before it sleeps (pool_spin) */
    unsigned long generation;
    int pending;                  /* workers still running the current job */
    int quit;
    int spin;                     /* spin before sleeping: no more threads than CPUs */
    range_fn fn;
    void *ctx;
    size_t n;
} thread_pool;

#define MAX_THREADS 256

typedef struct {
    float *cols; size_t cols_cap;   /* im2col columns (rows, nb*HoWo) */
    float *gath; size_t gath_cap;   /* gathered (Co, nb*HoWo) */
    float *part; size_t part_cap;   /* partial weight gradient (dw, db) */
} thread_scratch;

typedef struct {
    thread_pool pool;
    thread_scratch *ts;                       /* per pool thread */
    float *wflip;         size_t wflip_cap;   /* flipped kernel for conv^T as a conv */
    float *wino;          size_t wino_cap;    /* Winograd: transformed weights / weight gradient */
    float *scratch_part;  size_t part_cap;    /* instance norm: per-plane partial sums */
    int failed;
    sg_err first_err;
} cpu_state;

typedef struct { thread_pool *pool; int index; } worker_arg;

static void pool_run_share(thread_pool *p, int t)
{
    size_t b = p->n * (size_t)t / p->nthreads, e = p->n * (size_t)(t + 1) / p->nthreads;
    if (b < e) p->fn(p->ctx, b, e, t);
}

/* Waiting for the next job, or for the workers to finish one, first spins
 * for up to POOL_SPIN_NS before sleeping on the condition variable: ops come
 * one after another a few microseconds apart, and a sleeping thread took
 * 15-40 us to wake up (an add of 40000 floats: 4 us on one thread, 17-44 us
 * split over two), so that small ops cost more split than not. Bounded, and
 * off when there are more threads than CPUs, so a thread that has nothing
 * to do soon gives its CPU back. Only the waiting changes: the work and its
 * split are the same. */
#define POOL_SPIN_NS 50000

static int64_t pool_clock_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Spins until *gen != seen (want_change) or *count == 0 (!want_change), or the
 * time is up; the caller then checks again under the mutex. */
static void pool_spin(const thread_pool *p, const unsigned long *gen, unsigned long seen, const int *count)
{
    if (!p->spin) return;
    int64_t end = 0;
    for (unsigned i = 0;; i++) {
        if (gen ? __atomic_load_n(gen, __ATOMIC_ACQUIRE) != seen || __atomic_load_n(&p->quit, __ATOMIC_ACQUIRE)
                : __atomic_load_n(count, __ATOMIC_ACQUIRE) == 0)
            return;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
        if ((i & 63) == 0) {
            int64_t now = pool_clock_ns();
            if (!end) end = now + POOL_SPIN_NS;
            else if (now >= end) return;
        }
    }
}

static void *pool_worker(void *arg)
{
    worker_arg *wa = arg;
    thread_pool *p = wa->pool;
    int index = wa->index;
    free(wa);
    unsigned long seen = 0;
    for (;;) {
        pool_spin(p, &p->generation, seen, NULL);
        pthread_mutex_lock(&p->mu);
        while (p->generation == seen && !p->quit) pthread_cond_wait(&p->start_cv, &p->mu);
        if (p->quit) break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        pool_run_share(p, index);
        pthread_mutex_lock(&p->mu);
        if (__atomic_sub_fetch(&p->pending, 1, __ATOMIC_RELEASE) == 0) pthread_cond_signal(&p->done_cv);
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* 0, or the error number of the failure (pthread_create's: EAGAIN where the
 * stacks do not fit in memory). cpus: the CPUs the process may use
 * (sg_cpus_usable). */
static int pool_init(thread_pool *p, int nthreads, int cpus)
{
    memset(p, 0, sizeof *p);
    p->nthreads = nthreads;
    /* spinning pays only with a CPU for every thread: more threads than the
     * process may use would spin on the CPUs the others need */
    p->spin = nthreads <= cpus;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    if (nthreads > 1) {
        p->workers = calloc(nthreads - 1, sizeof *p->workers);
        if (!p->workers) { p->nthreads = 1; return ENOMEM; }
    }
    for (int t = 1; t < nthreads; t++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa) { p->nthreads = t; return ENOMEM; }
        wa->pool = p; wa->index = t;
        int e = sg_thread_start(&p->workers[t - 1], pool_worker, wa);
        if (e != 0) { free(wa); p->nthreads = t; return e; }
    }
    return 0;
}

static void pool_destroy(thread_pool *p)
{
    pthread_mutex_lock(&p->mu);
    __atomic_store_n(&p->quit, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&p->start_cv);
    pthread_mutex_unlock(&p->mu);
    for (int t = 1; t < p->nthreads; t++) pthread_join(p->workers[t - 1], NULL);
    free(p->workers);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start_cv);
    pthread_cond_destroy(&p->done_cv);
}

/* Runs fn over [0, n) split into nthreads contiguous ranges; small jobs
 * (work = n * cost_per_item below a threshold) run on the calling thread. */
static void parallel_for(cpu_state *st, size_t n, size_t cost_per_item, range_fn fn, void *ctx)
{
    thread_pool *p = &st->pool;
    if (n == 0) return;
    if (p->nthreads <= 1 || n < 2 || n * cost_per_item < 32768) { fn(ctx, 0, n, 0); return; }
    pthread_mutex_lock(&p->mu);
    p->fn = fn; p->ctx = ctx; p->n = n;
    __atomic_store_n(&p->pending, p->nthreads - 1, __ATOMIC_RELAXED);
    __atomic_store_n(&p->generation, p->generation + 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&p->start_cv);
    pthread_mutex_unlock(&p->mu);
    pool_run_share(p, 0);
    pool_spin(p, NULL, 0, &p->pending);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0) pthread_cond_wait(&p->done_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

/* ---- OpenBLAS ------------------------------------------------------------ */

/* OpenBLAS is opened here, when the first CPU backend is created (or by
 * sg_backend_cpu_prepare), not linked (the Makefile leaves -lopenblas out): its
 * constructor starts a thread per further CPU unless OPENBLAS_NUM_THREADS is
 * set as it runs, threads we never use (sgemm runs single-threaded inside the
 * pool's) that each map a 128 MiB work buffer first thing and retry for ever
 * when they cannot (under ulimit -v); exit() waits for them, so a tool hung
 * after printing its error. Opened with the variable set to 1 it starts none. */
#define BLAS_LIBRARY "libopenblas.so.0"

/* Every sgemm call takes a work buffer from OpenBLAS's table
 * (blas_memory_alloc) and maps a new one when none is free, retrying for ever
 * when the mapping fails: the first sgemm of a run with too little memory
 * hung. The pool makes at most nthreads calls at once, so that many buffers
 * are made to exist at backend creation, before the model's allocations, after
 * checking that they can be mapped. Their size is OpenBLAS 0.3's on x86-64
 * (BUFFER_SIZE 32 << 22 plus FIXED_PAGESIZE: its malloc fallback asks for it). */
#define BLAS_BUFFER_BYTES (((size_t)32 << 22) + 4096)
/* OpenBLAS's table holds at least 50 buffers (NUM_BUFFERS); asking for more
 * than it holds prints to stdout and returns NULL. A pool with more threads
 * than this runs at most this many sgemm calls at once (blas.slots). */
#define BLAS_MAX_RESERVED 48

static struct {
    pthread_mutex_t mu;
    __typeof__(cblas_sgemm) *sgemm;
    void *(*memory_alloc)(int);   /* blas_memory_alloc, blas_memory_free: */
    void (*memory_free)(void *);  /* exported, not in cblas.h */
    int reserved;                 /* buffers known to exist */
    int gated;                    /* the buffers are known: sgemm calls wait for a slot */
    sem_t slots;                  /* value: reserved buffers not in use */
    int open_failed;              /* blas_open failed (open_err): not tried again */
    sg_err open_err;
    sg_sgemm_fn *test_sgemm;      /* sg_backend_cpu_test_sgemm */
    char version[48];             /* from openblas_get_config() ("0.3.21"), or "" */
    char corename[48];            /* openblas_get_corename() ("Haswell"), or "" */
} blas = { .mu = PTHREAD_MUTEX_INITIALIZER };   /* written under mu */

/* cblas_sgemm, run while one of the reserved buffers is free, so that no
 * call makes OpenBLAS map another (which retries for ever when it cannot):
 * only a pool of more than BLAS_MAX_RESERVED threads ever waits here. */
static void blas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m, int n,
                       int k, float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c,
                       int ldc)
{
    if (blas.gated)
        while (sem_wait(&blas.slots) != 0) {}   /* EINTR only */
    if (blas.test_sgemm)
        blas.test_sgemm((int)order, (int)ta, (int)tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else
        blas.sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    if (blas.gated) sem_post(&blas.slots);
}

/* "ulimit -v is N KiB" when the address space is limited, else "" */
static void address_limit_note(char *out, size_t n)
{
    struct rlimit rl;
    out[0] = 0;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        snprintf(out, n, "ulimit -v is %llu KiB", (unsigned long long)rl.rlim_cur / 1024);
}

/* " (QUESTION ulimit -v is N KiB)" for a failure that too little address
 * space may explain, or "" when it is not limited; returns out (n > 0). */
static const char *address_limit_question(const char *question, char *out, size_t n)
{
    char limit[64];
    address_limit_note(limit, sizeof limit);
    if (limit[0]) snprintf(out, n, " (%s %s)", question, limit);
    else out[0] = 0;
    return out;
}

/* Sets blas.sgemm and the rest, or fails. Sets the environment for the
 * moment of the dlopen: callers run it before the process starts other
 * threads (backend.h), so it runs once, failed or not. */
static int blas_open(sg_err *err)
{
    static const char var[] = "OPENBLAS_NUM_THREADS";
    const char *was = getenv(var);
    char *saved = was ? strdup(was) : NULL;
    if ((was && !saved) || setenv(var, "1", 1) != 0) {
        free(saved);
        return sg_err_sys(err, ENOMEM, "cpu backend: cannot load OpenBLAS");
    }
    void *lib = dlopen(BLAS_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    const char *why = lib ? NULL : dlerror();
    if (saved) setenv(var, saved, 1);
    else unsetenv(var);
    free(saved);
    if (!lib) {
        /* out of address space, dlerror says 'failed to map segment from
         * shared object' (and leaves errno alone) */
        char hint[96];
        return sg_errf(err, "cpu backend: cannot load OpenBLAS: %s%s", why ? why : BLAS_LIBRARY,
                       address_limit_question("out of memory?", hint, sizeof hint));
    }
    void (*set_threads)(int) = (void (*)(int))dlsym(lib, "openblas_set_num_threads");
    blas.sgemm = (__typeof__(cblas_sgemm) *)dlsym(lib, "cblas_sgemm");
    blas.memory_alloc = (void *(*)(int))dlsym(lib, "blas_memory_alloc");
    blas.memory_free = (void (*)(void *))dlsym(lib, "blas_memory_free");
    if (!blas.sgemm || !set_threads) {
        const char *missing = blas.sgemm ? "openblas_set_num_threads" : "cblas_sgemm";
        blas.sgemm = NULL;
        return sg_errf(err, "cpu backend: cannot load OpenBLAS: %s has no %s", BLAS_LIBRARY, missing);
    }
    /* already loaded with threads (something else in the process linked it) */
    set_threads(1);
    /* which kernel sgemm runs (picked by CPU, or OPENBLAS_CORETYPE): it sums
     * in its own order (sg_backend_cpu_numerics); older OpenBLAS may lack these */
    char *(*config)(void) = (char *(*)(void))dlsym(lib, "openblas_get_config");
    char *(*corename)(void) = (char *(*)(void))dlsym(lib, "openblas_get_corename");
    const char *cf = config ? config() : NULL, *cn = corename ? corename() : NULL;
    /* "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ...": its second word */
    blas.version[0] = 0;
    if (cf && !strncmp(cf, "OpenBLAS ", 9)) sscanf(cf + 9, "%47s", blas.version);
    snprintf(blas.corename, sizeof blas.corename, "%s", cn ? cn : "");
    blas.gated = blas.memory_alloc && blas.memory_free && sem_init(&blas.slots, 0, 0) == 0;
    return 0;
}

int sg_backend_cpu_prepare(sg_err *err)
{
    pthread_mutex_lock(&blas.mu);
    int rc = 0;
    if (!blas.sgemm && !blas.open_failed && blas_open(&blas.open_err)) blas.open_failed = 1;
    if (blas.open_failed) {
        if (err) *err = blas.open_err;
        rc = -1;
    }
    pthread_mutex_unlock(&blas.mu);
    return rc;
}

/* The clones of the hot loops this CPU runs: the resolver picks the
 * x86-64-v3 ones (AVX2, FMA contracted) where the CPU has it. */
static const char *clones_run(void)
{
#ifdef SG_HAVE_VECTOR_CLONES
    __builtin_cpu_init();
    return __builtin_cpu_supports("x86-64-v3") ? "x86-64-v3 clones" : "x86-64 clones";
#else
    return "no clones";
#endif
}

void sg_backend_cpu_numerics(char *out, size_t n)
{
    pthread_mutex_lock(&blas.mu);
    snprintf(out, n, "OpenBLAS %s%s%s, %s, cflags %s", blas.version[0] ? blas.version : "(version unknown)",
             blas.corename[0] ? " " : "", blas.corename, clones_run(), sg_cflags_id);
    pthread_mutex_unlock(&blas.mu);
}

int sg_backend_cpu_test_sgemm(sg_sgemm_fn *fn)
{
    pthread_mutex_lock(&blas.mu);
    int rc = blas.sgemm ? 0 : -1;
    if (rc == 0) blas.test_sgemm = fn;
    pthread_mutex_unlock(&blas.mu);
    return rc;
}

/* Makes the work buffers of a pool of nthreads exist (one per thread, see
 * BLAS_BUFFER_BYTES), or fails with ENOMEM when they cannot be mapped. */
static int blas_reserve(int nthreads, sg_err *err)
{
    if (!blas.gated) return 0;   /* another allocator: nothing known */
    int n = nthreads < BLAS_MAX_RESERVED ? nthreads : BLAS_MAX_RESERVED;
    int rc = 0;
    if (n > blas.reserved) {
        /* the buffers that do not exist yet must map now; mapped and unmapped
         * again by us first, since OpenBLAS would retry for ever */
        void *probe[BLAS_MAX_RESERVED];
        int mapped = 0, e = 0;
        for (; mapped < n - blas.reserved; mapped++) {
            probe[mapped] = mmap(NULL, BLAS_BUFFER_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (probe[mapped] == MAP_FAILED) { e = errno; break; }
        }
        for (int i = 0; i < mapped; i++) munmap(probe[i], BLAS_BUFFER_BYTES);
        if (mapped < n - blas.reserved) {
            char limit[64];
            address_limit_note(limit, sizeof limit);
            char count[64];
            if (n < nthreads) snprintf(count, sizeof count, "%d for %d threads", n, nthreads);
            else snprintf(count, sizeof count, "%d thread%s", n, n == 1 ? "" : "s");
            rc = sg_err_sys(err, e ? e : ENOMEM,
                            "cpu backend: cannot map OpenBLAS's work buffers (%s x %zu MiB of address space%s%s)",
                            count, BLAS_BUFFER_BYTES >> 20, limit[0] ? "; " : "", limit);
        } else {
            /* held at once, so n distinct buffers; freed, they stay OpenBLAS's.
             * Every slot is taken first, so that no sgemm of another backend
             * holds a buffer meanwhile (OpenBLAS would map one more). */
            for (int i = 0; i < blas.reserved; i++)
                while (sem_wait(&blas.slots) != 0) {}   /* EINTR only */
            void *held[BLAS_MAX_RESERVED];
            for (int i = 0; i < n; i++) held[i] = blas.memory_alloc(0);
            for (int i = 0; i < n; i++) if (held[i]) blas.memory_free(held[i]);
            for (int i = 0; i < n; i++) sem_post(&blas.slots);
            blas.reserved = n;
        }
    }
    return rc;
}

/* ---- errors and memory -------------------------------------------------- */

static cpu_state *state(sg_backend *be) { return be->impl; }

static void cpu_fail_errno(sg_backend *be, int e, const char *fmt, va_list ap)
{
    cpu_state *st = state(be);
    if (st->failed) return;
    st->failed = 1;
    vsnprintf(st->first_err.msg, sizeof st->first_err.msg, fmt, ap);
    st->first_err.sys_errno = e;
}

static void cpu_fail(sg_backend *be, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cpu_fail(sg_backend *be, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cpu_fail_errno(be, 0, fmt, ap);
    va_end(ap);
}

/* cpu_fail for memory not had: ENOMEM in sys_errno, so that a caller can
 * say what to lower (sg_err_oom's convention) */
static void cpu_fail_oom(sg_backend *be, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cpu_fail_oom(sg_backend *be, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cpu_fail_errno(be, ENOMEM, fmt, ap);
    va_end(ap);
}

static float *grow(sg_backend *be, float **buf, size_t *cap, size_t n)
{
    if (n <= *cap) return *buf;
    float *p = realloc(*buf, n * sizeof(float));
    if (!p) { cpu_fail_oom(be, "cpu backend: out of memory for %zu bytes of scratch", n * sizeof(float)); return NULL; }
    *buf = p; *cap = n;
    return p;
}

static void cpu_destroy(sg_backend *be)
{
    if (!be) return;
    cpu_state *st = state(be);
    if (st) {
        pool_destroy(&st->pool);
        for (int t = 0; st->ts && t < st->pool.nthreads; t++) {
            free(st->ts[t].cols); free(st->ts[t].gath); free(st->ts[t].part);
        }
        free(st->ts); free(st->wflip); free(st->wino); free(st->scratch_part);
        free(st);
    }
    free(be);
}

static int cpu_sync(sg_backend *be, sg_err *err)
{
    cpu_state *st = state(be);
    if (!st->failed) return 0;
    if (err) *err = st->first_err;
    st->failed = 0;
    return -1;
}

static void *cpu_alloc(sg_backend *be, size_t bytes)
{
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) cpu_fail_oom(be, "cpu backend: out of memory allocating %zu bytes", bytes);
    return p;
}
static void cpu_free(sg_backend *be, void *p) { free(p); }
static void cpu_memcpy(sg_backend *be, void *dst, const void *src, size_t bytes)
{
    if (bytes && dst != src) memmove(dst, src, bytes);
}
static void cpu_memzero(sg_backend *be, void *p, size_t bytes) { if (bytes) memset(p, 0, bytes); }
static void cpu_fill(sg_backend *be, float *p, float value, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = value;
}

/* ---- convolution ---------------------------------------------------------- */

/* Shapes of one conv call: x (N,Ci,H,W), w (Co,Ci,K,K), y (N,Co,Ho,Wo). */
typedef struct {
    int N, Ci, H, W, Co, K, stride, pad, Ho, Wo;
    size_t rows, howo;   /* Ci*K*K, Ho*Wo */
} conv_shape;

static conv_shape make_shape(int N, int Ci, int H, int W, int Co, int K, int stride, int pad)
{
    conv_shape c = { N, Ci, H, W, Co, K, stride, pad, (H + 2 * pad - K) / stride + 1,
                     (W + 2 * pad - K) / stride + 1, 0, 0 };
    c.rows = (size_t)Ci * K * K;
    c.howo = (size_t)c.Ho * c.Wo;
    return c;
}

/* First and one-past-last output index o with 0 <= o*s - p + k < size. */
static inline void valid_range(int k, int s, int p, int size, int osize, int *lo, int *hi)
{
    int a = p - k;                                  /* o*s >= a */
    int l = a <= 0 ? 0 : (a + s - 1) / s;
    int b = size - 1 + p - k;                       /* o*s <= b */
    int h = b < 0 ? 0 : b / s + 1;
    if (h > osize) h = osize;
    if (l > h) l = h;
    *lo = l; *hi = h;
}

/* cols (rows, nb*howo) from x (nb, Ci, H, W): row (ci,kh,kw), column (image, oy, ox). */
SG_VECTOR_CLONES
static void im2col(const conv_shape *c, const float *x, float *cols, int nb)
{
    int K = c->K, s = c->stride, p = c->pad, H = c->H, W = c->W, Ho = c->Ho, Wo = c->Wo;
    size_t ld = c->howo * nb;
    for (int ci = 0; ci < c->Ci; ci++)
        for (int kh = 0; kh < K; kh++) {
            int oy_lo, oy_hi;
            valid_range(kh, s, p, H, Ho, &oy_lo, &oy_hi);
            for (int kw = 0; kw < K; kw++) {
                int ox_lo, ox_hi;
                valid_range(kw, s, p, W, Wo, &ox_lo, &ox_hi);
                float *row = cols + ((size_t)(ci * K + kh) * K + kw) * ld;
                for (int i = 0; i < nb; i++) {
                    const float *xc = x + ((size_t)i * c->Ci + ci) * H * W;
                    float *dst = row + i * c->howo;
                    for (int oy = 0; oy < Ho; oy++) {
                        float *d = dst + (size_t)oy * Wo;
                        if (oy < oy_lo || oy >= oy_hi) { memset(d, 0, Wo * sizeof(float)); continue; }
                        const float *src = xc + (ptrdiff_t)(oy * s - p + kh) * W - p + kw;
                        for (int ox = 0; ox < ox_lo; ox++) d[ox] = 0;
                        if (s == 1) memcpy(d + ox_lo, src + ox_lo, (ox_hi - ox_lo) * sizeof(float));
                        else for (int ox = ox_lo; ox < ox_hi; ox++) d[ox] = src[ox * s];
                        for (int ox = ox_hi; ox < Wo; ox++) d[ox] = 0;
                    }
                }
            }
        }
}

/* dx (nb, Ci, H, W) = the columns summed back into place (overwrites dx). */
SG_VECTOR_CLONES
static void col2im(const conv_shape *c, const float *cols, float *dx, int nb)
{
    int K = c->K, s = c->stride, p = c->pad, H = c->H, W = c->W, Ho = c->Ho, Wo = c->Wo;
    size_t ld = c->howo * nb;
    memset(dx, 0, (size_t)nb * c->Ci * H * W * sizeof(float));
    for (int ci = 0; ci < c->Ci; ci++)
        for (int kh = 0; kh < K; kh++) {
            int oy_lo, oy_hi;
            valid_range(kh, s, p, H, Ho, &oy_lo, &oy_hi);
            for (int kw = 0; kw < K; kw++) {
                int ox_lo, ox_hi;
                valid_range(kw, s, p, W, Wo, &ox_lo, &ox_hi);
                const float *row = cols + ((size_t)(ci * K + kh) * K + kw) * ld;
                for (int i = 0; i < nb; i++) {
                    float *xc = dx + ((size_t)i * c->Ci + ci) * H * W;
                    const float *srcrow = row + i * c->howo;
                    for (int oy = oy_lo; oy < oy_hi; oy++) {
                        const float *cr = srcrow + (size_t)oy * Wo;
                        float *d = xc + (ptrdiff_t)(oy * s - p + kh) * W - p + kw;
                        if (s == 1) for (int ox = ox_lo; ox < ox_hi; ox++) d[ox] += cr[ox];
                        else for (int ox = ox_lo; ox < ox_hi; ox++) d[ox * s] += cr[ox];
                    }
                }
            }
        }
}

/* Between (nb, C, howo) and the gathered layout (C, nb*howo). */
static void gather(float *g, const float *y, int nb, int C, size_t howo)
{
    for (int c = 0; c < C; c++)
        for (int i = 0; i < nb; i++)
            memcpy(g + ((size_t)c * nb + i) * howo, y + ((size_t)i * C + c) * howo, howo * sizeof(float));
}
static void scatter(float *y, const float *g, int nb, int C, size_t howo)
{
    for (int c = 0; c < C; c++)
        for (int i = 0; i < nb; i++)
            memcpy(y + ((size_t)i * C + c) * howo, g + ((size_t)c * nb + i) * howo, howo * sizeof(float));
}

/* Convs with this few output channels (G's last conv: 3) run as direct loops:
 * a GEMM with M = Co that small wastes most of each micro-kernel, and the
 * im2col copy (Ci*K*K rows) would cost more than the arithmetic. */
static int direct_conv(const conv_shape *c) { return c->stride == 1 && c->Co <= 4 && c->K > 1 && c->K <= 8; }

/* 8 floats; the helpers are always inlined, so no vector crosses a call */
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float v8sf __attribute__((vector_size(32)));
typedef int v8si __attribute__((vector_size(32)));     /* comparison results: lanes 0 or -1 */
static inline v8sf v8_load(const float *p) { v8sf v; memcpy(&v, p, sizeof v); return v; }
static inline void v8_store(float *p, v8sf v) { memcpy(p, &v, sizeof v); }
static inline v8sf v8_set1(float a) { return (v8sf){ a, a, a, a, a, a, a, a }; }
/* fixed-order horizontal sum */
static inline float v8_sum(v8sf v)
{
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

/* The direct loops work on rows of Wo8 = Wo rounded up to 8 outputs: x is
 * copied zero-padded to (Ci, H+2p, Wo8+K-1), so every vector load is in bounds
 * and the extra outputs are dropped (or, for dy, padded with zeros). */
static size_t direct_padded_floats(const conv_shape *c)
{
    size_t wo8 = (c->Wo + 7) & ~(size_t)7;
    return (size_t)c->Ci * (c->H + 2 * c->pad) * (wo8 + c->K - 1) + (size_t)c->Co * c->Ho * wo8 + 8;
}

static void pad_image(const conv_shape *c, const float *x, float *xpad, int rs)
{
    int Hp = c->H + 2 * c->pad;
    memset(xpad, 0, (size_t)c->Ci * Hp * rs * sizeof(float));
    for (int ci = 0; ci < c->Ci; ci++)
        for (int iy = 0; iy < c->H; iy++)
            memcpy(xpad + ((size_t)ci * Hp + iy + c->pad) * rs + c->pad, x + ((size_t)ci * c->H + iy) * c->W,
                   c->W * sizeof(float));
}

/* y (Co, Ho, Wo) = conv(x (Ci, H, W)) + bias, stride 1, one image. CO: Co as
 * a constant after inlining, so the accumulators stay in registers. */
static inline __attribute__((always_inline))
void direct_forward_co(const conv_shape *c, float *y, const float *x, const float *w,
                       const float *bias, float *scratch, const int CO)
{
    int K = c->K, Ci = c->Ci, Hp = c->H + 2 * c->pad, Ho = c->Ho, Wo = c->Wo;
    int wo8 = (Wo + 7) & ~7, rs = wo8 + K - 1, nv = wo8 / 8;
    float *xpad = scratch, *row = scratch + (size_t)Ci * Hp * rs;   /* row: (CO, wo8) */
    pad_image(c, x, xpad, rs);
    for (int oy = 0; oy < Ho; oy++) {
        for (int v0 = 0; v0 < nv; v0 += 4) {
            int NV = nv - v0 < 4 ? nv - v0 : 4;
            v8sf acc[4][4];
            for (int co = 0; co < CO; co++)
                for (int v = 0; v < 4; v++) acc[co][v] = v8_set1(bias ? bias[co] : 0);
            for (int ci = 0; ci < Ci; ci++)
                for (int kh = 0; kh < K; kh++) {
                    const float *xr = xpad + ((size_t)ci * Hp + oy + kh) * rs + v0 * 8;
                    const float *wr = w + ((size_t)ci * K + kh) * K;
                    for (int kw = 0; kw < K; kw++) {
                        v8sf wv[4];
                        for (int co = 0; co < CO; co++) wv[co] = v8_set1(wr[(size_t)co * Ci * K * K + kw]);
                        if (NV == 4) {
                            v8sf x0 = v8_load(xr + kw), x1 = v8_load(xr + kw + 8);
                            v8sf x2 = v8_load(xr + kw + 16), x3 = v8_load(xr + kw + 24);
                            for (int co = 0; co < CO; co++) {
                                acc[co][0] += wv[co] * x0; acc[co][1] += wv[co] * x1;
                                acc[co][2] += wv[co] * x2; acc[co][3] += wv[co] * x3;
                            }
                        } else
                            for (int v = 0; v < NV; v++) {
                                v8sf xv = v8_load(xr + kw + 8 * v);
                                for (int co = 0; co < CO; co++) acc[co][v] += wv[co] * xv;
                            }
                    }
                }
            for (int co = 0; co < CO; co++)
                for (int v = 0; v < NV; v++) v8_store(row + (size_t)co * wo8 + (v0 + v) * 8, acc[co][v]);
        }
        for (int co = 0; co < CO; co++)
            memcpy(y + ((size_t)co * Ho + oy) * Wo, row + (size_t)co * wo8, Wo * sizeof(float));
    }
}

SG_VECTOR_CLONES
static void direct_forward_image(const conv_shape *c, float *y, const float *x, const float *w,
                                 const float *bias, float *scratch)
{
    switch (c->Co) {
    case 1: direct_forward_co(c, y, x, w, bias, scratch, 1); break;
    case 2: direct_forward_co(c, y, x, w, bias, scratch, 2); break;
    case 3: direct_forward_co(c, y, x, w, bias, scratch, 3); break;
    default: direct_forward_co(c, y, x, w, bias, scratch, 4); break;
    }
}

/* dw (Co, Ci, K, K) += corr(x (Ci, H, W), dy (Co, Ho, Wo)), stride 1, one image. */
SG_VECTOR_CLONES
static void direct_filter_image(const conv_shape *c, float *dw, const float *x, const float *dy,
                                float *scratch)
{
    int K = c->K, Ci = c->Ci, Hp = c->H + 2 * c->pad, Ho = c->Ho, Wo = c->Wo;
    int wo8 = (Wo + 7) & ~7, rs = wo8 + K - 1, nv = wo8 / 8;
    float *xpad = scratch, *dyp = scratch + (size_t)Ci * Hp * rs;    /* dyp: (Co, Ho, wo8) */
    pad_image(c, x, xpad, rs);
    memset(dyp, 0, (size_t)c->Co * Ho * wo8 * sizeof(float));
    for (int co = 0; co < c->Co; co++)
        for (int oy = 0; oy < Ho; oy++)
            memcpy(dyp + ((size_t)co * Ho + oy) * wo8, dy + ((size_t)co * Ho + oy) * Wo, Wo * sizeof(float));
    for (int co = 0; co < c->Co; co++)
        for (int ci = 0; ci < Ci; ci++)
            for (int kh = 0; kh < K; kh++) {
                v8sf acc[8];
                for (int kw = 0; kw < 8; kw++) acc[kw] = v8_set1(0);
                for (int oy = 0; oy < Ho; oy++) {
                    const float *xr = xpad + ((size_t)ci * Hp + oy + kh) * rs;
                    const float *dr = dyp + ((size_t)co * Ho + oy) * wo8;
                    for (int v = 0; v < nv; v++) {
                        v8sf d = v8_load(dr + 8 * v);
                        for (int kw = 0; kw < K; kw++) acc[kw] += d * v8_load(xr + 8 * v + kw);
                    }
                }
                float *dwk = dw + (((size_t)co * Ci + ci) * K + kh) * K;
                for (int kw = 0; kw < K; kw++) dwk[kw] += v8_sum(acc[kw]);
            }
}

/* ---- Winograd F(2x2, 3x3) for the 3x3 stride-1 pad-1 convs ----------------
 * (G's residual blocks: most of the training step.) Per 2x2 output tile, with
 * d the 4x4 input patch and g a 3x3 kernel: Y = A^T [(G g G^T) (.) (B^T d B)] A,
 * so a conv is 16 GEMMs (Co x Ci) x (Ci x tiles) between an input and an
 * output transform: 2.25x fewer multiplications than im2col + GEMM. The
 * weight gradient is the same in reverse: dU = sum over tiles of
 * (A dY A^T) (.) (B^T d B), then dg = G^T dU G.
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
 *   A^T = [1 1 1 0; 0 1 -1 -1] */
static int winograd_conv(const conv_shape *c)
{
    return c->K == 3 && c->stride == 1 && c->pad == 1 && c->Ci >= 8 && c->Co >= 8;
}

typedef struct { int th, tw; size_t tiles; } wino_tiles;   /* tiles per image */
static wino_tiles wino_tiling(const conv_shape *c)
{
    wino_tiles t = { (c->Ho + 1) / 2, (c->Wo + 1) / 2, 0 };
    t.tiles = (size_t)t.th * t.tw;
    return t;
}

/* U (16, Co, Ci) = G g G^T for kernels [k0, k1) of w (Co, Ci, 3, 3) (plane =
 * Co*Ci kernels). Eight kernels at a time in vector lanes: every lane computes
 * the same expressions as the scalar tail, in the same order, so the bits do
 * not depend on the split. The x86-64-v3 clone fuses some of them into FMAs,
 * but every product is by 0.5, which is exact (weights are never subnormal),
 * so fused or not gives the same bits. */
typedef struct { float *U; const float *w; size_t plane; } wino_weights_args;

SG_VECTOR_CLONES
static void wino_weights_range(void *ctx, size_t k0, size_t k1, int thread)
{
    const wino_weights_args *a = ctx;
    float *U = a->U;
    const float *w = a->w;
    size_t plane = a->plane, k = k0;
    v8sf half = v8_set1(0.5f);
    for (; k + 8 <= k1; k += 8) {
        float in[72];
        memcpy(in, w + k * 9, sizeof in);
        v8sf g[9], t[4][3];
        for (int j = 0; j < 9; j++)
            for (int l = 0; l < 8; l++) g[j][l] = in[l * 9 + j];
        for (int j = 0; j < 3; j++) {
            t[0][j] = g[j];
            t[1][j] = half * (g[j] + g[3 + j] + g[6 + j]);
            t[2][j] = half * (g[j] - g[3 + j] + g[6 + j]);
            t[3][j] = g[6 + j];
        }
        for (int i = 0; i < 4; i++) {
            float *u = U + (size_t)(4 * i) * plane + k;
            v8_store(u, t[i][0]);
            v8_store(u + plane, half * (t[i][0] + t[i][1] + t[i][2]));
            v8_store(u + 2 * plane, half * (t[i][0] - t[i][1] + t[i][2]));
            v8_store(u + 3 * plane, t[i][2]);
        }
    }
    for (; k < k1; k++) {
        const float *g = w + k * 9;
        float t[4][3], u[4][4];
        for (int j = 0; j < 3; j++) {
            t[0][j] = g[j];
            t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
            t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
            t[3][j] = g[6 + j];
        }
        for (int i = 0; i < 4; i++) {
            u[i][0] = t[i][0];
            u[i][1] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
            u[i][2] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
            u[i][3] = t[i][2];
        }
        for (int xi = 0; xi < 16; xi++) U[xi * plane + k] = u[xi / 4][xi % 4];
    }
}

/* U (16, Co, Ci) = G g G^T for every kernel g of w (Co, Ci, 3, 3), split over
 * the threads (it ran on one while the other waited: a tenth of sg-sample's
 * time at 32 px). */
static void wino_weights(cpu_state *st, float *U, const float *w, int Co, int Ci)
{
    wino_weights_args a = { U, w, (size_t)Co * Ci };
    parallel_for(st, a.plane, 64, wino_weights_range, &a);
}

/* Floats of wino_input's work area: one zero-padded plane, the four combined
 * rows of one row of tiles, and the plane's even/odd elements (16, tiles). */
static size_t wino_input_scratch(const wino_tiles *tl)
{
    size_t L = 2 * (size_t)tl->tw + 2;
    return (2 * (size_t)tl->th + 2) * L + 4 * L + 16 * tl->tiles + 16;
}

/* V (16, Ci, P) = B^T d B for the tiles of nb images of x (nb, Ci, H, W);
 * P = nb * tiles, column = image * tiles + tile. The row part of B^T d B
 * combines four padded rows into R0 = r0 - r2, R1 = r1 + r2, R2 = r2 - r1,
 * R3 = r1 - r3, and the column part reads each R as its even and odd
 * elements E, O: for tile t of the row
 *   V[4a+0] = E[t] - E[t+1], V[4a+1] = O[t] + E[t+1],
 *   V[4a+2] = E[t+1] - O[t], V[4a+3] = O[t] - O[t+1].
 * E[t], E[t+1], O[t], O[t+1] of every tile of the plane are gathered first
 * (G below), so that the last step runs in vectors over all the plane's
 * tiles (the 8x8 maps of a 32 px generator have rows of only 4 tiles) and
 * writes each V plane in one contiguous run. */
SG_VECTOR_CLONES
static void wino_input(const conv_shape *c, const wino_tiles *tl, const float *x, float *V, int nb,
                       float *work)
{
    size_t P = (size_t)nb * tl->tiles, stride = (size_t)c->Ci * P, T = tl->tiles;
    int H = c->H, W = c->W, tw = tl->tw, L = 2 * tw + 2, Hp = 2 * tl->th + 2;
    float *pad = work, *R = pad + (size_t)Hp * L, *G = R + 4 * (size_t)L;   /* G: (4a+q, T) */
    memset(pad, 0, (size_t)Hp * L * sizeof(float));
    for (int i = 0; i < nb; i++)
        for (int ci = 0; ci < c->Ci; ci++) {
            const float *xc = x + ((size_t)i * c->Ci + ci) * H * W;
            for (int yy = 0; yy < H; yy++) memcpy(pad + (size_t)(yy + 1) * L + 1, xc + (size_t)yy * W, W * sizeof(float));
            for (int ty = 0; ty < tl->th; ty++) {
                const float *r0 = pad + (size_t)2 * ty * L, *r1 = r0 + L, *r2 = r1 + L, *r3 = r2 + L;
                int k = 0;
                for (; k + 8 <= L; k += 8) {
                    v8sf a0 = v8_load(r0 + k), a1 = v8_load(r1 + k), a2 = v8_load(r2 + k), a3 = v8_load(r3 + k);
                    v8_store(R + k, a0 - a2);
                    v8_store(R + L + k, a1 + a2);
                    v8_store(R + 2 * L + k, a2 - a1);
                    v8_store(R + 3 * L + k, a1 - a3);
                }
                for (; k < L; k++) {
                    R[k] = r0[k] - r2[k];
                    R[L + k] = r1[k] + r2[k];
                    R[2 * L + k] = r2[k] - r1[k];
                    R[3 * L + k] = r1[k] - r3[k];
                }
                for (int a = 0; a < 4; a++) {
                    const float *restrict Ra = R + (size_t)a * L;
                    float *restrict e0 = G + (size_t)(4 * a) * T + (size_t)ty * tw, *restrict e1 = e0 + T;
                    float *restrict o0 = e1 + T, *restrict o1 = o0 + T;
                    for (int t = 0; t < tw; t++) {
                        e0[t] = Ra[2 * t];
                        e1[t] = Ra[2 * t + 2];
                        o0[t] = Ra[2 * t + 1];
                        o1[t] = Ra[2 * t + 3];
                    }
                }
            }
            float *v = V + (size_t)ci * P + (size_t)i * T;
            for (int a = 0; a < 4; a++) {
                const float *e0 = G + (size_t)(4 * a) * T, *e1 = e0 + T, *o0 = e1 + T, *o1 = o0 + T;
                float *v0 = v + (4 * a) * stride, *v1 = v0 + stride, *v2 = v1 + stride, *v3 = v2 + stride;
                size_t t = 0;
                for (; t + 8 <= T; t += 8) {
                    v8sf E0 = v8_load(e0 + t), E1 = v8_load(e1 + t), O0 = v8_load(o0 + t), O1 = v8_load(o1 + t);
                    v8_store(v0 + t, E0 - E1);
                    v8_store(v1 + t, O0 + E1);
                    v8_store(v2 + t, E1 - O0);
                    v8_store(v3 + t, O0 - O1);
                }
                for (; t < T; t++) {
                    v0[t] = e0[t] - e1[t];
                    v1[t] = o0[t] + e1[t];
                    v2[t] = e1[t] - o0[t];
                    v3[t] = o0[t] - o1[t];
                }
            }
            /* the next plane overwrites the interior; the border stays zero */
        }
}

/* Floats of the output-side work areas: eight rows of tw. */
static size_t wino_output_scratch(const wino_tiles *tl) { return 8 * ((size_t)tl->tw + 8) + 2 * ((size_t)2 * tl->tw + 8); }

/* y (nb, Co, Ho, Wo) = A^T m A (+ bias) from M (16, Co, P), vectorized along
 * a row of tiles: rows r0[b] = m[b] + m[4+b] + m[8+b], r1[b] = m[4+b] - m[8+b]
 * - m[12+b], then outputs (2t, 2t+1) = (r[0] + r[1] + r[2], r[1] - r[2] - r[3]). */
SG_VECTOR_CLONES
static void wino_output(const conv_shape *c, const wino_tiles *tl, const float *M, float *y,
                        const float *bias, int nb, float *work)
{
    size_t P = (size_t)nb * tl->tiles, stride = (size_t)c->Co * P;
    int Ho = c->Ho, Wo = c->Wo, tw = tl->tw;
    float *r = work;                          /* r[q*tw + t], q = 4*row + b, rows 0..1 */
    for (int i = 0; i < nb; i++)
        for (int co = 0; co < c->Co; co++) {
            const float *m = M + (size_t)co * P + (size_t)i * tl->tiles;
            float *yc = y + ((size_t)i * c->Co + co) * Ho * Wo, bv = bias ? bias[co] : 0;
            for (int ty = 0; ty < tl->th; ty++) {
                const float *mt = m + (size_t)ty * tw;
                for (int bb = 0; bb < 4; bb++) {
                    const float *m0 = mt + bb * stride, *m1 = m0 + 4 * stride, *m2 = m1 + 4 * stride, *m3 = m2 + 4 * stride;
                    float *q0 = r + (size_t)bb * tw, *q1 = r + (size_t)(4 + bb) * tw;
                    for (int t = 0; t < tw; t++) {
                        q0[t] = m0[t] + m1[t] + m2[t];
                        q1[t] = m1[t] - m2[t] - m3[t];
                    }
                }
                for (int row = 0; row < 2; row++) {
                    int oy = 2 * ty + row;
                    if (oy >= Ho) break;
                    const float *q = r + (size_t)4 * row * tw;
                    float *yr = yc + (size_t)oy * Wo;
                    int full = Wo / 2;   /* tiles whose two outputs are both inside */
                    for (int t = 0; t < full; t++) {
                        yr[2 * t] = q[t] + q[tw + t] + q[2 * tw + t] + bv;
                        yr[2 * t + 1] = q[tw + t] - q[2 * tw + t] - q[3 * tw + t] + bv;
                    }
                    if (Wo & 1) yr[Wo - 1] = q[full] + q[tw + full] + q[2 * tw + full] + bv;
                }
            }
        }
}

/* D (16, Co, P) = A dY A^T from the 2x2 tiles of dy (nb, Co, Ho, Wo), zero
 * outside the output; along a row of tiles: rows t = (e0, e0 + e1, e0 - e1,
 * -e1), then from each row's even/odd elements E, O: (E, E + O, E - O, -O). */
SG_VECTOR_CLONES
static void wino_grad_output(const conv_shape *c, const wino_tiles *tl, const float *dy, float *D, int nb,
                             float *work)
{
    size_t P = (size_t)nb * tl->tiles, stride = (size_t)c->Co * P;
    int Ho = c->Ho, Wo = c->Wo, tw = tl->tw, L = 2 * tw;
    float *e0 = work, *e1 = e0 + L + 8, *E = work + 2 * ((size_t)L + 8), *O = E + tw + 8;
    memset(e0, 0, 2 * ((size_t)L + 8) * sizeof(float));
    for (int i = 0; i < nb; i++)
        for (int co = 0; co < c->Co; co++) {
            const float *g = dy + ((size_t)i * c->Co + co) * Ho * Wo;
            float *dd = D + (size_t)co * P + (size_t)i * tl->tiles;
            for (int ty = 0; ty < tl->th; ty++) {
                memcpy(e0, g + (size_t)2 * ty * Wo, Wo * sizeof(float));
                if (2 * ty + 1 < Ho) memcpy(e1, g + (size_t)(2 * ty + 1) * Wo, Wo * sizeof(float));
                else memset(e1, 0, Wo * sizeof(float));
                float *dt = dd + (size_t)ty * tw;
                for (int a = 0; a < 4; a++) {
                    for (int k = 0; k < tw; k++) {
                        float x0 = e0[2 * k], x1 = e0[2 * k + 1], z0 = e1[2 * k], z1 = e1[2 * k + 1];
                        E[k] = a == 0 ? x0 : a == 1 ? x0 + z0 : a == 2 ? x0 - z0 : -z0;
                        O[k] = a == 0 ? x1 : a == 1 ? x1 + z1 : a == 2 ? x1 - z1 : -z1;
                    }
                    float *d0 = dt + (4 * a) * stride, *d1 = d0 + stride, *d2 = d1 + stride, *d3 = d2 + stride;
                    for (int k = 0; k < tw; k++) {
                        d0[k] = E[k];
                        d1[k] = E[k] + O[k];
                        d2[k] = E[k] - O[k];
                        d3[k] = -O[k];
                    }
                }
            }
        }
}

/* The transforms' work area after V in a thread's columns buffer (they run one
 * after the other). */
static size_t wino_work(const wino_tiles *tl)
{
    size_t a = wino_input_scratch(tl), b = wino_output_scratch(tl);
    return a > b ? a : b;
}

/* dw (Co, Ci, 3, 3) += G^T dU G for dU (16, Co, Ci). */
static void wino_weight_grad(float *dw, const float *dU, int Co, int Ci)
{
    size_t plane = (size_t)Co * Ci;
    for (size_t k = 0; k < plane; k++) {
        float u[4][4], t[3][4];
        for (int xi = 0; xi < 16; xi++) u[xi / 4][xi % 4] = dU[xi * plane + k];
        for (int b = 0; b < 4; b++) {
            t[0][b] = u[0][b] + 0.5f * (u[1][b] + u[2][b]);
            t[1][b] = 0.5f * (u[1][b] - u[2][b]);
            t[2][b] = 0.5f * (u[1][b] + u[2][b]) + u[3][b];
        }
        float *g = dw + k * 9;
        for (int a = 0; a < 3; a++) {
            g[3 * a + 0] += t[a][0] + 0.5f * (t[a][1] + t[a][2]);
            g[3 * a + 1] += 0.5f * (t[a][1] - t[a][2]);
            g[3 * a + 2] += 0.5f * (t[a][1] + t[a][2]) + t[a][3];
        }
    }
}

/* Images per Winograd chunk: the transformed tiles (16 x max(Ci, Co) x P)
 * stay below ~4M floats. */
static int wino_chunk(const cpu_state *st, const conv_shape *c, const wino_tiles *tl)
{
    int T = st->pool.nthreads, per_thread = (c->N + T - 1) / T;
    size_t ch = c->Ci > c->Co ? c->Ci : c->Co, per = 16 * ch * tl->tiles, cap = (size_t)4 << 20;
    size_t nb = cap / per;
    if (nb < 1) nb = 1;
    if (nb > (size_t)per_thread) nb = per_thread;
    return (int)nb;
}

typedef struct {
    cpu_state *st;
    conv_shape c;
    const float *x, *w, *bias, *dy;
    float *y, *dx;
    int want_db;        /* backward filter: also the bias gradient */
    int db_only;        /* backward filter: the bias gradient alone (no dw, x unused) */
    const float *U;     /* Winograd: transformed weights (16, Co, Ci) */
    int nb;             /* images per chunk */
    size_t part_len;    /* backward filter: floats per thread partial (dw then db) */
} conv_job;

/* Images per chunk for one thread. One image when its output plane is large
 * enough for an efficient GEMM (its columns then stay in cache, and no
 * gather/scatter is needed); else as many as keep the columns below ~4M floats. */
static int conv_chunk(const cpu_state *st, const conv_shape *c)
{
    if (c->howo >= 256) return 1;
    int T = st->pool.nthreads, per_thread = (c->N + T - 1) / T;
    size_t per = c->rows * c->howo, cap = (size_t)4 << 20;
    size_t nb = per ? cap / per : (size_t)per_thread;
    if (nb < 1) nb = 1;
    if (nb > (size_t)per_thread) nb = per_thread;
    return (int)nb;
}

/* Grows every thread's scratch before the threads start (no allocation inside them). */
static int grow_thread_scratch(sg_backend *be, size_t cols, size_t gath, size_t part)
{
    cpu_state *st = state(be);
    for (int t = 0; t < st->pool.nthreads; t++) {
        thread_scratch *ts = &st->ts[t];
        if ((cols && !grow(be, &ts->cols, &ts->cols_cap, cols)) ||
            (gath && !grow(be, &ts->gath, &ts->gath_cap, gath)) ||
            (part && !grow(be, &ts->part, &ts->part_cap, part))) return -1;
    }
    return 0;
}

/* One chunk of a conv job: cnt images from image n0, with one thread's scratch. */
typedef void (*conv_chunk_fn)(const conv_job *j, thread_scratch *ts, size_t n0, int cnt);

/* Images [b, e) of a job, on the thread's scratch, in chunks of at most j->nb. */
static void conv_each_chunk(const conv_job *j, int thread, size_t b, size_t e, conv_chunk_fn chunk)
{
    thread_scratch *ts = &j->st->ts[thread];
    for (size_t n0 = b; n0 < e; n0 += j->nb)
        chunk(j, ts, n0, (int)(e - n0 < (size_t)j->nb ? e - n0 : (size_t)j->nb));
}

static void conv_forward_chunk(const conv_job *j, thread_scratch *ts, size_t n0, int cnt)
{
    const conv_shape *c = &j->c;
    size_t xin = (size_t)c->Ci * c->H * c->W, yout = (size_t)c->Co * c->howo;
    const float *x = j->x + n0 * xin;
    float *y = j->y + n0 * yout;
    if (direct_conv(c)) {
        for (int i = 0; i < cnt; i++) direct_forward_image(c, y + i * yout, x + i * xin, j->w, j->bias, ts->cols);
        return;
    }
    if (j->U) {
        wino_tiles tl = wino_tiling(c);
        size_t P = (size_t)cnt * tl.tiles;
        wino_input(c, &tl, x, ts->cols, cnt, ts->cols + 16 * (size_t)c->Ci * P);
        for (int xi = 0; xi < 16; xi++)
            blas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->Co, (int)P, c->Ci, 1.0f,
                       j->U + (size_t)xi * c->Co * c->Ci, c->Ci, ts->cols + xi * c->Ci * P, (int)P,
                       0.0f, ts->gath + xi * c->Co * P, (int)P);
        wino_output(c, &tl, ts->gath, y, j->bias, cnt, ts->cols + 16 * (size_t)c->Ci * P);
        return;
    }
    im2col(c, x, ts->cols, cnt);
    size_t ncol = cnt * c->howo;
    float *out = cnt > 1 ? ts->gath : y;
    blas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->Co, (int)ncol, (int)c->rows,
               1.0f, j->w, (int)c->rows, ts->cols, (int)ncol, 0.0f, out, (int)ncol);
    if (cnt > 1) scatter(y, ts->gath, cnt, c->Co, c->howo);
    if (j->bias)
        for (int i = 0; i < cnt; i++)
            for (int co = 0; co < c->Co; co++) {
                float *yc = y + i * yout + co * c->howo, bv = j->bias[co];
                for (size_t k = 0; k < c->howo; k++) yc[k] += bv;
            }
}

static void conv_forward_images(void *ctx, size_t b, size_t e, int thread)
{
    conv_each_chunk(ctx, thread, b, e, conv_forward_chunk);
}

/* y = conv(x; w) + bias with the batch split over the threads. */
static void conv_forward_run(sg_backend *be, const conv_shape *c, float *y, const float *x,
                             const float *w, const float *bias)
{
    cpu_state *st = state(be);
    conv_job j = { .st = st, .c = *c, .x = x, .w = w, .bias = bias, .y = y };
    if (!direct_conv(c) && winograd_conv(c)) {
        wino_tiles tl = wino_tiling(c);
        j.nb = wino_chunk(st, c, &tl);
        size_t P = (size_t)j.nb * tl.tiles;
        float *U = grow(be, &st->wino, &st->wino_cap, (size_t)16 * c->Co * c->Ci);
        if (!U || grow_thread_scratch(be, 16 * (size_t)c->Ci * P + wino_work(&tl), 16 * (size_t)c->Co * P, 0)) return;
        wino_weights(st, U, w, c->Co, c->Ci);
        j.U = U;
        parallel_for(st, c->N, (size_t)1 << 20, conv_forward_images, &j);
        return;
    }
    j.nb = conv_chunk(st, c);
    if (direct_conv(c) ? grow_thread_scratch(be, direct_padded_floats(c), 0, 0)
                       : grow_thread_scratch(be, c->rows * j.nb * c->howo, j.nb > 1 ? (size_t)c->Co * j.nb * c->howo : 0, 0))
        return;
    parallel_for(st, c->N, (size_t)1 << 20, conv_forward_images, &j);
}

static void cpu_conv2d_forward(sg_backend *be, float *y, const float *x, const float *w,
                               const float *bias, int N, int Ci, int H, int W, int Co,
                               int K, int stride, int pad)
{
    if (state(be)->failed) return;
    conv_shape c = make_shape(N, Ci, H, W, Co, K, stride, pad);
    conv_forward_run(be, &c, y, x, w, bias);
}

static void conv_backward_data_chunk(const conv_job *j, thread_scratch *ts, size_t n0, int cnt)
{
    const conv_shape *c = &j->c;
    size_t xin = (size_t)c->Ci * c->H * c->W, yout = (size_t)c->Co * c->howo;
    size_t ncol = cnt * c->howo;
    const float *g = j->dy + n0 * yout;
    if (cnt > 1) { gather(ts->gath, g, cnt, c->Co, c->howo); g = ts->gath; }
    /* cols (rows, ncol) = w^T (rows, Co) x g (Co, ncol) */
    blas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)c->rows, (int)ncol, c->Co,
               1.0f, j->w, (int)c->rows, g, (int)ncol, 0.0f, ts->cols, (int)ncol);
    col2im(c, ts->cols, j->dx + n0 * xin, cnt);
}

static void conv_backward_data_images(void *ctx, size_t b, size_t e, int thread)
{
    conv_each_chunk(ctx, thread, b, e, conv_backward_data_chunk);
}

static void cpu_conv2d_backward_data(sg_backend *be, float *dx, const float *dy, const float *w,
                                     int N, int Ci, int H, int W, int Co, int K, int stride, int pad)
{
    cpu_state *st = state(be);
    if (st->failed) return;
    conv_shape c = make_shape(N, Ci, H, W, Co, K, stride, pad);
    if (stride == 1 && Co <= Ci && pad <= K - 1) {
        /* stride 1: conv^T is the conv of dy with the flipped, transposed
         * kernel (Ci, Co, K, K) and padding K-1-pad; its im2col has Co*K*K
         * rows instead of the Ci*K*K that col2im would need. */
        float *wf = grow(be, &st->wflip, &st->wflip_cap, (size_t)Ci * Co * K * K);
        if (!wf) return;
        for (int co = 0; co < Co; co++)
            for (int ci = 0; ci < Ci; ci++)
                for (int k = 0; k < K * K; k++)
                    wf[((size_t)ci * Co + co) * K * K + (K * K - 1 - k)] = w[((size_t)co * Ci + ci) * K * K + k];
        conv_shape f = make_shape(N, Co, c.Ho, c.Wo, Ci, K, 1, K - 1 - pad);
        conv_forward_run(be, &f, dx, dy, wf, NULL);
        return;
    }
    conv_job j = { .st = st, .c = c, .w = w, .dy = dy, .dx = dx };
    j.nb = conv_chunk(st, &c);
    if (grow_thread_scratch(be, c.rows * j.nb * c.howo, j.nb > 1 ? (size_t)Co * j.nb * c.howo : 0, 0)) return;
    parallel_for(st, N, (size_t)1 << 20, conv_backward_data_images, &j);
}

/* Adds the chunk's gradients to the thread's partials (ts->part: dw, or Winograd's dU, then db). */
static void conv_backward_filter_chunk(const conv_job *j, thread_scratch *ts, size_t n0, int cnt)
{
    const conv_shape *c = &j->c;
    size_t xin = (size_t)c->Ci * c->H * c->W, yout = (size_t)c->Co * c->howo;
    size_t nw = j->part_len - c->Co;   /* dw, or Winograd's dU */
    float *pdw = ts->part, *pdb = ts->part + nw;
    const float *x = j->x + n0 * xin, *dy = j->dy + n0 * yout;
    if (j->want_db)
        for (int i = 0; i < cnt; i++)
            for (int co = 0; co < c->Co; co++) {
                const float *gc = dy + i * yout + co * c->howo;
                float s = 0;
                for (size_t k = 0; k < c->howo; k++) s += gc[k];
                pdb[co] += s;
            }
    if (j->db_only) return;
    if (direct_conv(c)) {
        for (int i = 0; i < cnt; i++) direct_filter_image(c, pdw, x + i * xin, dy + i * yout, ts->cols);
        return;
    }
    if (j->U) {   /* Winograd: pdw holds dU (16, Co, Ci) */
        wino_tiles tl = wino_tiling(c);
        size_t P = (size_t)cnt * tl.tiles;
        wino_input(c, &tl, x, ts->cols, cnt, ts->cols + 16 * (size_t)c->Ci * P);
        wino_grad_output(c, &tl, dy, ts->gath, cnt, ts->cols + 16 * (size_t)c->Ci * P);
        for (int xi = 0; xi < 16; xi++)
            blas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->Co, c->Ci, (int)P, 1.0f,
                       ts->gath + xi * c->Co * P, (int)P, ts->cols + xi * c->Ci * P, (int)P,
                       1.0f, pdw + (size_t)xi * c->Co * c->Ci, c->Ci);
        return;
    }
    im2col(c, x, ts->cols, cnt);
    size_t ncol = cnt * c->howo;
    const float *g = dy;
    if (cnt > 1) { gather(ts->gath, dy, cnt, c->Co, c->howo); g = ts->gath; }
    /* pdw (Co, rows) += g (Co, ncol) x cols^T (ncol, rows) */
    blas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->Co, (int)c->rows, (int)ncol,
               1.0f, g, (int)ncol, ts->cols, (int)ncol, 1.0f, pdw, (int)c->rows);
}

static void conv_backward_filter_images(void *ctx, size_t b, size_t e, int thread)
{
    const conv_job *j = ctx;
    memset(j->st->ts[thread].part, 0, j->part_len * sizeof(float));
    conv_each_chunk(j, thread, b, e, conv_backward_filter_chunk);
}

typedef struct { cpu_state *st; float *dst; size_t off; int nparts; int part[MAX_THREADS]; } reduce_job;

/* dst[i] += sum over the used threads' partials, in thread order. */
static void reduce_partials(void *ctx, size_t b, size_t e, int thread)
{
    const reduce_job *r = ctx;
    for (size_t i = b; i < e; i++) {
        float s = 0;
        for (int k = 0; k < r->nparts; k++) s += r->st->ts[r->part[k]].part[r->off + i];
        r->dst[i] += s;
    }
}

/* The threads parallel_for gave some of N images (all on thread 0 for one image) */
static void add_thread_parts(const cpu_state *st, int N, reduce_job *r)
{
    int T = st->pool.nthreads;
    if (N < 2 || T <= 1) r->part[r->nparts++] = 0;
    else
        for (int t = 0; t < T; t++)
            if ((size_t)N * t / T < (size_t)N * (t + 1) / T) r->part[r->nparts++] = t;
}

static void cpu_conv2d_backward_filter(sg_backend *be, float *dw, float *db, const float *x,
                                       const float *dy, int N, int Ci, int H, int W, int Co,
                                       int K, int stride, int pad)
{
    cpu_state *st = state(be);
    if (st->failed || (!dw && !db)) return;
    conv_shape c = make_shape(N, Ci, H, W, Co, K, stride, pad);
    conv_job j = { .st = st, .c = c, .x = x, .dy = dy, .want_db = db != NULL };
    if (!dw) {   /* db alone: the same sums, split and order as beside a dw */
        j.db_only = 1;
        j.nb = 1;
        j.part_len = Co;
        if (grow_thread_scratch(be, 0, 0, j.part_len)) return;
        parallel_for(st, N, (size_t)1 << 20, conv_backward_filter_images, &j);
        reduce_job r = { .st = st, .dst = db, .off = 0 };
        add_thread_parts(st, N, &r);
        reduce_partials(&r, 0, Co, 0);
        return;
    }
    int direct = direct_conv(&c), wino = !direct && winograd_conv(&c);
    size_t nw = c.rows * Co;
    float *dU = NULL;
    if (wino) {
        wino_tiles tl = wino_tiling(&c);
        j.nb = wino_chunk(st, &c, &tl);
        size_t P = (size_t)j.nb * tl.tiles;
        nw = (size_t)16 * Co * Ci;
        j.part_len = nw + Co;
        if (!(dU = grow(be, &st->wino, &st->wino_cap, nw)) ||
            grow_thread_scratch(be, 16 * (size_t)Ci * P + wino_work(&tl), 16 * (size_t)Co * P, j.part_len)) return;
        j.U = dU;   /* marks the Winograd path */
    } else {
        j.nb = conv_chunk(st, &c);
        j.part_len = nw + Co;
        if (grow_thread_scratch(be, direct ? direct_padded_floats(&c) : c.rows * j.nb * c.howo,
                                !direct && j.nb > 1 ? (size_t)Co * j.nb * c.howo : 0, j.part_len)) return;
    }
    parallel_for(st, N, (size_t)1 << 20, conv_backward_filter_images, &j);
    reduce_job r = { .st = st, .dst = wino ? dU : dw, .off = 0 };
    if (wino) memset(dU, 0, nw * sizeof(float));
    add_thread_parts(st, N, &r);
    parallel_for(st, nw, 4, reduce_partials, &r);
    if (wino) wino_weight_grad(dw, dU, Co, Ci);
    if (db) {
        r.dst = db;
        r.off = nw;
        reduce_partials(&r, 0, Co, 0);
    }
}

/* ---- instance norm ------------------------------------------------------- */

typedef struct {
    float *y, *mean, *rstd, *dx, *part_g, *part_b;
    const float *x, *dy, *y_relu, *gamma, *beta, *residual;
    int C, HW, relu;
    float eps;
    double *var_unbiased;    /* (N*C) for the running-var update, or NULL */
} instnorm_args;

/* sum of f(i) over a plane in double, from float vector lanes over blocks of
 * 256 (vectorizes; the order is fixed, the float part of each sum is short) */
#define PLANE_SUM(result, HW, lane_expr, tail_expr) do {                  \
    double s_ = 0;                                                       \
    int i_ = 0;                                                          \
    for (; i_ + 8 <= (HW);) {                                            \
        v8sf acc_ = v8_set1(0);                                          \
        int end_ = i_ + 256 < (HW) ? i_ + 256 : (HW);                    \
        for (; i_ + 8 <= end_; i_ += 8) { const int i = i_; acc_ += (lane_expr); } \
        s_ += v8_sum(acc_);                                              \
    }                                                                    \
    for (; i_ < (HW); i_++) { const int i = i_; s_ += (tail_expr); }     \
    (result) = s_;                                                       \
} while (0)

SG_VECTOR_CLONES
static void instnorm_forward_range(void *ctx, size_t p0, size_t p1, int thread)
{
    const instnorm_args *a = ctx;
    int HW = a->HW;
    for (size_t pl = p0; pl < p1; pl++) {
        const float *x = a->x + pl * HW;
        float *y = a->y ? a->y + pl * HW : NULL;
        double s, ss;
        PLANE_SUM(s, HW, v8_load(x + i), x[i]);
        float mu = (float)(s / HW);
        v8sf muv = v8_set1(mu);
        /* two-pass variance around the float mean */
        PLANE_SUM(ss, HW, (v8_load(x + i) - muv) * (v8_load(x + i) - muv), (x[i] - mu) * (x[i] - mu));
        double var = ss / HW;
        float rstd = (float)(1.0 / sqrt(var + a->eps));
        a->mean[pl] = mu;
        a->rstd[pl] = rstd;
        if (a->var_unbiased) a->var_unbiased[pl] = HW > 1 ? ss / (HW - 1) : 0;
        if (!y) continue;                          /* statistics only */
        int c = (int)(pl % a->C);
        float g = a->gamma[c] * rstd, b = a->beta[c];
        if (a->relu)    /* v > 0 ? v : 0: -0 and NaN give +0, as on CUDA (relu_if) */
            for (int i = 0; i < HW; i++) { float v = (x[i] - mu) * g + b; y[i] = v > 0 ? v : 0; }
        else
            for (int i = 0; i < HW; i++) y[i] = (x[i] - mu) * g + b;
        if (a->residual)    /* added last, as a separate add would */
            for (int i = 0; i < HW; i++) y[i] += a->residual[pl * HW + i];
    }
}

static void cpu_instnorm_forward(sg_backend *be, float *y, float *mean, float *rstd,
                                 const float *x, const float *gamma, const float *beta,
                                 float *running_mean, float *running_var,
                                 int N, int C, int HW, float eps, float momentum, int relu,
                                 const float *residual)
{
    cpu_state *st = state(be);
    if (st->failed) return;
    size_t planes = (size_t)N * C;
    double *varu = NULL;
    if (running_mean) {
        /* doubles in the float scratch: 2 floats each */
        float *s = grow(be, &st->scratch_part, &st->part_cap, planes * 2);
        if (!s) return;
        varu = (double *)s;
    }
    instnorm_args a = { .y = y, .mean = mean, .rstd = rstd, .x = x, .gamma = gamma, .beta = beta,
                        .residual = residual, .C = C, .HW = HW, .relu = relu, .eps = eps,
                        .var_unbiased = varu };
    parallel_for(st, planes, (size_t)HW * 4, instnorm_forward_range, &a);
    if (running_mean)
        for (int c = 0; c < C; c++) {
            /* PyTorch: batch_norm on (1, N*C, ...) with the running stats
             * repeated N times, then the N copies averaged. */
            float rm = running_mean[c], rv = running_var[c], sm = 0, sv = 0;
            for (int n = 0; n < N; n++) {
                sm += (1 - momentum) * rm + momentum * mean[(size_t)n * C + c];
                sv += (1 - momentum) * rv + momentum * (float)varu[(size_t)n * C + c];
            }
            running_mean[c] = sm / N;
            running_var[c] = sv / N;
        }
}

/* dy at i, read as 0 where the fused ReLU's output yr <= 0 (yr NULL: no ReLU);
 * the vector and scalar forms agree bit for bit */
static inline v8sf v8_dy_masked(const float *dy, const float *yr, int i)
{
    v8sf g = v8_load(dy + i);
    return yr ? (v8sf)((v8si)g & (v8_load(yr + i) > v8_set1(0))) : g;
}
static inline float dy_masked(const float *dy, const float *yr, int i)
{
    return !yr || yr[i] > 0 ? dy[i] : 0;
}

SG_VECTOR_CLONES
static void instnorm_backward_range(void *ctx, size_t p0, size_t p1, int thread)
{
    const instnorm_args *a = ctx;
    int HW = a->HW;
    for (size_t pl = p0; pl < p1; pl++) {
        const float *x = a->x + pl * HW, *dy = a->dy + pl * HW;
        const float *yr = a->y_relu ? a->y_relu + pl * HW : NULL;
        float *dx = a->dx + pl * HW;
        float m = a->mean[pl], r = a->rstd[pl], g = a->gamma[pl % a->C];
        v8sf mv = v8_set1(m), rv = v8_set1(r);
        double sdy, sdyxh;
        PLANE_SUM(sdy, HW, v8_dy_masked(dy, yr, i), dy_masked(dy, yr, i));
        PLANE_SUM(sdyxh, HW, v8_dy_masked(dy, yr, i) * ((v8_load(x + i) - mv) * rv),
                  dy_masked(dy, yr, i) * ((x[i] - m) * r));
        a->part_b[pl] = (float)sdy;
        a->part_g[pl] = (float)sdyxh;
        /* dx = g*r*(dy - mean(dy) - xhat*mean(dy*xhat)) */
        float mdy = (float)(sdy / HW), mdyxh = (float)(sdyxh / HW), gr = g * r;
        if (yr)
            for (int i = 0; i < HW; i++) {
                float xh = (x[i] - m) * r;
                dx[i] = gr * ((yr[i] > 0 ? dy[i] : 0) - mdy - xh * mdyxh);
            }
        else
            for (int i = 0; i < HW; i++) {
                float xh = (x[i] - m) * r;
                dx[i] = gr * (dy[i] - mdy - xh * mdyxh);
            }
    }
}

static void cpu_instnorm_backward(sg_backend *be, float *dx, float *dgamma, float *dbeta,
                                  const float *dy, const float *y_relu, const float *x,
                                  const float *mean, const float *rstd, const float *gamma,
                                  int N, int C, int HW)
{
    cpu_state *st = state(be);
    if (st->failed) return;
    size_t planes = (size_t)N * C;
    float *part = grow(be, &st->scratch_part, &st->part_cap, planes * 2);
    if (!part) return;
    instnorm_args a = { .dx = dx, .mean = (float *)mean, .rstd = (float *)rstd, .part_g = part,
                        .part_b = part + planes, .x = x, .dy = dy, .y_relu = y_relu, .gamma = gamma,
                        .C = C, .HW = HW };
    parallel_for(st, planes, (size_t)HW * 6, instnorm_backward_range, &a);
    for (int c = 0; c < C; c++) {
        float sg = 0, sb = 0;
        for (int n = 0; n < N; n++) { sg += a.part_g[(size_t)n * C + c]; sb += a.part_b[(size_t)n * C + c]; }
        dgamma[c] += sg;
        dbeta[c] += sb;
    }
}

/* ---- elementwise ----------------------------------------------------------- */

typedef struct {
    float *y;
    const float *a, *b;
    float s;
    int kind;
} ew_args;

enum { EW_LRELU_BW, EW_TANH, EW_TANH_BW, EW_ADD };

/* y may equal a or b (each element is read before it is written).
 * EW_LRELU_BW runs in vectors of 8, then a scalar tail, its select a bit mask
 * (no branch per element); the others are scalar loops. */
SG_VECTOR_CLONES
static void ew_range(void *ctx, size_t b0, size_t b1, int thread)
{
    const ew_args *e = ctx;
    float *y = e->y, s = e->s;
    const float *a = e->a, *b = e->b;
    size_t i = b0, vend = b0 + (b1 - b0) / 8 * 8;
    v8sf zero = v8_set1(0), sv = v8_set1(s);
    switch (e->kind) {
    case EW_LRELU_BW:
        for (; i < vend; i += 8) {
            v8sf g = v8_load(a + i), x = v8_load(b + i);
            v8si m = x > zero;
            v8_store(y + i, (v8sf)(((v8si)g & m) | ((v8si)(g * sv) & ~m)));
        }
        for (; i < b1; i++) y[i] = b[i] > 0 ? a[i] : a[i] * s;
        break;
    case EW_TANH:     for (; i < b1; i++) y[i] = tanhf(a[i]); break;
    case EW_TANH_BW:  for (; i < b1; i++) y[i] = a[i] * (1 - b[i] * b[i]); break;
    case EW_ADD:      for (; i < b1; i++) y[i] = a[i] + b[i]; break;
    }
}

static void ew(sg_backend *be, int kind, float *y, const float *a, const float *b, float s, size_t n)
{
    cpu_state *st = state(be);
    if (st->failed) return;
    ew_args e = { y, a, b, s, kind };
    parallel_for(st, n, kind == EW_TANH ? 16 : 1, ew_range, &e);
}

static void cpu_leaky_relu_backward(sg_backend *be, float *dx, const float *dy, const float *x, float slope, size_t n) { ew(be, EW_LRELU_BW, dx, dy, x, slope, n); }
static void cpu_tanh_forward(sg_backend *be, float *y, const float *x, size_t n) { ew(be, EW_TANH, y, x, NULL, 0, n); }
static void cpu_tanh_backward(sg_backend *be, float *dx, const float *dy, const float *y, size_t n) { ew(be, EW_TANH_BW, dx, dy, y, 0, n); }
static void cpu_add(sg_backend *be, float *y, const float *a, const float *b, size_t n) { ew(be, EW_ADD, y, a, b, 0, n); }

static void cpu_lerp_images(sg_backend *be, float *out, const float *a, const float *b,
                            const float *alpha, int N, size_t per_image)
{
    if (state(be)->failed) return;
    for (int n = 0; n < N; n++) {
        float al = alpha[n], bl = 1 - al;
        size_t o = (size_t)n * per_image;
        for (size_t i = 0; i < per_image; i++) out[o + i] = al * a[o + i] + bl * b[o + i];
    }
}

static void cpu_draw_batch(sg_backend *be, float *c_trg, float *alpha, const float *c_org,
                           const sg_batch_draw *d)
{
    if (state(be)->failed) return;
    if (d->n < 1 || d->n > SG_BATCH_DRAW_MAX) {
        cpu_fail(be, "cpu backend: draw_batch: batch of %d images (1..%d allowed)", d->n, SG_BATCH_DRAW_MAX);
        return;
    }
    for (int k = 0; k < d->n; k++) alpha[k] = sg_draw_alpha(d, k);
    if (d->random_targets) {
        for (int k = 0; k < d->n; k++) sg_draw_random_target(d, k, c_trg + (size_t)k * d->c_dim);
        return;
    }
    int *perm = malloc(sizeof(int) * (size_t)d->n);
    if (!perm) { cpu_fail_oom(be, "cpu backend: draw_batch: out of memory"); return; }
    sg_draw_target_perm(d, perm);
    for (int k = 0; k < d->n; k++)
        memcpy(c_trg + (size_t)k * d->c_dim, c_org + (size_t)perm[k] * d->c_dim, sizeof(float) * (size_t)d->c_dim);
    free(perm);
}

static void cpu_bias_leaky_relu(sg_backend *be, float *y, const float *bias, float slope, int N, int C,
                                int HW)
{
    if (state(be)->failed) return;
    for (size_t pl = 0; pl < (size_t)N * C; pl++) {
        float b = bias[pl % C], *yp = y + pl * HW;
        for (int i = 0; i < HW; i++) {
            float v = yp[i] + b;
            yp[i] = v > 0 ? v : v * slope;
        }
    }
}

static void cpu_concat_labels(sg_backend *be, float *out, const float *x, const float *c,
                              int N, int Cx, int Cc, int HW)
{
    if (state(be)->failed) return;
    int Co = Cx + Cc;
    for (int n = 0; n < N; n++) {
        memcpy(out + (size_t)n * Co * HW, x + (size_t)n * Cx * HW, (size_t)Cx * HW * sizeof(float));
        for (int j = 0; j < Cc; j++) {
            float v = c[(size_t)n * Cc + j], *o = out + ((size_t)n * Co + Cx + j) * HW;
            for (int i = 0; i < HW; i++) o[i] = v;
        }
    }
}

static void cpu_channel_slice(sg_backend *be, float *dst, const float *src, int N, int Cs,
                              int c0, int Cd, int HW)
{
    if (state(be)->failed) return;
    for (int n = 0; n < N; n++)
        memcpy(dst + (size_t)n * Cd * HW, src + ((size_t)n * Cs + c0) * HW, (size_t)Cd * HW * sizeof(float));
}

/* ---- losses ------------------------------------------------------------------ */

static void cpu_mean_loss(sg_backend *be, float *loss, float *grad, const float *x, size_t n,
                          float sign, float weight)
{
    if (state(be)->failed) return;
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    *loss = (float)(sign * s / n);
    if (grad) {
        float g = weight * sign / (float)n;
        for (size_t i = 0; i < n; i++) grad[i] = g;
    }
}

static void cpu_bce_logits_loss(sg_backend *be, float *loss, float *grad, const float *logits,
                                int ldl, int off, const float *targets, int ldt, int toff,
                                int N, int C, float weight)
{
    if (state(be)->failed) return;
    double s = 0;
    for (int n = 0; n < N; n++)
        for (int j = 0; j < C; j++) {
            float z = logits[(size_t)n * ldl + off + j], t = targets[(size_t)n * ldt + toff + j];
            s += fmaxf(z, 0) - z * t + log1pf(expf(-fabsf(z)));
            if (grad) {
                float sig = 1 / (1 + expf(-z));
                grad[(size_t)n * ldl + off + j] = weight * (sig - t) / N;
            }
        }
    *loss = (float)(s / N);
}

static void cpu_softmax_ce_loss(sg_backend *be, float *loss, float *grad, const float *logits,
                                int ldl, int off, const float *targets, int ldt, int toff,
                                int N, int C, float weight)
{
    if (state(be)->failed) return;
    double s = 0;
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * ldl + off, *t = targets + (size_t)n * ldt + toff;
        int cls = 0;
        for (int j = 1; j < C; j++) if (t[j] > t[cls]) cls = j;
        float mx = z[0];
        for (int j = 1; j < C; j++) if (z[j] > mx) mx = z[j];
        double se = 0;
        for (int j = 0; j < C; j++) se += exp((double)z[j] - mx);
        double lse = mx + log(se);
        s += lse - z[cls];
        if (grad)
            for (int j = 0; j < C; j++) {
                float p = (float)exp((double)z[j] - lse);
                grad[(size_t)n * ldl + off + j] = weight * (p - (j == cls)) / N;
            }
    }
    *loss = (float)(s / N);
}

static void cpu_l1_loss(sg_backend *be, float *loss, float *grad, const float *a, const float *b,
                        size_t n, float weight)
{
    if (state(be)->failed) return;
    double s = 0;
    float g = weight / (float)n;
    for (size_t i = 0; i < n; i++) {
        float d = a[i] - b[i];
        s += fabsf(d);
        if (grad) grad[i] = d > 0 ? g : d < 0 ? -g : 0;
    }
    *loss = (float)(s / n);
}

static void cpu_gp_loss(sg_backend *be, float *loss, float *grad, const float *u, int N,
                        size_t D, float weight)
{
    if (state(be)->failed) return;
    double s = 0;
    for (int n = 0; n < N; n++) {
        const float *un = u + (size_t)n * D;
        double ss = 0;
        for (size_t i = 0; i < D; i++) ss += (double)un[i] * un[i];
        float norm = (float)sqrt(ss);
        s += (double)(norm - 1) * (norm - 1);
        if (grad) {
            float f = weight * 2 * (norm - 1) / (norm * N);
            for (size_t i = 0; i < D; i++) grad[(size_t)n * D + i] = f * un[i];
        }
    }
    *loss = (float)(s / N);
}

/* ---- Adam and checks ---------------------------------------------------------- */

typedef struct {
    float *p, *m, *v;
    const float *g;
    float b1, b2, omb1, omb2, step_size, bc2_sqrt, eps;
} adam_args;

SG_VECTOR_CLONES
static void adam_range(void *ctx, size_t i0, size_t i1, int thread)
{
    const adam_args *a = ctx;
    for (size_t i = i0; i < i1; i++) {
        float g = a->g[i];
        float m = a->m[i] * a->b1 + g * a->omb1;
        float v = a->v[i] * a->b2 + g * g * a->omb2;
        a->m[i] = m;
        a->v[i] = v;
        float denom = sqrtf(v) / a->bc2_sqrt + a->eps;
        a->p[i] += -a->step_size * (m / denom);
    }
}

static void cpu_adam(sg_backend *be, float *p, const float *g, float *m, float *v, size_t n,
                     float lr, double beta1, double beta2, float eps, int64_t t)
{
    cpu_state *st = state(be);
    if (st->failed) return;
    /* scalars in double like PyTorch's Python-side arithmetic */
    double bc1 = 1 - pow(beta1, (double)t), bc2 = 1 - pow(beta2, (double)t);
    adam_args a = { p, m, v, g, (float)beta1, (float)beta2, (float)(1 - beta1), (float)(1 - beta2),
                    (float)(lr / bc1), (float)sqrt(bc2), eps };
    parallel_for(st, n, 8, adam_range, &a);
}

static int cpu_all_finite(sg_backend *be, const float *p, size_t n)
{
    if (state(be)->failed) return -1;
    for (size_t i = 0; i < n; i++) if (!isfinite(p[i])) return 0;
    return 1;
}

/* NCHW is the CPU's layout: conversions are copies */
static void cpu_layout_copy(sg_backend *be, float *dst, const float *src, int N, int C, int HW)
{
    (void)be;
    memcpy(dst, src, (size_t)N * C * HW * sizeof(float));
}

static void *cpu_host_alloc(sg_backend *be, size_t bytes) { (void)be; return calloc(1, bytes ? bytes : 1); }
/* The two steps it stands for, in order: the CUDA backend's one pass saves
 * launches and a read of dx; here the time is in sgemm (bench/NOTES.md), so
 * the reference stays the plain composition, bit for bit by construction. */
static void cpu_leaky_relu_backward_bias(sg_backend *be, float *dx, float *db, const float *dy, const float *x,
                                         float slope, int N, int C, int HW, int n_bias)
{
    ew(be, EW_LRELU_BW, dx, dy, x, slope, (size_t)N * C * HW);
    if (db && n_bias > 0)
        cpu_conv2d_backward_filter(be, NULL, db, NULL, dx, n_bias, 1, 1, HW, C, 1, 1, 0);
}
static void cpu_host_free(sg_backend *be, void *p) { (void)be; free(p); }
/* every CPU op has finished when it returns */
static void cpu_fence(sg_backend *be, int slot) { (void)be; (void)slot; }
static int cpu_fence_wait(sg_backend *be, int slot) { (void)slot; return state(be)->failed ? -1 : 0; }

static const sg_backend_ops cpu_ops = {
    .destroy = cpu_destroy, .sync = cpu_sync, .alloc = cpu_alloc, .free = cpu_free,
    .upload = cpu_memcpy, .download = cpu_memcpy, .copy = cpu_memcpy, .memzero = cpu_memzero,
    .fill = cpu_fill,
    .conv2d_forward = cpu_conv2d_forward, .conv2d_backward_data = cpu_conv2d_backward_data,
    .conv2d_backward_filter = cpu_conv2d_backward_filter,
    .instnorm_forward = cpu_instnorm_forward, .instnorm_backward = cpu_instnorm_backward,
    .leaky_relu_backward = cpu_leaky_relu_backward,
    .tanh_forward = cpu_tanh_forward, .tanh_backward = cpu_tanh_backward,
    .add = cpu_add, .lerp_images = cpu_lerp_images,
    .concat_labels = cpu_concat_labels, .channel_slice = cpu_channel_slice,
    .mean_loss = cpu_mean_loss, .bce_logits_loss = cpu_bce_logits_loss,
    .softmax_ce_loss = cpu_softmax_ce_loss, .l1_loss = cpu_l1_loss, .gp_loss = cpu_gp_loss,
    .adam = cpu_adam, .all_finite = cpu_all_finite,
    .to_layout = cpu_layout_copy, .from_layout = cpu_layout_copy,
    .host_alloc = cpu_host_alloc, .host_free = cpu_host_free,
    .fence = cpu_fence, .fence_wait = cpu_fence_wait,
    .draw_batch = cpu_draw_batch, .bias_leaky_relu = cpu_bias_leaky_relu,
    .leaky_relu_backward_bias = cpu_leaky_relu_backward_bias,
};

int sg_backend_cpu_threads(const sg_backend *be)
{
    return be && be->ops == &cpu_ops ? ((const cpu_state *)be->impl)->pool.nthreads : 0;
}

sg_backend *sg_backend_cpu_create(int nthreads, sg_err *err)
{
    int cpus = sg_cpus_usable();
    if (nthreads <= 0) nthreads = cpus;
    if (nthreads > MAX_THREADS) nthreads = MAX_THREADS;
    if (sg_backend_cpu_prepare(err)) return NULL;
    pthread_mutex_lock(&blas.mu);
    int rc = blas_reserve(nthreads, err);
    pthread_mutex_unlock(&blas.mu);
    if (rc) return NULL;
    sg_backend *be = calloc(1, sizeof *be);
    cpu_state *st = calloc(1, sizeof *st);
    if (!be || !st) { free(be); free(st); sg_err_oom(err, "cpu backend: out of memory"); return NULL; }
    be->ops = &cpu_ops;
    be->name = "cpu";
    be->impl = st;
    st->ts = calloc(nthreads, sizeof *st->ts);
    int e = st->ts ? pool_init(&st->pool, nthreads, cpus) : ENOMEM;
    if (e) {
        char hint[96];
        cpu_destroy(be);
        sg_err_sys(err, e, "cpu backend: cannot start %d threads%s", nthreads,
                   e == EAGAIN ? address_limit_question("out of memory for their stacks?", hint, sizeof hint) : "");
        return NULL;
    }
    return be;
}
