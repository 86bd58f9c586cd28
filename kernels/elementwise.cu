/* elementwise.cu: the elementwise ops of the ops table on the GPU: axpby, dropout, copy2d,
 * add_bias, tanh forward / backward, colsum_add (bias gradients) and argmax_rows.
 *
 * Each kernel computes what the CPU op of the same name (src/cpu/cpu_ops.c) computes, with the
 * same per-element functions (baton_tanh of cell_math.h, baton_tanh_grad of attn_math.h, the
 * Philox of rng.h). Layout: flat arrays of n floats, or row-major (rows, cols) matrices.
 *
 * Launch shapes: a 1-D grid-stride loop of BATON_ELEM_THREADS threads per block, at most
 * MAX_BLOCKS blocks, 64-bit element indices (n may exceed 2^31). Dropout: one thread per Philox
 * block, i.e. four consecutive elements, exactly as the CPU loop draws them, so masks are
 * bit-identical. argmax_rows: one warp per row, each lane scanning a strided subset, then a
 * shuffle reduction keeping (larger value, or equal value and smaller column): the first maximum,
 * as the CPU, for inputs without NaN. axpby rounds alpha*x and beta*y separately (__fmul_rn, no
 * FMA contraction) like the CPU's baseline code.
 *
 * colsum_add: out[j] += sum_i in[i*cols + j] (and out2[j] += the same float, when out2 is given:
 * LSTM / RNN-tanh's db_ih and db_hh are sums of the same gate gradients, so one read serves both).
 * Versions (baton_versions.colsum, kernels/misc_launch.h):
 *   "plain" (0): one thread per column walking all rows in order in double, the CPU's order, so
 *     results are bit-identical to the CPU's. One launch of ceil(cols/256) blocks: for gnmt's
 *     decoder LSTM (cols 4H = 4096, rows T*B = 6400) 16 blocks, each thread a serial chain of
 *     6400 loads, so 16 of an H100's 132 SMs carry the whole 105 MB read.
 *   "tiled" (1, the default): one launch, no scratch. Block = 32 columns x G row groups
 *     (G = 32, fewer when rows < 32: the smallest power of two >= rows), grid = ceil(cols/32)
 *     blocks. Thread (x, y) sums rows y, y+G, y+2G, ... of column 32*blockIdx.x + x in double, in
 *     that order; the G partials of a column are then folded by a fixed shared-memory tree
 *     (G/2, G/4, ..., 1; 32*G doubles = 8 KiB) and thread y = 0 adds the float of the total.
 *     A warp reads 32 consecutive floats of one row (one 128-byte line). gnmt LSTM: 128 blocks of
 *     1024 threads (about one per SM of an H100), each thread 200 rows; the generator's bias
 *     (cols V = 32000): 1000 blocks; H-wide biases (cols 1024): 32 blocks. Bytes: the rows x cols
 *     floats read once, 2 x cols floats read-modify-written. Why not two passes with a
 *     partial-sum scratch (more blocks when cols is small): the op has no scratch and every call
 *     site has its own (rows, cols); a one-pass block reduction needs none, and the widest sums
 *     (LSTM gates, vocabulary) already give >= 128 blocks.
 *     Same partition for a given (rows, cols) on every device and run: deterministic. It differs
 *     from the CPU's row-order double sum only by double rounding (~1e-16 relative), which can move
 *     the final float by one rounding step in rare elements.
 *
 * Status: compiled for sm_80 and sm_90, never yet run on a GPU; validated only by
 * tests/gpu/test_misc_gpu.c (on the CUDA emulation), against the CPU backend. */
#include "kernels/device.cuh"
#include <stdint.h>

#include "baton/attn_math.h"
#include "baton/cell_math.h"
#include "baton/cuda_check.h"
#include "baton/rng.h"
#include "kernels/misc_launch.h"

#define MAX_BLOCKS 65535u

/* Grid size for `units` work items with BATON_ELEM_THREADS threads each, capped (grid-stride). */
static unsigned elem_blocks(size_t units)
{
    size_t b = (units + BATON_ELEM_THREADS - 1) / BATON_ELEM_THREADS;
    return b > MAX_BLOCKS ? MAX_BLOCKS : (unsigned)b;
}

#define GRID_STRIDE(i, n)                                                                           \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

static __global__ void axpby_kernel(float *y, const float *x, float alpha, float beta, size_t n)
{
    if (beta == 0.0f) {
        GRID_STRIDE(i, n) y[i] = __fmul_rn(alpha, x[i]);
    } else {
        GRID_STRIDE(i, n) y[i] = __fadd_rn(__fmul_rn(alpha, x[i]), __fmul_rn(beta, y[i]));
    }
}

extern "C" baton_status baton_kernel_axpby(float *y, const float *x, float alpha, float beta, size_t n,
                                           cudaStream_t stream)
{
    if (n == 0)
        return BATON_OK;
    BATON_REQUIRE(y && x, "baton_kernel_axpby: NULL pointer (y %p, x %p)", (void *)y, (const void *)x);
    BATON_LAUNCH(elem_blocks(n), BATON_ELEM_THREADS, 0, stream, axpby_kernel)(y, x, alpha, beta, n);
    BATON_CUDA_CHECK_LAUNCH();
    return BATON_OK;
}

static __global__ void dropout_kernel(float *y, const float *x, size_t n, float p, uint64_t seed, uint32_t purpose,
                                      const uint32_t *counter_at)
{
    uint32_t counter = *counter_at; /* device memory: a replayed graph draws this batch's masks */
    size_t blocks = (n + 3) / 4;
    GRID_STRIDE(blk, blocks) {
        baton_u32x4 r = baton_rng_block(seed, purpose, counter, (uint64_t)blk);
        for (int lane = 0; lane < 4; lane++) {
            size_t i = blk * 4 + (size_t)lane;
            if (i < n)
                y[i] = __fmul_rn(x[i], baton_rng_keep_scale(r.v[lane], p));
        }
    }
}

extern "C" baton_status baton_kernel_dropout(float *y, const float *x, size_t n, float p, uint64_t seed,
                                             uint32_t purpose, const uint32_t *counter, cudaStream_t stream)
{
    BATON_REQUIRE(p >= 0.0f && p < 1.0f, "baton_kernel_dropout: probability %g, expected 0 <= p < 1", (double)p);
    if (n == 0)
        return BATON_OK;
    BATON_REQUIRE(y && x && counter, "baton_kernel_dropout: NULL pointer (y %p, x %p, counter %p)", (void *)y,
                  (const void *)x, (const void *)counter);
    BATON_LAUNCH(elem_blocks((n + 3) / 4), BATON_ELEM_THREADS, 0, stream, dropout_kernel)(y, x, n, p, seed, purpose, counter);
    BATON_CUDA_CHECK_LAUNCH();
    return BATON_OK;
}

static __global__ void copy2d_kernel(float *dst, int ld_dst, const float *src, int ld_src, int rows, int cols)
{
    size_t total = (size_t)rows * (size_t)cols;
    GRID_STRIDE(e, total) {
        size_t i = e / (size_t)cols, j = e - i * (size_t)cols;
        dst[i * (size_t)ld_dst + j] = src[i * (size_t)ld_src + j];
    }
}

extern "C" baton_status baton_kernel_copy2d(float *dst, int ld_dst, const float *src, int ld_src, int rows, int cols,
                                            cudaStream_t stream)
{
    BATON_REQUIRE(rows >= 0 && cols >= 0 && ld_dst >= cols && ld_src >= cols,
                  "baton_kernel_copy2d: rows %d, cols %d, ld_dst %d, ld_src %d; expected rows, cols >= 0 and "
                  "lds >= cols",
                  rows, cols, ld_dst, ld_src);
    if (rows == 0 || cols == 0)
        return BATON_OK;
    BATON_REQUIRE(dst && src, "baton_kernel_copy2d: NULL pointer (dst %p, src %p)", (void *)dst, (const void *)src);
    BATON_LAUNCH(elem_blocks((size_t)rows * cols), BATON_ELEM_THREADS, 0, stream, copy2d_kernel)(dst, ld_dst, src, ld_src, rows,
                                                                                      cols);
    BATON_CUDA_CHECK_LAUNCH();
    return BATON_OK;
}

static __global__ void add_bias_kernel(float *y, const float *bias, int rows, int cols)
{
    size_t total = (size_t)rows * (size_t)cols;
    GRID_STRIDE(e, total) y[e] += bias[e % (size_t)cols];
}

extern "C" baton_status baton_kernel_add_bias(float *y, const float *bias, int rows, int cols, cudaStream_t stream)
{
    BATON_REQUIRE(rows >= 0 && cols >= 0, "baton_kernel_add_bias: rows %d, cols %d, expected >= 0", rows, cols);
    if (rows == 0 || cols == 0)
        return BATON_OK;
    BATON_REQUIRE(y && bias, "baton_kernel_add_bias: NULL pointer (y %p, bias %p)", (void *)y, (const void *)bias);
    BATON_LAUNCH(elem_blocks((size_t)rows * cols), BATON_ELEM_THREADS, 0, stream, add_bias_kernel)(y, bias, rows, cols);
    BATON_CUDA_CHECK_LAUNCH();
    return BATON_OK;
}

static __global__ void tanh_forward_kernel(float *y, const float *x, size_t n)
{
    GRID_STRIDE(i, n) y[i] = baton_tanh(x[i]);
}

extern "C" baton_status baton_kernel_tanh_forward(float *y, const float *x, size_t n, cudaStream_t stream)
{
    if (n == 0)
        return BATON_OK;
    BATON_REQUIRE(y && x, "baton_kernel_tanh_forward: NULL pointer (y %p, x %p)", (void *)y, (const void *)x);
    BATON_LAUNCH(elem_blocks(n), BATON_ELEM_THREADS, 0, stream, tanh_forward_kernel)(y, x, n);
    BATON_CUDA_CHECK_LAUNCH();
    return BATON_OK;
}

static __global__ void tanh_backward_kernel(float *dx, const float *dy, const float *y, size_t n)
{
    GRID_STRIDE(i, n) dx[i] = baton_tanh_grad(dy[i], y[i]);
}

extern "C" baton_status baton_kernel_tanh_backward(float *dx, const float *dy, const float *y, size_t n,
                                                   cudaStream_t stream)
{
    if (n == 0)
        return BATON_OK;
    BATON_REQUIRE(dx && dy && y, "baton_kernel_tanh_backward: NULL pointer (dx %p, dy %p, y %p)", (void *)dx,
                  (const void *)dy, (const void *)y);
    BATON_LAUNCH(elem_blocks(n), BATON_ELEM_THREADS, 0, stream, tanh_backward_kernel)(dx, dy, y, n);
    BATON_CUDA_CHECK_LAUNCH();
    return BATON_OK;
}

static __global__ void colsum_add_kernel(float *out, float *out2, const float *in, int rows, int cols)
{
    GRID_STRIDE(j, (size_t)cols) {
        double acc = 0.0;
        for (int i = 0; i < rows; i++)
            acc += (double)in[(size_t)i * (size_t)cols + j];
        float sum = (float)acc;
        out[j] += sum;
        if (out2)
            out2[j] += sum;
    }
}

#define COLSUM_TILE 32   /* columns per block: a warp reads 32 consecutive floats of a row */
#define COLSUM_GROUPS 32 /* row groups per block at most (a power of two: the fold halves it) */

/* Thread (x, y) of block c: rows y, y+G, ... of column 32c + x in double, then a fixed tree over y. */
static __global__ void __launch_bounds__(COLSUM_TILE *COLSUM_GROUPS)
    colsum_tiled_kernel(float *out, float *out2, const float *in, int rows, int cols)
{
    BATON_SHARED(double, part, COLSUM_TILE * COLSUM_GROUPS);
    int x = (int)threadIdx.x, y = (int)threadIdx.y, groups = (int)blockDim.y;
    size_t j = (size_t)blockIdx.x * COLSUM_TILE + (size_t)x;
    double acc = 0.0;
    if (j < (size_t)cols)
        for (int i = y; i < rows; i += groups)
            acc += (double)in[(size_t)i * (size_t)cols + j];
    part[y * COLSUM_TILE + x] = acc;
    for (int half = groups / 2; half > 0; half /= 2) {
        __syncthreads();
        if (y < half)
            part[y * COLSUM_TILE + x] += part[(y + half) * COLSUM_TILE + x];
    }
    if (y == 0 && j < (size_t)cols) { /* thread (x, 0) wrote part[x] last itself: no barrier needed */
        float sum = (float)part[x];
        out[j] += sum;
        if (out2)
            out2[j] += sum;
    }
}

/* Row groups of the tiled version: 32, or the smallest power of two >= rows when rows are fewer. */
static unsigned colsum_groups(int rows)
{
    unsigned g = 1;
    while (g < COLSUM_GROUPS && g < (unsigned)rows)
        g *= 2;
    return g;
}

extern "C" baton_status baton_kernel_colsum_add(float *out, float *out2, const float *in, int rows, int cols,
                                                int version, cudaStream_t stream)
{
    BATON_REQUIRE(rows >= 0 && cols >= 0, "baton_kernel_colsum_add: rows %d, cols %d, expected >= 0", rows, cols);
    BATON_REQUIRE(version == BATON_COLSUM_PLAIN || version == BATON_COLSUM_TILED,
                  "baton_kernel_colsum_add: version %d, expected %d (plain) or %d (tiled)", version,
                  BATON_COLSUM_PLAIN, BATON_COLSUM_TILED);
    if (cols == 0)
        return BATON_OK;
    BATON_REQUIRE(out && (in || rows == 0) && out2 != out,
                  "baton_kernel_colsum_add: pointers out %p, out2 %p, in %p; expected out and in set, out2 NULL "
                  "or another buffer", (void *)out, (void *)out2, (const void *)in);
    if (version == BATON_COLSUM_PLAIN) {
        BATON_LAUNCH(elem_blocks((size_t)cols), BATON_ELEM_THREADS, 0, stream, colsum_add_kernel)(out, out2, in, rows,
                                                                                              cols);
    } else {
        unsigned blocks = (unsigned)(((size_t)cols + COLSUM_TILE - 1) / COLSUM_TILE);
        BATON_LAUNCH(blocks, dim3(COLSUM_TILE, colsum_groups(rows)), 0, stream, colsum_tiled_kernel)(out, out2, in,
                                                                                                 rows, cols);
    }
    BATON_CUDA_CHECK_LAUNCH();
    return BATON_OK;
}

/* One warp per row: lane l scans columns l, l+32, ... keeping its first maximum, then the warp
 * keeps the larger value, or on a tie the smaller column. */
static __global__ void argmax_rows_kernel(int *idx, const float *x, int rows, int cols)
{
    const int warps = BATON_ELEM_THREADS / 32;
    int lane = threadIdx.x & 31;
    for (long long r = (long long)blockIdx.x * warps + threadIdx.x / 32; r < rows; r += (long long)gridDim.x * warps) {
        const float *row = x + (size_t)r * (size_t)cols;
        int best = lane < cols ? lane : 0;
        float bv = row[best];
        for (int j = lane + 32; j < cols; j += 32)
            if (row[j] > bv) {
                bv = row[j];
                best = j;
            }
        for (int off = 16; off > 0; off >>= 1) {
            float ov = __shfl_down_sync(0xffffffffu, bv, off);
            int ob = __shfl_down_sync(0xffffffffu, best, off);
            if (ov > bv || (ov == bv && ob < best)) {
                bv = ov;
                best = ob;
            }
        }
        if (lane == 0)
            idx[r] = best;
    }
}

extern "C" baton_status baton_kernel_argmax_rows(int *idx, const float *x, int rows, int cols, cudaStream_t stream)
{
    BATON_REQUIRE(cols >= 1 && rows >= 0, "baton_kernel_argmax_rows: rows %d, cols %d, expected rows >= 0, cols >= 1",
                  rows, cols);
    if (rows == 0)
        return BATON_OK;
    BATON_REQUIRE(idx && x, "baton_kernel_argmax_rows: NULL pointer (idx %p, x %p)", (void *)idx, (const void *)x);
    const unsigned warps = BATON_ELEM_THREADS / 32;
    unsigned blocks = (unsigned)(((size_t)rows + warps - 1) / warps);
    if (blocks > MAX_BLOCKS)
        blocks = MAX_BLOCKS;
    BATON_LAUNCH(blocks, BATON_ELEM_THREADS, 0, stream, argmax_rows_kernel)(idx, x, rows, cols);
    BATON_CUDA_CHECK_LAUNCH();
    return BATON_OK;
}
