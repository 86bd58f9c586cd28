/* baton_emu_device.h: the device side of baton's CUDA emulation, for kernel sources compiled by
 * the host C++ compiler. Every emulated GPU thread runs the kernel function on its own fiber;
 * the built-in variables read that thread's coordinates; barriers, warp collectives and grid
 * barriers suspend the fiber until the threads they name have arrived (src/emu/exec.cc), and
 * report divergence, deadlock and bad masks as errors naming the kernel, block and thread.
 * Call sites come from __builtin_FILE / __builtin_LINE default arguments, so the kernel
 * sources call __syncthreads() and __shfl_xor_sync(...) exactly as under nvcc. */
#ifndef BATON_EMU_DEVICE_H
#define BATON_EMU_DEVICE_H

#include <cmath>
#include <cstdint>
#include <cstring>
#include <new>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

#include "cuda_runtime_api.h"

struct uint3 {
    unsigned x, y, z;
};

/* One emulated thread's built-in variables; the scheduler points baton_emu_bi at the running one. */
struct baton_emu_builtins {
    uint3 thread_idx, block_idx;
    dim3 block_dim, grid_dim;
};
/* __thread with the initial-exec model: one instruction to read, where a C++ thread_local would
 * call a wrapper on every threadIdx */
extern __thread const baton_emu_builtins *baton_emu_bi __attribute__((tls_model("initial-exec")));

#define threadIdx (baton_emu_bi->thread_idx)
#define blockIdx (baton_emu_bi->block_idx)
#define blockDim (baton_emu_bi->block_dim)
#define gridDim (baton_emu_bi->grid_dim)
static constexpr int warpSize = 32;

#define __global__
#define __device__
#define __host__
#define __constant__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __restrict__ __restrict
/* Read by the emulation from the source (kernels/emu_bounds.py registers each kernel's bound). */
#define __launch_bounds__(...)
/* Shared memory is declared through BATON_SHARED / BATON_DYNAMIC_SHARED (kernels/device.cuh), so
 * that each block gets its own; a plain __shared__ would be one variable for every block. */
#define __shared__ _Pragma("GCC error \"baton emulation: declare shared memory with BATON_SHARED or BATON_DYNAMIC_SHARED (kernels/device.cuh)\"")

/* ---- the runtime's entry points (src/emu/exec.cc) ---- */
enum { BATON_EMU_SHFL_IDX, BATON_EMU_SHFL_UP, BATON_EMU_SHFL_DOWN, BATON_EMU_SHFL_XOR, BATON_EMU_BALLOT,
       BATON_EMU_ANY, BATON_EMU_ALL, BATON_EMU_SYNCWARP };

struct baton_emu_shared_site {
    size_t bytes, align;
};

extern "C" {
void baton_emu_syncthreads(const char *file, int line);
uint64_t baton_emu_warp_op(int op, unsigned mask, uint64_t bits, int arg, int width, const char *file, int line);
void baton_emu_grid_sync(const char *file, int line);
void *baton_emu_shared_static(const baton_emu_shared_site *site);
void *baton_emu_shared_dynamic(void);
unsigned baton_emu_active_mask(void);
void baton_emu_trap(const char *file, int line);
long long baton_emu_clock(void);
}

/* What a launch hands the runtime. The kernel's parameters live in the emulation's parameter
 * space (baton_emu_param_alloc), where kernels may read them; run(params) calls the kernel for
 * the current emulated thread and destroy(params) ends their lifetime. */
struct baton_emu_launch_info {
    const void *func;
    const char *name, *file;
    int line;
    dim3 grid, block;
    size_t shmem;
    cudaStream_t stream;
    int cooperative;
};
typedef void (*baton_emu_body)(const void *params);
cudaError_t baton_emu_launch(const baton_emu_launch_info &info, baton_emu_body run, void *params,
                             void (*destroy)(void *));
extern "C" void *baton_emu_param_alloc(size_t bytes);

/* ---- barriers and warp intrinsics ---- */
inline void __syncthreads(const char *f = __builtin_FILE(), int l = __builtin_LINE())
{
    baton_emu_syncthreads(f, l);
}

inline void __syncwarp(unsigned mask = 0xffffffffu, const char *f = __builtin_FILE(), int l = __builtin_LINE())
{
    baton_emu_warp_op(BATON_EMU_SYNCWARP, mask, 0, 0, 32, f, l);
}

template <typename T> inline T baton_emu_shfl(int op, unsigned mask, T v, int arg, int width, const char *f, int l)
{
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shuffles move at most 8 bytes");
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof v);
    bits = baton_emu_warp_op(op, mask, bits, arg, width, f, l);
    T r;
    std::memcpy(&r, &bits, sizeof r);
    return r;
}

template <typename T>
inline T __shfl_sync(unsigned mask, T v, int src, int width = 32, const char *f = __builtin_FILE(),
                     int l = __builtin_LINE())
{
    return baton_emu_shfl(BATON_EMU_SHFL_IDX, mask, v, src, width, f, l);
}
template <typename T>
inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32, const char *f = __builtin_FILE(),
                        int l = __builtin_LINE())
{
    return baton_emu_shfl(BATON_EMU_SHFL_UP, mask, v, (int)delta, width, f, l);
}
template <typename T>
inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32, const char *f = __builtin_FILE(),
                          int l = __builtin_LINE())
{
    return baton_emu_shfl(BATON_EMU_SHFL_DOWN, mask, v, (int)delta, width, f, l);
}
template <typename T>
inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32, const char *f = __builtin_FILE(),
                         int l = __builtin_LINE())
{
    return baton_emu_shfl(BATON_EMU_SHFL_XOR, mask, v, lane_mask, width, f, l);
}
inline unsigned __ballot_sync(unsigned mask, int pred, const char *f = __builtin_FILE(), int l = __builtin_LINE())
{
    return (unsigned)baton_emu_warp_op(BATON_EMU_BALLOT, mask, pred != 0, 0, 32, f, l);
}
inline int __any_sync(unsigned mask, int pred, const char *f = __builtin_FILE(), int l = __builtin_LINE())
{
    return (int)baton_emu_warp_op(BATON_EMU_ANY, mask, pred != 0, 0, 32, f, l);
}
inline int __all_sync(unsigned mask, int pred, const char *f = __builtin_FILE(), int l = __builtin_LINE())
{
    return (int)baton_emu_warp_op(BATON_EMU_ALL, mask, pred != 0, 0, 32, f, l);
}
inline unsigned __activemask()
{
    return baton_emu_active_mask();
}

/* ---- memory order: emulated threads never run at the same instant, so fences order nothing ---- */
inline void __threadfence() {}
/* __ldcg: a load that bypasses L1 (cache global); one memory here, so a plain load. */
template <typename T> inline T __ldcg(const T *p)
{
    return *p;
}
inline void __threadfence_block() {}
inline void __trap(const char *f = __builtin_FILE(), int l = __builtin_LINE())
{
    baton_emu_trap(f, l);
}
inline long long clock64()
{
    return baton_emu_clock();
}

/* ---- atomics: one emulated thread runs at a time, so a plain read-modify-write is atomic. The
 * value parameters take no part in deduction: atomicAdd(&f, 1) adds to a float, as CUDA's does. */
#define BATON_EMU_ATOMIC(name, update)                                                              \
    template <typename T> inline T name(T *p, typename std::common_type<T>::type v)                 \
    {                                                                                               \
        T old = *p;                                                                                 \
        *p = (update);                                                                              \
        return old;                                                                                 \
    }
BATON_EMU_ATOMIC(atomicAdd, old + v)
BATON_EMU_ATOMIC(atomicSub, old - v)
BATON_EMU_ATOMIC(atomicExch, v)
BATON_EMU_ATOMIC(atomicMax, old > v ? old : v)
BATON_EMU_ATOMIC(atomicMin, old < v ? old : v)
BATON_EMU_ATOMIC(atomicOr, old | v)
BATON_EMU_ATOMIC(atomicAnd, old & v)
#undef BATON_EMU_ATOMIC
template <typename T>
inline T atomicCAS(T *p, typename std::common_type<T>::type cmp, typename std::common_type<T>::type v)
{
    T old = *p;
    if (old == cmp)
        *p = v;
    return old;
}

/* ---- arithmetic intrinsics: IEEE float operations, rounded once each (no contraction) ---- */
inline float __fmul_rn(float a, float b)
{
    return a * b;
}
inline float __fadd_rn(float a, float b)
{
    return a + b;
}
inline float __fsub_rn(float a, float b)
{
    return a - b;
}
inline float __fdiv_rn(float a, float b)
{
    return a / b;
}
inline float __fmaf_rn(float a, float b, float c)
{
    return std::fma(a, b, c);
}
inline float __frcp_rn(float a)
{
    return 1.0f / a;
}
inline float __expf(float a)
{
    return std::exp(a);
}
inline float __logf(float a)
{
    return std::log(a);
}
inline float __saturatef(float a)
{
    return a < 0.0f ? 0.0f : a > 1.0f ? 1.0f : a;
}
inline float rsqrtf(float a)
{
    return 1.0f / std::sqrt(a);
}
inline float __int_as_float(int i)
{
    float f;
    std::memcpy(&f, &i, sizeof f);
    return f;
}
inline int __float_as_int(float f)
{
    int i;
    std::memcpy(&i, &f, sizeof i);
    return i;
}
inline float __uint_as_float(unsigned i)
{
    float f;
    std::memcpy(&f, &i, sizeof f);
    return f;
}
inline unsigned __float_as_uint(float f)
{
    unsigned i;
    std::memcpy(&i, &f, sizeof i);
    return i;
}
template <typename T> inline T __ldg(const T *p)
{
    return *p;
}

/* ---- launches ---- */
/* A launch's parameters: the kernel and its arguments converted to its parameter types. */
template <typename... P> struct baton_emu_params {
    void (*fn)(P...);
    std::tuple<typename std::decay<P>::type...> args;

    static void run(const void *self)
    {
        const baton_emu_params *p = (const baton_emu_params *)self;
        std::apply(p->fn, p->args);
    }
    static void destroy(void *self)
    {
        ((baton_emu_params *)self)->~baton_emu_params();
    }
};

template <typename... P> struct baton_emu_launcher {
    void (*fn)(P...);
    baton_emu_launch_info info;

    /* Converts the arguments to the kernel's parameter types now, as a launch does, and enqueues it;
     * returns the launch's error (BATON_LAUNCH ignores it as <<<>>> does: cudaGetLastError has it). */
    template <typename... A> cudaError_t operator()(A &&...a) const
    {
        static_assert(sizeof...(A) == sizeof...(P), "kernel launched with the wrong number of arguments");
        typedef baton_emu_params<P...> params;
        void *mem = baton_emu_param_alloc(sizeof(params));
        new (mem) params{fn, std::tuple<typename std::decay<P>::type...>(std::forward<A>(a)...)};
        return baton_emu_launch(info, &params::run, mem, &params::destroy);
    }
};

template <typename... P>
inline baton_emu_launcher<P...> baton_emu_make_launcher(void (*fn)(P...), const char *name, const char *file,
                                                         int line, dim3 grid, dim3 block, size_t shmem,
                                                         cudaStream_t stream, int cooperative = 0)
{
    return baton_emu_launcher<P...>{fn, {(const void *)fn, name, file, line, grid, block, shmem, stream, cooperative}};
}

template <typename... P, size_t... I>
inline cudaError_t baton_emu_launch_array(void (*fn)(P...), baton_emu_launch_info info, void **args,
                                          std::index_sequence<I...>)
{
    typedef baton_emu_params<P...> params;
    void *mem = baton_emu_param_alloc(sizeof(params));
    new (mem) params{fn, std::tuple<typename std::decay<P>::type...>(
                             *(const typename std::decay<P>::type *)args[I]...)};
    return baton_emu_launch(info, &params::run, mem, &params::destroy);
}

/* cudaLaunchCooperativeKernel: all blocks resident at once, so this_grid().sync() may be called. */
template <typename... P>
inline cudaError_t cudaLaunchCooperativeKernel(void (*fn)(P...), dim3 grid, dim3 block, void **args,
                                               size_t shmem = 0, cudaStream_t stream = 0,
                                               const char *file = __builtin_FILE(), int line = __builtin_LINE())
{
    baton_emu_launch_info info = {(const void *)fn, "cooperative kernel", file, line, grid, block, shmem, stream, 1};
    return baton_emu_launch_array(fn, info, args, std::index_sequence_for<P...>{});
}

template <typename... P>
inline cudaError_t cudaLaunchKernel(void (*fn)(P...), dim3 grid, dim3 block, void **args, size_t shmem = 0,
                                    cudaStream_t stream = 0, const char *file = __builtin_FILE(),
                                    int line = __builtin_LINE())
{
    baton_emu_launch_info info = {(const void *)fn, "kernel", file, line, grid, block, shmem, stream, 0};
    return baton_emu_launch_array(fn, info, args, std::index_sequence_for<P...>{});
}

template <typename... P> inline cudaError_t cudaFuncSetAttribute(void (*fn)(P...), cudaFuncAttribute attr, int value)
{
    return cudaFuncSetAttribute((const void *)fn, attr, value);
}

template <typename... P>
inline cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int *n, void (*fn)(P...), int block_size, size_t dyn_smem)
{
    return cudaOccupancyMaxActiveBlocksPerMultiprocessor(n, (const void *)fn, block_size, dyn_smem);
}

#endif
