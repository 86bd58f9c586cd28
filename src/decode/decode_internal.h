/* decode_internal.h: what greedy.c and beam.c share. */
#ifndef BATON_DECODE_INTERNAL_H
#define BATON_DECODE_INTERNAL_H

#include "baton/decode.h"

/* The memory of R decoder rows, row r that of source src_of[r]: mem (S, B, H) gathered into
 * acts->enc_out (S, R, H) through map (S*R ints, host scratch) and d_map (its device twin); with
 * input feeding, the steps' shared additive keys from it. */
baton_status baton_decode_rows_memory(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts,
                                      const float *params, const baton_param_table *t, int *map, int *d_map,
                                      const float *mem, const int *src_of, int S, int B, int R);

/* Fixes f to params (NULL: unfixes): makes, or drops, the tables of input projections. */
baton_status baton_decode_fix(baton_backend *be, const baton_s2s *m, baton_decode_fixed *f, const float *params,
                              const baton_param_table *t);

/* acts->in_table and enc_table for a decode call with params: f's tables when they were made from
 * them, else NULL. */
void baton_decode_use_fixed(baton_s2s_acts *acts, const baton_decode_fixed *f, const float *params);

/* Frees f's tables. */
void baton_decode_fixed_free(baton_backend *be, baton_decode_fixed *f);

#endif
