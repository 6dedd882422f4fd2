/* Test-only hooks of the CUDA backend (kernels/conv_gemm.cu,
 * kernels/cudnn_api.cu; lib/backend_cuda_stub.c in a build without CUDA),
 * declared apart from lib/backend.h so that no tool reaches them
 * (tests/cli/make.bats checks that none includes this); for
 * tests/unit/test_cuda_ops.c and tests/unit/test_cudnn_load.c. */
#ifndef SG_BACKEND_CUDA_TESTING_H
#define SG_BACKEND_CUDA_TESTING_H
#include <stddef.h>
#include "backend.h"

/* For tests of the GEMM path's start (kernels/conv_gemm.cu): sets the
 * switch to max_pixels and opens it as the backend's creation does, asked
 * (SG_CUDA_GEMM_MAX_PIXELS set) or as a default; 0 or -1 with err. *now:
 * the switch afterwards (0 where a default found no cuBLAS). */
int sg_backend_cuda_test_gemm_open(sg_backend *be, long max_pixels, int asked, long *now, sg_err *err);
/* For tests of cuDNN's loading (kernels/cudnn_api.cu), which needs no GPU:
 * loads it as a CUDA backend's creation does; 0, or -1 with err (the
 * backend's message). *functions: how many functions the table holds (all
 * bound on success, and a backend descriptor made and freed, which needs
 * cuDNN's sub-libraries but no GPU); library: the file they came from;
 * *version: its cudnnGetVersion(), *header_version: the headers'
 * CUDNN_VERSION. */
int sg_backend_cuda_test_cudnn_load(char *library, size_t size, int *functions, long *version,
                                    long *header_version, sg_err *err);

#endif
