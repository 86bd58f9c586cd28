/* cublas.cc: the cuBLAS GEMMs baton calls, on the CPU (see include/cublas_v2.h).
 *
 * Each call is validated as cuBLAS validates it, then every matrix it will touch is checked to
 * lie inside one device allocation (where cuBLAS would fault on the GPU, the emulation names the
 * operand and the allocation at the call), then the product is enqueued on the handle's stream. */
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "baton_config.h"
#include "cublas_v2.h"
#include "cuda_bf16.h"
#include "emu_internal.h"
#if BATON_HAVE_BLAS
#include <cblas.h>
#endif

struct baton_emu_cublas {
    cudaStream_t stream = nullptr;
    cublasMath_t math = CUBLAS_DEFAULT_MATH;
};

namespace baton_emu {

static std::set<cublasHandle_t> handles;

size_t elem_bytes(cudaDataType t)
{
    return t == CUDA_R_32F ? 4 : 2;
}

bool operand_in_bounds(const char *api, const operand &o, int batch)
{
    if (o.rows == 0 || o.cols == 0)
        return true;
    size_t span = ((size_t)(o.cols - 1) * (size_t)o.ld + (size_t)o.rows) * elem_bytes(o.type);
    for (int i = 0; i < batch; i++) {
        const char *at = (const char *)o.p + (long long)i * o.stride * (long long)elem_bytes(o.type);
        std::string why;
        if (!mem_in_device(at) || !mem_range_ok(at, span, &why)) {
            report("%s: %s (%d x %d, leading dimension %d%s) %s: %s", api, o.role, o.rows, o.cols, o.ld,
                   batch > 1 ? ", one matrix of the batch" : "", mem_in_device(at) ? "reaches outside its allocation" : "is not device memory",
                   mem_in_device(at) ? why.c_str() : "a host pointer passed to cuBLAS?");
            return false;
        }
    }
    return true;
}

static float tf32(float x)
{
    uint32_t u;
    std::memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) != 0x7f800000u)
        u = (u + 0xfffu + ((u >> 13) & 1u)) & ~0x1fffu;
    std::memcpy(&x, &u, 4);
    return x;
}

const float *as_float(const operand &o, const void *p, int prec, std::vector<float> &buf)
{
    if (o.type == CUDA_R_32F && prec != P_TF32)
        return (const float *)p;
    size_t n = (size_t)(o.cols - 1) * (size_t)o.ld + (size_t)o.rows;
    buf.resize(n);
    for (int c = 0; c < o.cols; c++)
        for (int r = 0; r < o.rows; r++) {
            size_t i = (size_t)c * o.ld + r;
            buf[i] = o.type == CUDA_R_16BF ? __bfloat162float(((const __nv_bfloat16 *)p)[i])
                                           : tf32(((const float *)p)[i]);
        }
    return buf.data();
}

void product(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha, const float *A,
             int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    if (k == 0) {
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++)
                C[(size_t)j * ldc + i] = beta == 0.0f ? 0.0f : beta * C[(size_t)j * ldc + i];
        return;
    }
#if BATON_HAVE_BLAS
    cblas_sgemm(CblasColMajor, ta == CUBLAS_OP_N ? CblasNoTrans : CblasTrans,
                tb == CUBLAS_OP_N ? CblasNoTrans : CblasTrans, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
#else
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            float acc = 0.0f;
            for (int p = 0; p < k; p++) {
                float a = ta == CUBLAS_OP_N ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p];
                float b = tb == CUBLAS_OP_N ? B[(size_t)j * ldb + p] : B[(size_t)p * ldb + j];
                acc += a * b;
            }
            float *c = &C[(size_t)j * ldc + i];
            *c = beta == 0.0f ? alpha * acc : alpha * acc + beta * *c;
        }
#endif
}

static cublasStatus_t gemm(const char *api, cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                           int n, int k, const float *alpha, const void *A, cudaDataType at, int lda, long long sa,
                           const void *B, cudaDataType bt, int ldb, long long sb, const float *beta, void *C,
                           cudaDataType ct, int ldc, long long sc, int batch, int fast_tf32)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (!handles.count(h))
        return CUBLAS_STATUS_NOT_INITIALIZED;
    auto ok_op = [](cublasOperation_t o) { return o == CUBLAS_OP_N || o == CUBLAS_OP_T || o == CUBLAS_OP_C; };
    int arows = ta == CUBLAS_OP_N ? m : k, brows = tb == CUBLAS_OP_N ? k : n;
    if (!ok_op(ta) || !ok_op(tb) || m < 0 || n < 0 || k < 0 || batch < 0 || lda < (arows > 1 ? arows : 1) ||
        ldb < (brows > 1 ? brows : 1) || ldc < (m > 1 ? m : 1) || !alpha || !beta)
        return CUBLAS_STATUS_INVALID_VALUE;
    if ((at != CUDA_R_32F && at != CUDA_R_16BF) || bt != at || ct != CUDA_R_32F)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    if (m == 0 || n == 0 || batch == 0)
        return CUBLAS_STATUS_SUCCESS;
    if (!stream_valid(h->stream))
        return CUBLAS_STATUS_EXECUTION_FAILED;
    operand oa = {"A", A, at, arows, ta == CUBLAS_OP_N ? k : m, lda, sa};
    operand ob = {"B", B, bt, brows, tb == CUBLAS_OP_N ? n : k, ldb, sb};
    operand oc = {"C", C, ct, m, n, ldc, sc};
    if ((k > 0 && (!operand_in_bounds(api, oa, batch) || !operand_in_bounds(api, ob, batch))) ||
        !operand_in_bounds(api, oc, batch))
        return CUBLAS_STATUS_EXECUTION_FAILED;
    int prec = at == CUDA_R_16BF ? P_BF16 : (fast_tf32 || h->math == CUBLAS_TF32_TENSOR_OP_MATH) ? P_TF32 : P_FP32;
    float al = *alpha, be = *beta;
    cudaError_t e = enqueue(h->stream, api, [=]() {
        counters.gemm_calls[prec] += (uint64_t)batch; /* counted when run, so graph replays count too */
        counters.gemm_flops[prec] += 2.0 * m * n * (double)k * batch;
        counters.gemm_bytes += ((double)m * k * elem_bytes(at) + (double)k * n * elem_bytes(bt) +
                                (double)m * n * elem_bytes(ct) * (be != 0.0f ? 2 : 1)) * batch;
        if (opts().count_only)
            return;
        std::vector<float> abuf, bbuf;
        size_t ea = elem_bytes(at), eb = elem_bytes(bt);
        for (int i = 0; i < batch; i++) {
            const char *pa = (const char *)A + (long long)i * sa * (long long)ea;
            const char *pb = (const char *)B + (long long)i * sb * (long long)eb;
            float *pc = (float *)C + (long long)i * sc;
            const float *fa = k ? as_float(oa, pa, prec, abuf) : nullptr;
            const float *fb = k ? as_float(ob, pb, prec, bbuf) : nullptr;
            product(ta, tb, m, n, k, al, fa, lda, fb, ldb, be, pc, ldc);
        }
    });
    return e == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}

} // namespace baton_emu

using namespace baton_emu;

cublasStatus_t cublasCreate(cublasHandle_t *handle)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (!handle)
        return CUBLAS_STATUS_INVALID_VALUE;
    *handle = new baton_emu_cublas;
    handles.insert(*handle);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t handle)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (!handles.erase(handle))
        return CUBLAS_STATUS_NOT_INITIALIZED;
    delete handle;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (!handles.count(handle))
        return CUBLAS_STATUS_NOT_INITIALIZED;
    handle->stream = stream;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetStream(cublasHandle_t handle, cudaStream_t *stream)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (!handles.count(handle))
        return CUBLAS_STATUS_NOT_INITIALIZED;
    *stream = handle->stream;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (!handles.count(handle))
        return CUBLAS_STATUS_NOT_INITIALIZED;
    if (mode != CUBLAS_DEFAULT_MATH && mode != CUBLAS_PEDANTIC_MATH && mode != CUBLAS_TF32_TENSOR_OP_MATH)
        return CUBLAS_STATUS_INVALID_VALUE;
    handle->math = mode;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetWorkspace(cublasHandle_t handle, void *workspace, size_t bytes)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (!handles.count(handle))
        return CUBLAS_STATUS_NOT_INITIALIZED;
    std::string why;
    if (bytes && (!mem_in_device(workspace) || !mem_range_ok(workspace, bytes, &why))) {
        report("cublasSetWorkspace: %zu bytes at %p are not one device allocation%s%s", bytes, workspace,
               why.empty() ? "" : ": ", why.c_str());
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    return CUBLAS_STATUS_SUCCESS; /* the emulated products need no workspace */
}

cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t *mode)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (!handles.count(handle))
        return CUBLAS_STATUS_NOT_INITIALIZED;
    *mode = handle->math;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetProperty(libraryPropertyType type, int *value)
{
    if (!value)
        return CUBLAS_STATUS_INVALID_VALUE;
    *value = type == MAJOR_VERSION ? 12 : type == MINOR_VERSION ? 8 : 0;
    return CUBLAS_STATUS_SUCCESS;
}

const char *cublasGetStatusName(cublasStatus_t s)
{
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    }
    return "CUBLAS_STATUS_UNKNOWN";
}

const char *cublasGetStatusString(cublasStatus_t s)
{
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid value was used as an argument";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported";
    default: return "cuBLAS error";
    }
}

cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const float *alpha, const float *A, int lda, const float *B, int ldb, const float *beta,
                           float *C, int ldc)
{
    return gemm("cublasSgemm", h, ta, tb, m, n, k, alpha, A, CUDA_R_32F, lda, 0, B, CUDA_R_32F, ldb, 0, beta, C,
                CUDA_R_32F, ldc, 0, 1, 0);
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                         int k, const float *alpha, const float *A, int lda, long long sa,
                                         const float *B, int ldb, long long sb, const float *beta, float *C, int ldc,
                                         long long sc, int batch)
{
    return gemm("cublasSgemmStridedBatched", h, ta, tb, m, n, k, alpha, A, CUDA_R_32F, lda, sa, B, CUDA_R_32F, ldb,
                sb, beta, C, CUDA_R_32F, ldc, sc, batch, 0);
}

cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void *alpha, const void *A, cudaDataType at, int lda, const void *B, cudaDataType bt,
                            int ldb, const void *beta, void *C, cudaDataType ct, int ldc, cublasComputeType_t compute,
                            cublasGemmAlgo_t algo)
{
    (void)algo;
    if (compute != CUBLAS_COMPUTE_32F && compute != CUBLAS_COMPUTE_32F_FAST_TF32 &&
        compute != CUBLAS_COMPUTE_32F_FAST_16BF)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    return gemm("cublasGemmEx", h, ta, tb, m, n, k, (const float *)alpha, A, at, lda, 0, B, bt, ldb, 0,
                (const float *)beta, C, ct, ldc, 0, 1, compute == CUBLAS_COMPUTE_32F_FAST_TF32);
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                          int k, const void *alpha, const void *A, cudaDataType at, int lda,
                                          long long sa, const void *B, cudaDataType bt, int ldb, long long sb,
                                          const void *beta, void *C, cudaDataType ct, int ldc, long long sc,
                                          int batch, cublasComputeType_t compute, cublasGemmAlgo_t algo)
{
    (void)algo;
    if (compute != CUBLAS_COMPUTE_32F && compute != CUBLAS_COMPUTE_32F_FAST_TF32 &&
        compute != CUBLAS_COMPUTE_32F_FAST_16BF)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    return gemm("cublasGemmStridedBatchedEx", h, ta, tb, m, n, k, (const float *)alpha, A, at, lda, sa, B, bt, ldb,
                sb, (const float *)beta, C, ct, ldc, sc, batch, compute == CUBLAS_COMPUTE_32F_FAST_TF32);
}
