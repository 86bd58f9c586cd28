/* misc_launch.h: the C-callable launchers of the non-recurrent CUDA kernels: elementwise ops
 * (kernels/elementwise.cu), the optimizer update and sum of squares (kernels/optim.cu) and the
 * embedding gather / scatter-add (kernels/embedding.cu).
 *
 * Each launcher computes what the op of the same name in include/baton/backend.h computes (the
 * CPU reference is src/cpu/cpu_ops.c / cpu_optim.c), checks its arguments (BATON_ERR_INVALID with
 * a message naming the launcher), enqueues its kernel(s) on `stream`, checks the launch
 * (BATON_ERR_CUDA) and does not synchronise. All pointers are device pointers; sizes of 0 launch
 * nothing and return BATON_OK. Scratch memory, where a launcher needs any, is the caller's,
 * allocated once at setup; its size is given below.
 *
 * Status: compiled for sm_80 and sm_90, never yet run on a GPU; validated only by
 * tests/gpu/test_misc_gpu.c on a GPU. */
#ifndef BATON_MISC_LAUNCH_H
#define BATON_MISC_LAUNCH_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "baton/optim_math.h"
#include "baton/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Threads per block of the elementwise kernels. */
#define BATON_ELEM_THREADS 256

/* Blocks of the first pass of baton_kernel_sumsq, and so the doubles of its scratch. */
#define BATON_SUMSQ_BLOCKS 256

/* ---- elementwise (kernels/elementwise.cu) ---- */

/* y[i] = alpha x[i] + beta y[i] for n elements; beta == 0 assigns without reading y. */
baton_status baton_kernel_axpby(float *y, const float *x, float alpha, float beta, size_t n, cudaStream_t stream);

/* y[i] = x[i] * baton_rng_dropout_scale(seed, purpose, *counter, i, p), 0 <= p < 1, counter one device uint32
 * read by the kernel; masks bit-identical to the CPU's. */
baton_status baton_kernel_dropout(float *y, const float *x, size_t n, float p, uint64_t seed, uint32_t purpose,
                                  const uint32_t *counter, cudaStream_t stream);

/* dst[i*ld_dst + j] = src[i*ld_src + j] for i < rows, j < cols (lds >= cols). */
baton_status baton_kernel_copy2d(float *dst, int ld_dst, const float *src, int ld_src, int rows, int cols,
                                 cudaStream_t stream);

/* y (rows, cols) += bias (cols) on every row. */
baton_status baton_kernel_add_bias(float *y, const float *bias, int rows, int cols, cudaStream_t stream);

/* y[i] = baton_tanh(x[i]) for n elements (y may be x). */
baton_status baton_kernel_tanh_forward(float *y, const float *x, size_t n, cudaStream_t stream);

/* dx[i] = baton_tanh_grad(dy[i], y[i]) = dy (1 - y^2) for n elements (dx may be dy). */
baton_status baton_kernel_tanh_backward(float *dx, const float *dy, const float *y, size_t n, cudaStream_t stream);

/* Versions of colsum_add (the values of baton_versions.colsum, include/baton/backend.h). */
#define BATON_COLSUM_PLAIN 0 /* a thread per column, rows in order: the CPU's bits */
#define BATON_COLSUM_TILED 1 /* blocks of 32 columns x up to 32 row groups, a fixed tree per column */

/* out[j] += sum_i in[i*cols + j] for in (rows, cols), and out2[j] += the same float unless out2 is
 * NULL (out2 must not be out); summed in double by `version` above (else BATON_ERR_INVALID). One
 * launch, no scratch; deterministic: the same bits on every run of a version. Plain has the CPU's
 * bits; tiled differs from them by at most a float rounding step (see elementwise.cu). */
baton_status baton_kernel_colsum_add(float *out, float *out2, const float *in, int rows, int cols, int version,
                                     cudaStream_t stream);

/* idx[i] = the first column of row i's largest value for x (rows, cols), cols >= 1 (finite inputs). */
baton_status baton_kernel_argmax_rows(int *idx, const float *x, int rows, int cols, cudaStream_t stream);

/* ---- optimizer (kernels/optim.cu) ---- */

/* *out (one device float) = sum_i x[i]^2 in double, deterministic two-pass reduction;
 * scratch: BATON_SUMSQ_BLOCKS doubles of device memory (the per-block partial sums). */
baton_status baton_kernel_sumsq(float *out, const float *x, size_t n, double *scratch, cudaStream_t stream);

/* One Adam / SGD update (kind) of n elements (optim_math.h); m, v NULL for SGD; h (this update's rate and
 * step) and grad_sumsq: device memory read by the kernel; params_bf16 NULL or the parameters' bf16
 * mirror, written from the updated values (bf16.h) in the same pass; ema NULL or the weights' moving
 * average, moved by h->ema in the same pass. */
baton_status baton_kernel_optim_update(baton_opt_kind kind, const baton_optim_hyper *h, float *params,
                                       uint16_t *params_bf16, const float *grads, float *m, float *v, float *ema, size_t n,
                                       const float *grad_sumsq, cudaStream_t stream);

/* ---- embeddings (kernels/embedding.cu) ---- */

/* out[i, :] = table[ids[i], :] for n ids; out (n, dim), table (V, dim), ids in [0, V) (not checked on the device). */
baton_status baton_kernel_embed_gather(float *out, const int *ids, const float *table, int n, int dim,
                                       cudaStream_t stream);

/* dtable[ids[i], :] += dout[i, :], each element's sum taken in index order (deterministic; same bits as the CPU).
 * v1: no scratch, O(n^2 dim) work in the worst case; the plain reference (see embedding.cu). */
baton_status baton_kernel_embed_scatter_add_v1(float *dtable, const int *ids, const float *dout, int n, int dim,
                                               cudaStream_t stream);

/* Versions of the sorted embedding backward (the values of baton_versions.embed, include/baton/backend.h). */
#define BATON_EMBED_PLAIN 0 /* "sorted segments": a thread per (run of equal ids, column) */
#define BATON_EMBED_SPLIT 1 /* runs longer than BATON_EMBED_SPLIT_RUN ids split over 32 row groups */
#define BATON_EMBED_SPLIT_RUN 128 /* split: longer runs are split; shorter ones summed as plain (CPU bits) */

/* Bytes of device scratch baton_kernel_embed_scatter_add_sorted needs for n ids (either version:
 * the sort's keys, positions and CUB's temporary storage; 12 bytes an id plus CUB's). */
baton_status baton_kernel_embed_scatter_scratch_bytes(size_t *bytes, int n);

/* The same sums as v1 by a stable sort of the ids and one sum per run: O(n log n + n dim) work.
 * version: BATON_EMBED_PLAIN sums every run serially in index order, the CPU's bits;
 * BATON_EMBED_SPLIT sums runs of more than BATON_EMBED_SPLIT_RUN ids in 32 strided parts, a fixed tree
 * (deterministic, within float rounding of the CPU; see embedding.cu). scratch: scratch_bytes >=
 * baton_kernel_embed_scatter_scratch_bytes(n), 256-byte aligned; nothing is allocated here. */
baton_status baton_kernel_embed_scatter_add_sorted(float *dtable, const int *ids, const float *dout, int n, int dim,
                                                   int version, void *scratch, size_t scratch_bytes,
                                                   cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
