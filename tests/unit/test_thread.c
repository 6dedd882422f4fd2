/* lib/thread.c: threads started with sg_thread_start block the asynchronous
 * signals (a stop signal must reach the main thread, whose waits it is to
 * interrupt) but not those a thread raises itself (faults, abort, its own
 * writes); the caller's mask is as it was. */
#include "check.h"
#include "thread.h"
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static sigset_t seen_mask;

static void *record_mask(void *arg)
{
    (void)arg;
    pthread_sigmask(SIG_BLOCK, NULL, &seen_mask);
    return NULL;
}

static void test_mask(void)
{
    /* The caller blocks SIGUSR1 itself: the thread keeps it, the caller too. */
    sigset_t usr1, before, after;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, &before);
    pthread_sigmask(SIG_BLOCK, NULL, &before);

    pthread_t th;
    int e = sg_thread_start(&th, record_mask, NULL);
    CHECK(e == 0, "sg_thread_start: %s", strerror(e));
    if (e != 0) return;
    pthread_join(th, NULL);
    pthread_sigmask(SIG_BLOCK, NULL, &after);

    static const int blocked[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD, SIGTSTP};
    for (size_t i = 0; i < sizeof blocked / sizeof blocked[0]; i++)
        CHECK(sigismember(&seen_mask, blocked[i]) == 1, "the thread does not block %s", strsignal(blocked[i]));
    static const int open[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT, SIGPIPE, SIGXFSZ,
                               SIGPROF, SIGVTALRM};
    for (size_t i = 0; i < sizeof open / sizeof open[0]; i++)
        CHECK(sigismember(&seen_mask, open[i]) == 0, "the thread blocks %s", strsignal(open[i]));

    int same = 1;
    for (int s = 1; s < NSIG; s++)
        if (sigismember(&before, s) != sigismember(&after, s)) {
            same = 0;
            CHECK(0, "the caller's mask changed for signal %d (%s)", s, strsignal(s));
        }
    CHECK(same, "the caller's mask is unchanged");
    pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
}

static volatile sig_atomic_t handled, handled_off_main;

static void on_stop(int sig)
{
    (void)sig;
    handled++;
    if (syscall(SYS_gettid) != getpid()) handled_off_main++;
}

static int go[2], done[2];

static void read_byte(int fd)
{
    char c;
    while (read(fd, &c, 1) < 0 && errno == EINTR) {}
}

/* Sends the process a stop signal from the worker: the kernel gives a
 * process-directed signal to the sending thread first when that thread does
 * not block it, so the worker would take it here, at once. */
static void *send_from_worker(void *arg)
{
    read_byte(go[0]);
    kill(getpid(), *(int *)arg);
    ssize_t w = write(done[1], "x", 1);
    (void)w;
    return NULL;
}

/* A stop signal sent to the process while the main thread blocks it stays
 * pending (no worker takes it) and is handled on the main thread once that
 * unblocks it. No timing: with every thread blocking it, it can only wait. */
static void test_stop_reaches_main(int sig)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, &old);
    handled = handled_off_main = 0;
    if (pipe(go) != 0 || pipe(done) != 0) { CHECK(0, "pipe: %s", strerror(errno)); return; }

    pthread_t th;
    int e = sg_thread_start(&th, send_from_worker, &sig);   /* started with sig unblocked here */
    CHECK(e == 0, "sg_thread_start: %s", strerror(e));
    if (e == 0) {
        sigset_t one, was, pending;
        sigemptyset(&one);
        sigaddset(&one, sig);
        pthread_sigmask(SIG_BLOCK, &one, &was);
        ssize_t w = write(go[1], "x", 1);
        (void)w;
        read_byte(done[0]);
        sigpending(&pending);
        CHECK(sigismember(&pending, sig) == 1 && handled == 0,
              "%s sent while the main thread blocks it was taken by the worker (pending %d, handled %d)",
              strsignal(sig), sigismember(&pending, sig), (int)handled);
        pthread_sigmask(SIG_SETMASK, &was, NULL);   /* delivers it here, now */
        CHECK(handled == 1 && handled_off_main == 0, "%s: handled %d times, %d off the main thread",
              strsignal(sig), (int)handled, (int)handled_off_main);
        pthread_join(th, NULL);
    }
    close(go[0]); close(go[1]);
    close(done[0]); close(done[1]);
    sigaction(sig, &old, NULL);
}

int main(void)
{
    test_mask();
    test_stop_reaches_main(SIGINT);
    test_stop_reaches_main(SIGTERM);
    test_stop_reaches_main(SIGHUP);
    return check_done();
}
