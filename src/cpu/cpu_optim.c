/* cpu_optim.c: the optimizer update over the flat buffers, through optim_math.h. */
#include <math.h>

#include "cpu_internal.h"

BATON_CPU_CLONES
baton_status baton_cpu_optim_update(baton_backend *be, baton_opt_kind kind, const baton_optim_hyper *h, float *params,
                                    uint16_t *params_bf16, const float *grads, float *m, float *v, float *ema, size_t n,
                                    const float *grad_sumsq)
{
    (void)be;
    (void)params_bf16; /* the cpu keeps no mirrors: its bf16 GEMMs round their operands */
    BATON_REQUIRE(kind == BATON_OPT_SGD || (m && v), "optimizer update: Adam needs both moment buffers");
    BATON_REQUIRE(!ema || (h->ema >= 0.0f && h->ema < 1.0f), "optimizer update: moving-average decay %g, expected "
                  "in [0, 1)", (double)h->ema);
    BATON_REQUIRE(h->step >= 1, "optimizer update: step %ld, expected >= 1", h->step);
    float factor = baton_optim_grad_factor(h, *grad_sumsq);
    long work = (long)n;
    if (kind == BATON_OPT_SGD) {
        BATON_PARALLEL_FOR
        for (long i = 0; i < work; i++) {
            baton_sgd_at(h, factor, params + i, grads + i);
            if (ema)
                baton_ema_at(h->ema, factor, ema + i, params[i]);
        }
        return BATON_OK;
    }
    float bc1 = baton_adam_bias_correction(h->beta1, h->step), bc2 = baton_adam_bias_correction(h->beta2, h->step);
    BATON_PARALLEL_FOR
    for (long i = 0; i < work; i++) {
        baton_adam_at(h, factor, params + i, grads + i, m + i, v + i, bc1, bc2);
        if (ema)
            baton_ema_at(h->ema, factor, ema + i, params[i]);
    }
    return BATON_OK;
}
