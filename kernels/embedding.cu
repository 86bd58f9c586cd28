/* embedding.cu: the embedding lookup and its gradient.
 *
 * embed_gather: out[i, :] = table[ids[i], :] for n ids; out (n, dim), table (V, dim), row-major,
 * ids int32 in [0, V) (the launcher cannot check them: V is not an argument of the op). A 1-D
 * grid-stride loop over the n*dim outputs, element e -> (i = e / dim, j = e % dim): consecutive
 * threads copy consecutive columns of one row (coalesced).
 *
 * embed_scatter_add: dtable[ids[i], :] += dout[i, :], deterministically, with no atomics. One
 * thread per (i, j) of a 2-D grid (x over the columns j, y over the ids i). The thread first checks
 * whether i is the FIRST occurrence of ids[i] (a scan of ids[0..i)); if not it exits. If so it
 * owns element (ids[i], j) alone, loads it, adds dout[k, j] for every k >= i with ids[k] == ids[i]
 * in increasing k, and stores it. That is the CPU's order (src/cpu/cpu_ops.c adds rows in index
 * order in float), so results are bit-identical to the CPU's and the same on every run.
 * Complexity: O(n^2 dim) comparisons in the worst case (each thread scans all n ids), which is
 * fine for the batches of this project (n = B*T of a few thousand) but not for large n; the faster
 * design to come is a stable sort of (id, position) pairs followed by a segmented sum per distinct
 * id, with the same order and so the same bits. All lanes of a warp share i (x is the column), so
 * the id scans are broadcast reads.
 *
 * Versions:
 *   v1 plain gather; first-occurrence O(n^2) scatter-add.
 *
 * Status: compiled for sm_80 and sm_90, never yet run on a GPU; validated only by
 * tests/gpu/test_misc_gpu.c on a GPU, against the CPU backend. */
#include "baton/cuda_check.h"
#include "kernels/misc_launch.h"

#define MAX_BLOCKS 65535u
#define SCATTER_X 32 /* threads along the columns */
#define SCATTER_Y 8  /* threads along the ids */

static __global__ void gather_kernel(float *out, const int *ids, const float *table, int n, int dim)
{
    size_t total = (size_t)n * (size_t)dim;
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x) {
        size_t i = e / (size_t)dim, j = e - i * (size_t)dim;
        out[e] = table[(size_t)ids[i] * (size_t)dim + j];
    }
}

extern "C" baton_status baton_kernel_embed_gather(float *out, const int *ids, const float *table, int n, int dim,
                                                  cudaStream_t stream)
{
    BATON_REQUIRE(n >= 0 && dim >= 0, "baton_kernel_embed_gather: n %d, dim %d, expected >= 0", n, dim);
    if (n == 0 || dim == 0)
        return BATON_OK;
    BATON_REQUIRE(out && ids && table, "baton_kernel_embed_gather: NULL pointer (out %p, ids %p, table %p)",
                  (void *)out, (const void *)ids, (const void *)table);
    size_t b = ((size_t)n * dim + BATON_ELEM_THREADS - 1) / BATON_ELEM_THREADS;
    gather_kernel<<<b > MAX_BLOCKS ? MAX_BLOCKS : (unsigned)b, BATON_ELEM_THREADS, 0, stream>>>(out, ids, table, n,
                                                                                                dim);
    BATON_CUDA_CHECK_LAUNCH();
    return BATON_OK;
}

static __global__ void __launch_bounds__(SCATTER_X *SCATTER_Y)
    scatter_add_kernel(float *dtable, const int *ids, const float *dout, int n, int dim)
{
    for (int i = blockIdx.y * SCATTER_Y + threadIdx.y; i < n; i += gridDim.y * SCATTER_Y) {
        int id = ids[i];
        int first = 1;
        for (int k = 0; k < i && first; k++)
            first = ids[k] != id;
        if (!first)
            continue;
        for (int j = blockIdx.x * SCATTER_X + threadIdx.x; j < dim; j += gridDim.x * SCATTER_X) {
            float *dst = dtable + (size_t)id * (size_t)dim + j;
            float acc = *dst;
            for (int k = i; k < n; k++)
                if (ids[k] == id)
                    acc += dout[(size_t)k * (size_t)dim + j];
            *dst = acc;
        }
    }
}

extern "C" baton_status baton_kernel_embed_scatter_add(float *dtable, const int *ids, const float *dout, int n,
                                                       int dim, cudaStream_t stream)
{
    BATON_REQUIRE(n >= 0 && dim >= 0, "baton_kernel_embed_scatter_add: n %d, dim %d, expected >= 0", n, dim);
    if (n == 0 || dim == 0)
        return BATON_OK;
    BATON_REQUIRE(dtable && ids && dout, "baton_kernel_embed_scatter_add: NULL pointer (dtable %p, ids %p, dout %p)",
                  (void *)dtable, (const void *)ids, (const void *)dout);
    unsigned gx = (unsigned)((dim + SCATTER_X - 1) / SCATTER_X), gy = (unsigned)((n + SCATTER_Y - 1) / SCATTER_Y);
    dim3 grid(gx > MAX_BLOCKS ? MAX_BLOCKS : gx, gy > MAX_BLOCKS ? MAX_BLOCKS : gy);
    scatter_add_kernel<<<grid, dim3(SCATTER_X, SCATTER_Y), 0, stream>>>(dtable, ids, dout, n, dim);
    BATON_CUDA_CHECK_LAUNCH();
    return BATON_OK;
}
