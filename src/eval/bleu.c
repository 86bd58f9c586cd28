/* bleu.c: corpus BLEU statistics and score (bleu.h). Sentences are short, so n-grams are matched
 * by comparing token spans directly (O(n^2) per sentence) instead of hashing them. */
#include "baton/bleu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_TOKENS = 1024 };

typedef struct {
    const char *p;
    int len;
} span;

/* Splits s on blanks into at most MAX_TOKENS spans; returns the count. */
static int tokens(const char *s, span *out)
{
    int n = 0;
    while (*s && n < MAX_TOKENS) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s)
            break;
        const char *start = s;
        while (*s && *s != ' ' && *s != '\t')
            s++;
        out[n++] = (span){start, (int)(s - start)};
    }
    return n;
}

static int same_gram(const span *a, const span *b, int n)
{
    for (int k = 0; k < n; k++)
        if (a[k].len != b[k].len || memcmp(a[k].p, b[k].p, (size_t)a[k].len) != 0)
            return 0;
    return 1;
}

/* Occurrences of the n-gram at g among the n-grams of t[0..len). */
static int count_in(const span *t, int len, const span *g, int n)
{
    int c = 0;
    for (int i = 0; i + n <= len; i++)
        c += same_gram(t + i, g, n);
    return c;
}

baton_status baton_bleu_add(baton_bleu_stats *st, const char *hyp, const char *ref)
{
    span *h = malloc(2 * MAX_TOKENS * sizeof *h), *r = h ? h + MAX_TOKENS : NULL;
    if (!h)
        return BATON_ERROR(BATON_ERR_OOM, "BLEU: out of memory");
    int nh = tokens(hyp, h), nr = tokens(ref, r);
    st->hyp_len += nh;
    st->ref_len += nr;
    for (int n = 1; n <= 4; n++)
        for (int i = 0; i + n <= nh; i++) {
            st->total[n - 1]++;
            /* clipped: a hypothesis n-gram counts while its earlier copies have not used up the reference's */
            int before = 0;
            for (int j = 0; j < i; j++)
                before += same_gram(h + j, h + i, n);
            st->match[n - 1] += before < count_in(r, nr, h + i, n);
        }
    free(h);
    return BATON_OK;
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
