/* test_emu_lt.c: the CUDA emulation's cuBLASLt subset (src/emu/cublaslt.cc) against a naive
 * float64 column-major reference:
 *
 *   products   all four transpose combinations at odd sizes with padded leading dimensions,
 *              beta != 0 with C distinct from D (its own leading dimension) and with C == D,
 *              beta == 0 ignoring a NaN-filled C, strided batches with gaps between the matrices;
 *   epilogues  BIAS, RELU_BIAS, GELU_BIAS (bias per row of D, one vector for every batch);
 *   precision  bf16 inputs give bit for bit the fp32 product of the bf16-rounded inputs, a bf16 D
 *              is the fp32 D rounded to nearest even, CUBLAS_COMPUTE_32F_FAST_TF32 gives the
 *              product of the TF32-rounded inputs (rounded here independently, in double);
 *   API        attributes and their sizes, the heuristic's one result, cuBLASLt's refusals
 *              (ld < rows, mismatched shapes or batch counts: INVALID_VALUE; unsupported types,
 *              orders, epilogues: NOT_SUPPORTED), counters counted when the work runs;
 *   faults     an operand or the bias past its allocation is reported at the call and refused
 *              (each in a forked child, whose stderr must name it), before any BLAS thread starts.
 *
 * Poisoned (NaN) outputs and tu_rel_err's +inf on NaN mean a NaN never passes; bit-for-bit checks
 * also demand finite values. Exits 0 when every check passed, 1 otherwise. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <baton_emu.h>
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include "test_emu.h"
#include "testutil.h"

/* Norm-wise relative error allowed against the float64 reference, as test_emu.c's GEMM_TOL:
 * each element is a k-term fp32 dot product (k <= 65 here) in an order we do not control, its
 * error at most about k 2^-24 sum|a_i b_i| (4e-6 of that sum) and typically sqrt(k) 2^-24 (5e-7).
 * The epilogue adds a rounding or two of the bias addition and GELU's fp32 evaluation (tanhf to
 * a few ulps; GELU's slope is below 1.13, so it does not amplify the product's error), each
 * 2^-24 relative. 1e-5 keeps a margin over all of it, while a wrong transpose, leading dimension,
 * stride, alpha, beta, bias row or activation gives an error of order 1e-1 or more. */
#define LT_TOL 1e-5
#define SEED 0x656d756c74ULL

static float *filled(size_t n, uint32_t k)
{
    float *x = malloc(n * sizeof(float));
    tu_fill_uniform(x, n, -1.0f, 1.0f, SEED, k);
    return x;
}

/* A device copy of n host floats. */
static float *dev_copy(const float *h, size_t n)
{
    float *d = dalloc(n * sizeof(float));
    up(d, h, n * sizeof(float));
    return d;
}

static int all_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

static cublasLtMatrixLayout_t layout(cudaDataType t, int rows, int cols, int ld, int batch, long long stride)
{
    cublasLtMatrixLayout_t l;
    CB(cublasLtMatrixLayoutCreate(&l, t, (uint64_t)rows, (uint64_t)cols, ld));
    if (batch != 1) {
        int32_t b = batch;
        int64_t s = stride;
        CB(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &b, sizeof b));
        CB(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &s, sizeof s));
    }
    return l;
}

static cublasLtMatmulDesc_t mdesc(cublasComputeType_t compute, int ta, int tb, cublasLtEpilogue_t epi, const void *bias)
{
    cublasLtMatmulDesc_t d;
    CB(cublasLtMatmulDescCreate(&d, compute, CUDA_R_32F));
    int32_t a = ta ? CUBLAS_OP_T : CUBLAS_OP_N, b = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    uint32_t e = epi;
    CB(cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSA, &a, sizeof a));
    CB(cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSB, &b, sizeof b));
    CB(cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_EPILOGUE, &e, sizeof e));
    if (bias)
        CB(cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    return d;
}

static cublasLtHandle_t lt;
static cublasLtMatmulPreference_t pref;

/* The heuristic's algorithm, then the matmul, as baton will call them; the matmul's status. */
static cublasStatus_t run(cublasLtMatmulDesc_t d, float alpha, const void *A, cublasLtMatrixLayout_t la, const void *B,
                          cublasLtMatrixLayout_t lb, float beta, const void *C, cublasLtMatrixLayout_t lc, void *D,
                          cublasLtMatrixLayout_t ldd, cudaStream_t s)
{
    cublasLtMatmulHeuristicResult_t r[2];
    int count = -1;
    cublasStatus_t hs = cublasLtMatmulAlgoGetHeuristic(lt, d, la, lb, lc, ldd, pref, 2, r, &count);
    const cublasLtMatmulAlgo_t *algo = hs == CUBLAS_STATUS_SUCCESS && count == 1 ? &r[0].algo : NULL;
    return cublasLtMatmul(lt, d, &alpha, A, la, B, lb, &beta, C, lc, D, ldd, algo, NULL, 0, s);
}

/* D (m x n, packed) = epilogue(alpha op(A) op(B) + beta C + bias) in float64, column-major. */
static void ref_lt(int ta, int tb, int m, int n, int k, double alpha, const float *A, int lda, const float *B, int ldb,
                   double beta, const float *C, int ldc, const float *bias, cublasLtEpilogue_t epi, double *out)
{
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double acc = 0.0;
            for (int p = 0; p < k; p++)
                acc += (double)(ta ? A[i * lda + p] : A[p * lda + i]) * (double)(tb ? B[p * ldb + j] : B[j * ldb + p]);
            double x = alpha * acc + (beta != 0.0 ? beta * C[j * ldc + i] : 0.0);
            if (bias)
                x += bias[i];
            if (epi == CUBLASLT_EPILOGUE_RELU || epi == CUBLASLT_EPILOGUE_RELU_BIAS)
                x = x > 0.0 ? x : 0.0;
            if (epi == CUBLASLT_EPILOGUE_GELU || epi == CUBLASLT_EPILOGUE_GELU_BIAS)
                x = 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))); /* sqrt(2/pi) */
            out[j * m + i] = x;
        }
}

/* The m x n matrix at x (leading dimension ld) packed into out. */
static void pack(float *out, const float *x, int m, int n, int ld)
{
    for (int j = 0; j < n; j++)
        memcpy(out + (size_t)j * m, x + (size_t)j * ld, sizeof(float) * m);
}

/* The rows between columns (ld > m) are as in `orig`: D's padding is not written. */
static int padding_kept(const float *x, const float *orig, int m, int n, int ld)
{
    for (int j = 0; j < n; j++)
        if (memcmp(x + (size_t)j * ld + m, orig + (size_t)j * ld + m, sizeof(float) * (ld - m)) != 0)
            return 0;
    return 1;
}

/* ---- products ---- */

static void check_transposes(cudaStream_t s)
{
    static const int shapes[][3] = {{7, 5, 13}, {33, 17, 65}};
    const float alpha = 0.75f, beta = -0.5f;
    uint32_t kid = 1;
    for (int sh = 0; sh < 2; sh++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int m = shapes[sh][0], n = shapes[sh][1], k = shapes[sh][2];
                int arows = ta ? k : m, acols = ta ? m : k, brows = tb ? n : k, bcols = tb ? k : n;
                /* padded leading dimensions, C's unlike D's, so a mix-up of ld and rows shows */
                int lda = arows + 3, ldb = brows + 2, ldc = m + 1, ldd = m + 4;
                float *A = filled((size_t)lda * acols, kid++), *B = filled((size_t)ldb * bcols, kid++);
                float *C = filled((size_t)ldc * n, kid++), *D0 = filled((size_t)ldd * n, kid++);
                float *out = malloc(sizeof(float) * ldd * n), *cafter = malloc(sizeof(float) * ldc * n);
                float *packed = malloc(sizeof(float) * m * n);
                double *ref = malloc(sizeof(double) * m * n);
                for (int j = 0; j < n; j++) /* D's own elements poisoned: an unwritten one fails */
                    for (int i = 0; i < m; i++)
                        D0[j * ldd + i] = NAN;
                float *dA = dev_copy(A, (size_t)lda * acols), *dB = dev_copy(B, (size_t)ldb * bcols);
                float *dC = dev_copy(C, (size_t)ldc * n), *dD = dev_copy(D0, (size_t)ldd * n);
                cublasLtMatrixLayout_t la = layout(CUDA_R_32F, arows, acols, lda, 1, 0);
                cublasLtMatrixLayout_t lb = layout(CUDA_R_32F, brows, bcols, ldb, 1, 0);
                cublasLtMatrixLayout_t lc = layout(CUDA_R_32F, m, n, ldc, 1, 0);
                cublasLtMatrixLayout_t ld = layout(CUDA_R_32F, m, n, ldd, 1, 0);
                cublasLtMatmulDesc_t d = mdesc(CUBLAS_COMPUTE_32F, ta, tb, CUBLASLT_EPILOGUE_DEFAULT, NULL);
                cublasStatus_t st = run(d, alpha, dA, la, dB, lb, beta, dC, lc, dD, ld, s);
                down(out, dD, sizeof(float) * ldd * n);
                down(cafter, dC, sizeof(float) * ldc * n);
                ref_lt(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, NULL, CUBLASLT_EPILOGUE_DEFAULT, ref);
                pack(packed, out, m, n, ldd);
                int pad = padding_kept(out, D0, m, n, ldd), c_same = memcmp(cafter, C, sizeof(float) * ldc * n) == 0;
                char name[112];
                snprintf(name, sizeof name, "cublasLtMatmul %c%c m=%d n=%d k=%d, beta != 0, C apart from D",
                         ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k);
                if (st != CUBLAS_STATUS_SUCCESS || !pad || !c_same)
                    emu_check(name, 0, "status %s, D's padding %s, C %s", cublasGetStatusName(st),
                          pad ? "kept" : "written", c_same ? "unchanged" : "written");
                else
                    tu_check(&emu_rep, name, tu_rel_err(packed, ref, (size_t)m * n), LT_TOL);

                /* in place: C == D with D's layout */
                if (sh == 1) {
                    float *dCD = dev_copy(C, (size_t)ldc * n);
                    st = run(d, alpha, dA, la, dB, lb, beta, dCD, lc, dCD, lc, s);
                    down(cafter, dCD, sizeof(float) * ldc * n);
                    pack(packed, cafter, m, n, ldc);
                    snprintf(name, sizeof name, "cublasLtMatmul %c%c m=%d n=%d k=%d, beta != 0, C == D", ta ? 'T' : 'N',
                             tb ? 'T' : 'N', m, n, k);
                    if (st != CUBLAS_STATUS_SUCCESS)
                        emu_check(name, 0, "status %s", cublasGetStatusName(st));
                    else
                        tu_check(&emu_rep, name, tu_rel_err(packed, ref, (size_t)m * n), LT_TOL);
                    if (ta == 0 && tb == 0) {
                        /* C == D but described with another leading dimension: cuBLASLt refuses */
                        st = run(d, alpha, dA, la, dB, lb, beta, dCD, lc, dCD, ld, s);
                        emu_check("cublasLtMatmul C == D with Cdesc unlike Ddesc: CUBLAS_STATUS_INVALID_VALUE",
                              st == CUBLAS_STATUS_INVALID_VALUE, "%s", cublasGetStatusName(st));
                    }
                    cudaFree(dCD);
                }
                CB(cublasLtMatmulDescDestroy(d));
                CB(cublasLtMatrixLayoutDestroy(la));
                CB(cublasLtMatrixLayoutDestroy(lb));
                CB(cublasLtMatrixLayoutDestroy(lc));
                CB(cublasLtMatrixLayoutDestroy(ld));
                free(A), free(B), free(C), free(D0), free(out), free(cafter), free(packed), free(ref);
                cudaFree(dA), cudaFree(dB), cudaFree(dC), cudaFree(dD);
            }
}

/* beta == 0: C is not read, so NaN there must not reach D. */
static void check_beta_zero(void)
{
    enum { M = 6, N = 5, K = 7 };
    float *A = filled(M * K, 20), *B = filled(K * N, 21), C[M * N], out[M * N];
    double ref[M * N];
    tu_fill_nan(C, M * N);
    float *dA = dev_copy(A, M * K), *dB = dev_copy(B, K * N), *dC = dev_copy(C, M * N), *dD = dev_copy(C, M * N);
    cublasLtMatrixLayout_t la = layout(CUDA_R_32F, M, K, M, 1, 0), lb = layout(CUDA_R_32F, K, N, K, 1, 0);
    cublasLtMatrixLayout_t lc = layout(CUDA_R_32F, M, N, M, 1, 0);
    cublasLtMatmulDesc_t d = mdesc(CUBLAS_COMPUTE_32F, 0, 0, CUBLASLT_EPILOGUE_DEFAULT, NULL);
    cublasStatus_t st = run(d, 1.5f, dA, la, dB, lb, 0.0f, dC, lc, dD, lc, 0);
    down(out, dD, sizeof out);
    ref_lt(0, 0, M, N, K, 1.5, A, M, B, K, 0.0, C, M, NULL, CUBLASLT_EPILOGUE_DEFAULT, ref);
    if (st != CUBLAS_STATUS_SUCCESS)
        emu_check("cublasLtMatmul beta == 0 with a NaN-filled C", 0, "status %s", cublasGetStatusName(st));
    else
        tu_check(&emu_rep, "cublasLtMatmul beta == 0 with a NaN-filled C", tu_rel_err(out, ref, M * N), LT_TOL);
    cublasLtMatmulDescDestroy(d), cublasLtMatrixLayoutDestroy(la), cublasLtMatrixLayoutDestroy(lb);
    cublasLtMatrixLayoutDestroy(lc);
    free(A), free(B);
    cudaFree(dA), cudaFree(dB), cudaFree(dC), cudaFree(dD);
}

static void check_epilogues(cudaStream_t s)
{
    enum { M = 19, N = 11, K = 23 };
    static const cublasLtEpilogue_t epis[] = {CUBLASLT_EPILOGUE_BIAS, CUBLASLT_EPILOGUE_RELU_BIAS,
                                              CUBLASLT_EPILOGUE_GELU_BIAS, CUBLASLT_EPILOGUE_RELU};
    static const char *names[] = {"BIAS", "RELU_BIAS", "GELU_BIAS", "RELU"};
    float *A = filled(K * M, 30), *B = filled(K * N, 31), *C = filled(M * N, 32), *bias = filled(M, 33);
    float out[M * N];
    double ref[M * N];
    float *dA = dev_copy(A, K * M), *dB = dev_copy(B, K * N), *dC = dev_copy(C, M * N), *dBias = dev_copy(bias, M);
    float *dD = dalloc(sizeof out);
    /* A stored K x M and transposed, B K x N: op(A) op(B) = A^T B, as a linear layer's forward */
    cublasLtMatrixLayout_t la = layout(CUDA_R_32F, K, M, K, 1, 0), lb = layout(CUDA_R_32F, K, N, K, 1, 0);
    cublasLtMatrixLayout_t lc = layout(CUDA_R_32F, M, N, M, 1, 0);
    for (int e = 0; e < 4; e++) {
        int has_bias = epis[e] != CUBLASLT_EPILOGUE_RELU;
        cublasLtMatmulDesc_t d = mdesc(CUBLAS_COMPUTE_32F, 1, 0, epis[e], has_bias ? dBias : NULL);
        float nan[M * N];
        tu_fill_nan(nan, M * N);
        up(dD, nan, sizeof nan);
        cublasStatus_t st = run(d, 1.25f, dA, la, dB, lb, 0.5f, dC, lc, dD, lc, s);
        down(out, dD, sizeof out);
        ref_lt(1, 0, M, N, K, 1.25, A, K, B, K, 0.5, C, M, has_bias ? bias : NULL, epis[e], ref);
        int zeros = 0, negatives = 0; /* the activation must have had something to do */
        for (int i = 0; i < M * N; i++) {
            zeros += out[i] == 0.0f;
            negatives += out[i] < 0.0f;
        }
        char name[96];
        snprintf(name, sizeof name, "cublasLtMatmul epilogue %s (TN, beta != 0)", names[e]);
        int relu = epis[e] == CUBLASLT_EPILOGUE_RELU || epis[e] == CUBLASLT_EPILOGUE_RELU_BIAS;
        if (st != CUBLAS_STATUS_SUCCESS || (relu && (zeros < M * N / 4 || negatives)))
            emu_check(name, 0, "status %s, %d zeros, %d negatives", cublasGetStatusName(st), zeros, negatives);
        else
            tu_check(&emu_rep, name, tu_rel_err(out, ref, M * N), LT_TOL);
        if (e == 0) {
            /* without the bias pointer, or with a bias of another type than D's, cuBLASLt refuses */
            const void *none = NULL;
            CB(cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &none, sizeof none));
            cublasStatus_t s1 = run(d, 1.0f, dA, la, dB, lb, 0.0f, dC, lc, dD, lc, s);
            int32_t bt = CUDA_R_16BF;
            CB(cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &dBias, sizeof dBias));
            CB(cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt));
            cublasStatus_t s2 = run(d, 1.0f, dA, la, dB, lb, 0.0f, dC, lc, dD, lc, s);
            emu_check("cublasLtMatmul BIAS without a bias pointer: INVALID_VALUE; bf16 bias for an fp32 D: NOT_SUPPORTED",
                  s1 == CUBLAS_STATUS_INVALID_VALUE && s2 == CUBLAS_STATUS_NOT_SUPPORTED, "%s, %s",
                  cublasGetStatusName(s1), cublasGetStatusName(s2));
        }
        cublasLtMatmulDescDestroy(d);
    }
    cublasLtMatrixLayoutDestroy(la), cublasLtMatrixLayoutDestroy(lb), cublasLtMatrixLayoutDestroy(lc);
    free(A), free(B), free(C), free(bias);
    cudaFree(dA), cudaFree(dB), cudaFree(dC), cudaFree(dBias), cudaFree(dD);
}

/* ---- precision ---- */

/* x rounded to TF32 (10 explicit mantissa bits), to nearest even, computed in double: an
 * implementation independent of the emulation's bit manipulation. */
static float tf32_ref(float x)
{
    int e;
    double f = frexp((double)x, &e); /* x = f 2^e, 0.5 <= |f| < 1: 11 significant bits wanted */
    return (float)ldexp(nearbyint(ldexp(f, 11)), e - 11);
}

static void check_bf16_and_tf32(cudaStream_t s)
{
    enum { M = 9, N = 6, K = 21 };
    float *A = filled(M * K, 40), *B = filled(N * K, 41), *C = filled(M * N, 42), *bias = filled(M, 43);
    float Ar[M * K], Br[N * K], Cr[M * N], biasr[M], At[M * K], Bt[N * K];
    __nv_bfloat16 A16[M * K], B16[N * K], C16[M * N], bias16[M], D16[M * N];
    for (int i = 0; i < M * K; i++) {
        A16[i] = __float2bfloat16(A[i]);
        Ar[i] = __bfloat162float(A16[i]);
        At[i] = tf32_ref(A[i]);
    }
    for (int i = 0; i < N * K; i++) {
        B16[i] = __float2bfloat16(B[i]);
        Br[i] = __bfloat162float(B16[i]);
        Bt[i] = tf32_ref(B[i]);
    }
    for (int i = 0; i < M * N; i++) {
        C16[i] = __float2bfloat16(C[i]);
        Cr[i] = __bfloat162float(C16[i]);
    }
    for (int i = 0; i < M; i++) {
        bias16[i] = __float2bfloat16(bias[i]);
        biasr[i] = __bfloat162float(bias16[i]);
    }
    void *dA16 = dalloc(sizeof A16), *dB16 = dalloc(sizeof B16), *dC16 = dalloc(sizeof C16);
    void *dBias16 = dalloc(sizeof bias16), *dD16 = dalloc(sizeof D16);
    up(dA16, A16, sizeof A16), up(dB16, B16, sizeof B16), up(dC16, C16, sizeof C16), up(dBias16, bias16, sizeof bias16);
    float *dA = dalloc(sizeof Ar), *dB = dalloc(sizeof Br), *dC = dev_copy(Cr, M * N);
    float *dD = dalloc(sizeof(float) * M * N);
    float *dBias = dev_copy(biasr, M);
    float got[M * N], want[M * N], exact[M * N];
    baton_emu_counters c0, c1;

    /* A (M x K) N, B (N x K) T, C and D fp32 */
    cublasLtMatrixLayout_t la16 = layout(CUDA_R_16BF, M, K, M, 1, 0), lb16 = layout(CUDA_R_16BF, N, K, N, 1, 0);
    cublasLtMatrixLayout_t la = layout(CUDA_R_32F, M, K, M, 1, 0), lb = layout(CUDA_R_32F, N, K, N, 1, 0);
    cublasLtMatrixLayout_t lc = layout(CUDA_R_32F, M, N, M, 1, 0), lc16 = layout(CUDA_R_16BF, M, N, M, 1, 0);
    cublasLtMatmulDesc_t d32 = mdesc(CUBLAS_COMPUTE_32F, 0, 1, CUBLASLT_EPILOGUE_DEFAULT, NULL);
    cublasLtMatmulDesc_t dtf = mdesc(CUBLAS_COMPUTE_32F_FAST_TF32, 0, 1, CUBLASLT_EPILOGUE_DEFAULT, NULL);
    baton_emu_counters_get(&c0);
    cublasStatus_t st = run(d32, 1.0f, dA16, la16, dB16, lb16, -0.75f, dC, lc, dD, lc, s);
    down(got, dD, sizeof got);
    baton_emu_counters_get(&c1);
    up(dA, Ar, sizeof Ar), up(dB, Br, sizeof Br);
    CB(run(d32, 1.0f, dA, la, dB, lb, -0.75f, dC, lc, dD, lc, s));
    down(want, dD, sizeof want);
    up(dA, A, sizeof Ar), up(dB, B, sizeof Br);
    CB(run(d32, 1.0f, dA, la, dB, lb, -0.75f, dC, lc, dD, lc, s));
    down(exact, dD, sizeof exact);
    /* bit for bit: the emulation widens bf16 exactly and runs the same fp32 product; and it
     * differs from the product of the unrounded inputs, so the rounding did happen */
    emu_check("cublasLtMatmul bf16 A, B = fp32 matmul of the bf16-rounded inputs, not of the originals",
          st == CUBLAS_STATUS_SUCCESS && all_finite(got, M * N) && memcmp(got, want, sizeof got) == 0 &&
              memcmp(got, exact, sizeof got) != 0,
          "status %s, d[0] %.9g vs rounded %.9g vs fp32 %.9g", cublasGetStatusName(st), (double)got[0],
          (double)want[0], (double)exact[0]);
    emu_check("counters: a bf16 matmul counted as one bf16 GEMM of 2*9*6*21 flops",
          c1.gemm_calls[2] - c0.gemm_calls[2] == 1 && c1.gemm_flops[2] - c0.gemm_flops[2] == 2.0 * M * N * K &&
              c1.gemm_calls[0] == c0.gemm_calls[0] && c1.gemm_calls[1] == c0.gemm_calls[1],
          "bf16 calls +%llu, flops +%g", (unsigned long long)(c1.gemm_calls[2] - c0.gemm_calls[2]),
          c1.gemm_flops[2] - c0.gemm_flops[2]);

    /* bf16 C, D and bias: D is the fp32 result (of C and bias widened) rounded to nearest even */
    cublasLtMatmulDesc_t db16 = mdesc(CUBLAS_COMPUTE_32F, 0, 1, CUBLASLT_EPILOGUE_BIAS, dBias16);
    cublasLtMatmulDesc_t db32 = mdesc(CUBLAS_COMPUTE_32F, 0, 1, CUBLASLT_EPILOGUE_BIAS, dBias);
    st = run(db16, 1.0f, dA16, la16, dB16, lb16, -0.75f, dC16, lc16, dD16, lc16, s);
    down(D16, dD16, sizeof D16);
    CB(run(db32, 1.0f, dA16, la16, dB16, lb16, -0.75f, dC, lc, dD, lc, s));
    down(want, dD, sizeof want);
    int same = all_finite(want, M * N), first_bad = -1;
    for (int i = 0; i < M * N; i++)
        if (D16[i].x != __float2bfloat16(want[i]).x && first_bad < 0)
            first_bad = i;
    emu_check("cublasLtMatmul bf16 C, D, bias = the fp32 D rounded to nearest even", st == CUBLAS_STATUS_SUCCESS &&
          same && first_bad < 0, "status %s, first difference at %d", cublasGetStatusName(st), first_bad);

    /* TF32: the product of the inputs rounded to TF32 */
    baton_emu_counters_get(&c0);
    st = run(dtf, 1.0f, dA, la, dB, lb, -0.75f, dC, lc, dD, lc, s);
    down(got, dD, sizeof got);
    baton_emu_counters_get(&c1);
    up(dA, At, sizeof At), up(dB, Bt, sizeof Bt);
    CB(run(d32, 1.0f, dA, la, dB, lb, -0.75f, dC, lc, dD, lc, s));
    down(want, dD, sizeof want);
    emu_check("cublasLtMatmul COMPUTE_32F_FAST_TF32 = fp32 matmul of the TF32-rounded inputs, not of the originals",
          st == CUBLAS_STATUS_SUCCESS && all_finite(got, M * N) && memcmp(got, want, sizeof got) == 0 &&
              memcmp(got, exact, sizeof got) != 0,
          "status %s, d[0] %.9g vs rounded %.9g vs fp32 %.9g", cublasGetStatusName(st), (double)got[0],
          (double)want[0], (double)exact[0]);
    emu_check("counters: a TF32 matmul counted as one TF32 GEMM",
          c1.gemm_calls[1] - c0.gemm_calls[1] == 1 && c1.gemm_flops[1] - c0.gemm_flops[1] == 2.0 * M * N * K,
          "tf32 calls +%llu", (unsigned long long)(c1.gemm_calls[1] - c0.gemm_calls[1]));

    /* outside cuBLASLt's type table: NOT_SUPPORTED */
    cublasLtMatmulDesc_t dtf16 = mdesc(CUBLAS_COMPUTE_32F_FAST_TF32, 0, 1, CUBLASLT_EPILOGUE_DEFAULT, NULL);
    cublasLtMatrixLayout_t lh = layout(CUDA_R_16F, M, K, M, 1, 0);
    cublasStatus_t s1 = run(d32, 1.0f, dA16, la16, dB, lb, 0.0f, dC, lc, dD, lc, s);   /* A bf16, B fp32 */
    cublasStatus_t s2 = run(d32, 1.0f, dA, la, dB, lb, 0.0f, dC, lc, dD16, lc16, s);   /* fp32 in, bf16 out */
    cublasStatus_t s3 = run(dtf16, 1.0f, dA16, la16, dB16, lb16, 0.0f, dC, lc, dD, lc, s); /* bf16 with TF32 */
    cublasStatus_t s4 = run(d32, 1.0f, dA16, lh, dB16, lb16, 0.0f, dC, lc, dD, lc, s);   /* fp16 A */
    cublasStatus_t s5 = run(d32, 1.0f, dA16, la16, dB16, lb16, 0.0f, dC16, lc16, dD, lc, s); /* C bf16, D fp32 */
    emu_check("cublasLtMatmul types outside the table (bf16 x fp32, fp32 -> bf16, bf16 with TF32, fp16, C unlike D): "
          "CUBLAS_STATUS_NOT_SUPPORTED",
          s1 == CUBLAS_STATUS_NOT_SUPPORTED && s2 == CUBLAS_STATUS_NOT_SUPPORTED && s3 == CUBLAS_STATUS_NOT_SUPPORTED &&
              s4 == CUBLAS_STATUS_NOT_SUPPORTED && s5 == CUBLAS_STATUS_NOT_SUPPORTED,
          "%s, %s, %s, %s, %s", cublasGetStatusName(s1), cublasGetStatusName(s2), cublasGetStatusName(s3),
          cublasGetStatusName(s4), cublasGetStatusName(s5));

    cublasLtMatmulDescDestroy(d32), cublasLtMatmulDescDestroy(dtf), cublasLtMatmulDescDestroy(db16);
    cublasLtMatmulDescDestroy(db32), cublasLtMatmulDescDestroy(dtf16);
    cublasLtMatrixLayoutDestroy(la16), cublasLtMatrixLayoutDestroy(lb16), cublasLtMatrixLayoutDestroy(la);
    cublasLtMatrixLayoutDestroy(lb), cublasLtMatrixLayoutDestroy(lc), cublasLtMatrixLayoutDestroy(lc16);
    cublasLtMatrixLayoutDestroy(lh);
    free(A), free(B), free(C), free(bias);
    cudaFree(dA16), cudaFree(dB16), cudaFree(dC16), cudaFree(dBias16), cudaFree(dD16);
    cudaFree(dA), cudaFree(dB), cudaFree(dC), cudaFree(dD), cudaFree(dBias);
}

/* ---- batches ---- */

static void check_batched(cudaStream_t s)
{
    /* gaps between the matrices, B transposed, a RELU_BIAS epilogue whose bias every batch shares */
    enum { BM = 5, BN = 4, BK = 7, BATCH = 3, SA = BM * BK + 7, SB = BN * BK + 3, SC = BM * BN + 5, SD = BM * BN + 2 };
    float *hA = filled(SA * BATCH, 50), *hB = filled(SB * BATCH, 51), *hC = filled(SC * BATCH, 52);
    float *hD = filled(SD * BATCH, 53), *bias = filled(BM, 54);
    for (int b = 0; b < BATCH; b++)
        tu_fill_nan(hD + b * SD, BM * BN);
    float out[SD * BATCH], got[BM * BN * BATCH];
    double ref[BM * BN * BATCH];
    float *dA = dev_copy(hA, SA * BATCH), *dB = dev_copy(hB, SB * BATCH), *dC = dev_copy(hC, SC * BATCH);
    float *dD = dev_copy(hD, SD * BATCH), *dBias = dev_copy(bias, BM);
    cublasLtMatrixLayout_t la = layout(CUDA_R_32F, BM, BK, BM, BATCH, SA);
    cublasLtMatrixLayout_t lb = layout(CUDA_R_32F, BN, BK, BN, BATCH, SB);
    cublasLtMatrixLayout_t lc = layout(CUDA_R_32F, BM, BN, BM, BATCH, SC);
    cublasLtMatrixLayout_t ld = layout(CUDA_R_32F, BM, BN, BM, BATCH, SD);
    cublasLtMatmulDesc_t d = mdesc(CUBLAS_COMPUTE_32F, 0, 1, CUBLASLT_EPILOGUE_RELU_BIAS, dBias);
    baton_emu_counters c0, c1, c2;
    baton_emu_counters_get(&c0);
    cublasStatus_t st = run(d, -1.25f, dA, la, dB, lb, 0.5f, dC, lc, dD, ld, s);
    baton_emu_counters_get(&c1); /* the stream has not run yet: nothing counted */
    down(out, dD, sizeof out);
    baton_emu_counters_get(&c2);
    int gaps = 1;
    for (int b = 0; b < BATCH; b++) {
        ref_lt(0, 1, BM, BN, BK, -1.25, hA + b * SA, BM, hB + b * SB, BN, 0.5, hC + b * SC, BM, bias,
               CUBLASLT_EPILOGUE_RELU_BIAS, ref + b * BM * BN);
        memcpy(got + b * BM * BN, out + b * SD, sizeof(float) * BM * BN);
        gaps &= memcmp(out + b * SD + BM * BN, hD + b * SD + BM * BN, sizeof(float) * (SD - BM * BN)) == 0;
    }
    if (st != CUBLAS_STATUS_SUCCESS || !gaps)
        emu_check("cublasLtMatmul strided batch NT, 3 matrices, RELU_BIAS", 0, "status %s, gaps %s",
              cublasGetStatusName(st), gaps ? "kept" : "written");
    else
        tu_check(&emu_rep, "cublasLtMatmul strided batch NT, 3 matrices, RELU_BIAS", tu_rel_err(got, ref, BM * BN * BATCH),
                 LT_TOL);
    emu_check("counters: a batch of 3 counted as 3 fp32 GEMMs of 2*5*4*7 flops each, when it ran",
          c1.gemm_calls[0] == c0.gemm_calls[0] && c2.gemm_calls[0] - c0.gemm_calls[0] == BATCH &&
              c2.gemm_flops[0] - c0.gemm_flops[0] == 2.0 * BM * BN * BK * BATCH,
          "at the call +%llu, after the download +%llu calls, +%g flops",
          (unsigned long long)(c1.gemm_calls[0] - c0.gemm_calls[0]),
          (unsigned long long)(c2.gemm_calls[0] - c0.gemm_calls[0]), c2.gemm_flops[0] - c0.gemm_flops[0]);

    /* batch counts that differ: INVALID_VALUE */
    cublasLtMatrixLayout_t lc1 = layout(CUDA_R_32F, BM, BN, BM, 1, 0);
    st = run(d, 1.0f, dA, la, dB, lb, 0.5f, dC, lc1, dD, ld, s);
    emu_check("cublasLtMatmul with C's batch count unlike D's: CUBLAS_STATUS_INVALID_VALUE",
          st == CUBLAS_STATUS_INVALID_VALUE, "%s", cublasGetStatusName(st));
    cublasLtMatmulDescDestroy(d);
    cublasLtMatrixLayoutDestroy(la), cublasLtMatrixLayoutDestroy(lb), cublasLtMatrixLayoutDestroy(lc);
    cublasLtMatrixLayoutDestroy(ld), cublasLtMatrixLayoutDestroy(lc1);
    free(hA), free(hB), free(hC), free(hD), free(bias);
    cudaFree(dA), cudaFree(dB), cudaFree(dC), cudaFree(dD), cudaFree(dBias);
}

/* ---- the API: attributes, heuristic, refusals ---- */

static void check_api(void)
{
    cublasLtMatmulDesc_t d;
    CB(cublasLtMatmulDescCreate(&d, CUBLAS_COMPUTE_32F_FAST_TF32, CUDA_R_32F));
    int32_t ta = CUBLAS_OP_T, got32 = -7, compute = 0;
    uint32_t epi = CUBLASLT_EPILOGUE_GELU_BIAS, epi_got = 0;
    size_t need = 0, written = 0;
    CB(cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    CB(cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
    cublasStatus_t g1 = cublasLtMatmulDescGetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSA, &got32, sizeof got32, &written);
    cublasStatus_t g2 =
        cublasLtMatmulDescGetAttribute(d, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi_got, sizeof epi_got, NULL);
    cublasStatus_t g3 = cublasLtMatmulDescGetAttribute(d, CUBLASLT_MATMUL_DESC_COMPUTE_TYPE, &compute, sizeof compute,
                                                       NULL);
    cublasStatus_t g4 = cublasLtMatmulDescGetAttribute(d, CUBLASLT_MATMUL_DESC_BIAS_POINTER, NULL, 0, &need);
    int64_t wide = CUBLAS_OP_N;
    cublasStatus_t s1 = cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSB, &wide, sizeof wide);
    cublasStatus_t s2 = cublasLtMatmulDescSetAttribute(d, (cublasLtMatmulDescAttributes_t)5, &ta, sizeof ta);
    emu_check("matmul descriptor attributes: set, get, sizes (0 asks the size), a wrong size, one outside the subset",
          g1 == CUBLAS_STATUS_SUCCESS && got32 == CUBLAS_OP_T && written == 4 && g2 == CUBLAS_STATUS_SUCCESS &&
              epi_got == CUBLASLT_EPILOGUE_GELU_BIAS && g3 == CUBLAS_STATUS_SUCCESS &&
              compute == CUBLAS_COMPUTE_32F_FAST_TF32 && g4 == CUBLAS_STATUS_SUCCESS && need == sizeof(void *) &&
              s1 == CUBLAS_STATUS_INVALID_VALUE && s2 == CUBLAS_STATUS_NOT_SUPPORTED,
          "transa %s %d (%zu bytes), epilogue %s %u, compute %s %d, bias size %s %zu, int64 transb %s, TRANSC %s",
          cublasGetStatusName(g1), got32, written, cublasGetStatusName(g2), epi_got, cublasGetStatusName(g3), compute,
          cublasGetStatusName(g4), need, cublasGetStatusName(s1), cublasGetStatusName(s2));
    CB(cublasLtMatmulDescDestroy(d));

    cublasLtMatrixLayout_t l = layout(CUDA_R_16BF, 8, 3, 10, 4, 40);
    int32_t batch = 0;
    int64_t stride = 0, ld = 0;
    uint32_t type = 0;
    CB(cublasLtMatrixLayoutGetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch, sizeof batch, NULL));
    CB(cublasLtMatrixLayoutGetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof stride, NULL));
    CB(cublasLtMatrixLayoutGetAttribute(l, CUBLASLT_MATRIX_LAYOUT_LD, &ld, sizeof ld, NULL));
    CB(cublasLtMatrixLayoutGetAttribute(l, CUBLASLT_MATRIX_LAYOUT_TYPE, &type, sizeof type, NULL));
    emu_check("matrix layout attributes: batch count, strided batch offset, ld, type read back",
          batch == 4 && stride == 40 && ld == 10 && type == CUDA_R_16BF, "batch %d, stride %lld, ld %lld, type %u",
          batch, (long long)stride, (long long)ld, type);
    CB(cublasLtMatrixLayoutDestroy(l));

    /* refusals, by the heuristic and by the matmul alike */
    enum { M = 8, N = 4, K = 6 };
    float *dA = dalloc(sizeof(float) * 64), *dB = dalloc(sizeof(float) * 64), *dD = dalloc(sizeof(float) * 64);
    cublasLtMatmulDesc_t dn = mdesc(CUBLAS_COMPUTE_32F, 0, 0, CUBLASLT_EPILOGUE_DEFAULT, NULL);
    cublasLtMatrixLayout_t la_bad = layout(CUDA_R_32F, M, K, M - 1, 1, 0); /* ld < rows */
    cublasLtMatrixLayout_t la = layout(CUDA_R_32F, M, K, M, 1, 0), lb = layout(CUDA_R_32F, K, N, K, 1, 0);
    cublasLtMatrixLayout_t lb_k = layout(CUDA_R_32F, K + 1, N, K + 1, 1, 0); /* k unlike A's */
    cublasLtMatrixLayout_t ld_ = layout(CUDA_R_32F, M, N, M, 1, 0), ld_n = layout(CUDA_R_32F, M, N + 1, M, 1, 0);
    cublasLtMatmulHeuristicResult_t r[3];
    int count = -1;
    cublasStatus_t h1 = cublasLtMatmulAlgoGetHeuristic(lt, dn, la_bad, lb, ld_, ld_, pref, 3, r, &count);
    int count_bad = count;
    const float one = 1.0f, zero = 0.0f;
    cublasStatus_t m1 = cublasLtMatmul(lt, dn, &one, dA, la_bad, dB, lb, &zero, dD, ld_, dD, ld_, NULL, NULL, 0, 0);
    cublasStatus_t m2 = cublasLtMatmul(lt, dn, &one, dA, la, dB, lb_k, &zero, dD, ld_, dD, ld_, NULL, NULL, 0, 0);
    cublasStatus_t m3 = cublasLtMatmul(lt, dn, &one, dA, la, dB, lb, &zero, dD, ld_n, dD, ld_n, NULL, NULL, 0, 0);
    cublasStatus_t m4 = cublasLtMatmul(lt, dn, &one, dA, la, dB, lb, &one, dB, ld_n, dD, ld_, NULL, NULL, 0, 0);
    emu_check("cublasLtMatmul refuses ld < rows (and so does the heuristic, with no result), k, n or C unlike D: "
          "CUBLAS_STATUS_INVALID_VALUE",
          h1 == CUBLAS_STATUS_INVALID_VALUE && count_bad == 0 && m1 == CUBLAS_STATUS_INVALID_VALUE &&
              m2 == CUBLAS_STATUS_INVALID_VALUE && m3 == CUBLAS_STATUS_INVALID_VALUE &&
              m4 == CUBLAS_STATUS_INVALID_VALUE,
          "heuristic %s (%d results), ld %s, k %s, n %s, C %s", cublasGetStatusName(h1), count_bad,
          cublasGetStatusName(m1), cublasGetStatusName(m2), cublasGetStatusName(m3), cublasGetStatusName(m4));

    uint64_t ws = 1 << 20;
    CB(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
    count = -1;
    memset(r, 0xff, sizeof r);
    cublasStatus_t h2 = cublasLtMatmulAlgoGetHeuristic(lt, dn, la, lb, ld_, ld_, pref, 3, r, &count);
    emu_check("cublasLtMatmulAlgoGetHeuristic: one result, state SUCCESS, no workspace",
          h2 == CUBLAS_STATUS_SUCCESS && count == 1 && r[0].state == CUBLAS_STATUS_SUCCESS && r[0].workspaceSize == 0,
          "%s, %d results, state %s, workspace %zu", cublasGetStatusName(h2), count, cublasGetStatusName(r[0].state),
          r[0].workspaceSize);

    int32_t row = CUBLASLT_ORDER_ROW;
    CB(cublasLtMatrixLayoutSetAttribute(la, CUBLASLT_MATRIX_LAYOUT_ORDER, &row, sizeof row));
    cublasStatus_t n1 = cublasLtMatmul(lt, dn, &one, dA, la, dB, lb, &zero, dD, ld_, dD, ld_, NULL, NULL, 0, 0);
    int32_t col = CUBLASLT_ORDER_COL;
    CB(cublasLtMatrixLayoutSetAttribute(la, CUBLASLT_MATRIX_LAYOUT_ORDER, &col, sizeof col));
    uint32_t drelu = 8 | 128; /* CUBLASLT_EPILOGUE_DRELU: outside the subset */
    CB(cublasLtMatmulDescSetAttribute(dn, CUBLASLT_MATMUL_DESC_EPILOGUE, &drelu, sizeof drelu));
    cublasStatus_t n2 = cublasLtMatmul(lt, dn, &one, dA, la, dB, lb, &zero, dD, ld_, dD, ld_, NULL, NULL, 0, 0);
    emu_check("cublasLtMatmul with a row-major layout or an epilogue outside the subset: CUBLAS_STATUS_NOT_SUPPORTED",
          n1 == CUBLAS_STATUS_NOT_SUPPORTED && n2 == CUBLAS_STATUS_NOT_SUPPORTED, "%s, %s", cublasGetStatusName(n1),
          cublasGetStatusName(n2));
    cublasLtMatmulDescDestroy(dn);
    cublasLtMatrixLayoutDestroy(la_bad), cublasLtMatrixLayoutDestroy(la), cublasLtMatrixLayoutDestroy(lb);
    cublasLtMatrixLayoutDestroy(lb_k), cublasLtMatrixLayoutDestroy(ld_), cublasLtMatrixLayoutDestroy(ld_n);
    cudaFree(dA), cudaFree(dB), cudaFree(dD);
}

/* ---- faults, each in a forked child ---- */

/* D = A (8 x 6) B (6 x 4) + bias (8): `short_b` gives B's allocation 23 floats of its 24, else
 * the bias 7 of its 8; the matmul must refuse with one error reported and nothing sticky. */
static void operand_past_end(int short_b)
{
    cublasLtHandle_t h;
    cublasLtMatmulPreference_t p;
    if (cublasLtCreate(&h) != CUBLAS_STATUS_SUCCESS || cublasLtMatmulPreferenceCreate(&p) != CUBLAS_STATUS_SUCCESS) {
        emu_bad++;
        return;
    }
    lt = h, pref = p;
    float *a = dalloc(8 * 6 * sizeof(float)), *b = dalloc((short_b ? 23 : 24) * sizeof(float));
    float *c = dalloc(8 * 4 * sizeof(float)), *bias = dalloc((short_b ? 8 : 7) * sizeof(float));
    cublasLtMatrixLayout_t la = layout(CUDA_R_32F, 8, 6, 8, 1, 0), lb = layout(CUDA_R_32F, 6, 4, 6, 1, 0);
    cublasLtMatrixLayout_t lc = layout(CUDA_R_32F, 8, 4, 8, 1, 0);
    cublasLtMatmulDesc_t d = mdesc(CUBLAS_COMPUTE_32F, 0, 0, CUBLASLT_EPILOGUE_BIAS, bias);
    uint64_t e0 = emu_errors();
    cublasStatus_t st = run(d, 1.0f, a, la, b, lb, 0.0f, c, lc, c, lc, 0);
    cudaError_t sync = cudaDeviceSynchronize();
    if (st != CUBLAS_STATUS_EXECUTION_FAILED || emu_errors() - e0 != 1 || sync != cudaSuccess) {
        printf("    cublasLtMatmul returned %s, %llu error(s) reported, then the sync returned %s\n",
               cublasGetStatusName(st), (unsigned long long)(emu_errors() - e0), cudaGetErrorName(sync));
        emu_bad++;
    }
}

static void b_past_end(void)
{
    operand_past_end(1);
}

static void bias_past_end(void)
{
    operand_past_end(0);
}

int main(void)
{
    int count = 0;
    CK(cudaGetDeviceCount(&count));
    printf("test_emu_lt: %s\n", baton_emu_describe());
    /* the faults first, each in its own process, before any product starts BLAS threads */
    emu_isolated("cublasLtMatmul B operand past its allocation", b_past_end, EMU_EXIT_NORMAL, 0,
             "cublasLtMatmul: B (6 x 4, leading dimension 6) reaches outside its allocation");
    emu_isolated("cublasLtMatmul bias past its allocation", bias_past_end, EMU_EXIT_NORMAL, 0,
             "cublasLtMatmul: bias (8 x 1, leading dimension 8) reaches outside its allocation");

    CB(cublasLtCreate(&lt));
    CB(cublasLtMatmulPreferenceCreate(&pref));
    cudaStream_t s;
    CK(cudaStreamCreate(&s)); /* blocking: ordered with the legacy stream's copies */
    check_transposes(s);
    check_beta_zero();
    check_epilogues(s);
    check_bf16_and_tf32(s);
    check_batched(s);
    check_api();
    CB(cublasLtMatmulPreferenceDestroy(pref));
    CB(cublasLtDestroy(lt));
    CK(cudaStreamDestroy(s));
    CK(cudaDeviceSynchronize());
    uint64_t errors = emu_errors();
    emu_check("no emulation error reported for the correct programs (this process)", errors == 0,
          "%llu error(s) reported", (unsigned long long)errors);
    return tu_summary(&emu_rep, "test_emu_lt");
}
