/* safetensors_write.c: saving a parameter table as safetensors, atomically (safetensors.h). */
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

/* s as a JSON string literal. Bytes >= 0x80 pass through: the caller has checked they are UTF-8. */
static void sb_json_string(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
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
    sb_put(b, "\"", 1);
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

/* Checks what the header will say before anything touches the disk. */
static baton_status check_save_args(const char *path, const baton_param_table *t, const float *host,
                                    const char *const *keys, const char *const *values, int n_meta)
{
    BATON_REQUIRE(path && t, "safetensors save: expected a path and a parameter table");
    BATON_REQUIRE(host || t->count == 0, "safetensors save %s: expected a host parameter buffer, got NULL", path);
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
    for (int i = 0; i < t->count; i++) {
        const char *name = t->items[i].name;
        BATON_REQUIRE(baton_st_str_utf8(name), "safetensors save %s: parameter %d's name is not valid UTF-8", path, i);
        BATON_REQUIRE(strcmp(name, ST_META_KEY) != 0,
                      "safetensors save %s: a parameter may not be called '" ST_META_KEY "'", path);
    }
    return BATON_OK;
}

/* The JSON header, padded with spaces to a multiple of 8 bytes. */
static baton_status build_header(sbuf *b, const char *path, const baton_param_table *t,
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
    for (int i = 0; i < t->count; i++) {
        const baton_param *p = &t->items[i];
        BATON_REQUIRE(p->numel <= (UINT64_MAX - offset) / sizeof(float),
                      "safetensors save %s: the tensors exceed 2^64 bytes", path);
        uint64_t end = offset + (uint64_t)p->numel * sizeof(float);
        if (!first)
            sb_put(b, ",", 1);
        first = 0;
        sb_json_string(b, p->name);
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
    sb_put(b, "}", 1);
    while (!b->oom && b->len % 8)
        sb_put(b, " ", 1);
    if (b->oom)
        return BATON_ERROR(BATON_ERR_OOM, "safetensors save %s: cannot allocate the header", path);
    return BATON_OK;
}

/* Makes the rename itself durable: without it, a crash right after save returns could bring back
 * the old directory entry. Filesystems that cannot sync a directory say EINVAL; nothing more can
 * be done there. */
static baton_status sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash) {
        dir = strdup(".");
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        dir = malloc(n + 1);
        if (dir) {
            memcpy(dir, path, n);
            dir[n] = '\0';
        }
    }
    if (!dir)
        return BATON_ERROR(BATON_ERR_OOM, "safetensors save %s: cannot allocate a directory name", path);
    baton_status st = BATON_OK;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL))
        st = BATON_ERROR(BATON_ERR_IO, "safetensors save %s: wrote the file but cannot sync its directory %s: %s",
                         path, dir, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(dir);
    return st;
}

static baton_status write_body(FILE *f, const char *tmp, const sbuf *hdr, const baton_param_table *t,
                               const float *host)
{
    unsigned char len[8];
    put_u64le(len, hdr->len);
    if (fwrite(len, 1, sizeof len, f) != sizeof len || fwrite(hdr->p, 1, hdr->len, f) != hdr->len)
        return BATON_ERROR(BATON_ERR_IO, "safetensors save: cannot write %s: %s", tmp, strerror(errno));
    unsigned char *chunk = malloc(ST_CHUNK_FLOATS * sizeof(float));
    if (!chunk)
        return BATON_ERROR(BATON_ERR_OOM, "safetensors save: cannot allocate a write buffer for %s", tmp);
    baton_status st = BATON_OK;
    for (int i = 0; i < t->count && st == BATON_OK; i++) {
        const float *src = host + t->items[i].offset;
        size_t numel = t->items[i].numel;
        for (size_t at = 0; at < numel && st == BATON_OK; at += ST_CHUNK_FLOATS) {
            size_t n = numel - at < ST_CHUNK_FLOATS ? numel - at : ST_CHUNK_FLOATS;
            for (size_t k = 0; k < n; k++)
                put_f32le(chunk + 4 * k, src[at + k]);
            if (fwrite(chunk, sizeof(float), n, f) != n)
                st = BATON_ERROR(BATON_ERR_IO, "safetensors save: cannot write tensor '%s' to %s: %s",
                                 t->items[i].name, tmp, strerror(errno));
        }
    }
    free(chunk);
    return st;
}

baton_status baton_safetensors_save(const char *path, const baton_param_table *t, const float *host,
                                    const char *const *meta_keys, const char *const *meta_values, int n_meta)
{
    BATON_TRY(check_save_args(path, t, host, meta_keys, meta_values, n_meta));
    sbuf hdr = {0};
    baton_status st = build_header(&hdr, path, t, meta_keys, meta_values, n_meta);
    if (st != BATON_OK) {
        free(hdr.p);
        return st;
    }
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp) {
        free(hdr.p);
        return BATON_ERROR(BATON_ERR_OOM, "safetensors save %s: cannot allocate a file name", path);
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        st = BATON_ERROR(BATON_ERR_IO, "safetensors save: cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        free(hdr.p);
        return st;
    }
    st = write_body(f, tmp, &hdr, t, host);
    /* the data must be on disk before the rename makes it visible under path, or a crash could leave
     * an empty or partial checkpoint where the old one was */
    if (st == BATON_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0))
        st = BATON_ERROR(BATON_ERR_IO, "safetensors save: cannot flush %s to disk: %s", tmp, strerror(errno));
    if (fclose(f) != 0 && st == BATON_OK)
        st = BATON_ERROR(BATON_ERR_IO, "safetensors save: cannot close %s: %s", tmp, strerror(errno));
    int renamed = 0;
    if (st == BATON_OK) {
        if (rename(tmp, path) != 0)
            st = BATON_ERROR(BATON_ERR_IO, "safetensors save: cannot rename %s to %s: %s", tmp, path, strerror(errno));
        else
            renamed = 1;
    }
    if (renamed)
        st = sync_dir(path);
    else
        remove(tmp);
    free(tmp);
    free(hdr.p);
    return st;
}

