/* lstm_cell.cu: one time step of one direction of an LSTM layer, forward and backward.
 *
 * Computes, for every row b < B and unit j < Hd, what baton_lstm_fwd_at / baton_lstm_bwd_at of
 * include/baton/cell_math.h compute: the gate nonlinearities on top of the two GEMM results
 * (xg = x W_ih^T, hg = h_prev W_hh^T) plus both biases, the new (h, c), the output y and the saved
 * activations; backward, the gate gradients dgx and the direct parts of dh_prev and dc_prev. The
 * kernels contain no math of their own: the CPU backend runs the very same functions, so the CPU
 * tests of cell_math.h cover the formulas and the GPU test only has to cover the indexing.
 *
 * Memory layout (row-major, cell_math.h is the contract): xg, hg, dgx (B, 4*Hd) with gate q of
 * row b at [b*4*Hd + q*Hd + j], gates i, f, g, o; save (B, 4*Hd) in the same blocking; h, c,
 * h_prev, c_prev, dh, dc, dh_prev, dc_prev (B, Hd); y, dy (B, ldy); lengths (B) int.
 *
 * Launch shape: a 1-D grid over the B*Hd elements, BATON_CELL_THREADS (256) threads per block,
 * element e -> (b = e / Hd, j = e % Hd). Consecutive threads take consecutive j, so a warp reads
 * each gate block, h and c as contiguous runs (coalesced). 1-D rather than a 2-D (j, b) grid
 * because Hd is often not a multiple of 32 (odd sizes, H/2 per direction): a 2-D block would
 * leave lanes idle at the end of every row, while the 1-D grid wastes at most the tail of the
 * last block. The args struct goes by value as a kernel parameter (constant bank); after inlining
 * the compiler reads its fields from there (ptxas -v reports no stack frame).
 *
 * Versions:
 *   v1 plain: one thread per (b,j) element.
 *
 * Status: compiled for sm_80 and sm_90, never yet run on a GPU; validated only by
 * tests/gpu/test_cells_gpu.c on a GPU, against the CPU loop over the same functions. */
#include <limits.h>
#include <stddef.h>

#include "baton/cell_math.h"
#include "baton/cuda_check.h"
#include "kernels/kernels.h"

static __global__ void __launch_bounds__(BATON_CELL_THREADS) lstm_forward_kernel(baton_cell_fwd_args a)
{
    long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= (long long)a.B * a.Hd)
        return;
    int b = (int)e / a.Hd; /* e < B*Hd fits in int: baton_kernel_cell_blocks checked it */
    baton_lstm_fwd_at(&a, b, (int)e - b * a.Hd);
}

static __global__ void __launch_bounds__(BATON_CELL_THREADS) lstm_backward_kernel(baton_cell_bwd_args a)
{
    long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= (long long)a.B * a.Hd)
        return;
    int b = (int)e / a.Hd;
    baton_lstm_bwd_at(&a, b, (int)e - b * a.Hd);
}

/* A NULL that the math would dereference becomes an illegal-address fault, which poisons the
 * whole CUDA context; catching it here gives a message that names the field instead. */
#define NEED(field)                                                                              \
    BATON_REQUIRE(a->field != NULL, "%s: args->" #field " is NULL; an LSTM step needs it", who)

extern "C" baton_status baton_kernel_lstm_forward(const baton_cell_fwd_args *a, cudaStream_t stream)
{
    const char *who = "baton_kernel_lstm_forward";
    BATON_REQUIRE(a != NULL, "%s: args is NULL", who);
    unsigned blocks;
    BATON_TRY(baton_kernel_cell_blocks(&blocks, BATON_CELL_LSTM, a->B, a->Hd, who));
    if (blocks == 0)
        return BATON_OK;
    NEED(lengths);
    NEED(xg);
    NEED(hg);
    NEED(b_ih);
    NEED(b_hh);
    NEED(h_prev);
    NEED(c_prev);
    NEED(h);
    NEED(c);
    NEED(save);
    NEED(y);
    BATON_REQUIRE((a->ldy >= a->Hd && (long long)a->B * a->ldy <= INT_MAX),
                  "%s: ldy = %d with B = %d, expected Hd = %d <= ldy and B*ldy <= INT_MAX", who, a->ldy, a->B,
                  a->Hd);
    lstm_forward_kernel<<<blocks, BATON_CELL_THREADS, 0, stream>>>(*a);
    BATON_CUDA_CHECK_LAUNCH();
    return BATON_OK;
}

extern "C" baton_status baton_kernel_lstm_backward(const baton_cell_bwd_args *a, cudaStream_t stream)
{
    const char *who = "baton_kernel_lstm_backward";
    BATON_REQUIRE(a != NULL, "%s: args is NULL", who);
    unsigned blocks;
    BATON_TRY(baton_kernel_cell_blocks(&blocks, BATON_CELL_LSTM, a->B, a->Hd, who));
    if (blocks == 0)
        return BATON_OK;
    NEED(lengths);
    NEED(dh);
    NEED(dc);
    NEED(save);
    NEED(c_prev);
    NEED(c);
    NEED(dgx);
    NEED(dh_prev);
    NEED(dc_prev);
    NEED(dy);
    BATON_REQUIRE((a->ldy >= a->Hd && (long long)a->B * a->ldy <= INT_MAX),
                  "%s: ldy = %d with B = %d, expected Hd = %d <= ldy and B*ldy <= INT_MAX", who, a->ldy, a->B,
                  a->Hd);
    lstm_backward_kernel<<<blocks, BATON_CELL_THREADS, 0, stream>>>(*a);
    BATON_CUDA_CHECK_LAUNCH();
    return BATON_OK;
}

#undef NEED
