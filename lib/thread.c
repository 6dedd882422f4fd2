#define _GNU_SOURCE   /* sched_getaffinity, CPU_COUNT_S */
#include "thread.h"
#include "cgroup.h"
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sg_thread_start(pthread_t *thread, void *(*start)(void *), void *arg)
{
    /* Raised by the thread's own fault, abort or write: blocked, a fault
     * would kill the process without its crash handler's message, and a
     * write to a closed pipe would not end the process as it does on the
     * main thread. SIGPROF and SIGVTALRM too: a profiler's CPU-time timer
     * (gprof, gperftools) samples the thread that used the time. */
    static const int own[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT, SIGPIPE, SIGXFSZ,
                              SIGPROF, SIGVTALRM};
    sigset_t block, was;
    sigfillset(&block);
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) sigdelset(&block, own[i]);
    /* The new thread inherits the mask in force at pthread_create. */
    int e = pthread_sigmask(SIG_BLOCK, &block, &was);
    if (e != 0) return e;
    e = pthread_create(thread, NULL, start, arg);
    pthread_sigmask(SIG_SETMASK, &was, NULL);
    return e;
}

int sg_cpu_quota_parse(const char *text)
{
    long long quota, period;
    char *end;
    if (!text) return 0;
    errno = 0;
    quota = strtoll(text, &end, 10);
    if (end == text || errno) return 0;   /* "max": no quota */
    const char *p = end;
    period = strtoll(p, &end, 10);
    if (end == p || errno || quota <= 0 || period <= 0) return 0;
    long long n = quota / period + (quota % period != 0);
    return n > INT_MAX ? INT_MAX : (int)n;
}

/* The quota of dir (a v2 cgroup, or with v1 a v1 cpu one) into *limit (an
 * int) when it is smaller than what is there. */
static void cpu_quota_visit(const char *dir, int v1, void *arg)
{
    int *limit = arg;
    char path[PATH_MAX + 32], text[128], period[64];
    int n = 0;
    if (!v1) {
        snprintf(path, sizeof path, "%s/cpu.max", dir);
        if (sg_cgroup_read(path, text, sizeof text) == 0) n = sg_cpu_quota_parse(text);
    } else {
        snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir);
        size_t len;
        if (sg_cgroup_read(path, text, sizeof text) == 0 && (len = strcspn(text, "\n")) < sizeof text - 1) {
            snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir);
            if (sg_cgroup_read(path, period, sizeof period) == 0) {
                snprintf(text + len, sizeof text - len, " %s", period);
                n = sg_cpu_quota_parse(text);
            }
        }
    }
    if (n > 0 && (*limit == 0 || n < *limit)) *limit = n;
}

int sg_cgroup_cpu_limit(const char *root, const char *proc_cgroup)
{
    int limit = 0;
    sg_cgroup_walk(root, proc_cgroup, "cpu", cpu_quota_visit, &limit);
    return limit;
}

int sg_cpus_usable(void)
{
    int n = 0, saved_errno = errno;
    /* A mask for more CPUs than CPU_SETSIZE needs a larger set: EINVAL
     * until it fits. */
    for (int cpus = 1024; cpus <= (1 << 20) && n == 0; cpus *= 2) {
        cpu_set_t *set = CPU_ALLOC(cpus);
        if (!set) break;
        size_t size = CPU_ALLOC_SIZE(cpus);
        if (sched_getaffinity(0, size, set) == 0) n = CPU_COUNT_S(size, set);
        int again = errno == EINVAL;
        CPU_FREE(set);
        if (n == 0 && !again) break;
    }
    if (n <= 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        n = online > 0 ? (online > INT_MAX ? INT_MAX : (int)online) : 1;
    }
    char text[8192];
    if (sg_cgroup_read("/proc/self/cgroup", text, sizeof text) == 0) {
        int limit = sg_cgroup_cpu_limit("/sys/fs/cgroup", text);
        if (limit > 0 && limit < n) n = limit;
    }
    errno = saved_errno;
    return n;
}
