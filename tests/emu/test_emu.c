/* test_emu.c: the CUDA emulation (src/emu/, -Dgpu_emulation=true) against what CUDA promises,
 * with the kernels of emu_kernels.cu. This file checks that the features work; the checks that
 * must fire on defective programs run in test_emu_faults.c, each in a forked child.
 *
 *   kernels    a block reduction (__syncthreads, __shfl_xor_sync) for odd sizes, ballot/any/all,
 *              dynamic shared memory (and 60 KiB of it only after cudaFuncSetAttribute), integer
 *              atomicAdd, a cooperative launch with a grid barrier, 3-D coordinates, and the
 *              launches the device refuses (2048 threads, __launch_bounds__, cooperative grids
 *              too large to be resident);
 *   streams    the lazy executor orders exactly what CUDA orders: a non-blocking stream is NOT
 *              ordered with the legacy stream (so an unsynchronised read sees the 0xff poison of
 *              a fresh allocation), a blocking one is; cudaStreamWaitEvent orders two streams;
 *              event timing; pinned cudaMemcpyAsync lands only at the synchronisation; graph
 *              capture and replay; the counters;
 *   libraries  cublasSgemm in all four transpose combinations, GemmEx with bf16 inputs,
 *              SgemmStridedBatched, argument checks; CUB SortPairs stability.
 * Results of integer-valued float sums are exact, so they are compared exactly; only the GEMMs
 * against a float64 reference need a tolerance (see GEMM_TOL). The parent process must report no
 * emulation error at all: every defect lives in a child.
 *
 * Exits 0 when every check passed, 1 otherwise. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <baton_emu.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include "emu_kernels.h"
#include "test_emu.h"
#include "testutil.h"

/* Norm-wise relative error allowed for a GEMM against its float64 reference. Each element is a
 * k-term fp32 dot product summed in an order we do not control (OpenBLAS or the plain loop): its
 * rounding error is at most about k * 2^-24 * sum|a_i b_i|, i.e. 4e-6 of that sum for k = 65,
 * and typically sqrt(k) * 2^-24 ~ 5e-7 of the result. 1e-5 keeps a margin over both, while a
 * wrong transpose, leading dimension, stride, alpha or beta gives an error of order 1. */
#define GEMM_TOL 1e-5
#define SEED 0x656d75746573ULL

static int all_bits(const float *x, int n, uint32_t bits)
{
    for (int i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        if (u != bits)
            return 0;
    }
    return 1;
}

static int all_equal(const float *x, int n, float v)
{
    for (int i = 0; i < n; i++)
        if (x[i] != v)
            return 0;
    return 1;
}

/* ---- kernels ---- */

static void check_block_sum(void)
{
    static const int sizes[] = {1, 33, 127, 1001, 4099};
    static const int threads[] = {128, 96};
    enum { ROWS = 3, MAXN = 4099 };
    float *h = malloc(sizeof(float) * ROWS * MAXN), out[ROWS];
    float *dx = dalloc(sizeof(float) * ROWS * MAXN), *dout = dalloc(sizeof out);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
            int n = sizes[s], bad = -1;
            double want[ROWS];
            /* small integers: every partial sum is exact in float, in any order */
            for (int r = 0; r < ROWS; r++) {
                want[r] = 0.0;
                for (int i = 0; i < n; i++) {
                    h[r * n + i] = (float)((i * 7 + r) % 11 - 5);
                    want[r] += h[r * n + i];
                }
            }
            up(dx, h, sizeof(float) * ROWS * n);
            CK(emu_block_sum(dx, dout, n, ROWS, threads[t]));
            down(out, dout, sizeof out);
            for (int r = 0; r < ROWS && bad < 0; r++)
                if (out[r] != (float)want[r])
                    bad = r;
            char name[96];
            snprintf(name, sizeof name, "block reduction n=%d threads=%d", n, threads[t]);
            emu_check(name, bad < 0, "row %d: %g, expected %g", bad, bad < 0 ? 0.0 : (double)out[bad],
                      bad < 0 ? 0.0 : want[bad]);
        }
    cudaFree(dx);
    cudaFree(dout);
    free(h);
}

static void check_votes(void)
{
    /* warp 0: every third lane; warp 1: all lanes; warp 2: no lane */
    int pred[96];
    unsigned out[9], want[9] = {0, 1, 0, 0xffffffffu, 1, 1, 0, 0, 0};
    for (int t = 0; t < 96; t++) {
        pred[t] = t < 32 ? (t % 3 == 0) * (t + 1) : t < 64;
        if (t < 32 && t % 3 == 0)
            want[0] |= 1u << t;
    }
    int *dp = dalloc(sizeof pred);
    unsigned *dout = dalloc(sizeof out);
    up(dp, pred, sizeof pred);
    CK(emu_votes(dp, dout, 96));
    down(out, dout, sizeof out);
    int w = -1;
    for (int i = 0; i < 9 && w < 0; i++)
        if (out[i] != want[i])
            w = i;
    emu_check("__ballot_sync, __any_sync, __all_sync", w < 0, "warp %d %s: 0x%08x, expected 0x%08x", w / 3,
              w % 3 == 0 ? "ballot" : w % 3 == 1 ? "any" : "all", w < 0 ? 0 : out[w], w < 0 ? 0 : want[w]);
    cudaFree(dp);
    cudaFree(dout);
}

static void check_shared_and_atomics(void)
{
    enum { N = 200, HN = 1000, BINS = 16 };
    float x[N], y[N];
    for (int i = 0; i < N; i++)
        x[i] = (float)i * 0.5f;
    float *dx = dalloc(sizeof x), *dy = dalloc(sizeof y);
    up(dx, x, sizeof x);
    CK(emu_dyn_reverse(dx, dy, N));
    down(y, dy, sizeof y);
    int bad = -1;
    for (int i = 0; i < N && bad < 0; i++)
        if (y[i] != x[N - 1 - i])
            bad = i;
    emu_check("dynamic shared memory (reverse of 200 floats in one block)", bad < 0, "y[%d] = %g", bad,
              bad < 0 ? 0.0 : (double)y[bad]);

    int hx[HN], counts[BINS], want[BINS] = {0};
    for (int i = 0; i < HN; i++) {
        hx[i] = (i * 7919) % 1009;
        want[hx[i] % BINS]++;
    }
    int *dhx = dalloc(sizeof hx), *dc = dalloc(sizeof counts);
    up(dhx, hx, sizeof hx);
    CK(cudaMemset(dc, 0, sizeof counts));
    CK(emu_histogram(dhx, HN, dc, BINS));
    down(counts, dc, sizeof counts);
    emu_check("atomicAdd on ints (histogram of 1000 values, 8 blocks)", memcmp(counts, want, sizeof want) == 0,
              "counts differ, bin 0: %d, expected %d", counts[0], want[0]);

    /* 60 KiB: more than the 48 KiB a kernel gets without opting in, less than the 227 KiB it may */
    enum { BIG = 60 * 1024, FLOATS = BIG / 4 };
    float out[256], wantf[256];
    float *dout = dalloc(sizeof out);
    cudaError_t e = emu_dyn_big(dout, BIG, 0);
    emu_check("60 KiB of dynamic shared memory refused without cudaFuncSetAttribute", e == cudaErrorInvalidValue,
              "launch returned %s", cudaGetErrorName(e));
    e = emu_dyn_big(dout, BIG, 1);
    down(out, dout, sizeof out);
    for (int t = 0; t < 256; t++) {
        wantf[t] = 0.0f;
        for (int i = t; i < FLOATS; i += 256)
            wantf[t] += (float)i;
    }
    emu_check("60 KiB of dynamic shared memory accepted after cudaFuncSetAttribute",
              e == cudaSuccess && memcmp(out, wantf, sizeof out) == 0, "launch %s, out[0] %g (expected %g)",
              cudaGetErrorName(e), (double)out[0], (double)wantf[0]);
    cudaFree(dx);
    cudaFree(dy);
    cudaFree(dhx);
    cudaFree(dc);
    cudaFree(dout);
}

static void check_grids(void)
{
    enum { BLOCKS = 4, THREADS = 64, N = BLOCKS * THREADS };
    int a[N], b[N];
    int *da = dalloc(sizeof a), *db = dalloc(sizeof b);
    cudaError_t e = emu_coop_shift(da, db, BLOCKS, THREADS, 1);
    down(b, db, sizeof b);
    int bad = -1;
    for (int i = 0; i < N && bad < 0; i++)
        if (b[i] != 3 * ((i + THREADS) % N) + 1)
            bad = i;
    emu_check("cooperative launch: this_grid().sync() orders the blocks", e == cudaSuccess && bad < 0,
              "launch %s; b[%d] = %d", cudaGetErrorName(e), bad, bad < 0 ? 0 : b[bad]);
    /* an H100 holds 2 blocks of 1024 threads per SM, 264 in all */
    e = emu_coop_shift(da, db, 265, 1024, 1);
    emu_check("cooperative grid larger than the device refused", e == cudaErrorCooperativeLaunchTooLarge,
              "launch returned %s", cudaGetErrorName(e));

    enum { GX = 3, GY = 2, GZ = 2, BX = 4, BY = 3, BZ = 2, M = GX * GY * GZ * BX * BY * BZ };
    int hits[M], where[M];
    int *dh = dalloc(sizeof hits), *dw = dalloc(sizeof where);
    CK(cudaMemset(dh, 0, sizeof hits));
    CK(emu_coords3d(dh, dw, GX, GY, GZ, BX, BY, BZ));
    down(hits, dh, sizeof hits);
    down(where, dw, sizeof where);
    bad = -1;
    for (int i = 0; i < M && bad < 0; i++) {
        int blk = i / (BX * BY * BZ), th = i % (BX * BY * BZ);
        int want = th % BX | (th / BX % BY) << 4 | (th / (BX * BY)) << 8 | (blk % GX) << 12 |
                   (blk / GX % GY) << 16 | (blk / (GX * GY)) << 20;
        if (hits[i] != 1 || where[i] != want)
            bad = i;
    }
    emu_check("3-D grid (3,2,2) of 3-D blocks (4,3,2): every element once, coordinates right", bad < 0,
              "element %d: %d hits, coordinates 0x%06x", bad, bad < 0 ? 0 : hits[bad], bad < 0 ? 0 : where[bad]);

    float *dx = dalloc(2048 * sizeof(float));
    e = emu_fill_block(dx, 2048);
    emu_check("block of 2048 threads refused", e == cudaErrorInvalidConfiguration, "launch returned %s",
              cudaGetErrorName(e));
    e = emu_bounded(dx, 128);
    CK(cudaDeviceSynchronize());
    cudaError_t over = emu_bounded(dx, 256);
    emu_check("block over __launch_bounds__(128) refused, at the bound accepted",
              e == cudaSuccess && over == cudaErrorLaunchOutOfResources, "128 threads: %s, 256 threads: %s",
              cudaGetErrorName(e), cudaGetErrorName(over));
    /* the full mask is right for whole warps (the block of 48 is a fault check) */
    float y[64];
    CK(emu_shfl_ghost_lanes(dx, 64));
    down(y, dx, sizeof y);
    bad = -1;
    for (int i = 0; i < 64 && bad < 0; i++)
        if (y[i] != (float)(i ^ 1))
            bad = i;
    emu_check("__shfl_xor_sync with the full mask in whole warps", bad < 0, "y[%d] = %g", bad,
              bad < 0 ? 0.0 : (double)y[bad]);
    cudaFree(da);
    cudaFree(db);
    cudaFree(dh);
    cudaFree(dw);
    cudaFree(dx);
}

/* ---- streams, events, graphs ---- */

static void check_streams(void)
{
    enum { N = 300 };
    float h[N];
    cudaStream_t nb, nb2, blk;
    CK(cudaStreamCreateWithFlags(&nb, cudaStreamNonBlocking));
    CK(cudaStreamCreateWithFlags(&nb2, cudaStreamNonBlocking));
    CK(cudaStreamCreate(&blk));

    /* fresh allocations hold 0xff bytes: a read that overtakes the kernel sees them */
    float *d = dalloc(sizeof h);
    CK(emu_fill(d, N, 7.0f, nb));
    down(h, d, sizeof h);
    emu_check("non-blocking stream not ordered with a legacy cudaMemcpy (reads the poison)",
              all_bits(h, N, 0xffffffffu), "h[0] = %g", (double)h[0]);
    CK(cudaStreamSynchronize(nb));
    down(h, d, sizeof h);
    emu_check("non-blocking stream: after cudaStreamSynchronize the copy reads its result", all_equal(h, N, 7.0f),
              "h[0] = %g", (double)h[0]);
    cudaFree(d);

    d = dalloc(sizeof h);
    CK(emu_fill(d, N, 8.0f, blk));
    down(h, d, sizeof h);
    emu_check("blocking stream (cudaStreamCreate) ordered with a legacy cudaMemcpy", all_equal(h, N, 8.0f),
              "h[0] = %g", (double)h[0]);
    cudaFree(d);

    /* two non-blocking streams: the copy on nb2 reads what the fill on nb wrote only through the event */
    cudaEvent_t ev;
    CK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
    float *src = dalloc(sizeof h), *dst = dalloc(sizeof h), *src2 = dalloc(sizeof h), *dst2 = dalloc(sizeof h);
    CK(emu_fill(src, N, 5.0f, nb));
    CK(cudaEventRecord(ev, nb));
    CK(cudaStreamWaitEvent(nb2, ev, 0));
    CK(emu_copy(src, dst, N, nb2));
    CK(emu_fill(src2, N, 6.0f, nb));
    CK(emu_copy(src2, dst2, N, nb2)); /* no event: may run before the fill */
    CK(cudaStreamSynchronize(nb2));
    down(h, dst, sizeof h);
    emu_check("cudaStreamWaitEvent orders two non-blocking streams", all_equal(h, N, 5.0f), "h[0] = %g",
              (double)h[0]);
    down(h, dst2, sizeof h);
    emu_check("without cudaStreamWaitEvent the second stream overtakes the first", all_bits(h, N, 0xffffffffu),
              "h[0] = %g", (double)h[0]);
    CK(cudaStreamSynchronize(nb));
    cudaFree(src);
    cudaFree(dst);
    cudaFree(src2);
    cudaFree(dst2);
    cudaEventDestroy(ev);

    /* event timing: not ready until the end event has run */
    cudaEvent_t t0, t1;
    CK(cudaEventCreate(&t0));
    CK(cudaEventCreate(&t1));
    d = dalloc(sizeof h);
    CK(cudaEventRecord(t0, nb));
    CK(emu_fill(d, N, 1.0f, nb));
    CK(cudaEventRecord(t1, nb));
    float ms = -1.0f;
    cudaError_t before = cudaEventElapsedTime(&ms, t0, t1);
    cudaGetLastError(); /* cudaErrorNotReady is a state, not an error to carry on */
    CK(cudaEventSynchronize(t1));
    cudaError_t after = cudaEventElapsedTime(&ms, t0, t1);
    emu_check("cudaEventElapsedTime: cudaErrorNotReady before the end event ran, a time after",
              before == cudaErrorNotReady && after == cudaSuccess && ms >= 0.0f && isfinite(ms),
              "before %s, after %s, %g ms", cudaGetErrorName(before), cudaGetErrorName(after), (double)ms);
    cudaEventDestroy(t0);
    cudaEventDestroy(t1);

    /* pinned destination: truly asynchronous; pageable: the call waits */
    float *pin = NULL;
    CK(cudaMallocHost((void **)&pin, sizeof h));
    for (int i = 0; i < N; i++)
        pin[i] = -1.0f;
    CK(emu_fill(d, N, 3.0f, nb));
    CK(cudaMemcpyAsync(pin, d, sizeof h, cudaMemcpyDeviceToHost, nb));
    int early = all_equal(pin, N, -1.0f);
    CK(cudaStreamSynchronize(nb));
    emu_check("cudaMemcpyAsync into pinned memory: not there before cudaStreamSynchronize, there after",
              early && all_equal(pin, N, 3.0f), "before the sync %s, after pin[0] = %g",
              early ? "untouched" : "already written", (double)pin[0]);
    CK(emu_fill(d, N, 4.0f, nb));
    CK(cudaMemcpyAsync(h, d, sizeof h, cudaMemcpyDeviceToHost, nb));
    emu_check("cudaMemcpyAsync into pageable memory returns with the data", all_equal(h, N, 4.0f), "h[0] = %g",
              (double)h[0]);
    cudaFreeHost(pin);
    cudaFree(d);
    cudaStreamDestroy(nb);
    cudaStreamDestroy(nb2);
    cudaStreamDestroy(blk);
}

static void check_graphs(void)
{
    enum { N = 100 };
    float h[N];
    cudaStream_t s;
    CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    float *x = dalloc(sizeof h), *y = dalloc(sizeof h);
    CK(cudaMemset(x, 0, sizeof h));
    CK(cudaDeviceSynchronize());

    /* a synchronisation inside a capture fails and spoils the capture */
    cudaGraph_t g = NULL;
    CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
    CK(emu_increment(x, N, s));
    cudaError_t sync = cudaStreamSynchronize(s);
    cudaError_t end = cudaStreamEndCapture(s, &g);
    cudaGetLastError();
    emu_check("cudaStreamSynchronize during capture: cudaErrorStreamCaptureUnsupported, capture invalidated",
              sync == cudaErrorStreamCaptureUnsupported && end == cudaErrorStreamCaptureInvalidated && !g,
              "sync %s, end capture %s", cudaGetErrorName(sync), cudaGetErrorName(end));

    baton_emu_counters c0, c1;
    CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
    CK(cudaMemsetAsync(y, 0, sizeof h, s));
    CK(emu_increment(y, N, s));
    CK(emu_increment(x, N, s));
    CK(emu_increment(x, N, s));
    CK(cudaStreamEndCapture(s, &g));
    down(h, x, sizeof h);
    int x_untouched = all_equal(h, N, 0.0f);
    down(h, y, sizeof h);
    emu_check("captured work does not run at capture", x_untouched && all_bits(h, N, 0xffffffffu),
              "x %s, y[0] = %g", x_untouched ? "untouched" : "changed", (double)h[0]);
    cudaGraphExec_t ge;
    CK(cudaGraphInstantiate(&ge, g, 0));
    baton_emu_counters_get(&c0);
    CK(cudaGraphLaunch(ge, s));
    CK(cudaGraphLaunch(ge, s));
    CK(cudaStreamSynchronize(s));
    baton_emu_counters_get(&c1);
    float hy[N];
    down(h, x, sizeof h);
    down(hy, y, sizeof hy);
    /* the memset restarts y each replay; x keeps the increments of both */
    emu_check("graph (memset + 3 kernels) replayed twice: x = 4, y = 1",
              all_equal(h, N, 4.0f) && all_equal(hy, N, 1.0f), "x[0] = %g, y[0] = %g", (double)h[0],
              (double)hy[0]);
    emu_check("graph replays counted as graph launches and grids run, not kernel launches",
              c1.graph_launches - c0.graph_launches == 2 && c1.kernels_run - c0.kernels_run == 6 &&
                  c1.kernel_launches == c0.kernel_launches,
              "graph launches +%llu, grids run +%llu, kernel launches +%llu",
              (unsigned long long)(c1.graph_launches - c0.graph_launches),
              (unsigned long long)(c1.kernels_run - c0.kernels_run),
              (unsigned long long)(c1.kernel_launches - c0.kernel_launches));
    cudaGraphExecDestroy(ge);
    cudaGraphDestroy(g);
    cudaFree(x);
    cudaFree(y);
    cudaStreamDestroy(s);
}

static void check_counters(cublasHandle_t hb)
{
    enum { N = 1024 };
    static float h[N];
    for (int i = 0; i < N; i++)
        h[i] = 0.25f;
    baton_emu_counters_reset();
    float *d = dalloc(sizeof h);
    up(d, h, sizeof h);                      /* a copy, and the host waits for it */
    CK(cudaMemset(d, 0, sizeof h));
    for (int i = 0; i < 3; i++)
        CK(emu_increment(d, N, 0));
    down(h, d, sizeof h);                    /* another copy and wait */
    const float one = 1.0f, zero = 0.0f;
    cublasStatus_t st = cublasSgemm(hb, CUBLAS_OP_N, CUBLAS_OP_N, 3, 5, 7, &one, d, 3, d + 32, 7, &zero, d + 128, 3);
    CK(cudaDeviceSynchronize());             /* the third wait */
    baton_emu_counters c;
    baton_emu_counters_get(&c);
    emu_check("counters: 1 allocation of 4 KiB, 3 launches and grids, 2 copies of 4 KiB, 4 KiB memset, 3 syncs",
              c.allocations == 1 && c.bytes_allocated == sizeof h && c.kernel_launches == 3 && c.kernels_run == 3 &&
                  c.copies == 2 && c.bytes_h2d == sizeof h && c.bytes_d2h == sizeof h && c.bytes_d2d == 0 &&
                  c.bytes_memset == sizeof h && c.host_syncs == 3 && all_equal(h, N, 3.0f),
              "allocations %llu (%llu bytes), launches %llu, grids %llu, copies %llu (h2d %llu, d2h %llu, d2d %llu), "
              "memset %llu, syncs %llu, h[0] %g",
              (unsigned long long)c.allocations, (unsigned long long)c.bytes_allocated,
              (unsigned long long)c.kernel_launches, (unsigned long long)c.kernels_run, (unsigned long long)c.copies,
              (unsigned long long)c.bytes_h2d, (unsigned long long)c.bytes_d2h, (unsigned long long)c.bytes_d2d,
              (unsigned long long)c.bytes_memset, (unsigned long long)c.host_syncs, (double)h[0]);
    emu_check("counters: one fp32 GEMM of 2*3*5*7 = 210 flops",
              st == CUBLAS_STATUS_SUCCESS && c.gemm_calls[0] == 1 && c.gemm_calls[1] == 0 && c.gemm_calls[2] == 0 &&
                  c.gemm_flops[0] == 210.0,
              "status %s, calls %llu/%llu/%llu, flops %g", cublasGetStatusName(st),
              (unsigned long long)c.gemm_calls[0], (unsigned long long)c.gemm_calls[1],
              (unsigned long long)c.gemm_calls[2], c.gemm_flops[0]);
    cudaFree(d);
}

/* ---- cuBLAS and CUB ---- */

/* C (m x n, ldc) = alpha op(A) op(B) + beta C in float64, column-major as cuBLAS. */
static void ref_gemm(int ta, int tb, int m, int n, int k, double alpha, const float *A, int lda, const float *B,
                     int ldb, double beta, const float *C, int ldc, double *out)
{
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double acc = 0.0;
            for (int p = 0; p < k; p++)
                acc += (double)(ta ? A[i * lda + p] : A[p * lda + i]) * (double)(tb ? B[p * ldb + j] : B[j * ldb + p]);
            out[j * m + i] = alpha * acc + beta * C[j * ldc + i];
        }
}

static float *filled(size_t n, uint32_t k)
{
    float *x = malloc(n * sizeof(float));
    tu_fill_uniform(x, n, -1.0f, 1.0f, SEED, k);
    return x;
}

static void check_sgemm(cublasHandle_t hb)
{
    static const int shapes[][3] = {{7, 5, 13}, {33, 17, 65}};
    const float alpha = 0.75f, beta = -0.5f;
    uint32_t k_id = 1;
    for (size_t s = 0; s < 2; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                /* leading dimensions with padding, so a mix-up of ld and rows shows */
                int arows = ta ? k : m, acols = ta ? m : k, brows = tb ? n : k, bcols = tb ? k : n;
                int lda = arows + 3, ldb = brows + 2, ldc = m + 1;
                float *A = filled((size_t)lda * acols, k_id++), *B = filled((size_t)ldb * bcols, k_id++);
                float *C = filled((size_t)ldc * n, k_id++), *out = malloc(sizeof(float) * ldc * n);
                double *ref = malloc(sizeof(double) * m * n);
                float *dA = dalloc(sizeof(float) * lda * acols), *dB = dalloc(sizeof(float) * ldb * bcols);
                float *dC = dalloc(sizeof(float) * ldc * n);
                up(dA, A, sizeof(float) * lda * acols);
                up(dB, B, sizeof(float) * ldb * bcols);
                up(dC, C, sizeof(float) * ldc * n);
                cublasStatus_t st = cublasSgemm(hb, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m,
                                                n, k, &alpha, dA, lda, dB, ldb, &beta, dC, ldc);
                down(out, dC, sizeof(float) * ldc * n);
                ref_gemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, ref);
                float *packed = malloc(sizeof(float) * m * n);
                int pad_ok = 1;
                for (int j = 0; j < n; j++) {
                    memcpy(packed + j * m, out + j * ldc, sizeof(float) * m);
                    pad_ok &= out[j * ldc + m] == C[j * ldc + m]; /* the row between columns stays */
                }
                char name[96];
                snprintf(name, sizeof name, "cublasSgemm %c%c m=%d n=%d k=%d", ta ? 'T' : 'N', tb ? 'T' : 'N', m, n,
                         k);
                if (st != CUBLAS_STATUS_SUCCESS || !pad_ok)
                    emu_check(name, 0, "status %s, padding %s", cublasGetStatusName(st), pad_ok ? "kept" : "written");
                else
                    tu_check(&emu_rep, name, tu_rel_err(packed, ref, (size_t)m * n), GEMM_TOL);
                free(A), free(B), free(C), free(out), free(ref), free(packed);
                cudaFree(dA), cudaFree(dB), cudaFree(dC);
            }

    /* leading dimensions below the rows of the stored matrix are cuBLAS argument errors */
    float *d = dalloc(4096);
    cublasStatus_t s1 = cublasSgemm(hb, CUBLAS_OP_N, CUBLAS_OP_N, 8, 4, 6, &alpha, d, 7, d, 6, &beta, d, 8);
    cublasStatus_t s2 = cublasSgemm(hb, CUBLAS_OP_T, CUBLAS_OP_N, 8, 4, 6, &alpha, d, 5, d, 6, &beta, d, 8);
    emu_check("cublasSgemm with lda < rows of A: CUBLAS_STATUS_INVALID_VALUE",
              s1 == CUBLAS_STATUS_INVALID_VALUE && s2 == CUBLAS_STATUS_INVALID_VALUE, "N: %s, T: %s",
              cublasGetStatusName(s1), cublasGetStatusName(s2));
    cudaFree(d);
}

static void check_gemm_ex_and_batched(cublasHandle_t hb)
{
    /* GemmEx with bf16 inputs is the fp32 product of the bf16-rounded inputs */
    enum { M = 9, N = 6, K = 21 };
    float *A = filled(M * K, 100), *B = filled(N * K, 101), Ar[M * K], Br[N * K];
    __nv_bfloat16 A16[M * K], B16[N * K];
    for (int i = 0; i < M * K; i++) {
        A16[i] = __float2bfloat16(A[i]);
        Ar[i] = __bfloat162float(A16[i]);
    }
    for (int i = 0; i < N * K; i++) {
        B16[i] = __float2bfloat16(B[i]);
        Br[i] = __bfloat162float(B16[i]);
    }
    const float one = 1.0f, zero = 0.0f;
    void *dA16 = dalloc(sizeof A16), *dB16 = dalloc(sizeof B16);
    float *dA = dalloc(sizeof Ar), *dB = dalloc(sizeof Br), *dC = dalloc(sizeof(float) * M * N);
    float c16[M * N], cr[M * N], c32[M * N];
    up(dA16, A16, sizeof A16);
    up(dB16, B16, sizeof B16);
    baton_emu_counters c0, c1;
    baton_emu_counters_get(&c0);
    cublasStatus_t st = cublasGemmEx(hb, CUBLAS_OP_N, CUBLAS_OP_T, M, N, K, &one, dA16, CUDA_R_16BF, M, dB16,
                                     CUDA_R_16BF, N, &zero, dC, CUDA_R_32F, M, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    down(c16, dC, sizeof c16); /* work is counted when it runs, and the download makes it run */
    baton_emu_counters_get(&c1);
    up(dA, Ar, sizeof Ar);
    up(dB, Br, sizeof Br);
    CB(cublasSgemm(hb, CUBLAS_OP_N, CUBLAS_OP_T, M, N, K, &one, dA, M, dB, N, &zero, dC, M));
    down(cr, dC, sizeof cr);
    up(dA, A, sizeof Ar);
    up(dB, B, sizeof Br);
    CB(cublasSgemm(hb, CUBLAS_OP_N, CUBLAS_OP_T, M, N, K, &one, dA, M, dB, N, &zero, dC, M));
    down(c32, dC, sizeof c32);
    /* bit-identical: the emulation widens bf16 exactly and runs the same fp32 product (a GPU's
     * tensor cores would order the sums differently); and it differs from the unrounded product */
    emu_check("cublasGemmEx bf16 = fp32 GEMM of the bf16-rounded inputs, not of the originals",
              st == CUBLAS_STATUS_SUCCESS && memcmp(c16, cr, sizeof cr) == 0 && memcmp(c16, c32, sizeof c32) != 0,
              "status %s, c[0] %.9g vs rounded %.9g vs fp32 %.9g", cublasGetStatusName(st), (double)c16[0],
              (double)cr[0], (double)c32[0]);
    emu_check("counters: GemmEx with bf16 inputs counted as a bf16 GEMM of 2*9*6*21 flops",
              c1.gemm_calls[2] - c0.gemm_calls[2] == 1 && c1.gemm_flops[2] - c0.gemm_flops[2] == 2.0 * M * N * K &&
                  c1.gemm_calls[0] == c0.gemm_calls[0],
              "bf16 calls +%llu, flops +%g, fp32 calls +%llu",
              (unsigned long long)(c1.gemm_calls[2] - c0.gemm_calls[2]), c1.gemm_flops[2] - c0.gemm_flops[2],
              (unsigned long long)(c1.gemm_calls[0] - c0.gemm_calls[0]));
    free(A), free(B);
    cudaFree(dA16), cudaFree(dB16), cudaFree(dA), cudaFree(dB), cudaFree(dC);

    /* strided batches with gaps between the matrices, B transposed */
    enum { BM = 5, BN = 4, BK = 6, BATCH = 3, SA = BM * BK + 7, SB = BN * BK + 3, SC = BM * BN + 5 };
    float *hA = filled(SA * BATCH, 102), *hB = filled(SB * BATCH, 103), *hC = filled(SC * BATCH, 104);
    float out[SC * BATCH], got[BM * BN * BATCH];
    double ref[BM * BN * BATCH];
    float *sA = dalloc(sizeof(float) * SA * BATCH), *sB = dalloc(sizeof(float) * SB * BATCH);
    float *sC = dalloc(sizeof(float) * SC * BATCH);
    up(sA, hA, sizeof(float) * SA * BATCH);
    up(sB, hB, sizeof(float) * SB * BATCH);
    up(sC, hC, sizeof(float) * SC * BATCH);
    const float alpha = -1.25f, beta = 0.5f;
    st = cublasSgemmStridedBatched(hb, CUBLAS_OP_N, CUBLAS_OP_T, BM, BN, BK, &alpha, sA, BM, SA, sB, BN, SB, &beta,
                                   sC, BM, SC, BATCH);
    down(out, sC, sizeof out);
    int gaps_ok = 1;
    for (int b = 0; b < BATCH; b++) {
        ref_gemm(0, 1, BM, BN, BK, alpha, hA + b * SA, BM, hB + b * SB, BN, beta, hC + b * SC, BM, ref + b * BM * BN);
        memcpy(got + b * BM * BN, out + b * SC, sizeof(float) * BM * BN);
        gaps_ok &= memcmp(out + b * SC + BM * BN, hC + b * SC + BM * BN, sizeof(float) * (SC - BM * BN)) == 0;
    }
    if (st != CUBLAS_STATUS_SUCCESS || !gaps_ok)
        emu_check("cublasSgemmStridedBatched NT, 3 batches", 0, "status %s, gaps %s", cublasGetStatusName(st),
                  gaps_ok ? "kept" : "written");
    else
        tu_check(&emu_rep, "cublasSgemmStridedBatched NT, 3 batches", tu_rel_err(got, ref, BM * BN * BATCH), GEMM_TOL);
    free(hA), free(hB), free(hC);
    cudaFree(sA), cudaFree(sB), cudaFree(sC);
}

/* Stable insertion sort of idx by key: the reference for SortPairs. */
static void ref_sort(const double *key, int *idx, int n)
{
    for (int i = 0; i < n; i++)
        idx[i] = i;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && key[idx[j - 1]] > key[idx[j]]; j--) {
            int t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
}

static void check_sort(void)
{
    enum { N = 41 };
    int ki[N], vi[N], ko[N], vo[N], want[N];
    float kf[N], kfo[N];
    double key[N];
    /* duplicates of every value, negatives, and the extremes of int */
    for (int i = 0; i < N; i++) {
        ki[i] = (i * 17) % 9 - 4;
        vi[i] = i;
    }
    ki[5] = INT_MIN;
    ki[11] = INT_MAX;
    ki[30] = INT_MIN;
    size_t temp_bytes = 0;
    CK(emu_sort_pairs_i32(NULL, &temp_bytes, NULL, NULL, NULL, NULL, N));
    void *temp = dalloc(temp_bytes);
    int *dki = dalloc(sizeof ki), *dko = dalloc(sizeof ko), *dvi = dalloc(sizeof vi), *dvo = dalloc(sizeof vo);
    float *dkf = dalloc(sizeof kf), *dkfo = dalloc(sizeof kfo);
    up(dki, ki, sizeof ki);
    up(dvi, vi, sizeof vi);
    CK(emu_sort_pairs_i32(temp, &temp_bytes, dki, dko, dvi, dvo, N));
    down(ko, dko, sizeof ko);
    down(vo, dvo, sizeof vo);
    for (int i = 0; i < N; i++)
        key[i] = ki[i];
    ref_sort(key, want, N);
    int bad = -1;
    for (int i = 0; i < N && bad < 0; i++)
        if (vo[i] != want[i] || ko[i] != ki[want[i]])
            bad = i;
    emu_check("cub SortPairs, int keys with duplicates, negatives, INT_MIN/INT_MAX: stable", bad < 0,
              "position %d: key %d value %d, expected value %d", bad, bad < 0 ? 0 : ko[bad], bad < 0 ? 0 : vo[bad],
              bad < 0 ? 0 : want[bad]);

    for (int i = 0; i < N; i++) {
        kf[i] = (float)((i * 13) % 7 - 3) * 0.75f + (i % 5 == 0 ? 0.125f : 0.0f);
        key[i] = kf[i];
    }
    up(dkf, kf, sizeof kf);
    CK(emu_sort_pairs_f32(temp, &temp_bytes, dkf, dkfo, dvi, dvo, N));
    down(kfo, dkfo, sizeof kfo);
    down(vo, dvo, sizeof vo);
    ref_sort(key, want, N);
    bad = -1;
    for (int i = 0; i < N && bad < 0; i++)
        if (vo[i] != want[i] || kfo[i] != kf[want[i]])
            bad = i;
    emu_check("cub SortPairs, float keys with duplicates and negatives: stable", bad < 0,
              "position %d: key %g value %d, expected value %d", bad, bad < 0 ? 0.0 : (double)kfo[bad],
              bad < 0 ? 0 : vo[bad], bad < 0 ? 0 : want[bad]);
    cudaFree(temp), cudaFree(dki), cudaFree(dko), cudaFree(dvi), cudaFree(dvo), cudaFree(dkf), cudaFree(dkfo);
}

int main(void)
{
    int count = 0;
    CK(cudaGetDeviceCount(&count));
    printf("test_emu: %s\n", baton_emu_describe());
    check_block_sum();
    check_votes();
    check_shared_and_atomics();
    check_grids();
    check_streams();
    check_graphs();
    /* the faults, each in its own process, before cuBLAS starts any BLAS threads */
    emu_fault_checks();
    cublasHandle_t hb;
    if (cublasCreate(&hb) != CUBLAS_STATUS_SUCCESS) {
        fprintf(stderr, "test_emu: cublasCreate failed\n");
        return 1;
    }
    check_counters(hb);
    check_sgemm(hb);
    check_gemm_ex_and_batched(hb);
    check_sort();
    cublasDestroy(hb);
    CK(cudaDeviceSynchronize());
    uint64_t errors = emu_errors();
    emu_check("no emulation error reported for the correct programs (this process)", errors == 0,
              "%llu error(s) reported", (unsigned long long)errors);
    return tu_summary(&emu_rep, "test_emu");
}
