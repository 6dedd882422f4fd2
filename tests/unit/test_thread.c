/* lib/thread.c: threads started with sg_thread_start block the asynchronous
 * signals (a stop signal must reach the main thread, whose waits it is to
 * interrupt) but not those a thread raises itself (faults, abort, its own
 * writes); the caller's mask is as it was. The default thread count is the
 * CPUs the process may use: its affinity, capped by a cgroup CPU quota. */
#define _GNU_SOURCE   /* sched_setaffinity */
#include "check.h"
#include "test_tmpdir.h"
#include "thread.h"
#include <sched.h>
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

static void test_quota_parse(void)
{
    static const struct { const char *text; int want; } cases[] = {
        {"max 100000\n", 0},        /* v2: no quota */
        {"150000 100000\n", 2},     /* 1.5 CPUs: 2 threads */
        {"200000 100000\n", 2},
        {"100000 100000", 1},
        {"50000 100000\n", 1},      /* half a CPU: still 1 */
        {"1 100000", 1},
        {"-1 100000\n", 0},         /* v1's cfs_quota_us -1: no quota */
        {"1600000 100000\n", 16},
        {"", 0}, {"max", 0}, {"100000", 0}, {"100000 0", 0}, {"100000 max", 0}, {"x 100000", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = sg_cpu_quota_parse(cases[i].text);
        CHECK(got == cases[i].want, "sg_cpu_quota_parse(\"%s\") = %d, want %d", cases[i].text, got, cases[i].want);
    }
    CHECK(sg_cpu_quota_parse(NULL) == 0, "sg_cpu_quota_parse(NULL)");
}

static void put(const char *rel, const char *text)
{
    CHECK(test_tmp_put(rel, text) == 0, "cannot write %s", rel);
}

/* A cgroup tree under a temporary root: the limit is the smallest quota of
 * the process's cgroup and its ancestors, v2 and v1 alike. */
static void test_cgroup_limit(void)
{
    if (test_tmpdir_make("test_thread") != 0) { CHECK(0, "no temporary directory"); return; }
    const char *root = test_tmpdir;
    CHECK(sg_cgroup_cpu_limit(root, "0::/\n") == 0, "no cpu.max: no limit");
    CHECK(sg_cgroup_cpu_limit(root, "") == 0, "empty /proc/self/cgroup: no limit");

    /* v2: a container's namespace shows its cgroup as "/", the mount root */
    put("cpu.max", "300000 100000\n");
    CHECK(sg_cgroup_cpu_limit(root, "0::/\n") == 3, "v2 root: %d", sg_cgroup_cpu_limit(root, "0::/\n"));
    /* v2 on the host: the process's own cgroup, then its parents */
    put("user.slice/job.scope/cpu.max", "max 100000\n");
    put("user.slice/cpu.max", "150000 100000\n");
    CHECK(sg_cgroup_cpu_limit(root, "0::/user.slice/job.scope\n") == 2, "v2 parent's quota: %d",
          sg_cgroup_cpu_limit(root, "0::/user.slice/job.scope\n"));
    put("user.slice/job.scope/cpu.max", "100000 100000\n");
    CHECK(sg_cgroup_cpu_limit(root, "0::/user.slice/job.scope\n") == 1, "v2 own quota: %d",
          sg_cgroup_cpu_limit(root, "0::/user.slice/job.scope\n"));
    /* a cgroup path not mounted here (a container without its namespace): the
     * ancestors that are */
    CHECK(sg_cgroup_cpu_limit(root, "0::/docker/abc\n") == 3, "v2 missing path: %d",
          sg_cgroup_cpu_limit(root, "0::/docker/abc\n"));

    /* v1: the cpu controller's hierarchy at root/cpu; other controllers' lines
     * are not read */
    put("cpu/docker/c1/cpu.cfs_quota_us", "250000\n");
    put("cpu/docker/c1/cpu.cfs_period_us", "100000\n");
    put("cpu/cpu.cfs_quota_us", "-1\n");
    put("cpu/cpu.cfs_period_us", "100000\n");
    put("memory/docker/c1/cpu.max", "100000 100000\n");
    const char *v1 = "12:memory:/docker/c1\n4:cpu,cpuacct:/docker/c1\n1:name=systemd:/docker/c1\n";
    CHECK(sg_cgroup_cpu_limit(root, v1) == 3, "v1 quota: %d", sg_cgroup_cpu_limit(root, v1));
    CHECK(sg_cgroup_cpu_limit(root, "4:cpuacct,cpu:/docker/c1\n") == 3, "v1, cpu listed second");
    CHECK(sg_cgroup_cpu_limit(root, "4:cpuacct:/docker/c1\n") == 0, "v1 cpuacct alone is not cpu");
    CHECK(sg_cgroup_cpu_limit(root, "4:cpu,cpuacct:/\n") == 0, "v1 root's -1: no limit");
    /* both (a hybrid): the smaller */
    CHECK(sg_cgroup_cpu_limit(root, "4:cpu,cpuacct:/docker/c1\n0::/user.slice/job.scope") == 1,
          "v1 and v2: the smaller");
    test_tmpdir_remove();
}

/* Pinned to one CPU (as taskset -c 0 does), the process may use 1. */
static void test_cpus_usable(void)
{
    int all = sg_cpus_usable();
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    CHECK(all >= 1 && (online <= 0 || all <= online), "sg_cpus_usable() = %d of %ld online", all, online);
    cpu_set_t was, one;
    if (sched_getaffinity(0, sizeof was, &was) != 0) { SKIP("sched_getaffinity: %s", strerror(errno)); return; }
    int first = -1;
    for (int c = 0; c < CPU_SETSIZE && first < 0; c++)
        if (CPU_ISSET(c, &was)) first = c;
    CHECK(all <= CPU_COUNT(&was), "sg_cpus_usable() = %d, more than the %d of the affinity mask", all, CPU_COUNT(&was));
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0) { SKIP("sched_setaffinity: %s", strerror(errno)); return; }
    int pinned = sg_cpus_usable();
    sched_setaffinity(0, sizeof was, &was);
    CHECK(pinned == 1, "pinned to CPU %d: sg_cpus_usable() = %d, want 1", first, pinned);
}

int main(void)
{
    test_quota_parse();
    test_cgroup_limit();
    test_cpus_usable();
    test_mask();
    test_stop_reaches_main(SIGINT);
    test_stop_reaches_main(SIGTERM);
    test_stop_reaches_main(SIGHUP);
    return check_done();
}
