/* checkpoint.h: training checkpoints, so that an interrupted run resumes where it stopped.
 *
 * A checkpoint is ONE safetensors file (safetensors.h) that safetensors.torch.load_file and
 * safetensors.numpy.load_file read as they are:
 *   tensors (all F32, packed in this order):
 *     <name>                       every parameter, under its table name (design.md)
 *     optim.exp_avg.<name>         Adam's first moment m, laid out like the parameter
 *     optim.exp_avg_sq.<name>      Adam's second moment v (both absent for SGD)
 *     optim.ema.<name>             the weights' moving average (optim.h; absent without one)
 *   "__metadata__" (all strings):
 *     format      "baton-checkpoint"
 *     version     "1"
 *     state.step, state.batches, state.epoch, state.bad_evals, state.elapsed_ms   decimal integers
 *     state.skipped_steps, state.bad_steps_in_a_row   decimal integers; optional (absent: 0), so
 *                 checkpoints written before they existed still load
 *     state.seed                                                                   decimal, unsigned 64-bit
 *     state.best_score, state.lr_scale   decimal doubles, printf "%.17g" (exact; "nan", "inf" allowed)
 *     <key>       each free-form text blob of the caller ("config", "src_vocab", ...)
 *     checksum    "crc32:" and 8 lowercase hex digits (see below)
 *
 * The checksum is CRC-32 as zlib.crc32 computes it, over, in this order: for every metadata entry
 * but "checksum", sorted by key (bytewise, as strcmp), the key's UTF-8 bytes, a 0 byte, the value's
 * bytes, a 0 byte; then the whole data section as it lies in the file (the bytes after the header).
 * In Python: crc = 0; for k in sorted(meta, key=str.encode): crc = zlib.crc32(k.encode() + b"\0" +
 * meta[k].encode() + b"\0", crc); crc = zlib.crc32(data, crc). It catches a flipped bit anywhere
 * that the safetensors validation alone would let through (a value in the data, a digit in the
 * metadata).
 *
 * Why one file: parameters, moments and counters written together by one atomic rename cannot
 * disagree after a crash; a resumed run sees either the previous checkpoint or the new one whole.
 * Saving needs only libc; loading needs cJSON, like safetensors.h. */
#ifndef BATON_CHECKPOINT_H
#define BATON_CHECKPOINT_H

#include <stdint.h>

#include "baton/param.h"
#include "baton/status.h"

#define BATON_CKPT_FORMAT "baton-checkpoint"
#define BATON_CKPT_VERSION "1"
#define BATON_CKPT_EXP_AVG "optim.exp_avg."       /* prefix of m's tensors */
#define BATON_CKPT_EXP_AVG_SQ "optim.exp_avg_sq." /* prefix of v's tensors */
#define BATON_CKPT_EMA "optim.ema."               /* prefix of the moving average's tensors */

/* Counters of a run beyond its tensors: what resuming needs to continue bit for bit. */
typedef struct {
    long step;          /* optimizer updates done */
    long batches;       /* batches trained on (keys the dropout masks) */
    long epoch;         /* epochs completed or in progress, as the caller defines */
    uint64_t seed;      /* of the run (weights, dropout, shuffling) */
    double best_score;  /* best validation score so far (early stopping); NAN when none */
    long bad_evals;     /* validations since the best */
    double lr_scale;    /* learning-rate factor from decay on plateau */
    long elapsed_ms;    /* training time so far */
    long skipped_steps; /* steps skipped for a non-finite loss or gradient norm (0 when the file has none) */
    long bad_steps_in_a_row; /* of them, the run of such steps that the last step ends (0 when absent) */
    int has_ema;        /* load: the file holds a moving average of the weights (save: ignored) */
} baton_ckpt_state;

/* A free-form text blob, stored as metadata under key. Keys "format", "version", "checksum" and
 * those starting with "state." are reserved. */
typedef struct {
    const char *key, *value;
} baton_ckpt_text;

/* The state of a fresh run: counters 0, best_score NAN, lr_scale 1. */
baton_ckpt_state baton_ckpt_state_fresh(uint64_t seed);

/* Writes params (and Adam's m, v: both or neither, NULL for SGD; the moving average ema, or NULL)
 * from host buffers laid out by t, the state and n_texts text blobs to path atomically: path.tmp in
 * the same directory, fsync, rename, fsync of the directory; a kill at any moment leaves the old
 * file or the new one. */
baton_status baton_ckpt_save(const char *path, const baton_param_table *t, const float *params, const float *m,
                             const float *v, const float *ema, const baton_ckpt_state *st,
                             const baton_ckpt_text *texts, int n_texts);

/* Loads a checkpoint into host buffers laid out by t (m, v may be NULL to skip them; asking for
 * moments the file lacks is an error; ema, when not NULL, is filled where the file has a moving
 * average, which st->has_ema tells) and *st (may be NULL). Refuses with one line naming the file
 * and the problem: not safetensors, truncated, wrong format or version, a tensor missing, extra or
 * of the wrong shape or dtype, a checksum mismatch. A refused file leaves *st untouched, and the
 * buffers too unless the refusal comes after reading (checksum mismatch, read error): then their
 * tensors are undefined and must not be used. */
baton_status baton_ckpt_load(const char *path, const baton_param_table *t, float *params, float *m, float *v,
                             float *ema, baton_ckpt_state *st);

/* A malloc'd copy of text blob key of the checkpoint at path, or NULL: with *st = BATON_OK when
 * the key is absent (no error line), else the error of a file that is not a valid checkpoint (it
 * checks format, version and the checksum, so it reads the whole file). st may be NULL. */
char *baton_ckpt_text_get(const char *path, const char *key, baton_status *st);

#endif
