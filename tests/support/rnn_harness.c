/* rnn_harness.c: see rnn_harness.h. */
#include "rnn_harness.h"

#include <stdlib.h>
#include <string.h>

int rh_layer_init(rh_layer *h, const char *device, const baton_rnn_config *cfg, int T, int B, uint64_t seed)
{
    memset(h, 0, sizeof *h);
    h->T = T;
    h->B = B;
    baton_param_table_init(&h->table);
    if (baton_backend_create(&h->be, device, 0) != BATON_OK || baton_rnn_init(&h->rnn, cfg, &h->table, "rnn") != BATON_OK)
        return 1;
    size_t bytes = baton_param_bytes(&h->table);
    float *host = calloc(1, bytes);
    if (!host)
        return 1;
    baton_rnn_init_weights(&h->rnn, &h->table, host, seed);
    baton_arena measure = baton_arena_measuring();
    int bad = baton_param_buffer_alloc(&h->be, &h->table, &h->params, "parameters") != BATON_OK ||
              baton_param_buffer_alloc(&h->be, &h->table, &h->grads, "gradients") != BATON_OK ||
              h->be.ops->upload(&h->be, h->params, host, bytes) != BATON_OK ||
              baton_rnn_acts_carve(&h->acts, &measure, &h->rnn, T, B) != BATON_OK ||
              baton_arena_create(&h->arena, &h->be, measure.used) != BATON_OK ||
              baton_rnn_acts_carve(&h->acts, &h->arena, &h->rnn, T, B) != BATON_OK;
    free(host);
    return bad;
}

void rh_layer_free(rh_layer *h)
{
    baton_arena_destroy(&h->arena);
    if (h->be.ops) {
        h->be.ops->free(&h->be, h->params);
        h->be.ops->free(&h->be, h->grads);
    }
    baton_param_table_free(&h->table);
    baton_backend_destroy(&h->be);
}

size_t rh_state_numel(const rh_layer *h, int B)
{
    return (size_t)h->rnn.cfg.layers * h->rnn.dirs * B * h->rnn.hd;
}
