/* safetensors_internal.h: what the safetensors writer and reader share (see safetensors.h).
 *
 * Readings of the contract that safetensors.h leaves open:
 * - Save writes "__metadata__" first (when n_meta > 0, as Python's writer does), then the tensors in
 *   table order, packed back to back: the table's 256-byte padding is not stored, and the offsets
 *   rise in header order. The header is padded with spaces so the data starts at a multiple of 8.
 * - Save refuses (BATON_ERR_INVALID) what a reader would refuse or misread: names, keys and values
 *   that are not valid UTF-8 (the reference implementation parses the header as a Rust str), a
 *   tensor called "__metadata__", and a metadata key given twice.
 * - Load validates the whole header before it reads any data, so a refused file leaves the host
 *   buffer as it was; only a read error after validation (the file changing underneath) can leave it
 *   partly written. The padding between tensors in the host buffer is never touched.
 * - Load reads the data section once, front to back in offset order (which the validated tiling
 *   makes contiguous), whatever order the header lists the tensors in: sequential I/O, and the
 *   checkpoint checksum runs over the raw bytes as they lie in the file.
 * - Load refuses what the reference implementation (Rust safetensors with serde_json) refuses, even
 *   where cJSON alone would accept it and read something else: a header that does not start with
 *   '{', invalid UTF-8, control bytes, malformed string escapes, a header over 100 MB; and a name
 *   given twice, which the format forbids. Beyond the reference, a header of more than a million
 *   JSON values is refused before it is parsed (cJSON would take ~80 bytes for each). Offsets are checked as the reference does: sorted by
 *   begin, the tensors must tile the data section exactly, so gaps and trailing bytes are errors.
 *   Dtypes other than F32 are understood only far enough to check their sizes.
 * - Metadata reading validates the header exactly as load does (but reads no tensor data); st may
 *   be NULL for a caller that does not need to tell "absent" from "unreadable".
 * - Values travel through uint32 and are encoded byte by byte, so the file is little-endian on any
 *   host and float data needs no alignment in the file; gcc turns the shifts into plain stores on
 *   little-endian machines. */
#ifndef BATON_SAFETENSORS_INTERNAL_H
#define BATON_SAFETENSORS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "baton/param.h"
#include "baton/status.h"
#include "baton_config.h"

_Static_assert(sizeof(float) == sizeof(uint32_t), "safetensors F32 needs a 32-bit float");

#define ST_META_KEY "__metadata__"
#define ST_CHUNK_FLOATS 16384

/* ---- several flat buffers in one file (checkpoints: parameters and optimizer moments) ----------
 * A part is one parameter table over one host buffer, stored under prefix + table name. Save
 * writes the parts in order, each part's tensors in table order, packed back to back: the data
 * section is exactly part 0's tensors, then part 1's, ..., little-endian (the checkpoint checksum
 * relies on this order). Names must stay distinct across parts; save refuses a clash. */
typedef struct {
    const char *prefix;          /* before every table name in the file; "" for none */
    const baton_param_table *t;
    const float *src;            /* save: the host buffer laid out by t */
    float *dst;                  /* load: where the values go; NULL checks the tensors but skips them */
} baton_st_part;

/* An open, fully validated file (header_open in safetensors_read.c); cJSON builds only. */
typedef struct baton_st_file baton_st_file;

/* Saves the parts and string metadata atomically, as baton_safetensors_save does for one part. */
baton_status baton_st_save_parts(const char *path, const baton_st_part *parts, int n_parts,
                                 const char *const *keys, const char *const *values, int n_meta);

/* CRC-32 (IEEE 802.3, zlib's crc32: reflected 0xEDB88320, pre- and post-inverted) of p[0..n)
 * continued from crc; start from 0. Chains: crc(a||b) = baton_st_crc32(crc(a), b). */
uint32_t baton_st_crc32(uint32_t crc, const void *p, size_t n);

#if BATON_HAVE_CJSON
/* Opens path and validates its header (as baton_safetensors_load does); one error line on failure. */
baton_status baton_st_open(baton_st_file **f, const char *path);

/* Closes f (NULL is fine). */
void baton_st_close(baton_st_file *f);

/* Metadata value of key, or NULL when absent; owned by f. */
const char *baton_st_meta_get(const baton_st_file *f, const char *key);

/* Number of metadata entries; entry i's value, its key into *key. */
int baton_st_meta_count(const baton_st_file *f);
const char *baton_st_meta_at(const baton_st_file *f, int i, const char **key);

/* Number of tensors in the file whose name starts with prefix. */
int baton_st_count_prefix(const baton_st_file *f, const char *prefix);

/* Checks that the file holds exactly the parts' tensors (F32, the tables' shapes, nothing else). */
baton_status baton_st_match(baton_st_file *f, const baton_st_part *parts, int n_parts);

/* Reads the data section front to back, storing matched tensors in their parts' dst (none when
 * baton_st_match was not called) and, when crc is not NULL, continuing *crc over its raw bytes. */
baton_status baton_st_read(baton_st_file *f, uint32_t *crc);
#endif

/* Whether s[0..n) is well-formed UTF-8 as Rust's str accepts it; *bad_at (may be NULL) gets the
 * offset of the first bad byte. */
int baton_st_utf8_valid(const unsigned char *s, size_t n, size_t *bad_at);

/* Whether the NUL-terminated s is well-formed UTF-8. */
int baton_st_str_utf8(const char *s);

#endif
