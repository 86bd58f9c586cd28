/* recur_step.cuh: what the whole-recurrence kernels share (recurrence.cu, wavefront.cu): the cells
 * by type, where the sums read their weights and states, the ownership of (row, unit tile)
 * elements by threads with split-K over lanes, and one forward or backward step of one direction
 * for one block's units. recurrence.cu's file header describes the ownership and the memory
 * ordering; everything here lives in an anonymous namespace, one copy per translation unit. */
#ifndef BATON_RECUR_STEP_CUH
#define BATON_RECUR_STEP_CUH

#include "baton/cell_math.h"
#include "baton/recur.h"
#include "kernels/device.cuh"
#include "kernels/kernels.h"

namespace {

/* ---- the cell functions, by type, so that each kernel is compiled for one cell ---- */
template <baton_cell C> struct cellfn;
template <> struct cellfn<BATON_CELL_RNN_TANH> {
    static constexpr int G = 1;
    static __device__ void fwd(const baton_cell_fwd_args *a, int b, int j) { baton_rnn_tanh_fwd_at(a, b, j); }
    static __device__ void bwd(const baton_cell_bwd_args *a, int b, int j) { baton_rnn_tanh_bwd_at(a, b, j); }
};
template <> struct cellfn<BATON_CELL_LSTM> {
    static constexpr int G = 4;
    static __device__ void fwd(const baton_cell_fwd_args *a, int b, int j) { baton_lstm_fwd_at(a, b, j); }
    static __device__ void bwd(const baton_cell_bwd_args *a, int b, int j) { baton_lstm_bwd_at(a, b, j); }
};
template <> struct cellfn<BATON_CELL_GRU> {
    static constexpr int G = 3;
    static __device__ void fwd(const baton_cell_fwd_args *a, int b, int j) { baton_gru_fwd_at(a, b, j); }
    static __device__ void bwd(const baton_cell_bwd_args *a, int b, int j) { baton_gru_bwd_at(a, b, j); }
};

__device__ inline float to_f32(float v) { return v; }
__device__ inline float to_f32(uint16_t v) { return baton_bf16_to_f32(v); }

/* Where a step reads W_hh: global memory (row-major (G*Hd, Hd)) or the block's shared slab. */
template <typename W> struct w_global {
    const W *w;
    int Hd;
    __device__ float fwd(int q, int j, int k) const { return to_f32(w[((size_t)q * Hd + j) * Hd + k]); }
    __device__ float bwd(int r, int j) const { return to_f32(w[(size_t)r * Hd + j]); }
};
template <typename W> struct w_shared {
    const W *s;
    int G, Hd, u0;
    __device__ float fwd(int q, int j, int k) const { return to_f32(s[((size_t)(j - u0) * G + q) * Hd + k]); }
    __device__ float bwd(int r, int j) const { return to_f32(s[(size_t)(j - u0) * G * Hd + r]); }
};

/* The operands a kernel reads, by precision: fp32 tensors, or their bf16 mirrors. */
template <typename W> struct operands;
template <> struct operands<float> {
    static __device__ const float *w(const baton_kernel_recur_args &p, int d) { return p.a.dir[d].w_hh; }
    static __device__ const float *h(const baton_kernel_recur_args &p, int d) { return p.a.dir[d].hs; }
    static __device__ const float *dg(const baton_kernel_recur_args &p, int d)
    {
        return p.a.dir[d].dgh ? p.a.dir[d].dgh : p.a.dir[d].dgx;
    }
};
template <> struct operands<uint16_t> {
    static __device__ const uint16_t *w(const baton_kernel_recur_args &p, int d) { return p.w16[d]; }
    static __device__ const uint16_t *h(const baton_kernel_recur_args &p, int d) { return p.hs16[d]; }
    static __device__ const uint16_t *dg(const baton_kernel_recur_args &p, int d)
    {
        return p.dgh16[d] ? p.dgh16[d] : p.dgx16[d];
    }
};

/* Split-K width for E elements in a block of n threads (a power of two, 1..32). */
__device__ inline int split_of(int E, int n)
{
    int ks = 1;
    while (ks < 32 && ks * 2 * E <= n)
        ks *= 2;
    return ks;
}

/* Adds the partial sums v[0..n) of the ks adjacent lanes of one element (ks a power of two <= 32,
 * n <= N); every lane of the warp calls it with the same n. */
template <int N> __device__ inline void reduce_parts(float (&v)[N], int n, int ks)
{
    for (int o = ks / 2; o > 0; o /= 2)
        for (int q = 0; q < N; q++)
            if (q < n)
                v[q] += __shfl_xor_sync(0xffffffffu, v[q], o);
}

/* Units [u0, u0 + nu) of this block. */
__device__ inline int block_u0(const baton_kernel_recur_args &p) { return (int)blockIdx.x * p.a.units; }
__device__ inline int block_nu(const baton_kernel_recur_args &p)
{
    int left = p.a.Hd - block_u0(p);
    return left < p.a.units ? left : p.a.units;
}

/* The cell's arguments at step t of direction d (forward: the slots before and after t). */
template <baton_cell C> __device__ baton_cell_fwd_args fwd_args(const baton_kernel_recur_args &p, int d, int t)
{
    const baton_recur_args &a = p.a;
    const baton_recur_dir &r = a.dir[d];
    int B = a.B, Hd = a.Hd, GH = cellfn<C>::G * Hd, prev = d ? t + 1 : t, next = d ? t : t + 1;
    size_t slot = (size_t)B * Hd;
    return baton_cell_fwd_args{
        .B = B, .Hd = Hd, .t = t, .lengths = a.lengths,
        .xg = r.xg + (size_t)t * B * GH, .hg = r.hg, .b_ih = r.b_ih, .b_hh = r.b_hh,
        .h_prev = r.hs + prev * slot, .c_prev = r.cs ? r.cs + prev * slot : NULL,
        .h = r.hs + next * slot, .c = r.cs ? r.cs + next * slot : NULL,
        .y = a.y + (size_t)t * B * a.ldy + (size_t)d * Hd, .ldy = a.ldy,
        .save = r.save ? r.save + (size_t)t * B * baton_cell_saved(C) * Hd : NULL,
        .h16 = p.hs16[d] ? p.hs16[d] + next * slot : NULL,
    };
}

template <baton_cell C> __device__ baton_cell_bwd_args bwd_args(const baton_kernel_recur_args &p, int d, int t)
{
    const baton_recur_args &a = p.a;
    const baton_recur_dir &r = a.dir[d];
    int B = a.B, Hd = a.Hd, prev = d ? t + 1 : t, next = d ? t : t + 1;
    size_t slot = (size_t)B * Hd, gstep = (size_t)B * cellfn<C>::G * Hd;
    return baton_cell_bwd_args{
        .B = B, .Hd = Hd, .t = t, .lengths = a.lengths,
        .dy = a.dy + (size_t)t * B * a.ldy + (size_t)d * Hd, .ldy = a.ldy, .dh = r.dh, .dc = r.dc,
        .save = r.save ? r.save + (size_t)t * B * baton_cell_saved(C) * Hd : NULL,
        .h_prev = r.hs + prev * slot, .h = r.hs + next * slot,
        .c_prev = r.cs ? r.cs + prev * slot : NULL, .c = r.cs ? r.cs + next * slot : NULL,
        .dgx = r.dgx + t * gstep, .dgh = r.dgh ? r.dgh + t * gstep : NULL,
        .dh_prev = r.dh, .dc_prev = r.dc,
        .dgx16 = p.dgx16[d] ? p.dgx16[d] + t * gstep : NULL,
        .dgh16 = p.dgh16[d] ? p.dgh16[d] + t * gstep : NULL,
    };
}

/* Units one thread sums at once: it loads h[b, k] (or dg[b, r]) once for all of them. */
constexpr int UT = 8;

/* The element e of this block's E = B * ceil(nu/UT): row b and its first unit j0, nt units. */
struct element {
    int b, j0, nt;
};
__device__ inline element element_of(const baton_kernel_recur_args &p, int e)
{
    int B = p.a.B, tile = e / B, j0 = block_u0(p) + tile * UT, left = block_u0(p) + block_nu(p) - j0;
    return {e % B, j0, left < UT ? left : UT};
}

/* Runs every element of this block: sum(acc, el, part, ks) adds lane `part`'s share (of ks) of
 * the element's sums, N per unit, into acc[u*N + q]; once the lanes' parts are added, lane part 0
 * calls done(acc, el). An element's lanes are adjacent in one warp, and every lane of the block
 * takes part in the shuffles, so that all of them may call this with the same p. */
template <int N, typename Sum, typename Done>
__device__ void each_element(const baton_kernel_recur_args &p, Sum sum, Done done)
{
    int nu = block_nu(p), tile_units = nu < UT ? nu : UT; /* the same for every lane of the block */
    int E = p.a.B * ((nu + UT - 1) / UT), ks = split_of(E, (int)blockDim.x), part = (int)threadIdx.x % ks;
    for (int base = 0; base < E * ks; base += (int)blockDim.x) {
        int e = (base + (int)threadIdx.x) / ks;
        float acc[UT * N] = {};
        if (e < E)
            sum(acc, element_of(p, e), part, ks);
        reduce_parts(acc, tile_units * N, ks);
        if (e < E && part == 0)
            done(acc, element_of(p, e));
    }
}

/* acc[u*N + q] += sum of row(k) * wt(q, el.j0 + u, k) over k = part, part + ks, ... < K: a lane's
 * share of the element's dot products, each row value loaded once for all of the tile's units. */
template <int N, typename Row, typename Wt>
__device__ inline void dot_parts(float (&acc)[UT * N], const element &el, int K, int part, int ks, Row row, Wt wt)
{
    for (int k = part; k < K; k += ks) {
        float v = row(k);
        for (int u = 0; u < UT; u++)
            for (int q = 0; u < el.nt && q < N; q++)
                acc[u * N + q] += v * wt(q, el.j0 + u, k);
    }
}

/* What a caller may change in a step: the cell's arguments before it (fix), and each (b, j) after
 * its cell has run (after: row b, unit j, step t). The plain kernels change nothing. */
struct no_fix {
    template <typename A> __device__ void operator()(A &) const {}
};
struct no_after {
    __device__ void operator()(int, int, int) const {}
};

/* Forward step s (0..T-1 in the direction's own order) of direction d, for this block's units. */
template <baton_cell C, typename W, typename WS, typename Fix = no_fix, typename After = no_after>
__device__ void fwd_step(const baton_kernel_recur_args &p, int d, int s, const WS &ws, Fix fix = {},
                         After after = {})
{
    constexpr int G = cellfn<C>::G;
    const baton_recur_args &a = p.a;
    const baton_recur_dir &r = a.dir[d];
    int B = a.B, Hd = a.Hd, GH = G * Hd, t = d ? a.T - 1 - s : s, prev = d ? t + 1 : t;
    baton_cell_fwd_args c = fwd_args<C>(p, d, t);
    fix(c);
    const W *hp = operands<W>::h(p, d) + (size_t)prev * B * Hd;
    each_element<G>(
        p,
        [&](float (&acc)[UT * G], const element &el, int part, int ks) {
            if (baton_cell_valid(a.lengths, el.b, t)) /* padded rows need no sums */
                dot_parts<G>(acc, el, Hd, part, ks, [&](int k) { return to_f32(__ldcg(hp + (size_t)el.b * Hd + k)); },
                             [&](int q, int j, int k) { return ws.fwd(q, j, k); });
        },
        [&](const float (&acc)[UT * G], const element &el) {
            bool live = baton_cell_valid(a.lengths, el.b, t);
            for (int u = 0; u < el.nt; u++) {
                if (live)
                    for (int q = 0; q < G; q++)
                        r.hg[(size_t)el.b * GH + q * Hd + el.j0 + u] = acc[u * G + q];
                cellfn<C>::fwd(&c, el.b, el.j0 + u);
                after(el.b, el.j0 + u, t);
            }
        });
}

/* Backward processing step s (0..T; step T only adds the last dg W_hh) of direction d. */
template <baton_cell C, typename W, typename WS, typename Fix = no_fix>
__device__ void bwd_step(const baton_kernel_recur_args &p, int d, int s, const WS &ws, Fix fix = {})
{
    constexpr int G = cellfn<C>::G;
    const baton_recur_args &a = p.a;
    const baton_recur_dir &r = a.dir[d];
    int B = a.B, Hd = a.Hd, GH = G * Hd;
    /* the steps in the order backward meets them: t, and tn, the one processed just before */
    int t = d ? s : a.T - 1 - s, tn = d ? t - 1 : t + 1;
    int cell = s < a.T;
    baton_cell_bwd_args c = cell ? bwd_args<C>(p, d, t) : baton_cell_bwd_args{};
    if (cell)
        fix(c);
    const W *dgn = s > 0 ? operands<W>::dg(p, d) + (size_t)tn * B * GH : NULL;
    /* a row padded at tn has zero gate gradients there: nothing to add */
    auto live = [&](int b) { return dgn && baton_cell_valid(a.lengths, b, tn); };
    each_element<1>(
        p,
        [&](float (&acc)[UT], const element &el, int part, int ks) {
            if (live(el.b))
                dot_parts<1>(acc, el, GH, part, ks, [&](int q) { return to_f32(__ldcg(dgn + (size_t)el.b * GH + q)); },
                             [&](int, int j, int q) { return ws.bwd(q, j); });
        },
        [&](const float (&acc)[UT], const element &el) {
            for (int u = 0; u < el.nt; u++) {
                if (live(el.b))
                    r.dh[(size_t)el.b * Hd + el.j0 + u] += acc[u];
                if (cell)
                    cellfn<C>::bwd(&c, el.b, el.j0 + u);
            }
        });
}

/* Op<cell, element type of W_hh>::run(args...), for the cell and precision given at run time. */
template <template <baton_cell, typename> class Op, typename... A>
baton_status dispatch(baton_cell cell, int bf16, A... args)
{
    switch (cell) {
    case BATON_CELL_RNN_TANH:
        return bf16 ? Op<BATON_CELL_RNN_TANH, uint16_t>::run(args...) : Op<BATON_CELL_RNN_TANH, float>::run(args...);
    case BATON_CELL_LSTM:
        return bf16 ? Op<BATON_CELL_LSTM, uint16_t>::run(args...) : Op<BATON_CELL_LSTM, float>::run(args...);
    case BATON_CELL_GRU:
        return bf16 ? Op<BATON_CELL_GRU, uint16_t>::run(args...) : Op<BATON_CELL_GRU, float>::run(args...);
    }
    return BATON_ERROR(BATON_ERR_INVALID, "recurrence: cell = %d, expected 0 (rnn_tanh), 1 (lstm) or 2 (gru)",
                       (int)cell);
}

/* The grid of one step: blocks of `units` units along x, `lanes` (directions, or layers) along y. */
inline dim3 grid_of(const baton_kernel_recur_args *k, int lanes)
{
    return dim3((unsigned)((k->a.Hd + k->a.units - 1) / k->a.units), (unsigned)lanes);
}

} // namespace

#endif
