/* dataset.c: vocabularies, corpora, batchings and a host batch in one set-up (dataset.h). */
#include "baton/dataset.h"

#include <string.h>

baton_status baton_dataset_build(baton_dataset *d, const baton_pairs *train, const baton_pairs *dev, int min_count,
                                 int vocab_size, int max_len, int batch)
{
    memset(d, 0, sizeof *d);
    BATON_TRY(baton_vocab_build(&d->sv, train->src, train->n, min_count, vocab_size));
    BATON_TRY(baton_vocab_build(&d->tv, train->tgt, train->n, min_count, vocab_size));
    BATON_TRY(baton_corpus_encode(&d->train, &d->sv, &d->tv, train->src, train->tgt, train->n, max_len));
    BATON_TRY(baton_corpus_encode(&d->dev, &d->sv, &d->tv, dev->src, dev->tgt, dev->n, max_len));
    BATON_REQUIRE(d->train.n > 0 && d->dev.n > 0,
                  "%d training and %d validation pairs left after skipping empty ones and those over %d tokens",
                  d->train.n, d->dev.n, max_len);
    BATON_TRY(baton_batching_make(&d->train_b, &d->train, batch, 0));
    BATON_TRY(baton_batching_make(&d->dev_b, &d->dev, batch, 0));
    int S = d->train.max_src > d->dev.max_src ? d->train.max_src : d->dev.max_src;
    int T = d->train.max_tgt > d->dev.max_tgt ? d->train.max_tgt : d->dev.max_tgt;
    return baton_host_batch_alloc(&d->hb, S, T, batch);
}

void baton_dataset_free(baton_dataset *d)
{
    baton_host_batch_free(&d->hb);
    baton_batching_free(&d->train_b);
    baton_batching_free(&d->dev_b);
    baton_corpus_free(&d->train);
    baton_corpus_free(&d->dev);
    baton_vocab_free(&d->sv);
    baton_vocab_free(&d->tv);
    memset(d, 0, sizeof *d);
}
