/* test_checkpoint.c: training checkpoints (checkpoint.h).
 *
 * - round trip of a real seq2seq parameter table with random params, m and v and a state with
 *   every field set: bit-identical after load into NaN-poisoned buffers; texts (multi-line, quotes,
 *   backslashes, tabs, UTF-8) come back byte for byte; SGD files (no moments) and skipped moments;
 * - the file itself: every table name, optim.exp_avg.<name> and optim.exp_avg_sq.<name> in the
 *   header, and the checksum recomputed here, independently, from checkpoint.h's definition;
 * - refusals, each with an error line naming the file and the problem: truncation at several
 *   lengths, a flipped byte in the data and at every byte of the header, wrong format, a newer
 *   version, a different table (shape, extra, missing tensor), moments requested from an SGD file,
 *   an empty file, a directory, a missing file; the state is left untouched;
 * - atomicity: a child saving A, B, A, ... to one path is SIGKILLed after various delays; the file
 *   always loads as A or B exactly; a stale .tmp does not matter; an unwritable directory fails
 *   cleanly (not as root, whom permissions do not stop);
 * - Python (when python3 has safetensors.numpy): load_file sees the names and shapes.
 * Without cJSON the build saves but cannot load: those checks expect BATON_ERR_UNSUPPORTED, then
 * the test exits 77 (skipped). */
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

#include "baton/checkpoint.h"
#include "baton/safetensors.h"
#include "baton/seq2seq.h"
#include "baton_config.h"
#include "testutil.h"

#if BATON_HAVE_CJSON
#include <cJSON.h>
#endif

static int check(tu_report *r, const char *name, int ok)
{
    return tu_check_abs(r, name, ok ? 0.0 : 1.0, 0.0);
}

/* The last error line names the file and says `what`. */
static int said(const char *path, const char *what)
{
    const char *e = baton_error_last();
    int ok = strstr(e, path) && strstr(e, what);
    printf("    error: %s%s\n", e, ok ? "" : "   <-- expected the file and this text: ");
    if (!ok)
        printf("    %s\n", what);
    return ok;
}

/* ---- fixture: a real table and two different training states ----------------------------------- */

typedef struct {
    float *p, *m, *v;
    baton_ckpt_state st;
    baton_ckpt_text texts[4];
} snapshot;

static const char *const multi_text = "line 1: \"quoted\" and a back\\slash\n\tline 2 after a tab\n"
                                      "UTF-8: \xc3\xbc\xc3\xa9 \xe2\x9c\x93 \xf0\x9d\x84\x9e \xe4\xb8\xad\xe6\x96\x87\n"
                                      "a CR\r and \\n that is not a newline\n";

static int make_table(baton_param_table *t, int hidden, const char *extra)
{
    baton_s2s_config c = {.cell = BATON_CELL_LSTM, .src_vocab = 11, .tgt_vocab = 13, .emb = 6, .hidden = hidden,
                          .layers = 2, .bidirectional = 1, .score = BATON_ATTN_GENERAL};
    baton_s2s m;
    baton_param_table_init(t);
    int64_t three = 3;
    return baton_s2s_init(&m, &c, t) == BATON_OK && (!extra || baton_param_add(t, NULL, extra, 1, &three) == BATON_OK);
}

static int snap_make(snapshot *s, const baton_param_table *t, uint64_t seed, const char *position)
{
    size_t bytes = baton_param_bytes(t);
    s->p = malloc(bytes), s->m = malloc(bytes), s->v = malloc(bytes);
    if (!s->p || !s->m || !s->v)
        return 0;
    tu_fill_uniform(s->p, t->total, -1.0f, 1.0f, seed, 1);
    tu_fill_uniform(s->m, t->total, -0.01f, 0.01f, seed, 2);
    tu_fill_uniform(s->v, t->total, 0.0f, 1e-4f, seed, 3);
    s->p[0] = -0.0f, s->m[0] = 1e-40f; /* bits a careless conversion would change */
    s->st = (baton_ckpt_state){.step = 123456789L + (long)seed, .batches = 987654321L, .epoch = 7 + (long)seed,
                               .seed = 0xfedcba9876543210ull + seed, .best_score = 1.0 / 3.0 + (double)seed,
                               .bad_evals = 2, .lr_scale = 0.1 * 0.7, .elapsed_ms = 86400000L * 3 + 17,
                               .skipped_steps = 3 + (long)seed, .bad_steps_in_a_row = 2};
    s->texts[0] = (baton_ckpt_text){"config", "{\n  \"cell\": \"lstm\",\n  \"hidden\": 8\n}\n"};
    s->texts[1] = (baton_ckpt_text){"src_vocab", multi_text};
    s->texts[2] = (baton_ckpt_text){"tgt_vocab", ""};
    s->texts[3] = (baton_ckpt_text){"data_position", position};
    return 1;
}

static void snap_free(snapshot *s)
{
    free(s->p), free(s->m), free(s->v);
}

static int save(const char *path, const baton_param_table *t, const snapshot *s, int adam)
{
    return baton_ckpt_save(path, t, s->p, adam ? s->m : NULL, adam ? s->v : NULL, NULL, &s->st, s->texts, 4) ==
           BATON_OK;
}

#if BATON_HAVE_CJSON

static int same_tensors(const baton_param_table *t, const float *a, const float *b)
{
    for (int i = 0; i < t->count; i++)
        if (memcmp(a + t->items[i].offset, b + t->items[i].offset, t->items[i].numel * sizeof(float)) != 0)
            return 0;
    return 1;
}

static int same_state(const baton_ckpt_state *a, const baton_ckpt_state *b)
{
    return a->step == b->step && a->batches == b->batches && a->epoch == b->epoch && a->seed == b->seed &&
           memcmp(&a->best_score, &b->best_score, sizeof(double)) == 0 && a->bad_evals == b->bad_evals &&
           memcmp(&a->lr_scale, &b->lr_scale, sizeof(double)) == 0 && a->elapsed_ms == b->elapsed_ms &&
           a->skipped_steps == b->skipped_steps && a->bad_steps_in_a_row == b->bad_steps_in_a_row;
}

static uint64_t get_u64le(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Buffers poisoned with NaN, to load into. */
static int snap_poisoned(snapshot *s, const baton_param_table *t)
{
    size_t bytes = baton_param_bytes(t);
    s->p = malloc(bytes), s->m = malloc(bytes), s->v = malloc(bytes);
    if (!s->p || !s->m || !s->v)
        return 0;
    tu_fill_nan(s->p, t->total), tu_fill_nan(s->m, t->total), tu_fill_nan(s->v, t->total);
    memset(&s->st, 0xab, sizeof s->st);
    return 1;
}

static int load_equals(const char *path, const baton_param_table *t, const snapshot *want, snapshot *got)
{
    tu_fill_nan(got->p, t->total), tu_fill_nan(got->m, t->total), tu_fill_nan(got->v, t->total);
    return baton_ckpt_load(path, t, got->p, got->m, got->v, NULL, &got->st) == BATON_OK &&
           same_tensors(t, want->p, got->p) && same_tensors(t, want->m, got->m) && same_tensors(t, want->v, got->v) &&
           same_state(&want->st, &got->st);
}

/* ---- round trip -------------------------------------------------------------------------------- */

/* The moving average of the weights: stored with its own prefix, read where asked, skipped where
 * not; a file without one loads into a run that has one and says so (has_ema), leaving it as it was. */
static void test_round_trip_ema(tu_report *r, const char *path, const baton_param_table *t, const snapshot *a,
                                snapshot *got)
{
    size_t bytes = baton_param_bytes(t);
    float *ema = malloc(bytes), *into = malloc(bytes);
    int ok = ema && into;
    if (ok) {
        tu_fill_uniform(ema, t->total, -1.0f, 1.0f, 77, 4);
        tu_fill_nan(into, t->total);
    }
    /* the file the caller left: SGD, no moving average */
    ok = ok && baton_ckpt_load(path, t, got->p, NULL, NULL, into, &got->st) == BATON_OK && !got->st.has_ema &&
         isnan(into[0]);
    check(r, "round trip: a file without a moving average loads, has_ema 0, the buffer untouched", ok);
    ok = ok && baton_ckpt_save(path, t, a->p, a->m, a->v, ema, &a->st, a->texts, 4) == BATON_OK;
    ok = ok && load_equals(path, t, a, got); /* ema NULL: skipped */
    check(r, "round trip: a moving average is skipped where not asked for", ok);
    ok = ok && baton_ckpt_load(path, t, got->p, got->m, got->v, into, &got->st) == BATON_OK && got->st.has_ema &&
         same_tensors(t, ema, into) && same_tensors(t, a->p, got->p) && same_tensors(t, a->m, got->m);
    check(r, "round trip: params, m, v and the moving average bit-identical, has_ema 1", ok);
    free(ema), free(into);
}

static void test_round_trip(tu_report *r, const char *dir, const baton_param_table *t, const snapshot *a,
                            snapshot *got)
{
    char path[300];
    snprintf(path, sizeof path, "%s/rt.ckpt", dir);
    int ok = save(path, t, a, 1);
    check(r, "round trip: save", ok);
    check(r, "round trip: params, m, v and every state field bit-identical", ok && load_equals(path, t, a, got));
    int texts_ok = 1;
    for (int i = 0; i < 4; i++) {
        baton_status st = BATON_ERR_INVALID;
        char *v = baton_ckpt_text_get(path, a->texts[i].key, &st);
        texts_ok = texts_ok && v && st == BATON_OK && strcmp(v, a->texts[i].value) == 0;
        free(v);
    }
    check(r, "round trip: texts (multi-line, quotes, backslashes, tabs, UTF-8, empty) byte for byte", texts_ok);
    baton_status st = BATON_ERR_INVALID;
    char *v = baton_ckpt_text_get(path, "absent", &st);
    check(r, "round trip: an absent text is NULL with BATON_OK", !v && st == BATON_OK);

    /* moments left in the file when the caller does not want them */
    tu_fill_nan(got->p, t->total);
    ok = baton_ckpt_load(path, t, got->p, NULL, NULL, NULL, NULL) == BATON_OK && same_tensors(t, a->p, got->p);
    check(r, "round trip: m and v may be skipped (NULL), state NULL", ok);

    /* SGD: no moments; a fresh state's NaN best score */
    snapshot s = *a;
    s.st = baton_ckpt_state_fresh(42);
    ok = save(path, t, &s, 0);
    memset(&got->st, 0, sizeof got->st);
    ok = ok && baton_ckpt_load(path, t, got->p, NULL, NULL, NULL, &got->st) == BATON_OK &&
         same_tensors(t, a->p, got->p);
    check(r, "round trip: SGD (no moments), fresh state (NaN best score, lr_scale 1)",
          ok && isnan(got->st.best_score) && got->st.lr_scale == 1.0 && got->st.seed == 42 && got->st.step == 0);
    test_round_trip_ema(r, path, t, a, got);
    remove(path);
}

/* ---- the file: names and an independent checksum ----------------------------------------------- */

static uint32_t crc32_bitwise(uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? 0xedb88320u ^ (crc >> 1) : crc >> 1;
    }
    return ~crc;
}

static int by_key(const void *a, const void *b)
{
    return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

static void test_file(tu_report *r, const char *dir, const baton_param_table *t, const snapshot *a)
{
    char path[300];
    snprintf(path, sizeof path, "%s/file.ckpt", dir);
    size_t size = 0;
    unsigned char *f = save(path, t, a, 1) ? tu_read_file(path, &size) : NULL;
    uint64_t hlen = f && size >= 8 ? get_u64le(f) : 0;
    cJSON *h = f && hlen <= size - 8 ? cJSON_ParseWithLength((const char *)f + 8, (size_t)hlen) : NULL;
    int ok = h != NULL;
    for (int i = 0; ok && i < t->count; i++) {
        char name[200];
        static const char *const prefix[] = {"", "optim.exp_avg.", "optim.exp_avg_sq."};
        for (int k = 0; ok && k < 3; k++) {
            snprintf(name, sizeof name, "%s%s", prefix[k], t->items[i].name);
            cJSON *shape = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(h, name), "shape");
            ok = cJSON_GetArraySize(shape) == t->items[i].ndim;
            for (int d = 0; ok && d < t->items[i].ndim; d++)
                ok = cJSON_GetArrayItem(shape, d)->valuedouble == (double)t->items[i].shape[d];
        }
    }
    check(r, "file: every parameter under its table name, m and v under optim.exp_avg(_sq).<name>, shapes",
          ok && cJSON_GetArraySize(h) == 3 * t->count + 1);
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(h, "__metadata__");
    int n = cJSON_GetArraySize(meta);
    const cJSON **items = malloc((size_t)(n ? n : 1) * sizeof *items);
    ok = meta && items;
    for (int i = 0; ok && i < n; i++)
        items[i] = cJSON_GetArrayItem(meta, i);
    uint32_t crc = 0;
    if (ok) {
        qsort(items, (size_t)n, sizeof *items, by_key);
        for (int i = 0; i < n; i++) {
            if (strcmp(items[i]->string, "checksum") == 0)
                continue;
            crc = crc32_bitwise(crc, (const unsigned char *)items[i]->string, strlen(items[i]->string) + 1);
            crc = crc32_bitwise(crc, (const unsigned char *)items[i]->valuestring, strlen(items[i]->valuestring) + 1);
        }
        crc = crc32_bitwise(crc, f + 8 + hlen, size - 8 - hlen);
    }
    char want[32];
    snprintf(want, sizeof want, "crc32:%08lx", (unsigned long)crc);
    cJSON *sum = cJSON_GetObjectItemCaseSensitive(meta, "checksum");
    cJSON *fmt = cJSON_GetObjectItemCaseSensitive(meta, "format"), *ver = cJSON_GetObjectItemCaseSensitive(meta, "version");
    check(r, "file: format, version, and the checksum as checkpoint.h defines it (recomputed bitwise here)",
          ok && cJSON_IsString(sum) && strcmp(sum->valuestring, want) == 0 && cJSON_IsString(fmt) &&
              strcmp(fmt->valuestring, "baton-checkpoint") == 0 && cJSON_IsString(ver) &&
              strcmp(ver->valuestring, "1") == 0);
    cJSON *step = cJSON_GetObjectItemCaseSensitive(meta, "state.step");
    check(r, "file: state as decimal strings", cJSON_IsString(step) && strcmp(step->valuestring, "123456790") == 0);
    free(items);
    cJSON_Delete(h);
    free(f);
    remove(path);
}

/* ---- refusals ---------------------------------------------------------------------------------- */

/* Loads path into got; 1 when refused with a line naming path and `what`, the state untouched. */
static int refused(const char *path, const baton_param_table *t, snapshot *got, int want_m, const char *what)
{
    memset(&got->st, 0xab, sizeof got->st);
    baton_ckpt_state before = got->st;
    baton_status st = baton_ckpt_load(path, t, got->p, want_m ? got->m : NULL, want_m ? got->v : NULL, NULL, &got->st);
    return st != BATON_OK && memcmp(&before, &got->st, sizeof before) == 0 && (!what || said(path, what));
}

static void test_damage(tu_report *r, const char *dir, const baton_param_table *t, const snapshot *a, snapshot *got)
{
    char path[300], name[200];
    snprintf(path, sizeof path, "%s/damaged.ckpt", dir);
    size_t size = 0;
    unsigned char *good = save(path, t, a, 1) ? tu_read_file(path, &size) : NULL;
    if (!good) {
        check(r, "damage: set-up", 0);
        return;
    }
    uint64_t hlen = get_u64le(good), data = 8 + hlen;
    const size_t cuts[] = {0, 5, 8 + hlen / 2, data, data + (size - data) / 2, size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        snprintf(name, sizeof name, "damage: truncated to %zu of %zu bytes is refused", cuts[i], size);
        check(r, name, tu_write_file(path, good, cuts[i]) && refused(path, t, got, 1, cuts[i] ? "truncated" : "0 bytes"));
    }
    const size_t flips[] = {data, data + (size - data) / 2, size - 1};
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        good[flips[i]] ^= 0x10;
        snprintf(name, sizeof name, "damage: a flipped byte in the data (at %zu) is a checksum mismatch", flips[i]);
        check(r, name, tu_write_file(path, good, size) && refused(path, t, got, 1, "checksum mismatch"));
        baton_status st = BATON_OK;
        char *v = baton_ckpt_text_get(path, "config", &st);
        check(r, "damage: ... and its texts are not handed out", !v && st == BATON_ERR_FORMAT);
        good[flips[i]] ^= 0x10;
    }
    /* every single byte of the header JSON, flipped: all must be refused (stderr muted meanwhile) */
    fflush(stderr);
    int saved = dup(2), devnull = open("/dev/null", O_WRONLY);
    if (saved >= 0 && devnull >= 0)
        dup2(devnull, 2);
    int all = saved >= 0 && devnull >= 0;
    size_t first_accepted = 0;
    for (size_t i = 8; i < data && all; i++) {
        good[i] ^= 0x01;
        all = tu_write_file(path, good, size) && refused(path, t, got, 1, NULL);
        first_accepted = i;
        good[i] ^= 0x01;
    }
    fflush(stderr);
    if (saved >= 0)
        dup2(saved, 2), close(saved);
    if (devnull >= 0)
        close(devnull);
    snprintf(name, sizeof name, "damage: a flipped bit in any of the %llu header bytes is refused%s",
             (unsigned long long)hlen, all ? "" : " (one was accepted)");
    if (!all)
        printf("    accepted a flip at byte %zu\n", first_accepted);
    check(r, name, all);
    free(good);
    remove(path);
}

static void test_foreign(tu_report *r, const char *dir, const baton_param_table *t, const snapshot *a, snapshot *got)
{
    char path[300];
    snprintf(path, sizeof path, "%s/foreign.ckpt", dir);
    const char *keys[] = {"format", "version"}, *bad_fmt[] = {"baton-chekpoint", "1"}, *future[] = {"baton-checkpoint", "2"};
    check(r, "foreign: a plain safetensors file (no format) is refused",
          baton_safetensors_save(path, t, a->p, NULL, NULL, 0) == BATON_OK && refused(path, t, got, 0, "not a baton checkpoint"));
    check(r, "foreign: a wrong format string is refused",
          baton_safetensors_save(path, t, a->p, keys, bad_fmt, 2) == BATON_OK && refused(path, t, got, 0, "baton-chekpoint"));
    check(r, "foreign: a future version is refused",
          baton_safetensors_save(path, t, a->p, keys, future, 2) == BATON_OK && refused(path, t, got, 0, "version 2 is newer"));

    baton_param_table other;
    int ok = save(path, t, a, 1) && make_table(&other, 10, NULL);
    check(r, "foreign: a table of other shapes is refused", ok && refused(path, &other, got, 1, "has shape"));
    baton_param_table_free(&other);
    ok = make_table(&other, 8, "extra.weight");
    check(r, "foreign: a table with a tensor the file lacks is refused",
          ok && refused(path, &other, got, 1, "missing from the file, e.g. 'extra.weight'"));
    baton_param_table_free(&other);
    baton_param_table_init(&other);
    for (int i = 0; i + 1 < t->count; i++)
        ok = ok && baton_param_add(&other, NULL, t->items[i].name, t->items[i].ndim, t->items[i].shape) == BATON_OK;
    check(r, "foreign: a table without one of the file's tensors is refused",
          ok && refused(path, &other, got, 1, "3 tensors in the file are not in the model"));
    baton_param_table_free(&other);

    ok = save(path, t, a, 0);
    check(r, "foreign: moments requested from an SGD checkpoint are refused",
          ok && refused(path, t, got, 1, "no 'optim.exp_avg.*' tensors (saved with SGD?)"));
    check(r, "foreign: an empty file is refused", tu_write_file(path, "", 0) && refused(path, t, got, 1, "0 bytes"));
    check(r, "foreign: a directory is refused", refused(dir, t, got, 1, "not a regular file"));
    remove(path);
    check(r, "foreign: a missing file is refused", refused(path, t, got, 1, "No such file"));
}

/* ---- atomicity --------------------------------------------------------------------------------- */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_atomic(tu_report *r, const char *dir, const baton_param_table *t, const snapshot *a,
                        const snapshot *b, snapshot *got)
{
    char path[300], tmp[310];
    snprintf(path, sizeof path, "%s/atomic.ckpt", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int ok = tu_write_file(tmp, "debris of a killed save", 23) && save(path, t, a, 1) && access(tmp, F_OK) != 0;
    check(r, "atomic: save replaces a stale .tmp and leaves none", ok && load_equals(path, t, a, got));
    ok = tu_write_file(tmp, "debris", 6) && load_equals(path, t, a, got);
    check(r, "atomic: a stale .tmp does not affect loading", ok);

    static const int delays[] = {0, 1, 2, 5, 10, 20};
    int kills = 0, as = 0, bs = 0, tmps = 0;
    for (int round = 0; ok && round < 3; round++) {
        for (size_t i = 0; ok && i < sizeof delays / sizeof delays[0]; i++) {
            fflush(stdout), fflush(stderr);
            pid_t pid = fork();
            if (pid == 0) {
                for (long k = 0;; k++)
                    if (!save(path, t, k % 2 ? b : a, 1))
                        _exit(3);
            }
            sleep_ms(delays[i] + round); /* the extra millisecond varies where the kill lands */
            ok = pid > 0 && kill(pid, SIGKILL) == 0;
            int status = 0;
            ok = ok && waitpid(pid, &status, 0) == pid && WIFSIGNALED(status);
            kills++;
            tmps += access(tmp, F_OK) == 0;
            int is_a = ok && load_equals(path, t, a, got), is_b = ok && !is_a && load_equals(path, t, b, got);
            as += is_a, bs += is_b;
            ok = is_a || is_b;
        }
    }
    printf("    %d kills: %d left A, %d left B, %d left a .tmp behind\n", kills, as, bs, tmps);
    check(r, "atomic: after every SIGKILL the file loads as A or B exactly", ok && kills == 18);
    remove(tmp);

    if (geteuid() == 0) {
        printf("atomic: unwritable directory: skipped (running as root, which ignores permissions)\n");
        remove(path);
        return;
    }
    char sub[300], sp[340];
    snprintf(sub, sizeof sub, "%s/ro", dir);
    snprintf(sp, sizeof sp, "%s/ckpt", sub);
    ok = mkdir(sub, 0700) == 0 && save(sp, t, a, 1) && chmod(sub, 0500) == 0;
    baton_status st = ok ? baton_ckpt_save(sp, t, b->p, b->m, b->v, NULL, &b->st, NULL, 0) : BATON_OK;
    ok = ok && st == BATON_ERR_IO && said(sp, "cannot create");
    chmod(sub, 0700);
    check(r, "atomic: saving into an unwritable directory fails cleanly, the old file intact",
          ok && load_equals(sp, t, a, got));
    remove(sp);
    rmdir(sub);
    remove(path);
}

/* ---- Python ------------------------------------------------------------------------------------ */

static const char *const py_script =
    "import sys\n"
    "import safetensors.numpy as sn\n"
    "d = sn.load_file(sys.argv[1])\n"
    "want = {}\n"
    "for line in open(sys.argv[2], encoding='utf-8').read().splitlines():\n"
    "    name, dims = line.split('\\t')\n"
    "    want[name] = tuple(int(x) for x in dims.split(',') if x)\n"
    "got = {k: tuple(v.shape) for k, v in d.items()}\n"
    "assert all(v.dtype.name == 'float32' for v in d.values())\n"
    "if got != want:\n"
    "    print('python sees', sorted(got.items())[:5], '... expected', sorted(want.items())[:5])\n"
    "    sys.exit(1)\n";

static void test_python(tu_report *r, const char *dir, const baton_param_table *t, const snapshot *a)
{
    if (system("python3 -c 'import safetensors.numpy' >/dev/null 2>&1") != 0) {
        printf("python: skipped: python3 with safetensors and numpy is not available (pip install safetensors "
               "numpy)\n");
        return;
    }
    char path[300], script[300], names[300], cmd[1100];
    snprintf(path, sizeof path, "%s/py.ckpt", dir);
    snprintf(script, sizeof script, "%s/check.py", dir);
    snprintf(names, sizeof names, "%s/names.txt", dir);
    FILE *f = fopen(names, "w");
    for (int k = 0; f && k < 3; k++) {
        static const char *const prefix[] = {"", "optim.exp_avg.", "optim.exp_avg_sq."};
        for (int i = 0; i < t->count; i++) {
            fprintf(f, "%s%s\t", prefix[k], t->items[i].name);
            for (int d = 0; d < t->items[i].ndim; d++)
                fprintf(f, "%s%lld", d ? "," : "", (long long)t->items[i].shape[d]);
            fprintf(f, "\n");
        }
    }
    int ok = f && fclose(f) == 0 && tu_write_file(script, py_script, strlen(py_script)) && save(path, t, a, 1);
    snprintf(cmd, sizeof cmd, "python3 '%s' '%s' '%s'", script, path, names);
    check(r, "python: safetensors.numpy.load_file sees every name and shape (F32)", ok && system(cmd) == 0);
    remove(path), remove(script), remove(names);
}

#endif /* BATON_HAVE_CJSON */

/* ---- save arguments (and, without cJSON, the unsupported load) --------------------------------- */

static void test_save_args(tu_report *r, const char *dir, const baton_param_table *t, const snapshot *a)
{
    char path[300];
    snprintf(path, sizeof path, "%s/args.ckpt", dir);
    baton_ckpt_text reserved[] = {{"state.step", "1"}}, sum[] = {{"checksum", "x"}}, dup[] = {{"k", "1"}, {"k", "2"}};
    baton_ckpt_text bad_utf8[] = {{"k", "\xc3("}};
    int ok = baton_ckpt_save(path, t, a->p, a->m, a->v, NULL, &a->st, reserved, 1) == BATON_ERR_INVALID &&
             baton_ckpt_save(path, t, a->p, a->m, a->v, NULL, &a->st, sum, 1) == BATON_ERR_INVALID &&
             baton_ckpt_save(path, t, a->p, a->m, a->v, NULL, &a->st, dup, 2) == BATON_ERR_INVALID &&
             baton_ckpt_save(path, t, a->p, a->m, a->v, NULL, &a->st, bad_utf8, 1) == BATON_ERR_INVALID &&
             baton_ckpt_save(path, t, a->p, a->m, NULL, NULL, &a->st, NULL, 0) == BATON_ERR_INVALID &&
             baton_ckpt_save(path, t, a->p, NULL, NULL, NULL, NULL, NULL, 0) == BATON_ERR_INVALID;
    baton_param_table bad;
    baton_param_table_init(&bad);
    int64_t two = 2;
    ok = ok && baton_param_add(&bad, NULL, "optim.lr", 1, &two) == BATON_OK &&
         baton_ckpt_save(path, &bad, a->p, NULL, NULL, NULL, &a->st, NULL, 0) == BATON_ERR_INVALID;
    baton_param_table_free(&bad);
    check(r, "save: refuses reserved or repeated text keys, bad UTF-8, one moment, no state, an optim.* parameter",
          ok && access(path, F_OK) != 0);
#if !BATON_HAVE_CJSON
    ok = save(path, t, a, 1) && baton_ckpt_load(path, t, a->p, NULL, NULL, NULL, NULL) == BATON_ERR_UNSUPPORTED &&
         said(path, "lacks cJSON");
    baton_status st = BATON_OK;
    char *v = baton_ckpt_text_get(path, "config", &st);
    check(r, "no cJSON: save works, load and text_get are unsupported", ok && !v && st == BATON_ERR_UNSUPPORTED);
    remove(path);
#endif
}

int main(void)
{
    tu_report r = {0};
    setvbuf(stdout, NULL, _IOLBF, 0);
    char dir[] = "/tmp/baton_test_checkpoint_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    baton_param_table t;
    snapshot a = {0}, b = {0}, got = {0};
    int ok = make_table(&t, 8, NULL) && snap_make(&a, &t, 1, "epoch 3, batch 17") && snap_make(&b, &t, 2, "B");
    check(&r, "set-up: a seq2seq table and two states", ok);
    if (!ok)
        return tu_summary(&r, "test_checkpoint");
    printf("set-up: %d tensors, %zu floats per buffer\n", t.count, t.total);
    test_save_args(&r, dir, &t, &a);
#if BATON_HAVE_CJSON
    ok = snap_poisoned(&got, &t);
    check(&r, "set-up: buffers to load into", ok);
    if (ok) {
        test_round_trip(&r, dir, &t, &a, &got);
        test_file(&r, dir, &t, &a);
        test_damage(&r, dir, &t, &a, &got);
        test_foreign(&r, dir, &t, &a, &got);
        test_atomic(&r, dir, &t, &a, &b, &got);
        test_python(&r, dir, &t, &a);
    }
#endif
    snap_free(&a), snap_free(&b), snap_free(&got);
    baton_param_table_free(&t);
    if (rmdir(dir) != 0)
        printf("test_checkpoint: could not remove %s (files left behind?)\n", dir);
    int rc = tu_summary(&r, "test_checkpoint");
#if !BATON_HAVE_CJSON
    if (rc == 0) {
        printf("test_checkpoint: built without cJSON: loading checks skipped\n");
        return TU_EXIT_SKIP;
    }
#endif
    return rc;
}
