/* bleu_tool.c: test helper (not installed) that scores a hypothesis file against a reference file,
 * one sentence per line, with baton's sacreBLEU-compatible BLEU and chrF, and prints the numbers in
 * a fixed format for tests/test_sacrebleu.sh to compare with the sacrebleu Python package:
 *     bleu 35.123456\nchrf 58.123456\nhyp_len N\nref_len N\nline BLEU = ... (sacreBLEU's line)
 * Lines end at '\n' only (a '\r' stays in the line, as Python's open(newline='\n') keeps it); a
 * final '\n' ends the last line rather than starting an empty one.
 * Usage: bleu_tool [--lowercase] [--tokenize 13a|none] HYP REF */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/bleu.h"
#include "baton/chrf.h"

/* Reads the whole file into a malloc'd NUL-terminated buffer; NULL (with a message) on failure. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;
    if (!f) {
        fprintf(stderr, "bleu_tool: cannot open %s\n", path);
        return NULL;
    }
    for (;;) {
        if (n + 4096 + 1 > cap) {
            char *t = realloc(buf, cap = 2 * cap + 8192);
            if (!t) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = t;
        }
        size_t got = fread(buf + n, 1, 4096, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Splits buf into lines in place; returns the line count and a malloc'd array in *lines. */
static size_t split_lines(char *buf, size_t len, char ***lines)
{
    size_t n = 0, cap = 16;
    char **v = malloc(cap * sizeof *v);
    for (size_t i = 0; v && i < len;) {
        if (n == cap) {
            char **t = realloc(v, (cap *= 2) * sizeof *v);
            if (!t) {
                free(v);
                return (*lines = NULL, 0);
            }
            v = t;
        }
        v[n++] = buf + i;
        char *nl = memchr(buf + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - buf) : len;
        buf[end] = '\0';
        i = end + 1;
    }
    *lines = v;
    return n;
}

static int score(char **hyp, char **ref, size_t n, const baton_bleu_opts *bo, const baton_chrf_opts *co)
{
    baton_bleu_stats bs;
    baton_chrf_stats cs;
    memset(&bs, 0, sizeof bs);
    memset(&cs, 0, sizeof cs);
    for (size_t i = 0; i < n; i++)
        if (baton_bleu_add_sentence(&bs, bo, hyp[i], ref[i]) != BATON_OK ||
            baton_chrf_add(&cs, co, hyp[i], ref[i]) != BATON_OK)
            return 1;
    baton_bleu_result r;
    char line[256];
    baton_bleu_compute(&bs, &r);
    baton_bleu_format(&r, line, sizeof line);
    printf("bleu %.6f\nchrf %.6f\nhyp_len %ld\nref_len %ld\nline %s\n", r.score, baton_chrf_score(&cs, co),
           r.hyp_len, r.ref_len, line);
    return 0;
}

int main(int argc, char **argv)
{
    baton_bleu_opts bo = {BATON_BLEU_TOK_13A, 0};
    baton_chrf_opts co = {0, 0};
    int a = 1;
    for (; a < argc && strncmp(argv[a], "--", 2) == 0; a++) {
        if (strcmp(argv[a], "--lowercase") == 0)
            bo.lowercase = co.lowercase = 1;
        else if (strcmp(argv[a], "--tokenize") == 0 && a + 1 < argc && strcmp(argv[a + 1], "none") == 0)
            bo.tokenize = BATON_BLEU_TOK_NONE, a++;
        else if (strcmp(argv[a], "--tokenize") == 0 && a + 1 < argc && strcmp(argv[a + 1], "13a") == 0)
            a++;
        else
            break;
    }
    if (argc - a != 2) {
        fprintf(stderr, "usage: bleu_tool [--lowercase] [--tokenize 13a|none] HYP REF\n");
        return 2;
    }
    size_t lh, lr;
    char *hb = slurp(argv[a], &lh), *rb = hb ? slurp(argv[a + 1], &lr) : NULL, **hyp = NULL, **ref = NULL;
    size_t nh = rb ? split_lines(hb, lh, &hyp) : 0, nr = rb ? split_lines(rb, lr, &ref) : 0;
    int rc = 1;
    if (!rb || !hyp || !ref)
        fprintf(stderr, "bleu_tool: cannot read the inputs\n");
    else if (nh != nr)
        fprintf(stderr, "bleu_tool: %zu hypotheses but %zu references\n", nh, nr);
    else
        rc = score(hyp, ref, nh, &bo, &co);
    free(hyp);
    free(ref);
    free(hb);
    free(rb);
    return rc;
}
