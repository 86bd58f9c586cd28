/* cpu_attention.c: the CPU backend's attention ops, loops over the row and element functions of
 * attn_math.h (the ones the CUDA kernels call). Threads only ever split independent rows, or
 * independent columns of a sum, never one sum, so every result is the same bit for bit on any
 * thread count. */
#include "baton/attn_math.h"
#include "cpu_internal.h"

/* Checks 1 <= lengths[b] <= S: a length outside that would read past a row or leave it empty. */
static baton_status check_lengths(const int *lengths, int B, int S, const char *who)
{
    for (int b = 0; b < B; b++)
        BATON_REQUIRE(lengths[b] >= 1 && lengths[b] <= S, "%s: lengths[%d] = %d, expected 1 <= length <= S = %d",
                      who, b, lengths[b], S);
    return BATON_OK;
}

BATON_CPU_CLONES
baton_status baton_cpu_attn_softmax_forward(baton_backend *be, float *p, const float *scores, const int *lengths,
                                            int B, int T, int S)
{
    (void)be;
    BATON_REQUIRE(B >= 0 && T >= 0 && S >= 1, "attn_softmax_forward: B %d, T %d, S %d, expected B, T >= 0, S >= 1",
                  B, T, S);
    BATON_TRY(check_lengths(lengths, B, S, "attn_softmax_forward"));
    long rows = (long)B * T, work = rows * S * 8;
    BATON_PARALLEL_FOR
    for (long r = 0; r < rows; r++) {
        size_t off = (size_t)r * (size_t)S;
        baton_attn_softmax_row(p + off, scores + off, lengths[r / T], S);
    }
    return BATON_OK;
}

BATON_CPU_CLONES
baton_status baton_cpu_attn_softmax_backward(baton_backend *be, float *dscores, const float *dp, const float *p,
                                             int B, int T, int S)
{
    (void)be;
    BATON_REQUIRE(B >= 0 && T >= 0 && S >= 1, "attn_softmax_backward: B %d, T %d, S %d, expected B, T >= 0, S >= 1",
                  B, T, S);
    long rows = (long)B * T, work = rows * S * 4;
    BATON_PARALLEL_FOR
    for (long r = 0; r < rows; r++) {
        size_t off = (size_t)r * (size_t)S;
        baton_attn_softmax_bwd_row(dscores + off, dp + off, p + off, S);
    }
    return BATON_OK;
}

BATON_CPU_CLONES
baton_status baton_cpu_additive_scores_forward(baton_backend *be, float *scores, const float *q, const float *k,
                                               const float *v, int B, int T, int S, int H)
{
    (void)be;
    BATON_REQUIRE(B >= 0 && T >= 0 && S >= 0 && H >= 0,
                  "additive_scores_forward: B %d, T %d, S %d, H %d, expected all >= 0", B, T, S, H);
    /* one (b, t) row of S scores per iteration; each score is one dot over H, in h order */
    long rows = (long)B * T, work = rows * S * H * 20;
    BATON_PARALLEL_FOR
    for (long r = 0; r < rows; r++) {
        int b = (int)(r / T), t = (int)(r % T);
        const float *qr = q + ((size_t)t * B + b) * H;
        float *out = scores + (size_t)r * S;
        for (int s = 0; s < S; s++)
            out[s] = baton_additive_score(qr, k + ((size_t)s * B + b) * H, v, H);
    }
    return BATON_OK;
}

/* Width of the h slices that the backward hands to threads: 4 AVX vectors, and H = 512 still
 * makes 16 slices. */
#define ADD_SLICE 32
/* dq's float partial sums span this many s (then go to double). */
#define ADD_SBLOCK 64

BATON_CPU_CLONES
baton_status baton_cpu_additive_scores_backward(baton_backend *be, float *dq, float *dk, float *dv,
                                                const float *dscores, const float *q, const float *k, const float *v,
                                                int B, int T, int S, int H)
{
    (void)be;
    BATON_REQUIRE(B >= 0 && T >= 0 && S >= 0 && H >= 0,
                  "additive_scores_backward: B %d, T %d, S %d, H %d, expected all >= 0", B, T, S, H);
    /* Every output element depends on one h only: dq[t,b,h] sums over s, dk[s,b,h] over t, dv[h]
     * over (b, t, s). So threads take slices of h and each walks all (b, t, s) in the same order:
     * no sum is split between threads, and dv needs no cross-thread reduction. dq is summed over
     * s in registers (float blocks, double total), dk over t in place in float (zeroed first,
     * since the op assigns it; T is a target length, at most a few hundred), dv in double. */
    int slices = (H + ADD_SLICE - 1) / ADD_SLICE;
    long work = (long)B * T * S * H * 24;
    BATON_PARALLEL_FOR
    for (int c = 0; c < slices; c++) {
        int h0 = c * ADD_SLICE, n = h0 + ADD_SLICE < H ? ADD_SLICE : H - h0;
        const float *vs = v + h0;
        double dv_acc[ADD_SLICE] = {0};
        for (int b = 0; b < B; b++) {
            for (int s = 0; s < S; s++) {
                float *dkr = dk + ((size_t)s * B + b) * H + h0;
                for (int j = 0; j < n; j++)
                    dkr[j] = 0.0f;
            }
            for (int t = 0; t < T; t++) {
                const float *qr = q + ((size_t)t * B + b) * H + h0;
                const float *g_row = dscores + ((size_t)b * T + t) * S;
                double dq_tot[ADD_SLICE] = {0};
                /* dq sums over s in float within blocks of ADD_SBLOCK and in double across them,
                 * so that long sources (S in the thousands) do not grow the rounding error */
                for (int s0 = 0; s0 < S; s0 += ADD_SBLOCK) {
                    int s1 = s0 + ADD_SBLOCK < S ? s0 + ADD_SBLOCK : S;
                    float dq_acc[ADD_SLICE] = {0};
                    for (int s = s0; s < s1; s++) {
                        float g = g_row[s];
                        /* masked positions carry dscores exactly 0 (attn_softmax_backward): their
                         * terms are zero, so skipping them changes nothing but the time */
                        if (g == 0.0f)
                            continue;
                        const float *kr = k + ((size_t)s * B + b) * H + h0;
                        float *dkr = dk + ((size_t)s * B + b) * H + h0;
                        BATON_OMP_PRAGMA(omp simd)
                        for (int j = 0; j < n; j++) {
                            float e = baton_additive_act(qr[j], kr[j]);
                            float d = baton_additive_dpre(g, vs[j], e);
                            dq_acc[j] += d;
                            dkr[j] += d;
                            dv_acc[j] += (double)g * (double)e;
                        }
                    }
                    for (int j = 0; j < n; j++)
                        dq_tot[j] += dq_acc[j];
                }
                float *dqr = dq + ((size_t)t * B + b) * H + h0;
                for (int j = 0; j < n; j++)
                    dqr[j] = (float)dq_tot[j];
            }
        }
        for (int j = 0; j < n; j++)
            dv[h0 + j] += (float)dv_acc[j];
    }
    return BATON_OK;
}
