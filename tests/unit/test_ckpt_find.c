/* lib/ckpt_find: sg-sample's --ckpt resolving, and its retry when the checkpoint
 * RUN/latest named is deleted (sg-train --keep) before its file is opened.
 *
 * The race is made deterministic without a hook in the library: RUN/latest is a
 * FIFO, and a thread of this test writes one step per reader: the first reading
 * of latest gets a checkpoint that is not there (deleted), the next one the
 * checkpoint that is. Each open of the FIFO for writing waits for the next
 * reading, so the test also counts how often latest was read. */
#include "check.h"
#include "backend.h"
#include "checkpoint.h"
#include "ckpt_find.h"
#include "model.h"
#include "test_tmpdir.h"
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    const char *fifo;
    const char *const *steps;   /* what each reading of latest gets */
    int n;
    atomic_int opened;          /* readings served */
    atomic_int stop;
} latest_feed;

static void *feed_latest(void *arg)
{
    latest_feed *f = arg;
    /* the reader's close, before the next open for writing: a writer opening
     * while the reader still holds the FIFO would add to what that reader gets */
    int in = inotify_init();
    if (in < 0 || inotify_add_watch(in, f->fifo, IN_CLOSE_NOWRITE) < 0) return NULL;
    for (int k = 0; k < f->n; k++) {
        int fd = open(f->fifo, O_WRONLY);   /* waits for a reader */
        if (fd < 0) break;
        if (atomic_load(&f->stop)) { close(fd); break; }   /* feed_finish's reader */
        atomic_fetch_add(&f->opened, 1);
        ssize_t w = write(fd, f->steps[k], strlen(f->steps[k]));
        (void)w;
        close(fd);
        char ev[sizeof(struct inotify_event) + 256];
        if (read(in, ev, sizeof ev) <= 0) break;   /* the reader closed it */
    }
    close(in);
    return NULL;
}

/* Releases the feeding thread from its wait for another reader, and joins it:
 * while a reader holds the FIFO open, the thread's open for writing returns. */
static void feed_finish(latest_feed *f, pthread_t th)
{
    atomic_store(&f->stop, 1);
    int fd = open(f->fifo, O_RDONLY | O_NONBLOCK);
    pthread_join(th, NULL);
    if (fd >= 0) close(fd);
}

/* Runs sg_ckpt_find_generator on run while latest (a FIFO) gives steps[0..n)
 * one per reading. Returns its result; *reads: how often latest was read. */
static int find_with_feed(const char *run, const char *const *steps, int n, char *path, size_t cap,
                          sg_ckpt_info *info, sg_err *err, int *reads)
{
    char fifo[600];
    snprintf(fifo, sizeof fifo, "%s/latest", run);
    unlink(fifo);
    if (mkfifo(fifo, 0644)) { CHECK(0, "mkfifo %s", fifo); return -2; }
    latest_feed f = {.fifo = fifo, .steps = steps, .n = n};
    pthread_t th;
    pthread_create(&th, NULL, feed_latest, &f);
    int rc = sg_ckpt_find_generator(run, path, cap, info, err);
    *reads = atomic_load(&f.opened);
    feed_finish(&f, th);
    unlink(fifo);
    return rc;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);   /* the feeder may write to a reader that left */
    if (test_tmpdir_make("test_ckpt_find")) return 1;
    sg_err err = {{0}};
    const char *run = test_tmpdir;
    char ckdir[600];
    snprintf(ckdir, sizeof ckdir, "%s/ckpt", run);
    mkdir(ckdir, 0755);

    /* checkpoint 2's generator: a real file (its metadata is read) */
    sg_backend *be = sg_backend_cpu_create(1, &err);
    CHECK(be != NULL, "cpu backend: %s", err.msg);
    if (!be) return check_done();
    sg_model_config cfg = {.image_size = 8, .n_datasets = 1, .label_dim = {2}, .g_conv_dim = 2, .g_repeat = 1,
                           .d_conv_dim = 2, .d_repeat = 2, .batch = 1};
    sg_model *g = NULL;
    CHECK(sg_model_create_generator(&g, &cfg, be, 0, &err) == 0, "generator: %s", err.msg);
    if (!g) return check_done();
    const char *names[2] = {"Bangs", "Male"};
    sg_ckpt_info info = {0};
    info.model = cfg;
    info.n_labels = 2;
    info.label_names = (char **)names;
    snprintf(info.dataset_names[0], SG_CKPT_NAME_MAX, "celebA");
    char g2[700];
    sg_ckpt_path(g2, sizeof g2, run, 2, "G");
    CHECK(sg_ckpt_write_net(g, SG_NET_G, g2, &info, 2, &err) == 0, "write %s: %s", g2, err.msg);

    char path[1024], want_missing[700];
    sg_ckpt_info got;
    int reads = 0;

    /* latest named checkpoint 1, deleted since; read again it names 2 */
    const char *moved_on[] = {"000001\n", "000002\n"};
    int rc = find_with_feed(run, moved_on, 2, path, sizeof path, &got, &err, &reads);
    CHECK(rc == 0 && !strcmp(path, g2) && got.step == 2 && reads == 2,
          "latest moved on: rc %d path %s step %lld reads %d (want 0, %s, 2, 2): %s", rc, path,
          rc == 0 ? (long long)got.step : -1LL, reads, g2, rc ? err.msg : "");
    if (rc == 0) sg_ckpt_info_free(&got);

    /* latest names a missing checkpoint, and again the same: the run lacks it */
    const char *stuck[] = {"000001\n", "000001\n", "000001\n", "000001\n", "000001\n", "000001\n"};
    sg_ckpt_path(want_missing, sizeof want_missing, run, 1, "G");
    char want_msg[2200];
    snprintf(want_msg, sizeof want_msg, "%s: %s/latest names %s, which is missing", run, run, want_missing);
    err.msg[0] = 0;
    rc = find_with_feed(run, stuck, 6, path, sizeof path, &got, &err, &reads);
    CHECK(rc == -1 && !strcmp(err.msg, want_msg) && reads == 2,
          "stuck: rc %d reads %d (want 2) message '%s' (want '%s')", rc, reads, err.msg, want_msg);

    /* a run whose latest keeps moving onto deleted checkpoints: SG_CKPT_FIND_TRIES readings, then
     * the message names the last one */
    const char *racing[] = {"000003\n", "000004\n", "000005\n", "000006\n", "000007\n", "000008\n", "000009\n"};
    sg_ckpt_path(want_missing, sizeof want_missing, run, SG_CKPT_FIND_TRIES + 2, "G");
    snprintf(want_msg, sizeof want_msg, "%s: %s/latest names %s, which is missing", run, run, want_missing);
    err.msg[0] = 0;
    rc = find_with_feed(run, racing, 7, path, sizeof path, &got, &err, &reads);
    CHECK(rc == -1 && !strcmp(err.msg, want_msg) && reads == SG_CKPT_FIND_TRIES,
          "racing: rc %d reads %d (want %d) message '%s' (want '%s')", rc, reads, SG_CKPT_FIND_TRIES, err.msg,
          want_msg);

    /* a plain latest file naming a missing checkpoint: the same message */
    char lp[700];
    snprintf(lp, sizeof lp, "%s/latest", run);
    FILE *lf = fopen(lp, "w");
    fputs("000001\n", lf);
    fclose(lf);
    sg_ckpt_path(want_missing, sizeof want_missing, run, 1, "G");
    snprintf(want_msg, sizeof want_msg, "%s: %s/latest names %s, which is missing", run, run, want_missing);
    err.msg[0] = 0;
    CHECK(sg_ckpt_find_generator(run, path, sizeof path, &got, &err) == -1 && !strcmp(err.msg, want_msg),
          "plain latest: '%s'", err.msg);
    /* ... and naming checkpoint 2: found */
    lf = fopen(lp, "w");
    fputs("000002\n", lf);
    fclose(lf);
    CHECK(sg_ckpt_find_generator(run, path, sizeof path, &got, &err) == 0 && !strcmp(path, g2) && got.step == 2,
          "plain latest 2: %s", err.msg);
    sg_ckpt_info_free(&got);

    /* a prefix, a file, nothing */
    char prefix[700];
    sg_ckpt_path(prefix, sizeof prefix, run, 2, NULL);
    CHECK(sg_ckpt_find_generator(prefix, path, sizeof path, &got, &err) == 0 && !strcmp(path, g2), "prefix: %s",
          err.msg);
    sg_ckpt_info_free(&got);
    CHECK(sg_ckpt_find_generator(g2, path, sizeof path, &got, &err) == 0 && !strcmp(path, g2), "file: %s", err.msg);
    sg_ckpt_info_free(&got);
    CHECK(sg_ckpt_find_generator(ckdir, path, sizeof path, &got, &err) == -1 && strstr(err.msg, "no checkpoint found"),
          "a directory without latest: '%s'", err.msg);
    sg_ckpt_path(prefix, sizeof prefix, run, 9, NULL);
    CHECK(sg_ckpt_find_generator(prefix, path, sizeof path, &got, &err) == -1 && strstr(err.msg, "no checkpoint found"),
          "no such prefix: '%s'", err.msg);
    CHECK(sg_ckpt_arg_is_run(run) && !sg_ckpt_arg_is_run(g2), "arg_is_run");

    sg_model_free(g);
    sg_backend_destroy(be);
    test_tmpdir_remove();
    return check_done();
}
