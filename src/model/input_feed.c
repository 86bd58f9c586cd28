/* input_feed.c: the decoder with input feeding (Luong et al. 2015): layer 1's input at step t is
 * [E_tgt y_{t-1}; h~_{t-1}] with h~_0 = 0, so the decoder runs one step at a time through the
 * recurrent stack, the attention and the attentional hidden. Every step keeps its own activations
 * (acts->dec_step[t], acts->attn_step[t]) so that backward can walk the steps in reverse, carrying
 * the recurrent state's gradient and h~'s gradient from each step to the one before. The fed h~ is
 * the one after dropout, as OpenNMT feeds it. The generator and the loss still run over all steps
 * at once, after the step loop (seq2seq.c, generator.c). Each step draws its dropout masks from its own stream of the seed, so that
 * steps do not share masks. */
#include <string.h>

#include "seq2seq_internal.h"

/* The dropout key of step t: the seed's stream t + 1 (the high bits key Philox independently). */
static baton_dropout_key step_key(const baton_dropout_key *drop, int t)
{
    baton_dropout_key k = *drop;
    k.seed ^= (uint64_t)(t + 1) << 40;
    return k;
}

/* One step: input [emb_t; feed], the recurrent stack from the state, attention, h~ (and dropout). */
static baton_status step_forward(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts, const float *params,
                                 const baton_param_table *t, const baton_s2s_batch *batch,
                                 const baton_dropout_key *ks, int step)
{
    const baton_ops *ops = be->ops;
    int S = batch->S, B = batch->B, E = m->cfg.emb, H = m->cfg.hidden, EH = E + H;
    int lstm = m->cfg.cell == BATON_CELL_LSTM;
    size_t at = (size_t)step * B * H;
    float *in = acts->dec_in + (size_t)step * B * EH, *hd = ks ? acts->att_hd : acts->att_h;
    baton_dropout_key kdec = ks ? site_key(ks, SITE_DEC_RNN) : (baton_dropout_key){0, 0, 0};
    BATON_TRY(ops->copy2d(be, in, EH, acts->emb_tgt + (size_t)step * B * E, E, B, E));
    BATON_TRY(ops->copy2d(be, in + E, EH, step ? hd + at - (size_t)B * H : acts->feed0, H, B, H));
    /* every row is valid at its own single step: padding only follows a sequence's last token */
    BATON_TRY(baton_rnn_forward(be, &m->dec, &acts->dec_step[step], acts->dec_out + at, acts->state_h,
                                lstm ? acts->state_c : NULL, in, acts->state_h, lstm ? acts->state_c : NULL,
                                batch->tgt_len, params, t, 1, B, ks ? &kdec : NULL));
    BATON_TRY(baton_s2s_attend(be, m, &acts->attn_step[step], acts->att_h + at, acts->ctx + at, acts->cat + 2 * at,
                               acts->dec_out + at, acts->enc_out, batch->src_len, params, t, 1, S, B));
    return ks ? site_dropout(be, m, ks, SITE_ATT_H, hd + at, acts->att_h + at, (size_t)B * H) : BATON_OK;
}

baton_status baton_s2s_feed_forward(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts, const float *params,
                                    const baton_param_table *t, const baton_s2s_batch *batch,
                                    const baton_dropout_key *drop)
{
    const baton_ops *ops = be->ops;
    int T = batch->T, B = batch->B, E = m->cfg.emb, H = m->cfg.hidden, TB = T * B;
    int dr = dropping(m, drop);
    size_t state = (size_t)m->cfg.layers * B * H * sizeof(float);
    BATON_REQUIRE(T <= acts->T_steps, "input feeding: %d target steps, the activations hold %d", T, acts->T_steps);
    BATON_TRY(ops->embed_gather(be, acts->emb_tgt, batch->tgt_in, W(params, t, m->emb_tgt), TB, E));
    if (dr)
        BATON_TRY(site_dropout(be, m, drop, SITE_EMB_TGT, acts->emb_tgt, acts->emb_tgt, (size_t)TB * E));
    BATON_TRY(ops->zero(be, acts->feed0, (size_t)B * H * sizeof(float)));
    BATON_TRY(ops->copy(be, acts->state_h, acts->dec_h0, state));
    if (m->cfg.cell == BATON_CELL_LSTM)
        BATON_TRY(ops->copy(be, acts->state_c, acts->dec_c0, state));
    for (int step = 0; step < T; step++) {
        baton_dropout_key ks = dr ? step_key(drop, step) : (baton_dropout_key){0, 0, 0};
        BATON_TRY(step_forward(be, m, acts, params, t, batch, dr ? &ks : NULL, step));
    }
    return BATON_OK;
}

/* One step backward: h~'s gradient (from the generator and from step+1's input) down to the step's
 * input [emb; h~_{t-1}], the state gradients carried to the step before, and the parameters. */
static baton_status step_backward(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts, float *grads,
                                  const float *params, const baton_param_table *t, const baton_s2s_batch *batch,
                                  const baton_dropout_key *ks, int step)
{
    const baton_ops *ops = be->ops;
    int S = batch->S, B = batch->B, E = m->cfg.emb, H = m->cfg.hidden, EH = E + H;
    int lstm = m->cfg.cell == BATON_CELL_LSTM;
    size_t at = (size_t)step * B * H;
    float *dth = acts->d_th + at, *dcat = acts->d_cat + 2 * at;
    baton_dropout_key kdec = ks ? site_key(ks, SITE_DEC_RNN) : (baton_dropout_key){0, 0, 0};
    BATON_TRY(ops->axpby(be, dth, acts->d_feed, 1.0f, 1.0f, (size_t)B * H));
    if (ks)
        BATON_TRY(site_dropout(be, m, ks, SITE_ATT_H, dth, dth, (size_t)B * H));
    BATON_TRY(ops->tanh_backward(be, dth, dth, acts->att_h + at, (size_t)B * H));
    BATON_TRY(ops->gemm(be, 1, 0, H, 2 * H, B, 1.0f, dth, H, acts->cat + 2 * at, 2 * H, 1.0f, dW(grads, t, m->w_c),
                        2 * H));
    BATON_TRY(ops->gemm(be, 0, 0, B, 2 * H, H, 1.0f, dth, H, W(params, t, m->w_c), 2 * H, 0.0f, dcat, 2 * H));
    BATON_TRY(ops->copy2d(be, acts->d_ctx + at, H, dcat, 2 * H, B, H));
    BATON_TRY(ops->copy2d(be, acts->d_dec + at, H, dcat + H, 2 * H, B, H));
    BATON_TRY(baton_attention_backward(be, &m->attn, &acts->attn_step[step], acts->d_dec + at, acts->d_enc_step,
                                       grads, acts->d_ctx + at, acts->dec_out + at, acts->enc_out, params, t, 1, S,
                                       B));
    BATON_TRY(ops->axpby(be, acts->d_enc, acts->d_enc_step, 1.0f, 1.0f, (size_t)S * B * H));
    BATON_TRY(baton_rnn_backward(be, &m->dec, &acts->dec_step[step], acts->d_in, acts->d_state_h,
                                 lstm ? acts->d_state_c : NULL, grads, acts->d_dec + at, acts->d_state_h,
                                 lstm ? acts->d_state_c : NULL, acts->dec_in + (size_t)step * B * EH, batch->tgt_len,
                                 params, t, 1, B, ks ? &kdec : NULL));
    BATON_TRY(ops->copy2d(be, acts->d_emb_tgt + (size_t)step * B * E, E, acts->d_in, EH, B, E));
    return ops->copy2d(be, acts->d_feed, H, acts->d_in + E, EH, B, H);
}

baton_status baton_s2s_feed_backward(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts, float *grads,
                                     const float *params, const baton_param_table *t, const baton_s2s_batch *batch,
                                     const baton_dropout_key *drop)
{
    const baton_ops *ops = be->ops;
    int S = batch->S, T = batch->T, B = batch->B, E = m->cfg.emb, H = m->cfg.hidden, TB = T * B;
    int dr = dropping(m, drop), lstm = m->cfg.cell == BATON_CELL_LSTM;
    size_t state = (size_t)m->cfg.layers * B * H * sizeof(float);
    BATON_TRY(ops->zero(be, acts->d_feed, (size_t)B * H * sizeof(float)));
    BATON_TRY(ops->zero(be, acts->d_state_h, state));
    if (lstm)
        BATON_TRY(ops->zero(be, acts->d_state_c, state));
    BATON_TRY(ops->zero(be, acts->d_enc, (size_t)S * B * H * sizeof(float)));
    if (acts->feed_dkeys)
        BATON_TRY(ops->zero(be, acts->feed_dkeys, (size_t)S * B * H * sizeof(float)));
    for (int step = T - 1; step >= 0; step--) {
        baton_dropout_key ks = dr ? step_key(drop, step) : (baton_dropout_key){0, 0, 0};
        BATON_TRY(step_backward(be, m, acts, grads, params, t, batch, dr ? &ks : NULL, step));
    }
    /* the keys the steps shared: their gradient once, into W_k and the encoder outputs */
    BATON_TRY(baton_attention_keys_backward(be, &m->attn, acts->d_enc, grads, acts->feed_dkeys, acts->enc_out, params,
                                            t, S, B));
    BATON_TRY(ops->copy(be, acts->d_dec_h0, acts->d_state_h, state));
    if (lstm)
        BATON_TRY(ops->copy(be, acts->d_dec_c0, acts->d_state_c, state));
    if (dr)
        BATON_TRY(site_dropout(be, m, drop, SITE_EMB_TGT, acts->d_emb_tgt, acts->d_emb_tgt, (size_t)TB * E));
    return ops->embed_scatter_add(be, dW(grads, t, m->emb_tgt), batch->tgt_in, acts->d_emb_tgt, TB, E);
}

baton_status baton_s2s_feed_decode_step(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts,
                                        const float *params, const baton_param_table *t, const int *tgt_in,
                                        const int *src_len, const int *ones, int S, int B, const float *h0,
                                        const float *c0, float *hn, float *cn)
{
    const baton_ops *ops = be->ops;
    int E = m->cfg.emb, H = m->cfg.hidden, lstm = m->cfg.cell == BATON_CELL_LSTM;
    size_t state = (size_t)m->cfg.layers * B * H * sizeof(float);
    baton_s2s_batch one = {.B = B, .S = S, .T = 1, .src_len = src_len, .tgt_len = ones};
    BATON_TRY(ops->embed_gather(be, acts->emb_tgt, tgt_in, W(params, t, m->emb_tgt), B, E));
    if (h0 != acts->state_h)
        BATON_TRY(ops->copy(be, acts->state_h, h0, state));
    if (lstm && c0 != acts->state_c)
        BATON_TRY(ops->copy(be, acts->state_c, c0, state));
    BATON_TRY(step_forward(be, m, acts, params, t, &one, NULL, 0));
    BATON_TRY(ops->copy(be, acts->feed0, acts->att_h, (size_t)B * H * sizeof(float))); /* h~ for the next step */
    if (hn && hn != acts->state_h)
        BATON_TRY(ops->copy(be, hn, acts->state_h, state));
    if (lstm && cn && cn != acts->state_c)
        BATON_TRY(ops->copy(be, cn, acts->state_c, state));
    return BATON_OK;
}
