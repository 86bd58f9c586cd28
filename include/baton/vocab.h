/* vocab.h: token <-> id maps with the special ids of design.md: <pad>=0, <unk>=1, <s>=2, </s>=3.
 * Built from whitespace-tokenized text with a frequency cutoff and a size limit; saved as plain
 * text, one token per line in id order (the specials first), so line k holds id k. */
#ifndef BATON_VOCAB_H
#define BATON_VOCAB_H

#include <stddef.h>

#include "baton/status.h"

enum { BATON_PAD = 0, BATON_UNK = 1, BATON_BOS = 2, BATON_EOS = 3, BATON_SPECIALS = 4 };

typedef struct {
    char **tokens;  /* (size) id -> token, owned */
    int size;
    int *slots;     /* (cap) open-addressing hash table of ids, -1 empty */
    size_t cap;
} baton_vocab;

/* Builds a vocabulary from n sentences: tokens seen at least min_count times, the most frequent
 * first (ties broken by byte order, so the result is deterministic), at most max_size entries
 * including the 4 specials (max_size <= 0: no limit). */
baton_status baton_vocab_build(baton_vocab *v, char *const *sentences, int n, int min_count, int max_size);

/* Token counts gathered sentence by sentence, for corpora streamed from disk. */
typedef struct baton_vocab_counter baton_vocab_counter;

/* An empty counter. */
baton_status baton_vocab_counter_create(baton_vocab_counter **c);

/* Counts the whitespace-separated tokens of one sentence (the specials are not counted). */
baton_status baton_vocab_counter_add(baton_vocab_counter *c, const char *sentence);

/* The vocabulary of the counts, with the cutoff and limit of baton_vocab_build. */
baton_status baton_vocab_counter_finish(baton_vocab *v, baton_vocab_counter *c, int min_count, int max_size);

/* Frees the counter; NULL is allowed. */
void baton_vocab_counter_free(baton_vocab_counter *c);

/* Frees the vocabulary. */
void baton_vocab_free(baton_vocab *v);

/* The id of token (len bytes), or BATON_UNK. */
int baton_vocab_id(const baton_vocab *v, const char *token, size_t len);

/* Maps a whitespace-tokenized sentence to at most max ids (no <s> or </s>); returns how many
 * tokens the sentence has (which may exceed max: the caller decides what over-long means). */
int baton_vocab_encode(const baton_vocab *v, const char *sentence, int *ids, int max);

/* Writes ids as tokens separated by single spaces into out (NUL-terminated, truncated to n bytes),
 * stopping at </s> and skipping <pad> and <s>. Returns the length it needed. */
size_t baton_vocab_decode(const baton_vocab *v, const int *ids, int count, char *out, size_t n);

/* Writes one token per line; atomically (temporary file, fsync, rename). */
baton_status baton_vocab_save(const baton_vocab *v, const char *path);

/* Reads a file written by baton_vocab_save; checks the specials and duplicates, naming file:line. */
baton_status baton_vocab_load(baton_vocab *v, const char *path);

#endif
