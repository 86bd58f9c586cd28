/* safetensors.h: a small, strict reader of safetensors files for tests.
 *
 * Format: an 8-byte little-endian header length N, N bytes of JSON (tensor name -> dtype, shape,
 * data_offsets [begin, end) relative to the data section; optional "__metadata__" of strings),
 * then the raw little-endian data. The whole file is read into memory and checked once at open:
 * header within the file, known dtypes (F32, F64, I64), byte ranges that match dtype and shape,
 * lie within the data section and tile it without gaps or overlaps (so a truncated or padded
 * file is rejected, not silently misread). Every failure prints one line to stderr naming the
 * file and, where there is one, the tensor; functions then return -1 or NULL. */
#ifndef BATON_TESTS_SAFETENSORS_H
#define BATON_TESTS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define ST_MAX_NDIM 8

typedef enum {
    ST_F32 = 0,
    ST_F64 = 1,
    ST_I64 = 2,
} st_dtype;

typedef struct {
    const char *name;          /* owned by the st_file's header */
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_NDIM];
    size_t numel;
    const unsigned char *data; /* numel little-endian elements; NOT necessarily aligned for the dtype */
} st_tensor;

struct cJSON;

typedef struct {
    char *path;            /* as given to st_open */
    const char *label;     /* base name of path, used in messages */
    unsigned char *bytes;  /* (size) the whole file */
    size_t size;
    struct cJSON *header;  /* parsed JSON header, kept alive for names and metadata */
    st_tensor *tensors;    /* (count) in header order */
    int count;
} st_file;

/* Reads and validates `path`; 0 on success, -1 (after one stderr line) on any defect. */
int st_open(st_file *f, const char *path);

/* Releases what st_open acquired; safe on a zeroed or already-closed struct. */
void st_close(st_file *f);

/* Tensor called `name`, or NULL (silently) when absent. */
const st_tensor *st_find(const st_file *f, const char *name);

/* Tensor called `name`, or NULL after a message naming the file and the tensor. */
const st_tensor *st_get(const st_file *f, const char *name);

/* Tensor `name` whose shape is exactly (ndim, shape), or NULL after a message giving both shapes. */
const st_tensor *st_get_shaped(const st_file *f, const char *name, int ndim, const int64_t *shape);

/* "F32", "F64" or "I64". */
const char *st_dtype_name(st_dtype dt);

/* Writes "(3,5,6)" for t's shape into out (always terminated). */
void st_shape_str(const st_tensor *t, char *out, size_t n);

/* Tensor `name` as a new malloc'd float array (F32 copied, F64 rounded, I64 converted);
 * NULL after a message when absent or when it does not have exactly `expect` elements. */
float *st_read_float(const st_file *f, const char *name, size_t expect);

/* As st_read_float, into a new malloc'd double array (exact for all three dtypes but huge I64). */
double *st_read_double(const st_file *f, const char *name, size_t expect);

/* Tensor `name`, which must be I64 with `expect` elements all within int's range, as a new
 * malloc'd int array; NULL after a message otherwise. */
int *st_read_int(const st_file *f, const char *name, size_t expect);

/* String value `key` of "__metadata__", or NULL (silently) when absent. */
const char *st_metadata(const st_file *f, const char *key);

/* The "__metadata__" "config" string, or NULL after a message naming the file. */
const char *st_config(const st_file *f);

#endif
