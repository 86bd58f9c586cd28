/* test_stream.c: the streamed batch pipeline (stream.h) on a corpus this test generates (varied
 * lengths, empty and over-long pairs) read in tiny chunks: every kept pair in exactly one batch
 * per epoch, the skip counts, the token budget and the host-batch layout of batch.c; epochs that
 * differ in order, seeds that reproduce or change the stream; exact resume from positions taken at
 * the start, at a chunk boundary, mid-chunk and around an epoch's end, passed through text; TSV
 * input giving the same batches as aligned files; refused configurations and positions; and, when
 * ../shared/data exists, one epoch of Multi30k train in one chunk. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "baton/rng.h"
#include "baton/stream.h"
#include "baton/text.h"
#include "testutil.h"

static tu_report rep;
static char dir[64];

#define CHECK(cond, ...) TU_EXPECT(&rep, cond, __VA_ARGS__)

/* ---- a growable int tape: batches and pairs flattened, with offsets --------------------------- */

typedef struct {
    int *v;
    size_t n, cap;
    size_t *off; /* (items + 1) */
    int *flag;   /* (items) e.g. epoch_ended */
    size_t items, items_cap;
} tape;

static void tape_push(tape *t, int x)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 4096;
        t->v = realloc(t->v, t->cap * sizeof *t->v);
        if (!t->v)
            exit(1);
    }
    t->v[t->n++] = x;
}

/* Closes the current item (everything pushed since the last close). */
static void tape_close(tape *t, int flag)
{
    if (t->items + 2 > t->items_cap) {
        t->items_cap = t->items_cap ? 2 * t->items_cap : 1024;
        t->off = realloc(t->off, t->items_cap * sizeof *t->off);
        t->flag = realloc(t->flag, t->items_cap * sizeof *t->flag);
        if (!t->off || !t->flag)
            exit(1);
    }
    if (t->items == 0)
        t->off[0] = 0;
    t->flag[t->items] = flag;
    t->off[++t->items] = t->n;
}

static void tape_free(tape *t)
{
    free(t->v);
    free(t->off);
    free(t->flag);
    memset(t, 0, sizeof *t);
}

/* 1 when item i of a equals item j of b, flags included. */
static int tape_same(const tape *a, size_t i, const tape *b, size_t j)
{
    size_t na = a->off[i + 1] - a->off[i], nb = b->off[j + 1] - b->off[j];
    return na == nb && a->flag[i] == b->flag[j] && memcmp(a->v + a->off[i], b->v + b->off[j], na * sizeof(int)) == 0;
}

static const tape *sort_tape; /* qsort has no context argument */

static int item_order(const void *pa, const void *pb)
{
    size_t i = *(const size_t *)pa, j = *(const size_t *)pb;
    size_t ni = sort_tape->off[i + 1] - sort_tape->off[i], nj = sort_tape->off[j + 1] - sort_tape->off[j];
    const int *x = sort_tape->v + sort_tape->off[i], *y = sort_tape->v + sort_tape->off[j];
    for (size_t k = 0; k < ni && k < nj; k++)
        if (x[k] != y[k])
            return x[k] < y[k] ? -1 : 1;
    return (ni > nj) - (ni < nj);
}

/* 1 when the items of a and b are the same multiset. */
static int tape_same_multiset(const tape *a, const tape *b)
{
    if (a->items != b->items)
        return 0;
    size_t *ia = malloc((a->items + 1) * sizeof *ia), *ib = malloc((b->items + 1) * sizeof *ib);
    for (size_t i = 0; i < a->items; i++)
        ia[i] = ib[i] = i;
    sort_tape = a;
    qsort(ia, a->items, sizeof *ia, item_order);
    sort_tape = b;
    qsort(ib, b->items, sizeof *ib, item_order);
    int same = 1;
    for (size_t i = 0; i < a->items && same; i++) {
        size_t x = ia[i], y = ib[i];
        size_t nx = a->off[x + 1] - a->off[x], ny = b->off[y + 1] - b->off[y];
        same = nx == ny && memcmp(a->v + a->off[x], b->v + b->off[y], nx * sizeof(int)) == 0;
    }
    free(ia);
    free(ib);
    return same;
}

/* ---- batches -------------------------------------------------------------------------------- */

static void push_ints(tape *t, const int *x, int n)
{
    for (int i = 0; i < n; i++)
        tape_push(t, x[i]);
}

/* The whole batch, bit for bit (only the used part of the arrays). */
static void record_batch(tape *t, const baton_host_batch *hb, int ended)
{
    int head[5] = {hb->B, hb->S, hb->T, hb->src_tokens, hb->tgt_tokens};
    push_ints(t, head, 5);
    push_ints(t, hb->src, hb->S * hb->B);
    push_ints(t, hb->src_len, hb->B);
    push_ints(t, hb->tgt_in, hb->T * hb->B);
    push_ints(t, hb->tgt_out, hb->T * hb->B);
    push_ints(t, hb->tgt_len, hb->B);
    tape_close(t, ended);
}

/* Appends each pair of hb as [ns, src ids, nt, tgt ids] (tgt without </s>). */
static void record_pairs(tape *t, const baton_host_batch *hb)
{
    int B = hb->B;
    for (int b = 0; b < B; b++) {
        tape_push(t, hb->src_len[b]);
        for (int s = 0; s < hb->src_len[b]; s++)
            tape_push(t, hb->src[s * B + b]);
        tape_push(t, hb->tgt_len[b] - 1);
        for (int s = 0; s < hb->tgt_len[b] - 1; s++)
            tape_push(t, hb->tgt_out[s * B + b]);
        tape_close(t, 0);
    }
}

/* Checks one sentence of hb against baton_host_batch_fill's layout; returns 1 when right. */
static int sentence_ok(const baton_host_batch *hb, int b)
{
    int B = hb->B, ns = hb->src_len[b], nt = hb->tgt_len[b];
    int ok = ns >= 1 && ns <= hb->S && nt >= 2 && nt <= hb->T && hb->tgt_in[b] == BATON_BOS;
    for (int s = 0; ok && s < hb->S; s++)
        ok = s < ns ? hb->src[s * B + b] >= BATON_UNK && hb->src[s * B + b] != BATON_BOS : hb->src[s * B + b] == 0;
    for (int t = 0; ok && t < hb->T; t++) {
        int in = hb->tgt_in[t * B + b], out = hb->tgt_out[t * B + b];
        if (t >= nt)
            ok = in == 0 && out == 0;
        else if (t == nt - 1)
            ok = out == BATON_EOS && (t == 0 || in == hb->tgt_out[(t - 1) * B + b]);
        else
            ok = out >= BATON_UNK && out != BATON_EOS && (t == 0 || in == hb->tgt_out[(t - 1) * B + b]);
    }
    return ok;
}

/* Checks hb's shape, budget, token counts and layout; returns 1 when all hold. */
static int batch_ok(const baton_host_batch *hb, int batch_tokens, int max_sentences)
{
    int S = 0, T = 0, st = 0, tt = 0, lay = 1;
    for (int b = 0; b < hb->B; b++) {
        S = hb->src_len[b] > S ? hb->src_len[b] : S;
        T = hb->tgt_len[b] > T ? hb->tgt_len[b] : T;
        st += hb->src_len[b];
        tt += hb->tgt_len[b];
        lay = lay && sentence_ok(hb, b);
    }
    int width = hb->S > hb->T ? hb->S : hb->T;
    return hb->B >= 1 && hb->B <= max_sentences && hb->B * width <= batch_tokens && S == hb->S && T == hb->T &&
           st == hb->src_tokens && tt == hb->tgt_tokens && lay;
}

/* ---- the generated corpus ------------------------------------------------------------------- */

enum { N_LINES = 3000, MAX_LEN = 20, MAX_WORDS = 22, WORDS = 60 };

typedef struct {
    char **src, **tgt; /* (N_LINES) */
    char src_path[128], tgt_path[128], tsv_path[128];
    baton_vocab sv, tv;
    tape expect;                     /* kept pairs as record_pairs writes them */
    long long empty, long_reader, long_stream, src_tokens, tgt_tokens;
} corpus;

static uint32_t rnd(uint32_t line, uint32_t k)
{
    return baton_rng_block(42, BATON_RNG_TEST | 7, line, k).v[0];
}

/* A line of n words w<k> (prefix p); some runs of two spaces, which whitespace mode collapses. */
static char *make_line(char p, int n, uint32_t line, uint32_t salt)
{
    char *s = tu_malloc((size_t)n * 8 + 1), *o = s;
    for (int i = 0; i < n; i++) {
        uint32_t r = rnd(line, salt + (uint32_t)i);
        if (i > 0)
            o += sprintf(o, (r >> 20) % 9 == 0 ? "  " : " ");
        o += sprintf(o, "%c%u", p, (r % WORDS) * (r % 3 + 1) / 2);
    }
    *o = '\0';
    return s;
}

/* Length of a line: mostly 1..16, a tail up to 24 (over max_len and max_words), some empty. */
static int make_len(uint32_t line, uint32_t salt)
{
    uint32_t r = rnd(line, salt);
    if (r % 41 == 0)
        return 0;
    return r % 11 == 0 ? 1 + (int)((r >> 8) % 24) : 1 + (int)((r >> 8) % 16);
}

static void write_lines(const char *path, char **a, char **b, int n)
{
    FILE *f = fopen(path, "w");
    for (int i = 0; f && i < n; i++)
        fprintf(f, b ? "%s\t%s\n" : "%s\n", a[i], b ? b[i] : "");
    if (!f || fclose(f) != 0) {
        printf("cannot write %s\n", path);
        exit(1);
    }
}

/* What the stream must keep and skip, encoded directly. */
static void expect_pairs(corpus *c)
{
    for (int i = 0; i < N_LINES; i++) {
        int ns = baton_vocab_encode(&c->sv, c->src[i], NULL, 0), nt = baton_vocab_encode(&c->tv, c->tgt[i], NULL, 0);
        if (!ns || !nt) {
            c->empty++;
            continue;
        }
        if (ns > MAX_WORDS || nt > MAX_WORDS) {
            c->long_reader++;
            continue;
        }
        if (ns > MAX_LEN || nt > MAX_LEN) {
            c->long_stream++;
            continue;
        }
        int ids[64];
        tape_push(&c->expect, ns);
        baton_vocab_encode(&c->sv, c->src[i], ids, ns);
        push_ints(&c->expect, ids, ns);
        tape_push(&c->expect, nt);
        baton_vocab_encode(&c->tv, c->tgt[i], ids, nt);
        push_ints(&c->expect, ids, nt);
        tape_close(&c->expect, 0);
        c->src_tokens += ns;
        c->tgt_tokens += nt + 1;
    }
}

static void corpus_make(corpus *c)
{
    memset(c, 0, sizeof *c);
    c->src = calloc(N_LINES, sizeof *c->src);
    c->tgt = calloc(N_LINES, sizeof *c->tgt);
    for (uint32_t i = 0; i < N_LINES; i++) {
        c->src[i] = make_line('a', make_len(i, 0), i, 100);
        c->tgt[i] = make_line('b', make_len(i, 1), i, 200);
    }
    snprintf(c->src_path, sizeof c->src_path, "%s/train.src", dir);
    snprintf(c->tgt_path, sizeof c->tgt_path, "%s/train.tgt", dir);
    snprintf(c->tsv_path, sizeof c->tsv_path, "%s/train.tsv", dir);
    write_lines(c->src_path, c->src, NULL, N_LINES);
    write_lines(c->tgt_path, c->tgt, NULL, N_LINES);
    write_lines(c->tsv_path, c->src, c->tgt, N_LINES);
    /* A source vocabulary too small for every word, so <unk> is part of what must match. */
    if (baton_vocab_build(&c->sv, c->src, N_LINES, 1, 40) != BATON_OK ||
        baton_vocab_build(&c->tv, c->tgt, N_LINES, 1, 0) != BATON_OK)
        exit(1);
    expect_pairs(c);
}

static void corpus_free(corpus *c)
{
    for (int i = 0; i < N_LINES; i++) {
        free(c->src[i]);
        free(c->tgt[i]);
    }
    free(c->src);
    free(c->tgt);
    baton_vocab_free(&c->sv);
    baton_vocab_free(&c->tv);
    tape_free(&c->expect);
}

static baton_stream_config config_of(const corpus *c, baton_subword *sw, uint64_t seed)
{
    baton_stream_config cfg = {.src_path = c->src_path, .tgt_path = c->tgt_path, .src_sw = sw, .tgt_sw = NULL,
                               .src_vocab = &c->sv, .tgt_vocab = &c->tv, .max_len = MAX_LEN, .batch_tokens = 120,
                               .max_sentences = 16, .chunk_pairs = 37, .seed = seed};
    cfg.reader.max_words = MAX_WORDS;
    return cfg;
}

static baton_stream *open_or_die(const baton_stream_config *cfg)
{
    baton_stream *s;
    if (baton_stream_open(&s, cfg) != BATON_OK) {
        printf("FAIL: cannot open the stream\n");
        exit(1);
    }
    return s;
}

/* Runs n batches (n < 0: to the end of the epoch) onto batches/pairs (either may be NULL) and
 * optionally the position before each; returns the batches run, or -1 on an error. */
static int run(baton_stream *s, baton_host_batch *hb, int n, tape *batches, tape *pairs, baton_stream_pos *pos,
               const baton_stream_config *cfg, int *bad_batches)
{
    int k = 0, ended = 0;
    while (n < 0 ? !ended : k < n) {
        if (pos)
            pos[k] = baton_stream_tell(s);
        if (baton_stream_next(s, hb, &ended) != BATON_OK)
            return -1;
        if (bad_batches && !batch_ok(hb, cfg->batch_tokens, cfg->max_sentences))
            (*bad_batches)++;
        if (batches)
            record_batch(batches, hb, ended);
        if (pairs)
            record_pairs(pairs, hb);
        k++;
    }
    return k;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_epochs(const corpus *c, baton_subword *sw)
{
    baton_stream_config cfg = config_of(c, sw, 7);
    baton_stream *s = open_or_die(&cfg);
    baton_host_batch hb;
    int S, T, B;
    baton_stream_limits(s, &S, &T, &B);
    CHECK(S == MAX_LEN && T == MAX_LEN + 1 && B == 16, "limits %d %d %d", S, T, B);
    CHECK(baton_stream_host_batch_alloc(s, &hb) == BATON_OK, "alloc");
    tape b0 = {0}, b1 = {0}, p0 = {0}, p1 = {0};
    int bad = 0;
    int n0 = run(s, &hb, -1, &b0, &p0, NULL, &cfg, &bad);
    baton_stream_counts k = baton_stream_counts_get(s, 1);
    baton_stream_pos after = baton_stream_tell(s);
    int n1 = run(s, &hb, -1, &b1, &p1, NULL, &cfg, &bad);
    printf("epoch 0: %d batches, %lld pairs kept of %lld lines, %lld empty, %lld long, %lld chunks\n", n0, k.pairs,
           k.lines, k.skipped_empty, k.skipped_long, k.chunks);
    CHECK(bad == 0, "%d batches break the budget or the layout", bad);
    CHECK(tape_same_multiset(&p0, &c->expect), "epoch 0 covers %zu pairs, expected %zu", p0.items, c->expect.items);
    CHECK(tape_same_multiset(&p1, &c->expect), "epoch 1 covers %zu pairs, expected %zu", p1.items, c->expect.items);
    long long reader_pairs = N_LINES - c->empty - c->long_reader;
    CHECK(k.lines == N_LINES && k.pairs == (long long)c->expect.items && k.skipped_empty == c->empty &&
              k.skipped_long == c->long_reader + c->long_stream && k.batches == n0 &&
              k.chunks == (reader_pairs + 36) / 37 && k.src_tokens == c->src_tokens &&
              k.tgt_tokens == c->tgt_tokens && !k.partial,
          "counts %lld %lld %lld %lld %lld %lld", k.lines, k.pairs, k.skipped_empty, k.skipped_long, k.batches,
          k.chunks);
    CHECK(c->long_reader > 0 && c->long_stream > 0 && c->empty > 0, "the corpus has every kind of skip");
    CHECK(after.epoch == 1 && after.chunk == 0 && after.batch == 0 && after.start.offset[0] == 0,
          "after the epoch: %d %lld %d", after.epoch, after.chunk, after.batch);
    int ended_flags = 0, same_order = n0 == n1;
    for (size_t i = 0; i < b0.items; i++)
        ended_flags += b0.flag[i];
    for (size_t i = 0; same_order && i < b0.items; i++)
        same_order = tape_same(&b0, i, &b1, i);
    CHECK(ended_flags == 1 && b0.flag[b0.items - 1] == 1, "epoch_ended only on the last batch");
    CHECK(!same_order, "epochs 0 and 1 give the same order");
    tape_free(&b0);
    tape_free(&b1);
    tape_free(&p0);
    tape_free(&p1);
    baton_host_batch_free(&hb);
    baton_stream_close(s);
}

/* The first n batches from a stream with seed and the given input paths. */
static void batches_of(const baton_stream_config *cfg, int n, tape *out)
{
    baton_stream *s = open_or_die(cfg);
    baton_host_batch hb;
    if (baton_stream_host_batch_alloc(s, &hb) != BATON_OK)
        exit(1);
    CHECK(run(s, &hb, n, out, NULL, NULL, cfg, NULL) == n, "ran %d batches", n);
    baton_host_batch_free(&hb);
    baton_stream_close(s);
}

static int tapes_equal(const tape *a, const tape *b)
{
    int same = a->items == b->items;
    for (size_t i = 0; same && i < a->items; i++)
        same = tape_same(a, i, b, i);
    return same;
}

static void test_seeds(const corpus *c, baton_subword *sw)
{
    tape a = {0}, b = {0}, d = {0}, t = {0};
    baton_stream_config cfg = config_of(c, sw, 7);
    batches_of(&cfg, 400, &a); /* past one epoch */
    batches_of(&cfg, 400, &b);
    CHECK(tapes_equal(&a, &b), "the same seed gives different streams");
    baton_stream_config tsv = cfg;
    tsv.src_path = c->tsv_path;
    tsv.tgt_path = NULL;
    batches_of(&tsv, 400, &t);
    CHECK(tapes_equal(&a, &t), "TSV input gives other batches than the aligned files");
    cfg.seed = 8;
    batches_of(&cfg, 400, &d);
    CHECK(!tapes_equal(&a, &d), "a different seed gives the same stream");
    tape_free(&a);
    tape_free(&b);
    tape_free(&d);
    tape_free(&t);
}

/* Field by field: the struct has padding, which memcmp would read. */
static int pos_equal(const baton_stream_pos *a, const baton_stream_pos *b)
{
    return a->epoch == b->epoch && a->chunk == b->chunk && a->batch == b->batch && a->config == b->config &&
           a->start.offset[0] == b->start.offset[0] && a->start.offset[1] == b->start.offset[1] &&
           a->start.line[0] == b->start.line[0] && a->start.line[1] == b->start.line[1];
}

/* Seeks a fresh stream to pos (through text) and compares its next 50 batches with run[k..]. */
static void check_resume(const baton_stream_config *cfg, const baton_stream_pos *pos, const tape *orig, int k,
                         const char *what)
{
    char text[BATON_STREAM_POS_TEXT_MAX];
    baton_stream_pos back;
    CHECK(baton_stream_pos_format(pos, text, sizeof text) == BATON_OK, "format");
    CHECK(baton_stream_pos_parse(&back, text) == BATON_OK && pos_equal(&back, pos),
          "%s: text round trip of \"%s\"", what, text);
    printf("resume %s at batch %d: %s\n", what, k, text);
    baton_stream *s = open_or_die(cfg);
    baton_host_batch hb;
    tape got = {0};
    CHECK(baton_stream_host_batch_alloc(s, &hb) == BATON_OK, "alloc");
    CHECK(baton_stream_seek(s, &back) == BATON_OK, "%s: seek", what);
    CHECK(run(s, &hb, 50, &got, NULL, NULL, cfg, NULL) == 50, "%s: run", what);
    int same = 1;
    for (int i = 0; i < 50 && same; i++)
        same = tape_same(orig, (size_t)(k + i), &got, (size_t)i);
    CHECK(same, "%s: batches after the resume differ", what);
    tape_free(&got);
    baton_host_batch_free(&hb);
    baton_stream_close(s);
}

static void test_resume(const corpus *c, baton_subword *sw)
{
    enum { RUN = 700 };
    baton_stream_config cfg = config_of(c, sw, 11);
    baton_stream *s = open_or_die(&cfg);
    baton_host_batch hb;
    tape orig = {0};
    baton_stream_pos *pos = malloc(RUN * sizeof *pos);
    CHECK(baton_stream_host_batch_alloc(s, &hb) == BATON_OK, "alloc");
    CHECK(run(s, &hb, RUN, &orig, NULL, pos, &cfg, NULL) == RUN, "original run");
    int boundary = -1, mid = -1, last = -1;
    for (int k = 1; k < RUN - 50; k++) {
        if (boundary < 0 && pos[k].chunk > 0 && pos[k].batch == 0)
            boundary = k;
        if (mid < 0 && k > 40 && pos[k].batch > 1)
            mid = k;
        if (last < 0 && orig.flag[k])
            last = k;
    }
    CHECK(boundary > 0 && mid > 0 && last > 0 && last + 51 < RUN, "positions found: %d %d %d", boundary, mid, last);
    if (boundary > 0 && mid > 0 && last > 0 && last + 51 < RUN) {
        check_resume(&cfg, &pos[0], &orig, 0, "the start");
        check_resume(&cfg, &pos[boundary], &orig, boundary, "a chunk boundary");
        check_resume(&cfg, &pos[mid], &orig, mid, "mid-chunk");
        check_resume(&cfg, &pos[last], &orig, last, "the last batch of epoch 0");
        check_resume(&cfg, &pos[last + 1], &orig, last + 1, "the start of epoch 1");
        check_resume(&cfg, &pos[last + 37], &orig, last + 37, "inside epoch 1");
    }
    free(pos);
    tape_free(&orig);
    baton_host_batch_free(&hb);
    baton_stream_close(s);
}

/* Expects open to fail with a message containing needle. */
static void expect_refused(const baton_stream_config *cfg, const char *needle, const char *what)
{
    baton_stream *s = NULL;
    baton_status st = baton_stream_open(&s, cfg);
    CHECK(st != BATON_OK && s == NULL && strstr(baton_error_last(), needle), "%s: status %d, message \"%s\"", what,
          (int)st, baton_error_last());
    baton_stream_close(s);
}

static void test_refused(const corpus *c)
{
    baton_stream_config good = config_of(c, NULL, 7), cfg = good;
    cfg.batch_tokens = MAX_LEN; /* a max-length target needs MAX_LEN + 1 with </s> */
    expect_refused(&cfg, "cannot hold one pair of max_len", "batch_tokens under one pair");
    cfg = good, cfg.max_sentences = -1;
    expect_refused(&cfg, "max_sentences -1", "negative max_sentences");
    cfg = good, cfg.chunk_pairs = -5;
    expect_refused(&cfg, "chunk_pairs -5", "negative chunk_pairs");
    cfg = good, cfg.tgt_vocab = NULL;
    expect_refused(&cfg, "vocabulary", "no vocabulary");
    cfg = good, cfg.src_path = "/nonexistent/train.de";
    expect_refused(&cfg, "/nonexistent/train.de", "missing file");
    char empty[128];
    snprintf(empty, sizeof empty, "%s/empty.tsv", dir);
    write_lines(empty, (char *[]){"", "  "}, (char *[]){"x", ""}, 2);
    cfg = good, cfg.src_path = empty, cfg.tgt_path = NULL;
    expect_refused(&cfg, "leaves no pair", "nothing left");
    baton_stream_pos p;
    const char *bad[] = {"", "stream1 epoch=0", "stream1 epoch=-1 chunk=0 batch=0 src=0:0 tgt=0:0 config=0000000000000001",
                         "stream1 epoch=0 chunk=0 batch=0 src=0:0 tgt=0:0 config=0000000000000001 ",
                         "stream1 epoch=0 chunk=0 batch=0 src=+0:0 tgt=0:0 config=0000000000000001",
                         "stream2 epoch=0 chunk=0 batch=0 src=0:0 tgt=0:0 config=0000000000000001"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(baton_stream_pos_parse(&p, bad[i]) != BATON_OK, "parsed \"%s\"", bad[i]);
    /* A position from another seed, or beyond the batches its chunk has, is refused by seek. */
    baton_stream *s = open_or_die(&good);
    cfg = good, cfg.seed = 99;
    baton_stream *other = open_or_die(&cfg);
    baton_stream_pos q = baton_stream_tell(other);
    CHECK(baton_stream_seek(s, &q) != BATON_OK && strstr(baton_error_last(), "another data configuration"),
          "foreign position: \"%s\"", baton_error_last());
    q = baton_stream_tell(s);
    q.batch = 1000;
    CHECK(baton_stream_seek(s, &q) != BATON_OK && strstr(baton_error_last(), "batch 1000"), "batch beyond: \"%s\"",
          baton_error_last());
    baton_host_batch hb;
    CHECK(baton_host_batch_alloc(&hb, MAX_LEN, MAX_LEN + 1, 16) == BATON_OK, "alloc");
    CHECK(baton_stream_next(s, &hb, NULL) != BATON_OK, "a failed seek stops the stream");
    q.batch = 0;
    CHECK(baton_stream_seek(s, &q) == BATON_OK && baton_stream_next(s, &hb, NULL) == BATON_OK, "a good seek resumes");
    baton_host_batch_free(&hb);
    baton_stream_close(other);
    baton_stream_close(s);
}

/* Epoch ends flagged on the right batch when the corpus ends exactly at a chunk boundary and when
 * its last chunk keeps no pair (all over max_len). */
static void test_edges(const corpus *c)
{
    char *src[] = {"a1 a2", "a3", "a4 a5 a6", "a7", "a1 a1 a1 a1 a1 a1", "a2 a2 a2 a2 a2 a2"};
    char *tgt[] = {"b1", "b2 b3", "b4", "b5 b6", "b1", "b2"};
    char path[128];
    snprintf(path, sizeof path, "%s/edges.tsv", dir);
    for (int lines = 4; lines <= 6; lines += 2) { /* 4: ends at a chunk boundary; 6: a last chunk of long pairs */
        write_lines(path, src, tgt, lines);
        baton_stream_config cfg = config_of(c, NULL, 3);
        cfg.src_path = path, cfg.tgt_path = NULL, cfg.chunk_pairs = 2, cfg.max_len = 5, cfg.batch_tokens = 6;
        baton_stream *s = open_or_die(&cfg);
        baton_host_batch hb;
        tape b = {0};
        CHECK(baton_stream_host_batch_alloc(s, &hb) == BATON_OK, "alloc");
        int n0 = run(s, &hb, -1, &b, NULL, NULL, &cfg, NULL), n1 = run(s, &hb, -1, &b, NULL, NULL, &cfg, NULL);
        baton_stream_counts k = baton_stream_counts_get(s, 1);
        CHECK(n0 == n1 && n0 >= 2 && k.pairs == 4 && k.skipped_long == lines - 4 && k.batches == n1 &&
                  k.chunks == lines / 2,
              "%d lines: epochs of %d and %d batches, %lld pairs, %lld long, %lld chunks", lines, n0, n1, k.pairs,
              k.skipped_long, k.chunks);
        tape_free(&b);
        baton_host_batch_free(&hb);
        baton_stream_close(s);
    }
}

/* ---- Multi30k ------------------------------------------------------------------------------- */

static void test_multi30k(void)
{
    char de[512], en[512];
    snprintf(de, sizeof de, "%s/data/multi30k/train.de", BATON_SHARED_DIR);
    snprintf(en, sizeof en, "%s/data/multi30k/train.en", BATON_SHARED_DIR);
    if (access(de, R_OK) != 0 || access(en, R_OK) != 0) {
        printf("skipping the Multi30k part: %s not found\n", de);
        return;
    }
    baton_pairs p;
    baton_vocab sv, tv;
    if (baton_text_read_pairs(&p, de, en) != BATON_OK || baton_vocab_build(&sv, p.src, p.n, 2, 0) != BATON_OK ||
        baton_vocab_build(&tv, p.tgt, p.n, 2, 0) != BATON_OK)
        exit(1);
    tape expect = {0}, got = {0};
    int ids[512];
    for (int i = 0; i < p.n; i++) {
        int ns = baton_vocab_encode(&sv, p.src[i], ids, 512);
        tape_push(&expect, ns);
        push_ints(&expect, ids, ns);
        int nt = baton_vocab_encode(&tv, p.tgt[i], ids, 512);
        tape_push(&expect, nt);
        push_ints(&expect, ids, nt);
        tape_close(&expect, 0);
    }
    baton_stream_config cfg = {.src_path = de, .tgt_path = en, .src_vocab = &sv, .tgt_vocab = &tv, .max_len = 100,
                               .batch_tokens = 4096, .max_sentences = 128, .seed = 1};
    baton_stream *s = open_or_die(&cfg);
    baton_host_batch hb;
    int bad = 0;
    CHECK(baton_stream_host_batch_alloc(s, &hb) == BATON_OK, "alloc");
    int n = run(s, &hb, -1, NULL, &got, NULL, &cfg, &bad);
    baton_stream_counts k = baton_stream_counts_get(s, 1);
    printf("Multi30k train: %d batches, %lld pairs, %lld + %lld tokens, %lld chunk(s)\n", n, k.pairs, k.src_tokens,
           k.tgt_tokens, k.chunks);
    CHECK(p.n == 29000 && k.pairs == 29000 && k.lines == 29000 && k.chunks == 1 && k.batches == n && bad == 0,
          "pairs %lld lines %lld chunks %lld", k.pairs, k.lines, k.chunks);
    CHECK(tape_same_multiset(&got, &expect), "Multi30k: %zu pairs in batches, expected %zu", got.items, expect.items);
    tape_free(&expect);
    tape_free(&got);
    baton_host_batch_free(&hb);
    baton_stream_close(s);
    baton_vocab_free(&sv);
    baton_vocab_free(&tv);
    baton_pairs_free(&p);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/baton_stream_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    corpus c;
    corpus_make(&c);
    baton_subword *ws;
    if (baton_subword_open(&ws, NULL) != BATON_OK)
        return 1;
    test_epochs(&c, ws);
    test_seeds(&c, ws);
    test_resume(&c, ws);
    test_refused(&c);
    test_edges(&c);
    test_multi30k();
    baton_subword_close(ws);
    corpus_free(&c);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("could not remove %s\n", dir);
    return tu_summary(&rep, "stream");
}
