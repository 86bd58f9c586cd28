/* cmd_translate.c: `baton translate` (beam or greedy, batched, from a file or standard input to
 * standard output as the input arrives) and `baton score` (per-sentence log-probability and token
 * count under a model). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "baton/batch.h"
#include "baton/text.h"
#include "commands.h"
#include "model_dir.h"
#include "translator.h"

/* Longest sentence of lines[0..n) in tokens, at least 1. */
/* The most tokens of any line into *most; a line over the limit is refused, naming file and line. */
static baton_status longest(int *most, const baton_vocab *v, char **lines, int n, const char *path)
{
    int m = 1;
    for (int i = 0; i < n; i++) {
        int k = baton_vocab_encode(v, lines[i], NULL, 0);
        BATON_REQUIRE(k <= CLI_LIMIT_LEN, "%s:%d: %d tokens, expected at most %d (score takes whole sentences)",
                      path, i + 1, k, CLI_LIMIT_LEN);
        m = k > m ? k : m;
    }
    *most = m;
    return BATON_OK;
}

typedef struct {
    cli_settings s;
    baton_backend be;
    cli_loaded_model lm;
    int have_be, have_model;
} session;

/* Parses flags, creates the backend, loads --model; returns the exit status on failure, else -1. */
static int open_session(session *x, int argc, char **argv, const cli_command *cmd)
{
    memset(x, 0, sizeof *x);
    cli_opts_defaults(&x->s, cli_settings_opts);
    int help;
    if (cli_opts_argv(&x->s, cli_settings_opts, cmd, argc, argv, 2, &help) != BATON_OK)
        return 2;
    if (help) {
        cli_opts_help(stdout, &x->s, cli_settings_opts, cmd);
        return 0;
    }
    if (cli_settings_check(&x->s, cmd->id) != BATON_OK)
        return 2;
    if (cli_backend_create(&x->be, &x->s, 0) != BATON_OK)
        return 1;
    x->have_be = 1;
    if (cli_model_load(&x->lm, x->s.model, &x->be) != BATON_OK)
        return 1;
    x->have_model = 1;
    return -1;
}

static void close_session(session *x)
{
    if (x->have_model)
        cli_model_free(&x->lm);
    if (x->have_be)
        baton_backend_destroy(&x->be);
}

typedef struct {
    int nbest; /* hypotheses per sentence */
} printer;

static void print_hyp(void *ctx, long line, int k, const char *text, float score)
{
    const printer *p = ctx;
    if (p->nbest > 1)
        printf("%ld ||| %s ||| %.4f\n", line - 1, text, (double)score);
    else
        printf("%s\n", text);
    if (k == p->nbest - 1)
        fflush(stdout); /* a chunk's translations leave before the next chunk is read */
}

/* Translates the input as it arrives: a line at a time from a terminal, --batch lines at a time
 * from a pipe, 16 x --batch from a file, each chunk printed and flushed before the next is read. */
static baton_status translate_stream(session *x, const char *path)
{
    baton_line_reader in;
    BATON_TRY(baton_line_reader_open(&in, path));
    cli_translator tr = {.be = &x->be, .m = &x->lm.m, .t = &x->lm.t, .params = x->lm.params, .sv = &x->lm.sv,
                         .tv = &x->lm.tv, .ssw = x->lm.ssw, .tsw = x->lm.tsw, .batch = x->s.batch, .beam = x->s.beam,
                         .nbest = x->s.nbest, .alpha = x->s.alpha, .max_len_ratio = x->s.max_len_ratio,
                         .rnn_impl = x->s.rnn_impl, .seed = (uint64_t)x->s.seed,
                         .max_tokens = x->s.max_input_tokens};
    printer p = {x->s.beam > 1 ? x->s.nbest : 1};
    /* a file: 16 batches at a time, sorted by length within them (Marian's maxi-batch); a pipe: a
     * batch at a time, so that answers follow questions; a terminal: a line at a time */
    struct stat info;
    int fd = fileno(in.f), file = fstat(fd, &info) == 0 && S_ISREG(info.st_mode);
    int chunk = isatty(fd) ? 1 : !file ? x->s.batch : x->s.batch > CLI_LIMIT_BATCH / 16 ? CLI_LIMIT_BATCH : 16 * x->s.batch;
    baton_status st = cli_translator_stream(&tr, &in, chunk, print_hyp, &p);
    fflush(stdout);
    baton_line_reader_close(&in);
    return st;
}

int cli_translate(int argc, char **argv)
{
    session x;
    static const cli_command cmd = {
        "translate", CLI_TRANSLATE,
        "usage: baton translate --model DIR [--input FILE] [options]\n"
        "Translates sentences, one per line, from FILE or standard input to standard output (beam search,\n"
        "--beam 5 by default; --beam 1 for greedy). Text is tokenized and detokenized with the model's\n"
        "SentencePiece models, or taken as pre-tokenized when it has none."};
    int rc = open_session(&x, argc, argv, &cmd);
    if (rc >= 0) {
        close_session(&x);
        return rc;
    }
    baton_status st = translate_stream(&x, x.s.input ? x.s.input : "-");
    close_session(&x);
    return st == BATON_OK ? 0 : 1;
}

/* Scores pairs batch by batch: sum of log p over each target and its </s>. */
static baton_status score_pairs(session *x, char **src, char **tgt, int n)
{
    baton_backend *be = &x->be;
    const baton_s2s *m = &x->lm.m;
    int B = x->s.batch, S_max = 1, T_max = 1;
    BATON_TRY(longest(&S_max, &x->lm.sv, src, n, x->s.src));
    BATON_TRY(longest(&T_max, &x->lm.tv, tgt, n, x->s.tgt));
    T_max += 1; /* </s> */
    baton_host_batch hb;
    baton_arena measure = baton_arena_measuring(), arena = {0};
    baton_s2s_acts acts;
    memset(&acts, 0, sizeof acts);
    int *tmp = malloc((size_t)(S_max > T_max ? S_max : T_max) * B * sizeof(int));
    float *logp = malloc((size_t)T_max * B * sizeof(float));
    baton_status st = tmp && logp ? baton_host_batch_alloc(&hb, S_max, T_max, B)
                                  : BATON_ERROR(BATON_ERR_OOM, "score: out of memory");
    if (st == BATON_OK)
        st = baton_s2s_acts_carve(&acts, &measure, m, S_max, T_max, B);
    if (st == BATON_OK)
        st = baton_arena_create(&arena, be, measure.used);
    if (st == BATON_OK)
        st = baton_s2s_acts_carve(&acts, &arena, m, S_max, T_max, B);
    if (st == BATON_OK)
        baton_s2s_acts_no_grad(&acts, 1);
    if (st == BATON_OK)
        st = baton_s2s_acts_use_impl(&acts, be, m, x->s.rnn_impl, (uint64_t)x->s.seed, 1);
    int *dev[5] = {NULL, NULL, NULL, NULL, NULL};
    size_t sizes[5] = {(size_t)S_max * B, (size_t)B, (size_t)T_max * B, (size_t)T_max * B, (size_t)B};
    for (int i = 0; st == BATON_OK && i < 5; i++)
        st = be->ops->alloc(be, (void **)&dev[i], sizes[i] * sizeof(int), "score batch ids");
    for (int first = 0; st == BATON_OK && first < n; first += B) {
        int nb = n - first < B ? n - first : B, T = 1;
        hb.B = nb;
        hb.S = cli_encode_batch(&x->lm.sv, src + first, nb, S_max, hb.src, hb.src_len, tmp);
        hb.tgt_tokens = 0;
        for (int b = 0; b < nb; b++) {
            hb.tgt_len[b] = baton_vocab_encode(&x->lm.tv, tgt[first + b], tmp + (size_t)b * T_max, T_max - 1) + 1;
            T = hb.tgt_len[b] > T ? hb.tgt_len[b] : T;
            hb.tgt_tokens += hb.tgt_len[b];
        }
        for (int t = 0; t < T; t++)
            for (int b = 0; b < nb; b++) {
                int L = hb.tgt_len[b], *y = tmp + (size_t)b * T_max;
                hb.tgt_in[t * nb + b] = t == 0 ? BATON_BOS : t < L ? y[t - 1] : BATON_PAD;
                hb.tgt_out[t * nb + b] = t < L - 1 ? y[t] : t == L - 1 ? BATON_EOS : BATON_PAD;
            }
        const void *host[5] = {hb.src, hb.src_len, hb.tgt_in, hb.tgt_out, hb.tgt_len};
        size_t used[5] = {(size_t)hb.S * nb, (size_t)nb, (size_t)T * nb, (size_t)T * nb, (size_t)nb};
        for (int i = 0; st == BATON_OK && i < 5; i++)
            st = be->ops->upload(be, dev[i], host[i], used[i] * sizeof(int));
        baton_s2s_batch batch = {.B = nb, .S = hb.S, .T = T, .src = dev[0], .src_len = dev[1], .tgt_in = dev[2],
                                 .tgt_out = dev[3], .tgt_len = dev[4], .tgt_tokens = hb.tgt_tokens};
        acts.enc.host_lengths = hb.src_len;
        acts.dec.host_lengths = hb.tgt_len;
        if (st == BATON_OK)
            st = baton_s2s_forward(be, m, &acts, x->lm.params, &x->lm.t, &batch, NULL, 0);
        if (st == BATON_OK)
            st = be->ops->download(be, logp, acts.logp, (size_t)T * nb * sizeof(float));
        for (int b = 0; st == BATON_OK && b < nb; b++) {
            double sum = 0.0;
            for (int t = 0; t < hb.tgt_len[b]; t++)
                sum += logp[t * nb + b];
            printf("%.6f\t%d\n", sum, hb.tgt_len[b]);
        }
    }
    for (int i = 0; i < 5; i++)
        if (dev[i])
            be->ops->free(be, dev[i]);
    baton_s2s_acts_release(&acts);
    baton_arena_destroy(&arena);
    baton_host_batch_free(&hb);
    free(tmp);
    free(logp);
    return st;
}

int cli_score(int argc, char **argv)
{
    session x;
    static const cli_command cmd = {
        "score", CLI_SCORE,
        "usage: baton score --model DIR --src FILE --tgt FILE [options]\n"
        "Prints, per line pair, the target's log-probability under the model (natural log, </s> included,\n"
        "no label smoothing) and its token count, tab-separated."};
    int rc = open_session(&x, argc, argv, &cmd);
    if (rc >= 0) {
        close_session(&x);
        return rc;
    }
    baton_pairs pairs = {0};
    baton_status st = baton_text_read_pairs(&pairs, x.s.src, x.s.tgt);
    if (st == BATON_OK)
        st = cli_tokenize_lines(x.lm.ssw, pairs.src, pairs.n);
    if (st == BATON_OK)
        st = cli_tokenize_lines(x.lm.tsw, pairs.tgt, pairs.n);
    if (st == BATON_OK && pairs.n > 0)
        st = score_pairs(&x, pairs.src, pairs.tgt, pairs.n);
    baton_pairs_free(&pairs);
    close_session(&x);
    return st == BATON_OK ? 0 : 1;
}
