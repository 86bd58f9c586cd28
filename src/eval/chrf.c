/* chrf.c: sacreBLEU's default chrF (chrf.h). Character n-grams are over Unicode code points, not
 * bytes, since that is what Python's string slicing gives sacreBLEU; whitespace is dropped first
 * (''.join(line.split())), and the clipped counts come from ngram.c. The F-score follows
 * CHRF._compute_f_score line by line so the doubles match Python's. */
#include "baton/chrf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "utf8_ngram.h"

enum { CHRF_BETA = 2 };

/* *out = malloc'd code points of s without whitespace, lowercased first if asked; *n their count. */
static baton_status code_points(const char *s, int lowercase, uint32_t **out, size_t *n)
{
    char *low = NULL;
    if (lowercase) {
        BATON_TRY(baton_utf8_lower(s, &low));
        s = low;
    }
    size_t len = strlen(s), k = 0;
    uint32_t *cps = malloc((len ? len : 1) * sizeof *cps);
    if (!cps) {
        free(low);
        return BATON_ERROR(BATON_ERR_OOM, "chrF: out of memory for a %zu-byte line", len);
    }
    for (size_t i = 0; i < len;) {
        uint32_t c;
        i += baton_utf8_decode(s + i, len - i, &c);
        if (!baton_utf8_is_space(c))
            cps[k++] = c;
    }
    free(low);
    *out = cps;
    *n = k;
    return BATON_OK;
}

baton_status baton_chrf_add_refs(baton_chrf_stats *st, const baton_chrf_opts *opts, const char *hyp,
                                 const char *const *refs, int R)
{
    baton_chrf_stats best, one;
    memset(&best, 0, sizeof best);
    double best_f = -1.0;
    for (int r = 0; r < R; r++) {
        memset(&one, 0, sizeof one);
        BATON_TRY(baton_chrf_add(&one, opts, hyp, refs[r]));
        double f = baton_chrf_score(&one, opts);
        if (f > best_f)
            best_f = f, best = one;
    }
    for (int n = 0; n < BATON_CHRF_ORDER; n++) {
        st->hyp[n] += best.hyp[n];
        st->ref[n] += best.ref[n];
        st->match[n] += best.match[n];
    }
    return BATON_OK;
}

baton_status baton_chrf_add(baton_chrf_stats *st, const baton_chrf_opts *opts, const char *hyp,
                            const char *ref)
{
    int lowercase = opts ? opts->lowercase : 0;
    uint32_t *h = NULL, *r = NULL;
    size_t nh = 0, nr = 0;
    long ht[BATON_CHRF_ORDER] = {0}, rt[BATON_CHRF_ORDER] = {0}, m[BATON_CHRF_ORDER] = {0};
    baton_status s = code_points(hyp, lowercase, &h, &nh);
    if (s == BATON_OK)
        s = code_points(ref, lowercase, &r, &nr);
    if (s == BATON_OK)
        s = baton_ngram_match(h, nh, r, nr, BATON_CHRF_ORDER, ht, rt, m);
    if (s == BATON_OK)
        for (int n = 0; n < BATON_CHRF_ORDER; n++) {
            /* sacreBLEU counts no hypothesis n-grams of an order the reference lacks */
            st->hyp[n] += rt[n] > 0 ? ht[n] : 0;
            st->ref[n] += rt[n];
            st->match[n] += m[n];
        }
    free(h);
    free(r);
    return s;
}

double baton_chrf_score(const baton_chrf_stats *st, const baton_chrf_opts *opts)
{
    const double eps = 1e-16, factor = CHRF_BETA * CHRF_BETA;
    double score = 0.0, avg_prec = 0.0, avg_rec = 0.0;
    int effective_order = 0;
    for (int n = 0; n < BATON_CHRF_ORDER; n++) {
        double prec = st->hyp[n] > 0 ? (double)st->match[n] / (double)st->hyp[n] : eps;
        double rec = st->ref[n] > 0 ? (double)st->match[n] / (double)st->ref[n] : eps;
        double denom = factor * prec + rec;
        score += denom > 0 ? (1 + factor) * prec * rec / denom : eps;
        if (st->hyp[n] > 0 && st->ref[n] > 0) { /* sacreBLEU < 2.0 style effective order */
            avg_prec += prec;
            avg_rec += rec;
            effective_order++;
        }
    }
    if (opts && opts->eps_smoothing)
        return 100 * score / BATON_CHRF_ORDER;
    if (effective_order == 0)
        return 0.0;
    avg_prec /= effective_order;
    avg_rec /= effective_order;
    if (avg_prec + avg_rec == 0.0)
        return 0.0;
    return 100 * ((1 + factor) * avg_prec * avg_rec / (factor * avg_prec + avg_rec));
}
