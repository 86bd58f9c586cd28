/* safetensors_write.c: saving a parameter table as safetensors, atomically (safetensors.h). */
#include "baton/safetensors.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton_config.h"

#if BATON_HAVE_CJSON
#include <cJSON.h> /* pkg-config libcjson puts its cjson/ directory on the include path */
#endif

#include "baton/atomic_file.h"
#include "safetensors_internal.h"

/* ---- shared helpers ---------------------------------------------------------------------------- */

/* Whether s is well-formed UTF-8: no overlong forms, surrogates or code points above U+10FFFF,
 * which is what Rust's str (and so Python's safetensors) accepts. */
int baton_st_utf8_valid(const unsigned char *s, size_t n, size_t *bad_at)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned min, cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, min = 0x80, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, min = 0x800, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, min = 0x10000, cp = c & 0x07;
        } else {
            break;
        }
        if (n - i < len)
            break;
        size_t k = 1;
        for (; k < len && (s[i + k] & 0xc0) == 0x80; k++)
            cp = cp << 6 | (s[i + k] & 0x3f);
        if (k < len || cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            break;
        i += len;
    }
    if (bad_at)
        *bad_at = i;
    return i == n;
}

int baton_st_str_utf8(const char *s)
{
    return baton_st_utf8_valid((const unsigned char *)s, strlen(s), NULL);
}

/* Slicing-by-8 tables, made on first use: a checkpoint's checksum runs over every tensor byte
 * twice (save and load), and this is several times faster than one table lookup per byte. */
static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[0][i] = c;
    }
    for (int s = 1; s < 8; s++)
        for (int i = 0; i < 256; i++)
            crc_table[s][i] = crc_table[s - 1][i] >> 8 ^ crc_table[0][crc_table[s - 1][i] & 0xff];
}

uint32_t baton_st_crc32(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&crc_once, crc_init);
    const unsigned char *b = p;
    uint32_t c = ~crc;
    for (; n >= 8; n -= 8, b += 8) {
        uint32_t lo = c ^ ((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
        c = crc_table[7][lo & 0xff] ^ crc_table[6][lo >> 8 & 0xff] ^ crc_table[5][lo >> 16 & 0xff] ^
            crc_table[4][lo >> 24] ^ crc_table[3][b[4]] ^ crc_table[2][b[5]] ^ crc_table[1][b[6]] ^ crc_table[0][b[7]];
    }
    while (n--)
        c = crc_table[0][(c ^ *b++) & 0xff] ^ c >> 8;
    return ~c;
}

/* ---- saving ------------------------------------------------------------------------------------ */

/* A growing string; an allocation failure is remembered and reported once at the end. */
typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_u64(sbuf *b, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    sb_put(b, tmp, (size_t)n);
}

/* The body of s as a JSON string literal (no quotes). Bytes >= 0x80 pass through: the caller has
 * checked they are UTF-8. */
static void sb_json_body(sbuf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        const char *esc = NULL;
        char u[8];
        switch (*p) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            if (*p < 0x20) {
                snprintf(u, sizeof u, "\\u%04x", *p);
                esc = u;
            }
        }
        if (esc)
            sb_str(b, esc);
        else
            sb_put(b, (const char *)p, 1);
    }
}

/* prefix followed by s, as one JSON string literal. */
static void sb_json_name(sbuf *b, const char *prefix, const char *s)
{
    sb_put(b, "\"", 1);
    sb_json_body(b, prefix);
    sb_json_body(b, s);
    sb_put(b, "\"", 1);
}

static void sb_json_string(sbuf *b, const char *s)
{
    sb_json_name(b, "", s);
}

static void put_u64le(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_f32le(unsigned char *p, float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    p[0] = (unsigned char)u;
    p[1] = (unsigned char)(u >> 8);
    p[2] = (unsigned char)(u >> 16);
    p[3] = (unsigned char)(u >> 24);
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* With several parts, prefix + name must not repeat across them (each table is unique already). */
static baton_status check_distinct(const char *path, const baton_st_part *parts, int n_parts)
{
    int total = 0;
    for (int i = 0; i < n_parts; i++)
        total += parts[i].t->count;
    if (n_parts < 2 || total < 2)
        return BATON_OK;
    size_t width = 64 + BATON_PARAM_NAME_MAX;
    char *names = malloc((size_t)total * width);
    char **order = malloc((size_t)total * sizeof *order);
    baton_status st = BATON_OK;
    if (!names || !order)
        st = BATON_ERROR(BATON_ERR_OOM, "safetensors save %s: cannot allocate %d names", path, total);
    for (int i = 0, k = 0; st == BATON_OK && i < n_parts; i++)
        for (int j = 0; j < parts[i].t->count; j++, k++) {
            order[k] = names + (size_t)k * width;
            snprintf(order[k], width, "%s%s", parts[i].prefix, parts[i].t->items[j].name);
        }
    if (st == BATON_OK)
        qsort(order, (size_t)total, sizeof *order, by_str);
    for (int k = 1; st == BATON_OK && k < total; k++)
        if (strcmp(order[k - 1], order[k]) == 0)
            st = BATON_ERROR(BATON_ERR_INVALID, "safetensors save %s: tensor name '%.160s' would appear twice", path,
                             order[k]);
    free(order);
    free(names);
    return st;
}

/* Checks what the header will say before anything touches the disk. */
static baton_status check_save_args(const char *path, const baton_st_part *parts, int n_parts,
                                    const char *const *keys, const char *const *values, int n_meta)
{
    BATON_REQUIRE(path && n_parts >= 0 && (parts || n_parts == 0),
                  "safetensors save: expected a path and parameter tables");
    for (int i = 0; i < n_parts; i++) {
        const baton_param_table *t = parts[i].t;
        BATON_REQUIRE(t, "safetensors save %s: expected a parameter table, got NULL", path);
        BATON_REQUIRE(parts[i].src || t->count == 0, "safetensors save %s: expected a host parameter buffer, got NULL",
                      path);
        BATON_REQUIRE(parts[i].prefix && strlen(parts[i].prefix) < 64 && baton_st_str_utf8(parts[i].prefix),
                      "safetensors save %s: expected a UTF-8 name prefix under 64 bytes", path);
    }
    BATON_REQUIRE(n_meta >= 0 && (n_meta == 0 || (keys && values)),
                  "safetensors save %s: expected n_meta >= 0 with key and value arrays, got %d", path, n_meta);
    for (int i = 0; i < n_meta; i++) {
        BATON_REQUIRE(keys[i] && values[i], "safetensors save %s: metadata pair %d has a NULL key or value", path, i);
        BATON_REQUIRE(baton_st_str_utf8(keys[i]) && baton_st_str_utf8(values[i]),
                      "safetensors save %s: metadata '%.64s' is not valid UTF-8 (key or value)", path, keys[i]);
        for (int j = 0; j < i; j++)
            BATON_REQUIRE(strcmp(keys[i], keys[j]) != 0, "safetensors save %s: metadata key '%.64s' is given twice",
                          path, keys[i]);
    }
    for (int k = 0; k < n_parts; k++) {
        const baton_param_table *t = parts[k].t;
        for (int i = 0; i < t->count; i++) {
            const char *name = t->items[i].name;
            BATON_REQUIRE(baton_st_str_utf8(name), "safetensors save %s: parameter %d's name is not valid UTF-8", path,
                          i);
            BATON_REQUIRE(parts[k].prefix[0] || strcmp(name, ST_META_KEY) != 0,
                          "safetensors save %s: a parameter may not be called '" ST_META_KEY "'", path);
        }
    }
    return check_distinct(path, parts, n_parts);
}

/* The JSON header, padded with spaces to a multiple of 8 bytes. */
static baton_status build_header(sbuf *b, const char *path, const baton_st_part *parts, int n_parts,
                                 const char *const *keys, const char *const *values, int n_meta)
{
    sb_put(b, "{", 1);
    int first = 1;
    if (n_meta > 0) {
        sb_str(b, "\"" ST_META_KEY "\":{");
        for (int i = 0; i < n_meta; i++) {
            if (i)
                sb_put(b, ",", 1);
            sb_json_string(b, keys[i]);
            sb_put(b, ":", 1);
            sb_json_string(b, values[i]);
        }
        sb_put(b, "}", 1);
        first = 0;
    }
    uint64_t offset = 0;
    for (int k = 0; k < n_parts; k++) {
        for (int i = 0; i < parts[k].t->count; i++) {
            const baton_param *p = &parts[k].t->items[i];
            BATON_REQUIRE(p->numel <= (UINT64_MAX - offset) / sizeof(float),
                          "safetensors save %s: the tensors exceed 2^64 bytes", path);
            uint64_t end = offset + (uint64_t)p->numel * sizeof(float);
            if (!first)
                sb_put(b, ",", 1);
            first = 0;
            sb_json_name(b, parts[k].prefix, p->name);
            sb_str(b, ":{\"dtype\":\"F32\",\"shape\":[");
            for (int d = 0; d < p->ndim; d++) {
                if (d)
                    sb_put(b, ",", 1);
                sb_u64(b, (uint64_t)p->shape[d]);
            }
            sb_str(b, "],\"data_offsets\":[");
            sb_u64(b, offset);
            sb_put(b, ",", 1);
            sb_u64(b, end);
            sb_str(b, "]}");
            offset = end;
        }
    }
    sb_put(b, "}", 1);
    while (!b->oom && b->len % 8)
        sb_put(b, " ", 1);
    if (b->oom)
        return BATON_ERROR(BATON_ERR_OOM, "safetensors save %s: cannot allocate the header", path);
    return BATON_OK;
}

/* One part's tensors, in table order, little-endian through chunk; *pause_in counts tensors down to
 * the test hook's pause (baton_fault_write_pause). */
static baton_status write_part(FILE *f, const char *path, const char *tmp, const baton_st_part *part,
                               unsigned char *chunk, int *pause_in)
{
    const baton_param_table *t = part->t;
    for (int i = 0; i < t->count; i++) {
        const float *src = part->src + t->items[i].offset;
        size_t numel = t->items[i].numel;
        for (size_t at = 0; at < numel; at += ST_CHUNK_FLOATS) {
            size_t n = numel - at < ST_CHUNK_FLOATS ? numel - at : ST_CHUNK_FLOATS;
            for (size_t k = 0; k < n; k++)
                put_f32le(chunk + 4 * k, src[at + k]);
            if (fwrite(chunk, sizeof(float), n, f) != n)
                return BATON_ERROR(BATON_ERR_IO, "cannot write %s (tensor '%s%s' into %s): %s; %s is unchanged", path,
                                   part->prefix, t->items[i].name, tmp, strerror(errno), path);
        }
        if (--*pause_in == 0)
            baton_fault_write_pause();
    }
    return BATON_OK;
}

static baton_status write_body(FILE *f, const char *path, const char *tmp, const sbuf *hdr, const baton_st_part *parts,
                               int n_parts)
{
    unsigned char len[8];
    put_u64le(len, hdr->len);
    if (fwrite(len, 1, sizeof len, f) != sizeof len || fwrite(hdr->p, 1, hdr->len, f) != hdr->len)
        return BATON_ERROR(BATON_ERR_IO, "cannot write %s (its header into %s): %s; %s is unchanged", path, tmp,
                           strerror(errno), path);
    unsigned char *chunk = malloc(ST_CHUNK_FLOATS * sizeof(float));
    if (!chunk)
        return BATON_ERROR(BATON_ERR_OOM, "cannot write %s: no memory for a write buffer; %s is unchanged", path, path);
    int pause_in = 1; /* the test hook pauses after the first tensor: a partial file, on any disk with room for one */
    baton_status st = BATON_OK;
    for (int k = 0; k < n_parts && st == BATON_OK; k++)
        st = write_part(f, path, tmp, &parts[k], chunk, &pause_in);
    free(chunk);
    return st;
}

baton_status baton_safetensors_save(const char *path, const baton_param_table *t, const float *host,
                                    const char *const *meta_keys, const char *const *meta_values, int n_meta)
{
    BATON_REQUIRE(path && t, "safetensors save: expected a path and a parameter table");
    baton_st_part part = {.prefix = "", .t = t, .src = host};
    return baton_st_save_parts(path, &part, 1, meta_keys, meta_values, n_meta);
}

baton_status baton_st_save_parts(const char *path, const baton_st_part *parts, int n_parts,
                                 const char *const *meta_keys, const char *const *meta_values, int n_meta)
{
    BATON_TRY(check_save_args(path, parts, n_parts, meta_keys, meta_values, n_meta));
    sbuf hdr = {0};
    baton_status st = build_header(&hdr, path, parts, n_parts, meta_keys, meta_values, n_meta);
    if (st != BATON_OK) {
        free(hdr.p);
        return st;
    }
    baton_atomic_file a;
    st = baton_atomic_open(&a, path, "wb");
    if (st == BATON_OK) {
        st = write_body(a.f, path, a.tmp, &hdr, parts, n_parts);
        if (st == BATON_OK)
            st = baton_atomic_commit(&a);
        else
            baton_atomic_abort(&a); /* no partial file left behind */
    }
    free(hdr.p);
    return st;
}

