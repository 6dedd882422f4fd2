/* cuDNN's loading (kernels/cudnn_api.cu) against the real library, which
 * needs no GPU: every function of the backend's table resolves in the
 * libcudnn.so.N of the headers' major, and cudnnGetVersion() is the headers'
 * version. A missing symbol would otherwise show only on a GPU machine, as
 * every --device cuda failing at start. Also the messages for a library
 * that is missing or is not cuDNN (SG_TEST_CUDNN_LIBRARY), each in a child:
 * the loading happens once per process. Skipped in a build without CUDA or
 * where libcudnn is not installed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "backend.h"
#include "backend_cuda_testing.h"
#include "check.h"

/* The load's message in a child whose SG_TEST_CUDNN_LIBRARY is `lib`;
 * "" when it loaded. */
static void load_in_child(const char *lib, char *msg, size_t size)
{
    int fd[2];
    msg[0] = 0;
    if (pipe(fd)) { snprintf(msg, size, "pipe failed"); return; }
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        setenv("SG_TEST_CUDNN_LIBRARY", lib, 1);
        char library[256];
        int functions;
        long version, header_version;
        sg_err err = {{0}};
        if (sg_backend_cuda_test_cudnn_load(library, sizeof library, &functions, &version, &header_version, &err))
            (void)!write(fd[1], err.msg, strlen(err.msg));
        _exit(0);
    }
    close(fd[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < size && (r = read(fd[0], msg + n, size - 1 - n)) > 0) n += (size_t)r;
    msg[n] = 0;
    close(fd[0]);
    int st;
    waitpid(pid, &st, 0);
}

int main(void)
{
    char library[256], msg[2048];
    int functions;
    long version, header_version;
    sg_err err = {{0}};
#ifndef SG_HAVE_CUDA
    SKIP("this build has no CUDA backend: nothing loads cuDNN");
    return check_done();
#endif
    load_in_child("/nonexistent/libcudnn.so.9", msg, sizeof msg);
    CHECK(strstr(msg, "cannot load cuDNN (/nonexistent/libcudnn.so.9): ") == msg &&
          strstr(msg, "No such file or directory; install cuDNN ") &&
          strstr(msg, ") or use --device cpu") && !strchr(msg, '\n'),
          "a missing library: '%s'", msg);
    /* a library that is there but is not cuDNN: every function named */
    load_in_child("libz.so.1", msg, sizeof msg);
    CHECK(strstr(msg, "cannot use cuDNN (libz.so.1): it has no cudnnGetVersion, cudnnGetErrorString, "
                      "cudnnGetLastErrorString and ") == msg &&
          strstr(msg, " more; install cuDNN ") && !strchr(msg, '\n'), "not cuDNN: '%s'", msg);

    int rc = sg_backend_cuda_test_cudnn_load(library, sizeof library, &functions, &version, &header_version, &err);
    if (rc && strstr(err.msg, "cannot load cuDNN (") == err.msg) {
        SKIP("cuDNN is not installed here: %s", err.msg);
        return check_done();
    }
    CHECK(rc == 0, "cuDNN loads: %s", err.msg);
    CHECK(functions >= 30, "the table holds %d functions", functions);
    CHECK(version == header_version, "%s: cudnnGetVersion() = %ld, the headers' CUDNN_VERSION %ld", library,
          version, header_version);
    CHECK(strstr(library, "libcudnn.so."), "loaded from '%s'", library);
    printf("%s: %d functions bound, version %ld\n", library, functions, version);
    /* loaded once: a second call gives the same */
    long again = 0;
    rc = sg_backend_cuda_test_cudnn_load(library, sizeof library, &functions, &again, &header_version, &err);
    CHECK(rc == 0 && again == version, "a second load: rc %d, version %ld", rc, again);
    return check_done();
}
