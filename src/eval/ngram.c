/* ngram.c: clipped n-gram intersection counts (utf8_ngram.h), the core of BLEU's modified precision and
 * chrF's character n-gram precision/recall: sum over distinct n-grams of min(count in hyp, count in
 * ref), as sacreBLEU computes it with collections.Counter. n-grams are identified exactly, not by a
 * hash: the n-gram at i is the pair (id of the (n-1)-gram at i, unit at i+n-1), and sorting those
 * pairs gives each distinct n-gram a dense id for the next order. So there is no length limit and no
 * collision to worry about, at O(L log L) per order. */
#include <stdlib.h>

#include "utf8_ngram.h"

typedef struct {
    uint64_t key;  /* (id of the (n-1)-gram, next unit) */
    uint32_t pos;  /* start position in the concatenation hyp ++ ref */
    uint32_t side; /* 0 hyp, 1 + r reference r */
} ngram_item;

static int cmp_item(const void *a, const void *b)
{
    uint64_t x = ((const ngram_item *)a)->key, y = ((const ngram_item *)b)->key;
    return (x > y) - (x < y);
}

/* Fills items with the n-grams of one side (units[0..len), at offset off in ids) and returns how many. */
static size_t fill_side(ngram_item *items, const uint32_t *ids, const uint32_t *units, size_t off,
                        size_t len, int n, uint32_t side)
{
    size_t k = 0;
    for (size_t i = 0; i + (size_t)n <= len; i++, k++) {
        uint64_t prev = n == 1 ? 0 : ids[off + i];
        items[k] = (ngram_item){(prev << 32) | units[i + (size_t)n - 1], (uint32_t)(off + i), side};
    }
    return k;
}

/* Counts one order over the sorted items of R references; writes each n-gram's dense id into ids
 * for order n+1. */
static long count_runs(const ngram_item *items, size_t m, uint32_t *ids, int R)
{
    long match = 0;
    uint32_t id = 0;
    for (size_t a = 0; a < m; id++) {
        long c[BATON_NGRAM_MAX_REFS + 1] = {0};
        size_t b = a;
        for (; b < m && items[b].key == items[a].key; b++) {
            c[items[b].side]++;
            ids[items[b].pos] = id;
        }
        long most = 0;
        for (int r = 1; r <= R; r++)
            most = c[r] > most ? c[r] : most;
        match += c[0] < most ? c[0] : most;
        a = b;
    }
    return match;
}

baton_status baton_ngram_match(const uint32_t *hyp, size_t nh, const uint32_t *ref, size_t nr,
                               int max_n, long *hyp_tot, long *ref_tot, long *match)
{
    return baton_ngram_match_refs(hyp, nh, &ref, &nr, 1, max_n, hyp_tot, ref_tot, match);
}

baton_status baton_ngram_match_refs(const uint32_t *hyp, size_t nh, const uint32_t *const *refs, const size_t *nr,
                                    int R, int max_n, long *hyp_tot, long *ref_tot, long *match)
{
    if (R < 1 || R > BATON_NGRAM_MAX_REFS)
        return BATON_ERROR(BATON_ERR_INVALID, "n-gram counting: %d references, expected 1 to %d", R,
                           BATON_NGRAM_MAX_REFS);
    size_t total = nh;
    for (int r = 0; r < R; r++)
        total += nr[r];
    if (total == 0)
        return BATON_OK;
    if (total > UINT32_MAX)
        return BATON_ERROR(BATON_ERR_INVALID, "n-gram counting: %zu units is too many", total);
    ngram_item *items = malloc(total * sizeof *items);
    uint32_t *ids = malloc(total * sizeof *ids);
    if (!items || !ids) {
        free(items);
        free(ids);
        return BATON_ERROR(BATON_ERR_OOM, "n-gram counting: out of memory for %zu units", total);
    }
    for (int n = 1; n <= max_n; n++) {
        size_t m = fill_side(items, ids, hyp, 0, nh, n, 0), mh = m, off = nh;
        for (int r = 0; r < R; r++) {
            m += fill_side(items + m, ids, refs[r], off, nr[r], n, (uint32_t)r + 1);
            off += nr[r];
        }
        if (m == 0)
            break; /* every side is shorter than n, so every longer order is empty too */
        hyp_tot[n - 1] += (long)mh;
        ref_tot[n - 1] += (long)(m - mh);
        qsort(items, m, sizeof *items, cmp_item);
        match[n - 1] += count_runs(items, m, ids, R);
    }
    free(items);
    free(ids);
    return BATON_OK;
}
