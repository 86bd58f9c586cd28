/* attn_softmax.cu: masked attention softmax over the source positions, forward and backward.
 *
 * Computes what attn_softmax_forward / attn_softmax_backward of include/baton/backend.h define,
 * with the element functions of include/baton/attn_math.h (baton_softmax_term,
 * baton_softmax_grad) for every element, so the exp and the gradient formula are the CPU
 * backend's own:
 *   forward   p[r,s] = e^(x[r,s] - m_r) / sum_{s'<len} e^(x[r,s'] - m_r) for s < len = lengths[b],
 *             p[r,s] = 0 for len <= s < S, m_r the maximum over s < len;
 *   backward  ds[r,s] = p[r,s] (dp[r,s] - sum_s' p dp), exactly 0 where p is 0 (masked terms are
 *             skipped, not multiplied, so NaN in dp there does not leak in).
 *
 * Layout: scores, p, dp, dscores (B,T,S) row-major, row r = b*T + t; lengths (B) int, on device.
 *
 * Launch shape: one block per (b,t) row (grid B*T), blockDim the smallest of 32..256 (multiple
 * of 32) covering S; thread k takes s = k, k + blockDim, ... (coalesced). The max and the sums
 * are block reductions (warp shuffles, then one warp over the per-warp results); each index is
 * read and written by the same thread, after every reduction over the row has finished, so the
 * output may alias the input as the CPU row functions allow. The reduction tree depends only
 * on S, so results are the same bit for bit on every run.
 *
 * Sums are double from each thread's partial onward: the CPU sums float blocks of 256 into
 * double; here a thread holds at most S/256 terms, so double costs nothing measurable for a
 * memory-bound kernel and keeps the GPU at least as accurate as the reference it is tested
 * against.
 *
 * Versions:
 *   v1: one block per row, exp recomputed in the write pass instead of stored and rescaled.
 *
 * Status: compiled for sm_80 and sm_90, never run on a GPU; validated only by
 * tests/gpu/test_attn_gpu.c on a GPU, against the CPU backend. */
#include "kernels/device.cuh"
#include <limits.h>
#include <math.h>

#include "baton/attn_math.h"
#include "baton/cuda_check.h"
#include "kernels/attn_launch.h"
#include "kernels/row_reduce.cuh"

#define ATTN_MAX_THREADS 256

static __global__ void __launch_bounds__(ATTN_MAX_THREADS)
    attn_softmax_fwd_kernel(float *p, const float *x, const int *lengths, int T, int S)
{
    BATON_SHARED(float, shf, 32);
    BATON_SHARED(double, shd, 32);
    size_t off = (size_t)blockIdx.x * (size_t)S;
    x += off;
    p += off;
    int len = lengths[blockIdx.x / T];
    /* the launcher cannot read device lengths; clamping keeps a bad one from faulting */
    len = len < 1 ? 1 : (len > S ? S : len);

    float m = -INFINITY;
    for (int s = threadIdx.x; s < len; s += blockDim.x)
        m = pick_max(m, x[s]);
    m = block_max(m, shf);

    double part = 0.0;
    for (int s = threadIdx.x; s < len; s += blockDim.x)
        part += baton_softmax_term(x[s], m);
    /* sum >= 1 (the maximum's own term), so the reciprocal is finite */
    float inv = (float)(1.0 / block_sum(part, shd));

    for (int s = threadIdx.x; s < S; s += blockDim.x)
        p[s] = s < len ? baton_softmax_term(x[s], m) * inv : 0.0f;
}

static __global__ void __launch_bounds__(ATTN_MAX_THREADS)
    attn_softmax_bwd_kernel(float *ds, const float *dp, const float *p, int S)
{
    BATON_SHARED(double, shd, 32);
    size_t off = (size_t)blockIdx.x * (size_t)S;
    ds += off;
    dp += off;
    p += off;

    double part = 0.0;
    for (int s = threadIdx.x; s < S; s += blockDim.x) {
        float ps = p[s];
        if (ps != 0.0f)
            part += ps * dp[s];
    }
    float dot = (float)block_sum(part, shd);

    for (int s = threadIdx.x; s < S; s += blockDim.x)
        ds[s] = baton_softmax_grad(p[s], dp[s], dot);
}

/* Threads per row: a multiple of 32 (the reductions need whole warps), no more than S needs. */
static unsigned attn_threads(int S)
{
    unsigned t = 32;
    while (t < ATTN_MAX_THREADS && (int)t < S)
        t *= 2;
    return t;
}

/* Checks sizes and sets *rows = B*T (0: nothing to launch). */
static baton_status attn_rows(unsigned *rows, int B, int T, int S, const char *who)
{
    BATON_REQUIRE(B >= 0 && T >= 0 && S >= 1, "%s: B %d, T %d, S %d, expected B, T >= 0, S >= 1", who, B, T, S);
    long long r = (long long)B * T;
    BATON_REQUIRE(r <= INT_MAX, "%s: B*T = %lld rows exceed the grid limit %d", who, r, INT_MAX);
    *rows = (unsigned)r;
    return BATON_OK;
}

extern "C" baton_status baton_kernel_attn_softmax_forward(float *p, const float *scores, const int *lengths, int B,
                                                          int T, int S, cudaStream_t stream)
{
    const char *who = "baton_kernel_attn_softmax_forward";
    unsigned rows = 0;
    BATON_TRY(attn_rows(&rows, B, T, S, who));
    if (rows == 0)
        return BATON_OK;
    BATON_REQUIRE(p && scores && lengths, "%s: p %p, scores %p, lengths %p: expected all set", who, (void *)p,
                  (const void *)scores, (const void *)lengths);
    BATON_LAUNCH(rows, attn_threads(S), 0, stream, attn_softmax_fwd_kernel)(p, scores, lengths, T, S);
    BATON_CUDA_CHECK_LAUNCH();
    return BATON_OK;
}

extern "C" baton_status baton_kernel_attn_softmax_backward(float *dscores, const float *dp, const float *p, int B,
                                                           int T, int S, cudaStream_t stream)
{
    const char *who = "baton_kernel_attn_softmax_backward";
    unsigned rows = 0;
    BATON_TRY(attn_rows(&rows, B, T, S, who));
    if (rows == 0)
        return BATON_OK;
    BATON_REQUIRE(dscores && dp && p, "%s: dscores %p, dp %p, p %p: expected all set", who, (void *)dscores,
                  (const void *)dp, (const void *)p);
    BATON_LAUNCH(rows, attn_threads(S), 0, stream, attn_softmax_bwd_kernel)(dscores, dp, p, S);
    BATON_CUDA_CHECK_LAUNCH();
    return BATON_OK;
}
