/* Damaging checkpoint files the way a disk or a careless copy would, for the
 * checkpoint tests: a flipped or set data byte, a metadata value overwritten in place
 * (same length), a metadata key renamed (then read as absent), a file copied. */
#ifndef SG_CKPT_EDIT_H
#define SG_CKPT_EDIT_H
#include "check.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* File offset of a safetensors file's data buffer: 8 + the header's length. */
static inline long ckpt_edit_data_start(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char b[8] = {0};
    if (f) { if (fread(b, 1, 8, f) != 8) {} fclose(f); }
    uint64_t n = 0;
    for (int k = 7; k >= 0; k--) n = n << 8 | b[k];
    return (long)(8 + n);
}

/* Flips a bit of the data buffer's byte at off. */
static inline void ckpt_edit_flip_data(const char *path, long off)
{
    long at = ckpt_edit_data_start(path) + off;
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL, "open %s", path);
    if (!f) return;
    fseek(f, at, SEEK_SET);
    int c = fgetc(f);
    fseek(f, at, SEEK_SET);
    fputc(c ^ 0x10, f);
    fclose(f);
}

/* The header (with its 8 length bytes), NUL-terminated, and its file. */
static inline char *ckpt_edit_header(const char *path, long *len, FILE **fp)
{
    *len = ckpt_edit_data_start(path);
    FILE *f = fopen(path, "r+b");
    char *h = malloc((size_t)*len + 1);
    if (!f || !h || fread(h, 1, (size_t)*len, f) != (size_t)*len) {
        CHECK(0, "read the header of %s", path);
        if (f) fclose(f);
        free(h);
        return NULL;
    }
    h[*len] = 0;
    *fp = f;
    return h;
}

/* Overwrites metadata value of key with value, which must be as long. */
static inline void ckpt_edit_meta(const char *path, const char *key, const char *value)
{
    long len;
    FILE *f;
    char *h = ckpt_edit_header(path, &len, &f), pat[128];
    if (!h) return;
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    char *at = strstr(h + 8, pat);
    char *end = at ? strchr(at + strlen(pat), '"') : NULL;
    CHECK(at && end && (size_t)(end - at) - strlen(pat) == strlen(value), "%s: no \"%s\" of %zu characters", path,
          key, strlen(value));
    if (at && end && (size_t)(end - at) - strlen(pat) == strlen(value)) {
        fseek(f, (long)(at - h) + (long)strlen(pat), SEEK_SET);
        fputs(value, f);
    }
    fclose(f);
    free(h);
}

/* Sets the data buffer's byte at off to value, and the file's own data_crc32
 * key (when it has one) to the new data's CRC-32: a crafted value that the
 * CRC does not catch, for the checks behind it. */
static inline void ckpt_edit_set_data(const char *path, long off, unsigned char value)
{
    long start = ckpt_edit_data_start(path);
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL, "open %s", path);
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long n = ftell(f) - start;
    unsigned char *data = n > off ? malloc((size_t)n) : NULL;
    fseek(f, start, SEEK_SET);
    int ok = data && fread(data, 1, (size_t)n, f) == (size_t)n;
    CHECK(ok, "%s: no data byte %ld", path, off);
    if (ok) {
        data[off] = value;
        fseek(f, start + off, SEEK_SET);
        fputc(value, f);
    }
    fclose(f);
    if (ok) {
        long len;
        char *h = ckpt_edit_header(path, &len, &f);
        int has = h && strstr(h + 8, "\"data_crc32\":\"") != NULL;
        if (h) { fclose(f); free(h); }
        char crc[16];
        snprintf(crc, sizeof crc, "%08lx", crc32(0L, data, (uInt)n));
        if (has) ckpt_edit_meta(path, "data_crc32", crc);
    }
    free(data);
}

/* Renames metadata key (its last character becomes 'X'): the file then reads
 * as one without it, as after a damaged header. */
static inline void ckpt_edit_rename_key(const char *path, const char *key)
{
    long len;
    FILE *f;
    char *h = ckpt_edit_header(path, &len, &f), pat[128];
    if (!h) return;
    snprintf(pat, sizeof pat, "\"%s\":", key);
    char *at = strstr(h + 8, pat);
    CHECK(at != NULL, "%s: no key \"%s\"", path, key);
    if (at) {
        fseek(f, (long)(at - h) + (long)strlen(key), SEEK_SET);
        fputc('X', f);
    }
    fclose(f);
    free(h);
}

static inline void ckpt_edit_copy(const char *from, const char *to)
{
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    CHECK(system(cmd) == 0, "%s", cmd);
}

#endif
