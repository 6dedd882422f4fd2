/* --device and --precision values (lib/backend_open.c): what the tools accept,
 * and that a CUDA device that cannot be had is an error naming it, never a
 * silent fallback to the CPU. */
#include "backend.h"
#include "check.h"
#include <stdlib.h>
#include <string.h>

int main(void)
{
    static const struct { const char *name; int kind, index; } cases[] = {
        { "cpu", SG_DEVICE_CPU, 0 }, { "auto", SG_DEVICE_AUTO, 0 }, { "cuda", SG_DEVICE_CUDA, 0 },
        { "cuda:0", SG_DEVICE_CUDA, 0 }, { "cuda:7", SG_DEVICE_CUDA, 7 }, { "cuda:123", SG_DEVICE_CUDA, 123 },
        { "cuda:", -1, 0 }, { "cuda:1234", -1, 0 }, { "cuda:-1", -1, 0 }, { "cuda:1x", -1, 0 },
        { "cuda1", -1, 0 }, { "cudax", -1, 0 }, { "CPU", -1, 0 }, { "", -1, 0 }, { "gpu", -1, 0 },
        { "cuda: 1", -1, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int index = -5, kind = sg_device_parse(cases[i].name, &index);
        CHECK(kind == cases[i].kind && (kind != SG_DEVICE_CUDA || index == cases[i].index),
              "sg_device_parse(\"%s\") = %d, index %d (want %d, %d)", cases[i].name, kind, index,
              cases[i].kind, cases[i].index);
    }
    CHECK(sg_precision_valid("tf32") && sg_precision_valid("fp32") && sg_precision_valid("bf16") &&
          !sg_precision_valid("fp16") && !sg_precision_valid(""), "precisions: tf32, fp32, bf16 only");

    sg_err err;
    char note[256];
    sg_backend *be = sg_backend_open("gpu", NULL, 1, note, sizeof note, &err);
    CHECK(!be && strstr(err.msg, "'gpu' is not cpu, cuda, cuda:N or auto"), "--device gpu: '%s'", err.msg);
    be = sg_backend_open("cpu", "fp16", 1, note, sizeof note, &err);
    CHECK(!be && strstr(err.msg, "--precision: 'fp16'"), "--precision fp16 refused on the CPU too: '%s'", err.msg);
    /* The user's bytes are quoted escaped and cut (lib/error.h sg_quote_bytes). */
    be = sg_backend_open("gpu\x1b[2J\xff", NULL, 1, note, sizeof note, &err);
    CHECK(!be && !strcmp(err.msg, "--device: 'gpu\\x1b[2J\\xff' is not cpu, cuda, cuda:N or auto"),
          "--device with ESC: '%s'", err.msg);
    be = sg_backend_open("cpu", "bf16\a0123456789012345678901234567890123456789", 1, note, sizeof note, &err);
    CHECK(!be && !strcmp(err.msg, "--precision: 'bf16\\x0701234567890123456789012345678901...' is not fp32, tf32 or bf16"),
          "--precision with BEL, long: '%s'", err.msg);
    /* GPU 999 exists nowhere: an error that names it, whether or not this
     * machine has CUDA */
    be = sg_backend_open("cuda:999", NULL, 1, note, sizeof note, &err);
    CHECK(!be && !strncmp(err.msg, "--device cuda:999: ", 19), "--device cuda:999: '%s'", be ? "opened" : err.msg);
    sg_backend_destroy(be);
    be = sg_backend_open("auto", NULL, 1, note, sizeof note, &err);
    CHECK(be != NULL, "--device auto opens something: %s", be ? be->name : err.msg);
    if (be && !strcmp(be->name, "cpu")) CHECK(note[0] != 0, "auto on the CPU says why: '%s'", note);
    sg_backend_destroy(be);
    /* A mistyped CUDA switch is an error whatever the device: with auto it
     * made the CUDA backend fail, and the run went quietly to the CPU. */
    const char *devices[] = {"auto", "cpu", "cuda:999"};
    for (int i = 0; i < 3; i++) {
        setenv("SG_CUDA_LAYOUT", "NCHW", 1);
        be = sg_backend_open(devices[i], NULL, 1, note, sizeof note, &err);
        CHECK(!be && !strcmp(err.msg, "SG_CUDA_LAYOUT=NCHW: expected nhwc or nchw"), "--device %s, SG_CUDA_LAYOUT=NCHW: '%s'",
              devices[i], be ? be->name : err.msg);
        sg_backend_destroy(be);
        setenv("SG_CUDNN_WORKSPACE_MIB", "1g", 1);
        setenv("SG_CUDA_LAYOUT", "nchw", 1);
        be = sg_backend_open(devices[i], NULL, 1, note, sizeof note, &err);
        CHECK(!be && !strcmp(err.msg, "SG_CUDNN_WORKSPACE_MIB=1g: expected an integer from 1 to 65536"),
              "--device %s, SG_CUDNN_WORKSPACE_MIB=1g: '%s'", devices[i], be ? be->name : err.msg);
        sg_backend_destroy(be);
        unsetenv("SG_CUDNN_WORKSPACE_MIB");
    }
    be = sg_backend_open("cpu", NULL, 1, note, sizeof note, &err);
    CHECK(be != NULL, "valid switches (SG_CUDA_LAYOUT=nchw) open the CPU: %s", be ? "" : err.msg);
    sg_backend_destroy(be);
    unsetenv("SG_CUDA_LAYOUT");
    return check_done();
}
