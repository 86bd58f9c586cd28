/* reader.c: the streamed parallel-corpus reader of reader.h. Each file is read a line at a time into
 * one growing buffer (lines up to BATON_LINE_MAX, so memory stays one line per file), checked for
 * NUL bytes and UTF-8 validity before anything else looks at it, and tracked by byte offset and
 * line number, which is all a resume position needs. */
#include "baton/reader.h"
#include "baton/text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

/* One input file and its current line. */
typedef struct {
    FILE *f;
    char *path;
    char *buf;        /* the raw line (baton_text_getline's buffer) */
    size_t cap;
    char *fix;        /* the line with invalid bytes replaced (replace_invalid mode) */
    size_t fix_cap;
    long long offset; /* bytes consumed so far: the start of the next line */
    long long line;   /* lines read so far: the current line's number */
} corpus_file;

struct baton_reader {
    corpus_file file[2]; /* source (or the TSV file) and target */
    int tsv;
    baton_reader_options opt;
    baton_reader_counts counts;
    baton_status failed; /* sticky error, BATON_OK when none */
};

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* ---- UTF-8 -------------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s[0..n) (n >= 1), or 0 with *why naming the problem.
 * Follows Unicode's well-formed table: no overlong forms, surrogates or code points > U+10FFFF. */
static size_t utf8_len(const unsigned char *s, size_t n, const char **why)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    if (c < 0xC0) {
        *why = "a continuation byte without a lead byte";
        return 0;
    }
    if (c < 0xC2 || c > 0xF7) {
        *why = c < 0xC2 ? "an overlong encoding" : "a byte that never occurs in UTF-8";
        return 0;
    }
    if (c > 0xF4) {
        *why = "a code point above U+10FFFF";
        return 0;
    }
    size_t need = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    unsigned char lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80; /* below: a shorter form exists */
    unsigned char hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF; /* above: surrogates, > U+10FFFF */
    for (size_t i = 1; i < need; i++) {
        if (i >= n || (s[i] & 0xC0) != 0x80) {
            *why = "a truncated multi-byte sequence";
            return 0;
        }
        if (i == 1 && (s[1] < lo || s[1] > hi)) {
            *why = c == 0xED   ? "a UTF-16 surrogate (U+D800..U+DFFF)"
                   : c == 0xF4 ? "a code point above U+10FFFF"
                               : "an overlong encoding";
            return 0;
        }
    }
    return need;
}

/* Byte index of the first invalid sequence in s[0..n), or n when s is valid UTF-8. */
static size_t utf8_first_bad(const char *s, size_t n, const char **why)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, k;
    while (i < n && (k = utf8_len(u + i, n - i, why)) > 0)
        i += k;
    return i;
}

/* Copies line into fl->fix with each byte that starts no valid sequence as U+FFFD (EF BF BD). */
static baton_status utf8_replace(corpus_file *fl, const char *line, size_t n)
{
    size_t need = 3 * n + 1; /* every byte may become three */
    if (fl->fix_cap < need) {
        char *p = realloc(fl->fix, need);
        if (!p)
            return BATON_ERROR(BATON_ERR_OOM, "%s:%lld: out of memory for a %zu-byte line", fl->path, fl->line, n);
        fl->fix = p;
        fl->fix_cap = need;
    }
    const unsigned char *u = (const unsigned char *)line;
    const char *why;
    size_t o = 0;
    for (size_t i = 0, k; i < n; i += k ? k : 1) {
        k = utf8_len(u + i, n - i, &why);
        if (k) {
            memcpy(fl->fix + o, line + i, k);
            o += k;
        } else {
            memcpy(fl->fix + o, "\xEF\xBF\xBD", 3);
            o += 3;
        }
    }
    fl->fix[o] = '\0';
    return BATON_OK;
}

/* ---- lines -------------------------------------------------------------------------------- */

/* Counts the lines left in fl from its current position (to report the true length of the longer
 * file when two files disagree); reads line by line, so memory stays bounded by one line. */
static long long count_rest(corpus_file *fl)
{
    long long n = 0;
    int c, last = '\n';
    flockfile(fl->f);
    while ((c = getc_unlocked(fl->f)) != EOF) /* no line is held: a binary file needs no memory */
        n += (last = c) == '\n';
    funlockfile(fl->f);
    return n + (last != '\n');
}

/* Strips trailing whitespace; in TSV mode a trailing tab stays (it separates an empty target). */
static size_t strip_trailing(char *s, size_t n, int keep_tab)
{
    while (n > 0 && is_space(s[n - 1]) && !(keep_tab && s[n - 1] == '\t'))
        n--;
    s[n] = '\0';
    return n;
}

/* Reads the next line of fl into *line (stripped, validated); 1 a line, 0 end of file, or a
 * negative status after printing the error. */
static int read_line(baton_reader *r, corpus_file *fl, char **line)
{
    errno = 0;
    ssize_t got = baton_text_getline(&fl->buf, &fl->cap, fl->f, BATON_LINE_MAX);
    if (got == -2)
        return -(int)BATON_ERROR(BATON_ERR_FORMAT,
                                 "%s:%lld: a line of more than %d bytes; expected one sentence per line (is this a "
                                 "binary file?)",
                                 fl->path, fl->line + 1, BATON_LINE_MAX);
    if (got < 0) {
        if (errno == ENOMEM) /* the buffer could not grow: not the end of the file */
            return -(int)BATON_ERROR(BATON_ERR_OOM, "%s:%lld: out of memory reading the line", fl->path, fl->line + 1);
        if (ferror(fl->f))
            return -(int)BATON_ERROR(BATON_ERR_IO, "%s:%lld: read error: %s", fl->path, fl->line + 1,
                                     strerror(errno ? errno : EIO));
        return 0;
    }
    fl->offset += got;
    fl->line++;
    size_t n = (size_t)got;
    const char *nul = memchr(fl->buf, '\0', n);
    if (nul)
        return -(int)BATON_ERROR(BATON_ERR_FORMAT,
                                 "%s:%lld: a NUL byte at byte column %zu; expected UTF-8 text (is this a binary file?)",
                                 fl->path, fl->line, (size_t)(nul - fl->buf) + 1);
    n = strip_trailing(fl->buf, n, r->tsv);
    size_t bom = fl->line == 1 ? baton_text_bom(fl->buf, n) : 0; /* a UTF-8 byte order mark is no token */
    if (bom) {
        memmove(fl->buf, fl->buf + bom, n - bom + 1);
        n -= bom;
    }
    const char *why = "";
    size_t bad = utf8_first_bad(fl->buf, n, &why);
    *line = fl->buf;
    if (bad == n)
        return 1;
    if (!r->opt.replace_invalid)
        return -(int)BATON_ERROR(BATON_ERR_FORMAT,
                                 "%s:%lld: invalid UTF-8 at byte column %zu (byte 0x%02X): %s; expected UTF-8 text "
                                 "(or replace_invalid to map bad bytes to U+FFFD)",
                                 fl->path, fl->line, bad + 1, (unsigned char)fl->buf[bad], why);
    baton_status st = utf8_replace(fl, fl->buf, n);
    if (st != BATON_OK)
        return -(int)st;
    r->counts.replaced++;
    *line = fl->fix;
    return 1;
}

/* Splits a TSV line at its one tab into *src and *tgt; a blank line gives two empty sides. */
static int split_tsv(baton_reader *r, char *line, const char **src, const char **tgt)
{
    int tabs = 0;
    char *tab = NULL;
    for (char *p = line; *p; p++)
        if (*p == '\t' && tabs++ == 0)
            tab = p;
    if (!line[0]) {
        *src = *tgt = line;
        return 1;
    }
    if (tabs != 1)
        return -(int)BATON_ERROR(BATON_ERR_FORMAT, "%s:%lld: %d tabs; expected exactly one tab between source and target",
                                 r->file[0].path, r->file[0].line, tabs);
    *tab = '\0';
    strip_trailing(line, (size_t)(tab - line), 0);
    *src = line;
    *tgt = tab + 1;
    return 1;
}

/* The error for two files of different lengths: a has more lines than b (b is at its end). */
static int mismatch(corpus_file *a, corpus_file *b)
{
    long long total = a->line + count_rest(a);
    return -(int)BATON_ERROR(BATON_ERR_FORMAT, "%s has %lld lines but %s ended after %lld; expected files aligned by line",
                             a->path, total, b->path, b->line);
}

/* Reads the next raw pair (no skipping): 1 a pair, 0 the end, or a negative status. */
static int read_pair(baton_reader *r, const char **src, const char **tgt)
{
    char *s = NULL, *t = NULL;
    int gs = read_line(r, &r->file[0], &s);
    if (gs < 0)
        return gs;
    if (r->tsv)
        return gs == 0 ? 0 : split_tsv(r, s, src, tgt);
    int gt = read_line(r, &r->file[1], &t);
    if (gt < 0)
        return gt;
    if (gs != gt)
        return gs ? mismatch(&r->file[0], &r->file[1]) : mismatch(&r->file[1], &r->file[0]);
    *src = s;
    *tgt = t;
    return gs;
}

/* 1 when s has more than max whitespace-separated words. */
static int over_words(const char *s, int max)
{
    int words = 0;
    for (const char *p = s; *p;) {
        while (is_space(*p))
            p++;
        if (!*p)
            break;
        if (++words > max)
            return 1;
        while (*p && !is_space(*p))
            p++;
    }
    return 0;
}

int baton_reader_next(baton_reader *r, const char **src, const char **tgt)
{
    if (r->failed != BATON_OK)
        return -(int)r->failed;
    for (;;) {
        const char *s = NULL, *t = NULL;
        int got = read_pair(r, &s, &t);
        if (got < 0)
            r->failed = (baton_status)-got;
        if (got <= 0)
            return got;
        r->counts.lines++;
        if (!s[0] || !t[0]) {
            r->counts.skipped_empty++;
            continue;
        }
        int max = r->opt.max_words;
        if (max > 0 && (over_words(s, max) || over_words(t, max))) {
            r->counts.skipped_long++;
            continue;
        }
        r->counts.pairs++;
        *src = s;
        *tgt = t;
        return 1;
    }
}

/* ---- open, position, close ------------------------------------------------------------------ */

static baton_status open_file(corpus_file *fl, const char *path)
{
    struct stat sb;
    if (!(fl->path = strdup(path)))
        return BATON_ERROR(BATON_ERR_OOM, "%s: out of memory opening the corpus", path);
    if (!(fl->f = fopen(path, "rb")))
        return BATON_ERROR(BATON_ERR_IO, "%s: cannot open: %s; expected a readable text file", path, strerror(errno));
    if (fstat(fileno(fl->f), &sb) == 0 && S_ISDIR(sb.st_mode))
        return BATON_ERROR(BATON_ERR_IO, "%s: is a directory; expected a text file", path);
    return BATON_OK;
}

baton_status baton_reader_open(baton_reader **reader, const char *src_path, const char *tgt_path,
                               const baton_reader_options *opt)
{
    *reader = NULL;
    BATON_REQUIRE(src_path && src_path[0], "corpus: no source file; expected a path");
    BATON_REQUIRE(!opt || opt->max_words >= 0, "corpus: max_words %d; expected >= 0 (0: no limit)", opt->max_words);
    baton_reader *r = calloc(1, sizeof *r);
    if (!r)
        return BATON_ERROR(BATON_ERR_OOM, "%s: out of memory opening the corpus", src_path);
    if (opt)
        r->opt = *opt;
    r->tsv = tgt_path == NULL;
    baton_status st = open_file(&r->file[0], src_path);
    if (st == BATON_OK && !r->tsv)
        st = open_file(&r->file[1], tgt_path);
    if (st != BATON_OK) {
        baton_reader_close(r);
        return st;
    }
    *reader = r;
    return BATON_OK;
}

baton_reader_counts baton_reader_counts_get(const baton_reader *r)
{
    return r->counts;
}

baton_reader_pos baton_reader_tell(const baton_reader *r)
{
    baton_reader_pos pos = {{0, 0}, {0, 0}};
    for (int i = 0; i < 2 - r->tsv; i++) {
        pos.offset[i] = r->file[i].offset;
        pos.line[i] = r->file[i].line;
    }
    return pos;
}

baton_status baton_reader_seek(baton_reader *r, const baton_reader_pos *pos)
{
    for (int i = 0; i < 2 - r->tsv; i++) {
        corpus_file *fl = &r->file[i];
        BATON_REQUIRE(pos->offset[i] >= 0 && pos->line[i] >= 0,
                      "%s: seek to offset %lld, line %lld; expected a position from baton_reader_tell", fl->path,
                      pos->offset[i], pos->line[i]);
        if (fseeko(fl->f, (off_t)pos->offset[i], SEEK_SET) != 0)
            return BATON_ERROR(BATON_ERR_IO, "%s: seek to byte %lld: %s", fl->path, pos->offset[i], strerror(errno));
        clearerr(fl->f);
        fl->offset = pos->offset[i];
        fl->line = pos->line[i];
    }
    r->failed = BATON_OK;
    return BATON_OK;
}

void baton_reader_close(baton_reader *r)
{
    if (!r)
        return;
    for (int i = 0; i < 2; i++) {
        if (r->file[i].f)
            fclose(r->file[i].f);
        free(r->file[i].path);
        free(r->file[i].buf);
        free(r->file[i].fix);
    }
    free(r);
}
