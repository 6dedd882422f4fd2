/* bfloat16 rounding on the CPU, for the tests of the CUDA backend's bf16
 * convolutions (kernels/conv_cudnn.cu): the same rounding as CUDA's
 * __float2bfloat16_rn, returned as the float it converts back to. */
#ifndef SG_BF16_ROUND_H
#define SG_BF16_ROUND_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* v rounded to bfloat16 (float's sign and 8-bit exponent, 7 stored mantissa
 * bits) with round to nearest, ties to even. A NaN stays a (quiet) NaN; inf
 * stays inf; a finite value past the largest bf16 (0x7f7f8000 and up in
 * magnitude) rounds to inf; subnormals round like normal numbers (bf16 has
 * float's exponent range). */
static inline float bf16_round(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) u |= 0x00400000u;    /* NaN: keep a mantissa bit */
    else u += 0x7fffu + ((u >> 16) & 1u);                    /* half an ulp, ties to even */
    u &= 0xffff0000u;
    memcpy(&v, &u, sizeof v);
    return v;
}

static inline void bf16_round_array(float *a, size_t n)
{
    for (size_t i = 0; i < n; i++) a[i] = bf16_round(a[i]);
}
#endif
