/* Test-only hooks of lib/resize.c, declared apart from lib/image.h so that no
 * tool reaches them (tests/cli/make.bats checks that none includes this); for
 * tests/unit/test_image.c. */
#ifndef SG_RESIZE_TESTING_H
#define SG_RESIZE_TESTING_H
#include "image.h"

/* torchvision's CenterCrop offsets: round((in - crop) / 2) with Python's
 * round-half-to-even; when crop > in, -(crop - in) / 2 (zero padding). For
 * tests only, outside resize.c. */
int sg_center_crop_offset(int in, int crop);
/* Use the portable code even where AVX2 is available. For tests only (they
 * compare both). */
void sg_resize_force_scalar(int on);

#endif
