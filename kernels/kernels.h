/* kernels.h: the C-callable launchers of the CUDA kernels in the .cu files of kernels/.
 *
 * Host C code (src/cuda/) includes this header with a plain C compiler; the .cu files define the
 * functions with C linkage. Every launcher checks its arguments, enqueues its kernel(s) on
 * `stream` and checks the launch; it does not synchronise, so a fault inside a kernel surfaces at
 * the caller's next synchronising call. All pointers inside the argument structs are device
 * pointers. Launchers return BATON_OK, BATON_ERR_INVALID (bad arguments, message on stderr) or
 * BATON_ERR_CUDA (the launch failed). */
#ifndef BATON_KERNELS_H
#define BATON_KERNELS_H

/* Only cudaStream_t is needed; cuda_runtime_api.h is the runtime's plain C header. */
#include <cuda_runtime_api.h>

#include "baton/cell_math.h"
#include "baton/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Threads per block of the recurrent cell kernels (one thread per (b, j) element). */
#define BATON_CELL_THREADS 256

/* ---- recurrent cells: one time step of one direction, as cell_math.h defines it ---- */

/* Sets *blocks to the grid size that covers B*Hd elements with BATON_CELL_THREADS threads each
 * (0 when B or Hd is 0); BATON_ERR_INVALID, naming `who`, for negative sizes or for shapes whose
 * (B, max(G,S)*Hd) row indices overflow int. */
baton_status baton_kernel_cell_blocks(unsigned *blocks, baton_cell cell, int B, int Hd, const char *who);

/* tanh RNN forward step: h (and y) from xg, hg, biases, h_prev. */
baton_status baton_kernel_rnn_tanh_forward(const baton_cell_fwd_args *a, cudaStream_t stream);

/* tanh RNN backward step: dgx and the direct dh_prev from dh, dy, h. */
baton_status baton_kernel_rnn_tanh_backward(const baton_cell_bwd_args *a, cudaStream_t stream);

/* LSTM forward step: h, c (and y, save) from xg, hg, biases, h_prev, c_prev. */
baton_status baton_kernel_lstm_forward(const baton_cell_fwd_args *a, cudaStream_t stream);

/* LSTM backward step: dgx, dc_prev and the direct dh_prev from dh, dc, dy, save, c, c_prev. */
baton_status baton_kernel_lstm_backward(const baton_cell_bwd_args *a, cudaStream_t stream);

/* GRU forward step: h (and y, save) from xg, hg, biases, h_prev. */
baton_status baton_kernel_gru_forward(const baton_cell_fwd_args *a, cudaStream_t stream);

/* GRU backward step: dgx, dgh and the direct dh_prev from dh, dy, save, h_prev. */
baton_status baton_kernel_gru_backward(const baton_cell_bwd_args *a, cudaStream_t stream);

/* Forward step of `cell`: calls the launcher above for that cell type. */
baton_status baton_kernel_cell_forward(baton_cell cell, const baton_cell_fwd_args *a, cudaStream_t stream);

/* Backward step of `cell`: calls the launcher above for that cell type. */
baton_status baton_kernel_cell_backward(baton_cell cell, const baton_cell_bwd_args *a, cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
