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
#include "baton/recur.h"
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

/* ---- whole recurrences (recurrence.cu, recur.h) ---- */

/* Threads per block of the recurrence kernels. */
#define BATON_RECUR_THREADS 256

/* A recurrence's tensors as the kernels take them: recur.h's args and, in bf16 precision, the bf16 mirrors the sums read (NULL in fp32 and tf32). */
typedef struct {
    baton_recur_args a;
    int bf16;                   /* 1: W_hh, h and dg are read from the mirrors below */
    int tc;                     /* with bf16, persistent: the tensor-core kernels (--kernels recur=tensor) */
    const uint16_t *w16[2];     /* (G*Hd, Hd) mirror of dir[d].w_hh */
    uint16_t *hs16[2];          /* (T+1, B, Hd) mirror of dir[d].hs, written beside it */
    uint16_t *dgx16[2], *dgh16[2]; /* (T, B, G*Hd) mirrors of dir[d].dgx, dgh, written beside them */
} baton_kernel_recur_args;

/* A wavefront's tensors as the kernels take them (recur.h's baton_recur_wave): each layer's as
 * above, the input weights and their mirrors, the dropout between layers. Kept under the 4 KiB
 * that every CUDA version takes as kernel arguments (wavefront.cu checks). */
typedef struct {
    int L;
    baton_kernel_recur_args layer[BATON_RECUR_MAX_WAVE];
    const float *w_ih[BATON_RECUR_MAX_WAVE];
    const uint16_t *w_ih16[BATON_RECUR_MAX_WAVE]; /* bf16: mirrors of w_ih */
    float dropout;
    uint32_t purpose;
    uint64_t seed;
    const uint32_t *counter;
} baton_kernel_wave_args;

/* Sets *units, the units of Hd each block owns when version v runs a layer of (cell, Hd, dirs) on
 * the current device (dirs: the directions run at once; for the wavefront, its layers) (tc:
 * persistent's tensor-core kernels); or *units = 0 and why (why_len bytes)
 * the limit it exceeds, where the persistent kernel's blocks cannot all be resident with their
 * slabs of W_hh in shared memory. */
baton_status baton_kernel_recur_plan(int *units, char *why, size_t why_len, baton_recur_version v, baton_cell cell,
                                     int Hd, int dirs, int bf16, int tc);

/* Enqueues the forward recurrence (T launches, or one cooperative launch for persistent). */
baton_status baton_kernel_recur_forward(baton_recur_version v, const baton_kernel_recur_args *k, cudaStream_t stream);

/* Enqueues the backward recurrence (T+1 launches, or one cooperative launch for persistent). */
baton_status baton_kernel_recur_backward(baton_recur_version v, const baton_kernel_recur_args *k, cudaStream_t stream);

/* Enqueues a wavefront's forward (T+L-1 launches) or backward (T+L launches), wavefront.cu. */
baton_status baton_kernel_recur_wave_forward(const baton_kernel_wave_args *k, cudaStream_t stream);
baton_status baton_kernel_recur_wave_backward(const baton_kernel_wave_args *k, cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
