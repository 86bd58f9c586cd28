/* test_emu_faults.c: every check of the CUDA emulation fires, with the error CUDA would give.
 *
 * Each scenario runs in a forked child: a fault leaves the context sticky (every later call
 * returns it, as on a GPU), the death tests kill the process, and the parent must stay free of
 * reported errors. The child says baton_emu_expect_errors(1) (so the emulation leaves its exit
 * status alone), runs one defective program, checks what the API returned, that exactly one
 * error was counted, and that the error is (or is not) sticky, and exits 0 when all of that
 * held. The parent reads the child's stderr, which must contain the words that name the defect,
 * then passes it on to its own stderr for the log. One line per scenario: "fault: <name>: ok".
 *
 * Kernel faults surface at the next synchronisation, never at the launch (launches are lazy, as
 * on a GPU they are asynchronous). Defects that corrupt no state (races, uninitialised shared
 * memory, emu_bad copies and memsets, cuBLAS operands) are reported but not sticky. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <baton_emu.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "emu_kernels.h"
#include "test_emu.h"

static void *child_dalloc(size_t bytes)
{
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes);
    NEED(e == cudaSuccess, "cudaMalloc(%zu): %s", bytes, cudaGetErrorName(e));
    return p;
}

/* Device floats set to 1.0 (the kernels that read them must read written memory). */
static float *ones(int n)
{
    float *h = malloc(sizeof(float) * n), *d = child_dalloc(sizeof(float) * n);
    for (int i = 0; i < n; i++)
        h[i] = 1.0f;
    cudaMemcpy(d, h, sizeof(float) * n, cudaMemcpyHostToDevice);
    free(h);
    return d;
}

/* A kernel fault: the launch succeeded, the next synchronisation returns `want`, one error was
 * reported, and the context is lost: the error stays, and later calls return it too. */
static void sticky_fault(uint64_t before, cudaError_t launched, cudaError_t want)
{
    NEED(launched == cudaSuccess, "the launch returned %s; the fault belongs to the run", cudaGetErrorName(launched));
    cudaError_t e = cudaDeviceSynchronize();
    NEED(e == want, "cudaDeviceSynchronize returned %s, expected %s", cudaGetErrorName(e), cudaGetErrorName(want));
    NEED(emu_errors() == before + 1, "%llu errors reported, expected 1", (unsigned long long)(emu_errors() - before));
    cudaError_t l1 = cudaGetLastError(), l2 = cudaGetLastError();
    NEED(l1 == want && l2 == want, "cudaGetLastError returned %s then %s: not sticky", cudaGetErrorName(l1),
         cudaGetErrorName(l2));
    void *p = NULL;
    e = cudaMalloc(&p, 64);
    NEED(e == want, "cudaMalloc after the fault returned %s", cudaGetErrorName(e));
}

/* A reported defect that leaves the context usable. */
static void reported_only(uint64_t before)
{
    cudaError_t e = cudaDeviceSynchronize();
    NEED(e == cudaSuccess, "cudaDeviceSynchronize returned %s: not a sticky error", cudaGetErrorName(e));
    NEED(emu_errors() == before + 1, "%llu errors reported, expected 1", (unsigned long long)(emu_errors() - before));
    void *p = NULL;
    e = cudaMalloc(&p, 64);
    NEED(e == cudaSuccess, "cudaMalloc afterwards returned %s", cudaGetErrorName(e));
}

/* ---- scenarios (each runs in a child) ---- */

static void oob_read(void)
{
    /* 5 floats: the one past the end sits in the allocation's last, half-used 8-byte granule */
    float *x = ones(5), *y = child_dalloc(5 * sizeof(float));
    uint64_t e0 = emu_errors();
    sticky_fault(e0, emu_read_past(x, y, 5), cudaErrorIllegalAddress);
}

static void oob_write(void)
{
    float *y = child_dalloc(8 * sizeof(float));
    uint64_t e0 = emu_errors();
    sticky_fault(e0, emu_write_past(y, 8), cudaErrorIllegalAddress);
}

static void host_pointer(void)
{
    float *x = calloc(64, sizeof(float)), *y = child_dalloc(64 * sizeof(float));
    uint64_t e0 = emu_errors();
    sticky_fault(e0, emu_copy(x, y, 64, 0), cudaErrorIllegalAddress);
}

static void misaligned(void)
{
    float *x = ones(4), *y = child_dalloc(4 * sizeof(float));
    uint64_t e0 = emu_errors();
    sticky_fault(e0, emu_misaligned(x, y), cudaErrorMisalignedAddress);
}

static void shared_oob(void)
{
    float *y = child_dalloc(32 * sizeof(float));
    uint64_t e0 = emu_errors();
    sticky_fault(e0, emu_shared_oob(y), cudaErrorIllegalAddress);
}

static void missing_sync(void)
{
    float *x = child_dalloc(256 * sizeof(float)), *y = child_dalloc(256 * sizeof(float));
    float h[256];
    for (int i = 0; i < 256; i++)
        h[i] = (float)i;
    cudaMemcpy(x, h, sizeof h, cudaMemcpyHostToDevice);
    uint64_t e0 = emu_errors();
    cudaError_t e = emu_missing_sync(x, y, 256);
    NEED(e == cudaSuccess, "launch: %s", cudaGetErrorName(e));
    reported_only(e0);
}

static void block_race(void)
{
    float *y = child_dalloc(sizeof(float));
    uint64_t e0 = emu_errors();
    cudaError_t e = emu_block_race(y);
    NEED(e == cudaSuccess, "launch: %s", cudaGetErrorName(e));
    reported_only(e0);
}

static void uninit_shared(void)
{
    float *x = ones(64), *y = child_dalloc(64 * sizeof(float));
    uint64_t e0 = emu_errors();
    cudaError_t e = emu_uninit_shared(x, y);
    NEED(e == cudaSuccess, "launch: %s", cudaGetErrorName(e));
    reported_only(e0);
}

static void shfl_outside_mask(void)
{
    float *y = child_dalloc(32 * sizeof(float));
    uint64_t e0 = emu_errors();
    sticky_fault(e0, emu_shfl_outside_mask(y), cudaErrorLaunchFailure);
}

static void shfl_ghost_lanes(void)
{
    float *y = child_dalloc(48 * sizeof(float));
    uint64_t e0 = emu_errors();
    sticky_fault(e0, emu_shfl_ghost_lanes(y, 48), cudaErrorLaunchFailure);
}

static void divergent_sync(void)
{
    float *y = child_dalloc(64 * sizeof(float));
    uint64_t e0 = emu_errors();
    sticky_fault(e0, emu_divergent_sync(y), cudaErrorLaunchFailure);
}

static void deadlock(void)
{
    float *y = child_dalloc(32 * sizeof(float));
    uint64_t e0 = emu_errors();
    sticky_fault(e0, emu_deadlock(y), cudaErrorLaunchFailure);
}

static void grid_sync_plain(void)
{
    int *a = child_dalloc(256 * sizeof(int)), *b = child_dalloc(256 * sizeof(int));
    uint64_t e0 = emu_errors();
    sticky_fault(e0, emu_coop_shift(a, b, 4, 64, 0), cudaErrorLaunchFailure);
}

static void use_after_free(void)
{
    float *x = ones(64), *y = child_dalloc(64 * sizeof(float));
    NEED(cudaFree(x) == cudaSuccess, "cudaFree failed");
    uint64_t e0 = emu_errors();
    sticky_fault(e0, emu_copy(x, y, 64, 0), cudaErrorIllegalAddress);
}

/* The copy and memset checks happen at the call: an error returned, nothing sticky. */
static void memcpy_wrong_direction(void)
{
    float h[16] = {0}, *d = child_dalloc(sizeof h);
    uint64_t e0 = emu_errors();
    cudaError_t e = cudaMemcpy(d, h, sizeof h, cudaMemcpyDeviceToHost); /* d is the destination */
    NEED(e == cudaErrorInvalidValue, "cudaMemcpy returned %s", cudaGetErrorName(e));
    reported_only(e0);
}

static void memcpy_past_end(void)
{
    float h[6] = {0}, *d = child_dalloc(5 * sizeof(float));
    uint64_t e0 = emu_errors();
    cudaError_t e = cudaMemcpy(d, h, sizeof h, cudaMemcpyHostToDevice);
    NEED(e == cudaErrorInvalidValue, "cudaMemcpy returned %s", cudaGetErrorName(e));
    reported_only(e0);
}

static void memset_past_end(void)
{
    float *d = child_dalloc(5 * sizeof(float));
    uint64_t e0 = emu_errors();
    cudaError_t e = cudaMemset(d, 0, 6 * sizeof(float));
    NEED(e == cudaErrorInvalidValue, "cudaMemset returned %s", cudaGetErrorName(e));
    reported_only(e0);
}

/* After a fault nothing runs: neither work queued behind it nor later launches; cudaDeviceReset
 * gives a working context back. */
static void nothing_after_fault(void)
{
    float *x = ones(5), *y = child_dalloc(5 * sizeof(float)), *z = child_dalloc(64 * sizeof(float));
    baton_emu_counters c0, c1;
    baton_emu_counters_get(&c0);
    cudaError_t l1 = emu_read_past(x, y, 5);
    cudaError_t l2 = emu_fill(z, 64, 2.0f, 0); /* queued behind the fault */
    cudaError_t sync = cudaDeviceSynchronize();
    cudaError_t l3 = emu_fill(z, 64, 3.0f, 0);
    baton_emu_counters_get(&c1);
    NEED(l1 == cudaSuccess && l2 == cudaSuccess, "launches before the sync: %s, %s", cudaGetErrorName(l1),
         cudaGetErrorName(l2));
    NEED(sync == cudaErrorIllegalAddress, "sync: %s", cudaGetErrorName(sync));
    NEED(l3 == cudaErrorIllegalAddress, "a launch after the fault returned %s", cudaGetErrorName(l3));
    NEED(c1.kernels_run - c0.kernels_run == 1, "%llu grids ran, expected only the faulting one",
         (unsigned long long)(c1.kernels_run - c0.kernels_run));
    NEED(c1.kernel_launches - c0.kernel_launches == 2, "%llu launches accepted, expected 2",
         (unsigned long long)(c1.kernel_launches - c0.kernel_launches));
    cudaError_t reset = cudaDeviceReset();
    float *w = child_dalloc(64 * sizeof(float)), h[64];
    cudaError_t l4 = emu_fill(w, 64, 4.0f, 0);
    cudaError_t cp = cudaMemcpy(h, w, sizeof h, cudaMemcpyDeviceToHost);
    NEED(reset == cudaSuccess && l4 == cudaSuccess && cp == cudaSuccess && h[0] == 4.0f && h[63] == 4.0f,
         "after cudaDeviceReset: reset %s, launch %s, copy %s, h[0] %g", cudaGetErrorName(reset),
         cudaGetErrorName(l4), cudaGetErrorName(cp), (double)h[0]);
}

static void gemm_b_past_end(void)
{
    cublasHandle_t hb;
    NEED(cublasCreate(&hb) == CUBLAS_STATUS_SUCCESS, "cublasCreate");
    /* B is k x n = 6 x 4 = 24 floats; its allocation has 23 */
    float *a = child_dalloc(8 * 6 * sizeof(float)), *b = child_dalloc(23 * sizeof(float)), *c = child_dalloc(8 * 4 * sizeof(float));
    const float one = 1.0f, zero = 0.0f;
    uint64_t e0 = emu_errors();
    cublasStatus_t st = cublasSgemm(hb, CUBLAS_OP_N, CUBLAS_OP_N, 8, 4, 6, &one, a, 8, b, 6, &zero, c, 8);
    NEED(st == CUBLAS_STATUS_EXECUTION_FAILED, "cublasSgemm returned %s", cublasGetStatusName(st));
    reported_only(e0);
    cublasDestroy(hb);
}

/* Without baton_emu_expect_errors, a reported error forces the exit status to 1. */
static void exit_status_forced(void)
{
    baton_emu_expect_errors(0);
    float *d = child_dalloc(4);
    cudaMemset(d, 0, 8);
}

/* Death tests: the host cannot read device memory, neither from plain C (a SIGSEGV the
 * emulation turns into a message and exit status 1) nor from host code compiled with the
 * kernels' instrumentation (reported and aborted at the access). */
static void host_deref_c(void)
{
    float *d = ones(4);
    volatile float *p = d;
    printf("    host read %g: the process should have died\n", (double)*p);
    emu_bad++;
}

static void host_deref_instrumented(void)
{
    float *d = ones(4);
    printf("    host read %g: the process should have died\n", (double)emu_host_peek(d));
    emu_bad++;
}

void emu_fault_checks(void)
{
    emu_isolated("out-of-bounds read one past the end", oob_read, EMU_EXIT_NORMAL, 0,
             "invalid read of 4 bytes at");
    emu_isolated("out-of-bounds write one past the end", oob_write, EMU_EXIT_NORMAL, 0,
             "0 bytes past the end of a 32-byte allocation");
    emu_isolated("host pointer (malloc) passed to a kernel", host_pointer, EMU_EXIT_NORMAL, 0,
             "host memory, not device memory");
    emu_isolated("misaligned 4-byte read", misaligned, EMU_EXIT_NORMAL, 0, "misaligned read of 4 bytes");
    emu_isolated("shared memory out of bounds", shared_oob, EMU_EXIT_NORMAL, 0,
             "shared memory out of bounds (byte 128 of the block's 128 bytes)");
    if (emu_races_checked()) {
        emu_isolated("missing __syncthreads before shared memory is reused", missing_sync, EMU_EXIT_NORMAL, 0,
                 "its results differ between the");
        emu_isolated("two blocks writing one global float", block_race, EMU_EXIT_NORMAL, 0,
                 "its results differ between the");
        emu_isolated("uninitialised shared memory read", uninit_shared, EMU_EXIT_NORMAL, 0, "its results differ between the");
    } else {
        printf("fault: race checks: skipped (BATON_EMU_SCHEDULES=%s lacks reverse and another)\n",
               getenv("BATON_EMU_SCHEDULES"));
    }
    emu_isolated("shuffle reading a lane outside its mask", shfl_outside_mask, EMU_EXIT_NORMAL, 0,
             "which the mask 0x0000ffff leaves out");
    emu_isolated("full mask in a block of 48 threads", shfl_ghost_lanes, EMU_EXIT_NORMAL, 0,
             "names lane 16, which does not exist");
    emu_isolated("__syncthreads in a divergent branch", divergent_sync, EMU_EXIT_NORMAL, 0, "divergent __syncthreads");
    emu_isolated("shuffle vs __syncthreads deadlock", deadlock, EMU_EXIT_NORMAL, 0, "deadlock: no thread can go on");
    emu_isolated("grid sync in a non-cooperative launch", grid_sync_plain, EMU_EXIT_NORMAL, 0,
             "not launched with cudaLaunchCooperativeKernel");
    emu_isolated("use after cudaFree", use_after_free, EMU_EXIT_NORMAL, 0, "freed device memory");
    emu_isolated("cudaMemcpy in the wrong direction", memcpy_wrong_direction, EMU_EXIT_NORMAL, 0, "wrong direction");
    emu_isolated("cudaMemcpy past an allocation's end", memcpy_past_end, EMU_EXIT_NORMAL, 0, "run 4 bytes past its end");
    emu_isolated("cudaMemset past an allocation's end", memset_past_end, EMU_EXIT_NORMAL, 0, "run 4 bytes past its end");
    emu_isolated("nothing runs after a fault (sticky), until cudaDeviceReset", nothing_after_fault, EMU_EXIT_NORMAL, 0,
             "invalid read of 4 bytes");
    emu_isolated("cublasSgemm B operand past its allocation", gemm_b_past_end, EMU_EXIT_NORMAL, 0,
             "B (6 x 4, leading dimension 6) reaches outside its allocation");
    emu_isolated("reported error without expect_errors forces exit status 1", exit_status_forced, EMU_EXIT_NORMAL, 1,
             "error(s) reported: exit status 1");
    emu_isolated("death: plain C host code dereferencing a device pointer", host_deref_c, EMU_EXIT_NORMAL, 1,
             "host code dereferenced device pointer");
    emu_isolated("death: instrumented host code reading device memory", host_deref_instrumented, EMU_DIES_BY_SIGNAL, SIGABRT,
             "host code read device memory");
}
