/* generator.c: the generator (logits = h~ W_out^T + b_out) and, fused with it, the softmax
 * cross-entropy and the generator's backward (be->versions.loss = 1, "fused").
 *
 * The plain loss (seq2seq.c) materialises the logits of all T*B rows: for gnmt (T*B = 6400,
 * V = 32000) an 819 MB tensor written by the GEMM, read and written by the bias, the
 * cross-entropy (dlogits in place), the bias column sum and two GEMMs. The fused loss takes the
 * rows a chunk of R at a time and finishes each chunk before the next: logits (R,V) = h~_c W_out^T
 * + b_out, the cross-entropy in place (the chunk's loss sum, log p per row, dlogits), then at once
 * db_out += colsum(dlogits_c), dW_out += dlogits_c^T h~_c and d h~_c = dlogits_c W_out. The
 * activations hold one chunk of logits (baton_s2s_acts_carve_ex), and a chunk is sized to stay in
 * L2 between the ops that write and read it. Only existing ops: nothing new in either backend.
 *
 * Chunk size, baton_s2s_chunk_rows: the most rows, in multiples of 64 and at least 64, whose V
 * fp32 logits fit in 25 MiB, half of the 50 MiB L2 of both an H100 (SXM) and an H200 (one GH100
 * die each). The other half holds what streams past the chunk meanwhile: the tiles of W_out
 * (131 MB for gnmt, too large to stay), the chunk's h~ and d h~ (R*H floats each, 0.8 MB for
 * gnmt), and with bf16 the chunk's bf16 copy of dlogits that the two backward GEMMs read (half the
 * logits again, 12 MB). Multiples of 64 keep a chunk's GEMMs on whole 64-row tiles. gnmt: 192
 * rows (23.4 MiB), 34 chunks of its 6400 rows; V = 8000 (tiny, base): 768 rows (23.4 MiB). The
 * same rule as generator_fused in bench/perfmodel/model.py, so that the model counts what the code runs.
 *
 * The price: each chunk reads W_out twice and reads and writes dW_out once (the K of dW_out's GEMM
 * is split into chunks), so for a large V*H (gnmt) the DRAM traffic grows by more than the logits'
 * traffic it saves; what is certain is the memory (819 MB less for gnmt). docs/perf-model.md
 * models it.
 *
 * Order of the loss sum: each chunk's sum is the op's own deterministic sum (in double); chunk 0's
 * goes straight to acts->loss and the others' to acts->chunk_loss, added by one column sum in
 * chunk order. The sum is therefore fixed for a given (T*B, R) on every run and device, and
 * differs from the plain loss's by float rounding only (one rounding per chunk sum). */
#include "seq2seq_internal.h"

#define CHUNK_L2_BYTES (25u << 20) /* half of the 50 MiB L2 of an H100 SXM or an H200 */
#define CHUNK_ROW_QUANTUM 64

int baton_s2s_chunk_rows(int V)
{
    size_t fit = V > 0 ? CHUNK_L2_BYTES / ((size_t)V * sizeof(float)) : CHUNK_ROW_QUANTUM;
    size_t rows = fit / CHUNK_ROW_QUANTUM * CHUNK_ROW_QUANTUM;
    return rows < CHUNK_ROW_QUANTUM ? CHUNK_ROW_QUANTUM : rows > (1u << 30) ? 1 << 30 : (int)rows;
}

baton_status baton_s2s_generator(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts, const float *params,
                                 const baton_param_table *t, const float *hd, int rows)
{
    int H = m->cfg.hidden, V = m->cfg.tgt_vocab;
    BATON_REQUIRE(rows <= acts->logit_rows,
                  "generator: logits of %d rows wanted, the activations hold %d (carved for the fused loss; "
                  "the plain loss and decoding need activations from baton_s2s_acts_carve)",
                  rows, acts->logit_rows);
    BATON_TRY(be->ops->gemm(be, 0, 1, rows, V, H, 1.0f, hd, H, W(params, t, m->w_out), H, 0.0f, acts->logits, V));
    return be->ops->add_bias(be, acts->logits, W(params, t, m->b_out), rows, V);
}

baton_status baton_s2s_generator_argmax(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts,
                                        const float *params, const baton_param_table *t, const float *hd,
                                        const float *mask, int *ids, int rows)
{
    int H = m->cfg.hidden, V = m->cfg.tgt_vocab;
    BATON_REQUIRE(rows <= acts->logit_rows, "generator argmax: %d rows, the activations hold logits of %d", rows,
                  acts->logit_rows);
    if (be->ops->generator_argmax && be->versions.greedy)
        return be->ops->generator_argmax(be, ids, acts->logits, hd, W(params, t, m->w_out), W(params, t, m->b_out),
                                         mask, rows, V, H);
    BATON_TRY(baton_s2s_generator(be, m, acts, params, t, hd, rows));
    if (mask)
        BATON_TRY(be->ops->add_bias(be, acts->logits, mask, rows, V));
    return be->ops->argmax_rows(be, ids, acts->logits, rows, V);
}

baton_status baton_s2s_loss_fused(baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts, float *grads,
                                  const float *params, const baton_param_table *t, const baton_s2s_batch *batch,
                                  const float *hd)
{
    const baton_ops *ops = be->ops;
    int H = m->cfg.hidden, V = m->cfg.tgt_vocab, N = batch->T * batch->B, R = acts->chunk_rows;
    BATON_REQUIRE(R >= 1 && R <= acts->logit_rows,
                  "fused loss: chunks of %d rows, expected 1 .. %d (the rows of logits the activations hold)", R,
                  acts->logit_rows);
    const float *w_out = W(params, t, m->w_out);
    float *logits = acts->logits;
    int chunks = (N + R - 1) / R;
    for (int c = 0; c < chunks; c++) {
        int r0 = c * R, n = N - r0 < R ? N - r0 : R;
        const float *hc = hd + (size_t)r0 * H;
        BATON_TRY(baton_s2s_generator(be, m, acts, params, t, hc, n));
        BATON_TRY(ops->xent_forward_backward(be, c ? acts->chunk_loss + c : acts->loss, acts->logp + r0,
                                             grads ? logits : NULL, acts->row_loss + r0, logits,
                                             batch->tgt_out + r0, n, V, m->cfg.label_smoothing, batch->loss_scale));
        if (!grads)
            continue;
        BATON_TRY(ops->colsum_add(be, dW(grads, t, m->b_out), NULL, logits, n, V));
        BATON_TRY(ops->gemm(be, 1, 0, V, H, n, 1.0f, logits, V, hc, H, 1.0f, dW(grads, t, m->w_out), H));
        BATON_TRY(ops->gemm(be, 0, 0, n, H, V, 1.0f, logits, V, w_out, H, 0.0f, acts->d_th + (size_t)r0 * H, H));
    }
    /* acts->loss (chunk 0's sum) += the other chunks' sums, in chunk order */
    return chunks > 1 ? ops->colsum_add(be, acts->loss, NULL, acts->chunk_loss + 1, chunks - 1, 1) : BATON_OK;
}
