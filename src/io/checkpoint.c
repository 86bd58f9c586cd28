/* checkpoint.c: training checkpoints as one safetensors file (format in checkpoint.h).
 *
 * The file is written by the safetensors writer with up to four parts (parameters, m, v and the
 * moving average under their prefixes), so tensors, padding and atomicity are the writer's; this
 * module adds the metadata (format, version, state, texts) and the checksum. The checksum goes into the header, which is
 * written before the data, so save computes it from the host buffers first, in the writer's data
 * order (parts in order, tensors in table order, little-endian); load computes it from the raw
 * bytes as it reads them, so it never trusts the header's order to match the table's.
 * Load validates everything it can before touching the caller's buffers: format, version, state,
 * checksum syntax, and the tensors against the table. */
#include "baton/checkpoint.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton_config.h"
#include "safetensors_internal.h"

#define CK_CHECKSUM "checksum"
#define CK_STATE_PREFIX "state."
#define CK_PARAM_PREFIX "optim." /* reserved for the optimizer's buffers: no parameter may start with it */

typedef enum { CK_LONG, CK_U64, CK_DOUBLE } ck_kind;

/* The state struct as metadata: one decimal string per field. */
static const struct {
    const char *key;
    ck_kind kind;
    size_t offset;
    int optional; /* added after version 1 was first written: absent reads as 0 */
} ck_fields[] = {
    {"state.step", CK_LONG, offsetof(baton_ckpt_state, step), 0},
    {"state.batches", CK_LONG, offsetof(baton_ckpt_state, batches), 0},
    {"state.epoch", CK_LONG, offsetof(baton_ckpt_state, epoch), 0},
    {"state.seed", CK_U64, offsetof(baton_ckpt_state, seed), 0},
    {"state.best_score", CK_DOUBLE, offsetof(baton_ckpt_state, best_score), 0},
    {"state.bad_evals", CK_LONG, offsetof(baton_ckpt_state, bad_evals), 0},
    {"state.lr_scale", CK_DOUBLE, offsetof(baton_ckpt_state, lr_scale), 0},
    {"state.elapsed_ms", CK_LONG, offsetof(baton_ckpt_state, elapsed_ms), 0},
    {"state.skipped_steps", CK_LONG, offsetof(baton_ckpt_state, skipped_steps), 1},
    {"state.bad_steps_in_a_row", CK_LONG, offsetof(baton_ckpt_state, bad_steps_in_a_row), 1},
};
#define CK_NFIELDS ((int)(sizeof ck_fields / sizeof ck_fields[0]))
#define CK_NFIXED 2 /* format, version */
#define CK_VALUE_MAX 40

baton_ckpt_state baton_ckpt_state_fresh(uint64_t seed)
{
    baton_ckpt_state st = {.seed = seed, .best_score = NAN, .lr_scale = 1.0};
    return st;
}

/* ---- the checksum ------------------------------------------------------------------------------ */

static int by_key(const void *a, const void *b)
{
    return strcmp(((const baton_ckpt_text *)a)->key, ((const baton_ckpt_text *)b)->key);
}

/* CRC of the metadata but the checksum: sorted by key, "key\0value\0" each. Sorts meta in place. */
static uint32_t meta_crc(baton_ckpt_text *meta, int n)
{
    qsort(meta, (size_t)n, sizeof *meta, by_key);
    uint32_t crc = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(meta[i].key, CK_CHECKSUM) == 0)
            continue;
        crc = baton_st_crc32(crc, meta[i].key, strlen(meta[i].key) + 1);
        crc = baton_st_crc32(crc, meta[i].value, strlen(meta[i].value) + 1);
    }
    return crc;
}

/* Continues crc over the parts' tensors as the writer lays them out: little-endian, packed. */
static uint32_t data_crc(uint32_t crc, const baton_st_part *parts, int n_parts)
{
    unsigned char buf[4096];
    for (int k = 0; k < n_parts; k++) {
        const baton_param_table *t = parts[k].t;
        for (int i = 0; i < t->count; i++) {
            const float *src = parts[k].src + t->items[i].offset;
            size_t numel = t->items[i].numel;
            for (size_t at = 0; at < numel; at += sizeof buf / 4) {
                size_t n = numel - at < sizeof buf / 4 ? numel - at : sizeof buf / 4;
                for (size_t j = 0; j < n; j++) {
                    uint32_t u;
                    memcpy(&u, &src[at + j], sizeof u);
                    buf[4 * j] = (unsigned char)u, buf[4 * j + 1] = (unsigned char)(u >> 8);
                    buf[4 * j + 2] = (unsigned char)(u >> 16), buf[4 * j + 3] = (unsigned char)(u >> 24);
                }
                crc = baton_st_crc32(crc, buf, 4 * n);
            }
        }
    }
    return crc;
}

/* ---- saving ------------------------------------------------------------------------------------ */

static int reserved_key(const char *key)
{
    return strcmp(key, "format") == 0 || strcmp(key, "version") == 0 || strcmp(key, CK_CHECKSUM) == 0 ||
           strncmp(key, CK_STATE_PREFIX, strlen(CK_STATE_PREFIX)) == 0;
}

static baton_status check_save_args(const char *path, const baton_param_table *t, const float *params,
                                    const float *m, const float *v, const baton_ckpt_state *st,
                                    const baton_ckpt_text *texts, int n_texts)
{
    BATON_REQUIRE(path && t && st, "checkpoint save: expected a path, a parameter table and a state");
    BATON_REQUIRE(params || t->count == 0, "checkpoint save %s: expected a host parameter buffer, got NULL", path);
    BATON_REQUIRE(!m == !v, "checkpoint save %s: expected both optimizer moments (Adam) or neither (SGD)", path);
    BATON_REQUIRE(n_texts >= 0 && (n_texts == 0 || texts), "checkpoint save %s: expected %d texts, got NULL", path,
                  n_texts);
    for (int i = 0; i < n_texts; i++) {
        BATON_REQUIRE(texts[i].key && texts[i].value, "checkpoint save %s: text %d has a NULL key or value", path, i);
        BATON_REQUIRE(!reserved_key(texts[i].key),
                      "checkpoint save %s: text key '%.64s' is reserved (format, version, checksum, state.*)", path,
                      texts[i].key);
    }
    for (int i = 0; i < t->count; i++)
        BATON_REQUIRE(strncmp(t->items[i].name, CK_PARAM_PREFIX, strlen(CK_PARAM_PREFIX)) != 0,
                      "checkpoint save %s: parameter '%s' starts with '" CK_PARAM_PREFIX
                      "', which checkpoints reserve for the optimizer",
                      path, t->items[i].name);
    return BATON_OK;
}

/* Field i of st as its decimal string. */
static void field_format(const baton_ckpt_state *st, int i, char *out)
{
    const char *base = (const char *)st + ck_fields[i].offset;
    if (ck_fields[i].kind == CK_LONG) {
        long x;
        memcpy(&x, base, sizeof x);
        snprintf(out, CK_VALUE_MAX, "%ld", x);
    } else if (ck_fields[i].kind == CK_U64) {
        uint64_t x;
        memcpy(&x, base, sizeof x);
        snprintf(out, CK_VALUE_MAX, "%llu", (unsigned long long)x);
    } else {
        double x;
        memcpy(&x, base, sizeof x);
        snprintf(out, CK_VALUE_MAX, "%.17g", x); /* 17 significant digits give back the same double */
    }
}

/* The parts of a checkpoint: parameters, then m, v and the moving average when present. Returns
 * their number. */
static int make_parts(baton_st_part *parts, const baton_param_table *t, const float *params, const float *m,
                      const float *v, const float *ema)
{
    int n = 0;
    parts[n++] = (baton_st_part){.prefix = "", .t = t, .src = params};
    if (m)
        parts[n++] = (baton_st_part){.prefix = BATON_CKPT_EXP_AVG, .t = t, .src = m};
    if (v)
        parts[n++] = (baton_st_part){.prefix = BATON_CKPT_EXP_AVG_SQ, .t = t, .src = v};
    if (ema)
        parts[n++] = (baton_st_part){.prefix = BATON_CKPT_EMA, .t = t, .src = ema};
    return n;
}

baton_status baton_ckpt_save(const char *path, const baton_param_table *t, const float *params, const float *m,
                             const float *v, const float *ema, const baton_ckpt_state *st,
                             const baton_ckpt_text *texts, int n_texts)
{
    BATON_TRY(check_save_args(path, t, params, m, v, st, texts, n_texts));
    int n = CK_NFIXED + CK_NFIELDS + n_texts + 1;
    baton_ckpt_text *meta = malloc((size_t)n * sizeof *meta), *sorted = malloc((size_t)n * sizeof *sorted);
    const char **keys = malloc((size_t)n * sizeof *keys), **values = malloc((size_t)n * sizeof *values);
    baton_status s = BATON_OK;
    if (!meta || !sorted || !keys || !values) {
        s = BATON_ERROR(BATON_ERR_OOM, "checkpoint save %s: cannot allocate %d metadata entries", path, n);
        goto done;
    }
    char fields[CK_NFIELDS][CK_VALUE_MAX], checksum[24];
    meta[0] = (baton_ckpt_text){"format", BATON_CKPT_FORMAT};
    meta[1] = (baton_ckpt_text){"version", BATON_CKPT_VERSION};
    for (int i = 0; i < CK_NFIELDS; i++) {
        field_format(st, i, fields[i]);
        meta[CK_NFIXED + i] = (baton_ckpt_text){ck_fields[i].key, fields[i]};
    }
    for (int i = 0; i < n_texts; i++)
        meta[CK_NFIXED + CK_NFIELDS + i] = texts[i];
    baton_st_part parts[4];
    int n_parts = make_parts(parts, t, params, m, v, ema);
    memcpy(sorted, meta, (size_t)(n - 1) * sizeof *meta);
    uint32_t crc = data_crc(meta_crc(sorted, n - 1), parts, n_parts);
    snprintf(checksum, sizeof checksum, "crc32:%08lx", (unsigned long)crc);
    meta[n - 1] = (baton_ckpt_text){CK_CHECKSUM, checksum};
    for (int i = 0; i < n; i++)
        keys[i] = meta[i].key, values[i] = meta[i].value;
    /* the writer refuses a text key given twice and text that is not UTF-8 */
    s = baton_st_save_parts(path, parts, n_parts, keys, values, n);
done:
    free(meta);
    free(sorted);
    free(keys);
    free(values);
    return s;
}

/* ---- loading ----------------------------------------------------------------------------------- */

#if !BATON_HAVE_CJSON

static baton_status no_cjson(const char *path)
{
    return BATON_ERROR(BATON_ERR_UNSUPPORTED,
                       "checkpoint %s: this build lacks cJSON (libcjson-dev, pkg-config libcjson), so it can save "
                       "checkpoints but not load them; install it and reconfigure",
                       path ? path : "(no path)");
}

baton_status baton_ckpt_load(const char *path, const baton_param_table *t, float *params, float *m, float *v,
                             float *ema, baton_ckpt_state *st)
{
    (void)t, (void)params, (void)m, (void)v, (void)st;
    return no_cjson(path);
}

char *baton_ckpt_text_get(const char *path, const char *key, baton_status *st)
{
    (void)key;
    baton_status s = no_cjson(path);
    if (st)
        *st = s;
    return NULL;
}

#else

/* Format and version: what tells a checkpoint from any other safetensors file, or from a newer one. */
static baton_status check_identity(const baton_st_file *f, const char *path)
{
    const char *format = baton_st_meta_get(f, "format"), *version = baton_st_meta_get(f, "version");
    if (!format)
        return BATON_ERROR(BATON_ERR_FORMAT,
                           "checkpoint %s: not a baton checkpoint: no metadata 'format' (a plain safetensors file?)",
                           path);
    if (strcmp(format, BATON_CKPT_FORMAT) != 0)
        return BATON_ERROR(BATON_ERR_FORMAT, "checkpoint %s: format is '%.64s', expected '" BATON_CKPT_FORMAT "'",
                           path, format);
    if (!version)
        return BATON_ERROR(BATON_ERR_FORMAT, "checkpoint %s: no metadata 'version'", path);
    if (strcmp(version, BATON_CKPT_VERSION) != 0) {
        char *end;
        long ver = strtol(version, &end, 10);
        if (*version && !*end && ver > atol(BATON_CKPT_VERSION))
            return BATON_ERROR(BATON_ERR_FORMAT,
                               "checkpoint %s: version %ld is newer than this build reads (version " BATON_CKPT_VERSION
                               "); written by a newer baton?",
                               path, ver);
        return BATON_ERROR(BATON_ERR_FORMAT, "checkpoint %s: unknown version '%.32s', expected '" BATON_CKPT_VERSION "'",
                           path, version);
    }
    return BATON_OK;
}

/* A whole string as a number of the field's kind: strict (no spaces, no '+', no range overflow). */
static int field_parse(const char *s, int i, baton_ckpt_state *out)
{
    char *end;
    errno = 0;
    char *base = (char *)out + ck_fields[i].offset;
    if (ck_fields[i].kind == CK_DOUBLE) {
        double x = strtod(s, &end);
        memcpy(base, &x, sizeof x);
        return *s && !isspace((unsigned char)*s) && !*end; /* a denormal's ERANGE still gives the exact double */
    }
    if (!(*s >= '0' && *s <= '9') && !(ck_fields[i].kind == CK_LONG && *s == '-'))
        return 0;
    if (ck_fields[i].kind == CK_LONG) {
        long x = strtol(s, &end, 10);
        memcpy(base, &x, sizeof x);
    } else {
        uint64_t x = (uint64_t)strtoull(s, &end, 10);
        memcpy(base, &x, sizeof x);
    }
    return !*end && errno == 0;
}

static baton_status parse_state(const baton_st_file *f, const char *path, baton_ckpt_state *out)
{
    for (int i = 0; i < CK_NFIELDS; i++) {
        const char *s = baton_st_meta_get(f, ck_fields[i].key);
        if (!s && ck_fields[i].optional) {
            long zero = 0;
            memcpy((char *)out + ck_fields[i].offset, &zero, sizeof zero);
            continue;
        }
        if (!s)
            return BATON_ERROR(BATON_ERR_FORMAT, "checkpoint %s: metadata '%s' is missing", path, ck_fields[i].key);
        if (!field_parse(s, i, out))
            return BATON_ERROR(BATON_ERR_FORMAT, "checkpoint %s: metadata '%s' is '%.32s', expected %s", path,
                               ck_fields[i].key, s,
                               ck_fields[i].kind == CK_DOUBLE ? "a decimal number" : "a decimal integer");
    }
    return BATON_OK;
}

static baton_status parse_checksum(const baton_st_file *f, const char *path, uint32_t *want)
{
    const char *s = baton_st_meta_get(f, CK_CHECKSUM);
    if (!s)
        return BATON_ERROR(BATON_ERR_FORMAT, "checkpoint %s: metadata '" CK_CHECKSUM "' is missing", path);
    int ok = strlen(s) == 14 && strncmp(s, "crc32:", 6) == 0;
    for (int i = 6; ok && i < 14; i++)
        ok = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');
    if (!ok)
        return BATON_ERROR(BATON_ERR_FORMAT,
                           "checkpoint %s: checksum '%.32s' is malformed, expected 'crc32:' and 8 lowercase hex digits",
                           path, s);
    *want = (uint32_t)strtoul(s + 6, NULL, 16);
    return BATON_OK;
}

/* Reads the data (into the matched parts' buffers, if any) and compares the checksum. */
static baton_status read_verified(baton_st_file *f, const char *path)
{
    uint32_t want = 0;
    BATON_TRY(parse_checksum(f, path, &want));
    int n = baton_st_meta_count(f);
    baton_ckpt_text *meta = malloc((n ? (size_t)n : 1) * sizeof *meta);
    if (!meta)
        return BATON_ERROR(BATON_ERR_OOM, "checkpoint %s: cannot allocate %d metadata entries", path, n);
    for (int i = 0; i < n; i++)
        meta[i].value = baton_st_meta_at(f, i, &meta[i].key);
    uint32_t crc = meta_crc(meta, n);
    free(meta);
    BATON_TRY(baton_st_read(f, &crc));
    if (crc != want)
        return BATON_ERROR(BATON_ERR_FORMAT,
                           "checkpoint %s: checksum mismatch (the file says crc32:%08lx, its contents give "
                           "crc32:%08lx): the file is corrupted",
                           path, (unsigned long)want, (unsigned long)crc);
    return BATON_OK;
}

/* The parts to match: parameters, each moment the file has or the caller wants, and the moving
 * average where the file has one; what the file has but the caller skips is still matched
 * (checked, not stored). */
static baton_status plan_parts(const baton_st_file *f, const char *path, const baton_param_table *t, float *params,
                               float *m, float *v, float *ema, baton_st_part *parts, int *n_parts)
{
    static const char *const prefix[2] = {BATON_CKPT_EXP_AVG, BATON_CKPT_EXP_AVG_SQ};
    float *dst[2] = {m, v};
    int n = 0;
    parts[n++] = (baton_st_part){.prefix = "", .t = t, .dst = params};
    for (int k = 0; k < 2; k++) {
        int have = baton_st_count_prefix(f, prefix[k]) > 0;
        if (dst[k] && !have && t->count > 0)
            return BATON_ERROR(BATON_ERR_FORMAT,
                               "checkpoint %s: the optimizer needs its moments (Adam), but the file has no "
                               "'%s*' tensors (saved with SGD?)",
                               path, prefix[k]);
        if (dst[k] || have)
            parts[n++] = (baton_st_part){.prefix = prefix[k], .t = t, .dst = dst[k]};
    }
    if (baton_st_count_prefix(f, BATON_CKPT_EMA) > 0)
        parts[n++] = (baton_st_part){.prefix = BATON_CKPT_EMA, .t = t, .dst = ema};
    *n_parts = n;
    return BATON_OK;
}

baton_status baton_ckpt_load(const char *path, const baton_param_table *t, float *params, float *m, float *v,
                             float *ema, baton_ckpt_state *st)
{
    BATON_REQUIRE(path && t, "checkpoint load: expected a path and a parameter table");
    BATON_REQUIRE(params || t->count == 0, "checkpoint load %s: expected a host parameter buffer, got NULL", path);
    baton_st_file *f;
    BATON_TRY(baton_st_open(&f, path));
    baton_ckpt_state tmp;
    baton_st_part parts[4];
    int n_parts = 0;
    baton_status s = check_identity(f, path);
    if (s == BATON_OK)
        s = parse_state(f, path, &tmp);
    if (s == BATON_OK)
        s = plan_parts(f, path, t, params, m, v, ema, parts, &n_parts);
    tmp.has_ema = baton_st_count_prefix(f, BATON_CKPT_EMA) > 0;
    if (s == BATON_OK)
        s = baton_st_match(f, parts, n_parts);
    if (s == BATON_OK)
        s = read_verified(f, path);
    if (s == BATON_OK && st)
        *st = tmp;
    baton_st_close(f);
    return s;
}

char *baton_ckpt_text_get(const char *path, const char *key, baton_status *st)
{
    baton_status ignored;
    if (!st)
        st = &ignored;
    if (!path || !key) {
        *st = BATON_ERROR(BATON_ERR_INVALID, "checkpoint text: expected a path and a key");
        return NULL;
    }
    baton_st_file *f;
    if ((*st = baton_st_open(&f, path)) != BATON_OK)
        return NULL;
    char *out = NULL;
    *st = check_identity(f, path);
    if (*st == BATON_OK)
        *st = read_verified(f, path); /* nothing matched: the data only feeds the checksum */
    const char *v = *st == BATON_OK ? baton_st_meta_get(f, key) : NULL;
    if (v && !(out = strdup(v)))
        *st = BATON_ERROR(BATON_ERR_OOM, "checkpoint %s: cannot copy text '%.64s'", path, key);
    baton_st_close(f);
    return out;
}

#endif
