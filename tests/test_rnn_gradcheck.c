/* test_rnn_gradcheck.c: backward through time against central finite differences.
 *
 * For every cell, uni- and bidirectional, 1 and 3 layers (and 3 layers with dropout), on a ragged
 * batch whose lengths include 1 and the full T, the scalar
 *     loss = sum(y * wy) + sum(hn * whn) + sum(cn * wcn)        (random weights wy, whn, wcn)
 * is differentiated numerically with respect to every parameter element, every input element
 * (padded positions included: their gradient must be zero) and every initial-state element, and
 * compared with what baton_rnn_backward returns for dy = wy, dhn = whn, dcn = wcn.
 *
 * Error measure and tolerance. The forward runs in float32 and the loss is summed in double, so
 * the numerical derivative (L(v+e) - L(v-e)) / 2e carries (a) truncation error e^2/6 * L''' and
 * (b) rounding error of about (60 outputs x 6e-8 relative) / 2e. With e = 1e-2: (a) <= ~2e-5 |L'''|,
 * (b) ~2e-4 at the very worst, ~2e-5 typically (the roundings are not all of one sign). The check
 * is |num - ana| <= 4e-4 + 2e-3 |ana| per element, and each line prints the worst ratio of the
 * two sides (<= 1 passes; up to 0.21 is seen): five times the observed error, and far below what a
 * wrong formula gives (errors of the size of the gradient, 0.05 to 1). NaN fails the comparison. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/rng.h"
#include "support/rnn_harness.h"
#include "support/testutil.h"

#define EPS 1e-2
#define ATOL 4e-4
#define RTOL 2e-3

enum { T = 5, B = 3, I = 3 };
static const int lengths[B] = {5, 2, 1};

typedef struct {
    rh_layer h;
    float *x, *h0, *c0, *y, *hn, *cn, *wy, *whn, *wcn, *dx, *dh0, *dc0, *dy_copy;
    size_t nx, ny, ns;
    baton_dropout_key drop;
    int lstm;
} gc_case;

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

static double loss(gc_case *c)
{
    rh_layer *h = &c->h;
    if (baton_rnn_forward(&h->be, &h->rnn, &h->acts, c->y, c->hn, c->cn, c->x, c->h0, c->lstm ? c->c0 : NULL,
                          lengths, h->params, &h->table, T, B, &c->drop) != BATON_OK)
        return NAN;
    double s = dot(c->y, c->wy, c->ny) + dot(c->hn, c->whn, c->ns);
    return c->lstm ? s + dot(c->cn, c->wcn, c->ns) : s;
}

/* Checks n analytic derivatives ana[i] of the loss w.r.t. v[i] numerically; returns 1 when all pass. */
static int check_tensor(tu_report *r, gc_case *c, const char *name, float *v, const float *ana, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        float save = v[i];
        v[i] = save + (float)EPS;
        double hi = v[i], lp = loss(c);
        v[i] = save - (float)EPS;
        double lo = v[i], lm = loss(c);
        v[i] = save;
        double num = (lp - lm) / (hi - lo); /* the perturbation actually applied after rounding */
        double ratio = fabs(num - ana[i]) / (ATOL + RTOL * fabs(ana[i]));
        if (!(ratio <= worst)) /* NaN propagates as a failure */
            worst = ratio;
    }
    return tu_check(r, name, worst, 1.0);
}

static int run_case(tu_report *r, baton_cell cell, int bidir, int layers, float dropout)
{
    gc_case c;
    memset(&c, 0, sizeof c);
    baton_rnn_config cfg = {.cell = cell, .input_size = I, .hidden_size = 4, .layers = layers,
                            .bidirectional = bidir, .dropout = dropout};
    if (rh_layer_init(&c.h, "cpu", &cfg, T, B, 1234 + layers * 10 + bidir))
        return 0;
    c.lstm = cell == BATON_CELL_LSTM;
    static const uint32_t counter = 7;
    c.drop = (baton_dropout_key){.seed = 99, .purpose = BATON_RNG_DROPOUT, .counter = &counter};
    c.nx = (size_t)T * B * I;
    c.ny = (size_t)T * B * cfg.hidden_size;
    c.ns = rh_state_numel(&c.h, B);
    float **bufs[] = {&c.x, &c.y, &c.wy, &c.dx, &c.dy_copy, &c.h0, &c.c0, &c.hn, &c.cn, &c.whn, &c.wcn, &c.dh0, &c.dc0};
    size_t sizes[] = {c.nx, c.ny, c.ny, c.nx, c.ny, c.ns, c.ns, c.ns, c.ns, c.ns, c.ns, c.ns, c.ns};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        *bufs[i] = malloc(sizes[i] * sizeof(float));
    tu_fill_uniform(c.x, c.nx, -1, 1, 1, 1);
    tu_fill_uniform(c.h0, c.ns, -0.5f, 0.5f, 1, 2);
    tu_fill_uniform(c.c0, c.ns, -0.5f, 0.5f, 1, 3);
    tu_fill_uniform(c.wy, c.ny, -1, 1, 1, 4);
    tu_fill_uniform(c.whn, c.ns, -1, 1, 1, 5);
    tu_fill_uniform(c.wcn, c.ns, -1, 1, 1, 6);

    int ok = isfinite(loss(&c));
    tu_fill_nan(c.dx, c.nx);
    tu_fill_nan(c.dh0, c.ns);
    tu_fill_nan(c.dc0, c.ns);
    memcpy(c.dy_copy, c.wy, c.ny * sizeof(float)); /* backward may scale dy in place between layers */
    rh_layer *h = &c.h;
    ok = ok && baton_rnn_backward(&h->be, &h->rnn, &h->acts, c.dx, c.dh0, c.lstm ? c.dc0 : NULL, h->grads, c.dy_copy,
                                  c.whn, c.lstm ? c.wcn : NULL, c.x, lengths, h->params, &h->table, T, B,
                                  &c.drop) == BATON_OK;
    char label[160];
    snprintf(label, sizeof label, "%s %s L%d%s", baton_cell_name(cell), bidir ? "bi" : "uni", layers,
             dropout > 0 ? " dropout" : "");
    if (!ok) {
        tu_check(r, label, INFINITY, 1.0);
    } else {
        char name[320];
        for (int p = 0; p < h->table.count; p++) {
            const baton_param *prm = &h->table.items[p];
            snprintf(name, sizeof name, "%s d%s", label, prm->name);
            check_tensor(r, &c, name, h->params + prm->offset, h->grads + prm->offset, prm->numel);
        }
        snprintf(name, sizeof name, "%s dx", label);
        check_tensor(r, &c, name, c.x, c.dx, c.nx);
        snprintf(name, sizeof name, "%s dh0", label);
        check_tensor(r, &c, name, c.h0, c.dh0, c.ns);
        if (c.lstm) {
            snprintf(name, sizeof name, "%s dc0", label);
            check_tensor(r, &c, name, c.c0, c.dc0, c.ns);
        }
    }
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        free(*bufs[i]);
    rh_layer_free(&c.h);
    return ok;
}

int main(void)
{
    tu_report r = {0, 0};
    baton_cell cells[] = {BATON_CELL_RNN_TANH, BATON_CELL_LSTM, BATON_CELL_GRU};
    for (int ci = 0; ci < 3; ci++) {
        for (int bidir = 0; bidir < 2; bidir++)
            for (int layers = 1; layers <= 3; layers += 2)
                run_case(&r, cells[ci], bidir, layers, 0.0f);
        run_case(&r, cells[ci], 1, 3, 0.25f);
    }
    return tu_summary(&r, "rnn gradcheck");
}
