/* test_additive_gpu.c: Bahdanau scores and their gradients (kernels/additive_attn.cu) against the
 * CPU backend's ops, on fresh random inputs with masked (exactly 0) score gradients, outputs poisoned
 * with NaN. Tolerance 1e-5 relative norm: both sides sum the same float products in nearly the same
 * order (tanh by the same polynomial), the GPU possibly fusing multiply-adds. Exits 77 without a
 * usable CUDA device. Never yet run on a GPU. */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "baton/backend.h"
#include "kernels/attn_launch.h"
#include "testutil.h"

static float *dev_copy(const float *h, size_t n)
{
    float *d = NULL;
    if (cudaMalloc((void **)&d, n * sizeof(float)) != cudaSuccess ||
        cudaMemcpy(d, h, n * sizeof(float), cudaMemcpyHostToDevice) != cudaSuccess)
        return NULL;
    return d;
}

static double compare(const float *dev, const float *ref, size_t n)
{
    float *h = malloc(n * sizeof(float));
    double err = h && cudaMemcpy(h, dev, n * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess
                     ? tu_rel_err_ff(h, ref, n)
                     : INFINITY;
    free(h);
    return err;
}

static void run(tu_report *r, baton_backend *cpu, int B, int T, int S, int H, int k)
{
    size_t nq = (size_t)T * B * H, nk = (size_t)S * B * H, ns = (size_t)B * T * S;
    float *q = malloc(nq * 4), *kk = malloc(nk * 4), *v = malloc(H * 4), *ds = malloc(ns * 4);
    float *sc = malloc(ns * 4), *dq = malloc(nq * 4), *dk = malloc(nk * 4), *dv = malloc(H * 4);
    tu_fill_uniform(q, nq, -1, 1, 31, k * 8 + 1);
    tu_fill_uniform(kk, nk, -1, 1, 31, k * 8 + 2);
    tu_fill_uniform(v, H, -1, 1, 31, k * 8 + 3);
    tu_fill_uniform(ds, ns, -1, 1, 31, k * 8 + 4);
    for (size_t i = 0; i < ns; i += 3)
        ds[i] = 0.0f; /* masked positions */
    tu_fill_uniform(dv, H, -1, 1, 31, k * 8 + 5);
    float *d_q = dev_copy(q, nq), *d_k = dev_copy(kk, nk), *d_v = dev_copy(v, H), *d_ds = dev_copy(ds, ns);
    float *d_dv = dev_copy(dv, H), *d_sc = dev_copy(ds, ns), *d_dq = dev_copy(q, nq), *d_dk = dev_copy(kk, nk);
    tu_fill_nan(sc, ns);
    tu_fill_nan(dq, nq);
    tu_fill_nan(dk, nk);
    int ok = d_q && d_k && d_v && d_ds && d_dv && d_sc && d_dq && d_dk &&
             cpu->ops->additive_scores_forward(cpu, sc, q, kk, v, B, T, S, H) == BATON_OK &&
             cpu->ops->additive_scores_backward(cpu, dq, dk, dv, ds, q, kk, v, B, T, S, H) == BATON_OK &&
             baton_kernel_additive_forward(d_sc, d_q, d_k, d_v, B, T, S, H, 0) == BATON_OK &&
             baton_kernel_additive_backward(d_dq, d_dk, d_dv, d_ds, d_q, d_k, d_v, B, T, S, H, 0) == BATON_OK &&
             cudaDeviceSynchronize() == cudaSuccess;
    char name[96];
    const char *what[4] = {"scores", "dq", "dk", "dv (accumulated)"};
    const float *devs[4] = {d_sc, d_dq, d_dk, d_dv}, *refs[4] = {sc, dq, dk, dv};
    size_t ns4[4] = {ns, nq, nk, (size_t)H};
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "additive B=%d T=%d S=%d H=%d %s", B, T, S, H, what[i]);
        tu_check(r, name, ok ? compare(devs[i], refs[i], ns4[i]) : INFINITY, 1e-5);
    }
    float *frees[] = {d_q, d_k, d_v, d_ds, d_dv, d_sc, d_dq, d_dk};
    for (int i = 0; i < 8; i++)
        cudaFree(frees[i]);
    free(q), free(kk), free(v), free(ds), free(sc), free(dq), free(dk), free(dv);
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
    run(&r, &cpu, 1, 1, 1, 1, 0);
    run(&r, &cpu, 2, 3, 5, 7, 1);
    run(&r, &cpu, 4, 9, 33, 64, 2);
    run(&r, &cpu, 3, 20, 300, 96, 3);
    return tu_summary(&r, "additive gpu");
}
