/* train_state.c: what a `baton train` run keeps beside its weights (train_loop.h): the loss and
 * validation curves (loss.png, and the checkpoint's history), and the checkpoint itself. Everything
 * a later step depends on (weights, Adam's moments, the moving average, the update and batch
 * counters that key the schedule and the dropout masks, the data position, the plateau and
 * early-stopping counters) is in the checkpoint, so a resumed run continues exactly. */
#include "train_loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/plot.h"
#include "baton_config.h"
#include "model_dir.h"

/* ---- history: the curves of loss.png, kept in the checkpoint ---- */

baton_status train_curve_add(train_curve *c, double x, double y, double z)
{
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 256;
        double *p = realloc(c->xyz, (size_t)cap * 3 * sizeof *p);
        if (!p)
            return BATON_ERROR(BATON_ERR_OOM, "loss history: out of memory");
        c->xyz = p;
        c->cap = cap;
    }
    c->xyz[3 * c->n] = x, c->xyz[3 * c->n + 1] = y, c->xyz[3 * c->n + 2] = z;
    c->n++;
    return BATON_OK;
}

/* "t step loss -1" and "d step loss bleu" lines, for the checkpoint. */
static char *history_text(const train_loop *L)
{
    enum { LINE_MAX_CHARS = 4 + 3 * 25 }; /* "t " and three %.17g numbers (at most 24 chars each) */
    size_t cap = 1 + LINE_MAX_CHARS * (size_t)(L->train_curve.n + L->dev_curve.n), len = 0;
    char *out = malloc(cap);
    const train_curve *cs[2] = {&L->train_curve, &L->dev_curve};
    if (out)
        out[0] = 0;
    for (int k = 0; out && k < 2; k++)
        for (int i = 0; i < cs[k]->n && len < cap; i++)
            len += (size_t)snprintf(out + len, cap - len, "%c %.17g %.17g %.17g\n", k ? 'd' : 't', cs[k]->xyz[3 * i],
                                    cs[k]->xyz[3 * i + 1], cs[k]->xyz[3 * i + 2]);
    return out;
}

static baton_status history_parse(train_loop *L, const char *text)
{
    for (const char *p = text; p && *p;) {
        char kind;
        double x, y, z;
        BATON_REQUIRE(sscanf(p, "%c %lg %lg %lg", &kind, &x, &y, &z) == 4 && (kind == 't' || kind == 'd'),
                      "checkpoint history: bad line '%.40s'", p);
        BATON_TRY(train_curve_add(kind == 't' ? &L->train_curve : &L->dev_curve, x, y, z));
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return BATON_OK;
}

void train_loop_plot(const train_loop *L)
{
    char path[4096];
    int n[2] = {L->train_curve.n, L->dev_curve.n};
    double *x[2], *y[2];
    for (int k = 0; k < 2; k++) {
        const train_curve *c = k ? &L->dev_curve : &L->train_curve;
        x[k] = malloc((size_t)(n[k] + 1) * sizeof(double));
        y[k] = malloc((size_t)(n[k] + 1) * sizeof(double));
        for (int i = 0; x[k] && y[k] && i < n[k]; i++)
            x[k][i] = c->xyz[3 * i], y[k][i] = c->xyz[3 * i + 1];
    }
    baton_plot_series series[2] = {{"train", x[0], y[0], n[0]}, {"dev", x[1], y[1], n[1]}};
    if (!BATON_HAVE_PNG)
        fprintf(stderr, "loss curves: not drawn (this build has no libpng)\n");
    else if (x[0] && y[0] && x[1] && y[1] && cli_path_in(path, sizeof path, L->s->model, "loss.png") == BATON_OK &&
             baton_plot_curves(path, "loss per target token", "step", "loss", series, 2) == BATON_OK)
        fprintf(stderr, "loss curves: %s\n", path);
    for (int k = 0; k < 2; k++)
        free(x[k]), free(y[k]);
}

/* ---- checkpoints ---- */

/* What write prints about arg, as a malloc'd string (NULL when out of memory). */
static char *text_of(void (*write)(FILE *, const void *), const void *arg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    write(f, arg);
    fclose(f);
    return buf;
}

/* The tokens of a vocabulary, one per line in id order (what baton_vocab_save writes). */
static void write_vocab(FILE *f, const void *arg)
{
    const baton_vocab *v = arg;
    for (int i = 0; i < v->size; i++)
        fprintf(f, "%s\n", v->tokens[i]);
}

static void write_config(FILE *f, const void *arg)
{
    cli_opts_write(f, arg, cli_settings_opts, CLI_TRAIN);
}

static baton_status checkpoint_path(const train_loop *L, char *path, size_t n)
{
    return cli_path_in(path, n, L->s->model, "checkpoint.safetensors");
}

/* The device buffers a checkpoint holds (params, Adam's m and v, the moving average; NULL where
 * absent) and host twins for them in one malloc'd block (*block, NULL when out of memory). */
static void checkpoint_buffers(const baton_trainer *tr, float *dev[4], float *host[4], float **block)
{
    float *d[4] = {tr->params, tr->opt.m, tr->opt.v, tr->opt.ema};
    int n = 0;
    for (int i = 0; i < 4; i++)
        n += d[i] != NULL;
    *block = malloc((size_t)n * baton_param_bytes(&tr->table));
    for (int i = 0, k = 0; i < 4; i++) {
        dev[i] = d[i];
        host[i] = d[i] && *block ? *block + (size_t)k++ * tr->table.total : NULL;
    }
}

baton_status train_loop_save(train_loop *L)
{
    baton_trainer *tr = L->tr;
    size_t bytes = baton_param_bytes(&tr->table);
    float *dev[4], *host[4], *block;
    checkpoint_buffers(tr, dev, host, &block);
    char *hist = history_text(L), pos[BATON_STREAM_POS_TEXT_MAX], path[4096];
    char *cfg = text_of(write_config, L->s), *sv = text_of(write_vocab, &L->td->d.sv);
    char *tv = text_of(write_vocab, &L->td->d.tv);
    baton_status st = block && hist && cfg && sv && tv ? BATON_OK
                                                       : BATON_ERROR(BATON_ERR_OOM, "checkpoint: out of memory");
    if (st == BATON_OK && tr->ema_in)
        st = BATON_ERROR(BATON_ERR_INVALID, "checkpoint: the weights hold their moving average; expected the "
                         "trained ones");
    for (int i = 0; i < 4; i++)
        if (st == BATON_OK && dev[i])
            st = tr->be->ops->download(tr->be, host[i], dev[i], bytes);
    if (st == BATON_OK)
        st = train_data_tell(L->td, pos, sizeof pos);
    if (st == BATON_OK)
        st = checkpoint_path(L, path, sizeof path);
    baton_ckpt_state cs = {.step = L->step, .batches = tr->batches, .epoch = L->epoch, .seed = L->td->seed,
                           .best_score = L->best, .bad_evals = L->bad, .lr_scale = L->lr_scale,
                           .elapsed_ms = 0, .skipped_steps = L->skipped, .bad_steps_in_a_row = L->bad_run};
    char ranks[16];
    snprintf(ranks, sizeof ranks, "%d", L->dist ? L->dist->env.size : 1);
    baton_ckpt_text texts[6] = {{"data_position", pos}, {"history", hist}, {"config", cfg}, {"src_vocab", sv},
                                {"tgt_vocab", tv}, {"ranks", ranks}};
    if (st == BATON_OK)
        st = baton_ckpt_save(path, &tr->table, host[0], host[1], host[2], host[3], &cs, texts, 6);
    free(block);
    free(hist), free(cfg), free(sv), free(tv);
    return st;
}

/* A checkpoint resumes exactly only with the number of ranks that wrote it: the data position
 * counts whole steps of that many batches, and each rank's dropout masks follow its rank. */
static baton_status check_ranks(const train_loop *L, const char *path)
{
    baton_status st;
    char *text = baton_ckpt_text_get(path, "ranks", &st);
    BATON_TRY(st);
    long saved = text ? strtol(text, NULL, 10) : 1, now = L->dist ? L->dist->env.size : 1;
    free(text);
    BATON_REQUIRE(saved == now, "%s: written by a run of %ld process(es), and this run has %ld: a resume continues "
                  "exactly only with the same number (each step held %ld batches, one per rank); start it with %s",
                  path, saved, now, saved, saved > 1 ? "mpirun -np <that number> (or srun -n)" : "no launcher");
    return BATON_OK;
}

baton_status train_loop_resume(train_loop *L)
{
    baton_trainer *tr = L->tr;
    char path[4096];
    BATON_TRY(checkpoint_path(L, path, sizeof path));
    size_t bytes = baton_param_bytes(&tr->table);
    float *dev[4], *host[4], *block;
    checkpoint_buffers(tr, dev, host, &block);
    BATON_REQUIRE(block, "checkpoint: out of memory");
    baton_ckpt_state cs;
    baton_status st = baton_ckpt_load(path, &tr->table, host[0], host[1], host[2], host[3], &cs);
    /* a checkpoint of a run without --ema: the average starts from the weights it resumes */
    if (dev[3] && st == BATON_OK && !cs.has_ema)
        host[3] = NULL;
    for (int i = 0; i < 4; i++)
        if (st == BATON_OK && dev[i] && host[i])
            st = tr->be->ops->upload(tr->be, dev[i], host[i], bytes);
    if (dev[3] && st == BATON_OK && !cs.has_ema) {
        st = baton_optim_ema_reset(&tr->opt, tr->be, tr->params);
        fprintf(stderr, "%s holds no moving average of the weights (trained without --ema): the average starts "
                        "from the weights it resumes\n", path);
    }
    free(block);
    for (int side = 0; st == BATON_OK && side < 2; side++) {
        char *saved = baton_ckpt_text_get(path, side ? "tgt_vocab" : "src_vocab", &st);
        char *now = text_of(write_vocab, side ? &L->td->d.tv : &L->td->d.sv);
        if (st == BATON_OK && saved && (!now || strcmp(saved, now) != 0))
            st = BATON_ERROR(BATON_ERR_FORMAT, "%s: trained with another %s vocabulary than %s/%s.vocab holds now", path,
                             side ? "target" : "source", L->s->model, side ? "tgt" : "src");
        free(saved), free(now);
    }
    if (st == BATON_OK)
        st = check_ranks(L, path);
    char *pos = st == BATON_OK ? baton_ckpt_text_get(path, "data_position", &st) : NULL;
    char *hist = st == BATON_OK ? baton_ckpt_text_get(path, "history", &st) : NULL;
    if (st == BATON_OK && !pos)
        st = BATON_ERROR(BATON_ERR_FORMAT, "%s: no data position; expected a checkpoint written by baton train", path);
    if (st == BATON_OK)
        st = train_data_seek(L->td, pos);
    if (st == BATON_OK && hist)
        st = history_parse(L, hist);
    free(pos);
    free(hist);
    BATON_TRY(st);
    BATON_REQUIRE(cs.seed == L->td->seed, "%s: trained with --seed %llu, this run has --seed %llu", path,
                  (unsigned long long)cs.seed, (unsigned long long)L->td->seed);
    L->step = cs.step;
    L->epoch = (int)cs.epoch;
    for (int i = 0; i < L->dev_curve.n; i++) /* the best scores and their steps, from every validation */
        train_loop_track(L, (long)L->dev_curve.xyz[3 * i], L->dev_curve.xyz[3 * i + 1], L->dev_curve.xyz[3 * i + 2]);
    L->bad = cs.bad_evals;
    L->lr_scale = cs.lr_scale;
    L->skipped = cs.skipped_steps;
    L->bad_run = cs.bad_steps_in_a_row;
    L->saved_step = cs.step;
    tr->batches = cs.batches;
    tr->opt.step = cs.step;
    tr->opt.cfg.lr = L->base_lr * (float)L->lr_scale;
    if (L->skipped > 0)
        fprintf(stderr, "resumed from %s: step %ld, epoch %d (%ld step(s) skipped so far for a non-finite loss or "
                        "gradient)\n", path, L->step, L->epoch + 1, L->skipped);
    else
        fprintf(stderr, "resumed from %s: step %ld, epoch %d\n", path, L->step, L->epoch + 1);
    return BATON_OK;
}

