/* row_reduce.cuh: block-wide max and sum for the one-block-per-row kernels (attn_softmax.cu,
 * softmax_xent.cu). Sums run in double in a fixed tree (warp shuffles, then one warp), so a row's
 * result depends only on its length and the block size: the same bits on every run. */
#ifndef BATON_ROW_REDUCE_CUH
#define BATON_ROW_REDUCE_CUH

#include <math.h>

/* a > b ? a : b, as baton_row_max compares, so both sides pick the same maximum. */
static __device__ __forceinline__ float pick_max(float a, float b)
{
    return a > b ? a : b;
}

static __device__ __forceinline__ float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v = pick_max(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

static __device__ __forceinline__ double warp_sum(double v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* Block-wide max; every thread gets the result. sh holds 32 floats. blockDim.x % 32 == 0. */
static __device__ float block_max(float v, float *sh)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_max(v);
    if (lane == 0)
        sh[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < nw ? sh[lane] : -INFINITY;
        v = warp_max(v);
        if (lane == 0)
            sh[0] = v;
    }
    __syncthreads();
    float r = sh[0];
    __syncthreads(); /* sh is reused by the next reduction */
    return r;
}

/* Block-wide sum in double, in a fixed tree; every thread gets the result. sh holds 32 doubles. */
static __device__ double block_sum(double v, double *sh)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    if (lane == 0)
        sh[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < nw ? sh[lane] : 0.0;
        v = warp_sum(v);
        if (lane == 0)
            sh[0] = v;
    }
    __syncthreads();
    double r = sh[0];
    __syncthreads();
    return r;
}

#endif
