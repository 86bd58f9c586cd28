/* cuda_internal.h: the CUDA backend's context, shared by its files. */
#ifndef BATON_CUDA_INTERNAL_H
#define BATON_CUDA_INTERNAL_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "baton/backend.h"

typedef struct {
    cudaStream_t stream; /* every op of the backend runs on it */
    cublasHandle_t blas;
    double *sumsq_scratch; /* (BATON_SUMSQ_BLOCKS) per-block partial sums */
    void *embed_scratch;   /* sort buffers of the embedding backward, sized at setup by embed_reserve */
    size_t embed_scratch_bytes;
    int embed_scratch_n;   /* the largest n it holds; a larger n in a step is an error */
    cudaEvent_t marks[BATON_TIMER_SLOTS]; /* timer marks of the benchmarks */
    size_t free_at_start;  /* device bytes free once the handles existed */
} cuda_ctx;

/* Creates the stream and the cuBLAS handle (TF32 tensor cores only in tf32 precision). */
baton_status baton_cuda_backend_init(baton_backend *be, const baton_ops *ops, baton_precision precision);

/* Sets memory, GEMM and recurrent-cell entries of an ops table. */
void baton_cuda_fill_core_ops(baton_ops *ops);

/* Creates the CUDA backend on the current device, its GEMMs in `precision`. */
baton_status baton_cuda_backend_create(baton_backend *be, baton_precision precision);

#endif
