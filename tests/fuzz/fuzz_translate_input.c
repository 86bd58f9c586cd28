/* fuzz_translate_input.c: what `baton translate` reads (src/cli/translator.c over
 * src/data/text.c): the input's lines as the streaming line reader gives them (baton_line_reader),
 * tokenized (whitespace mode, or the small real SentencePiece model of fuzz_spm_model), cropped to
 * --max-input-tokens, and translated in chunks by a tiny random translator on the CPU, greedy or
 * with beam search (cli_translator_stream, the loop baton translate runs). Its </s> bias is high,
 * so decoding stops after the one token it must give.
 *
 * Input: two setting bytes, then the input text. Byte 0: bit 0 SentencePiece (when built), bit 1
 * input feeding, bits 2-3 beam 1, 1, 2 or 4, bit 4 nbest = beam, bits 5-7 the chunk (--batch) 1, 2,
 * 3, 5, 8, 16, 1 or 2 lines. Byte 1: bits 0-5 --max-input-tokens 1 to 64, bits 6-7
 * --max-len-ratio 0.5, 1, 2 or 3.
 * Promises checked: every input line gets its hypotheses, in order, one to nbest of them; a line
 * empty after stripping translates to an empty line; a refused input is named in its error line. */
#include <stdlib.h>
#include <string.h>

#include "baton/backend.h"
#include "baton/subword.h"
#include "baton/vocab.h"
#include "fuzz.h"
#include "translator.h"

typedef struct {
    baton_subword *sw;
    baton_vocab v;
    baton_s2s m[2]; /* without and with input feeding */
    baton_param_table t[2];
    float *params[2]; /* on the backend */
} setup;

static baton_backend be;
static setup setups[2]; /* whitespace, SentencePiece */
static int have_spm;

static void make_setup(setup *x, const char *model)
{
    if (baton_subword_open(&x->sw, model) != BATON_OK)
        fuzz_fail("translate: cannot open the tokenizer: %s", baton_error_last());
    char *tok[64], *buf = NULL;
    size_t cap = 0;
    for (int i = 0; i < fuzz_n_sentences; i++) {
        if (baton_subword_encode(x->sw, fuzz_sentences[i], &buf, &cap) != BATON_OK || !(tok[i] = strdup(buf)))
            fuzz_fail("translate: cannot tokenize the sentences: %s", baton_error_last());
    }
    free(buf);
    if (baton_vocab_build(&x->v, tok, fuzz_n_sentences, 1, 0) != BATON_OK)
        fuzz_fail("translate: cannot build the vocabulary: %s", baton_error_last());
    for (int i = 0; i < fuzz_n_sentences; i++)
        free(tok[i]);
    for (int f = 0; f < 2; f++) {
        if (fuzz_tiny_model(&x->m[f], &x->t[f], x->v.size, x->v.size, f) != BATON_OK)
            fuzz_fail("translate: cannot build the model: %s", baton_error_last());
        size_t bytes = baton_param_bytes(&x->t[f]);
        float *host = calloc(1, bytes);
        if (!host)
            fuzz_fail("translate: out of memory");
        baton_s2s_init_weights(&x->m[f], &x->t[f], host, 7);
        host[x->t[f].items[x->m[f].b_out].offset + BATON_EOS] = 20.0f;
        if (baton_param_weights_alloc(&be, &x->t[f], &x->params[f]) != BATON_OK ||
            be.ops->upload(&be, x->params[f], host, bytes) != BATON_OK)
            fuzz_fail("translate: cannot upload the weights: %s", baton_error_last());
        free(host);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (baton_cpu_backend_create(&be, 1) != BATON_OK)
        fuzz_fail("translate: cannot create the CPU backend: %s", baton_error_last());
    make_setup(&setups[0], NULL);
    have_spm = fuzz_spm_model() != NULL;
    if (have_spm)
        make_setup(&setups[1], fuzz_spm_model());
    return 0;
}

typedef struct {
    int nbest;
    long line; /* the last line emitted */
    int k;     /* its hypotheses so far */
    const char *const *raw; /* the input's lines as split here; *n_raw of them */
    long n_raw;
} expect;

static void emit(void *ctx, long line, int k, const char *text, float score)
{
    (void)score;
    expect *e = ctx;
    if (k == 0 && line == e->line + 1 && (e->line == 0 || e->k == e->nbest))
        e->line = line, e->k = 0;
    if (line != e->line || k != e->k || k >= e->nbest)
        fuzz_fail("translate: hypothesis %d of line %ld came after hypothesis %d of line %ld (nbest %d)", k, line,
                  e->k - 1, e->line, e->nbest);
    e->k++;
    if (line <= e->n_raw && e->raw[line - 1][0] == '\0' && text[0] != '\0')
        fuzz_fail("translate: the empty line %ld translates to '%.80s'", line, text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static const int beams[4] = {1, 1, 2, 4}, chunks[8] = {1, 2, 3, 5, 8, 16, 1, 2};
    static const float ratios[4] = {0.5f, 1.0f, 2.0f, 3.0f};
    int a = data[0], b = data[1], feed = (a >> 1) & 1, beam = beams[(a >> 2) & 3];
    setup *x = &setups[(a & 1) && have_spm];
    cli_translator tr = {.be = &be, .m = &x->m[feed], .t = &x->t[feed], .params = x->params[feed], .sv = &x->v,
                         .tv = &x->v, .ssw = x->sw, .tsw = x->sw, .batch = chunks[a >> 5], .beam = beam,
                         .nbest = (a & 16) ? beam : 1, .alpha = 0.6f, .max_len_ratio = ratios[b >> 6],
                         .rnn_impl = "fused", .seed = 1, .max_tokens = 1 + (b & 63)};
    data += 2, size -= 2;

    /* the lines as the reader should give them: split at \n, trailing blanks and a first BOM gone */
    char *copy = malloc(size + 1);
    long n_raw = 0;
    char **raw = malloc((size + 1) * sizeof *raw);
    if (!copy || !raw)
        fuzz_fail("translate: out of memory");
    memcpy(copy, data, size);
    copy[size] = '\0';
    for (char *p = copy; p < copy + size;) {
        char *end = memchr(p, '\n', (size_t)(copy + size - p));
        end = end ? end : copy + size;
        *end = '\0';
        for (char *q = end; q > p && (q[-1] == ' ' || q[-1] == '\t' || q[-1] == '\r');)
            *--q = '\0';
        raw[n_raw] = n_raw == 0 && baton_text_bom(p, strlen(p)) ? p + 3 : p;
        n_raw++;
        p = end + 1;
    }

    const char *path = fuzz_file(0, data, size);
    baton_line_reader in;
    if (baton_line_reader_open(&in, path) != BATON_OK)
        fuzz_fail("translate: cannot open %s: %s", path, baton_error_last());
    expect e = {.nbest = tr.nbest, .raw = (const char *const *)raw, .n_raw = n_raw};
    baton_status st = cli_translator_stream(&tr, &in, tr.batch, emit, &e);
    fuzz_expect_names(st, path, "translate");
    if (st == BATON_OK && (e.line != n_raw || (n_raw && e.k != e.nbest)))
        fuzz_fail("translate: %ld input lines, but the translations stop after hypothesis %d of line %ld", n_raw,
                  e.k, e.line);
    baton_line_reader_close(&in);
    free(raw);
    free(copy);
    return 0;
}
