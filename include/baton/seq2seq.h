/* seq2seq.h: the encoder-decoder translator with Luong attention of design.md ("The model").
 *
 * Dimension legend: B batch, S source steps, T target steps, E embedding, H hidden, V vocabulary,
 * L layers; Hd = H/2 per direction in a bidirectional encoder. All activations are time-major.
 *   x = dropout(E_src[src]); encoder: L layers (bidirectional option) -> m (S,B,H), final states
 *   bridge: decoder layer l starts from encoder layer l's final (h, c) ([h_fwd; h_bwd] if bidirectional)
 *   y = dropout(E_tgt[tgt_in]); decoder: L layers over the whole target (input feeding off)
 *   attention (attention.h) -> c (T,B,H); h~ = tanh(W_c [c; h]); logits = W_out dropout(h~) + b_out
 *   loss = cross_entropy(logits, tgt_out, ignore_index=0, label_smoothing) summed over non-pad tokens;
 *   the caller divides by the token count (kept on the host) for PyTorch's mean.
 * Parameter names are design.md's, so checkpoints and the PyTorch fixtures line up. */
#ifndef BATON_SEQ2SEQ_H
#define BATON_SEQ2SEQ_H

#include "baton/attention.h"
#include "baton/rnn.h"

typedef struct {
    baton_cell cell;
    int src_vocab, tgt_vocab; /* V_src, V_tgt, special ids included */
    int emb, hidden, layers;  /* E, H, L */
    int bidirectional;        /* encoder only */
    baton_attn_score score;
    int input_feed;           /* 0: whole-sequence decoder (the fast path) */
    int tie_generator;        /* W_out = E_tgt; needs E == H */
    float dropout;            /* embeddings, between layers, before the generator */
    float label_smoothing;    /* eps of the loss */
} baton_s2s_config;

typedef struct {
    baton_s2s_config cfg;
    baton_rnn enc, dec;
    baton_attention attn;
    int emb_src, emb_tgt, w_c, w_out, b_out; /* parameter-table indices; w_out == emb_tgt when tied */
    int enc_rnn;                             /* the table index of the encoder RNN's first tensor */
} baton_s2s;

/* Told by backward as it finishes parts of the model: the gradients of flat-buffer floats [off,
 * end) are final for this batch (off falls from the generator's start to 0, the source
 * embedding's, since the table lays the model out in forward order). Data-parallel training starts
 * a gradient sum there (dist.h); the trainer also folds the loss into the gradients at off 0. */
typedef struct {
    baton_status (*ready)(void *ctx, size_t off);
    void *ctx;
} baton_grad_hook;

/* One batch on the device, time-major; the host keeps the token count. */
typedef struct {
    int B, S, T;
    const int *src;     /* (S,B) source ids, 0 = pad */
    const int *src_len; /* (B) 1..S */
    const int *tgt_in;  /* (T,B) <s> y1 .. yn, 0-padded */
    const int *tgt_out; /* (T,B) y1 .. yn </s>, 0-padded */
    const int *tgt_len; /* (B) n+1, 1..T */
    int tgt_tokens;     /* non-pad tokens of tgt_out (host) */
    const float *loss_scale; /* (1) device: 1 / tgt_tokens, the mean's factor in dlogits (want_grad only) */
} baton_s2s_batch;

typedef struct {
    baton_rnn_acts enc, dec;
    baton_attention_acts attn;
    float *emb_src;  /* (S,B,E) */
    float *emb_tgt;  /* (T,B,E) */
    float *enc_out;  /* (S,B,H) */
    float *enc_h, *enc_c;   /* (L*dirs,B,Hd) encoder final states */
    float *dec_h0, *dec_c0; /* (L,B,H) bridged initial decoder states */
    float *dec_out;  /* (T,B,H) */
    float *ctx;      /* (T,B,H) attention contexts */
    float *cat;      /* (T,B,2H) [c; h] */
    float *att_h;    /* (T,B,H) attentional hidden h~ */
    float *att_hd;   /* (T,B,H) h~ after dropout (== att_h without dropout) */
    float *logits;   /* (logit_rows,V_tgt): (T,B,V) for the plain loss, replaced by dlogits when it computes the
                        gradient; one chunk of rows for the fused one (baton_s2s_acts_carve_ex) */
    int logit_rows;  /* rows acts->logits holds: T_max*B_max, or one chunk's */
    int chunk_rows;  /* rows per chunk of the fused generator: baton_s2s_chunk_rows(V) (at most T_max*B_max);
                        a caller may lower it (tests), never raise it above logit_rows */
    float *loss;     /* (1) summed loss of the batch */
    float *logp;     /* (T,B) log p of each target token, unsmoothed, 0 at pads */
    float *row_loss; /* (T,B) scratch of the loss op */
    float *chunk_loss; /* (T,B) the fused generator's per-chunk loss sums (at most one chunk per row) */
    float *d_th;     /* (T,B,H) gradients of h~ (and of the decoder output) */
    float *d_cat;    /* (T,B,2H) */
    float *d_ctx;    /* (T,B,H) */
    float *d_dec;    /* (T,B,H) */
    float *d_enc;    /* (S,B,H) */
    float *d_dec_h0, *d_dec_c0; /* (L,B,H) */
    float *d_enc_h, *d_enc_c;   /* (L*dirs,B,Hd) */
    float *d_emb_src; /* (S,B,E) */
    float *d_emb_tgt; /* (T,B,E) */
    /* input feeding only: the decoder runs one step at a time, each with its own activations */
    int T_steps;                     /* entries of dec_step and attn_step */
    baton_rnn_acts *dec_step;        /* (T) host array: per-step decoder activations (T = 1 each) */
    baton_attention_acts *attn_step; /* (T) host array: per-step attention activations */
    float *dec_in;                   /* (T,B,E+H) step inputs [E_tgt y_{t-1}; h~_{t-1}] */
    float *d_in;                     /* (B,E+H) gradient of one step's input */
    float *feed0;                    /* (B,H) zeros: h~_0 */
    float *d_feed;                   /* (B,H) gradient reaching h~_t through step t+1's input */
    float *d_enc_step;               /* (S,B,H) one step's gradient of the encoder outputs */
    float *state_h, *state_c;        /* (L,B,H) decoder state between steps */
    float *d_state_h, *d_state_c;    /* (L,B,H) its gradient between steps */
    float *feed_keys, *feed_dkeys;   /* (S,B,H) additive: the steps' shared keys W_k m and their gradient */
    float *feed_dk;                  /* (S,B,H) additive: one step's key gradient (scratch) */
    baton_grad_hook grad_hook;       /* told as backward finishes each part (ready NULL: nobody listens) */
    const float *in_table;           /* (V_tgt, G*H) decoding, input feeding off: E_tgt W_ih^T of decoder layer 0,
                                        gathered instead of multiplied (baton_s2s_input_table); NULL: none */
    const float *enc_table;          /* (dirs, V_src, G*Hd) decoding: E_src W_ih^T of encoder layer 0 per
                                        direction, gathered likewise; NULL: none */
} baton_s2s_acts;

/* Checks the configuration and registers every parameter under design.md's names. */
baton_status baton_s2s_init(baton_s2s *m, const baton_s2s_config *cfg, baton_param_table *t);

/* Initial weights into a host parameter buffer: recurrent layers and linear layers as PyTorch's
 * defaults (U(+-1/sqrt(fan_in))), embeddings U(-0.1, 0.1). Deterministic in seed. */
void baton_s2s_init_weights(const baton_s2s *m, const baton_param_table *t, float *host, uint64_t seed);

/* Rows per chunk of the fused generator + loss (be->versions.loss = 1) for a target vocabulary of
 * V: the most rows, in multiples of 64 and at least 64, whose V fp32 logits fit in half an
 * H100's or H200's L2 (25 MiB of 50), so that a chunk's logits never leave L2 (src/model/generator.c). */
int baton_s2s_chunk_rows(int V);

/* Carves activations for batches up to (S_max, T_max, B_max); measure first. acts->logits holds
 * all T_max*B_max rows: what the plain loss, the decoders and any reader of whole logits need. */
baton_status baton_s2s_acts_carve(baton_s2s_acts *acts, baton_arena *a, const baton_s2s *m, int S_max, int T_max,
                                  int B_max);

/* baton_s2s_acts_carve for the loss version `loss` (be->versions.loss of the backend that will run
 * it; the same in the measuring and the real carve): 0 (plain) as baton_s2s_acts_carve; 1 (fused)
 * lays acts->logits out as one chunk of acts->chunk_rows rows instead of T_max*B_max rows (gnmt:
 * 192 x 32000 floats instead of 6400 x 32000, 24.6 MB instead of 819 MB). Such activations run the
 * fused loss only: a plain forward or a decode of more rows than the chunk is an error. */
baton_status baton_s2s_acts_carve_ex(baton_s2s_acts *acts, baton_arena *a, const baton_s2s *m, int S_max, int T_max,
                                     int B_max, int loss);

/* The encoder over src (S,B) ids: acts->enc_out (S,B,H) and the bridged decoder start states
 * acts->dec_h0 / dec_c0 (L,B,H). */
baton_status baton_s2s_encode(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts, const float *params,
                              const baton_param_table *t, const int *src, const int *src_len, int S, int B,
                              const baton_dropout_key *drop);

/* The decoder over T target steps from states h0/c0 (L,B,H), attending to acts->enc_out, through the
 * generator: acts->logits (T,B,V) (T*B must not exceed acts->logit_rows), acts->attn.p (B,T,S)
 * weights; final states into hn/cn when not NULL (they may be h0/c0: each layer reads its start
 * state before writing its end state). T = 1 is one step of a step-by-step decoder. */
baton_status baton_s2s_decode(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts, const float *params,
                              const baton_param_table *t, const int *src_len, int S, const int *tgt_in,
                              const int *tgt_len, int T, int B, const float *h0, const float *c0, float *hn,
                              float *cn, const baton_dropout_key *drop);

/* Floats of the encoder's (encoder 1: dirs x V_src x G*Hd) or the decoder's (0: V_tgt x G*H) table of
 * layer-0 input projections, or 0 where the model has none: the decoder with input feeding, whose
 * layer-0 input is not the embedding alone. */
size_t baton_s2s_input_table_size(const baton_s2s *m, int encoder);

/* table = E W_ih^T of layer 0 of the encoder (per direction) or the decoder: each token's input
 * projection, which a decoder whose weights stay constant gathers (acts->enc_table, acts->in_table)
 * instead of multiplying: one product of V rows replaces one of every source token or decoded row
 * (Multi30k test2016: 3981 target tokens vs about 15000 decoded rows per pass). */
baton_status baton_s2s_input_table(baton_backend *be, const baton_s2s *m, int encoder, float *table,
                                   const float *params, const baton_param_table *t);

/* One step (T = 1) of a step-by-step decoder for B rows, as baton_s2s_decode without dropout but
 * short of the generator: h~ (B,H) in acts->att_h, then ids (B) = the argmax of each row's logits
 * + mask (V floats, or NULL), the first on ties (the backend's generator_argmax where it has one and
 * be->versions.greedy is screened: no logits; else acts->logits hold them). */
baton_status baton_s2s_decode_argmax(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts, const float *params,
                                     const baton_param_table *t, const int *src_len, int S, const int *tgt_in,
                                     const int *tgt_len, int B, const float *h0, const float *c0, float *hn,
                                     float *cn, const float *mask, int *ids);

/* Decoding: the next decode calls' rows grouped by source, groups (n + 1 starts, host) and the
 * memory (n, S, H) (baton_attention_acts.groups); NULL: one memory column per row again. values
 * (n, S, H) or NULL: the memory comes projected (baton_s2s_project_memory), acts->enc_out holding
 * the keys, values the values of each group's source. */
void baton_s2s_acts_group_rows(baton_s2s_acts *acts, const int *groups, int n, const float *values);

/* Dot and general scores: the projections of `rows` memory rows mem (rows, H) that grouped decoding
 * can make once for all its steps instead of per row and step: keys (general: rows x H = mem W_a^T;
 * dot: not written, the keys are mem) and values = mem W_c[:, :H]^T, the context half of h~'s
 * product, so that sum_s a_s values_s = W_c[:, :H] c. */
baton_status baton_s2s_project_memory(baton_backend *be, const baton_s2s *m, float *keys, float *values,
                                      const float *mem, const float *params, const baton_param_table *t, int rows);

/* on 1: the recurrent layers' forwards keep nothing for backward (baton_rnn_acts.no_grad), as
 * under torch.no_grad: for decoders and evaluation; on 0: training again. */
void baton_s2s_acts_no_grad(baton_s2s_acts *acts, int on);

/* Frees the host arrays a carve with input feeding made and any cuDNN state (the arena owns the rest). */
void baton_s2s_acts_release(baton_s2s_acts *acts);

/* Runs the encoder's recurrent layers, and with whole_decoder the whole-sequence decoder's (not with
 * input feeding), through implementation `impl` (baton_rnn_acts_use_impl). Step-by-step decoding
 * (T = 1 steps, input feeding) keeps the fused kernels. Call after the carve. */
baton_status baton_s2s_acts_use_impl(baton_s2s_acts *acts, baton_backend *be, const baton_s2s *m, const char *impl,
                                     uint64_t seed, int whole_decoder);

/* Forward through the loss (encode, decode, cross-entropy), as be->versions.loss says.
 * Plain (0): acts->loss, acts->logp and, unless want_grad, acts->logits (T,B,V). With want_grad,
 * acts->logits holds dloss/dlogits for the mean loss (1/tgt_tokens) afterwards.
 * Fused (1): without want_grad, acts->loss and acts->logp, the logits computed a chunk of rows at a
 * time and never whole (acts->logits holds the last chunk's). With want_grad, forward stops at h~:
 * the generator and the loss run in baton_s2s_backward, which needs the parameter gradients, so
 * acts->loss and acts->logp are there only after backward.
 * drop NULL: no dropout (evaluation). */
baton_status baton_s2s_forward(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts, const float *params,
                               const baton_param_table *t, const baton_s2s_batch *batch,
                               const baton_dropout_key *drop, int want_grad);

/* A backward that adds nothing, for a data-parallel rank without a batch: tells acts->grad_hook
 * that each part is final in the order baton_s2s_backward does, so every rank cuts the same
 * gradient buckets (their sizes must match rank for rank). */
baton_status baton_s2s_backward_none(const baton_s2s *m, baton_s2s_acts *acts, const baton_param_table *t);

/* Backward after a want_grad forward with the same batch and drop: accumulates (+=) the gradient
 * of the mean loss into grads. With the fused loss (be->versions.loss = 1) it first runs the
 * generator and the loss chunk by chunk (src/model/generator.c): acts->loss and acts->logp are
 * written here, each chunk's gradients into b_out, W_out and acts->d_th at once. */
baton_status baton_s2s_backward(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts, float *grads,
                                const float *params, const baton_param_table *t, const baton_s2s_batch *batch,
                                const baton_dropout_key *drop);

#endif
