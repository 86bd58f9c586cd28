/* test_bf16.c: bf16 precision on the CPU backend, the reference every backend's bf16 is checked
 * against (design.md, "Precision").
 *   - baton_bf16_from_f32 on values whose rounding is known: exact values, halfway cases (ties go
 *     to the even neighbour), just above and below halfway, the largest finite floats (which round
 *     to infinity), subnormals, infinities and NaN (stays NaN, even where the rounding add would
 *     carry a NaN payload into the infinity pattern). Bit-exact.
 *   - The CPU backend's gemm and gemm_batched in bf16 precision equal, bit for bit, its fp32 gemm
 *     of operands rounded beforehand (same BLAS call, same order): bf16 precision is exactly
 *     "round A and B, then fp32". And the rounding is real: against the double product of the
 *     unrounded operands the bf16 result errs by about 2^-9 relative (at least 1e-4 here), while
 *     fp32 errs by < 1e-5, so a gemm that forgot to round would fail.
 *   - Padded leading dimensions and strided batches: the rounding covers exactly the elements the
 *     product reads, and C's padding is left as it was.
 *   These run the plain version (--kernels cpubf16=round). The oneDNN version (cpubf16=dnnl, the
 *   default where built; AMX or AVX512-BF16) multiplies the same bf16 values and sums them in fp32 in
 *   another order, so it is checked against the plain one within the bound of that reordering:
 *   every shape, transpose, alpha, beta, padded and strided batch (and a broadcast operand), with
 *   weights frozen and thawed, and NaN in an operand reaching C. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/backend.h"
#include "baton/bf16.h"
#include "baton_config.h"
#include "support/testutil.h"

static tu_report rep;

static float from_bits(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static void check_rounding(void)
{
    static const struct {
        uint32_t in;
        uint16_t out;
        const char *what;
    } cases[] = {
        {0x3f800000u, 0x3f80, "1.0 exact"},
        {0x3f808000u, 0x3f80, "1 + 2^-8: halfway, to even (down)"},
        {0x3f818000u, 0x3f82, "1 + 3*2^-8: halfway, to even (up)"},
        {0x3f808001u, 0x3f81, "just above halfway: up"},
        {0x3f807fffu, 0x3f80, "just below halfway: down"},
        {0xbf808001u, 0xbf81, "negative, above halfway: away from zero"},
        {0x7f7fffffu, 0x7f80, "largest float: rounds to +inf"},
        {0x7f7f7fffu, 0x7f7f, "largest float below the top bf16 halfway: stays finite"},
        {0x00000001u, 0x0000, "smallest subnormal: to +0"},
        {0x00018000u, 0x0002, "subnormal halfway: to even"},
        {0x80000000u, 0x8000, "-0"},
        {0x7f800000u, 0x7f80, "+inf"},
        {0xff800000u, 0xff80, "-inf"},
        {0x7fc00000u, 0x7fc0, "quiet NaN"},
        {0x7fffffffu, 0x7fff, "NaN whose rounding would carry: stays NaN"},
        {0x7f800001u, 0x7fc0, "signalling NaN, low payload: quiet NaN"},
        {0xff800001u, 0xffc0, "negative signalling NaN: negative quiet NaN"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint16_t got = baton_bf16_from_f32(from_bits(cases[i].in));
        TU_EXPECT(&rep, got == cases[i].out, "%s: 0x%08x -> 0x%04x, expected 0x%04x", cases[i].what, cases[i].in, got,
                  cases[i].out);
    }
    /* every bf16 value survives the round trip */
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000u; h++) {
        float x = baton_bf16_to_f32((uint16_t)h);
        bad += !isnan(x) && baton_bf16_from_f32(x) != h;
    }
    TU_EXPECT(&rep, bad == 0, "%d of the 65536 bf16 values do not round-trip", bad);
    printf("bf16 rounding: %zu cases and the round trip of every bf16 value\n", sizeof cases / sizeof *cases);
}

/* Element (i, j) of op(X), X row-major with leading dimension ld. */
static float at(const float *X, int ld, int trans, int i, int j)
{
    return trans ? X[(size_t)j * ld + i] : X[(size_t)i * ld + j];
}

/* max relative error of C (M,N; ldc) against the double product of A and B (rounded first when r). */
static double err_vs_double(const float *C, int ldc, const float *A, int lda, int ta, const float *B, int ldb, int tb,
                            int M, int N, int K, int r)
{
    double num = 0, den = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0;
            for (int k = 0; k < K; k++) {
                float a = at(A, lda, ta, i, k), b = at(B, ldb, tb, k, j);
                acc += r ? (double)baton_bf16_round(a) * baton_bf16_round(b) : (double)a * b;
            }
            num += (C[(size_t)i * ldc + j] - acc) * (C[(size_t)i * ldc + j] - acc);
            den += acc * acc;
        }
    return isnan(num) ? INFINITY : sqrt(num / den);
}

static void check_gemm(baton_backend *fp32, baton_backend *bf16)
{
    const int shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {33, 17, 65}, {64, 48, 200}};
    for (int s = 0; s < 4; s++)
        for (int t = 0; t < 4; t++) {
            int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], ta = t & 1, tb = t >> 1;
            int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 1;
            size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
            float *A = malloc(na * 4), *B = malloc(nb * 4), *Ar = malloc(na * 4), *Br = malloc(nb * 4);
            float *C = malloc(nc * 4), *Cr = malloc(nc * 4), *C0 = malloc(nc * 4);
            tu_fill_uniform(A, na, -1, 1, 7, (uint32_t)(2 * s));
            tu_fill_uniform(B, nb, -1, 1, 7, (uint32_t)(2 * s + 1));
            tu_fill_uniform(C0, nc, -1, 1, 7, 99);
            for (size_t i = 0; i < na; i++)
                Ar[i] = baton_bf16_round(A[i]);
            for (size_t i = 0; i < nb; i++)
                Br[i] = baton_bf16_round(B[i]);
            memcpy(C, C0, nc * 4);
            memcpy(Cr, C0, nc * 4);
            int ok = bf16->ops->gemm(bf16, ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc) == BATON_OK &&
                     fp32->ops->gemm(fp32, ta, tb, M, N, K, 1.0f, Ar, lda, Br, ldb, 0.0f, Cr, ldc) == BATON_OK;
            char name[160];
            snprintf(name, sizeof name, "bf16 gemm %dx%dx%d ta=%d tb=%d == fp32 gemm of rounded operands", M, N, K, ta,
                     tb);
            TU_EXPECT(&rep, ok && memcmp(C, Cr, nc * 4) == 0, "%s: differs in bits", name);
            if (K >= 65) { /* enough products for the rounding to show above fp32's own error */
                double e_bf = err_vs_double(C, ldc, A, lda, ta, B, ldb, tb, M, N, K, 0);
                double e_rd = err_vs_double(C, ldc, A, lda, ta, B, ldb, tb, M, N, K, 1);
                snprintf(name, sizeof name, "bf16 gemm %dx%dx%d vs double of rounded operands (fp32 sums)", M, N, K);
                tu_check(&rep, name, e_rd, 1e-5);
                TU_EXPECT(&rep, e_bf > 1e-4 && e_bf < 1e-2,
                          "bf16 gemm %dx%dx%d vs double of unrounded operands: rel err %.3g, expected about 2^-9", M,
                          N, K, e_bf);
            }
            free(A), free(B), free(Ar), free(Br), free(C), free(Cr), free(C0);
        }
}

static void check_batched(baton_backend *fp32, baton_backend *bf16)
{
    enum { M = 9, N = 7, K = 70, BATCH = 3, SA = M * K + 5, SB = N * K + 3, SC = M * N + 2 };
    float A[SA * BATCH], B[SB * BATCH], Ar[SA * BATCH], Br[SB * BATCH], C[SC * BATCH], Cr[SC * BATCH];
    tu_fill_uniform(A, SA * BATCH, -1, 1, 8, 1);
    tu_fill_uniform(B, SB * BATCH, -1, 1, 8, 2);
    tu_fill_uniform(C, SC * BATCH, -1, 1, 8, 3);
    memcpy(Cr, C, sizeof C);
    for (int i = 0; i < SA * BATCH; i++)
        Ar[i] = baton_bf16_round(A[i]);
    for (int i = 0; i < SB * BATCH; i++)
        Br[i] = baton_bf16_round(B[i]);
    int ok = bf16->ops->gemm_batched(bf16, 0, 1, M, N, K, 0.5f, A, K, SA, B, K, SB, 1.0f, C, N, SC, BATCH) ==
                 BATON_OK &&
             fp32->ops->gemm_batched(fp32, 0, 1, M, N, K, 0.5f, Ar, K, SA, Br, K, SB, 1.0f, Cr, N, SC, BATCH) ==
                 BATON_OK;
    TU_EXPECT(&rep, ok && memcmp(C, Cr, sizeof C) == 0,
              "bf16 gemm_batched (3 strided products, beta 1) differs from fp32 of rounded operands");
}

/* Worst |got - want| over C (M, N; ldc) in units of the reordering bound: two sums of the same K
 * exact products (and beta C0) in different orders differ by at most 2 K u sum|terms| (u = 2^-24,
 * each sum's error K u sum|terms|), plus 2^-126 per product for AMX's flush of bf16 denormals (none
 * here: the operands are in [-1, 1] and not tiny). Padding between rows must be left untouched. NaN
 * anywhere counts as a failure (the ratio is NaN and `<= 1` fails). */
static double reorder_ratio(const float *got, const float *want, const float *C0, int ldc, const float *A, int lda,
                            int ta, const float *B, int ldb, int tb, int M, int N, int K, float alpha, float beta)
{
    double worst = 0;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double mag = fabs(beta * C0[(size_t)i * ldc + j]);
            for (int k = 0; k < K; k++)
                mag += fabs(alpha * (double)baton_bf16_round(at(A, lda, ta, i, k)) * baton_bf16_round(at(B, ldb, tb, k, j)));
            double bound = 2.0 * (K + 1) * ldexp(mag, -24) + K * ldexp(1.0, -126);
            double r = fabs((double)got[(size_t)i * ldc + j] - want[(size_t)i * ldc + j]) / bound;
            worst = r > worst || isnan(r) ? r : worst;
        }
        for (int j = N; j < ldc && i + 1 < M; j++) /* C's padding */
            if (memcmp(&got[(size_t)i * ldc + j], &C0[(size_t)i * ldc + j], 4) != 0)
                return NAN;
    }
    return worst;
}

/* The default bf16 version (dnnl where built) against round on every shape, transpose and scalars. */
static void check_versions(baton_backend *rnd, baton_backend *fast)
{
    const int shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {33, 17, 65}, {64, 48, 200}, {130, 257, 512}};
    const float scalars[][2] = {{1.0f, 0.0f}, {0.5f, 1.0f}, {-2.0f, 0.25f}};
    for (int s = 0; s < 5; s++)
        for (int t = 0; t < 4; t++)
            for (int c = 0; c < 3; c++) {
                int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], ta = t & 1, tb = t >> 1;
                float alpha = scalars[c][0], beta = scalars[c][1];
                int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 1;
                size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
                float *A = malloc(na * 4), *B = malloc(nb * 4), *C = malloc(nc * 4), *Cr = malloc(nc * 4),
                      *C0 = malloc(nc * 4);
                tu_fill_uniform(A, na, -1, 1, 9, (uint32_t)(4 * s + t));
                tu_fill_uniform(B, nb, -1, 1, 9, (uint32_t)(40 + 4 * s + t));
                tu_fill_uniform(C0, nc, -1, 1, 9, (uint32_t)(80 + c));
                memcpy(C, C0, nc * 4);
                memcpy(Cr, C0, nc * 4);
                int ok = fast->ops->gemm(fast, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) == BATON_OK &&
                         rnd->ops->gemm(rnd, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, Cr, ldc) == BATON_OK;
                char name[160];
                snprintf(name, sizeof name, "bf16 %dx%dx%d ta=%d tb=%d alpha %g beta %g: default version vs round", M,
                         N, K, ta, tb, alpha, beta);
                double r = ok ? reorder_ratio(C, Cr, C0, ldc, A, lda, ta, B, ldb, tb, M, N, K, alpha, beta) : NAN;
                TU_EXPECT(&rep, r <= 1.0, "%s: %.3g of the reordering bound (padding changed or NaN: nan)", name, r);
                free(A), free(B), free(C), free(Cr), free(C0);
            }
}

/* Batches: strided operands, and B broadcast (stride 0) over the batch. */
static void check_versions_batched(baton_backend *rnd, baton_backend *fast)
{
    enum { M = 9, N = 7, K = 70, BATCH = 3, SA = M * K + 5, SB = N * K + 3, SC = M * N + 2 };
    static float A[SA * BATCH], B[SB * BATCH], C[SC * BATCH], Cr[SC * BATCH], C0[SC * BATCH];
    tu_fill_uniform(A, SA * BATCH, -1, 1, 10, 1);
    tu_fill_uniform(B, SB * BATCH, -1, 1, 10, 2);
    tu_fill_uniform(C0, SC * BATCH, -1, 1, 10, 3);
    for (int sb = 0; sb < 2; sb++) {
        int64_t stride_b = sb ? SB : 0;
        memcpy(C, C0, sizeof C);
        memcpy(Cr, C0, sizeof C);
        int ok = fast->ops->gemm_batched(fast, 0, 1, M, N, K, 0.5f, A, K, SA, B, K, stride_b, 1.0f, C, N, SC,
                                         BATCH) == BATON_OK &&
                 rnd->ops->gemm_batched(rnd, 0, 1, M, N, K, 0.5f, A, K, SA, B, K, stride_b, 1.0f, Cr, N, SC,
                                        BATCH) == BATON_OK;
        double worst = ok ? 0 : NAN;
        for (int i = 0; ok && i < BATCH; i++) {
            double r = reorder_ratio(C + i * SC, Cr + i * SC, C0 + i * SC, N, A + i * SA, K, 0,
                                     B + i * stride_b, K, 1, M, N, K, 0.5f, 1.0f);
            worst = r > worst || isnan(r) ? r : worst;
        }
        for (int i = 0; ok && i < BATCH - 1; i++) /* the gaps between C's matrices stay as they were */
            worst = memcmp(C + i * SC + M * N, C0 + i * SC + M * N, (SC - M * N) * 4) ? NAN : worst;
        TU_EXPECT(&rep, worst <= 1.0, "bf16 gemm_batched, B stride %lld: default version vs round: %.3g of the bound",
                  (long long)stride_b, worst);
    }
}

/* Frozen weights: a product reading them equals the unfrozen one (the same bf16 values), and after
 * a thaw, new values are read, not the copy made at the freeze. NaN in an operand reaches C. */
static void check_frozen(baton_backend *fast)
{
    enum { M = 5, N = 40, K = 96 };
    static float W[N * K], X[M * K], C1[M * N], C2[M * N], C3[M * N];
    tu_fill_uniform(W, N * K, -1, 1, 11, 1);
    tu_fill_uniform(X, M * K, -1, 1, 11, 2);
    int ok = fast->ops->gemm(fast, 0, 1, M, N, K, 1.0f, X, K, W, K, 0.0f, C1, N) == BATON_OK;
    if (fast->ops->params_frozen)
        ok = ok && fast->ops->params_frozen(fast, W, N * K) == BATON_OK;
    ok = ok && fast->ops->gemm(fast, 0, 1, M, N, K, 1.0f, X, K, W, K, 0.0f, C2, N) == BATON_OK;
    if (fast->ops->params_frozen)
        ok = ok && fast->ops->params_frozen(fast, NULL, 0) == BATON_OK;
    TU_EXPECT(&rep, ok && memcmp(C1, C2, sizeof C1) == 0, "bf16 gemm on frozen weights differs from unfrozen");
    for (int i = 0; i < N * K; i++)
        W[i] = -W[i];
    ok = fast->ops->gemm(fast, 0, 1, M, N, K, 1.0f, X, K, W, K, 0.0f, C3, N) == BATON_OK;
    int negated = ok;
    for (int i = 0; i < M * N; i++)
        negated = negated && C3[i] == -C1[i];
    TU_EXPECT(&rep, negated, "bf16 gemm after a thaw did not read the weights' new values");
    X[3 * K + 7] = NAN;
    ok = fast->ops->gemm(fast, 0, 1, M, N, K, 1.0f, X, K, W, K, 0.0f, C3, N) == BATON_OK;
    int nan_row = ok;
    for (int j = 0; j < N; j++)
        nan_row = nan_row && isnan(C3[3 * N + j]) && !isnan(C3[2 * N + j]);
    TU_EXPECT(&rep, nan_row, "bf16 gemm: NaN in row 3 of A must make row 3 of C NaN, and only it");
}

int main(void)
{
    baton_backend fp32, bf16, fast;
    baton_backend_options o32 = {.threads = 1},
                          o16 = {.threads = 1, .precision = BATON_PRECISION_BF16, .versions = "cpubf16=round"},
                          ofast = {.threads = 2, .precision = BATON_PRECISION_BF16};
    if (baton_backend_create_ex(&fp32, "cpu", &o32) != BATON_OK ||
        baton_backend_create_ex(&bf16, "cpu", &o16) != BATON_OK ||
        baton_backend_create_ex(&fast, "cpu", &ofast) != BATON_OK)
        return 1;
    check_rounding();
    check_gemm(&fp32, &bf16);
    check_batched(&fp32, &bf16);
    printf("bf16: default version: %s\n", BATON_HAVE_DNNL ? "dnnl where the CPU has AVX512-BF16 or AMX, else round"
                                                          : "round (built without oneDNN)");
    check_versions(&bf16, &fast);
    check_versions_batched(&bf16, &fast);
    check_frozen(&fast);
    baton_backend_destroy(&fp32);
    baton_backend_destroy(&bf16);
    baton_backend_destroy(&fast);
    return tu_summary(&rep, "bf16");
}
