/* fuzz_bleu.c: `baton bleu REF [REF2 ...] -i HYP` (src/cli/cmd_bleu.c over src/eval: the 13a
 * tokenizer, lowercasing, n-gram matching, BLEU and chrF) on arbitrary hypothesis and reference
 * files, and multi-bleu's BLEU (baton_bleu_add) over the same lines.
 *
 * Input: a mode byte, then the files. Mode bit 0: --lowercase; bit 1: --tokenize none; bits 2-4:
 * the number of references minus 1. The rest is split at NUL bytes: the hypotheses, then each
 * reference (missing ones are empty; the last file keeps any further NULs).
 * Promises checked: the command fails only with an error line naming one of its files; when it
 * succeeds it prints a BLEU and a chrF2 between 0 and 100; multi-bleu's score is between 0 and 100. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/bleu.h"
#include "baton/text.h"
#include "commands.h"
#include "fuzz.h"

enum { MAX_REFS = 8 };

typedef struct {
    int argc;
    char *argv[MAX_REFS + 8];
    int rc;
} bleu_run;

static void run(void *ctx)
{
    bleu_run *b = ctx;
    b->rc = cli_bleu(b->argc, b->argv);
}

/* multi-bleu over hyp and ref, when they have the same number of lines */
static void multi_bleu(const char *hyp, const char *ref)
{
    char **h, **r;
    int nh, nr;
    if (baton_text_read_lines(hyp, &h, &nh) != BATON_OK)
        return;
    if (baton_text_read_lines(ref, &r, &nr) != BATON_OK) {
        baton_text_free_lines(h, nh);
        return;
    }
    baton_bleu_stats st;
    memset(&st, 0, sizeof st);
    for (int i = 0; i < nh && nh == nr; i++)
        if (baton_bleu_add(&st, h[i], r[i]) != BATON_OK)
            fuzz_fail("bleu: baton_bleu_add failed: %s", baton_error_last());
    double score = baton_bleu_score(&st);
    if (!(score >= 0.0 && score <= 100.0))
        fuzz_fail("bleu: multi-bleu score %g, expected 0 to 100", score);
    baton_text_free_lines(h, nh);
    baton_text_free_lines(r, nr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int mode = data[0], R = 1 + (mode >> 2) % MAX_REFS;
    data++, size--;
    const char *path[1 + MAX_REFS];
    for (int f = 0; f <= R; f++) {
        const uint8_t *nul = f < R ? memchr(data, '\0', size) : NULL;
        size_t k = nul ? (size_t)(nul - data) : size;
        path[f] = fuzz_file(f, data, k);
        data += k + (nul != NULL), size -= k + (nul != NULL);
    }
    bleu_run b = {.argc = 0};
    b.argv[b.argc++] = "baton";
    b.argv[b.argc++] = "bleu";
    for (int r = 1; r <= R; r++)
        b.argv[b.argc++] = (char *)path[r];
    b.argv[b.argc++] = "-i";
    b.argv[b.argc++] = (char *)path[0];
    if (mode & 1)
        b.argv[b.argc++] = "--lowercase";
    if (mode & 2) {
        b.argv[b.argc++] = "--tokenize";
        b.argv[b.argc++] = "none";
    }
    size_t n;
    const char *out = fuzz_capture_stdout(FUZZ_SLOTS - 1, run, &b, &n);
    if (b.rc == 0) {
        double bleu = -1.0, chrf = -1.0;
        const char *c = strstr(out, "chrF2 = ");
        if (sscanf(out, "BLEU = %lf", &bleu) != 1 || !c || sscanf(c, "chrF2 = %lf", &chrf) != 1 ||
            !(bleu >= 0.0 && bleu <= 100.0) || !(chrf >= 0.0 && chrf <= 100.0))
            fuzz_fail("bleu: the output is not a BLEU and a chrF2 from 0 to 100: '%s'", out);
    } else {
        int named = 0;
        for (int f = 0; f <= R; f++)
            named |= strstr(baton_error_last(), path[f]) != NULL;
        if (b.rc != 1 || !named)
            fuzz_fail("bleu: baton bleu exited %d with an error line that names none of its files: '%s'", b.rc,
                      baton_error_last());
    }
    multi_bleu(path[0], path[1]);
    return 0;
}
