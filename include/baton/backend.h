/* backend.h: the ops table, the only seam between the model code and a device.
 *
 * Model and layer code is written once against baton_ops; a backend (cpu, cuda) fills the table
 * and keeps its handles, streams and workspaces behind `impl`. Every pointer an op takes is a
 * device pointer of that backend (host memory for cpu). Matrices are row-major, as in C and
 * PyTorch; `trans` flags mean the stored matrix is used transposed. Ops return a status; on an
 * asynchronous device a failure may surface at the next synchronising op. */
#ifndef BATON_BACKEND_H
#define BATON_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "baton/cell_math.h"
#include "baton/recur.h"
#include "baton/optim_math.h"
#include "baton/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct baton_backend baton_backend;

typedef struct {
    const char *name;
    void (*destroy)(baton_backend *be);

    /* ---- memory: only at setup, never inside a step ---- */
    /* Out of memory: BATON_ERR_OOM and one line with `what`, the size asked, what is free (cpu:
     * MemAvailable and any address-space limit; cuda: cudaMemGetInfo) and be->alloc_hint. */
    baton_status (*alloc)(baton_backend *be, void **ptr, size_t bytes, const char *what);
    void (*free)(baton_backend *be, void *ptr);
    baton_status (*upload)(baton_backend *be, void *dst, const void *host_src, size_t bytes);
    baton_status (*download)(baton_backend *be, void *host_dst, const void *src, size_t bytes);
    baton_status (*copy)(baton_backend *be, void *dst, const void *src, size_t bytes);
    baton_status (*zero)(baton_backend *be, void *ptr, size_t bytes);
    baton_status (*sync)(baton_backend *be);

    /* ---- a step that never waits: asynchronous uploads and recorded graphs ---- */
    /* Setup only: reserves what upload_async needs for uploads of up to `bytes` (cuda: a ring of
     * pinned staging buffers). NULL where nothing is needed (cpu). */
    baton_status (*stage_reserve)(baton_backend *be, size_t bytes);
    /* Enqueues a copy of `bytes` from host src to device dst and returns without waiting for it:
     * src is first copied into reserved pinned staging, so the caller may reuse it at once. Waits
     * only when the device is a whole staging ring of uploads behind the host. */
    baton_status (*upload_async)(baton_backend *be, void *dst, const void *src, size_t bytes);
    /* Starts recording the ops that follow into a graph instead of running them (cuda: stream
     * capture). Recorded ops must not wait (no upload, download, sync). NULL: no graphs (cpu). */
    baton_status (*graph_begin)(baton_backend *be);
    /* Ends the recording: *graph is a replayable handle; nothing recorded has run yet. */
    baton_status (*graph_end)(baton_backend *be, void **graph);
    /* Enqueues one replay of graph: the recorded ops with the recorded pointers and values, reading
     * whatever device memory holds when they run. */
    baton_status (*graph_launch)(baton_backend *be, void *graph);
    /* Frees a graph. */
    void (*graph_free)(baton_backend *be, void *graph);

    /* ---- matrix products, in be->precision: bf16 rounds A and B (bf16.h), C stays fp32 ---- */
    /* C (M,N) = alpha op(A) op(B) + beta C, with op(A) (M,K) and op(B) (K,N). */
    baton_status (*gemm)(baton_backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
                         const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
    /* batch independent gemms; matrix i starts at A + i*stride_a, B + i*stride_b, C + i*stride_c. */
    baton_status (*gemm_batched)(baton_backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
                                 const float *A, int lda, int64_t stride_a, const float *B, int ldb,
                                 int64_t stride_b, float beta, float *C, int ldc, int64_t stride_c, int batch);

    /* ---- bf16 mirrors: where bf16 GEMMs read their operands (cuda; NULL on cpu, which rounds in the gemm) ---- */
    /* Setup only: gives the n floats at f a bf16 mirror. f is the start of an allocation of this
     * backend (the mirror is allocated now and freed with it) or lies inside a mirrored range (no
     * new memory; it takes precedence there). kept: the writers of f keep the mirror equal to
     * bf16(f) (the optimizer pass, producers given baton_backend_bf16_twin; uploads refresh it);
     * otherwise a GEMM converts the operand it reads into the mirror first. */
    baton_status (*bf16_mirror)(baton_backend *be, const float *f, size_t n, int kept);
    /* The bf16 element that mirrors *f, or NULL where f has no mirror. */
    uint16_t *(*bf16_twin)(baton_backend *be, const float *f);

    /* ---- fused recurrent cell, one time step of one direction (see cell_math.h) ---- */
    baton_status (*cell_forward)(baton_backend *be, baton_cell cell, const baton_cell_fwd_args *args);
    baton_status (*cell_backward)(baton_backend *be, baton_cell cell, const baton_cell_bwd_args *args);

    /* ---- whole recurrences (recur.h): a layer's time loop on the device; NULL where absent (a cpu
     * build without libxsmm) ---- */
    /* Setup: *units = the units of Hd each block owns when version v runs a layer of (cell, Hd,
     * dirs) here, or *units = 0 and `why` (a sentence, why_len bytes) where v cannot run it. */
    baton_status (*recur_plan)(baton_backend *be, baton_recur_version v, baton_cell cell, int Hd, int dirs,
                               int *units, char *why, size_t why_len);
    /* All T forward steps of both directions; a->units from recur_plan. */
    baton_status (*recur_forward)(baton_backend *be, baton_recur_version v, const baton_recur_args *a);
    /* All T backward steps of both directions, after recur_forward on the same tensors. */
    baton_status (*recur_backward)(baton_backend *be, baton_recur_version v, const baton_recur_args *a);
    /* A stack of layers as one wavefront (recur.h), forward, then backward on the same tensors;
     * units from recur_plan(BATON_RECUR_WAVEFRONT, ..., dirs = w->L). */
    baton_status (*recur_wave_forward)(baton_backend *be, const baton_recur_wave *w);
    baton_status (*recur_wave_backward)(baton_backend *be, const baton_recur_wave *w);

    /* ---- weights that stay constant for a while (decoding) ---- */
    /* params[0..n) will not change until the next call (n = 0: they may change again): the backend
     * may keep derived copies of them meanwhile (the CPU's packed panels, cpu_frozen.c). NULL where
     * a backend keeps none. */
    baton_status (*params_frozen)(baton_backend *be, const float *params, size_t n);

    /* ---- elementwise and reductions ---- */
    /* y[i] = alpha x[i] + beta y[i] for n elements (beta 0 assigns, never reads y). */
    baton_status (*axpby)(baton_backend *be, float *y, const float *x, float alpha, float beta, size_t n);
    /* out[j] += sum_i in[i*cols + j], and out2[j] += the same sums unless out2 is NULL (out2 another
     * buffer than out): bias gradients, two of them at once where they are sums of the same rows. */
    baton_status (*colsum_add)(baton_backend *be, float *out, float *out2, const float *in, int rows, int cols);
    /* *out (one float, device) = sum_i x[i]^2, accumulated in double on the host path. */
    baton_status (*sumsq)(baton_backend *be, float *out, const float *x, size_t n);
    /* y[i] = x[i] * dropout_scale(seed, purpose, *counter, i, p); the same call masks a gradient.
     * counter: one uint32 of device memory (the batch counter), read when the op runs, so that a
     * captured step draws new masks each time it is replayed. */
    baton_status (*dropout)(baton_backend *be, float *y, const float *x, size_t n, float p, uint64_t seed,
                            uint32_t purpose, const uint32_t *counter);

    /* dst[i*ld_dst + j] = src[i*ld_src + j] for rows x cols: concatenating and splitting feature
     * blocks (bridge of a bidirectional encoder, [c; h] of the attentional hidden). */
    baton_status (*copy2d)(baton_backend *be, float *dst, int ld_dst, const float *src, int ld_src, int rows,
                           int cols);
    /* y (rows, cols) += bias (cols) on every row. */
    baton_status (*add_bias)(baton_backend *be, float *y, const float *bias, int rows, int cols);
    /* y = tanh(x) for n elements (y may be x). */
    baton_status (*tanh_forward)(baton_backend *be, float *y, const float *x, size_t n);
    /* dx = dy * (1 - y^2) for n elements, y the forward output (dx may be dy). */
    baton_status (*tanh_backward)(baton_backend *be, float *dx, const float *dy, const float *y, size_t n);

    /* ---- attention ---- */
    /* p (B,T,S) = softmax over s < lengths[b] of scores (B,T,S); p = 0 for s >= lengths[b]
     * (lengths >= 1). Numerically stable (max subtracted), never NaN for finite scores. */
    baton_status (*attn_softmax_forward)(baton_backend *be, float *p, const float *scores, const int *lengths, int B,
                                         int T, int S);
    /* dscores = p * (dp - sum_s p dp) per (b, t) row; zero where p is (the masked positions). */
    baton_status (*attn_softmax_backward)(baton_backend *be, float *dscores, const float *dp, const float *p, int B,
                                          int T, int S);
    /* Bahdanau scores: scores[b,t,s] = sum_h v[h] tanh(q[t,b,h] + k[s,b,h]) for q (T,B,H)
     * (W_q h_t + b_q) and k (S,B,H) (W_k h_s). */
    baton_status (*additive_scores_forward)(baton_backend *be, float *scores, const float *q, const float *k,
                                            const float *v, int B, int T, int S, int H);
    /* Gradients of additive_scores_forward from dscores: assigns dq (T,B,H) and dk (S,B,H),
     * accumulates (+=) dv (H). Recomputes the tanh instead of storing a (B,T,S,H) tensor. */
    baton_status (*additive_scores_backward)(baton_backend *be, float *dq, float *dk, float *dv,
                                             const float *dscores, const float *q, const float *k, const float *v,
                                             int B, int T, int S, int H);

    /* ---- loss ---- */
    /* Softmax cross-entropy of logits (N,V) against targets (N), rows with target 0 ignored, label
     * smoothing eps as PyTorch's cross_entropy(label_smoothing=eps): per row
     * (1-eps)(-log p_y) + eps/V sum_v (-log p_v). Writes *loss_sum (one float, device) = the sum
     * over non-ignored rows, logp (N, may be NULL) = log p_y per row without
     * smoothing (0 for ignored rows), and dlogits (N,V) = scale * (p - q) with
     * q = (1-eps) onehot(y) + eps/V (0 rows where ignored); scale is one float of device memory, read
     * when the op runs (a captured step's tokens change per batch). dlogits may be logits, or NULL when
     * only the loss is wanted. row_loss: N floats of device scratch for backends that sum the
     * per-row losses in a second pass (CUDA); the CPU backend needs none (NULL is fine there). */
    baton_status (*xent_forward_backward)(baton_backend *be, float *loss_sum, float *logp, float *dlogits,
                                          float *row_loss,
                                          const float *logits, const int *targets, int N, int V, float eps,
                                          const float *scale);

    /* idx[i] = the column of row i's largest value (the first on ties) for x (rows, cols). */
    baton_status (*argmax_rows)(baton_backend *be, int *idx, const float *x, int rows, int cols);
    /* Greedy decoding's generator: idx[i] = argmax_v of row i of x W^T + b + mask, the first on ties, for
     * x (rows, K), W (V, K), b (V) and mask (V) or NULL; scratch (rows, V) is the op's. The ids are
     * argmax_rows' over the logits up to the fp32 rounding of near-ties: while W and b lie in the frozen
     * range (params_frozen) a backend may leave out logits that cannot be the largest (the CPU's screen,
     * cpu_screen.c). NULL where a backend has none: the caller computes the logits. */
    baton_status (*generator_argmax)(baton_backend *be, int *idx, float *scratch, const float *x, const float *w,
                                     const float *b, const float *mask, int rows, int V, int K);
    /* Beam search's view of x (rows, cols): lse[i] = log sum_j e^x[i,j] (baton_row_logsumexp) and
     * the k best of row i, best first, smaller column first on ties: val[i*k + r], idx[i*k + r].
     * 1 <= k <= min(cols, BATON_TOPK_MAX of attn_math.h). */
    baton_status (*topk_rows)(baton_backend *be, float *val, int *idx, float *lse, const float *x, int rows, int cols,
                              int k);

    /* ---- optimizer ---- */
    /* One update of n elements of the flat buffers (optim_math.h): Adam (m, v its moments) or SGD (m,
     * v NULL) as `kind` says; h (device memory: this update's rate and step) and grad_sumsq (one
     * float, device: the gradients' sum of squares for the clip) are read when the op runs, so a
     * captured update uses the current ones; params_bf16: NULL, or the parameters' bf16 mirror,
     * rewritten from the new values in the same pass; ema: NULL, or the weights' moving average,
     * moved toward the new values by h->ema in the same pass. */
    baton_status (*optim_update)(baton_backend *be, baton_opt_kind kind, const baton_optim_hyper *h, float *params,
                                 uint16_t *params_bf16, const float *grads, float *m, float *v, float *ema, size_t n,
                                 const float *grad_sumsq);

    /* ---- embeddings ---- */
    /* out[i, :] = table[ids[i], :] for n ids (out (n, dim), table (V, dim)). */
    baton_status (*embed_gather)(baton_backend *be, float *out, const int *ids, const float *table, int n,
                                 int dim);
    /* dtable[ids[i], :] += dout[i, :], in a fixed order so that results are reproducible. Where the
     * backend has embed_reserve, n must not exceed what it reserved (else BATON_ERR_INVALID naming both). */
    baton_status (*embed_scatter_add)(baton_backend *be, float *dtable, const int *ids, const float *dout, int n,
                                      int dim);
    /* Setup only: reserves what embed_scatter_add needs for up to max_n ids (cuda: its sort scratch),
     * so that no step allocates (or synchronises on a free); grows, never shrinks. NULL where
     * nothing is needed (cpu); call it through baton_backend_embed_reserve. */
    baton_status (*embed_reserve)(baton_backend *be, int max_n);

    /* ---- measurement (benchmarks) ---- */
    /* Records time mark `slot` (0 .. BATON_TIMER_SLOTS-1) in the device's queue: a CUDA event, so
     * the interval is the device's own time; the host clock on the cpu. */
    baton_status (*timer_mark)(baton_backend *be, int slot);
    /* *ms = time from mark a to mark b, waiting for b to complete. */
    baton_status (*timer_elapsed)(baton_backend *be, int a, int b, float *ms);
    /* Memory this backend holds: cuda, device bytes in use beyond what was in use when the
     * backend was created (cuBLAS and cuDNN workspaces included); cpu, the process's peak resident set. */
    baton_status (*memory_used)(baton_backend *be, size_t *bytes);
} baton_ops;

#define BATON_TIMER_SLOTS 8

/* The arithmetic of matrix products (design.md, "Precision"). Everything else is fp32 in every mode. */
typedef enum {
    BATON_PRECISION_FP32, /* fp32 operands and accumulation: GPU and CPU compare to rounding */
    BATON_PRECISION_TF32, /* cuda: TF32 tensor cores on fp32 operands (the CPU computes fp32) */
    BATON_PRECISION_BF16, /* operands rounded to bf16 (nearest even), fp32 accumulation, on every backend */
} baton_precision;

/* Versions of the parts that have more than one, selectable for benchmarks (--kernels). 0 is
 * each part's plain first version, kept beside the newer ones; the defaults are the newest, but
 * for the loss (below). */
typedef struct {
    int colsum; /* bias-gradient column sums: 0 plain (a thread per column), 1 tiled (kernels/elementwise.cu) */
    int dv;     /* additive attention's dv: 0 plain (a thread per unit), 1 tiled (kernels/additive_attn.cu) */
    int embed;  /* embedding backward: 0 sorted runs, 1 sorted runs with long runs split (kernels/embedding.cu) */
    int loss;   /* generator + loss: 0 logits materialised, 1 fused in row chunks (src/model/generator.c);
                 * plain stays the default: docs/perf-model.md models fused 0.95x on gnmt (W_out re-read
                 * per chunk) though 1.05-1.09x on tiny and base, and half the memory for the logits */
    int step;   /* training step: 0 eager launches, 1 one CUDA Graph per batch shape (src/train/trainer.c) */
    int recur;  /* --rnn-impl persistent's sums in bf16: 0 simt (fp32 FMAs on CUDA cores), 1 tensor
                 * (bf16 warp matrix operations, kernels/recurrence.cu); fp32 and tf32 always run simt */
    int cpurnn; /* --rnn-impl fused on the cpu: 0 sgemm (per step an OpenBLAS sgemm, which re-packs W_hh,
                 * and the cell op), 1 packed (the packed recurrence, recur.h, where the build has libxsmm) */
    int cpubf16; /* bf16 GEMMs on the cpu: 0 round (operands rounded to fp32 buffers, then OpenBLAS sgemm:
                  * exact, any CPU), 1 dnnl (oneDNN's bf16 matmul, src/cpu/cpu_dnnl.c, where the build has
                  * oneDNN and the CPU AVX512-BF16 or AMX; else round) */
    int greedy;  /* greedy decoding's generator: 0 full (all logits, then argmax_rows), 1 screened (the
                  * backend's generator_argmax where it has one: cpu_screen.c in fp32 with libxsmm; else full) */
    int decin;   /* layer 0's input projections of encoder and decoder while a decoder's weights are fixed: 0
                  * product (E y times W_ih), 1 table (E W_ih^T made once, rows gathered: src/decode/table.c) */
    int beammem; /* beam search's memory with dot or general scores: 0 plain (each row's query times W_a and its
                  * context times W_c's context half, at every step), 1 projected (W_a m and W_c[:, :H] m made
                  * once per batch, gathered with the memory: baton_s2s_project_memory) */
} baton_versions;

/* A device: its ops and its private state (handles, streams, workspaces). */
struct baton_backend {
    const baton_ops *ops;
    void *impl;
    int threads;               /* host threads the backend may use (cpu) */
    baton_precision precision; /* of every gemm of this backend */
    baton_versions versions;   /* what the model, trainer and kernels run */
    char description[320];     /* what it runs on, for logs: "cuda:0 NVIDIA H200 (132 SMs, 140.4 GiB)" */
    const char *alloc_hint;    /* set-up context that an alloc failure adds to its line, after the size asked
                                * and what is free (the trainer: what it needs and the options that set it);
                                * NULL: none */
};

/* Options of baton_backend_create beyond the name. */
typedef struct {
    int threads;               /* cpu: threads, <= 0 for all cores */
    baton_precision precision; /* fp32 by default: GPU-vs-CPU checks stay tight */
    const char *versions;      /* "part=version,..." (baton_versions_parse); NULL: the defaults */
} baton_backend_options;

/* *p = the precision named fp32, tf32 or bf16 (else BATON_ERR_INVALID naming `what` and the value). */
baton_status baton_precision_parse(baton_precision *p, const char *name, const char *what);

/* "fp32", "tf32" or "bf16". */
const char *baton_precision_name(baton_precision p);

/* *v = the defaults, then each "part=version" of the comma-separated spec (NULL or "" keeps the
 * defaults): colsum=plain|tiled, dv=plain|tiled, embed=plain|split, loss=plain|fused, step=eager|graph,
 * recur=simt|tensor, cpurnn=sgemm|packed, cpubf16=round|dnnl, greedy=full|screened, decin=product|table,
 * beammem=plain|projected. */
baton_status baton_versions_parse(baton_versions *v, const char *spec);

/* Creates the backend named `name`: "cpu", "cuda" where built, or "auto" (cuda when a GPU is usable,
 * else cpu). Fills be->description. */
baton_status baton_backend_create_ex(baton_backend *be, const char *name, const baton_backend_options *opt);

/* baton_backend_create_ex with default options and `threads` (<= 0: all cores). */
baton_status baton_backend_create(baton_backend *be, const char *name, int threads);

/* 1 when this build has CUDA and a real CUDA device is usable now (0 in the emulation build, whose
 * emulated device runs only when named: --device cuda). */
int baton_backend_gpu_usable(void);

/* Makes GPU local_rank (modulo the GPUs here) the one later CUDA backends of this process use:
 * data-parallel ranks on one machine take one GPU each. note: "GPU 1 of 8", or "no GPU". */
baton_status baton_backend_use_gpu(int local_rank, int local_size, char *note, size_t n);

/* What host memory is free, as words for an out-of-memory line: "22.6 GiB available (MemAvailable)",
 * and, under an address-space limit, "; the address-space limit (ulimit -v) is 4.0 GiB, 2.9 GiB of it left". */
void baton_host_memory_free(char *buf, size_t n);

/* A size in words for such a line: "1.5 GiB", "58.0 MiB", "512 KiB", "100 bytes". */
void baton_format_bytes(char *buf, size_t n, double bytes);

/* Releases what baton_backend_create acquired. */
void baton_backend_destroy(baton_backend *be);

/* Setup: be->ops->embed_reserve(be, max_n) where the backend has one, else nothing to do (BATON_OK). */
baton_status baton_backend_embed_reserve(baton_backend *be, int max_n);

/* Setup: be->ops->stage_reserve(be, bytes) where the backend has one, else nothing to do (BATON_OK). */
baton_status baton_backend_stage_reserve(baton_backend *be, size_t bytes);

/* Setup: be->ops->bf16_mirror(be, f, n, kept) where the backend keeps mirrors and computes in
 * bf16; else nothing to do (BATON_OK). */
baton_status baton_backend_bf16_mirror(baton_backend *be, const float *f, size_t n, int kept);

/* be->ops->bf16_twin(be, f) where the backend keeps mirrors and computes in bf16, else NULL. */
uint16_t *baton_backend_bf16_twin(baton_backend *be, const float *f);

/* Comma-separated names of the backends this build contains. */
const char *baton_backend_list(void);

/* Creates the CPU reference backend (OpenBLAS sgemm and C loops). */
baton_status baton_cpu_backend_create(baton_backend *be, int threads);

#ifdef __cplusplus
}
#endif

#endif
