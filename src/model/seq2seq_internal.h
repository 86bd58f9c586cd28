/* seq2seq_internal.h: helpers the model's files share (seq2seq.c, input_feed.c, generator.c). */
#ifndef BATON_SEQ2SEQ_INTERNAL_H
#define BATON_SEQ2SEQ_INTERNAL_H

#include "baton/rng.h"
#include "baton/seq2seq.h"

/* Dropout sites: the purpose's low bits name where a mask is drawn (recurrent layers add l). */
enum { SITE_EMB_SRC = 1, SITE_EMB_TGT = 2, SITE_ENC_RNN = 3, SITE_DEC_RNN = 4, SITE_ATT_H = 5 };

static inline baton_dropout_key site_key(const baton_dropout_key *drop, int site)
{
    baton_dropout_key k = *drop;
    k.purpose = BATON_RNG_DROPOUT | ((uint32_t)site << 8);
    return k;
}

static inline const float *W(const float *buf, const baton_param_table *t, int index)
{
    return buf + t->items[index].offset;
}

static inline float *dW(float *grads, const baton_param_table *t, int index)
{
    return grads + t->items[index].offset;
}

static inline int dropping(const baton_s2s *m, const baton_dropout_key *drop)
{
    return drop && m->cfg.dropout > 0.0f;
}

/* Applies (or, on a gradient, re-applies) the dropout mask of one site. */
static inline baton_status site_dropout(baton_backend *be, const baton_s2s *m, const baton_dropout_key *drop, int site,
                                 float *y, const float *x, size_t n)
{
    baton_dropout_key k = site_key(drop, site);
    return be->ops->dropout(be, y, x, n, m->cfg.dropout, k.seed, k.purpose, k.counter);
}

/* Attention over mem for the decoder outputs dec (T,B,H) into ctx (T,B,H), then h~ att_h (T,B,H) =
 * tanh(W_c [ctx; dec]) through cat (T,B,2H). Where attn->values holds the memory's projections
 * (baton_s2s_project_memory), the context comes out as W_c's context half applied to it, straight
 * into att_h: att_h = tanh(att_h + W_c[:, H:] dec), and ctx and cat stay untouched. */
baton_status baton_s2s_attend(baton_backend *be, const baton_s2s *m, baton_attention_acts *attn, float *att_h,
                              float *ctx, float *cat, const float *dec, const float *mem, const int *src_len,
                              const float *params, const baton_param_table *t, int T, int S, int B);

/* The generator for `rows` rows of hd (rows,H) (h~ after dropout): acts->logits (rows,V) = hd W_out^T
 * + b_out; rows must not exceed acts->logit_rows. */
baton_status baton_s2s_generator(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts, const float *params,
                                 const baton_param_table *t, const float *hd, int rows);
/* ids (rows) = the argmax of each row of hd W_out^T + b_out + mask (mask (V) or NULL), the first on
 * ties: the backend's generator_argmax where it has one and be->versions.greedy is screened, else
 * the logits into acts->logits, then argmax_rows. */
baton_status baton_s2s_generator_argmax(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts,
                                        const float *params, const baton_param_table *t, const float *hd,
                                        const float *mask, int *ids, int rows);

/* The fused generator + loss over the batch's T*B rows of hd (T,B,H), acts->chunk_rows rows at a
 * time: acts->loss (summed over the chunks in a fixed order) and acts->logp; with grads (not NULL)
 * also each chunk's dlogits, at once turned into db_out, dW_out (+=) and acts->d_th (its rows). */
baton_status baton_s2s_loss_fused(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts, float *grads,
                                  const float *params, const baton_param_table *t, const baton_s2s_batch *batch,
                                  const float *hd);

/* Input feeding: the decoder step by step from acts->dec_h0, through acts->att_h/att_hd (T,B,H);
 * the generator is the caller's. */
baton_status baton_s2s_feed_forward(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts, const float *params,
                                    const baton_param_table *t, const baton_s2s_batch *batch,
                                    const baton_dropout_key *drop);

/* Input feeding: backward from acts->d_th (gradient of h~ after dropout) through the steps into
 * d_dec_h0/d_dec_c0, d_enc, the target embeddings and the decoder's parameters. */
baton_status baton_s2s_feed_backward(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts, float *grads,
                                     const float *params, const baton_param_table *t, const baton_s2s_batch *batch,
                                     const baton_dropout_key *drop);

/* Input feeding, decoding: one step for B rows from h0/c0 into hn/cn, fed acts->feed0 (h~ of the
 * previous step, zeroed by baton_s2s_encode) and leaving this step's h~ there and in acts->att_h;
 * the generator is the caller's. */
baton_status baton_s2s_feed_decode_step(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts,
                                        const float *params, const baton_param_table *t, const int *tgt_in,
                                        const int *src_len, const int *ones, int S, int B, const float *h0,
                                        const float *c0, float *hn, float *cn);

#endif
