/* additive_attn.cu: Bahdanau attention scores, forward and backward (additive_scores_* of
 * include/baton/backend.h), over the element functions of include/baton/attn_math.h.
 *
 * Layout: q (T,B,H) = W_q h_t + b_q, k (S,B,H) = W_k h_s, v (H); scores and dscores (B,T,S).
 *   forward:  one thread per (b, t, s), one dot over h in h order (baton_additive_score).
 *   backward: every output depends on one h, so
 *     dq[t,b,h] = sum_s g v_h (1 - e^2): one thread per (t, b, h), s in order, float blocks of 64
 *                 and a double total (the CPU's order);
 *     dk[s,b,h] = sum_t ...:             one thread per (s, b, h), t in order, in float;
 *     dv[h]    += sum_{b,t,s} g e:       one thread per h, (b, t, s) in order, in double.
 *   Masked positions carry g exactly 0 and are skipped, as on the CPU. No atomics: deterministic.
 * Versions: v1 plain (the dv threads do B*T*S work each; a block reduction per h is the next step).
 * Status: compiled for sm_80 and sm_90, never yet run on a GPU. */
#include "kernels/device.cuh"
#include <limits.h>

#include "baton/attn_math.h"
#include "baton/cuda_check.h"
#include "kernels/attn_launch.h"

#define ADD_THREADS 256
#define ADD_SBLOCK 64

static __global__ void additive_fwd_kernel(float *scores, const float *q, const float *k, const float *v, int B, int T,
                                           int S, int H)
{
    long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= (long long)B * T * S)
        return;
    int s = (int)(e % S), bt = (int)(e / S), b = bt / T, t = bt % T;
    scores[e] = baton_additive_score(q + ((size_t)t * B + b) * H, k + ((size_t)s * B + b) * H, v, H);
}

static __global__ void additive_dq_kernel(float *dq, const float *ds, const float *q, const float *k, const float *v,
                                          int B, int T, int S, int H)
{
    long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= (long long)T * B * H)
        return;
    int h = (int)(e % H), tb = (int)(e / H), t = tb / B, b = tb % B;
    const float *g_row = ds + ((size_t)b * T + t) * S;
    float qh = q[e], vh = v[h];
    double total = 0.0;
    for (int s0 = 0; s0 < S; s0 += ADD_SBLOCK) {
        int s1 = s0 + ADD_SBLOCK < S ? s0 + ADD_SBLOCK : S;
        float acc = 0.0f;
        for (int s = s0; s < s1; s++) {
            float g = g_row[s];
            if (g != 0.0f)
                acc += baton_additive_dpre(g, vh, baton_additive_act(qh, k[((size_t)s * B + b) * H + h]));
        }
        total += acc;
    }
    dq[e] = (float)total;
}

static __global__ void additive_dk_kernel(float *dk, const float *ds, const float *q, const float *k, const float *v,
                                          int B, int T, int S, int H)
{
    long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= (long long)S * B * H)
        return;
    int h = (int)(e % H), sb = (int)(e / H), s = sb / B, b = sb % B;
    float kh = k[e], vh = v[h], acc = 0.0f;
    for (int t = 0; t < T; t++) {
        float g = ds[((size_t)b * T + t) * S + s];
        if (g != 0.0f)
            acc += baton_additive_dpre(g, vh, baton_additive_act(q[((size_t)t * B + b) * H + h], kh));
    }
    dk[e] = acc;
}

static __global__ void additive_dv_kernel(float *dv, const float *ds, const float *q, const float *k, int B, int T,
                                          int S, int H)
{
    int h = blockIdx.x * blockDim.x + threadIdx.x;
    if (h >= H)
        return;
    double acc = 0.0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float qh = q[((size_t)t * B + b) * H + h];
            const float *g_row = ds + ((size_t)b * T + t) * S;
            for (int s = 0; s < S; s++)
                if (g_row[s] != 0.0f)
                    acc += (double)g_row[s] * (double)baton_additive_act(qh, k[((size_t)s * B + b) * H + h]);
        }
    dv[h] += (float)acc;
}

static unsigned blocks_for(long long n)
{
    return (unsigned)((n + ADD_THREADS - 1) / ADD_THREADS);
}

extern "C" baton_status baton_kernel_additive_forward(float *scores, const float *q, const float *k, const float *v,
                                                      int B, int T, int S, int H, cudaStream_t stream)
{
    BATON_REQUIRE(B >= 0 && T >= 0 && S >= 0 && H >= 0 && (long long)B * T * S <= INT_MAX * 64LL,
                  "additive scores: B %d, T %d, S %d, H %d, expected sizes >= 0", B, T, S, H);
    long long n = (long long)B * T * S;
    if (n == 0)
        return BATON_OK;
    BATON_LAUNCH(blocks_for(n), ADD_THREADS, 0, stream, additive_fwd_kernel)(scores, q, k, v, B, T, S, H);
    BATON_CUDA_CHECK_LAUNCH();
    return BATON_OK;
}

extern "C" baton_status baton_kernel_additive_backward(float *dq, float *dk, float *dv, const float *dscores,
                                                       const float *q, const float *k, const float *v, int B, int T,
                                                       int S, int H, cudaStream_t stream)
{
    BATON_REQUIRE(B >= 0 && T >= 0 && S >= 0 && H >= 0, "additive scores backward: B %d, T %d, S %d, H %d, "
                  "expected sizes >= 0", B, T, S, H);
    long long nq = (long long)T * B * H, nk = (long long)S * B * H;
    if (nq > 0) {
        BATON_LAUNCH(blocks_for(nq), ADD_THREADS, 0, stream, additive_dq_kernel)(dq, dscores, q, k, v, B, T, S, H);
        BATON_CUDA_CHECK_LAUNCH();
    }
    if (nk > 0) {
        BATON_LAUNCH(blocks_for(nk), ADD_THREADS, 0, stream, additive_dk_kernel)(dk, dscores, q, k, v, B, T, S, H);
        BATON_CUDA_CHECK_LAUNCH();
    }
    if (H > 0) {
        BATON_LAUNCH(blocks_for(H), ADD_THREADS, 0, stream, additive_dv_kernel)(dv, dscores, q, k, B, T, S, H);
        BATON_CUDA_CHECK_LAUNCH();
    }
    return BATON_OK;
}
