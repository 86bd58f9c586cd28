/* additive_attn.cu: Bahdanau attention scores, forward and backward (additive_scores_* of
 * include/baton/backend.h), over the element functions of include/baton/attn_math.h.
 *
 * Layout: q (T,B,H) = W_q h_t + b_q, k (S,B,H) = W_k h_s, v (H); scores and dscores (B,T,S).
 *   forward:  one thread per (b, t, s), one dot over h in h order (baton_additive_score).
 *   backward: every output depends on one h, so
 *     dq[t,b,h] = sum_s g v_h (1 - e^2): one thread per (t, b, h), s in order, float blocks of 64
 *                 and a double total (the CPU's order);
 *     dk[s,b,h] = sum_t ...:             one thread per (s, b, h), t in order, in float;
 *     dv[h]    += sum_{b,t,s} g e:       see the versions below.
 *   Masked positions carry g exactly 0 and are skipped, as on the CPU. No atomics: deterministic.
 *
 * Versions of dv (baton_versions.dv, kernels/attn_launch.h):
 *   "plain" (0): one thread per h walking all (b, t, s) in order in double, the CPU's order.
 *     ceil(H/256) blocks: for gnmt (H 1024, B 128, T = S = 50) 4 blocks of 256 threads, each
 *     thread a serial loop of B*T*S = 320,000 tanh terms.
 *   "tiled" (1, the default): one launch, no scratch. Block = 8 units h x G groups (G = 128, or
 *     the smallest power of two >= B*T when fewer), grid = ceil(H/8) blocks. Thread (x, y) takes
 *     h = 8*blockIdx.x + x and the (b, t) pairs p = b*T + t = y, y+G, y+2G, ..., each over all s
 *     in order, summing g*e in double; the G partials of a unit are then folded by a fixed
 *     shared-memory tree (G/2, ..., 1; 8*G doubles = 8 KiB) and thread y = 0 adds the float of
 *     the total. gnmt: 128 blocks of 1024 threads (one per SM of an H100), each thread 50 pairs x
 *     50 s = 2,500 terms (128x shorter than plain). 8 units per block are one 32-byte sector of
 *     a q or k row; the y neighbours of a warp share b, so the k rows they read hit the same lines.
 *     The partition depends only on (B, T, H): the same bits on every run. Compared with plain
 *     and the CPU, the double partial sums are added in another order (~1e-16 relative), which
 *     can move the final float by one rounding step.
 *
 * Status: compiled for sm_80 and sm_90, never yet run on a GPU; validated only by
 * tests/gpu/test_additive_gpu.c (on the CUDA emulation), against the CPU backend. */
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

#define DV_UNITS 8     /* hidden units per block of the tiled dv: 32 bytes, one sector of a q or k row */
#define DV_GROUPS 128 /* (b, t) groups per block at most (a power of two: the fold halves it) */

/* Thread (x, y) of block c: unit h = 8c + x over pairs p = y, y+G, ... (all s), then a fixed tree over y. */
static __global__ void __launch_bounds__(DV_UNITS *DV_GROUPS)
    additive_dv_tiled_kernel(float *dv, const float *ds, const float *q, const float *k, int B, int T, int S, int H)
{
    BATON_SHARED(double, part, DV_UNITS * DV_GROUPS);
    int x = (int)threadIdx.x, y = (int)threadIdx.y, groups = (int)blockDim.y;
    int h = (int)blockIdx.x * DV_UNITS + x;
    long long pairs = (long long)B * T;
    double acc = 0.0;
    if (h < H)
        for (long long p = y; p < pairs; p += groups) {
            int b = (int)(p / T), t = (int)(p % T);
            float qh = q[((size_t)t * B + b) * H + h];
            const float *g_row = ds + (size_t)p * S; /* dscores row (b, t) */
            for (int s = 0; s < S; s++)
                if (g_row[s] != 0.0f)
                    acc += (double)g_row[s] * (double)baton_additive_act(qh, k[((size_t)s * B + b) * H + h]);
        }
    part[y * DV_UNITS + x] = acc;
    for (int half = groups / 2; half > 0; half /= 2) {
        __syncthreads();
        if (y < half)
            part[y * DV_UNITS + x] += part[(y + half) * DV_UNITS + x];
    }
    if (y == 0 && h < H) /* thread (x, 0) wrote part[x] last itself */
        dv[h] += (float)part[x];
}

/* Groups of the tiled dv: DV_GROUPS, or the smallest power of two >= the (b, t) pairs when fewer. */
static unsigned dv_groups(long long pairs)
{
    unsigned g = 1;
    while (g < DV_GROUPS && g < pairs)
        g *= 2;
    return g;
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
                                                       int S, int H, int dv_version, cudaStream_t stream)
{
    BATON_REQUIRE(B >= 0 && T >= 0 && S >= 0 && H >= 0, "additive scores backward: B %d, T %d, S %d, H %d, "
                  "expected sizes >= 0", B, T, S, H);
    BATON_REQUIRE(dv_version == BATON_DV_PLAIN || dv_version == BATON_DV_TILED,
                  "additive scores backward: dv version %d, expected %d (plain) or %d (tiled)", dv_version,
                  BATON_DV_PLAIN, BATON_DV_TILED);
    long long nq = (long long)T * B * H, nk = (long long)S * B * H;
    if (nq > 0) {
        BATON_LAUNCH(blocks_for(nq), ADD_THREADS, 0, stream, additive_dq_kernel)(dq, dscores, q, k, v, B, T, S, H);
        BATON_CUDA_CHECK_LAUNCH();
    }
    if (nk > 0) {
        BATON_LAUNCH(blocks_for(nk), ADD_THREADS, 0, stream, additive_dk_kernel)(dk, dscores, q, k, v, B, T, S, H);
        BATON_CUDA_CHECK_LAUNCH();
    }
    if (H > 0 && dv_version == BATON_DV_PLAIN) {
        BATON_LAUNCH(blocks_for(H), ADD_THREADS, 0, stream, additive_dv_kernel)(dv, dscores, q, k, B, T, S, H);
        BATON_CUDA_CHECK_LAUNCH();
    } else if (H > 0) {
        unsigned blocks = (unsigned)((H + DV_UNITS - 1) / DV_UNITS);
        BATON_LAUNCH(blocks, dim3(DV_UNITS, dv_groups((long long)B * T)), 0, stream, additive_dv_tiled_kernel)(
            dv, dscores, q, k, B, T, S, H);
        BATON_CUDA_CHECK_LAUNCH();
    }
    return BATON_OK;
}
