/* attn_math.h: the per-row and per-element math of the attention ops (masked softmax, Bahdanau
 * scores) and of the label-smoothed cross-entropy, shared by the CPU backend and the CUDA kernels
 * (every function is BATON_HD), as cell_math.h is for the recurrent cells.
 *
 * Two levels: element functions (one exp, one gradient entry, one combination of row
 * statistics), which a kernel that reduces a row across a block or warp calls per thread, and
 * whole-row functions built from them, which the CPU backend calls per row (and a
 * one-thread-per-row kernel could too). A row function reads every input of an index before it
 * writes that index, so its output may alias its input (in-place softmax, dlogits = logits).
 *
 * Precision. Every exponent is taken after subtracting the row maximum, so each term lies in
 * (0, 1], the largest is exactly 1, and sums of them are >= 1: no overflow, no division by
 * zero, no NaN for finite input. Row sums are float inside blocks of BATON_ROW_BLOCK elements
 * (where the vector lanes accumulate) and double across blocks: the float part keeps the loop
 * at full SIMD width, the double part keeps the rounding error bounded by the block length
 * rather than by the row length (a 32000-word vocabulary would otherwise put ~4000 terms in each
 * lane of an 8-wide vector, a worst-case relative error of 2.4e-4; with 256-element blocks it is
 * 32 terms per lane, ~2e-6). The cross-entropy is assembled from quantities that are all >= 0
 * (log of the exp-sum, m - z_y, the mean of m - z_v), so no step cancels even when the logits
 * carry a large common offset. */
#ifndef BATON_ATTN_MATH_H
#define BATON_ATTN_MATH_H

#include <math.h>

#include "baton/cell_math.h"

/* Target id whose rows the cross-entropy ignores (<pad>). */
#define BATON_XENT_IGNORE 0

/* Row sums are float within blocks of this many elements and double across blocks. */
#define BATON_ROW_BLOCK 256

/* `omp simd` hints for the host compiler (the build adds -fopenmp-simd); nvcc gets nothing, as a
 * device thread runs its loops serially and cicc would warn about the pragma. */
#if defined(__CUDACC__)
#define BATON_SIMD
#define BATON_SIMD_REDUCE(op, var)
#define BATON_SIMD_REDUCE2(op, var1, var2)
#else
#define BATON_SIMD_PRAGMA_(x) _Pragma(#x)
#define BATON_SIMD BATON_SIMD_PRAGMA_(omp simd)
#define BATON_SIMD_REDUCE(op, var) BATON_SIMD_PRAGMA_(omp simd reduction(op : var))
#define BATON_SIMD_REDUCE2(op, var1, var2) BATON_SIMD_PRAGMA_(omp simd reduction(op : var1, var2))
#endif

/* Row functions are always inlined on the host: the CPU ops that call them carry an AVX2 clone
 * (target_clones), and a row function gcc left out of line would be compiled once, for the
 * baseline target, and run there from both clones (measured: 2.3x slower cross-entropy). */
#if !defined(__CUDACC__) && defined(__GNUC__)
#define BATON_ROW_INLINE __attribute__((always_inline))
#else
#define BATON_ROW_INLINE
#endif

/* ---- element functions ---- */

/* e^(x - m) for the row maximum m: a term of a max-shifted softmax, in (0, 1]. */
BATON_HD static inline float baton_softmax_term(float x, float m)
{
    return baton_exp(x - m);
}

/* Gradient of one softmax entry: p (dp - dot) with dot = sum_s p dp of its row. Exactly 0 where
 * p is 0 (masked positions), even when dp is not finite there. */
BATON_HD static inline float baton_softmax_grad(float p, float dp, float dot)
{
    return p != 0.0f ? p * (dp - dot) : 0.0f;
}

/* 1 - y^2, the derivative of tanh at its output y, as (1 - y)(1 + y): within 3 u relative for
 * every y, where 1 - y*y loses all relative accuracy as |y| -> 1 (y*y rounds by u absolute). */
BATON_HD static inline float baton_tanh_deriv(float y)
{
    return (1.0f - y) * (1.0f + y);
}

/* dL/dx of y = tanh(x) from dL/dy and y. */
BATON_HD static inline float baton_tanh_grad(float dy, float y)
{
    return dy * baton_tanh_deriv(y);
}

/* One (pre-tanh) element of a Bahdanau score: tanh(q_h + k_h). */
BATON_HD static inline float baton_additive_act(float q, float k)
{
    return baton_tanh(q + k);
}

/* Gradient reaching q_h and k_h from dscore g through v_h tanh(q_h + k_h) = v_h e. */
BATON_HD static inline float baton_additive_dpre(float g, float v, float e)
{
    return g * v * baton_tanh_deriv(e);
}

/* Smoothed cross-entropy of one row from its statistics: log_sum = log sum_v e^(z_v - m) (>= 0),
 * my = m - z_y (>= 0), mean_mz = (1/V) sum_v (m - z_v) (>= 0). Equals
 * (1-eps)(lse - z_y) + eps (lse - mean_v z_v) with lse = m + log_sum, without forming lse. */
BATON_HD static inline float baton_xent_loss(float log_sum, float my, float mean_mz, float eps)
{
    return (1.0f - eps) * (log_sum + my) + eps * (log_sum + mean_mz);
}

/* One logit gradient scale (p_v - q_v): e = e^(z_v - m), inv_sum = 1 / sum_v e, q_v = eps/V
 * plus (1 - eps) at the target. */
BATON_HD static inline float baton_xent_grad(float e, float inv_sum, float eps_over_v, float one_minus_eps,
                                             int is_target, float scale)
{
    return scale * (e * inv_sum - (is_target ? eps_over_v + one_minus_eps : eps_over_v));
}

/* ---- whole rows ---- */

/* max_i x[i] over n >= 1 entries (a NaN entry may or may not win; it reaches the sums anyway). */
BATON_HD static inline BATON_ROW_INLINE float baton_row_max(const float *x, int n)
{
    float m = x[0];
    BATON_SIMD_REDUCE(max, m)
    for (int i = 1; i < n; i++)
        m = x[i] > m ? x[i] : m;
    return m;
}

/* p[s] = softmax of x[0..len) at s < len, p[s] = 0 for len <= s < S (1 <= len <= S). p may be x. */
BATON_HD static inline BATON_ROW_INLINE void baton_attn_softmax_row(float *p, const float *x, int len, int S)
{
    float m = baton_row_max(x, len);
    double sum = 0.0;
    for (int s0 = 0; s0 < len; s0 += BATON_ROW_BLOCK) {
        int s1 = s0 + BATON_ROW_BLOCK < len ? s0 + BATON_ROW_BLOCK : len;
        float part = 0.0f;
        BATON_SIMD_REDUCE(+, part)
        for (int s = s0; s < s1; s++) {
            float e = baton_softmax_term(x[s], m);
            p[s] = e;
            part += e;
        }
        sum += part;
    }
    /* sum >= 1 (the maximum's own term), so the reciprocal is finite */
    float inv = (float)(1.0 / sum);
    BATON_SIMD
    for (int s = 0; s < len; s++)
        p[s] *= inv;
    for (int s = len; s < S; s++)
        p[s] = 0.0f;
}

/* ds[s] = p[s] (dp[s] - sum_r p[r] dp[r]) over a row of S, 0 where p[s] is 0. ds may be dp. */
BATON_HD static inline BATON_ROW_INLINE void baton_attn_softmax_bwd_row(float *ds, const float *dp, const float *p, int S)
{
    double dot = 0.0;
    for (int s0 = 0; s0 < S; s0 += BATON_ROW_BLOCK) {
        int s1 = s0 + BATON_ROW_BLOCK < S ? s0 + BATON_ROW_BLOCK : S;
        float part = 0.0f;
        /* masked terms are skipped, not multiplied, so garbage in dp there cannot leak in */
        BATON_SIMD_REDUCE(+, part)
        for (int s = s0; s < s1; s++)
            part += p[s] != 0.0f ? p[s] * dp[s] : 0.0f;
        dot += part;
    }
    float d = (float)dot;
    BATON_SIMD
    for (int s = 0; s < S; s++)
        ds[s] = baton_softmax_grad(p[s], dp[s], d);
}

/* sum_h v[h] tanh(q[h] + k[h]): one Bahdanau score from a query row and a key row of H. */
BATON_HD static inline BATON_ROW_INLINE float baton_additive_score(const float *q, const float *k, const float *v, int H)
{
    float acc = 0.0f;
    BATON_SIMD_REDUCE(+, acc)
    for (int h = 0; h < H; h++)
        acc += v[h] * baton_additive_act(q[h], k[h]);
    return acc;
}

/* Label-smoothed cross-entropy of one row of V logits z against target y (1 <= y < V, or
 * BATON_XENT_IGNORE): returns the row's loss, sets *logp_y = log p_y, and writes
 * d = scale (p - q) unless d is NULL (d may be z). An ignored row returns 0, sets *logp_y = 0
 * and zeroes d. */
BATON_HD static inline BATON_ROW_INLINE float baton_xent_row(float *d, float *logp_y, const float *z, int y, int V, float eps,
                                            float scale)
{
    if (y == BATON_XENT_IGNORE) {
        *logp_y = 0.0f;
        if (d)
            for (int v = 0; v < V; v++)
                d[v] = 0.0f;
        return 0.0f;
    }
    float m = baton_row_max(z, V);
    float zy = z[y]; /* read before d, which may be z, is written */
    /* sum_v e^(z_v - m) and sum_v (m - z_v): both sums of non-negative terms, so no cancellation.
     * With a gradient wanted, the terms e go to d on the way (one exp per logit, not two); d[v]
     * is written after z[v] is read, so d may be z. */
    double sum_e = 0.0, sum_mz = 0.0;
    for (int v0 = 0; v0 < V; v0 += BATON_ROW_BLOCK) {
        int v1 = v0 + BATON_ROW_BLOCK < V ? v0 + BATON_ROW_BLOCK : V;
        float pe = 0.0f, pz = 0.0f;
        if (d) {
            BATON_SIMD_REDUCE2(+, pe, pz)
            for (int v = v0; v < v1; v++) {
                float zv = z[v], e = baton_softmax_term(zv, m);
                d[v] = e;
                pe += e;
                pz += m - zv;
            }
        } else {
            BATON_SIMD_REDUCE2(+, pe, pz)
            for (int v = v0; v < v1; v++) {
                pe += baton_softmax_term(z[v], m);
                pz += m - z[v];
            }
        }
        sum_e += pe;
        sum_mz += pz;
    }
    float log_sum = logf((float)sum_e);
    *logp_y = (zy - m) - log_sum;
    float loss = baton_xent_loss(log_sum, m - zy, (float)(sum_mz / V), eps);
    if (d) {
        float inv = (float)(1.0 / sum_e), u = eps / (float)V, keep = 1.0f - eps;
        float ey = d[y];
        BATON_SIMD
        for (int v = 0; v < V; v++)
            d[v] = baton_xent_grad(d[v], inv, u, keep, 0, scale);
        d[y] = baton_xent_grad(ey, inv, u, keep, 1, scale);
    }
    return loss;
}

/* ---- decoding: a row of logits ---- */

/* The widest top-k of the backends' topk_rows (beam widths up to this). */
#define BATON_TOPK_MAX 64

/* log sum_v e^x[v] over n >= 1 entries: the maximum plus the log of the max-shifted sum, summed
 * as the cross-entropy sums (float within blocks, double across), so beam search's log p = x -
 * lse is the training loss's log p. */
BATON_HD static inline BATON_ROW_INLINE float baton_row_logsumexp(const float *x, int n)
{
    float m = baton_row_max(x, n);
    double sum = 0.0;
    for (int v0 = 0; v0 < n; v0 += BATON_ROW_BLOCK) {
        int v1 = v0 + BATON_ROW_BLOCK < n ? v0 + BATON_ROW_BLOCK : n;
        float part = 0.0f;
        BATON_SIMD_REDUCE(+, part)
        for (int v = v0; v < v1; v++)
            part += baton_softmax_term(x[v], m);
        sum += part;
    }
    return m + logf((float)sum);
}

/* Whether (a at column ia) ranks before (b at column ib) in a top-k: the larger value, and on a
 * tie the smaller column, so every backend keeps the same k of equal logits. */
BATON_HD static inline int baton_topk_before(float a, int ia, float b, int ib)
{
    return a > b || (a == b && ia < ib);
}

/* The k (<= n) best of x[0..n), best first, by insertion: val[i], idx[i]. Once k are held, a block
 * of 64 whose max does not exceed the k-th best is passed over after one vectorized max: a later
 * column ranks before the k-th only with a larger value, so the result is the plain scan's. (The max
 * starts at the k-th value, so a NaN entry, which no comparison lets in, cannot hide a larger one.) */
BATON_HD static inline void baton_row_topk(float *val, int *idx, const float *x, int n, int k)
{
    int have = 0;
    for (int j0 = 0; j0 < n; j0 += 64) {
        int j1 = j0 + 64 < n ? j0 + 64 : n;
        if (have == k) {
            float bm = val[k - 1];
            BATON_SIMD_REDUCE(max, bm)
            for (int j = j0; j < j1; j++)
                bm = x[j] > bm ? x[j] : bm;
            if (!(bm > val[k - 1]))
                continue;
        }
        for (int j = j0; j < j1; j++) {
            float v = x[j];
            if (have == k && !baton_topk_before(v, j, val[k - 1], idx[k - 1]))
                continue;
            int i = have < k ? have++ : k - 1;
            for (; i > 0 && baton_topk_before(v, j, val[i - 1], idx[i - 1]); i--) {
                val[i] = val[i - 1];
                idx[i] = idx[i - 1];
            }
            val[i] = v;
            idx[i] = j;
        }
    }
}

#endif
