/* optim.h: the optimizer over the flat parameter buffer: Adam (AdamW's decoupled weight decay
 * when weight_decay > 0) or SGD, global-norm gradient clipping, gradient accumulation, and the
 * learning-rate schedule. One update is one op over one buffer (optim_math.h); the gradient norm
 * stays on the device. */
#ifndef BATON_OPTIM_H
#define BATON_OPTIM_H

#include "baton/backend.h"
#include "baton/optim_math.h"
#include "baton/param.h"

typedef enum {
    BATON_LR_CONSTANT = 0, /* lr after warm-up */
    BATON_LR_INVSQRT = 1,  /* lr * sqrt(warmup / step) after warm-up (Transformer-style) */
    BATON_LR_EXP = 2,      /* lr * rate^((step - warmup) / every) after warm-up */
} baton_lr_decay;

typedef struct {
    baton_opt_kind kind;
    float lr, beta1, beta2, eps, weight_decay;
    float max_norm;       /* global gradient-norm clip; <= 0: off */
    int warmup;           /* steps of linear warm-up from lr/warmup to lr; 0: none */
    baton_lr_decay decay;
    float decay_rate;     /* BATON_LR_EXP */
    int decay_every;      /* BATON_LR_EXP: steps per factor of decay_rate */
    float ema;            /* decay of the weights' moving average per update (0.999: ~1000 updates); 0: none */
} baton_optim_config;

typedef struct {
    baton_optim_config cfg;
    float *m, *v;  /* flat buffers like the parameters (Adam only) */
    float *ema;    /* flat like the parameters: their moving average (cfg.ema > 0), else NULL */
    float *sumsq;  /* (1) the gradients' sum of squares, on the device */
    baton_optim_hyper *hyper; /* (1) device: baton_optim_step's upload of the update's hyper-parameters */
    size_t n;      /* floats in a flat buffer */
    long step;     /* updates done */
} baton_optim;

/* Defaults: Adam, lr 1e-3, betas (0.9, 0.999), eps 1e-8, no decay, clip 5, no warm-up. */
baton_optim_config baton_optim_defaults(void);

/* Checks the configuration and allocates the moments (zeroed) and the moving average (set it with
 * baton_optim_ema_reset) for the table's flat layout. */
baton_status baton_optim_create(baton_optim *o, baton_backend *be, const baton_optim_config *cfg,
                                const baton_param_table *t);

/* Sets the moving average (when there is one) to the n floats of params: its start. */
baton_status baton_optim_ema_reset(baton_optim *o, baton_backend *be, const float *params);

/* The moving average's decay at update number step (from 1): cfg.ema, lowered early to
 * (1 + step) / (10 + step), so that the first updates do not tie the average to the initial
 * weights (TensorFlow's ExponentialMovingAverage with num_updates). */
float baton_optim_ema_decay(const baton_optim_config *cfg, long step);

/* Frees the moments and the moving average. */
void baton_optim_destroy(baton_optim *o, baton_backend *be);

/* The learning rate of update number `step` (from 1) under the schedule. */
float baton_optim_lr(const baton_optim_config *cfg, long step);

/* The hyper-parameters of the next update (number o->step + 1) from grads holding the sum of
 * `accumulated` batches' mean-loss gradients: learning rate, step, 1/accumulated. */
baton_optim_hyper baton_optim_next(const baton_optim *o, int accumulated);

/* One update with hyper-parameters that the caller put in device memory at h (baton_optim_next's,
 * uploaded with a batch), the moving average's in the same pass, then zeroes grads; the caller
 * advances o->step. Enqueues only: nothing waits, so a training step can be recorded and replayed. */
baton_status baton_optim_step_at(baton_optim *o, baton_backend *be, float *params, float *grads,
                                 const baton_optim_hyper *h);

/* baton_optim_step_at with baton_optim_next(o, accumulated) uploaded first (an upload waits). */
baton_status baton_optim_step(baton_optim *o, baton_backend *be, float *params, float *grads, int accumulated);

#endif
