/* Backend selection shared by the tools' --device/--precision options. */
#include "backend.h"
#include <stdio.h>
#include <string.h>

int sg_precision_valid(const char *name)
{
    return !strcmp(name, "tf32") || !strcmp(name, "fp32") || !strcmp(name, "bf16");
}

sg_backend *sg_backend_open(const char *device, const char *precision, int threads,
                            char *fallback_note, size_t note_len, sg_err *err)
{
    if (fallback_note && note_len) fallback_note[0] = 0;
    if (precision && !sg_precision_valid(precision)) {
        sg_errf(err, "--precision: '%s' is not fp32, tf32 or bf16", precision);
        return NULL;
    }
    if (!strcmp(device, "cpu")) return sg_backend_cpu_create(threads, err);
    if (strcmp(device, "cuda") && strcmp(device, "auto")) {
        sg_errf(err, "--device: '%s' is not cpu, cuda or auto", device);
        return NULL;
    }
    sg_err cuda_err = {{0}};
    sg_backend *be = sg_backend_cuda_create_precision(0, precision ? precision : "tf32", &cuda_err);
    if (be) return be;
    if (!strcmp(device, "cuda")) {
        sg_errf(err, "--device cuda: %s", cuda_err.msg);
        return NULL;
    }
    if (fallback_note && note_len) snprintf(fallback_note, note_len, "%s", cuda_err.msg);
    return sg_backend_cpu_create(threads, err);
}
