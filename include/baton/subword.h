/* subword.h: turning raw text into the space-separated tokens baton's vocabulary (vocab.h) is
 * built over, and back. Two modes behind one API, so callers never branch on the mode:
 *  - whitespace (no model): encode collapses whitespace runs to single spaces, decode is identity;
 *  - SentencePiece (a trained <prefix>.model): encode gives pieces ("▁Zwei ▁jung e"), decode
 *    joins them back into detokenized text. Pieces never contain a space, so the string vocabulary
 *    with design.md's special ids (<pad>, <unk>, <s>, </s>) works over pieces unchanged.
 * SentencePiece is optional in the build (BATON_HAVE_SENTENCEPIECE); without it, asking for a
 * model gives BATON_ERR_UNSUPPORTED. */
#ifndef BATON_SUBWORD_H
#define BATON_SUBWORD_H

#include <stddef.h>

#include "baton/status.h"

/* A loaded tokenizer: whitespace mode or a SentencePiece model. */
typedef struct baton_subword baton_subword;

/* How to train a SentencePiece model; zero fields take the defaults noted. */
typedef struct {
    int vocab_size;             /* pieces in the model, counting SentencePiece's own <unk>; required */
    const char *model_type;     /* "unigram" (NULL: default) or "bpe" */
    double character_coverage;  /* share of characters the model covers (0: 1.0, every character) */
    long long input_sentence_size; /* train on the first N lines only (0: all); never shuffled */
    const char *normalization;  /* SentencePiece rule: NULL "nmt_nfkc", or "identity", "nfkc", ... */
    int num_threads;            /* trainer threads (0: SentencePiece's default, 16) */
    int verbose;                /* 1: let SentencePiece log its progress to stderr */
} baton_subword_train_options;

/* 1 when this build can train and load SentencePiece models, else 0. */
int baton_subword_have_sentencepiece(void);

/* Trains a SentencePiece model on the lines of n_paths text files and writes <prefix>.model (and
 * <prefix>.vocab); deterministic for the same input and options. */
baton_status baton_subword_train(const char *const *paths, int n_paths, const char *prefix,
                                 const baton_subword_train_options *opt);

/* Opens a tokenizer into *sw: model_path NULL or "" gives whitespace mode, else it loads the
 * SentencePiece model at model_path. */
baton_status baton_subword_open(baton_subword **sw, const char *model_path);

/* Frees the tokenizer; NULL is allowed. */
void baton_subword_close(baton_subword *sw);

/* 1 when sw tokenizes with a SentencePiece model, 0 in whitespace mode. */
int baton_subword_is_sentencepiece(const baton_subword *sw);

/* Encodes one line into *out as tokens separated by single spaces (no leading or trailing space;
 * "" for a blank line). *out is a malloc'd buffer of *cap bytes that grows as needed, as with
 * getline: start from NULL/0 and free it once. */
baton_status baton_subword_encode(baton_subword *sw, const char *line, char **out, size_t *cap);

/* Decodes space-separated tokens (as encode gives, or a model's output) into text in *out (the
 * same growable buffer contract as baton_subword_encode). */
baton_status baton_subword_decode(baton_subword *sw, const char *tokens, char **out, size_t *cap);

#endif
