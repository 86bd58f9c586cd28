/* optim_math.h: per-element optimizer updates, shared by the CPU loop and a CUDA kernel
 * (BATON_HD), over the flat parameter buffer.
 *
 * The global-norm clip is folded into the update: the caller passes the gradients' sum of
 * squares as it lies on the device, and every element scales its gradient by
 *   grad_scale * min(1, max_norm / sqrt(sumsq * grad_scale^2))
 * so that nothing returns to the host between the backward pass and the update.
 *
 * The NaN/Inf guard lives here too, for the same reason: a sum of squares that is not finite (a
 * NaN or Inf gradient, a finite gradient norm beyond FLT_MAX, or a non-finite loss that the
 * trainer folds into the gradients: trainer.c) makes the factor NaN, and the per-element updates
 * then leave the weight and both moments as they are. Every element of the pass decides from the
 * same float, so a step is skipped whole or not at all, on the CPU loop and in the CUDA kernel
 * alike, without the host looking at anything (it learns of the skip later, from the sum of
 * squares it reads with the step's loss). */
#ifndef BATON_OPTIM_MATH_H
#define BATON_OPTIM_MATH_H

#include <math.h>

#include "baton/hd.h"

typedef enum {
    BATON_OPT_ADAM = 0, /* Adam; with weight_decay > 0, AdamW's decoupled decay */
    BATON_OPT_SGD = 1,  /* plain SGD; weight_decay adds decay * w to the gradient */
} baton_opt_kind;

/* Hyper-parameters of one update; step counts from 1 (Adam's bias correction). */
typedef struct {
    baton_opt_kind kind;
    float lr, beta1, beta2, eps, weight_decay;
    float max_norm;   /* global-norm clip; <= 0: off */
    float grad_scale; /* multiplies the gradients first, e.g. 1/k after accumulating k batches */
    long step;
    float ema;        /* this update's decay of the weights' moving average (baton_ema_at) */
} baton_optim_hyper;

/* Whether a gradients' sum of squares lets the update run: finite (it is never negative). Written
 * as comparisons, which NaN fails, so it means the same on the host and in a kernel. */
BATON_HD static inline int baton_optim_sumsq_ok(float sumsq)
{
    return sumsq >= 0.0f && sumsq <= 3.40282347e38f;
}

/* The factor every gradient is multiplied by: accumulation scale times the clip factor; NaN when
 * the sum of squares is not finite, which makes baton_adam_at and baton_sgd_at skip the element. */
BATON_HD static inline float baton_optim_grad_factor(const baton_optim_hyper *h, float sumsq)
{
    if (!baton_optim_sumsq_ok(sumsq))
        return NAN;
    float norm = sqrtf(sumsq) * h->grad_scale;
    float clip = h->max_norm > 0.0f && norm > h->max_norm ? h->max_norm / norm : 1.0f;
    return h->grad_scale * clip;
}

/* 1 - beta^step: Adam's bias correction of update number step (>= 1). */
BATON_HD static inline float baton_adam_bias_correction(float beta, long step)
{
    return 1.0f - powf(beta, (float)step);
}

/* Adam (Kingma & Ba) on one element, as torch.optim.Adam / AdamW compute it; nothing when factor is
 * NaN (a skipped step: w, m and v stay). */
BATON_HD static inline void baton_adam_at(const baton_optim_hyper *h, float factor, float *w, const float *g,
                                          float *m, float *v, float bc1, float bc2)
{
    if (factor != factor)
        return;
    float grad = *g * factor;
    *m = h->beta1 * *m + (1.0f - h->beta1) * grad;
    *v = h->beta2 * *v + (1.0f - h->beta2) * grad * grad;
    float update = (*m / bc1) / (sqrtf(*v / bc2) + h->eps);
    *w -= h->lr * (update + h->weight_decay * *w);
}

/* SGD on one element, with L2 weight decay as torch.optim.SGD; nothing when factor is NaN. */
BATON_HD static inline void baton_sgd_at(const baton_optim_hyper *h, float factor, float *w, const float *g)
{
    if (factor != factor)
        return;
    *w -= h->lr * (*g * factor + h->weight_decay * *w);
}

/* The weights' exponential moving average (Polyak averaging; Marian's --exponential-smoothing),
 * one element after its update: s += (1 - decay) (w - s), the form that loses least when s and w
 * are close; nothing when factor is NaN, so a skipped step leaves the average as it leaves w. */
BATON_HD static inline void baton_ema_at(float decay, float factor, float *s, float w)
{
    if (factor != factor)
        return;
    *s += (1.0f - decay) * (w - *s);
}

#endif
