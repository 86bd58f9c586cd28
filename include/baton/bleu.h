/* bleu.h: corpus BLEU (Papineni et al. 2002) over whitespace tokens, as multi-bleu.perl computes it
 * on pre-tokenized text: clipped n-gram precisions for n = 1..4 summed over the corpus, their
 * geometric mean, and the brevity penalty exp(1 - r/c) when the hypotheses are shorter than the
 * references. One reference per sentence. (sacreBLEU's own tokenization comes with real corpora.) */
#ifndef BATON_BLEU_H
#define BATON_BLEU_H

#include "baton/status.h"

typedef struct {
    long match[4], total[4]; /* clipped n-gram matches and hypothesis n-grams, n = 1..4 */
    long hyp_len, ref_len;
} baton_bleu_stats;

/* Adds one hypothesis/reference pair (whitespace-tokenized) to the statistics. */
baton_status baton_bleu_add(baton_bleu_stats *st, const char *hyp, const char *ref);

/* BLEU in [0, 100] from the statistics; 0 when some n-gram order has no match. */
double baton_bleu_score(const baton_bleu_stats *st);

#endif
