/* The CPU emulation of the CUDA runtime and cuDNN that the CUDA backend's own
 * code (the .cu files of kernels/) is built against for build/tests/test_cuda_ops_emu:
 * every kernel of the project runs on the host (threads of a block as fibers,
 * barriers and warp shuffles honoured), cuDNN's convolutions are plain loops.
 * It checks the CUDA backend's logic and kernels where there is no GPU; it
 * says nothing about speed, cuDNN's real engines or the GPU's memory model.
 *
 * Shared by tests/emu/cudart_emu.cc (runtime, streams, graph capture, kernel
 * launches), tests/emu/cudnn_emu.cc (cuDNN) and tests/emu/cublas_emu.cc (cuBLAS). */
#ifndef SG_EMU_H
#define SG_EMU_H
#include <cuda_runtime_api.h>
#include <stdint.h>
#include <string.h>
#include <functional>

/* float -> TF32 (1 + 8 + 10 bits), round to nearest even; inf and NaN kept:
 * what tensor cores read of a float (cuDNN's and cuBLAS's emulations) */
static inline float sg_emu_tf32_round(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7f800000u) == 0x7f800000u) return f;
    u += 0xfffu + ((u >> 13) & 1u);
    u &= 0xffffe000u;
    memcpy(&f, &u, 4);
    return f;
}

/* Runs fn in the order of stream s: at once, or, while s is being captured,
 * appended to the graph being recorded (replayed by cudaGraphLaunch). What fn
 * reads of the host (pointers, descriptor values) must be copied into it when
 * it is submitted, as a real launch copies its arguments. Returns the error a
 * real stream op would give (e.g. a capture already invalidated). */
cudaError_t sg_emu_submit(cudaStream_t s, std::function<void()> fn);

/* Counts one execution of `what` (a kernel's or a cuDNN call's name; a graph
 * replay counts each node again). With SG_EMU_LAUNCH_COUNTS=1 the counts go
 * to stderr at exit, most frequent first: what a step launches, per kind. */
void sg_emu_count(const char *what);

/* 1 while s is being captured into a graph (begun on s, or joined through
 * cudaStreamWaitEvent on an event recorded in the capture). */
int sg_emu_capturing(cudaStream_t s);

/* How cudaGraphLaunch replays a graph whose capture had more than one stream:
 * 0, in recording order; 1, the streams' branches interleaved, one op per
 * branch in turn (first branch first), waiting only where events order them;
 * 2, the same with the last branch first. Two branches sharing a buffer
 * without an event between them then give other results than in recording
 * order. -1 (the default): the mode SG_EMU_GRAPH_INTERLEAVE gives (1 or
 * forward, 2 or reverse; otherwise 0), read at each replay. */
void sg_emu_set_graph_interleave(int mode);

/* Whether p points into memory from cudaMalloc (device memory), with at
 * least `bytes` bytes from p to the end of its allocation. cuDNN's emulation
 * uses it to reject host pointers and overruns the way a GPU would fault. */
int sg_emu_device_range(const void *p, size_t bytes);

#endif
