/* test_progress.c: the training display and metrics log (progress.h) for known inputs. Plain mode
 * (a tmpfile is not a terminal): the printed lines carry the expected step, loss, ppl ("inf" when
 * exp overflows) and lr, and every metrics line is one valid flat JSON object with exactly the
 * documented keys and values; the file is appended to; an unwritable path gives BATON_ERR_IO.
 * In-place mode (forced): '\r' redraws throttled to ~10 a second, no newline until an eval or
 * close, the redraw showing the last completed window. AUTO mode on a pseudo-terminal, when the
 * system has one: in place, unless TERM=dumb. Exact checks pass at err 0 and fail at 1. */
#define _XOPEN_SOURCE 700 /* posix_openpt, grantpt, unlockpt, ptsname */

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "baton/progress.h"
#include "testutil.h"

static int check(tu_report *r, const char *name, int ok)
{
    return tu_check_abs(r, name, ok ? 0.0 : 1.0, 0.0);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* ---- a strict reader for flat JSON objects (strings, numbers, null) -------------------------- */

enum { JMAX = 16 };
typedef struct {
    char key[32];
    char type; /* 'n' number, 's' string, 'z' null */
    double num;
    char str[64];
} jfield;
typedef struct {
    int n;
    jfield f[JMAX];
} jobject;

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* s at '"'; returns the position after the closing quote, or NULL. Escapes: \" \\ \/ \n \t \uXXXX
 * (below 0x80, all this log writes). */
static const char *parse_string(const char *s, char *out, size_t n)
{
    size_t k = 0;
    if (*s++ != '"')
        return NULL;
    for (; *s != '"'; s++) {
        char c = *s;
        if (c == '\0' || (unsigned char)c < 0x20)
            return NULL;
        if (c == '\\') {
            c = *++s;
            unsigned u;
            if (c == 'n' || c == 't')
                c = c == 'n' ? '\n' : '\t';
            else if (c == 'u' && sscanf(s + 1, "%4x", &u) == 1 && u < 0x80)
                c = (char)u, s += 4;
            else if (c != '"' && c != '\\' && c != '/')
                return NULL;
        }
        if (k + 1 < n)
            out[k++] = c;
    }
    out[k] = '\0';
    return s + 1;
}

static const char *digits(const char *s)
{
    const char *b = s;
    while (*s >= '0' && *s <= '9')
        s++;
    return s > b ? s : NULL;
}

/* JSON's number grammar, which strtod alone would not enforce (it takes inf, nan, hex, '+'). */
static const char *parse_number(const char *s, double *v)
{
    const char *b = s;
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (!(s = digits(s)))
        return NULL;
    if (*s == '.' && !(s = digits(s + 1)))
        return NULL;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!(s = digits(s)))
            return NULL;
    }
    *v = strtod(b, NULL);
    return s;
}

static const char *parse_value(const char *s, jfield *f)
{
    if (*s == '"') {
        f->type = 's';
        return parse_string(s, f->str, sizeof f->str);
    }
    if (strncmp(s, "null", 4) == 0) {
        f->type = 'z';
        return s + 4;
    }
    f->type = 'n';
    return parse_number(s, &f->num);
}

/* 1 when line is exactly one flat JSON object with distinct keys. */
static int parse_flat(const char *line, jobject *o)
{
    const char *s = skip_ws(line);
    o->n = 0;
    if (*s++ != '{')
        return 0;
    s = skip_ws(s);
    while (*s != '}') {
        if (o->n == JMAX || (o->n > 0 && *s++ != ','))
            return 0;
        jfield *f = &o->f[o->n];
        if (!(s = parse_string(skip_ws(s), f->key, sizeof f->key)))
            return 0;
        s = skip_ws(s);
        if (*s++ != ':' || !(s = parse_value(skip_ws(s), f)))
            return 0;
        for (int i = 0; i < o->n; i++)
            if (strcmp(o->f[i].key, f->key) == 0)
                return 0;
        o->n++;
        s = skip_ws(s);
    }
    return *skip_ws(s + 1) == '\0';
}

static const jfield *jget(const jobject *o, const char *key)
{
    for (int i = 0; i < o->n; i++)
        if (strcmp(o->f[i].key, key) == 0)
            return &o->f[i];
    return NULL;
}

/* 1 when o has exactly the keys listed (NULL-terminated). */
static int has_keys(const jobject *o, const char *const *keys)
{
    int n = 0;
    for (; keys[n]; n++)
        if (!jget(o, keys[n]))
            return 0;
    return n == o->n;
}

static double jnum(const jobject *o, const char *key)
{
    const jfield *f = jget(o, key);
    return f && f->type == 'n' ? f->num : NAN;
}

static int jstr_is(const jobject *o, const char *key, const char *want)
{
    const jfield *f = jget(o, key);
    return f && f->type == 's' && strcmp(f->str, want) == 0;
}

/* ---- files ---------------------------------------------------------------------------------- */

/* The whole contents of f (rewound first), NUL-terminated; caller frees. */
static char *slurp(FILE *f)
{
    size_t n = 0, cap = 4096;
    char *buf = malloc(cap);
    rewind(f);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - 1 - n, f)) > 0;) {
        n += got;
        if (n + 1 == cap)
            buf = realloc(buf, cap *= 2);
    }
    if (buf)
        buf[n] = '\0';
    return buf;
}

static char *slurp_path(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *s = slurp(f);
    fclose(f);
    return s;
}

/* Splits text in place at '\n' into at most max lines; returns the count. */
static int split_lines(char *text, char **lines, int max)
{
    int n = 0;
    for (char *s = text; *s && n < max;) {
        lines[n++] = s;
        char *e = strchr(s, '\n');
        if (!e)
            break;
        *e = '\0';
        s = e + 1;
    }
    return n;
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int count_char(const char *s, size_t n, char c)
{
    int k = 0;
    for (size_t i = 0; i < n; i++)
        k += s[i] == c;
    return k;
}

/* ---- plain mode ------------------------------------------------------------------------------ */

/* Six steps in three windows of two: mean losses 1.5, 2.3 and 1000 (exp overflows). */
static const struct {
    double loss_sum;
    long tokens, src_tokens;
    int epoch;
    float lr;
} steps6[6] = {
    {20, 10, 8, 1, 1e-3f},  {10, 10, 12, 1, 1e-3f},    {46, 20, 5, 1, 5e-4f},
    {46, 20, 15, 1, 5e-4f}, {8000, 8, 2, 2, 2.5e-4f}, {2000, 2, 8, 2, 2.5e-4f},
};
static const double win_loss[3] = {1.5, 2.3, 1000.0};
static const long win_all_tokens[3] = {40, 60, 20};

enum { STEP_SLEEP_MS = 10 };

static void check_plain_text(tu_report *r, char *text)
{
    static const char *want[5] = {
        "train step 2/6 | epoch 1 | loss 1.5000 | ppl 4.48 | lr 0.001 | ",
        "train step 4/6 | epoch 1 | loss 2.3000 | ppl 9.97 | lr 0.0005 | ",
        "train step 6/6 | epoch 2 | loss 1000.0000 | ppl inf | lr 0.00025 | ",
        "eval  step 6 | dev | loss 1.2500 | ppl 3.49 | bleu 23.50 | new best loss | at 2",
        "eval  step 6 | dev \"x\" | loss 2.0000 | ppl 7.39 | at 2",
    };
    check(r, "plain: no '\\r' or escape sequences", !strchr(text, '\r') && !strchr(text, '\033'));
    int ends_nl = text[0] && text[strlen(text) - 1] == '\n';
    char *lines[8];
    int n = split_lines(text, lines, 8);
    check(r, "plain: 3 train lines and 2 eval lines, newline-terminated", n == 5 && ends_nl);
    for (int i = 0; i < n && i < 5; i++) {
        printf("  | %s\n", lines[i]);
        /* eval lines end with the time printed: "at YYYY-MM-DD HH:MM:SS" */
        int ok = starts_with(lines[i], want[i]) && (i < 3 || strlen(strstr(lines[i], " | at ")) == 25);
        char name[64];
        snprintf(name, sizeof name, "plain: line %d has the expected values", i + 1);
        check(r, name, ok);
    }
    int tail = n >= 3;
    for (int i = 0; i < 3 && i < n; i++)
        tail = tail && strstr(lines[i], " tok/s | elapsed 0:00:00 | eta 0:00:00");
    check(r, "plain: tok/s, elapsed and eta end the train lines", tail);
}

static void check_train_json(tu_report *r, const jobject *o, int w, double *prev_elapsed)
{
    static const char *const keys[] = {"step", "epoch", "loss", "ppl", "lr", "tokens_per_s", "elapsed_s", "kind", NULL};
    char name[96];
    snprintf(name, sizeof name, "metrics: window %d has exactly the train keys, kind train", w + 1);
    check(r, name, has_keys(o, keys) && jstr_is(o, "kind", "train"));
    snprintf(name, sizeof name, "metrics: window %d step and epoch", w + 1);
    check(r, name, jnum(o, "step") == 2 * (w + 1) && jnum(o, "epoch") == steps6[2 * w + 1].epoch);
    snprintf(name, sizeof name, "metrics: window %d loss", w + 1);
    tu_check_abs(r, name, fabs(jnum(o, "loss") - win_loss[w]), 1e-9);
    snprintf(name, sizeof name, "metrics: window %d ppl (null when exp overflows)", w + 1);
    if (w == 2)
        check(r, name, jget(o, "ppl") && jget(o, "ppl")->type == 'z');
    else
        tu_check_abs(r, name, fabs(jnum(o, "ppl") / exp(win_loss[w]) - 1.0), 1e-9);
    snprintf(name, sizeof name, "metrics: window %d lr reads back as the float", w + 1);
    check(r, name, (float)jnum(o, "lr") == steps6[2 * w + 1].lr);
    /* each window spans two sleeps, so its rate cannot exceed tokens / (2 sleeps) */
    double rate = jnum(o, "tokens_per_s"), cap = (double)win_all_tokens[w] / (2 * STEP_SLEEP_MS * 1e-3);
    snprintf(name, sizeof name, "metrics: window %d tokens_per_s in (0, %.0f]", w + 1, cap);
    check(r, name, rate > 0.0 && rate <= cap * 1.0001);
    double el = jnum(o, "elapsed_s");
    snprintf(name, sizeof name, "metrics: window %d elapsed_s grows, >= the sleeps", w + 1);
    check(r, name, el >= *prev_elapsed && el >= (2 * (w + 1)) * STEP_SLEEP_MS * 1e-3 * 0.999);
    *prev_elapsed = el;
}

static void check_plain_metrics(tu_report *r, char *text)
{
    static const char *const eval_keys[] = {"step", "name", "loss", "ppl", "bleu", "elapsed_s", "kind", NULL};
    static const char *const eval_keys_nobleu[] = {"step", "name", "loss", "ppl", "elapsed_s", "kind", NULL};
    char *lines[8];
    int n = split_lines(text, lines, 8);
    check(r, "metrics: 5 lines", n == 5);
    double prev = 0.0;
    jobject o;
    for (int i = 0; i < n; i++) {
        printf("  | %s\n", lines[i]);
        char name[64];
        snprintf(name, sizeof name, "metrics: line %d is one valid JSON object", i + 1);
        if (!check(r, name, parse_flat(lines[i], &o)))
            continue;
        if (i < 3) {
            check_train_json(r, &o, i, &prev);
        } else {
            check(r, "metrics: eval line has its keys, kind eval, the name unescaped",
                  has_keys(&o, i == 3 ? eval_keys : eval_keys_nobleu) && jstr_is(&o, "kind", "eval") &&
                      jstr_is(&o, "name", i == 3 ? "dev" : "dev \"x\"") && jnum(&o, "step") == 6);
            tu_check_abs(r, "metrics: eval loss, ppl, bleu",
                         fabs(jnum(&o, "loss") - (i == 3 ? 1.25 : 2.0)) +
                             fabs(jnum(&o, "ppl") - exp(i == 3 ? 1.25 : 2.0)) +
                             (i == 3 ? fabs(jnum(&o, "bleu") - 23.5) : 0.0),
                         1e-8);
        }
    }
}

static void test_plain(tu_report *r, const char *dir)
{
    char mpath[256];
    snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", dir);
    FILE *out = tmpfile();
    baton_progress p;
    if (!check(r, "plain: open", out && baton_progress_open(&p, out, mpath, 6, 2) == BATON_OK))
        return;
    check(r, "plain: a tmpfile is not a terminal", p.inplace == 0);
    for (int i = 0; i < 6; i++) {
        sleep_s(STEP_SLEEP_MS * 1e-3);
        baton_progress_step(&p, i + 1, steps6[i].epoch, steps6[i].loss_sum, steps6[i].tokens, steps6[i].src_tokens,
                            steps6[i].lr);
    }
    baton_progress_eval(&p, 6, "dev", 1.25, exp(1.25), 23.5, "new best loss");
    baton_progress_eval(&p, 6, "dev \"x\"", 2.0, exp(2.0), -1.0, NULL);
    baton_progress_close(&p);
    char *text = slurp(out), *metrics = slurp_path(mpath);
    if (check(r, "plain: read back", text && metrics)) {
        check_plain_text(r, text);
        check_plain_metrics(r, metrics);
    }
    free(text);
    free(metrics);
    fclose(out);

    /* a resumed run appends; without a total there is no "/total" and no eta */
    char *before = slurp_path(mpath);
    out = tmpfile();
    if (!check(r, "append: reopen", before && out && baton_progress_open(&p, out, mpath, 0, 1) == BATON_OK)) {
        free(before);
        return;
    }
    baton_progress_step(&p, 7, 2, 3.0, 3, 3, 1e-4f);
    baton_progress_close(&p);
    char *after = slurp_path(mpath), *line = slurp(out);
    int ok = after && starts_with(after, before) && count_char(after, strlen(after), '\n') == 6;
    jobject o;
    if (ok) {
        after[strlen(after) - 1] = '\0';
        ok = parse_flat(after + strlen(before), &o) && jnum(&o, "step") == 7;
    }
    check(r, "append: old lines kept, one valid line added", ok);
    check(r, "append: unknown total: no /total, no eta",
          line && starts_with(line, "train step 7 | epoch 2 | loss 1.0000 | ppl 2.72 | lr 0.0001 |") &&
              !strstr(line, "eta"));
    free(before);
    free(after);
    free(line);
    fclose(out);
    remove(mpath);
}

/* ---- errors ----------------------------------------------------------------------------------- */

static void test_errors(tu_report *r, const char *dir)
{
    char path[256];
    baton_progress p;
    snprintf(path, sizeof path, "%s/no/such/dir/metrics.jsonl", dir);
    printf("expect two i/o error lines and one invalid-argument line:\n");
    check(r, "errors: metrics path in a missing directory gives BATON_ERR_IO",
          baton_progress_open(&p, stderr, path, 10, 1) == BATON_ERR_IO && p.metrics == NULL);
    baton_progress_close(&p);
    check(r, "errors: metrics path that is a directory gives BATON_ERR_IO",
          baton_progress_open(&p, stderr, dir, 10, 1) == BATON_ERR_IO);
    baton_progress_close(&p);
    check(r, "errors: every 0 gives BATON_ERR_INVALID", baton_progress_open(&p, stderr, NULL, 10, 0) == BATON_ERR_INVALID);
}

/* ---- in-place mode ---------------------------------------------------------------------------- */

static void check_inplace_text(tu_report *r, const char *text, long a, long b, double fast_s)
{
    int draws = count_char(text, (size_t)a, '\r');
    printf("  %d redraws in %.4f s of fast steps\n", draws, fast_s);
    check(r, "in place: starts by drawing step 1", starts_with(text, "\rstep 1/1000 | epoch 1 | loss 2.0000 | ppl 7.39 |"));
    check(r, "in place: no newline while training", count_char(text, (size_t)a, '\n') == 0);
    check(r, "in place: redraws throttled to ~10 a second", draws >= 1 && draws <= 2 + (int)(fast_s / 0.1));
    check(r, "in place: each redraw clears to the end of the line",
          count_char(text, (size_t)a, '\033') == draws && strstr(text, "\033[K"));
    check(r, "in place: redraw after 0.1 s shows step 501 and the last completed window",
          starts_with(text + a, "\rstep 501/1000 | epoch 1 | loss 2.0000 | ppl 7.39 |") &&
              count_char(text + a, (size_t)(b - a), '\n') == 0);
    check(r, "in place: eval ends the line, then its own line",
          starts_with(text + b, "\neval  step 501 | dev | loss 1.0000 | ppl 2.72 | at ") &&
              starts_with(strchr(text + b + 1, '\n'), "\n\rstep 502/1000 |"));
    const char *last = strrchr(text, '\r');
    size_t len = strlen(text);
    check(r, "in place: last step drawn, close ends the line",
          last && starts_with(last, "\rstep 1000/1000 |") && strstr(last, "| eta 0:00:00\033[K\n") &&
              text[len - 1] == '\n' && count_char(last, strlen(last), '\n') == 1);
}

static void test_inplace(tu_report *r, const char *dir)
{
    char mpath[256];
    snprintf(mpath, sizeof mpath, "%s/inplace.jsonl", dir);
    FILE *out = tmpfile();
    baton_progress p;
    if (!check(r, "in place: open (forced)",
               out && baton_progress_open_mode(&p, out, mpath, 1000, 100, BATON_PROGRESS_INPLACE) == BATON_OK))
        return;
    double t0 = now_s();
    for (long s = 1; s <= 500; s++)
        baton_progress_step(&p, s, 1, 20.0, 10, 10, 1e-3f);
    double fast_s = now_s() - t0;
    long a = ftell(out);
    sleep_s(0.15);
    baton_progress_step(&p, 501, 1, 50.0, 10, 10, 1e-3f); /* mean 5: not shown until its window completes */
    long b = ftell(out);
    baton_progress_eval(&p, 501, "dev", 1.0, exp(1.0), -1.0, NULL);
    for (long s = 502; s <= 1000; s++)
        baton_progress_step(&p, s, 1, 20.0, 10, 10, 1e-3f);
    baton_progress_close(&p);
    char *text = slurp(out), *metrics = slurp_path(mpath);
    if (check(r, "in place: read back", text && metrics)) {
        check_inplace_text(r, text, a, b, fast_s);
        char *lines[16];
        int n = split_lines(metrics, lines, 16), valid = 0;
        jobject o;
        for (int i = 0; i < n; i++)
            valid += parse_flat(lines[i], &o);
        check(r, "in place: metrics every 100 steps plus the eval, all valid JSON", n == 11 && valid == 11);
    }
    free(text);
    free(metrics);
    fclose(out);
    remove(mpath);
}

/* ---- AUTO mode on a pseudo-terminal ----------------------------------------------------------- */

static void test_auto_tty(tu_report *r)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    const char *name = master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0 ? ptsname(master) : NULL;
    FILE *tty = name ? fopen(name, "w") : NULL;
    if (!tty) {
        printf("auto mode: no pseudo-terminal here, not checked\n");
        if (master >= 0)
            close(master);
        return;
    }
    const char *term = getenv("TERM");
    char *saved = term ? strdup(term) : NULL;
    baton_progress p;
    setenv("TERM", "xterm-256color", 1);
    check(r, "auto: a terminal is drawn in place", baton_progress_open(&p, tty, NULL, 10, 1) == BATON_OK && p.inplace);
    baton_progress_close(&p);
    setenv("TERM", "dumb", 1);
    check(r, "auto: TERM=dumb gets plain lines", baton_progress_open(&p, tty, NULL, 10, 1) == BATON_OK && !p.inplace);
    baton_progress_close(&p);
    if (saved)
        setenv("TERM", saved, 1);
    else
        unsetenv("TERM");
    free(saved);
    fclose(tty);
    close(master);
}

int main(void)
{
    tu_report r = {0, 0};
    char dir[] = "/tmp/baton_test_progress_XXXXXX";
    if (!mkdtemp(dir)) {
        check(&r, "mkdtemp", 0);
        return tu_summary(&r, "test_progress");
    }
    test_plain(&r, dir);
    test_errors(&r, dir);
    test_inplace(&r, dir);
    test_auto_tty(&r);
    rmdir(dir);
    return tu_summary(&r, "test_progress");
}
