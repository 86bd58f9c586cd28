/* safetensors.h: model parameters as safetensors files (https://huggingface.co/docs/safetensors).
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON (padded with spaces to a
 * multiple of 8) mapping each tensor name to {"dtype", "shape", "data_offsets": [begin, end)}
 * relative to the data section, plus an optional "__metadata__" object of strings; then the raw
 * little-endian data. Tensors are stored under their parameter-table names (design.md), so
 * Python's safetensors.torch.load_file reads a baton checkpoint as a PyTorch state dict.
 *
 * Saving needs nothing beyond libc; loading and reading metadata parse JSON with cJSON and return
 * BATON_ERR_UNSUPPORTED in a build without it (BATON_HAVE_CJSON in baton_config.h). */
#ifndef BATON_SAFETENSORS_H
#define BATON_SAFETENSORS_H

#include "baton/param.h"
#include "baton/status.h"

/* Writes every tensor of the table from a host parameter buffer (flat layout of param.h) under its table name, F32,
 * plus string metadata (n_meta key/value pairs, may be 0); atomically: path.tmp, fwrite, fflush, fsync, rename, then
 * fsync of the directory; a kill at any moment leaves either the old file or the new one. A failed write (a full
 * disk: ENOSPC; a file-size limit: EFBIG) says which file and why in one line, removes path.tmp and leaves the file
 * at path as it was; every fwrite, fflush, fsync, fclose and rename is checked. */
baton_status baton_safetensors_save(const char *path, const baton_param_table *t, const float *host,
                                    const char *const *meta_keys, const char *const *meta_values, int n_meta);

/* Reads a file into a host parameter buffer laid out by the table: every table tensor must be present with dtype F32
 * and exactly the table's shape; extra tensors in the file are an error (naming them); the header is validated (length
 * within the file, JSON well-formed, offsets within the data and not overlapping, sizes = numel*4, data section fully
 * covered); a truncated or corrupted file is refused with one clear line naming the file and what was wrong. */
baton_status baton_safetensors_load(const char *path, const baton_param_table *t, float *host);

/* Returns a malloc'd copy of metadata value `key` of the file at path, or NULL (with an error line) if the file is
 * unreadable; NULL without a line if the key is absent: use *st to tell them apart. */
char *baton_safetensors_metadata(const char *path, const char *key, baton_status *st);

#endif
