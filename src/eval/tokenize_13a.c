/* tokenize_13a.c: sacreBLEU's BLEU preprocessing (bleu.h): optional str.lower(), str.rstrip(), then
 * the 'none' tokenizer (nothing) or '13a' (mteval-v13a.pl as sacreBLEU's Tokenizer13a and
 * TokenizerRegexp implement it). BLEU scores are only comparable under the same tokenization, so
 * this reproduces sacreBLEU's string operations one by one rather than a tokenizer "like" 13a.
 *
 * The regular expressions are applied to UTF-8 bytes, not code points. That gives the same output:
 * every pattern is two characters of which at least one is ASCII ('.', ',' or '-'), ASCII bytes never
 * occur inside a multi-byte character, and a match against a code point's last byte inserts the same
 * blanks as a match against the whole code point. */
#include <stdlib.h>
#include <string.h>

#include "baton/bleu.h"
#include "utf8_ngram.h"

/* Python's str.replace(pat, rep) in place; rep is never longer than pat. */
static void replace_all(char *s, const char *pat, const char *rep)
{
    size_t lp = strlen(pat), lr = strlen(rep);
    char *w = s;
    for (const char *r = s; *r;) {
        if (strncmp(r, pat, lp) == 0) {
            memcpy(w, rep, lr);
            w += lr;
            r += lp;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

/* Python's str.rstrip(): drops trailing whitespace (Unicode, as str.isspace()). */
static void rstrip(char *s)
{
    size_t n = strlen(s), end = 0;
    for (size_t i = 0; i < n;) {
        size_t sp = baton_utf8_space_len(s + i, n - i);
        i += sp ? sp : 1;
        if (!sp)
            end = i;
    }
    s[end] = '\0';
}

/* [\{-\~\[-\` -\&\(-\+\:-\@\/]: ASCII punctuation and symbols except ' , - . (and the blank) */
static int is_symbol(int c)
{
    return (c >= '{' && c <= '~') || (c >= '[' && c <= '`') || (c >= ' ' && c <= '&') ||
           (c >= '(' && c <= '+') || (c >= ':' && c <= '@') || c == '/';
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_not_digit(int c)
{
    return !is_digit(c);
}

static int is_period_comma(int c)
{
    return c == '.' || c == ',';
}

static int is_dash(int c)
{
    return c == '-';
}

/* re.sub('([\{-\~...])', r' \1 ', s): a blank on each side of every symbol. */
static char *pad_symbols(const char *s)
{
    char *o = malloc(3 * strlen(s) + 1), *w = o;
    if (!o)
        return NULL;
    for (; *s; s++) {
        int sym = is_symbol((unsigned char)*s);
        if (sym)
            *w++ = ' ';
        *w++ = *s;
        if (sym)
            *w++ = ' ';
    }
    *w = '\0';
    return o;
}

/* re.sub('(A)(B)', r'\1 \2 ' or r' \1 \2' when lead, s) for one-character classes A and B: leftmost,
 * non-overlapping matches, as Python's re.sub scans. */
static char *pad_pairs(const char *s, int (*a)(int), int (*b)(int), int lead)
{
    char *o = malloc(2 * strlen(s) + 1), *w = o;
    if (!o)
        return NULL;
    while (*s) {
        if (s[1] && a((unsigned char)s[0]) && b((unsigned char)s[1])) {
            if (lead)
                *w++ = ' ';
            *w++ = s[0];
            *w++ = ' ';
            *w++ = s[1];
            if (!lead)
                *w++ = ' ';
            s += 2;
        } else {
            *w++ = *s++;
        }
    }
    *w = '\0';
    return o;
}

/* ' '.join(s.split()) in place: one blank between tokens, none at the ends. */
static void squeeze(char *s)
{
    size_t n = strlen(s), w = 0;
    int gap = 0;
    for (size_t i = 0; i < n;) {
        size_t sp = baton_utf8_space_len(s + i, n - i);
        if (sp) {
            i += sp;
            gap = 1;
            continue;
        }
        if (gap && w > 0)
            s[w++] = ' ';
        gap = 0;
        s[w++] = s[i++];
    }
    s[w] = '\0';
}

/* TokenizerRegexp's four substitutions in order; frees s, returns the result or NULL (OOM). */
static char *regexp_passes(char *s)
{
    for (int pass = 0; pass < 4 && s; pass++) {
        char *t = pass == 0   ? pad_symbols(s)
                  : pass == 1 ? pad_pairs(s, is_not_digit, is_period_comma, 0) /* . , unless after a digit */
                  : pass == 2 ? pad_pairs(s, is_period_comma, is_not_digit, 1) /* ... unless before one */
                              : pad_pairs(s, is_digit, is_dash, 0);            /* - after a digit */
        free(s);
        s = t;
    }
    return s;
}

/* Tokenizer13a: the language-independent replacements, then the regexps on " line ". */
static char *tokenize_13a(const char *line)
{
    size_t n = strlen(line);
    char *s = malloc(n + 3);
    if (!s)
        return NULL;
    s[0] = ' ';
    memcpy(s + 1, line, n + 1);
    replace_all(s + 1, "<skipped>", "");
    replace_all(s + 1, "-\n", "");
    replace_all(s + 1, "\n", " ");
    if (strchr(s, '&')) { /* sequential, as str.replace: "&amp;lt;" ends up as "<" */
        replace_all(s + 1, "&quot;", "\"");
        replace_all(s + 1, "&amp;", "&");
        replace_all(s + 1, "&lt;", "<");
        replace_all(s + 1, "&gt;", ">");
    }
    strcat(s, " ");
    s = regexp_passes(s);
    if (s)
        squeeze(s);
    return s;
}

baton_status baton_bleu_tokenize(const char *line, const baton_bleu_opts *opts, char **out)
{
    static const baton_bleu_opts defaults = {BATON_BLEU_TOK_13A, 0};
    const baton_bleu_opts *o = opts ? opts : &defaults;
    BATON_REQUIRE(o->tokenize == BATON_BLEU_TOK_13A || o->tokenize == BATON_BLEU_TOK_NONE,
                  "BLEU: unknown tokenizer %d", (int)o->tokenize);
    char *s = NULL;
    if (o->lowercase)
        BATON_TRY(baton_utf8_lower(line, &s));
    else if ((s = malloc(strlen(line) + 1)) != NULL)
        strcpy(s, line);
    else
        return BATON_ERROR(BATON_ERR_OOM, "BLEU: out of memory tokenizing a line");
    rstrip(s);
    if (o->tokenize == BATON_BLEU_TOK_13A) {
        char *t = tokenize_13a(s);
        free(s);
        if (!(s = t))
            return BATON_ERROR(BATON_ERR_OOM, "BLEU: out of memory tokenizing a line");
    }
    *out = s;
    return BATON_OK;
}
