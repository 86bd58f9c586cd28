/* cuda_internal.h: the CUDA backend's context, shared by its files. */
#ifndef BATON_CUDA_INTERNAL_H
#define BATON_CUDA_INTERNAL_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "baton/backend.h"

#include <stdint.h>

/* A bf16 mirror of device floats (cuda_bf16.c). */
typedef struct {
    const char *f;  /* the fp32 range: bytes at f */
    size_t bytes;
    uint16_t *bf;   /* (bytes / 4) its bf16 mirror */
    int kept;       /* 1: its writers keep bf current; 0: converted at each GEMM that reads it */
    int root;       /* 1: bf is its own allocation, freed with f; 0: a range inside another mirror */
} cuda_mirror;

/* Pinned staging buffers of upload_async: the host runs at most this many uploads ahead. */
#define BATON_CUDA_STAGES 4

/* cuBLAS's workspace, fixed so that a captured GEMM allocates nothing (NVIDIA's guidance for
 * graphs: 4 MiB, or 32 MiB on sm_90 for its larger tiles). */
#define BATON_CUBLAS_WORKSPACE (32u << 20)

typedef struct {
    cudaStream_t stream; /* every op of the backend runs on it */
    cublasHandle_t blas;
    double *sumsq_scratch; /* (BATON_SUMSQ_BLOCKS) per-block partial sums */
    void *embed_scratch;   /* sort buffers of the embedding backward, sized at setup by embed_reserve */
    size_t embed_scratch_bytes;
    int embed_scratch_n;   /* the largest n it holds; a larger n in a step is an error */
    cudaEvent_t marks[BATON_TIMER_SLOTS]; /* timer marks of the benchmarks */
    size_t free_at_start;  /* device bytes free once the handles existed */
    cuda_mirror *mirrors;  /* (n_mirrors) bf16 precision: where GEMM operands are read from, */
    int n_mirrors, cap_mirrors; /* registered at setup: the parameters, the arena, kept ranges in it */
    void *blas_workspace;        /* (BATON_CUBLAS_WORKSPACE bytes) cuBLAS's, set on the handle */
    void *stage[BATON_CUDA_STAGES];          /* (stage_bytes each) pinned host staging of upload_async */
    cudaEvent_t stage_done[BATON_CUDA_STAGES]; /* the device has read stage[i] */
    int stage_next;
    size_t stage_bytes;
    uint16_t *bf16_scratch[2];   /* converted A and B operands that lie in no mirror */
    size_t bf16_scratch_n[2];    /* their capacity in elements */
} cuda_ctx;

/* Creates the stream and the cuBLAS handle (TF32 tensor cores only in tf32 precision). */
baton_status baton_cuda_backend_init(baton_backend *be, const baton_ops *ops, baton_precision precision);

/* Sets memory, GEMM and recurrent-cell entries of an ops table. */
void baton_cuda_fill_core_ops(baton_ops *ops);

/* bf16_mirror of the ops table (backend.h). */
baton_status baton_cuda_bf16_mirror(baton_backend *be, const float *f, size_t n, int kept);

/* bf16_twin of the ops table (backend.h). */
uint16_t *baton_cuda_bf16_twin(baton_backend *be, const float *f);

/* The bf16 element that mirrors *f where its innermost mirror is kept (its writers keep it
 * current), else NULL: what a kernel that writes f should write beside it. */
uint16_t *baton_cuda_bf16_kept_twin(baton_backend *be, const float *f);

/* Drops the mirror of the allocation at ptr (and the ranges inside it) and frees its memory. */
void baton_cuda_bf16_forget(baton_backend *be, const void *ptr);

/* Rewrites the kept mirrors of the floats in [dst, dst + bytes) after the host wrote them. */
baton_status baton_cuda_bf16_refresh(baton_backend *be, const void *dst, size_t bytes);

/* gemm_batched (backend.h) with A and B read as bf16 through the mirrors, fp32 C and accumulation. */
baton_status baton_cuda_gemm_bf16(baton_backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
                                  const float *A, int lda, int64_t stride_a, const float *B, int ldb,
                                  int64_t stride_b, float beta, float *C, int ldc, int64_t stride_c, int batch);

/* recur_plan, recur_forward, recur_backward, recur_wave_forward, recur_wave_backward of the ops
 * table (backend.h), in cuda_recur.c. */
baton_status baton_cuda_recur_plan(baton_backend *be, baton_recur_version v, baton_cell cell, int Hd, int dirs,
                                   int *units, char *why, size_t why_len);
baton_status baton_cuda_recur_forward(baton_backend *be, baton_recur_version v, const baton_recur_args *a);
baton_status baton_cuda_recur_backward(baton_backend *be, baton_recur_version v, const baton_recur_args *a);
baton_status baton_cuda_recur_wave_forward(baton_backend *be, const baton_recur_wave *w);
baton_status baton_cuda_recur_wave_backward(baton_backend *be, const baton_recur_wave *w);

/* stage_reserve, upload_async, graph_begin, graph_end, graph_launch, graph_free of the ops table
 * (backend.h), in cuda_graph.c. */
baton_status baton_cuda_stage_reserve(baton_backend *be, size_t bytes);
baton_status baton_cuda_upload_async(baton_backend *be, void *dst, const void *src, size_t bytes);
baton_status baton_cuda_graph_begin(baton_backend *be);
baton_status baton_cuda_graph_end(baton_backend *be, void **graph);
baton_status baton_cuda_graph_launch(baton_backend *be, void *graph);
void baton_cuda_graph_free(baton_backend *be, void *graph);

/* Creates the CUDA backend on the current device, its GEMMs in `precision`. */
baton_status baton_cuda_backend_create(baton_backend *be, baton_precision precision);

#endif
