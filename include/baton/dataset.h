/* dataset.h: a training set and a validation set ready for the trainer: vocabularies built from the
 * training pairs, both sets encoded and bucketed into batches, and one host batch sized for the
 * largest of them. */
#ifndef BATON_DATASET_H
#define BATON_DATASET_H

#include "baton/batch.h"
#include "baton/toy.h"
#include "baton/vocab.h"

typedef struct {
    baton_vocab sv, tv;
    baton_corpus train, dev;
    baton_batching train_b, dev_b;
    baton_host_batch hb; /* sized for the longest pair of either set */
} baton_dataset;

/* Builds the vocabularies (min_count, vocab_size as baton_vocab_build), encodes both sets (pairs
 * with an empty side or a side over max_len tokens skipped and counted) and batches them by
 * `batch` sentences; fails when a set is left empty. */
baton_status baton_dataset_build(baton_dataset *d, const baton_pairs *train, const baton_pairs *dev, int min_count,
                                 int vocab_size, int max_len, int batch);

/* Frees the dataset. */
void baton_dataset_free(baton_dataset *d);

#endif
