/* cell_math.h: the per-element math of the recurrent cells, shared by the CPU backend and the
 * CUDA kernels (every function is BATON_HD). A backend's fused cell op is a loop, or a grid, over
 * the (b, j) elements of one time step, each calling one of the *_at functions below; the formulas
 * exist once, and the CPU tests that check them also check what the kernels compute.
 *
 * Layout of one time step (row-major, j < Hd the unit within one direction):
 *   gate pre-activations xg, hg: (B, G*Hd), gate k of row b at [b*G*Hd + k*Hd + j]; gate order is
 *   PyTorch's (and cuDNN's): LSTM i,f,g,o (G=4); GRU r,z,n (G=3); tanh RNN one gate (G=1).
 *   saved activations: (B, S*Hd), same blocking: LSTM i,f,g,o after their nonlinearities;
 *   GRU r, z, n and W_hn h + b_hn (S=4); tanh RNN saves nothing (S=0): backward uses h itself.
 * Sequence padding: row b is valid at step t when t < lengths[b]. An invalid row carries the state
 * unchanged (h = h_prev, c = c_prev), writes a zero output, and in backward passes dh/dc straight
 * through with zero gate gradients. That reproduces pack_padded_sequence without packing, in
 * both directions: the reverse pass meets a sequence's padding first, so its state is still h0
 * when it reaches the last real token. */
#ifndef BATON_CELL_MATH_H
#define BATON_CELL_MATH_H

#include <stdint.h>
#include <string.h>

#include "baton/bf16.h"
#include "baton/hd.h"

typedef enum {
    BATON_CELL_RNN_TANH = 0,
    BATON_CELL_LSTM = 1,
    BATON_CELL_GRU = 2,
} baton_cell;

/* Number of gate blocks G in a pre-activation row. */
BATON_HD static inline int baton_cell_gates(baton_cell cell)
{
    return cell == BATON_CELL_LSTM ? 4 : cell == BATON_CELL_GRU ? 3 : 1;
}

/* Number of saved blocks S per row that backward needs. */
BATON_HD static inline int baton_cell_saved(baton_cell cell)
{
    return cell == BATON_CELL_RNN_TANH ? 0 : 4;
}

/* Arguments of one forward time step. Pointers are device pointers of the backend; those a cell
 * does not use (c_prev, c outside LSTM; save for tanh RNN) must be NULL, and save may be NULL for
 * an inference forward that no backward follows (the test is uniform over a step, so it costs a
 * warp nothing and the CPU compiler unswitches it out of the unit loop). */
typedef struct {
    int B, Hd, t;
    const int *lengths;           /* (B) valid steps of each sequence */
    const float *xg;              /* (B, G*Hd) input projection x_t W_ih^T, without bias */
    const float *hg;              /* (B, G*Hd) recurrent projection h_prev W_hh^T, without bias */
    const float *b_ih, *b_hh;     /* (G*Hd) */
    const float *h_prev;          /* (B, Hd) */
    const float *c_prev;          /* (B, Hd) LSTM only */
    float *h;                     /* (B, Hd) new state */
    float *c;                     /* (B, Hd) LSTM only */
    float *y;                     /* (B, ldy) output at t */
    int ldy;
    float *save;                  /* (B, S*Hd) for backward (LSTM, GRU), or NULL: inference keeps nothing */
    uint16_t *h16;                /* (B, Hd) NULL, or h's bf16 mirror, written beside h (kernels only) */
} baton_cell_fwd_args;

/* Arguments of one backward time step. dh_prev may alias dh and dc_prev may alias dc.
 * Pointers a cell does not use must be NULL (the padded path tests c, dc_prev and dgh). */
typedef struct {
    int B, Hd, t;
    const int *lengths;           /* (B) */
    const float *dy;              /* (B, ldy) gradient of the output at t */
    int ldy;
    const float *dh;              /* (B, Hd) gradient reaching h_t from later steps and dhn */
    const float *dc;              /* (B, Hd) LSTM only */
    const float *save;            /* (B, S*Hd) */
    const float *h_prev;          /* (B, Hd) GRU */
    const float *h;               /* (B, Hd) tanh RNN: the new state */
    const float *c_prev, *c;      /* (B, Hd) LSTM */
    float *dgx;                   /* (B, G*Hd) gradient of the input-side pre-activations */
    float *dgh;                   /* (B, G*Hd) GRU only: recurrent side (differs in the n gate) */
    float *dh_prev;               /* (B, Hd) the direct part; the caller adds dgh W_hh */
    float *dc_prev;               /* (B, Hd) LSTM only */
    uint16_t *dgx16, *dgh16;      /* (B, G*Hd) NULL, or bf16 mirrors of dgx / dgh, written beside them (kernels) */
} baton_cell_bwd_args;

/* ---- transcendental functions ----
 * exp and tanh in plain float arithmetic (Cephes' expf and tanhf, the same coefficients), not
 * libm calls: the compiler can vectorize a loop over them (libm's expf/tanhf are opaque calls that
 * keep the CPU loops scalar, ~5x slower), and host and device evaluate the same polynomial.
 * Accuracy: within 2 ulp of the true value over the whole float range (checked against double in
 * tests/test_cell_math.c). NaN propagates; exp saturates near FLT_MAX instead of overflowing, which
 * leaves sigmoid and tanh exact to float precision. */

/* e^x: x = n ln2 + r with |r| <= ln2/2, e^r by a degree-6 polynomial, 2^n built in the exponent bits. */
BATON_HD static inline float baton_exp(float x)
{
    /* clamp so that 2^n stays a normal float (n in -126..127); comparisons keep NaN, unlike fminf */
    x = x > 88.0f ? 88.0f : x;
    x = x < -87.0f ? -87.0f : x;
    /* round-to-nearest by the 1.5*2^23 trick: no floorf call, so the loop still vectorizes */
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f; /* Cody-Waite: ln2 in two parts */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    /* NaN has no integer value (converting it is undefined); p is NaN then anyway, so any k serves */
    int32_t k = n == n ? (int32_t)n : 0;
    return p * baton_f32_from_bits((uint32_t)(k + 127) << 23); /* bf16.h */
}

/* tanh(x): an odd polynomial for |x| < 0.625, else 1 - 2/(e^{2|x|} + 1) with the sign of x. */
BATON_HD static inline float baton_tanh(float x)
{
    float ax = x < 0.0f ? -x : x;
    float z = x * x;
    float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z +
                    1.33314422036e-1f) * z - 3.33332819422e-1f) * z * x + x;
    float big = 1.0f - 2.0f / (baton_exp(2.0f * ax) + 1.0f);
    big = x < 0.0f ? -big : big;
    return ax < 0.625f ? small : big;
}

/* 1 / (1 + e^-x). */
BATON_HD static inline float baton_sigmoid(float x)
{
    return 1.0f / (1.0f + baton_exp(-x));
}

BATON_HD static inline int baton_cell_valid(const int *lengths, int b, int t)
{
    return t < lengths[b];
}

/* Each cell has, per direction of the pass, a `step` function for a valid row, a `pad` function
 * for a padded row, and an `_at` function that picks one of them: kernels call `_at` per thread;
 * the CPU loop tests validity once per row so that the unit loop is straight-line code that
 * vectorizes. */

/* ---- padded rows, shared by all cells: carry the state, zero output, pass gradients through ---- */

BATON_HD static inline void baton_cell_fwd_pad(const baton_cell_fwd_args *a, int b, int j)
{
    int k = b * a->Hd + j;
    a->h[k] = a->h_prev[k];
    if (a->c)
        a->c[k] = a->c_prev[k];
    a->y[b * a->ldy + j] = 0.0f;
}

BATON_HD static inline void baton_cell_bwd_pad(const baton_cell_bwd_args *a, int G, int b, int j)
{
    int k = b * a->Hd + j, row = b * G * a->Hd + j;
    a->dh_prev[k] = a->dh[k];
    if (a->dc_prev)
        a->dc_prev[k] = a->dc[k];
    for (int q = 0; q < G; q++) {
        a->dgx[row + q * a->Hd] = 0.0f;
        if (a->dgh)
            a->dgh[row + q * a->Hd] = 0.0f;
    }
}

/* Total gradient reaching h_t of a valid row: from later steps plus from the output. */
BATON_HD static inline float baton_cell_dh_total(const baton_cell_bwd_args *a, int b, int j)
{
    return a->dh[b * a->Hd + j] + a->dy[b * a->ldy + j];
}

/* ---- tanh RNN: h = tanh(x W_ih^T + b_ih + h_prev W_hh^T + b_hh) ---- */

BATON_HD static inline void baton_rnn_tanh_fwd_step(const baton_cell_fwd_args *a, int b, int j)
{
    int k = b * a->Hd + j;
    float h = baton_tanh(a->xg[k] + a->b_ih[j] + a->hg[k] + a->b_hh[j]);
    a->h[k] = h;
    a->y[b * a->ldy + j] = h;
}

BATON_HD static inline void baton_rnn_tanh_bwd_step(const baton_cell_bwd_args *a, int b, int j)
{
    int k = b * a->Hd + j;
    float h = a->h[k];
    a->dgx[k] = baton_cell_dh_total(a, b, j) * (1.0f - h * h);
    a->dh_prev[k] = 0.0f;
}

/* ---- LSTM: i,f,o = sigmoid, g = tanh; c = f c_prev + i g; h = o tanh(c) ---- */

BATON_HD static inline void baton_lstm_fwd_step(const baton_cell_fwd_args *a, int b, int j)
{
    int Hd = a->Hd, k = b * Hd + j, row = b * 4 * Hd + j;
    const float *xg = a->xg + row, *hg = a->hg + row;
    float i = baton_sigmoid(xg[0] + hg[0] + a->b_ih[j] + a->b_hh[j]);
    float f = baton_sigmoid(xg[Hd] + hg[Hd] + a->b_ih[Hd + j] + a->b_hh[Hd + j]);
    float g = baton_tanh(xg[2 * Hd] + hg[2 * Hd] + a->b_ih[2 * Hd + j] + a->b_hh[2 * Hd + j]);
    float o = baton_sigmoid(xg[3 * Hd] + hg[3 * Hd] + a->b_ih[3 * Hd + j] + a->b_hh[3 * Hd + j]);
    float c = f * a->c_prev[k] + i * g;
    float h = o * baton_tanh(c);
    a->c[k] = c;
    a->h[k] = h;
    a->y[b * a->ldy + j] = h;
    if (!a->save)
        return;
    float *s = a->save + row;
    s[0] = i;
    s[Hd] = f;
    s[2 * Hd] = g;
    s[3 * Hd] = o;
}

BATON_HD static inline void baton_lstm_bwd_step(const baton_cell_bwd_args *a, int b, int j)
{
    int Hd = a->Hd, k = b * Hd + j, row = b * 4 * Hd + j;
    const float *s = a->save + row;
    float *dg = a->dgx + row;
    float i = s[0], f = s[Hd], g = s[2 * Hd], o = s[3 * Hd];
    float dh = baton_cell_dh_total(a, b, j);
    float tc = baton_tanh(a->c[k]);
    float dc = a->dc[k] + dh * o * (1.0f - tc * tc);
    dg[0] = dc * g * i * (1.0f - i);
    dg[Hd] = dc * a->c_prev[k] * f * (1.0f - f);
    dg[2 * Hd] = dc * i * (1.0f - g * g);
    dg[3 * Hd] = dh * tc * o * (1.0f - o);
    a->dc_prev[k] = dc * f;
    a->dh_prev[k] = 0.0f;
}

/* ---- GRU (PyTorch): r,z = sigmoid; n = tanh(x_n + b_in + r (h_n + b_hn)); h = (1-z) n + z h_prev ---- */

BATON_HD static inline void baton_gru_fwd_step(const baton_cell_fwd_args *a, int b, int j)
{
    int Hd = a->Hd, k = b * Hd + j, row = b * 3 * Hd + j;
    const float *xg = a->xg + row, *hg = a->hg + row;
    float r = baton_sigmoid(xg[0] + a->b_ih[j] + hg[0] + a->b_hh[j]);
    float z = baton_sigmoid(xg[Hd] + a->b_ih[Hd + j] + hg[Hd] + a->b_hh[Hd + j]);
    float hn = hg[2 * Hd] + a->b_hh[2 * Hd + j];
    float n = baton_tanh(xg[2 * Hd] + a->b_ih[2 * Hd + j] + r * hn);
    float h = (1.0f - z) * n + z * a->h_prev[k];
    a->h[k] = h;
    a->y[b * a->ldy + j] = h;
    if (!a->save)
        return;
    float *s = a->save + b * 4 * Hd + j;
    s[0] = r;
    s[Hd] = z;
    s[2 * Hd] = n;
    s[3 * Hd] = hn;
}

BATON_HD static inline void baton_gru_bwd_step(const baton_cell_bwd_args *a, int b, int j)
{
    int Hd = a->Hd, k = b * Hd + j, row = b * 3 * Hd + j;
    float *dgx = a->dgx + row, *dgh = a->dgh + row;
    const float *s = a->save + b * 4 * Hd + j;
    float r = s[0], z = s[Hd], n = s[2 * Hd], hn = s[3 * Hd];
    float dh = baton_cell_dh_total(a, b, j);
    float dn = dh * (1.0f - z) * (1.0f - n * n);
    float dz = dh * (a->h_prev[k] - n) * z * (1.0f - z);
    float dr = dn * hn * r * (1.0f - r);
    dgx[0] = dgh[0] = dr;
    dgx[Hd] = dgh[Hd] = dz;
    dgx[2 * Hd] = dn;
    dgh[2 * Hd] = dn * r;
    a->dh_prev[k] = dh * z;
}

/* ---- bf16 mirrors of what the next GEMMs read (bf16 precision on a GPU; the CPU rounds in its
 * gemm and passes NULL): the thread that wrote an element writes its rounding, so the per-step
 * recurrent GEMMs never launch a conversion ---- */

BATON_HD static inline void baton_cell_fwd_mirror(const baton_cell_fwd_args *a, int b, int j)
{
    int k = b * a->Hd + j;
    if (a->h16)
        a->h16[k] = baton_bf16_from_f32(a->h[k]);
}

BATON_HD static inline void baton_cell_bwd_mirror(const baton_cell_bwd_args *a, int G, int b, int j)
{
    int row = b * G * a->Hd + j;
    for (int q = 0; q < G; q++) {
        if (a->dgx16)
            a->dgx16[row + q * a->Hd] = baton_bf16_from_f32(a->dgx[row + q * a->Hd]);
        if (a->dgh16)
            a->dgh16[row + q * a->Hd] = baton_bf16_from_f32(a->dgh[row + q * a->Hd]);
    }
}

/* ---- per-thread entry points: valid or padded row, then the mirrors ---- */

#define BATON_CELL_AT(name, args_t, step, pad_call, mirror_call)      \
    BATON_HD static inline void name(const args_t *a, int b, int j)   \
    {                                                                 \
        if (baton_cell_valid(a->lengths, b, a->t))                    \
            step(a, b, j);                                            \
        else                                                          \
            pad_call;                                                 \
        mirror_call;                                                  \
    }
#define BATON_FWD_MIRROR baton_cell_fwd_mirror(a, b, j)
BATON_CELL_AT(baton_rnn_tanh_fwd_at, baton_cell_fwd_args, baton_rnn_tanh_fwd_step, baton_cell_fwd_pad(a, b, j),
              BATON_FWD_MIRROR)
BATON_CELL_AT(baton_lstm_fwd_at, baton_cell_fwd_args, baton_lstm_fwd_step, baton_cell_fwd_pad(a, b, j),
              BATON_FWD_MIRROR)
BATON_CELL_AT(baton_gru_fwd_at, baton_cell_fwd_args, baton_gru_fwd_step, baton_cell_fwd_pad(a, b, j),
              BATON_FWD_MIRROR)
BATON_CELL_AT(baton_rnn_tanh_bwd_at, baton_cell_bwd_args, baton_rnn_tanh_bwd_step, baton_cell_bwd_pad(a, 1, b, j),
              baton_cell_bwd_mirror(a, 1, b, j))
BATON_CELL_AT(baton_lstm_bwd_at, baton_cell_bwd_args, baton_lstm_bwd_step, baton_cell_bwd_pad(a, 4, b, j),
              baton_cell_bwd_mirror(a, 4, b, j))
BATON_CELL_AT(baton_gru_bwd_at, baton_cell_bwd_args, baton_gru_bwd_step, baton_cell_bwd_pad(a, 3, b, j),
              baton_cell_bwd_mirror(a, 3, b, j))
#undef BATON_FWD_MIRROR
#undef BATON_CELL_AT

#endif
