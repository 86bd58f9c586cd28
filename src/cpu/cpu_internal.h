/* cpu_internal.h: the CPU backend's loop ops, shared between cpu_backend.c (the table) and cpu_ops.c. */
#ifndef BATON_CPU_INTERNAL_H
#define BATON_CPU_INTERNAL_H

#include "baton/backend.h"
#include "baton_config.h"

/* OpenMP pragmas; `omp simd` also works without OpenMP threads, as the build adds -fopenmp-simd. */
#define BATON_OMP_PRAGMA(x) _Pragma(#x)
/* Parallel for over a loop whose total work (elements times cheap operations) is in a variable
 * named `work`: only above ~16k, since a parallel region costs a few microseconds. */
#if BATON_HAVE_OPENMP
#define BATON_PARALLEL_FOR BATON_OMP_PRAGMA(omp parallel for schedule(static) if (work >= 16384))
#else
#define BATON_PARALLEL_FOR
#endif

/* Hot loops get an AVX2+FMA clone beside the baseline one where the compiler can (x86-64). */
#if BATON_HAVE_TARGET_CLONES
#define BATON_CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define BATON_CPU_CLONES
#endif

/* C (M,N) = alpha op(A) op(B) + beta C through OpenBLAS, or a plain loop in builds without BLAS. */
baton_status baton_cpu_gemm(baton_backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
                            const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* batch GEMMs at fixed strides. */
baton_status baton_cpu_gemm_batched(baton_backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
                                    const float *A, int lda, int64_t stride_a, const float *B, int ldb,
                                    int64_t stride_b, float beta, float *C, int ldc, int64_t stride_c, int batch);

/* One time step of a fused cell over all (b, j), through cell_math.h. */
baton_status baton_cpu_cell_forward(baton_backend *be, baton_cell cell, const baton_cell_fwd_args *a);
/* The backward of one time step, through cell_math.h. */
baton_status baton_cpu_cell_backward(baton_backend *be, baton_cell cell, const baton_cell_bwd_args *a);
/* y = alpha x + beta y. */
baton_status baton_cpu_axpby(baton_backend *be, float *y, const float *x, float alpha, float beta, size_t n);
/* out[j] += column sums of in (rows, cols). */
baton_status baton_cpu_colsum_add(baton_backend *be, float *out, const float *in, int rows, int cols);
/* *out = sum of squares, accumulated in double. */
baton_status baton_cpu_sumsq(baton_backend *be, float *out, const float *x, size_t n);
/* y = x * dropout scale from Philox. */
baton_status baton_cpu_dropout(baton_backend *be, float *y, const float *x, size_t n, float p, uint64_t seed,
                               uint32_t purpose, uint32_t counter);
/* out rows = table rows picked by ids. */
baton_status baton_cpu_embed_gather(baton_backend *be, float *out, const int *ids, const float *table, int n, int dim);
/* dtable rows += dout rows, in id order. */
baton_status baton_cpu_embed_scatter_add(baton_backend *be, float *dtable, const int *ids, const float *dout, int n,
                                         int dim);

#endif
