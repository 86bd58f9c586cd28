/* rows.c: what greedy and beam decoding share: the memory of the decoder's live rows. */
#include "decode_internal.h"

baton_status baton_decode_rows_memory(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts,
                                      const float *params, const baton_param_table *t, int *map, int *d_map,
                                      const float *mem, const int *src_of, int S, int B, int R)
{
    for (int s = 0; s < S; s++)
        for (int r = 0; r < R; r++)
            map[s * R + r] = s * B + src_of[r];
    BATON_TRY(be->ops->upload(be, d_map, map, (size_t)S * R * sizeof(int)));
    BATON_TRY(be->ops->embed_gather(be, acts->enc_out, d_map, mem, S * R, m->cfg.hidden));
    /* the steps' shared keys (additive scores; a no-op for the others) follow the rows' memory */
    return m->cfg.input_feed ? baton_attention_keys(be, &m->attn, acts->feed_keys, acts->enc_out, params, t, S, R)
                             : BATON_OK;
}
