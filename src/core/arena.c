/* arena.c: bump allocation from one block; see arena.h for the measure-then-carve protocol. */
#include "baton/arena.h"

#include <stdint.h>
#include <string.h>

baton_arena baton_arena_measuring(void)
{
    baton_arena a;
    memset(&a, 0, sizeof a);
    return a;
}

baton_status baton_arena_create(baton_arena *a, baton_backend *be, size_t bytes)
{
    memset(a, 0, sizeof *a);
    if (bytes == 0)
        bytes = BATON_ARENA_ALIGN;
    BATON_TRY(be->ops->alloc(be, (void **)&a->base, bytes, "activation arena"));
    a->be = be;
    a->size = bytes;
    /* bf16 precision: GEMM operands carved from here are converted into this mirror when read */
    return baton_backend_bf16_mirror(be, (const float *)a->base, bytes / sizeof(float), 0);
}

void baton_arena_destroy(baton_arena *a)
{
    if (a->be && a->base)
        a->be->ops->free(a->be, a->base);
    memset(a, 0, sizeof *a);
}

baton_status baton_arena_floats(baton_arena *a, float **ptr, size_t count, const char *what)
{
    *ptr = NULL;
    /* kernels and cuBLAS index a tensor with 32-bit ints; refusing here, while the arena is still
     * being measured, keeps a huge batch shape from wrapping an index anywhere later */
    BATON_REQUIRE(count <= (size_t)INT32_MAX,
                  "activations: %s need %zu elements, expected at most 2^31-1 per tensor; "
                  "lower --batch (or --batch-tokens), --max-len, --hidden or the vocabulary size",
                  what, count);
    size_t bytes = (count * sizeof(float) + BATON_ARENA_ALIGN - 1) / BATON_ARENA_ALIGN * BATON_ARENA_ALIGN;
    if (!a->base) {
        a->used += bytes;
        return BATON_OK;
    }
    if (a->used + bytes > a->size)
        return BATON_ERROR(BATON_ERR_OOM,
                           "activation arena: %s needs %zu bytes but only %zu of %zu are left; "
                           "the arena was sized for a smaller batch shape",
                           what, bytes, a->size - a->used, a->size);
    *ptr = (float *)(a->base + a->used);
    a->used += bytes;
    return BATON_OK;
}
