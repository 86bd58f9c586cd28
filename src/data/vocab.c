/* vocab.c: token <-> id maps (see vocab.h).
 *
 * Readings of the contract that vocab.h leaves open:
 * - Tokens are separated by runs of any ASCII whitespace (space, \t, \n, \v, \f, \r), not only
 *   spaces and tabs: a token holding \n or \r could not be saved one per line, and text read from
 *   CRLF files would otherwise grow "word\r" twins of every line-final word.
 * - The specials are never counted as corpus tokens, and encode maps a literal "<pad>", "<s>" or
 *   "</s>" in the text to <unk>: text must not be able to inject padding or sequence boundaries,
 *   which the loss and the batcher give meaning to. baton_vocab_id still returns the special ids.
 * - max_size in 1..3 cannot hold the specials and is rejected; max_size <= 0 means no limit, and
 *   min_count <= 1 keeps every token.
 * - decode writes like snprintf: out receives at most n-1 bytes plus the NUL (nothing when n is 0),
 *   the return value is the full length without the NUL, and ids outside the vocabulary are written
 *   as <unk>. */
#include "baton/vocab.h"
#include "baton/text.h"

#include "baton/atomic_file.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const specials[BATON_SPECIALS] = {"<pad>", "<unk>", "<s>", "</s>"};

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' || ch == '\f' || ch == '\r';
}

/* FNV-1a, 64-bit: simple, no tables, and good enough spread for short words under linear probing. */
static uint64_t fnv1a(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Whether NUL-terminated tok equals the len bytes at s, reading tok no further than its NUL. */
static int token_equals(const char *tok, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && tok[i] != '\0' && tok[i] == s[i])
        i++;
    return i == len && tok[len] == '\0';
}

/* Smallest power of two >= 2*n (and >= 16): the tables stay at most half full. */
static size_t table_cap(size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    return cap;
}

/* The slot that holds token s, or the empty slot where it would go. */
static size_t find_slot(const baton_vocab *v, const char *s, size_t len)
{
    size_t mask = v->cap - 1;
    size_t i = (size_t)fnv1a(s, len) & mask;
    while (v->slots[i] >= 0 && !token_equals(v->tokens[v->slots[i]], s, len))
        i = (i + 1) & mask;
    return i;
}

static baton_status rehash(baton_vocab *v, size_t cap)
{
    int *slots = malloc(cap * sizeof *slots);
    if (!slots)
        return BATON_ERROR(BATON_ERR_OOM, "vocabulary: cannot allocate a hash table of %zu slots", cap);
    for (size_t i = 0; i < cap; i++)
        slots[i] = -1;
    free(v->slots);
    v->slots = slots;
    v->cap = cap;
    for (int id = 0; id < v->size; id++)
        v->slots[find_slot(v, v->tokens[id], strlen(v->tokens[id]))] = id;
    return BATON_OK;
}

/* Appends a token that the caller has checked is absent; *tok_cap is the tokens array's capacity. */
static baton_status push_token(baton_vocab *v, int *tok_cap, const char *s, size_t len)
{
    if (v->size == INT_MAX)
        return BATON_ERROR(BATON_ERR_INVALID, "vocabulary: more than %d tokens", INT_MAX);
    if (v->size == *tok_cap) {
        int cap = *tok_cap ? (*tok_cap > INT_MAX / 2 ? INT_MAX : 2 * *tok_cap) : 64;
        char **tokens = realloc(v->tokens, (size_t)cap * sizeof *tokens);
        if (!tokens)
            return BATON_ERROR(BATON_ERR_OOM, "vocabulary: cannot grow to %d tokens", cap);
        v->tokens = tokens;
        *tok_cap = cap;
    }
    if (2 * ((size_t)v->size + 1) > v->cap)
        BATON_TRY(rehash(v, table_cap((size_t)v->size + 1)));
    char *copy = malloc(len + 1);
    if (!copy)
        return BATON_ERROR(BATON_ERR_OOM, "vocabulary: cannot copy a token of %zu bytes", len);
    memcpy(copy, s, len);
    copy[len] = '\0';
    v->slots[find_slot(v, s, len)] = v->size;
    v->tokens[v->size++] = copy;
    return BATON_OK;
}

static baton_status push_specials(baton_vocab *v, int *tok_cap)
{
    for (int i = 0; i < BATON_SPECIALS; i++)
        BATON_TRY(push_token(v, tok_cap, specials[i], strlen(specials[i])));
    return BATON_OK;
}

void baton_vocab_free(baton_vocab *v)
{
    for (int i = 0; v->tokens && i < v->size; i++)
        free(v->tokens[i]);
    free(v->tokens);
    free(v->slots);
    memset(v, 0, sizeof *v);
}

int baton_vocab_id(const baton_vocab *v, const char *token, size_t len)
{
    if (v->cap == 0)
        return BATON_UNK;
    int id = v->slots[find_slot(v, token, len)];
    return id >= 0 ? id : BATON_UNK;
}

/* ---- building ------------------------------------------------------------------------------ */

typedef struct {
    char *s; /* owned copy: sentences may be streamed and gone by the time the vocabulary is built */
    size_t len;
    uint64_t hash;
    long long count;
} word_count;

struct baton_vocab_counter {
    word_count *words;
    size_t n, words_cap;
    size_t *slots; /* index + 1 into words, 0 empty */
    size_t cap;
};
typedef baton_vocab_counter counter;

static void counter_free(counter *c)
{
    for (size_t k = 0; k < c->n; k++)
        free(c->words[k].s);
    free(c->words);
    free(c->slots);
    memset(c, 0, sizeof *c);
}

static size_t counter_slot(const counter *c, const char *s, size_t len, uint64_t hash)
{
    size_t mask = c->cap - 1, i = (size_t)hash & mask;
    while (c->slots[i]) {
        const word_count *w = &c->words[c->slots[i] - 1];
        if (w->hash == hash && w->len == len && memcmp(w->s, s, len) == 0)
            break;
        i = (i + 1) & mask;
    }
    return i;
}

static baton_status counter_add(counter *c, const char *s, size_t len)
{
    uint64_t hash = fnv1a(s, len);
    if (c->cap) {
        size_t i = counter_slot(c, s, len, hash);
        if (c->slots[i]) {
            c->words[c->slots[i] - 1].count++;
            return BATON_OK;
        }
    }
    if (c->n == c->words_cap) {
        size_t cap = c->words_cap ? 2 * c->words_cap : 1024;
        word_count *words = realloc(c->words, cap * sizeof *words);
        if (!words)
            return BATON_ERROR(BATON_ERR_OOM, "vocabulary: cannot count %zu distinct tokens", cap);
        c->words = words;
        c->words_cap = cap;
    }
    if (2 * (c->n + 1) > c->cap) {
        size_t cap = table_cap(c->n + 1);
        size_t *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return BATON_ERROR(BATON_ERR_OOM, "vocabulary: cannot allocate a hash table of %zu slots", cap);
        free(c->slots);
        c->slots = slots;
        c->cap = cap;
        for (size_t k = 0; k < c->n; k++)
            c->slots[counter_slot(c, c->words[k].s, c->words[k].len, c->words[k].hash)] = k + 1;
    }
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return BATON_ERROR(BATON_ERR_OOM, "vocabulary: cannot copy a token of %zu bytes", len);
    memcpy(copy, s, len);
    c->words[c->n] = (word_count){copy, len, hash, 1};
    c->slots[counter_slot(c, s, len, hash)] = ++c->n;
    return BATON_OK;
}

/* Count descending, then bytes ascending (a prefix sorts first): a total order on distinct words. */
static int word_order(const void *pa, const void *pb)
{
    const word_count *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    int d = memcmp(a->s, b->s, a->len < b->len ? a->len : b->len);
    if (d)
        return d;
    return (a->len > b->len) - (a->len < b->len);
}

static int is_special(const char *s, size_t len)
{
    for (int i = 0; i < BATON_SPECIALS; i++)
        if (token_equals(specials[i], s, len))
            return 1;
    return 0;
}

baton_status baton_vocab_counter_create(baton_vocab_counter **c)
{
    *c = calloc(1, sizeof **c);
    return *c ? BATON_OK : BATON_ERROR(BATON_ERR_OOM, "vocabulary: out of memory");
}

void baton_vocab_counter_free(baton_vocab_counter *c)
{
    if (c)
        counter_free(c);
    free(c);
}

/* The next whitespace-separated token at or after *p: its start (with *len), or NULL at the end. */
static const char *next_token(const char **p, size_t *len)
{
    while (is_space(**p))
        (*p)++;
    const char *start = *p;
    while (**p && !is_space(**p))
        (*p)++;
    *len = (size_t)(*p - start);
    return *len ? start : NULL;
}

baton_status baton_vocab_counter_add(baton_vocab_counter *c, const char *sentence)
{
    const char *p = sentence, *tok;
    size_t len;
    while ((tok = next_token(&p, &len)))
        if (!is_special(tok, len))
            BATON_TRY(counter_add(c, tok, len));
    return BATON_OK;
}

baton_status baton_vocab_counter_finish(baton_vocab *v, baton_vocab_counter *c, int min_count, int max_size)
{
    memset(v, 0, sizeof *v);
    BATON_REQUIRE(max_size <= 0 || max_size >= BATON_SPECIALS,
                  "vocabulary: max_size %d cannot hold the %d special tokens (expected >= %d, or <= 0 for no limit)",
                  max_size, BATON_SPECIALS, BATON_SPECIALS);
    if (c->n)
        qsort(c->words, c->n, sizeof *c->words, word_order);
    int tok_cap = 0;
    baton_status st = push_specials(v, &tok_cap);
    long long keep_min = min_count > 1 ? min_count : 1;
    for (size_t k = 0; st == BATON_OK && k < c->n; k++) {
        if (c->words[k].count < keep_min || (max_size > 0 && v->size >= max_size))
            break; /* sorted by count, so nothing later passes the cutoff either */
        st = push_token(v, &tok_cap, c->words[k].s, c->words[k].len);
    }
    if (st != BATON_OK)
        baton_vocab_free(v);
    return st;
}

baton_status baton_vocab_build(baton_vocab *v, char *const *sentences, int n, int min_count, int max_size)
{
    memset(v, 0, sizeof *v);
    BATON_REQUIRE(n >= 0 && (n == 0 || sentences), "vocabulary: expected n >= 0 sentences, got %d%s", n,
                  sentences ? "" : " and no array");
    baton_vocab_counter *c;
    BATON_TRY(baton_vocab_counter_create(&c));
    baton_status st = BATON_OK;
    for (int k = 0; k < n && st == BATON_OK; k++)
        st = sentences[k] ? baton_vocab_counter_add(c, sentences[k])
                          : BATON_ERROR(BATON_ERR_INVALID, "vocabulary: sentence %d is NULL", k);
    if (st == BATON_OK)
        st = baton_vocab_counter_finish(v, c, min_count, max_size);
    baton_vocab_counter_free(c);
    return st;
}

/* ---- encode / decode ----------------------------------------------------------------------- */

int baton_vocab_encode(const baton_vocab *v, const char *sentence, int *ids, int max)
{
    int count = 0;
    const char *p = sentence, *tok;
    size_t len;
    while ((tok = next_token(&p, &len))) {
        if (count < max) {
            int id = baton_vocab_id(v, tok, len);
            ids[count] = id == BATON_PAD || id == BATON_BOS || id == BATON_EOS ? BATON_UNK : id;
        }
        if (count < INT_MAX)
            count++;
    }
    return count;
}

size_t baton_vocab_decode(const baton_vocab *v, const int *ids, int count, char *out, size_t n)
{
    size_t need = 0;
    for (int i = 0; i < count; i++) {
        int id = ids[i];
        if (id == BATON_EOS)
            break;
        if (id == BATON_PAD || id == BATON_BOS)
            continue;
        const char *tok = id >= 0 && id < v->size ? v->tokens[id] : specials[BATON_UNK];
        size_t len = strlen(tok);
        if (need > 0) {
            if (need + 1 < n)
                out[need] = ' ';
            need++;
        }
        if (need < n) {
            size_t room = n - 1 - need;
            memcpy(out + need, tok, len < room ? len : room);
        }
        need += len;
    }
    if (n > 0)
        out[need < n ? need : n - 1] = '\0';
    return need;
}

/* ---- files --------------------------------------------------------------------------------- */

baton_status baton_vocab_save(const baton_vocab *v, const char *path)
{
    for (int id = 0; id < v->size; id++) {
        const char *t = v->tokens[id];
        int bad = *t == '\0';
        for (const char *p = t; *p && !bad; p++)
            bad = is_space(*p);
        /* load would reject the file, so refuse to write it */
        BATON_REQUIRE(!bad, "vocabulary: token %d ('%.64s') is empty or holds whitespace; cannot save to %s", id, t,
                      path);
    }
    baton_atomic_file a;
    BATON_TRY(baton_atomic_open(&a, path, "w"));
    for (int id = 0; id < v->size; id++) {
        fputs(v->tokens[id], a.f);
        fputc('\n', a.f);
    }
    return baton_atomic_commit(&a); /* a failed write shows there, in the stream's error flag */
}

baton_status baton_vocab_load(baton_vocab *v, const char *path)
{
    memset(v, 0, sizeof *v);
    FILE *f = fopen(path, "r");
    if (!f)
        return BATON_ERROR(BATON_ERR_IO, "vocabulary: cannot open %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t line_cap = 0;
    int tok_cap = 0;
    long lineno = 0;
    baton_status st = BATON_OK;
    for (;;) {
        errno = 0;
        ssize_t got = baton_text_getline(&line, &line_cap, f, BATON_LINE_MAX);
        if (got == -2) {
            st = BATON_ERROR(BATON_ERR_FORMAT, "%s:%ld: a line of more than %d bytes; expected one token per line",
                             path, lineno + 1, BATON_LINE_MAX);
            break;
        }
        if (got < 0) {
            if (ferror(f) || errno == ENOMEM)
                st = BATON_ERROR(errno == ENOMEM ? BATON_ERR_OOM : BATON_ERR_IO,
                                 "vocabulary: cannot read %s after line %ld: %s", path, lineno, strerror(errno));
            break;
        }
        lineno++;
        size_t len = (size_t)got;
        if (len > 0 && line[len - 1] == '\n')
            len--; /* a missing newline on the last line is accepted */
        if (memchr(line, '\0', len)) {
            st = BATON_ERROR(BATON_ERR_FORMAT, "%s:%ld: expected a token, found a NUL byte", path, lineno);
            break;
        }
        line[len] = '\0';
        if (len == 0) {
            st = BATON_ERROR(BATON_ERR_FORMAT, "%s:%ld: expected a token, found an empty line", path, lineno);
            break;
        }
        size_t ws = 0;
        while (ws < len && !is_space(line[ws]))
            ws++;
        if (ws < len) {
            st = BATON_ERROR(BATON_ERR_FORMAT, "%s:%ld: expected one token without whitespace, got '%.64s'%s", path,
                             lineno, line, line[len - 1] == '\r' ? " (CRLF line endings?)" : "");
            break;
        }
        if (v->size < BATON_SPECIALS && strcmp(line, specials[v->size]) != 0) {
            st = BATON_ERROR(BATON_ERR_FORMAT, "%s:%ld: expected the special token '%s' (id %d), got '%.64s'", path,
                             lineno, specials[v->size], v->size, line);
            break;
        }
        if (v->cap && v->slots[find_slot(v, line, len)] >= 0) {
            st = BATON_ERROR(BATON_ERR_FORMAT, "%s:%ld: expected a new token, '%.64s' is already id %d", path, lineno,
                             line, v->slots[find_slot(v, line, len)]);
            break;
        }
        if ((st = push_token(v, &tok_cap, line, len)) != BATON_OK)
            break;
    }
    if (st == BATON_OK && v->size < BATON_SPECIALS)
        st = BATON_ERROR(BATON_ERR_FORMAT, "%s:%ld: expected the special token '%s' (id %d), got the end of the file",
                         path, lineno + 1, specials[v->size], v->size);
    free(line);
    fclose(f);
    if (st != BATON_OK)
        baton_vocab_free(v);
    return st;
}
