/* test_attn_gpu.c: the attention softmax kernels (kernels/attn_softmax.cu) and the fused
 * cross-entropy (kernels/softmax_xent.cu) against the CPU backend's ops of the same names.
 *
 * Every case draws fresh inputs (tu_fill_uniform), poisons every output with NaN on both sides,
 * runs the CPU op and the GPU launcher, and compares element by element. Masked positions
 * (forward s >= length, backward p == 0) and ignored rows must be exactly 0 on the GPU, bit for
 * bit, whatever garbage sits in the inputs there (the backward gets NaN in dp at masked
 * positions). Shapes: S = 1, odd sizes, 257, 3000, 5000, rows of length 1; V = 1 (all ignored)
 * to 70001 with eps 0 and 0.1, a quarter of the rows ignored, in place and with optional
 * outputs NULL.
 *
 * Tolerances. Both sides use the same exp (baton_exp's polynomial, attn_math.h) and formulas;
 * they differ by FMA contraction on the GPU (a few ulp per element) and by summation order (the
 * CPU: float blocks of 256 then double; the GPU: double throughout), i.e. at most ~256 float
 * roundings, ~2e-6 relative, in a row sum. So
 *   softmax p:        |g - r| <= 1e-5 |r|                (every factor is relative-accurate);
 *   softmax backward: |g - r| <= 1e-5 p (|dp| + sum p|dp|) (dp - dot may cancel, so the bound is
 *                     relative to the magnitudes that enter it, not to the result);
 *   xent dlogits:     |g - r| <= 1e-5 (|r| + 2 |scale| q_v) (p - q cancels at the target);
 *   logp, row losses: |g - r| <= 1e-5 max(1, |r|)        (sums of non-negative parts);
 * plus 1e-30 absolute, for products that underflow into subnormals. An indexing or masking
 * error moves values by O(1/S) or more, far above these bounds; NaN fails every check.
 *
 * Exits 77 (meson's "skipped") when no CUDA device is usable, 1 on any mismatch or error. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "baton/attn_math.h"
#include "baton/bf16.h"
#include "baton/backend.h"
#include "baton/cuda_check.h"
#include "baton/status.h"
#include "kernels/attn_launch.h"
#include "testutil.h"

#define TOL 1e-5
#define TINY 1e-30
#define SEED 0x6261746f6e61746eULL /* any fixed value; printed so a failure can be replayed */
#define MAX_REPORTS 10

static int reports;

static int report(const char *what, size_t i, float g, float r)
{
    if (reports++ < MAX_REPORTS)
        fprintf(stderr, "attn_gpu: %s: element %zu: gpu %.9g, cpu %.9g\n", what, i, (double)g, (double)r);
    return 1;
}

static int is_pos_zero(float x)
{
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    return bits == 0;
}

static baton_status to_dev(void *d, const void *h, size_t bytes)
{
    BATON_CUDA_CHECK(cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice));
    return BATON_OK;
}

static baton_status to_host(void *h, const void *d, size_t bytes)
{
    BATON_CUDA_CHECK(cudaMemcpy(h, d, bytes, cudaMemcpyDeviceToHost));
    return BATON_OK;
}

static baton_status sync(void)
{
    BATON_CUDA_CHECK(cudaDeviceSynchronize());
    return BATON_OK;
}

/* Device buffers, large enough for the biggest case of either op. */
#define CAP ((size_t)8 * 70001)
static float *d_a, *d_b, *d_c, *d_rows;
static uint16_t *d_16, *h_16; /* dlogits' bf16 copy, written by the kernel beside dlogits */
static int *d_int;

static baton_status setup(void)
{
    BATON_CUDA_CHECK(cudaMalloc((void **)&d_a, CAP * sizeof(float)));
    BATON_CUDA_CHECK(cudaMalloc((void **)&d_b, CAP * sizeof(float)));
    BATON_CUDA_CHECK(cudaMalloc((void **)&d_c, CAP * sizeof(float)));
    BATON_CUDA_CHECK(cudaMalloc((void **)&d_16, CAP * sizeof(uint16_t)));
    h_16 = malloc(CAP * sizeof(uint16_t));
    BATON_CUDA_CHECK(cudaMalloc((void **)&d_rows, 4096 * sizeof(float)));
    BATON_CUDA_CHECK(cudaMalloc((void **)&d_int, 4096 * sizeof(int)));
    return BATON_OK;
}

/* ---- attention softmax ---- */

typedef struct {
    int B, T, S;
    float lo, hi;  /* score range */
    int short_len; /* every row's length 1 (heavily masked) */
    int inplace;   /* p == scores, dscores == dp */
} attn_case;

/* One forward + backward case; returns the number of mismatches, -1 on a CUDA/argument error. */
static int attn_run(baton_backend *be, const attn_case *c, uint32_t k, double *max_f, double *max_b)
{
    size_t n = (size_t)c->B * c->T * c->S;
    /* +1: malloc(0) may return NULL, and B = 0 is a case */
    float *x = malloc((n + 1) * sizeof(float)), *p = malloc((n + 1) * sizeof(float));
    float *gp = malloc((n + 1) * sizeof(float)), *dp = malloc((n + 1) * sizeof(float));
    float *ds = malloc((n + 1) * sizeof(float)), *gds = malloc((n + 1) * sizeof(float));
    float *u = malloc(((size_t)c->B + 1) * sizeof(float));
    int *len = malloc(((size_t)c->B + 1) * sizeof(int));
    int bad = -1;
    if (!x || !p || !gp || !dp || !ds || !gds || !u || !len || n > CAP)
        goto out;
    tu_fill_uniform(x, n, c->lo, c->hi, SEED, 4 * k);
    tu_fill_uniform(dp, n, -2.0f, 2.0f, SEED, 4 * k + 1);
    tu_fill_uniform(u, (size_t)c->B, 0.0f, 1.0f, SEED, 4 * k + 2);
    for (int b = 0; b < c->B; b++) {
        int l = 1 + (int)(u[b] * (float)c->S);
        len[b] = c->short_len ? 1 : (b == 0 ? c->S : (l > c->S ? c->S : l)); /* row 0 full length */
    }
    float *dx = d_a, *dpv = c->inplace ? d_a : d_b;
    if (to_dev(d_a, x, n * sizeof(float)) || to_dev(d_int, len, (size_t)c->B * sizeof(int)))
        goto out;
    if (!c->inplace && cudaMemset(dpv, 0xff, n * sizeof(float)) != cudaSuccess)
        goto out;
    tu_fill_nan(p, n);
    if (be->ops->attn_softmax_forward(be, p, x, len, c->B, c->T, c->S) != BATON_OK ||
        baton_kernel_attn_softmax_forward(dpv, dx, d_int, c->B, c->T, c->S, NULL) != BATON_OK || sync() ||
        to_host(gp, dpv, n * sizeof(float)))
        goto out;
    bad = 0;
    for (size_t i = 0; i < n; i++) {
        int s = (int)(i % (size_t)c->S), b = (int)(i / ((size_t)c->S * c->T));
        double e = fabs((double)gp[i] - p[i]);
        if (s >= len[b]) {
            if (!is_pos_zero(gp[i]))
                bad += report("softmax fwd (masked)", i, gp[i], p[i]);
            continue;
        }
        double lim = TOL * fabs((double)p[i]) + TINY;
        if (!(e <= lim))
            bad += report("softmax fwd", i, gp[i], p[i]);
        else if (p[i] != 0.0f && e / fabs((double)p[i]) > *max_f)
            *max_f = e / fabs((double)p[i]);
    }

    /* backward from the CPU's p, with NaN in dp where p is masked (must not leak) */
    for (size_t i = 0; i < n; i++)
        if (p[i] == 0.0f)
            dp[i] = NAN;
    float *d_p = d_c, *d_dp = d_b, *d_ds = c->inplace ? d_b : d_a;
    if (to_dev(d_p, p, n * sizeof(float)) || to_dev(d_dp, dp, n * sizeof(float)) ||
        (!c->inplace && cudaMemset(d_ds, 0xff, n * sizeof(float)) != cudaSuccess)) {
        bad = -1;
        goto out;
    }
    tu_fill_nan(ds, n);
    if (be->ops->attn_softmax_backward(be, ds, dp, p, c->B, c->T, c->S) != BATON_OK ||
        baton_kernel_attn_softmax_backward(d_ds, d_dp, d_p, c->B, c->T, c->S, NULL) != BATON_OK || sync() ||
        to_host(gds, d_ds, n * sizeof(float))) {
        bad = -1;
        goto out;
    }
    for (size_t r0 = 0; r0 < n; r0 += (size_t)c->S) {
        double mag = 0.0; /* sum_s p |dp| of the row: the scale of its dot */
        for (int s = 0; s < c->S; s++)
            if (p[r0 + s] != 0.0f)
                mag += (double)p[r0 + s] * fabs((double)dp[r0 + s]);
        for (int s = 0; s < c->S; s++) {
            size_t i = r0 + (size_t)s;
            if (p[i] == 0.0f) {
                if (!is_pos_zero(gds[i]))
                    bad += report("softmax bwd (masked)", i, gds[i], ds[i]);
                continue;
            }
            double lim = p[i] * (fabs((double)dp[i]) + mag), e = fabs((double)gds[i] - ds[i]);
            if (!(e <= TOL * lim + TINY))
                bad += report("softmax bwd", i, gds[i], ds[i]);
            else if (lim > 0.0 && e / lim > *max_b)
                *max_b = e / lim;
        }
    }
out:
    free(x), free(p), free(gp), free(dp), free(ds), free(gds), free(u), free(len);
    return bad;
}

/* ---- cross-entropy ---- */

typedef struct {
    int N, V;
    float eps, scale;
    int wiring; /* 0: separate dlogits; 1: dlogits == logits; 2: dlogits and logp NULL */
    int all_ignored;
} xent_case;

static int xent_run(baton_backend *be, const xent_case *c, uint32_t k, double *max_err)
{
    size_t n = (size_t)c->N * c->V;
    size_t rows = (size_t)c->N + 1; /* +1: malloc(0) may return NULL, and N = 0 is a case */
    float *z = malloc((n + 1) * sizeof(float)), *d = malloc((n + 1) * sizeof(float));
    float *gd = malloc((n + 1) * sizeof(float)), *u = malloc(rows * sizeof(float));
    float *lp = malloc(rows * sizeof(float)), *glp = malloc(rows * sizeof(float));
    int *tg = malloc(rows * sizeof(int));
    int bad = -1;
    if (!z || !d || !gd || !u || !lp || !glp || !tg || n > CAP || c->N > 4096)
        goto out;
    /* a common offset of 50 checks that nothing cancels against a large maximum */
    tu_fill_uniform(z, n, 50.0f - 8.0f, 50.0f + 8.0f, SEED, 4 * k + 0x10000);
    tu_fill_uniform(u, (size_t)c->N, 0.0f, 1.0f, SEED, 4 * k + 0x10001);
    for (int i = 0; i < c->N; i++) {
        int y = 1 + (int)(u[i] * (float)(c->V - 1));
        y = y >= c->V ? c->V - 1 : y;
        tg[i] = (c->all_ignored || c->V == 1 || i % 4 == 3) ? BATON_XENT_IGNORE : y;
    }
    int want_d = c->wiring != 2, want_lp = c->wiring != 2;
    float *dz = d_a, *dd = c->wiring == 1 ? d_a : (want_d ? d_b : NULL);
    float *dlp = want_lp ? d_c : NULL, *dloss = d_c + 4096, *dscale = d_c + 4097; /* the scale is device memory */
    if (to_dev(d_a, z, n * sizeof(float)) || to_dev(d_int, tg, (size_t)c->N * sizeof(int)))
        goto out;
    if (c->wiring == 0 && cudaMemset(d_b, 0xff, n * sizeof(float)) != cudaSuccess)
        goto out;
    if (cudaMemset(d_c, 0xff, (4096 + 1) * sizeof(float)) != cudaSuccess || to_dev(dscale, &c->scale, sizeof(float)))
        goto out;
    tu_fill_nan(d, n);
    tu_fill_nan(lp, (size_t)c->N);
    float loss = NAN, gloss = NAN;
    if (be->ops->xent_forward_backward(be, &loss, want_lp ? lp : NULL, want_d ? d : NULL, NULL, z, tg, c->N, c->V, c->eps,
                                       &c->scale) != BATON_OK ||
        cudaMemset(d_16, 0xff, n * sizeof(uint16_t)) != cudaSuccess || /* NaN bits: unwritten fails */
        baton_kernel_xent_forward_backward(dloss, dlp, dd, want_d ? d_16 : NULL, d_rows, dz, d_int, c->N, c->V, c->eps,
                                           dscale, NULL) !=
            BATON_OK ||
        sync() || to_host(&gloss, dloss, sizeof(float)))
        goto out;
    if (want_d && to_host(gd, dd, n * sizeof(float)))
        goto out;
    if (want_lp && to_host(glp, dlp, (size_t)c->N * sizeof(float)))
        goto out;
    bad = 0;
    double e = fabs((double)gloss - loss), lim = TOL * fmax(1.0, fabs((double)loss));
    if (!(e <= lim))
        bad += report("xent loss_sum", 0, gloss, loss);
    *max_err = fmax(*max_err, e / fmax(1.0, fabs((double)loss)));
    for (int i = 0; want_lp && i < c->N; i++) {
        e = fabs((double)glp[i] - lp[i]);
        if (tg[i] == BATON_XENT_IGNORE ? !is_pos_zero(glp[i]) : !(e <= TOL * fmax(1.0, fabs((double)lp[i]))))
            bad += report("xent logp", (size_t)i, glp[i], lp[i]);
    }
    double qu = (double)c->eps / c->V;
    for (size_t i = 0; want_d && i < n; i++) {
        int row = (int)(i / (size_t)c->V), v = (int)(i % (size_t)c->V);
        if (tg[row] == BATON_XENT_IGNORE) {
            if (!is_pos_zero(gd[i]))
                bad += report("xent dlogits (ignored row)", i, gd[i], d[i]);
            continue;
        }
        double q = qu + (v == tg[row] ? 1.0 - c->eps : 0.0);
        double mag = fabs((double)d[i]) + 2.0 * fabs((double)c->scale) * q;
        e = fabs((double)gd[i] - d[i]);
        if (!(e <= TOL * mag + TINY))
            bad += report("xent dlogits", i, gd[i], d[i]);
        else if (mag > 0.0)
            *max_err = fmax(*max_err, e / mag);
    }
    /* the bf16 copy is exactly the rounding of what the kernel wrote to dlogits */
    if (want_d && cudaMemcpy(h_16, d_16, n * sizeof(uint16_t), cudaMemcpyDeviceToHost) == cudaSuccess) {
        for (size_t i = 0; i < n; i++)
            if (h_16[i] != baton_bf16_from_f32(gd[i]))
                bad += report("xent dlogits bf16 copy", i, baton_bf16_to_f32(h_16[i]), gd[i]);
    } else if (want_d) {
        bad += report("xent dlogits bf16 copy: download", 0, NAN, 0);
    }
out:
    free(z), free(d), free(gd), free(u), free(lp), free(glp), free(tg);
    return bad;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int devices = 0;
    cudaError_t err = cudaGetDeviceCount(&devices);
    if (err != cudaSuccess || devices == 0) {
        fprintf(stderr, "attn_gpu: skipped: no usable CUDA device (cudaGetDeviceCount: %s)\n",
                err != cudaSuccess ? cudaGetErrorString(err) : "0 devices");
        return TU_EXIT_SKIP;
    }
    if (setup() != BATON_OK)
        return 1;
    baton_backend be;
    if (baton_cpu_backend_create(&be, 0) != BATON_OK)
        return 1;

    static const attn_case attn[] = {
        {1, 1, 1, -4, 4, 0, 0},     {2, 3, 1, -4, 4, 0, 1},      {3, 5, 7, -4, 4, 0, 0},
        {4, 2, 33, -4, 4, 0, 1},    {67, 5, 13, -4, 4, 0, 0},    {2, 3, 257, -30, 30, 0, 0},
        {2, 2, 3000, -4, 4, 0, 0},  {2, 2, 3000, -4, 4, 1, 0},   {1, 1, 5000, 990, 1010, 0, 1},
        {5, 3, 100, -60, 60, 1, 0}, {3, 4, 511, -60, 60, 0, 0},  {0, 3, 7, -4, 4, 0, 0},
    };
    int failed = 0, cases = 0;
    double max_f = 0.0, max_b = 0.0;
    for (size_t i = 0; i < sizeof attn / sizeof attn[0]; i++) {
        int r = attn_run(&be, &attn[i], (uint32_t)i, &max_f, &max_b);
        cases++;
        if (r != 0) {
            fprintf(stderr, "attn_gpu: softmax B=%d T=%d S=%d short=%d inplace=%d: %s\n", attn[i].B, attn[i].T,
                    attn[i].S, attn[i].short_len, attn[i].inplace, r < 0 ? "error" : "mismatch");
            failed++;
            if (r < 0)
                return 1; /* the context may be unusable after a fault */
        }
    }
    printf("attn_gpu: softmax %d cases, max rel err fwd %.2e bwd %.2e (tol %.0e, seed 0x%llx): %s\n", cases, max_f,
           max_b, TOL, (unsigned long long)SEED, failed ? "FAILED" : "ok");

    static const xent_case xent[] = {
        {4, 1, 0.0f, 1.0f, 0, 1},          {5, 7, 0.0f, 1.0f, 0, 0},       {5, 7, 0.1f, 0.2f, 1, 0},
        {33, 1000, 0.1f, 1.0f / 33, 0, 0}, {4, 32000, 0.0f, 1.0f, 2, 0},   {4, 32000, 0.1f, 0.25f, 1, 0},
        {8, 65536, 0.0f, 0.125f, 0, 0},    {8, 65536, 0.1f, 1.0f, 0, 0},   {3, 70001, 0.1f, 1.0f, 1, 0},
        {6, 100, 0.1f, 1.0f, 0, 1},        {0, 100, 0.1f, 1.0f, 0, 0},     {1000, 37, 0.1f, 0.001f, 0, 0},
    };
    int xfailed = 0;
    double max_x = 0.0;
    for (size_t i = 0; i < sizeof xent / sizeof xent[0]; i++) {
        int r = xent_run(&be, &xent[i], (uint32_t)(100 + i), &max_x);
        if (r != 0) {
            fprintf(stderr, "attn_gpu: xent N=%d V=%d eps=%g wiring=%d: %s\n", xent[i].N, xent[i].V,
                    (double)xent[i].eps, xent[i].wiring, r < 0 ? "error" : "mismatch");
            xfailed++;
            if (r < 0)
                return 1;
        }
    }
    printf("attn_gpu: xent %zu cases, max rel err %.2e (tol %.0e): %s\n", sizeof xent / sizeof xent[0], max_x, TOL,
           xfailed ? "FAILED" : "ok");

    baton_backend_destroy(&be);
    cudaFree(d_a), cudaFree(d_b), cudaFree(d_c), cudaFree(d_rows), cudaFree(d_int), cudaFree(d_16);
    free(h_16);
    return failed || xfailed ? 1 : 0;
}
