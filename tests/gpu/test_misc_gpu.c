/* test_misc_gpu.c: the elementwise, optimizer and embedding kernels (kernels/elementwise.cu,
 * kernels/optim.cu, kernels/embedding.cu, launchers in kernels/misc_launch.h) against the CPU
 * backend's ops of the same name (baton_cpu_backend_create, be.ops->...).
 *
 * Every case draws fresh inputs (tu_fill_uniform, a new purpose per tensor), poisons outputs with
 * NaN on both sides (so an element the kernel never writes fails), and sweeps odd sizes that do
 * not fill a block or a warp. What is compared how:
 *   bit-identical (the kernels take the CPU's order and roundings): dropout (values and masks),
 *     copy2d, add_bias, colsum_add, argmax_rows (with many ties), embed_gather;
 *   embed_scatter_add, both versions (v1 first-occurrence, v2 sorted segments): run twice from
 *     the same dtable, the two results identical bit for bit (determinism), and bit-identical to
 *     the CPU (each element is summed in index order with plain float adds, as on the CPU);
 *   sumsq: two runs bit-identical, within ROUND_TOL of the CPU's sequential double sum;
 *   axpby, tanh forward/backward, Adam/SGD update: within ROUND_TOL relative (tu_rel_err_ff),
 *     nvcc's FMA contraction differing from the host's roundings by an ulp or so.
 * Tolerances: one float ulp is 1.2e-7 relative; the longest chain (Adam: moments, sqrt, divide,
 * decay) rounds about ten times, so honest differences stay near 1e-6 in the worst element and
 * well below it in the norm. ROUND_TOL 2e-6 on the norm-wise relative error leaves margin, while
 * a wrong index or a missed element moves the error to O(1) (or NaN).
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
static float *da, *db, *dc, *dd;
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
        /* colsum_add onto a nonzero out */
        fill(ha, rc, -1, 1);
        fill(hb, (size_t)cols, -1, 1);
        up(da, ha, rc);
        up(db, hb, (size_t)cols);
        memcpy(hr, hb, (size_t)cols * sizeof(float));
        OK(cpu.ops->colsum_add(&cpu, hr, ha, rows, cols));
        OK(baton_kernel_colsum_add(db, da, rows, cols, 0));
        down(hg, db, (size_t)cols);
        snprintf(name, sizeof name, "colsum_add %dx%d", rows, cols);
        check_bits(name, hg, hr, (size_t)cols);
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
    }
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
                                   kind ? 1e-4f : 0.01f, t % 2 ? 1.0f : 0.0f, 0.5f, 3};
            /* params ha, grads hb, m hc, v hg2 */
            float *hm = hc, *hv = hg2;
            fill(ha, n, -1, 1);
            fill(hb, n, -1, 1);
            fill(hm, n, -0.1f, 0.1f);
            fill(hv, n, 0, 0.01f);
            float *dm = dc, *dv = dd;
            up(da, ha, n);
            up(db, hb, n);
            up(dm, hm, n);
            up(dv, hv, n);
            float sumsq = NAN;
            OK(cpu.ops->sumsq(&cpu, &sumsq, hb, n));
            float *dsum = (float *)dscratch; /* sumsq is not running: its scratch holds the clip input */
            up(dsum, &sumsq, 1);
            OK(cpu.ops->optim_update(&cpu, h.kind, &h, ha, NULL, hb, kind ? NULL : hm, kind ? NULL : hv, n, &sumsq));
            CK(cudaMemcpy(dsmall, &h, sizeof h, cudaMemcpyHostToDevice));
            CK(cudaMemset(dmirror, 0xff, n * sizeof *dmirror)); /* NaN bits: an unwritten element fails */
            OK(baton_kernel_optim_update(h.kind, (const baton_optim_hyper *)dsmall, da, dmirror, db, kind ? NULL : dm,
                                         kind ? NULL : dv, n, dsum, 0));
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

/* One scatter-add version twice from dtable ha (device da) with dout db: same bits both times and as the CPU's hr. */
static void scatter_case(int version, int n, int dim, int V, size_t vd)
{
    char name[160];
    float *out[2] = {hg, hg2};
    for (int run = 0; run < 2; run++) {
        up(da, ha, vd);
        if (version == 1)
            OK(baton_kernel_embed_scatter_add_v1(da, dids, db, n, dim, 0));
        else
            OK(baton_kernel_embed_scatter_add_sorted(da, dids, db, n, dim, dsort, dsort_bytes, 0));
        down(out[run], da, vd);
    }
    snprintf(name, sizeof name, "embed_scatter_add v%d n=%d dim=%d V=%d deterministic", version, n, dim, V);
    check_bits(name, hg2, hg, vd);
    snprintf(name, sizeof name, "embed_scatter_add v%d n=%d dim=%d V=%d vs CPU", version, n, dim, V);
    check_bits(name, hg, hr, vd);
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
                for (int version = 1; version <= 2; version++)
                    scatter_case(version, n, dim, V, vd);
            }
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
        {"adam without moments", baton_kernel_optim_update(BATON_OPT_ADAM, (const baton_optim_hyper *)dsmall, da, NULL,
                                                           db, NULL, NULL, 4, (float *)dscratch, 0)},
        {"sumsq NULL scratch", baton_kernel_sumsq(da, db, 4, NULL, 0)},
        {"scatter v1 NULL ids", baton_kernel_embed_scatter_add_v1(da, NULL, db, 4, 4, 0)},
        {"scatter v2 NULL scratch", baton_kernel_embed_scatter_add_sorted(da, dids, db, 4, 4, NULL, 0, 0)},
        {"scatter v2 small scratch", baton_kernel_embed_scatter_add_sorted(da, dids, db, 4, 4, dsort, 16, 0)},
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
    CK(cudaMalloc((void **)&dids, CAP * sizeof(int)));
    CK(cudaMalloc((void **)&dscratch, BATON_SUMSQ_BLOCKS * sizeof(double)));
    OK(baton_kernel_embed_scatter_scratch_bytes(&dsort_bytes, (int)CAP));
    CK(cudaMalloc(&dsort, dsort_bytes));

    test_arguments();
    test_elementwise();
    test_optim();
    test_embedding();
    CK(cudaGetLastError());

    int rc = tu_summary(&rep, "misc_gpu");
    cudaFree(da);
    cudaFree(dmirror);
    cudaFree(dsmall);
    free(hmirror);
    cudaFree(db);
    cudaFree(dc);
    cudaFree(dd);
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
