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
 * Launch shape and argument checks: kernels/cell_launch.cuh.
 *
 * Versions:
 *   v1 plain: one thread per (b,j) element.
 *
 * Status: compiled for sm_80 and sm_90, never yet run on a GPU; validated only by
 * tests/gpu/test_cells_gpu.c on a GPU, against the CPU loop over the same functions. */
#include "kernels/cell_launch.cuh"

extern "C" baton_status baton_kernel_lstm_forward(const baton_cell_fwd_args *a, cudaStream_t stream)
{
    return baton_cell_launch<baton_cell_fwd_args, baton_lstm_fwd_at>(BATON_CELL_LSTM, a, stream,
                                                              "baton_kernel_lstm_forward");
}

extern "C" baton_status baton_kernel_lstm_backward(const baton_cell_bwd_args *a, cudaStream_t stream)
{
    return baton_cell_launch<baton_cell_bwd_args, baton_lstm_bwd_at>(BATON_CELL_LSTM, a, stream,
                                                              "baton_kernel_lstm_backward");
}
