/* bench.h: what `baton bench` measures and how it counts.
 *
 * Three benchmarks: `layer` (recurrent layer stacks, fused against cuDNN), `attention` (the masked
 * softmax, against the device's copy bandwidth) and `train` (whole training steps of named model
 * configurations, tokens/s). Counting rules, shared with bench/pytorch_baseline.py so that ratios
 * compare like with like:
 *
 *   tokens of a batch  = source non-pad tokens + target non-pad tokens (y_1..y_n and </s>), as
 *                        NVIDIA's GNMT benchmark counts;
 *   synthetic batches  = row b: src_len = S - (37 b mod (S/4 + 1)), tgt_len = T - (53 b mod (T/4 + 1)),
 *                        ids 4 + w mod (V - 4) for Philox words w of (seed, BATON_RNG_TEST | 1
 *                        (source) or | 2 (target), batch index k), word b S + s (b T + t);
 *                        BATON_BENCH_ROTATE batches built up front and cycled, so no two
 *                        consecutive steps see the same ids;
 *   recurrent FLOPs    = the matrix products only: per layer l, direction and step,
 *                        2 B G Hd (I_l + Hd) forward (input and recurrent projections; G gate
 *                        blocks: 4 LSTM, 3 GRU, 1 tanh-RNN; I_0 = I, I_l = H above), and twice
 *                        that for backward (data and weight gradients are one product each), so
 *                        forward+backward = 3 x forward. Elementwise gate math is not counted.
 * Times are medians over timed repetitions after warm-up; on a GPU they come from CUDA events. */
#ifndef BATON_BENCH_H
#define BATON_BENCH_H

#include <stdio.h>

#include "baton/attention.h"
#include "baton/batch.h"
#include "baton/cell_math.h"
#include "baton/status.h"

#define BATON_BENCH_ROTATE 8

/* A named model configuration of `baton bench train` (and of bench/pytorch_baseline.py). */
typedef struct {
    const char *name;
    baton_cell cell;
    int layers, bidirectional, emb, hidden;
    baton_attn_score score;
    int src_vocab, tgt_vocab;
    int batch, S, T; /* sentences per batch, longest source and target (with </s>) */
    float dropout, label_smoothing;
} baton_bench_model;

/* The table of configurations (tiny, base, gnmt) and its length. */
extern const baton_bench_model baton_bench_models[];
extern const int baton_bench_model_count;

/* The configuration called name, or NULL. */
const baton_bench_model *baton_bench_model_find(const char *name);

/* Writes the table as one JSON array (the same fields as bench/pytorch_baseline.py --list-configs). */
void baton_bench_models_json(FILE *out);

/* Fills hb (allocated for at least S, T, batch) with synthetic batch k of m (see the header). */
void baton_bench_batch_fill(baton_host_batch *hb, const baton_bench_model *m, int k, uint64_t seed);

/* FLOPs of a recurrent stack over T full steps of B rows (see the header); backward: data + weights. */
double baton_bench_rnn_flops(baton_cell cell, int input, int hidden, int layers, int bidirectional, int T, int B,
                             int with_backward);

/* Median of n values (n >= 1); x is left sorted. */
double baton_bench_median(double *x, int n);

/* "# " lines on the machine and the build: CPU model and threads, GPU (name, SMs, clocks, memory,
 * driver, CUDA runtime, cuBLAS, cuDNN) where one is usable, baton version and commit. */
void baton_bench_machine(FILE *out);

#endif
