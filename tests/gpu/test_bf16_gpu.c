/* test_bf16_gpu.c: bf16 precision on the CUDA backend against the CPU backend's (tests/test_bf16.c
 * pins the CPU's down to the bit).
 *   - The conversion kernel equals baton_bf16_from_f32 bit for bit on random values of every
 *     magnitude and on the special values (ties, infinities, NaN, subnormals), for lengths that
 *     exercise its 4-element body and its tail; elements past n stay untouched.
 *   - bf16 GEMMs, single and strided-batched, with operands read three ways: from plain device
 *     memory (converted into the backend's scratch), from a kept mirror (the parameters': never
 *     converted, refreshed by uploads), and from a converted-on-use mirror (the activation
 *     arena's). Each against the CPU's bf16 GEMM on the same values: both multiply the same bf16
 *     operands exactly and differ only in fp32 summation order, so the relative norm error is
 *     bounded like fp32's, ~sqrt(K) 6e-8; tolerance 1e-5. A GEMM that read fp32, or a stale or
 *     missing mirror, errs by >= 2^-9 ~ 2e-3 and fails.
 *   - An upload into a kept mirror's range refreshes it (the next product sees the new values);
 *     freeing a mirrored allocation drops its mirror.
 *   - In the emulation, the issued work: every GEMM FLOP of these products is bf16.
 * Exits 77 when no CUDA device is usable. Never yet run on a GPU. */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/backend.h"
#include "baton/bf16.h"
#include "baton_config.h"
#include "kernels/bf16_launch.h"
#include "testutil.h"
#if BATON_GPU_EMULATION
#include "baton_emu.h"
#endif

static tu_report rep;
static baton_backend cpu, gpu;

#define OK(call) TU_EXPECT(&rep, (call) == BATON_OK, "%s", baton_error_last())

static float from_bits(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static void check_convert(void)
{
    const size_t lens[] = {1, 3, 4, 7, 1000, 4099};
    enum { CAP = 4099 + 8 };
    float *h = malloc(CAP * sizeof *h), *d = NULL;
    uint16_t *g = malloc(CAP * sizeof *g), *d16 = NULL;
    OK(gpu.ops->alloc(&gpu, (void **)&d, CAP * sizeof *h, "x"));
    OK(gpu.ops->alloc(&gpu, (void **)&d16, CAP * sizeof *g, "x bf16"));
    for (size_t t = 0; t < sizeof lens / sizeof *lens; t++) {
        size_t n = lens[t];
        tu_fill_uniform(h, n, -1, 1, 3, (uint32_t)t);
        for (size_t i = 0; i < n; i++) /* every magnitude, and the specials where they fit */
            h[i] = ldexpf(h[i], (int)(i % 300) - 150);
        const uint32_t special[] = {0x3f808000u, 0x3f818000u, 0x7f7fffffu, 0x7f800000u, 0xff800000u, 0x7fffffffu,
                                    0x7f800001u, 0x00018000u, 0x80000000u};
        for (size_t i = 0; i < sizeof special / sizeof *special && i < n; i++)
            h[n - 1 - i] = from_bits(special[i]);
        OK(gpu.ops->upload(&gpu, d, h, n * sizeof *h));
        OK(gpu.ops->zero(&gpu, d16, CAP * sizeof *g));
        OK(baton_kernel_to_bf16(d16, d, n, NULL));
        OK(gpu.ops->sync(&gpu));
        TU_EXPECT(&rep, cudaMemcpy(g, d16, CAP * sizeof *g, cudaMemcpyDeviceToHost) == cudaSuccess, "download");
        size_t bad = 0, stray = 0;
        for (size_t i = 0; i < n; i++)
            bad += g[i] != baton_bf16_from_f32(h[i]);
        for (size_t i = n; i < CAP; i++)
            stray += g[i] != 0;
        TU_EXPECT(&rep, bad == 0 && stray == 0, "to_bf16 n=%zu: %zu elements differ from the CPU rounding, %zu "
                  "written past n", n, bad, stray);
    }
    printf("to_bf16: %zu lengths bit-identical to the CPU rounding\n", sizeof lens / sizeof *lens);
    gpu.ops->free(&gpu, d);
    gpu.ops->free(&gpu, d16);
    free(h);
    free(g);
}

enum { M = 37, N = 29, K = 130, BATCH = 3 };

/* C = A B^T on the GPU (operands at dA, dB) and on the CPU (hA, hB); relative error into the report. */
static void product(const char *what, const float *dA, const float *dB, const float *hA, const float *hB, float *dC)
{
    float hC[M * N], gC[M * N];
    tu_fill_nan(gC, M * N);
    OK(gpu.ops->upload(&gpu, dC, gC, sizeof gC)); /* poisoned: beta 0 must not read it, every element written */
    OK(gpu.ops->gemm(&gpu, 0, 1, M, N, K, 1.0f, dA, K, dB, K, 0.0f, dC, N));
    OK(gpu.ops->download(&gpu, gC, dC, sizeof gC));
    OK(cpu.ops->gemm(&cpu, 0, 1, M, N, K, 1.0f, hA, K, hB, K, 0.0f, hC, N));
    tu_check(&rep, what, tu_rel_err_ff(gC, hC, M * N), 1e-5);
}

static void check_gemm_paths(void)
{
    float *hA = malloc(sizeof(float) * M * K * BATCH), *hB = malloc(sizeof(float) * N * K * BATCH);
    float *dA = NULL, *dB = NULL, *dC = NULL, *arena = NULL;
    tu_fill_uniform(hA, (size_t)M * K * BATCH, -1, 1, 5, 1);
    tu_fill_uniform(hB, (size_t)N * K * BATCH, -1, 1, 5, 2);
    OK(gpu.ops->alloc(&gpu, (void **)&dA, sizeof(float) * M * K * BATCH, "A"));
    OK(gpu.ops->alloc(&gpu, (void **)&dB, sizeof(float) * N * K * BATCH, "B"));
    OK(gpu.ops->alloc(&gpu, (void **)&dC, sizeof(float) * M * N * BATCH, "C"));
    OK(gpu.ops->upload(&gpu, dA, hA, sizeof(float) * M * K));
    OK(gpu.ops->upload(&gpu, dB, hB, sizeof(float) * N * K));
    product("bf16 gemm, operands in no mirror (scratch)", dA, dB, hA, hB, dC);

    /* A as weights: a kept mirror, initialised at registration, refreshed by uploads */
    OK(baton_backend_bf16_mirror(&gpu, dA, (size_t)M * K * BATCH, 1));
    TU_EXPECT(&rep, baton_backend_bf16_twin(&gpu, dA + 5) == baton_backend_bf16_twin(&gpu, dA) + 5,
              "the twin of an element is the mirror at the same index");
    product("bf16 gemm, A from a kept mirror", dA, dB, hA, hB, dC);
    for (int i = 0; i < M * K; i++)
        hA[i] = -0.5f * hA[i] + 0.25f;
    OK(gpu.ops->upload(&gpu, dA, hA, sizeof(float) * M * K));
    product("bf16 gemm, kept mirror after an upload (refreshed)", dA, dB, hA, hB, dC);

    /* B inside an arena-like allocation: converted on use, with a kept range inside it */
    size_t an = (size_t)N * K * BATCH + 1024;
    OK(gpu.ops->alloc(&gpu, (void **)&arena, an * sizeof(float), "arena"));
    OK(baton_backend_bf16_mirror(&gpu, arena, an, 0));
    float *inner = arena + 512;
    OK(gpu.ops->upload(&gpu, inner, hB, sizeof(float) * N * K));
    product("bf16 gemm, B from a converted-on-use mirror", dA, inner, hA, hB, dC);
    for (int i = 0; i < N * K; i++)
        hB[i] = 0.75f * hB[i] - 0.125f;
    OK(gpu.ops->upload(&gpu, inner, hB, sizeof(float) * N * K));
    product("bf16 gemm, converted-on-use mirror after new values", dA, inner, hA, hB, dC);

    /* strided batches through both mirrors */
    float *hC = malloc(sizeof(float) * M * N * BATCH), *gC = malloc(sizeof(float) * M * N * BATCH);
    OK(gpu.ops->upload(&gpu, dA, hA, sizeof(float) * M * K * BATCH));
    OK(gpu.ops->upload(&gpu, inner, hB, sizeof(float) * N * K * BATCH));
    tu_fill_uniform(hC, (size_t)M * N * BATCH, -1, 1, 5, 3);
    OK(gpu.ops->upload(&gpu, dC, hC, sizeof(float) * M * N * BATCH));
    OK(gpu.ops->gemm_batched(&gpu, 0, 1, M, N, K, 0.5f, dA, K, M * K, inner, K, N * K, 1.0f, dC, N, M * N, BATCH));
    OK(gpu.ops->download(&gpu, gC, dC, sizeof(float) * M * N * BATCH));
    OK(cpu.ops->gemm_batched(&cpu, 0, 1, M, N, K, 0.5f, hA, K, M * K, hB, K, N * K, 1.0f, hC, N, M * N, BATCH));
    tu_check(&rep, "bf16 gemm_batched, 3 strided products, beta 1, through both mirrors",
             tu_rel_err_ff(gC, hC, (size_t)M * N * BATCH), 1e-5);

    gpu.ops->free(&gpu, arena);
    TU_EXPECT(&rep, baton_backend_bf16_twin(&gpu, inner) == NULL, "freeing an allocation drops its mirror");
    gpu.ops->free(&gpu, dA);
    gpu.ops->free(&gpu, dB);
    gpu.ops->free(&gpu, dC);
    free(hA), free(hB), free(hC), free(gC);
}

int main(void)
{
    int ndev = 0;
    cudaError_t e = cudaGetDeviceCount(&ndev);
    if (e != cudaSuccess || ndev == 0) {
        fprintf(stderr, "bf16_gpu: skipped: no usable CUDA device (%s)\n",
                e != cudaSuccess ? cudaGetErrorString(e) : "none");
        return TU_EXIT_SKIP;
    }
    baton_backend_options o = {.threads = 1, .precision = BATON_PRECISION_BF16};
    if (baton_backend_create_ex(&cpu, "cpu", &o) != BATON_OK || baton_backend_create_ex(&gpu, "cuda", &o) != BATON_OK)
        return 1;
#if BATON_GPU_EMULATION
    baton_emu_counters c0, c1;
    baton_emu_counters_get(&c0);
#endif
    check_convert();
    check_gemm_paths();
#if BATON_GPU_EMULATION
    baton_emu_counters_get(&c1);
    double f32 = c1.gemm_flops[0] - c0.gemm_flops[0] + c1.gemm_flops[1] - c0.gemm_flops[1];
    double f16 = c1.gemm_flops[2] - c0.gemm_flops[2];
    TU_EXPECT(&rep, f32 == 0 && f16 > 0, "issued GEMM FLOPs: %.0f fp32/tf32, %.0f bf16; expected all bf16", f32, f16);
#endif
    baton_backend_destroy(&gpu);
    baton_backend_destroy(&cpu);
    return tu_summary(&rep, "bf16 gpu");
}
