/* subword.c: the tokenizer API of subword.h. Whitespace mode lives here in plain C; SentencePiece
 * calls go through the C++ shim (spm_shim.h), which exists only in builds with
 * BATON_HAVE_SENTENCEPIECE, so a build without it still links and answers with a clear
 * BATON_ERR_UNSUPPORTED instead of failing at configure or link time. */
#include "baton/subword.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton_config.h"

#if BATON_HAVE_SENTENCEPIECE
#include "spm_shim.h"
#endif

struct baton_spm; /* defined by the shim; only ever handled through a pointer here */

struct baton_subword {
    struct baton_spm *spm; /* NULL: whitespace mode */
    char *model_path;      /* owned copy, to name the model in error messages */
};

#define NO_SPM_HINT "this baton was built without SentencePiece; install libsentencepiece-dev and reconfigure (meson setup --reconfigure BUILDDIR)"

int baton_subword_have_sentencepiece(void)
{
    return BATON_HAVE_SENTENCEPIECE;
}

int baton_subword_is_sentencepiece(const baton_subword *sw)
{
    return sw && sw->spm;
}

/* Grows the caller's buffer to hold need bytes (doubling, so repeated lines cost amortized O(1)). */
static baton_status ensure(char **out, size_t *cap, size_t need)
{
    if (*cap >= need)
        return BATON_OK;
    size_t grown = *cap * 2 > need ? *cap * 2 : need;
    char *p = realloc(*out, grown);
    if (!p)
        return BATON_ERROR(BATON_ERR_OOM, "subword: out of memory for a %zu-byte line", need);
    *out = p;
    *cap = grown;
    return BATON_OK;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Whitespace mode: tokens are the runs of non-whitespace, joined by single spaces. */
static baton_status whitespace_encode(const char *line, char **out, size_t *cap)
{
    BATON_TRY(ensure(out, cap, strlen(line) + 1));
    char *o = *out;
    for (const char *p = line; *p;) {
        while (is_space(*p))
            p++;
        if (!*p)
            break;
        if (o != *out)
            *o++ = ' ';
        while (*p && !is_space(*p))
            *o++ = *p++;
    }
    *o = '\0';
    return BATON_OK;
}

#if BATON_HAVE_SENTENCEPIECE
/* Maps a shim code onto a status and prints one error line naming what was being done. */
static baton_status spm_error(int code, const char *what, const char *msg)
{
    baton_status st = code == BATON_SPM_EIO        ? BATON_ERR_IO
                      : code == BATON_SPM_EINVALID ? BATON_ERR_INVALID
                      : code == BATON_SPM_EOOM     ? BATON_ERR_OOM
                                                   : BATON_ERR_FORMAT;
    return BATON_ERROR(st, "%s: %s", what, msg);
}
#endif

/* Checks the training options against what baton supports (SentencePiece's own checks follow). */
static baton_status check_train_args(const char *const *paths, int n_paths, const char *prefix,
                                     const baton_subword_train_options *o)
{
    BATON_REQUIRE(paths && n_paths > 0, "subword train: no input files; expected at least one text file");
    for (int i = 0; i < n_paths; i++)
        BATON_REQUIRE(paths[i] && paths[i][0], "subword train: input file %d has no name", i + 1);
    BATON_REQUIRE(prefix && prefix[0], "subword train: empty model prefix; expected e.g. out/spm (writes out/spm.model)");
    BATON_REQUIRE(o, "subword train: no options; expected at least a vocab_size");
    BATON_REQUIRE(o->vocab_size > 0, "subword train: vocab_size %d; expected a positive piece count", o->vocab_size);
    BATON_REQUIRE(!o->model_type || strcmp(o->model_type, "unigram") == 0 || strcmp(o->model_type, "bpe") == 0,
                  "subword train: model type '%s'; expected unigram or bpe", o->model_type);
    BATON_REQUIRE(o->character_coverage >= 0 && o->character_coverage <= 1,
                  "subword train: character_coverage %g; expected a share in (0, 1] (0: 1.0)", o->character_coverage);
    BATON_REQUIRE(o->input_sentence_size >= 0, "subword train: input_sentence_size %lld; expected >= 0 (0: all lines)",
                  o->input_sentence_size);
    BATON_REQUIRE(o->num_threads >= 0, "subword train: num_threads %d; expected >= 0", o->num_threads);
    return BATON_OK;
}

baton_status baton_subword_train(const char *const *paths, int n_paths, const char *prefix,
                                 const baton_subword_train_options *opt)
{
    BATON_TRY(check_train_args(paths, n_paths, prefix, opt));
#if BATON_HAVE_SENTENCEPIECE
    char err[512];
    int code = baton_spm_train(paths, n_paths, prefix, opt, err, sizeof err);
    if (code != BATON_SPM_OK) {
        char what[300];
        snprintf(what, sizeof what, "training SentencePiece model %.120s.model from %.120s%s", prefix, paths[0],
                 n_paths > 1 ? " and more" : "");
        return spm_error(code, what, err);
    }
    return BATON_OK;
#else
    return BATON_ERROR(BATON_ERR_UNSUPPORTED, "training SentencePiece model %s.model: " NO_SPM_HINT, prefix);
#endif
}

baton_status baton_subword_open(baton_subword **sw, const char *model_path)
{
    *sw = NULL;
    int want_spm = model_path && model_path[0];
#if !BATON_HAVE_SENTENCEPIECE
    if (want_spm)
        return BATON_ERROR(BATON_ERR_UNSUPPORTED, "subword model %s: " NO_SPM_HINT, model_path);
#endif
    baton_subword *s = calloc(1, sizeof *s);
    if (!s || (want_spm && !(s->model_path = strdup(model_path)))) {
        free(s);
        return BATON_ERROR(BATON_ERR_OOM, "subword: out of memory opening a tokenizer");
    }
#if BATON_HAVE_SENTENCEPIECE
    if (want_spm) {
        char err[512], what[300];
        int code = baton_spm_load(&s->spm, model_path, err, sizeof err);
        if (code != BATON_SPM_OK) {
            snprintf(what, sizeof what, "subword model %.250s", model_path);
            baton_subword_close(s);
            return spm_error(code, what, err);
        }
    }
#endif
    *sw = s;
    return BATON_OK;
}

void baton_subword_close(baton_subword *sw)
{
    if (!sw)
        return;
#if BATON_HAVE_SENTENCEPIECE
    baton_spm_free(sw->spm);
#endif
    free(sw->model_path);
    free(sw);
}

baton_status baton_subword_encode(baton_subword *sw, const char *line, char **out, size_t *cap)
{
    BATON_REQUIRE(sw && line && out && cap, "subword encode: NULL argument");
#if BATON_HAVE_SENTENCEPIECE
    if (sw->spm) {
        char err[512], what[320];
        int code = baton_spm_encode(sw->spm, line, out, cap, err, sizeof err);
        if (code == BATON_SPM_OK)
            return BATON_OK;
        snprintf(what, sizeof what, "subword model %.200s: encoding \"%.60s\"", sw->model_path, line);
        return spm_error(code, what, err);
    }
#endif
    return whitespace_encode(line, out, cap);
}

baton_status baton_subword_decode(baton_subword *sw, const char *tokens, char **out, size_t *cap)
{
    BATON_REQUIRE(sw && tokens && out && cap, "subword decode: NULL argument");
#if BATON_HAVE_SENTENCEPIECE
    if (sw->spm) {
        char err[512], what[320];
        int code = baton_spm_decode(sw->spm, tokens, out, cap, err, sizeof err);
        if (code == BATON_SPM_OK)
            return BATON_OK;
        snprintf(what, sizeof what, "subword model %.200s: decoding \"%.60s\"", sw->model_path, tokens);
        return spm_error(code, what, err);
    }
#endif
    /* Whitespace tokens are the words themselves: the text is the tokens as they are. */
    size_t n = strlen(tokens) + 1;
    BATON_TRY(ensure(out, cap, n));
    memcpy(*out, tokens, n);
    return BATON_OK;
}
