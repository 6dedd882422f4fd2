/* An RGB8 drawing canvas for plots and image grids: rectangles, antialiased
 * lines and polylines, markers, image blits with integer upscaling, and text
 * in the embedded bitmap font (lib/font.h) at an integer scale. Everything is
 * clipped to the canvas; coordinates are pixels, (0,0) is the top-left corner,
 * and pixel (x, y) covers [x, x+1) x [y, y+1) (its centre is x+0.5, y+0.5). */
#ifndef SG_CANVAS_H
#define SG_CANVAS_H
#include <stdint.h>
#include "error.h"

typedef struct { uint8_t r, g, b; } sg_rgb;

typedef struct {
    int width, height;
    uint8_t *rgb;           /* (height, width, 3), malloc'd */
} sg_canvas;

#define SG_RGB(r, g, b) ((sg_rgb){(r), (g), (b)})

enum { SG_MARK_CIRCLE, SG_MARK_SQUARE, SG_MARK_TRI_UP, SG_MARK_TRI_DOWN, SG_MARK_CROSS };

/* The largest side of a canvas: the tools size their grids within it. */
#define SG_CANVAS_MAX_SIDE 32768

/* Allocates a width x height canvas filled with bg (sizes 1..SG_CANVAS_MAX_SIDE). */
int sg_canvas_init(sg_canvas *c, int width, int height, sg_rgb bg, sg_err *err);
void sg_canvas_free(sg_canvas *c);   /* c may be NULL */

void sg_canvas_fill_rect(sg_canvas *c, int x, int y, int w, int h, sg_rgb color);
/* One-pixel outline of the rectangle [x, x+w) x [y, y+h). */
void sg_canvas_rect(sg_canvas *c, int x, int y, int w, int h, sg_rgb color);

/* Copies an RGB8 image (w x h) with its top-left at (x, y), each source pixel
 * becoming a scale x scale block (nearest neighbour; scale >= 1). */
void sg_canvas_blit(sg_canvas *c, const uint8_t *rgb, int w, int h, int x, int y, int scale);

/* Antialiased line of the given width (pixels, > 0) with round ends. */
void sg_canvas_line(sg_canvas *c, double x0, double y0, double x1, double y1, double width, sg_rgb color);
/* Connected segments through n points; a non-finite coordinate breaks the line. */
void sg_canvas_polyline(sg_canvas *c, const double *xs, const double *ys, int n, double width, sg_rgb color);
/* A filled marker centred at (x, y) of about size pixels across. */
void sg_canvas_marker(sg_canvas *c, double x, double y, int kind, double size, sg_rgb color);

/* Text in the bitmap font, scale >= 1, top-left of the first cell at (x, y).
 * '\n' starts a new line. Returns the width of the widest line in pixels. */
int sg_canvas_text(sg_canvas *c, int x, int y, const char *s, int scale, sg_rgb color);
/* Size of the text block (unrotated) in pixels: widest line x lines. */
void sg_text_size(const char *s, int scale, int *w, int *h);

/* Writes the canvas as PNG (JPEG for .jpg/.jpeg; "-" = PNG on stdout) atomically. */
int sg_canvas_save(const sg_canvas *c, const char *path, sg_err *err);

#endif
