/* attention.h: Luong global attention over a whole target sequence at once (design.md).
 *
 * Dimension legend: B batch, T target steps, S source steps, H hidden. Queries are the decoder's
 * top-layer outputs q (T,B,H), memory the encoder outputs m (S,B,H), both time-major; scores and
 * weights are (B,T,S), one row per (b, t), masked beyond each source length:
 *   dot:      score = q_t . m_s
 *   general:  score = q_t . (W_a m_s)                      decoder.attention.general.weight (H,H)
 *   additive: score = v . tanh(W_q q_t + b_q + W_k m_s)    decoder.attention.{query,key,v}.*
 * a = softmax(score) over s < length, context c_t = sum_s a_ts m_s (T,B,H). Scores and contexts
 * are strided batched GEMMs straight over the time-major tensors (row stride B*H). */
#ifndef BATON_ATTENTION_H
#define BATON_ATTENTION_H

#include "baton/arena.h"
#include "baton/backend.h"
#include "baton/param.h"

typedef enum {
    BATON_ATTN_DOT = 0,
    BATON_ATTN_GENERAL = 1,
    BATON_ATTN_ADDITIVE = 2,
} baton_attn_score;

typedef struct {
    baton_attn_score score;
    int H;
    int w_a;               /* general: parameter-table index, else -1 */
    int w_q, b_q, w_k, v;  /* additive: parameter-table indices, else -1 */
} baton_attention;

typedef struct {
    float *keys;   /* (S,B,H) W_k m (additive) */
    float *query;  /* (T,B,H) q W_a (general) or W_q q + b_q (additive) */
    float *scores; /* (B,T,S) */
    float *p;      /* (B,T,S) attention weights, kept for backward and for users */
    float *dp;     /* (B,T,S) gradient of p, then of the scores */
    float *dkeys;  /* (S,B,H) additive */
    float *dquery; /* (T,B,H) general and additive */
    /* Additive keys shared by many calls over one memory (a step-by-step decoder): when set, the
     * forward uses shared_keys (baton_attention_keys) instead of computing keys, and the backward
     * adds its key gradient into shared_dkeys for baton_attention_keys_backward to finish. */
    const float *shared_keys; /* (S,B,H) or NULL */
    float *shared_dkeys;      /* (S,B,H) */
    /* Decoding (T = 1, dot or general scores, forward only) with rows grouped by source: rows
     * groups[g] .. groups[g+1]-1 attend to source g, and the memory is (G,S,H) with one copy per
     * source, not (S,B,H) with one per row, so beam search's rows of a source read it as one
     * product. NULL: one memory column per row, as always. */
    const int *groups; /* (G+1) host, ascending, groups[0] = 0 and groups[G] = B; or NULL */
    int n_groups;      /* G */
    /* Grouped rows over the memory's projections, made once per batch instead of per row and step
     * (baton_s2s_project_memory): m then holds the keys (general: W_a m, so the queries stay as they
     * are; dot: m itself) and the contexts sum these values instead of m. NULL: m is both. */
    const float *values; /* (G,S,H) or NULL */
} baton_attention_acts;

/* Registers the score's parameters under `prefix` (e.g. "decoder.attention"). */
baton_status baton_attention_init(baton_attention *at, baton_attn_score score, int H, baton_param_table *t,
                                  const char *prefix);

/* PyTorch nn.Linear's default initialisation U(-1/sqrt(in), 1/sqrt(in)) into a host buffer. */
void baton_attention_init_weights(const baton_attention *at, const baton_param_table *t, float *host, uint64_t seed);

/* Carves activations for shapes up to (T_max, S_max, B_max); measure first, as for every layer. */
baton_status baton_attention_acts_carve(baton_attention_acts *acts, baton_arena *a, const baton_attention *at,
                                        int T_max, int S_max, int B_max);

/* As baton_attention_acts_carve; with_keys 0 leaves out keys and dkeys (additive), for acts that
 * will use shared keys: the caller points dkeys at a scratch shared by the calls, which run in turn. */
baton_status baton_attention_acts_carve_ex(baton_attention_acts *acts, baton_arena *a, const baton_attention *at,
                                           int T_max, int S_max, int B_max, int with_keys);

/* Additive attention's keys W_k m (S,B,H) into keys, once for calls that share the memory m; a
 * no-op for the other scores. */
baton_status baton_attention_keys(baton_backend *be, const baton_attention *at, float *keys, const float *m,
                                  const float *params, const baton_param_table *t, int S, int B);

/* After the backward calls that shared keys: W_k's gradient and dm += from the key gradient dkeys
 * they accumulated; a no-op for the other scores. */
baton_status baton_attention_keys_backward(baton_backend *be, const baton_attention *at, float *dm, float *grads,
                                           const float *dkeys, const float *m, const float *params,
                                           const baton_param_table *t, int S, int B);

/* Forward: ctx (T,B,H) from queries q (T,B,H) and memory m (S,B,H), or (G,S,H) where acts->groups
 * is set (and with acts->values: keys, the context summing values), source lengths (device). */
baton_status baton_attention_forward(baton_backend *be, const baton_attention *at, baton_attention_acts *acts,
                                     float *ctx, const float *q, const float *m, const int *src_len,
                                     const float *params, const baton_param_table *t, int T, int S, int B);

/* Backward from dctx: accumulates (+=) dq and the parameter gradients, assigns dm (S,B,H). */
baton_status baton_attention_backward(baton_backend *be, const baton_attention *at, baton_attention_acts *acts,
                                      float *dq, float *dm, float *grads, const float *dctx, const float *q,
                                      const float *m, const float *params, const baton_param_table *t, int T,
                                      int S, int B);

/* "dot", "general", "additive"; BATON_ERR_INVALID names the accepted values. */
baton_status baton_attn_score_parse(baton_attn_score *score, const char *name);

/* Name of a score type. */
const char *baton_attn_score_name(baton_attn_score score);

#endif
