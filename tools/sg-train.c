/* sg-train: trains StarGAN on one or more shards (several: mask vector), CPU or
 * CUDA, into a run directory; --resume continues it exactly. The loop itself is
 * lib/trainer.c; this file parses options, picks the device and handles signals. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "backend.h"
#include "checkpoint.h"
#include "cli.h"
#include "fileio.h"
#include "shard.h"
#include "strbuf.h"
#include "trainer.h"

static void usage(void)
{
    printf("Usage: %s -o RUN [OPTION]... SHARD...\n"
           "  or:  %s -o RUN --resume [OPTION]... [SHARD...]\n"
           "Train StarGAN on the LMDB shards SHARD (several shards: one mask-vector model\n"
           "over all datasets, one batch from each in turn) into the run directory RUN.\n"
           "\n"
           "  -o, --output RUN          run directory (config.json, history.jsonl,\n"
           "                            samples/, ckpt/)\n"
           "      --resume              continue the run in RUN from its latest checkpoint;\n"
           "                            options not given keep the run's values; shards\n"
           "                            default to the run's\n"
           "      --force               start over in RUN, removing the\n"
           "                            previous run's files\n"
           "      --iters N             total iterations, one dataset's batch each (200000;\n"
           "                            times the shards: 400000 on two, the reference's\n"
           "                            200000 rounds; its N rounds over n datasets: n*N)\n"
           "      --decay-iters N       linear learning-rate decay to zero over the last N\n"
           "                            (100000; times the shards; 0: none)\n"
           "      --batch N             batch size (16)\n"
           "      --g-lr X, --d-lr X    Adam learning rates of G and D (0.0001)\n"
           "      --n-critic N          D updates per G update (5)\n"
           "      --beta1 X, --beta2 X  Adam betas (0.5, 0.999)\n"
           "      --lambda-cls X        classification loss weight (1)\n"
           "      --lambda-rec X        reconstruction loss weight (10)\n"
           "      --lambda-gp X         gradient penalty weight (10)\n"
           "      --g-conv-dim N        G's first conv channels (64)\n"
           "      --d-conv-dim N        D's first conv channels (64)\n"
           "      --g-repeat N          G's residual blocks (6)\n"
           "      --d-repeat N          D's strided convs (6, fewer for images under 128 px\n"
           "                            so that D's last map is at least 2x2)\n"
           "      --flip, --no-flip     random horizontal flip of each training image (on)\n"
           "      --target-labels permute|random\n"
           "                            target labels: the batch's labels permuted\n"
           "                            (permute, the default: the reference's) or\n"
           "                            independent random labels\n"
           "      --seed N              seed of every random draw (0; 0 to 2^64-1)\n"
           "      --device cpu|cuda|cuda:N|auto\n"
           "                            compute device (cuda: GPU 0; auto, the default:\n"
           "                            GPU 0 if usable, else the CPU)\n"
           "      --precision P         CUDA convolutions: tf32 (default, as PyTorch),\n"
           "                            fp32 or bf16\n"
           "      --threads N           CPU threads (0, the default: the CPUs this process\n"
           "                            may use; --resume: the run's)\n"
           "      --log-every N         history.jsonl line every N iterations\n"
           "                            (10; times the shards, as --iters; 0: none)\n"
           "      --sample-every N      samples/NNNNNN.png every N iterations\n"
           "                            (1000; times the shards; 0: never)\n"
           "      --save-every N        checkpoint every N iterations\n"
           "                            (10000; times the shards; 0: only the last,\n"
           "                            which is always saved)\n"
           "      --keep N              keep only the newest N checkpoints (0: all)\n"
           "      --disk-full-wait S    a checkpoint, sample or history line that finds\n"
           "                            the disk or quota full is tried again every 10 s\n"
           "                            for up to S seconds, the model kept in memory\n"
           "                            (1800; 0: stop at once)\n"
           "  -q, --quiet               no progress line, nor the checkpoint lines\n"
           "                            that stand for it when stderr is not a terminal\n"
           "                            (the last one too)\n"
           "  -h, --help                this help\n"
           "      --version             version\n"
           "\n"
           "Examples:\n"
           "  %s -o runs/celebA celebA.lmdb\n"
           "  %s -o runs/multi celebA.lmdb celebB.lmdb\n"
           "  %s -o runs/multi --resume\n",
           cli_name, cli_name, cli_name, cli_name, cli_name);
}

enum {
    O_ITERS = 256, O_DECAY, O_BATCH, O_GLR, O_DLR, O_NCRITIC, O_BETA1, O_BETA2, O_LCLS, O_LREC, O_LGP,
    O_GCONV, O_DCONV, O_GREP, O_DREP, O_FLIP, O_NOFLIP, O_TARGET, O_SEED, O_DEVICE, O_PRECISION, O_THREADS, O_LOG,
    O_SAMPLE, O_SAVE, O_KEEP, O_RESUME, O_FORCE, O_VERSION, O_DISKWAIT, O_END
};

static const struct option longopts[] = {
    {"output", required_argument, 0, 'o'}, {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'},
    {"iters", required_argument, 0, O_ITERS}, {"decay-iters", required_argument, 0, O_DECAY},
    {"batch", required_argument, 0, O_BATCH}, {"g-lr", required_argument, 0, O_GLR},
    {"d-lr", required_argument, 0, O_DLR}, {"n-critic", required_argument, 0, O_NCRITIC},
    {"beta1", required_argument, 0, O_BETA1}, {"beta2", required_argument, 0, O_BETA2},
    {"lambda-cls", required_argument, 0, O_LCLS}, {"lambda-rec", required_argument, 0, O_LREC},
    {"lambda-gp", required_argument, 0, O_LGP}, {"g-conv-dim", required_argument, 0, O_GCONV},
    {"d-conv-dim", required_argument, 0, O_DCONV}, {"g-repeat", required_argument, 0, O_GREP},
    {"d-repeat", required_argument, 0, O_DREP}, {"flip", no_argument, 0, O_FLIP},
    {"no-flip", no_argument, 0, O_NOFLIP}, {"target-labels", required_argument, 0, O_TARGET},
    {"seed", required_argument, 0, O_SEED}, {"device", required_argument, 0, O_DEVICE},
    {"precision", required_argument, 0, O_PRECISION},
    {"threads", required_argument, 0, O_THREADS}, {"log-every", required_argument, 0, O_LOG},
    {"sample-every", required_argument, 0, O_SAMPLE}, {"save-every", required_argument, 0, O_SAVE},
    {"keep", required_argument, 0, O_KEEP}, {"resume", no_argument, 0, O_RESUME},
    {"force", no_argument, 0, O_FORCE}, {"version", no_argument, 0, O_VERSION},
    {"disk-full-wait", required_argument, 0, O_DISKWAIT}, {0, 0, 0, 0}};

static sg_train_stop stops;   /* stops.stop: the first stop signal's number, 0: none yet */

/* Where sg-train is, for on_signal. */
enum {
    AT_STARTING,   /* reading and checking (sg_trainer_prepare and before): nothing of the run changed yet */
    AT_HELD,       /* the run set up (sg_trainer_begin, stop signals held) up to training, and after it
                      until main has made the closing lines */
    AT_TRAINING,   /* sg_trainer_run */
    AT_CLOSING     /* the closing lines made (set_closing_lines): the trainer and the backend freed */
};
static volatile sig_atomic_t phase = AT_STARTING;
/* What ending at once leaves, said by on_signal, one line per stop signal
 * (its verb): made in advance (set_stop_lines), as it changes. */
static cli_stop_line stop_lines[3];
/* What a first stop in training says at once (on_signal: the trainer sees
 * it only at the end of the iteration under way, which may take long), one
 * per stop signal, and in a wait for space (--disk-full-wait, which it
 * ends); made before training (set_answer_lines). */
static cli_stop_line answer_lines[3], wait_answer_lines[3];
/* 1 while wait_for_space waits, for on_signal */
static volatile sig_atomic_t waiting_for_space;

static const char *stop_verb(int sig)
{
    return sig == SIGINT ? "interrupted" : sig == SIGHUP ? "hung up" : "terminated";
}

/* The stop signals, in the order of the tables of lines (signal_slot). */
static const int stop_signals[3] = {SIGINT, SIGTERM, SIGHUP};

/* A stop signal's slot in the tables of lines: its place in stop_signals. */
static int signal_slot(int sig)
{
    return sig == SIGINT ? 0 : sig == SIGHUP ? 2 : 1;
}

static cli_stop_line *stop_line(int sig)
{
    return &stop_lines[signal_slot(sig)];
}

static cli_stop_line *answer_line(int sig)
{
    int k = signal_slot(sig);
    return waiting_for_space ? &wait_answer_lines[k] : &answer_lines[k];
}

/* "interrupted: stopping at the end of the iteration under way, with a
 * checkpoint (^C again stops at once, without it)": what the stop does
 * (the trainer finishes the iteration, writes a checkpoint and returns;
 * main then says where the run is) and what a second one does (on_signal;
 * a SIGHUP after the first is none). In a wait for space the stop ends the
 * wait with one last try (wait_for_space), and the run stops whether it
 * finds space (as above) or not (as for a full disk). */
static void set_answer_lines(void)
{
    for (int k = 0; k < 3; k++) {
        const char *verb = stop_verb(stop_signals[k]);
        const char *again = stop_signals[k] == SIGINT    ? "^C again"
                            : stop_signals[k] == SIGTERM ? "a second SIGTERM or ^C"
                                                         : "a SIGINT or SIGTERM";
        cli_stop_line_set(&answer_lines[k], "%s: stopping at the end of the iteration under way, with a checkpoint "
                          "(%s stops at once, without it)", verb, again);
        cli_stop_line_set(&wait_answer_lines[k], "%s: ending the wait for space with one last try, then stopping "
                          "(%s stops at once, giving up that write)", verb, again);
    }
}

/* Each signal's line: its verb, then the tail made from fmt. */
static void set_stop_lines(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_stop_lines(const char *fmt, ...)
{
    char tail[6 * PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tail, sizeof tail, fmt, ap);
    va_end(ap);
    for (int k = 0; k < 3; k++) cli_stop_line_set(&stop_lines[k], "%s%s", stop_verb(stop_signals[k]), tail);
}

/* While the run is read and checked, a stop signal ends the process at
 * once, saying that nothing changed: the checks and the loading of a
 * checkpoint may take long. While the run is set up, the signals are held
 * (the removal of a previous run, config.json and history.jsonl are all
 * done or none), then until training one is only noted: main says what the
 * run holds and ends by it. In training, the first asks for a stop with a
 * checkpoint, saying so at once (answer_lines); a second SIGINT or SIGTERM
 * gives up the checkpoint under way (the trainer stops within a tensor and
 * main says which checkpoint
 * survived), else ends the process at once, saying so, taking the
 * temporary files of a write under way with it. A SIGHUP after the first
 * changes nothing: a terminal closing, or systemd's SIGHUP right after its
 * SIGTERM (SendSIGHUP=), is no second request. After training, the first is
 * noted: main's closing words follow once the trainer and the backend are
 * freed. A second (not a SIGHUP) ends the process at once with the line main
 * made for it, as in training: nothing is written any more then (history
 * lines go out by write(2), none waits in a buffer; the backends keep
 * nothing on the disk), so it cuts short only the freeing, which the end of
 * the process does anyway, and a CUDA context's teardown, which the driver
 * does for a process that dies. (From sg_trainer_run's return until main
 * has made those lines, a few lines' formatting, a second is not seen.) */
static void on_signal(int sig)
{
    if (phase == AT_STARTING) {
        cli_die_by_signal_saying(sig, stop_line(sig));
    } else if (!stops.stop) {
        stops.stop = sig;
        /* at once, not when the trainer sees it: an iteration may take long */
        if (phase == AT_TRAINING) cli_say_from_handler(answer_line(sig));
    } else if (phase == AT_TRAINING && sig != SIGHUP) {
        if (stops.saving) stops.abandon = sig;
        else cli_die_by_signal_saying(sig, stop_line(sig));
    } else if (phase == AT_CLOSING && sig != SIGHUP) {
        cli_die_by_signal_saying(sig, stop_line(sig));
    }
}

/* A loss in the progress line in as few columns as its size allows: two
 * decimals below 1, one below 10, none from 10 up (0.12, 3.5, -12; every
 * digit is in history.jsonl), so that 80 columns show the whole line. */
static const char *short_number(char out[24], double v)
{
    double a = fabs(v);
    snprintf(out, 24, "%.*f", a >= 10 ? 0 : a >= 1 ? 1 : 2, v);
    return out;
}

/* The lines for a second stop that ends the run at once (on_signal): the
 * checkpoint a resume continues from, the last written (as the callback
 * last saw it: on_signal leaves a checkpoint under way to the trainer). */
static void set_again_lines(const sg_trainer *t)
{
    const char *dir = sg_trainer_run_dir(t);
    int64_t last = sg_trainer_last_checkpoint(t);
    char cp[PATH_MAX];
    if (last < 0) {
        set_stop_lines(" again before the stop's checkpoint was written, the run's first (sg-train -o %s --resume "
                       "starts the run again)", cli_shell_word(dir));
        return;
    }
    sg_ckpt_path(cp, sizeof cp, dir, last, NULL);
    set_stop_lines(" again before the stop's checkpoint was written; the last one written is %s (sg-train -o %s "
                   "--resume continues from it)", cp, cli_shell_word(dir));
}

static void progress(void *ctx, const sg_train_status *st)
{
    const sg_trainer *t = ctx;
    waiting_for_space = 0;   /* a retry that failed otherwise was not told to wait_for_space */
    if (st->note) cli_warn("%s", st->note);   /* once: the run directory moved */
    char eta[32];
    cli_format_eta(eta, sizeof eta, st->it_per_s > 0 ? (double)(st->iters - st->iteration) / st->it_per_s : -1);
    /* No progress line in a log (nohup, systemd, a pipe): one line per
     * checkpoint shows the run is alive (a stop's checkpoint has its own). */
    if (st->saved && !cli_quiet && !stops.stop && !isatty(STDERR_FILENO)) {
        char cp[PATH_MAX];
        sg_ckpt_path(cp, sizeof cp, sg_trainer_run_dir(t), st->iteration, NULL);
        cli_warn("iteration %lld/%lld: checkpoint %s written (%.1f it/s, ETA %s)", (long long)st->iteration,
                 (long long)st->iters, cp, st->it_per_s, eta);
    }
    if (st->saved || st->note) set_again_lines(t);   /* a checkpoint written, or the run moved */
    if (st->iteration == st->iters) cli_progress_unthrottle();   /* the run ends on N/N */
    /* "1200/200000 3.45it/s ETA 16h01m D -12 3.5 0.12 0.46 G -3.5 0.23 1.2":
     * the losses last read (logged iterations and checkpoints: reading them
     * waits for the device), D's real fake cls gp, G's fake rec cls; G's those
     * of the last G update (none before the first); sg-train(1) */
    const sg_losses *L = &st->losses;
    char rate[24], d[4][24], g[96] = "";
    snprintf(rate, sizeof rate, "%.*f", st->it_per_s >= 100 ? 0 : st->it_per_s >= 10 ? 1 : 2, st->it_per_s);
    if (st->losses_at > 0 && st->g_at > 0) {
        char f[24], r[24], c[24];
        snprintf(g, sizeof g, " G %s %s %s", short_number(f, L->g_loss_fake), short_number(r, L->g_loss_rec),
                 short_number(c, L->g_loss_cls));
    }
    if (st->losses_at <= 0)
        cli_progress("%lld/%lld %sit/s ETA %s", (long long)st->iteration, (long long)st->iters, rate, eta);
    else
        cli_progress("%lld/%lld %sit/s ETA %s D %s %s %s %s%s", (long long)st->iteration, (long long)st->iters, rate,
                     eta, short_number(d[0], L->d_loss_real), short_number(d[1], L->d_loss_fake),
                     short_number(d[2], L->d_loss_cls), short_number(d[3], L->d_loss_gp), g);
}

/* --disk-full-wait: a write of the run that found no space (lib/trainer.h
 * sg_train_space) is tried again every SPACE_RETRY_S seconds, the last time
 * at the deadline; a stop signal ends the wait with one last try. */
#define SPACE_RETRY_S 10
typedef struct {
    int64_t iters;
    long wait_s;                  /* --disk-full-wait */
    double deadline;              /* CLOCK_MONOTONIC seconds */
} space_wait;

/* s seconds in the style of the progress line's ETA: "30m00s", "1h30m", "0m02s" */
static const char *format_duration(char out[32], long s)
{
    cli_format_duration(out, 32, (double)s);
    return out;
}

static int wait_for_space(void *ctx, const sg_train_space *s)
{
    space_wait *w = ctx;
    static const char *const done[] = {"checkpoint %lld saved", "sample of iteration %lld written",
                                       "history line of iteration %lld written"};
    static const char *const doing[] = {"saving iteration", "writing the sample of iteration", "logging iteration"};
    if (!s->err) {
        waiting_for_space = 0;
        char what[96];
        snprintf(what, sizeof what, done[s->what], (long long)s->iteration);
        cli_warn("space found: %s, %s", what, stops.stop ? "stopping as asked" : "training goes on");
        return 0;
    }
    /* a stop asked for before this try (the stop's own checkpoint, or a
     * signal that ended the wait): it was the last */
    if (stops.stop) {
        waiting_for_space = 0;
        return 0;
    }
    /* until the write goes through or is given up (the tries too), and
     * from before the line that says Ctrl-C stops */
    waiting_for_space = 1;
    int quota = s->err->sys_errno == EDQUOT;
    if (s->tries == 1) {
        w->deadline = cli_now() + (double)w->wait_s;
        char up_to[32], last[64] = "there is no checkpoint yet";
        if (s->last_checkpoint >= 0)
            snprintf(last, sizeof last, "the last good checkpoint is %lld", (long long)s->last_checkpoint);
        cli_warn("%s: %s %s %lld; waiting up to %s for space (free some%s and training goes on by itself; "
                 "Ctrl-C stops, %s)", s->path, quota ? "disk quota exceeded" : "no space left on device",
                 doing[s->what], (long long)s->iteration, format_duration(up_to, w->wait_s),
                 quota ? " or raise the quota" : "", last);
    }
    double now = cli_now(), left = w->deadline - now;
    if (left <= 0) {
        waiting_for_space = 0;
        return 0;
    }
    double until = now + (left < SPACE_RETRY_S ? left : SPACE_RETRY_S);
    /* In one-second slices, the progress line redrawn at each: a stop signal
     * cuts a slice short (EINTR: SA_RESTART does not restart it; one landing
     * just before a slice waits it out), and the write is tried once more. */
    while (!stops.stop && (now = cli_now()) < until) {
        char next[32], gives_up[32];
        cli_progress_unthrottle();
        cli_progress("%lld/%lld  waiting for space (%s): next try in %s, gives up in %s, Ctrl-C stops",
                     (long long)s->iteration, (long long)w->iters, quota ? "disk quota exceeded" : "disk full",
                     format_duration(next, (long)(until - now + 0.999)),
                     format_duration(gives_up, (long)(w->deadline - now + 0.999)));
        double slice = now + 1 < until ? now + 1 : until;
        struct timespec ts = {(time_t)slice, (long)((slice - (double)(time_t)slice) * 1e9)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    }
    return 1;
}

/* What main's steps share: the command line, the run it resumes, and what
 * they opened. */
struct run {
    sg_train_options o;           /* given or default; --resume: the run's, overridden by those given */
    int given[O_END];             /* the options on the command line */
    const char *run_dir, *device, *precision;
    int resume, force;
    int replaces;                 /* --force over a run (RUN/config.json there when it started) */
    long disk_full_wait;          /* operational: not in config.json, any value on --resume */
    const char *shards[SG_MAX_DATASETS];
    int n_shards;
    sg_train_options recorded;    /* --resume: the run's options (config.json); its device and
                                     precision "" if it recorded none */
    char **run_paths;             /* --resume: the run's shards (config.json) */
    int n_run_paths;
    char auto_note[1024];         /* --device auto: why it chose the CPU, "" if it did not */
    char other_device[1536];      /* --resume on another device or precision than the run's: the warning, or "" */
    space_wait space;             /* --disk-full-wait's deadline (wait_for_space) */
    sg_backend *be;
    sg_trainer *t;
    sg_err err;
    /* a multi-hot shard whose records all hold the same labels: the
     * warning (check_label_spread), said once the run is open; NULL: none */
    char *same_labels[SG_MAX_DATASETS];
};

/* note: --device auto's reason for the CPU ("" if none), note_len bytes. */
static sg_backend *open_backend(const char *device, const char *precision, int threads, char *note, size_t note_len,
                                sg_err *err)
{
    sg_backend *be = sg_backend_open(device, precision, threads, SG_CUDNN_SEARCH_DEFAULT, note, note_len, err);
    if (be && !strcmp(be->name, "cuda") && sg_backend_cuda_allows_nondet(be))
        cli_warn("SG_CUDNN_NONDET=1: nondeterministic cuDNN engines and legacy algorithms may run; a resumed run "
                 "will not repeat an uninterrupted one bit for bit");
    return be;
}

/* getopt's value of the long option named option ("--batch"); 0: none */
static int option_id(const char *option)
{
    for (const struct option *p = longopts; p->name; p++)
        if (!strcmp(p->name, option + 2)) return p->val;
    return 0;
}

/* --resume: the options in force are the run's (r, from its config.json)
 * overridden by those given on the command line (run->o, run->given); those
 * that shape the model, and the seed, must not change. The run's device and
 * precision (run->recorded's, "" when it recorded none; run->device points
 * there, not into r, the caller's) are used unless given: anything else does
 * not repeat the uninterrupted run bit for bit, which is told once the
 * backend and the run are open (check_resumed_device: what --device auto
 * gives is not known before). */
static void merge_resume_options(struct run *run, const sg_train_options *r)
{
    sg_train_options *o = &run->o, m = *r;
    const int *given = run->given;
    const sg_train_field *f;
    for (int k = 0; (f = sg_train_field_at(k)); k++) {
        if (!f->option || !given[option_id(f->option)]) continue;
        if (f->section == SG_CONFIG_MODEL) {   /* the model's rows are ints */
            int have = *(const int *)((const char *)r + f->off), want = *(const int *)((const char *)o + f->off);
            if (have != want)
                cli_die("%s %d differs from the run's %d (it changes the model; start a new run with -o)", f->option,
                        want, have);
        } else if (!strcmp(f->key, "seed")) {
            if (r->seed != o->seed)
                cli_die("--seed %llu differs from the run's %llu (the data order and draws would change)",
                        (unsigned long long)o->seed, (unsigned long long)r->seed);
        } else {
            sg_train_field_copy(&m, o, f);
        }
    }
    *o = m;
    if (!given[O_DEVICE] && run->recorded.device[0]) run->device = run->recorded.device;
    if (!given[O_PRECISION] && run->recorded.precision[0]) run->precision = run->recorded.precision;
}

/* --resume: the warning (into run->other_device, "" for none) when the
 * backend opened is not the run's kind, or computes in another precision
 * than the run's: from here on the run does not repeat an uninterrupted one.
 * The kind counts, not which GPU ("cuda:1" continues a "cuda" run). One line,
 * that of --device auto's fallback included. */
static void check_resumed_device(struct run *run)
{
    const char *name = run->be->name, *tail = "from here on it does not repeat an uninterrupted run";
    run->other_device[0] = 0;
    if (!run->resume || !run->recorded.device[0]) return;   /* a run from before devices were recorded */
    if (strcmp(name, run->recorded.device)) {
        if (sg_device_parse(run->device, NULL) != SG_DEVICE_AUTO)
            snprintf(run->other_device, sizeof run->other_device, "--device %s: the run trained on %s; %s",
                     run->device, run->recorded.device, tail);
        else   /* the fallback's note, which says why, in the same line */
            snprintf(run->other_device, sizeof run->other_device, "--device auto: %s%straining on the %s, but the "
                     "run trained on %s: %s", run->auto_note, run->auto_note[0] ? "; " : "",
                     strcmp(name, "cpu") ? "GPU" : "CPU", run->recorded.device, tail);
        run->auto_note[0] = 0;   /* said in this line */
    } else if (!strcmp(name, "cuda") && run->recorded.precision[0] &&
               strcmp(sg_backend_cuda_precision(run->be), run->recorded.precision)) {
        snprintf(run->other_device, sizeof run->other_device, "--precision %s: the run trained with %s; %s",
                 sg_backend_cuda_precision(run->be), run->recorded.precision, tail);
    }
}

/* The row of lib's option table (trainer.h's sg_train_field, whose range config.json
 * is read with too) for getopt's value c; NULL for an option without one. */
static const sg_train_field *field_of(int c)
{
    for (const struct option *p = longopts; p->name; p++)
        if (p->val == c) {
            char option[64];
            snprintf(option, sizeof option, "--%s", p->name);
            return sg_train_field_of_option(option);
        }
    return NULL;
}

/* arg into o's field f, within f's range */
static void parse_field(sg_train_options *o, const sg_train_field *f, const char *arg)
{
    char *at = (char *)o + f->off;
    switch (f->type) {
    case 'i': *(int *)at = (int)cli_parse_long(f->option, arg, (long)f->ilo, (long)f->ihi); return;
    case 'l': *(int64_t *)at = cli_parse_long(f->option, arg, (long)f->ilo, (long)f->ihi); return;
    case 'u': *(uint64_t *)at = cli_parse_u64(f->option, arg, UINT64_MAX); return;
    case 'd': *(double *)at = cli_parse_double(f->option, arg, f->dlo, f->dhi); return;
    case 'c':
        for (int k = 0; k < 2; k++)
            if (!strcmp(arg, f->choices[k])) {
                *(int *)at = k;
                return;
            }
        cli_usage_error("%s: '%s' is not %s or %s", f->option, sg_quote_str(arg).s, f->choices[0], f->choices[1]);
    }
    cli_die("%s: no parser for its type '%c'", f->option, f->type);   /* 'b' (--flip) takes no argument */
}

/* The options into run, the defaults for those not given; -h and --version
 * end here. */
static void parse_options(struct run *run, int argc, char **argv)
{
    sg_train_options *o = &run->o;
    sg_train_options_default(o);
    run->device = "auto";
    run->disk_full_wait = 1800;
    int c;
    while ((c = cli_getopt(argc, argv, "o:qh", longopts)) != -1) {
        if (c >= O_ITERS && c < O_END) run->given[c] = 1;
        switch (c) {
        case 'o': run->run_dir = optarg; break;
        case 'q': cli_quiet = 1; break;
        case 'h': usage(); cli_finish_stdout(); exit(0);
        case O_VERSION: cli_version();
        case O_FLIP: o->flip = 1; run->given[O_NOFLIP] = 1; break;
        case O_NOFLIP: o->flip = 0; run->given[O_FLIP] = 1; break;
        case O_DEVICE: run->device = cli_parse_device(optarg); break;
        case O_PRECISION: run->precision = cli_parse_precision(optarg); break;
        case O_RESUME: run->resume = 1; break;
        case O_FORCE: run->force = 1; break;
        case O_DISKWAIT: run->disk_full_wait = cli_parse_long("--disk-full-wait", optarg, 0, INT_MAX); break;
        default: {
            const sg_train_field *f = field_of(c);
            if (!f) cli_try_help();   /* an option without a case above */
            parse_field(o, f, optarg);
        }
        }
    }
}

/* The operands: the run directory, and the shards (--resume: may be none,
 * the run's are taken then). */
static void check_operands(struct run *run, int argc, char **argv)
{
    if (!run->run_dir) cli_usage_error("no run directory (-o RUN)");
    cli_refuse_empty_path("-o/--output", run->run_dir);
    cli_refuse_stdout_dir(run->run_dir, "a run is a directory and cannot go to standard output");
    if (run->resume && run->force) cli_usage_error("--resume and --force exclude each other");
    run->n_shards = argc - optind;
    if (!run->resume && run->n_shards < 1) cli_usage_error("no shards given");
    if (run->n_shards > SG_MAX_DATASETS)
        cli_usage_error("%d shards given (at most %d)", run->n_shards, SG_MAX_DATASETS);
    for (int k = 0; k < run->n_shards; k++) {
        cli_refuse_empty_path("SHARD", argv[optind + k]);
        run->shards[k] = argv[optind + k];
    }
    cli_refuse_run_dir_shard(run->run_dir, run->shards, run->n_shards);
    cli_note_output(run->run_dir);   /* where a full disk's advice looks (blocks or inodes) */
}

/* A new run on n shards: --iters, --decay-iters, --log-every,
 * --sample-every and --save-every not given are the reference's 200000,
 * 100000, 10, 1000 and 10000 rounds times n (an iteration is one dataset's
 * batch, the reference's round one of every dataset's). --resume keeps the
 * run's. */
static void scale_defaults(struct run *run)
{
    if (run->resume) return;
    if (!run->given[O_ITERS]) run->o.iters *= run->n_shards;
    if (!run->given[O_DECAY]) run->o.decay_iters *= run->n_shards;
    if (!run->given[O_LOG]) run->o.log_every *= run->n_shards;
    if (!run->given[O_SAMPLE]) run->o.sample_every *= run->n_shards;
    if (!run->given[O_SAVE]) run->o.save_every *= run->n_shards;
}

/* --resume without shards: the run's, from config.json. */
static void take_run_shards(struct run *run)
{
    run->n_shards = run->n_run_paths > SG_MAX_DATASETS ? SG_MAX_DATASETS : run->n_run_paths;
    for (int k = 0; k < run->n_shards; k++) {
        run->shards[k] = run->run_paths[k];
        /* a shard moved since: the run goes on from its new path, given in order */
        if (sg_path_missing(run->shards[k]))
            cli_die("%s/config.json: the run's shard %s is missing (moved or renamed?): give the run's "
                    "shard%s after --resume, in order: sg-train -o %s --resume SHARD...", run->run_dir,
                    run->shards[k], run->n_run_paths > 1 ? "s" : "", cli_shell_word(run->run_dir));
    }
}

/* --resume: the run's options and shards, with those given. */
static void read_resumed_run(struct run *run)
{
    sg_train_options r;
    if (!sg_run_exists(run->run_dir)) {
        sg_run_resume_missing(run->run_dir, &run->err);
        cli_die_err(&run->err);
    }
    if (sg_run_config_read(run->run_dir, &r, &run->run_paths, &run->n_run_paths, &run->err)) cli_die_err(&run->err);
    run->recorded = r;
    merge_resume_options(run, &r);
    if (run->n_shards == 0) take_run_shards(run);
}

/* The backend of --device (a resumed run's own unless given); the device
 * and precision it resolved to go into the options. A resume on another
 * kind of device or precision is told once the run is open (open_trainer):
 * a failure before that is one line. */
static void open_device(struct run *run)
{
    run->be = open_backend(run->device, run->precision, run->o.threads, run->auto_note, sizeof run->auto_note,
                           &run->err);
    if (!run->be && run->device == run->recorded.device)
        cli_die("%s (the run trained on %s; --device cpu continues it on the CPU, not bit for bit)", run->err.msg,
                run->recorded.device);
    if (!run->be) cli_die_err(&run->err);
    check_resumed_device(run);
    cli_note_device_auto(run->auto_note, "training");
    if (run->given[O_PRECISION]) cli_note_precision_on_cpu(run->precision, run->be->name);
    /* recorded in config.json for a later --resume */
    snprintf(run->o.device, sizeof run->o.device, "%s", run->be->name);
    snprintf(run->o.precision, sizeof run->o.precision, "%s",
             strcmp(run->be->name, "cuda") ? "" : sg_backend_cuda_precision(run->be));
}

/* What a crash inside LMDB (SIGSEGV, SIGBUS) blames: the shards; on
 * --resume with other shard paths, also the run's own that config.json
 * records, which the trainer opens to compare with them (a shard given in
 * place of one still there): a crash there was blamed on the given ones.
 * It opens one only where it is another shard than the one given, by
 * fileio.h's rule (sg_same_file: a.lmdb recorded as /data/a.lmdb, or a link
 * to it, is the same; the same text is, whether or not it is there). */
static void blame_shards_on_crash(const struct run *run)
{
    sg_buf blame = SG_BUF_INIT;   /* cli_on_crash_blame keeps what fits a message */
    if (run->n_shards) sg_buf_puts(&blame, "the shards");
    else sg_buf_appendf(&blame, "the shards of %s", run->run_dir);
    for (int k = 0; k < run->n_shards; k++) sg_buf_appendf(&blame, " %s", run->shards[k]);
    int others = 0, other[SG_MAX_DATASETS] = {0};
    for (int k = 0; k < run->n_shards && k < run->n_run_paths && k < SG_MAX_DATASETS; k++)
        others += other[k] =
            strcmp(run->run_paths[k], run->shards[k]) && !sg_same_file(run->run_paths[k], run->shards[k]);
    if (others) {
        sg_buf_appendf(&blame, ", or the run's own shard%s", others > 1 ? "s" : "");
        for (int k = 0; k < SG_MAX_DATASETS; k++)
            if (other[k]) sg_buf_appendf(&blame, " %s", run->run_paths[k]);
        sg_buf_puts(&blame, " that config.json records (read to compare with them)");
    }
    cli_on_crash_blame(blame.failed || !blame.data ? "the shards" : blame.data);
    sg_buf_free(&blame);
}

/* --resume: one line when the learning rates change by more than a factor 2
 * from the run's last iteration to the next (sg_train_lr_jump): a larger
 * --iters moves the decay window, so a run decayed to about 0 would go on at
 * nearly the full rate without a word. The schedule itself is the documented
 * one. */
static int warn_lr_jump(const struct run *run)
{
    const sg_train_options *r = &run->recorded, *o = &run->o;
    int64_t at = sg_trainer_iteration(run->t);
    float from[2], to[2];
    if (!run->resume || !sg_train_lr_jump(r, o, at, sg_trainer_model_config(run->t)->n_datasets, from, to)) return 0;
    sg_buf opts = SG_BUF_INIT;   /* the options given that changed the schedule, each after a space */
    if (o->iters != r->iters) sg_buf_appendf(&opts, " --iters %lld", (long long)o->iters);
    if (o->decay_iters != r->decay_iters) sg_buf_appendf(&opts, " --decay-iters %lld", (long long)o->decay_iters);
    if (o->g_lr != r->g_lr) sg_buf_appendf(&opts, " --g-lr %g", o->g_lr);
    if (o->d_lr != r->d_lr) sg_buf_appendf(&opts, " --d-lr %g", o->d_lr);
    int decay_moved = o->iters != r->iters || o->decay_iters != r->decay_iters;
    char rates[160];
    if (from[0] == from[1] && to[0] == to[1])
        snprintf(rates, sizeof rates, "the rate goes from %.2g to %.2g", from[0], to[0]);
    else
        snprintf(rates, sizeof rates, "G's rate goes from %.2g to %.2g, D's from %.2g to %.2g", from[0], to[0],
                 from[1], to[1]);
    int64_t d = o->decay_iters < o->iters ? o->decay_iters : o->iters;
    char span[128];
    if (d > 0)
        snprintf(span, sizeof span, "the linear decay now runs over iterations %lld to %lld", (long long)(o->iters - d + 1),
                 (long long)o->iters);
    else
        snprintf(span, sizeof span, "--decay-iters 0: no decay");
    /* out of memory: the line without the options' names */
    cli_warn("%s %s: %s at iteration %lld (%s)", opts.data && !opts.failed ? opts.data + 1 : "the options in force",
             decay_moved ? "moves the learning-rate decay" : "changes the learning rate", rates, (long long)at + 1,
             span);
    sg_buf_free(&opts);
    return 1;
}

/* A number in as few digits as show it exactly, at least %g's 6 (0.9, not
 * config.json's 0.90000000000000002; 10, not 1e+01). */
static const char *shortest(char out[32], double v)
{
    for (int p = 6; p <= 17; p++) {
        snprintf(out, 32, "%.*g", p, v);
        if (strtod(out, NULL) == v) break;
    }
    return out;
}

/* --resume: one line per option in force that changes the results and
 * differs from what the start that trained up to the checkpoint used (was),
 * with its value then: config.json's "sessions" keeps both. The learning
 * rates and --decay-iters only when warn_lr_jump said nothing (lr_said);
 * --iters, the intervals, --keep and --disk-full-wait change no result
 * (--iters the schedule, as documented), the device and precision are
 * check_resumed_device's, the threads warn_other_numerics'. */
static void warn_changed_options(const struct run *run, const sg_train_session *was, int lr_said)
{
    const sg_train_options *o = &run->o, *w = &was->opt;
    long long at = (long long)sg_trainer_iteration(run->t);
    char a[32], b[32];
    struct { const char *name; int now, then; } ints[] = {
        {"--batch", o->batch, w->batch}, {"--n-critic", o->n_critic, w->n_critic}};
    for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++)
        if (ints[k].now != ints[k].then)
            cli_warn("%s %d (the run used %d up to iteration %lld)", ints[k].name, ints[k].now, ints[k].then, at);
    if (!lr_said && o->decay_iters != w->decay_iters)
        cli_warn("--decay-iters %lld (the run used %lld up to iteration %lld)", (long long)o->decay_iters,
                 (long long)w->decay_iters, at);
    struct { const char *name; double now, then; int lr; } reals[] = {
        {"--g-lr", o->g_lr, w->g_lr, 1}, {"--d-lr", o->d_lr, w->d_lr, 1},
        {"--beta1", o->beta1, w->beta1, 0}, {"--beta2", o->beta2, w->beta2, 0},
        {"--lambda-cls", o->lambda_cls, w->lambda_cls, 0}, {"--lambda-rec", o->lambda_rec, w->lambda_rec, 0},
        {"--lambda-gp", o->lambda_gp, w->lambda_gp, 0}};
    for (size_t k = 0; k < sizeof reals / sizeof reals[0]; k++)
        if (reals[k].now != reals[k].then && !(reals[k].lr && lr_said))
            cli_warn("%s %s (the run used %s up to iteration %lld)", reals[k].name, shortest(a, reals[k].now),
                     shortest(b, reals[k].then), at);
    if (o->flip != w->flip)
        cli_warn("%s (the run used %s up to iteration %lld)", o->flip ? "--flip" : "--no-flip",
                 w->flip ? "--flip" : "--no-flip", at);
    if (o->target_random != w->target_random)
        cli_warn("--target-labels %s (the run used %s up to iteration %lld)", o->target_random ? "random" : "permute",
                 w->target_random ? "random" : "permute", at);
}

/* --resume on the CPU: one line when the thread count or what else decides
 * the last bits (OpenBLAS's kernel, the clones the CPU runs, the compiler
 * flags: sg_backend_cpu_numerics) differs from what the start that trained
 * up to the checkpoint recorded; the sums then go in another order. Nothing
 * for a start that recorded none (another device, a run from before). */
static void warn_other_numerics(const struct run *run, const sg_train_session *was)
{
    const sg_train_session *now = sg_trainer_session(run->t);
    long long at = (long long)sg_trainer_iteration(run->t);
    const char *tail = "from here on it does not repeat an uninterrupted run";
    int threads = was->threads_used && now->threads_used && was->threads_used != now->threads_used;
    int numerics = was->numerics[0] && now->numerics[0] && strcmp(was->numerics, now->numerics);
    if (threads && numerics)
        cli_warn("%d thread%s, %s (the run used %d, %s up to iteration %lld): %s; --threads %d keeps the thread "
                 "count", now->threads_used, now->threads_used == 1 ? "" : "s", now->numerics, was->threads_used,
                 was->numerics, at, tail, was->threads_used);
    else if (threads)
        cli_warn("%d thread%s (the run used %d up to iteration %lld): %s; --threads %d keeps it", now->threads_used,
                 now->threads_used == 1 ? "" : "s", was->threads_used, at, tail, was->threads_used);
    else if (numerics)
        cli_warn("the CPU computes with %s (the run used %s up to iteration %lld): %s", now->numerics, was->numerics,
                 at, tail);
}

/* The names of m's labels whose byte in labels is want, into b: four, then
 * " and N more". */
static void labels_where(sg_buf *b, const sg_shard_meta *m, const uint8_t *labels, int want)
{
    uint32_t k = 0;
    for (uint32_t j = 0; j < m->n_labels; j++) {
        if (labels[j] != want) continue;
        if (k < 4) sg_buf_appendf(b, "%s%s", k ? ", " : "", sg_quote_str(m->label_names[j]).s);
        k++;
    }
    if (k > 4) sg_buf_appendf(b, " and %u more", k - 4);
}

/* The shards whose records all hold the same labels, found before the
 * device opens and before anything in RUN changes (sg_shard_same_labels: two records for a
 * shard of two classes packed in order; only such a shard is read through).
 * A one-hot shard of one class is refused: the targets are the batch's own
 * labels permuted, so every image would be translated to its own class
 * (with --target-labels random, to classes of which D's classifier never saw
 * a real image): nothing is learnt. A multi-hot shard whose attributes are
 * each the same in every record is as useless but only said, once the run
 * is open (open_trainer): the records of a few-image shard packed for a
 * test (a dataset of one image) may well agree, and another dataset beside
 * it still trains. A shard that does not open is left to the trainer, which
 * says why in its own order. */
static void check_label_spread(struct run *run)
{
    for (int k = 0; k < run->n_shards; k++) {
        sg_shard *s;
        sg_err err;
        if (sg_shard_open(&s, run->shards[k], &err)) continue;
        const sg_shard_meta *m = sg_shard_get_meta(s);
        if (m->label_kind == SG_LABELS_ONE_HOT && m->n_labels < 2) {   /* the trainer's refusal: one label */
            sg_shard_close(s);
            continue;
        }
        uint8_t labels[SG_SHARD_MAX_LABELS];
        int same = sg_shard_same_labels(s, labels, &err);
        if (same < 0)
            cli_die("%s (celeb-dump --verify %s lists every damaged record: pack the shard again)", err.msg,
                    cli_shell_operand(run->shards[k]));
        sg_buf set = SG_BUF_INIT, clear = SG_BUF_INIT, w = SG_BUF_INIT;
        if (same) {
            labels_where(&set, m, labels, 1);
            labels_where(&clear, m, labels, 0);
        }
        const char *set_s = set.failed || !set.data ? "" : set.data;
        const char *clear_s = clear.failed || !clear.data ? "" : clear.data;
        if (same && m->label_kind == SG_LABELS_ONE_HOT)
            cli_die("%s: every record is of class %s, none of %s: a one-hot dataset needs images of at least 2 "
                    "classes to translate between, and sg-train learns nothing from it; pack images of two or "
                    "more classes into it (celeb-pack --folders DIR, each class's images in DIR/CLASS/)",
                    run->shards[k], set_s, clear_s);
        if (same) {
            sg_buf_appendf(&w, "%s: every record holds the same labels (", run->shards[k]);
            if (set_s[0]) sg_buf_appendf(&w, "set: %s%s", set_s, clear_s[0] ? "; " : "");
            if (clear_s[0]) sg_buf_appendf(&w, "not set: %s", clear_s);
            sg_buf_puts(&w, "): D's classifier sees no other combination, so sg-train learns no translation from "
                        "this shard; pack images whose selected attributes differ, or select attributes that "
                        "vary among them (celeb-pack -s)");
            if (w.failed) sg_buf_free(&w);
            else run->same_labels[k] = w.data;   /* freed once said */
        }
        sg_buf_free(&set);
        sg_buf_free(&clear);
        sg_shard_close(s);
    }
}

/* The run directory set up (new, replaced with --force, or resumed) with
 * its shards opened. */
static void open_trainer(struct run *run)
{
    int mode = run->resume ? SG_TRAIN_RESUME : run->force ? SG_TRAIN_REPLACE : SG_TRAIN_NEW;
    int rc = sg_trainer_prepare(&run->t, run->run_dir, &run->o, run->shards, run->n_shards, run->be, mode,
                                &run->err);
    if (rc) {
        /* busy, not broken: EX_TEMPFAIL, so that a cron job tells "already running" from a failure */
        if (rc == SG_TRAIN_BUSY) {
            cli_warn("%s", run->err.msg);
            exit(75);
        }
        cli_die_err(&run->err);   /* with the words for a full file system where that was why */
    }
    /* The run's files change all or not at all (--force's removal, config.json,
     * history.jsonl; a resume's cut): a stop waits, then main tells it. */
    sigset_t mask;
    phase = AT_HELD;
    cli_hold_stop_signals(&mask);
    rc = sg_trainer_begin(run->t, &run->err);
    cli_release_stop_signals(&mask);
    if (rc) cli_die_err(&run->err);
    int trains = sg_trainer_iteration(run->t) < run->o.iters;
    /* said while it stays so: config.json changes format with the first checkpoint in rounds */
    if (trains && sg_trainer_former_schedule(run->t))
        cli_warn("%s was trained with the former multi-dataset schedule (G after iterations i with (i+1) mod "
                 "n_critic = 0); it goes on with the reference's (G after every dataset's D step in every "
                 "n_critic-th round), so it does not repeat an uninterrupted run", run->run_dir);
    if (run->other_device[0]) cli_warn("%s", run->other_device);
    const char *note;
    for (int k = 0; (note = sg_trainer_note(run->t, k)); k++) cli_warn("%s", note);
    for (int k = 0; k < run->n_shards; k++) {
        if (run->same_labels[k] && trains) cli_warn("%s", run->same_labels[k]);
        free(run->same_labels[k]);
        run->same_labels[k] = NULL;
    }
    int lr_said = warn_lr_jump(run);
    const sg_train_session *was = sg_trainer_resumed_session(run->t);
    if (was && trains) {
        warn_changed_options(run, was, lr_said);
        warn_other_numerics(run, was);
    }
    if (sg_trainer_iteration(run->t) > run->o.iters)
        cli_warn("%s: the run is at iteration %lld, past --iters %lld: nothing to train", run->run_dir,
                 (long long)sg_trainer_iteration(run->t), (long long)run->o.iters);
    sg_run_free_paths(run->run_paths, run->n_run_paths);   /* shards[] may point there: the trainer has copies */
}

/* on_signal for the stop signals, its lines first: from here on a stop says
 * what it leaves. SA_RESTART: writes under way (history, checkpoints) are
 * not cut short by EINTR. SIGHUP (a closed terminal, a dropped ssh session)
 * stops as ^C does, unless ignored from the start (nohup). */
static void catch_stops(struct run *run)
{
    const char *dir = run->run_dir;
    run->replaces = run->force && sg_run_exists(dir);
    if (run->resume)
        set_stop_lines(" before training resumed: nothing in %s was changed (the same command resumes the run)", dir);
    else if (run->replaces)
        set_stop_lines(" before training began: nothing in %s was removed or written (the same command starts "
                       "over)", dir);
    else
        set_stop_lines(" before training began: nothing of the run was written to %s (the same command starts it)",
                       dir);
    cli_catch_stop_signals(on_signal, SA_RESTART);
}

/* Trains to --iters: 0 (also when a stop signal came in the last
 * iteration: the run is complete), 1 when a stop signal ended it earlier
 * with a checkpoint, -1 on error (run->err). */
static int train(struct run *run)
{
    run->space = (space_wait){run->o.iters, run->disk_full_wait, 0};
    if (run->disk_full_wait > 0) sg_trainer_on_no_space(run->t, wait_for_space, &run->space);

    set_again_lines(run->t);
    set_answer_lines();
    phase = AT_TRAINING;
    int rc = sg_trainer_run(run->t, &stops, progress, run->t, &run->err);
    phase = AT_HELD;
    waiting_for_space = 0;
    cli_progress_end();
    run->run_dir = sg_trainer_run_dir(run->t);   /* where it was moved to, if it was */
    cli_note_output(run->run_dir);
    return rc;
}

/* Training failed: the error, with what to do and the command that goes on
 * where that helps. */
static __attribute__((noreturn)) void die_of_training_error(struct run *run)
{
    const sg_err *err = &run->err;
    sg_trainer *t = run->t;
    char advice[192];   /* for want of space (a full disk, a quota, the file size limit: their own words) */
    int full = cli_no_space_advice(err, NULL, advice, sizeof advice)[0] != 0;
    int named = sg_trainer_error_names_checkpoint(t);
    /* a record that could not be read: the same one stops a resume again */
    const char *bad_shard = sg_trainer_error_shard(t);
    if (bad_shard) {
        const char *verb = sg_trainer_last_checkpoint(t) < 0 ? "starts the run again" : "continues from it";
        cli_die("%s (celeb-dump --verify %s lists every damaged record: pack the shard again, then sg-train -o %s "
                "--resume %s)", err->msg, cli_shell_operand(bad_shard), cli_shell_word(run->run_dir), verb);
    }
    if (sg_trainer_last_checkpoint(t) < 0) {
        if (full)
            cli_die("%s%s (%s, then sg-train -o %s --resume starts the run again)", err->msg,
                    named ? "" : "; no checkpoint yet", advice, cli_shell_word(run->run_dir));
        cli_die_err(err);
    }
    if (named || full) {
        char cp[PATH_MAX] = "";
        if (!named) {
            size_t l = (size_t)snprintf(cp, sizeof cp, "; last good checkpoint: ");
            if (l < sizeof cp) sg_ckpt_path(cp + l, sizeof cp - l, run->run_dir, sg_trainer_last_checkpoint(t), NULL);
        }
        cli_no_space_advice(err, "(--keep N keeps fewer checkpoints)", advice, sizeof advice);
        cli_die("%s%s (%s%ssg-train -o %s --resume continues from it)", err->msg, cp, advice, full ? ", then " : "",
                cli_shell_word(run->run_dir));
    }
    cli_die_err(err);
}

/* Stopped by a signal, its checkpoint written: says where and how to go on
 * (main then ends by the signal). */
static void report_stop(const struct run *run)
{
    char cp[PATH_MAX];
    sg_ckpt_path(cp, sizeof cp, run->run_dir, sg_trainer_last_checkpoint(run->t), NULL);
    cli_warn("%s at iteration %lld: checkpoint %s written (sg-train -o %s --resume continues)", stop_verb(stops.stop),
             (long long)sg_trainer_iteration(run->t), cp, cli_shell_word(run->run_dir));
}

/* Stopped by a signal while the run was set up or before its first
 * iteration: what the run directory holds and how to go on. */
static void report_stopped_before_training(const struct run *run)
{
    const char *verb = stop_verb(stops.stop), *dir = run->run_dir, *word = cli_shell_word(run->run_dir);
    int64_t last = sg_trainer_last_checkpoint(run->t);
    char cp[PATH_MAX];
    if (run->resume && last >= 0) {
        sg_ckpt_path(cp, sizeof cp, dir, last, NULL);
        cli_warn("%s before training resumed: the run in %s is at checkpoint %s (sg-train -o %s --resume continues "
                 "from it)", verb, dir, cp, word);
    } else if (run->resume) {
        cli_warn("%s before training resumed: the run in %s has no checkpoint yet (sg-train -o %s --resume starts "
                 "it again)", verb, dir, word);
    } else if (run->replaces) {
        cli_warn("%s before the first iteration: the previous run in %s was removed, and the new one set up with no "
                 "iteration trained (sg-train -o %s --resume starts it)", verb, dir, word);
    } else {
        cli_warn("%s before the first iteration: %s holds the new run, set up with no iteration trained (sg-train -o "
                 "%s --resume starts it)", verb, dir, word);
    }
}

/* A second signal gave up the checkpoint under way: which one, and where a
 * resume continues. */
static void report_abandoned(const struct run *run)
{
    const char *verb = stop_verb(stops.abandon), *word = cli_shell_word(run->run_dir);
    int64_t last = sg_trainer_last_checkpoint(run->t);
    char cp[PATH_MAX], lp[PATH_MAX];
    sg_ckpt_path(cp, sizeof cp, run->run_dir, sg_trainer_iteration(run->t), NULL);
    if (last < 0) {
        cli_warn("%s again: checkpoint %s, the run's first, not written (sg-train -o %s --resume starts the run "
                 "again)", verb, cp, word);
        return;
    }
    sg_ckpt_path(lp, sizeof lp, run->run_dir, last, NULL);
    cli_warn("%s again: checkpoint %s not written; the last one written is %s (sg-train -o %s --resume continues "
             "from it)", verb, cp, lp, word);
}

/* The run completed: what to say after the verb should a stop signal have
 * come too late to stop it (in the last iteration or its checkpoint, with
 * nothing left to train, or while closing), into buf (n bytes). Made before the
 * trainer is freed, told after: a signal while closing counts too. */
static void format_late_stop(const struct run *run, char *buf, size_t n)
{
    char cp[PATH_MAX] = "";
    int64_t last = sg_trainer_last_checkpoint(run->t);
    if (last >= 0) {
        size_t l = (size_t)snprintf(cp, sizeof cp, ": checkpoint ");
        if (l < sizeof cp) sg_ckpt_path(cp + l, sizeof cp - l, run->run_dir, last, NULL);
        l = strlen(cp);
        if (l < sizeof cp) snprintf(cp + l, sizeof cp - l, " written");
    }
    snprintf(buf, n, "while finishing; the run completed at iteration %lld%s (sg-train -o %s --resume --iters N "
             "trains longer)", (long long)sg_trainer_iteration(run->t), cp, cli_shell_word(run->run_dir));
}

/* The lines for a second stop signal while sg-train closes (on_signal,
 * AT_CLOSING). late: a completed run's words (format_late_stop), which the
 * line says in place of the closing one; NULL: the checkpoint a resume goes
 * on from (the report of the stop may already be out). */
static void set_closing_lines(const struct run *run, const char *late)
{
    if (late) {
        set_stop_lines(" %s", late);
        return;
    }
    const char *word = cli_shell_word(run->run_dir);
    int64_t last = sg_trainer_last_checkpoint(run->t);
    if (last < 0) {
        set_stop_lines(" again while finishing: the run has no checkpoint yet (sg-train -o %s --resume starts it)",
                       word);
        return;
    }
    char cp[PATH_MAX];
    sg_ckpt_path(cp, sizeof cp, run->run_dir, last, NULL);
    set_stop_lines(" again while finishing: the run's last checkpoint is %s (sg-train -o %s --resume continues from "
                   "it)", cp, word);
}

int main(int argc, char **argv)
{
    cli_init(argv);
    struct run run = {0};
    parse_options(&run, argc, argv);
    check_operands(&run, argc, argv);
    scale_defaults(&run);
    catch_stops(&run);
    if (run.resume) read_resumed_run(&run);
    blame_shards_on_crash(&run);   /* from the first record read (check_label_spread) */
    check_label_spread(&run);
    open_device(&run);
    open_trainer(&run);
    /* a stop while the run was set up, or since: before its first iteration */
    int before = stops.stop && sg_trainer_iteration(run.t) < run.o.iters;
    int rc = before ? 1 : train(&run);
    int abandoned = rc < 0 && stops.abandon && run.err.sys_errno == ECANCELED;
    if (rc < 0 && !abandoned) die_of_training_error(&run);
    char late[2 * PATH_MAX + 160];
    if (rc == 0) format_late_stop(&run, late, sizeof late);
    /* from here a second stop signal ends sg-train at once, saying so */
    set_closing_lines(&run, rc == 0 ? late : NULL);
    phase = AT_CLOSING;
    if (abandoned) report_abandoned(&run);
    else if (before) report_stopped_before_training(&run);
    else if (rc == 1) report_stop(&run);
    sg_trainer_free(run.t);
    sg_backend_destroy(run.be);
    int sig = abandoned ? stops.abandon : stops.stop;
    /* a ^C too late to stop the run is not lost: it ends sg-train all the same */
    if (rc == 0 && sig) cli_warn("%s %s", stop_verb(sig), late);
    /* by the signal, not exit(128 + sig): a script running sg-train stops
     * on ^C too (its shell goes on after a child that exited, even 130) */
    if (sig) cli_exit_by_signal(sig);
    return 0;
}
