/* fuzz.h: what the fuzz targets of tests/fuzz share (fuzz_util.c).
 *
 * Each fuzz_<what>.c defines LLVMFuzzerTestOneInput (and LLVMFuzzerInitialize where it needs set-up)
 * and drives baton's real entry point for one kind of outside input on the fuzzer's bytes. It links
 * either with libFuzzer (-Dfuzzing=true: the fuzz_<what> executables) or with replay.c's main, which
 * feeds it every seed and regression file (the cpu suite's fuzz_<what> tests), so the same code runs
 * under gcc, clang, sanitizers or none.
 *
 * Besides "no crash, no leak, no undefined behaviour", a target checks what the API promises: a
 * refused input leaves an error line that names the input (baton_error_last), a reader that can
 * resume gives the same pairs again, settings written out read back the same. A broken promise
 * prints "fuzz: <target>: <what>" and aborts, so libFuzzer keeps the input like any crash. */
#ifndef BATON_FUZZ_H
#define BATON_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "baton/param.h"
#include "baton/seq2seq.h"
#include "baton/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Prints "fuzz: <fmt>" to stderr and aborts: a broken promise of the API under test. */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Puts data[0..n) into file `slot` (0 to FUZZ_SLOTS-1) and returns its path, the same for every
 * call with that slot: a memfd seen through /proc/self/fd/N, or a file in a per-process temporary
 * directory where memfd_create is missing. Everything is removed at exit. */
enum { FUZZ_SLOTS = 12 };
const char *fuzz_file(int slot, const void *data, size_t n);

/* A per-process temporary directory (created on first use, removed with its files at exit). */
const char *fuzz_tmpdir(void);

/* After a call that failed (st != BATON_OK): its error line must name `path` (the input). */
void fuzz_expect_names(baton_status st, const char *path, const char *what);

/* Runs fn(ctx) with standard output going into file `slot` and returns that output (NUL-terminated,
 * valid until the slot's next use; *n its length); standard output is restored afterwards. */
const char *fuzz_capture_stdout(int slot, void (*fn)(void *ctx), void *ctx, size_t *n);

/* Vocabulary sizes of the tiny translator whose files are the safetensors seeds. */
enum { FUZZ_SRC_VOCAB = 12, FUZZ_TGT_VOCAB = 10 };

/* The tiny translator of the safetensors and translate targets: LSTM, E = H = 4, one layer,
 * bidirectional encoder, general attention; input_feed as asked. *m and *t are initialised. */
baton_status fuzz_tiny_model(baton_s2s *m, baton_param_table *t, int src_vocab, int tgt_vocab, int input_feed);

/* A small SentencePiece model trained once per process by baton itself (nmt_nfkc, unigram, 64
 * pieces) on a few dozen built-in sentences; its path, or NULL in a build without SentencePiece. */
const char *fuzz_spm_model(void);

/* The built-in sentences that model is trained on (German, English, French, some other scripts). */
extern const char *const fuzz_sentences[];
extern const int fuzz_n_sentences;

/* 1 when s[0..n) is well-formed UTF-8 (no overlong forms, surrogates or code points > U+10FFFF). */
int fuzz_utf8_valid(const char *s, size_t n);

#endif
