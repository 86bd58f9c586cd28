/* embedding.cu: the embedding lookup and its gradient.
 *
 * embed_gather: out[i, :] = table[ids[i], :] for n ids; out (n, dim), table (V, dim), row-major,
 * ids int32 in [0, V) (the launcher cannot check them: V is not an argument of the op). A 1-D
 * grid-stride loop over the n*dim outputs, element e -> (i = e / dim, j = e % dim): consecutive
 * threads copy consecutive columns of one row (coalesced).
 *
 * embed_scatter_add: dtable[ids[i], :] += dout[i, :], deterministically, with no float atomics.
 * Every version sums each element in index order (i increasing), which is the CPU's order
 * (src/cpu/cpu_ops.c adds rows in index order in float), so results are bit-identical to the
 * CPU's and the same on every run.
 *
 * Versions (benchmarks and tests select them by launcher name):
 *   v1 "first occurrence", baton_kernel_embed_scatter_add_v1: one thread per (i, j) of a 2-D grid
 *      (x over the columns j, y over the ids i). A thread first checks whether i is the FIRST
 *      occurrence of ids[i] (a scan of ids[0..i)); if so it owns element (ids[i], j) alone and adds
 *      dout[k, j] for every later k with ids[k] == ids[i]. No scratch memory, but O(n^2 dim)
 *      comparisons in the worst case. Kept as the plain reference for v2.
 *   v2 "sorted segments", baton_kernel_embed_scatter_add_sorted (the backend's op): a stable radix
 *      sort (CUB) of (id, position) pairs makes each id's positions one contiguous run in
 *      increasing order; one thread per (run, column) then sums its run. O(n log n + n dim) work;
 *      needs scratch (baton_kernel_embed_scatter_scratch_bytes). A very frequent id (padding)
 *      makes one long run: that thread's serial loop bounds the kernel, still O(n).
 *   Gather: v1 plain.
 *
 * Status: compiled for sm_80 and sm_90, never yet run on a GPU; validated only by
 * tests/gpu/test_misc_gpu.c on a GPU, against the CPU backend. */
#include "kernels/device.cuh"
#include <cub/device/device_radix_sort.cuh>

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
    BATON_LAUNCH(b > MAX_BLOCKS ? MAX_BLOCKS : (unsigned)b, BATON_ELEM_THREADS, 0, stream, gather_kernel)(out, ids, table, n,
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

extern "C" baton_status baton_kernel_embed_scatter_add_v1(float *dtable, const int *ids, const float *dout, int n,
                                                       int dim, cudaStream_t stream)
{
    BATON_REQUIRE(n >= 0 && dim >= 0, "baton_kernel_embed_scatter_add_v1: n %d, dim %d, expected >= 0", n, dim);
    if (n == 0 || dim == 0)
        return BATON_OK;
    BATON_REQUIRE(dtable && ids && dout, "baton_kernel_embed_scatter_add_v1: NULL pointer (dtable %p, ids %p, dout %p)",
                  (void *)dtable, (const void *)ids, (const void *)dout);
    unsigned gx = (unsigned)((dim + SCATTER_X - 1) / SCATTER_X), gy = (unsigned)((n + SCATTER_Y - 1) / SCATTER_Y);
    dim3 grid(gx > MAX_BLOCKS ? MAX_BLOCKS : gx, gy > MAX_BLOCKS ? MAX_BLOCKS : gy);
    BATON_LAUNCH(grid, dim3(SCATTER_X, SCATTER_Y), 0, stream, scatter_add_kernel)(dtable, ids, dout, n, dim);
    BATON_CUDA_CHECK_LAUNCH();
    return BATON_OK;
}

/* ---- v2: sorted segments ---- */

#define ALIGN_UP(x) (((x) + 255u) & ~(size_t)255u)

static __global__ void iota_kernel(int *out, int n)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
        out[i] = i;
}

/* Thread (run start r, column j): r starts a run of equal sorted ids; sums dout rows pos[r..end) in
 * that (increasing) order onto dtable[id, j]. */
static __global__ void __launch_bounds__(SCATTER_X *SCATTER_Y)
    segment_sum_kernel(float *dtable, const int *keys, const int *pos, const float *dout, int n, int dim)
{
    for (int r = blockIdx.y * SCATTER_Y + threadIdx.y; r < n; r += gridDim.y * SCATTER_Y) {
        int id = keys[r];
        if (r > 0 && keys[r - 1] == id)
            continue;
        for (int j = blockIdx.x * SCATTER_X + threadIdx.x; j < dim; j += gridDim.x * SCATTER_X) {
            float *dst = dtable + (size_t)id * (size_t)dim + j;
            float acc = *dst;
            for (int k = r; k < n && keys[k] == id; k++)
                acc += dout[(size_t)pos[k] * (size_t)dim + j];
            *dst = acc;
        }
    }
}

/* CUB's temporary bytes for n pairs, or 0 with *err set. */
static size_t cub_bytes(int n, cudaError_t *err)
{
    size_t bytes = 0;
    *err = cub::DeviceRadixSort::SortPairs(NULL, bytes, (const int *)NULL, (int *)NULL, (const int *)NULL,
                                           (int *)NULL, n);
    return bytes;
}

extern "C" baton_status baton_kernel_embed_scatter_scratch_bytes(size_t *bytes, int n)
{
    BATON_REQUIRE(n >= 0, "baton_kernel_embed_scatter_scratch_bytes: n %d, expected >= 0", n);
    cudaError_t err;
    size_t cub = cub_bytes(n > 0 ? n : 1, &err);
    BATON_CUDA_CHECK(err);
    *bytes = 3 * ALIGN_UP((size_t)(n > 0 ? n : 1) * sizeof(int)) + ALIGN_UP(cub);
    return BATON_OK;
}

extern "C" baton_status baton_kernel_embed_scatter_add_sorted(float *dtable, const int *ids, const float *dout, int n,
                                                             int dim, void *scratch, size_t scratch_bytes,
                                                             cudaStream_t stream)
{
    BATON_REQUIRE(n >= 0 && dim >= 0, "baton_kernel_embed_scatter_add_sorted: n %d, dim %d, expected >= 0", n, dim);
    if (n == 0 || dim == 0)
        return BATON_OK;
    BATON_REQUIRE(dtable && ids && dout && scratch,
                  "baton_kernel_embed_scatter_add_sorted: NULL pointer (dtable %p, ids %p, dout %p, scratch %p)",
                  (void *)dtable, (const void *)ids, (const void *)dout, scratch);
    size_t need = 0;
    BATON_TRY(baton_kernel_embed_scatter_scratch_bytes(&need, n));
    BATON_REQUIRE(scratch_bytes >= need, "baton_kernel_embed_scatter_add_sorted: scratch of %zu bytes, n=%d needs %zu",
                  scratch_bytes, n, need);
    size_t slot = ALIGN_UP((size_t)n * sizeof(int));
    char *base = (char *)scratch;
    int *keys = (int *)base, *pos_in = (int *)(base + slot), *pos = (int *)(base + 2 * slot);
    void *cub_tmp = base + 3 * slot;
    size_t cub_tmp_bytes = need - 3 * slot;
    unsigned b = (unsigned)((n + BATON_ELEM_THREADS - 1) / BATON_ELEM_THREADS);
    BATON_LAUNCH(b > MAX_BLOCKS ? MAX_BLOCKS : b, BATON_ELEM_THREADS, 0, stream, iota_kernel)(pos_in, n);
    BATON_CUDA_CHECK_LAUNCH();
    /* LSD radix sort is stable: equal ids keep their positions in increasing order */
    BATON_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(cub_tmp, cub_tmp_bytes, ids, keys, pos_in, pos, n, 0,
                                                     (int)(8 * sizeof(int)), stream));
    unsigned gx = (unsigned)((dim + SCATTER_X - 1) / SCATTER_X), gy = (unsigned)((n + SCATTER_Y - 1) / SCATTER_Y);
    dim3 grid(gx > MAX_BLOCKS ? MAX_BLOCKS : gx, gy > MAX_BLOCKS ? MAX_BLOCKS : gy);
    BATON_LAUNCH(grid, dim3(SCATTER_X, SCATTER_Y), 0, stream, segment_sum_kernel)(dtable, keys, pos, dout, n, dim);
    BATON_CUDA_CHECK_LAUNCH();
    return BATON_OK;
}
