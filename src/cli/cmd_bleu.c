/* cmd_bleu.c: `baton bleu REF [REF2 ...] [-i HYP]`: corpus BLEU and chrF of detokenized
 * hypotheses against one or more references per line, as sacreBLEU's command line takes them and
 * equal to its defaults (13a tokenization, exp smoothing; chrF2), as tests/test_sacrebleu.sh checks
 * against the sacrebleu package. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "baton/bleu.h"
#include "baton/chrf.h"
#include "baton/text.h"
#include "commands.h"

enum { MAX_REFS = 32 };

static const char *const usage =
    "usage: baton bleu REF [REF2 ...] [-i HYP] [--lowercase] [--tokenize 13a|none]\n"
    "Corpus BLEU and chrF2 of the hypotheses (detokenized translations, one per line: the file HYP, or\n"
    "standard input without -i) against one or more reference files aligned with them, as sacreBLEU\n"
    "computes them by default (several references: n-grams clipped by the largest count in one\n"
    "reference, the closest reference length; chrF against the best reference of each line).\n";

typedef struct {
    const char *hyp;              /* path, "-" for standard input */
    const char *refs[MAX_REFS];
    int n_refs;
    baton_bleu_opts bo;
} bleu_args;

static baton_status score(const bleu_args *a)
{
    char **hyp = NULL, **ref[MAX_REFS] = {NULL};
    int nh = 0, nr[MAX_REFS] = {0};
    baton_status st = baton_text_read_lines(a->hyp, &hyp, &nh);
    for (int r = 0; st == BATON_OK && r < a->n_refs; r++) {
        st = baton_text_read_lines(a->refs[r], &ref[r], &nr[r]);
        if (st == BATON_OK && nr[r] != nh)
            st = BATON_ERROR(BATON_ERR_FORMAT, "%s has %d lines but the hypotheses (%s) have %d: expected one "
                             "reference line per hypothesis", a->refs[r], nr[r], strcmp(a->hyp, "-") ? a->hyp :
                             "standard input", nh);
    }
    baton_bleu_stats bs;
    baton_chrf_stats cs;
    baton_chrf_opts co = {.lowercase = a->bo.lowercase, .eps_smoothing = 0};
    memset(&bs, 0, sizeof bs);
    memset(&cs, 0, sizeof cs);
    for (int i = 0; st == BATON_OK && i < nh; i++) {
        const char *refs[MAX_REFS];
        for (int r = 0; r < a->n_refs; r++)
            refs[r] = ref[r][i];
        st = baton_bleu_add_sentence_refs(&bs, &a->bo, hyp[i], refs, a->n_refs);
        if (st == BATON_OK)
            st = baton_chrf_add_refs(&cs, &co, hyp[i], refs, a->n_refs);
    }
    if (st == BATON_OK) {
        baton_bleu_result r;
        char line[256];
        baton_bleu_compute(&bs, &r);
        baton_bleu_format(&r, line, sizeof line);
        printf("%s  [tok %s%s%s]\nchrF2 = %.2f\n", line, a->bo.tokenize == BATON_BLEU_TOK_13A ? "13a" : "none",
               a->bo.lowercase ? ", lowercase" : "", a->n_refs > 1 ? ", several references" : "",
               baton_chrf_score(&cs, &co));
    }
    baton_text_free_lines(hyp, nh);
    for (int r = 0; r < a->n_refs; r++)
        baton_text_free_lines(ref[r], nr[r]);
    return st;
}

/* Parses the arguments; returns -1 to go on, else the exit status. */
static int parse(bleu_args *a, int argc, char **argv)
{
    memset(a, 0, sizeof *a);
    a->hyp = "-";
    a->bo.tokenize = BATON_BLEU_TOK_13A;
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(arg, "--lowercase") == 0 || strcmp(arg, "-lc") == 0) {
            a->bo.lowercase = 1;
        } else if ((strcmp(arg, "--tokenize") == 0 || strcmp(arg, "-tok") == 0) && i + 1 < argc &&
                   (strcmp(argv[i + 1], "13a") == 0 || strcmp(argv[i + 1], "none") == 0)) {
            a->bo.tokenize = strcmp(argv[++i], "13a") == 0 ? BATON_BLEU_TOK_13A : BATON_BLEU_TOK_NONE;
        } else if ((strcmp(arg, "-i") == 0 || strcmp(arg, "--input") == 0) && i + 1 < argc) {
            a->hyp = argv[++i];
        } else if (arg[0] == '-' && arg[1]) {
            fprintf(stderr, "baton: error: bleu: unknown option '%s' (or -i without a file, --tokenize without "
                            "13a|none)\n%s", arg, usage);
            return 2;
        } else if (a->n_refs < MAX_REFS) {
            a->refs[a->n_refs++] = arg;
        } else {
            fprintf(stderr, "baton: error: bleu: more than %d reference files\n", MAX_REFS);
            return 2;
        }
    }
    if (a->n_refs == 0) {
        fprintf(stderr, "baton: error: bleu: expected at least one reference file\n%s", usage);
        return 2;
    }
    if (strcmp(a->hyp, "-") == 0 && isatty(STDIN_FILENO)) {
        fprintf(stderr, "baton: error: bleu: the hypotheses come on standard input or with -i HYP; standard input "
                        "is a terminal\n%s", usage);
        return 2;
    }
    return -1;
}

int cli_bleu(int argc, char **argv)
{
    bleu_args a;
    int rc = parse(&a, argc, argv);
    if (rc >= 0)
        return rc;
    return score(&a) == BATON_OK ? 0 : 1;
}
