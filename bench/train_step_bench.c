/* train-step-bench: times StarGAN training iterations on one synthetic
 * in-memory batch (no data loading), on the CPU or the CUDA backend, with the
 * reference's schedule: a D step every iteration, a G step every n_critic-th.
 * Built by tests/gpu/prepare-carry (not by `make`) into build/bench/; run by
 * bench/train-speed. Prints one line of key=value pairs on stdout (with
 * --op-times the report's lines follow it).
 *
 * GPU memory: the device's memory in use (cudaMemGetInfo) minus the amount
 * in use before the backend was created, after the timed iterations (the
 * steady state: the backend allocates everything in the first iteration)
 * and at its peak (a thread samples it every 0.5 ms from the backend's
 * creation to the end, so the first iteration's transient buffers, e.g. an
 * engine search's, count).
 *
 * --op-times (CUDA): after everything above, as many iterations again with
 * the backend's op timing on (sg_backend_cuda_op_times_start: CUDA events
 * around every op, step graphs off, so these run eagerly), then the
 * backend's report (the time of every op and shape, per iteration, and the
 * totals by op) on stdout after the key=value line, each line prefixed
 * "op-times: ", and the phase's wall-clock ms/it beside the sum of the op
 * times. Each of those iterations is first held back on the GPU by a kernel
 * that sleeps while the host queues it (sg_backend_cuda_op_times_hold:
 * eager, the host launches D's small ops slower than the GPU runs them, and
 * an op's time would be its launch), so that the op times are GPU time, as
 * a graph replays; the last line says how many iterations were so held.
 * --op-times-no-hold times the ops as launched. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "backend.h"
#include "model.h"
#include "model_testing.h"
#include "rng.h"
#ifdef SG_HAVE_CUDA
#include <cuda_runtime_api.h>
#include <pthread.h>
#include <unistd.h>

/* The peak of the device's memory in use, sampled until stop is set. */
typedef struct {
    volatile int stop;
    double peak;
} mem_sampler;

static void *sample_memory(void *arg)
{
    mem_sampler *s = arg;
    while (!s->stop) {
        size_t fr = 0, tot = 0;
        if (cudaMemGetInfo(&fr, &tot) == cudaSuccess && (double)(tot - fr) > s->peak) s->peak = (double)(tot - fr);
        usleep(500);
    }
    return NULL;
}
#endif

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: train-step-bench [OPTIONS]\n"
        "  --device cpu|cuda      backend (default cuda)\n"
        "  --precision P          tf32 (default), fp32 or bf16 (CUDA convolutions)\n"
        "  --image-size N         128        --batch N      16\n"
        "  --conv-dim N           64 (G and D) --g-repeat N 6  --d-repeat N 6\n"
        "  --c-dim N              5          --n-critic N   5\n"
        "  --warmup N             10         --iters N      100\n"
        "  --threads N            CPU backend threads (0: all)\n"
        "  --engines FILE         CUDA: load cuDNN engine choices from FILE if it exists,\n"
        "                         save them there after the run (equal choices, equal runs)\n"
        "  --op-times             CUDA: then --iters more iterations, eager, with every op\n"
        "                         timed on the GPU; prints the time per op and shape\n"
        "                         (lines 'op-times: ...' after the key=value line)\n"
        "  --op-times-no-hold     with --op-times: queue each iteration as it comes, not\n"
        "                         behind a sleeping kernel (op times then include launch\n"
        "                         time where the host is slower than the GPU)\n");
}

/* The batch lives in host_alloc memory where the backend has it (CUDA:
 * page-locked, uploaded without waiting by the _async batch calls, as
 * sg-train's loader buffers are; an upload from other memory waits for its
 * copy). It never changes once filled, so the fence slot those calls mark
 * (BATCH_FENCE) is never waited for. */
#define BATCH_FENCE 0
static void *batch_alloc(sg_backend *be, size_t bytes)
{
    return be->ops->host_alloc ? be->ops->host_alloc(be, bytes) : malloc(bytes);
}

static void batch_free(sg_backend *be, void *p)
{
    if (be->ops->host_alloc) be->ops->host_free(be, p);
    else free(p);
}

/* One iteration of the reference's schedule on batch `it` (drawn on the
 * device from x and corg): a D step, and with g the G step after it. queue
 * (SG_OVERLAP_G=1, read by the model; a D step that no G step follows): as
 * sg-train then does, the next batch is queued first and its G forward runs
 * on the backend's second lane beside this D step. *current: this
 * iteration's batch was queued by the one before. 0, or -1 with err. */
static int train_iteration(sg_model *m, int batch, const float *x, const float *corg, int it, int g, int queue,
                           int *current, sg_err *err)
{
    /* a new batch each iteration, as in training (an upload and the
     * targets and alpha drawn on the device, no sync) */
    if (!*current && sg_model_set_batch_drawn_async(m, 0, batch, x, corg, 5, it, 0, BATCH_FENCE, err)) return -1;
    if (queue && sg_model_queue_batch_drawn_async(m, 0, batch, x, corg, 5, it + 1, 0, BATCH_FENCE, err)) return -1;
    if (g ? sg_model_d_g_steps(m, 1e-4f, 1e-4f, err) : sg_model_d_step(m, 1e-4f, err)) return -1;
    if (queue && sg_model_next_batch(m, err)) return -1;
    *current = queue;
    return 0;
}

/* --op-times: iters iterations (batches first_it...) with op timing on,
 * the same mix of D and G steps as the timed loop, then the report on
 * stdout. loop_ms: the timed loop's ms/it, printed beside. hold: each
 * iteration queued behind a hold kernel (sg_backend_cuda_op_times_hold)
 * twice as long as the longest time the host took to queue one so far (4x
 * the timed loop's ms/it before the first): what must be covered is the
 * host's queuing, not the GPU's work. 0, or -1 with err. */
static int op_times_phase(sg_backend *be, sg_model *m, int batch, const float *x, const float *corg, int first_it,
                          int iters, int n_critic, double loop_ms, int hold, sg_err *err)
{
    if (sg_backend_cuda_op_times_start(be, err)) return -1;
    int overlap = sg_model_overlap_g(m), current = 0, g_steps = 0, held = 0;
    double hold_ms = 4 * loop_ms, holds_ms = 0;
    double t0 = now_s();
    for (int k = 0; k < iters; k++) {
        int g = (k + 1) % n_critic == 0, queue = overlap && k + 1 < iters && !g;
        if (hold && sg_backend_cuda_op_times_hold(be, hold_ms, err)) return -1;
        double q0 = now_s();
        if (train_iteration(m, batch, x, corg, first_it + k, g, queue, &current, err)) return -1;
        if (hold) {
            held += sg_backend_cuda_op_times_held(be);
            holds_ms += hold_ms;
            double queued_ms = 1e3 * (now_s() - q0);
            if (2 * queued_ms > hold_ms) hold_ms = 2 * queued_ms < 60e3 ? 2 * queued_ms : 60e3;
        }
        g_steps += g;
    }
    if (be->ops->sync(be, err)) return -1;
    double wall_ms = 1e3 * (now_s() - t0) / iters, sum_ms = 0;
    sg_backend_cuda_op_times_stop(be);
    char small[1], *report = NULL;
    int len = sg_backend_cuda_op_times_report(be, iters, &sum_ms, small, sizeof small, err);
    if (len >= 0) report = malloc((size_t)len + 1);
    if (len < 0 || !report || sg_backend_cuda_op_times_report(be, iters, &sum_ms, report, (size_t)len + 1, err) < 0) {
        if (len >= 0 && !report) sg_errf(err, "op times: out of host memory for the report");
        free(report);
        return -1;
    }
    /* the report's lines as they are (its totals by op included), prefixed */
    for (char *line = report, *next; *line; line = next) {
        char *eol = strchr(line, '\n');
        next = eol ? eol + 1 : line + strlen(line);
        printf("op-times: %.*s\n", (int)(eol ? eol - line : next - line), line);
    }
    free(report);
    sum_ms /= iters;
    /* the regime measured: GPU time only where every iteration was held;
     * then the wall time is the holds' and the GPU's, and the gap the GPU
     * idle between ops */
    char regime[320];
    if (!hold)
        snprintf(regime, sizeof regime, "as launched (--op-times-no-hold: where the host launches slower than the "
                 "GPU runs, an op's time is its launch)");
    else if (held == iters)
        snprintf(regime, sizeof regime, "GPU time (all %d iterations queued whole behind a hold kernel on lane 0, "
                 "%.3f ms/it, untimed, as a step graph replays)", iters, holds_ms / iters);
    else
        snprintf(regime, sizeof regime, "%s (%d of %d iterations queued whole behind a hold kernel on lane 0, "
                 "%.3f ms/it, untimed; the others' op times may include launch time%s)",
                 held ? "partly GPU time" : "as launched", held, iters, holds_ms / iters,
                 strstr(sg_backend_cuda_device_name(be), "emulated") ? ": the emulation runs each kernel when "
                 "it is queued, so its hold holds nothing" : "");
    double gap_ms = wall_ms - sum_ms - (hold && held == iters ? holds_ms / iters : 0);
    printf("op-times: %d iterations (%d with a G step), eager (no step graphs while timing), %s: wall %.3f ms/it, "
           "sum of the op times %.3f ms/it, gap %.3f ms/it (%s; lane 1's ops may overlap lane 0's); the timed "
           "loop: %.3f ms/it\n", iters, g_steps, regime, wall_ms, sum_ms, gap_ms,
           hold && held == iters ? "the wall time less the holds and the op times: the GPU idle between ops, "
           "the timing's own events" : "launch overhead, idle GPU, the timing's own events, any holds",
           loop_ms);
    return 0;
}

int main(int argc, char **argv)
{
    const char *device = "cuda", *precision = "tf32";
    int image = 128, batch = 16, conv = 64, g_repeat = 6, d_repeat = 6, c_dim = 5, n_critic = 5;
    int warmup = 10, iters = 100, threads = 0, op_times = 0, op_times_hold = 1;
    const char *engines = NULL;
    static const struct option opts[] = {
        { "device", 1, 0, 'D' }, { "precision", 1, 0, 'P' }, { "image-size", 1, 0, 's' },
        { "batch", 1, 0, 'b' }, { "conv-dim", 1, 0, 'c' }, { "g-repeat", 1, 0, 'g' },
        { "d-repeat", 1, 0, 'd' }, { "c-dim", 1, 0, 'l' }, { "n-critic", 1, 0, 'n' },
        { "warmup", 1, 0, 'w' }, { "iters", 1, 0, 'i' }, { "threads", 1, 0, 't' },
        { "engines", 1, 0, 'E' }, { "op-times", 0, 0, 'O' }, { "op-times-no-hold", 0, 0, 'H' },
        { "help", 0, 0, 'h' }, { 0, 0, 0, 0 } };
    int ch;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'D': device = optarg; break;
        case 'P': precision = optarg; break;
        case 's': image = atoi(optarg); break;
        case 'b': batch = atoi(optarg); break;
        case 'c': conv = atoi(optarg); break;
        case 'g': g_repeat = atoi(optarg); break;
        case 'd': d_repeat = atoi(optarg); break;
        case 'l': c_dim = atoi(optarg); break;
        case 'n': n_critic = atoi(optarg); break;
        case 'w': warmup = atoi(optarg); break;
        case 'i': iters = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'E': engines = optarg; break;
        case 'O': op_times = 1; break;
        case 'H': op_times_hold = 0; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (iters < 1 || warmup < 0 || n_critic < 1 || batch < 1) { usage(stderr); return 2; }
    if (op_times && strcmp(device, "cuda")) {
        fprintf(stderr, "train-step-bench: --op-times times CUDA ops: it needs --device cuda\n");
        return 2;
    }

    sg_err err;
    double mem_before = 0, mem_total = 0;
    int cuda = !strcmp(device, "cuda");
#ifdef SG_HAVE_CUDA
    mem_sampler sampler = { 0, 0 };
    pthread_t sampler_thread;
    int sampling = 0;
    if (cuda) {
        size_t fr = 0, tot = 0;
        cudaFree(0);                                 /* create the context first */
        if (cudaMemGetInfo(&fr, &tot) == cudaSuccess) { mem_before = (double)(tot - fr); mem_total = tot; }
        sampler.peak = mem_before;
        sampling = pthread_create(&sampler_thread, NULL, sample_memory, &sampler) == 0;
    }
#endif
    sg_backend *be = cuda ? sg_backend_cuda_create_precision(0, precision, &err)
                          : sg_backend_cpu_create(threads, &err);
    if (!be) { fprintf(stderr, "train-step-bench: %s\n", err.msg); return 1; }
    FILE *ef = engines && cuda ? fopen(engines, "r") : NULL;
    if (ef) {
        fclose(ef);
        char why[400];
        int rc = sg_backend_cuda_engines_load(be, engines, why, sizeof why, &err);
        if (rc <= 0) {
            fprintf(stderr, "train-step-bench: %s: %s\n", engines, rc < 0 ? err.msg : why);
            sg_backend_destroy(be);
            return 1;
        }
    }

    sg_model_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.image_size = image;
    cfg.n_datasets = 1;
    cfg.label_dim[0] = c_dim;
    cfg.g_conv_dim = conv; cfg.g_repeat = g_repeat;
    cfg.d_conv_dim = conv; cfg.d_repeat = d_repeat;
    cfg.batch = batch;
    cfg.lambda_cls = 1; cfg.lambda_rec = 10; cfg.lambda_gp = 10;
    cfg.beta1 = 0.5; cfg.beta2 = 0.999;
    sg_model *m;
    if (sg_model_create(&m, &cfg, be, 1, &err)) {
        fprintf(stderr, "train-step-bench: %s\n", err.msg);
        sg_backend_destroy(be);
        return 1;
    }
    int cd = sg_model_c_dim(&cfg);
    size_t nx = (size_t)batch * 3 * image * image;
    float *x = batch_alloc(be, nx * sizeof(float)), *corg = batch_alloc(be, (size_t)batch * cd * sizeof(float));
    if (!x || !corg) {
        fprintf(stderr, "train-step-bench: out of host memory for the batch\n");
        return 1;
    }
    for (size_t i = 0; i < nx; i++) x[i] = 2 * sg_randu(5, 1, i) - 1;
    for (int i = 0; i < batch * cd; i++) corg[i] = sg_randu(5, 2, i) < 0.5f;

    /* SG_OVERLAP_G=1 (read by the model): train_iteration's queue */
    int overlap = sg_model_overlap_g(m), current = 0;
    double t0 = 0, t_start = now_s(), warmup_s = 0;
    int total = warmup + iters, g_steps = 0;
    for (int it = 0; it < total; it++) {
        if (it == warmup) {
            if (be->ops->sync(be, &err)) break;
            t0 = now_s();
            warmup_s = t0 - t_start;       /* includes choosing the convolution engines */
            g_steps = 0;
        }
        int g = (it + 1) % n_critic == 0, queue = overlap && it + 1 < total && !g;
        if (train_iteration(m, batch, x, corg, it, g, queue, &current, &err)) break;
        g_steps += g;
        err.msg[0] = 0;
    }
    sg_losses l;
    if (err.msg[0] || sg_model_read_losses(m, &l, &err)) {
        fprintf(stderr, "train-step-bench: %s\n", err.msg);
        sg_model_free(m);
        sg_backend_destroy(be);
        return 1;
    }
    double dt = now_s() - t0;
    /* Phase times (after the timed loop, so they leave its losses alone): a
     * D step, then the G step that follows it (reusing its G forward), each
     * alone between syncs; a sync's latency is part of each. An iteration
     * should cost about d + g / n_critic: where the time goes, per step. */
    double d_ms = 0, g_ms = 0;
    int phases = iters < 20 ? iters : 20;
    for (int k = 0; k < phases && !err.msg[0]; k++) {
        if (sg_model_set_batch_drawn(m, 0, batch, x, corg, 5, total + k, 0, &err)) break;   /* it waits for its uploads */
        double a = now_s();
        if (sg_model_d_step(m, 1e-4f, &err) || be->ops->sync(be, &err)) break;
        double b = now_s();
        if (sg_model_g_step(m, 1e-4f, &err) || be->ops->sync(be, &err)) break;
        d_ms += 1e3 * (b - a);
        g_ms += 1e3 * (now_s() - b);
    }
    if (err.msg[0]) {
        fprintf(stderr, "train-step-bench: phase times: %s\n", err.msg);
        sg_model_free(m);
        sg_backend_destroy(be);
        return 1;
    }
    char note[800] = "";
    if (cuda) sg_backend_cuda_graph_note(be, note, sizeof note);
    for (char *q = note; *q; q++)
        if (*q == ' ') *q = '_';                 /* one key=value token */
    double mem_used = 0, mem_peak = 0;
#ifdef SG_HAVE_CUDA
    if (cuda) {
        size_t fr = 0, tot = 0;
        if (cudaMemGetInfo(&fr, &tot) == cudaSuccess) mem_used = (double)(tot - fr) - mem_before;
        if (sampling) {
            sampler.stop = 1;
            pthread_join(sampler_thread, NULL);
            sampling = 0;
        }
        mem_peak = sampler.peak - mem_before;
        if (mem_peak < mem_used) mem_peak = mem_used;
    }
#endif
    printf("device=%s precision=%s name=%s image=%d batch=%d conv=%d g_repeat=%d d_repeat=%d "
           "n_critic=%d iters=%d g_steps=%d seconds=%.3f it_per_s=%.2f ms_per_it=%.3f "
           "warmup_s=%.2f d_step_ms=%.3f g_step_ms=%.3f gpu_mem_gib=%.3f gpu_peak_gib=%.3f gpu_total_gib=%.1f layout=%s overlap=%s prefetches=%lld recs_ahead=%lld graphs=%s d_loss_real=%.9g d_loss_gp=%.9g g_loss_rec=%.9g\n",
           device, cuda ? precision : "fp32", cuda ? sg_backend_cuda_device_name(be) : "cpu",
           image, batch, conv, g_repeat, d_repeat, n_critic, iters, g_steps, dt, iters / dt,
           1e3 * dt / iters, warmup_s, d_ms / phases, g_ms / phases, mem_used / 1073741824.0,
           mem_peak / 1073741824.0, mem_total / 1073741824.0,
           be->nhwc ? "nhwc" : "nchw", overlap ? "on" : "off", sg_model_prefetches(m), sg_model_recs_ahead(m),
           note[0] ? note : "none",
           l.d_loss_real,
           l.d_loss_gp, l.g_loss_rec);
    if (cuda && getenv("SG_BENCH_PLANS")) {      /* the algorithms cuDNN was given, on stderr */
        static char report[32768];
        fprintf(stderr, "cuDNN algorithms (%s):\n%s", precision, sg_backend_cuda_plan_report(be, report, sizeof report));
    }
    int rc = 0;
    if (op_times && op_times_phase(be, m, batch, x, corg, total + phases, iters, n_critic, 1e3 * dt / iters,
                                   op_times_hold, &err)) {
        fprintf(stderr, "train-step-bench: op times: %s\n", err.msg);
        rc = 1;
    }
    if (engines && cuda && sg_backend_cuda_engines_save(be, engines, &err)) {
        fprintf(stderr, "train-step-bench: %s\n", err.msg);
        rc = 1;
    }
    batch_free(be, x); batch_free(be, corg);
    sg_model_free(m);
    sg_backend_destroy(be);
    return rc;
}
