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
    uint32_t side; /* 0 hyp, 1 ref */
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

/* Counts one order over the sorted items; writes each n-gram's dense id into ids for order n+1. */
static long count_runs(const ngram_item *items, size_t m, uint32_t *ids)
{
    long match = 0;
    uint32_t id = 0;
    for (size_t a = 0; a < m; id++) {
        long c[2] = {0, 0};
        size_t b = a;
        for (; b < m && items[b].key == items[a].key; b++) {
            c[items[b].side]++;
            ids[items[b].pos] = id;
        }
        match += c[0] < c[1] ? c[0] : c[1];
        a = b;
    }
    return match;
}

baton_status baton_ngram_match(const uint32_t *hyp, size_t nh, const uint32_t *ref, size_t nr,
                               int max_n, long *hyp_tot, long *ref_tot, long *match)
{
    if (nh + nr == 0)
        return BATON_OK;
    if (nh + nr > UINT32_MAX)
        return BATON_ERROR(BATON_ERR_INVALID, "n-gram counting: %zu units is too many", nh + nr);
    ngram_item *items = malloc((nh + nr) * sizeof *items);
    uint32_t *ids = malloc((nh + nr) * sizeof *ids);
    if (!items || !ids) {
        free(items);
        free(ids);
        return BATON_ERROR(BATON_ERR_OOM, "n-gram counting: out of memory for %zu units", nh + nr);
    }
    for (int n = 1; n <= max_n; n++) {
        size_t mh = fill_side(items, ids, hyp, 0, nh, n, 0);
        size_t mr = fill_side(items + mh, ids, ref, nh, nr, n, 1);
        if (mh + mr == 0)
            break; /* both sides are shorter than n, so every longer order is empty too */
        hyp_tot[n - 1] += (long)mh;
        ref_tot[n - 1] += (long)mr;
        qsort(items, mh + mr, sizeof *items, cmp_item);
        match[n - 1] += count_runs(items, mh + mr, ids);
    }
    free(items);
    free(ids);
    return BATON_OK;
}
