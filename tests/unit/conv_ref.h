/* float64 reference convolutions for the tests (PyTorch's Conv2d:
 * cross-correlation, zero padding): x (N,Ci,H,W), w (Co,Ci,K,K),
 * y (N,Co,Ho,Wo), all NCHW. */
#ifndef SG_TEST_CONV_REF_H
#define SG_TEST_CONV_REF_H
#include <stddef.h>
#include <string.h>

static inline int conv_out_size(int H, int K, int s, int p) { return (H + 2 * p - K) / s + 1; }

/* y = conv(x; w) + b (b may be NULL); overwrites y */
static inline void conv_ref(double *y, const double *x, const double *w, const double *b,
                            int N, int Ci, int H, int W, int Co, int K, int s, int p)
{
    int Ho = conv_out_size(H, K, s, p), Wo = conv_out_size(W, K, s, p);
    for (int n = 0; n < N; n++) for (int co = 0; co < Co; co++)
        for (int oy = 0; oy < Ho; oy++) for (int ox = 0; ox < Wo; ox++) {
            double acc = b ? b[co] : 0;
            for (int ci = 0; ci < Ci; ci++) for (int kh = 0; kh < K; kh++) for (int kw = 0; kw < K; kw++) {
                int iy = oy * s - p + kh, ix = ox * s - p + kw;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                acc += x[(((size_t)n * Ci + ci) * H + iy) * W + ix] * w[(((size_t)co * Ci + ci) * K + kh) * K + kw];
            }
            y[(((size_t)n * Co + co) * Ho + oy) * Wo + ox] = acc;
        }
}

/* conv^T: dx (N,Ci,H,W) from dy (N,Co,Ho,Wo), w (Co,Ci,K,K); overwrites dx */
static inline void conv_bwd_data_ref(double *dx, const double *dy, const double *w,
                                     int N, int Ci, int H, int W, int Co, int K, int s, int p)
{
    int Ho = conv_out_size(H, K, s, p), Wo = conv_out_size(W, K, s, p);
    memset(dx, 0, (size_t)N * Ci * H * W * sizeof(double));
    for (int n = 0; n < N; n++) for (int co = 0; co < Co; co++)
        for (int oy = 0; oy < Ho; oy++) for (int ox = 0; ox < Wo; ox++) {
            double g = dy[(((size_t)n * Co + co) * Ho + oy) * Wo + ox];
            for (int ci = 0; ci < Ci; ci++) for (int kh = 0; kh < K; kh++) for (int kw = 0; kw < K; kw++) {
                int iy = oy * s - p + kh, ix = ox * s - p + kw;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                dx[(((size_t)n * Ci + ci) * H + iy) * W + ix] += g * w[(((size_t)co * Ci + ci) * K + kh) * K + kw];
            }
        }
}

/* dw (Co,Ci,K,K) += sum_n corr(x, dy); db (Co) += sum of dy (db may be NULL) */
static inline void conv_bwd_filter_ref(double *dw, double *db, const double *x, const double *dy,
                                       int N, int Ci, int H, int W, int Co, int K, int s, int p)
{
    int Ho = conv_out_size(H, K, s, p), Wo = conv_out_size(W, K, s, p);
    for (int n = 0; n < N; n++) for (int co = 0; co < Co; co++)
        for (int oy = 0; oy < Ho; oy++) for (int ox = 0; ox < Wo; ox++) {
            double g = dy[(((size_t)n * Co + co) * Ho + oy) * Wo + ox];
            if (db) db[co] += g;
            for (int ci = 0; ci < Ci; ci++) for (int kh = 0; kh < K; kh++) for (int kw = 0; kw < K; kw++) {
                int iy = oy * s - p + kh, ix = ox * s - p + kw;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                dw[(((size_t)co * Ci + ci) * K + kh) * K + kw] += g * x[(((size_t)n * Ci + ci) * H + iy) * W + ix];
            }
        }
}

#endif
