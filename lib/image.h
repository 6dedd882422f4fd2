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

/* Decoding limits: checked from the header, before any pixel buffer is allocated. */
#define SG_IMAGE_MAX_SIDE    16384
#define SG_IMAGE_MAX_PIXELS  (64L * 1024 * 1024)
#define SG_IMAGE_MAX_FILE    (256UL * 1024 * 1024)

/* Decodes a JPEG (TurboJPEG, accurate islow DCT and fancy upsampling: the same
 * pixels as Pillow's decoder; any libjpeg warning such as truncated data is an
 * error) or a PNG (libpng: palette, grey, 1/2/4/16-bit converted to RGB8, 16-bit
 * keeps the high byte, an alpha channel is dropped as Pillow's convert("RGB")
 * does, no gamma correction) into out->rgb (malloc'd). The format is taken from
 * the signature, not the name. Messages do not name the file; callers prefix it. */
int sg_image_decode(const uint8_t *data, size_t len, sg_image *out, sg_err *err);
/* Reads and decodes a file (path "-" = stdin); errors name the file. */
int sg_image_read_file(const char *path, sg_image *out, sg_err *err);
/* Width and height from the header only (no pixels decoded). */
int sg_image_probe(const uint8_t *data, size_t len, int *width, int *height, sg_err *err);

/* Encode RGB8 pixels to PNG in memory (*out malloc'd). */
int sg_png_encode(const uint8_t *rgb, int width, int height, uint8_t **out, size_t *out_len, sg_err *err);
/* Encode RGB8 pixels to JPEG in memory (quality 1..100). */
int sg_jpeg_encode(const uint8_t *rgb, int width, int height, int quality, uint8_t **out, size_t *out_len, sg_err *err);
/* Writes a PNG, or a JPEG when path ends in .jpg/.jpeg, atomically (see fileio.h).
 * path "-" writes PNG to stdout. */
int sg_image_write(const char *path, const uint8_t *rgb, int width, int height, sg_err *err);

#endif
