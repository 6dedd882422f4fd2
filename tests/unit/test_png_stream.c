/* PNG row by row and behind a producer (lib/png_stream.h): the same bytes as
 * libpng's png_write_image of the whole image with sg_png_encode's settings
 * (what sg_png_encode did before it went through the writer), in any split
 * of the rows; refusals; a decode round trip. */
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "image.h"
#include "png_stream.h"

typedef struct { uint8_t *buf; size_t len, cap; } outbuf;

static void out_write(png_structp png, png_bytep data, png_size_t n)
{
    outbuf *o = png_get_io_ptr(png);
    if (o->len + n > o->cap) {
        o->cap = (o->len + n) * 2;
        o->buf = realloc(o->buf, o->cap);
    }
    memcpy(o->buf + o->len, data, n);
    o->len += n;
}
static void out_flush(png_structp png) { (void)png; }

/* The reference: the whole image through png_write_image, level 6, default filters. */
static outbuf reference_png(const uint8_t *rgb, int w, int h)
{
    outbuf o = { 0 };
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_bytep *rows = malloc(sizeof *rows * (size_t)h);
    if (setjmp(png_jmpbuf(png))) { printf("reference encoder failed\n"); exit(1); }
    png_set_write_fn(png, &o, out_write, out_flush);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 6);
    for (int y = 0; y < h; y++) rows[y] = (png_bytep)(rgb + (size_t)y * w * 3);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    return o;
}

/* Smooth areas, flat areas and noise, so that every filter type is chosen somewhere. */
static uint8_t *make_image(int w, int h, unsigned seed)
{
    uint8_t *p = malloc((size_t)w * h * 3);
    unsigned s = seed;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                s = s * 1103515245u + 12345u;
                uint8_t v = y < h / 3 ? (uint8_t)(x * 3 + y * c) : y < 2 * h / 3 ? (uint8_t)(40 * c) : (uint8_t)(s >> 16);
                p[((size_t)y * w + x) * 3 + c] = v;
            }
    return p;
}

static int same(const uint8_t *a, size_t na, const outbuf *ref) { return na == ref->len && memcmp(a, ref->buf, na) == 0; }

static void check_size(int w, int h)
{
    sg_err err = { { 0 } };
    uint8_t *rgb = make_image(w, h, (unsigned)(w * 31 + h));
    outbuf ref = reference_png(rgb, w, h);
    uint8_t *out = NULL;
    size_t len = 0;

    CHECK(sg_png_encode(rgb, w, h, &out, &len, &err) == 0, "%dx%d: %s", w, h, err.msg);
    CHECK(same(out, len, &ref), "%dx%d: sg_png_encode: %zu bytes, the reference %zu or other bytes", w, h, len, ref.len);
    free(out);

    /* rows in pieces of 1, 2, 3, ... */
    sg_png_writer *wr;
    CHECK(sg_png_writer_begin(&wr, w, h, &err) == 0, "%s", err.msg);
    int ok = 1;
    for (int y = 0, n = 1; y < h; y += n, n++) {
        int k = n < h - y ? n : h - y;
        ok &= sg_png_writer_rows(wr, rgb + (size_t)y * w * 3, k, &err) == 0;
        if (k < n) break;
    }
    CHECK(ok, "%dx%d: writer rows: %s", w, h, err.msg);
    CHECK(sg_png_writer_end(wr, &out, &len, &err) == 0, "%dx%d: writer end: %s", w, h, err.msg);
    CHECK(same(out, len, &ref), "%dx%d: writer in pieces: %zu bytes, the reference %zu or other bytes", w, h, len, ref.len);
    free(out);

    /* behind a producer that fills the rows as it declares them final */
    for (int step = 1; step <= h + 1; step = step * 3 + 1) {
        uint8_t *canvas = calloc((size_t)w * h * 3, 1);
        sg_png_background *bg;
        CHECK(sg_png_background_begin(&bg, canvas, w, h, &err) == 0, "%s", err.msg);
        for (int y = 0; y < h; y += step) {
            int k = step < h - y ? step : h - y;
            memcpy(canvas + (size_t)y * w * 3, rgb + (size_t)y * w * 3, (size_t)k * w * 3);
            sg_png_background_ready(bg, y + k);
        }
        sg_png_background_ready(bg, h + 5);   /* clipped */
        CHECK(sg_png_background_end(bg, &out, &len, &err) == 0, "%dx%d step %d: %s", w, h, step, err.msg);
        CHECK(same(out, len, &ref), "%dx%d: background, %d rows at a time: %zu bytes, the reference %zu or other bytes",
              w, h, step, len, ref.len);
        free(out);
        free(canvas);
    }
    /* nothing declared until the end: all encoded by end() */
    sg_png_background *bg;
    CHECK(sg_png_background_begin(&bg, rgb, w, h, &err) == 0, "%s", err.msg);
    CHECK(sg_png_background_end(bg, &out, &len, &err) == 0, "%s", err.msg);
    CHECK(same(out, len, &ref), "%dx%d: background, all at the end", w, h);

    sg_image img = { 0 };
    CHECK(sg_image_decode(out, len, &img, &err) == 0, "%s", err.msg);
    CHECK(img.width == w && img.height == h && img.rgb && !memcmp(img.rgb, rgb, (size_t)w * h * 3),
          "%dx%d: the decoded pixels differ", w, h);
    sg_image_free(&img);
    free(out);
    free(ref.buf);
    free(rgb);
}

int main(void)
{
    check_size(1, 1);
    check_size(37, 23);
    check_size(300, 211);   /* several of the background thread's chunks */

    sg_err err = { { 0 } };
    uint8_t px[2 * 3 * 3] = { 0 }, *out = NULL;
    size_t len = 0;
    sg_png_writer *w;
    CHECK(sg_png_writer_begin(&w, 0, 3, &err) == -1 && strstr(err.msg, "bad size"), "0x3 accepted (%s)", err.msg);
    CHECK(sg_png_writer_begin(&w, 2, 3, &err) == 0, "%s", err.msg);
    CHECK(sg_png_writer_rows(w, px, 4, &err) == -1 && strstr(err.msg, "4 more rows"), "a 4th row accepted (%s)", err.msg);
    CHECK(sg_png_writer_rows(w, px, 2, &err) == 0, "%s", err.msg);
    CHECK(sg_png_writer_end(w, &out, &len, &err) == -1 && strstr(err.msg, "2 of 3 rows"),
          "ended with a row missing (%s)", err.msg);
    return check_done();
}
