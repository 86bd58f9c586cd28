/* cuda_backend.c: the CUDA backend's context, memory and matrix products, and its ops table.
 * Handles and the stream live in a context behind baton_backend.impl; every op is enqueued on that
 * stream, and only downloads synchronise, so a training step returns nothing to the host but what
 * the caller downloads (the loss). GEMMs go to cuBLAS in fp32 with TF32 off unless asked for, so
 * fp32 comparisons with the CPU are meaningful. Row-major products are computed as their
 * column-major transposes: C^T = op(B)^T op(A)^T.
 * Status: compiled in every CUDA build; never yet run on a GPU. */
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/backend.h"
#include "baton/cuda_check.h"
#include "cuda_internal.h"
#include "kernels/kernels.h"
#include "kernels/misc_launch.h"

static cuda_ctx *ctx(baton_backend *be)
{
    return (cuda_ctx *)be->impl;
}

static baton_status cu_alloc(baton_backend *be, void **ptr, size_t bytes, const char *what)
{
    *ptr = NULL;
    cudaError_t e = cudaMalloc(ptr, bytes ? bytes : 256);
    if (e == cudaSuccess)
        return BATON_OK;
    size_t free_b = 0, total_b = 0;
    cudaGetLastError(); /* clear the sticky-free error before asking how much is left */
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess)
        free_b = total_b = 0;
    return BATON_ERROR(e == cudaErrorMemoryAllocation ? BATON_ERR_OOM : BATON_ERR_CUDA,
                       "out of memory: %s needs %.1f MiB (%zu bytes) of device memory; cudaMalloc failed (%s); %.1f of "
                       "%.1f MiB free on the device; %s",
                       what, bytes / 1048576.0, bytes, cudaGetErrorString(e), free_b / 1048576.0, total_b / 1048576.0,
                       be->alloc_hint ? be->alloc_hint : "lower the batch size or the model size");
}

static void cu_free(baton_backend *be, void *ptr)
{
    baton_cuda_bf16_forget(be, ptr);
    cudaFree(ptr); /* a failure here means the context is already gone; nothing left to release */
}

static baton_status cu_upload(baton_backend *be, void *dst, const void *src, size_t bytes)
{
    BATON_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx(be)->stream));
    /* the host buffer may change as soon as we return: wait for the copy */
    BATON_CUDA_CHECK(cudaStreamSynchronize(ctx(be)->stream));
    return baton_cuda_bf16_refresh(be, dst, bytes);
}

static baton_status cu_download(baton_backend *be, void *dst, const void *src, size_t bytes)
{
    BATON_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx(be)->stream));
    BATON_CUDA_CHECK(cudaStreamSynchronize(ctx(be)->stream));
    return BATON_OK;
}

static baton_status cu_copy(baton_backend *be, void *dst, const void *src, size_t bytes)
{
    if (bytes)
        BATON_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx(be)->stream));
    return baton_cuda_bf16_refresh(be, dst, bytes); /* a kept mirror stays current (an rnn's initial state) */
}

static baton_status cu_zero(baton_backend *be, void *ptr, size_t bytes)
{
    if (bytes)
        BATON_CUDA_CHECK(cudaMemsetAsync(ptr, 0, bytes, ctx(be)->stream));
    return baton_cuda_bf16_refresh(be, ptr, bytes);
}

static baton_status cu_sync(baton_backend *be)
{
    BATON_CUDA_CHECK(cudaStreamSynchronize(ctx(be)->stream));
    return BATON_OK;
}

static baton_status cu_gemm(baton_backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
                            const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    BATON_REQUIRE(M >= 0 && N >= 0 && K >= 0, "gemm: negative size M=%d N=%d K=%d", M, N, K);
    if (M == 0 || N == 0)
        return BATON_OK;
    if (be->precision == BATON_PRECISION_BF16)
        return baton_cuda_gemm_bf16(be, trans_a, trans_b, M, N, K, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
    BATON_CUBLAS_CHECK(cublasSgemm(ctx(be)->blas, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                   trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha, B, ldb, A, lda, &beta, C,
                                   ldc));
    return BATON_OK;
}

static baton_status cu_gemm_batched(baton_backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
                                    const float *A, int lda, int64_t stride_a, const float *B, int ldb,
                                    int64_t stride_b, float beta, float *C, int ldc, int64_t stride_c, int batch)
{
    BATON_REQUIRE(M >= 0 && N >= 0 && K >= 0 && batch >= 0, "gemm_batched: negative size");
    if (M == 0 || N == 0 || batch == 0)
        return BATON_OK;
    if (be->precision == BATON_PRECISION_BF16)
        return baton_cuda_gemm_bf16(be, trans_a, trans_b, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b, beta, C,
                                    ldc, stride_c, batch);
    BATON_CUBLAS_CHECK(cublasSgemmStridedBatched(ctx(be)->blas, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                                 trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha, B, ldb,
                                                 stride_b, A, lda, stride_a, &beta, C, ldc, stride_c, batch));
    return BATON_OK;
}

static baton_status cu_cell_forward(baton_backend *be, baton_cell cell, const baton_cell_fwd_args *a)
{
    return baton_kernel_cell_forward(cell, a, ctx(be)->stream);
}

static baton_status cu_cell_backward(baton_backend *be, baton_cell cell, const baton_cell_bwd_args *a)
{
    return baton_kernel_cell_backward(cell, a, ctx(be)->stream);
}

static baton_status cu_timer_mark(baton_backend *be, int slot)
{
    BATON_REQUIRE(slot >= 0 && slot < BATON_TIMER_SLOTS, "timer mark %d: expected 0..%d", slot, BATON_TIMER_SLOTS - 1);
    BATON_CUDA_CHECK(cudaEventRecord(ctx(be)->marks[slot], ctx(be)->stream));
    return BATON_OK;
}

static baton_status cu_timer_elapsed(baton_backend *be, int a, int b, float *ms)
{
    BATON_REQUIRE(a >= 0 && a < BATON_TIMER_SLOTS && b >= 0 && b < BATON_TIMER_SLOTS,
                  "timer marks %d, %d: expected 0..%d", a, b, BATON_TIMER_SLOTS - 1);
    BATON_CUDA_CHECK(cudaEventSynchronize(ctx(be)->marks[b]));
    BATON_CUDA_CHECK(cudaEventElapsedTime(ms, ctx(be)->marks[a], ctx(be)->marks[b]));
    return BATON_OK;
}

static baton_status cu_memory_used(baton_backend *be, size_t *bytes)
{
    size_t free_b = 0, total_b = 0;
    BATON_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    *bytes = ctx(be)->free_at_start > free_b ? ctx(be)->free_at_start - free_b : 0;
    return BATON_OK;
}

static void cu_destroy(baton_backend *be)
{
    cuda_ctx *c = ctx(be);
    if (!c)
        return;
    if (c->stream)
        cudaStreamSynchronize(c->stream); /* staged copies may still read the pinned buffers */
    for (int i = 0; i < BATON_TIMER_SLOTS; i++)
        if (c->marks[i])
            cudaEventDestroy(c->marks[i]);
    for (int i = 0; i < BATON_CUDA_STAGES; i++) {
        if (c->stage_done[i])
            cudaEventDestroy(c->stage_done[i]);
        if (c->stage[i])
            cudaFreeHost(c->stage[i]);
    }
    if (c->blas_workspace)
        cudaFree(c->blas_workspace);
    if (c->sumsq_scratch)
        cudaFree(c->sumsq_scratch);
    if (c->embed_scratch)
        cudaFree(c->embed_scratch);
    for (int i = 0; i < c->n_mirrors; i++)
        if (c->mirrors[i].root)
            cudaFree(c->mirrors[i].bf);
    free(c->mirrors);
    for (int i = 0; i < 2; i++)
        if (c->bf16_scratch[i])
            cudaFree(c->bf16_scratch[i]);
    if (c->blas)
        cublasDestroy(c->blas);
    if (c->stream)
        cudaStreamDestroy(c->stream);
    free(c);
    be->impl = NULL;
}

/* "cuda:0 NVIDIA H200 (132 SMs, 140.4 GiB, sm_90)" into be->description, for the logs. */
static baton_status describe(baton_backend *be, baton_precision precision)
{
    int dev = 0;
    struct cudaDeviceProp p;
    BATON_CUDA_CHECK(cudaGetDevice(&dev));
    BATON_CUDA_CHECK(cudaGetDeviceProperties(&p, dev));
    snprintf(be->description, sizeof be->description, "cuda:%d %s (%d SMs, %.1f GiB, sm_%d%d%s)", dev, p.name,
             p.multiProcessorCount, p.totalGlobalMem / 1073741824.0, p.major, p.minor,
             precision == BATON_PRECISION_TF32   ? ", TF32 GEMMs"
             : precision == BATON_PRECISION_BF16 ? ", bf16 GEMMs"
                                                 : "");
    return BATON_OK;
}

baton_status baton_cuda_backend_init(baton_backend *be, const baton_ops *ops, baton_precision precision)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0)
        return BATON_ERROR(BATON_ERR_UNSUPPORTED, "device 'cuda': no usable GPU (%s)",
                           e != cudaSuccess ? cudaGetErrorString(e) : "no devices");
    cuda_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return BATON_ERROR(BATON_ERR_OOM, "cuda backend: out of host memory");
    be->impl = c;
    be->ops = ops;
    BATON_CUDA_CHECK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    BATON_CUBLAS_CHECK(cublasCreate(&c->blas));
    BATON_CUBLAS_CHECK(cublasSetStream(c->blas, c->stream));
    BATON_CUBLAS_CHECK(cublasSetMathMode(c->blas, precision == BATON_PRECISION_TF32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    for (int i = 0; i < BATON_TIMER_SLOTS; i++)
        BATON_CUDA_CHECK(cudaEventCreate(&c->marks[i]));
    for (int i = 0; i < BATON_CUDA_STAGES; i++)
        BATON_CUDA_CHECK(cudaEventCreateWithFlags(&c->stage_done[i], cudaEventDisableTiming));
    size_t total_b = 0;
    BATON_CUDA_CHECK(cudaMemGetInfo(&c->free_at_start, &total_b));
    BATON_TRY(cu_alloc(be, (void **)&c->sumsq_scratch, BATON_SUMSQ_BLOCKS * sizeof(double), "sum-of-squares scratch"));
    BATON_TRY(cu_alloc(be, &c->blas_workspace, BATON_CUBLAS_WORKSPACE, "cuBLAS workspace"));
    BATON_CUBLAS_CHECK(cublasSetWorkspace(c->blas, c->blas_workspace, BATON_CUBLAS_WORKSPACE));
    be->threads = 1;
    return describe(be, precision);
}

/* The part of the ops table this file provides; cuda_ops.c adds the rest. */
void baton_cuda_fill_core_ops(baton_ops *ops)
{
    ops->name = "cuda";
    ops->destroy = cu_destroy;
    ops->alloc = cu_alloc;
    ops->free = cu_free;
    ops->upload = cu_upload;
    ops->download = cu_download;
    ops->copy = cu_copy;
    ops->zero = cu_zero;
    ops->sync = cu_sync;
    ops->gemm = cu_gemm;
    ops->gemm_batched = cu_gemm_batched;
    ops->stage_reserve = baton_cuda_stage_reserve;
    ops->upload_async = baton_cuda_upload_async;
    ops->graph_begin = baton_cuda_graph_begin;
    ops->graph_end = baton_cuda_graph_end;
    ops->graph_launch = baton_cuda_graph_launch;
    ops->graph_free = baton_cuda_graph_free;
    ops->bf16_mirror = baton_cuda_bf16_mirror;
    ops->bf16_twin = baton_cuda_bf16_twin;
    ops->cell_forward = cu_cell_forward;
    ops->cell_backward = cu_cell_backward;
    ops->recur_plan = baton_cuda_recur_plan;
    ops->recur_forward = baton_cuda_recur_forward;
    ops->recur_backward = baton_cuda_recur_backward;
    ops->recur_wave_forward = baton_cuda_recur_wave_forward;
    ops->recur_wave_backward = baton_cuda_recur_wave_backward;
    ops->timer_mark = cu_timer_mark;
    ops->timer_elapsed = cu_timer_elapsed;
    ops->memory_used = cu_memory_used;
}
