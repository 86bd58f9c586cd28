/* rnn_tanh_cell.cu: one time step of one direction of a tanh RNN layer, forward and backward.
 *
 * Computes, for every row b < B and unit j < Hd, what baton_rnn_tanh_fwd_at and
 * baton_rnn_tanh_bwd_at of include/baton/cell_math.h compute: h = tanh(xg + b_ih + hg + b_hh) on
 * top of the two GEMM results (xg = x W_ih^T, hg = h_prev W_hh^T) and the output y; backward, the
 * pre-activation gradient dgx = dh_total (1 - h^2) and the direct part of dh_prev (nothing is
 * saved: backward reads h itself). The kernels contain no math of their own: the CPU backend runs
 * the very same functions, so the CPU tests of cell_math.h cover the formulas and the GPU test
 * only has to cover the indexing.
 *
 * Memory layout (row-major, cell_math.h is the contract): xg, hg, dgx (B, Hd), one gate block;
 * h, h_prev, dh, dh_prev (B, Hd); y, dy (B, ldy); lengths (B) int. save and dgh are not used.
 *
 * Launch shape and argument checks: kernels/cell_launch.cuh.
 *
 * Versions:
 *   v1 plain: one thread per (b,j) element.
 *
 * Status: compiled for sm_80 and sm_90, never yet run on a GPU; validated only by
 * tests/gpu/test_cells_gpu.c on a GPU, against the CPU loop over the same functions. */
#include "kernels/cell_launch.cuh"

extern "C" baton_status baton_kernel_rnn_tanh_forward(const baton_cell_fwd_args *a, cudaStream_t stream)
{
    return baton_cell_launch<baton_cell_fwd_args, baton_rnn_tanh_fwd_at>(BATON_CELL_RNN_TANH, a, stream,
                                                              "baton_kernel_rnn_tanh_forward");
}

extern "C" baton_status baton_kernel_rnn_tanh_backward(const baton_cell_bwd_args *a, cudaStream_t stream)
{
    return baton_cell_launch<baton_cell_bwd_args, baton_rnn_tanh_bwd_at>(BATON_CELL_RNN_TANH, a, stream,
                                                              "baton_kernel_rnn_tanh_backward");
}
