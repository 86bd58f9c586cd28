/* bench_internal.h: what the benchmarks of `baton bench` share: the parsed options, the progress
 * line, and the entry point of each benchmark (src/cli/cmd_bench.c parses and dispatches). */
#ifndef BATON_BENCH_INTERNAL_H
#define BATON_BENCH_INTERNAL_H

#include <stdio.h>

#include "baton/bench.h"
#include "baton/dist.h"
#include "baton/report.h"
#include "baton/seq2seq.h"
#include "baton/subword.h"
#include "baton/vocab.h"

#define BENCH_MAX_LIST 16

typedef struct {
    int n;
    int v[BENCH_MAX_LIST];
} bench_ints;

typedef struct {
    const char *device;
    int threads, seed, warmup, reps, progress; /* progress: 1 on a terminal */
    baton_precision precision;
    const char *kernels; /* --kernels: versions of parts (baton_versions_parse) */
    /* train */
    const char *configs[BENCH_MAX_LIST];
    int n_configs;
    int feeds[2], n_feeds;
    const char *impls[BENCH_MAX_LIST]; /* --rnn-impl values: fused first, cudnn next where present */
    int n_impls;
    /* layer */
    baton_cell cells[3];
    int n_cells, bidirectional;
    bench_ints batches, hiddens, steps, layers;
    /* attention: shapes as (B, T, S) triples */
    int att[BENCH_MAX_LIST][3], n_att;
    baton_dist *dist; /* train under mpirun or srun: every rank steps its own batch, rank 0 reports all */
    /* translate (also --batch, --rnn-impl's first value) */
    const char *model, *input, *write_ids;
    bench_ints beams;
    float alpha, max_len_ratio;
    int limit; /* sentences, 0: all */
} bench_opts;

/* A trained model loaded for `bench translate` (the command line loads the model directory). */
typedef struct {
    baton_backend *be;
    const baton_s2s *m;
    const baton_param_table *t;
    const float *params; /* device */
    const baton_vocab *sv;
    baton_subword *ssw;
    const char *model_dir;
} bench_translate_model;

/* Columns of the train report: the first 12 as bench/pytorch_baseline.py's, then the issued work per step. */
#define BENCH_TRAIN_NCOL 23
extern const char *const bench_train_cols[BENCH_TRAIN_NCOL];

/* Columns of `baton bench layer`'s report (bench_layer.c). */
#define BENCH_LAYER_NCOL 14
extern const char *const bench_layer_cols[BENCH_LAYER_NCOL];

/* Columns of `baton bench translate`'s report, as bench/pytorch_translate.py writes them. */
#define BENCH_TRANSLATE_NCOL 10
extern const char *const bench_translate_cols[BENCH_TRANSLATE_NCOL];

/* Decodes o->input with model x, greedy or beam per o->beams, at each of o->batches: one row each. */
baton_status bench_translate(baton_report *r, const bench_opts *o, const bench_translate_model *x);

/* Whole training steps of each configuration x input feeding x implementation. */
baton_status bench_train(baton_report *r, const bench_opts *o);

/* Published reference numbers, printed beside train results (labelled as such). */
void bench_train_anchors(FILE *out);

/* Recurrent layer stacks over the sweep, each implementation side by side. */
baton_status bench_layer(baton_report *r, const bench_opts *o);

/* The masked attention softmax, forward and backward, against the device's copy bandwidth. */
baton_status bench_attention(baton_report *r, const bench_opts *o);

/* Joins train reports of several systems on (config, feed, device, precision): tokens/s and ratios. */
baton_status bench_compare(baton_report *out, const baton_report *const *in, int n);

/* Grouped bars of tokens/s: a group per configuration and feed, a bar per system. */
baton_status bench_plot_train(const char *path, const baton_report *const *reports, int n_reports);

/* Speedup over cuDNN against B, a line per version, cell, H and L (at the sweep's first T). */
baton_status bench_plot_layer(const char *path, const baton_report *r);

/* "[k/n] what" on stderr: rewritten in place on a terminal, a line each otherwise. */
void bench_progress(const bench_opts *o, int k, int n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Ends a sequence of progress lines. */
void bench_progress_done(const bench_opts *o);

#endif
