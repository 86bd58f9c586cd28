/* decode.h: translating with a trained model. Greedy decoding runs the encoder once and the
 * decoder one step at a time (baton_s2s_decode with T = 1), the whole batch together, feeding
 * each row its own previous output until every row has produced </s> or the length limit. */
#ifndef BATON_DECODE_H
#define BATON_DECODE_H

#include "baton/seq2seq.h"

typedef struct {
    baton_backend *be;
    const baton_s2s *m;
    baton_arena arena;
    baton_s2s_acts acts;          /* carved for (S_max, 1, B_max) */
    float *h, *c;                 /* (L,B,H) decoder state between steps */
    int *d_ids, *d_ones, *d_best; /* (B) device: step input, lengths of one, step output */
    int *ids;                     /* (B) host */
    int S_max, B_max;
} baton_greedy;

/* Sets up decoding for batches of up to B_max sources of up to S_max tokens. */
baton_status baton_greedy_create(baton_greedy *g, baton_backend *be, const baton_s2s *m, int S_max, int B_max);

/* Frees what baton_greedy_create made. */
void baton_greedy_destroy(baton_greedy *g);

/* Decodes sources src (S,B) with lengths src_len (device) for at most max_len steps: out (host,
 * B x max_len) receives each row's ids, out_len (host, B) their count without </s>; attn (host,
 * B x max_len x S, may be NULL) the attention weights of every output token. */
baton_status baton_greedy_decode(baton_greedy *g, const float *params, const baton_param_table *t, const int *src,
                                 const int *src_len, int S, int B, int max_len, int *out, int *out_len, float *attn);

#endif
