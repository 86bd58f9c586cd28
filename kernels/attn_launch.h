/* attn_launch.h: the C-callable launchers of the attention-softmax kernels (attn_softmax.cu), of
 * the fused label-smoothed cross-entropy (softmax_xent.cu) and of Bahdanau scores (additive_attn.cu).
 *
 * Each launcher implements the op of the same name in include/baton/backend.h on device memory:
 * it checks its arguments (sizes, NULL pointers; not the contents of device arrays, which it
 * cannot read without a copy), enqueues its kernel(s) on `stream`, checks the launch, and does
 * not synchronise. Returns BATON_OK, BATON_ERR_INVALID (message on stderr) or BATON_ERR_CUDA.
 * All pointers are device pointers. */
#ifndef BATON_ATTN_LAUNCH_H
#define BATON_ATTN_LAUNCH_H

#include <stdint.h>

#include <cuda_runtime_api.h>

#include "baton/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* p (B,T,S) = softmax over s < lengths[b] of scores (B,T,S), p = 0 for s >= lengths[b]; lengths (B)
 * must be in 1..S (a device kernel cannot report it: a length outside is clamped to 1..S, so it
 * cannot fault). p may be scores. */
baton_status baton_kernel_attn_softmax_forward(float *p, const float *scores, const int *lengths, int B, int T, int S,
                                               cudaStream_t stream);

/* dscores (B,T,S) = p (dp - sum_s p dp) per row, exactly 0 where p is 0. dscores may be dp. */
baton_status baton_kernel_attn_softmax_backward(float *dscores, const float *dp, const float *p, int B, int T, int S,
                                                cudaStream_t stream);

/* xent_forward_backward of backend.h for logits (N,V), targets (N) in 0 (ignored)..V-1: *loss_sum
 * (one float) = sum of the per-row smoothed losses, logp (N, may be NULL) = log p_y, dlogits (N,V,
 * may be NULL or logits) = *scale (p - q), scale one device float read by the kernel; dlogits16
 * (N,V, may be NULL) = bf16 rounding of dlogits, written beside it. row_loss is caller-provided
 * scratch of N floats (required when N > 0): the per-row losses, summed afterwards in a fixed
 * order by a second kernel so that *loss_sum is the same bit for bit on every run. A target
 * outside 0..V-1 makes that row's loss, logp and dlogits NaN (so the sum shows it) instead of
 * reading out of bounds. */
baton_status baton_kernel_xent_forward_backward(float *loss_sum, float *logp, float *dlogits, uint16_t *dlogits16,
                                                float *row_loss, const float *logits, const int *targets, int N,
                                                int V, float eps, const float *scale, cudaStream_t stream);

/* topk_rows of backend.h for x (rows, cols): lse (rows), the k best of each row, best first and the
 * smaller column first on ties: val, idx (rows, k). 1 <= k <= min(cols, BATON_TOPK_MAX). */
baton_status baton_kernel_topk_rows(float *val, int *idx, float *lse, const float *x, int rows, int cols, int k,
                                    cudaStream_t stream);

/* Bahdanau scores (B,T,S) = sum_h v tanh(q (T,B,H) + k (S,B,H)); see additive_attn.cu. */
baton_status baton_kernel_additive_forward(float *scores, const float *q, const float *k, const float *v, int B, int T,
                                           int S, int H, cudaStream_t stream);

/* Versions of additive dv (the values of baton_versions.dv, include/baton/backend.h). */
#define BATON_DV_PLAIN 0 /* one thread per unit h over all (b, t, s): H threads */
#define BATON_DV_TILED 1 /* blocks of 8 units x up to 128 (b, t) groups, a fixed tree per unit */

/* Their gradients from dscores: assigns dq (T,B,H) and dk (S,B,H), accumulates dv (H) by the
 * dv_version above (else BATON_ERR_INVALID); deterministic, the same bits on every run of a
 * version; the versions agree to a float rounding step (see additive_attn.cu). 3 launches. */
baton_status baton_kernel_additive_backward(float *dq, float *dk, float *dv, const float *dscores, const float *q,
                                            const float *k, const float *v, int B, int T, int S, int H,
                                            int dv_version, cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
