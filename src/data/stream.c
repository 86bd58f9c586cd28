/* stream.c: streamed, chunked, token-budgeted training batches (see stream.h).
 *
 * Layout: configuration checks and the fingerprint; growable id arrays; reading and encoding one
 * chunk; bucketing it (shuffle, stable sort, greedy cut, batch permutation); moving through chunks
 * and epochs; positions (tell, seek, text).
 *
 * Readings of the contract:
 * - A chunk is chunk_pairs pairs as the reader returns them (after its own skipping); pairs skipped
 *   here for max_len still belong to the chunk, so chunk boundaries depend on the files and the
 *   reader options only.
 * - The stream always holds the chunk of its next batch: after giving a chunk's last batch it
 *   reads the next chunk at once (the batch already sits in the caller's host batch, so one chunk
 *   of ids is still all that is held). This is what lets baton_stream_next say that a batch was its
 *   epoch's last, even when the corpus ends exactly at a chunk boundary or its last chunks keep no
 *   pair, and it makes tell a plain read of the state.
 * - Philox draws: purpose BATON_RNG_DATA | 2 shuffles pairs, | 3 permutes batches (| 1 is
 *   baton_batching_pick); counter = epoch; block = chunk << 32 | draw / 4. Fisher-Yates maps a
 *   32-bit word to [0, bound) by multiply-shift: a bias below bound / 2^32, and no rejection loop,
 *   so every chunk costs the same draws on every machine. */
#include "baton/stream.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "baton/rng.h"

enum { USE_PAIRS = 2, USE_BATCHES = 3 };

typedef struct {
    int tgt, src, rank, pair;
} chunk_key;

struct baton_stream {
    baton_stream_config cfg; /* defaults resolved */
    baton_reader *reader;
    uint64_t fingerprint;
    /* The chunk: ids in read order, then bucket order and batches (the views of batch.h). */
    int n, max_src, max_tgt, count;
    int *src_off, *tgt_off, *src_ids, *tgt_ids, *order, *first, *size, *perm;
    size_t src_off_cap, tgt_off_cap, src_ids_cap, tgt_ids_cap, order_cap, first_cap, size_cap, perm_cap;
    chunk_key *keys;
    size_t keys_cap;
    char *sbuf, *tbuf; /* subword encodings of the current pair */
    size_t scap, tcap;
    /* Where the next batch comes from. */
    int epoch, cur;
    long long chunk;
    baton_reader_pos start, next_start; /* the chunk's first pair; the pair after its last */
    long long src_bytes;                /* size of the source file (for the epoch estimate), or 0 */
    baton_stream_counts now, last;
    baton_status failed;
};

/* ---- configuration -------------------------------------------------------------------------- */

/* Validates cfg and resolves its defaults into *out; errors say what to change. */
static baton_status check_config(const baton_stream_config *cfg, baton_stream_config *out)
{
    BATON_REQUIRE(cfg, "stream: no configuration");
    BATON_REQUIRE(cfg->src_path && cfg->src_path[0], "stream: no source file; expected a path (or a TSV file)");
    const baton_vocab *sv = cfg->src_vocab, *tv = cfg->tgt_vocab;
    BATON_REQUIRE(sv && tv && sv->size >= BATON_SPECIALS && tv->size >= BATON_SPECIALS,
                  "stream: expected a source and a target vocabulary, built or loaded");
    BATON_REQUIRE(cfg->batch_tokens >= 2,
                  "stream: batch_tokens %d; expected >= 2 (one token and </s>), the padded tokens a batch may hold",
                  cfg->batch_tokens);
    BATON_REQUIRE(cfg->max_len >= 0 && cfg->max_len < INT_MAX / 2, "stream: max_len %d; expected >= 0 (0: none)",
                  cfg->max_len);
    BATON_REQUIRE(cfg->max_len < cfg->batch_tokens,
                  "stream: batch_tokens %d cannot hold one pair of max_len %d (a target of %d with </s>); expected "
                  "batch_tokens >= %d or a smaller max_len",
                  cfg->batch_tokens, cfg->max_len, cfg->max_len + 1, cfg->max_len + 1);
    BATON_REQUIRE(cfg->max_sentences >= 0, "stream: max_sentences %d; expected >= 0 (0: as many as batch_tokens allow)",
                  cfg->max_sentences);
    BATON_REQUIRE(cfg->chunk_pairs >= 0, "stream: chunk_pairs %d; expected >= 0 (0: %d)", cfg->chunk_pairs,
                  BATON_STREAM_CHUNK_DEFAULT);
    BATON_REQUIRE(cfg->reader.max_words >= 0, "stream: reader max_words %d; expected >= 0 (0: no limit)",
                  cfg->reader.max_words);
    *out = *cfg;
    if (out->max_len == 0)
        out->max_len = out->batch_tokens - 1;
    int cap = out->batch_tokens / 2; /* every pair is at least 2 wide: a target token and </s> */
    if (out->max_sentences == 0 || out->max_sentences > cap)
        out->max_sentences = cap;
    if (out->chunk_pairs == 0)
        out->chunk_pairs = BATON_STREAM_CHUNK_DEFAULT;
    return BATON_OK;
}

static uint64_t fnv_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t fnv_u64(uint64_t h, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++) /* bytes in a fixed order: the same value on any machine */
        b[i] = (unsigned char)(v >> (8 * i));
    return fnv_bytes(h, b, sizeof b);
}

static uint64_t fnv_vocab(uint64_t h, const baton_vocab *v)
{
    h = fnv_u64(h, (uint64_t)v->size);
    for (int i = 0; i < v->size; i++)
        h = fnv_bytes(h, v->tokens[i], strlen(v->tokens[i]) + 1);
    return h;
}

/* Everything that shapes the batches besides the files, so seek can refuse a foreign position
 * instead of silently giving other batches. Never 0 (0 means "unchecked" in a position). */
static uint64_t fingerprint(const baton_stream_config *c)
{
    uint64_t h = 0xcbf29ce484222325ull;
    const uint64_t v[] = {c->seed, (uint64_t)c->chunk_pairs, (uint64_t)c->max_len, (uint64_t)c->batch_tokens,
                          (uint64_t)c->max_sentences, (uint64_t)c->reader.max_words,
                          (uint64_t)c->reader.replace_invalid, (uint64_t)(c->tgt_path == NULL),
                          (uint64_t)baton_subword_is_sentencepiece(c->src_sw),
                          (uint64_t)baton_subword_is_sentencepiece(c->tgt_sw)};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        h = fnv_u64(h, v[i]);
    h = fnv_vocab(fnv_vocab(h, c->src_vocab), c->tgt_vocab);
    return h ? h : 1;
}

/* ---- growable arrays ------------------------------------------------------------------------ */

static size_t next_cap(size_t cap, size_t need)
{
    size_t c = cap ? cap : 256;
    while (c < need)
        c *= 2;
    return c;
}

static baton_status grow_ints(int **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return BATON_OK;
    size_t c = next_cap(*cap, need);
    int *q = realloc(*p, c * sizeof *q);
    if (!q)
        return BATON_ERROR(BATON_ERR_OOM, "stream: out of memory for %zu ids of a chunk; lower chunk_pairs", need);
    *p = q;
    *cap = c;
    return BATON_OK;
}

static baton_status grow_keys(baton_stream *s, size_t need)
{
    if (need <= s->keys_cap)
        return BATON_OK;
    size_t c = next_cap(s->keys_cap, need);
    chunk_key *q = realloc(s->keys, c * sizeof *q);
    if (!q)
        return BATON_ERROR(BATON_ERR_OOM, "stream: out of memory sorting %zu pairs; lower chunk_pairs", need);
    s->keys = q;
    s->keys_cap = c;
    return BATON_OK;
}

/* ---- reading and encoding a chunk ----------------------------------------------------------- */

/* The space-separated tokens of line: the subword encoding, or the line itself without a tokenizer. */
static baton_status tokens_of(baton_subword *sw, const char *line, char **buf, size_t *cap, const char **out)
{
    if (!sw) {
        *out = line;
        return BATON_OK;
    }
    BATON_TRY(baton_subword_encode(sw, line, buf, cap));
    *out = *buf;
    return BATON_OK;
}

/* Appends the ids of one token string to ids/off, which hold n entries so far. */
static baton_status append_ids(int **ids, size_t *ids_cap, int **off, size_t *off_cap, int n,
                               const baton_vocab *v, const char *tokens, int count)
{
    long long used = (*off)[n];
    if (used + count > INT_MAX)
        return BATON_ERROR(BATON_ERR_INVALID, "stream: a chunk holds over %d tokens; lower chunk_pairs", INT_MAX);
    BATON_TRY(grow_ints(ids, ids_cap, (size_t)used + (size_t)count));
    BATON_TRY(grow_ints(off, off_cap, (size_t)n + 2));
    baton_vocab_encode(v, tokens, *ids + used, count);
    (*off)[n + 1] = (int)used + count;
    return BATON_OK;
}

/* Encodes one pair from the reader into the chunk, or counts why it is skipped. */
static baton_status add_pair(baton_stream *s, const char *src, const char *tgt)
{
    const char *st, *tt;
    BATON_TRY(tokens_of(s->cfg.src_sw, src, &s->sbuf, &s->scap, &st));
    BATON_TRY(tokens_of(s->cfg.tgt_sw, tgt, &s->tbuf, &s->tcap, &tt));
    int ns = baton_vocab_encode(s->cfg.src_vocab, st, NULL, 0);
    int nt = baton_vocab_encode(s->cfg.tgt_vocab, tt, NULL, 0);
    if (ns == 0 || nt == 0) {
        s->now.skipped_empty++;
        return BATON_OK;
    }
    if (ns > s->cfg.max_len || nt > s->cfg.max_len) {
        s->now.skipped_long++;
        return BATON_OK;
    }
    BATON_TRY(append_ids(&s->src_ids, &s->src_ids_cap, &s->src_off, &s->src_off_cap, s->n, s->cfg.src_vocab, st, ns));
    BATON_TRY(append_ids(&s->tgt_ids, &s->tgt_ids_cap, &s->tgt_off, &s->tgt_off_cap, s->n, s->cfg.tgt_vocab, tt, nt));
    s->n++;
    s->max_src = ns > s->max_src ? ns : s->max_src;
    s->max_tgt = nt + 1 > s->max_tgt ? nt + 1 : s->max_tgt;
    s->now.pairs++;
    s->now.src_tokens += ns;
    s->now.tgt_tokens += nt + 1;
    return BATON_OK;
}

/* Adds what the reader skipped and saw between two of its count snapshots. */
static void add_reader_counts(baton_stream_counts *c, baton_reader_counts a, baton_reader_counts b)
{
    c->lines += b.lines - a.lines;
    c->skipped_empty += b.skipped_empty - a.skipped_empty;
    c->skipped_long += b.skipped_long - a.skipped_long;
    c->replaced += b.replaced - a.replaced;
}

/* Reads up to chunk_pairs pairs from s->start and encodes the kept ones; *got: pairs read. */
static baton_status read_chunk(baton_stream *s, int *got)
{
    *got = 0;
    s->n = s->max_src = s->max_tgt = s->count = 0;
    BATON_TRY(grow_ints(&s->src_off, &s->src_off_cap, 1));
    BATON_TRY(grow_ints(&s->tgt_off, &s->tgt_off_cap, 1));
    s->src_off[0] = s->tgt_off[0] = 0;
    BATON_TRY(baton_reader_seek(s->reader, &s->start));
    baton_reader_counts before = baton_reader_counts_get(s->reader);
    baton_status st = BATON_OK;
    while (st == BATON_OK && *got < s->cfg.chunk_pairs) {
        const char *src, *tgt;
        int r = baton_reader_next(s->reader, &src, &tgt);
        if (r < 0)
            st = (baton_status)-r; /* the reader printed the error */
        if (r <= 0)
            break;
        (*got)++;
        st = add_pair(s, src, tgt);
    }
    add_reader_counts(&s->now, before, baton_reader_counts_get(s->reader));
    s->next_start = baton_reader_tell(s->reader);
    return st;
}

/* ---- bucketing a chunk ---------------------------------------------------------------------- */

/* A uniform draw in [0, bound) for draw number i of this (seed, epoch, chunk) and use. */
static uint32_t draw_below(const baton_stream *s, uint32_t use, uint64_t i, uint32_t bound)
{
    uint64_t block = ((uint64_t)s->chunk << 32) + (i >> 2);
    baton_u32x4 r = baton_rng_block(s->cfg.seed, BATON_RNG_DATA | use, (uint32_t)s->epoch, block);
    return (uint32_t)(((uint64_t)r.v[i & 3] * bound) >> 32);
}

/* Fisher-Yates over a[0..n): draw k picks the partner of element n-1-k. */
static void shuffle_ints(const baton_stream *s, uint32_t use, int *a, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)draw_below(s, use, (uint64_t)(n - 1 - i), (uint32_t)i + 1);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* (target length, source length, shuffled rank): a total order, so the sort is the stable sort
 * of the shuffled pairs whatever qsort does with ties. */
static int key_order(const void *pa, const void *pb)
{
    const chunk_key *a = pa, *b = pb;
    if (a->tgt != b->tgt)
        return a->tgt < b->tgt ? -1 : 1;
    if (a->src != b->src)
        return a->src < b->src ? -1 : 1;
    return (a->rank > b->rank) - (a->rank < b->rank);
}

/* Shuffles the chunk's pairs and sorts them into s->order by length. */
static baton_status sort_pairs(baton_stream *s)
{
    size_t n = (size_t)s->n;
    BATON_TRY(grow_ints(&s->order, &s->order_cap, n + 1));
    BATON_TRY(grow_keys(s, n + 1));
    for (int i = 0; i < s->n; i++)
        s->order[i] = i;
    shuffle_ints(s, USE_PAIRS, s->order, s->n);
    for (int k = 0; k < s->n; k++) {
        int p = s->order[k];
        s->keys[k] = (chunk_key){s->tgt_off[p + 1] - s->tgt_off[p] + 1, s->src_off[p + 1] - s->src_off[p], k, p};
    }
    qsort(s->keys, n, sizeof *s->keys, key_order);
    for (int k = 0; k < s->n; k++)
        s->order[k] = s->keys[k].pair;
    return BATON_OK;
}

/* Cuts the sorted pairs greedily into batches within max_sentences and batch_tokens. Sources do
 * not ascend along the order, so the running width takes both sides; one pair always fits, as
 * max_len + 1 <= batch_tokens. */
static baton_status cut_batches(baton_stream *s)
{
    size_t n = (size_t)s->n;
    BATON_TRY(grow_ints(&s->first, &s->first_cap, n + 1));
    BATON_TRY(grow_ints(&s->size, &s->size_cap, n + 1));
    BATON_TRY(grow_ints(&s->perm, &s->perm_cap, n + 1));
    int i = 0;
    s->count = 0;
    while (i < s->n) {
        int first = i, width = 0;
        while (i < s->n && i - first < s->cfg.max_sentences) {
            int w = s->keys[i].tgt > width ? s->keys[i].tgt : width;
            w = s->keys[i].src > w ? s->keys[i].src : w;
            if (i > first && (long long)(i - first + 1) * w > s->cfg.batch_tokens)
                break;
            width = w;
            i++;
        }
        s->first[s->count] = first;
        s->size[s->count] = i - first;
        s->perm[s->count] = s->count;
        s->count++;
    }
    shuffle_ints(s, USE_BATCHES, s->perm, s->count);
    return BATON_OK;
}

/* ---- chunks and epochs ---------------------------------------------------------------------- */

/* Reads chunks from s->start on until one gives batches; *eof = 1 when the corpus ended first. */
static baton_status fill_chunk(baton_stream *s, int *eof)
{
    for (;;) {
        int got;
        BATON_TRY(read_chunk(s, &got));
        *eof = got == 0;
        if (*eof)
            return BATON_OK;
        BATON_TRY(sort_pairs(s));
        BATON_TRY(cut_batches(s));
        s->now.chunks++;
        s->now.batches += s->count;
        s->cur = 0;
        if (s->count > 0)
            return BATON_OK;
        s->start = s->next_start; /* every pair of this chunk was skipped: on to the next */
        s->chunk++;
    }
}

/* Starts epoch `epoch` at the top of the corpus and reads its first chunk. */
static baton_status begin_epoch(baton_stream *s, int epoch)
{
    BATON_REQUIRE(epoch >= 0 && epoch < INT_MAX, "stream: epoch %d; expected 0..%d", epoch, INT_MAX - 1);
    s->epoch = epoch;
    s->chunk = 0;
    memset(&s->start, 0, sizeof s->start);
    memset(&s->now, 0, sizeof s->now);
    int eof;
    BATON_TRY(fill_chunk(s, &eof));
    if (eof)
        return BATON_ERROR(BATON_ERR_INVALID,
                           "stream: %s%s%s leaves no pair: %lld lines, %lld skipped as empty, %lld as over-long "
                           "(max_len %d subword tokens, max_words %d); expected at least one pair",
                           s->cfg.src_path, s->cfg.tgt_path ? " + " : "", s->cfg.tgt_path ? s->cfg.tgt_path : "",
                           s->now.lines, s->now.skipped_empty, s->now.skipped_long, s->cfg.max_len,
                           s->cfg.reader.max_words);
    return BATON_OK;
}

/* Steps past the batch just given: the next batch of the chunk, the next chunk, or a new epoch. */
static baton_status advance(baton_stream *s, int *epoch_ended)
{
    *epoch_ended = 0;
    if (++s->cur < s->count)
        return BATON_OK;
    s->start = s->next_start;
    s->chunk++;
    int eof;
    BATON_TRY(fill_chunk(s, &eof));
    if (!eof)
        return BATON_OK;
    *epoch_ended = 1;
    s->last = s->now;
    return begin_epoch(s, s->epoch + 1);
}

baton_status baton_stream_open(baton_stream **stream, const baton_stream_config *cfg)
{
    *stream = NULL;
    baton_stream_config c;
    BATON_TRY(check_config(cfg, &c));
    baton_stream *s = calloc(1, sizeof *s);
    if (!s)
        return BATON_ERROR(BATON_ERR_OOM, "stream: out of memory opening %s", c.src_path);
    s->cfg = c;
    s->fingerprint = fingerprint(&c);
    struct stat sb;
    s->src_bytes = stat(c.src_path, &sb) == 0 ? (long long)sb.st_size : 0;
    baton_status st = baton_reader_open(&s->reader, c.src_path, c.tgt_path, &c.reader);
    if (st == BATON_OK)
        st = begin_epoch(s, 0);
    if (st != BATON_OK) {
        baton_stream_close(s);
        return st;
    }
    *stream = s;
    return BATON_OK;
}

double baton_stream_epoch_batches(const baton_stream *s)
{
    if (s->last.batches > 0 && !s->last.partial)
        return (double)s->last.batches; /* a whole epoch has been seen */
    long long read = s->next_start.offset[0];
    if (s->now.partial || s->now.batches <= 0 || read <= 0 || s->src_bytes <= 0)
        return 0.0; /* a resumed epoch: its first chunks were not counted */
    return (double)s->now.batches * (double)s->src_bytes / (double)read;
}

void baton_stream_close(baton_stream *s)
{
    if (!s)
        return;
    baton_reader_close(s->reader);
    free(s->src_off);
    free(s->tgt_off);
    free(s->src_ids);
    free(s->tgt_ids);
    free(s->order);
    free(s->first);
    free(s->size);
    free(s->perm);
    free(s->keys);
    free(s->sbuf);
    free(s->tbuf);
    free(s);
}

void baton_stream_limits(const baton_stream *s, int *S_max, int *T_max, int *B_max)
{
    if (S_max)
        *S_max = s->cfg.max_len;
    if (T_max)
        *T_max = s->cfg.max_len + 1;
    if (B_max)
        *B_max = s->cfg.max_sentences;
}

baton_status baton_stream_host_batch_alloc(const baton_stream *s, baton_host_batch *hb)
{
    return baton_host_batch_alloc(hb, s->cfg.max_len, s->cfg.max_len + 1, s->cfg.max_sentences);
}

baton_status baton_stream_next(baton_stream *s, baton_host_batch *hb, int *epoch_ended)
{
    int ended = 0;
    if (epoch_ended)
        *epoch_ended = 0;
    if (s->failed != BATON_OK)
        return BATON_ERROR(s->failed, "stream: stopped by an earlier error; seek to a saved position to go on");
    BATON_REQUIRE(hb, "stream: no host batch to fill");
    baton_corpus c = {.n = s->n, .src_off = s->src_off, .tgt_off = s->tgt_off, .src_ids = s->src_ids,
                      .tgt_ids = s->tgt_ids, .max_src = s->max_src, .max_tgt = s->max_tgt};
    baton_batching bt = {.count = s->count, .first = s->first, .size = s->size, .order = s->order};
    BATON_TRY(baton_host_batch_fill(hb, &c, &bt, s->perm[s->cur])); /* a too-small hb: the caller's to fix */
    baton_status st = advance(s, &ended);
    if (st != BATON_OK) {
        s->failed = st;
        return st;
    }
    if (epoch_ended)
        *epoch_ended = ended;
    return BATON_OK;
}

baton_stream_counts baton_stream_counts_get(const baton_stream *s, int last)
{
    return last ? s->last : s->now;
}

/* ---- positions ------------------------------------------------------------------------------ */

baton_stream_pos baton_stream_tell(const baton_stream *s)
{
    baton_stream_pos p = {s->epoch, s->chunk, s->start, s->cur, s->fingerprint};
    return p;
}

/* Rebuilds the chunk a valid-looking position names and checks it still has the batch. */
static baton_status seek_chunk(baton_stream *s, const baton_stream_pos *pos)
{
    s->epoch = pos->epoch;
    s->chunk = pos->chunk;
    s->start = pos->start;
    memset(&s->now, 0, sizeof s->now);
    memset(&s->last, 0, sizeof s->last);
    s->now.partial = pos->chunk > 0 || pos->batch > 0;
    int eof;
    BATON_TRY(fill_chunk(s, &eof));
    BATON_REQUIRE(!eof, "stream: position epoch %d chunk %lld lies past the end of the corpus; expected the same "
                  "files as when it was taken", pos->epoch, pos->chunk);
    BATON_REQUIRE(pos->batch < s->count && (s->chunk == pos->chunk || pos->batch == 0),
                  "stream: position names batch %d of chunk %lld, which now has %d batches; the files or the "
                  "configuration changed since it was taken", pos->batch, pos->chunk, s->count);
    s->cur = pos->batch;
    return BATON_OK;
}

baton_status baton_stream_seek(baton_stream *s, const baton_stream_pos *pos)
{
    BATON_REQUIRE(pos && pos->epoch >= 0 && pos->epoch < INT_MAX && pos->chunk >= 0 && pos->chunk <= UINT32_MAX &&
                      pos->batch >= 0,
                  "stream: seek to an invalid position; expected one from baton_stream_tell");
    BATON_REQUIRE(pos->config == 0 || pos->config == s->fingerprint,
                  "stream: the position was taken with another data configuration (config %016" PRIx64
                  ", now %016" PRIx64 "); restore the seed, chunk_pairs, max_len, batch_tokens, max_sentences, "
                  "reader options, tokenizers and vocabularies it was taken with",
                  pos->config, s->fingerprint);
    baton_status st = seek_chunk(s, pos);
    s->failed = st;
    return st;
}

baton_status baton_stream_pos_format(const baton_stream_pos *p, char *out, size_t n)
{
    int len = snprintf(out, n, "stream1 epoch=%d chunk=%lld batch=%d src=%lld:%lld tgt=%lld:%lld config=%016" PRIx64,
                       p->epoch, p->chunk, p->batch, p->start.offset[0], p->start.line[0], p->start.offset[1],
                       p->start.line[1], p->config);
    BATON_REQUIRE(len >= 0 && (size_t)len < n, "stream: position text needs %d bytes, got %zu", len + 1, n);
    return BATON_OK;
}

/* Reads "<key><integer>" at *p (decimal, or hex when hex) into *v and moves past it. */
static int parse_field(const char **p, const char *key, int hex, unsigned long long *u, long long *v)
{
    size_t k = strlen(key);
    if (strncmp(*p, key, k) != 0)
        return 0;
    const char *s = *p + k;
    char *end;
    errno = 0;
    if (hex)
        *u = strtoull(s, &end, 16);
    else
        *v = strtoll(s, &end, 10);
    if (end == s || errno)
        return 0;
    *p = end;
    return 1;
}

baton_status baton_stream_pos_parse(baton_stream_pos *pos, const char *text)
{
    BATON_REQUIRE(text, "stream: no position text");
    static const char *const keys[] = {"stream1 epoch=", " chunk=", " batch=", " src=", ":", " tgt=", ":",
                                       " config="};
    long long v[7] = {0};
    unsigned long long cfg = 0;
    const char *p = text;
    int ok = 1;
    for (int i = 0; i < 8 && ok; i++)
        ok = parse_field(&p, keys[i], i == 7, &cfg, &v[i < 7 ? i : 0]);
    baton_stream_pos q = {(int)v[0], v[1], {{v[3], v[5]}, {v[4], v[6]}}, (int)v[2], (uint64_t)cfg};
    char again[BATON_STREAM_POS_TEXT_MAX];
    /* Formatting back and comparing refuses every spelling but the canonical one (signs, blanks,
     * out-of-range epochs and batches) with one check. */
    ok = ok && *p == '\0' && v[0] >= 0 && v[0] < INT_MAX && v[2] >= 0 && v[2] < INT_MAX && v[1] >= 0 &&
         v[3] >= 0 && v[4] >= 0 && v[5] >= 0 && v[6] >= 0 &&
         baton_stream_pos_format(&q, again, sizeof again) == BATON_OK && strcmp(again, text) == 0;
    BATON_REQUIRE(ok, "stream: position \"%.100s\" is not one baton_stream_pos_format wrote; expected e.g. "
                  "\"stream1 epoch=0 chunk=0 batch=0 src=0:0 tgt=0:0 config=<16 hex digits>\"", text);
    *pos = q;
    return BATON_OK;
}
