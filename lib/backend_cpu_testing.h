/* Test-only hooks of lib/backend_cpu.c, declared apart from lib/backend.h so
 * that no tool reaches them (tests/cli/make.bats checks that none includes
 * this); for tests/unit/test_blas_buffers.c. */
#ifndef SG_BACKEND_CPU_TESTING_H
#define SG_BACKEND_CPU_TESTING_H
#include "backend.h"

/* For tests of the CPU backend's threads: fn runs in place of OpenBLAS's
 * cblas_sgemm (order and transposes as CBLAS's enum values), inside the same
 * limit on calls at once; NULL restores OpenBLAS's. Call while no backend
 * works. Returns -1 when OpenBLAS is not loaded. */
typedef void sg_sgemm_fn(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                         int lda, const float *b, int ldb, float beta, float *c, int ldc);
int sg_backend_cpu_test_sgemm(sg_sgemm_fn *fn);

#endif
