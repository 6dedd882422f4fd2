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

#endif
