/* bleu.c: corpus BLEU statistics and scores (bleu.h), multi-bleu style and sacreBLEU's. Both count
 * clipped n-gram matches the same way: tokens get dense ids by sorting, and ngram.c intersects the
 * id sequences exactly, so no sentence length is too long and no hash can collide. The sacreBLEU
 * score repeats BLEU.compute_bleu operation for operation (my_log's floor included) so that the
 * doubles agree with Python's to the last bits, not just to the printed digits. */
#include "baton/bleu.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8_ngram.h"

typedef struct {
    const char *p;
    size_t len;
    uint32_t idx; /* position in the hyp ++ ref token list */
} span;

/* Token spans of s separated by blanks/tabs (unicode == 0, multi-bleu) or by Python's str.split()
 * whitespace; writes at most cap of them to out (NULL: only count) and returns the count. */
static size_t split(const char *s, int unicode, span *out, size_t cap)
{
    size_t n = strlen(s), k = 0;
    for (size_t i = 0; i < n;) {
        size_t sp = unicode ? baton_utf8_space_len(s + i, n - i) : (s[i] == ' ' || s[i] == '\t');
        if (sp) {
            i += sp;
            continue;
        }
        size_t start = i;
        while (i < n && !(unicode ? baton_utf8_space_len(s + i, n - i) : (s[i] == ' ' || s[i] == '\t')))
            i++;
        if (out && k < cap)
            out[k] = (span){s + start, i - start, (uint32_t)k};
        k++;
    }
    return k;
}

static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->len != y->len)
        return (x->len > y->len) - (x->len < y->len);
    return memcmp(x->p, y->p, x->len);
}

/* ids[t->idx] = dense id of each token's text, equal texts equal ids (t is sorted in place). */
static void assign_ids(span *t, size_t n, uint32_t *ids)
{
    qsort(t, n, sizeof *t, cmp_span);
    uint32_t id = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && cmp_span(&t[i - 1], &t[i]) != 0)
            id++;
        ids[t[i].idx] = id;
    }
}

/* The reference length BLEU's brevity penalty uses: the one closest to the hypothesis's, the
 * shorter one of a tie (sacreBLEU's _get_closest_ref_len). */
static size_t closest(const size_t *nr, int R, size_t nh)
{
    size_t best = nr[0];
    for (int r = 1; r < R; r++) {
        size_t d = nr[r] > nh ? nr[r] - nh : nh - nr[r], bd = best > nh ? best - nh : nh - best;
        if (d < bd || (d == bd && nr[r] < best))
            best = nr[r];
    }
    return best;
}

/* Adds a tokenized hypothesis and its R references: lengths, hypothesis n-gram totals and matches
 * clipped by each n-gram's largest count in one reference, for n = 1..4. */
static baton_status add_tokens(baton_bleu_stats *st, const char *hyp, const char *const *refs, int R, int unicode)
{
    BATON_REQUIRE(R >= 1 && R <= BATON_NGRAM_MAX_REFS, "BLEU: %d references, expected 1 to %d", R,
                  BATON_NGRAM_MAX_REFS);
    size_t nh = split(hyp, unicode, NULL, 0), nr[BATON_NGRAM_MAX_REFS], n = nh;
    for (int r = 0; r < R; r++)
        n += nr[r] = split(refs[r], unicode, NULL, 0);
    span *t = malloc((n ? n : 1) * sizeof *t);
    uint32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    if (!t || !ids) {
        free(t);
        free(ids);
        return BATON_ERROR(BATON_ERR_OOM, "BLEU: out of memory for %zu tokens", n);
    }
    split(hyp, unicode, t, nh);
    const uint32_t *units[BATON_NGRAM_MAX_REFS];
    for (int r = 0, off = (int)nh; r < R; off += (int)nr[r++]) {
        split(refs[r], unicode, t + off, nr[r]);
        for (size_t i = 0; i < nr[r]; i++)
            t[off + i].idx += (uint32_t)off;
        units[r] = ids + off;
    }
    assign_ids(t, n, ids);
    long ref_tot[4] = {0, 0, 0, 0};
    baton_status s = baton_ngram_match_refs(ids, nh, units, nr, R, 4, st->total, ref_tot, st->match);
    st->hyp_len += (long)nh;
    st->ref_len += (long)closest(nr, R, nh);
    free(t);
    free(ids);
    return s;
}

baton_status baton_bleu_add(baton_bleu_stats *st, const char *hyp, const char *ref)
{
    return add_tokens(st, hyp, &ref, 1, 0);
}

double baton_bleu_score(const baton_bleu_stats *st)
{
    double log_prec = 0.0;
    for (int n = 0; n < 4; n++) {
        if (st->match[n] == 0 || st->total[n] == 0)
            return 0.0;
        log_prec += log((double)st->match[n] / (double)st->total[n]) / 4.0;
    }
    double bp = st->hyp_len < st->ref_len ? exp(1.0 - (double)st->ref_len / (double)st->hyp_len) : 1.0;
    return 100.0 * bp * exp(log_prec);
}

baton_status baton_bleu_add_sentence(baton_bleu_stats *st, const baton_bleu_opts *opts, const char *hyp,
                                     const char *ref)
{
    return baton_bleu_add_sentence_refs(st, opts, hyp, &ref, 1);
}

baton_status baton_bleu_add_sentence_refs(baton_bleu_stats *st, const baton_bleu_opts *opts, const char *hyp,
                                          const char *const *refs, int R)
{
    BATON_REQUIRE(R >= 1 && R <= BATON_NGRAM_MAX_REFS, "BLEU: %d references, expected 1 to %d", R,
                  BATON_NGRAM_MAX_REFS);
    char *h = NULL, *r[BATON_NGRAM_MAX_REFS] = {NULL};
    baton_status s = baton_bleu_tokenize(hyp, opts, &h);
    for (int i = 0; s == BATON_OK && i < R; i++)
        s = baton_bleu_tokenize(refs[i], opts, &r[i]);
    if (s == BATON_OK)
        s = add_tokens(st, h, (const char *const *)r, R, 1);
    free(h);
    for (int i = 0; i < R; i++)
        free(r[i]);
    return s;
}

/* sacreBLEU's utils.my_log: log floored at -9999999999 for a zero precision. */
static double my_log(double x)
{
    return x == 0.0 ? -9999999999.0 : log(x);
}

void baton_bleu_compute(const baton_bleu_stats *st, baton_bleu_result *out)
{
    memset(out, 0, sizeof *out);
    out->hyp_len = st->hyp_len;
    out->ref_len = st->ref_len;
    out->ratio = st->ref_len ? (double)st->hyp_len / (double)st->ref_len : 0.0;
    out->bp = 1.0;
    if (st->hyp_len < st->ref_len)
        out->bp = st->hyp_len > 0 ? exp(1.0 - (double)st->ref_len / (double)st->hyp_len) : 0.0;
    if (!(st->match[0] || st->match[1] || st->match[2] || st->match[3]))
        return; /* sacreBLEU's early stop: no match at all scores 0 */
    double smooth = 1.0;
    for (int n = 0; n < 4; n++) {
        if (st->total[n] == 0)
            break; /* the later precisions stay 0, and my_log's floor sends the score to 0 */
        if (st->match[n] == 0) {
            smooth *= 2.0; /* 'exp' smoothing: 1/2, 1/4, ... of a match for each empty order */
            out->precisions[n] = 100.0 / (smooth * (double)st->total[n]);
        } else {
            out->precisions[n] = 100.0 * (double)st->match[n] / (double)st->total[n];
        }
    }
    double sum = 0.0;
    for (int n = 0; n < 4; n++)
        sum += my_log(out->precisions[n]);
    out->score = out->bp * exp(sum / 4.0);
}

int baton_bleu_format(const baton_bleu_result *r, char *buf, size_t n)
{
    const double *p = r->precisions;
    return snprintf(buf, n, "BLEU = %.2f %.1f/%.1f/%.1f/%.1f (BP = %.3f ratio = %.3f hyp_len = %ld ref_len = %ld)",
                    r->score, p[0], p[1], p[2], p[3], r->bp, r->ratio, r->hyp_len, r->ref_len);
}
