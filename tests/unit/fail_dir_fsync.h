/* A directory's fsync failing on demand, for the tests of "written, but
 * unsynced" (lib/fileio.h): while fail_fsync_of names a directory, fsync of a
 * descriptor of that directory fails with EIO, as a failing disk reports it;
 * every other fsync is the system's. Defined in the test program, this fsync
 * takes the place of the C library's for lib/ too (linked statically).
 * Include it in one test file only. */
#ifndef SG_FAIL_DIR_FSYNC_H
#define SG_FAIL_DIR_FSYNC_H
#include <errno.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *fail_fsync_of;
static int fsyncs_failed;

int fsync(int fd)
{
    struct stat st, dir;
    if (fail_fsync_of && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && stat(fail_fsync_of, &dir) == 0 &&
        st.st_dev == dir.st_dev && st.st_ino == dir.st_ino) {
        fsyncs_failed++;
        errno = EIO;
        return -1;
    }
    return (int)syscall(SYS_fsync, fd);
}

#endif
