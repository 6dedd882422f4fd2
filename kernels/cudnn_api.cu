/* cuDNN, loaded when a CUDA backend starts (kernels/cuda_backend.cuh,
 * SG_CUDNN_FUNCTIONS): a CUDA build of sg-train and sg-sample then starts,
 * and runs --device cpu, where cuDNN is missing (a CPU node, another CUDA
 * major), instead of dying in the dynamic loader before main. The library
 * is found as a linked one would be: LD_LIBRARY_PATH, the tool's RUNPATH
 * ($(CUDA_HOME)/lib64, Makefile), ld.so.cache. One table per process. */
#define SG_CUDNN_NO_REDIRECT
#include "cuda_backend.cuh"
extern "C" {
#include "backend_cuda_testing.h"
}
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sg_cudnn_api sg_cudnn;
static char cudnn_error[768];
static pthread_once_t cudnn_once = PTHREAD_ONCE_INIT;

/* What to install, for the messages: the NVIDIA repositories' package of
 * this cuDNN major for this CUDA major */
static int advice(char *buf, size_t size)
{
    return snprintf(buf, size, "install cuDNN %d (libcudnn%d-cuda-%d) or use --device cpu", CUDNN_MAJOR,
                    CUDNN_MAJOR, CUDART_VERSION / 1000);
}

/* the message for a library that did not load, from dlerror */
static void load_failed(const char *lib, const char *what)
{
    const char *e = dlerror();
    snprintf(cudnn_error, sizeof cudnn_error, "cannot load cuDNN (%s): %s; %s", lib, e ? e : "not found", what);
}

static void cudnn_load(void)
{
    char name[64], what[160];
    snprintf(name, sizeof name, "libcudnn.so.%d", CUDNN_MAJOR);     /* the headers' major version */
    /* the tests' machine without cuDNN (tests/cli/sg-train.bats): the
     * RUNPATH would find the real one whatever the environment */
    const char *test = getenv("SG_TEST_CUDNN_LIBRARY");
    const char *lib = test && *test ? test : name;
    advice(what, sizeof what);
#ifdef SG_EMU_CUDA_RUNTIME_H
    /* The emulation's cuDNN is linked in. Only a library the tests name is
     * loaded: one that does not load stands for a missing cuDNN where there
     * is a "GPU" (tests/cli/sg-train-emu.bats). */
    if (test && *test && !dlopen(lib, RTLD_NOW | RTLD_LOCAL)) {
        load_failed(lib, what);
        return;
    }
#define SG_CUDNN_BIND(name) sg_cudnn.name = &::name;
    SG_CUDNN_FUNCTIONS(SG_CUDNN_BIND)
#undef SG_CUDNN_BIND
#else
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        load_failed(lib, what);
        return;
    }
    sg_cudnn_api t;
    char missing[256] = "";
    int n_missing = 0;
    /* every name resolved; the message names the first three missing */
#define SG_CUDNN_RESOLVE(sym) \
    if (!(*(void **)&t.sym = dlsym(h, #sym)) && ++n_missing <= 3) \
        snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s", n_missing > 1 ? ", " : "", #sym);
    SG_CUDNN_FUNCTIONS(SG_CUDNN_RESOLVE)
#undef SG_CUDNN_RESOLVE
    if (n_missing) {                /* h stays loaded: harmless */
        char more[32] = "";
        if (n_missing > 3) snprintf(more, sizeof more, " and %d more", n_missing - 3);
        snprintf(cudnn_error, sizeof cudnn_error, "cannot use cuDNN (%s): it has no %s%s; %s", lib, missing, more,
                 what);
        return;
    }
    /* libcudnn.so.N is a shim that forwards each call to sub-libraries it
     * loads beside it, and aborts the process where one is missing: load
     * the ones every run needs first (cnn, which needs ops and graph), from
     * beside it, else as the tool finds libraries; the shim's own loading
     * then finds them loaded */
    char sub[4096], base[32], beside[512] = "";
    snprintf(base, sizeof base, "libcudnn_cnn.so.%d", CUDNN_MAJOR);
    Dl_info info;
    const char *slash = dladdr((void *)t.cudnnGetVersion, &info) && info.dli_fname ? strrchr(info.dli_fname, '/')
                                                                                     : NULL;
    void *cnn = NULL;
    if (slash) {
        snprintf(sub, sizeof sub, "%.*s/%s", (int)(slash - info.dli_fname), info.dli_fname, base);
        /* its error, if the other way fails too: the sub-library beside the
         * shim that is there but misses its own (ops, graph) says so */
        if (!(cnn = dlopen(sub, RTLD_NOW | RTLD_LOCAL))) {
            const char *e = dlerror();
            snprintf(beside, sizeof beside, "%s", e ? e : sub);
        }
    }
    if (!cnn && !dlopen(base, RTLD_NOW | RTLD_LOCAL)) {
        const char *e = dlerror();
        snprintf(cudnn_error, sizeof cudnn_error, "cannot load cuDNN (%s): %s; %s", lib,
                 beside[0] ? beside : e ? e : base, what);
        return;
    }
    size_t ver = t.cudnnGetVersion();
    if (ver / 10000 != CUDNN_MAJOR) {
        snprintf(cudnn_error, sizeof cudnn_error, "cuDNN library version %zu (%s) does not match the headers this "
                 "was built with (%d.%d); %s", ver, lib, CUDNN_MAJOR, CUDNN_MINOR, what);
        return;
    }
    sg_cudnn = t;
#endif
}

int sg_cudnn_load(const char **why)
{
    pthread_once(&cudnn_once, cudnn_load);
    *why = cudnn_error;
    return sg_cudnn.cudnnGetVersion ? 0 : -1;
}

extern "C" int sg_backend_cuda_test_cudnn_load(char *library, size_t size, int *functions, long *version,
                                               long *header_version, sg_err *err)
{
    const char *why;
    if (size) library[0] = 0;
    *functions = 0;
#define SG_CUDNN_COUNT(sym) ++*functions;
    SG_CUDNN_FUNCTIONS(SG_CUDNN_COUNT)
#undef SG_CUDNN_COUNT
    *version = 0;
    *header_version = CUDNN_VERSION;
    if (sg_cudnn_load(&why)) return sg_errf(err, "%s", why);
    /* every entry, whatever sg_cudnn_load checked */
    int bound = 0;
#define SG_CUDNN_BOUND(sym) bound += sg_cudnn.sym != NULL;
    SG_CUDNN_FUNCTIONS(SG_CUDNN_BOUND)
#undef SG_CUDNN_BOUND
    if (bound != *functions) return sg_errf(err, "%d of %d cuDNN functions bound", bound, *functions);
    *version = (long)sg_cudnn.cudnnGetVersion();
    /* a descriptor needs no GPU but does need the sub-library behind the
     * shim (libcudnn_graph, found through the shim's own RUNPATH) */
    cudnnBackendDescriptor_t d = NULL;
    cudnnStatus_t st = sg_cudnn.cudnnBackendCreateDescriptor(CUDNN_BACKEND_TENSOR_DESCRIPTOR, &d);
    if (st != CUDNN_STATUS_SUCCESS)
        return sg_errf(err, "cudnnBackendCreateDescriptor: %s", sg_cudnn.cudnnGetErrorString(st));
    sg_cudnn.cudnnBackendDestroyDescriptor(d);
    Dl_info info;
    if (size && dladdr((void *)sg_cudnn.cudnnGetVersion, &info) && info.dli_fname)
        snprintf(library, size, "%s", info.dli_fname);
    return 0;
}
