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

#include <math.h>

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

/* Arguments of one forward time step. Pointers are device pointers of the backend. */
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
    float *y;                     /* (B, ldy) output at t; may be NULL */
    int ldy;
    float *save;                  /* (B, S*Hd) for backward; may be NULL in inference */
} baton_cell_fwd_args;

/* Arguments of one backward time step. dh_prev may alias dh and dc_prev may alias dc. */
typedef struct {
    int B, Hd, t;
    const int *lengths;           /* (B) */
    const float *dy;              /* (B, ldy) gradient of the output at t; may be NULL */
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
} baton_cell_bwd_args;

BATON_HD static inline float baton_sigmoid(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

BATON_HD static inline int baton_cell_valid(const int *lengths, int b, int t)
{
    return t < lengths[b];
}

/* Total gradient reaching h_t: from later steps plus from the output (valid rows only). */
BATON_HD static inline float baton_cell_dh_total(const baton_cell_bwd_args *a, int b, int j)
{
    float dh = a->dh[b * a->Hd + j];
    return a->dy ? dh + a->dy[b * a->ldy + j] : dh;
}

BATON_HD static inline void baton_cell_write_y(const baton_cell_fwd_args *a, int b, int j, float v)
{
    if (a->y)
        a->y[b * a->ldy + j] = v;
}

/* ---- tanh RNN: h = tanh(x W_ih^T + b_ih + h_prev W_hh^T + b_hh) ---- */

BATON_HD static inline void baton_rnn_tanh_fwd_at(const baton_cell_fwd_args *a, int b, int j)
{
    int k = b * a->Hd + j;
    if (!baton_cell_valid(a->lengths, b, a->t)) {
        a->h[k] = a->h_prev[k];
        baton_cell_write_y(a, b, j, 0.0f);
        return;
    }
    float h = tanhf(a->xg[k] + a->b_ih[j] + a->hg[k] + a->b_hh[j]);
    a->h[k] = h;
    baton_cell_write_y(a, b, j, h);
}

BATON_HD static inline void baton_rnn_tanh_bwd_at(const baton_cell_bwd_args *a, int b, int j)
{
    int k = b * a->Hd + j;
    if (!baton_cell_valid(a->lengths, b, a->t)) {
        a->dh_prev[k] = a->dh[k];
        a->dgx[k] = 0.0f;
        return;
    }
    float h = a->h[k];
    a->dgx[k] = baton_cell_dh_total(a, b, j) * (1.0f - h * h);
    a->dh_prev[k] = 0.0f;
}

/* ---- LSTM: i,f,o = sigmoid, g = tanh; c = f c_prev + i g; h = o tanh(c) ---- */

BATON_HD static inline void baton_lstm_fwd_at(const baton_cell_fwd_args *a, int b, int j)
{
    int Hd = a->Hd, k = b * Hd + j;
    if (!baton_cell_valid(a->lengths, b, a->t)) {
        a->h[k] = a->h_prev[k];
        a->c[k] = a->c_prev[k];
        baton_cell_write_y(a, b, j, 0.0f);
        return;
    }
    int row = b * 4 * Hd;
    float pre[4];
    for (int q = 0; q < 4; q++) {
        int g = q * Hd + j;
        pre[q] = a->xg[row + g] + a->hg[row + g] + a->b_ih[g] + a->b_hh[g];
    }
    float i = baton_sigmoid(pre[0]), f = baton_sigmoid(pre[1]);
    float g = tanhf(pre[2]), o = baton_sigmoid(pre[3]);
    float c = f * a->c_prev[k] + i * g;
    float h = o * tanhf(c);
    a->c[k] = c;
    a->h[k] = h;
    baton_cell_write_y(a, b, j, h);
    if (a->save) {
        float *s = a->save + row + j;
        s[0] = i;
        s[Hd] = f;
        s[2 * Hd] = g;
        s[3 * Hd] = o;
    }
}

BATON_HD static inline void baton_lstm_bwd_at(const baton_cell_bwd_args *a, int b, int j)
{
    int Hd = a->Hd, k = b * Hd + j, row = b * 4 * Hd;
    float *dg = a->dgx + row + j;
    if (!baton_cell_valid(a->lengths, b, a->t)) {
        a->dh_prev[k] = a->dh[k];
        a->dc_prev[k] = a->dc[k];
        dg[0] = dg[Hd] = dg[2 * Hd] = dg[3 * Hd] = 0.0f;
        return;
    }
    const float *s = a->save + row + j;
    float i = s[0], f = s[Hd], g = s[2 * Hd], o = s[3 * Hd];
    float dh = baton_cell_dh_total(a, b, j);
    float tc = tanhf(a->c[k]);
    float dc = a->dc[k] + dh * o * (1.0f - tc * tc);
    dg[0] = dc * g * i * (1.0f - i);
    dg[Hd] = dc * a->c_prev[k] * f * (1.0f - f);
    dg[2 * Hd] = dc * i * (1.0f - g * g);
    dg[3 * Hd] = dh * tc * o * (1.0f - o);
    a->dc_prev[k] = dc * f;
    a->dh_prev[k] = 0.0f;
}

/* ---- GRU (PyTorch): r,z = sigmoid; n = tanh(x_n + b_in + r (h_n + b_hn)); h = (1-z) n + z h_prev ---- */

BATON_HD static inline void baton_gru_fwd_at(const baton_cell_fwd_args *a, int b, int j)
{
    int Hd = a->Hd, k = b * Hd + j;
    if (!baton_cell_valid(a->lengths, b, a->t)) {
        a->h[k] = a->h_prev[k];
        baton_cell_write_y(a, b, j, 0.0f);
        return;
    }
    int row = b * 3 * Hd;
    float r = baton_sigmoid(a->xg[row + j] + a->b_ih[j] + a->hg[row + j] + a->b_hh[j]);
    float z = baton_sigmoid(a->xg[row + Hd + j] + a->b_ih[Hd + j] + a->hg[row + Hd + j] + a->b_hh[Hd + j]);
    float hn = a->hg[row + 2 * Hd + j] + a->b_hh[2 * Hd + j];
    float n = tanhf(a->xg[row + 2 * Hd + j] + a->b_ih[2 * Hd + j] + r * hn);
    float h = (1.0f - z) * n + z * a->h_prev[k];
    a->h[k] = h;
    baton_cell_write_y(a, b, j, h);
    if (a->save) {
        float *s = a->save + b * 4 * Hd + j;
        s[0] = r;
        s[Hd] = z;
        s[2 * Hd] = n;
        s[3 * Hd] = hn;
    }
}

BATON_HD static inline void baton_gru_bwd_at(const baton_cell_bwd_args *a, int b, int j)
{
    int Hd = a->Hd, k = b * Hd + j, row = b * 3 * Hd;
    float *dgx = a->dgx + row + j, *dgh = a->dgh + row + j;
    if (!baton_cell_valid(a->lengths, b, a->t)) {
        a->dh_prev[k] = a->dh[k];
        dgx[0] = dgx[Hd] = dgx[2 * Hd] = 0.0f;
        dgh[0] = dgh[Hd] = dgh[2 * Hd] = 0.0f;
        return;
    }
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

#endif
