/* cmd_train.c: `baton train`: data (a built-in task or pre-tokenized files), vocabularies, the
 * training loop with progress and validation, and the model directory at the end. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/dataset.h"
#include "baton/plot.h"
#include "baton/progress.h"
#include "baton/text.h"
#include "baton/toy.h"
#include "baton/trainer.h"
#include "baton_config.h"
#include "commands.h"
#include "model_dir.h"

/* Reads aligned source and target files, or draws the built-in task's split. */
static baton_status read_pairs(baton_pairs *p, const cli_settings *s, const char *src, const char *tgt,
                               const char *split, int size)
{
    memset(p, 0, sizeof *p);
    if (!src)
        return baton_toy_generate(p, s->task, split, size, (uint64_t)s->seed);
    BATON_REQUIRE(tgt, "%s given without its target file", src);
    return baton_text_read_pairs(p, src, tgt);
}

static baton_status load_data(baton_dataset *d, const cli_settings *s)
{
    baton_pairs tr, dv;
    BATON_TRY(read_pairs(&tr, s, s->train_src, s->train_tgt, "train", s->train_size));
    baton_status st = read_pairs(&dv, s, s->dev_src, s->dev_tgt, "dev", s->dev_size);
    if (st == BATON_OK && s->train_src && !s->dev_src)
        st = BATON_ERROR(BATON_ERR_INVALID, "--train-src without --dev-src: give a validation set");
    if (st == BATON_OK)
        st = baton_dataset_build(d, &tr, &dv, s->min_count, s->vocab_size, s->max_len, s->batch);
    baton_pairs_free(&tr);
    baton_pairs_free(&dv);
    BATON_TRY(st);
    fprintf(stderr, "data: %d training pairs (%d empty and %d longer than %d skipped), %d validation pairs; "
                    "vocabularies %d / %d\n",
            d->train.n, d->train.skipped_empty, d->train.skipped_long, s->max_len, d->dev.n, d->sv.size, d->tv.size);
    return BATON_OK;
}

/* The loss curves of a run, for loss.png: the training loss averaged over each --log-every window
 * and the validation loss at each validation. */
typedef struct {
    double *train_x, *train_y, *dev_x, *dev_y;
    int n_train, n_dev;
} history;

static baton_status history_alloc(history *h, const cli_settings *s)
{
    memset(h, 0, sizeof *h);
    int nt = s->steps / s->log_every + 2, nd = (s->valid_every > 0 ? s->steps / s->valid_every : 0) + 2;
    h->train_x = malloc((size_t)nt * sizeof(double));
    h->train_y = malloc((size_t)nt * sizeof(double));
    h->dev_x = malloc((size_t)nd * sizeof(double));
    h->dev_y = malloc((size_t)nd * sizeof(double));
    return h->train_x && h->train_y && h->dev_x && h->dev_y ? BATON_OK
                                                           : BATON_ERROR(BATON_ERR_OOM, "loss history: out of memory");
}

static void history_free(history *h)
{
    free(h->train_x), free(h->train_y), free(h->dev_x), free(h->dev_y);
}

/* Draws the curves into DIR/loss.png; a build without libpng only says so. */
static void history_plot(const history *h, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/loss.png", dir);
    baton_plot_series series[2] = {{"train", h->train_x, h->train_y, h->n_train}, {"dev", h->dev_x, h->dev_y, h->n_dev}};
    if (!BATON_HAVE_PNG)
        fprintf(stderr, "loss curves: not drawn (this build has no libpng)\n");
    else if (baton_plot_curves(path, "loss per target token", "step", "loss", series, 2) == BATON_OK)
        fprintf(stderr, "loss curves: %s\n", path);
}

static baton_status train_loop(baton_trainer *tr, baton_dataset *d, const cli_settings *s, baton_progress *p,
                               history *h)
{
    long batch = 0, window_tokens = 0;
    double window_loss = 0.0;
    for (long step = 1; step <= s->steps; step++) {
        double loss = 0.0;
        long tgt = 0, all = 0;
        int epoch = 0;
        for (int a = 0; a < s->accumulate; a++, batch++) {
            epoch = (int)(batch / d->train_b.count);
            int idx = baton_batching_pick(&d->train_b, (uint64_t)s->seed, epoch, (int)(batch % d->train_b.count));
            float l;
            BATON_TRY(baton_host_batch_fill(&d->hb, &d->train, &d->train_b, idx));
            BATON_TRY(baton_trainer_step(tr, &d->hb, &l));
            BATON_REQUIRE(isfinite(l), "training diverged at step %ld: the loss is %g (lower --lr or --clip)", step,
                          (double)l);
            loss += l;
            tgt += d->hb.tgt_tokens;
            all += d->hb.tgt_tokens + d->hb.src_tokens;
        }
        baton_progress_step(p, step, epoch + 1, loss, tgt, all - tgt, baton_optim_lr(&tr->opt.cfg, step));
        window_loss += loss;
        window_tokens += tgt;
        if (step % s->log_every == 0 || step == s->steps) {
            h->train_x[h->n_train] = (double)step;
            h->train_y[h->n_train++] = window_loss / (double)window_tokens;
            window_loss = 0.0, window_tokens = 0;
        }
        if ((s->valid_every > 0 && step % s->valid_every == 0) || step == s->steps) {
            double vl;
            BATON_TRY(baton_trainer_validate(tr, d, &vl));
            baton_progress_eval(p, step, "dev", vl, exp(vl), -1.0);
            h->dev_x[h->n_dev] = (double)step;
            h->dev_y[h->n_dev++] = vl;
        }
    }
    return BATON_OK;
}

/* Copies the weights to the host and writes the model directory. */
static baton_status save(baton_trainer *tr, baton_dataset *d, const cli_settings *s)
{
    size_t bytes = baton_param_bytes(&tr->table);
    float *host = malloc(bytes);
    if (!host)
        return BATON_ERROR(BATON_ERR_OOM, "saving: cannot allocate %zu bytes", bytes);
    baton_status st = tr->be->ops->download(tr->be, host, tr->params, bytes);
    if (st == BATON_OK)
        st = cli_model_save(s->model, s, &d->sv, &d->tv, &tr->table, host);
    free(host);
    if (st == BATON_OK)
        fprintf(stderr, "model written to %s/\n", s->model);
    return st;
}

baton_status cli_train_run(const cli_settings *s)
{
    BATON_REQUIRE(s->model, "--model DIR: where to write the trained model");
    baton_dataset d;
    memset(&d, 0, sizeof d);
    baton_backend be;
    baton_trainer tr;
    baton_progress p;
    baton_s2s_config mc;
    baton_optim_config oc;
    memset(&tr, 0, sizeof tr);
    baton_status st = load_data(&d, s);
    if (st == BATON_OK)
        st = cli_backend_create(&be, s, 1);
    if (st == BATON_OK)
        st = cli_model_config(&mc, s, d.sv.size, d.tv.size);
    if (st == BATON_OK)
        st = cli_optim_config(&oc, s);
    if (st == BATON_OK)
        st = baton_trainer_create(&tr, &be, &mc, &oc, d.hb.S_max, d.hb.T_max, s->batch, (uint64_t)s->seed,
                                  s->accumulate);
    if (st == BATON_OK)
        st = baton_trainer_use_rnn_impl(&tr, s->rnn_impl);
    if (st == BATON_OK) {
        size_t count = 0;
        for (int i = 0; i < tr.table.count; i++)
            count += tr.table.items[i].numel;
        fprintf(stderr, "model: %s, %d layer(s), E=%d H=%d, %s attention, %zu parameters; recurrent layers: %s\n",
                s->cell, s->layers, s->emb, s->hidden, s->attention, count, s->rnn_impl);
        st = baton_progress_open(&p, stderr, s->metrics, s->steps, s->log_every);
    }
    if (st == BATON_OK) {
        history h;
        st = history_alloc(&h, s);
        if (st == BATON_OK)
            st = train_loop(&tr, &d, s, &p, &h);
        baton_progress_close(&p);
        if (st == BATON_OK)
            st = save(&tr, &d, s);
        if (st == BATON_OK)
            history_plot(&h, s->model);
        history_free(&h);
    }
    baton_trainer_destroy(&tr);
    baton_dataset_free(&d);
    return st;
}

int cli_train(int argc, char **argv)
{
    cli_settings s;
    cli_opts_defaults(&s, cli_settings_opts);
    int help;
    if (cli_opts_argv(&s, cli_settings_opts, argc, argv, 2, &help) != BATON_OK)
        return 2;
    if (help) {
        printf("usage: baton train --model DIR [options]\n"
               "Trains a translator on a built-in task (--task) or on pre-tokenized files (--train-src/--train-tgt,\n"
               "--dev-src/--dev-tgt) and writes it to DIR.\n\n");
        cli_opts_help(stdout, cli_settings_opts);
        return 0;
    }
    return cli_train_run(&s) == BATON_OK ? 0 : 1;
}
