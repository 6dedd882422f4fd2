/* An embedded bitmap font for printable ASCII (32..126), drawn by hand for
 * stargan-c: 5x9 glyphs (7 rows above the baseline, 2 for descenders) in a
 * 6x11 cell (one blank column right, one blank row above and below).
 * Characters outside 32..126 are drawn as '?'. */
#ifndef SG_FONT_H
#define SG_FONT_H
#include <stdint.h>

#define SG_FONT_GLYPH_W 5
#define SG_FONT_GLYPH_H 9
#define SG_FONT_CELL_W 6
#define SG_FONT_CELL_H 11
#define SG_FONT_FIRST 32
#define SG_FONT_LAST 126

/* Rows of the glyph for c, top to bottom; bit 4 of each row is the leftmost column. */
const uint8_t *sg_font_glyph(unsigned char c);

#endif
