/* prepare.c: what a model directory needs before training on real corpora: SentencePiece models
 * trained on the training files (one per side, or one joint model used by both sides) and the
 * vocabularies over their pieces, counted by streaming the corpus once. A directory that already
 * holds them (a resumed run: cli_model_dir_claim refuses others) is left as it is, so the run goes
 * on with the same subwords and ids, and the log says so. */
#include "prepare.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "baton/reader.h"
#include "model_dir.h"

/* Writes the two sides of a TSV corpus to dir/train.src.txt and dir/train.tgt.txt (for
 * SentencePiece, which reads plain text files). */
static baton_status split_tsv(const char *tsv, const char *src_out, const char *tgt_out,
                              const baton_reader_options *ro)
{
    baton_reader *r;
    BATON_TRY(baton_reader_open(&r, tsv, NULL, ro));
    FILE *fs = fopen(src_out, "w"), *ft = fopen(tgt_out, "w");
    baton_status st = fs && ft ? BATON_OK : BATON_ERROR(BATON_ERR_IO, "%s: %s", fs ? tgt_out : src_out, strerror(errno));
    const char *s, *t;
    int got;
    while (st == BATON_OK && (got = baton_reader_next(r, &s, &t)) == 1)
        if (fprintf(fs, "%s\n", s) < 0 || fprintf(ft, "%s\n", t) < 0)
            st = BATON_ERROR(BATON_ERR_IO, "%s: write failed: %s", src_out, strerror(errno));
    if (st == BATON_OK && got < 0)
        st = (baton_status)-got;
    if (fs && fclose(fs) != 0 && st == BATON_OK)
        st = BATON_ERROR(BATON_ERR_IO, "%s: %s", src_out, strerror(errno));
    if (ft && fclose(ft) != 0 && st == BATON_OK)
        st = BATON_ERROR(BATON_ERR_IO, "%s: %s", tgt_out, strerror(errno));
    baton_reader_close(r);
    return st;
}

/* Copies file a to b through b.tmp and a rename. */
static baton_status copy_file(const char *a, const char *b)
{
    char tmp[4400];
    snprintf(tmp, sizeof tmp, "%s.tmp", b);
    FILE *in = fopen(a, "rb"), *out = fopen(tmp, "wb");
    baton_status st = in && out ? BATON_OK : BATON_ERROR(BATON_ERR_IO, "%s: %s", in ? tmp : a, strerror(errno));
    char buf[65536];
    size_t n;
    while (st == BATON_OK && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            st = BATON_ERROR(BATON_ERR_IO, "%s: write failed", tmp);
    if (in)
        fclose(in);
    if (out && fclose(out) != 0 && st == BATON_OK)
        st = BATON_ERROR(BATON_ERR_IO, "%s: %s", tmp, strerror(errno));
    if (st == BATON_OK && rename(tmp, b) != 0)
        st = BATON_ERROR(BATON_ERR_IO, "%s: %s", b, strerror(errno));
    return st;
}

static baton_status train_spm(const cli_settings *s, const char *dir, const char *src, const char *tgt)
{
    baton_subword_train_options o = {.vocab_size = s->subword_vocab, .input_sentence_size = s->subword_sample};
    char prefix[4096], model[4200], other[4200];
    if (s->joint_subwords) {
        const char *both[2] = {src, tgt};
        BATON_TRY(cli_path_in(prefix, sizeof prefix, dir, "src.spm"));
        fprintf(stderr, "subwords: training one SentencePiece model of %d pieces on both sides\n", o.vocab_size);
        BATON_TRY(baton_subword_train(both, 2, prefix, &o));
        snprintf(model, sizeof model, "%s.model", prefix);
        BATON_TRY(cli_path_in(other, sizeof other, dir, "tgt.spm.model"));
        return copy_file(model, other);
    }
    const char *paths[2] = {src, tgt}, *sides[2] = {"src.spm", "tgt.spm"};
    for (int i = 0; i < 2; i++) {
        BATON_TRY(cli_path_in(prefix, sizeof prefix, dir, sides[i]));
        fprintf(stderr, "subwords: training a SentencePiece model of %d pieces on %s\n", o.vocab_size, paths[i]);
        BATON_TRY(baton_subword_train(&paths[i], 1, prefix, &o));
    }
    return BATON_OK;
}

baton_status cli_prepare_subwords(const cli_settings *s, const char *dir, const baton_reader_options *ro)
{
    char model[4096], src_txt[4096], tgt_txt[4096];
    BATON_TRY(cli_path_in(model, sizeof model, dir, "src.spm.model"));
    if (strcmp(s->subwords, "spm") != 0)
        return BATON_OK;
    if (access(model, F_OK) == 0) {
        fprintf(stderr, "subwords: reusing the SentencePiece model(s) in %s\n", dir);
        return BATON_OK;
    }
    BATON_REQUIRE(baton_subword_have_sentencepiece(),
                  "--subwords spm: this build has no SentencePiece; install libsentencepiece-dev and reconfigure");
    if (s->train_tgt)
        return train_spm(s, dir, s->train_src, s->train_tgt);
    BATON_TRY(cli_path_in(src_txt, sizeof src_txt, dir, "train.src.txt"));
    BATON_TRY(cli_path_in(tgt_txt, sizeof tgt_txt, dir, "train.tgt.txt"));
    baton_status st = split_tsv(s->train_src, src_txt, tgt_txt, ro);
    if (st == BATON_OK)
        st = train_spm(s, dir, src_txt, tgt_txt);
    remove(src_txt);
    remove(tgt_txt);
    return st;
}

/* Counts both sides' tokens in one streamed pass over the training corpus. */
static baton_status count_corpus(baton_vocab_counter *cs, baton_vocab_counter *ct, const cli_settings *s,
                                 const baton_reader_options *ro, baton_subword *ssw, baton_subword *tsw)
{
    baton_reader *r;
    BATON_TRY(baton_reader_open(&r, s->train_src, s->train_tgt, ro));
    char *buf = NULL;
    size_t cap = 0;
    const char *src, *tgt;
    int got;
    baton_status st = BATON_OK;
    while (st == BATON_OK && (got = baton_reader_next(r, &src, &tgt)) == 1) {
        st = baton_subword_encode(ssw, src, &buf, &cap);
        if (st == BATON_OK)
            st = baton_vocab_counter_add(cs, buf);
        if (st == BATON_OK)
            st = baton_subword_encode(tsw, tgt, &buf, &cap);
        if (st == BATON_OK)
            st = baton_vocab_counter_add(ct, buf);
    }
    if (st == BATON_OK && got < 0)
        st = (baton_status)-got;
    free(buf);
    baton_reader_close(r);
    return st;
}

baton_status cli_prepare_vocabs(baton_vocab *sv, baton_vocab *tv, const cli_settings *s, const char *dir,
                                const baton_reader_options *ro, baton_subword *ssw, baton_subword *tsw)
{
    char sp[4096], tp[4096];
    BATON_TRY(cli_path_in(sp, sizeof sp, dir, "src.vocab"));
    BATON_TRY(cli_path_in(tp, sizeof tp, dir, "tgt.vocab"));
    if (access(sp, F_OK) == 0 && access(tp, F_OK) == 0) {
        fprintf(stderr, "vocabularies: reusing %s and %s\n", sp, tp);
        BATON_TRY(baton_vocab_load(sv, sp));
        return baton_vocab_load(tv, tp);
    }
    baton_vocab_counter *cs = NULL, *ct = NULL;
    baton_status st = baton_vocab_counter_create(&cs);
    if (st == BATON_OK)
        st = baton_vocab_counter_create(&ct);
    if (st == BATON_OK)
        st = count_corpus(cs, ct, s, ro, ssw, tsw);
    if (st == BATON_OK)
        st = baton_vocab_counter_finish(sv, cs, s->min_count, s->vocab_size);
    if (st == BATON_OK)
        st = baton_vocab_counter_finish(tv, ct, s->min_count, s->vocab_size);
    baton_vocab_counter_free(cs);
    baton_vocab_counter_free(ct);
    if (st == BATON_OK)
        st = baton_vocab_save(sv, sp);
    if (st == BATON_OK)
        st = baton_vocab_save(tv, tp);
    return st;
}
