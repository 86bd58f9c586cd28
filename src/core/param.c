/* param.c: the parameter table and its flat buffers. */
#include "baton/param.h"

#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "baton/rng.h"

void baton_param_table_init(baton_param_table *t)
{
    memset(t, 0, sizeof *t);
}

void baton_param_table_free(baton_param_table *t)
{
    free(t->items);
    memset(t, 0, sizeof *t);
}

baton_status baton_param_add(baton_param_table *t, int *index, const char *name, int ndim, const int64_t *shape)
{
    BATON_REQUIRE(strlen(name) < BATON_PARAM_NAME_MAX, "parameter name '%s': expected fewer than %d characters",
                  name, BATON_PARAM_NAME_MAX);
    BATON_REQUIRE(ndim >= 1 && ndim <= BATON_PARAM_MAX_NDIM, "parameter '%s': expected 1 to %d dimensions, got %d",
                  name, BATON_PARAM_MAX_NDIM, ndim);
    BATON_REQUIRE(baton_param_find(t, name) < 0, "parameter '%s' is already in the table", name);
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        BATON_REQUIRE(shape[d] > 0, "parameter '%s': dimension %d is %lld, expected > 0", name, d,
                      (long long)shape[d]);
        /* kernels and cuBLAS index a tensor with 32-bit ints (checked per factor: no overflow) */
        BATON_REQUIRE(shape[d] <= INT32_MAX && numel <= (size_t)INT32_MAX / (size_t)shape[d],
                      "parameter '%s': more than 2^31-1 elements (dimension %d is %lld), expected fewer; lower "
                      "--emb, --hidden or the vocabulary size",
                      name, d, (long long)shape[d]);
        numel *= (size_t)shape[d];
    }
    if (t->count == t->cap) {
        int cap = t->cap ? 2 * t->cap : 32;
        baton_param *items = realloc(t->items, (size_t)cap * sizeof *items);
        if (!items)
            return BATON_ERROR(BATON_ERR_OOM, "parameter table: cannot grow to %d rows", cap);
        t->items = items;
        t->cap = cap;
    }
    baton_param *p = &t->items[t->count];
    memset(p, 0, sizeof *p);
    strcpy(p->name, name);
    p->ndim = ndim;
    memcpy(p->shape, shape, (size_t)ndim * sizeof *shape);
    p->numel = numel;
    p->offset = t->total;
    t->total += (numel + BATON_PARAM_ALIGN_FLOATS - 1) / BATON_PARAM_ALIGN_FLOATS * BATON_PARAM_ALIGN_FLOATS;
    if (index)
        *index = t->count;
    t->count++;
    return BATON_OK;
}

int baton_param_find(const baton_param_table *t, const char *name)
{
    for (int i = 0; i < t->count; i++)
        if (strcmp(t->items[i].name, name) == 0)
            return i;
    return -1;
}

size_t baton_param_bytes(const baton_param_table *t)
{
    return t->total * sizeof(float);
}

void baton_param_init_uniform(const baton_param_table *t, float *host, int index, float bound, uint64_t seed)
{
    const baton_param *p = &t->items[index];
    float *w = host + p->offset;
    for (size_t i = 0; i < p->numel; i++)
        w[i] = bound * (2.0f * baton_rng_uniform(seed, BATON_RNG_INIT | (uint32_t)index, 0, i) - 1.0f);
}

baton_status baton_param_buffer_alloc(baton_backend *be, const baton_param_table *t, float **buf, const char *what)
{
    size_t bytes = baton_param_bytes(t);
    BATON_REQUIRE(bytes > 0, "%s: the parameter table is empty", what);
    BATON_TRY(be->ops->alloc(be, (void **)buf, bytes, what));
    return be->ops->zero(be, *buf, bytes);
}

baton_status baton_param_weights_alloc(baton_backend *be, const baton_param_table *t, float **buf)
{
    BATON_TRY(baton_param_buffer_alloc(be, t, buf, "parameters"));
    return baton_backend_bf16_mirror(be, *buf, baton_param_bytes(t) / sizeof(float), 1);
}
