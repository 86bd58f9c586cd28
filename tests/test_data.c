/* test_data.c: the data pipeline on the host: vocabulary building (cutoff, size limit, order),
 * encode/decode with unknown tokens, save/load and the load errors on corrupted files, corpus
 * encoding with its skip counts, the batching invariants (every kept pair exactly once, the limits,
 * the bucket order), the per-epoch batch permutation, and one hand-made batch whose time-major
 * arrays are spelled out. All checks are exact: err 0 passes, 1 fails. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "baton/batch.h"
#include "baton/rng.h"
#include "baton/vocab.h"
#include "testutil.h"

static int check(tu_report *r, const char *name, int ok)
{
    return tu_check_abs(r, name, ok ? 0.0 : 1.0, 0.0);
}

static int ints_equal(const int *a, const int *b, int n)
{
    for (int i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

static int vocab_equal(const baton_vocab *a, const baton_vocab *b)
{
    if (a->size != b->size)
        return 0;
    for (int i = 0; i < a->size; i++)
        if (strcmp(a->tokens[i], b->tokens[i]) != 0)
            return 0;
    return 1;
}

static int id_of(const baton_vocab *v, const char *tok)
{
    return baton_vocab_id(v, tok, strlen(tok));
}

static void test_vocab_build(tu_report *r)
{
    /* counts: a 3, b 2, c d e 1; the specials in the text are not counted */
    char *text[] = {"a b c a", "\tb a  d\t", "e </s> <unk>", "", "   "};
    char *shuffled[] = {"   ", "e </s> <unk>", "\tb a  d\t", "", "a b c a"};
    baton_vocab v, w;
    int ok = baton_vocab_build(&v, text, 5, 1, 0) == BATON_OK;
    const char *want[] = {"<pad>", "<unk>", "<s>", "</s>", "a", "b", "c", "d", "e"};
    int order = ok && v.size == 9;
    for (int i = 0; order && i < 9; i++)
        order = strcmp(v.tokens[i], want[i]) == 0;
    check(r, "vocab: specials at 0..3, then count desc, bytes asc", order);
    check(r, "vocab: id lookups and <unk> for unseen", ok && id_of(&v, "a") == 4 && id_of(&v, "e") == 8 &&
                                                           id_of(&v, "zzz") == BATON_UNK &&
                                                           id_of(&v, "</s>") == BATON_EOS &&
                                                           baton_vocab_id(&v, "ab", 1) == 4);
    ok = baton_vocab_build(&w, shuffled, 5, 1, 0) == BATON_OK;
    check(r, "vocab: same vocabulary from the sentences in another order", ok && vocab_equal(&v, &w));
    baton_vocab_free(&w);

    ok = baton_vocab_build(&w, text, 5, 2, 0) == BATON_OK;
    check(r, "vocab: min_count 2 keeps a, b", ok && w.size == 6 && strcmp(w.tokens[5], "b") == 0 &&
                                                   id_of(&w, "c") == BATON_UNK);
    baton_vocab_free(&w);
    ok = baton_vocab_build(&w, text, 5, 1, 6) == BATON_OK;
    check(r, "vocab: max_size 6 counts the specials", ok && w.size == 6 && id_of(&w, "b") == 5);
    baton_vocab_free(&w);
    ok = baton_vocab_build(&w, text, 5, 1, 4) == BATON_OK;
    check(r, "vocab: max_size 4 holds only the specials", ok && w.size == 4);
    baton_vocab_free(&w);
    check(r, "vocab: max_size 3 is rejected", baton_vocab_build(&w, text, 5, 1, 3) == BATON_ERR_INVALID);
    ok = baton_vocab_build(&w, text, 0, 1, 0) == BATON_OK;
    check(r, "vocab: no sentences gives the specials", ok && w.size == 4);
    baton_vocab_free(&w);

    /* encode: unknown and literal specials become <unk>; the count may exceed max */
    int ids[8];
    for (int i = 0; i < 8; i++)
        ids[i] = -9;
    int n = baton_vocab_encode(&v, "  a zzz\tb <s>  ", ids, 8);
    const int want_ids[] = {4, BATON_UNK, 5, BATON_UNK, -9};
    check(r, "vocab: encode with unknown tokens", n == 4 && ints_equal(ids, want_ids, 5));
    for (int i = 0; i < 8; i++)
        ids[i] = -9;
    n = baton_vocab_encode(&v, "a b c d e", ids, 2);
    const int want_cut[] = {4, 5, -9};
    check(r, "vocab: encode returns the full count, writes only max ids", n == 5 && ints_equal(ids, want_cut, 3));
    check(r, "vocab: encode of blank text is 0 tokens",
          baton_vocab_encode(&v, " \t ", ids, 8) == 0 && baton_vocab_encode(&v, "", NULL, 0) == 0);

    /* decode: skip <pad> and <s>, stop at </s>, out-of-range ids as <unk>; snprintf-style truncation */
    char out[64];
    const int dec[] = {BATON_BOS, 4, BATON_UNK, BATON_PAD, 5, 99, BATON_EOS, 6};
    size_t need = baton_vocab_decode(&v, dec, 8, out, sizeof out);
    check(r, "vocab: decode skips <pad>/<s>, stops at </s>", need == 15 && strcmp(out, "a <unk> b <unk>") == 0);
    char small[5];
    need = baton_vocab_decode(&v, dec, 8, small, sizeof small);
    check(r, "vocab: decode truncates and returns the needed length", need == 15 && strcmp(small, "a <u") == 0);
    check(r, "vocab: decode into nothing", baton_vocab_decode(&v, dec, 8, NULL, 0) == 15);
    n = baton_vocab_encode(&v, "e  d\tc b a", ids, 8);
    baton_vocab_decode(&v, ids, n, out, sizeof out);
    check(r, "vocab: encode/decode round trip", n == 5 && strcmp(out, "e d c b a") == 0);
    n = baton_vocab_encode(&v, "a never seen b", ids, 8);
    baton_vocab_decode(&v, ids, n, out, sizeof out);
    check(r, "vocab: round trip with unknown tokens", strcmp(out, "a <unk> <unk> b") == 0);
    baton_vocab_free(&v);
    check(r, "vocab: free leaves an empty vocabulary", v.size == 0 && v.tokens == NULL && v.slots == NULL);
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return 0;
    int ok = fputs(text, f) != EOF;
    return fclose(f) == 0 && ok;
}

static void test_vocab_files(tu_report *r)
{
    char dir[] = "/tmp/baton_test_data_XXXXXX";
    if (!mkdtemp(dir)) {
        check(r, "vocab files: mkdtemp", 0);
        return;
    }
    char path[128], tmp[sizeof path + 8];
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);

    /* enough distinct tokens that the hash table grows while loading */
    enum { WORDS = 300 };
    char *sent[WORDS];
    for (int i = 0; i < WORDS; i++) {
        sent[i] = malloc(64);
        snprintf(sent[i], 64, "w%d w%d x", i, i % 7);
    }
    baton_vocab v, w;
    int ok = baton_vocab_build(&v, sent, WORDS, 1, 0) == BATON_OK;
    ok = ok && write_file(path, "stale contents\n") && baton_vocab_save(&v, path) == BATON_OK;
    check(r, "vocab files: save replaces the file, leaves no .tmp", ok && access(tmp, F_OK) != 0);
    ok = ok && baton_vocab_load(&w, path) == BATON_OK;
    int same = ok && vocab_equal(&v, &w);
    for (int i = 0; same && i < v.size; i++)
        same = id_of(&w, v.tokens[i]) == i;
    check(r, "vocab files: load gives the saved tokens and ids", same && w.size == WORDS + 4 + 1);
    baton_vocab_free(&w);

    static const struct {
        const char *name, *text;
        baton_status want;
    } bad[] = {
        {"missing special", "<pad>\n<s>\n</s>\na\n", BATON_ERR_FORMAT},
        {"specials out of order", "<unk>\n<pad>\n<s>\n</s>\n", BATON_ERR_FORMAT},
        {"duplicate token", "<pad>\n<unk>\n<s>\n</s>\na\nb\na\n", BATON_ERR_FORMAT},
        {"duplicate special", "<pad>\n<unk>\n<s>\n</s>\n<unk>\n", BATON_ERR_FORMAT},
        {"empty line", "<pad>\n<unk>\n<s>\n</s>\na\n\nb\n", BATON_ERR_FORMAT},
        {"token with a space", "<pad>\n<unk>\n<s>\n</s>\na b\n", BATON_ERR_FORMAT},
        {"CRLF line", "<pad>\r\n<unk>\r\n<s>\r\n</s>\r\n", BATON_ERR_FORMAT},
        {"file ends inside the specials", "<pad>\n<unk>\n", BATON_ERR_FORMAT},
        {"empty file", "", BATON_ERR_FORMAT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[128];
        snprintf(name, sizeof name, "vocab files: load rejects a %s with '%s'", bad[i].name,
                 baton_status_name(bad[i].want));
        ok = write_file(path, bad[i].text);
        baton_status st = baton_vocab_load(&w, path);
        check(r, name, ok && st == bad[i].want && w.size == 0 && w.tokens == NULL);
    }
    ok = write_file(path, "<pad>\n<unk>\n<s>\n</s>\nlast");
    ok = ok && baton_vocab_load(&w, path) == BATON_OK;
    check(r, "vocab files: last line without a newline is accepted", ok && w.size == 5 && id_of(&w, "last") == 4);
    baton_vocab_free(&w);
    remove(path);
    check(r, "vocab files: a missing file is an i/o error", baton_vocab_load(&w, path) == BATON_ERR_IO);
    char nodir[300];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/vocab.txt", dir);
    check(r, "vocab files: saving into a missing directory is an i/o error", baton_vocab_save(&v, nodir) == BATON_ERR_IO);

    baton_vocab_free(&v);
    for (int i = 0; i < WORDS; i++)
        free(sent[i]);
    rmdir(dir);
}

static void test_corpus(tu_report *r)
{
    char *src[] = {"a b", "", "a b c d", "c", "a", "d d d", "b"};
    char *tgt[] = {"x", "x", "x", "  ", "x y z w", "x y", "y x z"};
    baton_vocab sv, tv;
    baton_corpus c;
    int ok = baton_vocab_build(&sv, src, 7, 1, 0) == BATON_OK && baton_vocab_build(&tv, tgt, 7, 1, 0) == BATON_OK;
    /* max_len 3: pair 1 (empty source), pair 3 (blank target) are empty; 2 and 4 are too long */
    ok = ok && baton_corpus_encode(&c, &sv, &tv, src, tgt, 7, 3) == BATON_OK;
    check(r, "corpus: kept and skipped counts",
          ok && c.n == 3 && c.skipped_empty == 2 && c.skipped_long == 2);
    /* src vocab: a 3, b 3, c 2, d 4 -> d a b c = 4 5 6 7; tgt: x 6, y 3, z 2, w 1 -> x y z w = 4 5 6 7 */
    const int src_off[] = {0, 2, 5, 6}, tgt_off[] = {0, 1, 3, 6};
    const int src_ids[] = {5, 6, 4, 4, 4, 6}, tgt_ids[] = {4, 4, 5, 5, 4, 6};
    check(r, "corpus: offsets and ids of the kept pairs",
          ok && ints_equal(c.src_off, src_off, 4) && ints_equal(c.tgt_off, tgt_off, 4) &&
              ints_equal(c.src_ids, src_ids, 6) && ints_equal(c.tgt_ids, tgt_ids, 6));
    check(r, "corpus: max_src, and max_tgt counting </s>", ok && c.max_src == 3 && c.max_tgt == 4);
    baton_corpus_free(&c);
    check(r, "corpus: max_len 0 is rejected",
          baton_corpus_encode(&c, &sv, &tv, src, tgt, 7, 0) == BATON_ERR_INVALID && c.n == 0);
    baton_vocab_free(&sv);
    baton_vocab_free(&tv);
}

/* A random corpus: n pairs of 0..max_words words drawn from a small alphabet. */
static char **random_side(int n, int max_words, uint32_t k)
{
    char **s = malloc((size_t)n * sizeof *s);
    for (int i = 0; i < n; i++) {
        int words = (int)(baton_rng_uniform(11, BATON_RNG_TEST | k, (uint32_t)i, 0) * (float)(max_words + 1));
        s[i] = tu_malloc((size_t)words * 4 + 1);
        char *p = s[i];
        for (int w = 0; w < words; w++) {
            int letter = (int)(baton_rng_uniform(11, BATON_RNG_TEST | k, (uint32_t)i, (uint64_t)w + 1) * 20.0f);
            p += sprintf(p, "%s%c%c", w ? " " : "", 'a' + letter, 'a' + letter % 3);
        }
        *p = '\0';
    }
    return s;
}

static void free_side(char **s, int n)
{
    for (int i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

static int tgt_len(const baton_corpus *c, int p)
{
    return c->tgt_off[p + 1] - c->tgt_off[p] + 1;
}

static int src_len(const baton_corpus *c, int p)
{
    return c->src_off[p + 1] - c->src_off[p];
}

/* Invariants of a batching of c under (max_sentences, max_tokens). */
static void check_batching(tu_report *r, const char *label, const baton_corpus *c, const baton_batching *bt,
                           int max_sentences, int max_tokens)
{
    char name[160];
    int *seen = calloc((size_t)c->n + 1, sizeof *seen);
    int once = 1, contiguous = 1, limits = 1, sorted = 1, greedy = 1, next = 0;
    for (int b = 0; b < bt->count; b++) {
        contiguous &= bt->first[b] == next;
        int size = bt->size[b], longest = 0;
        next += size;
        for (int i = bt->first[b]; i < bt->first[b] + size && i < c->n; i++) {
            int p = bt->order[i];
            if (p < 0 || p >= c->n || seen[p]++)
                once = 0;
            else if (tgt_len(c, p) > longest)
                longest = tgt_len(c, p);
        }
        limits &= size >= 1 && size <= max_sentences &&
                  (max_tokens <= 0 || size == 1 || (long long)size * longest <= max_tokens);
        /* greedy cut: the next pair did not fit into this batch */
        if (b + 1 < bt->count && next < c->n) {
            int t = tgt_len(c, bt->order[next]);
            greedy &= size == max_sentences || (max_tokens > 0 && (long long)(size + 1) * t > max_tokens);
        }
    }
    for (int p = 0; p < c->n; p++)
        once &= seen[p] == 1;
    for (int i = 1; i < c->n && once; i++) {
        int a = bt->order[i - 1], b = bt->order[i];
        int ka[3] = {tgt_len(c, a), src_len(c, a), a}, kb[3] = {tgt_len(c, b), src_len(c, b), b};
        sorted &= ka[0] < kb[0] || (ka[0] == kb[0] && (ka[1] < kb[1] || (ka[1] == kb[1] && ka[2] < kb[2])));
    }
    snprintf(name, sizeof name, "%s: every kept pair exactly once", label);
    check(r, name, once && contiguous && next == c->n);
    snprintf(name, sizeof name, "%s: at most %d sentences and %d padded target tokens", label, max_sentences,
             max_tokens);
    check(r, name, limits);
    snprintf(name, sizeof name, "%s: order by (target, source, index), cut greedily", label);
    check(r, name, sorted && greedy);
    free(seen);
}

static int is_permutation(const baton_batching *bt, uint64_t seed, int epoch, int *out)
{
    int *hit = calloc((size_t)bt->count, sizeof *hit), ok = 1;
    for (int k = 0; k < bt->count; k++) {
        int b = baton_batching_pick(bt, seed, epoch, k);
        if (out)
            out[k] = b;
        if (b < 0 || b >= bt->count || hit[b]++)
            ok = 0;
    }
    free(hit);
    return ok;
}

static void test_batching(tu_report *r)
{
    enum { N = 600 };
    char **src = random_side(N, 30, 1), **tgt = random_side(N, 30, 2);
    baton_vocab sv, tv;
    baton_corpus c;
    baton_batching bt;
    int ok = baton_vocab_build(&sv, src, N, 1, 0) == BATON_OK && baton_vocab_build(&tv, tgt, N, 2, 0) == BATON_OK &&
             baton_corpus_encode(&c, &sv, &tv, src, tgt, N, 25) == BATON_OK;
    int empty = 0, longs = 0;
    for (int i = 0; i < N; i++) {
        int ns = baton_vocab_encode(&sv, src[i], NULL, 0), nt = baton_vocab_encode(&tv, tgt[i], NULL, 0);
        if (ns == 0 || nt == 0)
            empty++;
        else if (ns > 25 || nt > 25)
            longs++;
    }
    check(r, "batching corpus: skip counts add up", ok && c.skipped_empty == empty && c.skipped_long == longs &&
                                                        c.n + empty + longs == N && c.n > 300);

    static const int limits[][2] = {{16, 200}, {16, 0}, {1, 0}, {64, 5}, {1000, 100000}};
    for (size_t L = 0; ok && L < sizeof limits / sizeof limits[0]; L++) {
        char label[64];
        snprintf(label, sizeof label, "batching (%d, %d)", limits[L][0], limits[L][1]);
        ok = baton_batching_make(&bt, &c, limits[L][0], limits[L][1]) == BATON_OK;
        check_batching(r, label, &c, &bt, limits[L][0], limits[L][1]);
        if (limits[L][1] == 5) { /* limits above then also covered pairs longer than the token limit */
            int over = 0;
            for (int b = 0; b < bt.count; b++)
                over += bt.size[b] == 1 && tgt_len(&c, bt.order[bt.first[b]]) > 5;
            check(r, "batching (64, 5): pairs over the token limit form batches of one", over > 0);
        }
        baton_batching_free(&bt);
    }
    check(r, "batching: max_sentences 0 is rejected", baton_batching_make(&bt, &c, 0, 0) == BATON_ERR_INVALID);

    /* the per-epoch permutation */
    ok = ok && baton_batching_make(&bt, &c, 8, 120) == BATON_OK;
    int count = bt.count;
    int *e0 = malloc((size_t)count * sizeof *e0), *e1 = malloc((size_t)count * sizeof *e1);
    int *again = malloc((size_t)count * sizeof *again), *other = malloc((size_t)count * sizeof *other);
    int perms = 1;
    for (int epoch = 0; epoch < 20; epoch++)
        perms &= is_permutation(&bt, 7, epoch, NULL);
    check(r, "pick: a permutation of the batches in each of 20 epochs", ok && count > 20 && perms);
    is_permutation(&bt, 7, 0, e0);
    is_permutation(&bt, 7, 1, e1);
    is_permutation(&bt, 7, 0, again);
    is_permutation(&bt, 8, 0, other);
    check(r, "pick: epochs 0 and 1 differ", !ints_equal(e0, e1, count));
    check(r, "pick: the same (seed, epoch) gives the same order", ints_equal(e0, again, count));
    check(r, "pick: another seed gives another order", !ints_equal(e0, other, count));
    check(r, "pick: k outside 0..count-1 gives -1",
          baton_batching_pick(&bt, 7, 0, -1) == -1 && baton_batching_pick(&bt, 7, 0, count) == -1);
    int identity = 1;
    for (int k = 0; k < count; k++)
        identity &= e0[k] == k;
    check(r, "pick: not the identity", !identity);
    free(e0), free(e1), free(again), free(other);
    baton_batching_free(&bt);

    /* uniform-looking: over 4000 epochs each of 10 batches comes first about 400 times (binomial sd 19) */
    ok = baton_batching_make(&bt, &c, 1, 0) == BATON_OK && bt.count >= 10;
    if (ok)
        bt.count = 10; /* pick only reads the count */
    int first[10] = {0}, lo = 4000, hi = 0;
    for (int epoch = 0; ok && epoch < 4000; epoch++)
        first[baton_batching_pick(&bt, 3, epoch, 0)]++;
    for (int b = 0; b < 10; b++) {
        lo = first[b] < lo ? first[b] : lo;
        hi = first[b] > hi ? first[b] : hi;
    }
    char name[128];
    snprintf(name, sizeof name, "pick: first batch over 4000 epochs spread evenly (min %d, max %d of 400)", lo, hi);
    check(r, name, ok && lo >= 320 && hi <= 480);
    int both[2] = {0, 0};
    bt.count = 2;
    for (int epoch = 0; ok && epoch < 64; epoch++)
        both[baton_batching_pick(&bt, 3, epoch, 0)]++;
    bt.count = 1;
    check(r, "pick: 2 batches come in both orders, 1 batch is batch 0",
          ok && both[0] > 8 && both[1] > 8 && baton_batching_pick(&bt, 3, 5, 0) == 0);
    baton_batching_free(&bt);

    baton_corpus_free(&c);
    baton_vocab_free(&sv);
    baton_vocab_free(&tv);
    free_side(src, N);
    free_side(tgt, N);
}

static void test_host_batch(tu_report *r)
{
    /* src vocab: a b c d = 4 5 6 7 (one each); tgt vocab: x 2, y 2, z 1 -> x y z = 4 5 6.
     * Bucket order by target length: pair 0 (x y: 3 with </s>) before pair 1 (x y z: 4). */
    char *src[] = {"a b c", "d"};
    char *tgt[] = {"x y", "x y z"};
    baton_vocab sv, tv;
    baton_corpus c;
    baton_batching bt;
    baton_host_batch hb;
    int ok = baton_vocab_build(&sv, src, 2, 1, 0) == BATON_OK && baton_vocab_build(&tv, tgt, 2, 1, 0) == BATON_OK &&
             baton_corpus_encode(&c, &sv, &tv, src, tgt, 2, 10) == BATON_OK &&
             baton_batching_make(&bt, &c, 2, 0) == BATON_OK && bt.count == 1 &&
             baton_host_batch_alloc(&hb, 4, 5, 3) == BATON_OK;
    if (!ok) {
        check(r, "host batch: set up", 0);
        return;
    }
    for (int i = 0; i < 4 * 3; i++)
        hb.src[i] = -7; /* poison: padding must be written as 0 */
    for (int i = 0; i < 5 * 3; i++)
        hb.tgt_in[i] = hb.tgt_out[i] = -7;
    ok = baton_host_batch_fill(&hb, &c, &bt, 0) == BATON_OK;
    /* time-major: row t holds (pair 0, pair 1) */
    const int want_src[] = {4, 7, /* s0 */ 5, 0, /* s1 */ 6, 0 /* s2 */};
    const int want_in[] = {2, 2, /* <s> */ 4, 4, 5, 5, 0, 6};
    const int want_out[] = {4, 4, 5, 5, 3, 6, /* </s> */ 0, 3};
    const int want_src_len[] = {3, 1}, want_tgt_len[] = {3, 4};
    check(r, "host batch: B, S, T and token counts",
          ok && hb.B == 2 && hb.S == 3 && hb.T == 4 && hb.src_tokens == 4 && hb.tgt_tokens == 7);
    check(r, "host batch: src (S,B), 0-padded", ok && ints_equal(hb.src, want_src, 6));
    check(r, "host batch: tgt_in (T,B) = <s> y, 0-padded", ok && ints_equal(hb.tgt_in, want_in, 8));
    check(r, "host batch: tgt_out (T,B) = y </s>, 0-padded", ok && ints_equal(hb.tgt_out, want_out, 8));
    check(r, "host batch: src_len, tgt_len = n+1",
          ok && ints_equal(hb.src_len, want_src_len, 2) && ints_equal(hb.tgt_len, want_tgt_len, 2));
    check(r, "host batch: index out of range is rejected", baton_host_batch_fill(&hb, &c, &bt, 1) == BATON_ERR_INVALID);
    baton_host_batch_free(&hb);

    static const int small[][3] = {{2, 4, 2}, {3, 3, 2}, {3, 4, 1}};
    for (int i = 0; i < 3; i++) {
        char name[128];
        snprintf(name, sizeof name, "host batch: capacity S %d, T %d, B %d is too small", small[i][0], small[i][1],
                 small[i][2]);
        ok = baton_host_batch_alloc(&hb, small[i][0], small[i][1], small[i][2]) == BATON_OK;
        check(r, name, ok && baton_host_batch_fill(&hb, &c, &bt, 0) == BATON_ERR_INVALID);
        baton_host_batch_free(&hb);
    }
    ok = baton_host_batch_alloc(&hb, 3, 4, 2) == BATON_OK;
    check(r, "host batch: exact capacity suffices", ok && baton_host_batch_fill(&hb, &c, &bt, 0) == BATON_OK);
    baton_host_batch_free(&hb);

    baton_batching_free(&bt);
    baton_corpus_free(&c);
    baton_vocab_free(&sv);
    baton_vocab_free(&tv);
}

int main(void)
{
    tu_report r = {0, 0};
    test_vocab_build(&r);
    test_vocab_files(&r);
    test_corpus(&r);
    test_batching(&r);
    test_host_batch(&r);
    return tu_summary(&r, "data");
}
