/* progress.h: what a training run shows while it trains, and the metrics it leaves behind.
 *
 * Human-readable lines go to a stream (stderr, typically). On a terminal a single line is redrawn
 * in place (at most ~10 times a second, like a tqdm bar in fairseq); elsewhere (a log file, a
 * pipe, TERM=dumb) a plain line is printed every `every` steps, like Marian's and OpenNMT's logs:
 *
 *   train step 200/10000 | epoch 1 | loss 4.5123 | ppl 91.18 | lr 0.001 | 12.3k src+tgt tok/s | 0:01:23 | eta 1:07:40
 *   eval  step 200 | dev | loss 4.1037 | ppl 60.56 | bleu 12.34 | new best loss | at 2026-12-05 14:03:27
 *
 * Evaluation lines stay (on a terminal, above the redrawn line), each with the wall-clock time it
 * was printed and the caller's note (a new best, or how many evaluations since one).
 *
 * Loss is the mean token loss (nats) and ppl its exp over the target tokens of the steps since the
 * last logged step; tok/s counts source + target non-pad tokens over the time spent in those steps
 * (evaluations excluded), as NVIDIA's GNMT benchmark does. The in-place line shows the live step,
 * elapsed time and ETA, and the loss, ppl and tok/s of the last completed `every`-step window
 * (of the steps so far until the first window completes).
 *
 * The metrics file is JSON lines, one object per logged step, opened for APPEND so that a resumed
 * run continues its log (a reader keeps the last entry per step):
 *   {"step":200,"epoch":1,"loss":4.51,"ppl":91.2,"lr":0.001,"tokens_per_s":12345.6,"elapsed_s":83.2,"kind":"train"}
 *   {"step":200,"name":"dev","loss":4.10,"ppl":60.6,"bleu":12.34,"elapsed_s":85.0,"kind":"eval"}
 *   {"step":201,"epoch":1,"loss":null,"grad_norm":null,"kind":"skipped"}   (baton_progress_skipped)
 * JSON has no inf or nan: such values (a diverged loss, a ppl whose exp overflows) are null; "bleu"
 * is left out when absent. Each line is flushed as it is written. No global state: one
 * baton_progress per run. */
#ifndef BATON_PROGRESS_H
#define BATON_PROGRESS_H

#include <stdio.h>

#include "baton/status.h"

typedef enum {
    BATON_PROGRESS_AUTO = 0, /* in place when out is a terminal and TERM is not "dumb", else plain */
    BATON_PROGRESS_PLAIN,    /* a line every `every` steps */
    BATON_PROGRESS_INPLACE,  /* one line redrawn with '\r' and ESC[K: for tests, or to force it */
} baton_progress_mode;

/* Sums over a window of steps. */
typedef struct {
    double loss_sum;  /* summed token loss */
    long tokens;      /* target tokens: the loss's denominator */
    long all_tokens;  /* source + target tokens: the throughput's numerator */
    double seconds;   /* time spent in these steps, evaluations excluded */
} baton_progress_window;

typedef struct {
    FILE *out, *metrics;
    char *metrics_path;  /* copy, for error messages; NULL without a metrics file */
    long total_steps;    /* <= 0: unknown (no "/total" and no ETA) */
    int every;
    int inplace;
    int line_open;       /* an in-place line is showing: a newline must come before other output */
    double t_open, t_prev, t_drawn; /* CLOCK_MONOTONIC seconds: open, last step or eval, last redraw */
    long base_step;      /* steps done before this run's first step (a resumed run), for the ETA */
    int started;
    baton_progress_window cur, last; /* the open window and the last completed one */
    int have_last;
} baton_progress;

/* Opens a progress display on out (not closed by baton_progress_close) and, when metrics_path is
 * not NULL, the metrics file for append; logs every `every` >= 1 steps. The mode is AUTO.
 * Returns BATON_ERR_IO, with one line naming the path and the reason, if the file cannot be opened. */
baton_status baton_progress_open(baton_progress *p, FILE *out, const char *metrics_path, long total_steps, int every);

/* As baton_progress_open with an explicit display mode. */
baton_status baton_progress_open_mode(baton_progress *p, FILE *out, const char *metrics_path, long total_steps,
                                      int every, baton_progress_mode mode);

/* Counts one optimizer step (call once per step, steps increasing): its summed token loss over
 * `tokens` target tokens, and src_tokens source tokens. Logs when step is a multiple of `every` or
 * the last step; redraws the in-place line when 0.1 s have passed since the last redraw. */
void baton_progress_step(baton_progress *p, long step, int epoch, double loss_sum, long tokens, long src_tokens,
                         float lr);

/* Reports a step whose update was skipped because its loss or gradient norm (mean-loss gradients,
 * before the clip) is NaN or Inf: one line "skip  step 5 | loss nan | grad norm nan | <note>" and a
 * {"step":5,"epoch":1,"loss":null,"grad_norm":null,"kind":"skipped"} metrics object (values that
 * are finite are printed; grad_norm < 0: unknown, left out), then counts the step as baton_progress_step does with no tokens: its
 * time goes into the window's throughput, nothing into its loss. */
void baton_progress_skipped(baton_progress *p, long step, int epoch, float lr, double loss, double grad_norm,
                            const char *note);

/* Prints one evaluation line (ending the in-place line first) with note (NULL: none) and the time,
 * and writes its "eval" object; bleu < 0 means absent. Call it after evaluating: the time since the
 * last step is not counted as training. */
void baton_progress_eval(baton_progress *p, long step, const char *name, double loss, double ppl, double bleu,
                         const char *note);

/* Prints one line of text (ending the in-place line first), for events such as an epoch's end. */
void baton_progress_message(baton_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Ends the in-place line with a newline and closes the metrics file. Safe after a failed open. */
void baton_progress_close(baton_progress *p);

#endif
