/* test_bleu.c: corpus BLEU against values computed independently (Python, collections.Counter
 * clipping as multi-bleu.perl does) on a small corpus with repeated words (clipping), a short
 * hypothesis (brevity penalty) and identical pairs; plus the edge cases: a perfect corpus scores
 * 100, a corpus with no 4-gram match scores 0, an empty hypothesis adds nothing, a 3000-token
 * sentence is counted whole. Then the sacreBLEU-compatible API on cases small enough to work out by
 * hand (tests/test_sacrebleu.sh compares with the sacrebleu package itself): 13a tokenization and
 * lowercase strings as sacreBLEU prints them, 'exp' smoothing, the brevity penalty, empty
 * hypotheses, and chrF's effective-order and eps-smoothing averages. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/bleu.h"
#include "baton/chrf.h"
#include "testutil.h"

/* 1 when tokenizing in gives exactly want (sacreBLEU's Tokenizer13a output), else 0. */
static int tokenizes_to(const char *in, int lowercase, const char *want)
{
    baton_bleu_opts o = {BATON_BLEU_TOK_13A, lowercase};
    char *got = NULL;
    int ok = baton_bleu_tokenize(in, &o, &got) == BATON_OK && strcmp(got, want) == 0;
    if (!ok)
        printf("  tokenize \"%s\": got \"%s\", want \"%s\"\n", in, got ? got : "(error)", want);
    free(got);
    return ok;
}

static void check_tokenize(tu_report *r)
{
    int wrong = !tokenizes_to("Hello, world!", 0, "Hello , world !") +
                !tokenizes_to("It costs 1,000.5 dollars.", 0, "It costs 1,000.5 dollars .") +
                !tokenizes_to("ages 3-4, well-known", 0, "ages 3 - 4 , well-known") +
                !tokenizes_to("&amp;lt;x&gt; &quot;q&quot;", 0, "< x > \" q \"") +
                !tokenizes_to("x<skipped>y", 0, "xy") +
                !tokenizes_to("It's (fine)...", 0, "It's ( fine ) . . .") +
                !tokenizes_to(" \tA\u00a0b\u3000 ", 0, "A b") +
                /* str.lower(): umlauts, final sigma, dotted capital I -> i + combining dot, Cyrillic */
                !tokenizes_to("ÄÖÜ ΟΔΟΣ İ Ж", 1, "äöü οδος i\u0307 ж");
    tu_check_abs(r, "13a tokenization and lowercase (wrong strings)", wrong, 0);
}

/* sacreBLEU BLEU of one pair against a closed form. */
static void check_pair(tu_report *r, const char *name, const char *hyp, const char *ref, double want)
{
    baton_bleu_stats st;
    baton_bleu_result res;
    memset(&st, 0, sizeof st);
    baton_bleu_add_sentence(&st, NULL, hyp, ref);
    baton_bleu_compute(&st, &res);
    tu_check_abs(r, name, fabs(res.score - want), 1e-9);
}

static void check_sacre_bleu(tu_report *r)
{
    /* precisions 4/5, 3/4, 2/3, 1/2 */
    check_pair(r, "sacreBLEU: one substitution at the end", "a b c d e", "a b c d f", 100.0 * pow(0.2, 0.25));
    /* 3- and 4-grams have no match: 'exp' smoothing gives them 1/2 and 1/4 of a match */
    check_pair(r, "sacreBLEU: exp smoothing", "a b c d e", "a b x d e",
               100.0 * pow(0.8 * 0.5 * (0.5 / 3) * (0.25 / 2), 0.25));
    check_pair(r, "sacreBLEU: brevity penalty exp(1 - 6/4)", "a b c d", "a b c d e f", 100.0 * exp(-0.5));
    /* no hypothesis 4-gram: sacreBLEU's my_log floors log 0 and the score is 0 */
    check_pair(r, "sacreBLEU: no 4-gram scores 0", "the cat sat", "the cat sat down", 0.0);
    check_pair(r, "sacreBLEU: empty hypothesis scores 0", "", "a b", 0.0);

    baton_bleu_stats st;
    baton_bleu_result res;
    char line[200];
    memset(&st, 0, sizeof st);
    baton_bleu_add_sentence(&st, NULL, "a b c d e", "a b x d e");
    baton_bleu_compute(&st, &res);
    baton_bleu_format(&res, line, sizeof line);
    printf("  %s\n", line);
    const char *want = "BLEU = 30.21 80.0/50.0/16.7/12.5 (BP = 1.000 ratio = 1.000 hyp_len = 5 ref_len = 5)";
    tu_check_abs(r, "sacreBLEU's printed line (differs)", strcmp(line, want) != 0, 0);
}

static void check_chrf(tu_report *r)
{
    baton_chrf_stats st;
    memset(&st, 0, sizeof st);
    baton_chrf_add(&st, NULL, "a b c", "abd"); /* whitespace is dropped: "abc" against "abd" */
    /* orders 1-3 have P = R = 2/3, 1/2, 0; 4-6 have no n-grams. Effective order 3, F2 = P = 7/18 */
    tu_check_abs(r, "chrF: effective-order average", fabs(baton_chrf_score(&st, NULL) - 700.0 / 18), 1e-9);
    baton_chrf_opts eps = {0, 1};
    /* eps smoothing: mean over all 6 orders of the per-order F (orders 3-6 give ~1e-16) */
    double want_eps = 100.0 * (2.0 / 3 + 0.5) / 6;
    tu_check_abs(r, "chrF: eps smoothing", fabs(baton_chrf_score(&st, &eps) - want_eps), 1e-9);
    memset(&st, 0, sizeof st);
    baton_chrf_add(&st, NULL, "", "abc");
    tu_check_abs(r, "chrF: empty hypothesis scores 0", baton_chrf_score(&st, NULL), 0);
    baton_chrf_opts lc = {1, 0};
    memset(&st, 0, sizeof st);
    baton_chrf_add(&st, &lc, "ΟΔΟΣ Straße", "οδος straße");
    tu_check_abs(r, "chrF: lowercase, a perfect match", fabs(baton_chrf_score(&st, &lc) - 100.0), 1e-9);
}

/* A 3000-token sentence must be counted whole (the old matcher stopped at 1024 tokens). */
static void check_long(tu_report *r)
{
    enum { N = 3000 };
    char *s = tu_malloc(N * 8);
    size_t len = 0;
    for (int i = 0; i < N; i++)
        len += (size_t)sprintf(s + len, "%sw%d", i ? " " : "", i % 97);
    baton_bleu_stats st;
    memset(&st, 0, sizeof st);
    baton_bleu_add(&st, s, s);
    tu_check_abs(r, "a 3000-token sentence: all unigrams counted, BLEU 100",
                 (double)(st.total[0] != N) + fabs(baton_bleu_score(&st) - 100.0), 1e-9);
    free(s);
}

int main(void)
{
    tu_report r = {0, 0};
    const char *pairs[][2] = {{"the cat sat on the mat", "the cat sat on the mat"},
                              {"a cat on the mat", "the cat is on the mat"},
                              {"the the the the", "the cat is here"},
                              {"3 4 5 3", "3 4 5 3 9"}};
    baton_bleu_stats st;
    memset(&st, 0, sizeof st);
    for (int i = 0; i < 4; i++)
        baton_bleu_add(&st, pairs[i][0], pairs[i][1]);
    const long want_match[4] = {15, 10, 7, 4}, want_total[4] = {19, 15, 11, 7};
    double wrong = 0;
    for (int n = 0; n < 4; n++)
        wrong += (st.match[n] != want_match[n]) + (st.total[n] != want_total[n]);
    wrong += (st.hyp_len != 19) + (st.ref_len != 21);
    tu_check_abs(&r, "clipped n-gram counts and lengths (wrong ones)", wrong, 0);
    /* 59.53374702335184 from the independent computation; the score is a few float operations */
    tu_check_abs(&r, "corpus BLEU", fabs(baton_bleu_score(&st) - 59.53374702335184), 1e-9);

    memset(&st, 0, sizeof st);
    baton_bleu_add(&st, "1 2 3 4 5", "1 2 3 4 5");
    tu_check_abs(&r, "perfect corpus scores 100", fabs(baton_bleu_score(&st) - 100.0), 1e-9);
    baton_bleu_add(&st, "", "6 7");
    tu_check_abs(&r, "an empty hypothesis adds no n-grams, only reference length",
                 (double)(st.total[0] != 5) + (st.ref_len != 7), 0);
    memset(&st, 0, sizeof st);
    baton_bleu_add(&st, "a b c", "a b c");
    tu_check_abs(&r, "no 4-gram at all scores 0", baton_bleu_score(&st), 0);
    check_long(&r);
    check_tokenize(&r);
    check_sacre_bleu(&r);
    check_chrf(&r);
    return tu_summary(&r, "bleu");
}
