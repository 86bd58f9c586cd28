/* translator.h: raw sentences in, detokenized translations out, in batches, greedy or beam: what
 * `baton translate` prints and what training's validation BLEU scores. The tokenizers turn raw
 * text into the vocabulary's tokens and back (whitespace mode for pre-tokenized text). */
#ifndef BATON_CLI_TRANSLATOR_H
#define BATON_CLI_TRANSLATOR_H

#include "baton/backend.h"
#include "baton/seq2seq.h"
#include "baton/subword.h"
#include "baton/text.h"
#include "baton/vocab.h"

typedef struct {
    baton_backend *be;
    const baton_s2s *m;
    const baton_param_table *t;
    const float *params; /* device */
    const baton_vocab *sv, *tv;
    baton_subword *ssw, *tsw; /* source and target tokenizers */
    int batch, beam, nbest;   /* beam 1: greedy; nbest <= beam hypotheses per sentence */
    float alpha, max_len_ratio;
    const char *rnn_impl;
    uint64_t seed;
    int max_tokens;  /* a longer line is cropped to its first max_tokens tokens, with a warning; 0: none */
    long first_line; /* the input line number of lines[0], for the warnings */
} cli_translator;

/* Receives hypothesis k (0-based, best first) of sentence i: detokenized text and its score
 * (length-normalised log-probability for beam search, 0 for greedy). */
typedef void (*cli_emit_fn)(void *ctx, int i, int k, const char *text, float score);

/* Translates raw lines[0..n); an empty line translates to an empty line. Lines are decoded longest
 * first in batches of x->batch, and the hypotheses handed to emit in input order once all are done.
 * The device memory is sized from the longest line after cropping (max_tokens), never from the raw
 * input alone. */
baton_status cli_translator_run(const cli_translator *x, char *const *lines, int n, cli_emit_fn emit, void *ctx);

/* Receives hypothesis k of input line `line` (1-based) as cli_emit_fn does. */
typedef void (*cli_line_emit_fn)(void *ctx, long line, int k, const char *text, float score);

/* `baton translate`'s input loop: reads in up to chunk lines at a time (baton_line_reader_next),
 * translates them as cli_translator_run does (x->first_line is set per chunk) and hands each
 * hypothesis to emit, a chunk's before the next chunk is read, so output follows input as it
 * arrives. */
baton_status cli_translator_stream(const cli_translator *x, baton_line_reader *in, int chunk, cli_line_emit_fn emit,
                                   void *ctx);

/* Encodes tokenized lines[0..B) into time-major ids (S,B) and lengths, returning S; an empty line
 * becomes one <unk> so that every row has a length of at least one (its output is discarded). */
int cli_encode_batch(const baton_vocab *v, char *const *lines, int B, int S_max, int *ids_tb, int *len, int *tmp);

/* Replaces each of lines[0..n) with its tokens under sw (a no-op for whitespace mode's spacing). */
baton_status cli_tokenize_lines(baton_subword *sw, char **lines, int n);

#endif
