/* test_additive_gpu.c: Bahdanau scores and their gradients (kernels/additive_attn.cu) against the
 * CPU backend's ops, on fresh random inputs with masked (exactly 0) score gradients. Assigned
 * outputs (scores, dq, dk) are poisoned with NaN first; dv accumulates onto a random nonzero start.
 * Both versions of dv (plain, tiled) run on every shape; the tiled one twice.
 *
 * What is compared how:
 *   scores, dq, dk: 1e-5 relative norm against the CPU: both sides sum the same float products in
 *     nearly the same order (tanh by the same polynomial), the GPU possibly fusing multiply-adds.
 *   dv, each version, per element against the CPU, and plain against tiled: |got - ref| <=
 *     2^-20 (|dv0| + sum_{b,t,s} |g e|). Both sum the terms g e in double (error ~1e-16 of the
 *     absolute sum) in different orders, then round to float twice (the sum, then dv0 + sum:
 *     2^-24 each of that same absolute bound); on a GPU nvcc's FMAs may move each e by a few
 *     ulps, again relative to the absolute sum. 2^-20 covers 16 such roundings; a lost (b, t)
 *     pair or h moves the error to the size of one term (~1e-1 here, far above), NaN always fails.
 *   dv tiled run twice from the same start: bit-identical (fixed partition, fixed tree).
 * Shapes: H not a multiple of the 8 units of a tiled block, B*T = 1 (a single group), B*T above
 * the 128 groups of a block, S = 1. Exits 77 without a usable CUDA device. Never yet run on a GPU. */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/attn_math.h"
#include "baton/backend.h"
#include "baton_config.h"
#include "kernels/attn_launch.h"
#include "testutil.h"

#define DV_TOL_ULPS 0x1p-20 /* see the header */

static float *dev_copy(const float *h, size_t n)
{
    float *d = NULL;
    if (cudaMalloc((void **)&d, n * sizeof(float)) != cudaSuccess ||
        cudaMemcpy(d, h, n * sizeof(float), cudaMemcpyHostToDevice) != cudaSuccess)
        return NULL;
    return d;
}

static int download(float *h, const float *dev, size_t n)
{
    return cudaMemcpy(h, dev, n * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess;
}

/* max_h |got - ref| / bound[h]; +inf where either is NaN (so a poisoned or NaN result never passes). */
static double bound_ratio(const float *got, const float *ref, const double *bound, int H)
{
    double worst = 0.0;
    for (int h = 0; h < H; h++) {
        double d = fabs((double)got[h] - (double)ref[h]);
        if (isnan(d))
            return INFINITY;
        if (d / bound[h] > worst)
            worst = d / bound[h];
    }
    return worst;
}

/* bound[h] = DV_TOL_ULPS (|dv0[h]| + sum_{b,t,s} |g e|) with e = tanh(q + k) as the CPU computes it. */
static void dv_bounds(double *bound, const float *dv0, const float *ds, const float *q, const float *k, int B, int T,
                      int S, int H)
{
    for (int h = 0; h < H; h++)
        bound[h] = fabs((double)dv0[h]);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int s = 0; s < S; s++) {
                double g = fabs((double)ds[((size_t)b * T + t) * S + s]);
                for (int h = 0; h < H; h++)
                    bound[h] += g * fabs((double)baton_additive_act(q[((size_t)t * B + b) * H + h],
                                                                    k[((size_t)s * B + b) * H + h]));
            }
    for (int h = 0; h < H; h++)
        bound[h] = DV_TOL_ULPS * bound[h] + 1e-30;
}

typedef struct {
    float *q, *k, *v, *ds, *dv0;  /* inputs */
    float *sc, *dq, *dk, *dv;     /* CPU results */
    float *g_dq, *g_dk, *g_dv[3]; /* GPU results: dv of plain, tiled, tiled again */
    double *bound;
    float *d_q, *d_k, *d_v, *d_ds, *d_sc, *d_dq, *d_dk, *d_dv;
} bufs;

/* One backward of version `ver` from dv0, dq and dk poisoned; results into g_dq, g_dk and dv_out. */
static int gpu_backward(bufs *m, int B, int T, int S, int H, int ver, float *dv_out)
{
    size_t nq = (size_t)T * B * H, nk = (size_t)S * B * H;
    return cudaMemset(m->d_dq, 0xff, nq * sizeof(float)) == cudaSuccess &&
           cudaMemset(m->d_dk, 0xff, nk * sizeof(float)) == cudaSuccess &&
           cudaMemcpy(m->d_dv, m->dv0, (size_t)H * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess &&
           baton_kernel_additive_backward(m->d_dq, m->d_dk, m->d_dv, m->d_ds, m->d_q, m->d_k, m->d_v, B, T, S, H,
                                          ver, 0) == BATON_OK &&
           download(m->g_dq, m->d_dq, nq) && download(m->g_dk, m->d_dk, nk) && download(dv_out, m->d_dv, (size_t)H);
}

static void check_versions(tu_report *r, bufs *m, const char *shape, int B, int T, int S, int H)
{
    size_t nq = (size_t)T * B * H, nk = (size_t)S * B * H;
    static const char *names[3] = {"plain", "tiled", "tiled (2nd run)"};
    static const int vers[3] = {BATON_DV_PLAIN, BATON_DV_TILED, BATON_DV_TILED};
    char name[160];
    for (int i = 0; i < 3; i++) {
        int ok = gpu_backward(m, B, T, S, H, vers[i], m->g_dv[i]);
        snprintf(name, sizeof name, "%s dv=%s dq", shape, names[i]);
        tu_check(r, name, ok ? tu_rel_err_ff(m->g_dq, m->dq, nq) : INFINITY, 1e-5);
        snprintf(name, sizeof name, "%s dv=%s dk", shape, names[i]);
        tu_check(r, name, ok ? tu_rel_err_ff(m->g_dk, m->dk, nk) : INFINITY, 1e-5);
        snprintf(name, sizeof name, "%s dv=%s dv vs CPU (|err| / bound)", shape, names[i]);
        tu_check(r, name, ok ? bound_ratio(m->g_dv[i], m->dv, m->bound, H) : INFINITY, 1.0);
    }
    snprintf(name, sizeof name, "%s dv tiled vs plain (|err| / bound)", shape);
    tu_check(r, name, bound_ratio(m->g_dv[1], m->g_dv[0], m->bound, H), 1.0);
    snprintf(name, sizeof name, "%s dv tiled deterministic (differing elements)", shape);
    tu_check(r, name, memcmp(m->g_dv[1], m->g_dv[2], (size_t)H * sizeof(float)) ? 1.0 : 0.0, 0.0);
}

static void run(tu_report *r, baton_backend *cpu, int B, int T, int S, int H, int k)
{
    size_t nq = (size_t)T * B * H, nk = (size_t)S * B * H, ns = (size_t)B * T * S;
    bufs m = {0};
    float **hs[] = {&m.q, &m.k, &m.ds, &m.sc, &m.dq, &m.dk, &m.g_dq, &m.g_dk};
    size_t hn[] = {nq, nk, ns, ns, nq, nk, nq, nk};
    int ok = 1;
    for (int i = 0; i < 8; i++)
        ok &= (*hs[i] = malloc(hn[i] * sizeof(float))) != NULL;
    m.v = malloc((size_t)H * 4), m.dv0 = malloc((size_t)H * 4), m.dv = malloc((size_t)H * 4);
    for (int i = 0; i < 3; i++)
        m.g_dv[i] = malloc((size_t)H * 4);
    m.bound = malloc((size_t)H * sizeof(double));
    if (!ok || !m.v || !m.dv0 || !m.dv || !m.g_dv[0] || !m.g_dv[1] || !m.g_dv[2] || !m.bound) {
        tu_check(r, "additive: host memory", INFINITY, 0.0);
        return;
    }
    tu_fill_uniform(m.q, nq, -1, 1, 31, k * 8 + 1);
    tu_fill_uniform(m.k, nk, -1, 1, 31, k * 8 + 2);
    tu_fill_uniform(m.v, H, -1, 1, 31, k * 8 + 3);
    tu_fill_uniform(m.ds, ns, -1, 1, 31, k * 8 + 4);
    for (size_t i = 0; i < ns; i += 3)
        m.ds[i] = 0.0f; /* masked positions */
    tu_fill_uniform(m.dv0, H, -1, 1, 31, k * 8 + 5);
    memcpy(m.dv, m.dv0, (size_t)H * 4);
    m.d_q = dev_copy(m.q, nq), m.d_k = dev_copy(m.k, nk), m.d_v = dev_copy(m.v, H), m.d_ds = dev_copy(m.ds, ns);
    m.d_dv = dev_copy(m.dv0, H), m.d_sc = dev_copy(m.ds, ns), m.d_dq = dev_copy(m.q, nq), m.d_dk = dev_copy(m.k, nk);
    tu_fill_nan(m.sc, ns);
    tu_fill_nan(m.dq, nq);
    tu_fill_nan(m.dk, nk);
    ok = m.d_q && m.d_k && m.d_v && m.d_ds && m.d_dv && m.d_sc && m.d_dq && m.d_dk &&
         cudaMemset(m.d_sc, 0xff, ns * sizeof(float)) == cudaSuccess &&
         cpu->ops->additive_scores_forward(cpu, m.sc, m.q, m.k, m.v, B, T, S, H) == BATON_OK &&
         cpu->ops->additive_scores_backward(cpu, m.dq, m.dk, m.dv, m.ds, m.q, m.k, m.v, B, T, S, H) == BATON_OK &&
         baton_kernel_additive_forward(m.d_sc, m.d_q, m.d_k, m.d_v, B, T, S, H, 0) == BATON_OK &&
         cudaDeviceSynchronize() == cudaSuccess;
    char shape[96], name[160];
    snprintf(shape, sizeof shape, "additive B=%d T=%d S=%d H=%d", B, T, S, H);
    float *g_sc = malloc(ns * sizeof(float));
    snprintf(name, sizeof name, "%s scores", shape);
    tu_check(r, name, ok && g_sc && download(g_sc, m.d_sc, ns) ? tu_rel_err_ff(g_sc, m.sc, ns) : INFINITY, 1e-5);
    free(g_sc);
    if (ok) {
        dv_bounds(m.bound, m.dv0, m.ds, m.q, m.k, B, T, S, H);
        check_versions(r, &m, shape, B, T, S, H);
    }
    float *frees[] = {m.d_q, m.d_k, m.d_v, m.d_ds, m.d_dv, m.d_sc, m.d_dq, m.d_dk};
    for (int i = 0; i < 8; i++)
        cudaFree(frees[i]);
    for (int i = 0; i < 8; i++)
        free(*hs[i]);
    free(m.v), free(m.dv0), free(m.dv), free(m.g_dv[0]), free(m.g_dv[1]), free(m.g_dv[2]), free(m.bound);
}

/* The dv check itself: a NaN result, or one element off by a term, must fail. */
static void check_checker(tu_report *r)
{
    float ref[3] = {1.0f, -2.0f, 0.5f}, got[3] = {1.0f, -2.0f, 0.5f};
    double bound[3] = {1e-6, 1e-6, 1e-6};
    got[1] = NAN;
    int nan_fails = !(bound_ratio(got, ref, bound, 3) <= 1.0);
    got[1] = -2.0f;
    got[2] = 0.5f + 0.01f;
    int off_fails = !(bound_ratio(got, ref, bound, 3) <= 1.0);
    tu_check(r, "additive: the dv check rejects NaN and a wrong element", nan_fails && off_fails ? 0.0 : 1.0, 0.0);
}

/* The CUDA backend's additive_scores_backward runs the dv version its --kernels spec names: its dv
 * has the bits of that version's launcher. Input on which the versions differ (checked): B = 1,
 * T = 3, S = 1, equal q rows, so the three (b, t) terms are 2^60 e, e, -2^60 e; plain's order
 * loses e (0), tiled's tree ((2^60 e - 2^60 e) + e) keeps it. */
static void check_dispatch(tu_report *r, const char *spec, int want)
{
    enum { T = 3, H = 5 };
    float q[T * H], k[H], v[H], ds[T] = {0x1p60f, 1.0f, -0x1p60f}, dv0[H], got[3][H];
    for (int h = 0; h < H; h++) {
        for (int t = 0; t < T; t++)
            q[t * H + h] = 0.25f + 0.125f * (float)h;
        k[h] = -0.5f + 0.0625f * (float)h;
        v[h] = 1.0f;
        dv0[h] = 0.5f - 0.25f * (float)h;
    }
    baton_backend gpu;
    baton_backend_options opt = {.threads = 1, .versions = spec};
    int ok = baton_backend_create_ex(&gpu, "cuda", &opt) == BATON_OK;
    float *d_q = dev_copy(q, T * H), *d_k = dev_copy(k, H), *d_v = dev_copy(v, H), *d_ds = dev_copy(ds, T);
    float *d_dq = dev_copy(q, T * H), *d_dk = dev_copy(k, H), *d_dv = dev_copy(dv0, H);
    ok = ok && d_q && d_k && d_v && d_ds && d_dq && d_dk && d_dv && gpu.versions.dv == want;
    for (int run = 0; ok && run < 3; run++) { /* launcher of `want`, the op, launcher of the other version */
        ok = cudaMemcpy(d_dv, dv0, sizeof dv0, cudaMemcpyHostToDevice) == cudaSuccess;
        if (run == 1)
            ok = ok && gpu.ops->additive_scores_backward(&gpu, d_dq, d_dk, d_dv, d_ds, d_q, d_k, d_v, 1, T, 1, H) ==
                           BATON_OK &&
                 gpu.ops->sync(&gpu) == BATON_OK;
        else
            ok = ok && baton_kernel_additive_backward(d_dq, d_dk, d_dv, d_ds, d_q, d_k, d_v, 1, T, 1, H,
                                                      run ? 1 - want : want, 0) == BATON_OK;
        ok = ok && download(got[run], d_dv, H);
    }
    char name[128];
    snprintf(name, sizeof name, "additive backend --kernels %s: dv as its launcher, versions differ here",
             spec ? spec : "(defaults)");
    int differ = 1;
    for (int h = 0; h < H; h++)
        differ &= got[0][h] != got[2][h];
    tu_check(r, name, ok && differ && memcmp(got[0], got[1], sizeof got[0]) == 0 ? 0.0 : 1.0, 0.0);
    float *frees[] = {d_q, d_k, d_v, d_ds, d_dq, d_dk, d_dv};
    for (int i = 0; i < 7; i++)
        cudaFree(frees[i]);
    if (gpu.ops)
        baton_backend_destroy(&gpu);
}

int main(void)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        fprintf(stderr, "additive_gpu: skipped: no usable CUDA device (%s)\n",
                e != cudaSuccess ? cudaGetErrorString(e) : "none");
        return TU_EXIT_SKIP;
    }
    tu_report r = {0, 0};
    baton_backend cpu;
    baton_cpu_backend_create(&cpu, 1);
    check_checker(&r);
    check_dispatch(&r, "dv=plain", BATON_DV_PLAIN);
    check_dispatch(&r, NULL, BATON_DV_TILED); /* the default: the new version */
    run(&r, &cpu, 1, 1, 1, 1, 0);    /* one of everything: one group, one unit */
    run(&r, &cpu, 2, 3, 5, 7, 1);    /* H < 8: a part-filled tiled block */
    run(&r, &cpu, 4, 9, 33, 64, 2);  /* B*T = 36: 64 groups, 28 of them idle */
    run(&r, &cpu, 3, 20, 300, 96, 3);
    run(&r, &cpu, 1, 1, 40, 33, 4);  /* B*T = 1, H = 33: four blocks, the last with one unit */
    run(&r, &cpu, 7, 41, 1, 13, 5);  /* S = 1, B*T = 287 > 128 groups: several pairs per thread */
#if !BATON_GPU_EMULATION
    run(&r, &cpu, 64, 50, 50, 1024, 6); /* gnmt-like, half the batch: only a GPU runs it fast */
#endif
    baton_backend_destroy(&cpu);
    return tu_summary(&r, "additive gpu");
}
