/* cudnn_rnn.c: whole recurrent layer stacks through cuDNN 9's RNN API (cudnnRNNForward,
 * cudnnRNNBackwardData_v8, cudnnRNNBackwardWeights_v8): descriptors, buffers, forward and backward.
 *
 * Layout: x (T,B,I), y (T,B,H) are cuDNN's CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED (padded, time
 * outermost) with per-row lengths, which is baton's time-major layout; y's halves are forward then
 * reverse, and states (L*dirs, B, Hd) are layer-major, forward then reverse, as in PyTorch, which
 * hands its tensors to cuDNN unchanged. cuDNN runs each row only over its own length (the reverse
 * direction starts at the row's last token) and returns each row's final states, which is baton's
 * contract. Biases: CUDNN_RNN_DOUBLE_BIAS, PyTorch's b_ih and b_hh. Precision: fp32 data and
 * math, with the math type from the backend's precision (math_type): fp32 CUDNN_FMA_MATH, what
 * PyTorch sets when TF32 is off (CUDNN_DEFAULT_MATH would let cuDNN use TF32 tensor cores for fp32
 * data on sm_80 and newer, breaking fp32 comparisons with the fused layers); tf32
 * CUDNN_DEFAULT_MATH; bf16 CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION, which lets cuDNN convert the fp32
 * data to a 16-bit type of its choosing for its tensor cores: cuDNN's reduced precision, the
 * baseline the benchmarks compare with, not baton's bf16 rounding (which the fused layers follow
 * exactly), so its results are compared with tolerances only.
 *
 * Dropout between layers uses cuDNN's generator (a descriptor with its state buffer, set once):
 * its masks differ from baton's Philox masks, so runs with dropout cannot be compared bitwise
 * with the fused layers, only their dropout-free (inference) results.
 *
 * The weights live in cuDNN's weight space (cudnn_weights.c maps them); forward copies baton's
 * parameters in, backward adds the weight gradients out, so callers see only baton's buffers.
 * Status: compiled and linked; never yet run on a GPU. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cuda/cuda_internal.h"
#include "cudnn_internal.h"

static const char *const algo_names[] = {"standard", "persist-static", "persist-dynamic"};
static const cudnnRNNAlgo_t cudnn_algos[] = {CUDNN_RNN_ALGO_STANDARD, CUDNN_RNN_ALGO_PERSIST_STATIC,
                                             CUDNN_RNN_ALGO_PERSIST_DYNAMIC};
#define N_ALGOS ((int)(sizeof algo_names / sizeof algo_names[0]))

/* What cuDNN writes into padded output positions; read through a pointer by cudnnSetRNNDataDescriptor. */
static float padding_fill = 0.0f;

baton_status baton_cudnn_algo_parse(baton_cudnn_algo *a, const char *name)
{
    for (int i = 0; i < N_ALGOS; i++)
        if (strcmp(name, algo_names[i]) == 0) {
            *a = (baton_cudnn_algo)i;
            return BATON_OK;
        }
    return BATON_ERROR(BATON_ERR_INVALID, "cuDNN algorithm '%s': expected standard, persist-static or persist-dynamic",
                       name);
}

const char *baton_cudnn_algo_name(baton_cudnn_algo a)
{
    return (int)a >= 0 && (int)a < N_ALGOS ? algo_names[a] : "unknown";
}

/* cuDNN's way of saying it cannot run this configuration, as opposed to a misuse or a fault.
 * The persistent algorithms also report shapes they cannot hold on chip as bad parameters. */
static int is_refusal(const baton_cudnn_rnn *c, cudnnStatus_t st)
{
    if (CUDNN_STATUS_CATEGORY(st) == CUDNN_STATUS_NOT_SUPPORTED)
        return 1;
    return c->algo != BATON_CUDNN_STANDARD && CUDNN_STATUS_CATEGORY(st) == CUDNN_STATUS_BAD_PARAM;
}

/* One line for a failed RNN call: BATON_ERR_UNSUPPORTED naming the algorithm and the shape when
 * cuDNN refuses, BATON_ERR_CUDNN otherwise; cuDNN's own explanation is appended when it has one. */
static baton_status rnn_call_failed(const baton_cudnn_rnn *c, cudnnStatus_t st, const char *call, const char *file,
                                    int line)
{
    char why[256] = "";
    cudnnGetLastErrorString(why, sizeof why);
    const baton_rnn_config *cfg = &c->rnn.cfg;
    int refused = is_refusal(c, st);
    return baton_error_at(refused ? BATON_ERR_UNSUPPORTED : BATON_ERR_CUDNN, file, line,
                          "cuDNN %s algorithm %s %s I=%d H=%d L=%d %s (T<=%d, B<=%d): %s gave %s (%d)%s%s",
                          baton_cudnn_algo_name(c->algo), refused ? "does not support" : "failed for",
                          baton_cell_name(cfg->cell), cfg->input_size, cfg->hidden_size, cfg->layers,
                          c->rnn.dirs == 2 ? "bidirectional" : "unidirectional", c->T_max, c->B_max, call,
                          cudnnGetErrorString(st), (int)st, why[0] ? ": " : "", why);
}

/* BATON_CUDNN_CHECK for the calls whose failure may be a refusal of the algorithm or shape:
 * RNN_CALL(c, cudnnFoo, (args)) runs cudnnFoo(args) and names only cudnnFoo in the message. */
#define RNN_CALL(c, fn, args)                                                         \
    do {                                                                              \
        cudnnStatus_t rnn_st_ = fn args;                                              \
        if (rnn_st_ != CUDNN_STATUS_SUCCESS)                                          \
            return rnn_call_failed((c), rnn_st_, #fn, __FILE__, __LINE__);            \
    } while (0)

static baton_status alloc(baton_cudnn_rnn *c, void **p, size_t bytes, const char *what)
{
    return c->be->ops->alloc(c->be, p, bytes, what);
}

void baton_cudnn_rnn_destroy(baton_cudnn_rnn *c)
{
    if (!c)
        return;
    /* Statuses are ignored here: nothing is left to do about a failed release. */
    if (c->desc)
        cudnnDestroyRNNDescriptor(c->desc);
    if (c->drop)
        cudnnDestroyDropoutDescriptor(c->drop);
    if (c->xdesc)
        cudnnDestroyRNNDataDescriptor(c->xdesc);
    if (c->ydesc)
        cudnnDestroyRNNDataDescriptor(c->ydesc);
    if (c->hdesc)
        cudnnDestroyTensorDescriptor(c->hdesc);
    void *bufs[] = {c->drop_states, c->wspace, c->dwspace, c->work, c->reserve,
                    c->y_saved,     c->h0_saved, c->c0_saved, c->dx_scratch};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i])
            c->be->ops->free(c->be, bufs[i]);
    if (c->handle)
        cudnnDestroy(c->handle);
    free(c->blocks);
    free(c->host_len);
    free(c);
}

/* x, y and state descriptors for one call's T, B and host lengths. */
static baton_status set_shapes(baton_cudnn_rnn *c, int T, int B, const int *lengths)
{
    const baton_rnn *r = &c->rnn;
    BATON_CUDNN_CHECK(cudnnSetRNNDataDescriptor(c->xdesc, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, T,
                                                B, r->cfg.input_size, lengths, &padding_fill));
    BATON_CUDNN_CHECK(cudnnSetRNNDataDescriptor(c->ydesc, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, T,
                                                B, r->cfg.hidden_size, lengths, &padding_fill));
    int dim[3] = {r->cfg.layers * r->dirs, B, r->hd}, stride[3] = {B * r->hd, r->hd, 1};
    BATON_CUDNN_CHECK(cudnnSetTensorNdDescriptor(c->hdesc, CUDNN_DATA_FLOAT, 3, dim, stride));
    return BATON_OK;
}

/* The dropout descriptor: p between layers (none with one layer), cuDNN's generator seeded once. */
static baton_status setup_dropout(baton_cudnn_rnn *c, uint64_t seed)
{
    float p = c->rnn.cfg.layers > 1 ? c->rnn.cfg.dropout : 0.0f;
    if (p <= 0.0f) {
        BATON_CUDNN_CHECK(cudnnSetDropoutDescriptor(c->drop, c->handle, 0.0f, NULL, 0, 0));
        return BATON_OK;
    }
    BATON_CUDNN_CHECK(cudnnDropoutGetStatesSize(c->handle, &c->drop_bytes));
    BATON_TRY(alloc(c, &c->drop_states, c->drop_bytes, "cuDNN dropout state"));
    /* initialises the generator state with a kernel on the handle's stream: expensive, done once */
    BATON_CUDNN_CHECK(cudnnSetDropoutDescriptor(c->drop, c->handle, p, c->drop_states, c->drop_bytes,
                                                (unsigned long long)seed));
    return BATON_OK;
}

/* The math type that implements the backend's precision (see the file header). */
static cudnnMathType_t math_type(const baton_backend *be)
{
    switch (be->precision) {
    case BATON_PRECISION_TF32: return CUDNN_DEFAULT_MATH;
    case BATON_PRECISION_BF16: return CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
    default: return CUDNN_FMA_MATH;
    }
}

static baton_status setup_descriptor(baton_cudnn_rnn *c)
{
    const baton_rnn *r = &c->rnn;
    cudnnRNNMode_t mode = r->cfg.cell == BATON_CELL_LSTM ? CUDNN_LSTM
                          : r->cfg.cell == BATON_CELL_GRU ? CUDNN_GRU
                                                          : CUDNN_RNN_TANH;
    /* hiddenSize is per direction; projSize = hiddenSize means no LSTM projection; padded I/O must
     * be enabled for the unpacked layouts. */
    cudnnDirectionMode_t dir = r->dirs == 2 ? CUDNN_BIDIRECTIONAL : CUDNN_UNIDIRECTIONAL;
    RNN_CALL(c, cudnnSetRNNDescriptor_v8, (c->desc, cudnn_algos[c->algo], mode, CUDNN_RNN_DOUBLE_BIAS, dir,
                                           CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT, math_type(c->be),
                                           r->cfg.input_size, r->hd, r->hd, r->cfg.layers, c->drop,
                                           CUDNN_RNN_PADDED_IO_ENABLED));
    return BATON_OK;
}

/* PERSIST_DYNAMIC compiles its kernels (NVRTC) for one batch size: once at create for B_max, and
 * again whenever a call brings another B (expensive; steady training has few batch sizes). */
static baton_status build_for_batch(baton_cudnn_rnn *c, int B)
{
    if (c->algo != BATON_CUDNN_PERSIST_DYNAMIC || c->built_batch == B)
        return BATON_OK;
    RNN_CALL(c, cudnnBuildRNNDynamic, (c->handle, c->desc, B));
    c->built_batch = B;
    return BATON_OK;
}

/* Weight spaces, workspace and reserve for the largest shape, and the buffers backward reuses. */
static baton_status setup_spaces(baton_cudnn_rnn *c)
{
    const baton_rnn *r = &c->rnn;
    size_t T = (size_t)c->T_max, B = (size_t)c->B_max, state = (size_t)r->cfg.layers * r->dirs * B * r->hd;
    RNN_CALL(c, cudnnGetRNNWeightSpaceSize, (c->handle, c->desc, &c->wbytes));
    BATON_TRY(alloc(c, &c->wspace, c->wbytes, "cuDNN weight space"));
    BATON_TRY(alloc(c, &c->dwspace, c->wbytes, "cuDNN weight-gradient space"));
    BATON_TRY(c->be->ops->zero(c->be, c->wspace, c->wbytes));
    for (int b = 0; b < c->B_max; b++)
        c->host_len[b] = c->T_max;
    BATON_TRY(set_shapes(c, c->T_max, c->B_max, c->host_len));
    size_t work_train = 0, work_infer = 0, reserve_infer = 0;
    RNN_CALL(c, cudnnGetRNNTempSpaceSizes, (c->handle, c->desc, CUDNN_FWD_MODE_TRAINING, c->xdesc, &work_train,
                                            &c->reserve_bytes));
    RNN_CALL(c, cudnnGetRNNTempSpaceSizes, (c->handle, c->desc, CUDNN_FWD_MODE_INFERENCE, c->xdesc, &work_infer,
                                            &reserve_infer));
    c->work_bytes = work_train > work_infer ? work_train : work_infer;
    BATON_TRY(alloc(c, &c->work, c->work_bytes, "cuDNN workspace"));
    BATON_TRY(alloc(c, &c->reserve, c->reserve_bytes, "cuDNN reserve space"));
    BATON_TRY(alloc(c, (void **)&c->y_saved, T * B * (size_t)r->cfg.hidden_size * sizeof(float), "cuDNN saved y"));
    BATON_TRY(alloc(c, (void **)&c->h0_saved, state * sizeof(float), "cuDNN saved h0"));
    if (r->cfg.cell == BATON_CELL_LSTM)
        BATON_TRY(alloc(c, (void **)&c->c0_saved, state * sizeof(float), "cuDNN saved c0"));
    return alloc(c, (void **)&c->dx_scratch, T * B * (size_t)r->cfg.input_size * sizeof(float), "cuDNN dx scratch");
}

static baton_status setup(baton_cudnn_rnn *c, uint64_t seed)
{
    c->host_len = malloc((size_t)c->B_max * sizeof(int));
    if (!c->host_len)
        return BATON_ERROR(BATON_ERR_OOM, "cudnn rnn: %d host lengths", c->B_max);
    BATON_CUDNN_CHECK(cudnnCreate(&c->handle));
    BATON_CUDNN_CHECK(cudnnSetStream(c->handle, c->stream));
    BATON_CUDNN_CHECK(cudnnCreateRNNDescriptor(&c->desc));
    BATON_CUDNN_CHECK(cudnnCreateDropoutDescriptor(&c->drop));
    BATON_CUDNN_CHECK(cudnnCreateRNNDataDescriptor(&c->xdesc));
    BATON_CUDNN_CHECK(cudnnCreateRNNDataDescriptor(&c->ydesc));
    BATON_CUDNN_CHECK(cudnnCreateTensorDescriptor(&c->hdesc));
    BATON_TRY(setup_dropout(c, seed));
    BATON_TRY(setup_descriptor(c));
    BATON_TRY(build_for_batch(c, c->B_max));
    BATON_TRY(setup_spaces(c));
    return baton_cudnn_weights_map(c);
}

baton_status baton_cudnn_rnn_create(baton_cudnn_rnn **out, baton_backend *be, const baton_rnn *rnn, int T_max,
                                    int B_max, baton_cudnn_algo algo, uint64_t seed)
{
    *out = NULL;
    BATON_REQUIRE(be && be->ops && be->impl && strcmp(be->ops->name, "cuda") == 0,
                  "cudnn rnn: needs the cuda backend, got '%s'", be && be->ops ? be->ops->name : "none");
    BATON_REQUIRE(rnn && rnn->dirs >= 1 && rnn->hd >= 1, "cudnn rnn: the layer is not initialised (baton_rnn_init)");
    BATON_REQUIRE(T_max >= 1 && B_max >= 1, "cudnn rnn: T_max=%d B_max=%d, expected >= 1", T_max, B_max);
    BATON_REQUIRE((int)algo >= 0 && (int)algo < N_ALGOS, "cudnn rnn: unknown algorithm %d", (int)algo);
    baton_cudnn_rnn *c = calloc(1, sizeof *c);
    if (!c)
        return BATON_ERROR(BATON_ERR_OOM, "cudnn rnn: out of host memory");
    c->be = be;
    c->rnn = *rnn;
    c->algo = algo;
    c->T_max = T_max;
    c->B_max = B_max;
    c->stream = ((cuda_ctx *)be->impl)->stream;
    baton_status st = setup(c, seed);
    if (st != BATON_OK) {
        baton_cudnn_rnn_destroy(c);
        return st;
    }
    *out = c;
    return BATON_OK;
}

/* Checks a call's shape and lengths and sets the descriptors for it. */
static baton_status prepare(baton_cudnn_rnn *c, int T, int B, const int *dev_lengths, const int *host_lengths)
{
    BATON_REQUIRE(T >= 1 && T <= c->T_max && B >= 1 && B <= c->B_max,
                  "cudnn rnn: batch of T=%d steps and B=%d rows, expected 1..%d and 1..%d as sized at create", T, B,
                  c->T_max, c->B_max);
    BATON_REQUIRE(dev_lengths, "cudnn rnn: no device lengths (cuDNN reads them on the GPU)");
    const int *len = host_lengths;
    if (!len) {
        BATON_CUDA_CHECK(cudaMemcpyAsync(c->host_len, dev_lengths, (size_t)B * sizeof(int), cudaMemcpyDeviceToHost,
                                         c->stream));
        BATON_CUDA_CHECK(cudaStreamSynchronize(c->stream));
        len = c->host_len;
    }
    int shortest = T, longest = 1;
    for (int b = 0; b < B; b++) {
        BATON_REQUIRE(len[b] >= 1 && len[b] <= T, "cudnn rnn: row %d has length %d, expected 1..%d", b, len[b], T);
        shortest = len[b] < shortest ? len[b] : shortest;
        longest = len[b] > longest ? len[b] : longest;
    }
    /* cuDNN's persistent algorithms do not take a seqLengthArray with rows shorter than T
     * (PyTorch falls back to the standard algorithm for packed batches for that reason). Refuse
     * here, before any cuDNN call and naming the option, rather than pass up a NOT_SUPPORTED or
     * BAD_PARAM from the middle of a step. */
    if (c->algo != BATON_CUDNN_STANDARD && shortest != T)
        return BATON_ERROR(BATON_ERR_UNSUPPORTED,
                           "--rnn-impl cudnn-%s needs every sequence of a batch to have the same length (cuDNN's "
                           "persistent RNN kernels do not take ragged batches); got lengths %d..%d in a batch of "
                           "T=%d steps: use --rnn-impl cudnn or fused",
                           baton_cudnn_algo_name(c->algo), shortest, longest, T);
    BATON_TRY(set_shapes(c, T, B, len));
    return build_for_batch(c, B);
}

/* cuDNN's workspace and reserve needs for this call must fit what create allocated for (T_max, B_max). */
static baton_status check_spaces(baton_cudnn_rnn *c, cudnnForwardMode_t mode, int T, int B)
{
    size_t work = 0, reserve = 0;
    RNN_CALL(c, cudnnGetRNNTempSpaceSizes, (c->handle, c->desc, mode, c->xdesc, &work, &reserve));
    if (work > c->work_bytes || reserve > c->reserve_bytes)
        return BATON_ERROR(BATON_ERR_CUDNN,
                           "cudnn rnn: T=%d B=%d needs %zu bytes of workspace and %zu of reserve, more than the %zu "
                           "and %zu cuDNN asked for at T_max=%d B_max=%d",
                           T, B, work, reserve, c->work_bytes, c->reserve_bytes, c->T_max, c->B_max);
    return BATON_OK;
}

/* Keeps y, h0 and c0 of a training forward: backward needs them and the caller's may change. */
static baton_status keep_for_backward(baton_cudnn_rnn *c, const float *y, const float *h0, const float *c0,
                                      const float *params, int T, int B)
{
    const baton_rnn *r = &c->rnn;
    baton_backend *be = c->be;
    size_t state = (size_t)r->cfg.layers * r->dirs * B * r->hd * sizeof(float);
    BATON_TRY(be->ops->copy(be, c->y_saved, y, (size_t)T * B * r->cfg.hidden_size * sizeof(float)));
    c->fwd_h0 = h0 != NULL;
    c->fwd_c0 = c0 != NULL && c->c0_saved != NULL;
    if (c->fwd_h0)
        BATON_TRY(be->ops->copy(be, c->h0_saved, h0, state));
    if (c->fwd_c0)
        BATON_TRY(be->ops->copy(be, c->c0_saved, c0, state));
    c->fwd_params = params;
    c->fwd_T = T;
    c->fwd_B = B;
    return BATON_OK;
}

baton_status baton_cudnn_rnn_forward(baton_cudnn_rnn *c, float *y, float *hn, float *cn, const float *x,
                                     const float *h0, const float *c0, const int *dev_lengths, const int *host_lengths,
                                     const float *params, const baton_param_table *t, int T, int B, int training)
{
    BATON_REQUIRE(c && y && x && params, "cudnn rnn forward: the layer, y, x and params are required");
    c->fwd_T = c->fwd_B = 0; /* a failed or inference forward leaves nothing for backward */
    cudnnForwardMode_t mode = training ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE;
    int lstm = c->rnn.cfg.cell == BATON_CELL_LSTM;
    BATON_TRY(prepare(c, T, B, dev_lengths, host_lengths));
    BATON_TRY(check_spaces(c, mode, T, B));
    BATON_TRY(baton_cudnn_rnn_pack(c, params, t));
    /* padded positions are zero by paddingFill; zeroing first makes that hold whatever cuDNN does */
    BATON_TRY(c->be->ops->zero(c->be, y, (size_t)T * B * c->rnn.cfg.hidden_size * sizeof(float)));
    RNN_CALL(c, cudnnRNNForward, (c->handle, c->desc, mode, dev_lengths, c->xdesc, x, c->ydesc, y, c->hdesc, h0, hn,
                                  c->hdesc, lstm ? c0 : NULL, lstm ? cn : NULL, c->wbytes, c->wspace, c->work_bytes,
                                  c->work, c->reserve_bytes, c->reserve));
    return training ? keep_for_backward(c, y, h0, c0, params, T, B) : BATON_OK;
}

baton_status baton_cudnn_rnn_backward(baton_cudnn_rnn *c, float *dx, float *dh0, float *dc0, float *grads,
                                      const float *dy, const float *dhn, const float *dcn, const float *x,
                                      const int *dev_lengths, const int *host_lengths, const float *params,
                                      const baton_param_table *t, int T, int B)
{
    BATON_REQUIRE(c && grads && dy && x, "cudnn rnn backward: the layer, grads, dy and x are required");
    BATON_REQUIRE(c->fwd_T == T && c->fwd_B == B,
                  "cudnn rnn backward: T=%d B=%d does not follow a training forward of that shape (last: T=%d B=%d)",
                  T, B, c->fwd_T, c->fwd_B);
    BATON_REQUIRE(params == c->fwd_params,
                  "cudnn rnn backward: params differ from the forward's, whose copy cuDNN's weight space holds");
    BATON_TRY(baton_cudnn_weights_check_table(c, t));
    BATON_TRY(prepare(c, T, B, dev_lengths, host_lengths));
    BATON_TRY(check_spaces(c, CUDNN_FWD_MODE_TRAINING, T, B));
    c->fwd_T = c->fwd_B = 0; /* backward updates the reserve: it cannot run twice */
    baton_backend *be = c->be;
    int lstm = c->rnn.cfg.cell == BATON_CELL_LSTM;
    const float *h0 = c->fwd_h0 ? c->h0_saved : NULL, *c0 = c->fwd_c0 ? c->c0_saved : NULL;
    float *dxo = dx ? dx : c->dx_scratch;
    /* dx at padded steps is zero in baton's contract; cuDNN documents paddingFill for outputs only */
    BATON_TRY(be->ops->zero(be, dxo, (size_t)T * B * c->rnn.cfg.input_size * sizeof(float)));
    RNN_CALL(c, cudnnRNNBackwardData_v8, (c->handle, c->desc, dev_lengths, c->ydesc, c->y_saved, dy, c->xdesc, dxo,
                                          c->hdesc, h0, dhn, dh0, c->hdesc, lstm ? c0 : NULL, lstm ? dcn : NULL,
                                          lstm ? dc0 : NULL, c->wbytes, c->wspace, c->work_bytes, c->work,
                                          c->reserve_bytes, c->reserve));
    /* cuDNN 9 only adds (CUDNN_WGRAD_MODE_ADD) into the gradient space: zero it for this call */
    BATON_TRY(be->ops->zero(be, c->dwspace, c->wbytes));
    RNN_CALL(c, cudnnRNNBackwardWeights_v8, (c->handle, c->desc, CUDNN_WGRAD_MODE_ADD, dev_lengths, c->xdesc, x,
                                             c->hdesc, h0, c->ydesc, c->y_saved, c->wbytes, c->dwspace, c->work_bytes,
                                             c->work, c->reserve_bytes, c->reserve));
    return baton_cudnn_weights_add_grads(c, grads, t);
}
