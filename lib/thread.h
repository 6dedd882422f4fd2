/* Starting the threads of lib/ and the tools. A process-directed signal goes
 * to any thread not blocking it: a stop signal (SIGINT, SIGTERM, SIGHUP) taken
 * by a worker would leave the main thread's waits (a read, a disk-full wait in
 * one-second slices) uninterrupted, the stop noticed late, and give the
 * worker's own calls an EINTR they do not expect. So every thread starts with
 * the asynchronous signals blocked, and they all reach the main thread. */
#ifndef SG_THREAD_H
#define SG_THREAD_H
#include <pthread.h>

/* pthread_create(thread, NULL, start, arg) with every signal blocked in the
 * new thread but those raised for the thread that caused them (SIGSEGV,
 * SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT; SIGPIPE and SIGXFSZ of
 * its own writes; SIGPROF and SIGVTALRM of its CPU time), which must still
 * reach their handlers. The caller's mask
 * is unchanged on return. 0, or pthread_create's error number (errno is left
 * alone). */
int sg_thread_start(pthread_t *thread, void *(*start)(void *), void *arg);

/* The CPUs this process may use, the default thread count: those of the
 * calling thread's affinity mask (taskset, a SLURM or container cpuset),
 * capped by a cgroup CPU quota (docker --cpus) when one is set; the online
 * CPUs where the mask cannot be read. At least 1. */
int sg_cpus_usable(void);

/* The CPUs a quota allows, ceil(quota / period) and at least 1, from text
 * "QUOTA PERIOD" as in cgroup v2's cpu.max (v1's cpu.cfs_quota_us and
 * cpu.cfs_period_us joined by a space); 0 when it sets none ("max", v1's -1)
 * or is not that. */
int sg_cpu_quota_parse(const char *text);

/* The smallest CPU quota set on a process's cgroup or its ancestors (a
 * parent's quota binds its children), for the cgroup file systems mounted at
 * root (v2 there, v1's cpu controller at root/cpu) and proc_cgroup, the text
 * of /proc/self/cgroup; 0 when none is set. */
int sg_cgroup_cpu_limit(const char *root, const char *proc_cgroup);

#endif
