/* param.h: the parameter table.
 *
 * Every trainable tensor is one row of a table (name, shape, offset) into one flat float buffer;
 * gradients and each optimizer moment are further buffers of the same size and layout. Zeroing,
 * the optimizer update, a gradient all-reduce and a checkpoint are each one pass over one buffer.
 * Offsets are rounded up to 64 floats (256 bytes) so that every tensor starts where vectorised
 * loads, cuBLAS and cuDNN like it to. Names follow PyTorch (design.md, "Parameter names"). */
#ifndef BATON_PARAM_H
#define BATON_PARAM_H

#include <stddef.h>
#include <stdint.h>

#include "baton/backend.h"
#include "baton/status.h"

#define BATON_PARAM_ALIGN_FLOATS 64
#define BATON_PARAM_MAX_NDIM 4
#define BATON_PARAM_NAME_MAX 96

typedef struct {
    char name[BATON_PARAM_NAME_MAX];
    int ndim;
    int64_t shape[BATON_PARAM_MAX_NDIM];
    size_t numel;
    size_t offset; /* in floats from the start of the flat buffer; a multiple of 64 */
} baton_param;

typedef struct {
    baton_param *items; /* (count) */
    int count, cap;
    size_t total; /* floats in the flat buffer, padding included */
} baton_param_table;

/* An empty table. */
void baton_param_table_init(baton_param_table *t);

/* Frees the table's rows. */
void baton_param_table_free(baton_param_table *t);

/* Appends a tensor; its index goes to *index. Fails on a duplicate name or a bad shape. */
baton_status baton_param_add(baton_param_table *t, int *index, const char *name, int ndim, const int64_t *shape);

/* Index of the tensor called name, or -1. */
int baton_param_find(const baton_param_table *t, const char *name);

/* Bytes of one flat buffer (parameters, gradients or one optimizer moment). */
size_t baton_param_bytes(const baton_param_table *t);

/* Fills tensor `index` of a host buffer with U(-bound, bound) drawn from Philox with purpose
 * BATON_RNG_INIT | index, so each tensor's values do not depend on what else is in the table. */
void baton_param_init_uniform(const baton_param_table *t, float *host, int index, float bound, uint64_t seed);

/* One flat device allocation of baton_param_bytes(t), zeroed; `what` names it in errors. */
baton_status baton_param_buffer_alloc(baton_backend *be, const baton_param_table *t, float **buf, const char *what);

/* baton_param_buffer_alloc for the weights themselves: in bf16 precision also their kept bf16
 * mirror (backend.h), which uploads and the optimizer pass keep current, so no GEMM converts a weight. */
baton_status baton_param_weights_alloc(baton_backend *be, const baton_param_table *t, float **buf);

#endif
