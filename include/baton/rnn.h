/* rnn.h: multi-layer, optionally bidirectional tanh-RNN, LSTM and GRU layers over padded batches.
 *
 * Dimension legend: T time steps (padded), B batch, I input width, H output width,
 * Hd = H / dirs units per direction, G gate blocks (cell_math.h), L layers.
 * Tensors are time-major: x (T,B,I), y (T,B,H), as cuDNN's and Marian's, so one time step is one
 * contiguous (B, .) matrix; states are (L*dirs, B, Hd) in PyTorch's order (layer-major, forward
 * then reverse). Parameters are PyTorch's nn.RNN/LSTM/GRU tensors under `<prefix>.weight_ih_l{k}`
 * etc., in one parameter table. Results equal PyTorch's with pack_padded_sequence. */
#ifndef BATON_RNN_H
#define BATON_RNN_H

#include <stdint.h>

#include "baton/arena.h"
#include "baton/backend.h"
#include "baton/cell_math.h"
#include "baton/param.h"

#define BATON_RNN_MAX_LAYERS 16

typedef struct {
    baton_cell cell;
    int input_size;    /* I */
    int hidden_size;   /* H: output width; split in two halves when bidirectional */
    int layers;        /* L */
    int bidirectional; /* 0 or 1 */
    float dropout;     /* between layers, training only, as PyTorch's `dropout` */
} baton_rnn_config;

/* Dropout draws for one call: purpose BATON_RNG_DROPOUT-based, counter = training step. */
typedef struct {
    uint64_t seed;
    uint32_t purpose;        /* base; layer l uses purpose + l */
    const uint32_t *counter; /* (1) device: the batch counter, read when the masks are drawn */
} baton_dropout_key;

typedef struct {
    baton_rnn_config cfg;
    int dirs, hd, gates, saved;
    int w_ih[BATON_RNN_MAX_LAYERS][2], w_hh[BATON_RNN_MAX_LAYERS][2]; /* parameter-table indices */
    int b_ih[BATON_RNN_MAX_LAYERS][2], b_hh[BATON_RNN_MAX_LAYERS][2];
} baton_rnn;

/* What forward keeps for backward, carved from an arena for at most T_max steps and B_max rows. */
typedef struct {
    int T_max, B_max;
    float *hs[BATON_RNN_MAX_LAYERS][2];   /* (T+1, B, Hd) states; see rnn.c for the slot order */
    float *cs[BATON_RNN_MAX_LAYERS][2];   /* (T+1, B, Hd) LSTM cell states */
    float *save[BATON_RNN_MAX_LAYERS][2]; /* (T, B, S*Hd) gate activations */
    float *out[BATON_RNN_MAX_LAYERS];     /* (T, B, H) output of layer l < L-1, after dropout */
    /* Per direction (dirs blocks, each of the size given): the "fused" path runs the directions one
     * after another through block 0; a whole recurrence (recur.h) runs both at once. */
    float *xg;                            /* dirs x (T, B, G*Hd) input projections */
    float *hg;                            /* dirs x (B, G*Hd) recurrent projection of one step */
    float *dgx, *dgh;                     /* dirs x (T, B, G*Hd) gate gradients; dgh GRU only */
    float *dh, *dc;                       /* dirs x (B, Hd) carried state gradients */
    float *dxl[2];                        /* (T, B, H) input gradients between layers */
    int no_grad;                          /* set: an inference forward, as under torch.no_grad: it writes no
                                           * saved gates (save stays untouched), and backward refuses */
    baton_recur_version recur;            /* 0: per-step ops ("fused"); else the whole-recurrence version */
    int recur_units;                      /* of Hd per block (cpu: per thread's chunk), recur_plan's for recur */
    /* wavefront (recur == BATON_RECUR_WAVEFRONT): what its layers need at once beyond the above,
     * allocated by baton_rnn_acts_use_impl for T_max, B_max (rnn.c, wave_layer) */
    float *wave_dg;                       /* (L-1) x (T, B, G*Hd) gate gradients of layers 1..L-1 (GRU: dgx, then dgh) */
    float *wave_step;                     /* L x [xg, hg (B, G*Hd); dh, dc, dy (B, Hd)]: one step's, per layer */
    baton_backend *wave_be;               /* of the two allocations */
    char impl_note[400];                  /* what baton_rnn_acts_use_impl chose, and why (for logs) */
    struct baton_cudnn_rnn *cudnn;        /* set: forward/backward run through cuDNN (baton_rnn_acts_use_impl) */
    const int *host_lengths;              /* (B) host copy of the next call's lengths, or NULL (cuDNN needs them) */
} baton_rnn_acts;

/* Checks cfg and adds the layer's tensors to the table under `prefix` (e.g. "encoder.rnn"). */
baton_status baton_rnn_init(baton_rnn *rnn, const baton_rnn_config *cfg, baton_param_table *t, const char *prefix);

/* PyTorch's default initialisation, U(-1/sqrt(Hd), 1/sqrt(Hd)), into a host parameter buffer. */
void baton_rnn_init_weights(const baton_rnn *rnn, const baton_param_table *t, float *host_params, uint64_t seed);

/* Carves the activations for shapes up to (T_max, B_max); run on a measuring arena to size it. */
baton_status baton_rnn_acts_carve(baton_rnn_acts *acts, baton_arena *a, const baton_rnn *rnn, int T_max, int B_max);

/* Chooses the implementation behind these activations: "fused" (per step a GEMM and a cell op, every
 * backend, the default; on the cpu the packed recurrence where built, unless be->versions.cpurnn is
 * 0), "packed" (the cpu's whole recurrence with W_hh packed once per call, recur.h; builds with
 * libxsmm, fp32), "fused-gemm" or "persistent" (whole recurrences, recur.h; cuda),
 * "wavefront" (fused-gemm over all layers at once where they are unidirectional; cuda), "auto"
 * (baton_rnn_auto_pick, falling back where a shape does not fit), or "cudnn", "cudnn-persist-static",
 * "cudnn-persist-dynamic" (cuDNN's RNN with that algorithm, on the cuda backend of a build with cuDNN;
 * sized for the acts' T_max, B_max). seed keys cuDNN's dropout. acts->impl_note says what was chosen.
 * BATON_ERR_UNSUPPORTED, naming the limit, where the version named cannot run this layer here. */
baton_status baton_rnn_acts_use_impl(baton_rnn_acts *acts, baton_backend *be, const baton_rnn *rnn, const char *impl,
                                     uint64_t seed);

/* Releases what baton_rnn_acts_use_impl acquired; the acts return to the fused kernels. */
void baton_rnn_acts_release(baton_rnn_acts *acts);

/* The version --rnn-impl auto runs for layer rnn at up to B rows on be (0: fused), the fastest by
 * the step-time model of src/nn/rnn_auto.c on the table row of be's GPU, persistent only where
 * persistent_fits; basis says which row and what it predicts. */
baton_recur_version baton_rnn_auto_pick(const baton_backend *be, const baton_rnn *rnn, int B, int persistent_fits,
                                        char *basis, size_t basis_len);

/* "auto, fused, fused-gemm, persistent, cudnn, ..." or the part this build can run. */
const char *baton_rnn_impl_list(void);

/* 1 when implementation `impl` runs batches whose sequences differ in length (fused, cudnn); 0 for
 * cuDNN's persistent algorithms (cudnn-persist-*), which need every row to have the full length. */
int baton_rnn_impl_takes_ragged(const char *impl);

/* BATON_ERR_UNSUPPORTED, with one line naming the option and `why` (where the ragged batches come
 * from), when `impl` cannot run ragged batches; BATON_OK otherwise. For commands that know before
 * their first step that their batches will be ragged. */
baton_status baton_rnn_impl_check_ragged(const char *impl, const char *why);

/* Forward over x (T,B,I) with per-row lengths (device, 1..T); writes y (T,B,H) and, where not NULL,
 * hn and cn (L*dirs,B,Hd). h0/c0 may be NULL for zeros. drop NULL: inference; a key: training
 * (dropout between layers when p > 0; cuDNN keeps its reserve). */
baton_status baton_rnn_forward(baton_backend *be, const baton_rnn *rnn, baton_rnn_acts *acts, float *y, float *hn,
                               float *cn, const float *x, const float *h0, const float *c0, const int *lengths,
                               const float *params, const baton_param_table *t, int T, int B,
                               const baton_dropout_key *drop);

/* 1 when baton_rnn_forward_gathered can run these acts: per-step ops or a whole-recurrence
 * version other than the wavefront, not cuDNN. */
int baton_rnn_gathers(const baton_rnn_acts *acts);

/* baton_rnn_forward for inference (no dropout) where layer 0's input projections x W_ih^T are rows
 * ids (T*B, device) of table (dirs, V, G*Hd), as a decoder tabulates them per token: no x, and no
 * layer-0 input product. Needs baton_rnn_gathers. */
baton_status baton_rnn_forward_gathered(baton_backend *be, const baton_rnn *rnn, baton_rnn_acts *acts, float *y,
                                        float *hn, float *cn, const int *ids, const float *table, int V,
                                        const float *h0, const float *c0, const int *lengths, const float *params,
                                        const baton_param_table *t, int T, int B);

/* Backward through time after baton_rnn_forward with the same x, lengths, params and drop
 * (and acts->no_grad clear: BATON_ERR_INVALID otherwise).
 * Assigns dx (T,B,I), dh0, dc0 (each may be NULL) and accumulates (+=) into grads.
 * dy is required; dhn, dcn may be NULL for zero. */
baton_status baton_rnn_backward(baton_backend *be, const baton_rnn *rnn, baton_rnn_acts *acts, float *dx,
                                float *dh0, float *dc0, float *grads, const float *dy, const float *dhn,
                                const float *dcn, const float *x, const int *lengths, const float *params,
                                const baton_param_table *t, int T, int B, const baton_dropout_key *drop);

/* Name of a cell type as PyTorch's mode string ("rnn_tanh", "lstm", "gru"). */
const char *baton_cell_name(baton_cell cell);

/* Parses "rnn_tanh" (or "rnn"), "lstm", "gru"; BATON_ERR_INVALID names the accepted values. */
baton_status baton_cell_parse(baton_cell *cell, const char *name);

#endif
