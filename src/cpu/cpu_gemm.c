/* cpu_gemm.c: the CPU backend's matrix product: OpenBLAS's cblas_sgemm where the build has a BLAS,
 * else a plain C loop. The loop is the fallback for machines that carry only CUDA: correct (it
 * accumulates in double) but slow, enough to serve as the reference in GPU tests. */
#include <stdlib.h>

#include "baton/bf16.h"
#include "baton_config.h"
#include "cpu_internal.h"

#if BATON_HAVE_BLAS
#include <cblas.h>
#endif

#if !BATON_HAVE_BLAS
/* C (M,N) = alpha op(A) op(B) + beta C for row-major matrices; beta == 0 never reads C. */
static void gemm_loop(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc)
{
    long work = (long)M * N * K;
    BATON_PARALLEL_FOR
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0.0;
            for (int k = 0; k < K; k++) {
                float a = trans_a ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                float b = trans_b ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                acc += (double)a * b;
            }
            float *c = &C[(size_t)i * ldc + j];
            *c = beta == 0.0f ? alpha * (float)acc : alpha * (float)acc + beta * *c;
        }
}
#endif

/* *out = the n floats at p rounded to bf16 (the values a GPU's bf16 GEMM multiplies), in slot's buffer. */
static baton_status rounded(baton_backend *be, int slot, const float *p, size_t n, const float **out)
{
    cpu_ctx *c = be->impl;
    if (c->rounded_n[slot] < n) {
        float *r = realloc(c->rounded[slot], n * sizeof *r);
        if (!r)
            return BATON_ERROR(BATON_ERR_OOM, "bf16 gemm: cannot round an operand of %zu floats (out of memory)", n);
        c->rounded[slot] = r;
        c->rounded_n[slot] = n;
    }
    float *r = c->rounded[slot];
    long work = (long)n;
    BATON_PARALLEL_FOR
    for (long i = 0; i < work; i++)
        r[i] = baton_bf16_round(p[i]);
    *out = r;
    return BATON_OK;
}

/* In bf16 precision, A and B replaced by their bf16 roundings (same layout); else left as they are.
 * Products of bf16 values are exact in fp32, so what remains is fp32 accumulation, as on the GPU. */
static baton_status round_operands(baton_backend *be, int trans_a, int trans_b, int M, int N, int K, const float **A,
                                   int lda, int64_t stride_a, const float **B, int ldb, int64_t stride_b, int batch)
{
    if (be->precision != BATON_PRECISION_BF16 || K == 0)
        return BATON_OK;
    BATON_TRY(rounded(be, 0, *A, baton_cpu_extent(trans_a ? K : M, trans_a ? M : K, lda, stride_a, batch), A));
    return rounded(be, 1, *B, baton_cpu_extent(trans_b ? N : K, trans_b ? K : N, ldb, stride_b, batch), B);
}

/* The product in fp32 of operands already rounded where the precision asks (sizes checked). */
static void gemm_fp32(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc)
{
#if BATON_HAVE_BLAS
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
#else
    gemm_loop(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

#if BATON_HAVE_BLAS
/* C (1, N) = alpha op(A) op(B) + beta C as sgemv: a product of one row (a decoder's attention at
 * T = 1, one per live row) is all of sgemm's packing and none of its reuse. Whole products only,
 * never a slice of one (cut on multiples of SLICE_QUANTUM, a slice of one row would sum otherwise
 * than the same row in one sgemm call), so no sum depends on the thread count. */
static void gemv_row(int trans_a, int trans_b, int N, int K, float alpha, const float *A, int lda, const float *B,
                     int ldb, float beta, float *C)
{
    if (beta == 0.0f) /* sgemv may scale C by beta first, and 0 x a NaN poison is NaN */
        for (int j = 0; j < N; j++)
            C[j] = 0.0f;
    cblas_sgemv(CblasRowMajor, trans_b ? CblasNoTrans : CblasTrans, trans_b ? N : K, trans_b ? K : N, alpha, B, ldb,
                A, trans_a ? lda : 1, beta, C, 1);
}
#endif

/* One GEMM cut in slices of C's rows (or columns, where N > M), each a single-threaded BLAS call. */
typedef struct {
    int trans_a, trans_b, M, N, K, lda, ldb, ldc, slices, by_rows;
    float alpha, beta;
    const float *A, *B;
    float *C;
} gemm_slices;

/* Where slice s of `slices` starts along len rows (or columns): on a multiple of SLICE_QUANTUM, the
 * last ends at len. OpenBLAS computes C in register tiles (16, 24, 8, 6 or 4 rows or columns, by
 * CPU) and sums the edge tiles in another order than the full ones (measured on AMD Zen 3: a cut
 * inside a tile changed the last bits of dx); cut on a common multiple of the tile sizes, every
 * element is the same sum in the same order as in one call. */
#define SLICE_QUANTUM 48
static int slice_edge(int len, int s, int slices)
{
    return s >= slices ? len : (int)((long)len * s / slices) / SLICE_QUANTUM * SLICE_QUANTUM;
}

static void gemm_slice(void *ctx, int phase, int s)
{
    (void)phase;
    const gemm_slices *g = ctx;
    int len = g->by_rows ? g->M : g->N;
    int lo = slice_edge(len, s, g->slices), hi = slice_edge(len, s + 1, g->slices);
    if (hi <= lo)
        return;
    if (g->by_rows) /* rows lo..hi of op(A) and C */
        gemm_fp32(g->trans_a, g->trans_b, hi - lo, g->N, g->K, g->alpha,
                  g->trans_a ? g->A + lo : g->A + (size_t)lo * g->lda, g->lda, g->B, g->ldb, g->beta,
                  g->C + (size_t)lo * g->ldc, g->ldc);
    else /* columns lo..hi of op(B) and C */
        gemm_fp32(g->trans_a, g->trans_b, g->M, hi - lo, g->K, g->alpha, g->A, g->lda,
                  g->trans_b ? g->B + (size_t)lo * g->ldb : g->B + lo, g->ldb, g->beta, g->C + lo, g->ldc);
}

/* The product of operands already rounded, over `split` threads where split > 1 and the product is
 * big enough: two slices a thread, dealt by cpu_deal.c's pool (a thread that falls behind has its
 * slices taken over), so that one pool owns the cores (cpu_backend.c). Every element of C is the
 * same sum in the same order as in one call: slices cut C, never K. */
static void gemm_split(int split, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                       int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
#if BATON_HAVE_BLAS
    if (M == 1) {
        gemv_row(trans_a, trans_b, N, K, alpha, A, lda, B, ldb, beta, C);
        return;
    }
#endif
    gemm_slices g = {trans_a, trans_b, M, N, K, lda, ldb, ldc, 2 * split, M >= N, alpha, beta, A, B, C};
    if (split > 1 && (long)M * N * K >= (1L << 20) && BATON_HAVE_BLAS)
        baton_cpu_deal_run(split, g.slices, 1, gemm_slice, &g);
    else
        gemm_fp32(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

baton_status baton_cpu_gemm(baton_backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
                            const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
#if BATON_HAVE_XSMM
    if (M > 0 && N > 0 && baton_cpu_frozen_gemm(be, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc))
        return BATON_OK;
#endif
    return baton_cpu_gemm_batched(be, trans_a, trans_b, M, N, K, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}

baton_status baton_cpu_gemm_batched(baton_backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
                                    const float *A, int lda, int64_t stride_a, const float *B, int ldb,
                                    int64_t stride_b, float beta, float *C, int ldc, int64_t stride_c, int batch)
{
    BATON_REQUIRE(M >= 0 && N >= 0 && K >= 0 && batch >= 0, "gemm: negative size M=%d N=%d K=%d batch=%d", M, N, K,
                  batch);
    if (M == 0 || N == 0 || batch == 0)
        return BATON_OK;
#if BATON_HAVE_DNNL
    if (K > 0 && baton_cpu_dnnl_on(be))
        return baton_cpu_dnnl_gemm(be, trans_a, trans_b, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b, beta, C,
                                   ldc, stride_c, batch);
#endif
    BATON_TRY(round_operands(be, trans_a, trans_b, M, N, K, &A, lda, stride_a, &B, ldb, stride_b, batch));
    int split = ((cpu_ctx *)be->impl)->gemm_split;
    for (int i = 0; i < batch; i++)
        gemm_split(split, trans_a, trans_b, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb, beta,
                   C + i * stride_c, ldc);
    return BATON_OK;
}
