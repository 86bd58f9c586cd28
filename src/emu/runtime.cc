/* runtime.cc: the CUDA runtime API of the emulation: errors, the device, memory and copies, and
 * kernel launches; and the counters of what a program issues.
 *
 * The emulated device is an H100 SXM as far as limits go (132 SMs, 1024 threads a block, 48 KiB
 * of shared memory without opt-in, 227 KiB with), with BATON_EMU_MEMORY_MB of memory. Its name
 * says it is an emulation, so logs never pass it off as a GPU.
 *
 * Copies follow CUDA's rules on when the host waits: cudaMemcpy waits; cudaMemcpyAsync from
 * pageable host memory takes the bytes at the call, into pageable memory it waits, and with
 * pinned memory (cudaMallocHost) it is truly asynchronous, so reading its destination before a
 * synchronisation reads what was there before. A copy or memset in the wrong direction, or past
 * the end of an allocation, is an error that names the allocation. */
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "baton_emu_device.h"
#include "emu_internal.h"

namespace baton_emu {

std::recursive_mutex api_mutex;
baton_emu_counters counters;
static cudaError_t last_error = cudaSuccess, sticky = cudaSuccess;
static int expect_errors = 0;

static void at_exit()
{
    if (std::getenv("BATON_EMU_STATS") && std::strcmp(std::getenv("BATON_EMU_STATS"), "0"))
        baton_emu_counters_print("baton-emu counters at exit");
    if (counters.errors && !expect_errors && opts().error_exitcode) {
        std::fprintf(stderr, "baton-emu: %llu error(s) reported: exit status %d\n",
                     (unsigned long long)counters.errors, opts().error_exitcode);
        std::fflush(nullptr);
        _Exit(opts().error_exitcode);
    }
}

const options &opts()
{
    static options o;
    static bool ready = false;
    if (ready)
        return o;
    ready = true;
    o.schedules = 0;
    const char *s = std::getenv("BATON_EMU_SCHEDULES");
    std::string list = s && *s ? s : "forward,reverse,random,warp";
    static const char *const names[] = {"forward", "reverse", "random", "warp"};
    size_t at = 0;
    while (at <= list.size()) {
        size_t comma = list.find(',', at);
        std::string name = list.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
        bool found = false;
        for (int i = 0; i < 4; i++)
            if (name == names[i]) {
                o.schedules |= 1u << i;
                found = true;
            }
        if (!found) {
            std::fprintf(stderr, "baton-emu: BATON_EMU_SCHEDULES: unknown schedule '%s'; expected a comma-separated "
                                 "list of forward, reverse, random, warp\n", name.c_str());
            std::exit(2);
        }
        if (comma == std::string::npos)
            break;
        at = comma + 1;
    }
    const char *seed = std::getenv("BATON_EMU_SEED");
    o.seed = seed ? std::strtoull(seed, nullptr, 10) : 1;
    const char *mb = std::getenv("BATON_EMU_MEMORY_MB");
    o.memory_bytes = (size_t)(mb ? std::strtoull(mb, nullptr, 10) : 4096) << 20;
    if (o.memory_bytes < (64u << 20))
        o.memory_bytes = 64u << 20;
    const char *ec = std::getenv("BATON_EMU_ERROR_EXITCODE");
    o.error_exitcode = ec ? std::atoi(ec) : 1;
    const char *ex = std::getenv("BATON_EMU_EXECUTE");
    if (ex && *ex && std::strcmp(ex, "count") != 0 && std::strcmp(ex, "all") != 0) {
        std::fprintf(stderr, "baton-emu: BATON_EMU_EXECUTE: '%s', expected all or count\n", ex);
        std::exit(2);
    }
    o.count_only = ex && std::strcmp(ex, "count") == 0;
    std::atexit(at_exit);
    return o;
}

void report(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    std::fprintf(stderr, "baton-emu: error: ");
    std::vfprintf(stderr, fmt, ap);
    std::fprintf(stderr, "\n");
    va_end(ap);
    counters.errors++;
}

cudaError_t set_error(cudaError_t e)
{
    if (e != cudaSuccess)
        last_error = e;
    return e;
}

void set_sticky(cudaError_t e)
{
    if (sticky == cudaSuccess)
        sticky = e;
    last_error = e;
}

cudaError_t sticky_error()
{
    return sticky;
}

} // namespace baton_emu

using namespace baton_emu;

#define ENTER()                                                                                     \
    std::lock_guard<std::recursive_mutex> lock_(api_mutex);                                         \
    mem_init()
/* After a fault the context is lost: every call that uses the device returns the fault. */
#define ENTER_DEVICE()                                                                              \
    ENTER();                                                                                        \
    if (sticky != cudaSuccess)                                                                      \
    return sticky

/* ---- errors ---- */

cudaError_t cudaGetLastError(void)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    cudaError_t e = last_error;
    last_error = sticky;
    return e;
}

cudaError_t cudaPeekAtLastError(void)
{
    return last_error;
}

struct error_text {
    cudaError_t e;
    const char *name, *text;
};
static const error_text error_texts[] = {
    {cudaSuccess, "cudaSuccess", "no error"},
    {cudaErrorInvalidValue, "cudaErrorInvalidValue", "invalid argument"},
    {cudaErrorMemoryAllocation, "cudaErrorMemoryAllocation", "out of memory"},
    {cudaErrorInitializationError, "cudaErrorInitializationError", "initialization error"},
    {cudaErrorInvalidConfiguration, "cudaErrorInvalidConfiguration", "invalid configuration argument"},
    {cudaErrorInvalidPitchValue, "cudaErrorInvalidPitchValue", "invalid pitch argument"},
    {cudaErrorInvalidDevicePointer, "cudaErrorInvalidDevicePointer", "invalid device pointer"},
    {cudaErrorInvalidMemcpyDirection, "cudaErrorInvalidMemcpyDirection", "invalid copy direction for memcpy"},
    {cudaErrorInvalidDeviceFunction, "cudaErrorInvalidDeviceFunction", "invalid device function"},
    {cudaErrorNoDevice, "cudaErrorNoDevice", "no CUDA-capable device is detected"},
    {cudaErrorInvalidDevice, "cudaErrorInvalidDevice", "invalid device ordinal"},
    {cudaErrorInvalidResourceHandle, "cudaErrorInvalidResourceHandle", "invalid resource handle"},
    {cudaErrorIllegalState, "cudaErrorIllegalState", "the operation cannot be performed in the present state"},
    {cudaErrorNotReady, "cudaErrorNotReady", "device not ready"},
    {cudaErrorIllegalAddress, "cudaErrorIllegalAddress", "an illegal memory access was encountered"},
    {cudaErrorLaunchOutOfResources, "cudaErrorLaunchOutOfResources", "too many resources requested for launch"},
    {cudaErrorAssert, "cudaErrorAssert", "device-side assert triggered"},
    {cudaErrorIllegalInstruction, "cudaErrorIllegalInstruction", "an illegal instruction was encountered"},
    {cudaErrorMisalignedAddress, "cudaErrorMisalignedAddress", "misaligned address"},
    {cudaErrorLaunchFailure, "cudaErrorLaunchFailure", "unspecified launch failure"},
    {cudaErrorCooperativeLaunchTooLarge, "cudaErrorCooperativeLaunchTooLarge",
     "too many blocks in cooperative launch"},
    {cudaErrorStreamCaptureUnsupported, "cudaErrorStreamCaptureUnsupported",
     "operation not permitted when stream is capturing"},
    {cudaErrorStreamCaptureInvalidated, "cudaErrorStreamCaptureInvalidated",
     "operation failed due to a previous error during capture"},
    {cudaErrorStreamCaptureUnmatched, "cudaErrorStreamCaptureUnmatched", "capture was not initiated in this stream"},
    {cudaErrorStreamCaptureImplicit, "cudaErrorStreamCaptureImplicit",
     "operation would make the legacy stream depend on a capturing blocking stream"},
};

static const error_text *find_error(cudaError_t e)
{
    for (const auto &t : error_texts)
        if (t.e == e)
            return &t;
    return nullptr;
}

const char *cudaGetErrorString(cudaError_t e)
{
    const error_text *t = find_error(e);
    return t ? t->text : "unknown error";
}

const char *cudaGetErrorName(cudaError_t e)
{
    const error_text *t = find_error(e);
    return t ? t->name : "cudaErrorUnknown";
}

/* ---- the device ---- */

static const char DEVICE_NAME[] = "baton CUDA emulator on the CPU (H100 limits)";

cudaError_t cudaGetDeviceCount(int *count)
{
    ENTER();
    if (!count)
        return set_error(cudaErrorInvalidValue);
    *count = 1;
    return cudaSuccess;
}

cudaError_t cudaGetDevice(int *device)
{
    ENTER();
    if (!device)
        return set_error(cudaErrorInvalidValue);
    *device = 0;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device)
{
    ENTER();
    return set_error(device == 0 ? cudaSuccess : cudaErrorInvalidDevice);
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int device)
{
    ENTER();
    if (!p || device != 0)
        return set_error(device != 0 ? cudaErrorInvalidDevice : cudaErrorInvalidValue);
    std::memset(p, 0, sizeof *p);
    std::snprintf(p->name, sizeof p->name, "%s", DEVICE_NAME);
    p->totalGlobalMem = dev_size;
    p->sharedMemPerBlock = 48 * 1024;
    p->sharedMemPerBlockOptin = 227 * 1024;
    p->sharedMemPerMultiprocessor = 228 * 1024;
    p->regsPerBlock = 65536;
    p->warpSize = 32;
    p->maxThreadsPerBlock = 1024;
    p->maxThreadsDim[0] = p->maxThreadsDim[1] = 1024;
    p->maxThreadsDim[2] = 64;
    p->maxGridSize[0] = 2147483647;
    p->maxGridSize[1] = p->maxGridSize[2] = 65535;
    p->maxThreadsPerMultiProcessor = 2048;
    p->multiProcessorCount = 132;
    p->major = 9;
    p->minor = 0;
    p->cooperativeLaunch = 1;
    p->l2CacheSize = 50 * 1024 * 1024;
    p->memoryBusWidth = 5120;
    return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device)
{
    cudaDeviceProp p;
    cudaError_t e = cudaGetDeviceProperties(&p, device);
    if (e != cudaSuccess || !value)
        return set_error(e != cudaSuccess ? e : cudaErrorInvalidValue);
    switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = p.maxThreadsPerBlock; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = (int)p.sharedMemPerBlock; break;
    case cudaDevAttrWarpSize: *value = 32; break;
    case cudaDevAttrClockRate: *value = 1980000; break;       /* kHz, an H100 SXM's boost clock */
    case cudaDevAttrMultiProcessorCount: *value = p.multiProcessorCount; break;
    case cudaDevAttrMemoryClockRate: *value = 2619000; break; /* kHz */
    case cudaDevAttrGlobalMemoryBusWidth: *value = p.memoryBusWidth; break;
    case cudaDevAttrL2CacheSize: *value = p.l2CacheSize; break;
    case cudaDevAttrMaxThreadsPerMultiProcessor: *value = p.maxThreadsPerMultiProcessor; break;
    case cudaDevAttrComputeCapabilityMajor: *value = p.major; break;
    case cudaDevAttrComputeCapabilityMinor: *value = p.minor; break;
    case cudaDevAttrCooperativeLaunch: *value = 1; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = (int)p.sharedMemPerBlockOptin; break;
    default: return set_error(cudaErrorInvalidValue);
    }
    return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void)
{
    ENTER_DEVICE();
    return set_error(device_sync("cudaDeviceSynchronize"));
}

cudaError_t cudaDeviceReset(void)
{
    ENTER();
    device_sync("cudaDeviceReset");
    sticky = last_error = cudaSuccess;
    return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int *version)
{
    if (!version)
        return set_error(cudaErrorInvalidValue);
    *version = CUDART_VERSION;
    return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int *version)
{
    if (!version)
        return set_error(cudaErrorInvalidValue);
    *version = CUDART_VERSION;
    return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes)
{
    ENTER_DEVICE();
    if (!free_bytes || !total_bytes)
        return set_error(cudaErrorInvalidValue);
    *total_bytes = dev_size;
    *free_bytes = dev_size - mem_in_use();
    return cudaSuccess;
}

/* ---- memory ---- */

cudaError_t cudaMalloc(void **ptr, size_t bytes)
{
    ENTER_DEVICE();
    if (!ptr)
        return set_error(cudaErrorInvalidValue);
    cudaError_t e = capture_forbids_sync(cudaStreamLegacy, "cudaMalloc");
    if (e != cudaSuccess)
        return set_error(e);
    *ptr = mem_alloc(bytes);
    if (!*ptr)
        return set_error(cudaErrorMemoryAllocation);
    counters.allocations++;
    counters.bytes_allocated += bytes;
    return cudaSuccess;
}

cudaError_t cudaFree(void *ptr)
{
    ENTER();
    if (!ptr)
        return cudaSuccess;
    cudaError_t e = capture_forbids_sync(cudaStreamLegacy, "cudaFree");
    if (e != cudaSuccess)
        return set_error(e);
    device_sync("cudaFree"); /* cudaFree waits for the device: the memory may still be in use */
    if (!mem_free(ptr)) {
        report("cudaFree(%p): not a live device allocation (%s)", ptr, mem_describe((uintptr_t)ptr).c_str());
        return set_error(cudaErrorInvalidValue);
    }
    counters.frees++;
    return sticky;
}

/* Where a pointer of a copy lives, as the direction requires. */
static bool check_side(const char *api, const char *role, const void *p, size_t n, bool device, cudaMemcpyKind kind)
{
    static const char *const kinds[] = {"cudaMemcpyHostToHost", "cudaMemcpyHostToDevice", "cudaMemcpyDeviceToHost",
                                        "cudaMemcpyDeviceToDevice", "cudaMemcpyDefault"};
    if (!device) {
        if (mem_in_device(p)) {
            report("%s(%s): the %s %p is device memory (%s) but the direction says host: a copy in the wrong "
                   "direction?", api, kinds[kind], role, p, mem_describe((uintptr_t)p).c_str());
            return false;
        }
        return true;
    }
    std::string why;
    if (!mem_in_device(p)) {
        report("%s(%s): the %s %p is host memory but the direction says device: a copy in the wrong direction?", api,
               kinds[kind], role, p);
        return false;
    }
    if (!mem_range_ok(p, n, &why)) {
        report("%s(%s) of %zu bytes: the %s %p: %s", api, kinds[kind], n, role, p, why.c_str());
        return false;
    }
    return true;
}

/* Validates a copy; on success *kind is the resolved direction. */
static cudaError_t check_copy(const char *api, void *dst, const void *src, size_t n, cudaMemcpyKind *kind)
{
    if ((unsigned)*kind > cudaMemcpyDefault)
        return cudaErrorInvalidMemcpyDirection;
    if (n == 0)
        return cudaSuccess;
    if (!dst || !src)
        return cudaErrorInvalidValue;
    if (*kind == cudaMemcpyDefault)
        *kind = (cudaMemcpyKind)((mem_in_device(src) ? 2 : 0) + (mem_in_device(dst) ? 1 : 0));
    bool src_dev = *kind == cudaMemcpyDeviceToHost || *kind == cudaMemcpyDeviceToDevice;
    bool dst_dev = *kind == cudaMemcpyHostToDevice || *kind == cudaMemcpyDeviceToDevice;
    if (!check_side(api, "source", src, n, src_dev, *kind) || !check_side(api, "destination", dst, n, dst_dev, *kind))
        return cudaErrorInvalidValue;
    return cudaSuccess;
}

static void count_copy(cudaMemcpyKind kind, size_t n)
{
    counters.copies++;
    if (kind == cudaMemcpyHostToDevice)
        counters.bytes_h2d += n;
    else if (kind == cudaMemcpyDeviceToHost)
        counters.bytes_d2h += n;
    else if (kind == cudaMemcpyDeviceToDevice)
        counters.bytes_d2d += n;
}

static cudaError_t copy(const char *api, void *dst, const void *src, size_t n, cudaMemcpyKind kind,
                        cudaStream_t stream, bool blocking)
{
    cudaError_t e = check_copy(api, dst, src, n, &kind);
    if (e != cudaSuccess || n == 0)
        return set_error(e);
    if (!stream_valid(stream))
        return set_error(cudaErrorInvalidResourceHandle);
    bool wait = blocking || (kind == cudaMemcpyDeviceToHost && !host_is_pinned(dst));
    if (wait && (e = capture_forbids_sync(stream, api)) != cudaSuccess)
        return set_error(e);
    std::function<void()> work;
    if (kind == cudaMemcpyHostToDevice && !host_is_pinned(src) && !blocking) {
        /* pageable source: staged at the call, so the caller may reuse its buffer at once */
        auto staged = std::make_shared<std::vector<char>>((const char *)src, (const char *)src + n);
        work = [dst, staged, n, kind]() {
            count_copy(kind, n);
            std::memcpy(dst, staged->data(), n);
        };
    } else {
        work = [dst, src, n, kind]() {
            count_copy(kind, n); /* counted when run, so graph replays count too */
            std::memmove(dst, src, n);
        };
    }
    if ((e = enqueue(stream, api, std::move(work))) != cudaSuccess)
        return set_error(e);
    return wait ? set_error(stream_sync(stream, api)) : cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind)
{
    ENTER_DEVICE();
    return copy("cudaMemcpy", dst, src, bytes, kind, cudaStreamLegacy, true);
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream)
{
    ENTER_DEVICE();
    return copy("cudaMemcpyAsync", dst, src, bytes, kind, stream, false);
}

static cudaError_t fill(const char *api, void *ptr, int value, size_t n, cudaStream_t stream)
{
    if (n == 0)
        return cudaSuccess;
    std::string why;
    if (!mem_in_device(ptr) || !mem_range_ok(ptr, n, &why)) {
        report("%s(%p, %d, %zu): %s", api, ptr, value, n,
               mem_in_device(ptr) ? why.c_str() : "host memory, not a device allocation");
        return set_error(cudaErrorInvalidValue);
    }
    return set_error(enqueue(stream, api, [ptr, value, n]() {
        counters.bytes_memset += n;
        std::memset(ptr, value, n);
    }));
}

cudaError_t cudaMemset(void *ptr, int value, size_t bytes)
{
    ENTER_DEVICE();
    return fill("cudaMemset", ptr, value, bytes, cudaStreamLegacy);
}

cudaError_t cudaMemsetAsync(void *ptr, int value, size_t bytes, cudaStream_t stream)
{
    ENTER_DEVICE();
    return fill("cudaMemsetAsync", ptr, value, bytes, stream);
}

/* ---- launches ---- */

cudaError_t baton_emu_launch(const baton_emu_launch_info &info, baton_emu_body run, void *params,
                             void (*destroy)(void *))
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    mem_init();
    auto l = std::make_shared<launch>();
    l->info = info;
    l->body = run;
    l->params = std::shared_ptr<void>(params, [destroy](void *p) {
        destroy(p);
        param_free(p);
    });
    if (sticky != cudaSuccess)
        return set_error(sticky);
    cudaError_t e = launch_check(*l);
    if (e != cudaSuccess)
        return set_error(e);
    counters.kernel_launches++;
    e = enqueue(info.stream, "kernel launch", [l]() {
        cudaError_t r = launch_run(*l);
        if (r != cudaSuccess)
            set_sticky(r);
    });
    return set_error(e);
}

/* ---- baton_emu.h ---- */

int baton_emu_executes(void)
{
    return !opts().count_only;
}

void baton_emu_counters_get(baton_emu_counters *c)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    *c = counters;
}

void baton_emu_counters_reset(void)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    uint64_t errors = counters.errors;
    std::memset(&counters, 0, sizeof counters);
    counters.errors = errors;
}

void baton_emu_counters_print(const char *title)
{
    baton_emu_counters c;
    baton_emu_counters_get(&c);
    std::fprintf(stderr,
                 "%s\n"
                 "  kernel launches %llu (grids run %llu, graph launches %llu)\n"
                 "  GEMM calls fp32 %llu, tf32 %llu, bf16 %llu; GFLOP fp32 %.3f, tf32 %.3f, bf16 %.3f\n"
                 "  library calls %llu\n"
                 "  copies %llu: MiB host->device %.2f, device->host %.2f, device->device %.2f; memset MiB %.2f\n"
                 "  MiB through global memory: kernels %.2f, GEMM operands %.2f\n"
                 "  host synchronisations %llu; allocations %llu (%.2f MiB), frees %llu; errors %llu\n",
                 title, (unsigned long long)c.kernel_launches, (unsigned long long)c.kernels_run,
                 (unsigned long long)c.graph_launches, (unsigned long long)c.gemm_calls[0],
                 (unsigned long long)c.gemm_calls[1], (unsigned long long)c.gemm_calls[2], c.gemm_flops[0] / 1e9,
                 c.gemm_flops[1] / 1e9, c.gemm_flops[2] / 1e9, (unsigned long long)c.library_calls,
                 (unsigned long long)c.copies, c.bytes_h2d / 1048576.0, c.bytes_d2h / 1048576.0,
                 c.bytes_d2d / 1048576.0, c.bytes_memset / 1048576.0, c.kernel_bytes / 1048576.0,
                 c.gemm_bytes / 1048576.0, (unsigned long long)c.host_syncs,
                 (unsigned long long)c.allocations, c.bytes_allocated / 1048576.0, (unsigned long long)c.frees,
                 (unsigned long long)c.errors);
}

const char *baton_emu_describe(void)
{
    return "CUDA emulation on the CPU: every kernel runs with CUDA's execution model under the schedules of "
           "BATON_EMU_SCHEDULES, with memory, barrier and race checks; timings are not GPU timings";
}

void baton_emu_expect_errors(int on)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    expect_errors = on;
}
