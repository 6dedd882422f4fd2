/* Every CPU backend op against a float64 reference: forwards against naive
 * double loops, backwards against central finite differences of those double
 * forwards (objective L = sum(r * f(inputs)) with a fixed random r), and the
 * gradient penalty's weight gradient on a tiny D against finite differences of
 * the GP value computed in double. */
#include "backend.h"
#include "check.h"
#include "conv_ref.h"
#include "rng.h"
#include <stdlib.h>
#include <string.h>

static sg_backend *be;
static uint64_t draw_counter;

/* Uniform in [lo, hi) */
static void randfill(double *a, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++) a[i] = lo + (hi - lo) * sg_randu(1234, 99, draw_counter++);
}
/* Uniform with |value| in [0.1, 1): away from ReLU kinks */
static void randfill_nokink(double *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double v = 0.1 + 0.9 * sg_randu(1234, 98, draw_counter++);
        a[i] = sg_randu(1234, 97, draw_counter++) < 0.5 ? -v : v;
    }
}
static double *dalloc(size_t n) { return calloc(n ? n : 1, sizeof(double)); }

/* backend float buffer from doubles */
static float *to_be(const double *a, size_t n)
{
    float *h = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) h[i] = (float)a[i];
    float *d = be->ops->alloc(be, (n ? n : 1) * sizeof(float));
    be->ops->upload(be, d, h, n * sizeof(float));
    free(h);
    return d;
}
static double *from_be(const float *d, size_t n)
{
    float *h = malloc((n ? n : 1) * sizeof(float));
    be->ops->download(be, h, d, n * sizeof(float));
    double *a = dalloc(n);
    for (size_t i = 0; i < n; i++) a[i] = h[i];
    free(h);
    return a;
}
static float *be_zeros(size_t n) { return be->ops->alloc(be, (n ? n : 1) * sizeof(float)); }

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* Central finite differences of f w.r.t. every element of p. */
typedef double (*objective)(void *ctx);
static void fd_grad(objective f, void *ctx, double *p, size_t n, double *g, double h)
{
    for (size_t i = 0; i < n; i++) {
        double keep = p[i];
        p[i] = keep + h; double fp = f(ctx);
        p[i] = keep - h; double fm = f(ctx);
        p[i] = keep;
        g[i] = (fp - fm) / (2 * h);
    }
}

/* ---- double references ---------------------------------------------------- */

/* PyTorch ConvTranspose2d from its definition: x (N,Cin,H,W), w (Cin,Cout,K,K) */
static void convT_ref(double *y, const double *x, const double *w, int N, int Cin, int H, int W,
                      int Cout, int K, int s, int p)
{
    int Ho = (H - 1) * s - 2 * p + K, Wo = (W - 1) * s - 2 * p + K;
    memset(y, 0, (size_t)N * Cout * Ho * Wo * sizeof(double));
    for (int n = 0; n < N; n++) for (int ci = 0; ci < Cin; ci++)
        for (int iy = 0; iy < H; iy++) for (int ix = 0; ix < W; ix++)
            for (int co = 0; co < Cout; co++) for (int kh = 0; kh < K; kh++) for (int kw = 0; kw < K; kw++) {
                int oy = iy * s - p + kh, ox = ix * s - p + kw;
                if (oy < 0 || oy >= Ho || ox < 0 || ox >= Wo) continue;
                y[(((size_t)n * Cout + co) * Ho + oy) * Wo + ox] +=
                    x[(((size_t)n * Cin + ci) * H + iy) * W + ix] * w[(((size_t)ci * Cout + co) * K + kh) * K + kw];
            }
}

static void instnorm_ref(double *y, const double *x, const double *g, const double *b,
                         int N, int C, int HW, double *mean, double *var_b, double *var_u)
{
    for (int n = 0; n < N; n++) for (int c = 0; c < C; c++) {
        const double *xp = x + ((size_t)n * C + c) * HW;
        double m = 0, v = 0;
        for (int i = 0; i < HW; i++) m += xp[i];
        m /= HW;
        for (int i = 0; i < HW; i++) v += (xp[i] - m) * (xp[i] - m);
        if (mean) mean[n * C + c] = m;
        if (var_b) var_b[n * C + c] = v / HW;
        if (var_u) var_u[n * C + c] = v / (HW - 1);
        v /= HW;
        for (int i = 0; i < HW; i++)
            y[((size_t)n * C + c) * HW + i] = (xp[i] - m) / sqrt(v + 1e-5) * g[c] + b[c];
    }
}

/* ---- conv ------------------------------------------------------------------ */

typedef struct { int N, Ci, H, W, Co, K, s, p, bias; double *x, *w, *b, *r; } conv_case;

static double conv_objective(void *ctx)
{
    conv_case *c = ctx;
    int Ho = conv_out_size(c->H, c->K, c->s, c->p), Wo = conv_out_size(c->W, c->K, c->s, c->p);
    size_t ny = (size_t)c->N * c->Co * Ho * Wo;
    double *y = dalloc(ny);
    conv_ref(y, c->x, c->w, c->bias ? c->b : NULL, c->N, c->Ci, c->H, c->W, c->Co, c->K, c->s, c->p);
    double v = dot(y, c->r, ny);
    free(y);
    return v;
}

static void test_conv(int N, int Ci, int H, int W, int Co, int K, int s, int p, int bias, int fd)
{
    char what[160];
    conv_case c = { .N = N, .Ci = Ci, .H = H, .W = W, .Co = Co, .K = K, .s = s, .p = p, .bias = bias };
    int Ho = conv_out_size(H, K, s, p), Wo = conv_out_size(W, K, s, p);
    size_t nx = (size_t)N * Ci * H * W, nw = (size_t)Co * Ci * K * K, ny = (size_t)N * Co * Ho * Wo;
    c.x = dalloc(nx); c.w = dalloc(nw); c.b = dalloc(Co); c.r = dalloc(ny);
    randfill(c.x, nx, -1, 1); randfill(c.w, nw, -0.5, 0.5); randfill(c.b, Co, -0.5, 0.5); randfill(c.r, ny, -1, 1);
    float *x = to_be(c.x, nx), *w = to_be(c.w, nw), *b = to_be(c.b, Co), *r = to_be(c.r, ny);
    float *y = be_zeros(ny), *dx = be_zeros(nx), *dw = to_be(c.w, nw), *db = to_be(c.b, Co);

    /* forward */
    be->ops->conv2d_forward(be, y, x, w, bias ? b : NULL, N, Ci, H, W, Co, K, s, p);
    double *yref = dalloc(ny), *yb = from_be(y, ny);
    conv_ref(yref, c.x, c.w, bias ? c.b : NULL, N, Ci, H, W, Co, K, s, p);
    snprintf(what, sizeof what, "conv2d_forward N%d Ci%d %dx%d Co%d K%d s%d p%d bias%d", N, Ci, H, W, Co, K, s, p, bias);
    CHECK_CLOSE(what, yb, yref, (long)ny, 1e-5, 1e-5);

    /* backward data: against FD when small, else against the double transpose */
    be->ops->conv2d_backward_data(be, dx, r, w, N, Ci, H, W, Co, K, s, p);
    double *dxb = from_be(dx, nx), *dxref = dalloc(nx);
    if (fd) fd_grad(conv_objective, &c, c.x, nx, dxref, 1e-4);
    else conv_bwd_data_ref(dxref, c.r, c.w, N, Ci, H, W, Co, K, s, p);
    snprintf(what, sizeof what, "conv2d_backward_data N%d Ci%d %dx%d Co%d K%d s%d p%d (%s)", N, Ci, H, W, Co, K, s, p, fd ? "FD" : "double");
    CHECK_CLOSE(what, dxb, dxref, (long)nx, 1e-4, 1e-5);

    /* backward filter accumulates onto the initial contents (w and b) */
    be->ops->conv2d_backward_filter(be, dw, bias ? db : NULL, x, r, N, Ci, H, W, Co, K, s, p);
    double *dwb = from_be(dw, nw), *dbb = from_be(db, Co), *dwref = dalloc(nw), *dbref = dalloc(Co);
    if (fd) {
        fd_grad(conv_objective, &c, c.w, nw, dwref, 1e-4);
        fd_grad(conv_objective, &c, c.b, Co, dbref, 1e-4);
    } else conv_bwd_filter_ref(dwref, dbref, c.x, c.r, N, Ci, H, W, Co, K, s, p);
    for (size_t i = 0; i < nw; i++) dwref[i] += c.w[i];
    for (int i = 0; i < Co; i++) dbref[i] += c.b[i];
    snprintf(what, sizeof what, "conv2d_backward_filter dw N%d Ci%d %dx%d Co%d K%d s%d p%d (%s)", N, Ci, H, W, Co, K, s, p, fd ? "FD" : "double");
    CHECK_CLOSE(what, dwb, dwref, (long)nw, 1e-4, 1e-4);
    if (bias) {
        snprintf(what, sizeof what, "conv2d_backward_filter db N%d Ci%d %dx%d Co%d K%d", N, Ci, H, W, Co, K);
        CHECK_CLOSE(what, dbb, dbref, Co, 1e-4, 1e-4);
        /* dw NULL: db alone, x not read, the same sums bit for bit */
        float *db2 = to_be(c.b, Co);
        be->ops->conv2d_backward_filter(be, NULL, db2, NULL, r, N, Ci, H, W, Co, K, s, p);
        double *db2b = from_be(db2, Co);
        int same = 1;
        for (int i = 0; i < Co; i++) same &= db2b[i] == dbb[i];
        snprintf(what, sizeof what, "conv2d_backward_filter db alone (dw NULL) N%d Ci%d %dx%d Co%d K%d", N, Ci, H, W, Co, K);
        CHECK(same, "%s", what);
        free(db2b);
        be->ops->free(be, db2);
    }
    free(yref); free(yb); free(dxb); free(dxref); free(dwb); free(dbb); free(dwref); free(dbref);
    free(c.x); free(c.w); free(c.b); free(c.r);
    be->ops->free(be, x); be->ops->free(be, w); be->ops->free(be, b); be->ops->free(be, r);
    be->ops->free(be, y); be->ops->free(be, dx); be->ops->free(be, dw); be->ops->free(be, db);
}

/* ---- transposed conv, through the conv ops as backend.h prescribes ------------ */

typedef struct { int N, Cin, H, W, Cout, K, s, p; double *x, *w, *r; } convT_case;

static double convT_objective(void *ctx)
{
    convT_case *c = ctx;
    int Ho = (c->H - 1) * c->s - 2 * c->p + c->K, Wo = (c->W - 1) * c->s - 2 * c->p + c->K;
    size_t ny = (size_t)c->N * c->Cout * Ho * Wo;
    double *y = dalloc(ny);
    convT_ref(y, c->x, c->w, c->N, c->Cin, c->H, c->W, c->Cout, c->K, c->s, c->p);
    double v = dot(y, c->r, ny);
    free(y);
    return v;
}

static void test_convT(int N, int Cin, int H, int W, int Cout, int K, int s, int p)
{
    char what[160];
    convT_case c = { .N = N, .Cin = Cin, .H = H, .W = W, .Cout = Cout, .K = K, .s = s, .p = p };
    int Ho = (H - 1) * s - 2 * p + K, Wo = (W - 1) * s - 2 * p + K;
    size_t nx = (size_t)N * Cin * H * W, nw = (size_t)Cin * Cout * K * K, ny = (size_t)N * Cout * Ho * Wo;
    c.x = dalloc(nx); c.w = dalloc(nw); c.r = dalloc(ny);
    randfill(c.x, nx, -1, 1); randfill(c.w, nw, -0.5, 0.5); randfill(c.r, ny, -1, 1);
    float *x = to_be(c.x, nx), *w = to_be(c.w, nw), *r = to_be(c.r, ny);
    float *y = be_zeros(ny), *dx = be_zeros(nx), *dw = be_zeros(nw);

    be->ops->conv2d_backward_data(be, y, x, w, N, Cout, Ho, Wo, Cin, K, s, p);
    double *yb = from_be(y, ny), *yref = dalloc(ny);
    convT_ref(yref, c.x, c.w, N, Cin, H, W, Cout, K, s, p);
    snprintf(what, sizeof what, "convT forward N%d Cin%d %dx%d Cout%d K%d s%d p%d", N, Cin, H, W, Cout, K, s, p);
    CHECK_CLOSE(what, yb, yref, (long)ny, 1e-5, 1e-5);

    be->ops->conv2d_forward(be, dx, r, w, NULL, N, Cout, Ho, Wo, Cin, K, s, p);
    double *dxb = from_be(dx, nx), *dxref = dalloc(nx);
    fd_grad(convT_objective, &c, c.x, nx, dxref, 1e-4);
    snprintf(what, sizeof what, "convT backward data N%d Cin%d %dx%d Cout%d K%d s%d p%d", N, Cin, H, W, Cout, K, s, p);
    CHECK_CLOSE(what, dxb, dxref, (long)nx, 1e-4, 1e-5);

    be->ops->conv2d_backward_filter(be, dw, NULL, r, x, N, Cout, Ho, Wo, Cin, K, s, p);
    double *dwb = from_be(dw, nw), *dwref = dalloc(nw);
    fd_grad(convT_objective, &c, c.w, nw, dwref, 1e-4);
    snprintf(what, sizeof what, "convT weight grad N%d Cin%d %dx%d Cout%d K%d s%d p%d", N, Cin, H, W, Cout, K, s, p);
    CHECK_CLOSE(what, dwb, dwref, (long)nw, 1e-4, 1e-4);

    free(yb); free(yref); free(dxb); free(dxref); free(dwb); free(dwref);
    free(c.x); free(c.w); free(c.r);
    be->ops->free(be, x); be->ops->free(be, w); be->ops->free(be, r);
    be->ops->free(be, y); be->ops->free(be, dx); be->ops->free(be, dw);
}

/* ---- instance norm --------------------------------------------------------------- */

typedef struct { int N, C, HW, relu; double *x, *g, *b, *r; } in_case;

static double in_objective(void *ctx)
{
    in_case *c = ctx;
    size_t n = (size_t)c->N * c->C * c->HW;
    double *y = dalloc(n);
    instnorm_ref(y, c->x, c->g, c->b, c->N, c->C, c->HW, NULL, NULL, NULL);
    if (c->relu) for (size_t i = 0; i < n; i++) y[i] = y[i] > 0 ? y[i] : 0;
    double v = dot(y, c->r, n);
    free(y);
    return v;
}

/* relu: the fused form, y = max(0, IN(x)) and the backward given y_relu = y */
static void test_instnorm(int N, int C, int HW, int relu)
{
    char what[128];
    const char *tag = relu ? " relu" : "";
    in_case c = { .N = N, .C = C, .HW = HW, .relu = relu };
    size_t n = (size_t)N * C * HW, np = (size_t)N * C;
    c.x = dalloc(n); c.g = dalloc(C); c.b = dalloc(C); c.r = dalloc(n);
    randfill(c.x, n, -2, 3); randfill(c.g, C, 0.5, 1.5); randfill(c.b, C, -0.5, 0.5); randfill(c.r, n, -1, 1);
    double *rm0 = dalloc(C), *rv0 = dalloc(C);
    randfill(rm0, C, -0.2, 0.2); randfill(rv0, C, 0.8, 1.2);
    float *x = to_be(c.x, n), *g = to_be(c.g, C), *b = to_be(c.b, C), *r = to_be(c.r, n);
    float *rm = to_be(rm0, C), *rv = to_be(rv0, C);
    float *y = be_zeros(n), *mean = be_zeros(np), *rstd = be_zeros(np), *dx = be_zeros(n);
    float *dg = to_be(c.g, C), *db = to_be(c.b, C);

    be->ops->instnorm_forward(be, y, mean, rstd, x, g, b, rm, rv, N, C, HW, 1e-5f, 0.1f, relu, NULL);
    double *yref = dalloc(n), *mref = dalloc(np), *vb = dalloc(np), *vu = dalloc(np);
    instnorm_ref(yref, c.x, c.g, c.b, N, C, HW, mref, vb, vu);
    /* the finite differences below (h 1e-5 moves IN(x) by ~1e-5) must not
     * step over the ReLU's kink */
    if (relu) {
        double kink = INFINITY;
        for (size_t i = 0; i < n; i++) if (fabs(yref[i]) < kink) kink = fabs(yref[i]);
        CHECK(kink > 1e-4, "instnorm relu N%d C%d HW%d: test data has IN(x) = %g, too near the "
              "ReLU's kink for the finite differences (change the data)", N, C, HW, kink);
        for (size_t i = 0; i < n; i++) yref[i] = yref[i] > 0 ? yref[i] : 0;
    }
    double *yb = from_be(y, n), *mb = from_be(mean, np), *rb = from_be(rstd, np);
    double *rsref = dalloc(np);
    for (size_t i = 0; i < np; i++) rsref[i] = 1 / sqrt(vb[i] + 1e-5);
    snprintf(what, sizeof what, "instnorm_forward%s y N%d C%d HW%d", tag, N, C, HW);
    CHECK_CLOSE(what, yb, yref, (long)n, 1e-5, 1e-5);
    {   /* a residual added in the same pass: y + residual, bit for bit what ops->add gives */
        float *yr = be_zeros(n), *ya = be_zeros(n), *ms = be_zeros(np), *rs = be_zeros(np);
        be->ops->instnorm_forward(be, yr, ms, rs, x, g, b, NULL, NULL, N, C, HW, 1e-5f, 0.1f, relu, r);
        be->ops->instnorm_forward(be, ya, ms, rs, x, g, b, NULL, NULL, N, C, HW, 1e-5f, 0.1f, relu, NULL);
        be->ops->add(be, ya, ya, r, n);
        double *yrb = from_be(yr, n), *yab = from_be(ya, n), *want = dalloc(n);
        for (size_t i = 0; i < n; i++) want[i] = yref[i] + c.r[i];
        snprintf(what, sizeof what, "instnorm_forward%s +residual y N%d C%d HW%d", tag, N, C, HW);
        CHECK_CLOSE(what, yrb, want, (long)n, 1e-5, 1e-5);
        CHECK(!memcmp(yrb, yab, n * sizeof(double)), "%s: bit-equal to the forward then add", what);
        free(yrb); free(yab); free(want);
        be->ops->free(be, yr); be->ops->free(be, ya); be->ops->free(be, ms); be->ops->free(be, rs);
    }
    CHECK_CLOSE("instnorm_forward mean", mb, mref, (long)np, 1e-5, 1e-6);
    CHECK_CLOSE("instnorm_forward rstd", rb, rsref, (long)np, 1e-5, 1e-6);
    /* PyTorch's rule: mean over n of ((1-m)*running + m*stat[n]) */
    double *rmref = dalloc(C), *rvref = dalloc(C);
    for (int ch = 0; ch < C; ch++) {
        for (int k = 0; k < N; k++) {
            rmref[ch] += 0.9 * rm0[ch] + 0.1 * mref[k * C + ch];
            rvref[ch] += 0.9 * rv0[ch] + 0.1 * vu[k * C + ch];
        }
        rmref[ch] /= N; rvref[ch] /= N;
    }
    double *rmb = from_be(rm, C), *rvb = from_be(rv, C);
    CHECK_CLOSE("instnorm running_mean", rmb, rmref, C, 1e-5, 1e-6);
    CHECK_CLOSE("instnorm running_var (unbiased)", rvb, rvref, C, 1e-5, 1e-6);

    be->ops->instnorm_backward(be, dx, dg, db, r, relu ? y : NULL, x, mean, rstd, g, N, C, HW);
    double *dxb = from_be(dx, n), *dgb = from_be(dg, C), *dbb = from_be(db, C);
    double *rb2 = from_be(r, n), *rf = dalloc(n);
    for (size_t i = 0; i < n; i++) rf[i] = (float)c.r[i];
    CHECK_CLOSE("instnorm_backward leaves dy as it was", rb2, rf, (long)n, 0, 0);
    double *dxref = dalloc(n), *dgref = dalloc(C), *dbref = dalloc(C);
    fd_grad(in_objective, &c, c.x, n, dxref, 1e-5);
    fd_grad(in_objective, &c, c.g, C, dgref, 1e-5);
    fd_grad(in_objective, &c, c.b, C, dbref, 1e-5);
    for (int ch = 0; ch < C; ch++) { dgref[ch] += c.g[ch]; dbref[ch] += c.b[ch]; }
    snprintf(what, sizeof what, "instnorm_backward%s dx N%d C%d HW%d", tag, N, C, HW);
    CHECK_CLOSE(what, dxb, dxref, (long)n, 1e-3, 1e-4);
    CHECK_CLOSE("instnorm_backward dgamma (+=)", dgb, dgref, C, 1e-4, 1e-4);
    CHECK_CLOSE("instnorm_backward dbeta (+=)", dbb, dbref, C, 1e-4, 1e-4);

    free(c.x); free(c.g); free(c.b); free(c.r); free(rm0); free(rv0); free(yref); free(mref);
    free(vb); free(vu); free(yb); free(mb); free(rb); free(rsref); free(rmref); free(rvref);
    free(rmb); free(rvb); free(dxb); free(dgb); free(dbb); free(dxref); free(dgref); free(dbref);
    free(rb2); free(rf);
    float *bufs[] = { x, g, b, r, rm, rv, y, mean, rstd, dx, dg, db };
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) be->ops->free(be, bufs[i]);
}

/* ---- elementwise ------------------------------------------------------------------ */

enum { ACT_LRELU, ACT_TANH };
typedef struct { int kind; size_t n; double *x, *r; } act_case;   /* separable: FD per element */

static double act_d(int kind, double x)
{
    return kind == ACT_LRELU ? (x > 0 ? x : 0.01 * x) : tanh(x);
}

/* y = LeakyReLU(x) (x: N, C, HW): the backend has it only fused after a bias
 * (bias_leaky_relu, D's forward), so with a zero bias */
static void leaky_forward(float *y, const float *x, float slope, int N, int C, int HW)
{
    float *zero = be_zeros((size_t)C);
    be->ops->copy(be, y, x, (size_t)N * C * HW * sizeof(float));
    be->ops->bias_leaky_relu(be, y, zero, slope, N, C, HW);
    be->ops->free(be, zero);
}
static void test_activation(int kind, const char *name)
{
    char what[96];
    size_t n = 70003;   /* on the thread pool, with a tail after the vectors */
    act_case c = { kind, n, dalloc(n), dalloc(n) };
    randfill_nokink(c.x, n); randfill(c.r, n, -1, 1);
    float *x = to_be(c.x, n), *r = to_be(c.r, n), *y = be_zeros(n), *dx = be_zeros(n);
    if (kind == ACT_LRELU) leaky_forward(y, x, 0.01f, 1, 1, (int)n);
    else be->ops->tanh_forward(be, y, x, n);
    double *yb = from_be(y, n), *yref = dalloc(n);
    for (size_t i = 0; i < n; i++) yref[i] = act_d(kind, c.x[i]);
    snprintf(what, sizeof what, "%s forward", name);
    CHECK_CLOSE(what, yb, yref, (long)n, 1e-6, 1e-7);
    if (kind == ACT_LRELU) be->ops->leaky_relu_backward(be, dx, r, x, 0.01f, n);
    else be->ops->tanh_backward(be, dx, r, y, n);
    double *dxb = from_be(dx, n), *dxref = dalloc(n);
    /* elementwise: FD of each term on its own (the objective is separable) */
    for (size_t i = 0; i < n; i++)
        dxref[i] = c.r[i] * (act_d(kind, c.x[i] + 1e-6) - act_d(kind, c.x[i] - 1e-6)) / 2e-6;
    snprintf(what, sizeof what, "%s backward", name);
    CHECK_CLOSE(what, dxb, dxref, (long)n, 1e-5, 1e-6);
    /* in place (out == in) gives the same */
    be->ops->copy(be, dx, r, n * sizeof(float));
    if (kind == ACT_LRELU) be->ops->leaky_relu_backward(be, dx, dx, x, 0.01f, n);
    else be->ops->tanh_backward(be, dx, dx, y, n);
    double *dx2 = from_be(dx, n);
    snprintf(what, sizeof what, "%s backward in place", name);
    CHECK_CLOSE(what, dx2, dxb, (long)n, 0, 0);
    free(c.x); free(c.r); free(yb); free(yref); free(dxb); free(dxref); free(dx2);
    be->ops->free(be, x); be->ops->free(be, r); be->ops->free(be, y); be->ops->free(be, dx);
}

/* sum over the first n_bias rows of r * LeakyReLU(z + b[c]) (z, r: N, C, HW) */
static double lrelu_bias_objective(const double *z, const double *r, const double *b, int n_bias, int C, int HW)
{
    double s = 0;
    for (int pl = 0; pl < n_bias * C; pl++)
        for (int i = 0; i < HW; i++) {
            size_t k = (size_t)pl * HW + i;
            s += r[k] * act_d(ACT_LRELU, z[k] + b[pl % C]);
        }
    return s;
}

/* D's backward through y = LeakyReLU(z + b) in one op (leaky_relu_backward_bias):
 * dx for every row from the sign of the forward's output, db += over the first
 * n_bias rows only (the D step's loss rows; the GP's rows after them carry no
 * bias gradient), against float64 finite differences; in place the same bits;
 * db NULL leaves the mask alone. On two threads, so the bias sums split. */
static void test_leaky_relu_bias_backward(void)
{
    const int N = 5, nb = 3, C = 4, HW = 1001;
    size_t n = (size_t)N * C * HW;
    double *z = dalloc(n), *r = dalloc(n), *b0 = dalloc(C), *d0 = dalloc(C);
    randfill_nokink(z, n); randfill(r, n, -1, 1); randfill(d0, C, -0.1, 0.1);
    float *zb = to_be(z, n), *rb = to_be(r, n), *y = be_zeros(n), *dx = be_zeros(n), *db = to_be(d0, C);
    leaky_forward(y, zb, 0.01f, N, C, HW);
    be->ops->leaky_relu_backward_bias(be, dx, db, rb, y, 0.01f, N, C, HW, nb);
    double *dxb = from_be(dx, n), *dbb = from_be(db, C), *dxref = dalloc(n), *dbref = dalloc(C);
    for (size_t i = 0; i < n; i++)
        dxref[i] = r[i] * (act_d(ACT_LRELU, z[i] + 1e-6) - act_d(ACT_LRELU, z[i] - 1e-6)) / 2e-6;
    CHECK_CLOSE("leaky_relu_backward_bias dx (every row)", dxb, dxref, (long)n, 1e-5, 1e-6);
    for (int ch = 0; ch < C; ch++) {
        b0[ch] = 1e-6;
        double up = lrelu_bias_objective(z, r, b0, nb, C, HW);
        b0[ch] = -1e-6;
        double down = lrelu_bias_objective(z, r, b0, nb, C, HW);
        b0[ch] = 0;
        dbref[ch] = (float)d0[ch] + (up - down) / 2e-6;
    }
    /* each db is a float sum of 3003 terms up to 1 in size, with partial sums
     * near 10: ~2e-5 of rounding; a row more or fewer moves it by ~10 */
    CHECK_CLOSE("leaky_relu_backward_bias db (+=, the first n_bias rows)", dbb, dbref, C, 1e-5, 1e-4);
    /* in place (dx == dy), as the model calls it: the same bits */
    be->ops->copy(be, dx, rb, n * sizeof(float));
    float *db2 = to_be(d0, C);
    be->ops->leaky_relu_backward_bias(be, dx, db2, dx, y, 0.01f, N, C, HW, nb);
    double *dx2 = from_be(dx, n), *db2b = from_be(db2, C);
    CHECK_CLOSE("leaky_relu_backward_bias in place: dx", dx2, dxb, (long)n, 0, 0);
    CHECK_CLOSE("leaky_relu_backward_bias in place: db", db2b, dbb, C, 0, 0);
    /* db NULL: leaky_relu_backward's bits */
    be->ops->leaky_relu_backward_bias(be, dx, NULL, rb, y, 0.01f, N, C, HW, nb);
    be->ops->leaky_relu_backward(be, y, rb, y, 0.01f, n);
    double *dx3 = from_be(dx, n), *mask = from_be(y, n);
    CHECK_CLOSE("leaky_relu_backward_bias db NULL: leaky_relu_backward", dx3, mask, (long)n, 0, 0);
    free(z); free(r); free(b0); free(d0); free(dxb); free(dbb); free(dxref); free(dbref);
    free(dx2); free(db2b); free(dx3); free(mask);
    float *bufs[] = { zb, rb, y, dx, db, db2 };
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) be->ops->free(be, bufs[i]);
}

static void test_add_lerp_concat(void)
{
    int N = 3, Cx = 3, Cc = 4, HW = 5 * 5;
    size_t nx = (size_t)N * Cx * HW, no = (size_t)N * (Cx + Cc) * HW;
    double *x = dalloc(nx), *y2 = dalloc(nx), *c = dalloc(N * Cc), *al = dalloc(N);
    randfill(x, nx, -1, 1); randfill(y2, nx, -1, 1); randfill(c, N * Cc, 0, 1); randfill(al, N, 0, 1);
    float *bx = to_be(x, nx), *by = to_be(y2, nx), *bc = to_be(c, N * Cc), *ba = to_be(al, N);
    float *out = be_zeros(no), *t = be_zeros(nx);

    be->ops->add(be, t, bx, by, nx);
    double *got = from_be(t, nx), *ref = dalloc(nx);
    for (size_t i = 0; i < nx; i++) ref[i] = (float)x[i] + (float)y2[i];
    CHECK_CLOSE("add", got, ref, (long)nx, 1e-7, 0);
    free(got);
    be->ops->lerp_images(be, t, bx, by, ba, N, (size_t)Cx * HW);
    got = from_be(t, nx);
    for (int n = 0; n < N; n++) for (int i = 0; i < Cx * HW; i++) {
        size_t k = (size_t)n * Cx * HW + i;
        ref[k] = (float)al[n] * (float)x[k] + (1 - (float)al[n]) * (float)y2[k];
    }
    CHECK_CLOSE("lerp_images", got, ref, (long)nx, 1e-6, 1e-7);
    free(got);

    be->ops->concat_labels(be, out, bx, bc, N, Cx, Cc, HW);
    double *o = from_be(out, no), *oref = dalloc(no);
    for (int n = 0; n < N; n++) for (int ch = 0; ch < Cx + Cc; ch++) for (int i = 0; i < HW; i++)
        oref[((size_t)n * (Cx + Cc) + ch) * HW + i] =
            ch < Cx ? (float)x[((size_t)n * Cx + ch) * HW + i] : (float)c[n * Cc + ch - Cx];
    CHECK_CLOSE("concat_labels", o, oref, (long)no, 0, 0);
    /* the concat's gradient w.r.t. the image is the first Cx channels of dy */
    be->ops->channel_slice(be, t, out, N, Cx + Cc, 0, Cx, HW);
    got = from_be(t, nx);
    for (size_t i = 0; i < nx; i++) ref[i] = (float)x[i];
    CHECK_CLOSE("channel_slice", got, ref, (long)nx, 0, 0);
    free(got);
    float *sl = be_zeros((size_t)N * 2 * HW);
    be->ops->channel_slice(be, sl, out, N, Cx + Cc, 4, 2, HW);
    double *s2 = from_be(sl, (size_t)N * 2 * HW), *s2ref = dalloc((size_t)N * 2 * HW);
    for (int n = 0; n < N; n++) for (int ch = 0; ch < 2; ch++) for (int i = 0; i < HW; i++)
        s2ref[((size_t)n * 2 + ch) * HW + i] = (float)c[n * Cc + 1 + ch];
    CHECK_CLOSE("channel_slice offset", s2, s2ref, (long)N * 2 * HW, 0, 0);
    free(x); free(y2); free(c); free(al); free(ref); free(o); free(oref); free(s2); free(s2ref);
    float *bufs[] = { bx, by, bc, ba, out, t, sl };
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) be->ops->free(be, bufs[i]);
}

/* ---- losses -------------------------------------------------------------------------- */

typedef struct { int kind, N, C, ldl, off, ldt, toff; double *z, *t, *b; size_t n; } loss_case;
enum { L_MEAN, L_BCE, L_CE, L_L1, L_GP };

static double loss_value(void *ctx)
{
    loss_case *c = ctx;
    double s = 0;
    switch (c->kind) {
    case L_MEAN: for (size_t i = 0; i < c->n; i++) s += c->z[i]; return -s / c->n;
    case L_L1: for (size_t i = 0; i < c->n; i++) s += fabs(c->z[i] - c->b[i]); return s / c->n;
    case L_BCE:
        for (int n = 0; n < c->N; n++) for (int j = 0; j < c->C; j++) {
            double z = c->z[n * c->ldl + c->off + j], t = c->t[n * c->ldt + c->toff + j];
            s += -(t * log(1 / (1 + exp(-z))) + (1 - t) * log(1 - 1 / (1 + exp(-z))));
        }
        return s / c->N;
    case L_CE:
        for (int n = 0; n < c->N; n++) {
            const double *z = c->z + n * c->ldl + c->off, *t = c->t + n * c->ldt + c->toff;
            int k = 0; double se = 0;
            for (int j = 1; j < c->C; j++) if (t[j] > t[k]) k = j;
            for (int j = 0; j < c->C; j++) se += exp(z[j]);
            s += log(se) - z[k];
        }
        return s / c->N;
    case L_GP:
        for (int n = 0; n < c->N; n++) {
            double ss = 0;
            for (int j = 0; j < c->C; j++) ss += c->z[n * c->C + j] * c->z[n * c->C + j];
            s += (sqrt(ss) - 1) * (sqrt(ss) - 1);
        }
        return s / c->N;
    }
    return 0;
}

static void test_loss(int kind, const char *name)
{
    char what[96];
    loss_case c = { .kind = kind, .N = 4, .C = 5, .ldl = 7, .off = 2, .ldt = 9, .toff = 3 };
    if (kind == L_GP) { c.ldl = c.C = 40; c.off = 0; }
    c.n = kind == L_MEAN || kind == L_L1 ? 37 : (size_t)c.N * c.ldl;
    c.z = dalloc(c.n); c.t = dalloc((size_t)c.N * c.ldt); c.b = dalloc(c.n);
    randfill(c.z, c.n, -3, 3); randfill(c.b, c.n, -3, 3);
    if (kind == L_GP) randfill(c.z, c.n, -0.3, 0.3);
    for (int i = 0; i < c.N * c.ldt; i++) c.t[i] = sg_randu(5, 5, draw_counter++) < 0.5;
    if (kind == L_CE)   /* one-hot targets inside the slice */
        for (int n = 0; n < c.N; n++) {
            for (int j = 0; j < c.C; j++) c.t[n * c.ldt + c.toff + j] = 0;
            c.t[n * c.ldt + c.toff + (n * 3 + 1) % c.C] = 1;
        }
    /* the float copies are what the backend sees; the reference uses them too */
    for (size_t i = 0; i < c.n; i++) { c.z[i] = (float)c.z[i]; c.b[i] = (float)c.b[i]; }
    /* L1 at d == 0 (tanh saturated to exactly +-1, pixel 0 or 255): PyTorch's
     * gradient is sign(0) = 0, as the central difference of |d| there */
    if (kind == L_L1)
        for (size_t i = 0; i < c.n; i += 5) c.b[i] = c.z[i];
    float *z = to_be(c.z, c.n), *t = to_be(c.t, (size_t)c.N * c.ldt), *b = to_be(c.b, c.n);
    float *loss = be_zeros(1), *grad = be_zeros(c.n);
    float weight = 2.5f;
    switch (kind) {
    case L_MEAN: be->ops->mean_loss(be, loss, grad, z, c.n, -1, weight); break;
    case L_L1: be->ops->l1_loss(be, loss, grad, z, b, c.n, weight); break;
    case L_BCE: be->ops->bce_logits_loss(be, loss, grad, z, c.ldl, c.off, t, c.ldt, c.toff, c.N, c.C, weight); break;
    case L_CE: be->ops->softmax_ce_loss(be, loss, grad, z, c.ldl, c.off, t, c.ldt, c.toff, c.N, c.C, weight); break;
    case L_GP: be->ops->gp_loss(be, loss, grad, z, c.N, c.C, weight); break;
    }
    double *lb = from_be(loss, 1), lref = loss_value(&c);
    snprintf(what, sizeof what, "%s value", name);
    CHECK_CLOSE(what, lb, &lref, 1, 1e-5, 1e-6);
    double *gb = from_be(grad, c.n), *gref = dalloc(c.n);
    fd_grad(loss_value, &c, c.z, c.n, gref, 1e-6);
    for (size_t i = 0; i < c.n; i++) gref[i] *= weight;
    snprintf(what, sizeof what, "%s gradient (weighted, FD)", name);
    if (kind == L_BCE || kind == L_CE) {
        /* columns outside the slice are untouched (zero from alloc) */
        CHECK_CLOSE(what, gb, gref, (long)c.n, 1e-4, 1e-6);
    } else {
        CHECK_CLOSE(what, gb, gref, (long)c.n, 1e-4, 1e-6);
    }
    free(lb); free(gb); free(gref); free(c.z); free(c.t); free(c.b);
    be->ops->free(be, z); be->ops->free(be, t); be->ops->free(be, b);
    be->ops->free(be, loss); be->ops->free(be, grad);
}

/* ---- Adam ------------------------------------------------------------------------------ */

static void test_adam(void)
{
    size_t n = 50000;
    double *p = dalloc(n), *g = dalloc(n), *m = dalloc(n), *v = dalloc(n);
    randfill(p, n, -1, 1);
    for (size_t i = 0; i < n; i++) p[i] = (float)p[i];
    float *bp = to_be(p, n), *bg = be_zeros(n), *bm = be_zeros(n), *bv = be_zeros(n);
    double lr = 1e-3, b1 = 0.5, b2 = 0.999, eps = 1e-8;
    for (int t = 1; t <= 3; t++) {
        randfill(g, n, -1e-2, 1e-2);
        for (size_t i = 0; i < n; i++) g[i] = (float)g[i];
        float *tmp = to_be(g, n);
        be->ops->copy(be, bg, tmp, n * sizeof(float));
        be->ops->free(be, tmp);
        be->ops->adam(be, bp, bg, bm, bv, n, (float)lr, b1, b2, (float)eps, t);
        double bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t);
        for (size_t i = 0; i < n; i++) {
            m[i] = b1 * m[i] + (1 - b1) * g[i];
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
            p[i] -= lr / bc1 * m[i] / (sqrt(v[i]) / sqrt(bc2) + eps);
        }
    }
    double *pb = from_be(bp, n), *mb = from_be(bm, n), *vb = from_be(bv, n);
    CHECK_CLOSE("adam param after 3 steps", pb, p, (long)n, 1e-6, 1e-7);
    /* float rounding alone (a few ulps): 1-b2 from a float b2 (1 - 0.999f)
     * would put every v 1.3e-5 below, as PyTorch's never is */
    CHECK_CLOSE("adam m", mb, m, (long)n, 2e-6, 2e-9);   /* m cancels: an absolute floor */
    CHECK_CLOSE("adam v", vb, v, (long)n, 2e-6, 0);
    CHECK(be->ops->all_finite(be, bp, n) == 1, "all_finite on finite params");
    float bad = NAN;
    be->ops->upload(be, bp + 1234, &bad, sizeof bad);
    CHECK(be->ops->all_finite(be, bp, n) == 0, "all_finite must see a NaN");
    free(p); free(g); free(m); free(v); free(pb); free(mb); free(vb);
    be->ops->free(be, bp); be->ops->free(be, bg); be->ops->free(be, bm); be->ops->free(be, bv);
}

/* ---- gradient penalty's weight gradient on a tiny D -----------------------------------
 * D: conv4x4 s2 p1 (3->C1, bias) LReLU, conv4x4 s2 p1 (C1->C2, bias) LReLU,
 * src head conv3x3 p1 (C2->1, no bias); x_hat (N,3,8,8). */
enum { GN = 2, GS = 8, GC1 = 4, GC2 = 6 };
typedef struct { double *x, *w1, *b1, *w2, *b2, *ws; } tinyd;

static double gp_value_ref(void *ctx)
{
    tinyd *d = ctx;
    int s1 = GS / 2, s2 = GS / 4;
    size_t n0 = (size_t)GN * 3 * GS * GS, n1 = (size_t)GN * GC1 * s1 * s1, n2 = (size_t)GN * GC2 * s2 * s2;
    double *z1 = dalloc(n1), *a1 = dalloc(n1), *z2 = dalloc(n2), *a2 = dalloc(n2);
    double *ones = dalloc((size_t)GN * s2 * s2), *g2 = dalloc(n2), *g1 = dalloc(n1), *u = dalloc(n0);
    conv_ref(z1, d->x, d->w1, d->b1, GN, 3, GS, GS, GC1, 4, 2, 1);
    for (size_t i = 0; i < n1; i++) a1[i] = z1[i] > 0 ? z1[i] : 0.01 * z1[i];
    conv_ref(z2, a1, d->w2, d->b2, GN, GC1, s1, s1, GC2, 4, 2, 1);
    for (size_t i = 0; i < n2; i++) a2[i] = z2[i] > 0 ? z2[i] : 0.01 * z2[i];
    for (int i = 0; i < GN * s2 * s2; i++) ones[i] = 1;
    conv_bwd_data_ref(g2, ones, d->ws, GN, GC2, s2, s2, 1, 3, 1, 1);
    for (size_t i = 0; i < n2; i++) if (!(z2[i] > 0)) g2[i] *= 0.01;
    conv_bwd_data_ref(g1, g2, d->w2, GN, GC1, s1, s1, GC2, 4, 2, 1);
    for (size_t i = 0; i < n1; i++) if (!(z1[i] > 0)) g1[i] *= 0.01;
    conv_bwd_data_ref(u, g1, d->w1, GN, 3, GS, GS, GC1, 4, 2, 1);
    double gp = 0;
    for (int n = 0; n < GN; n++) {
        double ss = 0;
        for (int i = 0; i < 3 * GS * GS; i++) ss += u[n * 3 * GS * GS + i] * u[n * 3 * GS * GS + i];
        gp += (sqrt(ss) - 1) * (sqrt(ss) - 1);
    }
    free(z1); free(a1); free(z2); free(a2); free(ones); free(g2); free(g1); free(u);
    return gp / GN;
}

static void test_gp_weight_gradient(void)
{
    int s1 = GS / 2, s2 = GS / 4;
    size_t n0 = (size_t)GN * 3 * GS * GS, n1 = (size_t)GN * GC1 * s1 * s1, n2 = (size_t)GN * GC2 * s2 * s2;
    size_t nw1 = GC1 * 3 * 16, nw2 = GC2 * GC1 * 16, nws = GC2 * 9, nsrc = (size_t)GN * s2 * s2;
    tinyd d = { dalloc(n0), dalloc(nw1), dalloc(GC1), dalloc(nw2), dalloc(GC2), dalloc(nws) };
    randfill(d.x, n0, -1, 1);
    /* weights large enough that ||u|| is of order 1 */
    randfill(d.w1, nw1, -0.6, 0.6); randfill(d.b1, GC1, -0.2, 0.2);
    randfill(d.w2, nw2, -0.6, 0.6); randfill(d.b2, GC2, -0.2, 0.2);
    randfill(d.ws, nws, -0.6, 0.6);
    double *ptrs[] = { d.x, d.w1, d.b1, d.w2, d.b2, d.ws };
    size_t sizes[] = { n0, nw1, GC1, nw2, GC2, nws };
    for (int k = 0; k < 6; k++) for (size_t i = 0; i < sizes[k]; i++) ptrs[k][i] = (float)ptrs[k][i];
    float *x = to_be(d.x, n0), *w1 = to_be(d.w1, nw1), *b1 = to_be(d.b1, GC1);
    float *w2 = to_be(d.w2, nw2), *b2 = to_be(d.b2, GC2), *ws = to_be(d.ws, nws);
    float *z1 = be_zeros(n1), *a1 = be_zeros(n1), *z2 = be_zeros(n2), *a2 = be_zeros(n2);
    float *src = be_zeros(nsrc), *ones = be_zeros(nsrc), *g2 = be_zeros(n2), *h2 = be_zeros(n2);
    float *g1 = be_zeros(n1), *h1 = be_zeros(n1), *u = be_zeros(n0), *du = be_zeros(n0);
    float *dg1 = be_zeros(n1), *dg2 = be_zeros(n2), *loss = be_zeros(1);
    float *dw1 = be_zeros(nw1), *dw2 = be_zeros(nw2), *dws = be_zeros(nws);
    const sg_backend_ops *o = be->ops;

    /* forward */
    o->conv2d_forward(be, z1, x, w1, b1, GN, 3, GS, GS, GC1, 4, 2, 1);
    leaky_forward(a1, z1, 0.01f, GN, GC1, s1 * s1);
    o->conv2d_forward(be, z2, a1, w2, b2, GN, GC1, s1, s1, GC2, 4, 2, 1);
    leaky_forward(a2, z2, 0.01f, GN, GC2, s2 * s2);
    o->conv2d_forward(be, src, a2, ws, NULL, GN, GC2, s2, s2, 1, 3, 1, 1);
    /* the chain u = dD_src/dx_hat with grad_outputs = ones */
    o->fill(be, ones, 1.0f, nsrc);
    o->conv2d_backward_data(be, g2, ones, ws, GN, GC2, s2, s2, 1, 3, 1, 1);
    o->leaky_relu_backward(be, h2, g2, z2, 0.01f, n2);
    o->conv2d_backward_data(be, g1, h2, w2, GN, GC1, s1, s1, GC2, 4, 2, 1);
    o->leaky_relu_backward(be, h1, g1, z1, 0.01f, n1);
    o->conv2d_backward_data(be, u, h1, w1, GN, 3, GS, GS, GC1, 4, 2, 1);
    o->gp_loss(be, loss, du, u, GN, 3 * GS * GS, 1.0f);
    /* its backward, bottom up */
    o->conv2d_backward_filter(be, dw1, NULL, du, h1, GN, 3, GS, GS, GC1, 4, 2, 1);
    o->conv2d_forward(be, dg1, du, w1, NULL, GN, 3, GS, GS, GC1, 4, 2, 1);
    o->leaky_relu_backward(be, dg1, dg1, z1, 0.01f, n1);
    o->conv2d_backward_filter(be, dw2, NULL, dg1, h2, GN, GC1, s1, s1, GC2, 4, 2, 1);
    o->conv2d_forward(be, dg2, dg1, w2, NULL, GN, GC1, s1, s1, GC2, 4, 2, 1);
    o->leaky_relu_backward(be, dg2, dg2, z2, 0.01f, n2);
    o->conv2d_backward_filter(be, dws, NULL, dg2, ones, GN, GC2, s2, s2, 1, 3, 1, 1);

    double *lb = from_be(loss, 1), lref = gp_value_ref(&d);
    CHECK_CLOSE("tiny D: GP value", lb, &lref, 1, 1e-5, 1e-6);
    CHECK(lref > 1e-3, "tiny D: GP value %g should not be ~0 (weak test)", lref);
    double *got[] = { from_be(dw1, nw1), from_be(dw2, nw2), from_be(dws, nws) };
    double *par[] = { d.w1, d.w2, d.ws };
    size_t np[] = { nw1, nw2, nws };
    const char *names[] = { "tiny D: dGP/dW1 vs FD", "tiny D: dGP/dW2 vs FD", "tiny D: dGP/dW_src vs FD" };
    for (int k = 0; k < 3; k++) {
        double *ref = dalloc(np[k]);
        fd_grad(gp_value_ref, &d, par[k], np[k], ref, 1e-6);
        CHECK_CLOSE(names[k], got[k], ref, (long)np[k], 1e-3, 1e-5);
        free(ref); free(got[k]);
    }
    /* biases get nothing from the GP: check FD agrees */
    double *fb = dalloc(GC2), zero[GC2] = { 0 };
    fd_grad(gp_value_ref, &d, d.b2, GC2, fb, 1e-6);
    CHECK_CLOSE("tiny D: dGP/db2 is zero", fb, zero, GC2, 0, 1e-6);
    free(fb); free(lb);
    for (int k = 0; k < 6; k++) free(ptrs[k]);
    float *bufs[] = { x, w1, b1, w2, b2, ws, z1, a1, z2, a2, src, ones, g2, h2, g1, h1, u, du,
                      dg1, dg2, loss, dw1, dw2, dws };
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) o->free(be, bufs[i]);
}

int main(void)
{
    sg_err err;
    be = sg_backend_cpu_create(2, &err);
    if (!be) { printf("FAIL cpu backend: %s\n", err.msg); return 1; }

    /* conv: the model's shapes in small */
    test_conv(2, 3, 6, 6, 4, 3, 1, 1, 0, 1);      /* residual 3x3 */
    test_conv(2, 3, 8, 8, 4, 4, 2, 1, 1, 1);      /* down-sampling / D 4x4 s2 */
    test_conv(1, 2, 7, 7, 3, 4, 2, 1, 1, 1);      /* odd size, one image */
    test_conv(5, 3, 8, 8, 4, 4, 2, 1, 1, 1);      /* several images per thread */
    test_conv(2, 4, 9, 9, 3, 7, 1, 3, 0, 1);      /* G 7x7 */
    test_conv(3, 4, 2, 2, 1, 3, 1, 1, 0, 1);      /* D src head on 2x2 */
    test_conv(3, 4, 4, 4, 5, 4, 1, 0, 0, 1);      /* D cls head: kernel = size */
    test_conv(3, 64, 64, 64, 8, 4, 1, 2, 1, 0);   /* big: several image chunks */
    test_conv(5, 32, 16, 16, 24, 3, 1, 1, 0, 0);  /* batched GEMM, threads */
    test_conv(4, 16, 8, 8, 32, 4, 2, 1, 1, 0);    /* model shapes */
    test_conv(4, 8, 16, 16, 16, 4, 2, 1, 1, 0);
    test_conv(4, 3, 32, 32, 8, 4, 2, 1, 1, 0);
    test_conv(4, 32, 4, 4, 1, 3, 1, 1, 0, 0);
    test_conv(2, 8, 7, 7, 9, 3, 1, 1, 1, 1);      /* Winograd 3x3, odd size: partial tiles */
    test_conv(2, 10, 5, 5, 8, 3, 1, 1, 1, 1);     /* Winograd also for conv^T (flipped) */
    test_conv(3, 5, 36, 36, 3, 7, 1, 3, 1, 0);    /* direct loops, 4-vector blocks + a tail */
    test_conv(2, 6, 40, 40, 4, 3, 1, 1, 1, 0);
    /* transposed conv 4x4 s2 p1 (G's up-sampling) */
    test_convT(2, 4, 3, 3, 3, 4, 2, 1);
    test_convT(1, 3, 4, 4, 2, 4, 2, 1);
    test_instnorm(2, 3, 5 * 5, 0);
    test_instnorm(3, 4, 16 * 16, 0);   /* above the threading threshold */
    test_instnorm(2, 3, 5 * 5, 1);     /* fused ReLU: vectors and a scalar tail */
    test_instnorm(3, 4, 16 * 16, 1);
    test_activation(ACT_LRELU, "leaky_relu");
    test_activation(ACT_TANH, "tanh");
    test_leaky_relu_bias_backward();
    test_add_lerp_concat();
    test_loss(L_MEAN, "mean_loss");
    test_loss(L_BCE, "bce_logits_loss");
    test_loss(L_CE, "softmax_ce_loss");
    test_loss(L_L1, "l1_loss");
    test_loss(L_GP, "gp_loss");
    test_adam();
    test_gp_weight_gradient();

    if (be->ops->sync(be, &err) != 0) CHECK(0, "backend error: %s", err.msg);
    sg_backend_destroy(be);
    return check_done();
}
