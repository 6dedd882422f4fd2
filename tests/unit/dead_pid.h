/* For the tests of the cleaners of dead writers' temporary files
 * (test_fileio, test_shard): a process number that was just in use and is
 * no longer, a child that exited. */
#ifndef SG_TEST_DEAD_PID_H
#define SG_TEST_DEAD_PID_H
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static inline long dead_pid(void)
{
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    int status;
    waitpid(pid, &status, 0);
    return (long)pid;
}

#endif
