/* cell_dispatch.cu: host-only glue of the recurrent cell kernels: the grid-size and argument
 * checks they share and the dispatch from a baton_cell value to the launcher of that cell's
 * family (lstm_cell.cu, gru_cell.cu, rnn_tanh_cell.cu). No kernels live here.
 *
 * Versions:
 *   v1 plain: dispatches to the v1 kernels (one thread per (b,j) element).
 *
 * Status: compiled, never yet run on a GPU; validated only by tests/gpu/test_cells_gpu.c on a GPU. */
#include <limits.h>

#include "baton/cell_math.h"
#include "baton/status.h"
#include "kernels/cell_launch.cuh"
#include "kernels/kernels.h"

#define NEED(field)                                                                                   \
    BATON_REQUIRE(a->field != NULL, "%s: args->" #field " is NULL; a %s step needs it", who,           \
                  baton_cell_label(cell))

static const char *baton_cell_label(baton_cell cell)
{
    return cell == BATON_CELL_LSTM ? "LSTM" : cell == BATON_CELL_GRU ? "GRU" : "tanh RNN";
}

static baton_status check_ldy(int ldy, int B, int Hd, const char *who)
{
    BATON_REQUIRE(ldy >= Hd && (long long)B * ldy <= INT_MAX,
                  "%s: ldy = %d with B = %d, expected Hd = %d <= ldy and B*ldy <= INT_MAX", who, ldy, B, Hd);
    return BATON_OK;
}

baton_status baton_kernel_cell_check(baton_cell cell, const baton_cell_fwd_args *a, const char *who)
{
    NEED(lengths);
    NEED(xg);
    NEED(hg);
    NEED(b_ih);
    NEED(b_hh);
    NEED(h_prev);
    NEED(h);
    NEED(y);
    if (cell == BATON_CELL_LSTM) {
        NEED(c_prev);
        NEED(c);
    }
    /* save may be NULL: an inference forward (cell_math.h) */
    return check_ldy(a->ldy, a->B, a->Hd, who);
}

baton_status baton_kernel_cell_check(baton_cell cell, const baton_cell_bwd_args *a, const char *who)
{
    NEED(lengths);
    NEED(dy);
    NEED(dh);
    NEED(dgx);
    NEED(dh_prev);
    if (cell == BATON_CELL_RNN_TANH)
        NEED(h);
    if (cell == BATON_CELL_LSTM) {
        NEED(dc);
        NEED(c_prev);
        NEED(c);
        NEED(dc_prev);
    }
    if (cell == BATON_CELL_GRU) {
        NEED(h_prev);
        NEED(dgh);
    }
    if (baton_cell_saved(cell))
        NEED(save);
    return check_ldy(a->ldy, a->B, a->Hd, who);
}

#undef NEED

extern "C" baton_status baton_kernel_cell_blocks(unsigned *blocks, baton_cell cell, int B, int Hd, const char *who)
{
    *blocks = 0;
    BATON_REQUIRE(B >= 0 && Hd >= 0, "%s: B = %d, Hd = %d, expected sizes >= 0", who, B, Hd);
    /* cell_math.h indexes a row as b*W + q*Hd + j in int, W the widest row (G or S blocks). */
    int gates = baton_cell_gates(cell), saved = baton_cell_saved(cell);
    long long width = (long long)(gates > saved ? gates : saved) * Hd;
    BATON_REQUIRE((long long)B * width <= INT_MAX,
                  "%s: B = %d, Hd = %d gives %lld elements per gate tensor, expected at most INT_MAX", who, B,
                  Hd, (long long)B * width);
    long long n = (long long)B * Hd;
    *blocks = (unsigned)((n + BATON_CELL_THREADS - 1) / BATON_CELL_THREADS);
    return BATON_OK;
}

extern "C" baton_status baton_kernel_cell_forward(baton_cell cell, const baton_cell_fwd_args *a,
                                                  cudaStream_t stream)
{
    switch (cell) {
    case BATON_CELL_RNN_TANH: return baton_kernel_rnn_tanh_forward(a, stream);
    case BATON_CELL_LSTM: return baton_kernel_lstm_forward(a, stream);
    case BATON_CELL_GRU: return baton_kernel_gru_forward(a, stream);
    }
    return BATON_ERROR(BATON_ERR_INVALID,
                       "baton_kernel_cell_forward: cell = %d, expected 0 (rnn_tanh), 1 (lstm) or 2 (gru)",
                       (int)cell);
}

extern "C" baton_status baton_kernel_cell_backward(baton_cell cell, const baton_cell_bwd_args *a,
                                                   cudaStream_t stream)
{
    switch (cell) {
    case BATON_CELL_RNN_TANH: return baton_kernel_rnn_tanh_backward(a, stream);
    case BATON_CELL_LSTM: return baton_kernel_lstm_backward(a, stream);
    case BATON_CELL_GRU: return baton_kernel_gru_backward(a, stream);
    }
    return BATON_ERROR(BATON_ERR_INVALID,
                       "baton_kernel_cell_backward: cell = %d, expected 0 (rnn_tanh), 1 (lstm) or 2 (gru)",
                       (int)cell);
}
