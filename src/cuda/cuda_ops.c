/* cuda_ops.c: the CUDA backend's ops table: every entry a thin call of a kernel launcher on the
 * backend's stream (kernels/attn_launch.h, kernels/misc_launch.h), plus the scratch they need.
 * Status: compiled in every CUDA build; never yet run on a GPU. */
#include <string.h>

#include "baton/cuda_check.h"
#include "cuda_internal.h"
#include "kernels/attn_launch.h"
#include "kernels/misc_launch.h"

static cuda_ctx *ctx(baton_backend *be)
{
    return (cuda_ctx *)be->impl;
}

static cudaStream_t stream(baton_backend *be)
{
    return ctx(be)->stream;
}

static baton_status cu_axpby(baton_backend *be, float *y, const float *x, float alpha, float beta, size_t n)
{
    return baton_kernel_axpby(y, x, alpha, beta, n, stream(be));
}

static baton_status cu_colsum_add(baton_backend *be, float *out, float *out2, const float *in, int rows, int cols)
{
    return baton_kernel_colsum_add(out, out2, in, rows, cols, be->versions.colsum, stream(be));
}

static baton_status cu_sumsq(baton_backend *be, float *out, const float *x, size_t n)
{
    return baton_kernel_sumsq(out, x, n, ctx(be)->sumsq_scratch, stream(be));
}

static baton_status cu_dropout(baton_backend *be, float *y, const float *x, size_t n, float p, uint64_t seed,
                               uint32_t purpose, const uint32_t *counter)
{
    return baton_kernel_dropout(y, x, n, p, seed, purpose, counter, stream(be));
}

static baton_status cu_copy2d(baton_backend *be, float *dst, int ld_dst, const float *src, int ld_src, int rows,
                              int cols)
{
    return baton_kernel_copy2d(dst, ld_dst, src, ld_src, rows, cols, stream(be));
}

static baton_status cu_add_bias(baton_backend *be, float *y, const float *bias, int rows, int cols)
{
    return baton_kernel_add_bias(y, bias, rows, cols, stream(be));
}

static baton_status cu_tanh_forward(baton_backend *be, float *y, const float *x, size_t n)
{
    return baton_kernel_tanh_forward(y, x, n, stream(be));
}

static baton_status cu_tanh_backward(baton_backend *be, float *dx, const float *dy, const float *y, size_t n)
{
    return baton_kernel_tanh_backward(dx, dy, y, n, stream(be));
}

static baton_status cu_softmax_forward(baton_backend *be, float *p, const float *scores, const int *lengths, int B,
                                       int T, int S)
{
    return baton_kernel_attn_softmax_forward(p, scores, lengths, B, T, S, stream(be));
}

static baton_status cu_softmax_backward(baton_backend *be, float *dscores, const float *dp, const float *p, int B,
                                        int T, int S)
{
    return baton_kernel_attn_softmax_backward(dscores, dp, p, B, T, S, stream(be));
}

static baton_status cu_additive_forward(baton_backend *be, float *scores, const float *q, const float *k,
                                        const float *v, int B, int T, int S, int H)
{
    return baton_kernel_additive_forward(scores, q, k, v, B, T, S, H, stream(be));
}

static baton_status cu_additive_backward(baton_backend *be, float *dq, float *dk, float *dv, const float *dscores,
                                         const float *q, const float *k, const float *v, int B, int T, int S, int H)
{
    return baton_kernel_additive_backward(dq, dk, dv, dscores, q, k, v, B, T, S, H, be->versions.dv, stream(be));
}

static baton_status cu_xent(baton_backend *be, float *loss_sum, float *logp, float *dlogits, float *row_loss,
                            const float *logits, const int *targets, int N, int V, float eps, const float *scale)
{
    /* where dlogits has a kept bf16 mirror, the kernel writes it: the generator's backward GEMMs
     * then read it without a conversion pass */
    uint16_t *d16 = dlogits ? baton_cuda_bf16_kept_twin(be, dlogits) : NULL;
    return baton_kernel_xent_forward_backward(loss_sum, logp, dlogits, d16, row_loss, logits, targets, N, V, eps, scale,
                                              stream(be));
}

static baton_status cu_argmax(baton_backend *be, int *idx, const float *x, int rows, int cols)
{
    return baton_kernel_argmax_rows(idx, x, rows, cols, stream(be));
}

static baton_status cu_topk(baton_backend *be, float *val, int *idx, float *lse, const float *x, int rows, int cols,
                            int k)
{
    return baton_kernel_topk_rows(val, idx, lse, x, rows, cols, k, stream(be));
}

static baton_status cu_optim(baton_backend *be, baton_opt_kind kind, const baton_optim_hyper *h, float *params,
                             uint16_t *params_bf16, const float *grads, float *m, float *v, float *ema, size_t n,
                             const float *grad_sumsq)
{
    return baton_kernel_optim_update(kind, h, params, params_bf16, grads, m, v, ema, n, grad_sumsq, stream(be));
}

static baton_status cu_gather(baton_backend *be, float *out, const int *ids, const float *table, int n, int dim)
{
    return baton_kernel_embed_gather(out, ids, table, n, dim, stream(be));
}

/* The sort scratch of cu_scatter for up to max_n ids, at setup: a cudaMalloc (and the cudaFree of
 * a smaller one, which synchronises the device) has no place inside a training step. Both
 * versions (embed=plain|split) need the same scratch, which depends on n only. */
static baton_status cu_embed_reserve(baton_backend *be, int max_n)
{
    cuda_ctx *c = (cuda_ctx *)be->impl;
    if (max_n <= c->embed_scratch_n)
        return BATON_OK;
    size_t need = 0;
    BATON_TRY(baton_kernel_embed_scatter_scratch_bytes(&need, max_n));
    if (c->embed_scratch)
        be->ops->free(be, c->embed_scratch);
    c->embed_scratch = NULL;
    c->embed_scratch_bytes = 0;
    c->embed_scratch_n = 0;
    BATON_TRY(be->ops->alloc(be, &c->embed_scratch, need, "embedding-gradient sort scratch"));
    c->embed_scratch_bytes = need;
    c->embed_scratch_n = max_n;
    return BATON_OK;
}

static baton_status cu_scatter(baton_backend *be, float *dtable, const int *ids, const float *dout, int n, int dim)
{
    cuda_ctx *c = (cuda_ctx *)be->impl;
    if (n > c->embed_scratch_n)
        return BATON_ERROR(BATON_ERR_INVALID,
                           "embedding backward: %d ids, but scratch was reserved for %d at setup "
                           "(baton_backend_embed_reserve with the most ids a step scatters)",
                           n, c->embed_scratch_n);
    return baton_kernel_embed_scatter_add_sorted(dtable, ids, dout, n, dim, be->versions.embed, c->embed_scratch,
                                                 c->embed_scratch_bytes, c->stream);
}

static baton_ops cuda_ops;

baton_status baton_cuda_backend_create(baton_backend *be, baton_precision precision)
{
    memset(be, 0, sizeof *be);
    if (!cuda_ops.name) { /* filled once; the table is immutable afterwards */
        baton_cuda_fill_core_ops(&cuda_ops);
        cuda_ops.axpby = cu_axpby;
        cuda_ops.colsum_add = cu_colsum_add;
        cuda_ops.sumsq = cu_sumsq;
        cuda_ops.dropout = cu_dropout;
        cuda_ops.copy2d = cu_copy2d;
        cuda_ops.add_bias = cu_add_bias;
        cuda_ops.tanh_forward = cu_tanh_forward;
        cuda_ops.tanh_backward = cu_tanh_backward;
        cuda_ops.attn_softmax_forward = cu_softmax_forward;
        cuda_ops.attn_softmax_backward = cu_softmax_backward;
        cuda_ops.additive_scores_forward = cu_additive_forward;
        cuda_ops.additive_scores_backward = cu_additive_backward;
        cuda_ops.xent_forward_backward = cu_xent;
        cuda_ops.argmax_rows = cu_argmax;
        cuda_ops.topk_rows = cu_topk;
        cuda_ops.optim_update = cu_optim;
        cuda_ops.embed_gather = cu_gather;
        cuda_ops.embed_scatter_add = cu_scatter;
        cuda_ops.embed_reserve = cu_embed_reserve;
    }
    baton_status st = baton_cuda_backend_init(be, &cuda_ops, precision);
    if (st != BATON_OK && be->impl)
        cuda_ops.destroy(be);
    return st;
}
