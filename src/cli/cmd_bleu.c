/* cmd_bleu.c: `baton bleu HYP REF`: corpus BLEU and chrF of detokenized hypotheses against one
 * reference per line, equal to sacreBLEU's defaults (13a tokenization, exp smoothing; chrF2), as
 * tests/test_sacrebleu.sh checks against the sacrebleu package. */
#include <stdio.h>
#include <string.h>

#include "baton/bleu.h"
#include "baton/chrf.h"
#include "baton/text.h"
#include "commands.h"

static const char *const usage =
    "usage: baton bleu HYP REF [--lowercase] [--tokenize 13a|none]\n"
    "Corpus BLEU and chrF2 of HYP (detokenized translations, one per line) against REF, as sacreBLEU\n"
    "computes them by default; \"-\" reads HYP from standard input.\n";

static baton_status score(const char *hyp_path, const char *ref_path, const baton_bleu_opts *bo)
{
    char **hyp = NULL, **ref = NULL;
    int nh = 0, nr = 0;
    BATON_TRY(baton_text_read_lines(hyp_path, &hyp, &nh));
    baton_status st = baton_text_read_lines(ref_path, &ref, &nr);
    if (st == BATON_OK && nh != nr)
        st = BATON_ERROR(BATON_ERR_FORMAT, "%s has %d lines but %s has %d: expected one hypothesis per reference",
                         hyp_path, nh, ref_path, nr);
    baton_bleu_stats bs;
    baton_chrf_stats cs;
    baton_chrf_opts co = {.lowercase = bo->lowercase, .eps_smoothing = 0};
    memset(&bs, 0, sizeof bs);
    memset(&cs, 0, sizeof cs);
    for (int i = 0; st == BATON_OK && i < nh; i++) {
        st = baton_bleu_add_sentence(&bs, bo, hyp[i], ref[i]);
        if (st == BATON_OK)
            st = baton_chrf_add(&cs, &co, hyp[i], ref[i]);
    }
    if (st == BATON_OK) {
        baton_bleu_result r;
        char line[256];
        baton_bleu_compute(&bs, &r);
        baton_bleu_format(&r, line, sizeof line);
        printf("%s  [tok %s%s]\nchrF2 = %.2f\n", line, bo->tokenize == BATON_BLEU_TOK_13A ? "13a" : "none",
               bo->lowercase ? ", lowercase" : "", baton_chrf_score(&cs, &co));
    }
    if (hyp)
        baton_text_free_lines(hyp, nh);
    if (ref)
        baton_text_free_lines(ref, nr);
    return st;
}

int cli_bleu(int argc, char **argv)
{
    const char *files[2] = {NULL, NULL};
    int nfiles = 0;
    baton_bleu_opts bo = {BATON_BLEU_TOK_13A, 0};
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(argv[i], "--lowercase") == 0) {
            bo.lowercase = 1;
        } else if (strcmp(argv[i], "--tokenize") == 0 && i + 1 < argc &&
                   (strcmp(argv[i + 1], "13a") == 0 || strcmp(argv[i + 1], "none") == 0)) {
            bo.tokenize = strcmp(argv[++i], "13a") == 0 ? BATON_BLEU_TOK_13A : BATON_BLEU_TOK_NONE;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "baton: error: bleu: unknown option '%s' (or --tokenize without 13a|none)\n%s", argv[i],
                    usage);
            return 2;
        } else if (nfiles < 2) {
            files[nfiles++] = argv[i];
        }
    }
    if (nfiles != 2) {
        fprintf(stderr, "baton: error: bleu: expected HYP and REF files\n%s", usage);
        return 2;
    }
    return score(files[0], files[1], &bo) == BATON_OK ? 0 : 1;
}
