/* test_bleu.c: corpus BLEU against values computed independently (Python, collections.Counter
 * clipping as multi-bleu.perl does) on a small corpus with repeated words (clipping), a short
 * hypothesis (brevity penalty) and identical pairs; plus the edge cases: a perfect corpus scores
 * 100, a corpus with no 4-gram match scores 0, an empty hypothesis adds nothing. */
#include <math.h>
#include <string.h>

#include "baton/bleu.h"
#include "testutil.h"

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
    return tu_summary(&r, "bleu");
}
