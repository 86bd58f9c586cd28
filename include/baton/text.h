/* text.h: reading pre-tokenized text, one sentence per line (the simple whitespace mode; the
 * streaming corpus reader with subwords comes with real corpora). */
#ifndef BATON_TEXT_H
#define BATON_TEXT_H

#include <stdio.h>

#include "baton/status.h"

/* Reads every line of path ("-": standard input) with trailing whitespace stripped into *lines
 * (malloc'd strings); a NUL byte (a binary file) is refused naming path:line. */
baton_status baton_text_read_lines(const char *path, char ***lines, int *n);

/* Frees what baton_text_read_lines returned. */
void baton_text_free_lines(char **lines, int n);

/* Sentence pairs: sources and their translations, aligned by index. */
typedef struct {
    char **src, **tgt; /* (n) whitespace-tokenized sentences, owned */
    int n;
} baton_pairs;

/* Reads two files aligned by line into *p; different line counts are refused naming both files. */
baton_status baton_text_read_pairs(baton_pairs *p, const char *src_path, const char *tgt_path);

/* Frees the sentences and leaves *p empty; safe on an empty or already freed set. */
void baton_pairs_free(baton_pairs *p);

#endif
