/* cell_launch.cuh: the kernel and launcher shape that every recurrent-cell family shares.
 *
 * A cell kernel is one thread per (b, j) element calling the cell's `_at` function of
 * include/baton/cell_math.h; the family files (lstm_cell.cu, gru_cell.cu, rnn_tanh_cell.cu)
 * instantiate these templates with their functions and add no math of their own.
 *
 * Launch shape: a 1-D grid over the B*Hd elements, BATON_CELL_THREADS (256) threads per block,
 * element e -> (b = e / Hd, j = e % Hd). Consecutive threads take consecutive j, so a warp reads
 * each gate block, h and c as contiguous runs (coalesced). 1-D rather than a 2-D (j, b) grid
 * because Hd is often not a multiple of 32 (odd sizes, H/2 per direction): a 2-D block would
 * leave lanes idle at the end of every row, while the 1-D grid wastes at most the tail of the
 * last block. The args struct goes by value as a kernel parameter (constant bank); after inlining
 * the compiler reads its fields from there (ptxas -v reports no stack frame). */
#ifndef BATON_CELL_LAUNCH_CUH
#define BATON_CELL_LAUNCH_CUH

#include "baton/cell_math.h"
#include "baton/cuda_check.h"
#include "kernels/device.cuh"
#include "kernels/kernels.h"

/* Checks that every pointer one step of `cell` reads or writes is set and that ldy fits: a NULL the
 * math dereferenced would be an illegal-address fault that poisons the whole CUDA context, while
 * this names the field. Defined in cell_dispatch.cu. */
baton_status baton_kernel_cell_check(baton_cell cell, const baton_cell_fwd_args *a, const char *who);
baton_status baton_kernel_cell_check(baton_cell cell, const baton_cell_bwd_args *a, const char *who);

template <typename Args, void (*At)(const Args *, int, int)>
static __global__ void __launch_bounds__(BATON_CELL_THREADS) baton_cell_kernel(Args a)
{
    long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= (long long)a.B * a.Hd)
        return;
    int b = (int)e / a.Hd; /* e < B*Hd fits in int: baton_kernel_cell_blocks checked it */
    At(&a, b, (int)e - b * a.Hd);
}

/* Checks the arguments of one step of `cell` and launches its kernel on `stream`. */
template <typename Args, void (*At)(const Args *, int, int)>
static baton_status baton_cell_launch(baton_cell cell, const Args *a, cudaStream_t stream, const char *who)
{
    BATON_REQUIRE(a != NULL, "%s: args is NULL", who);
    unsigned blocks;
    BATON_TRY(baton_kernel_cell_blocks(&blocks, cell, a->B, a->Hd, who));
    if (blocks == 0)
        return BATON_OK;
    BATON_TRY(baton_kernel_cell_check(cell, a, who));
    BATON_LAUNCH(blocks, BATON_CELL_THREADS, 0, stream, baton_cell_kernel<Args, At>)(*a);
    BATON_CUDA_CHECK_LAUNCH();
    return BATON_OK;
}

#endif
