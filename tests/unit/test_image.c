/* Decoding and CenterCrop+Resize against golden data made with PIL
 * (tests/golden/make_resize_golden.py): every pixel must be equal. */
#include "check.h"
#include "image.h"
#include "image_decode_testing.h"
#include "resize_testing.h"
#include "fileio.h"
#include "shard.h"
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <jpeglib.h>
#include <zlib.h>

#define GOLDEN "tests/golden/resize/"

/* libjpeg's jpeg_read_header as the library calls it (this definition in the
 * test binary comes before libjpeg's): counts the headers read. */
static int jpeg_headers_read;

int jpeg_read_header(j_decompress_ptr cinfo, boolean require_image)
{
    static int (*real)(j_decompress_ptr, boolean);
    if (!real) real = (int (*)(j_decompress_ptr, boolean))dlsym(RTLD_NEXT, "jpeg_read_header");
    if (!real) { errno = ENOSYS; return JPEG_SUSPENDED; }
    jpeg_headers_read++;
    return real(cinfo, require_image);
}

/* Compares two RGB8 buffers; on failure prints the first and the worst differing pixel. */
static void check_pixels(const char *what, const uint8_t *got, const uint8_t *want, int w, int h)
{
    long n = (long)w * h * 3, bad = 0, worst = -1, first = -1;
    int worst_d = 0;
    for (long i = 0; i < n; i++) {
        int d = abs((int)got[i] - (int)want[i]);
        if (d) {
            bad++;
            if (first < 0) first = i;
            if (d > worst_d) { worst_d = d; worst = i; }
        }
    }
    CHECK(bad == 0, "%s: %ld of %ld values differ; first at x=%ld y=%ld c=%ld; worst |diff| %d at x=%ld y=%ld c=%ld (got %d want %d); tolerance 0",
          what, bad, n, first >= 0 ? first / 3 % w : -1, first >= 0 ? first / 3 / w : -1, first % 3,
          worst_d, worst >= 0 ? worst / 3 % w : -1, worst >= 0 ? worst / 3 / w : -1, worst % 3,
          worst >= 0 ? got[worst] : 0, worst >= 0 ? want[worst] : 0);
}

static int read_golden(const char *name, sg_image *img)
{
    char path[512];
    sg_err err;
    snprintf(path, sizeof path, GOLDEN "%s", name);
    if (sg_image_read_file(path, img, &err)) {
        CHECK(0, "reading golden %s: %s", path, err.msg);
        return -1;
    }
    return 0;
}

static void test_golden_cases(int scalar)
{
    sg_resize_force_scalar(scalar);
    FILE *f = fopen(GOLDEN "cases.txt", "r");
    CHECK(f != NULL, "cannot open " GOLDEN "cases.txt (run from the repository root)");
    if (!f) return;
    char line[512];
    int n_decode = 0, n_resize = 0;
    while (fgets(line, sizeof line, f)) {
        char kind[16], in[128], exp[128];
        int cw, ch, ow, oh;
        sg_image src, want, got;
        if (sscanf(line, "decode %127s %127s", in, exp) == 2) {
            if (read_golden(in, &src) || read_golden(exp, &want)) continue;
            CHECK(src.width == want.width && src.height == want.height, "decode %s: size %dx%d, PIL %dx%d",
                  in, src.width, src.height, want.width, want.height);
            if (src.width == want.width && src.height == want.height)
                check_pixels(in, src.rgb, want.rgb, src.width, src.height);
            sg_image_free(&src); sg_image_free(&want);
            n_decode++;
        } else if (sscanf(line, "%15s %127s %d %d %d %d %127s", kind, in, &cw, &ch, &ow, &oh, exp) == 7) {
            if (read_golden(in, &src) || read_golden(exp, &want)) continue;
            sg_err err;
            char what[256];
            snprintf(what, sizeof what, "%s crop %dx%d resize %dx%d (%s)", in, cw, ch, ow, oh, scalar ? "portable" : "SIMD if available");
            int rc = sg_center_crop_resize(&src, cw, ch, ow, oh, &got, &err);
            CHECK(rc == 0, "%s: %s", what, err.msg);
            if (rc == 0) {
                CHECK(want.width == ow && want.height == oh, "%s: golden is %dx%d", what, want.width, want.height);
                if (want.width == ow && want.height == oh) check_pixels(what, got.rgb, want.rgb, ow, oh);
            }
            /* in place (out == in): the same pixels, src's old ones freed */
            rc = sg_center_crop_resize(&src, cw, ch, ow, oh, &src, &err);
            CHECK(rc == 0 && src.width == ow && src.height == oh, "%s in place: rc %d, %dx%d: %s", what, rc, src.width,
                  src.height, rc ? err.msg : "");
            if (rc == 0 && want.width == ow && want.height == oh) check_pixels(what, src.rgb, want.rgb, ow, oh);
            sg_image_free(&src); sg_image_free(&want); sg_image_free(&got);
            n_resize++;
        }
    }
    fclose(f);
    sg_resize_force_scalar(0);
    CHECK(n_decode >= 4 && n_resize >= 15, "golden cases: %d decode, %d resize (expected >= 4, >= 15)", n_decode, n_resize);
}

/* A failed crop in place leaves the image as it was (the caller still owns
 * and frees its pixels); into another image, that one is emptied. */
static void test_crop_in_place_failure(void)
{
    sg_image img = { 4, 3, malloc(4 * 3 * 3) };
    if (!img.rgb) { CHECK(0, "out of memory"); return; }
    memset(img.rgb, 7, 4 * 3 * 3);
    uint8_t *pixels = img.rgb;
    sg_err err;
    CHECK(sg_center_crop_resize(&img, 0, 3, 2, 2, &img, &err) == -1, "a 0-wide crop accepted");
    CHECK(img.rgb == pixels && img.width == 4 && img.height == 3 && img.rgb[35] == 7,
          "a failed crop in place changed the image: %p %dx%d", (void *)img.rgb, img.width, img.height);
    sg_image other = { 9, 9, NULL };
    CHECK(sg_center_crop_resize(&img, 0, 3, 2, 2, &other, &err) == -1 && other.rgb == NULL && other.width == 0 &&
          other.height == 0, "a failed crop into another image left it %dx%d", other.width, other.height);
    sg_image_free(&img);
}

/* torchvision: int(round((in - crop) / 2.0)) with ties to even; padding when crop > in. */
static void test_crop_offsets(void)
{
    static const int cases[][3] = {
        /* in, crop, offset */
        {218, 178, 20}, {178, 178, 0}, {23, 20, 2} /* 1.5 -> 2 */, {37, 20, 8} /* 8.5 -> 8 */,
        {1024, 256, 384}, {681, 256, 212} /* 212.5 -> 212 */, {10, 9, 0} /* 0.5 -> 0 */,
        {12, 9, 2} /* 1.5 -> 2 */, {14, 9, 2} /* 2.5 -> 2 */, {16, 9, 4} /* 3.5 -> 4 */,
        {178, 200, -11}, {178, 201, -11} /* pad 11 left, 12 right */, {1, 4, -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = sg_center_crop_offset(cases[i][0], cases[i][1]);
        CHECK(got == cases[i][2], "center crop offset in=%d crop=%d: got %d want %d",
              cases[i][0], cases[i][1], got, cases[i][2]);
    }
}

/* Applying a plan to only the source rows it declares gives the same output:
 * what lets celeb-pack decode fewer rows. */
static void test_partial_rows(void)
{
    sg_image src, full;
    sg_err err;
    if (read_golden("celeba.jpg", &src)) return;
    sg_resize_plan plan;
    CHECK(sg_resize_plan_init(&plan, src.width, src.height, 178, 178, 128, 128, &err) == 0, "%s", err.msg);
    int first, last;
    sg_resize_plan_source_rows(&plan, &first, &last);
    CHECK(first >= 20 && last <= 198 && last > first, "source rows [%d, %d) outside the crop [20, 198)", first, last);
    size_t stride = (size_t)src.width * 3;
    uint8_t *part = malloc(stride * (last - first));
    uint8_t *scratch = malloc(sg_resize_plan_scratch_size(&plan));
    uint8_t *out = malloc(128 * 128 * 3);
    memcpy(part, src.rgb + first * stride, stride * (last - first));
    sg_resize_apply(&plan, part, first, out, scratch);
    CHECK(sg_center_crop_resize(&src, 178, 178, 128, 128, &full, &err) == 0, "%s", err.msg);
    check_pixels("partial rows", out, full.rgb, 128, 128);
    free(part); free(scratch); free(out);
    sg_image_free(&full); sg_image_free(&src);
    sg_resize_plan_free(&plan);
}

/* sg_preprocess decodes only the rows the resize reads (libjpeg scanline API);
 * its output must equal decoding everything, for every golden JPEG and a range
 * of crops (different numbers of skipped rows, padding, upscaling). */
static void test_preprocess_partial(void)
{
    static const char *const files[] = {"celeba.jpg", "odd.jpg", "grey.jpg", "rafd.jpg", "small.png"};
    static const int cfg[][2] = {{178, 128}, {178, 64}, {150, 32}, {100, 160}, {200, 96}, {256, 128}, {20, 13}};
    int compared = 0;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char path[256];
        uint8_t *data;
        size_t len;
        sg_err err;
        snprintf(path, sizeof path, GOLDEN "%s", files[f]);
        if (sg_read_file(path, 1 << 24, &data, &len, &err)) { CHECK(0, "%s", err.msg); continue; }
        for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
            int crop = cfg[c][0], size = cfg[c][1];
            sg_preprocessor part, full;
            sg_preprocessor_init(&part, crop, crop, size, size);
            sg_preprocessor_init(&full, crop, crop, size, size);
            full.full_decode = 1;
            uint8_t *a = malloc((size_t)size * size * 3), *b = malloc((size_t)size * size * 3);
            sg_image img, ref;
            int ra = sg_preprocess(&part, data, len, a, &err);
            CHECK(ra == 0, "%s: %s", path, err.msg);
            int rb = sg_preprocess(&full, data, len, b, &err);
            CHECK(rb == 0, "%s: %s", path, err.msg);
            int rc = sg_image_decode(data, len, &img, &err) || sg_center_crop_resize(&img, crop, crop, size, size, &ref, &err);
            CHECK(rc == 0, "%s: %s", path, err.msg);
            if (!ra && !rb && !rc) {
                char what[300];
                snprintf(what, sizeof what, "%s crop %d size %d: partial decode vs full", files[f], crop, size);
                check_pixels(what, a, b, size, size);
                snprintf(what, sizeof what, "%s crop %d size %d: sg_preprocess vs sg_image_decode", files[f], crop, size);
                check_pixels(what, a, ref.rgb, size, size);
                sg_image_free(&img); sg_image_free(&ref);
                compared++;
            }
            free(a); free(b);
            sg_preprocessor_free(&part);
            sg_preprocessor_free(&full);
        }
        /* Truncated: no end-of-image marker, so the whole file is decoded and
         * the truncation is an error, as with a full decode. */
        if (files[f][strlen(files[f]) - 1] == 'g' && strstr(files[f], ".jpg")) {
            sg_preprocessor p;
            sg_preprocessor_init(&p, 178, 178, 64, 64);
            uint8_t out[64 * 64 * 3];
            int rc = sg_preprocess(&p, data, len * 2 / 3, out, &err);
            CHECK(rc == -1 && strstr(err.msg, "corrupt or truncated"), "%s truncated to 2/3: rc %d %s", files[f], rc, rc ? err.msg : "");
            sg_preprocessor_free(&p);
        }
        free(data);
    }
    CHECK(compared == 35, "compared %d cases (expected 35)", compared);
}

static void test_decode_errors(void)
{
    uint8_t *data;
    size_t len;
    sg_err err;
    sg_image img;
    char tmp[] = "/tmp/test_image_XXXXXX";
    int fd = mkstemp(tmp);
    CHECK(fd >= 0, "mkstemp");
    if (fd < 0) return;
    close(fd);
    if (sg_read_file(GOLDEN "celeba.jpg", 1 << 24, &data, &len, &err)) { CHECK(0, "%s", err.msg); return; }

    /* Truncated JPEG: libjpeg only warns ("Premature end of JPEG file"); we refuse. */
    CHECK(sg_write_file_atomic(tmp, data, len / 2, &err) == 0, "%s", err.msg);
    CHECK(sg_image_read_file(tmp, &img, &err) == -1, "truncated JPEG decoded without error");
    CHECK(strstr(err.msg, tmp) != NULL && strstr(err.msg, "JPEG") != NULL, "message should name the file: %s", err.msg);

    /* Corrupt header. */
    data[3] ^= 0xff; data[4] ^= 0x55; data[5] ^= 0xaa;
    CHECK(sg_image_decode(data, 64, &img, &err) == -1, "corrupt JPEG header decoded");

    /* Not an image, empty. */
    CHECK(sg_image_decode((const uint8_t *)"hello world", 11, &img, &err) == -1 &&
          strstr(err.msg, "not a JPEG or PNG") != NULL, "text accepted as image: %s", err.msg);
    CHECK(sg_image_decode(data, 0, &img, &err) == -1, "empty input accepted");
    free(data);

    /* Truncated PNG. */
    if (sg_read_file(GOLDEN "small.png", 1 << 24, &data, &len, &err) == 0) {
        CHECK(sg_image_decode(data, len - 20, &img, &err) == -1, "truncated PNG decoded");
        /* A PNG header claiming 20000x20000 is refused before allocating. */
        uint8_t big[64];
        memcpy(big, data, 33);
        big[16] = 0; big[17] = 0; big[18] = 0x4e; big[19] = 0x20;
        big[20] = 0; big[21] = 0; big[22] = 0x4e; big[23] = 0x20;
        CHECK(sg_image_decode(big, 33, &img, &err) == -1, "20000x20000 PNG accepted");
        free(data);
    }
    /* A missing file names the file. */
    CHECK(sg_image_read_file("/nonexistent/x.jpg", &img, &err) == -1 && strstr(err.msg, "/nonexistent/x.jpg"),
          "missing file: %s", err.msg);
    unlink(tmp);
}

static uint32_t be32_at(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* A PNG whose IHDR says w x h (the CRC fixed, so that only the size is wrong),
 * made from a valid 4x3 PNG: its IDAT no longer matches, which does not matter
 * when the size is refused first. */
static void png_with_size(uint8_t *png, uint32_t w, uint32_t h)
{
    for (int k = 0; k < 4; k++) {
        png[16 + k] = (uint8_t)(w >> (24 - 8 * k));
        png[20 + k] = (uint8_t)(h >> (24 - 8 * k));
    }
    uint32_t c = sg_crc32(0, png + 12, 17);     /* "IHDR" + 13 data bytes */
    for (int k = 0; k < 4; k++) png[29 + k] = (uint8_t)(c >> (24 - 8 * k));
}

/* The JPEG's first SOFn frame says w x h (JPEG sides are 16-bit). */
static int jpeg_with_size(uint8_t *jpg, size_t len, unsigned w, unsigned h)
{
    for (size_t at = 2; at + 9 <= len && jpg[at] == 0xff;) {
        uint8_t m = jpg[at + 1];
        if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
            jpg[at + 5] = (uint8_t)(h >> 8); jpg[at + 6] = (uint8_t)h;
            jpg[at + 7] = (uint8_t)(w >> 8); jpg[at + 8] = (uint8_t)w;
            return 0;
        }
        at += 2 + ((size_t)jpg[at + 2] << 8 | jpg[at + 3]);
    }
    return -1;
}

/* sg_image_probe refuses, with the decoder's own message, every image that the
 * decoders refuse for its size (sides, pixel count, zero), and accepts the
 * largest sizes the limits allow. */
static void test_probe_size_limits(void)
{
    uint8_t rgb[4 * 3 * 3] = {0};
    uint8_t *png = NULL, *jpg = NULL;
    size_t png_len = 0, jpg_len = 0;
    sg_err err;
    if (sg_png_encode(rgb, 4, 3, &png, &png_len, &err) || sg_jpeg_encode(rgb, 4, 3, 90, &jpg, &jpg_len, &err)) {
        CHECK(0, "encoding the test images: %s", err.msg);
        return;
    }
    CHECK(png_len > 33 && memcmp(png + 12, "IHDR", 4) == 0, "the PNG does not start with IHDR");
    /* jpeg_own: a JPEG frame of zero size is refused by libjpeg itself (its
     * message, the same from all three) before our check sees it */
    static const struct { uint32_t w, h; const char *msg; int jpeg_own; } cases[] = {
        {20000, 3, "image is 20000x3; sides above 16384 are refused", 0},
        {3, 16385, "image is 3x16385; sides above 16384 are refused", 0},
        {16384, 16384, "image is 16384x16384; more than 67108864 pixels are refused", 0},
        {8193, 8192, "image is 8193x8192; more than 67108864 pixels are refused", 0},
        {0, 3, "bad image size 0x3", 1},
        {4, 0, "bad image size 4x0", 1},
        {0x80000000u, 3, "image is 2147483648x3; sides above 16384 are refused", 0},     /* PNG only: above 2^31 - 1 */
        {0xffffffffu, 0xffffffffu, "image is 4294967295x4294967295; sides above 16384 are refused", 0},
        {16384, 4096, NULL, 0},     /* exactly the limits: only the (missing) pixel data is wrong */
    };
    sg_preprocessor pp;
    sg_preprocessor_init(&pp, 2, 2, 2, 2);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        for (int fmt = 0; fmt < 2; fmt++) {
            if (fmt == 1 && (cases[c].w > 65535 || cases[c].h > 65535)) continue;
            uint8_t *d = fmt ? jpg : png;
            size_t n = fmt ? jpg_len : png_len;
            if (fmt) CHECK(jpeg_with_size(d, n, cases[c].w, cases[c].h) == 0, "no SOF in the JPEG");
            else png_with_size(d, cases[c].w, cases[c].h);
            const char *what = fmt ? "JPEG" : "PNG";
            sg_image img;
            sg_err derr = {{0}}, perr = {{0}}, prerr = {{0}};
            int w = -1, h = -1;
            uint8_t out[2 * 2 * 3];
            int rc = sg_image_decode(d, n, &img, &derr);
            int probe_rc = sg_image_probe(d, n, &w, &h, &perr);
            int pre_rc = sg_preprocess(&pp, d, n, out, &prerr);
            if (!rc) sg_image_free(&img);
            if (fmt == 1 && cases[c].jpeg_own) {
                CHECK(rc == -1 && probe_rc == -1 && pre_rc == -1 && strcmp(derr.msg, perr.msg) == 0 &&
                      strcmp(derr.msg, prerr.msg) == 0, "%s %ux%u: decode \"%s\", probe \"%s\", preprocess \"%s\"",
                      what, cases[c].w, cases[c].h, rc ? derr.msg : "accepted", probe_rc ? perr.msg : "accepted",
                      pre_rc ? prerr.msg : "accepted");
            } else if (cases[c].msg) {
                CHECK(rc == -1 && strcmp(derr.msg, cases[c].msg) == 0, "%s %ux%u: decode \"%s\", want \"%s\"", what,
                      cases[c].w, cases[c].h, rc ? derr.msg : "accepted", cases[c].msg);
                CHECK(probe_rc == -1 && strcmp(perr.msg, cases[c].msg) == 0, "%s %ux%u: probe \"%s\" (%dx%d), want \"%s\"",
                      what, cases[c].w, cases[c].h, probe_rc ? perr.msg : "accepted", w, h, cases[c].msg);
                CHECK(pre_rc == -1 && strcmp(prerr.msg, cases[c].msg) == 0, "%s %ux%u: preprocess \"%s\", want \"%s\"", what,
                      cases[c].w, cases[c].h, pre_rc ? prerr.msg : "accepted", cases[c].msg);
            } else {
                CHECK(probe_rc == 0 && w == (int)cases[c].w && h == (int)cases[c].h, "%s %ux%u: probe \"%s\" %dx%d", what,
                      cases[c].w, cases[c].h, probe_rc ? perr.msg : "", w, h);
                CHECK(rc == -1 && !strstr(derr.msg, "refused") && !strstr(derr.msg, "image size"),
                      "%s %ux%u within the limits: decode \"%s\"", what, cases[c].w, cases[c].h, rc ? derr.msg : "accepted");
            }
        }
    }
    /* IHDR must be the first chunk (PNG spec): a PNG with another chunk before
     * it is refused by both, with one message, not measured by one and decoded
     * by the other. */
    png_with_size(png, 4, 3);
    uint8_t moved[256];
    static const uint8_t chunk[12] = {0, 0, 0, 0, 'a', 'b', 'C', 'd', 0, 0, 0, 0};
    memcpy(moved, png, 8);
    memcpy(moved + 8, chunk, 12);
    uint32_t c = sg_crc32(0, chunk + 4, 4);
    for (int k = 0; k < 4; k++) moved[16 + k] = (uint8_t)(c >> (24 - 8 * k));
    if (png_len + 12 <= sizeof moved) {
        memcpy(moved + 20, png + 8, png_len - 8);
        sg_image img;
        sg_err derr = {{0}}, perr = {{0}};
        int w = -1, h = -1;
        int rc = sg_image_decode(moved, png_len + 12, &img, &derr);
        int probe_rc = sg_image_probe(moved, png_len + 12, &w, &h, &perr);
        if (!rc) sg_image_free(&img);
        CHECK(rc == probe_rc && (rc == 0 ? w == 4 && h == 3 : strcmp(derr.msg, perr.msg) == 0),
              "a chunk before IHDR: decode \"%s\", probe \"%s\" %dx%d", rc ? derr.msg : "accepted",
              probe_rc ? perr.msg : "accepted", w, h);
    }
    sg_preprocessor_free(&pp);
    free(png);
    free(jpg);
}

/* An 8x8 JPEG written by libjpeg with n components: in_cs as given to the
 * encoder, jpeg_cs the colour space it stores (CMYK, YCCK, or an unnamed
 * 2-component one), optionally progressive. *out is malloc'd. */
static void jpeg_made(J_COLOR_SPACE in_cs, J_COLOR_SPACE jpeg_cs, int n, int progressive, uint8_t **out,
                      size_t *out_len)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    unsigned char *buf = NULL;
    unsigned long len = 0;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &buf, &len);
    c.image_width = 8;
    c.image_height = 8;
    c.input_components = n;
    c.in_color_space = in_cs;
    jpeg_set_defaults(&c);
    jpeg_set_colorspace(&c, jpeg_cs);
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    JSAMPLE row[8 * 4];
    for (int i = 0; i < 8 * n; i++) row[i] = (JSAMPLE)(i * 29 + 7);
    JSAMPROW r = row;
    for (int y = 0; y < 8; y++) jpeg_write_scanlines(&c, &r, 1);
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *out = buf;
    *out_len = len;
}

/* Offset of the JPEG's first SOFn marker (its 0xFF), or 0. */
static size_t jpeg_sof_at(const uint8_t *jpg, size_t len)
{
    for (size_t at = 2; at + 4 <= len && jpg[at] == 0xff;) {
        uint8_t m = jpg[at + 1];
        if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) return at;
        at += 2 + ((size_t)jpg[at + 2] << 8 | jpg[at + 3]);
    }
    return 0;
}

/* Decode, probe and preprocess on one input: each refuses with want (NULL: each
 * accepts, the probe with the decoded size). */
static void expect_refused_alike(const char *what, const uint8_t *d, size_t n, const char *want)
{
    sg_image img;
    sg_err derr = {{0}}, perr = {{0}}, prerr = {{0}};
    int w = -1, h = -1;
    uint8_t out[2 * 2 * 3];
    sg_preprocessor pp;
    sg_preprocessor_init(&pp, 2, 2, 2, 2);
    int rc = sg_image_decode(d, n, &img, &derr);
    int probe_rc = sg_image_probe(d, n, &w, &h, &perr);
    int pre_rc = sg_preprocess(&pp, d, n, out, &prerr);
    sg_preprocessor_free(&pp);
    if (want) {
        CHECK(rc == -1 && !strcmp(derr.msg, want), "%s: decode \"%s\", want \"%s\"", what, rc ? derr.msg : "accepted", want);
        CHECK(probe_rc == -1 && !strcmp(perr.msg, want), "%s: probe \"%s\" (%dx%d), want \"%s\" (the decoder's)", what,
              probe_rc ? perr.msg : "accepted", w, h, want);
        CHECK(pre_rc == -1 && !strcmp(prerr.msg, want), "%s: preprocess \"%s\", want \"%s\"", what,
              pre_rc ? prerr.msg : "accepted", want);
    } else {
        CHECK(rc == 0 && probe_rc == 0 && pre_rc == 0 && w == img.width && h == img.height,
              "%s: decode \"%s\" %dx%d, probe \"%s\" %dx%d, preprocess \"%s\"", what, rc ? derr.msg : "ok",
              rc ? 0 : img.width, rc ? 0 : img.height, probe_rc ? perr.msg : "ok", w, h, pre_rc ? prerr.msg : "ok");
    }
    if (!rc) sg_image_free(&img);
}

/* The probe refuses what the decoders refuse in the header beyond the size,
 * with their message: a 4-component (CMYK, YCCK) JPEG; a PNG whose IHDR has a
 * wrong CRC, a wrong length, is cut short or holds fields libpng refuses. The
 * JPEG header faults libjpeg refuses itself (12-bit, lossless, 2 components)
 * are refused alike too. Only a decode finds a bad CRC in a later PNG chunk. */
static void test_probe_header_faults(void)
{
    uint8_t *j = NULL;
    size_t jn = 0;
    jpeg_made(JCS_CMYK, JCS_CMYK, 4, 0, &j, &jn);
    expect_refused_alike("CMYK JPEG", j, jn, "JPEG: CMYK/YCCK colour space is not supported");
    free(j);
    jpeg_made(JCS_CMYK, JCS_YCCK, 4, 0, &j, &jn);
    expect_refused_alike("YCCK JPEG", j, jn, "JPEG: CMYK/YCCK colour space is not supported");
    free(j);
    jpeg_made(JCS_CMYK, JCS_CMYK, 4, 1, &j, &jn);
    expect_refused_alike("progressive CMYK JPEG", j, jn, "JPEG: CMYK/YCCK colour space is not supported");
    free(j);
    jpeg_made(JCS_RGB, JCS_YCbCr, 3, 1, &j, &jn);
    expect_refused_alike("progressive YCbCr JPEG (accepted)", j, jn, NULL);
    free(j);
    jpeg_made(JCS_GRAYSCALE, JCS_GRAYSCALE, 1, 0, &j, &jn);
    expect_refused_alike("greyscale JPEG (accepted)", j, jn, NULL);
    free(j);
    jpeg_made(JCS_RGB, JCS_RGB, 3, 0, &j, &jn);
    expect_refused_alike("RGB JPEG (accepted)", j, jn, NULL);
    /* the frame header says 12-bit, or lossless (SOF3): libjpeg's header
     * reader refuses both; the probe runs it too */
    size_t sof = jpeg_sof_at(j, jn);
    CHECK(sof > 0, "no SOF in the RGB JPEG");
    if (sof) {
        sg_image img;
        sg_err derr = {{0}};
        j[sof + 4] = 12;
        int rc = sg_image_decode(j, jn, &img, &derr);
        if (!rc) sg_image_free(&img);
        CHECK(rc == -1 && strstr(derr.msg, "precision"), "12-bit JPEG: decode \"%s\"", rc ? derr.msg : "accepted");
        expect_refused_alike("12-bit JPEG", j, jn, derr.msg);
        j[sof + 4] = 8;
        j[sof + 1] = 0xc3;
        rc = sg_image_decode(j, jn, &img, &derr);
        if (!rc) sg_image_free(&img);
        CHECK(rc == -1, "lossless JPEG: decode accepted");
        expect_refused_alike("lossless JPEG", j, jn, derr.msg);
    }
    free(j);
    jpeg_made(JCS_UNKNOWN, JCS_UNKNOWN, 2, 0, &j, &jn);
    {
        sg_image img;
        sg_err derr = {{0}};
        int rc = sg_image_decode(j, jn, &img, &derr);
        if (!rc) sg_image_free(&img);
        CHECK(rc == -1, "2-component JPEG: decode accepted");
        sg_err perr = {{0}};
        int w, h;
        int probe_rc = sg_image_probe(j, jn, &w, &h, &perr);
        CHECK(probe_rc == -1 && !strcmp(perr.msg, derr.msg), "2-component JPEG: decode \"%s\", probe \"%s\"",
              derr.msg, probe_rc ? perr.msg : "accepted");
        CHECK(!strcmp(derr.msg, "JPEG: 2 colour components without a known colour space are not supported"),
              "2-component JPEG: decode \"%s\"", derr.msg);
    }
    free(j);

    uint8_t rgb[4 * 3 * 3] = {0};
    uint8_t *png = NULL;
    size_t pn = 0;
    sg_err err;
    if (sg_png_encode(rgb, 4, 3, &png, &pn, &err)) { CHECK(0, "encoding the test PNG: %s", err.msg); return; }
    uint8_t *d = malloc(pn);
    if (!d) { free(png); return; }
    expect_refused_alike("the PNG (accepted)", png, pn, NULL);
    memcpy(d, png, pn);
    d[31] ^= 0x01;                                     /* IHDR's CRC */
    expect_refused_alike("PNG with a wrong IHDR CRC", d, pn, "PNG: IHDR: CRC error");
    memcpy(d, png, pn);
    d[24] = 9;                                         /* bit depth, CRC left: the CRC is checked first */
    expect_refused_alike("PNG with depth 9 and a stale CRC", d, pn, "PNG: IHDR: CRC error");
    memcpy(d, png, pn);
    d[11] = 14;                                        /* IHDR's length */
    expect_refused_alike("PNG with IHDR length 14", d, pn, "PNG: IHDR: invalid");
    for (size_t cut = 24; cut < 33; cut++) {
        char what[64];
        snprintf(what, sizeof what, "PNG cut to %zu bytes", cut);
        expect_refused_alike(what, png, cut, "PNG: truncated data");
    }
    /* fields libpng refuses (png_check_IHDR), the CRC made right */
    static const struct { uint8_t depth, colour, compression, filter, interlace; } bad[] = {
        {9, 2, 0, 0, 0}, {4, 2, 0, 0, 0}, {16, 3, 0, 0, 0}, {8, 1, 0, 0, 0}, {8, 5, 0, 0, 0}, {8, 7, 0, 0, 0},
        {2, 4, 0, 0, 0}, {3, 0, 0, 0, 0}, {8, 2, 1, 0, 0}, {8, 2, 0, 1, 0}, {8, 6, 0, 64, 0}, {8, 2, 0, 0, 2},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        memcpy(d, png, pn);
        d[24] = bad[k].depth; d[25] = bad[k].colour; d[26] = bad[k].compression;
        d[27] = bad[k].filter; d[28] = bad[k].interlace;
        uint32_t c = sg_crc32(0, d + 12, 17);
        for (int b = 0; b < 4; b++) d[29 + b] = (uint8_t)(c >> (24 - 8 * b));
        char what[96];
        snprintf(what, sizeof what, "PNG with depth %u colour %u compression %u filter %u interlace %u",
                 bad[k].depth, bad[k].colour, bad[k].compression, bad[k].filter, bad[k].interlace);
        expect_refused_alike(what, d, pn, "PNG: Invalid IHDR data");
    }
    /* A wrong CRC in IDAT: only a decode finds it (image.h says so). */
    memcpy(d, png, pn);
    size_t at = 8;
    while (at + 12 <= pn && memcmp(d + at + 4, "IDAT", 4) != 0) at += 12 + be32_at(d + at);
    CHECK(at + 12 <= pn, "no IDAT in the test PNG");
    if (at + 12 <= pn) {
        d[at + 8 + be32_at(d + at) + 3] ^= 0x01;
        sg_image img;
        sg_err derr = {{0}}, perr = {{0}};
        int w = -1, h = -1;
        int rc = sg_image_decode(d, pn, &img, &derr);
        if (!rc) sg_image_free(&img);
        int probe_rc = sg_image_probe(d, pn, &w, &h, &perr);
        CHECK(rc == -1 && strstr(derr.msg, "CRC"), "PNG with a wrong IDAT CRC: decode \"%s\"", rc ? derr.msg : "accepted");
        CHECK(probe_rc == 0 && w == 4 && h == 3, "PNG with a wrong IDAT CRC: probe \"%s\" %dx%d (it reads IHDR only)",
              probe_rc ? perr.msg : "ok", w, h);
    }
    free(d);
    free(png);
}

/* tests/golden/odd-sampling.jpg (637 bytes, from review-fuzz22 F3): 17x13,
 * sampling factors Y 2x2, Cb 4x1, Cr 1x1, which libjpeg (and Pillow) read but
 * TurboJPEG 2.1's tjDecompressHeader3 refuses ("Could not determine
 * subsampling type"). Decode and probe read it as sg_preprocess does, through
 * libjpeg: Pillow 9.4's pixels (Image.open(f).convert("RGB").tobytes(): CRC-32
 * 0xabae849a, first pixel 127,141,30, last 127,167,0), and the thread's
 * TurboJPEG decompressor is not left inside the refused header. */
static void test_jpeg_odd_sampling(void)
{
    uint8_t *d;
    size_t n;
    sg_err err = {{0}};
    if (sg_read_file("tests/golden/odd-sampling.jpg", 1 << 20, &d, &n, &err)) { CHECK(0, "%s", err.msg); return; }
    uint8_t *plain = NULL;
    size_t pn = 0;
    jpeg_made(JCS_RGB, JCS_YCbCr, 3, 0, &plain, &pn);
    sg_image before, img, after;
    CHECK(sg_image_decode(plain, pn, &before, &err) == 0, "plain JPEG: %s", err.msg);
    int rc = sg_image_decode(d, n, &img, &err);
    CHECK(rc == 0, "odd sampling: decode \"%s\"", err.msg);
    CHECK(rc || !strstr(err.msg, "tjDecompressHeader3"), "odd sampling: message names TurboJPEG's call: %s", err.msg);
    if (!rc) {
        CHECK(img.width == 17 && img.height == 13, "odd sampling: decoded %dx%d, want 17x13", img.width, img.height);
        if (img.width == 17 && img.height == 13) {
            uint32_t crc = sg_crc32(0, img.rgb, 17 * 13 * 3);
            const uint8_t *last = img.rgb + (17 * 13 - 1) * 3;
            CHECK(crc == 0xabae849au && img.rgb[0] == 127 && img.rgb[1] == 141 && img.rgb[2] == 30 && last[0] == 127
                  && last[1] == 167 && last[2] == 0,
                  "odd sampling: pixels differ from Pillow's (CRC-32 0x%08x, first %d,%d,%d, last %d,%d,%d)",
                  (unsigned)crc, img.rgb[0], img.rgb[1], img.rgb[2], last[0], last[1], last[2]);
            /* sg_preprocess, which read it already: the same pixels, resized */
            sg_preprocessor pp;
            sg_preprocessor_init(&pp, 13, 13, 8, 8);
            uint8_t got[8 * 8 * 3];
            sg_image want;
            CHECK(sg_preprocess(&pp, d, n, got, &err) == 0, "odd sampling: preprocess \"%s\"", err.msg);
            if (sg_center_crop_resize(&img, 13, 13, 8, 8, &want, &err) == 0) {
                check_pixels("odd sampling: preprocess vs decode + resize", got, want.rgb, 8, 8);
                sg_image_free(&want);
            }
            sg_preprocessor_free(&pp);
        }
        sg_image_free(&img);
    }
    int w = -1, h = -1;
    jpeg_headers_read = 0;
    rc = sg_image_probe(d, n, &w, &h, &err);
    CHECK(rc == 0 && w == 17 && h == 13, "odd sampling: probe \"%s\" %dx%d", rc ? err.msg : "ok", w, h);
    /* the decode reads libjpeg's header once, as the probe does: not once
     * for the size and again for the pixels */
    int probe_headers = jpeg_headers_read;
    jpeg_headers_read = 0;
    if (sg_image_decode(d, n, &img, &err) == 0) sg_image_free(&img);
    CHECK(probe_headers >= 1 && jpeg_headers_read == probe_headers,
          "odd sampling: decode read %d JPEG headers with libjpeg, the probe %d", jpeg_headers_read, probe_headers);
    expect_refused_alike("odd sampling", d, n, NULL);
    /* the thread's decompressor still reads the next JPEG as before */
    CHECK(sg_image_decode(plain, pn, &after, &err) == 0, "plain JPEG after: %s", err.msg);
    check_pixels("plain JPEG after the odd one", after.rgb, before.rgb, 8, 8);
    sg_image_free(&before);
    sg_image_free(&after);
    /* the same file cut short: a libjpeg message, TurboJPEG's call unnamed */
    for (size_t cut = 200; cut < n; cut += 100) {
        rc = sg_image_decode(d, cut, &img, &err);
        if (!rc) sg_image_free(&img);
        CHECK(rc == -1 && !strstr(err.msg, "tjDecompressHeader3"), "odd sampling cut to %zu: decode \"%s\"", cut,
              rc ? err.msg : "accepted");
    }
    free(plain);
    free(d);
}

static void test_encode_roundtrip(void)
{
    /* PNG is lossless: our encoder and decoder agree exactly. */
    int w = 31, h = 7;
    uint8_t rgb[31 * 7 * 3];
    for (int i = 0; i < w * h * 3; i++) rgb[i] = (uint8_t)(i * 37 + 11);
    uint8_t *png;
    size_t len;
    sg_err err;
    sg_image img;
    CHECK(sg_png_encode(rgb, w, h, &png, &len, &err) == 0, "%s", err.msg);
    CHECK(sg_image_decode(png, len, &img, &err) == 0, "%s", err.msg);
    CHECK(img.width == w && img.height == h, "size %dx%d", img.width, img.height);
    if (img.rgb) check_pixels("png round trip", img.rgb, rgb, w, h);
    sg_image_free(&img);
    free(png);

    /* a failed encoding leaves *out NULL and the length 0 (error.h) */
    static uint8_t stale[1];
    png = stale;
    len = 9;
    CHECK(sg_png_encode(rgb, 0, h, &png, &len, &err) == -1 && png == NULL && len == 0,
          "a failed PNG encoding left %p %zu", (void *)png, len);
    png = stale;
    len = 9;
    CHECK(sg_jpeg_encode(rgb, 0, h, 90, &png, &len, &err) == -1 && png == NULL && len == 0,
          "a failed JPEG encoding left %p %zu", (void *)png, len);
}

/* A comment added to an encoded PNG or JPEG (sg-sample's grid mark): the
 * pixels decode as before, the comment is found, another text is not, and
 * a damaged or cut header never reads past its bytes. */
static void test_image_comment(void)
{
    int w = 9, h = 5;
    uint8_t rgb[9 * 5 * 3];
    for (int i = 0; i < w * h * 3; i++) rgb[i] = (uint8_t)(i * 53 + 7);
    for (int jpeg = 0; jpeg < 2; jpeg++) {
        const char *kind = jpeg ? "JPEG" : "PNG";
        uint8_t *data, *plain;
        size_t len, plain_len;
        sg_err err;
        sg_image a = {0}, b = {0};
        int rc = jpeg ? sg_jpeg_encode(rgb, w, h, 95, &data, &len, &err) : sg_png_encode(rgb, w, h, &data, &len, &err);
        CHECK(rc == 0, "%s: %s", kind, err.msg);
        if (rc) continue;
        plain = malloc(len);
        memcpy(plain, data, len);
        plain_len = len;
        CHECK(!sg_image_has_comment(data, len, SG_IMAGE_GRID_COMMENT), "%s: a comment before one was added", kind);
        CHECK(sg_image_add_comment(&data, &len, SG_IMAGE_GRID_COMMENT, &err) == 0, "%s: %s", kind, err.msg);
        CHECK(len == plain_len + (jpeg ? 4 : 12 + 8) + strlen(SG_IMAGE_GRID_COMMENT), "%s: %zu bytes added", kind,
              len - plain_len);
        CHECK(sg_image_has_comment(data, len, SG_IMAGE_GRID_COMMENT), "%s: the comment not found", kind);
        CHECK(!sg_image_has_comment(data, len, "sg-sample gri"), "%s: a prefix taken as the comment", kind);
        CHECK(!sg_image_has_comment(data, len, "another"), "%s: another text taken as the comment", kind);
        CHECK(sg_image_decode(data, len, &a, &err) == 0, "%s with a comment: %s", kind, err.msg);
        CHECK(sg_image_decode(plain, plain_len, &b, &err) == 0, "%s: %s", kind, err.msg);
        if (a.rgb && b.rgb) check_pixels(jpeg ? "jpeg with a comment" : "png with a comment", a.rgb, b.rgb, w, h);
        sg_image_free(&a);
        sg_image_free(&b);
        /* every cut of the header: no crash, and no comment where its bytes are cut */
        for (size_t n = 0; n < 80 && n < len; n++) (void)sg_image_has_comment(data, n, SG_IMAGE_GRID_COMMENT);
        /* a length field that points past the end */
        if (!jpeg) { data[33] = 0x7f; CHECK(!sg_image_has_comment(data, len, SG_IMAGE_GRID_COMMENT), "PNG: a chunk past the end"); }
        free(data);
        free(plain);
    }
    uint8_t junk[40] = "not an image at all, not at all";
    uint8_t *d = malloc(sizeof junk);
    size_t n = sizeof junk;
    memcpy(d, junk, n);
    sg_err err;
    CHECK(sg_image_add_comment(&d, &n, "x", &err) != 0, "a comment added to text");
    CHECK(!sg_image_has_comment(d, n, "x"), "a comment found in text");
    free(d);
}

/* ---- EXIF orientation ---- */

/* A TIFF structure (EXIF's payload) holding IFD0 with the one entry
 * (tag, type, count, value) at offset 8, little or big endian; its length. */
static size_t tiff_one_entry(uint8_t *t, int le, unsigned tag, unsigned type, uint32_t count, uint32_t value)
{
#define P16(p, v) (le ? ((p)[0] = (uint8_t)(v), (p)[1] = (uint8_t)((v) >> 8)) : ((p)[0] = (uint8_t)((v) >> 8), (p)[1] = (uint8_t)(v)))
#define P32(p, v) (le ? (P16(p, (v) & 0xffff), P16((p) + 2, (v) >> 16)) : (P16(p, (v) >> 16), P16((p) + 2, (v) & 0xffff)))
    memcpy(t, le ? "II" : "MM", 2);
    P16(t + 2, 42u);
    P32(t + 4, 8u);
    P16(t + 8, 1u);
    P16(t + 10, tag);
    P16(t + 12, type);
    P32(t + 14, count);
    if (type == 3) { P16(t + 18, value); P16(t + 20, 0u); } else P32(t + 18, value);
    P32(t + 22, 0u);   /* no next IFD */
    return 26;
#undef P16
#undef P32
}

/* jpg with an APP1 segment "Exif\0\0" + tiff[0..n) after SOI (app1_len:
 * the segment's length field, 0 for the right one); *out malloc'd. */
static size_t jpeg_with_exif(const uint8_t *jpg, size_t jlen, const uint8_t *tiff, size_t n, size_t app1_len,
                             uint8_t **out)
{
    size_t seg = 2 + 6 + n, len = jlen + 2 + seg;
    uint8_t *d = malloc(len);
    if (!app1_len) app1_len = seg;
    memcpy(d, jpg, 2);
    d[2] = 0xff; d[3] = 0xe1; d[4] = (uint8_t)(app1_len >> 8); d[5] = (uint8_t)app1_len;
    memcpy(d + 6, "Exif\0\0", 6);
    memcpy(d + 12, tiff, n);
    memcpy(d + 12 + n, jpg + 2, jlen - 2);
    *out = d;
    return len;
}

/* A PNG with an eXIf chunk holding tiff[0..n) before IEND (chunk_len: its
 * length field, 0 for n). */
static size_t png_with_exif(const uint8_t *png, size_t plen, const uint8_t *tiff, size_t n, uint32_t chunk_len,
                            uint8_t **out)
{
    size_t len = plen + 12 + n;
    uint8_t *d = malloc(len);
    if (!chunk_len) chunk_len = (uint32_t)n;
    memcpy(d, png, plen - 12);
    uint8_t *c = d + plen - 12;
    c[0] = (uint8_t)(chunk_len >> 24); c[1] = (uint8_t)(chunk_len >> 16); c[2] = (uint8_t)(chunk_len >> 8);
    c[3] = (uint8_t)chunk_len;
    memcpy(c + 4, "eXIf", 4);
    memcpy(c + 8, tiff, n);
    memset(c + 8 + n, 0, 4);   /* the CRC: libpng only warns about an ancillary chunk's */
    memcpy(c + 12 + n, png + plen - 12, 12);
    *out = d;
    return len;
}

/* The eight orientations against Pillow's exif_transpose on a 3x2 image
 * (abc/def), and the parser on good and malformed EXIF: anything malformed
 * reads as 1 (as stored), and never reads outside the data. */
static void test_exif_orientation(void)
{
    static const char *want[9] = {0, "abc/def", "cba/fed", "fed/cba", "def/abc", "ad/be/cf", "da/eb/fc",
                                  "fc/eb/da", "cf/be/ad"};
    for (int o = 1; o <= 8; o++) {
        uint8_t px[6 * 3];
        for (int i = 0; i < 6; i++) px[i * 3] = px[i * 3 + 1] = px[i * 3 + 2] = (uint8_t)('a' + i);
        sg_image img = {3, 2, malloc(sizeof px)};
        sg_err err;
        memcpy(img.rgb, px, sizeof px);
        CHECK(sg_image_orient(&img, o, &err) == 0, "orient %d: %s", o, err.msg);
        char got[16];
        size_t k = 0;
        for (int y = 0; y < img.height; y++) {
            if (y) got[k++] = '/';
            for (int x = 0; x < img.width; x++) got[k++] = (char)img.rgb[(y * img.width + x) * 3];
        }
        got[k] = 0;
        CHECK(!strcmp(got, want[o]), "orientation %d: %s, want %s", o, got, want[o]);
        sg_image_free(&img);
    }

    uint8_t rgb[4 * 3 * 3], *jpg, *png, *d, t[64];
    for (int i = 0; i < (int)sizeof rgb; i++) rgb[i] = (uint8_t)(i * 29);
    size_t jlen, plen, n;
    sg_err err;
    if (sg_jpeg_encode(rgb, 4, 3, 95, &jpg, &jlen, &err) || sg_png_encode(rgb, 4, 3, &png, &plen, &err)) {
        CHECK(0, "encode: %s", err.msg);
        return;
    }
    CHECK(sg_image_exif_orientation(jpg, jlen) == 1 && sg_image_exif_orientation(png, plen) == 1, "no EXIF: 1");
    for (int le = 0; le <= 1; le++)
        for (int o = 1; o <= 8; o++) {
            n = tiff_one_entry(t, le, 0x112, 3, 1, (uint32_t)o);
            size_t len = jpeg_with_exif(jpg, jlen, t, n, 0, &d);
            CHECK(sg_image_exif_orientation(d, len) == o, "JPEG %s orientation %d", le ? "II" : "MM", o);
            free(d);
            len = png_with_exif(png, plen, t, n, 0, &d);
            CHECK(sg_image_exif_orientation(d, len) == o, "PNG %s orientation %d", le ? "II" : "MM", o);
            free(d);
        }
    n = tiff_one_entry(t, 1, 0x112, 4, 1, 6);   /* a LONG, as some writers do */
    size_t len1 = jpeg_with_exif(jpg, jlen, t, n, 0, &d);
    CHECK(sg_image_exif_orientation(d, len1) == 6, "LONG orientation");
    /* a second Exif segment is not read: Pillow takes the first */
    uint8_t *d2;
    n = tiff_one_entry(t, 1, 0x112, 3, 1, 3);
    size_t len2 = jpeg_with_exif(d, len1, t, n, 0, &d2);
    CHECK(sg_image_exif_orientation(d2, len2) == 3, "first Exif segment wins");
    /* a first one whose signature is not "Exif\0\0" is passed over, as Pillow does */
    d2[11] = 'X';
    CHECK(sg_image_exif_orientation(d2, len2) == 6, "an APP1 'Exif\\0X' passed over for the next");
    free(d2);
    free(d);
    /* the other integer types Pillow reads the tag from: BYTE, SSHORT, SLONG */
    const unsigned other_types[3] = {1, 8, 9};
    for (int k = 0; k < 3; k++) {
        n = tiff_one_entry(t, 1, 0x112, other_types[k], 1, 6);
        size_t len = jpeg_with_exif(jpg, jlen, t, n, 0, &d);
        CHECK(sg_image_exif_orientation(d, len) == 6, "orientation as TIFF type %u", other_types[k]);
        free(d);
    }

    struct { const char *what; int le; unsigned tag, type; uint32_t count, value; int cut; int patch_at;
             uint32_t patch; } bad[] = {
        {"orientation 0", 1, 0x112, 3, 1, 0, 0, -1, 0},
        {"orientation 9", 1, 0x112, 3, 1, 9, 0, -1, 0},
        {"orientation 65535", 0, 0x112, 3, 1, 65535, 0, -1, 0},
        {"two values", 1, 0x112, 3, 2, 6, 0, -1, 0},
        {"an ASCII value", 1, 0x112, 2, 1, 6, 0, -1, 0},
        {"another tag", 1, 0x111, 3, 1, 6, 0, -1, 0},
        {"cut in the entry", 1, 0x112, 3, 1, 6, 10, -1, 0},
        {"cut in the header", 1, 0x112, 3, 1, 6, 20, -1, 0},
        {"IFD0 past the end", 1, 0x112, 3, 1, 6, 0, 4, 0x7ffffff0},
        {"IFD0 at -8 (wraps)", 1, 0x112, 3, 1, 6, 0, 4, 0xfffffff8},
        {"IFD0 on the header (a loop)", 1, 0x112, 3, 1, 6, 0, 4, 0},
        {"65535 entries claimed, the tag not among those there", 1, 0x111, 3, 1, 6, 0, 8, 0xffff},
        {"a bad magic", 1, 0x112, 3, 1, 6, 0, 2, 43},
        {"a bad byte order", 1, 0x112, 3, 1, 6, 0, 0, 0x4d49},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = tiff_one_entry(t, bad[i].le, bad[i].tag, bad[i].type, bad[i].count, bad[i].value);
        if (bad[i].patch_at >= 0) {
            uint32_t v = bad[i].patch;
            if (bad[i].patch_at == 8 || bad[i].patch_at == 2 || bad[i].patch_at == 0) {
                t[bad[i].patch_at] = (uint8_t)v; t[bad[i].patch_at + 1] = (uint8_t)(v >> 8);
            } else {
                for (int b = 0; b < 4; b++) t[bad[i].patch_at + b] = (uint8_t)(v >> (8 * b));
            }
        }
        if (bad[i].cut) n -= (size_t)bad[i].cut;
        /* exactly n bytes of EXIF, in a buffer of exactly the file's size:
         * under AddressSanitizer a read past it is an error */
        size_t len = jpeg_with_exif(jpg, jlen, t, n, 0, &d);
        CHECK(sg_image_exif_orientation(d, len) == 1, "JPEG, %s: not 1", bad[i].what);
        sg_image img;
        CHECK(sg_image_decode(d, len, &img, &err) == 0, "JPEG, %s: still decodes: %s", bad[i].what, err.msg);
        sg_image_free(&img);
        free(d);
        len = png_with_exif(png, plen, t, n, 0, &d);
        CHECK(sg_image_exif_orientation(d, len) == 1, "PNG, %s: not 1", bad[i].what);
        free(d);
    }
    /* an IFD that claims more entries than there are: the ones there count,
     * as for Pillow (which warns and keeps the tags read) */
    n = tiff_one_entry(t, 1, 0x112, 3, 1, 6);
    t[8] = t[9] = 0xff;
    size_t len = jpeg_with_exif(jpg, jlen, t, n, 0, &d);
    CHECK(sg_image_exif_orientation(d, len) == 6, "65535 entries claimed, the tag the first");
    free(d);
    /* segment and chunk lengths past the end of the file; the data cut
     * inside the EXIF */
    n = tiff_one_entry(t, 1, 0x112, 3, 1, 6);
    len = jpeg_with_exif(jpg, jlen, t, n, 0xfff0, &d);
    CHECK(sg_image_exif_orientation(d, len) == 1, "APP1 length past the end");
    for (size_t cut = 0; cut < 12 + n + 2; cut++)
        CHECK(sg_image_exif_orientation(d, cut) == 1, "JPEG cut at %zu", cut);
    free(d);
    len = jpeg_with_exif(jpg, jlen, t, n, 0, &d);
    d[11] = 'X';   /* "Exif\0X" */
    CHECK(sg_image_exif_orientation(d, len) == 1, "Exif header without its second NUL");
    free(d);
    len = png_with_exif(png, plen, t, n, 0xfffffff0u, &d);
    CHECK(sg_image_exif_orientation(d, len) == 1, "eXIf length past the end");
    free(d);
    len = png_with_exif(png, plen, t, n, 0, &d);
    for (size_t cut = 0; cut < len - 12; cut++)
        CHECK(sg_image_exif_orientation(d, cut) == 1 || cut >= plen - 12 + 8 + n, "PNG cut at %zu", cut);
    free(d);
    free(jpg);
    free(png);
}

/* Appends a PNG chunk (length, type, data, CRC) at png + *at. */
static void png_chunk(uint8_t *png, size_t *at, const char *type, const uint8_t *data, uint32_t n)
{
    uint8_t *c = png + *at;
    c[0] = (uint8_t)(n >> 24); c[1] = (uint8_t)(n >> 16); c[2] = (uint8_t)(n >> 8); c[3] = (uint8_t)n;
    memcpy(c + 4, type, 4);
    if (n) memcpy(c + 8, data, n);
    uint32_t crc = sg_crc32(0, c + 4, (size_t)n + 4);
    c[8 + n] = (uint8_t)(crc >> 24); c[9 + n] = (uint8_t)(crc >> 16); c[10 + n] = (uint8_t)(crc >> 8);
    c[11 + n] = (uint8_t)crc;
    *at += 12 + (size_t)n;
}

/* A 16-bit grey PNG decodes as Pillow's convert("RGB") gives it (Pillow
 * opens it as mode "I", whose conversion clips at 255; checked with Pillow
 * 9.4), not by the high byte as the other 16-bit types: 6x2, the values
 * {0, 100, 255, 256, 1000, 65535} and the same reversed. */
static void test_grey16_png(void)
{
    static const uint16_t v[6] = {0, 100, 255, 256, 1000, 65535};
    static const uint8_t want[6] = {0, 100, 255, 255, 255, 255};
    enum { W = 6, H = 2 };
    uint8_t raw[H * (1 + 2 * W)], z[256], png[512], ihdr[13] = {0, 0, 0, W, 0, 0, 0, H, 16, 0, 0, 0, 0};
    for (int y = 0; y < H; y++) {
        raw[y * (1 + 2 * W)] = 0;   /* filter: none */
        for (int x = 0; x < W; x++) {
            uint16_t g = v[y ? W - 1 - x : x];
            raw[y * (1 + 2 * W) + 1 + 2 * x] = (uint8_t)(g >> 8);
            raw[y * (1 + 2 * W) + 2 + 2 * x] = (uint8_t)g;
        }
    }
    uLongf zlen = sizeof z;
    if (compress(z, &zlen, raw, sizeof raw) != Z_OK) { CHECK(0, "zlib compress"); return; }
    size_t n = 8;
    memcpy(png, "\x89PNG\r\n\x1a\n", 8);
    png_chunk(png, &n, "IHDR", ihdr, sizeof ihdr);
    png_chunk(png, &n, "IDAT", z, (uint32_t)zlen);
    png_chunk(png, &n, "IEND", NULL, 0);
    sg_image img;
    sg_err err;
    if (sg_image_decode(png, n, &img, &err)) { CHECK(0, "16-bit grey PNG: %s", err.msg); return; }
    CHECK(img.width == W && img.height == H, "16-bit grey PNG: %dx%d", img.width, img.height);
    if (img.width == W && img.height == H) {
        uint8_t exp[W * H * 3];
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int c = 0; c < 3; c++) exp[(y * W + x) * 3 + c] = want[y ? W - 1 - x : x];
        check_pixels("16-bit grey PNG (clipped at 255, as Pillow)", img.rgb, exp, W, H);
    }
    sg_image_free(&img);
}

/* A chunk whose stated length passes the end of the file is refused before
 * libpng allocates it (a 365-byte file whose tEXt said 1.7 GB took 1.7 GB):
 * the message names it, and the peak memory does not move by its size. */
static void test_png_chunk_past_end(void)
{
    uint8_t png[128], ihdr[13] = {0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0};
    size_t n = 8;
    memcpy(png, "\x89PNG\r\n\x1a\n", 8);
    png_chunk(png, &n, "IHDR", ihdr, sizeof ihdr);
    memcpy(png + n, "\x59\x68\x2f\x00tEXtComment\0abc", 20);   /* 1500000000 bytes said, 12 there */
    n += 20;
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    sg_image img;
    sg_err err = {{0}};
    int rc = sg_image_decode(png, n, &img, &err);
    getrusage(RUSAGE_SELF, &after);
    CHECK(rc == -1 && !strcmp(err.msg, "PNG: truncated data (a tEXt chunk of 1500000000 bytes, 12 left)"),
          "PNG with a tEXt of 1.5 GB said: \"%s\"", rc ? err.msg : "accepted");
    CHECK(after.ru_maxrss - before.ru_maxrss < 100 * 1024, "PNG with a tEXt of 1.5 GB said: peak memory +%ld KB",
          after.ru_maxrss - before.ru_maxrss);
    if (!rc) sg_image_free(&img);
}

/* sg_preprocessor's stop: once set, a JPEG and a PNG are given up ("stopped"),
 * a large PNG at its first read of compressed data; unset, the same
 * preprocessor decodes them as before. */
static void test_preprocess_stop(void)
{
    enum { W = 1024, H = 768 };
    uint8_t *rgb = malloc((size_t)W * H * 3), *big = NULL, *out = malloc(64 * 64 * 3);
    size_t big_len = 0;
    sg_err err = {{0}};
    for (size_t i = 0; i < (size_t)W * H * 3; i++) rgb[i] = (uint8_t)(i * 7 + i / 3000);
    CHECK(sg_png_encode(rgb, W, H, &big, &big_len, &err) == 0, "%s", err.msg);
    static const char *const files[] = {"celeba.jpg", "small.png", NULL};
    for (int f = 0; f < 3; f++) {
        uint8_t *data = big;
        size_t len = big_len;
        char path[256];
        snprintf(path, sizeof path, GOLDEN "%s", files[f] ? files[f] : "");
        if (files[f] && sg_read_file(path, 1 << 24, &data, &len, &err)) { CHECK(0, "%s", err.msg); continue; }
        const char *name = files[f] ? files[f] : "a 1024x768 PNG";
        volatile sig_atomic_t stop = 1;
        sg_preprocessor p;
        sg_preprocessor_init(&p, 64, 64, 64, 64);
        CHECK(p.stop == NULL, "sg_preprocessor_init leaves no stop");
        p.stop = &stop;
        int rc = sg_preprocess(&p, data, len, out, &err);
        CHECK(rc == -1 && strstr(err.msg, "stopped"), "%s with stop set: %s", name, rc ? err.msg : "decoded");
        stop = 0;
        rc = sg_preprocess(&p, data, len, out, &err);
        CHECK(rc == 0, "%s with stop unset: %s", name, err.msg);
        sg_preprocessor_free(&p);
        if (files[f]) free(data);
    }
    free(rgb); free(big); free(out);
}

int main(void)
{
    test_crop_offsets();
    test_crop_in_place_failure();
    test_golden_cases(1);
    test_golden_cases(0);
    test_partial_rows();
    test_preprocess_partial();
    test_decode_errors();
    test_probe_size_limits();
    test_probe_header_faults();
    test_jpeg_odd_sampling();
    test_encode_roundtrip();
    test_image_comment();
    test_exif_orientation();
    test_grey16_png();
    test_png_chunk_past_end();
    test_preprocess_stop();
    return check_done();
}
