/* The CUDA backend's entry points in a build without nvcc/cuDNN: every tool
 * links, and asking for --device cuda gives one clear error line. */
#include "backend.h"
#include "backend_cuda_testing.h"

#ifndef SG_HAVE_CUDA
/* The Makefile says why: CUDA=0 on purpose, or what it did not find. */
#ifndef SG_NO_CUDA_WHY
#define SG_NO_CUDA_WHY "nvcc/cuDNN were not found at build time"
#endif

sg_backend *sg_backend_cuda_create_switches(int device, const char *precision, const sg_cuda_switches *sw,
                                            sg_err *err)
{
    (void)device; (void)precision; (void)sw;
    sg_errf(err, "this build has no CUDA backend (%s)", SG_NO_CUDA_WHY);
    return NULL;
}

const char *sg_backend_cuda_device_name(sg_backend *be)
{
    (void)be;
    return "none";
}

const char *sg_backend_cuda_precision(sg_backend *be)
{
    (void)be;
    return "";
}

int sg_backend_cuda_allows_nondet(sg_backend *be)
{
    (void)be;
    return 0;
}

const char *sg_backend_cuda_graph_note(sg_backend *be, char *buf, size_t size)
{
    (void)be;
    if (size) buf[0] = 0;
    return buf;
}

const char *sg_backend_cuda_plan_report(sg_backend *be, char *buf, size_t size)
{
    (void)be;
    if (size) buf[0] = 0;
    return buf;
}

int sg_backend_cuda_op_times_start(sg_backend *be, sg_err *err)
{
    (void)be;
    return sg_errf(err, "op timing needs the CUDA backend, and this build has none (%s)", SG_NO_CUDA_WHY);
}

void sg_backend_cuda_op_times_stop(sg_backend *be) { (void)be; }

void sg_backend_cuda_op_times_reset(sg_backend *be) { (void)be; }

int sg_backend_cuda_op_times_report(sg_backend *be, int iterations, double *sum_ms, char *buf,
                                    size_t size, sg_err *err)
{
    (void)be; (void)iterations;
    if (sum_ms) *sum_ms = 0;
    if (size) buf[0] = 0;
    return sg_errf(err, "op timing needs the CUDA backend, and this build has none");
}

int sg_backend_cuda_op_times_hold(sg_backend *be, double ms, sg_err *err)
{
    (void)be; (void)ms;
    return sg_errf(err, "op timing needs the CUDA backend, and this build has none");
}

int sg_backend_cuda_op_times_held(sg_backend *be) { (void)be; return 0; }

int sg_backend_cuda_engines_save(sg_backend *be, const char *path, sg_err *err)
{
    (void)be; (void)path;
    return sg_errf(err, "this build has no CUDA backend");
}

int sg_backend_cuda_engines_load(sg_backend *be, const char *path, char *note, size_t note_size,
                                 sg_err *err)
{
    (void)be; (void)path; (void)note; (void)note_size;
    return sg_errf(err, "this build has no CUDA backend");
}

int sg_backend_cuda_engine_choices(sg_backend *be, int *used_from_file, int *rejected)
{
    (void)be;
    if (used_from_file) *used_from_file = 0;
    if (rejected) *rejected = 0;
    return 0;
}

int sg_backend_cuda_test_gemm_open(sg_backend *be, long max_pixels, int asked, long *now, sg_err *err)
{
    (void)be; (void)max_pixels; (void)asked;
    *now = 0;
    return sg_errf(err, "this build has no CUDA backend");
}

int sg_backend_cuda_test_cudnn_load(char *library, size_t size, int *functions, long *version,
                                    long *header_version, sg_err *err)
{
    if (size) library[0] = 0;
    *functions = 0;
    *version = *header_version = 0;
    return sg_errf(err, "this build has no CUDA backend");
}
#else
/* ISO C forbids an empty translation unit. */
typedef int sg_backend_cuda_stub_unused;
#endif
