/* recur.h: a whole recurrence on the device, the time loop of one layer for both of its directions
 * at once, as the --rnn-impl versions beyond "fused" run it (kernels/recurrence.cu,
 * docs/recurrence.md). Each step is the recurrent product h_prev W_hh^T fused with the cell of
 * cell_math.h: a thread owns one (row b, unit j) element, computes the G gate sums of that unit
 * and then runs the cell's own `_at` function on them, so the formulas are the ones the CPU tests
 * check. The input projection before and the weight gradients after stay GEMMs (src/nn/rnn.c).
 *
 * The CPU backend runs one version of its own, "packed" (src/cpu/cpu_recur.c), through the same
 * arguments: units are then the units of Hd that each thread's chunk owns.
 *
 * Dimension legend as rnn.h: T steps, B rows, Hd units per direction, G gate blocks, S saved blocks.
 * The state slots follow rnn.c: forward direction slot 0 = h0 and slot t+1 = the state after step
 * t; reverse direction slot T = h0 and slot t = the state after step t. */
#ifndef BATON_RECUR_H
#define BATON_RECUR_H

#include <stdint.h>

#include "baton/cell_math.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    BATON_RECUR_GEMM = 1,       /* "fused-gemm": one kernel per step, both directions, W_hh read through L2 */
    BATON_RECUR_PERSISTENT = 2, /* "persistent": one cooperative kernel per layer, W_hh held in shared memory */
    BATON_RECUR_WAVEFRONT = 3,  /* "wavefront": fused-gemm's steps over a stack of unidirectional layers, layer
                                 * l's step t in the launch of layer l-1's step t+1 (baton_recur_wave) */
    BATON_RECUR_PACKED = 4,     /* "packed" (cpu): W_hh packed once per call, per step libxsmm kernels on the
                                 * packed panels, each thread's units' cell right after (src/cpu/cpu_recur.c) */
} baton_recur_version;

/* Layers one wavefront runs at most (its launch arguments hold every layer's tensors). */
#define BATON_RECUR_MAX_WAVE 8

/* One direction's tensors. Forward reads w_hh, biases, xg and the h0 (c0) slot, writes the other
 * slots, save and hg; backward reads dh, dc (the gradients at the final state), writes dgx (and
 * dgh) at every step and leaves in dh, dc the gradients of the initial state. */
typedef struct {
    const float *w_hh;        /* (G*Hd, Hd) */
    const float *w_ih;        /* (G*Hd, I) where the version projects the input inside its steps (args.x), else NULL */
    const float *b_ih, *b_hh; /* (G*Hd) */
    float *xg;                /* (T, B, G*Hd) input projection x W_ih^T, without bias (a wavefront: see below);
                               * where args.x is given, its first (B, G*Hd) step is the steps' scratch instead */
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
    const float *x;           /* (T, B, I) the layer's input, for "packed", which projects it inside its steps
                               * (per step, into xg's first step, where it stays in cache); NULL: xg given */
    int I;
    float *y;                 /* (T, B, ldy) forward output; direction d writes columns d*Hd .. d*Hd+Hd-1 */
    const float *dy;          /* (T, B, ldy) backward: gradient of y */
    int ldy;
    baton_recur_dir dir[2];   /* [0] forward in time, [1] reverse (dirs == 2) */
} baton_recur_args;

/* A stack of L unidirectional layers run as one wavefront: launch s runs step s-l of every layer l
 * (forward), or backward step s-(L-1-l), so layer l's step t sits beside the step of the layer
 * below that produces its next input (forward) or of the layer above that produces its next output
 * gradient (backward): T+L-1 launches forward and T+L backward instead of L*T and L*(T+1).
 * layer[l] describes layer l as for one recurrence (dirs 1; the same cell, T, B, Hd, units and
 * lengths), except that the steps compute what the layer-by-layer path takes from GEMMs over all T:
 *   l >= 1: dir[0].xg is one step's (B, G*Hd) scratch, filled at step t with
 *           layer[l-1].y[t] w_ih[l]^T (the input projection, without bias);
 *   l < L-1: dy (ldy = Hd) is one step's (B, Hd) scratch, filled at step t with layer[l+1]'s gate
 *           gradients at t times w_ih[l+1] (the output gradient), masked by the dropout;
 * and layer l < L-1's output y (T, B, Hd) is written with the dropout between layers applied, as
 * rnn.c's dropout op would leave it. Layer 0's xg and layer L-1's dy are the caller's, as for one
 * recurrence. */
typedef struct {
    int L;
    baton_recur_args layer[BATON_RECUR_MAX_WAVE];
    const float *w_ih[BATON_RECUR_MAX_WAVE]; /* (G*Hd, Hd) input weights of layer l >= 1; [0] unused */
    float dropout;                           /* p of the dropout between layers; 0: none */
    uint64_t seed;                           /* with purpose + l and *counter: layer l's mask, as rnn.c's */
    uint32_t purpose;
    const uint32_t *counter;                 /* (1) device; NULL where dropout is 0 */
} baton_recur_wave;

/* "fused-gemm", "persistent", "wavefront" or "packed". */
const char *baton_recur_version_name(baton_recur_version v);

#ifdef __cplusplus
}
#endif

#endif
