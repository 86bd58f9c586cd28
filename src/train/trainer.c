/* trainer.c: set-up once, then a step that allocates nothing (trainer.h). */
#include "baton/trainer.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "baton/rng.h"

baton_status baton_trainer_create(baton_trainer *tr, baton_backend *be, const baton_s2s_config *mcfg,
                                  const baton_optim_config *ocfg, int S_max, int T_max, int B_max, uint64_t seed,
                                  int accumulate)
{
    memset(tr, 0, sizeof *tr);
    BATON_REQUIRE(accumulate >= 1, "gradient accumulation over %d batches, expected >= 1", accumulate);
    tr->be = be;
    tr->seed = seed;
    tr->accumulate = accumulate;
    tr->S_max = S_max, tr->T_max = T_max, tr->B_max = B_max;
    baton_param_table_init(&tr->table);
    BATON_TRY(baton_s2s_init(&tr->model, mcfg, &tr->table));
    size_t bytes = baton_param_bytes(&tr->table);
    float *host = calloc(1, bytes);
    if (!host)
        return BATON_ERROR(BATON_ERR_OOM, "initial weights: cannot allocate %zu bytes of host memory", bytes);
    baton_s2s_init_weights(&tr->model, &tr->table, host, seed);
    baton_status st = baton_param_weights_alloc(be, &tr->table, &tr->params);
    if (st == BATON_OK)
        st = be->ops->upload(be, tr->params, host, bytes);
    free(host);
    BATON_TRY(st);
    BATON_TRY(baton_param_buffer_alloc(be, &tr->table, &tr->grads, "gradients"));
    BATON_TRY(baton_optim_create(&tr->opt, be, ocfg, &tr->table));
    baton_arena measure = baton_arena_measuring();
    BATON_TRY(baton_s2s_acts_carve(&tr->acts, &measure, &tr->model, S_max, T_max, B_max));
    BATON_TRY(baton_arena_create(&tr->arena, be, measure.used));
    BATON_TRY(baton_s2s_acts_carve(&tr->acts, &tr->arena, &tr->model, S_max, T_max, B_max));
    struct {
        int **p;
        size_t n;
    } ids[] = {{&tr->d_src, (size_t)S_max * B_max},   {&tr->d_src_len, (size_t)B_max},
               {&tr->d_tgt_in, (size_t)T_max * B_max}, {&tr->d_tgt_out, (size_t)T_max * B_max},
               {&tr->d_tgt_len, (size_t)B_max}};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
        BATON_TRY(be->ops->alloc(be, (void **)ids[i].p, ids[i].n * sizeof(int), "batch ids"));
    /* The embedding backward scatters at most B*S_max source and B*T_max target ids in one call;
     * its scratch is reserved now, so that a step allocates nothing. */
    size_t most = (size_t)(S_max > T_max ? S_max : T_max) * (size_t)B_max;
    BATON_REQUIRE(most <= INT_MAX, "batches of B=%d, S=%d, T=%d: %zu ids in one embedding, more than %d", B_max,
                  S_max, T_max, most, INT_MAX);
    return baton_backend_embed_reserve(be, (int)most);
}

void baton_trainer_destroy(baton_trainer *tr)
{
    baton_backend *be = tr->be;
    if (!be)
        return;
    void *bufs[] = {tr->params, tr->grads, tr->d_src, tr->d_src_len, tr->d_tgt_in, tr->d_tgt_out, tr->d_tgt_len};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        if (bufs[i])
            be->ops->free(be, bufs[i]);
    baton_optim_destroy(&tr->opt, be);
    baton_s2s_acts_release(&tr->acts);
    baton_arena_destroy(&tr->arena);
    baton_param_table_free(&tr->table);
    memset(tr, 0, sizeof *tr);
}

/* Copies a host batch's ids to the device and describes it for the model. */
static baton_status upload(baton_trainer *tr, const baton_host_batch *hb, baton_s2s_batch *b)
{
    baton_backend *be = tr->be;
    BATON_REQUIRE(hb->B >= 1 && hb->B <= tr->B_max && hb->S >= 1 && hb->S <= tr->S_max && hb->T >= 1 &&
                      hb->T <= tr->T_max,
                  "batch of B=%d, S=%d, T=%d; the trainer was set up for at most B=%d, S=%d, T=%d", hb->B, hb->S,
                  hb->T, tr->B_max, tr->S_max, tr->T_max);
    BATON_TRY(be->ops->upload(be, tr->d_src, hb->src, (size_t)hb->S * hb->B * sizeof(int)));
    BATON_TRY(be->ops->upload(be, tr->d_src_len, hb->src_len, (size_t)hb->B * sizeof(int)));
    BATON_TRY(be->ops->upload(be, tr->d_tgt_in, hb->tgt_in, (size_t)hb->T * hb->B * sizeof(int)));
    BATON_TRY(be->ops->upload(be, tr->d_tgt_out, hb->tgt_out, (size_t)hb->T * hb->B * sizeof(int)));
    BATON_TRY(be->ops->upload(be, tr->d_tgt_len, hb->tgt_len, (size_t)hb->B * sizeof(int)));
    *b = (baton_s2s_batch){.B = hb->B, .S = hb->S, .T = hb->T, .src = tr->d_src, .src_len = tr->d_src_len,
                           .tgt_in = tr->d_tgt_in, .tgt_out = tr->d_tgt_out, .tgt_len = tr->d_tgt_len,
                           .tgt_tokens = hb->tgt_tokens};
    /* the cuDNN path describes each batch on the host; the host batch outlives the step */
    tr->acts.enc.host_lengths = hb->src_len;
    tr->acts.dec.host_lengths = hb->tgt_len;
    return BATON_OK;
}

baton_status baton_trainer_use_rnn_impl(baton_trainer *tr, const char *impl)
{
    return baton_s2s_acts_use_impl(&tr->acts, tr->be, &tr->model, impl, tr->seed, 1);
}

baton_status baton_trainer_step(baton_trainer *tr, const baton_host_batch *hb, float *loss_sum)
{
    baton_backend *be = tr->be;
    baton_s2s_batch b;
    BATON_TRY(upload(tr, hb, &b));
    /* the batch counter keys every dropout mask of this step */
    baton_dropout_key drop = {.seed = tr->seed, .purpose = 0, .counter = (uint32_t)tr->batches};
    BATON_TRY(baton_s2s_forward(be, &tr->model, &tr->acts, tr->params, &tr->table, &b, &drop, 1));
    BATON_TRY(baton_s2s_backward(be, &tr->model, &tr->acts, tr->grads, tr->params, &tr->table, &b, &drop));
    tr->batches++;
    if (++tr->pending == tr->accumulate) {
        BATON_TRY(baton_optim_step(&tr->opt, be, tr->params, tr->grads, tr->pending));
        tr->pending = 0;
    }
    return be->ops->download(be, loss_sum, tr->acts.loss, sizeof(float));
}

baton_status baton_trainer_eval(baton_trainer *tr, const baton_host_batch *hb, float *loss_sum)
{
    baton_s2s_batch b;
    BATON_TRY(upload(tr, hb, &b));
    BATON_TRY(baton_s2s_forward(tr->be, &tr->model, &tr->acts, tr->params, &tr->table, &b, NULL, 0));
    return tr->be->ops->download(tr->be, loss_sum, tr->acts.loss, sizeof(float));
}

baton_status baton_trainer_validate(baton_trainer *tr, baton_dataset *d, double *mean_loss)
{
    double sum = 0.0;
    long tokens = 0;
    for (int i = 0; i < d->dev_b.count; i++) {
        float loss;
        BATON_TRY(baton_host_batch_fill(&d->hb, &d->dev, &d->dev_b, i));
        BATON_TRY(baton_trainer_eval(tr, &d->hb, &loss));
        sum += loss;
        tokens += d->hb.tgt_tokens;
    }
    *mean_loss = tokens ? sum / (double)tokens : 0.0;
    return BATON_OK;
}
