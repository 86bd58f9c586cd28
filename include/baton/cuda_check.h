/* cuda_check.h: return-on-error checks for CUDA runtime, cuBLAS and cuDNN calls and for kernel
 * launches, usable from host C11 (gcc) and from .cu files (nvcc).
 *
 * Every macro is a statement, `do { ... } while (0)`, that evaluates its call once and, on
 * failure, returns a baton_status from the enclosing function after BATON_ERROR has printed one
 * line naming the call as written, the library's error string and name, and the file:line of the
 * check. So the enclosing function must return baton_status.
 *
 * cuBLAS and cuDNN are optional in a build, so their macros exist only when their headers were
 * included first: BATON_CUBLAS_CHECK when cublas_v2.h is (it defines CUBLAS_V2_H_),
 * BATON_CUDNN_CHECK when cudnn.h is (it defines CUDNN_VERSION). Those two parts sit outside the
 * include guard on purpose: a file that includes cuda_check.h early (say, through another baton
 * header) and cublas_v2.h later gets the cuBLAS macro by including cuda_check.h once more. */
#ifndef BATON_CUDA_CHECK_H
#define BATON_CUDA_CHECK_H

/* The runtime API header is plain C (cuda_runtime.h adds C++ templates under nvcc only). */
#include <cuda_runtime_api.h>

#include "baton/status.h"

/* Runs a CUDA runtime call; returns BATON_ERR_CUDA from the caller unless it gave cudaSuccess. */
#define BATON_CUDA_CHECK(call)                                                                      \
    do {                                                                                            \
        cudaError_t baton_cuda_err_ = (call);                                                       \
        if (baton_cuda_err_ != cudaSuccess)                                                         \
            return BATON_ERROR(BATON_ERR_CUDA, "%s failed: %s (%s)", #call,                         \
                               cudaGetErrorString(baton_cuda_err_), cudaGetErrorName(baton_cuda_err_)); \
    } while (0)

/* Put right after a kernel launch: returns BATON_ERR_CUDA when the launch was rejected (bad grid,
 * too many resources, no image for this GPU's SM). cudaGetLastError also reports, and clears, a
 * non-sticky error left by an earlier call; a fault inside a running kernel surfaces only at the
 * next synchronising call, which its own BATON_CUDA_CHECK catches. */
#define BATON_CUDA_CHECK_LAUNCH()                                                                   \
    do {                                                                                            \
        cudaError_t baton_cuda_err_ = cudaGetLastError();                                           \
        if (baton_cuda_err_ != cudaSuccess)                                                         \
            return BATON_ERROR(BATON_ERR_CUDA, "kernel launch failed: %s (%s)",                     \
                               cudaGetErrorString(baton_cuda_err_), cudaGetErrorName(baton_cuda_err_)); \
    } while (0)

#endif /* BATON_CUDA_CHECK_H */

#if defined(CUBLAS_V2_H_) && !defined(BATON_CUBLAS_CHECK)
/* Runs a cuBLAS call; returns BATON_ERR_CUBLAS from the caller unless it gave
 * CUBLAS_STATUS_SUCCESS. */
#define BATON_CUBLAS_CHECK(call)                                                                    \
    do {                                                                                            \
        cublasStatus_t baton_cublas_st_ = (call);                                                   \
        if (baton_cublas_st_ != CUBLAS_STATUS_SUCCESS)                                              \
            return BATON_ERROR(BATON_ERR_CUBLAS, "%s failed: %s (%s)", #call,                       \
                               cublasGetStatusString(baton_cublas_st_),                             \
                               cublasGetStatusName(baton_cublas_st_));                              \
    } while (0)
#endif

#if defined(CUDNN_VERSION) && !defined(BATON_CUDNN_CHECK)
/* Runs a cuDNN call; returns BATON_ERR_CUDNN from the caller unless it gave CUDNN_STATUS_SUCCESS.
 * cudnnGetErrorString already returns the status name (e.g. CUDNN_STATUS_BAD_PARAM), and the
 * numeric code tells apart the sub-codes cuDNN 9 adds (e.g. BAD_PARAM_NULL_POINTER). */
#define BATON_CUDNN_CHECK(call)                                                                     \
    do {                                                                                            \
        cudnnStatus_t baton_cudnn_st_ = (call);                                                     \
        if (baton_cudnn_st_ != CUDNN_STATUS_SUCCESS)                                                \
            return BATON_ERROR(BATON_ERR_CUDNN, "%s failed: %s (%d)", #call,                        \
                               cudnnGetErrorString(baton_cudnn_st_), (int)baton_cudnn_st_);         \
    } while (0)
#endif
