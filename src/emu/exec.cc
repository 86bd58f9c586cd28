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
 * so every load and store calls __asan_{load,store}N_noabort (device.cc). An access is valid when it
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
#include "exec_internal.h"

__thread const baton_emu_builtins *baton_emu_bi = nullptr;

namespace baton_emu {

static const char *const schedule_names[N_SCHEDULES] = {"forward", "reverse", "random", "warp"};
const uint8_t shared_poison[N_SCHEDULES] = {0xff, 0x7f, 0xa5, 0x5a};
std::unordered_map<const void *, kernel_facts> facts;
grid_run *G = nullptr;
__thread ethread *cur __attribute__((tls_model("initial-exec"))) = nullptr;
int preempt_mode = 0;
bool count_bytes = false;
char *shared_base = nullptr;
size_t shared_slots = 0;
std::vector<std::pair<uintptr_t, uintptr_t>> image;

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

void fault(ethread *t, cudaError_t err, const char *fmt, ...)
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

void suspend(ethread *t)
{
    fiber_yield(&G->host, t->f);
    if (G->fault) /* resumed only to be abandoned: cannot happen, the scheduler stops first */
        fiber_yield(&G->host, t->f);
}

/* ---- barriers ---- */

void release_barrier(block *b)
{
    if (b->at_barrier == 0 || b->at_barrier < b->live)
        return;
    for (auto &t : b->th)
        if (t.state == T_BARRIER)
            t.state = T_RUN;
    b->at_barrier = 0;
}

void release_grid()
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

bool same_site(const char *f1, int l1, const char *f2, int l2)
{
    return l1 == l2 && (f1 == f2 || std::strcmp(f1, f2) == 0);
}

ethread *lane_thread(block *b, unsigned warp, unsigned lane)
{
    size_t tid = (size_t)warp * 32 + lane;
    return tid < b->th.size() ? &b->th[tid] : nullptr;
}

const char *op_name(int op)
{
    static const char *const n[] = {"__shfl_sync", "__shfl_up_sync", "__shfl_down_sync", "__shfl_xor_sync",
                                    "__ballot_sync", "__any_sync", "__all_sync", "__syncwarp"};
    return op >= 0 && op < 8 ? n[op] : "warp collective";
}

void try_complete_warp(ethread *t)
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

} // namespace baton_emu
