/* gru_cell.cu: one time step of one direction of a GRU layer (PyTorch's), forward and backward.
 *
 * Computes, for every row b < B and unit j < Hd, what baton_gru_fwd_at / baton_gru_bwd_at of
 * include/baton/cell_math.h compute: r, z, n on top of the two GEMM results (xg = x W_ih^T,
 * hg = h_prev W_hh^T) plus both biases, with n = tanh(xg_n + b_in + r (hg_n + b_hn)), the new h,
 * the output y and the saved activations; backward, the gate gradients of both sides (dgx, and
 * dgh, which differs in the n block by the factor r) and the direct part of dh_prev. The
 * kernels contain no math of their own: the CPU backend runs the very same functions, so the CPU
 * tests of cell_math.h cover the formulas and the GPU test only has to cover the indexing.
 *
 * Memory layout (row-major, cell_math.h is the contract): xg, hg, dgx, dgh (B, 3*Hd) with gate
 * q of row b at [b*3*Hd + q*Hd + j], gates r, z, n; save (B, 4*Hd) holding r, z, n and
 * hg_n + b_hn in that blocking; h, h_prev, dh, dh_prev (B, Hd); y, dy (B, ldy); lengths (B) int.
 *
 * Launch shape and argument checks: kernels/cell_launch.cuh.
 *
 * Versions:
 *   v1 plain: one thread per (b,j) element.
 *
 * Status: compiled for sm_80 and sm_90, never yet run on a GPU; validated only by
 * tests/gpu/test_cells_gpu.c on a GPU, against the CPU loop over the same functions. */
#include "kernels/cell_launch.cuh"

extern "C" baton_status baton_kernel_gru_forward(const baton_cell_fwd_args *a, cudaStream_t stream)
{
    return baton_cell_launch<baton_cell_fwd_args, baton_gru_fwd_at>(BATON_CELL_GRU, a, stream,
                                                              "baton_kernel_gru_forward");
}

extern "C" baton_status baton_kernel_gru_backward(const baton_cell_bwd_args *a, cudaStream_t stream)
{
    return baton_cell_launch<baton_cell_bwd_args, baton_gru_bwd_at>(BATON_CELL_GRU, a, stream,
                                                              "baton_kernel_gru_backward");
}
