/* The cuDNN the CUDA backend calls, emulated on the host (tests/emu/emu.h):
 * the legacy (v7) convolution calls of kernels/conv_cudnn.cu and the backend
 * (graph) API of kernels/conv_engines.cu, with the real <cudnn.h> declaring
 * every type and signature.
 *
 * It is a test oracle, so it is strict where real cuDNN is and stricter where
 * that catches the backend's mistakes: descriptors are validated, data and
 * workspace pointers must be device memory (cudaMalloc of the emulated
 * runtime) covering the whole tensor, an output may not overlap an input, the
 * workspace must be as large as the algorithm/engine says and is overwritten
 * on every call. Every failure returns a status and leaves a reason for
 * cudnnGetLastErrorString; nothing is printed.
 *
 * Arithmetic: plain loops over canonical copies of the operands, one float
 * accumulator per output summing in a fixed order with fused multiply-adds
 * (madd below: a GPU thread's FFMA chain in an fp32 implicit GEMM);
 * deterministic:
 *   bf16 data:               operands bf16 -> float (exact products), the
 *                            result rounded to bf16 (nearest even);
 *   float data, FMA math:    the float operands as they are;
 *   float data, tensor-op or
 *   default math (TF32):     both operands rounded to TF32 (10 mantissa
 *                            bits, nearest even) first, as tensor cores do.
 * Output = alpha * acc + beta * old, where beta == 0 never reads the output.
 *
 * Legacy algorithms: ALGO_1 (forward IMPLICIT_PRECOMP_GEMM) with a workspace,
 * ALGO_0 without, then FFT marked NOT_SUPPORTED (the heuristics list
 * unsupported algorithms too). Backend engines (global index):
 *   0 TENSOR_CORE note (TF32 on float data)   1 NONDETERMINISTIC note
 *   2 no note, 32 KiB workspace               3 RUNTIME_COMPILATION note
 *   4 the fallback list's one engine: refuses beta != 0 for backward-filter.
 * SG_EMU_CUDNN_BACKEND=0 makes the backend API unavailable (creating a
 * descriptor returns NOT_SUPPORTED), so the legacy path runs.
 * SG_EMU_CUDNN_WRONG_ENGINE=e makes engine e silently ignore beta in
 * backward-filter (a wrong engine, which the search must not choose).
 * SG_EMU_CUDNN_HIDDEN_TF32=e makes engine e round its operands to TF32
 * without a TENSOR_CORE note (which fp32 mode's search must not choose).
 * SG_EMU_CUDNN_FAILING_ENGINE=e makes engine e's execution fail
 * (CUDNN_STATUS_EXECUTION_FAILED), for the search's report of it.
 * SG_EMU_CUDNN_LEGACY_NONDET_ONLY=kind[:C],... (kind backward-data or
 * backward-filter; C: only shapes with C input channels) makes the legacy
 * perf lists of those kinds mark ALGO_1 NOT_SUPPORTED, so that only the
 * nondeterministic ALGO_0 is offered, at any workspace cap (what real cuDNN
 * may do for bf16 or small shapes).
 * Knobs: without SG_EMU_CUDNN_KNOBS the engine configurations have no knob
 * choices. SG_EMU_CUDNN_KNOBS=e:v1,v2,... makes the heuristics list engine
 * e once per value, in that order, where they would list it once: each
 * configuration has one knob choice, CUDNN_KNOB_TYPE_TILE_SIZE = v (0..64).
 * Another knob value is another kernel, which sums in another order: the
 * emulation models that by moving each nonzero result of a configuration
 * with value v by v ulps away from zero, so its results differ from the
 * same engine's with other knob values in the last bits, as real ones may
 * (for the engines file, which must bring back the very configuration). */
#include <cudnn.h>
#include "emu.h"
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <map>
#include <memory>
#include <new>
#include <vector>

/* ---- the opaque structs of the legacy descriptors ------------------------------ */

struct cudnnContext {
    uint32_t magic;
    cudaStream_t stream;
};

struct cudnnTensorStruct {
    uint32_t magic;
    bool set;
    cudnnTensorFormat_t format;
    cudnnDataType_t type;
    int n, c, h, w;
};

struct cudnnFilterStruct {
    uint32_t magic;
    bool set;
    cudnnTensorFormat_t format;
    cudnnDataType_t type;
    int k, c, h, w;
};

struct cudnnConvolutionStruct {
    uint32_t magic;
    bool set;
    int pad_h, pad_w, stride_h, stride_w;
    cudnnConvolutionMode_t mode;
    cudnnDataType_t compute;
    cudnnMathType_t math;
};

namespace {

enum : uint32_t {
    MAGIC_HANDLE = 0x434e4448u, MAGIC_TENSOR = 0x434e4454u, MAGIC_FILTER = 0x434e4446u,
    MAGIC_CONV = 0x434e4443u, MAGIC_BACKEND = 0x434e4442u, MAGIC_DEAD = 0xdeadbeefu,
};

thread_local char last_error[512];

/* Records why a call failed (cudnnGetLastErrorString) and returns st. */
cudnnStatus_t fail(cudnnStatus_t st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
cudnnStatus_t fail(cudnnStatus_t st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return st;
}

/* ---- numerics ------------------------------------------------------------------- */

inline float bits_float(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
inline uint32_t float_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* float -> TF32 (1 + 8 + 10 bits), round to nearest even; inf and NaN kept */
inline float tf32_round(float f) { return sg_emu_tf32_round(f); }

inline float bf16_float(uint16_t h) { return bits_float((uint32_t)h << 16); }

/* float -> bf16, round to nearest even; NaN stays a (quiet) NaN, overflow goes to inf */
inline uint16_t float_bf16(float f)
{
    uint32_t u = float_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}


enum Kind { FWD = 0, BWD_DATA = 1, BWD_FILTER = 2 };
enum Arith { ARITH_FP32, ARITH_TF32, ARITH_BF16 };

const char *kind_name(int kind)
{
    return kind == FWD ? "forward" : kind == BWD_DATA ? "backward-data" : "backward-filter";
}

/* One 2-d convolution: x (N,C,H,W), w (K,C,R,S), y (N,K,P,Q), each with its
 * element strides in that dimension order (any layout). */
struct Geom {
    int64_t N, C, H, W, K, R, S, P, Q;
    int64_t pad_h, pad_w, stride_h, stride_w;
    int64_t xs[4], ws[4], ys[4];
};

/* elements from the first to one past the last element of a strided tensor */
int64_t extent(const int64_t d[4], const int64_t s[4])
{
    int64_t e = 1;
    for (int i = 0; i < 4; i++) e += (d[i] - 1) * s[i];
    return e;
}

/* Everything a queued convolution needs, copied when it is submitted. */
struct Job {
    int kind;
    Geom g;
    int arith;
    float alpha, beta;
    void *x, *w, *y;          /* the kind's output is one of them */
    void *ws;
    size_t ws_bytes;          /* what the algorithm/engine uses: overwritten */
    int knob_ulps;            /* a knob value's other summation order (SG_EMU_CUDNN_KNOBS) */
};

/* A strided tensor with dimensions d (strides s) -> contiguous floats with
 * the dimensions in the order perm (outermost first), TF32-rounded when asked. */
void load(std::vector<float> &out, const void *p, bool bf16, bool tf32, const int64_t d[4], const int64_t s[4],
          const int perm[4])
{
    const int64_t D0 = d[perm[0]], D1 = d[perm[1]], D2 = d[perm[2]], D3 = d[perm[3]];
    const int64_t S0 = s[perm[0]], S1 = s[perm[1]], S2 = s[perm[2]], S3 = s[perm[3]];
    out.resize((size_t)(D0 * D1 * D2 * D3));
    size_t i = 0;
    for (int64_t a = 0; a < D0; a++)
        for (int64_t b = 0; b < D1; b++)
            for (int64_t c = 0; c < D2; c++)
                for (int64_t e = 0; e < D3; e++) {
                    int64_t off = a * S0 + b * S1 + c * S2 + e * S3;
                    float v = bf16 ? bf16_float(((const uint16_t *)p)[off]) : ((const float *)p)[off];
                    out[i++] = tf32 ? tf32_round(v) : v;
                }
}

/* out = alpha * acc + beta * out (beta 0: out is not read), bf16 rounded to
 * nearest even; acc holds out's dimensions d in the order perm */
void store(void *p, bool bf16, const int64_t d[4], const int64_t s[4], const int perm[4], const std::vector<float> &acc,
           float alpha, float beta)
{
    const int64_t D0 = d[perm[0]], D1 = d[perm[1]], D2 = d[perm[2]], D3 = d[perm[3]];
    const int64_t S0 = s[perm[0]], S1 = s[perm[1]], S2 = s[perm[2]], S3 = s[perm[3]];
    size_t i = 0;
    for (int64_t a = 0; a < D0; a++)
        for (int64_t b = 0; b < D1; b++)
            for (int64_t c = 0; c < D2; c++)
                for (int64_t e = 0; e < D3; e++) {
                    int64_t off = a * S0 + b * S1 + c * S2 + e * S3;
                    float v = alpha * acc[i++];
                    if (beta != 0.f) {
                        float old = bf16 ? bf16_float(((const uint16_t *)p)[off]) : ((const float *)p)[off];
                        v = v + beta * old;
                    }
                    if (bf16) ((uint16_t *)p)[off] = float_bf16(v);
                    else ((float *)p)[off] = v;
                }
}

/* acc + x * y rounded once (a fused multiply-add, as a GPU's FFMA). The
 * loops that use it are built twice on x86-64: with the FMA instruction and
 * without (libm's fmaf, as exact but slower), chosen when the program loads;
 * both give the same bits. */
#define madd(x, y, acc) __builtin_fmaf((x), (y), (acc))
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FMA_CLONES __attribute__((target_clones("fma", "default")))
#else
#define FMA_CLONES
#endif

/* The three kinds. Every output has one accumulator that takes its terms in
 * a fixed order (forward: c, r, t; backward-data: k, r, t; backward-filter:
 * n, p, q); the innermost loops run over independent outputs (forward: the
 * positions of a row, the others: channels), so that their chains proceed
 * side by side without changing any of them. */

/* y (N,P,K,Q) from x (N,C,H,W) and w (K,C,R,S) */
FMA_CLONES void forward(const Geom &g, const float *__restrict x, const float *__restrict wt, float *__restrict y)
{
    const int64_t N = g.N, C = g.C, H = g.H, W = g.W, K = g.K, R = g.R, S = g.S, P = g.P, Q = g.Q;
    const int64_t sw = g.stride_w;
    for (int64_t n = 0; n < N; n++)
        for (int64_t p = 0; p < P; p++)
            for (int64_t k = 0; k < K; k++) {
                float *__restrict o = &y[(size_t)(((n * P + p) * K + k) * Q)];
                for (int64_t q = 0; q < Q; q++) o[q] = 0.f;
                for (int64_t c = 0; c < C; c++)
                    for (int64_t r = 0; r < R; r++) {
                        int64_t h = p * g.stride_h - g.pad_h + r;
                        if (h < 0 || h >= H) continue;
                        const float *__restrict xr = &x[(size_t)(((n * C + c) * H + h) * W)];
                        for (int64_t t = 0; t < S; t++) {
                            /* the outputs whose tap t lands inside the row:
                             * 0 <= q * sw - pad + t < W */
                            int64_t lo = g.pad_w - t, hi = W - 1 + g.pad_w - t;
                            int64_t q0 = lo <= 0 ? 0 : (lo + sw - 1) / sw, q1 = hi < 0 ? -1 : hi / sw;
                            if (q1 > Q - 1) q1 = Q - 1;
                            const float wv = wt[(size_t)(((k * C + c) * R + r) * S + t)];
                            const float *__restrict xs = xr + t - g.pad_w;
                            for (int64_t q = q0; q <= q1; q++) o[q] = madd(xs[q * sw], wv, o[q]);
                        }
                    }
            }
}

/* dx (N,H,W,C) from dy (N,K,P,Q) and w (K,R,S,C) */
FMA_CLONES void backward_data(const Geom &g, const float *__restrict dy, const float *__restrict wt,
                              float *__restrict dx)
{
    const int64_t N = g.N, C = g.C, H = g.H, W = g.W, K = g.K, R = g.R, S = g.S, P = g.P, Q = g.Q;
    for (int64_t n = 0; n < N; n++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t w = 0; w < W; w++) {
                float *__restrict o = &dx[(size_t)(((n * H + h) * W + w) * C)];
                for (int64_t c = 0; c < C; c++) o[c] = 0.f;
                /* the taps (r, t) that reach an output (p, q),
                 * h + pad - r = p * stride: r = r0 + i * stride goes with
                 * p = p0 - i (in increasing r, then t) */
                const int64_t r0 = (h + g.pad_h) % g.stride_h, p0 = (h + g.pad_h) / g.stride_h;
                const int64_t t0 = (w + g.pad_w) % g.stride_w, q0 = (w + g.pad_w) / g.stride_w;
                for (int64_t k = 0; k < K; k++)
                    for (int64_t r = r0, p = p0; r < R && p >= 0; r += g.stride_h, p--) {
                        if (p >= P) continue;
                        for (int64_t t = t0, q = q0; t < S && q >= 0; t += g.stride_w, q--) {
                            if (q >= Q) continue;
                            const float dv = dy[(size_t)(((n * K + k) * P + p) * Q + q)];
                            const float *__restrict wc = &wt[(size_t)(((k * R + r) * S + t) * C)];
                            for (int64_t c = 0; c < C; c++) o[c] = madd(dv, wc[c], o[c]);
                        }
                    }
            }
}

/* dw (K,R,S,C) from x (N,H,W,C) and dy (N,K,P,Q) */
FMA_CLONES void backward_filter(const Geom &g, const float *__restrict x, const float *__restrict dy,
                                float *__restrict dw)
{
    const int64_t N = g.N, C = g.C, H = g.H, W = g.W, K = g.K, R = g.R, S = g.S, P = g.P, Q = g.Q;
    for (int64_t k = 0; k < K; k++)
        for (int64_t r = 0; r < R; r++)
            for (int64_t t = 0; t < S; t++) {
                float *__restrict o = &dw[(size_t)(((k * R + r) * S + t) * C)];
                for (int64_t c = 0; c < C; c++) o[c] = 0.f;
                for (int64_t n = 0; n < N; n++)
                    for (int64_t p = 0; p < P; p++) {
                        int64_t h = p * g.stride_h - g.pad_h + r;
                        if (h < 0 || h >= H) continue;
                        for (int64_t q = 0; q < Q; q++) {
                            int64_t w = q * g.stride_w - g.pad_w + t;
                            if (w < 0 || w >= W) continue;
                            const float dv = dy[(size_t)(((n * K + k) * P + p) * Q + q)];
                            const float *__restrict xc = &x[(size_t)(((n * H + h) * W + w) * C)];
                            for (int64_t c = 0; c < C; c++) o[c] = madd(xc[c], dv, o[c]);
                        }
                    }
            }
}

/* Each nonzero finite value of acc moved n ulps away from zero: the last
 * bits another summation order (another knob value) gives. */
void other_order(std::vector<float> &acc, int n)
{
    for (float &v : acc) {
        uint32_t b;
        memcpy(&b, &v, 4);
        if (v == 0.f || (b & 0x7f800000u) == 0x7f800000u) continue;
        for (int i = 0; i < n && (b & 0x7f800000u) != 0x7f800000u; i++) b++;   /* stops at infinity */
        memcpy(&v, &b, 4);
    }
}

void run_job(const Job &j)
{
    if (j.ws_bytes) memset(j.ws, 0xa5, j.ws_bytes);      /* the workspace is really used */
    const Geom &g = j.g;
    const bool bf16 = j.arith == ARITH_BF16, tf32 = j.arith == ARITH_TF32;
    const int64_t xd[4] = { g.N, g.C, g.H, g.W }, wd[4] = { g.K, g.C, g.R, g.S }, yd[4] = { g.N, g.K, g.P, g.Q };
    static const int nchw[4] = { 0, 1, 2, 3 }, nhwc[4] = { 0, 2, 3, 1 }, nhcw[4] = { 0, 2, 1, 3 };
    std::vector<float> a, b, acc;
    if (j.kind == FWD) {
        load(a, j.x, bf16, tf32, xd, g.xs, nchw);
        load(b, j.w, bf16, tf32, wd, g.ws, nchw);
        acc.resize((size_t)(g.N * g.K * g.P * g.Q));
        forward(g, a.data(), b.data(), acc.data());
        if (j.knob_ulps) other_order(acc, j.knob_ulps);
        store(j.y, bf16, yd, g.ys, nhcw, acc, j.alpha, j.beta);     /* (N,P,K,Q) */
    } else if (j.kind == BWD_DATA) {
        load(a, j.y, bf16, tf32, yd, g.ys, nchw);           /* dy */
        load(b, j.w, bf16, tf32, wd, g.ws, nhwc);           /* (K,R,S,C) */
        acc.resize((size_t)(g.N * g.C * g.H * g.W));
        backward_data(g, a.data(), b.data(), acc.data());
        if (j.knob_ulps) other_order(acc, j.knob_ulps);
        store(j.x, bf16, xd, g.xs, nhwc, acc, j.alpha, j.beta);
    } else {
        load(a, j.x, bf16, tf32, xd, g.xs, nhwc);
        load(b, j.y, bf16, tf32, yd, g.ys, nchw);           /* dy */
        acc.resize((size_t)(g.K * g.C * g.R * g.S));
        backward_filter(g, a.data(), b.data(), acc.data());
        if (j.knob_ulps) other_order(acc, j.knob_ulps);
        store(j.w, bf16, wd, g.ws, nhwc, acc, j.alpha, j.beta);
    }
}

/* ---- checks shared by the legacy calls and cudnnBackendExecute ------------------- */

bool ranges_overlap(const void *a, size_t na, const void *b, size_t nb)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return na && nb && x < y + nb && y < x + na;
}

/* The data pointers (device memory covering each tensor, the output apart
 * from the inputs), the workspace, then the job is queued on stream s. */
cudnnStatus_t submit(const char *fn, cudaStream_t stream, const Job &j)
{
    const Geom &g = j.g;
    const size_t esize = j.arith == ARITH_BF16 ? 2 : 4;
    const int64_t xd[4] = { g.N, g.C, g.H, g.W }, wd[4] = { g.K, g.C, g.R, g.S }, yd[4] = { g.N, g.K, g.P, g.Q };
    static const char *names[3][3] = { { "x", "w", "y" }, { "dx", "w", "dy" }, { "x", "dw", "dy" } };
    struct { const char *name; const void *p; size_t bytes; } t[3] = {
        { names[j.kind][0], j.x, (size_t)extent(xd, g.xs) * esize },
        { names[j.kind][1], j.w, (size_t)extent(wd, g.ws) * esize },
        { names[j.kind][2], j.y, (size_t)extent(yd, g.ys) * esize },
    };
    const int out = j.kind == FWD ? 2 : j.kind == BWD_DATA ? 0 : 1;
    for (int i = 0; i < 3; i++) {
        if (!t[i].p) return fail(CUDNN_STATUS_BAD_PARAM, "%s: %s is NULL", fn, t[i].name);
        if (!sg_emu_device_range(t[i].p, t[i].bytes))
            return fail(CUDNN_STATUS_BAD_PARAM, "%s: %s (%p, %zu bytes) is not device memory or runs past the end "
                        "of its allocation", fn, t[i].name, t[i].p, t[i].bytes);
    }
    for (int i = 0; i < 3; i++)
        if (i != out && ranges_overlap(t[out].p, t[out].bytes, t[i].p, t[i].bytes))
            return fail(CUDNN_STATUS_BAD_PARAM, "%s: the output %s overlaps the input %s", fn, t[out].name, t[i].name);
    if (j.ws_bytes) {
        if (!j.ws) return fail(CUDNN_STATUS_BAD_PARAM, "%s: the workspace is NULL, %zu bytes needed", fn, j.ws_bytes);
        if (!sg_emu_device_range(j.ws, j.ws_bytes))
            return fail(CUDNN_STATUS_BAD_PARAM, "%s: workspace %p (%zu bytes needed) is not device memory or runs "
                        "past the end of its allocation", fn, j.ws, j.ws_bytes);
        for (int i = 0; i < 3; i++)
            if (ranges_overlap(j.ws, j.ws_bytes, t[i].p, t[i].bytes))
                return fail(CUDNN_STATUS_BAD_PARAM, "%s: the workspace overlaps %s", fn, t[i].name);
    }
    const char *name = fn;
    cudaError_t e = sg_emu_submit(stream, [j, name]() { sg_emu_count(name); run_job(j); });
    if (e != cudaSuccess)
        return fail(CUDNN_STATUS_EXECUTION_FAILED_CUDART, "%s: the stream refused the work (cudaError_t %d)", fn,
                    (int)e);
    return CUDNN_STATUS_SUCCESS;
}

/* ---- legacy descriptors ---------------------------------------------------------- */

bool data_type_ok(cudnnDataType_t t) { return t == CUDNN_DATA_FLOAT || t == CUDNN_DATA_BFLOAT16; }

/* element strides (n, c, h, w) of a packed 4-d tensor in NCHW or NHWC */
void packed_strides(cudnnTensorFormat_t f, int64_t c, int64_t h, int64_t w, int64_t s[4])
{
    if (f == CUDNN_TENSOR_NHWC) { s[0] = h * w * c; s[1] = 1; s[2] = w * c; s[3] = c; }
    else { s[0] = c * h * w; s[1] = h * w; s[2] = w; s[3] = 1; }
}

bool handle_ok(cudnnHandle_t h) { return h && h->magic == MAGIC_HANDLE; }
bool tensor_ok(cudnnTensorDescriptor_t d) { return d && d->magic == MAGIC_TENSOR; }
bool filter_ok(cudnnFilterDescriptor_t d) { return d && d->magic == MAGIC_FILTER; }
bool conv_ok(cudnnConvolutionDescriptor_t d) { return d && d->magic == MAGIC_CONV; }

/* the create and destroy calls of the legacy descriptors (and the handle) */
template <class T> cudnnStatus_t create_object(T **out, unsigned magic, const char *fn)
{
    if (!out) return fail(CUDNN_STATUS_BAD_PARAM, "%s: NULL", fn);
    T *d = new (std::nothrow) T();
    if (!d) return fail(CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED, "%s: out of memory", fn);
    d->magic = magic;
    *out = d;
    return CUDNN_STATUS_SUCCESS;
}
/* NULL is fine (as in cuDNN); anything but a live object of its kind is not */
template <class T> cudnnStatus_t destroy_object(T *d, unsigned magic, const char *fn)
{
    if (!d) return CUDNN_STATUS_SUCCESS;
    if (d->magic != magic) return fail(CUDNN_STATUS_BAD_PARAM, "%s: bad descriptor", fn);
    d->magic = MAGIC_DEAD;
    delete d;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t check_4d(const char *fn, cudnnTensorFormat_t format, cudnnDataType_t type, int a, int b, int c, int d)
{
    if (a <= 0 || b <= 0 || c <= 0 || d <= 0)
        return fail(CUDNN_STATUS_BAD_PARAM, "%s: dimensions %d %d %d %d must be positive", fn, a, b, c, d);
    if (format != CUDNN_TENSOR_NCHW && format != CUDNN_TENSOR_NHWC)
        return fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: format %d (the emulation has NCHW and NHWC)", fn, (int)format);
    if (!data_type_ok(type))
        return fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: data type %d (the emulation has FLOAT and BFLOAT16)", fn, (int)type);
    if ((int64_t)a * b * c * d > INT32_MAX)
        return fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: %d x %d x %d x %d is over 2^31 elements", fn, a, b, c, d);
    return CUDNN_STATUS_SUCCESS;
}

/* The geometry of a legacy call from its descriptors (x, w, y in the roles
 * of the forward convolution) and the arithmetic their types and math ask for. */
cudnnStatus_t legacy_geom(const char *fn, cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
                          cudnnConvolutionDescriptor_t cv, cudnnTensorDescriptor_t y, Geom *g, int *arith)
{
    if (!tensor_ok(x) || !tensor_ok(y) || !filter_ok(w) || !conv_ok(cv))
        return fail(CUDNN_STATUS_BAD_PARAM, "%s: a descriptor is NULL or not a descriptor of its kind", fn);
    if (!x->set || !y->set || !w->set || !cv->set)
        return fail(CUDNN_STATUS_BAD_PARAM, "%s: a descriptor was created but never set", fn);
    if (x->type != w->type || x->type != y->type)
        return fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: data types x %d, w %d, y %d differ", fn, (int)x->type,
                    (int)w->type, (int)y->type);
    if (cv->compute != CUDNN_DATA_FLOAT)
        return fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: compute type %d (float only)", fn, (int)cv->compute);
    if (cv->mode != CUDNN_CROSS_CORRELATION)
        return fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: CUDNN_CONVOLUTION (flipped kernels) is not emulated", fn);
    if (w->c != x->c)
        return fail(CUDNN_STATUS_BAD_PARAM, "%s: x has %d channels, the filter %d", fn, x->c, w->c);
    g->N = x->n; g->C = x->c; g->H = x->h; g->W = x->w;
    g->K = w->k; g->R = w->h; g->S = w->w;
    g->pad_h = cv->pad_h; g->pad_w = cv->pad_w; g->stride_h = cv->stride_h; g->stride_w = cv->stride_w;
    if (g->H + 2 * g->pad_h < g->R || g->W + 2 * g->pad_w < g->S)
        return fail(CUDNN_STATUS_BAD_PARAM, "%s: the %lldx%lld filter is larger than the padded %lldx%lld input", fn,
                    (long long)g->R, (long long)g->S, (long long)g->H, (long long)g->W);
    g->P = (g->H + 2 * g->pad_h - g->R) / g->stride_h + 1;
    g->Q = (g->W + 2 * g->pad_w - g->S) / g->stride_w + 1;
    if (y->n != g->N || y->c != g->K || y->h != g->P || y->w != g->Q)
        return fail(CUDNN_STATUS_BAD_PARAM, "%s: y is %dx%dx%dx%d, the convolution gives %lldx%lldx%lldx%lld", fn, y->n,
                    y->c, y->h, y->w, (long long)g->N, (long long)g->K, (long long)g->P, (long long)g->Q);
    packed_strides(x->format, g->C, g->H, g->W, g->xs);
    packed_strides(w->format, g->C, g->R, g->S, g->ws);
    packed_strides(y->format, g->K, g->P, g->Q, g->ys);
    if (x->type == CUDNN_DATA_BFLOAT16) *arith = ARITH_BF16;
    else if (cv->math == CUDNN_FMA_MATH) *arith = ARITH_FP32;
    else if (cv->math == CUDNN_DEFAULT_MATH || cv->math == CUDNN_TENSOR_OP_MATH) *arith = ARITH_TF32;
    else
        return fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: math type %d on float data (down-conversion to half) is not "
                    "emulated", fn, (int)cv->math);
    return CUDNN_STATUS_SUCCESS;
}

int64_t output_elements(int kind, const Geom &g)
{
    return kind == FWD ? g.N * g.K * g.P * g.Q : kind == BWD_DATA ? g.N * g.C * g.H * g.W : g.K * g.C * g.R * g.S;
}

/* workspace of legacy algorithm 1: 64 KiB plus 2 bytes per output element,
 * a multiple of 256, at most 3 MiB */
size_t algo1_workspace(int kind, const Geom &g)
{
    int64_t b = 65536 + 2 * output_elements(kind, g);
    b = (b + 255) / 256 * 256;
    return (size_t)(b < ((int64_t)3 << 20) ? b : ((int64_t)3 << 20));
}

/* the workspace of a legacy algorithm (1, 0; anything else is not emulated) */
cudnnStatus_t algo_workspace(const char *fn, int kind, int algo, const Geom &g, size_t *bytes)
{
    if (algo == 1) *bytes = algo1_workspace(kind, g);
    else if (algo == 0) *bytes = 0;
    else return fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: %s algorithm %d is not emulated (0 and 1 are)", fn, kind_name(kind), algo);
    return CUDNN_STATUS_SUCCESS;
}

/* SG_EMU_CUDNN_LEGACY_NONDET_ONLY: 1 if it names kind (for g's input
 * channels), 0 if not, -1 (with the failure) if it is malformed. */
int legacy_nondet_only(const char *fn, int kind, const Geom &g)
{
    const char *s = getenv("SG_EMU_CUDNN_LEGACY_NONDET_ONLY");
    if (!s || !*s) return 0;
    int hit = 0;
    for (const char *p = s; *p;) {
        size_t len = strcspn(p, ",:");
        int k = len == 13 && !strncmp(p, "backward-data", len) ? BWD_DATA
              : len == 15 && !strncmp(p, "backward-filter", len) ? BWD_FILTER : -1;
        long channels = -1;
        p += len;
        if (*p == ':') {
            char *end;
            channels = strtol(p + 1, &end, 10);
            if (end == p + 1 || channels <= 0) k = -1;
            p = end;
        }
        if (k < 0 || (*p && *p != ',')) {
            fail(CUDNN_STATUS_BAD_PARAM, "%s: SG_EMU_CUDNN_LEGACY_NONDET_ONLY=\"%s\" is not kind[:C],... (kind "
                 "backward-data or backward-filter)", fn, s);
            return -1;
        }
        if (k == kind && (channels < 0 || channels == g.C)) hit = 1;
        if (*p == ',') p++;
    }
    return hit;
}

/* The perf list of _v7 and Find: algorithm 1, 0, then FFT as unsupported. */
template <typename Perf, typename Algo>
cudnnStatus_t perf_list(const char *fn, cudnnHandle_t h, int kind, const Geom &g, cudnnMathType_t math,
                        int requested, int *returned, Perf *perf, bool timed)
{
    if (!returned || !perf) return fail(CUDNN_STATUS_BAD_PARAM, "%s: returnedAlgoCount or perfResults is NULL", fn);
    if (requested <= 0) return fail(CUDNN_STATUS_BAD_PARAM, "%s: requestedAlgoCount %d", fn, requested);
    int nondet_only = legacy_nondet_only(fn, kind, g);
    if (nondet_only < 0) return CUDNN_STATUS_BAD_PARAM;
    double macs = (double)output_elements(FWD, g) * (double)(g.C * g.R * g.S);
    struct { int algo; cudnnStatus_t st; size_t ws; float ms; cudnnDeterminism_t det; } e[3] = {
        { 1, CUDNN_STATUS_SUCCESS, algo1_workspace(kind, g), (float)(0.01 + macs * 2e-9), CUDNN_DETERMINISTIC },
        /* backward ALGO_0 uses atomics in real cuDNN: reported as such */
        { 0, CUDNN_STATUS_SUCCESS, 0, (float)(0.015 + macs * 3e-9),
          kind == FWD ? CUDNN_DETERMINISTIC : CUDNN_NON_DETERMINISTIC },
        { kind == FWD ? (int)CUDNN_CONVOLUTION_FWD_ALGO_FFT : 2 /* BWD_*_ALGO_FFT */, CUDNN_STATUS_NOT_SUPPORTED, 0,
          -1.f, CUDNN_DETERMINISTIC },
    };
    if (nondet_only) e[0].st = CUDNN_STATUS_NOT_SUPPORTED;
    int n = requested < 3 ? requested : 3;
    for (int i = 0; i < n; i++) {
        memset(&perf[i], 0, sizeof perf[i]);
        perf[i].algo = (Algo)e[i].algo;
        perf[i].status = e[i].st;
        perf[i].time = timed ? e[i].ms : -1.f;
        perf[i].memory = e[i].ws;
        perf[i].determinism = e[i].det;
        perf[i].mathType = math;
    }
    *returned = n;
    return CUDNN_STATUS_SUCCESS;
}

static_assert(CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT == 2 && CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT == 2, "header");

/* Find runs the algorithms on the handle's stream (synchronising it): never
 * legal while that stream is captured into a graph. */
cudnnStatus_t find_allowed(const char *fn, cudnnHandle_t h)
{
    if (!handle_ok(h)) return fail(CUDNN_STATUS_BAD_PARAM, "%s: bad handle", fn);
    if (sg_emu_capturing(h->stream))
        return fail(CUDNN_STATUS_EXECUTION_FAILED_CUDART, "%s: the handle's stream is being captured into a graph "
                    "(cudnnFind synchronises and allocates)", fn);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t legacy_conv(const char *fn, int kind, cudnnHandle_t h, const void *alpha, const void *beta,
                          cudnnTensorDescriptor_t xd, void *x, cudnnFilterDescriptor_t wd, void *w,
                          cudnnConvolutionDescriptor_t cv, cudnnTensorDescriptor_t yd, void *y, int algo, void *ws,
                          size_t ws_size)
{
    if (!handle_ok(h)) return fail(CUDNN_STATUS_BAD_PARAM, "%s: bad handle", fn);
    if (!alpha || !beta) return fail(CUDNN_STATUS_BAD_PARAM, "%s: alpha or beta is NULL", fn);
    Job j;
    memset(&j, 0, sizeof j);
    cudnnStatus_t st = legacy_geom(fn, xd, wd, cv, yd, &j.g, &j.arith);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    size_t need = 0;
    if ((st = algo_workspace(fn, kind, algo, j.g, &need)) != CUDNN_STATUS_SUCCESS) return st;
    if (ws_size < need)
        return fail(CUDNN_STATUS_BAD_PARAM, "%s: workSpaceSizeInBytes %zu, algorithm %d needs %zu", fn, ws_size, algo,
                    need);
    j.kind = kind;
    j.alpha = *(const float *)alpha;      /* float scaling factors for float and bf16 data */
    j.beta = *(const float *)beta;
    j.x = x; j.w = w; j.y = y;
    j.ws = ws;
    j.ws_bytes = need;
    return submit(fn, h->stream, j);
}

/* ---- the backend API ------------------------------------------------------------- */

struct BDesc;
typedef std::shared_ptr<const BDesc> Snap;

/* one attribute as set: its type and elements (descriptors as snapshots) */
struct Attr {
    cudnnBackendAttributeType_t type;
    int64_t count;
    std::vector<unsigned char> bytes;
    std::vector<Snap> descs;
};

struct TensorInfo {
    cudnnDataType_t type;
    int nd;
    int64_t dims[8], strides[8];
    int64_t uid, align;
};

struct ConvInfo {
    int64_t pre[2], post[2], stride[2];
};

struct OpInfo {
    int kind;
    float alpha, beta;
    ConvInfo conv;
    TensorInfo x, w, y;       /* in the roles of the forward convolution */
};

enum { ENGINES = 5, FALLBACK_ENGINE = 4 };

/* A backend descriptor. Descriptors set as attributes are copied (a
 * finalized descriptor is immutable), so what refers to them does not depend
 * on their lifetime. */
struct BDesc {
    uint32_t magic;
    cudnnBackendDescriptorType_t type;
    bool finalized;
    std::map<int, Attr> attrs;
    /* what finalizing derived, per type */
    TensorInfo tensor;                /* TENSOR */
    ConvInfo conv;                    /* CONVOLUTION */
    OpInfo op;                        /* operations, graph, engine, config, plan */
    cudnnHandle_t handle;             /* graph, engine, config, plan */
    int64_t engine;                   /* engine, config, plan */
    int64_t knob;                     /* config, plan, KNOB_CHOICE: the TILE_SIZE value, -1 no knob */
    int64_t workspace;                /* config, plan */
    std::vector<int64_t> results;     /* ENGINEHEUR: engine indices */
    std::vector<int64_t> result_knobs;  /* ENGINEHEUR: each result's knob value, -1 none */
    std::vector<int64_t> uids;        /* VARIANT_PACK */
    std::vector<void *> ptrs;
    void *ws_ptr;
};

bool backend_available()
{
    const char *e = getenv("SG_EMU_CUDNN_BACKEND");
    return !(e && !strcmp(e, "0"));
}

BDesc *bdesc(cudnnBackendDescriptor_t d)
{
    BDesc *b = (BDesc *)d;
    return b && b->magic == MAGIC_BACKEND ? b : nullptr;
}

const char *type_name(int t)
{
    switch (t) {
    case CUDNN_BACKEND_TENSOR_DESCRIPTOR: return "TENSOR";
    case CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR: return "CONVOLUTION";
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR: return "OPERATION_CONVOLUTION_FORWARD";
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR: return "OPERATION_CONVOLUTION_BACKWARD_DATA";
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR: return "OPERATION_CONVOLUTION_BACKWARD_FILTER";
    case CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR: return "OPERATIONGRAPH";
    case CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR: return "ENGINEHEUR";
    case CUDNN_BACKEND_ENGINECFG_DESCRIPTOR: return "ENGINECFG";
    case CUDNN_BACKEND_ENGINE_DESCRIPTOR: return "ENGINE";
    case CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR: return "EXECUTION_PLAN";
    case CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR: return "VARIANT_PACK";
    case CUDNN_BACKEND_KNOB_CHOICE_DESCRIPTOR: return "KNOB_CHOICE";
    default: return "(not emulated)";
    }
}

bool is_conv_op(int t)
{
    return t == CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR ||
           t == CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR ||
           t == CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR;
}

int op_kind(int t)
{
    return t == CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR ? FWD
         : t == CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR ? BWD_DATA : BWD_FILTER;
}

size_t element_size(cudnnBackendAttributeType_t t)
{
    switch (t) {
    case CUDNN_TYPE_HANDLE: return sizeof(cudnnHandle_t);
    case CUDNN_TYPE_DATA_TYPE: return sizeof(cudnnDataType_t);
    case CUDNN_TYPE_BOOLEAN: return sizeof(bool);
    case CUDNN_TYPE_INT64: return sizeof(int64_t);
    case CUDNN_TYPE_FLOAT: return sizeof(float);
    case CUDNN_TYPE_DOUBLE: return sizeof(double);
    case CUDNN_TYPE_VOID_PTR: return sizeof(void *);
    case CUDNN_TYPE_CONVOLUTION_MODE: return sizeof(cudnnConvolutionMode_t);
    case CUDNN_TYPE_HEUR_MODE: return sizeof(cudnnBackendHeurMode_t);
    case CUDNN_TYPE_NUMERICAL_NOTE: return sizeof(cudnnBackendNumericalNote_t);
    case CUDNN_TYPE_BEHAVIOR_NOTE: return sizeof(cudnnBackendBehaviorNote_t);
    case CUDNN_TYPE_TENSOR_REORDERING_MODE: return sizeof(cudnnBackendTensorReordering_t);
    case CUDNN_TYPE_INT32: return sizeof(int32_t);
    case CUDNN_TYPE_BACKEND_DESCRIPTOR: return sizeof(cudnnBackendDescriptor_t);
    default: return 0;
    }
}

/* What may be set on each descriptor type: the attribute's CUDNN_TYPE_*
 * (alt: a second accepted type), element counts, and for descriptor
 * elements the descriptor type they must have (-1: a convolution operation). */
struct Spec {
    int desc;
    int name;
    cudnnBackendAttributeType_t type, alt;
    int64_t min, max;
    int elem_desc;
};

#define T(x) CUDNN_TYPE_##x
const Spec specs[] = {
    { CUDNN_BACKEND_TENSOR_DESCRIPTOR, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, T(INT64), T(INT64), 1, 1, 0 },
    { CUDNN_BACKEND_TENSOR_DESCRIPTOR, CUDNN_ATTR_TENSOR_DATA_TYPE, T(DATA_TYPE), T(DATA_TYPE), 1, 1, 0 },
    { CUDNN_BACKEND_TENSOR_DESCRIPTOR, CUDNN_ATTR_TENSOR_DIMENSIONS, T(INT64), T(INT64), 1, CUDNN_DIM_MAX, 0 },
    { CUDNN_BACKEND_TENSOR_DESCRIPTOR, CUDNN_ATTR_TENSOR_STRIDES, T(INT64), T(INT64), 1, CUDNN_DIM_MAX, 0 },
    { CUDNN_BACKEND_TENSOR_DESCRIPTOR, CUDNN_ATTR_TENSOR_VECTOR_COUNT, T(INT64), T(INT64), 1, 1, 0 },
    { CUDNN_BACKEND_TENSOR_DESCRIPTOR, CUDNN_ATTR_TENSOR_VECTORIZED_DIMENSION, T(INT64), T(INT64), 1, 1, 0 },
    { CUDNN_BACKEND_TENSOR_DESCRIPTOR, CUDNN_ATTR_TENSOR_UNIQUE_ID, T(INT64), T(INT64), 1, 1, 0 },
    { CUDNN_BACKEND_TENSOR_DESCRIPTOR, CUDNN_ATTR_TENSOR_IS_VIRTUAL, T(BOOLEAN), T(BOOLEAN), 1, 1, 0 },
    { CUDNN_BACKEND_TENSOR_DESCRIPTOR, CUDNN_ATTR_TENSOR_IS_BY_VALUE, T(BOOLEAN), T(BOOLEAN), 1, 1, 0 },
    { CUDNN_BACKEND_TENSOR_DESCRIPTOR, CUDNN_ATTR_TENSOR_REORDERING_MODE, T(TENSOR_REORDERING_MODE),
      T(TENSOR_REORDERING_MODE), 1, 1, 0 },

    { CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, T(DATA_TYPE), T(DATA_TYPE), 1, 1, 0 },
    { CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, CUDNN_ATTR_CONVOLUTION_CONV_MODE, T(CONVOLUTION_MODE),
      T(CONVOLUTION_MODE), 1, 1, 0 },
    { CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, CUDNN_ATTR_CONVOLUTION_DILATIONS, T(INT64), T(INT64), 1, CUDNN_DIM_MAX - 2, 0 },
    { CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, T(INT64), T(INT64), 1,
      CUDNN_DIM_MAX - 2, 0 },
    { CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, T(INT64), T(INT64), 1,
      CUDNN_DIM_MAX - 2, 0 },
    { CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, T(INT64), T(INT64), 1,
      CUDNN_DIM_MAX - 2, 0 },
    { CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, T(INT64), T(INT64), 1, 1, 0 },

#define CONV_OP(D, P, A, B, C, X, W, Y)                                                                            \
    { D, CUDNN_ATTR_OPERATION_CONVOLUTION_##P##_##A, T(FLOAT), T(DOUBLE), 1, 1, 0 },                                \
    { D, CUDNN_ATTR_OPERATION_CONVOLUTION_##P##_##B, T(FLOAT), T(DOUBLE), 1, 1, 0 },                                \
    { D, CUDNN_ATTR_OPERATION_CONVOLUTION_##P##_##C, T(BACKEND_DESCRIPTOR), T(BACKEND_DESCRIPTOR), 1, 1,            \
      CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR },                                                                       \
    { D, CUDNN_ATTR_OPERATION_CONVOLUTION_##P##_##X, T(BACKEND_DESCRIPTOR), T(BACKEND_DESCRIPTOR), 1, 1,            \
      CUDNN_BACKEND_TENSOR_DESCRIPTOR },                                                                            \
    { D, CUDNN_ATTR_OPERATION_CONVOLUTION_##P##_##W, T(BACKEND_DESCRIPTOR), T(BACKEND_DESCRIPTOR), 1, 1,            \
      CUDNN_BACKEND_TENSOR_DESCRIPTOR },                                                                            \
    { D, CUDNN_ATTR_OPERATION_CONVOLUTION_##P##_##Y, T(BACKEND_DESCRIPTOR), T(BACKEND_DESCRIPTOR), 1, 1,            \
      CUDNN_BACKEND_TENSOR_DESCRIPTOR },
    CONV_OP(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, FORWARD, ALPHA, BETA, CONV_DESC, X, W, Y)
    CONV_OP(CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR, BWD_DATA, ALPHA, BETA, CONV_DESC, DX, W, DY)
    CONV_OP(CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR, BWD_FILTER, ALPHA, BETA, CONV_DESC, X, DW,
            DY)
#undef CONV_OP

    { CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, CUDNN_ATTR_OPERATIONGRAPH_OPS, T(BACKEND_DESCRIPTOR),
      T(BACKEND_DESCRIPTOR), 1, 64, -1 },
    { CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, T(HANDLE), T(HANDLE), 1, 1, 0 },
    { CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, CUDNN_ATTR_OPERATIONGRAPH_IS_DYNAMIC_SHAPE_ENABLED, T(BOOLEAN),
      T(BOOLEAN), 1, 1, 0 },

    { CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, CUDNN_ATTR_ENGINEHEUR_MODE, T(HEUR_MODE), T(HEUR_MODE), 1, 1, 0 },
    { CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, T(BACKEND_DESCRIPTOR),
      T(BACKEND_DESCRIPTOR), 1, 1, CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR },
    { CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, CUDNN_ATTR_ENGINEHEUR_SM_COUNT_TARGET, T(INT32), T(INT32), 1, 1, 0 },

    { CUDNN_BACKEND_ENGINE_DESCRIPTOR, CUDNN_ATTR_ENGINE_OPERATION_GRAPH, T(BACKEND_DESCRIPTOR),
      T(BACKEND_DESCRIPTOR), 1, 1, CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR },
    { CUDNN_BACKEND_ENGINE_DESCRIPTOR, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, T(INT64), T(INT64), 1, 1, 0 },
    { CUDNN_BACKEND_ENGINE_DESCRIPTOR, CUDNN_ATTR_ENGINE_SM_COUNT_TARGET, T(INT32), T(INT32), 1, 1, 0 },

    { CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, CUDNN_ATTR_ENGINECFG_ENGINE, T(BACKEND_DESCRIPTOR), T(BACKEND_DESCRIPTOR),
      1, 1, CUDNN_BACKEND_ENGINE_DESCRIPTOR },

    { CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, T(HANDLE), T(HANDLE), 1, 1, 0 },
    { CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, T(BACKEND_DESCRIPTOR),
      T(BACKEND_DESCRIPTOR), 1, 1, CUDNN_BACKEND_ENGINECFG_DESCRIPTOR },

    { CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, T(INT64), T(INT64), 0, 1024, 0 },
    { CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, T(VOID_PTR), T(VOID_PTR), 0, 1024, 0 },
    { CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, T(VOID_PTR), T(VOID_PTR), 1, 1, 0 },
};
#undef T

const Spec *find_spec(int desc, int name)
{
    for (const Spec &s : specs)
        if (s.desc == desc && s.name == name) return &s;
    return nullptr;
}

const Attr *attr(const BDesc *d, int name)
{
    auto it = d->attrs.find(name);
    return it == d->attrs.end() ? nullptr : &it->second;
}

template <typename V> V scalar(const Attr *a, int i = 0)
{
    V v;
    memcpy(&v, a->bytes.data() + (size_t)i * sizeof(V), sizeof(V));
    return v;
}

/* the element i of an INT64 attribute */
int64_t i64(const Attr *a, int i = 0) { return scalar<int64_t>(a, i); }

/* a FLOAT or DOUBLE scaling attribute as float */
float scale(const Attr *a)
{
    return a->type == CUDNN_TYPE_DOUBLE ? (float)scalar<double>(a) : scalar<float>(a);
}

/* ---- engines ---- */

/* numerical/behavior notes and workspace of emulated engine e */
void engine_notes(int64_t e, std::vector<cudnnBackendNumericalNote_t> *num, std::vector<cudnnBackendBehaviorNote_t> *beh)
{
    num->clear();
    beh->clear();
    if (e == 0) num->push_back(CUDNN_NUMERICAL_NOTE_TENSOR_CORE);
    if (e == 1) num->push_back(CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC);
    if (e == 3) beh->push_back(CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION);
}

int64_t engine_workspace(int64_t e) { return e == 2 ? 32768 : 0; }

/* the knob of SG_EMU_CUDNN_KNOBS's configurations */
const cudnnBackendKnobType_t EMU_KNOB_TYPE = CUDNN_KNOB_TYPE_TILE_SIZE;
enum { EMU_KNOB_MAX = 64 };

/* SG_EMU_CUDNN_KNOBS=e:v1,v2,...: *engine = e, *values = v1, v2, ...
 * (engine -1 when unset); false when it is malformed. */
bool emu_knobs(int64_t *engine, std::vector<int64_t> *values)
{
    *engine = -1;
    values->clear();
    const char *s = getenv("SG_EMU_CUDNN_KNOBS");
    if (!s || !*s) return true;
    char *end;
    long e = strtol(s, &end, 10);
    if (end == s || *end != ':' || e < 0 || e >= ENGINES) return false;
    do {
        s = end + 1;
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || v > EMU_KNOB_MAX || (*end && *end != ',')) return false;
        values->push_back(v);
    } while (*end);
    *engine = e;
    return true;
}

/* ---- finalize, per descriptor type ---- */

cudnnStatus_t need(const BDesc *d, int name, const char *what)
{
    if (!attr(d, name))
        return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendFinalize: %s descriptor: %s is not set", type_name(d->type),
                    what);
    return CUDNN_STATUS_SUCCESS;
}

#define NEED(d, name)                                                                                              \
    do {                                                                                                           \
        cudnnStatus_t st_ = need(d, name, #name);                                                                  \
        if (st_ != CUDNN_STATUS_SUCCESS) return st_;                                                               \
    } while (0)

cudnnStatus_t finalize_tensor(BDesc *d)
{
    NEED(d, CUDNN_ATTR_TENSOR_DATA_TYPE);
    NEED(d, CUDNN_ATTR_TENSOR_DIMENSIONS);
    NEED(d, CUDNN_ATTR_TENSOR_STRIDES);
    NEED(d, CUDNN_ATTR_TENSOR_UNIQUE_ID);
    NEED(d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT);
    TensorInfo &t = d->tensor;
    memset(&t, 0, sizeof t);
    t.type = scalar<cudnnDataType_t>(attr(d, CUDNN_ATTR_TENSOR_DATA_TYPE));
    const Attr *dims = attr(d, CUDNN_ATTR_TENSOR_DIMENSIONS), *strides = attr(d, CUDNN_ATTR_TENSOR_STRIDES);
    if (dims->count != strides->count)
        return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendFinalize: tensor has %lld dimensions and %lld strides",
                    (long long)dims->count, (long long)strides->count);
    t.nd = (int)dims->count;
    for (int i = 0; i < t.nd; i++) {
        t.dims[i] = i64(dims, i);
        t.strides[i] = i64(strides, i);
        if (t.dims[i] <= 0 || t.strides[i] <= 0)
            return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendFinalize: tensor dimension %d is %lld with stride %lld", i,
                        (long long)t.dims[i], (long long)t.strides[i]);
    }
    t.uid = i64(attr(d, CUDNN_ATTR_TENSOR_UNIQUE_ID));
    t.align = i64(attr(d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT));
    if (!data_type_ok(t.type))
        return fail(CUDNN_STATUS_NOT_SUPPORTED, "cudnnBackendFinalize: tensor data type %d (the emulation has FLOAT and "
                    "BFLOAT16)", (int)t.type);
    size_t esize = t.type == CUDNN_DATA_BFLOAT16 ? 2 : 4;
    if (t.align <= 0 || (t.align & (t.align - 1)) || (size_t)t.align < esize)
        return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendFinalize: byte alignment %lld is not a power of two of at least "
                    "the element size", (long long)t.align);
    const Attr *a;
    if ((a = attr(d, CUDNN_ATTR_TENSOR_VECTOR_COUNT)) && i64(a) != 1)
        return fail(CUDNN_STATUS_NOT_SUPPORTED, "cudnnBackendFinalize: vectorized tensors are not emulated");
    if ((a = attr(d, CUDNN_ATTR_TENSOR_IS_VIRTUAL)) && scalar<bool>(a))
        return fail(CUDNN_STATUS_NOT_SUPPORTED, "cudnnBackendFinalize: virtual tensors are not emulated");
    if ((a = attr(d, CUDNN_ATTR_TENSOR_IS_BY_VALUE)) && scalar<bool>(a))
        return fail(CUDNN_STATUS_NOT_SUPPORTED, "cudnnBackendFinalize: by-value tensors are not emulated");
    if ((a = attr(d, CUDNN_ATTR_TENSOR_REORDERING_MODE)) &&
        scalar<cudnnBackendTensorReordering_t>(a) != CUDNN_TENSOR_REORDERING_NONE)
        return fail(CUDNN_STATUS_NOT_SUPPORTED, "cudnnBackendFinalize: tensor reordering is not emulated");
    /* no two elements at one address: by increasing stride, each stride
     * covers everything the smaller ones span */
    int order[8];
    for (int i = 0; i < t.nd; i++) order[i] = i;
    for (int i = 1; i < t.nd; i++)
        for (int k = i; k > 0 && t.strides[order[k]] < t.strides[order[k - 1]]; k--) {
            int tmp = order[k]; order[k] = order[k - 1]; order[k - 1] = tmp;
        }
    int64_t span = 1;
    for (int i = 0; i < t.nd; i++) {
        int k = order[i];
        if (t.dims[k] == 1) continue;
        if (t.strides[k] < span)
            return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendFinalize: tensor strides make elements overlap (dimension %d, "
                        "stride %lld)", k, (long long)t.strides[k]);
        span = t.strides[k] * t.dims[k];
    }
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t finalize_conv(BDesc *d)
{
    NEED(d, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS);
    NEED(d, CUDNN_ATTR_CONVOLUTION_COMP_TYPE);
    NEED(d, CUDNN_ATTR_CONVOLUTION_CONV_MODE);
    NEED(d, CUDNN_ATTR_CONVOLUTION_DILATIONS);
    NEED(d, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES);
    NEED(d, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS);
    NEED(d, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS);
    int64_t nsp = i64(attr(d, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS));
    if (nsp < 1 || nsp > CUDNN_DIM_MAX - 2)
        return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendFinalize: %lld spatial dimensions", (long long)nsp);
    const int arrays[4] = { CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES,
                            CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS };
    static const char *names[4] = { "dilations", "filter strides", "pre-paddings", "post-paddings" };
    for (int i = 0; i < 4; i++)
        if (attr(d, arrays[i])->count != nsp)
            return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendFinalize: %lld %s for %lld spatial dimensions",
                        (long long)attr(d, arrays[i])->count, names[i], (long long)nsp);
    for (int i = 0; i < nsp; i++) {
        if (i64(attr(d, arrays[0]), i) < 1 || i64(attr(d, arrays[1]), i) < 1)
            return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendFinalize: dilations and strides must be at least 1");
        if (i64(attr(d, arrays[2]), i) < 0 || i64(attr(d, arrays[3]), i) < 0)
            return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendFinalize: negative padding");
    }
    if (nsp != 2)
        return fail(CUDNN_STATUS_NOT_SUPPORTED, "cudnnBackendFinalize: %lld spatial dimensions (the emulation has 2)",
                    (long long)nsp);
    cudnnDataType_t comp = scalar<cudnnDataType_t>(attr(d, CUDNN_ATTR_CONVOLUTION_COMP_TYPE));
    if (comp != CUDNN_DATA_FLOAT)
        return fail(CUDNN_STATUS_NOT_SUPPORTED, "cudnnBackendFinalize: compute type %d (float only)", (int)comp);
    cudnnConvolutionMode_t mode = scalar<cudnnConvolutionMode_t>(attr(d, CUDNN_ATTR_CONVOLUTION_CONV_MODE));
    if (mode != CUDNN_CROSS_CORRELATION && mode != CUDNN_CONVOLUTION)
        return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendFinalize: convolution mode %d", (int)mode);
    if (mode != CUDNN_CROSS_CORRELATION)
        return fail(CUDNN_STATUS_NOT_SUPPORTED, "cudnnBackendFinalize: CUDNN_CONVOLUTION (flipped kernels) is not emulated");
    for (int i = 0; i < 2; i++) {
        if (i64(attr(d, arrays[0]), i) != 1)
            return fail(CUDNN_STATUS_NOT_SUPPORTED, "cudnnBackendFinalize: dilation %lld (the emulation has 1)",
                        (long long)i64(attr(d, arrays[0]), i));
        d->conv.stride[i] = i64(attr(d, arrays[1]), i);
        d->conv.pre[i] = i64(attr(d, arrays[2]), i);
        d->conv.post[i] = i64(attr(d, arrays[3]), i);
    }
    return CUDNN_STATUS_SUCCESS;
}

const BDesc *snap_of(const BDesc *d, int name) { return attr(d, name)->descs[0].get(); }

cudnnStatus_t finalize_op(BDesc *d)
{
    int kind = op_kind(d->type);
    static const int names[3][6] = {
        { CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA,
          CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X,
          CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y },
        { CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY },
        { CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY },
    };
    static const char *what[3][6] = {
        { "FORWARD_ALPHA", "FORWARD_BETA", "FORWARD_CONV_DESC", "FORWARD_X", "FORWARD_W", "FORWARD_Y" },
        { "BWD_DATA_ALPHA", "BWD_DATA_BETA", "BWD_DATA_CONV_DESC", "BWD_DATA_DX", "BWD_DATA_W", "BWD_DATA_DY" },
        { "BWD_FILTER_ALPHA", "BWD_FILTER_BETA", "BWD_FILTER_CONV_DESC", "BWD_FILTER_X", "BWD_FILTER_DW",
          "BWD_FILTER_DY" },
    };
    for (int i = 0; i < 6; i++) {
        cudnnStatus_t st = need(d, names[kind][i], what[kind][i]);
        if (st != CUDNN_STATUS_SUCCESS) return st;
    }
    OpInfo &op = d->op;
    memset(&op, 0, sizeof op);
    op.kind = kind;
    op.alpha = scale(attr(d, names[kind][0]));
    op.beta = scale(attr(d, names[kind][1]));
    op.conv = snap_of(d, names[kind][2])->conv;
    op.x = snap_of(d, names[kind][3])->tensor;
    op.w = snap_of(d, names[kind][4])->tensor;
    op.y = snap_of(d, names[kind][5])->tensor;
    const char *fn = "cudnnBackendFinalize";
    if (op.x.nd != 4 || op.w.nd != 4 || op.y.nd != 4)
        return fail(CUDNN_STATUS_BAD_PARAM, "%s: %s: x, w, y have %d, %d, %d dimensions, a 2-d convolution wants 4", fn,
                    type_name(d->type), op.x.nd, op.w.nd, op.y.nd);
    if (op.x.type != op.w.type || op.x.type != op.y.type)
        return fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: data types x %d, w %d, y %d differ", fn, (int)op.x.type,
                    (int)op.w.type, (int)op.y.type);
    if (op.x.uid == op.w.uid || op.x.uid == op.y.uid || op.w.uid == op.y.uid)
        return fail(CUDNN_STATUS_BAD_PARAM, "%s: x, w, y unique ids %lld, %lld, %lld are not distinct", fn,
                    (long long)op.x.uid, (long long)op.w.uid, (long long)op.y.uid);
    if (op.w.dims[1] != op.x.dims[1] || op.y.dims[0] != op.x.dims[0] || op.y.dims[1] != op.w.dims[0])
        return fail(CUDNN_STATUS_BAD_PARAM, "%s: x (%lld,%lld,..), w (%lld,%lld,..), y (%lld,%lld,..) do not match", fn,
                    (long long)op.x.dims[0], (long long)op.x.dims[1], (long long)op.w.dims[0], (long long)op.w.dims[1],
                    (long long)op.y.dims[0], (long long)op.y.dims[1]);
    for (int i = 0; i < 2; i++) {
        int64_t in = op.x.dims[2 + i] + op.conv.pre[i] + op.conv.post[i] - op.w.dims[2 + i];
        if (in < 0 || op.y.dims[2 + i] != in / op.conv.stride[i] + 1)
            return fail(CUDNN_STATUS_BAD_PARAM, "%s: spatial dimension %d: x %lld, filter %lld, paddings %lld+%lld, stride "
                        "%lld do not give y's %lld", fn, i, (long long)op.x.dims[2 + i], (long long)op.w.dims[2 + i],
                        (long long)op.conv.pre[i], (long long)op.conv.post[i], (long long)op.conv.stride[i],
                        (long long)op.y.dims[2 + i]);
    }
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t finalize_graph(BDesc *d)
{
    NEED(d, CUDNN_ATTR_OPERATIONGRAPH_OPS);
    NEED(d, CUDNN_ATTR_OPERATIONGRAPH_HANDLE);
    const Attr *ops = attr(d, CUDNN_ATTR_OPERATIONGRAPH_OPS);
    if (ops->count != 1)
        return fail(CUDNN_STATUS_NOT_SUPPORTED, "cudnnBackendFinalize: a graph of %lld operations (the emulation runs "
                    "single convolutions)", (long long)ops->count);
    d->op = ops->descs[0]->op;
    d->handle = scalar<cudnnHandle_t>(attr(d, CUDNN_ATTR_OPERATIONGRAPH_HANDLE));
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t finalize_heur(BDesc *d)
{
    NEED(d, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH);
    NEED(d, CUDNN_ATTR_ENGINEHEUR_MODE);
    const BDesc *g = snap_of(d, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH);
    d->op = g->op;
    d->handle = g->handle;
    cudnnBackendHeurMode_t mode = scalar<cudnnBackendHeurMode_t>(attr(d, CUDNN_ATTR_ENGINEHEUR_MODE));
    d->results.clear();
    d->result_knobs.clear();
    std::vector<int64_t> engines;
    /* the fallback list repeats mode A's first configuration, as cuDNN's
     * may: the search skips the repeat (kernels/conv_engines.cu) */
    if (mode == CUDNN_HEUR_MODE_FALLBACK) engines = { FALLBACK_ENGINE, 0 };
    else if (mode == CUDNN_HEUR_MODE_A || mode == CUDNN_HEUR_MODE_B || mode == CUDNN_HEUR_MODE_INSTANT)
        for (int64_t e = 0; e < FALLBACK_ENGINE; e++) engines.push_back(e);
    else return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendFinalize: heuristics mode %d", (int)mode);
    int64_t knob_engine;
    std::vector<int64_t> knob_values;
    if (!emu_knobs(&knob_engine, &knob_values))
        return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendFinalize: SG_EMU_CUDNN_KNOBS=\"%s\" is not e:v1,v2,... "
                    "(e 0..%d, each v 0..%d)", getenv("SG_EMU_CUDNN_KNOBS"), ENGINES - 1, (int)EMU_KNOB_MAX);
    for (int64_t e : engines) {
        if (e != knob_engine) {
            d->results.push_back(e);
            d->result_knobs.push_back(-1);
            continue;
        }
        for (int64_t v : knob_values) {
            d->results.push_back(e);
            d->result_knobs.push_back(v);
        }
    }
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t finalize_engine(BDesc *d)
{
    NEED(d, CUDNN_ATTR_ENGINE_OPERATION_GRAPH);
    NEED(d, CUDNN_ATTR_ENGINE_GLOBAL_INDEX);
    const BDesc *g = snap_of(d, CUDNN_ATTR_ENGINE_OPERATION_GRAPH);
    d->op = g->op;
    d->handle = g->handle;
    d->engine = i64(attr(d, CUDNN_ATTR_ENGINE_GLOBAL_INDEX));
    if (d->engine < 0 || d->engine >= ENGINES)
        return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendFinalize: engine global index %lld (the emulation has 0..%d)",
                    (long long)d->engine, ENGINES - 1);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t finalize_cfg(BDesc *d)
{
    NEED(d, CUDNN_ATTR_ENGINECFG_ENGINE);
    const BDesc *e = snap_of(d, CUDNN_ATTR_ENGINECFG_ENGINE);
    d->op = e->op;
    d->handle = e->handle;
    d->engine = e->engine;
    d->knob = -1;                     /* KNOB_CHOICES cannot be set here: no knob */
    d->workspace = engine_workspace(e->engine);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t finalize_plan(BDesc *d)
{
    NEED(d, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG);
    const BDesc *cfg = snap_of(d, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG);
    d->op = cfg->op;
    d->engine = cfg->engine;
    d->knob = cfg->knob;
    d->workspace = cfg->workspace;
    const Attr *h = attr(d, CUDNN_ATTR_EXECUTION_PLAN_HANDLE);
    d->handle = h ? scalar<cudnnHandle_t>(h) : cfg->handle;
    /* strict where cuDNN is not documented: one handle from graph to execution */
    if (h && cfg->handle && d->handle != cfg->handle)
        return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendFinalize: the execution plan's handle is not the one its "
                    "operation graph was made with");
    if (d->engine == FALLBACK_ENGINE && d->op.kind == BWD_FILTER && d->op.beta != 0.f)
        return fail(CUDNN_STATUS_NOT_SUPPORTED, "cudnnBackendFinalize: engine %d does not support beta %g for "
                    "backward-filter", FALLBACK_ENGINE, (double)d->op.beta);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t finalize_pack(BDesc *d)
{
    NEED(d, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS);
    NEED(d, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS);
    const Attr *u = attr(d, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS), *p = attr(d, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS);
    if (u->count != p->count)
        return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendFinalize: variant pack has %lld unique ids and %lld pointers",
                    (long long)u->count, (long long)p->count);
    d->uids.clear();
    d->ptrs.clear();
    for (int64_t i = 0; i < u->count; i++) {
        int64_t id = i64(u, (int)i);
        for (int64_t k : d->uids)
            if (k == id)
                return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendFinalize: variant pack repeats unique id %lld",
                            (long long)id);
        d->uids.push_back(id);
        d->ptrs.push_back(scalar<void *>(p, (int)i));
    }
    const Attr *w = attr(d, CUDNN_ATTR_VARIANT_PACK_WORKSPACE);
    d->ws_ptr = w ? scalar<void *>(w) : nullptr;
    return CUDNN_STATUS_SUCCESS;
}

/* fills target (a descriptor the caller created, of type `type`) with a copy of src */
cudnnStatus_t fill_target(const char *what, void *target, const BDesc &src)
{
    BDesc *t = bdesc(target);
    if (!t)
        return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendGetAttribute: %s: an element is not a backend descriptor", what);
    if (t->type != src.type)
        return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendGetAttribute: %s: an element is a %s descriptor, %s expected",
                    what, type_name(t->type), type_name(src.type));
    *t = src;
    return CUDNN_STATUS_SUCCESS;
}

/* an engine descriptor as the heuristics and configurations hand it out */
BDesc engine_desc(const BDesc &from, int64_t e)
{
    BDesc d = BDesc();
    d.magic = MAGIC_BACKEND;
    d.type = CUDNN_BACKEND_ENGINE_DESCRIPTOR;
    d.finalized = true;
    d.op = from.op;
    d.handle = from.handle;
    d.engine = e;
    d.knob = -1;
    d.workspace = engine_workspace(e);
    d.ws_ptr = nullptr;
    Attr a;
    a.type = CUDNN_TYPE_INT64;
    a.count = 1;
    a.bytes.resize(8);
    memcpy(a.bytes.data(), &e, 8);
    d.attrs[CUDNN_ATTR_ENGINE_GLOBAL_INDEX] = a;
    return d;
}

/* a knob choice as a configuration hands it out: EMU_KNOB_TYPE = value */
BDesc knob_choice_desc(int64_t value)
{
    BDesc d = BDesc();
    d.magic = MAGIC_BACKEND;
    d.type = CUDNN_BACKEND_KNOB_CHOICE_DESCRIPTOR;
    d.finalized = true;
    d.handle = nullptr;
    d.engine = -1;
    d.knob = value;
    d.ws_ptr = nullptr;
    return d;
}

/* a configuration of engine e with knob value `knob` (-1: no knob) */
BDesc cfg_desc(const BDesc &from, int64_t e, int64_t knob)
{
    BDesc d = engine_desc(from, e);
    d.knob = knob;
    d.type = CUDNN_BACKEND_ENGINECFG_DESCRIPTOR;
    d.attrs.clear();
    Attr a;
    a.type = CUDNN_TYPE_BACKEND_DESCRIPTOR;
    a.count = 1;
    a.descs.push_back(std::make_shared<const BDesc>(engine_desc(from, e)));
    d.attrs[CUDNN_ATTR_ENGINECFG_ENGINE] = a;
    return d;
}

/* copies min(n, have) elements of type `type` into out */
template <typename V> void put(void *out, int64_t requested, const std::vector<V> &v)
{
    int64_t n = requested < (int64_t)v.size() ? requested : (int64_t)v.size();
    if (n > 0) memcpy(out, v.data(), (size_t)n * sizeof(V));
}

} // namespace

/* ---- the API ---------------------------------------------------------------------- */

extern "C" {

size_t CUDNNWINAPI cudnnGetVersion(void) { return 91400; }

const char *CUDNNWINAPI cudnnGetErrorString(cudnnStatus_t status)
{
    switch ((int)status) {
#define S(x) case x: return #x;
    S(CUDNN_STATUS_SUCCESS)
    S(CUDNN_STATUS_NOT_INITIALIZED)
    S(CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH)
    S(CUDNN_STATUS_SERIALIZATION_VERSION_MISMATCH)
    S(CUDNN_STATUS_DEPRECATED)
    S(CUDNN_STATUS_LICENSE_ERROR)
    S(CUDNN_STATUS_RUNTIME_IN_PROGRESS)
    S(CUDNN_STATUS_RUNTIME_FP_OVERFLOW)
    S(CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED)
    S(CUDNN_STATUS_BAD_PARAM)
    S(CUDNN_STATUS_BAD_PARAM_NULL_POINTER)
    S(CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER)
    S(CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED)
    S(CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND)
    S(CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT)
    S(CUDNN_STATUS_BAD_PARAM_STREAM_MISMATCH)
    S(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH)
    S(CUDNN_STATUS_BAD_PARAM_DUPLICATED_ENTRIES)
    S(CUDNN_STATUS_BAD_PARAM_ATTRIBUTE_TYPE)
    S(CUDNN_STATUS_BAD_PARAM_CUDA_GRAPH_MISMATCH)
    S(CUDNN_STATUS_BAD_PARAM_DESCRIPTOR_TYPE)
    S(CUDNN_STATUS_NOT_SUPPORTED)
    S(CUDNN_STATUS_NOT_SUPPORTED_GRAPH_PATTERN)
    S(CUDNN_STATUS_NOT_SUPPORTED_SHAPE)
    S(CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE)
    S(CUDNN_STATUS_NOT_SUPPORTED_LAYOUT)
    S(CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDA_DRIVER)
    S(CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDART)
    S(CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH)
    S(CUDNN_STATUS_NOT_SUPPORTED_RUNTIME_PREREQUISITE_MISSING)
    S(CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE)
    S(CUDNN_STATUS_NOT_SUPPORTED_SHARED_MEMORY_INSUFFICIENT)
    S(CUDNN_STATUS_NOT_SUPPORTED_PADDING)
    S(CUDNN_STATUS_NOT_SUPPORTED_BAD_LAUNCH_PARAM)
    S(CUDNN_STATUS_NOT_SUPPORTED_CUDA_GRAPH_NATIVE_API)
    S(CUDNN_STATUS_NOT_SUPPORTED_INVALID_DYNAMIC_SHAPE)
    S(CUDNN_STATUS_INTERNAL_ERROR)
    S(CUDNN_STATUS_INTERNAL_ERROR_COMPILATION_FAILED)
    S(CUDNN_STATUS_INTERNAL_ERROR_UNEXPECTED_VALUE)
    S(CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED)
    S(CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED)
    S(CUDNN_STATUS_INTERNAL_ERROR_BAD_LAUNCH_PARAM)
    S(CUDNN_STATUS_INTERNAL_ERROR_TEXTURE_CREATION_FAILED)
    S(CUDNN_STATUS_EXECUTION_FAILED)
    S(CUDNN_STATUS_EXECUTION_FAILED_CUDA_DRIVER)
    S(CUDNN_STATUS_EXECUTION_FAILED_CUBLAS)
    S(CUDNN_STATUS_EXECUTION_FAILED_CUDART)
    S(CUDNN_STATUS_EXECUTION_FAILED_CURAND)
    case 2001: return "CUDNN_STATUS_INVALID_VALUE";
#undef S
    default: return "CUDNN_UNKNOWN_STATUS";
    }
}

void CUDNNWINAPI cudnnGetLastErrorString(char *message, size_t max_size)
{
    if (!message || !max_size) return;
    snprintf(message, max_size, "%s", last_error);
}

cudnnStatus_t CUDNNWINAPI cudnnCreate(cudnnHandle_t *handle)
{
    if (!handle) return fail(CUDNN_STATUS_BAD_PARAM, "cudnnCreate: handle is NULL");
    cudnnContext *h = new (std::nothrow) cudnnContext;
    if (!h) return fail(CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED, "cudnnCreate: out of memory");
    h->magic = MAGIC_HANDLE;
    h->stream = nullptr;
    *handle = h;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnDestroy(cudnnHandle_t handle)
{
    if (!handle_ok(handle)) return fail(CUDNN_STATUS_BAD_PARAM, "cudnnDestroy: bad handle");
    handle->magic = MAGIC_DEAD;
    delete handle;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnSetStream(cudnnHandle_t handle, cudaStream_t streamId)
{
    if (!handle_ok(handle)) return fail(CUDNN_STATUS_BAD_PARAM, "cudnnSetStream: bad handle");
    handle->stream = streamId;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *tensorDesc)
{
    return create_object(tensorDesc, MAGIC_TENSOR, "cudnnCreateTensorDescriptor");
}

cudnnStatus_t CUDNNWINAPI cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t tensorDesc, cudnnTensorFormat_t format,
                                                     cudnnDataType_t dataType, int n, int c, int h, int w)
{
    if (!tensor_ok(tensorDesc)) return fail(CUDNN_STATUS_BAD_PARAM, "cudnnSetTensor4dDescriptor: bad descriptor");
    cudnnStatus_t st = check_4d("cudnnSetTensor4dDescriptor", format, dataType, n, c, h, w);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    tensorDesc->format = format;
    tensorDesc->type = dataType;
    tensorDesc->n = n; tensorDesc->c = c; tensorDesc->h = h; tensorDesc->w = w;
    tensorDesc->set = true;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t tensorDesc)
{
    return destroy_object(tensorDesc, MAGIC_TENSOR, "cudnnDestroyTensorDescriptor");
}

cudnnStatus_t CUDNNWINAPI cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t *filterDesc)
{
    return create_object(filterDesc, MAGIC_FILTER, "cudnnCreateFilterDescriptor");
}

cudnnStatus_t CUDNNWINAPI cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t filterDesc, cudnnDataType_t dataType,
                                                     cudnnTensorFormat_t format, int k, int c, int h, int w)
{
    if (!filter_ok(filterDesc)) return fail(CUDNN_STATUS_BAD_PARAM, "cudnnSetFilter4dDescriptor: bad descriptor");
    cudnnStatus_t st = check_4d("cudnnSetFilter4dDescriptor", format, dataType, k, c, h, w);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    filterDesc->format = format;
    filterDesc->type = dataType;
    filterDesc->k = k; filterDesc->c = c; filterDesc->h = h; filterDesc->w = w;
    filterDesc->set = true;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t filterDesc)
{
    return destroy_object(filterDesc, MAGIC_FILTER, "cudnnDestroyFilterDescriptor");
}

cudnnStatus_t CUDNNWINAPI cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t *convDesc)
{
    cudnnStatus_t st = create_object(convDesc, MAGIC_CONV, "cudnnCreateConvolutionDescriptor");
    if (st == CUDNN_STATUS_SUCCESS) (*convDesc)->math = CUDNN_DEFAULT_MATH;
    return st;
}

cudnnStatus_t CUDNNWINAPI cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t convDesc)
{
    return destroy_object(convDesc, MAGIC_CONV, "cudnnDestroyConvolutionDescriptor");
}

cudnnStatus_t CUDNNWINAPI cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t convDesc, int pad_h, int pad_w,
                                                          int u, int v, int dilation_h, int dilation_w,
                                                          cudnnConvolutionMode_t mode, cudnnDataType_t computeType)
{
    const char *fn = "cudnnSetConvolution2dDescriptor";
    if (!conv_ok(convDesc)) return fail(CUDNN_STATUS_BAD_PARAM, "%s: bad descriptor", fn);
    if (pad_h < 0 || pad_w < 0 || u <= 0 || v <= 0 || dilation_h <= 0 || dilation_w <= 0)
        return fail(CUDNN_STATUS_BAD_PARAM, "%s: pads %d %d, strides %d %d, dilations %d %d", fn, pad_h, pad_w, u, v,
                    dilation_h, dilation_w);
    if (mode != CUDNN_CROSS_CORRELATION && mode != CUDNN_CONVOLUTION)
        return fail(CUDNN_STATUS_BAD_PARAM, "%s: mode %d", fn, (int)mode);
    if (dilation_h != 1 || dilation_w != 1)
        return fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: dilation %d %d (the emulation has 1)", fn, dilation_h, dilation_w);
    if (mode != CUDNN_CROSS_CORRELATION)
        return fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: CUDNN_CONVOLUTION (flipped kernels) is not emulated", fn);
    if (computeType != CUDNN_DATA_FLOAT)
        return fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: compute type %d (float only)", fn, (int)computeType);
    convDesc->pad_h = pad_h; convDesc->pad_w = pad_w;
    convDesc->stride_h = u; convDesc->stride_w = v;
    convDesc->mode = mode;
    convDesc->compute = computeType;
    convDesc->set = true;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t convDesc, cudnnMathType_t mathType)
{
    if (!conv_ok(convDesc)) return fail(CUDNN_STATUS_BAD_PARAM, "cudnnSetConvolutionMathType: bad descriptor");
    if (mathType != CUDNN_DEFAULT_MATH && mathType != CUDNN_TENSOR_OP_MATH &&
        mathType != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION && mathType != CUDNN_FMA_MATH)
        return fail(CUDNN_STATUS_BAD_PARAM, "cudnnSetConvolutionMathType: math type %d", (int)mathType);
    convDesc->math = mathType;
    return CUDNN_STATUS_SUCCESS;
}

/* -- algorithm queries -- */

#define GEOM_OR_RETURN(fn, x, w, cv, y)                                                                            \
    Geom g;                                                                                                        \
    int arith;                                                                                                     \
    {                                                                                                              \
        if (!handle_ok(handle)) return fail(CUDNN_STATUS_BAD_PARAM, "%s: bad handle", fn);                         \
        cudnnStatus_t st_ = legacy_geom(fn, x, w, cv, y, &g, &arith);                                              \
        if (st_ != CUDNN_STATUS_SUCCESS) return st_;                                                               \
        (void)arith;                                                                                               \
    }

cudnnStatus_t CUDNNWINAPI cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc,
                                                                 const cudnnFilterDescriptor_t filterDesc,
                                                                 const cudnnConvolutionDescriptor_t convDesc,
                                                                 const cudnnTensorDescriptor_t destDesc,
                                                                 const int requestedAlgoCount, int *returnedAlgoCount,
                                                                 cudnnConvolutionFwdAlgoPerf_t *perfResults)
{
    const char *fn = "cudnnGetConvolutionForwardAlgorithm_v7";
    GEOM_OR_RETURN(fn, srcDesc, filterDesc, convDesc, destDesc);
    return perf_list<cudnnConvolutionFwdAlgoPerf_t, cudnnConvolutionFwdAlgo_t>(
        fn, handle, FWD, g, convDesc->math, requestedAlgoCount, returnedAlgoCount, perfResults, false);
}

cudnnStatus_t CUDNNWINAPI cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t handle,
                                                                      const cudnnFilterDescriptor_t filterDesc,
                                                                      const cudnnTensorDescriptor_t diffDesc,
                                                                      const cudnnConvolutionDescriptor_t convDesc,
                                                                      const cudnnTensorDescriptor_t gradDesc,
                                                                      const int requestedAlgoCount, int *returnedAlgoCount,
                                                                      cudnnConvolutionBwdDataAlgoPerf_t *perfResults)
{
    const char *fn = "cudnnGetConvolutionBackwardDataAlgorithm_v7";
    GEOM_OR_RETURN(fn, gradDesc, filterDesc, convDesc, diffDesc);
    return perf_list<cudnnConvolutionBwdDataAlgoPerf_t, cudnnConvolutionBwdDataAlgo_t>(
        fn, handle, BWD_DATA, g, convDesc->math, requestedAlgoCount, returnedAlgoCount, perfResults, false);
}

cudnnStatus_t CUDNNWINAPI cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle_t handle,
                                                                        const cudnnTensorDescriptor_t srcDesc,
                                                                        const cudnnTensorDescriptor_t diffDesc,
                                                                        const cudnnConvolutionDescriptor_t convDesc,
                                                                        const cudnnFilterDescriptor_t gradDesc,
                                                                        const int requestedAlgoCount,
                                                                        int *returnedAlgoCount,
                                                                        cudnnConvolutionBwdFilterAlgoPerf_t *perfResults)
{
    const char *fn = "cudnnGetConvolutionBackwardFilterAlgorithm_v7";
    GEOM_OR_RETURN(fn, srcDesc, gradDesc, convDesc, diffDesc);
    return perf_list<cudnnConvolutionBwdFilterAlgoPerf_t, cudnnConvolutionBwdFilterAlgo_t>(
        fn, handle, BWD_FILTER, g, convDesc->math, requestedAlgoCount, returnedAlgoCount, perfResults, false);
}

cudnnStatus_t CUDNNWINAPI cudnnFindConvolutionForwardAlgorithm(cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc,
                                                               const cudnnFilterDescriptor_t wDesc,
                                                               const cudnnConvolutionDescriptor_t convDesc,
                                                               const cudnnTensorDescriptor_t yDesc,
                                                               const int requestedAlgoCount, int *returnedAlgoCount,
                                                               cudnnConvolutionFwdAlgoPerf_t *perfResults)
{
    const char *fn = "cudnnFindConvolutionForwardAlgorithm";
    GEOM_OR_RETURN(fn, xDesc, wDesc, convDesc, yDesc);
    cudnnStatus_t st = find_allowed(fn, handle);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    return perf_list<cudnnConvolutionFwdAlgoPerf_t, cudnnConvolutionFwdAlgo_t>(
        fn, handle, FWD, g, convDesc->math, requestedAlgoCount, returnedAlgoCount, perfResults, true);
}

cudnnStatus_t CUDNNWINAPI cudnnFindConvolutionBackwardDataAlgorithm(cudnnHandle_t handle,
                                                                    const cudnnFilterDescriptor_t wDesc,
                                                                    const cudnnTensorDescriptor_t dyDesc,
                                                                    const cudnnConvolutionDescriptor_t convDesc,
                                                                    const cudnnTensorDescriptor_t dxDesc,
                                                                    const int requestedAlgoCount, int *returnedAlgoCount,
                                                                    cudnnConvolutionBwdDataAlgoPerf_t *perfResults)
{
    const char *fn = "cudnnFindConvolutionBackwardDataAlgorithm";
    GEOM_OR_RETURN(fn, dxDesc, wDesc, convDesc, dyDesc);
    cudnnStatus_t st = find_allowed(fn, handle);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    return perf_list<cudnnConvolutionBwdDataAlgoPerf_t, cudnnConvolutionBwdDataAlgo_t>(
        fn, handle, BWD_DATA, g, convDesc->math, requestedAlgoCount, returnedAlgoCount, perfResults, true);
}

cudnnStatus_t CUDNNWINAPI cudnnFindConvolutionBackwardFilterAlgorithm(cudnnHandle_t handle,
                                                                      const cudnnTensorDescriptor_t xDesc,
                                                                      const cudnnTensorDescriptor_t dyDesc,
                                                                      const cudnnConvolutionDescriptor_t convDesc,
                                                                      const cudnnFilterDescriptor_t dwDesc,
                                                                      const int requestedAlgoCount, int *returnedAlgoCount,
                                                                      cudnnConvolutionBwdFilterAlgoPerf_t *perfResults)
{
    const char *fn = "cudnnFindConvolutionBackwardFilterAlgorithm";
    GEOM_OR_RETURN(fn, xDesc, dwDesc, convDesc, dyDesc);
    cudnnStatus_t st = find_allowed(fn, handle);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    return perf_list<cudnnConvolutionBwdFilterAlgoPerf_t, cudnnConvolutionBwdFilterAlgo_t>(
        fn, handle, BWD_FILTER, g, convDesc->math, requestedAlgoCount, returnedAlgoCount, perfResults, true);
}

cudnnStatus_t CUDNNWINAPI cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc,
                                                                  const cudnnFilterDescriptor_t wDesc,
                                                                  const cudnnConvolutionDescriptor_t convDesc,
                                                                  const cudnnTensorDescriptor_t yDesc,
                                                                  cudnnConvolutionFwdAlgo_t algo, size_t *sizeInBytes)
{
    const char *fn = "cudnnGetConvolutionForwardWorkspaceSize";
    GEOM_OR_RETURN(fn, xDesc, wDesc, convDesc, yDesc);
    if (!sizeInBytes) return fail(CUDNN_STATUS_BAD_PARAM, "%s: sizeInBytes is NULL", fn);
    return algo_workspace(fn, FWD, (int)algo, g, sizeInBytes);
}

cudnnStatus_t CUDNNWINAPI cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t handle,
                                                                       const cudnnFilterDescriptor_t wDesc,
                                                                       const cudnnTensorDescriptor_t dyDesc,
                                                                       const cudnnConvolutionDescriptor_t convDesc,
                                                                       const cudnnTensorDescriptor_t dxDesc,
                                                                       cudnnConvolutionBwdDataAlgo_t algo,
                                                                       size_t *sizeInBytes)
{
    const char *fn = "cudnnGetConvolutionBackwardDataWorkspaceSize";
    GEOM_OR_RETURN(fn, dxDesc, wDesc, convDesc, dyDesc);
    if (!sizeInBytes) return fail(CUDNN_STATUS_BAD_PARAM, "%s: sizeInBytes is NULL", fn);
    return algo_workspace(fn, BWD_DATA, (int)algo, g, sizeInBytes);
}

cudnnStatus_t CUDNNWINAPI cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnnHandle_t handle,
                                                                         const cudnnTensorDescriptor_t xDesc,
                                                                         const cudnnTensorDescriptor_t dyDesc,
                                                                         const cudnnConvolutionDescriptor_t convDesc,
                                                                         const cudnnFilterDescriptor_t gradDesc,
                                                                         cudnnConvolutionBwdFilterAlgo_t algo,
                                                                         size_t *sizeInBytes)
{
    const char *fn = "cudnnGetConvolutionBackwardFilterWorkspaceSize";
    GEOM_OR_RETURN(fn, xDesc, gradDesc, convDesc, dyDesc);
    if (!sizeInBytes) return fail(CUDNN_STATUS_BAD_PARAM, "%s: sizeInBytes is NULL", fn);
    return algo_workspace(fn, BWD_FILTER, (int)algo, g, sizeInBytes);
}
#undef GEOM_OR_RETURN

/* -- the convolutions -- */

cudnnStatus_t CUDNNWINAPI cudnnConvolutionForward(cudnnHandle_t handle, const void *alpha, const cudnnTensorDescriptor_t xDesc,
                                                  const void *x, const cudnnFilterDescriptor_t wDesc, const void *w,
                                                  const cudnnConvolutionDescriptor_t convDesc,
                                                  cudnnConvolutionFwdAlgo_t algo, void *workSpace,
                                                  size_t workSpaceSizeInBytes, const void *beta,
                                                  const cudnnTensorDescriptor_t yDesc, void *y)
{
    return legacy_conv("cudnnConvolutionForward", FWD, handle, alpha, beta, xDesc, (void *)x, wDesc, (void *)w,
                       convDesc, yDesc, y, (int)algo, workSpace, workSpaceSizeInBytes);
}

cudnnStatus_t CUDNNWINAPI cudnnConvolutionBackwardData(cudnnHandle_t handle, const void *alpha,
                                                       const cudnnFilterDescriptor_t wDesc, const void *w,
                                                       const cudnnTensorDescriptor_t dyDesc, const void *dy,
                                                       const cudnnConvolutionDescriptor_t convDesc,
                                                       cudnnConvolutionBwdDataAlgo_t algo, void *workSpace,
                                                       size_t workSpaceSizeInBytes, const void *beta,
                                                       const cudnnTensorDescriptor_t dxDesc, void *dx)
{
    return legacy_conv("cudnnConvolutionBackwardData", BWD_DATA, handle, alpha, beta, dxDesc, dx, wDesc, (void *)w,
                       convDesc, dyDesc, (void *)dy, (int)algo, workSpace, workSpaceSizeInBytes);
}

cudnnStatus_t CUDNNWINAPI cudnnConvolutionBackwardFilter(cudnnHandle_t handle, const void *alpha,
                                                         const cudnnTensorDescriptor_t xDesc, const void *x,
                                                         const cudnnTensorDescriptor_t dyDesc, const void *dy,
                                                         const cudnnConvolutionDescriptor_t convDesc,
                                                         cudnnConvolutionBwdFilterAlgo_t algo, void *workSpace,
                                                         size_t workSpaceSizeInBytes, const void *beta,
                                                         const cudnnFilterDescriptor_t dwDesc, void *dw)
{
    return legacy_conv("cudnnConvolutionBackwardFilter", BWD_FILTER, handle, alpha, beta, xDesc, (void *)x, dwDesc, dw,
                       convDesc, dyDesc, (void *)dy, (int)algo, workSpace, workSpaceSizeInBytes);
}

/* -- the backend API -- */

cudnnStatus_t CUDNNWINAPI cudnnBackendCreateDescriptor(cudnnBackendDescriptorType_t descriptorType,
                                                       cudnnBackendDescriptor_t *descriptor)
{
    const char *fn = "cudnnBackendCreateDescriptor";
    if (!descriptor) return fail(CUDNN_STATUS_BAD_PARAM, "%s: descriptor is NULL", fn);
    if (!backend_available())
        return fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: the backend API is off (SG_EMU_CUDNN_BACKEND=0)", fn);
    switch (descriptorType) {
    case CUDNN_BACKEND_TENSOR_DESCRIPTOR:
    case CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR:
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR:
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR:
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR:
    case CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR:
    case CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR:
    case CUDNN_BACKEND_ENGINECFG_DESCRIPTOR:
    case CUDNN_BACKEND_ENGINE_DESCRIPTOR:
    case CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR:
    case CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR:
    case CUDNN_BACKEND_KNOB_CHOICE_DESCRIPTOR:  /* only to be filled (ENGINECFG_KNOB_CHOICES) */
        break;
    default:
        return fail(CUDNN_STATUS_NOT_SUPPORTED, "%s: descriptor type %d is not emulated", fn, (int)descriptorType);
    }
    BDesc *d = new (std::nothrow) BDesc();
    if (!d) return fail(CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED, "%s: out of memory", fn);
    d->magic = MAGIC_BACKEND;
    d->type = descriptorType;
    d->finalized = false;
    d->handle = nullptr;
    d->engine = -1;
    d->knob = -1;
    d->workspace = 0;
    d->ws_ptr = nullptr;
    *descriptor = d;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnBackendDestroyDescriptor(cudnnBackendDescriptor_t descriptor)
{
    BDesc *d = bdesc(descriptor);
    if (!d) return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendDestroyDescriptor: not a backend descriptor");
    d->magic = MAGIC_DEAD;
    delete d;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnBackendSetAttribute(cudnnBackendDescriptor_t descriptor,
                                                   cudnnBackendAttributeName_t attributeName,
                                                   cudnnBackendAttributeType_t attributeType, int64_t elementCount,
                                                   const void *arrayOfElements)
{
    const char *fn = "cudnnBackendSetAttribute";
    BDesc *d = bdesc(descriptor);
    if (!d) return fail(CUDNN_STATUS_BAD_PARAM, "%s: not a backend descriptor", fn);
    if (d->finalized)
        return fail(CUDNN_STATUS_NOT_INITIALIZED, "%s: attribute %d: the %s descriptor is already finalized", fn,
                    (int)attributeName, type_name(d->type));
    const Spec *s = find_spec(d->type, attributeName);
    if (!s)
        return fail(CUDNN_STATUS_BAD_PARAM, "%s: attribute %d cannot be set on a %s descriptor", fn, (int)attributeName,
                    type_name(d->type));
    if (attributeType != s->type && attributeType != s->alt)
        return fail(CUDNN_STATUS_BAD_PARAM, "%s: attribute %d of a %s descriptor wants CUDNN_TYPE %d, got %d", fn,
                    (int)attributeName, type_name(d->type), (int)s->type, (int)attributeType);
    if (elementCount < s->min || elementCount > s->max)
        return fail(CUDNN_STATUS_BAD_PARAM, "%s: attribute %d of a %s descriptor: %lld elements (%lld to %lld)", fn,
                    (int)attributeName, type_name(d->type), (long long)elementCount, (long long)s->min,
                    (long long)s->max);
    if (elementCount > 0 && !arrayOfElements)
        return fail(CUDNN_STATUS_BAD_PARAM, "%s: attribute %d: arrayOfElements is NULL", fn, (int)attributeName);
    Attr a;
    a.type = attributeType;
    a.count = elementCount;
    if (attributeType == CUDNN_TYPE_BACKEND_DESCRIPTOR) {
        const cudnnBackendDescriptor_t *el = (const cudnnBackendDescriptor_t *)arrayOfElements;
        for (int64_t i = 0; i < elementCount; i++) {
            const BDesc *e = bdesc(el[i]);
            if (!e)
                return fail(CUDNN_STATUS_BAD_PARAM, "%s: attribute %d: element %lld is not a backend descriptor", fn,
                            (int)attributeName, (long long)i);
            if (!e->finalized)
                return fail(CUDNN_STATUS_BAD_PARAM, "%s: attribute %d: the %s descriptor given is not finalized", fn,
                            (int)attributeName, type_name(e->type));
            if (s->elem_desc == -1 ? !is_conv_op(e->type) : (int)e->type != s->elem_desc)
                return fail(CUDNN_STATUS_BAD_PARAM, "%s: attribute %d of a %s descriptor: a %s descriptor is not "
                            "accepted", fn, (int)attributeName, type_name(d->type), type_name(e->type));
            a.descs.push_back(std::make_shared<const BDesc>(*e));
        }
    } else {
        size_t es = element_size(attributeType);
        a.bytes.assign((const unsigned char *)arrayOfElements,
                       (const unsigned char *)arrayOfElements + (size_t)elementCount * es);
        if (attributeType == CUDNN_TYPE_HANDLE)
            for (int64_t i = 0; i < elementCount; i++)
                if (!handle_ok(scalar<cudnnHandle_t>(&a, (int)i)))
                    return fail(CUDNN_STATUS_BAD_PARAM, "%s: attribute %d: not a cuDNN handle", fn, (int)attributeName);
    }
    d->attrs[attributeName] = std::move(a);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnBackendFinalize(cudnnBackendDescriptor_t descriptor)
{
    BDesc *d = bdesc(descriptor);
    if (!d) return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendFinalize: not a backend descriptor");
    if (d->finalized) return fail(CUDNN_STATUS_BAD_PARAM, "cudnnBackendFinalize: already finalized");
    cudnnStatus_t st;
    switch (d->type) {
    case CUDNN_BACKEND_TENSOR_DESCRIPTOR: st = finalize_tensor(d); break;
    case CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR: st = finalize_conv(d); break;
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR:
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR:
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR: st = finalize_op(d); break;
    case CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR: st = finalize_graph(d); break;
    case CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR: st = finalize_heur(d); break;
    case CUDNN_BACKEND_ENGINE_DESCRIPTOR: st = finalize_engine(d); break;
    case CUDNN_BACKEND_ENGINECFG_DESCRIPTOR: st = finalize_cfg(d); break;
    case CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR: st = finalize_plan(d); break;
    case CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR: st = finalize_pack(d); break;
    default: return fail(CUDNN_STATUS_INTERNAL_ERROR, "cudnnBackendFinalize: descriptor type %d", (int)d->type);
    }
    if (st == CUDNN_STATUS_SUCCESS) d->finalized = true;
    return st;
}

cudnnStatus_t CUDNNWINAPI cudnnBackendGetAttribute(cudnnBackendDescriptor_t const descriptor,
                                                   cudnnBackendAttributeName_t attributeName,
                                                   cudnnBackendAttributeType_t attributeType,
                                                   int64_t requestedElementCount, int64_t *elementCount,
                                                   void *arrayOfElements)
{
    const char *fn = "cudnnBackendGetAttribute";
    const BDesc *d = bdesc(descriptor);
    if (!d) return fail(CUDNN_STATUS_BAD_PARAM, "%s: not a backend descriptor", fn);
    if (!elementCount) return fail(CUDNN_STATUS_BAD_PARAM, "%s: elementCount is NULL", fn);
    if (requestedElementCount < 0 || (requestedElementCount > 0 && !arrayOfElements))
        return fail(CUDNN_STATUS_BAD_PARAM, "%s: requestedElementCount %lld with arrayOfElements %p", fn,
                    (long long)requestedElementCount, arrayOfElements);
    if (!d->finalized)
        return fail(CUDNN_STATUS_NOT_INITIALIZED, "%s: attribute %d: the %s descriptor is not finalized", fn,
                    (int)attributeName, type_name(d->type));
    /* the attribute's type must be the one asked for */
#define WANT(t)                                                                                                    \
    do {                                                                                                           \
        if (attributeType != (t))                                                                                  \
            return fail(CUDNN_STATUS_BAD_PARAM, "%s: attribute %d of a %s descriptor is " #t ", asked as %d", fn,  \
                        (int)attributeName, type_name(d->type), (int)attributeType);                               \
    } while (0)
    const int t = d->type;
    const int name = attributeName;
    if (t == CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR && name == CUDNN_ATTR_ENGINEHEUR_RESULTS) {
        WANT(CUDNN_TYPE_BACKEND_DESCRIPTOR);
        int64_t n = (int64_t)d->results.size();
        for (int64_t i = 0; i < n && i < requestedElementCount; i++) {
            cudnnStatus_t st = fill_target("ENGINEHEUR_RESULTS", ((cudnnBackendDescriptor_t *)arrayOfElements)[i],
                                           cfg_desc(*d, d->results[(size_t)i], d->result_knobs[(size_t)i]));
            if (st != CUDNN_STATUS_SUCCESS) return st;
        }
        *elementCount = n;
        return CUDNN_STATUS_SUCCESS;
    }
    if (t == CUDNN_BACKEND_ENGINECFG_DESCRIPTOR && name == CUDNN_ATTR_ENGINECFG_ENGINE) {
        WANT(CUDNN_TYPE_BACKEND_DESCRIPTOR);
        if (requestedElementCount > 0) {
            cudnnStatus_t st = fill_target("ENGINECFG_ENGINE", ((cudnnBackendDescriptor_t *)arrayOfElements)[0],
                                           engine_desc(*d, d->engine));
            if (st != CUDNN_STATUS_SUCCESS) return st;
        }
        *elementCount = 1;
        return CUDNN_STATUS_SUCCESS;
    }
    if (t == CUDNN_BACKEND_ENGINECFG_DESCRIPTOR && name == CUDNN_ATTR_ENGINECFG_KNOB_CHOICES) {
        WANT(CUDNN_TYPE_BACKEND_DESCRIPTOR);    /* one knob with SG_EMU_CUDNN_KNOBS, else none */
        int64_t n = d->knob >= 0 ? 1 : 0;
        if (n && requestedElementCount > 0) {
            cudnnStatus_t st = fill_target("ENGINECFG_KNOB_CHOICES", ((cudnnBackendDescriptor_t *)arrayOfElements)[0],
                                           knob_choice_desc(d->knob));
            if (st != CUDNN_STATUS_SUCCESS) return st;
        }
        *elementCount = n;
        return CUDNN_STATUS_SUCCESS;
    }
    if (t == CUDNN_BACKEND_KNOB_CHOICE_DESCRIPTOR && name == CUDNN_ATTR_KNOB_CHOICE_KNOB_TYPE) {
        WANT(CUDNN_TYPE_KNOB_TYPE);
        put(arrayOfElements, requestedElementCount, std::vector<cudnnBackendKnobType_t>(1, EMU_KNOB_TYPE));
        *elementCount = 1;
        return CUDNN_STATUS_SUCCESS;
    }
    if (t == CUDNN_BACKEND_KNOB_CHOICE_DESCRIPTOR && name == CUDNN_ATTR_KNOB_CHOICE_KNOB_VALUE) {
        WANT(CUDNN_TYPE_INT64);
        put(arrayOfElements, requestedElementCount, std::vector<int64_t>(1, d->knob));
        *elementCount = 1;
        return CUDNN_STATUS_SUCCESS;
    }
    if ((t == CUDNN_BACKEND_ENGINECFG_DESCRIPTOR && name == CUDNN_ATTR_ENGINECFG_WORKSPACE_SIZE) ||
        (t == CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR && name == CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE)) {
        WANT(CUDNN_TYPE_INT64);
        put(arrayOfElements, requestedElementCount, std::vector<int64_t>(1, d->workspace));
        *elementCount = 1;
        return CUDNN_STATUS_SUCCESS;
    }
    if (t == CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR && name == CUDNN_ATTR_OPERATIONGRAPH_ENGINE_GLOBAL_COUNT) {
        WANT(CUDNN_TYPE_INT64);
        put(arrayOfElements, requestedElementCount, std::vector<int64_t>(1, (int64_t)ENGINES));
        *elementCount = 1;
        return CUDNN_STATUS_SUCCESS;
    }
    if (t == CUDNN_BACKEND_ENGINE_DESCRIPTOR) {
        std::vector<cudnnBackendNumericalNote_t> num;
        std::vector<cudnnBackendBehaviorNote_t> beh;
        engine_notes(d->engine, &num, &beh);
        if (name == CUDNN_ATTR_ENGINE_NUMERICAL_NOTE) {
            WANT(CUDNN_TYPE_NUMERICAL_NOTE);
            put(arrayOfElements, requestedElementCount, num);
            *elementCount = (int64_t)num.size();
            return CUDNN_STATUS_SUCCESS;
        }
        if (name == CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE) {
            WANT(CUDNN_TYPE_BEHAVIOR_NOTE);
            put(arrayOfElements, requestedElementCount, beh);
            *elementCount = (int64_t)beh.size();
            return CUDNN_STATUS_SUCCESS;
        }
        if (name == CUDNN_ATTR_ENGINE_GLOBAL_INDEX) {
            WANT(CUDNN_TYPE_INT64);
            put(arrayOfElements, requestedElementCount, std::vector<int64_t>(1, d->engine));
            *elementCount = 1;
            return CUDNN_STATUS_SUCCESS;
        }
        if (name == CUDNN_ATTR_ENGINE_KNOB_INFO) {          /* not emulated: none listed */
            WANT(CUDNN_TYPE_BACKEND_DESCRIPTOR);
            *elementCount = 0;
            return CUDNN_STATUS_SUCCESS;
        }
    }
#undef WANT
    /* anything else: what was set */
    const Attr *a = attr(d, name);
    if (!a) {
        if (find_spec(t, name))
            return fail(CUDNN_STATUS_BAD_PARAM, "%s: attribute %d of the %s descriptor was never set", fn, name,
                        type_name(t));
        return fail(CUDNN_STATUS_BAD_PARAM, "%s: attribute %d is not an attribute of a %s descriptor (or not emulated)",
                    fn, name, type_name(t));
    }
    if (attributeType != a->type)
        return fail(CUDNN_STATUS_BAD_PARAM, "%s: attribute %d of the %s descriptor has CUDNN_TYPE %d, asked as %d", fn,
                    name, type_name(t), (int)a->type, (int)attributeType);
    int64_t n = requestedElementCount < a->count ? requestedElementCount : a->count;
    if (a->type == CUDNN_TYPE_BACKEND_DESCRIPTOR) {
        for (int64_t i = 0; i < n; i++) {
            cudnnStatus_t st = fill_target("attribute", ((cudnnBackendDescriptor_t *)arrayOfElements)[i],
                                           *a->descs[(size_t)i]);
            if (st != CUDNN_STATUS_SUCCESS) return st;
        }
    } else if (n > 0) {
        memcpy(arrayOfElements, a->bytes.data(), (size_t)n * element_size(a->type));
    }
    *elementCount = a->count;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnBackendExecute(cudnnHandle_t handle, cudnnBackendDescriptor_t executionPlan,
                                              cudnnBackendDescriptor_t variantPack)
{
    const char *fn = "cudnnBackendExecute";
    if (!handle_ok(handle)) return fail(CUDNN_STATUS_BAD_PARAM, "%s: bad handle", fn);
    const BDesc *plan = bdesc(executionPlan), *pack = bdesc(variantPack);
    if (!plan || plan->type != CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR)
        return fail(CUDNN_STATUS_BAD_PARAM, "%s: executionPlan is not an execution plan descriptor", fn);
    if (!pack || pack->type != CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR)
        return fail(CUDNN_STATUS_BAD_PARAM, "%s: variantPack is not a variant pack descriptor", fn);
    if (!plan->finalized || !pack->finalized)
        return fail(CUDNN_STATUS_BAD_PARAM, "%s: the %s is not finalized", fn,
                    plan->finalized ? "variant pack" : "execution plan");
    /* Strict where cuDNN is not documented: some engines require the
     * executing handle to be the one the plan was made with (MXNet met this,
     * and rebuilds plans per handle; cuDNN 9.8+ plans made without a handle
     * may not care). The emulation refuses any other handle. */
    if (plan->handle && plan->handle != handle)
        return fail(CUDNN_STATUS_BAD_PARAM, "%s: the execution plan was made with another cuDNN handle", fn);
    const OpInfo &op = plan->op;
    const TensorInfo *ts[3] = { &op.x, &op.w, &op.y };
    void *ptr[3];
    static const char *names[3][3] = { { "x", "w", "y" }, { "dx", "w", "dy" }, { "x", "dw", "dy" } };
    for (int i = 0; i < 3; i++) {
        ptr[i] = nullptr;
        size_t k = 0;
        while (k < pack->uids.size() && pack->uids[k] != ts[i]->uid) k++;
        if (k == pack->uids.size())
            return fail(CUDNN_STATUS_BAD_PARAM, "%s: the variant pack has no pointer for %s (unique id %lld)", fn,
                        names[op.kind][i], (long long)ts[i]->uid);
        ptr[i] = pack->ptrs[k];
        if (!ptr[i]) return fail(CUDNN_STATUS_BAD_PARAM, "%s: %s is NULL", fn, names[op.kind][i]);
        if ((uintptr_t)ptr[i] % (uintptr_t)ts[i]->align)
            return fail(CUDNN_STATUS_BAD_PARAM, "%s: %s (%p) is not aligned to the tensor's %lld bytes", fn,
                        names[op.kind][i], ptr[i], (long long)ts[i]->align);
    }
    if (plan->workspace > 0) {
        if (!pack->ws_ptr)
            return fail(CUDNN_STATUS_BAD_PARAM, "%s: the plan needs %lld bytes of workspace, the variant pack has none",
                        fn, (long long)plan->workspace);
        if ((uintptr_t)pack->ws_ptr % 16)
            return fail(CUDNN_STATUS_BAD_PARAM, "%s: the workspace (%p) is not 16-byte aligned", fn, pack->ws_ptr);
    }
    Job j;
    memset(&j, 0, sizeof j);
    j.kind = op.kind;
    Geom &g = j.g;
    g.N = op.x.dims[0]; g.C = op.x.dims[1]; g.H = op.x.dims[2]; g.W = op.x.dims[3];
    g.K = op.w.dims[0]; g.R = op.w.dims[2]; g.S = op.w.dims[3];
    g.P = op.y.dims[2]; g.Q = op.y.dims[3];
    g.pad_h = op.conv.pre[0]; g.pad_w = op.conv.pre[1];
    g.stride_h = op.conv.stride[0]; g.stride_w = op.conv.stride[1];
    for (int i = 0; i < 4; i++) {
        g.xs[i] = op.x.strides[i];
        g.ws[i] = op.w.strides[i];
        g.ys[i] = op.y.strides[i];
    }
    const char *failing = getenv("SG_EMU_CUDNN_FAILING_ENGINE");
    if (failing && atoll(failing) == plan->engine)
        return fail(CUDNN_STATUS_EXECUTION_FAILED, "%s: engine %lld fails (SG_EMU_CUDNN_FAILING_ENGINE)", fn,
                    (long long)plan->engine);
    const char *hidden_tf32 = getenv("SG_EMU_CUDNN_HIDDEN_TF32");
    bool tf32 = plan->engine == 0 || (hidden_tf32 && atoll(hidden_tf32) == plan->engine);
    j.arith = op.x.type == CUDNN_DATA_BFLOAT16 ? ARITH_BF16 : tf32 ? ARITH_TF32 : ARITH_FP32;
    j.alpha = op.alpha;
    j.beta = op.beta;
    /* SG_EMU_CUDNN_WRONG_ENGINE=e: engine e ignores backward-filter's beta
     * without saying so (an engine that computes something else), for the
     * engine search's check of each candidate against the legacy call */
    const char *wrong = getenv("SG_EMU_CUDNN_WRONG_ENGINE");
    if (wrong && atoll(wrong) == plan->engine && op.kind == BWD_FILTER) j.beta = 0.f;
    j.knob_ulps = plan->knob > 0 ? (int)plan->knob : 0;
    j.x = ptr[0]; j.w = ptr[1]; j.y = ptr[2];
    j.ws = pack->ws_ptr;
    j.ws_bytes = (size_t)plan->workspace;
    return submit(fn, handle->stream, j);
}

} // extern "C"
