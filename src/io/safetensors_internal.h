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
 * - Load refuses what the reference implementation (Rust safetensors with serde_json) refuses, even
 *   where cJSON alone would accept it and read something else: a header that does not start with
 *   '{', invalid UTF-8, control bytes, malformed string escapes, a header over 100 MB; and a name
 *   given twice, which the format forbids. Offsets are checked as the reference does: sorted by
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

_Static_assert(sizeof(float) == sizeof(uint32_t), "safetensors F32 needs a 32-bit float");

#define ST_META_KEY "__metadata__"
#define ST_CHUNK_FLOATS 16384

/* Whether s[0..n) is well-formed UTF-8 as Rust's str accepts it; *bad_at (may be NULL) gets the
 * offset of the first bad byte. */
int baton_st_utf8_valid(const unsigned char *s, size_t n, size_t *bad_at);

/* Whether the NUL-terminated s is well-formed UTF-8. */
int baton_st_str_utf8(const char *s);

#endif
