/* reader.h: a streamed, validating reader of parallel corpora. Pairs come from two files aligned
 * by line (train.de + train.en) or from one tab-separated file (source<TAB>target); the reader
 * holds one line of each file at a time, never the whole corpus, so corpora far larger than
 * memory can be read, and its position can be saved and restored to resume a pass exactly.
 * Each line has its trailing whitespace (including \r of CRLF files) stripped. Pairs with an
 * empty side, or a side over max_words words, are skipped and counted, never errors. Errors are
 * one line naming the file and line (and byte column): a file that cannot be read, files of
 * different line counts, invalid UTF-8 (unless replace_invalid), a NUL byte (binary file), and a
 * TSV line without exactly one tab (a blank TSV line counts as an empty pair). */
#ifndef BATON_READER_H
#define BATON_READER_H

#include "baton/status.h"

/* A reader over one corpus. */
typedef struct baton_reader baton_reader;

/* Options; all-zero (or a NULL pointer) gives the defaults. */
typedef struct {
    int max_words;       /* skip a pair with a side of more whitespace-separated words; 0: no limit */
    int replace_invalid; /* 1: each invalid UTF-8 byte becomes U+FFFD and the line is counted; 0: an error */
} baton_reader_options;

/* What the reader has seen since it was opened (seeking does not rewind these). */
typedef struct {
    long long lines;         /* line pairs (TSV: lines) read, including skipped ones */
    long long pairs;         /* pairs returned by baton_reader_next */
    long long skipped_empty; /* pairs skipped because a side was empty */
    long long skipped_long;  /* pairs skipped because a side had more than max_words words */
    long long replaced;      /* file lines in which invalid bytes became U+FFFD (each file counts) */
} baton_reader_counts;

/* Where the next pair starts: byte offsets and lines already read of the source and target files
 * (index 1 is unused for TSV). Opaque to callers: take it from tell, give it back to seek. */
typedef struct {
    long long offset[2];
    long long line[2];
} baton_reader_pos;

/* Opens src_path and tgt_path (aligned files), or src_path alone as TSV when tgt_path is NULL. */
baton_status baton_reader_open(baton_reader **reader, const char *src_path, const char *tgt_path,
                               const baton_reader_options *opt);

/* Returns 1 with the next pair in *src and *tgt (valid until the next call), 0 at the end of the
 * corpus, or a negative baton_status on error (e.g. -BATON_ERR_FORMAT), after printing it; once
 * failed, later calls return the same error until a successful seek. */
int baton_reader_next(baton_reader *reader, const char **src, const char **tgt);

/* The reader's counters. */
baton_reader_counts baton_reader_counts_get(const baton_reader *reader);

/* The position of the next pair, to resume there with baton_reader_seek. */
baton_reader_pos baton_reader_tell(const baton_reader *reader);

/* Moves to a position taken from baton_reader_tell on a reader of the same files. */
baton_status baton_reader_seek(baton_reader *reader, const baton_reader_pos *pos);

/* Closes the files and frees the reader; NULL is allowed. */
void baton_reader_close(baton_reader *reader);

#endif
