/* utf8_ngram.h: internal UTF-8 and n-gram helpers shared by the BLEU and chrF code (src/eval). They
 * reproduce the Python string semantics sacreBLEU relies on: code points, str.isspace(),
 * str.lower(), and collections.Counter intersections of n-grams. Not a public header. */
#ifndef BATON_EVAL_UTF8_NGRAM_H
#define BATON_EVAL_UTF8_NGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "baton/status.h"

/* Code point at s (n bytes left) into *cp; returns the bytes used (>= 1). An invalid byte b
 * decodes alone as U+DC00 + b, as Python's surrogateescape would, so it stays distinct. */
size_t baton_utf8_decode(const char *s, size_t n, uint32_t *cp);

/* Writes cp as UTF-8 (an escaped invalid byte as that byte) to out; returns the bytes (1..4). */
size_t baton_utf8_encode(uint32_t cp, char *out);

/* 1 when cp is whitespace to Python's str.isspace() (what str.split() splits on), else 0. */
int baton_utf8_is_space(uint32_t cp);

/* Byte length of the whitespace character (baton_utf8_is_space) at s, or 0 if none. */
size_t baton_utf8_space_len(const char *s, size_t n);

/* *out = malloc'd copy of s lowercased as Python's str.lower() (limits in utf8_lower.c). */
baton_status baton_utf8_lower(const char *s, char **out);

/* For n = 1..max_n adds to hyp_tot[n-1] / ref_tot[n-1] the n-gram counts of the unit sequences
 * hyp / ref and to match[n-1] their clipped intersection, sum over n-grams of min(count in hyp,
 * count in ref). Exact (sorting, no hashing); any length. */
baton_status baton_ngram_match(const uint32_t *hyp, size_t nh, const uint32_t *ref, size_t nr,
                               int max_n, long *hyp_tot, long *ref_tot, long *match);

/* Most references a sentence may have. */
#define BATON_NGRAM_MAX_REFS 32

/* The same against R references refs[r][0..nr[r]) (1 <= R <= BATON_NGRAM_MAX_REFS): an n-gram's
 * count is clipped by its largest count in any one reference, as sacreBLEU's multi-reference BLEU
 * does; ref_tot sums every reference's n-grams. */
baton_status baton_ngram_match_refs(const uint32_t *hyp, size_t nh, const uint32_t *const *refs, const size_t *nr,
                                    int R, int max_n, long *hyp_tot, long *ref_tot, long *match);

#endif
