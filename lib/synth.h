/* Synthetic CelebA-like faces: attribute sampling, a small antialiased
 * rasteriser that draws the attributes visibly, and a judge that reads the
 * drawn attributes back from an image of any size.
 *
 * Geometry: the canvas is CelebA's aligned size, 178x218. Everything that
 * matters is laid out in "crop units" (u, v) in [0,1]^2 over the central
 * 178x178 crop (canvas rows 20..197), which is what a model trained with
 * CenterCrop(178) sees. Every drawn attribute is large enough to survive a
 * resize to 32x32: hair is a wide band around the face, glasses have thick dark
 * frames and tinted lenses, hats are strongly coloured.
 *
 * Determinism: an image is a pure function of (seed, index); no global state,
 * so images may be drawn in any order and on any number of threads. */
#ifndef SG_SYNTH_H_INCLUDED
#define SG_SYNTH_H_INCLUDED
#include <stdint.h>
#include "image.h"

#define SG_SYNTH_W 178
#define SG_SYNTH_H 218
#define SG_SYNTH_N_ATTRS 40     /* CelebA's attributes, in sg_celeba_attr_names order */

/* Draws the 40 attribute values (-1/1) of image index idx with CelebA-like
 * frequencies and the constraints that make them drawable (at most one hair
 * colour; no hair colour or bangs when bald; beards only on men; ...). */
void sg_synth_attrs(uint64_t seed, uint64_t idx, int8_t attrs[SG_SYNTH_N_ATTRS]);

/* Draws image idx showing attrs into rgb (SG_SYNTH_H, SG_SYNTH_W, 3).
 * Variation (position, size, skin tone, background, face shape) comes from
 * (seed, idx); attrs may be any combination. Fails only when out of memory. */
int sg_synth_draw(uint64_t seed, uint64_t idx, const int8_t attrs[SG_SYNTH_N_ATTRS], uint8_t *rgb, sg_err *err);

/* The attributes the judge reads, in this order. */
enum {
    SG_JUDGE_BLACK_HAIR, SG_JUDGE_BLOND_HAIR, SG_JUDGE_BROWN_HAIR, SG_JUDGE_GRAY_HAIR,
    SG_JUDGE_BANGS, SG_JUDGE_EYEGLASSES, SG_JUDGE_WEARING_HAT, SG_JUDGE_MUSTACHE,
    SG_JUDGE_WEARING_EARRINGS, SG_JUDGE_N
};
extern const char *const sg_judge_attr_names[SG_JUDGE_N];

/* Reads the judged attributes (0/1 each) from an image of a synthetic face:
 * either the whole 178x218 canvas (recognised by its aspect ratio, within 3%)
 * or the central 178x178 crop, at any resolution (e.g. a generator's 32x32,
 * 64x64 or 128x128 output). scores (optional, SG_JUDGE_N) receives the raw
 * measurements (distances, ratios) the decisions were made from. */
void sg_synth_judge(const sg_image *img, int out[SG_JUDGE_N], float *scores);

/* How the judge takes a width x height image: 1 the whole 178x218 canvas
 * (that aspect within 3%), 0 a square crop (within 3%), -1 neither, so no one
 * face (sg-sample's grid, a photo), whose judgement would mean nothing;
 * sg_synth_judge takes that as a crop. */
int sg_synth_judge_framing(int width, int height);

#endif
