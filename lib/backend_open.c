/* Backend selection shared by the tools' --device/--precision options. */
#include "backend.h"
#include "env.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sg_precision_valid(const char *name)
{
    return !strcmp(name, "tf32") || !strcmp(name, "fp32") || !strcmp(name, "bf16");
}

int sg_device_parse(const char *name, int *cuda_index)
{
    if (cuda_index) *cuda_index = 0;
    if (!strcmp(name, "cpu")) return SG_DEVICE_CPU;
    if (!strcmp(name, "auto")) return SG_DEVICE_AUTO;
    if (strncmp(name, "cuda", 4)) return -1;
    if (!name[4]) return SG_DEVICE_CUDA;
    /* "cuda:N": 1 to 3 digits, nothing else */
    const char *d = name + 5;
    size_t len = strspn(d, "0123456789");
    if (name[4] != ':' || len < 1 || len > 3 || d[len]) return -1;
    if (cuda_index) *cuda_index = atoi(d);
    return SG_DEVICE_CUDA;
}

int sg_cuda_switches_read(sg_cuda_switches *s, int search_default, sg_err *err)
{
    static const char *const off_on[] = {"0", "1"};
    static const char *const searches[] = {"legacy", "find", "heuristic", "timed"};
    static const char *const pads[] = {"0", "4", "8"};
    static const char *const handles[] = {"2", "1"};
    static const char *const layouts[] = {"nhwc", "nchw"};
    memset(s, 0, sizeof *s);
    long mib;
    if (sg_env_long("SG_CUDNN_WORKSPACE_MIB", 1, 65536, 256, &mib, err)) return -1;
    s->workspace_limit = (size_t)mib << 20;
    /* 1048576: a 1024x1024 output, more than any convolution here needs */
    if (sg_env_long("SG_CUDA_GEMM_MAX_PIXELS", 0, 1048576, SG_CUDA_GEMM_DEFAULT_PIXELS, &s->gemm_max_pixels, err))
        return -1;
    const char *gemm = getenv("SG_CUDA_GEMM_MAX_PIXELS");
    s->gemm_asked = gemm && *gemm;   /* set, as sg_env_long reads it: not the default */
    int search = sg_env_choice("SG_CUDNN_SEARCH", searches, 4, search_default, err);
    int find = sg_env_choice("SG_CUDNN_FIND", off_on, 2, 0, err);
    int pad3 = sg_env_choice("SG_CUDA_PAD3", pads, 3, 0, err);
    int handle = sg_env_choice("SG_CUDA_LANE_HANDLES", handles, 2, 0, err);
    int rtc = sg_env_choice("SG_CUDNN_RTC", off_on, 2, 0, err);
    int graphs = sg_env_choice("SG_CUDA_GRAPHS", off_on, 2, 1, err);
    int layout = sg_env_choice("SG_CUDA_LAYOUT", layouts, 2, 0, err);
    int lane_priority = sg_env_choice("SG_CUDA_LANE_PRIORITY", off_on, 2, 1, err);
    int in_fused = sg_env_choice("SG_CUDA_IN_FUSED", off_on, 2, 1, err);
    int nondet = sg_env_choice("SG_CUDNN_NONDET", off_on, 2, 0, err);
    if (search < 0 || find < 0 || pad3 < 0 || handle < 0 || rtc < 0 || graphs < 0 || layout < 0 ||
        lane_priority < 0 || in_fused < 0 || nondet < 0)
        return -1;
    s->search = find ? SG_CUDNN_SEARCH_FIND : search;
    s->pad3 = pad3 ? atoi(pads[pad3]) : 0;
    s->shared_cudnn = handle == 1;
    s->allow_rtc = rtc;
    s->graphs = graphs;
    s->nhwc = layout == 0;
    s->lane_priority = lane_priority;
    s->in_fused = in_fused;
    s->allow_nondet = nondet;
    return 0;
}

sg_backend *sg_backend_cuda_create_precision(int device, const char *precision, sg_err *err)
{
    sg_cuda_switches switches;
    if (sg_cuda_switches_read(&switches, SG_CUDNN_SEARCH_DEFAULT, err)) return NULL;
    return sg_backend_cuda_create_switches(device, precision, &switches, err);
}

sg_backend *sg_backend_open(const char *device, const char *precision, int threads, int search_default,
                            char *fallback_note, size_t note_len, sg_err *err)
{
    if (fallback_note && note_len) fallback_note[0] = 0;
    if (precision && !sg_precision_valid(precision)) {
        sg_errf(err, "--precision: expected tf32, fp32 or bf16, not '%s'", sg_quote_str(precision).s);
        return NULL;
    }
    sg_cuda_switches switches;
    if (sg_cuda_switches_read(&switches, search_default, err)) return NULL;
    int index, kind = sg_device_parse(device, &index);
    if (kind == SG_DEVICE_CPU) return sg_backend_cpu_create(threads, err);
    if (kind < 0) {
        sg_errf(err, "--device: expected cpu, cuda, cuda:N or auto, not '%s'", sg_quote_str(device).s);
        return NULL;
    }
    /* the CPU fallback's library, loaded before the CUDA runtime starts its
     * threads (sg_backend_cpu_prepare); a failure here is reported by
     * sg_backend_cpu_create if the fallback is needed */
    if (kind == SG_DEVICE_AUTO) sg_backend_cpu_prepare(NULL);
    sg_err cuda_err = {{0}};
    sg_backend *be = sg_backend_cuda_create_switches(index, precision, &switches, &cuda_err);
    if (be) return be;
    /* auto falls back for a GPU that is missing or unusable, not for a
     * CUDA switch the user set that cannot be honoured (ELIBACC: cuBLAS for
     * SG_CUDA_GEMM_MAX_PIXELS): that stays the error it is with cuda */
    if (kind == SG_DEVICE_CUDA || cuda_err.sys_errno == ELIBACC) {
        if (err) *err = cuda_err;
        sg_err_prefix(err, "--device %s", device);
        return NULL;
    }
    if (fallback_note && note_len) snprintf(fallback_note, note_len, "%s", cuda_err.msg);
    return sg_backend_cpu_create(threads, err);
}
