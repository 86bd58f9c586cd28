/* cuda_bf16.h (baton's CUDA emulation): bfloat16 storage and its conversions, rounding to
 * nearest even as __float2bfloat16 does. */
#ifndef BATON_EMU_CUDA_BF16_H
#define BATON_EMU_CUDA_BF16_H

#include <stdint.h>
#include <string.h>

typedef struct {
    uint16_t x;
} __nv_bfloat16;

static inline __nv_bfloat16 __float2bfloat16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    __nv_bfloat16 r;
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        r.x = (uint16_t)((u >> 16) | 0x40u); /* NaN stays a quiet NaN */
        return r;
    }
    u += 0x7fffu + ((u >> 16) & 1u);
    r.x = (uint16_t)(u >> 16);
    return r;
}

static inline float __bfloat162float(__nv_bfloat16 b)
{
    uint32_t u = (uint32_t)b.x << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

#endif
