/* bench_translate.c: `baton bench translate`: how fast a trained model translates a file, greedy
 * and beam search, batched, on the device the model was loaded on.
 *
 * What is timed: a pass decodes every sentence, batch after batch, from the upload of a batch's
 * source ids to its output ids on the host (baton_greedy_decode / baton_beam_decode, best
 * hypothesis only, no attention kept); tokenizing and detokenizing are outside, as they are in
 * bench/pytorch_translate.py, which decodes the same ids. Sentences are decoded in order of
 * source length, longest first (stable), in runs of --batch: what Marian and CTranslate2 do to
 * keep padding low, and the order both benchmarks share through --write-ids. The output length
 * limit is max-len-ratio x the longest source + 5 over the whole input, one number for every batch.
 *
 * Counted: sentences, source tokens (subword ids fed to the encoder), target tokens (the best
 * hypothesis's ids without </s>): tok_per_s = target tokens / median pass time. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "baton/decode.h"
#include "baton/text.h"
#include "bench_internal.h"

const char *const bench_translate_cols[BENCH_TRANSLATE_NCOL] = {
    "system", "mode", "beam", "batch", "sentences", "src_tokens", "tgt_tokens", "ms", "sent_per_s", "tok_per_s"};

enum { MAX_SRC_TOKENS = 256 }; /* as `baton translate --max-input-tokens`'s default */

/* The input as ids, in decode order. */
typedef struct {
    int n, S_max, max_len, cropped;
    long src_tokens;
    int *len;  /* (n) source lengths */
    int *line; /* (n) 1-based input line of each */
    int *ids;  /* (n, MAX_SRC_TOKENS) source ids */
    int *out;  /* (n, max_len) best hypothesis of the last pass */
    int *out_len;
    float *score; /* (n) its length-normalised score (beam) */
} sources;

static void sources_free(sources *c)
{
    free(c->len), free(c->line), free(c->ids), free(c->out), free(c->out_len), free(c->score);
}

/* Longest first; equal lengths keep input order. */
static int by_length(const void *a, const void *b)
{
    const int *x = a, *y = b; /* (length, index, line) */
    return x[0] != y[0] ? (x[0] < y[0]) - (x[0] > y[0]) : (x[1] > y[1]) - (x[1] < y[1]);
}

/* Tokenizes and encodes the non-empty lines (at most o->limit), sorted longest first. */
static baton_status encode_lines(sources *c, const bench_translate_model *x, char **lines, int n, int limit)
{
    char *tok = NULL;
    size_t cap = 0;
    int *key = malloc((size_t)3 * (n ? n : 1) * sizeof(int)); /* (length, index, line) */
    int *raw = malloc((size_t)(n ? n : 1) * MAX_SRC_TOKENS * sizeof(int));
    baton_status st = key && raw ? BATON_OK : BATON_ERROR(BATON_ERR_OOM, "bench translate: out of memory for %d sentences", n);
    c->n = 0;
    for (int i = 0; st == BATON_OK && i < n && (limit == 0 || c->n < limit); i++) {
        st = baton_subword_encode(x->ssw, lines[i], &tok, &cap);
        int len = st == BATON_OK ? baton_vocab_encode(x->sv, tok, raw + (size_t)c->n * MAX_SRC_TOKENS, MAX_SRC_TOKENS) : 0;
        if (len == 0)
            continue; /* an empty line has an empty translation: nothing to decode */
        c->cropped += baton_vocab_encode(x->sv, tok, NULL, 0) > MAX_SRC_TOKENS;
        key[3 * c->n] = len, key[3 * c->n + 1] = c->n, key[3 * c->n + 2] = i + 1;
        c->n++;
    }
    free(tok);
    if (st == BATON_OK && c->n == 0)
        st = BATON_ERROR(BATON_ERR_INVALID, "bench translate: no non-empty line to translate");
    if (st == BATON_OK) {
        qsort(key, (size_t)c->n, 3 * sizeof(int), by_length);
        c->len = malloc((size_t)c->n * sizeof(int));
        c->line = malloc((size_t)c->n * sizeof(int));
        c->ids = malloc((size_t)c->n * MAX_SRC_TOKENS * sizeof(int));
        if (!c->len || !c->line || !c->ids)
            st = BATON_ERROR(BATON_ERR_OOM, "bench translate: out of memory for %d sentences", c->n);
    }
    for (int i = 0; st == BATON_OK && i < c->n; i++) {
        c->len[i] = key[3 * i];
        c->line[i] = key[3 * i + 2];
        memcpy(c->ids + (size_t)i * MAX_SRC_TOKENS, raw + (size_t)key[3 * i + 1] * MAX_SRC_TOKENS,
               (size_t)c->len[i] * sizeof(int));
        c->src_tokens += c->len[i];
        c->S_max = c->len[i] > c->S_max ? c->len[i] : c->S_max;
    }
    free(key);
    free(raw);
    return st;
}

static baton_status sources_load(sources *c, const bench_translate_model *x, const bench_opts *o)
{
    memset(c, 0, sizeof *c);
    char **lines;
    int n;
    BATON_TRY(baton_text_read_lines(o->input, &lines, &n));
    baton_status st = encode_lines(c, x, lines, n, o->limit);
    baton_text_free_lines(lines, n);
    if (st != BATON_OK)
        return st;
    double max_len = (double)o->max_len_ratio * c->S_max + 5;
    c->max_len = max_len < 4096 ? (int)max_len : 4096;
    c->out = malloc((size_t)c->n * c->max_len * sizeof(int));
    c->out_len = malloc((size_t)c->n * sizeof(int));
    c->score = malloc((size_t)c->n * sizeof(float));
    BATON_REQUIRE(c->out && c->out_len && c->score, "bench translate: out of memory for %d translations", c->n);
    if (c->cropped)
        fprintf(stderr, "baton: warning: bench translate: %d sources cropped to their first %d tokens\n", c->cropped,
                MAX_SRC_TOKENS);
    return BATON_OK;
}

/* One decoder, greedy or beam, sized for batches of B of this input, and its host buffers. */
typedef struct {
    baton_greedy g;
    baton_beam bm;
    int beam, B, *ids, *len, *d_ids, *d_len, *out, *out_len;
    baton_hyp *hyps;
} decoder;

static void decoder_free(decoder *d, baton_backend *be)
{
    baton_greedy_destroy(&d->g);
    baton_beam_destroy(&d->bm);
    if (d->d_ids)
        be->ops->free(be, d->d_ids);
    if (d->d_len)
        be->ops->free(be, d->d_len);
    free(d->ids), free(d->len), free(d->out), free(d->out_len), free(d->hyps);
}

static baton_status decoder_create(decoder *d, const bench_translate_model *x, const bench_opts *o, const sources *c,
                                   int B, int beam)
{
    memset(d, 0, sizeof *d);
    d->beam = beam, d->B = B;
    baton_backend *be = x->be;
    d->ids = malloc((size_t)c->S_max * B * sizeof(int));
    d->len = malloc((size_t)B * sizeof(int));
    d->out = malloc((size_t)B * c->max_len * sizeof(int));
    d->out_len = malloc((size_t)B * sizeof(int));
    d->hyps = malloc((size_t)B * sizeof(baton_hyp));
    BATON_REQUIRE(d->ids && d->len && d->out && d->out_len && d->hyps, "bench translate: out of memory for batches of %d", B);
    BATON_TRY(beam > 1 ? baton_beam_create(&d->bm, be, x->m, c->S_max, B, beam, c->max_len, 0)
                       : baton_greedy_create(&d->g, be, x->m, c->S_max, B));
    BATON_TRY(baton_s2s_acts_use_impl(beam > 1 ? &d->bm.acts : &d->g.acts, be, x->m, o->impls[0], (uint64_t)o->seed, 0));
    /* constant weights, as a translator declares them: the input table is made here, before any pass */
    BATON_TRY(beam > 1 ? baton_beam_fix_weights(&d->bm, x->params, x->t)
                       : baton_greedy_fix_weights(&d->g, x->params, x->t));
    BATON_TRY(be->ops->alloc(be, (void **)&d->d_ids, (size_t)c->S_max * B * sizeof(int), "source ids"));
    return be->ops->alloc(be, (void **)&d->d_len, (size_t)B * sizeof(int), "source lengths");
}

/* Decodes sentences [first, first + nb) and keeps their best hypotheses in c. */
static baton_status decode_batch(decoder *d, const bench_translate_model *x, const bench_opts *o, sources *c, int first,
                                 int nb)
{
    baton_backend *be = x->be;
    int S = c->len[first]; /* longest first */
    for (int s = 0; s < S; s++)
        for (int b = 0; b < nb; b++)
            d->ids[s * nb + b] = s < c->len[first + b] ? c->ids[(size_t)(first + b) * MAX_SRC_TOKENS + s] : BATON_PAD;
    memcpy(d->len, c->len + first, (size_t)nb * sizeof(int));
    BATON_TRY(be->ops->upload(be, d->d_ids, d->ids, (size_t)S * nb * sizeof(int)));
    BATON_TRY(be->ops->upload(be, d->d_len, d->len, (size_t)nb * sizeof(int)));
    if (d->beam > 1)
        BATON_TRY(baton_beam_decode(&d->bm, x->params, x->t, d->d_ids, d->d_len, d->len, S, nb, o->alpha, 1, d->hyps,
                                    d->out, NULL));
    else
        BATON_TRY(baton_greedy_decode(&d->g, x->params, x->t, d->d_ids, d->d_len, d->len, S, nb, c->max_len, d->out,
                                      d->out_len, NULL));
    for (int b = 0; b < nb; b++) {
        int i = first + b, len = d->beam > 1 ? d->hyps[b].len : d->out_len[b];
        c->out_len[i] = len;
        c->score[i] = d->beam > 1 ? d->hyps[b].score : 0.0f;
        memcpy(c->out + (size_t)i * c->max_len, d->out + (size_t)b * c->max_len, (size_t)len * sizeof(int));
    }
    return BATON_OK;
}

/* Every sentence once; *ms is the wall time. */
static baton_status decode_pass(decoder *d, const bench_translate_model *x, const bench_opts *o, sources *c, double *ms)
{
    baton_backend *be = x->be;
    BATON_TRY(be->ops->timer_mark(be, 0));
    for (int first = 0; first < c->n; first += d->B)
        BATON_TRY(decode_batch(d, x, o, c, first, c->n - first < d->B ? c->n - first : d->B));
    BATON_TRY(be->ops->timer_mark(be, 1));
    float t;
    BATON_TRY(be->ops->timer_elapsed(be, 0, 1, &t));
    *ms = t;
    return BATON_OK;
}

/* Writes one line per sentence: the first len[i] of row i of ids (len NULL: 1), or score[i]. */
static baton_status write_ids(const char *dir, const char *name, const int *ids, size_t stride, const int *len,
                              const float *score, int n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    BATON_REQUIRE(f, "bench translate: cannot write %s (%s)", path, strerror(errno));
    for (int i = 0; i < n; i++) {
        if (score)
            fprintf(f, "%.6f\n", (double)score[i]);
        else
            for (int j = 0; j < (len ? len[i] : 1); j++)
                fprintf(f, j ? " %d" : "%d", ids[(size_t)i * stride + j]);
        if (!score)
            fputc('\n', f);
    }
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    BATON_REQUIRE(!bad, "bench translate: error writing %s", path);
    return BATON_OK;
}

/* --write-ids: the shared inputs (src.ids, meta.json) and this decoder's outputs. */
static baton_status write_outputs(const bench_translate_model *x, const bench_opts *o, const sources *c, int beam)
{
    const char *dir = o->write_ids;
    char name[64];
    if (beam == o->beams.v[0]) {
        BATON_TRY(write_ids(dir, "src.ids", c->ids, MAX_SRC_TOKENS, c->len, NULL, c->n));
        BATON_TRY(write_ids(dir, "order.txt", c->line, 1, NULL, NULL, c->n)); /* each one's input line */
        char path[4096];
        snprintf(path, sizeof path, "%s/meta.json", dir);
        FILE *f = fopen(path, "w");
        BATON_REQUIRE(f, "bench translate: cannot write %s", path);
        fprintf(f, "{\"batch\": %d, \"max_len\": %d, \"alpha\": %g, \"beams\": [", o->batches.v[0], c->max_len,
                (double)o->alpha);
        for (int i = 0; i < o->beams.n; i++)
            fprintf(f, i ? ", %d" : "%d", o->beams.v[i]);
        char *abs = realpath(x->model_dir, NULL);
        fprintf(f, "], \"sentences\": %d, \"model\": \"%s\"}\n", c->n, abs ? abs : x->model_dir);
        free(abs);
        BATON_REQUIRE(fclose(f) == 0, "bench translate: error writing %s", path);
    }
    if (beam > 1)
        snprintf(name, sizeof name, "baton-beam%d.ids", beam);
    else
        snprintf(name, sizeof name, "baton-greedy.ids");
    BATON_TRY(write_ids(dir, name, c->out, (size_t)c->max_len, c->out_len, NULL, c->n));
    if (beam == 1)
        return BATON_OK;
    snprintf(name, sizeof name, "baton-beam%d.scores", beam);
    return write_ids(dir, name, NULL, 0, NULL, c->score, c->n);
}

/* One row: batch size B, beam width `beam`. */
static baton_status bench_one(baton_report *r, const bench_translate_model *x, const bench_opts *o, sources *c, int B,
                              int beam, int k, int n_rows)
{
    decoder d;
    baton_status st = decoder_create(&d, x, o, c, B, beam);
    double *ms = calloc((size_t)o->reps, sizeof *ms), warm;
    if (st == BATON_OK && !ms)
        st = BATON_ERROR(BATON_ERR_OOM, "bench translate: out of memory");
    char mode[32];
    snprintf(mode, sizeof mode, beam > 1 ? "beam%d" : "greedy", beam);
    baton_backend *be = x->be; /* constant weights, as a translator declares them (its panels packed in warm-up) */
    if (st == BATON_OK && be->ops->params_frozen)
        st = be->ops->params_frozen(be, x->params, x->t->total);
    for (int i = 0; st == BATON_OK && i < o->warmup + o->reps; i++) {
        bench_progress(o, k, n_rows, "%s, batch %d: %s %d of %d", mode, B, i < o->warmup ? "warm-up" : "pass",
                       i < o->warmup ? i + 1 : i - o->warmup + 1, i < o->warmup ? o->warmup : o->reps);
        st = decode_pass(&d, x, o, c, i < o->warmup ? &warm : &ms[i - o->warmup]);
    }
    bench_progress_done(o);
    if (be->ops->params_frozen)
        be->ops->params_frozen(be, NULL, 0);
    if (st == BATON_OK) {
        long tgt = 0;
        for (int i = 0; i < c->n; i++)
            tgt += c->out_len[i];
        double med = baton_bench_median(ms, o->reps);
        st = baton_report_row(r, "baton-%s|%s|%d|%d|%d|%ld|%ld|%.1f|%.1f|%.0f", x->be->ops->name, mode, beam, B, c->n,
                              c->src_tokens, tgt, med, c->n / (med * 1e-3), tgt / (med * 1e-3));
    }
    if (st == BATON_OK && o->write_ids && B == o->batches.v[0])
        st = write_outputs(x, o, c, beam);
    free(ms);
    decoder_free(&d, x->be);
    return st;
}

baton_status bench_translate(baton_report *r, const bench_opts *o, const bench_translate_model *x)
{
    BATON_REQUIRE(o->input, "bench translate: --input FILE (sources, one per line) is required");
    /* before any pass, so that a bad directory costs no decoding */
    BATON_REQUIRE(!o->write_ids || mkdir(o->write_ids, 0777) == 0 || errno == EEXIST,
                  "bench translate: --write-ids %s: cannot create it (%s)", o->write_ids, strerror(errno));
    baton_report_init(r, bench_translate_cols, BENCH_TRANSLATE_NCOL);
    sources c;
    baton_status st = sources_load(&c, x, o);
    int n_rows = o->batches.n * o->beams.n, k = 0;
    for (int i = 0; st == BATON_OK && i < o->batches.n; i++)
        for (int j = 0; st == BATON_OK && j < o->beams.n; j++)
            st = bench_one(r, x, o, &c, o->batches.v[i], o->beams.v[j], ++k, n_rows);
    if (st == BATON_OK)
        printf("# %s: %d sentences (%ld source tokens, longest %d), sorted longest first; output limit %d tokens; "
               "alpha %g; medians of %d passes after %d warm-up\n",
               o->input, c.n, c.src_tokens, c.S_max, c.max_len, (double)o->alpha, o->reps, o->warmup);
    sources_free(&c);
    return st;
}
