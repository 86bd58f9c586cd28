/* stream.h: training batches streamed from a parallel corpus on disk, Marian-style.
 *
 * The corpus is read in chunks of chunk_pairs pairs (reader.h), each pair encoded into subwords
 * (subword.h) and vocabulary ids (vocab.h); only the ids of one chunk are held. A chunk's pairs
 * are shuffled with Philox keyed by (seed, epoch, chunk), sorted stably by (target length, source
 * length), cut into batches within a token budget (B * max(longest source, longest target with
 * </s>) <= batch_tokens, and B <= max_sentences), and the chunk's batches are permuted with Philox
 * keyed by (seed, epoch, chunk). At the end of the files the epoch ends and the next batch starts
 * epoch + 1 from the top. Batches come out as baton_host_batch (batch.h), laid out exactly as
 * baton_host_batch_fill lays them out.
 *
 * Everything is a function of the files, the configuration and the seed, so a position (epoch,
 * chunk, the reader position of the chunk's first pair, batches of the chunk already given) is
 * enough to resume exactly: seeking re-reads and rebuilds that chunk and goes on at that batch. */
#ifndef BATON_STREAM_H
#define BATON_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "baton/batch.h"
#include "baton/reader.h"
#include "baton/status.h"
#include "baton/subword.h"
#include "baton/vocab.h"

/* The default chunk: all of a Multi30k- or IWSLT-sized corpus fits in one. */
#define BATON_STREAM_CHUNK_DEFAULT 1000000

/* Room for a position as text (baton_stream_pos_format), the terminating NUL included. */
#define BATON_STREAM_POS_TEXT_MAX 192

/* What to stream and how to batch it. Pointers are borrowed and must outlive the stream. */
typedef struct {
    const char *src_path, *tgt_path; /* aligned files; tgt_path NULL: src_path is source<TAB>target */
    baton_reader_options reader;     /* max_words, replace_invalid (all-zero: the defaults) */
    baton_subword *src_sw, *tgt_sw;  /* tokenizers (NULL: the line as it is, i.e. whitespace mode) */
    const baton_vocab *src_vocab, *tgt_vocab;
    int max_len;       /* subword tokens per side (without </s>); longer pairs skipped. 0: batch_tokens - 1 */
    int batch_tokens;  /* B * max(S, T) bound of every batch, T counting </s>; >= max_len + 1 */
    int max_sentences; /* B bound; 0: batch_tokens / 2 (the most the budget allows) */
    int chunk_pairs;   /* pairs read, encoded and bucketed at a time; 0: BATON_STREAM_CHUNK_DEFAULT */
    uint64_t seed;
} baton_stream_config;

/* A stream over one corpus. */
typedef struct baton_stream baton_stream;

/* Where the next batch comes from. Take it from baton_stream_tell, give it to baton_stream_seek. */
typedef struct {
    int epoch;
    long long chunk;        /* chunk index within the epoch */
    baton_reader_pos start; /* reader position of the chunk's first pair */
    int batch;              /* batches of the chunk already given out */
    uint64_t config;        /* fingerprint of the batching configuration; 0: not checked by seek */
} baton_stream_pos;

/* What one epoch's chunks held; counted when a chunk is read, so the current epoch's counts grow
 * by whole chunks. */
typedef struct {
    long long lines;         /* line pairs (TSV: lines) read, skipped ones included */
    long long pairs;         /* pairs kept, each in exactly one batch */
    long long skipped_empty; /* a side empty (reader) or without a token after subwords */
    long long skipped_long;  /* a side over the reader's max_words or over max_len subword tokens */
    long long replaced;      /* file lines with invalid UTF-8 replaced (reader, replace_invalid) */
    long long src_tokens, tgt_tokens; /* tokens of kept pairs; targets count their </s> */
    long long batches, chunks;
    int partial; /* 1: the epoch was entered by a seek past its start, so earlier chunks are missing */
} baton_stream_counts;

/* Checks the configuration, opens the corpus and reads the first chunk (an error when the whole
 * corpus leaves no pair after skipping). */
baton_status baton_stream_open(baton_stream **stream, const baton_stream_config *cfg);

/* Closes the corpus and frees the stream; NULL is allowed. */
void baton_stream_close(baton_stream *stream);

/* The largest batch the stream gives: S_max = max_len, T_max = max_len + 1, B_max = max_sentences
 * (with the defaults of baton_stream_config resolved); any pointer may be NULL. */
void baton_stream_limits(const baton_stream *stream, int *S_max, int *T_max, int *B_max);

/* Allocates hb (baton_host_batch_alloc) at the stream's limits. */
baton_status baton_stream_host_batch_alloc(const baton_stream *stream, baton_host_batch *hb);

/* Fills hb with the next batch; *epoch_ended (may be NULL) is 1 when that batch was its epoch's
 * last, else 0. After an error the stream keeps failing until a successful seek. */
baton_status baton_stream_next(baton_stream *stream, baton_host_batch *hb, int *epoch_ended);

/* The position of the next batch baton_stream_next gives. */
baton_stream_pos baton_stream_tell(const baton_stream *stream);

/* Moves to a position from baton_stream_tell of a stream over the same files and configuration,
 * rebuilding its chunk, so the batches that follow are those that followed it originally. */
baton_status baton_stream_seek(baton_stream *stream, const baton_stream_pos *pos);

/* Counts of the epoch in progress (last = 0) or of the last finished one (last = 1; zeros before). */
baton_stream_counts baton_stream_counts_get(const baton_stream *stream, int last);

/* Batches an epoch is expected to hold, from what the chunks read so far held per byte of the
 * source file (exact once the chunks have reached its end); 0 when unknown. For a progress
 * display's estimate of an --epochs run before its first epoch ends. */
double baton_stream_epoch_batches(const baton_stream *stream);

/* Writes pos as one line of text (no newline) into out; BATON_STREAM_POS_TEXT_MAX bytes suffice. */
baton_status baton_stream_pos_format(const baton_stream_pos *pos, char *out, size_t n);

/* Parses text written by baton_stream_pos_format into *pos; anything else is refused. */
baton_status baton_stream_pos_parse(baton_stream_pos *pos, const char *text);

#endif
