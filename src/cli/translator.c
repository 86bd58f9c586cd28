/* translator.c: batched translation of raw sentences (translator.h). Each batch is tokenized
 * (subwords), mapped to ids, decoded greedily or with beam search on the device, and each
 * hypothesis mapped back to tokens and detokenized before it is handed to the caller. */
#include "translator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/decode.h"
#include "settings.h"

baton_status cli_tokenize_lines(baton_subword *sw, char **lines, int n)
{
    char *buf = NULL;
    size_t cap = 0;
    for (int i = 0; i < n; i++) {
        BATON_TRY(baton_subword_encode(sw, lines[i], &buf, &cap));
        char *copy = strdup(buf);
        if (!copy) {
            free(buf);
            return BATON_ERROR(BATON_ERR_OOM, "tokenizing line %d: out of memory", i + 1);
        }
        free(lines[i]);
        lines[i] = copy;
    }
    free(buf);
    return BATON_OK;
}

int cli_encode_batch(const baton_vocab *v, char *const *lines, int B, int S_max, int *ids_tb, int *len, int *tmp)
{
    int S = 1;
    for (int b = 0; b < B; b++) {
        len[b] = baton_vocab_encode(v, lines[b], tmp + (size_t)b * S_max, S_max);
        if (len[b] == 0) {
            tmp[(size_t)b * S_max] = BATON_UNK;
            len[b] = 1;
        }
        S = len[b] > S ? len[b] : S;
    }
    for (int s = 0; s < S; s++)
        for (int b = 0; b < B; b++)
            ids_tb[s * B + b] = s < len[b] ? tmp[(size_t)b * S_max + s] : BATON_PAD;
    return S;
}

typedef struct {
    baton_greedy g;
    baton_beam bm;
    int *ids, *len, *tmp, *out, *out_len, *d_ids, *d_len;
    baton_hyp *hyps;
    char *text, *detok;
    size_t text_cap, detok_cap;
    int S_max, max_len, k;
} work;

static baton_status work_create(work *w, const cli_translator *x, char *const *tok, int n)
{
    memset(w, 0, sizeof *w);
    int B = x->batch;
    w->S_max = 1;
    for (int i = 0; i < n; i++) {
        int len = baton_vocab_encode(x->sv, tok[i], NULL, 0);
        w->S_max = len > w->S_max ? len : w->S_max;
    }
    /* in double and capped: a large --max-len-ratio must not overflow int (nor ask for more than a
     * sentence may hold) */
    double max_len = (double)x->max_len_ratio * w->S_max + 5;
    w->max_len = max_len < CLI_LIMIT_LEN ? (int)max_len : CLI_LIMIT_LEN;
    w->k = x->beam > 1 ? x->nbest : 1;
    w->ids = malloc((size_t)w->S_max * B * sizeof(int));
    w->len = malloc((size_t)B * sizeof(int));
    w->tmp = malloc((size_t)w->S_max * B * sizeof(int));
    w->out = malloc((size_t)B * w->k * w->max_len * sizeof(int));
    w->out_len = malloc((size_t)B * sizeof(int));
    w->hyps = malloc((size_t)B * w->k * sizeof(baton_hyp));
    BATON_REQUIRE(w->ids && w->len && w->tmp && w->out && w->out_len && w->hyps,
                  "translate: out of memory for batches of %d", B);
    baton_backend *be = x->be;
    BATON_TRY(x->beam > 1 ? baton_beam_create(&w->bm, be, x->m, w->S_max, B, x->beam, w->max_len, 0)
                          : baton_greedy_create(&w->g, be, x->m, w->S_max, B));
    /* the encoder only: decoding runs one step at a time */
    BATON_TRY(baton_s2s_acts_use_impl(x->beam > 1 ? &w->bm.acts : &w->g.acts, be, x->m, x->rnn_impl, x->seed, 0));
    /* the weights stay as they are for the whole run: the decoder may tabulate what depends on them alone */
    BATON_TRY(x->beam > 1 ? baton_beam_fix_weights(&w->bm, x->params, x->t)
                          : baton_greedy_fix_weights(&w->g, x->params, x->t));
    BATON_TRY(be->ops->alloc(be, (void **)&w->d_ids, (size_t)w->S_max * B * sizeof(int), "source ids"));
    return be->ops->alloc(be, (void **)&w->d_len, (size_t)B * sizeof(int), "source lengths");
}

static void work_free(work *w, baton_backend *be)
{
    if (w->d_ids)
        be->ops->free(be, w->d_ids);
    if (w->d_len)
        be->ops->free(be, w->d_len);
    baton_greedy_destroy(&w->g);
    baton_beam_destroy(&w->bm);
    free(w->ids), free(w->len), free(w->tmp), free(w->out), free(w->out_len), free(w->hyps), free(w->text);
    free(w->detok);
}

/* Detokenizes and emits the hypotheses of sentences first..first+nb. */
static baton_status emit_batch(const cli_translator *x, work *w, char *const *tok, int first, int nb, cli_emit_fn emit,
                               void *ctx)
{
    for (int b = 0; b < nb; b++)
        for (int i = 0; i < w->k; i++) {
            int empty = baton_vocab_encode(x->sv, tok[first + b], NULL, 0) == 0;
            int len = empty ? 0 : x->beam > 1 ? w->hyps[b * w->k + i].len : w->out_len[b];
            const int *ids = w->out + (size_t)(b * w->k + i) * w->max_len;
            size_t need = baton_vocab_decode(x->tv, ids, len, w->text, w->text_cap) + 1;
            if (need > w->text_cap) { /* the tokens' text, as long as it is */
                char *grown = realloc(w->text, need);
                if (!grown)
                    return BATON_ERROR(BATON_ERR_OOM, "translate: out of memory for a %zu-byte translation", need);
                w->text = grown, w->text_cap = need;
                baton_vocab_decode(x->tv, ids, len, w->text, w->text_cap);
            }
            BATON_TRY(baton_subword_decode(x->tsw, w->text, &w->detok, &w->detok_cap));
            emit(ctx, first + b, i, w->detok, x->beam > 1 ? w->hyps[b * w->k + i].score : 0.0f);
        }
    return BATON_OK;
}

static baton_status run_batches(const cli_translator *x, work *w, char *const *tok, int n, cli_emit_fn emit, void *ctx)
{
    baton_backend *be = x->be;
    for (int first = 0; first < n; first += x->batch) {
        int nb = n - first < x->batch ? n - first : x->batch;
        int S = cli_encode_batch(x->sv, tok + first, nb, w->S_max, w->ids, w->len, w->tmp);
        BATON_TRY(be->ops->upload(be, w->d_ids, w->ids, (size_t)S * nb * sizeof(int)));
        BATON_TRY(be->ops->upload(be, w->d_len, w->len, (size_t)nb * sizeof(int)));
        if (x->beam > 1)
            BATON_TRY(baton_beam_decode(&w->bm, x->params, x->t, w->d_ids, w->d_len, w->len, S, nb, x->alpha, w->k,
                                        w->hyps, w->out, NULL));
        else
            BATON_TRY(baton_greedy_decode(&w->g, x->params, x->t, w->d_ids, w->d_len, w->len, S, nb, w->max_len, w->out,
                                          w->out_len, NULL));
        BATON_TRY(emit_batch(x, w, tok, first, nb, emit, ctx));
    }
    return BATON_OK;
}

/* The hypotheses of a run, kept until every batch is done, to be handed over in input order. */
typedef struct {
    const int *order; /* sorted position -> input index */
    int k;
    char **text;  /* (n, k) */
    float *score; /* (n, k) */
    baton_status st;
} held;

static void hold(void *ctx, int i, int k, const char *text, float score)
{
    held *h = ctx;
    size_t at = (size_t)h->order[i] * h->k + k;
    if (!(h->text[at] = strdup(text)) && h->st == BATON_OK)
        h->st = BATON_ERROR(BATON_ERR_OOM, "translate: out of memory for a translation");
    h->score[at] = score;
}

/* Longest first; equal lengths keep input order. */
static int by_length(const void *a, const void *b)
{
    const int *x = a, *y = b; /* (tokens, index) */
    return x[0] != y[0] ? (x[0] < y[0]) - (x[0] > y[0]) : (x[1] > y[1]) - (x[1] < y[1]);
}

/* Decodes tokenized lines tok[0..n) longest first, in batches (less padding, and rows of a batch
 * finish together: Marian's maxi-batch sorting), then hands every hypothesis to emit in input order. */
static baton_status run_sorted(const cli_translator *x, char **tok, int n, cli_emit_fn emit, void *ctx)
{
    int k = x->beam > 1 ? x->nbest : 1, *key = malloc((size_t)n * 2 * sizeof(int)), *order = malloc((size_t)n * sizeof(int));
    char **sorted = malloc((size_t)n * sizeof *sorted);
    held h = {order, k, calloc((size_t)n * k, sizeof(char *)), malloc((size_t)n * k * sizeof(float)), BATON_OK};
    baton_status st = key && order && sorted && h.text && h.score
                          ? BATON_OK
                          : BATON_ERROR(BATON_ERR_OOM, "translate: out of memory for %d lines", n);
    for (int i = 0; st == BATON_OK && i < n; i++)
        key[2 * i] = baton_vocab_encode(x->sv, tok[i], NULL, 0), key[2 * i + 1] = i;
    if (st == BATON_OK)
        qsort(key, (size_t)n, 2 * sizeof(int), by_length);
    for (int i = 0; st == BATON_OK && i < n; i++)
        order[i] = key[2 * i + 1], sorted[i] = tok[order[i]];
    work w;
    baton_backend *be = x->be;
    if (st == BATON_OK) { /* the weights stay as they are until every batch is decoded */
        st = work_create(&w, x, sorted, n);
        if (st == BATON_OK && be->ops->params_frozen)
            st = be->ops->params_frozen(be, x->params, x->t->total);
        if (st == BATON_OK)
            st = run_batches(x, &w, sorted, n, hold, &h);
        if (be->ops->params_frozen)
            be->ops->params_frozen(be, NULL, 0);
        work_free(&w, be);
    }
    st = st == BATON_OK ? h.st : st;
    for (int i = 0; st == BATON_OK && i < n; i++)
        for (int j = 0; j < k; j++)
            emit(ctx, i, j, h.text[(size_t)i * k + j], h.score[(size_t)i * k + j]);
    for (int i = 0; h.text && i < n * k; i++)
        free(h.text[i]);
    free(h.text), free(h.score), free(key), free(order), free(sorted);
    return st;
}

/* Cuts tokenized line (tokens separated by single spaces) after max tokens, saying so. */
static void crop(char *line, int max, long line_no)
{
    int tokens = 0;
    for (char *p = line; *p; p++)
        if (*p == ' ' && ++tokens == max) {
            long total = max + 1;
            for (char *q = p + 1; *q; q++)
                total += *q == ' ';
            *p = '\0';
            fprintf(stderr, "baton: warning: input line %ld has %ld tokens; translating its first %d "
                            "(--max-input-tokens)\n", line_no, total, max);
            return;
        }
}

baton_status cli_translator_run(const cli_translator *x, char *const *lines, int n, cli_emit_fn emit, void *ctx)
{
    BATON_REQUIRE(x->beam >= 1 && x->nbest >= 1 && x->nbest <= x->beam,
                  "--beam %d, --nbest %d: expected 1 <= nbest <= beam", x->beam, x->nbest);
    BATON_REQUIRE(x->batch >= 1, "--batch %d: expected >= 1", x->batch);
    if (n == 0)
        return BATON_OK;
    char **tok = malloc((size_t)n * sizeof *tok);
    if (!tok)
        return BATON_ERROR(BATON_ERR_OOM, "translate: out of memory for %d lines", n);
    int copied = 0;
    baton_status st = BATON_OK;
    for (; st == BATON_OK && copied < n; copied++)
        if (!(tok[copied] = strdup(lines[copied])))
            st = BATON_ERROR(BATON_ERR_OOM, "translate: out of memory for %d lines", n);
    if (st == BATON_OK)
        st = cli_tokenize_lines(x->ssw, tok, n);
    for (int i = 0; st == BATON_OK && x->max_tokens > 0 && i < n; i++)
        crop(tok[i], x->max_tokens, x->first_line + i);
    if (st == BATON_OK)
        st = run_sorted(x, tok, n, emit, ctx);
    for (int i = 0; i < copied; i++)
        free(tok[i]);
    free(tok);
    return st;
}

typedef struct {
    cli_line_emit_fn emit;
    void *ctx;
    long first; /* input line of the chunk's lines[0] */
} chunk_emit;

static void emit_line(void *ctx, int i, int k, const char *text, float score)
{
    const chunk_emit *c = ctx;
    c->emit(c->ctx, c->first + i, k, text, score);
}

/* Reads up to max lines of in into lines (copies); *n of them, *end at the end of the input. */
static baton_status read_chunk(baton_line_reader *in, char **lines, int max, int *n, int *end)
{
    *n = 0;
    *end = 0;
    while (*n < max) {
        char *line;
        BATON_TRY(baton_line_reader_next(in, &line));
        if (!line) {
            *end = 1;
            return BATON_OK;
        }
        if (!(lines[*n] = strdup(line)))
            return BATON_ERROR(BATON_ERR_OOM, "%s:%ld: out of memory", in->path, in->line);
        ++*n;
    }
    return BATON_OK;
}

baton_status cli_translator_stream(const cli_translator *x, baton_line_reader *in, int chunk, cli_line_emit_fn emit,
                                   void *ctx)
{
    BATON_REQUIRE(chunk >= 1, "translate: chunks of %d lines, expected >= 1", chunk);
    char **lines = calloc((size_t)chunk, sizeof *lines);
    baton_status st = lines ? BATON_OK : BATON_ERROR(BATON_ERR_OOM, "translate: out of memory for %d lines", chunk);
    cli_translator tr = *x;
    chunk_emit c = {emit, ctx, 0};
    for (int end = 0, n = 0; st == BATON_OK && !end;) {
        tr.first_line = c.first = in->line + 1;
        st = read_chunk(in, lines, chunk, &n, &end);
        if (st == BATON_OK && n > 0)
            st = cli_translator_run(&tr, lines, n, emit_line, &c);
        for (int i = 0; i < n; i++)
            free(lines[i]);
    }
    free(lines);
    return st;
}
