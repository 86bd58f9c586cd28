/* cpu_backend.c: the CPU reference backend's memory, matrix products and ops table.
 * Matrix products go to OpenBLAS's cblas_sgemm; the loops are in cpu_ops.c. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "baton_config.h"
#include "cpu_internal.h"

#if BATON_HAVE_OPENMP
#include <omp.h>
#endif

static baton_status cpu_alloc(baton_backend *be, void **ptr, size_t bytes, const char *what)
{
    (void)be;
    *ptr = NULL;
    /* 256-byte alignment, as the parameter table and arena assume, and as AVX-512 loads like. */
    size_t rounded = (bytes + 255) / 256 * 256;
    if (posix_memalign(ptr, 256, rounded ? rounded : 256) != 0)
        return BATON_ERROR(BATON_ERR_OOM, "%s: cannot allocate %zu bytes of host memory", what, bytes);
    return BATON_OK;
}

static void cpu_free(baton_backend *be, void *ptr)
{
    (void)be;
    free(ptr);
}

static baton_status cpu_copy(baton_backend *be, void *dst, const void *src, size_t bytes)
{
    (void)be;
    if (bytes)
        memmove(dst, src, bytes);
    return BATON_OK;
}

static baton_status cpu_zero(baton_backend *be, void *ptr, size_t bytes)
{
    (void)be;
    if (bytes)
        memset(ptr, 0, bytes);
    return BATON_OK;
}

static baton_status cpu_sync(baton_backend *be)
{
    (void)be;
    return BATON_OK;
}

static baton_status cpu_gemm(baton_backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
                             const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    (void)be;
    BATON_REQUIRE(M >= 0 && N >= 0 && K >= 0, "gemm: negative size M=%d N=%d K=%d", M, N, K);
    if (M == 0 || N == 0)
        return BATON_OK;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
    return BATON_OK;
}

static baton_status cpu_gemm_batched(baton_backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
                                     const float *A, int lda, int64_t stride_a, const float *B, int ldb,
                                     int64_t stride_b, float beta, float *C, int ldc, int64_t stride_c, int batch)
{
    for (int i = 0; i < batch; i++)
        BATON_TRY(cpu_gemm(be, trans_a, trans_b, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb, beta,
                           C + i * stride_c, ldc));
    return BATON_OK;
}

static void cpu_destroy(baton_backend *be)
{
    (void)be;
}

static const baton_ops cpu_ops = {
    .name = "cpu",
    .destroy = cpu_destroy,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .copy = cpu_copy,
    .zero = cpu_zero,
    .sync = cpu_sync,
    .gemm = cpu_gemm,
    .gemm_batched = cpu_gemm_batched,
    .cell_forward = baton_cpu_cell_forward,
    .cell_backward = baton_cpu_cell_backward,
    .axpby = baton_cpu_axpby,
    .colsum_add = baton_cpu_colsum_add,
    .sumsq = baton_cpu_sumsq,
    .dropout = baton_cpu_dropout,
    .embed_gather = baton_cpu_embed_gather,
    .embed_scatter_add = baton_cpu_embed_scatter_add,
};

baton_status baton_cpu_backend_create(baton_backend *be, int threads)
{
    memset(be, 0, sizeof *be);
    /* OpenBLAS and OpenMP thread counts are process-wide; the CPU backend owns them while it lives. */
    if (threads > 0) {
        openblas_set_num_threads(threads);
#if BATON_HAVE_OPENMP
        omp_set_num_threads(threads);
#endif
    }
    be->ops = &cpu_ops;
    be->threads = threads > 0 ? threads : openblas_get_num_threads();
    return BATON_OK;
}
