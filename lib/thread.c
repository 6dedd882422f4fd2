#include "thread.h"
#include <signal.h>

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
