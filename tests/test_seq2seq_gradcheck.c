/* test_seq2seq_gradcheck.c: the whole model's backward against central finite differences, with
 * dropout on every site (embeddings, between layers, before the generator) and label smoothing, on
 * a ragged batch (source lengths 4, 1, 3; target lengths 5, 2, 1), for each cell, score, encoder
 * direction and decoder mode (input feeding off and on: each step's masks drawn apart). The PyTorch fixtures check the model without dropout; this checks that every mask is
 * re-applied in backward exactly as drawn in forward.
 * Measure: |num - ana| <= ATOL + RTOL |ana| per parameter element, reported as the worst ratio
 * (<= 1 passes). The loss (~2.3) is computed in float32: rounding of ~2.3 * 6e-8 per evaluation,
 * over 2e = 2e-2, is ~1e-5 in the numerical derivative, plus the truncation e^2/6 L''' (~2e-5);
 * ATOL = 1e-4 and RTOL = 1e-2 sit well above both and far below the size of the gradients a wrong
 * mask or index leaves behind (1e-3 to 1e-1). NaN fails.
 * Every case runs with each version of the generator + loss (be->versions.loss): plain, and fused
 * (src/model/generator.c, from its own carve) in chunks of 4 rows (not a divisor of T*B = 15:
 * 4+4+4+3) and of 1 row; the loss differentiated numerically is then the fused evaluation's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/rng.h"
#include "baton/seq2seq.h"
#include "testutil.h"

#define EPS 1e-2
#define ATOL 1e-4
#define RTOL 1e-2

enum { B = 3, S = 4, T = 5, V = 9 };
static const int src_len[B] = {4, 1, 3}, tgt_len[B] = {5, 2, 1};

typedef struct {
    baton_backend be;
    baton_s2s m;
    baton_param_table t;
    baton_s2s_acts acts;
    baton_arena arena;
    baton_s2s_batch batch;
    float scale; /* the batch's loss_scale (the cpu's device memory is the host's) */
    baton_dropout_key drop;
    float *params, *grads;
} model_case;

static double loss(model_case *c)
{
    if (baton_s2s_forward(&c->be, &c->m, &c->acts, c->params, &c->t, &c->batch, &c->drop, 0) != BATON_OK)
        return NAN;
    return (double)c->acts.loss[0] / c->batch.tgt_tokens;
}

static void run_case(tu_report *r, baton_cell cell, baton_attn_score score, int bidir, int feed, int chunk)
{
    static int src[S * B], tgt_in[T * B], tgt_out[T * B];
    int tokens = 0;
    /* time-major ids: random real tokens (4..V-1) inside each length, pad (0) outside */
    for (int b = 0; b < B; b++) {
        for (int s = 0; s < S; s++)
            src[s * B + b] = s < src_len[b] ? 4 + (int)(baton_rng_uniform(5, BATON_RNG_TEST | 1, 0, (uint64_t)(s * B + b)) * (V - 4)) : 0;
        for (int s = 0; s < T; s++) {
            int real = s < tgt_len[b];
            tgt_in[s * B + b] = !real ? 0 : s == 0 ? 2 : 4 + (int)(baton_rng_uniform(5, BATON_RNG_TEST | 2, 0, (uint64_t)(s * B + b)) * (V - 4));
            tgt_out[s * B + b] = !real ? 0 : s + 1 == tgt_len[b] ? 3 : 4 + (int)(baton_rng_uniform(5, BATON_RNG_TEST | 3, 0, (uint64_t)(s * B + b)) * (V - 4));
            tokens += real;
        }
    }
    model_case c;
    memset(&c, 0, sizeof c);
    baton_s2s_config cfg = {.cell = cell, .src_vocab = V, .tgt_vocab = V, .emb = 4, .hidden = 4, .layers = 2,
                            .bidirectional = bidir, .score = score, .tie_generator = score == BATON_ATTN_DOT,
                            .input_feed = feed,
                            .dropout = 0.2f, .label_smoothing = 0.1f};
    c.batch = (baton_s2s_batch){.B = B, .S = S, .T = T, .src = src, .src_len = src_len, .tgt_in = tgt_in,
                                .tgt_out = tgt_out, .tgt_len = tgt_len, .tgt_tokens = tokens,
                                .loss_scale = &c.scale};
    c.scale = 1.0f / (float)tokens;
    static const uint32_t counter = 3;
    c.drop = (baton_dropout_key){.seed = 17, .counter = &counter};
    baton_param_table_init(&c.t);
    baton_arena measure = baton_arena_measuring();
    int fused = chunk > 0; /* chunk 0: the plain loss */
    int ok = baton_cpu_backend_create(&c.be, 1) == BATON_OK && baton_s2s_init(&c.m, &cfg, &c.t) == BATON_OK &&
             baton_param_buffer_alloc(&c.be, &c.t, &c.params, "parameters") == BATON_OK &&
             baton_param_buffer_alloc(&c.be, &c.t, &c.grads, "gradients") == BATON_OK &&
             baton_s2s_acts_carve_ex(&c.acts, &measure, &c.m, S, T, B, fused) == BATON_OK &&
             baton_arena_create(&c.arena, &c.be, measure.used) == BATON_OK &&
             baton_s2s_acts_carve_ex(&c.acts, &c.arena, &c.m, S, T, B, fused) == BATON_OK;
    c.be.versions.loss = fused;
    if (ok && fused)
        c.acts.chunk_rows = chunk;
    char label[96], name[256], loss_name[32] = "plain loss";
    if (fused)
        snprintf(loss_name, sizeof loss_name, "fused loss R=%d", chunk);
    snprintf(label, sizeof label, "%s %s %s%s, %s", baton_cell_name(cell), baton_attn_score_name(score),
             bidir ? "bi" : "uni", feed ? " feed" : "", loss_name);
    if (ok) {
        /* larger-than-default weights, so that every path carries gradient well above the noise */
        tu_fill_uniform(c.params, c.t.total, -0.5f, 0.5f, 9, 1);
        ok = baton_s2s_forward(&c.be, &c.m, &c.acts, c.params, &c.t, &c.batch, &c.drop, 1) == BATON_OK &&
             baton_s2s_backward(&c.be, &c.m, &c.acts, c.grads, c.params, &c.t, &c.batch, &c.drop) == BATON_OK;
    }
    for (int p = 0; ok && p < c.t.count; p++) {
        const baton_param *prm = &c.t.items[p];
        double worst = 0.0;
        for (size_t i = 0; i < prm->numel; i++) {
            float *v = c.params + prm->offset + i, save = *v;
            *v = save + (float)EPS;
            double hi = *v, lp = loss(&c);
            *v = save - (float)EPS;
            double lo = *v, lm = loss(&c);
            *v = save;
            double num = (lp - lm) / (hi - lo), ana = c.grads[prm->offset + i];
            double ratio = fabs(num - ana) / (ATOL + RTOL * fabs(ana));
            if (!(ratio <= worst))
                worst = ratio;
        }
        snprintf(name, sizeof name, "%s d%s (worst err/tol)", label, prm->name);
        tu_check(r, name, worst, 1.0);
    }
    if (!ok) {
        snprintf(name, sizeof name, "%s (setup or run failed)", label);
        tu_check(r, name, INFINITY, 1.0);
    }
    baton_s2s_acts_release(&c.acts);
    baton_arena_destroy(&c.arena);
    if (c.params)
        c.be.ops->free(&c.be, c.params);
    if (c.grads)
        c.be.ops->free(&c.be, c.grads);
    baton_param_table_free(&c.t);
    baton_backend_destroy(&c.be);
}

int main(void)
{
    tu_report r = {0, 0};
    baton_cell cells[] = {BATON_CELL_LSTM, BATON_CELL_GRU};
    for (int ci = 0; ci < 2; ci++)
        for (int s = BATON_ATTN_DOT; s <= BATON_ATTN_ADDITIVE; s++)
            for (int bidir = 0; bidir < 2; bidir++)
                for (int feed = 0; feed < 2; feed++)
                    for (int chunk = 0; chunk <= 4; chunk += chunk ? 3 : 1) /* plain, fused R = 1, R = 4 */
                        run_case(&r, cells[ci], (baton_attn_score)s, bidir, feed, chunk);
    return tu_summary(&r, "seq2seq gradcheck");
}
