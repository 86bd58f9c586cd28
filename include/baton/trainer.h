/* trainer.h: one training run's state and its step: the model, its flat buffers, the optimizer,
 * the activation arena and the device copies of a batch, all made once at set-up for the
 * largest batch shape. A step enqueues one upload (the batch's ids and the values that change
 * from batch to batch: baton_step_scalars), forward, backward and (every `accumulate` batches)
 * the optimizer, and waits for nothing: its loss stays on the device until asked for. With
 * be->versions.step = 1 (graph) the work of a step is recorded once per batch shape as a graph
 * and replayed: one launch a step. */
#ifndef BATON_TRAINER_H
#define BATON_TRAINER_H

#include "baton/batch.h"
#include "baton/dataset.h"
#include "baton/dist.h"
#include "baton/optim.h"
#include "baton/seq2seq.h"

/* What changes from batch to batch besides the ids: in device memory beside them, read by the
 * kernels when they run, so that a recorded step replays with this batch's values. */
typedef struct {
    baton_optim_hyper hyper; /* the update this batch completes, when it completes one */
    float loss_scale;        /* 1 / tgt_tokens: the mean's factor in dlogits (NaN: a fault-injected step) */
    uint32_t counter;        /* the batch counter: keys this batch's dropout masks */
    float poison;            /* added to the batch's loss when the fault hook is on: 0, or +Inf to inject */
} baton_step_scalars;

/* Faults a test can inject into a batch (baton_trainer.fault, the test hook of docs/faults.md). */
typedef enum {
    BATON_FAULT_NONE = 0,
    BATON_FAULT_NAN_GRAD = 1, /* every gradient NaN (the loss scale is NaN); the loss stays as computed */
    BATON_FAULT_INF_LOSS = 2, /* the loss +Inf; the gradients stay finite */
} baton_fault;

/* Batches whose summed loss stays readable after their step (baton_trainer_loss). */
#define BATON_TRAINER_LOSSES 16
/* Recorded steps kept, one per batch shape and kind (with or without the update); beyond, eager. */
#define BATON_TRAINER_GRAPHS 64

typedef struct {
    int B, S, T, update;
    void *graph; /* the backend's replayable recording */
} baton_step_graph;

typedef struct {
    baton_backend *be;
    baton_s2s model;
    baton_param_table table;
    float *params, *grads;          /* flat buffers (device) */
    baton_optim opt;
    baton_arena arena;
    baton_s2s_acts acts;
    int S_max, T_max, B_max;
    void *d_block;                  /* device: scalars, then a batch's ids at offsets fixed for the largest shape */
    void *h_block;                  /* host: the same layout, packed for each batch and uploaded in one copy */
    size_t block_bytes;
    baton_step_scalars *d_scalars;  /* (1) in d_block */
    int *d_src, *d_src_len, *d_tgt_in, *d_tgt_out, *d_tgt_len; /* in d_block: (S,B) (B) (T,B) (T,B) (B) */
    float *d_losses;                /* (BATON_TRAINER_LOSSES, 2) device: at k % LOSSES, batch k's summed loss and,
                                     * when batch k completed an update, that update's gradient sum of squares */
    baton_step_graph graphs[BATON_TRAINER_GRAPHS];
    int n_graphs;
    int eager_only;                 /* 1 while the recurrent layers run through cuDNN (host-side lengths) */
    uint64_t seed;                  /* weights and dropout */
    int accumulate;                 /* batches per optimizer update */
    int pending;                    /* batches accumulated since the last update */
    long batches;                   /* batches trained on */
    int fault_hook;                 /* set before the first step: steps add d_scalars->poison to their loss */
    baton_fault fault;              /* injected into the batches stepped while it is set (needs fault_hook
                                     * for BATON_FAULT_INF_LOSS) */
    char alloc_hint[768];           /* what set-up needs and the options that set it (backend.h alloc_hint) */
    baton_dist *dist;               /* data parallel: gradients summed over its ranks at each update; NULL: alone */
    int reducing;                   /* the batch being stepped completes an update that sums over ranks */
    int ema_in;                     /* params hold the moving average, opt.ema the trained weights */
} baton_trainer;

/* Builds the model with fresh weights from seed, the optimizer, and buffers for batches up to
 * (S_max, T_max, B_max), the backend's embedding-backward scratch included; accumulate >= 1
 * batches per update. Out of memory: the failing allocation's line (the size asked, what is free)
 * ends with what training needs in all, the larger part first, and the options that lower each. */
baton_status baton_trainer_create(baton_trainer *tr, baton_backend *be, const baton_s2s_config *mcfg,
                                  const baton_optim_config *ocfg, int S_max, int T_max, int B_max, uint64_t seed,
                                  int accumulate);

/* Frees everything baton_trainer_create made. */
void baton_trainer_destroy(baton_trainer *tr);

/* Runs the recurrent layers through `impl` ("fused", the default, or "cudnn[-ALGO]"; rnn.h). */
baton_status baton_trainer_use_rnn_impl(baton_trainer *tr, const char *impl);

/* Trains data-parallel over d's ranks (dist.h) from now on: each update's gradients are summed
 * over them in buckets as backward goes, through `transport` (auto, mpi, nccl); steps run eagerly
 * (a bucket's start is a host decision); each rank's batches draw their own dropout masks. */
baton_status baton_trainer_use_dist(baton_trainer *tr, baton_dist *d, const char *transport);

/* Trains on one batch: enqueues its work and returns without waiting for the device. Dropout masks
 * are keyed by the batch counter, so a run is repeatable. loss_sum: NULL, or where to put the
 * batch's summed token loss (divide by tgt_tokens for the mean), which waits for the step.
 * The NaN/Inf guard: the batch's loss is folded into the gradients (the first gradient element
 * gets 0 * loss added: unchanged for a finite loss, NaN otherwise), so the update's sum of squares
 * is finite only when every gradient and every loss of its batches is; the optimizer pass skips
 * the update when it is not (optim_math.h), and the gradients are zeroed either way. Nothing waits:
 * the caller learns of a skipped update from baton_trainer_health, with the loss it reads anyway. */
baton_status baton_trainer_step(baton_trainer *tr, const baton_host_batch *hb, float *loss_sum);

/* baton_trainer_step for one rank's share of a data-parallel step: hb is this rank's batch, or
 * NULL where the rank has none (the end of an epoch: it adds nothing, but takes part in the
 * update); tgt_tokens is the step's target tokens over all ranks, the mean's denominator. */
baton_status baton_trainer_step_shared(baton_trainer *tr, const baton_host_batch *hb, long tgt_tokens,
                                       float *loss_sum);

/* *loss_sum = the summed token loss of batch number `batch` (0-based, one of the last
 * BATON_TRAINER_LOSSES trained); waits for that batch's step only. */
baton_status baton_trainer_loss(baton_trainer *tr, long batch, float *loss_sum);

/* *loss_sum as baton_trainer_loss and, in the same wait, *grad_sumsq: the gradient sum of squares
 * that the update completed by batch `batch` ran with (meaningful only for such a batch). The
 * update was skipped exactly when baton_optim_sumsq_ok(*grad_sumsq) is 0. */
baton_status baton_trainer_health(baton_trainer *tr, long batch, float *loss_sum, float *grad_sumsq);

/* Exchanges the weights with their moving average (--ema; none: nothing), so that validation,
 * decoding and saving read the average from params; a second call restores the trained weights,
 * and a step refuses to run between the two. One copy goes through the host; the backend's
 * copies and uploads keep bf16 mirrors current. */
baton_status baton_trainer_swap_ema(baton_trainer *tr);

/* Where the weights a model file gets lie on the device: their moving average where there is one
 * (in params or in opt.ema, as swapped), else params. */
const float *baton_trainer_model_weights(const baton_trainer *tr);

/* Summed loss of one batch without dropout or any update (validation). */
baton_status baton_trainer_eval(baton_trainer *tr, const baton_host_batch *hb, float *loss_sum);

/* Mean token loss over the dataset's validation batches (no dropout, no update); data parallel,
 * each rank evaluates every N-th batch and the sums are exchanged. */
baton_status baton_trainer_validate(baton_trainer *tr, baton_dataset *d, double *mean_loss);

#endif
