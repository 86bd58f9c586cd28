/* cuda_bf16.c: bf16 precision on the CUDA backend: the mirrors GEMMs read their operands from, and
 * the bf16 GEMMs themselves (cuBLAS GemmEx: bf16 A and B, fp32 C, fp32 accumulation).
 *
 * A mirror is a bf16 array shadowing fp32 device memory element for element. The model keeps two
 * kinds (backend.h, bf16_mirror): the parameters' mirror is "kept" (the optimizer pass rewrites it
 * with the weights, uploads refresh it), so a GEMM never converts a weight; the activation arena's
 * mirror is converted on use, one conversion kernel per operand a GEMM reads, unless a kept range
 * inside it (a producer that writes the bf16 copy itself) covers the operand. An operand outside
 * every mirror (benchmarks' and checks' own buffers) is converted into a scratch buffer that grows
 * when needed: a cudaMalloc, so only where no step is being timed or captured.
 * Status: compiled in every CUDA build; run only in the emulation, never yet on a GPU. */
#include <cublas_v2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "baton/cuda_check.h"
#include "cuda_internal.h"
#include "kernels/bf16_launch.h"

static cuda_ctx *ctx(baton_backend *be)
{
    return (cuda_ctx *)be->impl;
}

static int contains(const cuda_mirror *m, const char *p, size_t bytes)
{
    return p >= m->f && p + bytes <= m->f + m->bytes;
}

/* The innermost mirror holding [p, p + bytes) whole, or NULL (later entries are inner ones). */
static const cuda_mirror *find(const cuda_ctx *c, const void *p, size_t bytes)
{
    for (int i = c->n_mirrors - 1; i >= 0; i--)
        if (contains(&c->mirrors[i], (const char *)p, bytes))
            return &c->mirrors[i];
    return NULL;
}

static uint16_t *twin_of(const cuda_mirror *m, const void *p)
{
    return m->bf + ((const char *)p - m->f) / sizeof(float);
}

baton_status baton_cuda_bf16_mirror(baton_backend *be, const float *f, size_t n, int kept)
{
    cuda_ctx *c = ctx(be);
    if (c->n_mirrors == c->cap_mirrors) {
        int cap = c->cap_mirrors ? 2 * c->cap_mirrors : 16;
        cuda_mirror *grown = realloc(c->mirrors, (size_t)cap * sizeof *grown);
        if (!grown)
            return BATON_ERROR(BATON_ERR_OOM, "bf16 mirror of %zu floats: out of host memory", n);
        c->mirrors = grown;
        c->cap_mirrors = cap;
    }
    const cuda_mirror *outer = find(c, f, n * sizeof(float));
    cuda_mirror m = {.f = (const char *)f, .bytes = n * sizeof(float), .kept = kept, .root = outer == NULL};
    if (outer)
        m.bf = twin_of(outer, f);
    else
        BATON_TRY(be->ops->alloc(be, (void **)&m.bf, n * sizeof(uint16_t), "bf16 mirror"));
    c->mirrors[c->n_mirrors++] = m;
    return kept ? baton_kernel_to_bf16(m.bf, f, n, c->stream) : BATON_OK;
}

uint16_t *baton_cuda_bf16_twin(baton_backend *be, const float *f)
{
    const cuda_mirror *m = find(ctx(be), f, sizeof(float));
    return m ? twin_of(m, f) : NULL;
}

uint16_t *baton_cuda_bf16_kept_twin(baton_backend *be, const float *f)
{
    const cuda_mirror *m = be->precision == BATON_PRECISION_BF16 ? find(ctx(be), f, sizeof(float)) : NULL;
    return m && m->kept ? twin_of(m, f) : NULL;
}

void baton_cuda_bf16_forget(baton_backend *be, const void *ptr)
{
    cuda_ctx *c = ctx(be);
    for (int i = 0; i < c->n_mirrors; i++) {
        cuda_mirror *m = &c->mirrors[i];
        if (!m->root || m->f != (const char *)ptr)
            continue;
        cudaFree(m->bf); /* as cu_free: a failure means the context is gone */
        /* the root and the ranges inside it go; the rest keep their order */
        const char *lo = m->f, *hi = m->f + m->bytes;
        int k = 0;
        for (int j = 0; j < c->n_mirrors; j++)
            if (!(c->mirrors[j].f >= lo && c->mirrors[j].f < hi))
                c->mirrors[k++] = c->mirrors[j];
        c->n_mirrors = k;
        return;
    }
}

baton_status baton_cuda_bf16_refresh(baton_backend *be, const void *dst, size_t bytes)
{
    cuda_ctx *c = ctx(be);
    const char *lo = dst, *hi = lo + bytes;
    for (int i = 0; i < c->n_mirrors; i++) {
        const cuda_mirror *m = &c->mirrors[i];
        const char *a = lo > m->f ? lo : m->f, *b = hi < m->f + m->bytes ? hi : m->f + m->bytes;
        if (m->kept && a < b) /* whole floats: uploads of parameters are */
            BATON_TRY(baton_kernel_to_bf16(twin_of(m, a), (const float *)a, (size_t)(b - a) / sizeof(float),
                                           c->stream));
    }
    return BATON_OK;
}

/* Floats from the first to one past the last element an operand of rows x cols (leading dimension
 * ld) touches, over `batch` matrices `stride` apart. */
static size_t extent(int rows, int cols, int ld, int64_t stride, int batch)
{
    if (rows == 0 || cols == 0 || batch == 0)
        return 0;
    return (size_t)(batch - 1) * (size_t)stride + (size_t)(rows - 1) * (size_t)ld + (size_t)cols;
}

/* The scratch of unmirrored operands: slot 0 for A, 1 for B, each at least n elements. */
static baton_status scratch(baton_backend *be, int slot, size_t n, uint16_t **out)
{
    cuda_ctx *c = ctx(be);
    if (c->bf16_scratch_n[slot] < n) {
        if (c->bf16_scratch[slot])
            be->ops->free(be, c->bf16_scratch[slot]);
        c->bf16_scratch[slot] = NULL;
        c->bf16_scratch_n[slot] = 0;
        BATON_TRY(be->ops->alloc(be, (void **)&c->bf16_scratch[slot], n * sizeof(uint16_t),
                                 "bf16 operand scratch"));
        c->bf16_scratch_n[slot] = n;
    }
    *out = c->bf16_scratch[slot];
    return BATON_OK;
}

/* *out = the bf16 values of the n floats at p: a kept mirror as it is, else converted first. */
static baton_status operand(baton_backend *be, int slot, const float *p, size_t n, const uint16_t **out)
{
    cuda_ctx *c = ctx(be);
    const cuda_mirror *m = find(c, p, n * sizeof(float));
    uint16_t *bf;
    if (m)
        bf = twin_of(m, p);
    else
        BATON_TRY(scratch(be, slot, n, &bf));
    if (!m || !m->kept)
        BATON_TRY(baton_kernel_to_bf16(bf, p, n, c->stream));
    *out = bf;
    return BATON_OK;
}

baton_status baton_cuda_gemm_bf16(baton_backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
                                  const float *A, int lda, int64_t stride_a, const float *B, int ldb,
                                  int64_t stride_b, float beta, float *C, int ldc, int64_t stride_c, int batch)
{
    const uint16_t *a16 = NULL, *b16 = NULL;
    if (K > 0) { /* K == 0 reads neither: C = beta C */
        BATON_TRY(operand(be, 0, A, extent(trans_a ? K : M, trans_a ? M : K, lda, stride_a, batch), &a16));
        BATON_TRY(operand(be, 1, B, extent(trans_b ? N : K, trans_b ? K : N, ldb, stride_b, batch), &b16));
    }
    cublasOperation_t ob = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, oa = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasHandle_t h = ctx(be)->blas;
    if (batch == 1)
        BATON_CUBLAS_CHECK(cublasGemmEx(h, ob, oa, N, M, K, &alpha, b16, CUDA_R_16BF, ldb, a16, CUDA_R_16BF, lda, &beta,
                                        C, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    else
        BATON_CUBLAS_CHECK(cublasGemmStridedBatchedEx(h, ob, oa, N, M, K, &alpha, b16, CUDA_R_16BF, ldb, stride_b, a16,
                                                      CUDA_R_16BF, lda, stride_a, &beta, C, CUDA_R_32F, ldc, stride_c,
                                                      batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return BATON_OK;
}
