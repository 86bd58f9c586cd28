/* emu_kernels.h: the launchers of tests/emu/emu_kernels.cu, for the emulation's own tests (C).
 *
 * Each launcher enqueues one kernel on `stream` (0: the legacy default stream) through
 * BATON_LAUNCH and returns cudaGetLastError(), i.e. only what the launch itself refused; a fault
 * while the kernel runs shows at the next synchronisation. Sizes are in elements. The kernels
 * named "defect" in a comment carry exactly one deliberate bug that the emulation must report. */
#ifndef BATON_TESTS_EMU_KERNELS_H
#define BATON_TESTS_EMU_KERNELS_H

#include <stddef.h>

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- correct kernels ---- */
/* out[r] = sum of row r of x (rows x n), one block of `threads` (a multiple of 32) per row:
 * strided partial sums, __shfl_xor_sync inside each warp, shared memory across warps. */
cudaError_t emu_block_sum(const float *x, float *out, int n, int rows, int threads);
/* Blocks of `threads` (a multiple of 32); per warp w: out[3w] = __ballot_sync of pred != 0,
 * out[3w+1] = __any_sync, out[3w+2] = __all_sync. */
cudaError_t emu_votes(const int *pred, unsigned *out, int threads);
/* y = x reversed, one block of n threads staging x in n floats of dynamic shared memory. */
cudaError_t emu_dyn_reverse(const float *x, float *y, int n);
/* counts[x[i] % bins] += 1 by atomicAdd, blocks of 128. */
cudaError_t emu_histogram(const int *x, int n, int *counts, int bins);
/* Cooperative (cudaLaunchCooperativeKernel) when `cooperative`, else a plain launch:
 * a[i] = 3i + 1; this_grid().sync(); b[i] = a[(i + threads) % n], with n = blocks * threads. */
cudaError_t emu_coop_shift(int *a, int *b, int blocks, int threads, int cooperative);
/* Grid (gx,gy,gz) of blocks (bx,by,bz): the thread with linear global index i (x fastest,
 * threads of a block before the next block) adds 1 to hits[i] and writes its six coordinates
 * packed, 4 bits each (x lowest), to where[i]. */
cudaError_t emu_coords3d(int *hits, int *where, int gx, int gy, int gz, int bx, int by, int bz);
/* x[i] = v, blocks of 128. */
cudaError_t emu_fill(float *x, int n, float v, cudaStream_t stream);
/* x[i] += 1, blocks of 128. */
cudaError_t emu_increment(float *x, int n, cudaStream_t stream);
/* dst[i] = src[i], blocks of 128. */
cudaError_t emu_copy(const float *src, float *dst, int n, cudaStream_t stream);
/* One block of 256 threads writing and reading back shmem bytes of dynamic shared memory:
 * out[t] = sum of the floats t, t+256, ... of it, each set to its index. With opt_in, first
 * cudaFuncSetAttribute(cudaFuncAttributeMaxDynamicSharedMemorySize, shmem). */
cudaError_t emu_dyn_big(float *out, size_t shmem, int opt_in);
/* Launches emu_fill with an explicit block of `threads` (dimension x), one block. */
cudaError_t emu_fill_block(float *x, int threads);
/* A kernel declared __launch_bounds__(128) launched with `threads` threads a block. */
cudaError_t emu_bounded(float *x, int threads);

/* ---- defective kernels: one defect each ---- */
cudaError_t emu_read_past(const float *x, float *y, int n);     /* y[i] = x[i+1]: reads x[n] */
cudaError_t emu_write_past(float *y, int n);                     /* writes y[n] */
cudaError_t emu_misaligned(const float *x, float *y);           /* a float read at x + 2 bytes */
cudaError_t emu_shared_oob(float *y);                           /* s[32] of a 32-float shared array */
cudaError_t emu_missing_sync(const float *x, float *y, int n);  /* shared reused without a barrier */
cudaError_t emu_block_race(float *y);                           /* two blocks write y[0] */
cudaError_t emu_uninit_shared(const float *x, float *y);        /* reads shared floats nobody wrote */
cudaError_t emu_shfl_outside_mask(float *y);                    /* lanes 0-15 read lanes 16-31 */
cudaError_t emu_shfl_ghost_lanes(float *y, int threads);        /* full mask, block of 48: no lanes 48-63 */
cudaError_t emu_divergent_sync(float *y);                       /* two __syncthreads in an if/else */
cudaError_t emu_deadlock(float *y);                             /* shuffle vs __syncthreads in one warp */

/* ---- libraries and host code ---- */
/* cub::DeviceRadixSort::SortPairs on int and on float keys; temp NULL asks for *temp_bytes. */
cudaError_t emu_sort_pairs_i32(void *temp, size_t *temp_bytes, const int *kin, int *kout, const int *vin, int *vout,
                               int n);
cudaError_t emu_sort_pairs_f32(void *temp, size_t *temp_bytes, const float *kin, float *kout, const int *vin,
                               int *vout, int n);
/* Host code compiled with the kernels' instrumentation that reads *p (a death test: p is device memory). */
float emu_host_peek(const float *p);

#ifdef __cplusplus
}
#endif

#endif
