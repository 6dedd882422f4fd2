/* Self-check of the cuDNN emulation (tests/emu/cudnn_emu.cc) against a
 * float64 reference written here: forward, backward-data, backward-filter in
 * NCHW and NHWC, exact fp32 (FMA math), TF32 and bf16 rounding, alpha/beta,
 * the algorithm lists and workspaces of the legacy calls, their pointer and
 * workspace checks, and the backend API the way kernels/conv_engines.cu uses
 * it (graph, heuristics, notes, plans, variant packs, execute).
 *
 * Built alone with a stand-in for the three functions of tests/emu/emu.h
 * (queued work runs at sync(), "device memory" is what dev_alloc registered):
 *   g++ -std=c++17 -O2 -Wall -Itests/emu -I/usr/local/cuda/include \
 *       tests/emu/check_cudnn_emu.cc tests/emu/cudnn_emu.cc -o build/check_cudnn_emu
 * With -DSG_EMU_REAL_RUNTIME it links against tests/emu/cudart_emu.cc instead
 * (cudaMalloc memory, the runtime's streams). Prints "N passed, N failed";
 * exits 1 on a failure. */
#include <cudnn.h>
#include "emu.h"
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <functional>
#include <map>
#include <string>
#include <vector>

/* ---- device memory and streams ---------------------------------------------------- */

#ifndef SG_EMU_REAL_RUNTIME
static std::vector<std::function<void()>> queued;
static std::map<uintptr_t, size_t> allocations;
static int capturing_now;

/* deferred, so that tests see whether a call copied what it needs */
cudaError_t sg_emu_submit(cudaStream_t s, std::function<void()> fn)
{
    queued.push_back(std::move(fn));
    return cudaSuccess;
}

int sg_emu_capturing(cudaStream_t s) { return capturing_now; }
void sg_emu_count(const char *what) { (void)what; }   /* no counts here */

int sg_emu_device_range(const void *p, size_t bytes)
{
    uintptr_t a = (uintptr_t)p;
    auto it = allocations.upper_bound(a);
    if (it == allocations.begin()) return 0;
    --it;
    return a - it->first <= it->second && bytes <= it->second - (a - it->first);
}

static void *dev_alloc(size_t bytes)
{
    void *p = aligned_alloc(256, (bytes + 255) / 256 * 256);
    if (!p) { fprintf(stderr, "out of memory\n"); exit(2); }
    allocations[(uintptr_t)p] = bytes;
    return p;
}

static void dev_free(void *p)
{
    if (!p) return;
    allocations.erase((uintptr_t)p);
    free(p);
}

static void sync_all()
{
    for (auto &f : queued) f();
    queued.clear();
}
static size_t queued_count() { return queued.size(); }
static const bool deferred = true;
#else
static void *dev_alloc(size_t bytes)
{
    void *p = NULL;
    if (cudaMalloc(&p, bytes) != cudaSuccess) { fprintf(stderr, "cudaMalloc failed\n"); exit(2); }
    return p;
}
static void dev_free(void *p) { cudaFree(p); }
static cudaStream_t the_stream;       /* the handle's */
static void sync_all() { cudaStreamSynchronize(the_stream); }
static size_t queued_count() { return 0; }
static const bool deferred = false;
#endif

/* ---- checks ------------------------------------------------------------------------ */

static int passed, failed;

static void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(bool ok, const char *fmt, ...)
{
    if (ok) { passed++; return; }
    failed++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

static std::string last_error()
{
    char buf[512];
    cudnnGetLastErrorString(buf, sizeof buf);
    return buf;
}

#define CK(call)                                                                                                   \
    do {                                                                                                           \
        cudnnStatus_t st_ = (call);                                                                                \
        if (st_ != CUDNN_STATUS_SUCCESS) {                                                                         \
            check(false, "%s:%d: %s: %s (%s)", __FILE__, __LINE__, #call, cudnnGetErrorString(st_),                 \
                  last_error().c_str());                                                                           \
            return;                                                                                                \
        }                                                                                                          \
    } while (0)

/* ---- numbers ------------------------------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float randf()      /* in [-1, 1), full float mantissas */
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 40) / (double)(1ull << 23) - 1.0);
}

/* x rounded to `bits` significant bits, ties to even (the reference's own,
 * in double arithmetic: independent of the emulation's bit manipulation) */
static float round_bits(float x, int bits)
{
    if (x == 0.f || !isfinite(x)) return x;
    int e;
    double m = frexp((double)x, &e);               /* [0.5, 1) */
    double r = nearbyint(ldexp(m, bits));          /* default rounding: to nearest even */
    return (float)ldexp(r, e - bits);
}
static float to_tf32(float x) { return round_bits(x, 11); }
static float to_bf16(float x) { return round_bits(x, 8); }

static uint16_t bf16_bits(float x)     /* x must be a bf16 value */
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return (uint16_t)(u >> 16);
}
static float bf16_value(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---- shapes, layouts, the reference -------------------------------------------------- */

struct Shape {
    int N, C, H, W, K, R, stride, pad;
    int P() const { return (H + 2 * pad - R) / stride + 1; }
    int Q() const { return (W + 2 * pad - R) / stride + 1; }
};

static const Shape shapes[] = {
    { 2, 3, 9, 8, 4, 3, 1, 1 },      /* 3 input channels (the images) */
    { 1, 4, 8, 8, 5, 4, 2, 1 },      /* K4 stride 2: the down-sampling convolutions */
    { 2, 5, 7, 9, 3, 7, 1, 3 },      /* K7 pad 3, 3 output channels */
    { 1, 6, 5, 5, 2, 1, 1, 0 },      /* 1x1 */
    { 3, 2, 7, 6, 4, 3, 2, 0 },      /* stride 2 without padding, odd sizes */
    { 1, 3, 6, 6, 3, 4, 2, 3 },      /* pad 3 with K4 stride 2 */
};
static const int n_shapes = (int)(sizeof shapes / sizeof shapes[0]);

enum { FWD, BWD_DATA, BWD_FILTER };
static const char *kind_names[] = { "fwd", "bwd-data", "bwd-filter" };

/* canonical (d0,d1,d2,d3) <-> memory: NCHW as is, NHWC as (d0,d2,d3,d1) */
static size_t mem_offset(const int d[4], bool nhwc, int a, int b, int c, int e)
{
    return nhwc ? (((size_t)a * d[2] + c) * d[3] + e) * d[1] + b : (((size_t)a * d[1] + b) * d[2] + c) * d[3] + e;
}

/* f(i, off) for every element: i its canonical index, off its memory offset */
template <class F> static void each_element(const int d[4], bool nhwc, F f)
{
    size_t i = 0;
    for (int a = 0; a < d[0]; a++)
        for (int b = 0; b < d[1]; b++)
            for (int c = 0; c < d[2]; c++)
                for (int e = 0; e < d[3]; e++, i++) f(i, mem_offset(d, nhwc, a, b, c, e));
}

static void to_memory(void *mem, bool bf16, const std::vector<float> &v, const int d[4], bool nhwc)
{
    each_element(d, nhwc, [&](size_t i, size_t off) {
        if (bf16) ((uint16_t *)mem)[off] = bf16_bits(v[i]);
        else ((float *)mem)[off] = v[i];
    });
}

static std::vector<float> from_memory(const void *mem, bool bf16, const int d[4], bool nhwc)
{
    std::vector<float> v((size_t)d[0] * d[1] * d[2] * d[3]);
    each_element(d, nhwc, [&](size_t i, size_t off) {
        v[i] = bf16 ? bf16_value(((const uint16_t *)mem)[off]) : ((const float *)mem)[off];
    });
    return v;
}

/* The kind's result in float64 by scattering every product (the emulation
 * gathers): ref, and mag = the sum of the products' magnitudes per output. */
static void reference(int kind, const Shape &s, const std::vector<float> &x, const std::vector<float> &w,
                      const std::vector<float> &dy, std::vector<double> &ref, std::vector<double> &mag)
{
    const int N = s.N, C = s.C, H = s.H, W = s.W, K = s.K, R = s.R, P = s.P(), Q = s.Q();
    size_t n_out = kind == FWD ? (size_t)N * K * P * Q : kind == BWD_DATA ? (size_t)N * C * H * W : (size_t)K * C * R * R;
    ref.assign(n_out, 0.0);
    mag.assign(n_out, 0.0);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
            for (int p = 0; p < P; p++)
                for (int q = 0; q < Q; q++)
                    for (int c = 0; c < C; c++)
                        for (int r = 0; r < R; r++)
                            for (int t = 0; t < R; t++) {
                                int h = p * s.stride - s.pad + r, ww = q * s.stride - s.pad + t;
                                if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                                size_t xi = (((size_t)n * C + c) * H + h) * W + ww;
                                size_t wi = (((size_t)k * C + c) * R + r) * R + t;
                                size_t yi = (((size_t)n * K + k) * P + p) * Q + q;
                                double prod;
                                size_t o;
                                if (kind == FWD) { prod = (double)x[xi] * w[wi]; o = yi; }
                                else if (kind == BWD_DATA) { prod = (double)dy[yi] * w[wi]; o = xi; }
                                else { prod = (double)x[xi] * dy[yi]; o = wi; }
                                ref[o] += prod;
                                mag[o] += fabs(prod);
                            }
}

/* terms summed per output, at most */
static int terms(int kind, const Shape &s)
{
    return kind == FWD ? s.C * s.R * s.R : kind == BWD_DATA ? s.K * s.R * s.R : s.N * s.P() * s.Q();
}

/* got against alpha * ref + beta * old: float accumulation of `n` terms
 * (gamma_n * mag), the scaling's roundings, and bf16 output rounding */
static void compare(const char *what, const std::vector<float> &got, const std::vector<double> &ref,
                    const std::vector<double> &mag, const std::vector<float> *old, float alpha, float beta, int n,
                    bool bf16_out)
{
    const double u = ldexp(1.0, -24);
    const double gamma = n * u / (1 - n * u);
    double worst = -1;
    size_t wi = 0;
    double wexp = 0, wtol = 0;
    for (size_t i = 0; i < got.size(); i++) {
        double o = old && beta != 0.f ? (double)(*old)[i] : 0.0;
        double expect = alpha * ref[i] + beta * o;
        double tol = fabs(alpha) * mag[i] * gamma * 1.01 + 4 * u * (fabs(alpha * ref[i]) + fabs(beta * o) + fabs(expect));
        if (bf16_out) tol = tol * 1.01 + ldexp(1.0, -8) * fabs(expect);
        tol += 1e-30;
        double err = fabs((double)got[i] - expect);
        if (!(err <= tol) && (worst < 0 || err / tol > worst)) {
            worst = isnan(err) ? 1e300 : err / tol;
            wi = i; wexp = expect; wtol = tol;
        }
    }
    check(worst < 0, "%s: element %zu is %.9g, expected %.9g (tolerance %.3g)", what, wi,
          worst < 0 ? 0.0 : (double)got[wi], wexp, wtol);
}

/* ---- the legacy calls --------------------------------------------------------------- */

struct Legacy {
    cudnnTensorDescriptor_t x = NULL, y = NULL;
    cudnnFilterDescriptor_t w = NULL;
    cudnnConvolutionDescriptor_t conv = NULL;
    ~Legacy()
    {
        if (x) cudnnDestroyTensorDescriptor(x);
        if (y) cudnnDestroyTensorDescriptor(y);
        if (w) cudnnDestroyFilterDescriptor(w);
        if (conv) cudnnDestroyConvolutionDescriptor(conv);
    }
};

static cudnnStatus_t make_legacy(Legacy &L, const Shape &s, bool nhwc, cudnnDataType_t dt, cudnnMathType_t math)
{
    cudnnTensorFormat_t f = nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
    cudnnStatus_t st;
    if ((st = cudnnCreateTensorDescriptor(&L.x)) || (st = cudnnCreateTensorDescriptor(&L.y)) ||
        (st = cudnnCreateFilterDescriptor(&L.w)) || (st = cudnnCreateConvolutionDescriptor(&L.conv)) ||
        (st = cudnnSetTensor4dDescriptor(L.x, f, dt, s.N, s.C, s.H, s.W)) ||
        (st = cudnnSetTensor4dDescriptor(L.y, f, dt, s.N, s.K, s.P(), s.Q())) ||
        (st = cudnnSetFilter4dDescriptor(L.w, dt, f, s.K, s.C, s.R, s.R)) ||
        (st = cudnnSetConvolution2dDescriptor(L.conv, s.pad, s.pad, s.stride, s.stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                              CUDNN_DATA_FLOAT)) ||
        (st = cudnnSetConvolutionMathType(L.conv, math)))
        return st;
    return CUDNN_STATUS_SUCCESS;
}

/* The legacy call of one kind: x, w, y device buffers in the roles of the
 * forward convolution; ws of ws_size bytes. */
static cudnnStatus_t legacy_call(cudnnHandle_t h, int kind, Legacy &L, int algo, void *x, void *w, void *y, void *ws,
                                 size_t ws_size, float alpha, float beta)
{
    if (kind == FWD)
        return cudnnConvolutionForward(h, &alpha, L.x, x, L.w, w, L.conv, (cudnnConvolutionFwdAlgo_t)algo, ws, ws_size,
                                       &beta, L.y, y);
    if (kind == BWD_DATA)
        return cudnnConvolutionBackwardData(h, &alpha, L.w, w, L.y, y, L.conv, (cudnnConvolutionBwdDataAlgo_t)algo, ws,
                                            ws_size, &beta, L.x, x);
    return cudnnConvolutionBackwardFilter(h, &alpha, L.x, x, L.y, y, L.conv, (cudnnConvolutionBwdFilterAlgo_t)algo, ws,
                                          ws_size, &beta, L.w, w);
}

static cudnnStatus_t legacy_workspace(cudnnHandle_t h, int kind, Legacy &L, int algo, size_t *bytes)
{
    if (kind == FWD)
        return cudnnGetConvolutionForwardWorkspaceSize(h, L.x, L.w, L.conv, L.y, (cudnnConvolutionFwdAlgo_t)algo, bytes);
    if (kind == BWD_DATA)
        return cudnnGetConvolutionBackwardDataWorkspaceSize(h, L.w, L.y, L.conv, L.x, (cudnnConvolutionBwdDataAlgo_t)algo,
                                                            bytes);
    return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, L.x, L.y, L.conv, L.w, (cudnnConvolutionBwdFilterAlgo_t)algo,
                                                          bytes);
}

/* The v7 heuristics' first entry (algorithm and workspace), as conv_cudnn.cu asks. */
static cudnnStatus_t legacy_heuristic(cudnnHandle_t h, int kind, Legacy &L, int *algo, size_t *ws, int *returned)
{
    cudnnStatus_t st;
    if (kind == FWD) {
        cudnnConvolutionFwdAlgoPerf_t perf[16];
        st = cudnnGetConvolutionForwardAlgorithm_v7(h, L.x, L.w, L.conv, L.y, 16, returned, perf);
        *algo = (int)perf[0].algo; *ws = perf[0].memory;
    } else if (kind == BWD_DATA) {
        cudnnConvolutionBwdDataAlgoPerf_t perf[16];
        st = cudnnGetConvolutionBackwardDataAlgorithm_v7(h, L.w, L.y, L.conv, L.x, 16, returned, perf);
        *algo = (int)perf[0].algo; *ws = perf[0].memory;
    } else {
        cudnnConvolutionBwdFilterAlgoPerf_t perf[16];
        st = cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, L.x, L.y, L.conv, L.w, 16, returned, perf);
        *algo = (int)perf[0].algo; *ws = perf[0].memory;
    }
    return st;
}

/* The operands of one run: canonical inputs, device buffers in a layout. */
struct Operands {
    Shape s;
    bool nhwc, bf16;
    int xd[4], wd[4], yd[4];
    std::vector<float> x, w, y;       /* canonical values (the kind's output: its prior contents) */
    void *dx = NULL, *dw = NULL, *dy = NULL;
    Operands(const Shape &s_, bool nhwc_, bool bf16_, int kind, bool nan_output) : s(s_), nhwc(nhwc_), bf16(bf16_)
    {
        int a[4] = { s.N, s.C, s.H, s.W }, b[4] = { s.K, s.C, s.R, s.R }, c[4] = { s.N, s.K, s.P(), s.Q() };
        memcpy(xd, a, sizeof a); memcpy(wd, b, sizeof b); memcpy(yd, c, sizeof c);
        x = fill(xd, kind == BWD_DATA && nan_output);
        w = fill(wd, kind == BWD_FILTER && nan_output);
        y = fill(yd, kind == FWD && nan_output);
        size_t e = bf16 ? 2 : 4;
        dx = dev_alloc(x.size() * e); dw = dev_alloc(w.size() * e); dy = dev_alloc(y.size() * e);
        to_memory(dx, bf16, x, xd, nhwc);
        to_memory(dw, bf16, w, wd, nhwc);
        to_memory(dy, bf16, y, yd, nhwc);
    }
    ~Operands() { dev_free(dx); dev_free(dw); dev_free(dy); }
    std::vector<float> fill(const int d[4], bool nan)
    {
        std::vector<float> v((size_t)d[0] * d[1] * d[2] * d[3]);
        for (float &f : v) f = nan ? NAN : bf16 ? to_bf16(randf()) : randf();
        return v;
    }
    std::vector<float> output(int kind) const
    {
        return kind == FWD ? from_memory(dy, bf16, yd, nhwc) : kind == BWD_DATA ? from_memory(dx, bf16, xd, nhwc)
                                                                                : from_memory(dw, bf16, wd, nhwc);
    }
    const std::vector<float> &prior(int kind) const { return kind == FWD ? y : kind == BWD_DATA ? x : w; }
};

/* arithmetic of a run, for the reference: inputs as the emulation should see them */
enum { EXACT, TF32, BF16 };

static void expect_result(const char *what, int kind, const Operands &o, int arith, float alpha, float beta)
{
    std::vector<float> x = o.x, w = o.w, y = o.y;
    if (arith == TF32)
        for (auto *v : { &x, &w, &y })
            for (float &f : *v) f = to_tf32(f);
    std::vector<double> ref, mag;
    reference(kind, o.s, x, w, y, ref, mag);
    std::vector<float> got = o.output(kind);
    compare(what, got, ref, mag, &o.prior(kind), alpha, beta, terms(kind, o.s), arith == BF16);
}

/* One legacy run with the heuristics' first algorithm and exactly its workspace. */
static void legacy_case(cudnnHandle_t h, int kind, const Shape &s, bool nhwc, int arith, float alpha, float beta,
                        bool nan_output)
{
    char what[200];
    snprintf(what, sizeof what, "legacy %s %s %s N%d C%d %dx%d K%d R%d s%d p%d alpha %g beta %g", kind_names[kind],
             nhwc ? "nhwc" : "nchw", arith == EXACT ? "fp32" : arith == TF32 ? "tf32" : "bf16", s.N, s.C, s.H, s.W, s.K,
             s.R, s.stride, s.pad, alpha, beta);
    Legacy L;
    cudnnMathType_t math = arith == EXACT ? CUDNN_FMA_MATH : arith == TF32 ? CUDNN_DEFAULT_MATH : CUDNN_TENSOR_OP_MATH;
    CK(make_legacy(L, s, nhwc, arith == BF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT, math));
    int algo = -1, returned = 0;
    size_t ws = 0, ws2 = 0;
    CK(legacy_heuristic(h, kind, L, &algo, &ws, &returned));
    CK(legacy_workspace(h, kind, L, algo, &ws2));
    check(algo == 1 && ws > 0 && ws == ws2 && returned == 3, "%s: heuristics: algo %d ws %zu/%zu, %d returned", what,
          algo, ws, ws2, returned);
    Operands o(s, nhwc, arith == BF16, kind, nan_output);
    void *wsp = dev_alloc(ws);
    memset(wsp, 0, ws);
    CK(legacy_call(h, kind, L, algo, o.dx, o.dw, o.dy, wsp, ws, alpha, beta));
    sync_all();
    expect_result(what, kind, o, arith, alpha, beta);
    bool all = true;
    for (size_t i = 0; i < ws; i++) all = all && ((unsigned char *)wsp)[i] == 0xa5;
    check(all, "%s: the workspace was not written", what);
    dev_free(wsp);
}

/* ---- exact roundings ---------------------------------------------------------------- */

/* 1x1 convolutions whose sums are exact in float, so the output is known bit for bit */
static void rounding_cases(cudnnHandle_t h)
{
    const Shape s = { 1, 1, 1, 4, 1, 1, 1, 0 };
    /* TF32: x rounded to 10 mantissa bits, nearest even */
    {
        const float e = ldexpf(1.f, -11);
        float xs[4] = { 1 + e, 1 + 3 * e, 1 + e + ldexpf(1.f, -20), -(1 + 3 * e) };
        float tf[4] = { 1.f, 1 + 4 * e, 1 + 2 * e, -(1 + 4 * e) };
        for (int math = 0; math < 3; math++) {
            cudnnMathType_t mt = math == 0 ? CUDNN_DEFAULT_MATH : math == 1 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
            Legacy L;
            CK(make_legacy(L, s, false, CUDNN_DATA_FLOAT, mt));
            float *x = (float *)dev_alloc(16), *w = (float *)dev_alloc(4), *y = (float *)dev_alloc(16);
            memcpy(x, xs, 16);
            *w = 1.f;
            CK(legacy_call(h, FWD, L, 0, x, w, y, NULL, 0, 1.f, 0.f));
            sync_all();
            for (int i = 0; i < 4; i++) {
                float want = mt == CUDNN_FMA_MATH ? xs[i] : tf[i];
                check(y[i] == want, "tf32 rounding, math %d: x %.10g gives %.10g, expected %.10g", (int)mt, xs[i], y[i],
                      want);
            }
            /* the weight is rounded too */
            x[0] = 1.f;
            *w = 1 + e;
            CK(legacy_call(h, FWD, L, 0, x, w, y, NULL, 0, 1.f, 0.f));
            sync_all();
            float want = mt == CUDNN_FMA_MATH ? 1 + e : 1.f;
            check(y[0] == want, "tf32 rounding of w, math %d: %.10g, expected %.10g", (int)mt, y[0], want);
            dev_free(x); dev_free(w); dev_free(y);
        }
    }
}

/* bf16 rounding through a workspace-using algorithm, beta included */
static void bf16_exact_cases(cudnnHandle_t h)
{
    const Shape s = { 1, 2, 1, 4, 1, 1, 1, 0 };
    Legacy L;
    CK(make_legacy(L, s, false, CUDNN_DATA_BFLOAT16, CUDNN_TENSOR_OP_MATH));
    float xv[8] = { 256, 256, -256, 1024, 1, 3, -1, 5 };
    uint16_t *x = (uint16_t *)dev_alloc(16), *w = (uint16_t *)dev_alloc(4), *y = (uint16_t *)dev_alloc(8);
    for (int i = 0; i < 8; i++) x[i] = bf16_bits(xv[i]);
    w[0] = w[1] = bf16_bits(1.f);
    for (int i = 0; i < 4; i++) y[i] = 0x7fc0;          /* NaN: beta 0 must not read it */
    CK(legacy_call(h, FWD, L, 0, x, w, y, NULL, 0, 1.f, 0.f));
    sync_all();
    float want[4] = { 256, 260, -256, 1032 };
    for (int i = 0; i < 4; i++)
        check(bf16_value(y[i]) == want[i], "bf16 rounding: element %d is %g, expected %g", i, bf16_value(y[i]), want[i]);
    /* y = 1 * conv + 0.5 * 2: 258, 260, -256, 1030 -> 1032 */
    for (int i = 0; i < 4; i++) y[i] = bf16_bits(2.f);
    CK(legacy_call(h, FWD, L, 0, x, w, y, NULL, 0, 1.f, 0.5f));
    sync_all();
    float want2[4] = { 258, 260, -256, 1032 };
    for (int i = 0; i < 4; i++)
        check(bf16_value(y[i]) == want2[i], "bf16 with beta: element %d is %g, expected %g", i, bf16_value(y[i]),
              want2[i]);
    dev_free(x); dev_free(w); dev_free(y);
}

/* ---- legacy: lists, workspaces, bad arguments ---------------------------------------- */

static void legacy_api_cases(cudnnHandle_t h)
{
    const Shape s = { 2, 3, 8, 8, 4, 3, 1, 1 };
    Legacy L;
    CK(make_legacy(L, s, true, CUDNN_DATA_FLOAT, CUDNN_FMA_MATH));
    cudnnConvolutionFwdAlgoPerf_t perf[8];
    int n = -1;
    CK(cudnnGetConvolutionForwardAlgorithm_v7(h, L.x, L.w, L.conv, L.y, 8, &n, perf));
    check(n == 3 && perf[0].algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM &&
              perf[0].status == CUDNN_STATUS_SUCCESS && perf[0].determinism == CUDNN_DETERMINISTIC &&
              perf[0].mathType == CUDNN_FMA_MATH && perf[0].memory >= 65536 && perf[1].algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM &&
              perf[1].memory == 0 && perf[1].determinism == CUDNN_DETERMINISTIC && perf[2].status != CUDNN_STATUS_SUCCESS,
          "forward v7 list: n %d, [0] algo %d status %d det %d math %d mem %zu, [1] algo %d mem %zu, [2] status %d", n,
          (int)perf[0].algo, (int)perf[0].status, (int)perf[0].determinism, (int)perf[0].mathType, perf[0].memory,
          (int)perf[1].algo, perf[1].memory, (int)perf[2].status);
    CK(cudnnGetConvolutionForwardAlgorithm_v7(h, L.x, L.w, L.conv, L.y, 1, &n, perf));
    check(n == 1, "requestedAlgoCount 1 returned %d", n);
    CK(cudnnFindConvolutionForwardAlgorithm(h, L.x, L.w, L.conv, L.y, 8, &n, perf));
    check(n == 3 && perf[0].time > 0 && perf[1].time > perf[0].time, "find: n %d, times %g %g", n, perf[0].time,
          perf[1].time);
    cudnnConvolutionBwdDataAlgoPerf_t pd[4];
    CK(cudnnFindConvolutionBackwardDataAlgorithm(h, L.w, L.y, L.conv, L.x, 4, &n, pd));
    check(n == 3 && pd[0].algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_1 && pd[0].memory > 0 &&
              pd[1].algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_0 && pd[1].memory == 0,
          "bwd-data find list");
    cudnnConvolutionBwdFilterAlgoPerf_t pf[4];
    CK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, L.x, L.y, L.conv, L.w, 4, &n, pf));
    check(n == 3 && pf[0].algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1 && pf[0].memory > 0 &&
              pf[1].algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0,
          "bwd-filter v7 list");
    /* workspace sizes grow with the output and stay capped */
    {
        Legacy big;
        const Shape b = { 16, 64, 64, 64, 64, 3, 1, 1 };
        CK(make_legacy(big, b, true, CUDNN_DATA_FLOAT, CUDNN_DEFAULT_MATH));
        size_t ws_small = 0, ws_big = 0;
        CK(cudnnGetConvolutionForwardWorkspaceSize(h, L.x, L.w, L.conv, L.y, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM,
                                                   &ws_small));
        CK(cudnnGetConvolutionForwardWorkspaceSize(h, big.x, big.w, big.conv, big.y,
                                                   CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, &ws_big));
        check(ws_small == perf[0].memory && ws_big > ws_small && ws_big <= ((size_t)8 << 20),
              "workspace sizes %zu, %zu", ws_small, ws_big);
        cudnnStatus_t st = cudnnGetConvolutionForwardWorkspaceSize(h, L.x, L.w, L.conv, L.y,
                                                                   CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD, &ws_small);
        check(st == CUDNN_STATUS_NOT_SUPPORTED, "an algorithm that is not emulated: %s", cudnnGetErrorString(st));
    }
    Operands o(s, true, false, FWD, false);
    size_t need = 0;
    CK(legacy_workspace(h, FWD, L, 1, &need));
    void *ws = dev_alloc(need);
    cudnnStatus_t st = legacy_call(h, FWD, L, 1, o.dx, o.dw, o.dy, ws, need - 1, 1.f, 0.f);
    check(st == CUDNN_STATUS_BAD_PARAM && !last_error().empty(), "workspace size one byte short: %s",
          cudnnGetErrorString(st));
    st = legacy_call(h, FWD, L, 1, o.dx, o.dw, o.dy, NULL, need, 1.f, 0.f);
    check(st == CUDNN_STATUS_BAD_PARAM, "NULL workspace: %s", cudnnGetErrorString(st));
    void *small = dev_alloc(need / 2);
    st = legacy_call(h, FWD, L, 1, o.dx, o.dw, o.dy, small, need, 1.f, 0.f);
    check(st == CUDNN_STATUS_BAD_PARAM, "workspace allocation smaller than its stated size: %s", cudnnGetErrorString(st));
    dev_free(small);
    /* a host pointer, an overrun, an output on an input */
    size_t queued_before = queued_count();
    std::vector<float> host(o.x.size());
    st = legacy_call(h, FWD, L, 1, host.data(), o.dw, o.dy, ws, need, 1.f, 0.f);
    check(st == CUDNN_STATUS_BAD_PARAM, "host x: %s", cudnnGetErrorString(st));
    float *shortx = (float *)dev_alloc(o.x.size() * 4 - 4);
    st = legacy_call(h, FWD, L, 1, shortx, o.dw, o.dy, ws, need, 1.f, 0.f);
    check(st == CUDNN_STATUS_BAD_PARAM, "x one element short: %s", cudnnGetErrorString(st));
    dev_free(shortx);
    {
        /* x and y in one allocation, y's last element on x's first... and a
         * workspace over y: each in range, only the overlap is wrong */
        size_t nx = o.x.size(), ny = o.y.size();
        float *both = (float *)dev_alloc((nx + ny) * 4 + need);
        st = legacy_call(h, FWD, L, 1, both + ny - 1, o.dw, both, ws, need, 1.f, 0.f);
        check(st == CUDNN_STATUS_BAD_PARAM, "y overlapping x: %s (%s)", cudnnGetErrorString(st), last_error().c_str());
        st = legacy_call(h, FWD, L, 1, o.dx, o.dw, both, both + ny - 1, need, 1.f, 0.f);
        check(st == CUDNN_STATUS_BAD_PARAM, "workspace overlapping y: %s (%s)", cudnnGetErrorString(st),
              last_error().c_str());
        st = legacy_call(h, FWD, L, 1, both + ny, o.dw, both, both + ny + nx, need, 1.f, 0.f);
        check(st == CUDNN_STATUS_SUCCESS, "x, y, workspace side by side in one allocation: %s (%s)",
              cudnnGetErrorString(st), last_error().c_str());
        if (deferred)
            check(queued_count() == queued_before + 1, "failed calls queued work (%zu, %zu)", queued_count(),
                  queued_before);
        sync_all();
        dev_free(both);
    }
    /* shapes that do not match */
    {
        Legacy bad;
        CK(make_legacy(bad, s, true, CUDNN_DATA_FLOAT, CUDNN_FMA_MATH));
        CK(cudnnSetTensor4dDescriptor(bad.y, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, s.N, s.K, s.P() + 1, s.Q()));
        st = legacy_call(h, FWD, bad, 1, o.dx, o.dw, o.dy, ws, need, 1.f, 0.f);
        check(st == CUDNN_STATUS_BAD_PARAM, "mismatched y: %s", cudnnGetErrorString(st));
        st = cudnnSetTensor4dDescriptor(bad.y, CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF, s.N, s.K, s.P(), s.Q());
        check(st == CUDNN_STATUS_NOT_SUPPORTED, "half tensors: %s", cudnnGetErrorString(st));
        st = cudnnSetConvolution2dDescriptor(bad.conv, 1, 1, 1, 1, 2, 2, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT);
        check(st == CUDNN_STATUS_NOT_SUPPORTED, "dilation 2: %s", cudnnGetErrorString(st));
        st = cudnnSetConvolution2dDescriptor(bad.conv, -1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT);
        check(st == CUDNN_STATUS_BAD_PARAM, "negative padding: %s", cudnnGetErrorString(st));
    }
    /* what a call needs is copied when it is queued */
    if (deferred) {
        Legacy *T = new Legacy;
        CK(make_legacy(*T, s, true, CUDNN_DATA_FLOAT, CUDNN_FMA_MATH));
        float alpha = 1.f, beta = 0.f;
        CK(cudnnConvolutionForward(h, &alpha, T->x, o.dx, T->w, o.dw, T->conv, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM,
                                   ws, need, &beta, T->y, o.dy));
        alpha = 7.f;
        cudnnSetConvolutionMathType(T->conv, CUDNN_DEFAULT_MATH);
        cudnnSetConvolution2dDescriptor(T->conv, 0, 0, 2, 2, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT);
        delete T;
        sync_all();
        expect_result("legacy forward after its descriptors changed and died", FWD, o, EXACT, 1.f, 0.f);
    }
    /* Find refuses a stream being captured; the v7 heuristics do not care */
#ifndef SG_EMU_REAL_RUNTIME
    capturing_now = 1;
    st = cudnnFindConvolutionForwardAlgorithm(h, L.x, L.w, L.conv, L.y, 8, &n, perf);
    check(st != CUDNN_STATUS_SUCCESS, "cudnnFind while capturing succeeded");
    st = cudnnGetConvolutionForwardAlgorithm_v7(h, L.x, L.w, L.conv, L.y, 8, &n, perf);
    check(st == CUDNN_STATUS_SUCCESS, "v7 heuristics while capturing: %s", cudnnGetErrorString(st));
    capturing_now = 0;
#endif
    dev_free(ws);
}

/* ---- the backend API, as kernels/conv_engines.cu uses it ------------------------------ */

typedef cudnnBackendDescriptor_t bdesc;

static void destroy(bdesc *d)
{
    if (*d) cudnnBackendDestroyDescriptor(*d);
    *d = NULL;
}

static cudnnStatus_t make_tensor(bdesc *t, int64_t uid, bool nhwc, int64_t n, int64_t ch, int64_t h, int64_t w)
{
    cudnnStatus_t st = cudnnBackendCreateDescriptor(CUDNN_BACKEND_TENSOR_DESCRIPTOR, t);
    if (st) return st;
    int64_t dims[4] = { n, ch, h, w }, strides[4];
    if (nhwc) { strides[0] = h * w * ch; strides[1] = 1; strides[2] = w * ch; strides[3] = ch; }
    else { strides[0] = ch * h * w; strides[1] = h * w; strides[2] = w; strides[3] = 1; }
    cudnnDataType_t type = CUDNN_DATA_FLOAT;
    int64_t align = 16;
    if ((st = cudnnBackendSetAttribute(*t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type)) ||
        (st = cudnnBackendSetAttribute(*t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims)) ||
        (st = cudnnBackendSetAttribute(*t, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides)) ||
        (st = cudnnBackendSetAttribute(*t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid)) ||
        (st = cudnnBackendSetAttribute(*t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align)))
        return st;
    return cudnnBackendFinalize(*t);
}

/* keep: x, w, y, conv, op, graph */
static cudnnStatus_t build_graph(cudnnHandle_t h, int kind, const Shape &s, bool nhwc, float beta, bdesc keep[6])
{
    cudnnStatus_t st;
    if ((st = make_tensor(&keep[0], 1, nhwc, s.N, s.C, s.H, s.W)) || (st = make_tensor(&keep[1], 2, nhwc, s.K, s.C, s.R, s.R)) ||
        (st = make_tensor(&keep[2], 3, nhwc, s.N, s.K, s.P(), s.Q())))
        return st;
    int64_t dims = 2, one[2] = { 1, 1 }, stride[2] = { s.stride, s.stride }, pad[2] = { s.pad, s.pad };
    cudnnDataType_t comp = CUDNN_DATA_FLOAT;
    cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
    if ((st = cudnnBackendCreateDescriptor(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, &keep[3]))) return st;
    bdesc conv = keep[3];
    if ((st = cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &dims)) ||
        (st = cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp)) ||
        (st = cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode)) ||
        (st = cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, one)) ||
        (st = cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, stride)) ||
        (st = cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, pad)) ||
        (st = cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, pad)) ||
        (st = cudnnBackendFinalize(conv)))
        return st;
    float alpha = 1.f;
    static const struct {
        cudnnBackendDescriptorType_t type;
        cudnnBackendAttributeName_t alpha, beta, conv, x, w, y;
    } ops[3] = {
        { CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA,
          CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC,
          CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W,
          CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y },
        { CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY },
        { CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY },
    };
    if ((st = cudnnBackendCreateDescriptor(ops[kind].type, &keep[4]))) return st;
    bdesc op = keep[4];
    if ((st = cudnnBackendSetAttribute(op, ops[kind].alpha, CUDNN_TYPE_FLOAT, 1, &alpha)) ||
        (st = cudnnBackendSetAttribute(op, ops[kind].beta, CUDNN_TYPE_FLOAT, 1, &beta)) ||
        (st = cudnnBackendSetAttribute(op, ops[kind].conv, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &conv)) ||
        (st = cudnnBackendSetAttribute(op, ops[kind].x, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &keep[0])) ||
        (st = cudnnBackendSetAttribute(op, ops[kind].w, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &keep[1])) ||
        (st = cudnnBackendSetAttribute(op, ops[kind].y, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &keep[2])) ||
        (st = cudnnBackendFinalize(op)))
        return st;
    if ((st = cudnnBackendCreateDescriptor(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, &keep[5]))) return st;
    if ((st = cudnnBackendSetAttribute(keep[5], CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &op)) ||
        (st = cudnnBackendSetAttribute(keep[5], CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &h)))
        return st;
    return cudnnBackendFinalize(keep[5]);
}

/* conv_engines.cu's heuristic_list: count first, then that many pre-made configurations */
static int heuristic_list(bdesc graph, cudnnBackendHeurMode_t mode, bdesc *out, int max, int64_t *count_out)
{
    bdesc h = NULL;
    int64_t count = 0, got = 0;
    int n = 0;
    *count_out = -1;
    if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, &h)) return 0;
    if (cudnnBackendSetAttribute(h, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph) ||
        cudnnBackendSetAttribute(h, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode) || cudnnBackendFinalize(h) ||
        cudnnBackendGetAttribute(h, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count, NULL) ||
        count <= 0) {
        destroy(&h);
        return 0;
    }
    *count_out = count;
    if (count > max) count = max;
    int made = 0;
    for (; made < count; made++)
        if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, &out[made])) break;
    if (made > 0 &&
        cudnnBackendGetAttribute(h, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, made, &got, out) ==
            CUDNN_STATUS_SUCCESS)
        n = got < made ? (int)got : made;
    for (int i = n; i < made; i++) destroy(&out[i]);
    destroy(&h);    /* the configurations outlive the heuristics */
    return n;
}

/* conv_engines.cu's usable(): the engine's index and notes */
static cudnnStatus_t engine_of(bdesc cfg, int64_t *id, std::vector<int> *num, std::vector<int> *beh)
{
    bdesc eng = NULL;
    int64_t n = 0;
    cudnnStatus_t st = cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINE_DESCRIPTOR, &eng);
    if (st) return st;
    cudnnBackendNumericalNote_t nn[CUDNN_NUMERICAL_NOTE_TYPE_COUNT + 8];
    cudnnBackendBehaviorNote_t bb[CUDNN_BEHAVIOR_NOTE_TYPE_COUNT + 8];
    int64_t n_num = 0, n_beh = 0;
    if ((st = cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n, &eng)) ||
        (st = cudnnBackendGetAttribute(eng, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &n, id)) ||
        (st = cudnnBackendGetAttribute(eng, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                                       CUDNN_NUMERICAL_NOTE_TYPE_COUNT + 8, &n_num, nn)) ||
        (st = cudnnBackendGetAttribute(eng, CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE, CUDNN_TYPE_BEHAVIOR_NOTE,
                                       CUDNN_BEHAVIOR_NOTE_TYPE_COUNT + 8, &n_beh, bb))) {
        destroy(&eng);
        return st;
    }
    num->assign(nn, nn + n_num);
    beh->assign(bb, bb + n_beh);
    destroy(&eng);
    return CUDNN_STATUS_SUCCESS;
}

static cudnnStatus_t make_plan(cudnnHandle_t h, bdesc cfg, bdesc *plan, int64_t *ws)
{
    int64_t n = 0;
    cudnnStatus_t st = cudnnBackendCreateDescriptor(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, plan);
    if (st) return st;
    if ((st = cudnnBackendSetAttribute(*plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &h)) ||
        (st = cudnnBackendSetAttribute(*plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                                       &cfg)) ||
        (st = cudnnBackendFinalize(*plan)) ||
        (st = cudnnBackendGetAttribute(*plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &n, ws)))
        destroy(plan);
    return st;
}

static cudnnStatus_t make_pack(bdesc *pack, void *x, void *w, void *y, void *ws)
{
    cudnnStatus_t st = cudnnBackendCreateDescriptor(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, pack);
    if (st) return st;
    int64_t uids[3] = { 1, 2, 3 };
    void *ptrs[3] = { x, w, y };
    if ((st = cudnnBackendSetAttribute(*pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, uids)) ||
        (st = cudnnBackendSetAttribute(*pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, ptrs)) ||
        (st = cudnnBackendSetAttribute(*pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws)) ||
        (st = cudnnBackendFinalize(*pack)))
        destroy(pack);
    return st;
}

struct Graph {
    bdesc keep[6] = { NULL, NULL, NULL, NULL, NULL, NULL };
    ~Graph()
    {
        for (int i = 0; i < 6; i++) destroy(&keep[i]);
    }
};

/* the candidates of mode A then the fallback list; engine ids and notes checked */
static void heuristics_cases(cudnnHandle_t h)
{
    const Shape s = shapes[0];
    for (int kind = 0; kind < 3; kind++) {
        Graph G;
        CK(build_graph(h, kind, s, true, kind == BWD_FILTER ? 1.f : 0.f, G.keep));
        bdesc cand[30];
        int64_t count_a = 0, count_i = 0, count_f = 0;
        int n = heuristic_list(G.keep[5], CUDNN_HEUR_MODE_A, cand, 24, &count_a);
        bdesc inst[24];
        int ni = heuristic_list(G.keep[5], CUDNN_HEUR_MODE_INSTANT, inst, 2, &count_i);
        for (int i = 0; i < ni; i++) destroy(&inst[i]);
        int nf = heuristic_list(G.keep[5], CUDNN_HEUR_MODE_FALLBACK, cand + n, 6, &count_f);
        /* the fallback list: engine 4, then a repeat of mode A's first (engine 0) */
        check(n == 4 && count_a == 4 && ni == 2 && count_i == 4 && nf == 2 && count_f == 2,
              "%s: heuristics: A %d (%lld), INSTANT %d of %lld, FALLBACK %d", kind_names[kind], n, (long long)count_a, ni,
              (long long)count_i, nf);
        if (n != 4 || nf != 2) {
            for (int i = 0; i < n + nf; i++) destroy(&cand[i]);
            continue;
        }
        static const int want_num[5] = { CUDNN_NUMERICAL_NOTE_TENSOR_CORE, CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC, -1, -1,
                                         -1 };
        static const int want_beh[5] = { -1, -1, -1, CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION, -1 };
        static const int64_t want_ws[5] = { 0, 0, 32768, 0, 0 };
        for (int i = 0; i < 5; i++) {
            int64_t id = -1;
            std::vector<int> num, beh;
            cudnnStatus_t st = engine_of(cand[i], &id, &num, &beh);
            check(st == CUDNN_STATUS_SUCCESS && id == i, "%s: candidate %d is engine %lld (%s)", kind_names[kind], i,
                  (long long)id, cudnnGetErrorString(st));
            check(num.size() == (want_num[i] < 0 ? 0u : 1u) && (want_num[i] < 0 || num[0] == want_num[i]) &&
                      beh.size() == (want_beh[i] < 0 ? 0u : 1u) && (want_beh[i] < 0 || beh[0] == want_beh[i]),
                  "%s: engine %d notes: %zu numerical, %zu behavior", kind_names[kind], i, num.size(), beh.size());
            bdesc plan = NULL;
            int64_t ws = -1;
            st = make_plan(h, cand[i], &plan, &ws);
            if (i == 4 && kind == BWD_FILTER)
                check(st == CUDNN_STATUS_NOT_SUPPORTED, "fallback engine with backward-filter beta 1: %s",
                      cudnnGetErrorString(st));
            else
                check(st == CUDNN_STATUS_SUCCESS && ws == want_ws[i], "%s: plan of engine %d: %s, workspace %lld",
                      kind_names[kind], i, cudnnGetErrorString(st), (long long)ws);
            destroy(&plan);
        }
        /* a count only: elementCount is how many there are, nothing written */
        {
            bdesc eng = NULL;
            int64_t k = -1;
            CK(cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINE_DESCRIPTOR, &eng));
            CK(cudnnBackendGetAttribute(cand[0], CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &k, &eng));
            int64_t c = -1;
            cudnnStatus_t st = cudnnBackendGetAttribute(eng, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE, 0,
                                                        &c, NULL);
            check(st == CUDNN_STATUS_SUCCESS && c == 1, "notes count only: %s, %lld", cudnnGetErrorString(st),
                  (long long)c);
            st = cudnnBackendGetAttribute(eng, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_INT64, 1, &c, &k);
            check(st == CUDNN_STATUS_BAD_PARAM, "notes asked as INT64: %s", cudnnGetErrorString(st));
            destroy(&eng);
        }
        {
            int64_t id = -1;
            std::vector<int> num, beh;
            cudnnStatus_t st = engine_of(cand[5], &id, &num, &beh);
            check(st == CUDNN_STATUS_SUCCESS && id == 0, "%s: the fallback list's second is engine %lld (%s)",
                  kind_names[kind], (long long)id, cudnnGetErrorString(st));
            int64_t knobs = -1;
            st = cudnnBackendGetAttribute(cand[5], CUDNN_ATTR_ENGINECFG_KNOB_CHOICES, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0,
                                          &knobs, NULL);
            check(st == CUDNN_STATUS_SUCCESS && knobs == 0, "%s: knob choices of an emulated engine: %s, %lld",
                  kind_names[kind], cudnnGetErrorString(st), (long long)knobs);
        }
        for (int i = 0; i < 6; i++) destroy(&cand[i]);
    }
}

/* One backend run: engine `engine` of the heuristics (mode A, then fallback) */
static void backend_case(cudnnHandle_t h, int kind, const Shape &s, bool nhwc, int engine)
{
    char what[200];
    snprintf(what, sizeof what, "backend engine %d %s %s N%d C%d %dx%d K%d R%d s%d p%d", engine, kind_names[kind],
             nhwc ? "nhwc" : "nchw", s.N, s.C, s.H, s.W, s.K, s.R, s.stride, s.pad);
    float beta = kind == BWD_FILTER && engine != 4 ? 1.f : 0.f;
    Graph *G = new Graph;
    CK(build_graph(h, kind, s, nhwc, beta, G->keep));
    bdesc cand[8];
    int64_t count = 0;
    int n = engine == 4 ? heuristic_list(G->keep[5], CUDNN_HEUR_MODE_FALLBACK, cand, 8, &count)
                        : heuristic_list(G->keep[5], CUDNN_HEUR_MODE_A, cand, 8, &count);
    int pick = engine == 4 ? 0 : engine;
    if (pick >= n) {
        check(false, "%s: %d candidates", what, n);
        delete G;
        return;
    }
    bdesc plan = NULL, pack = NULL;
    int64_t ws = 0;
    cudnnStatus_t st = make_plan(h, cand[pick], &plan, &ws);
    for (int i = 0; i < n; i++) destroy(&cand[i]);     /* the plan keeps what it needs */
    if (st) {
        check(false, "%s: plan: %s (%s)", what, cudnnGetErrorString(st), last_error().c_str());
        delete G;
        return;
    }
    Operands o(s, nhwc, false, kind, beta == 0.f);
    void *wsp = ws ? dev_alloc((size_t)ws) : NULL;
    st = make_pack(&pack, o.dx, o.dw, o.dy, wsp);
    if (!st) st = cudnnBackendExecute(h, plan, pack);
    check(st == CUDNN_STATUS_SUCCESS, "%s: execute: %s (%s)", what, cudnnGetErrorString(st), last_error().c_str());
    destroy(&pack);
    destroy(&plan);
    delete G;                                          /* queued work must not need them */
    sync_all();
    expect_result(what, kind, o, engine == 0 ? TF32 : EXACT, 1.f, beta);
    dev_free(wsp);
}

/* A configuration's knob choices (conv_engines.cu's read_config_key):
 * *n of them, the first's type and value in *type, *value. */
static cudnnStatus_t knobs_of(bdesc cfg, int64_t *n, int64_t *type, int64_t *value)
{
    bdesc kc = NULL;
    int64_t got = 0;
    *n = -1;
    *type = *value = -1;
    cudnnStatus_t st = cudnnBackendCreateDescriptor(CUDNN_BACKEND_KNOB_CHOICE_DESCRIPTOR, &kc);
    if (st) return st;
    cudnnBackendKnobType_t t = CUDNN_KNOB_TYPE_COUNTS;
    if (!(st = cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_KNOB_CHOICES, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, n,
                                        &kc)) &&
        *n > 0 &&
        !(st = cudnnBackendGetAttribute(kc, CUDNN_ATTR_KNOB_CHOICE_KNOB_TYPE, CUDNN_TYPE_KNOB_TYPE, 1, &got, &t)) &&
        !(st = cudnnBackendGetAttribute(kc, CUDNN_ATTR_KNOB_CHOICE_KNOB_VALUE, CUDNN_TYPE_INT64, 1, &got, value)))
        *type = (int64_t)t;
    destroy(&kc);
    return st;
}

/* SG_EMU_CUDNN_KNOBS=2:3,0: mode A lists engine 2 twice, with knob
 * TILE_SIZE 3 then 0; the value-0 configuration computes what engine 2
 * does, the value-3 one the same moved by 3 ulps away from zero. A
 * malformed value makes the heuristics fail. */
static void knob_cases(cudnnHandle_t h)
{
    const Shape s = shapes[0];
    setenv("SG_EMU_CUDNN_KNOBS", "2:3,0", 1);
    for (int kind = 0; kind < 3; kind++) {
        Graph G;
        float beta = kind == BWD_FILTER ? 1.f : 0.f;
        CK(build_graph(h, kind, s, true, beta, G.keep));
        bdesc cand[8];
        int64_t count = 0;
        int n = heuristic_list(G.keep[5], CUDNN_HEUR_MODE_A, cand, 8, &count);
        check(n == 5 && count == 5, "%s: SG_EMU_CUDNN_KNOBS=2:3,0: %d configurations", kind_names[kind], n);
        if (n != 5) {
            for (int i = 0; i < n; i++) destroy(&cand[i]);
            continue;
        }
        static const int64_t want_id[5] = { 0, 1, 2, 2, 3 }, want_knob[5] = { -1, -1, 3, 0, -1 };
        for (int i = 0; i < 5; i++) {
            int64_t id = -1, nk = -1, type = -1, value = -1;
            std::vector<int> num, beh;
            cudnnStatus_t st = engine_of(cand[i], &id, &num, &beh);
            if (!st) st = knobs_of(cand[i], &nk, &type, &value);
            check(st == CUDNN_STATUS_SUCCESS && id == want_id[i] &&
                      (want_knob[i] < 0 ? nk == 0 : nk == 1 && type == CUDNN_KNOB_TYPE_TILE_SIZE && value == want_knob[i]),
                  "%s: configuration %d: engine %lld, %lld knobs, type %lld value %lld (%s)", kind_names[kind], i,
                  (long long)id, (long long)nk, (long long)type, (long long)value, cudnnGetErrorString(st));
        }
        /* both configurations of engine 2 on the same operands */
        std::vector<float> out[2];
        for (int c = 0; c < 2; c++) {
            bdesc plan = NULL, pack = NULL;
            int64_t ws = 0;
            cudnnStatus_t st = make_plan(h, cand[2 + c], &plan, &ws);
            rng_state = 0x1234567ull;          /* the same operands for both */
            Operands o(s, true, false, kind, beta == 0.f);
            void *wsp = ws ? dev_alloc((size_t)ws) : NULL;
            if (!st) st = make_pack(&pack, o.dx, o.dw, o.dy, wsp);
            if (!st) st = cudnnBackendExecute(h, plan, pack);
            check(st == CUDNN_STATUS_SUCCESS, "%s: knob %lld: %s (%s)", kind_names[kind], (long long)want_knob[2 + c],
                  cudnnGetErrorString(st), last_error().c_str());
            sync_all();
            if (c == 1) {
                char what[80];
                snprintf(what, sizeof what, "%s: engine 2 with knob value 0", kind_names[kind]);
                expect_result(what, kind, o, EXACT, 1.f, beta);
            }
            out[c] = o.output(kind);
            destroy(&pack);
            destroy(&plan);
            dev_free(wsp);
        }
        /* what the value-3 configuration adds to its sums, out[0] - out[1] (beta 1 adds the same prior) */
        size_t moved = 0, nonzero = 0;
        for (size_t i = 0; i < out[0].size() && i < out[1].size(); i++) {
            nonzero += out[1][i] != 0.f;
            moved += out[0][i] != out[1][i] && fabsf(out[0][i] - out[1][i]) <= 1e-5f * (1.f + fabsf(out[1][i]));
        }
        check(out[0].size() == out[1].size() && moved > nonzero / 2,
              "%s: knob value 3 moves the last bits of most outputs (%zu of %zu nonzero)", kind_names[kind], moved,
              nonzero);
        for (int i = 0; i < 5; i++) destroy(&cand[i]);
    }
    const char *bad[] = { "2", "2:", "9:1", "2:1,", "2:65", "2:-1", "x:1", "2:1;3" };
    for (const char *v : bad) {
        setenv("SG_EMU_CUDNN_KNOBS", v, 1);
        Graph G;
        CK(build_graph(h, FWD, s, true, 0.f, G.keep));
        bdesc cand[8];
        int64_t count = 0;
        int n = heuristic_list(G.keep[5], CUDNN_HEUR_MODE_A, cand, 8, &count);
        check(n == 0 && strstr(last_error().c_str(), "SG_EMU_CUDNN_KNOBS"), "SG_EMU_CUDNN_KNOBS=%s refused: %d, %s", v,
              n, last_error().c_str());
        for (int i = 0; i < n; i++) destroy(&cand[i]);
    }
    unsetenv("SG_EMU_CUDNN_KNOBS");
}

/* Execute's checks, SetAttribute's types, the finalize rules, the switch */
static void backend_api_cases(cudnnHandle_t h)
{
    const Shape s = shapes[1];
    Graph G;
    CK(build_graph(h, FWD, s, true, 0.f, G.keep));
    bdesc cand[8];
    int64_t count = 0;
    int n = heuristic_list(G.keep[5], CUDNN_HEUR_MODE_A, cand, 8, &count);
    if (n != 4) { check(false, "backend api: %d candidates", n); return; }
    bdesc plan2 = NULL, plan0 = NULL, pack = NULL;
    int64_t ws2 = 0, ws0 = 0;
    CK(make_plan(h, cand[2], &plan2, &ws2));
    CK(make_plan(h, cand[0], &plan0, &ws0));
    Operands o(s, true, false, FWD, false);
    void *ws = dev_alloc((size_t)ws2 + 64);
    /* misaligned data (4 bytes off the tensors' 16) */
    float *xbuf = (float *)dev_alloc(o.x.size() * 4 + 16);
    memcpy(xbuf + 1, o.dx, o.x.size() * 4);
    CK(make_pack(&pack, xbuf + 1, o.dw, o.dy, ws));
    cudnnStatus_t st = cudnnBackendExecute(h, plan2, pack);
    check(st == CUDNN_STATUS_BAD_PARAM && !last_error().empty(), "misaligned x: %s", cudnnGetErrorString(st));
    destroy(&pack);
    /* workspace: none for an engine that needs one, misaligned, too short */
    CK(make_pack(&pack, o.dx, o.dw, o.dy, NULL));
    st = cudnnBackendExecute(h, plan2, pack);
    check(st == CUDNN_STATUS_BAD_PARAM, "no workspace for engine 2: %s", cudnnGetErrorString(st));
    st = cudnnBackendExecute(h, plan0, pack);
    check(st == CUDNN_STATUS_SUCCESS, "engine 0 needs no workspace: %s", cudnnGetErrorString(st));
    destroy(&pack);
    /* another handle: refused at execution, and for a plan of a graph made
     * with another (strict where cuDNN is not documented) */
    {
        cudnnHandle_t h2 = NULL;
        CK(cudnnCreate(&h2));
        CK(make_pack(&pack, o.dx, o.dw, o.dy, NULL));
        st = cudnnBackendExecute(h2, plan0, pack);
        check(st == CUDNN_STATUS_BAD_PARAM, "a plan executed with another handle: %s", cudnnGetErrorString(st));
        destroy(&pack);
        bdesc plan_h2 = NULL;
        int64_t ws_h2 = 0;
        st = make_plan(h2, cand[0], &plan_h2, &ws_h2);
        check(st == CUDNN_STATUS_BAD_PARAM, "a plan made with a handle its graph was not made with: %s",
              cudnnGetErrorString(st));
        destroy(&plan_h2);
        CK(cudnnDestroy(h2));
    }
    CK(make_pack(&pack, o.dx, o.dw, o.dy, (char *)ws + 4));
    st = cudnnBackendExecute(h, plan2, pack);
    check(st == CUDNN_STATUS_BAD_PARAM, "misaligned workspace: %s", cudnnGetErrorString(st));
    destroy(&pack);
    void *short_ws = dev_alloc((size_t)ws2 - 16);
    CK(make_pack(&pack, o.dx, o.dw, o.dy, short_ws));
    st = cudnnBackendExecute(h, plan2, pack);
    check(st == CUDNN_STATUS_BAD_PARAM, "short workspace: %s", cudnnGetErrorString(st));
    destroy(&pack);
    /* a host pointer */
    std::vector<float> host(o.y.size() + 8);
    float *hp = (float *)(((uintptr_t)host.data() + 15) & ~(uintptr_t)15);
    CK(make_pack(&pack, o.dx, o.dw, hp, ws));
    st = cudnnBackendExecute(h, plan2, pack);
    check(st == CUDNN_STATUS_BAD_PARAM, "host y: %s", cudnnGetErrorString(st));
    destroy(&pack);
    sync_all();
    /* a pack without w's unique id; repeated ids */
    {
        int64_t uids[3] = { 1, 7, 3 };
        void *ptrs[3] = { o.dx, o.dw, o.dy };
        CK(cudnnBackendCreateDescriptor(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &pack));
        CK(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, uids));
        CK(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, ptrs));
        CK(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws));
        CK(cudnnBackendFinalize(pack));
        st = cudnnBackendExecute(h, plan2, pack);
        check(st == CUDNN_STATUS_BAD_PARAM, "pack without w: %s", cudnnGetErrorString(st));
        st = cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws);
        check(st == CUDNN_STATUS_NOT_INITIALIZED, "setting a finalized descriptor: %s", cudnnGetErrorString(st));
        destroy(&pack);
        uids[1] = 1;
        CK(cudnnBackendCreateDescriptor(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &pack));
        CK(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, uids));
        CK(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, ptrs));
        st = cudnnBackendFinalize(pack);
        check(st == CUDNN_STATUS_BAD_PARAM, "repeated unique ids: %s", cudnnGetErrorString(st));
        destroy(&pack);
    }
    /* attribute types and finalize rules */
    {
        bdesc t = NULL;
        CK(cudnnBackendCreateDescriptor(CUDNN_BACKEND_TENSOR_DESCRIPTOR, &t));
        int32_t dims32[4] = { 1, 2, 3, 4 };
        st = cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT32, 4, dims32);
        check(st == CUDNN_STATUS_BAD_PARAM, "dimensions as INT32: %s", cudnnGetErrorString(st));
        int64_t one = 1;
        st = cudnnBackendSetAttribute(t, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &one);
        check(st == CUDNN_STATUS_BAD_PARAM, "a convolution attribute on a tensor: %s", cudnnGetErrorString(st));
        int64_t nine[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
        st = cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 9, nine);
        check(st == CUDNN_STATUS_BAD_PARAM, "9 dimensions: %s", cudnnGetErrorString(st));
        int64_t c = 0;
        st = cudnnBackendGetAttribute(t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 0, &c, NULL);
        check(st == CUDNN_STATUS_NOT_INITIALIZED, "get before finalize: %s", cudnnGetErrorString(st));
        st = cudnnBackendFinalize(t);
        check(st == CUDNN_STATUS_BAD_PARAM, "finalize an empty tensor: %s", cudnnGetErrorString(st));
        /* overlapping strides */
        cudnnDataType_t f = CUDNN_DATA_FLOAT;
        int64_t d[4] = { 1, 4, 4, 4 }, bad[4] = { 64, 1, 4, 2 }, uid = 9, al = 16;
        CK(cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &f));
        CK(cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, d));
        CK(cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, bad));
        CK(cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid));
        CK(cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &al));
        st = cudnnBackendFinalize(t);
        check(st == CUDNN_STATUS_BAD_PARAM, "overlapping strides: %s", cudnnGetErrorString(st));
        destroy(&t);
        /* a graph of a tensor, an op from an unfinalized conv */
        bdesc g = NULL;
        CK(cudnnBackendCreateDescriptor(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, &g));
        st = cudnnBackendSetAttribute(g, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &G.keep[0]);
        check(st == CUDNN_STATUS_BAD_PARAM, "a tensor as a graph's op: %s", cudnnGetErrorString(st));
        st = cudnnBackendSetAttribute(g, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &G.keep[4]);
        check(st == CUDNN_STATUS_SUCCESS, "a graph's op: %s", cudnnGetErrorString(st));
        st = cudnnBackendFinalize(g);
        check(st == CUDNN_STATUS_BAD_PARAM, "a graph without a handle: %s", cudnnGetErrorString(st));
        destroy(&g);
        bdesc cv = NULL;
        CK(cudnnBackendCreateDescriptor(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, &cv));
        bdesc op = NULL;
        CK(cudnnBackendCreateDescriptor(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, &op));
        st = cudnnBackendSetAttribute(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                      1, &cv);
        check(st == CUDNN_STATUS_BAD_PARAM, "an unfinalized convolution: %s", cudnnGetErrorString(st));
        double dalpha = 2.0;
        st = cudnnBackendSetAttribute(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_DOUBLE, 1, &dalpha);
        check(st == CUDNN_STATUS_SUCCESS, "alpha as DOUBLE: %s", cudnnGetErrorString(st));
        int64_t ialpha = 2;
        st = cudnnBackendSetAttribute(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_INT64, 1, &ialpha);
        check(st == CUDNN_STATUS_BAD_PARAM, "alpha as INT64: %s", cudnnGetErrorString(st));
        /* dilation 2 */
        int64_t dims = 2, two[2] = { 2, 2 }, ones[2] = { 1, 1 }, zeros[2] = { 0, 0 };
        cudnnDataType_t comp = CUDNN_DATA_FLOAT;
        cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
        CK(cudnnBackendSetAttribute(cv, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &dims));
        CK(cudnnBackendSetAttribute(cv, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp));
        CK(cudnnBackendSetAttribute(cv, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode));
        CK(cudnnBackendSetAttribute(cv, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, two));
        CK(cudnnBackendSetAttribute(cv, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, ones));
        CK(cudnnBackendSetAttribute(cv, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, zeros));
        CK(cudnnBackendSetAttribute(cv, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 1, zeros));
        st = cudnnBackendFinalize(cv);
        check(st == CUDNN_STATUS_BAD_PARAM, "one post-padding for 2 dimensions: %s", cudnnGetErrorString(st));
        CK(cudnnBackendSetAttribute(cv, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, zeros));
        st = cudnnBackendFinalize(cv);
        check(st == CUDNN_STATUS_NOT_SUPPORTED, "dilation 2: %s", cudnnGetErrorString(st));
        destroy(&op);
        destroy(&cv);
        /* the tensors of an op must match */
        bdesc keep2[6] = { NULL, NULL, NULL, NULL, NULL, NULL };
        Shape wrong = s;
        wrong.C = s.C + 1;
        bdesc xw = NULL;
        CK(make_tensor(&xw, 1, true, s.N, wrong.C, s.H, s.W));
        CK(cudnnBackendCreateDescriptor(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, &op));
        float one_f = 1.f, zero_f = 0.f;
        CK(cudnnBackendSetAttribute(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, 1, &one_f));
        CK(cudnnBackendSetAttribute(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, 1, &zero_f));
        CK(cudnnBackendSetAttribute(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                                    &G.keep[3]));
        CK(cudnnBackendSetAttribute(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &xw));
        CK(cudnnBackendSetAttribute(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                                    &G.keep[1]));
        CK(cudnnBackendSetAttribute(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                                    &G.keep[2]));
        st = cudnnBackendFinalize(op);
        check(st == CUDNN_STATUS_BAD_PARAM, "x with the wrong channel count: %s", cudnnGetErrorString(st));
        destroy(&op);
        destroy(&xw);
        (void)keep2;
        /* the graph's engine count; a user-made engine and configuration */
        int64_t c2 = 0, ecount = 0;
        CK(cudnnBackendGetAttribute(G.keep[5], CUDNN_ATTR_OPERATIONGRAPH_ENGINE_GLOBAL_COUNT, CUDNN_TYPE_INT64, 1, &c2,
                                    &ecount));
        check(ecount == 5, "engine global count %lld", (long long)ecount);
        bdesc eng = NULL, cfg = NULL, plan = NULL;
        int64_t idx = 2;
        CK(cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINE_DESCRIPTOR, &eng));
        CK(cudnnBackendSetAttribute(eng, CUDNN_ATTR_ENGINE_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &G.keep[5]));
        CK(cudnnBackendSetAttribute(eng, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &idx));
        CK(cudnnBackendFinalize(eng));
        CK(cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, &cfg));
        CK(cudnnBackendSetAttribute(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &eng));
        CK(cudnnBackendFinalize(cfg));
        int64_t pws = -1;
        CK(make_plan(h, cfg, &plan, &pws));
        check(pws == 32768, "user-made configuration of engine 2: workspace %lld", (long long)pws);
        destroy(&plan); destroy(&cfg); destroy(&eng);
        idx = 5;
        CK(cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINE_DESCRIPTOR, &eng));
        CK(cudnnBackendSetAttribute(eng, CUDNN_ATTR_ENGINE_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &G.keep[5]));
        CK(cudnnBackendSetAttribute(eng, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &idx));
        st = cudnnBackendFinalize(eng);
        check(st != CUDNN_STATUS_SUCCESS, "engine 5 finalized");
        destroy(&eng);
        /* a stored attribute reads back */
        int64_t got[4] = { 0, 0, 0, 0 }, gc = 0;
        CK(cudnnBackendGetAttribute(G.keep[2], CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, &gc, got));
        check(gc == 4 && got[0] == s.N && got[1] == s.K && got[2] == s.P() && got[3] == s.Q(), "y dimensions read back");
        /* configurations into descriptors of the wrong type */
        bdesc hd = NULL, wrongs[1] = { NULL };
        mode = CUDNN_CROSS_CORRELATION;
        cudnnBackendHeurMode_t hm = CUDNN_HEUR_MODE_A;
        CK(cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, &hd));
        CK(cudnnBackendSetAttribute(hd, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &G.keep[5]));
        CK(cudnnBackendSetAttribute(hd, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &hm));
        CK(cudnnBackendFinalize(hd));
        CK(cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINE_DESCRIPTOR, &wrongs[0]));
        st = cudnnBackendGetAttribute(hd, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &gc, wrongs);
        check(st == CUDNN_STATUS_BAD_PARAM, "results into an ENGINE descriptor: %s", cudnnGetErrorString(st));
        destroy(&wrongs[0]);
        destroy(&hd);
    }
    for (int i = 0; i < n; i++) destroy(&cand[i]);
    destroy(&plan0);
    destroy(&plan2);
    dev_free(ws);
    dev_free(short_ws);
    dev_free(xbuf);
    /* SG_EMU_CUDNN_BACKEND=0: no backend API */
    setenv("SG_EMU_CUDNN_BACKEND", "0", 1);
    bdesc t = NULL;
    st = cudnnBackendCreateDescriptor(CUDNN_BACKEND_TENSOR_DESCRIPTOR, &t);
    check(st == CUDNN_STATUS_NOT_SUPPORTED && !t, "SG_EMU_CUDNN_BACKEND=0: %s", cudnnGetErrorString(st));
    unsetenv("SG_EMU_CUDNN_BACKEND");
    st = cudnnBackendCreateDescriptor(CUDNN_BACKEND_TENSOR_DESCRIPTOR, &t);
    check(st == CUDNN_STATUS_SUCCESS, "backend API back: %s", cudnnGetErrorString(st));
    destroy(&t);
    st = cudnnBackendCreateDescriptor(CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR, &t);
    check(st == CUDNN_STATUS_NOT_SUPPORTED, "a matmul: %s", cudnnGetErrorString(st));
}

int main()
{
    check(cudnnGetVersion() == 91400, "version %zu", cudnnGetVersion());
    check(!strcmp(cudnnGetErrorString(CUDNN_STATUS_BAD_PARAM), "CUDNN_STATUS_BAD_PARAM") &&
              !strcmp(cudnnGetErrorString(CUDNN_STATUS_SUCCESS), "CUDNN_STATUS_SUCCESS") &&
              !strcmp(cudnnGetErrorString(CUDNN_STATUS_NOT_SUPPORTED), "CUDNN_STATUS_NOT_SUPPORTED"),
          "error strings");
    cudnnHandle_t h = NULL;
    if (cudnnCreate(&h) != CUDNN_STATUS_SUCCESS) {
        fprintf(stderr, "cudnnCreate failed\n");
        return 1;
    }
#ifdef SG_EMU_REAL_RUNTIME
    cudaStreamCreateWithFlags(&the_stream, cudaStreamNonBlocking);
    cudnnSetStream(h, the_stream);
#else
    cudnnSetStream(h, (cudaStream_t)0x1234);
#endif
    /* numerics: every shape, layout and kind */
    for (int i = 0; i < n_shapes; i++)
        for (int nhwc = 0; nhwc < 2; nhwc++)
            for (int kind = 0; kind < 3; kind++) {
                /* what the backend does: forward/backward-data overwrite (beta 0,
                 * NaN in the output), backward-filter accumulates (beta 1); bf16
                 * backward-filter writes with beta 0 */
                float beta = kind == BWD_FILTER ? 1.f : 0.f;
                legacy_case(h, kind, shapes[i], nhwc, EXACT, 1.f, beta, beta == 0.f);
                legacy_case(h, kind, shapes[i], nhwc, TF32, 1.f, beta, beta == 0.f);
                legacy_case(h, kind, shapes[i], nhwc, BF16, 1.f, 0.f, true);
                legacy_case(h, kind, shapes[i], nhwc, EXACT, 0.5f, 0.25f, false);
                backend_case(h, kind, shapes[i], nhwc, 2);
                backend_case(h, kind, shapes[i], nhwc, 0);
            }
    for (int kind = 0; kind < 3; kind++) {
        backend_case(h, kind, shapes[2], true, 1);
        backend_case(h, kind, shapes[2], false, 3);
        if (kind != BWD_FILTER) backend_case(h, kind, shapes[2], true, 4);
        legacy_case(h, kind, shapes[1], true, BF16, 0.5f, 0.25f, false);
        legacy_case(h, kind, shapes[1], false, TF32, -2.f, 1.f, false);
    }
    /* TF32 really rounds: default math differs from FMA math on random data */
    {
        const Shape s = shapes[2];
        Legacy A, B;
        if (make_legacy(A, s, true, CUDNN_DATA_FLOAT, CUDNN_FMA_MATH) == CUDNN_STATUS_SUCCESS &&
            make_legacy(B, s, true, CUDNN_DATA_FLOAT, CUDNN_DEFAULT_MATH) == CUDNN_STATUS_SUCCESS) {
            Operands o(s, true, false, FWD, false);
            void *y2 = dev_alloc(o.y.size() * 4);
            const float one = 1.f, zero = 0.f;
            cudnnConvolutionForward(h, &one, A.x, o.dx, A.w, o.dw, A.conv, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, NULL,
                                    0, &zero, A.y, o.dy);
            cudnnConvolutionForward(h, &one, B.x, o.dx, B.w, o.dw, B.conv, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, NULL,
                                    0, &zero, B.y, y2);
            sync_all();
            int differ = 0;
            for (size_t i = 0; i < o.y.size(); i++) differ += ((float *)o.dy)[i] != ((float *)y2)[i];
            check(differ > (int)o.y.size() / 2, "tf32 and fp32 differ in only %d of %zu outputs", differ, o.y.size());
            dev_free(y2);
        }
    }
    rounding_cases(h);
    bf16_exact_cases(h);
    legacy_api_cases(h);
    heuristics_cases(h);
    knob_cases(h);
    backend_api_cases(h);
    sync_all();
    cudnnDestroy(h);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
