/* test_beam.c: beam search on models with random weights (any weights will do: the checks are
 * about the search, not the translation):
 *   - beam 1 returns exactly greedy decoding's output;
 *   - every returned hypothesis's log-probability equals what the model assigns to that output
 *     under teacher forcing (baton_s2s_forward's per-token log p), which checks backtracking and
 *     the reordering of decoder states as survivors move between rows;
 *   - its score is that log-probability over GNMT's length penalty, n-best lists are sorted;
 *   - attention rows are distributions over each source's real tokens;
 *   - all of it again with the decoders' fast paths: the weights declared fixed
 *     (baton_*_fix_weights), where the decoders gather the encoder's and the decoder's input
 *     projections from per-token tables instead of multiplying, and beam search's memory projected
 *     once per batch (versions.beammem: keys W_a m, values W_c[:, :H] m). The rescoring uses
 *     neither, so a wrong table row or projection shows as a log-probability off by 1e-2.
 * Tolerance 1e-5 absolute on log-probabilities summed over <= 9 tokens (seen: 4e-7): the search
 * and the rescoring run the same float32 arithmetic on batches of different shapes (a few ulps),
 * while a wrong parent or state row changes a log-probability by 1e-2 or more. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/decode.h"
#include "baton/rng.h"
#include "baton/vocab.h"
#include "testutil.h"

enum { B = 3, S = 5, V = 12, BEAM = 4, NBEST = 3, MAXLEN = 8 };
static const int src_len[B] = {5, 2, 4};
#define ALPHA 0.6f
#define EOS_BIAS 1.2f

typedef struct {
    baton_backend be;
    baton_s2s m;
    baton_param_table t;
    float *params;
} model;

static int make_model(model *x, baton_cell cell, baton_attn_score score, int feed)
{
    baton_s2s_config c = {.cell = cell, .src_vocab = V, .tgt_vocab = V, .emb = 16, .hidden = 16, .layers = 2,
                          .bidirectional = 1, .score = score, .input_feed = feed};
    baton_param_table_init(&x->t);
    x->params = NULL;
    if (baton_cpu_backend_create(&x->be, 1) != BATON_OK || baton_s2s_init(&x->m, &c, &x->t) != BATON_OK ||
        baton_param_buffer_alloc(&x->be, &x->t, &x->params, "params") != BATON_OK)
        return 0;
    /* weights large enough that the distributions are peaked and beams diverge from greedy */
    tu_fill_uniform(x->params, x->t.total, -0.8f, 0.8f, 21, (uint32_t)cell);
    /* make </s> likely enough that hypotheses finish at different lengths, and others run to max */
    x->params[x->t.items[x->m.b_out].offset + BATON_EOS] = EOS_BIAS;
    return 1;
}

static void free_model(model *x)
{
    if (x->params)
        x->be.ops->free(&x->be, x->params);
    baton_param_table_free(&x->t);
    baton_backend_destroy(&x->be);
}

/* Sum of log p the model gives `ids` (len tokens, then </s> if finished) for source b. */
static double rescore(model *x, const int *src, int b, const int *ids, int len, int finished)
{
    int T = len + 1, one_src[S], tin[MAXLEN + 1], tout[MAXLEN + 1], sl = src_len[b], tl = T;
    for (int s = 0; s < S; s++)
        one_src[s] = src[s * B + b];
    tin[0] = BATON_BOS;
    for (int j = 0; j < len; j++)
        tin[j + 1] = tout[j] = ids[j];
    tout[len] = BATON_EOS;
    baton_s2s_acts acts;
    baton_arena measure = baton_arena_measuring(), arena;
    baton_s2s_batch batch = {.B = 1, .S = sl, .T = T, .src = one_src, .src_len = &sl, .tgt_in = tin,
                             .tgt_out = tout, .tgt_len = &tl, .tgt_tokens = T};
    if (baton_s2s_acts_carve(&acts, &measure, &x->m, S, MAXLEN + 1, 1) != BATON_OK ||
        baton_arena_create(&arena, &x->be, measure.used) != BATON_OK)
        return NAN;
    double sum = NAN;
    if (baton_s2s_acts_carve(&acts, &arena, &x->m, S, MAXLEN + 1, 1) == BATON_OK &&
        baton_s2s_forward(&x->be, &x->m, &acts, x->params, &x->t, &batch, NULL, 0) == BATON_OK) {
        sum = 0.0;
        for (int j = 0; j < len + finished; j++)
            sum += acts.logp[j];
    }
    baton_s2s_acts_release(&acts);
    baton_arena_destroy(&arena);
    return sum;
}

static void run(tu_report *r, baton_cell cell, baton_attn_score score, int feed, int fast)
{
    model x;
    char label[80], name[180];
    snprintf(label, sizeof label, "%s %s%s%s", baton_cell_name(cell), baton_attn_score_name(score),
             feed ? " input-feed" : "", fast ? " fixed weights, projected memory" : "");
    int src[S * B];
    for (int s = 0; s < S; s++)
        for (int b = 0; b < B; b++)
            src[s * B + b] = s < src_len[b] ? 4 + (int)(baton_rng_uniform(3, BATON_RNG_TEST | 9, 0, (uint64_t)(s * B + b)) * (V - 4)) : 0;
    baton_beam bm, b1;
    baton_greedy g;
    baton_hyp hyps[B * NBEST], h1[B];
    int out[B * NBEST * MAXLEN], out1[B * MAXLEN], gout[B * MAXLEN], glen[B];
    float attn[B * NBEST * MAXLEN * S];
    int ok = make_model(&x, cell, score, feed);
    /* a backend made directly starts at every part's first version; the fast runs take the packed
     * recurrence too, whose gathered input projections sit elsewhere than the per-step ops' */
    x.be.versions.decin = x.be.versions.beammem = x.be.versions.cpurnn = fast;
    ok = ok && baton_beam_create(&bm, &x.be, &x.m, S, B, BEAM, MAXLEN, 1) == BATON_OK &&
         baton_beam_create(&b1, &x.be, &x.m, S, B, 1, MAXLEN, 0) == BATON_OK &&
         baton_greedy_create(&g, &x.be, &x.m, S, B) == BATON_OK;
    snprintf(name, sizeof name, "%s: beam search projects its memory (dot and general scores only)", label);
    TU_EXPECT(r, ok && (bm.mem_values != NULL) == (fast && score != BATON_ATTN_ADDITIVE), "%s", name);
    if (ok && fast) {
        ok = baton_beam_fix_weights(&bm, x.params, &x.t) == BATON_OK &&
             baton_beam_fix_weights(&b1, x.params, &x.t) == BATON_OK &&
             baton_greedy_fix_weights(&g, x.params, &x.t) == BATON_OK;
        snprintf(name, sizeof name, "%s: the decoders made their input tables (input feeding: the encoder's only)",
                 label);
        TU_EXPECT(r, ok && (bm.fixed.in_table == NULL) == feed && (g.fixed.in_table == NULL) == feed &&
                         bm.fixed.enc_table && g.fixed.enc_table, "%s", name);
    }
    tu_fill_nan(attn, sizeof attn / sizeof *attn);
    ok = ok && baton_beam_decode(&bm, x.params, &x.t, src, src_len, src_len, S, B, ALPHA, NBEST, hyps, out, attn) == BATON_OK &&
         baton_beam_decode(&b1, x.params, &x.t, src, src_len, src_len, S, B, ALPHA, 1, h1, out1, NULL) == BATON_OK &&
         baton_greedy_decode(&g, x.params, &x.t, src, src_len, src_len, S, B, MAXLEN, gout, glen, NULL) == BATON_OK;
    double greedy_diff = ok ? 0 : INFINITY, lp_err = ok ? 0 : INFINITY, score_err = 0, attn_err = 0;
    int unsorted = 0;
    for (int b = 0; ok && b < B; b++) {
        greedy_diff += h1[b].len != glen[b];
        for (int j = 0; j < glen[b] && j < h1[b].len; j++)
            greedy_diff += out1[b * MAXLEN + j] != gout[b * MAXLEN + j];
        for (int i = 0; i < NBEST; i++) {
            const baton_hyp *h = &hyps[b * NBEST + i];
            const int *ids = out + (size_t)(b * NBEST + i) * MAXLEN;
            lp_err = fmax(lp_err, fabs(rescore(&x, src, b, ids, h->len, h->finished) - h->logprob));
            double lp = pow((5.0 + h->len + h->finished) / 6.0, ALPHA);
            score_err = fmax(score_err, fabs(h->logprob / lp - h->score));
            unsorted += i > 0 && h->score > hyps[b * NBEST + i - 1].score;
            for (int j = 0; j < h->len; j++) {
                const float *a = attn + ((size_t)(b * NBEST + i) * MAXLEN + j) * S;
                double sum = 0.0;
                for (int s = 0; s < src_len[b]; s++)
                    sum += a[s];
                attn_err = fmax(attn_err, isnan(sum) ? INFINITY : fabs(sum - 1.0));
            }
        }
    }
    int finished = 0, differs = 0;
    for (int i = 0; ok && i < B * NBEST; i++)
        finished += hyps[i].finished;
    for (int b = 0; ok && b < B; b++)
        differs += hyps[b * NBEST].len != glen[b] || memcmp(out + (size_t)b * NBEST * MAXLEN, gout + b * MAXLEN,
                                                            (size_t)glen[b] * sizeof(int)) != 0;
    printf("%s: %d of %d hypotheses ended with </s>; beam's best differs from greedy for %d of %d sources\n", label,
           finished, B * NBEST, differs, B);
    snprintf(name, sizeof name, "%s: beam 1 == greedy (differing tokens)", label);
    tu_check_abs(r, name, greedy_diff, 0);
    snprintf(name, sizeof name, "%s: hypothesis log-prob vs teacher-forced rescoring", label);
    tu_check_abs(r, name, lp_err, 1e-5);
    snprintf(name, sizeof name, "%s: score = logprob / GNMT length penalty", label);
    tu_check_abs(r, name, score_err, 1e-5);
    snprintf(name, sizeof name, "%s: n-best lists out of order", label);
    tu_check_abs(r, name, unsorted, 0);
    snprintf(name, sizeof name, "%s: attention rows sum to 1 over the source", label);
    tu_check_abs(r, name, attn_err, 1e-5);
    if (ok) {
        baton_beam_destroy(&bm);
        baton_beam_destroy(&b1);
        baton_greedy_destroy(&g);
    }
    free_model(&x);
}

int main(void)
{
    tu_report r = {0, 0};
    for (int fast = 0; fast <= 1; fast++) {
        run(&r, BATON_CELL_LSTM, BATON_ATTN_ADDITIVE, 0, fast);
        run(&r, BATON_CELL_GRU, BATON_ATTN_GENERAL, 0, fast);
        run(&r, BATON_CELL_LSTM, BATON_ATTN_DOT, 1, fast);
        run(&r, BATON_CELL_LSTM, BATON_ATTN_GENERAL, 1, fast); /* projected memory with a fed h~ */
        run(&r, BATON_CELL_LSTM, BATON_ATTN_ADDITIVE, 1, fast); /* the shared keys follow the rows */
    }
    return tu_summary(&r, "beam");
}
