/* LMDB shards: images + labels + metadata (format: man/man5/stargan-shard.5).
 * This header is the contract between celeb-pack (writer) and the readers
 * (celeb-dump, sg-train, sg-sample). */
#ifndef SG_SHARD_H
#define SG_SHARD_H
#include <stddef.h>
#include <stdint.h>
#include "error.h"

#define SG_SHARD_FORMAT_VERSION 1
#define SG_SHARD_MAX_LABELS 256

enum { SG_LABELS_MULTI_HOT = 0, SG_LABELS_ONE_HOT = 1 };
enum { SG_PIXELS_RAW = 0, SG_PIXELS_PNG = 1, SG_PIXELS_JPEG = 2 };

typedef struct {
    uint32_t version;
    uint32_t width, height, channels;   /* channels is 3 (RGB) */
    int pixel_encoding;                  /* SG_PIXELS_* */
    int label_kind;                      /* SG_LABELS_* */
    uint32_t n_labels;
    char *label_names[SG_SHARD_MAX_LABELS];
    uint64_t count;                      /* number of records */
    char source[1024];                   /* e.g. the attribute file or folder packed */
    uint32_t crop;                       /* center-crop side used (0: none) */
    uint32_t size;                       /* resize side used */
} sg_shard_meta;

typedef struct sg_shard sg_shard;

/* Opens a shard read-only (never writes next to the data). Fails with a clear
 * message for a directory that is not a shard or a newer format version. */
int sg_shard_open(sg_shard **out, const char *path, sg_err *err);
void sg_shard_close(sg_shard *s);
const sg_shard_meta *sg_shard_get_meta(const sg_shard *s);

/* Reads record index (0-based): pixels as (height, width, 3) RGB8 (decoded if the
 * shard stores PNG/JPEG), labels as n_labels floats 0/1 (one-hot: exactly one 1),
 * name = the source file name. Any output pointer may be NULL. The CRC is checked.
 * Safe to call from several threads on one sg_shard. */
int sg_shard_read(sg_shard *s, uint64_t index, uint8_t *pixels, float *labels,
                  char *name, size_t name_len, sg_err *err);

#endif
