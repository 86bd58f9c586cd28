/* test_seq2seq_paths.c: two ways through the model that must agree.
 *   - The training forward (all T target steps in one call; with input feeding, its own step
 *     loop) and the decoding path (T = 1 per call, state and fed h~ carried), fed the same target
 *     tokens, give the same logits at every real target position. Tolerance 1e-5 relative norm: the two
 *     paths multiply the same numbers in GEMMs of different shapes (different blockings).
 *   - A model saved to safetensors and loaded back has bit-identical parameters and gives
 *     bit-identical logits (needs a build with cJSON to load; skipped otherwise). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "baton/rng.h"
#include "baton/safetensors.h"
#include "baton/seq2seq.h"
#include "baton_config.h"
#include "testutil.h"

enum { B = 3, S = 5, T = 6, V = 11 };
static const int src_len[B] = {5, 1, 3}, tgt_len[B] = {6, 2, 4};

typedef struct {
    baton_backend be;
    baton_s2s m;
    baton_param_table t;
    float *params;
    int src[S * B], tin[T * B], tout[T * B];
    baton_s2s_batch batch;
} fixture;

static int setup(fixture *f, baton_cell cell, baton_attn_score score, int bidir, int feed)
{
    baton_s2s_config c = {.cell = cell, .src_vocab = V, .tgt_vocab = V, .emb = 8, .hidden = 8, .layers = 2,
                          .bidirectional = bidir, .score = score, .label_smoothing = 0.1f, .input_feed = feed};
    baton_param_table_init(&f->t);
    if (baton_cpu_backend_create(&f->be, 1) != BATON_OK || baton_s2s_init(&f->m, &c, &f->t) != BATON_OK ||
        baton_param_buffer_alloc(&f->be, &f->t, &f->params, "params") != BATON_OK)
        return 0;
    tu_fill_uniform(f->params, f->t.total, -0.5f, 0.5f, 5, (uint32_t)(cell * 8 + score * 2 + bidir));
    int tokens = 0;
    for (int b = 0; b < B; b++) {
        for (int s = 0; s < S; s++)
            f->src[s * B + b] = s < src_len[b] ? 4 + (int)(baton_rng_uniform(1, BATON_RNG_TEST | 7, 0, (uint64_t)(s * B + b)) * (V - 4)) : 0;
        for (int s = 0; s < T; s++) {
            int y = 4 + (int)(baton_rng_uniform(1, BATON_RNG_TEST | 8, 0, (uint64_t)(s * B + b)) * (V - 4));
            f->tin[s * B + b] = s == 0 ? 2 : s < tgt_len[b] ? f->tout[(s - 1) * B + b] : 0;
            f->tout[s * B + b] = s < tgt_len[b] ? (s + 1 == tgt_len[b] ? 3 : y) : 0;
            tokens += s < tgt_len[b];
        }
    }
    f->batch = (baton_s2s_batch){.B = B, .S = S, .T = T, .src = f->src, .src_len = src_len, .tgt_in = f->tin,
                                 .tgt_out = f->tout, .tgt_len = tgt_len, .tgt_tokens = tokens};
    return 1;
}

/* Logits (T,B,V) of the batched path into out. */
static int batched(fixture *f, const float *params, float *out)
{
    baton_arena measure = baton_arena_measuring(), arena;
    baton_s2s_acts a;
    int ok = baton_s2s_acts_carve(&a, &measure, &f->m, S, T, B) == BATON_OK &&
             baton_arena_create(&arena, &f->be, measure.used) == BATON_OK &&
             baton_s2s_acts_carve(&a, &arena, &f->m, S, T, B) == BATON_OK &&
             baton_s2s_forward(&f->be, &f->m, &a, params, &f->t, &f->batch, NULL, 0) == BATON_OK;
    if (ok)
        memcpy(out, a.logits, sizeof(float) * T * B * V);
    baton_s2s_acts_release(&a);
    baton_arena_destroy(&arena);
    return ok;
}

/* Logits of the step-by-step path, one target step per call with the state carried. */
static int stepwise(fixture *f, float *out)
{
    baton_arena measure = baton_arena_measuring(), arena;
    baton_s2s_acts a;
    int L = f->m.cfg.layers, H = f->m.cfg.hidden, ones[B] = {1, 1, 1};
    float *h = malloc(sizeof(float) * L * B * H), *c = malloc(sizeof(float) * L * B * H);
    int ok = baton_s2s_acts_carve(&a, &measure, &f->m, S, 1, B) == BATON_OK &&
             baton_arena_create(&arena, &f->be, measure.used) == BATON_OK &&
             baton_s2s_acts_carve(&a, &arena, &f->m, S, 1, B) == BATON_OK &&
             baton_s2s_encode(&f->be, &f->m, &a, f->params, &f->t, f->src, src_len, S, B, NULL) == BATON_OK;
    for (int s = 0; ok && s < T; s++) {
        ok = baton_s2s_decode(&f->be, &f->m, &a, f->params, &f->t, src_len, S, f->tin + s * B, ones, 1, B,
                              s ? h : a.dec_h0, s ? c : a.dec_c0, h, c, NULL) == BATON_OK;
        if (ok)
            memcpy(out + (size_t)s * B * V, a.logits, sizeof(float) * B * V);
    }
    baton_s2s_acts_release(&a);
    baton_arena_destroy(&arena);
    free(h);
    free(c);
    return ok;
}

/* Copies the logits of real target positions only (padding differs by design: masked vs fed). */
static size_t real_positions(const float *logits, float *dst)
{
    size_t n = 0;
    for (int s = 0; s < T; s++)
        for (int b = 0; b < B; b++)
            if (s < tgt_len[b])
                for (int v = 0; v < V; v++)
                    dst[n++] = logits[((size_t)s * B + b) * V + v];
    return n;
}

static void check_round_trip(tu_report *r, fixture *f, const char *label, const float *ref_logits)
{
#if BATON_HAVE_CJSON
    char dir[] = "/tmp/baton_paths_XXXXXX", path[64], name[160];
    float *loaded = malloc(sizeof(float) * f->t.total), *logits = malloc(sizeof(float) * T * B * V);
    tu_fill_nan(loaded, f->t.total);
    int ok = mkdtemp(dir) != NULL;
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    ok = ok && baton_safetensors_save(path, &f->t, f->params, NULL, NULL, 0) == BATON_OK &&
         baton_safetensors_load(path, &f->t, loaded) == BATON_OK;
    double differ = 0;
    for (int i = 0; ok && i < f->t.count; i++)
        differ += memcmp(loaded + f->t.items[i].offset, f->params + f->t.items[i].offset,
                         f->t.items[i].numel * sizeof(float)) != 0;
    ok = ok && batched(f, loaded, logits);
    snprintf(name, sizeof name, "%s: save/load, tensors that differ", label);
    tu_check_abs(r, name, ok ? differ : INFINITY, 0);
    snprintf(name, sizeof name, "%s: save/load, logits identical (bytes that differ)", label);
    tu_check_abs(r, name, ok ? (double)(memcmp(logits, ref_logits, sizeof(float) * T * B * V) != 0) : INFINITY, 0);
    unlink(path);
    rmdir(dir);
    free(loaded);
    free(logits);
#else
    (void)r, (void)f, (void)label, (void)ref_logits;
    printf("save/load round trip skipped: this build has no cJSON to load safetensors\n");
#endif
}

int main(void)
{
    tu_report r = {0, 0};
    baton_cell cells[] = {BATON_CELL_LSTM, BATON_CELL_GRU};
    for (int ci = 0; ci < 2; ci++)
        for (int sc = BATON_ATTN_DOT; sc <= BATON_ATTN_ADDITIVE; sc++)
            for (int bf = 0; bf < 4; bf++) {
                int bidir = bf & 1, feed = bf >> 1;
                fixture f;
                char label[96], name[160];
                snprintf(label, sizeof label, "%s %s %s%s", baton_cell_name(cells[ci]),
                         baton_attn_score_name((baton_attn_score)sc), bidir ? "bi" : "uni", feed ? " feed" : "");
                static float a[T * B * V], s[T * B * V], ra[T * B * V], rs[T * B * V];
                tu_fill_nan(s, T * B * V);
                int ok = setup(&f, cells[ci], (baton_attn_score)sc, bidir, feed) && batched(&f, f.params, a) && stepwise(&f, s);
                size_t n = real_positions(a, ra);
                real_positions(s, rs);
                snprintf(name, sizeof name, "%s: step-by-step logits vs batched", label);
                tu_check(&r, name, ok ? tu_rel_err_ff(rs, ra, n) : INFINITY, 1e-5);
                if (ok)
                    check_round_trip(&r, &f, label, a);
                if (f.params)
                    f.be.ops->free(&f.be, f.params);
                baton_param_table_free(&f.t);
            }
    return tu_summary(&r, "seq2seq paths");
}
