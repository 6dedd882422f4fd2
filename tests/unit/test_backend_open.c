/* --device and --precision values (lib/backend_open.c): what the tools accept,
 * and that a CUDA device that cannot be had is an error naming it, never a
 * silent fallback to the CPU; the thread count and numerics a CPU backend
 * reports (what a run records). */
#include "backend.h"
#include "check.h"
#include "thread.h"
#include "version.h"
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
    sg_backend *be = sg_backend_open("gpu", NULL, 1, SG_CUDNN_SEARCH_DEFAULT, note, sizeof note, &err);
    CHECK(!be && strstr(err.msg, "expected cpu, cuda, cuda:N or auto, not 'gpu'"), "--device gpu: '%s'", err.msg);
    be = sg_backend_open("cpu", "fp16", 1, SG_CUDNN_SEARCH_DEFAULT, note, sizeof note, &err);
    CHECK(!be && strstr(err.msg, "--precision: expected tf32, fp32 or bf16, not 'fp16'"),
          "--precision fp16 refused on the CPU too: '%s'", err.msg);
    /* The user's bytes are quoted escaped and cut (lib/error.h sg_quote_bytes). */
    be = sg_backend_open("gpu\x1b[2J\xff", NULL, 1, SG_CUDNN_SEARCH_DEFAULT, note, sizeof note, &err);
    CHECK(!be && !strcmp(err.msg, "--device: expected cpu, cuda, cuda:N or auto, not 'gpu\\x1b[2J\\xff'"),
          "--device with ESC: '%s'", err.msg);
    be = sg_backend_open("cpu", "bf16\a0123456789012345678901234567890123456789", 1, SG_CUDNN_SEARCH_DEFAULT, note,
                         sizeof note, &err);
    CHECK(!be && !strcmp(err.msg, "--precision: expected tf32, fp32 or bf16, not "
                                  "'bf16\\x0701234567890123456789012345678901...'"),
          "--precision with BEL, long: '%s'", err.msg);
    /* GPU 999 exists nowhere: an error that names it, whether or not this
     * machine has CUDA */
    be = sg_backend_open("cuda:999", NULL, 1, SG_CUDNN_SEARCH_DEFAULT, note, sizeof note, &err);
    CHECK(!be && !strncmp(err.msg, "--device cuda:999: ", 19), "--device cuda:999: '%s'", be ? "opened" : err.msg);
    sg_backend_destroy(be);
    be = sg_backend_open("auto", NULL, 1, SG_CUDNN_SEARCH_DEFAULT, note, sizeof note, &err);
    CHECK(be != NULL, "--device auto opens something: %s", be ? be->name : err.msg);
    if (be && !strcmp(be->name, "cpu")) CHECK(note[0] != 0, "auto on the CPU says why: '%s'", note);
    sg_backend_destroy(be);
    /* A mistyped CUDA switch is an error whatever the device: with auto it
     * made the CUDA backend fail, and the run went quietly to the CPU. */
    const char *devices[] = {"auto", "cpu", "cuda:999"};
    for (int i = 0; i < 3; i++) {
        setenv("SG_CUDA_LAYOUT", "NCHW", 1);
        be = sg_backend_open(devices[i], NULL, 1, SG_CUDNN_SEARCH_DEFAULT, note, sizeof note, &err);
        CHECK(!be && !strcmp(err.msg, "SG_CUDA_LAYOUT=NCHW: expected nhwc or nchw"), "--device %s, SG_CUDA_LAYOUT=NCHW: '%s'",
              devices[i], be ? be->name : err.msg);
        sg_backend_destroy(be);
        setenv("SG_CUDNN_WORKSPACE_MIB", "1g", 1);
        setenv("SG_CUDA_LAYOUT", "nchw", 1);
        be = sg_backend_open(devices[i], NULL, 1, SG_CUDNN_SEARCH_DEFAULT, note, sizeof note, &err);
        CHECK(!be && !strcmp(err.msg, "SG_CUDNN_WORKSPACE_MIB=1g: expected an integer from 1 to 65536"),
              "--device %s, SG_CUDNN_WORKSPACE_MIB=1g: '%s'", devices[i], be ? be->name : err.msg);
        sg_backend_destroy(be);
        unsetenv("SG_CUDNN_WORKSPACE_MIB");
    }
    be = sg_backend_open("cpu", NULL, 1, SG_CUDNN_SEARCH_DEFAULT, note, sizeof note, &err);
    CHECK(be != NULL, "valid switches (SG_CUDA_LAYOUT=nchw) open the CPU: %s", be ? "" : err.msg);
    sg_backend_destroy(be);
    unsetenv("SG_CUDA_LAYOUT");

    /* What decides the CPU's last bits, as a run records it: the threads
     * resolved (0: the CPUs usable, not 0), and OpenBLAS's version and
     * kernel, the clones the CPU runs, the compiler flags' hash */
    int counts[][2] = {{0, sg_cpus_usable()}, {1, 1}, {3, 3}};
    for (int k = 0; k < 3; k++) {
        be = sg_backend_open("cpu", NULL, counts[k][0], SG_CUDNN_SEARCH_DEFAULT, note, sizeof note, &err);
        CHECK(be && sg_backend_cpu_threads(be) == counts[k][1], "--threads %d: %d threads (want %d)", counts[k][0],
              be ? sg_backend_cpu_threads(be) : -1, counts[k][1]);
        sg_backend_destroy(be);
    }
    CHECK(sg_backend_cpu_threads(NULL) == 0, "no backend: 0 threads");
    char numerics[192];
    sg_backend_cpu_numerics(numerics, sizeof numerics);
    const char *cf = strstr(numerics, ", cflags ");
    CHECK(!strncmp(numerics, "OpenBLAS ", 9) && cf && strlen(cf) == 9 + 8 && !strcmp(cf + 9, sg_cflags_id) &&
              (strstr(numerics, ", x86-64-v3 clones, ") || strstr(numerics, ", x86-64 clones, ") ||
               strstr(numerics, ", no clones, ")),
          "numerics: '%s'", numerics);
    return check_done();
}
