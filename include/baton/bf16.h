/* bf16.h: bfloat16 rounding, shared by the CPU backend and the kernels (BATON_HD), so that bf16
 * precision means the same numbers on every backend.
 *
 * bf16 keeps fp32's sign and 8-bit exponent and the top 7 of its 23 fraction bits. Rounding is to
 * nearest, ties to even, on the bits (what cuda_bf16.h's __float2bfloat16_rn does): add
 * 0x7fff + (the lowest kept bit) and truncate. NaN stays NaN (quiet, sign kept): the rounding add
 * could carry a NaN's payload into infinity. A product of two bf16 values has at most 16
 * significant bits, so it is exact in fp32: a bf16 GEMM with fp32 accumulation differs from the
 * fp32 GEMM of the rounded operands only in summation order. */
#ifndef BATON_BF16_H
#define BATON_BF16_H

#include <stdint.h>
#include <string.h>

#include "baton/hd.h"

BATON_HD static inline uint32_t baton_f32_bits(float x)
{
#if defined(__CUDA_ARCH__)
    return __float_as_uint(x);
#else
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
#endif
}

BATON_HD static inline float baton_f32_from_bits(uint32_t u)
{
#if defined(__CUDA_ARCH__)
    return __uint_as_float(u);
#else
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
#endif
}

/* x rounded to bf16 (nearest even), as the 16 stored bits. */
BATON_HD static inline uint16_t baton_bf16_from_f32(float x)
{
    uint32_t u = baton_f32_bits(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN */
        return (uint16_t)((u >> 16) | 0x0040u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/* The fp32 value of bf16 bits (exact). */
BATON_HD static inline float baton_bf16_to_f32(uint16_t h)
{
    return baton_f32_from_bits((uint32_t)h << 16);
}

/* x rounded to the nearest bf16 value, as fp32. */
BATON_HD static inline float baton_bf16_round(float x)
{
    return baton_bf16_to_f32(baton_bf16_from_f32(x));
}

#endif
