/* fuzz_spm.c: SentencePiece through baton's shim (src/data/subword.c, src/data/spm_shim.cpp): model
 * files as a model directory's src.spm.model / tgt.spm.model (baton_subword_open), and text encoded
 * and decoded with a small real model (fuzz_spm_model: nmt_nfkc, as baton trains them).
 * Built only with SentencePiece (libsentencepiece-dev).
 *
 * Input: a mode byte, then bytes. Mode bit 0 clear: the bytes are a model file; a model that loads
 * encodes and decodes the built-in sentences. Set: the bytes (up to a NUL) are a line of text,
 * encoded and decoded with the real model and in whitespace mode.
 * Promises checked: a refused model is named in its error line; encoding gives tokens separated by
 * single spaces, none at either end, no other ASCII whitespace (what the vocabulary splits on). */
#include <stdlib.h>
#include <string.h>

#include "baton/subword.h"
#include "fuzz.h"

static baton_subword *real, *ws;
static char *out, *back;
static size_t out_cap, back_cap;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *model = fuzz_spm_model();
    if (!model || baton_subword_open(&real, model) != BATON_OK || baton_subword_open(&ws, NULL) != BATON_OK)
        fuzz_fail("spm: cannot open the SentencePiece model of the fuzz targets: %s", baton_error_last());
    return 0;
}

static void check_tokens(const char *tok, const char *model, const char *line)
{
    size_t n = strlen(tok);
    if (n && (tok[0] == ' ' || tok[n - 1] == ' ' || strstr(tok, "  ") || strpbrk(tok, "\t\n\v\f\r")))
        fuzz_fail("spm: model %s encodes '%.80s' as '%.160s': not tokens separated by single spaces", model, line,
                  tok);
}

/* Encodes and decodes line; an error must name the model. */
static void round_trip(baton_subword *sw, const char *model, const char *line)
{
    baton_status st = baton_subword_encode(sw, line, &out, &out_cap);
    if (st == BATON_OK) {
        check_tokens(out, model, line);
        st = baton_subword_decode(sw, out, &back, &back_cap);
    }
    if (st != BATON_OK && model[0])
        fuzz_expect_names(st, model, "SentencePiece encode/decode");
    if (st != BATON_OK && !model[0])
        fuzz_fail("spm: whitespace mode failed on '%.80s': %s", line, baton_error_last());
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int text_mode = data[0] & 1;
    data++, size--;
    if (text_mode) {
        char *line = malloc(size + 1);
        if (!line)
            fuzz_fail("spm: out of memory");
        memcpy(line, data, size);
        line[size] = '\0';
        round_trip(real, fuzz_spm_model(), line);
        round_trip(ws, "", line);
        free(line);
        return 0;
    }
    const char *path = fuzz_file(0, data, size);
    baton_subword *sw;
    baton_status st = baton_subword_open(&sw, path);
    fuzz_expect_names(st, path, "baton_subword_open");
    if (st != BATON_OK)
        return 0;
    for (int i = 0; i < fuzz_n_sentences; i++)
        round_trip(sw, path, fuzz_sentences[i]);
    baton_subword_close(sw);
    return 0;
}
