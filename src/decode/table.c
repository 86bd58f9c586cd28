/* table.c: what the decoders keep while their weights are fixed: the table of decoder layer 0's
 * input projection per target token, E_tgt W_ih^T (V_tgt, G*H). A decoded row then gathers its
 * token's row instead of multiplying its embedding by W_ih: one product of V_tgt rows, made once,
 * replaces one of every decoded row (Multi30k greedy: 3981 rows once vs about 15000 per pass of
 * test2016; W_ih is an eighth of a decoder step's products there, a seventh beside greedy's
 * screened generator). */
#include "decode_internal.h"

#define TABLE_MAX_BYTES ((size_t)1 << 30) /* larger tables (gnmt-sized vocabularies x 4H) keep the products */

baton_status baton_decode_fix(baton_backend *be, const baton_s2s *m, baton_decode_fixed *f, const float *params,
                              const baton_param_table *t)
{
    f->params = NULL;
    size_t bytes = baton_s2s_input_table_size(m) * sizeof(float);
    if (!params || bytes == 0 || bytes > TABLE_MAX_BYTES || !be->versions.decin)
        return BATON_OK;
    if (!f->in_table)
        BATON_TRY(be->ops->alloc(be, (void **)&f->in_table, bytes, "decoder input table"));
    BATON_TRY(baton_s2s_input_table(be, m, f->in_table, params, t));
    f->params = params;
    return BATON_OK;
}

void baton_decode_use_fixed(baton_s2s_acts *acts, const baton_decode_fixed *f, const float *params)
{
    acts->in_table = f->params && f->params == params ? f->in_table : NULL;
}

void baton_decode_fixed_free(baton_backend *be, baton_decode_fixed *f)
{
    if (f->in_table)
        be->ops->free(be, f->in_table);
    f->in_table = NULL;
    f->params = NULL;
}
