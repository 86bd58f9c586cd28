/* safetensors_read.c: loading and validating safetensors files (safetensors.h). */
#include "baton/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "baton_config.h"

#if BATON_HAVE_CJSON
#include <cJSON.h> /* pkg-config libcjson puts its cjson/ directory on the include path */
#endif

#include "safetensors_internal.h"

/* ---- loading ----------------------------------------------------------------------------------- */

#if !BATON_HAVE_CJSON

static baton_status no_cjson(const char *path)
{
    return BATON_ERROR(BATON_ERR_UNSUPPORTED,
                       "safetensors %s: this build lacks cJSON (libcjson-dev, pkg-config libcjson), so it cannot "
                       "read safetensors files; install it and reconfigure",
                       path ? path : "(no path)");
}

baton_status baton_safetensors_load(const char *path, const baton_param_table *t, float *host)
{
    (void)t;
    (void)host;
    return no_cjson(path);
}

char *baton_safetensors_metadata(const char *path, const char *key, baton_status *st)
{
    (void)key;
    baton_status s = no_cjson(path);
    if (st)
        *st = s;
    return NULL;
}

#else

/* The reference implementation refuses longer headers; a corrupted length must not make us
 * allocate gigabytes either. */
#define ST_MAX_HEADER 100000000ull
/* Most JSON values a header may hold: cJSON takes some 80 bytes for each, so a 100 MB header of
 * tiny values ("[0,0,0,...]") would become gigabytes of nodes; baton's largest checkpoints hold a
 * few thousand, a model of 100000 tensors under a million. */
#define ST_MAX_VALUES 1000000
/* Largest integer a JSON number (a double in cJSON) carries exactly. */
#define ST_MAX_EXACT 9007199254740992.0

typedef struct {
    const char *name; /* owned by the parsed header */
    const char *dtype;
    const cJSON *shape;
    uint64_t numel, begin, end;
    int used;
    float *dst; /* where baton_st_read stores the values; NULL: read for the checksum only */
} st_entry;

struct baton_st_file {
    const char *path;
    FILE *f;
    uint64_t size, header_len, data_size;
    char *text;         /* (header_len + 1) the header, NUL-terminated */
    cJSON *json;
    const cJSON *meta;  /* "__metadata__" or NULL */
    st_entry *e;        /* (n) sorted by name */
    int n;
};
typedef struct baton_st_file st_header;

static void header_close(st_header *h)
{
    if (h->f)
        fclose(h->f);
    cJSON_Delete(h->json);
    free(h->text);
    free(h->e);
    memset(h, 0, sizeof *h);
}

static uint64_t get_u64le(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static float get_f32le(const unsigned char *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* Bytes per element, or 0 for a dtype this reader does not know. */
static unsigned dtype_size(const char *dt)
{
    static const struct {
        const char *name;
        unsigned size;
    } known[] = {
        {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1},
        {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1}, {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"C64", 8},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(dt, known[i].name) == 0)
            return known[i].size;
    return 0;
}

/* A JSON number that is an exact non-negative integer. */
static int json_uint(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v))
        return 0;
    double d = v->valuedouble;
    if (!(d >= 0.0 && d <= ST_MAX_EXACT) || d != (double)(uint64_t)d)
        return 0;
    *out = (uint64_t)d;
    return 1;
}

/* "(24, 4)" into out. */
static void shape_str(char *out, size_t n, int ndim, const uint64_t *dims)
{
    size_t at = 0;
    at += (size_t)snprintf(out, n, "(");
    for (int d = 0; d < ndim && at < n; d++)
        at += (size_t)snprintf(out + at, n - at, "%s%llu", d ? ", " : "", (unsigned long long)dims[d]);
    if (at < n)
        snprintf(out + at, n - at, ")");
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const st_entry *)a)->name, ((const st_entry *)b)->name);
}

static int by_offsets(const void *a, const void *b)
{
    const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* One tensor entry of the header: dtype known, shape and offsets exact integers, size consistent. */
static baton_status parse_entry(const st_header *h, const cJSON *item, st_entry *e)
{
    const char *path = h->path;
    e->name = item->string;
    if (!cJSON_IsObject(item))
        return BATON_ERROR(BATON_ERR_FORMAT, "safetensors %s: tensor '%.64s': expected an object in the header",
                           path, e->name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs))
        return BATON_ERROR(BATON_ERR_FORMAT,
                           "safetensors %s: tensor '%.64s': expected \"dtype\" (string), \"shape\" and "
                           "\"data_offsets\" (arrays) in the header",
                           path, e->name);
    e->dtype = dt->valuestring;
    unsigned esize = dtype_size(e->dtype);
    if (!esize)
        return BATON_ERROR(BATON_ERR_FORMAT, "safetensors %s: tensor '%.64s': unknown dtype '%.16s'", path, e->name,
                           e->dtype);
    e->shape = shape;
    e->numel = 1;
    const cJSON *d;
    cJSON_ArrayForEach(d, shape)
    {
        uint64_t dim;
        if (!json_uint(d, &dim))
            return BATON_ERROR(BATON_ERR_FORMAT,
                               "safetensors %s: tensor '%.64s': shape holds something other than a non-negative "
                               "integer",
                               path, e->name);
        if (dim && e->numel > UINT64_MAX / esize / dim)
            return BATON_ERROR(BATON_ERR_FORMAT, "safetensors %s: tensor '%.64s': shape overflows 64 bits", path,
                               e->name);
        e->numel *= dim;
    }
    if (cJSON_GetArraySize(offs) != 2 || !json_uint(cJSON_GetArrayItem(offs, 0), &e->begin) ||
        !json_uint(cJSON_GetArrayItem(offs, 1), &e->end) || e->end < e->begin)
        return BATON_ERROR(BATON_ERR_FORMAT,
                           "safetensors %s: tensor '%.64s': expected data_offsets [begin, end] with integers "
                           "0 <= begin <= end",
                           path, e->name);
    uint64_t want = e->numel * esize;
    if (e->end - e->begin != want)
        return BATON_ERROR(BATON_ERR_FORMAT,
                           "safetensors %s: tensor '%.64s': data_offsets [%llu, %llu] hold %llu bytes, expected %llu "
                           "(%s, %llu elements)",
                           path, e->name, (unsigned long long)e->begin, (unsigned long long)e->end,
                           (unsigned long long)(e->end - e->begin), (unsigned long long)want, e->dtype,
                           (unsigned long long)e->numel);
    if (e->end > h->data_size)
        return BATON_ERROR(BATON_ERR_FORMAT,
                           "safetensors %s: tensor '%.64s': data_offsets [%llu, %llu] run past the %llu-byte data "
                           "section (truncated file?)",
                           path, e->name, (unsigned long long)e->begin, (unsigned long long)e->end,
                           (unsigned long long)h->data_size);
    return BATON_OK;
}

/* "__metadata__": an object of strings, as the reference implementation requires. */
static baton_status parse_meta(const st_header *h, const cJSON *item)
{
    if (!cJSON_IsObject(item))
        return BATON_ERROR(BATON_ERR_FORMAT, "safetensors %s: \"" ST_META_KEY "\" is not an object", h->path);
    const cJSON *v;
    cJSON_ArrayForEach(v, item)
    {
        if (!cJSON_IsString(v))
            return BATON_ERROR(BATON_ERR_FORMAT, "safetensors %s: metadata '%.64s' is not a string", h->path,
                               v->string);
        for (const cJSON *w = item->child; w != v; w = w->next)
            if (strcmp(w->string, v->string) == 0)
                return BATON_ERROR(BATON_ERR_FORMAT, "safetensors %s: metadata key '%.64s' appears twice", h->path,
                                   v->string);
    }
    return BATON_OK;
}

/* Sorted by offsets, the tensors must tile [0, data_size) exactly. */
static baton_status check_tiling(const st_header *h)
{
    if (h->n == 0) {
        if (h->data_size != 0)
            return BATON_ERROR(BATON_ERR_FORMAT,
                               "safetensors %s: %llu bytes of data follow a header that lists no tensors", h->path,
                               (unsigned long long)h->data_size);
        return BATON_OK;
    }
    const st_entry **order = malloc((size_t)h->n * sizeof *order);
    if (!order)
        return BATON_ERROR(BATON_ERR_OOM, "safetensors %s: cannot allocate %d header entries", h->path, h->n);
    for (int i = 0; i < h->n; i++)
        order[i] = &h->e[i];
    qsort(order, (size_t)h->n, sizeof *order, by_offsets);
    baton_status st = BATON_OK;
    uint64_t pos = 0;
    for (int i = 0; i < h->n && st == BATON_OK; i++) {
        const st_entry *e = order[i];
        if (e->begin < pos)
            st = BATON_ERROR(BATON_ERR_FORMAT,
                             "safetensors %s: tensors '%.64s' and '%.64s' overlap (data_offsets [%llu, %llu] and "
                             "[%llu, %llu])",
                             h->path, order[i - 1]->name, e->name, (unsigned long long)order[i - 1]->begin,
                             (unsigned long long)order[i - 1]->end, (unsigned long long)e->begin,
                             (unsigned long long)e->end);
        else if (e->begin > pos)
            st = BATON_ERROR(BATON_ERR_FORMAT,
                             "safetensors %s: bytes [%llu, %llu) of the data section belong to no tensor (a gap "
                             "before '%.64s')",
                             h->path, (unsigned long long)pos, (unsigned long long)e->begin, e->name);
        pos = e->end;
    }
    if (st == BATON_OK && pos != h->data_size)
        st = BATON_ERROR(BATON_ERR_FORMAT,
                         "safetensors %s: the last %llu bytes of the data section belong to no tensor (the tensors "
                         "end at %llu of %llu)",
                         h->path, (unsigned long long)(h->data_size - pos), (unsigned long long)pos,
                         (unsigned long long)h->data_size);
    free(order);
    return st;
}

/* Catches what cJSON would let through but the reference implementation (serde_json) refuses:
 * a first byte other than '{' (which also rules out a byte-order mark), invalid UTF-8, control
 * bytes (outside strings JSON allows only \t, \n and \r; inside, none), and string escapes other
 * than \" \\ \/ \b \f \n \r \t and \u with four hex digits, which cJSON reads as something else.
 * It also counts the values (more than ST_MAX_VALUES are refused before cJSON allocates a node for
 * each). */
static baton_status check_header_bytes(const st_header *h)
{
    const char *t = h->text;
    size_t n = h->header_len, bad;
    if (t[0] != '{')
        return BATON_ERROR(BATON_ERR_FORMAT,
                           "safetensors %s: the header does not start with '{' (first byte 0x%02x): not safetensors?",
                           h->path, (unsigned char)t[0]);
    if (!baton_st_utf8_valid((const unsigned char *)t, n, &bad))
        return BATON_ERROR(BATON_ERR_FORMAT, "safetensors %s: the header is not valid UTF-8 (at byte %zu of %zu)",
                           h->path, bad, n);
    int in_string = 0;
    size_t values = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (!in_string && (c == ',' || c == '[' || c == '{') && ++values > ST_MAX_VALUES)
            return BATON_ERROR(BATON_ERR_FORMAT,
                               "safetensors %s: the header holds more than %d JSON values (at byte %zu); expected "
                               "tensor entries and metadata",
                               h->path, ST_MAX_VALUES, i);
        if (c < 0x20 && (in_string || (c != '\t' && c != '\n' && c != '\r')))
            return BATON_ERROR(BATON_ERR_FORMAT,
                               "safetensors %s: the header holds the control byte 0x%02x at byte %zu%s", h->path, c, i,
                               in_string ? " inside a string" : "");
        if (c == '"') {
            in_string = !in_string;
        } else if (c == '\\' && in_string) {
            int ok = i + 1 < n && t[i + 1] != '\0' && strchr("\"\\/bfnrtu", t[i + 1]);
            size_t len = ok && t[i + 1] == 'u' ? 6 : 2;
            for (size_t k = i + 2; ok && k < i + len; k++)
                ok = k < n && t[k] != '\0' && strchr("0123456789abcdefABCDEF", t[k]);
            if (!ok)
                return BATON_ERROR(BATON_ERR_FORMAT,
                                   "safetensors %s: the header has an invalid escape at byte %zu: '%.6s'", h->path, i,
                                   t + i); /* t is NUL-terminated at n */
            i += len - 1;
        }
    }
    return BATON_OK;
}

/* Opens path and validates everything but the tensor values; on success the file stays open at an
 * unspecified position. One error line on failure, and h is left closed. */
static baton_status header_open(st_header *h, const char *path)
{
    memset(h, 0, sizeof *h);
    h->path = path;
    h->f = fopen(path, "rb");
    if (!h->f)
        return BATON_ERROR(BATON_ERR_IO, "safetensors: cannot open %s: %s", path, strerror(errno));
    baton_status st = BATON_OK;
    struct stat sb;
    unsigned char len[8];
    if (fstat(fileno(h->f), &sb) != 0) {
        st = BATON_ERROR(BATON_ERR_IO, "safetensors: cannot stat %s: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = BATON_ERROR(BATON_ERR_IO, "safetensors: %s is not a regular file", path);
        goto fail;
    }
    h->size = (uint64_t)sb.st_size;
    if (h->size < 8 || fread(len, 1, 8, h->f) != 8) {
        st = BATON_ERROR(BATON_ERR_FORMAT,
                         "safetensors %s: the file has %llu bytes, expected at least 8 for the header length "
                         "(truncated?)",
                         path, (unsigned long long)h->size);
        goto fail;
    }
    h->header_len = get_u64le(len);
    if (h->header_len < 2 || h->header_len > h->size - 8 || h->header_len > ST_MAX_HEADER) {
        st = BATON_ERROR(BATON_ERR_FORMAT,
                         "safetensors %s: header length %llu does not fit: expected 2 to %llu bytes after the "
                         "8-byte length (file of %llu bytes: truncated, or not safetensors?)",
                         path, (unsigned long long)h->header_len,
                         (unsigned long long)(h->size - 8 < ST_MAX_HEADER ? h->size - 8 : ST_MAX_HEADER),
                         (unsigned long long)h->size);
        goto fail;
    }
    h->data_size = h->size - 8 - h->header_len;
    h->text = malloc((size_t)h->header_len + 1);
    if (!h->text) {
        st = BATON_ERROR(BATON_ERR_OOM, "safetensors %s: cannot allocate a header of %llu bytes", path,
                         (unsigned long long)h->header_len);
        goto fail;
    }
    if (fread(h->text, 1, (size_t)h->header_len, h->f) != h->header_len) {
        st = BATON_ERROR(BATON_ERR_IO, "safetensors %s: cannot read the %llu-byte header: %s", path,
                         (unsigned long long)h->header_len, ferror(h->f) ? strerror(errno) : "the file shrank");
        goto fail;
    }
    h->text[h->header_len] = '\0';
    if ((st = check_header_bytes(h)) != BATON_OK)
        goto fail;
    const char *end = NULL;
    h->json = cJSON_ParseWithLengthOpts(h->text, (size_t)h->header_len, &end, 0);
    if (!h->json) {
        size_t at = end && end >= h->text ? (size_t)(end - h->text) : 0;
        st = BATON_ERROR(BATON_ERR_FORMAT, "safetensors %s: the header is not well-formed JSON (at byte %zu: '%.24s')",
                         path, at, at < h->header_len ? h->text + at : "");
        goto fail;
    }
    for (const char *p = end; p < h->text + h->header_len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            st = BATON_ERROR(BATON_ERR_FORMAT,
                             "safetensors %s: the header has bytes after its JSON object (at byte %td: '%.24s')",
                             path, p - h->text, p);
            goto fail;
        }
    }
    if (!cJSON_IsObject(h->json)) {
        st = BATON_ERROR(BATON_ERR_FORMAT, "safetensors %s: the header is JSON but not an object", path);
        goto fail;
    }
    int count = cJSON_GetArraySize(h->json);
    h->e = calloc(count > 0 ? (size_t)count : 1, sizeof *h->e);
    if (!h->e) {
        st = BATON_ERROR(BATON_ERR_OOM, "safetensors %s: cannot allocate %d header entries", path, count);
        goto fail;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, h->json)
    {
        if (strcmp(item->string, ST_META_KEY) == 0) {
            if (h->meta) {
                st = BATON_ERROR(BATON_ERR_FORMAT, "safetensors %s: \"" ST_META_KEY "\" appears twice", path);
                goto fail;
            }
            h->meta = item;
            if ((st = parse_meta(h, item)) != BATON_OK)
                goto fail;
        } else if ((st = parse_entry(h, item, &h->e[h->n++])) != BATON_OK) {
            goto fail;
        }
    }
    qsort(h->e, (size_t)h->n, sizeof *h->e, by_name);
    for (int i = 1; i < h->n; i++) {
        if (strcmp(h->e[i - 1].name, h->e[i].name) == 0) {
            st = BATON_ERROR(BATON_ERR_FORMAT, "safetensors %s: tensor '%.64s' appears twice in the header", path,
                             h->e[i].name);
            goto fail;
        }
    }
    if ((st = check_tiling(h)) != BATON_OK)
        goto fail;
    return BATON_OK;
fail:
    header_close(h);
    return st;
}

static st_entry *find_entry(const st_header *h, const char *name)
{
    st_entry key = {.name = name};
    return h->n ? bsearch(&key, h->e, (size_t)h->n, sizeof *h->e, by_name) : NULL;
}

/* Tensor `name` present as F32 of p's exact shape; marks it used and sets where it goes. */
static baton_status match_one(st_header *h, const char *name, const baton_param *p, float *dst, int *missing,
                              char *first_missing, size_t fm_size)
{
    const char *path = h->path;
    st_entry *e = find_entry(h, name);
    if (!e) {
        if (!(*missing)++)
            snprintf(first_missing, fm_size, "%s", name);
        return BATON_OK;
    }
    e->used = 1;
    e->dst = dst ? dst + p->offset : NULL;
    if (strcmp(e->dtype, "F32") != 0)
        return BATON_ERROR(BATON_ERR_FORMAT, "safetensors %s: tensor '%s' is %s, expected F32", path, name, e->dtype);
    uint64_t fdims[BATON_PARAM_MAX_NDIM] = {0}, tdims[BATON_PARAM_MAX_NDIM];
    int fndim = cJSON_GetArraySize(e->shape), same = fndim == p->ndim;
    for (int d = 0; d < p->ndim; d++) {
        tdims[d] = (uint64_t)p->shape[d];
        if (d < fndim)
            json_uint(cJSON_GetArrayItem(e->shape, d), &fdims[d]); /* checked by parse_entry */
        same = same && fdims[d] == tdims[d];
    }
    if (!same) {
        char want[128], got[128];
        shape_str(want, sizeof want, p->ndim, tdims);
        if (fndim <= BATON_PARAM_MAX_NDIM)
            shape_str(got, sizeof got, fndim, fdims);
        else
            snprintf(got, sizeof got, "with %d dimensions", fndim);
        return BATON_ERROR(BATON_ERR_FORMAT, "safetensors %s: tensor '%s' has shape %s, expected %s", path, name, got,
                           want);
    }
    return BATON_OK;
}

/* Every part's tensors present as F32 of their exact shapes, and nothing else in the file. */
static baton_status match_parts(st_header *h, const baton_st_part *parts, int n_parts)
{
    const char *path = h->path;
    int missing = 0;
    char first_missing[64 + BATON_PARAM_NAME_MAX] = "", name[64 + BATON_PARAM_NAME_MAX];
    for (int i = 0; i < h->n; i++)
        h->e[i].used = 0, h->e[i].dst = NULL;
    for (int k = 0; k < n_parts; k++) {
        const baton_param_table *t = parts[k].t;
        for (int i = 0; i < t->count; i++) {
            snprintf(name, sizeof name, "%s%s", parts[k].prefix, t->items[i].name);
            BATON_TRY(match_one(h, name, &t->items[i], parts[k].dst, &missing, first_missing, sizeof first_missing));
        }
    }
    if (missing)
        return BATON_ERROR(BATON_ERR_FORMAT,
                           "safetensors %s: %d tensor%s of the model %s missing from the file, e.g. '%s'", path,
                           missing, missing == 1 ? "" : "s", missing == 1 ? "is" : "are", first_missing);
    int extra = 0;
    char names[256] = "";
    size_t at = 0;
    for (int i = 0; i < h->n; i++) {
        if (h->e[i].used)
            continue;
        if (extra++ < 4 && at < sizeof names)
            at += (size_t)snprintf(names + at, sizeof names - at, "%s'%.48s'", extra > 1 ? ", " : "", h->e[i].name);
    }
    if (extra)
        return BATON_ERROR(BATON_ERR_FORMAT, "safetensors %s: %d tensor%s in the file %s not in the model: %s%s", path,
                           extra, extra == 1 ? "" : "s", extra == 1 ? "is" : "are", names,
                           extra > 4 ? ", ..." : "");
    return BATON_OK;
}

/* One tensor's bytes from the current position (the data section is read front to back). */
static baton_status read_entry(st_header *h, const st_entry *e, unsigned char *chunk, uint32_t *crc)
{
    uint64_t bytes = e->end - e->begin;
    for (uint64_t at = 0; at < bytes; at += ST_CHUNK_FLOATS * sizeof(float)) {
        size_t n = (size_t)(bytes - at < ST_CHUNK_FLOATS * sizeof(float) ? bytes - at : ST_CHUNK_FLOATS * sizeof(float));
        if (fread(chunk, 1, n, h->f) != n)
            return BATON_ERROR(BATON_ERR_IO, "safetensors %s: cannot read tensor '%s': %s", h->path, e->name,
                               ferror(h->f) ? strerror(errno) : "the file shrank while loading");
        if (crc)
            *crc = baton_st_crc32(*crc, chunk, n);
        if (e->dst) /* F32 (checked by match_one), and at is a multiple of 4 */
            for (size_t k = 0; k < n / 4; k++)
                e->dst[at / 4 + k] = get_f32le(chunk + 4 * k);
    }
    return BATON_OK;
}

baton_status baton_st_read(st_header *h, uint32_t *crc)
{
    const st_entry **order = malloc((h->n ? (size_t)h->n : 1) * sizeof *order);
    unsigned char *chunk = malloc(ST_CHUNK_FLOATS * sizeof(float));
    baton_status st = BATON_OK;
    if (!order || !chunk)
        st = BATON_ERROR(BATON_ERR_OOM, "safetensors %s: cannot allocate a read buffer", h->path);
    uint64_t pos = 8 + h->header_len;
    /* a 32-bit off_t (no large-file support) cannot reach past 2 GiB */
    uint64_t off_max = sizeof(off_t) >= 8 ? (uint64_t)INT64_MAX : (uint64_t)INT32_MAX;
    if (st == BATON_OK && (pos > off_max || fseeko(h->f, (off_t)pos, SEEK_SET) != 0))
        st = BATON_ERROR(BATON_ERR_IO, "safetensors %s: cannot seek to the data at byte %llu: %s", h->path,
                         (unsigned long long)pos, strerror(errno));
    for (int i = 0; st == BATON_OK && i < h->n; i++)
        order[i] = &h->e[i];
    if (st == BATON_OK && h->n)
        qsort(order, (size_t)h->n, sizeof *order, by_offsets); /* they tile the data section (check_tiling) */
    for (int i = 0; st == BATON_OK && i < h->n; i++)
        st = read_entry(h, order[i], chunk, crc);
    free(chunk);
    free(order);
    return st;
}

baton_status baton_safetensors_load(const char *path, const baton_param_table *t, float *host)
{
    BATON_REQUIRE(path && t, "safetensors load: expected a path and a parameter table");
    BATON_REQUIRE(host || t->count == 0, "safetensors load %s: expected a host parameter buffer, got NULL", path);
    st_header h;
    BATON_TRY(header_open(&h, path));
    baton_st_part part = {.prefix = "", .t = t, .dst = host};
    baton_status st = match_parts(&h, &part, 1);
    if (st == BATON_OK)
        st = baton_st_read(&h, NULL);
    header_close(&h);
    return st;
}

char *baton_safetensors_metadata(const char *path, const char *key, baton_status *st)
{
    baton_status ignored;
    if (!st)
        st = &ignored;
    if (!path || !key) {
        *st = BATON_ERROR(BATON_ERR_INVALID, "safetensors metadata: expected a path and a key");
        return NULL;
    }
    st_header h;
    if ((*st = header_open(&h, path)) != BATON_OK)
        return NULL;
    const cJSON *v = h.meta ? cJSON_GetObjectItemCaseSensitive(h.meta, key) : NULL;
    char *out = NULL;
    if (v && !(out = strdup(v->valuestring)))
        *st = BATON_ERROR(BATON_ERR_OOM, "safetensors %s: cannot copy metadata '%.64s'", path, key);
    header_close(&h);
    return out;
}

/* ---- the open-file interface of safetensors_internal.h (checkpoints) ------------------------- */

baton_status baton_st_open(baton_st_file **f, const char *path)
{
    *f = malloc(sizeof **f);
    if (!*f)
        return BATON_ERROR(BATON_ERR_OOM, "safetensors %s: cannot allocate a file handle", path);
    baton_status st = header_open(*f, path);
    if (st != BATON_OK) {
        free(*f);
        *f = NULL;
    }
    return st;
}

void baton_st_close(baton_st_file *f)
{
    if (f)
        header_close(f);
    free(f);
}

const char *baton_st_meta_get(const baton_st_file *f, const char *key)
{
    const cJSON *v = f->meta ? cJSON_GetObjectItemCaseSensitive(f->meta, key) : NULL;
    return v ? v->valuestring : NULL; /* strings only (parse_meta) */
}

int baton_st_meta_count(const baton_st_file *f)
{
    return f->meta ? cJSON_GetArraySize(f->meta) : 0;
}

const char *baton_st_meta_at(const baton_st_file *f, int i, const char **key)
{
    const cJSON *v = cJSON_GetArrayItem(f->meta, i);
    *key = v->string;
    return v->valuestring;
}

int baton_st_count_prefix(const baton_st_file *f, const char *prefix)
{
    size_t n = strlen(prefix);
    int count = 0;
    for (int i = 0; i < f->n; i++)
        count += strncmp(f->e[i].name, prefix, n) == 0;
    return count;
}

baton_status baton_st_match(baton_st_file *f, const baton_st_part *parts, int n_parts)
{
    return match_parts(f, parts, n_parts);
}

#endif
