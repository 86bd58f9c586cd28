/* emu_kernels.cu: small kernels for the CUDA emulation's own tests (tests/emu/test_emu*.c):
 * correct ones, whose results the tests check, and defective ones, each with exactly one bug that
 * the emulation (src/emu/) must report. Compiled as the kernels/ sources are under -Dgpu_emulation=true
 * (emu_wrap.py, instrumented accesses), launched through BATON_LAUNCH with shared memory from
 * BATON_SHARED / BATON_DYNAMIC_SHARED, so they exercise the same seams as baton's kernels. Names
 * carry an emu_ prefix: __launch_bounds__ are registered by kernel name, process-wide. */
#include "kernels/device.cuh"

#include <cooperative_groups.h>
#include <cub/device/device_radix_sort.cuh>

#include "emu_kernels.h"

#define THREADS 128

static unsigned blocks_for(int n)
{
    return (unsigned)((n + THREADS - 1) / THREADS);
}

/* ---- correct kernels ---- */

static __global__ void emu_block_sum_kernel(const float *x, float *out, int n)
{
    BATON_SHARED(float, warp_sums, 32);
    const float *row = x + (size_t)blockIdx.x * n;
    float v = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x)
        v += row[i];
    for (int m = 16; m > 0; m >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, m);
    unsigned warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
    if (lane == 0)
        warp_sums[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < warps ? warp_sums[lane] : 0.0f;
        for (int m = 16; m > 0; m >>= 1)
            v += __shfl_xor_sync(0xffffffffu, v, m);
        if (lane == 0)
            out[blockIdx.x] = v;
    }
}

extern "C" cudaError_t emu_block_sum(const float *x, float *out, int n, int rows, int threads)
{
    BATON_LAUNCH(rows, threads, 0, 0, emu_block_sum_kernel)(x, out, n);
    return cudaGetLastError();
}

static __global__ void emu_votes_kernel(const int *pred, unsigned *out)
{
    unsigned t = blockIdx.x * blockDim.x + threadIdx.x, w = t / 32;
    int p = pred[t];
    unsigned ballot = __ballot_sync(0xffffffffu, p);
    int any = __any_sync(0xffffffffu, p);
    int all = __all_sync(0xffffffffu, p);
    if (t % 32 == 0) {
        out[3 * w] = ballot;
        out[3 * w + 1] = (unsigned)any;
        out[3 * w + 2] = (unsigned)all;
    }
}

extern "C" cudaError_t emu_votes(const int *pred, unsigned *out, int threads)
{
    BATON_LAUNCH(1, threads, 0, 0, emu_votes_kernel)(pred, out);
    return cudaGetLastError();
}

static __global__ void emu_dyn_reverse_kernel(const float *x, float *y, int n)
{
    BATON_DYNAMIC_SHARED(float, s);
    int t = threadIdx.x;
    s[t] = x[t];
    __syncthreads();
    y[t] = s[n - 1 - t];
}

extern "C" cudaError_t emu_dyn_reverse(const float *x, float *y, int n)
{
    BATON_LAUNCH(1, n, (size_t)n * sizeof(float), 0, emu_dyn_reverse_kernel)(x, y, n);
    return cudaGetLastError();
}

static __global__ void emu_histogram_kernel(const int *x, int n, int *counts, int bins)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        atomicAdd(&counts[x[i] % bins], 1);
}

extern "C" cudaError_t emu_histogram(const int *x, int n, int *counts, int bins)
{
    BATON_LAUNCH(blocks_for(n), THREADS, 0, 0, emu_histogram_kernel)(x, n, counts, bins);
    return cudaGetLastError();
}

static __global__ void emu_coop_shift_kernel(int *a, int *b)
{
    int n = gridDim.x * blockDim.x, i = blockIdx.x * blockDim.x + threadIdx.x;
    a[i] = 3 * i + 1;
    cooperative_groups::this_grid().sync();
    b[i] = a[(i + blockDim.x) % n]; /* written by the next block: needs the grid barrier */
}

extern "C" cudaError_t emu_coop_shift(int *a, int *b, int blocks, int threads, int cooperative)
{
    if (cooperative) {
        void *args[] = {&a, &b};
        cudaError_t e = cudaLaunchCooperativeKernel(emu_coop_shift_kernel, dim3(blocks), dim3(threads), args, 0, 0);
        cudaError_t last = cudaGetLastError(); /* consumed, as the other launchers consume theirs */
        return e != cudaSuccess ? e : last;
    }
    BATON_LAUNCH(blocks, threads, 0, 0, emu_coop_shift_kernel)(a, b);
    return cudaGetLastError();
}

static __global__ void emu_coords3d_kernel(int *hits, int *where)
{
    unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    unsigned thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    unsigned i = block * (blockDim.x * blockDim.y * blockDim.z) + thread;
    atomicAdd(&hits[i], 1);
    where[i] = (int)(threadIdx.x | threadIdx.y << 4 | threadIdx.z << 8 | blockIdx.x << 12 | blockIdx.y << 16 |
                     blockIdx.z << 20);
}

extern "C" cudaError_t emu_coords3d(int *hits, int *where, int gx, int gy, int gz, int bx, int by, int bz)
{
    BATON_LAUNCH(dim3(gx, gy, gz), dim3(bx, by, bz), 0, 0, emu_coords3d_kernel)(hits, where);
    return cudaGetLastError();
}

static __global__ void emu_fill_kernel(float *x, int n, float v)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        x[i] = v;
}

extern "C" cudaError_t emu_fill(float *x, int n, float v, cudaStream_t stream)
{
    BATON_LAUNCH(blocks_for(n), THREADS, 0, stream, emu_fill_kernel)(x, n, v);
    return cudaGetLastError();
}

extern "C" cudaError_t emu_fill_block(float *x, int threads)
{
    BATON_LAUNCH(1, threads, 0, 0, emu_fill_kernel)(x, threads, 1.0f);
    return cudaGetLastError();
}

static __global__ void emu_increment_kernel(float *x, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        x[i] += 1.0f;
}

extern "C" cudaError_t emu_increment(float *x, int n, cudaStream_t stream)
{
    BATON_LAUNCH(blocks_for(n), THREADS, 0, stream, emu_increment_kernel)(x, n);
    return cudaGetLastError();
}

static __global__ void emu_copy_kernel(const float *src, float *dst, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        dst[i] = src[i];
}

extern "C" cudaError_t emu_copy(const float *src, float *dst, int n, cudaStream_t stream)
{
    BATON_LAUNCH(blocks_for(n), THREADS, 0, stream, emu_copy_kernel)(src, dst, n);
    return cudaGetLastError();
}

static __global__ void emu_dyn_big_kernel(float *out, int floats)
{
    BATON_DYNAMIC_SHARED(float, s);
    for (int i = threadIdx.x; i < floats; i += blockDim.x)
        s[i] = (float)i;
    __syncthreads();
    float v = 0.0f;
    for (int i = threadIdx.x; i < floats; i += blockDim.x)
        v += s[i];
    out[threadIdx.x] = v;
}

extern "C" cudaError_t emu_dyn_big(float *out, size_t shmem, int opt_in)
{
    if (opt_in) {
        cudaError_t e = cudaFuncSetAttribute(emu_dyn_big_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             (int)shmem);
        if (e != cudaSuccess)
            return e;
    }
    BATON_LAUNCH(1, 256, shmem, 0, emu_dyn_big_kernel)(out, (int)(shmem / sizeof(float)));
    return cudaGetLastError();
}

static __global__ void __launch_bounds__(128) emu_bounded_kernel(float *x)
{
    x[threadIdx.x] = 1.0f;
}

extern "C" cudaError_t emu_bounded(float *x, int threads)
{
    BATON_LAUNCH(1, threads, 0, 0, emu_bounded_kernel)(x);
    return cudaGetLastError();
}

/* ---- defective kernels: one defect each ---- */

/* defect: thread n-1 reads x[n], one element past the allocation */
static __global__ void emu_read_past_kernel(const float *x, float *y, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        y[i] = x[i + 1];
}

extern "C" cudaError_t emu_read_past(const float *x, float *y, int n)
{
    BATON_LAUNCH(blocks_for(n), THREADS, 0, 0, emu_read_past_kernel)(x, y, n);
    return cudaGetLastError();
}

/* defect: thread n-1 writes y[n] */
static __global__ void emu_write_past_kernel(float *y, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        y[i + 1] = (float)i;
}

extern "C" cudaError_t emu_write_past(float *y, int n)
{
    BATON_LAUNCH(blocks_for(n), THREADS, 0, 0, emu_write_past_kernel)(y, n);
    return cudaGetLastError();
}

/* defect: a 4-byte load from an address 2 bytes past a float boundary */
static __global__ void emu_misaligned_kernel(const float *x, float *y)
{
    const float *p = (const float *)((const char *)x + 2);
    y[threadIdx.x] = *p;
}

extern "C" cudaError_t emu_misaligned(const float *x, float *y)
{
    BATON_LAUNCH(1, 1, 0, 0, emu_misaligned_kernel)(x, y);
    return cudaGetLastError();
}

/* defect: thread 31 writes s[32] of a 32-float shared array */
static __global__ void emu_shared_oob_kernel(float *y)
{
    BATON_SHARED(float, s, 32);
    s[threadIdx.x + 1] = (float)threadIdx.x;
    __syncthreads();
    y[threadIdx.x] = s[threadIdx.x];
}

extern "C" cudaError_t emu_shared_oob(float *y)
{
    BATON_LAUNCH(1, 32, 0, 0, emu_shared_oob_kernel)(y);
    return cudaGetLastError();
}

/* defect: s is overwritten while other threads may still read it (no __syncthreads between the
 * read of the neighbour and the write); which value a thread reads depends on the schedule */
static __global__ void emu_missing_sync_kernel(const float *x, float *y, int n)
{
    BATON_SHARED(float, s, 256);
    int t = threadIdx.x;
    s[t] = x[t];
    __syncthreads();
    float a = s[(t + 1) % n];
    s[t] = 2.0f * a;
    __syncthreads();
    y[t] = s[t];
}

extern "C" cudaError_t emu_missing_sync(const float *x, float *y, int n)
{
    BATON_LAUNCH(1, n, 0, 0, emu_missing_sync_kernel)(x, y, n);
    return cudaGetLastError();
}

/* defect: every block's thread 0 writes y[0]; which block writes last depends on the schedule */
static __global__ void emu_block_race_kernel(float *y)
{
    if (threadIdx.x == 0)
        y[0] = (float)blockIdx.x;
}

extern "C" cudaError_t emu_block_race(float *y)
{
    BATON_LAUNCH(2, 32, 0, 0, emu_block_race_kernel)(y);
    return cudaGetLastError();
}

/* defect: threads 32-63 read shared floats that only threads 0-31 wrote for themselves */
static __global__ void emu_uninit_shared_kernel(const float *x, float *y)
{
    BATON_SHARED(float, s, 64);
    int t = threadIdx.x;
    if (t < 32)
        s[t] = x[t];
    __syncthreads();
    y[t] = s[t];
}

extern "C" cudaError_t emu_uninit_shared(const float *x, float *y)
{
    BATON_LAUNCH(1, 64, 0, 0, emu_uninit_shared_kernel)(x, y);
    return cudaGetLastError();
}

/* defect: lanes 0-15 shuffle with mask 0x0000ffff but lane l reads lane l ^ 16, outside it */
static __global__ void emu_shfl_outside_mask_kernel(float *y)
{
    unsigned lane = threadIdx.x % 32;
    float v = (float)lane;
    if (lane < 16)
        v = __shfl_xor_sync(0x0000ffffu, v, 16);
    y[threadIdx.x] = v;
}

extern "C" cudaError_t emu_shfl_outside_mask(float *y)
{
    BATON_LAUNCH(1, 32, 0, 0, emu_shfl_outside_mask_kernel)(y);
    return cudaGetLastError();
}

/* defect (with a block of 48): the full mask names lanes 16-31 of the second warp, which has
 * only 16 threads */
static __global__ void emu_shfl_ghost_lanes_kernel(float *y)
{
    float v = (float)threadIdx.x;
    v = __shfl_xor_sync(0xffffffffu, v, 1);
    y[threadIdx.x] = v;
}

extern "C" cudaError_t emu_shfl_ghost_lanes(float *y, int threads)
{
    BATON_LAUNCH(1, threads, 0, 0, emu_shfl_ghost_lanes_kernel)(y);
    return cudaGetLastError();
}

/* defect: the two halves of the block wait at different __syncthreads */
static __global__ void emu_divergent_sync_kernel(float *y)
{
    if (threadIdx.x < 16) {
        y[threadIdx.x] = 1.0f;
        __syncthreads();
    } else {
        y[threadIdx.x] = 2.0f;
        __syncthreads();
    }
}

extern "C" cudaError_t emu_divergent_sync(float *y)
{
    BATON_LAUNCH(1, 64, 0, 0, emu_divergent_sync_kernel)(y);
    return cudaGetLastError();
}

/* defect: lanes 0-15 wait in a full-warp shuffle for lanes 16-31, which wait at __syncthreads
 * for lanes 0-15: neither can complete */
static __global__ void emu_deadlock_kernel(float *y)
{
    float v = (float)threadIdx.x;
    if (threadIdx.x < 16)
        v = __shfl_sync(0xffffffffu, v, 0);
    else
        __syncthreads();
    y[threadIdx.x] = v;
}

extern "C" cudaError_t emu_deadlock(float *y)
{
    BATON_LAUNCH(1, 32, 0, 0, emu_deadlock_kernel)(y);
    return cudaGetLastError();
}

/* ---- libraries and host code ---- */

extern "C" cudaError_t emu_sort_pairs_i32(void *temp, size_t *temp_bytes, const int *kin, int *kout, const int *vin,
                                          int *vout, int n)
{
    return cub::DeviceRadixSort::SortPairs(temp, *temp_bytes, kin, kout, vin, vout, n);
}

extern "C" cudaError_t emu_sort_pairs_f32(void *temp, size_t *temp_bytes, const float *kin, float *kout,
                                          const int *vin, int *vout, int n)
{
    return cub::DeviceRadixSort::SortPairs(temp, *temp_bytes, kin, kout, vin, vout, n);
}

extern "C" float emu_host_peek(const float *p)
{
    return *p;
}
