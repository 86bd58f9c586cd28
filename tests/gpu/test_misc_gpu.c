/* test_misc_gpu.c: the elementwise, optimizer and embedding kernels (kernels/elementwise.cu,
 * kernels/optim.cu, kernels/embedding.cu, launchers in kernels/misc_launch.h; topk_rows of
 * kernels/softmax_xent.cu) against the CPU backend's ops of the same name
 * (baton_cpu_backend_create, be.ops->...).
 *
 * Every case draws fresh inputs (tu_fill_uniform, a new purpose per tensor), poisons outputs with
 * NaN on both sides (so an element the kernel never writes fails), and sweeps odd sizes that do
 * not fill a block or a warp. What is compared how:
 *   bit-identical (the kernels take the CPU's order and roundings): dropout (values and masks),
 *     copy2d, add_bias, colsum_add plain, argmax_rows and topk_rows' picks (with many ties),
 *     embed_gather; topk_rows' log-sum-exp within ROUND_TOL;
 *   colsum_add, both versions, with and without the second output, onto random nonzero outputs
 *     (+=): plain bit-identical to the CPU; tiled within a per-element bound of the exact sum
 *     (COLSUM_BOUND below), and twice from the same start bit-identical (determinism);
 *   embed_scatter_add, v1 first-occurrence and v2 sorted (plain and split): run twice from the
 *     same dtable, the two results identical bit for bit (determinism); v1 and plain bit-identical
 *     to the CPU (each element is summed in index order with plain float adds, as on the CPU);
 *     split bit-identical to the CPU for ids of at most BATON_EMBED_SPLIT_RUN rows, and within
 *     the float summation bound (SPLIT_BOUND below) of the exact sum for longer runs (one id
 *     3000 times among others, several long runs, runs of exactly 128 and 129);
 *   the CUDA backend's ops (colsum_add with out2, embed_scatter_add) run the version its
 *     --kernels spec names: bit-identical to that version's launcher;
 *   sumsq: two runs bit-identical, within ROUND_TOL of the CPU's sequential double sum;
 *   axpby, tanh forward/backward, Adam/SGD update: within ROUND_TOL relative (tu_rel_err_ff),
 *     nvcc's FMA contraction differing from the host's roundings by an ulp or so.
 * Tolerances: one float ulp is 1.2e-7 relative; the longest chain (Adam: moments, sqrt, divide,
 * decay) rounds about ten times, so honest differences stay near 1e-6 in the worst element and
 * well below it in the norm. ROUND_TOL 2e-6 on the norm-wise relative error leaves margin, while
 * a wrong index or a missed element moves the error to O(1) (or NaN). A NaN result never passes:
 * the bound checks fail on NaN, and bit comparisons are made against finite CPU results.
 *
 * Exits 77 (meson's "skipped") with one line when no CUDA device is usable, 1 on any failure.
 * Status: written and compiled on a machine without a GPU, never yet run on one. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "baton/backend.h"
#include "baton/bf16.h"
#include "baton_config.h"
#include "baton/rng.h"
#include "baton/status.h"
#include "kernels/attn_launch.h"
#include "kernels/misc_launch.h"
#include "testutil.h"

#define ROUND_TOL 2e-6
#define SEED 0x6d697363676075ULL
#define CAP ((size_t)1 << 20) /* floats per buffer */

/* The emulation (-Dgpu_emulation=true) runs every launch under four schedules on two CPU cores:
 * it keeps the odd sizes and the edges but not the largest shapes, which only a GPU runs fast. */
#if BATON_GPU_EMULATION
static const size_t lens[] = {1, 3, 4, 5, 31, 255, 257, 1000, 4099};
#else
static const size_t lens[] = {1, 3, 4, 5, 31, 255, 257, 1000, 4099, 100003};
#endif
static const int mat[][2] = {{1, 1}, {3, 7}, {67, 257}, {129, 33}, {5, 1000}, {1000, 3}};
#define NLENS (sizeof lens / sizeof lens[0])
#define NMAT (sizeof mat / sizeof mat[0])

static tu_report rep;
static uint32_t purpose_k; /* a fresh random stream per filled tensor */
static baton_backend cpu;

/* Host buffers: a, b, c inputs; r, r2 CPU outputs; g, g2 GPU outputs downloaded. */
static float *ha, *hb, *hc, *hr, *hr2, *hg, *hg2;
static float *da, *db, *dc, *dd, *de;
static uint16_t *dmirror, *hmirror; /* the optimizer's bf16 mirror of the parameters */
static void *dsmall; /* device copies of the values kernels read from memory: a dropout counter, optimizer hyper */
static double *dscratch;
static void *dsort; /* scratch of the sorted embedding backward */
static size_t dsort_bytes;
static int *hids, *dids, *hidx, *gidx;

#define CK(call)                                                                                   \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            fprintf(stderr, "misc_gpu: %s failed: %s (%s:%d)\n", #call, cudaGetErrorString(e_), __FILE__, __LINE__); \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)
#define OK(call)                                                                                   \
    do {                                                                                           \
        baton_status s_ = (call);                                                                  \
        if (s_ != BATON_OK) {                                                                      \
            fprintf(stderr, "misc_gpu: %s returned %s (%s:%d)\n", #call, baton_status_name(s_), __FILE__, __LINE__); \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static void fill(float *x, size_t n, float lo, float hi) { tu_fill_uniform(x, n, lo, hi, SEED, purpose_k++); }
static void up(float *d, const float *h, size_t n) { CK(cudaMemcpy(d, h, n * sizeof(float), cudaMemcpyHostToDevice)); }
static void down(float *h, const float *d, size_t n) { CK(cudaMemcpy(h, d, n * sizeof(float), cudaMemcpyDeviceToHost)); }
static void poison_dev(float *d, size_t n) { CK(cudaMemset(d, 0xff, n * sizeof(float))); }
static void sync_dev(void) { CK(cudaDeviceSynchronize()); }

/* Counts elements whose bits differ (NaN bits included). */
static size_t bit_diffs(const float *x, const float *y, size_t n)
{
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        d += memcmp(x + i, y + i, sizeof(float)) != 0;
    return d;
}

static void check_bits(const char *name, const float *got, const float *ref, size_t n)
{
    size_t d = bit_diffs(got, ref, n);
    rep.checks++;
    if (d) {
        rep.failures++;
        printf("%s: %zu of %zu elements differ in bits FAIL\n", name, d, n);
    }
}

static void check_rel(const char *name, const float *got, const float *ref, size_t n, double tol)
{
    double e = tu_rel_err_ff(got, ref, n);
    rep.checks++;
    if (!(e <= tol)) {
        rep.failures++;
        printf("%s: rel err %.3g (tol %.3g) FAIL\n", name, e, tol);
    }
}

/* Fails unless every element is finite: a bit comparison against a NaN would otherwise pass. */
static void check_finite(const char *name, const float *got, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += !isfinite(got[i]);
    rep.checks++;
    if (bad) {
        rep.failures++;
        printf("%s: %zu of %zu elements not finite FAIL\n", name, bad, n);
    }
}

/* max_i |got[i] - ref[i]| / bound[i]; +inf where got is NaN. */
static double bound_ratio(const float *got, const double *ref, const double *bound, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (!(d <= INFINITY))
            return INFINITY;
        worst = d / bound[i] > worst ? d / bound[i] : worst;
    }
    return worst;
}

static void check_bound(const char *name, const float *got, const double *ref, const double *bound, size_t n)
{
    double e = bound_ratio(got, ref, bound, n);
    rep.checks++;
    if (!(e <= 1.0)) {
        rep.failures++;
        printf("%s: |err| / bound %.3g FAIL\n", name, e);
    }
}

static void test_elementwise(void)
{
    char name[128];
    for (size_t t = 0; t < NLENS; t++) {
        size_t n = lens[t];
        /* axpby, beta 0 (must not read y: y poisoned) and beta != 0 */
        for (int bz = 0; bz < 2; bz++) {
            float alpha = 0.75f, beta = bz ? 0.0f : -1.25f;
            fill(ha, n, -2, 2);
            fill(hb, n, -2, 2);
            if (bz)
                tu_fill_nan(hb, n);
            up(da, ha, n);
            up(db, hb, n);
            memcpy(hr, hb, n * sizeof(float));
            OK(cpu.ops->axpby(&cpu, hr, ha, alpha, beta, n));
            OK(baton_kernel_axpby(db, da, alpha, beta, n, 0));
            down(hg, db, n);
            snprintf(name, sizeof name, "axpby n=%zu beta=%g", n, (double)beta);
            check_rel(name, hg, hr, n, ROUND_TOL);
        }
        /* dropout: bit-identical values, so identical masks */
        static const float ps[] = {0.0f, 0.1f, 0.5f, 0.9f};
        for (size_t ip = 0; ip < 4; ip++) {
            fill(ha, n, 0.5f, 2); /* nonzero inputs: a zero output means dropped */
            up(da, ha, n);
            tu_fill_nan(hr, n);
            poison_dev(db, n);
            uint32_t purpose = BATON_RNG_DROPOUT | (uint32_t)ip, counter = 17u + (uint32_t)t;
            CK(cudaMemcpy(dsmall, &counter, sizeof counter, cudaMemcpyHostToDevice));
            OK(cpu.ops->dropout(&cpu, hr, ha, n, ps[ip], SEED + t, purpose, &counter));
            OK(baton_kernel_dropout(db, da, n, ps[ip], SEED + t, purpose, (const uint32_t *)dsmall, 0));
            down(hg, db, n);
            snprintf(name, sizeof name, "dropout n=%zu p=%g", n, (double)ps[ip]);
            check_bits(name, hg, hr, n);
        }
        /* tanh forward, then backward from the CPU's y */
        fill(ha, n, -4, 4);
        up(da, ha, n);
        tu_fill_nan(hr, n);
        poison_dev(db, n);
        OK(cpu.ops->tanh_forward(&cpu, hr, ha, n));
        OK(baton_kernel_tanh_forward(db, da, n, 0));
        down(hg, db, n);
        snprintf(name, sizeof name, "tanh_forward n=%zu", n);
        check_rel(name, hg, hr, n, ROUND_TOL);
        fill(hb, n, -1, 1); /* dy */
        up(db, hb, n);
        up(dc, hr, n); /* y */
        tu_fill_nan(hr2, n);
        poison_dev(dd, n);
        OK(cpu.ops->tanh_backward(&cpu, hr2, hb, hr, n));
        OK(baton_kernel_tanh_backward(dd, db, dc, n, 0));
        down(hg, dd, n);
        snprintf(name, sizeof name, "tanh_backward n=%zu", n);
        check_rel(name, hg, hr2, n, ROUND_TOL);
        /* in place: dx == dy */
        OK(baton_kernel_tanh_backward(db, db, dc, n, 0));
        down(hg, db, n);
        snprintf(name, sizeof name, "tanh_backward in-place n=%zu", n);
        check_rel(name, hg, hr2, n, ROUND_TOL);
    }
    for (size_t t = 0; t < NMAT; t++) {
        int rows = mat[t][0], cols = mat[t][1];
        size_t rc = (size_t)rows * cols;
        /* copy2d into a wider destination: the gaps must stay poisoned */
        int ld_src = cols + 3, ld_dst = cols + 5;
        fill(ha, (size_t)rows * ld_src, -1, 1);
        up(da, ha, (size_t)rows * ld_src);
        memset(hr, 0xff, (size_t)rows * ld_dst * sizeof(float)); /* the same NaN bits as poison_dev */
        poison_dev(db, (size_t)rows * ld_dst);
        OK(cpu.ops->copy2d(&cpu, hr, ld_dst, ha, ld_src, rows, cols));
        OK(baton_kernel_copy2d(db, ld_dst, da, ld_src, rows, cols, 0));
        down(hg, db, (size_t)rows * ld_dst);
        snprintf(name, sizeof name, "copy2d %dx%d", rows, cols);
        check_bits(name, hg, hr, (size_t)rows * ld_dst);
        /* add_bias */
        fill(ha, rc, -1, 1);
        fill(hb, (size_t)cols, -1, 1);
        up(da, ha, rc);
        up(db, hb, (size_t)cols);
        memcpy(hr, ha, rc * sizeof(float));
        OK(cpu.ops->add_bias(&cpu, hr, hb, rows, cols));
        OK(baton_kernel_add_bias(da, db, rows, cols, 0));
        down(hg, da, rc);
        snprintf(name, sizeof name, "add_bias %dx%d", rows, cols);
        check_bits(name, hg, hr, rc);
        /* argmax_rows: values quantized to 8 levels, so ties are frequent (first wins) */
        fill(ha, rc, 0, 8);
        for (size_t i = 0; i < rc; i++)
            ha[i] = floorf(ha[i]);
        up(da, ha, rc);
        memset(hidx, 0xff, (size_t)rows * sizeof(int));
        CK(cudaMemset(dids, 0xff, (size_t)rows * sizeof(int)));
        OK(cpu.ops->argmax_rows(&cpu, hidx, ha, rows, cols));
        OK(baton_kernel_argmax_rows(dids, da, rows, cols, 0));
        CK(cudaMemcpy(gidx, dids, (size_t)rows * sizeof(int), cudaMemcpyDeviceToHost));
        rep.checks++;
        if (memcmp(gidx, hidx, (size_t)rows * sizeof(int)) != 0) {
            rep.failures++;
            printf("argmax_rows %dx%d: indices differ FAIL\n", rows, cols);
        }
        /* topk_rows on the same tied values: indices and values bit-identical to the CPU's (both
         * rank by value, then column); lse within ROUND_TOL (the GPU sums in double per thread,
         * the CPU float blocks of 256 terms in (0, 1]: both far inside 2e-6 relative) */
        for (int k = 1; k <= 5 && k <= cols; k += 4) {
            size_t rk = (size_t)rows * k;
            tu_fill_nan(hr, rk), tu_fill_nan(hr2, (size_t)rows);
            memset(hidx, 0xff, rk * sizeof(int));
            poison_dev(db, rk), poison_dev(dc, (size_t)rows);
            CK(cudaMemset(dids, 0xff, rk * sizeof(int)));
            OK(cpu.ops->topk_rows(&cpu, hr, hidx, hr2, ha, rows, cols, k));
            OK(baton_kernel_topk_rows(db, dids, dc, da, rows, cols, k, 0));
            down(hg, db, rk);
            down(hg2, dc, (size_t)rows);
            CK(cudaMemcpy(gidx, dids, rk * sizeof(int), cudaMemcpyDeviceToHost));
            snprintf(name, sizeof name, "topk_rows %dx%d k=%d values", rows, cols, k);
            check_finite(name, hr, rk);
            check_bits(name, hg, hr, rk);
            snprintf(name, sizeof name, "topk_rows %dx%d k=%d log-sum-exp", rows, cols, k);
            check_rel(name, hg2, hr2, (size_t)rows, ROUND_TOL);
            rep.checks++;
            if (memcmp(gidx, hidx, rk * sizeof(int)) != 0) {
                rep.failures++;
                printf("topk_rows %dx%d k=%d: indices differ FAIL\n", rows, cols, k);
            }
        }
    }
    sync_dev();
}

/* colsum_add: exact (double) sums and the per-element bound of the tiled version. Tiled sums the
 * floats in double (error <= rows 2^-53 sum|x|, far below a float ulp), rounds the total to float
 * (<= 2^-24 |S|) and adds it to out (<= 2^-24 (|out0| + |S|)); so
 * COLSUM_BOUND = 2^-24 (2|S| + |out0|) + rows 2^-52 sum|x|, per element. The CPU's row-order sum
 * obeys the same bound; a lost row or column moves an element by ~|x| ~ 0.5, far above it. */
static double *col_exact, *col_bound;

static void colsum_reference(const float *in, const float *out0, int rows, int cols)
{
    for (int j = 0; j < cols; j++) {
        double sum = 0.0, abs_sum = 0.0;
        for (int i = 0; i < rows; i++) {
            sum += in[(size_t)i * cols + j];
            abs_sum += fabs(in[(size_t)i * cols + j]);
        }
        col_exact[j] = (double)out0[j] + sum;
        col_bound[j] = 0x1p-24 * (2.0 * fabs(sum) + fabs(out0[j])) + rows * 0x1p-52 * abs_sum + 1e-30;
    }
}

/* One version, with (with2) or without out2, from out0 (hb) and out20 (hc), twice: results at hg
 * and hg + cols (out2), the second run at hg2. */
static void colsum_case(int version, int with2, int rows, int cols)
{
    char name[160];
    const char *vname = version == BATON_COLSUM_PLAIN ? "plain" : "tiled";
    float *outs[2] = {hg, hg2};
    for (int run = 0; run < 2; run++) {
        up(db, hb, (size_t)cols);
        up(dc, hc, (size_t)cols);
        OK(baton_kernel_colsum_add(db, with2 ? dc : NULL, da, rows, cols, version, 0));
        down(outs[run], db, (size_t)cols);
        down(outs[run] + cols, dc, (size_t)cols);
    }
    snprintf(name, sizeof name, "colsum_add %s %dx%d%s deterministic", vname, rows, cols, with2 ? " out2" : "");
    check_bits(name, hg2, hg, 2 * (size_t)cols);
    snprintf(name, sizeof name, "colsum_add %s %dx%d%s finite", vname, rows, cols, with2 ? " out2" : "");
    check_finite(name, hg, 2 * (size_t)cols);
    if (!with2) { /* out2 untouched when not given */
        snprintf(name, sizeof name, "colsum_add %s %dx%d leaves out2 alone", vname, rows, cols);
        check_bits(name, hg + cols, hc, (size_t)cols);
    }
    if (version == BATON_COLSUM_PLAIN) {
        snprintf(name, sizeof name, "colsum_add plain %dx%d%s vs CPU", rows, cols, with2 ? " out2" : "");
        check_bits(name, hg, hr, (size_t)cols);
        if (with2)
            check_bits(name, hg + cols, hr2, (size_t)cols);
        return;
    }
    snprintf(name, sizeof name, "colsum_add tiled %dx%d%s vs exact", rows, cols, with2 ? " out2" : "");
    check_bound(name, hg, col_exact, col_bound, (size_t)cols);
    if (with2) { /* out2 is out20 plus the same float sum: the same bound, from out20 */
        colsum_reference(ha, hc, rows, cols);
        snprintf(name, sizeof name, "colsum_add tiled %dx%d out2 (second output) vs exact", rows, cols);
        check_bound(name, hg + cols, col_exact, col_bound, (size_t)cols);
        colsum_reference(ha, hb, rows, cols);
    }
}

/* Shapes: cols not a multiple of 32, rows below a block's 32 row groups, rows = 1, one column. */
static void test_colsum(void)
{
#if BATON_GPU_EMULATION
    static const int shapes[][2] = {{1, 1}, {1, 33}, {2, 31}, {3, 7}, {31, 100}, {33, 31}, {67, 257},
                                    {129, 33}, {5, 1000}, {1000, 3}, {300, 1100}};
#else
    static const int shapes[][2] = {{1, 1}, {1, 33}, {2, 31}, {3, 7}, {31, 100}, {33, 31}, {67, 257},
                                    {129, 33}, {5, 1000}, {1000, 3}, {300, 1100}, {1000, 1024}, {250, 4096}};
#endif
    col_exact = malloc(4096 * sizeof(double));
    col_bound = malloc(4096 * sizeof(double));
    if (!col_exact || !col_bound)
        exit(1);
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        int rows = shapes[t][0], cols = shapes[t][1];
        fill(ha, (size_t)rows * cols, -1, 1);
        fill(hb, (size_t)cols, -1, 1); /* out0: += onto nonzero values */
        fill(hc, (size_t)cols, -1, 1); /* out20 */
        up(da, ha, (size_t)rows * cols);
        memcpy(hr, hb, (size_t)cols * sizeof(float));
        memcpy(hr2, hc, (size_t)cols * sizeof(float));
        OK(cpu.ops->colsum_add(&cpu, hr, hr2, ha, rows, cols));
        colsum_reference(ha, hb, rows, cols);
        for (int version = BATON_COLSUM_PLAIN; version <= BATON_COLSUM_TILED; version++)
            for (int with2 = 0; with2 < 2; with2++)
                colsum_case(version, with2, rows, cols);
    }
    free(col_exact);
    free(col_bound);
    sync_dev();
}

static void test_optim(void)
{
    char name[128];
    for (size_t t = 0; t < NLENS; t++) {
        size_t n = lens[t];
        /* sumsq: twice (bits), vs the CPU */
        fill(ha, n, -1, 1);
        up(da, ha, n);
        float ref = NAN, g1 = NAN, g2 = NAN;
        OK(cpu.ops->sumsq(&cpu, &ref, ha, n));
        OK(baton_kernel_sumsq(db, da, n, dscratch, 0));
        down(&g1, db, 1);
        poison_dev(db, 1);
        OK(baton_kernel_sumsq(db, da, n, dscratch, 0));
        down(&g2, db, 1);
        snprintf(name, sizeof name, "sumsq n=%zu deterministic", n);
        check_bits(name, &g2, &g1, 1);
        snprintf(name, sizeof name, "sumsq n=%zu", n);
        check_rel(name, &g1, &ref, 1, ROUND_TOL);

        for (int kind = 0; kind < 2; kind++) {
            baton_optim_hyper h = {kind ? BATON_OPT_SGD : BATON_OPT_ADAM, kind ? 0.1f : 1e-3f, 0.9f, 0.999f, 1e-8f,
                                   kind ? 1e-4f : 0.01f, t % 2 ? 1.0f : 0.0f, 0.5f, 3, kind ? 0.5f : 0.9f};
            /* params ha, grads hb, m hc, v hg2, moving average hr (a large step, 1 - ema, so that a
             * moving average the kernel skipped or moved twice stands far above ROUND_TOL) */
            float *hm = hc, *hv = hg2;
            fill(ha, n, -1, 1);
            fill(hb, n, -1, 1);
            fill(hm, n, -0.1f, 0.1f);
            fill(hv, n, 0, 0.01f);
            fill(hr, n, -1, 1);
            up(de, hr, n);
            float *dm = dc, *dv = dd;
            up(da, ha, n);
            up(db, hb, n);
            up(dm, hm, n);
            up(dv, hv, n);
            float sumsq = NAN;
            OK(cpu.ops->sumsq(&cpu, &sumsq, hb, n));
            float *dsum = (float *)dscratch; /* sumsq is not running: its scratch holds the clip input */
            up(dsum, &sumsq, 1);
            OK(cpu.ops->optim_update(&cpu, h.kind, &h, ha, NULL, hb, kind ? NULL : hm, kind ? NULL : hv, hr, n,
                                     &sumsq));
            CK(cudaMemcpy(dsmall, &h, sizeof h, cudaMemcpyHostToDevice));
            CK(cudaMemset(dmirror, 0xff, n * sizeof *dmirror)); /* NaN bits: an unwritten element fails */
            OK(baton_kernel_optim_update(h.kind, (const baton_optim_hyper *)dsmall, da, dmirror, db, kind ? NULL : dm,
                                         kind ? NULL : dv, de, n, dsum, 0));
            down(hg, da, n);
            /* the mirror is exactly the rounding of what the kernel wrote to the fp32 parameters */
            CK(cudaMemcpy(hmirror, dmirror, n * sizeof *hmirror, cudaMemcpyDeviceToHost));
            size_t bad = 0;
            for (size_t i = 0; i < n; i++)
                bad += hmirror[i] != baton_bf16_from_f32(hg[i]);
            snprintf(name, sizeof name, "%s bf16 mirror n=%zu", kind ? "sgd" : "adam", n);
            tu_check(&rep, name, (double)bad, 0.0);
            snprintf(name, sizeof name, "%s params n=%zu clip=%g", kind ? "sgd" : "adam", n, (double)h.max_norm);
            check_rel(name, hg, ha, n, ROUND_TOL);
            down(hg, de, n);
            snprintf(name, sizeof name, "%s moving average n=%zu", kind ? "sgd" : "adam", n);
            check_rel(name, hg, hr, n, ROUND_TOL);
            if (!kind) {
                down(hg, dm, n);
                snprintf(name, sizeof name, "adam m n=%zu", n);
                check_rel(name, hg, hm, n, ROUND_TOL);
                down(hg, dv, n);
                snprintf(name, sizeof name, "adam v n=%zu", n);
                check_rel(name, hg, hv, n, ROUND_TOL);
            }
        }
    }
    sync_dev();
}

/* Split's long runs against the exact sums: a run of len rows is a float sum of len + 1 terms
 * (dtable's start included) in some fixed order, within SPLIT_BOUND = (len + 1) 2^-24 (1 + 1e-3)
 * times the sum of the terms' magnitudes of the exact sum, the classical bound for any order of
 * float additions (the CPU's sequential sum obeys it too); a lost or doubled row moves an element
 * by ~|dout| ~ 0.5, far above. Runs of at most BATON_EMBED_SPLIT_RUN rows are summed as plain:
 * the CPU's bits. */
static void check_split(const char *name, const float *got, int n, int dim, int V)
{
    size_t vd = (size_t)V * dim;
    double *exact = malloc(vd * sizeof(double)), *bound = malloc(vd * sizeof(double));
    int *count = calloc((size_t)V, sizeof(int));
    if (!exact || !bound || !count)
        exit(1);
    for (size_t e = 0; e < vd; e++) {
        exact[e] = ha[e];
        bound[e] = fabs(ha[e]);
    }
    for (int i = 0; i < n; i++) {
        count[hids[i]]++;
        for (int j = 0; j < dim; j++) {
            exact[(size_t)hids[i] * dim + j] += hb[(size_t)i * dim + j];
            bound[(size_t)hids[i] * dim + j] += fabs(hb[(size_t)i * dim + j]);
        }
    }
    size_t short_diffs = 0;
    double worst = 0.0;
    for (int id = 0; id < V; id++) {
        size_t row = (size_t)id * dim;
        if (count[id] <= BATON_EMBED_SPLIT_RUN) {
            short_diffs += bit_diffs(got + row, hr + row, (size_t)dim);
            continue;
        }
        for (int j = 0; j < dim; j++)
            bound[row + j] *= (count[id] + 1) * 0x1p-24 * (1 + 1e-3);
        double e = bound_ratio(got + row, exact + row, bound + row, (size_t)dim);
        worst = e > worst ? e : worst;
    }
    rep.checks += 2;
    if (short_diffs) {
        rep.failures++;
        printf("%s: %zu elements of short runs differ from the CPU in bits FAIL\n", name, short_diffs);
    }
    if (!(worst <= 1.0)) {
        rep.failures++;
        printf("%s: long runs |err| / bound %.3g FAIL\n", name, worst);
    }
    free(exact);
    free(bound);
    free(count);
}

enum { SC_V1, SC_PLAIN, SC_SPLIT }; /* v1 first occurrence; v2 sorted, plain and split */
static const char *const sc_names[] = {"v1", "sorted plain", "sorted split"};

/* One scatter-add version twice from dtable ha (device da) with dout hb (device db): same bits both
 * times, finite, and as the CPU's hr (split: check_split). */
static void scatter_case(int version, int n, int dim, int V, size_t vd)
{
    char name[160];
    float *out[2] = {hg, hg2};
    for (int run = 0; run < 2; run++) {
        up(da, ha, vd);
        if (version == SC_V1)
            OK(baton_kernel_embed_scatter_add_v1(da, dids, db, n, dim, 0));
        else
            OK(baton_kernel_embed_scatter_add_sorted(da, dids, db, n, dim,
                                                     version == SC_SPLIT ? BATON_EMBED_SPLIT : BATON_EMBED_PLAIN,
                                                     dsort, dsort_bytes, 0));
        down(out[run], da, vd);
    }
    snprintf(name, sizeof name, "embed_scatter_add %s n=%d dim=%d V=%d deterministic", sc_names[version], n, dim, V);
    check_bits(name, hg2, hg, vd);
    snprintf(name, sizeof name, "embed_scatter_add %s n=%d dim=%d V=%d finite", sc_names[version], n, dim, V);
    check_finite(name, hg, vd);
    snprintf(name, sizeof name, "embed_scatter_add %s n=%d dim=%d V=%d vs CPU", sc_names[version], n, dim, V);
    if (version == SC_SPLIT)
        check_split(name, hg, n, dim, V);
    else
        check_bits(name, hg, hr, vd);
}

/* hids[0..n) in a random order (Fisher-Yates over fresh uniforms). */
static void shuffle_ids(int n)
{
    fill(hc, (size_t)n, 0, 1);
    for (int i = n - 1; i > 0; i--) {
        int k = (int)(hc[i] * (float)(i + 1));
        k = k > i ? i : k;
        int t = hids[i];
        hids[i] = hids[k];
        hids[k] = t;
    }
}

/* Fresh dtable and dout for the ids in hids, the CPU's result in hr, then the sorted versions. */
static void scatter_sorted_versions(int n, int dim, int V)
{
    size_t nd = (size_t)n * dim, vd = (size_t)V * dim;
    CK(cudaMemcpy(dids, hids, (size_t)n * sizeof(int), cudaMemcpyHostToDevice));
    fill(ha, vd, -1, 1);
    fill(hb, nd, -1, 1);
    up(db, hb, nd);
    memcpy(hr, ha, vd * sizeof(float));
    OK(cpu.ops->embed_scatter_add(&cpu, hr, hids, hb, n, dim));
    scatter_case(SC_PLAIN, n, dim, V, vd);
    scatter_case(SC_SPLIT, n, dim, V, vd);
}

/* Long runs of one id, as padding makes them: (id, copies) pairs first, the rest drawn from
 * [lo, V), all shuffled. */
static void test_long_runs(void)
{
    static const struct {
        int n, V, lo, runs[5][2];
    } cases[] = {
        {3600, 50, 1, {{0, 3000}}},                                         /* padding among other ids */
        {2200, 50, 10, {{0, 1000}, {5, 300}, {7, 129}, {9, 128}, {49, 400}}}, /* several, 128 and 129 */
        {129, 1, 0, {{0, 129}}},                                            /* one id, just long */
        {128, 1, 0, {{0, 128}}},                                            /* one id, just short */
        {1000, 3, 0, {{0, 0}}},                                             /* three ids, all long */
        {627, 3, 0, {{0, 127}, {1, 200}, {2, 300}}}, /* sorted, id 1 starts at 127: a window's last position */
        {456, 2, 0, {{0, 128}, {1, 328}}},           /* id 1 starts at 128: a window's first position */
    };
#if BATON_GPU_EMULATION
    static const int dims[] = {33, 70}; /* 70 for the first case only: the emulation's time */
    const size_t ndims = 1;
#else
    static const int dims[] = {33, 70, 256};
    const size_t ndims = 3;
#endif
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int n = cases[c].n, V = cases[c].V, used = 0;
        for (int r = 0; r < 5; r++)
            for (int k = 0; k < cases[c].runs[r][1]; k++)
                hids[used++] = cases[c].runs[r][0];
        fill(hc, (size_t)(n - used), (float)cases[c].lo, (float)V);
        for (int i = used; i < n; i++)
            hids[i] = (int)hc[i - used] < V ? (int)hc[i - used] : V - 1;
        shuffle_ids(n);
        for (size_t d = 0; d < (c == 0 ? sizeof dims / sizeof dims[0] : ndims); d++)
            scatter_sorted_versions(n, dims[d], V);
    }
    sync_dev();
}

static void test_embedding(void)
{
#if BATON_GPU_EMULATION
    static const int ns[] = {1, 7, 64, 301};
    static const int dims[] = {1, 33, 257};
#else
    static const int ns[] = {1, 7, 64, 301, 2000};
    static const int dims[] = {1, 33, 256, 513};
#endif
    static const int vocabs[] = {1, 5, 50, 1000};
    char name[160];
    for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++)
        for (size_t b = 0; b < sizeof dims / sizeof dims[0]; b++)
            for (size_t c = 0; c < sizeof vocabs / sizeof vocabs[0]; c++) {
                int n = ns[a], dim = dims[b], V = vocabs[c];
                size_t nd = (size_t)n * dim, vd = (size_t)V * dim;
                fill(hc, (size_t)n, 0, (float)V);
                for (int i = 0; i < n; i++) {
                    hids[i] = (int)hc[i];
                    hids[i] = hids[i] >= V ? V - 1 : hids[i];
                }
                CK(cudaMemcpy(dids, hids, (size_t)n * sizeof(int), cudaMemcpyHostToDevice));
                /* gather */
                fill(ha, vd, -1, 1);
                up(da, ha, vd);
                tu_fill_nan(hr, nd);
                poison_dev(db, nd);
                OK(cpu.ops->embed_gather(&cpu, hr, hids, ha, n, dim));
                OK(baton_kernel_embed_gather(db, dids, da, n, dim, 0));
                down(hg, db, nd);
                snprintf(name, sizeof name, "embed_gather n=%d dim=%d V=%d", n, dim, V);
                check_bits(name, hg, hr, nd);
                /* scatter-add: dtable da (random start), dout db */
                fill(ha, vd, -1, 1);
                fill(hb, nd, -1, 1);
                up(db, hb, nd);
                memcpy(hr, ha, vd * sizeof(float));
                OK(cpu.ops->embed_scatter_add(&cpu, hr, hids, hb, n, dim));
                /* split differs from plain only where a run can be long (n = 128: test_long_runs) */
                for (int version = SC_V1; version <= (n > BATON_EMBED_SPLIT_RUN ? SC_SPLIT : SC_PLAIN); version++)
                    scatter_case(version, n, dim, V, vd);
            }
    sync_dev();
}

/* The CUDA backend runs the versions its spec names: its colsum_add (with out2) and
 * embed_scatter_add give the bits of that version's launcher. Inputs on which the versions differ
 * (checked), so that running the wrong one shows: colsum rows 2^60, x, -2^60 sum to 0 in plain's
 * row order (x < ulp(2^60) / 2 is lost) and to x in tiled's tree ((2^60 - 2^60) + x); a long run's
 * float sums differ with the order. */
static void backend_case(const char *spec, int want)
{
    char name[160];
    baton_backend gpu;
    baton_backend_options opt = {.threads = 1, .versions = spec};
    OK(baton_backend_create_ex(&gpu, "cuda", &opt));
    snprintf(name, sizeof name, "backend --kernels %s: versions colsum %d dv %d embed %d", spec ? spec : "(defaults)",
             gpu.versions.colsum, gpu.versions.dv, gpu.versions.embed);
    tu_check(&rep, name, gpu.versions.colsum == want && gpu.versions.dv == want && gpu.versions.embed == want ? 0 : 1,
             0);
    int rows = 3, cols = 33, n = 400, dim = 33, V = 10;
    for (int j = 0; j < cols; j++) {
        ha[j] = 0x1p60f;
        ha[cols + j] = 1.0f + (float)j / 64.0f;
        ha[2 * cols + j] = -0x1p60f;
    }
    fill(hb, 2 * (size_t)cols, -1, 1); /* out0, out20 */
    up(da, ha, (size_t)rows * cols);
    float *outs[3] = {hg, hg2, hr2};
    for (int run = 0; run < 3; run++) { /* launcher of `want`, the op, launcher of the other version */
        up(db, hb, 2 * (size_t)cols);
        if (run == 1) {
            OK(gpu.ops->colsum_add(&gpu, db, db + cols, da, rows, cols));
            OK(gpu.ops->sync(&gpu));
        } else {
            OK(baton_kernel_colsum_add(db, db + cols, da, rows, cols, run ? 1 - want : want, 0));
        }
        down(outs[run], db, 2 * (size_t)cols);
    }
    snprintf(name, sizeof name, "backend --kernels %s: colsum_add with out2 as its launcher", spec ? spec : "(defaults)");
    check_bits(name, hg2, hg, 2 * (size_t)cols);
    snprintf(name, sizeof name, "backend --kernels %s: colsum versions differ here", spec ? spec : "(defaults)");
    tu_check(&rep, name, bit_diffs(hr2, hg, 2 * (size_t)cols) == 2 * (size_t)cols ? 0 : 1, 0);
    for (int i = 0; i < n; i++) /* id 2 three hundred times: a long run */
        hids[i] = i < 300 ? 2 : i % V;
    shuffle_ids(n);
    CK(cudaMemcpy(dids, hids, (size_t)n * sizeof(int), cudaMemcpyHostToDevice));
    fill(ha, (size_t)V * dim, -1, 1);
    fill(hb, (size_t)n * dim, -1, 1);
    up(db, hb, (size_t)n * dim);
    OK(baton_backend_embed_reserve(&gpu, n));
    for (int run = 0; run < 3; run++) {
        up(da, ha, (size_t)V * dim);
        if (run == 1) {
            OK(gpu.ops->embed_scatter_add(&gpu, da, dids, db, n, dim));
            OK(gpu.ops->sync(&gpu));
        } else {
            OK(baton_kernel_embed_scatter_add_sorted(da, dids, db, n, dim, run ? 1 - want : want, dsort, dsort_bytes,
                                                     0));
        }
        down(outs[run], da, (size_t)V * dim);
    }
    snprintf(name, sizeof name, "backend --kernels %s: embed_scatter_add as its launcher", spec ? spec : "(defaults)");
    check_bits(name, hg2, hg, (size_t)V * dim);
    snprintf(name, sizeof name, "backend --kernels %s: embed versions differ here", spec ? spec : "(defaults)");
    tu_check(&rep, name, bit_diffs(hr2, hg, (size_t)V * dim) > 0 ? 0 : 1, 0);
    baton_backend_destroy(&gpu);
}

static void test_backend_versions(void)
{
    backend_case("colsum=plain,dv=plain,embed=plain", 0);
    backend_case(NULL, 1); /* the defaults: the new versions */
    backend_case("colsum=tiled,dv=tiled,embed=split", 1);
    sync_dev();
}

/* Bad arguments are refused with BATON_ERR_INVALID before any launch. */
static void test_arguments(void)
{
    struct {
        const char *what;
        baton_status got;
    } cases[] = {
        {"dropout p=1", baton_kernel_dropout(da, da, 4, 1.0f, 0, 0, (const uint32_t *)dsmall, 0)},
        {"dropout NULL counter", baton_kernel_dropout(da, da, 4, 0.5f, 0, 0, NULL, 0)},
        {"copy2d ld<cols", baton_kernel_copy2d(da, 2, da, 4, 2, 3, 0)},
        {"argmax cols=0", baton_kernel_argmax_rows(dids, da, 2, 0, 0)},
        {"topk k > cols", baton_kernel_topk_rows(db, dids, dc, da, 2, 3, 4, 0)},
        {"adam without moments", baton_kernel_optim_update(BATON_OPT_ADAM, (const baton_optim_hyper *)dsmall, da, NULL,
                                                           db, NULL, NULL, NULL, 4, (float *)dscratch, 0)},
        {"sumsq NULL scratch", baton_kernel_sumsq(da, db, 4, NULL, 0)},
        {"scatter v1 NULL ids", baton_kernel_embed_scatter_add_v1(da, NULL, db, 4, 4, 0)},
        {"scatter v2 NULL scratch", baton_kernel_embed_scatter_add_sorted(da, dids, db, 4, 4, 0, NULL, 0, 0)},
        {"scatter v2 small scratch", baton_kernel_embed_scatter_add_sorted(da, dids, db, 4, 4, 1, dsort, 16, 0)},
        {"scatter v2 version 2", baton_kernel_embed_scatter_add_sorted(da, dids, db, 4, 4, 2, dsort, dsort_bytes, 0)},
        {"colsum version 2", baton_kernel_colsum_add(da, NULL, db, 4, 4, 2, 0)},
        {"colsum out2 == out", baton_kernel_colsum_add(da, da, db, 4, 4, BATON_COLSUM_TILED, 0)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rep.checks++;
        if (cases[i].got != BATON_ERR_INVALID) {
            rep.failures++;
            printf("arguments: %s returned %s, expected invalid FAIL\n", cases[i].what, baton_status_name(cases[i].got));
        }
    }
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int devices = 0;
    cudaError_t err = cudaGetDeviceCount(&devices);
    if (err != cudaSuccess || devices == 0) {
        fprintf(stderr, "misc_gpu: skipped: no usable CUDA device (cudaGetDeviceCount: %s)\n",
                err != cudaSuccess ? cudaGetErrorString(err) : "0 devices");
        return TU_EXIT_SKIP;
    }
    OK(baton_cpu_backend_create(&cpu, 0));
    float **hs[] = {&ha, &hb, &hc, &hr, &hr2, &hg, &hg2};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++)
        if (!(*hs[i] = malloc(CAP * sizeof(float)))) {
            fprintf(stderr, "misc_gpu: out of host memory\n");
            return 1;
        }
    hids = malloc(CAP * sizeof(int));
    hidx = malloc(CAP * sizeof(int));
    gidx = malloc(CAP * sizeof(int));
    if (!hids || !hidx || !gidx)
        return 1;
    CK(cudaMalloc((void **)&da, CAP * sizeof(float)));
    CK(cudaMalloc((void **)&dmirror, CAP * sizeof(uint16_t)));
    CK(cudaMalloc(&dsmall, 256));
    hmirror = malloc(CAP * sizeof *hmirror);
    CK(cudaMalloc((void **)&db, CAP * sizeof(float)));
    CK(cudaMalloc((void **)&dc, CAP * sizeof(float)));
    CK(cudaMalloc((void **)&dd, CAP * sizeof(float)));
    CK(cudaMalloc((void **)&de, CAP * sizeof(float)));
    CK(cudaMalloc((void **)&dids, CAP * sizeof(int)));
    CK(cudaMalloc((void **)&dscratch, BATON_SUMSQ_BLOCKS * sizeof(double)));
    OK(baton_kernel_embed_scatter_scratch_bytes(&dsort_bytes, (int)CAP));
    CK(cudaMalloc(&dsort, dsort_bytes));

    test_arguments();
    test_elementwise();
    test_colsum();
    test_optim();
    test_embedding();
    test_long_runs();
    test_backend_versions();
    CK(cudaGetLastError());

    int rc = tu_summary(&rep, "misc_gpu");
    cudaFree(da);
    cudaFree(dmirror);
    cudaFree(dsmall);
    free(hmirror);
    cudaFree(db);
    cudaFree(dc);
    cudaFree(dd);
    cudaFree(de);
    cudaFree(dids);
    cudaFree(dscratch);
    cudaFree(dsort);
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++)
        free(*hs[i]);
    free(hids);
    free(hidx);
    free(gidx);
    baton_backend_destroy(&cpu);
    return rc;
}
