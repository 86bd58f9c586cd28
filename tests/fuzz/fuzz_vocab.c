/* fuzz_vocab.c: vocabulary files (src.vocab, tgt.vocab of a model directory) as baton_vocab_load
 * reads them (src/data/vocab.c), and vocabularies built from the same bytes as text.
 * Promises checked: a refused file is named in its error line; a loaded vocabulary starts with the
 * four specials, its tokens are non-empty, hold no whitespace and map back to their ids; encoding
 * and decoding the file's own text keeps to the documented lengths (decode truncates like snprintf). */
#include <stdlib.h>
#include <string.h>

#include "baton/vocab.h"
#include "fuzz.h"

static void check_vocab(const baton_vocab *v, const char *what)
{
    static const char *const specials[BATON_SPECIALS] = {"<pad>", "<unk>", "<s>", "</s>"};
    if (v->size < BATON_SPECIALS)
        fuzz_fail("vocab: %s has %d tokens, fewer than the specials", what, v->size);
    for (int id = 0; id < v->size; id++) {
        const char *tok = v->tokens[id];
        size_t len = strlen(tok);
        if (id < BATON_SPECIALS && strcmp(tok, specials[id]) != 0)
            fuzz_fail("vocab: %s: id %d is '%s', expected '%s'", what, id, tok, specials[id]);
        if (len == 0 || strpbrk(tok, " \t\n\v\f\r"))
            fuzz_fail("vocab: %s: token %d '%.80s' is empty or holds whitespace", what, id, tok);
        if (baton_vocab_id(v, tok, len) != id)
            fuzz_fail("vocab: %s: token %d '%.80s' maps to id %d", what, id, tok, baton_vocab_id(v, tok, len));
    }
}

/* Encodes text, decodes the ids into a small and a large buffer: the lengths must agree. */
static void encode_decode(const baton_vocab *v, const char *text)
{
    int count = baton_vocab_encode(v, text, NULL, 0);
    if (count < 0)
        fuzz_fail("vocab: encode counted %d tokens", count);
    int max = count < 4096 ? count : 4096;
    int *ids = malloc((size_t)(max ? max : 1) * sizeof *ids);
    if (!ids)
        fuzz_fail("vocab: out of memory");
    if (baton_vocab_encode(v, text, ids, max) != count)
        fuzz_fail("vocab: encode counts differently with and without room for the ids");
    for (int i = 0; i < max; i++)
        if (ids[i] < BATON_UNK || ids[i] >= v->size || ids[i] == BATON_BOS || ids[i] == BATON_EOS)
            fuzz_fail("vocab: encode gave id %d (of %d)", ids[i], v->size);
    char small[8];
    size_t need = baton_vocab_decode(v, ids, max, small, sizeof small);
    char *big = malloc(need + 1);
    if (!big)
        fuzz_fail("vocab: out of memory");
    if (baton_vocab_decode(v, ids, max, big, need + 1) != need || strlen(big) != need ||
        strlen(small) != (need < sizeof small ? need : sizeof small - 1) || strncmp(small, big, strlen(small)) != 0)
        fuzz_fail("vocab: decode's output and its returned length %zu disagree", need);
    free(big);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(0, data, size);
    baton_vocab v;
    baton_status st = baton_vocab_load(&v, path);
    fuzz_expect_names(st, path, "baton_vocab_load");

    char *text = malloc(size + 1);
    if (!text)
        fuzz_fail("vocab: out of memory");
    memcpy(text, data, size);
    text[size] = '\0'; /* up to the first NUL */
    if (st == BATON_OK) {
        check_vocab(&v, path);
        encode_decode(&v, text);
        baton_vocab_free(&v);
    }

    /* the same bytes as a corpus line to build a vocabulary from (tokens of training text) */
    int max_size = size ? (data[0] % 3 == 0 ? 0 : 4 + data[0] % 13) : 0;
    char *sentences[1] = {text};
    if (baton_vocab_build(&v, sentences, 1, size > 1 ? 1 + data[1] % 3 : 1, max_size) != BATON_OK)
        fuzz_fail("vocab: building from text failed: %s", baton_error_last());
    check_vocab(&v, "a built vocabulary");
    if (max_size && v.size > max_size)
        fuzz_fail("vocab: built %d tokens, more than max_size %d", v.size, max_size);
    encode_decode(&v, text);
    baton_vocab_free(&v);
    free(text);
    return 0;
}
