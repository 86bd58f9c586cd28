/* softmax_xent.cu: fused softmax + label-smoothed cross-entropy, loss and logit gradient; and
 * beam search's row top-k with the row's log-sum-exp (topk_rows, at the end of the file).
 *
 * Computes what xent_forward_backward of include/baton/backend.h defines, with the element
 * functions of include/baton/attn_math.h (baton_softmax_term, baton_xent_loss, baton_xent_grad),
 * so the exp and the assembly of the loss from non-negative parts are the CPU backend's own. Per
 * row i with target y = targets[i] (BATON_XENT_IGNORE = 0: ignored):
 *   m = max_v z_v, sum_e = sum_v e^(z_v - m), sum_mz = sum_v (m - z_v);
 *   row loss = baton_xent_loss(log sum_e, m - z_y, sum_mz / V, eps), logp[i] = (z_y - m) - log sum_e,
 *   dlogits[i,v] = scale (e^(z_v - m) / sum_e - q_v), q_v = eps/V + (1-eps)[v == y];
 *   an ignored row: loss 0, logp 0, dlogits row 0.
 * then *loss_sum = sum_i row loss. dlogits16 (optional): dlogits' bf16 rounding written beside it,
 * the operand of the generator's two backward GEMMs in bf16 precision (no conversion pass then).
 *
 * Layout: logits, dlogits (N,V) row-major; targets (N) int, logp (N), row_loss (N, caller scratch),
 * loss_sum (1); all on device.
 *
 * Launch shape: kernel 1, one block per row (grid N), blockDim the smallest of 32..1024 (multiple
 * of 32) covering V; thread k takes v = k, k + blockDim, ... (coalesced). Three passes over the
 * row: max, the two sums (block reductions in double), then the gradient, recomputing the exp
 * (one more exp per logit instead of a (N,V) temporary or a second read of stored terms). Each
 * index is read and written by the same thread after the row's reductions have finished, so
 * dlogits may be logits. Kernel 2, one block, sums row_loss in a fixed order (per-thread strided
 * sums, then a fixed tree, in double), so loss_sum does not depend on scheduling the way an
 * atomicAdd per row would.
 *
 * Versions:
 *   v1: one block per row; a separate one-block kernel for the deterministic loss sum.
 *
 * Status: compiled for sm_80 and sm_90, never run on a GPU; validated only by
 * tests/gpu/test_attn_gpu.c on a GPU, against the CPU backend. */
#include "kernels/device.cuh"
#include <math.h>

#include "baton/attn_math.h"
#include "baton/bf16.h"
#include "baton/cuda_check.h"
#include "kernels/attn_launch.h"
#include "kernels/row_reduce.cuh"

#define XENT_MAX_THREADS 1024
#define XENT_SUM_THREADS 256

static __global__ void __launch_bounds__(XENT_MAX_THREADS)
    xent_row_kernel(float *row_loss, float *logp, float *d, uint16_t *d16, const float *z, const int *targets, int V,
                    float eps, const float *scale_at)
{
    BATON_SHARED(float, shf, 32);
    BATON_SHARED(double, shd, 32);
    int i = blockIdx.x;
    size_t off = (size_t)i * (size_t)V;
    z += off;
    if (d)
        d += off;
    if (d16)
        d16 += off;
    int y = targets[i];

    if (y == BATON_XENT_IGNORE || y < 0 || y >= V) {
        /* out of range cannot be reported from here: NaN makes it visible in the loss sum */
        float fill = y == BATON_XENT_IGNORE ? 0.0f : NAN;
        if (d)
            for (int v = threadIdx.x; v < V; v += blockDim.x) {
                d[v] = fill;
                if (d16)
                    d16[v] = baton_bf16_from_f32(fill);
            }
        if (threadIdx.x == 0) {
            row_loss[i] = fill;
            if (logp)
                logp[i] = fill;
        }
        return;
    }

    float m = -INFINITY;
    for (int v = threadIdx.x; v < V; v += blockDim.x)
        m = pick_max(m, z[v]);
    m = block_max(m, shf);
    float zy = z[y]; /* every thread reads it before any thread writes d, which may be z */

    double pe = 0.0, pz = 0.0;
    for (int v = threadIdx.x; v < V; v += blockDim.x) {
        float zv = z[v];
        pe += baton_softmax_term(zv, m);
        pz += m - zv;
    }
    double sum_e = block_sum(pe, shd);
    double sum_mz = block_sum(pz, shd);

    float log_sum = logf((float)sum_e);
    if (threadIdx.x == 0) {
        row_loss[i] = baton_xent_loss(log_sum, m - zy, (float)(sum_mz / V), eps);
        if (logp)
            logp[i] = (zy - m) - log_sum;
    }
    if (d) {
        float inv = (float)(1.0 / sum_e), u = eps / (float)V, keep = 1.0f - eps, scale = *scale_at;
        for (int v = threadIdx.x; v < V; v += blockDim.x) {
            float g = baton_xent_grad(baton_softmax_term(z[v], m), inv, u, keep, v == y, scale);
            d[v] = g;
            if (d16)
                d16[v] = baton_bf16_from_f32(g);
        }
    }
}

static __global__ void __launch_bounds__(XENT_SUM_THREADS) xent_sum_kernel(float *loss_sum, const float *row_loss, int N)
{
    BATON_SHARED(double, shd, 32);
    double part = 0.0;
    for (int i = threadIdx.x; i < N; i += blockDim.x)
        part += row_loss[i];
    double total = block_sum(part, shd);
    if (threadIdx.x == 0)
        *loss_sum = (float)total;
}

/* Threads per row: a multiple of 32 (the reductions need whole warps), no more than V needs. */
static unsigned xent_threads(int V)
{
    unsigned t = 32;
    while (t < XENT_MAX_THREADS && (int)t < V)
        t *= 2;
    return t;
}

extern "C" baton_status baton_kernel_xent_forward_backward(float *loss_sum, float *logp, float *dlogits,
                                                           uint16_t *dlogits16, float *row_loss, const float *logits,
                                                           const int *targets,
                                                           int N, int V, float eps, const float *scale,
                                                           cudaStream_t stream)
{
    const char *who = "baton_kernel_xent_forward_backward";
    BATON_REQUIRE(N >= 0 && V >= 1, "%s: N %d, V %d, expected N >= 0, V >= 1", who, N, V);
    BATON_REQUIRE(eps >= 0.0f && eps <= 1.0f, "%s: label smoothing %g, expected 0 <= eps <= 1", who, (double)eps);
    BATON_REQUIRE(loss_sum != NULL, "%s: loss_sum is NULL", who);
    BATON_REQUIRE(scale || !dlogits, "%s: scale is NULL but dlogits is wanted", who);
    BATON_REQUIRE(dlogits || !dlogits16, "%s: a bf16 copy of dlogits without dlogits", who);
    if (N > 0) {
        BATON_REQUIRE(logits && targets && row_loss, "%s: logits %p, targets %p, row_loss %p: expected all set", who,
                      (const void *)logits, (const void *)targets, (void *)row_loss);
        BATON_LAUNCH((unsigned)N, xent_threads(V), 0, stream, xent_row_kernel)(row_loss, logp, dlogits, dlogits16,
                                                                               logits, targets, V, eps, scale);
        BATON_CUDA_CHECK_LAUNCH();
    }
    /* launched for N = 0 too, so that *loss_sum is written (0) as the CPU op writes it */
    BATON_LAUNCH(1, XENT_SUM_THREADS, 0, stream, xent_sum_kernel)(loss_sum, row_loss, N);
    BATON_CUDA_CHECK_LAUNCH();
    return BATON_OK;
}

/* ---- topk_rows: beam search's k best logits of a row and its log-sum-exp ----
 * One block per row (as the cross-entropy, the smallest power of two >= 32 covering the row, at
 * most 1024 threads). lse: block max, then the block's double sum of baton_softmax_term. The top
 * k, version "plain": k rounds; round r is a block-wide arg-best (baton_topk_before) over the
 * entries that rank after round r-1's pick, so each round reads the row once (k reads of the row;
 * for a beam of 5 over 32k logits, 160k loads per row from L2: small beside the generator GEMM
 * that wrote them). Ties pick the smaller column, as the CPU's insertion does. */

/* The better of two (value, column) candidates; column -1 is "none" and loses to any other. */
static __device__ __forceinline__ void topk_pick(float *v, int *j, float ov, int oj)
{
    if (oj >= 0 && (*j < 0 || baton_topk_before(ov, oj, *v, *j))) {
        *v = ov;
        *j = oj;
    }
}

/* Block-wide best candidate; every thread gets it. shv, shj hold 32 entries each. */
static __device__ void topk_block_best(float *v, int *j, float *shv, int *shj)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1)
        topk_pick(v, j, __shfl_xor_sync(0xffffffffu, *v, o), __shfl_xor_sync(0xffffffffu, *j, o));
    if (lane == 0)
        shv[warp] = *v, shj[warp] = *j;
    __syncthreads();
    if (warp == 0) {
        *v = lane < nw ? shv[lane] : 0.0f;
        *j = lane < nw ? shj[lane] : -1;
        for (int o = 16; o > 0; o >>= 1)
            topk_pick(v, j, __shfl_xor_sync(0xffffffffu, *v, o), __shfl_xor_sync(0xffffffffu, *j, o));
        if (lane == 0)
            shv[0] = *v, shj[0] = *j;
    }
    __syncthreads();
    *v = shv[0];
    *j = shj[0];
    __syncthreads(); /* shv, shj are reused by the next round */
}

static __global__ void __launch_bounds__(XENT_MAX_THREADS)
    topk_rows_kernel(float *val, int *idx, float *lse, const float *x, int cols, int k)
{
    BATON_SHARED(float, shf, 32);
    BATON_SHARED(double, shd, 32);
    BATON_SHARED(int, shj, 32);
    int i = blockIdx.x;
    const float *row = x + (size_t)i * (size_t)cols;
    float m = -INFINITY;
    for (int c = threadIdx.x; c < cols; c += blockDim.x)
        m = pick_max(m, row[c]);
    m = block_max(m, shf);
    double part = 0.0;
    for (int c = threadIdx.x; c < cols; c += blockDim.x)
        part += baton_softmax_term(row[c], m);
    double sum = block_sum(part, shd);
    if (threadIdx.x == 0)
        lse[i] = m + logf((float)sum);
    float prev_v = INFINITY;
    int prev_j = -1; /* round 0: everything ranks after "nothing yet" */
    for (int r = 0; r < k; r++) {
        float bv = 0.0f;
        int bj = -1;
        for (int c = threadIdx.x; c < cols; c += blockDim.x)
            if (prev_j < 0 || baton_topk_before(prev_v, prev_j, row[c], c))
                topk_pick(&bv, &bj, row[c], c);
        topk_block_best(&bv, &bj, shf, shj);
        if (threadIdx.x == 0)
            val[(size_t)i * k + r] = bv, idx[(size_t)i * k + r] = bj;
        prev_v = bv, prev_j = bj;
    }
}

extern "C" baton_status baton_kernel_topk_rows(float *val, int *idx, float *lse, const float *x, int rows, int cols,
                                               int k, cudaStream_t stream)
{
    const char *who = "baton_kernel_topk_rows";
    BATON_REQUIRE(rows >= 0 && k >= 1 && k <= cols && k <= BATON_TOPK_MAX,
                  "%s: rows %d, cols %d, k %d: expected rows >= 0 and 1 <= k <= min(cols, %d)", who, rows, cols, k,
                  BATON_TOPK_MAX);
    if (rows == 0)
        return BATON_OK;
    BATON_REQUIRE(val && idx && lse && x, "%s: NULL pointer (val %p, idx %p, lse %p, x %p)", who, (void *)val,
                  (void *)idx, (void *)lse, (const void *)x);
    BATON_LAUNCH((unsigned)rows, xent_threads(cols), 0, stream, topk_rows_kernel)(val, idx, lse, x, cols, k);
    BATON_CUDA_CHECK_LAUNCH();
    return BATON_OK;
}
