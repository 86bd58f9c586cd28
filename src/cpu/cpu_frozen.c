/* cpu_frozen.c: matrix products against weights declared constant (ops->params_frozen). While a
 * range of parameters is frozen (a translator decoding), a product C = A W^T (+ C) whose W lies
 * in it and whose A has few rows runs libxsmm's JIT kernels on panels of W packed at its first use
 * and kept until the range thaws; every other product goes to sgemm as before.
 *
 * Why: a decoder step multiplies R live rows (R = batch x beam, tens to hundreds) by every weight
 * of the decoder, the generator's V x H above all, and OpenBLAS packs both operands at every call:
 * packing the generator's weights took 29% of greedy decoding's time (perf, Multi30k model, 64
 * rows). Packed once per translation run, the panels serve every step of every batch.
 *
 * Layout (as the packed recurrence's, cpu_recur.c): W (N, K) row-major, leading dimension ld, is
 * cut in chunks of FROZEN_UNITS rows; chunk c's panel P_c (w x K, column-major, w its rows) holds
 * P_c[k*w + i] = W[c*FROZEN_UNITS + i, k]. A product with B not transposed (C = A B, B (K, N): the
 * general attention's query W_a) packs B^T the same way. libxsmm is column-major, and a row-major
 * (M, X) matrix is a column-major X x M one, so chunk c of C^T (w x M, ld ldc) = P_c (w x K) A^T
 * (K x M, ld lda).
 * Chunks are independent: threads take them in a static split, each sum in one fixed order.
 * The same panels serve matrices the backend derives from frozen weights and owns while they stay
 * frozen (the greedy screen's projections, cpu_screen.c), and the screen's state lives and dies
 * with the frozen range. */
#include <stdlib.h>

#include <libxsmm.h>

#include "cpu_internal.h"

#define FROZEN_UNITS 32   /* rows of W per panel: a 32 x K panel stays in L1/L2 while A's rows stream by */
#define FROZEN_M_MAX 1024 /* more rows than this: sgemm's own packing pays for itself */
#define FROZEN_SLOTS 32   /* distinct weight matrices kept packed (a decoder has fewer than 16) */

typedef struct {
    const float *w; /* the weight's first element, in the frozen range */
    int N, K, ld, trans; /* trans: w holds W^T (K, N) */
    float *panels; /* (ceil(N / FROZEN_UNITS) panels, N*K floats) */
} frozen_weight;

struct cpu_frozen {
    const float *lo, *hi; /* the frozen range [lo, hi); lo NULL: none */
    frozen_weight slot[FROZEN_SLOTS];
    int n;
    cpu_screen *screen; /* greedy decoding's screen of the generator (cpu_screen.c), NULL until first asked */
};

static void forget(cpu_frozen *f)
{
    for (int i = 0; i < f->n; i++)
        free(f->slot[i].panels);
    f->n = 0;
    baton_cpu_screen_free(f->screen);
    f->screen = NULL;
}

cpu_screen **baton_cpu_frozen_screen(baton_backend *be)
{
    cpu_frozen *f = ((cpu_ctx *)be->impl)->frozen;
    return f && f->lo ? &f->screen : NULL;
}

void baton_cpu_frozen_free(cpu_frozen *f)
{
    if (f)
        forget(f);
    free(f);
}

baton_status baton_cpu_params_frozen(baton_backend *be, const float *params, size_t n)
{
    cpu_ctx *c = be->impl;
    if (!c->frozen && !(c->frozen = calloc(1, sizeof *c->frozen)))
        return BATON_ERROR(BATON_ERR_OOM, "params_frozen: out of memory");
    cpu_frozen *f = c->frozen;
    if (f->lo == params && f->hi == params + n && params)
        return BATON_OK; /* the same range again: the panels stay */
    forget(f);
    f->lo = n ? params : NULL;
    f->hi = n ? params + n : NULL;
    return BATON_OK;
}

/* The packed panels of W (or of W^T given as w when trans), packed now if this is its first use;
 * NULL when out of slots or memory. */
static const float *panels(cpu_frozen *f, const float *w, int N, int K, int ld, int trans)
{
    for (int i = 0; i < f->n; i++)
        if (f->slot[i].w == w && f->slot[i].N == N && f->slot[i].K == K && f->slot[i].ld == ld &&
            f->slot[i].trans == trans)
            return f->slot[i].panels;
    float *p = f->n < FROZEN_SLOTS ? malloc((size_t)N * K * sizeof *p) : NULL;
    if (!p)
        return NULL;
    int chunks = (N + FROZEN_UNITS - 1) / FROZEN_UNITS;
    long work = (long)N * K;
    BATON_PARALLEL_FOR
    for (int c = 0; c < chunks; c++) {
        int r0 = c * FROZEN_UNITS, w_rows = N - r0 < FROZEN_UNITS ? N - r0 : FROZEN_UNITS;
        float *P = p + (size_t)r0 * K;
        for (int k = 0; k < K; k++)
            for (int i = 0; i < w_rows; i++)
                P[(size_t)k * w_rows + i] = trans ? w[(size_t)k * ld + r0 + i] : w[(size_t)(r0 + i) * ld + k];
    }
    f->slot[f->n++] = (frozen_weight){w, N, K, ld, trans, p};
    return p;
}

/* libxsmm's kernel for C (m x n, ld ldc) = A (m x k, ld m) B (k x n, ld ldb) + beta C, or NULL. */
static libxsmm_smmfunction kernel(int m, int n, int k, int ldb, int ldc, float beta)
{
    float one = 1.0f;
    int flags = LIBXSMM_GEMM_FLAG_NONE, prefetch = LIBXSMM_PREFETCH_NONE;
    libxsmm_blasint mm = m, nn = n, kk = k, lda = m, lb = ldb, lc = ldc;
    return libxsmm_smmdispatch(mm, nn, kk, &lda, &lb, &lc, &one, &beta, &flags, &prefetch);
}

/* C = A P^T (+ C) for P (N, K, ld ldp; trans: P^T (K, N)) frozen or owned by the backend: its panels,
 * packed at first use. */
static int product(cpu_frozen *f, int M, int N, int K, const float *A, int lda, const float *P, int ldp, int trans,
                   float beta, float *C, int ldc)
{
    int last = N % FROZEN_UNITS ? N % FROZEN_UNITS : FROZEN_UNITS, chunks = (N + FROZEN_UNITS - 1) / FROZEN_UNITS;
    libxsmm_smmfunction full = kernel(FROZEN_UNITS, M, K, lda, ldc, beta), tail = kernel(last, M, K, lda, ldc, beta);
    const float *pan = full && tail ? panels(f, P, N, K, ldp, trans) : NULL;
    if (!pan)
        return 0;
    long work = (long)M * N * K;
    BATON_PARALLEL_FOR
    for (int ch = 0; ch < chunks; ch++) {
        size_t r0 = (size_t)ch * FROZEN_UNITS;
        (ch + 1 == chunks ? tail : full)(pan + r0 * K, A, C + r0);
    }
    return 1;
}

int baton_cpu_frozen_gemm(baton_backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
                          const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    cpu_ctx *c = be->impl;
    cpu_frozen *f = c->frozen;
    if (!f || !f->lo || trans_a || alpha != 1.0f || (beta != 0.0f && beta != 1.0f) || M > FROZEN_M_MAX || K < 1 ||
        be->precision != BATON_PRECISION_FP32 || B < f->lo ||
        (trans_b ? B + (size_t)(N - 1) * ldb + K : B + (size_t)(K - 1) * ldb + N) > f->hi)
        return 0;
    return product(f, M, N, K, A, lda, B, ldb, !trans_b, beta, C, ldc);
}

int baton_cpu_frozen_gemm_owned(baton_backend *be, int M, int N, int K, const float *A, int lda, const float *B,
                                float *C, int ldc)
{
    cpu_frozen *f = ((cpu_ctx *)be->impl)->frozen;
    if (!f || !f->lo || M < 1 || M > FROZEN_M_MAX || N < 1 || K < 1)
        return 0;
    return product(f, M, N, K, A, lda, B, K, 0, 0.0f, C, ldc);
}
