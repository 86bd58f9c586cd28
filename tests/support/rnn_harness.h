/* rnn_harness.h: one recurrent layer on the CPU backend with its table, buffers and arena, as the
 * RNN tests and benchmarks need it. */
#ifndef BATON_TESTS_RNN_HARNESS_H
#define BATON_TESTS_RNN_HARNESS_H

#include "baton/rnn.h"

typedef struct {
    baton_backend be;
    baton_rnn rnn;
    baton_param_table table;
    float *params, *grads; /* flat buffers of the table */
    baton_arena arena;
    baton_rnn_acts acts;
    int T, B;              /* capacity the arena was sized for */
} rh_layer;

/* Builds the layer on backend `device` for shapes up to (T, B), with PyTorch-default random weights
 * drawn from `seed`, and zeroed gradients; returns 0 on success (errors already printed). */
int rh_layer_init(rh_layer *h, const char *device, const baton_rnn_config *cfg, int T, int B, uint64_t seed);

/* Frees everything rh_layer_init made. */
void rh_layer_free(rh_layer *h);

/* Number of state elements (L*dirs*B*Hd) of hn/h0 for batch B. */
size_t rh_state_numel(const rh_layer *h, int B);

#endif
