/* text.h: reading pre-tokenized text, one sentence per line (the simple whitespace mode; the
 * streaming corpus reader with subwords comes with real corpora). */
#ifndef BATON_TEXT_H
#define BATON_TEXT_H

#include <stdio.h>
#include <sys/types.h>

#include "baton/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest line baton reads from a text file (a corpus line, an input line to translate or score, a
 * vocabulary token): 16 MiB, far beyond any sentence. A longer line is refused, naming file:line,
 * before more memory than that is taken for it (a binary file without line breaks must not be
 * read whole into memory). */
#define BATON_LINE_MAX (1 << 24)

/* getline with a limit: reads the next line of f, its '\n' included, into *buf (NUL-terminated,
 * grown as getline grows it but never beyond max + 2 bytes) and returns its length; -1 at the end
 * of the file or on an error (ferror(f); errno is ENOMEM when *buf could not grow); -2 when the
 * line holds more than max bytes before its '\n': *buf then holds the first max + 1 of them and
 * the rest is left unread. */
ssize_t baton_text_getline(char **buf, size_t *cap, FILE *f, size_t max);

/* A file read one line at a time, as it arrives (standard input included). */
typedef struct {
    FILE *f;
    const char *path; /* as given; "-" is standard input */
    char *buf;        /* getline's buffer: the line last read */
    size_t cap;
    long line;        /* lines read so far */
} baton_line_reader;

/* Opens path ("-": standard input) for baton_line_reader_next. */
baton_status baton_line_reader_open(baton_line_reader *r, const char *path);

/* The next line into *line (r's buffer, valid until the next call), trailing whitespace and a
 * UTF-8 byte order mark at the start of the file stripped; *line = NULL at the end. A NUL byte (a
 * binary file) is refused naming path:line. */
baton_status baton_line_reader_next(baton_line_reader *r, char **line);

/* Closes what baton_line_reader_open opened (not standard input). */
void baton_line_reader_close(baton_line_reader *r);

/* Length of a UTF-8 byte order mark (EF BB BF) at the start of s, or 0: a file's first line
 * starts after it. */
size_t baton_text_bom(const char *s, size_t n);

/* Reads every line of path ("-": standard input) as baton_line_reader_next gives them into *lines
 * (malloc'd strings). */
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

#ifdef __cplusplus
}
#endif

#endif
