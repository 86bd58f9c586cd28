/* greedy.c: batched greedy decoding (decode.h). One host round trip per step: the step's B argmax
 * ids come back so the host can see which rows have finished and stop when all have. */
#include "baton/decode.h"

#include <stdlib.h>
#include <string.h>

#include "baton/vocab.h"

baton_status baton_greedy_create(baton_greedy *g, baton_backend *be, const baton_s2s *m, int S_max, int B_max)
{
    memset(g, 0, sizeof *g);
    g->be = be;
    g->m = m;
    g->S_max = S_max;
    g->B_max = B_max;
    baton_arena measure = baton_arena_measuring();
    BATON_TRY(baton_s2s_acts_carve(&g->acts, &measure, m, S_max, 1, B_max));
    BATON_TRY(baton_arena_create(&g->arena, be, measure.used));
    BATON_TRY(baton_s2s_acts_carve(&g->acts, &g->arena, m, S_max, 1, B_max));
    size_t state = (size_t)m->cfg.layers * B_max * m->cfg.hidden * sizeof(float);
    BATON_TRY(be->ops->alloc(be, (void **)&g->h, state, "decoder state"));
    BATON_TRY(be->ops->alloc(be, (void **)&g->c, state, "decoder cell state"));
    int **ids[] = {&g->d_ids, &g->d_ones, &g->d_best};
    for (int i = 0; i < 3; i++)
        BATON_TRY(be->ops->alloc(be, (void **)ids[i], (size_t)B_max * sizeof(int), "decoder ids"));
    int V = m->cfg.tgt_vocab;
    g->ids = malloc((size_t)(B_max > V ? B_max : V) * sizeof(float));
    if (!g->ids)
        return BATON_ERROR(BATON_ERR_OOM, "decoder: cannot allocate %d ids", B_max);
    float *mask = (float *)(void *)g->ids; /* host staging of d_no_eos */
    for (int v = 0; v < V; v++)
        mask[v] = v == BATON_EOS ? -1e30f : 0.0f;
    BATON_TRY(be->ops->alloc(be, (void **)&g->d_no_eos, (size_t)V * sizeof(float), "decoder first-step mask"));
    BATON_TRY(be->ops->upload(be, g->d_no_eos, mask, (size_t)V * sizeof(float)));
    for (int b = 0; b < B_max; b++)
        g->ids[b] = 1;
    return be->ops->upload(be, g->d_ones, g->ids, (size_t)B_max * sizeof(int));
}

void baton_greedy_destroy(baton_greedy *g)
{
    if (!g->be)
        return;
    void *bufs[] = {g->h, g->c, g->d_ids, g->d_ones, g->d_best, g->d_no_eos};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        if (bufs[i])
            g->be->ops->free(g->be, bufs[i]);
    baton_s2s_acts_release(&g->acts);
    baton_arena_destroy(&g->arena);
    free(g->ids);
    memset(g, 0, sizeof *g);
}

/* Records step `step` of every unfinished row; returns how many rows are still unfinished. */
static int record(const baton_greedy *g, int B, int step, int max_len, int *out, int *out_len, int *done)
{
    int open = 0;
    for (int b = 0; b < B; b++) {
        if (done[b])
            continue;
        int id = g->ids[b];
        if (id == BATON_EOS) {
            done[b] = 1;
            out_len[b] = step;
            continue;
        }
        out[(size_t)b * max_len + step] = id;
        out_len[b] = step + 1;
        open++;
    }
    return open;
}

baton_status baton_greedy_decode(baton_greedy *g, const float *params, const baton_param_table *t, const int *src,
                                 const int *src_len, int S, int B, int max_len, int *out, int *out_len, float *attn)
{
    baton_backend *be = g->be;
    const baton_s2s *m = g->m;
    BATON_REQUIRE(B >= 1 && B <= g->B_max && S >= 1 && S <= g->S_max && max_len >= 1,
                  "greedy decoding: B=%d S=%d max_len=%d, expected 1..%d, 1..%d and >= 1", B, S, max_len, g->B_max,
                  g->S_max);
    int *done = calloc((size_t)B, sizeof *done);
    if (!done)
        return BATON_ERROR(BATON_ERR_OOM, "greedy decoding: cannot allocate %d flags", B);
    baton_status st = baton_s2s_encode(be, m, &g->acts, params, t, src, src_len, S, B, NULL);
    for (int b = 0; b < B; b++)
        g->ids[b] = BATON_BOS;
    if (st == BATON_OK)
        st = be->ops->upload(be, g->d_ids, g->ids, (size_t)B * sizeof(int));
    int open = B;
    for (int step = 0; st == BATON_OK && step < max_len && open > 0; step++) {
        const float *h0 = step ? g->h : g->acts.dec_h0, *c0 = step ? g->c : g->acts.dec_c0;
        st = baton_s2s_decode(be, m, &g->acts, params, t, src_len, S, g->d_ids, g->d_ones, 1, B, h0, c0, g->h, g->c,
                              NULL);
        if (st == BATON_OK && step == 0) /* a non-empty source gets a non-empty translation (fairseq's min_len 1) */
            st = be->ops->add_bias(be, g->acts.logits, g->d_no_eos, B, m->cfg.tgt_vocab);
        if (st == BATON_OK)
            st = be->ops->argmax_rows(be, g->d_best, g->acts.logits, B, m->cfg.tgt_vocab);
        if (st == BATON_OK)
            st = be->ops->download(be, g->ids, g->d_best, (size_t)B * sizeof(int));
        for (int b = 0; st == BATON_OK && attn && b < B; b++)
            st = be->ops->download(be, attn + ((size_t)b * max_len + step) * S, g->acts.attn.p + (size_t)b * S,
                                   (size_t)S * sizeof(float));
        if (st == BATON_OK) {
            open = record(g, B, step, max_len, out, out_len, done);
            st = be->ops->copy(be, g->d_ids, g->d_best, (size_t)B * sizeof(int));
        }
    }
    free(done);
    return st;
}
