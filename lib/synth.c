#include "synth.h"
#include "rng.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* CelebA attribute indices (sg_celeba_attr_names order). */
enum {
    A_5_O_CLOCK, A_ARCHED_BROWS, A_ATTRACTIVE, A_BAGS, A_BALD, A_BANGS, A_BIG_LIPS, A_BIG_NOSE,
    A_BLACK, A_BLOND, A_BLURRY, A_BROWN, A_BUSHY_BROWS, A_CHUBBY, A_DOUBLE_CHIN, A_EYEGLASSES,
    A_GOATEE, A_GRAY, A_HEAVY_MAKEUP, A_HIGH_CHEEKBONES, A_MALE, A_MOUTH_OPEN, A_MUSTACHE,
    A_NARROW_EYES, A_NO_BEARD, A_OVAL_FACE, A_PALE, A_POINTY_NOSE, A_RECEDING, A_ROSY,
    A_SIDEBURNS, A_SMILING, A_STRAIGHT, A_WAVY, A_EARRINGS, A_HAT, A_LIPSTICK, A_NECKLACE,
    A_NECKTIE, A_YOUNG
};

const char *const sg_judge_attr_names[SG_JUDGE_N] = {
    "Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair", "Bangs", "Eyeglasses",
    "Wearing_Hat", "Mustache", "Wearing_Earrings",
};

/* ---- colours the judge knows -------------------------------------------- */

/* Hair: the four labelled colours, then two unlabelled ones (red, ginger) for
 * images with no hair-colour attribute. Backgrounds and hats are kept far from
 * all of them. */
enum { HAIR_BLACK, HAIR_BLOND, HAIR_BROWN, HAIR_GRAY, HAIR_RED, HAIR_GINGER, N_HAIR };
static const float hair_rgb[N_HAIR][3] = {
    {28, 24, 24}, {225, 185, 85}, {112, 68, 38}, {172, 172, 174}, {172, 52, 34}, {208, 108, 48},
};
#define N_HAT 5
static const float hat_rgb[N_HAT][3] = {
    {45, 75, 195}, {40, 140, 70}, {115, 50, 155}, {25, 125, 145}, {190, 40, 125},
};
static const float earring_rgb[3] = {250, 212, 30};

/* ---- per-image random numbers -------------------------------------------- */

typedef struct { uint64_t seed, stream, counter; } draw_rng;

static float rnd(draw_rng *r) { return sg_randu(r->seed, r->stream, r->counter++); }
static float rnd_range(draw_rng *r, float lo, float hi) { return lo + (hi - lo) * rnd(r); }
static int chance(draw_rng *r, float p) { return rnd(r) < p; }

/* Streams far from rng.h's small training streams; attributes and drawing
 * apart, so that drawing changes never change the labels. */
#define STREAM_ATTRS(idx) (((uint64_t)1 << 40) + 2 * (idx))
#define STREAM_DRAW(idx)  (((uint64_t)1 << 40) + 2 * (idx) + 1)

void sg_synth_attrs(uint64_t seed, uint64_t idx, int8_t a[SG_SYNTH_N_ATTRS])
{
    draw_rng r = {seed, STREAM_ATTRS(idx), 0};
    int on[SG_SYNTH_N_ATTRS] = {0};
    int male = on[A_MALE] = chance(&r, 0.42f);
    int young = on[A_YOUNG] = chance(&r, male ? 0.66f : 0.85f);
    on[A_BALD] = male && chance(&r, young ? 0.01f : 0.15f);
    if (!on[A_BALD]) {
        if (chance(&r, young ? 0.006f : 0.15f)) on[A_GRAY] = 1;
        else {
            float u = rnd(&r), blond = male ? 0.03f : 0.26f;
            if (u < 0.25f) on[A_BLACK] = 1;
            else if (u < 0.25f + blond) on[A_BLOND] = 1;
            else if (u < 0.46f + blond) on[A_BROWN] = 1;
        }
        on[A_BANGS] = chance(&r, male ? 0.08f : 0.20f);
        float s = rnd(&r);
        if (s < 0.21f) on[A_STRAIGHT] = 1;
        else if (s < 0.53f) on[A_WAVY] = 1;
        on[A_RECEDING] = chance(&r, young ? 0.05f : 0.18f);
    }
    on[A_EYEGLASSES] = chance(&r, male ? 0.11f : 0.03f);
    on[A_HAT] = chance(&r, 0.05f);
    on[A_MUSTACHE] = male && chance(&r, 0.10f);
    on[A_GOATEE] = male && chance(&r, 0.15f);
    on[A_SIDEBURNS] = male && chance(&r, 0.13f);
    on[A_5_O_CLOCK] = male && chance(&r, 0.26f);
    on[A_NO_BEARD] = !(on[A_GOATEE] || on[A_5_O_CLOCK] || (male && chance(&r, 0.25f)));
    on[A_EARRINGS] = chance(&r, male ? 0.02f : 0.31f);
    on[A_SMILING] = chance(&r, 0.48f);
    on[A_MOUTH_OPEN] = chance(&r, on[A_SMILING] ? 0.72f : 0.26f);
    on[A_PALE] = chance(&r, 0.043f);
    on[A_LIPSTICK] = chance(&r, male ? 0.002f : 0.80f);
    on[A_HEAVY_MAKEUP] = !male && chance(&r, on[A_LIPSTICK] ? 0.80f : 0.05f);
    on[A_ARCHED_BROWS] = chance(&r, male ? 0.05f : 0.42f);
    on[A_ATTRACTIVE] = chance(&r, young ? 0.58f : 0.27f);
    on[A_BAGS] = chance(&r, young ? 0.15f : 0.37f);
    on[A_BIG_LIPS] = chance(&r, 0.24f);
    on[A_BIG_NOSE] = chance(&r, male ? 0.40f : 0.11f);
    on[A_BLURRY] = chance(&r, 0.05f);
    on[A_BUSHY_BROWS] = chance(&r, male ? 0.28f : 0.04f);
    on[A_CHUBBY] = chance(&r, young ? 0.03f : 0.15f);
    on[A_DOUBLE_CHIN] = chance(&r, on[A_CHUBBY] ? 0.5f : 0.025f);
    on[A_HIGH_CHEEKBONES] = chance(&r, on[A_SMILING] ? 0.75f : 0.18f);
    on[A_NARROW_EYES] = chance(&r, 0.115f);
    on[A_OVAL_FACE] = chance(&r, 0.28f);
    on[A_POINTY_NOSE] = chance(&r, 0.28f);
    on[A_ROSY] = !male && chance(&r, 0.11f);
    on[A_NECKLACE] = !male && chance(&r, 0.21f);
    on[A_NECKTIE] = male && chance(&r, 0.17f);
    for (int i = 0; i < SG_SYNTH_N_ATTRS; i++) a[i] = on[i] ? 1 : -1;
}

/* ---- rasteriser ----------------------------------------------------------- */

/* Coordinates: canvas pixels (pixel centres at +0.5). Crop units -> pixels. */
#define PX(u) ((u) * 178.0f)
#define PY(v) (20.0f + (v) * 178.0f)
#define PL(l) ((l) * 178.0f)

typedef struct { float *rgb; } canvas;   /* (218, 178, 3) floats 0..255 */

enum { SH_ELLIPSE, SH_BOX, SH_HALFPLANE };
typedef struct {
    int kind;
    float cx, cy, a, b;     /* centre; radii (ellipse) or half sizes (box) */
    float round;            /* box corner radius */
    float c, s;             /* rotation cos/sin */
} shape;

static shape ellipse(float cx, float cy, float rx, float ry, float angle)
{
    shape sh = {SH_ELLIPSE, cx, cy, rx, ry, 0, cosf(angle), sinf(angle)};
    return sh;
}
static shape box(float cx, float cy, float hw, float hh, float round, float angle)
{
    shape sh = {SH_BOX, cx, cy, hw, hh, round, cosf(angle), sinf(angle)};
    return sh;
}
/* Inside where (p - (x0,y0)) . (nx,ny) < 0. */
static shape halfplane(float x0, float y0, float nx, float ny)
{
    float l = sqrtf(nx * nx + ny * ny);
    shape sh = {SH_HALFPLANE, x0, y0, nx / l, ny / l, 0, 1, 0};
    return sh;
}

/* Signed distance in pixels (approximate for ellipses: f / |grad f|, exact at the edge). */
static float sdf(const shape *sh, float px, float py)
{
    float dx = px - sh->cx, dy = py - sh->cy;
    if (sh->kind == SH_HALFPLANE) return dx * sh->a + dy * sh->b;
    float x = sh->c * dx + sh->s * dy, y = -sh->s * dx + sh->c * dy;
    if (sh->kind == SH_ELLIPSE) {
        float ia = 1.0f / (sh->a * sh->a), ib = 1.0f / (sh->b * sh->b);
        float f = x * x * ia + y * y * ib - 1.0f;
        float gx = 2 * x * ia, gy = 2 * y * ib;
        float g = sqrtf(gx * gx + gy * gy);
        return g > 1e-6f ? f / g : -1e6f;
    }
    float qx = fabsf(x) - sh->a + sh->round, qy = fabsf(y) - sh->b + sh->round;
    float ox = qx > 0 ? qx : 0, oy = qy > 0 ? qy : 0;
    float in = qx > qy ? qx : qy;
    return sqrtf(ox * ox + oy * oy) + (in < 0 ? in : 0) - sh->round;
}

static float coverage(const shape *sh, float px, float py)
{
    float c = 0.5f - sdf(sh, px, py);
    return c < 0 ? 0 : c > 1 ? 1 : c;
}

/* Optional texture: colour * (1 + amp * sin(kx*x + ky*y + phase + wob*sin(0.07*y))). */
typedef struct { float amp, kx, ky, phase, wob; } texture;

/* Fills sh (times clip's coverage, times 1 - hole's coverage) with colour at opacity alpha. */
static void fill(canvas *cv, const shape *sh, const shape *clip, const shape *hole,
                 const float col[3], float alpha, const texture *tx)
{
    float ext = sh->kind == SH_BOX ? sqrtf(sh->a * sh->a + sh->b * sh->b) : (sh->a > sh->b ? sh->a : sh->b);
    int x0 = (int)floorf(sh->cx - ext - 2), x1 = (int)ceilf(sh->cx + ext + 2);
    int y0 = (int)floorf(sh->cy - ext - 2), y1 = (int)ceilf(sh->cy + ext + 2);
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > SG_SYNTH_W) x1 = SG_SYNTH_W;
    if (y1 > SG_SYNTH_H) y1 = SG_SYNTH_H;
    for (int y = y0; y < y1; y++) {
        float py = y + 0.5f;
        for (int x = x0; x < x1; x++) {
            float px = x + 0.5f;
            float a = coverage(sh, px, py);
            if (a <= 0) continue;
            if (clip) a *= coverage(clip, px, py);
            if (hole) a *= 1.0f - coverage(hole, px, py);
            a *= alpha;
            if (a <= 0) continue;
            float m = 1.0f;
            if (tx) m += tx->amp * sinf(tx->kx * px + tx->ky * py + tx->phase + tx->wob * sinf(0.07f * py));
            float *p = cv->rgb + ((size_t)y * SG_SYNTH_W + x) * 3;
            for (int k = 0; k < 3; k++) {
                float v = col[k] * m;
                p[k] += a * (v - p[k]);
            }
        }
    }
}

static void scale_rgb(float out[3], const float in[3], float s)
{
    for (int k = 0; k < 3; k++) { float v = in[k] * s; out[k] = v > 255 ? 255 : v; }
}

static void hsv_to_rgb(float h, float s, float v, float out[3])
{
    float c = v * s, hp = fmodf(h, 360.0f) / 60.0f, x = c * (1 - fabsf(fmodf(hp, 2.0f) - 1));
    float r = 0, g = 0, b = 0;
    if (hp < 1) { r = c; g = x; }
    else if (hp < 2) { r = x; g = c; }
    else if (hp < 3) { g = c; b = x; }
    else if (hp < 4) { g = x; b = c; }
    else if (hp < 5) { r = x; b = c; }
    else { r = c; b = x; }
    out[0] = (r + v - c) * 255; out[1] = (g + v - c) * 255; out[2] = (b + v - c) * 255;
}

static float dist3(const float a[3], const float b[3])
{
    float d0 = a[0] - b[0], d1 = a[1] - b[1], d2 = a[2] - b[2];
    return sqrtf(d0 * d0 + d1 * d1 + d2 * d2);
}

/* Distance from c to the nearest hair or hat colour. */
static float dist_to_judged(const float c[3])
{
    float dmin = 1e9f;
    for (int i = 0; i < N_HAIR; i++) { float d = dist3(c, hair_rgb[i]); if (d < dmin) dmin = d; }
    for (int i = 0; i < N_HAT; i++) { float d = dist3(c, hat_rgb[i]); if (d < dmin) dmin = d; }
    return dmin;
}

/* A background colour at least 90 away from every hair and hat colour; with
 * other set, every mix of the two (the gradient) must be as well. */
static void background_colour(draw_rng *r, float out[3], const float *other)
{
    for (int tries = 0; ; tries++) {
        /* no orange/yellow hues (they sit next to blond and ginger); drawn
         * value first, the order GCC evaluated them in as hsv_to_rgb's
         * arguments (unspecified in C: clang drew other images) */
        float v = rnd_range(r, 0.72f, 0.97f), s = rnd_range(r, 0.25f, 0.6f), h = rnd_range(r, 80, 340);
        hsv_to_rgb(h, s, v, out);
        float dmin = dist_to_judged(out);
        for (int k = 1; other && k < 8; k++) {
            float mix[3], t = k / 8.0f;
            for (int c = 0; c < 3; c++) mix[c] = out[c] + t * (other[c] - out[c]);
            float d = dist_to_judged(mix);
            if (d < dmin) dmin = d;
        }
        if (dmin >= 90) return;
        if (tries > 100) {   /* practically never: fall back to a flat background */
            if (other) memcpy(out, other, 3 * sizeof *out);
            return;
        }
    }
}

static int box_blur3(float *rgb)
{
    size_t n = (size_t)SG_SYNTH_W * SG_SYNTH_H * 3;
    float *tmp = malloc(n * sizeof *tmp);
    if (!tmp) return -1;
    memcpy(tmp, rgb, n * sizeof *tmp);
    for (int y = 0; y < SG_SYNTH_H; y++)
        for (int x = 0; x < SG_SYNTH_W; x++)
            for (int k = 0; k < 3; k++) {
                float s = 0; int cnt = 0;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        int yy = y + dy, xx = x + dx;
                        if (yy < 0 || yy >= SG_SYNTH_H || xx < 0 || xx >= SG_SYNTH_W) continue;
                        s += tmp[((size_t)yy * SG_SYNTH_W + xx) * 3 + k]; cnt++;
                    }
                rgb[((size_t)y * SG_SYNTH_W + x) * 3 + k] = s / cnt;
            }
    free(tmp);
    return 0;
}

/* ---- the face model ------------------------------------------------------- *
 * Nominal layout in crop units (the judge samples these places):
 *   face centre (0.5, 0.56) +- (0.025, 0.02); radii 0.20 x 0.27 +- 0.015
 *   hair: an ellipse around the head, 0.10-0.12 wider than the face on each side
 *   eye line at cy - 0.05; mustache at cy + 0.085; earrings at cy + 0.09 */

/* One drawing, shared by its steps: the canvas, the random numbers, the
 * attributes, and what more than one part depends on. The steps draw their
 * random numbers in a fixed order (sg_synth_draw's): reordering them, or
 * drawing one more or one fewer, changes every image after that point. */
typedef struct {
    canvas cv;
    draw_rng r;
    const int8_t *at;
    int male, young, bald;
    float cx, cy, rx, ry, tilt;     /* face centre and radii (pixels), tilt (radians) */
    float skin[3], hair[3];
    float hrx;                      /* the hair's x radius; the hat's crown and brim follow it */
    texture hair_tx;                /* the hair's, and the mustache's and goatee's */
    float ey;                       /* eye line; the glasses sit on it */
} drawing;

static int on(const drawing *d, int attr) { return d->at[attr] > 0; }

/* Where the face is, its size and tilt, and the skin tone. */
static void choose_face(drawing *d)
{
    draw_rng *r = &d->r;
    d->cx = PX(0.5f + rnd_range(r, -0.025f, 0.025f));
    d->cy = PY(0.56f + rnd_range(r, -0.02f, 0.02f));
    d->rx = PL(0.20f + rnd_range(r, -0.015f, 0.015f) + (on(d, A_CHUBBY) ? 0.012f : 0)
               - (on(d, A_OVAL_FACE) ? 0.01f : 0));
    d->ry = PL(0.27f + rnd_range(r, -0.015f, 0.015f));
    d->tilt = rnd_range(r, -0.06f, 0.06f);
    d->ey = d->cy - PL(0.05f);

    float *skin = d->skin;
    if (on(d, A_PALE)) {
        float t = rnd_range(r, 0, 1);
        skin[0] = 248 - 4 * t; skin[1] = 230 - 6 * t; skin[2] = 222 - 6 * t;
    } else {
        float t = rnd_range(r, 0, 1);   /* light .. tan */
        skin[0] = 232 - 50 * t; skin[1] = 194 - 62 * t; skin[2] = 168 - 66 * t;
    }
}

/* The labelled hair colour (red or ginger when none is labelled), slightly varied. */
static void choose_hair_colour(drawing *d)
{
    int hair_kind = -1;
    if (on(d, A_BLACK)) hair_kind = HAIR_BLACK;
    else if (on(d, A_BLOND)) hair_kind = HAIR_BLOND;
    else if (on(d, A_BROWN)) hair_kind = HAIR_BROWN;
    else if (on(d, A_GRAY)) hair_kind = HAIR_GRAY;
    float other_hair = rnd(&d->r);
    if (hair_kind < 0) hair_kind = other_hair < 0.6f ? HAIR_RED : HAIR_GINGER;
    float bright = rnd_range(&d->r, 0.92f, 1.08f);
    for (int k = 0; k < 3; k++) {
        float v = hair_rgb[hair_kind][k] * bright + rnd_range(&d->r, -8, 8);
        d->hair[k] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
}

/* Background: vertical gradient of two colours. */
static void draw_background(drawing *d)
{
    float bg0[3], bg1[3];
    background_colour(&d->r, bg0, NULL);
    background_colour(&d->r, bg1, bg0);
    for (int y = 0; y < SG_SYNTH_H; y++) {
        float t = (float)y / (SG_SYNTH_H - 1);
        for (int x = 0; x < SG_SYNTH_W; x++) {
            float *p = d->cv.rgb + ((size_t)y * SG_SYNTH_W + x) * 3;
            for (int k = 0; k < 3; k++) p[k] = bg0[k] + t * (bg1[k] - bg0[k]);
        }
    }
}

/* Hair behind the head: a cap around the face, long hair down the sides for most women.
 * Its random numbers are drawn for the bald too (the hat needs hrx). */
static void draw_back_hair(drawing *d)
{
    draw_rng *r = &d->r;
    float cx = d->cx, cy = d->cy;
    float hx = cx, hy = cy - PL(d->male ? 0.10f : 0.06f);
    d->hrx = d->rx + PL(rnd_range(r, 0.10f, 0.12f));
    float hry = d->ry + PL(d->male ? rnd_range(r, 0.03f, 0.05f) : rnd_range(r, 0.06f, 0.08f));
    texture hair_tx = {0.07f, 0.55f, 0.03f, rnd_range(r, 0, 6.28f), on(d, A_WAVY) ? 3.0f : 0.8f};
    d->hair_tx = hair_tx;
    int long_hair = !d->male ? chance(r, 0.85f) : chance(r, 0.08f);
    float long_len = PL(rnd_range(r, 0.22f, 0.34f));
    if (d->bald) return;
    shape cap = ellipse(hx, hy, d->hrx, hry, d->tilt * 0.5f);
    /* Short hair ends at the ears (below the temples the judge samples). */
    shape above_ears = halfplane(cx, cy + PL(0.02f), 0, 1);
    fill(&d->cv, &cap, long_hair ? NULL : &above_ears, NULL, d->hair, 1, &d->hair_tx);
    if (long_hair) {
        float top = hy, bot = cy + long_len;
        shape lh = box(hx, (top + bot) / 2, d->hrx * 0.96f, (bot - top) / 2, PL(0.05f), 0);
        fill(&d->cv, &lh, NULL, NULL, d->hair, 1, &d->hair_tx);
    }
}

static void neck_colour(const drawing *d, float neck[3]) { scale_rgb(neck, d->skin, 0.88f); }

/* Neck, and the shoulders in a random colour. */
static void draw_neck_and_shoulders(drawing *d)
{
    float cx = d->cx, neck[3];
    neck_colour(d, neck);
    shape nk = box(cx, d->cy + d->ry + PL(0.06f), PL(d->male ? 0.095f : 0.08f), PL(0.14f), PL(0.02f), 0);
    fill(&d->cv, &nk, NULL, NULL, neck, 1, NULL);
    float cloth[3];
    /* value, saturation, hue: the order background_colour draws them in */
    float v = rnd_range(&d->r, 0.25f, 0.9f), s = rnd_range(&d->r, 0.2f, 0.8f), h = rnd_range(&d->r, 0, 360);
    hsv_to_rgb(h, s, v, cloth);
    shape sh = ellipse(cx, PY(1.13f), PL(d->male ? 0.48f : 0.42f), PL(0.2f), 0);
    fill(&d->cv, &sh, NULL, NULL, cloth, 1, NULL);
}

/* A white collar and a tie in a random dark colour. */
static void draw_necktie(drawing *d)
{
    float cx = d->cx, tie[3];
    hsv_to_rgb(rnd_range(&d->r, 0, 360), 0.7f, 0.45f, tie);
    shape collar_l = box(cx - PL(0.04f), PY(0.955f), PL(0.045f), PL(0.02f), 0, 0.5f);
    shape collar_r = box(cx + PL(0.04f), PY(0.955f), PL(0.045f), PL(0.02f), 0, -0.5f);
    float white[3] = {235, 235, 235};
    fill(&d->cv, &collar_l, NULL, NULL, white, 1, NULL);
    fill(&d->cv, &collar_r, NULL, NULL, white, 1, NULL);
    shape t1 = box(cx, PY(1.03f), PL(0.025f), PL(0.08f), PL(0.01f), 0);
    fill(&d->cv, &t1, NULL, NULL, tie, 1, NULL);
}

/* A silver chain: the lower half of a thin ring around the neck. */
static void draw_necklace(drawing *d)
{
    float silver[3] = {205, 205, 215};
    float cx = d->cx, ny = d->cy + d->ry + PL(0.02f);
    shape outer = ellipse(cx, ny, PL(0.085f), PL(0.09f), 0);
    shape inner = ellipse(cx, ny - PL(0.006f), PL(0.077f), PL(0.082f), 0);
    shape lower = halfplane(cx, ny, 0, -1);
    fill(&d->cv, &outer, &lower, &inner, silver, 1, NULL);
}

/* Ears (behind the earrings, in front of the hair). */
static void draw_ears(drawing *d)
{
    float neck[3];
    neck_colour(d, neck);
    float ear_y = d->cy + PL(0.01f);
    for (int side = -1; side <= 1; side += 2) {
        shape ear = ellipse(d->cx + side * (d->rx - PL(0.005f)), ear_y, PL(0.03f), PL(0.05f), 0);
        fill(&d->cv, &ear, NULL, NULL, neck, 1, NULL);
    }
}

/* Face: an ellipse and a chin (squarer and wider for men), then what lies on
 * the skin's outline: a double chin, stubble, sideburns. */
static void draw_face(drawing *d)
{
    float cx = d->cx, cy = d->cy, rx = d->rx, ry = d->ry, tilt = d->tilt;
    shape face = ellipse(cx, cy, rx, ry, tilt);
    fill(&d->cv, &face, NULL, NULL, d->skin, 1, NULL);
    shape chin = ellipse(cx, cy + ry * 0.42f, rx * (d->male ? 0.86f : 0.74f), ry * 0.6f, tilt);
    fill(&d->cv, &chin, NULL, NULL, d->skin, 1, NULL);
    if (on(d, A_DOUBLE_CHIN)) {
        float dc_rgb[3]; scale_rgb(dc_rgb, d->skin, 0.85f);
        shape dc = ellipse(cx, cy + ry * 0.98f, rx * 0.45f, PL(0.012f), 0);
        fill(&d->cv, &dc, NULL, NULL, dc_rgb, 0.7f, NULL);
    }
    if (on(d, A_5_O_CLOCK)) {
        float stub[3] = {95, 95, 110};
        shape jaw = ellipse(cx, cy + ry * 0.5f, rx * 0.9f, ry * 0.55f, tilt);
        shape below = halfplane(cx, cy + PL(0.10f), 0, -1);
        fill(&d->cv, &jaw, &below, NULL, stub, 0.25f, NULL);
    }
    if (on(d, A_SIDEBURNS) && !d->bald) {
        float hair_dark[3];
        scale_rgb(hair_dark, d->hair, 0.75f);
        for (int side = -1; side <= 1; side += 2) {
            shape sb = box(cx + side * (rx - PL(0.025f)), cy + PL(0.01f), PL(0.02f), PL(0.06f), PL(0.01f), 0);
            fill(&d->cv, &sb, &face, NULL, hair_dark, 1, NULL);
        }
    }
}

/* Rosy cheeks, high cheekbones (a highlight) and, unless young, wrinkles:
 * forehead lines and the lines beside the nose. */
static void draw_cheeks_and_lines(drawing *d)
{
    float cx = d->cx, cy = d->cy;
    if (on(d, A_ROSY)) {
        float pink[3] = {235, 120, 130};
        for (int side = -1; side <= 1; side += 2) {
            shape ck = ellipse(cx + side * PL(0.11f), cy + PL(0.045f), PL(0.04f), PL(0.025f), 0);
            fill(&d->cv, &ck, NULL, NULL, pink, 0.35f, NULL);
        }
    }
    if (on(d, A_HIGH_CHEEKBONES)) {
        float hl[3]; scale_rgb(hl, d->skin, 1.06f);
        for (int side = -1; side <= 1; side += 2) {
            shape cb = ellipse(cx + side * PL(0.12f), cy + PL(0.0f), PL(0.035f), PL(0.015f), side * 0.4f);
            fill(&d->cv, &cb, NULL, NULL, hl, 0.5f, NULL);
        }
    }
    if (!d->young) {
        float line[3]; scale_rgb(line, d->skin, 0.72f);
        for (int i = 0; i < 2; i++) {
            shape w = ellipse(cx, cy - PL(0.17f + 0.03f * i), PL(0.07f), PL(0.004f), 0);
            fill(&d->cv, &w, NULL, NULL, line, 0.8f, NULL);
        }
        for (int side = -1; side <= 1; side += 2) {
            shape nl = ellipse(cx + side * PL(0.065f), cy + PL(0.07f), PL(0.004f), PL(0.045f), -side * 0.35f);
            fill(&d->cv, &nl, NULL, NULL, line, 0.8f, NULL);
        }
    }
}

/* Eyes and brows, with eye shadow (heavy makeup) and bags under the eyes. */
static void draw_eyes(drawing *d)
{
    float cx = d->cx, ey = d->ey, eox = PL(0.085f);
    float brow[3];
    if (d->bald) { float b[3] = {70, 50, 40}; memcpy(brow, b, sizeof brow); }
    else scale_rgb(brow, d->hair, 0.6f);
    float iris[3];
    {
        int kind = (int)(rnd(&d->r) * 3);
        float irises[3][3] = {{70, 45, 30}, {60, 100, 150}, {70, 110, 70}};
        memcpy(iris, irises[kind], sizeof iris);
    }
    for (int side = -1; side <= 1; side += 2) {
        float ex = cx + side * eox;
        if (on(d, A_HEAVY_MAKEUP)) {
            float shadow[3] = {120, 80, 120};
            shape es = ellipse(ex, ey - PL(0.012f), PL(0.045f), PL(0.025f), 0);
            fill(&d->cv, &es, NULL, NULL, shadow, 0.45f, NULL);
        }
        if (on(d, A_BAGS)) {
            float bag[3]; scale_rgb(bag, d->skin, 0.8f);
            shape bg = ellipse(ex, ey + PL(0.025f), PL(0.03f), PL(0.008f), 0);
            fill(&d->cv, &bg, NULL, NULL, bag, 0.7f, NULL);
        }
        float white[3] = {245, 245, 245};
        float eh = PL(on(d, A_NARROW_EYES) ? 0.010f : 0.017f);
        shape eye = ellipse(ex, ey, PL(0.035f), eh, 0);
        fill(&d->cv, &eye, NULL, NULL, white, 1, NULL);
        shape ir = ellipse(ex, ey, PL(0.013f), PL(0.013f), 0);
        fill(&d->cv, &ir, &eye, NULL, iris, 1, NULL);
        float black[3] = {15, 15, 15};
        shape pu = ellipse(ex, ey, PL(0.006f), PL(0.006f), 0);
        fill(&d->cv, &pu, &eye, NULL, black, 1, NULL);
        float bt = PL(on(d, A_BUSHY_BROWS) ? 0.016f : d->male ? 0.011f : 0.008f);
        float angle = side * (on(d, A_ARCHED_BROWS) ? -0.25f : -0.06f);
        shape br = ellipse(ex, ey - PL(0.05f), PL(0.045f), bt, angle);
        fill(&d->cv, &br, NULL, NULL, brow, 1, NULL);
    }
}

/* Nose: a shaded ridge and tip. */
static void draw_nose(drawing *d)
{
    float cx = d->cx, cy = d->cy;
    float shade[3]; scale_rgb(shade, d->skin, 0.82f);
    float nw = PL(on(d, A_BIG_NOSE) ? 0.035f : 0.024f);
    shape ridge = ellipse(cx, cy + PL(0.0f), PL(0.008f), PL(0.04f), 0);
    fill(&d->cv, &ridge, NULL, NULL, shade, 0.5f, NULL);
    shape tip = ellipse(cx, cy + PL(0.035f), nw, PL(on(d, A_POINTY_NOSE) ? 0.014f : 0.018f), 0);
    fill(&d->cv, &tip, NULL, NULL, shade, 0.8f, NULL);
}

/* Mouth: lips (lipstick red or natural), smiling or not, open or not. */
static void draw_mouth(drawing *d)
{
    float cx = d->cx;
    float lip[3] = {180, 95, 90};
    if (on(d, A_LIPSTICK)) { lip[0] = 200; lip[1] = 30; lip[2] = 55; }
    float my = d->cy + PL(0.13f), mw = PL(on(d, A_BIG_LIPS) ? 0.065f : 0.055f);
    if (on(d, A_SMILING)) {
        /* A wide upward curve; open smiles show teeth. */
        shape outer = ellipse(cx, my - PL(0.025f), mw * 1.2f, PL(0.045f), 0);
        shape inner = ellipse(cx, my - PL(0.025f) - PL(0.012f), mw * 1.1f, PL(0.035f), 0);
        shape lower = halfplane(cx, my - PL(0.02f), 0, -1);
        if (on(d, A_MOUTH_OPEN)) {
            float teeth[3] = {240, 240, 235};
            fill(&d->cv, &outer, &lower, NULL, lip, 1, NULL);
            shape in2 = ellipse(cx, my - PL(0.025f), mw * 1.05f, PL(0.033f), 0);
            fill(&d->cv, &in2, &lower, NULL, teeth, 1, NULL);
        } else {
            fill(&d->cv, &outer, &lower, &inner, lip, 1, NULL);
        }
    } else {
        shape lips = ellipse(cx, my, mw, PL(on(d, A_BIG_LIPS) ? 0.016f : 0.012f), 0);
        fill(&d->cv, &lips, NULL, NULL, lip, 1, NULL);
        if (on(d, A_MOUTH_OPEN)) {
            float dark[3] = {60, 20, 25};
            shape gap = ellipse(cx, my, mw * 0.7f, PL(0.007f), 0);
            fill(&d->cv, &gap, NULL, NULL, dark, 1, NULL);
        }
    }
}

/* Facial hair: mustache (dark), goatee. */
static void draw_facial_hair(drawing *d)
{
    float cx = d->cx, cy = d->cy;
    float mh[3];
    if (d->bald) { float dk[3] = {50, 40, 35}; memcpy(mh, dk, sizeof mh); }
    else scale_rgb(mh, d->hair, 0.45f);
    if (on(d, A_MUSTACHE)) {
        shape m1 = ellipse(cx, cy + PL(0.085f), PL(0.08f), PL(0.028f), 0);
        fill(&d->cv, &m1, NULL, NULL, mh, 1, &d->hair_tx);
    }
    if (on(d, A_GOATEE)) {
        shape g1 = ellipse(cx, cy + d->ry * 0.86f, PL(0.045f), PL(0.06f), 0);
        shape below_lip = halfplane(cx, cy + PL(0.155f), 0, -1);
        fill(&d->cv, &g1, &below_lip, NULL, mh, 1, &d->hair_tx);
    }
}

/* Bangs: hair over the forehead down to just above the brows. */
static void draw_bangs(drawing *d)
{
    shape bg = ellipse(d->cx, d->cy - d->ry + PL(0.02f), d->rx * 1.03f, PL(0.15f), d->tilt);
    shape above = halfplane(d->cx, d->cy - PL(0.125f), 0, 1);
    fill(&d->cv, &bg, &above, NULL, d->hair, 1, &d->hair_tx);
}

/* Eyeglasses: thick dark frames, tinted lenses, bridge and arms. */
static void draw_eyeglasses(drawing *d)
{
    float cx = d->cx, ey = d->ey, rx = d->rx;
    float frame[3] = {22, 22, 26}, tint[3] = {45, 45, 60};
    for (int side = -1; side <= 1; side += 2) {
        float gx = cx + side * PL(0.085f);
        shape lens = box(gx, ey, PL(0.068f), PL(0.045f), PL(0.02f), 0);
        shape lens_in = box(gx, ey, PL(0.068f - 0.022f), PL(0.045f - 0.02f), PL(0.01f), 0);
        fill(&d->cv, &lens_in, NULL, NULL, tint, 0.5f, NULL);
        fill(&d->cv, &lens, NULL, &lens_in, frame, 1, NULL);
        shape arm = box(cx + side * (PL(0.153f) + (rx - PL(0.153f)) / 2), ey - PL(0.03f),
                        (rx - PL(0.153f)) / 2, PL(0.01f), 0, 0);
        fill(&d->cv, &arm, NULL, NULL, frame, 1, NULL);
    }
    shape bridge = box(cx, ey - PL(0.02f), PL(0.03f), PL(0.012f), 0, 0);
    fill(&d->cv, &bridge, NULL, NULL, frame, 1, NULL);
}

/* Hat: a strongly coloured crown over the top of the head and a brim. */
static void draw_hat(drawing *d)
{
    int kind = (int)(rnd(&d->r) * N_HAT);
    float hc[3], band[3];
    for (int k = 0; k < 3; k++) hc[k] = hat_rgb[kind][k] + rnd_range(&d->r, -8, 8);
    scale_rgb(band, hc, 0.7f);
    float cx = d->cx, brim_y = d->cy - d->ry + PL(0.005f);
    shape crown = ellipse(cx, brim_y, d->hrx * 0.95f, PL(0.19f), 0);
    shape up = halfplane(cx, brim_y, 0, 1);
    fill(&d->cv, &crown, &up, NULL, hc, 1, NULL);
    shape brim = box(cx, brim_y, d->hrx + PL(0.04f), PL(0.02f), PL(0.01f), 0);
    fill(&d->cv, &brim, NULL, NULL, band, 1, NULL);
}

/* Earrings: bright gold drops under the ears. */
static void draw_earrings(drawing *d)
{
    for (int side = -1; side <= 1; side += 2) {
        float ex = d->cx + side * (d->rx + PL(0.005f));
        shape link = box(ex, d->cy + PL(0.065f), PL(0.005f), PL(0.015f), 0, 0);
        fill(&d->cv, &link, NULL, NULL, earring_rgb, 1, NULL);
        shape drop = ellipse(ex, d->cy + PL(0.09f), PL(0.024f), PL(0.028f), 0);
        fill(&d->cv, &drop, NULL, NULL, earring_rgb, 1, NULL);
    }
}

/* Rounds the float canvas to bytes. Not inlined: inlined into sg_synth_draw,
 * GCC 12 reloads out from the stack for every byte, and drawing is a few per
 * cent slower. */
static __attribute__((noinline)) void canvas_to_bytes(const float *rgb, uint8_t *out)
{
    for (size_t i = 0; i < (size_t)SG_SYNTH_W * SG_SYNTH_H * 3; i++) {
        float v = rgb[i] + 0.5f;
        out[i] = v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)v;
    }
}

/* Back to front; the random numbers are drawn in this order too. */
int sg_synth_draw(uint64_t seed, uint64_t idx, const int8_t at[SG_SYNTH_N_ATTRS], uint8_t *out, sg_err *err)
{
    float *buf = malloc(sizeof(float) * SG_SYNTH_W * SG_SYNTH_H * 3);
    if (!buf) return sg_err_oom(err, "out of memory");
    drawing d = {.cv = {buf}, .r = {seed, STREAM_DRAW(idx), 0}, .at = at};
    d.male = on(&d, A_MALE);
    d.young = on(&d, A_YOUNG);
    d.bald = on(&d, A_BALD);

    choose_face(&d);
    choose_hair_colour(&d);
    draw_background(&d);
    draw_back_hair(&d);
    draw_neck_and_shoulders(&d);
    if (on(&d, A_NECKTIE)) draw_necktie(&d);
    if (on(&d, A_NECKLACE)) draw_necklace(&d);
    draw_ears(&d);
    draw_face(&d);
    draw_cheeks_and_lines(&d);
    draw_eyes(&d);
    draw_nose(&d);
    draw_mouth(&d);
    if (on(&d, A_MUSTACHE) || on(&d, A_GOATEE)) draw_facial_hair(&d);
    if (on(&d, A_BANGS) && !d.bald) draw_bangs(&d);
    if (on(&d, A_EYEGLASSES)) draw_eyeglasses(&d);
    if (on(&d, A_HAT)) draw_hat(&d);
    if (on(&d, A_EARRINGS)) draw_earrings(&d);

    /* Blurry: two 3x3 box blurs. */
    if (on(&d, A_BLURRY) && (box_blur3(buf) != 0 || box_blur3(buf) != 0)) {
        free(buf);
        return sg_err_oom(err, "out of memory");
    }
    canvas_to_bytes(buf, out);
    free(buf);
    return 0;
}

/* ---- judge ---------------------------------------------------------------- */

typedef struct {
    const sg_image *img;
    int full_canvas;    /* the image is the whole 178x218 canvas, else the 178x178 crop */
} judge_view;

/* Bilinear sample at crop units (u, v). */
static void sample(const judge_view *jv, float u, float v, float out[3])
{
    const sg_image *im = jv->img;
    float x = u * im->width, y;
    if (jv->full_canvas) y = (20.0f + v * 178.0f) / 218.0f * im->height;
    else y = v * im->height;
    x -= 0.5f; y -= 0.5f;
    int x0 = (int)floorf(x), y0 = (int)floorf(y);
    float fx = x - x0, fy = y - y0;
    for (int k = 0; k < 3; k++) out[k] = 0;
    for (int dy = 0; dy <= 1; dy++)
        for (int dx = 0; dx <= 1; dx++) {
            int xx = x0 + dx, yy = y0 + dy;
            if (xx < 0) xx = 0;
            if (yy < 0) yy = 0;
            if (xx >= im->width) xx = im->width - 1;
            if (yy >= im->height) yy = im->height - 1;
            float w = (dx ? fx : 1 - fx) * (dy ? fy : 1 - fy);
            const uint8_t *p = im->rgb + ((size_t)yy * im->width + xx) * 3;
            for (int k = 0; k < 3; k++) out[k] += w * p[k];
        }
}

/* Mean colour over the rectangle [u0,u1] x [v0,v1] (a 6x6 grid of bilinear samples). */
static void patch(const judge_view *jv, float u0, float u1, float v0, float v1, float out[3])
{
    float s[3] = {0, 0, 0}, c[3];
    for (int j = 0; j < 6; j++)
        for (int i = 0; i < 6; i++) {
            sample(jv, u0 + (u1 - u0) * (i + 0.5f) / 6, v0 + (v1 - v0) * (j + 0.5f) / 6, c);
            for (int k = 0; k < 3; k++) s[k] += c[k];
        }
    for (int k = 0; k < 3; k++) out[k] = s[k] / 36;
}

static float luma(const float c[3]) { return 0.299f * c[0] + 0.587f * c[1] + 0.114f * c[2]; }

/* Nearest hair colour, or -1 if none within max_dist. */
static int nearest_hair(const float c[3], float max_dist, float *dist)
{
    int best = -1;
    float bd = 1e9f;
    for (int i = 0; i < N_HAIR; i++) {
        float d = dist3(c, hair_rgb[i]);
        if (d < bd) { bd = d; best = i; }
    }
    if (dist) *dist = bd;
    return bd <= max_dist ? best : -1;
}

int sg_synth_judge_framing(int width, int height)
{
    float aspect = (float)height / (float)width;
    if (fabsf(aspect / (218.0f / 178.0f) - 1.0f) < 0.03f) return 1;
    return fabsf(aspect - 1.0f) < 0.03f ? 0 : -1;
}

void sg_synth_judge(const sg_image *img, int out[SG_JUDGE_N], float *scores)
{
    judge_view jv = {img, 0};
    jv.full_canvas = sg_synth_judge_framing(img->width, img->height) == 1;
    float sc[SG_JUDGE_N] = {0};
    memset(out, 0, SG_JUDGE_N * sizeof *out);

    /* Hair colour: side patches beside the temples (never covered by the face,
     * hat, glasses or ears), plus the top of the head when there is no hat. */
    float side_l[3], side_r[3], top[3];
    patch(&jv, 0.5f - 0.27f, 0.5f - 0.245f, 0.43f, 0.48f, side_l);
    patch(&jv, 0.5f + 0.245f, 0.5f + 0.27f, 0.43f, 0.48f, side_r);
    patch(&jv, 0.5f - 0.07f, 0.5f + 0.07f, 0.20f, 0.25f, top);

    /* Hat: the top patch is nearer a hat colour than any hair colour. */
    float dh_hat = 1e9f, dh_hair;
    for (int i = 0; i < N_HAT; i++) { float d = dist3(top, hat_rgb[i]); if (d < dh_hat) dh_hat = d; }
    nearest_hair(top, 1e9f, &dh_hair);
    out[SG_JUDGE_WEARING_HAT] = dh_hat < dh_hair && dh_hat < 90;
    sc[SG_JUDGE_WEARING_HAT] = dh_hat;

    int votes[N_HAIR] = {0};
    float hair_sum[3] = {0, 0, 0};
    int n_hair_patches = 0;
    const float *cand[3] = {side_l, side_r, top};
    int n_cand = out[SG_JUDGE_WEARING_HAT] ? 2 : 3;
    for (int i = 0; i < n_cand; i++) {
        int h = nearest_hair(cand[i], 75, NULL);
        if (h >= 0) {
            votes[h]++;
            for (int k = 0; k < 3; k++) hair_sum[k] += cand[i][k];
            n_hair_patches++;
        }
    }
    int hair = -1, best_votes = 0;
    for (int h = 0; h < N_HAIR; h++)
        if (votes[h] > best_votes) { best_votes = votes[h]; hair = h; }
    if (hair >= 0) {
        /* Ties (one patch each): decide on the mean colour of the hair patches. */
        int tie = 0;
        for (int h = 0; h < N_HAIR; h++) tie += votes[h] == best_votes;
        if (tie > 1) {
            float m[3];
            for (int k = 0; k < 3; k++) m[k] = hair_sum[k] / n_hair_patches;
            hair = nearest_hair(m, 1e9f, NULL);
        }
    }
    if (hair == HAIR_BLACK) out[SG_JUDGE_BLACK_HAIR] = 1;
    if (hair == HAIR_BLOND) out[SG_JUDGE_BLOND_HAIR] = 1;
    if (hair == HAIR_BROWN) out[SG_JUDGE_BROWN_HAIR] = 1;
    if (hair == HAIR_GRAY) out[SG_JUDGE_GRAY_HAIR] = 1;
    sc[SG_JUDGE_BLACK_HAIR] = (float)votes[HAIR_BLACK];
    sc[SG_JUDGE_BLOND_HAIR] = (float)votes[HAIR_BLOND];
    sc[SG_JUDGE_BROWN_HAIR] = (float)votes[HAIR_BROWN];
    sc[SG_JUDGE_GRAY_HAIR] = (float)votes[HAIR_GRAY];

    /* Skin reference: the cheeks. */
    float ck_l[3], ck_r[3], skin[3];
    patch(&jv, 0.5f - 0.13f, 0.5f - 0.09f, 0.59f, 0.62f, ck_l);
    patch(&jv, 0.5f + 0.09f, 0.5f + 0.13f, 0.59f, 0.62f, ck_r);
    for (int k = 0; k < 3; k++) skin[k] = (ck_l[k] + ck_r[k]) / 2;
    float skin_l = luma(skin) > 1 ? luma(skin) : 1;

    /* Bangs: the forehead looks like the hair rather than the skin. */
    if (n_hair_patches > 0) {
        float fh[3], hm[3];
        patch(&jv, 0.5f - 0.07f, 0.5f + 0.07f, 0.37f, 0.40f, fh);
        for (int k = 0; k < 3; k++) hm[k] = hair_sum[k] / n_hair_patches;
        float d_hair = dist3(fh, hm), d_skin = dist3(fh, skin);
        out[SG_JUDGE_BANGS] = d_hair < d_skin;
        sc[SG_JUDGE_BANGS] = d_skin - d_hair;
    }

    /* Eyeglasses: the eye band is much darker than the cheeks. */
    float band[3];
    patch(&jv, 0.5f - 0.14f, 0.5f + 0.14f, 0.495f, 0.525f, band);
    float ratio = luma(band) / skin_l;
    out[SG_JUDGE_EYEGLASSES] = ratio < 0.68f;
    sc[SG_JUDGE_EYEGLASSES] = ratio;

    /* Mustache: dark between nose and mouth. */
    float mu[3];
    patch(&jv, 0.5f - 0.035f, 0.5f + 0.035f, 0.635f, 0.655f, mu);
    float mratio = luma(mu) / skin_l;
    out[SG_JUDGE_MUSTACHE] = mratio < 0.68f;
    sc[SG_JUDGE_MUSTACHE] = mratio;

    /* Earrings: the most gold-coloured small patch below either ear. */
    float best = -1e9f;
    for (int side = -1; side <= 1; side += 2)
        for (int j = 0; j < 9; j++)
            for (int i = 0; i < 12; i++) {
                float u = 0.5f + side * (0.17f + 0.11f * i / 11.0f), v = 0.60f + 0.10f * j / 8.0f, c[3];
                patch(&jv, u - 0.014f, u + 0.014f, v - 0.014f, v + 0.014f, c);
                float g = (c[0] < c[1] ? c[0] : c[1]) - 1.5f * c[2];
                if (g > best) best = g;
            }
    out[SG_JUDGE_WEARING_EARRINGS] = best > 85;
    sc[SG_JUDGE_WEARING_EARRINGS] = best;

    if (scores) memcpy(scores, sc, sizeof sc);
}
