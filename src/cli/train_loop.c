/* train_loop.c: the training loop of `baton train` (train_loop.h): steps or epochs, validation
 * (loss, perplexity and greedy BLEU), the best model kept in model.safetensors, learning-rate decay
 * on plateau, early stopping, checkpoints every --save-every steps and when SIGINT, SIGTERM or SIGUSR1
 * arrives. What a checkpoint holds and the loss curves are train_state.c's. */
#include "train_loop.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/bleu.h"
#include "model_dir.h"
#include "translator.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    stop_requested = sig;
}

/* ---- validation ---- */

typedef struct {
    char **out; /* (n) translations */
} collected;

static void collect(void *ctx, int i, int k, const char *text, float score)
{
    (void)k, (void)score;
    collected *c = ctx;
    free(c->out[i]);
    c->out[i] = strdup(text);
}

/* Every rank's n-gram counts summed (exact in doubles below 2^53). */
static baton_status sum_bleu_stats(train_loop *L, baton_bleu_stats *bs)
{
    double v[10];
    for (int k = 0; k < 4; k++)
        v[k] = (double)bs->match[k], v[4 + k] = (double)bs->total[k];
    v[8] = (double)bs->hyp_len, v[9] = (double)bs->ref_len;
    char what[64];
    snprintf(what, sizeof what, "step %ld's validation BLEU counts", L->step);
    BATON_TRY(baton_dist_sum(L->dist, what, v, 10, v));
    for (int k = 0; k < 4; k++)
        bs->match[k] = (long)v[k], bs->total[k] = (long)v[4 + k];
    bs->hyp_len = (long)v[8], bs->ref_len = (long)v[9];
    return BATON_OK;
}

/* Greedy translations of the validation sources against their references, as sacreBLEU scores;
 * data parallel, each rank translates a slice and the n-gram counts are summed. */
static baton_status dev_bleu(train_loop *L, double *bleu)
{
    train_data *td = L->td;
    baton_trainer *tr = L->tr;
    int N = L->dist ? L->dist->env.size : 1, r = L->dist ? L->dist->env.rank : 0;
    int from = (int)((long)td->dev_raw.n * r / N), n = (int)((long)td->dev_raw.n * (r + 1) / N) - from;
    collected c = {calloc((size_t)n + 1, sizeof(char *))};
    BATON_REQUIRE(c.out, "validation: out of memory");
    cli_translator x = {.be = tr->be, .m = &tr->model, .t = &tr->table, .params = tr->params, .sv = &td->d.sv,
                        .tv = &td->d.tv, .ssw = td->ssw, .tsw = td->tsw, .batch = L->s->batch, .beam = 1, .nbest = 1,
                        .alpha = 0.0f, .max_len_ratio = L->s->max_len_ratio, .rnn_impl = L->s->rnn_impl,
                        .seed = td->seed};
    baton_status st = n > 0 ? cli_translator_run(&x, td->dev_raw.src + from, n, collect, &c) : BATON_OK;
    baton_bleu_stats bs;
    memset(&bs, 0, sizeof bs);
    for (int i = 0; st == BATON_OK && i < n; i++)
        st = baton_bleu_add_sentence(&bs, NULL, c.out[i] ? c.out[i] : "", td->dev_raw.tgt[from + i]);
    if (st == BATON_OK && N > 1)
        st = sum_bleu_stats(L, &bs);
    if (st == BATON_OK) {
        baton_bleu_result res;
        baton_bleu_compute(&bs, &res);
        *bleu = res.score;
    }
    for (int i = 0; i < n; i++)
        free(c.out[i]);
    free(c.out);
    return st;
}

/* Failures that leave the run able to go on: a write that failed (a full disk, a file-size limit)
 * or memory for it that was not there. The weights and everything else stay in memory. */
static int recoverable(baton_status st)
{
    return st == BATON_ERR_IO || st == BATON_ERR_OOM;
}

/* The weights model files hold (their moving average with --ema), copied to a malloc'd host buffer. */
static baton_status download_weights(train_loop *L, float **host)
{
    baton_trainer *tr = L->tr;
    size_t bytes = baton_param_bytes(&tr->table);
    *host = malloc(bytes);
    if (!*host)
        return BATON_ERROR(BATON_ERR_OOM, "saving: cannot allocate %zu bytes", bytes);
    baton_status st = tr->be->ops->download(tr->be, *host, baton_trainer_model_weights(tr), bytes);
    if (st != BATON_OK) {
        free(*host);
        *host = NULL;
    }
    return st;
}

/* Writes host weights as `file` (model.safetensors, with config and vocabularies; or
 * model.last.safetensors). */
static baton_status write_weights(train_loop *L, const char *file, const float *host, long step, const char *why)
{
    baton_status st = cli_model_save(L->s->model, file, L->s, &L->td->d.sv, &L->td->d.tv, &L->tr->table, host);
    if (st == BATON_OK && why)
        baton_progress_message(L->p, "model written to %s/%s (%s, step %ld)", L->s->model, file, why, step);
    return st;
}

/* Copies the weights to the host and writes `file`. */
static baton_status save_weights(train_loop *L, const char *file, const char *why)
{
    float *host;
    BATON_TRY(download_weights(L, &host));
    baton_status st = write_weights(L, file, host, L->step, why);
    free(host);
    return st;
}

/* Writes a new best model. When the write fails (a full disk), training goes on with the weights
 * kept on the host, and every later checkpoint tries again (write_pending_best) until they are
 * written or a newer best replaces them. */
static baton_status save_model(train_loop *L, const char *why)
{
    if (!baton_dist_leader(L->dist))
        return BATON_OK;
    float *host;
    BATON_TRY(download_weights(L, &host));
    baton_status st = write_weights(L, "model.safetensors", host, L->step, why);
    if (st == BATON_OK || !recoverable(st)) {
        free(host);
        if (st == BATON_OK) { /* a newer best replaces the one still waiting */
            free(L->pending_best);
            L->pending_best = NULL;
        }
        return st;
    }
    free(L->pending_best);
    L->pending_best = host, L->pending_best_step = L->step, L->pending_why = why;
    baton_progress_message(L->p, "%s/model.safetensors: the new best (step %ld) was not written (the error above); "
                                 "training goes on with it kept in memory, and each checkpoint tries again",
                           L->s->model, L->step);
    return BATON_OK;
}

/* A best model that could not be written before: tries again. */
static baton_status write_pending_best(train_loop *L)
{
    if (!L->pending_best)
        return BATON_OK;
    BATON_TRY(write_weights(L, "model.safetensors", L->pending_best, L->pending_best_step, L->pending_why));
    free(L->pending_best);
    L->pending_best = NULL;
    return BATON_OK;
}

/* A validation by `metric` (bleu, or else loss) as "larger is better". */
static double score_by(const char *metric, double loss, double bleu)
{
    return strcmp(metric, "bleu") == 0 && bleu >= 0 ? bleu : -loss;
}

int train_loop_track(train_loop *L, long step, double loss, double bleu)
{
    double keep = score_by(L->s->keep_best, loss, bleu), stop = score_by(L->s->stop_on, loss, bleu);
    if (isnan(L->best_stop) || stop > L->best_stop)
        L->best_stop = stop, L->bad = 0;
    else
        L->bad++;
    if (!isnan(L->best) && keep <= L->best)
        return 0;
    L->best = keep, L->best_step = step;
    return 1;
}

/* The validation loss and (--valid-bleu) greedy BLEU of the weights model files hold: with --ema,
 * their moving average, swapped in for the while. */
static baton_status evaluate(train_loop *L, double *loss, double *bleu)
{
    BATON_TRY(baton_trainer_swap_ema(L->tr));
    baton_status st = baton_trainer_validate(L->tr, &L->td->d, loss);
    if (st == BATON_OK && L->s->valid_bleu)
        st = dev_bleu(L, bleu);
    baton_status back = baton_trainer_swap_ema(L->tr);
    return st != BATON_OK ? st : back;
}

/* Validates, records, keeps the best model, decays on plateau; *stop when patience runs out. */
static baton_status validate(train_loop *L, int *stop)
{
    double loss, bleu = -1.0;
    BATON_TRY(evaluate(L, &loss, &bleu));
    BATON_TRY(train_curve_add(&L->dev_curve, (double)L->step, loss, bleu));
    int kept = train_loop_track(L, L->step, loss, bleu) && strcmp(L->s->keep_best, "last") != 0;
    const char *keep = strcmp(L->s->keep_best, "bleu") == 0 && bleu >= 0 ? "BLEU" : "loss";
    const char *watch = strcmp(L->s->stop_on, "bleu") == 0 && bleu >= 0 ? "BLEU" : "loss";
    char note[128];
    if (L->bad == 0)
        snprintf(note, sizeof note, "new best %s", watch);
    else
        snprintf(note, sizeof note, "%ld without a better %s", L->bad, watch);
    if (kept && strcmp(keep, watch) != 0)
        snprintf(note + strlen(note), sizeof note - strlen(note), "; new best %s", keep);
    baton_progress_eval(L->p, L->step, "dev", loss, exp(loss), bleu, note);
    if (kept)
        BATON_TRY(save_model(L, strcmp(keep, "BLEU") == 0 ? "best BLEU" : "best loss"));
    if (L->bad == 0)
        return BATON_OK;
    if (strcmp(L->s->lr_decay, "plateau") == 0 && L->bad % L->s->plateau_patience == 0) {
        L->lr_scale *= L->s->decay_rate;
        L->tr->opt.cfg.lr = L->base_lr * (float)L->lr_scale;
        baton_progress_message(L->p, "plateau: %ld validations without a better %s; learning rate now %g", L->bad,
                               L->s->stop_on, (double)L->tr->opt.cfg.lr);
    }
    if (L->s->patience > 0 && L->bad >= L->s->patience)
        *stop = 1;
    return BATON_OK;
}

/* ---- the loop ---- */

static int due(long step, int every)
{
    return every > 0 && step % every == 0;
}

/* The signal that stops the run now, or 0. Data parallel, only the one every rank agreed on at the
 * last step's exchange counts, so that all save and stop after the same step. */
static int stop_signal(const train_loop *L)
{
    if (baton_dist_single(L->dist))
        return stop_requested;
    return L->signalled ? (stop_requested ? stop_requested : SIGTERM) : 0;
}

/* --check-every: every rank's weights must be the same bits, or the ranks train different models. */
static baton_status check_weights(train_loop *L)
{
    if (baton_dist_single(L->dist) || !due(L->step, L->s->check_every))
        return BATON_OK;
    float *host;
    BATON_TRY(download_weights(L, &host));
    baton_status st = baton_dist_check_weights(L->dist, host, L->tr->table.total, L->step);
    free(host);
    return st;
}

/* One optimizer update's batches, enqueued, and what its report needs once their losses are read. */
typedef struct {
    long step, first, read; /* its number; the trainer's index of its first batch, and of the first unread */
    int batches, epoch;
    long tgt, src;
    double loss;            /* the summed loss of the batches read so far */
    float sumsq;            /* the gradient sum of squares its update ran with (read with its last batch) */
    float lr;
} step_work;

/* ---- the fault-injection hook (docs/faults.md) ---- */

/* "3,4,5" or "3-20,40" into L->faults as `kind`. */
static baton_status parse_faults(train_loop *L, const char *var, baton_fault kind)
{
    const char *text = getenv(var);
    if (!text || !*text)
        return BATON_OK;
    for (const char *p = text; *p;) {
        char *end;
        long from = strtol(p, &end, 10), to = from;
        if (end != p && *end == '-')
            to = strtol(end + 1, &end, 10);
        BATON_REQUIRE(end != p && from >= 1 && to >= from && (*end == ',' || !*end) && L->n_faults < 32,
                      "%s=%s: expected up to 32 step numbers or ranges, as 3,4,5 or 3-20 (a test hook: "
                      "docs/faults.md)", var, text);
        L->faults[L->n_faults].from = from, L->faults[L->n_faults].to = to, L->faults[L->n_faults].kind = kind;
        L->n_faults++;
        p = *end ? end + 1 : end;
    }
    fprintf(stderr, "%s=%s: test hook: the %s of these steps are poisoned\n", var, text,
            kind == BATON_FAULT_NAN_GRAD ? "gradients" : "losses");
    return BATON_OK;
}

baton_status train_loop_faults(train_loop *L)
{
    L->n_faults = 0;
    BATON_TRY(parse_faults(L, "BATON_FAULT_NAN_STEPS", BATON_FAULT_NAN_GRAD));
    BATON_TRY(parse_faults(L, "BATON_FAULT_INF_LOSS_STEPS", BATON_FAULT_INF_LOSS));
    L->tr->fault_hook = L->n_faults > 0;
    return BATON_OK;
}

static baton_fault fault_at(const train_loop *L, long step)
{
    for (int i = 0; i < L->n_faults; i++)
        if (step >= L->faults[i].from && step <= L->faults[i].to)
            return L->faults[i].kind;
    return BATON_FAULT_NONE;
}

/* Adds the losses of w's batches up to (not including) batch `upto` to w->loss: waits for those
 * batches only. The step's last batch, which completed its update, comes with the gradient sum of
 * squares the update ran with, in the same download: the NaN/Inf check costs no wait of its own. */
static baton_status read_losses(train_loop *L, step_work *w, long upto)
{
    for (; w->read < upto; w->read++) {
        float l;
        if (w->read - w->first == L->s->accumulate - 1)
            BATON_TRY(baton_trainer_health(L->tr, w->read, &l, &w->sumsq));
        else
            BATON_TRY(baton_trainer_loss(L->tr, w->read, &l));
        w->loss += l;
    }
    return BATON_OK;
}

/* Counts an epoch's end, says so on a corpus, and updates the run's length in steps. */
static void epoch_ended(train_loop *L)
{
    L->epoch++;
    if (!L->td->toy) {
        baton_stream_counts c = baton_stream_counts_get(L->td->stream, 1);
        baton_progress_message(L->p, "epoch %d done: %lld pairs in %lld batches; %lld empty and %lld over --max-len "
                                     "skipped%s",
                               L->epoch, c.pairs, c.batches, c.skipped_empty, c.skipped_long,
                               c.partial ? " (counted since the resume)" : "");
    }
    if (L->epoch == 1 && L->s->epochs > 0) { /* now the run's length in steps is known */
        long total = (L->step + 1) * L->s->epochs;
        L->p->total_steps = total < L->max_steps ? total : L->max_steps;
    }
}

/* Reads the batches of a data-parallel round up to this rank's, or up to the epoch's end: every
 * rank reads the same stream in the same order and keeps batch number `rank` of each round of N
 * (*mine NULL where the epoch ended before it); *ended: the epoch ended at the last one read. */
static baton_status draw_mine(train_loop *L, int *read, baton_host_batch **mine, int *ended)
{
    int rank = L->dist ? L->dist->env.rank : 0;
    baton_host_batch *hb = NULL;
    *ended = 0;
    for (*read = 0; *read <= rank && !*ended; ++*read)
        BATON_TRY(train_data_next(L->td, &hb, ended));
    *mine = *read == rank + 1 ? hb : NULL;
    return BATON_OK;
}

/* Reads (and skips) the round's batches after this rank's, up to N or the epoch's end. */
static baton_status skip_rest(train_loop *L, int read, int *ended)
{
    int N = L->dist ? L->dist->env.size : 1;
    baton_host_batch *hb;
    for (; read < N && !*ended; read++)
        BATON_TRY(train_data_next(L->td, &hb, ended));
    return BATON_OK;
}

/* Trains on this rank's batch of one round (or on none) after agreeing with the other ranks on the
 * round's target and source tokens, and on whether any of them was asked to stop. */
static baton_status one_round(train_loop *L, step_work *w)
{
    baton_host_batch *mine;
    int read, ended;
    BATON_TRY(draw_mine(L, &read, &mine, &ended));
    double in[3] = {mine ? (double)mine->tgt_tokens : 0.0, mine ? (double)mine->src_tokens : 0.0,
                    stop_requested ? 1.0 : 0.0}, all[3];
    char what[64];
    snprintf(what, sizeof what, "step %ld's batch sizes", w->step);
    BATON_TRY(baton_dist_sum(L->dist, what, in, 3, all));
    L->signalled = baton_dist_single(L->dist) ? 0 : all[2] > 0; /* alone, the flag is read where it is needed */
    BATON_REQUIRE(all[0] > 0, "step %ld: no rank has a batch with target tokens", w->step);
    BATON_TRY(baton_trainer_step_shared(L->tr, mine, (long)all[0], NULL));
    BATON_TRY(skip_rest(L, read, &ended));
    w->batches++, w->tgt += (long)all[0], w->src += (long)all[1];
    if (ended)
        epoch_ended(L);
    return BATON_OK;
}

/* Enqueues one optimizer update over --accumulate rounds of batches (one batch each alone; one per
 * rank, data parallel); nothing waits for the device unless the update has more batches than the
 * trainer keeps losses of. */
static baton_status one_step(train_loop *L, step_work *w)
{
    memset(w, 0, sizeof *w);
    w->first = w->read = L->tr->batches;
    w->step = L->step + 1;
    L->tr->fault = fault_at(L, w->step);
    int N = L->dist ? L->dist->env.size : 1;
    for (int a = 0; a < L->s->accumulate; a++) {
        BATON_TRY(one_round(L, w));
        if (L->tr->batches - w->read >= BATON_TRAINER_LOSSES / 2) /* read before the trainer forgets them */
            BATON_TRY(read_losses(L, w, L->tr->batches));
        if (L->epoch == 0 && L->s->epochs > 0 && !L->td->toy) { /* the first epoch: estimated from the data */
            double per_epoch = ceil(baton_stream_epoch_batches(L->td->stream) / ((double)L->s->accumulate * N));
            if (per_epoch > 0)
                L->p->total_steps = (long)fmin(per_epoch * L->s->epochs, (double)L->max_steps);
        }
    }
    L->tr->fault = BATON_FAULT_NONE;
    w->epoch = L->epoch + 1;
    w->lr = baton_optim_lr(&L->tr->opt.cfg, w->step);
    return BATON_OK;
}

/* Where the last checkpoint on disk stands, for messages. */
static void checkpoint_note(const train_loop *L, char *buf, size_t n)
{
    if (L->saved_step >= 0)
        snprintf(buf, n, "%s/checkpoint.safetensors holds step %ld", L->s->model, L->saved_step);
    else
        snprintf(buf, n, "no checkpoint has been written yet");
}

/* A step whose update the optimizer skipped (its loss or gradient norm was NaN or Inf): counted,
 * reported; after --max-bad-steps of them in a row, the run stops without saving, so the last
 * checkpoint stays as the last good state. */
static baton_status skipped_step(train_loop *L, step_work *w)
{
    L->skipped++, L->bad_run++;
    /* the norm of the mean-loss gradients, before the clip, as the optimizer computes it */
    double norm = sqrt((double)w->sumsq) / L->s->accumulate;
    /* a non-finite loss is folded into the gradients (trainer.h), so it hides their norm */
    int loss_bad = !isfinite(w->loss);
    char note[256];
    snprintf(note, sizeof note, "%s not finite: no update; %ld in a row, %ld in all (--max-bad-steps %d)",
             loss_bad ? "loss" : "gradient norm", L->bad_run, L->skipped, L->s->max_bad_steps);
    baton_progress_skipped(L->p, w->step, w->epoch, w->lr, w->loss / (double)w->tgt, loss_bad ? -1.0 : norm, note);
    if (L->s->max_bad_steps == 0 || L->bad_run < L->s->max_bad_steps)
        return BATON_OK;
    char ck[4200];
    checkpoint_note(L, ck, sizeof ck);
    return BATON_ERROR(BATON_ERR_INVALID,
                       "training stopped at step %ld: %ld steps in a row (%ld to %ld) had a NaN or Inf loss or "
                       "gradient norm (--max-bad-steps %d); their updates were skipped and nothing was saved over "
                       "the last checkpoint: %s. Continue with the same command and --resume, perhaps with a lower "
                       "--lr or --clip%s",
                       w->step, L->bad_run, w->step - L->bad_run + 1, w->step, L->s->max_bad_steps, ck,
                       strcmp(L->s->precision, "bf16") == 0 ? ", or --precision fp32" : "");
}

/* Reads a step's losses (waiting for that step only) and reports it: the progress line, the
 * window of the loss curve; or, for a step whose update was skipped, skipped_step. */
static baton_status report_step(train_loop *L, step_work *w, double *window, long *window_tokens)
{
    BATON_TRY(read_losses(L, w, w->first + w->batches));
    if (!baton_dist_single(L->dist)) { /* the step's loss over every rank's batch */
        char what[64];
        snprintf(what, sizeof what, "step %ld's loss", w->step);
        BATON_TRY(baton_dist_sum(L->dist, what, &w->loss, 1, &w->loss));
    }
    if (!baton_optim_sumsq_ok(w->sumsq))
        return skipped_step(L, w);
    L->bad_run = 0;
    baton_progress_step(L->p, w->step, w->epoch, w->loss, w->tgt, w->src, w->lr);
    *window += w->loss, *window_tokens += w->tgt;
    if (due(w->step, L->s->log_every) && *window_tokens > 0) {
        BATON_TRY(train_curve_add(&L->train_curve, (double)w->step, *window / (double)*window_tokens, -1.0));
        *window = 0.0, *window_tokens = 0;
    }
    return BATON_OK;
}

/* Writes the checkpoint (and a best model still waiting to be written). A write that fails for
 * want of disk or memory does not stop training unless `must` (the end, a signal): the message
 * says so, the last checkpoint stays as it was, and the next one due tries again. */
static baton_status checkpoint(train_loop *L, int must)
{
    if (!baton_dist_leader(L->dist)) { /* rank 0 writes; what it writes is every rank's state */
        L->saved_step = L->step, L->save_owed = 0;
        return BATON_OK;
    }
    baton_status st = write_pending_best(L);
    if (st == BATON_OK)
        st = train_loop_save(L);
    if (st == BATON_OK) {
        L->saved_step = L->step;
        L->save_owed = 0;
        return BATON_OK;
    }
    if (must || !recoverable(st))
        return st;
    char ck[4200];
    checkpoint_note(L, ck, sizeof ck);
    baton_progress_message(L->p, "step %ld: not saved (the error above); training goes on, %s, and the next "
                                 "checkpoint tries again", L->step, ck);
    return BATON_OK;
}

/* After a save at the end of the run failed: what is on disk and how to carry on. */
static void say_how_to_resume(const train_loop *L, const char *when)
{
    char ck[4200];
    checkpoint_note(L, ck, sizeof ck);
    fprintf(stderr, "%s at step %ld, but it could not be saved (the error above): %s. Free some space and run the "
                    "same command with --resume: it continues from there%s\n",
            when, L->step, ck, L->saved_step == L->step ? " and writes the models" : "");
}

/* The run's last line: which weights model.safetensors holds and why, where the others are. */
static void summary(const train_loop *L, int last)
{
    const char *dir = L->s->model;
    int bleu = strcmp(L->s->keep_best, "bleu") == 0 && L->best >= 0;
    char skipped[160] = "";
    if (L->skipped > 0)
        snprintf(skipped, sizeof skipped, "; %ld step(s) skipped for a NaN or Inf loss or gradient norm (the skip "
                                          "lines say which)", L->skipped);
    if (last)
        baton_progress_message(L->p, "done: %s/model.safetensors holds the last weights (step %ld); checkpoint %s/"
                                     "checkpoint.safetensors%s", dir, L->step, dir, skipped);
    else
        baton_progress_message(L->p, "done: %s/model.safetensors holds step %ld, the best of %d validations by %s "
                                     "(%s %.4g); %s/model.last.safetensors the last (step %ld); checkpoint %s/"
                                     "checkpoint.safetensors%s", dir, L->best_step, L->dev_curve.n,
                               bleu ? "BLEU" : "loss", bleu ? "BLEU" : "loss", bleu ? L->best : -L->best, dir,
                               L->step, dir, skipped);
}

/* One line on what ended the run: the --steps or --epochs limit, or early stopping. */
static void say_why_stopped(const train_loop *L, int early)
{
    const cli_settings *s = L->s;
    if (early)
        baton_progress_message(L->p, "stopped early at step %ld, epoch %d: --patience %d validations without a "
                                     "better %s", L->step, L->epoch + 1, s->patience, s->stop_on);
    else if (s->epochs > 0 && L->epoch >= s->epochs)
        baton_progress_message(L->p, "stopped at step %ld: --epochs %d done", L->step, s->epochs);
    else
        baton_progress_message(L->p, "stopped at step %ld, in epoch %d: --steps %ld reached%s", L->step, L->epoch + 1,
                               L->max_steps, s->epochs > 0 ? " before --epochs" : "");
}

baton_status train_loop_run(train_loop *L)
{
    const cli_settings *s = L->s;
    BATON_TRY(train_loop_faults(L));
    struct sigaction sa, old_int, old_term, old_usr1;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGUSR1, &sa, &old_usr1); /* what mpirun passes on to every rank and keeps running (and Slurm's --signal) */
    stop_requested = 0;
    baton_status st = BATON_OK;
    double window = 0.0;
    long window_tokens = 0;
    int stop = 0, validated = 0;
    /* A step's losses are read while the next one runs: the host prepares and enqueues batch k + 1
     * before it waits for batch k, except where something needs step k finished (validation, a
     * checkpoint, the end). The NaN/Inf guard rides on that read (report_step): the optimizer has
     * already skipped a bad update on the device, the host only counts and reports it. */
    step_work w, prev;
    int have_prev = 0;
    while (st == BATON_OK && !stop && L->step < L->max_steps && (s->epochs <= 0 || L->epoch < s->epochs)) {
        st = one_step(L, &w);
        if (st == BATON_OK && have_prev)
            st = report_step(L, &prev, &window, &window_tokens);
        have_prev = 0;
        if (st != BATON_OK)
            break;
        L->step++;
        validated = 0;
        int save_due = s->save_every > 0 ? due(L->step, s->save_every) : due(L->step, s->valid_every);
        int later = !due(L->step, s->valid_every) && !save_due && !L->save_owed && !stop_signal(L) &&
                    L->step < L->max_steps && (s->epochs <= 0 || L->epoch < s->epochs);
        if (later)
            prev = w, have_prev = 1;
        else
            st = report_step(L, &w, &window, &window_tokens);
        if (st == BATON_OK)
            st = check_weights(L);
        if (st == BATON_OK && due(L->step, s->valid_every)) {
            st = validate(L, &stop);
            validated = 1;
        }
        /* A checkpoint due at a skipped step waits for the next good one: if the skips go on until
         * --max-bad-steps stops the run, the checkpoint on disk is from before they began. */
        if (st == BATON_OK && (save_due || L->save_owed)) {
            if (L->bad_run > 0)
                L->save_owed = 1;
            else
                st = checkpoint(L, 0);
        }
        if (st == BATON_OK && stop_signal(L)) {
            if (have_prev) /* the signal came after this step was left for later */
                st = report_step(L, &prev, &window, &window_tokens);
            have_prev = 0;
            int sig = stop_signal(L);
            const char *what = sig == SIGINT ? "interrupted" : sig == SIGUSR1 ? "stopped by SIGUSR1" : "terminated";
            if (st == BATON_OK)
                st = checkpoint(L, 1);
            if (st == BATON_OK)
                fprintf(stderr, "\n%s: checkpoint saved at step %ld; continue with the same command and --resume\n",
                        what, L->step);
            else if (recoverable(st))
                say_how_to_resume(L, what);
            L->interrupted = sig;
            break;
        }
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGUSR1, &old_usr1, NULL);
    if (st == BATON_OK && !L->interrupted)
        say_why_stopped(L, stop);
    if (st == BATON_OK && !L->interrupted && !validated && L->step > 0)
        st = validate(L, &stop);
    if (st == BATON_OK && !L->interrupted) {
        st = checkpoint(L, 1);
        int last = strcmp(s->keep_best, "last") == 0 || isnan(L->best);
        if (!baton_dist_leader(L->dist))
            return st;
        if (st == BATON_OK)
            st = save_weights(L, last ? "model.safetensors" : "model.last.safetensors", NULL);
        if (st == BATON_OK)
            train_loop_plot(L);
        if (st == BATON_OK)
            summary(L, last);
        else if (recoverable(st))
            say_how_to_resume(L, "training finished");
    }
    return st;
}

void train_loop_free(train_loop *L)
{
    free(L->pending_best);
    L->pending_best = NULL;
    free(L->train_curve.xyz);
    free(L->dev_curve.xyz);
}
