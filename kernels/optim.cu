/* optim.cu: the optimizer's device work: the gradients' sum of squares (for the global-norm
 * clip) and one Adam / SGD update over the flat parameter buffer.
 *
 * sumsq: a deterministic two-pass reduction in double. Pass 1 runs exactly BATON_SUMSQ_BLOCKS
 * blocks of SUMSQ_THREADS threads; thread t of block b sums x[i]^2 for
 * i = b*T + t + k*(BATON_SUMSQ_BLOCKS*T), k = 0, 1, ..., in that order, then the block folds its
 * threads with a fixed shared-memory tree into scratch[b]. Pass 2 is one block folding the
 * BATON_SUMSQ_BLOCKS partials with the same fixed tree and writing (float) of the total. The
 * partition does not depend on the device or on timing, so the bits are the same on every run;
 * they differ from the CPU's sequential double sum only by double rounding (~1e-16 relative), far
 * below the final float rounding. Scratch: BATON_SUMSQ_BLOCKS doubles, the caller's.
 *
 * optim_update: one thread per element (grid-stride, 64-bit indices) calling baton_adam_at /
 * baton_sgd_at of optim_math.h with the factor baton_optim_grad_factor computes from the
 * device-side sum of squares (read by every thread; nothing returns to the host). The
 * hyper-parameters are read from device memory (the trainer uploads them with the batch), so a
 * captured step replays with the current learning rate and step; each thread computes Adam's bias
 * corrections with the CPU's function (baton_adam_bias_correction). With a bf16 mirror of the
 * weights, the same pass writes it, and with a moving average of the weights (--ema), the same
 * pass moves it (baton_ema_at), so that averaging costs no pass of its own over the weights. nvcc
 * contracts a*b + c into FMAs, so results differ from the CPU's by rounding (a few ulp).
 *
 * Versions:
 *   v1 plain kernels as above.
 *
 * Status: compiled for sm_80 and sm_90, never yet run on a GPU; validated only by
 * tests/gpu/test_misc_gpu.c on a GPU, against the CPU backend. */
#include "kernels/device.cuh"
#include <math.h>

#include "baton/bf16.h"
#include "baton/cuda_check.h"
#include "baton/optim_math.h"
#include "kernels/misc_launch.h"

#define SUMSQ_THREADS 256
#define MAX_BLOCKS 65535u

/* Folds buf[0..SUMSQ_THREADS) into buf[0] in a fixed tree order. */
static __device__ void block_fold(double *buf)
{
    for (int s = SUMSQ_THREADS / 2; s > 0; s >>= 1) {
        __syncthreads();
        if ((int)threadIdx.x < s)
            buf[threadIdx.x] += buf[threadIdx.x + s];
    }
    __syncthreads();
}

static __global__ void __launch_bounds__(SUMSQ_THREADS) sumsq_partial_kernel(double *partial, const float *x, size_t n)
{
    BATON_SHARED(double, buf, SUMSQ_THREADS);
    double acc = 0.0;
    for (size_t i = (size_t)blockIdx.x * SUMSQ_THREADS + threadIdx.x; i < n;
         i += (size_t)BATON_SUMSQ_BLOCKS * SUMSQ_THREADS) {
        double v = (double)x[i];
        acc += v * v;
    }
    buf[threadIdx.x] = acc;
    block_fold(buf);
    if (threadIdx.x == 0)
        partial[blockIdx.x] = buf[0];
}

static __global__ void __launch_bounds__(SUMSQ_THREADS) sumsq_final_kernel(float *out, const double *partial)
{
    BATON_SHARED(double, buf, SUMSQ_THREADS);
    double acc = 0.0;
    for (int b = threadIdx.x; b < BATON_SUMSQ_BLOCKS; b += SUMSQ_THREADS)
        acc += partial[b];
    buf[threadIdx.x] = acc;
    block_fold(buf);
    if (threadIdx.x == 0)
        *out = (float)buf[0];
}

extern "C" baton_status baton_kernel_sumsq(float *out, const float *x, size_t n, double *scratch,
                                           cudaStream_t stream)
{
    BATON_REQUIRE(out && scratch && (x || n == 0), "baton_kernel_sumsq: NULL pointer (out %p, x %p, scratch %p)",
                  (void *)out, (const void *)x, (void *)scratch);
    /* n == 0 still runs: every partial is 0 and *out becomes 0, as on the CPU. */
    BATON_LAUNCH(BATON_SUMSQ_BLOCKS, SUMSQ_THREADS, 0, stream, sumsq_partial_kernel)(scratch, x, n);
    BATON_CUDA_CHECK_LAUNCH();
    BATON_LAUNCH(1, SUMSQ_THREADS, 0, stream, sumsq_final_kernel)(out, scratch);
    BATON_CUDA_CHECK_LAUNCH();
    return BATON_OK;
}

/* What the pass writes beside w: w16 (NULL, or the bf16 mirror of w), so that bf16 GEMMs never
 * convert weights, and ema (NULL, or the weights' moving average). */
static __device__ __forceinline__ void after_update(const baton_optim_hyper *h, float factor, float w, uint16_t *w16,
                                                    float *ema)
{
    if (w16)
        *w16 = baton_bf16_from_f32(w);
    if (ema)
        baton_ema_at(h->ema, factor, ema, w);
}

static __global__ void adam_kernel(const baton_optim_hyper *hp, float *w, uint16_t *w16, const float *g, float *m,
                                   float *v, float *ema, size_t n, const float *grad_sumsq)
{
    baton_optim_hyper h = *hp; /* device memory: a replayed graph uses this update's rate and step */
    float factor = baton_optim_grad_factor(&h, *grad_sumsq);
    float bc1 = baton_adam_bias_correction(h.beta1, h.step), bc2 = baton_adam_bias_correction(h.beta2, h.step);
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        baton_adam_at(&h, factor, w + i, g + i, m + i, v + i, bc1, bc2);
        after_update(&h, factor, w[i], w16 ? w16 + i : NULL, ema ? ema + i : NULL);
    }
}

static __global__ void sgd_kernel(const baton_optim_hyper *hp, float *w, uint16_t *w16, const float *g, float *ema,
                                  size_t n, const float *grad_sumsq)
{
    baton_optim_hyper h = *hp;
    float factor = baton_optim_grad_factor(&h, *grad_sumsq);
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        baton_sgd_at(&h, factor, w + i, g + i);
        after_update(&h, factor, w[i], w16 ? w16 + i : NULL, ema ? ema + i : NULL);
    }
}

extern "C" baton_status baton_kernel_optim_update(baton_opt_kind kind, const baton_optim_hyper *h, float *params,
                                                  uint16_t *params_bf16, const float *grads, float *m, float *v,
                                                  float *ema, size_t n, const float *grad_sumsq, cudaStream_t stream)
{
    const char *who = "baton_kernel_optim_update";
    BATON_REQUIRE(kind == BATON_OPT_ADAM || kind == BATON_OPT_SGD, "%s: unknown optimizer kind %d", who, (int)kind);
    BATON_REQUIRE(kind == BATON_OPT_SGD || (m && v), "%s: Adam needs both moment buffers", who);
    if (n == 0)
        return BATON_OK;
    BATON_REQUIRE(h && params && grads && grad_sumsq,
                  "%s: NULL pointer (h %p, params %p, grads %p, grad_sumsq %p)", who, (const void *)h, (void *)params,
                  (const void *)grads, (const void *)grad_sumsq);
    size_t b = (n + BATON_ELEM_THREADS - 1) / BATON_ELEM_THREADS;
    unsigned blocks = b > MAX_BLOCKS ? MAX_BLOCKS : (unsigned)b;
    if (kind == BATON_OPT_SGD)
        BATON_LAUNCH(blocks, BATON_ELEM_THREADS, 0, stream, sgd_kernel)(h, params, params_bf16, grads, ema, n,
                                                                         grad_sumsq);
    else
        BATON_LAUNCH(blocks, BATON_ELEM_THREADS, 0, stream, adam_kernel)(h, params, params_bf16, grads, m, v, ema,
                                                                          n, grad_sumsq);
    BATON_CUDA_CHECK_LAUNCH();
    return BATON_OK;
}
