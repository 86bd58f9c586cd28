/* bf16.cu: fp32 -> bf16 conversion, the one extra pass of bf16 precision.
 *
 * Computes dst[i] = baton_bf16_from_f32(src[i]) (include/baton/bf16.h: round to nearest even on
 * the bits, NaN kept), the same function the CPU backend rounds its GEMM operands with. Layout:
 * flat arrays. The CUDA backend runs it where a GEMM operand has no bf16 copy kept by its producer
 * (src/cuda/cuda_bf16.c); weights never need it (the optimizer pass writes their copy).
 *
 * Launch shape: a grid-stride loop, each thread converting 4 consecutive elements per iteration
 * (16 bytes read, 8 written) and the tail one at a time; memory-bound at 6 bytes an element.
 *
 * Versions: v1 plain (above).
 *
 * Status: compiled for sm_80 and sm_90, never yet run on a GPU; validated against the CPU rounding
 * by tests/gpu/test_bf16_gpu.c in the emulation. */
#include "kernels/device.cuh"
#include <stdint.h>

#include "baton/bf16.h"
#include "baton/cuda_check.h"
#include "kernels/bf16_launch.h"

#define BF16_THREADS 256
#define BF16_MAX_BLOCKS 4096u

static __global__ void __launch_bounds__(BF16_THREADS) to_bf16_kernel(uint16_t *dst, const float *src, size_t n)
{
    size_t quads = n / 4, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t q = (size_t)blockIdx.x * blockDim.x + threadIdx.x; q < quads; q += stride)
        for (int k = 0; k < 4; k++)
            dst[4 * q + k] = baton_bf16_from_f32(src[4 * q + k]);
    for (size_t i = 4 * quads + (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        dst[i] = baton_bf16_from_f32(src[i]);
}

extern "C" baton_status baton_kernel_to_bf16(uint16_t *dst, const float *src, size_t n, cudaStream_t stream)
{
    if (n == 0)
        return BATON_OK;
    BATON_REQUIRE(dst && src, "baton_kernel_to_bf16: NULL pointer (dst %p, src %p)", (void *)dst, (const void *)src);
    size_t b = (n / 4 + BF16_THREADS - 1) / BF16_THREADS;
    unsigned blocks = b == 0 ? 1u : b > BF16_MAX_BLOCKS ? BF16_MAX_BLOCKS : (unsigned)b;
    BATON_LAUNCH(blocks, BF16_THREADS, 0, stream, to_bf16_kernel)(dst, src, n);
    BATON_CUDA_CHECK_LAUNCH();
    return BATON_OK;
}
