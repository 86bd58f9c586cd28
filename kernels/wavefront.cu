/* wavefront.cu: a stack of unidirectional recurrent layers as one wavefront ("wavefront" of
 * --rnn-impl; recur.h's baton_recur_wave).
 *
 * What a launch computes. Grid (X, L): block (x, l) owns units [x*U, x*U + U) of layer l, with the
 * ownership of recurrence.cu (recur_step.cuh). Forward launch s runs step t = s - l of layer l
 * (blocks whose layer has no step t return at once), T+L-1 launches in all:
 *   1. l >= 1: the input projection of step t, xg[b, q*Hd + j] = sum_k x[b, k] W_ih[q*Hd + j, k],
 *      x the output of layer l-1 at step t (written by the previous launch, dropout applied), into
 *      the layer's (B, G*Hd) scratch;
 *   2. fused-gemm's step: the recurrent sums and the cell (recur_step.cuh's fwd_step);
 *   3. l < L-1: the dropout between layers on the output the cell just wrote, with the mask that
 *      rnn.c's dropout op draws (baton_rng_dropout_scale of the element's index in (T, B, Hd)).
 * Backward launch s runs backward step k = s - (L-1-l) of layer l (0..T, as fused-gemm's), T+L
 * launches: for l < L-1 and a cell step at t, first the output gradient of layer l at t,
 * dy[b, j] = mask * sum_r dgx_{l+1}[t][b, r] W_ih_{l+1}[r, j] (layer l+1's gate gradients at t,
 * written by the previous launch), then bwd_step. The thread that writes xg (dy) of (b, j) is the
 * one that runs (b, j)'s cell: the element ownership is the same in both passes, so no barrier is
 * needed between them.
 *
 * Why: after the bidirectional encoder's two directions share a launch (fused-gemm), a decoder of
 * L layers still runs its L*T steps one after another; each is latency-bound at small B, with most
 * SMs idle. The wavefront runs L steps at once on L times the blocks, for the price of the input
 * projections and output gradients done step by step on CUDA cores instead of one tensor-core GEMM
 * over all steps (docs/recurrence.md, "wavefront").
 *
 * Precision: as fused-gemm; in bf16 the input x and the upper layer's gate gradients are rounded
 * to bf16 as they are read (what the layer-by-layer path's GEMMs read from their mirrors), W_ih
 * comes from its mirror.
 *
 * Status: compiled, never yet run on a GPU; validated by tests/gpu/test_recur_gpu.c on the
 * emulation against the CPU backend's layer-by-layer path, dropout included. */
#include <stdio.h>

#include "baton/cuda_check.h"
#include "baton/rng.h"
#include "kernels/recur_step.cuh"

namespace {

static_assert(sizeof(baton_kernel_wave_args) <= 4096, "a wavefront's arguments must fit a kernel's 4 KiB");

__device__ inline float operand(float v, const float *) { return v; }
__device__ inline float operand(float v, const uint16_t *) { return baton_bf16_to_f32(baton_bf16_from_f32(v)); }

/* W_ih of layer l (fp32, or its bf16 mirror), row-major (G*Hd, Hd). */
template <typename W> __device__ const W *w_in(const baton_kernel_wave_args &w, int l);
template <> __device__ const float *w_in<float>(const baton_kernel_wave_args &w, int l) { return w.w_ih[l]; }
template <> __device__ const uint16_t *w_in<uint16_t>(const baton_kernel_wave_args &w, int l) { return w.w_ih16[l]; }

/* Dropout scale of layer l's output element (t, b, j), as rnn.c's dropout op over (T, B, Hd). */
__device__ inline float keep_scale(const baton_kernel_wave_args &w, int l, int t, int b, int j)
{
    const baton_recur_args &a = w.layer[l].a;
    size_t index = ((size_t)t * a.B + b) * a.Hd + j;
    return baton_rng_dropout_scale(w.seed, w.purpose + (uint32_t)l, *w.counter, index, w.dropout);
}

template <baton_cell C, typename W>
__global__ void __launch_bounds__(BATON_RECUR_THREADS)
recur_wave_fwd(BATON_GRID_CONST baton_kernel_wave_args w, int s)
{
    constexpr int G = cellfn<C>::G;
    int l = (int)blockIdx.y, t = s - l;
    const baton_kernel_recur_args &p = w.layer[l];
    const baton_recur_args &a = p.a;
    if (t < 0 || t >= a.T)
        return;
    int B = a.B, Hd = a.Hd, GH = G * Hd;
    float *xg = a.dir[0].xg;
    if (l > 0) { /* the input projection of step t from the layer below */
        const baton_recur_args &below = w.layer[l - 1].a;
        const float *x = below.y + (size_t)t * B * below.ldy;
        const W *wi = w_in<W>(w, l);
        each_element<G>(
            p,
            [&](float (&acc)[UT * G], const element &el, int part, int ks) {
                if (baton_cell_valid(a.lengths, el.b, t))
                    dot_parts<G>(acc, el, Hd, part, ks,
                                 [&](int k) { return operand(__ldcg(x + (size_t)el.b * below.ldy + k), wi); },
                                 [&](int q, int j, int k) { return to_f32(wi[((size_t)q * Hd + j) * Hd + k]); });
            },
            [&](const float (&acc)[UT * G], const element &el) {
                for (int u = 0; u < el.nt; u++)
                    for (int q = 0; q < G; q++)
                        xg[(size_t)el.b * GH + q * Hd + el.j0 + u] = acc[u * G + q];
            });
    }
    bool drop = l + 1 < w.L && w.dropout > 0.0f;
    fwd_step<C, W>(
        p, 0, t, w_global<W>{operands<W>::w(p, 0), Hd},
        [&](baton_cell_fwd_args &c) {
            if (l > 0)
                c.xg = xg; /* one step's scratch, not (T, B, G*Hd) */
        },
        [&](int b, int j, int tt) {
            if (drop)
                a.y[((size_t)tt * B + b) * a.ldy + j] *= keep_scale(w, l, tt, b, j);
        });
}

template <baton_cell C, typename W>
__global__ void __launch_bounds__(BATON_RECUR_THREADS)
recur_wave_bwd(BATON_GRID_CONST baton_kernel_wave_args w, int s)
{
    int l = (int)blockIdx.y, k = s - (w.L - 1 - l);
    const baton_kernel_recur_args &p = w.layer[l];
    const baton_recur_args &a = p.a;
    if (k < 0 || k > a.T)
        return;
    int B = a.B, Hd = a.Hd, t = a.T - 1 - k;
    float *dy = (float *)a.dy;
    bool upper = l + 1 < w.L && k < a.T;
    if (upper) { /* the output gradient of step t from the layer above's gate gradients there */
        const baton_kernel_recur_args &up = w.layer[l + 1];
        int GHu = cellfn<C>::G * Hd;
        const W *wi = w_in<W>(w, l + 1);
        const float *dg32 = up.a.dir[0].dgx + (size_t)t * B * GHu;
        const uint16_t *dg16 = up.dgx16[0] ? up.dgx16[0] + (size_t)t * B * GHu : NULL;
        auto dg = [&](size_t i) { return sizeof(W) == 2 ? baton_bf16_to_f32(__ldcg(dg16 + i)) : __ldcg(dg32 + i); };
        each_element<1>(
            p,
            [&](float (&acc)[UT], const element &el, int part, int ks) {
                if (baton_cell_valid(a.lengths, el.b, t))
                    dot_parts<1>(acc, el, GHu, part, ks, [&](int r) { return dg((size_t)el.b * GHu + r); },
                                 [&](int, int j, int r) { return to_f32(wi[(size_t)r * Hd + j]); });
            },
            [&](const float (&acc)[UT], const element &el) {
                for (int u = 0; u < el.nt; u++) {
                    int j = el.j0 + u;
                    float scale = w.dropout > 0.0f ? keep_scale(w, l, t, el.b, j) : 1.0f;
                    dy[(size_t)el.b * Hd + j] = acc[u] * scale;
                }
            });
    }
    bwd_step<C, W>(p, 0, k, w_global<W>{operands<W>::w(p, 0), Hd}, [&](baton_cell_bwd_args &c) {
        if (upper) { /* one step's scratch, not (T, B, ldy) */
            c.dy = dy;
            c.ldy = Hd;
        }
    });
}

/* Enqueues every launch of one pass. */
template <baton_cell C, typename W> struct wave_op {
    static baton_status run(int backward, const baton_kernel_wave_args *k, cudaStream_t stream)
    {
        const baton_kernel_recur_args *l0 = &k->layer[0];
        int launches = l0->a.T + k->L - 1 + backward;
        for (int s = 0; s < launches; s++) {
            if (backward)
                BATON_LAUNCH(grid_of(l0, k->L), BATON_RECUR_THREADS, 0, stream, recur_wave_bwd<C, W>)(*k, s);
            else
                BATON_LAUNCH(grid_of(l0, k->L), BATON_RECUR_THREADS, 0, stream, recur_wave_fwd<C, W>)(*k, s);
            BATON_CUDA_CHECK_LAUNCH();
        }
        return BATON_OK;
    }
};

/* The layers must agree on what one launch shares, and hold what the steps between them need. */
baton_status check_wave(const baton_kernel_wave_args *k, int backward, const char *who)
{
    BATON_REQUIRE(k->L >= 1 && k->L <= BATON_RECUR_MAX_WAVE, "%s: L=%d layers, expected 1 to %d", who, k->L,
                  BATON_RECUR_MAX_WAVE);
    BATON_REQUIRE(k->dropout >= 0.0f && k->dropout < 1.0f && (k->dropout == 0.0f || k->counter),
                  "%s: dropout %g, expected 0 <= p < 1 and a counter where p > 0", who, (double)k->dropout);
    const baton_recur_args *a0 = &k->layer[0].a;
    for (int l = 0; l < k->L; l++) {
        const baton_kernel_recur_args *p = &k->layer[l];
        const baton_recur_args *a = &p->a;
        BATON_REQUIRE(a->dirs == 1 && a->cell == a0->cell && a->T == a0->T && a->B == a0->B && a->Hd == a0->Hd &&
                          a->units == a0->units && a->lengths == a0->lengths,
                      "%s: layer %d differs from layer 0 in dirs, cell, T, B, Hd, units or lengths (one direction, "
                      "the rest shared)", who, l);
        BATON_REQUIRE(a->T >= 1 && a->B >= 1 && a->Hd >= 1 && a->units >= 1 && a->units <= a->Hd,
                      "%s: T=%d B=%d Hd=%d units=%d, expected T, B, Hd >= 1 and 1 <= units <= Hd", who, a->T, a->B,
                      a->Hd, a->units);
        const baton_recur_dir *r = &a->dir[0];
        BATON_REQUIRE(r->w_hh && r->b_ih && r->b_hh && r->xg && r->hs && r->hg && r->dgx && r->dh &&
                          (a->cell == BATON_CELL_LSTM) == (r->cs != NULL && r->dc != NULL) &&
                          (a->cell == BATON_CELL_GRU) == (r->dgh != NULL) &&
                          (r->save != NULL) <= (baton_cell_saved(a->cell) != 0) &&
                          (!backward || (baton_cell_saved(a->cell) != 0) == (r->save != NULL)),
                      "%s: layer %d lacks a tensor of its cell (forward may lack save: inference)", who, l);
        BATON_REQUIRE(l + 1 == k->L ? a->ldy >= a->Hd : a->ldy == a->Hd,
                      "%s: layer %d: ldy=%d, expected Hd=%d (the layer below's output is the next one's input)", who,
                      l, a->ldy, a->Hd);
        BATON_REQUIRE(backward ? a->dy != NULL : a->y != NULL, "%s: layer %d has no %s", who, l,
                      backward ? "dy" : "y");
        BATON_REQUIRE(l == 0 || (k->w_ih[l] && (!p->bf16 || k->w_ih16[l])),
                      "%s: layer %d lacks its input weights (or, in bf16, their mirror)", who, l);
        BATON_REQUIRE(!p->bf16 || (p->w16[0] && p->hs16[0] && p->dgx16[0] && (!r->dgh || p->dgh16[0])),
                      "%s: bf16 precision, but layer %d lacks a bf16 mirror of w_hh, hs, dgx or dgh", who, l);
    }
    /* cell_math.h indexes one step's rows in int: b*4*Hd (gates, saved) and b*ldy */
    BATON_REQUIRE((long long)a0->B * 4 * a0->Hd <= 2147483647LL, "%s: B=%d Hd=%d overflow the cells' int row indices",
                  who, a0->B, a0->Hd);
    return BATON_OK;
}

} // namespace

extern "C" baton_status baton_kernel_recur_wave_forward(const baton_kernel_wave_args *k, cudaStream_t stream)
{
    BATON_TRY(check_wave(k, 0, "baton_kernel_recur_wave_forward"));
    return dispatch<wave_op>(k->layer[0].a.cell, k->layer[0].bf16, 0, k, stream);
}

extern "C" baton_status baton_kernel_recur_wave_backward(const baton_kernel_wave_args *k, cudaStream_t stream)
{
    BATON_TRY(check_wave(k, 1, "baton_kernel_recur_wave_backward"));
    return dispatch<wave_op>(k->layer[0].a.cell, k->layer[0].bf16, 1, k, stream);
}
