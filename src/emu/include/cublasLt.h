/* cublasLt.h (baton's CUDA emulation): the cuBLASLt subset baton's fused GEMMs use: one matmul
 * D = epilogue(alpha op(A) op(B) + beta C [+ bias]) on column-major layouts (CUBLASLT_ORDER_COL
 * only), strided batches, the epilogues DEFAULT, RELU, BIAS, RELU_BIAS, GELU and GELU_BIAS (GELU
 * in its tanh form), alpha and beta on the host. Supported types, as cuBLASLt's table has them
 * for fp32 compute: A, B, C, D all CUDA_R_32F (compute CUBLAS_COMPUTE_32F, _FAST_16BF, or
 * _FAST_TF32, which rounds the inputs to TF32), or A, B CUDA_R_16BF with C, D both CUDA_R_32F or
 * both CUDA_R_16BF (compute CUBLAS_COMPUTE_32F or _FAST_16BF); scale type CUDA_R_32F. Products
 * accumulate in fp32 on the CPU (see cublas_v2.h); a bf16 D is rounded to nearest even at the end.
 *
 * Validation follows cuBLASLt: shapes or leading dimensions that do not fit, or differing batch
 * counts, return CUBLAS_STATUS_INVALID_VALUE; types, orders and epilogues outside the subset
 * CUBLAS_STATUS_NOT_SUPPORTED. Attributes outside the subset are refused by SetAttribute with
 * CUBLAS_STATUS_NOT_SUPPORTED rather than ignored. Names, values and attribute sizes are cuBLASLt's. */
#ifndef BATON_EMU_CUBLASLT_H
#define BATON_EMU_CUBLASLT_H

#include <stddef.h>
#include <stdint.h>

#include "cublas_v2.h"
#include "cuda_runtime_api.h"
#include "library_types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cublasLtContext *cublasLtHandle_t;
typedef struct baton_emu_lt_matmul_desc *cublasLtMatmulDesc_t;
typedef struct baton_emu_lt_layout *cublasLtMatrixLayout_t;
typedef struct baton_emu_lt_preference *cublasLtMatmulPreference_t;

/* An algorithm as cublasLtMatmulAlgoGetHeuristic returns it; the emulation has only one. */
typedef struct {
    uint64_t data[8];
} cublasLtMatmulAlgo_t;

typedef struct {
    cublasLtMatmulAlgo_t algo;
    size_t workspaceSize;
    cublasStatus_t state;
    float wavesCount;
    int reserved[4];
} cublasLtMatmulHeuristicResult_t;

typedef enum { CUBLASLT_ORDER_COL = 0, CUBLASLT_ORDER_ROW = 1 } cublasLtOrder_t;

typedef enum { CUBLASLT_POINTER_MODE_HOST = 0, CUBLASLT_POINTER_MODE_DEVICE = 1 } cublasLtPointerMode_t;

/* Attribute: its type in the attribute buffer. */
typedef enum {
    CUBLASLT_MATRIX_LAYOUT_TYPE = 0,                 /* uint32_t (cudaDataType) */
    CUBLASLT_MATRIX_LAYOUT_ORDER = 1,                /* int32_t (cublasLtOrder_t); COL only */
    CUBLASLT_MATRIX_LAYOUT_ROWS = 2,                 /* uint64_t */
    CUBLASLT_MATRIX_LAYOUT_COLS = 3,                 /* uint64_t */
    CUBLASLT_MATRIX_LAYOUT_LD = 4,                   /* int64_t */
    CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT = 5,          /* int32_t, default 1 */
    CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET = 6  /* int64_t elements, default 0 */
} cublasLtMatrixLayoutAttribute_t;

typedef enum {
    CUBLASLT_MATMUL_DESC_COMPUTE_TYPE = 0,   /* int32_t (cublasComputeType_t) */
    CUBLASLT_MATMUL_DESC_SCALE_TYPE = 1,     /* int32_t (cudaDataType) */
    CUBLASLT_MATMUL_DESC_POINTER_MODE = 2,   /* int32_t (cublasLtPointerMode_t); HOST only */
    CUBLASLT_MATMUL_DESC_TRANSA = 3,         /* int32_t (cublasOperation_t) */
    CUBLASLT_MATMUL_DESC_TRANSB = 4,         /* int32_t (cublasOperation_t) */
    CUBLASLT_MATMUL_DESC_EPILOGUE = 7,       /* uint32_t (cublasLtEpilogue_t) */
    CUBLASLT_MATMUL_DESC_BIAS_POINTER = 8,   /* const void *: D-rows elements in device memory */
    CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE = 26 /* int32_t (cudaDataType); -1 (default): D's type */
} cublasLtMatmulDescAttributes_t;

/* Applied to alpha op(A) op(B) + beta C; a bias adds bias[i] to row i of every column of D, the
 * same vector for every matrix of a batch. */
typedef enum {
    CUBLASLT_EPILOGUE_DEFAULT = 1,
    CUBLASLT_EPILOGUE_RELU = 2,
    CUBLASLT_EPILOGUE_BIAS = 4,
    CUBLASLT_EPILOGUE_RELU_BIAS = 6,
    CUBLASLT_EPILOGUE_GELU = 32,     /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
    CUBLASLT_EPILOGUE_GELU_BIAS = 36
} cublasLtEpilogue_t;

typedef enum {
    CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1 /* uint64_t, default 0 */
} cublasLtMatmulPreferenceAttributes_t;

cublasStatus_t cublasLtCreate(cublasLtHandle_t *handle);
cublasStatus_t cublasLtDestroy(cublasLtHandle_t handle);

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *desc, cublasComputeType_t computeType,
                                        cudaDataType_t scaleType);
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t desc);
/* sizeInBytes must be the attribute's size (else CUBLAS_STATUS_INVALID_VALUE). */
cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr,
                                              const void *buf, size_t sizeInBytes);
/* sizeInBytes 0: *sizeWritten = the attribute's size; else it must be that size. */
cublasStatus_t cublasLtMatmulDescGetAttribute(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr,
                                              void *buf, size_t sizeInBytes, size_t *sizeWritten);

/* rows x cols of `type`, column-major with leading dimension ld (checked at the matmul). */
cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *layout, cudaDataType type, uint64_t rows,
                                          uint64_t cols, int64_t ld);
cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t layout);
cublasStatus_t cublasLtMatrixLayoutSetAttribute(cublasLtMatrixLayout_t layout, cublasLtMatrixLayoutAttribute_t attr,
                                                const void *buf, size_t sizeInBytes);
cublasStatus_t cublasLtMatrixLayoutGetAttribute(cublasLtMatrixLayout_t layout, cublasLtMatrixLayoutAttribute_t attr,
                                                void *buf, size_t sizeInBytes, size_t *sizeWritten);

cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *pref);
cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref);
cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t pref,
                                                    cublasLtMatmulPreferenceAttributes_t attr, const void *buf,
                                                    size_t sizeInBytes);

/* One result (state CUBLAS_STATUS_SUCCESS, workspaceSize 0) when cublasLtMatmul would accept the
 * problem; else that status, and *returnAlgoCount 0. */
cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc,
                                              cublasLtMatrixLayout_t Adesc, cublasLtMatrixLayout_t Bdesc,
                                              cublasLtMatrixLayout_t Cdesc, cublasLtMatrixLayout_t Ddesc,
                                              cublasLtMatmulPreference_t pref, int requestedAlgoCount,
                                              cublasLtMatmulHeuristicResult_t heuristicResultsArray[],
                                              int *returnAlgoCount);

/* D = epilogue(alpha op(A) op(B) + beta C [+ bias]) on `stream`; alpha and beta are host floats.
 * C may be D (then Cdesc must describe D's layout); C is not read when beta == 0. algo may be
 * NULL; the workspace is unused (an emulated product needs none). */
cublasStatus_t cublasLtMatmul(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, const void *alpha, const void *A,
                              cublasLtMatrixLayout_t Adesc, const void *B, cublasLtMatrixLayout_t Bdesc,
                              const void *beta, const void *C, cublasLtMatrixLayout_t Cdesc, void *D,
                              cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t *algo, void *workspace,
                              size_t workspaceSizeInBytes, cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
