/* Test-only hooks of lib/image_decode.c, declared apart from lib/image.h so
 * that no tool reaches them (tests/cli/make.bats checks that none includes
 * this); for tests/unit/test_image.c and tests/unit/test_mutated_inputs.c. */
#ifndef SG_IMAGE_DECODE_TESTING_H
#define SG_IMAGE_DECODE_TESTING_H
#include <stddef.h>
#include <stdint.h>
#include "image.h"

/* The EXIF orientation (TIFF tag 0x0112 of IFD0, 1..8) of a JPEG's first APP1
 * "Exif\0\0" segment before its first scan, or of a PNG's eXIf chunk (Pillow's
 * getexif() also reads XMP's tiff:Orientation, which is not read); 1 (as
 * stored) when there is none, or when the EXIF is malformed or cut short or
 * the tag is not one integer value (BYTE, SHORT, LONG, SSHORT, SLONG) in
 * 1..8. Bounded: no offset is trusted, no IFD chain is followed. For tests
 * only, outside image_decode.c, as is sg_image_orient (the tools call
 * sg_image_read_file_oriented). */
int sg_image_exif_orientation(const uint8_t *data, size_t len);
/* Turns img upright for EXIF orientation o as Pillow's ImageOps.exif_transpose
 * does (2 mirror, 3 rotate 180, 4 flip, 5 transpose, 6 rotate 90 clockwise,
 * 7 transverse, 8 rotate 90 counter-clockwise; 5..8 swap width and height);
 * any other value leaves it as it is. */
int sg_image_orient(sg_image *img, int o, sg_err *err);
/* Width and height from the header only (no pixels decoded). What the decoders
 * refuse in the header is refused here too, with the decoders' message (the
 * same header check runs first in both): a size above the limits or zero; a
 * JPEG in CMYK or YCCK, or one libjpeg's header reader refuses (12-bit,
 * lossless, a component count without a colour space); a PNG whose first chunk
 * is not IHDR, or whose IHDR is cut short, has a length other than 13, a wrong
 * CRC or fields libpng refuses (bit depth, colour type, methods). Faults past
 * the header only a decode finds: corrupt or truncated compressed data, a wrong
 * CRC in a later PNG chunk (IDAT). For tests only, outside image_decode.c. */
int sg_image_probe(const uint8_t *data, size_t len, int *width, int *height, sg_err *err);
/* 1 when every scan of the JPEG uses only quantization and Huffman tables that
 * the JPEG defines before it; 0 when it may use tables it does not define (an
 * abbreviated stream), or when it is not a JPEG this check understands. The
 * decoders reuse a thread's (or preprocessor's) libjpeg decompressor, which
 * keeps tables from image to image, only for the former; the others get a new
 * one, as Pillow does for every image. For tests only, outside image_decode.c. */
int sg_jpeg_defines_its_tables(const uint8_t *data, size_t len);

#endif
