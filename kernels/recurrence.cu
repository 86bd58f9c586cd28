/* recurrence.cu: the whole time loop of one recurrent layer, both directions in one launch, each
 * step's recurrent product h_prev W_hh^T fused with the cell (include/baton/recur.h).
 *
 * What a step computes. Forward, for every row b and unit j of direction d: the G gate sums
 * hg[b, q*Hd + j] = sum_k h_prev[b, k] W_hh[q*Hd + j, k], then the cell's `_at` function of
 * cell_math.h on them (h, c, y, save and the bf16 mirror of h). Backward, processing the steps in
 * reverse: dh[b, j] += sum_r dg_next[b, r] W_hh[r, j] (the gate gradients of the step processed
 * just before, r < G*Hd), then the cell's backward `_at` (dgx, dgh, the direct dh_prev, dc_prev).
 * After the last step one more pass adds the first step's dg W_hh, so dh, dc end as the gradients
 * of h0, c0. This is what the plain path (one cuBLAS GEMM and one cell kernel per step, src/nn/rnn.c)
 * computes; only the summation order differs.
 *
 * Ownership. Grid (X, dirs): block (x, d) owns units [x*U, x*U + U) of direction d (the last block
 * fewer) for every row, U from baton_kernel_recur_plan. An element is one row b and a tile of up to
 * UT = 8 of the block's units, so that h[b, k] (dg[b, r]) is loaded once for all of them; the
 * E = B*ceil(nu/UT) elements are numbered e = tile*B + b, rows fastest, so the lanes of a warp share
 * a tile and read the same weights. With few elements a block splits each dot product over KS
 * adjacent lanes (split-K, KS = the largest power of two <= min(32, threads/E)): part p sums
 * k = p, p+KS, ... (so the lanes of one element read consecutive h or dg words) and __shfl_xor_sync
 * adds the parts; lane part 0 then runs the cell for the tile's units.
 * A thread owns the same (b, j) at every step, so c, the carried dh, dc and the hg scratch are only
 * ever touched by their owner and need no barrier; what other blocks wrote (h_prev, dg_next) is
 * read with __ldcg, around L1, whose lines are not coherent between SMs.
 *
 * The step functions and the ownership helpers live in recur_step.cuh, shared with wavefront.cu
 * (the wavefront version, a stack of layers one step apart, on fused-gemm's steps).
 *
 * Versions (the plain "fused" path lives in src/nn/rnn.c over lstm_cell.cu & co.):
 *   fused-gemm (BATON_RECUR_GEMM): one launch per step (T forward, T+1 backward) for both
 *     directions; W_hh is read from global memory, where it stays in L2 between steps.
 *   persistent (BATON_RECUR_PERSISTENT): one cooperative launch per layer and pass. Each block
 *     copies its units' slab of W_hh (fp32, or bf16 in bf16 precision) into shared memory once and
 *     keeps it for all T steps; the steps are separated by a grid-wide barrier
 *     (cooperative_groups::this_grid().sync()), which is deadlock-free because a cooperative launch
 *     is refused unless every block is resident at once (the plan checks it first, the runtime
 *     again). Slab layouts, conflict-free for lanes reading consecutive k (or r):
 *       forward  s[(jj*G + q)*Hd + k] = W_hh[q*Hd + u0 + jj, k]
 *       backward s[jj*G*Hd + r]      = W_hh[r, u0 + jj]
 *
 * Precision: fp32 and tf32 compute the sums in fp32 on CUDA cores (no tensor cores here, so tf32
 * gets fp32); bf16 reads W_hh, h and dg from their bf16 mirrors (what the plain path's GEMMs read)
 * and accumulates in fp32.
 *
 * Status: compiled, never yet run on a GPU; validated by tests/gpu/test_recur_gpu.c on the
 * emulation against the CPU backend. docs/recurrence.md has the design and the arithmetic. */
#include <cooperative_groups.h>
#include <mma.h>
#include <stdio.h>

#include "baton/cell_math.h"
#include "baton/cuda_check.h"
#include "baton/recur.h"
#include "kernels/device.cuh"
#include "kernels/kernels.h"
#include "kernels/recur_step.cuh"

namespace {

/* ---- fused-gemm: one launch per step ---- */

template <baton_cell C, typename W>
__global__ void __launch_bounds__(BATON_RECUR_THREADS)
recur_gemm_fwd(BATON_GRID_CONST baton_kernel_recur_args p, int s)
{
    int d = (int)blockIdx.y;
    fwd_step<C, W>(p, d, s, w_global<W>{operands<W>::w(p, d), p.a.Hd});
}

template <baton_cell C, typename W>
__global__ void __launch_bounds__(BATON_RECUR_THREADS)
recur_gemm_bwd(BATON_GRID_CONST baton_kernel_recur_args p, int s)
{
    int d = (int)blockIdx.y;
    bwd_step<C, W>(p, d, s, w_global<W>{operands<W>::w(p, d), p.a.Hd});
}

/* ---- persistent: one cooperative launch, W_hh in shared memory ---- */

template <baton_cell C, typename W>
__global__ void __launch_bounds__(BATON_RECUR_THREADS)
recur_persistent_fwd(BATON_GRID_CONST baton_kernel_recur_args p)
{
    constexpr int G = cellfn<C>::G;
    BATON_DYNAMIC_SHARED(float, smem); /* W_hh slab: float, or bf16 read through a cast */
    W *slab = (W *)smem;
    int d = (int)blockIdx.y, Hd = p.a.Hd, u0 = block_u0(p), n = block_nu(p) * G * Hd;
    const W *w = operands<W>::w(p, d);
    for (int i = (int)threadIdx.x; i < n; i += (int)blockDim.x) { /* i = (jj*G + q)*Hd + k: k fastest, coalesced */
        int k = i % Hd, q = (i / Hd) % G, jj = i / (G * Hd);
        slab[i] = w[((size_t)q * Hd + u0 + jj) * Hd + k];
    }
    __syncthreads();
    w_shared<W> ws = {slab, G, Hd, u0};
    cooperative_groups::grid_group grid = cooperative_groups::this_grid();
    for (int s = 0; s < p.a.T; s++) {
        if (s)
            grid.sync(); /* step s-1's h of every block is written */
        fwd_step<C, W>(p, d, s, ws);
    }
}

template <baton_cell C, typename W>
__global__ void __launch_bounds__(BATON_RECUR_THREADS)
recur_persistent_bwd(BATON_GRID_CONST baton_kernel_recur_args p)
{
    constexpr int G = cellfn<C>::G;
    BATON_DYNAMIC_SHARED(float, smem);
    W *slab = (W *)smem;
    int d = (int)blockIdx.y, Hd = p.a.Hd, GH = G * Hd, u0 = block_u0(p), nu = block_nu(p);
    const W *w = operands<W>::w(p, d);
    for (int i = (int)threadIdx.x; i < nu * GH; i += (int)blockDim.x) { /* jj fastest: nu adjacent words read */
        int jj = i % nu, q = i / nu;
        slab[(size_t)jj * GH + q] = w[(size_t)q * Hd + u0 + jj];
    }
    __syncthreads();
    w_shared<W> ws = {slab, G, Hd, u0};
    cooperative_groups::grid_group grid = cooperative_groups::this_grid();
    for (int s = 0; s <= p.a.T; s++) {
        if (s)
            grid.sync(); /* step s-1's dg of every block is written */
        bwd_step<C, W>(p, d, s, ws);
    }
}

/* ---- persistent, tensor cores (bf16 precision, --kernels recur=tensor) ----
 *
 * The same steps as above, with the sums of a block done as warp matrix products (nvcuda::wmma,
 * 16x16x16 tiles of bf16 with fp32 accumulation) instead of per-thread dot products. Per chunk of
 * 16 rows, the block stages the rows' h (or dg) in shared memory, KC columns at a time, zero past B,
 * past a row's length and past Hd; warp w owns output tile nt = w % NT and takes every PARTS-th
 * k-tile of it (split-K over warps); the partial tiles go through shared memory, where lane-parallel
 * sums finish them and the threads run the cell on their (row, unit) elements as in fwd_step.
 * Shared memory, each region 128-byte aligned (wmma wants 32-byte aligned tiles):
 *   slab   forward  column n = jj*G + q (jj < U, padded to NC = 16*ceil(G*U/16) columns), k < Kp
 *          contiguous (col_major B, ldm Kp = 16*ceil(Hd/16)), zero padding;
 *          backward column jj (padded to NB = 16*ceil(U/16)), r < GHp contiguous (ldm GHp = 16*ceil(G*Hd/16));
 *   stage  16 x KC bf16, row_major A (ldm KC);
 *   part   PARTS x 16 x N fp32 partial tiles. */
namespace tc {
constexpr int T16 = 16, KC = 512, WARPS = BATON_RECUR_THREADS / 32;
__host__ __device__ inline int up16(int n) { return (n + 15) / 16 * 16; }
__host__ __device__ inline size_t align128(size_t n) { return (n + 127) / 128 * 128; }

/* Bytes of each region for (G, Hd, U); the slab is the larger of the two passes' layouts. */
struct layout {
    size_t slab, stage, part;
    __host__ __device__ layout(int G, int Hd, int U)
    {
        size_t fwd = (size_t)up16(G * U) * up16(Hd), bwd = (size_t)up16(U) * up16(G * Hd);
        slab = align128((fwd > bwd ? fwd : bwd) * 2);
        stage = align128((size_t)T16 * KC * 2);
        int n = up16(G * U) > up16(U) ? up16(G * U) : up16(U);
        part = align128((size_t)WARPS * T16 * n * 4);
    }
    __host__ __device__ size_t bytes() const { return slab + stage + part; }
};

/* Output tiles NT of width N, and how many warps split each one's k-tiles. */
__device__ inline int parts_of(int nt) { return nt >= WARPS ? 1 : WARPS / nt; }

/* One pass over a 16-row chunk: acc(16 x N) = A(16 x K) B(K x N), A staged KC columns at a time by
 * stage_fn(k0, stage), B the slab (col_major, ldm). Leaves the partial tiles in `part` (row-major,
 * ldm N) and returns the number of parts to add. */
template <typename StageFn>
__device__ int chunk_product(const uint16_t *slab, int ldm, int K, int N, uint16_t *stage, float *part,
                             StageFn stage_fn)
{
    using namespace nvcuda;
    int warp = (int)threadIdx.x / 32, nt = N / T16, parts = parts_of(nt), tile = warp % nt, p = warp / nt;
    bool mine = warp < nt * parts; /* warps beyond NT*PARTS idle (NT not dividing 8) */
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
    wmma::fill_fragment(acc, 0.0f);
    for (int k0 = 0; k0 < K; k0 += KC) {
        int kc = K - k0 < KC ? K - k0 : KC;
        stage_fn(k0, kc, stage);
        __syncthreads();
        if (mine)
            for (int kt = p; kt < kc / T16; kt += parts) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> b;
                wmma::load_matrix_sync(a, (const __nv_bfloat16 *)stage + kt * T16, KC);
                wmma::load_matrix_sync(b, (const __nv_bfloat16 *)slab + (size_t)tile * T16 * ldm + k0 + kt * T16,
                                       ldm);
                wmma::mma_sync(acc, a, b, acc);
            }
        __syncthreads(); /* the stage is refilled next */
    }
    if (mine)
        wmma::store_matrix_sync(part + (size_t)p * T16 * N + tile * T16, acc, N, wmma::mem_row_major);
    __syncthreads();
    return parts;
}

/* Stages rows m0..m0+15 of src (row length len, rows of B), columns k0..k0+kc, where live(b) says
 * the row is needed; zero elsewhere. */
template <typename Live>
__device__ void stage_rows(uint16_t *stage, const uint16_t *src, int len, int B, int m0, int k0, int kc, Live live)
{
    for (int i = (int)threadIdx.x; i < T16 * KC; i += (int)blockDim.x) {
        int r = i / KC, k = k0 + i % KC, b = m0 + r;
        stage[i] = i % KC < kc && k < len && b < B && live(b) ? __ldcg(src + (size_t)b * len + k) : (uint16_t)0;
    }
}
} // namespace tc

template <baton_cell C>
__global__ void __launch_bounds__(BATON_RECUR_THREADS)
recur_persistent_tc_fwd(BATON_GRID_CONST baton_kernel_recur_args p)
{
    constexpr int G = cellfn<C>::G;
    BATON_DYNAMIC_SHARED(float, smem);
    const baton_recur_args &a = p.a;
    int d = (int)blockIdx.y, Hd = a.Hd, U = a.units, u0 = block_u0(p), nu = block_nu(p), B = a.B, GH = G * Hd;
    int Kp = tc::up16(Hd), NC = tc::up16(G * U);
    tc::layout lay(G, Hd, U);
    uint16_t *slab = (uint16_t *)smem, *stage = (uint16_t *)((char *)smem + lay.slab);
    float *part = (float *)((char *)smem + lay.slab + lay.stage);
    const uint16_t *w = p.w16[d];
    for (int i = (int)threadIdx.x; i < NC * Kp; i += (int)blockDim.x) { /* column n = jj*G + q, k fastest */
        int k = i % Kp, n = i / Kp, jj = n / G, q = n % G;
        slab[i] = k < Hd && jj < nu ? w[((size_t)q * Hd + u0 + jj) * Hd + k] : (uint16_t)0;
    }
    __syncthreads();
    const baton_recur_dir &r = a.dir[d];
    cooperative_groups::grid_group grid = cooperative_groups::this_grid();
    for (int s = 0; s < a.T; s++) {
        if (s)
            grid.sync();
        int t = d ? a.T - 1 - s : s, prev = d ? t + 1 : t;
        baton_cell_fwd_args c = fwd_args<C>(p, d, t);
        const uint16_t *h16 = p.hs16[d] + (size_t)prev * B * Hd;
        auto live = [&](int b) { return baton_cell_valid(a.lengths, b, t); };
        for (int m0 = 0; m0 < B; m0 += tc::T16) {
            int parts = tc::chunk_product(slab, Kp, Kp, NC, stage, part, [&](int k0, int kc, uint16_t *st) {
                tc::stage_rows(st, h16, Hd, B, m0, k0, kc, live);
            });
            for (int e = (int)threadIdx.x; e < tc::T16 * nu; e += (int)blockDim.x) {
                int rr = e % tc::T16, jj = e / tc::T16, b = m0 + rr, j = u0 + jj;
                if (b >= B)
                    continue;
                if (live(b))
                    for (int q = 0; q < G; q++) {
                        float sum = 0.0f;
                        for (int pp = 0; pp < parts; pp++)
                            sum += part[((size_t)pp * tc::T16 + rr) * NC + jj * G + q];
                        r.hg[(size_t)b * GH + q * Hd + j] = sum;
                    }
                cellfn<C>::fwd(&c, b, j);
            }
            __syncthreads(); /* the partial tiles are rewritten by the next chunk */
        }
    }
}

template <baton_cell C>
__global__ void __launch_bounds__(BATON_RECUR_THREADS)
recur_persistent_tc_bwd(BATON_GRID_CONST baton_kernel_recur_args p)
{
    constexpr int G = cellfn<C>::G;
    BATON_DYNAMIC_SHARED(float, smem);
    const baton_recur_args &a = p.a;
    int d = (int)blockIdx.y, Hd = a.Hd, U = a.units, u0 = block_u0(p), nu = block_nu(p), B = a.B, GH = G * Hd;
    int GHp = tc::up16(GH), NB = tc::up16(U);
    tc::layout lay(G, Hd, U);
    uint16_t *slab = (uint16_t *)smem, *stage = (uint16_t *)((char *)smem + lay.slab);
    float *part = (float *)((char *)smem + lay.slab + lay.stage);
    const uint16_t *w = p.w16[d];
    for (int i = (int)threadIdx.x; i < NB * GHp; i += (int)blockDim.x) { /* jj fastest: nu adjacent words read */
        int jj = i % NB, q = i / NB;
        slab[(size_t)jj * GHp + q] = q < GH && jj < nu ? w[(size_t)q * Hd + u0 + jj] : (uint16_t)0;
    }
    __syncthreads();
    const baton_recur_dir &r = a.dir[d];
    size_t gstep = (size_t)B * GH;
    const uint16_t *dg16 = p.dgh16[d] ? p.dgh16[d] : p.dgx16[d];
    cooperative_groups::grid_group grid = cooperative_groups::this_grid();
    for (int s = 0; s <= a.T; s++) {
        if (s)
            grid.sync();
        int t = d ? s : a.T - 1 - s, tn = d ? t - 1 : t + 1;
        int cell = s < a.T;
        baton_cell_bwd_args c = cell ? bwd_args<C>(p, d, t) : baton_cell_bwd_args{};
        /* a row padded at tn has zero gate gradients there: nothing to add */
        auto live = [&](int b) { return s > 0 && baton_cell_valid(a.lengths, b, tn); };
        const uint16_t *dgn = dg16 + (size_t)(s > 0 ? tn : 0) * gstep;
        for (int m0 = 0; m0 < B; m0 += tc::T16) {
            int parts = 0;
            if (s > 0) /* the same for every thread of the grid: the barriers inside stay uniform */
                parts = tc::chunk_product(slab, GHp, GHp, NB, stage, part, [&](int k0, int kc, uint16_t *st) {
                    tc::stage_rows(st, dgn, GH, B, m0, k0, kc, live);
                });
            for (int e = (int)threadIdx.x; e < tc::T16 * nu; e += (int)blockDim.x) {
                int rr = e % tc::T16, jj = e / tc::T16, b = m0 + rr, j = u0 + jj;
                if (b >= B)
                    continue;
                if (live(b)) {
                    float sum = 0.0f;
                    for (int pp = 0; pp < parts; pp++)
                        sum += part[((size_t)pp * tc::T16 + rr) * NB + jj];
                    r.dh[(size_t)b * Hd + j] += sum;
                }
                if (cell)
                    cellfn<C>::bwd(&c, b, j);
            }
            __syncthreads();
        }
    }
}

/* ---- host side ---- */

size_t slab_bytes(baton_cell cell, int Hd, int units, int bf16)
{
    return (size_t)units * baton_cell_gates(cell) * Hd * (bf16 ? 2 : 4);
}

const char *cell_label(baton_cell cell)
{
    return cell == BATON_CELL_LSTM ? "lstm" : cell == BATON_CELL_GRU ? "gru" : "rnn_tanh";
}

baton_status check_args(const baton_kernel_recur_args *k, int backward, const char *who)
{
    const baton_recur_args *a = &k->a;
    BATON_REQUIRE(a->T >= 1 && a->B >= 1 && a->Hd >= 1 && (a->dirs == 1 || a->dirs == 2) && k->a.units >= 1 &&
                      k->a.units <= a->Hd && a->ldy >= a->dirs * a->Hd,
                  "%s: T=%d B=%d Hd=%d dirs=%d units=%d ldy=%d, expected T, B, Hd >= 1, dirs 1 or 2, "
                  "1 <= units <= Hd, ldy >= dirs*Hd", who, a->T, a->B, a->Hd, a->dirs, k->a.units, a->ldy);
    /* cell_math.h indexes one step's rows in int: b*4*Hd (gates, saved) and b*ldy */
    BATON_REQUIRE((long long)a->B * 4 * a->Hd <= 2147483647LL && (long long)a->B * a->ldy <= 2147483647LL,
                  "%s: B=%d Hd=%d ldy=%d overflow the cells' int row indices", who, a->B, a->Hd, a->ldy);
    BATON_REQUIRE(!k->tc || (k->bf16 && baton_cell_gates(a->cell) * k->a.units <= 128),
                  "%s: the tensor-core kernels take bf16 and at most 128 gate columns a block (units=%d)", who,
                  k->a.units);
    for (int d = 0; d < a->dirs; d++) {
        const baton_recur_dir *r = &a->dir[d];
        BATON_REQUIRE(r->w_hh && r->b_ih && r->b_hh && r->xg && r->hs && r->hg && r->dgx && r->dh,
                      "%s: direction %d lacks a tensor (w_hh, biases, xg, hs, hg, dgx, dh are required)", who, d);
        BATON_REQUIRE((a->cell == BATON_CELL_LSTM) == (r->cs != NULL && r->dc != NULL) &&
                          (a->cell == BATON_CELL_GRU) == (r->dgh != NULL) &&
                          (r->save != NULL) <= (baton_cell_saved(a->cell) != 0) &&
                          (!backward || (baton_cell_saved(a->cell) != 0) == (r->save != NULL)),
                      "%s: direction %d: cs and dc go with the LSTM, dgh with the GRU, save with both (forward: or "
                      "none, inference)", who, d);
        BATON_REQUIRE(!k->bf16 || (k->w16[d] && k->hs16[d] && k->dgx16[d] && (!r->dgh || k->dgh16[d])),
                      "%s: bf16 precision, but direction %d lacks a bf16 mirror of w_hh, hs, dgx or dgh", who, d);
    }
    return BATON_OK;
}

/* Blocks of both persistent kernels of (C, W) resident per SM with `smem` bytes each. */
/* Blocks of kernel fn resident per SM with `smem` bytes of dynamic shared memory. */
template <typename K> baton_status occupancy(int *per_sm, K fn, size_t smem)
{
    BATON_CUDA_CHECK(cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    BATON_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(per_sm, fn, BATON_RECUR_THREADS, smem));
    return BATON_OK;
}

/* Blocks of both persistent kernels of (C, W) (tensor-core ones with tc) resident per SM. */
template <baton_cell C, typename W> struct occupancy_op {
    static baton_status run(int *per_sm, size_t smem, int tc)
    {
        int fwd = 0, bwd = 0;
        if (tc) {
            BATON_TRY(occupancy(&fwd, recur_persistent_tc_fwd<C>, smem));
            BATON_TRY(occupancy(&bwd, recur_persistent_tc_bwd<C>, smem));
        } else {
            BATON_TRY(occupancy(&fwd, recur_persistent_fwd<C, W>, smem));
            BATON_TRY(occupancy(&bwd, recur_persistent_bwd<C, W>, smem));
        }
        *per_sm = fwd < bwd ? fwd : bwd;
        return BATON_OK;
    }
};

/* The persistent launch of kernel fn over k's grid with smem bytes of shared memory. */
template <typename K>
baton_status launch_persistent(K fn, const baton_kernel_recur_args *k, size_t smem, cudaStream_t stream)
{
    BATON_CUDA_CHECK(cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    BATON_CUDA_CHECK(BATON_LAUNCH_COOPERATIVE(grid_of(k, k->a.dirs), BATON_RECUR_THREADS, smem, stream, fn)(*k));
    return BATON_OK;
}

/* Shared memory of a persistent block of U units. */
size_t persistent_bytes(baton_cell cell, int Hd, int U, int bf16, int tc)
{
    return tc ? tc::layout(baton_cell_gates(cell), Hd, U).bytes() : slab_bytes(cell, Hd, U, bf16);
}

/* Enqueues one pass: forward (T step launches) or backward (T+1), or persistent's one launch. */
template <baton_cell C, typename W> struct pass_op {
    static baton_status run(baton_recur_version v, int backward, const baton_kernel_recur_args *k,
                            cudaStream_t stream)
    {
        if (v == BATON_RECUR_PERSISTENT) {
            size_t smem = persistent_bytes(C, k->a.Hd, k->a.units, k->bf16, k->tc);
            if (k->tc)
                return launch_persistent(backward ? recur_persistent_tc_bwd<C> : recur_persistent_tc_fwd<C>, k, smem,
                                         stream);
            return launch_persistent(backward ? recur_persistent_bwd<C, W> : recur_persistent_fwd<C, W>, k, smem,
                                     stream);
        }
        for (int s = 0; s < k->a.T + backward; s++) {
            if (backward)
                BATON_LAUNCH(grid_of(k, k->a.dirs), BATON_RECUR_THREADS, 0, stream, recur_gemm_bwd<C, W>)(*k, s);
            else
                BATON_LAUNCH(grid_of(k, k->a.dirs), BATON_RECUR_THREADS, 0, stream, recur_gemm_fwd<C, W>)(*k, s);
            BATON_CUDA_CHECK_LAUNCH();
        }
        return BATON_OK;
    }
};

} // namespace

extern "C" baton_status baton_kernel_recur_plan(int *units, char *why, size_t why_len, baton_recur_version v,
                                                baton_cell cell, int Hd, int dirs, int bf16, int tc)
{
    *units = 0;
    if (why_len)
        why[0] = 0;
    int lanes_max = v == BATON_RECUR_WAVEFRONT ? BATON_RECUR_MAX_WAVE : 2;
    BATON_REQUIRE(Hd >= 1 && dirs >= 1 && dirs <= lanes_max,
                  "recur plan: Hd=%d dirs=%d, expected Hd >= 1, dirs 1 to %d", Hd, dirs, lanes_max);
    int sms, optin;
    BATON_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    BATON_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, 0));
    /* one block per SM where the units allow: every block reads all of h (or dg) at each step, so
     * more blocks than SMs only add L2 traffic, while split-K keeps a block's threads busy */
    int want = (dirs * Hd + sms - 1) / sms;
    if (v == BATON_RECUR_GEMM || v == BATON_RECUR_WAVEFRONT) {
        *units = want < Hd ? want : Hd;
        return BATON_OK;
    }
    BATON_REQUIRE(v == BATON_RECUR_PERSISTENT, "recur plan: unknown version %d", (int)v);
    tc = tc && bf16;
    /* the tensor-core kernels give each of the 8 warps at most one 16-column output tile */
    int most = tc ? 128 / baton_cell_gates(cell) : Hd;
    for (int u = want; u <= Hd && u <= most; u++) {
        size_t smem = persistent_bytes(cell, Hd, u, bf16, tc);
        if (smem > (size_t)optin)
            break;
        int per_sm = 0;
        BATON_TRY(dispatch<occupancy_op>(cell, bf16, &per_sm, smem, tc));
        if ((long long)dirs * ((Hd + u - 1) / u) <= (long long)per_sm * sms) {
            *units = u;
            return BATON_OK;
        }
    }
    double mib = (double)slab_bytes(cell, Hd, Hd, bf16) * dirs / (1 << 20);
    snprintf(why, why_len,
             "the %s layer's W_hh (%d direction%s of %dx%d, %s) is %.1f MiB, more than the blocks that %d SMs "
             "keep resident can hold in shared memory (at most %d KiB a block%s)",
             cell_label(cell), dirs, dirs == 2 ? "s" : "", baton_cell_gates(cell) * Hd, Hd, bf16 ? "bf16" : "fp32",
             mib, sms, optin / 1024, tc ? ", with the tensor-core kernels' staging; --kernels recur=simt needs less" : "");
    return BATON_OK;
}

extern "C" baton_status baton_kernel_recur_forward(baton_recur_version v, const baton_kernel_recur_args *k,
                                                   cudaStream_t stream)
{
    BATON_TRY(check_args(k, 0, "baton_kernel_recur_forward"));
    return dispatch<pass_op>(k->a.cell, k->bf16, v, 0, k, stream);
}

extern "C" baton_status baton_kernel_recur_backward(baton_recur_version v, const baton_kernel_recur_args *k,
                                                    cudaStream_t stream)
{
    BATON_TRY(check_args(k, 1, "baton_kernel_recur_backward"));
    BATON_REQUIRE(k->a.dy != NULL, "baton_kernel_recur_backward: dy is NULL");
    return dispatch<pass_op>(k->a.cell, k->bf16, v, 1, k, stream);
}
