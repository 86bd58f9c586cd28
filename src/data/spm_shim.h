/* spm_shim.h: the C face of spm_shim.cpp, the only C++ in baton. SentencePiece is a C++ library;
 * these extern "C" functions wrap its trainer and processor, catch every C++ exception, and report
 * failures as a code plus a message in a caller's buffer, so no exception ever reaches C. Only
 * subword.c calls them, and only in builds with BATON_HAVE_SENTENCEPIECE. */
#ifndef BATON_SPM_SHIM_H
#define BATON_SPM_SHIM_H

#include <stddef.h>

#include "baton/subword.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What went wrong; subword.c maps these onto baton_status. */
enum {
    BATON_SPM_OK = 0,
    BATON_SPM_EIO,       /* a file was missing or unreadable */
    BATON_SPM_EINVALID,  /* SentencePiece refused an option (e.g. a vocabulary too large) */
    BATON_SPM_EFORMAT,   /* a model file that SentencePiece cannot parse, or another failure */
    BATON_SPM_EOOM,      /* std::bad_alloc or realloc failed */
    BATON_SPM_EINTERNAL, /* any other C++ exception */
};

/* A loaded SentencePiece processor. */
typedef struct baton_spm baton_spm;

/* Trains on the lines of paths and writes <prefix>.model and <prefix>.vocab. */
int baton_spm_train(const char *const *paths, int n_paths, const char *prefix,
                    const baton_subword_train_options *opt, char *err, size_t err_n);

/* Loads the model at path into *spm. */
int baton_spm_load(baton_spm **spm, const char *path, char *err, size_t err_n);

/* Frees a processor; NULL is allowed. */
void baton_spm_free(baton_spm *spm);

/* Encodes text into space-joined pieces in the growable malloc'd buffer *out (*cap bytes). */
int baton_spm_encode(baton_spm *spm, const char *text, char **out, size_t *cap, char *err, size_t err_n);

/* Decodes space-separated pieces into text in the growable malloc'd buffer *out (*cap bytes). */
int baton_spm_decode(baton_spm *spm, const char *pieces, char **out, size_t *cap, char *err, size_t err_n);

#ifdef __cplusplus
}
#endif

#endif
