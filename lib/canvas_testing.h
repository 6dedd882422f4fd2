/* Test-only hooks of lib/canvas.c, declared apart from lib/canvas.h so that
 * no tool reaches them (tests/cli/make.bats checks that none includes this);
 * for tests/unit/test_canvas.c. */
#ifndef SG_CANVAS_TESTING_H
#define SG_CANVAS_TESTING_H
#include "canvas.h"

/* Fills the whole canvas (sg_canvas_init's background). For tests only,
 * outside canvas.c. */
void sg_canvas_fill(sg_canvas *c, sg_rgb color);
/* Text rotated 90 degrees counter-clockwise (reads bottom to top, as a y-axis
 * label); (x, y) is the bottom-left corner of the rotated text block. For
 * tests only: no tool draws it now. */
void sg_canvas_text_up(sg_canvas *c, int x, int y, const char *s, int scale, sg_rgb color);

#endif
