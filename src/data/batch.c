/* batch.c: sentence pairs -> length-bucketed, padded, time-major batches (see batch.h).
 *
 * Readings of the contract that batch.h leaves open:
 * - max_len bounds the tokens of each sentence as written (without </s>); max_tgt, like the model's
 *   tgt_len, counts the </s> that the target gains, so it can be max_len + 1.
 * - A pair whose target alone (with </s>) exceeds max_tokens still forms a batch of one: dropping it
 *   silently would lose data the corpus already chose to keep.
 * - baton_batching_pick is a keyed bijection on 0..count-1 (a Feistel network with cycle walking,
 *   keyed from Philox(seed, BATON_RNG_DATA | 1, epoch)), not a Fisher-Yates shuffle: the header
 *   keeps no per-epoch state, and this costs O(1) expected per call instead of O(count). It looks
 *   uniform but does not reach every permutation with equal probability. It returns -1 for k outside
 *   0..count-1. */
#include "baton/batch.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "baton/rng.h"

void baton_corpus_free(baton_corpus *c)
{
    free(c->src_off);
    free(c->tgt_off);
    free(c->src_ids);
    free(c->tgt_ids);
    memset(c, 0, sizeof *c);
}

baton_status baton_corpus_encode(baton_corpus *c, const baton_vocab *src_vocab, const baton_vocab *tgt_vocab,
                                 char *const *src, char *const *tgt, int n, int max_len)
{
    memset(c, 0, sizeof *c);
    BATON_REQUIRE(src_vocab && tgt_vocab && src_vocab->size >= BATON_SPECIALS && tgt_vocab->size >= BATON_SPECIALS,
                  "corpus: expected two built or loaded vocabularies");
    BATON_REQUIRE(n >= 0 && (n == 0 || (src && tgt)), "corpus: expected n >= 0 pairs and both sides, got n = %d", n);
    BATON_REQUIRE(max_len >= 1, "corpus: max_len is %d, expected >= 1", max_len);
    BATON_REQUIRE(max_len < INT_MAX, "corpus: max_len %d leaves no room for </s>", max_len);
    /* Pass 1 counts tokens only (encode with max 0 looks nothing up), so the id arrays are allocated
     * once at their final size. */
    for (int i = 0; i < n; i++)
        BATON_REQUIRE(src[i] && tgt[i], "corpus: pair %d has a NULL side", i);
    long long src_total = 0, tgt_total = 0;
    int kept = 0;
    for (int i = 0; i < n; i++) {
        int ns = baton_vocab_encode(src_vocab, src[i], NULL, 0);
        int nt = baton_vocab_encode(tgt_vocab, tgt[i], NULL, 0);
        if (ns == 0 || nt == 0) {
            c->skipped_empty++;
        } else if (ns > max_len || nt > max_len) {
            c->skipped_long++;
        } else {
            kept++;
            src_total += ns;
            tgt_total += nt;
        }
    }
    int skipped_empty = c->skipped_empty, skipped_long = c->skipped_long;
    if (src_total > INT_MAX || tgt_total > INT_MAX) {
        memset(c, 0, sizeof *c);
        return BATON_ERROR(BATON_ERR_INVALID, "corpus: %lld source / %lld target tokens exceed the int offsets (%d)",
                           src_total, tgt_total, INT_MAX);
    }
    c->src_off = malloc(((size_t)kept + 1) * sizeof *c->src_off);
    c->tgt_off = malloc(((size_t)kept + 1) * sizeof *c->tgt_off);
    c->src_ids = malloc(((size_t)src_total + 1) * sizeof *c->src_ids);
    c->tgt_ids = malloc(((size_t)tgt_total + 1) * sizeof *c->tgt_ids);
    if (!c->src_off || !c->tgt_off || !c->src_ids || !c->tgt_ids) {
        baton_corpus_free(c);
        return BATON_ERROR(BATON_ERR_OOM, "corpus: cannot allocate %d pairs of %lld + %lld tokens", kept, src_total,
                           tgt_total);
    }
    c->skipped_empty = skipped_empty;
    c->skipped_long = skipped_long;
    c->src_off[0] = c->tgt_off[0] = 0;
    int k = 0;
    for (int i = 0; i < n; i++) {
        int so = c->src_off[k], to = c->tgt_off[k];
        int ns = baton_vocab_encode(src_vocab, src[i], NULL, 0);
        int nt = baton_vocab_encode(tgt_vocab, tgt[i], NULL, 0);
        if (ns == 0 || nt == 0 || ns > max_len || nt > max_len)
            continue;
        baton_vocab_encode(src_vocab, src[i], c->src_ids + so, ns);
        baton_vocab_encode(tgt_vocab, tgt[i], c->tgt_ids + to, nt);
        c->src_off[k + 1] = so + ns;
        c->tgt_off[k + 1] = to + nt;
        if (ns > c->max_src)
            c->max_src = ns;
        if (nt + 1 > c->max_tgt)
            c->max_tgt = nt + 1;
        k++;
    }
    c->n = kept;
    return BATON_OK;
}

/* ---- batching ------------------------------------------------------------------------------ */

typedef struct {
    int tgt, src, index;
} pair_key;

/* (target length, source length, index): a total order, so qsort's instability cannot show. */
static int pair_order(const void *pa, const void *pb)
{
    const pair_key *a = pa, *b = pb;
    if (a->tgt != b->tgt)
        return a->tgt < b->tgt ? -1 : 1;
    if (a->src != b->src)
        return a->src < b->src ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

void baton_batching_free(baton_batching *bt)
{
    free(bt->first);
    free(bt->size);
    free(bt->order);
    memset(bt, 0, sizeof *bt);
}

baton_status baton_batching_make(baton_batching *bt, const baton_corpus *c, int max_sentences, int max_tokens)
{
    memset(bt, 0, sizeof *bt);
    BATON_REQUIRE(max_sentences >= 1, "batching: max_sentences is %d, expected >= 1", max_sentences);
    BATON_REQUIRE(c->n >= 0, "batching: corpus has %d pairs", c->n);
    size_t n = (size_t)c->n;
    pair_key *keys = malloc((n ? n : 1) * sizeof *keys);
    bt->order = malloc((n ? n : 1) * sizeof *bt->order);
    bt->first = malloc((n ? n : 1) * sizeof *bt->first);
    bt->size = malloc((n ? n : 1) * sizeof *bt->size);
    if (!keys || !bt->order || !bt->first || !bt->size) {
        free(keys);
        baton_batching_free(bt);
        return BATON_ERROR(BATON_ERR_OOM, "batching: cannot allocate for %d pairs", c->n);
    }
    for (int i = 0; i < c->n; i++)
        keys[i] = (pair_key){c->tgt_off[i + 1] - c->tgt_off[i] + 1, c->src_off[i + 1] - c->src_off[i], i};
    qsort(keys, n, sizeof *keys, pair_order);
    /* Targets ascend along the order, so a batch's longest target is its last pair's, and a run can
     * be cut greedily: adding a pair never shrinks the padded size of what came before. */
    int i = 0;
    while (i < c->n) {
        int first = i, size = 0;
        while (i < c->n && size < max_sentences &&
               (size == 0 || max_tokens <= 0 || (long long)(size + 1) * keys[i].tgt <= max_tokens)) {
            bt->order[i] = keys[i].index;
            size++;
            i++;
        }
        bt->first[bt->count] = first;
        bt->size[bt->count] = size;
        bt->count++;
    }
    free(keys);
    return BATON_OK;
}

/* Murmur3's 32-bit finalizer: full avalanche, so one multiply-xorshift chain serves as a round. */
static uint32_t fmix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

enum { FEISTEL_ROUNDS = 8 }; /* a multiple of 4: one Philox block keys four rounds */

int baton_batching_pick(const baton_batching *bt, uint64_t seed, int epoch, int k)
{
    if (k < 0 || k >= bt->count)
        return -1;
    uint32_t n = (uint32_t)bt->count;
    /* A balanced Feistel network permutes 0..4^half-1; the smallest such domain holding count is at
     * most 4*count, so cycle walking (re-encrypting until the value lands below count) takes at most
     * 4 passes through the network on average, and always ends, since k's own cycle contains k. */
    int half = 1;
    while (((uint64_t)1 << (2 * half)) < n)
        half++;
    uint32_t mask = (uint32_t)(((uint64_t)1 << half) - 1);
    uint32_t keys[FEISTEL_ROUNDS];
    for (int b = 0; b < FEISTEL_ROUNDS / 4; b++) {
        baton_u32x4 r = baton_rng_block(seed, BATON_RNG_DATA | 1u, (uint32_t)epoch, (uint64_t)b);
        for (int j = 0; j < 4; j++)
            keys[4 * b + j] = r.v[j];
    }
    uint64_t x = (uint64_t)k;
    do {
        uint32_t left = (uint32_t)(x >> half), right = (uint32_t)x & mask;
        for (int r = 0; r < FEISTEL_ROUNDS; r++) {
            uint32_t next = left ^ (fmix32(right ^ keys[r]) & mask);
            left = right;
            right = next;
        }
        x = ((uint64_t)left << half) | right;
    } while (x >= n);
    return (int)x;
}

/* ---- host batches -------------------------------------------------------------------------- */

baton_status baton_host_batch_alloc(baton_host_batch *hb, int S_max, int T_max, int B_max)
{
    memset(hb, 0, sizeof *hb);
    BATON_REQUIRE(S_max >= 1 && T_max >= 1 && B_max >= 1,
                  "host batch: expected S_max, T_max, B_max >= 1, got %d, %d, %d", S_max, T_max, B_max);
    size_t sb = (size_t)S_max * (size_t)B_max, tb = (size_t)T_max * (size_t)B_max;
    size_t ints = sb + (size_t)B_max + 2 * tb + (size_t)B_max;
    BATON_REQUIRE(ints < SIZE_MAX / sizeof(int), "host batch: %d x %d x %d is too large to allocate", S_max,
                  T_max, B_max);
    int *p = malloc(ints * sizeof(int)); /* one block for the five arrays */
    if (!p)
        return BATON_ERROR(BATON_ERR_OOM, "host batch: cannot allocate for S %d, T %d, B %d", S_max, T_max, B_max);
    hb->S_max = S_max, hb->T_max = T_max, hb->B_max = B_max;
    hb->src = p;
    p += sb;
    hb->src_len = p;
    p += B_max;
    hb->tgt_in = p;
    p += tb;
    hb->tgt_out = p;
    p += tb;
    hb->tgt_len = p;
    return BATON_OK;
}

void baton_host_batch_free(baton_host_batch *hb)
{
    free(hb->src);
    memset(hb, 0, sizeof *hb);
}

baton_status baton_host_batch_fill(baton_host_batch *hb, const baton_corpus *c, const baton_batching *bt, int index)
{
    BATON_REQUIRE(hb->src, "host batch: expected arrays from baton_host_batch_alloc");
    BATON_REQUIRE(index >= 0 && index < bt->count, "host batch: batch index %d, expected 0..%d", index,
                  bt->count - 1);
    int first = bt->first[index], B = bt->size[index];
    int S = 0, T = 0;
    for (int b = 0; b < B; b++) {
        int p = bt->order[first + b];
        BATON_REQUIRE(p >= 0 && p < c->n, "host batch: batch %d names pair %d, but the corpus has %d", index, p,
                      c->n);
        int ns = c->src_off[p + 1] - c->src_off[p], nt = c->tgt_off[p + 1] - c->tgt_off[p] + 1;
        S = ns > S ? ns : S;
        T = nt > T ? nt : T;
    }
    BATON_REQUIRE(B <= hb->B_max && S <= hb->S_max && T <= hb->T_max,
                  "host batch: batch %d needs B %d, S %d, T %d (target with </s>), but the arrays hold at most B %d, "
                  "S %d, T %d",
                  index, B, S, T, hb->B_max, hb->S_max, hb->T_max);
    memset(hb->src, 0, (size_t)S * (size_t)B * sizeof *hb->src);
    memset(hb->tgt_in, 0, (size_t)T * (size_t)B * sizeof *hb->tgt_in);
    memset(hb->tgt_out, 0, (size_t)T * (size_t)B * sizeof *hb->tgt_out);
    hb->B = B;
    hb->S = S;
    hb->T = T;
    hb->src_tokens = hb->tgt_tokens = 0;
    for (int b = 0; b < B; b++) {
        int p = bt->order[first + b];
        const int *x = c->src_ids + c->src_off[p], *y = c->tgt_ids + c->tgt_off[p];
        int ns = c->src_off[p + 1] - c->src_off[p], ny = c->tgt_off[p + 1] - c->tgt_off[p];
        for (int s = 0; s < ns; s++)
            hb->src[(size_t)s * B + b] = x[s];
        hb->tgt_in[b] = BATON_BOS;
        for (int t = 0; t < ny; t++) {
            hb->tgt_in[(size_t)(t + 1) * B + b] = y[t];
            hb->tgt_out[(size_t)t * B + b] = y[t];
        }
        hb->tgt_out[(size_t)ny * B + b] = BATON_EOS;
        hb->src_len[b] = ns;
        hb->tgt_len[b] = ny + 1;
        hb->src_tokens += ns;
        hb->tgt_tokens += ny + 1;
    }
    return BATON_OK;
}
