/* cpu_internal.h: the CPU backend's loop ops, shared between cpu_backend.c (the table) and cpu_ops.c. */
#ifndef BATON_CPU_INTERNAL_H
#define BATON_CPU_INTERNAL_H

#include "baton/backend.h"

/* One time step of a fused cell over all (b, j), through cell_math.h. */
baton_status baton_cpu_cell_forward(baton_backend *be, baton_cell cell, const baton_cell_fwd_args *a);
/* The backward of one time step, through cell_math.h. */
baton_status baton_cpu_cell_backward(baton_backend *be, baton_cell cell, const baton_cell_bwd_args *a);
/* y = alpha x + beta y. */
baton_status baton_cpu_axpby(baton_backend *be, float *y, const float *x, float alpha, float beta, size_t n);
/* out[j] += column sums of in (rows, cols). */
baton_status baton_cpu_colsum_add(baton_backend *be, float *out, const float *in, int rows, int cols);
/* *out = sum of squares, accumulated in double. */
baton_status baton_cpu_sumsq(baton_backend *be, float *out, const float *x, size_t n);
/* y = x * dropout scale from Philox. */
baton_status baton_cpu_dropout(baton_backend *be, float *y, const float *x, size_t n, float p, uint64_t seed,
                               uint32_t purpose, uint32_t counter);
/* out rows = table rows picked by ids. */
baton_status baton_cpu_embed_gather(baton_backend *be, float *out, const int *ids, const float *table, int n, int dim);
/* dtable rows += dout rows, in id order. */
baton_status baton_cpu_embed_scatter_add(baton_backend *be, float *dtable, const int *ids, const float *dout, int n,
                                         int dim);

#endif
