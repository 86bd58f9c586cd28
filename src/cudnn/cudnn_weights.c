/* cudnn_weights.c: the map between baton's parameter table (PyTorch's nn.RNN/LSTM/GRU tensors) and
 * cuDNN's opaque weight space, and the copies along it: parameters into the weight space (pack),
 * back (unpack), and weight gradients added into baton's gradient buffer.
 *
 * Where each block lives is asked of cuDNN (cudnnGetRNNWeightParams), never computed: a
 * "pseudo-layer" is layer*dirs + direction (forward 0, reverse 1), and within it "linear layer" k
 * names one gate block. For every cell, k < G are the input-side matrices W (and, under
 * CUDNN_RNN_DOUBLE_BIAS, the input biases b_W), k >= G the recurrent ones R (and b_R), in this
 * gate order (cuDNN API reference, cudnnGetRNNWeightParams / cudnnRNNMode_t):
 *   rnn_tanh (G=1): k=0 W, k=1 R
 *   lstm     (G=4): k=0..3 W for input, forget, new memory (cell candidate), output gates; 4..7 R
 *   gru      (G=3): k=0..2 W for reset, update, new memory (h' = tanh(W x + b_W + r*(R h + b_R))); 3..5 R
 * PyTorch stacks the same gates in the same order (LSTM i, f, g, o; GRU r, z, n, with r applied to
 * R h + b_hn exactly as cuDNN does), so linear layer k maps to rows [g*Hd, (g+1)*Hd) with g = k mod G
 * of weight_ih (k < G) or weight_hh (k >= G), and of bias_ih / bias_hh. Each matrix block is
 * (Hd, cols) row-major in both, cols = the layer's input width (W) or Hd (R), which the shapes cuDNN
 * reports are checked against. Adjacent blocks that are contiguous on both sides are copied as one.
 * Status: compiled and linked; never yet run on a GPU. */
#include <stdlib.h>

#include "cudnn_internal.h"

enum { TO_CUDNN, FROM_CUDNN, ADD_GRADS };

static int layer_cols(const baton_rnn *r, int l, int recurrent)
{
    if (recurrent)
        return r->hd;
    return l == 0 ? r->cfg.input_size : r->cfg.hidden_size;
}

/* Checks that cuDNN describes the block at addr as rows x cols floats (dims (1, rows, cols), or
 * (1, rows, 1) for a bias); anything else means the gate mapping above is wrong for this cuDNN. */
static baton_status check_block(cudnnTensorDescriptor_t desc, const void *addr, int rows, int cols, int pseudo,
                                int id, const char *what)
{
    if (!addr)
        return BATON_ERROR(BATON_ERR_CUDNN,
                           "cudnnGetRNNWeightParams returned no %s for pseudo-layer %d, linear layer %d", what,
                           pseudo, id);
    cudnnDataType_t type = CUDNN_DATA_DOUBLE;
    int nb = 0, dim[3] = {0, 0, 0}, stride[3] = {0, 0, 0};
    BATON_CUDNN_CHECK(cudnnGetTensorNdDescriptor(desc, 3, &type, &nb, dim, stride));
    long long numel = (long long)dim[0] * dim[1] * dim[2];
    if (type != CUDNN_DATA_FLOAT || nb != 3 || dim[1] != rows || numel != (long long)rows * cols)
        return BATON_ERROR(BATON_ERR_CUDNN,
                           "cuDNN's %s for pseudo-layer %d, linear layer %d has %d dims (%d, %d, %d) of type %d, "
                           "expected (1, %d, %d) floats: the PyTorch gate-block mapping does not hold",
                           what, pseudo, id, nb, dim[0], dim[1], dim[2], (int)type, rows, cols);
    return BATON_OK;
}

/* Blocks of linear layer `id` of pseudo-layer `pseudo`: the matrix into *mat, the bias into *bias. */
static baton_status map_one(baton_cudnn_rnn *c, cudnnTensorDescriptor_t md, cudnnTensorDescriptor_t bd, int pseudo,
                            int id, cudnn_block *mat, cudnn_block *bias)
{
    const baton_rnn *r = &c->rnn;
    int l = pseudo / r->dirs, d = pseudo % r->dirs, rec = id >= r->gates, gate = rec ? id - r->gates : id;
    int Hd = r->hd, cols = layer_cols(r, l, rec);
    void *wm = NULL, *wb = NULL, *dm = NULL, *db = NULL;
    BATON_CUDNN_CHECK(cudnnGetRNNWeightParams(c->handle, c->desc, pseudo, c->wbytes, c->wspace, id, md, &wm, bd, &wb));
    BATON_TRY(check_block(md, wm, Hd, cols, pseudo, id, "matrix"));
    BATON_TRY(check_block(bd, wb, Hd, 1, pseudo, id, "bias"));
    /* the gradient space has the weight space's layout; ask for its pointers all the same */
    BATON_CUDNN_CHECK(cudnnGetRNNWeightParams(c->handle, c->desc, pseudo, c->wbytes, c->dwspace, id, md, &dm, bd, &db));
    BATON_TRY(check_block(md, dm, Hd, cols, pseudo, id, "gradient matrix"));
    BATON_TRY(check_block(bd, db, Hd, 1, pseudo, id, "gradient bias"));
    *mat = (cudnn_block){rec ? r->w_hh[l][d] : r->w_ih[l][d], (size_t)gate * Hd * cols, (size_t)Hd * cols, wm, dm};
    *bias = (cudnn_block){rec ? r->b_hh[l][d] : r->b_ih[l][d], (size_t)gate * Hd, (size_t)Hd, wb, db};
    return BATON_OK;
}

/* All blocks, per pseudo-layer the 2G matrices first, then the 2G biases, so that the gate blocks
 * of one tensor sit next to each other in the list and can merge into one copy. */
static baton_status map_all(baton_cudnn_rnn *c, cudnnTensorDescriptor_t md, cudnnTensorDescriptor_t bd)
{
    int G2 = 2 * c->rnn.gates, P = c->rnn.cfg.layers * c->rnn.dirs;
    for (int p = 0; p < P; p++)
        for (int id = 0; id < G2; id++) {
            cudnn_block *base = c->blocks + (size_t)p * 2 * G2;
            BATON_TRY(map_one(c, md, bd, p, id, base + id, base + G2 + id));
        }
    c->n_blocks = P * 2 * G2;
    return BATON_OK;
}

baton_status baton_cudnn_weights_map(baton_cudnn_rnn *c)
{
    size_t n = (size_t)c->rnn.cfg.layers * c->rnn.dirs * 4 * c->rnn.gates;
    c->blocks = calloc(n, sizeof *c->blocks);
    if (!c->blocks)
        return BATON_ERROR(BATON_ERR_OOM, "cudnn rnn: %zu weight blocks", n);
    cudnnTensorDescriptor_t md = NULL, bd = NULL;
    BATON_CUDNN_CHECK(cudnnCreateTensorDescriptor(&md));
    baton_status st = BATON_OK;
    cudnnStatus_t cs = cudnnCreateTensorDescriptor(&bd);
    if (cs != CUDNN_STATUS_SUCCESS)
        st = BATON_ERROR(BATON_ERR_CUDNN, "cudnnCreateTensorDescriptor failed: %s", cudnnGetErrorString(cs));
    if (st == BATON_OK)
        st = map_all(c, md, bd);
    cudnnDestroyTensorDescriptor(md); /* failures here leak a descriptor at worst */
    if (bd)
        cudnnDestroyTensorDescriptor(bd);
    return st;
}

/* One tensor's expected element count against the table's. */
static baton_status check_numel(const baton_param_table *t, int index, size_t numel)
{
    BATON_REQUIRE(index >= 0 && index < t->count, "cudnn rnn: parameter index %d is not in the table (%d tensors)",
                  index, t->count);
    BATON_REQUIRE(t->items[index].numel == numel, "cudnn rnn: parameter '%s' has %zu elements, expected %zu",
                  t->items[index].name, t->items[index].numel, numel);
    return BATON_OK;
}

baton_status baton_cudnn_weights_check_table(const baton_cudnn_rnn *c, const baton_param_table *t)
{
    const baton_rnn *r = &c->rnn;
    BATON_REQUIRE(t != NULL, "cudnn rnn: no parameter table");
    size_t gh = (size_t)r->gates * r->hd;
    for (int l = 0; l < r->cfg.layers; l++)
        for (int d = 0; d < r->dirs; d++) {
            BATON_TRY(check_numel(t, r->w_ih[l][d], gh * (size_t)layer_cols(r, l, 0)));
            BATON_TRY(check_numel(t, r->w_hh[l][d], gh * (size_t)r->hd));
            BATON_TRY(check_numel(t, r->b_ih[l][d], gh));
            BATON_TRY(check_numel(t, r->b_hh[l][d], gh));
        }
    return BATON_OK;
}

static baton_status copy_run(baton_cudnn_rnn *c, float *p, float *w, float *dw, size_t n, int what)
{
    baton_backend *be = c->be;
    if (what == TO_CUDNN)
        return be->ops->copy(be, w, p, n * sizeof(float));
    if (what == FROM_CUDNN)
        return be->ops->copy(be, p, w, n * sizeof(float));
    return be->ops->axpby(be, p, dw, 1.0f, 1.0f, n);
}

/* Applies `what` to every block, merging runs that are contiguous in buf, the weight space and the
 * gradient space alike. buf is the parameter or gradient buffer (read-only for TO_CUDNN). */
static baton_status run_blocks(baton_cudnn_rnn *c, const baton_param_table *t, float *buf, int what)
{
    BATON_TRY(baton_cudnn_weights_check_table(c, t));
    for (int i = 0; i < c->n_blocks;) {
        const cudnn_block *b = &c->blocks[i];
        float *p = buf + t->items[b->param].offset + b->offset;
        size_t n = b->n;
        int j = i + 1;
        for (; j < c->n_blocks; j++) {
            const cudnn_block *nb = &c->blocks[j];
            if (buf + t->items[nb->param].offset + nb->offset != p + n || nb->w != b->w + n || nb->dw != b->dw + n)
                break;
            n += nb->n;
        }
        BATON_TRY(copy_run(c, p, b->w, b->dw, n, what));
        i = j;
    }
    return BATON_OK;
}

baton_status baton_cudnn_rnn_pack(baton_cudnn_rnn *c, const float *params, const baton_param_table *t)
{
    BATON_REQUIRE(c && params, "cudnn rnn pack: no layer or no parameters");
    return run_blocks(c, t, (float *)params, TO_CUDNN); /* TO_CUDNN only reads params */
}

baton_status baton_cudnn_rnn_unpack(baton_cudnn_rnn *c, float *params, const baton_param_table *t)
{
    BATON_REQUIRE(c && params, "cudnn rnn unpack: no layer or no parameters");
    return run_blocks(c, t, params, FROM_CUDNN);
}

baton_status baton_cudnn_weights_add_grads(baton_cudnn_rnn *c, float *grads, const baton_param_table *t)
{
    return run_blocks(c, t, grads, ADD_GRADS);
}
