/* RGB8 images: decoding (TurboJPEG, libpng) with limits, the reference's
 * CenterCrop + Resize preprocessing, and PNG/JPEG encoding. */
#ifndef SG_IMAGE_H
#define SG_IMAGE_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "error.h"

typedef struct {
    int width, height;
    uint8_t *rgb;          /* (height, width, 3), row-major, malloc'd */
} sg_image;

void sg_image_free(sg_image *img);

/* Encode RGB8 pixels to PNG in memory (*out malloc'd). */
int sg_png_encode(const uint8_t *rgb, int width, int height, uint8_t **out, size_t *out_len, sg_err *err);
/* Encode RGB8 pixels to JPEG in memory (quality 1..100). */
int sg_jpeg_encode(const uint8_t *rgb, int width, int height, int quality, uint8_t **out, size_t *out_len, sg_err *err);
/* Writes a PNG, or a JPEG when path ends in .jpg/.jpeg, atomically (see fileio.h).
 * path "-" writes PNG to stdout. */
int sg_image_write(const char *path, const uint8_t *rgb, int width, int height, sg_err *err);

#endif
