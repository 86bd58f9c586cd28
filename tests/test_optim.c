/* test_optim.c: the optimizer against an independent double-precision transcription of
 * torch.optim.Adam / AdamW / SGD and torch.nn.utils.clip_grad_norm_, over several steps with the
 * clip inactive and active, gradient accumulation, and weight decay; the learning-rate schedule at
 * known steps; gradients zeroed after each step; the weights' moving average (--ema) against the
 * same double transcription of s = d s + (1 - d) w with the early decay (1 + step) / (10 + step);
 * a step with a NaN gradient leaves the weights and the average bit for bit.
 * Tolerance 1e-5 relative norm: each step rounds a handful of float operations per element
 * (~1e-7 each), and Adam's division by sqrt(v) + eps can amplify that where v is small; a wrong
 * bias correction, decay or clip factor moves parameters by 1e-3 relative or more. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/optim.h"
#include "testutil.h"

/* One step of the reference, in double: torch's formulas written out. */
static void reference_step(const baton_optim_config *c, long step, float lr, int accumulated, double *w,
                           const float *g_in, double *m, double *v, size_t n)
{
    double norm = 0.0;
    for (size_t i = 0; i < n; i++)
        norm += ((double)g_in[i] / accumulated) * ((double)g_in[i] / accumulated);
    norm = sqrt(norm);
    double clip = c->max_norm > 0 && norm > c->max_norm ? c->max_norm / norm : 1.0; /* clip_grad_norm_ */
    for (size_t i = 0; i < n; i++) {
        double g = (double)g_in[i] / accumulated * clip;
        if (c->kind == BATON_OPT_SGD) {
            w[i] -= lr * (g + c->weight_decay * w[i]);
            continue;
        }
        w[i] *= 1.0 - lr * c->weight_decay; /* AdamW: decoupled decay */
        m[i] = c->beta1 * m[i] + (1 - c->beta1) * g;
        v[i] = c->beta2 * v[i] + (1 - c->beta2) * g * g;
        double bc1 = 1 - pow(c->beta1, (double)step), bc2 = 1 - pow(c->beta2, (double)step);
        w[i] -= lr / bc1 * m[i] / (sqrt(v[i]) / sqrt(bc2) + c->eps);
    }
}

static void run(tu_report *r, const char *label, baton_optim_config cfg, int accumulated)
{
    baton_backend be;
    baton_param_table t;
    baton_param_table_init(&t);
    int64_t s1[2] = {7, 13}, s2[1] = {50};
    baton_param_add(&t, NULL, "a", 2, s1);
    baton_param_add(&t, NULL, "b", 1, s2);
    baton_optim o;
    float *params = NULL, *grads = NULL;
    int ok = baton_cpu_backend_create(&be, 1) == BATON_OK && baton_optim_create(&o, &be, &cfg, &t) == BATON_OK &&
             baton_param_buffer_alloc(&be, &t, &params, "p") == BATON_OK &&
             baton_param_buffer_alloc(&be, &t, &grads, "g") == BATON_OK;
    size_t n = t.total;
    double *w = calloc(n, sizeof *w), *m = calloc(n, sizeof *m), *v = calloc(n, sizeof *v);
    double *e = calloc(n, sizeof *e);
    float *g = calloc(n, sizeof *g), *before = calloc(2 * n, sizeof *before);
    /* only the tensors' elements are random; the alignment padding stays zero, as in real buffers */
    for (int p = 0; ok && p < t.count; p++) {
        tu_fill_uniform(params + t.items[p].offset, t.items[p].numel, -1, 1, 3, (uint32_t)p);
        for (size_t i = 0; i < t.items[p].numel; i++)
            w[t.items[p].offset + i] = params[t.items[p].offset + i];
    }
    ok = ok && baton_optim_ema_reset(&o, &be, params) == BATON_OK;
    memcpy(e, w, n * sizeof *e);
    double grad_left = 0.0;
    for (long step = 1; ok && step <= 4; step++) {
        memset(g, 0, n * sizeof *g);
        for (int p = 0; p < t.count; p++) /* step 3 has large gradients, so a clip of 5 is active */
            tu_fill_uniform(g + t.items[p].offset, t.items[p].numel, step == 3 ? -3.0f : -0.3f,
                            step == 3 ? 3.0f : 0.3f, 4 + (uint64_t)step, (uint32_t)p);
        memcpy(grads, g, n * sizeof *g);
        ok = baton_optim_step(&o, &be, params, grads, accumulated) == BATON_OK;
        reference_step(&cfg, step, baton_optim_lr(&cfg, step), accumulated, w, g, m, v, n);
        double d = fmin(cfg.ema, (1.0 + step) / (10.0 + step));
        for (size_t i = 0; i < n; i++)
            e[i] = d * e[i] + (1.0 - d) * w[i];
        for (size_t i = 0; i < n; i++)
            grad_left = fmax(grad_left, fabs(grads[i]));
    }
    char name[128];
    snprintf(name, sizeof name, "%s: parameters after 4 steps", label);
    tu_check(r, name, ok ? tu_rel_err(params, w, n) : INFINITY, 1e-5);
    snprintf(name, sizeof name, "%s: gradients zeroed after each step", label);
    tu_check_abs(r, name, grad_left, 0.0);
    if (cfg.ema > 0.0f) {
        snprintf(name, sizeof name, "%s: moving average after 4 steps", label);
        tu_check(r, name, ok ? tu_rel_err(o.ema, e, n) : INFINITY, 1e-5);
        /* a NaN gradient: the step is skipped whole, the average included */
        memcpy(before, params, n * sizeof *params);
        memcpy(before + n, o.ema, n * sizeof *params);
        memset(grads, 0, n * sizeof *grads);
        grads[0] = NAN;
        ok = ok && baton_optim_step(&o, &be, params, grads, 1) == BATON_OK;
        snprintf(name, sizeof name, "%s: a NaN gradient leaves the weights and the average", label);
        TU_EXPECT(r, ok && memcmp(before, params, n * sizeof *params) == 0 &&
                     memcmp(before + n, o.ema, n * sizeof *params) == 0, "%s", name);
    }
    free(w), free(m), free(v), free(e), free(g), free(before);
    be.ops->free(&be, params);
    be.ops->free(&be, grads);
    baton_optim_destroy(&o, &be);
    baton_param_table_free(&t);
    baton_backend_destroy(&be);
}

static void check_schedule(tu_report *r)
{
    baton_optim_config c = baton_optim_defaults();
    c.lr = 0.5f;
    c.warmup = 10;
    double err = fabs(baton_optim_lr(&c, 5) - 0.25) + fabs(baton_optim_lr(&c, 10) - 0.5) + fabs(baton_optim_lr(&c, 99) - 0.5);
    tu_check_abs(r, "schedule: linear warm-up then constant", err, 1e-7);
    c.decay = BATON_LR_INVSQRT;
    err = fabs(baton_optim_lr(&c, 40) - 0.5 * sqrt(10.0 / 40.0));
    tu_check_abs(r, "schedule: inverse square root after warm-up", err, 1e-7);
    c.decay = BATON_LR_EXP;
    c.decay_rate = 0.5f;
    c.decay_every = 100;
    err = fabs(baton_optim_lr(&c, 210) - 0.5 * 0.25);
    tu_check_abs(r, "schedule: exponential decay, two halvings after 200 steps", err, 1e-7);
    c.ema = 0.999f;
    err = fabs(baton_optim_ema_decay(&c, 1) - 2.0 / 11.0) + fabs(baton_optim_ema_decay(&c, 100) - 101.0 / 110.0) +
          fabs(baton_optim_ema_decay(&c, 100000) - 0.999);
    tu_check_abs(r, "schedule: the moving average's decay rises to --ema", err, 1e-6);
}

int main(void)
{
    tu_report r = {0, 0};
    baton_optim_config adam = baton_optim_defaults();
    adam.lr = 0.01f;
    run(&r, "adam", adam, 1);
    adam.weight_decay = 0.1f;
    run(&r, "adamw, 2 accumulated batches", adam, 2);
    adam.ema = 0.9f;
    run(&r, "adamw with a moving average", adam, 1);
    baton_optim_config sgd = baton_optim_defaults();
    sgd.kind = BATON_OPT_SGD;
    sgd.lr = 0.1f;
    sgd.weight_decay = 0.01f;
    run(&r, "sgd with weight decay", sgd, 1);
    sgd.ema = 0.5f;
    run(&r, "sgd with a moving average", sgd, 1);
    check_schedule(&r);
    return tu_summary(&r, "optim");
}
