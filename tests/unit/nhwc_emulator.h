/* A CPU backend that stores activations and conv weights NHWC
 * (lib/backend.h "Layout") by converting around the CPU's NCHW ops. It
 * stands in for CUDA's NHWC layout where there is no GPU, so that the
 * model's layout boundaries (images in and out, weights, gradients, Adam
 * state) and this test's own conversions are checked on every machine.
 * Slow (every op converts its operands): tests only.
 *
 * With emu_bf16 set, the convolutions also round like the CUDA backend's bf16
 * mode (kernels/conv_cudnn.cu): x, w and dy rounded to bf16, the convolution
 * in float, its result rounded to bf16; the bias added in float after that;
 * backward-filter adds the rounded gradient into dw, and the bias gradient
 * comes from the unrounded dy. So the bf16 checks of test_cuda_ops run on
 * machines without a GPU too. */
#ifndef NHWC_EMULATOR_H
#define NHWC_EMULATOR_H
#include <stdlib.h>
#include <string.h>
#include "backend.h"
#include "bf16_round.h"

static const sg_backend_ops *emu_inner;       /* the CPU's table; impl is shared */
static sg_backend_ops emu_ops;
static int emu_bf16;                          /* convolutions round like CUDA's bf16 mode */

/* an NCHW copy of an NHWC tensor (malloc'd) */
static float *emu_in(const float *src, size_t outer, size_t mid, size_t inner)
{
    float *t = malloc(outer * mid * inner * sizeof(float) + 4);
    if (src) sg_layout_permute(t, src, outer, mid, inner, 0);
    return t;
}

static void emu_out(float *dst, float *t, size_t outer, size_t mid, size_t inner)
{
    sg_layout_permute(dst, t, outer, mid, inner, 1);
    free(t);
}

static void emu_conv2d_forward(sg_backend *be, float *y, const float *x, const float *w,
                               const float *bias, int N, int Ci, int H, int W, int Co, int K,
                               int stride, int pad)
{
    int Ho = (H + 2 * pad - K) / stride + 1, Wo = (W + 2 * pad - K) / stride + 1;
    float *tx = emu_in(x, N, Ci, (size_t)H * W), *tw = emu_in(w, Co, Ci, (size_t)K * K);
    float *ty = emu_in(NULL, N, Co, (size_t)Ho * Wo);
    if (emu_bf16) {
        size_t ohw = (size_t)Ho * Wo;
        bf16_round_array(tx, (size_t)N * Ci * H * W);
        bf16_round_array(tw, (size_t)Co * Ci * K * K);
        emu_inner->conv2d_forward(be, ty, tx, tw, NULL, N, Ci, H, W, Co, K, stride, pad);
        bf16_round_array(ty, (size_t)N * Co * ohw);
        for (size_t pl = 0; bias && pl < (size_t)N * Co; pl++)
            for (size_t i = 0; i < ohw; i++) ty[pl * ohw + i] += bias[pl % Co];
    } else {
        emu_inner->conv2d_forward(be, ty, tx, tw, bias, N, Ci, H, W, Co, K, stride, pad);
    }
    emu_out(y, ty, N, Co, (size_t)Ho * Wo);
    free(tx); free(tw);
}

static void emu_conv2d_backward_data(sg_backend *be, float *dx, const float *dy, const float *w,
                                     int N, int Ci, int H, int W, int Co, int K, int stride, int pad)
{
    int Ho = (H + 2 * pad - K) / stride + 1, Wo = (W + 2 * pad - K) / stride + 1;
    float *tdy = emu_in(dy, N, Co, (size_t)Ho * Wo), *tw = emu_in(w, Co, Ci, (size_t)K * K);
    float *tdx = emu_in(NULL, N, Ci, (size_t)H * W);
    if (emu_bf16) {
        bf16_round_array(tdy, (size_t)N * Co * Ho * Wo);
        bf16_round_array(tw, (size_t)Co * Ci * K * K);
    }
    emu_inner->conv2d_backward_data(be, tdx, tdy, tw, N, Ci, H, W, Co, K, stride, pad);
    if (emu_bf16) bf16_round_array(tdx, (size_t)N * Ci * H * W);
    emu_out(dx, tdx, N, Ci, (size_t)H * W);
    free(tdy); free(tw);
}

static void emu_conv2d_backward_filter(sg_backend *be, float *dw, float *db, const float *x,
                                       const float *dy, int N, int Ci, int H, int W, int Co, int K,
                                       int stride, int pad)
{
    int Ho = (H + 2 * pad - K) / stride + 1, Wo = (W + 2 * pad - K) / stride + 1;
    float *tdy = emu_in(dy, N, Co, (size_t)Ho * Wo);
    if (!dw) {                                                /* db alone: from the float dy */
        emu_inner->conv2d_backward_filter(be, NULL, db, NULL, tdy, N, Ci, H, W, Co, K, stride, pad);
        free(tdy);
        return;
    }
    float *tx = emu_in(x, N, Ci, (size_t)H * W);
    float *tdw = emu_in(dw, Co, Ci, (size_t)K * K);          /* += into the current values */
    if (emu_bf16) {
        size_t nw = (size_t)Co * Ci * K * K;
        float *g = calloc(nw + 1, sizeof(float));
        if (db)   /* from the float dy, like the CUDA backend's own bias kernels */
            emu_inner->conv2d_backward_filter(be, g, db, tx, tdy, N, Ci, H, W, Co, K, stride, pad);
        memset(g, 0, nw * sizeof(float));
        bf16_round_array(tx, (size_t)N * Ci * H * W);
        bf16_round_array(tdy, (size_t)N * Co * Ho * Wo);
        emu_inner->conv2d_backward_filter(be, g, NULL, tx, tdy, N, Ci, H, W, Co, K, stride, pad);
        for (size_t i = 0; i < nw; i++) tdw[i] += bf16_round(g[i]);
        free(g);
    } else {
        emu_inner->conv2d_backward_filter(be, tdw, db, tx, tdy, N, Ci, H, W, Co, K, stride, pad);
    }
    emu_out(dw, tdw, Co, Ci, (size_t)K * K);
    free(tx); free(tdy);
}

static void emu_instnorm_forward(sg_backend *be, float *y, float *mean, float *rstd, const float *x,
                                 const float *gamma, const float *beta, float *running_mean,
                                 float *running_var, int N, int C, int HW, float eps, float momentum,
                                 int relu, const float *residual)
{
    float *tx = emu_in(x, N, C, HW), *ty = y ? emu_in(NULL, N, C, HW) : NULL;
    float *tr = y && residual ? emu_in(residual, N, C, HW) : NULL;
    emu_inner->instnorm_forward(be, ty, mean, rstd, tx, gamma, beta, running_mean, running_var,
                                N, C, HW, eps, momentum, relu, tr);
    if (y) emu_out(y, ty, N, C, HW);
    free(tx);
    free(tr);
}

static void emu_instnorm_backward(sg_backend *be, float *dx, float *dgamma, float *dbeta,
                                  const float *dy, const float *y_relu, const float *x,
                                  const float *mean, const float *rstd, const float *gamma,
                                  int N, int C, int HW)
{
    float *tdy = emu_in(dy, N, C, HW), *tx = emu_in(x, N, C, HW), *tdx = emu_in(NULL, N, C, HW);
    float *tyr = y_relu ? emu_in(y_relu, N, C, HW) : NULL;
    emu_inner->instnorm_backward(be, tdx, dgamma, dbeta, tdy, tyr, tx, mean, rstd, gamma, N, C, HW);
    emu_out(dx, tdx, N, C, HW);
    free(tdy); free(tx); free(tyr);
}

static void emu_concat_labels(sg_backend *be, float *out, const float *x, const float *c,
                              int N, int Cx, int Cc, int HW)
{
    float *tx = emu_in(x, N, Cx, HW), *to = emu_in(NULL, N, Cx + Cc, HW);
    emu_inner->concat_labels(be, to, tx, c, N, Cx, Cc, HW);
    emu_out(out, to, N, Cx + Cc, HW);
    free(tx);
}

static void emu_channel_slice(sg_backend *be, float *dst, const float *src, int N, int Cs,
                              int c0, int Cd, int HW)
{
    float *ts = emu_in(src, N, Cs, HW), *td = emu_in(NULL, N, Cd, HW);
    emu_inner->channel_slice(be, td, ts, N, Cs, c0, Cd, HW);
    emu_out(dst, td, N, Cd, HW);
    free(ts);
}

static void emu_to_layout(sg_backend *be, float *dst, const float *src, int N, int C, int HW)
{
    (void)be;
    sg_layout_permute(dst, src, N, C, HW, 1);
}

static void emu_bias_leaky_relu(sg_backend *be, float *y, const float *bias, float slope, int N, int C, int HW)
{
    float *t = emu_in(y, N, C, (size_t)HW);
    emu_inner->bias_leaky_relu(be, t, bias, slope, N, C, HW);
    emu_out(y, t, N, C, (size_t)HW);
}

/* dx in place of dy's NCHW copy (dx == dy allowed): the bias sums per channel */
static void emu_leaky_relu_backward_bias(sg_backend *be, float *dx, float *db, const float *dy, const float *x,
                                         float slope, int N, int C, int HW, int n_bias)
{
    float *tdy = emu_in(dy, N, C, (size_t)HW), *tx = emu_in(x, N, C, (size_t)HW);
    emu_inner->leaky_relu_backward_bias(be, tdy, db, tdy, tx, slope, N, C, HW, n_bias);
    emu_out(dx, tdy, N, C, (size_t)HW);
    free(tx);
}

static void emu_from_layout(sg_backend *be, float *dst, const float *src, int N, int C, int HW)
{
    (void)be;
    sg_layout_permute(dst, src, N, C, HW, 0);
}

static void emu_destroy(sg_backend *be)
{
    sg_backend *inner = malloc(sizeof *inner);    /* the inner backend's shell, for its destroy */
    *inner = *be;
    inner->ops = emu_inner;
    free(be);
    emu_inner->destroy(inner);
}

/* Wraps a CPU backend (which it then owns) as an NHWC one. */
static sg_backend *nhwc_emulator(sg_backend *cpu_be)
{
    if (!cpu_be) return NULL;
    emu_inner = cpu_be->ops;
    emu_ops = *cpu_be->ops;
    emu_ops.destroy = emu_destroy;
    emu_ops.conv2d_forward = emu_conv2d_forward;
    emu_ops.conv2d_backward_data = emu_conv2d_backward_data;
    emu_ops.conv2d_backward_filter = emu_conv2d_backward_filter;
    emu_ops.instnorm_forward = emu_instnorm_forward;
    emu_ops.instnorm_backward = emu_instnorm_backward;
    emu_ops.concat_labels = emu_concat_labels;
    emu_ops.channel_slice = emu_channel_slice;
    emu_ops.bias_leaky_relu = emu_bias_leaky_relu;
    emu_ops.leaky_relu_backward_bias = emu_leaky_relu_backward_bias;
    emu_ops.to_layout = emu_to_layout;
    emu_ops.from_layout = emu_from_layout;
    sg_backend *be = malloc(sizeof *be);
    *be = *cpu_be;                  /* the same impl: the CPU's ops run on it unchanged */
    be->ops = &emu_ops;
    be->name = "cpu-nhwc-emulated";
    be->nhwc = 1;
    free(cpu_be);                   /* the shell only; impl lives on in be */
    return be;
}

/* The backends a model test runs on without a GPU, variant 0..MODEL_TEST_BACKENDS-1:
 * the CPU with 1 thread, with 3 threads (other work splits), and the NHWC
 * emulator (the CUDA backend's layout conversions); its name in *label. */
enum { MODEL_TEST_BACKENDS = 3 };
static inline sg_backend *model_test_backend(int variant, const char **label, sg_err *err)
{
    *label = variant == 0 ? "cpu" : variant == 1 ? "cpu (3 threads)" : "cpu, NHWC emulated";
    return variant < 2 ? sg_backend_cpu_create(variant == 0 ? 1 : 3, err)
                       : nhwc_emulator(sg_backend_cpu_create(1, err));
}
#endif
