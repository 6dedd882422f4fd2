/* Backend selection shared by the tools' --device/--precision options. */
#include "backend.h"
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

sg_backend *sg_backend_open(const char *device, const char *precision, int threads,
                            char *fallback_note, size_t note_len, sg_err *err)
{
    if (fallback_note && note_len) fallback_note[0] = 0;
    if (precision && !sg_precision_valid(precision)) {
        sg_errf(err, "--precision: '%s' is not fp32, tf32 or bf16", sg_quote_str(precision).s);
        return NULL;
    }
    int index, kind = sg_device_parse(device, &index);
    if (kind == SG_DEVICE_CPU) return sg_backend_cpu_create(threads, err);
    if (kind < 0) {
        sg_errf(err, "--device: '%s' is not cpu, cuda, cuda:N or auto", sg_quote_str(device).s);
        return NULL;
    }
    sg_err cuda_err = {{0}};
    sg_backend *be = sg_backend_cuda_create_precision(index, precision, &cuda_err);
    if (be) return be;
    if (kind == SG_DEVICE_CUDA) {
        sg_errf(err, "--device %s: %s", device, cuda_err.msg);
        return NULL;
    }
    if (fallback_note && note_len) snprintf(fallback_note, note_len, "%s", cuda_err.msg);
    return sg_backend_cpu_create(threads, err);
}
