/* StarGAN's G and D on a backend (model.h): the reference's architecture and
 * state_dict layout, one D step and one G step with the reference solver's
 * losses, the gradient penalty as the linear chain of DESIGN.md.
 *
 * Memory per net: the trainable tensors (state_dict order) in one block, their
 * gradients in one, Adam's m and v in one each (so Adam is one call), the
 * running statistics in one more; activations for the batch capacity are
 * allocated once at creation.
 *
 * A generator-only model (sg_model_create_generator) has G's parameters and
 * statistics only, and one inference tape whose layers share six buffers
 * (the conv output, the IN statistics pair and a ring of three: see
 * alloc_gen_tape); every D and training entry point checks
 * m->gen_only first and refuses. */
#include "model.h"
#include "model_testing.h"
#include "backend.h"
#include "env.h"
#include "rng.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LRELU_SLOPE 0.01f
#define IN_EPS 1e-5f
#define IN_MOMENTUM 0.1f
#define ADAM_EPS 1e-8f

enum { L_D_REAL, L_D_FAKE, L_D_CLS, L_D_GP, L_G_FAKE, L_G_REC, L_G_CLS, L_COUNT };

/* Step graph keys per dataset: the D step, the G step, and the G step that
 * reuses the D step's tape (a different body, so a graph of its own); the D
 * step's other bodies (see d_step_body): v = 2 * fakes_ready + prefetch
 * (1..3), or 4 + fakes_ready with the G step's reconstruction (4, 5); and
 * the G step whose reconstruction ran in the D step. */
#define GRAPH_KEY_D(ds) (2 * (ds))
#define GRAPH_KEY_G(ds) (2 * (ds) + 1)
#define GRAPH_KEY_G_REUSE(ds) (2 * SG_MAX_DATASETS + (ds))
#define D_VARIANTS 6
#define GRAPH_KEY_D_VARIANT(ds, v) \
    ((v) ? 3 * SG_MAX_DATASETS + (D_VARIANTS - 1) * (ds) + (v) - 1 : GRAPH_KEY_D(ds))
#define GRAPH_KEY_G_REC_DONE(ds) ((D_VARIANTS + 2) * SG_MAX_DATASETS + (ds))
#define GRAPH_KEYS ((D_VARIANTS + 3) * SG_MAX_DATASETS)
_Static_assert(GRAPH_KEYS <= 128, "lib/backend.h: graph keys are 0..127");

/* ---- state_dict tables ------------------------------------------------------ */

typedef struct {
    int n, cap;
    sg_tensor_info *info;
    size_t *offset;          /* in the trainable block or the stats block (floats) */
    size_t n_train, n_stats; /* floats */
    int n_counters;
    int *counter_index;      /* per tensor: index into counters, or -1 */
    float *params, *grads, *adam_m, *adam_v, *stats;   /* backend memory */
    int64_t *counters;       /* num_batches_tracked, on the host */
    int64_t step;            /* Adam step */
} net_state;

static int net_add(net_state *ns, const char *name, int ndim, const int64_t *shape,
                   int dtype, int trainable)
{
    if (ns->n == ns->cap) {
        int cap = ns->cap ? ns->cap * 2 : 32;
        sg_tensor_info *i = realloc(ns->info, cap * sizeof *i);
        if (!i) return -1;
        ns->info = i;
        size_t *o = realloc(ns->offset, cap * sizeof *o);
        if (!o) return -1;
        ns->offset = o;
        int *c = realloc(ns->counter_index, cap * sizeof *c);
        if (!c) return -1;
        ns->counter_index = c;
        ns->cap = cap;
    }
    sg_tensor_info *t = &ns->info[ns->n];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->numel = 1;
    for (int d = 0; d < ndim; d++) { t->shape[d] = shape[d]; t->numel *= shape[d]; }
    t->dtype = dtype;
    t->trainable = trainable;
    ns->counter_index[ns->n] = -1;
    if (dtype == SG_DTYPE_I64) { ns->offset[ns->n] = 0; ns->counter_index[ns->n] = ns->n_counters++; }
    else if (trainable) { ns->offset[ns->n] = ns->n_train; ns->n_train += t->numel; }
    else { ns->offset[ns->n] = ns->n_stats; ns->n_stats += t->numel; }
    return ns->n++;
}

/* ---- layers ------------------------------------------------------------------ */

typedef struct {
    int transposed;          /* ConvTranspose2d: weight (ci, co, k, k) */
    int ci, co, k, stride, pad;
    int hin, hout;           /* square spatial sizes */
    int w_t, b_t;            /* tensor indices (b_t -1: no bias) */
    float *w, *b, *dw, *db;
} conv_layer;

typedef struct {
    int c, hw;
    int residual_b;          /* second IN of a residual block: output = block input + IN */
    int g_t, b_t, rm_t, rv_t;
    float *gamma, *beta, *dgamma, *dbeta, *rmean, *rvar;
} in_layer;

/* Activations of one G forward, kept for its backward. Layer j < n_in is
 * conv j -> IN j -> ReLU (or + block input for residual_b); layer n_in is the
 * final conv + tanh. */
typedef struct {
    float *in;               /* (N, 3+c_dim, S, S) image and tiled labels */
    float **z, **a;          /* per layer j < n_in: conv output, layer output */
    float **mean, **rstd;    /* (N, C_j) */
    float *out;              /* (N, 3, S, S) tanh output */
} g_tape;

/* Activations of D. The D step runs D once on 3N images (real, fake, x_hat:
 * see d_step_body), so the trunk's buffers hold 3N rows, the src head 2N and
 * the cls head N; the G step uses the first N rows of each. */
typedef struct {
    float **a;               /* per layer: LeakyReLU output (3N, c_l, h_l, h_l); its sign is the
                              * pre-activation's, all the backward needs of it (the D step's
                              * gradient penalty overwrites the x_hat rows once used) */
    float *src;              /* (2N, 1, h, h) */
    float *cls;              /* (N, cls_dim) */
} d_tape;

struct sg_model {
    sg_model_config cfg;
    sg_backend *be;
    int c_dim, cls_dim, cap;   /* cap: batch capacity */
    int n, ds;                 /* current batch size and dataset */

    net_state g, d;
    /* G: n_in conv+IN layers, then the final conv */
    int g_n_in;
    conv_layer *g_conv;        /* n_in + 1 */
    in_layer *g_in;            /* n_in */
    g_tape tape_a, tape_b;     /* G(x, c_trg) and G(x_fake, c_org) */
    float *g_zfinal;           /* (N, 3, S, S) final conv output (scratch) */
    float *g_buf[3];           /* gradient scratch, g_max floats each */
    size_t g_max;

    /* D: d_repeat convs, src head, cls head */
    conv_layer *d_conv;        /* d_repeat */
    conv_layer d_src, d_cls;
    d_tape dt;
    float **d_grad;            /* per layer: d_backward's masked gradient (3N, c_l, h_l, h_l);
                                * in the D step rows [2N,3N) are the GP chain's g_l; all
                                * kept for d_gradient_penalty (the weight gradients) */
    float *gp_u;               /* (N, 3, S, S) */
    float *d_buf;              /* scratch, d_max floats: the cls head's input gradient,
                                * the GP's backward (N rows) */
    size_t d_max;
    float *d_dsrc, *d_dcls;    /* (3N, 1, h, h) real, fake, then the GP's seed of ones;
                                * (N, cls_dim) real only */

    /* batch */
    float *d_in;               /* (3N,3,S,S) D's input in the D step: rows [0,n) the real
                                * images (m->x), [n,2n) G's fakes, [2n,3n) x_hat (then the
                                * gradient penalty's gradient w.r.t. it) */
    float *x, *c_org, *c_trg, *alpha;   /* x = d_in (its first n rows); (N,c_dim) x2, (N) */
    float *dx_fake, *dx_fake_d;  /* (N,3,S,S) gradients of x_fake from G(x_fake) and D */
    float *gen_x, *gen_c;      /* generate()'s inputs, separate from the batch */
    float *stage;              /* NHWC backends: images in NCHW on their way in or out */
    float *losses;             /* (L_COUNT) backend memory */

    void **allocs;             /* every backend block above, for freeing */
    int n_allocs, cap_allocs;
    size_t alloc_bytes;        /* their total size */
    int gen_only;              /* sg_model_create_generator: G and generate() only */
    int counting;              /* sg_model_bytes: balloc adds up sizes, allocates nothing */

    /* G step on the D step's tape (g_step_reuse_body): on unless
     * SG_G_TAPE_REUSE=0 (A/B timing, tests); valid while tape_a and d_in's fake
     * rows hold G(x, c_trg) of the current batch with G's current weights
     * (tape_a_holds == TAPE_CURRENT, below) */
    int g_tape_reuse;
    long long g_tape_reuses;
    /* SG_OVERLAP_G=1 when the model is created: the G step's D part on the
     * backend's second lane (g_step_common); the trainer's queued batches
     * are its other half */
    int overlap_g;
    /* SG_OVERLAP_G_WGRAD (1; 0: lane 0): with overlap_g, the G step's weight
     * gradients on the second lane, beside the rest of G's backward; a
     * switch of its own to time it apart from the rest of the overlap */
    int overlap_g_wgrad;

    /* The queued batch (sg_model_queue_batch_drawn), allocated at the first
     * queue: images, own labels, drawn c_trg and alpha, and G's fakes of it
     * once a D step computed them ahead (queued == QUEUED_PREFETCHED). */
    float *q_x, *q_c_org, *q_c_trg, *q_alpha, *q_fake;
    int q_n, q_ds, queued;
    long long prefetches;      /* D steps that ran the queued batch's G forward */
    /* d_in's fake rows hold G(x, c_trg) of the current batch from a
     * prefetch: the next d_step skips that forward (consumed by it) */
    int fakes_ready;
    int tape_a_holds;          /* TAPE_*: whose G forward tape_a holds, with G's current weights */
    /* the D step being run or recorded: its body's variant */
    int step_fakes_ready, step_prefetch, step_rec_ahead;
    /* sg_model_d_g_steps: the G step's reconstruction ran in the D step
     * (rec_done, for the G step right after); how often */
    int rec_done;
    long long recs_ahead;

    /* step graphs (backends with graph_begin: CUDA): per key (GRAPH_KEY_*),
     * the state of run_step below and the batch size it was recorded for */
    int graph_state[GRAPH_KEYS], graph_n[GRAPH_KEYS];
};

enum { QUEUED_NONE, QUEUED_BATCH, QUEUED_PREFETCHED };
enum { TAPE_OTHER, TAPE_CURRENT, TAPE_QUEUED };

/* ---- config ------------------------------------------------------------------- */

int sg_model_cls_dim(const sg_model_config *cfg)
{
    int s = 0;
    for (int i = 0; i < cfg->n_datasets; i++) s += cfg->label_dim[i];
    return s;
}

int sg_model_image_unit(int d_repeat)
{
    int unit = 1 << (d_repeat < 0 ? 0 : d_repeat > SG_MODEL_MAX_D_REPEAT ? SG_MODEL_MAX_D_REPEAT : d_repeat);
    return unit < 4 ? 4 : unit;   /* G down-samples twice */
}

int sg_model_batch_max(const sg_model_config *cfg, int generator_only)
{
    const int64_t limit = INT32_MAX, S2 = (int64_t)cfg->image_size * cfg->image_size;
    int64_t g_ch = cfg->g_conv_dim > 3 + sg_model_c_dim(cfg) ? cfg->g_conv_dim : 3 + sg_model_c_dim(cfg);
    int64_t per_image = g_ch * S2;
    if (!generator_only) {
        int64_t d_first = 3 * S2 > cfg->d_conv_dim * (S2 / 4) ? 3 * S2 : cfg->d_conv_dim * (S2 / 4);
        if (3 * d_first > per_image) per_image = 3 * d_first;
    }
    /* 65535: the CUDA kernels that put images in a grid dimension (layout
     * transpose, NHWC bias gradient) take no more */
    int64_t n = per_image > 0 ? limit / per_image : SG_MODEL_MAX_BATCH;
    return n > SG_MODEL_MAX_BATCH ? SG_MODEL_MAX_BATCH : (int)n;
}

int sg_model_c_dim(const sg_model_config *cfg)
{
    return sg_model_cls_dim(cfg) + (cfg->n_datasets > 1 ? cfg->n_datasets : 0);
}

int sg_model_label_offset(const sg_model_config *cfg, int ds)
{
    int s = 0;
    for (int i = 0; i < ds && i < cfg->n_datasets; i++) s += cfg->label_dim[i];
    return s;
}

static int build_g(sg_model *m);
static int build_d(sg_model *m);

/* A model of cfg on no backend, for the layer plans alone (largest_weight)
 * or their sizes (sg_model_bytes): nothing is ever called on it but
 * sg_model_free, which frees what the plans took. NULL: out of memory. */
static sg_model *model_shell(const sg_model_config *cfg)
{
    static const sg_backend_ops no_ops;
    static sg_backend none = {.ops = &no_ops, .name = "cpu", .nhwc = 0};   /* NCHW: the CPU's blocks */
    sg_model *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->cfg = *cfg;
    m->be = &none;
    m->c_dim = sg_model_c_dim(cfg);
    m->cls_dim = sg_model_cls_dim(cfg);
    return m;
}

/* The largest convolution weight of net in a model of cfg (sizes already
 * checked): its values, and its name into name (64 bytes); 0 when out of
 * memory. */
static size_t largest_weight(const sg_model_config *cfg, sg_net net, char *name)
{
    sg_model *m = model_shell(cfg);
    if (!m) return 0;
    net_state *ns = net == SG_NET_G ? &m->g : &m->d;
    size_t most = 0;
    if ((net == SG_NET_G ? build_g(m) : build_d(m)) == 0)
        for (int t = 0; t < ns->n; t++)
            if (ns->info[t].ndim == 4 && ns->info[t].numel > most) {
                most = ns->info[t].numel;
                snprintf(name, 64, "%.*s", (int)(strlen(ns->info[t].name) - strlen(".weight")), ns->info[t].name);
            }
    sg_model_free(m);
    return most;
}

/* Every convolution weight of G and D within INT32_MAX values: cuDNN's
 * filter descriptors hold at most 2^31 - 1 (the activations are bounded by
 * sg_model_batch_max), and a run must move between the backends. The error
 * names the option to lower and the most it may be. */
static int check_weights(const sg_model_config *cfg, sg_err *err)
{
    for (int net = SG_NET_G; net <= SG_NET_D; net++) {
        char name[64] = "";
        size_t most = largest_weight(cfg, (sg_net)net, name);
        if (most == 0) return sg_err_oom(err, "model: out of memory");
        if (most <= INT32_MAX) continue;
        /* the largest conv dim that fits: the weights grow with it */
        sg_model_config c = *cfg;
        int *dim = net == SG_NET_G ? &c.g_conv_dim : &c.d_conv_dim, lo = 0, hi = *dim - 1;
        char ignored[64];
        while (lo < hi) {
            *dim = lo + (hi - lo + 1) / 2;
            size_t w = largest_weight(&c, (sg_net)net, ignored);
            if (w == 0) return sg_err_oom(err, "model: out of memory");
            if (w <= INT32_MAX) lo = *dim;
            else hi = *dim - 1;
        }
        char advice[96];
        if (lo > 0) snprintf(advice, sizeof advice, "use --%s-conv-dim %d or less", net == SG_NET_G ? "g" : "d", lo);
        else snprintf(advice, sizeof advice, "use a larger --d-repeat or fewer labels");   /* the cls head */
        return sg_errf(err, "model: %s's conv %s would hold %zu weights, more than 2^31-1 (cuDNN's limit for one "
                       "tensor; kept on the CPU so that runs move between the backends): %s",
                       net == SG_NET_G ? "G" : "D", name, most, advice);
    }
    return 0;
}

int sg_model_config_check(const sg_model_config *cfg, sg_err *err)
{
    if (cfg->n_datasets < 1 || cfg->n_datasets > SG_MAX_DATASETS)
        return sg_errf(err, "model: %d datasets (1..%d allowed)", cfg->n_datasets, SG_MAX_DATASETS);
    for (int i = 0; i < cfg->n_datasets; i++) {
        if (cfg->label_dim[i] < 1 || cfg->label_dim[i] > 4096)
            return sg_errf(err, "model: dataset %d has %d labels (1..4096 allowed)", i + 1, cfg->label_dim[i]);
        if (cfg->one_hot[i] && cfg->label_dim[i] < 2)
            return sg_errf(err, "model: one-hot dataset %d needs at least 2 classes", i + 1);
    }
    if (cfg->d_repeat < 1 || cfg->d_repeat > SG_MODEL_MAX_D_REPEAT)
        return sg_errf(err, "model: d_repeat %d (1..%d allowed)", cfg->d_repeat, SG_MODEL_MAX_D_REPEAT);
    if (cfg->g_repeat < 0 || cfg->g_repeat > SG_MODEL_MAX_G_REPEAT)
        return sg_errf(err, "model: g_repeat %d (0..%d allowed)", cfg->g_repeat, SG_MODEL_MAX_G_REPEAT);
    if (cfg->g_conv_dim < 1 || cfg->g_conv_dim > SG_MODEL_MAX_CONV_DIM || cfg->d_conv_dim < 1 ||
        cfg->d_conv_dim > SG_MODEL_MAX_CONV_DIM)
        return sg_errf(err, "model: conv dims g %d, d %d (1..%d allowed)", cfg->g_conv_dim, cfg->d_conv_dim,
                       SG_MODEL_MAX_CONV_DIM);
    if ((int64_t)cfg->d_conv_dim << (cfg->d_repeat - 1) > 65536)
        return sg_errf(err, "model: D's last layer would have %lld channels",
                       (long long)cfg->d_conv_dim << (cfg->d_repeat - 1));
    int unit = sg_model_image_unit(cfg->d_repeat);
    if (cfg->image_size < unit || cfg->image_size % unit != 0 || cfg->image_size < SG_MODEL_MIN_IMAGE ||
        cfg->image_size > SG_MODEL_MAX_IMAGE)
        return sg_errf(err, "model: image size %d must be a multiple of %d (2^d_repeat, and of 4) from %d to %d",
                       cfg->image_size, unit, unit > SG_MODEL_MIN_IMAGE ? unit : SG_MODEL_MIN_IMAGE,
                       SG_MODEL_MAX_IMAGE);
    if (cfg->batch < 1 || cfg->batch > SG_MODEL_MAX_BATCH)
        return sg_errf(err, "model: batch %d (1..%d allowed)", cfg->batch, SG_MODEL_MAX_BATCH);
    if (!(cfg->beta1 >= 0 && cfg->beta1 < 1 && cfg->beta2 >= 0 && cfg->beta2 < 1))
        return sg_errf(err, "model: Adam betas %g, %g must lie in [0, 1)", cfg->beta1, cfg->beta2);
    if (!isfinite(cfg->lambda_cls) || !isfinite(cfg->lambda_rec) || !isfinite(cfg->lambda_gp))
        return sg_errf(err, "model: loss weights must be finite");
    return check_weights(cfg, err);
}

/* ---- construction ------------------------------------------------------------- */

static int add_conv(net_state *ns, conv_layer *L, const char *prefix, int transposed, int ci,
                    int co, int k, int stride, int pad, int hin, int bias)
{
    char name[64];
    L->transposed = transposed;
    L->ci = ci; L->co = co; L->k = k; L->stride = stride; L->pad = pad; L->hin = hin;
    L->hout = transposed ? (hin - 1) * stride - 2 * pad + k : (hin + 2 * pad - k) / stride + 1;
    int64_t shape[4] = { transposed ? ci : co, transposed ? co : ci, k, k };
    snprintf(name, sizeof name, "%s.weight", prefix);
    if ((L->w_t = net_add(ns, name, 4, shape, SG_DTYPE_F32, 1)) < 0) return -1;
    L->b_t = -1;
    if (bias) {
        int64_t bs[1] = { co };
        snprintf(name, sizeof name, "%s.bias", prefix);
        if ((L->b_t = net_add(ns, name, 1, bs, SG_DTYPE_F32, 1)) < 0) return -1;
    }
    return 0;
}

static int add_in(net_state *ns, in_layer *L, const char *prefix, int c, int h, int residual_b)
{
    char name[64];
    int64_t s[1] = { c }, none[1] = { 0 };
    L->c = c; L->hw = h * h; L->residual_b = residual_b;
    snprintf(name, sizeof name, "%s.weight", prefix);
    if ((L->g_t = net_add(ns, name, 1, s, SG_DTYPE_F32, 1)) < 0) return -1;
    snprintf(name, sizeof name, "%s.bias", prefix);
    if ((L->b_t = net_add(ns, name, 1, s, SG_DTYPE_F32, 1)) < 0) return -1;
    snprintf(name, sizeof name, "%s.running_mean", prefix);
    if ((L->rm_t = net_add(ns, name, 1, s, SG_DTYPE_F32, 0)) < 0) return -1;
    snprintf(name, sizeof name, "%s.running_var", prefix);
    if ((L->rv_t = net_add(ns, name, 1, s, SG_DTYPE_F32, 0)) < 0) return -1;
    snprintf(name, sizeof name, "%s.num_batches_tracked", prefix);
    if (net_add(ns, name, 0, none, SG_DTYPE_I64, 0) < 0) return -1;
    return 0;
}

/* G as the reference builds it: main.0 conv7, main.1 IN, main.2 ReLU, two
 * [conv4 s2, IN, ReLU] at 3..8, residual blocks at 9.., two [convT, IN, ReLU],
 * final conv7, Tanh. */
static int build_g(sg_model *m)
{
    const sg_model_config *cfg = &m->cfg;
    net_state *ns = &m->g;
    int R = cfg->g_repeat, S = cfg->image_size, cd = cfg->g_conv_dim;
    m->g_n_in = 3 + 2 * R + 2;
    m->g_conv = calloc(m->g_n_in + 1, sizeof *m->g_conv);
    m->g_in = calloc(m->g_n_in, sizeof *m->g_in);
    if (!m->g_conv || !m->g_in) return -1;
    char p1[64], p2[64];
    int j = 0, idx = 0, cur = cd, h = S;
    if (add_conv(ns, &m->g_conv[j], "main.0", 0, 3 + m->c_dim, cd, 7, 1, 3, h, 0) ||
        add_in(ns, &m->g_in[j], "main.1", cd, h, 0)) return -1;
    j++; idx = 3;
    for (int i = 0; i < 2; i++, j++, idx += 3) {
        snprintf(p1, sizeof p1, "main.%d", idx);
        snprintf(p2, sizeof p2, "main.%d", idx + 1);
        if (add_conv(ns, &m->g_conv[j], p1, 0, cur, cur * 2, 4, 2, 1, h, 0) ||
            add_in(ns, &m->g_in[j], p2, cur * 2, h / 2, 0)) return -1;
        cur *= 2; h /= 2;
    }
    for (int r = 0; r < R; r++, idx++) {
        for (int half = 0; half < 2; half++, j++) {
            snprintf(p1, sizeof p1, "main.%d.main.%d", idx, half * 3);
            snprintf(p2, sizeof p2, "main.%d.main.%d", idx, half * 3 + 1);
            if (add_conv(ns, &m->g_conv[j], p1, 0, cur, cur, 3, 1, 1, h, 0) ||
                add_in(ns, &m->g_in[j], p2, cur, h, half == 1)) return -1;
        }
    }
    for (int i = 0; i < 2; i++, j++, idx += 3) {
        snprintf(p1, sizeof p1, "main.%d", idx);
        snprintf(p2, sizeof p2, "main.%d", idx + 1);
        if (add_conv(ns, &m->g_conv[j], p1, 1, cur, cur / 2, 4, 2, 1, h, 0) ||
            add_in(ns, &m->g_in[j], p2, cur / 2, h * 2, 0)) return -1;
        cur /= 2; h *= 2;
    }
    snprintf(p1, sizeof p1, "main.%d", idx);
    if (add_conv(ns, &m->g_conv[j], p1, 0, cur, 3, 7, 1, 3, h, 0)) return -1;
    return 0;
}

static int build_d(sg_model *m)
{
    const sg_model_config *cfg = &m->cfg;
    net_state *ns = &m->d;
    int L = cfg->d_repeat, h = cfg->image_size, ci = 3, co = cfg->d_conv_dim;
    m->d_conv = calloc(L, sizeof *m->d_conv);
    if (!m->d_conv) return -1;
    char p[64];
    for (int l = 0; l < L; l++) {
        snprintf(p, sizeof p, "main.%d", 2 * l);
        if (add_conv(ns, &m->d_conv[l], p, 0, ci, co, 4, 2, 1, h, 1)) return -1;
        ci = co; co *= 2; h /= 2;
    }
    if (add_conv(ns, &m->d_src, "conv1", 0, ci, 1, 3, 1, 1, h, 0) ||
        add_conv(ns, &m->d_cls, "conv2", 0, ci, m->cls_dim, h, 1, 0, h, 0)) return -1;
    return 0;
}

static size_t act_size(const conv_layer *L, int N, int input)
{
    return input ? (size_t)N * L->ci * L->hin * L->hin : (size_t)N * L->co * L->hout * L->hout;
}

/* One zeroed backend block, remembered for sg_model_free. Counting
 * (sg_model_bytes): its size only, and a pointer that is never used. */
static float *balloc(sg_model *m, size_t nfloats)
{
    if (m->counting) {
        m->alloc_bytes += (nfloats ? nfloats : 1) * sizeof(float);
        return (float *)m;
    }
    if (m->n_allocs == m->cap_allocs) {
        int cap = m->cap_allocs ? m->cap_allocs * 2 : 64;
        void **p = realloc(m->allocs, cap * sizeof *p);
        if (!p) return NULL;
        m->allocs = p; m->cap_allocs = cap;
    }
    size_t bytes = (nfloats ? nfloats : 1) * sizeof(float);
    float *b = m->be->ops->alloc(m->be, bytes);
    if (b) { m->allocs[m->n_allocs++] = b; m->alloc_bytes += bytes; }
    return b;
}

/* Parameters and statistics; gradients and Adam moments unless generator-only
 * (then those stay NULL). */
static int carve_net(sg_model *m, net_state *ns)
{
    if (!(ns->params = balloc(m, ns->n_train)) || !(ns->stats = balloc(m, ns->n_stats))) return -1;
    if (!m->gen_only && (!(ns->grads = balloc(m, ns->n_train)) || !(ns->adam_m = balloc(m, ns->n_train)) ||
                         !(ns->adam_v = balloc(m, ns->n_train)))) return -1;
    ns->counters = calloc(ns->n_counters ? ns->n_counters : 1, sizeof *ns->counters);
    return ns->counters ? 0 : -1;
}

static float *tensor_ptr(net_state *ns, int t) { return (ns->info[t].trainable ? ns->params : ns->stats) + ns->offset[t]; }
static float *tensor_grad(net_state *ns, int t) { return ns->grads + ns->offset[t]; }

/* Host-side weight layout (lib/backend.h "Layout"): a conv weight (A,B,K,K)
 * is A,K,K,B on an NHWC backend; every other tensor is the same in both.
 * to_backend: src NCHW -> dst backend order; else the reverse. */
static void weight_layout(const sg_tensor_info *ti, float *dst, const float *src, int nhwc, int to_backend)
{
    if (!nhwc || ti->ndim != 4) { memcpy(dst, src, ti->numel * sizeof(float)); return; }
    sg_layout_permute(dst, src, (size_t)ti->shape[0], (size_t)ti->shape[1],
                      (size_t)(ti->shape[2] * ti->shape[3]), to_backend);
}

/* weight_layout over a net's flat trainable buffer (params, grads, Adam moments). */
static void flat_layout(const net_state *ns, float *dst, const float *src, int nhwc, int to_backend)
{
    for (int t = 0; t < ns->n; t++)
        if (ns->info[t].trainable)
            weight_layout(&ns->info[t], dst + ns->offset[t], src + ns->offset[t], nhwc, to_backend);
}

/* Uploads a flat trainable buffer given in NCHW order (host) into dst (backend order). */
static int upload_flat(sg_model *m, const net_state *ns, float *dst, const float *host)
{
    if (!m->be->nhwc) { m->be->ops->upload(m->be, dst, host, ns->n_train * sizeof(float)); return 0; }
    float *tmp = malloc(ns->n_train * sizeof(float));
    if (!tmp) return -1;
    flat_layout(ns, tmp, host, 1, 1);
    m->be->ops->upload(m->be, dst, tmp, ns->n_train * sizeof(float));   /* pageable: reusable on return */
    free(tmp);
    return 0;
}

/* Downloads a flat trainable buffer into host in NCHW order. */
static int download_flat(sg_model *m, const net_state *ns, float *host, const float *src)
{
    if (!m->be->nhwc) { m->be->ops->download(m->be, host, src, ns->n_train * sizeof(float)); return 0; }
    float *tmp = malloc(ns->n_train * sizeof(float));
    if (!tmp) return -1;
    m->be->ops->download(m->be, tmp, src, ns->n_train * sizeof(float));
    flat_layout(ns, host, tmp, 1, 0);
    free(tmp);
    return 0;
}

/* Images (n,3,S,S) NCHW host -> dst in the backend's layout (through m->stage on NHWC). */
static void upload_images(sg_model *m, float *dst, const float *host, int n)
{
    size_t S = m->cfg.image_size, bytes = (size_t)n * 3 * S * S * sizeof(float);
    if (!m->be->nhwc) { m->be->ops->upload(m->be, dst, host, bytes); return; }
    m->be->ops->upload(m->be, m->stage, host, bytes);
    m->be->ops->to_layout(m->be, dst, m->stage, n, 3, (int)(S * S));
}

/* src (backend layout) -> host (n,3,S,S) NCHW; synchronous like download. */
static void download_images(sg_model *m, float *host, const float *src, int n)
{
    size_t S = m->cfg.image_size, bytes = (size_t)n * 3 * S * S * sizeof(float);
    if (!m->be->nhwc) { m->be->ops->download(m->be, host, src, bytes); return; }
    m->be->ops->from_layout(m->be, m->stage, src, n, 3, (int)(S * S));
    m->be->ops->download(m->be, host, m->stage, bytes);
}

static void point_conv(net_state *ns, conv_layer *L)
{
    L->w = tensor_ptr(ns, L->w_t); L->dw = ns->grads ? tensor_grad(ns, L->w_t) : NULL;
    if (L->b_t >= 0) { L->b = tensor_ptr(ns, L->b_t); L->db = ns->grads ? tensor_grad(ns, L->b_t) : NULL; }
}

static void point_in(net_state *ns, in_layer *L)
{
    L->gamma = tensor_ptr(ns, L->g_t); L->dgamma = ns->grads ? tensor_grad(ns, L->g_t) : NULL;
    L->beta = tensor_ptr(ns, L->b_t); L->dbeta = ns->grads ? tensor_grad(ns, L->b_t) : NULL;
    L->rmean = tensor_ptr(ns, L->rm_t); L->rvar = tensor_ptr(ns, L->rv_t);
}

/* PyTorch's default init from counter-based draws: element i of the trainable
 * block (state_dict order) is drawn from (seed, stream, i). Conv weights and
 * biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = dim1 * k * k (dim 1 is
 * Cout for ConvTranspose2d, as PyTorch computes it); IN weight 1, bias 0;
 * running mean 0, var 1. */
static int init_net(sg_model *m, net_state *ns, uint64_t seed, uint64_t stream, sg_err *err)
{
    float *host = malloc((ns->n_train ? ns->n_train : 1) * sizeof(float));
    float *stats = malloc((ns->n_stats ? ns->n_stats : 1) * sizeof(float));
    if (!host || !stats) { free(host); free(stats); return sg_err_oom(err, "model: out of memory"); }
    int64_t last_fan_in = 1;
    for (int t = 0; t < ns->n; t++) {
        const sg_tensor_info *ti = &ns->info[t];
        size_t off = ns->offset[t];
        const char *leaf = strrchr(ti->name, '.');
        leaf = leaf ? leaf + 1 : ti->name;
        if (ti->dtype == SG_DTYPE_I64) continue;
        if (ti->ndim == 4) {            /* conv weight */
            last_fan_in = ti->shape[1] * ti->shape[2] * ti->shape[3];
            float bound = (float)(1.0 / sqrt((double)last_fan_in));
            for (size_t i = 0; i < ti->numel; i++)
                host[off + i] = (2 * sg_randu(seed, stream, off + i) - 1) * bound;
        } else if (!strcmp(leaf, "running_mean")) {
            for (size_t i = 0; i < ti->numel; i++) stats[off + i] = 0;
        } else if (!strcmp(leaf, "running_var")) {
            for (size_t i = 0; i < ti->numel; i++) stats[off + i] = 1;
        } else if (t > 0 && ns->info[t - 1].ndim == 4 && !strcmp(leaf, "bias")) {   /* conv bias */
            float bound = (float)(1.0 / sqrt((double)last_fan_in));
            for (size_t i = 0; i < ti->numel; i++)
                host[off + i] = (2 * sg_randu(seed, stream, off + i) - 1) * bound;
        } else {                        /* IN affine */
            float v = !strcmp(leaf, "weight") ? 1.0f : 0.0f;
            for (size_t i = 0; i < ti->numel; i++) host[off + i] = v;
        }
    }
    int rc = upload_flat(m, ns, ns->params, host);
    m->be->ops->upload(m->be, ns->stats, stats, ns->n_stats * sizeof(float));
    free(host); free(stats);
    return rc ? sg_err_oom(err, "model: out of memory") : 0;
}

static int alloc_g_tape(sg_model *m, g_tape *t)
{
    int N = m->cap, n = m->g_n_in;
    t->z = calloc(n, sizeof *t->z); t->a = calloc(n, sizeof *t->a);
    t->mean = calloc(n, sizeof *t->mean); t->rstd = calloc(n, sizeof *t->rstd);
    if (!t->z || !t->a || !t->mean || !t->rstd) return -1;
    if (!(t->in = balloc(m, act_size(&m->g_conv[0], N, 1)))) return -1;
    for (int j = 0; j < n; j++) {
        size_t s = act_size(&m->g_conv[j], N, 0);
        if (!(t->z[j] = balloc(m, s)) || !(t->a[j] = balloc(m, s)) ||
            !(t->mean[j] = balloc(m, (size_t)N * m->g_in[j].c)) ||
            !(t->rstd[j] = balloc(m, (size_t)N * m->g_in[j].c))) return -1;
    }
    return (t->out = balloc(m, act_size(&m->g_conv[n], N, 0))) ? 0 : -1;
}

/* The generator-only model's tape for generate(): nothing is kept for a
 * backward, so every layer's conv output z[j] shares one buffer, the IN
 * statistics share one pair, and the layer outputs rotate through three
 * buffers: layer j reads a[j-1] and (second IN of a residual block) adds
 * a[j-2], so a[j], a[j-1], a[j-2] must differ, and three suffice. The final
 * conv writes into the z buffer, tanh into the ring slot after a[n-1]. */
static int alloc_gen_tape(sg_model *m)
{
    g_tape *t = &m->tape_a;
    int N = m->cap, n = m->g_n_in;
    t->z = calloc(n, sizeof *t->z); t->a = calloc(n, sizeof *t->a);
    t->mean = calloc(n, sizeof *t->mean); t->rstd = calloc(n, sizeof *t->rstd);
    if (!t->z || !t->a || !t->mean || !t->rstd) return -1;
    size_t act = 0, stats = 0;
    for (int j = 0; j <= n; j++) {
        size_t s = act_size(&m->g_conv[j], N, 0);
        if (s > act) act = s;
        if (j < n && (size_t)N * m->g_in[j].c > stats) stats = (size_t)N * m->g_in[j].c;
    }
    float *z, *mean, *rstd, *ring[3];
    if (!(t->in = balloc(m, act_size(&m->g_conv[0], N, 1))) || !(z = balloc(m, act)) ||
        !(mean = balloc(m, stats)) || !(rstd = balloc(m, stats))) return -1;
    for (int i = 0; i < 3; i++) if (!(ring[i] = balloc(m, act))) return -1;
    for (int j = 0; j < n; j++) { t->z[j] = z; t->a[j] = ring[j % 3]; t->mean[j] = mean; t->rstd[j] = rstd; }
    t->out = ring[n % 3];
    m->g_zfinal = z;
    size_t S = m->cfg.image_size;
    return (m->gen_x = balloc(m, (size_t)N * 3 * S * S)) && (m->gen_c = balloc(m, (size_t)N * m->c_dim)) &&
           (!m->be->nhwc || (m->stage = balloc(m, (size_t)N * 3 * S * S))) ? 0 : -1;
}

static void free_g_tape(g_tape *t) { free(t->z); free(t->a); free(t->mean); free(t->rstd); }

static int alloc_buffers(sg_model *m)
{
    int N = m->cap, S = m->cfg.image_size, L = m->cfg.d_repeat;
    size_t img = (size_t)N * 3 * S * S;
    /* G */
    if (alloc_g_tape(m, &m->tape_a) || alloc_g_tape(m, &m->tape_b)) return -1;
    m->g_max = 0;
    for (int j = 0; j <= m->g_n_in; j++) {
        size_t a = act_size(&m->g_conv[j], N, 0), b = act_size(&m->g_conv[j], N, 1);
        if (a > m->g_max) m->g_max = a;
        if (b > m->g_max) m->g_max = b;
    }
    for (int i = 0; i < 3; i++) if (!(m->g_buf[i] = balloc(m, m->g_max))) return -1;
    if (!(m->g_zfinal = balloc(m, img))) return -1;
    /* D: the trunk's activations and the backward's gradients for 3N rows
     * (the D step's real, fake and x_hat images), the src head's for 2N (real,
     * fake), the cls head's and the gradient penalty's for N */
    m->dt.a = calloc(L, sizeof *m->dt.a);
    m->d_grad = calloc(L, sizeof *m->d_grad);
    if (!m->dt.a || !m->d_grad) return -1;
    m->d_max = 0;
    for (int l = 0; l < L; l++) {
        size_t s = act_size(&m->d_conv[l], N, 0);
        if (s > m->d_max) m->d_max = s;
        if (!(m->dt.a[l] = balloc(m, 3 * s)) || !(m->d_grad[l] = balloc(m, 3 * s))) return -1;
    }
    size_t nsrc = act_size(&m->d_src, N, 0);
    if (!(m->dt.src = balloc(m, 2 * nsrc)) || !(m->dt.cls = balloc(m, (size_t)N * m->cls_dim)) ||
        !(m->d_buf = balloc(m, m->d_max)) ||
        !(m->d_dsrc = balloc(m, 3 * nsrc)) || !(m->d_dcls = balloc(m, (size_t)N * m->cls_dim)) ||
        !(m->gp_u = balloc(m, img))) return -1;
    /* batch */
    if (!(m->d_in = balloc(m, 3 * img))) return -1;
    m->x = m->d_in;
    if (!(m->c_org = balloc(m, (size_t)N * m->c_dim)) ||
        !(m->c_trg = balloc(m, (size_t)N * m->c_dim)) || !(m->alpha = balloc(m, N)) ||
        !(m->dx_fake = balloc(m, img)) ||
        !(m->dx_fake_d = balloc(m, img)) || !(m->gen_x = balloc(m, img)) ||
        !(m->gen_c = balloc(m, (size_t)N * m->c_dim)) || !(m->losses = balloc(m, L_COUNT)) ||
        (m->be->nhwc && !(m->stage = balloc(m, img)))) return -1;
    return 0;
}

static void free_net(net_state *ns) { free(ns->info); free(ns->offset); free(ns->counter_index); free(ns->counters); }

void sg_model_free(sg_model *m)
{
    if (!m) return;
    if (m->be->ops->graph_drop)                 /* its own graphs only: another model's stay */
        for (int k = 0; k < GRAPH_KEYS; k++) m->be->ops->graph_drop(m->be, k, m);
    for (int i = 0; i < m->n_allocs; i++) m->be->ops->free(m->be, m->allocs[i]);
    free(m->allocs);
    free_net(&m->g); free_net(&m->d);
    free(m->g_conv); free(m->g_in); free(m->d_conv);
    free_g_tape(&m->tape_a); free_g_tape(&m->tape_b);
    free(m->dt.a); free(m->d_grad);
    free(m);
}

/* A failed allocation reads as the backend's error where it has one (device
 * memory), else as host out of memory. */
static int create_failed(sg_model *m, sg_backend *be, sg_err *err)
{
    sg_model_free(m);
    if (be->ops->sync(be, err)) return sg_err_prefix(err, "model");
    return sg_err_oom(err, "model: out of memory");
}

/* Everything model creation allocates, in order: the layer plans (host
 * memory), then the backend blocks (balloc): G's net, and the generator
 * tape, or D's net and the training buffers. sg_model_bytes runs it too,
 * balloc counting instead of allocating, so that the two cannot differ. */
static int alloc_model(sg_model *m)
{
    return build_g(m) || (!m->gen_only && build_d(m)) || carve_net(m, &m->g) ||
           (m->gen_only ? alloc_gen_tape(m) : (carve_net(m, &m->d) || alloc_buffers(m)));
}

/* The queued batch's blocks (sg_model_queue_batch_drawn), allocated at its
 * first queue: images, G's fakes of them, own and target labels, alpha. A
 * training run queues with SG_OVERLAP_G=1, so sg_model_bytes counts them
 * then, through this same sequence. */
static int alloc_queue(sg_model *m)
{
    size_t img = (size_t)m->cap * 3 * m->cfg.image_size * m->cfg.image_size, lab = (size_t)m->cap * m->c_dim;
    return (m->q_x = balloc(m, img)) && (m->q_fake = balloc(m, img)) && (m->q_c_org = balloc(m, lab)) &&
           (m->q_c_trg = balloc(m, lab)) && (m->q_alpha = balloc(m, m->cap)) ? 0 : -1;
}

/* SG_OVERLAP_G (lib/env.h): 0 or 1, the default on for a CUDA backend;
 * -1 with err for another value. On by default on CUDA: +11.4% on an H200
 * (bench/NOTES.md, 2026-11-29), bit-identical (test_model_overlap); on the
 * CPU it only reorders work. */
static int overlap_g_choice(const sg_backend *be, sg_err *err)
{
    static const char *const off_on[] = {"0", "1"};
    return sg_env_choice("SG_OVERLAP_G", off_on, 2, !strcmp(be->name, "cuda"), err);
}

static int model_create(sg_model **out, const sg_model_config *cfg, sg_backend *be,
                        uint64_t init_seed, int gen_only, sg_err *err)
{
    *out = NULL;
    if (sg_model_config_check(cfg, err)) return -1;
    int batch_max = sg_model_batch_max(cfg, gen_only);
    if (batch_max < 1)
        return sg_errf(err, "model: at %d px with conv dims g %d, d %d, one image's convolution would hold more "
                       "than 2^31-1 values (cuDNN's limit for one tensor; kept on the CPU so that runs move between "
                       "the backends): use smaller images or conv dims",
                       cfg->image_size, cfg->g_conv_dim, cfg->d_conv_dim);
    if (cfg->batch > batch_max)
        return sg_errf(err, "model: batch %d at %d px is too large: a convolution would hold more than 2^31-1 "
                       "values (cuDNN's limit for one tensor; kept on the CPU so that runs move between the "
                       "backends); the largest batch is %d", cfg->batch, cfg->image_size,
                       batch_max);
    /* A/B switches (lib/env.h): the G step's reuse of the D step's forward,
     * the next G forward beside the D step (SG_OVERLAP_G, lib/trainer.c), and
     * with it G's weight gradients beside G's backward (SG_OVERLAP_G_WGRAD) */
    static const char *const off_on[] = {"0", "1"};
    int g_tape_reuse = sg_env_choice("SG_G_TAPE_REUSE", off_on, 2, 1, err);
    int overlap_g = overlap_g_choice(be, err);
    int overlap_g_wgrad = sg_env_choice("SG_OVERLAP_G_WGRAD", off_on, 2, 1, err);
    if (g_tape_reuse < 0 || overlap_g < 0 || overlap_g_wgrad < 0) return sg_err_prefix(err, "model");
    sg_model *m = calloc(1, sizeof *m);
    if (!m) return sg_err_oom(err, "model: out of memory");
    m->cfg = *cfg;
    m->be = be;
    m->c_dim = sg_model_c_dim(cfg);
    m->cls_dim = sg_model_cls_dim(cfg);
    m->cap = cfg->batch;
    m->gen_only = gen_only;
    m->g_tape_reuse = g_tape_reuse;
    m->overlap_g = overlap_g;
    m->overlap_g_wgrad = overlap_g_wgrad;
    if (alloc_model(m)) return create_failed(m, be, err);
    for (int j = 0; j <= m->g_n_in; j++) point_conv(&m->g, &m->g_conv[j]);
    for (int j = 0; j < m->g_n_in; j++) point_in(&m->g, &m->g_in[j]);
    if (!gen_only) {
        for (int l = 0; l < cfg->d_repeat; l++) point_conv(&m->d, &m->d_conv[l]);
        point_conv(&m->d, &m->d_src);
        point_conv(&m->d, &m->d_cls);
    }
    if (init_net(m, &m->g, init_seed, SG_STREAM_INIT_G, err) ||
        (!gen_only && init_net(m, &m->d, init_seed, SG_STREAM_INIT_D, err))) { sg_model_free(m); return -1; }
    if (be->ops->sync(be, err)) { sg_model_free(m); return sg_err_prefix(err, "model"); }
    *out = m;
    return 0;
}

int sg_model_create(sg_model **out, const sg_model_config *cfg, sg_backend *be,
                    uint64_t init_seed, sg_err *err)
{
    return model_create(out, cfg, be, init_seed, 0, err);
}

int sg_model_create_generator(sg_model **out, const sg_model_config *cfg, sg_backend *be,
                              uint64_t init_seed, sg_err *err)
{
    return model_create(out, cfg, be, init_seed, 1, err);
}

int sg_model_is_generator_only(const sg_model *m) { return m->gen_only; }

size_t sg_model_backend_bytes(const sg_model *m) { return m->alloc_bytes; }

size_t sg_model_bytes(const sg_model_config *cfg, int generator_only)
{
    sg_err err;
    if (sg_model_config_check(cfg, &err)) return 0;
    sg_model *m = model_shell(cfg);   /* nothing is called: balloc counts */
    if (!m) return 0;
    int overlap_g = overlap_g_choice(m->be, &err);   /* the CPU's default */
    m->cap = cfg->batch;
    m->gen_only = generator_only;
    m->counting = 1;
    /* a generator-only model queues nothing (need_training) */
    size_t bytes = overlap_g < 0 || alloc_model(m) || (!generator_only && overlap_g && alloc_queue(m)) ? 0
                   : m->alloc_bytes;
    sg_model_free(m);   /* n_allocs is 0: no backend block to free */
    return bytes;
}

/* Refuses a D or training call on a generator-only model. */
static int need_training(const sg_model *m, const char *what, sg_err *err)
{
    if (!m->gen_only) return 0;
    return sg_errf(err, "model: %s: not available on a generator-only model (sg_model_create_generator "
                   "has no D, gradients, Adam state or training buffers)", what);
}

/* Refuses what would change G, or read what a G forward run ahead of its D
 * step (see sg_model_queue_batch_drawn) has already updated: from the D step
 * that ran the queued batch's forward until that batch's own D step. */
static int need_no_prefetch(const sg_model *m, const char *what, sg_err *err)
{
    if (m->queued != QUEUED_PREFETCHED && !m->fakes_ready) return 0;
    return sg_errf(err, "model: %s while a G forward has already run ahead of its D step (the queued "
                   "batch's: call sg_model_next_batch and run its d_step first)", what);
}

/* G's weights or its state change: nothing computed from the old ones stands. */
static void g_changed(sg_model *m)
{
    m->fakes_ready = 0;
    m->tape_a_holds = TAPE_OTHER;
}

/* ---- tensors and optimizer state ------------------------------------------------------ */

static net_state *net_of(sg_model *m, sg_net net) { return net == SG_NET_G ? &m->g : &m->d; }

int sg_model_layout(const sg_model_config *cfg, sg_net net, sg_tensor_info **list, sg_err *err)
{
    *list = NULL;
    sg_model_config c = *cfg;
    c.batch = 1;             /* no part of the layout: a checkpoint's metadata has none */
    if (sg_model_config_check(&c, err)) return -1;
    sg_model *m = calloc(1, sizeof *m);
    if (!m) return sg_err_oom(err, "model: out of memory");
    m->cfg = c;
    m->c_dim = sg_model_c_dim(cfg);
    m->cls_dim = sg_model_cls_dim(cfg);
    int built = net == SG_NET_G ? build_g(m) : build_d(m);
    net_state *ns = net == SG_NET_G ? &m->g : &m->d;
    int n = ns->n;
    if (!built) *list = ns->info, ns->info = NULL;   /* handed to the caller */
    free_net(&m->g); free_net(&m->d);
    free(m->g_conv); free(m->g_in); free(m->d_conv);
    free(m);
    return built ? sg_err_oom(err, "model: out of memory") : n;
}

int sg_model_tensors(const sg_model *m, sg_net net, const sg_tensor_info **list)
{
    const net_state *ns = net == SG_NET_G ? &m->g : &m->d;
    *list = ns->info;
    return ns->n;
}

/* One tensor (or its gradient) from src into host, NCHW; synchronous. */
static int download_tensor(sg_model *m, const sg_tensor_info *ti, void *host, const float *src, sg_err *err)
{
    float *tmp = NULL;
    if (m->be->nhwc && ti->ndim == 4 && !(tmp = malloc(ti->numel * sizeof(float))))
        return sg_err_oom(err, "out of memory");
    m->be->ops->download(m->be, tmp ? tmp : host, src, ti->numel * sizeof(float));
    int rc = m->be->ops->sync(m->be, err);
    if (tmp) { weight_layout(ti, host, tmp, 1, 0); free(tmp); }
    return rc;
}

int sg_model_get_tensor(sg_model *m, sg_net net, int i, void *host, sg_err *err)
{
    if (net != SG_NET_G && need_training(m, "reading a tensor of D", err)) return -1;
    net_state *ns = net_of(m, net);
    if (i < 0 || i >= ns->n) return sg_errf(err, "model: tensor index %d out of range (0..%d)", i, ns->n - 1);
    if (ns->info[i].dtype == SG_DTYPE_I64) {
        memcpy(host, &ns->counters[ns->counter_index[i]], sizeof(int64_t));
        return 0;
    }
    if (net == SG_NET_G && !ns->info[i].trainable &&
        need_no_prefetch(m, "reading G's running statistics", err)) return -1;
    return download_tensor(m, &ns->info[i], host, tensor_ptr(ns, i), err) ?
           sg_err_prefix(err, "model: reading %s", ns->info[i].name) : 0;
}

int sg_model_set_tensor(sg_model *m, sg_net net, int i, const void *host, sg_err *err)
{
    if (net != SG_NET_G && need_training(m, "writing a tensor of D", err)) return -1;
    if (net == SG_NET_G) {
        if (need_no_prefetch(m, "writing a tensor of G", err)) return -1;
        g_changed(m);   /* G(x, c_trg) may change */
    }
    net_state *ns = net_of(m, net);
    if (i < 0 || i >= ns->n) return sg_errf(err, "model: tensor index %d out of range (0..%d)", i, ns->n - 1);
    if (ns->info[i].dtype == SG_DTYPE_I64) {
        memcpy(&ns->counters[ns->counter_index[i]], host, sizeof(int64_t));
        return 0;
    }
    const sg_tensor_info *ti = &ns->info[i];
    float *tmp = NULL;
    if (m->be->nhwc && ti->ndim == 4) {
        if (!(tmp = malloc(ti->numel * sizeof(float)))) return sg_err_oom(err, "model: out of memory");
        weight_layout(ti, tmp, host, 1, 1);
    }
    m->be->ops->upload(m->be, tensor_ptr(ns, i), tmp ? tmp : host, ti->numel * sizeof(float));
    int rc = m->be->ops->sync(m->be, err);
    free(tmp);
    return rc ? sg_err_prefix(err, "model: writing %s", ti->name) : 0;
}

size_t sg_model_trainable_count(const sg_model *m, sg_net net)
{
    return net == SG_NET_G ? m->g.n_train : m->d.n_train;
}

int sg_model_get_adam(sg_model *m, sg_net net, float *m1, float *m2, int64_t *step, sg_err *err)
{
    if (need_training(m, "reading Adam state", err)) return -1;
    net_state *ns = net_of(m, net);
    if (download_flat(m, ns, m1, ns->adam_m) || download_flat(m, ns, m2, ns->adam_v))
        return sg_err_oom(err, "model: out of memory reading Adam state");
    *step = ns->step;
    return m->be->ops->sync(m->be, err) ? sg_err_prefix(err, "model: reading Adam state") : 0;
}

int sg_model_set_adam(sg_model *m, sg_net net, const float *m1, const float *m2, int64_t step, sg_err *err)
{
    if (need_training(m, "writing Adam state", err)) return -1;
    if (step < 0) return sg_errf(err, "model: negative Adam step %lld", (long long)step);
    net_state *ns = net_of(m, net);
    if (net == SG_NET_G) {
        if (need_no_prefetch(m, "writing G's Adam state", err)) return -1;
        g_changed(m);   /* part of a load of G: recompute */
    }
    if (upload_flat(m, ns, ns->adam_m, m1) || upload_flat(m, ns, ns->adam_v, m2))
        return sg_err_oom(err, "model: out of memory writing Adam state");
    ns->step = step;
    return m->be->ops->sync(m->be, err) ? sg_err_prefix(err, "model: writing Adam state") : 0;
}

/* ---- G -------------------------------------------------------------------------------------- */

static void conv_fwd(sg_backend *be, const conv_layer *L, float *y, const float *x, int N)
{
    if (L->transposed)
        be->ops->conv2d_backward_data(be, y, x, L->w, N, L->co, L->hout, L->hout, L->ci, L->k, L->stride, L->pad);
    else
        be->ops->conv2d_forward(be, y, x, L->w, L->b, N, L->ci, L->hin, L->hin, L->co, L->k, L->stride, L->pad);
}

/* Weight (and bias) gradient from the first n_w rows (0: none) of the layer's
 * input x and output gradient dy; dx (input gradient, N rows) if non-NULL. */
static void conv_bwd(sg_backend *be, const conv_layer *L, float *dx, const float *dy, const float *x,
                     int N, int n_w)
{
    if (L->transposed) {
        if (n_w)
            be->ops->conv2d_backward_filter(be, L->dw, NULL, dy, x, n_w, L->co, L->hout, L->hout, L->ci, L->k, L->stride, L->pad);
        if (dx)
            be->ops->conv2d_forward(be, dx, dy, L->w, NULL, N, L->co, L->hout, L->hout, L->ci, L->k, L->stride, L->pad);
    } else {
        if (n_w)
            be->ops->conv2d_backward_filter(be, L->dw, L->db, x, dy, n_w, L->ci, L->hin, L->hin, L->co, L->k, L->stride, L->pad);
        if (dx)
            be->ops->conv2d_backward_data(be, dx, dy, L->w, N, L->ci, L->hin, L->hin, L->co, L->k, L->stride, L->pad);
    }
}

/* out = G(x, c) for N images; train: update the running statistics. out is
 * usually t->out; the D step has G write straight into D's input, which the
 * G step then reads too (g_backward takes the output wherever it is). */
static void g_forward(sg_model *m, g_tape *t, float *out, const float *x, const float *c, int N, int train)
{
    sg_backend *be = m->be;
    int S = m->cfg.image_size, n = m->g_n_in;
    be->ops->concat_labels(be, t->in, x, c, N, 3, m->c_dim, S * S);
    for (int j = 0; j < n; j++) {
        const conv_layer *C = &m->g_conv[j];
        const in_layer *I = &m->g_in[j];
        conv_fwd(be, C, t->z[j], j ? t->a[j - 1] : t->in, N);
        /* IN then ReLU in one op; a residual block's second IN (no ReLU)
         * adds the block input in the same op */
        be->ops->instnorm_forward(be, t->a[j], t->mean[j], t->rstd[j], t->z[j], I->gamma, I->beta,
                                  train ? I->rmean : NULL, train ? I->rvar : NULL,
                                  N, I->c, I->hw, IN_EPS, IN_MOMENTUM, !I->residual_b,
                                  I->residual_b ? t->a[j - 2] : NULL);
    }
    conv_fwd(be, &m->g_conv[n], m->g_zfinal, t->a[n - 1], N);
    be->ops->tanh_forward(be, out, m->g_zfinal, (size_t)N * 3 * S * S);
}

/* Backward of G from d_out (N,3,S,S), out being the forward's tanh output
 * (g_forward's out): weight gradients +=; dx (N,3,S,S) the gradient w.r.t.
 * the image input if non-NULL. Each layer's gradient w.r.t. its conv output
 * takes the place of that output in the tape (z[j]; the tanh's in g_zfinal),
 * which nothing reads after it, so that with wgrad_lane (the backend has
 * lanes) the weight gradients can run on its second lane beside the rest of
 * the backward (the caller joins before reading them): each reads only its layer's input and
 * that gradient, which nothing writes again in this backward. The input
 * gradients use two scratch buffers, and inside a residual block a third,
 * the gradient of the block's output, kept for the skip path. */
static void g_backward(sg_model *m, g_tape *t, const float *out, const float *d_out, float *dx, int N,
                       int wgrad_lane)
{
    sg_backend *be = m->be;
    const sg_backend_ops *o = be->ops;
    int S = m->cfg.image_size, n = m->g_n_in;
    float *cur = m->g_buf[0], *skip = NULL;
    o->tanh_backward(be, m->g_zfinal, d_out, out, (size_t)N * 3 * S * S);
    for (int j = n; j >= 0; j--) {
        const conv_layer *C = &m->g_conv[j];
        float *dz = j == n ? m->g_zfinal : t->z[j];
        if (j < n) {
            /* cur = dL/d a[j]; a[j] = ReLU(IN(z[j])), whose backward masks cur by
             * a[j] > 0 inside instnorm_backward, or block input + IN(z[j]) */
            const in_layer *I = &m->g_in[j];
            if (I->residual_b) skip = cur;
            o->instnorm_backward(be, dz, I->dgamma, I->dbeta, cur, I->residual_b ? NULL : t->a[j], t->z[j],
                                 t->mean[j], t->rstd[j], I->gamma, N, I->c, I->hw);
        }
        const float *xin = j ? t->a[j - 1] : t->in;
        if (wgrad_lane) o->lane(be, SG_LANE_FORK);
        conv_bwd(be, C, NULL, dz, xin, N, N);
        if (wgrad_lane) o->lane(be, SG_LANE_MAIN);
        /* the input gradient into a buffer that is neither cur nor skip */
        float *din = NULL;
        for (int i = 0; i < 3 && !din; i++) if (m->g_buf[i] != cur && m->g_buf[i] != skip) din = m->g_buf[i];
        if (j == 0) {
            if (dx) {
                conv_bwd(be, C, din, dz, xin, N, 0);
                o->channel_slice(be, dx, din, N, 3 + m->c_dim, 0, 3, S * S);
            }
            break;
        }
        conv_bwd(be, C, din, dz, xin, N, 0);
        if (j < n && !m->g_in[j].residual_b && skip) {    /* first conv of a block: add the skip path */
            o->add(be, din, din, skip, act_size(C, N, 1));
            skip = NULL;
        }
        cur = din;
    }
}

/* ---- D -------------------------------------------------------------------------------------- */

/* D's trunk on x (N,3,S,S), then the src head on its first n_src rows and
 * the cls head on its first n_cls rows (0: not run). D has no op that mixes
 * images (convs, biases, LeakyReLUs), so each row's outputs are what a run on
 * that image alone gives; the batch is the outermost dimension in both
 * layouts, so the first k rows of every activation are a contiguous prefix
 * and rows [r, r+k) start at act_size(layer, r). */
static void d_forward(sg_model *m, const float *x, int N, int n_src, int n_cls)
{
    sg_backend *be = m->be;
    int L = m->cfg.d_repeat;
    for (int l = 0; l < L; l++) {
        const conv_layer *C = &m->d_conv[l];
        /* the conv without its bias, then bias + LeakyReLU in one pass */
        be->ops->conv2d_forward(be, m->dt.a[l], l ? m->dt.a[l - 1] : x, C->w, NULL, N, C->ci, C->hin, C->hin,
                                C->co, C->k, C->stride, C->pad);
        be->ops->bias_leaky_relu(be, m->dt.a[l], C->b, LRELU_SLOPE, N, C->co, C->hout * C->hout);
    }
    if (n_src) conv_fwd(be, &m->d_src, m->dt.src, m->dt.a[L - 1], n_src);
    if (n_cls) conv_fwd(be, &m->d_cls, m->dt.cls, m->dt.a[L - 1], n_cls);
}

/* Backward of D over the tape's first n + n_gp rows from d_src (the src
 * head's output gradient for all of them) and, unless NULL, d_cls for the
 * first n_cls <= n rows. Rows [0,n) carry loss gradients: dx (n,3,S,S) if
 * non-NULL, and with grads (the D step) the cls head's weight gradient and
 * the trunk's bias gradients += (each layer's in its mask's pass,
 * leaky_relu_backward_bias over rows [0,n)). Weight gradients of the trunk
 * and the src head are not taken here: the D step takes them in
 * d_gradient_penalty, one call per layer over these rows and the GP's.
 * Rows [n,n+n_gp) are the D step's x_hat rows with a seed of ones:
 * the first half of the GP chain (DESIGN.md) is the same masks and conv^T as
 * a backward, so it rides in the same calls instead of ~2 launches per layer
 * of its own; it leaves u = dD_src/dx_hat in gp_u. Every row's masked
 * gradient stays in d_grad[l] for d_gradient_penalty. */
static void d_backward(sg_model *m, const float *x, const float *d_src, const float *d_cls, int n_cls,
                       int grads, float *dx, int n, int n_gp)
{
    sg_backend *be = m->be;
    int L = m->cfg.d_repeat, R = n + n_gp;
    const float *top = m->dt.a[L - 1];
    float *cur = m->d_grad[L - 1], *other = m->d_buf;
    conv_bwd(be, &m->d_src, cur, d_src, top, R, 0);
    if (d_cls) {
        conv_bwd(be, &m->d_cls, other, d_cls, top, n_cls, grads ? n_cls : 0);
        be->ops->add(be, cur, cur, other, act_size(&m->d_src, n_cls, 1));
    }
    for (int l = L - 1; l >= 0; l--) {
        const conv_layer *C = &m->d_conv[l];
        float *g = m->d_grad[l];
        /* the mask from the output (LeakyReLU keeps the sign), and the bias
         * gradient of the loss rows in the same pass */
        be->ops->leaky_relu_backward_bias(be, g, grads ? C->db : NULL, g, m->dt.a[l], LRELU_SLOPE, R, C->co,
                                          C->hout * C->hout, n);
        if (l) {
            conv_bwd(be, C, m->d_grad[l - 1], g, m->dt.a[l - 1], R, 0);
            continue;
        }
        /* D's input: the caller's dx for the loss rows, u for the x_hat rows */
        conv_bwd(be, C, dx, g, x, n, 0);
        if (n_gp)
            be->ops->conv2d_backward_data(be, m->gp_u, g + act_size(C, n, 0), C->w, n_gp, C->ci, C->hin, C->hin,
                                          C->co, C->k, C->stride, C->pad);
    }
}

/* The gradient penalty on x_hat from u (gp_u), and every weight gradient of
 * D's trunk and src head (DESIGN.md). d_backward has run over the tape's
 * row0 loss rows (real, fake) and the chain's first half on the N x_hat rows
 * after them; d_grad[l] holds all their masked gradients and d_src their
 * head gradients (for the x_hat rows, the seed of ones). The chain's second half
 * goes bottom up: its input gradient at layer l (delta) takes the place of
 * the x_hat rows of that layer's input (x for the first, then dt.a[l - 1],
 * whose x_hat rows served as masks already), so that one weight-gradient
 * call over all rows sums the loss rows' terms (input rows x gradient
 * rows) and the GP's (delta x the chain's masked gradient) together:
 * one call, and one pass over the weights, per layer instead of two. The
 * biases take the loss rows only, and d_backward took them already. */
static void d_gradient_penalty(sg_model *m, float *x, const float *d_src, int N, int row0)
{
    sg_backend *be = m->be;
    const sg_backend_ops *o = be->ops;
    int L = m->cfg.d_repeat, S = m->cfg.image_size, R = row0 + N;
    const conv_layer *H = &m->d_src;
    size_t per = (size_t)3 * S * S;
    o->gp_loss(be, m->losses + L_D_GP, x + row0 * per, m->gp_u, N, per, m->cfg.lambda_gp);
    for (int l = 0; l < L; l++) {
        const conv_layer *C = &m->d_conv[l];
        float *in = l ? m->dt.a[l - 1] : x, *g = m->d_grad[l];
        o->conv2d_backward_filter(be, C->dw, NULL, in, g, R, C->ci, C->hin, C->hin, C->co, C->k, C->stride,
                                  C->pad);
        /* the next delta: conv(delta) masked by this layer's x_hat rows, in their place */
        float *a_hat = m->dt.a[l] + act_size(C, row0, 0);
        o->conv2d_forward(be, m->d_buf, in + act_size(C, row0, 1), C->w, NULL, N, C->ci, C->hin, C->hin,
                          C->co, C->k, C->stride, C->pad);
        o->leaky_relu_backward(be, a_hat, m->d_buf, a_hat, LRELU_SLOPE, act_size(C, N, 0));
    }
    o->conv2d_backward_filter(be, H->dw, NULL, m->dt.a[L - 1], d_src, R, H->ci, H->hin, H->hin, H->co, H->k,
                              H->stride, H->pad);
}

/* Classification loss on D's cls output (dt.cls) for the current dataset. */
static void cls_loss(sg_model *m, float *loss, float *grad, const float *labels, int N)
{
    int ds = m->ds, off = sg_model_label_offset(&m->cfg, ds), C = m->cfg.label_dim[ds];
    if (grad) m->be->ops->memzero(m->be, grad, (size_t)N * m->cls_dim * sizeof(float));
    if (m->cfg.one_hot[ds])
        m->be->ops->softmax_ce_loss(m->be, loss, grad, m->dt.cls, m->cls_dim, off, labels, m->c_dim, off,
                                    N, C, m->cfg.lambda_cls);
    else
        m->be->ops->bce_logits_loss(m->be, loss, grad, m->dt.cls, m->cls_dim, off, labels, m->c_dim, off,
                                    N, C, m->cfg.lambda_cls);
}

/* ---- steps -------------------------------------------------------------------------------------- */

/* drawn: c_trg and alpha will be drawn by the backend (ops->draw_batch) */
static int check_batch(const sg_model *m, int ds, int n, int drawn, sg_err *err)
{
    if (ds < 0 || ds >= m->cfg.n_datasets)
        return sg_errf(err, "model: dataset %d out of range (0..%d)", ds, m->cfg.n_datasets - 1);
    if (n < 1 || n > m->cap) return sg_errf(err, "model: batch of %d images (1..%d allowed)", n, m->cap);
    if (drawn && n > SG_BATCH_DRAW_MAX)
        return sg_errf(err, "model: batch of %d images (at most %d when drawn)", n, SG_BATCH_DRAW_MAX);
    return 0;
}

/* A batch's images and own labels into x_dst and c_org_dst (backend memory);
 * with d, its c_trg and alpha drawn into c_trg_dst and alpha_dst. */
static void upload_batch(sg_model *m, float *x_dst, float *c_org_dst, const float *x, const float *c_org, int n,
                         const sg_batch_draw *d, float *c_trg_dst, float *alpha_dst)
{
    upload_images(m, x_dst, x, n);
    m->be->ops->upload(m->be, c_org_dst, c_org, (size_t)n * m->c_dim * sizeof(float));
    if (d) m->be->ops->draw_batch(m->be, c_trg_dst, alpha_dst, c_org_dst, d);
}

/* The current batch: images and own labels, and with d its drawn c_trg and
 * alpha (else the caller uploads them). */
static int batch_start(sg_model *m, int ds, int n, const float *x, const float *c_org, const sg_batch_draw *d,
                       sg_err *err)
{
    if (need_training(m, "set_batch", err) || need_no_prefetch(m, "set_batch", err)) return -1;
    if (check_batch(m, ds, n, d != NULL, err)) return -1;
    m->fakes_ready = 0;
    m->queued = QUEUED_NONE;   /* a queued batch is dropped: this one comes first */
    m->tape_a_holds = TAPE_OTHER;
    upload_batch(m, m->x, m->c_org, x, c_org, n, d, m->c_trg, m->alpha);
    m->n = n;
    m->ds = ds;
    /* The uploads are queued on the backend's stream ahead of the steps that
     * read them; the caller waits for them or marks a fence (batch_uploaded). */
    return 0;
}

/* Where a batch's upload from the caller's arrays ends: fence_slot >= 0 (the
 * _async calls) marks that fence slot, which the caller waits for before it
 * changes the arrays; -1 waits for the uploads, so that the arrays may be
 * reused at once whatever memory they are in (from ops->host_alloc memory an
 * upload is asynchronous: lib/backend.h, "host staging"). */
static int batch_uploaded(sg_model *m, int fence_slot, const char *what, sg_err *err)
{
    if (fence_slot >= 0) {
        m->be->ops->fence(m->be, fence_slot);
        return 0;
    }
    if (m->be->ops->sync(m->be, err)) return sg_err_prefix(err, "model: %s", what);
    return 0;
}

/* Before anything is uploaded, so that a refused call marks nothing. */
static int check_fence_slot(int fence_slot, const char *what, sg_err *err)
{
    if (fence_slot < 0 || fence_slot >= SG_BACKEND_FENCES)
        return sg_errf(err, "model: %s: fence slot %d out of range (0..%d)", what, fence_slot, SG_BACKEND_FENCES - 1);
    return 0;
}

int sg_model_set_batch(sg_model *m, int ds, int n, const float *x, const float *c_org,
                       const float *c_trg, const float *alpha, sg_err *err)
{
    if (batch_start(m, ds, n, x, c_org, NULL, err)) return -1;
    m->be->ops->upload(m->be, m->c_trg, c_trg, (size_t)n * m->c_dim * sizeof(float));
    m->be->ops->upload(m->be, m->alpha, alpha, n * sizeof(float));
    return batch_uploaded(m, -1, "set_batch", err);
}

void sg_model_batch_draw(const sg_model_config *cfg, int ds, int n, uint64_t seed, int64_t iter,
                         int random_targets, sg_batch_draw *d)
{
    d->seed = seed;
    d->iter = iter;
    d->n = n;
    d->c_dim = sg_model_c_dim(cfg);
    d->label_off = sg_model_label_offset(cfg, ds);
    d->label_dim = cfg->label_dim[ds];
    d->one_hot = cfg->one_hot[ds];
    d->mask_col = cfg->n_datasets > 1 ? sg_model_cls_dim(cfg) + ds : -1;
    d->random_targets = random_targets;
}

static int set_batch_drawn(sg_model *m, int ds, int n, const float *x, const float *c_org, uint64_t seed,
                           int64_t iter, int random_targets, int fence_slot, sg_err *err)
{
    sg_batch_draw d;
    sg_model_batch_draw(&m->cfg, ds, n, seed, iter, random_targets, &d);
    if (batch_start(m, ds, n, x, c_org, &d, err)) return -1;
    return batch_uploaded(m, fence_slot, "set_batch", err);
}

int sg_model_set_batch_drawn(sg_model *m, int ds, int n, const float *x, const float *c_org,
                             uint64_t seed, int64_t iter, int random_targets, sg_err *err)
{
    return set_batch_drawn(m, ds, n, x, c_org, seed, iter, random_targets, -1, err);
}

int sg_model_set_batch_drawn_async(sg_model *m, int ds, int n, const float *x, const float *c_org, uint64_t seed,
                                   int64_t iter, int random_targets, int fence_slot, sg_err *err)
{
    if (check_fence_slot(fence_slot, "set_batch", err)) return -1;
    return set_batch_drawn(m, ds, n, x, c_org, seed, iter, random_targets, fence_slot, err);
}

static int queue_batch_drawn(sg_model *m, int ds, int n, const float *x, const float *c_org, uint64_t seed,
                             int64_t iter, int random_targets, int fence_slot, sg_err *err)
{
    if (need_training(m, "queue_batch", err)) return -1;
    if (m->queued == QUEUED_PREFETCHED)
        return sg_errf(err, "model: queue_batch before next_batch (the queued batch's G forward has already run)");
    if (m->n < 1) return sg_errf(err, "model: queue_batch before set_batch");
    if (check_batch(m, ds, n, 1, err)) return -1;
    if (!m->q_x && alloc_queue(m)) {
        if (m->be->ops->sync(m->be, err)) return sg_err_prefix(err, "model: queue_batch");
        return sg_err_oom(err, "model: out of memory for the queued batch");
    }
    sg_batch_draw d;
    sg_model_batch_draw(&m->cfg, ds, n, seed, iter, random_targets, &d);
    upload_batch(m, m->q_x, m->q_c_org, x, c_org, n, &d, m->q_c_trg, m->q_alpha);
    m->q_n = n;
    m->q_ds = ds;
    m->queued = QUEUED_BATCH;
    return batch_uploaded(m, fence_slot, "queue_batch", err);
}

int sg_model_queue_batch_drawn(sg_model *m, int ds, int n, const float *x, const float *c_org,
                               uint64_t seed, int64_t iter, int random_targets, sg_err *err)
{
    return queue_batch_drawn(m, ds, n, x, c_org, seed, iter, random_targets, -1, err);
}

int sg_model_queue_batch_drawn_async(sg_model *m, int ds, int n, const float *x, const float *c_org, uint64_t seed,
                                     int64_t iter, int random_targets, int fence_slot, sg_err *err)
{
    if (check_fence_slot(fence_slot, "queue_batch", err)) return -1;
    return queue_batch_drawn(m, ds, n, x, c_org, seed, iter, random_targets, fence_slot, err);
}

int sg_model_next_batch(sg_model *m, sg_err *err)
{
    if (need_training(m, "next_batch", err)) return -1;
    if (m->queued == QUEUED_NONE) return sg_errf(err, "model: next_batch without a queued batch");
    sg_backend *be = m->be;
    int n = m->q_n;
    size_t img = (size_t)n * 3 * m->cfg.image_size * m->cfg.image_size, lab = (size_t)n * m->c_dim;
    be->ops->copy(be, m->x, m->q_x, img * sizeof(float));
    be->ops->copy(be, m->c_org, m->q_c_org, lab * sizeof(float));
    be->ops->copy(be, m->c_trg, m->q_c_trg, lab * sizeof(float));
    be->ops->copy(be, m->alpha, m->q_alpha, n * sizeof(float));
    m->fakes_ready = m->queued == QUEUED_PREFETCHED;
    if (m->fakes_ready) be->ops->copy(be, m->d_in + img, m->q_fake, img * sizeof(float));
    m->tape_a_holds = m->tape_a_holds == TAPE_QUEUED ? TAPE_CURRENT : TAPE_OTHER;
    m->n = n;
    m->ds = m->q_ds;
    m->queued = QUEUED_NONE;
    return 0;
}

static void adam_step(sg_model *m, net_state *ns, float lr)
{
    ns->step++;
    m->be->ops->adam(m->be, ns->params, ns->grads, ns->adam_m, ns->adam_v, ns->n_train, lr,
                     m->cfg.beta1, m->cfg.beta2, ADAM_EPS, ns->step);
}

/* Step graphs: on a backend that records graphs, a step of a given (kind,
 * dataset, batch size) runs eagerly once (cuDNN picks its algorithms, scratch
 * is sized), is recorded the second time and launched, and replayed with one
 * call from then on. Any failure to record falls back to running eagerly. */
enum { GRAPH_NONE, GRAPH_SEEN, GRAPH_READY, GRAPH_OFF };

static int run_step(sg_model *m, int key, net_state *ns, float lr,
                    int (*body)(sg_model *, float, sg_err *), sg_err *err)
{
    sg_backend *be = m->be;
    const sg_backend_ops *o = be->ops;
    if (!o->graph_begin || !o->graph_end || !o->graph_launch || !o->graph_drop)
        return body(m, lr, err);
    if (m->graph_n[key] != m->n) {          /* recorded for another batch size */
        o->graph_drop(be, key, m);
        m->graph_state[key] = GRAPH_NONE;
        m->graph_n[key] = m->n;
    }
    int64_t step0 = ns->step;
    switch (m->graph_state[key]) {
    case GRAPH_READY: {
        ns->step++;
        int r = o->graph_launch(be, key, m, lr, ns->step);
        if (r == 0) return 0;
        ns->step = step0;
        if (r < 0) return o->sync(be, err) ? sg_err_prefix(err, "model: step graph") : sg_errf(err, "model: step graph failed");
        m->graph_state[key] = GRAPH_SEEN;   /* dropped by the backend: record again next time */
        return body(m, lr, err);
    }
    case GRAPH_SEEN:
        if (o->graph_begin(be, key, m) == 0) {
            int rb = body(m, lr, err);          /* recorded, not run */
            int re = o->graph_end(be, key);
            if (rb == 0 && re == 0 && o->graph_launch(be, key, m, lr, ns->step) == 0) {
                m->graph_state[key] = GRAPH_READY;
                return 0;
            }
            ns->step = step0;
            o->graph_drop(be, key, m);
            if (o->sync(be, err)) return sg_err_prefix(err, "model: recording a step graph");
            /* not an error (e.g. the workspace had to grow): run eagerly,
             * which prepares what was missing, and record next time */
            m->graph_state[key] = GRAPH_NONE;
            return body(m, lr, err);
        }
        m->graph_state[key] = GRAPH_OFF;        /* graphs off in this backend */
        return body(m, lr, err);
    case GRAPH_NONE: {
        int r = body(m, lr, err);
        if (r == 0) m->graph_state[key] = GRAPH_SEEN;
        return r;
    }
    default:
        return body(m, lr, err);
    }
}

static int d_step_body(sg_model *m, float lr, sg_err *err);
static int g_step_body(sg_model *m, float lr, sg_err *err);
static int g_step_reuse_body(sg_model *m, float lr, sg_err *err);
static int g_step_rec_done_body(sg_model *m, float lr, sg_err *err);
static void g_forward_from_tape(sg_model *m, int N);
static void g_reconstruction(sg_model *m, const float *x_fake, float *scratch, int N);

/* A D step; prefetch_ok: it may run a queued batch's G forward; rec_ahead:
 * it runs the G step's reconstruction too (sg_model_d_g_steps). */
static int d_step_run(sg_model *m, float lr, int prefetch_ok, int rec_ahead, sg_err *err)
{
    if (need_training(m, "d_step", err)) return -1;
    if (m->n < 1) return sg_errf(err, "model: d_step before set_batch");
    if (m->queued == QUEUED_PREFETCHED)
        return sg_errf(err, "model: a second d_step before next_batch (the queued batch's G forward has "
                       "already run)");
    int holds = m->tape_a_holds;
    m->tape_a_holds = TAPE_OTHER;   /* until the step has run: it rewrites tape_a */
    m->step_fakes_ready = m->fakes_ready;
    m->step_prefetch = prefetch_ok && m->queued == QUEUED_BATCH && m->q_n == m->n;
    m->step_rec_ahead = rec_ahead;
    int v = rec_ahead ? 4 + m->step_fakes_ready : 2 * m->step_fakes_ready + m->step_prefetch;
    if (run_step(m, GRAPH_KEY_D_VARIANT(m->ds, v), &m->d, lr, d_step_body, err)) return -1;
    m->fakes_ready = 0;    /* each D step runs (or consumes) one G forward */
    /* only D changed: G(x, c_trg) stands, its own or the prefetch's */
    m->tape_a_holds = m->step_fakes_ready ? holds : TAPE_CURRENT;
    if (m->step_prefetch) {
        m->prefetches++;
        m->queued = QUEUED_PREFETCHED;
        m->tape_a_holds = TAPE_QUEUED;
    }
    if (rec_ahead) {
        m->rec_done = 1;
        m->recs_ahead++;
    }
    return 0;
}

int sg_model_d_step(sg_model *m, float lr, sg_err *err) { return d_step_run(m, lr, 1, 0, err); }

/* The body is chosen here, on the host, per call: a replayed graph of any
 * key is the body it was recorded from. */
int sg_model_g_step(sg_model *m, float lr, sg_err *err)
{
    if (need_training(m, "g_step", err)) return -1;
    if (m->n < 1) return sg_errf(err, "model: g_step before set_batch");
    if (need_no_prefetch(m, "g_step", err)) return -1;
    int reuse = m->g_tape_reuse && m->tape_a_holds == TAPE_CURRENT, rec_done = m->rec_done;
    m->rec_done = 0;
    if (rec_done && !reuse)   /* d_g_steps runs the reconstruction ahead only where the reuse follows */
        return sg_errf(err, "model: internal: the G step's reconstruction ran ahead of a G step without the reuse");
    g_changed(m);          /* G's weights change (and tape_a is rewritten) */
    if (!reuse) return run_step(m, GRAPH_KEY_G(m->ds), &m->g, lr, g_step_body, err);
    if (run_step(m, rec_done ? GRAPH_KEY_G_REC_DONE(m->ds) : GRAPH_KEY_G_REUSE(m->ds), &m->g, lr,
                 rec_done ? g_step_rec_done_body : g_step_reuse_body, err))
        return -1;
    m->g_tape_reuses++;
    return 0;
}

int sg_model_d_g_steps(sg_model *m, float lr_d, float lr_g, sg_err *err)
{
    /* the reconstruction runs ahead where the G step will reuse the D
     * step's forward: tape_a holds the current batch's after the D step */
    int ahead = m->overlap_g && m->g_tape_reuse && (!m->fakes_ready || m->tape_a_holds == TAPE_CURRENT);
    if (d_step_run(m, lr_d, 0, ahead, err)) return -1;
    if (sg_model_g_step(m, lr_g, err)) {
        m->rec_done = 0;
        return -1;
    }
    return 0;
}

/* The D loss -mean(src(x)) + mean(src(x_fake)) + lambda_cls*cls(x) +
 * lambda_gp*GP(x_hat), with D's trunk run once on the 3N images
 * [x | x_fake | x_hat] of m->d_in: the src head on the real and fake rows,
 * the cls head on the real rows, one backward over all 3N rows (the real and
 * fake rows from each half's loss gradients, no cls gradient for the fake
 * half, and they alone feed the weight gradients; the x_hat rows from a seed
 * of ones, which is the first half of the GP chain), then the rest of the
 * gradient penalty on the x_hat rows. D has no op that mixes images, so this
 * equals separate passes over the three batches (one forward and backward
 * each for real and fake, one forward and the chain for x_hat) up to float
 * summation order in the weight gradients, with one forward and one backward
 * instead of three forwards, two backwards and the chain's first half, and
 * two or three times the rows per GEMM. */
static int d_step_body(sg_model *m, float lr, sg_err *err)
{
    sg_backend *be = m->be;
    const sg_backend_ops *o = be->ops;
    int N = m->n, S = m->cfg.image_size;
    size_t nsrc = (size_t)N * m->d_src.co * m->d_src.hout * m->d_src.hout, per = (size_t)3 * S * S;
    float *x_fake = m->d_in + N * per, *x_hat = m->d_in + 2 * N * per;
    o->memzero(be, m->d.grads, m->d.n_train * sizeof(float));
    /* x_fake = G(x, c_trg), G in training mode, unless a prefetch left it in
     * d_in already */
    if (!m->step_fakes_ready) g_forward(m, &m->tape_a, x_fake, m->x, m->c_trg, N, 1);
    /* the queued batch's G forward on the backend's second lane, beside the
     * rest of this step: it touches only G's weights and running statistics,
     * tape_a, g_zfinal and the queue, none of which the rest reads or writes;
     * after this batch's own forward, so the running statistics see the
     * batches in order */
    if (m->step_prefetch) {
        if (o->lane) o->lane(be, SG_LANE_FORK);
        g_forward(m, &m->tape_a, m->q_fake, m->q_x, m->q_c_trg, N, 1);
        if (o->lane) o->lane(be, SG_LANE_MAIN);
    }
    /* sg_model_d_g_steps: the G step's running-statistics update and its
     * reconstruction on the second lane, beside the rest of this step: they
     * read x, c_org and the fake rows, and write G's running statistics,
     * gradients, tape_b, g_buf, g_zfinal, dx_fake and dx_fake_d (scratch
     * here: the G step writes it later), none of which D's part touches */
    if (m->step_rec_ahead) {
        if (o->lane) o->lane(be, SG_LANE_FORK);
        g_forward_from_tape(m, N);
        g_reconstruction(m, x_fake, m->dx_fake_d, N);
        if (o->lane) o->lane(be, SG_LANE_MAIN);
    }
    /* x_hat = alpha x + (1 - alpha) x_fake */
    o->lerp_images(be, x_hat, m->x, x_fake, m->alpha, N, per);
    d_forward(m, m->d_in, 3 * N, 2 * N, N);
    /* real: -mean(src) + lambda_cls * cls(labels of the real images);
     * fake: mean(src); each half's src gradient into its half of d_dsrc */
    o->mean_loss(be, m->losses + L_D_REAL, m->d_dsrc, m->dt.src, nsrc, -1.0f, 1.0f);
    o->mean_loss(be, m->losses + L_D_FAKE, m->d_dsrc + nsrc, m->dt.src + nsrc, nsrc, 1.0f, 1.0f);
    cls_loss(m, m->losses + L_D_CLS, m->d_dcls, m->c_org, N);
    /* x_hat's src gradient: the GP seed (filled per step: N, and so its rows, can change) */
    o->fill(be, m->d_dsrc + 2 * nsrc, 1.0f, nsrc);
    d_backward(m, m->d_in, m->d_dsrc, m->d_dcls, N, 1, NULL, 2 * N, N);
    d_gradient_penalty(m, m->d_in, m->d_dsrc, N, 2 * N);
    adam_step(m, &m->d, lr);
    if ((m->step_prefetch || m->step_rec_ahead) && o->lane) o->lane(be, SG_LANE_JOIN);
    return 0;
}

/* The G step's first forward when the D step's G(x, c_trg) is still in
 * tape_a (conv outputs, IN outputs and statistics) and d_in's fake rows (the
 * G step reads the image there): all
 * of it would be recomputed bit for bit (same x, c_trg and G weights), except
 * that a second forward updates the running statistics once more, as the
 * reference's second call of G does. instnorm_forward on the saved conv
 * outputs repeats exactly that update (same inputs, same op; the variance is
 * not recoverable from rstd), statistics only (no y); its mean and rstd go to
 * scratch so the tape stays as it is. */
static void g_forward_from_tape(sg_model *m, int N)
{
    sg_backend *be = m->be;
    g_tape *t = &m->tape_a;
    for (int j = 0; j < m->g_n_in; j++) {
        const in_layer *I = &m->g_in[j];
        be->ops->instnorm_forward(be, NULL, m->g_buf[1], m->g_buf[2], t->z[j], I->gamma, I->beta,
                                  I->rmean, I->rvar, N, I->c, I->hw, IN_EPS, IN_MOMENTUM, !I->residual_b, NULL);
    }
}

/* The G step's reconstruction: G's gradients zeroed, G(x_fake, c_org) into
 * tape_b (running statistics updated), its L1 loss, and back through it:
 * G's weight gradients and dx_fake. scratch: (N,3,S,S) that nothing beside
 * it uses. */
static void g_reconstruction(sg_model *m, const float *x_fake, float *scratch, int N)
{
    sg_backend *be = m->be;
    size_t img = (size_t)N * 3 * m->cfg.image_size * m->cfg.image_size;
    be->ops->memzero(be, m->g.grads, m->g.n_train * sizeof(float));
    g_forward(m, &m->tape_b, m->tape_b.out, x_fake, m->c_org, N, 1);
    be->ops->l1_loss(be, m->losses + L_G_REC, m->dx_fake, m->tape_b.out, m->x, img, m->cfg.lambda_rec);
    be->ops->copy(be, scratch, m->dx_fake, img * sizeof(float));
    g_backward(m, &m->tape_b, m->tape_b.out, scratch, m->dx_fake, N, 0);
}

/* reuse: G(x, c_trg) from the D step (tape_a, d_in's fake rows); rec_done:
 * also its running-statistics update and the reconstruction (d_step_body,
 * step_rec_ahead). */
static int g_step_common(sg_model *m, float lr, int reuse, int rec_done)
{
    sg_backend *be = m->be;
    const sg_backend_ops *o = be->ops;
    int N = m->n, S = m->cfg.image_size;
    size_t nsrc = (size_t)N * m->d_src.co * m->d_src.hout * m->d_src.hout, img = (size_t)N * 3 * S * S;
    /* x_fake = G(x, c_trg): the D step's, in d_in's fake rows, or computed anew */
    float *x_fake = reuse ? m->d_in + img : m->tape_a.out;
    if (!reuse) g_forward(m, &m->tape_a, x_fake, m->x, m->c_trg, N, 1);
    else if (!rec_done) g_forward_from_tape(m, N);
    /* Two independent parts, each ending in a gradient of x_fake. D's
     * (adversarial + classification, back through D without a D update, into
     * dx_fake_d) runs on the backend's second lane with SG_OVERLAP_G=1,
     * beside the reconstruction's: its small convolutions fill what G's
     * leave. They share no buffer (D's tape and gradients, d_dsrc and d_dcls
     * there; G's tape_b, g_buf, g_zfinal, dx_fake and gp_u, unused in a G
     * step, here) and no accumulator (no D weight gradients). */
    int side = m->overlap_g && o->lane && !rec_done;
    if (side) o->lane(be, SG_LANE_FORK);
    d_forward(m, x_fake, N, N, N);
    o->mean_loss(be, m->losses + L_G_FAKE, m->d_dsrc, m->dt.src, nsrc, -1.0f, 1.0f);
    cls_loss(m, m->losses + L_G_CLS, m->d_dcls, m->c_trg, N);
    d_backward(m, x_fake, m->d_dsrc, m->d_dcls, N, 0, m->dx_fake_d, N, 0);
    if (side) o->lane(be, SG_LANE_MAIN);
    if (!rec_done) g_reconstruction(m, x_fake, m->gp_u, N);
    if (side) o->lane(be, SG_LANE_JOIN);
    o->add(be, m->dx_fake, m->dx_fake, m->dx_fake_d, img);
    /* the weight gradients beside the rest on the second lane, idle by now
     * (SG_OVERLAP_G_WGRAD=0: on lane 0, in order) */
    int wl = m->overlap_g && m->overlap_g_wgrad && o->lane;
    g_backward(m, &m->tape_a, x_fake, m->dx_fake, NULL, N, wl);
    if (wl) o->lane(be, SG_LANE_JOIN);
    adam_step(m, &m->g, lr);
    return 0;
}

static int g_step_body(sg_model *m, float lr, sg_err *err) { return g_step_common(m, lr, 0, 0); }
static int g_step_reuse_body(sg_model *m, float lr, sg_err *err) { return g_step_common(m, lr, 1, 0); }
static int g_step_rec_done_body(sg_model *m, float lr, sg_err *err) { return g_step_common(m, lr, 1, 1); }

long long sg_model_g_tape_reuses(const sg_model *m) { return m->g_tape_reuses; }
long long sg_model_prefetches(const sg_model *m) { return m->prefetches; }
long long sg_model_recs_ahead(const sg_model *m) { return m->recs_ahead; }
int sg_model_overlap_g(const sg_model *m) { return m->overlap_g; }

int sg_model_read_losses(sg_model *m, sg_losses *out, sg_err *err)
{
    float l[L_COUNT];
    if (need_training(m, "read_losses", err)) return -1;
    m->be->ops->download(m->be, l, m->losses, sizeof l);
    if (m->be->ops->sync(m->be, err)) return sg_err_prefix(err, "model");
    out->d_loss_real = l[L_D_REAL]; out->d_loss_fake = l[L_D_FAKE];
    out->d_loss_cls = l[L_D_CLS]; out->d_loss_gp = l[L_D_GP];
    out->g_loss_fake = l[L_G_FAKE]; out->g_loss_rec = l[L_G_REC]; out->g_loss_cls = l[L_G_CLS];
    return 0;
}

int sg_model_all_finite(sg_model *m, int *finite, sg_err *err)
{
    net_state *nets[2] = { &m->g, &m->d };
    *finite = 1;
    for (int i = 0; i < (m->gen_only ? 1 : 2) && *finite; i++) {
        const float *bufs[3] = { nets[i]->params, nets[i]->adam_m, nets[i]->adam_v };
        for (int k = 0; k < (m->gen_only ? 1 : 3); k++) {
            int r = m->be->ops->all_finite(m->be, bufs[k], nets[i]->n_train);
            if (r < 0) { m->be->ops->sync(m->be, err); return sg_err_prefix(err, "model: finiteness check"); }
            if (!r) { *finite = 0; break; }
        }
    }
    return 0;
}

int sg_model_generate(sg_model *m, int n, const float *x, const float *c, float *y, sg_err *err)
{
    sg_backend *be = m->be;
    size_t S = m->cfg.image_size, img = 3 * S * S;
    m->tape_a_holds = TAPE_OTHER;   /* it overwrites tape_a */
    for (int i0 = 0; i0 < n; i0 += m->cap) {
        int k = n - i0 < m->cap ? n - i0 : m->cap;
        upload_images(m, m->gen_x, x + (size_t)i0 * img, k);
        be->ops->upload(be, m->gen_c, c + (size_t)i0 * m->c_dim, (size_t)k * m->c_dim * sizeof(float));
        g_forward(m, &m->tape_a, m->tape_a.out, m->gen_x, m->gen_c, k, 0);
        download_images(m, y + (size_t)i0 * img, m->tape_a.out, k);
        if (be->ops->sync(be, err)) return sg_err_prefix(err, "model: generating");
    }
    return 0;
}

int sg_model_get_grad(sg_model *m, sg_net net, int i, float *host, sg_err *err)
{
    if (need_training(m, "reading a gradient", err)) return -1;
    net_state *ns = net_of(m, net);
    if (i < 0 || i >= ns->n || !ns->info[i].trainable)
        return sg_errf(err, "model: tensor %d has no gradient", i);
    return download_tensor(m, &ns->info[i], host, tensor_grad(ns, i), err) ?
           sg_err_prefix(err, "model: reading a gradient") : 0;
}
