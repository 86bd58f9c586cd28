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

#endif
