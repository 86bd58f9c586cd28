/* test_subword.c: the subword API (subword.h). Whitespace mode always; with SentencePiece in the
 * build, a small unigram and BPE model trained on a text file this test writes must round-trip
 * several sentences (unicode and unseen characters included), train deterministically, and give
 * clear errors; without it, asking for a model must say BATON_ERR_UNSUPPORTED and how to fix it.
 * When ../shared/data exists, a model trained on Multi30k English must round-trip its val set. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "baton/subword.h"
#include "baton/vocab.h"
#include "testutil.h"

static tu_report rep;
static char dir[64];

#define CHECK(cond, ...) TU_EXPECT(&rep, cond, __VA_ARGS__)

static const char *sentences[] = {
    "Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche.",
    "A man in an orange hat starring at something.",
    "Ein Mädchen in einem Karateanzug bricht einen Stock mit einem Tritt.",
    "Straße, Größe, Fußball: ß ist kein Problem.",
    "Café, naïve, résumé – “quotes” and ‘more’.",
    "Unseen: 東京 and 😀 stay as they are.",
    "x",
};
enum { N_SENT = sizeof sentences / sizeof sentences[0] };

static void test_whitespace(void)
{
    baton_subword *sw;
    char *out = NULL, *back = NULL;
    size_t cap = 0, bcap = 0;
    CHECK(baton_subword_open(&sw, NULL) == BATON_OK && !baton_subword_is_sentencepiece(sw), "open whitespace");
    CHECK(baton_subword_encode(sw, "  Zwei  junge\tMänner \r\n", &out, &cap) == BATON_OK, "ws encode");
    CHECK(strcmp(out, "Zwei junge Männer") == 0, "ws encode '%s'", out);
    CHECK(baton_subword_decode(sw, out, &back, &bcap) == BATON_OK && strcmp(back, out) == 0, "ws decode '%s'", back);
    CHECK(baton_subword_encode(sw, " \t ", &out, &cap) == BATON_OK && out[0] == '\0', "ws blank '%s'", out);
    for (int i = 0; i < N_SENT; i++) {
        baton_subword_encode(sw, sentences[i], &out, &cap);
        baton_subword_decode(sw, out, &back, &bcap);
        CHECK(strcmp(back, sentences[i]) == 0, "ws round trip '%s'", back);
    }
    baton_subword_close(sw);
    CHECK(baton_subword_open(&sw, "") == BATON_OK && !baton_subword_is_sentencepiece(sw), "\"\" is whitespace mode");
    baton_subword_close(sw);
    free(out);
    free(back);
}

static void test_unsupported(void)
{
    baton_subword *sw = (baton_subword *)&rep;
    CHECK(baton_subword_open(&sw, "m.model") == BATON_ERR_UNSUPPORTED && sw == NULL, "open without SentencePiece");
    CHECK(strstr(baton_error_last(), "libsentencepiece-dev") && strstr(baton_error_last(), "m.model"), "message '%s'",
          baton_error_last());
    const char *in[] = {"x.txt"};
    baton_subword_train_options o = {.vocab_size = 100};
    CHECK(baton_subword_train(in, 1, "m", &o) == BATON_ERR_UNSUPPORTED, "train without SentencePiece");
    CHECK(strstr(baton_error_last(), "reconfigure") != NULL, "message '%s'", baton_error_last());
}

/* Writes a training text: the sentences above (but the "unseen" one, whose characters must stay
 * unknown to the model) and 800 lines of pseudo-words built from syllables, enough distinct
 * substrings for a 200-piece unigram model. */
static const char *write_training_text(void)
{
    static char path[128];
    static const char *syl[] = {"zwei", "jun", "ge", "män", "ner", "frau", "spie", "len", "fuß", "ball", "stra",
                                "ße", "grö", "man", "wo", "play", "ing", "dog", "hund", "läuft", "über", "the",
                                "grass", "wie", "se", "kin", "der", "ca", "fé", "na", "ïve", "mäd", "chen", "red"};
    enum { NS = sizeof syl / sizeof syl[0] };
    snprintf(path, sizeof path, "%s/train.txt", dir);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < N_SENT - 2; i++)
        fprintf(f, "%s\n", sentences[i]);
    unsigned x = 12345;
    for (int i = 0; i < 800; i++) {
        for (int w = 0; w < 6 + i % 5; w++) {
            fputs(w ? " " : "", f);
            for (int k = 0; k < 1 + w % 3; k++) {
                x = x * 1103515245u + 12345u;
                fputs(syl[(x >> 16) % NS], f);
            }
        }
        fputs(i % 3 ? ".\n" : " ,\n", f);
    }
    fclose(f);
    return path;
}

/* Reads a whole file into a malloc'd buffer; *n its size. */
static char *slurp(const char *path, long *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)*n + 1);
    if (fread(b, 1, (size_t)*n, f) != (size_t)*n)
        *n = -1;
    fclose(f);
    return b;
}

/* Encodes and decodes every sentence with the model at prefix.model; checks the round trip. */
static void round_trip(const char *prefix)
{
    char model[160], *out = NULL, *back = NULL;
    size_t cap = 0, bcap = 0;
    baton_subword *sw;
    snprintf(model, sizeof model, "%s.model", prefix);
    CHECK(baton_subword_open(&sw, model) == BATON_OK && baton_subword_is_sentencepiece(sw), "load %s", model);
    if (!sw)
        return;
    for (int i = 0; i < N_SENT; i++) {
        CHECK(baton_subword_encode(sw, sentences[i], &out, &cap) == BATON_OK, "encode %d", i);
        CHECK(strstr(out, "\xE2\x96\x81") && !strstr(out, "  ") && out[0] != ' ', "pieces '%s'", out);
        CHECK(baton_subword_decode(sw, out, &back, &bcap) == BATON_OK, "decode %d", i);
        CHECK(strcmp(back, sentences[i]) == 0, "%s round trip '%s' -> '%s' -> '%s'", prefix, sentences[i], out, back);
    }
    /* Pieces feed the string vocabulary unchanged, which keeps design.md's special ids. */
    baton_subword_encode(sw, sentences[0], &out, &cap);
    printf("%s: %s\n", prefix, out);
    char *one[] = {out};
    baton_vocab v;
    CHECK(baton_vocab_build(&v, one, 1, 1, 0) == BATON_OK && v.size > BATON_SPECIALS &&
              strcmp(v.tokens[BATON_UNK], "<unk>") == 0 && baton_vocab_id(&v, out, strcspn(out, " ")) >= BATON_SPECIALS,
          "vocabulary over pieces");
    baton_vocab_free(&v);
    CHECK(baton_subword_encode(sw, "   ", &out, &cap) == BATON_OK && out[0] == '\0', "blank '%s'", out);
    baton_subword_close(sw);
    free(out);
    free(back);
}

static void test_sentencepiece(void)
{
    const char *text = write_training_text();
    const char *in[] = {text};
    char p1[128], p2[128], p3[128], m1[160];
    snprintf(p1, sizeof p1, "%s/uni", dir);
    snprintf(p2, sizeof p2, "%s/uni2", dir);
    snprintf(p3, sizeof p3, "%s/bpe", dir);
    baton_subword_train_options o = {.vocab_size = 200, .num_threads = 1};
    CHECK(baton_subword_train(in, 1, p1, &o) == BATON_OK, "train unigram");
    round_trip(p1);
    /* The model records its own prefix, so determinism is checked by training to the same one. */
    snprintf(m1, sizeof m1, "%s.model", p1);
    long n1 = 0, n2 = 0;
    char *b1 = slurp(m1, &n1);
    CHECK(baton_subword_train(in, 1, p1, &o) == BATON_OK, "train unigram again");
    char *b2 = slurp(m1, &n2);
    CHECK(b1 && b2 && n1 > 0 && n1 == n2 && memcmp(b1, b2, (size_t)n1) == 0, "deterministic (%ld, %ld bytes)", n1, n2);
    free(b1);
    free(b2);
    o.model_type = "bpe";
    CHECK(baton_subword_train(in, 1, p3, &o) == BATON_OK, "train bpe");
    round_trip(p3);

    baton_subword *sw;
    char missing[160];
    snprintf(missing, sizeof missing, "%s/none.model", dir);
    CHECK(baton_subword_open(&sw, missing) != BATON_OK && sw == NULL && strstr(baton_error_last(), missing),
          "missing model: '%s'", baton_error_last());
    CHECK(baton_subword_open(&sw, text) == BATON_ERR_FORMAT && strstr(baton_error_last(), text),
          "a text file as model: '%s'", baton_error_last());
    const char *none[] = {missing};
    CHECK(baton_subword_train(none, 1, p2, &o) == BATON_ERR_IO && strstr(baton_error_last(), missing),
          "missing input: '%s'", baton_error_last());
    o.model_type = "word";
    CHECK(baton_subword_train(in, 1, p2, &o) == BATON_ERR_INVALID && strstr(baton_error_last(), "unigram or bpe"),
          "model type: '%s'", baton_error_last());
    o.model_type = NULL;
    o.vocab_size = 100000;
    CHECK(baton_subword_train(in, 1, p2, &o) != BATON_OK && strstr(baton_error_last(), p2), "vocab too large: '%s'",
          baton_error_last());
}

/* Trains on the first 5000 lines of Multi30k train.en; val.en must come back byte for byte. */
static void test_multi30k(void)
{
    char train[512], val[512], prefix[128], line[4096], *out = NULL, *back = NULL;
    size_t cap = 0, bcap = 0;
    snprintf(train, sizeof train, "%s/data/multi30k/train.en", BATON_SHARED_DIR);
    snprintf(val, sizeof val, "%s/data/multi30k/val.en", BATON_SHARED_DIR);
    if (access(train, R_OK) != 0 || access(val, R_OK) != 0) {
        printf("skipping the Multi30k part: %s not found\n", train);
        return;
    }
    snprintf(prefix, sizeof prefix, "%s/m30k", dir);
    const char *in[] = {train};
    baton_subword_train_options o = {.vocab_size = 1000, .input_sentence_size = 5000, .num_threads = 1};
    CHECK(baton_subword_train(in, 1, prefix, &o) == BATON_OK, "train on Multi30k");
    strcat(prefix, ".model");
    baton_subword *sw;
    if (baton_subword_open(&sw, prefix) != BATON_OK)
        return;
    FILE *f = fopen(val, "r");
    int n = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        baton_subword_encode(sw, line, &out, &cap);
        baton_subword_decode(sw, out, &back, &bcap);
        bad += strcmp(back, line) != 0;
        n++;
    }
    fclose(f);
    CHECK(n == 1014 && bad == 0, "Multi30k val.en: %d of %d lines differ after the round trip", bad, n);
    printf("Multi30k val.en: %d lines round-tripped\n", n);
    baton_subword_close(sw);
    free(out);
    free(back);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/baton_subword_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_whitespace();
    if (baton_subword_have_sentencepiece()) {
        test_sentencepiece();
        test_multi30k();
    } else {
        printf("built without SentencePiece: checking the unsupported error only\n");
        test_unsupported();
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("could not remove %s\n", dir);
    return tu_summary(&rep, "subword");
}
