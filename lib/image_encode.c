#include "image.h"
#include "fileio.h"
#include "png_stream.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <turbojpeg.h>
#include <zlib.h>

void sg_image_free(sg_image *img)
{
    if (!img) return;
    free(img->rgb);
    img->rgb = NULL;
    img->width = img->height = 0;
}

/* Through the row-by-row writer (lib/png_stream.h), so that its bytes and
 * these are one and the same. */
int sg_png_encode(const uint8_t *rgb, int width, int height, uint8_t **out, size_t *out_len, sg_err *err)
{
    sg_png_writer *w;
    if (sg_png_writer_begin(&w, width, height, err)) return -1;
    if (sg_png_writer_rows(w, rgb, height, err)) { sg_png_writer_free(w); return -1; }
    return sg_png_writer_end(w, out, out_len, err);
}

int sg_jpeg_encode(const uint8_t *rgb, int width, int height, int quality, uint8_t **out, size_t *out_len, sg_err *err)
{
    tjhandle tj = tjInitCompress();
    if (!tj) return sg_errf(err, "JPEG: cannot initialise TurboJPEG");
    unsigned char *buf = NULL;
    unsigned long len = 0;
    int rc = tjCompress2(tj, rgb, width, 0, height, TJPF_RGB, &buf, &len, TJSAMP_420, quality, TJFLAG_ACCURATEDCT);
    if (rc != 0) {
        sg_errf(err, "JPEG: %s", tjGetErrorStr2(tj));
        tjFree(buf); tjDestroy(tj);
        return -1;
    }
    tjDestroy(tj);
    /* Hand back malloc'd memory so callers free() every encoder's output alike. */
    *out = malloc(len ? len : 1);
    if (!*out) { tjFree(buf); return sg_err_oom(err, "JPEG: out of memory"); }
    memcpy(*out, buf, len);
    tjFree(buf);
    *out_len = len;
    return 0;
}

static int ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

int sg_image_path_is_jpeg(const char *path)
{
    return ends_with_ci(path, ".jpg") || ends_with_ci(path, ".jpeg");
}

int sg_image_write_encoded(const char *path, const uint8_t *data, size_t len, sg_err *err)
{
    if (strcmp(path, "-") == 0)
        return fwrite(data, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : sg_errno(err, "<stdout>");
    return sg_write_file_atomic(path, data, len, err);
}

int sg_image_write(const char *path, const uint8_t *rgb, int width, int height, sg_err *err)
{
    return sg_image_write_commented(path, rgb, width, height, NULL, err);
}

int sg_image_write_commented(const char *path, const uint8_t *rgb, int width, int height, const char *comment,
                             sg_err *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = sg_image_path_is_jpeg(path) ? sg_jpeg_encode(rgb, width, height, 95, &data, &len, err)
                                         : sg_png_encode(rgb, width, height, &data, &len, err);
    if (!rc && comment) rc = sg_image_add_comment(&data, &len, comment, err);
    if (rc) { free(data); return sg_err_prefix(err, "%s", path); }
    rc = sg_image_write_encoded(path, data, len, err);
    free(data);
    return rc;
}

/* ---- comments --------------------------------------------------------------- */

static const uint8_t png_signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
static const char png_comment_key[] = "Comment";   /* a registered tEXt keyword */

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void put_be32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = (uint8_t)v; }

/* Inserts n bytes of ins at offset at of *data. */
static int splice(uint8_t **data, size_t *len, size_t at, const uint8_t *ins, size_t n, sg_err *err)
{
    uint8_t *d = realloc(*data, *len + n);
    if (!d) return sg_err_oom(err, "out of memory");
    memmove(d + at + n, d + at, *len - at);
    memcpy(d + at, ins, n);
    *data = d;
    *len += n;
    return 0;
}

/* Where a JPEG's COM goes: after SOI and, if there, the JFIF APP0 (which must
 * come first); 0 when data is no JPEG written as sg_jpeg_encode writes one. */
static size_t jpeg_comment_offset(const uint8_t *d, size_t len)
{
    if (len < 4 || d[0] != 0xff || d[1] != 0xd8) return 0;
    size_t at = 2;
    if (d[2] == 0xff && d[3] == 0xe0) {
        if (len < 6) return 0;
        at += 2 + ((size_t)d[4] << 8 | d[5]);
        if (at > len) return 0;
    }
    return at;
}

int sg_image_add_comment(uint8_t **data, size_t *len, const char *text, sg_err *err)
{
    size_t n = strlen(text);
    if (n > 1000) return sg_errf(err, "image comment of %zu bytes (at most 1000)", n);
    for (size_t i = 0; i < n; i++)
        if (text[i] < 0x20 || text[i] > 0x7e) return sg_errf(err, "image comment: not printable ASCII");
    uint8_t chunk[12 + sizeof png_comment_key + 1000];
    if (*len >= 33 && !memcmp(*data, png_signature, 8) && !memcmp(*data + 12, "IHDR", 4) && be32(*data + 8) == 13) {
        /* length, "tEXt", keyword NUL text, CRC of type and data */
        size_t body = sizeof png_comment_key + n;
        put_be32(chunk, (uint32_t)body);
        memcpy(chunk + 4, "tEXt", 4);
        memcpy(chunk + 8, png_comment_key, sizeof png_comment_key);
        memcpy(chunk + 8 + sizeof png_comment_key, text, n);
        put_be32(chunk + 8 + body, (uint32_t)crc32(0, chunk + 4, (uInt)(4 + body)));
        return splice(data, len, 33, chunk, 12 + body, err);
    }
    size_t at = jpeg_comment_offset(*data, *len);
    if (!at) return sg_errf(err, "image comment: neither a PNG nor a JPEG");
    chunk[0] = 0xff;
    chunk[1] = 0xfe;
    chunk[2] = (uint8_t)((n + 2) >> 8);
    chunk[3] = (uint8_t)(n + 2);
    memcpy(chunk + 4, text, n);
    return splice(data, len, at, chunk, 4 + n, err);
}

int sg_image_has_comment(const uint8_t *d, size_t len, const char *text)
{
    size_t n = strlen(text);
    if (len >= 8 && !memcmp(d, png_signature, 8)) {
        for (size_t at = 8; at + 12 <= len;) {
            size_t body = be32(d + at);
            if (!memcmp(d + at + 4, "IDAT", 4) || !memcmp(d + at + 4, "IEND", 4) || body > len - at - 12) return 0;
            if (!memcmp(d + at + 4, "tEXt", 4) && body == sizeof png_comment_key + n &&
                !memcmp(d + at + 8, png_comment_key, sizeof png_comment_key) &&
                !memcmp(d + at + 8 + sizeof png_comment_key, text, n))
                return 1;
            at += 12 + body;
        }
        return 0;
    }
    if (len < 4 || d[0] != 0xff || d[1] != 0xd8) return 0;
    for (size_t at = 2; at + 4 <= len && d[at] == 0xff;) {
        uint8_t marker = d[at + 1];
        if (marker == 0xda || marker == 0xd9) return 0;   /* SOS, EOI: past the header */
        size_t seg = (size_t)d[at + 2] << 8 | d[at + 3];
        if (seg < 2 || seg > len - at - 2) return 0;
        if (marker == 0xfe && seg == n + 2 && !memcmp(d + at + 4, text, n)) return 1;
        at += 2 + seg;
    }
    return 0;
}

int sg_image_file_has_comment(const char *path, const char *text)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    static const size_t cap = 64 << 10;
    uint8_t *buf = malloc(cap);
    size_t n = buf ? fread(buf, 1, cap, f) : 0;
    fclose(f);
    int has = buf && sg_image_has_comment(buf, n, text);
    free(buf);
    return has;
}
