/* greedy.c: batched greedy decoding (decode.h). One host round trip per step: the step's argmax
 * ids come back so the host can see which rows have finished. Finished rows leave the batch (their
 * states, fed h~, memory and lengths are gathered to the live rows), so the step's GEMMs, attention
 * and generator run on the live rows only: a batch sorted by length still ends ragged. */
#include "decode_internal.h"

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
    baton_s2s_acts_no_grad(&g->acts, 1);
    int L = m->cfg.layers, H = m->cfg.hidden, G = (S_max > L ? S_max : L) + 1; /* survivors, then a map */
    size_t state = (size_t)L * B_max * H * sizeof(float);
    float **states[] = {&g->h, &g->c, &g->h2, &g->c2};
    for (int i = 0; i < 4; i++)
        BATON_TRY(be->ops->alloc(be, (void **)states[i], state, "decoder states"));
    BATON_TRY(be->ops->alloc(be, (void **)&g->mem, (size_t)S_max * B_max * H * sizeof(float), "decoder memory"));
    int **ids[] = {&g->d_ids, &g->d_ones, &g->d_best, &g->d_len};
    for (int i = 0; i < 4; i++)
        BATON_TRY(be->ops->alloc(be, (void **)ids[i], (size_t)B_max * sizeof(int), "decoder ids"));
    BATON_TRY(be->ops->alloc(be, (void **)&g->d_gather, (size_t)G * B_max * sizeof(int), "decoder row maps"));
    g->gather = malloc((size_t)G * B_max * sizeof(int));
    g->row = malloc((size_t)B_max * sizeof(int));
    g->lens = malloc((size_t)B_max * sizeof(int));
    if (!g->gather || !g->row || !g->lens)
        return BATON_ERROR(BATON_ERR_OOM, "decoder: cannot allocate row maps for %d rows", B_max);
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
    void *bufs[] = {g->h, g->c, g->h2, g->c2, g->mem, g->d_ids, g->d_ones, g->d_best, g->d_len, g->d_gather, g->d_no_eos};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        if (bufs[i])
            g->be->ops->free(g->be, bufs[i]);
    baton_decode_fixed_free(g->be, &g->fixed);
    baton_s2s_acts_release(&g->acts);
    baton_arena_destroy(&g->arena);
    free(g->ids), free(g->gather), free(g->row), free(g->lens);
    memset(g, 0, sizeof *g);
}

baton_status baton_greedy_fix_weights(baton_greedy *g, const float *params, const baton_param_table *t)
{
    return baton_decode_fix(g->be, g->m, &g->fixed, params, t);
}

/* Records step `step` of the R live rows (row r is sentence g->row[r]) and keeps the unfinished
 * ones, in order, in g->row and g->ids; returns how many that is. */
static int record(baton_greedy *g, int R, int step, int max_len, int *out, int *out_len)
{
    int open = 0;
    for (int r = 0; r < R; r++) {
        int b = g->row[r], id = g->ids[r];
        if (id == BATON_EOS) {
            out_len[b] = step;
            continue;
        }
        out[(size_t)b * max_len + step] = id;
        out_len[b] = step + 1;
        g->gather[open] = r; /* the survivors' old rows, for compact() */
        g->row[open] = b;
        g->ids[open++] = id;
    }
    return open;
}

/* Gathers (L, rows, H) state x from R rows to the nR survivors g->gather[0..nR) into spare, and
 * swaps the two. */
static baton_status gather_state(baton_greedy *g, float **x, float **spare, int R, int nR)
{
    baton_backend *be = g->be;
    int L = g->m->cfg.layers, *map = g->gather + nR;
    for (int l = 0; l < L; l++)
        for (int r = 0; r < nR; r++)
            map[l * nR + r] = l * R + g->gather[r];
    BATON_TRY(be->ops->upload(be, g->d_gather, map, (size_t)L * nR * sizeof(int)));
    BATON_TRY(be->ops->embed_gather(be, *spare, g->d_gather, *x, L * nR, g->m->cfg.hidden));
    float *t = *x;
    *x = *spare, *spare = t;
    return BATON_OK;
}

/* The live rows' memory, shared keys and lengths from their sentences' (g->row). */
static baton_status rows_memory(baton_greedy *g, const float *params, const baton_param_table *t, const int *src_len,
                                int S, int B, int R)
{
    baton_backend *be = g->be;
    for (int r = 0; r < R; r++)
        g->lens[r] = src_len[g->row[r]];
    BATON_TRY(baton_decode_rows_memory(be, g->m, &g->acts, params, t, g->gather + R, g->d_gather, g->mem, g->row, S,
                                       B, R));
    return be->ops->upload(be, g->d_len, g->lens, (size_t)R * sizeof(int));
}

/* Drops the finished rows: states, fed h~, memory and lengths of the nR survivors, whose old rows
 * are g->gather[0..nR). */
static baton_status compact(baton_greedy *g, const float *params, const baton_param_table *t, const int *src_len,
                            int S, int B, int R, int nR)
{
    baton_backend *be = g->be;
    int H = g->m->cfg.hidden;
    BATON_TRY(gather_state(g, &g->h, &g->h2, R, nR));
    if (g->m->cfg.cell == BATON_CELL_LSTM)
        BATON_TRY(gather_state(g, &g->c, &g->c2, R, nR));
    if (g->m->cfg.input_feed) { /* the fed h~: layer 0's map is the survivors' rows */
        BATON_TRY(be->ops->embed_gather(be, g->acts.d_feed, g->d_gather, g->acts.feed0, nR, H));
        BATON_TRY(be->ops->copy(be, g->acts.feed0, g->acts.d_feed, (size_t)nR * H * sizeof(float)));
    }
    return rows_memory(g, params, t, src_len, S, B, nR);
}

baton_status baton_greedy_decode(baton_greedy *g, const float *params, const baton_param_table *t, const int *src,
                                 const int *src_len, const int *src_len_host, int S, int B, int max_len, int *out,
                                 int *out_len, float *attn)
{
    baton_backend *be = g->be;
    const baton_s2s *m = g->m;
    BATON_REQUIRE(B >= 1 && B <= g->B_max && S >= 1 && S <= g->S_max && max_len >= 1,
                  "greedy decoding: B=%d S=%d max_len=%d, expected 1..%d, 1..%d and >= 1", B, S, max_len, g->B_max,
                  g->S_max);
    int H = m->cfg.hidden, L = m->cfg.layers, R = B;
    baton_decode_use_fixed(&g->acts, &g->fixed, params);
    BATON_TRY(baton_s2s_encode(be, m, &g->acts, params, t, src, src_len, S, B, NULL));
    BATON_TRY(be->ops->copy(be, g->mem, g->acts.enc_out, (size_t)S * B * H * sizeof(float)));
    BATON_TRY(be->ops->copy(be, g->h, g->acts.dec_h0, (size_t)L * B * H * sizeof(float)));
    if (m->cfg.cell == BATON_CELL_LSTM)
        BATON_TRY(be->ops->copy(be, g->c, g->acts.dec_c0, (size_t)L * B * H * sizeof(float)));
    for (int b = 0; b < B; b++)
        g->ids[b] = BATON_BOS, g->row[b] = b, out_len[b] = 0;
    BATON_TRY(be->ops->copy(be, g->d_len, src_len, (size_t)B * sizeof(int)));
    for (int step = 0; step < max_len && R > 0; step++) {
        BATON_TRY(be->ops->upload(be, g->d_ids, g->ids, (size_t)R * sizeof(int)));
        /* a non-empty source gets a non-empty translation (fairseq's min_len 1): no </s> at step 0 */
        BATON_TRY(baton_s2s_decode_argmax(be, m, &g->acts, params, t, g->d_len, S, g->d_ids, g->d_ones, R, g->h, g->c,
                                          g->h, g->c, step ? NULL : g->d_no_eos, g->d_best));
        BATON_TRY(be->ops->download(be, g->ids, g->d_best, (size_t)R * sizeof(int)));
        for (int r = 0; attn && r < R; r++)
            BATON_TRY(be->ops->download(be, attn + ((size_t)g->row[r] * max_len + step) * S,
                                        g->acts.attn.p + (size_t)r * S, (size_t)S * sizeof(float)));
        int nR = record(g, R, step, max_len, out, out_len);
        if (nR > 0 && nR < R)
            BATON_TRY(compact(g, params, t, src_len_host, S, B, R, nR));
        R = nR;
    }
    return BATON_OK;
}
