/* device.cc: the device side of the emulation: what kernel code calls (__syncthreads, warp
 * collectives, the grid barrier, shared memory, __trap, clock), the kernel attributes the runtime
 * asks about, and the checks behind every load and store of a kernel (exec.cc's header says what
 * they accept). */
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "baton_emu_device.h"
#include "exec_internal.h"

namespace baton_emu {

/* ---- memory checks ---- */

static void bad_access(ethread *t, uintptr_t a, size_t n, bool write, const char *what)
{
    fault(t, cudaErrorIllegalAddress, "invalid %s of %zu bytes at %p: %s", write ? "write" : "read", n, (void *)a,
          what);
}

static inline void check(uintptr_t a, size_t n, bool write)
{
    ethread *t = cur;
    uintptr_t off = a - dev_base;
    if (off < dev_size) {
        if (!t) {
            report("host code %s device memory at %p (%s): device memory is reachable only by kernels and "
                   "cudaMemcpy", write ? "wrote" : "read", (void *)a, mem_describe(a).c_str());
            std::fflush(stderr);
            std::abort();
        }
        size_t g0 = off >> 3, g1 = (off + n - 1) >> 3;
        for (size_t gi = g0; gi <= g1; gi++) {
            uint8_t sh = dev_shadow[gi];
            size_t last = gi == g1 ? ((off + n - 1) & 7) : 7;
            if (sh == 0 || sh > 8 || last >= sh) {
                bad_access(t, a, n, write, mem_describe(a + (gi == g0 ? 0 : (gi << 3) - off)).c_str());
                return;
            }
        }
        if ((n == 2 || n == 4 || n == 8 || n == 16) && (a & (n - 1))) {
            fault(t, cudaErrorMisalignedAddress, "misaligned %s of %zu bytes at %p", write ? "write" : "read", n,
                  (void *)a);
            return;
        }
        /* loads too: gcc checks a read-modify-write (x[i] += v) once, as a load, so a store may
         * arrive here as the load before it */
        if (log_active)
            log_touch(off, n);
        if (count_bytes)
            counters.kernel_bytes += n;
        preempt(t);
        return;
    }
    if (!t)
        return;
    if (a - (uintptr_t)t->f->stack < t->f->stack_bytes || a - (uintptr_t)&t->bi < sizeof t->bi ||
        a - (uintptr_t)&baton_emu_bi < sizeof baton_emu_bi || param_contains(a, n))
        return;
    if (a - (uintptr_t)shared_base < shared_slots * SHARED_SLOT) {
        block *b = t->blk;
        if (a < (uintptr_t)b->shared || a + n > (uintptr_t)b->shared + b->shared_used) {
            char buf[160];
            std::snprintf(buf, sizeof buf, "shared memory out of bounds (byte %lld of the block's %zu bytes)",
                          (long long)(a - (uintptr_t)b->shared), b->shared_used);
            bad_access(t, a, n, write, buf);
            return;
        }
        if ((n == 2 || n == 4 || n == 8 || n == 16) && (a & (n - 1))) {
            fault(t, cudaErrorMisalignedAddress, "misaligned shared-memory access of %zu bytes at %p", n, (void *)a);
            return;
        }
        preempt(t);
        return;
    }
    for (auto &r : image)
        if (a >= r.first && a + n <= r.second)
            return;
    if (host_is_pinned((const void *)a) && host_is_pinned((const void *)(a + n - 1)))
        return; /* pinned memory is mapped into the device's address space (zero-copy) */
    bad_access(t, a, n, write, "host memory, not device memory: a host pointer handed to a kernel?");
}

} // namespace baton_emu

using namespace baton_emu;

/* ---- the device side's entry points (baton_emu_device.h) ---- */

extern "C" void baton_emu_syncthreads(const char *file, int line)
{
    ethread *t = cur;
    block *b = t->blk;
    if (b->at_barrier > 0 && !same_site(b->bfile, b->bline, file, line)) {
        fault(t, cudaErrorLaunchFailure, "divergent __syncthreads: this thread waits at %s:%d while others wait at "
              "%s:%d", file, line, b->bfile, b->bline);
        return;
    }
    if (b->at_barrier == 0) {
        b->bfile = file;
        b->bline = line;
    }
    t->state = T_BARRIER;
    t->file = file;
    t->line = line;
    b->at_barrier++;
    release_barrier(b);
    suspend(t);
}

extern "C" uint64_t baton_emu_warp_op(int op, unsigned mask, uint64_t bits, int arg, int width, const char *file,
                                      int line)
{
    ethread *t = cur;
    block *b = t->blk;
    if (width < 1 || width > 32 || (width & (width - 1))) {
        fault(t, cudaErrorLaunchFailure, "%s at %s:%d: width %d, expected a power of 2 up to 32", op_name(op), file,
              line, width);
        return 0;
    }
    if (!(mask >> t->lane & 1)) {
        fault(t, cudaErrorLaunchFailure, "%s at %s:%d: the calling lane %u is not in its mask 0x%08x", op_name(op),
              file, line, t->lane, mask);
        return 0;
    }
    warp_info &w = b->warps[t->warp];
    if (unsigned missing = mask & ~w.exists) {
        fault(t, cudaErrorLaunchFailure, "%s at %s:%d: mask 0x%08x names lane %d, which does not exist (the block "
              "has %zu threads)", op_name(op), file, line, mask, __builtin_ctz(missing), b->th.size());
        return 0;
    }
    if (unsigned gone = mask & w.exited) {
        fault(t, cudaErrorLaunchFailure, "%s at %s:%d: mask 0x%08x names lane %d, which has exited", op_name(op),
              file, line, mask, __builtin_ctz(gone));
        return 0;
    }
    /* every lane already waiting that this call names, or that names this lane, must be in this very
     * call; the common case, the lanes arriving one by one at the collective begun, is one compare */
    bool joins = (w.waiting & w.mask) && w.op == op && w.mask == mask && same_site(w.file, w.line, file, line);
    for (unsigned waiting = joins ? 0 : w.waiting; waiting; waiting &= waiting - 1) {
        ethread *o = lane_thread(b, t->warp, (unsigned)__builtin_ctz(waiting));
        if (!((mask >> o->lane & 1) || (o->mask >> t->lane & 1)))
            continue;
        if (o->op != op || o->mask != mask || !same_site(o->file, o->line, file, line)) {
            fault(t, cudaErrorLaunchFailure, "divergent warp: this lane calls %s at %s:%d with mask 0x%08x while lane "
                  "%u waits in %s at %s:%d with mask 0x%08x", op_name(op), file, line, mask, o->lane, op_name(o->op),
                  o->file, o->line, o->mask);
            return 0;
        }
    }
    t->state = T_WARP;
    t->op = op;
    t->mask = mask;
    t->value = bits;
    t->arg = arg;
    t->width = width;
    t->file = file;
    t->line = line;
    if (!joins) {
        w.op = op;
        w.mask = mask;
        w.file = file;
        w.line = line;
    }
    w.waiting |= 1u << t->lane;
    try_complete_warp(t);
    suspend(t);
    return t->result;
}

extern "C" void baton_emu_grid_sync(const char *file, int line)
{
    ethread *t = cur;
    if (!G->l->info.cooperative) {
        fault(t, cudaErrorLaunchFailure, "grid sync at %s:%d in a kernel not launched with "
              "cudaLaunchCooperativeKernel (on a GPU: a deadlock or an error)", file, line);
        return;
    }
    t->state = T_GRID;
    t->file = file;
    t->line = line;
    G->at_grid++;
    release_grid();
    suspend(t);
}

extern "C" void *baton_emu_shared_static(const baton_emu_shared_site *site)
{
    ethread *t = cur;
    kernel_facts *kf = G->kf;
    auto it = kf->sites.find(site);
    size_t base = (G->l->info.shmem + 15) / 16 * 16;
    if (it == kf->sites.end()) {
        size_t off = (kf->static_bytes + site->align - 1) / site->align * site->align;
        if (off + site->bytes > STATIC_SHARED_LIMIT || base + off + site->bytes > OPTIN_SHARED_LIMIT) {
            fault(t, cudaErrorInvalidValue, "static shared memory grows to %zu bytes (+%zu dynamic): at most 48 KiB "
                  "static, 227 KiB in all", off + site->bytes, G->l->info.shmem);
            return nullptr;
        }
        it = kf->sites.emplace(site, off).first;
        kf->static_bytes = off + site->bytes;
        /* the first launch learns its static arrays as it meets them: extend and poison every
         * resident block's shared memory */
        for (block *b : G->resident) {
            size_t used = base + kf->static_bytes;
            if (used > b->shared_used) {
                std::memset(b->shared + b->shared_used, shared_poison[G->schedule], used - b->shared_used);
                b->shared_used = used;
            }
        }
    }
    return t->blk->shared + base + it->second;
}

extern "C" void *baton_emu_shared_dynamic(void)
{
    return cur->blk->shared;
}

extern "C" unsigned baton_emu_active_mask(void)
{
    const warp_info &w = cur->blk->warps[cur->warp];
    return w.exists & ~w.exited;
}

extern "C" void baton_emu_trap(const char *file, int line)
{
    fault(cur, cudaErrorIllegalInstruction, "__trap() at %s:%d", file, line);
}

extern "C" long long baton_emu_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

cudaError_t cudaFuncSetAttribute(const void *func, cudaFuncAttribute attr, int value)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize)
        return set_error(cudaErrorInvalidValue);
    kernel_facts &kf = facts[func];
    if (value < 0 || (size_t)value + kf.static_bytes > OPTIN_SHARED_LIMIT)
        return set_error(cudaErrorInvalidValue);
    kf.dyn_limit = value;
    return cudaSuccess;
}

/* Blocks of `func` resident on one SM at once: the same limits as a cooperative launch's check in
 * launch_check (threads, shared memory with its 1 KiB per-block reserve, 32 blocks); registers are
 * not modelled. */
cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int *n, const void *func, int block_size, size_t dyn_smem)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    if (!n || block_size <= 0)
        return set_error(cudaErrorInvalidValue);
    size_t smem = facts[func].static_bytes + dyn_smem;
    unsigned per_sm = std::min(MAX_BLOCKS_PER_SM, MAX_THREADS_PER_SM / (unsigned)block_size);
    if (smem)
        per_sm = smem > OPTIN_SHARED_LIMIT ? 0 : std::min(per_sm, (unsigned)(228 * 1024 / (smem + 1024)));
    *n = (int)per_sm;
    return cudaSuccess;
}

/* ---- the instrumentation's callbacks (-fsanitize=kernel-address, outline mode) ---- */
#define BATON_EMU_CHECKS(n)                                                                          \
    extern "C" void __asan_load##n##_noabort(uintptr_t a) { check(a, n, false); }                   \
    extern "C" void __asan_store##n##_noabort(uintptr_t a) { check(a, n, true); }
BATON_EMU_CHECKS(1)
BATON_EMU_CHECKS(2)
BATON_EMU_CHECKS(4)
BATON_EMU_CHECKS(8)
BATON_EMU_CHECKS(16)
#undef BATON_EMU_CHECKS
extern "C" void __asan_loadN_noabort(uintptr_t a, size_t n)
{
    if (n)
        check(a, n, false);
}
extern "C" void __asan_storeN_noabort(uintptr_t a, size_t n)
{
    if (n)
        check(a, n, true);
}
#ifndef __SANITIZE_ADDRESS__ /* under -fsanitize=address the ASan runtime has these, and needs its own */
extern "C" void __asan_handle_no_return(void) {}
/* static initialisers of instrumented files announce themselves; the emulation checks no init order */
extern "C" void __asan_before_dynamic_init(const char *) {}
extern "C" void __asan_after_dynamic_init(void) {}
#endif
