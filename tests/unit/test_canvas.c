/* Canvas drawing and the embedded font. */
#include "check.h"
#include "canvas.h"
#include "canvas_testing.h"
#include "font.h"
#include "image.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const sg_rgb WHITE = {255, 255, 255}, BLACK = {0, 0, 0}, RED = {255, 0, 0};

static int is_color(const sg_canvas *c, int x, int y, sg_rgb col)
{
    const uint8_t *p = c->rgb + ((size_t)y * c->width + x) * 3;
    return p[0] == col.r && p[1] == col.g && p[2] == col.b;
}

/* Bounding box of pixels that differ from bg; returns the number of such pixels. */
static long ink_bbox(const sg_canvas *c, sg_rgb bg, int *x0, int *y0, int *x1, int *y1)
{
    long n = 0;
    *x0 = *y0 = 1 << 30; *x1 = *y1 = -1;
    for (int y = 0; y < c->height; y++)
        for (int x = 0; x < c->width; x++)
            if (!is_color(c, x, y, bg)) {
                n++;
                if (x < *x0) *x0 = x;
                if (y < *y0) *y0 = y;
                if (x > *x1) *x1 = x;
                if (y > *y1) *y1 = y;
            }
    return n;
}

static void test_font(void)
{
    int empty = 0, dup = 0;
    for (int ch = SG_FONT_FIRST; ch <= SG_FONT_LAST; ch++) {
        const uint8_t *g = sg_font_glyph((unsigned char)ch);
        int ink = 0, wide = 0;
        for (int r = 0; r < SG_FONT_GLYPH_H; r++) { ink |= g[r]; wide |= g[r] >> SG_FONT_GLYPH_W; }
        if (ch == ' ') CHECK(ink == 0, "space is blank");
        else if (!ink) { empty++; printf("glyph %d '%c' is empty\n", ch, ch); }
        CHECK(wide == 0, "glyph %d has bits outside its %d columns", ch, SG_FONT_GLYPH_W);
        /* Every glyph must differ from every other, or two characters would read the same. */
        for (int o = SG_FONT_FIRST; o < ch; o++)
            if (memcmp(g, sg_font_glyph((unsigned char)o), SG_FONT_GLYPH_H) == 0) {
                dup++; printf("glyphs %d and %d are identical\n", o, ch);
            }
    }
    CHECK(empty == 0, "%d empty glyphs in 33..126", empty);
    CHECK(dup == 0, "%d identical glyph pairs", dup);
    CHECK(sg_font_glyph(200) == sg_font_glyph('?') && sg_font_glyph('\t') == sg_font_glyph('?'), "outside -> '?'");
    /* Descenders only on the letters that have them. */
    const char *desc = "gjpqy,;_|";
    for (int ch = SG_FONT_FIRST; ch <= SG_FONT_LAST; ch++) {
        const uint8_t *g = sg_font_glyph((unsigned char)ch);
        int has = g[7] || g[8];
        CHECK(has == (strchr(desc, ch) != NULL), "descender of '%c': %d", ch, has);
    }
}

static void test_text(void)
{
    sg_canvas c;
    sg_err err;
    CHECK(sg_canvas_init(&c, 200, 60, WHITE, &err) == 0, "init: %s", err.msg);
    int w, h;
    sg_text_size("Hello", 2, &w, &h);
    CHECK(w == 5 * SG_FONT_CELL_W * 2 && h == SG_FONT_CELL_H * 2, "text size %dx%d", w, h);
    sg_text_size("ab\nlonger\n", 1, &w, &h);
    CHECK(w == 6 * SG_FONT_CELL_W && h == 3 * SG_FONT_CELL_H, "multi-line size %dx%d", w, h);

    int drawn = sg_canvas_text(&c, 10, 5, "HI", 2, BLACK);
    CHECK(drawn == 2 * SG_FONT_CELL_W * 2, "returned width %d", drawn);
    int x0, y0, x1, y1;
    long n = ink_bbox(&c, WHITE, &x0, &y0, &x1, &y1);
    /* 'H' starts in column 0 and row 0 of its glyph (cell row 1); 'I' ends in glyph column 3. */
    CHECK(n > 0 && x0 == 10 && y0 == 5 + 2 && x1 == 10 + 12 + 4 * 2 - 1 && y1 == 5 + 2 + 7 * 2 - 1,
          "HI bbox (%d,%d)-(%d,%d)", x0, y0, x1, y1);
    /* H: 2 verticals of 7 + 3 middle = 17 cells; I: 3+5+3 = 11 cells; each cell is 2x2 at scale 2. */
    CHECK(n == (17 + 11) * 4, "HI ink %ld pixels", n);
    /* The middle bar of H is at glyph row 3 -> y = 5 + 2*(1+3). */
    CHECK(is_color(&c, 10 + 2 * 2, 5 + 2 * 4, BLACK) && is_color(&c, 10 + 2 * 2, 5 + 2 * 3, WHITE), "H bar");

    /* Text clipped at the border must not write outside (ASan catches it) and keeps the rest. */
    sg_canvas_fill(&c, WHITE);
    sg_canvas_text(&c, 190, 55, "clipped text", 3, RED);
    sg_canvas_text(&c, -7, -9, "neg", 2, RED);
    n = ink_bbox(&c, WHITE, &x0, &y0, &x1, &y1);
    CHECK(n > 0 && x0 >= 0 && y0 >= 0, "clipped text drew %ld pixels", n);

    /* Rotated text: the block is h wide and w tall, its bottom-left at (x, y). */
    sg_canvas_fill(&c, WHITE);
    sg_canvas_free(&c);
    sg_canvas_init(&c, 60, 200, WHITE, &err);
    sg_canvas_text_up(&c, 10, 150, "Loss", 2, BLACK);
    n = ink_bbox(&c, WHITE, &x0, &y0, &x1, &y1);
    /* 'L' is glyph column 0 from row 0 to 6: rotated it is at the bottom, from x 10+2 to 10+2*8-1. */
    CHECK(n > 0 && x0 == 12 && y1 == 149 && x1 <= 10 + 2 * SG_FONT_CELL_H && y0 >= 150 - 4 * SG_FONT_CELL_W * 2,
          "rotated bbox (%d,%d)-(%d,%d)", x0, y0, x1, y1);
    CHECK(is_color(&c, 12, 149, BLACK) && is_color(&c, 12 + 13, 149, BLACK), "L stem and foot");
    sg_canvas_free(&c);
}

static void test_shapes(void)
{
    sg_canvas c;
    sg_err err;
    CHECK(sg_canvas_init(&c, 0, 10, WHITE, &err) == -1, "zero width rejected");
    CHECK(sg_canvas_init(&c, 100, 80, WHITE, &err) == 0, "init");
    sg_canvas_fill_rect(&c, -5, -5, 10, 10, RED);
    int x0, y0, x1, y1;
    long n = ink_bbox(&c, WHITE, &x0, &y0, &x1, &y1);
    CHECK(n == 25 && x0 == 0 && y0 == 0 && x1 == 4 && y1 == 4, "clipped fill_rect: %ld", n);
    sg_canvas_fill(&c, WHITE);
    sg_canvas_rect(&c, 10, 10, 20, 10, BLACK);
    n = ink_bbox(&c, WHITE, &x0, &y0, &x1, &y1);
    CHECK(n == 2 * 20 + 2 * 8 && x0 == 10 && x1 == 29 && y0 == 10 && y1 == 19, "outline %ld", n);

    /* A horizontal 3 px line through pixel centres: rows 19..21 fully covered. */
    sg_canvas_fill(&c, WHITE);
    sg_canvas_line(&c, 10.5, 20.5, 80.5, 20.5, 3.0, BLACK);
    CHECK(is_color(&c, 40, 19, BLACK) && is_color(&c, 40, 20, BLACK) && is_color(&c, 40, 21, BLACK),
          "line core opaque");
    CHECK(is_color(&c, 40, 17, WHITE) && is_color(&c, 40, 23, WHITE), "line does not spill");
    /* Antialiasing: a line between pixel rows partly covers both. */
    sg_canvas_fill(&c, WHITE);
    sg_canvas_line(&c, 0, 40.0, 99, 40.0, 1.0, BLACK);
    const uint8_t *p39 = c.rgb + (39 * 100 + 50) * 3, *p40 = c.rgb + (40 * 100 + 50) * 3;
    CHECK(p39[0] > 0 && p39[0] < 255 && p40[0] > 0 && p40[0] < 255, "AA edge values %d %d", p39[0], p40[0]);
    /* Diagonal line: ink along the diagonal, nothing far off it. */
    sg_canvas_fill(&c, WHITE);
    sg_canvas_line(&c, 0, 0, 79, 79, 2.0, BLACK);
    CHECK(is_color(&c, 30, 30, BLACK) && is_color(&c, 60, 20, WHITE), "diagonal");
    /* Polyline with a break (NaN) and a lone point. */
    sg_canvas_fill(&c, WHITE);
    double xs[] = {10, 30, NAN, 60, NAN, 80, 90}, ys[] = {10, 10, 0, 50, 0, 70, 70};
    sg_canvas_polyline(&c, xs, ys, 7, 2.0, BLACK);
    CHECK(!is_color(&c, 20, 9, WHITE) && !is_color(&c, 60, 49, WHITE) && !is_color(&c, 85, 69, WHITE),
          "polyline segments and lone point");
    CHECK(is_color(&c, 45, 30, WHITE), "no segment across the break");
    /* Markers are centred. */
    int kinds[] = {SG_MARK_CIRCLE, SG_MARK_SQUARE, SG_MARK_TRI_UP, SG_MARK_TRI_DOWN, SG_MARK_CROSS};
    for (int k = 0; k < 5; k++) {
        sg_canvas_fill(&c, WHITE);
        sg_canvas_marker(&c, 50, 40, kinds[k], 10, RED);
        n = ink_bbox(&c, WHITE, &x0, &y0, &x1, &y1);
        CHECK(n > 20 && x0 >= 43 && x1 <= 56 && y0 >= 33 && y1 <= 46 && is_color(&c, 50, 40, RED),
              "marker %d: %ld px bbox (%d,%d)-(%d,%d)", k, n, x0, y0, x1, y1);
    }
    /* Triangle up: wider at the bottom. */
    sg_canvas_fill(&c, WHITE);
    sg_canvas_marker(&c, 50, 40, SG_MARK_TRI_UP, 10, RED);
    CHECK(is_color(&c, 46, 44, RED) && is_color(&c, 46, 36, WHITE), "triangle points up");

    /* Blit with upscaling, partly off the canvas. */
    uint8_t img[2 * 2 * 3] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30};
    sg_canvas_fill(&c, WHITE);
    sg_canvas_blit(&c, img, 2, 2, 96, 76, 3);
    CHECK(is_color(&c, 96, 76, RED) && is_color(&c, 98, 78, RED) && is_color(&c, 99, 76, SG_RGB(0, 255, 0)) &&
          is_color(&c, 96, 79, SG_RGB(0, 0, 255)) && is_color(&c, 95, 76, WHITE), "blit x3");
    sg_canvas_blit(&c, img, 2, 2, -1, -1, 1);
    CHECK(is_color(&c, 0, 0, SG_RGB(10, 20, 30)), "blit at negative origin");
    sg_canvas_free(&c);
}

static void test_save(void)
{
    sg_canvas c;
    sg_err err;
    char path[] = "/tmp/test_canvas_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    char png[64];
    snprintf(png, sizeof png, "%s.png", path);
    sg_canvas_init(&c, 32, 16, WHITE, &err);
    sg_canvas_text(&c, 1, 1, "ok", 1, BLACK);
    CHECK(sg_canvas_save(&c, png, &err) == 0, "save: %s", err.msg);
    FILE *f = fopen(png, "rb");
    unsigned char sig[8] = {0};
    CHECK(f && fread(sig, 1, 8, f) == 8 && memcmp(sig, "\x89PNG\r\n\x1a\n", 8) == 0, "PNG signature");
    if (f) fclose(f);
    unlink(png);
    unlink(path);
    sg_canvas_free(&c);
}

int main(void)
{
    test_font();
    test_text();
    test_shapes();
    test_save();
    /* free: NULL, and twice, as every other _free takes them */
    sg_canvas_free(NULL);
    sg_canvas c;
    sg_err err = { { 0 } };
    CHECK(sg_canvas_init(&c, 4, 3, (sg_rgb){ 1, 2, 3 }, &err) == 0, "%s", err.msg);
    sg_canvas_free(&c);
    CHECK(c.rgb == NULL && c.width == 0 && c.height == 0, "sg_canvas_free left %p %dx%d", (void *)c.rgb, c.width,
          c.height);
    sg_canvas_free(&c);
    return check_done();
}
