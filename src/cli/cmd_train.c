/* cmd_train.c: `baton train`: the data (train_data.c), the model and trainer on the chosen device,
 * the loop (train_loop.c), and the model directory at the end. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "baton/progress.h"
#include "baton/rnn.h"
#include "baton/trainer.h"
#include "commands.h"
#include "model_dir.h"
#include "ranks.h"
#include "train_data.h"
#include "train_loop.h"

/* Creates the trainer for the data's largest batch and says what it trains. */
static baton_status make_trainer(baton_trainer *tr, baton_backend *be, const cli_settings *s, const train_data *td)
{
    baton_s2s_config mc;
    baton_optim_config oc;
    BATON_TRY(cli_model_config(&mc, s, td->d.sv.size, td->d.tv.size));
    BATON_TRY(cli_optim_config(&oc, s));
    BATON_TRY(baton_trainer_create(tr, be, &mc, &oc, td->S_max, td->T_max, td->B_max, (uint64_t)s->seed,
                                   s->accumulate));
    BATON_TRY(baton_trainer_use_rnn_impl(tr, s->rnn_impl));
    size_t count = 0;
    for (int i = 0; i < tr->table.count; i++)
        count += tr->table.items[i].numel;
    fprintf(stderr, "model: %s, %d layer(s), E=%d H=%d, %s attention, %zu parameters\n", s->cell, s->layers, s->emb,
            s->hidden, s->attention, count);
    fprintf(stderr, "recurrent layers: encoder %s; decoder %s\n", tr->acts.enc.impl_note,
            tr->model.cfg.input_feed ? "step by step (input feeding: fused)" : tr->acts.dec.impl_note);
    return BATON_OK;
}

/* Rank 0 first (it prepares subwords and vocabularies in the model directory), then the others
 * read what it wrote: the model directory must be one that every rank sees. */
static baton_status open_data(baton_dist *d, train_data *td, const cli_settings *s)
{
    if (baton_dist_leader(d))
        BATON_TRY(train_data_open(td, s));
    BATON_TRY(baton_dist_barrier(d, "the data rank 0 prepares", 0.0));
    return baton_dist_leader(d) ? BATON_OK : train_data_open(td, s);
}

/* Rank 0's line on the ranks, the transport and what a step holds. */
static void describe_ranks(const baton_dist *d, const cli_settings *s, const char *gpu)
{
    if (baton_dist_single(d))
        return;
    char budget[160];
    if (s->batch_tokens > 0)
        snprintf(budget, sizeof budget, "--batch-tokens %d per rank: %ld target tokens a step in all", s->batch_tokens,
                 (long)s->batch_tokens * d->env.size);
    else
        snprintf(budget, sizeof budget, "--batch %d per rank: %ld sentences a step in all", s->batch,
                 (long)s->batch * d->env.size);
    fprintf(stderr, "data parallel: %d ranks (%s, %d on this machine: %s); gradients summed over %s in %g MB buckets; "
            "%s\n", d->env.size, d->env.launcher, d->env.local_size, gpu, d->transport ? d->transport->name : "-",
            (double)s->bucket_mb, budget);
}

/* Known before any data is read: a task's or a corpus's batches hold sentences of different
 * lengths (and the targets' lengths differ too), so a persistent cuDNN algorithm would fail at the
 * first step. */
static baton_status check_ragged(const cli_settings *s)
{
    return baton_rnn_impl_check_ragged(s->rnn_impl, s->train_src
                                                        ? "the batches of a corpus hold sentences of different lengths"
                                                        : "the batches of a --task hold sentences of different lengths");
}

int cli_train_run(const cli_settings *s)
{
    if (check_ragged(s) != BATON_OK)
        return 1;
    baton_dist dist;
    if (cli_ranks_join(&dist, s->dist_timeout, s->bucket_mb) != BATON_OK)
        return 1;
    train_data td;
    baton_backend be;
    baton_trainer tr;
    baton_progress p;
    memset(&td, 0, sizeof td);
    memset(&tr, 0, sizeof tr);
    memset(&be, 0, sizeof be);
    /* --epochs alone trains that many epochs; --steps alone, or neither (2000 steps), a number of updates */
    long max_steps = s->steps > 0 ? s->steps : s->epochs > 0 ? LONG_MAX : 2000;
    train_loop L = {.s = s, .td = &td, .tr = &tr, .p = &p, .max_steps = max_steps, .best = NAN, .best_stop = NAN,
                    .lr_scale = 1.0, .base_lr = s->lr, .saved_step = -1, .dist = &dist};
    char gpu[160];
    baton_status st = baton_dist_leader(&dist) ? cli_model_dir_claim(s) : BATON_OK;
    if (st != BATON_OK) {
        cli_ranks_leave(&dist, st);
        return st == BATON_ERR_INVALID ? 2 : 1; /* a directory in use is a usage error */
    }
    st = open_data(&dist, &td, s);
    if (st == BATON_OK)
        st = baton_backend_use_gpu(dist.env.local_rank, dist.env.local_size, gpu, sizeof gpu);
    if (st == BATON_OK)
        st = cli_backend_create(&be, s, 1);
    if (st == BATON_OK)
        st = make_trainer(&tr, &be, s, &td);
    if (st == BATON_OK)
        st = baton_trainer_use_dist(&tr, &dist, s->dist_transport);
    if (st == BATON_OK)
        describe_ranks(&dist, s, gpu);
    if (st == BATON_OK && s->resume)
        st = train_loop_resume(&L);
    if (st == BATON_OK && baton_dist_leader(&dist))
        st = cli_model_dir_describe(s);
    if (st == BATON_OK)
        st = baton_progress_open(&p, stderr, baton_dist_leader(&dist) ? s->metrics : NULL,
                                 max_steps == LONG_MAX ? 0 : max_steps, s->log_every);
    if (st == BATON_OK) {
        st = train_loop_run(&L);
        baton_progress_close(&p);
    }
    int sig = L.interrupted;
    train_loop_free(&L);
    baton_trainer_destroy(&tr);
    baton_backend_destroy(&be);
    train_data_close(&td);
    cli_ranks_leave(&dist, st);
    /* a stopped run is not a finished one: `train && translate` must not go on (128 + the signal, as shells) */
    return st != BATON_OK ? 1 : sig ? 128 + sig : 0;
}

int cli_train(int argc, char **argv)
{
    cli_settings s;
    cli_opts_defaults(&s, cli_settings_opts);
    static const cli_command cmd = {
        "train", CLI_TRAIN,
        "usage: baton train --model DIR [options]\n"
        "Trains a translator on a built-in task (--task) or on a parallel corpus (--train-src and\n"
        "--train-tgt aligned by line, or --train-src alone with source<TAB>target lines; the same for\n"
        "--dev-src/--dev-tgt), optionally on SentencePiece subwords (--subwords spm), and writes it to\n"
        "DIR (which must be new or empty, unless --resume or --overwrite). Validates every --valid-every\n"
        "steps (loss and greedy BLEU), keeps the best model and the last, saves DIR/checkpoint.safetensors,\n"
        "and on SIGINT or SIGTERM saves and exits 130 or 143; --resume continues, with DIR/config.txt's\n"
        "settings under the command line's, also after a kill -9. A step whose loss or gradient norm is\n"
        "NaN or Inf is skipped and logged (--max-bad-steps in a row stop the run); a checkpoint that cannot\n"
        "be written (a full disk) is reported and tried again at the next one while training goes on\n"
        "(docs/faults.md)."};
    int help;
    if (cli_opts_argv(&s, cli_settings_opts, &cmd, argc, argv, 2, &help) != BATON_OK)
        return 2;
    if (help) {
        cli_opts_help(stdout, &s, cli_settings_opts, &cmd);
        return 0;
    }
    if (s.resume && s.model && cli_model_dir_resume_settings(&s, &cmd, argc, argv) != BATON_OK)
        return 2;
    if (cli_settings_check(&s, CLI_TRAIN) != BATON_OK)
        return 2;
    return cli_train_run(&s);
}
