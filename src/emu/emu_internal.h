/* emu_internal.h: what the files of baton's CUDA emulation share (src/emu/). One host thread
 * drives the emulated device; the runtime keeps its state in file-level objects of the files
 * below and guards its API with one mutex.
 *
 *   memory.cc   the device address range: allocations, shadow bytes, host protection, access log
 *   exec.cc     a grid on fibers: blocks, schedules, races (exec_internal.h: its state)
 *   device.cc   what kernel code calls (barriers, warp collectives, shared memory) and the memory
 *               checks behind every access
 *   params.cc   the parameter space kernels read their arguments from; __launch_bounds__
 *   stream.cc   streams, events, graphs and the lazy executor that orders their work
 *   runtime.cc  the CUDA runtime API, errors and counters
 *   cublas.cc   cuBLAS's GEMMs;  cublaslt.cc  cuBLASLt's matmul;  cub.cc  CUB's radix sort */
#ifndef BATON_EMU_INTERNAL_H
#define BATON_EMU_INTERNAL_H

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "baton_emu.h"
#include "baton_emu_device.h"
#include "cublas_v2.h"
#include "cuda_runtime_api.h"

namespace baton_emu {

/* ---- errors (runtime.cc) ---- */
/* Prints "baton-emu: error: ..." and counts it; the process exits non-zero at the end. */
void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Sets the last error (and the sticky one for faults); returns e. */
cudaError_t set_error(cudaError_t e);
void set_sticky(cudaError_t e);
cudaError_t sticky_error();
extern std::recursive_mutex api_mutex;
extern baton_emu_counters counters;
/* Options from the environment, read once. */
struct options {
    unsigned schedules;   /* bit i: schedule i of exec.cc runs each launch */
    uint64_t seed;
    size_t memory_bytes;  /* emulated device memory */
    int error_exitcode;
    bool count_only;      /* BATON_EMU_EXECUTE=count: kernels, GEMMs and sorts are counted, not run */
};
const options &opts();

/* ---- memory (memory.cc) ---- */
struct allocation {
    uintptr_t base;
    size_t bytes;
    uint64_t serial; /* the n-th cudaMalloc of the process */
};
extern uintptr_t dev_base;     /* the reserved device address range */
extern size_t dev_size;
extern uint8_t *dev_shadow;    /* one byte per 8 device bytes: k in 1..8 addressable, else not */
void mem_init();
void *mem_alloc(size_t bytes);                 /* nullptr when the emulated device is full */
bool mem_free(void *p);                        /* false: not the start of a live allocation */
const allocation *mem_find(uintptr_t a);       /* the live allocation holding a, or nullptr */
bool mem_in_device(const void *p);
/* "12 bytes past the end of a 1024-byte allocation (cudaMalloc #3)" and the like. */
std::string mem_describe(uintptr_t a);
/* Checks that [p, p+n) lies inside one live allocation; else explains why in *why. */
bool mem_range_ok(const void *p, size_t n, std::string *why);
size_t mem_in_use();
/* Device memory is readable and writable by the host only while one of these lives: kernels,
 * copies and library calls run inside one; host code outside faults on device pointers. */
struct device_access {
    device_access();
    ~device_access();
    device_access(const device_access &) = delete;
    device_access &operator=(const device_access &) = delete;
};
/* The log of a launch run under several schedules: the first access to each 64-byte chunk saves
 * its old bytes, so a run can be undone and its results compared with another's. */
void log_begin();
void log_touch(uintptr_t off, size_t n);   /* off from dev_base */
void log_snapshot_results();               /* after the first schedule: results of every chunk */
void log_restore();                        /* back to the bytes before the launch */
/* Compares the chunks with the first schedule's results; on a difference reports and returns false. */
bool log_compare(const char *kernel, const char *first, const char *other);
void log_end();
extern bool log_active;

/* ---- kernel execution (exec.cc) ---- */
typedef void (*kernel_body)(const void *params);
struct launch {
    baton_emu_launch_info info;
    std::string name;
    kernel_body body;
    std::shared_ptr<void> params; /* in parameter space; shared by graph replays */
    size_t static_shared = 0;
    int max_threads = 1024;       /* __launch_bounds__ */
    size_t dyn_limit = 48 * 1024; /* cudaFuncAttributeMaxDynamicSharedMemorySize opt-in */
};
/* Checks a launch's configuration as the runtime does at <<<>>> time (cudaErrorInvalidConfiguration,
 * cudaErrorLaunchOutOfResources ...); fills the kernel's attributes into l. */
cudaError_t launch_check(launch &l);
/* Runs the grid (every schedule); returns cudaSuccess or the fault's error. */
cudaError_t launch_run(const launch &l);
/* ---- parameters and launch bounds (params.cc) ---- */
/* A block of parameter space for one launch's arguments, and its return. */
void *param_alloc(size_t bytes);
void param_free(void *p);
/* True when [a, a+n) lies in parameter space. */
bool param_contains(uintptr_t a, size_t n);
/* The kernel's __launch_bounds__ (1024 when it has none), by the name a launch gives. */
int kernel_bound(const char *name);
/* "baton_cell_kernel<Args, At>" -> "baton_cell_kernel": the name messages and bounds use. */
std::string kernel_base_name(const char *name);

/* ---- streams (stream.cc) ---- */
/* Enqueues work on `stream` (lazily executed; ordered as CUDA orders streams), or records it into
 * the stream's capture. `what` names it for errors. Returns cudaErrorInvalidResourceHandle for a
 * destroyed stream, the capture errors, or cudaSuccess. */
cudaError_t enqueue(cudaStream_t stream, const char *what, std::function<void()> work);
/* Runs everything `stream` has been given so far (its dependencies first). */
cudaError_t stream_sync(cudaStream_t stream, const char *api);
cudaError_t device_sync(const char *api);
bool stream_valid(cudaStream_t stream);
/* cudaErrorStreamCaptureUnsupported when a capture makes a synchronous call on `stream` illegal. */
cudaError_t capture_forbids_sync(cudaStream_t stream, const char *api);
/* True when host memory p was allocated pinned (cudaMallocHost / cudaHostAlloc). */
bool host_is_pinned(const void *p);

/* ---- GEMM pieces (cublas.cc), shared by cublas.cc and cublaslt.cc ---- */
/* A product's precision: its index into counters.gemm_calls and gemm_flops. */
enum { P_FP32, P_TF32, P_BF16 };
/* One operand as cuBLAS sees it: rows x cols stored column-major with leading dimension ld;
 * stride (elements) to the next matrix of a batch. */
struct operand {
    const char *role;
    const void *p;
    cudaDataType type;
    int rows, cols, ld;
    long long stride;
};
/* Bytes of one element of type t (CUDA_R_32F or CUDA_R_16BF only). */
size_t elem_bytes(cudaDataType t);
/* True when o's `batch` matrices each lie in one live allocation; else reports which (api, o.role). */
bool operand_in_bounds(const char *api, const operand &o, int batch);
/* o's matrix at p as fp32 in o's layout: p itself, or widened from bf16 / rounded to TF32 into buf. */
const float *as_float(const operand &o, const void *p, int prec, std::vector<float> &buf);
/* C (m x n, ldc) = alpha op(A) op(B) + beta C in fp32, column-major; C unread if beta == 0, A, B if k == 0. */
void product(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc);

} // namespace baton_emu

#endif
