/* cpu_ops.c: the CPU backend's loops. The cell ops call the per-element functions of
 * cell_math.h, the same ones the CUDA kernels call, so the CPU tests check the kernels' formulas.
 * Loops split over OpenMP threads only above a size where that pays (BATON_PARALLEL_FOR). */
#include <math.h>
#include <string.h>

#include "baton/attn_math.h"
#include "baton/rng.h"
#include "cpu_internal.h"

/* Rows go to threads. Validity is tested once per row, so the unit loop of a valid row is
 * straight-line arithmetic that vectorizes (omp simd); padded rows only copy. */
#define CELL_LOOP(a, step, pad)                                      \
    do {                                                             \
        long work = (long)(a)->B * (a)->Hd * 32;                     \
        BATON_PARALLEL_FOR                                           \
        for (int b = 0; b < (a)->B; b++) {                           \
            if (baton_cell_valid((a)->lengths, b, (a)->t)) {         \
                BATON_OMP_PRAGMA(omp simd)                           \
                for (int j = 0; j < (a)->Hd; j++)                    \
                    step((a), b, j);                                 \
            } else {                                                 \
                for (int j = 0; j < (a)->Hd; j++)                    \
                    pad;                                             \
            }                                                        \
        }                                                            \
    } while (0)

BATON_CPU_CLONES
baton_status baton_cpu_cell_forward(baton_backend *be, baton_cell cell, const baton_cell_fwd_args *a)
{
    (void)be;
    switch (cell) {
    case BATON_CELL_RNN_TANH: CELL_LOOP(a, baton_rnn_tanh_fwd_step, baton_cell_fwd_pad(a, b, j)); break;
    case BATON_CELL_LSTM: CELL_LOOP(a, baton_lstm_fwd_step, baton_cell_fwd_pad(a, b, j)); break;
    case BATON_CELL_GRU: CELL_LOOP(a, baton_gru_fwd_step, baton_cell_fwd_pad(a, b, j)); break;
    default: return BATON_ERROR(BATON_ERR_INVALID, "cell forward: unknown cell type %d", (int)cell);
    }
    return BATON_OK;
}

BATON_CPU_CLONES
baton_status baton_cpu_cell_backward(baton_backend *be, baton_cell cell, const baton_cell_bwd_args *a)
{
    (void)be;
    switch (cell) {
    case BATON_CELL_RNN_TANH: CELL_LOOP(a, baton_rnn_tanh_bwd_step, baton_cell_bwd_pad(a, 1, b, j)); break;
    case BATON_CELL_LSTM: CELL_LOOP(a, baton_lstm_bwd_step, baton_cell_bwd_pad(a, 4, b, j)); break;
    case BATON_CELL_GRU: CELL_LOOP(a, baton_gru_bwd_step, baton_cell_bwd_pad(a, 3, b, j)); break;
    default: return BATON_ERROR(BATON_ERR_INVALID, "cell backward: unknown cell type %d", (int)cell);
    }
    return BATON_OK;
}

/* The cell of one step over units j0 <= j < j1 of every row, on the calling thread: the packed
 * recurrence (cpu_recur.c) runs each thread's units right after their recurrent product. */
#define CELL_UNITS(a, step, pad, j0, j1)                             \
    do {                                                             \
        for (int b = 0; b < (a)->B; b++) {                           \
            if (baton_cell_valid((a)->lengths, b, (a)->t)) {         \
                BATON_OMP_PRAGMA(omp simd)                           \
                for (int j = (j0); j < (j1); j++)                    \
                    step((a), b, j);                                 \
            } else {                                                 \
                for (int j = (j0); j < (j1); j++)                    \
                    pad;                                             \
            }                                                        \
        }                                                            \
    } while (0)

BATON_CPU_CLONES_512
void baton_cpu_cell_forward_units(baton_cell cell, const baton_cell_fwd_args *a, int j0, int j1)
{
    switch (cell) {
    case BATON_CELL_RNN_TANH: CELL_UNITS(a, baton_rnn_tanh_fwd_step, baton_cell_fwd_pad(a, b, j), j0, j1); break;
    case BATON_CELL_LSTM: CELL_UNITS(a, baton_lstm_fwd_step, baton_cell_fwd_pad(a, b, j), j0, j1); break;
    case BATON_CELL_GRU: CELL_UNITS(a, baton_gru_fwd_step, baton_cell_fwd_pad(a, b, j), j0, j1); break;
    }
}

BATON_CPU_CLONES_512
void baton_cpu_cell_backward_units(baton_cell cell, const baton_cell_bwd_args *a, int j0, int j1)
{
    switch (cell) {
    case BATON_CELL_RNN_TANH: CELL_UNITS(a, baton_rnn_tanh_bwd_step, baton_cell_bwd_pad(a, 1, b, j), j0, j1); break;
    case BATON_CELL_LSTM: CELL_UNITS(a, baton_lstm_bwd_step, baton_cell_bwd_pad(a, 4, b, j), j0, j1); break;
    case BATON_CELL_GRU: CELL_UNITS(a, baton_gru_bwd_step, baton_cell_bwd_pad(a, 3, b, j), j0, j1); break;
    }
}

baton_status baton_cpu_axpby(baton_backend *be, float *y, const float *x, float alpha, float beta, size_t n)
{
    (void)be;
    long work = (long)n;
    if (beta == 0.0f) {
        BATON_PARALLEL_FOR
        for (long i = 0; i < work; i++)
            y[i] = alpha * x[i];
    } else {
        BATON_PARALLEL_FOR
        for (long i = 0; i < work; i++)
            y[i] = alpha * x[i] + beta * y[i];
    }
    return BATON_OK;
}

baton_status baton_cpu_colsum_add(baton_backend *be, float *out, float *out2, const float *in, int rows, int cols)
{
    (void)be;
    long work = (long)rows * cols;
    /* Each thread owns chunks of 64 whole columns and walks the rows in order, so reads stay
     * contiguous and every sum is taken in the same order for any thread count. */
    int chunks = (cols + 63) / 64;
    BATON_PARALLEL_FOR
    for (int c = 0; c < chunks; c++) {
        int j0 = c * 64, n = j0 + 64 < cols ? 64 : cols - j0;
        double acc[64] = {0};
        for (int i = 0; i < rows; i++) {
            const float *row = in + (size_t)i * cols + j0;
            for (int j = 0; j < n; j++)
                acc[j] += row[j];
        }
        for (int j = 0; j < n; j++)
            out[j0 + j] += (float)acc[j];
        if (out2) /* the same float sums: one pass over in serves both bias gradients */
            for (int j = 0; j < n; j++)
                out2[j0 + j] += (float)acc[j];
    }
    return BATON_OK;
}

baton_status baton_cpu_sumsq(baton_backend *be, float *out, const float *x, size_t n)
{
    (void)be;
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    *out = (float)s;
    return BATON_OK;
}

baton_status baton_cpu_dropout(baton_backend *be, float *y, const float *x, size_t n, float p, uint64_t seed,
                               uint32_t purpose, const uint32_t *counter_at)
{
    (void)be;
    uint32_t counter = *counter_at;
    BATON_REQUIRE(p >= 0.0f && p < 1.0f, "dropout: probability %g, expected 0 <= p < 1", (double)p);
    long blocks = (long)((n + 3) / 4), work = (long)n;
    /* One Philox block serves four consecutive elements, exactly as baton_rng_dropout_scale indexes them. */
    BATON_PARALLEL_FOR
    for (long blk = 0; blk < blocks; blk++) {
        baton_u32x4 r = baton_rng_block(seed, purpose, counter, (uint64_t)blk);
        for (int lane = 0; lane < 4; lane++) {
            size_t i = (size_t)blk * 4 + (size_t)lane;
            if (i < n)
                y[i] = x[i] * baton_rng_keep_scale(r.v[lane], p);
        }
    }
    return BATON_OK;
}

baton_status baton_cpu_embed_gather(baton_backend *be, float *out, const int *ids, const float *table, int n, int dim)
{
    (void)be;
    long work = (long)n * dim;
    BATON_PARALLEL_FOR
    for (int i = 0; i < n; i++)
        memcpy(out + (size_t)i * dim, table + (size_t)ids[i] * dim, (size_t)dim * sizeof(float));
    return BATON_OK;
}

baton_status baton_cpu_embed_scatter_add(baton_backend *be, float *dtable, const int *ids, const float *dout, int n,
                                         int dim)
{
    (void)be;
    long work = (long)n * dim;
    /* Threads split the columns in chunks of 64, never the rows, so each sum is taken in id order on
     * any thread count, while the inner loop stays contiguous. */
    int chunks = (dim + 63) / 64;
    BATON_PARALLEL_FOR
    for (int c = 0; c < chunks; c++) {
        int j0 = c * 64, j1 = j0 + 64 < dim ? j0 + 64 : dim;
        for (int i = 0; i < n; i++) {
            float *dst = dtable + (size_t)ids[i] * dim;
            const float *src = dout + (size_t)i * dim;
            for (int j = j0; j < j1; j++)
                dst[j] += src[j];
        }
    }
    return BATON_OK;
}

/* Elementwise loops go to threads in blocks of this many elements (a parallel for and a simd
 * loop cannot share one loop level), each block one contiguous simd loop. */
#define ELEM_BLOCK 4096

baton_status baton_cpu_copy2d(baton_backend *be, float *dst, int ld_dst, const float *src, int ld_src, int rows,
                              int cols)
{
    (void)be;
    BATON_REQUIRE(rows >= 0 && cols >= 0 && ld_dst >= cols && ld_src >= cols,
                  "copy2d: rows %d, cols %d, ld_dst %d, ld_src %d; expected rows, cols >= 0 and lds >= cols", rows,
                  cols, ld_dst, ld_src);
    long work = (long)rows * cols;
    BATON_PARALLEL_FOR
    for (int i = 0; i < rows; i++)
        memcpy(dst + (size_t)i * ld_dst, src + (size_t)i * ld_src, (size_t)cols * sizeof(float));
    return BATON_OK;
}

baton_status baton_cpu_add_bias(baton_backend *be, float *y, const float *bias, int rows, int cols)
{
    (void)be;
    BATON_REQUIRE(rows >= 0 && cols >= 0, "add_bias: rows %d, cols %d, expected >= 0", rows, cols);
    long work = (long)rows * cols;
    BATON_PARALLEL_FOR
    for (int i = 0; i < rows; i++) {
        float *row = y + (size_t)i * cols;
        BATON_OMP_PRAGMA(omp simd)
        for (int j = 0; j < cols; j++)
            row[j] += bias[j];
    }
    return BATON_OK;
}

BATON_CPU_CLONES
baton_status baton_cpu_tanh_forward(baton_backend *be, float *y, const float *x, size_t n)
{
    (void)be;
    long work = (long)n * 16, blocks = (long)((n + ELEM_BLOCK - 1) / ELEM_BLOCK); /* tanh: ~16 flops */
    BATON_PARALLEL_FOR
    for (long blk = 0; blk < blocks; blk++) {
        size_t i0 = (size_t)blk * ELEM_BLOCK, i1 = i0 + ELEM_BLOCK < n ? i0 + ELEM_BLOCK : n;
        BATON_OMP_PRAGMA(omp simd)
        for (size_t i = i0; i < i1; i++)
            y[i] = baton_tanh(x[i]);
    }
    return BATON_OK;
}

baton_status baton_cpu_tanh_backward(baton_backend *be, float *dx, const float *dy, const float *y, size_t n)
{
    (void)be;
    long work = (long)n, blocks = (long)((n + ELEM_BLOCK - 1) / ELEM_BLOCK);
    BATON_PARALLEL_FOR
    for (long blk = 0; blk < blocks; blk++) {
        size_t i0 = (size_t)blk * ELEM_BLOCK, i1 = i0 + ELEM_BLOCK < n ? i0 + ELEM_BLOCK : n;
        BATON_OMP_PRAGMA(omp simd)
        for (size_t i = i0; i < i1; i++)
            dx[i] = baton_tanh_grad(dy[i], y[i]);
    }
    return BATON_OK;
}

baton_status baton_cpu_argmax_rows(baton_backend *be, int *idx, const float *x, int rows, int cols)
{
    (void)be;
    BATON_REQUIRE(cols >= 1, "argmax: %d columns, expected >= 1", cols);
    long work = (long)rows * cols;
    BATON_PARALLEL_FOR
    for (int i = 0; i < rows; i++) {
        const float *row = x + (size_t)i * cols;
        int best = 0;
        for (int j = 1; j < cols; j++)
            best = row[j] > row[best] ? j : best;
        idx[i] = best;
    }
    return BATON_OK;
}

BATON_CPU_CLONES
baton_status baton_cpu_topk_rows(baton_backend *be, float *val, int *idx, float *lse, const float *x, int rows,
                                 int cols, int k)
{
    (void)be;
    BATON_REQUIRE(k >= 1 && k <= cols && k <= BATON_TOPK_MAX, "topk_rows: k %d, expected 1..%d (columns %d, at most %d)",
                  k, cols < BATON_TOPK_MAX ? cols : BATON_TOPK_MAX, cols, BATON_TOPK_MAX);
    long work = (long)rows * cols * 4;
    BATON_PARALLEL_FOR
    for (int i = 0; i < rows; i++) {
        const float *row = x + (size_t)i * cols;
        lse[i] = baton_row_logsumexp(row, cols);
        baton_row_topk(val + (size_t)i * k, idx + (size_t)i * k, row, cols, k);
    }
    return BATON_OK;
}
