/* cublaslt.cc: the cuBLASLt matmul baton calls, on the CPU (see include/cublasLt.h).
 *
 * As in cublas.cc: each call is validated as cuBLASLt validates it, every matrix (and the bias)
 * it will touch is checked to lie inside one device allocation, then the work is enqueued on the
 * call's stream. The product is cublas.cc's (same widening, TF32 rounding and fp32 product, so a
 * cuBLASLt GEMM gives bit for bit what the equivalent cublasGemmEx gives); the epilogue follows
 * it in fp32, then D is stored (rounded to nearest even when bf16). */
#include <climits>
#include <cmath>
#include <cstring>
#include <set>
#include <vector>

#include "cublasLt.h"
#include "cuda_bf16.h"
#include "emu_internal.h"

struct cublasLtContext {
    int unused = 0;
};

struct baton_emu_lt_matmul_desc {
    int32_t compute;
    int32_t scale;
    int32_t pointer_mode = CUBLASLT_POINTER_MODE_HOST;
    int32_t transa = CUBLAS_OP_N, transb = CUBLAS_OP_N;
    uint32_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
    const void *bias = nullptr;
    int32_t bias_type = -1;
};

struct baton_emu_lt_layout {
    uint32_t type;
    int32_t order = CUBLASLT_ORDER_COL;
    uint64_t rows, cols;
    int64_t ld;
    int32_t batch = 1;
    int64_t stride = 0;
};

struct baton_emu_lt_preference {
    uint64_t max_workspace = 0;
};

namespace baton_emu {

/* Live objects: a destroyed or never-created one is CUBLAS_STATUS_INVALID_VALUE (the handle:
 * CUBLAS_STATUS_NOT_INITIALIZED), where cuBLASLt would read freed memory. */
static std::set<cublasLtHandle_t> lt_handles;
static std::set<cublasLtMatmulDesc_t> lt_descs;
static std::set<cublasLtMatrixLayout_t> lt_layouts;
static std::set<cublasLtMatmulPreference_t> lt_prefs;

/* One attribute: where it is stored and its size; p null for an attribute outside the subset. */
struct field {
    void *p;
    size_t size;
};

static cublasStatus_t set_field(field f, const void *buf, size_t n)
{
    if (!f.p)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    if (!buf || n != f.size)
        return CUBLAS_STATUS_INVALID_VALUE;
    std::memcpy(f.p, buf, n);
    return CUBLAS_STATUS_SUCCESS;
}

static cublasStatus_t get_field(field f, void *buf, size_t n, size_t *written)
{
    if (!f.p)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    if (n == 0) {
        if (!written)
            return CUBLAS_STATUS_INVALID_VALUE;
        *written = f.size;
        return CUBLAS_STATUS_SUCCESS;
    }
    if (!buf || n != f.size)
        return CUBLAS_STATUS_INVALID_VALUE;
    std::memcpy(buf, f.p, n);
    if (written)
        *written = n;
    return CUBLAS_STATUS_SUCCESS;
}

static field desc_field(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t a)
{
    switch (a) {
    case CUBLASLT_MATMUL_DESC_COMPUTE_TYPE: return {&d->compute, 4};
    case CUBLASLT_MATMUL_DESC_SCALE_TYPE: return {&d->scale, 4};
    case CUBLASLT_MATMUL_DESC_POINTER_MODE: return {&d->pointer_mode, 4};
    case CUBLASLT_MATMUL_DESC_TRANSA: return {&d->transa, 4};
    case CUBLASLT_MATMUL_DESC_TRANSB: return {&d->transb, 4};
    case CUBLASLT_MATMUL_DESC_EPILOGUE: return {&d->epilogue, 4};
    case CUBLASLT_MATMUL_DESC_BIAS_POINTER: return {&d->bias, sizeof(void *)};
    case CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE: return {&d->bias_type, 4};
    }
    return {nullptr, 0};
}

static field layout_field(cublasLtMatrixLayout_t l, cublasLtMatrixLayoutAttribute_t a)
{
    switch (a) {
    case CUBLASLT_MATRIX_LAYOUT_TYPE: return {&l->type, 4};
    case CUBLASLT_MATRIX_LAYOUT_ORDER: return {&l->order, 4};
    case CUBLASLT_MATRIX_LAYOUT_ROWS: return {&l->rows, 8};
    case CUBLASLT_MATRIX_LAYOUT_COLS: return {&l->cols, 8};
    case CUBLASLT_MATRIX_LAYOUT_LD: return {&l->ld, 8};
    case CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT: return {&l->batch, 4};
    case CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET: return {&l->stride, 8};
    }
    return {nullptr, 0};
}

static bool has_bias(uint32_t e)
{
    return e == CUBLASLT_EPILOGUE_BIAS || e == CUBLASLT_EPILOGUE_RELU_BIAS || e == CUBLASLT_EPILOGUE_GELU_BIAS;
}

/* A matmul as validated: the operands (pointers not yet set) and what the work needs. */
struct problem {
    cublasOperation_t ta, tb;
    int m, n, k, batch, prec;
    operand a, b, c, d;
    uint32_t epilogue;
    cudaDataType bias_type;
};

/* The layout as an operand, or CUBLAS_STATUS_INVALID_VALUE / NOT_SUPPORTED. */
static cublasStatus_t layout_operand(const char *role, cublasLtMatrixLayout_t l, operand *o)
{
    if (!lt_layouts.count(l))
        return CUBLAS_STATUS_INVALID_VALUE;
    if (l->order != CUBLASLT_ORDER_COL)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    if (l->type != CUDA_R_32F && l->type != CUDA_R_16BF)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    if (l->ld < 1 || l->ld < (int64_t)l->rows || l->batch < 1)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (l->rows > INT_MAX || l->cols > INT_MAX || l->ld > INT_MAX) /* the emulation's products take int */
        return CUBLAS_STATUS_NOT_SUPPORTED;
    *o = {role, nullptr, (cudaDataType)l->type, (int)l->rows, (int)l->cols, (int)l->ld, (long long)l->stride};
    return CUBLAS_STATUS_SUCCESS;
}

/* What cublasLtMatmul and the heuristic both check, in cuBLASLt's terms. */
static cublasStatus_t validate(cublasLtHandle_t h, cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t Al,
                               cublasLtMatrixLayout_t Bl, cublasLtMatrixLayout_t Cl, cublasLtMatrixLayout_t Dl,
                               problem *p)
{
    if (!lt_handles.count(h))
        return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!lt_descs.count(desc))
        return CUBLAS_STATUS_INVALID_VALUE;
    cublasStatus_t s;
    if ((s = layout_operand("A", Al, &p->a)) != CUBLAS_STATUS_SUCCESS ||
        (s = layout_operand("B", Bl, &p->b)) != CUBLAS_STATUS_SUCCESS ||
        (s = layout_operand("C", Cl, &p->c)) != CUBLAS_STATUS_SUCCESS ||
        (s = layout_operand("D", Dl, &p->d)) != CUBLAS_STATUS_SUCCESS)
        return s;
    auto ok_op = [](int32_t o) { return o == CUBLAS_OP_N || o == CUBLAS_OP_T || o == CUBLAS_OP_C; };
    if (!ok_op(desc->transa) || !ok_op(desc->transb))
        return CUBLAS_STATUS_INVALID_VALUE;
    p->ta = (cublasOperation_t)desc->transa;
    p->tb = (cublasOperation_t)desc->transb;
    /* types: cuBLASLt's table for fp32 compute and scale */
    cudaDataType at = p->a.type, bt = p->b.type, ct = p->c.type, dt = p->d.type;
    bool bf16_in = at == CUDA_R_16BF;
    if (desc->pointer_mode != CUBLASLT_POINTER_MODE_HOST || desc->scale != CUDA_R_32F || bt != at || ct != dt ||
        (dt == CUDA_R_16BF && !bf16_in))
        return CUBLAS_STATUS_NOT_SUPPORTED;
    if (desc->compute != CUBLAS_COMPUTE_32F && desc->compute != CUBLAS_COMPUTE_32F_FAST_16BF &&
        (desc->compute != CUBLAS_COMPUTE_32F_FAST_TF32 || bf16_in))
        return CUBLAS_STATUS_NOT_SUPPORTED;
    uint32_t e = desc->epilogue;
    if (e != CUBLASLT_EPILOGUE_DEFAULT && e != CUBLASLT_EPILOGUE_RELU && e != CUBLASLT_EPILOGUE_GELU && !has_bias(e))
        return CUBLAS_STATUS_NOT_SUPPORTED;
    p->epilogue = e;
    p->bias_type = desc->bias_type == -1 ? dt : (cudaDataType)desc->bias_type;
    if (has_bias(e) && p->bias_type != dt)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    /* shapes: op(A) is m x k, op(B) k x n, C and D m x n; one batch count */
    p->m = p->d.rows;
    p->n = p->d.cols;
    int oa_rows = p->ta == CUBLAS_OP_N ? p->a.rows : p->a.cols, oa_cols = p->ta == CUBLAS_OP_N ? p->a.cols : p->a.rows;
    int ob_rows = p->tb == CUBLAS_OP_N ? p->b.rows : p->b.cols, ob_cols = p->tb == CUBLAS_OP_N ? p->b.cols : p->b.rows;
    p->k = oa_cols;
    if (oa_rows != p->m || ob_cols != p->n || ob_rows != p->k || p->c.rows != p->m || p->c.cols != p->n ||
        Al->batch != Dl->batch || Bl->batch != Dl->batch || Cl->batch != Dl->batch)
        return CUBLAS_STATUS_INVALID_VALUE;
    p->batch = Dl->batch;
    p->prec = bf16_in ? P_BF16 : desc->compute == CUBLAS_COMPUTE_32F_FAST_TF32 ? P_TF32 : P_FP32;
    return CUBLAS_STATUS_SUCCESS;
}

static float load(cudaDataType t, const void *p, size_t i)
{
    return t == CUDA_R_32F ? ((const float *)p)[i] : __bfloat162float(((const __nv_bfloat16 *)p)[i]);
}

static cublasStatus_t matmul(cublasLtHandle_t h, cublasLtMatmulDesc_t desc, const void *alpha, const void *A,
                             cublasLtMatrixLayout_t Al, const void *B, cublasLtMatrixLayout_t Bl, const void *beta,
                             const void *C, cublasLtMatrixLayout_t Cl, void *D, cublasLtMatrixLayout_t Dl,
                             void *workspace, size_t ws_bytes, cudaStream_t stream)
{
    const char *api = "cublasLtMatmul";
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    problem p;
    cublasStatus_t s = validate(h, desc, Al, Bl, Cl, Dl, &p);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!alpha || !beta)
        return CUBLAS_STATUS_INVALID_VALUE;
    /* in place needs C's layout to be D's */
    if (C == D && (Cl->rows != Dl->rows || Cl->cols != Dl->cols || Cl->ld != Dl->ld || Cl->type != Dl->type ||
                   (Dl->batch > 1 && Cl->stride != Dl->stride)))
        return CUBLAS_STATUS_INVALID_VALUE;
    bool bias = has_bias(p.epilogue);
    if (bias && !desc->bias)
        return CUBLAS_STATUS_INVALID_VALUE;
    float al = *(const float *)alpha, be = *(const float *)beta;
    int m = p.m, n = p.n, k = p.k, batch = p.batch;
    if (m == 0 || n == 0)
        return CUBLAS_STATUS_SUCCESS;
    if (!stream_valid(stream))
        return CUBLAS_STATUS_EXECUTION_FAILED;
    p.a.p = A, p.b.p = B, p.c.p = C, p.d.p = D;
    operand ob = {"bias", desc->bias, p.bias_type, m, 1, m, 0};
    if ((k > 0 && (!operand_in_bounds(api, p.a, batch) || !operand_in_bounds(api, p.b, batch))) ||
        (be != 0.0f && !operand_in_bounds(api, p.c, batch)) || !operand_in_bounds(api, p.d, batch) ||
        (bias && !operand_in_bounds(api, ob, 1)))
        return CUBLAS_STATUS_EXECUTION_FAILED;
    std::string why;
    if (workspace && ws_bytes && (!mem_in_device(workspace) || !mem_range_ok(workspace, ws_bytes, &why))) {
        report("%s: workspace (%zu bytes) %s", api, ws_bytes,
               mem_in_device(workspace) ? ("reaches outside its allocation: " + why).c_str() : "is not device memory");
        return CUBLAS_STATUS_EXECUTION_FAILED;
    }
    cudaError_t e = enqueue(stream, api, [=]() {
        counters.gemm_calls[p.prec] += (uint64_t)batch; /* counted when run, so graph replays count too */
        counters.gemm_flops[p.prec] += 2.0 * m * n * (double)k * batch;
        counters.gemm_bytes += ((double)m * k * elem_bytes(p.a.type) + (double)k * n * elem_bytes(p.b.type) +
                                (double)m * n * elem_bytes(p.d.type) * (be != 0.0f ? 2 : 1)) * batch;
        if (opts().count_only)
            return;
        std::vector<float> abuf, bbuf, t((size_t)m * n), fbias(bias ? m : 0);
        for (int i = 0; i < (bias ? m : 0); i++)
            fbias[i] = load(p.bias_type, ob.p, i);
        bool relu = p.epilogue == CUBLASLT_EPILOGUE_RELU || p.epilogue == CUBLASLT_EPILOGUE_RELU_BIAS;
        bool gelu = p.epilogue == CUBLASLT_EPILOGUE_GELU || p.epilogue == CUBLASLT_EPILOGUE_GELU_BIAS;
        for (int b = 0; b < batch; b++) {
            auto at = [b](const operand &o) {
                return (const char *)o.p + (long long)b * o.stride * (long long)elem_bytes(o.type);
            };
            const float *fa = k ? as_float(p.a, at(p.a), p.prec, abuf) : nullptr;
            const float *fb = k ? as_float(p.b, at(p.b), p.prec, bbuf) : nullptr;
            if (be != 0.0f) /* beta 0: C is not read, so NaN there does not reach D */
                for (int j = 0; j < n; j++)
                    for (int i = 0; i < m; i++)
                        t[(size_t)j * m + i] = load(p.c.type, at(p.c), (size_t)j * p.c.ld + i);
            product(p.ta, p.tb, m, n, k, al, fa, p.a.ld, fb, p.b.ld, be, t.data(), m);
            char *pd = (char *)at(p.d);
            for (int j = 0; j < n; j++)
                for (int i = 0; i < m; i++) {
                    float x = t[(size_t)j * m + i];
                    if (bias)
                        x += fbias[i];
                    if (relu)
                        x = std::fmax(x, 0.0f);
                    if (gelu)
                        x = 0.5f * x * (1.0f + std::tanh(0.7978845608f * (x + 0.044715f * x * x * x)));
                    size_t di = (size_t)j * p.d.ld + i;
                    if (p.d.type == CUDA_R_32F)
                        ((float *)pd)[di] = x;
                    else
                        ((__nv_bfloat16 *)pd)[di] = __float2bfloat16(x);
                }
        }
    });
    return e == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}

} // namespace baton_emu

using namespace baton_emu;

cublasStatus_t cublasLtCreate(cublasLtHandle_t *handle)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (!handle)
        return CUBLAS_STATUS_INVALID_VALUE;
    *handle = new cublasLtContext;
    lt_handles.insert(*handle);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtDestroy(cublasLtHandle_t handle)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (!lt_handles.erase(handle))
        return CUBLAS_STATUS_NOT_INITIALIZED;
    delete handle;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *desc, cublasComputeType_t computeType,
                                        cudaDataType_t scaleType)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (!desc)
        return CUBLAS_STATUS_INVALID_VALUE;
    *desc = new baton_emu_lt_matmul_desc;
    (*desc)->compute = computeType;
    (*desc)->scale = scaleType;
    lt_descs.insert(*desc);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t desc)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (!lt_descs.erase(desc))
        return CUBLAS_STATUS_INVALID_VALUE;
    delete desc;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr,
                                              const void *buf, size_t sizeInBytes)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (!lt_descs.count(desc))
        return CUBLAS_STATUS_INVALID_VALUE;
    return set_field(desc_field(desc, attr), buf, sizeInBytes);
}

cublasStatus_t cublasLtMatmulDescGetAttribute(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr,
                                              void *buf, size_t sizeInBytes, size_t *sizeWritten)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (!lt_descs.count(desc))
        return CUBLAS_STATUS_INVALID_VALUE;
    return get_field(desc_field(desc, attr), buf, sizeInBytes, sizeWritten);
}

cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *layout, cudaDataType type, uint64_t rows,
                                          uint64_t cols, int64_t ld)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (!layout)
        return CUBLAS_STATUS_INVALID_VALUE;
    *layout = new baton_emu_lt_layout;
    (*layout)->type = (uint32_t)type;
    (*layout)->rows = rows;
    (*layout)->cols = cols;
    (*layout)->ld = ld;
    lt_layouts.insert(*layout);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t layout)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (!lt_layouts.erase(layout))
        return CUBLAS_STATUS_INVALID_VALUE;
    delete layout;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutSetAttribute(cublasLtMatrixLayout_t layout, cublasLtMatrixLayoutAttribute_t attr,
                                                const void *buf, size_t sizeInBytes)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (!lt_layouts.count(layout))
        return CUBLAS_STATUS_INVALID_VALUE;
    return set_field(layout_field(layout, attr), buf, sizeInBytes);
}

cublasStatus_t cublasLtMatrixLayoutGetAttribute(cublasLtMatrixLayout_t layout, cublasLtMatrixLayoutAttribute_t attr,
                                                void *buf, size_t sizeInBytes, size_t *sizeWritten)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (!lt_layouts.count(layout))
        return CUBLAS_STATUS_INVALID_VALUE;
    return get_field(layout_field(layout, attr), buf, sizeInBytes, sizeWritten);
}

cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *pref)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (!pref)
        return CUBLAS_STATUS_INVALID_VALUE;
    *pref = new baton_emu_lt_preference;
    lt_prefs.insert(*pref);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (!lt_prefs.erase(pref))
        return CUBLAS_STATUS_INVALID_VALUE;
    delete pref;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t pref,
                                                    cublasLtMatmulPreferenceAttributes_t attr, const void *buf,
                                                    size_t sizeInBytes)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (!lt_prefs.count(pref))
        return CUBLAS_STATUS_INVALID_VALUE;
    field f = {nullptr, 0};
    if (attr == CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES)
        f = {&pref->max_workspace, 8};
    return set_field(f, buf, sizeInBytes);
}

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc,
                                              cublasLtMatrixLayout_t Adesc, cublasLtMatrixLayout_t Bdesc,
                                              cublasLtMatrixLayout_t Cdesc, cublasLtMatrixLayout_t Ddesc,
                                              cublasLtMatmulPreference_t pref, int requestedAlgoCount,
                                              cublasLtMatmulHeuristicResult_t heuristicResultsArray[],
                                              int *returnAlgoCount)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (!lt_handles.count(handle))
        return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!lt_prefs.count(pref) || requestedAlgoCount < 1 || !heuristicResultsArray || !returnAlgoCount)
        return CUBLAS_STATUS_INVALID_VALUE;
    *returnAlgoCount = 0;
    problem p;
    cublasStatus_t s = validate(handle, desc, Adesc, Bdesc, Cdesc, Ddesc, &p);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    cublasLtMatmulHeuristicResult_t &r = heuristicResultsArray[0];
    std::memset(&r, 0, sizeof r);
    r.workspaceSize = 0;
    r.state = CUBLAS_STATUS_SUCCESS;
    r.wavesCount = 1.0f;
    *returnAlgoCount = 1;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, const void *alpha, const void *A,
                              cublasLtMatrixLayout_t Adesc, const void *B, cublasLtMatrixLayout_t Bdesc,
                              const void *beta, const void *C, cublasLtMatrixLayout_t Cdesc, void *D,
                              cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t *algo, void *workspace,
                              size_t workspaceSizeInBytes, cudaStream_t stream)
{
    (void)algo; /* one algorithm: NULL or the heuristic's result alike */
    return matmul(handle, desc, alpha, A, Adesc, B, Bdesc, beta, C, Cdesc, D, Ddesc, workspace, workspaceSizeInBytes,
                  stream);
}
