/* test_rnn_tiny.c: tiny cases against values computed independently of baton's code.
 *
 * 1. By hand: a one-unit LSTM, input 1, two steps (weights below). Step 1: x = 1, h = c = 0; the
 *    pre-activations are i = 0.5 + 0.25 = 0.75, f = -0.5 + 0.5 = 0, g = 0.25 - 0.25 = 0, o = 1, so
 *    g = tanh(0) = 0 and c1 = h1 = 0 exactly. Step 2: x = -2, h = 0: i = -0.75, f = 1.5, g = -0.75,
 *    o = -2, so c2 = sigmoid(-0.75) tanh(-0.75) = -0.2037693131222759 and
 *    h2 = sigmoid(-2) tanh(c2) = -0.023959201088486953 (evaluated in double).
 * 2. A straightforward double-precision re-implementation of PyTorch's equations (matrix-vector
 *    loops per sequence, no padding tricks: each sequence simply stops at its length) for each cell
 *    on a small ragged batch, compared with baton's float32 layer.
 * Tolerance: float32 evaluation of a few dozen terms per output differs from double by ~1e-7
 * relative; 1e-5 on the relative norm error leaves two orders of margin and still catches any
 * wrong gate, order or bias (errors of order 1e-1). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/rnn_harness.h"
#include "support/testutil.h"

#define TOL 1e-5

static void hand_lstm(tu_report *r)
{
    rh_layer h;
    baton_rnn_config cfg = {.cell = BATON_CELL_LSTM, .input_size = 1, .hidden_size = 1, .layers = 1};
    if (rh_layer_init(&h, "cpu", &cfg, 2, 1, 1)) {
        tu_check(r, "hand lstm setup", INFINITY, 0);
        return;
    }
    const float w_ih[4] = {0.5f, -0.5f, 0.25f, 1.0f}, w_hh[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    const float b_ih[4] = {0.0f, 0.5f, 0.0f, 0.0f}, b_hh[4] = {0.25f, 0.0f, -0.25f, 0.0f};
    const float *src[4] = {w_ih, w_hh, b_ih, b_hh};
    for (int p = 0; p < 4; p++)
        memcpy(h.params + h.table.items[p].offset, src[p], sizeof w_ih);
    float x[2] = {1.0f, -2.0f}, y[2], hn[1], cn[1];
    int len[1] = {2};
    tu_fill_nan(y, 2);
    tu_fill_nan(hn, 1);
    tu_fill_nan(cn, 1);
    baton_status st = baton_rnn_forward(&h.be, &h.rnn, &h.acts, y, hn, cn, x, NULL, NULL, len, h.params, &h.table,
                                        2, 1, NULL);
    double want_y[2] = {0.0, -0.023959201088486953}, want_c = -0.2037693131222759;
    tu_check(r, "hand lstm y", st == BATON_OK ? tu_rel_err(y, want_y, 2) : INFINITY, TOL);
    tu_check(r, "hand lstm hn", tu_rel_err(hn, &want_y[1], 1), TOL);
    tu_check(r, "hand lstm cn", tu_rel_err(cn, &want_c, 1), TOL);
    rh_layer_free(&h);
}

static double sigm(double v)
{
    return 1.0 / (1.0 + exp(-v));
}

/* Row `row` of W (rows, cols) times v, plus the bias entry. */
static double affine(const float *W, const float *b, int row, int cols, const double *v)
{
    double s = b[row];
    for (int k = 0; k < cols; k++)
        s += (double)W[row * cols + k] * v[k];
    return s;
}

/* One sequence of PyTorch's equations in double; writes outputs y (len, H) and the final h, c. */
static void reference(baton_cell cell, const float *const w[4], int I, int H, const float *x, int len, double *y,
                      double *h, double *c)
{
    double xt[16], hp[16], pre_i, pre_h;
    for (int j = 0; j < H; j++)
        h[j] = c[j] = 0.0;
    for (int t = 0; t < len; t++) {
        for (int k = 0; k < I; k++)
            xt[k] = x[t * I + k];
        memcpy(hp, h, (size_t)H * sizeof(double));
        for (int j = 0; j < H; j++) {
            if (cell == BATON_CELL_RNN_TANH) {
                h[j] = tanh(affine(w[0], w[2], j, I, xt) + affine(w[1], w[3], j, H, hp));
            } else if (cell == BATON_CELL_LSTM) {
                double g4[4];
                for (int q = 0; q < 4; q++)
                    g4[q] = affine(w[0], w[2], q * H + j, I, xt) + affine(w[1], w[3], q * H + j, H, hp);
                c[j] = sigm(g4[1]) * c[j] + sigm(g4[0]) * tanh(g4[2]);
                h[j] = sigm(g4[3]) * tanh(c[j]);
            } else {
                double rr = sigm(affine(w[0], w[2], j, I, xt) + affine(w[1], w[3], j, H, hp));
                double z = sigm(affine(w[0], w[2], H + j, I, xt) + affine(w[1], w[3], H + j, H, hp));
                pre_i = affine(w[0], w[2], 2 * H + j, I, xt);
                pre_h = affine(w[1], w[3], 2 * H + j, H, hp);
                double n = tanh(pre_i + rr * pre_h);
                h[j] = (1.0 - z) * n + z * hp[j];
            }
            y[t * H + j] = h[j];
        }
    }
}

static void double_reference(tu_report *r, baton_cell cell)
{
    enum { T = 4, B = 2, I = 3, H = 5 };
    const int len[B] = {4, 2};
    rh_layer h;
    baton_rnn_config cfg = {.cell = cell, .input_size = I, .hidden_size = H, .layers = 1};
    if (rh_layer_init(&h, "cpu", &cfg, T, B, 77)) {
        tu_check(r, "reference setup", INFINITY, 0);
        return;
    }
    float x[T * B * I], y[T * B * H], hn[B * H], cn[B * H], xb[T * I];
    tu_fill_uniform(x, T * B * I, -1, 1, 5, 1);
    tu_fill_nan(y, T * B * H);
    tu_fill_nan(hn, B * H);
    tu_fill_nan(cn, B * H);
    baton_status st = baton_rnn_forward(&h.be, &h.rnn, &h.acts, y, hn, cn, x, NULL, NULL, len, h.params, &h.table,
                                        T, B, NULL);
    const float *w[4];
    for (int p = 0; p < 4; p++)
        w[p] = h.params + h.table.items[p].offset;
    double ry[T * H], rh[H], rc[H];
    char name[96];
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < len[b]; t++)
            memcpy(xb + t * I, x + (t * B + b) * I, I * sizeof(float));
        reference(cell, w, I, H, xb, len[b], ry, rh, rc);
        float yb[T * H];
        for (int t = 0; t < len[b]; t++)
            memcpy(yb + t * H, y + (t * B + b) * H, H * sizeof(float));
        snprintf(name, sizeof name, "%s double reference, sequence %d: y", baton_cell_name(cell), b);
        tu_check(r, name, st == BATON_OK ? tu_rel_err(yb, ry, (size_t)len[b] * H) : INFINITY, TOL);
        snprintf(name, sizeof name, "%s double reference, sequence %d: hn", baton_cell_name(cell), b);
        tu_check(r, name, tu_rel_err(hn + b * H, rh, H), TOL);
        if (cell == BATON_CELL_LSTM) {
            snprintf(name, sizeof name, "%s double reference, sequence %d: cn", baton_cell_name(cell), b);
            tu_check(r, name, tu_rel_err(cn + b * H, rc, H), TOL);
        }
    }
    rh_layer_free(&h);
}

int main(void)
{
    tu_report r = {0, 0};
    hand_lstm(&r);
    double_reference(&r, BATON_CELL_RNN_TANH);
    double_reference(&r, BATON_CELL_LSTM);
    double_reference(&r, BATON_CELL_GRU);
    return tu_summary(&r, "rnn tiny");
}
