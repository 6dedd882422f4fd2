/* torchvision CenterCrop + Resize on PIL images, reproduced bit for bit.
 *
 * Pillow's BILINEAR resize (libImaging/Resample.c semantics, Pillow 9.4):
 * for each output index, a triangle filter stretched by the downscale factor
 * (antialiasing) gives weights in double over the input indices
 * [(int)(center - support + 0.5), (int)(center + support + 0.5)) clipped to the
 * image; the weights are normalised to sum 1, then rounded to fixed point with
 * 22 fraction bits. Each pass accumulates uint8 * int32 in an int starting at
 * 0.5 (1 << 21), shifts right 22 and clips to 0..255. The horizontal pass runs
 * first, only on the rows the vertical pass reads, into a uint8 intermediate.
 * Integer sums are exact, so the order of accumulation is free; only the
 * coefficient arithmetic (double) has to follow Pillow's expressions. */
#include "image.h"
#include "resize_testing.h"
#include <math.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SG_RESIZE_AVX2 1
#endif
#include <stdlib.h>
#include <string.h>

#define RESIZE_FRACTION_BITS 22      /* Pillow's PRECISION_BITS = 32 - 8 - 2 */

static double triangle(double x)
{
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Coefficients for resampling in_size samples (window [0, in_size)) to out_size.
 * Returns ksize, or 0 when out of memory. */
static int resize_coeffs(int in_size, int out_size, int **bounds_out, int32_t **k_out)
{
    float in0 = 0.0f, in1 = (float)in_size;     /* Pillow's box is float */
    double scale = (double)(in1 - in0) / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale;          /* bilinear support is 1 */
    int ksize = (int)ceil(support) * 2 + 1;
    int *bounds = malloc(sizeof *bounds * 2 * (size_t)out_size);
    int32_t *k = calloc((size_t)out_size * ksize, sizeof *k);
    double *w = malloc(sizeof *w * (size_t)ksize);
    if (!bounds || !k || !w) { free(bounds); free(k); free(w); return 0; }
    for (int xx = 0; xx < out_size; xx++) {
        double center = in0 + (xx + 0.5) * scale;
        double inv = 1.0 / filterscale, total = 0.0;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        int taps = xmax - xmin;
        for (int x = 0; x < taps; x++) {
            w[x] = triangle((x + xmin - center + 0.5) * inv);
            total += w[x];
        }
        for (int x = 0; x < taps; x++) {
            double v = total != 0.0 ? w[x] / total : w[x];
            k[(size_t)xx * ksize + x] = v < 0 ? (int32_t)(-0.5 + v * (1 << RESIZE_FRACTION_BITS))
                                              : (int32_t)(0.5 + v * (1 << RESIZE_FRACTION_BITS));
        }
        bounds[2 * xx] = xmin;
        bounds[2 * xx + 1] = taps;
    }
    free(w);
    *bounds_out = bounds;
    *k_out = k;
    return ksize;
}

int sg_center_crop_offset(int in, int crop)
{
    if (crop > in) return -((crop - in) / 2);   /* torchvision pads left/top with floor(d/2) */
    int d = in - crop, half = d / 2;
    /* round(d / 2.0) with ties to even: d odd means a tie between half and half+1. */
    if (d % 2 == 1 && half % 2 == 1) half++;
    return half;
}

void sg_resize_plan_free(sg_resize_plan *p)
{
    if (!p) return;
    free(p->bounds_h); free(p->bounds_v); free(p->k_h); free(p->k_v);
    p->bounds_h = p->bounds_v = NULL;
    p->k_h = p->k_v = NULL;
}

int sg_resize_plan_init(sg_resize_plan *p, int src_w, int src_h, int crop_w, int crop_h,
                        int out_w, int out_h, sg_err *err)
{
    memset(p, 0, sizeof *p);
    if (src_w <= 0 || src_h <= 0) return sg_errf(err, "bad source size %dx%d", src_w, src_h);
    if (crop_w <= 0 || crop_h <= 0) return sg_errf(err, "bad crop size %dx%d", crop_w, crop_h);
    if (out_w <= 0 || out_h <= 0) return sg_errf(err, "bad output size %dx%d", out_w, out_h);
    if (crop_w > SG_IMAGE_MAX_SIDE || crop_h > SG_IMAGE_MAX_SIDE || out_w > SG_IMAGE_MAX_SIDE || out_h > SG_IMAGE_MAX_SIDE)
        return sg_errf(err, "crop %dx%d or size %dx%d above the limit of %d", crop_w, crop_h, out_w, out_h, SG_IMAGE_MAX_SIDE);
    p->src_w = src_w; p->src_h = src_h;
    p->crop_w = crop_w; p->crop_h = crop_h;
    p->out_w = out_w; p->out_h = out_h;
    p->left = sg_center_crop_offset(src_w, crop_w);
    p->top = sg_center_crop_offset(src_h, crop_h);
    p->padded = p->left < 0 || p->top < 0 || p->left + crop_w > src_w || p->top + crop_h > src_h;
    p->need_h = out_w != crop_w;
    p->need_v = out_h != crop_h;
    p->ksize_h = resize_coeffs(crop_w, out_w, &p->bounds_h, &p->k_h);
    p->ksize_v = resize_coeffs(crop_h, out_h, &p->bounds_v, &p->k_v);
    if (!p->ksize_h || !p->ksize_v) { sg_resize_plan_free(p); return sg_err_oom(err, "out of memory"); }
    if (p->need_v) {
        p->row_first = p->bounds_v[0];
        p->row_last = p->bounds_v[2 * (out_h - 1)] + p->bounds_v[2 * (out_h - 1) + 1];
    } else {
        p->row_first = 0;
        p->row_last = crop_h;
    }
    return 0;
}

void sg_resize_plan_source_rows(const sg_resize_plan *p, int *first, int *last)
{
    int a = p->top + p->row_first, b = p->top + p->row_last;
    if (a < 0) a = 0;
    if (b > p->src_h) b = p->src_h;
    if (b < a) b = a;
    *first = a; *last = b;
}

/* Scratch layout: [acc: out_w*3 int32][rows: (out_w*3 + 4) x used rows][pad:
 * crop when padded][the AVX2 horizontal pass's transposed blocks]. */
size_t sg_resize_plan_scratch_size(const sg_resize_plan *p)
{
    size_t n = (size_t)p->out_w * 3;
    size_t rows = (size_t)(p->row_last - p->row_first);
    size_t s = n * sizeof(int32_t) + (n + 4) * rows + 128;
    if (p->padded) s += (size_t)p->crop_w * p->crop_h * 3 + 64;
    s += ((size_t)p->crop_w * 3 + (size_t)p->out_w * 3) * 8 + 64;   /* hpass_avx2's work area */
    return s;
}

static inline uint8_t clip_fixed(int32_t acc)
{
    int32_t v = acc >> RESIZE_FRACTION_BITS;
    return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

/* in: row of the crop (crop_w x 3); out: out_w x 3. */
static void resample_row(const sg_resize_plan *p, const uint8_t *restrict in, uint8_t *restrict out)
{
    const int ks = p->ksize_h;
    for (int xx = 0; xx < p->out_w; xx++) {
        const int32_t *k = p->k_h + (size_t)xx * ks;
        const uint8_t *s = in + 3 * p->bounds_h[2 * xx];
        int taps = p->bounds_h[2 * xx + 1];
        int32_t a0 = 1 << (RESIZE_FRACTION_BITS - 1), a1 = a0, a2 = a0;
        for (int x = 0; x < taps; x++) {
            a0 += s[3 * x] * k[x];
            a1 += s[3 * x + 1] * k[x];
            a2 += s[3 * x + 2] * k[x];
        }
        out[3 * xx] = clip_fixed(a0);
        out[3 * xx + 1] = clip_fixed(a1);
        out[3 * xx + 2] = clip_fixed(a2);
    }
}

/* ---- AVX2 versions of both passes (same integer arithmetic, so the same bytes) ---- */

static int resize_scalar_only;
void sg_resize_force_scalar(int on) { resize_scalar_only = on; }

#ifdef SG_RESIZE_AVX2
static int use_avx2(void)
{
    /* celeb-pack's workers all ask at once: a relaxed atomic, since each
     * finds and writes the same value (a plain int here was a data race) */
    static int have = -1;
    int h = __atomic_load_n(&have, __ATOMIC_RELAXED);
    if (h < 0) {
        h = __builtin_cpu_supports("avx2") ? 1 : 0;
        __atomic_store_n(&have, h, __ATOMIC_RELAXED);
    }
    return h && !resize_scalar_only;
}

/* One round of byte unpacks between vectors k and k + 4. Seen as a 7-bit
 * address (vector index: 3 bits | byte index: 4 bits), a round rotates the
 * address left by one bit: 3 rounds turn 8 rows x 16 bytes into 16 columns x
 * 8 rows (vector k = columns 2k, 2k+1), 4 rounds turn that back. */
#define UNPACK_ROUND(v0, v1, v2, v3, v4, v5, v6, v7) do { \
        __m128i t0 = _mm_unpacklo_epi8(v0, v4), t1 = _mm_unpackhi_epi8(v0, v4); \
        __m128i t2 = _mm_unpacklo_epi8(v1, v5), t3 = _mm_unpackhi_epi8(v1, v5); \
        __m128i t4 = _mm_unpacklo_epi8(v2, v6), t5 = _mm_unpackhi_epi8(v2, v6); \
        __m128i t6 = _mm_unpacklo_epi8(v3, v7), t7 = _mm_unpackhi_epi8(v3, v7); \
        v0 = t0; v1 = t1; v2 = t2; v3 = t3; v4 = t4; v5 = t5; v6 = t6; v7 = t7; \
    } while (0)
#define UNPACK_ROUND_V UNPACK_ROUND(v0, v1, v2, v3, v4, v5, v6, v7)

/* Horizontal pass, 8 rows at a time, with the rows in SIMD lanes: the block is
 * transposed (byte column j of the 8 rows = 8 consecutive bytes of cols), so a
 * tap is one broadcast coefficient times 8 rows; the results (column-major in
 * res) are transposed back into rows. Needs crop_w >= 6 and out_w >= 6 (whole
 * 16-byte chunks; the last chunk overlaps the one before). work holds
 * (3 * crop_w + 3 * out_w) * 8 bytes. Returns the rows done (a multiple of 8). */
__attribute__((target("avx2")))
static int hpass_avx2(const sg_resize_plan *p, const uint8_t *in, size_t in_stride, int nrows,
                      uint8_t *out, size_t out_stride, uint8_t *work)
{
    const int ks = p->ksize_h, in_cols = 3 * p->crop_w, out_cols = 3 * p->out_w;
    uint8_t *cols = work, *res = work + (size_t)in_cols * 8;
    const __m256i bias = _mm256_set1_epi32(1 << (RESIZE_FRACTION_BITS - 1));
    int r = 0;
    for (; r + 8 <= nrows; r += 8) {
        const uint8_t *base = in + (size_t)r * in_stride;
        for (int j = 0; j < in_cols; j += 16) {
            int j0 = j + 16 <= in_cols ? j : in_cols - 16;
#define LOAD_ROW(k) _mm_loadu_si128((const __m128i *)(base + (size_t)(k) * in_stride + j0))
            __m128i v0 = LOAD_ROW(0), v1 = LOAD_ROW(1), v2 = LOAD_ROW(2), v3 = LOAD_ROW(3);
            __m128i v4 = LOAD_ROW(4), v5 = LOAD_ROW(5), v6 = LOAD_ROW(6), v7 = LOAD_ROW(7);
#undef LOAD_ROW
            UNPACK_ROUND_V; UNPACK_ROUND_V; UNPACK_ROUND_V;
            __m128i *dst = (__m128i *)(cols + (size_t)j0 * 8);
            _mm_storeu_si128(dst + 0, v0); _mm_storeu_si128(dst + 1, v1);
            _mm_storeu_si128(dst + 2, v2); _mm_storeu_si128(dst + 3, v3);
            _mm_storeu_si128(dst + 4, v4); _mm_storeu_si128(dst + 5, v5);
            _mm_storeu_si128(dst + 6, v6); _mm_storeu_si128(dst + 7, v7);
        }
        for (int xx = 0; xx < p->out_w; xx++) {
            const int32_t *k = p->k_h + (size_t)xx * ks;
            int xmin = p->bounds_h[2 * xx], taps = p->bounds_h[2 * xx + 1];
            for (int c = 0; c < 3; c++) {
                __m256i a = bias;
                const uint8_t *col = cols + (size_t)(3 * xmin + c) * 8;
                for (int t = 0; t < taps; t++) {
                    __m256i px = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(col + (size_t)t * 24)));
                    a = _mm256_add_epi32(a, _mm256_mullo_epi32(px, _mm256_set1_epi32(k[t])));
                }
                a = _mm256_srai_epi32(a, RESIZE_FRACTION_BITS);
                /* Saturating packs clip to 0..255, as clip_fixed does. */
                __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
                _mm_storel_epi64((__m128i *)(res + (size_t)(3 * xx + c) * 8), _mm_packus_epi16(w16, w16));
            }
        }
        uint8_t *o = out + (size_t)r * out_stride;
        for (int j = 0; j < out_cols; j += 16) {
            int j0 = j + 16 <= out_cols ? j : out_cols - 16;
            const __m128i *src = (const __m128i *)(res + (size_t)j0 * 8);
            __m128i v0 = _mm_loadu_si128(src + 0), v1 = _mm_loadu_si128(src + 1);
            __m128i v2 = _mm_loadu_si128(src + 2), v3 = _mm_loadu_si128(src + 3);
            __m128i v4 = _mm_loadu_si128(src + 4), v5 = _mm_loadu_si128(src + 5);
            __m128i v6 = _mm_loadu_si128(src + 6), v7 = _mm_loadu_si128(src + 7);
            UNPACK_ROUND_V; UNPACK_ROUND_V; UNPACK_ROUND_V; UNPACK_ROUND_V;
#define STORE_ROW(k, v) _mm_storeu_si128((__m128i *)(o + (size_t)(k) * out_stride + j0), v)
            STORE_ROW(0, v0); STORE_ROW(1, v1); STORE_ROW(2, v2); STORE_ROW(3, v3);
            STORE_ROW(4, v4); STORE_ROW(5, v5); STORE_ROW(6, v6); STORE_ROW(7, v7);
#undef STORE_ROW
        }
    }
    return r;
}

/* Vertical pass for one output row: 16 bytes at a time. */
__attribute__((target("avx2")))
static void vpass_row_avx2(const uint8_t *rows, size_t stride, const int32_t *k, int taps, uint8_t *out, size_t n)
{
    const __m256i bias = _mm256_set1_epi32(1 << (RESIZE_FRACTION_BITS - 1));
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i lo = bias, hi = bias;
        for (int t = 0; t < taps; t++) {
            __m128i v = _mm_loadu_si128((const __m128i *)(rows + (size_t)t * stride + i));
            __m256i kv = _mm256_set1_epi32(k[t]);
            lo = _mm256_add_epi32(lo, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(v), kv));
            hi = _mm256_add_epi32(hi, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(v, 8)), kv));
        }
        lo = _mm256_srai_epi32(lo, RESIZE_FRACTION_BITS);
        hi = _mm256_srai_epi32(hi, RESIZE_FRACTION_BITS);
        /* Saturating packs clip to 0..255; the permutes undo AVX2's per-lane packing. */
        __m256i w16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8);
        __m256i b8 = _mm256_permute4x64_epi64(_mm256_packus_epi16(w16, w16), 0x08);
        _mm_storeu_si128((__m128i *)(out + i), _mm256_castsi256_si128(b8));
    }
    for (; i < n; i++) {
        int32_t a = 1 << (RESIZE_FRACTION_BITS - 1);
        for (int t = 0; t < taps; t++) a += rows[(size_t)t * stride + i] * k[t];
        out[i] = clip_fixed(a);
    }
}
#endif

void sg_resize_apply(const sg_resize_plan *p, const uint8_t *src, int src_row0, uint8_t *out, uint8_t *scratch)
{
    const size_t n = (size_t)p->out_w * 3;
    const size_t src_stride = (size_t)p->src_w * 3;
    int32_t *acc = (int32_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    uint8_t *rows = (uint8_t *)(acc + n);
    const size_t rstride = n + 4;
    const int nrows = p->row_last - p->row_first;

    /* The crop window as (pointer to crop row 0, column 0; stride). Padding:
     * copy the window into a zero-filled buffer first. */
    const uint8_t *crop;
    size_t crop_stride;
    if (p->padded) {
        uint8_t *pad = rows + rstride * nrows;
        crop_stride = (size_t)p->crop_w * 3;
        memset(pad, 0, crop_stride * p->crop_h);
        int x0 = p->left < 0 ? 0 : p->left, x1 = p->left + p->crop_w < p->src_w ? p->left + p->crop_w : p->src_w;
        int y0, y1;
        sg_resize_plan_source_rows(p, &y0, &y1);
        for (int y = y0; y < y1 && x1 > x0; y++)
            memcpy(pad + (size_t)(y - p->top) * crop_stride + (size_t)(x0 - p->left) * 3,
                   src + (size_t)(y - src_row0) * src_stride + (size_t)x0 * 3, (size_t)(x1 - x0) * 3);
        crop = pad;
    } else {
        crop_stride = src_stride;
        crop = src + (ptrdiff_t)(p->top - src_row0) * (ptrdiff_t)src_stride + (size_t)p->left * 3;
    }

    /* Horizontal pass over crop rows [row_first, row_last) into rows (stride n),
     * or, when the width does not change, read those crop rows directly. */
    const uint8_t *hrows;
    size_t hstride;
    if (p->need_h) {
        int r = 0;
#ifdef SG_RESIZE_AVX2
        if (use_avx2() && p->crop_w >= 6 && p->out_w >= 6)
            r = hpass_avx2(p, crop + (size_t)p->row_first * crop_stride, crop_stride, nrows, rows, rstride,
                           rows + rstride * nrows + (p->padded ? (size_t)p->crop_w * p->crop_h * 3 + 64 : 0));
#endif
        for (; r < nrows; r++)
            resample_row(p, crop + (size_t)(p->row_first + r) * crop_stride, rows + (size_t)r * rstride);
        hrows = rows;
        hstride = rstride;
    } else {
        hrows = crop + (size_t)p->row_first * crop_stride;
        hstride = crop_stride;
    }

    if (!p->need_v) {
        for (int yy = 0; yy < p->out_h; yy++)
            memcpy(out + (size_t)yy * n, hrows + (size_t)(yy - p->row_first) * hstride, n);
        return;
    }
    /* Vertical pass: every output row is a weighted sum of whole intermediate
     * rows, so the inner loops run over contiguous bytes and vectorise. */
    const int ks = p->ksize_v;
    for (int yy = 0; yy < p->out_h; yy++) {
        const int32_t *k = p->k_v + (size_t)yy * ks;
        int ymin = p->bounds_v[2 * yy] - p->row_first, taps = p->bounds_v[2 * yy + 1];
#ifdef SG_RESIZE_AVX2
        if (use_avx2()) {
            vpass_row_avx2(hrows + (size_t)ymin * hstride, hstride, k, taps, out + (size_t)yy * n, n);
            continue;
        }
#endif
        for (size_t i = 0; i < n; i++) acc[i] = 1 << (RESIZE_FRACTION_BITS - 1);
        for (int y = 0; y < taps; y++) {
            const uint8_t *restrict r = hrows + (size_t)(ymin + y) * hstride;
            const int32_t kv = k[y];
            for (size_t i = 0; i < n; i++) acc[i] += r[i] * kv;
        }
        uint8_t *o = out + (size_t)yy * n;
        for (size_t i = 0; i < n; i++) o[i] = clip_fixed(acc[i]);
    }
}

int sg_center_crop_resize(const sg_image *in, int crop_w, int crop_h, int out_w, int out_h,
                          sg_image *out, sg_err *err)
{
    /* in read before out is touched: out may be in */
    const sg_image src = *in;
    sg_resize_plan plan;
    if (out != in) {
        out->rgb = NULL;
        out->width = out->height = 0;
    }
    if (sg_resize_plan_init(&plan, src.width, src.height, crop_w, crop_h, out_w, out_h, err)) return -1;
    uint8_t *scratch = malloc(sg_resize_plan_scratch_size(&plan));
    uint8_t *rgb = malloc((size_t)out_w * out_h * 3);
    if (!scratch || !rgb) {
        free(scratch); free(rgb); sg_resize_plan_free(&plan);
        return sg_err_oom(err, "out of memory");
    }
    sg_resize_apply(&plan, src.rgb, 0, rgb, scratch);
    free(scratch);
    sg_resize_plan_free(&plan);
    if (out == in) free(src.rgb);
    out->rgb = rgb;
    out->width = out_w;
    out->height = out_h;
    return 0;
}
