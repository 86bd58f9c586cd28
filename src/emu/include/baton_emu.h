/* baton_emu.h: what baton's CUDA emulation offers beyond the CUDA API: counters of the work a
 * program issues, for modelling GPU speed where no GPU exists, and its settings.
 *
 * Settings come from the environment, read at the first CUDA call:
 *   BATON_EMU_SCHEDULES  comma-separated schedules each kernel launch runs under (default
 *                        forward,reverse,random,warp; "forward" alone turns the race check off);
 *                        results must be bit-identical across them
 *   BATON_EMU_SEED       seed of the random schedule (default 1)
 *   BATON_EMU_MEMORY_MB  emulated device memory (default 4096)
 *   BATON_EMU_ERROR_EXITCODE  exit status forced when errors were reported (default 1; 0 keeps the program's)
 *   BATON_EMU_STATS      1: print the counters to stderr at exit
 *   BATON_EMU_EXECUTE    all (default) or count: kernels and GEMMs are checked at launch and counted
 *                        but not run, so the counts of a large model come in seconds (results are
 *                        garbage: for counting work only, as `baton bench` does) */
#ifndef BATON_EMU_H
#define BATON_EMU_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint64_t kernel_launches;      /* launches issued by the host (graph replays excluded) */
    uint64_t kernels_run;          /* grids executed, graph replays included */
    uint64_t graph_launches;
    uint64_t gemm_calls[3];        /* by precision: [0] fp32, [1] tf32, [2] bf16 inputs */
    double gemm_flops[3];          /* 2 M N K per product, by precision */
    uint64_t library_calls;        /* CUB calls */
    uint64_t bytes_h2d, bytes_d2h, bytes_d2d, bytes_memset;
    uint64_t kernel_bytes;         /* device memory loaded and stored by kernel threads, every access
                                    * counted (no cache modelled), in the first schedule of each run */
    double gemm_bytes;             /* the GEMMs' operands: A and B read, C read where beta != 0, C written */
    uint64_t copies;               /* memcpy calls, any direction */
    uint64_t host_syncs;           /* calls that made the host wait for device work still pending */
    uint64_t allocations, frees;
    uint64_t bytes_allocated;      /* sum over cudaMalloc calls */
    uint64_t errors;               /* errors the emulation's checks reported */
} baton_emu_counters;

/* Copies the counters since the start (or the last reset) into *c. */
void baton_emu_counters_get(baton_emu_counters *c);

/* Sets every counter but errors to 0. */
void baton_emu_counters_reset(void);

/* Writes the counters as one table to stderr, headed by `title`. */
void baton_emu_counters_print(const char *title);

/* 0 under BATON_EMU_EXECUTE=count (kernels and GEMMs counted, not run: results are garbage), else 1. */
int baton_emu_executes(void);

/* A short description of the emulated device and its checks, for logs. */
const char *baton_emu_describe(void);

/* Tells the emulation that the errors it is about to report are expected (its own tests):
 * they are still printed and counted, but the exit status is left alone. */
void baton_emu_expect_errors(int on);

#ifdef __cplusplus
}
#endif

#endif
