/* chrf.h: corpus chrF (Popović 2015) exactly as sacreBLEU 2.x's CHRF() computes it by default:
 * chrF2, character n-grams of order 1..6 over code points with all whitespace removed, no word
 * n-grams, one reference per sentence, statistics summed over the corpus before the F-score.
 * sacreBLEU's default averages precision and recall over the orders that have n-grams on both
 * sides (eps_smoothing=False); eps_smoothing reproduces its chrF++.py-style alternative. */
#ifndef BATON_CHRF_H
#define BATON_CHRF_H

#include "baton/status.h"

enum { BATON_CHRF_ORDER = 6 };

typedef struct {
    /* per order n = 1..6: hypothesis n-grams (0 for a sentence whose reference has none), reference
     * n-grams, clipped matches */
    long hyp[BATON_CHRF_ORDER], ref[BATON_CHRF_ORDER], match[BATON_CHRF_ORDER];
} baton_chrf_stats;

typedef struct {
    int lowercase;     /* nonzero: lowercase both sides (Python's str.lower()) */
    int eps_smoothing; /* nonzero: sacreBLEU's CHRF(eps_smoothing=True) */
} baton_chrf_opts;

/* Adds one raw hypothesis/reference pair to the statistics; opts NULL means sacreBLEU's defaults. */
baton_status baton_chrf_add(baton_chrf_stats *st, const baton_chrf_opts *opts, const char *hyp,
                            const char *ref);

/* The same with R references: the statistics against the one reference whose sentence chrF is
 * highest (the first of a tie), as sacreBLEU scores several. */
baton_status baton_chrf_add_refs(baton_chrf_stats *st, const baton_chrf_opts *opts, const char *hyp,
                                 const char *const *refs, int R);

/* chrF in [0, 100] from the corpus statistics, as sacreBLEU's _compute_f_score (beta 2). */
double baton_chrf_score(const baton_chrf_stats *st, const baton_chrf_opts *opts);

#endif
