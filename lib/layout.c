/* Host-side layout permutation (lib/backend.h "Layout"). */
#include "backend.h"

void sg_layout_permute(float *dst, const float *src, size_t outer, size_t mid, size_t inner,
                       int to_nhwc)
{
    for (size_t o = 0; o < outer; o++)
        for (size_t m = 0; m < mid; m++)
            for (size_t i = 0; i < inner; i++) {
                size_t nchw = (o * mid + m) * inner + i, nhwc = (o * inner + i) * mid + m;
                if (to_nhwc) dst[nhwc] = src[nchw];
                else dst[nchw] = src[nhwc];
            }
}
