/* recur.h: a whole recurrence on the device, the time loop of one layer for both of its directions
 * at once, as the --rnn-impl versions beyond "fused" run it (kernels/recurrence.cu,
 * docs/recurrence.md). Each step is the recurrent product h_prev W_hh^T fused with the cell of
 * cell_math.h: a thread owns one (row b, unit j) element, computes the G gate sums of that unit
 * and then runs the cell's own `_at` function on them, so the formulas are the ones the CPU tests
 * check. The input projection before and the weight gradients after stay GEMMs (src/nn/rnn.c).
 *
 * Dimension legend as rnn.h: T steps, B rows, Hd units per direction, G gate blocks, S saved blocks.
 * The state slots follow rnn.c: forward direction slot 0 = h0 and slot t+1 = the state after step
 * t; reverse direction slot T = h0 and slot t = the state after step t. */
#ifndef BATON_RECUR_H
#define BATON_RECUR_H

#include "baton/cell_math.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    BATON_RECUR_GEMM = 1,       /* "fused-gemm": one kernel per step, both directions, W_hh read through L2 */
    BATON_RECUR_PERSISTENT = 2, /* "persistent": one cooperative kernel per layer, W_hh held in shared memory */
} baton_recur_version;

/* One direction's tensors. Forward reads w_hh, biases, xg and the h0 (c0) slot, writes the other
 * slots, save and hg; backward reads dh, dc (the gradients at the final state), writes dgx (and
 * dgh) at every step and leaves in dh, dc the gradients of the initial state. */
typedef struct {
    const float *w_hh;        /* (G*Hd, Hd) */
    const float *b_ih, *b_hh; /* (G*Hd) */
    const float *xg;          /* (T, B, G*Hd) input projection x W_ih^T, without bias */
    float *hs, *cs;           /* (T+1, B, Hd) state slots; cs LSTM only, else NULL */
    float *save;              /* (T, B, S*Hd) saved gate activations; NULL for the tanh RNN */
    float *hg;                /* (B, G*Hd) scratch: one step's recurrent pre-activations */
    float *dgx, *dgh;         /* (T, B, G*Hd) gate gradients; dgh GRU only, else NULL */
    float *dh, *dc;           /* (B, Hd) carried state gradients; dc LSTM only */
} baton_recur_dir;

typedef struct {
    baton_cell cell;
    int T, B, Hd, dirs;
    int units;                /* of Hd each block owns: the backend's recur_plan at setup */
    const int *lengths;       /* (B) valid steps of each row, 1..T */
    float *y;                 /* (T, B, ldy) forward output; direction d writes columns d*Hd .. d*Hd+Hd-1 */
    const float *dy;          /* (T, B, ldy) backward: gradient of y */
    int ldy;
    baton_recur_dir dir[2];   /* [0] forward in time, [1] reverse (dirs == 2) */
} baton_recur_args;

/* "fused-gemm" or "persistent". */
const char *baton_recur_version_name(baton_recur_version v);

#ifdef __cplusplus
}
#endif

#endif
