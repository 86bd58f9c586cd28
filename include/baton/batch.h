/* batch.h: turning sentence pairs into padded, time-major batches for the model (seq2seq.h).
 *
 * Pairs are encoded once, sorted into length buckets (by target, then source length), cut into
 * batches of at most max_sentences sentences and max_tokens padded target tokens, and the batch
 * order is shuffled per epoch from (seed, epoch) with the counter-based RNG, so an epoch's order is
 * reproducible and a resumed run sees what the uninterrupted run saw. */
#ifndef BATON_BATCH_H
#define BATON_BATCH_H

#include <stdint.h>

#include "baton/backend.h"
#include "baton/seq2seq.h"
#include "baton/vocab.h"

typedef struct {
    int n;             /* pairs kept */
    int skipped_empty, skipped_long;
    int *src_off, *tgt_off; /* (n+1) offsets into src_ids / tgt_ids */
    int *src_ids, *tgt_ids; /* concatenated ids, no specials */
    int max_src, max_tgt;   /* longest kept source / target (target counts </s>) */
} baton_corpus;

typedef struct {
    int count;        /* batches */
    int *first, *size; /* (count) each batch's first index into order[] and its number of sentences */
    int *order;       /* (n) pair indices in bucket order */
} baton_batching;

/* Host-side arrays of one batch, time-major as the model wants them. */
typedef struct {
    int B, S, T, tgt_tokens, src_tokens;
    int S_max, T_max, B_max; /* capacity of the arrays */
    int *src;     /* (S_max*B_max) */
    int *src_len; /* (B_max) */
    int *tgt_in, *tgt_out; /* (T_max*B_max) */
    int *tgt_len; /* (B_max) */
} baton_host_batch;

/* Encodes n pairs; pairs with an empty side or a side longer than max_len tokens are skipped and
 * counted. */
baton_status baton_corpus_encode(baton_corpus *c, const baton_vocab *src_vocab, const baton_vocab *tgt_vocab,
                                 char *const *src, char *const *tgt, int n, int max_len);

/* Frees the corpus. */
void baton_corpus_free(baton_corpus *c);

/* Buckets the corpus into batches of at most max_sentences pairs and max_tokens padded target
 * tokens (max_tokens <= 0: no token limit). */
baton_status baton_batching_make(baton_batching *bt, const baton_corpus *c, int max_sentences, int max_tokens);

/* Frees the batching. */
void baton_batching_free(baton_batching *bt);

/* The batch index to use at position k of epoch `epoch` (a Philox-keyed permutation). */
int baton_batching_pick(const baton_batching *bt, uint64_t seed, int epoch, int k);

/* Allocates host arrays for batches up to (S_max, T_max, B_max). */
baton_status baton_host_batch_alloc(baton_host_batch *hb, int S_max, int T_max, int B_max);

/* Frees the host arrays. */
void baton_host_batch_free(baton_host_batch *hb);

/* Fills hb with batch `index`: ids time-major, 0-padded; tgt_in = <s> y, tgt_out = y </s>. */
baton_status baton_host_batch_fill(baton_host_batch *hb, const baton_corpus *c, const baton_batching *bt, int index);

#endif
