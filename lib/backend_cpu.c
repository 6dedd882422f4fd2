/* The CPU backend (backend.h): float32, convolutions as im2col + OpenBLAS
 * sgemm, everything else in plain loops split over a small pthread pool.
 *
 * Determinism: work is split into fixed contiguous ranges per thread and every
 * reduction has one fixed order (per-plane partials, then a serial sum over the
 * batch), so results depend only on the inputs and the thread count. OpenBLAS
 * splits sgemm over M and N, never over K, so it is deterministic too.
 *
 * Scratch (im2col columns, gathered gradients) is grown once to the largest
 * size seen and reused: no allocation per iteration. */
#include "backend.h"
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- thread pool ------------------------------------------------------- */

typedef void (*range_fn)(void *ctx, size_t begin, size_t end);

typedef struct {
    int nthreads;                 /* including the calling thread */
    pthread_t *workers;           /* nthreads - 1 */
    pthread_mutex_t mu;
    pthread_cond_t start_cv, done_cv;
    unsigned long generation;
    int pending;                  /* workers still running the current job */
    int quit;
    range_fn fn;
    void *ctx;
    size_t n;
} thread_pool;

typedef struct {
    thread_pool pool;
    float *scratch_cols;  size_t cols_cap;    /* im2col columns (floats) */
    float *scratch_gath;  size_t gath_cap;    /* gathered (Co, nb*HoWo) */
    float *scratch_part;  size_t part_cap;    /* per-plane partial sums */
    int failed;
    sg_err first_err;
} cpu_state;

typedef struct { thread_pool *pool; int index; } worker_arg;

static void pool_run_share(thread_pool *p, int t)
{
    size_t b = p->n * (size_t)t / p->nthreads, e = p->n * (size_t)(t + 1) / p->nthreads;
    if (b < e) p->fn(p->ctx, b, e);
}

static void *pool_worker(void *arg)
{
    worker_arg *wa = arg;
    thread_pool *p = wa->pool;
    int index = wa->index;
    free(wa);
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->generation == seen && !p->quit) pthread_cond_wait(&p->start_cv, &p->mu);
        if (p->quit) break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        pool_run_share(p, index);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->done_cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static int pool_init(thread_pool *p, int nthreads)
{
    memset(p, 0, sizeof *p);
    p->nthreads = nthreads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    if (nthreads > 1) {
        p->workers = calloc(nthreads - 1, sizeof *p->workers);
        if (!p->workers) return -1;
    }
    for (int t = 1; t < nthreads; t++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa) { p->nthreads = t; return -1; }
        wa->pool = p; wa->index = t;
        if (pthread_create(&p->workers[t - 1], NULL, pool_worker, wa) != 0) {
            free(wa); p->nthreads = t; return -1;
        }
    }
    return 0;
}

static void pool_destroy(thread_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
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
    if (p->nthreads <= 1 || n < 2 || n * cost_per_item < 32768) { fn(ctx, 0, n); return; }
    pthread_mutex_lock(&p->mu);
    p->fn = fn; p->ctx = ctx; p->n = n;
    p->pending = p->nthreads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->start_cv);
    pthread_mutex_unlock(&p->mu);
    pool_run_share(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0) pthread_cond_wait(&p->done_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

/* ---- errors and memory -------------------------------------------------- */

static cpu_state *state(sg_backend *be) { return be->impl; }

static void cpu_fail(sg_backend *be, const char *fmt, ...)
{
    cpu_state *st = state(be);
    if (st->failed) return;
    st->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->first_err.msg, sizeof st->first_err.msg, fmt, ap);
    va_end(ap);
}

static float *grow(sg_backend *be, float **buf, size_t *cap, size_t n)
{
    if (n <= *cap) return *buf;
    float *p = realloc(*buf, n * sizeof(float));
    if (!p) { cpu_fail(be, "cpu backend: out of memory for %zu bytes of scratch", n * sizeof(float)); return NULL; }
    *buf = p; *cap = n;
    return p;
}

static void cpu_destroy(sg_backend *be)
{
    if (!be) return;
    cpu_state *st = state(be);
    if (st) {
        pool_destroy(&st->pool);
        free(st->scratch_cols); free(st->scratch_gath); free(st->scratch_part);
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
    if (!p) cpu_fail(be, "cpu backend: out of memory allocating %zu bytes", bytes);
    return p;
}
static void cpu_free(sg_backend *be, void *p) { free(p); }
static void cpu_memcpy(sg_backend *be, void *dst, const void *src, size_t bytes)
{
    if (bytes && dst != src) memmove(dst, src, bytes);
}
static void cpu_download(sg_backend *be, void *dst, const void *src, size_t bytes) { cpu_memcpy(be, dst, src, bytes); }
static void cpu_memzero(sg_backend *be, void *p, size_t bytes) { if (bytes) memset(p, 0, bytes); }
static void cpu_fill(sg_backend *be, float *p, float value, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = value;
}

/* ---- convolution ---------------------------------------------------------- */

typedef struct {
    const float *x;       /* (nb, Ci, H, W) */
    float *cols;          /* (Ci*K*K, nb*HoWo) */
    int nb, Ci, H, W, K, stride, pad, Ho, Wo;
} im2col_args;

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

/* Rows for channels [c0, c1) of every image in the chunk. */
static void im2col_range(void *ctx, size_t c0, size_t c1)
{
    const im2col_args *a = ctx;
    int K = a->K, s = a->stride, p = a->pad, H = a->H, W = a->W, Ho = a->Ho, Wo = a->Wo;
    size_t howo = (size_t)Ho * Wo, ld = howo * a->nb;
    for (size_t ci = c0; ci < c1; ci++)
        for (int kh = 0; kh < K; kh++) {
            int oy_lo, oy_hi;
            valid_range(kh, s, p, H, Ho, &oy_lo, &oy_hi);
            for (int kw = 0; kw < K; kw++) {
                int ox_lo, ox_hi;
                valid_range(kw, s, p, W, Wo, &ox_lo, &ox_hi);
                float *row = a->cols + ((ci * K + kh) * K + kw) * ld;
                for (int i = 0; i < a->nb; i++) {
                    const float *xc = a->x + ((size_t)i * a->Ci + ci) * H * W;
                    float *dst = row + i * howo;
                    for (int oy = 0; oy < Ho; oy++) {
                        float *d = dst + (size_t)oy * Wo;
                        if (oy < oy_lo || oy >= oy_hi) { memset(d, 0, Wo * sizeof(float)); continue; }
                        const float *src = xc + (size_t)(oy * s - p + kh) * W - p + kw;
                        for (int ox = 0; ox < ox_lo; ox++) d[ox] = 0;
                        if (s == 1) memcpy(d + ox_lo, src + ox_lo, (ox_hi - ox_lo) * sizeof(float));
                        else for (int ox = ox_lo; ox < ox_hi; ox++) d[ox] = src[ox * s];
                        for (int ox = ox_hi; ox < Wo; ox++) d[ox] = 0;
                    }
                }
            }
        }
}

/* dx (nb, Ci, H, W) = sum of the columns back into place (dx zeroed first). */
static void col2im_range(void *ctx, size_t c0, size_t c1)
{
    const im2col_args *a = ctx;
    int K = a->K, s = a->stride, p = a->pad, H = a->H, W = a->W, Ho = a->Ho, Wo = a->Wo;
    size_t howo = (size_t)Ho * Wo, ld = howo * a->nb;
    float *dx = (float *)a->x;
    for (size_t ci = c0; ci < c1; ci++) {
        for (int i = 0; i < a->nb; i++)
            memset(dx + ((size_t)i * a->Ci + ci) * H * W, 0, (size_t)H * W * sizeof(float));
        for (int kh = 0; kh < K; kh++) {
            int oy_lo, oy_hi;
            valid_range(kh, s, p, H, Ho, &oy_lo, &oy_hi);
            for (int kw = 0; kw < K; kw++) {
                int ox_lo, ox_hi;
                valid_range(kw, s, p, W, Wo, &ox_lo, &ox_hi);
                const float *row = a->cols + ((ci * K + kh) * K + kw) * ld;
                for (int i = 0; i < a->nb; i++) {
                    float *xc = dx + ((size_t)i * a->Ci + ci) * H * W;
                    const float *srcrow = row + i * howo;
                    for (int oy = oy_lo; oy < oy_hi; oy++) {
                        const float *c = srcrow + (size_t)oy * Wo;
                        float *d = xc + (size_t)(oy * s - p + kh) * W - p + kw;
                        if (s == 1) for (int ox = ox_lo; ox < ox_hi; ox++) d[ox] += c[ox];
                        else for (int ox = ox_lo; ox < ox_hi; ox++) d[ox * s] += c[ox];
                    }
                }
            }
        }
    }
}

/* Images per chunk so that the columns stay below ~8M floats. */
static int conv_chunk(int N, size_t rows, size_t howo)
{
    size_t per = rows * howo, cap = (size_t)8 << 20;
    size_t nb = per ? cap / per : N;
    if (nb < 1) nb = 1;
    if (nb > (size_t)N) nb = N;
    return (int)nb;
}

typedef struct { float *g; const float *y; int nb, C; size_t howo; int to_gathered; } gather_args;

/* Between (nb, C, HoWo) and the gathered layout (C, nb*HoWo). */
static void gather_range(void *ctx, size_t c0, size_t c1)
{
    const gather_args *a = ctx;
    for (size_t c = c0; c < c1; c++)
        for (int i = 0; i < a->nb; i++) {
            float *g = a->g + (c * a->nb + i) * a->howo;
            float *y = (float *)a->y + ((size_t)i * a->C + c) * a->howo;
            if (a->to_gathered) memcpy(g, y, a->howo * sizeof(float));
            else memcpy(y, g, a->howo * sizeof(float));
        }
}

static void cpu_conv2d_forward(sg_backend *be, float *y, const float *x, const float *w,
                               const float *bias, int N, int Ci, int H, int W, int Co,
                               int K, int stride, int pad)
{
    cpu_state *st = state(be);
    if (st->failed) return;
    int Ho = (H + 2 * pad - K) / stride + 1, Wo = (W + 2 * pad - K) / stride + 1;
    size_t rows = (size_t)Ci * K * K, howo = (size_t)Ho * Wo;
    int nb = conv_chunk(N, rows, howo);
    float *cols = grow(be, &st->scratch_cols, &st->cols_cap, rows * nb * howo);
    float *gath = nb > 1 ? grow(be, &st->scratch_gath, &st->gath_cap, (size_t)Co * nb * howo) : NULL;
    if (!cols || (nb > 1 && !gath)) return;
    for (int n0 = 0; n0 < N; n0 += nb) {
        int cnt = N - n0 < nb ? N - n0 : nb;
        im2col_args a = { x + (size_t)n0 * Ci * H * W, cols, cnt, Ci, H, W, K, stride, pad, Ho, Wo };
        parallel_for(st, Ci, K * K * cnt * howo, im2col_range, &a);
        size_t ncol = cnt * howo;
        float *out = cnt > 1 ? gath : y + (size_t)n0 * Co * howo;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Co, (int)ncol, (int)rows,
                    1.0f, w, (int)rows, cols, (int)ncol, 0.0f, out, (int)ncol);
        if (cnt > 1) {
            gather_args g = { gath, y + (size_t)n0 * Co * howo, cnt, Co, howo, 0 };
            parallel_for(st, Co, cnt * howo, gather_range, &g);
        }
        if (bias)
            for (int i = 0; i < cnt; i++)
                for (int co = 0; co < Co; co++) {
                    float *yc = y + ((size_t)(n0 + i) * Co + co) * howo, b = bias[co];
                    for (size_t j = 0; j < howo; j++) yc[j] += b;
                }
    }
}

static void cpu_conv2d_backward_data(sg_backend *be, float *dx, const float *dy, const float *w,
                                     int N, int Ci, int H, int W, int Co, int K, int stride, int pad)
{
    cpu_state *st = state(be);
    if (st->failed) return;
    int Ho = (H + 2 * pad - K) / stride + 1, Wo = (W + 2 * pad - K) / stride + 1;
    size_t rows = (size_t)Ci * K * K, howo = (size_t)Ho * Wo;
    int nb = conv_chunk(N, rows, howo);
    float *cols = grow(be, &st->scratch_cols, &st->cols_cap, rows * nb * howo);
    float *gath = nb > 1 ? grow(be, &st->scratch_gath, &st->gath_cap, (size_t)Co * nb * howo) : NULL;
    if (!cols || (nb > 1 && !gath)) return;
    for (int n0 = 0; n0 < N; n0 += nb) {
        int cnt = N - n0 < nb ? N - n0 : nb;
        size_t ncol = cnt * howo;
        const float *g = dy + (size_t)n0 * Co * howo;
        if (cnt > 1) {
            gather_args ga = { gath, g, cnt, Co, howo, 1 };
            parallel_for(st, Co, cnt * howo, gather_range, &ga);
            g = gath;
        }
        /* cols (rows, ncol) = w^T (rows, Co) x g (Co, ncol) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)rows, (int)ncol, Co,
                    1.0f, w, (int)rows, g, (int)ncol, 0.0f, cols, (int)ncol);
        im2col_args a = { dx + (size_t)n0 * Ci * H * W, cols, cnt, Ci, H, W, K, stride, pad, Ho, Wo };
        parallel_for(st, Ci, K * K * cnt * howo, col2im_range, &a);
    }
}

static void cpu_conv2d_backward_filter(sg_backend *be, float *dw, float *db, const float *x,
                                       const float *dy, int N, int Ci, int H, int W, int Co,
                                       int K, int stride, int pad)
{
    cpu_state *st = state(be);
    if (st->failed) return;
    int Ho = (H + 2 * pad - K) / stride + 1, Wo = (W + 2 * pad - K) / stride + 1;
    size_t rows = (size_t)Ci * K * K, howo = (size_t)Ho * Wo;
    int nb = conv_chunk(N, rows, howo);
    float *cols = grow(be, &st->scratch_cols, &st->cols_cap, rows * nb * howo);
    float *gath = nb > 1 ? grow(be, &st->scratch_gath, &st->gath_cap, (size_t)Co * nb * howo) : NULL;
    if (!cols || (nb > 1 && !gath)) return;
    for (int n0 = 0; n0 < N; n0 += nb) {
        int cnt = N - n0 < nb ? N - n0 : nb;
        size_t ncol = cnt * howo;
        im2col_args a = { x + (size_t)n0 * Ci * H * W, cols, cnt, Ci, H, W, K, stride, pad, Ho, Wo };
        parallel_for(st, Ci, K * K * cnt * howo, im2col_range, &a);
        const float *g = dy + (size_t)n0 * Co * howo;
        if (cnt > 1) {
            gather_args ga = { gath, g, cnt, Co, howo, 1 };
            parallel_for(st, Co, cnt * howo, gather_range, &ga);
            g = gath;
        }
        /* dw (Co, rows) += g (Co, ncol) x cols^T (ncol, rows) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Co, (int)rows, (int)ncol,
                    1.0f, g, (int)ncol, cols, (int)ncol, 1.0f, dw, (int)rows);
        if (db)
            for (int co = 0; co < Co; co++) {
                float s = 0;
                for (int i = 0; i < cnt; i++) {
                    const float *gc = dy + ((size_t)(n0 + i) * Co + co) * howo;
                    for (size_t j = 0; j < howo; j++) s += gc[j];
                }
                db[co] += s;
            }
    }
}

/* ---- instance norm ------------------------------------------------------- */

typedef struct {
    float *y, *mean, *rstd, *dx, *part_g, *part_b;
    const float *x, *dy, *gamma, *beta;
    int C, HW;
    float eps;
    double *var_unbiased;    /* (N*C) for the running-var update, or NULL */
} instnorm_args;

static void instnorm_forward_range(void *ctx, size_t p0, size_t p1)
{
    const instnorm_args *a = ctx;
    int HW = a->HW;
    for (size_t pl = p0; pl < p1; pl++) {
        const float *x = a->x + pl * HW;
        float *y = a->y + pl * HW;
        double s = 0;
        for (int i = 0; i < HW; i++) s += x[i];
        double mu = s / HW, ss = 0;
        for (int i = 0; i < HW; i++) { double d = x[i] - mu; ss += d * d; }
        double var = ss / HW;
        float rstd = (float)(1.0 / sqrt(var + a->eps)), m = (float)mu;
        a->mean[pl] = m;
        a->rstd[pl] = rstd;
        if (a->var_unbiased) a->var_unbiased[pl] = HW > 1 ? ss / (HW - 1) : 0;
        int c = (int)(pl % a->C);
        float g = a->gamma[c] * rstd, b = a->beta[c];
        for (int i = 0; i < HW; i++) y[i] = (x[i] - m) * g + b;
    }
}

static void cpu_instnorm_forward(sg_backend *be, float *y, float *mean, float *rstd,
                                 const float *x, const float *gamma, const float *beta,
                                 float *running_mean, float *running_var,
                                 int N, int C, int HW, float eps, float momentum)
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
                        .C = C, .HW = HW, .eps = eps, .var_unbiased = varu };
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

static void instnorm_backward_range(void *ctx, size_t p0, size_t p1)
{
    const instnorm_args *a = ctx;
    int HW = a->HW;
    for (size_t pl = p0; pl < p1; pl++) {
        const float *x = a->x + pl * HW, *dy = a->dy + pl * HW;
        float *dx = a->dx + pl * HW;
        float m = a->mean[pl], r = a->rstd[pl], g = a->gamma[pl % a->C];
        double sdy = 0, sdyxh = 0;
        for (int i = 0; i < HW; i++) {
            float xh = (x[i] - m) * r;
            sdy += dy[i];
            sdyxh += (double)dy[i] * xh;
        }
        a->part_b[pl] = (float)sdy;
        a->part_g[pl] = (float)sdyxh;
        /* dx = g*r*(dy - mean(dy) - xhat*mean(dy*xhat)) */
        float mdy = (float)(sdy / HW), mdyxh = (float)(sdyxh / HW), gr = g * r;
        for (int i = 0; i < HW; i++) {
            float xh = (x[i] - m) * r;
            dx[i] = gr * (dy[i] - mdy - xh * mdyxh);
        }
    }
}

static void cpu_instnorm_backward(sg_backend *be, float *dx, float *dgamma, float *dbeta,
                                  const float *dy, const float *x, const float *mean,
                                  const float *rstd, const float *gamma, int N, int C, int HW)
{
    cpu_state *st = state(be);
    if (st->failed) return;
    size_t planes = (size_t)N * C;
    float *part = grow(be, &st->scratch_part, &st->part_cap, planes * 2);
    if (!part) return;
    instnorm_args a = { .dx = dx, .mean = (float *)mean, .rstd = (float *)rstd, .part_g = part,
                        .part_b = part + planes, .x = x, .dy = dy, .gamma = gamma, .C = C, .HW = HW };
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
    const float *a, *b, *c;
    float s;
    int kind;
} ew_args;

enum { EW_RELU, EW_RELU_BW, EW_LRELU, EW_LRELU_BW, EW_TANH, EW_TANH_BW, EW_ADD, EW_SCALE };

static void ew_range(void *ctx, size_t b0, size_t b1)
{
    const ew_args *e = ctx;
    float *y = e->y, s = e->s;
    const float *a = e->a, *b = e->b;
    switch (e->kind) {
    case EW_RELU:     for (size_t i = b0; i < b1; i++) y[i] = a[i] > 0 ? a[i] : 0; break;
    case EW_RELU_BW:  for (size_t i = b0; i < b1; i++) y[i] = b[i] > 0 ? a[i] : 0; break;
    case EW_LRELU:    for (size_t i = b0; i < b1; i++) y[i] = a[i] > 0 ? a[i] : a[i] * s; break;
    case EW_LRELU_BW: for (size_t i = b0; i < b1; i++) y[i] = b[i] > 0 ? a[i] : a[i] * s; break;
    case EW_TANH:     for (size_t i = b0; i < b1; i++) y[i] = tanhf(a[i]); break;
    case EW_TANH_BW:  for (size_t i = b0; i < b1; i++) y[i] = a[i] * (1 - b[i] * b[i]); break;
    case EW_ADD:      for (size_t i = b0; i < b1; i++) y[i] = a[i] + b[i]; break;
    case EW_SCALE:    for (size_t i = b0; i < b1; i++) y[i] = a[i] * s; break;
    }
}

static void ew(sg_backend *be, int kind, float *y, const float *a, const float *b, float s, size_t n)
{
    cpu_state *st = state(be);
    if (st->failed) return;
    ew_args e = { y, a, b, NULL, s, kind };
    parallel_for(st, n, kind == EW_TANH ? 16 : 1, ew_range, &e);
}

static void cpu_relu_forward(sg_backend *be, float *y, const float *x, size_t n) { ew(be, EW_RELU, y, x, NULL, 0, n); }
static void cpu_relu_backward(sg_backend *be, float *dx, const float *dy, const float *x, size_t n) { ew(be, EW_RELU_BW, dx, dy, x, 0, n); }
static void cpu_leaky_relu_forward(sg_backend *be, float *y, const float *x, float slope, size_t n) { ew(be, EW_LRELU, y, x, NULL, slope, n); }
static void cpu_leaky_relu_backward(sg_backend *be, float *dx, const float *dy, const float *x, float slope, size_t n) { ew(be, EW_LRELU_BW, dx, dy, x, slope, n); }
static void cpu_tanh_forward(sg_backend *be, float *y, const float *x, size_t n) { ew(be, EW_TANH, y, x, NULL, 0, n); }
static void cpu_tanh_backward(sg_backend *be, float *dx, const float *dy, const float *y, size_t n) { ew(be, EW_TANH_BW, dx, dy, y, 0, n); }
static void cpu_add(sg_backend *be, float *y, const float *a, const float *b, size_t n) { ew(be, EW_ADD, y, a, b, 0, n); }
static void cpu_scale(sg_backend *be, float *y, const float *x, float alpha, size_t n) { ew(be, EW_SCALE, y, x, NULL, alpha, n); }

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

static void adam_range(void *ctx, size_t i0, size_t i1)
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
                     float lr, float beta1, float beta2, float eps, int64_t t)
{
    cpu_state *st = state(be);
    if (st->failed) return;
    /* scalars in double like PyTorch's Python-side arithmetic */
    double bc1 = 1 - pow(beta1, (double)t), bc2 = 1 - pow(beta2, (double)t);
    adam_args a = { p, m, v, g, beta1, beta2, (float)(1 - (double)beta1), (float)(1 - (double)beta2),
                    (float)(lr / bc1), (float)sqrt(bc2), eps };
    parallel_for(st, n, 8, adam_range, &a);
}

static int cpu_all_finite(sg_backend *be, const float *p, size_t n)
{
    if (state(be)->failed) return -1;
    for (size_t i = 0; i < n; i++) if (!isfinite(p[i])) return 0;
    return 1;
}

static const sg_backend_ops cpu_ops = {
    .destroy = cpu_destroy, .sync = cpu_sync, .alloc = cpu_alloc, .free = cpu_free,
    .upload = cpu_memcpy, .download = cpu_download, .copy = cpu_memcpy, .memzero = cpu_memzero,
    .fill = cpu_fill,
    .conv2d_forward = cpu_conv2d_forward, .conv2d_backward_data = cpu_conv2d_backward_data,
    .conv2d_backward_filter = cpu_conv2d_backward_filter,
    .instnorm_forward = cpu_instnorm_forward, .instnorm_backward = cpu_instnorm_backward,
    .relu_forward = cpu_relu_forward, .relu_backward = cpu_relu_backward,
    .leaky_relu_forward = cpu_leaky_relu_forward, .leaky_relu_backward = cpu_leaky_relu_backward,
    .tanh_forward = cpu_tanh_forward, .tanh_backward = cpu_tanh_backward,
    .add = cpu_add, .scale = cpu_scale, .lerp_images = cpu_lerp_images,
    .concat_labels = cpu_concat_labels, .channel_slice = cpu_channel_slice,
    .mean_loss = cpu_mean_loss, .bce_logits_loss = cpu_bce_logits_loss,
    .softmax_ce_loss = cpu_softmax_ce_loss, .l1_loss = cpu_l1_loss, .gp_loss = cpu_gp_loss,
    .adam = cpu_adam, .all_finite = cpu_all_finite,
};

sg_backend *sg_backend_cpu_create(int nthreads, sg_err *err)
{
    if (nthreads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        nthreads = n > 0 ? (int)n : 1;
    }
    if (nthreads > 256) nthreads = 256;
    sg_backend *be = calloc(1, sizeof *be);
    cpu_state *st = calloc(1, sizeof *st);
    if (!be || !st) { free(be); free(st); sg_errf(err, "cpu backend: out of memory"); return NULL; }
    be->ops = &cpu_ops;
    be->name = "cpu";
    be->impl = st;
    if (pool_init(&st->pool, nthreads) != 0) {
        cpu_destroy(be);
        sg_errf(err, "cpu backend: cannot start %d threads", nthreads);
        return NULL;
    }
    openblas_set_num_threads(nthreads);
    return be;
}
