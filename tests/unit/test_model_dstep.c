/* The D step (sg_model_d_step) against a plain, unbatched computation of the
 * same loss in float64: three separate passes of D on N images each (real:
 * -mean(src) + lambda_cls*cls, fake: mean(src), x_hat: lambda_gp*GP with the
 * gradient-penalty chain of DESIGN.md), each with its own backward, naive
 * loops, no backend. The model runs D once on the 3N images [real | fake |
 * x_hat] and backpropagates all three together, the x_hat rows from the GP's
 * seed of ones (the first half of its chain; lib/model.c, d_step_body), so
 * this pins down which rows each loss term and each gradient reads: a loss on
 * the wrong half, a cls gradient on the fake rows, the GP's masks from the
 * wrong rows or a weight gradient over the wrong rows (x_hat's included) all fail
 * here by far more than float rounding. The four losses and every D gradient
 * are compared, for both kinds of classification loss (BCE and one-hot
 * cross-entropy) on the first dataset and on the second (whose labels start
 * at column 3: a loss reading columns 0.. there fails), for a batch smaller than the capacity and then a full one
 * on the same model, on the CPU backend (1 and 3 threads) and on the NHWC
 * emulation of CUDA's layout. G's fakes are taken from sg_model_generate with
 * the same weights (per-image IN statistics, as in the step). */
#include "backend.h"
#include "check.h"
#include "conv_ref.h"
#include "model.h"
#include "nhwc_emulator.h"
#include "rng.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SLOPE 0.01

static double *dzeros(size_t n) { return calloc(n ? n : 1, sizeof(double)); }

/* g *= LeakyReLU'(z) */
static void mask_mul(double *g, const double *z, size_t n)
{
    for (size_t i = 0; i < n; i++) if (!(z[i] > 0)) g[i] *= SLOPE;
}

/* ---- D in float64 ------------------------------------------------------------ */

typedef struct { int ci, co, k, s, p, hin, hout; double *w, *b, *dw, *db; } ref_conv;

typedef struct {
    int L, S, cls_dim;
    ref_conv conv[12], src, cls;
    double **z, **a;         /* per layer, one pass of N images */
} ref_d;

static size_t ref_out(const ref_conv *c, int N) { return (size_t)N * c->co * c->hout * c->hout; }

static void ref_conv_init(ref_conv *c, int ci, int co, int k, int s, int p, int hin, int bias)
{
    c->ci = ci; c->co = co; c->k = k; c->s = s; c->p = p; c->hin = hin;
    c->hout = conv_out_size(hin, k, s, p);
    c->w = dzeros((size_t)co * ci * k * k); c->dw = dzeros((size_t)co * ci * k * k);
    c->b = bias ? dzeros(co) : NULL; c->db = bias ? dzeros(co) : NULL;
}

static void ref_conv_free(ref_conv *c) { free(c->w); free(c->dw); free(c->b); free(c->db); }

/* D's shapes for cfg (lib/model.c build_d), buffers for N images per pass */
static void ref_d_init(ref_d *r, const sg_model_config *cfg, int N)
{
    r->L = cfg->d_repeat; r->S = cfg->image_size; r->cls_dim = sg_model_cls_dim(cfg);
    int h = r->S, ci = 3, co = cfg->d_conv_dim;
    r->z = calloc(r->L, sizeof *r->z); r->a = calloc(r->L, sizeof *r->a);
    for (int l = 0; l < r->L; l++) {
        ref_conv_init(&r->conv[l], ci, co, 4, 2, 1, h, 1);
        r->z[l] = dzeros(ref_out(&r->conv[l], N)); r->a[l] = dzeros(ref_out(&r->conv[l], N));
        ci = co; co *= 2; h /= 2;
    }
    ref_conv_init(&r->src, ci, 1, 3, 1, 1, h, 0);
    ref_conv_init(&r->cls, ci, r->cls_dim, h, 1, 0, h, 0);
}

static void ref_d_free(ref_d *r)
{
    for (int l = 0; l < r->L; l++) { ref_conv_free(&r->conv[l]); free(r->z[l]); free(r->a[l]); }
    ref_conv_free(&r->src); ref_conv_free(&r->cls);
    free(r->z); free(r->a);
}

/* The model's D weights into r (zeroing r's gradients); 0 or -1 (reported). */
static int ref_d_load(ref_d *r, sg_model *m)
{
    const sg_tensor_info *ti;
    int nt = sg_model_tensors(m, SG_NET_D, &ti);
    sg_err err;
    for (int i = 0; i < nt; i++) {
        double *dst = NULL, *grad = NULL;
        char name[64];
        for (int l = 0; l < r->L && !dst; l++) {
            snprintf(name, sizeof name, "main.%d.weight", 2 * l);
            if (!strcmp(ti[i].name, name)) { dst = r->conv[l].w; grad = r->conv[l].dw; }
            snprintf(name, sizeof name, "main.%d.bias", 2 * l);
            if (!strcmp(ti[i].name, name)) { dst = r->conv[l].b; grad = r->conv[l].db; }
        }
        if (!strcmp(ti[i].name, "conv1.weight")) { dst = r->src.w; grad = r->src.dw; }
        if (!strcmp(ti[i].name, "conv2.weight")) { dst = r->cls.w; grad = r->cls.dw; }
        if (!dst) { CHECK(0, "unexpected D tensor %s", ti[i].name); return -1; }
        float *f = malloc(ti[i].numel * sizeof *f);
        if (sg_model_get_tensor(m, SG_NET_D, i, f, &err)) { CHECK(0, "%s", err.msg); free(f); return -1; }
        for (size_t k = 0; k < ti[i].numel; k++) { dst[k] = f[k]; grad[k] = 0; }
        free(f);
    }
    return 0;
}

/* The trunk on x (N,3,S,S) into r->z, r->a */
static void ref_trunk(ref_d *r, const double *x, int N)
{
    for (int l = 0; l < r->L; l++) {
        const ref_conv *c = &r->conv[l];
        conv_ref(r->z[l], l ? r->a[l - 1] : x, c->w, c->b, N, c->ci, c->hin, c->hin, c->co, c->k, c->s, c->p);
        size_t n = ref_out(c, N);
        for (size_t i = 0; i < n; i++) r->a[l][i] = r->z[l][i] > 0 ? r->z[l][i] : SLOPE * r->z[l][i];
    }
}

/* Backward of the trunk's last pass from the heads' gradients (dcls may be NULL): weight gradients += */
static void ref_backward(ref_d *r, const double *x, const double *dsrc, const double *dcls, int N)
{
    const double *top = r->a[r->L - 1];
    const ref_conv *hs = &r->src, *hc = &r->cls;
    size_t ntop = (size_t)N * hs->ci * hs->hin * hs->hin;
    double *g = dzeros(ntop), *t = dzeros(ntop);
    conv_bwd_filter_ref(hs->dw, NULL, top, dsrc, N, hs->ci, hs->hin, hs->hin, 1, hs->k, hs->s, hs->p);
    conv_bwd_data_ref(g, dsrc, hs->w, N, hs->ci, hs->hin, hs->hin, 1, hs->k, hs->s, hs->p);
    if (dcls) {
        conv_bwd_filter_ref(hc->dw, NULL, top, dcls, N, hc->ci, hc->hin, hc->hin, hc->co, hc->k, hc->s, hc->p);
        conv_bwd_data_ref(t, dcls, hc->w, N, hc->ci, hc->hin, hc->hin, hc->co, hc->k, hc->s, hc->p);
        for (size_t i = 0; i < ntop; i++) g[i] += t[i];
    }
    free(t);
    for (int l = r->L - 1; l >= 0; l--) {
        const ref_conv *c = &r->conv[l];
        mask_mul(g, r->z[l], ref_out(c, N));
        conv_bwd_filter_ref(c->dw, c->db, l ? r->a[l - 1] : x, g, N, c->ci, c->hin, c->hin, c->co, c->k, c->s, c->p);
        if (!l) break;
        double *gin = dzeros((size_t)N * c->ci * c->hin * c->hin);
        conv_bwd_data_ref(gin, g, c->w, N, c->ci, c->hin, c->hin, c->co, c->k, c->s, c->p);
        free(g);
        g = gin;
    }
    free(g);
}

/* The classification loss of dataset ds on logits (N, cls_dim) against the
 * label vectors (N, c_dim), and lambda * its gradient into grad (N, cls_dim) */
static double ref_cls_loss(const sg_model_config *cfg, int ds, const double *z, const float *labels,
                           double *grad, int N)
{
    int cls_dim = sg_model_cls_dim(cfg), c_dim = sg_model_c_dim(cfg);
    int off = sg_model_label_offset(cfg, ds), C = cfg->label_dim[ds];
    double lam = cfg->lambda_cls, loss = 0;
    memset(grad, 0, (size_t)N * cls_dim * sizeof *grad);
    for (int n = 0; n < N; n++) {
        const double *zr = z + (size_t)n * cls_dim + off;
        const float *t = labels + (size_t)n * c_dim + off;
        double *gr = grad + (size_t)n * cls_dim + off;
        if (cfg->one_hot[ds]) {
            int k = 0;
            for (int j = 1; j < C; j++) if (t[j] > t[k]) k = j;
            double mx = zr[0], se = 0;
            for (int j = 1; j < C; j++) if (zr[j] > mx) mx = zr[j];
            for (int j = 0; j < C; j++) se += exp(zr[j] - mx);
            loss += mx + log(se) - zr[k];
            for (int j = 0; j < C; j++) gr[j] = lam * (exp(zr[j] - mx) / se - (j == k)) / N;
        } else {
            for (int j = 0; j < C; j++) {
                double v = zr[j];
                loss += (v > 0 ? v : 0) - v * t[j] + log1p(exp(-fabs(v)));
                gr[j] = lam * (1 / (1 + exp(-v)) - t[j]) / N;
            }
        }
    }
    return loss / N;
}

/* The D loss terms of the reference solver for one batch, each from its own
 * pass over N images; weight gradients of the weighted sum into r. */
static void ref_d_step(ref_d *r, const sg_model_config *cfg, int ds, const double *x, const double *fake,
                       const double *x_hat, const float *c_org, int N, double loss[4])
{
    const ref_conv *hs = &r->src, *hc = &r->cls;
    size_t nsrc = (size_t)N * hs->hout * hs->hout, img = (size_t)N * 3 * r->S * r->S;
    double *src = dzeros(nsrc), *dsrc = dzeros(nsrc), *ones = dzeros(nsrc);
    double *cls = dzeros((size_t)N * r->cls_dim), *dcls = dzeros((size_t)N * r->cls_dim);
    for (size_t i = 0; i < nsrc; i++) ones[i] = 1;
    /* real: -mean(src) + lambda_cls * cls */
    ref_trunk(r, x, N);
    conv_ref(src, r->a[r->L - 1], hs->w, NULL, N, hs->ci, hs->hin, hs->hin, 1, hs->k, hs->s, hs->p);
    conv_ref(cls, r->a[r->L - 1], hc->w, NULL, N, hc->ci, hc->hin, hc->hin, hc->co, hc->k, hc->s, hc->p);
    loss[0] = 0;
    for (size_t i = 0; i < nsrc; i++) { loss[0] -= src[i] / nsrc; dsrc[i] = -1.0 / nsrc; }
    loss[2] = ref_cls_loss(cfg, ds, cls, c_org, dcls, N);
    ref_backward(r, x, dsrc, dcls, N);
    /* fake: mean(src) */
    ref_trunk(r, fake, N);
    conv_ref(src, r->a[r->L - 1], hs->w, NULL, N, hs->ci, hs->hin, hs->hin, 1, hs->k, hs->s, hs->p);
    loss[1] = 0;
    for (size_t i = 0; i < nsrc; i++) { loss[1] += src[i] / nsrc; dsrc[i] = 1.0 / nsrc; }
    ref_backward(r, fake, dsrc, NULL, N);
    /* GP on x_hat: u = dD_src/dx_hat through the chain (h[l]: the masked
     * gradient at layer l's output), then the chain's own backward */
    ref_trunk(r, x_hat, N);
    double **h = calloc(r->L, sizeof *h);
    double *g = dzeros(ref_out(&r->conv[r->L - 1], N));
    conv_bwd_data_ref(g, ones, hs->w, N, hs->ci, hs->hin, hs->hin, 1, hs->k, hs->s, hs->p);
    for (int l = r->L - 1; l >= 0; l--) {
        const ref_conv *c = &r->conv[l];
        h[l] = g;
        mask_mul(h[l], r->z[l], ref_out(c, N));
        g = dzeros((size_t)N * c->ci * c->hin * c->hin);
        conv_bwd_data_ref(g, h[l], c->w, N, c->ci, c->hin, c->hin, c->co, c->k, c->s, c->p);
    }
    double *u = g, *delta = dzeros(img), lam = cfg->lambda_gp;
    size_t per = img / N;
    loss[3] = 0;
    for (int n = 0; n < N; n++) {
        double ss = 0;
        for (size_t i = 0; i < per; i++) ss += u[n * per + i] * u[n * per + i];
        double norm = sqrt(ss);
        loss[3] += (norm - 1) * (norm - 1) / N;
        for (size_t i = 0; i < per; i++) delta[n * per + i] = lam * 2 * (norm - 1) * u[n * per + i] / (norm * N);
    }
    for (int l = 0; l < r->L; l++) {
        const ref_conv *c = &r->conv[l];
        conv_bwd_filter_ref(c->dw, NULL, delta, h[l], N, c->ci, c->hin, c->hin, c->co, c->k, c->s, c->p);
        double *next = dzeros(ref_out(c, N));
        conv_ref(next, delta, c->w, NULL, N, c->ci, c->hin, c->hin, c->co, c->k, c->s, c->p);
        mask_mul(next, r->z[l], ref_out(c, N));
        free(delta);
        delta = next;
    }
    conv_bwd_filter_ref(hs->dw, NULL, delta, ones, N, hs->ci, hs->hin, hs->hin, 1, hs->k, hs->s, hs->p);
    for (int l = 0; l < r->L; l++) free(h[l]);
    free(h); free(u); free(delta);
    free(src); free(dsrc); free(ones); free(cls); free(dcls);
}

/* ---- the test ---------------------------------------------------------------- */

static uint64_t draws;
static double uniform(void) { return sg_randu(2024, 5, draws++); }

/* A label vector for dataset ds (its slot set, the others zero, mask one-hot) */
static void make_label(const sg_model_config *cfg, int ds, float *c)
{
    int c_dim = sg_model_c_dim(cfg), off = sg_model_label_offset(cfg, ds), C = cfg->label_dim[ds];
    memset(c, 0, c_dim * sizeof *c);
    if (cfg->one_hot[ds]) c[off + (int)(uniform() * C) % C] = 1;
    else for (int j = 0; j < C; j++) c[off + j] = uniform() < 0.5 ? 1 : 0;
    if (cfg->n_datasets > 1) c[sg_model_cls_dim(cfg) + ds] = 1;
}

/* |got - want| <= rtol*|want| + atol_rel*max|want| for every element */
static void compare(const char *what, const double *got, const double *want, size_t n,
                    double rtol, double atol_rel, double *worst)
{
    double maxabs = 0;
    for (size_t i = 0; i < n; i++) if (fabs(want[i]) > maxabs) maxabs = fabs(want[i]);
    double atol = atol_rel * maxabs > 1e-12 ? atol_rel * maxabs : 1e-12;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(got[i] - want[i]) / (rtol * fabs(want[i]) + atol);
        if (e > *worst) *worst = e;
    }
    CHECK_CLOSE(what, got, want, (long)n, rtol, atol);
}

/* One model of cfg on be; for each batch size in sizes: a D step on a fresh
 * batch of dataset ds against the float64 reference. */
static void dstep_case(sg_backend *be, const sg_model_config *cfg, int ds, double *worst)
{
    sg_err err;
    sg_model *m;
    if (sg_model_create(&m, cfg, be, 5, &err)) { CHECK(0, "create: %s", err.msg); return; }
    int cap = cfg->batch, S = cfg->image_size, c_dim = sg_model_c_dim(cfg);
    size_t per = (size_t)3 * S * S;
    int sizes[2] = { cap - 2, cap };
    for (int k = 0; k < 2; k++) {
        int N = sizes[k];
        float *x = malloc(N * per * sizeof *x), *fake = malloc(N * per * sizeof *fake);
        float *c_org = malloc((size_t)N * c_dim * sizeof *c_org), *c_trg = malloc((size_t)N * c_dim * sizeof *c_trg);
        float *alpha = malloc(N * sizeof *alpha);
        double *dx = dzeros(N * per), *dfake = dzeros(N * per), *dhat = dzeros(N * per);
        for (size_t i = 0; i < N * per; i++) x[i] = (float)(2 * uniform() - 1);
        for (int n = 0; n < N; n++) {
            make_label(cfg, ds, c_org + (size_t)n * c_dim);
            make_label(cfg, ds, c_trg + (size_t)n * c_dim);
            alpha[n] = (float)uniform();
        }
        ref_d r;
        ref_d_init(&r, cfg, N);
        sg_losses L;
        if (ref_d_load(&r, m) || sg_model_set_batch(m, ds, N, x, c_org, c_trg, alpha, &err) ||
            sg_model_generate(m, N, x, c_trg, fake, &err) || sg_model_d_step(m, 1e-4f, &err) ||
            sg_model_read_losses(m, &L, &err)) {
            CHECK(0, "%s, dataset %d, batch %d: %s", be->name, ds, N, err.msg);
        } else {
            /* x_hat from the float images as the model forms it (alpha*x + (1-alpha)*fake) */
            for (int n = 0; n < N; n++)
                for (size_t i = 0; i < per; i++) {
                    size_t j = n * per + i;
                    dx[j] = x[j]; dfake[j] = fake[j];
                    dhat[j] = (double)alpha[n] * x[j] + (1 - (double)alpha[n]) * fake[j];
                }
            double want[4], got[4] = { L.d_loss_real, L.d_loss_fake, L.d_loss_cls, L.d_loss_gp };
            ref_d_step(&r, cfg, ds, dx, dfake, dhat, c_org, N, want);
            const char *names[4] = { "D/loss_real", "D/loss_fake", "D/loss_cls", "D/loss_gp" };
            char what[160];
            for (int t = 0; t < 4; t++) {
                snprintf(what, sizeof what, "%s, dataset %d, batch %d of %d: %s", be->name, ds, N, cap, names[t]);
                compare(what, &got[t], &want[t], 1, 1e-5, 1e-6, &worst[0]);
            }
            const sg_tensor_info *ti;
            int nt = sg_model_tensors(m, SG_NET_D, &ti);
            for (int i = 0; i < nt; i++) {
                const double *g = NULL;
                char name[64];
                for (int l = 0; l < r.L; l++) {
                    snprintf(name, sizeof name, "main.%d.weight", 2 * l);
                    if (!strcmp(ti[i].name, name)) g = r.conv[l].dw;
                    snprintf(name, sizeof name, "main.%d.bias", 2 * l);
                    if (!strcmp(ti[i].name, name)) g = r.conv[l].db;
                }
                if (!strcmp(ti[i].name, "conv1.weight")) g = r.src.dw;
                if (!strcmp(ti[i].name, "conv2.weight")) g = r.cls.dw;
                float *f = malloc(ti[i].numel * sizeof *f);
                double *d = dzeros(ti[i].numel);
                if (!g || sg_model_get_grad(m, SG_NET_D, i, f, &err)) CHECK(0, "gradient of %s", ti[i].name);
                else {
                    for (size_t e = 0; e < ti[i].numel; e++) d[e] = f[e];
                    snprintf(what, sizeof what, "%s, dataset %d, batch %d of %d: grad %s", be->name, ds, N, cap,
                             ti[i].name);
                    compare(what, d, g, ti[i].numel, 1e-4, 1e-5, &worst[1]);
                }
                free(f); free(d);
            }
        }
        ref_d_free(&r);
        free(x); free(fake); free(c_org); free(c_trg); free(alpha); free(dx); free(dfake); free(dhat);
    }
    sg_model_free(m);
}

int main(void)
{
    /* two datasets, D 3 layers at 16 px (2x2 src map, cls kernel 2), with
     * each kind of classification loss at offset 0 and at offset 3: BCE (3
     * attributes) + one-hot cross-entropy (4 classes), two multi-hot sets (as
     * celeb-split's celebA + celebB), and one-hot (3 classes) + BCE (4). */
    static const struct { int label_dim[2], one_hot[2]; } kinds[] = {
        { { 3, 4 }, { 0, 1 } }, { { 3, 4 }, { 0, 0 } }, { { 3, 4 }, { 1, 0 } },
    };
    double worst[2] = { 0, 0 };
    sg_err err;
    for (int v = 0; v < MODEL_TEST_BACKENDS; v++) {
        const char *label;
        sg_backend *be = model_test_backend(v, &label, &err);
        if (!be) { CHECK(0, "backend: %s", err.msg); continue; }
        for (size_t kd = 0; kd < sizeof kinds / sizeof kinds[0]; kd++) {
            sg_model_config cfg = { .image_size = 16, .n_datasets = 2,
                                    .label_dim = { kinds[kd].label_dim[0], kinds[kd].label_dim[1] },
                                    .one_hot = { kinds[kd].one_hot[0], kinds[kd].one_hot[1] },
                                    .g_conv_dim = 4, .g_repeat = 1, .d_conv_dim = 4, .d_repeat = 3, .batch = 5,
                                    .lambda_cls = 1, .lambda_rec = 10, .lambda_gp = 10, .beta1 = 0.5,
                                    .beta2 = 0.999 };
            printf("backend %s, labels %d%s + %d%s\n", label, cfg.label_dim[0], cfg.one_hot[0] ? " one-hot" : "",
                   cfg.label_dim[1], cfg.one_hot[1] ? " one-hot" : "");
            for (int ds = 0; ds < 2; ds++) dstep_case(be, &cfg, ds, worst);
        }
        sg_backend_destroy(be);
    }
    printf("worst error / tolerance: losses %.3g, gradients %.3g\n", worst[0], worst[1]);
    return check_done();
}
