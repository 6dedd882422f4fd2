/* Pixels as the network's tensors and back (image.h): uint8 HWC <-> float CHW. */
#include "image.h"

void sg_rgb_to_chw(const uint8_t *rgb, int S, int flip, float *x)
{
    float unit[256];   /* 256 conversions instead of one per value; on the stack for the loader thread */
    for (int v = 0; v < 256; v++) unit[v] = sg_pixel_to_unit((uint8_t)v);
    const size_t plane = (size_t)S * S;
    for (int y = 0; y < S; y++)
        for (int xx = 0; xx < S; xx++) {
            const uint8_t *px = rgb + ((size_t)y * S + (flip ? S - 1 - xx : xx)) * 3;
            float *at = x + (size_t)y * S + xx;
            for (int ch = 0; ch < 3; ch++) at[ch * plane] = unit[px[ch]];
        }
}

void sg_chw_to_rgb(const float *y, int S, uint8_t *rgb, size_t row_stride)
{
    const size_t plane = (size_t)S * S;
    for (int r = 0; r < S; r++) {
        uint8_t *row = rgb + (size_t)r * row_stride;
        for (int c = 0; c < S; c++) {
            const float *at = y + (size_t)r * S + c;
            for (int ch = 0; ch < 3; ch++) row[(size_t)c * 3 + ch] = sg_unit_to_pixel(at[ch * plane]);
        }
    }
}
