/* The CUDA backend's op timing (sg_backend_cuda_op_times_*, kernels/op_times.cu):
 * ops of known shapes are run with timing on and the report is read back:
 * exact labels and call counts (lane 1 apart), totals >= 0 that add up to
 * the sum line, sorted largest first, totals by op that add up each op's
 * lines (every shape, both lanes), a report cut at whole lines, reset,
 * graphs refused while timing and allowed again after stop, more ops
 * than the ring of pending events holds without losing a count, and the
 * bench's hold (held on a GPU; never on the emulation, which runs each
 * kernel when it is queued). Built as
 * build/tests/test_cuda_op_times_emu against the CPU emulation of CUDA
 * (tests/emu), where the times are the emulation's; without CUDA at build
 * time or without a GPU only the refusals are checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "backend.h"
#include "check.h"

/* One parsed report line. */
typedef struct {
    double total_ms, ms_per_it, share, calls_per_it;
    long long calls;
    char rate[32];
    char label[200];
} report_row;

/* One parsed "by op" line. */
typedef struct {
    double ms_per_it, share, calls_per_it;
    char rate[32];
    char op[64];
} op_row;

/* Parses a report: the rows (label lines, then the sum line last) and the
 * "by op" lines after them; returns how many rows (*n_ops: by-op lines),
 * -1 when a line does not parse or the header is missing. */
static int parse_report(const char *text, report_row *rows, int max, op_row *ops, int max_ops, int *n_ops)
{
    const char *p = strchr(text, '\n');
    *n_ops = 0;
    if (!p || !strstr(text, "total_ms") || strstr(text, "total_ms") > p) return -1;
    int n = 0;
    for (p++; *p && n < max; n++) {
        const char *eol = strchr(p, '\n');
        if (!eol) return -1;
        if (!strncmp(p, "by op ", 6)) break;
        report_row *r = &rows[n];
        int used = 0;
        if (sscanf(p, "%lf %lf %lf%% %lld %lf %31s %n", &r->total_ms, &r->ms_per_it, &r->share, &r->calls,
                   &r->calls_per_it, r->rate, &used) != 6 || p + used > eol)
            return -1;
        snprintf(r->label, sizeof r->label, "%.*s", (int)(eol - p - used), p + used);
        p = eol + 1;
    }
    for (; *p && *n_ops < max_ops; ++*n_ops) {
        const char *eol = strchr(p, '\n');
        if (!eol) return -1;
        op_row *o = &ops[*n_ops];
        int used = 0;
        if (sscanf(p, "by op %lf ms/it %lf%% %lf calls/it %31s %n", &o->ms_per_it, &o->share, &o->calls_per_it,
                   o->rate, &used) != 4 || !used || p + used > eol)
            return -1;
        snprintf(o->op, sizeof o->op, "%.*s", (int)(eol - p - used), p + used);
        p = eol + 1;
    }
    return *p ? -1 : n;
}

static const report_row *find_row(const report_row *rows, int n, const char *label)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(rows[i].label, label)) return &rows[i];
    return NULL;
}

/* whether the label's first word is op */
static int op_is(const char *label, const char *op)
{
    size_t n = strcspn(label, " ");
    return n == strlen(op) && !strncmp(label, op, n);
}

static const op_row *find_op(const op_row *ops, int n, const char *op)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(ops[i].op, op)) return &ops[i];
    return NULL;
}

static char report[1 << 16];
static report_row rows[256];
static op_row ops[64];
static int n_ops;

/* The report into rows; -1 after a FAIL. */
static int read_report(sg_backend *be, int iterations, double *sum_ms)
{
    sg_err err;
    int len = sg_backend_cuda_op_times_report(be, iterations, sum_ms, report, sizeof report, &err);
    CHECK(len >= 0, "report: %s", err.msg);
    if (len < 0) return -1;
    CHECK(len == (int)strlen(report), "report length %d, written %zu", len, strlen(report));
    int n = parse_report(report, rows, 256, ops, 64, &n_ops);
    CHECK(n >= 1, "report does not parse:\n%s", report);
    CHECK(n >= 1 && !strncmp(rows[n - 1].label, "sum of ", 7), "no sum line last:\n%s", report);
    return n >= 1 ? n : -1;
}

typedef struct {
    const char *label;
    long long calls;
} expect;

/* Every expected label with its exact count, nothing else; totals >= 0,
 * largest first, adding up to the sum line; per-iteration columns. */
static void check_report(sg_backend *be, const expect *want, int n_want, int iterations)
{
    double sum_ms = -1;
    int n = read_report(be, iterations, &sum_ms);
    if (n < 0) return;
    int labels = n - 1;
    CHECK(labels == n_want, "%d labels, %d expected:\n%s", labels, n_want, report);
    long long calls = 0;
    for (int i = 0; i < n_want; i++) {
        const report_row *r = find_row(rows, labels, want[i].label);
        CHECK(r, "no line for '%s':\n%s", want[i].label, report);
        if (r) CHECK(r->calls == want[i].calls, "'%s': %lld calls, %lld expected", want[i].label, r->calls,
                     want[i].calls);
        calls += want[i].calls;
    }
    double total = 0, share = 0;
    int sorted = 1, nonneg = 1, per_it = 1;
    for (int i = 0; i < labels; i++) {
        total += rows[i].total_ms;
        share += rows[i].share;
        if (rows[i].total_ms < 0) nonneg = 0;
        if (i > 0 && rows[i].total_ms > rows[i - 1].total_ms) sorted = 0;
        /* the columns are rounded: 4 and 5 decimals */
        if (rows[i].ms_per_it < rows[i].total_ms / iterations - 1e-4 ||
            rows[i].ms_per_it > rows[i].total_ms / iterations + 1e-4 ||
            rows[i].calls_per_it < (double)rows[i].calls / iterations - 0.005 ||
            rows[i].calls_per_it > (double)rows[i].calls / iterations + 0.005)
            per_it = 0;
    }
    const report_row *s = &rows[labels];
    CHECK(nonneg, "a total below 0:\n%s", report);
    CHECK(sorted, "not largest first:\n%s", report);
    CHECK(per_it, "per-iteration columns are not total / %d:\n%s", iterations, report);
    CHECK(s->calls == calls, "sum line: %lld calls, %lld expected", s->calls, calls);
    CHECK(s->total_ms >= total - 5e-5 * (labels + 1) && s->total_ms <= total + 5e-5 * (labels + 1),
          "sum line %.4f ms, the lines add up to %.4f", s->total_ms, total);
    CHECK(sum_ms >= s->total_ms - 5e-5 && sum_ms <= s->total_ms + 5e-5, "*sum_ms %.6f, sum line %.4f", sum_ms,
          s->total_ms);
    if (s->total_ms > 0.01)
        CHECK(share > 99 && share < 101, "shares add up to %.1f%%:\n%s", share, report);
    char sum_label[40];
    snprintf(sum_label, sizeof sum_label, "sum of %d label%s", n_want, n_want == 1 ? "" : "s");
    CHECK(!strcmp(s->label, sum_label), "sum line label '%s', '%s' expected", s->label, sum_label);

    /* by op: one line per label's first word, its ms and calls the sum of
     * that op's lines (which are rounded to 4 decimals each), largest first */
    int seen = 0, op_sorted = 1;
    double op_share = 0;
    for (int i = 0; i < labels; i++) {
        char op[64];
        snprintf(op, sizeof op, "%.*s", (int)strcspn(rows[i].label, " "), rows[i].label);
        int first = 1;
        for (int j = 0; j < i; j++) first &= !op_is(rows[j].label, op);
        if (!first) continue;
        seen++;
        double ms = 0;
        long long op_calls = 0;
        int k = 0;
        for (int j = i; j < labels; j++)
            if (op_is(rows[j].label, op)) {
                ms += rows[j].total_ms;
                op_calls += rows[j].calls;
                k++;
            }
        const op_row *o = find_op(ops, n_ops, op);
        CHECK(o, "no by-op line for '%s':\n%s", op, report);
        if (!o) continue;
        double tol = (5e-5 * (k + 1)) / iterations + 5e-6;
        CHECK(o->ms_per_it >= ms / iterations - tol && o->ms_per_it <= ms / iterations + tol,
              "by op '%s': %.5f ms/it, its %d line%s add up to %.5f ms/it:\n%s", op, o->ms_per_it, k,
              k == 1 ? "" : "s", ms / iterations, report);
        CHECK(o->calls_per_it >= (double)op_calls / iterations - 0.005 &&
              o->calls_per_it <= (double)op_calls / iterations + 0.005,
              "by op '%s': %.2f calls/it, its lines add up to %lld calls in %d iterations:\n%s", op,
              o->calls_per_it, op_calls, iterations, report);
    }
    for (int i = 0; i < n_ops; i++) {
        op_share += ops[i].share;
        if (i > 0 && ops[i].ms_per_it > ops[i - 1].ms_per_it) op_sorted = 0;
    }
    CHECK(n_ops == seen, "%d by-op lines, %d ops in the labels:\n%s", n_ops, seen, report);
    CHECK(op_sorted, "by op: not largest first:\n%s", report);
    if (s->total_ms > 0.01)
        CHECK(op_share > 99 && op_share < 101, "by-op shares add up to %.1f%%:\n%s", op_share, report);
}

/* A line's rate column against one call's work (flop: a convolution's
 * 2 x multiply-adds, in TFLOP/s; else bytes, in GB/s; 0: "-") and the
 * line's total time, which is printed to 4 decimals: the rate must lie
 * within what the rounded time allows, itself printed to 3 significant
 * digits. */
static void check_rate(const report_row *r, double flop, double bytes)
{
    double work = (flop > 0 ? flop : bytes) * r->calls, value;
    char unit[16] = "";
    if (work == 0 || r->total_ms < 5e-5) {
        CHECK(!strcmp(r->rate, "-") || work > 0, "'%s': rate %s, '-' expected", r->label, r->rate);
        return;
    }
    CHECK(sscanf(r->rate, "%lf%15s", &value, unit) == 2 && !strcmp(unit, flop > 0 ? "TFLOP/s" : "GB/s"),
          "'%s': rate '%s', a number of %s expected", r->label, r->rate, flop > 0 ? "TFLOP/s" : "GB/s");
    double scale = flop > 0 ? 1e-9 : 1e-6;
    double lo = work / (r->total_ms + 5e-5) * scale * 0.995;
    double hi = r->total_ms > 1e-4 ? work / (r->total_ms - 5e-5) * scale * 1.005 : 1e300;
    CHECK(value >= lo && value <= hi, "'%s': rate %s, %g to %g expected from %lld calls in %.4f ms", r->label,
          r->rate, lo, hi, r->calls, r->total_ms);
}

/* Without a CUDA backend: the calls fail, naming CUDA. */
static void test_refusals(void)
{
    sg_err err;
    sg_backend *cpu = sg_backend_cpu_create(1, &err);
    CHECK(cpu, "cpu backend: %s", err.msg);
    if (!cpu) return;
    err.msg[0] = 0;
    CHECK(sg_backend_cuda_op_times_start(cpu, &err) == -1 && strstr(err.msg, "CUDA"),
          "start on the CPU backend fails naming CUDA: '%s'", err.msg);
    char buf[64] = "x";
    err.msg[0] = 0;
    CHECK(sg_backend_cuda_op_times_report(cpu, 1, NULL, buf, sizeof buf, &err) == -1 && strstr(err.msg, "CUDA") &&
          buf[0] == 0, "report on the CPU backend fails naming CUDA: '%s'", err.msg);
    err.msg[0] = 0;
    CHECK(sg_backend_cuda_op_times_hold(cpu, 1, &err) == -1 && sg_backend_cuda_op_times_held(cpu) == 0,
          "a hold on the CPU backend fails: '%s'", err.msg);
    sg_backend_cuda_op_times_reset(cpu);          /* no-ops there */
    sg_backend_cuda_op_times_stop(cpu);
    CHECK(cpu->ops->graph_begin == NULL, "the CPU backend's table is left alone");
    sg_backend_destroy(cpu);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_refusals();
    sg_err err;
    sg_backend *be = sg_backend_cuda_create_precision(0, NULL, &err);
    if (!be) {
        SKIP("no CUDA backend: %s", err.msg);
        return check_done();
    }
    const sg_backend_ops *plain = be->ops;
    char owner;
    enum { NX = 2 * 4 * 64, NW = 8 * 4 * 9, NY = 2 * 8 * 64, NE = 1000 };
    float *x = plain->alloc(be, NX * 4), *w = plain->alloc(be, NW * 4), *y = plain->alloc(be, NY * 4);
    float *bias = plain->alloc(be, 8 * 4), *dx = plain->alloc(be, NX * 4), *dw = plain->alloc(be, NW * 4);
    float *db = plain->alloc(be, 8 * 4), *mean = plain->alloc(be, 16 * 4), *rstd = plain->alloc(be, 16 * 4);
    float *gamma = plain->alloc(be, 8 * 4), *beta = plain->alloc(be, 8 * 4), *rm = plain->alloc(be, 8 * 4);
    float *rv = plain->alloc(be, 8 * 4), *in_y = plain->alloc(be, NY * 4), *in_dx = plain->alloc(be, NY * 4);
    float *a = plain->alloc(be, NE * 4), *b = plain->alloc(be, NE * 4), *m = plain->alloc(be, NW * 4);
    float *v = plain->alloc(be, NW * 4), *host = calloc(NE, 4);
    CHECK(host && plain->sync(be, &err) == 0, "buffers: %s", err.msg);
    plain->fill(be, gamma, 1, 8);
    plain->fill(be, rv, 1, 8);
    plain->fill(be, x, 0.5f, NX);

    err.msg[0] = 0;
    CHECK(sg_backend_cuda_op_times_report(be, 1, NULL, report, sizeof report, &err) == -1 &&
          strstr(err.msg, "never started"), "report before start fails: '%s'", err.msg);
    CHECK(sg_backend_cuda_op_times_start(be, &err) == 0, "start: %s", err.msg);
    CHECK(be->ops != plain, "start swaps the ops table");
    CHECK(sg_backend_cuda_op_times_start(be, &err) == 0, "start again: %s", err.msg);
    CHECK(be->ops->graph_begin(be, 0, &owner) == -1, "graph_begin refuses while timing is on");

    const sg_backend_ops *o = be->ops;
    for (int i = 0; i < 3; i++) o->fill(be, a, 1, NE);
    for (int i = 0; i < 2; i++) o->add(be, b, a, a, NE);
    o->conv2d_forward(be, y, x, w, bias, 2, 4, 8, 8, 8, 3, 1, 1);
    o->conv2d_forward(be, y, x, w, NULL, 2, 4, 8, 8, 8, 3, 1, 1);
    o->conv2d_forward(be, y, x, w, NULL, 2, 4, 8, 4, 8, 3, 1, 1);     /* 8x4: W printed */
    o->conv2d_backward_data(be, dx, y, w, 2, 4, 8, 8, 8, 3, 1, 1);
    for (int i = 0; i < 2; i++) o->conv2d_backward_filter(be, dw, db, x, y, 2, 4, 8, 8, 8, 3, 1, 1);
    o->conv2d_backward_filter(be, NULL, db, NULL, y, 2, 4, 8, 8, 8, 3, 1, 1);   /* the bias gradient alone */
    o->leaky_relu_backward_bias(be, in_dx, db, y, in_dx, 0.01f, 2, 8, 64, 1);   /* D's mask and bias in one */
    o->leaky_relu_backward_bias(be, in_dx, NULL, y, in_dx, 0.01f, 2, 8, 64, 1);  /* no db: the mask alone */
    o->instnorm_forward(be, in_y, mean, rstd, y, gamma, beta, rm, rv, 2, 8, 64, 1e-5f, 0.1f, 1, NULL);
    o->instnorm_forward(be, NULL, mean, rstd, y, gamma, beta, NULL, NULL, 2, 8, 64, 1e-5f, 0.1f, 0, NULL);
    o->instnorm_backward(be, in_dx, db, bias, y, in_y, y, mean, rstd, gamma, 2, 8, 64);
    o->copy(be, b, a, NE * 4);
    o->memzero(be, b, NE * 4);
    o->upload(be, b, host, NE * 4);
    o->download(be, host, a, NE * 4);
    o->adam(be, w, dw, m, v, NW, 1e-4f, 0.5, 0.999, 1e-8f, 1);
    o->lane(be, SG_LANE_FORK);
    o->fill(be, b, 2, NE);
    o->lane(be, SG_LANE_JOIN);
    CHECK(o->sync(be, &err) == 0, "sync: %s", err.msg);
    static const expect first[] = {
        { "fill n=1000", 3 },
        { "add n=1000", 2 },
        { "conv2d_forward N=2 Ci=4 H=8 Co=8 K=3 s=1 p=1 bias", 1 },
        { "conv2d_forward N=2 Ci=4 H=8 Co=8 K=3 s=1 p=1", 1 },
        { "conv2d_forward N=2 Ci=4 H=8 W=4 Co=8 K=3 s=1 p=1", 1 },
        { "conv2d_backward_data N=2 Ci=4 H=8 Co=8 K=3 s=1 p=1", 1 },
        { "conv2d_backward_filter N=2 Ci=4 H=8 Co=8 K=3 s=1 p=1 db", 2 },
        { "conv2d_bias_grad N=2 Ci=4 H=8 Co=8 K=3 s=1 p=1", 1 },
        { "leaky_relu_backward_bias N=2 C=8 HW=64 n_bias=1", 1 },
        { "leaky_relu_backward_bias N=2 C=8 HW=64", 1 },
        { "instnorm_forward N=2 C=8 HW=64 relu running", 1 },
        { "instnorm_forward N=2 C=8 HW=64 stats", 1 },
        { "instnorm_backward N=2 C=8 HW=64 relu", 1 },
        { "copy bytes=4000", 1 },
        { "memzero bytes=4000", 1 },
        { "upload bytes=4000", 1 },
        { "download bytes=4000", 1 },
        { "adam n=288", 1 },
        { "fill n=1000 [lane 1]", 1 },
    };
    int n_first = (int)(sizeof first / sizeof first[0]);
    check_report(be, first, n_first, 2);
    /* by op: fill's two lanes together, conv2d_forward's three shapes */
    const op_row *fill = find_op(ops, n_ops, "fill"), *fwd = find_op(ops, n_ops, "conv2d_forward");
    CHECK(fill && fill->calls_per_it == 2.0, "by op fill: %.2f calls/it, 2 expected", fill ? fill->calls_per_it : -1);
    CHECK(fwd && fwd->calls_per_it == 1.5, "by op conv2d_forward: %.2f calls/it, 1.5 expected",
          fwd ? fwd->calls_per_it : -1);
    /* the rate column: one call's work of each (2 x 2*8*8*8 outputs x 4*9
     * multiply-adds; bytes of the operands once each) */
    static const struct {
        const char *label;
        double flop, bytes;
    } work[] = {
        { "fill n=1000", 0, 4000 },
        { "add n=1000", 0, 12000 },
        { "conv2d_forward N=2 Ci=4 H=8 Co=8 K=3 s=1 p=1 bias", 73728, 0 },
        { "conv2d_forward N=2 Ci=4 H=8 Co=8 K=3 s=1 p=1", 73728, 0 },
        { "conv2d_forward N=2 Ci=4 H=8 W=4 Co=8 K=3 s=1 p=1", 36864, 0 },
        { "conv2d_backward_data N=2 Ci=4 H=8 Co=8 K=3 s=1 p=1", 73728, 0 },
        { "conv2d_backward_filter N=2 Ci=4 H=8 Co=8 K=3 s=1 p=1 db", 73728, 0 },
        { "conv2d_bias_grad N=2 Ci=4 H=8 Co=8 K=3 s=1 p=1", 0, 4 * (2 * 8 * 64 + 8) },   /* dy read, db written */
        { "leaky_relu_backward_bias N=2 C=8 HW=64 n_bias=1", 0, 4 * (3 * 2 * 8 * 64 + 8) },  /* dy, x, dx; db */
        { "leaky_relu_backward_bias N=2 C=8 HW=64", 0, 4 * (3 * 2 * 8 * 64) },
        { "instnorm_forward N=2 C=8 HW=64 relu running", 0, 8192 },
        { "instnorm_forward N=2 C=8 HW=64 stats", 0, 4096 },
        { "instnorm_backward N=2 C=8 HW=64 relu", 0, 16384 },
        { "copy bytes=4000", 0, 8000 },
        { "memzero bytes=4000", 0, 4000 },
        { "upload bytes=4000", 0, 4000 },
        { "download bytes=4000", 0, 4000 },
        { "adam n=288", 0, 8064 },
        { "fill n=1000 [lane 1]", 0, 4000 },
    };
    for (size_t i = 0; i < sizeof work / sizeof work[0]; i++) {
        const report_row *r = find_row(rows, n_first, work[i].label);
        CHECK(r, "no line for '%s' to check its rate:\n%s", work[i].label, report);
        if (r) check_rate(r, work[i].flop, work[i].bytes);
    }
    const report_row *sum_row = &rows[n_first];
    CHECK(!strcmp(sum_row->rate, "-"), "sum line: rate '%s', '-' expected", sum_row->rate);
    CHECK(fwd && (!strcmp(fwd->rate, "-") || strstr(fwd->rate, "TFLOP/s")), "by op conv2d_forward: rate '%s'",
          fwd ? fwd->rate : "");
    const op_row *adam = find_op(ops, n_ops, "adam");
    CHECK(adam && (!strcmp(adam->rate, "-") || strstr(adam->rate, "GB/s")), "by op adam: rate '%s'",
          adam ? adam->rate : "");
    printf("the report (times as the GPU or its emulation gave them):\n%s", report);

    /* a buffer too small: the whole report's length, whole lines only */
    static char full[sizeof report];
    int len = sg_backend_cuda_op_times_report(be, 2, NULL, full, sizeof full, &err);
    char small[200];
    int len2 = sg_backend_cuda_op_times_report(be, 2, NULL, small, sizeof small, &err);
    size_t got = strlen(small);
    CHECK(len > (int)sizeof small && len2 == len, "a short buffer: length %d, the whole report %d", len2, len);
    CHECK(got > 0 && got < sizeof small && small[got - 1] == '\n' && !strncmp(small, full, got),
          "a short buffer holds the first whole lines: '%s'", small);
    CHECK(sg_backend_cuda_op_times_report(be, 0, NULL, full, sizeof full, &err) == -1,
          "0 iterations are refused");

    /* reset forgets everything; timing goes on */
    sg_backend_cuda_op_times_reset(be);
    check_report(be, NULL, 0, 1);
    o->tanh_forward(be, b, a, NE);
    static const expect one[] = { { "tanh_forward n=1000", 1 } };
    check_report(be, one, 1, 1);

    /* more ops than the ring holds, no sync between: the oldest pairs are
     * resolved as the ring fills, no count is lost */
    sg_backend_cuda_op_times_reset(be);
    long long fills = 0, adds = 0;
    for (int i = 0; i < 3 * SG_CUDA_OP_TIMES_PENDING + 7; i++) {
        o->fill(be, a, (float)i, 64);
        fills++;
        if (i % 4 == 0) { o->add(be, b, a, a, 64); adds++; }
    }
    expect many[] = { { "fill n=64", fills }, { "add n=64", adds } };
    check_report(be, many, 2, 10);

    /* stop: timing off, the accumulators kept, graphs allowed again */
    sg_backend_cuda_op_times_stop(be);
    CHECK(be->ops == plain, "stop puts the plain table back");
    be->ops->fill(be, a, 1, 64);
    check_report(be, many, 2, 10);
    int gb = be->ops->graph_begin(be, 1, &owner);
    CHECK(gb == 0, "graph_begin after stop: %d", gb);
    if (gb == 0) {
        be->ops->fill(be, a, 3, 64);
        CHECK(be->ops->graph_end(be, 1) == 0, "graph_end after stop");
        CHECK(be->ops->graph_launch(be, 1, &owner, 1e-4f, 1) == 0, "graph_launch after stop");
        be->ops->graph_drop(be, 1, &owner);
    }
    CHECK(be->ops->sync(be, &err) == 0, "sync after the graph: %s", err.msg);
    /* started again: counting goes on where it was */
    CHECK(sg_backend_cuda_op_times_start(be, &err) == 0, "start after stop: %s", err.msg);
    be->ops->fill(be, a, 1, 64);
    many[0].calls++;
    check_report(be, many, 2, 10);

    /* the hold (sg_backend_cuda_op_times_hold): refused on lane 1 and for
     * a length out of range, no label of its own; _held: 1 for a hold still
     * running once the ops after it are queued (a GPU: 4 fills take
     * microseconds to queue, the hold 200 ms), 0 once it was closed, after a
     * sync behind it, and after a full ring made the host wait for an op
     * queued behind it; always 0 on the emulation, which runs each kernel
     * when it is queued */
    sg_backend_cuda_op_times_reset(be);
    const int emulated = strstr(sg_backend_cuda_device_name(be), "emulated") != NULL;
    o->lane(be, SG_LANE_FORK);
    err.msg[0] = 0;
    CHECK(sg_backend_cuda_op_times_hold(be, 1, &err) == -1 && strstr(err.msg, "lane 0"),
          "a hold on lane 1 is refused: '%s'", err.msg);
    o->lane(be, SG_LANE_JOIN);
    err.msg[0] = 0;
    CHECK(sg_backend_cuda_op_times_hold(be, -1, &err) == -1 && strstr(err.msg, "0 to 60000"),
          "a hold of -1 ms is refused: '%s'", err.msg);
    CHECK(sg_backend_cuda_op_times_held(be) == 0, "no hold open: not held");
    CHECK(sg_backend_cuda_op_times_hold(be, 200, &err) == 0, "hold: %s", err.msg);
    for (int i = 0; i < 4; i++) o->fill(be, a, 1, NE);
    int held = sg_backend_cuda_op_times_held(be);
    CHECK(held == !emulated, "4 fills queued behind a 200 ms hold: held %d (%d expected%s)", held, !emulated,
          emulated ? ": the emulation" : "");
    CHECK(sg_backend_cuda_op_times_held(be) == 0, "the same hold again: closed, not held");
    CHECK(sg_backend_cuda_op_times_hold(be, 200, &err) == 0, "hold: %s", err.msg);
    o->fill(be, a, 1, NE);
    CHECK(o->sync(be, &err) == 0, "sync: %s", err.msg);
    CHECK(sg_backend_cuda_op_times_held(be) == 0, "a sync behind the hold: not held");
    CHECK(sg_backend_cuda_op_times_hold(be, 50, &err) == 0, "hold: %s", err.msg);
    for (int i = 0; i < SG_CUDA_OP_TIMES_PENDING + 1; i++) o->fill(be, a, 1, NE);
    CHECK(sg_backend_cuda_op_times_held(be) == 0, "a full ring waiting behind the hold: not held");
    expect filled[] = { { "fill n=1000", 4 + 1 + SG_CUDA_OP_TIMES_PENDING + 1 } };
    check_report(be, filled, 1, 1);
    printf("the hold: %s\n", emulated ? "never held on the emulation, as expected" : "held on the GPU");

    float *bufs[] = { x, w, y, bias, dx, dw, db, mean, rstd, gamma, beta, rm, rv, in_y, in_dx, a, b, m, v };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) be->ops->free(be, bufs[i]);
    free(host);
    sg_backend_destroy(be);                       /* with timing on: frees its state too */
    return check_done();
}
