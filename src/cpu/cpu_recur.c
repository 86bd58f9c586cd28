/* cpu_recur.c: the CPU backend's whole recurrence (recur.h, version "packed"): W_hh packed once per
 * layer call, then all T steps with libxsmm's JIT matrix kernels on the packed panels and the cell of
 * cell_math.h, dealt over the threads of cpu_deal.c's pool.
 *
 * Why: the per-step path (rnn.c's direction_forward) calls sgemm with M = B rows, and OpenBLAS packs
 * both operands at every call, so W_hh (G*Hd x Hd, 1-4 MiB) is re-packed T times per layer and pass;
 * at M = 32 that halves the product's speed (bench/results/2026-12-06-cpu-rnn-torch2-t1/NOTES.md).
 * Packing it once and calling a register-blocked kernel per panel is what oneDNN's RNN primitive,
 * which PyTorch 2 uses, does too.
 *
 * Work split. Hd's units are cut in chunks of `units` (the plan's, 32) and the B rows in as many
 * blocks; an item is one chunk (and one row block) of one direction, run as units of phased work
 * (cpu_deal.c: a thread keeps its items from step to step, and takes over another's when that one
 * falls behind). Forward, each step is two phases: the products of a chunk, hg[:, q*Hd + j0 ..
 * q*Hd + j1) = h_prev W_hh[q*Hd + j0 .. q*Hd + j1, :]^T for each gate q, then the cell of a row
 * block over all its units (the next step's products read every unit of h). Backward, the cell of a
 * row block (its gate gradients dg and dh_prev's direct part), then the products of a chunk,
 * dh[:, j0 .. j1) += dg W_hh[:, j0 .. j1), which read every unit's dg. A unit's sums are the same
 * whoever runs it, so results do not depend on the thread count.
 *
 * libxsmm's kernels are column-major: C (m x n) = A (m x k) B (k x n). A row-major (B, X) matrix is
 * a column-major (X x B) one, so with n = B rows:
 *   forward  hg^T[q-gate units]  (u x B, ld G*Hd) = P_f (u x Hd)   h_prev^T (Hd x B, ld Hd)
 *   backward dh^T[units]         (u x B, ld Hd)  += P_b (u x G*Hd) dg^T     (G*Hd x B, ld G*Hd)
 * where the packed panels are P_f[k*u + i] = W_hh[q*Hd + j0 + i, k] and P_b[r*u + i] = W_hh[r, j0 + i]. */
#include <stdio.h>
#include <string.h>

#include <libxsmm.h>

#include "cpu_internal.h"

/* Units per chunk: a forward panel of 32 x Hd floats (32 KiB at Hd = 256) stays in L1 while the
 * kernel walks the rows of h; 48 to 128 measured within 5% of it, 16 10% slower (NOTES.md). */
#define RECUR_UNITS 32

/* The JIT kernels of one call: for full chunks and for the last, shorter one (NULL where none). */
typedef struct {
    libxsmm_smmfunction full, last;
} kernels;

/* One call's shared view: the arguments, the packed panels per direction, the kernels. */
typedef struct {
    const baton_recur_args *a;
    float *packed[2];    /* per direction: W_hh's panels (G*Hd*Hd floats), then W_ih's (G*Hd*I) where inside */
    kernels k, k_in;     /* W_hh's products (forward k = Hd, backward k = G*Hd); W_ih's (k = I) */
    int G, chunks, items;
    int inside;          /* the input projection runs inside the steps, into xg's first step (a->x given) */
} recur_call;

static baton_status packed_reserve(baton_backend *be, size_t n);

static size_t packed_floats(baton_cell cell, int Hd, int dirs)
{
    return (size_t)dirs * (size_t)baton_cell_gates(cell) * (size_t)Hd * (size_t)Hd;
}

baton_status baton_cpu_recur_plan(baton_backend *be, baton_recur_version v, baton_cell cell, int Hd, int dirs,
                                  int *units, char *why, size_t why_len)
{
    *units = 0;
    BATON_REQUIRE(Hd >= 1 && dirs >= 1 && dirs <= 2, "recur plan: Hd=%d dirs=%d, expected Hd >= 1, dirs 1 or 2", Hd,
                  dirs);
    if (v != BATON_RECUR_PACKED) {
        snprintf(why, why_len, "%s runs on the cuda device; the cpu runs fused or packed",
                 baton_recur_version_name(v));
        return BATON_OK;
    }
    if (be->precision == BATON_PRECISION_BF16) {
        snprintf(why, why_len, "bf16 rounds every GEMM operand, which the per-step products do (fused)");
        return BATON_OK;
    }
    float one = 1.0f;
    int flags = LIBXSMM_GEMM_FLAG_NONE, prefetch = LIBXSMM_PREFETCH_NONE;
    libxsmm_blasint m = RECUR_UNITS < Hd ? RECUR_UNITS : Hd, n = 1, k = Hd;
    if (!libxsmm_smmdispatch(m, n, k, &m, &k, &m, &one, &one, &flags, &prefetch)) {
        snprintf(why, why_len, "libxsmm has no JIT kernel for this CPU (libxsmm_smmdispatch returned none)");
        return BATON_OK;
    }
    /* setup: every plan grows the one buffer that all layer calls share in turn */
    BATON_TRY(packed_reserve(be, packed_floats(cell, Hd, dirs)));
    *units = (int)m;
    return BATON_OK;
}

/* *f = libxsmm's kernel for C (m x n, ld ldc) = A (m x k, ld m) B (k x n, ld ldb) + beta C. */
static baton_status kernel(libxsmm_smmfunction *f, int m, int n, int k, int ldb, int ldc, float beta)
{
    float one = 1.0f; /* libxsmm 1.17 takes alpha 1 only, beta 0 or 1 */
    int flags = LIBXSMM_GEMM_FLAG_NONE, prefetch = LIBXSMM_PREFETCH_NONE; /* prefetch kernels take 6 arguments */
    libxsmm_blasint mm = m, nn = n, kk = k, lda = m, lb = ldb, lc = ldc;
    *f = libxsmm_smmdispatch(mm, nn, kk, &lda, &lb, &lc, &one, &beta, &flags, &prefetch);
    if (!*f)
        return BATON_ERROR(BATON_ERR_UNSUPPORTED, "libxsmm: no JIT kernel for m=%d n=%d k=%d (ldb %d, ldc %d)", m, n,
                           k, ldb, ldc);
    return BATON_OK;
}

/* The kernels for chunks of u units and for the last one of `last` (none where last == u). */
static baton_status kernels_for(kernels *k, int u, int last, int B, int K, int ldc, float beta)
{
    BATON_TRY(kernel(&k->full, u, B, K, K, ldc, beta));
    k->last = NULL;
    return last == u ? BATON_OK : kernel(&k->last, last, B, K, K, ldc, beta);
}

/* The panels' buffer holds at least n floats. The plan reserves W_hh's; the input width of a layer,
 * which W_ih's panels need too, is known at its first call, whose growth is the only allocation
 * outside setup (as the bf16 GEMM's rounded operands, cpu_gemm.c). */
static baton_status packed_reserve(baton_backend *be, size_t n)
{
    cpu_ctx *c = be->impl;
    if (c->packed_n >= n)
        return BATON_OK;
    be->ops->free(be, c->packed);
    c->packed = NULL;
    c->packed_n = 0;
    BATON_TRY(be->ops->alloc(be, (void **)&c->packed, n * sizeof(float), "packed recurrent weights"));
    c->packed_n = n;
    return BATON_OK;
}

/* The call's view and its kernels (forward: k = Hd into hg, and k = I into xg where inside;
 * backward: k = G*Hd into dh). */
static baton_status call_setup(recur_call *rc, baton_backend *be, const baton_recur_args *a, int backward)
{
    cpu_ctx *c = be->impl;
    int Hd = a->Hd, u = a->units, G = baton_cell_gates(a->cell);
    BATON_REQUIRE(u >= 1 && u <= Hd && a->T >= 1 && a->B >= 1 && a->dirs >= 1 && a->dirs <= 2,
                  "recur: units=%d Hd=%d T=%d B=%d dirs=%d, expected a plan's units and positive sizes", u, Hd, a->T,
                  a->B, a->dirs);
    int inside = !backward && a->x, I = inside ? a->I : 0;
    BATON_REQUIRE(!inside || I >= 1, "recur: input width %d, expected >= 1", I);
    size_t per_dir = (size_t)G * Hd * ((size_t)Hd + (size_t)I);
    BATON_TRY(packed_reserve(be, per_dir * (size_t)a->dirs));
    *rc = (recur_call){.a = a, .G = G, .chunks = (Hd + u - 1) / u, .inside = inside};
    rc->items = rc->chunks * a->dirs;
    for (int d = 0; d < a->dirs; d++)
        rc->packed[d] = c->packed + (size_t)d * per_dir;
    int last = Hd - (rc->chunks - 1) * u, K = backward ? G * Hd : Hd, ldc = backward ? Hd : G * Hd;
    float beta = backward ? 1.0f : 0.0f;
    BATON_TRY(kernels_for(&rc->k, u, last, a->B, K, ldc, beta));
    return inside ? kernels_for(&rc->k_in, u, last, a->B, I, ldc, 0.0f) : BATON_OK;
}

/* Units [*j0, *j1) of chunk c, and the kernel for its width. */
static libxsmm_smmfunction chunk_units(const recur_call *rc, int c, int *j0, int *j1)
{
    int u = rc->a->units;
    *j0 = c * u;
    *j1 = *j0 + u < rc->a->Hd ? *j0 + u : rc->a->Hd;
    return c + 1 == rc->chunks && rc->k.last ? rc->k.last : rc->k.full;
}

/* Forward panels of units j0..j1 of a (G*Hd, K) weight W: P[k*w + i] = W[q*Hd + j0 + i, k] for each
 * gate q (w = j1 - j0), stored where rows q*Hd + j0 .. start, so the panels of all chunks tile the
 * G*Hd*K floats at p exactly. */
static void pack_rows(float *p, const float *W, int Hd, int G, int K, int j0, int j1)
{
    int w = j1 - j0;
    for (int q = 0; q < G; q++) {
        size_t row0 = (size_t)q * Hd + (size_t)j0;
        float *panel = p + row0 * K;
        for (int i = 0; i < w; i++) {
            const float *src = W + (row0 + (size_t)i) * K;
            for (int k = 0; k < K; k++)
                panel[(size_t)k * w + i] = src[k];
        }
    }
}

/* Forward panels of item i: W_hh's, and W_ih's where the input projection runs inside. */
static void pack_forward(const recur_call *rc, int item)
{
    int Hd = rc->a->Hd, I = rc->a->I, d = item / rc->chunks, j0, j1;
    (void)chunk_units(rc, item % rc->chunks, &j0, &j1);
    pack_rows(rc->packed[d], rc->a->dir[d].w_hh, Hd, rc->G, Hd, j0, j1);
    if (rc->inside) /* W_ih's panels after all of W_hh's, in the same layout with I columns */
        pack_rows(rc->packed[d] + (size_t)rc->G * Hd * Hd, rc->a->dir[d].w_ih, Hd, rc->G, I, j0, j1);
}

/* Backward panel of item i: P_b[r*w + i'] = W_hh[r, j0 + i'] for every row r < G*Hd, at j0*G*Hd. */
static void pack_backward(const recur_call *rc, int item)
{
    int Hd = rc->a->Hd, GH = rc->G * Hd, d = item / rc->chunks, j0, j1;
    (void)chunk_units(rc, item % rc->chunks, &j0, &j1);
    int w = j1 - j0;
    const float *W = rc->a->dir[d].w_hh;
    float *p = rc->packed[d] + (size_t)j0 * GH;
    for (int r = 0; r < GH; r++)
        memcpy(p + (size_t)r * w, W + (size_t)r * Hd + j0, (size_t)w * sizeof(float));
}

/* State slots before and after step k of direction d (rnn.c's order), and the step's time index. */
static void slots(const baton_recur_args *a, int d, int k, int *tt, int *prev, int *next)
{
    *tt = d ? a->T - 1 - k : k;
    *prev = d ? *tt + 1 : *tt;
    *next = d ? *tt : *tt + 1;
}

/* Rows [*r0, *r1) of item i's row block: the cells run over blocks of whole rows, whose operands
 * are contiguous. Over chunks of units instead, each row's slice sits a page (G*Hd*4 bytes at Hd =
 * 256) from the next one's, all in the same cache sets: the LSTM cell then took 3.5x its time in
 * cache at B = 128. */
static int block_rows(const recur_call *rc, int item, int *r0, int *r1)
{
    int c = item % rc->chunks, B = rc->a->B;
    *r0 = (int)((long)B * c / rc->chunks);
    *r1 = (int)((long)B * (c + 1) / rc->chunks);
    return *r1 > *r0;
}

/* Forward step k, products of item i: hg[:, q*Hd + j0 .. q*Hd + j1) = h_prev W_hh[q-gate units]^T. */
static void forward_product(const recur_call *rc, int item, int k)
{
    const baton_recur_args *a = rc->a;
    int d = item / rc->chunks, Hd = a->Hd, tt, prev, next, j0, j1;
    libxsmm_smmfunction f = chunk_units(rc, item % rc->chunks, &j0, &j1);
    slots(a, d, k, &tt, &prev, &next);
    const baton_recur_dir *r = &a->dir[d];
    const float *h_prev = r->hs + (size_t)prev * a->B * Hd;
    for (int q = 0; q < rc->G; q++) {
        size_t row0 = (size_t)q * Hd + (size_t)j0;
        f(rc->packed[d] + row0 * Hd, h_prev, r->hg + row0);
    }
    if (!rc->inside)
        return;
    /* xg's first step, the scratch of every step: x_t W_ih[q-gate units]^T */
    libxsmm_smmfunction g = f == rc->k.full ? rc->k_in.full : rc->k_in.last;
    const float *x = a->x + (size_t)tt * a->B * a->I, *w_ih = rc->packed[d] + (size_t)rc->G * Hd * Hd;
    for (int q = 0; q < rc->G; q++) {
        size_t row0 = (size_t)q * Hd + (size_t)j0;
        g(w_ih + row0 * a->I, x, r->xg + row0);
    }
}

/* The rows of item i's block at step k (a cell's share of a step): its direction, time index, state
 * slots and rows r0..r1, with the offsets both cell directions use. */
typedef struct {
    const baton_recur_dir *r;
    int d, tt, prev, next, r0, r1;
    size_t step, h0, at; /* B*Hd: one state slot; r0*Hd: the block's first state; tt*B + r0: its first row of y */
} cell_block;

/* Fills b for item i at step k; 0 when the block has no rows. */
static int cell_block_at(const recur_call *rc, int item, int k, cell_block *b)
{
    const baton_recur_args *a = rc->a;
    if (!block_rows(rc, item, &b->r0, &b->r1))
        return 0;
    b->d = item / rc->chunks;
    slots(a, b->d, k, &b->tt, &b->prev, &b->next);
    b->r = &a->dir[b->d];
    b->step = (size_t)a->B * a->Hd, b->h0 = (size_t)b->r0 * a->Hd, b->at = (size_t)b->tt * a->B + (size_t)b->r0;
    return 1;
}

/* Forward step k, cell of item i's row block: every unit of those rows. */
static void forward_cell(const recur_call *rc, int item, int k)
{
    const baton_recur_args *a = rc->a;
    int Hd = a->Hd, GH = rc->G * Hd, S = baton_cell_saved(a->cell);
    cell_block b;
    if (!cell_block_at(rc, item, k, &b))
        return;
    const baton_recur_dir *r = b.r;
    size_t step = b.step, h0 = b.h0, g0 = (size_t)b.r0 * GH;
    baton_cell_fwd_args c = {
        .B = b.r1 - b.r0, .Hd = Hd, .t = b.tt, .lengths = a->lengths + b.r0,
        .xg = r->xg + (rc->inside ? 0 : (size_t)b.tt * a->B * GH) + g0, .hg = r->hg + g0, .b_ih = r->b_ih,
        .b_hh = r->b_hh,
        .h_prev = r->hs + b.prev * step + h0, .c_prev = r->cs ? r->cs + b.prev * step + h0 : NULL,
        .h = r->hs + b.next * step + h0, .c = r->cs ? r->cs + b.next * step + h0 : NULL,
        .y = a->y + b.at * a->ldy + (size_t)b.d * Hd, .ldy = a->ldy,
        .save = r->save ? r->save + b.at * S * Hd : NULL,
    };
    baton_cpu_cell_forward_units(a->cell, &c, 0, Hd);
}

/* Backward step k, cell of item i's row block: gate gradients and dh_prev's direct part of those rows. */
static void backward_cell(const recur_call *rc, int item, int k)
{
    const baton_recur_args *a = rc->a;
    int Hd = a->Hd, GH = rc->G * Hd, S = baton_cell_saved(a->cell);
    cell_block b;
    if (!cell_block_at(rc, item, k, &b))
        return;
    const baton_recur_dir *r = b.r;
    size_t step = b.step, h0 = b.h0, g0 = b.at * GH;
    baton_cell_bwd_args c = {
        .B = b.r1 - b.r0, .Hd = Hd, .t = b.tt, .lengths = a->lengths + b.r0,
        .dy = a->dy + b.at * a->ldy + (size_t)b.d * Hd, .ldy = a->ldy,
        .dh = r->dh + h0, .dc = r->dc ? r->dc + h0 : NULL,
        .save = r->save ? r->save + b.at * S * Hd : NULL,
        .h_prev = r->hs + b.prev * step + h0, .h = r->hs + b.next * step + h0,
        .c_prev = r->cs ? r->cs + b.prev * step + h0 : NULL, .c = r->cs ? r->cs + b.next * step + h0 : NULL,
        .dgx = r->dgx + g0, .dgh = r->dgh ? r->dgh + g0 : NULL,
        .dh_prev = r->dh + h0, .dc_prev = r->dc ? r->dc + h0 : NULL,
    };
    baton_cpu_cell_backward_units(a->cell, &c, 0, Hd);
}

/* Backward step k, products of item i: dh[:, j0..j1) += dg W_hh[:, j0..j1), dg the recurrent side
 * (dgh for the GRU, else dgx). */
static void backward_product(const recur_call *rc, int item, int k)
{
    const baton_recur_args *a = rc->a;
    int d = item / rc->chunks, GH = rc->G * a->Hd, tt, prev, next, j0, j1;
    libxsmm_smmfunction f = chunk_units(rc, item % rc->chunks, &j0, &j1);
    slots(a, d, k, &tt, &prev, &next);
    const baton_recur_dir *r = &a->dir[d];
    const float *dg = (r->dgh ? r->dgh : r->dgx) + (size_t)tt * a->B * GH;
    f(rc->packed[d] + (size_t)j0 * GH, dg, r->dh + j0);
}

/* Forward unit (phase, item) of cpu_deal.c: phase 0 packs the item's panels; then each step k is two
 * phases, the products of chunk i (phase 1 + 2k) and the cell of row block i (phase 2 + 2k). */
static void forward_unit(void *ctx, int phase, int item)
{
    const recur_call *rc = ctx;
    if (phase == 0)
        pack_forward(rc, item);
    else if (phase % 2)
        forward_product(rc, item, (phase - 1) / 2);
    else
        forward_cell(rc, item, (phase - 2) / 2);
}

/* Backward unit: phase 0 packs; then each step k from T-1 down is two phases, the cell of row block
 * i (which reads the dh that the step after completed) and the products of chunk i (which read every
 * unit's gate gradients of the step). */
static void backward_unit(void *ctx, int phase, int item)
{
    const recur_call *rc = ctx;
    int T = rc->a->T;
    if (phase == 0)
        pack_backward(rc, item);
    else if (phase % 2)
        backward_cell(rc, item, T - 1 - (phase - 1) / 2);
    else
        backward_product(rc, item, T - 1 - (phase - 2) / 2);
}

baton_status baton_cpu_recur_forward(baton_backend *be, baton_recur_version v, const baton_recur_args *a)
{
    BATON_REQUIRE(v == BATON_RECUR_PACKED, "recur forward: version %s runs on the cuda device",
                  baton_recur_version_name(v));
    recur_call rc;
    BATON_TRY(call_setup(&rc, be, a, 0));
    baton_cpu_deal_run(be->threads, rc.items, 1 + 2 * a->T, forward_unit, &rc);
    return BATON_OK;
}

baton_status baton_cpu_recur_backward(baton_backend *be, baton_recur_version v, const baton_recur_args *a)
{
    BATON_REQUIRE(v == BATON_RECUR_PACKED, "recur backward: version %s runs on the cuda device",
                  baton_recur_version_name(v));
    recur_call rc;
    BATON_TRY(call_setup(&rc, be, a, 1));
    baton_cpu_deal_run(be->threads, rc.items, 1 + 2 * a->T, backward_unit, &rc);
    return BATON_OK;
}
