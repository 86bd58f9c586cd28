/* train_data.h: the batches `baton train` trains on and the pairs it validates on, from a
 * built-in task (in memory) or from corpus files (streamed, with subwords), behind one interface. */
#ifndef BATON_CLI_TRAIN_DATA_H
#define BATON_CLI_TRAIN_DATA_H

#include "baton/dataset.h"
#include "baton/stream.h"
#include "baton/subword.h"
#include "settings.h"

typedef struct {
    int toy;                  /* 1: a built-in task in memory; 0: corpus files streamed */
    uint64_t seed;
    baton_dataset d;          /* vocabularies (d.sv, d.tv) and the validation batches (d.dev, d.dev_b, d.hb);
                                 toy: also the training pairs and batches */
    baton_pairs dev_raw;      /* validation pairs as written: BLEU's sources and references */
    baton_subword *ssw, *tsw; /* tokenizers (whitespace mode without subword models) */
    baton_stream *stream;     /* files */
    baton_host_batch hb;      /* files: the training batch */
    long toy_batches;         /* toy: batches drawn (the position) */
    int S_max, T_max, B_max;  /* the largest batch of training or validation */
} train_data;

/* Opens the data --train-src (or the built-in --task) and --dev-src describe; for files, prepares
 * subwords and vocabularies in the model directory first. */
baton_status train_data_open(train_data *td, const cli_settings *s);

/* The next training batch (*hb points into td); *epoch_ended is 1 when it was its epoch's last. */
baton_status train_data_next(train_data *td, baton_host_batch **hb, int *epoch_ended);

/* The position of the next batch as one line of text (for checkpoints). */
baton_status train_data_tell(const train_data *td, char *out, size_t n);

/* Continues from a position train_data_tell wrote. */
baton_status train_data_seek(train_data *td, const char *text);

void train_data_close(train_data *td);

#endif
