/* attention.c: Luong global attention for all target steps at once (see attention.h): scores by
 * one strided batched GEMM (or the fused additive op), one masked softmax over (B,T,S), contexts by
 * one more batched GEMM. Batch b's (T,H) and (S,H) matrices are read in place from the time-major
 * tensors: they start at column b*H and step B*H floats from row to row. */
#include "baton/attention.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *baton_attn_score_name(baton_attn_score score)
{
    switch (score) {
    case BATON_ATTN_DOT: return "dot";
    case BATON_ATTN_GENERAL: return "general";
    case BATON_ATTN_ADDITIVE: return "additive";
    }
    return "unknown";
}

baton_status baton_attn_score_parse(baton_attn_score *score, const char *name)
{
    for (int s = BATON_ATTN_DOT; s <= BATON_ATTN_ADDITIVE; s++)
        if (strcmp(name, baton_attn_score_name((baton_attn_score)s)) == 0) {
            *score = (baton_attn_score)s;
            return BATON_OK;
        }
    return BATON_ERROR(BATON_ERR_INVALID, "attention '%s': expected dot, general or additive", name);
}

static baton_status add(baton_param_table *t, int *index, const char *prefix, const char *what, int ndim,
                        int64_t rows, int64_t cols)
{
    char name[BATON_PARAM_NAME_MAX];
    int n = snprintf(name, sizeof name, "%s.%s", prefix, what);
    BATON_REQUIRE(n > 0 && (size_t)n < sizeof name, "attention prefix '%s' is too long", prefix);
    int64_t shape[2] = {rows, cols};
    return baton_param_add(t, index, name, ndim, shape);
}

baton_status baton_attention_init(baton_attention *at, baton_attn_score score, int H, baton_param_table *t,
                                  const char *prefix)
{
    memset(at, 0, sizeof *at);
    at->w_a = at->w_q = at->b_q = at->w_k = at->v = -1;
    at->score = score;
    at->H = H;
    BATON_REQUIRE(H > 0, "%s: hidden size %d, expected > 0", prefix, H);
    switch (score) {
    case BATON_ATTN_DOT: return BATON_OK;
    case BATON_ATTN_GENERAL: return add(t, &at->w_a, prefix, "general.weight", 2, H, H);
    case BATON_ATTN_ADDITIVE:
        BATON_TRY(add(t, &at->w_q, prefix, "query.weight", 2, H, H));
        BATON_TRY(add(t, &at->b_q, prefix, "query.bias", 1, H, 0));
        BATON_TRY(add(t, &at->w_k, prefix, "key.weight", 2, H, H));
        return add(t, &at->v, prefix, "v.weight", 2, 1, H);
    }
    return BATON_ERROR(BATON_ERR_INVALID, "%s: unknown score type %d", prefix, (int)score);
}

void baton_attention_init_weights(const baton_attention *at, const baton_param_table *t, float *host, uint64_t seed)
{
    int idx[5] = {at->w_a, at->w_q, at->b_q, at->w_k, at->v};
    float bound = 1.0f / sqrtf((float)at->H); /* every one of these Linear layers has H inputs */
    for (int i = 0; i < 5; i++)
        if (idx[i] >= 0)
            baton_param_init_uniform(t, host, idx[i], bound, seed);
}

baton_status baton_attention_acts_carve(baton_attention_acts *acts, baton_arena *a, const baton_attention *at,
                                        int T_max, int S_max, int B_max)
{
    return baton_attention_acts_carve_ex(acts, a, at, T_max, S_max, B_max, 1);
}

baton_status baton_attention_acts_carve_ex(baton_attention_acts *acts, baton_arena *a, const baton_attention *at,
                                           int T_max, int S_max, int B_max, int with_keys)
{
    memset(acts, 0, sizeof *acts);
    size_t T = (size_t)T_max, S = (size_t)S_max, B = (size_t)B_max, H = (size_t)at->H;
    if (at->score == BATON_ATTN_ADDITIVE && with_keys) {
        BATON_TRY(baton_arena_floats(a, &acts->keys, S * B * H, "attention keys"));
        BATON_TRY(baton_arena_floats(a, &acts->dkeys, S * B * H, "attention key gradients"));
    }
    if (at->score != BATON_ATTN_DOT) {
        BATON_TRY(baton_arena_floats(a, &acts->query, T * B * H, "attention queries"));
        BATON_TRY(baton_arena_floats(a, &acts->dquery, T * B * H, "attention query gradients"));
    }
    BATON_TRY(baton_arena_floats(a, &acts->scores, B * T * S, "attention scores"));
    BATON_TRY(baton_arena_floats(a, &acts->p, B * T * S, "attention weights"));
    return baton_arena_floats(a, &acts->dp, B * T * S, "attention weight gradients");
}

static const float *W(const float *buf, const baton_param_table *t, int index)
{
    return buf + t->items[index].offset;
}

static float *dW(float *grads, const baton_param_table *t, int index)
{
    return grads + t->items[index].offset;
}

baton_status baton_attention_keys(baton_backend *be, const baton_attention *at, float *keys, const float *m,
                                  const float *params, const baton_param_table *t, int S, int B)
{
    if (at->score != BATON_ATTN_ADDITIVE)
        return BATON_OK;
    int H = at->H;
    return be->ops->gemm(be, 0, 1, S * B, H, H, 1.0f, m, H, W(params, t, at->w_k), H, 0.0f, keys, H);
}

baton_status baton_attention_keys_backward(baton_backend *be, const baton_attention *at, float *dm, float *grads,
                                           const float *dkeys, const float *m, const float *params,
                                           const baton_param_table *t, int S, int B)
{
    if (at->score != BATON_ATTN_ADDITIVE)
        return BATON_OK;
    int H = at->H;
    BATON_TRY(be->ops->gemm(be, 1, 0, H, H, S * B, 1.0f, dkeys, H, m, H, 1.0f, dW(grads, t, at->w_k), H));
    return be->ops->gemm(be, 0, 0, S * B, H, H, 1.0f, dkeys, H, W(params, t, at->w_k), H, 1.0f, dm, H);
}

/* One product per group, or one batched product where the groups are all as large (most beam
 * steps: every source holds `beam` rows): C_g (n_g, N) = A_g (n_g, K) op(M_g), with A_g and C_g the
 * group's rows (lda, ldc apart) and M_g source g's contiguous memory (S x H, ld H). */
static baton_status per_group(baton_backend *be, const baton_attention_acts *acts, int trans_m, int N, int K,
                              const float *A, int lda, const float *m, int S, int H, float *C, int ldc)
{
    const int *g = acts->groups;
    int G = acts->n_groups, k = g[1] - g[0], uniform = 1;
    for (int i = 1; i < G && uniform; i++)
        uniform = g[i + 1] - g[i] == k;
    if (uniform)
        return be->ops->gemm_batched(be, 0, trans_m, k, N, K, 1.0f, A, lda, (int64_t)k * lda, m, H, (int64_t)S * H,
                                     0.0f, C, ldc, (int64_t)k * ldc, G);
    for (int i = 0; i < G; i++)
        if (g[i + 1] > g[i])
            BATON_TRY(be->ops->gemm(be, 0, trans_m, g[i + 1] - g[i], N, K, 1.0f, A + (size_t)g[i] * lda, lda,
                                    m + (size_t)i * S * H, H, 0.0f, C + (size_t)g[i] * ldc, ldc));
    return BATON_OK;
}

baton_status baton_attention_forward(baton_backend *be, const baton_attention *at, baton_attention_acts *acts,
                                     float *ctx, const float *q, const float *m, const int *src_len,
                                     const float *params, const baton_param_table *t, int T, int S, int B)
{
    const baton_ops *ops = be->ops;
    int H = at->H, ld = B * H;
    /* general: q_t . (W_a m_s) = (q_t W_a) . m_s, so the projection goes to the T queries, not the S
     * memory rows: a step-by-step decoder (T = 1) then pays B H^2 per step instead of S B H^2; but
     * beam search's rows of a source outnumber its memory rows over the steps, so there the memory
     * comes projected (acts->values) */
    if (at->score == BATON_ATTN_GENERAL && !(acts->groups && acts->values)) {
        BATON_TRY(ops->gemm(be, 0, 0, T * B, H, H, 1.0f, q, H, W(params, t, at->w_a), H, 0.0f, acts->query, H));
        q = acts->query;
    }
    if (acts->groups) { /* decoding, memory (G,S,H): scores and contexts of (B,1,S) and (1,B,H) */
        BATON_REQUIRE(T == 1 && at->score != BATON_ATTN_ADDITIVE && acts->n_groups >= 1 &&
                          acts->groups[0] == 0 && acts->groups[acts->n_groups] == B,
                      "attention: rows grouped by source need T = 1, dot or general scores and groups covering "
                      "the %d rows (T = %d, %d groups)", B, T, acts->n_groups);
        BATON_TRY(per_group(be, acts, 1, S, H, q, H, m, S, H, acts->scores, S));
        BATON_TRY(ops->attn_softmax_forward(be, acts->p, acts->scores, src_len, B, 1, S));
        return per_group(be, acts, 0, H, S, acts->p, S, acts->values ? acts->values : m, S, H, ctx, H);
    }
    if (at->score == BATON_ATTN_ADDITIVE) {
        const float *keys = acts->shared_keys;
        if (!keys) {
            BATON_TRY(baton_attention_keys(be, at, acts->keys, m, params, t, S, B));
            keys = acts->keys;
        }
        BATON_TRY(ops->gemm(be, 0, 1, T * B, H, H, 1.0f, q, H, W(params, t, at->w_q), H, 0.0f, acts->query, H));
        BATON_TRY(ops->add_bias(be, acts->query, W(params, t, at->b_q), T * B, H));
        BATON_TRY(ops->additive_scores_forward(be, acts->scores, acts->query, keys, W(params, t, at->v), B, T, S,
                                               H));
    } else {
        BATON_TRY(ops->gemm_batched(be, 0, 1, T, S, H, 1.0f, q, ld, H, m, ld, H, 0.0f, acts->scores, S,
                                    (int64_t)T * S, B));
    }
    BATON_TRY(ops->attn_softmax_forward(be, acts->p, acts->scores, src_len, B, T, S));
    return ops->gemm_batched(be, 0, 0, T, H, S, 1.0f, acts->p, S, (int64_t)T * S, m, ld, H, 0.0f, ctx, ld, H, B);
}

baton_status baton_attention_backward(baton_backend *be, const baton_attention *at, baton_attention_acts *acts,
                                      float *dq, float *dm, float *grads, const float *dctx, const float *q,
                                      const float *m, const float *params, const baton_param_table *t, int T,
                                      int S, int B)
{
    const baton_ops *ops = be->ops;
    int H = at->H, ld = B * H;
    int64_t TS = (int64_t)T * S;
    float *ds = acts->scores; /* the scores are spent; their gradient takes their place */
    BATON_TRY(ops->gemm_batched(be, 0, 1, T, S, H, 1.0f, dctx, ld, H, m, ld, H, 0.0f, acts->dp, S, TS, B));
    BATON_TRY(ops->gemm_batched(be, 1, 0, S, H, T, 1.0f, acts->p, S, TS, dctx, ld, H, 0.0f, dm, ld, H, B));
    BATON_TRY(ops->attn_softmax_backward(be, ds, acts->dp, acts->p, B, T, S));
    if (at->score == BATON_ATTN_ADDITIVE) {
        const float *keys = acts->shared_keys ? acts->shared_keys : acts->keys;
        BATON_TRY(ops->additive_scores_backward(be, acts->dquery, acts->dkeys, dW(grads, t, at->v), ds, acts->query,
                                                keys, W(params, t, at->v), B, T, S, H));
        BATON_TRY(ops->gemm(be, 1, 0, H, H, T * B, 1.0f, acts->dquery, H, q, H, 1.0f, dW(grads, t, at->w_q), H));
        BATON_TRY(ops->colsum_add(be, dW(grads, t, at->b_q), NULL, acts->dquery, T * B, H));
        BATON_TRY(ops->gemm(be, 0, 0, T * B, H, H, 1.0f, acts->dquery, H, W(params, t, at->w_q), H, 1.0f, dq, H));
        if (acts->shared_keys) /* the caller finishes the keys once, with baton_attention_keys_backward */
            return ops->axpby(be, acts->shared_dkeys, acts->dkeys, 1.0f, 1.0f, (size_t)S * B * H);
        return baton_attention_keys_backward(be, at, dm, grads, acts->dkeys, m, params, t, S, B);
    }
    if (at->score == BATON_ATTN_DOT) { /* the memory is its own key: scores = q . m */
        BATON_TRY(ops->gemm_batched(be, 0, 0, T, H, S, 1.0f, ds, S, TS, m, ld, H, 1.0f, dq, ld, H, B));
        return ops->gemm_batched(be, 1, 0, S, H, T, 1.0f, ds, S, TS, q, ld, H, 1.0f, dm, ld, H, B);
    }
    /* general: scores = q' . m with q' = q W_a (see forward) */
    BATON_TRY(ops->gemm_batched(be, 1, 0, S, H, T, 1.0f, ds, S, TS, acts->query, ld, H, 1.0f, dm, ld, H, B));
    BATON_TRY(ops->gemm_batched(be, 0, 0, T, H, S, 1.0f, ds, S, TS, m, ld, H, 0.0f, acts->dquery, ld, H, B));
    BATON_TRY(ops->gemm(be, 1, 0, H, H, T * B, 1.0f, q, H, acts->dquery, H, 1.0f, dW(grads, t, at->w_a), H));
    return ops->gemm(be, 0, 1, T * B, H, H, 1.0f, acts->dquery, H, W(params, t, at->w_a), H, 1.0f, dq, H);
}
