/* bf16_launch.h: the C-callable launcher of kernels/bf16.cu, the conversion of fp32 values to
 * their bf16 rounding (include/baton/bf16.h) that bf16 GEMM operands are read from.
 *
 * As every launcher (kernels.h): checks its arguments, enqueues on `stream`, checks the launch,
 * never synchronises; pointers are device pointers; n == 0 launches nothing. */
#ifndef BATON_BF16_LAUNCH_H
#define BATON_BF16_LAUNCH_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "baton/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* dst[i] = baton_bf16_from_f32(src[i]) for n elements. */
baton_status baton_kernel_to_bf16(uint16_t *dst, const float *src, size_t n, cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
