/* Every CUDA backend op against the CPU backend on random inputs at several
 * shapes, then one whole D step and G step of the model on both backends.
 * Prints one line per op with its worst element. Without CUDA at build time,
 * or with no usable GPU, every case is a SKIP and the run passes.
 *
 * Tolerances (|gpu - cpu| <= tol * (|cpu| + rms(cpu)) per element):
 *   fp32 backend: 1e-5 for every op except the cuDNN convolutions, 1e-4 for
 *   those (cuDNN's FFT and Winograd algorithms, which it may pick in fp32 mode,
 *   carry ~1e-5 relative error of their own); TF32 backend: the issue's 2e-3
 *   relative over each convolution's whole output (||gpu - cpu|| / ||cpu||:
 *   inputs cut to 10 mantissa bits give ~4e-4), and 5e-3 per element (the
 *   worst of ~2.6e5 outputs of the largest case lands near 2-3e-3, a bit more
 *   if the hardware truncates; the emulated GPU's worst is 1.3e-3 at the
 *   cases it runs); bf16 backend: the CPU convolves
 *   bf16-rounded copies of x, w and dy, and the convolutions get 1e-2 (see
 *   BF16_CONV_TOL).
 *
 * bf16 runs on machines without a GPU too: the NHWC emulator then rounds
 * like the CUDA backend's bf16 mode (tests/unit/nhwc_emulator.h). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "backend.h"
#include "backend_cuda_testing.h"
#include "check.h"
#include "model.h"
#include "rng.h"

#include "bf16_round.h"
#include "nhwc_emulator.h"

static sg_backend *cpu, *gpu;
/* The random draws' counter (rnd). Each step of main starts it at a value
 * of its own (step_draws), so that a step's inputs are the same whichever
 * steps ran before it: a part (--part K/N) checks the data a whole run does. */
static uint64_t draw_counter;
static int verbose = 1;

/* Host array of n uniform draws in [lo, hi). */
/* A CUDA backend created with one of its environment variables set (they
 * are read at creation), the variable cleared again. */
static sg_backend *cuda_with_env(const char *var, const char *value, const char *precision, sg_err *err)
{
    setenv(var, value, 1);
    sg_backend *be = sg_backend_cuda_create_precision(0, precision, err);
    unsetenv(var);
    return be;
}

/* Puts a CUDA backend of the caller's own (cuda_with_env; var NULL: no
 * variable) in place of the global gpu, keeping the one it replaces in
 * *saved for own_gpu_end. 0, or -1 (a failure of `what`, gpu unchanged). */
static int own_gpu_begin(sg_backend **saved, const char *var, const char *value, const char *precision,
                         const char *what)
{
    sg_err err;
    sg_backend *be = var ? cuda_with_env(var, value, precision, &err)
                         : sg_backend_cuda_create_precision(0, precision, &err);
    if (!be) {
        printf("FAIL %s backend: %s\n", what, err.msg);
        check_failed++;
        return -1;
    }
    *saved = gpu;
    gpu = be;
    return 0;
}

static void own_gpu_end(sg_backend *saved)
{
    sg_backend_destroy(gpu);
    gpu = saved;
}

static float *rnd(size_t n, float lo, float hi)
{
    float *h = malloc(n * sizeof(float) + 1);
    for (size_t i = 0; i < n; i++) h[i] = lo + (hi - lo) * sg_randu(42, 99, draw_counter++);
    return h;
}

static int sync_both(const char *what)
{
    sg_err err = { { 0 } };
    int ok = 1;
    if (cpu->ops->sync(cpu, &err)) { printf("FAIL %s: cpu backend: %s\n", what, err.msg); ok = 0; }
    if (gpu->ops->sync(gpu, &err)) { printf("FAIL %s: cuda backend: %s\n", what, err.msg); ok = 0; }
    if (!ok) check_failed++;
    return ok;
}

/* The same tensor on both backends. An activation (N,C,HW) or a conv weight
 * (A,B,KK) is (outer, mid, inner) and stored (outer, inner, mid) on an NHWC
 * gpu (lib/backend.h "Layout"); mid == 0: a flat tensor, the same on both. */
typedef struct { float *c, *g; size_t n; size_t outer, mid, inner; } pair;

static void permute(float *dst, const float *src, const pair *p, int to_gpu)
{
    sg_layout_permute(dst, src, p->outer, p->mid, p->inner, to_gpu);
}

static int gpu_permutes(const pair *p) { return gpu->nhwc && p->mid && p->inner > 1 && p->mid > 1; }

static pair pair_shaped(const float *host, size_t outer, size_t mid, size_t inner)
{
    size_t n = outer * mid * inner;
    pair p = { cpu->ops->alloc(cpu, n * sizeof(float) + 16), gpu->ops->alloc(gpu, n * sizeof(float) + 16),
               n, outer, mid, inner };
    if (!p.c || !p.g) { fprintf(stderr, "allocation of %zu floats failed\n", n); exit(1); }
    if (host) {
        cpu->ops->upload(cpu, p.c, host, n * sizeof(float));
        if (gpu_permutes(&p)) {
            float *t = malloc(n * sizeof(float) + 1);
            permute(t, host, &p, 1);
            gpu->ops->upload(gpu, p.g, t, n * sizeof(float));
            sync_both("upload");            /* t is freed next */
            free(t);
        } else {
            gpu->ops->upload(gpu, p.g, host, n * sizeof(float));
        }
    }
    return p;
}

static pair pair_from(const float *host, size_t n) { return pair_shaped(host, n, 1, 1); }

static pair pair_rand_shaped(float lo, float hi, size_t outer, size_t mid, size_t inner)
{
    float *h = rnd(outer * mid * inner, lo, hi);
    pair p = pair_shaped(h, outer, mid, inner);
    free(h);
    return p;
}

static pair pair_rand(size_t n, float lo, float hi) { return pair_rand_shaped(lo, hi, n, 1, 1); }

static void pair_free(pair p)
{
    cpu->ops->free(cpu, p.c);
    gpu->ops->free(gpu, p.g);
}

/* Compares n floats of the gpu copy with the cpu copy (at an element offset). */
/* norm_tol > 0: also ||gpu - cpu|| <= norm_tol * ||cpu|| over the tensor */
static void compare_at(const char *what, pair p, size_t off, size_t n, double tol, double norm_tol)
{
    if (!sync_both(what)) return;
    float *a = malloc(n * sizeof(float) + 1), *b = malloc(n * sizeof(float) + 1);
    gpu->ops->download(gpu, a, p.g + off, n * sizeof(float));
    cpu->ops->download(cpu, b, p.c + off, n * sizeof(float));
    sg_err err;
    if (gpu->ops->sync(gpu, &err)) {
        printf("FAIL %s: download: %s\n", what, err.msg);
        check_failed++;
        free(a); free(b);
        return;
    }
    if (gpu_permutes(&p)) {               /* whole shaped tensors only */
        float *t = malloc(n * sizeof(float) + 1);
        permute(t, a, &p, 0);
        free(a);
        a = t;
    }
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)b[i] * b[i];
    double rms = n ? sqrt(ss / n) : 0;
    double *da = malloc(n * sizeof(double) + 1), *db = malloc(n * sizeof(double) + 1);
    double worst = 0, diff_ss = 0; size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        da[i] = a[i]; db[i] = b[i];
        double e = fabs(da[i] - db[i]) / (fabs(db[i]) + rms + 1e-30);
        if (isnan(e) || e > worst) { worst = isnan(e) ? INFINITY : e; wi = i; }
        diff_ss += (da[i] - db[i]) * (da[i] - db[i]);
    }
    double rel_l2 = sqrt(diff_ss / (ss + 1e-300));
    if (verbose && norm_tol > 0)
        printf("  %-58s worst %.2e (tol %.0e) at %zu: gpu %.8g cpu %.8g; whole %.2e (tol %.0e)\n", what,
               worst, tol, wi, n ? a[wi] : 0.f, n ? b[wi] : 0.f, rel_l2, norm_tol);
    else if (verbose)
        printf("  %-58s worst %.2e (tol %.0e) at %zu: gpu %.8g cpu %.8g\n", what, worst, tol, wi,
               n ? a[wi] : 0.f, n ? b[wi] : 0.f);
    CHECK_CLOSE(what, da, db, (long)n, tol, tol * rms);
    if (norm_tol > 0)
        CHECK(rel_l2 <= norm_tol, "%s: ||gpu - cpu|| / ||cpu|| = %.3e over %zu values (tol %.0e)", what, rel_l2,
              n, norm_tol);
    free(a); free(b); free(da); free(db);
}

static void compare(const char *what, pair p, double tol) { compare_at(what, p, 0, p.n, tol, 0); }

/* ---- convolutions --------------------------------------------------------- */

typedef struct { int N, Ci, H, W, Co, K, s, p, bias; } conv_case;

/* TF32 convolutions: per element (of |cpu| + rms) and over the whole output
 * (the header's "Tolerances") */
#define TF32_CONV_TOL 5e-3
#define TF32_CONV_NORM_TOL 2e-3

/* bf16 convolutions against the CPU on bf16-rounded inputs. What is left
 * between the two: the GPU's output rounded to bf16 (half an ulp: at most
 * 2^-8 = 3.9e-3 of |y|, just above a power of two, so under 3.9e-3 in
 * compare()'s measure relative to |y| + rms; for backward-filter the rounded
 * part is the gradient added to dw, whose start values are small beside it),
 * and float accumulation in another order (~1e-6; a product of two bf16 is
 * exact in float). The emulated run (no GPU) lands at 2-3.3e-3. 1e-2 is 2.5
 * times the bound: room for an algorithm that rounds an intermediate too. */
#define BF16_CONV_TOL 1e-2

/* A CPU-backend copy of p's CPU tensor, rounded to bf16. */
static float *cpu_bf16_copy(pair p)
{
    float *h = malloc(p.n * sizeof(float) + 1), *d = cpu->ops->alloc(cpu, p.n * sizeof(float) + 16);
    if (!h || !d) { fprintf(stderr, "allocation of %zu floats failed\n", p.n); exit(1); }
    cpu->ops->download(cpu, h, p.c, p.n * sizeof(float));
    bf16_round_array(h, p.n);
    cpu->ops->upload(cpu, d, h, p.n * sizeof(float));
    free(h);
    return d;
}

/* Every element of the gpu copy is a bf16 value (its low 16 bits are 0):
 * what a bf16 convolution without bias writes; proves the bf16 path ran. */
static void check_bf16_values(const char *what, pair p)
{
    if (!sync_both(what)) return;
    float *a = malloc(p.n * sizeof(float) + 1);
    gpu->ops->download(gpu, a, p.g, p.n * sizeof(float));
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < p.n; i++) {
        uint32_t u;
        memcpy(&u, &a[i], sizeof u);
        if (u & 0xffffu) { if (!bad) first = i; bad++; }
    }
    CHECK(bad == 0, "%s: %zu of %zu outputs are not bf16 values (first at %zu: %.9g)", what, bad, p.n,
          first, bad ? a[first] : 0.f);
    free(a);
}

/* bf16: the gpu backend convolves in bf16 (its inputs rounded there), the
 * cpu reference gets rounded copies of x, w and dy; the bias gradient is
 * compared on the float dy (the bias ops stay float). */
static void test_conv_prec(const conv_case *k, double tol, double norm_tol, const char *mode, int bf16)
{
    int Ho = (k->H + 2 * k->p - k->K) / k->s + 1, Wo = (k->W + 2 * k->p - k->K) / k->s + 1;
    char name[160];
    size_t hw = (size_t)k->H * k->W, ohw = (size_t)Ho * Wo, kk = (size_t)k->K * k->K;
    pair x = pair_rand_shaped(-1, 1, k->N, k->Ci, hw), w = pair_rand_shaped(-0.2f, 0.2f, k->Co, k->Ci, kk);
    pair b = pair_rand(k->Co, -0.5f, 0.5f);
    /* y and dx start as garbage (the same on both): forward and backward-data
     * must overwrite them, an accumulating beta = 1 shows up */
    pair y = pair_rand_shaped(-5, 5, k->N, k->Co, ohw), dy = pair_rand_shaped(-1, 1, k->N, k->Co, ohw);
    pair dx = pair_rand_shaped(-5, 5, k->N, k->Ci, hw);
    pair dw = pair_rand_shaped(-0.1f, 0.1f, k->Co, k->Ci, kk), db = pair_rand(k->Co, -0.1f, 0.1f);   /* accumulated into */
    const float *bias_c = k->bias ? b.c : NULL, *bias_g = k->bias ? b.g : NULL;
    /* the cpu's convolution inputs: rounded copies in bf16 mode */
    float *xc = bf16 ? cpu_bf16_copy(x) : x.c, *wc = bf16 ? cpu_bf16_copy(w) : w.c;
    float *dyc = bf16 ? cpu_bf16_copy(dy) : dy.c;
    cpu->ops->conv2d_forward(cpu, y.c, xc, wc, bias_c, k->N, k->Ci, k->H, k->W, k->Co, k->K, k->s, k->p);
    gpu->ops->conv2d_forward(gpu, y.g, x.g, w.g, bias_g, k->N, k->Ci, k->H, k->W, k->Co, k->K, k->s, k->p);
    snprintf(name, sizeof name, "%s conv fwd N%d Ci%d %dx%d Co%d K%d s%d p%d%s", mode, k->N, k->Ci,
             k->H, k->W, k->Co, k->K, k->s, k->p, k->bias ? " +b" : "");
    compare_at(name, y, 0, y.n, tol, norm_tol);
    if (bf16 && !k->bias) check_bf16_values(name, y);

    cpu->ops->conv2d_backward_data(cpu, dx.c, dyc, wc, k->N, k->Ci, k->H, k->W, k->Co, k->K, k->s, k->p);
    gpu->ops->conv2d_backward_data(gpu, dx.g, dy.g, w.g, k->N, k->Ci, k->H, k->W, k->Co, k->K, k->s, k->p);
    snprintf(name, sizeof name, "%s conv bwd-data N%d Ci%d %dx%d Co%d K%d s%d p%d", mode, k->N, k->Ci,
             k->H, k->W, k->Co, k->K, k->s, k->p);
    compare_at(name, dx, 0, dx.n, tol, norm_tol);
    if (bf16) check_bf16_values(name, dx);

    if (bf16 && k->bias) {      /* the bias gradient from the float dy, as on the gpu */
        float *junk = cpu->ops->alloc(cpu, w.n * sizeof(float) + 16);
        cpu->ops->conv2d_backward_filter(cpu, junk, db.c, x.c, dy.c, k->N, k->Ci, k->H, k->W, k->Co,
                                         k->K, k->s, k->p);
        cpu->ops->free(cpu, junk);
    }
    cpu->ops->conv2d_backward_filter(cpu, dw.c, k->bias && !bf16 ? db.c : NULL, xc, dyc, k->N, k->Ci,
                                     k->H, k->W, k->Co, k->K, k->s, k->p);
    gpu->ops->conv2d_backward_filter(gpu, dw.g, k->bias ? db.g : NULL, x.g, dy.g, k->N, k->Ci, k->H,
                                     k->W, k->Co, k->K, k->s, k->p);
    snprintf(name, sizeof name, "%s conv bwd-filter (+=) N%d Ci%d %dx%d Co%d K%d s%d p%d", mode, k->N,
             k->Ci, k->H, k->W, k->Co, k->K, k->s, k->p);
    compare_at(name, dw, 0, dw.n, tol, norm_tol);
    if (k->bias) {
        snprintf(name, sizeof name, "%s conv bias grad (+=) Co%d", mode, k->Co);
        compare(name, db, 1e-5);
        /* dw NULL: the bias gradient alone (x not read), as the D step takes it */
        pair db2 = pair_rand(k->Co, -0.1f, 0.1f);
        cpu->ops->conv2d_backward_filter(cpu, NULL, db2.c, NULL, dy.c, k->N, k->Ci, k->H, k->W, k->Co,
                                         k->K, k->s, k->p);
        gpu->ops->conv2d_backward_filter(gpu, NULL, db2.g, NULL, dy.g, k->N, k->Ci, k->H, k->W, k->Co,
                                         k->K, k->s, k->p);
        snprintf(name, sizeof name, "%s conv bias grad alone (dw NULL, +=) Co%d", mode, k->Co);
        compare(name, db2, 1e-5);
        pair_free(db2);
    }
    if (bf16) {
        cpu->ops->free(cpu, xc); cpu->ops->free(cpu, wc); cpu->ops->free(cpu, dyc);
    }
    pair_free(x); pair_free(w); pair_free(b); pair_free(y); pair_free(dy); pair_free(dx);
    pair_free(dw); pair_free(db);
}

/* norm_tol: see compare_at (0: none) */
static void test_conv(const conv_case *k, double tol, double norm_tol, const char *mode)
{
    test_conv_prec(k, tol, norm_tol, mode, 0);
}

static const conv_case conv_cases[] = {
    /* G's first conv (3 + c_dim channels), 7x7 */
    { 2, 8, 16, 16, 16, 7, 1, 3, 0 },
    /* G's down-sampling 4x4 s2, an odd size */
    { 2, 16, 13, 13, 32, 4, 2, 1, 0 },
    /* residual block 3x3 */
    { 3, 32, 8, 8, 32, 3, 1, 1, 0 },
    /* D layer with bias, D src head, D cls head (kernel = image/64 = 2, no pad) */
    { 2, 3, 32, 32, 16, 4, 2, 1, 1 },
    { 2, 64, 4, 4, 1, 3, 1, 1, 0 },
    { 4, 64, 2, 2, 5, 2, 1, 0, 0 },
    /* the transposed conv's role: Cout -> Cin conv at the larger size */
    { 2, 16, 16, 16, 32, 4, 2, 1, 0 },
    /* a reference-size layer: 128 -> 256 channels at 32x32, batch 4 */
    { 4, 128, 32, 32, 256, 4, 2, 1, 0 },
    /* the model test's two-dataset shapes: G's first conv (3 + 9 channels),
     * G's last conv, D's cls head with 7 outputs */
    { 4, 12, 32, 32, 8, 7, 1, 3, 0 },
    { 4, 8, 32, 32, 3, 7, 1, 3, 0 },
    { 4, 64, 2, 2, 7, 2, 1, 0, 0 },
    /* the reference's 7x7 convs at 128x128 (batch 4) */
    { 4, 8, 128, 128, 64, 7, 1, 3, 0 },
    { 4, 64, 128, 128, 3, 7, 1, 3, 0 },
};
enum { CONV_CASES_128PX = 2 };         /* the last ones of conv_cases */

/* On the CPU emulation of CUDA (tests/emu) the 128x128 cases, whose only
 * purpose is the real GPU's choice of kernels at G's sizes, would take most
 * of the run: they are left out there. */
static int emulated;
static size_t n_conv_cases(void)
{
    size_t n = sizeof conv_cases / sizeof conv_cases[0];
    return emulated ? n - CONV_CASES_128PX : n;
}

/* ---- instance norm --------------------------------------------------------- */

/* A new pair holding p's CPU values on both backends. */
static pair pair_like_cpu(pair p)
{
    float *h = malloc(p.n * sizeof(float) + 1);
    cpu->ops->download(cpu, h, p.c, p.n * sizeof(float));
    pair q = pair_shaped(h, p.outer, p.mid, p.inner);
    free(h);
    return q;
}

/* The residual added in instnorm_forward's pass (relu 0, as G's residual
 * blocks use it): against the CPU, and bit for bit what the forward without
 * it followed by ops->add gives on the same backend. */
static void instnorm_residual_case(int N, int C, int HW, const char *path)
{
    char name[160];
    const size_t t = (size_t)N * C * HW;
    pair x = pair_rand_shaped(-2, 3, N, C, HW), gamma = pair_rand(C, 0.5f, 1.5f), beta = pair_rand(C, -0.5f, 0.5f);
    pair r = pair_rand_shaped(-1, 1, N, C, HW), y = pair_shaped(NULL, N, C, HW), y2 = pair_shaped(NULL, N, C, HW);
    pair mean = pair_from(NULL, (size_t)N * C), rstd = pair_from(NULL, (size_t)N * C);
    cpu->ops->instnorm_forward(cpu, y.c, mean.c, rstd.c, x.c, gamma.c, beta.c, NULL, NULL, N, C, HW, 1e-5f, 0.1f, 0, r.c);
    gpu->ops->instnorm_forward(gpu, y.g, mean.g, rstd.g, x.g, gamma.g, beta.g, NULL, NULL, N, C, HW, 1e-5f, 0.1f, 0, r.g);
    snprintf(name, sizeof name, "instnorm fwd +residual N%d C%d HW%d (%s)", N, C, HW, path);
    compare(name, y, 1e-5);
    cpu->ops->instnorm_forward(cpu, y2.c, mean.c, rstd.c, x.c, gamma.c, beta.c, NULL, NULL, N, C, HW, 1e-5f, 0.1f, 0, NULL);
    cpu->ops->add(cpu, y2.c, y2.c, r.c, t);
    gpu->ops->instnorm_forward(gpu, y2.g, mean.g, rstd.g, x.g, gamma.g, beta.g, NULL, NULL, N, C, HW, 1e-5f, 0.1f, 0, NULL);
    gpu->ops->add(gpu, y2.g, y2.g, r.g, t);
    float *a = malloc(2 * t * sizeof(float));
    gpu->ops->download(gpu, a, y.g, t * sizeof(float));
    gpu->ops->download(gpu, a + t, y2.g, t * sizeof(float));
    if (sync_both(name)) {
        CHECK(!memcmp(a, a + t, t * sizeof(float)), "%s: bit-equal to the forward then add", name);
        CHECK(!memcmp(y.c, y2.c, t * sizeof(float)), "%s: cpu: bit-equal to the forward then add", name);
    }
    free(a);
    pair_free(x); pair_free(gamma); pair_free(beta); pair_free(r); pair_free(y); pair_free(y2);
    pair_free(mean); pair_free(rstd);
}

/* relu 0 and 1 forward; backward without the ReLU mask, then with the relu
 * forward's output as y_relu */
static void test_instnorm(int N, int C, int HW, int running)
{
    char name[160];
    pair x = pair_rand_shaped(-2, 3, N, C, HW), gamma = pair_rand(C, 0.5f, 1.5f), beta = pair_rand(C, -0.5f, 0.5f);
    pair y = pair_shaped(NULL, N, C, HW), mean = pair_from(NULL, (size_t)N * C), rstd = pair_from(NULL, (size_t)N * C);
    pair rm = pair_rand(C, -0.1f, 0.1f), rv = pair_rand(C, 0.9f, 1.1f);
    pair dy = pair_rand_shaped(-1, 1, N, C, HW), dx = pair_shaped(NULL, N, C, HW);
    pair dg = pair_rand(C, -0.1f, 0.1f), dbt = pair_rand(C, -0.1f, 0.1f);
    for (int relu = 0; relu < 2; relu++) {
        cpu->ops->instnorm_forward(cpu, y.c, mean.c, rstd.c, x.c, gamma.c, beta.c, running ? rm.c : NULL,
                                   running ? rv.c : NULL, N, C, HW, 1e-5f, 0.1f, relu, NULL);
        gpu->ops->instnorm_forward(gpu, y.g, mean.g, rstd.g, x.g, gamma.g, beta.g, running ? rm.g : NULL,
                                   running ? rv.g : NULL, N, C, HW, 1e-5f, 0.1f, relu, NULL);
        snprintf(name, sizeof name, "instnorm fwd N%d C%d HW%d%s%s", N, C, HW, running ? " running" : "",
                 relu ? " relu" : "");
        compare(name, y, 1e-5);
        compare("  mean", mean, 1e-5);
        compare("  rstd", rstd, 1e-5);
        if (running) {
            compare("  running_mean", rm, 1e-5);
            compare("  running_var", rv, 1e-5);
        }
        /* the ReLU mask from the CPU's y on both: a y within rounding of 0
         * would mask dy differently and move its whole plane's sums */
        pair ym = relu ? pair_like_cpu(y) : y;
        cpu->ops->instnorm_backward(cpu, dx.c, dg.c, dbt.c, dy.c, relu ? ym.c : NULL, x.c, mean.c,
                                    rstd.c, gamma.c, N, C, HW);
        gpu->ops->instnorm_backward(gpu, dx.g, dg.g, dbt.g, dy.g, relu ? ym.g : NULL, x.g, mean.g,
                                    rstd.g, gamma.g, N, C, HW);
        if (relu) pair_free(ym);
        snprintf(name, sizeof name, "instnorm bwd N%d C%d HW%d%s", N, C, HW, relu ? " y_relu" : "");
        compare(name, dx, 1e-5);
        compare("  dgamma (+=)", dg, 1e-5);
        compare("  dbeta (+=)", dbt, 1e-5);
    }
    /* statistics only (y NULL: the G step's repeated running-statistics update) */
    cpu->ops->instnorm_forward(cpu, NULL, mean.c, rstd.c, x.c, gamma.c, beta.c, running ? rm.c : NULL,
                               running ? rv.c : NULL, N, C, HW, 1e-5f, 0.1f, 1, NULL);
    gpu->ops->instnorm_forward(gpu, NULL, mean.g, rstd.g, x.g, gamma.g, beta.g, running ? rm.g : NULL,
                               running ? rv.g : NULL, N, C, HW, 1e-5f, 0.1f, 1, NULL);
    snprintf(name, sizeof name, "instnorm fwd statistics only N%d C%d HW%d: mean", N, C, HW);
    compare(name, mean, 1e-5);
    compare("  rstd", rstd, 1e-5);
    if (running) {
        compare("  running_mean", rm, 1e-5);
        compare("  running_var", rv, 1e-5);
    }
    pair_free(x); pair_free(gamma); pair_free(beta); pair_free(y); pair_free(mean); pair_free(rstd);
    pair_free(rm); pair_free(rv); pair_free(dy); pair_free(dx); pair_free(dg); pair_free(dbt);
}

/* ---- elementwise ------------------------------------------------------------ */

/* off shifts the pointers by one float so the unaligned (scalar) path runs too. */
static void test_elementwise(size_t n, int off)
{
    char name[160];
    pair a = pair_rand(n + 1, -2, 2), b = pair_rand(n + 1, -2, 2), y = pair_from(NULL, n + 1);
    float *ac = a.c + off, *ag = a.g + off, *bc = b.c + off, *bg = b.g + off;
    float *yc = y.c + off, *yg = y.g + off;
#define EW1(label, call_c, call_g) do { \
        call_c; call_g; \
        snprintf(name, sizeof name, "%s n%zu%s", label, n, off ? " unaligned" : ""); \
        compare_at(name, y, off, n, 1e-5, 0); } while (0)
    EW1("leaky bwd", cpu->ops->leaky_relu_backward(cpu, yc, bc, ac, 0.01f, n),
        gpu->ops->leaky_relu_backward(gpu, yg, bg, ag, 0.01f, n));
    EW1("tanh fwd", cpu->ops->tanh_forward(cpu, yc, ac, n), gpu->ops->tanh_forward(gpu, yg, ag, n));
    EW1("tanh bwd", cpu->ops->tanh_backward(cpu, yc, bc, ac, n), gpu->ops->tanh_backward(gpu, yg, bg, ag, n));
    EW1("add", cpu->ops->add(cpu, yc, ac, bc, n), gpu->ops->add(gpu, yg, ag, bg, n));
    EW1("fill", cpu->ops->fill(cpu, yc, 0.25f, n), gpu->ops->fill(gpu, yg, 0.25f, n));
    /* in place, as the model's GP chain calls it: y = leaky'(a) (.) y */
    EW1("leaky bwd in place", cpu->ops->leaky_relu_backward(cpu, yc, yc, ac, 0.2f, n),
        gpu->ops->leaky_relu_backward(gpu, yg, yg, ag, 0.2f, n));
#undef EW1
    pair_free(a); pair_free(b); pair_free(y);
}

static void test_layout_ops(void)
{
    int N = 3, Cx = 3, Cc = 7, HW = 37;
    pair x = pair_rand_shaped(-1, 1, N, Cx, HW), lab = pair_rand((size_t)N * Cc, 0, 1);
    pair out = pair_shaped(NULL, N, Cx + Cc, HW);
    cpu->ops->concat_labels(cpu, out.c, x.c, lab.c, N, Cx, Cc, HW);
    gpu->ops->concat_labels(gpu, out.g, x.g, lab.g, N, Cx, Cc, HW);
    compare("concat_labels N3 Cx3 Cc7 HW37", out, 0);
    pair sl = pair_shaped(NULL, N, 4, HW);
    cpu->ops->channel_slice(cpu, sl.c, out.c, N, Cx + Cc, 2, 4, HW);
    gpu->ops->channel_slice(gpu, sl.g, out.g, N, Cx + Cc, 2, 4, HW);
    compare("channel_slice c0 2 Cd 4", sl, 0);
    /* NCHW in, the backend's layout out, and back */
    pair flat = pair_rand((size_t)N * Cx * HW, -1, 1), shaped = pair_shaped(NULL, N, Cx, HW);
    cpu->ops->to_layout(cpu, shaped.c, flat.c, N, Cx, HW);
    gpu->ops->to_layout(gpu, shaped.g, flat.g, N, Cx, HW);
    compare("to_layout N3 C3 HW37", shaped, 0);
    pair back = pair_from(NULL, (size_t)N * Cx * HW);
    cpu->ops->from_layout(cpu, back.c, shaped.c, N, Cx, HW);
    gpu->ops->from_layout(gpu, back.g, shaped.g, N, Cx, HW);
    compare("from_layout N3 C3 HW37", back, 0);
    pair_free(flat); pair_free(shaped); pair_free(back);
    /* an image of 1456 px: more than 65535 tiles of 32 pixels, over a
     * grid's y limit when one block took one tile of rows */
    {
        const int big_hw = 1456 * 1456;
        pair f = pair_rand((size_t)Cx * big_hw, -1, 1), s = pair_shaped(NULL, 1, Cx, big_hw);
        cpu->ops->to_layout(cpu, s.c, f.c, 1, Cx, big_hw);
        gpu->ops->to_layout(gpu, s.g, f.g, 1, Cx, big_hw);
        compare("to_layout N1 C3 1456x1456", s, 0);
        pair r = pair_from(NULL, (size_t)Cx * big_hw);
        cpu->ops->from_layout(cpu, r.c, s.c, 1, Cx, big_hw);
        gpu->ops->from_layout(gpu, r.g, s.g, 1, Cx, big_hw);
        compare("from_layout N1 C3 1456x1456", r, 0);
        pair_free(f); pair_free(s); pair_free(r);
    }

    size_t per = 3 * 17 * 17;
    pair a = pair_rand(4 * per, -1, 1), b = pair_rand(4 * per, -1, 1), al = pair_rand(4, 0, 1);
    pair o = pair_from(NULL, 4 * per);
    cpu->ops->lerp_images(cpu, o.c, a.c, b.c, al.c, 4, per);
    gpu->ops->lerp_images(gpu, o.g, a.g, b.g, al.g, 4, per);
    compare("lerp_images N4", o, 1e-5);
    pair_free(x); pair_free(lab); pair_free(out); pair_free(sl);
    pair_free(a); pair_free(b); pair_free(al); pair_free(o);
}

/* The batch's random draws (ops->draw_batch): the same host/device code on
 * both sides, so bit-equal; permuted and random targets, one and several
 * datasets, a batch larger than the kernel's block. */
static void test_draw_batch(void)
{
    static const struct { int n, c_dim, off, dim, one_hot, mask_col, random; } cases[] = {
        { 16, 5, 0, 5, 0, -1, 0 },     /* CelebA alone: the reference's permutation */
        { 16, 5, 0, 5, 0, -1, 1 },
        { 7, 15, 5, 8, 1, 14, 1 },     /* CelebA + RaFD, a RaFD batch: one class, mask */
        { 7, 15, 0, 5, 0, 13, 0 },
        { 300, 15, 5, 8, 1, 14, 0 },
        { 300, 15, 0, 5, 0, 13, 1 },
    };
    char name[160];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n = cases[i].n, C = cases[i].c_dim;
        sg_batch_draw d = { .seed = 0x5eed0000u + i, .iter = (int64_t)i * 400001, .n = n, .c_dim = C,
                            .label_off = cases[i].off, .label_dim = cases[i].dim,
                            .one_hot = cases[i].one_hot, .mask_col = cases[i].mask_col,
                            .random_targets = cases[i].random };
        pair corg = pair_rand((size_t)n * C, 0, 1), ctrg = pair_from(NULL, (size_t)n * C), al = pair_from(NULL, n);
        cpu->ops->draw_batch(cpu, ctrg.c, al.c, corg.c, &d);
        gpu->ops->draw_batch(gpu, ctrg.g, al.g, corg.g, &d);
        snprintf(name, sizeof name, "draw_batch c_trg n%d c_dim%d %s", n, C, d.random_targets ? "random" : "permuted");
        compare(name, ctrg, 0);
        compare("  alpha", al, 0);
        pair_free(corg); pair_free(ctrg); pair_free(al);
    }
}

/* D's bias + LeakyReLU in place, both layouts' paths: per plane (NCHW), per
 * element and four channels at a time (NHWC, C % 4 == 0) */
static void test_bias_leaky_relu(void)
{
    static const int shapes[][3] = { { 2, 3, 37 }, { 4, 64, 256 }, { 3, 6, 100 }, { 48, 16, 1024 } };
    char name[160];
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        int N = shapes[i][0], C = shapes[i][1], HW = shapes[i][2];
        pair y = pair_rand_shaped(-1, 1, N, C, HW), b = pair_rand(C, -0.5f, 0.5f);
        cpu->ops->bias_leaky_relu(cpu, y.c, b.c, 0.01f, N, C, HW);
        gpu->ops->bias_leaky_relu(gpu, y.g, b.g, 0.01f, N, C, HW);
        snprintf(name, sizeof name, "bias_leaky_relu N%d C%d HW%d", N, C, HW);
        compare(name, y, 1e-6);
        pair_free(y); pair_free(b);
    }
}

/* D's LeakyReLU backward with its bias gradient (ops->leaky_relu_backward_bias):
 * against the CPU, and on each backend bit for bit the two ops it stands for
 * (leaky_relu_backward, then conv2d_backward_filter's bias gradient over the
 * first n_bias rows), which is what keeps a D step's bits. Both layouts'
 * kernels: C off and on the 32-channel tiles, HW with and without whole
 * groups of unrolled rows and a tail, n_bias 0, between and N, in place
 * (dx == dy, as the model calls it), db NULL (the mask alone). */
static void test_leaky_relu_backward_bias(void)
{
    static const struct { int N, n_bias, C, HW, in_place, with_db; } cases[] = {
        { 3, 2, 5, 37, 0, 1 },
        { 6, 4, 64, 256, 1, 1 },
        { 9, 6, 40, 100, 1, 1 },       /* 100 rows: one group of 64 per tile row, then a tail */
        { 5, 5, 2048, 4, 1, 1 },       /* D's last layer at 128 px: 4 pixels, n_bias = N */
        { 12, 8, 32, 1024, 1, 1 },
        { 4, 0, 16, 64, 0, 1 },        /* no rows for the bias: db unchanged */
        { 4, 3, 16, 64, 1, 0 },        /* db NULL */
    };
    char name[160];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int N = cases[i].N, nb = cases[i].n_bias, C = cases[i].C, HW = cases[i].HW;
        size_t t = (size_t)N * C * HW;
        pair x = pair_rand_shaped(-1, 1, N, C, HW), dy = pair_rand_shaped(-1, 1, N, C, HW);
        pair db = pair_rand(C, -0.1f, 0.1f);   /* accumulated into */
        /* the two steps on copies of dy and db */
        pair ref = pair_like_cpu(dy), ref_db = pair_like_cpu(db);
        pair dx = cases[i].in_place ? dy : pair_rand_shaped(-5, 5, N, C, HW);
        float *dbc = cases[i].with_db ? db.c : NULL, *dbg = cases[i].with_db ? db.g : NULL;
        cpu->ops->leaky_relu_backward_bias(cpu, dx.c, dbc, dy.c, x.c, 0.01f, N, C, HW, nb);
        gpu->ops->leaky_relu_backward_bias(gpu, dx.g, dbg, dy.g, x.g, 0.01f, N, C, HW, nb);
        snprintf(name, sizeof name, "leaky_relu_backward_bias N%d n_bias%d C%d HW%d%s%s", N, nb, C, HW,
                 cases[i].in_place ? " in place" : "", cases[i].with_db ? "" : " db NULL");
        compare(name, dx, 1e-5);
        compare("  db (+=)", db, 1e-5);
        cpu->ops->leaky_relu_backward(cpu, ref.c, ref.c, x.c, 0.01f, t);
        gpu->ops->leaky_relu_backward(gpu, ref.g, ref.g, x.g, 0.01f, t);
        if (cases[i].with_db && nb > 0) {
            cpu->ops->conv2d_backward_filter(cpu, NULL, ref_db.c, NULL, ref.c, nb, 1, 1, HW, C, 1, 1, 0);
            gpu->ops->conv2d_backward_filter(gpu, NULL, ref_db.g, NULL, ref.g, nb, 1, 1, HW, C, 1, 1, 0);
        }
        float *h = malloc((2 * t + 2 * C) * sizeof(float));
        gpu->ops->download(gpu, h, dx.g, t * sizeof(float));
        gpu->ops->download(gpu, h + t, ref.g, t * sizeof(float));
        gpu->ops->download(gpu, h + 2 * t, db.g, C * sizeof(float));
        gpu->ops->download(gpu, h + 2 * t + C, ref_db.g, C * sizeof(float));
        if (sync_both(name)) {
            CHECK(!memcmp(h, h + t, t * sizeof(float)) && !memcmp(h + 2 * t, h + 2 * t + C, C * sizeof(float)),
                  "%s: dx and db bit-equal to leaky_relu_backward then the bias gradient", name);
            CHECK(!memcmp(dx.c, ref.c, t * sizeof(float)) && !memcmp(db.c, ref_db.c, C * sizeof(float)),
                  "%s: cpu: dx and db bit-equal to leaky_relu_backward then the bias gradient", name);
        }
        free(h);
        pair_free(x); pair_free(dy); pair_free(db); pair_free(ref); pair_free(ref_db);
        if (!cases[i].in_place) pair_free(dx);
    }
}

/* ---- losses ------------------------------------------------------------------ */

static void test_losses(void)
{
    char name[160];
    size_t sizes[] = { 64, 100003 };
    for (int k = 0; k < 2; k++) {
        size_t n = sizes[k];
        pair x = pair_rand(n, -3, 2), g = pair_from(NULL, n), loss = pair_from(NULL, 1);
        cpu->ops->mean_loss(cpu, loss.c, g.c, x.c, n, -1.f, 1.f);
        gpu->ops->mean_loss(gpu, loss.g, g.g, x.g, n, -1.f, 1.f);
        snprintf(name, sizeof name, "mean_loss value n%zu", n);
        compare(name, loss, 1e-5);
        compare("  grad", g, 1e-5);
        pair y2 = pair_rand(n, -3, 2);
        cpu->ops->l1_loss(cpu, loss.c, g.c, x.c, y2.c, n, 10.f);
        gpu->ops->l1_loss(gpu, loss.g, g.g, x.g, y2.g, n, 10.f);
        snprintf(name, sizeof name, "l1_loss value n%zu", n);
        compare(name, loss, 1e-5);
        compare("  grad", g, 1e-5);
        pair_free(x); pair_free(g); pair_free(loss); pair_free(y2);
    }
    /* classification: logits (N, 9) columns [2, 7), targets (N, 6) columns [1, 6) */
    int N = 16, ldl = 9, off = 2, ldt = 6, toff = 1, C = 5;
    float *t = rnd((size_t)N * ldt, 0, 1);
    for (size_t i = 0; i < (size_t)N * ldt; i++) t[i] = t[i] > 0.5f ? 1.f : 0.f;
    pair lg = pair_rand((size_t)N * ldl, -4, 4), tg = pair_from(t, (size_t)N * ldt);
    pair gr = pair_rand((size_t)N * ldl, -1, 1), loss = pair_from(NULL, 1);
    cpu->ops->bce_logits_loss(cpu, loss.c, gr.c, lg.c, ldl, off, tg.c, ldt, toff, N, C, 1.f);
    gpu->ops->bce_logits_loss(gpu, loss.g, gr.g, lg.g, ldl, off, tg.g, ldt, toff, N, C, 1.f);
    compare("bce_logits_loss value N16 C5 (sliced)", loss, 1e-5);
    compare("  grad (other columns untouched)", gr, 1e-5);
    /* one-hot targets for the softmax */
    for (int n = 0; n < N; n++)
        for (int j = 0; j < C; j++) t[(size_t)n * ldt + toff + j] = (j == n % C);
    pair tg1 = pair_from(t, (size_t)N * ldt);
    cpu->ops->softmax_ce_loss(cpu, loss.c, gr.c, lg.c, ldl, off, tg1.c, ldt, toff, N, C, 2.f);
    gpu->ops->softmax_ce_loss(gpu, loss.g, gr.g, lg.g, ldl, off, tg1.g, ldt, toff, N, C, 2.f);
    compare("softmax_ce_loss value N16 C5 (sliced)", loss, 1e-5);
    compare("  grad", gr, 1e-5);
    free(t);
    pair_free(lg); pair_free(tg); pair_free(gr); pair_free(loss); pair_free(tg1);

    size_t D = 3 * 32 * 32;
    pair u = pair_rand(4 * D, -0.03f, 0.03f), gu = pair_from(NULL, 4 * D), l2 = pair_from(NULL, 1);
    cpu->ops->gp_loss(cpu, l2.c, gu.c, u.c, 4, D, 10.f);
    gpu->ops->gp_loss(gpu, l2.g, gu.g, u.g, 4, D, 10.f);
    compare("gp_loss value N4 D3072", l2, 1e-5);
    compare("  grad", gu, 1e-5);
    pair_free(u); pair_free(gu); pair_free(l2);
}

static void test_adam(void)
{
    size_t n = 10007;
    pair p = pair_rand(n, -0.1f, 0.1f), m = pair_from(NULL, n), v = pair_from(NULL, n);
    for (int t = 1; t <= 3; t++) {
        pair g = pair_rand(n, -1e-2f, 1e-2f);
        cpu->ops->adam(cpu, p.c, g.c, m.c, v.c, n, 1e-4f, 0.5, 0.999, 1e-8f, t);
        gpu->ops->adam(gpu, p.g, g.g, m.g, v.g, n, 1e-4f, 0.5, 0.999, 1e-8f, t);
        pair_free(g);
    }
    /* the same float operations in the same order: ulps apart (FMA
     * contraction), so that a 1 - beta taken in float (1.3e-5 of v) shows */
    compare("adam p after 3 steps n10007", p, 1e-6);
    compare("  m", m, 1e-6);
    compare("  v", v, 1e-6);
    pair_free(p); pair_free(m); pair_free(v);
}

static void test_all_finite(void)
{
    size_t n = 5000;
    pair p = pair_rand(n, -1, 1);
    CHECK(gpu->ops->all_finite(gpu, p.g, n) == 1, "all_finite on finite data");
    float nan_v = NAN, inf_v = INFINITY;
    gpu->ops->upload(gpu, p.g + 4321, &nan_v, sizeof nan_v);
    CHECK(gpu->ops->all_finite(gpu, p.g, n) == 0, "all_finite finds a NaN");
    gpu->ops->upload(gpu, p.g + 4321, &inf_v, sizeof inf_v);
    CHECK(gpu->ops->all_finite(gpu, p.g, n) == 0, "all_finite finds an Inf");
    pair_free(p);
}

/* ---- whole steps of the model ---------------------------------------------------- */

static int model_tensors_compare(sg_model *mc, sg_model *mg, sg_net net, double rtol, double atol,
                                 const char *label)
{
    const sg_tensor_info *list;
    int nt = sg_model_tensors(mc, net, &list);
    sg_err err;
    int bad = 0;
    for (int i = 0; i < nt; i++) {
        if (list[i].dtype != SG_DTYPE_F32) continue;
        size_t n = list[i].numel;
        float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
        if (sg_model_get_tensor(mg, net, i, a, &err) || sg_model_get_tensor(mc, net, i, b, &err)) {
            printf("FAIL get_tensor %s: %s\n", list[i].name, err.msg);
            check_failed++;
            free(a); free(b);
            return -1;
        }
        double *da = malloc(n * sizeof(double)), *db = malloc(n * sizeof(double));
        double worst = 0; size_t wi = 0;
        for (size_t j = 0; j < n; j++) {
            da[j] = a[j]; db[j] = b[j];
            double e = fabs(da[j] - db[j]) - (atol + rtol * fabs(db[j]));
            if (isnan(e) || e > worst) { worst = isnan(e) ? INFINITY : e; wi = j; }
        }
        char name[160];
        snprintf(name, sizeof name, "%s %s %s", label, net == SG_NET_G ? "G" : "D", list[i].name);
        if (!CHECK_CLOSE(name, da, db, (long)n, rtol, atol)) bad++;
        else if (verbose > 1 || worst > 0)
            printf("  %-58s worst excess %.2e at %zu\n", name, worst, wi);
        free(a); free(b); free(da); free(db);
    }
    return bad;
}

/* Gradients left by the last step, |gpu - cpu| <= tol * (|cpu| + rms(cpu)) per
 * element; tol 0: no element checked, but the whole net's gradient (every
 * trainable tensor as one vector) must satisfy |gpu - cpu| <= tol_all |cpu|. */
static void model_grads_compare(sg_model *mc, sg_model *mg, sg_net net, double tol, double tol_all,
                                const char *label)
{
    const sg_tensor_info *list;
    int nt = sg_model_tensors(mc, net, &list);
    sg_err err;
    double worst_all = 0, worst_norm = 0, sd_all = 0, ss_all = 0;
    const char *worst_name = "", *worst_norm_name = "";
    double **kept_a = calloc(nt, sizeof *kept_a), **kept_b = calloc(nt, sizeof *kept_b);
    double *kept_rms = calloc(nt, sizeof *kept_rms);
    for (int i = 0; i < nt; i++) {
        if (!list[i].trainable) continue;
        size_t n = list[i].numel;
        float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
        if (sg_model_get_grad(mg, net, i, a, &err) || sg_model_get_grad(mc, net, i, b, &err)) {
            printf("FAIL get_grad %s: %s\n", list[i].name, err.msg);
            check_failed++;
            free(a); free(b);
            for (int j = 0; j < i; j++) { free(kept_a[j]); free(kept_b[j]); }
            free(kept_a); free(kept_b); free(kept_rms);
            return;
        }
        double ss = 0;
        for (size_t j = 0; j < n; j++) ss += (double)b[j] * b[j];
        double rms = sqrt(ss / n);
        double *da = malloc(n * sizeof(double)), *db = malloc(n * sizeof(double));
        double worst = 0, sd = 0;
        for (size_t j = 0; j < n; j++) {
            da[j] = a[j]; db[j] = b[j];
            double e = fabs(da[j] - db[j]) / (fabs(db[j]) + rms + 1e-30);
            if (isnan(e) || e > worst) worst = isnan(e) ? INFINITY : e;
            sd += (da[j] - db[j]) * (da[j] - db[j]);
        }
        if (worst > worst_all) { worst_all = worst; worst_name = list[i].name; }
        sd_all += sd;
        ss_all += ss;
        double rel_norm = sqrt(sd / (ss + 1e-300));   /* |gpu - cpu| / |cpu| over the tensor */
        if (isnan(rel_norm) || rel_norm > worst_norm) {
            worst_norm = isnan(rel_norm) ? INFINITY : rel_norm;
            worst_norm_name = list[i].name;
        }
        free(a); free(b);
        kept_a[i] = da; kept_b[i] = db; kept_rms[i] = rms;
    }
    /* Per element first. Where that fails while every tensor agrees within
     * KINK_NORM as a whole, a ReLU or L1 kink flipped: an input within
     * rounding of 0 on one backend and of the other sign on the other (two
     * correct float orders), which moves one position's gradient and then,
     * through every layer below, many weights a little. Seen with the CUDA
     * emulation (tests/emu), whose convolutions sum in another order than
     * the CPU's. A wrong kernel or wiring moves a whole tensor. */
    const double KINK_NORM = 3e-2;
    int kink = tol > 0 && worst_all > tol && worst_norm <= KINK_NORM;
    for (int i = 0; i < nt; i++) {
        if (!list[i].trainable) continue;
        char name[160];
        snprintf(name, sizeof name, "%s %s grad %s", label, net == SG_NET_G ? "G" : "D", list[i].name);
        if (tol > 0 && !kink) CHECK_CLOSE(name, kept_a[i], kept_b[i], (long)list[i].numel, tol, tol * kept_rms[i]);
        free(kept_a[i]); free(kept_b[i]);
    }
    free(kept_a); free(kept_b); free(kept_rms);
    if (tol > 0) {
        printf("  %-58s worst %.2e (tol %.0e) in %s; |gpu - cpu| / |cpu| per tensor %.2e at worst (%s)\n",
               label, worst_all, tol, worst_name, worst_norm, worst_norm_name);
        if (kink)
            printf("  %-58s per element over tolerance, every tensor within %.0e as a whole: a kink "
                   "flipped between the backends (allowed)\n", label, KINK_NORM);
        CHECK(!kink || worst_norm <= KINK_NORM, "%s: kink allowance", label);
        return;
    }
    double all = sqrt(sd_all / (ss_all + 1e-300));
    printf("  %-58s worst %.2e in %s (not checked); |gpu - cpu| / |cpu| per tensor %.2e at worst "
           "(%s), over the net %.2e (tol %.2g)\n", label, worst_all, worst_name, worst_norm,
           worst_norm_name, all, tol_all);
    CHECK(all <= tol_all, "%s %s: |gpu - cpu| / |cpu| over the net's gradient %.3g > %.3g", label,
          net == SG_NET_G ? "G" : "D", all, tol_all);
}

/* Labels of a batch of n for dataset ds (layout of sg_model_c_dim: every
 * dataset's slice, then the mask when there are several): multi-hot or
 * one-hot in ds's slice, zeros elsewhere. */
static void make_labels(const sg_model_config *cfg, int ds, int n, float *c)
{
    int cdim = sg_model_c_dim(cfg), off = sg_model_label_offset(cfg, ds), C = cfg->label_dim[ds];
    memset(c, 0, (size_t)n * cdim * sizeof(float));
    for (int i = 0; i < n; i++) {
        float *ci = c + (size_t)i * cdim;
        if (cfg->one_hot[ds]) ci[off + (i * 7 + 3) % C] = 1;
        else for (int j = 0; j < C; j++) ci[off + j] = sg_randu(42, 77, draw_counter++) < 0.5f;
        if (cfg->n_datasets > 1) ci[sg_model_cls_dim(cfg) + ds] = 1;
    }
}

/* Fresh models of cfg with the same weights on both backends and the same
 * batch of dataset ds; NULL models on failure (reported). */
static int model_pair(const sg_model_config *cfg, int ds, sg_model **mc, sg_model **mg)
{
    sg_err err;
    *mc = *mg = NULL;
    if (sg_model_create(mc, cfg, cpu, 7, &err) || sg_model_create(mg, cfg, gpu, 7, &err)) {
        printf("FAIL model create: %s\n", err.msg);
        check_failed++;
        sg_model_free(*mc);
        sg_model_free(*mg);
        *mc = *mg = NULL;
        return -1;
    }
    int n = cfg->batch, S = cfg->image_size, cdim = sg_model_c_dim(cfg);
    uint64_t saved = draw_counter;
    draw_counter = 1000;              /* the same batch for every pair of a case */
    float *x = rnd((size_t)n * 3 * S * S, -1, 1), *corg = malloc((size_t)n * cdim * sizeof(float));
    float *ctrg = malloc((size_t)n * cdim * sizeof(float)), *alpha = rnd(n, 0, 1);
    make_labels(cfg, ds, n, corg);
    draw_counter = saved > draw_counter ? saved : draw_counter;
    for (int i = 0; i < n; i++)  /* the permutation target of the reference: rotate by one */
        memcpy(ctrg + (size_t)i * cdim, corg + (size_t)((i + 1) % n) * cdim, cdim * sizeof(float));
    int rc = 0;
    if (sg_model_set_batch(*mc, ds, n, x, corg, ctrg, alpha, &err) ||
        sg_model_set_batch(*mg, ds, n, x, corg, ctrg, alpha, &err)) {
        printf("FAIL set_batch (dataset %d): %s\n", ds, err.msg);
        check_failed++;
        rc = -1;
    }
    free(x); free(corg); free(ctrg); free(alpha);
    return rc;
}

/* Tolerances of the model-step comparisons: losses |gpu - cpu| <= rtol |cpu|
 * + atol; gradients as model_grads_compare (grad per element, or 0 and
 * grad_all over the net); the tensors after the steps with relative
 * tolerance after_rtol (model_steps_case). */
typedef struct { double loss_rtol, loss_atol, grad, grad_all, after_rtol; } step_tol;
static const step_tol fp32_steps = { 1e-3, 1e-5, 1e-3, 0, 1e-4 };

static void compare_losses(sg_model *mc, sg_model *mg, int first, int last, const step_tol *tol)
{
    sg_err err;
    sg_losses lc, lgpu;
    if (sg_model_read_losses(mc, &lc, &err) || sg_model_read_losses(mg, &lgpu, &err)) {
        printf("FAIL read_losses: %s\n", err.msg);
        check_failed++;
        return;
    }
    const char *names[] = { "D/loss_real", "D/loss_fake", "D/loss_cls", "D/loss_gp",
                            "G/loss_fake", "G/loss_rec", "G/loss_cls" };
    float *a = &lgpu.d_loss_real, *b = &lc.d_loss_real;
    for (int i = first; i <= last; i++) {
        double da = a[i], db = b[i];
        printf("  step %-12s gpu %.8g cpu %.8g\n", names[i], a[i], b[i]);
        CHECK_CLOSE(names[i], &da, &db, 1, tol->loss_rtol, tol->loss_atol);
    }
}

/* Dataset ds, each part from fresh models with equal weights:
 *  1. a G step alone: G's losses and gradients;
 *  2. a D step: D's losses and gradients, then a G step, and both nets'
 *     parameters after their Adam steps.
 * G's gradients are compared only where both backends start from equal
 * parameters: after D's Adam step the two D's differ by up to 2 lr per
 * weight (a gradient near zero moves its weight either way), and G's next
 * gradients then differ through LeakyReLU kinks by about 1% (measured with
 * the CPU standing in for CUDA and 1% of D's weights moved by 2 lr), which
 * says nothing about the backend. g_only: part 1 alone. */
static void model_steps_case(const sg_model_config *cfg, int ds, int g_only, const step_tol *tol)
{
    sg_err err;
    sg_model *mc, *mg;
    float lr = 1e-4f;
    if (model_pair(cfg, ds, &mc, &mg)) return;
    if (sg_model_g_step(mc, lr, &err) || sg_model_g_step(mg, lr, &err)) {
        printf("FAIL G step (dataset %d): %s\n", ds, err.msg);
        check_failed++;
    } else {
        compare_losses(mc, mg, 4, 6, tol);
        model_grads_compare(mc, mg, SG_NET_G, tol->grad, tol->grad_all, "G step gradients");
    }
    sg_model_free(mc);
    sg_model_free(mg);
    if (g_only || model_pair(cfg, ds, &mc, &mg)) return;
    if (sg_model_d_step(mc, lr, &err) || sg_model_d_step(mg, lr, &err)) {
        printf("FAIL D step (dataset %d): %s\n", ds, err.msg);
        check_failed++;
    } else {
        compare_losses(mc, mg, 0, 3, tol);
        model_grads_compare(mc, mg, SG_NET_D, tol->grad, tol->grad_all, "D step gradients");
        if (sg_model_g_step(mc, lr, &err) || sg_model_g_step(mg, lr, &err)) {
            printf("FAIL G step after D (dataset %d): %s\n", ds, err.msg);
            check_failed++;
        } else {
            /* One Adam step moves a weight by about lr whatever the size of its
             * gradient, so a gradient near zero may move it either way on the two
             * backends: allow 2 lr (one step per net) + lr/2. */
            double atol = 2.5 * lr;
            model_tensors_compare(mc, mg, SG_NET_D, tol->after_rtol, atol, "after the steps");
            model_tensors_compare(mc, mg, SG_NET_G, tol->after_rtol, atol, "after the steps");
        }
    }
    sg_model_free(mc);
    sg_model_free(mg);
}

/* One D step and one G step per dataset on both backends; multi: two
 * datasets (BCE and one-hot softmax) with the mask vector, each from fresh
 * models (model_steps_case), then G steps without the classification term
 * and without the reconstruction term (which path a failure is on). */
static void test_model_steps(int multi, const step_tol *tol)
{
    sg_model_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.image_size = 32;
    cfg.n_datasets = multi ? 2 : 1;
    cfg.label_dim[0] = multi ? 3 : 5;
    cfg.label_dim[1] = 4;
    cfg.one_hot[1] = 1;
    cfg.g_conv_dim = 8; cfg.g_repeat = 2;
    cfg.d_conv_dim = 8; cfg.d_repeat = 4;
    cfg.batch = 4;
    cfg.lambda_cls = 1; cfg.lambda_rec = 10; cfg.lambda_gp = 10;
    cfg.beta1 = 0.5; cfg.beta2 = 0.999;
    for (int ds = 0; ds < cfg.n_datasets; ds++) {
        printf("  model steps, %s, dataset %d\n",
               multi ? "two datasets (BCE, one-hot CE) with mask" : "one dataset", ds);
        model_steps_case(&cfg, ds, 0, tol);
    }
    if (!multi) return;
    for (int v = 0; v < 2; v++) {
        sg_model_config c2 = cfg;
        if (v == 0) c2.lambda_cls = 0; else c2.lambda_rec = 0;
        for (int ds = 0; ds < cfg.n_datasets; ds++) {
            printf("  G step, two datasets, dataset %d, %s\n", ds,
                   v == 0 ? "lambda_cls 0" : "lambda_rec 0");
            model_steps_case(&c2, ds, 1, tol);
        }
    }
}

/* Step graphs: the same eight iterations on a CUDA backend that records and
 * replays steps and on one that runs them eagerly must agree bit for bit
 * (cuDNN's first usable engine on both, so both pick the same ones; bf16:
 * the legacy algorithm on both). The lr changes every iteration, as with the
 * decay, to check its replacement. */
static void test_graph_replay(const char *precision)
{
    sg_err err;
    printf("step graphs, %s\n", precision);
    setenv("SG_CUDNN_SEARCH", "heuristic", 1);
    sg_backend *ga = sg_backend_cuda_create_precision(0, precision, &err);
    setenv("SG_CUDA_GRAPHS", "0", 1);
    sg_backend *gb = ga ? sg_backend_cuda_create_precision(0, precision, &err) : NULL;
    unsetenv("SG_CUDA_GRAPHS");
    unsetenv("SG_CUDNN_SEARCH");
    if (!ga || !gb) {
        printf("FAIL graph test backends: %s\n", err.msg);
        check_failed++;
        sg_backend_destroy(ga);
        sg_backend_destroy(gb);
        return;
    }
    sg_model_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.image_size = 32; cfg.n_datasets = 1; cfg.label_dim[0] = 5;
    cfg.g_conv_dim = 8; cfg.g_repeat = 2; cfg.d_conv_dim = 8; cfg.d_repeat = 4;
    cfg.batch = 4; cfg.lambda_cls = 1; cfg.lambda_rec = 10; cfg.lambda_gp = 10;
    cfg.beta1 = 0.5; cfg.beta2 = 0.999;
    sg_model *ma = NULL, *mb = NULL;
    if (sg_model_create(&ma, &cfg, ga, 11, &err) || sg_model_create(&mb, &cfg, gb, 11, &err)) {
        printf("FAIL graph test models: %s\n", err.msg);
        check_failed++;
    } else {
        int n = cfg.batch, S = cfg.image_size, cdim = sg_model_c_dim(&cfg);
        float *x = rnd((size_t)n * 3 * S * S, -1, 1), *corg = rnd((size_t)n * cdim, 0, 1);
        float *ctrg = malloc((size_t)n * cdim * sizeof(float)), *alpha = rnd(n, 0, 1);
        for (int i = 0; i < n * cdim; i++) corg[i] = corg[i] > 0.5f;
        for (int i = 0; i < n; i++)
            memcpy(ctrg + (size_t)i * cdim, corg + (size_t)((i + 3) % n) * cdim, cdim * sizeof(float));
        int ok = 1;
        for (int it = 0; it < 8 && ok; it++) {
            float lr = 1e-4f * (1.f - it / 10.f);
            x[it] = 0.5f;                      /* a new batch each iteration */
            alpha[it % n] = 0.1f * it;
            sg_model *ms[2] = { ma, mb };
            sg_losses l[2];
            for (int k = 0; k < 2 && ok; k++)
                ok = !sg_model_set_batch(ms[k], 0, n, x, corg, ctrg, alpha, &err) &&
                     !sg_model_d_step(ms[k], lr, &err) &&
                     (it % 2 == 0 || !sg_model_g_step(ms[k], lr, &err)) &&
                     !sg_model_read_losses(ms[k], &l[k], &err);
            if (!ok) break;
            float *a = &l[0].d_loss_real, *b = &l[1].d_loss_real;
            int same = 1;
            for (int j = 0; j < 7; j++) same &= a[j] == b[j] || (a[j] != a[j] && b[j] != b[j]);
            CHECK(same, "graph replay iteration %d: losses differ from eager (D real %.9g vs %.9g, "
                  "gp %.9g vs %.9g, G rec %.9g vs %.9g)", it, a[0], b[0], a[3], b[3], a[5], b[5]);
        }
        if (!ok) {
            printf("FAIL graph test steps: %s\n", err.msg);
            check_failed++;
        } else {
            model_tensors_compare(mb, ma, SG_NET_D, 0, 0, "graphs vs eager after 8 iterations");
            model_tensors_compare(mb, ma, SG_NET_G, 0, 0, "graphs vs eager after 8 iterations");
            printf("  step graphs: 8 iterations (steps run eagerly, then recorded, then replayed) equal to eager\n");
        }
        char note[800];
        sg_backend_cuda_graph_note(ga, note, sizeof note);
        printf("  step graphs: %s\n", note);
        if (getenv("SG_CUDA_GEMM_MAX_PIXELS")) {     /* D's small convolutions went through GEMM */
            static char report[16384];
            long long fwd = 0, bwd = 0, filt = 0;
            const char *at = strstr(sg_backend_cuda_plan_report(ga, report, sizeof report), "GEMM path (");
            const char *colon = at ? strstr(at, "): ") : NULL;
            if (colon) sscanf(colon, "): %lld forward, %lld backward-data, %lld backward-filter", &fwd, &bwd, &filt);
            printf("  step graphs: GEMM calls issued: %lld forward, %lld backward-data, %lld backward-filter\n", fwd,
                   bwd, filt);
            CHECK(fwd > 0 && bwd > 0 && filt > 0, "step graphs with SG_CUDA_GEMM_MAX_PIXELS=%s: the GEMM path ran",
                  getenv("SG_CUDA_GEMM_MAX_PIXELS"));
        }
        CHECK(!strstr(note, "turned off") && !strstr(note, "launched 0"),
              "step graphs were recorded and replayed: %s", note);
        free(x); free(corg); free(ctrg); free(alpha);
    }
    sg_model_free(ma);
    sg_model_free(mb);
    sg_backend_destroy(ga);
    sg_backend_destroy(gb);
}

/* A full convolution plan cache (kernels/cuda_backend.cuh: 128 shapes) reuses
 * slots; a step graph recorded with an evicted plan must be dropped (its
 * launch says 1: record again), not replayed with the plan's kernels gone,
 * and the convolutions must stay right. On a CUDA backend of its own. */
static void test_plan_eviction(const char *precision)
{
    sg_backend *saved;
    if (own_gpu_begin(&saved, NULL, NULL, precision, "plan eviction")) return;
    const int N = 1, Ci = 4, Co = 4, K = 3, W = 4, shapes = 140;
    pair x = pair_rand_shaped(-1, 1, N, Ci, (size_t)W * W), w = pair_rand_shaped(-1, 1, Co, Ci, (size_t)K * K);
    pair y = pair_rand_shaped(0, 1, N, Co, (size_t)W * W);
    float *big_x = gpu->ops->alloc(gpu, sizeof(float) * N * Ci * (W + shapes) * W);
    float *big_y = gpu->ops->alloc(gpu, sizeof(float) * N * Co * (W + shapes) * W);
    /* the other shapes once first: the workspace and scratch grow to what
     * they need (growing drops graphs too), and the cache fills */
    for (int i = 1; i <= shapes && big_x && big_y; i++)
        gpu->ops->conv2d_forward(gpu, big_y, big_x, w.g, NULL, N, Ci, W + i, W, Co, K, 1, 1);
    cpu->ops->conv2d_forward(cpu, y.c, x.c, w.c, NULL, N, Ci, W, W, Co, K, 1, 1);
    gpu->ops->conv2d_forward(gpu, y.g, x.g, w.g, NULL, N, Ci, W, W, Co, K, 1, 1);   /* chooses */
    int recorded = gpu->ops->graph_begin(gpu, 0, gpu) == 0;
    if (recorded) {
        gpu->ops->conv2d_forward(gpu, y.g, x.g, w.g, NULL, N, Ci, W, W, Co, K, 1, 1);
        recorded = gpu->ops->graph_end(gpu, 0) == 0 && gpu->ops->graph_launch(gpu, 0, gpu, 0, 1) == 0;
    }
    CHECK(recorded, "plan eviction: a graph with one convolution recorded and launched");
    for (int i = 1; i <= shapes && big_x && big_y; i++)      /* again: every plan evicted in turn */
        gpu->ops->conv2d_forward(gpu, big_y, big_x, w.g, NULL, N, Ci, W + i, W, Co, K, 1, 1);
    int r = recorded ? gpu->ops->graph_launch(gpu, 0, gpu, 0, 1) : -2;
    CHECK(r == 1, "plan eviction: the graph was dropped with its plan (graph_launch %d, want 1)", r);
    gpu->ops->conv2d_forward(gpu, y.g, x.g, w.g, NULL, N, Ci, W, W, Co, K, 1, 1);   /* chosen again */
    compare("plan eviction: the convolution after 140 other shapes", y, 1e-4);
    gpu->ops->free(gpu, big_x);
    gpu->ops->free(gpu, big_y);
    pair_free(x); pair_free(w); pair_free(y);
    own_gpu_end(saved);
}

/* The second lane (ops->lane), on a CUDA backend of its own: instance norm
 * (which keeps partial sums in scratch between its kernels: the chunked
 * path, SG_CUDA_IN_FUSED=0; the one-pass path keeps the variances for the
 * running statistics there, so it runs with them) on lane 1 and a
 * convolution on lane 0, joined, then the same recorded into a step graph.
 * Lane 1 has no scratch yet when the first recording starts: it must grow,
 * which breaks the recording (graph_end says -1, not an error, graphs stay
 * on); run eagerly once, the recording then succeeds and its replays are
 * right. */
static void test_lanes(int fused)
{
    sg_backend *saved;
    setenv("SG_CUDA_IN_FUSED", fused ? "1" : "0", 1);
    int rc = own_gpu_begin(&saved, "SG_CUDNN_SEARCH", "heuristic", "fp32", "lanes");
    unsetenv("SG_CUDA_IN_FUSED");
    if (rc) return;
    CHECK(gpu->ops->lane != NULL, "lanes: the CUDA backend has ops->lane");
    if (!gpu->ops->lane) { own_gpu_end(saved); return; }
    const int N = 2, C = 6, HW = 50, Ci = 4, Co = 5, W = 7;
    pair x = pair_rand_shaped(-2, 3, N, C, HW), gamma = pair_rand(C, 0.5f, 1.5f), beta = pair_rand(C, -0.5f, 0.5f);
    pair y = pair_shaped(NULL, N, C, HW), mean = pair_from(NULL, (size_t)N * C), rstd = pair_from(NULL, (size_t)N * C);
    pair rm = pair_rand(C, -0.1f, 0.1f), rv = pair_rand(C, 0.9f, 1.1f);
    float *rm_g = fused ? rm.g : NULL, *rv_g = fused ? rv.g : NULL;
    pair cx = pair_rand_shaped(-1, 1, N, Ci, (size_t)W * W), cw = pair_rand_shaped(-1, 1, Co, Ci, 9);
    pair cy = pair_shaped(NULL, N, Co, (size_t)W * W);
    cpu->ops->instnorm_forward(cpu, y.c, mean.c, rstd.c, x.c, gamma.c, beta.c, NULL, NULL, N, C, HW, 1e-5f, 0.1f, 1, NULL);
    cpu->ops->conv2d_forward(cpu, cy.c, cx.c, cw.c, NULL, N, Ci, W, W, Co, 3, 1, 1);
    /* gpu: the convolution chosen eagerly first, so that only lane 1's scratch is missing */
    gpu->ops->conv2d_forward(gpu, cy.g, cx.g, cw.g, NULL, N, Ci, W, W, Co, 3, 1, 1);
    char note[800];
    for (int round = 0; round < 4; round++) {
        /* round 0: recording broken by lane 1's scratch; 1: eager; 2: recorded; 3: replayed */
        int record = round != 1 && round != 3;
        if (round == 3) {
            CHECK(gpu->ops->graph_launch(gpu, 1, gpu, 0, 1) == 0, "lanes: the two-branch graph replays");
        } else {
            if (record) CHECK(gpu->ops->graph_begin(gpu, 1, gpu) == 0, "lanes: recording %d begins", round);
            gpu->ops->memzero(gpu, y.g, y.n * sizeof(float));
            gpu->ops->lane(gpu, SG_LANE_FORK);
            gpu->ops->instnorm_forward(gpu, y.g, mean.g, rstd.g, x.g, gamma.g, beta.g, rm_g, rv_g, N, C, HW,
                                       1e-5f, 0.1f, 1, NULL);
            gpu->ops->lane(gpu, SG_LANE_MAIN);
            gpu->ops->conv2d_forward(gpu, cy.g, cx.g, cw.g, NULL, N, Ci, W, W, Co, 3, 1, 1);
            gpu->ops->lane(gpu, SG_LANE_JOIN);
            if (record) {
                int r = gpu->ops->graph_end(gpu, 1);
                CHECK(r == (round == 0 ? -1 : 0), "lanes: recording %d ends %d (want %d)", round, r,
                      round == 0 ? -1 : 0);
                if (r == 0) CHECK(gpu->ops->graph_launch(gpu, 1, gpu, 0, 1) == 0, "lanes: the recording is launched");
            }
        }
        sg_backend_cuda_graph_note(gpu, note, sizeof note);
        CHECK(!strstr(note, "turned off"), "lanes, round %d: step graphs stay on: %s", round, note);
        if (!sync_both("lanes")) break;
        if (round == 0) continue;             /* nothing ran */
        char name[80];
        snprintf(name, sizeof name, "lanes, round %d: instance norm (%s) on lane 1", round,
                 fused ? "one pass" : "chunked");
        compare(name, y, 1e-5);
        snprintf(name, sizeof name, "lanes, round %d: convolution on lane 0", round);
        compare(name, cy, 1e-4);
    }
    pair_free(x); pair_free(gamma); pair_free(beta); pair_free(y); pair_free(mean); pair_free(rstd);
    pair_free(rm); pair_free(rv); pair_free(cx); pair_free(cw); pair_free(cy);
    own_gpu_end(saved);
}

/* ---- instance norm's two NHWC paths ------------------------------------------- */

/* An NHWC fp32 CUDA backend with SG_CUDA_IN_FUSED=value (the variables
 * cleared again), or NULL with the failure counted. */
static sg_backend *cuda_nhwc_in_fused(const char *value)
{
    sg_err err;
    setenv("SG_CUDA_LAYOUT", "nhwc", 1);
    sg_backend *be = cuda_with_env("SG_CUDA_IN_FUSED", value, "fp32", &err);
    unsetenv("SG_CUDA_LAYOUT");
    if (!be) {
        printf("FAIL fp32 NHWC backend, SG_CUDA_IN_FUSED=%s: %s\n", value, err.msg);
        check_failed++;
    }
    return be;
}

/* Appends n floats of gpu memory p to out[*at]. */
static void take(float *out, size_t *at, const float *p, size_t n)
{
    gpu->ops->download(gpu, out + *at, p, n * sizeof(float));
    *at += n;
}

/* Inputs drawn at draw counter `seed`; on gpu a forward (ReLU, the running
 * statistics if asked), a backward (y_relu: the CPU's y, as in
 * test_instnorm; dgamma and dbeta +=), a backward without dgamma and dbeta,
 * and a statistics-only forward. Its outputs in
 * the order run, downloaded as they lie (*n floats, malloc'ed): y, mean,
 * rstd, dx, dgamma, dbeta, the second dx, the last mean and rstd, the
 * running statistics. The second dx is compared here with the CPU's (the
 * backward without dgamma/dbeta; test_instnorm checks the rest) and must be
 * the first dx bit for bit. */
static float *instnorm_run(int N, int C, int HW, int running, uint64_t seed, size_t *n)
{
    uint64_t next = draw_counter;
    draw_counter = seed;
    const size_t t = (size_t)N * C * HW, planes = (size_t)N * C;
    pair x = pair_rand_shaped(-2, 3, N, C, HW), gamma = pair_rand(C, 0.5f, 1.5f), beta = pair_rand(C, -0.5f, 0.5f);
    pair y = pair_shaped(NULL, N, C, HW), mean = pair_from(NULL, planes), rstd = pair_from(NULL, planes);
    pair rm = pair_rand(C, -0.1f, 0.1f), rv = pair_rand(C, 0.9f, 1.1f);
    pair dy = pair_rand_shaped(-1, 1, N, C, HW), dg = pair_rand(C, -0.1f, 0.1f), dbt = pair_rand(C, -0.1f, 0.1f);
    /* outputs start as garbage: they must be written */
    pair dx = pair_rand_shaped(-5, 5, N, C, HW), dx2 = pair_rand_shaped(-5, 5, N, C, HW);
    if (draw_counter > next) next = draw_counter;
    draw_counter = next;
    float *rmg = running ? rm.g : NULL, *rvg = running ? rv.g : NULL;
    gpu->ops->instnorm_forward(gpu, y.g, mean.g, rstd.g, x.g, gamma.g, beta.g, rmg, rvg, N, C, HW, 1e-5f, 0.1f, 1, NULL);
    cpu->ops->instnorm_forward(cpu, y.c, mean.c, rstd.c, x.c, gamma.c, beta.c, NULL, NULL, N, C, HW, 1e-5f, 0.1f, 1, NULL);
    pair ym = pair_like_cpu(y);                  /* the ReLU mask: as in test_instnorm */
    gpu->ops->instnorm_backward(gpu, dx.g, dg.g, dbt.g, dy.g, ym.g, x.g, mean.g, rstd.g, gamma.g, N, C, HW);
    gpu->ops->instnorm_backward(gpu, dx2.g, NULL, NULL, dy.g, ym.g, x.g, mean.g, rstd.g, gamma.g, N, C, HW);
    cpu->ops->instnorm_backward(cpu, dx2.c, dg.c, dbt.c, dy.c, ym.c, x.c, mean.c, rstd.c, gamma.c, N, C, HW);
    char name[160];
    snprintf(name, sizeof name, "instnorm bwd N%d C%d HW%d y_relu, dgamma and dbeta NULL", N, C, HW);
    compare(name, dx2, 1e-5);
    size_t cap = 4 * t + 6 * planes + 4 * (size_t)C, at = 0;
    float *out = malloc(cap * sizeof(float));
    take(out, &at, y.g, t);
    take(out, &at, mean.g, planes);
    take(out, &at, rstd.g, planes);
    take(out, &at, dx.g, t);
    take(out, &at, dg.g, C);
    take(out, &at, dbt.g, C);
    take(out, &at, dx2.g, t);
    CHECK(!memcmp(out + t + 2 * planes, out + 2 * t + 2 * planes + 2 * C, t * sizeof(float)),
          "%s: dx bit-equal to the backward's with them", name);
    {   /* dx written over x (the model's G backward does so) */
        float *xi = gpu->ops->alloc(gpu, t * sizeof(float)), *xc = cpu->ops->alloc(cpu, t * sizeof(float));
        float *h = malloc(t * sizeof(float));
        gpu->ops->copy(gpu, xi, x.g, t * sizeof(float));
        gpu->ops->instnorm_backward(gpu, xi, NULL, NULL, dy.g, ym.g, xi, mean.g, rstd.g, gamma.g, N, C, HW);
        gpu->ops->download(gpu, h, xi, t * sizeof(float));
        memcpy(xc, x.c, t * sizeof(float));
        cpu->ops->instnorm_backward(cpu, xc, dg.c, dbt.c, dy.c, ym.c, xc, mean.c, rstd.c, gamma.c, N, C, HW);
        if (sync_both(name)) {   /* against dx beside x: the gpu's in out, the cpu's in dx2.c (above) */
            CHECK(!memcmp(h, out + 2 * t + 2 * planes + 2 * C, t * sizeof(float)),
                  "%s: dx written over x bit-equal to dx beside it", name);
            CHECK(!memcmp(xc, dx2.c, t * sizeof(float)), "%s: cpu: dx written over x bit-equal to dx beside it", name);
        }
        free(h);
        gpu->ops->free(gpu, xi);
        cpu->ops->free(cpu, xc);
    }
    gpu->ops->instnorm_forward(gpu, NULL, mean.g, rstd.g, x.g, gamma.g, beta.g, rmg, rvg, N, C, HW, 1e-5f, 0.1f, 0, NULL);
    take(out, &at, mean.g, planes);
    take(out, &at, rstd.g, planes);
    take(out, &at, rm.g, C);
    take(out, &at, rv.g, C);
    *n = at;
    pair_free(x); pair_free(gamma); pair_free(beta); pair_free(y); pair_free(mean); pair_free(rstd);
    pair_free(rm); pair_free(rv); pair_free(dy); pair_free(dg); pair_free(dbt); pair_free(dx); pair_free(dx2);
    pair_free(ym);
    return out;
}

/* On gpu, a forward (ReLU, running statistics) and backward (y_relu, dgamma
 * and dbeta +=) run eagerly twice, then from the same start recorded into a
 * step graph and launched twice: each launch gives its eager run's outputs
 * (y, mean, rstd, dx zeroed before each) and state (running statistics,
 * dgamma, dbeta) bit for bit. */
static void instnorm_graph_case(int N, int C, int HW, const char *path)
{
    const size_t t = (size_t)N * C * HW, planes = (size_t)N * C;
    pair x = pair_rand_shaped(-2, 3, N, C, HW), gamma = pair_rand(C, 0.5f, 1.5f), beta = pair_rand(C, -0.5f, 0.5f);
    pair y = pair_shaped(NULL, N, C, HW), mean = pair_from(NULL, planes), rstd = pair_from(NULL, planes);
    pair dy = pair_rand_shaped(-1, 1, N, C, HW), dx = pair_shaped(NULL, N, C, HW);
    float *state = rnd(4 * (size_t)C, -0.1f, 0.1f);        /* running mean, var (+1), dgamma, dbeta */
    for (int c = 0; c < C; c++) state[C + c] += 1.f;
    float *st = gpu->ops->alloc(gpu, 4 * (size_t)C * sizeof(float));
    float *rm = st, *rv = st + C, *dg = st + 2 * C, *dbt = st + 3 * C;
    size_t cap = 2 * t + 2 * planes + 4 * (size_t)C;
    float *snap[4] = { NULL, NULL, NULL, NULL };
    int key = 7, ok = 1;
    for (int run = 0; run < 4 && ok; run++) {
        if (run == 0 || run == 2) gpu->ops->upload(gpu, st, state, 4 * (size_t)C * sizeof(float));
        if (run == 2) {                                     /* record, then launch */
            ok = gpu->ops->graph_begin(gpu, key, &key) == 0;
            CHECK(ok, "instnorm graph (%s): recording begins", path);
            if (!ok) break;
        }
        if (run < 3) {
            if (run < 2) {
                gpu->ops->memzero(gpu, y.g, t * sizeof(float));
                gpu->ops->memzero(gpu, dx.g, t * sizeof(float));
            }
            gpu->ops->instnorm_forward(gpu, y.g, mean.g, rstd.g, x.g, gamma.g, beta.g, rm, rv, N, C, HW, 1e-5f, 0.1f, 1, NULL);
            gpu->ops->instnorm_backward(gpu, dx.g, dg, dbt, dy.g, y.g, x.g, mean.g, rstd.g, gamma.g, N, C, HW);
        }
        if (run == 2) {
            ok = gpu->ops->graph_end(gpu, key) == 0;
            CHECK(ok, "instnorm graph (%s): recorded", path);
            if (!ok) break;
        }
        if (run >= 2) {
            gpu->ops->memzero(gpu, y.g, t * sizeof(float));
            gpu->ops->memzero(gpu, dx.g, t * sizeof(float));
            ok = gpu->ops->graph_launch(gpu, key, &key, 0, 1) == 0;
            CHECK(ok, "instnorm graph (%s): launch %d", path, run - 1);
            if (!ok) break;
        }
        snap[run] = malloc(cap * sizeof(float));
        size_t at = 0;
        take(snap[run], &at, y.g, t);
        take(snap[run], &at, mean.g, planes);
        take(snap[run], &at, rstd.g, planes);
        take(snap[run], &at, dx.g, t);
        take(snap[run], &at, st, 4 * (size_t)C);
    }
    if (ok) {
        CHECK(!memcmp(snap[0], snap[2], cap * sizeof(float)) && !memcmp(snap[1], snap[3], cap * sizeof(float)),
              "instnorm graph N%d C%d HW%d (%s): two launches equal two eager runs bit for bit", N, C, HW, path);
        CHECK(memcmp(snap[0], snap[1], cap * sizeof(float)) != 0,
              "instnorm graph (%s): the second run moved the running statistics and gradients", path);
        printf("  instnorm graph N%d C%d HW%d (%s): recorded, launched twice, equal to eager\n", N, C, HW, path);
    }
    for (int i = 0; i < 4; i++) free(snap[i]);
    gpu->ops->graph_drop(gpu, key, &key);
    gpu->ops->free(gpu, st);
    free(state);
    pair_free(x); pair_free(gamma); pair_free(beta); pair_free(y); pair_free(mean); pair_free(rstd);
    pair_free(dy); pair_free(dx);
}

/* Instance norm's two NHWC paths (kernels/instnorm.cu): one pass per (image,
 * 8-channel tile) where HW <= 1024 (SG_CUDA_IN_FUSED=1, the default), the
 * chunked kernels otherwise and everywhere with SG_CUDA_IN_FUSED=0. Each
 * shape on both: against the CPU (test_instnorm: ReLU or not, y_relu or
 * not, statistics only, running statistics as listed; instnorm_run:
 * dgamma/dbeta NULL), each path twice from the same inputs bit for bit,
 * and where HW <= 1024 and the planes are large the two paths differing in
 * the last bits (summation orders: the switch did change the path), where
 * HW > 1024 equal (both chunked). Then a step graph on each path. */
static void test_instnorm_paths(void)
{
    static const struct { int N, C, HW, running, differ; } cases[] = {
        { 2, 256, 1024, 1, 1 },  /* G's residual blocks (batch 16 there) */
        { 3, 256, 1024, 0, 1 },
        { 4, 256, 1024, 1, 1 },
        { 2, 3, 1024, 1, 0 },    /* one tile, 3 of its 8 channels */
        { 3, 5, 37, 0, 0 },
        { 2, 13, 100, 1, 0 },    /* two tiles, the second with 5 channels */
        { 2, 72, 64, 1, 0 },     /* nine whole tiles */
        { 2, 16, 1000, 0, 1 },   /* the last rows of threads partly past HW */
        { 5, 9, 4, 1, 0 },       /* one warp of rows (4) */
        { 3, 20, 8, 0, 0 },
        { 2, 3, 1025, 1, 0 },    /* just past the one-pass limit: chunked either way */
        { 1, 128, 4096, 1, 0 },  /* G's 64x64 planes: chunked either way */
    };
    sg_backend *saved = gpu, *be[2] = { cuda_nhwc_in_fused("1"), cuda_nhwc_in_fused("0") };
    if (be[0] && be[1]) {
        printf("instance norm, NHWC: one pass (SG_CUDA_IN_FUSED=1) and chunked (0)\n");
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            int N = cases[i].N, C = cases[i].C, HW = cases[i].HW, running = cases[i].running;
            float *out[2] = { NULL, NULL };
            size_t n[2] = { 0, 0 };
            /* instnorm_run's draws, the same for both paths; test_instnorm's after them */
            uint64_t seed = draw_counter;
            draw_counter += 5 * (uint64_t)N * C * HW + 8 * (uint64_t)C;
            for (int p = 0; p < 2; p++) {
                gpu = be[p];
                printf(" %s path%s:\n", p ? "chunked" : "one-pass", p == 0 && HW > 1024 ? " (HW > 1024: chunked)" : "");
                test_instnorm(N, C, HW, running);
                size_t again_n;
                out[p] = instnorm_run(N, C, HW, running, seed, &n[p]);
                float *again = instnorm_run(N, C, HW, running, seed, &again_n);
                CHECK(again_n == n[p] && !memcmp(out[p], again, n[p] * sizeof(float)),
                      "instnorm N%d C%d HW%d, %s path: two runs bit-equal", N, C, HW, p ? "chunked" : "one-pass");
                free(again);
            }
            int same = n[0] == n[1] && !memcmp(out[0], out[1], n[0] * sizeof(float));
            if (HW > 1024)
                CHECK(same, "instnorm N%d C%d HW%d: both switches take the chunked path (bit-equal)", N, C, HW);
            else if (cases[i].differ)
                CHECK(!same, "instnorm N%d C%d HW%d: the one-pass path ran (its results differ from the chunked "
                      "path's in the last bits)", N, C, HW);
            free(out[0]);
            free(out[1]);
        }
        for (int p = 0; p < 2; p++) {
            gpu = be[p];
            instnorm_graph_case(3, 13, 1024, p ? "chunked" : "one pass");
            instnorm_residual_case(2, 256, 1024, p ? "chunked" : "one pass");
            instnorm_residual_case(3, 13, 100, p ? "chunked" : "one pass");
            instnorm_residual_case(1, 64, 4096, "chunked either way");
        }
    }
    gpu = saved;
    sg_backend_destroy(be[0]);
    sg_backend_destroy(be[1]);
}

/* How often needle occurs in s. */
static int count_in(const char *s, const char *needle)
{
    int n = 0;
    for (const char *at = s; (at = strstr(at, needle)); at++) n++;
    return n;
}

/* conv_cases[1] on an fp32 backend with the heuristic engine search while the
 * emulation's engine 2 has the fault emu_var names (emulation only); the
 * plan report into report. 0, or -1 when the backend could not be made. */
static int fp32_search_with_engine_fault(const char *emu_var, const char *what, char *report, size_t size)
{
    sg_backend *saved;
    char name[160];
    snprintf(name, sizeof name, "fp32 heuristic, %s", what);
    setenv(emu_var, "2", 1);
    int rc = own_gpu_begin(&saved, "SG_CUDNN_SEARCH", "heuristic", "fp32", emu_var);
    if (!rc) {
        test_conv(&conv_cases[1], 1e-4, 0, name);
        sg_backend_cuda_plan_report(gpu, report, size);
        own_gpu_end(saved);
    }
    unsetenv(emu_var);
    return rc;
}

/* The engine search never chooses an engine that computes something else
 * (check_candidate, kernels/conv_engines.cu). Only the emulation has one on
 * purpose: SG_EMU_CUDNN_WRONG_ENGINE=2 makes its engine 2, the first the
 * fp32 heuristic search may take, ignore backward-filter's beta (dw = instead
 * of +=), which the bwd-filter comparison below would catch if chosen. */
static void test_wrong_engine(void)
{
    static char report[16384];
    setenv("SG_EMU_CUDNN_WRONG_ENGINE", "2", 1);
    for (int timed = 0; timed < 2; timed++) {
        sg_backend *saved;
        if (own_gpu_begin(&saved, "SG_CUDNN_SEARCH", timed ? "timed" : "heuristic", "fp32", "wrong-engine"))
            continue;
        test_conv(&conv_cases[1], 1e-4, 0, timed ? "fp32 timed, a wrong engine among the candidates"
                                                 : "fp32 heuristic, a wrong engine first");
        sg_backend_cuda_plan_report(gpu, report, sizeof report);
        CHECK(strstr(report, "bwd-filter") && strstr(report, "differed from the legacy result"),
              "the search saw the wrong engine differ and passed it over: %s", report);
        /* the emulation's fallback list repeats mode A's first configuration */
        if (timed)
            CHECK(strstr(report, ", 1 repeated)") != NULL,
                  "the timed search skipped the fallback list's repeat of a configuration: %s", report);
        own_gpu_end(saved);
    }
    unsetenv("SG_EMU_CUDNN_WRONG_ENGINE");
    /* fp32 mode must not drift to TF32 through an engine that uses tensor
     * cores without saying so: SG_EMU_CUDNN_HIDDEN_TF32=2 makes engine 2 do
     * that; its result differs from the legacy fp32 one by ~4e-4, over fp32
     * mode's tolerance, so each kind passes it over */
    if (!fp32_search_with_engine_fault("SG_EMU_CUDNN_HIDDEN_TF32", "a TF32 engine without the note first", report,
                                       sizeof report)) {
        int passed_over = count_in(report, "1 differed from the legacy result");
        CHECK(passed_over == 3 && !strstr(report, "engine 2 "),
              "fp32: the search passed the hidden TF32 engine over in each of the 3 kinds (%d): %s", passed_over,
              report);
    }
    /* an engine that fails to run is passed over and reported with cuDNN's
     * status, not counted as a wrong result */
    if (!fp32_search_with_engine_fault("SG_EMU_CUDNN_FAILING_ENGINE", "an engine that fails to run first", report,
                                       sizeof report)) {
        int reported = count_in(report, "1 failed to run (first: CUDNN_STATUS_EXECUTION_FAILED)");
        CHECK(reported == 3 && !strstr(report, "differed"),
              "fp32: the engine that fails to run is reported so in each of the 3 kinds (%d): %s", reported, report);
    }
    /* SG_CUDNN_NONDET=1 lets the emulation's engine 1 (its NONDETERMINISTIC
     * note) compete: the heuristic search takes it first in each kind; by
     * default it is passed over for engine 2 */
    for (int nondet = 0; nondet < 2; nondet++) {
        sg_backend *saved;
        setenv("SG_CUDNN_SEARCH", "heuristic", 1);
        int rc = own_gpu_begin(&saved, "SG_CUDNN_NONDET", nondet ? "1" : "0", "fp32", "nondet");
        unsetenv("SG_CUDNN_SEARCH");
        if (rc) continue;
        test_conv(&conv_cases[1], 1e-4, 0, nondet ? "fp32 heuristic, SG_CUDNN_NONDET=1" : "fp32 heuristic, SG_CUDNN_NONDET=0");
        sg_backend_cuda_plan_report(gpu, report, sizeof report);
        int one = count_in(report, "engine 1 "), two = count_in(report, "engine 2 ");
        CHECK(nondet ? one == 3 && two == 0 : one == 0 && two == 3,
              "SG_CUDNN_NONDET=%d: the heuristic search took engine %s in each kind (engine 1: %d, engine 2: %d): %s",
              nondet, nondet ? "1 (nondeterministic)" : "2", one, two, report);
        own_gpu_end(saved);
    }
}

/* Without device memory for an engine search's buffers the search is
 * skipped and the legacy call runs: no failure (SG_EMU_MALLOC_FAIL makes
 * every allocation fail while a new shape is chosen; emulation only). */
static void test_search_without_memory(void)
{
    static char report[16384];
    sg_backend *saved;
    if (own_gpu_begin(&saved, "SG_CUDNN_SEARCH", "heuristic", "fp32", "search-without-memory")) return;
    /* a larger shape first: the workspace the small one needs is there */
    test_conv(&conv_cases[1], 1e-4, 0, "fp32 heuristic, before");
    const int N = 1, Ci = 4, Co = 4, K = 3, W = 5;
    pair x = pair_rand_shaped(-1, 1, N, Ci, (size_t)W * W), w = pair_rand_shaped(-1, 1, Co, Ci, (size_t)K * K);
    pair y = pair_rand_shaped(0, 1, N, Co, (size_t)W * W);
    cpu->ops->conv2d_forward(cpu, y.c, x.c, w.c, NULL, N, Ci, W, W, Co, K, 1, 1);
    setenv("SG_EMU_MALLOC_FAIL", "1", 1);
    gpu->ops->conv2d_forward(gpu, y.g, x.g, w.g, NULL, N, Ci, W, W, Co, K, 1, 1);
    unsetenv("SG_EMU_MALLOC_FAIL");
    compare("a new shape chosen without device memory for the search", y, 1e-4);
    sg_backend_cuda_plan_report(gpu, report, sizeof report);
    CHECK(strstr(report, "1 searches skipped"), "the skipped search is counted: %s", report);
    pair_free(x); pair_free(w); pair_free(y);
    own_gpu_end(saved);
}

/* A legacy pick under a workspace cap that only a nondeterministic
 * algorithm fits (emulation only: its backward-filter ALGO_1 needs 64 KiB +
 * 2 bytes per weight, its ALGO_0 nothing but atomics in real cuDNN): an
 * error naming the cap and SG_CUDNN_NONDET, never a quiet pick, while the
 * same shape's forward and backward-data, whose deterministic algorithm
 * fits, run; with SG_CUDNN_NONDET=1 it runs and the plan report says
 * nondeterministic. */
static void test_nondet_legacy_refused(void)
{
    static char report[16384];
    const int N = 1, Ci = 256, Co = 256, K = 3, W = 4;   /* dw: 589824 weights, ALGO_1 1.2 MiB */
    for (int nondet = 0; nondet < 2; nondet++) {
        sg_backend *saved;
        setenv("SG_CUDNN_SEARCH", "legacy", 1);
        setenv("SG_CUDNN_NONDET", nondet ? "1" : "0", 1);
        int rc = own_gpu_begin(&saved, "SG_CUDNN_WORKSPACE_MIB", "1", "fp32", "nondeterministic legacy pick");
        unsetenv("SG_CUDNN_SEARCH");
        unsetenv("SG_CUDNN_NONDET");
        if (rc) continue;
        pair x = pair_rand_shaped(-1, 1, N, Ci, (size_t)W * W), w = pair_rand_shaped(-0.1f, 0.1f, Co, Ci, (size_t)K * K);
        pair y = pair_rand_shaped(-1, 1, N, Co, (size_t)W * W), dx = pair_rand_shaped(-1, 1, N, Ci, (size_t)W * W);
        pair dy = pair_rand_shaped(-1, 1, N, Co, (size_t)W * W), dw = pair_rand_shaped(-1, 1, Co, Ci, (size_t)K * K);
        cpu->ops->conv2d_forward(cpu, y.c, x.c, w.c, NULL, N, Ci, W, W, Co, K, 1, 1);
        gpu->ops->conv2d_forward(gpu, y.g, x.g, w.g, NULL, N, Ci, W, W, Co, K, 1, 1);
        cpu->ops->conv2d_backward_data(cpu, dx.c, dy.c, w.c, N, Ci, W, W, Co, K, 1, 1);
        gpu->ops->conv2d_backward_data(gpu, dx.g, dy.g, w.g, N, Ci, W, W, Co, K, 1, 1);
        compare("1 MiB workspace: forward (deterministic ALGO_1 fits)", y, 1e-4);
        compare("1 MiB workspace: backward-data (deterministic ALGO_1 fits)", dx, 1e-4);
        cpu->ops->conv2d_backward_filter(cpu, dw.c, NULL, x.c, dy.c, N, Ci, W, W, Co, K, 1, 1);
        gpu->ops->conv2d_backward_filter(gpu, dw.g, NULL, x.g, dy.g, N, Ci, W, W, Co, K, 1, 1);
        sg_err err = { { 0 } };
        rc = gpu->ops->sync(gpu, &err);
        if (!nondet) {
            CHECK(rc == -1 && strstr(err.msg, "only nondeterministic backward-filter algorithms") &&
                  strstr(err.msg, "raise SG_CUDNN_WORKSPACE_MIB") && strstr(err.msg, "SG_CUDNN_NONDET=1") &&
                  !strchr(err.msg, '\n'),
                  "1 MiB workspace, backward-filter: only a nondeterministic algorithm fits: refused in one line "
                  "(rc %d: %s)", rc, err.msg);
        } else {
            CHECK(rc == 0, "1 MiB workspace, SG_CUDNN_NONDET=1: backward-filter runs (%s)", rc ? err.msg : "");
            if (!rc) compare("1 MiB workspace, SG_CUDNN_NONDET=1: backward-filter (+=) on ALGO_0", dw, 1e-4);
            sg_backend_cuda_plan_report(gpu, report, sizeof report);
            CHECK(strstr(report, "bwd-filter legacy algo 0") && count_in(report, ", nondeterministic") == 1,
                  "SG_CUDNN_NONDET=1: the plan report names the one nondeterministic pick: %s", report);
        }
        pair_free(x); pair_free(w); pair_free(y); pair_free(dx); pair_free(dy); pair_free(dw);
        own_gpu_end(saved);
    }
}

/* The same cap where an engine is chosen (SG_CUDNN_SEARCH=heuristic or
 * timed; emulation only): the refused ALGO_0 is only the check's reference,
 * a deterministic backend-API engine (the emulation's engine 2, 32 KiB)
 * runs backward-filter, and the plan report says so (timed: the legacy
 * algorithm not timed). A file's earlier choice of the legacy algorithm (made
 * under a larger cap) is rejected, not followed. Without the backend API
 * (SG_EMU_CUDNN_BACKEND=0) no deterministic choice is left: one line naming
 * both paths, and again on a second call (the refused algorithm never
 * runs). bf16 keeps the legacy pick (no engines): refused in timed mode too.
 * A search skipped for want of device memory says so, not that no engine
 * exists. */
static void test_nondet_legacy_engine_search(void)
{
    static char report[16384];
    const int N = 1, Ci = 256, Co = 256, K = 3, W = 4;   /* as test_nondet_legacy_refused */
    char path[] = "/tmp/sg-engines-nondet-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) { printf("FAIL nondeterministic legacy, engines file: mkstemp\n"); check_failed++; return; }
    close(fd);
    /* the file: legacy choices (rank -1) for the shape under the default cap */
    sg_err err = { { 0 } };
    sg_backend *saved;
    if (own_gpu_begin(&saved, "SG_CUDNN_SEARCH", "legacy", "fp32", "legacy choices for a file")) { unlink(path); return; }
    {
        pair x = pair_rand_shaped(-1, 1, N, Ci, (size_t)W * W), dy = pair_rand_shaped(-1, 1, N, Co, (size_t)W * W);
        pair dw = pair_rand_shaped(-1, 1, Co, Ci, (size_t)K * K);
        gpu->ops->conv2d_backward_filter(gpu, dw.g, NULL, x.g, dy.g, N, Ci, W, W, Co, K, 1, 1);
        int rc = gpu->ops->sync(gpu, &err);
        if (!rc) rc = sg_backend_cuda_engines_save(gpu, path, &err);
        CHECK(rc == 0, "legacy choices saved (%s)", rc ? err.msg : "");
        pair_free(x); pair_free(dy); pair_free(dw);
        own_gpu_end(saved);
    }
    static const struct { const char *search, *precision; int backend_api, with_file, no_memory; } cases[] = {
        { "heuristic", "fp32", 1, 0, 0 }, { "timed", "fp32", 1, 0, 0 }, { "heuristic", "fp32", 1, 1, 0 },
        { "timed", "fp32", 0, 0, 0 }, { "timed", "bf16", 1, 0, 0 }, { "timed", "fp32", 1, 0, 1 },
    };
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        char what[160];
        snprintf(what, sizeof what, "1 MiB workspace, SG_CUDNN_SEARCH=%s, %s%s%s%s", cases[i].search,
                 cases[i].precision, cases[i].backend_api ? "" : ", no backend API",
                 cases[i].with_file ? ", a file's legacy choice" : "",
                 cases[i].no_memory ? ", no device memory for the search" : "");
        setenv("SG_CUDNN_SEARCH", cases[i].search, 1);
        int rc = own_gpu_begin(&saved, "SG_CUDNN_WORKSPACE_MIB", "1", cases[i].precision, what);
        unsetenv("SG_CUDNN_SEARCH");
        if (rc) continue;
        char note[400] = "";
        if (cases[i].with_file) {
            int loaded = sg_backend_cuda_engines_load(gpu, path, note, sizeof note, &err);
            CHECK(loaded == 1, "%s: loaded (%d: %s%s)", what, loaded, loaded < 0 ? err.msg : "", note);
        }
        if (!cases[i].backend_api) setenv("SG_EMU_CUDNN_BACKEND", "0", 1);
        pair x = pair_rand_shaped(-1, 1, N, Ci, (size_t)W * W), dy = pair_rand_shaped(-1, 1, N, Co, (size_t)W * W);
        pair dw = pair_rand_shaped(-1, 1, Co, Ci, (size_t)K * K);
        cpu->ops->conv2d_backward_filter(cpu, dw.c, NULL, x.c, dy.c, N, Ci, W, W, Co, K, 1, 1);
        /* the search's buffers cannot be had: nothing is known of the engines */
        if (cases[i].no_memory) setenv("SG_EMU_MALLOC_FAIL", "1", 1);
        gpu->ops->conv2d_backward_filter(gpu, dw.g, NULL, x.g, dy.g, N, Ci, W, W, Co, K, 1, 1);
        memset(&err, 0, sizeof err);
        rc = gpu->ops->sync(gpu, &err);
        int bf16 = !strcmp(cases[i].precision, "bf16");
        if (cases[i].backend_api && !bf16 && !cases[i].no_memory) {
            CHECK(rc == 0, "%s: backward-filter runs on a deterministic engine (%s)", what, rc ? err.msg : "");
            if (!rc) compare(what, dw, 1e-4);
            sg_backend_cuda_plan_report(gpu, report, sizeof report);
            int timed = !strcmp(cases[i].search, "timed");
            CHECK(strstr(report, "bwd-filter engine 2 ") &&
                  strstr(report, ", legacy algo 0 nondeterministic: the check's reference only") &&
                  !strstr(report, "bwd-filter legacy algo") && count_in(report, ", nondeterministic") == 0 &&
                  (!timed || strstr(report, "legacy not timed")) &&
                  (!cases[i].with_file || strstr(report, "engines file: 0 choices used, 1 rejected")),
                  "%s: the plan report names the engine and the refused legacy algorithm: %s", what, report);
        } else {
            const char *want = bf16 ? "only nondeterministic bf16 backward-filter algorithms for N 1 Ci 256"
                               : cases[i].no_memory
                                   ? "only nondeterministic backward-filter algorithms (legacy; the backend-API "
                                     "engine search was skipped: no device memory for its buffers) for N 1 Ci 256"
                                   : "only nondeterministic backward-filter algorithms (legacy, and no "
                                     "deterministic backend-API engine) for N 1 Ci 256";
            CHECK(rc == -1 && strstr(err.msg, want) && strstr(err.msg, "raise SG_CUDNN_WORKSPACE_MIB") &&
                  strstr(err.msg, "SG_CUDNN_NONDET=1") && !strchr(err.msg, '\n'),
                  "%s: no deterministic choice: refused in one line (rc %d: %s)", what, rc, err.msg);
            /* a second call chooses again and stops again */
            gpu->ops->conv2d_backward_filter(gpu, dw.g, NULL, x.g, dy.g, N, Ci, W, W, Co, K, 1, 1);
            memset(&err, 0, sizeof err);
            rc = gpu->ops->sync(gpu, &err);
            CHECK(rc == -1 && strstr(err.msg, want), "%s: a second call is refused too (rc %d: %s)", what, rc,
                  err.msg);
        }
        unsetenv("SG_EMU_MALLOC_FAIL");
        unsetenv("SG_EMU_CUDNN_BACKEND");
        pair_free(x); pair_free(dy); pair_free(dw);
        own_gpu_end(saved);
    }
    unlink(path);
}

/* Runs forward, backward-data and backward-filter of one shape on be (raw
 * random data: both backends compared share the layout) and downloads the
 * three outputs into out[0..2]; returns 0, or -1 with err. */
static int conv_three(sg_backend *be, const conv_case *k, float *out[3], sg_err *err)
{
    int Ho = (k->H + 2 * k->p - k->K) / k->s + 1, Wo = (k->W + 2 * k->p - k->K) / k->s + 1;
    size_t nx = (size_t)k->N * k->Ci * k->H * k->W, nw = (size_t)k->Co * k->Ci * k->K * k->K;
    size_t ny = (size_t)k->N * k->Co * Ho * Wo;
    /* the same inputs at every call for a case: two backends' outputs compare bit for bit */
    uint64_t saved = draw_counter;
    draw_counter = 1u << 30;
    float *hx = rnd(nx, -1, 1), *hw = rnd(nw, -0.2f, 0.2f), *hy = rnd(ny, -1, 1);
    draw_counter = saved;
    float *x = be->ops->alloc(be, nx * 4), *w = be->ops->alloc(be, nw * 4), *y = be->ops->alloc(be, ny * 4);
    float *dx = be->ops->alloc(be, nx * 4), *dw = be->ops->alloc(be, nw * 4), *dy = be->ops->alloc(be, ny * 4);
    int rc = -1;
    if (x && w && y && dx && dw && dy) {
        be->ops->upload(be, x, hx, nx * 4);
        be->ops->upload(be, w, hw, nw * 4);
        be->ops->upload(be, dy, hy, ny * 4);
        be->ops->conv2d_forward(be, y, x, w, NULL, k->N, k->Ci, k->H, k->W, k->Co, k->K, k->s, k->p);
        be->ops->conv2d_backward_data(be, dx, dy, w, k->N, k->Ci, k->H, k->W, k->Co, k->K, k->s, k->p);
        be->ops->conv2d_backward_filter(be, dw, NULL, x, dy, k->N, k->Ci, k->H, k->W, k->Co, k->K, k->s, k->p);
        if (!be->ops->sync(be, err)) {
            be->ops->download(be, out[0], y, ny * 4);
            be->ops->download(be, out[1], dx, nx * 4);
            be->ops->download(be, out[2], dw, nw * 4);
            rc = be->ops->sync(be, err);
        }
    } else {
        be->ops->sync(be, err);
    }
    be->ops->free(be, x); be->ops->free(be, w); be->ops->free(be, y);
    be->ops->free(be, dx); be->ops->free(be, dw); be->ops->free(be, dy);
    free(hx); free(hw); free(hy);
    return rc;
}

/* Engine choices saved by one backend and loaded by another: the second
 * makes the same choices, so its results are bit-equal to the first's even
 * where timing would have chosen differently; a file for another precision
 * is set aside with a note, a malformed one is an error. */
static void test_engines_file(void)
{
    const int S = emulated ? 32 : 128;     /* see n_conv_cases */
    const conv_case cases[] = {
        { 4, 8, S, S, 64, 7, 1, 3, 0 }, { 4, 64, S, S, 3, 7, 1, 3, 0 },
        { 4, 128, 32, 32, 256, 4, 2, 1, 0 }, { 2, 3, 32, 32, 16, 4, 2, 1, 1 },
    };
    const int nc = (int)(sizeof cases / sizeof cases[0]);
    char path[] = "/tmp/sg-engines-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) { printf("FAIL engines file: mkstemp\n"); check_failed++; return; }
    close(fd);
    sg_err err;
    sg_backend *a = cuda_with_env("SG_CUDNN_SEARCH", "timed", "tf32", &err);
    sg_backend *b = a ? cuda_with_env("SG_CUDNN_SEARCH", "timed", "tf32", &err) : NULL;
    if (!a || !b) {
        printf("FAIL engines file backends: %s\n", err.msg);
        check_failed++;
        sg_backend_destroy(a); sg_backend_destroy(b);
        unlink(path);
        return;
    }
    float *ra[16][3], *rb[16][3];
    int ok = 1;
    for (int i = 0; i < nc && ok; i++) {
        const conv_case *k = &cases[i];
        int Ho = (k->H + 2 * k->p - k->K) / k->s + 1, Wo = (k->W + 2 * k->p - k->K) / k->s + 1;
        size_t n[3] = { (size_t)k->N * k->Co * Ho * Wo, (size_t)k->N * k->Ci * k->H * k->W,
                        (size_t)k->Co * k->Ci * k->K * k->K };
        for (int j = 0; j < 3; j++) { ra[i][j] = malloc(n[j] * 4); rb[i][j] = malloc(n[j] * 4); }
        ok = !conv_three(a, k, ra[i], &err);
    }
    char note[400] = "";
    int loaded = ok && !sg_backend_cuda_engines_save(a, path, &err) ?
                 sg_backend_cuda_engines_load(b, path, note, sizeof note, &err) : -1;
    CHECK(loaded == 1, "engines file saved and loaded: %d (%s%s)", loaded, err.msg, note);
    for (int i = 0; i < nc && ok && loaded == 1; i++) ok = !conv_three(b, &cases[i], rb[i], &err);
    if (!ok) { printf("FAIL engines file convolutions: %s\n", err.msg); check_failed++; }
    for (int i = 0; i < nc && ok && loaded == 1; i++) {
        const conv_case *k = &cases[i];
        int Ho = (k->H + 2 * k->p - k->K) / k->s + 1, Wo = (k->W + 2 * k->p - k->K) / k->s + 1;
        size_t n[3] = { (size_t)k->N * k->Co * Ho * Wo, (size_t)k->N * k->Ci * k->H * k->W,
                        (size_t)k->Co * k->Ci * k->K * k->K };
        for (int j = 0; j < 3; j++)
            CHECK(!memcmp(ra[i][j], rb[i][j], n[j] * 4), "engines file: %s of N%d Ci%d %dx%d Co%d K%d "
                  "bit-equal in the process that loaded the choices",
                  j == 0 ? "fwd" : j == 1 ? "bwd-data" : "bwd-filter", k->N, k->Ci, k->H, k->W, k->Co, k->K);
    }
    int used = 0, rejected = 0;
    sg_backend_cuda_engine_choices(b, &used, &rejected);
    CHECK(loaded != 1 || (used == 3 * nc && rejected == 0), "engines file: %d of %d choices used, %d rejected",
          used, 3 * nc, rejected);
    static char report[16384];
    printf("  engines file: the loading process's choices (tf32):\n%s", sg_backend_cuda_plan_report(b, report, sizeof report));
    for (int i = 0; i < nc; i++)
        for (int j = 0; j < 3; j++) { free(ra[i][j]); free(rb[i][j]); }
    sg_backend_destroy(a);
    sg_backend_destroy(b);

    /* another precision: set aside with a note, nothing loaded */
    sg_backend *f = sg_backend_cuda_create_precision(0, "fp32", &err);
    if (f) {
        int rc = sg_backend_cuda_engines_load(f, path, note, sizeof note, &err);
        CHECK(rc == 0 && strstr(note, "choosing anew"), "a tf32 engines file is not applied to fp32: rc %d, note \"%s\"",
              rc, note);
        /* malformed */
        FILE *fp = fopen(path, "r+");
        char text[8192];
        size_t len = fp ? fread(text, 1, sizeof text - 1, fp) : 0;
        if (fp) fclose(fp);
        text[len] = 0;
        char *last = strrchr(text, 'f');      /* inside the last choice line ("fwd"/"bwd-filter") */
        sg_backend *g = cuda_with_env("SG_CUDNN_SEARCH", "timed", "tf32", &err);
        if (last && g) {
            *last = 'q';
            fp = fopen(path, "w");
            if (fp) { fputs(text, fp); fclose(fp); }
            rc = sg_backend_cuda_engines_load(g, path, note, sizeof note, &err);
            CHECK(rc < 0 && strstr(err.msg, "line"), "a malformed engines file is an error naming the line: "
                  "rc %d: %s", rc, rc < 0 ? err.msg : note);
        }
        sg_backend_destroy(g);
        sg_backend_destroy(f);
    }
    unlink(path);
}

/* path's text into buf (NUL-terminated, at most size - 1 bytes); 0 or -1. */
static int read_text(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    if (!f) { buf[0] = 0; return -1; }
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = 0;
    int full = !feof(f) ? fgetc(f) == EOF : 1;
    fclose(f);
    return full ? 0 : -1;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* One shape's three kinds on a new fp32 backend with the heuristic engine
 * search while the emulation lists SG_EMU_CUDNN_KNOBS=knobs, after loading
 * the engines file `load` (NULL: none); the outputs into out[0..2], the plan
 * report into report, the file's choices used and rejected. Saves the
 * choices to `save` (NULL: not). 0, or -1 with a FAIL printed. */
static int knobs_run(const char *knobs, const conv_case *k, const char *load, const char *save, float *out[3],
                     char *report, size_t size, int *used, int *rejected)
{
    sg_err err = {{0}};
    char note[400] = "";
    setenv("SG_EMU_CUDNN_KNOBS", knobs, 1);
    sg_backend *be = cuda_with_env("SG_CUDNN_SEARCH", "heuristic", "fp32", &err);
    int rc = be ? 0 : -1;
    if (!rc && load && sg_backend_cuda_engines_load(be, load, note, sizeof note, &err) != 1) rc = -1;
    if (!rc) rc = conv_three(be, k, out, &err);
    if (!rc && save) rc = sg_backend_cuda_engines_save(be, save, &err);
    if (be) {
        sg_backend_cuda_plan_report(be, report, size);
        sg_backend_cuda_engine_choices(be, used, rejected);
    }
    if (rc) { printf("FAIL engines file knobs, list %s: %s%s\n", knobs, err.msg, note); check_failed++; }
    sg_backend_destroy(be);
    unsetenv("SG_EMU_CUDNN_KNOBS");
    return rc;
}

/* The engines file brings back the very configuration, knob values and all,
 * not just its engine (emulation only: SG_EMU_CUDNN_KNOBS=2:... lists engine
 * 2 once per knob value, and a value moves its results' last bits, as
 * another kernel's summation order does). The fp32 heuristic search takes
 * the first usable configuration, #2 (engines 0 and 1 are excluded by
 * their notes): with the list 2:4,0 that is engine 2 with knob 4, saved.
 * A process whose heuristics list the same configurations in another order
 * (2:0,4: #2 is now engine 2 with knob 0) must take #3 and give the first
 * process's results bit for bit; matching the rank and engine alone would
 * take knob 0. Where the recorded configuration is not offered (2:0) each
 * choice is rejected and chosen anew, as a missing engine is; a file
 * without knob values (written before they were recorded) is matched by
 * rank and engine. */
static void test_engines_file_knobs(void)
{
    const conv_case k = { 2, 8, 16, 16, 8, 3, 1, 1, 0 };
    const int Ho = k.H, Wo = k.W;
    const size_t n[3] = { (size_t)k.N * k.Co * Ho * Wo, (size_t)k.N * k.Ci * k.H * k.W,
                          (size_t)k.Co * k.Ci * k.K * k.K };
    static const char *kinds[3] = { "fwd", "bwd-data", "bwd-filter" };
    char path[] = "/tmp/sg-engines-knobs-XXXXXX", again[] = "/tmp/sg-engines-knobs-XXXXXX";
    int fd = mkstemp(path), fd2 = mkstemp(again);
    if (fd >= 0) close(fd);
    if (fd2 >= 0) close(fd2);
    if (fd < 0 || fd2 < 0) { printf("FAIL engines file knobs: mkstemp\n"); check_failed++; return; }
    static char report[16384];
    char text[4096], text2[4096];
    float *r[4][3];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) r[i][j] = malloc(n[j] * 4);
    int used = -1, rejected = -1;

    /* the first process: engine 2 with knob 4 (#2 of 5 + 2 fallback) */
    if (knobs_run("2:4,0", &k, NULL, path, r[0], report, sizeof report, &used, &rejected)) goto out;
    CHECK(count_in(report, "engine 2 knobs 2=4 (#2 of 7, heuristic") == 3,
          "knobs: the search took engine 2 with knob 4 in each kind: %s", report);
    CHECK(!read_text(path, text, sizeof text) && count_in(text, " 2 knobs 2=4\n") == 3,
          "knobs: the file records engine 2's knob value in each kind: %s", text);

    /* the same configurations listed in another order */
    if (knobs_run("2:0,4", &k, path, again, r[1], report, sizeof report, &used, &rejected)) goto out;
    CHECK(used == 3 && rejected == 0, "knobs, list reordered: %d of 3 choices used, %d rejected", used, rejected);
    CHECK(count_in(report, "engine 2 knobs 2=4 (#3 of 7, file") == 3,
          "knobs, list reordered: the loader took engine 2 with knob 4 at its new rank in each kind: %s", report);
    for (int j = 0; j < 3; j++)
        CHECK(!memcmp(r[0][j], r[1][j], n[j] * 4), "knobs, list reordered: %s bit-equal to the first process's",
              kinds[j]);
    CHECK(!read_text(again, text2, sizeof text2) && count_in(text2, " 3 2 knobs 2=4\n") == 3,
          "knobs, list reordered: the process saves the same configuration at its new rank: %s", text2);

    /* the recorded configuration not offered */
    if (knobs_run("2:0", &k, path, NULL, r[2], report, sizeof report, &used, &rejected)) goto out;
    CHECK(used == 0 && rejected == 3, "knobs, knob 4 not offered: %d choices used, %d of 3 rejected", used, rejected);
    CHECK(count_in(report, "engine 2 knobs 2=0 (#2 of 6, heuristic") == 3,
          "knobs, knob 4 not offered: chosen anew in each kind: %s", report);
    /* the emulated knob value shows in the results (what makes the bit-equality above a test) */
    for (int j = 0; j < 3; j++)
        CHECK(memcmp(r[0][j], r[2][j], n[j] * 4) != 0, "knobs: %s with knob 0 differs from knob 4 in the last bits",
              kinds[j]);

    /* a file without knob values: rank and engine */
    char old[4096], *o = old;
    for (const char *t = text; *t;)
        if (!strncmp(t, " knobs 2=4", 10)) t += 10;
        else *o++ = *t++;
    *o = 0;
    CHECK(count_in(old, "knobs") == 0 && !write_text(path, old), "knobs: a file without knob values written");
    if (knobs_run("2:4,0", &k, path, NULL, r[3], report, sizeof report, &used, &rejected)) goto out;
    CHECK(used == 3 && rejected == 0, "knobs, a file without knob values: %d of 3 choices used, %d rejected", used,
          rejected);
    for (int j = 0; j < 3; j++)
        CHECK(!memcmp(r[0][j], r[3][j], n[j] * 4), "knobs, a file without knob values: %s bit-equal", kinds[j]);
out:
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) free(r[i][j]);
    unlink(path);
    unlink(again);
}

/* ---- convolutions as im2col + cuBLAS GEMM (SG_CUDA_GEMM_MAX_PIXELS) --------- */

/* Small outputs, which the GEMM path takes at SG_CUDA_GEMM_MAX_PIXELS=16:
 * K 1 to 4, strides 1 and 2, pads 0 and 1, with and without bias, odd
 * sizes and channel counts. A transposed convolution is these same three
 * calls in other roles (lib/backend.h), so every case covers one: e.g. the
 * first is also ConvTranspose2d(32, 16, 4, 2, 1) from 2x2 to 4x4 (its
 * forward is backward-data here, its backward-data the forward). */
static const conv_case gemm_cases[] = {
    { 2, 16, 4, 4, 32, 4, 2, 1, 1 },   /* D's last layers in small: 4x4 -> 2x2 */
    { 3, 8, 8, 8, 16, 4, 2, 1, 0 },    /* 8x8 -> 4x4: 16 pixels, the limit */
    { 2, 8, 3, 3, 12, 1, 1, 0, 1 },    /* 1x1 stride 1: no col, x itself */
    { 2, 5, 7, 7, 6, 1, 2, 0, 0 },     /* 1x1 stride 2: 7x7 -> 4x4 */
    { 2, 6, 5, 5, 7, 2, 2, 0, 0 },     /* K 2, pad 0: 5x5 -> 2x2 */
    { 2, 5, 3, 3, 4, 3, 2, 1, 1 },     /* K 3 stride 2: 3x3 -> 2x2 */
    { 1, 4, 7, 7, 3, 4, 2, 1, 0 },     /* 7x7 -> 3x3, 3 output channels */
    { 2, 3, 2, 2, 9, 3, 1, 1, 1 },     /* D's src head's shape: 3x3 stride 1 at 2x2 */
    { 4, 32, 2, 2, 5, 2, 1, 0, 0 },    /* D's cls head: 2x2 -> 1x1 */
};
#define GEMM_MAX_PIXELS 16

static int gemm_routed(const conv_case *k)
{
    int Ho = (k->H + 2 * k->p - k->K) / k->s + 1, Wo = (k->W + 2 * k->p - k->K) / k->s + 1;
    return Ho * Wo <= GEMM_MAX_PIXELS;
}

/* The GEMM path's calls per kind from the plan report, or -1 each when it
 * has no GEMM line. Returns whether the line says off (NCHW, bf16). */
static int gemm_counts(long long n[3], char *report, size_t size)
{
    sg_backend_cuda_plan_report(gpu, report, size);
    const char *at = strstr(report, "GEMM path (");
    n[0] = n[1] = n[2] = -1;
    if (!at) return 0;
    const char *colon = strstr(at, "): ");
    if (colon) sscanf(colon, "): %lld forward, %lld backward-data, %lld backward-filter", &n[0], &n[1], &n[2]);
    return strstr(at, ", off: ") != NULL && strstr(at, ", off: ") < colon;
}

/* Everything of one convolution in its final (stored) layout: y, dx, dw, db */
typedef struct { float *h; size_t n; } snapshot;

static snapshot snap(pair *ps, int n)
{
    size_t total = 0, at = 0;
    for (int i = 0; i < n; i++) total += ps[i].n;
    snapshot s = { malloc(total * sizeof(float) + 1), total };
    for (int i = 0; i < n; i++) {
        gpu->ops->download(gpu, s.h + at, ps[i].g, ps[i].n * sizeof(float));
        at += ps[i].n;
    }
    return s;
}

static int snap_equal(snapshot a, snapshot b)
{
    return a.n == b.n && !memcmp(a.h, b.h, a.n * sizeof(float));
}

/* The three calls of case k on be, cpu or gpu, with that side of each pair
 * (dw, db reset from dw0, db0 first: the calls add into them); on the gpu,
 * on the active lane. */
static void gemm_three(sg_backend *be, const conv_case *k, pair x, pair w, pair b, pair dy, pair dw0, pair db0,
                       pair out[4])
{
#define SIDE(p) (be == gpu ? (p).g : (p).c)
    be->ops->conv2d_forward(be, SIDE(out[0]), SIDE(x), SIDE(w), k->bias ? SIDE(b) : NULL, k->N, k->Ci, k->H, k->W,
                            k->Co, k->K, k->s, k->p);
    be->ops->conv2d_backward_data(be, SIDE(out[1]), SIDE(dy), SIDE(w), k->N, k->Ci, k->H, k->W, k->Co, k->K, k->s,
                                  k->p);
    be->ops->copy(be, SIDE(out[2]), SIDE(dw0), dw0.n * sizeof(float));
    be->ops->copy(be, SIDE(out[3]), SIDE(db0), db0.n * sizeof(float));
    be->ops->conv2d_backward_filter(be, SIDE(out[2]), k->bias ? SIDE(out[3]) : NULL, SIDE(x), SIDE(dy), k->N, k->Ci,
                                    k->H, k->W, k->Co, k->K, k->s, k->p);
#undef SIDE
}

/* Case k on the GEMM backend (gpu): eager twice (bit-equal: cuBLAS with one
 * handle, stream and workspace repeats itself), recorded into a step graph
 * and replayed (bit-equal to eager), then on lane 1, whose first recording
 * breaks (lane 1's cuBLAS handle and col buffer are made eagerly, never
 * while recording: graph_end -1, graphs stay on; lane1_new 0: lane 1 has
 * them from an earlier case, the recording succeeds), then eager, then
 * recorded and replayed twice (bit-equal to lane 1's eager run). Each
 * against the CPU. */
static void gemm_repeat_case(const conv_case *k, double tol, double norm_tol, const char *mode, int lane1_new)
{
    int Ho = (k->H + 2 * k->p - k->K) / k->s + 1, Wo = (k->W + 2 * k->p - k->K) / k->s + 1;
    size_t hw = (size_t)k->H * k->W, ohw = (size_t)Ho * Wo, kk = (size_t)k->K * k->K;
    pair x = pair_rand_shaped(-1, 1, k->N, k->Ci, hw), w = pair_rand_shaped(-0.2f, 0.2f, k->Co, k->Ci, kk);
    pair b = pair_rand(k->Co, -0.5f, 0.5f), dy = pair_rand_shaped(-1, 1, k->N, k->Co, ohw);
    pair dw0 = pair_rand_shaped(-0.1f, 0.1f, k->Co, k->Ci, kk), db0 = pair_rand(k->Co, -0.1f, 0.1f);
    pair out[4] = { pair_rand_shaped(-5, 5, k->N, k->Co, ohw), pair_rand_shaped(-5, 5, k->N, k->Ci, hw),
                    pair_shaped(NULL, k->Co, k->Ci, kk), pair_from(NULL, k->Co) };
    gemm_three(cpu, k, x, w, b, dy, dw0, db0, out);
    static const char *what[4] = { "fwd", "bwd-data", "bwd-filter (+=)", "bias grad (+=)" };
    char name[200], note[800];
    snapshot first = { NULL, 0 }, lane1 = { NULL, 0 };
    for (int round = 0; round < 7; round++) {
        /* 0, 1: eager on lane 0; 2: recorded, replayed; 3: lane 1 recorded,
         * broken; 4: lane 1 eager; 5: lane 1 recorded, replayed; 6: replayed */
        static const char *rounds[7] = { "eager", "eager again", "graph", "lane 1, first recording", "lane 1 eager",
                                         "lane 1 graph", "lane 1 graph replayed again" };
        int lane1_round = round >= 3, record = round == 2 || round == 3 || round == 5;
        if (round == 6) {
            CHECK(gpu->ops->graph_launch(gpu, 3, gpu, 0, 1) == 0, "%s: the lane-1 graph replays again", mode);
        } else {
            if (record) CHECK(gpu->ops->graph_begin(gpu, 3, gpu) == 0, "%s: recording (%s) begins", mode,
                              rounds[round]);
            if (lane1_round) gpu->ops->lane(gpu, SG_LANE_FORK);
            gemm_three(gpu, k, x, w, b, dy, dw0, db0, out);
            if (lane1_round) gpu->ops->lane(gpu, SG_LANE_JOIN);
            if (record) {
                int r = gpu->ops->graph_end(gpu, 3), want = round == 3 && lane1_new ? -1 : 0;
                CHECK(r == want, "%s: recording (%s) ends %d (want %d)", mode, rounds[round], r, want);
                if (r == 0) CHECK(gpu->ops->graph_launch(gpu, 3, gpu, 0, 1) == 0, "%s: recording launched", mode);
            }
        }
        sg_backend_cuda_graph_note(gpu, note, sizeof note);
        CHECK(!strstr(note, "turned off"), "%s, %s: step graphs stay on: %s", mode, rounds[round], note);
        if (!sync_both(mode) || (round == 3 && lane1_new)) continue;       /* nothing ran */
        snapshot now = snap(out, 4);
        if (round == 0) {
            first = now;
            for (int i = 0; i < (k->bias ? 4 : 3); i++) {
                snprintf(name, sizeof name, "%s %s N%d Ci%d %dx%d Co%d K%d s%d p%d", mode, what[i], k->N, k->Ci,
                         k->H, k->W, k->Co, k->K, k->s, k->p);
                compare_at(name, out[i], 0, out[i].n, i == 3 ? 1e-5 : tol, i == 3 ? 0 : norm_tol);
            }
            continue;
        }
        if (round == 4) {
            lane1 = now;
            for (int i = 0; i < 3; i++) {
                snprintf(name, sizeof name, "%s lane 1 %s", mode, what[i]);
                compare_at(name, out[i], 0, out[i].n, tol, norm_tol);
            }
            continue;
        }
        if (round == 3) {                   /* lane 1 was ready: rounds 4 to 6 check its results */
            free(now.h);
            continue;
        }
        CHECK(snap_equal(now, round < 3 ? first : lane1), "%s: %s bit-equal to %s", mode, rounds[round],
              round < 3 ? "the first eager run" : "lane 1's eager run");
        free(now.h);
    }
    free(first.h);
    free(lane1.h);
    pair_free(x); pair_free(w); pair_free(b); pair_free(dy); pair_free(dw0); pair_free(db0);
    for (int i = 0; i < 4; i++) pair_free(out[i]);
}

/* Where cuBLAS cannot be loaded (the emulation's SG_EMU_NO_CUBLAS): the
 * GEMM path asked for (SG_CUDA_GEMM_MAX_PIXELS set) fails the backend's
 * creation in one line naming the switch, not a later step; a default that
 * takes it (SG_CUDA_GEMM_DEFAULT_PIXELS > 0, sg_conv_gemm_open with asked 0)
 * turns it off and leaves the convolutions to cuDNN, still right. */
static void test_gemm_without_cublas(void)
{
    setenv("SG_EMU_NO_CUBLAS", "1", 1);
    sg_err err = { { 0 } };
    sg_backend *be = cuda_with_env("SG_CUDA_GEMM_MAX_PIXELS", "16", "fp32", &err);
    CHECK(!be && strstr(err.msg, "SG_CUDA_GEMM_MAX_PIXELS: cannot load cuBLAS") && !strchr(err.msg, '\n'),
          "GEMM asked for without cuBLAS: creation fails naming the switch (got %s: %s)", be ? "a backend" : "NULL",
          err.msg);
    if (be) sg_backend_destroy(be);
    sg_backend *saved;
    if (own_gpu_begin(&saved, NULL, NULL, "fp32", "gemm default without cuBLAS") == 0) {
        long now = -1;
        int rc = sg_backend_cuda_test_gemm_open(gpu, 16, 0, &now, &err);   /* as a default of 16 would */
        CHECK(rc == 0 && now == 0, "a GEMM default without cuBLAS: rc %d, the path %s", rc, now ? "still on" : "off");
        test_conv(&gemm_cases[0], 1e-4, 0, "gemm default without cuBLAS");
        rc = sg_backend_cuda_test_gemm_open(gpu, 16, 1, &now, &err);       /* last: the error stays with gpu */
        CHECK(rc == -1 && strstr(err.msg, "SG_CUDA_GEMM_MAX_PIXELS: cannot load cuBLAS"),
              "the GEMM path asked for without cuBLAS: an error (rc %d: %s)", rc, err.msg);
        own_gpu_end(saved);
    }
    unsetenv("SG_EMU_NO_CUBLAS");
}

/* SG_CUDA_GEMM_MAX_PIXELS=16 on a backend of its own, at one precision:
 * every convolution case (the ordinary ones and gemm_cases) against the CPU
 * at the precision's tolerances, the plan report counting exactly the calls
 * of the cases with at most 16 output pixels (the path is really taken, and
 * only there), repeats, graphs and lane 1 (gemm_repeat_case), then the
 * model's steps (fp32: D's layers at the test's 32 px end in 4x4 and 2x2,
 * its heads at 2x2 and 1x1). The switch leaves NCHW and bf16 on cuDNN. */
static void test_gemm_path(const char *precision)
{
    sg_backend *saved;
    char mode[48], value[16];
    static char report[16384];
    snprintf(value, sizeof value, "%d", GEMM_MAX_PIXELS);
    snprintf(mode, sizeof mode, "%s gemm%d", precision, GEMM_MAX_PIXELS);
    if (own_gpu_begin(&saved, "SG_CUDA_GEMM_MAX_PIXELS", value, precision, mode)) return;
    printf("cuda backend, %s, SG_CUDA_GEMM_MAX_PIXELS=%s (%s)\n", precision, value, gpu->nhwc ? "NHWC" : "NCHW");
    int tf32 = !strcmp(precision, "tf32");
    double tol = tf32 ? TF32_CONV_TOL : 1e-4, norm_tol = tf32 ? TF32_CONV_NORM_TOL : 0;
    long long want = 0, n[3];
    for (size_t i = 0; i < n_conv_cases(); i++) {
        test_conv(&conv_cases[i], tol, norm_tol, mode);
        want += gemm_routed(&conv_cases[i]);
    }
    for (size_t i = 0; i < sizeof gemm_cases / sizeof gemm_cases[0]; i++) {
        test_conv(&gemm_cases[i], tol, norm_tol, mode);
        want += gemm_routed(&gemm_cases[i]);
    }
    gemm_counts(n, report, sizeof report);
    CHECK(n[0] == want && n[1] == want && n[2] == want, "%s: %lld calls of each kind through GEMM (the cases "
          "with at most %d output pixels), the report says %lld, %lld, %lld:\n%s", mode, want, GEMM_MAX_PIXELS,
          n[0], n[1], n[2], report);
    printf("  %s: %lld calls of each kind through im2col + cuBLAS, as expected\n", mode, want);
    gemm_repeat_case(&gemm_cases[0], tol, norm_tol, mode, 1);
    gemm_repeat_case(&gemm_cases[5], tol, norm_tol, mode, 0);
    if (!tf32) {
        test_model_steps(0, &fp32_steps);
        gemm_counts(n, report, sizeof report);
        CHECK(n[0] > want && n[1] > want && n[2] > want, "%s: the model's steps went through GEMM too: %lld, "
              "%lld, %lld calls", mode, n[0], n[1], n[2]);
    }
    own_gpu_end(saved);
    /* NCHW and bf16 keep cuDNN whatever the switch says */
    const char *others[2][3] = { { "SG_CUDA_LAYOUT", "nchw", "fp32" }, { "SG_CUDA_LAYOUT", "nhwc", "bf16" } };
    for (int i = 0; i < 2; i++) {
        setenv("SG_CUDA_GEMM_MAX_PIXELS", value, 1);
        int rc = own_gpu_begin(&saved, others[i][0], others[i][1], others[i][2], "gemm switch, not taken");
        unsetenv("SG_CUDA_GEMM_MAX_PIXELS");
        if (rc) continue;
        snprintf(mode, sizeof mode, "%s %s gemm%d", others[i][2], others[i][1], GEMM_MAX_PIXELS);
        if (i == 0) test_conv(&gemm_cases[0], 1e-4, 0, mode);
        else test_conv_prec(&gemm_cases[0], BF16_CONV_TOL, 0, mode, 1);
        int off = gemm_counts(n, report, sizeof report);
        CHECK(off && n[0] == 0 && n[1] == 0 && n[2] == 0, "%s: the GEMM path is off (%lld, %lld, %lld calls):\n%s",
              mode, n[0], n[1], n[2], report);
        own_gpu_end(saved);
    }
}

/* The fp32 suite: every op at several shapes, then the model's steps. */
static void fp32_suite(const char *label)
{
    printf("%s\n", label);
    for (size_t i = 0; i < n_conv_cases(); i++)
        test_conv(&conv_cases[i], 1e-4, 0, "fp32");
    test_instnorm(2, 3, 37, 1);
    test_instnorm(4, 16, 1024, 1);
    test_instnorm(2, 8, 4096, 0);
    test_instnorm(3, 40, 100, 1);
    instnorm_residual_case(2, 8, 4096, gpu->nhwc ? "NHWC" : "NCHW");
    test_elementwise(1001, 0);
    test_elementwise(1 << 20, 0);
    test_elementwise(1003, 1);
    test_layout_ops();
    test_draw_batch();
    test_bias_leaky_relu();
    test_leaky_relu_backward_bias();
    test_losses();
    test_adam();
    test_all_finite();
    test_model_steps(0, &fp32_steps);
    test_model_steps(1, &fp32_steps);
}

/* The CPU's bf16 rounding (tests/unit/bf16_round.h), which the bf16 checks
 * rest on: ties to even, NaN, inf, overflow, subnormals, signs. */
static void test_bf16_round(void)
{
    static const struct { uint32_t in, want; } cases[] = {
        { 0x3f800000u, 0x3f800000u },   /* 1 */
        { 0x3f808000u, 0x3f800000u },   /* 1 + 2^-8: a tie, to the even 1 */
        { 0x3f818000u, 0x3f820000u },   /* 1 + 3*2^-8: a tie, to the even 1 + 2^-6 */
        { 0x3f808001u, 0x3f810000u },   /* just past the tie: up */
        { 0x3f807fffu, 0x3f800000u },   /* just below: down */
        { 0xbf808000u, 0xbf800000u },   /* -(1 + 2^-8): the same tie, sign kept */
        { 0x40490fdbu, 0x40490000u },   /* pi -> 3.140625 */
        { 0x3f7fffffu, 0x3f800000u },   /* the largest float below 1: up into the next binade */
        { 0x7f800000u, 0x7f800000u },   /* inf */
        { 0xff800000u, 0xff800000u },   /* -inf */
        { 0x7f7f0000u, 0x7f7f0000u },   /* the largest bf16 */
        { 0x7f7f7fffu, 0x7f7f0000u },   /* just below the tie above it */
        { 0x7f7f8000u, 0x7f800000u },   /* the tie above the largest bf16 (odd): to inf */
        { 0x7f7fffffu, 0x7f800000u },   /* FLT_MAX: inf */
        { 0x00000000u, 0x00000000u },   /* 0 */
        { 0x80000000u, 0x80000000u },   /* -0 */
        { 0x00000001u, 0x00000000u },   /* the smallest subnormal: to 0 */
        { 0x00008000u, 0x00000000u },   /* half the smallest bf16 subnormal: a tie, to the even 0 */
        { 0x00008001u, 0x00010000u },   /* past it: the smallest bf16 subnormal */
        { 0x00018000u, 0x00020000u },   /* a tie between subnormals 1 and 2: to the even 2 */
        { 0x807fffffu, 0x80800000u },   /* the largest negative subnormal: up to -FLT_MIN */
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float v, r;
        uint32_t got;
        memcpy(&v, &cases[i].in, sizeof v);
        r = bf16_round(v);
        memcpy(&got, &r, sizeof got);
        if (got != cases[i].want) {
            printf("FAIL bf16_round(0x%08x) = 0x%08x, want 0x%08x\n", cases[i].in, got, cases[i].want);
            bad++;
        }
    }
    CHECK(bad == 0, "bf16_round: %d of %zu fixed cases wrong", bad, sizeof cases / sizeof cases[0]);
    uint32_t nans[] = { 0x7fc00000u, 0x7f800001u, 0xffc00001u, 0x7f810000u };  /* quiet, signalling, low bits */
    int nan_ok = 1;
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++) {
        float v;
        memcpy(&v, &nans[i], sizeof v);
        nan_ok &= isnan(bf16_round(v));
    }
    CHECK(nan_ok, "bf16_round keeps every NaN a NaN (signalling ones with no high mantissa bits too)");
    /* random finite floats over every exponent: the result is a bf16 value,
     * within half a bf16 ulp, and the nearer of the two bf16 neighbours */
    int worst_ok = 1;
    for (uint32_t i = 0; i < 200000 && worst_ok; i++) {
        uint32_t u = (uint32_t)(sg_randu(42, 31, i) * 4294967296.0), r, lo, hi;
        if ((u & 0x7f800000u) == 0x7f800000u) continue;                /* inf, NaN */
        float v, f, flo, fhi;
        memcpy(&v, &u, sizeof v);
        f = bf16_round(v);
        memcpy(&r, &f, sizeof r);
        lo = u & 0xffff0000u;
        hi = lo + 0x10000u;
        memcpy(&flo, &lo, sizeof flo);
        memcpy(&fhi, &hi, sizeof fhi);
        double dlo = fabs((double)v - flo), dhi = fabs((double)v - fhi);
        uint32_t want = dlo < dhi ? lo : dhi < dlo ? hi : ((lo >> 16) & 1u) ? hi : lo;
        if ((r & 0xffffu) || r != want) {
            printf("FAIL bf16_round(0x%08x) = 0x%08x, want 0x%08x\n", u, r, want);
            worst_ok = 0;
        }
    }
    CHECK(worst_ok, "bf16_round of 200000 random floats: the nearest bf16, ties to even");
}

/* bf16 steps: the model's steps against the fp32 CPU model.
 * - losses within 5e-2 relative + 1e-4: the emulated bf16 run
 *   (tests/unit/nhwc_emulator.h, the same roundings) lands at 3.3e-3
 *   relative at worst (G/loss_fake ~5e-3; the others under 3e-4), and at
 *   1.2e-4 absolute at worst (D/loss_gp ~0.97);
 * - gradients element by element not checked, only printed: at this test's
 *   tiny model (batch 4, 8 channels, 8x8 planes in G's middle) every kink
 *   (ReLU, LeakyReLU, the L1 reconstruction loss) that a rounding flips
 *   moves gradients by a whole term, and the emulated run's G gradients
 *   differ from fp32 by up to 2.3 relative to |g| + rms. Over the whole net
 *   the emulated run's gradient differs by 0.22-0.36 (G) and 0.03-0.07 (D)
 *   of its norm, halving for every 2 more mantissa bits kept (error ~ the
 *   square root of the rounding step: kinks flipping, not error growing
 *   smoothly). So the check over the net is 0.7, twice the worst seen: it
 *   catches a gradient lost, zeroed or of the wrong sign (1 or more), not
 *   a partial loss (a backward-filter that overwrites dw instead of adding
 *   measured 0.6-0.7 in the emulator): the convolutions are checked op by
 *   op for that (bf16_conv_cases);
 * - after the steps, 2e-2 relative + 2.5 lr: the weights after one Adam step
 *   each differ by at most 2 lr whatever their gradients; the instance
 *   norms' running statistics follow the rounded conv outputs (the emulated
 *   run: up to 3.3e-4 absolute on running means of ~0.04). */
static const step_tol bf16_steps = { 5e-2, 1e-4, 0, 0.7, 2e-2 };

static void bf16_conv_cases(const char *mode)
{
    for (size_t i = 0; i < n_conv_cases(); i++)
        test_conv_prec(&conv_cases[i], BF16_CONV_TOL, 0, mode, 1);
}

static void bf16_suite(const char *label)
{
    printf("%s\n", label);
    bf16_conv_cases("bf16");
    test_model_steps(0, &bf16_steps);
    test_model_steps(1, &bf16_steps);
}

/* main's steps. The first backend (fp32, SG_CUDNN_SEARCH=timed) is made
 * before them, to know whether there is a GPU and which layout it takes
 * (first_nhwc); the first step uses it, and every step destroys the backends
 * it makes. With no GPU, the steps of cpu_steps run instead. */
static int cpu_as_gpu;          /* 1: --cpu-as-gpu; 2: --cpu-as-gpu-nhwc, or no GPU */
static int first_nhwc;
static char label[400], report[16384];

static void step_fp32_timed(void)
{
    sg_err err;
    if (!gpu) gpu = cuda_with_env("SG_CUDNN_SEARCH", "timed", "fp32", &err);
    if (!gpu) { printf("FAIL fp32 backend, SG_CUDNN_SEARCH=timed: %s\n", err.msg); check_failed++; return; }
    snprintf(label, sizeof label, "cuda backend on %s, fp32 convolutions, %s, engines timed",
             sg_backend_cuda_device_name(gpu), gpu->nhwc ? "NHWC" : "NCHW");
    fp32_suite(label);
    printf("cuDNN choices (fp32, timed):\n%s", sg_backend_cuda_plan_report(gpu, report, sizeof report));
    sg_backend_destroy(gpu);
    gpu = NULL;
}

/* the other layout too (A/B timing switches it with SG_CUDA_LAYOUT), on the
 * default (legacy) algorithms */
static void step_fp32_other_layout(void)
{
    sg_err err;
    gpu = cuda_with_env("SG_CUDA_LAYOUT", first_nhwc ? "nchw" : "nhwc", "fp32", &err);
    if (!gpu) {
        printf("FAIL fp32 backend, other layout: %s\n", err.msg);
        check_failed++;
        return;
    }
    snprintf(label, sizeof label, "cuda backend, fp32 convolutions, %s, default algorithms",
             gpu->nhwc ? "NHWC" : "NCHW");
    fp32_suite(label);
    sg_backend_destroy(gpu);
    gpu = NULL;
}

static void step_graph_replay_fp32(void) { test_graph_replay("fp32"); }
static void step_plan_eviction_fp32(void) { test_plan_eviction("fp32"); }
static void step_lanes(void) { test_lanes(0); }
static void step_lanes_fused(void) { test_lanes(1); }
static void step_gemm_path_fp32(void) { test_gemm_path("fp32"); }
static void step_gemm_path_tf32(void) { test_gemm_path("tf32"); }

/* the model's step graphs with D's small convolutions on GEMM (graphs and
 * eager both through it: bit-equal) */
static void step_graph_replay_tf32_gemm(void)
{
    setenv("SG_CUDA_GEMM_MAX_PIXELS", "16", 1);
    test_graph_replay("tf32");
    unsetenv("SG_CUDA_GEMM_MAX_PIXELS");
}

/* the emulation's faults and knobs: on an emulated GPU only */
static void step_wrong_engine(void) { if (emulated) test_wrong_engine(); }
static void step_search_without_memory(void) { if (emulated) test_search_without_memory(); }
static void step_nondet_legacy_refused(void) { if (emulated) test_nondet_legacy_refused(); }
static void step_nondet_legacy_engine_search(void) { if (emulated) test_nondet_legacy_engine_search(); }
static void step_gemm_without_cublas(void) { if (emulated) test_gemm_without_cublas(); }

static void step_tf32(void)
{
    sg_err err;
    gpu = sg_backend_cuda_create_precision(0, "tf32", &err);
    if (!gpu) {
        printf("FAIL tf32 backend: %s\n", err.msg);
        check_failed++;
        return;
    }
    for (size_t i = 0; i < n_conv_cases(); i++)
        test_conv(&conv_cases[i], TF32_CONV_TOL, TF32_CONV_NORM_TOL, "tf32");
    sg_backend_destroy(gpu);
    gpu = NULL;
}

/* each way of choosing (SG_CUDNN_SEARCH), every convolution again */
static void tf32_search(const char *search, int plans)
{
    sg_err err;
    gpu = cuda_with_env("SG_CUDNN_SEARCH", search, "tf32", &err);
    if (!gpu) {
        printf("FAIL tf32 backend, SG_CUDNN_SEARCH=%s: %s\n", search, err.msg);
        check_failed++;
        return;
    }
    char mode[32];
    snprintf(mode, sizeof mode, "tf32 %s", search);
    for (size_t i = 0; i < n_conv_cases(); i++)
        test_conv(&conv_cases[i], TF32_CONV_TOL, TF32_CONV_NORM_TOL, mode);
    if (plans)
        printf("cuDNN choices (tf32, %s):\n%s", search, sg_backend_cuda_plan_report(gpu, report, sizeof report));
    sg_backend_destroy(gpu);
    gpu = NULL;
}
static void step_tf32_timed(void) { tf32_search("timed", 1); }
static void step_tf32_heuristic(void) { tf32_search("heuristic", 1); }
static void step_tf32_find(void) { tf32_search("find", 0); }

/* 3-channel operands padded by the backend (SG_CUDA_PAD3, NHWC): every
 * convolution case (those with Ci 3 or Co 3 take the padded path), and the
 * model's steps (with pads 8), where D's first and G's last convolution do */
static void pad3(const char *pad, int steps)
{
    sg_err err;
    gpu = cuda_with_env("SG_CUDA_PAD3", pad, "fp32", &err);
    if (!gpu) {
        printf("FAIL fp32 backend, SG_CUDA_PAD3=%s: %s\n", pad, err.msg);
        check_failed++;
        return;
    }
    char mode[32];
    snprintf(mode, sizeof mode, "fp32 pad3=%s", pad);
    printf("cuda backend, fp32, SG_CUDA_PAD3=%s (%s)\n", pad, gpu->nhwc ? "NHWC" : "NCHW: no padding");
    for (size_t k = 0; k < n_conv_cases(); k++)
        test_conv(&conv_cases[k], 1e-4, 0, mode);
    if (steps) {
        test_model_steps(0, &fp32_steps);
        test_model_steps(1, &fp32_steps);
    }
    sg_backend_destroy(gpu);
    gpu = NULL;
}
static void step_pad3_4(void) { pad3("4", 0); }
static void step_pad3_8(void) { pad3("8", 1); }

static void step_bad_switches(void)
{
    sg_err err;
    gpu = cuda_with_env("SG_CUDA_PAD3", "5", "fp32", &err);
    CHECK(!gpu && strstr(err.msg, "SG_CUDA_PAD3=5"), "a bad SG_CUDA_PAD3 is refused: %s", gpu ? "(created)" : err.msg);
    sg_backend_destroy(gpu);
    gpu = cuda_with_env("SG_CUDNN_SEARCH", "bogus", "tf32", &err);
    CHECK(!gpu && strstr(err.msg, "SG_CUDNN_SEARCH=bogus"), "a bad SG_CUDNN_SEARCH is refused: %s",
          gpu ? "(created)" : err.msg);
    sg_backend_destroy(gpu);
    gpu = cuda_with_env("SG_CUDA_LANE_HANDLES", "3", "tf32", &err);
    CHECK(!gpu && strstr(err.msg, "SG_CUDA_LANE_HANDLES=3"), "a bad SG_CUDA_LANE_HANDLES is refused: %s",
          gpu ? "(created)" : err.msg);
    sg_backend_destroy(gpu);
    /* Every other switch refuses a typo too, rather than timing the default. */
    const char *typos[][3] = {{"SG_CUDA_LAYOUT", "NCHW", "expected nhwc or nchw"},
                              {"SG_CUDA_GRAPHS", "off", "expected 0 or 1"},
                              {"SG_CUDNN_FIND", "yes", "expected 0 or 1"},
                              {"SG_CUDNN_RTC", "2", "expected 0 or 1"},
                              {"SG_CUDA_LANE_PRIORITY", "low", "expected 0 or 1"},
                              {"SG_CUDA_IN_FUSED", "2", "expected 0 or 1"},
                              {"SG_CUDNN_WORKSPACE_MIB", "1g", "expected an integer from 1 to 65536"},
                              {"SG_CUDNN_WORKSPACE_MIB", "0", "expected an integer from 1 to 65536"},
                              {"SG_CUDA_GEMM_MAX_PIXELS", "-1", "expected an integer from 0 to 1048576"},
                              {"SG_CUDA_GEMM_MAX_PIXELS", "16px", "expected an integer from 0 to 1048576"}};
    for (size_t i = 0; i < sizeof typos / sizeof typos[0]; i++) {
        gpu = cuda_with_env(typos[i][0], typos[i][1], "tf32", &err);
        char want[128];
        snprintf(want, sizeof want, "%s=%s: %s", typos[i][0], typos[i][1], typos[i][2]);
        CHECK(!gpu && !strcmp(err.msg, want), "%s=%s is refused: %s", typos[i][0], typos[i][1],
              gpu ? "(created)" : err.msg);
        sg_backend_destroy(gpu);
    }
    gpu = NULL;
}

static void step_engines_file(void) { test_engines_file(); }
static void step_engines_file_knobs(void) { if (emulated) test_engines_file_knobs(); }

/* bf16 convolutions: the default layout and algorithms, then the other
 * layout, then SG_CUDNN_SEARCH=timed (which bf16 mode does not apply: the
 * legacy algorithms run and no engine is chosen), then step graphs */
static void step_bf16(void)
{
    sg_err err;
    gpu = sg_backend_cuda_create_precision(0, "bf16", &err);
    if (!gpu) {
        printf("FAIL bf16 backend: %s\n", err.msg);
        check_failed++;
        return;
    }
    snprintf(label, sizeof label, "cuda backend, bf16 convolutions, %s, default algorithms",
             gpu->nhwc ? "NHWC" : "NCHW");
    bf16_suite(label);
    printf("cuDNN choices (bf16, default):\n%s", sg_backend_cuda_plan_report(gpu, report, sizeof report));
    sg_backend_destroy(gpu);
    gpu = NULL;
}

static void step_bf16_other_layout(void)
{
    sg_err err;
    gpu = cuda_with_env("SG_CUDA_LAYOUT", first_nhwc ? "nchw" : "nhwc", "bf16", &err);
    if (!gpu) {
        printf("FAIL bf16 backend, other layout: %s\n", err.msg);
        check_failed++;
        return;
    }
    bf16_conv_cases(gpu->nhwc ? "bf16 NHWC" : "bf16 NCHW");
    sg_backend_destroy(gpu);
    gpu = NULL;
}

static void step_bf16_timed(void)
{
    sg_err err;
    gpu = cuda_with_env("SG_CUDNN_SEARCH", "timed", "bf16", &err);
    if (!gpu) {
        printf("FAIL bf16 backend, SG_CUDNN_SEARCH=timed: %s\n", err.msg);
        check_failed++;
        return;
    }
    bf16_conv_cases("bf16 timed");
    int made = sg_backend_cuda_engine_choices(gpu, NULL, NULL);
    CHECK(made == 0, "bf16 with SG_CUDNN_SEARCH=timed keeps the legacy algorithms: %d engine choices", made);
    printf("cuDNN choices (bf16, SG_CUDNN_SEARCH=timed):\n%s",
           sg_backend_cuda_plan_report(gpu, report, sizeof report));
    sg_backend_destroy(gpu);
    gpu = NULL;
}

static void step_graph_replay_bf16(void) { test_graph_replay("bf16"); }

/* With no GPU (or --cpu-as-gpu*): the harness on a CPU backend standing in
 * for CUDA, the NHWC emulator rounding like CUDA's bf16 mode for the bf16 suite. */
static void step_cpu_fp32(void)
{
    fp32_suite(cpu_as_gpu == 1 ? "the CPU standing in for CUDA (--cpu-as-gpu), NCHW"
                               : "the CPU standing in for CUDA, NHWC emulated");
}

static void step_cpu_bf16(void)
{
    if (cpu_as_gpu != 2) return;
    emu_bf16 = 1;
    bf16_suite("the CPU standing in for CUDA, NHWC emulated, bf16 convolutions emulated");
    emu_bf16 = 0;
}

/* The steps in the order a whole run takes them. secs: the step's wall time on
 * the emulated GPU (test_cuda_ops_emu --times, two busy cores, 2026-12-01),
 * which --part K/N balances the parts by. */
typedef struct { const char *name; void (*run)(void); double secs; } step;
static const step cuda_steps[] = {
    { "bf16-round", test_bf16_round, 0 },
    { "fp32-timed", step_fp32_timed, 28.2 },
    { "fp32-other-layout", step_fp32_other_layout, 56.6 },
    { "graph-replay-fp32", step_graph_replay_fp32, 5.3 },
    { "plan-eviction-fp32", step_plan_eviction_fp32, 4.5 },
    { "lanes", step_lanes, 0 },
    { "lanes-fused", step_lanes_fused, 0 },
    { "instnorm-paths", test_instnorm_paths, 6.7 },
    { "gemm-path-fp32", step_gemm_path_fp32, 15.3 },
    { "gemm-path-tf32", step_gemm_path_tf32, 17.9 },
    { "graph-replay-tf32-gemm", step_graph_replay_tf32_gemm, 5.1 },
    { "wrong-engine", step_wrong_engine, 0.2 },
    { "search-without-memory", step_search_without_memory, 0 },
    { "nondet-legacy-refused", step_nondet_legacy_refused, 0.1 },
    { "nondet-legacy-engine-search", step_nondet_legacy_engine_search, 0.1 },
    { "gemm-without-cublas", step_gemm_without_cublas, 0 },
    { "tf32", step_tf32, 23.4 },
    { "tf32-timed", step_tf32_timed, 16.7 },
    { "tf32-heuristic", step_tf32_heuristic, 2.7 },
    { "tf32-find", step_tf32_find, 0.9 },
    { "pad3-4", step_pad3_4, 18.1 },
    { "pad3-8", step_pad3_8, 31.0 },
    { "bad-switches", step_bad_switches, 0 },
    { "engines-file", step_engines_file, 25.7 },
    { "engines-file-knobs", step_engines_file_knobs, 0.1 },
    { "bf16", step_bf16, 8.9 },
    { "bf16-other-layout", step_bf16_other_layout, 2.7 },
    { "bf16-timed", step_bf16_timed, 2.3 },
    { "graph-replay-bf16", step_graph_replay_bf16, 11.9 },
};
static const step cpu_steps[] = {
    { "bf16-round", test_bf16_round, 0 },
    { "cpu-fp32", step_cpu_fp32, 0 },
    { "cpu-bf16", step_cpu_bf16, 0 },
};

/* Which part (0 .. parts-1) of --part each of the n steps is in: the steps,
 * longest first (by secs; the earlier of equal ones first), each to the part
 * with the least time so far (the first of equal ones). */
static void assign_parts(const step *steps, size_t n, int parts, int *part)
{
    double load[64] = { 0 };
    int done[sizeof cuda_steps / sizeof *cuda_steps] = { 0 };
    for (size_t k = 0; k < n; k++) {
        size_t best = n;
        for (size_t i = 0; i < n; i++)
            if (!done[i] && (best == n || steps[i].secs > steps[best].secs)) best = i;
        int p = 0;
        for (int q = 1; q < parts; q++) if (load[q] < load[p]) p = q;
        part[best] = p;
        load[p] += steps[best].secs + 0.01;    /* steps of no time spread too */
        done[best] = 1;
    }
}

/* Where a step's draws start: its name hashed (FNV-1a), so that a step added,
 * removed or moved changes no other step's data. */
static uint64_t step_draws(const char *name)
{
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 1099511628211ull;
    return h;
}

static double now_secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int usage(const char *msg)
{
    fprintf(stderr, "test_cuda_ops: %s\n"
            "usage: test_cuda_ops [-v] [--cpu-as-gpu | --cpu-as-gpu-nhwc] [--cpu-threads N]\n"
            "                     [--list] [--part K/N] [--times]\n", msg);
    return 2;
}

int main(int argc, char **argv)
{
    /* --cpu-as-gpu: a 1-thread CPU backend stands in for CUDA, to check this
     * harness itself on a machine without a GPU; --cpu-as-gpu-nhwc: the same
     * through an NHWC emulation (tests/unit/nhwc_emulator.h), which is also
     * what runs when there is no GPU, followed by the bf16 checks on the
     * emulator rounding like CUDA's bf16 mode.
     * --list: the steps' names, one a line (those of the CUDA backend, or
     * with --cpu-as-gpu* those of cpu_steps, which also run when there is no
     * GPU), with --part only that part's; --part K/N: only the steps of part
     * K of N (1 <= K <= N), the parts balanced by the steps' times (each
     * step's random inputs are its own: the same checks on the same data as
     * in a whole run); --times: '== step NAME' as each step starts and its wall
     * time as it ends. */
    int cpu_threads = 0;   /* 0: one per core */
    int list = 0, times = 0, part_k = 0, part_n = 0;
    /* line-buffered: tests/gpu/run sends stdout to a file, and a crash on the
     * device must not lose the lines that say how far it got */
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v")) verbose = 2;
        else if (!strcmp(argv[i], "--cpu-as-gpu")) cpu_as_gpu = 1;
        else if (!strcmp(argv[i], "--cpu-as-gpu-nhwc")) cpu_as_gpu = 2;
        else if (!strcmp(argv[i], "--cpu-threads") && i + 1 < argc) cpu_threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--list")) list = 1;
        else if (!strcmp(argv[i], "--times")) times = 1;
        else if (!strcmp(argv[i], "--part") && i + 1 < argc) {
            char end;
            if (sscanf(argv[++i], "%d/%d%c", &part_k, &part_n, &end) != 2 || part_n < 1 || part_n > 64 ||
                part_k < 1 || part_k > part_n)
                return usage("--part: expected K/N with 1 <= K <= N <= 64, such as 2/4");
        } else {
            char msg[300];
            snprintf(msg, sizeof msg, "unknown option '%s'", argv[i]);
            return usage(msg);
        }
    }
    int part[sizeof cuda_steps / sizeof *cuda_steps];
    if (list) {
        const step *steps = cpu_as_gpu ? cpu_steps : cuda_steps;
        size_t n = cpu_as_gpu ? sizeof cpu_steps / sizeof *cpu_steps : sizeof cuda_steps / sizeof *cuda_steps;
        if (part_n) assign_parts(steps, n, part_n, part);
        for (size_t i = 0; i < n; i++)
            if (!part_n || part[i] == part_k - 1) printf("%s\n", steps[i].name);
        return 0;
    }
    sg_err err;
    cpu = sg_backend_cpu_create(cpu_threads, &err);
    if (!cpu) { printf("FAIL cpu backend: %s\n", err.msg); check_failed++; return check_done(); }
    if (cpu_as_gpu == 1) gpu = sg_backend_cpu_create(1, &err);
    else if (cpu_as_gpu == 2) gpu = nhwc_emulator(sg_backend_cpu_create(1, &err));
    else {
        /* the first suite on cuDNN's backend-API engines, timed (kernels/conv_engines.cu) */
        gpu = cuda_with_env("SG_CUDNN_SEARCH", "timed", "fp32", &err);
        if (!gpu) {
            if (part_k <= 1) {         /* once over the parts */
                SKIP("no GPU: %s", err.msg);
                SKIP("no GPU: the CUDA ops, model steps and step graphs (the harness runs on an "
                     "NHWC-emulating CPU backend instead)");
            }
            cpu_as_gpu = 2;
            gpu = nhwc_emulator(sg_backend_cpu_create(1, &err));
        }
    }
    if (!gpu) { printf("FAIL second backend: %s\n", err.msg); check_failed++; return check_done(); }
    const step *steps = cpu_as_gpu ? cpu_steps : cuda_steps;
    size_t n = cpu_as_gpu ? sizeof cpu_steps / sizeof *cpu_steps : sizeof cuda_steps / sizeof *cuda_steps;
    if (!cpu_as_gpu) {
        emulated = strstr(sg_backend_cuda_device_name(gpu), "emulated") != NULL;
        if (emulated) printf("an emulated GPU (tests/emu): the 128x128 convolution cases are left to a real one\n");
        first_nhwc = gpu->nhwc;
    }
    if (part_n) assign_parts(steps, n, part_n, part);
    /* the first backend is fp32-timed's: gone if that step is in another part */
    for (size_t i = 0; i < n && !cpu_as_gpu; i++)
        if (steps[i].run == step_fp32_timed && part_n && part[i] != part_k - 1) {
            sg_backend_destroy(gpu);
            gpu = NULL;
        }
    for (size_t i = 0; i < n; i++) {
        if (part_n && part[i] != part_k - 1) continue;
        double t0 = now_secs();
        draw_counter = step_draws(steps[i].name);
        if (times) printf("== step %s\n", steps[i].name);
        steps[i].run();
        if (times) printf("time %s: %.2f s\n", steps[i].name, now_secs() - t0);
    }
    if (cpu_as_gpu) sg_backend_destroy(gpu);
    else if (gpu) sg_backend_destroy(gpu);   /* fp32-timed not in this part */
    sg_backend_destroy(cpu);
    return check_done();
}
