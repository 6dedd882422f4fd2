/* Decoding and CenterCrop+Resize against golden data made with PIL
 * (tests/golden/make_resize_golden.py): every pixel must be equal. */
#include "check.h"
#include "image.h"
#include "fileio.h"
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
    test_encode_roundtrip();
    return check_done();
}
