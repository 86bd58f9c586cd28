/* optim.c: optimizer state, learning-rate schedule and the update step (optim.h). */
#include "baton/optim.h"

#include <math.h>
#include <string.h>

baton_optim_config baton_optim_defaults(void)
{
    baton_optim_config c;
    memset(&c, 0, sizeof c);
    c.kind = BATON_OPT_ADAM;
    c.lr = 1e-3f;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    c.max_norm = 5.0f;
    c.decay = BATON_LR_CONSTANT;
    c.decay_rate = 0.5f;
    c.decay_every = 1000;
    return c;
}

baton_status baton_optim_create(baton_optim *o, baton_backend *be, const baton_optim_config *cfg,
                                const baton_param_table *t)
{
    memset(o, 0, sizeof *o);
    BATON_REQUIRE(cfg->kind == BATON_OPT_ADAM || cfg->kind == BATON_OPT_SGD, "optimizer: unknown kind %d",
                  (int)cfg->kind);
    BATON_REQUIRE(cfg->lr > 0.0f, "learning rate %g, expected > 0", (double)cfg->lr);
    BATON_REQUIRE(cfg->beta1 >= 0.0f && cfg->beta1 < 1.0f && cfg->beta2 >= 0.0f && cfg->beta2 < 1.0f,
                  "Adam betas (%g, %g), expected each in [0, 1)", (double)cfg->beta1, (double)cfg->beta2);
    BATON_REQUIRE(cfg->eps > 0.0f && cfg->weight_decay >= 0.0f, "Adam eps %g (expected > 0), weight decay %g "
                  "(expected >= 0)", (double)cfg->eps, (double)cfg->weight_decay);
    BATON_REQUIRE(cfg->warmup >= 0, "warm-up %d steps, expected >= 0", cfg->warmup);
    BATON_REQUIRE(cfg->decay != BATON_LR_EXP || (cfg->decay_rate > 0.0f && cfg->decay_rate <= 1.0f &&
                                                 cfg->decay_every > 0),
                  "exponential decay: rate %g every %d steps, expected 0 < rate <= 1 and every > 0",
                  (double)cfg->decay_rate, cfg->decay_every);
    BATON_REQUIRE(cfg->ema >= 0.0f && cfg->ema < 1.0f, "moving-average decay %g, expected 0 (none) or in (0, 1)",
                  (double)cfg->ema);
    o->cfg = *cfg;
    o->n = t->total;
    if (cfg->kind == BATON_OPT_ADAM) {
        BATON_TRY(baton_param_buffer_alloc(be, t, &o->m, "Adam first moment"));
        BATON_TRY(baton_param_buffer_alloc(be, t, &o->v, "Adam second moment"));
    }
    if (cfg->ema > 0.0f)
        BATON_TRY(baton_param_buffer_alloc(be, t, &o->ema, "moving average of the weights"));
    BATON_TRY(be->ops->alloc(be, (void **)&o->hyper, sizeof *o->hyper, "optimizer hyper-parameters"));
    return be->ops->alloc(be, (void **)&o->sumsq, sizeof(float), "gradient norm");
}

void baton_optim_destroy(baton_optim *o, baton_backend *be)
{
    void *bufs[] = {o->m, o->v, o->ema, o->sumsq, o->hyper};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        if (bufs[i])
            be->ops->free(be, bufs[i]);
    memset(o, 0, sizeof *o);
}

baton_status baton_optim_ema_reset(baton_optim *o, baton_backend *be, const float *params)
{
    return o->ema ? be->ops->copy(be, o->ema, params, o->n * sizeof(float)) : BATON_OK;
}

float baton_optim_ema_decay(const baton_optim_config *cfg, long step)
{
    float early = (1.0f + (float)step) / (10.0f + (float)step);
    return cfg->ema < early ? cfg->ema : early;
}

float baton_optim_lr(const baton_optim_config *cfg, long step)
{
    double lr = cfg->lr;
    if (cfg->warmup > 0 && step < cfg->warmup)
        return (float)(lr * (double)step / cfg->warmup);
    long after = step - cfg->warmup;
    switch (cfg->decay) {
    case BATON_LR_CONSTANT: break;
    case BATON_LR_INVSQRT: lr *= sqrt((double)(cfg->warmup > 0 ? cfg->warmup : 1) / (double)(step > 0 ? step : 1)); break;
    case BATON_LR_EXP: lr *= pow(cfg->decay_rate, (double)after / cfg->decay_every); break;
    }
    return (float)lr;
}

baton_optim_hyper baton_optim_next(const baton_optim *o, int accumulated)
{
    long step = o->step + 1;
    return (baton_optim_hyper){
        .kind = o->cfg.kind, .lr = baton_optim_lr(&o->cfg, step), .beta1 = o->cfg.beta1, .beta2 = o->cfg.beta2,
        .eps = o->cfg.eps, .weight_decay = o->cfg.weight_decay, .max_norm = o->cfg.max_norm,
        .grad_scale = 1.0f / (float)(accumulated > 0 ? accumulated : 1),
        .ema = baton_optim_ema_decay(&o->cfg, step), .step = step,
    };
}

baton_status baton_optim_step_at(baton_optim *o, baton_backend *be, float *params, float *grads,
                                 const baton_optim_hyper *h)
{
    BATON_TRY(be->ops->sumsq(be, o->sumsq, grads, o->n));
    BATON_TRY(be->ops->optim_update(be, o->cfg.kind, h, params, baton_backend_bf16_twin(be, params), grads, o->m,
                                    o->v, o->ema, o->n, o->sumsq));
    return be->ops->zero(be, grads, o->n * sizeof(float));
}

baton_status baton_optim_step(baton_optim *o, baton_backend *be, float *params, float *grads, int accumulated)
{
    BATON_REQUIRE(accumulated >= 1, "optimizer step: %d accumulated batches, expected >= 1", accumulated);
    baton_optim_hyper h = baton_optim_next(o, accumulated);
    o->step++;
    BATON_TRY(be->ops->upload(be, o->hyper, &h, sizeof h));
    return baton_optim_step_at(o, be, params, grads, o->hyper);
}
