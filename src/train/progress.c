/* progress.c: the training display and the metrics log (progress.h). */
#include "baton/progress.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* A redraw costs a write to the terminal; ten a second reads as live without flooding a slow link. */
#define REDRAW_S 0.1

typedef struct {
    double loss, ppl, rate;
} window_stats;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static window_stats stats_of(const baton_progress_window *w)
{
    window_stats s;
    s.loss = w->tokens > 0 ? w->loss_sum / (double)w->tokens : NAN;
    s.ppl = exp(s.loss); /* +inf when it overflows, which is what is printed */
    s.rate = w->seconds > 0.0 ? (double)w->all_tokens / w->seconds : NAN;
    return s;
}

static void appendf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void appendf(char *buf, size_t n, const char *fmt, ...)
{
    size_t k = strlen(buf);
    if (k + 1 >= n)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + k, n - k, fmt, ap);
    va_end(ap);
}

static void fmt_hms(char *b, size_t n, double s)
{
    long t = s > 0.0 && s < 1e12 ? (long)(s + 0.5) : 0;
    snprintf(b, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

static void fmt_rate(char *b, size_t n, double r)
{
    if (!isfinite(r))
        snprintf(b, n, "-");
    else if (r < 1e3)
        snprintf(b, n, "%.0f", r);
    else if (r < 1e6)
        snprintf(b, n, "%.1fk", r / 1e3);
    else
        snprintf(b, n, "%.2fM", r / 1e6);
}

/* Large perplexities (the first steps of a big vocabulary, a diverging run) would print dozens of
 * digits with %.2f. */
static void fmt_ppl(char *b, size_t n, double v)
{
    if (isnan(v) || isinf(v))
        snprintf(b, n, isnan(v) ? "nan" : "inf");
    else
        snprintf(b, n, v < 1e5 ? "%.2f" : "%.4g", v);
}

static int is_terminal(FILE *out)
{
    int fd = fileno(out);
    if (fd < 0 || !isatty(fd))
        return 0;
    const char *term = getenv("TERM");
    return !(term && strcmp(term, "dumb") == 0);
}

/* A line wider than the terminal wraps, and '\r' then returns only to its last row: every redraw
 * would leave a row behind. */
static void fit_terminal(FILE *out, char *line)
{
    struct winsize ws;
    if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 && strlen(line) >= ws.ws_col)
        line[ws.ws_col - 1] = '\0';
}

static void end_line(baton_progress *p)
{
    if (p->line_open) {
        fputc('\n', p->out);
        p->line_open = 0;
    }
}

void baton_progress_message(baton_progress *p, const char *fmt, ...)
{
    end_line(p);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(p->out, fmt, ap);
    va_end(ap);
    fputc('\n', p->out);
    fflush(p->out);
}

/* "step 200/10000 | epoch 1 | loss ... | eta 1:07:40" for the window w. */
static void format_line(const baton_progress *p, long step, int epoch, float lr, const baton_progress_window *w,
                        double now, char *buf, size_t n)
{
    window_stats s = stats_of(w);
    char ppl[32], rate[32], el[32], eta[32];
    fmt_ppl(ppl, sizeof ppl, s.ppl);
    fmt_rate(rate, sizeof rate, s.rate);
    fmt_hms(el, sizeof el, now - p->t_open);
    buf[0] = '\0';
    appendf(buf, n, "step %ld", step);
    if (p->total_steps > 0)
        appendf(buf, n, "/%ld", p->total_steps);
    appendf(buf, n, " | epoch %d | loss %.4f | ppl %s | lr %.3g | %s src+tgt tok/s | elapsed %s", epoch, s.loss, ppl,
            (double)lr, rate, el);
    long done = step - p->base_step, left = p->total_steps - step;
    if (p->total_steps > 0 && done > 0) {
        fmt_hms(eta, sizeof eta, (double)(left > 0 ? left : 0) * (now - p->t_open) / (double)done);
        appendf(buf, n, " | eta %s", eta);
    }
}

static void json_num(FILE *f, const char *key, double v)
{
    if (isfinite(v))
        fprintf(f, "\"%s\":%.10g,", key, v);
    else
        fprintf(f, "\"%s\":null,", key);
}

/* The shortest decimal that reads back as the same float: lr 0.001f prints as 0.001, not
 * 0.00100000005. */
static void json_float(FILE *f, const char *key, float v)
{
    char b[32];
    if (!isfinite(v)) {
        json_num(f, key, NAN);
        return;
    }
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, (double)v);
        if (strtof(b, NULL) == v)
            break;
    }
    fprintf(f, "\"%s\":%s,", key, b);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* A full disk must not stop training: say so once and stop logging metrics. */
static void metrics_flush(baton_progress *p)
{
    if (fflush(p->metrics) == 0 && !ferror(p->metrics))
        return;
    int e = errno;
    end_line(p);
    BATON_ERROR(BATON_ERR_IO, "metrics file %s: cannot write: %s; metrics logging stops", p->metrics_path,
                strerror(e));
    fclose(p->metrics);
    p->metrics = NULL;
}

static void log_train(baton_progress *p, long step, int epoch, float lr, double now)
{
    window_stats s = stats_of(&p->cur);
    if (!p->inplace) {
        char line[512];
        format_line(p, step, epoch, lr, &p->cur, now, line, sizeof line);
        fprintf(p->out, "train %s\n", line);
        fflush(p->out);
    }
    if (!p->metrics)
        return;
    fprintf(p->metrics, "{\"step\":%ld,\"epoch\":%d,", step, epoch);
    json_num(p->metrics, "loss", s.loss);
    json_num(p->metrics, "ppl", s.ppl);
    json_float(p->metrics, "lr", lr);
    json_num(p->metrics, "tokens_per_s", s.rate);
    json_num(p->metrics, "elapsed_s", now - p->t_open);
    fputs("\"kind\":\"train\"}\n", p->metrics);
    metrics_flush(p);
}

static void redraw(baton_progress *p, long step, int epoch, float lr, double now)
{
    char line[512];
    format_line(p, step, epoch, lr, p->have_last ? &p->last : &p->cur, now, line, sizeof line);
    fit_terminal(p->out, line);
    fprintf(p->out, "\r%s\033[K", line);
    fflush(p->out);
    p->line_open = 1;
    p->t_drawn = now;
}

baton_status baton_progress_open_mode(baton_progress *p, FILE *out, const char *metrics_path, long total_steps,
                                      int every, baton_progress_mode mode)
{
    memset(p, 0, sizeof *p);
    BATON_REQUIRE(out, "progress: no output stream");
    BATON_REQUIRE(every >= 1, "progress: log every %d steps, expected >= 1", every);
    p->out = out;
    p->total_steps = total_steps;
    p->every = every;
    p->inplace = mode == BATON_PROGRESS_INPLACE || (mode == BATON_PROGRESS_AUTO && is_terminal(out));
    p->t_open = p->t_prev = now_s();
    p->t_drawn = p->t_open - 1.0; /* the first step draws at once */
    if (!metrics_path)
        return BATON_OK;
    p->metrics = fopen(metrics_path, "a");
    if (!p->metrics)
        return BATON_ERROR(BATON_ERR_IO, "metrics file %s: cannot open for append: %s", metrics_path,
                           strerror(errno));
    p->metrics_path = strdup(metrics_path);
    if (!p->metrics_path) {
        fclose(p->metrics);
        p->metrics = NULL;
        return BATON_ERROR(BATON_ERR_OOM, "metrics file %s: cannot copy its name", metrics_path);
    }
    return BATON_OK;
}

baton_status baton_progress_open(baton_progress *p, FILE *out, const char *metrics_path, long total_steps, int every)
{
    return baton_progress_open_mode(p, out, metrics_path, total_steps, every, BATON_PROGRESS_AUTO);
}

void baton_progress_step(baton_progress *p, long step, int epoch, double loss_sum, long tokens, long src_tokens,
                         float lr)
{
    double now = now_s();
    if (!p->started) {
        p->base_step = step - 1;
        p->started = 1;
    }
    p->cur.loss_sum += loss_sum;
    p->cur.tokens += tokens;
    p->cur.all_tokens += tokens + src_tokens;
    p->cur.seconds += now - p->t_prev;
    p->t_prev = now;
    /* a window of skipped steps only has no loss to log: its time goes into the next one */
    if ((step % p->every == 0 || step == p->total_steps) && p->cur.tokens > 0) {
        log_train(p, step, epoch, lr, now);
        p->last = p->cur;
        p->have_last = 1;
        memset(&p->cur, 0, sizeof p->cur);
    }
    if (p->inplace && (now - p->t_drawn >= REDRAW_S || step == p->total_steps))
        redraw(p, step, epoch, lr, now);
}

void baton_progress_skipped(baton_progress *p, long step, int epoch, float lr, double loss, double grad_norm,
                            const char *note)
{
    char l[32], g[32];
    fmt_ppl(l, sizeof l, loss);
    if (grad_norm < 0.0)
        snprintf(g, sizeof g, "unknown");
    else
        fmt_ppl(g, sizeof g, grad_norm);
    end_line(p);
    fprintf(p->out, "skip  step %ld | loss %s | grad norm %s", step, l, g);
    if (note)
        fprintf(p->out, " | %s", note);
    fputc('\n', p->out);
    fflush(p->out);
    if (p->metrics) {
        fprintf(p->metrics, "{\"step\":%ld,\"epoch\":%d,", step, epoch);
        json_num(p->metrics, "loss", loss);
        if (!(grad_norm < 0.0))
            json_num(p->metrics, "grad_norm", grad_norm);
        fputs("\"kind\":\"skipped\"}\n", p->metrics);
        metrics_flush(p);
    }
    /* the step's time counts, its tokens do not: they taught nothing */
    baton_progress_step(p, step, epoch, 0.0, 0, 0, lr);
}

void baton_progress_eval(baton_progress *p, long step, const char *name, double loss, double ppl, double bleu,
                         const char *note)
{
    double now = now_s();
    char ppl_s[32];
    name = name ? name : "";
    fmt_ppl(ppl_s, sizeof ppl_s, ppl);
    end_line(p);
    fprintf(p->out, "eval  step %ld | %s | loss %.4f | ppl %s", step, name, loss, ppl_s);
    if (bleu >= 0.0)
        fprintf(p->out, " | bleu %.2f", bleu);
    if (note)
        fprintf(p->out, " | %s", note);
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
    fprintf(p->out, " | at %s\n", when);
    fflush(p->out);
    if (p->metrics) {
        fprintf(p->metrics, "{\"step\":%ld,\"name\":", step);
        json_str(p->metrics, name);
        fputc(',', p->metrics);
        json_num(p->metrics, "loss", loss);
        json_num(p->metrics, "ppl", ppl);
        if (bleu >= 0.0)
            json_num(p->metrics, "bleu", bleu);
        json_num(p->metrics, "elapsed_s", now - p->t_open);
        fputs("\"kind\":\"eval\"}\n", p->metrics);
        metrics_flush(p);
    }
    /* The evaluation's time is not training time: the next step's interval starts here. */
    p->t_prev = now_s();
    p->t_drawn = p->t_prev - 1.0;
}

void baton_progress_close(baton_progress *p)
{
    end_line(p);
    if (p->out)
        fflush(p->out);
    if (p->metrics && fclose(p->metrics) != 0)
        BATON_ERROR(BATON_ERR_IO, "metrics file %s: cannot close: %s", p->metrics_path, strerror(errno));
    free(p->metrics_path);
    p->metrics = NULL;
    p->metrics_path = NULL;
}
