/* cudnn_internal.h: the state behind baton_cudnn_rnn, shared by cudnn_rnn.c (descriptors, forward,
 * backward) and cudnn_weights.c (the map between baton's parameter table and cuDNN's weight space).
 * Status: compiled and linked; never yet run on a GPU. */
#ifndef BATON_CUDNN_INTERNAL_H
#define BATON_CUDNN_INTERNAL_H

#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <stddef.h>

#include "baton/cuda_check.h" /* after cudnn.h, so that BATON_CUDNN_CHECK is defined */
#include "baton/cudnn_rnn.h"

/* One contiguous run of floats that baton and cuDNN both hold: a gate block of a weight matrix
 * or of a bias. Elements [offset, offset + n) of parameter-table tensor `param` live at w in
 * cuDNN's weight space and at dw in its weight-gradient space (both as cudnnGetRNNWeightParams
 * returned them). */
typedef struct {
    int param;     /* index in the parameter table */
    size_t offset; /* first element inside that tensor */
    size_t n;      /* floats */
    float *w, *dw;
} cudnn_block;

struct baton_cudnn_rnn {
    baton_backend *be;
    baton_rnn rnn; /* a copy: the configuration and the table indices */
    baton_cudnn_algo algo;
    int T_max, B_max;
    int built_batch; /* PERSIST_DYNAMIC: the batch size its kernels were compiled for, 0 before */
    cudaStream_t stream;
    cudnnHandle_t handle;
    cudnnRNNDescriptor_t desc;
    cudnnDropoutDescriptor_t drop;
    cudnnRNNDataDescriptor_t xdesc, ydesc; /* set per call: T, B and the lengths */
    cudnnTensorDescriptor_t hdesc;         /* (L*dirs, B, Hd), also used for the cell states */
    void *drop_states;                     /* cuDNN's dropout generator state */
    void *wspace, *dwspace;                /* weight and weight-gradient spaces, wbytes each */
    void *work, *reserve;                  /* workspace, and what training forward keeps for backward */
    size_t drop_bytes, wbytes, work_bytes, reserve_bytes;
    float *y_saved;                        /* (T_max, B_max, H): y of the last training forward */
    float *h0_saved, *c0_saved;            /* (L*dirs, B_max, Hd): its h0, c0 */
    float *dx_scratch;                     /* (T_max, B_max, I): dx when the caller wants none */
    int *host_len;                         /* (B_max) lengths downloaded when the caller has none */
    cudnn_block *blocks;                   /* (n_blocks) */
    int n_blocks;
    /* the last training forward, which backward must follow */
    int fwd_T, fwd_B, fwd_h0, fwd_c0;
    const float *fwd_params;
};

/* Builds c->blocks from cudnnGetRNNWeightParams over every pseudo-layer and linear layer, checking
 * each matrix and bias shape cuDNN reports against the PyTorch tensor it maps to. */
baton_status baton_cudnn_weights_map(baton_cudnn_rnn *c);

/* Checks that table t holds the layer's tensors with the shapes the map was built for. */
baton_status baton_cudnn_weights_check_table(const baton_cudnn_rnn *c, const baton_param_table *t);

/* grads (table t) += cuDNN's weight-gradient space, block by block. */
baton_status baton_cudnn_weights_add_grads(baton_cudnn_rnn *c, float *grads, const baton_param_table *t);

#endif
