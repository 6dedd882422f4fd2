/* safetensors reader/writer: round trip, layout, and every validation case. */
#include <errno.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"
#include "fileio.h"
#include "safetensors.h"
#include "test_tmpdir.h"

/* Writes 8-byte length + header + data_len bytes (0x11). */
/* 1 when a temporary file of path's writer (path.tmp.PID.N) is beside it. */
static int temp_left(const char *path)
{
    char dir[600];
    sg_dir_of(path, dir, sizeof dir);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t bl = strlen(base);
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, base, bl) && !strncmp(e->d_name + bl, ".tmp.", 5)) found = 1;
    closedir(d);
    return found;
}

static void write_raw(const char *path, const char *header, uint64_t declared_len, size_t data_len)
{
    FILE *f = fopen(path, "wb");
    unsigned char lb[8];
    for (int k = 0; k < 8; k++) lb[k] = (unsigned char)(declared_len >> (8 * k));
    fwrite(lb, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    for (size_t i = 0; i < data_len; i++) fputc(0x11, f);
    fclose(f);
}

/* Expects sg_st_open to fail with a message containing want. */
static void expect_bad(const char *what, const char *header, size_t data_len, const char *want)
{
    const char *p = test_tmp_path("bad.safetensors");
    write_raw(p, header, strlen(header), data_len);
    sg_st_file *f = NULL;
    sg_err err = {{0}};
    int rc = sg_st_open(&f, p, &err);
    CHECK(rc == -1 && f == NULL, "%s: accepted", what);
    CHECK(strstr(err.msg, want) != NULL, "%s: message '%s' lacks '%s'", what, err.msg, want);
    CHECK(strstr(err.msg, p) == err.msg, "%s: message '%s' does not start with the file name", what, err.msg);
    sg_st_close(f);
}

static void expect_good(const char *what, const char *header, size_t data_len)
{
    const char *p = test_tmp_path("good.safetensors");
    write_raw(p, header, strlen(header), data_len);
    sg_st_file *f = NULL;
    sg_err err = {{0}};
    CHECK(sg_st_open(&f, p, &err) == 0, "%s: rejected: %s", what, err.msg);
    sg_st_close(f);
}

static void test_round_trip(void)
{
    float a[2 * 3];
    for (int i = 0; i < 6; i++) a[i] = (float)i * 0.5f - 1.25f;
    int64_t nbt = 123456789012345LL;
    float b[5] = {1e-30f, -0.0f, 3.4e38f, 1.0f, 2.0f};
    float scalar = 42.0f;
    sg_st_spec specs[4] = {
        {.name = "main.0.weight", .dtype = SG_ST_F32, .ndim = 2, .shape = {2, 3}, .data = a},
        {.name = "main.1.num_batches_tracked", .dtype = SG_ST_I64, .ndim = 0, .data = &nbt},
        {.name = "empty", .dtype = SG_ST_F32, .ndim = 2, .shape = {0, 7}, .data = NULL},
        {.name = "conv1.weight", .dtype = SG_ST_F32, .ndim = 4, .shape = {1, 5, 1, 1}, .data = b},
    };
    const char *mk[2] = {"image_size", "labels"};
    const char *mv[2] = {"128", "[\"Black_Hair\",\"quote\\\"\"]"};
    const char *p = test_tmp_path("rt.safetensors");
    sg_err err = {{0}};
    CHECK(sg_st_write(p, specs, 4, mk, mv, 2, &err) == 0, "write: %s", err.msg);

    /* Layout: header length multiple of 8, no temporary file left. */
    FILE *fp = fopen(p, "rb");
    unsigned char lb[8];
    CHECK(fread(lb, 1, 8, fp) == 8, "read length");
    uint64_t hl = 0;
    for (int k = 7; k >= 0; k--) hl = hl << 8 | lb[k];
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fclose(fp);
    CHECK(hl % 8 == 0, "header length %llu not a multiple of 8", (unsigned long long)hl);
    CHECK((uint64_t)size == 8 + hl + 24 + 8 + 0 + 20, "file size %ld", size);
    CHECK(!temp_left(p), "temporary file left behind");

    sg_st_file *f = NULL;
    CHECK(sg_st_open(&f, p, &err) == 0, "open: %s", err.msg);
    if (!f) return;
    CHECK(f->n_tensors == 4, "n_tensors %zu", f->n_tensors);
    CHECK(!strcmp(f->tensors[0].name, "main.0.weight"), "order kept: %s", f->tensors[0].name);
    CHECK(f->tensors[1].dtype == SG_ST_I64 && f->tensors[1].ndim == 0 && f->tensors[1].numel == 1, "scalar I64");
    CHECK(sg_st_meta(f, "image_size") && !strcmp(sg_st_meta(f, "image_size"), "128"), "meta image_size");
    CHECK(sg_st_meta(f, "labels") && !strcmp(sg_st_meta(f, "labels"), mv[1]), "meta with quotes");
    CHECK(sg_st_meta(f, "nope") == NULL, "missing meta");
    CHECK(sg_st_find(f, "nope") == -1, "find missing");
    long i = sg_st_find(f, "main.0.weight");
    float a2[6] = {0};
    CHECK(i >= 0 && sg_st_read(f, (size_t)i, a2, sizeof a2, &err) == 0 && !memcmp(a, a2, sizeof a), "F32 data");
    CHECK(f->tensors[i].shape[0] == 2 && f->tensors[i].shape[1] == 3, "shape");
    i = sg_st_find(f, "main.1.num_batches_tracked");
    int64_t nbt2 = 0;
    CHECK(i >= 0 && sg_st_read(f, (size_t)i, &nbt2, 8, &err) == 0 && nbt2 == nbt, "I64 data");
    i = sg_st_find(f, "conv1.weight");
    float b2[5];
    CHECK(i >= 0 && sg_st_read(f, (size_t)i, b2, sizeof b2, &err) == 0 && !memcmp(b, b2, sizeof b), "F32 bits incl. -0");
    CHECK(f->tensors[i].begin % 4 == 0 && (f->data_start % 8) == 0, "alignment");
    i = sg_st_find(f, "empty");
    CHECK(i >= 0 && f->tensors[i].numel == 0 && sg_st_read(f, (size_t)i, NULL, 0, &err) == 0, "empty tensor");
    CHECK(sg_st_read(f, 0, a2, 4, &err) == -1 && strstr(err.msg, "caller expects 4"), "size mismatch on read: %s", err.msg);
    sg_st_close(f);

    /* Overwriting an existing file replaces it atomically. */
    scalar = 7.0f;
    sg_st_spec one = {.name = "x", .dtype = SG_ST_F32, .ndim = 1, .shape = {1}, .data = &scalar};
    CHECK(sg_st_write(p, &one, 1, NULL, NULL, 0, &err) == 0, "rewrite: %s", err.msg);
    CHECK(sg_st_open(&f, p, &err) == 0 && f->n_tensors == 1 && f->n_meta == 0, "rewritten file");
    sg_st_close(f);
}

static void test_writer_errors(void)
{
    float v = 1;
    sg_err err = {{0}};
    sg_st_spec dup[2] = {{.name = "a", .dtype = SG_ST_F32, .ndim = 1, .shape = {1}, .data = &v},
                         {.name = "a", .dtype = SG_ST_F32, .ndim = 1, .shape = {1}, .data = &v}};
    const char *p = test_tmp_path("w.safetensors");
    CHECK(sg_st_write(p, dup, 2, NULL, NULL, 0, &err) == -1 && strstr(err.msg, "duplicate tensor name a"),
          "duplicate names written: %s", err.msg);
    CHECK(access(p, F_OK) != 0, "failed write left a file");
    sg_st_spec meta = {.name = "__metadata__", .dtype = SG_ST_F32, .ndim = 1, .shape = {1}, .data = &v};
    CHECK(sg_st_write(p, &meta, 1, NULL, NULL, 0, &err) == -1, "tensor named __metadata__ written");
    sg_st_spec bad = {.name = "b", .dtype = 7, .ndim = 1, .shape = {1}, .data = &v};
    CHECK(sg_st_write(p, &bad, 1, NULL, NULL, 0, &err) == -1, "bad dtype written");

    /* Streaming writer: an abort leaves nothing, a short commit fails. */
    sg_st_writer *w;
    sg_st_spec two[2] = {{.name = "a", .dtype = SG_ST_F32, .ndim = 1, .shape = {1}},
                         {.name = "b", .dtype = SG_ST_I64, .ndim = 1, .shape = {2}}};
    CHECK(sg_st_writer_begin(&w, p, two, 2, NULL, NULL, 0, &err) == 0, "begin: %s", err.msg);
    CHECK(sg_st_writer_put(w, &v, 8, &err) == -1, "wrong size accepted");
    CHECK(sg_st_writer_put(w, &v, 4, &err) == 0, "put: %s", err.msg);
    CHECK(sg_st_writer_commit(w, &err) == -1 && strstr(err.msg, "1 of 2"), "short commit: %s", err.msg);
    CHECK(access(p, F_OK) != 0, "short commit left a file");
    char short_tmp[600];   /* commit freed w and deleted its temporary: no abort is needed */
    snprintf(short_tmp, sizeof short_tmp, "%s.tmp.%ld", p, (long)getpid());
    CHECK(access(short_tmp, F_OK) != 0, "a failed commit left its temporary file");
    CHECK(sg_st_writer_begin(&w, p, two, 2, NULL, NULL, 0, &err) == 0, "begin: %s", err.msg);
    CHECK(temp_left(p), "no temporary file while writing");
    sg_st_writer_abort(w);
    CHECK(access(p, F_OK) != 0, "abort left a file");
    CHECK(!temp_left(p), "abort left the temporary file");

    CHECK(sg_st_write("/nonexistent-dir/x.safetensors", NULL, 0, NULL, NULL, 0, &err) == -1 &&
          strstr(err.msg, "/nonexistent-dir/x.safetensors"), "unwritable path: %s", err.msg);
}

static void test_validation(void)
{
    sg_err err = {{0}};
    sg_st_file *f = NULL;
    const char *p = test_tmp_path("short.safetensors");
    FILE *fp = fopen(p, "wb");
    fwrite("\x02\0\0", 1, 3, fp);
    fclose(fp);
    CHECK(sg_st_open(&f, p, &err) == -1 && strstr(err.msg, "too short"), "3-byte file: %s", err.msg);
    CHECK(sg_st_open(&f, test_tmp_path("missing.safetensors"), &err) == -1 && strstr(err.msg, "No such file"),
          "missing file: %s", err.msg);
    CHECK(sg_st_open(&f, test_tmpdir, &err) == -1 && strstr(err.msg, ": is a directory, not a file") &&
          err.sys_errno == EISDIR, "directory: %s", err.msg);

    p = test_tmp_path("huge.safetensors");
    write_raw(p, "{}", 200ull * 1024 * 1024, 0);
    CHECK(sg_st_open(&f, p, &err) == -1 && strstr(err.msg, "exceeds the limit"), "header over limit: %s", err.msg);
    write_raw(p, "{}", 3, 0);
    CHECK(sg_st_open(&f, p, &err) == -1 && strstr(err.msg, "past the end"), "header past end: %s", err.msg);

    const char *t1 = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";
    char h[1024];
    snprintf(h, sizeof h, "{%s}", t1);
    expect_good("one tensor", h, 8);
    snprintf(h, sizeof h, "{%s}      ", t1);
    expect_good("trailing space padding", h, 8);
    snprintf(h, sizeof h, "{\"__metadata__\":{\"format\":\"pt\"},%s}", t1);
    expect_good("metadata first (python's order)", h, 8);
    expect_good("empty file", "{}", 0);
    expect_good("scalar", "{\"s\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]}}", 8);
    expect_good("reverse file order",
                "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
                "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8);

    expect_bad("not JSON", "{\"a\":", 0, "not valid JSON");
    expect_bad("trailing garbage", "{} x", 0, "not valid JSON");
    expect_bad("array header", "[1, 2]", 0, "expected an object");
    expect_bad("duplicate names",
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "duplicate tensor name");
    expect_bad("F16", "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
               "tensor a: dtype \"F16\" is not supported (only F32 and I64)");
    expect_bad("BF16", "{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "not supported");
    expect_bad("dtype number", "{\"a\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "tensor a: key \"dtype\"");
    expect_bad("negative shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
               "tensor a: shape entry 0 is not a non-negative integer");
    expect_bad("fractional shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
               "shape entry 0");
    expect_bad("string shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4,
               "shape entry 0");
    expect_bad("shape not array", "{\"a\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,4]}}", 4,
               "key \"shape\"");
    expect_bad("missing data_offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "missing key \"data_offsets\"");
    expect_bad("unknown field", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4,
               "unknown field \"x\"");
    expect_bad("tensor not object", "{\"a\":[1]}", 0, "tensor a: expected an object");
    expect_bad("three offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4,
               "data_offsets has 3 entries");
    expect_bad("negative offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4,
               "data_offsets entry 0 is not a non-negative integer");
    expect_bad("offsets out of order",
               "{\"main.1.weight\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[64,32]}}", 64,
               "tensor main.1.weight: data_offsets [64, 32] out of order");
    expect_bad("offsets out of bounds", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8,
               "tensor a: data_offsets [0, 16] out of bounds (the data buffer has 8 bytes)");
    /* the bound is exact: one byte past the data buffer is out of bounds, and
     * said so (not only caught later as tensors covering more than the buffer) */
    expect_bad("offsets one byte out of bounds", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 7,
               "tensor a: data_offsets [0, 8] out of bounds (the data buffer has 7 bytes)");
    expect_bad("last tensor one byte out of bounds",
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 7,
               "tensor b: data_offsets [4, 8] out of bounds (the data buffer has 7 bytes)");
    expect_good("offsets ending exactly at the end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
    expect_bad("size mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 12,
               "tensor a: shape [2, 2] of F32 needs 16 bytes, data_offsets [0, 12] hold 12");
    expect_bad("I64 size", "{\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "needs 8 bytes");
    expect_bad("numel overflow",
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
               "needs more than");
    /* A zero in any dimension: no elements and no bytes, however large the
     * other dimensions (their product alone would pass 2^64). */
    expect_good("zero dimension after huge ones",
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776,0],\"data_offsets\":[0,0]}}", 0);
    expect_good("zero dimension first",
                "{\"a\":{\"dtype\":\"I64\",\"shape\":[0,9223372036854775807,9223372036854775807],\"data_offsets\":[4,4]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    expect_bad("zero dimension with bytes",
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776,0],\"data_offsets\":[0,4]}}", 4,
               "tensor a: shape [1099511627776, 1099511627776, 0] of F32 needs 0 bytes, data_offsets [0, 4] hold 4");
    /* genuine overflow: of the element count, of the byte count (2^62 F32s) */
    expect_bad("numel overflow with a 1",
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,4294967296,4294967296,1],\"data_offsets\":[0,4]}}", 4,
               "tensor a: shape [1, 4294967296, 4294967296, 1] of F32 needs more than 18446744073709551615 bytes");
    expect_bad("byte count overflow",
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,0]}}", 0,
               "needs more than 18446744073709551615 bytes, data_offsets [0, 0] hold 0");
    expect_bad("byte count overflow, I64",
               "{\"a\":{\"dtype\":\"I64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,0]}}", 0,
               "needs more than 18446744073709551615 bytes");
    expect_bad("gap",
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, "tensor b: data_offsets [8, 12] leave a gap");
    expect_bad("gap at start", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "leave a gap");
    expect_bad("overlap",
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "overlap tensor a");
    expect_bad("uncovered tail", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 12,
               "the data buffer has 12 bytes but the tensors cover 4");
    expect_bad("metadata number", "{\"__metadata__\":{\"step\":1000}}", 0,
               "__metadata__ value \"step\" is a number, expected a string");
    expect_bad("metadata array", "{\"__metadata__\":[]}", 0, "__metadata__: expected an object of strings, found array");
    expect_bad("too many dims", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
               "9 dimensions");

    /* The file's names and values in messages are escaped (lib/error.h sg_quote_bytes): an
     * ESC sequence in a tensor name once went to the terminal as it was. */
    expect_bad("ESC in a tensor name", "{\"\\u001b[2Ja\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
               "tensor \\x1b[2Ja: dtype \"F16\" is not supported");
    expect_bad("ESC in a field name", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"\\u001b\":1}}", 4,
               "tensor a: unknown field \"\\x1b\"");
    expect_bad("BEL in a dtype", "{\"a\":{\"dtype\":\"F3\\u0007\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "tensor a: dtype \"F3\\x07\" is not supported");
    expect_bad("ESC in a metadata key", "{\"__metadata__\":{\"st\\u001bep\":1}}", 0,
               "__metadata__ value \"st\\x1bep\" is a number");
    expect_bad("UTF-8 and a long name in a gap",
               "{\"\xc3\xa9\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\":"
               "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12,
               "tensor bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb...: data_offsets [8, 12] leave a gap");
    expect_bad("UTF-8 in an overlap",
               "{\"\xc3\xa9\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "tensor b: data_offsets [4, 8] overlap tensor \\xc3\\xa9");
    expect_bad("ESC in a duplicate name",
               "{\"\\u001b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"\\u001b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "duplicate key \"\\x1b\"");

    /* Names with a NUL inside are not the names they start with: a field
     * "dtype\0x" is unknown (it was taken for "dtype" and ignored), a key
     * "__metadata__\0x" is not the metadata (a second one replaced the first) */
    expect_bad("NUL in a field name",
               "{\"a\":{\"dtype\":\"F32\",\"dtype\\u0000x\":\"I64\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "tensor a: unknown field \"dtype\\x00x\"");
    expect_bad("NUL in a metadata key",
               "{\"__metadata__\":{\"k\":\"v\"},\"__metadata__\\u0000x\":{\"k\":\"w\"}}", 0,
               "empty tensor name or NUL in a name");
    /* metadata is read as C strings: a NUL inside would cut a key or a value short */
    expect_bad("NUL in a metadata entry's key", "{\"__metadata__\":{\"k\\u0000x\":\"v\"}}", 0,
               "__metadata__ value \"k\\x00x\": a NUL in the key or the value");
    expect_bad("NUL in a metadata value", "{\"__metadata__\":{\"k\":\"v\\u0000w\"}}", 0,
               "__metadata__ value \"k\": a NUL in the key or the value");

    /* A complete file cut short: the tail is missing. */
    float v[4] = {1, 2, 3, 4};
    sg_st_spec s = {.name = "v", .dtype = SG_ST_F32, .ndim = 1, .shape = {4}, .data = v};
    p = test_tmp_path("trunc.safetensors");
    CHECK(sg_st_write(p, &s, 1, NULL, NULL, 0, &err) == 0, "write: %s", err.msg);
    struct stat st;
    stat(p, &st);
    CHECK(truncate(p, st.st_size - 3) == 0, "truncate");
    CHECK(sg_st_open(&f, p, &err) == -1 && strstr(err.msg, "out of bounds"), "truncated data: %s", err.msg);
    /* cut by exactly one byte */
    CHECK(sg_st_write(p, &s, 1, NULL, NULL, 0, &err) == 0, "write: %s", err.msg);
    stat(p, &st);
    CHECK(truncate(p, st.st_size - 1) == 0, "truncate");
    CHECK(sg_st_open(&f, p, &err) == -1 && strstr(err.msg, "tensor v: data_offsets [0, 16] out of bounds (the data buffer has 15 bytes)"),
          "data cut by one byte: %s", err.msg);
    CHECK(truncate(p, 12) == 0, "truncate");
    CHECK(sg_st_open(&f, p, &err) == -1 && strstr(err.msg, "past the end"), "truncated header: %s", err.msg);
}

/* A tensor with a zero dimension next to huge ones (2^40 x 2^40 x 0) has no
 * elements: written, read back with its shape, between ordinary tensors.
 * Shapes whose size passes what a file can hold are refused by the writer
 * (before, the byte count wrapped around and the writer wrote a header that
 * the reader then refused). */
static void test_zero_and_huge_shapes(void)
{
    float a[3] = {1, 2, 3}, b[2] = {4, 5};
    const int64_t big = 1099511627776LL;    /* 2^40 */
    sg_st_spec specs[3] = {
        {.name = "a", .dtype = SG_ST_F32, .ndim = 1, .shape = {3}, .data = a},
        {.name = "zero", .dtype = SG_ST_F32, .ndim = 3, .shape = {big, big, 0}, .data = NULL},
        {.name = "b", .dtype = SG_ST_F32, .ndim = 1, .shape = {2}, .data = b},
    };
    const char *p = test_tmp_path("zero.safetensors");
    sg_err err = {{0}};
    CHECK(sg_st_write(p, specs, 3, NULL, NULL, 0, &err) == 0, "write 2^40 x 2^40 x 0: %s", err.msg);
    sg_st_file *f = NULL;
    CHECK(sg_st_open(&f, p, &err) == 0, "read back 2^40 x 2^40 x 0: %s", err.msg);
    if (f) {
        long i = sg_st_find(f, "zero");
        CHECK(i >= 0 && f->tensors[i].ndim == 3 && f->tensors[i].shape[0] == big && f->tensors[i].shape[1] == big &&
              f->tensors[i].shape[2] == 0 && f->tensors[i].numel == 0 && f->tensors[i].begin == f->tensors[i].end,
              "the zero tensor read back: %ld", i);
        if (i >= 0) CHECK(sg_st_read(f, (size_t)i, NULL, 0, &err) == 0, "read 0 bytes: %s", err.msg);
        float b2[2] = {0};
        i = sg_st_find(f, "b");
        CHECK(i >= 0 && sg_st_read(f, (size_t)i, b2, sizeof b2, &err) == 0 && !memcmp(b, b2, sizeof b),
              "the tensor after it: %s", err.msg);
        sg_st_close(f);
    }

    static const struct { const char *what; int dtype, ndim; int64_t shape[4]; const char *msg; } over[] = {
        {"2^40 x 2^40", SG_ST_F32, 2, {big, big}, "tensor huge: shape [1099511627776, 1099511627776] of F32 needs more than"},
        {"2^62 F32s", SG_ST_F32, 1, {4611686018427387904LL}, "tensor huge: shape [4611686018427387904] of F32 needs more than"},
        {"2^61 I64s", SG_ST_I64, 1, {2305843009213693952LL}, "needs more than"},
        /* 2^61 F32s: 2^63 bytes, which end past the largest offset a header can hold */
        {"2^61 F32s", SG_ST_F32, 1, {2305843009213693952LL}, "tensor huge: 9223372036854775808 bytes at data offset 12 end past 9223372036854775807"},
    };
    const char *q = test_tmp_path("overflow.safetensors");
    for (size_t c = 0; c < sizeof over / sizeof *over; c++) {
        sg_st_spec h[2] = {specs[0], {.name = "huge", .dtype = over[c].dtype, .ndim = over[c].ndim}};
        memcpy(h[1].shape, over[c].shape, sizeof over[c].shape);
        sg_st_writer *w = NULL;
        err.msg[0] = 0;
        int rc = sg_st_writer_begin(&w, q, h, 2, NULL, NULL, 0, &err);
        CHECK(rc == -1 && strstr(err.msg, over[c].msg) && strstr(err.msg, q) == err.msg, "writer, %s: %s", over[c].what,
              rc ? err.msg : "accepted");
        if (!rc) sg_st_writer_abort(w);
        CHECK(access(q, F_OK) != 0, "writer, %s: a file was left", over[c].what);
    }
    /* the offsets of two tensors that each fit, together past 2^63 - 1 */
    sg_st_spec two[2] = {{.name = "x", .dtype = SG_ST_F32, .ndim = 1, .shape = {1152921504606846976LL}},   /* 2^60 */
                         {.name = "y", .dtype = SG_ST_F32, .ndim = 1, .shape = {1152921504606846976LL}}};
    sg_st_writer *w = NULL;
    int rc = sg_st_writer_begin(&w, q, two, 2, NULL, NULL, 0, &err);
    CHECK(rc == -1 && strstr(err.msg, "tensor y: 4611686018427387904 bytes at data offset 4611686018427387904 end past 9223372036854775807"), "writer, two 2^62-byte tensors: %s",
          rc ? err.msg : "accepted");
    if (!rc) sg_st_writer_abort(w);
}

/* A reference checkpoint given where a safetensors file belongs (sg-sample
 * --ckpt 000100-G.ckpt) said "header length 578712552184433488 exceeds the
 * limit": torch.save's zip archive and legacy pickle are named as such. */
static void test_torch_files(void)
{
    static const unsigned char zip[] = {'P', 'K', 3, 4, 0, 0, 8, 8, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3};
    static const unsigned char pickle[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8};
    struct { const char *name, *kind; const unsigned char *bytes; size_t n; } cases[] = {
        {"000100-G.ckpt", "zip archive", zip, sizeof zip},
        {"legacy-G.ckpt", "pickle", pickle, sizeof pickle},
        {"short.ckpt", "pickle", pickle, 3},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *p = test_tmp_path(cases[k].name);
        FILE *fp = fopen(p, "wb");
        fwrite(cases[k].bytes, 1, cases[k].n, fp);
        fclose(fp);
        char want[512];
        snprintf(want, sizeof want, "%s: a PyTorch checkpoint (%s), not safetensors", p, cases[k].kind);
        sg_st_file *f = NULL;
        sg_err err = {{0}};
        CHECK(sg_st_open(&f, p, &err) == -1 && !strcmp(err.msg, want), "%s: '%s' (want '%s')", cases[k].name,
              err.msg, want);
        const char *kind = sg_st_torch_format(p);
        CHECK(kind && !strcmp(kind, cases[k].kind), "%s: sg_st_torch_format '%s'", cases[k].name, kind ? kind : "NULL");
    }
    /* A safetensors file whose header length begins with the pickle's bytes
     * (640 = 0x0280: 80 02 00 ...) is read as safetensors: its header is JSON. */
    char h[641];
    const char *t1 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    memset(h, ' ', 640);
    memcpy(h, t1, strlen(t1));
    h[640] = 0;
    expect_good("header of 640 bytes (80 02 ...)", h, 8);
    CHECK(sg_st_torch_format(test_tmp_path("good.safetensors")) == NULL, "a safetensors file taken for PyTorch's");
    CHECK(sg_st_torch_format(test_tmp_path("missing.ckpt")) == NULL, "a missing file");
    CHECK(sg_st_torch_format(test_tmpdir) == NULL, "a directory");
}

int main(void)
{
    if (test_tmpdir_make("test_safetensors")) return 1;
    test_round_trip();
    test_writer_errors();
    test_validation();
    test_zero_and_huge_shapes();
    test_torch_files();
    test_tmpdir_remove();
    return check_done();
}
