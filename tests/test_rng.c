/* test_rng.c: Philox4x32-10 against the published known-answer vectors, and the properties the
 * rest of baton relies on (pure function of its key, uniform in [0, 1), dropout keep rate). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "baton/rng.h"
#include "support/testutil.h"

/* Random123 v1.14 tests/kat_vectors, "philox4x32 10": counter words, key words, expected words. */
static const uint32_t kat[3][10] = {
    {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
    {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e, 0xa20bc7c6,
     0x6d5451fd},
    {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb, 0x5001e420,
     0x24126ea1},
};

static void check_kat(tu_report *r)
{
    for (int i = 0; i < 3; i++) {
        baton_u32x4 ctr = {{kat[i][0], kat[i][1], kat[i][2], kat[i][3]}};
        baton_u32x4 out = baton_philox4x32_10(ctr, kat[i][4], kat[i][5]);
        int wrong = 0;
        for (int w = 0; w < 4; w++)
            wrong += out.v[w] != kat[i][6 + w];
        char name[64];
        snprintf(name, sizeof name, "philox4x32-10 known answer %d (wrong words)", i);
        tu_check_abs(r, name, wrong, 0);
    }
    /* baton's mapping: key = seed, counter = {block lo, block hi, purpose, counter}. */
    baton_u32x4 a = baton_rng_block(((uint64_t)kat[2][5] << 32) | kat[2][4], kat[2][2], kat[2][3],
                                    ((uint64_t)kat[2][1] << 32) | kat[2][0]);
    tu_check_abs(r, "rng_block maps (seed, purpose, counter, block) onto Philox's words", a.v[0] != kat[2][6], 0);
}

static void check_uniform(tu_report *r)
{
    /* 2^20 draws: the mean of U[0,1) has standard deviation sqrt(1/12 / 2^20) = 2.8e-4; allow 5 sigma. */
    const int n = 1 << 20;
    double sum = 0.0;
    int out_of_range = 0, first_differs = 0;
    for (int i = 0; i < n; i++) {
        float u = baton_rng_uniform(42, BATON_RNG_TEST | 1, 3, (uint64_t)i);
        out_of_range += !(u >= 0.0f && u < 1.0f);
        sum += u;
    }
    tu_check_abs(r, "uniform draws outside [0, 1)", out_of_range, 0);
    tu_check_abs(r, "uniform mean - 0.5", fabs(sum / n - 0.5), 5 * 2.8e-4);
    /* Each of seed, purpose, counter changes the stream; the same key gives the same value. */
    float base = baton_rng_uniform(42, BATON_RNG_TEST | 1, 3, 5);
    first_differs += base == baton_rng_uniform(43, BATON_RNG_TEST | 1, 3, 5);
    first_differs += base == baton_rng_uniform(42, BATON_RNG_TEST | 2, 3, 5);
    first_differs += base == baton_rng_uniform(42, BATON_RNG_TEST | 1, 4, 5);
    first_differs += base != baton_rng_uniform(42, BATON_RNG_TEST | 1, 3, 5);
    tu_check_abs(r, "streams keyed by seed, purpose and counter (collisions)", first_differs, 0);
}

static void check_dropout_rate(tu_report *r)
{
    /* Kept fraction of 2^20 draws at p = 0.3: standard deviation sqrt(0.21 / 2^20) = 4.5e-4; 5 sigma. */
    const int n = 1 << 20;
    const float p = 0.3f;
    int kept = 0, bad_scale = 0;
    for (int i = 0; i < n; i++) {
        float s = baton_rng_dropout_scale(7, BATON_RNG_DROPOUT, 0, (uint64_t)i, p);
        kept += s != 0.0f;
        bad_scale += s != 0.0f && s != 1.0f / (1.0f - p);
    }
    tu_check_abs(r, "dropout kept fraction - (1 - p)", fabs((double)kept / n - (1.0 - p)), 5 * 4.5e-4);
    tu_check_abs(r, "dropout scale not 0 or 1/(1-p)", bad_scale, 0);
}

int main(void)
{
    tu_report r = {0, 0};
    check_kat(&r);
    check_uniform(&r);
    check_dropout_rate(&r);
    return tu_summary(&r, "rng");
}
