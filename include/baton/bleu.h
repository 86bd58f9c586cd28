/* bleu.h: corpus BLEU (Papineni et al. 2002), two ways.
 *
 * - baton_bleu_add / baton_bleu_score: multi-bleu.perl style on pre-tokenized text (tokens split on
 *   blanks, no smoothing; 0 when some order has no match). Cheap and stable, for dev-set progress.
 * - baton_bleu_add_sentence / baton_bleu_compute: exactly sacreBLEU 2.x's corpus_score defaults,
 *   the number papers report: tokenizer '13a' (or 'none'), optional lowercase (Python's str.lower()),
 *   max order 4, smooth_method 'exp', no effective order, brevity penalty on the corpus sums, one or
 *   several references per sentence. chrF is in chrf.h.
 *
 * Both accumulate the same statistics; sentences may be any length. */
#ifndef BATON_BLEU_H
#define BATON_BLEU_H

#include <stddef.h>

#include "baton/status.h"

typedef struct {
    long match[4], total[4]; /* clipped n-gram matches and hypothesis n-grams, n = 1..4 */
    long hyp_len, ref_len;
} baton_bleu_stats;

typedef enum {
    BATON_BLEU_TOK_13A = 0, /* mteval-v13a, sacreBLEU's default */
    BATON_BLEU_TOK_NONE,    /* whitespace split only */
} baton_bleu_tokenizer;

typedef struct {
    baton_bleu_tokenizer tokenize;
    int lowercase; /* nonzero: lowercase hypotheses and references first */
} baton_bleu_opts;

/* A sacreBLEU BLEUScore: its score and the details of its verbose line. */
typedef struct {
    double score;         /* BLEU in [0, 100] */
    double precisions[4]; /* n-gram precisions in percent, 'exp'-smoothed as sacreBLEU reports them */
    double bp, ratio;     /* brevity penalty; hyp_len / ref_len (0 when ref_len is 0) */
    long hyp_len, ref_len;
} baton_bleu_result;

/* Adds one hypothesis/reference pair (whitespace-tokenized, multi-bleu style) to the statistics. */
baton_status baton_bleu_add(baton_bleu_stats *st, const char *hyp, const char *ref);

/* multi-bleu BLEU in [0, 100] from the statistics; 0 when some n-gram order has no match. */
double baton_bleu_score(const baton_bleu_stats *st);

/* *out = malloc'd line as sacreBLEU's BLEU sees it (lowercased if asked, tokenized, blanks squeezed). */
baton_status baton_bleu_tokenize(const char *line, const baton_bleu_opts *opts, char **out);

/* Adds one raw (detokenized) pair the way sacreBLEU does; opts NULL means sacreBLEU's defaults. */
baton_status baton_bleu_add_sentence(baton_bleu_stats *st, const baton_bleu_opts *opts, const char *hyp,
                                     const char *ref);

/* The same with R references of the hypothesis (1 to 32), as sacreBLEU scores several: n-gram
 * matches clipped by an n-gram's largest count in one reference, and the reference length closest
 * to the hypothesis's (the shorter of a tie). */
baton_status baton_bleu_add_sentence_refs(baton_bleu_stats *st, const baton_bleu_opts *opts, const char *hyp,
                                          const char *const *refs, int R);

/* sacreBLEU's corpus BLEU (compute_bleu, 'exp' smoothing) from statistics of add_sentence. */
void baton_bleu_compute(const baton_bleu_stats *st, baton_bleu_result *out);

/* Writes sacreBLEU's line "BLEU = 35.12 67.1/41.0/27.3/18.9 (BP = 1.000 ratio = 1.002 hyp_len = ...
 * ref_len = ...)" into buf; returns snprintf's count. */
int baton_bleu_format(const baton_bleu_result *r, char *buf, size_t n);

#endif
