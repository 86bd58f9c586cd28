/* table.c: what the decoders keep while their weights are fixed: the tables of layer 0's input
 * projection per token, E W_ih^T, of the decoder (V_tgt, G*H) and of the encoder (per direction,
 * V_src x G*Hd). A decoded row or a source token then gathers its token's row instead of
 * multiplying its embedding by W_ih: one product of V rows, made once, replaces one of every
 * decoded row (Multi30k greedy: 3981 rows once vs about 15000 per pass of test2016; W_ih is an
 * eighth of a decoder step's products there, a seventh beside greedy's screened generator) and of
 * every source token (about 15000 per pass: half of the encoder's products). */
#include "decode_internal.h"

#define TABLE_MAX_BYTES ((size_t)1 << 30) /* larger tables (gnmt-sized vocabularies x 4H) keep the products */

/* One table (encoder 1 or decoder 0) into *table, allocated at first use; left NULL where the model
 * has none or it would be too large. */
static baton_status make_table(baton_backend *be, const baton_s2s *m, int encoder, float **table, const float *params,
                               const baton_param_table *t)
{
    size_t bytes = baton_s2s_input_table_size(m, encoder) * sizeof(float);
    if (bytes == 0 || bytes > TABLE_MAX_BYTES)
        return BATON_OK;
    if (!*table)
        BATON_TRY(be->ops->alloc(be, (void **)table, bytes, encoder ? "encoder input table" : "decoder input table"));
    return baton_s2s_input_table(be, m, encoder, *table, params, t);
}

baton_status baton_decode_fix(baton_backend *be, const baton_s2s *m, baton_decode_fixed *f, const float *params,
                              const baton_param_table *t)
{
    f->params = NULL;
    if (!params || !be->versions.decin)
        return BATON_OK;
    BATON_TRY(make_table(be, m, 1, &f->enc_table, params, t));
    BATON_TRY(make_table(be, m, 0, &f->in_table, params, t));
    f->params = params;
    return BATON_OK;
}

void baton_decode_use_fixed(baton_s2s_acts *acts, const baton_decode_fixed *f, const float *params)
{
    int on = f->params && f->params == params;
    acts->in_table = on ? f->in_table : NULL;
    acts->enc_table = on ? f->enc_table : NULL;
}

void baton_decode_fixed_free(baton_backend *be, baton_decode_fixed *f)
{
    float **tables[] = {&f->in_table, &f->enc_table};
    for (int i = 0; i < 2; i++) {
        if (*tables[i])
            be->ops->free(be, *tables[i]);
        *tables[i] = NULL;
    }
    f->params = NULL;
}
