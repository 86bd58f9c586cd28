/* test_nan_guard.c: a training step whose loss or gradient norm is NaN or Inf is skipped whole.
 *
 * On one backend (argument: cpu, the default, or cuda: exit 77 where no CUDA backend can be made,
 * so the gpu suite runs it on a GPU or on the CUDA emulation), in fp32 and in bf16, a small
 * attention LSTM on the built-in numbers task takes one good step, then four bad ones:
 *   1. a real Inf loss with finite gradients: the output layer's bias at +-FLT_MAX makes the
 *      log-softmax overflow (-log p = Inf for the class at -FLT_MAX, which label smoothing counts),
 *      while its gradient p - q stays finite: only the loss folded into the gradients (trainer.h)
 *      can catch it;
 *   2. one output weight at 3.4e38, finite in fp32 but past bf16's rounding boundary to Inf
 *      (3.3962e38; the largest finite bf16 is 3.3895e38): in bf16 the GEMM operand rounds to Inf
 *      and the logits, the loss and the gradients turn non-finite; in fp32 the logits reach ~1e38
 *      and the gradient norm overflows (the loss may stay finite);
 *   3. the test hook's NaN gradients (BATON_FAULT_NAN_GRAD: the loss scale is NaN);
 *   4. the test hook's Inf loss (BATON_FAULT_INF_LOSS: finite gradients).
 * After each: the step's sum of squares, read back with its loss, is not finite (that is how the
 * loop learns of the skip); the weights are exactly what they were before the step (the poisoned
 * values of 1 and 2 included), Adam's moments exactly the good step's, and the gradients all zero.
 * Exact, not within a tolerance: a skipped update writes nothing.
 * Then the trainer, its weights restored, takes a good step, and a second trainer that took only
 * the first good step, with its step and batch counters moved past the four skipped ones (a
 * skipped step keeps its number: docs/faults.md), takes the same batch: both end with the same
 * weights and moments, bit for bit. That is what "no trace" means: no update, no stale gradient.
 * Gradient accumulation: a NaN in the first of two batches of an update skips the whole update. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/dataset.h"
#include "baton/toy.h"
#include "baton/trainer.h"
#include "testutil.h"

enum { BATCH = 16 };

typedef struct {
    float *params, *m, *v, *grads;
} snapshot;

static int load(baton_dataset *d)
{
    baton_pairs tr, dv;
    memset(d, 0, sizeof *d);
    if (baton_toy_generate(&tr, "numbers", "train", 400, 1) != BATON_OK)
        return 0;
    int ok = baton_toy_generate(&dv, "numbers", "dev", 20, 1) == BATON_OK &&
             baton_dataset_build(d, &tr, &dv, 1, 0, 64, BATCH) == BATON_OK;
    baton_pairs_free(&tr);
    baton_pairs_free(&dv);
    return ok;
}

static int make_trainer(baton_trainer *tr, baton_backend *be, const baton_dataset *d, int accumulate)
{
    baton_s2s_config mc = {.cell = BATON_CELL_LSTM, .src_vocab = d->sv.size, .tgt_vocab = d->tv.size, .emb = 16,
                           .hidden = 32, .layers = 1, .bidirectional = 1, .score = BATON_ATTN_GENERAL,
                           .dropout = 0.1f, .label_smoothing = 0.1f};
    baton_optim_config oc = baton_optim_defaults();
    if (baton_trainer_create(tr, be, &mc, &oc, d->hb.S_max, d->hb.T_max, BATCH, 7, accumulate) != BATON_OK)
        return 0;
    tr->fault_hook = 1; /* before the first step: a recorded step must hold the loss-poison op */
    return 1;
}

/* Trains on training batch k (fault injected when given). */
static int step(baton_trainer *tr, baton_dataset *d, int k, baton_fault fault)
{
    tr->fault = fault;
    int ok = baton_host_batch_fill(&d->hb, &d->train, &d->train_b, k % d->train_b.count) == BATON_OK &&
             baton_trainer_step(tr, &d->hb, NULL) == BATON_OK;
    tr->fault = BATON_FAULT_NONE;
    return ok;
}

static float *download(baton_trainer *tr, const float *dev)
{
    size_t bytes = baton_param_bytes(&tr->table);
    float *h = tu_malloc(bytes);
    if (tr->be->ops->download(tr->be, h, dev, bytes) != BATON_OK)
        memset(h, 0xff, bytes); /* NaN everywhere: every comparison below fails */
    return h;
}

static snapshot take(baton_trainer *tr)
{
    tr->be->ops->sync(tr->be);
    return (snapshot){download(tr, tr->params), download(tr, tr->opt.m), download(tr, tr->opt.v),
                      download(tr, tr->grads)};
}

static void drop(snapshot *s)
{
    free(s->params), free(s->m), free(s->v), free(s->grads);
    memset(s, 0, sizeof *s);
}

static int same(const float *a, const float *b, size_t bytes)
{
    return memcmp(a, b, bytes) == 0;
}

static int all_zero(const float *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != 0.0f)
            return 0;
    return 1;
}

/* The last batch's loss and the sum of squares of the update it completed. */
static void health(baton_trainer *tr, float *loss, float *sumsq)
{
    if (baton_trainer_health(tr, tr->batches - 1, loss, sumsq) != BATON_OK)
        *loss = *sumsq = 0.0f;
}

/* A bad step on the trainer's current weights (`weights`, already uploaded): skipped, no trace. */
static void expect_skipped(tu_report *r, const char *label, baton_trainer *tr, const float *weights,
                           const snapshot *good, int want_loss_bad /* 1, 0, or -1: either */)
{
    size_t bytes = baton_param_bytes(&tr->table);
    float loss, sumsq;
    health(tr, &loss, &sumsq);
    snapshot now = take(tr);
    printf("%s: loss %g, gradient sum of squares %g\n", label, (double)loss, (double)sumsq);
    TU_EXPECT(r, !baton_optim_sumsq_ok(sumsq), "%s: the update ran with sum of squares %g", label, (double)sumsq);
    if (want_loss_bad > 0)
        TU_EXPECT(r, !isfinite(loss), "%s: loss %g, expected it not finite", label, (double)loss);
    else if (want_loss_bad == 0)
        TU_EXPECT(r, isfinite(loss), "%s: loss %g, expected finite (only the gradients are bad)", label,
                  (double)loss);
    TU_EXPECT(r, same(now.params, weights, bytes), "%s: the weights changed", label);
    TU_EXPECT(r, same(now.m, good->m, bytes) && same(now.v, good->v, bytes), "%s: Adam's moments changed", label);
    TU_EXPECT(r, all_zero(now.grads, bytes / sizeof(float)), "%s: gradients left non-zero", label);
    drop(&now);
}

static void run(tu_report *r, baton_dataset *d, const char *backend, baton_precision prec)
{
    const char *pname = prec == BATON_PRECISION_BF16 ? "bf16" : "fp32";
    baton_backend be;
    baton_backend_options o = {.threads = 1, .precision = prec};
    if (baton_backend_create_ex(&be, backend, &o) != BATON_OK) {
        TU_EXPECT(r, 0, "%s %s: no backend", backend, pname);
        return;
    }
    baton_trainer a, b;
    if (!make_trainer(&a, &be, d, 1) || !make_trainer(&b, &be, d, 1)) {
        TU_EXPECT(r, 0, "%s %s: no trainer", backend, pname);
        baton_backend_destroy(&be);
        return;
    }
    size_t bytes = baton_param_bytes(&a.table);
    int bias = baton_param_find(&a.table, "generator.bias"), weight = baton_param_find(&a.table, "generator.weight");
    TU_EXPECT(r, bias >= 0 && weight >= 0, "the generator's parameters by name");
    float loss, sumsq;
    char label[128];

    /* the good step */
    TU_EXPECT(r, step(&a, d, 0, BATON_FAULT_NONE), "step 1");
    health(&a, &loss, &sumsq);
    TU_EXPECT(r, isfinite(loss) && baton_optim_sumsq_ok(sumsq) && sumsq > 0.0f, "step 1: loss %g, sum of squares %g",
              (double)loss, (double)sumsq);
    snapshot good = take(&a);

    /* 1: the output bias at +-FLT_MAX: Inf loss, finite gradients */
    float *poisoned = tu_malloc(bytes);
    memcpy(poisoned, good.params, bytes);
    poisoned[a.table.items[bias].offset + 1] = FLT_MAX;
    poisoned[a.table.items[bias].offset + 2] = -FLT_MAX;
    a.be->ops->upload(a.be, a.params, poisoned, bytes);
    TU_EXPECT(r, step(&a, d, 1, BATON_FAULT_NONE), "bad step 1");
    snprintf(label, sizeof label, "%s %s: output bias at +-FLT_MAX (Inf loss, finite gradients)", backend, pname);
    expect_skipped(r, label, &a, poisoned, &good, 1);

    /* 2: one output weight beyond bf16's range */
    memcpy(poisoned, good.params, bytes);
    poisoned[a.table.items[weight].offset] = 3.4e38f;
    a.be->ops->upload(a.be, a.params, poisoned, bytes);
    TU_EXPECT(r, step(&a, d, 2, BATON_FAULT_NONE), "bad step 2");
    snprintf(label, sizeof label, "%s %s: an output weight of 3.4e38 (Inf in bf16)", backend, pname);
    expect_skipped(r, label, &a, poisoned, &good, prec == BATON_PRECISION_BF16 ? 1 : -1);
    a.be->ops->upload(a.be, a.params, good.params, bytes);

    /* 3, 4: the test hook */
    TU_EXPECT(r, step(&a, d, 3, BATON_FAULT_NAN_GRAD), "bad step 3");
    snprintf(label, sizeof label, "%s %s: hook, NaN gradients", backend, pname);
    expect_skipped(r, label, &a, good.params, &good, 0);
    TU_EXPECT(r, step(&a, d, 4, BATON_FAULT_INF_LOSS), "bad step 4");
    snprintf(label, sizeof label, "%s %s: hook, Inf loss", backend, pname);
    expect_skipped(r, label, &a, good.params, &good, 1);

    /* the next good step leaves no difference to a run that never saw the bad ones */
    TU_EXPECT(r, step(&b, d, 0, BATON_FAULT_NONE), "b: step 1");
    b.opt.step += 4, b.batches += 4; /* the skipped steps keep their numbers */
    TU_EXPECT(r, step(&a, d, 5, BATON_FAULT_NONE) && step(&b, d, 5, BATON_FAULT_NONE), "the good step after");
    float la, lb;
    health(&a, &la, &sumsq);
    health(&b, &lb, &sumsq);
    snapshot sa = take(&a), sb = take(&b);
    snprintf(label, sizeof label, "%s %s: after the skipped steps", backend, pname);
    TU_EXPECT(r, la == lb && isfinite(la), "%s: loss %.9g, without them %.9g", label, (double)la, (double)lb);
    TU_EXPECT(r, same(sa.params, sb.params, bytes) && !same(sa.params, good.params, bytes),
              "%s: the weights differ from a run without them (or did not move)", label);
    TU_EXPECT(r, same(sa.m, sb.m, bytes) && same(sa.v, sb.v, bytes), "%s: the moments differ", label);
    printf("%s: loss %.9g, equal to a run without them, weights and moments bit for bit: %s\n", label, (double)la,
           same(sa.params, sb.params, bytes) && same(sa.m, sb.m, bytes) ? "yes" : "NO");
    drop(&sa), drop(&sb), drop(&good);
    free(poisoned);
    baton_trainer_destroy(&a);
    baton_trainer_destroy(&b);

    /* accumulation: NaN in the first batch of two skips the update they make together */
    baton_trainer c;
    if (make_trainer(&c, &be, d, 2)) {
        TU_EXPECT(r, step(&c, d, 0, BATON_FAULT_NONE) && step(&c, d, 1, BATON_FAULT_NONE), "c: update 1");
        snapshot before = take(&c);
        TU_EXPECT(r, step(&c, d, 2, BATON_FAULT_NAN_GRAD) && step(&c, d, 3, BATON_FAULT_NONE), "c: update 2");
        snprintf(label, sizeof label, "%s %s: --accumulate 2, NaN gradients in the first batch", backend, pname);
        expect_skipped(r, label, &c, before.params, &before, 0);
        drop(&before);
        baton_trainer_destroy(&c);
    }
    baton_backend_destroy(&be);
}

int main(int argc, char **argv)
{
    const char *backend = argc > 1 ? argv[1] : "cpu";
    if (strcmp(backend, "cpu") != 0) {
        baton_backend probe;
        if (baton_backend_create(&probe, backend, 1) != BATON_OK) {
            printf("nan_guard: skipped: no %s backend here\n", backend);
            return TU_EXIT_SKIP;
        }
        baton_backend_destroy(&probe);
    }
    tu_report r = {0, 0};
    baton_dataset d;
    if (!load(&d)) {
        printf("nan_guard: cannot build the numbers task\n");
        return 1;
    }
    run(&r, &d, backend, BATON_PRECISION_FP32);
    run(&r, &d, backend, BATON_PRECISION_BF16);
    baton_dataset_free(&d);
    return tu_summary(&r, "nan guard");
}
