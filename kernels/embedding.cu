/* embedding.cu: the embedding lookup and its gradient.
 *
 * embed_gather: out[i, :] = table[ids[i], :] for n ids; out (n, dim), table (V, dim), row-major,
 * ids int32 in [0, V) (the launcher cannot check them: V is not an argument of the op). A 1-D
 * grid-stride loop over the n*dim outputs, element e -> (i = e / dim, j = e % dim): consecutive
 * threads copy consecutive columns of one row (coalesced).
 *
 * embed_scatter_add: dtable[ids[i], :] += dout[i, :], deterministically, with no float atomics.
 * v1 and v2 "plain" sum each element in index order (i increasing), which is the CPU's order
 * (src/cpu/cpu_ops.c adds rows in index order in float), so their results are bit-identical to
 * the CPU's; every version gives the same bits on every run.
 *
 * Versions (tests select them by launcher name and version argument; the backend runs v2 with
 * baton_versions.embed):
 *   v1 "first occurrence", baton_kernel_embed_scatter_add_v1: one thread per (i, j) of a 2-D grid
 *      (x over the columns j, y over the ids i). A thread first checks whether i is the FIRST
 *      occurrence of ids[i] (a scan of ids[0..i)); if so it owns element (ids[i], j) alone and adds
 *      dout[k, j] for every later k with ids[k] == ids[i]. No scratch memory, but O(n^2 dim)
 *      comparisons in the worst case. Kept as the plain reference for v2.
 *   v2 baton_kernel_embed_scatter_add_sorted: a stable radix sort (CUB) of (id, position) pairs
 *      makes each id's positions one contiguous run in increasing order; then
 *      "plain" (BATON_EMBED_PLAIN, --kernels embed=plain): one thread per (run, column) sums its
 *        run serially. O(n log n + n dim) work. Launches: iota, the sort, the run sums. A very
 *        frequent id (padding id 0 of padded batches: thousands of rows) makes one long run whose
 *        thread's serial loop bounds the kernel: gnmt (B 128, T 50, E 1024) with 2,000 pads, 2,000
 *        dependent loads in each of that run's 1,024 threads.
 *      "split" (BATON_EMBED_SPLIT, the default): runs of at most SPLIT_LONG = 128 ids as plain
 *        (a launch that skips the long ones), then one launch for the long runs: the sorted array
 *        is cut into windows of 128 positions; a run longer than 128 starts in at most one window,
 *        so block (window w, column tile c) looks for a long-run start in w and, where it finds
 *        one, sums that run for 32 columns with 32 row groups: thread (x, y) takes the run's
 *        positions y, y+32, y+64, ... in order in float, and a fixed shared-memory tree
 *        (16, 8, ..., 1) folds the 32 parts onto dtable. No scratch beyond the sort's: a
 *        cross-block split would need (n/chunk) x dim floats, and embed_reserve is told only n.
 *        Launches: iota, the sort, short runs, long runs (one more than plain); the long-run
 *        launch has ceil(n/128) x ceil(dim/32) blocks of 1,024 threads, most of which find no
 *        start and exit after scanning their window (a few keys a thread). gnmt (n = B*T = 6400,
 *        E = 1024): 50 x 32 blocks; a 2,000-id run's chain is 63 loads instead of 2,000, below
 *        the 128 of the longest short run. The fixed partition
 *        gives the same bits on every run; long runs' sums differ from the CPU's sequential float
 *        sum by rounding (both within (len + 1) float ulps of the exact sum), short runs are the
 *        CPU's bits.
 *   Gather: v1 plain.
 *
 * Status: compiled for sm_80 and sm_90, never yet run on a GPU; validated only by
 * tests/gpu/test_misc_gpu.c (on the CUDA emulation), against the CPU backend. */
#include "kernels/device.cuh"
#include <cub/device/device_radix_sort.cuh>

#include "baton/cuda_check.h"
#include "kernels/misc_launch.h"

#define MAX_BLOCKS 65535u
#define SCATTER_X 32 /* threads along the columns */
#define SCATTER_Y 8  /* threads along the ids */
#define SPLIT_LONG BATON_EMBED_SPLIT_RUN /* split version: longer runs are split; also its window */
#define SPLIT_GROUPS 32 /* split version: row groups summing one long run (a power of two) */

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
 * that (increasing) order onto dtable[id, j]. skip_long: leave runs of more than SPLIT_LONG ids
 * (keys[r + SPLIT_LONG] is still the id: the keys are sorted) to long_run_kernel. */
static __global__ void __launch_bounds__(SCATTER_X *SCATTER_Y)
    segment_sum_kernel(float *dtable, const int *keys, const int *pos, const float *dout, int n, int dim,
                       int skip_long)
{
    for (int r = blockIdx.y * SCATTER_Y + threadIdx.y; r < n; r += gridDim.y * SCATTER_Y) {
        int id = keys[r];
        if (r > 0 && keys[r - 1] == id)
            continue;
        if (skip_long && r + SPLIT_LONG < n && keys[r + SPLIT_LONG] == id)
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

/* The start of the run of more than SPLIT_LONG ids that begins in window [w0, w0 + SPLIT_LONG),
 * or -1; the same for every thread of the block (at most one such run starts in a window). */
static __device__ int long_run_start(const int *keys, int n, int w0, int *found)
{
    int tid = (int)(threadIdx.y * blockDim.x + threadIdx.x), nt = (int)(blockDim.x * blockDim.y);
    if (tid == 0)
        *found = -1;
    __syncthreads();
    for (int r = w0 + tid; r < w0 + SPLIT_LONG && r + SPLIT_LONG < n; r += nt)
        if (keys[r + SPLIT_LONG] == keys[r] && (r == 0 || keys[r - 1] != keys[r]))
            *found = r; /* one writer at most */
    __syncthreads();
    int start = *found;
    __syncthreads(); /* read by all before the next window resets it */
    return start;
}

/* Block (column tile, window): the long run starting in the window, if any, summed for 32
 * columns: thread (x, y) adds positions r+y, r+y+32, ... of the run, then a fixed tree over y. */
static __global__ void __launch_bounds__(SCATTER_X *SPLIT_GROUPS)
    long_run_kernel(float *dtable, const int *keys, const int *pos, const float *dout, int n, int dim)
{
    BATON_SHARED(float, part, SCATTER_X * SPLIT_GROUPS);
    BATON_SHARED(int, found, 1);
    int x = (int)threadIdx.x, y = (int)threadIdx.y;
    for (long long w0 = (long long)blockIdx.y * SPLIT_LONG; w0 < n; w0 += (long long)gridDim.y * SPLIT_LONG) {
        int r = long_run_start(keys, n, (int)w0, found);
        if (r < 0)
            continue; /* the whole block agrees */
        int id = keys[r];
        for (int j0 = blockIdx.x * SCATTER_X; j0 < dim; j0 += gridDim.x * SCATTER_X) {
            int j = j0 + x;
            float acc = 0.0f;
            if (j < dim)
                for (int k = r + y; k < n && keys[k] == id; k += SPLIT_GROUPS)
                    acc += dout[(size_t)pos[k] * (size_t)dim + j];
            part[y * SCATTER_X + x] = acc;
            for (int half = SPLIT_GROUPS / 2; half > 0; half /= 2) {
                __syncthreads();
                if (y < half)
                    part[y * SCATTER_X + x] += part[(y + half) * SCATTER_X + x];
            }
            if (y == 0 && j < dim)
                dtable[(size_t)id * (size_t)dim + j] += part[x];
            __syncthreads(); /* part is refilled by the next column tile */
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
                                                             int dim, int version, void *scratch, size_t scratch_bytes,
                                                             cudaStream_t stream)
{
    BATON_REQUIRE(n >= 0 && dim >= 0, "baton_kernel_embed_scatter_add_sorted: n %d, dim %d, expected >= 0", n, dim);
    BATON_REQUIRE(version == BATON_EMBED_PLAIN || version == BATON_EMBED_SPLIT,
                  "baton_kernel_embed_scatter_add_sorted: version %d, expected %d (plain) or %d (split)", version,
                  BATON_EMBED_PLAIN, BATON_EMBED_SPLIT);
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
    gx = gx > MAX_BLOCKS ? MAX_BLOCKS : gx;
    dim3 grid(gx, gy > MAX_BLOCKS ? MAX_BLOCKS : gy);
    int split = version == BATON_EMBED_SPLIT;
    BATON_LAUNCH(grid, dim3(SCATTER_X, SCATTER_Y), 0, stream, segment_sum_kernel)(dtable, keys, pos, dout, n, dim,
                                                                                 split);
    BATON_CUDA_CHECK_LAUNCH();
    if (split && n > SPLIT_LONG) { /* else no run can be long */
        unsigned windows = (unsigned)((n + SPLIT_LONG - 1) / SPLIT_LONG);
        dim3 lgrid(gx, windows > MAX_BLOCKS ? MAX_BLOCKS : windows);
        BATON_LAUNCH(lgrid, dim3(SCATTER_X, SPLIT_GROUPS), 0, stream, long_run_kernel)(dtable, keys, pos, dout, n,
                                                                                      dim);
        BATON_CUDA_CHECK_LAUNCH();
    }
    return BATON_OK;
}
