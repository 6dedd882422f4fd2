/* RGB8 images: decoding (TurboJPEG, or libjpeg for headers it refuses; libpng) with limits, the reference's
 * CenterCrop + Resize preprocessing, and PNG/JPEG encoding. */
#ifndef SG_IMAGE_H
#define SG_IMAGE_H
#include <signal.h>
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

/* Decodes a JPEG (TurboJPEG, libjpeg where TurboJPEG refuses the header; islow DCT and fancy upsampling: the same
 * pixels as Pillow's decoder; any libjpeg warning such as truncated data is an
 * error) or a PNG (libpng: palette, grey, 1/2/4/16-bit converted to RGB8, 16-bit
 * keeps the high byte, an alpha channel is dropped as Pillow's convert("RGB")
 * does, no gamma correction) into out->rgb (malloc'd). The format is taken from
 * the signature, not the name; a PNG must start with its IHDR chunk, as the PNG
 * spec says. Messages do not name the file; callers prefix it. */
int sg_image_decode(const uint8_t *data, size_t len, sg_image *out, sg_err *err);
/* Reads and decodes a file (path "-" = stdin); errors name the file. */
int sg_image_read_file(const char *path, sg_image *out, sg_err *err);
/* sg_image_read_file, then, with exif, the file's EXIF orientation applied
 * (for a user's photo; training data ignores it, as the reference's loader
 * does). */
int sg_image_read_file_oriented(const char *path, int exif, sg_image *out, sg_err *err);

/* The reference's preprocessing: torchvision CenterCrop(crop) then Resize(size)
 * on a PIL image, i.e. Pillow 9.4's img.resize((w, h), Image.BILINEAR), bit for
 * bit (antialiasing triangle filter, 22-bit fixed-point coefficients, horizontal
 * pass into a uint8 intermediate, then vertical pass). A crop larger than the
 * image pads with zeros as torchvision does. Coefficients depend only on the
 * sizes, so a plan is made once and applied to every image of that size. */
typedef struct {
    int src_w, src_h;        /* source image */
    int crop_w, crop_h;      /* crop window */
    int left, top;           /* crop origin in the source; negative = zero padding */
    int padded;              /* the window reaches outside the source */
    int out_w, out_h;
    int need_h, need_v;      /* a pass is skipped when it would be the identity */
    int ksize_h, ksize_v;    /* coefficients per output pixel (zero-padded) */
    int *bounds_h, *bounds_v;   /* (out, 2): first input index, tap count */
    int32_t *k_h, *k_v;         /* (out, ksize) fixed point, 22 fraction bits */
    int row_first, row_last;    /* crop rows [first, last) that the output depends on */
} sg_resize_plan;

int sg_resize_plan_init(sg_resize_plan *p, int src_w, int src_h, int crop_w, int crop_h,
                        int out_w, int out_h, sg_err *err);
void sg_resize_plan_free(sg_resize_plan *p);
/* Source rows [*first, *last) that sg_resize_apply reads (clipped to the image). */
void sg_resize_plan_source_rows(const sg_resize_plan *p, int *first, int *last);
/* Scratch bytes sg_resize_apply needs. */
size_t sg_resize_plan_scratch_size(const sg_resize_plan *p);
/* src holds source rows starting at row src_row0 (stride src_w*3), covering at
 * least sg_resize_plan_source_rows; out is (out_h, out_w, 3). Thread-safe for
 * one plan when each thread passes its own scratch. */
void sg_resize_apply(const sg_resize_plan *p, const uint8_t *src, int src_row0, uint8_t *out, uint8_t *scratch);
/* One-shot CenterCrop(crop_w x crop_h) + Resize(out_w x out_h); out->rgb
 * malloc'd. out may be in: on success its pixels are freed and replaced, on
 * failure it is left as it was (another out is emptied on failure). */
int sg_center_crop_resize(const sg_image *in, int crop_w, int crop_h, int out_w, int out_h,
                          sg_image *out, sg_err *err);

/* Decode + CenterCrop + Resize for many images in a row (one per thread):
 * keeps the decode buffer, the scratch and the resize plan of the last source
 * size, so a dataset of equal-sized images costs no allocation per image. */
typedef struct {
    int crop_w, crop_h, out_w, out_h;
    sg_resize_plan plan;
    int have_plan;
    uint8_t *pixels;  size_t pixels_cap;
    uint8_t *scratch; size_t scratch_cap;
    void *jpeg;              /* libjpeg decompressor, reused (opaque) */
    int full_decode;         /* 1: decode every row (for tests: the partial path must match) */
    /* Non-NULL: a flag a signal handler sets (a stop); once it is nonzero
     * sg_preprocess gives up the image within a few rows (a JPEG's scanline,
     * a PNG's next read of compressed data) and fails with "stopped", so that
     * a stop need not wait for a large image's decode. NULL after init. */
    const volatile sig_atomic_t *stop;
} sg_preprocessor;
void sg_preprocessor_init(sg_preprocessor *p, int crop_w, int crop_h, int out_w, int out_h);
/* Decodes data (JPEG or PNG, as sg_image_decode) and writes the (out_h, out_w, 3)
 * result to out. Messages do not name the file. JPEGs go through libjpeg's
 * scanline API and only the rows the resize reads are decoded: the rows above
 * are skipped (jpeg_skip_scanlines) and decoding stops after the last one; the
 * pixels are those of a full decode. A file without an end-of-image marker
 * (e.g. truncated) is decoded in full, so that truncation is still an error. */
int sg_preprocess(sg_preprocessor *p, const uint8_t *data, size_t len, uint8_t *out, sg_err *err);
void sg_preprocessor_free(sg_preprocessor *p);
/* After a decode or sg_preprocess failed: 1 when the file is sound but of a
 * kind not read (a CMYK/YCCK JPEG, its header whole), 0 when it is damaged. */
int sg_image_unsupported(const sg_err *err);

/* Encode RGB8 pixels to PNG in memory (*out malloc'd). */
int sg_png_encode(const uint8_t *rgb, int width, int height, uint8_t **out, size_t *out_len, sg_err *err);
/* Encode RGB8 pixels to JPEG in memory (quality 1..100). */
int sg_jpeg_encode(const uint8_t *rgb, int width, int height, int quality, uint8_t **out, size_t *out_len, sg_err *err);
/* Writes a PNG, or a JPEG when path ends in .jpg/.jpeg, atomically (see fileio.h).
 * path "-" writes PNG to stdout. */
int sg_image_write(const char *path, const uint8_t *rgb, int width, int height, sg_err *err);
/* 1 when sg_image_write would write a JPEG to path (it ends in .jpg/.jpeg). */
int sg_image_path_is_jpeg(const char *path);
/* Writes an encoded image to path atomically, or to stdout for "-", as
 * sg_image_write does after encoding. */
int sg_image_write_encoded(const char *path, const uint8_t *data, size_t len, sg_err *err);
/* sg_image_write with a comment in the file (sg_image_add_comment; NULL:
 * none, as sg_image_write). */
int sg_image_write_commented(const char *path, const uint8_t *rgb, int width, int height, const char *comment,
                             sg_err *err);

/* A comment in an encoded image, for programs that read it back: in a PNG a
 * tEXt chunk "Comment" right after IHDR, in a JPEG a COM segment after SOI
 * and its JFIF APP0 (text: printable ASCII, at most 1000 bytes). *data is
 * realloc'd. The grids of sg-sample, sg-train's samples and celeb-dump --grid
 * carry SG_IMAGE_GRID_COMMENT, so that celeb-synth --judge refuses one
 * whatever its shape. */
#define SG_IMAGE_GRID_COMMENT "stargan-c grid"
int sg_image_add_comment(uint8_t **data, size_t *len, const char *text, sg_err *err);
/* 1 when the encoded image (its first n bytes: the header up to the pixel
 * data is enough) holds text as a comment (PNG tEXt "Comment" before IDAT,
 * JPEG COM before SOS); 0 otherwise, a damaged or other file included. */
int sg_image_has_comment(const uint8_t *data, size_t n, const char *text);
/* The same for a file's first 64 KiB; 0 when it cannot be read. */
int sg_image_file_has_comment(const char *path, const char *text);

/* The network's input value of the 8-bit pixel value v, as the reference's
 * ToTensor + Normalize(0.5, 0.5) in float32: ((float)v / 255 - 0.5f) / 0.5f
 * (-1 at 0, +1 at 255). sg_unit_to_pixel (below) maps it back to v. */
static inline float sg_pixel_to_unit(uint8_t v)
{
    return ((float)v / 255.0f - 0.5f) / 0.5f;
}

/* An S x S RGB8 image (HWC, rows of S * 3 bytes) as the network's input x
 * (CHW: 3 planes of S x S floats, each value sg_pixel_to_unit's), mirrored
 * left to right when flip (the reference's RandomHorizontalFlip). The one
 * conversion of training's batches, its samples and sg-sample's inputs, so
 * that sampling sees an image bit for bit as training did. Thread-safe. */
void sg_rgb_to_chw(const uint8_t *rgb, int S, int flip, float *x);
/* A generator output y (CHW, 3 x S x S) as RGB8 pixels (sg_unit_to_pixel):
 * row r at rgb + r * row_stride (S * 3 for an image alone; a grid's width
 * in bytes for one of its cells, whose other bytes are left as they are). */
void sg_chw_to_rgb(const float *y, int S, uint8_t *rgb, size_t row_stride);

/* A generator output value in [-1, 1] as a pixel, the reference's denorm +
 * save_image: clamp((y + 1) / 2, 0, 1) * 255 + 0.5, truncated. NaN (a diverged
 * model) gives 0: casting NaN to an integer is undefined. */
static inline uint8_t sg_unit_to_pixel(float y)
{
    float v = (y + 1.0f) / 2.0f;
    v = v > 1.0f ? 1.0f : v >= 0.0f ? v : 0.0f;
    v = v * 255.0f + 0.5f;
    return (uint8_t)(v > 255.0f ? 255.0f : v);
}

#endif
