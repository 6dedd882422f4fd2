/* Internal to lib/ and kernels/ (the trainer and the CUDA backend; tools
 * save and load engines through lib/backend.h): no tool includes it, and
 * tests/cli/make.bats checks that none does.
 *
 * The engines file: the cuDNN engine a CUDA backend chose per convolution
 * shape and kind (kernels/conv_engines.cu), saved so that a later process
 * makes the same choices. Plain C so that the format is tested on every
 * machine; the CUDA side only fills and reads the structs below.
 *
 * The text, one item a line ('\n' or "\r\n"):
 *
 *   # stargan-c: the cuDNN engines chosen per convolution shape; ...
 *   device NVIDIA H200
 *   cudnn 91900
 *   layout nhwc
 *   precision tf32
 *   fwd 16 3 128 128 64 7 1 3 4 12 knobs 2=4 17=1
 *   bwd-data 16 64 128 128 128 4 2 1 -1 -1
 *
 * The four header lines come first, each once, in this order; then one line
 * per choice: KIND N Ci H W Co K stride pad rank engine_id [knobs ...], KIND
 * one of fwd, bwd-data, bwd-filter; rank -1 (with engine_id -1) is the legacy
 * cuDNN call. The optional last field is the configuration's knob values:
 * "knobs" and then either "none" (the configuration has no knob choices) or
 * 1..SG_ENGINES_MAX_KNOBS pairs TYPE=VALUE (a cudnnBackendKnobType_t, each
 * type once, and its int64 value, in the order cuDNN lists them), e.g.
 *
 *   fwd 16 3 128 128 64 7 1 3 4 12 knobs 0=1 3=2
 *   bwd-filter 16 64 128 128 128 4 2 1 2 9 knobs none
 *
 * A line without the field (files written before knobs were recorded, the
 * legacy call) matches its engine by rank and engine_id alone; with it, the
 * loader takes only a configuration with that engine and those knob values.
 * Lines starting with '#' and blank lines are ignored anywhere; the device
 * name is the rest of its line (it may contain spaces). A file with the
 * header and no choices is valid. */
#ifndef SG_ENGINES_FILE_H
#define SG_ENGINES_FILE_H
#include <stddef.h>
#include <stdint.h>
#include "error.h"

enum { SG_ENGINE_FWD = 0, SG_ENGINE_BWD_DATA = 1, SG_ENGINE_BWD_FILTER = 2 };
#define SG_ENGINES_MAX_RANK 63          /* ranks are -1..63 */
#define SG_ENGINES_MAX_DIM (1 << 20)    /* every size and pad is at most this */
#define SG_ENGINES_MAX_KNOBS 16         /* knob values a choice may record */
#define SG_ENGINES_MAX_KNOB_TYPE 2147483647   /* knob types are 0..this (an enum) */

/* One convolution shape and kind and the engine chosen for it. */
typedef struct {
    int kind;                           /* SG_ENGINE_FWD, _BWD_DATA, _BWD_FILTER */
    int N, Ci, H, W, Co, K, stride, pad;  /* 1..MAX_DIM; pad 0..MAX_DIM */
    int rank;                           /* index in cuDNN's candidate list; -1 the legacy call */
    int64_t engine_id;                  /* CUDNN_ATTR_ENGINE_GLOBAL_INDEX; -1 with rank -1 */
    /* The configuration's knob values. knobs_recorded 0: not recorded (an
     * older file, the legacy call; then n_knobs is 0); 1: knobs[0..n_knobs)
     * are all its knob choices (n_knobs may be 0). Slots from n_knobs on are
     * zero (parse leaves them so, format refuses others), so two choices
     * compare with memcmp (no padding: 10 ints, an int64, 2 ints, int64s). */
    int knobs_recorded;
    int n_knobs;                        /* 0..SG_ENGINES_MAX_KNOBS */
    int64_t knobs[SG_ENGINES_MAX_KNOBS][2];   /* type 0..MAX_KNOB_TYPE, value (not INT64_MIN) */
} sg_engine_choice;

/* What must match for a file's choices to apply. device: the GPU's name,
 * printable, 1..255 bytes; layout "nhwc" or "nchw"; precision "tf32",
 * "fp32" or "bf16". */
typedef struct {
    char device[256];
    long long cudnn;                    /* cudnnGetVersion(), >= 0 */
    char layout[8];
    char precision[8];
} sg_engines_header;

/* 1 when knobs[0..n) can be recorded in a choice: n 0..SG_ENGINES_MAX_KNOBS,
 * each type 0..SG_ENGINES_MAX_KNOB_TYPE and given once, no value INT64_MIN
 * (which no file text gives); else 0. */
int sg_engine_knobs_recordable(const int64_t (*knobs)[2], int n);

/* The file's text for h and c[0..n): malloc'd, NUL-terminated, its length in
 * *len. NULL with err when a value could not be read back by sg_engines_parse
 * (so a saved file always loads) or when out of memory. */
char *sg_engines_format(const sg_engines_header *h, const sg_engine_choice *c, int n, size_t *len,
                        sg_err *err);

/* Parses text[0..len) (never reads past len; NUL bytes are an error). 0: *h
 * filled, *out a malloc'd array of *n choices (NULL when *n is 0). -1: err
 * says "PATH line L: expected ..., found ... (delete the file to choose anew)",
 * *out NULL and *n 0. Two choices for the same kind and shape are an error. */
int sg_engines_parse(const char *text, size_t len, const char *path, sg_engines_header *h,
                     sg_engine_choice **out, int *n, sg_err *err);

/* Copies a GPU's name into h->device in a form the file holds: blanks and
 * control bytes at either end dropped, others as '?', at most 255 bytes,
 * "unknown" when nothing is left. */
void sg_engines_header_set_device(sg_engines_header *h, const char *name);

/* 1 when every field of a and b is equal, else 0. */
int sg_engines_header_equal(const sg_engines_header *a, const sg_engines_header *b);

/* "NVIDIA H200 / cuDNN 91900 / nhwc / tf32" into buf. Returns buf. */
const char *sg_engines_header_describe(const sg_engines_header *h, char *buf, size_t size);

#endif
