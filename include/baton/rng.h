/* rng.h: Philox4x32-10, the counter-based generator of Salmon et al. (SC'11, Random123).
 *
 * A draw is a pure function of (seed, purpose, counter, index): no state to carry, save or
 * split, so the CPU and a CUDA kernel draw the same numbers for the same element, and a resumed
 * run draws what the uninterrupted run drew. The mapping onto Philox's inputs:
 *   key     = { seed low 32 bits, seed high 32 bits }
 *   counter = { block low 32, block high 32, purpose, counter }
 * where block = index / 4 and the lane is index % 4. "purpose" separates uses (weight init of
 * one tensor, dropout of one layer, data shuffling); "counter" is typically the training step.
 * Every function is BATON_HD so kernels include this header unchanged. */
#ifndef BATON_RNG_H
#define BATON_RNG_H

#include <stdint.h>

#include "baton/hd.h"

/* Purposes: the top byte says what kind of draw, the low 24 bits which tensor or layer. */
#define BATON_RNG_INIT (1u << 24)    /* | parameter-table index */
#define BATON_RNG_DROPOUT (2u << 24) /* | dropout site */
#define BATON_RNG_DATA (3u << 24)    /* | data-order use */
#define BATON_RNG_TEST (0xffu << 24) /* | test case: random inputs in tests and benchmarks */

typedef struct {
    uint32_t v[4];
} baton_u32x4;

BATON_HD static inline uint32_t baton_mulhilo32(uint32_t a, uint32_t b, uint32_t *hi)
{
    uint64_t p = (uint64_t)a * (uint64_t)b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

/* Philox4x32 with 10 rounds on one 128-bit counter block under a 64-bit key. */
BATON_HD static inline baton_u32x4 baton_philox4x32_10(baton_u32x4 ctr, uint32_t k0, uint32_t k1)
{
    for (int round = 0; round < 10; round++) {
        uint32_t hi0, hi1;
        uint32_t lo0 = baton_mulhilo32(0xD2511F53u, ctr.v[0], &hi0);
        uint32_t lo1 = baton_mulhilo32(0xCD9E8D57u, ctr.v[2], &hi1);
        baton_u32x4 next = {{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
        ctr = next;
        k0 += 0x9E3779B9u; /* Weyl key schedule: golden ratio and sqrt(3) - 1 */
        k1 += 0xBB67AE85u;
    }
    return ctr;
}

/* The four words of block `block` for (seed, purpose, counter). */
BATON_HD static inline baton_u32x4 baton_rng_block(uint64_t seed, uint32_t purpose, uint32_t counter,
                                                  uint64_t block)
{
    baton_u32x4 c = {{(uint32_t)block, (uint32_t)(block >> 32), purpose, counter}};
    return baton_philox4x32_10(c, (uint32_t)seed, (uint32_t)(seed >> 32));
}

/* Maps 32 random bits to a float in [0, 1) with 24 bits of resolution (exact in float32). */
BATON_HD static inline float baton_rng_u32_to_unit(uint32_t x)
{
    return (float)(x >> 8) * (1.0f / 16777216.0f);
}

/* The uniform float in [0, 1) of element `index` of stream (seed, purpose, counter). */
BATON_HD static inline float baton_rng_uniform(uint64_t seed, uint32_t purpose, uint32_t counter,
                                               uint64_t index)
{
    baton_u32x4 b = baton_rng_block(seed, purpose, counter, index >> 2);
    return baton_rng_u32_to_unit(b.v[index & 3]);
}

/* Dropout scale for one 32-bit draw: 0 when dropped (uniform < p), 1/(1-p) when kept, so the
 * expected value is unchanged, as in PyTorch's dropout. p in [0, 1). */
BATON_HD static inline float baton_rng_keep_scale(uint32_t bits, float p)
{
    return baton_rng_u32_to_unit(bits) < p ? 0.0f : 1.0f / (1.0f - p);
}

/* Dropout scale of element `index` of stream (seed, purpose, counter). */
BATON_HD static inline float baton_rng_dropout_scale(uint64_t seed, uint32_t purpose, uint32_t counter,
                                                     uint64_t index, float p)
{
    baton_u32x4 b = baton_rng_block(seed, purpose, counter, index >> 2);
    return baton_rng_keep_scale(b.v[index & 3], p);
}

#endif
