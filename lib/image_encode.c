#include "image.h"
#include "fileio.h"
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <turbojpeg.h>

void sg_image_free(sg_image *img)
{
    if (!img) return;
    free(img->rgb);
    img->rgb = NULL;
    img->width = img->height = 0;
}

typedef struct { uint8_t *buf; size_t len, cap; int oom; } membuf;

static void membuf_write(png_structp png, png_bytep data, png_size_t n)
{
    membuf *m = png_get_io_ptr(png);
    if (m->oom) return;
    if (m->len + n > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + n) cap *= 2;
        uint8_t *nb = realloc(m->buf, cap);
        if (!nb) { m->oom = 1; return; }
        m->buf = nb; m->cap = cap;
    }
    memcpy(m->buf + m->len, data, n);
    m->len += n;
}

static void membuf_flush(png_structp png) { (void)png; }

int sg_png_encode(const uint8_t *rgb, int width, int height, uint8_t **out, size_t *out_len, sg_err *err)
{
    if (width <= 0 || height <= 0) return sg_errf(err, "PNG: bad size %dx%d", width, height);
    membuf m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep *rows = malloc(sizeof *rows * (size_t)height);
    if (!png || !info || !rows) {
        png_destroy_write_struct(&png, &info); free(rows);
        return sg_errf(err, "PNG: out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info); free(rows); free(m.buf);
        return sg_errf(err, "PNG: encoding failed");
    }
    png_set_write_fn(png, &m, membuf_write, membuf_flush);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 6);
    for (int y = 0; y < height; y++) rows[y] = (png_bytep)(rgb + (size_t)y * width * 3);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    if (m.oom) { free(m.buf); return sg_errf(err, "PNG: out of memory"); }
    *out = m.buf; *out_len = m.len;
    return 0;
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
    if (!*out) { tjFree(buf); return sg_errf(err, "JPEG: out of memory"); }
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

int sg_image_write(const char *path, const uint8_t *rgb, int width, int height, sg_err *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int jpeg = ends_with_ci(path, ".jpg") || ends_with_ci(path, ".jpeg");
    int rc = jpeg ? sg_jpeg_encode(rgb, width, height, 95, &data, &len, err)
                  : sg_png_encode(rgb, width, height, &data, &len, err);
    if (rc) return sg_err_prefix(err, "%s", path);
    if (strcmp(path, "-") == 0) {
        rc = fwrite(data, 1, len, stdout) == len && fflush(stdout) == 0 ? 0
             : sg_errno(err, "<stdout>");
    } else {
        rc = sg_write_file_atomic(path, data, len, err);
    }
    free(data);
    return rc;
}
