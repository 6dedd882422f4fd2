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
/* The most records a shard holds (2^32 - 1): sg-train draws each epoch's
 * order as 32-bit indices (lib/trainer.h sg_train_epoch_order); the reader
 * refuses a shard whose metadata counts more (sg_shard_open), so every tool
 * does, and the writer refuses the record past it. */
#define SG_SHARD_MAX_RECORDS UINT32_MAX

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
    char created_by[128];                /* "stargan-c 0.1.0"; "" when absent (written elsewhere) */
} sg_shard_meta;

typedef struct sg_shard sg_shard;

/* Opens a shard read-only (never writes next to the data). Fails with a clear
 * message for a directory that is not a shard or a newer format version, and
 * for metadata that counts more than SG_SHARD_MAX_RECORDS records:
 * "SHARD: metadata: N records, more than the 4294967295 a shard may hold
 * (...): pack fewer images into it". */
int sg_shard_open(sg_shard **out, const char *path, sg_err *err);
/* The same for a reader of records in random order (the trainer) whose
 * shards cannot all stay in the page cache: the kernel's read-ahead is off
 * for the mapping (LMDB's MDB_NORDAHEAD), so that a record read does not
 * pull megabytes of its neighbours from the disk (a 10.7 GB shard read cold:
 * 350 records/s with read-ahead, 1,260-1,580 without). */
int sg_shard_open_random(sg_shard **out, const char *path, sg_err *err);
void sg_shard_close(sg_shard *s);
/* 1 when path holds a regular data.mdb: a shard as far as its name goes
 * (what --force may replace, what a run directory must not be); 0 else. */
int sg_shard_dir_looks_like(const char *path);
/* The shard's metadata, the shard's own: its label_names die with
 * sg_shard_close. Copying the struct copies the pointers only, so a copy
 * handed to sg_shard_writer_open (which copies what it is given) must be
 * made while s is open. */
const sg_shard_meta *sg_shard_get_meta(const sg_shard *s);
/* Whether b's metadata says it holds other data than a's: what differs first,
 * in celeb-dump's words ("image size", "record count", "source", ...; the
 * source file as given to celeb-pack), or NULL when
 * none does (a copy, or a repack of the same lists with the same options).
 * created_by does not count: the same lists packed again by another version
 * are the same data. */
const char *sg_shard_meta_differs(const sg_shard_meta *a, const sg_shard_meta *b);

/* Reads record index (0-based): pixels as (height, width, 3) RGB8 (decoded if the
 * shard stores PNG/JPEG), labels as n_labels floats 0/1 (one-hot: exactly one 1),
 * name = the source file name. Any output pointer may be NULL. The CRC is checked.
 * Once it is, name is filled even when the labels or the pixels are then
 * refused (so that a message can name the record's file).
 * Safe to call from several threads on one sg_shard. */
int sg_shard_read(sg_shard *s, uint64_t index, uint8_t *pixels, float *labels,
                  char *name, size_t name_len, sg_err *err);

/* ---- Record layout (man/man5/stargan-shard.5) ----
 * key: record index as 8 bytes big-endian; the metadata record's key is "meta"
 * (a JSON object). A record value, integers little-endian:
 *   0  4  magic "SGR1"
 *   4  2  n_labels            6  2  name_len
 *   8  1  pixel encoding      9  3  zero
 *  12  4  pixel byte count
 *  16     n_labels bytes, each 0 or 1; name_len bytes of file name (no NUL);
 *         the pixels; then CRC-32 (zlib's polynomial) of every byte before it. */
#define SG_SHARD_RECORD_MAGIC "SGR1"
#define SG_SHARD_RECORD_HEADER 16
#define SG_SHARD_MAX_NAME 4096

/* CRC-32 as zlib's crc32(crc, data, len) (start with crc = 0). */
uint32_t sg_crc32(uint32_t crc, const void *data, size_t len);

/* Writer: builds the shard in "PATH.tmp-PID.N" (lib/fileio.h sg_temp_name: one
 * of its own, whatever else this process writes) and renames it to PATH only when
 * complete, so a killed writer leaves a complete shard or none. Without force an
 * existing shard at PATH is an error ("PATH exists (use --force to replace it)") and is
 * never touched; with force it is replaced only once the new shard is complete,
 * and only when it is a shard directory (anything else there is an error, with
 * or without force: sg_shard_check_output).
 * Trailing slashes of path are ignored ("x.lmdb/" is x.lmdb).
 * meta: everything but count and version (filled in by the writer); copied. */
typedef struct sg_shard_writer sg_shard_writer;
/* Whether a shard may be written at path (lstat: trailing slashes ignored):
 * 0 when nothing is there, or with force when it is a shard directory holding
 * only the shard's files. Else -1 and err: what --force never replaces, with
 * or without force ("PATH exists and is not a shard; not replacing it", a
 * link, a shard holding other files), or, for a shard without force, "PATH
 * exists (use --force to replace it)". sg_shard_writer_open checks it. */
int sg_shard_check_output(const char *path, int force, sg_err *err);
int sg_shard_writer_open(sg_shard_writer **out, const char *path, const sg_shard_meta *meta,
                         int force, uint64_t expected_count, sg_err *err);
/* Appends record number sg_shard_writer_count(): labels are n_labels bytes 0/1;
 * pixels are in the shard's encoding (raw: exactly width*height*3 bytes).
 * With SG_SHARD_MAX_RECORDS records appended, -1: "NAME: the shard holds
 * 4294967295 records already, the most a shard may hold (sg-train draws
 * each epoch's order in 32 bits; no tool reads more); pack fewer images",
 * as sg_shard_open's refusal of a larger count says. */
int sg_shard_writer_append(sg_shard_writer *w, const uint8_t *labels, const char *name,
                           const uint8_t *pixels, size_t pixel_len, sg_err *err);
uint64_t sg_shard_writer_count(const sg_shard_writer *w);
/* Writes the metadata, syncs, renames into place and frees w (also on error).
 * Returns -1 (err) when PATH is not the new shard. Once it is, returns 0, or
 * SG_WRITTEN_UNSYNCED (err) when syncing PATH's directory failed without an
 * unsynced handler (with one, the handler has the report: lib/fileio.h).
 * note (may be NULL): emptied, then, with the shard in place, saying for a
 * warning that the old shard it replaced could not be removed. With force an
 * old shard directory holding anything but the shard's own files is not
 * replaced (an error, at open and again here). */
int sg_shard_writer_commit(sg_shard_writer *w, sg_err *note, sg_err *err);
/* Removes the temporary directory and frees w. */
void sg_shard_writer_abort(sg_shard_writer *w);

/* Names of the enum values as stored in the metadata ("raw", "png", "jpeg";
 * "multi-hot", "one-hot"), and back (-1 if unknown). */
const char *sg_shard_pixel_encoding_name(int enc);
int sg_shard_pixel_encoding_parse(const char *s);
const char *sg_shard_label_kind_name(int kind);

/* Labels of record index as n_labels bytes 0/1, without decoding pixels (the
 * CRC is still checked). Thread-safe like sg_shard_read. */
int sg_shard_read_labels(sg_shard *s, uint64_t index, uint8_t *labels, sg_err *err);

/* Whether every record of s holds the same labels: 1 when they do (a
 * one-hot shard whose records are all of one class; a multi-hot one where
 * each attribute is the same in every record), their labels (n_labels bytes
 * 0/1) then in labels; 0 when two records differ, or s holds none; -1 (err)
 * when a record read cannot be (a header or labels sg_shard_read_labels
 * refuses). Reads each record's header and label bytes only, not its CRC
 * (which needs every byte): record 0, then the last (celeb-pack --folders
 * packs the classes in order, so two classes are told by those two), then
 * those between, in order, until one differs; only a shard whose records
 * all agree is read through. Measured on 20000 records of 128 px (a 1 GB
 * shard): 0.1 ms for two classes packed in order or CelebA-like attributes;
 * read through, 40-110 ms from the page cache, 1.7 s cold (the disk). */
int sg_shard_same_labels(sg_shard *s, uint8_t *labels, sg_err *err);

#endif
