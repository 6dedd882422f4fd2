/* Decoding and CenterCrop+Resize against golden data made with PIL
 * (tests/golden/make_resize_golden.py): every pixel must be equal. */
#include "check.h"
#include "image.h"
#include "fileio.h"
#include "shard.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GOLDEN "tests/golden/resize/"

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
            sg_image_free(&src); sg_image_free(&want); sg_image_free(&got);
            n_resize++;
        }
    }
    fclose(f);
    sg_resize_force_scalar(0);
    CHECK(n_decode >= 4 && n_resize >= 15, "golden cases: %d decode, %d resize (expected >= 4, >= 15)", n_decode, n_resize);
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
}

int main(void)
{
    test_crop_offsets();
    test_golden_cases(1);
    test_golden_cases(0);
    test_partial_rows();
    test_preprocess_partial();
    test_decode_errors();
    test_probe_size_limits();
    test_encode_roundtrip();
    return check_done();
}
