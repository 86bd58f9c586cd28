/* cpu_gemm.c: the CPU backend's matrix product: OpenBLAS's cblas_sgemm where the build has a BLAS,
 * else a plain C loop. The loop is the fallback for machines that carry only CUDA: correct (it
 * accumulates in double) but slow, enough to serve as the reference in GPU tests. */
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

baton_status baton_cpu_gemm(baton_backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
                            const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    (void)be;
    BATON_REQUIRE(M >= 0 && N >= 0 && K >= 0, "gemm: negative size M=%d N=%d K=%d", M, N, K);
    if (M == 0 || N == 0)
        return BATON_OK;
#if BATON_HAVE_BLAS
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
#else
    gemm_loop(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
    return BATON_OK;
}

baton_status baton_cpu_gemm_batched(baton_backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
                                    const float *A, int lda, int64_t stride_a, const float *B, int ldb,
                                    int64_t stride_b, float beta, float *C, int ldc, int64_t stride_c, int batch)
{
    for (int i = 0; i < batch; i++)
        BATON_TRY(baton_cpu_gemm(be, trans_a, trans_b, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b,
                                 ldb, beta, C + i * stride_c, ldc));
    return BATON_OK;
}
