/* bench_core.c: the configurations, synthetic batches, FLOP counts and statistics of `baton
 * bench` (bench.h). bench/pytorch_baseline.py repeats the table and the batch formula; the cpu
 * test `bench` checks that both print the same configurations. */
#include "baton/bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "baton/rng.h"
#include "baton/vocab.h"

/* GNMT: 4 layers of 1024 (NVIDIA's GNMT v2 benchmark size, 32k vocabularies, batch 128). */
const baton_bench_model baton_bench_models[] = {
    {"tiny", BATON_CELL_LSTM, 1, 1, 256, 256, BATON_ATTN_GENERAL, 8000, 8000, 64, 30, 30, 0.2f, 0.1f},
    {"base", BATON_CELL_LSTM, 2, 1, 512, 512, BATON_ATTN_GENERAL, 8000, 8000, 64, 50, 50, 0.2f, 0.1f},
    {"gnmt", BATON_CELL_LSTM, 4, 1, 1024, 1024, BATON_ATTN_GENERAL, 32000, 32000, 128, 50, 50, 0.2f, 0.1f},
};
const int baton_bench_model_count = (int)(sizeof baton_bench_models / sizeof baton_bench_models[0]);

const baton_bench_model *baton_bench_model_find(const char *name)
{
    for (int i = 0; i < baton_bench_model_count; i++)
        if (strcmp(baton_bench_models[i].name, name) == 0)
            return &baton_bench_models[i];
    return NULL;
}

void baton_bench_models_json(FILE *out)
{
    static const char *scores[] = {"dot", "general", "additive"};
    fputc('[', out);
    for (int i = 0; i < baton_bench_model_count; i++) {
        const baton_bench_model *m = &baton_bench_models[i];
        fprintf(out,
                "%s{\"name\": \"%s\", \"cell\": \"%s\", \"layers\": %d, \"bidirectional\": %s, \"emb\": %d, "
                "\"hidden\": %d, \"attention\": \"%s\", \"src_vocab\": %d, \"tgt_vocab\": %d, \"batch\": %d, "
                "\"S\": %d, \"T\": %d, \"dropout\": %g, \"label_smoothing\": %g}",
                i ? ",\n " : "", m->name, m->cell == BATON_CELL_LSTM ? "lstm" : m->cell == BATON_CELL_GRU ? "gru" : "rnn_tanh",
                m->layers, m->bidirectional ? "true" : "false", m->emb, m->hidden, scores[m->score], m->src_vocab,
                m->tgt_vocab, m->batch, m->S, m->T, (double)m->dropout, (double)m->label_smoothing);
    }
    fputs("]\n", out);
}

/* Word `index` of stream (seed, purpose, batch k) mapped onto the non-special ids [4, V). */
static int synth_id(uint64_t seed, uint32_t purpose, int k, uint64_t index, int V)
{
    uint32_t w = baton_rng_block(seed, purpose, (uint32_t)k, index >> 2).v[index & 3];
    return BATON_SPECIALS + (int)(w % (uint32_t)(V - BATON_SPECIALS));
}

void baton_bench_batch_fill(baton_host_batch *hb, const baton_bench_model *m, int k, uint64_t seed)
{
    int B = m->batch, S = m->S, T = m->T;
    hb->B = B;
    hb->S = S;
    hb->T = T;
    hb->src_tokens = hb->tgt_tokens = 0;
    for (int b = 0; b < B; b++) {
        int ls = S - (37 * b) % (S / 4 + 1), lt = T - (53 * b) % (T / 4 + 1);
        hb->src_len[b] = ls;
        hb->tgt_len[b] = lt;
        hb->src_tokens += ls;
        hb->tgt_tokens += lt;
        for (int s = 0; s < S; s++)
            hb->src[s * B + b] = s < ls ? synth_id(seed, BATON_RNG_TEST | 1, k, (uint64_t)b * S + s, m->src_vocab) : BATON_PAD;
        for (int t = 0; t < T; t++) { /* y_1..y_{lt-1}, then </s>; tgt_in is <s> and y shifted by one */
            int y = t < lt - 1 ? synth_id(seed, BATON_RNG_TEST | 2, k, (uint64_t)b * T + t, m->tgt_vocab) : BATON_EOS;
            hb->tgt_out[t * B + b] = t < lt ? y : BATON_PAD;
            if (t + 1 < T)
                hb->tgt_in[(t + 1) * B + b] = t + 1 < lt ? y : BATON_PAD;
        }
        hb->tgt_in[b] = BATON_BOS;
    }
}

double baton_bench_rnn_flops(baton_cell cell, int input, int hidden, int layers, int bidirectional, int T, int B,
                             int with_backward)
{
    int G = cell == BATON_CELL_LSTM ? 4 : cell == BATON_CELL_GRU ? 3 : 1, dirs = bidirectional ? 2 : 1;
    double Hd = hidden / dirs, fwd = 0.0;
    for (int l = 0; l < layers; l++) {
        double I = l == 0 ? input : hidden;
        fwd += dirs * (double)T * 2.0 * B * G * Hd * (I + Hd);
    }
    return with_backward ? 3.0 * fwd : fwd;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double baton_bench_median(double *x, int n)
{
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}
