/* seq2seq.c: the translator's graph (seq2seq.h), written once against the ops table.
 * Input feeding off: every layer runs over whole sequences and the attention of all target steps
 * is three batched ops, so a step is a few dozen large launches whatever T is. */
#include "baton/seq2seq.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "baton/rng.h"
#include "seq2seq_internal.h"

static baton_status add2(baton_param_table *t, int *index, const char *name, int64_t rows, int64_t cols)
{
    int64_t shape[2] = {rows, cols};
    return baton_param_add(t, index, name, cols ? 2 : 1, shape);
}

baton_status baton_s2s_init(baton_s2s *m, const baton_s2s_config *cfg, baton_param_table *t)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    BATON_REQUIRE(cfg->src_vocab > 4 && cfg->tgt_vocab > 4,
                  "vocabularies of %d (source) and %d (target) entries, expected more than the 4 special ids",
                  cfg->src_vocab, cfg->tgt_vocab);
    BATON_REQUIRE(cfg->emb > 0 && cfg->hidden > 0, "embedding %d and hidden %d, expected > 0", cfg->emb, cfg->hidden);
    BATON_REQUIRE(!cfg->tie_generator || cfg->emb == cfg->hidden,
                  "tied generator: embedding size %d must equal hidden size %d", cfg->emb, cfg->hidden);
    BATON_REQUIRE(cfg->label_smoothing >= 0.0f && cfg->label_smoothing < 1.0f,
                  "label smoothing %g, expected 0 <= eps < 1", (double)cfg->label_smoothing);
    baton_rnn_config enc = {.cell = cfg->cell, .input_size = cfg->emb, .hidden_size = cfg->hidden,
                            .layers = cfg->layers, .bidirectional = cfg->bidirectional, .dropout = cfg->dropout};
    baton_rnn_config dec = enc;
    dec.bidirectional = 0;
    dec.input_size = cfg->input_feed ? cfg->emb + cfg->hidden : cfg->emb; /* [E_tgt y; h~] with feeding */
    int H = cfg->hidden;
    BATON_TRY(add2(t, &m->emb_src, "encoder.embedding.weight", cfg->src_vocab, cfg->emb));
    m->enc_rnn = t->count;
    BATON_TRY(baton_rnn_init(&m->enc, &enc, t, "encoder.rnn"));
    BATON_TRY(add2(t, &m->emb_tgt, "decoder.embedding.weight", cfg->tgt_vocab, cfg->emb));
    BATON_TRY(baton_rnn_init(&m->dec, &dec, t, "decoder.rnn"));
    BATON_TRY(baton_attention_init(&m->attn, cfg->score, H, t, "decoder.attention"));
    BATON_TRY(add2(t, &m->w_c, "decoder.attention.out.weight", H, 2 * H));
    m->w_out = m->emb_tgt;
    if (!cfg->tie_generator)
        BATON_TRY(add2(t, &m->w_out, "generator.weight", cfg->tgt_vocab, H));
    return add2(t, &m->b_out, "generator.bias", cfg->tgt_vocab, 0);
}

void baton_s2s_init_weights(const baton_s2s *m, const baton_param_table *t, float *host, uint64_t seed)
{
    int H = m->cfg.hidden;
    baton_param_init_uniform(t, host, m->emb_src, 0.1f, seed);
    baton_param_init_uniform(t, host, m->emb_tgt, 0.1f, seed);
    baton_rnn_init_weights(&m->enc, t, host, seed);
    baton_rnn_init_weights(&m->dec, t, host, seed);
    baton_attention_init_weights(&m->attn, t, host, seed);
    baton_param_init_uniform(t, host, m->w_c, 1.0f / sqrtf(2.0f * (float)H), seed);
    if (m->w_out != m->emb_tgt)
        baton_param_init_uniform(t, host, m->w_out, 1.0f / sqrtf((float)H), seed);
    baton_param_init_uniform(t, host, m->b_out, 1.0f / sqrtf((float)H), seed);
}

/* Input feeding: one set of decoder and attention activations per target step (T = 1 each). The
 * host arrays exist only for a real arena; while measuring, one scratch set is carved T times. */
static baton_status carve_steps(baton_s2s_acts *acts, baton_arena *a, const baton_s2s *m, int S_max, int T_max,
                                int B_max)
{
    baton_rnn_acts scratch_rnn;
    baton_attention_acts scratch_attn;
    if (a->base) {
        acts->dec_step = calloc((size_t)T_max, sizeof *acts->dec_step);
        acts->attn_step = calloc((size_t)T_max, sizeof *acts->attn_step);
        if (!acts->dec_step || !acts->attn_step) {
            baton_s2s_acts_release(acts);
            return BATON_ERROR(BATON_ERR_OOM, "input feeding: cannot allocate %d step records", T_max);
        }
        acts->T_steps = T_max;
    }
    for (int t = 0; t < T_max; t++) {
        BATON_TRY(baton_rnn_acts_carve(a->base ? &acts->dec_step[t] : &scratch_rnn, a, &m->dec, 1, B_max));
        BATON_TRY(baton_attention_acts_carve_ex(a->base ? &acts->attn_step[t] : &scratch_attn, a, &m->attn, 1,
                                                S_max, B_max, 0)); /* keys are shared by the steps */
    }
    if (a->base) { /* step 0's attention is where a decoder (T = 1) leaves its weights, as in acts->attn */
        acts->dec = acts->dec_step[0];
        acts->attn = acts->attn_step[0];
    }
    return BATON_OK;
}

baton_status baton_s2s_acts_use_impl(baton_s2s_acts *acts, baton_backend *be, const baton_s2s *m, const char *impl,
                                     uint64_t seed, int whole_decoder)
{
    BATON_TRY(baton_rnn_acts_use_impl(&acts->enc, be, &m->enc, impl, seed));
    if (whole_decoder && !m->cfg.input_feed)
        BATON_TRY(baton_rnn_acts_use_impl(&acts->dec, be, &m->dec, impl, seed ^ 0x9e3779b97f4a7c15ull));
    return BATON_OK;
}

void baton_s2s_acts_no_grad(baton_s2s_acts *acts, int on)
{
    acts->enc.no_grad = on;
    acts->dec.no_grad = on; /* with input feeding a copy of step 0's, set below too */
    for (int t = 0; t < acts->T_steps; t++)
        acts->dec_step[t].no_grad = on;
}

void baton_s2s_acts_release(baton_s2s_acts *acts)
{
    baton_rnn_acts_release(&acts->enc);
    if (!acts->dec_step) /* with input feeding acts->dec is a copy of step 0's, which has no cuDNN state */
        baton_rnn_acts_release(&acts->dec);
    free(acts->dec_step);
    free(acts->attn_step);
    acts->dec_step = NULL;
    acts->attn_step = NULL;
    acts->T_steps = 0;
}

baton_status baton_s2s_acts_carve(baton_s2s_acts *acts, baton_arena *a, const baton_s2s *m, int S_max, int T_max,
                                  int B_max)
{
    return baton_s2s_acts_carve_ex(acts, a, m, S_max, T_max, B_max, 0);
}

baton_status baton_s2s_acts_carve_ex(baton_s2s_acts *acts, baton_arena *a, const baton_s2s *m, int S_max, int T_max,
                                     int B_max, int loss)
{
    memset(acts, 0, sizeof *acts);
    BATON_REQUIRE(loss == 0 || loss == 1, "seq2seq activations: loss version %d, expected 0 (plain) or 1 (fused)",
                  loss);
    size_t S = (size_t)S_max, T = (size_t)T_max, B = (size_t)B_max, E = (size_t)m->cfg.emb, H = (size_t)m->cfg.hidden;
    size_t V = (size_t)m->cfg.tgt_vocab, LH = (size_t)m->cfg.layers * B * H;
    int rows = T_max * B_max, chunk = baton_s2s_chunk_rows(m->cfg.tgt_vocab);
    acts->chunk_rows = chunk < rows ? chunk : rows;
    acts->logit_rows = loss ? acts->chunk_rows : rows; /* fused: one chunk of logits, never all rows */
    int lstm = m->cfg.cell == BATON_CELL_LSTM, feed = m->cfg.input_feed, additive = m->attn.score == BATON_ATTN_ADDITIVE;
    BATON_TRY(baton_rnn_acts_carve(&acts->enc, a, &m->enc, S_max, B_max));
    if (m->cfg.input_feed)
        BATON_TRY(carve_steps(acts, a, m, S_max, T_max, B_max));
    else {
        BATON_TRY(baton_rnn_acts_carve(&acts->dec, a, &m->dec, T_max, B_max));
        BATON_TRY(baton_attention_acts_carve(&acts->attn, a, &m->attn, T_max, S_max, B_max));
    }
    struct {
        float **p;
        size_t n;
        int need;
    } bufs[] = {
        {&acts->emb_src, S * B * E, 1}, {&acts->emb_tgt, T * B * E, 1}, {&acts->enc_out, S * B * H, 1},
        {&acts->enc_h, LH, 1},          {&acts->enc_c, LH, lstm},       {&acts->dec_h0, LH, 1},
        {&acts->dec_c0, LH, lstm},      {&acts->dec_out, T * B * H, 1}, {&acts->ctx, T * B * H, 1},
        {&acts->cat, T * B * 2 * H, 1}, {&acts->att_h, T * B * H, 1},   {&acts->att_hd, T * B * H, m->cfg.dropout > 0},
        {&acts->logits, (size_t)acts->logit_rows * V, 1}, {&acts->loss, 1, 1}, {&acts->logp, T * B, 1},
        {&acts->row_loss, T * B, 1},    {&acts->chunk_loss, T * B, 1},
        {&acts->d_th, T * B * H, 1},    {&acts->d_cat, T * B * 2 * H, 1}, {&acts->d_ctx, T * B * H, 1},
        {&acts->d_dec, T * B * H, 1},   {&acts->d_enc, S * B * H, 1},   {&acts->d_dec_h0, LH, 1},
        {&acts->d_dec_c0, LH, lstm},    {&acts->d_enc_h, LH, 1},        {&acts->d_enc_c, LH, lstm},
        {&acts->d_emb_src, S * B * E, 1}, {&acts->d_emb_tgt, T * B * E, 1},
        {&acts->dec_in, T * B * (E + H), feed}, {&acts->d_in, B * (E + H), feed}, {&acts->feed0, B * H, feed},
        {&acts->d_feed, B * H, feed},   {&acts->d_enc_step, S * B * H, feed}, {&acts->state_h, LH, feed},
        {&acts->state_c, LH, feed && lstm}, {&acts->d_state_h, LH, feed}, {&acts->d_state_c, LH, feed && lstm},
        {&acts->feed_keys, S * B * H, feed && additive}, {&acts->feed_dkeys, S * B * H, feed && additive},
        {&acts->feed_dk, S * B * H, feed && additive},
    };
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        if (bufs[i].need)
            BATON_TRY(baton_arena_floats(a, bufs[i].p, bufs[i].n, "seq2seq activations"));
    for (int t = 0; a->base && feed && additive && t < acts->T_steps; t++) {
        acts->attn_step[t].shared_keys = acts->feed_keys;
        acts->attn_step[t].shared_dkeys = acts->feed_dkeys;
        acts->attn_step[t].dkeys = acts->feed_dk;
    }
    if (a->base && feed && additive)
        acts->attn = acts->attn_step[0];
    /* bf16: the cross-entropy writes dlogits' bf16 copy beside it (a kept mirror), so the generator's
     * two backward GEMMs read it with no conversion pass. The only GEMMs that read acts->logits are
     * those two, after the cross-entropy; the fp32 logits that the generator's GEMM and bias write
     * before it are read by nothing in bf16. Nothing to do on the cpu or in fp32. */
    return a->base ? baton_backend_bf16_mirror(a->be, acts->logits, (size_t)acts->logit_rows * V, 1) : BATON_OK;
}

/* Decoder layer l starts from encoder layer l's final state; a bidirectional encoder's two halves
 * are concatenated, forward first. `back` moves gradients the other way. */
static baton_status bridge(baton_backend *be, const baton_s2s *m, float *dec, float *enc, int B, int back)
{
    int H = m->cfg.hidden, L = m->cfg.layers;
    if (!m->cfg.bidirectional)
        return back ? be->ops->copy(be, enc, dec, (size_t)L * B * H * sizeof(float))
                    : be->ops->copy(be, dec, enc, (size_t)L * B * H * sizeof(float));
    int Hd = H / 2;
    for (int l = 0; l < L; l++)
        for (int d = 0; d < 2; d++) {
            float *dst = dec + (size_t)l * B * H + (size_t)d * Hd, *src = enc + (size_t)(2 * l + d) * B * Hd;
            BATON_TRY(back ? be->ops->copy2d(be, src, Hd, dst, H, B, Hd) : be->ops->copy2d(be, dst, H, src, Hd, B, Hd));
        }
    return BATON_OK;
}

/* A recurrent stack over token ids (T,B): its layer-0 input projections gathered from table (V rows
 * per direction) where the decoder fixed its weights and there is no dropout, else the embeddings
 * `emb` of the ids into emb_buf (T,B,E), dropped out at site_emb, through baton_rnn_forward. */
static baton_status rnn_over_ids(baton_backend *be, const baton_s2s *m, const baton_rnn *rnn, baton_rnn_acts *ra,
                                 float *y, float *hn, float *cn, const int *ids, const float *table, int V, int emb,
                                 float *emb_buf, const float *h0, const float *c0, const int *lengths,
                                 const float *params, const baton_param_table *t, int T, int B,
                                 const baton_dropout_key *drop, int site_emb, int site_rnn)
{
    if (table && !drop && baton_rnn_gathers(ra))
        return baton_rnn_forward_gathered(be, rnn, ra, y, hn, cn, ids, table, V, h0, c0, lengths, params, t, T, B);
    size_t n = (size_t)T * B * m->cfg.emb;
    BATON_TRY(be->ops->embed_gather(be, emb_buf, ids, W(params, t, emb), T * B, m->cfg.emb));
    if (dropping(m, drop))
        BATON_TRY(site_dropout(be, m, drop, site_emb, emb_buf, emb_buf, n));
    baton_dropout_key k = drop ? site_key(drop, site_rnn) : (baton_dropout_key){0, 0, 0};
    return baton_rnn_forward(be, rnn, ra, y, hn, cn, emb_buf, h0, c0, lengths, params, t, T, B, drop ? &k : NULL);
}

baton_status baton_s2s_encode(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts, const float *params,
                              const baton_param_table *t, const int *src, const int *src_len, int S, int B,
                              const baton_dropout_key *drop)
{
    int lstm = m->cfg.cell == BATON_CELL_LSTM;
    BATON_TRY(rnn_over_ids(be, m, &m->enc, &acts->enc, acts->enc_out, acts->enc_h, lstm ? acts->enc_c : NULL, src,
                           acts->enc_table, m->cfg.src_vocab, m->emb_src, acts->emb_src, NULL, NULL, src_len, params,
                           t, S, B, drop, SITE_EMB_SRC, SITE_ENC_RNN));
    BATON_TRY(bridge(be, m, acts->dec_h0, acts->enc_h, B, 0));
    if (m->cfg.input_feed) { /* h~_0 = 0 for a step-by-step decoder, whose steps share the keys */
        BATON_TRY(be->ops->zero(be, acts->feed0, (size_t)B * m->cfg.hidden * sizeof(float)));
        BATON_TRY(baton_attention_keys(be, &m->attn, acts->feed_keys, acts->enc_out, params, t, S, B));
    }
    return lstm ? bridge(be, m, acts->dec_c0, acts->enc_c, B, 0) : BATON_OK;
}

/* Input feeding off: the decoder over all T steps up to h~ (acts->att_h, and acts->att_hd with
 * dropout): everything of baton_s2s_decode but the generator. */
static baton_status decode_hidden(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts, const float *params,
                                  const baton_param_table *t, const int *src_len, int S, const int *tgt_in,
                                  const int *tgt_len, int T, int B, const float *h0, const float *c0, float *hn,
                                  float *cn, const baton_dropout_key *drop)
{
    int H = m->cfg.hidden, lstm = m->cfg.cell == BATON_CELL_LSTM, dr = dropping(m, drop);
    BATON_TRY(rnn_over_ids(be, m, &m->dec, &acts->dec, acts->dec_out, hn, lstm ? cn : NULL, tgt_in, acts->in_table,
                           m->cfg.tgt_vocab, m->emb_tgt, acts->emb_tgt, h0, lstm ? c0 : NULL, tgt_len, params, t, T,
                           B, drop, SITE_EMB_TGT, SITE_DEC_RNN));
    BATON_TRY(baton_s2s_attend(be, m, &acts->attn, acts->att_h, acts->ctx, acts->cat, acts->dec_out, acts->enc_out,
                               src_len, params, t, T, S, B));
    return dr ? site_dropout(be, m, drop, SITE_ATT_H, acts->att_hd, acts->att_h, (size_t)T * B * H) : BATON_OK;
}

baton_status baton_s2s_attend(baton_backend *be, const baton_s2s *m, baton_attention_acts *attn, float *att_h,
                              float *ctx, float *cat, const float *dec, const float *mem, const int *src_len,
                              const float *params, const baton_param_table *t, int T, int S, int B)
{
    const baton_ops *ops = be->ops;
    int H = m->cfg.hidden, TB = T * B;
    if (attn->values) {
        BATON_TRY(baton_attention_forward(be, &m->attn, attn, att_h, dec, mem, src_len, params, t, T, S, B));
        BATON_TRY(ops->gemm(be, 0, 1, TB, H, H, 1.0f, dec, H, W(params, t, m->w_c) + H, 2 * H, 1.0f, att_h, H));
    } else {
        BATON_TRY(baton_attention_forward(be, &m->attn, attn, ctx, dec, mem, src_len, params, t, T, S, B));
        BATON_TRY(ops->copy2d(be, cat, 2 * H, ctx, H, TB, H)); /* context first, as design.md */
        BATON_TRY(ops->copy2d(be, cat + H, 2 * H, dec, H, TB, H));
        BATON_TRY(ops->gemm(be, 0, 1, TB, H, 2 * H, 1.0f, cat, 2 * H, W(params, t, m->w_c), 2 * H, 0.0f, att_h, H));
    }
    return ops->tanh_forward(be, att_h, att_h, (size_t)TB * H);
}

baton_status baton_s2s_project_memory(baton_backend *be, const baton_s2s *m, float *keys, float *values,
                                      const float *mem, const float *params, const baton_param_table *t, int rows)
{
    int H = m->cfg.hidden;
    BATON_REQUIRE(m->cfg.score != BATON_ATTN_ADDITIVE, "projected memory: dot or general scores only");
    if (m->cfg.score == BATON_ATTN_GENERAL)
        BATON_TRY(be->ops->gemm(be, 0, 1, rows, H, H, 1.0f, mem, H, W(params, t, m->attn.w_a), H, 0.0f, keys, H));
    return be->ops->gemm(be, 0, 1, rows, H, H, 1.0f, mem, H, W(params, t, m->w_c), 2 * H, 0.0f, values, H);
}

size_t baton_s2s_input_table_size(const baton_s2s *m, int encoder)
{
    const baton_rnn *r = encoder ? &m->enc : &m->dec;
    if (!encoder && m->cfg.input_feed)
        return 0;
    return (size_t)r->dirs * (encoder ? m->cfg.src_vocab : m->cfg.tgt_vocab) * r->gates * r->hd;
}

baton_status baton_s2s_input_table(baton_backend *be, const baton_s2s *m, int encoder, float *table,
                                   const float *params, const baton_param_table *t)
{
    BATON_REQUIRE(baton_s2s_input_table_size(m, encoder) > 0, "decoder input table: none with input feeding");
    const baton_rnn *r = encoder ? &m->enc : &m->dec;
    int V = encoder ? m->cfg.src_vocab : m->cfg.tgt_vocab, E = m->cfg.emb, GH = r->gates * r->hd;
    const float *emb = W(params, t, encoder ? m->emb_src : m->emb_tgt);
    for (int d = 0; d < r->dirs; d++)
        BATON_TRY(be->ops->gemm(be, 0, 1, V, GH, E, 1.0f, emb, E, W(params, t, r->w_ih[0][d]), E, 0.0f,
                                table + (size_t)d * V * GH, GH));
    return BATON_OK;
}

void baton_s2s_acts_group_rows(baton_s2s_acts *acts, const int *groups, int n, const float *values)
{
    acts->attn.groups = groups, acts->attn.n_groups = n, acts->attn.values = values;
    if (acts->T_steps > 0) /* input feeding: a decode step runs as step 0 */
        acts->attn_step[0].groups = groups, acts->attn_step[0].n_groups = n, acts->attn_step[0].values = values;
}

baton_status baton_s2s_decode(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts, const float *params,
                              const baton_param_table *t, const int *src_len, int S, const int *tgt_in,
                              const int *tgt_len, int T, int B, const float *h0, const float *c0, float *hn,
                              float *cn, const baton_dropout_key *drop)
{
    if (m->cfg.input_feed) {
        BATON_REQUIRE(T == 1 && !drop, "input feeding: decoding runs one step at a time without dropout (T = %d)", T);
        BATON_TRY(baton_s2s_feed_decode_step(be, m, acts, params, t, tgt_in, src_len, tgt_len, S, B, h0, c0, hn, cn));
        return baton_s2s_generator(be, m, acts, params, t, acts->att_h, B);
    }
    BATON_TRY(decode_hidden(be, m, acts, params, t, src_len, S, tgt_in, tgt_len, T, B, h0, c0, hn, cn, drop));
    return baton_s2s_generator(be, m, acts, params, t, dropping(m, drop) ? acts->att_hd : acts->att_h, T * B);
}

baton_status baton_s2s_decode_argmax(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts, const float *params,
                                     const baton_param_table *t, const int *src_len, int S, const int *tgt_in,
                                     const int *tgt_len, int B, const float *h0, const float *c0, float *hn,
                                     float *cn, const float *mask, int *ids)
{
    if (m->cfg.input_feed)
        BATON_TRY(baton_s2s_feed_decode_step(be, m, acts, params, t, tgt_in, src_len, tgt_len, S, B, h0, c0, hn, cn));
    else
        BATON_TRY(decode_hidden(be, m, acts, params, t, src_len, S, tgt_in, tgt_len, 1, B, h0, c0, hn, cn, NULL));
    return baton_s2s_generator_argmax(be, m, acts, params, t, acts->att_h, mask, ids, B);
}

baton_status baton_s2s_forward(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts, const float *params,
                               const baton_param_table *t, const baton_s2s_batch *batch,
                               const baton_dropout_key *drop, int want_grad)
{
    int T = batch->T, B = batch->B;
    BATON_REQUIRE(batch->tgt_tokens > 0, "seq2seq batch: no target tokens");
    BATON_TRY(baton_s2s_encode(be, m, acts, params, t, batch->src, batch->src_len, batch->S, B, drop));
    BATON_TRY(m->cfg.input_feed
                  ? baton_s2s_feed_forward(be, m, acts, params, t, batch, drop)
                  : decode_hidden(be, m, acts, params, t, batch->src_len, batch->S, batch->tgt_in, batch->tgt_len, T,
                                  B, acts->dec_h0, acts->dec_c0, NULL, NULL, drop));
    const float *hd = dropping(m, drop) ? acts->att_hd : acts->att_h;
    if (be->versions.loss == 1) /* with want_grad the generator and the loss run in backward */
        return want_grad ? BATON_OK : baton_s2s_loss_fused(be, m, acts, NULL, params, t, batch, hd);
    BATON_TRY(baton_s2s_generator(be, m, acts, params, t, hd, T * B));
    return be->ops->xent_forward_backward(be, acts->loss, acts->logp, want_grad ? acts->logits : NULL, acts->row_loss,
                                          acts->logits, batch->tgt_out, T * B, m->cfg.tgt_vocab,
                                          m->cfg.label_smoothing, batch->loss_scale);
}

/* Input feeding off: the decoder's backward for all target steps at once, from acts->d_th
 * (gradient of h~ after dropout) to d_dec_h0/d_dec_c0, d_enc and the target embeddings. */
static baton_status decoder_backward(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts, float *grads,
                                     const float *params, const baton_param_table *t, const baton_s2s_batch *batch,
                                     const baton_dropout_key *drop)
{
    const baton_ops *ops = be->ops;
    int S = batch->S, T = batch->T, B = batch->B, E = m->cfg.emb, H = m->cfg.hidden;
    int TB = T * B, lstm = m->cfg.cell == BATON_CELL_LSTM, dr = dropping(m, drop);
    baton_dropout_key kdec = drop ? site_key(drop, SITE_DEC_RNN) : (baton_dropout_key){0, 0, 0};
    if (dr)
        BATON_TRY(site_dropout(be, m, drop, SITE_ATT_H, acts->d_th, acts->d_th, (size_t)TB * H));
    BATON_TRY(ops->tanh_backward(be, acts->d_th, acts->d_th, acts->att_h, (size_t)TB * H));
    BATON_TRY(ops->gemm(be, 1, 0, H, 2 * H, TB, 1.0f, acts->d_th, H, acts->cat, 2 * H, 1.0f,
                        dW(grads, t, m->w_c), 2 * H));
    BATON_TRY(ops->gemm(be, 0, 0, TB, 2 * H, H, 1.0f, acts->d_th, H, W(params, t, m->w_c), 2 * H, 0.0f,
                        acts->d_cat, 2 * H));
    BATON_TRY(ops->copy2d(be, acts->d_ctx, H, acts->d_cat, 2 * H, TB, H));
    BATON_TRY(ops->copy2d(be, acts->d_dec, H, acts->d_cat + H, 2 * H, TB, H));
    BATON_TRY(baton_attention_backward(be, &m->attn, &acts->attn, acts->d_dec, acts->d_enc, grads, acts->d_ctx,
                                       acts->dec_out, acts->enc_out, params, t, T, S, B));
    BATON_TRY(baton_rnn_backward(be, &m->dec, &acts->dec, acts->d_emb_tgt, acts->d_dec_h0,
                                 lstm ? acts->d_dec_c0 : NULL, grads, acts->d_dec, NULL, NULL, acts->emb_tgt,
                                 batch->tgt_len, params, t, T, B, drop ? &kdec : NULL));
    if (dr)
        BATON_TRY(site_dropout(be, m, drop, SITE_EMB_TGT, acts->d_emb_tgt, acts->d_emb_tgt, (size_t)TB * E));
    return ops->embed_scatter_add(be, dW(grads, t, m->emb_tgt), batch->tgt_in, acts->d_emb_tgt, TB, E);
}

/* Tells the hook that the gradients from tensor `index` to the end of the table are final. */
static baton_status grads_final(const baton_s2s_acts *acts, const baton_param_table *t, int index)
{
    const baton_grad_hook *h = &acts->grad_hook;
    return h->ready ? h->ready(h->ctx, t->items[index].offset) : BATON_OK;
}

baton_status baton_s2s_backward_none(const baton_s2s *m, baton_s2s_acts *acts, const baton_param_table *t)
{
    BATON_TRY(grads_final(acts, t, m->w_out == m->emb_tgt ? m->b_out : m->w_out));
    BATON_TRY(grads_final(acts, t, m->emb_tgt));
    BATON_TRY(grads_final(acts, t, m->enc_rnn));
    return grads_final(acts, t, m->emb_src);
}

baton_status baton_s2s_backward(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts, float *grads,
                                const float *params, const baton_param_table *t, const baton_s2s_batch *batch,
                                const baton_dropout_key *drop)
{
    const baton_ops *ops = be->ops;
    int S = batch->S, T = batch->T, B = batch->B, E = m->cfg.emb, H = m->cfg.hidden, V = m->cfg.tgt_vocab;
    int TB = T * B, lstm = m->cfg.cell == BATON_CELL_LSTM, dr = dropping(m, drop);
    baton_dropout_key kenc = drop ? site_key(drop, SITE_ENC_RNN) : (baton_dropout_key){0, 0, 0};
    const float *dlogits = acts->logits, *hd = dr ? acts->att_hd : acts->att_h;

    if (be->versions.loss == 1) /* fused: the generator, the loss and their gradients, chunk by chunk */
        BATON_TRY(baton_s2s_loss_fused(be, m, acts, grads, params, t, batch, hd));
    else { /* plain: from the dlogits of all T*B rows that forward left in acts->logits */
        BATON_TRY(ops->colsum_add(be, dW(grads, t, m->b_out), NULL, dlogits, TB, V));
        BATON_TRY(ops->gemm(be, 1, 0, V, H, TB, 1.0f, dlogits, V, hd, H, 1.0f, dW(grads, t, m->w_out), H));
        BATON_TRY(ops->gemm(be, 0, 0, TB, H, V, 1.0f, dlogits, V, W(params, t, m->w_out), H, 0.0f, acts->d_th, H));
    }
    /* tied, the output layer's weight is the target embedding, which the decoder still adds to */
    BATON_TRY(grads_final(acts, t, m->w_out == m->emb_tgt ? m->b_out : m->w_out));
    BATON_TRY(m->cfg.input_feed ? baton_s2s_feed_backward(be, m, acts, grads, params, t, batch, drop)
                                : decoder_backward(be, m, acts, grads, params, t, batch, drop));
    BATON_TRY(grads_final(acts, t, m->emb_tgt));

    BATON_TRY(bridge(be, m, acts->d_dec_h0, acts->d_enc_h, B, 1));
    if (lstm)
        BATON_TRY(bridge(be, m, acts->d_dec_c0, acts->d_enc_c, B, 1));
    BATON_TRY(baton_rnn_backward(be, &m->enc, &acts->enc, acts->d_emb_src, NULL, NULL, grads, acts->d_enc,
                                 acts->d_enc_h, lstm ? acts->d_enc_c : NULL, acts->emb_src, batch->src_len, params,
                                 t, S, B, drop ? &kenc : NULL));
    BATON_TRY(grads_final(acts, t, m->enc_rnn));
    if (dr)
        BATON_TRY(site_dropout(be, m, drop, SITE_EMB_SRC, acts->d_emb_src, acts->d_emb_src, (size_t)S * B * E));
    BATON_TRY(ops->embed_scatter_add(be, dW(grads, t, m->emb_src), batch->src, acts->d_emb_src, S * B, E));
    return grads_final(acts, t, m->emb_src);
}
