/* decode.h: translating with a trained model. Greedy decoding runs the encoder once and the
 * decoder one step at a time (baton_s2s_decode with T = 1), the whole batch together, feeding
 * each row its own previous output until every row has produced </s> or the length limit. Both
 * searches give at least one token (</s> cannot come first, as fairseq's min_len 1): a non-empty
 * source never gets an empty translation. */
#ifndef BATON_DECODE_H
#define BATON_DECODE_H

#include "baton/seq2seq.h"

/* What a decoder keeps while its weights are fixed (baton_greedy_fix_weights, baton_beam_fix_weights). */
typedef struct {
    float *in_table;     /* (V_tgt, G*H) device: decoder layer 0's input projection of every token; NULL: none */
    float *enc_table;    /* (dirs, V_src, G*Hd) device: encoder layer 0's, per direction; NULL: none */
    const float *params; /* the weights it was made from; NULL: not fixed */
} baton_decode_fixed;

typedef struct {
    baton_backend *be;
    const baton_s2s *m;
    baton_arena arena;
    baton_s2s_acts acts;          /* carved for (S_max, 1, B_max) */
    baton_decode_fixed fixed;     /* tables of fixed weights */
    float *h, *c, *h2, *c2;       /* (L,B,H) decoder state between steps, and the gather targets */
    float *mem;                   /* (S,B,H) encoder outputs of the batch's sentences */
    int *d_ids, *d_ones, *d_best, *d_len; /* (B) device: step input, lengths of one, step output, live rows' source lengths */
    int *d_gather;                /* ((max(S_max, L) + 1) * B_max) device row maps */
    float *d_no_eos;              /* (V) device: 0, and -1e30 at </s>: added to the first step's logits */
    int *ids;                     /* (B) host: the live rows' tokens */
    int *row, *lens, *gather;     /* host: live row -> sentence, their source lengths, row maps */
    int S_max, B_max;
} baton_greedy;

/* Sets up decoding for batches of up to B_max sources of up to S_max tokens. */
baton_status baton_greedy_create(baton_greedy *g, baton_backend *be, const baton_s2s *m, int S_max, int B_max);

/* Frees what baton_greedy_create made. */
void baton_greedy_destroy(baton_greedy *g);

/* Declares that params keep their values for the decode calls with them that follow, until the
 * next call (params NULL: no longer): the decoder then tabulates the layer-0 input projections of
 * encoder and decoder per token (baton_s2s_input_table: the decoder's only without input feeding;
 * tables up to 1 GiB) and gathers them instead of multiplying. A translator and a benchmark
 * declare it; training does not. */
baton_status baton_greedy_fix_weights(baton_greedy *g, const float *params, const baton_param_table *t);

/* Decodes sources src (S,B) with lengths src_len (device) and src_len_host (host) for at most
 * max_len steps: out (host, B x max_len) receives each row's ids, out_len (host, B) their count
 * without </s>; attn (host, B x max_len x S, may be NULL) the attention weights of every output
 * token. Rows leave the batch as they finish. */
baton_status baton_greedy_decode(baton_greedy *g, const float *params, const baton_param_table *t, const int *src,
                                 const int *src_len, const int *src_len_host, int S, int B, int max_len, int *out,
                                 int *out_len, float *attn);

/* ---- beam search ----
 * Every source keeps up to `beam` live hypotheses as rows of one decoder batch; each step scores
 * all live rows (log-softmax over the vocabulary), keeps each source's `beam` best extensions,
 * moves those ending in </s> to its finished list (they leave the batch) and reorders the decoder
 * state to the survivors. A source stops when it has `beam` finished hypotheses or at max_len;
 * its n best, by the GNMT length-normalised score logprob / ((5 + n)^alpha / 6^alpha) with n the
 * output length counting </s>, are returned. The device reduces each live row to its log-sum-exp
 * and its K = beam best logits (beam + 1 at the first step, where </s> is dropped), topk_rows; the
 * host merges a source's rows' candidates, log p = logit - lse: the same selection as a scan of
 * every row's whole log-softmax (a source's best `beam` are among its rows' best `beam`), with
 * R x (K + 1) floats crossing to the host per step instead of R x V. */
typedef struct {
    baton_backend *be;
    const baton_s2s *m;
    int beam, S_max, B_max, R_max, max_len; /* R_max = B_max * beam rows */
    baton_arena arena;
    baton_s2s_acts acts;        /* carved for (S_max, 1, R_max) */
    baton_decode_fixed fixed;   /* tables of fixed weights */
    float *mem;                 /* (S_max, B_max, H) encoder outputs of the sources (projected general: W_a m) */
    float *mem_values;          /* (S_max, B_max, H) projected memory (be->versions.beammem): W_c[:, :H] m, or NULL */
    float *group_values;        /* (B_max, S_max, H) mem_values gathered by group beside acts.enc_out, or NULL */
    float *h, *c, *h2, *c2;     /* (L, R_max, H) decoder states, and the reorder targets */
    int *d_ids, *d_ones, *d_len, *d_gather; /* device: step input (R), ones (R), lengths (R), row maps */
    int *ids, *gather, *lens;   /* host mirrors */
    int *mem_src, mem_R;        /* the sources of the mem_R rows whose memory acts.enc_out holds */
    int *groups, n_groups;      /* (B_max + 1) host: the rows' groups by source (attention.h), dot/general */
    int K;                      /* candidates per row: beam + 1 */
    float *d_val, *d_lse;       /* device: (R_max, K) best logits of a step, (R_max) log-sum-exp */
    int *d_idx;                 /* device: (R_max, K) their tokens */
    float *val, *lse;           /* host mirrors */
    int *idx;
    float *attn_step;           /* (R_max, S_max) host attention of a step */
    int *tok_hist, *par_hist;   /* (max_len, R_max) token and parent row of every row created */
    float *attn_hist;           /* (max_len, R_max, S_max) or NULL */
} baton_beam;

/* One returned hypothesis. */
typedef struct {
    int len;         /* output tokens without </s> */
    float logprob;   /* sum of log p, </s> included when the hypothesis finished */
    float score;     /* length-normalised */
    int finished;    /* ended with </s> (else stopped at max_len) */
} baton_hyp;

/* Sets up beam search of width `beam` for up to B_max sources of up to S_max tokens and outputs of
 * up to max_len tokens; with_attn keeps attention weights for every output token. */
baton_status baton_beam_create(baton_beam *bm, baton_backend *be, const baton_s2s *m, int S_max, int B_max,
                               int beam, int max_len, int with_attn);

/* Frees what baton_beam_create made. */
void baton_beam_destroy(baton_beam *bm);

/* baton_greedy_fix_weights for beam search. */
baton_status baton_beam_fix_weights(baton_beam *bm, const float *params, const baton_param_table *t);

/* Decodes sources src (S,B) (device) with lengths src_len (device) and src_len_host (host): for
 * source b, hyps[b*nbest + i] describes its i-th best hypothesis (best first), its ids are
 * out[(b*nbest + i) * max_len ...], its attention (len x S, when kept) attn[((b*nbest + i) *
 * max_len + j) * S ...]. nbest <= beam. */
baton_status baton_beam_decode(baton_beam *bm, const float *params, const baton_param_table *t, const int *src,
                               const int *src_len, const int *src_len_host, int S, int B, float alpha, int nbest,
                               baton_hyp *hyps, int *out, float *attn);

#endif
