/* test_train_gpu.c: the whole model on the CUDA backend against the CPU backend.
 *   - One forward and backward on the same random weights and batch: the loss and each gradient
 *     tensor of the parameter table on its own, relative norm error <= 1e-4 (fp32 on both sides with TF32 off; the GPU's GEMMs and
 *     reductions sum in other orders, and errors compound through two recurrent stacks, attention
 *     and the softmax: a few 1e-6 per op, so 1e-4 leaves room while a wrong kernel gives 1e-2+).
 *   - 20 training steps on the built-in numbers task: every step's loss within 1e-3 relative of the
 *     CPU's (the runs drift apart slowly as rounding differences feed back through the updates).
 *   - Two GPU runs with the same seed: identical losses, bit for bit (deterministic kernels).
 *   - The embedding backward's scratch, reserved at setup: a scatter within the reservation runs,
 *     one beyond it is BATON_ERR_INVALID naming both sizes (never an allocation inside a step).
 *   - Where the build has cuDNN: 20 steps with the recurrent layers through cuDNN against the fused
 *     kernels, dropout off in both (cuDNN draws its own masks): every loss within 1e-3 relative,
 *     the same bound as GPU vs CPU, for the same reason (summation orders drifting through updates).
 * Exits 77 when no CUDA device is usable. Never yet run on a GPU. */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/dataset.h"
#include "baton_config.h"
#include "baton/trainer.h"
#include "testutil.h"

enum { STEPS = 20, BATCH = 16 };

static int load(baton_dataset *d)
{
    baton_pairs tr, dv;
    if (baton_toy_generate(&tr, "numbers", "train", 400, 3) != BATON_OK)
        return 0;
    int ok = baton_toy_generate(&dv, "numbers", "dev", 50, 3) == BATON_OK &&
             baton_dataset_build(d, &tr, &dv, 1, 0, 64, BATCH) == BATON_OK;
    baton_pairs_free(&tr);
    baton_pairs_free(&dv);
    return ok;
}

typedef struct {
    const char *device, *impl;
    float dropout;
} run_spec;

/* Trains STEPS batches as `spec` says; losses[k] is batch k's mean loss; grads of the first step
 * into g0, and (when table != NULL) the parameter table that describes them. */
static int run(run_spec spec, baton_dataset *d, float *losses, float **g0, size_t *n, baton_param_table *table)
{
    baton_backend be;
    baton_trainer tr;
    baton_s2s_config mc = {.cell = BATON_CELL_LSTM, .src_vocab = d->sv.size, .tgt_vocab = d->tv.size, .emb = 32,
                           .hidden = 64, .layers = 2, .bidirectional = 1, .score = BATON_ATTN_GENERAL,
                           .dropout = spec.dropout, .label_smoothing = 0.1f};
    baton_optim_config oc = baton_optim_defaults();
    if (baton_backend_create(&be, spec.device, 1) != BATON_OK ||
        baton_trainer_create(&tr, &be, &mc, &oc, d->hb.S_max, d->hb.T_max, BATCH, 5, 2) != BATON_OK ||
        baton_trainer_use_rnn_impl(&tr, spec.impl) != BATON_OK)
        return 0;
    int ok = 1;
    for (int k = 0; ok && k < STEPS; k++) {
        float loss;
        ok = baton_host_batch_fill(&d->hb, &d->train, &d->train_b, baton_batching_pick(&d->train_b, 5, 0, k)) ==
                 BATON_OK &&
             baton_trainer_step(&tr, &d->hb, &loss) == BATON_OK;
        losses[k] = loss / (float)d->hb.tgt_tokens;
        if (ok && k == 0 && g0) { /* accumulate = 2: after one batch the gradients are still there */
            *n = tr.table.total;
            *g0 = malloc(*n * sizeof(float));
            ok = *g0 && be.ops->download(&be, *g0, tr.grads, *n * sizeof(float)) == BATON_OK;
            if (ok && table) { /* the table outlives the trainer: keep a copy of its rows */
                *table = tr.table;
                table->items = malloc((size_t)tr.table.count * sizeof *table->items);
                ok = table->items != NULL;
                if (ok)
                    memcpy(table->items, tr.table.items, (size_t)tr.table.count * sizeof *table->items);
            }
        }
    }
    baton_trainer_destroy(&tr);
    baton_backend_destroy(&be);
    return ok;
}

/* A scatter of 8 ids with 8 reserved runs; one of 16 is refused with both sizes in the line. */
static void check_embed_reserve(tu_report *r)
{
    enum { V = 4, D = 8, N = 16 };
    baton_backend be;
    float *table = NULL, *dout = NULL;
    int *ids = NULL;
    int ok = baton_backend_create(&be, "cuda", 1) == BATON_OK;
    ok = ok && be.ops->alloc(&be, (void **)&table, V * D * sizeof(float), "table") == BATON_OK &&
         be.ops->alloc(&be, (void **)&dout, N * D * sizeof(float), "dout") == BATON_OK &&
         be.ops->alloc(&be, (void **)&ids, N * sizeof(int), "ids") == BATON_OK &&
         be.ops->zero(&be, table, V * D * sizeof(float)) == BATON_OK &&
         be.ops->zero(&be, dout, N * D * sizeof(float)) == BATON_OK &&
         be.ops->zero(&be, ids, N * sizeof(int)) == BATON_OK && baton_backend_embed_reserve(&be, N / 2) == BATON_OK;
    baton_status within = ok ? be.ops->embed_scatter_add(&be, table, ids, dout, N / 2, D) : BATON_ERR_INVALID;
    if (ok)
        ok = be.ops->sync(&be) == BATON_OK;
    printf("train_gpu: a scatter of %d ids with %d reserved: the error line below is expected\n", N, N / 2);
    baton_status beyond = ok ? be.ops->embed_scatter_add(&be, table, ids, dout, N, D) : BATON_OK;
    int named = strstr(baton_error_last(), "16 ids") && strstr(baton_error_last(), "reserved for 8");
    tu_check_abs(r, "embedding scatter within the setup reservation: runs", ok && within == BATON_OK ? 0 : 1, 0);
    tu_check_abs(r, "embedding scatter beyond it: invalid, naming both sizes",
                 ok && beyond == BATON_ERR_INVALID && named ? 0 : 1, 0);
    void *bufs[] = {table, dout, ids};
    for (int i = 0; i < 3; i++)
        if (bufs[i])
            be.ops->free(&be, bufs[i]);
    baton_backend_destroy(&be);
}

/* The larger of two errors, NaN winning: fmax would drop a NaN and let it pass. */
static double worse(double a, double b)
{
    return isnan(a) || isnan(b) ? NAN : fmax(a, b);
}

int main(void)
{
    int ndev = 0;
    cudaError_t e = cudaGetDeviceCount(&ndev);
    if (e != cudaSuccess || ndev == 0) {
        fprintf(stderr, "train_gpu: skipped: no usable CUDA device (%s)\n",
                e != cudaSuccess ? cudaGetErrorString(e) : "none");
        return TU_EXIT_SKIP;
    }
    tu_report r = {0, 0};
    baton_dataset d;
    float cpu[STEPS], gpu[STEPS], gpu2[STEPS], *gc = NULL, *gg = NULL;
    size_t nc = 0, ng = 0;
    baton_param_table t = {0};
    run_spec on_cpu = {"cpu", "fused", 0.1f}, on_gpu = {"cuda", "fused", 0.1f};
    int ok = load(&d) && run(on_cpu, &d, cpu, &gc, &nc, &t) && run(on_gpu, &d, gpu, &gg, &ng, NULL) &&
             run(on_gpu, &d, gpu2, NULL, NULL, NULL) && nc == ng;
    tu_check(&r, "first step: loss, GPU vs CPU", ok ? fabs(gpu[0] - cpu[0]) / fabs(cpu[0]) : INFINITY, 1e-5);
    char name[160];
    for (int i = 0; ok && i < t.count; i++) {
        snprintf(name, sizeof name, "first step: gradient %s, GPU vs CPU", t.items[i].name);
        tu_check(&r, name, tu_rel_err_ff(gg + t.items[i].offset, gc + t.items[i].offset, t.items[i].numel), 1e-4);
    }
    if (!ok || t.count == 0)
        tu_check(&r, "first step: gradients, GPU vs CPU", INFINITY, 1e-4);
    double worst = 0.0, differ = 0.0;
    for (int k = 0; ok && k < STEPS; k++) {
        worst = worse(worst, fabs(gpu[k] - cpu[k]) / fabs(cpu[k]));
        differ += memcmp(&gpu[k], &gpu2[k], sizeof(float)) != 0;
    }
    tu_check_abs(&r, "20 training steps: loss, GPU vs CPU (relative)", ok ? worst : INFINITY, 1e-3);
    tu_check_abs(&r, "two GPU runs, same seed: losses that differ", ok ? differ : INFINITY, 0);
    check_embed_reserve(&r);
#if BATON_HAVE_CUDNN
    float fused[STEPS], cudnn[STEPS];
    int ok2 = run((run_spec){"cuda", "fused", 0.0f}, &d, fused, NULL, NULL, NULL) &&
              run((run_spec){"cuda", "cudnn", 0.0f}, &d, cudnn, NULL, NULL, NULL);
    double worst2 = 0.0;
    for (int k = 0; ok2 && k < STEPS; k++)
        worst2 = worse(worst2, fabs(cudnn[k] - fused[k]) / fabs(fused[k]));
    tu_check_abs(&r, "20 training steps: loss, cuDNN vs fused (relative)", ok2 ? worst2 : INFINITY, 1e-3);
#endif
    free(gc);
    free(gg);
    free(t.items);
    baton_dataset_free(&d);
    return tu_summary(&r, "train gpu");
}
