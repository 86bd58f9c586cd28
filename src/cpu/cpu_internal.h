/* cpu_internal.h: the CPU backend's loop ops, shared between cpu_backend.c (the table) and cpu_ops.c. */
#ifndef BATON_CPU_INTERNAL_H
#define BATON_CPU_INTERNAL_H

#include "baton/backend.h"
#include "baton_config.h"

/* OpenMP pragmas; `omp simd` also works without OpenMP threads, as the build adds -fopenmp-simd. */
#define BATON_OMP_PRAGMA(x) _Pragma(#x)
/* Parallel for over a loop whose total work (elements times cheap operations) is in a variable
 * named `work`: only above 256k. Waking a passive team (cpu_backend.c) costs tens of microseconds,
 * and a decoder step's loops over a few hundred rows were slower split (bf16 greedy decoding, 2
 * threads: 12% slower with 16k than with 256k; a training step's loops are millions). */
#if BATON_HAVE_OPENMP
#define BATON_PARALLEL_FOR BATON_OMP_PRAGMA(omp parallel for schedule(static) if (work >= 262144))
#else
#define BATON_PARALLEL_FOR (void)work; /* a statement: use it only where a statement may stand */
#endif

/* Hot loops get an AVX2+FMA clone beside the baseline one where the compiler can (x86-64). */
#if BATON_HAVE_TARGET_CLONES
#define BATON_CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define BATON_CPU_CLONES
#endif
/* The packed recurrence's cell loops (cpu_ops.c, *_units) also get an AVX-512 clone: a thread's units
 * of one step are few (32 of a row), and 16 lanes halve their time where the CPU has them. flatten
 * inlines the cell's step functions, which GCC otherwise leaves out of line in that clone (a call
 * per element, 5x slower). AVX-512 changes no result: the loops are elementwise, and the x86-64-v3
 * and v4 clones contract the same a*b + c to FMAs (src/meson.build); the baseline clone, without
 * FMA, rounds each product (results differ from the others' in the last bits). */
#if BATON_HAVE_TARGET_CLONES_512
#define BATON_CPU_CLONES_512 __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), flatten))
#else
#define BATON_CPU_CLONES_512
#endif

/* Weights declared constant and their packed panels (cpu_frozen.c). */
typedef struct cpu_frozen cpu_frozen;
/* oneDNN's engine, stream, cached bf16 matmuls and rounded operands (cpu_dnnl.c). */
typedef struct cpu_dnnl cpu_dnnl;

/* The CPU backend's state behind baton_backend.impl. */
typedef struct {
    double marks[BATON_TIMER_SLOTS]; /* seconds, CLOCK_MONOTONIC */
    float *rounded[2];               /* bf16 precision: the GEMM's A and B rounded (bf16.h), grown as needed */
    size_t rounded_n[2];             /* their capacity in floats */
    int gemm_split;                  /* > 1: GEMMs cut in slices over this many threads (cpu_deal.c's pool) */
    float *packed;                   /* the packed recurrence's W_hh panels (cpu_recur.c), sized by its plans */
    size_t packed_n;                 /* its capacity in floats */
    cpu_frozen *frozen;              /* ops->params_frozen's range and panels, NULL until first asked */
    cpu_dnnl *dnnl;                  /* bf16 GEMMs on oneDNN (versions.cpubf16 dnnl), NULL until the first */
} cpu_ctx;

/* params[0..n) constant until the next call (n = 0 thaws): packed panels from now on (libxsmm). */
baton_status baton_cpu_params_frozen(baton_backend *be, const float *params, size_t n);
/* Does C = A B^T, or A B without trans_b (+ C), on packed panels of B when B lies in the frozen
 * range and the shape suits (returns 1), else nothing (0: the caller runs sgemm). */
int baton_cpu_frozen_gemm(baton_backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
                          const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* Frees the frozen range's panels (NULL: nothing). */
void baton_cpu_frozen_free(cpu_frozen *f);
/* C (M, N) = A (M, K, ld lda) B^T for B (N, K, ld K) a matrix the backend derived from frozen weights and
 * keeps unchanged while they stay frozen: packed panels (returns 1), else nothing (0: not frozen, or M
 * beyond what panels serve; the caller runs sgemm). */
int baton_cpu_frozen_gemm_owned(baton_backend *be, int M, int N, int K, const float *A, int lda, const float *B,
                                float *C, int ldc);

/* Greedy decoding's screen of the generator (cpu_screen.c); it lives as long as the frozen range. */
typedef struct cpu_screen cpu_screen;
/* Where the frozen range keeps its screen (*slot NULL until made), or NULL when nothing is frozen. */
cpu_screen **baton_cpu_frozen_screen(baton_backend *be);
/* Frees a screen (NULL: nothing). */
void baton_cpu_screen_free(cpu_screen *s);
/* ops->generator_argmax (backend.h): screened where the weights are frozen and fp32, else in full. */
baton_status baton_cpu_generator_argmax(baton_backend *be, int *idx, float *scratch, const float *x, const float *w,
                                        const float *b, const float *mask, int rows, int V, int K);

/* Do this backend's GEMMs run on oneDNN: bf16 precision, version cpubf16=dnnl, and a CPU that
 * multiplies bf16 in hardware (AVX512-BF16 or AMX, as oneDNN sees it)? */
int baton_cpu_dnnl_on(const baton_backend *be);
/* The batched GEMM of baton_cpu_gemm_batched on A and B rounded to bf16, through oneDNN's matmul
 * (sizes > 0, checked by the caller). */
baton_status baton_cpu_dnnl_gemm(baton_backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
                                 const float *A, int lda, int64_t stride_a, const float *B, int ldb,
                                 int64_t stride_b, float beta, float *C, int ldc, int64_t stride_c, int batch);
/* params[0..n) constant until the next call (n = 0 thaws): rounded to bf16 now, for the GEMMs that
 * read them meanwhile. */
baton_status baton_cpu_dnnl_freeze(baton_backend *be, const float *params, size_t n);
/* Frees oneDNN's state (NULL: nothing). */
void baton_cpu_dnnl_free(cpu_dnnl *d);

/* Floats from the first to one past the last element of a rows x cols GEMM operand (leading
 * dimension ld), over `batch` matrices `stride` apart: what a product reads of it. */
static inline size_t baton_cpu_extent(int rows, int cols, int ld, int64_t stride, int batch)
{
    if (rows == 0 || cols == 0 || batch == 0)
        return 0;
    return (size_t)(batch - 1) * (size_t)stride + (size_t)(rows - 1) * (size_t)ld + (size_t)cols;
}

/* C (M,N) = alpha op(A) op(B) + beta C through OpenBLAS, or a plain loop in builds without BLAS. */
baton_status baton_cpu_gemm(baton_backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
                            const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* batch GEMMs at fixed strides. */
baton_status baton_cpu_gemm_batched(baton_backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
                                    const float *A, int lda, int64_t stride_a, const float *B, int ldb,
                                    int64_t stride_b, float beta, float *C, int ldc, int64_t stride_c, int batch);

/* One time step of a fused cell over all (b, j), through cell_math.h. */
baton_status baton_cpu_cell_forward(baton_backend *be, baton_cell cell, const baton_cell_fwd_args *a);
/* The backward of one time step, through cell_math.h. */
baton_status baton_cpu_cell_backward(baton_backend *be, baton_cell cell, const baton_cell_bwd_args *a);
/* The forward cell of one step over units j0 <= j < j1 of every row, on the calling thread
 * (cell checked by the caller). */
void baton_cpu_cell_forward_units(baton_cell cell, const baton_cell_fwd_args *a, int j0, int j1);
/* The backward cell of one step over units j0 <= j < j1 of every row, on the calling thread. */
void baton_cpu_cell_backward_units(baton_cell cell, const baton_cell_bwd_args *a, int j0, int j1);

/* One unit of phased work: item `item` of phase `phase` (cpu_deal.c). */
typedef void (*baton_cpu_unit_fn)(void *ctx, int phase, int item);
/* Runs unit(ctx, p, i) for every phase p < phases and item i < items on up to `threads` threads (the
 * caller and a process-wide pool), each unit of phase p after every unit of the phases before it;
 * items stay with one thread from phase to phase unless that thread falls behind, a thread that waits
 * long sleeps between looks, and the call returns once every unit is done. One call at a time. */
void baton_cpu_deal_run(int threads, int items, int phases, baton_cpu_unit_fn unit, void *ctx);

/* cpu_recur.c (builds with libxsmm): the whole recurrence of a layer (recur.h) with W_hh packed once
 * per call. The plan: units per chunk, or 0 and why where the version or shape is not this backend's. */
baton_status baton_cpu_recur_plan(baton_backend *be, baton_recur_version v, baton_cell cell, int Hd, int dirs,
                                  int *units, char *why, size_t why_len);
/* All T forward steps of both directions (BATON_RECUR_PACKED). */
baton_status baton_cpu_recur_forward(baton_backend *be, baton_recur_version v, const baton_recur_args *a);
/* All T backward steps of both directions, after baton_cpu_recur_forward on the same tensors. */
baton_status baton_cpu_recur_backward(baton_backend *be, baton_recur_version v, const baton_recur_args *a);

/* y = alpha x + beta y. */
baton_status baton_cpu_axpby(baton_backend *be, float *y, const float *x, float alpha, float beta, size_t n);
/* out[j] += column sums of in (rows, cols); out2[j] += the same unless out2 is NULL. */
baton_status baton_cpu_colsum_add(baton_backend *be, float *out, float *out2, const float *in, int rows, int cols);
/* *out = sum of squares, accumulated in double. */
baton_status baton_cpu_sumsq(baton_backend *be, float *out, const float *x, size_t n);
/* y = x * dropout scale from Philox. */
baton_status baton_cpu_dropout(baton_backend *be, float *y, const float *x, size_t n, float p, uint64_t seed,
                               uint32_t purpose, const uint32_t *counter);
/* out rows = table rows picked by ids. */
baton_status baton_cpu_embed_gather(baton_backend *be, float *out, const int *ids, const float *table, int n, int dim);
/* dtable rows += dout rows, in id order. */
baton_status baton_cpu_embed_scatter_add(baton_backend *be, float *dtable, const int *ids, const float *dout, int n,
                                         int dim);
/* dst rows (ld_dst) = src rows (ld_src), rows x cols; the regions must not overlap. */
baton_status baton_cpu_copy2d(baton_backend *be, float *dst, int ld_dst, const float *src, int ld_src, int rows,
                              int cols);
/* y (rows, cols) += bias (cols) on every row. */
baton_status baton_cpu_add_bias(baton_backend *be, float *y, const float *bias, int rows, int cols);
/* y = tanh(x) through baton_tanh; y may be x. */
baton_status baton_cpu_tanh_forward(baton_backend *be, float *y, const float *x, size_t n);
/* dx = dy (1 - y^2); dx may be dy. */
baton_status baton_cpu_tanh_backward(baton_backend *be, float *dx, const float *dy, const float *y, size_t n);

/* cpu_attention.c: masked softmax over each (b, t) row of S, rows in parallel (attn_math.h). */
baton_status baton_cpu_attn_softmax_forward(baton_backend *be, float *p, const float *scores, const int *lengths,
                                            int B, int T, int S);
/* The softmax backward per (b, t) row, rows in parallel. */
baton_status baton_cpu_attn_softmax_backward(baton_backend *be, float *dscores, const float *dp, const float *p,
                                             int B, int T, int S);
/* Bahdanau scores, (b, t) rows in parallel. */
baton_status baton_cpu_additive_scores_forward(baton_backend *be, float *scores, const float *q, const float *k,
                                               const float *v, int B, int T, int S, int H);
/* Bahdanau score gradients, slices of h in parallel, every sum in a fixed order. */
baton_status baton_cpu_additive_scores_backward(baton_backend *be, float *dq, float *dk, float *dv,
                                                const float *dscores, const float *q, const float *k, const float *v,
                                                int B, int T, int S, int H);
/* cpu_loss.c: label-smoothed softmax cross-entropy, rows in parallel, loss summed in fixed groups. */
baton_status baton_cpu_xent_forward_backward(baton_backend *be, float *loss_sum, float *logp, float *dlogits,
                                             float *row_loss,
                                             const float *logits, const int *targets, int N, int V, float eps,
                                             const float *scale);

/* Index of each row's largest value. */
baton_status baton_cpu_argmax_rows(baton_backend *be, int *idx, const float *x, int rows, int cols);
baton_status baton_cpu_topk_rows(baton_backend *be, float *val, int *idx, float *lse, const float *x, int rows,
                                 int cols, int k);
/* One optimizer update over the flat buffers. */
baton_status baton_cpu_optim_update(baton_backend *be, baton_opt_kind kind, const baton_optim_hyper *h, float *params,
                                    uint16_t *params_bf16, const float *grads, float *m, float *v, float *ema, size_t n,
                                    const float *grad_sumsq);

#endif
