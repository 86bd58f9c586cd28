/* test_safetensors.c: parameter checkpoints as safetensors files.
 *
 * - round trip: a table with odd sizes (one tensor larger than the I/O chunk, a name that needs
 *   JSON escaping), random values plus -0, a denormal, inf and a NaN payload; loaded into a
 *   NaN-poisoned buffer it must be bit-identical and leave the table's padding untouched; metadata
 *   with quotes, backslashes, control characters and non-ASCII comes back byte for byte;
 * - the bytes of a written file, checked by hand: length field, header text entry by entry, space
 *   padding to 8, data section exactly the packed little-endian values;
 * - interoperability with a file PyTorch wrote (../shared/fixtures): its header validates, load
 *   refuses it naming an extra tensor, its "config" metadata reads back, and the LSTM parameters
 *   repacked without the extras load with the fixture's exact values;
 * - hand-made and damaged files: each refused with the expected status and exactly one error line
 *   naming the file, with the buffer untouched;
 * - atomicity: saving over a file leaves no .tmp, a failed save leaves the old file byte for byte,
 *   and a saver killed (SIGKILL) at arbitrary moments always leaves the old or the new file.
 * Without cJSON the build can only save: the parts that load check for BATON_ERR_UNSUPPORTED. */
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "baton/param.h"
#include "baton/safetensors.h"
#include "baton_config.h"
#include "testutil.h"

#if BATON_HAVE_CJSON
#include <cJSON.h>
#endif

/* The error line captured for the check about to be reported; printed below its result. */
static char captured[1200];

static int check(tu_report *r, const char *name, int ok)
{
    int res = tu_check_abs(r, name, ok ? 0.0 : 1.0, 0.0);
    if (captured[0])
        printf("    stderr: %s", captured);
    captured[0] = '\0';
    return res;
}

/* ---- files and bytes --------------------------------------------------------------------------- */

/* The whole file as a malloc'd buffer (one spare NUL byte), or NULL. */
static int same_file(const char *path, const unsigned char *ref, size_t n)
{
    size_t size;
    unsigned char *got = tu_read_file(path, &size);
    int ok = got && size == n && memcmp(got, ref, n) == 0;
    free(got);
    return ok;
}

static uint64_t get_u64le(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t f32_bits(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

/* ---- stderr capture: every refusal must print exactly one line naming the file ------------------ */

typedef struct {
    int saved;
    char path[300];
} capture;

static int capture_begin(capture *c, const char *dir)
{
    fflush(stderr);
    snprintf(c->path, sizeof c->path, "%s/stderr.txt", dir);
    int fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    c->saved = dup(2);
    if (fd < 0 || c->saved < 0 || dup2(fd, 2) < 0) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    close(fd);
    return 1;
}

/* Restores stderr; returns 1 when exactly one "baton: error:" line naming `name` was printed,
 * and keeps it for check() to show, so the test log still has the message. */
static int capture_end(capture *c, const char *name)
{
    fflush(stderr);
    dup2(c->saved, 2);
    close(c->saved);
    size_t n = 0;
    char *text = (char *)tu_read_file(c->path, &n);
    remove(c->path);
    if (!text)
        return 0;
    int lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += text[i] == '\n';
    int ok = lines == 1 && text[n - 1] == '\n' && strncmp(text, "baton: error: ", 14) == 0 && strstr(text, name);
    snprintf(captured, sizeof captured, "%s", n ? text : "(nothing)\n");
    free(text);
    return ok;
}

/* ---- the test table ---------------------------------------------------------------------------- */

/* Odd sizes, a tensor longer than the library's 16384-float I/O chunk, a 0-d-like (1) tensor and
 * a name that JSON must escape. */
static const char *const tnames[] = {
    "encoder.embedding.weight", "encoder.rnn.weight_ih_l0", "encoder.rnn.bias_hh_l0",
    "generator.bias",           "decoder.odd \"name\"\\ \xc3\xa9 \xe2\x9c\x93",
};
static const int tndim[] = {2, 2, 1, 1, 3};
static const int64_t tshape[][3] = {{13, 7}, {129, 257}, {1}, {5}, {3, 5, 2}};
#define NT ((int)(sizeof tnames / sizeof tnames[0]))

static int make_table(baton_param_table *t)
{
    baton_param_table_init(t);
    for (int i = 0; i < NT; i++)
        if (baton_param_add(t, NULL, tnames[i], tndim[i], tshape[i]) != BATON_OK)
            return 0;
    return 1;
}

static void fill_table(const baton_param_table *t, float *host, uint64_t seed)
{
    tu_fill_nan(host, t->total);
    for (int i = 0; i < t->count; i++)
        tu_fill_uniform(host + t->items[i].offset, t->items[i].numel, -2.0f, 2.0f, seed, (uint32_t)i);
    /* values whose bits a careless conversion would change */
    float *e = host + t->items[0].offset;
    uint32_t payload = 0x7fc12345u;
    e[0] = -0.0f;
    e[1] = 1e-40f;
    e[2] = INFINITY;
    memcpy(&e[3], &payload, sizeof payload);
}

#if BATON_HAVE_CJSON
/* Tensors bit-identical, and the padding between them still the poison (all bits of tu_fill_nan). */
static int same_params(const baton_param_table *t, const float *a, const float *b, const float *poison)
{
    for (int i = 0; i < t->count; i++) {
        const baton_param *p = &t->items[i];
        if (memcmp(a + p->offset, b + p->offset, p->numel * sizeof(float)) != 0)
            return 0;
        size_t end = i + 1 < t->count ? t->items[i + 1].offset : t->total;
        size_t pad = p->offset + p->numel;
        if (memcmp(b + pad, poison, (end - pad) * sizeof(float)) != 0)
            return 0;
    }
    return 1;
}
#endif

static const char *const meta_keys[] = {"config", "quoted", "unicode", "empty"};
static const char *const meta_values[] = {
    "{\"cell\": \"lstm\", \"hidden\": 8}",
    "a \"quote\", a back\\slash, a newline\n, a tab\t, a CR\r, a bell\x07 and \x1f, a slash / end",
    "\xc3\xbc\xc3\xa9 \xe2\x9c\x93 \xf0\x9d\x84\x9e \xe4\xb8\xad\xe6\x96\x87",
    "",
};
#define NMETA 4

/* ---- round trip -------------------------------------------------------------------------------- */

static void test_round_trip(tu_report *r, const char *dir)
{
    baton_param_table t;
    int ok = make_table(&t);
    float *host = malloc(baton_param_bytes(&t)), *back = malloc(baton_param_bytes(&t));
    float *poison = malloc(baton_param_bytes(&t));
    if (!ok || !host || !back || !poison) {
        check(r, "round trip: set-up", 0);
        goto done;
    }
    fill_table(&t, host, 7);
    tu_fill_nan(poison, t.total);
    char path[300];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    ok = baton_safetensors_save(path, &t, host, meta_keys, meta_values, NMETA) == BATON_OK;
    check(r, "round trip: save", ok);
#if BATON_HAVE_CJSON
    tu_fill_nan(back, t.total);
    ok = ok && baton_safetensors_load(path, &t, back) == BATON_OK;
    check(r, "round trip: load is bit-identical (-0, denormal, inf, NaN payload) and keeps the padding",
          ok && same_params(&t, host, back, poison));
    int meta_ok = 1;
    for (int i = 0; i < NMETA; i++) {
        baton_status st = BATON_ERR_INVALID;
        char *v = baton_safetensors_metadata(path, meta_keys[i], &st);
        meta_ok = meta_ok && v && st == BATON_OK && strcmp(v, meta_values[i]) == 0;
        free(v);
    }
    check(r, "round trip: metadata with quotes, backslashes, control characters, UTF-8, empty", meta_ok);
    baton_status st = BATON_ERR_INVALID;
    char *v = baton_safetensors_metadata(path, "absent", &st);
    check(r, "round trip: an absent metadata key is NULL with BATON_OK", !v && st == BATON_OK);
    free(v);
    v = baton_safetensors_metadata(path, "absent", NULL);
    check(r, "round trip: st may be NULL", !v);

    /* no metadata at all: "__metadata__" is left out, and a lookup is simply absent */
    ok = baton_safetensors_save(path, &t, host, NULL, NULL, 0) == BATON_OK;
    tu_fill_nan(back, t.total);
    ok = ok && baton_safetensors_load(path, &t, back) == BATON_OK && same_params(&t, host, back, poison);
    v = baton_safetensors_metadata(path, "config", &st);
    check(r, "round trip: without metadata", ok && !v && st == BATON_OK);
    free(v);

    /* an empty table is a valid (tensor-less) file */
    baton_param_table empty;
    baton_param_table_init(&empty);
    ok = baton_safetensors_save(path, &empty, NULL, meta_keys, meta_values, 1) == BATON_OK;
    ok = ok && baton_safetensors_load(path, &empty, NULL) == BATON_OK;
    v = baton_safetensors_metadata(path, "config", &st);
    check(r, "round trip: an empty table", ok && v && strcmp(v, meta_values[0]) == 0);
    free(v);
    capture c;
    int one_line = capture_begin(&c, dir);
    st = baton_safetensors_load(path, &t, back);
    one_line = capture_end(&c, path) && one_line;
    check(r, "round trip: a tensor-less file does not load into a table", st == BATON_ERR_FORMAT && one_line);
#else
    capture c;
    int one_line = capture_begin(&c, dir);
    baton_status st = baton_safetensors_load(path, &t, back);
    one_line = capture_end(&c, path) && one_line;
    check(r, "no cJSON: load is unsupported, with one line", st == BATON_ERR_UNSUPPORTED && one_line);
    st = BATON_OK;
    char *v = baton_safetensors_metadata(path, "config", &st);
    check(r, "no cJSON: metadata is unsupported", !v && st == BATON_ERR_UNSUPPORTED);
#endif
    remove(path);
done:
    free(host);
    free(back);
    free(poison);
    baton_param_table_free(&t);
}

/* ---- the bytes of a written file --------------------------------------------------------------- */

/* Appends s to out as a JSON string, escaped as the writer documents (and any reader accepts). */
static void json_quote(char *out, size_t n, const char *s)
{
    size_t at = strlen(out);
    at += (size_t)snprintf(out + at, n - at, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p && at < n; p++) {
        if (*p == '"' || *p == '\\')
            at += (size_t)snprintf(out + at, n - at, "\\%c", *p);
        else if (*p == '\n')
            at += (size_t)snprintf(out + at, n - at, "\\n");
        else if (*p == '\t')
            at += (size_t)snprintf(out + at, n - at, "\\t");
        else if (*p == '\r')
            at += (size_t)snprintf(out + at, n - at, "\\r");
        else if (*p < 0x20)
            at += (size_t)snprintf(out + at, n - at, "\\u%04x", *p);
        else
            at += (size_t)snprintf(out + at, n - at, "%c", *p);
    }
    if (at < n)
        snprintf(out + at, n - at, "\"");
}

static void test_bytes(tu_report *r, const char *dir)
{
    baton_param_table t;
    int ok = make_table(&t);
    float *host = malloc(baton_param_bytes(&t));
    if (!ok || !host) {
        check(r, "bytes: set-up", 0);
        free(host);
        baton_param_table_free(&t);
        return;
    }
    fill_table(&t, host, 11);
    char path[300];
    snprintf(path, sizeof path, "%s/bytes.safetensors", dir);
    size_t size = 0;
    unsigned char *f = NULL;
    ok = baton_safetensors_save(path, &t, host, meta_keys, meta_values, NMETA) == BATON_OK &&
         (f = tu_read_file(path, &size)) != NULL && size >= 8;
    uint64_t n = ok ? get_u64le(f) : 0;
    ok = ok && n % 8 == 0 && n <= size - 8;
    check(r, "bytes: 8-byte length, header a multiple of 8 within the file", ok);
    if (!ok)
        goto done;

    /* the expected header, built independently: metadata first, tensors in table order, packed */
    char want[8192] = "{\"__metadata__\":{";
    for (int i = 0; i < NMETA; i++) {
        if (i)
            strcat(want, ",");
        json_quote(want, sizeof want, meta_keys[i]);
        strcat(want, ":");
        json_quote(want, sizeof want, meta_values[i]);
    }
    strcat(want, "}");
    uint64_t off = 0;
    for (int i = 0; i < t.count; i++) {
        strcat(want, ",");
        json_quote(want, sizeof want, t.items[i].name);
        size_t at = strlen(want);
        at += (size_t)snprintf(want + at, sizeof want - at, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < t.items[i].ndim; d++)
            at += (size_t)snprintf(want + at, sizeof want - at, "%s%lld", d ? "," : "", (long long)t.items[i].shape[d]);
        uint64_t end = off + 4 * (uint64_t)t.items[i].numel;
        snprintf(want + at, sizeof want - at, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                 (unsigned long long)end);
        off = end;
    }
    strcat(want, "}");
    size_t wlen = strlen(want);
    const char *h = (const char *)f + 8;
    int pad_ok = wlen <= n && n - wlen < 8;
    for (size_t i = wlen; pad_ok && i < n; i++)
        pad_ok = h[i] == ' ';
    check(r, "bytes: header text is exactly the expected JSON (escapes, order, offsets), space-padded",
          pad_ok && memcmp(h, want, wlen) == 0);
    int no_ctl = 1;
    for (size_t i = 0; i < n; i++)
        no_ctl = no_ctl && (unsigned char)h[i] >= 0x20;
    check(r, "bytes: no raw control characters in the header", no_ctl);
    check(r, "bytes: the data section is exactly the packed tensors", size - 8 - n == off);
    const unsigned char *d = f + 8 + n;
    int data_ok = 1;
    for (int i = 0; i < t.count && data_ok; i++) {
        const baton_param *p = &t.items[i];
        for (size_t k = 0; k < p->numel && data_ok; k++, d += 4) {
            uint32_t u = f32_bits(host[p->offset + k]);
            data_ok = d[0] == (u & 0xff) && d[1] == (u >> 8 & 0xff) && d[2] == (u >> 16 & 0xff) && d[3] == u >> 24;
        }
    }
    check(r, "bytes: values little-endian, bit for bit, in table order", data_ok);
done:
    free(f);
    remove(path);
    free(host);
    baton_param_table_free(&t);
}

/* ---- save arguments ---------------------------------------------------------------------------- */

static void test_save_args(tu_report *r, const char *dir)
{
    char path[300];
    snprintf(path, sizeof path, "%s/args.safetensors", dir);
    baton_param_table t;
    baton_param_table_init(&t);
    int64_t two = 2;
    float host[BATON_PARAM_ALIGN_FLOATS] = {1.0f, 2.0f};
    int ok = baton_param_add(&t, NULL, "w", 1, &two) == BATON_OK;
    const char *dup_keys[] = {"k", "k"}, *vals[] = {"a", "b"};
    const char *bad_utf8[] = {"\xc3("}, *overlong[] = {"\xc0\xaf"}, *surrogate[] = {"\xed\xa0\x80"};
    const char *null_val[] = {NULL};
    ok = ok && baton_safetensors_save(path, &t, host, dup_keys, vals, 2) == BATON_ERR_INVALID;
    ok = ok && baton_safetensors_save(path, &t, host, bad_utf8, vals, 1) == BATON_ERR_INVALID;
    ok = ok && baton_safetensors_save(path, &t, host, vals, overlong, 1) == BATON_ERR_INVALID;
    ok = ok && baton_safetensors_save(path, &t, host, vals, surrogate, 1) == BATON_ERR_INVALID;
    ok = ok && baton_safetensors_save(path, &t, host, vals, null_val, 1) == BATON_ERR_INVALID;
    ok = ok && baton_safetensors_save(path, &t, host, NULL, NULL, 1) == BATON_ERR_INVALID;
    ok = ok && baton_safetensors_save(path, &t, host, vals, vals, -1) == BATON_ERR_INVALID;
    ok = ok && baton_safetensors_save(path, &t, NULL, NULL, NULL, 0) == BATON_ERR_INVALID;
    ok = ok && access(path, F_OK) != 0;
    check(r, "save: refuses duplicate keys, invalid UTF-8, NULL strings and buffers, writing nothing", ok);
    baton_param_table_free(&t);
    baton_param_table_init(&t);
    ok = baton_param_add(&t, NULL, "__metadata__", 1, &two) == BATON_OK &&
         baton_safetensors_save(path, &t, host, NULL, NULL, 0) == BATON_ERR_INVALID;
    baton_param_table_free(&t);
    baton_param_table_init(&t);
    ok = ok && baton_param_add(&t, NULL, "bad\xff", 1, &two) == BATON_OK &&
         baton_safetensors_save(path, &t, host, NULL, NULL, 0) == BATON_ERR_INVALID;
    check(r, "save: refuses a tensor called __metadata__ or a name that is not UTF-8", ok && access(path, F_OK) != 0);
    baton_param_table_free(&t);
}

/* ---- atomicity --------------------------------------------------------------------------------- */

static void test_atomic(tu_report *r, const char *dir)
{
    baton_param_table t;
    int ok = make_table(&t);
    float *a = malloc(baton_param_bytes(&t)), *b = malloc(baton_param_bytes(&t));
    char path[300], tmp[310], pa[300], pb[300];
    snprintf(path, sizeof path, "%s/ckpt.safetensors", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    snprintf(pa, sizeof pa, "%s/a.safetensors", dir);
    snprintf(pb, sizeof pb, "%s/b.safetensors", dir);
    unsigned char *ra = NULL, *rb = NULL;
    size_t na = 0, nb = 0;
    if (!ok || !a || !b) {
        check(r, "atomic: set-up", 0);
        goto done;
    }
    fill_table(&t, a, 1);
    fill_table(&t, b, 2);
    ok = baton_safetensors_save(pa, &t, a, meta_keys, meta_values, 1) == BATON_OK &&
         baton_safetensors_save(pb, &t, b, meta_keys, meta_values, 1) == BATON_OK && (ra = tu_read_file(pa, &na)) &&
         (rb = tu_read_file(pb, &nb));
    check(r, "atomic: reference files", ok);
    if (!ok)
        goto done;

    ok = tu_write_file(path, "stale contents", 14) && tu_write_file(tmp, "debris of a killed save", 23) &&
         baton_safetensors_save(path, &t, a, meta_keys, meta_values, 1) == BATON_OK;
    check(r, "atomic: save replaces a file and a stale .tmp, leaving no .tmp",
          ok && same_file(path, ra, na) && access(tmp, F_OK) != 0);

    /* the temporary file cannot be created: the old checkpoint must survive byte for byte */
    ok = mkdir(tmp, 0700) == 0;
    capture c;
    int one_line = capture_begin(&c, dir);
    baton_status st = baton_safetensors_save(path, &t, b, meta_keys, meta_values, 1);
    one_line = capture_end(&c, tmp) && one_line;
    rmdir(tmp);
    check(r, "atomic: a failed save is an i/o error (one line) and leaves the old file intact",
          ok && st == BATON_ERR_IO && one_line && same_file(path, ra, na));
    char nodir[400];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/ckpt.safetensors", dir);
    check(r, "atomic: saving into a missing directory is an i/o error",
          baton_safetensors_save(nodir, &t, b, NULL, NULL, 0) == BATON_ERR_IO && same_file(path, ra, na));
    const char *dup[] = {"k", "k"};
    check(r, "atomic: refused arguments leave the old file intact",
          baton_safetensors_save(path, &t, b, dup, dup, 2) == BATON_ERR_INVALID && same_file(path, ra, na) &&
              access(tmp, F_OK) != 0);

    /* a saver killed at arbitrary moments, alternating between two checkpoints */
    int kills = 12, all_ok = 1, torn = 0, newer = 0;
    for (int it = 0; it < kills; it++) {
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid == 0) {
            for (unsigned k = 0;; k++)
                baton_safetensors_save(path, &t, k & 1 ? a : b, meta_keys, meta_values, 1);
        }
        if (pid < 0) {
            all_ok = 0;
            break;
        }
        struct timespec ts = {0, (long)(200000 + (it * 1700000L) % 15000000L)};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        if (same_file(path, rb, nb))
            newer++;
        else if (!same_file(path, ra, na))
            torn++;
    }
    printf("atomic: %d of %d kills left checkpoint b, the others a (saves do finish between kills)\n", newer, kills);
    check(r, "atomic: after SIGKILL at arbitrary moments the file is always the old or the new one",
          all_ok && torn == 0);
    remove(tmp);
done:
    remove(path);
    remove(pa);
    remove(pb);
    free(ra);
    free(rb);
    free(a);
    free(b);
    baton_param_table_free(&t);
}

#if BATON_HAVE_CJSON

static void put_u64le(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static float le_f32(const unsigned char *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* A safetensors file from a header text (padded here) and data_len bytes holding the floats
 * 0.5 * i in little-endian order (the last partial float, if any, as raw bytes). */
static int write_st(const char *path, const char *header, size_t data_len)
{
    size_t hlen = strlen(header), padded = (hlen + 7) / 8 * 8;
    unsigned char *buf = malloc(8 + padded + data_len);
    if (!buf)
        return 0;
    put_u64le(buf, padded);
    memcpy(buf + 8, header, hlen);
    memset(buf + 8 + hlen, ' ', padded - hlen);
    unsigned char *d = buf + 8 + padded;
    for (size_t i = 0; i < data_len; i++)
        d[i] = (unsigned char)(f32_bits(0.5f * (float)(i / 4)) >> (8 * (i % 4)));
    int ok = tu_write_file(path, buf, 8 + padded + data_len);
    free(buf);
    return ok;
}

/* ---- damaged and hand-made files --------------------------------------------------------------- */

/* a (2,3) and b (5): 24 + 20 bytes */
#define A_OK "\"a\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]}"
#define B_OK "\"b\": {\"dtype\": \"F32\", \"shape\": [5], \"data_offsets\": [24, 44]}"

static void test_damaged(tu_report *r, const char *dir)
{
    baton_param_table t;
    baton_param_table_init(&t);
    int64_t sa[] = {2, 3}, sb[] = {5};
    int ok = baton_param_add(&t, NULL, "a", 2, sa) == BATON_OK && baton_param_add(&t, NULL, "b", 1, sb) == BATON_OK;
    float *buf = malloc(baton_param_bytes(&t)), *poison = malloc(baton_param_bytes(&t));
    char path[300];
    snprintf(path, sizeof path, "%s/hand.safetensors", dir);
    if (!ok || !buf || !poison) {
        check(r, "damaged: set-up", 0);
        goto done;
    }
    tu_fill_nan(poison, t.total);

    /* a hand-written file in another order, with Python's spacing and key order, loads */
    ok = write_st(path,
                  "{\"b\": {\"data_offsets\": [0, 20], \"dtype\": \"F32\", \"shape\": [5]}, "
                  "\"__metadata__\": {\"k\": \"\\u00e9 \\ud834\\udd1e \\/ \\\" \\\\ \\n\"}, "
                  "\"a\": {\"shape\": [2, 3], \"dtype\": \"F32\", \"data_offsets\": [20, 44], \"x\": null}}",
                  44);
    tu_fill_nan(buf, t.total);
    ok = ok && baton_safetensors_load(path, &t, buf) == BATON_OK;
    for (int i = 0; ok && i < 5; i++)
        ok = buf[t.items[1].offset + (size_t)i] == 0.5f * (float)i;
    for (int i = 0; ok && i < 6; i++)
        ok = buf[t.items[0].offset + (size_t)i] == 0.5f * (float)(5 + i);
    check(r, "damaged: a valid hand-made file (other order, spacing, unknown entry keys) loads", ok);
    baton_status mst = BATON_ERR_INVALID;
    char *mv = baton_safetensors_metadata(path, "k", &mst);
    check(r, "damaged: JSON escapes in a hand-made file (\\u, surrogate pair, \\/) decode",
          mv && mst == BATON_OK && strcmp(mv, "\xc3\xa9 \xf0\x9d\x84\x9e / \" \\ \n") == 0);
    free(mv);

    static const struct {
        const char *what, *header;
        size_t data;
        baton_status want;
    } bad[] = {
        {"unterminated JSON", "{" A_OK ", \"b\": {\"dtype\": \"F32\"", 44, BATON_ERR_FORMAT},
        {"a trailing comma", "{" A_OK ", " B_OK ",}", 44, BATON_ERR_FORMAT},
        {"text after the object", "{" A_OK ", " B_OK "} x", 44, BATON_ERR_FORMAT},
        {"an array header", "[" A_OK "]", 44, BATON_ERR_FORMAT},
        {"leading whitespace", " {" A_OK ", " B_OK "}", 44, BATON_ERR_FORMAT},
        {"overlapping offsets",
         "{" A_OK ", \"b\": {\"dtype\": \"F32\", \"shape\": [5], \"data_offsets\": [20, 40]}}", 40, BATON_ERR_FORMAT},
        {"a gap", "{" A_OK ", \"b\": {\"dtype\": \"F32\", \"shape\": [5], \"data_offsets\": [28, 48]}}", 48,
         BATON_ERR_FORMAT},
        {"trailing data", "{" A_OK ", " B_OK "}", 52, BATON_ERR_FORMAT},
        {"a data section cut short", "{" A_OK ", " B_OK "}", 40, BATON_ERR_FORMAT},
        {"offsets that disagree with the shape",
         "{" A_OK ", \"b\": {\"dtype\": \"F32\", \"shape\": [5], \"data_offsets\": [24, 40]}}", 40, BATON_ERR_FORMAT},
        {"reversed offsets",
         "{\"a\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [24, 0]}, " B_OK "}", 44,
         BATON_ERR_FORMAT},
        {"a negative offset",
         "{\"a\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [-4, 20]}, " B_OK "}", 44,
         BATON_ERR_FORMAT},
        {"a fractional dimension",
         "{\"a\": {\"dtype\": \"F32\", \"shape\": [2.5, 3], \"data_offsets\": [0, 24]}, " B_OK "}", 44,
         BATON_ERR_FORMAT},
        {"missing data_offsets", "{\"a\": {\"dtype\": \"F32\", \"shape\": [2, 3]}, " B_OK "}", 44, BATON_ERR_FORMAT},
        {"an entry that is not an object", "{\"a\": 5, " B_OK "}", 44, BATON_ERR_FORMAT},
        {"an unknown dtype", "{" A_OK ", \"b\": {\"dtype\": \"Q7\", \"shape\": [5], \"data_offsets\": [24, 44]}}", 44,
         BATON_ERR_FORMAT},
        {"the wrong dtype", "{" A_OK ", \"b\": {\"dtype\": \"F64\", \"shape\": [5], \"data_offsets\": [24, 64]}}", 64,
         BATON_ERR_FORMAT},
        {"the wrong shape", "{\"a\": {\"dtype\": \"F32\", \"shape\": [3, 2], \"data_offsets\": [0, 24]}, " B_OK "}",
         44, BATON_ERR_FORMAT},
        {"the wrong rank", "{\"a\": {\"dtype\": \"F32\", \"shape\": [6], \"data_offsets\": [0, 24]}, " B_OK "}", 44,
         BATON_ERR_FORMAT},
        {"a missing tensor", "{" A_OK "}", 24, BATON_ERR_FORMAT},
        {"an extra tensor",
         "{" A_OK ", " B_OK ", \"c\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [44, 48]}}", 48,
         BATON_ERR_FORMAT},
        {"a tensor given twice", "{" A_OK ", " B_OK ", " A_OK "}", 44, BATON_ERR_FORMAT},
        {"non-string metadata", "{\"__metadata__\": {\"k\": 1}, " A_OK ", " B_OK "}", 44, BATON_ERR_FORMAT},
        {"metadata that is not an object", "{\"__metadata__\": \"k\", " A_OK ", " B_OK "}", 44, BATON_ERR_FORMAT},
        {"metadata given twice", "{\"__metadata__\": {}, " A_OK ", " B_OK ", \"__metadata__\": {}}", 44,
         BATON_ERR_FORMAT},
        {"invalid UTF-8", "{" A_OK ", " B_OK ", \"\xff\": 1}", 44, BATON_ERR_FORMAT},
        {"a control byte", "{" A_OK ", " B_OK ", \"\x01\": 1}", 44, BATON_ERR_FORMAT},
        {"a raw tab inside a string", "{\"__metadata__\": {\"k\": \"a\tb\"}, " A_OK ", " B_OK "}", 44,
         BATON_ERR_FORMAT},
        {"a \\u escape without four hex digits", "{\"__metadata__\": {\"k\": \"\\ux1\"}, " A_OK ", " B_OK "}", 44,
         BATON_ERR_FORMAT},
        {"an unknown escape", "{\"__metadata__\": {\"k\": \"\\q\"}, " A_OK ", " B_OK "}", 44, BATON_ERR_FORMAT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[160];
        snprintf(name, sizeof name, "damaged: %s is refused ('%s'), one line, buffer untouched", bad[i].what,
                 baton_status_name(bad[i].want));
        ok = write_st(path, bad[i].header, bad[i].data);
        tu_fill_nan(buf, t.total);
        capture c;
        int one_line = capture_begin(&c, dir);
        baton_status st = baton_safetensors_load(path, &t, buf);
        one_line = capture_end(&c, path) && one_line;
        check(r, name, ok && st == bad[i].want && one_line && memcmp(buf, poison, baton_param_bytes(&t)) == 0);
    }

    /* damage at the byte level: a good file, then cut or rewritten */
    ok = write_st(path, "{" A_OK ", " B_OK "}", 44);
    size_t size = 0;
    unsigned char *good = tu_read_file(path, &size);
    ok = ok && good;
    static const struct {
        const char *what;
        int kind; /* 0: keep `arg` bytes; 1: length field := size + arg; 2: length := 2^63; 3: random bytes */
        long arg;
    } cut[] = {
        {"an empty file", 0, 0},        {"a file of 5 bytes", 0, 5},      {"a file cut inside the header", 0, 20},
        {"a file cut in the data", 0, -3}, {"a length beyond the file", 1, 1}, {"a huge length", 2, 0},
        {"random bytes", 3, 64},
    };
    for (size_t i = 0; ok && i < sizeof cut / sizeof cut[0]; i++) {
        unsigned char *b = malloc(size + 64);
        size_t n = size;
        memcpy(b, good, size);
        if (cut[i].kind == 0)
            n = cut[i].arg >= 0 ? (size_t)cut[i].arg : size - (size_t)(-cut[i].arg);
        else if (cut[i].kind == 1)
            put_u64le(b, size + (uint64_t)cut[i].arg);
        else if (cut[i].kind == 2)
            put_u64le(b, (uint64_t)1 << 63);
        else {
            n = (size_t)cut[i].arg;
            for (size_t k = 0; k < n; k++)
                b[k] = (unsigned char)(k * 97 + 13);
        }
        int wrote = tu_write_file(path, b, n);
        free(b);
        char name[160];
        snprintf(name, sizeof name, "damaged: %s is refused ('bad format'), one line, buffer untouched", cut[i].what);
        tu_fill_nan(buf, t.total);
        capture c;
        int one_line = capture_begin(&c, dir);
        baton_status st = baton_safetensors_load(path, &t, buf);
        one_line = capture_end(&c, path) && one_line;
        check(r, name, wrote && st == BATON_ERR_FORMAT && one_line && memcmp(buf, poison, baton_param_bytes(&t)) == 0);
        baton_status mst = BATON_OK;
        char *v = baton_safetensors_metadata(path, "k", &mst);
        snprintf(name, sizeof name, "damaged: metadata of %s is NULL with 'bad format'", cut[i].what);
        check(r, name, !v && mst == BATON_ERR_FORMAT);
        free(v);
    }
    free(good);

    /* a header of more than a million JSON values is refused before cJSON builds a node for each */
    size_t many = 1000001;
    char *huge = malloc(2 * many + 256); /* the values, the two tensors' entries before them, "]}" */
    if (huge) {
        char *w = huge + sprintf(huge, "{" A_OK ", " B_OK ", \"__metadata__\": {\"k\": \"v\"}, \"x\": [");
        for (size_t i = 0; i < many; i++) {
            if (i)
                *w++ = ',';
            *w++ = '0';
        }
        strcpy(w, "]}");
    }
    tu_fill_nan(buf, t.total);
    baton_status vst = huge && write_st(path, huge, 44) ? baton_safetensors_load(path, &t, buf) : BATON_OK;
    check(r, "damaged: a header of more than 1000000 JSON values is refused, naming the file",
          vst == BATON_ERR_FORMAT && strstr(baton_error_last(), "more than 1000000 JSON values") &&
              strstr(baton_error_last(), path) && memcmp(buf, poison, baton_param_bytes(&t)) == 0);
    free(huge);

    remove(path);
    capture c;
    int one_line = capture_begin(&c, dir);
    baton_status st = baton_safetensors_load(path, &t, buf);
    one_line = capture_end(&c, path) && one_line;
    check(r, "damaged: a missing file is an i/o error with one line", st == BATON_ERR_IO && one_line);
    mst = BATON_OK;
    char *v = baton_safetensors_metadata(path, "k", &mst);
    check(r, "damaged: metadata of a missing file is NULL with an i/o error", !v && mst == BATON_ERR_IO);
    check(r, "damaged: a directory is an i/o error", baton_safetensors_load(dir, &t, buf) == BATON_ERR_IO);
done:
    remove(path);
    free(buf);
    free(poison);
    baton_param_table_free(&t);
}

/* ---- interoperability with a file PyTorch wrote ------------------------------------------------ */

/* The fixture with only `names` kept, their data repacked in name order: what a PyTorch state dict
 * of just those parameters looks like. Values are copied bytes, so they stay the fixture's. */
static int repack(const unsigned char *fix, size_t size, const char *const *names, int n, const char *out)
{
    uint64_t hlen = get_u64le(fix);
    cJSON *hdr = cJSON_ParseWithLength((const char *)fix + 8, (size_t)hlen);
    cJSON *keep = cJSON_CreateObject();
    unsigned char *data = malloc(size);
    int ok = hdr && keep && data;
    uint64_t at = 0;
    for (int i = 0; ok && i < n; i++) {
        cJSON *e = cJSON_GetObjectItemCaseSensitive(hdr, names[i]);
        cJSON *offs = e ? cJSON_GetObjectItemCaseSensitive(e, "data_offsets") : NULL;
        ok = offs && cJSON_GetArraySize(offs) == 2;
        if (!ok)
            break;
        uint64_t b = (uint64_t)cJSON_GetArrayItem(offs, 0)->valuedouble;
        uint64_t end = (uint64_t)cJSON_GetArrayItem(offs, 1)->valuedouble;
        memcpy(data + at, fix + 8 + hlen + b, end - b);
        cJSON *e2 = cJSON_Duplicate(e, 1);
        cJSON *o2 = cJSON_CreateArray();
        cJSON_AddItemToArray(o2, cJSON_CreateNumber((double)at));
        cJSON_AddItemToArray(o2, cJSON_CreateNumber((double)(at + end - b)));
        cJSON_ReplaceItemInObjectCaseSensitive(e2, "data_offsets", o2);
        cJSON_AddItemToObject(keep, names[i], e2);
        at += end - b;
    }
    char *text = ok ? cJSON_PrintUnformatted(keep) : NULL;
    if (text) {
        size_t tl = strlen(text), padded = (tl + 7) / 8 * 8;
        unsigned char *file = malloc(8 + padded + at);
        ok = file != NULL;
        if (ok) {
            put_u64le(file, padded);
            memcpy(file + 8, text, tl);
            memset(file + 8 + tl, ' ', padded - tl);
            memcpy(file + 8 + padded, data, at);
            ok = tu_write_file(out, file, 8 + padded + at);
        }
        free(file);
    } else {
        ok = 0;
    }
    free(text);
    free(data);
    cJSON_Delete(keep);
    cJSON_Delete(hdr);
    return ok;
}

/* Tensor `name` of the fixture as floats (F32, little-endian), read by cJSON here, not the library. */
static int fixture_f32(const unsigned char *fix, const char *name, float *out, size_t n)
{
    uint64_t hlen = get_u64le(fix);
    cJSON *hdr = cJSON_ParseWithLength((const char *)fix + 8, (size_t)hlen);
    cJSON *e = hdr ? cJSON_GetObjectItemCaseSensitive(hdr, name) : NULL;
    cJSON *offs = e ? cJSON_GetObjectItemCaseSensitive(e, "data_offsets") : NULL;
    int ok = offs != NULL;
    if (ok) {
        uint64_t b = (uint64_t)cJSON_GetArrayItem(offs, 0)->valuedouble;
        uint64_t end = (uint64_t)cJSON_GetArrayItem(offs, 1)->valuedouble;
        ok = end - b == 4 * n;
        for (size_t i = 0; ok && i < n; i++)
            out[i] = le_f32(fix + 8 + hlen + b + 4 * i);
    }
    cJSON_Delete(hdr);
    return ok;
}

static void test_fixture(tu_report *r, const char *dir)
{
    char fdir[512], path[700];
    if (!testutil_fixture_dir(fdir, sizeof fdir)) {
        printf("fixture: skipped: no fixture directory (set BATON_FIXTURES or place ../shared/fixtures)\n");
        return;
    }
    snprintf(path, sizeof path, "%s/layer_lstm_uni_L1.safetensors", fdir);
    if (access(path, R_OK) != 0) {
        printf("fixture: skipped: %s is absent\n", path);
        return;
    }
    baton_param_table t;
    baton_param_table_init(&t);
    static const char *const names[] = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"};
    const int64_t shapes[][2] = {{24, 4}, {24, 6}, {24}, {24}};
    const int ndims[] = {2, 2, 1, 1};
    int ok = 1;
    for (int i = 0; i < 4 && ok; i++)
        ok = baton_param_add(&t, NULL, names[i], ndims[i], shapes[i]) == BATON_OK;
    float *buf = malloc(baton_param_bytes(&t)), *poison = malloc(baton_param_bytes(&t));
    size_t size = 0;
    unsigned char *fix = tu_read_file(path, &size);
    if (!ok || !buf || !poison || !fix) {
        check(r, "fixture: set-up", 0);
        goto done;
    }
    tu_fill_nan(poison, t.total);
    tu_fill_nan(buf, t.total);

    /* every check but the table match passes on PyTorch's header; the extras are named */
    capture c;
    int one_line = capture_begin(&c, dir);
    baton_status st = baton_safetensors_load(path, &t, buf);
    int named = 0;
    if (one_line) {
        fflush(stderr);
        size_t n = 0;
        char *text = (char *)tu_read_file(c.path, &n);
        named = text && strstr(text, "not in the model") && strstr(text, "'c0'");
        free(text);
    }
    one_line = capture_end(&c, path) && one_line;
    check(r, "fixture: load refuses PyTorch's file for its extra tensors, naming them",
          st == BATON_ERR_FORMAT && one_line && named && memcmp(buf, poison, baton_param_bytes(&t)) == 0);

    st = BATON_ERR_INVALID;
    char *cfg = baton_safetensors_metadata(path, "config", &st);
    check(r, "fixture: metadata \"config\" reads back from PyTorch's file",
          cfg && st == BATON_OK && cfg[0] == '{' && strstr(cfg, "\"cell\": \"lstm\"") &&
              strstr(cfg, "\"hidden_per_direction\": 6"));
    free(cfg);

    /* the LSTM parameters alone (name order, as PyTorch writes them; the table's order differs) */
    char sub[300];
    snprintf(sub, sizeof sub, "%s/lstm_params.safetensors", dir);
    static const char *const sorted[] = {"bias_hh_l0", "bias_ih_l0", "weight_hh_l0", "weight_ih_l0"};
    ok = repack(fix, size, sorted, 4, sub) && baton_safetensors_load(sub, &t, buf) == BATON_OK;
    float ref[24 * 6];
    for (int i = 0; i < 4 && ok; i++) {
        const baton_param *p = &t.items[i];
        ok = fixture_f32(fix, p->name, ref, p->numel) &&
             memcmp(buf + p->offset, ref, p->numel * sizeof(float)) == 0;
    }
    check(r, "fixture: the LSTM parameters, repacked, load with PyTorch's exact values", ok);
    remove(sub);
done:
    free(fix);
    free(buf);
    free(poison);
    baton_param_table_free(&t);
}

#endif /* BATON_HAVE_CJSON */

int main(void)
{
    tu_report r = {0};
    setvbuf(stdout, NULL, _IOLBF, 0); /* keep the log in order with the library's stderr lines */
    char dir[] = "/tmp/baton_test_safetensors_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip(&r, dir);
    test_bytes(&r, dir);
    test_save_args(&r, dir);
    test_atomic(&r, dir);
#if BATON_HAVE_CJSON
    test_damaged(&r, dir);
    test_fixture(&r, dir);
#else
    printf("test_safetensors: built without cJSON: damaged-file and fixture checks left out\n");
#endif
    if (rmdir(dir) != 0)
        printf("test_safetensors: could not remove %s (files left behind?)\n", dir);
    return tu_summary(&r, "test_safetensors");
}
