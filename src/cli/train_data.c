/* train_data.c: where `baton train` gets its batches (train_data.h). A built-in task is drawn and
 * held in memory (baton_dataset); corpus files are streamed (baton_stream) with subword models
 * and vocabularies prepared in the model directory. Both keep the validation pairs twice: raw,
 * for BLEU against the references as written, and encoded into batches for the loss. */
#include "train_data.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "baton/reader.h"
#include "baton/text.h"
#include "model_dir.h"
#include "prepare.h"
#include "translator.h"

static baton_reader_options reader_options(const cli_settings *s)
{
    return (baton_reader_options){.max_words = 0, .replace_invalid = s->replace_invalid};
}

/* Reads every pair of a (small) corpus through the validating reader: raw lines, owned. */
static baton_status read_all(baton_pairs *p, const char *src, const char *tgt, const baton_reader_options *ro)
{
    memset(p, 0, sizeof *p);
    baton_reader *r;
    BATON_TRY(baton_reader_open(&r, src, tgt, ro));
    const char *s, *t;
    int got, cap = 0;
    baton_status st = BATON_OK;
    while (st == BATON_OK && (got = baton_reader_next(r, &s, &t)) == 1) {
        if (p->n == cap) {
            cap = cap ? 2 * cap : 1024;
            char **a = realloc(p->src, (size_t)cap * sizeof *a), **b = a ? realloc(p->tgt, (size_t)cap * sizeof *b) : NULL;
            if (a)
                p->src = a;
            if (b)
                p->tgt = b;
            if (!a || !b) {
                st = BATON_ERROR(BATON_ERR_OOM, "%s: out of memory at %d pairs", src, p->n);
                break;
            }
        }
        p->src[p->n] = strdup(s);
        p->tgt[p->n] = strdup(t);
        if (!p->src[p->n] || !p->tgt[p->n]) {
            free(p->src[p->n]), free(p->tgt[p->n]);
            st = BATON_ERROR(BATON_ERR_OOM, "%s: out of memory at %d pairs", src, p->n);
        } else
            p->n++;
    }
    if (st == BATON_OK && got < 0)
        st = (baton_status)-got;
    baton_reader_close(r);
    return st;
}

/* The validation pairs: raw for BLEU, tokenized and encoded into batches for the loss. */
static baton_status load_dev(train_data *td, const cli_settings *s)
{
    baton_reader_options ro = reader_options(s);
    BATON_TRY(read_all(&td->dev_raw, s->dev_src, s->dev_tgt, &ro));
    BATON_REQUIRE(td->dev_raw.n > 0, "%s: no validation pairs (all empty?)", s->dev_src);
    baton_pairs tok = {0};
    tok.src = calloc((size_t)td->dev_raw.n, sizeof *tok.src);
    tok.tgt = calloc((size_t)td->dev_raw.n, sizeof *tok.tgt);
    BATON_REQUIRE(tok.src && tok.tgt, "validation: out of memory");
    tok.n = td->dev_raw.n;
    baton_status st = BATON_OK;
    for (int i = 0; st == BATON_OK && i < tok.n; i++) {
        tok.src[i] = strdup(td->dev_raw.src[i]);
        tok.tgt[i] = strdup(td->dev_raw.tgt[i]);
        st = tok.src[i] && tok.tgt[i] ? BATON_OK : BATON_ERROR(BATON_ERR_OOM, "validation: out of memory");
    }
    if (st == BATON_OK)
        st = cli_tokenize_lines(td->ssw, tok.src, tok.n);
    if (st == BATON_OK)
        st = cli_tokenize_lines(td->tsw, tok.tgt, tok.n);
    if (st == BATON_OK)
        st = baton_corpus_encode(&td->d.dev, &td->d.sv, &td->d.tv, tok.src, tok.tgt, tok.n, s->max_len);
    baton_pairs_free(&tok);
    BATON_TRY(st);
    BATON_REQUIRE(td->d.dev.n > 0, "%s: every validation pair is empty or longer than --max-len %d", s->dev_src,
                  s->max_len);
    BATON_TRY(baton_batching_make(&td->d.dev_b, &td->d.dev, s->batch, 0));
    return baton_host_batch_alloc(&td->d.hb, td->d.dev.max_src, td->d.dev.max_tgt, s->batch);
}

static baton_status open_stream(train_data *td, const cli_settings *s)
{
    int budget = s->batch_tokens > 0 ? s->batch_tokens : s->batch * (s->max_len + 1);
    baton_stream_config sc = {.src_path = s->train_src, .tgt_path = s->train_tgt, .reader = reader_options(s),
                              .src_sw = td->ssw, .tgt_sw = td->tsw, .src_vocab = &td->d.sv, .tgt_vocab = &td->d.tv,
                              .max_len = s->max_len, .batch_tokens = budget, .max_sentences = s->batch,
                              .seed = (uint64_t)s->seed};
    BATON_TRY(baton_stream_open(&td->stream, &sc));
    BATON_TRY(baton_stream_host_batch_alloc(td->stream, &td->hb));
    baton_stream_limits(td->stream, &td->S_max, &td->T_max, &td->B_max);
    return BATON_OK;
}

static baton_status open_files(train_data *td, const cli_settings *s)
{
    BATON_REQUIRE(s->dev_src, "--train-src without --dev-src: give a validation set");
    const char *dir = s->model;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return BATON_ERROR(BATON_ERR_IO, "model directory %s: %s", dir, strerror(errno));
    baton_reader_options ro = reader_options(s);
    BATON_TRY(cli_prepare_subwords(s, dir, &ro));
    BATON_TRY(cli_model_subword(&td->ssw, dir, "src"));
    BATON_TRY(cli_model_subword(&td->tsw, dir, "tgt"));
    BATON_TRY(cli_prepare_vocabs(&td->d.sv, &td->d.tv, s, dir, &ro, td->ssw, td->tsw));
    BATON_TRY(load_dev(td, s));
    BATON_TRY(open_stream(td, s));
    td->S_max = td->S_max > td->d.dev.max_src ? td->S_max : td->d.dev.max_src;
    td->T_max = td->T_max > td->d.dev.max_tgt ? td->T_max : td->d.dev.max_tgt;
    td->B_max = td->B_max > s->batch ? td->B_max : s->batch;
    baton_stream_counts c = baton_stream_counts_get(td->stream, 0);
    fprintf(stderr,
            "data: %s%s%s, streamed; first chunk %lld pairs (%lld empty and %lld longer than %d tokens skipped); "
            "%d validation pairs (%d for the loss); vocabularies %d / %d%s\n",
            s->train_src, s->train_tgt ? " + " : " (tab-separated)", s->train_tgt ? s->train_tgt : "", c.pairs,
            c.skipped_empty, c.skipped_long, s->max_len, td->dev_raw.n, td->d.dev.n, td->d.sv.size, td->d.tv.size,
            baton_subword_is_sentencepiece(td->ssw) ? ", SentencePiece subwords" : "");
    return BATON_OK;
}

/* A built-in task: both splits drawn in memory; the raw validation pairs double as BLEU's. */
static baton_status open_toy(train_data *td, const cli_settings *s)
{
    baton_pairs tr;
    BATON_TRY(baton_toy_generate(&tr, s->task, "train", s->train_size, (uint64_t)s->seed));
    baton_status st = baton_toy_generate(&td->dev_raw, s->task, "dev", s->dev_size, (uint64_t)s->seed);
    if (st == BATON_OK)
        st = baton_dataset_build(&td->d, &tr, &td->dev_raw, s->min_count, s->vocab_size, s->max_len, s->batch);
    baton_pairs_free(&tr);
    BATON_TRY(st);
    BATON_TRY(baton_subword_open(&td->ssw, NULL));
    BATON_TRY(baton_subword_open(&td->tsw, NULL));
    td->toy = 1;
    td->S_max = td->d.hb.S_max;
    td->T_max = td->d.hb.T_max;
    td->B_max = s->batch;
    fprintf(stderr, "data: %d training pairs (%d empty and %d longer than %d skipped), %d validation pairs; "
                    "vocabularies %d / %d\n",
            td->d.train.n, td->d.train.skipped_empty, td->d.train.skipped_long, s->max_len, td->d.dev.n,
            td->d.sv.size, td->d.tv.size);
    return BATON_OK;
}

baton_status train_data_open(train_data *td, const cli_settings *s)
{
    memset(td, 0, sizeof *td);
    td->seed = (uint64_t)s->seed;
    return s->train_src ? open_files(td, s) : open_toy(td, s);
}

void train_data_close(train_data *td)
{
    baton_stream_close(td->stream);
    baton_host_batch_free(&td->hb);
    baton_dataset_free(&td->d); /* files: vocabularies and the validation set live there too */
    baton_pairs_free(&td->dev_raw);
    baton_subword_close(td->ssw);
    baton_subword_close(td->tsw);
    memset(td, 0, sizeof *td);
}

baton_status train_data_next(train_data *td, baton_host_batch **hb, int *epoch_ended)
{
    if (!td->toy) {
        *hb = &td->hb;
        return baton_stream_next(td->stream, &td->hb, epoch_ended);
    }
    int count = td->d.train_b.count, epoch = (int)(td->toy_batches / count), k = (int)(td->toy_batches % count);
    BATON_TRY(baton_host_batch_fill(&td->d.hb, &td->d.train, &td->d.train_b,
                                    baton_batching_pick(&td->d.train_b, td->seed, epoch, k)));
    td->toy_batches++;
    *epoch_ended = k == count - 1;
    *hb = &td->d.hb;
    return BATON_OK;
}

baton_status train_data_tell(const train_data *td, char *out, size_t n)
{
    if (td->toy) {
        snprintf(out, n, "toy %ld", td->toy_batches);
        return BATON_OK;
    }
    baton_stream_pos pos = baton_stream_tell(td->stream);
    return baton_stream_pos_format(&pos, out, n);
}

baton_status train_data_seek(train_data *td, const char *text)
{
    if (td->toy) {
        BATON_REQUIRE(sscanf(text, "toy %ld", &td->toy_batches) == 1 && td->toy_batches >= 0,
                      "checkpoint data position '%s': expected 'toy N' for a built-in task", text);
        return BATON_OK;
    }
    baton_stream_pos pos;
    BATON_TRY(baton_stream_pos_parse(&pos, text));
    return baton_stream_seek(td->stream, &pos);
}
