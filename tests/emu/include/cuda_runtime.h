/* Stands in for CUDA's <cuda_runtime.h> when kernels/*.cu are built for the
 * CPU emulation (tests/emu/emu.h): the real runtime API declarations (their
 * definitions are tests/emu/cudart_emu.cc), the vector types, and the device
 * side of CUDA that the project's kernels use (tests/emu/cuda_emu.h). */
#ifndef SG_EMU_CUDA_RUNTIME_H
#define SG_EMU_CUDA_RUNTIME_H
/* One instance per block: the blocks of a grid run one after another on one
 * host thread, so a function-static variable is the block's shared memory
 * (host_defines.h keeps a __shared__ that is already defined). */
#define __shared__ static
#define __launch_bounds__(...)
#include <cuda_runtime_api.h>
#include <vector_functions.h>
#include "../cuda_emu.h"

/* the C++ conveniences of the real header that the backend calls */
template <class T> static inline cudaError_t cudaMalloc(T **p, size_t bytes)
{
    return cudaMalloc((void **)p, bytes);
}
template <class T> static inline cudaError_t cudaMallocHost(T **p, size_t bytes)
{
    return cudaMallocHost((void **)p, bytes);
}
#endif
