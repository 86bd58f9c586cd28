/* test_rnn_padding.c: a padded batch behaves as if each sequence ran alone (pack_padded_sequence).
 *
 * For every cell, uni/bidirectional, 1 and 2 layers, a batch with lengths {T, 1, 3, T} and random
 * values everywhere in x (padding included, so stray reads of padding show up) is run once
 * batched. Checked against running each sequence alone with exactly its own length:
 *   - outputs at padded positions are exactly zero, and the input gradient there is exactly zero;
 *   - valid outputs, final states hn/cn (the forward state at the last real token, the reverse
 *     state at the first), dx, dh0 and dc0 agree per sequence;
 *   - the parameter gradients of the batch equal the sum of the single-sequence gradients.
 * Tolerance 1e-5 relative norm: both runs do the same float32 arithmetic per element except that
 * OpenBLAS may pick different kernels (and summation orders) for B = 1 and B = 4 products, and the
 * gradient sum adds B partial sums in another order: a few ulps (~1e-7) per value. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/rnn_harness.h"
#include "support/testutil.h"

#define TOL 1e-5
enum { T = 6, B = 4, I = 3, H = 4 };
static const int lengths[B] = {T, 1, 3, T};

typedef struct {
    float *x, *h0, *c0, *y, *hn, *cn, *dy, *dhn, *dcn, *dx, *dh0, *dc0;
} io;

static void io_alloc(io *v, size_t nx, size_t ny, size_t ns)
{
    float **p[] = {&v->x, &v->y, &v->dy, &v->dx, &v->h0, &v->c0, &v->hn, &v->cn, &v->dhn, &v->dcn, &v->dh0, &v->dc0};
    size_t n[] = {nx, ny, ny, nx, ns, ns, ns, ns, ns, ns, ns, ns};
    for (int i = 0; i < 12; i++) {
        *p[i] = malloc(n[i] * sizeof(float));
        tu_fill_nan(*p[i], n[i]);
    }
}

static void io_free(io *v)
{
    float *p[] = {v->x, v->y, v->dy, v->dx, v->h0, v->c0, v->hn, v->cn, v->dhn, v->dcn, v->dh0, v->dc0};
    for (int i = 0; i < 12; i++)
        free(p[i]);
}

static int run(rh_layer *h, io *v, const int *len, int T_, int B_)
{
    int lstm = h->rnn.cfg.cell == BATON_CELL_LSTM;
    return baton_rnn_forward(&h->be, &h->rnn, &h->acts, v->y, v->hn, lstm ? v->cn : NULL, v->x, v->h0,
                             lstm ? v->c0 : NULL, len, h->params, &h->table, T_, B_, NULL) == BATON_OK &&
           baton_rnn_backward(&h->be, &h->rnn, &h->acts, v->dx, v->dh0, lstm ? v->dc0 : NULL, h->grads, v->dy,
                              v->dhn, lstm ? v->dcn : NULL, v->x, len, h->params, &h->table, T_, B_,
                              NULL) == BATON_OK;
}

/* Copies row b of a time-major (T_, B_, D) tensor into a (len, 1, D) one, or back when `back`. */
static void pick(float *one, float *all, int b, int len, int B_, int D, int back)
{
    for (int t = 0; t < len; t++) {
        float *a = all + ((size_t)t * B_ + b) * D, *o = one + (size_t)t * D;
        memcpy(back ? a : o, back ? o : a, (size_t)D * sizeof(float));
    }
}

/* Copies row b of every (L*dirs, B_, Hd) state into a (L*dirs, 1, Hd) one, or back. */
static void pick_state(float *one, float *all, int b, int LD, int B_, int Hd, int back)
{
    for (int s = 0; s < LD; s++) {
        float *a = all + ((size_t)s * B_ + b) * Hd, *o = one + (size_t)s * Hd;
        memcpy(back ? a : o, back ? o : a, (size_t)Hd * sizeof(float));
    }
}

/* The larger of cur and |v|, with NaN as infinitely bad. */
static double worst_abs(double cur, float v)
{
    return isnan(v) ? INFINITY : fmax(cur, fabs(v));
}

static void run_case(tu_report *r, baton_cell cell, int bidir, int layers)
{
    baton_rnn_config cfg = {.cell = cell, .input_size = I, .hidden_size = H, .layers = layers, .bidirectional = bidir};
    rh_layer h;
    if (rh_layer_init(&h, "cpu", &cfg, T, B, 31)) {
        tu_check(r, "setup", INFINITY, 0);
        return;
    }
    int Hd = h.rnn.hd, LD = layers * h.rnn.dirs, lstm = cell == BATON_CELL_LSTM;
    size_t nx = (size_t)T * B * I, ny = (size_t)T * B * H, ns = rh_state_numel(&h, B), np = h.table.total;
    io all, one, got;
    io_alloc(&all, nx, ny, ns);
    io_alloc(&one, (size_t)T * I, (size_t)T * H, ns / B);
    io_alloc(&got, nx, ny, ns); /* the single-sequence results, scattered back into batch layout */
    tu_fill_uniform(all.x, nx, -1, 1, 3, 1);
    tu_fill_uniform(all.dy, ny, -1, 1, 3, 2);
    tu_fill_uniform(all.h0, ns, -1, 1, 3, 3);
    tu_fill_uniform(all.c0, ns, -1, 1, 3, 4);
    tu_fill_uniform(all.dhn, ns, -1, 1, 3, 5);
    tu_fill_uniform(all.dcn, ns, -1, 1, 3, 6);
    int ok = run(&h, &all, lengths, T, B);
    float *grads_batch = malloc(np * sizeof(float)), *grads_sum = calloc(np, sizeof(float));
    memcpy(grads_batch, h.grads, np * sizeof(float));
    for (int b = 0; b < B && ok; b++) {
        int len = lengths[b];
        pick(one.x, all.x, b, len, B, I, 0);
        pick(one.dy, all.dy, b, len, B, H, 0);
        float *st_all[] = {all.h0, all.c0, all.dhn, all.dcn}, *st_one[] = {one.h0, one.c0, one.dhn, one.dcn};
        for (int s = 0; s < 4; s++)
            pick_state(st_one[s], st_all[s], b, LD, B, Hd, 0);
        memset(h.grads, 0, np * sizeof(float));
        ok = run(&h, &one, &len, len, 1);
        for (size_t i = 0; i < np; i++)
            grads_sum[i] += h.grads[i];
        pick(one.y, got.y, b, len, B, H, 1);
        pick(one.dx, got.dx, b, len, B, I, 1);
        float *res_one[] = {one.hn, one.cn, one.dh0, one.dc0}, *res_got[] = {got.hn, got.cn, got.dh0, got.dc0};
        for (int s = 0; s < 4; s++)
            pick_state(res_one[s], res_got[s], b, LD, B, Hd, 1);
    }
    /* Padded positions: y and dx must be exactly zero in the batched run; mark them in `got`. */
    double pad_y = 0.0, pad_dx = 0.0;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            if (t < lengths[b])
                continue;
            for (int j = 0; j < H; j++) {
                float v = all.y[((size_t)t * B + b) * H + j];
                pad_y = worst_abs(pad_y, v);
                got.y[((size_t)t * B + b) * H + j] = v;
            }
            for (int k = 0; k < I; k++) {
                float v = all.dx[((size_t)t * B + b) * I + k];
                pad_dx = worst_abs(pad_dx, v);
                got.dx[((size_t)t * B + b) * I + k] = v;
            }
        }
    char label[64], name[128];
    snprintf(label, sizeof label, "%s %s L%d", baton_cell_name(cell), bidir ? "bi" : "uni", layers);
#define CHECK(what, a, b, n)                                                  \
    do {                                                                      \
        snprintf(name, sizeof name, "%s %s", label, what);                    \
        tu_check(r, name, ok ? tu_rel_err_ff(a, b, n) : INFINITY, TOL);       \
    } while (0)
    snprintf(name, sizeof name, "%s y at padding", label);
    tu_check_abs(r, name, pad_y, 0.0);
    snprintf(name, sizeof name, "%s dx at padding", label);
    tu_check_abs(r, name, pad_dx, 0.0);
    CHECK("y vs single sequences", all.y, got.y, ny);
    CHECK("hn vs single sequences", all.hn, got.hn, ns);
    CHECK("dx vs single sequences", all.dx, got.dx, nx);
    CHECK("dh0 vs single sequences", all.dh0, got.dh0, ns);
    if (lstm) {
        CHECK("cn vs single sequences", all.cn, got.cn, ns);
        CHECK("dc0 vs single sequences", all.dc0, got.dc0, ns);
    }
    CHECK("parameter gradients vs sum over sequences", grads_batch, grads_sum, np);
#undef CHECK
    free(grads_batch);
    free(grads_sum);
    io_free(&all);
    io_free(&one);
    io_free(&got);
    rh_layer_free(&h);
}

int main(void)
{
    tu_report r = {0, 0};
    baton_cell cells[] = {BATON_CELL_RNN_TANH, BATON_CELL_LSTM, BATON_CELL_GRU};
    for (int c = 0; c < 3; c++)
        for (int bidir = 0; bidir < 2; bidir++)
            for (int layers = 1; layers <= 2; layers++)
                run_case(&r, cells[c], bidir, layers);
    return tu_summary(&r, "rnn padding");
}
