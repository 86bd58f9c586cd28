/* trainer.h: one training run's state and its step: the model, its flat buffers, the optimizer,
 * the activation arena and the device copies of a batch, all made once at set-up for the
 * largest batch shape; a step uploads a batch's ids, runs forward, backward and (every
 * `accumulate` batches) the optimizer, and brings back one float: the batch's summed loss. */
#ifndef BATON_TRAINER_H
#define BATON_TRAINER_H

#include "baton/batch.h"
#include "baton/dataset.h"
#include "baton/optim.h"
#include "baton/seq2seq.h"

typedef struct {
    baton_backend *be;
    baton_s2s model;
    baton_param_table table;
    float *params, *grads;          /* flat buffers (device) */
    baton_optim opt;
    baton_arena arena;
    baton_s2s_acts acts;
    int S_max, T_max, B_max;
    int *d_src, *d_src_len, *d_tgt_in, *d_tgt_out, *d_tgt_len; /* device copies of a batch's ids */
    uint64_t seed;                  /* weights and dropout */
    int accumulate;                 /* batches per optimizer update */
    int pending;                    /* batches accumulated since the last update */
    long batches;                   /* batches trained on */
} baton_trainer;

/* Builds the model with fresh weights from seed, the optimizer, and buffers for batches up to
 * (S_max, T_max, B_max), the backend's embedding-backward scratch included; accumulate >= 1
 * batches per update. */
baton_status baton_trainer_create(baton_trainer *tr, baton_backend *be, const baton_s2s_config *mcfg,
                                  const baton_optim_config *ocfg, int S_max, int T_max, int B_max, uint64_t seed,
                                  int accumulate);

/* Frees everything baton_trainer_create made. */
void baton_trainer_destroy(baton_trainer *tr);

/* Runs the recurrent layers through `impl` ("fused", the default, or "cudnn[-ALGO]"; rnn.h). */
baton_status baton_trainer_use_rnn_impl(baton_trainer *tr, const char *impl);

/* Trains on one batch; *loss_sum receives the batch's summed token loss (divide by tgt_tokens for
 * the mean). Dropout masks are keyed by the batch counter, so a run is repeatable. */
baton_status baton_trainer_step(baton_trainer *tr, const baton_host_batch *hb, float *loss_sum);

/* Summed loss of one batch without dropout or any update (validation). */
baton_status baton_trainer_eval(baton_trainer *tr, const baton_host_batch *hb, float *loss_sum);

/* Mean token loss over the dataset's validation batches (no dropout, no update). */
baton_status baton_trainer_validate(baton_trainer *tr, baton_dataset *d, double *mean_loss);

#endif
