/* test_cpu_ops.c: every non-cell op of the CPU backend against a plain double-precision loop, on
 * random inputs, with outputs poisoned (NaN) before each call. The cell ops are covered by the RNN
 * tests (gradient check, double reference, PyTorch fixtures).
 * Tolerances: GEMM sums K <= 65 products in float32, whose rounding error is at most about
 * K * 6e-8 = 4e-6 relative and typically sqrt(K) * 6e-8; 1e-5 on the relative norm error. The
 * reductions sum in double (1e-6). Gather, dropout and scatter-add with distinct rows are exact. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/backend.h"
#include "baton/rng.h"
#include "support/testutil.h"

static baton_backend be;

/* Element (i, j) of op(X) for row-major X with leading dimension ld. */
static double at(const float *X, int ld, int trans, int i, int j)
{
    return trans ? X[(size_t)j * ld + i] : X[(size_t)i * ld + j];
}

static void check_gemm(tu_report *r)
{
    const int shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {33, 17, 65}, {2, 64, 1}, {1, 37, 70}}; /* M = 1: sgemv */
    for (int s = 0; s < (int)(sizeof shapes / sizeof *shapes); s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int bi = 0; bi < 2; bi++) {
                    int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
                    float beta = bi ? 0.5f : 0.0f;
                    int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 1; /* padded rows */
                    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
                    float *A = malloc(na * 4), *Bm = malloc(nb * 4), *C = malloc(nc * 4), *C0 = malloc(nc * 4);
                    double *ref = malloc(nc * 8);
                    tu_fill_uniform(A, na, -1, 1, s, 1);
                    tu_fill_uniform(Bm, nb, -1, 1, s, 2);
                    tu_fill_uniform(C0, nc, -1, 1, s, 3);
                    if (bi)
                        memcpy(C, C0, nc * 4);
                    else
                        tu_fill_nan(C, nc); /* beta = 0 must not read C */
                    for (int i = 0; i < M; i++)
                        for (int j = 0; j <= N; j++) {
                            double acc = 0.0;
                            for (int k = 0; k < K && j < N; k++)
                                acc += at(A, lda, ta, i, k) * at(Bm, ldb, tb, k, j);
                            /* column N is the padding of C: it must come back untouched */
                            ref[(size_t)i * ldc + j] = j < N ? 1.5 * acc + beta * C0[(size_t)i * ldc + j] : C[(size_t)i * ldc + j];
                        }
                    baton_status st = be.ops->gemm(&be, ta, tb, M, N, K, 1.5f, A, lda, Bm, ldb, beta, C, ldc);
                    char name[96];
                    snprintf(name, sizeof name, "gemm M=%d N=%d K=%d ta=%d tb=%d beta=%g", M, N, K, ta, tb, (double)beta);
                    double err = 0.0;
                    for (int i = 0; i < M; i++) /* relative error over the valid columns of each row */
                        err = fmax(err, tu_rel_err(C + (size_t)i * ldc, ref + (size_t)i * ldc, (size_t)N));
                    int pad_touched = 0;
                    for (int i = 0; i < M && bi; i++)
                        pad_touched += C[(size_t)i * ldc + N] != (float)ref[(size_t)i * ldc + N];
                    tu_check(r, name, st == BATON_OK && !pad_touched ? err : INFINITY, 1e-5);
                    free(A), free(Bm), free(C), free(C0), free(ref);
                }
}

static void check_gemm_batched(tu_report *r)
{
    enum { M = 5, N = 4, K = 6, BATCH = 3 };
    /* strides larger than one matrix, as when slicing a (B, T, H) tensor per batch row */
    int64_t sa = M * K + 7, sb = K * N + 3, sc = M * N + 5;
    float A[BATCH * (M * K + 7)], Bm[BATCH * (K * N + 3)], C[BATCH * (M * N + 5)];
    double ref[BATCH * (M * N + 5)];
    tu_fill_uniform(A, sizeof A / 4, -1, 1, 9, 1);
    tu_fill_uniform(Bm, sizeof Bm / 4, -1, 1, 9, 2);
    tu_fill_nan(C, sizeof C / 4);
    baton_status st = be.ops->gemm_batched(&be, 0, 1, M, N, K, 1.0f, A, K, sa, Bm, K, sb, 0.0f, C, N, sc, BATCH);
    double err = 0.0;
    for (int b = 0; b < BATCH; b++) {
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double acc = 0.0;
                for (int k = 0; k < K; k++)
                    acc += (double)A[b * sa + i * K + k] * Bm[b * sb + j * K + k];
                ref[b * sc + i * N + j] = acc;
            }
        err = fmax(err, tu_rel_err(C + b * sc, ref + b * sc, M * N));
    }
    tu_check(r, "gemm_batched 3 x (5x6 * (4x6)^T), padded strides", st == BATON_OK ? err : INFINITY, 1e-5);
}

static void check_elementwise(tu_report *r)
{
    enum { ROWS = 37, COLS = 19, N = ROWS * COLS };
    float x[N], y[N], y0[N], out[COLS], out0[COLS], out2[COLS], out20[COLS], s;
    double ref[N], cref[COLS], sref = 0.0;
    tu_fill_uniform(x, N, -2, 2, 4, 1);
    tu_fill_uniform(y0, N, -2, 2, 4, 2);
    tu_fill_uniform(out0, COLS, -1, 1, 4, 3);
    memcpy(y, y0, sizeof y);
    for (int i = 0; i < N; i++)
        ref[i] = 0.5 * x[i] - 2.0 * y0[i];
    tu_check(r, "axpby", be.ops->axpby(&be, y, x, 0.5f, -2.0f, N) == BATON_OK ? tu_rel_err(y, ref, N) : INFINITY, 1e-6);
    tu_fill_nan(y, N);
    for (int i = 0; i < N; i++)
        ref[i] = 3.0 * x[i];
    tu_check(r, "axpby beta=0 ignores y", be.ops->axpby(&be, y, x, 3.0f, 0.0f, N) == BATON_OK ? tu_rel_err(y, ref, N) : INFINITY, 1e-6);
    memcpy(out, out0, sizeof out);
    for (int j = 0; j < COLS; j++) {
        cref[j] = out0[j];
        for (int i = 0; i < ROWS; i++)
            cref[j] += x[i * COLS + j];
    }
    tu_check(r, "colsum_add", be.ops->colsum_add(&be, out, NULL, x, ROWS, COLS) == BATON_OK ? tu_rel_err(out, cref, COLS) : INFINITY, 1e-6);
    /* with a second output: both get the same sums added (+=, each from its own nonzero start) */
    float plain[COLS];
    memcpy(plain, out, sizeof out);
    memcpy(out, out0, sizeof out);
    tu_fill_uniform(out20, COLS, -1, 1, 4, 5);
    memcpy(out2, out20, sizeof out2);
    baton_status st2 = be.ops->colsum_add(&be, out, out2, x, ROWS, COLS);
    tu_check(r, "colsum_add out2: out as without out2", st2 == BATON_OK ? (memcmp(out, plain, sizeof out) ? 1.0 : 0.0) : INFINITY, 0.0);
    for (int j = 0; j < COLS; j++)
        cref[j] += out20[j] - out0[j];
    tu_check(r, "colsum_add out2", st2 == BATON_OK ? tu_rel_err(out2, cref, COLS) : INFINITY, 1e-6);
    for (int i = 0; i < N; i++)
        sref += (double)x[i] * x[i];
    s = NAN;
    tu_check(r, "sumsq", be.ops->sumsq(&be, &s, x, N) == BATON_OK ? tu_rel_err(&s, &sref, 1) : INFINITY, 1e-6);
}

static void check_dropout(tu_report *r)
{
    enum { N = 1001 }; /* not a multiple of 4: the last Philox block is partly used */
    float x[N], y[N];
    double ref[N];
    tu_fill_uniform(x, N, -1, 1, 6, 1);
    tu_fill_nan(y, N);
    for (int i = 0; i < N; i++)
        ref[i] = x[i] * baton_rng_dropout_scale(11, BATON_RNG_DROPOUT | 2, 5, (uint64_t)i, 0.4f);
    baton_status st = be.ops->dropout(&be, y, x, N, 0.4f, 11, BATON_RNG_DROPOUT | 2, &(uint32_t){5});
    tu_check_abs(r, "dropout op equals the per-element scale", st == BATON_OK ? tu_max_abs(y, ref, N) : INFINITY, 0);
    fprintf(stderr, "(the next error is expected)\n");
    tu_check_abs(r, "dropout p=1 refused", be.ops->dropout(&be, y, x, N, 1.0f, 1, 0, &(uint32_t){0}) != BATON_ERR_INVALID, 0);
}

static void check_embedding(tu_report *r)
{
    enum { V = 9, D = 70, NI = 12 }; /* D > 64: scatter-add splits columns into two chunks */
    const int ids[NI] = {3, 0, 8, 3, 3, 1, 7, 0, 5, 3, 2, 8};
    float table[V * D], out[NI * D], dtable[V * D], dout[NI * D];
    double ref[V * D], gref[NI * D];
    tu_fill_uniform(table, V * D, -1, 1, 8, 1);
    tu_fill_uniform(dout, NI * D, -1, 1, 8, 2);
    tu_fill_nan(out, NI * D);
    for (int i = 0; i < NI; i++)
        for (int j = 0; j < D; j++)
            gref[i * D + j] = table[ids[i] * D + j];
    baton_status st = be.ops->embed_gather(&be, out, ids, table, NI, D);
    tu_check_abs(r, "embed_gather", st == BATON_OK ? tu_max_abs(out, gref, NI * D) : INFINITY, 0);
    memcpy(dtable, table, sizeof table); /* scatter-add accumulates into what is there */
    for (int k = 0; k < V * D; k++)
        ref[k] = table[k];
    for (int i = 0; i < NI; i++)
        for (int j = 0; j < D; j++)
            ref[ids[i] * D + j] += dout[i * D + j];
    st = be.ops->embed_scatter_add(&be, dtable, ids, dout, NI, D);
    /* repeated ids sum up to 4 float terms: a few ulps against the double sum */
    tu_check(r, "embed_scatter_add with repeated ids", st == BATON_OK ? tu_rel_err(dtable, ref, V * D) : INFINITY, 1e-6);
    /* the cpu scatter needs no scratch: the reservation is a no-op, a negative count still an error */
    tu_check_abs(r, "embed reserve: no-op on the cpu", baton_backend_embed_reserve(&be, 1 << 20) == BATON_OK ? 0 : 1,
                 0);
    tu_check_abs(r, "embed reserve of -1 ids: invalid",
                 baton_backend_embed_reserve(&be, -1) == BATON_ERR_INVALID ? 0 : 1, 0);
}

/* topk_rows against a selection by full comparison and a double log-sum-exp. The values are
 * quantized to 16 levels so that ties are common: ranks must follow (value desc, column asc)
 * exactly, the values are copies (bit-exact). lse sums float blocks of at most 256 terms in
 * (0, 1] (relative rounding <= 256 * 6e-8 = 1.5e-5 per block, far less in practice), then adds
 * the maximum: 1e-5 relative. Wide rows (V = 1000) cross several blocks. */
static void check_topk(tu_report *r)
{
    enum { ROWS = 7, COLS = 1000, K = 6 };
    static float x[ROWS * COLS];
    float val[ROWS * K], lse[ROWS];
    int idx[ROWS * K];
    tu_fill_uniform(x, ROWS * COLS, 0, 16, 4, 7);
    for (int i = 0; i < ROWS * COLS; i++)
        x[i] = floorf(x[i]) * 0.75f - 4.0f;
    int ks[] = {1, 5, K}, cols[] = {COLS, 7, 6};
    for (int c = 0; c < 3; c++)
        for (int q = 0; q < 3; q++) {
            int k = ks[q], n = cols[c];
            if (k > n)
                continue;
            tu_fill_nan(val, ROWS * K);
            tu_fill_nan(lse, ROWS);
            memset(idx, 0xff, sizeof idx);
            baton_status st = be.ops->topk_rows(&be, val, idx, lse, x, ROWS, n, k); /* rows of n, packed */
            double bad = st == BATON_OK ? 0.0 : INFINITY, err = 0.0;
            for (int i = 0; i < ROWS && st == BATON_OK; i++) {
                const float *row = x + (size_t)i * n;
                double sum = 0.0, mx = row[0];
                for (int j = 1; j < n; j++)
                    mx = row[j] > mx ? row[j] : mx;
                for (int j = 0; j < n; j++)
                    sum += exp(row[j] - mx);
                double want = mx + log(sum), e = fabs(lse[i] - want) / fmax(1.0, fabs(want));
                err = e > err || e != e ? e : err;
                for (int t = 0; t < k; t++) { /* rank t: exactly t entries rank before it */
                    int j = idx[i * k + t], before = 0;
                    if (j < 0 || j >= n || val[i * k + t] != row[j]) {
                        bad = 1.0;
                        continue;
                    }
                    for (int u = 0; u < n; u++)
                        before += row[u] > row[j] || (row[u] == row[j] && u < j);
                    bad = before != t ? 1.0 : bad;
                }
            }
            char name[64];
            snprintf(name, sizeof name, "topk_rows %dx%d k=%d: ranks and values", ROWS, n, k);
            tu_check(r, name, bad, 0.0);
            snprintf(name, sizeof name, "topk_rows %dx%d k=%d: log-sum-exp", ROWS, n, k);
            tu_check(r, name, st == BATON_OK ? err : INFINITY, 1e-5);
        }
    tu_check(r, "topk_rows k > cols is refused", be.ops->topk_rows(&be, val, idx, lse, x, 1, 3, 4) == BATON_ERR_INVALID ? 0.0 : 1.0, 0.0);
}

/* Products against frozen weights (params_frozen: packed panels, libxsmm) against a double loop:
 * C = A W^T, then C = A W (W given as (K, N): the general attention's query), with W inside the
 * frozen range, N not a multiple of the 32-row panels, beta 0 and 1. Both read the same memory with
 * the same leading dimension, so a panel cache that confused them would fail the second. Then W
 * changes after a thaw and the products must follow it (no stale panels). Sums of K <= 300 float
 * products: 1e-5 on the relative norm error, as the GEMM above. */
static void check_frozen(tu_report *r)
{
    if (!be.ops->params_frozen) {
        printf("frozen gemm: not in this build (no libxsmm): skipped\n");
        return;
    }
    enum { M = 5, N = 71, K = 300, LD = K, P = K * LD + 64 };
    static float params[P], A[M * K], C[M * N], C0[M * N];
    static double ref[M * N];
    const float *W = params + 64; /* inside the range, not at its start */
    tu_fill_uniform(params, P, -1, 1, 4, 11);
    tu_fill_uniform(A, M * K, -1, 1, 4, 12);
    tu_fill_uniform(C0, M * N, -1, 1, 4, 13);
    for (int round = 0; round < 2; round++) {
        tu_check(r, "params_frozen", be.ops->params_frozen(&be, params, P) == BATON_OK ? 0.0 : 1.0, 0.0);
        for (int tb = 1; tb >= 0; tb--)
            for (int beta = 0; beta < 2; beta++) {
                if (beta)
                    memcpy(C, C0, sizeof C);
                else
                    tu_fill_nan(C, M * N);
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < N; j++) {
                        double acc = beta ? C0[i * N + j] : 0.0;
                        for (int k = 0; k < K; k++)
                            acc += (double)A[i * K + k] * (tb ? W[(size_t)j * LD + k] : W[(size_t)k * LD + j]);
                        ref[i * N + j] = acc;
                    }
                baton_status st = be.ops->gemm(&be, 0, tb, M, N, K, 1.0f, A, K, W, LD, (float)beta, C, N);
                char name[80];
                snprintf(name, sizeof name, "frozen gemm, %s, beta %d, %s weights", tb ? "A W^T" : "A W", beta,
                         round ? "changed" : "first");
                tu_check(r, name, st == BATON_OK ? tu_rel_err(C, ref, M * N) : INFINITY, 1e-5);
            }
        tu_check(r, "params thawed", be.ops->params_frozen(&be, NULL, 0) == BATON_OK ? 0.0 : 1.0, 0.0);
        for (int i = 0; i < P; i++) /* new weights: a stale panel would give the old products */
            params[i] = -0.5f * params[i] + 0.25f;
    }
}

int main(void)
{
    tu_report r = {0, 0};
    if (baton_cpu_backend_create(&be, 0) != BATON_OK)
        return 1;
    check_gemm(&r);
    check_gemm_batched(&r);
    check_elementwise(&r);
    check_dropout(&r);
    check_embedding(&r);
    check_topk(&r);
    check_frozen(&r);
    baton_backend_destroy(&be);
    return tu_summary(&r, "cpu ops");
}
