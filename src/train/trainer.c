/* trainer.c: set-up once, then a step that allocates nothing (trainer.h). */
#include "baton/trainer.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/rng.h"

static baton_status grads_final(void *ctx, size_t off);

/* Carves n items of `size` bytes at *off (256-byte aligned) of the block layout. */
static size_t carve(size_t *off, size_t n, size_t size)
{
    size_t at = *off;
    *off = (at + n * size + 255) / 256 * 256;
    return at;
}

/* The upload block: one device allocation and its host twin, laid out for the largest batch, so
 * that every pointer a recorded step holds stays valid for every batch. */
static baton_status block_create(baton_trainer *tr)
{
    baton_backend *be = tr->be;
    size_t SB = (size_t)tr->S_max * tr->B_max, TB = (size_t)tr->T_max * tr->B_max, B = (size_t)tr->B_max, off = 0;
    size_t scalars = carve(&off, 1, sizeof(baton_step_scalars)), src = carve(&off, SB, sizeof(int));
    size_t src_len = carve(&off, B, sizeof(int)), tgt_in = carve(&off, TB, sizeof(int));
    size_t tgt_out = carve(&off, TB, sizeof(int)), tgt_len = carve(&off, B, sizeof(int));
    tr->block_bytes = off;
    tr->h_block = calloc(1, off);
    if (!tr->h_block)
        return BATON_ERROR(BATON_ERR_OOM, "batch upload block: cannot allocate %zu bytes of host memory", off);
    BATON_TRY(be->ops->alloc(be, &tr->d_block, off, "batch upload block"));
    char *d = tr->d_block;
    tr->d_scalars = (baton_step_scalars *)(d + scalars);
    tr->d_src = (int *)(d + src), tr->d_src_len = (int *)(d + src_len), tr->d_tgt_in = (int *)(d + tgt_in);
    tr->d_tgt_out = (int *)(d + tgt_out), tr->d_tgt_len = (int *)(d + tgt_len);
    return baton_backend_stage_reserve(be, off);
}

/* What training needs, the larger part first, and the options that set each (baton train's and
 * bench train's names): the activation arena (one batch of the largest shape: --batch, --max-len;
 * the output layer's B x T x V logits, when they are a large part, --vocab-size too) and the flat
 * buffers (weights, gradients, Adam's moments: --hidden, --layers, or --emb and --vocab-size where
 * the embeddings and the output layer hold most parameters). An out-of-memory line ends with it. */
static void describe_needs(baton_trainer *tr, const baton_s2s_config *mcfg, const baton_optim_config *ocfg,
                           size_t arena)
{
    size_t P = baton_param_bytes(&tr->table), count = 0, vocab = 0;
    for (int i = 0; i < tr->table.count; i++) {
        const baton_param *p = &tr->table.items[i];
        count += p->numel;
        if (strstr(p->name, "embedding") || strncmp(p->name, "generator", 9) == 0)
            vocab += p->numel;
    }
    int adam = ocfg->kind == BATON_OPT_ADAM, ema = ocfg->ema > 0.0f;
    int copies = (adam ? 4 : 2) + ema, vocab_pct = count ? (int)(100.0 * vocab / count + 0.5) : 0;
    double logits = tr->be->versions.loss == 0 ? 4.0 * tr->B_max * tr->T_max * mcfg->tgt_vocab : 0.0;
    int logits_pct = arena ? (int)(100.0 * logits / (double)arena + 0.5) : 0;
    char all[32], act[32], one[32], acts[320], flat[320];
    baton_format_bytes(all, sizeof all, (double)arena + (double)copies * (double)P);
    baton_format_bytes(act, sizeof act, (double)arena);
    baton_format_bytes(one, sizeof one, (double)P);
    snprintf(acts, sizeof acts, "%s for the activations of a batch of up to B=%d sentences of S=%d source and T=%d "
             "target tokens (lower --batch or --max-len%s", act, tr->B_max, tr->S_max, tr->T_max,
             logits_pct >= 25 ? ", or --vocab-size: the output layer's B x T x V logits are" : ")");
    if (logits_pct >= 25)
        snprintf(acts + strlen(acts), sizeof acts - strlen(acts), " %d%% of it)", logits_pct);
    snprintf(flat, sizeof flat, "%d x %s for the weights, their gradients%s (%zu parameters: lower %s; the "
             "embeddings and the output layer hold %d%% of them)", copies, one,
             adam && ema ? ", Adam's two moments and their moving average"
             : adam      ? " and Adam's two moments"
             : ema       ? " and their moving average"
                         : "",
             count,
             vocab_pct >= 50 ? "--vocab-size or --emb, or --hidden" : "--hidden or --layers, or --emb", vocab_pct);
    int acts_first = (double)arena >= (double)copies * (double)P;
    /* cuda in bf16: the weights and the arena have bf16 mirrors, half their size again */
    double mirrors = tr->be->precision == BATON_PRECISION_BF16 && tr->be->ops->bf16_mirror ? ((double)arena + P) / 2 : 0;
    char extra[160] = "";
    if (mirrors > 0) {
        char m[32];
        baton_format_bytes(m, sizeof m, mirrors);
        baton_format_bytes(all, sizeof all, (double)arena + (double)copies * (double)P + mirrors);
        snprintf(extra, sizeof extra, "; %s for the bf16 copies of the weights and activations (--precision fp32 "
                 "has none)", m);
    }
    snprintf(tr->alloc_hint, sizeof tr->alloc_hint, "training needs %s in all: %s; %s%s", all,
             acts_first ? acts : flat, acts_first ? flat : acts, extra);
}

static baton_status create(baton_trainer *tr, baton_backend *be, const baton_s2s_config *mcfg,
                           const baton_optim_config *ocfg, int S_max, int T_max, int B_max, uint64_t seed)
{
    BATON_TRY(baton_s2s_init(&tr->model, mcfg, &tr->table));
    /* measured first, so that the first allocation that fails can say what all of them need */
    baton_arena measure = baton_arena_measuring();
    BATON_TRY(baton_s2s_acts_carve_ex(&tr->acts, &measure, &tr->model, S_max, T_max, B_max, be->versions.loss));
    describe_needs(tr, mcfg, ocfg, measure.used);
    be->alloc_hint = tr->alloc_hint;
    size_t bytes = baton_param_bytes(&tr->table);
    float *host = calloc(1, bytes);
    if (!host) {
        char free_text[256], asked[32];
        baton_host_memory_free(free_text, sizeof free_text);
        baton_format_bytes(asked, sizeof asked, (double)bytes);
        return BATON_ERROR(BATON_ERR_OOM, "out of memory: the initial weights need %s (%zu bytes) of host memory; %s; %s",
                           asked, bytes, free_text, tr->alloc_hint);
    }
    baton_s2s_init_weights(&tr->model, &tr->table, host, seed);
    baton_status st = baton_param_weights_alloc(be, &tr->table, &tr->params);
    if (st == BATON_OK)
        st = be->ops->upload(be, tr->params, host, bytes);
    free(host);
    BATON_TRY(st);
    BATON_TRY(baton_param_buffer_alloc(be, &tr->table, &tr->grads, "gradients"));
    BATON_TRY(baton_optim_create(&tr->opt, be, ocfg, &tr->table));
    BATON_TRY(baton_optim_ema_reset(&tr->opt, be, tr->params));
    BATON_TRY(baton_arena_create(&tr->arena, be, measure.used));
    BATON_TRY(baton_s2s_acts_carve_ex(&tr->acts, &tr->arena, &tr->model, S_max, T_max, B_max, be->versions.loss));
    BATON_TRY(block_create(tr));
    tr->acts.grad_hook = (baton_grad_hook){grads_final, tr};
    BATON_TRY(be->ops->alloc(be, (void **)&tr->d_losses, 2 * BATON_TRAINER_LOSSES * sizeof(float), "batch losses"));
    BATON_TRY(be->ops->zero(be, tr->d_losses, 2 * BATON_TRAINER_LOSSES * sizeof(float)));
    /* The embedding backward scatters at most B*S_max source and B*T_max target ids in one call;
     * its scratch is reserved now, so that a step allocates nothing. */
    size_t most = (size_t)(S_max > T_max ? S_max : T_max) * (size_t)B_max;
    BATON_REQUIRE(most <= INT_MAX, "batches of B=%d, S=%d, T=%d: %zu ids in one embedding, more than %d", B_max,
                  S_max, T_max, most, INT_MAX);
    return baton_backend_embed_reserve(be, (int)most);
}

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
    const char *hint = be->alloc_hint;
    baton_status st = create(tr, be, mcfg, ocfg, S_max, T_max, B_max, seed);
    be->alloc_hint = hint; /* the trainer's sizes explain only its own allocations */
    return st;
}

void baton_trainer_destroy(baton_trainer *tr)
{
    baton_backend *be = tr->be;
    if (!be)
        return;
    for (int i = 0; i < tr->n_graphs; i++)
        be->ops->graph_free(be, tr->graphs[i].graph);
    void *bufs[] = {tr->params, tr->grads, tr->d_block, tr->d_losses};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        if (bufs[i])
            be->ops->free(be, bufs[i]);
    free(tr->h_block);
    baton_optim_destroy(&tr->opt, be);
    baton_s2s_acts_release(&tr->acts);
    baton_arena_destroy(&tr->arena);
    baton_param_table_free(&tr->table);
    memset(tr, 0, sizeof *tr);
}

/* Where a host array goes in the host block: the device pointer's offset in d_block. */
static void *in_block(const baton_trainer *tr, const void *dev)
{
    return (char *)tr->h_block + ((const char *)dev - (const char *)tr->d_block);
}

/* Packs this batch's scalars and, for a batch (hb not NULL), its ids into the block, uploads it
 * in one asynchronous copy, and describes the batch for the model; tgt_tokens is the mean's
 * denominator (the batch's own, or a data-parallel step's over all ranks). */
static baton_status upload(baton_trainer *tr, const baton_host_batch *hb, long tgt_tokens, baton_s2s_batch *b)
{
    baton_backend *be = tr->be;
    BATON_REQUIRE(!hb || (hb->B >= 1 && hb->B <= tr->B_max && hb->S >= 1 && hb->S <= tr->S_max && hb->T >= 1 &&
                          hb->T <= tr->T_max),
                  "batch of B=%d, S=%d, T=%d; the trainer was set up for at most B=%d, S=%d, T=%d", hb->B, hb->S,
                  hb->T, tr->B_max, tr->S_max, tr->T_max);
    BATON_REQUIRE(!hb || hb->tgt_tokens > 0, "batch of B=%d, S=%d, T=%d: no target tokens", hb->B, hb->S, hb->T);
    BATON_REQUIRE(tgt_tokens > 0 && (!hb || tgt_tokens >= hb->tgt_tokens),
                  "a step of %ld target tokens, expected at least this batch's %ld", tgt_tokens,
                  hb ? hb->tgt_tokens : 1L);
    /* data parallel: batch k of rank r is the (k N + r)-th of the run, and keys its own masks */
    long N = tr->dist ? tr->dist->env.size : 1, r = tr->dist ? tr->dist->env.rank : 0;
    baton_step_scalars sc = {.hyper = baton_optim_next(&tr->opt, tr->accumulate),
                             .loss_scale = tr->fault == BATON_FAULT_NAN_GRAD ? NAN : 1.0f / (float)tgt_tokens,
                             .counter = (uint32_t)(tr->batches * N + r),
                             .poison = tr->fault == BATON_FAULT_INF_LOSS ? INFINITY : 0.0f};
    memcpy(in_block(tr, tr->d_scalars), &sc, sizeof sc);
    if (hb) {
        memcpy(in_block(tr, tr->d_src), hb->src, (size_t)hb->S * hb->B * sizeof(int));
        memcpy(in_block(tr, tr->d_src_len), hb->src_len, (size_t)hb->B * sizeof(int));
        memcpy(in_block(tr, tr->d_tgt_in), hb->tgt_in, (size_t)hb->T * hb->B * sizeof(int));
        memcpy(in_block(tr, tr->d_tgt_out), hb->tgt_out, (size_t)hb->T * hb->B * sizeof(int));
        memcpy(in_block(tr, tr->d_tgt_len), hb->tgt_len, (size_t)hb->B * sizeof(int));
    }
    BATON_TRY(be->ops->upload_async(be, tr->d_block, tr->h_block, tr->block_bytes));
    if (!hb)
        return BATON_OK;
    *b = (baton_s2s_batch){.B = hb->B, .S = hb->S, .T = hb->T, .src = tr->d_src, .src_len = tr->d_src_len,
                           .tgt_in = tr->d_tgt_in, .tgt_out = tr->d_tgt_out, .tgt_len = tr->d_tgt_len,
                           .tgt_tokens = hb->tgt_tokens, .loss_scale = &tr->d_scalars->loss_scale};
    /* the cuDNN path describes each batch on the host; the host batch outlives the step */
    tr->acts.enc.host_lengths = hb->src_len;
    tr->acts.dec.host_lengths = hb->tgt_len;
    return BATON_OK;
}

/* The model's grad hook (seq2seq.h): at off 0, every gradient of the batch is in, and the loss
 * is folded into them (the guard, trainer.h) before the last bucket leaves; data parallel, the
 * buckets of what is final start. */
static baton_status grads_final(void *ctx, size_t off)
{
    baton_trainer *tr = ctx;
    baton_backend *be = tr->be;
    if (off == 0 && tr->fault_hook) /* loss += poison: 0, or +Inf in a step a test poisons */
        BATON_TRY(be->ops->axpby(be, tr->acts.loss, &tr->d_scalars->poison, 1.0f, 1.0f, 1));
    /* The guard: grads[0] += 0 * loss, one float, so the update's sum of squares sees a non-finite
     * loss of any of its batches (on any rank) as well as a non-finite gradient. */
    if (off == 0)
        BATON_TRY(be->ops->axpby(be, tr->grads, tr->acts.loss, 0.0f, 1.0f, 1));
    return tr->reducing ? baton_dist_grads_ready(tr->dist, tr->grads, off) : BATON_OK;
}

baton_status baton_trainer_use_dist(baton_trainer *tr, baton_dist *d, const char *transport)
{
    tr->dist = d;
    if (baton_dist_single(d))
        return BATON_OK;
    tr->eager_only = 1;
    return baton_dist_attach(d, tr->be, tr->table.total, transport);
}

baton_status baton_trainer_use_rnn_impl(baton_trainer *tr, const char *impl)
{
    /* cuDNN's calls read host lengths per batch; data parallel, a bucket's start is a host decision */
    tr->eager_only = strncmp(impl, "cudnn", 5) == 0 || !baton_dist_single(tr->dist);
    return baton_s2s_acts_use_impl(&tr->acts, tr->be, &tr->model, impl, tr->seed, 1);
}

/* The work of one batch (b NULL: this rank has none this step): forward, backward and, with
 * update, the sum over ranks and the optimizer; enqueues only. */
static baton_status body(baton_trainer *tr, const baton_s2s_batch *b, int update)
{
    baton_backend *be = tr->be;
    tr->reducing = update && !baton_dist_single(tr->dist);
    if (tr->reducing)
        baton_dist_grads_begin(tr->dist);
    if (b) {
        baton_dropout_key drop = {.seed = tr->seed, .purpose = 0, .counter = &tr->d_scalars->counter};
        /* In bf16 the weights are frozen until the update, so that the CPU rounds them once, not at
         * every product (a recurrent layer's W_hh: at every step). Not in fp32: the CPU's frozen
         * panels suit decoding's few rows, and made base's training step 11% slower with feeding. */
        int freeze = be->ops->params_frozen && be->precision == BATON_PRECISION_BF16;
        if (freeze)
            BATON_TRY(be->ops->params_frozen(be, tr->params, tr->table.total));
        BATON_TRY(baton_s2s_forward(be, &tr->model, &tr->acts, tr->params, &tr->table, b, &drop, 1));
        BATON_TRY(baton_s2s_backward(be, &tr->model, &tr->acts, tr->grads, tr->params, &tr->table, b, &drop));
        if (freeze)
            BATON_TRY(be->ops->params_frozen(be, NULL, 0));
    } else { /* nothing to add: a loss of 0, and the gradients so far go into the sum as they are */
        BATON_TRY(be->ops->zero(be, tr->acts.loss, sizeof(float)));
        BATON_TRY(baton_s2s_backward_none(&tr->model, &tr->acts, &tr->table));
    }
    if (tr->reducing)
        BATON_TRY(baton_dist_grads_end(tr->dist));
    return update ? baton_optim_step_at(&tr->opt, be, tr->params, tr->grads, &tr->d_scalars->hyper) : BATON_OK;
}

/* The recording of body for this batch's shape, made (and kept) the first time; NULL when the
 * cache is full. */
static baton_status recorded(baton_trainer *tr, const baton_s2s_batch *b, int update, void **graph)
{
    *graph = NULL;
    for (int i = 0; i < tr->n_graphs; i++) {
        baton_step_graph *g = &tr->graphs[i];
        if (g->B == b->B && g->S == b->S && g->T == b->T && g->update == update) {
            *graph = g->graph;
            return BATON_OK;
        }
    }
    if (tr->n_graphs == BATON_TRAINER_GRAPHS)
        return BATON_OK;
    baton_backend *be = tr->be;
    BATON_TRY(be->ops->graph_begin(be));
    baton_status st = body(tr, b, update);
    void *g = NULL;
    baton_status end = be->ops->graph_end(be, &g); /* ends the capture even when body failed */
    BATON_TRY(st);
    BATON_TRY(end);
    tr->graphs[tr->n_graphs++] = (baton_step_graph){b->B, b->S, b->T, update, g};
    *graph = g;
    return BATON_OK;
}

baton_status baton_trainer_swap_ema(baton_trainer *tr)
{
    if (!tr->opt.ema)
        return BATON_OK;
    baton_backend *be = tr->be;
    size_t bytes = baton_param_bytes(&tr->table);
    float *host = malloc(bytes);
    if (!host)
        return BATON_ERROR(BATON_ERR_OOM, "moving average: cannot allocate %zu bytes of host memory", bytes);
    /* ema -> host, params -> ema on the device, host -> params; copies and uploads keep mirrors current */
    baton_status st = be->ops->download(be, host, tr->opt.ema, bytes);
    if (st == BATON_OK)
        st = be->ops->copy(be, tr->opt.ema, tr->params, bytes);
    if (st == BATON_OK)
        st = be->ops->upload(be, tr->params, host, bytes);
    free(host);
    tr->ema_in ^= st == BATON_OK;
    return st;
}

const float *baton_trainer_model_weights(const baton_trainer *tr)
{
    return tr->opt.ema && !tr->ema_in ? tr->opt.ema : tr->params;
}

baton_status baton_trainer_step_shared(baton_trainer *tr, const baton_host_batch *hb, long tgt_tokens,
                                       float *loss_sum)
{
    baton_backend *be = tr->be;
    BATON_REQUIRE(!tr->ema_in, "training step: the weights hold their moving average (baton_trainer_swap_ema); "
                  "swap them back first");
    baton_s2s_batch b;
    BATON_TRY(upload(tr, hb, tgt_tokens, &b));
    int update = tr->pending + 1 == tr->accumulate;
    void *graph = NULL;
    if (hb && be->versions.step == 1 && be->ops->graph_begin && !tr->eager_only)
        BATON_TRY(recorded(tr, &b, update, &graph));
    BATON_TRY(graph ? be->ops->graph_launch(be, graph) : body(tr, hb ? &b : NULL, update));
    float *slot = tr->d_losses + 2 * (tr->batches % BATON_TRAINER_LOSSES);
    BATON_TRY(be->ops->copy(be, slot, tr->acts.loss, sizeof(float)));
    if (update) /* what the update ran with: read beside the loss, in the same wait */
        BATON_TRY(be->ops->copy(be, slot + 1, tr->opt.sumsq, sizeof(float)));
    tr->batches++;
    tr->pending = update ? 0 : tr->pending + 1;
    tr->opt.step += update;
    return loss_sum ? baton_trainer_loss(tr, tr->batches - 1, loss_sum) : BATON_OK;
}

baton_status baton_trainer_step(baton_trainer *tr, const baton_host_batch *hb, float *loss_sum)
{
    return baton_trainer_step_shared(tr, hb, hb->tgt_tokens, loss_sum);
}

baton_status baton_trainer_loss(baton_trainer *tr, long batch, float *loss_sum)
{
    float health[2];
    BATON_TRY(baton_trainer_health(tr, batch, &health[0], &health[1]));
    *loss_sum = health[0];
    return BATON_OK;
}

baton_status baton_trainer_health(baton_trainer *tr, long batch, float *loss_sum, float *grad_sumsq)
{
    BATON_REQUIRE(batch >= 0 && batch < tr->batches && batch >= tr->batches - BATON_TRAINER_LOSSES,
                  "loss of batch %ld: the trainer keeps the last %d of its %ld batches", batch, BATON_TRAINER_LOSSES,
                  tr->batches);
    float health[2];
    BATON_TRY(tr->be->ops->download(tr->be, health, tr->d_losses + 2 * (batch % BATON_TRAINER_LOSSES),
                                    sizeof health));
    *loss_sum = health[0], *grad_sumsq = health[1];
    return BATON_OK;
}

baton_status baton_trainer_eval(baton_trainer *tr, const baton_host_batch *hb, float *loss_sum)
{
    baton_s2s_batch b;
    BATON_TRY(upload(tr, hb, hb->tgt_tokens, &b));
    baton_s2s_acts_no_grad(&tr->acts, 1);
    baton_status st = baton_s2s_forward(tr->be, &tr->model, &tr->acts, tr->params, &tr->table, &b, NULL, 0);
    baton_s2s_acts_no_grad(&tr->acts, 0);
    BATON_TRY(st);
    return tr->be->ops->download(tr->be, loss_sum, tr->acts.loss, sizeof(float));
}

baton_status baton_trainer_validate(baton_trainer *tr, baton_dataset *d, double *mean_loss)
{
    int N = tr->dist ? tr->dist->env.size : 1, r = tr->dist ? tr->dist->env.rank : 0;
    double sums[2] = {0.0, 0.0}; /* loss, target tokens: of this rank's share of the batches */
    for (int i = r; i < d->dev_b.count; i += N) {
        float loss;
        BATON_TRY(baton_host_batch_fill(&d->hb, &d->dev, &d->dev_b, i));
        BATON_TRY(baton_trainer_eval(tr, &d->hb, &loss));
        sums[0] += loss;
        sums[1] += (double)d->hb.tgt_tokens;
    }
    BATON_TRY(baton_dist_sum(tr->dist, "the validation loss", sums, 2, sums));
    *mean_loss = sums[1] > 0 ? sums[0] / sums[1] : 0.0;
    return BATON_OK;
}
