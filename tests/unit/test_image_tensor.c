/* lib/image_tensor.c and image.h's scalar maps: the pixel values as the
 * network sees them (the reference's ToTensor + Normalize(0.5, 0.5) in
 * float32) and back (denorm + save_image). Training's batches, its samples
 * and sg-sample's inputs all go through sg_rgb_to_chw: a change here moves
 * every result, and the golden and resume tests with them. */
#include "check.h"
#include "image.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* sg_pixel_to_unit against the reference's expression for every byte
 * value: a scale of 1/256, or a shift or scale of 0.5 left out, fails here */
static void test_pixel_to_unit(void)
{
    int wrong = 0;
    for (int v = 0; v < 256; v++) {
        volatile float scaled = (float)v / 255;   /* each step rounded to float, as PyTorch's float32 */
        float want = (scaled - 0.5f) / 0.5f, got = sg_pixel_to_unit((uint8_t)v);
        if (memcmp(&got, &want, sizeof got) && !wrong++) CHECK(0, "pixel value %d: %.9g, want %.9g", v, got, want);
    }
    CHECK(!wrong, "%d of 256 pixel values differ from ((float)v/255 - 0.5f)/0.5f", wrong);
    CHECK(sg_pixel_to_unit(0) == -1.0f && sg_pixel_to_unit(255) == 1.0f &&
          fabsf(sg_pixel_to_unit(128) - 1.0f / 255) < 1e-7f,
          "pixel values 0, 128, 255: %.9g %.9g %.9g, want -1, 1/255, 1", sg_pixel_to_unit(0), sg_pixel_to_unit(128),
          sg_pixel_to_unit(255));
    /* and back: every byte value is its own again */
    for (int v = 0; v < 256; v++)
        if (sg_unit_to_pixel(sg_pixel_to_unit((uint8_t)v)) != v && !wrong++)
            CHECK(0, "pixel value %d comes back as %d", v, sg_unit_to_pixel(sg_pixel_to_unit((uint8_t)v)));
    CHECK(sg_unit_to_pixel(-2.0f) == 0 && sg_unit_to_pixel(2.0f) == 255 && sg_unit_to_pixel(NAN) == 0 &&
          sg_unit_to_pixel(0.0f) == 128,
          "outputs -2, 2, NaN, 0: %d %d %d %d, want 0 255 0 128", sg_unit_to_pixel(-2.0f), sg_unit_to_pixel(2.0f),
          sg_unit_to_pixel(NAN), sg_unit_to_pixel(0.0f));
}

/* An S x S image whose bytes differ by position and channel, every value
 * from 0 to 255 among them at S 10 or more */
static uint8_t *pattern(int S)
{
    uint8_t *rgb = malloc((size_t)S * S * 3);
    if (!rgb) return NULL;
    for (int i = 0; i < S * S * 3; i++) rgb[i] = (uint8_t)(i * 7 + i / 3);
    return rgb;
}

/* sg_rgb_to_chw: each value sg_pixel_to_unit's at the place HWC -> CHW
 * (and the mirror's, with flip) puts it, bit for bit; nothing written past x */
static void test_rgb_to_chw(void)
{
    static const int sizes[] = {1, 2, 5, 16};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int S = sizes[s];
        size_t n = (size_t)3 * S * S;
        uint8_t *rgb = pattern(S);
        float *x = malloc(sizeof(float) * (n + 1));
        if (!rgb || !x) { CHECK(0, "out of memory"); free(rgb); free(x); return; }
        for (int flip = 0; flip <= 1; flip++) {
            const float canary = 12345.0f;
            x[n] = canary;
            sg_rgb_to_chw(rgb, S, flip, x);
            int wrong = 0;
            for (int ch = 0; ch < 3; ch++)
                for (int y = 0; y < S; y++)
                    for (int c = 0; c < S; c++) {
                        int from = flip ? S - 1 - c : c;
                        float want = sg_pixel_to_unit(rgb[((size_t)y * S + from) * 3 + ch]);
                        float got = x[((size_t)ch * S + y) * S + c];
                        if (memcmp(&got, &want, sizeof got) && !wrong++)
                            CHECK(0, "S %d, flip %d: channel %d at (%d, %d) is %.9g, want %.9g", S, flip, ch, y, c,
                                  got, want);
                    }
            CHECK(!wrong, "S %d, flip %d: %d values differ from sg_pixel_to_unit's", S, flip, wrong);
            CHECK(x[n] == canary, "S %d, flip %d: written past the image", S, flip);
        }
        free(rgb);
        free(x);
    }
}

/* sg_chw_to_rgb: each byte sg_unit_to_pixel's, into a cell of a wider grid
 * (row_stride) that leaves the grid's other bytes alone; and the round trip
 * through sg_rgb_to_chw gives the image back, mirrored twice as it was */
static void test_chw_to_rgb(void)
{
    const int S = 16, W = 3 * S + 1;   /* a cell in a row of three and a bit */
    const size_t n = (size_t)3 * S * S;
    uint8_t *rgb = pattern(S), *grid = malloc((size_t)W * S * 3), *back = malloc(n), *twice = malloc(n);
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    if (!rgb || !grid || !back || !twice || !x || !y) { CHECK(0, "out of memory"); goto done; }
    int seen[256] = {0}, values = 0;
    for (size_t i = 0; i < n; i++) values += !seen[rgb[i]]++;
    CHECK(values == 256, "the test image holds %d of the 256 byte values", values);

    /* outputs of the generator: any float, clamped; NaN as 0 */
    for (size_t i = 0; i < n; i++) y[i] = (float)((double)(i % 997) / 400.0 - 1.25);
    y[5] = NAN;
    y[n - 1] = INFINITY;
    memset(grid, 0xA5, (size_t)W * S * 3);
    const int at = S;   /* the second cell */
    sg_chw_to_rgb(y, S, grid + (size_t)at * 3, (size_t)W * 3);
    int wrong = 0, touched = 0;
    for (int r = 0; r < S; r++)
        for (int c = 0; c < W; c++)
            for (int ch = 0; ch < 3; ch++) {
                uint8_t got = grid[((size_t)r * W + c) * 3 + ch];
                if (c < at || c >= at + S) {
                    touched += got != 0xA5;
                    continue;
                }
                uint8_t want = sg_unit_to_pixel(y[((size_t)ch * S + r) * S + (c - at)]);
                if (got != want && !wrong++)
                    CHECK(0, "channel %d at (%d, %d): %d, want %d", ch, r, c - at, got, want);
            }
    CHECK(!wrong && !touched, "the cell: %d bytes differ from sg_unit_to_pixel's, %d bytes outside it written", wrong,
          touched);

    /* the round trip */
    sg_rgb_to_chw(rgb, S, 0, x);
    sg_chw_to_rgb(x, S, back, (size_t)S * 3);
    CHECK(!memcmp(back, rgb, n), "rgb -> chw -> rgb changed the image");
    sg_rgb_to_chw(rgb, S, 1, x);
    sg_chw_to_rgb(x, S, back, (size_t)S * 3);
    sg_rgb_to_chw(back, S, 1, x);
    sg_chw_to_rgb(x, S, twice, (size_t)S * 3);
    CHECK(memcmp(back, rgb, n) != 0 && !memcmp(twice, rgb, n), "mirrored once: %s; twice: %s",
          memcmp(back, rgb, n) ? "differs" : "the same (no mirror)", memcmp(twice, rgb, n) ? "differs" : "the same");
done:
    free(rgb); free(grid); free(back); free(twice); free(x); free(y);
}

int main(void)
{
    test_pixel_to_unit();
    test_rgb_to_chw();
    test_chw_to_rgb();
    return check_done();
}
