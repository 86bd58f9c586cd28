/* arena.h: activations and workspaces come from one device allocation made at setup.
 *
 * Layout code is written once and run twice: first against a measuring arena (no memory; it
 * only adds up aligned sizes), then against a real arena of exactly that size. Inside a step a
 * layer carves nothing new; it uses the pointers it carved at setup. */
#ifndef BATON_ARENA_H
#define BATON_ARENA_H

#include <stddef.h>

#include "baton/backend.h"
#include "baton/status.h"

#define BATON_ARENA_ALIGN 256

typedef struct {
    baton_backend *be; /* owner of base; NULL while measuring */
    char *base;        /* (size) bytes of device memory; NULL while measuring */
    size_t size, used;
} baton_arena;

/* An arena that hands out no memory and only counts the bytes asked of it. */
baton_arena baton_arena_measuring(void);

/* Allocates a real arena of `bytes` on the backend. */
baton_status baton_arena_create(baton_arena *a, baton_backend *be, size_t bytes);

/* Frees a real arena; a measuring one is left as it is. */
void baton_arena_destroy(baton_arena *a);

/* Carves `count` floats (256-byte aligned); *ptr is NULL while measuring. Fails, naming `what`,
 * when a real arena is exhausted: that means it was sized for a smaller shape. */
baton_status baton_arena_floats(baton_arena *a, float **ptr, size_t count, const char *what);

#endif
