/* safetensors files (https://github.com/huggingface/safetensors): an 8-byte
 * little-endian header length N, N bytes of JSON header
 *   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *    "__metadata__": {"key": "string value", ...}}
 * then the data buffer (offsets relative to its start). Only the dtypes the
 * checkpoints use are supported: F32 and I64 (little-endian, as on x86/ARM hosts).
 *
 * The reader validates strictly before anything is read: header length within the
 * limit and the file, a JSON object with no duplicate names, known dtypes,
 * non-negative integer shapes, data_offsets in order, in bounds, of the size the
 * shape and dtype imply (none when a dimension is 0, however large the others;
 * a size past 2^64 bytes is refused), and together covering the data buffer exactly with no
 * gap or overlap; metadata values must be strings; no NUL in a name, key or value
 * (they are handed out as C strings). Messages name the file, the
 * tensor and the problem:
 *   "ckpt/001000-G.safetensors: tensor main.1.weight: data_offsets [64, 32] out of order"
 *
 * The writer lays tensors out in the given order with contiguous offsets, pads
 * the header with spaces to a multiple of 8 (so F32/I64 data is aligned) and
 * writes atomically (temporary file, fsync, rename, fsync of the directory). It
 * sizes tensors as the reader does and refuses, before creating any file, a
 * shape whose size passes 2^64 bytes or offsets past 2^63 - 1 (the largest
 * JSON integer the reader takes). */
#ifndef SG_SAFETENSORS_H
#define SG_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>
#include "error.h"

#define SG_ST_MAX_DIMS 8
#define SG_ST_MAX_HEADER (100u * 1024 * 1024)   /* header bytes accepted by the reader */

enum { SG_ST_F32 = 0, SG_ST_I64 = 1 };   /* same values as SG_DTYPE_F32/I64 in model.h (checkpoint.c asserts it) */

const char *sg_st_dtype_name(int dtype);  /* "F32", "I64" */
size_t sg_st_dtype_size(int dtype);       /* 4, 8 */

typedef struct {
    char *name;
    int dtype;                     /* SG_ST_F32 or SG_ST_I64 */
    int ndim;                      /* 0 (scalar) .. SG_ST_MAX_DIMS */
    int64_t shape[SG_ST_MAX_DIMS];
    uint64_t numel;                /* product of shape (1 for a scalar) */
    uint64_t begin, end;           /* data_offsets, relative to the data buffer */
} sg_st_tensor;

typedef struct {
    char *path;
    int fd;
    uint64_t data_start;           /* file offset of the data buffer: 8 + N */
    uint64_t data_len;             /* bytes of the data buffer */
    size_t n_tensors;
    sg_st_tensor *tensors;         /* sorted by begin (file order) */
    size_t n_meta;
    char **meta_keys, **meta_values;
} sg_st_file;

/* Opens and validates a file (see above). The file stays open for sg_st_read.
 * A PyTorch checkpoint (torch.save: a zip archive, or a legacy pickle) is
 * recognised by its first bytes: "PATH: a PyTorch checkpoint (zip archive),
 * not safetensors" ("(pickle)"). */
int sg_st_open(sg_st_file **out, const char *path, sg_err *err);
void sg_st_close(sg_st_file *f);
/* "zip archive" or "pickle" when path is a PyTorch checkpoint as sg_st_open
 * recognises one, else NULL (also when it cannot be read). */
const char *sg_st_torch_format(const char *path);

/* Index of a tensor by name, or -1. */
long sg_st_find(const sg_st_file *f, const char *name);
/* Metadata value by key, or NULL. */
const char *sg_st_meta(const sg_st_file *f, const char *key);
/* Reads tensor i's bytes into dst, which holds dst_bytes (must equal end - begin). */
int sg_st_read(sg_st_file *f, size_t i, void *dst, size_t dst_bytes, sg_err *err);

/* Writing: describe every tensor, then supply data tensor by tensor in order. */
typedef struct {
    const char *name;
    int dtype;
    int ndim;
    int64_t shape[SG_ST_MAX_DIMS];
    const void *data;              /* sg_st_write only; NULL with the streaming writer */
} sg_st_spec;

typedef struct sg_st_writer sg_st_writer;
/* Creates "path.tmp.PID.N" (sg_temp_name) and writes the header.
 * meta_keys/meta_values: n_meta strings. */
int sg_st_writer_begin(sg_st_writer **out, const char *path, const sg_st_spec *specs, size_t n,
                       const char *const *meta_keys, const char *const *meta_values,
                       size_t n_meta, sg_err *err);
/* Appends the data of the next tensor (bytes must equal its size). */
int sg_st_writer_put(sg_st_writer *w, const void *data, size_t bytes, sg_err *err);
/* After every tensor: fsync, rename over path, fsync the directory. Frees w,
 * also on error (deleting the temporary file when it was not renamed): do not
 * call sg_st_writer_abort after it. */
int sg_st_writer_commit(sg_st_writer *w, sg_err *err);
/* Deletes the temporary file and frees w (safe on NULL). */
void sg_st_writer_abort(sg_st_writer *w);

/* The whole file at once from specs[i].data. */
int sg_st_write(const char *path, const sg_st_spec *specs, size_t n,
                const char *const *meta_keys, const char *const *meta_values, size_t n_meta,
                sg_err *err);

#endif
