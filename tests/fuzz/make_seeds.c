/* make_seeds.c: writes the seeds that come from baton's own writers, so they match what the fuzz
 * targets load against. Usage: fuzz_make_seeds SEEDS_DIR (tests/fuzz/seeds); it writes
 *   safetensors/model.safetensors            the tiny translator's weights as a model directory has them
 *   safetensors/checkpoint-adam.safetensors  a checkpoint with Adam's moments and two texts
 *   safetensors/checkpoint-sgd.safetensors   a checkpoint without moments
 *   spm/model-unigram, spm/model-bpe         mode byte 0, then a SentencePiece model (identity
 *                                            normalization, which keeps the files small)
 * The other seeds are small text files, samples of ../shared/data and of what the tests write. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "baton/checkpoint.h"
#include "baton/safetensors.h"
#include "baton/subword.h"
#include "fuzz.h"

static void need(baton_status st, const char *what)
{
    if (st != BATON_OK) {
        fprintf(stderr, "make_seeds: %s: %s\n", what, baton_error_last());
        exit(1);
    }
}

static void make_dir(const char *path)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "make_seeds: cannot create %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

static void safetensors_seeds(const char *dir)
{
    baton_s2s m;
    baton_param_table t;
    need(fuzz_tiny_model(&m, &t, FUZZ_SRC_VOCAB, FUZZ_TGT_VOCAB, 0), "the tiny model");
    size_t bytes = baton_param_bytes(&t);
    float *p = calloc(1, bytes), *m1 = calloc(1, bytes), *v1 = calloc(1, bytes);
    if (!p || !m1 || !v1)
        exit(1);
    baton_s2s_init_weights(&m, &t, p, 1);
    for (size_t i = 0; i < t.total; i++)
        m1[i] = p[i] * 0.01f, v1[i] = p[i] * p[i];
    char path[1100];
    const char *keys[] = {"format", "cell", "attention"}, *values[] = {"baton-seq2seq-1", "lstm", "general"};
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    need(baton_safetensors_save(path, &t, p, keys, values, 3), path);
    baton_ckpt_state st = baton_ckpt_state_fresh(7);
    st.step = 20, st.batches = 21, st.epoch = 1, st.best_score = 12.5, st.elapsed_ms = 1234;
    baton_ckpt_text texts[] = {{"config", "emb = 4\nhidden = 4\n"}, {"src_vocab", "<pad>\n<unk>\n<s>\n</s>\nx\n"}};
    snprintf(path, sizeof path, "%s/checkpoint-adam.safetensors", dir);
    need(baton_ckpt_save(path, &t, p, m1, v1, NULL, &st, texts, 2), path);
    snprintf(path, sizeof path, "%s/checkpoint-sgd.safetensors", dir);
    need(baton_ckpt_save(path, &t, p, NULL, NULL, NULL, &st, NULL, 0), path);
    free(p), free(m1), free(v1);
    baton_param_table_free(&t);
}

/* Trains a model into dir/<name> with a mode byte 0 in front (fuzz_spm's model-file mode). */
static void spm_seed(const char *dir, const char *name, const char *type, int vocab)
{
    char text[1024], prefix[1024], model[1100], out[2100];
    snprintf(text, sizeof text, "%s/sentences.txt", fuzz_tmpdir());
    snprintf(prefix, sizeof prefix, "%s/%s", fuzz_tmpdir(), name);
    FILE *f = fopen(text, "w");
    for (int i = 0; f && i < fuzz_n_sentences; i++)
        fprintf(f, "%s\n", fuzz_sentences[i]);
    if (!f || fclose(f) != 0)
        exit(1);
    const char *paths[] = {text};
    baton_subword_train_options o = {.vocab_size = vocab, .model_type = type, .normalization = "identity",
                                     .num_threads = 1};
    need(baton_subword_train(paths, 1, prefix, &o), prefix);
    snprintf(model, sizeof model, "%s.model", prefix);
    snprintf(out, sizeof out, "%s/%s", dir, name);
    FILE *in = fopen(model, "rb"), *w = fopen(out, "wb");
    if (!in || !w || fputc(0, w) == EOF)
        exit(1);
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, in)) > 0;)
        if (fwrite(buf, 1, n, w) != n)
            exit(1);
    fclose(in);
    if (fclose(w) != 0)
        exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s SEEDS_DIR\n", argv[0]);
        return 2;
    }
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/safetensors", argv[1]);
    make_dir(dir);
    safetensors_seeds(dir);
    if (baton_subword_have_sentencepiece()) {
        snprintf(dir, sizeof dir, "%s/spm", argv[1]);
        make_dir(dir);
        spm_seed(dir, "model-unigram", "unigram", 200);
        spm_seed(dir, "model-bpe", "bpe", 200);
    }
    return 0;
}
