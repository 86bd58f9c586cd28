/* safetensors.c: see safetensors.h. Everything is validated once in st_open so that the readers
 * below can trust offsets and sizes. Values are decoded byte by byte from little-endian, which
 * also copes with data offsets that are not aligned for the element type (the format does not
 * promise alignment) and would keep working on a big-endian host. */
#include "safetensors.h"

#include <cJSON.h> /* pkg-config libcjson puts its cjson/ directory on the include path */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest integer a JSON number (a double in cJSON) carries exactly. */
#define ST_MAX_EXACT 9007199254740992.0

static void st_err(const st_file *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void st_err(const st_file *f, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "fixture %s: ", f && f->label ? f->label : "(unnamed)");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static uint64_t le_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t le_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float get_f32(const unsigned char *p)
{
    uint32_t u = le_u32(p);
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static double get_f64(const unsigned char *p)
{
    uint64_t u = le_u64(p);
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static int64_t get_i64(const unsigned char *p)
{
    uint64_t u = le_u64(p);
    int64_t v;
    memcpy(&v, &u, sizeof v); /* two's complement reinterpretation without implementation-defined casts */
    return v;
}

static size_t dtype_size(st_dtype dt)
{
    return dt == ST_F32 ? 4 : 8;
}

const char *st_dtype_name(st_dtype dt)
{
    switch (dt) {
    case ST_F32: return "F32";
    case ST_F64: return "F64";
    case ST_I64: return "I64";
    }
    return "?";
}

void st_shape_str(const st_tensor *t, char *out, size_t n)
{
    size_t used = 0;
    if (n == 0)
        return;
    out[0] = '\0';
    used += (size_t)snprintf(out, n, "(");
    for (int d = 0; d < t->ndim && used < n; d++)
        used += (size_t)snprintf(out + used, n - used, d ? ",%lld" : "%lld", (long long)t->shape[d]);
    if (used < n)
        snprintf(out + used, n - used, ")");
}

/* A JSON number that is a non-negative integer representable exactly; -1 otherwise. */
static int json_uint(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j))
        return -1;
    double v = j->valuedouble;
    if (!(v >= 0.0) || v > ST_MAX_EXACT || v != (double)(uint64_t)v)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

typedef struct {
    uint64_t begin, end;
    int index;
} st_range;

static int range_cmp(const void *a, const void *b)
{
    const st_range *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Fills one tensor from its header entry; checks dtype, shape and that its byte range fits. */
static int parse_entry(st_file *f, const cJSON *e, st_tensor *t, st_range *r, uint64_t data_size)
{
    const char *name = e->string;
    t->name = name;
    if (!cJSON_IsObject(e)) {
        st_err(f, "tensor '%s': header entry is not a JSON object", name);
        return -1;
    }
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off)) {
        st_err(f, "tensor '%s': header entry needs \"dtype\" (string), \"shape\" and \"data_offsets\" (arrays)",
               name);
        return -1;
    }
    if (strcmp(dt->valuestring, "F32") == 0)
        t->dtype = ST_F32;
    else if (strcmp(dt->valuestring, "F64") == 0)
        t->dtype = ST_F64;
    else if (strcmp(dt->valuestring, "I64") == 0)
        t->dtype = ST_I64;
    else {
        st_err(f, "tensor '%s': dtype '%s' is not supported (expected F32, F64 or I64)", name, dt->valuestring);
        return -1;
    }
    int ndim = cJSON_GetArraySize(sh);
    if (ndim > ST_MAX_NDIM) {
        st_err(f, "tensor '%s': %d dimensions, at most %d supported", name, ndim, ST_MAX_NDIM);
        return -1;
    }
    t->ndim = ndim;
    size_t esize = dtype_size(t->dtype);
    uint64_t numel = 1;
    int d = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, sh) {
        uint64_t v;
        if (json_uint(it, &v) != 0) {
            st_err(f, "tensor '%s': shape entry %d is not a non-negative integer", name, d);
            return -1;
        }
        t->shape[d++] = (int64_t)v;
        /* Overflow guard: the product must stay a byte count that fits in size_t. */
        if (v != 0 && numel > (uint64_t)(SIZE_MAX / esize) / v) {
            st_err(f, "tensor '%s': shape overflows the address space", name);
            return -1;
        }
        numel *= v;
    }
    t->numel = (size_t)numel;

    uint64_t b, en;
    if (cJSON_GetArraySize(off) != 2 || json_uint(cJSON_GetArrayItem(off, 0), &b) != 0 ||
        json_uint(cJSON_GetArrayItem(off, 1), &en) != 0 || b > en) {
        st_err(f, "tensor '%s': data_offsets must be [begin, end] with 0 <= begin <= end", name);
        return -1;
    }
    if (en - b != numel * esize) {
        char s[128];
        st_shape_str(t, s, sizeof s);
        st_err(f, "tensor '%s': data_offsets [%llu, %llu) hold %llu bytes, but %s %s needs %llu", name,
               (unsigned long long)b, (unsigned long long)en, (unsigned long long)(en - b),
               st_dtype_name(t->dtype), s, (unsigned long long)(numel * esize));
        return -1;
    }
    if (en > data_size) {
        st_err(f, "tensor '%s': data [%llu, %llu) lies beyond the %llu-byte data section (file truncated?)", name,
               (unsigned long long)b, (unsigned long long)en, (unsigned long long)data_size);
        return -1;
    }
    r->begin = b;
    r->end = en;
    return 0;
}

static int read_whole_file(st_file *f)
{
    FILE *fp = fopen(f->path, "rb");
    if (!fp) {
        st_err(f, "cannot open %s: %s", f->path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            st_err(f, "out of memory reading %s", f->path);
            fclose(fp);
            return -1;
        }
        n += fread(buf + n, 1, cap - n, fp);
        if (n < cap)
            break;
        unsigned char *grown = realloc(buf, cap * 2);
        if (!grown)
            free(buf);
        buf = grown;
        cap *= 2;
    }
    int bad = ferror(fp);
    fclose(fp);
    if (bad) {
        st_err(f, "read error on %s", f->path);
        free(buf);
        return -1;
    }
    f->bytes = buf;
    f->size = n;
    return 0;
}

int st_open(st_file *f, const char *path)
{
    memset(f, 0, sizeof *f);
    f->path = malloc(strlen(path) + 1);
    if (!f->path) {
        fprintf(stderr, "fixture %s: out of memory\n", path);
        return -1;
    }
    strcpy(f->path, path);
    const char *slash = strrchr(f->path, '/');
    f->label = slash ? slash + 1 : f->path;

    if (read_whole_file(f) != 0)
        goto fail;
    if (f->size < 8) {
        st_err(f, "%zu bytes, shorter than the 8-byte header length (file truncated?)", f->size);
        goto fail;
    }
    uint64_t hlen = le_u64(f->bytes);
    if (hlen == 0 || hlen > f->size - 8) {
        st_err(f, "header length %llu does not fit in the %zu bytes after the length field (file truncated or "
               "not safetensors?)",
               (unsigned long long)hlen, f->size - 8);
        goto fail;
    }
    const char *hjson = (const char *)f->bytes + 8;
    const char *end = NULL;
    f->header = cJSON_ParseWithLengthOpts(hjson, (size_t)hlen, &end, 0);
    if (!f->header) {
        const char *at = cJSON_GetErrorPtr();
        long pos = at && at >= hjson && at <= hjson + hlen ? (long)(at - hjson) : -1;
        st_err(f, "header is not valid JSON (error near byte %ld of %llu)", pos, (unsigned long long)hlen);
        goto fail;
    }
    /* The writer pads the header with spaces to an 8-byte boundary; anything else after the
     * JSON value means a corrupt or mis-sized header. */
    for (const char *p = end; p && p < hjson + hlen; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            st_err(f, "unexpected bytes after the JSON header at byte %ld of %llu", (long)(p - hjson),
                   (unsigned long long)hlen);
            goto fail;
        }
    }
    if (!cJSON_IsObject(f->header)) {
        st_err(f, "header is not a JSON object");
        goto fail;
    }

    uint64_t data_size = f->size - 8 - hlen;
    int n = cJSON_GetArraySize(f->header);
    f->tensors = calloc(n > 0 ? (size_t)n : 1, sizeof *f->tensors);
    st_range *ranges = calloc(n > 0 ? (size_t)n : 1, sizeof *ranges);
    if (!f->tensors || !ranges) {
        free(ranges);
        st_err(f, "out of memory for %d header entries", n);
        goto fail;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, f->header) {
        if (strcmp(e->string, "__metadata__") == 0) {
            const cJSON *m;
            if (!cJSON_IsObject(e)) {
                st_err(f, "__metadata__ is not a JSON object");
                free(ranges);
                goto fail;
            }
            cJSON_ArrayForEach(m, e) {
                if (!cJSON_IsString(m)) {
                    st_err(f, "__metadata__ \"%s\" is not a string", m->string);
                    free(ranges);
                    goto fail;
                }
            }
            continue;
        }
        for (int i = 0; i < f->count; i++) {
            if (strcmp(f->tensors[i].name, e->string) == 0) {
                st_err(f, "tensor '%s' appears twice in the header", e->string);
                free(ranges);
                goto fail;
            }
        }
        st_tensor *t = &f->tensors[f->count];
        if (parse_entry(f, e, t, &ranges[f->count], data_size) != 0) {
            free(ranges);
            goto fail;
        }
        t->data = f->bytes + 8 + hlen + ranges[f->count].begin;
        ranges[f->count].index = f->count;
        f->count++;
    }

    /* The format requires the tensors to tile the data section exactly; a hole or an overlap
     * means the header and the data disagree, and trailing bytes mean a mis-sized file. */
    qsort(ranges, (size_t)f->count, sizeof *ranges, range_cmp);
    uint64_t at = 0;
    for (int i = 0; i < f->count; i++) {
        if (ranges[i].begin != at) {
            st_err(f, "tensor '%s': data starts at byte %llu, expected %llu (%s between tensors)",
                   f->tensors[ranges[i].index].name, (unsigned long long)ranges[i].begin, (unsigned long long)at,
                   ranges[i].begin > at ? "hole" : "overlap");
            free(ranges);
            goto fail;
        }
        at = ranges[i].end;
    }
    free(ranges);
    if (at != data_size) {
        st_err(f, "%llu trailing bytes after the last tensor's data", (unsigned long long)(data_size - at));
        goto fail;
    }
    return 0;

fail:
    st_close(f);
    return -1;
}

void st_close(st_file *f)
{
    if (f->header)
        cJSON_Delete(f->header);
    free(f->tensors);
    free(f->bytes);
    free(f->path);
    memset(f, 0, sizeof *f);
}

const st_tensor *st_find(const st_file *f, const char *name)
{
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return &f->tensors[i];
    return NULL;
}

const st_tensor *st_get(const st_file *f, const char *name)
{
    const st_tensor *t = st_find(f, name);
    if (!t)
        st_err(f, "no tensor '%s'", name);
    return t;
}

const st_tensor *st_get_shaped(const st_file *f, const char *name, int ndim, const int64_t *shape)
{
    const st_tensor *t = st_get(f, name);
    if (!t)
        return NULL;
    int same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++)
        same = t->shape[d] == shape[d];
    if (!same) {
        st_tensor want = {.ndim = ndim};
        char have[128], exp[128];
        for (int d = 0; d < ndim && d < ST_MAX_NDIM; d++)
            want.shape[d] = shape[d];
        st_shape_str(t, have, sizeof have);
        st_shape_str(&want, exp, sizeof exp);
        st_err(f, "tensor '%s' has shape %s, expected %s", name, have, exp);
        return NULL;
    }
    return t;
}

/* The tensor with exactly `expect` elements, or NULL after a message. */
static const st_tensor *get_counted(const st_file *f, const char *name, size_t expect)
{
    const st_tensor *t = st_get(f, name);
    if (t && t->numel != expect) {
        char s[128];
        st_shape_str(t, s, sizeof s);
        st_err(f, "tensor '%s' has shape %s, expected %zu elements", name, s, expect);
        return NULL;
    }
    return t;
}

static void *alloc_elems(const st_file *f, const char *name, size_t n, size_t esize)
{
    void *p = malloc(n ? n * esize : 1);
    if (!p)
        st_err(f, "tensor '%s': out of memory for %zu elements", name, n);
    return p;
}

double *st_read_double(const st_file *f, const char *name, size_t expect)
{
    const st_tensor *t = get_counted(f, name, expect);
    if (!t)
        return NULL;
    double *out = alloc_elems(f, name, t->numel, sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; i < t->numel; i++) {
        const unsigned char *p = t->data + i * dtype_size(t->dtype);
        out[i] = t->dtype == ST_F32 ? (double)get_f32(p) : t->dtype == ST_F64 ? get_f64(p) : (double)get_i64(p);
    }
    return out;
}

float *st_read_float(const st_file *f, const char *name, size_t expect)
{
    const st_tensor *t = get_counted(f, name, expect);
    if (!t)
        return NULL;
    float *out = alloc_elems(f, name, t->numel, sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; i < t->numel; i++) {
        const unsigned char *p = t->data + i * dtype_size(t->dtype);
        out[i] = t->dtype == ST_F32 ? get_f32(p) : t->dtype == ST_F64 ? (float)get_f64(p) : (float)get_i64(p);
    }
    return out;
}

int *st_read_int(const st_file *f, const char *name, size_t expect)
{
    const st_tensor *t = get_counted(f, name, expect);
    if (!t)
        return NULL;
    if (t->dtype != ST_I64) {
        st_err(f, "tensor '%s' has dtype %s, expected I64", name, st_dtype_name(t->dtype));
        return NULL;
    }
    int *out = alloc_elems(f, name, t->numel, sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; i < t->numel; i++) {
        int64_t v = get_i64(t->data + i * 8);
        if (v < INT_MIN || v > INT_MAX) {
            st_err(f, "tensor '%s' element %zu = %lld does not fit in int", name, i, (long long)v);
            free(out);
            return NULL;
        }
        out[i] = (int)v;
    }
    return out;
}

const char *st_metadata(const st_file *f, const char *key)
{
    if (!f->header)
        return NULL;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(f->header, "__metadata__");
    const cJSON *v = m ? cJSON_GetObjectItemCaseSensitive(m, key) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *st_config(const st_file *f)
{
    const char *c = st_metadata(f, "config");
    if (!c)
        st_err(f, "no __metadata__ \"config\" string");
    return c;
}
