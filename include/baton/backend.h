/* backend.h: the ops table, the only seam between the model code and a device.
 *
 * Model and layer code is written once against baton_ops; a backend (cpu, cuda) fills the table
 * and keeps its handles, streams and workspaces behind `impl`. Every pointer an op takes is a
 * device pointer of that backend (host memory for cpu). Matrices are row-major, as in C and
 * PyTorch; `trans` flags mean the stored matrix is used transposed. Ops return a status; on an
 * asynchronous device a failure may surface at the next synchronising op. */
#ifndef BATON_BACKEND_H
#define BATON_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "baton/cell_math.h"
#include "baton/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct baton_backend baton_backend;

typedef struct {
    const char *name;
    void (*destroy)(baton_backend *be);

    /* ---- memory: only at setup, never inside a step ---- */
    baton_status (*alloc)(baton_backend *be, void **ptr, size_t bytes, const char *what);
    void (*free)(baton_backend *be, void *ptr);
    baton_status (*upload)(baton_backend *be, void *dst, const void *host_src, size_t bytes);
    baton_status (*download)(baton_backend *be, void *host_dst, const void *src, size_t bytes);
    baton_status (*copy)(baton_backend *be, void *dst, const void *src, size_t bytes);
    baton_status (*zero)(baton_backend *be, void *ptr, size_t bytes);
    baton_status (*sync)(baton_backend *be);

    /* ---- matrix products ---- */
    /* C (M,N) = alpha op(A) op(B) + beta C, with op(A) (M,K) and op(B) (K,N). */
    baton_status (*gemm)(baton_backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
                         const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
    /* batch independent gemms; matrix i starts at A + i*stride_a, B + i*stride_b, C + i*stride_c. */
    baton_status (*gemm_batched)(baton_backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
                                 const float *A, int lda, int64_t stride_a, const float *B, int ldb,
                                 int64_t stride_b, float beta, float *C, int ldc, int64_t stride_c, int batch);

    /* ---- fused recurrent cell, one time step of one direction (see cell_math.h) ---- */
    baton_status (*cell_forward)(baton_backend *be, baton_cell cell, const baton_cell_fwd_args *args);
    baton_status (*cell_backward)(baton_backend *be, baton_cell cell, const baton_cell_bwd_args *args);

    /* ---- elementwise and reductions ---- */
    /* y[i] = alpha x[i] + beta y[i] for n elements (beta 0 assigns, never reads y). */
    baton_status (*axpby)(baton_backend *be, float *y, const float *x, float alpha, float beta, size_t n);
    /* out[j] += sum_i in[i*cols + j]: bias gradients. */
    baton_status (*colsum_add)(baton_backend *be, float *out, const float *in, int rows, int cols);
    /* *out (one float, device) = sum_i x[i]^2, accumulated in double on the host path. */
    baton_status (*sumsq)(baton_backend *be, float *out, const float *x, size_t n);
    /* y[i] = x[i] * dropout_scale(seed, purpose, counter, i, p); the same call masks a gradient. */
    baton_status (*dropout)(baton_backend *be, float *y, const float *x, size_t n, float p, uint64_t seed,
                            uint32_t purpose, uint32_t counter);

    /* ---- embeddings ---- */
    /* out[i, :] = table[ids[i], :] for n ids (out (n, dim), table (V, dim)). */
    baton_status (*embed_gather)(baton_backend *be, float *out, const int *ids, const float *table, int n,
                                 int dim);
    /* dtable[ids[i], :] += dout[i, :], in a fixed order so that results are reproducible. */
    baton_status (*embed_scatter_add)(baton_backend *be, float *dtable, const int *ids, const float *dout, int n,
                                      int dim);
} baton_ops;

/* A device: its ops and its private state (handles, streams, workspaces). */
struct baton_backend {
    const baton_ops *ops;
    void *impl;
    int threads; /* host threads the backend may use (cpu) */
};

/* Creates the backend named `name` ("cpu"; "cuda" where built). threads <= 0 means all cores. */
baton_status baton_backend_create(baton_backend *be, const char *name, int threads);

/* Releases what baton_backend_create acquired. */
void baton_backend_destroy(baton_backend *be);

/* Comma-separated names of the backends this build contains. */
const char *baton_backend_list(void);

/* Creates the CPU reference backend (OpenBLAS sgemm and C loops). */
baton_status baton_cpu_backend_create(baton_backend *be, int threads);

#ifdef __cplusplus
}
#endif

#endif
