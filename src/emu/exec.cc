/* exec.cc: running a grid with CUDA's execution model, and the checks compute-sanitizer makes.
 *
 * Every thread of a block is a fiber. A thread runs until it reaches a barrier (__syncthreads),
 * a warp collective (shuffle, vote, __syncwarp) or the grid barrier of a cooperative launch, or
 * exits; the scheduler then runs another. __syncthreads releases when every live thread of the
 * block waits at the same barrier (exited threads no longer count, as on sm_70 and later); a
 * warp collective completes when every lane its mask names has arrived with the same mask at the
 * same call; the grid barrier when every live thread of the grid waits there. Threads waiting at
 * different barriers, masks naming lanes that do not exist or have exited, and waits that can
 * never complete are reported with the kernel, block, thread and source line.
 *
 * Blocks run one at a time, except in a cooperative launch, where the whole grid is resident (and
 * must fit on an H100, as cudaLaunchCooperativeKernel demands). Each block's shared memory is its
 * own and is poisoned when the block starts.
 *
 * Schedules. Each launch runs under every schedule of BATON_EMU_SCHEDULES, from the same memory:
 *   forward  blocks in order; threads in order, each running until it blocks;
 *   reverse  blocks and threads in reverse order;
 *   random   blocks in a seeded random order; a random runnable thread next, preempted at random
 *            memory accesses;
 *   warp     warps in reverse order, each running ahead to its next barrier, its lanes in
 *            lockstep (switching lane after every memory access), as a GPU runs a warp.
 * The results must be the same to the bit (memory.cc's access log undoes a run and compares); a
 * difference is a race, or a read of memory nobody wrote (shared memory is poisoned with a
 * different byte under each schedule, device memory with 0xff when allocated).
 *
 * Memory checks. The kernel sources are compiled with -fsanitize=kernel-address in outline mode,
 * so every load and store calls __asan_{load,store}N_noabort below. An access is valid when it
 * falls inside a live device allocation (to the byte, memory.cc's shadow), the running block's
 * shared memory, the thread's own stack, the launch's parameters, or the program's static data.
 * Anything else is host memory: a host pointer handed to a kernel. Accesses must be aligned to
 * their size. A faulting launch stops there and leaves cudaErrorIllegalAddress (or
 * cudaErrorMisalignedAddress) sticky, as a GPU does. */
#include <link.h>
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "baton_emu_device.h"
#include "emu_internal.h"
#include "fiber.h"

__thread const baton_emu_builtins *baton_emu_bi = nullptr;

namespace baton_emu {

enum { S_FORWARD, S_REVERSE, S_RANDOM, S_WARP, N_SCHEDULES };
static const char *const schedule_names[N_SCHEDULES] = {"forward", "reverse", "random", "warp"};
static const uint8_t shared_poison[N_SCHEDULES] = {0xff, 0x7f, 0xa5, 0x5a};

/* ---- limits of the emulated device: an H100 SXM ---- */
static const unsigned SMS = 132, MAX_BLOCKS_PER_SM = 32, MAX_THREADS_PER_SM = 2048;
static const size_t STATIC_SHARED_LIMIT = 48 * 1024, OPTIN_SHARED_LIMIT = 227 * 1024;
static const size_t SHARED_SLOT = 256 * 1024;

/* ---- kernel attributes: opt-in shared memory and the static shared arrays met so far ---- */
struct kernel_facts {
    std::unordered_map<const void *, size_t> sites; /* static shared arrays: offset of each */
    size_t static_bytes = 0;
    int dyn_limit = -1;                             /* cudaFuncAttributeMaxDynamicSharedMemorySize */
};
static std::unordered_map<const void *, kernel_facts> facts;

/* ---- one grid run ---- */
enum { T_RUN, T_BARRIER, T_WARP, T_GRID, T_DONE };

struct block;
struct ethread {
    baton_emu_builtins bi;
    fiber *f;
    int state;
    const char *file; /* where it waits */
    int line;
    int op, arg, width;
    unsigned mask;
    uint64_t value, result;
    block *blk;
    unsigned tid, lane, warp;
};

/* Lanes of one warp as bit masks, so a collective's bookkeeping is a few bit operations. */
struct warp_info {
    unsigned exists, exited, waiting; /* waiting: lanes in a collective */
    int op;                           /* the collective the waiting lanes are in (the last one begun) */
    unsigned mask;
    const char *file;
    int line;
};

struct block {
    uint3 idx;
    std::vector<ethread> th;
    std::vector<warp_info> warps;
    char *shared;
    size_t shared_used;
    unsigned live, at_barrier;
    const char *bfile;
    int bline;
};

struct grid_run {
    const launch *l;
    int schedule;
    fiber_host host;
    std::vector<block *> resident;
    unsigned live, at_grid;
    bool fault;
    cudaError_t err;
    uint64_t rng;
    kernel_facts *kf;
};

static grid_run *G = nullptr;
static __thread ethread *cur __attribute__((tls_model("initial-exec"))) = nullptr;
static int preempt_mode = 0; /* the running schedule's: 0 none, 1 random, 2 every access */
static bool count_bytes = false; /* the first schedule of a run: kernel_bytes counts its accesses */
static char *shared_base = nullptr;
static size_t shared_slots = 0;
static std::vector<std::pair<uintptr_t, uintptr_t>> image; /* static data of the program */

static uint64_t next_random(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int collect_image(struct dl_phdr_info *info, size_t, void *)
{
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_LOAD) {
            uintptr_t a = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
            image.push_back({a, a + info->dlpi_phdr[i].p_memsz});
        }
    return 0;
}

static void exec_init()
{
    if (shared_base)
        return;
    shared_slots = SMS * MAX_BLOCKS_PER_SM;
    void *m = mmap(nullptr, shared_slots * SHARED_SLOT, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
        std::fprintf(stderr, "baton-emu: cannot map shared memory for the emulated blocks\n");
        std::abort();
    }
    shared_base = (char *)m;
    dl_iterate_phdr(collect_image, nullptr);
}

static std::string coords(const ethread *t)
{
    char buf[160];
    std::snprintf(buf, sizeof buf, "block (%u,%u,%u) thread (%u,%u,%u)", t->bi.block_idx.x, t->bi.block_idx.y,
                  t->bi.block_idx.z, t->bi.thread_idx.x, t->bi.thread_idx.y, t->bi.thread_idx.z);
    return buf;
}

/* Reports an error of the running grid, stops it, and never returns to the faulting thread. */
static void fault(ethread *t, cudaError_t err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fault(ethread *t, cudaError_t err, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!G->fault) {
        report("kernel %s (launched at %s:%d, grid (%u,%u,%u), block (%u,%u,%u), %s schedule)%s%s: %s",
               G->l->name.c_str(), G->l->info.file, G->l->info.line, G->l->info.grid.x, G->l->info.grid.y,
               G->l->info.grid.z, G->l->info.block.x, G->l->info.block.y, G->l->info.block.z,
               schedule_names[G->schedule], t ? " " : "", t ? coords(t).c_str() : "", msg);
        G->fault = true;
        G->err = err;
    }
    if (t && cur == t) {
        t->state = T_DONE;
        fiber_yield(&G->host, t->f);
    }
}

static void suspend(ethread *t)
{
    fiber_yield(&G->host, t->f);
    if (G->fault) /* resumed only to be abandoned: cannot happen, the scheduler stops first */
        fiber_yield(&G->host, t->f);
}

/* ---- barriers ---- */

static void release_barrier(block *b)
{
    if (b->at_barrier == 0 || b->at_barrier < b->live)
        return;
    for (auto &t : b->th)
        if (t.state == T_BARRIER)
            t.state = T_RUN;
    b->at_barrier = 0;
}

static void release_grid()
{
    if (G->at_grid == 0 || G->at_grid < G->live)
        return;
    for (block *b : G->resident)
        if (b->live == 0) {
            fault(nullptr, cudaErrorLaunchFailure,
                  "deadlock: block (%u,%u,%u) exited without reaching the grid barrier the others wait at", b->idx.x,
                  b->idx.y, b->idx.z);
            return;
        }
    for (block *b : G->resident)
        for (auto &t : b->th)
            if (t.state == T_GRID)
                t.state = T_RUN;
    G->at_grid = 0;
}

/* ---- warp collectives ---- */

static bool same_site(const char *f1, int l1, const char *f2, int l2)
{
    return l1 == l2 && (f1 == f2 || std::strcmp(f1, f2) == 0);
}

static ethread *lane_thread(block *b, unsigned warp, unsigned lane)
{
    size_t tid = (size_t)warp * 32 + lane;
    return tid < b->th.size() ? &b->th[tid] : nullptr;
}

static const char *op_name(int op)
{
    static const char *const n[] = {"__shfl_sync", "__shfl_up_sync", "__shfl_down_sync", "__shfl_xor_sync",
                                    "__ballot_sync", "__any_sync", "__all_sync", "__syncwarp"};
    return op >= 0 && op < 8 ? n[op] : "warp collective";
}

/* Completes the collective t waits at when all its lanes are there. */
static void try_complete_warp(ethread *t)
{
    block *b = t->blk;
    warp_info &w = b->warps[t->warp];
    if ((w.waiting & t->mask) != t->mask)
        return;
    uint64_t ballot = 0;
    int any = 0, all = 1;
    for (unsigned l = 0; l < 32; l++)
        if (t->mask >> l & 1) {
            int p = lane_thread(b, t->warp, l)->value != 0;
            ballot |= (uint64_t)p << l;
            any |= p;
            all &= p;
        }
    for (unsigned l = 0; l < 32; l++) {
        if (!(t->mask >> l & 1))
            continue;
        ethread *o = lane_thread(b, t->warp, l);
        unsigned w = (unsigned)t->width, base = l & ~(w - 1), src = l;
        switch (t->op) {
        case BATON_EMU_SHFL_IDX: src = base + ((unsigned)o->arg & (w - 1)); break;
        case BATON_EMU_SHFL_UP: src = l >= base + (unsigned)o->arg ? l - (unsigned)o->arg : l; break;
        case BATON_EMU_SHFL_DOWN: src = l + (unsigned)o->arg < base + w ? l + (unsigned)o->arg : l; break;
        case BATON_EMU_SHFL_XOR: src = (l ^ (unsigned)o->arg) < base + w ? l ^ (unsigned)o->arg : l; break;
        default: break;
        }
        if (t->op <= BATON_EMU_SHFL_XOR) {
            if (src >= 32 || !(t->mask >> src & 1)) {
                fault(o, cudaErrorLaunchFailure,
                      "%s at %s:%d: lane %u reads lane %u, which the mask 0x%08x leaves out (its value is "
                      "undefined on a GPU)", op_name(t->op), t->file, t->line, l, src, t->mask);
                return;
            }
            o->result = lane_thread(b, t->warp, src)->value;
        } else if (t->op == BATON_EMU_BALLOT) {
            o->result = ballot;
        } else if (t->op == BATON_EMU_ANY) {
            o->result = (uint64_t)any;
        } else if (t->op == BATON_EMU_ALL) {
            o->result = (uint64_t)all;
        }
    }
    for (unsigned l = 0; l < 32; l++)
        if (t->mask >> l & 1)
            lane_thread(b, t->warp, l)->state = T_RUN;
    w.waiting &= ~t->mask;
}

/* A lane is gone: every collective that names it can never complete. */
static void lane_exited(ethread *t)
{
    block *b = t->blk;
    warp_info &w = b->warps[t->warp];
    w.exited |= 1u << t->lane;
    for (unsigned waiting = w.waiting; waiting; waiting &= waiting - 1) {
        ethread *o = lane_thread(b, t->warp, (unsigned)__builtin_ctz(waiting));
        if (o->mask >> t->lane & 1) {
            fault(o, cudaErrorLaunchFailure, "%s at %s:%d with mask 0x%08x waits for lane %u, which has exited",
                  op_name(o->op), o->file, o->line, o->mask, t->lane);
            return;
        }
    }
}

/* ---- a thread's life ---- */

static void thread_main(void *arg)
{
    ethread *t = (ethread *)arg;
    G->l->body(G->l->params.get());
    t->state = T_DONE;
    block *b = t->blk;
    b->live--;
    G->live--;
    lane_exited(t);
    release_barrier(b);
    release_grid();
    fiber_yield(&G->host, t->f);
}

static void resume(ethread *t)
{
    if (!t->f)
        t->f = fiber_get(thread_main, t);
    cur = t;
    baton_emu_bi = &t->bi;
    fiber_resume(&G->host, t->f);
    cur = nullptr;
    baton_emu_bi = nullptr;
    if (t->state == T_DONE && t->f) {
        fiber_put(t->f);
        t->f = nullptr;
    }
}

static inline void preempt(ethread *t)
{
    if (preempt_mode && (preempt_mode == 2 || (next_random(&G->rng) & 7) == 0))
        suspend(t);
}

/* ---- block setup and scheduling ---- */

static void setup_block(block *b, unsigned linear, size_t slot)
{
    const launch &l = *G->l;
    dim3 g = l.info.grid, bd = l.info.block;
    b->idx = uint3{linear % g.x, linear / g.x % g.y, linear / (g.x * g.y)};
    unsigned n = bd.x * bd.y * bd.z;
    b->th.resize(n);
    for (unsigned i = 0; i < n; i++) {
        ethread &t = b->th[i];
        t.bi.thread_idx = uint3{i % bd.x, i / bd.x % bd.y, i / (bd.x * bd.y)};
        t.bi.block_idx = b->idx;
        t.bi.block_dim = bd;
        t.bi.grid_dim = g;
        t.f = nullptr;
        t.state = T_RUN;
        t.blk = b;
        t.tid = i;
        t.lane = i & 31;
        t.warp = i >> 5;
    }
    b->warps.assign((n + 31) / 32, warp_info{0xffffffffu, 0, 0, 0, 0, nullptr, 0});
    if (n % 32)
        b->warps.back().exists = (1u << (n % 32)) - 1;
    b->shared = shared_base + slot * SHARED_SLOT;
    b->shared_used = (l.info.shmem + 15) / 16 * 16 + G->kf->static_bytes;
    std::memset(b->shared, shared_poison[G->schedule], b->shared_used);
    b->live = n;
    b->at_barrier = 0;
    G->live += n;
}

/* The order the scheduler visits threads in, flat; ends[i] is one past the group thread i belongs
 * to (a warp under the warp schedule, the thread alone otherwise). Reused from block to block. */
static std::vector<ethread *> order;
static std::vector<uint32_t> ends;

static void make_order()
{
    order.clear();
    for (block *b : G->resident)
        for (auto &t : b->th)
            order.push_back(&t);
    if (G->schedule == S_REVERSE)
        std::reverse(order.begin(), order.end());
    if (G->schedule == S_RANDOM)
        for (size_t i = order.size(); i > 1; i--)
            std::swap(order[i - 1], order[next_random(&G->rng) % i]);
    if (G->schedule == S_WARP) { /* warps last to first, lanes in order */
        std::vector<ethread *> byw;
        for (block *b : G->resident)
            for (size_t w = b->warps.size(); w-- > 0;)
                for (size_t i = w * 32; i < std::min(b->th.size(), w * 32 + 32); i++)
                    byw.push_back(&b->th[i]);
        order.swap(byw);
    }
    ends.resize(order.size());
    for (size_t i = order.size(); i-- > 0;) {
        bool same = G->schedule == S_WARP && i + 1 < order.size() && order[i + 1]->blk == order[i]->blk &&
                    order[i + 1]->warp == order[i]->warp;
        ends[i] = same ? ends[i + 1] : (uint32_t)(i + 1);
    }
}

static void deadlock()
{
    std::string waits;
    int shown = 0;
    for (block *b : G->resident)
        for (auto &t : b->th) {
            if (t.state == T_DONE || shown >= 4)
                continue;
            char buf[200];
            std::snprintf(buf, sizeof buf, "%s%s waits at %s (%s:%d)", shown ? "; " : "", coords(&t).c_str(),
                          t.state == T_BARRIER ? "__syncthreads" : t.state == T_GRID ? "grid sync" : op_name(t.op),
                          t.file, t.line);
            waits += buf;
            shown++;
        }
    fault(nullptr, cudaErrorLaunchFailure, "deadlock: no thread can go on: %s", waits.c_str());
}

static void schedule_resident()
{
    make_order();
    for (;;) {
        bool ran = false;
        for (size_t g = 0; g < order.size(); g = ends[g]) {
            /* the warp schedule cycles through its group's lanes until none can go on */
            bool again = true;
            while (again) {
                again = false;
                for (size_t i = g; i < ends[g]; i++) {
                    ethread *t = order[i];
                    if (t->state != T_RUN)
                        continue;
                    resume(t);
                    ran = true;
                    if (G->fault)
                        return;
                    again = G->schedule == S_WARP;
                }
            }
        }
        if (G->live == 0)
            return;
        if (!ran) {
            deadlock();
            return;
        }
        if (G->schedule == S_RANDOM)
            make_order();
    }
}

static void abandon()
{
    for (block *b : G->resident)
        for (auto &t : b->th)
            if (t.f) {
                fiber_put(t.f);
                t.f = nullptr;
            }
}

static void run_schedule(const launch &l, int schedule, kernel_facts *kf)
{
    const dim3 &g = l.info.grid;
    unsigned nblocks = g.x * g.y * g.z;
    std::vector<unsigned> order(nblocks);
    for (unsigned i = 0; i < nblocks; i++)
        order[i] = i;
    if (schedule == S_REVERSE)
        std::reverse(order.begin(), order.end());
    if (schedule == S_RANDOM)
        for (size_t i = order.size(); i > 1; i--)
            std::swap(order[i - 1], order[next_random(&G->rng) % i]);
    (void)kf;
    if (l.info.cooperative) {
        std::vector<block> blocks(nblocks);
        for (unsigned i = 0; i < nblocks; i++) {
            setup_block(&blocks[order[i]], order[i], i);
            G->resident.push_back(&blocks[order[i]]);
        }
        schedule_resident();
        if (G->fault)
            abandon();
        G->resident.clear();
        return;
    }
    block b;
    for (unsigned i = 0; i < nblocks && !G->fault; i++) {
        G->live = 0;
        setup_block(&b, order[i], 0);
        G->resident.assign(1, &b);
        schedule_resident();
        if (G->fault)
            abandon();
        G->resident.clear();
    }
}

cudaError_t launch_check(launch &l)
{
    exec_init();
    const baton_emu_launch_info &in = l.info;
    l.name = kernel_base_name(in.name);
    kernel_facts &kf = facts[in.func];
    l.static_shared = kf.static_bytes;
    l.max_threads = kernel_bound(in.name);
    const dim3 &b = in.block, &g = in.grid;
    unsigned long long threads = (unsigned long long)b.x * b.y * b.z;
    const char *why = nullptr;
    char buf[256];
    cudaError_t e = cudaSuccess;
    if (!b.x || !b.y || !b.z || b.x > 1024 || b.y > 1024 || b.z > 64 || threads > 1024) {
        std::snprintf(buf, sizeof buf, "block (%u,%u,%u): each dimension >= 1, x and y <= 1024, z <= 64, and at "
                      "most 1024 threads", b.x, b.y, b.z);
        why = buf;
        e = cudaErrorInvalidConfiguration;
    } else if (!g.x || !g.y || !g.z || g.x > 2147483647u || g.y > 65535 || g.z > 65535) {
        std::snprintf(buf, sizeof buf, "grid (%u,%u,%u): each dimension >= 1, x <= 2^31-1, y and z <= 65535", g.x,
                      g.y, g.z);
        why = buf;
        e = cudaErrorInvalidConfiguration;
    } else if (threads > (unsigned long long)l.max_threads) {
        std::snprintf(buf, sizeof buf, "%llu threads a block, but its __launch_bounds__ allow %d", threads,
                      l.max_threads);
        why = buf;
        e = cudaErrorLaunchOutOfResources;
    } else {
        size_t dyn_limit = kf.dyn_limit >= 0 ? (size_t)kf.dyn_limit : STATIC_SHARED_LIMIT - kf.static_bytes;
        if (in.shmem > dyn_limit || kf.static_bytes + in.shmem > OPTIN_SHARED_LIMIT) {
            std::snprintf(buf, sizeof buf, "%zu bytes of dynamic shared memory (+%zu static): the limit is %zu "
                          "without cudaFuncSetAttribute(cudaFuncAttributeMaxDynamicSharedMemorySize), 227 KiB in all",
                          in.shmem, kf.static_bytes, dyn_limit);
            why = buf;
            e = cudaErrorInvalidValue;
        } else if (in.cooperative) {
            unsigned per_sm = std::min(MAX_BLOCKS_PER_SM, MAX_THREADS_PER_SM / (unsigned)threads);
            size_t smem = kf.static_bytes + in.shmem;
            if (smem)
                per_sm = std::min(per_sm, (unsigned)(228 * 1024 / (smem + 1024)));
            unsigned long long blocks = (unsigned long long)g.x * g.y * g.z;
            if (blocks > (unsigned long long)per_sm * SMS) {
                std::snprintf(buf, sizeof buf, "a cooperative grid of %llu blocks, but only %u blocks of this size "
                              "fit on the device at once", blocks, per_sm * SMS);
                why = buf;
                e = cudaErrorCooperativeLaunchTooLarge;
            }
        }
    }
    if (!stream_valid(in.stream)) {
        why = "the stream was destroyed or never created";
        e = cudaErrorInvalidResourceHandle;
    }
    if (why)
        std::fprintf(stderr, "baton-emu: launch of %s at %s:%d refused (%s): %s\n", l.name.c_str(), in.file, in.line,
                     cudaGetErrorName(e), why);
    return e;
}

cudaError_t launch_run(const launch &l)
{
    if (opts().count_only) {
        counters.kernels_run++;
        return cudaSuccess;
    }
    exec_init();
    kernel_facts *kf = &facts[l.info.func];
    unsigned mask = opts().schedules;
    int n = 0;
    for (int s = 0; s < N_SCHEDULES; s++)
        n += mask >> s & 1;
    grid_run g;
    g.l = &l;
    g.fault = false;
    g.err = cudaSuccess;
    g.kf = kf;
    g.live = g.at_grid = 0;
    static uint64_t launches = 0;
    g.rng = opts().seed * 0x9e3779b97f4a7c15ull + ++launches;
    grid_run *outer = G;
    G = &g;
    device_access rw;
    if (n > 1)
        log_begin();
    int first = -1;
    for (int s = 0; s < N_SCHEDULES && !g.fault; s++) {
        if (!(mask >> s & 1))
            continue;
        if (first >= 0)
            log_restore();
        g.schedule = s;
        count_bytes = first < 0;
        preempt_mode = s == S_WARP ? 2 : s == S_RANDOM ? 1 : 0;
        run_schedule(l, s, kf);
        preempt_mode = 0;
        count_bytes = false;
        if (g.fault)
            break;
        if (first < 0) {
            first = s;
            if (n > 1)
                log_snapshot_results();
        } else if (!log_compare(l.name.c_str(), schedule_names[first], schedule_names[s])) {
            break;
        }
    }
    if (n > 1)
        log_end();
    G = outer;
    counters.kernels_run++;
    return g.fault ? g.err : cudaSuccess;
}

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
