#include "canvas.h"
#include "canvas_testing.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "font.h"
#include "image.h"

int sg_canvas_init(sg_canvas *c, int width, int height, sg_rgb bg, sg_err *err)
{
    c->rgb = NULL;
    c->width = c->height = 0;
    if (width < 1 || height < 1 || width > SG_CANVAS_MAX_SIDE || height > SG_CANVAS_MAX_SIDE)
        return sg_errf(err, "canvas size %dx%d out of range (1..%d)", width, height, SG_CANVAS_MAX_SIDE);
    c->rgb = malloc((size_t)width * height * 3);
    if (!c->rgb) return sg_err_oom(err, "canvas %dx%d: out of memory", width, height);
    c->width = width;
    c->height = height;
    sg_canvas_fill(c, bg);
    return 0;
}

void sg_canvas_free(sg_canvas *c)
{
    if (!c) return;
    free(c->rgb);
    c->rgb = NULL;
    c->width = c->height = 0;
}

void sg_canvas_fill(sg_canvas *c, sg_rgb color)
{
    sg_canvas_fill_rect(c, 0, 0, c->width, c->height, color);
}

void sg_canvas_fill_rect(sg_canvas *c, int x, int y, int w, int h, sg_rgb color)
{
    int x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
    long x1 = (long)x + w, y1 = (long)y + h;
    if (x1 > c->width) x1 = c->width;
    if (y1 > c->height) y1 = c->height;
    for (int yy = y0; yy < y1; yy++) {
        uint8_t *p = c->rgb + ((size_t)yy * c->width + x0) * 3;
        for (int xx = x0; xx < x1; xx++, p += 3) { p[0] = color.r; p[1] = color.g; p[2] = color.b; }
    }
}

void sg_canvas_rect(sg_canvas *c, int x, int y, int w, int h, sg_rgb color)
{
    if (w <= 0 || h <= 0) return;
    sg_canvas_fill_rect(c, x, y, w, 1, color);
    sg_canvas_fill_rect(c, x, y + h - 1, w, 1, color);
    sg_canvas_fill_rect(c, x, y, 1, h, color);
    sg_canvas_fill_rect(c, x + w - 1, y, 1, h, color);
}

/* Blends color over pixel (x, y) with opacity alpha in [0, 1]. */
static void blend(sg_canvas *c, int x, int y, sg_rgb color, float alpha)
{
    if (x < 0 || y < 0 || x >= c->width || y >= c->height || !(alpha > 0)) return;
    if (alpha > 1) alpha = 1;
    uint8_t *p = c->rgb + ((size_t)y * c->width + x) * 3;
    p[0] = (uint8_t)lrintf(p[0] + (color.r - p[0]) * alpha);
    p[1] = (uint8_t)lrintf(p[1] + (color.g - p[1]) * alpha);
    p[2] = (uint8_t)lrintf(p[2] + (color.b - p[2]) * alpha);
}

void sg_canvas_blit(sg_canvas *c, const uint8_t *rgb, int w, int h, int x, int y, int scale)
{
    if (scale < 1) scale = 1;
    for (int dy = 0; dy < h * scale; dy++) {
        int yy = y + dy;
        if (yy < 0 || yy >= c->height) continue;
        const uint8_t *src = rgb + (size_t)(dy / scale) * w * 3;
        for (int dx = 0; dx < w * scale; dx++) {
            int xx = x + dx;
            if (xx < 0 || xx >= c->width) continue;
            memcpy(c->rgb + ((size_t)yy * c->width + xx) * 3, src + (dx / scale) * 3, 3);
        }
    }
}

/* Coverage of a pixel by a line of half-width r: distance d from the pixel
 * centre to the segment, with a one-pixel linear ramp at the edge. */
void sg_canvas_line(sg_canvas *c, double x0, double y0, double x1, double y1, double width, sg_rgb color)
{
    if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1) || !(width > 0)) return;
    double r = width / 2;
    double minx = fmin(x0, x1) - r - 1, maxx = fmax(x0, x1) + r + 1;
    double miny = fmin(y0, y1) - r - 1, maxy = fmax(y0, y1) + r + 1;
    if (maxx < 0 || maxy < 0 || minx > c->width || miny > c->height) return;
    int ix0 = minx < 0 ? 0 : (int)minx, iy0 = miny < 0 ? 0 : (int)miny;
    int ix1 = maxx >= c->width ? c->width - 1 : (int)maxx, iy1 = maxy >= c->height ? c->height - 1 : (int)maxy;
    double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
    for (int py = iy0; py <= iy1; py++) {
        for (int px = ix0; px <= ix1; px++) {
            double cx = px + 0.5, cy = py + 0.5;
            double t = len2 > 0 ? ((cx - x0) * dx + (cy - y0) * dy) / len2 : 0;
            if (t < 0) t = 0;
            if (t > 1) t = 1;
            double ex = cx - (x0 + t * dx), ey = cy - (y0 + t * dy);
            double d = sqrt(ex * ex + ey * ey);
            double cover = r + 0.5 - d;
            if (cover <= 0) continue;
            /* Lines thinner than a pixel fade instead of vanishing. */
            if (width < 1) cover *= width;
            blend(c, px, py, color, (float)(cover > 1 ? 1 : cover));
        }
    }
}

void sg_canvas_polyline(sg_canvas *c, const double *xs, const double *ys, int n, double width, sg_rgb color)
{
    for (int k = 0; k + 1 < n; k++)
        sg_canvas_line(c, xs[k], ys[k], xs[k + 1], ys[k + 1], width, color);
    /* A single point between two breaks still shows as a dot. */
    for (int k = 0; k < n; k++) {
        int prev = k > 0 && isfinite(xs[k - 1]) && isfinite(ys[k - 1]);
        int next = k + 1 < n && isfinite(xs[k + 1]) && isfinite(ys[k + 1]);
        if (!prev && !next && isfinite(xs[k]) && isfinite(ys[k]))
            sg_canvas_line(c, xs[k], ys[k], xs[k], ys[k], width, color);
    }
}

/* Signed-area test: is (px, py) inside the triangle a-b-c (either winding)? */
static double edge(double ax, double ay, double bx, double by, double px, double py)
{
    return (bx - ax) * (py - ay) - (by - ay) * (px - ax);
}

static void fill_triangle(sg_canvas *c, const double *tx, const double *ty, sg_rgb color)
{
    int x0 = (int)floor(fmin(tx[0], fmin(tx[1], tx[2]))), x1 = (int)ceil(fmax(tx[0], fmax(tx[1], tx[2])));
    int y0 = (int)floor(fmin(ty[0], fmin(ty[1], ty[2]))), y1 = (int)ceil(fmax(ty[0], fmax(ty[1], ty[2])));
    double area = edge(tx[0], ty[0], tx[1], ty[1], tx[2], ty[2]);
    if (area == 0) return;
    /* 4x4 supersampling for smooth edges. */
    for (int py = y0; py <= y1; py++)
        for (int px = x0; px <= x1; px++) {
            int inside = 0;
            for (int s = 0; s < 16; s++) {
                double sx = px + (s % 4 + 0.5) / 4, sy = py + (s / 4 + 0.5) / 4;
                double w0 = edge(tx[1], ty[1], tx[2], ty[2], sx, sy);
                double w1 = edge(tx[2], ty[2], tx[0], ty[0], sx, sy);
                double w2 = edge(tx[0], ty[0], tx[1], ty[1], sx, sy);
                if (area > 0 ? (w0 >= 0 && w1 >= 0 && w2 >= 0) : (w0 <= 0 && w1 <= 0 && w2 <= 0)) inside++;
            }
            if (inside) blend(c, px, py, color, inside / 16.0f);
        }
}

void sg_canvas_marker(sg_canvas *c, double x, double y, int kind, double size, sg_rgb color)
{
    if (!isfinite(x) || !isfinite(y) || !(size > 0)) return;
    double h = size / 2;
    switch (kind) {
    case SG_MARK_SQUARE: {
        int x0 = (int)lround(x - h), y0 = (int)lround(y - h), side = (int)lround(size);
        sg_canvas_fill_rect(c, x0, y0, side < 1 ? 1 : side, side < 1 ? 1 : side, color);
        break;
    }
    case SG_MARK_TRI_UP: {
        double tx[3] = {x, x + h, x - h}, ty[3] = {y - h, y + h, y + h};
        fill_triangle(c, tx, ty, color);
        break;
    }
    case SG_MARK_TRI_DOWN: {
        double tx[3] = {x - h, x + h, x}, ty[3] = {y - h, y - h, y + h};
        fill_triangle(c, tx, ty, color);
        break;
    }
    case SG_MARK_CROSS: {
        double w = size / 4 > 1 ? size / 4 : 1;
        sg_canvas_line(c, x - h, y - h, x + h, y + h, w, color);
        sg_canvas_line(c, x - h, y + h, x + h, y - h, w, color);
        break;
    }
    default:    /* circle: a zero-length round-ended line */
        sg_canvas_line(c, x, y, x, y, size, color);
        break;
    }
}

static void draw_glyph(sg_canvas *c, int x, int y, unsigned char ch, int scale, int rotate_up, sg_rgb color)
{
    const uint8_t *rows = sg_font_glyph(ch);
    for (int gy = 0; gy < SG_FONT_GLYPH_H; gy++)
        for (int gx = 0; gx < SG_FONT_GLYPH_W; gx++) {
            if (!(rows[gy] >> (SG_FONT_GLYPH_W - 1 - gx) & 1)) continue;
            int cx = gx, cy = gy + 1;   /* position in the cell (one blank row on top) */
            if (!rotate_up) sg_canvas_fill_rect(c, x + cx * scale, y + cy * scale, scale, scale, color);
            else            /* cell (cx, cy) -> (cy, -cx - 1) relative to the baseline origin */
                sg_canvas_fill_rect(c, x + cy * scale, y - (cx + 1) * scale, scale, scale, color);
        }
}

int sg_canvas_text(sg_canvas *c, int x, int y, const char *s, int scale, sg_rgb color)
{
    if (scale < 1) scale = 1;
    int cx = x, cy = y, widest = 0;
    for (; *s; s++) {
        if (*s == '\n') {
            if (cx - x > widest) widest = cx - x;
            cx = x;
            cy += SG_FONT_CELL_H * scale;
            continue;
        }
        if (*s != ' ') draw_glyph(c, cx, cy, (unsigned char)*s, scale, 0, color);
        cx += SG_FONT_CELL_W * scale;
    }
    if (cx - x > widest) widest = cx - x;
    return widest;
}

void sg_canvas_text_up(sg_canvas *c, int x, int y, const char *s, int scale, sg_rgb color)
{
    if (scale < 1) scale = 1;
    int along = 0, line = 0;
    for (; *s; s++) {
        if (*s == '\n') { along = 0; line++; continue; }
        if (*s != ' ') draw_glyph(c, x + line * SG_FONT_CELL_H * scale, y - along, (unsigned char)*s, scale, 1, color);
        along += SG_FONT_CELL_W * scale;
    }
}

void sg_text_size(const char *s, int scale, int *w, int *h)
{
    if (scale < 1) scale = 1;
    int cols = 0, widest = 0, lines = 1;
    for (; *s; s++) {
        if (*s == '\n') { lines++; cols = 0; continue; }
        if (++cols > widest) widest = cols;
    }
    if (w) *w = widest * SG_FONT_CELL_W * scale;
    if (h) *h = lines * SG_FONT_CELL_H * scale;
}

int sg_canvas_save(const sg_canvas *c, const char *path, sg_err *err)
{
    return sg_image_write(path, c->rgb, c->width, c->height, err);
}
