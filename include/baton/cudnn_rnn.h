/* cudnn_rnn.h: whole recurrent layer stacks (all layers, both directions, all time steps) through
 * cuDNN's RNN API, as a second implementation of baton_rnn_forward / baton_rnn_backward (rnn.h)
 * on the CUDA backend: the reference the fused layers are checked and timed against.
 *
 * Same tensors and contracts as rnn.h: time-major x (T,B,I), y (T,B,H), states (L*dirs,B,Hd) in
 * PyTorch's order, per-row lengths 1..T, zero outputs at padded steps, final states at each row's
 * last valid step, parameters in baton's table (PyTorch's names and layout). cuDNN keeps the
 * weights in its own opaque "weight space"; forward copies baton's parameters into it, backward
 * adds cuDNN's weight gradients into baton's gradient buffer, so callers never see it.
 *
 * Only in builds with cuDNN (BATON_HAVE_CUDNN in baton_config.h). Status: compiled and linked;
 * never yet run on a GPU. */
#ifndef BATON_CUDNN_RNN_H
#define BATON_CUDNN_RNN_H

#include <stdint.h>

#include "baton/backend.h"
#include "baton/param.h"
#include "baton/rnn.h"
#include "baton/status.h"

typedef struct baton_cudnn_rnn baton_cudnn_rnn; /* descriptors, handle and device buffers */

/* cuDNN's recurrence algorithms (cudnnRNNAlgo_t): one kernel sequence per layer, or persistent
 * kernels that keep the recurrent weights on chip (fast for small batches, limited shapes, and
 * only batches whose rows all have the full length T: forward and backward return
 * BATON_ERR_UNSUPPORTED for a ragged batch). */
typedef enum { BATON_CUDNN_STANDARD, BATON_CUDNN_PERSIST_STATIC, BATON_CUDNN_PERSIST_DYNAMIC } baton_cudnn_algo;

/* Parses "standard", "persist-static", "persist-dynamic"; BATON_ERR_INVALID names the accepted values. */
baton_status baton_cudnn_algo_parse(baton_cudnn_algo *a, const char *name);

/* The name baton_cudnn_algo_parse accepts for a ("unknown" for a value out of range). */
const char *baton_cudnn_algo_name(baton_cudnn_algo a);

/* Creates cuDNN descriptors for layer `rnn` on the CUDA backend `be` (its stream), with workspace,
 * reserve, weight and weight-gradient spaces allocated once for batches up to (T_max, B_max);
 * seed keys cuDNN's own dropout generator. BATON_ERR_UNSUPPORTED when cuDNN refuses the algorithm
 * for this shape (persistent algorithms), naming both. */
baton_status baton_cudnn_rnn_create(baton_cudnn_rnn **out, baton_backend *be, const baton_rnn *rnn, int T_max,
                                    int B_max, baton_cudnn_algo algo, uint64_t seed);

/* Releases what baton_cudnn_rnn_create acquired (NULL is fine). */
void baton_cudnn_rnn_destroy(baton_cudnn_rnn *c);

/* Copies the layer's tensors of the device buffer params (table t) into cuDNN's weight space. */
baton_status baton_cudnn_rnn_pack(baton_cudnn_rnn *c, const float *params, const baton_param_table *t);

/* Copies cuDNN's weight space back into the layer's tensors of params (the inverse of pack). */
baton_status baton_cudnn_rnn_unpack(baton_cudnn_rnn *c, float *params, const baton_param_table *t);

/* baton_rnn_forward through cuDNN: packs params, writes y and, where not NULL, hn and cn; h0/c0 may
 * be NULL for zeros. host_lengths: the B lengths on the host (NULL: dev_lengths is downloaded,
 * which synchronises). training != 0 keeps what backward needs (y, h0, c0, cuDNN's reserve) and
 * applies the configured dropout between layers with cuDNN's generator, whose masks differ from
 * baton's Philox masks; training == 0 is inference: no dropout, nothing kept. */
baton_status baton_cudnn_rnn_forward(baton_cudnn_rnn *c, float *y, float *hn, float *cn, const float *x,
                                     const float *h0, const float *c0, const int *dev_lengths, const int *host_lengths,
                                     const float *params, const baton_param_table *t, int T, int B, int training);

/* baton_rnn_backward through cuDNN, after a training forward with the same x, lengths, params, T, B:
 * assigns dx, dh0, dc0 (each may be NULL) and accumulates (+=) into grads; dhn, dcn NULL mean zero. */
baton_status baton_cudnn_rnn_backward(baton_cudnn_rnn *c, float *dx, float *dh0, float *dc0, float *grads,
                                      const float *dy, const float *dhn, const float *dcn, const float *x,
                                      const int *dev_lengths, const int *host_lengths, const float *params,
                                      const baton_param_table *t, int T, int B);

#endif
